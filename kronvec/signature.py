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
    (m,n),axis=None->() | (m,n),axis=0->(1,n) | (m,n),axis=1->(m,1)
                                 sum: a keyword parameter picks the alternative

For an operation declared for stacks (``OpSpec.stacks``), the declared
dimensions are the *core* dimensions, as in NumPy's gufuncs: the trailing
axes of each argument; any leading axes are stack axes, broadcast between
the arguments, and lead the result (``(n,n)->()`` of a ``(b, n, n)`` stack is
``(b,)``).  An operation not declared for stacks refuses them with
``NotImplementedError`` naming itself.

``()`` also accepts a ``(1, 1)`` matrix.  A dimension is a name, a literal
integer, or a product of two names.

Keyword parameters follow the arrays as ``name=literal`` (``None``, an
integer, ``True``/``False`` or a quoted string).  An alternative that names a
keyword applies only when the call gives the keyword that value; the value in
the first alternative that names it is the default.  The parser accepts
exactly the declared keywords (also positionally, after the arrays, in the
order declared), and nothing else.  A keyword called ``axis`` takes NumPy's
axis values: a negative integer counts from the end (for a matrix, −1 is 1
and −2 is 0), and one out of range raises NumPy's ``AxisError``.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence, SupportsInt

import numpy as np

from .dims import has_free, has_names, is_free, letters_for, size_text, unify
from .errors import ShapeError
from .shapes import Shape, fmt, is_plain, is_scalar_shape

__all__ = ["Signature", "Alternative", "Arg", "parse_signature", "normalize_keyword", "AxisError",
           "axis_error"]

ANY = "..."
AxisError: type[ValueError] = getattr(np, "exceptions", np).AxisError  # NumPy's (np.exceptions since 1.25)
MATRIX_NDIM = 2


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
    """One way to call: the positional ``args``, the result ``out`` and the keyword
    values it applies to (``(("axis", 0),)``; empty: any)."""

    args: tuple[Arg, ...]
    out: Arg
    keywords: tuple[tuple[str, Any], ...] = ()

    def accepts(self, keywords: Mapping[str, Any]) -> bool:
        return all(keywords.get(name) == value for name, value in self.keywords)


def axis_error(op: str, axis: SupportsInt, shape: Shape | int) -> Exception:
    """NumPy's ``AxisError`` for ``op``, naming the operand's shape (or its number of axes)."""
    if isinstance(shape, int):
        return AxisError(int(axis), shape, op)
    return AxisError(f"{op}: axis {int(axis)} is out of bounds for an operand of shape {fmt(shape)}")


def normalize_keyword(op: str, name: str, value: Any, shape: Shape | None = None) -> Any:
    """A keyword value in the form the alternatives list: ``axis=-1`` is ``axis=1``.

    Raises NumPy's ``AxisError`` for an axis that a matrix does not have, naming
    the operand's ``shape`` when given.
    """
    if name != "axis" or value is None:
        return value
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{op}: axis must be None or an integer, got {value!r}")
    if not -MATRIX_NDIM <= value < MATRIX_NDIM:
        raise axis_error(op, value, MATRIX_NDIM if shape is None else shape)
    return int(value) % MATRIX_NDIM


