"""The axes of stacks of matrices: transpose (permute_dims), swapaxes, c_order_reshape, broadcast_to,
reduce_sum and tensordot.

A symbol of three or more axes, ``kv.Matrix("X", (b, n, m))``, is a stack of b
matrices.  As in NumPy:

* ``X.T`` and ``kv.transpose(X)`` reverse *all* axes (``(m, n, b)``), and
  ``kv.transpose(X, axes)`` permutes them; ``X.mT``, ``kv.matrix_transpose(X)``
  and ``kv.swapaxes(X, -1, -2)`` (the method ``X.swapaxes``, so also
  ``np.swapaxes``) transpose each member;
* ``kv.sum(X, axis=...)`` sums over any axes (``keepdims`` as NumPy's default,
  False), and ``kv.tensordot(A, B, axes)`` contracts axes of two arrays.

Every one of them is linear, so its derivative is the same operation on the
tangent: a permutation, reshape, broadcast or sum over axes
(:mod:`kronvec.maps.axes`).  ``c_order_reshape`` and ``broadcast_to`` are internal
nodes (per-member scalars spread over the matrices of a stack, and NumPy's
broadcasting of a matrix against a stack, appear in gradients).
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ..contexts import StyledPrintContext
from .. import registry
from ..errors import ShapeError
from ..expr import Expr, NO_PARAMS, Operand, as_expr, const_scalar
from ..maps.axes import BroadcastMap, PermuteMap, ReduceMap, ReshapeMap
from ..registry import Params, Prec, Printing, inferring, register
from ..shapes import Shape, broadcast_shapes_nd, fmt
from ..signature import axis_error
from ._code_templates import code_for
from ._evaluation_rules import with_node
from ._printing_rules import axes_printing
from .arithmetic import multiply, scale
from .leaves import filled
from .products import matmul, matrix_transpose

__all__ = ["transpose", "permute_dims", "swapaxes", "c_order_reshape", "broadcast_to", "reduce_sum",
           "tensordot", "normalize_axes", "reduced_shape"]



def normalize_axes(op: str, axis: Any, shape: Shape | int) -> tuple[int, ...]:
    """NumPy's axis argument (None: all axes, an int, or a tuple of ints) for an operand of
    ``shape`` (or of that many axes) as sorted non-negative axes; ``AxisError`` naming the shape
    for an axis out of range, ``ValueError`` for a repeat."""
    ndim = shape if isinstance(shape, int) else len(shape)
    if axis is None:
        return tuple(range(ndim))
    items = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    out = []
    for a in items:
        if isinstance(a, bool) or not isinstance(a, (int, np.integer)):
            raise TypeError(f"{op}: an axis must be an integer, got {a!r}")
        if not -ndim <= a < ndim:
            raise axis_error(op, a, shape)
        out.append(int(a) % ndim)
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return tuple(sorted(out))


# ------------------------------------------------------------ permute_dims
@inferring
def transpose(a: Operand, axes: Sequence[int] | None = None) -> Expr:
    """The axes of A permuted, as ``numpy.transpose``: all reversed by default (Aᵀ for a
    matrix, ``(m, n, b)`` for a ``(b, n, m)`` stack); ``axes`` gives the new order.

    For the transpose of each member of a stack use ``kv.matrix_transpose`` (``X.mT``).
    It is linear: its derivative permutes the tangent's axes the same way.
    """
    a = as_expr(a)
    ndim = a.ndim
    if axes is None:
        perm = tuple(range(ndim - 1, -1, -1))
    else:
        perm = tuple(int(x) % ndim if isinstance(x, (int, np.integer)) and -ndim <= x < ndim else x
                     for x in axes)
        if sorted(perm) != list(range(ndim)) or len(perm) != ndim:
            raise ValueError(f"transpose: axes {tuple(axes)!r} don't match an array of shape {fmt(a.shape)}")
    return _permuted(a, perm)


def permute_dims(a: Any, axes: Sequence[int] | None = None) -> Expr:
    """``numpy.permute_dims``: the same as :func:`transpose`."""
    return transpose(a, axes)


def _permuted(a: Expr, perm: tuple[int, ...]) -> Expr:
    ndim = len(perm)
    if perm == tuple(range(ndim)):
        return a
    if ndim >= 2 and perm == tuple(range(ndim - 2)) + (ndim - 1, ndim - 2):
        return matrix_transpose(a)  # the members' transposes
    if a.op == "transpose":
        inner = a.params.axes
        return _permuted(a.args[0], tuple(inner[p] for p in perm))
    if a.op == "scale":
        return scale(a.params.coef, _permuted(a.args[0], perm))
    if a.op in ("zeros", "ones"):
        return filled(a.op, tuple(a.shape[p] for p in perm))
    return Expr.make("transpose", (a,), Params(axes=perm), tuple(a.shape[p] for p in perm))


def _print_permute(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
    return printer.s.func("transpose", printer(e.args[0]), str(e.params.axes)), Prec.ATOM


register(
    "transpose", public="transpose", function=transpose, signature="(m,n)->(n,m)",
    params=("axes",), stacks=True,
    evaluate=with_node(lambda n, x: np.transpose(x, n.params.axes)),
    code=code_for(other="{np}.transpose({0}, {n.params.axes})", torch="{0}.permute({n.params.axes})"),
    jvp=lambda node, i: PermuteMap(node.args[0].shape, node.params.axes),
    printing=Printing(_print_permute, _print_permute,
                      lambda printer, e: (f"transpose({printer(e.args[0])}, {e.params.axes})", Prec.ATOM)),
    rebuild=lambda node, args: _permuted(args[0], node.params.axes),
    doc="the axes permuted, as numpy.transpose (all reversed by default: Aᵀ, or X.T of a stack)",
)


@inferring
def swapaxes(a: Operand, axis1: int, axis2: int) -> Expr:
    """A with two axes interchanged, as ``numpy.swapaxes``; ``swapaxes(X, -1, -2)`` transposes
    each member of a stack (``X.mT``), and for a matrix ``swapaxes(A, 0, 1)`` is Aᵀ."""
    a = as_expr(a)
    ndim = a.ndim
    first, second = (normalize_axes("swapaxes", x, a.shape)[0] for x in (axis1, axis2))
    perm = list(range(ndim))
    perm[first], perm[second] = perm[second], perm[first]
    return _permuted(a, tuple(perm))


register(
    "swapaxes", public="swapaxes", function=swapaxes, signature="(m,n),int,int->(n,m)", node=False,
    stacks=True, doc="two axes interchanged, as numpy.swapaxes (swapaxes(X, -1, -2) is X.mT)",
)


# ----------------------------------------------------------------- c_order_reshape
def c_order_reshape(a: Operand, shape: Sequence[int]) -> Expr:
    """A with the same entries in ``shape``, read in C order as ``numpy.reshape`` (internal: it
    spreads per-member scalars ``(b,)`` over matrices as ``(b, 1, 1)``, and serves tensordot)."""
    a = as_expr(a)
    shape = tuple(int(s) for s in shape)
    if math.prod(shape) != math.prod(a.shape):
        raise ShapeError(f"reshape: cannot reshape an array of shape {fmt(a.shape)} into shape {fmt(shape)}")
    if shape == a.shape:
        return a
    if a.op == "c_order_reshape":
        return c_order_reshape(a.args[0], shape)
    if a.op in ("zeros", "ones"):
        return filled(a.op, shape)
    if a.op == "scale":
        return scale(a.params.coef, c_order_reshape(a.args[0], shape))
    value = const_scalar(a)
    if value is not None and a.op == "const":
        return Expr.make("const", (), Params(value=type(a.params.value)(np.reshape(a.params.value.array,
                                                                                    shape), None)), shape)
    return Expr.make("c_order_reshape", (a,), NO_PARAMS, shape)


def _print_inner(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
    """Printed as the array it reshapes or broadcasts (the closed forms are per member)."""
    return printer.render(e.args[0])


def _print_c_order_reshape(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
    """As its argument when only axes of length one come or go ((b,) as (b, 1, 1)); otherwise
    ``reshape(A, shape)``, since the entries move to other rows and columns."""
    if [s for s in e.shape if s != 1] == [s for s in e.args[0].shape if s != 1]:
        return printer.render(e.args[0])
    return printer.s.func("reshape", printer(e.args[0]), str(e.shape)), Prec.ATOM


register(
    "c_order_reshape", function=c_order_reshape, stacks=True,
    evaluate=with_node(lambda n, x: np.reshape(x, n.shape)), code="{0}.reshape({n.shape})",
    jvp=lambda node, i: ReshapeMap(node.args[0].shape, node.shape),
    printing=Printing(_print_c_order_reshape, _print_c_order_reshape,
                      lambda printer, e: (f"reshape({printer(e.args[0])}, {e.shape})", Prec.ATOM)),
    rebuild=lambda node, args: c_order_reshape(args[0], node.shape),
    doc="the entries in another shape, in C order (internal)",
)


# ------------------------------------------------------------ broadcast_to
def broadcast_to(a: Operand, shape: Sequence[int]) -> Expr:
    """A spread to ``shape`` by NumPy's broadcasting rules (``numpy.broadcast_to``; internal:
    the adjoint of a sum over axes, in gradients)."""
    a = as_expr(a)
    shape = tuple(int(s) for s in shape)
    if broadcast_shapes_nd("broadcast_to", a.shape, shape) != shape:
        raise ShapeError(f"broadcast_to: cannot broadcast shape {fmt(a.shape)} to {fmt(shape)}")
    if a.shape == shape:
        return a
    if a.op in ("zeros", "ones"):
        return filled(a.op, shape)
    if a.op == "scale":
        return scale(a.params.coef, broadcast_to(a.args[0], shape))
    value = const_scalar(a)
    if value is not None:  # c·𝟙 of the shape
        return scale(value, filled("ones", shape))
    return Expr.make("broadcast_to", (a,), NO_PARAMS, shape)


register(
    "broadcast_to", function=broadcast_to, stacks=True,
    evaluate=with_node(lambda n, x: np.broadcast_to(x, n.shape)), code="{np}.broadcast_to({0}, {n.shape})",
    jvp=lambda node, i: BroadcastMap(node.args[0].shape, node.shape),
    printing=Printing(_print_inner, _print_inner,
                      lambda printer, e: (f"broadcast_to({printer(e.args[0])}, {e.shape})", Prec.ATOM)),
    rebuild=lambda node, args: broadcast_to(args[0], node.shape),
    doc="an array spread to a shape by NumPy's broadcasting (internal)",
)


# -------------------------------------------------------------- reduce_sum
def reduced_shape(shape: Sequence[int], axes: Sequence[int], keepdims: bool) -> tuple[int, ...]:
    """The shape of a reduction over ``axes`` (non-negative): removed, or kept with length one."""
    if keepdims:
        return tuple(1 if k in axes else s for k, s in enumerate(shape))
    return tuple(s for k, s in enumerate(shape) if k not in axes)


def reduce_sum(a: Operand, axes: Sequence[int], keepdims: bool = False) -> Expr:
    """The sums of A over ``axes`` (non-negative), as ``numpy.sum(A, axis=axes, keepdims=...)``;
    ``kv.sum`` of a stack builds it.  Its derivative sums the tangent likewise, and its
    adjoint spreads a cotangent back over the axes."""
    a = as_expr(a)
    axes = tuple(sorted(int(x) for x in axes))
    if not axes:
        return a
    shape = reduced_shape(a.shape, axes, keepdims)
    if a.op == "zeros":
        return filled("zeros", shape)
    if a.op == "scale":
        return scale(a.params.coef, reduce_sum(a.args[0], axes, keepdims))
    if keepdims and all(a.shape[k] == 1 for k in axes):
        return a
    return Expr.make("reduce_sum", (a,), Params(axes=axes, keepdims=bool(keepdims)), shape)


def _reduce_sum_jvp(node: Expr, i: int) -> Any:
    p = node.params
    return ReduceMap(node.args[0].shape, node.shape, () if p.keepdims else p.axes)


register(
    "reduce_sum", function=reduce_sum, params=("axes", "keepdims"), stacks=True,
    evaluate=with_node(lambda n, x: np.sum(x, axis=n.params.axes, keepdims=n.params.keepdims)),
    code=code_for(other="{np}.sum({0}, axis={n.params.axes}, keepdims={n.params.keepdims})",
                  torch="{np}.sum({0}, dim={n.params.axes}, keepdim={n.params.keepdims})"),
    jvp=_reduce_sum_jvp,
    printing=axes_printing("sum", r"\operatorname{sum}"),
    doc="the sums over some axes (kv.sum of a stack)",
)


# --------------------------------------------------------------- tensordot
def _contracted_axes(axes: Any, shape: Shape) -> tuple[int, ...]:
    """One operand's axes of ``tensordot`` (an int or a sequence, in the given order)."""
    listed = (axes,) if isinstance(axes, (int, np.integer)) else tuple(axes)
    out = tuple(normalize_axes("tensordot", x, shape)[0] for x in listed)
    if len(set(out)) != len(out):
        raise ValueError(f"tensordot: repeated axis in {axes!r} (operand of shape {fmt(shape)})")
    return out


