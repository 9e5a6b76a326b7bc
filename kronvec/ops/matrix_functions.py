"""Matrix functions: the matrix exponential and its Fréchet derivative."""
from __future__ import annotations

from typing import Any

import scipy.linalg as sla

from ..errors import ShapeError
from ..expr import Expr, as_expr
from ..maps import ExpmFrechetMap
from ..registry import Params, Transpose, register
from ..shapes import fmt
from ._common import call_printing, lift
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
    return Expr.make("expm", (a,), Params(), a.shape)


EXPM = register(
    "expm", FAMILY, public="expm", function=expm, signature="(n,n)->(n,n)",
    evaluate=lift(sla.expm),
    jvp=lambda node, i: ExpmFrechetMap(node.args[0], node.shape),
    transpose=Transpose((0,), lambda node, t: Expr.make("expm", (t[0],), node.params, node.shape)),
    printing=call_printing("expm", r"\operatorname{expm}", "expm"),
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
    return Expr.make("expm_frechet", (a, e), Params(), a.shape)


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
