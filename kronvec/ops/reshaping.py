"""Reshaping as NumPy: ``kv.reshape``, ``kv.expand_dims``, ``A[:, None]``, ``kv.squeeze``,
``kv.moveaxis`` and ``kv.outer``.

Each is linear and keeps the entries, so its derivative is the same rearrangement of the
tangent: a lazy reshape map (entries read and written in C order, as NumPy; the adjoint
reshapes back) for ``reshape(order="C")``, ``expand_dims``, ``A[:, None]`` and
``squeeze``; a reshape between two reversals of the axes for ``order="F"``; a
permutation of the axes for ``moveaxis``.  ``outer`` is the contraction
``einsum("i,j->ij")`` of the flattened operands (a b ᵀ for two columns).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..contexts import CodeContext, PrintContext, StyledPrintContext
from ..errors import ShapeError
from ..expr import Expr, Operand, as_expr
from ..maps import LinearMap
from ..maps.algebra import compose
from ..maps.axes import PermuteMap, ReshapeMap
from ..registry import Params, Prec, Printing, inferring, register
from ..shapes import Shape, fmt
from ._code_templates import code_for
from ._evaluation_rules import with_node
from .arithmetic import scale
from .einsum import einsum
from .leaves import filled
from .products import matmul, matrix_transpose
from .stacks import c_order_reshape, normalize_axes, transpose as permute

__all__ = ["reshape", "expand_dims", "squeeze", "moveaxis", "outer", "index_newaxis"]

FAMILY = "reshaping"

_REARRANGED = ("reshape", "expand_dims", "squeeze", "c_order_reshape")
"""Nodes that only reshape in C order: a C-order reshape of one of them reshapes its argument."""


def _target_shape(a: Expr, shape: Any) -> Shape:
    """NumPy's ``newshape`` for ``a``: an int or a tuple, one entry may be −1 (inferred)."""
    dims = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
    if any(isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < -1 for d in dims):
        raise TypeError(f"reshape: a shape is a tuple of integers (one may be -1), got {shape!r}")
    size = math.prod(a.shape)
    if list(dims).count(-1) > 1:
        raise ValueError(f"reshape: can only specify one unknown dimension, got {shape!r}")
    if -1 in dims:
        known = math.prod(d for d in dims if d != -1)
        if known == 0 or size % known:
            raise ShapeError(f"reshape: cannot reshape an array of shape {fmt(a.shape)} into shape {dims}")
        dims = tuple(size // known if d == -1 else int(d) for d in dims)
    if math.prod(dims) != size:
        raise ShapeError(f"reshape: cannot reshape an array of shape {fmt(a.shape)} into shape {fmt(dims)}")
    return tuple(int(d) for d in dims)


def _reshaped(op: str, a: Expr, shape: Shape, params: Params) -> Expr:
    """The node ``op`` reshaping ``a`` to ``shape`` in C order, with the canonical forms: the
    same shape is ``a``, reshapes of reshapes and of scalings reach the argument, zeros and
    ones stay filled."""
    if shape == a.shape:
        return a
    if a.op == "scale":
        return scale(a.params.coef, _reshaped(op, a.args[0], shape, params))
    if a.op in ("zeros", "ones"):
        return filled(a.op, shape)
    if a.op in _REARRANGED and (a.op != "reshape" or a.params.order == "C"):
        return _reshaped(op, a.args[0], shape, params)
    return Expr.make(op, (a,), params, shape)


def _order_matters(in_shape: Shape, out_shape: Shape) -> bool:
    """Whether a reshape in F order differs from one in C order: both shapes have several axes
    longer than one (otherwise both orders read, or write, the entries in the same sequence)."""
    return sum(s > 1 for s in in_shape) > 1 or sum(s > 1 for s in out_shape) > 1


def _reshape_jvp(node: Expr, i: int) -> LinearMap:
    """d reshape(A) = reshape(dA): the C-order reshape map, or for order "F" the reshape of
    the reversed axes between two reversals (column-major order is C order of Aᵀ)."""
    in_shape, out_shape = node.args[0].shape, node.shape
    if getattr(node.params, "order", "C") == "C" or not _order_matters(in_shape, out_shape):
        return ReshapeMap(in_shape, out_shape)
    reverse_in, reverse_out = tuple(range(len(in_shape)))[::-1], tuple(range(len(out_shape)))[::-1]
    return compose(PermuteMap(out_shape[::-1], reverse_out), ReshapeMap(in_shape[::-1], out_shape[::-1]),
                   PermuteMap(in_shape, reverse_in))


def _reshaped_value(n: Any, x: Any) -> np.ndarray:
    return np.reshape(x, n.shape, order=n.params.order)


def _c_order_value(n: Any, x: Any) -> np.ndarray:
    return np.reshape(x, n.shape)


# ----------------------------------------------------------------- reshape
@inferring
def reshape(a: Operand, shape: Any, order: str = "C") -> Expr:
    """A's entries in another shape, as ``numpy.reshape(A, shape, order)``.

    ``order="C"`` reads and writes the entries with the last axis changing fastest,
    ``order="F"`` with the first (so ``reshape(A, -1, order="F")`` is vec A).  One entry
    of ``shape`` may be −1.  Linear: d reshape(A) = reshape(dA), a lazy reshape map.
    """
    a = as_expr(a)
    if order not in ("C", "F"):
        raise ValueError(f"reshape: order must be 'C' or 'F', got {order!r}")
    shape = _target_shape(a, shape)
    if order == "C" or not _order_matters(a.shape, shape) or shape == a.shape:
        return _reshaped("reshape", a, shape, Params(order="C"))
    if a.op == "scale":
        return scale(a.params.coef, reshape(a.args[0], shape, order))
    if a.op in ("zeros", "ones"):
        return filled(a.op, shape)
    return Expr.make("reshape", (a,), Params(order="F"), shape)


def _print_reshaped(p: StyledPrintContext, e: Expr) -> tuple[str, int]:
    extra = [str(e.shape)]
    if e.params.order == "F":
        extra.append("\\mathrm{order}=F" if p.s.latex else "order=F")
    return p.s.func("reshape", p(e.args[0]), *extra), Prec.ATOM


def _python_reshaped(p: PrintContext, e: Expr) -> tuple[str, int]:
    extra = ", order='F'" if e.params.order == "F" else ""
    return f"reshape({p(e.args[0])}, {e.shape}{extra})", Prec.ATOM


def _rebuild_reshaped(node: Expr, args: list[Expr]) -> Expr:
    return reshape(args[0], node.shape, node.params.order)


def _reshape_code(g: CodeContext, e: Expr, x: str) -> str:
    if e.params.order == "C":
        return f"{g.array_module}.reshape({x}, {e.shape})"
    if g.name == "torch":  # no order= in PyTorch: the C-order reshape of the reversed axes
        xp = g.array_module
        reversed_in = f"{xp}.permute({x}, {tuple(range(e.args[0].ndim))[::-1]})"
        return f"{xp}.permute({xp}.reshape({reversed_in}, {e.shape[::-1]}), {tuple(range(e.ndim))[::-1]})"
    return f"{g.array_module}.reshape({x}, {e.shape}, order='F')"


register(
    "reshape", FAMILY, public="reshape", function=reshape, signature="(...)->(...)", params=("order",),
    stacks=True, evaluate=with_node(_reshaped_value), jvp=_reshape_jvp, rebuild=_rebuild_reshaped,
    printing=Printing(_print_reshaped, _print_reshaped, _python_reshaped), code=_reshape_code,
    doc="the entries in another shape, as numpy.reshape (order 'C' or 'F')",
)
reshape.stack_keywords = ("shape", "order")  # type: ignore[attr-defined]  # (not parsed)


# ------------------------------------------------------------- expand_dims
def _inserted_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """NumPy's ``axis`` of ``expand_dims`` (an int or a tuple) as sorted axes of the result."""
    return normalize_axes("expand_dims", axis, ndim + (len(axis) if isinstance(axis, (tuple, list)) else 1))


def _expanded(a: Expr, axes: tuple[int, ...]) -> Expr:
    dims = iter(a.shape)
    shape = tuple(1 if k in axes else next(dims) for k in range(a.ndim + len(axes)))
    return _reshaped("expand_dims", a, shape, Params(axes=axes))


@inferring
def expand_dims(a: Operand, axis: Any) -> Expr:
    """A with axes of length one inserted at ``axis`` (an int or a tuple, counted in the
    result), as ``numpy.expand_dims``; ``A[:, None]`` and ``A[None]`` build it too.
    Linear: its derivative inserts the same axes in the tangent (a lazy reshape map)."""
    a = as_expr(a)
    return _expanded(a, _inserted_axes(axis, a.ndim))


def _axes_key(e: Expr, unit: str) -> str:
    """The indexing key of the axes ``e.params.axes``: ``:, None, :``."""
    return ", ".join(unit if k in e.params.axes else ":" for k in range(e.ndim))


def _print_expanded(p: StyledPrintContext, e: Expr) -> tuple[str, int]:
    base = p(e.args[0], Prec.ATOM)
    if p.s.latex:
        key = _axes_key(e, r"\mathrm{None}").replace(":", "{:}")
        return f"{{{base}}}_{{[{key}]}}", Prec.ATOM
    return f"{base}[{_axes_key(e, 'None')}]", Prec.ATOM


def _python_expanded(p: PrintContext, e: Expr) -> tuple[str, int]:
    axes = e.params.axes
    return f"expand_dims({p(e.args[0])}, {axes[0] if len(axes) == 1 else axes})", Prec.ATOM


def _rebuild_expanded(node: Expr, args: list[Expr]) -> Expr:
    return _expanded(args[0], node.params.axes)


register(
    "expand_dims", FAMILY, public="expand_dims", function=expand_dims, signature="(...),int->(...)",
    params=("axes",), stacks=True, evaluate=with_node(_c_order_value),
    jvp=_reshape_jvp, rebuild=_rebuild_expanded,
    printing=Printing(_print_expanded, _print_expanded, _python_expanded),
    code=code_for(other="{np}.reshape({0}, {n.shape})"),
    doc="axes of length one inserted, as numpy.expand_dims (also A[:, None], A[None])",
)


def index_newaxis(a: Operand, key: Any) -> Expr:
    """``a[key]`` for a key of ``None`` (new axes), full slices ``:`` and ``...``, as NumPy:
    ``X[:, None, :]`` is ``(n, 1, m)`` for X ``(n, m)``, ``A[None]`` is ``(1, *A.shape)``."""
    a = as_expr(a)
    items = list(key) if isinstance(key, tuple) else [key]
    if items.count(Ellipsis) > 1:
        raise IndexError("an index can only have a single ellipsis ('...')")
    for item in items:
        if not (item is None or item is Ellipsis or isinstance(item, slice) and item == slice(None)):
            raise IndexError(f"index of an array of shape {fmt(a.shape)}: with None (new axes) kronvec takes "
                             f"full slices ':' and '...' only, got {item!r}")
    taken = sum(1 for item in items if isinstance(item, slice))
    if taken > a.ndim:
        raise IndexError(f"too many indices for an array of shape {fmt(a.shape)}: {taken} were indexed")
    if Ellipsis in items:
        at = items.index(Ellipsis)
        items[at:at + 1] = [slice(None)] * (a.ndim - taken)
    else:
        items += [slice(None)] * (a.ndim - taken)
    return _expanded(a, tuple(k for k, item in enumerate(items) if item is None))


register("index_newaxis", FAMILY, function=index_newaxis, node=False,
         doc="A[:, None], A[None, ...]: new axes by indexing (builds expand_dims)")


# ----------------------------------------------------------------- squeeze
@inferring
def squeeze(a: Operand, axis: Any = None) -> Expr:
    """A without axes of length one (all of them, or those at ``axis``), as ``numpy.squeeze``;
    an axis of another length raises.  Linear: a lazy reshape map."""
    a = as_expr(a)
    if axis is None:
        axes = tuple(k for k, s in enumerate(a.shape) if s == 1)
    else:
        axes = normalize_axes("squeeze", axis, a.shape)
        wide = [k for k in axes if a.shape[k] != 1]
        if wide:
            raise ValueError(f"squeeze: cannot select an axis to squeeze out which has size not equal to "
                             f"one (axis {wide[0]} of shape {fmt(a.shape)})")
    shape = tuple(s for k, s in enumerate(a.shape) if k not in axes)
    return _reshaped("squeeze", a, shape, Params(axes=axes))


def _print_squeezed(p: StyledPrintContext, e: Expr) -> tuple[str, int]:
    return p.s.func("squeeze", p(e.args[0])), Prec.ATOM


def _python_squeezed(p: PrintContext, e: Expr) -> tuple[str, int]:
    return f"squeeze({p(e.args[0])}, {e.params.axes})", Prec.ATOM


def _rebuild_squeezed(node: Expr, args: list[Expr]) -> Expr:
    return squeeze(args[0], node.params.axes)


register(
    "squeeze", FAMILY, public="squeeze", function=squeeze, signature="(...)->(...)", params=("axes",),
    stacks=True, evaluate=with_node(_c_order_value), jvp=_reshape_jvp, rebuild=_rebuild_squeezed,
    printing=Printing(_print_squeezed, _print_squeezed, _python_squeezed),
    code=code_for(other="{np}.reshape({0}, {n.shape})"),
    doc="the axes of length one removed, as numpy.squeeze",
)
squeeze.stack_keywords = ("axis",)  # type: ignore[attr-defined]  # (not parsed)


# ---------------------------------------------------------------- moveaxis
def _listed(axes: Any) -> tuple[Any, ...]:
    return tuple(axes) if isinstance(axes, (tuple, list)) else (axes,)


@inferring
def moveaxis(a: Operand, source: Any, destination: Any) -> Expr:
    """A with the axes ``source`` moved to the positions ``destination`` (ints or sequences),
    the others kept in order, as ``numpy.moveaxis``.  Linear: a permutation of the axes."""
    a = as_expr(a)
    src, dst = ([normalize_axes("moveaxis", x, a.shape)[0] for x in _listed(axes)]
                for axes in (source, destination))
    if len(src) != len(dst):
        raise ValueError("moveaxis: `source` and `destination` arguments must have the same number of "
                         "elements")
    if len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"moveaxis: repeated axis in {source!r} or {destination!r}")
    order = [k for k in range(a.ndim) if k not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return permute(a, tuple(order))


register("moveaxis", FAMILY, public="moveaxis", function=moveaxis, signature="(...),int,int->(...)",
         node=False, stacks=True, doc="axes moved to new positions, as numpy.moveaxis (a permutation)")


# ------------------------------------------------------------------- outer
@inferring
def outer(a: Operand, b: Operand) -> Expr:
    """The outer product out[i, j] = a[i] b[j] of the flattened operands, as ``numpy.outer``:
    a bᵀ for two column vectors.  Bilinear: d outer = outer(da, b) + outer(a, db)."""
    a, b = as_expr(a), as_expr(b)
    if a.ndim == 2 and b.ndim == 2 and a.shape[1] == 1 and b.shape[1] == 1:
        return matmul(a, matrix_transpose(b))
    flat = [x if x.ndim == 1 else c_order_reshape(x, (math.prod(x.shape),)) for x in (a, b)]
    return einsum("i,j->ij", *flat)


register("outer", FAMILY, public="outer", function=outer, signature="(m,1),(n,1)->(m,n)", node=False,
         doc="the outer product of the flattened operands, as numpy.outer (a bᵀ for columns)")