@inferring
def tensordot(a: Operand, b: Operand, axes: Any = 2) -> Expr:
    """The sums of products over axes of A and B, as ``numpy.tensordot(A, B, axes)``.

    ``axes=k`` contracts the last k axes of A with the first k of B; a pair of
    sequences names the axes of each.  The result has A's free axes, then B's.
    For matrices, ``axes=1`` is AB and ``axes=2`` is Σᵢⱼ AᵢⱼBᵢⱼ = tr(AᵀB); in
    general it is a product of reshaped, permuted operands, so its derivative
    is the product rule through those linear maps.
    """
    a, b = as_expr(a), as_expr(b)
    na, nb = a.ndim, b.ndim
    if isinstance(axes, (int, np.integer)) and not isinstance(axes, bool):
        k = int(axes)
        if k < 0 or k > min(na, nb):
            raise ValueError(f"tensordot: axes={k} needs at least {k} axes in both arrays "
                             f"(shapes {fmt(a.shape)} and {fmt(b.shape)})")
        a_axes, b_axes = tuple(range(na - k, na)), tuple(range(k))
    else:
        first, second = axes
        a_axes = _contracted_axes(first, a.shape)
        b_axes = _contracted_axes(second, b.shape)
        if len(a_axes) != len(b_axes):
            raise ValueError("tensordot: the two sequences of axes must have the same length")
    if any(a.shape[i] != b.shape[j] for i, j in zip(a_axes, b_axes)):
        raise ShapeError(f"tensordot: shape-mismatch for sum: axes {a_axes} of {fmt(a.shape)} and "
                         f"{b_axes} of {fmt(b.shape)}")
    free_a = tuple(i for i in range(na) if i not in a_axes)
    free_b = tuple(j for j in range(nb) if j not in b_axes)
    shape = tuple(a.shape[i] for i in free_a) + tuple(b.shape[j] for j in free_b)
    if na == nb == 2 and a_axes == (1,) and b_axes == (0,):
        return matmul(a, b)
    if na == nb == 2 and len(a_axes) == 2:  # Σ A ⊙ Bᵀ-like: a full contraction
        b2 = b if a_axes == b_axes else matrix_transpose(b)
        return registry.function("sum")(multiply(a, b2))  # reductions sit above this family
    rows = math.prod(a.shape[i] for i in free_a)
    inner = math.prod(a.shape[i] for i in a_axes)
    cols = math.prod(b.shape[j] for j in free_b)
    left = c_order_reshape(_permuted(a, free_a + a_axes), (rows, inner))
    right = c_order_reshape(_permuted(b, b_axes + free_b), (inner, cols))
    return c_order_reshape(matmul(left, right), shape)


register(
    "tensordot", public="tensordot", function=tensordot,
    signature="(m,n),(m,n),axes=2->() | (m,n),(n,k),axes=1->(m,k)", node=False, stacks=True,
    doc="sums of products over axes, as numpy.tensordot (axes=1: AB; axes=2: Σ A ⊙ B)",
)
