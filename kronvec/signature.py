"""Shape signatures: one declaration per operation, read by the constructors
(concrete shapes) and by the parser (shape inference).

The language is NumPy's generalised-ufunc notation with three additions::

    (n,n)->(n,n)                 inv: a square matrix to one of the same size
    (n,n),(n,k)->(n,k)           solve
    (m,n),(p,q)->(m*p,n*q)       kron: sizes multiply
    (n,1)->(n,n) | (n,n)->(n,1)  diag: alternatives, tried in order
    (n,n),int->(n,n)             matrix_power: an integer literal argument
    int:n->(n,n)                 eye: the literal gives the size n
    (...)->(...)                 elementwise: any shape, kept
    (m,n)->()                    a scalar result
    blocks:grid->(m,n)           block: a (nested) list of blocks, assembled

``()`` also accepts a ``(1, 1)`` matrix.  A dimension is a name, a literal
integer, or a product of two names.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Sequence

from .errors import ShapeError
from .shapes import Shape, fmt, is_scalar_shape

__all__ = ["Signature", "Alternative", "Arg", "parse_signature"]

ANY = "..."


@dataclass(frozen=True)
class Arg:
    """One argument of a signature.

    ``kind`` is ``"array"`` (with ``dims``), ``"any"`` (``(...)``), ``"int"``
    (an integer literal, naming the dimension ``dims[0]`` if it has one) or
    ``"num"`` (a number).
    """

    kind: str
    dims: tuple[str, ...] = ()

    @property
    def is_scalar(self) -> bool:
        return self.kind == "array" and not self.dims


@dataclass(frozen=True)
class Alternative:
    args: tuple[Arg, ...]
    out: Arg


@dataclass(frozen=True)
class Signature:
    """A parsed signature; ``text`` is what was declared."""

    text: str
    alternatives: tuple[Alternative, ...]
    describe: str | None = None  # the accepted input, for error messages
    _seen: dict = field(default_factory=dict, compare=False, repr=False)  # shapes -> result

    @property
    def arity(self) -> int:
        return len(self.alternatives[0].args)

    def literal_positions(self) -> tuple[int, ...]:
        """Positions of arguments that must be literal numbers (``int``, ``num``)."""
        return tuple(i for i, a in enumerate(self.alternatives[0].args) if a.kind in ("int", "num"))

    def check(self, op: str, shapes: Sequence[Shape]) -> Shape:
        """The output shape for argument ``shapes`` (literal arguments excluded),
        or a ``ShapeError`` naming ``op`` and the shapes."""
        key = tuple(shapes)
        out = self._seen.get(key)
        if out is not None:
            return out
        shapes = [tuple(s) for s in shapes]
        for alt in self.alternatives:
            out = _match(alt, shapes)
            if out is not None:
                if len(self._seen) < 4096:
                    self._seen[key] = out
                return out
        raise ShapeError(self._message(op, shapes))

    def _message(self, op: str, shapes: list[Shape]) -> str:
        if self.describe is not None:
            return f"{op}: needs {self.describe}, got {', '.join(fmt(s) for s in shapes)}"
        arrays = [a for a in self.alternatives[0].args if a.kind in ("array", "any")]
        for spec, shape in zip(arrays, shapes):
            if spec.kind == "array" and len(spec.dims) == 2 and len(shape) != 2:
                return f"{op}: needs matrices, got a scalar of shape {fmt(shape)}"
        for spec, shape in zip(arrays, shapes):
            if spec.kind == "array" and len(spec.dims) == 2 and spec.dims[0] == spec.dims[1] \
                    and shape[0] != shape[1]:
                return f"{op}: needs a square matrix, got shape {fmt(shape)}"
        listed = " and ".join(fmt(s) for s in shapes)
        return f"{op}: shapes {listed} are not aligned{_conflict(arrays, shapes)}"


def _match(alt: Alternative, shapes: list[Shape]) -> Shape | None:
    arrays = [a for a in alt.args if a.kind in ("array", "any")]
    if len(arrays) != len(shapes):
        raise TypeError(f"expected {len(arrays)} array arguments, got {len(shapes)}")
    sizes: dict[str, int] = {}
    any_shape: Shape | None = None
    for spec, shape in zip(arrays, shapes):
        if spec.kind == "any":
            any_shape = shape if any_shape is None else any_shape
            continue
        if not spec.dims:
            if not is_scalar_shape(shape):
                return None
            continue
        if len(shape) != len(spec.dims):
            return None
        for dim, size in zip(spec.dims, shape):
            if not _bind(dim, size, sizes):
                return None
    if alt.out.kind == "any":
        return any_shape
    return tuple(_size(d, sizes) for d in alt.out.dims)


def _conflict(arrays: list[Arg], shapes: list[Shape]) -> str:
    """`` (3 != 5)`` for the first dimension bound to two sizes, else ``""``."""
    sizes: dict[str, int] = {}
    for spec, shape in zip(arrays, shapes):
        for dim, size in zip(spec.dims, shape):
            if not dim.isdigit() and "*" not in dim and sizes.setdefault(dim, size) != size:
                return f" ({sizes[dim]} != {size})"
    return ""


def _bind(dim: str, size: int, sizes: dict[str, int]) -> bool:
    if dim.isdigit():
        return int(dim) == size
    if "*" in dim:
        return True  # a product is only computed, never matched against an input
    return sizes.setdefault(dim, size) == size


def _size(dim: str, sizes: dict[str, int]) -> int:
    if dim.isdigit():
        return int(dim)
    if "*" in dim:
        a, b = dim.split("*")
        return sizes[a] * sizes[b]
    return sizes[dim]


_ARG = re.compile(r"\s*(\((?:[^()]*)\)|int(?::\w+)?|num|blocks:\w+)\s*")


def _parse_arg(text: str) -> Arg:
    text = text.strip()
    if text == "num":
        return Arg("num")
    if text.startswith("blocks:"):
        return Arg("blocks", (text[7:],))
    if text.startswith("int"):
        return Arg("int", (text[4:],) if ":" in text else ())
    inner = text[1:-1].strip()
    if inner == ANY:
        return Arg("any")
    return Arg("array", tuple(d.strip() for d in inner.split(",")) if inner else ())


def _split_args(text: str) -> list[str]:
    parts, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _ARG.match(text, pos)
        if m is None:
            raise ValueError(f"bad signature argument at {text[pos:]!r}")
        parts.append(m.group(1))
        pos = m.end()
        if pos < len(text):
            if text[pos] != ",":
                raise ValueError(f"expected ',' in signature at {text[pos:]!r}")
            pos += 1
    return parts


def parse_signature(text: str, describe: str | None = None) -> Signature:
    """Parse the signature language above."""
    alternatives = []
    for alt in text.split("|"):
        args, out = alt.split("->")
        alternatives.append(Alternative(tuple(_parse_arg(a) for a in _split_args(args)),
                                        _parse_arg(out)))
    return Signature(text, tuple(alternatives), describe)
