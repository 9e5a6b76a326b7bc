"""Shapes: the small vocabulary every layer shares.

A shape is a tuple of ints: ``()`` for a scalar, ``(r, c)`` for a matrix and
``(b, ..., r, c)`` for a *stack* of matrices (three or more axes: the leading
ones are the stack axes, the last two the matrices).  Per-member scalars of a
stack (``logdet`` of a ``(b, n, n)`` stack) have the stack's shape, ``(b,)``.
Scalars may also be ``(1, 1)`` matrices; both count as scalar.

Internally a tangent is handled in its *matrix form* (:func:`as_matrix_shape`): ``()`` as
``(1, 1)``, per-member scalars ``(b,)`` as the stack ``(b, 1, 1)`` of 1×1
matrices, and every other shape as itself, so that the linear maps always act
on (stacks of) matrices and broadcast over the stack axes as NumPy does.
"""
from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Iterator, Sequence

from .dims import BASE, letters_for, minimum_of, polynomial, size_text, unify
from .errors import ShapeError

Shape = tuple[int, ...]

__all__ = ["Shape", "fmt", "refuse_named", "DERIVATION", "is_scalar_shape", "as_matrix_shape", "same_shape",
           "human_bytes", "is_stack", "stack_of", "matrix_transposed", "broadcast_shapes_nd", "is_plain",
           "first_member", "member_text", "members_from", "whole_shape", "sign_of_difference", "smaller",
           "minimum"]


