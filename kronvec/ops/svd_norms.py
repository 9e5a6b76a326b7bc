"""The matrix norms that go through the SVD: the nuclear norm and the spectral norm.

With A = U diag(s) Vᵀ (reduced), ‖A‖_* = Σᵢ sᵢ and ‖A‖₂ = s₁, so
d‖A‖_* = tr(V Uᵀ dA) and d‖A‖₂ = u₁ᵀ dA v₁: each JVP is one
:class:`~kronvec.maps.TraceMap` with the factors of the SVD (``svd_U``, ``svd_Vt``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ShapeError
from ..expr import Expr, NO_PARAMS, as_expr
from ..maps import TraceMap
from ..registry import Prec, Printing, register
from ..shapes import fmt
from ._common import with_node
from .leaves import Constant
from .products import matmul, transpose
from .spectral import svd_parts

__all__ = ["nuclear_norm", "spectral_norm"]

FAMILY = "spectral"


# ---------------------------------------------------- norms through the SVD
def nuclear_norm(a: Any) -> Expr:
    """‖A‖_* = Σᵢ sᵢ (``kv.norm(A, "nuc")``); d‖A‖_* = tr(V Uᵀ dA), so its gradient is U Vᵀ."""
    a = as_expr(a)
    return Expr.make("nuclear_norm", (a,), NO_PARAMS, _norm_shape("nuclear norm", a))


def spectral_norm(a: Any) -> Expr:
    """‖A‖₂ = s₁, the largest singular value (``kv.norm(A, 2)``); d‖A‖₂ = u₁ᵀ dA v₁.

    Its gradient u₁v₁ᵀ is the derivative where s₁ > s₂; at a repeated largest
    singular value it is one subgradient (the pair LAPACK returns).
    """
    a = as_expr(a)
    return Expr.make("spectral_norm", (a,), NO_PARAMS, _norm_shape("spectral norm", a))


def _norm_shape(what: str, a: Expr) -> tuple[int, ...]:
    """``()`` for a matrix, the stack axes for a stack (a norm per member)."""
    if a.ndim < 2:
        raise ShapeError(f"{what}: needs a matrix, got shape {fmt(a.shape)}")
    return a.shape[:-2]


def _first(k: int) -> Expr:
    e1 = np.zeros((k, 1))
    e1[0, 0] = 1.0
    return Constant(e1, "e₁")


def _nuclear_jvp(node: Expr, i: int) -> Any:
    U, _, Vt, _, _ = svd_parts(node.args[0])
    return TraceMap(transpose(matmul(U, Vt)), Constant(1.0), node.args[0].shape, _per_member(node))


def _spectral_jvp(node: Expr, i: int) -> Any:
    U, _, Vt, _, k = svd_parts(node.args[0])
    e1 = _first(k)
    return TraceMap(transpose(matmul(U, e1, e1.T, Vt)), Constant(1.0), node.args[0].shape, _per_member(node))


def _per_member(node: Expr) -> tuple[int, ...]:
    if node.ndim > 1:
        raise NotImplementedError(f"the derivative of the {node.op} of a stack with several stack axes: "
                                  f"reshape the stack to one stack axis")
    return node.shape


def _matrix_norm(x: np.ndarray, order: Any) -> Any:
    """The norm of a matrix (a float), or of each member of a stack."""
    return float(np.linalg.norm(x, order)) if x.ndim == 2 else np.linalg.norm(x, order, axis=(-2, -1))


register(
    "nuclear_norm", FAMILY, function=nuclear_norm, stacks=True,
    evaluate=with_node(lambda n, x: _matrix_norm(x, "nuc")), code="{la}.norm({0}, 'nuc')",
    jvp=_nuclear_jvp,
    printing=Printing(lambda p, e: (p.s.norm(p(e.args[0])) + "_*", Prec.ATOM),
                      lambda p, e: (r"\left\|" + p(e.args[0]) + r"\right\|_*", Prec.ATOM),
                      lambda p, e: (f"norm({p(e.args[0])}, ord='nuc')", Prec.ATOM)),
    identity=("‖{arg}‖_* = Σ sᵢ ⇒ d‖{arg}‖_* = Σ uᵢᵀ d{arg} vᵢ = tr(V Uᵀ d{arg})",
              r"\mathrm{{d}}\|{arg}\|_* = \operatorname{{tr}}(V U^{{\top}} \mathrm{{d}}{arg})"),
    doc="the nuclear norm ‖A‖_* (the sum of the singular values)",
)
register(
    "spectral_norm", FAMILY, function=spectral_norm, stacks=True,
    evaluate=with_node(lambda n, x: _matrix_norm(x, 2)), code="{la}.norm({0}, 2)",
    jvp=_spectral_jvp,
    printing=Printing(lambda p, e: (p.s.norm(p(e.args[0])) + "₂", Prec.ATOM),
                      lambda p, e: (r"\left\|" + p(e.args[0]) + r"\right\|_2", Prec.ATOM),
                      lambda p, e: (f"norm({p(e.args[0])}, ord=2)", Prec.ATOM)),
    identity=("‖{arg}‖₂ = s₁ ⇒ d‖{arg}‖₂ = u₁ᵀ d{arg} v₁", r"\mathrm{{d}}\|{arg}\|_2 = u_1^{{\top}} "
              r"\mathrm{{d}}{arg}\, v_1"),
    doc="the spectral norm ‖A‖₂ (the largest singular value)",
)
