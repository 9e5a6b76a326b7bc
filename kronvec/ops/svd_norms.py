"""The matrix norms that go through the SVD: the nuclear norm and the spectral norm.

With A = U diag(s) Vᵀ (reduced), ‖A‖_* = Σᵢ sᵢ and ‖A‖₂ = s₁, so
d‖A‖_* = tr(V Uᵀ dA) and d‖A‖₂ = u₁ᵀ dA v₁: each JVP is one
:class:`~kronvec.maps.TraceMap` with the factors of the SVD (``svd_U``, ``svd_Vt``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..contexts import CodeContext
from ..dims import BASE
from ..errors import ShapeError
from ..expr import Expr, NO_PARAMS, Operand, as_expr
from .. import registry
from ..maps import KronMap
from ..maps.algebra import add_maps
from ..maps.algebra import compose
from ..maps.members import member_trace_map
from ..maps.polar import PolarFrechetMap, norm_gradient_value
from ..maps.polar import polar_frechet as polar_frechet_value
from ..registry import Params, Prec, Printing, register
from ..shapes import fmt
from ._code_templates import code_for
from ._evaluation_rules import lift, with_node
from ._printing_rules import call_printing
from ._structure_rules import through
from .leaves import Constant
from .products import matmul, matrix_transpose
from .spectral import svd_parts

__all__ = ["nuclear_norm", "spectral_norm"]



# ---------------------------------------------------- norms through the SVD
def nuclear_norm(a: Operand) -> Expr:
    """‖A‖_* = Σᵢ sᵢ (``kv.norm(A, "nuc")``); d‖A‖_* = tr(V Uᵀ dA), so its gradient is U Vᵀ.

    Where A is not of full rank, the gradient is U_r V_rᵀ over the nonzero singular values
    (the minimum-norm subgradient, 0 at A = 0).  Its derivative (the Hessian) is that of the
    polar factor A (AᵀA)^{-½}, exact at repeated singular values; where the rank is not full
    it does not exist and raises ``kv.DegenerateError``.
    """
    a = as_expr(a)
    return Expr.make("nuclear_norm", (a,), NO_PARAMS, _norm_shape("nuclear norm", a))


def spectral_norm(a: Operand) -> Expr:
    """‖A‖₂ = s₁, the largest singular value (``kv.norm(A, 2)``); d‖A‖₂ = u₁ᵀ dA v₁.

    Its gradient u₁v₁ᵀ is the derivative where s₁ > s₂; at a repeated largest
    singular value it is the mean of uᵢvᵢᵀ over the tied ones (ties split evenly),
    and 0 at A = 0: the minimum-norm subgradients.
    """
    a = as_expr(a)
    return Expr.make("spectral_norm", (a,), NO_PARAMS, _norm_shape("spectral norm", a))


def _norm_shape(what: str, a: Expr) -> tuple[int, ...]:
    """``()`` for a matrix, the stack axes for a stack (a norm per member)."""
    if a.ndim < 2:
        raise ShapeError(f"{what}: needs a matrix, got shape {fmt(a.shape)}")
    return a.shape[:-2]


def _first(k: int) -> Expr:
    """e₁, the first column of I_k (for a size k given as a name, a 1 placed into zeros)."""
    if k >= BASE:
        return registry.function("place")(Constant(1.0), range(1), range(1), (k, 1)).named("e₁")
    e1 = np.zeros((k, 1))
    e1[0, 0] = 1.0
    return Constant(e1, "e₁")


def _nuclear_jvp(node: Expr, i: int) -> Any:
    a = node.args[0]
    return member_trace_map(matrix_transpose(norm_gradient(a, "nuc")), Constant(1.0), a.shape, node.shape)


def _spectral_jvp(node: Expr, i: int) -> Any:
    a = node.args[0]
    return member_trace_map(matrix_transpose(norm_gradient(a, "2")), Constant(1.0), a.shape, node.shape)


# ------------------------------------------- the gradients, with their choices at kinks
def norm_gradient(a: Operand, kind: str) -> Expr:
    """∇‖A‖_* = U_r V_rᵀ (``kind="nuc"``) or ∇‖A‖₂ = the mean of uᵢvᵢᵀ over the singular values
    tied with s₁ (``kind="2"``): the minimum-norm subgradients, 0 at A = 0
    (:func:`~kronvec.maps.polar.norm_gradient_value`)."""
    a = as_expr(a)
    return Expr.make("norm_gradient", (a,), Params(kind=kind), a.shape)


def _svd_form(a: Expr, kind: str) -> Expr:
    """U Vᵀ or U e₁e₁ᵀ Vᵀ from the SVD nodes: how the gradient prints and, for ‖A‖₂, differentiates."""
    U, _, Vt, _, k = svd_parts(a)
    if kind == "nuc":
        return matmul(U, Vt)
    e1 = _first(k)
    return matmul(U, e1, e1.T, Vt)


def _norm_gradient_jvp(node: Expr, i: int) -> Any:
    a = node.args[0]
    if node.params.kind == "nuc":  # d(U Vᵀ), exact at repeated singular values
        return PolarFrechetMap(a, a.shape)
    # d(u₁v₁ᵀ) = du₁ v₁ᵀ + u₁ dv₁ᵀ (where s₁ > s₂; the SVD's rules raise at a tie)
    U, _, Vt, _, k = svd_parts(a)
    e1 = _first(k)
    u_jvp, vt_jvp = registry.spec("svd_U").jvp, registry.spec("svd_Vt").jvp
    assert u_jvp is not None and vt_jvp is not None, "the SVD's factors have JVP rules"
    through_u = compose(KronMap(None, matmul(e1, e1.T, Vt), U.shape, a.shape), u_jvp(U, 0))
    through_v = compose(KronMap(matmul(U, e1, e1.T), None, Vt.shape, a.shape), vt_jvp(Vt, 0))
    return add_maps(through_u, through_v)


def _norm_gradient_code(g: CodeContext, e: Expr, a: str) -> str:
    if g.name == "numpy":
        return f"{g.helper('norm_gradient', norm_gradient_value)}({e.params.kind!r}, {a})"
    keep = "keepdim" if g.name == "torch" else "keepdims"
    tol = f"max({a}.shape[-2:]) * {float(np.finfo(float).eps)!r} * s[..., :1]"
    count = f"((s >= s[..., :1] - {tol}) * 1.0).sum(-1, {keep}=True)"
    weights = f"(s > {tol}) * 1.0" if e.params.kind == "nuc" else \
        f"(((s >= s[..., :1] - {tol}) & (s[..., :1] > 0)) * 1.0) / ({count}).clip(1.0)"
    svd = f"{g.linalg_module}.svd({a}, full_matrices=False)"
    return f"(lambda u, s, vt: (u * ({weights})[..., None, :]) @ vt)(*{svd})"


register(
    "norm_gradient", function=norm_gradient, params=("kind",), stacks=True,
    evaluate=with_node(lambda n, x: norm_gradient_value(n.params.kind, x)), code=_norm_gradient_code,
    jvp=_norm_gradient_jvp,
    printing=Printing(*(lambda printer, e: printer.render(_svd_form(e.args[0], e.params.kind)),) * 3),
    doc="the gradient of the nuclear (U_r V_rᵀ) or spectral norm (the mean of uᵢvᵢᵀ over ties of s₁)",
)


def _matrix_norm(x: np.ndarray, order: Any) -> Any:
    """The norm of a matrix (a float), or of each member of a stack."""
    return float(np.linalg.norm(x, order)) if x.ndim == 2 else np.linalg.norm(x, order, axis=(-2, -1))


register(
    "nuclear_norm", function=nuclear_norm, stacks=True,
    evaluate=with_node(lambda n, x: _matrix_norm(x, "nuc")), code="{la}.norm({0}, 'nuc')",
    jvp=_nuclear_jvp,
    printing=Printing(lambda printer, e: (printer.s.norm(printer(e.args[0])) + "_*", Prec.ATOM),
                      lambda printer, e: (r"\left\|" + printer(e.args[0]) + r"\right\|_*", Prec.ATOM),
                      lambda printer, e: (f"norm({printer(e.args[0])}, ord='nuc')", Prec.ATOM)),
    identity=("‖{arg}‖_* = Σ sᵢ ⇒ d‖{arg}‖_* = Σ uᵢᵀ d{arg} vᵢ = tr(V Uᵀ d{arg})",
              r"\mathrm{{d}}\|{arg}\|_* = \operatorname{{tr}}(V U^{{\top}} \mathrm{{d}}{arg})"),
    doc="the nuclear norm ‖A‖_* (the sum of the singular values)",
)
register(
    "spectral_norm", function=spectral_norm, stacks=True,
    evaluate=with_node(lambda n, x: _matrix_norm(x, 2)), code="{la}.norm({0}, 2)",
    jvp=_spectral_jvp,
    printing=Printing(lambda printer, e: (printer.s.norm(printer(e.args[0])) + "₂", Prec.ATOM),
                      lambda printer, e: (r"\left\|" + printer(e.args[0]) + r"\right\|_2", Prec.ATOM),
                      lambda printer, e: (f"norm({printer(e.args[0])}, ord=2)", Prec.ATOM)),
    identity=("‖{arg}‖₂ = s₁ ⇒ d‖{arg}‖₂ = u₁ᵀ d{arg} v₁", r"\mathrm{{d}}\|{arg}\|_2 = u_1^{{\top}} "
              r"\mathrm{{d}}{arg}\, v_1"),
    doc="the spectral norm ‖A‖₂ (the largest singular value)",
)


def polar_frechet(a: Operand, h: Operand) -> Expr:
    """d(U Vᵀ)[H], the derivative of the nuclear norm's gradient at A along H (linear in H)."""
    a, h = as_expr(a), as_expr(h)
    if h.shape != a.shape:
        raise ShapeError(f"polar_frechet: A and H must have the same shape, got {fmt(a.shape)} and "
                         f"{fmt(h.shape)}")
    return Expr.make("polar_frechet", (a, h), NO_PARAMS, a.shape)