def fmt(shape: Any, letters: dict[int, str] | None = None) -> str:
    """A shape as the user writes it, e.g. ``(4, 3)``, ``(n, m)``."""
    shape = tuple(shape)
    if not any(s >= BASE for s in shape):
        return str(shape)
    letters = letters_for(shape) if letters is None else letters
    inner = ", ".join(size_text(s, "*", letters) for s in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


DERIVATION = "this operation needs them as numbers (not yet with names); give the sizes as numbers"


def refuse_named(what: str, shape: Sequence[Any],
                 hint: str = "bind values to evaluate (the values of the symbols fix the sizes)") -> None:
    """A ``ShapeError`` when a shape that is about to be allocated holds a name."""
    if any(s >= BASE for s in shape):
        raise ShapeError(f"{what}: sizes are names, {fmt(shape)}; {hint}")


def is_scalar_shape(shape: Any) -> bool:
    """True for ``()`` and ``(1, 1)``."""
    return tuple(shape) in ((), (1, 1))


def as_matrix_shape(shape: Shape) -> tuple[int, ...]:
    """The matrix form a tangent of ``shape`` is handled in.

    ``()`` → ``(1, 1)``; a matrix ``(r, c)`` stays; per-member scalars ``(b,)``
    → ``(b, 1, 1)``; a stack ``(b, ..., r, c)`` stays.
    """
    if len(shape) == 2:
        return (int(shape[0]), int(shape[1]))
    if len(shape) == 0:
        return (1, 1)
    if len(shape) == 1:
        return (int(shape[0]), 1, 1)
    return tuple(int(s) for s in shape)


def is_plain(shape: Shape) -> bool:
    """A scalar or a matrix (``()`` or two axes): the shapes of expressions without stacks."""
    return len(shape) in (0, 2)


def is_stack(shape: Shape) -> bool:
    """Three or more axes: a stack of matrices."""
    return len(shape) >= 3


def stack_of(shape: Shape) -> Shape:
    """The stack axes of a shape: the leading axes of a stack, all axes of per-member
    scalars (one axis), none for a matrix or a scalar."""
    if len(shape) >= 3:
        return tuple(shape[:-2])
    return tuple(shape) if len(shape) == 1 else ()


def matrix_transposed(shape: Shape) -> Shape:
    """The shape of the matrix transpose (the last two axes swapped; shorter shapes stay)."""
    shape = tuple(shape)
    return shape[:-2] + (shape[-1], shape[-2]) if len(shape) >= 2 else shape


def broadcast_shapes_nd(op: str, *shapes: Shape) -> Shape:
    """NumPy's broadcast shape of ``shapes`` (aligned at the right), or a ``ShapeError``
    naming ``op`` and the shapes as NumPy words it."""
    ndim = max((len(s) for s in shapes), default=0)
    out = [1] * ndim
    for shape in shapes:
        for k, size in enumerate(shape, start=ndim - len(shape)):
            if size != out[k]:
                if out[k] != 1 and size != 1:
                    listed = " ".join(fmt(s) for s in shapes)
                    message = f"{op}: operands could not be broadcast together with shapes {listed}"
                    unify([(out[k], size)], message)  # an inferred size takes the other
                    raise ShapeError(message)
                out[k] = max(out[k], size)
    return tuple(out)


def first_member(bad: Any) -> tuple[int, ...]:
    """The index of the first True entry of a boolean array over the stack axes."""
    flat = bad.reshape(-1)
    return tuple(int(i) for i in divmod_index(int(flat.argmax()), bad.shape))


def divmod_index(k: int, shape: Shape) -> tuple[int, ...]:
    """The C-order multi-index of the flat index k in ``shape``."""
    out = []
    for size in reversed(shape):
        k, r = divmod(k, size)
        out.append(r)
    return tuple(reversed(out))


def member_text(index: tuple[int, ...]) -> str:
    """``member 3`` (``member (1, 2)`` for several stack axes), counted in the whole stack when
    a block of it is evaluated (:func:`members_from`)."""
    offset = _BLOCK.get()[0]
    if offset:
        index = tuple(i + o for i, o in zip(index, offset)) + tuple(index[len(offset):])
    return f"member {index[0]}" if len(index) == 1 else f"member {index}"


def whole_shape(name: str | None, shape: Shape) -> Shape:
    """The shape of the symbol ``name`` (None: of a value with the block's stack axes) in the
    whole stack, when a block of it is evaluated (:func:`members_from`; ``shape`` otherwise)."""
    _, stack, names = _BLOCK.get()
    return stack + tuple(shape[len(stack):]) if stack and (name is None or name in names) else tuple(shape)


_BLOCK: ContextVar[tuple[Shape, Shape, frozenset[str]]] = ContextVar(
    "kronvec_block", default=((), (), frozenset()))


@contextmanager
def members_from(offset: Shape, stack: Shape = (), names: frozenset[str] = frozenset()) -> Iterator[None]:
    """Within this block, the stack being evaluated is the part of the ``stack`` of the symbols
    ``names`` that starts at ``offset`` (a block of a Dask array): errors name members by their
    index in the whole stack, and the symbols by their whole shape.  The setting is local to
    the thread (a context variable)."""
    token = _BLOCK.set((tuple(offset), tuple(stack), frozenset(names)))
    try:
        yield
    finally:
        _BLOCK.reset(token)


def same_shape(a: Shape, b: Shape) -> bool:
    """Equal shapes, counting ``()`` and ``(1, 1)`` as the same scalar shape."""
    return tuple(a) == tuple(b) or (is_scalar_shape(a) and is_scalar_shape(b))


def human_bytes(nbytes: float) -> str:
    """``1.5 GiB`` and the like."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.1f} {unit}" if unit != "bytes" else f"{int(nbytes)} bytes"
        nbytes /= 1024
    return f"{nbytes:.1f} PiB"


def sign_of_difference(a: Any, b: Any) -> int | None:
    """The sign of a − b for every positive value of the names, or None when it depends on
    them (n against m): n + 1 > n, n + m − 1 ≥ n, 5 < n (a name stands for any size)."""
    pa, pb = polynomial(int(a)), polynomial(int(b))
    if pa is None or pb is None:
        return None
    diff = dict(pa)
    for monomial, c in pb.items():
        diff[monomial] = diff.get(monomial, 0) - c
    named = [c for k, c in diff.items() if k and c]
    least = sum(named) + diff.get((), 0)  # the value with every name 1
    if all(c >= 0 for c in named) and (least > 0 or not named and least == 0):
        return 1 if least > 0 else 0
    if all(c <= 0 for c in named) and least < 0:
        return -1
    if not named:
        return 0
    return 1 if all(c >= 0 for c in named) and least >= 0 else None


def smaller(a: Any, b: Any, what: str) -> Any:
    """min(a, b) of two sizes; a ``ShapeError`` (``what`` says what has min(a, b) entries) when names
    leave it open."""
    if a < BASE and b < BASE:
        return min(a, b)
    sign = sign_of_difference(a, b)
    if sign is None:
        raise ShapeError(f"{what} min({size_text(int(a))}, {size_text(int(b))}) entries, which depends "
                         f"on the sizes (the sizes are names); give the sizes as numbers")
    return b if sign > 0 else a


def minimum(a: Any, b: Any) -> Any:
    """min(a, b) of two sizes: a number, one of them where the names decide (min(n, n + 1) = n),
    else the size min(a, b) of its own (:func:`kronvec.dims.minimum_of`), which prints as
    ``min(n, m)`` and takes its number from those of a and b when values are bound."""
    if a < BASE and b < BASE:
        return min(a, b)
    sign = sign_of_difference(a, b)
    return minimum_of(a, b) if sign is None else (b if sign > 0 else a)