@dataclass(frozen=True)
class Signature:
    """A parsed signature; ``text`` is what was declared."""

    text: str
    alternatives: tuple[Alternative, ...]
    describe: str | None = None  # the accepted input, for error messages
    batched: bool = False  # leading stack axes broadcast (gufunc semantics)
    # argument shapes and keywords -> result
    _seen: dict[tuple[Any, ...], Shape] = field(default_factory=dict, compare=False, repr=False)

    @property
    def arity(self) -> int:
        return len(self.alternatives[0].args)

    @property
    def keywords(self) -> dict[str, Any]:
        """The keyword parameters and their defaults, in the order declared."""
        out: dict[str, Any] = {}
        for alt in self.alternatives:
            for name, value in alt.keywords:
                out.setdefault(name, value)
        return out

    def keyword_values(self, name: str) -> list[Any]:
        """The values the alternatives declare for the keyword ``name``."""
        return list(dict.fromkeys(v for alt in self.alternatives for k, v in alt.keywords if k == name))

    def resolve(self, op: str, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Every keyword's value for a call (defaults filled in, axes normalized).

        Raises ``TypeError`` for an undeclared keyword, ``AxisError`` for an
        axis out of range and ``ValueError`` for another undeclared value.
        """
        declared = self.keywords
        given = dict(given or {})
        unknown = [k for k in given if k not in declared]
        if unknown:
            takes = ", ".join(f"{k}=" for k in declared) or "no keyword arguments"
            raise TypeError(f"{op}: unexpected keyword argument {unknown[0]!r} (it takes {takes})")
        out = {}
        for name, default in declared.items():
            value = normalize_keyword(op, name, given.get(name, default))
            allowed = self.keyword_values(name)
            if not any(value == a and type(value) is type(a) for a in allowed):
                listed = ", ".join(repr(a) for a in allowed)
                raise ValueError(f"{op}: {name}={given.get(name, default)!r} is not supported "
                                 f"(allowed: {listed})")
            out[name] = value
        return out

    def alternatives_for(self, keywords: Mapping[str, Any]) -> tuple[Alternative, ...]:
        """The alternatives that apply for resolved keyword values."""
        return tuple(alt for alt in self.alternatives if alt.accepts(keywords))

    def check(self, op: str, shapes: Sequence[Shape], **keywords: Any) -> Shape:
        """The output shape for argument ``shapes`` (literal arguments excluded)
        and keyword values (see :meth:`resolve`), or a ``ShapeError`` naming
        ``op`` and the shapes."""
        key = (tuple(shapes), tuple((k, type(v), v) for k, v in sorted(keywords.items())))
        out = self._seen.get(key)
        if out is not None:
            return out
        shapes = [tuple(s) for s in shapes]
        if not self.batched and not all(is_plain(s) for s in shapes) and self._has_core_arrays():
            stacked = next(s for s in shapes if not is_plain(s))
            raise NotImplementedError(f"{op}: stacks of matrices are not supported by {op} (got an "
                                      f"argument of shape {fmt(stacked)}); apply it to one matrix at "
                                      f"a time")
        alternatives = self.alternatives_for(self.resolve(op, keywords)) if self.keywords \
            else self.alternatives
        for alt in alternatives:
            out = _match(alt, shapes, self.batched)
            if out is not None:
                if len(self._seen) < 4096:
                    self._seen[key] = out
                return out
        if has_free(shapes):  # sizes left to inference: unify them, the operation is built again
            for alt in alternatives:
                pairs = _unifying(alt, shapes, self.batched)
                if pairs:
                    unify(pairs, self._message(op, shapes))
        raise ShapeError(self._message(op, shapes))

    def _has_core_arrays(self) -> bool:
        """Whether some argument has declared (core) dimensions, as opposed to ``(...)``."""
        return any(a.kind == "array" and a.dims for alt in self.alternatives for a in alt.args)

    def _message(self, op: str, shapes: list[Shape]) -> str:
        if self.describe is not None:
            return f"{op}: needs {self.describe}, got {', '.join(fmt(s) for s in shapes)}"
        arrays = [a for a in self.alternatives[0].args if a.kind in ("array", "any")]
        for spec, shape in zip(arrays, shapes):
            if spec.kind == "array" and len(spec.dims) == 2 and len(shape) < 2:
                return f"{op}: needs matrices, got a scalar of shape {fmt(shape)}"
        for spec, shape in zip(arrays, shapes):
            if spec.kind == "array" and len(spec.dims) == 2 and spec.dims[0] == spec.dims[1] \
                    and shape[-2] != shape[-1]:
                what = "a square matrix" if len(shape) == 2 else "a stack of square matrices"
                return f"{op}: needs {what}, got shape {fmt(shape)}"
        cores = [s[len(s) - len(spec.dims):] if self.batched and spec.kind == "array" else s
                 for spec, s in zip(arrays, shapes)]
        if has_names(*shapes):  # matmul: (n, m) @ (k, n): m ≠ k
            letters = letters_for(d for s in shapes for d in s)
            listed = (" @ " if op == "matmul" else ", ").join(fmt(s, letters) for s in shapes)
            return f"{op}: {listed}{_conflict(arrays, cores, letters)}"
        listed = " and ".join(fmt(s) for s in shapes)
        return f"{op}: shapes {listed} are not aligned{_conflict(arrays, cores)}"


def _match(alt: Alternative, shapes: list[Shape], batched: bool = False) -> Shape | None:
    arrays = [a for a in alt.args if a.kind in ("array", "any")]
    if len(arrays) != len(shapes):
        raise TypeError(f"expected {len(arrays)} array arguments, got {len(shapes)}")
    sizes: dict[str, int] = {}
    any_shape: Shape | None = None
    stacks: list[Shape] = []
    for spec, shape in zip(arrays, shapes):
        if spec.kind == "any":
            any_shape = shape if any_shape is None else any_shape
            continue
        if batched and spec.dims and len(shape) > len(spec.dims) and len(shape) >= 3:
            stacks.append(shape[:len(shape) - len(spec.dims)])  # gufunc: the leading axes broadcast
            shape = shape[len(shape) - len(spec.dims):]
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
    stack = _broadcast(stacks)
    if stack is None:
        return None
    return stack + tuple(_size(d, sizes) for d in alt.out.dims)


def _unifying(alt: Alternative, shapes: list[Shape], batched: bool) -> list[tuple[int, int]] | None:
    """The pairs of sizes that must be equal for ``alt`` to match ``shapes`` (None: it cannot,
    whatever the inferred sizes are)."""
    arrays = [a for a in alt.args if a.kind in ("array", "any")]
    sizes: dict[str, int] = {}
    pairs: list[tuple[int, int]] = []
    for spec, shape in zip(arrays, shapes):
        if spec.kind == "any":
            continue
        if batched and spec.dims and len(shape) > len(spec.dims) and len(shape) >= 3:
            shape = shape[len(shape) - len(spec.dims):]
        if len(shape) != len(spec.dims):
            return None
        for d, size in zip(spec.dims, shape):
            if "*" in d:
                continue
            known = int(d) if d.isdigit() else sizes.setdefault(d, size)
            if known != size:
                if not (is_free(known) or is_free(size)):
                    return None
                pairs.append((known, size))
    return pairs


def _broadcast(stacks: list[Shape]) -> Shape | None:
    """NumPy's broadcast of the stack axes, or None when they do not broadcast."""
    ndim = max((len(s) for s in stacks), default=0)
    out = [1] * ndim
    for shape in stacks:
        for k, size in enumerate(shape, start=ndim - len(shape)):
            if size != out[k] and out[k] != 1 and size != 1:
                return None
            out[k] = max(out[k], size) if size != out[k] else size
    return tuple(out)


def _conflict(arrays: list[Arg], shapes: list[Shape], letters: dict[int, str] | None = None) -> str:
    """`` (3 != 5)`` for the first dimension bound to two sizes, else ``""``; with sizes given as
    names (``letters`` for the inferred ones), ``: m ≠ k``."""
    sizes: dict[str, int] = {}
    for spec, shape in zip(arrays, shapes):
        for dim, size in zip(spec.dims, shape):
            if not dim.isdigit() and "*" not in dim and sizes.setdefault(dim, size) != size:
                if letters is not None:
                    return f": {size_text(sizes[dim], '*', letters)} ≠ {size_text(size, '*', letters)}"
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


_ARG = re.compile(r"\s*(\((?:[^()]*)\)|int(?::\w+)?|num|blocks:\w+"
                  r"|\w+\s*=\s*(?:-?\w+|'[^']*'|\"[^\"]*\"))\s*")


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


def _keyword(text: str) -> tuple[str, Any]:
    """``axis=None`` as ``("axis", None)``; the value is a Python literal."""
    name, value = (part.strip() for part in text.split("=", 1))
    literal = ast.literal_eval(value)
    if literal is not None and not isinstance(literal, (bool, int, str)):
        raise ValueError(f"bad keyword value in signature: {text!r}")
    return name, literal


def parse_signature(text: str, describe: str | None = None, batched: bool = False) -> Signature:
    """Parse the signature language above (``batched``: stack axes broadcast, as for gufuncs)."""
    alternatives = []
    for alt in text.split("|"):
        args, out = alt.split("->")
        parts = _split_args(args)
        keywords = tuple(_keyword(a) for a in parts if "=" in a)
        positional = [a for a in parts if "=" not in a]
        if parts[:len(positional)] != positional:
            raise ValueError(f"keyword parameters must follow the arrays in {text!r}")
        alternatives.append(Alternative(tuple(_parse_arg(a) for a in positional), _parse_arg(out), keywords))
    return Signature(text, tuple(alternatives), describe, batched)
