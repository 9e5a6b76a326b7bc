"""Derivatives of V diag(g) Vᵀ with g = φ(w) a function of the eigenvalues, as nodes: first and second order.

``eigfun(A, g)`` with g depending on no variable except through w = eigvalsh(A) (a matrix
function V f(w) Vᵀ written by hand, the spectral projector of whole tied groups) is a
function of A alone, and so are its derivatives (Daleckii–Krein, see
:mod:`kronvec.maps.eigen_frechet`):

* ``eigfun_frechet(A, g, E)`` = L(A, E) = V (Γ ⊙ Vᵀ E V) Vᵀ, Γᵢⱼ = φ[wᵢ, wⱼ], what a
  gradient through eigfun holds;
* ``eigfun_frechet2(A, g, H, E)`` = L²(A; H, E), the derivative of L(A, E) in A (along H),
  what a Hessian applies.

Neither depends on the basis ``eigh`` picks inside a tied group, so both are evaluated and
differentiated where eigenvalues repeat; where g is not one value on a tied group (a
projector onto part of it) they raise :class:`~kronvec.DegenerateError` naming the group.
Third derivatives are not supported.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..contexts import CodeContext, EvaluationContext
from ..expr import Expr, as_expr
from ..maps import TraceMap, TriangleMap, ZeroMap
from ..maps.algebra import compose
from ..maps.eigen_frechet import (EigfunFrechetMap, EigfunSecondMap, frechet_value,
                                  second_divided_differences, second_frechet_value)
from ..registry import Params, Prec, Printing, register
from ..shapes import stack_of
from ._code_templates import code_second_divided_differences, code_second_frechet
from ._printing_rules import func_print, py_call
from .arithmetic import add
from .spectral import eigenvectors, eigvalsh
from .spectral_functions import (derivative_along, divdiff, elementwise_derivative, other_variables,
                                 spectral_derivative)
from .structure import diag

__all__ = ["eigfun_frechet", "eigfun_frechet2"]


def _derivatives(a: Expr, g: Expr, uplo: str, order: int) -> tuple[Expr, ...]:
    """(w, g', g'') (up to ``order``) for g = φ(w), w = eigvalsh(A): NotImplementedError where g is
    not such a function (the nodes are built for those only)."""
    w = eigvalsh(a, uplo)
    out = [w]
    moving = bool(other_variables(a, g, uplo))  # g = φ(w, θ): its derivatives in w at fixed θ
    for _ in range(order):
        x = out[-1] if len(out) > 1 else g
        d = elementwise_derivative(x, w) if moving else spectral_derivative(x, w)
        if d is None:
            raise NotImplementedError(f"eigh: the derivative of V diag(g) Vᵀ of order {len(out) + 1} needs g "
                                      f"as an elementwise function of the eigenvalues only")
        out.append(d)
    return tuple(out)


def _mirror(uplo: str) -> str:
    return "mirror_lower" if uplo == "L" else "mirror_upper"


# ------------------------------------------------------------ eigfun_frechet
def eigfun_frechet(a: Any, g: Any, e: Any, UPLO: str = "L") -> Expr:
    """L(A, E) = V (Γ ⊙ Vᵀ E V) Vᵀ, the derivative of V diag(g) Vᵀ in A along E (Γᵢⱼ = φ[wᵢ, wⱼ])."""
    a, g, e = as_expr(a), as_expr(g), as_expr(e)
    if e.op == "zeros":
        return e
    return Expr.make("eigfun_frechet", (a, g, e) + other_variables(a, g, UPLO), Params(UPLO=UPLO), a.shape)


def _gamma(a: Expr, g: Expr, uplo: str) -> Expr:
    """Γ = φ[wᵢ, wⱼ] as an expression (divided differences, g'ᵢ on the diagonal and at ties)."""
    w, gp = _derivatives(a, g, uplo, 1)
    return add(divdiff(w, g, gp), diag(gp))


def _first_order_map(a: Expr, g: Expr, uplo: str) -> EigfunFrechetMap:
    return EigfunFrechetMap(a, g, uplo, eigenvectors(a, uplo), _gamma(a, g, uplo), a.shape)


def _second_order_map(a: Expr, g: Expr, e: Expr, uplo: str) -> Any:
    w, gp, gpp = _derivatives(a, g, uplo, 2)
    second = EigfunSecondMap(a, uplo, eigenvectors(a, uplo), w, g, gp, gpp, e, a.shape)
    return compose(second, TriangleMap(_mirror(uplo), a.shape[-1], stack_of(a.shape)))


def _frechet_jvp(node: Expr, i: int) -> Any:
    a, g, e = node.args[:3]
    uplo = node.params.UPLO
    if i == 0:
        return _second_order_map(a, g, e, uplo)
    if i == 1:  # g = φ(w) moves with A only (g = φ(w, θ) with A and the further arguments θ)
        return ZeroMap(g.shape, node.shape)
    if i > 2:  # dθ ↦ L_{∂φ/∂θ}(A, E) dθ: the divided differences of ∂φ/∂θ in place of φ's
        theta = node.args[i]
        return TraceMap(None, eigfun_frechet(a, derivative_along(g, theta), e, uplo), theta.shape, a.shape)
    return _first_order_map(a, g, uplo)


def _frechet_evaluate(ev: EvaluationContext, e: Expr) -> Any:
    a, g, x = e.args[:3]
    uplo = e.params.UPLO
    return ev.op(frechet_value, ev(eigenvectors(a, uplo)), ev(_gamma(a, g, uplo)), ev(x))


def _frechet_code(c: CodeContext, e: Expr, a: str, g: str, x: str, *thetas: str) -> str:
    """V (Γ ⊙ Vᵀ E V) Vᵀ with V and Γ computed as nodes (so every backend writes them)."""
    V = c.value(eigenvectors(e.args[0], e.params.UPLO))
    gamma = c.value(_gamma(e.args[0], e.args[1], e.params.UPLO))
    Vt = f"{V}.T" if len(e.shape) == 2 else f"{V}.swapaxes(-1, -2)"
    return f"{V} @ ({gamma} * ({Vt} @ {x} @ {V})) @ {Vt}"


def _print_three(name: str) -> Any:
    """``name(A, g, E)`` (the scalars θ of g = φ(w, θ), further arguments, follow from g)."""
    def printed(printer: Any, e: Expr) -> tuple[str, int]:
        return printer.s.func(name, *[printer(x) for x in e.args[:3]]), Prec.ATOM
    return printed


def _python_three(printer: Any, e: Expr) -> tuple[str, int]:
    return f"eigfun_frechet({', '.join(printer(x) for x in e.args[:3])})", Prec.ATOM


register(
    "eigfun_frechet", function=eigfun_frechet, params=("UPLO",), stacks=True,
    evaluate=_frechet_evaluate, code=_frechet_code, jvp=_frechet_jvp,
    printing=Printing(_print_three("L_eigfun"), _print_three(r"\operatorname{L_{eigfun}}"), _python_three),
    rebuild=lambda node, args: eigfun_frechet(args[0], args[1], args[2], UPLO=node.params.UPLO),
    identity=("L(A, E) = V (Γ ⊙ Vᵀ E V) Vᵀ, Γᵢⱼ = φ[wᵢ, wⱼ] ⇒ dL = V B Vᵀ, Bᵢⱼ = Σₖ φ[wᵢ, wₖ, wⱼ] "
              "(H'ᵢₖ E'ₖⱼ + E'ᵢₖ H'ₖⱼ), H' = Vᵀ d{arg} V (Daleckii–Krein)",
              r"\mathrm{{d}}L = V B V^{{\top}},\ B_{{ij}} = \sum_k \varphi[w_i, w_k, w_j] "
              r"(H'_{{ik}} E'_{{kj}} + E'_{{ik}} H'_{{kj}})"),
    doc="the Daleckii–Krein derivative L(A, E) of V diag(φ(w)) Vᵀ (in gradients through it)",
)


# ----------------------------------------------------------- eigfun_frechet2
def eigfun_frechet2(a: Any, g: Any, h: Any, e: Any, UPLO: str = "L") -> Expr:
    """L²(A; H, E), the derivative of L(A, E) = ``eigfun_frechet(A, g, E)`` in A along H."""
    a, g, h, e = as_expr(a), as_expr(g), as_expr(h), as_expr(e)
    if h.op == "zeros" or e.op == "zeros":
        return h if h.op == "zeros" else e
    return Expr.make("eigfun_frechet2", (a, g, h, e), Params(UPLO=UPLO), a.shape)


def _second_jvp(node: Expr, i: int) -> Any:
    a, g, h, e = node.args
    uplo = node.params.UPLO
    if i == 0:
        raise NotImplementedError("third derivatives through V diag(g) Vᵀ (the derivative of its second "
                                  "Daleckii–Krein derivative in A) are not supported")
    if i == 1 and other_variables(a, g, uplo):
        raise NotImplementedError("third derivatives through V diag(g) Vᵀ (the derivative of its second "
                                  "Daleckii–Krein derivative eigfun_frechet2 in g = φ(w, θ)) are not "
                                  "supported")
    if i == 1:
        return ZeroMap(g.shape, node.shape)
    w, gp, gpp = _derivatives(a, g, uplo, 2)
    other = e if i == 2 else h  # symmetric in H and E
    return EigfunSecondMap(a, uplo, eigenvectors(a, uplo), w, g, gp, gpp, other, a.shape)


def _second_value(V: np.ndarray, w: np.ndarray, g: np.ndarray, gp: np.ndarray, gpp: np.ndarray,
                  h: np.ndarray, e: np.ndarray) -> np.ndarray:
    return second_frechet_value(V, second_divided_differences(w, g, gp, gpp), h, e)


def _second_evaluate(ev: EvaluationContext, e: Expr) -> Any:
    a, g, h, x = e.args
    uplo = e.params.UPLO
    w, gp, gpp = _derivatives(a, g, uplo, 2)
    return ev.op(_second_value, ev(eigenvectors(a, uplo)), ev(w), ev(g), ev(gp), ev(gpp), ev(h), ev(x))


def _second_code(c: CodeContext, e: Expr, a: str, g: str, h: str, x: str) -> str:
    """L²(A; H, E): NumPy through the evaluator's functions (a tied group that g splits raises there);
    JAX and PyTorch with the same rule written out (:func:`code_second_divided_differences`)."""
    uplo = e.params.UPLO
    w, gp, gpp = _derivatives(e.args[0], e.args[1], uplo, 2)
    V = c.value(eigenvectors(e.args[0], uplo))
    if c.name != "numpy":
        T = code_second_divided_differences(c, c.value(w), g, c.value(gp), c.value(gpp))
        return code_second_frechet(c, V, T, h, x)
    T = f"{c.helper('second_divided_differences', second_divided_differences)}({c.value(w)}, {g}, " \
        f"{c.value(gp)}, {c.value(gpp)})"
    return f"{c.helper('eigfun_second_value', second_frechet_value)}({V}, {T}, {h}, {x})"


register(
    "eigfun_frechet2", function=eigfun_frechet2, params=("UPLO",), stacks=True,
    evaluate=_second_evaluate, code=_second_code, jvp=_second_jvp,
    printing=Printing(func_print("L²_eigfun"), func_print(r"\operatorname{L^2_{eigfun}}"),
                      py_call("eigfun_frechet2")),
    rebuild=lambda node, args: eigfun_frechet2(args[0], args[1], args[2], args[3], UPLO=node.params.UPLO),
    doc="the second Daleckii–Krein derivative L²(A; H, E) of V diag(φ(w)) Vᵀ (in Hessians through it)",
)
