"""Piecewise functions: abs, sign, heaviside, relu, maximum and minimum.

They are differentiable except on a set of measure zero (a kink).  At a kink
the derivative is the documented one-sided choice, never NaN:

* abs and relu have derivative 0 at 0 (d|A| = sign(A) ⊙ dA with sign(0) = 0;
  d relu(A) = heaviside(A, 0) ⊙ dA);
* sign and heaviside are piecewise constant: their derivative is 0;
* maximum and minimum split ties evenly: d maximum(A, B) = H ⊙ dA + (1 − H) ⊙ dB
  with H = heaviside(A − B, ½), so at A = B each argument gets half.

The binary ones broadcast their arguments as NumPy does (:mod:`.broadcasting`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..contexts import PrintContext, StyledPrintContext
from ..expr import Expr, NO_PARAMS, Operand, as_expr, as_operands, const_scalar
from ..maps import ElementwiseMap, ZeroMap
from ..registry import Params, Prec, Printing, inferring, register
from ._code_templates import code_for
from ._evaluation_rules import lift, with_node
from ._jvp_rules import map_shapes
from ._printing_rules import func_print, py_call, python_number
from ._structure_rules import through
from .arithmetic import add, scale
from .broadcasting import broadcast_all
from .elementwise import elementwise_node, register_elementwise

__all__ = ["abs", "sign", "heaviside", "relu", "maximum", "minimum"]



def _zero_jvp(node: Expr, i: int) -> ZeroMap:
    """The derivative of a piecewise constant function: 0 (also at its jumps, by choice)."""
    return ZeroMap(*map_shapes(node, i))


def _difference(a: Expr, b: Expr) -> Expr:
    return add(a, scale(-1.0, b))


# ------------------------------------------------------------------ sign
@inferring
def sign(a: Operand) -> Expr:
    """The elementwise sign, −1, 0 or 1 (NumPy's ``sign``); its derivative is 0
    (also at 0, where sign jumps)."""
    a = as_expr(a)
    return a if a.op == "sign" else elementwise_node("sign", a)


register("sign", public="sign", function=sign, signature="(...)->(...)",
         stacks=True,
         evaluate=lift(np.sign), jvp=_zero_jvp, code="{np}.sign({0})",
         transpose=through(0),
         printing=Printing(func_print("sign"), func_print(r"\operatorname{sign}"), py_call("sign")),
         doc="the elementwise sign (derivative 0)")


# ------------------------------------------------------------------- abs
@inferring
def abs(a: Operand) -> Expr:
    """The elementwise absolute value |Aᵢⱼ|; d abs(A) = sign(A) ⊙ dA, which is 0 at A = 0.

    Printed ``abs(A)``, since |A| is the determinant in the Matrix Cookbook's notation.
    """
    a = as_expr(a)
    return a if a.op == "abs" else elementwise_node("abs", a)


register_elementwise("abs", abs, np.abs, lambda n: sign(n.args[0]), r"\operatorname{abs}",
                     "the elementwise absolute value (derivative sign(A), 0 at 0)")


# ------------------------------------------------------------- heaviside
@inferring
def heaviside(x1: Operand, x2: float) -> Expr:
    """The step function as NumPy's ``heaviside``: 0 where x1 < 0, ``x2`` where x1 == 0,
    1 where x1 > 0 (``x2`` a number); its derivative is 0.

    It is the derivative of relu (x2 = 0) and, with x2 = ½, of maximum.
    """
    x1 = as_expr(x1)
    value = const_scalar(x1)
    if value is not None and x1.shape == ():
        return as_expr(float(np.heaviside(value, float(x2))))
    return Expr.make("heaviside", (x1,), Params(h0=float(x2)), x1.shape)


def _print_heaviside(name: str) -> Any:
    def print_heaviside(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
        return printer.s.func(name, printer(e.args[0]), printer.format_number(e.params.h0)), Prec.ATOM
    return print_heaviside


def _python_heaviside(printer: PrintContext, e: Expr) -> tuple[str, int]:
    return f"heaviside({printer(e.args[0])}, {python_number(e.params.h0)})", Prec.ATOM


register("heaviside", public="heaviside", function=heaviside, signature="(...),num->(...)",
         params=("h0",), stacks=True,
         evaluate=with_node(lambda n, x: np.heaviside(x, n.params.h0)), jvp=_zero_jvp,
         code=code_for(other="{np}.heaviside({0}, {n.params.h0!r})",
                       torch="({0} > 0).to({0}.dtype) + {n.params.h0!r} * ({0} == 0).to({0}.dtype)"),
         transpose=through(0),
         printing=Printing(_print_heaviside("heaviside"), _print_heaviside(r"\operatorname{heaviside}"),
                           _python_heaviside),
         doc="the step function (NumPy's heaviside(x1, x2); derivative 0)")


# ------------------------------------------------------------------ relu
@inferring
def relu(a: Operand) -> Expr:
    """max(A, 0) elementwise; d relu(A) = heaviside(A, 0) ⊙ dA, which is 0 at A = 0."""
    a = as_expr(a)
    return a if a.op == "relu" else elementwise_node("relu", a)


register_elementwise("relu", relu, lambda x: np.maximum(x, 0.0), lambda n: heaviside(n.args[0], 0.0),
                     r"\operatorname{relu}", "max(A, 0) elementwise (derivative 0 at 0)",
                     code=code_for(other="{np}.maximum({0}, 0.0)", torch="torch.relu({0})"))


# ------------------------------------------------------- maximum, minimum
@inferring
def maximum(a: Operand, b: Operand) -> Expr:
    """The elementwise maximum of A and B, broadcast as in NumPy (``np.maximum``).

    d maximum(A, B) = H ⊙ dA + H' ⊙ dB with H = heaviside(A − B, ½) and
    H' = heaviside(B − A, ½): ties split evenly.  maximum(A, 0) has the values of relu(A) but
    keeps the tie rule: its derivative at A = 0 is ½ (relu's is 0).
    """
    shape, (a, b) = broadcast_all("maximum", *as_operands(a, b))
    if a is b:
        return a
    return Expr.make("maximum", (a, b), NO_PARAMS, shape)


@inferring
def minimum(a: Operand, b: Operand) -> Expr:
    """The elementwise minimum of A and B, broadcast as in NumPy (``np.minimum``).

    d minimum(A, B) = H ⊙ dA + H' ⊙ dB with H = heaviside(B − A, ½) and
    H' = heaviside(A − B, ½): ties split evenly (minimum(A, 0) too: ½ at A = 0).
    """
    shape, (a, b) = broadcast_all("minimum", *as_operands(a, b))
    if a is b:
        return a
    return Expr.make("minimum", (a, b), NO_PARAMS, shape)


def _extremum_jvp(larger: bool) -> Any:
    def jvp(node: Expr, i: int) -> ElementwiseMap:
        this, other = node.args[i], node.args[1 - i]
        gap = _difference(this, other) if larger else _difference(other, this)
        return ElementwiseMap(heaviside(gap, 0.5), *map_shapes(node, i))
    return jvp


def _register_extremum(name: str, function: Any, value: Any, larger: bool, latex: str) -> None:
    register(name, public=name, function=function, signature="(...),(...)->(...)",
             stacks=True,
             evaluate=lift(value), jvp=_extremum_jvp(larger), code=f"{{np}}.{name}({{0}}, {{1}})",
             transpose=through(0, 1),
             printing=Printing(func_print(name[:3]), func_print(latex), py_call(name)),
             doc=f"the elementwise {name} (NumPy broadcasting; ties split the derivative evenly)")


_register_extremum("maximum", maximum, np.maximum, True, r"\max")
_register_extremum("minimum", minimum, np.minimum, False, r"\min")
