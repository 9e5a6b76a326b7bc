"""Matrix functions: the matrix exponential and its Fréchet derivative."""
from __future__ import annotations

from typing import Any

import scipy.linalg as sla

from ..errors import ShapeError
from ..expr import Expr, NO_PARAMS, as_expr
from ..maps import ExpmFrechetMap
from ..registry import Prec, Printing, Transpose, register
from ..shapes import fmt
from ._common import call_printing, lift, py_call
from .arithmetic import scale
from .leaves import identity

__all__ = ["expm", "expm_frechet"]

FAMILY = "matrix_functions"


def expm(a: Any) -> Expr:
    """The matrix exponential e^A = Σₖ Aᵏ/k!.

    Its derivative is the Fréchet derivative d e^A = L(A, dA), a lazy map whose
    adjoint is L(Aᵀ, ·).
    """
    a = as_expr(a)
    EXPM.signature.check("expm", [a.shape])
    if a.op == "zeros":
        return identity(a.shape[0])
    return Expr.make("expm", (a,), NO_PARAMS, a.shape)


def _print_expm(p: Any, e: Expr) -> tuple[str, int]:
    """expm(A), and expm(A)ᵀ for e^(Aᵀ) = (e^A)ᵀ."""
    arg = e.args[0]
    name = r"\operatorname{expm}" if p.s.latex else "expm"
    if arg.op == "transpose" and arg not in p.names:
        return p.s.func(name, p(arg.args[0])) + p.s.transpose, Prec.POSTFIX
    return p.s.func(name, p(arg)), Prec.ATOM


EXPM = register(
    "expm", FAMILY, public="expm", function=expm, signature="(n,n)->(n,n)",
    evaluate=lift(sla.expm),
    jvp=lambda node, i: ExpmFrechetMap(node.args[0], node.shape),
    transpose=Transpose((0,), lambda node, t: Expr.make("expm", (t[0],), node.params, node.shape)),
    printing=Printing(_print_expm, _print_expm, py_call("expm")),
    doc="the matrix exponential e^A",
)


def expm_frechet(a: Any, e: Any) -> Expr:
    """L(A, E): the Fréchet derivative of e^A in the direction E.

    ``d expm(A) = L(A, dA)``; its adjoint is L(Aᵀ, ·).
    """
    a, e = as_expr(a), as_expr(e)
    EXPM.signature.check("expm_frechet", [a.shape])
    if e.shape != a.shape:
        raise ShapeError(f"expm_frechet: shapes {fmt(a.shape)} and {fmt(e.shape)} differ")
    if e.op == "zeros":
        return e
    if e.op == "identity":  # A commutes with I: L(A, I) = ∫ e^{sA} e^{(1-s)A} ds = e^A
        return expm(a)
    if e.op == "scale" and e.args[0].op == "identity":
        return scale(e.params.coef, expm(a))
    return Expr.make("expm_frechet", (a, e), NO_PARAMS, a.shape)


def _expm_frechet_jvp(node: Expr, i: int) -> Any:
    if i == 1:
        return ExpmFrechetMap(node.args[0], node.shape)
    raise NotImplementedError("second derivatives through expm (the derivative of the "
                              "Fréchet derivative in A) are not supported")


register(
    "expm_frechet", FAMILY, function=expm_frechet,
    evaluate=lift(lambda a, h: sla.expm_frechet(a, h, compute_expm=False, check_finite=False)),
    jvp=_expm_frechet_jvp,
    printing=call_printing("L_expm", r"\operatorname{L_expm}", "expm_frechet"),
    doc="the Fréchet derivative L(A, E) of expm (appears in derivatives of expm)",
)
