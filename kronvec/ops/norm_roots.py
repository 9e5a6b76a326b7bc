"""Powers of norms that are 0 where the norm is 0: the chain rule through a norm at a zero argument.

The gradient of ‖A‖ is A/‖A‖ and that of a norm along an axis, (Σ aᵢ²)^½, is
a ⊙ ½(Σ aᵢ²)^{-½} · 2: finite everywhere but at a zero argument (or a zero
column), where the quotient is 0/0.  There the norm has no derivative, and the
contract's choice is 0, the minimum-norm subgradient.  ``power0(x, p)`` is xᵖ for
x > 0 and 0 at x = 0 for every p, so the same formulas give that choice; it is
only applied to norms and sums of squares (x ≥ 0), and it prints as the power.
Its derivative is p·power0(x, p − 1), again 0 at x = 0 for p > 0; for p < 0 (second
derivatives of a norm) it raises ``kv.DegenerateError`` at x = 0, where none exists.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..contexts import PrintContext, CodeContext
from ..errors import DegenerateError
from ..expr import Expr, Operand, as_expr
from ..registry import Params, Printing, Transpose, register
from ._evaluation_rules import with_node
from ._jvp_rules import elementwise_jvp
from ._structure_rules import transposed_alike
from .arithmetic import power, scale

__all__ = ["power0"]



def power0(x: Operand, p: float, strict: bool = False) -> Expr:
    """xᵖ elementwise for a nonnegative x (a norm, a sum of squares), and 0 where x = 0;
    ``strict``: raise ``kv.DegenerateError`` at x = 0 instead (a second derivative of a norm
    at a zero argument, which does not exist)."""
    x = as_expr(x)
    if p == 1.0:
        return x
    return Expr.make("power0", (x,), Params(exponent=float(p), strict=bool(strict)), x.shape)


def _derivative(n: Expr) -> Expr:
    """p·x^(p−1): past the first derivative of a norm (p < 0), at a zero norm it does not exist."""
    p = n.params.exponent
    return scale(p, power0(n.args[0], p - 1.0, strict=n.params.strict or p < 0))


def _value(node: Expr, x: Any) -> Any:
    p = node.params.exponent
    if node.params.strict and np.any(np.asarray(x) == 0):
        raise DegenerateError("norm: no second derivative at a zero argument (a zero matrix, column or "
                              "member): the norm has a kink there")
    positive = np.asarray(x) > 0
    out = np.where(positive, np.where(positive, x, 1.0) ** p, 0.0)
    return float(out) if np.ndim(out) == 0 else out


def _as_power(printer: PrintContext, e: Expr) -> tuple[str, int]:
    """Printed as the power it stands for (sqrt(x), x⁻¹, x∘⁻⁰·⁵, ...)."""
    return printer.render(power(e.args[0], e.params.exponent))


def _code(g: CodeContext, e: Expr, x: str) -> str:
    module = g.array_module
    return f"{module}.where({x} > 0, {module}.where({x} > 0, {x}, 1.0) ** {e.params.exponent!r}, 0.0)"


register(
    "power0", function=power0, params=("exponent", "strict"), stacks=True,
    evaluate=with_node(_value), code=_code,
    jvp=elementwise_jvp(_derivative),
    transpose=Transpose((0,), transposed_alike),
    printing=Printing(_as_power, _as_power, _as_power),
    doc="xᵖ of a norm or a sum of squares, 0 where it is 0 (gradients of norms at a zero argument)",
)
