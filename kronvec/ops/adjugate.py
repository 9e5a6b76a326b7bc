"""The adjugate of a square matrix, adj(A) = det(A) A⁻¹, as one node: the gradient of det.

det is a polynomial, so its gradient adj(A)ᵀ and its Hessian (the derivative
of the adjugate) exist at every A, singular ones included.  Keeping
det(A) A⁻¹ as one node means no composition of maps ever splits it into a
determinant that is 0 and an inverse that does not exist: the node is
evaluated from the factorization of A when A is well conditioned, and from
its SVD otherwise (:mod:`kronvec.maps.adjugate`), and it prints as
``det(A) A⁻¹``.

* ``adj(A)``: the adjugate; adj(A)ᵀ = adj(Aᵀ); d adj(A)[H] =
  det(A) (tr(A⁻¹H) A⁻¹ − A⁻¹ H A⁻¹) where A is invertible, and in general the
  map :class:`~kronvec.maps.adjugate.AdjugateFrechetMap`;
* ``adj_frechet(A, H)``: that derivative applied to H (in gradients through the
  gradient of det, e.g. Hessians of f(det A)), linear in H.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..contexts import PrintContext, CodeContext
from .. import registry
from ..expr import Expr, NO_PARAMS, Operand, as_expr
from ..maps import KronMap, TraceMap
from ..maps.adjugate import AdjugateFrechetMap, adjugate_by_svd, adjugate_frechet
from ..maps.algebra import add_maps
from ..maps.algebra import compose
from ..registry import Printing, register, signature_of
from ..shapes import fmt
from ._code_templates import code_for
from ._printing_rules import call_printing
from ._structure_rules import through
from .arithmetic import add, scale, smul
from .leaves import eye
from .products import inv

__all__ = ["adj", "adj_frechet", "adjugate_value"]

_SQRT_EPS = float(np.sqrt(np.finfo(float).eps))


def adj(a: Operand) -> Expr:
    """adj(A) = det(A) A⁻¹ for a square A (each member of a stack), defined at singular A too."""
    a = as_expr(a)
    signature_of(registry.spec("det")).check("adj", [a.shape])
    return Expr.make("adj", (a,), NO_PARAMS, a.shape)


def adjugate_value(b: np.ndarray, fac: Any) -> np.ndarray:
    """adj(B): det(B) B⁻¹ from the factorization of a well-conditioned matrix, else from the
    SVD (:func:`~kronvec.maps.adjugate.adjugate_by_svd`; always for a stack)."""
    if b.ndim > 2:
        return _stack_adjugate(b)
    if fac.rcond() > _SQRT_EPS:
        sign, logabs = fac.logabsdet()
        result: np.ndarray = sign * np.exp(logabs) * fac.inverse()
        return result
    return adjugate_by_svd(b)


def _stack_adjugate(b: np.ndarray) -> np.ndarray:
    """det(Bᵢ) Bᵢ⁻¹ for the well-conditioned members (batched inverses), the SVD for the others."""
    try:
        inverse = np.linalg.inv(b)
    except np.linalg.LinAlgError:  # an exactly singular member
        return adjugate_by_svd(b)
    sign, logabs = np.linalg.slogdet(b)
    out = (sign * np.exp(logabs))[..., None, None] * inverse
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        rcond = 1.0 / (np.abs(b).sum(axis=-2).max(axis=-1) * np.abs(inverse).sum(axis=-2).max(axis=-1))
    bad = ~(rcond > _SQRT_EPS)
    if bad.any():
        out[bad] = adjugate_by_svd(b[bad])
    result: np.ndarray = out
    return result


def _as_product(printer: PrintContext, e: Expr) -> tuple[str, int]:
    """adj(A) printed as det(A) A⁻¹ (a product of the two nodes, built without simplifying)."""
    a = e.args[0]
    det, inv = registry.function("det")(a), registry.function("inv")(a)
    return printer.render(Expr.make("smul", (det, inv), NO_PARAMS, e.shape))


def _adj_code(g: CodeContext, e: Expr, a: str) -> str:
    """det(A)·A⁻¹ from the factors of A (as the product was written before)."""
    f = g.factor(e.args[0])
    det = g.let(g.backend.det(g, f), hint="det")
    spread = "[..., None, None]" if e.ndim > 2 else ""
    return f"{det}{spread} * {g.backend.inverse(g, f, False)}"


ADJ = register(
    "adj", function=adj, stacks=True,
    evaluate=lambda ev, e: ev.op(adjugate_value, ev(e.args[0]), ev.factorization(e.args[0])),
    code=_adj_code,
    jvp=lambda node, i: AdjugateFrechetMap(node.args[0], node.args[0].shape),
    transpose=through(0),  # adj(A)ᵀ = adj(Aᵀ)
    printing=Printing(_as_product, _as_product, _as_product),
    doc="the adjugate det(A) A⁻¹ (the gradient of det; defined at singular A)",
)


def adj_frechet(a: Operand, h: Operand) -> Expr:
    """d adj(A)[H], the derivative of the adjugate at A along H (linear in H; any A)."""
    a, h = as_expr(a), as_expr(h)
    if h.shape != a.shape:
        raise ValueError(f"adj_frechet: A and H must have the same shape, got {fmt(a.shape)} and "
                         f"{fmt(h.shape)}")
    if h.op == "zeros":
        return h
    return Expr.make("adj_frechet", (a, h), NO_PARAMS, a.shape)


def _adj_frechet_jvp(node: Expr, i: int) -> Any:
    a, h = node.args
    if i == 1:
        return AdjugateFrechetMap(a, node.shape)
    if node.ndim > 2:
        raise NotImplementedError(f"adj_frechet: third derivatives of det of stacks of matrices are not "
                                  f"supported (got shape {fmt(node.shape)})")
    # at an invertible A, d adj(A)[H] = tr(A⁻¹H) adj(A) − adj(A) H A⁻¹; its derivative along K:
    # −tr(A⁻¹KA⁻¹H) adj(A) + d adj(A)[K] (tr(A⁻¹H) I − H A⁻¹) + adj(A) H A⁻¹ K A⁻¹
    shape, ai = a.shape, inv(a)
    tr_h = registry.function("trace")(ai @ h)
    outer = TraceMap(scale(-1.0, ai @ h @ ai), adj(a), shape, shape)
    right = add(smul(tr_h, eye(shape[0])), scale(-1.0, h @ ai))
    return add_maps(outer, compose(KronMap(None, right, shape, shape), AdjugateFrechetMap(a, shape)),
                    KronMap(adj(a) @ h @ ai, ai, shape, shape))


def _adj_frechet_other(g: CodeContext, e: Expr, a: str, h: str) -> str:
    """det(A) (tr(A⁻¹H) A⁻¹ − A⁻¹ H A⁻¹) for an invertible matrix (JAX, PyTorch)."""
    if e.ndim > 2:
        g.unsupported("the derivative of the adjugate of a stack")
    inv = g.let(f"{g.array_module}.linalg.inv({a})", hint="inv")
    module = g.array_module
    return f"{module}.linalg.det({a}) * ({module}.trace({inv} @ {h}) * {inv} - {inv} @ {h} @ {inv})"


register(
    "adj_frechet", function=adj_frechet, stacks=True,
    evaluate=lambda ev, e: ev.op(adjugate_frechet, ev(e.args[0]), ev(e.args[1])),
    code=code_for(numpy=lambda g, e, a, h: f"{g.helper('adjugate_frechet', adjugate_frechet)}({a}, {h})",
                  other=_adj_frechet_other),
    jvp=_adj_frechet_jvp,
    transpose=through(),  # (d adj(A)[H])ᵀ = d adj(Aᵀ)[Hᵀ]
    printing=call_printing("L_adj", r"\operatorname{L_{adj}}", "adj_frechet"),
    doc="the derivative d adj(A)[H] of the adjugate (appears in Hessians of det)",
)
