"""The eigenvalues held fixed inside g of V diag(g) Vᵀ, where g = φ(w, θ) also depends on other variables.

For F(A, θ) = V diag(φ(w, θ)) Vᵀ (w = eigvalsh(A), θ anything else: another symbol, a
scalar of A such as its trace) the derivative splits into the matrix function φ(·, θ)
of A at fixed θ and the move of θ at fixed A:

    dF = V (Γ ⊙ Vᵀ dAₛ V) Vᵀ + V diag(∂θφ(w, θ) dθ) Vᵀ,   Γᵢⱼ = φ[wᵢ, wⱼ] at fixed θ.

Both terms exist where eigenvalues repeat, and so do their derivatives (Daleckii–Krein),
while the split of ``eigfun(A, g)`` by its arguments (A with g fixed, then g with the
part through w) does not: each half depends on the basis ``eigh`` picks inside a tied
group.  So ``eigfun`` writes g with w replaced by this node, whose value is w and whose
derivative is zero: the derivative of ``eigfun`` in A is then all of the first term, and
its derivative in g the second.  The node appears only inside g of ``eigfun`` and of its
derivative nodes, whose rules hold w's part.
"""
from __future__ import annotations

from operator import itemgetter
from typing import Any

from ..contexts import CodeContext, EvaluationContext
from ..expr import Expr
from ..maps import ZeroMap
from ..registry import Params, Prec, Printing, register
from ..shapes import stack_of
from ._code_templates import code_eigh
from ._printing_rules import func_print
from .spectral import eigh_pair

__all__ = ["held_eigenvalues"]


def held_eigenvalues(a: Expr, uplo: str) -> Expr:
    """w = eigvalsh(A, UPLO) as a value whose derivative is zero: the eigenvalues inside g of
    ``eigfun(A, g)`` when g depends on other variables too (module docstring)."""
    return Expr.make("eigvalsh_held", (a,), Params(UPLO=uplo), stack_of(a.shape) + (a.shape[-1], 1))


def _held_value(ev: EvaluationContext, e: Expr) -> Any:
    return ev.op(itemgetter(0), eigh_pair(ev, e.args[0], e.params.UPLO))


def _held_code(g: CodeContext, e: Expr, a: str) -> str:
    return f"{code_eigh(g, a, e.params.UPLO)}[0][..., None]"


def _held_python(p: Any, e: Expr) -> tuple[str, int]:
    extra = ", UPLO='U'" if e.params.UPLO == "U" else ""
    return f"eigvalsh({p(e.args[0])}{extra})", Prec.ATOM


register(
    "eigvalsh_held", function=held_eigenvalues, params=("UPLO",), stacks=True,
    evaluate=_held_value, code=_held_code,
    jvp=lambda node, i: ZeroMap(node.args[0].shape, node.shape),
    printing=Printing(func_print("λ"), func_print(r"\lambda"), _held_python),
    rebuild=lambda node, args: held_eigenvalues(args[0], node.params.UPLO),
    doc="the eigenvalues w inside g of V diag(g) Vᵀ, held fixed (the derivative in A is eigfun's own)",
)
