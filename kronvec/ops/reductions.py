"""Scalar-valued functions of a matrix: trace, det, logdet, sum and the Frobenius norm.

Their derivatives are rank-one maps H ↦ tr(C H) M (Matrix Cookbook eqs. 46,
57, 101, 103): the gradient of each is Cᵀ.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import registry
from ..contexts import StyledPrintContext
from ..dims import is_named
from ..errors import ShapeError
from ..expr import Expr, NO_PARAMS, as_expr
from ..maps import LinearMap, TraceMap
from ..maps.members import member_trace_map
from ..registry import Prec, Printing, register, signature_of
from ..shapes import fmt, is_plain, smaller, stack_of
from ..signature import normalize_keyword
from ._evaluation_rules import lift
from ._jvp_rules import map_shapes
from ._printing_rules import func_print, py_call
from .adjugate import adj
from .arithmetic import add, multiply, scale, smul
from .indexing import selected_rows
from .broadcasting import slice_sums
from .leaves import Constant, filled, ones, size_of, zeros
from .norm_roots import power0
from .products import inv, matrix_transpose
from .svd_norms import nuclear_norm, spectral_norm
from .stacks import normalize_axes, reduce_sum, transpose as permute

__all__ = ["trace", "det", "logdet", "sum", "norm", "AXIS_REDUCTION"]


AXIS_REDUCTION = "(m,n),axis=None->() | (m,n),axis=0->(1,n) | (m,n),axis=1->(m,1)"
"""The signature of a reduction along an axis (sum, mean, max, min, logsumexp)."""


def _one() -> Expr:
    return Constant(1.0)


def _scalar_jvp(C: Any, M: Any) -> Any:
    """The rank-one JVP tr(C dA)·M of a scalar-valued function (per member for a stack, with
    any number of stack axes)."""
    return lambda node, i: member_trace_map(C(node), M(node), *map_shapes(node, i))


def _scalar_of_1x1(name: str) -> Any:
    """Print ``name(A)``, or just A when A is a 1×1 matrix read as a scalar."""
    inner = func_print(name)

    def render(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
        if e.args[0].shape == (1, 1):
            return printer.render(e.args[0])
        return inner(printer, e)
    return render


# ---------------------------------------------------------------- trace
def trace(a: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Expr:
    """tr(A) = Σᵢ Aᵢᵢ, a scalar, for a square A (a non-square matrix raises
    :class:`~kronvec.ShapeError`, the v1 contract); as ``numpy.trace(A, offset, axis1, axis2)``.

    For a stack, the traces of the planes spanned by ``axis1`` and ``axis2``
    (NumPy's defaults: the first two axes); ``kv.trace(X, axis1=-2, axis2=-1)``
    gives the trace of each member, of shape ``(b,)``.  As in NumPy, a rectangular
    plane of a stack sums its min(m, n) diagonal entries.  With an ``offset``, the sum of
    ``kv.diagonal(A, offset, axis1, axis2)``, as NumPy's (0 for an empty diagonal).
    Its differential is tr(dA); ∇_X tr(AXB) = AᵀBᵀ (Matrix Cookbook eq. 101).
    """
    a = as_expr(a)
    if offset != 0:  # the sum of an offset diagonal
        return registry.function("offset_trace")(a, offset, axis1, axis2)
    if not is_plain(a.shape):
        return _stack_trace(a, axis1, axis2)
    if {normalize_keyword("trace", "axis", x, a.shape) for x in (axis1, axis2)} != {0, 1}:
        raise ValueError(f"trace: axis1 and axis2 cannot be the same (got {axis1} and {axis2})")
    signature_of(TRACE).check("trace", [a.shape])
    if a.op == "matrix_transpose":
        return trace(a.args[0])
    if a.op == "scale":
        return scale(a.params.coef, trace(a.args[0]))
    if a.op == "smul":  # tr(sA) = s tr(A); a 1×1 s·t of two scalars is st (a trace is of shape ())
        s, inner = a.args
        return smul(s if s.shape == () else trace(s), inner if inner.shape == () else trace(inner))
    if a.op == "eye":
        return size_of(a.shape[0])
    if a.op == "zeros":
        return zeros(())
    return Expr.make("trace", (a,), NO_PARAMS, ())


trace.__dict__["stack_keywords"] = ("offset", "axis1", "axis2")  # (not parsed)


def _stack_trace(a: Expr, axis1: int, axis2: int) -> Expr:
    """The traces of the planes (axis1, axis2) of an array of three or more axes."""
    ndim = a.ndim
    if ndim < 2:
        raise ShapeError(f"trace: needs at least two axes, got shape {fmt(a.shape)}")
    first, second = (normalize_axes("trace", x, a.shape)[0] for x in (axis1, axis2))
    if first == second:
        raise ValueError(f"trace: axis1 and axis2 cannot be the same (got {axis1} and {axis2})")
    if {first, second} != {ndim - 2, ndim - 1}:
        a = permute(a, tuple(k for k in range(ndim) if k not in (first, second)) + (first, second))
    a = _leading_square(a)
    signature_of(TRACE).check("trace", [a.shape])
    stack = stack_of(a.shape)
    if a.op == "matrix_transpose":
        a = a.args[0]
    if a.op == "scale":
        return scale(a.params.coef, _stack_trace(a.args[0], -2, -1))
    if a.op == "zeros":
        return filled("zeros", stack)
    return Expr.make("trace", (a,), NO_PARAMS, stack)


def _leading_square(a: Expr) -> Expr:
    """The leading k×k block of each rectangular (m, n) plane of a stack, k = min(m, n): as in
    NumPy, the trace of a rectangular plane sums its k diagonal entries.  The block is
    [I 0] A (m > n) or A [I 0]ᵀ (m < n), so it differentiates as a product with constants."""
    m, n = a.shape[-2:]
    if m != n and (is_named(m) or is_named(n)):  # [I 0] as a selection of I (sizes as names)
        k = smaller(m, n, f"trace: the planes {fmt(a.shape[-2:])} of a stack sum")
        if k == n:
            return selected_rows(m, range(n), "[I 0]") @ a
        return a @ selected_rows(n, range(m), "[I 0]").mT
    if m > n:
        return Constant(np.eye(n, m), "[I 0]") @ a
    if m < n:
        return a @ Constant(np.eye(n, m), "[I 0]ᵀ")
    return a


def _trace_value(x: np.ndarray) -> Any:
    if x.ndim == 2:
        return float(x.trace() if type(x) is np.ndarray else np.trace(x))
    return np.trace(x, axis1=-2, axis2=-1)


TRACE = register(
    "trace", public="trace", function=trace, signature="(n,n)->()", stacks=True,
    evaluate=lift(_trace_value), code="{np}.trace({0})",
    jvp=_scalar_jvp(lambda node: None, lambda node: _one()),
    rebuild=lambda node, args: trace(args[0], 0, -2, -1),  # the node traces the last two axes
    printing=Printing(_scalar_of_1x1("tr"), _scalar_of_1x1(r"\operatorname{tr}"), py_call("trace")),
    doc="the trace tr(A)",
)


# ------------------------------------------------------------------ det
def det(a: Any) -> Expr:
    """det(A), a scalar, for a square A (computed from an LU or Cholesky factorization).

    Its differential is det(A) tr(A⁻¹ dA) (Jacobi's formula; Matrix Cookbook eq. 46), with
    det(A) A⁻¹ the adjugate adj(A), a polynomial in A: the gradient adj(A)ᵀ and the Hessian
    exist, and are computed, at singular A too.
    """
    a = as_expr(a)
    shape = signature_of(DET).check("det", [a.shape])
    if a.op == "matrix_transpose":
        return det(a.args[0])
    if a.op == "scale":  # det(cA) = cⁿ det(A)
        return scale(a.params.coef ** a.shape[-1], det(a.args[0]))
    return Expr.make("det", (a,), NO_PARAMS, shape)


def _det_value(fac: Any) -> Any:
    sign, logabs = fac.logabsdet()
    if np.ndim(logabs):  # a stack: per member
        return sign * np.exp(logabs)
    return sign * math.exp(logabs) if logabs > -math.inf else 0.0


DET = register(
    "det", public="det", function=det, signature="(n,n)->()", stacks=True,
    evaluate=lambda ev, e: ev.op(_det_value, ev.factorization(e.args[0])),
    code=lambda g, e, a: g.backend.det(g, g.factor(e.args[0])),
    jvp=_scalar_jvp(lambda node: adj(node.args[0]), lambda node: _one()),  # adj(A) = det(A) A⁻¹
    printing=Printing(func_print("det"), func_print(r"\det"), py_call("det")),
    domain=("invertible",),
    doc="the determinant det(A)",
)


# --------------------------------------------------------------- logdet
def logdet(a: Any) -> Expr:
    """log|det A|, a scalar (equal to log det A when det A > 0).

    Its differential is tr(A⁻¹ dA) either way (Matrix Cookbook eq. 57).
    """
    a = as_expr(a)
    shape = signature_of(LOGDET).check("logdet", [a.shape])
    if a.op == "matrix_transpose":
        return logdet(a.args[0])
    if a.op == "scale":  # log|det(cA)| = n log|c| + log|det A|
        return add(Constant(a.shape[-1] * math.log(abs(a.params.coef))), logdet(a.args[0]))
    return Expr.make("logdet", (a,), NO_PARAMS, shape)


LOGDET = register(
    "logdet", public="logdet", function=logdet, signature="(n,n)->()", stacks=True,
    evaluate=lambda ev, e: ev.op(lambda fac: fac.logabsdet()[1], ev.factorization(e.args[0])),
    code=lambda g, e, a: g.backend.logabsdet(g, g.factor(e.args[0])),
    jvp=_scalar_jvp(lambda node: inv(node.args[0]), lambda node: _one()),
    printing=Printing(func_print("log det"), func_print(r"\log\det"), py_call("logdet")),
    domain=("invertible",),
    doc="log|det A|",
)


# ------------------------------------------------------------------ sum
def sum(a: Any, axis: int | tuple[int, ...] | None = None, keepdims: bool = False) -> Expr:
    """Σᵢⱼ Aᵢⱼ, the sum of all entries, a scalar; with ``axis`` the sums of the columns
    (``axis=0``: 𝟙ᵀA, of shape (1, m)) or of the rows (``axis=1``: A𝟙, of shape (n, 1)),
    as ``np.sum`` (negative axes count from the end).

    Its differential is Σᵢⱼ dAᵢⱼ = tr(𝟙ᵀ dA), so its gradient is the ones matrix;
    the sums along an axis are products with 𝟙, differentiated as products.

    For a stack (or per-member scalars), NumPy's sums: ``axis`` None (all
    entries), an integer or a tuple of them, and the summed axes removed
    (``kv.sum(kv.logdet(V))`` sums over the members); ``keepdims=True`` keeps them
    with length one, as in NumPy.  A matrix keeps its two axes anyway; with
    ``keepdims=True`` its total is the 1×1 matrix 𝟙ᵀA𝟙.
    """
    a = as_expr(a)
    if not is_plain(a.shape):
        return reduce_sum(a, normalize_axes("sum", axis, a.shape), keepdims)
    if keepdims and axis is None and a.ndim == 2:
        return slice_sums(slice_sums(a, 0), 1)
    if axis is not None:
        axis = normalize_keyword("sum", "axis", axis, a.shape)
        signature_of(SUM).check("sum", [a.shape], axis=axis)
        return slice_sums(a, axis)
    if a.shape == ():
        return a
    if a.op == "scale":
        return scale(a.params.coef, sum(a.args[0]))
    if a.op == "smul" and a.args[0].shape == () and a.args[1].shape != (1, 1):  # Σ sA = s ΣA (a () total)
        return smul(a.args[0], sum(a.args[1]))
    return Expr.make("sum", (a,), NO_PARAMS, ())


SUM = register(
    "sum", public="sum", function=sum, stacks=True,
    signature=AXIS_REDUCTION,
    evaluate=lift(lambda x: float(np.sum(x))), code="{np}.sum({0})",
    jvp=lambda node, i: TraceMap(ones(node.args[0].shape[::-1]), _one(), *map_shapes(node, i)),
    printing=Printing(_scalar_of_1x1("sum"), _scalar_of_1x1(r"\operatorname{sum}"), py_call("sum")),
    doc="the sum of all entries, or of each column or row (axis=)",
)


# ----------------------------------------------------------------- norm
def norm(a: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Expr:
    """A matrix or vector norm, as ``numpy.linalg.norm(A, ord, axis, keepdims)``.

    * ``ord=None`` or ``"fro"``: the Frobenius norm ‖A‖ = (Σᵢⱼ Aᵢⱼ²)^½,
      d‖A‖ = tr((A/‖A‖)ᵀ dA);
    * ``"nuc"``: the nuclear norm ‖A‖_* = Σᵢ sᵢ, d‖A‖_* = tr(V Uᵀ dA) (through the SVD);
    * ``2``: the spectral norm ‖A‖₂ = s₁, d‖A‖₂ = u₁ᵀ dA v₁ (through the SVD).

    ``axis`` as NumPy: None (the whole array; for a stack the 2-norm of all its
    entries), an integer (the 2-norms of the vectors along it; for a matrix
    the result keeps the axis, as ``kv.sum`` does) or a pair (the matrix norms
    of those planes, ``axis=(-2, -1)``: each member's norm, of shape ``(b,)``).

    The other orders of NumPy (matrices: ±1, −2, ±∞; vectors: any p, ±∞, 0), ``keepdims``
    and the vectors of per-member scalars are :func:`kronvec.ops.norms.norm_of_order`'s.
    """
    a = as_expr(a)
    if keepdims or a.ndim == 1 or not any(ord is o or ord == o for o in (None, "fro", "nuc", 2)) or \
            axis is None and a.ndim > 2 and ord is not None:  # (NumPy refuses an order for 3+ axes)
        return registry.function("norm_of_order")(a, ord, axis, keepdims)
    if axis is not None or not is_plain(a.shape):
        return _norm_along(a, ord, axis)
    if ord is None or ord == "fro":
        return Expr.make("norm", (a,), NO_PARAMS, ())
    if ord == "nuc":
        return nuclear_norm(a)
    if isinstance(ord, (int, float)) and not isinstance(ord, bool) and ord == 2:
        return spectral_norm(a)
    raise ValueError(f"norm: ord must be None, 'fro', 'nuc' or 2, got {ord!r}")


norm.__dict__["stack_keywords"] = ("axis", "keepdims")  # the parser reads matrices: not parsed


def _norm_along(a: Expr, ord: Any, axis: Any) -> Expr:
    """NumPy's norms with ``axis``, or of a stack: square roots of sums of squares, and the
    SVD's norms of the planes of a stack."""
    ndim = a.ndim
    if axis is None:  # a stack or per-member scalars: the 2-norm of all entries
        if ord not in (None, "fro"):
            raise ValueError(f"norm: ord={ord!r} needs a matrix, or axis=(i, j), got shape {a.shape}")
        return power0(sum(multiply(a, a)), 0.5)
    axes = normalize_axes("norm", axis, a.shape)
    if len(axes) == 2 and ndim == 2:
        return norm(a, ord)
    if len(axes) == 2 and ord in ("nuc", 2):
        moved = permute(a, tuple(k for k in range(ndim) if k not in axes) + axes)
        return (nuclear_norm if ord == "nuc" else spectral_norm)(moved)
    allowed = (None, 2) if len(axes) == 1 else (None, "fro")
    if len(axes) > 2 or ord not in allowed:
        raise ValueError(f"norm: ord={ord!r} is not supported with axis={axis!r}")
    return power0(sum(multiply(a, a), axis=axes[0] if ndim == 2 else axes), 0.5)  # gradient 0 at 0


def _frobenius_value(x: Any) -> float:
    return float(np.linalg.norm(x))


def _frobenius_jvp(node: Expr, i: int) -> LinearMap:
    """d‖A‖ = tr((A/‖A‖)ᵀ dA), 0 at A = 0 (power0: the minimum-norm subgradient)."""
    return TraceMap(matrix_transpose(smul(power0(node, -1.0), node.args[0])), _one(), *map_shapes(node, i))


def _print_frobenius(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
    return printer.s.norm(printer(e.args[0])), Prec.ATOM


register(
    "norm", public="norm", function=norm, signature="(m,n)->()",
    stacks=True,
    evaluate=lift(_frobenius_value), code="{la}.norm({0})",
    jvp=_frobenius_jvp,
    printing=Printing(_print_frobenius, _print_frobenius, py_call("norm")),
    doc="a matrix norm: Frobenius ‖A‖ (ord None/'fro'), nuclear (ord 'nuc') or spectral (ord 2)",
)
