"""Scalar-valued functions of a matrix: trace, det, logdet, sum and the Frobenius norm.

Their derivatives are rank-one maps H ↦ tr(C H) M (Matrix Cookbook eqs. 46,
57, 101, 103): the gradient of each is Cᵀ.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..expr import Expr, NO_PARAMS, as_expr
from ..maps import TraceMap
from ..registry import Prec, Printing, register
from ..signature import normalize_keyword
from ._common import func_print, io, lift, py_call
from .arithmetic import add, power, scale, smul
from .broadcasting import slice_sums
from .leaves import Constant, ones, zeros
from .products import inv, transpose
from .spectral import nuclear_norm, spectral_norm

__all__ = ["trace", "det", "logdet", "sum", "norm", "AXIS_REDUCTION"]

FAMILY = "reductions"

AXIS_REDUCTION = "(m,n),axis=None->() | (m,n),axis=0->(1,n) | (m,n),axis=1->(m,1)"
"""The signature of a reduction along an axis (sum, mean, max, min, logsumexp)."""


def _one() -> Expr:
    return Constant(1.0)


def _scalar_of_1x1(name: str) -> Any:
    """Print ``name(A)``, or just A when A is a 1×1 matrix read as a scalar."""
    inner = func_print(name)

    def render(p: Any, e: Expr) -> tuple[str, int]:
        if e.args[0].shape == (1, 1):
            return p.render(e.args[0])
        return inner(p, e)
    return render


# ---------------------------------------------------------------- trace
def trace(a: Any) -> Expr:
    """tr(A) = Σᵢ Aᵢᵢ, a scalar, for a square A.

    Its differential is tr(dA); ∇_X tr(AXB) = AᵀBᵀ (Matrix Cookbook eq. 101).
    """
    a = as_expr(a)
    TRACE.signature.check("trace", [a.shape])
    if a.op == "transpose":
        return trace(a.args[0])
    if a.op == "scale":
        return scale(a.params.coef, trace(a.args[0]))
    if a.op == "smul":  # tr(sA) = s tr(A); a 1×1 s·t of two scalars is st
        inner = a.args[1]
        return smul(a.args[0], inner if inner.shape == () else trace(inner))
    if a.op == "identity":
        return Constant(float(a.shape[0]))
    if a.op == "zeros":
        return zeros(())
    return Expr.make("trace", (a,), NO_PARAMS, ())


TRACE = register(
    "trace", FAMILY, public="trace", function=trace, signature="(n,n)->()",
    evaluate=lift(lambda x: float(np.trace(x))), code="{np}.trace({0})",
    jvp=lambda node, i: TraceMap(None, _one(), *io(node, i)),
    printing=Printing(_scalar_of_1x1("tr"), _scalar_of_1x1(r"\operatorname{tr}"), py_call("trace")),
    doc="the trace tr(A)",
)


# ------------------------------------------------------------------ det
def det(a: Any) -> Expr:
    """det(A), a scalar, for a square A (computed from an LU or Cholesky factorization).

    Its differential is det(A) tr(A⁻¹ dA) (Jacobi's formula; Matrix Cookbook eq. 46).
    """
    a = as_expr(a)
    DET.signature.check("det", [a.shape])
    if a.op == "transpose":
        return det(a.args[0])
    if a.op == "scale":  # det(cA) = cⁿ det(A)
        return scale(a.params.coef ** a.shape[0], det(a.args[0]))
    return Expr.make("det", (a,), NO_PARAMS, ())


def _det_value(fac: Any) -> float:
    sign, logabs = fac.logabsdet()
    return sign * math.exp(logabs) if logabs > -math.inf else 0.0


DET = register(
    "det", FAMILY, public="det", function=det, signature="(n,n)->()",
    evaluate=lambda ev, e: ev.op(_det_value, ev.factorization(e.args[0])),
    code=lambda g, e, a: g.backend.det(g, g.factor(e.args[0])),
    jvp=lambda node, i: TraceMap(inv(node.args[0]), node, *io(node, i)),
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
    LOGDET.signature.check("logdet", [a.shape])
    if a.op == "transpose":
        return logdet(a.args[0])
    if a.op == "scale":  # log|det(cA)| = n log|c| + log|det A|
        return add(Constant(a.shape[0] * math.log(abs(a.params.coef))), logdet(a.args[0]))
    return Expr.make("logdet", (a,), NO_PARAMS, ())


LOGDET = register(
    "logdet", FAMILY, public="logdet", function=logdet, signature="(n,n)->()",
    evaluate=lambda ev, e: ev.op(lambda fac: fac.logabsdet()[1], ev.factorization(e.args[0])),
    code=lambda g, e, a: g.backend.logabsdet(g, g.factor(e.args[0])),
    jvp=lambda node, i: TraceMap(inv(node.args[0]), _one(), *io(node, i)),
    printing=Printing(func_print("log det"), func_print(r"\log\det"), py_call("logdet")),
    domain=("invertible",),
    doc="log|det A|",
)


# ------------------------------------------------------------------ sum
def sum(a: Any, axis: int | None = None) -> Expr:  # noqa: A001 - the public name kv.sum
    """Σᵢⱼ Aᵢⱼ, the sum of all entries, a scalar; with ``axis`` the sums of the columns
    (``axis=0``: 𝟙ᵀA, of shape (1, m)) or of the rows (``axis=1``: A𝟙, of shape (n, 1)),
    as ``np.sum`` (negative axes count from the end).

    Its differential is Σᵢⱼ dAᵢⱼ = tr(𝟙ᵀ dA), so its gradient is the ones matrix;
    the sums along an axis are products with 𝟙, differentiated as products.
    """
    a = as_expr(a)
    if axis is not None:
        axis = normalize_keyword("sum", "axis", axis)
        SUM.signature.check("sum", [a.shape], axis=axis)
        return slice_sums(a, axis)
    if a.shape == ():
        return a
    if a.op == "scale":
        return scale(a.params.coef, sum(a.args[0]))
    if a.op == "smul" and a.args[1].shape != (1, 1):  # Σ sA = s ΣA
        return smul(a.args[0], sum(a.args[1]))
    return Expr.make("sum", (a,), NO_PARAMS, ())


SUM = register(
    "sum", FAMILY, public="sum", function=sum,
    signature=AXIS_REDUCTION,
    evaluate=lift(lambda x: float(np.sum(x))), code="{np}.sum({0})",
    jvp=lambda node, i: TraceMap(ones(node.args[0].shape[::-1]), _one(), *io(node, i)),
    printing=Printing(_scalar_of_1x1("sum"), _scalar_of_1x1(r"\operatorname{sum}"), py_call("sum")),
    doc="the sum of all entries, or of each column or row (axis=)",
)


# ----------------------------------------------------------------- norm
def norm(a: Any, ord: Any = None) -> Expr:  # noqa: A002 - NumPy's argument name
    """A matrix norm, a scalar, as ``numpy.linalg.norm(A, ord)`` for a matrix.

    * ``ord=None`` or ``"fro"``: the Frobenius norm ‖A‖ = (Σᵢⱼ Aᵢⱼ²)^½,
      d‖A‖ = tr((A/‖A‖)ᵀ dA);
    * ``"nuc"``: the nuclear norm ‖A‖_* = Σᵢ sᵢ, d‖A‖_* = tr(V Uᵀ dA) (through the SVD);
    * ``2``: the spectral norm ‖A‖₂ = s₁, d‖A‖₂ = u₁ᵀ dA v₁ (through the SVD).
    """
    a = as_expr(a)
    if ord is None or ord == "fro":
        return Expr.make("norm", (a,), NO_PARAMS, ())
    if ord == "nuc":
        return nuclear_norm(a)
    if isinstance(ord, (int, float)) and not isinstance(ord, bool) and ord == 2:
        return spectral_norm(a)
    raise ValueError(f"norm: ord must be None, 'fro', 'nuc' or 2, got {ord!r}")


register(
    "norm", FAMILY, public="norm", function=norm, signature="(m,n)->()",
    evaluate=lift(lambda x: float(np.linalg.norm(x))), code="{la}.norm({0})",
    jvp=lambda node, i: TraceMap(transpose(smul(power(node, -1.0), node.args[0])), _one(),
                                 *io(node, i)),
    printing=Printing(lambda p, e: (p.s.norm(p(e.args[0])), Prec.ATOM),
                      lambda p, e: (p.s.norm(p(e.args[0])), Prec.ATOM), py_call("norm")),
    doc="a matrix norm: Frobenius ‖A‖ (ord None/'fro'), nuclear (ord 'nuc') or spectral (ord 2)",
)