def _polar_frechet_code(g: CodeContext, e: Expr, a: str, h: str) -> str:
    """U Ω Vᵀ (+ the terms of a rectangular A) from the SVD, for JAX and PyTorch (matrices)."""
    if e.ndim > 2:
        g.unsupported("the derivative of the nuclear norm's gradient of a stack")
    svd = g.let(f"{g.linalg_module}.svd({a}, full_matrices=False)", hint="svd")
    u, s, vt = f"{svd}[0]", f"{svd}[1]", f"{svd}[2]"
    inner = g.let(f"{u}.T @ {h} @ {vt}.T", hint="E")
    out = f"{u} @ (({inner} - {inner}.T) / ({s}[:, None] + {s}[None, :])) @ {vt}"
    m, n = e.shape
    if m > n:
        out += f" + (({h} @ {vt}.T - {u} @ {inner}) / {s}[None, :]) @ {vt}"
    elif n > m:
        out += f" + {u} @ (({u}.T @ {h} - {inner} @ {vt}) / {s}[:, None])"
    return out


def _polar_frechet_jvp(node: Expr, i: int) -> Any:
    if i == 0:
        raise NotImplementedError("third derivatives of the nuclear norm (the derivative of "
                                  "polar_frechet(A, H) in A) are not supported")
    return PolarFrechetMap(node.args[0], node.shape)


register(
    "polar_frechet", function=polar_frechet, stacks=True,
    evaluate=lift(polar_frechet_value),
    code=code_for(numpy=lambda g, e, a, h: f"{g.helper('polar_frechet', polar_frechet_value)}({a}, {h})",
                  other=lambda g, e, a, h: _polar_frechet_code(g, e, a, h)),
    jvp=_polar_frechet_jvp,
    transpose=through(),  # G(Aᵀ) = G(A)ᵀ
    printing=call_printing("L_polar", r"\operatorname{L_{polar}}", "polar_frechet"),
    doc="the derivative d(U Vᵀ)[H] of the nuclear norm's gradient (in its Hessians)",
)
