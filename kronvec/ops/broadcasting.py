"""NumPy broadcasting of matrices, written as products with the all-ones matrix.

Shapes are ``()`` or ``(r, c)``.  As in NumPy, two shapes broadcast axis by
axis when the sizes are equal or one of them is 1, and a scalar (``()`` or
``(1, 1)``) broadcasts against anything; otherwise the operation raises
``kv.ShapeError`` naming itself and both shapes, as NumPy does ("operands
could not be broadcast together with shapes (4, 3) (2, 5)").

A broadcast needs no node of its own.  With 𝟙 the all-ones matrix,

* a column b of shape (n, 1) spread over m columns is b𝟙ᵀ (𝟙ᵀ of shape (1, m)),
* a row r of shape (1, m) spread over n rows is 𝟙r,
* a scalar s is s𝟙,

so ``X + b`` prints as ``X + b𝟙ᵀ``, the way texts write it, and its
derivatives are the ones of products: d(b𝟙ᵀ) = db 𝟙ᵀ, a Kronecker term, whose
adjoint G ↦ G𝟙 sums the rows of G (and d(𝟙r) has the adjoint G ↦ 𝟙ᵀG, the
column sums).  Products of ones merge (𝟙ᵀ𝟙 = m), so sums over a broadcast
axis cancel it.

This module sits below :mod:`.arithmetic` and :mod:`.products` (which both use
it), so it reaches ``matmul`` and ``smul`` through the registry.
"""
from __future__ import annotations

from typing import Any, Sequence

from .. import registry
from ..dims import unify
from ..errors import ShapeError
from ..expr import Expr, is_scalar
from ..shapes import Shape, broadcast_shapes_nd, fmt, is_plain
from .leaves import Constant, eye, ones

__all__ = ["broadcast_shapes", "broadcast_to", "broadcast_all", "aligned", "slice_sums"]


def broadcast_shapes(op: str, *shapes: Shape) -> Shape:
    """The shape NumPy broadcasts ``shapes`` to, or a ``ShapeError`` naming ``op``.

    ``()`` and ``(1, 1)`` are scalars: two scalars give ``(1, 1)`` if either is
    one, else ``()``.  With stacks among them, NumPy's rule for any number of axes.
    """
    if not all(is_plain(s) for s in shapes):
        return broadcast_shapes_nd(op, *shapes)
    out: Shape = ()
    for shape in shapes:
        shape = tuple(shape)
        if not shape or shape == out:
            continue
        if not out:
            out = shape
            continue
        if len(shape) != 2 or len(out) != 2:
            raise _error(op, shapes)
        dims = []
        for a, b in zip(out, shape):
            if a != b and a != 1 and b != 1:
                unify([(a, b)], str(_error(op, shapes)))  # an inferred size takes the other
                raise _error(op, shapes)
            dims.append(b if a == 1 else a)
        out = tuple(dims)
    return out


def _error(op: str, shapes: tuple[Shape, ...]) -> ShapeError:
    listed = " ".join(fmt(s) for s in shapes)
    return ShapeError(f"{op}: operands could not be broadcast together with shapes {listed}")


def broadcast_to(e: Expr, shape: Shape) -> Expr:
    """``e`` spread to ``shape`` (which it must broadcast to): b𝟙ᵀ, 𝟙r or s𝟙.  Against a
    stack, ``e`` stays as it is: the evaluation broadcasts as NumPy does (and derivatives
    spread tangents likewise)."""
    shape = tuple(shape)
    if e.shape == shape or not (is_plain(shape) and is_plain(e.shape)):
        return e
    smul, matmul = registry.function("smul"), registry.function("matmul")
    if is_scalar(e):
        if shape == ():
            return e
        return smul(e, eye(1) if shape == (1, 1) else ones(shape))
    rows, cols = e.shape
    if (rows != shape[0] and rows != 1) or (cols != shape[1] and cols != 1):
        raise _error("broadcast_to", (e.shape, shape))
    if rows == 1 and shape[0] != 1:
        e = matmul(ones(shape[0], 1), e)
    if cols == 1 and shape[1] != 1:
        e = matmul(e, ones(1, shape[1]))
    return e


def aligned(op: str, *args: Expr) -> Sequence[Expr]:
    """The operands of a broadcasting operation with their axes aligned as NumPy aligns them.

    A 1-D operand ``(n,)`` next to an operand of two or more axes is NumPy's
    ``(1, ..., 1, n)``: written so (a reshape), so that every operand of a
    broadcast has one axis or as many as the result, and a 1-D operand always
    means one value per entry of its axis (per-member scalars among 1-D ones).
    """
    if not any(len(a.shape) == 1 for a in args):
        return args  # the common case, kept cheap
    ndim = max(len(a.shape) for a in args)
    if ndim < 2:
        return list(args)
    broadcast_shapes_nd(op, *[a.shape for a in args])  # refused with the shapes as given
    return [_with_leading_ones(a, ndim) if a.ndim == 1 else a for a in args]


def _with_leading_ones(a: Expr, ndim: int) -> Expr:
    shape = (1,) * (ndim - 1) + a.shape
    if a.op == "const":
        return Constant(a.params.value.array.reshape(shape), a.params.value.name)
    return registry.function("c_order_reshape")(a, shape)


def broadcast_all(op: str, *args: Any) -> tuple[Shape, list[Expr]]:
    """The broadcast shape of the arguments and the arguments spread to it."""
    args = tuple(aligned(op, *args))
    shape = broadcast_shapes(op, *[a.shape for a in args])
    return shape, [broadcast_to(a, shape) for a in args]


def slice_sums(e: Expr, axis: int | None) -> Expr:
    """NumPy's ``sum(e, axis, keepdims=True)``: 𝟙ᵀE (axis 0), E𝟙 (axis 1) or sum(E) (None)."""
    if axis is None:
        return registry.function("sum")(e)
    rows, cols = e.shape if e.shape else (1, 1)
    matmul = registry.function("matmul")
    return matmul(ones(1, rows), e) if axis == 0 else matmul(e, ones(cols, 1))
