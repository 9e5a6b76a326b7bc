"""Elementwise functions: exp, log, sin, cos, tanh, sqrt and sigmoid.

Each is f∘(A), applied entry by entry as NumPy does; its differential is
f'(A) ⊙ dA, a diagonal map in the vec convention.  A transpose passes
through: f(A)ᵀ = f(Aᵀ).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
from scipy.special import expit

from ..expr import Expr, NO_PARAMS, as_expr
from ..registry import Printing, Transpose, register
from ._common import code_for, elementwise_jvp, func_print, lift, py_call
from .arithmetic import add, hadamard, power, scale
from .leaves import ones

__all__ = ["exp", "log", "sin", "cos", "tanh", "sqrt", "sigmoid", "elementwise_node"]

FAMILY = "elementwise"


def elementwise_node(op: str, a: Expr) -> Expr:
    """The node ``op(a)`` of an elementwise function (the constructors simplify first)."""
    return Expr.make(op, (a,), NO_PARAMS, a.shape)


def _transposed(node: Expr, t: list[Expr]) -> Expr:
    return Expr.make(node.op, (t[0],), node.params, node.shape[::-1])


def register_elementwise(name: str, function: Callable[[Any], Expr], value: Callable[..., Any],
                         derivative: Callable[[Expr], Expr], latex: str, doc: str,
                         domain: str = "", unicode: str | None = None, code: Any = None) -> None:
    """Declare an elementwise function: f(A) evaluated by ``value``, with f'(A) = ``derivative(node)``.

    It prints as ``unicode(A)`` (default: its name), ``latex(A)`` and ``name(A)``; generated
    code calls ``{np}.<name>`` unless ``code`` says otherwise.
    """
    register(name, FAMILY, public=name, function=function, signature="(...)->(...)",
             evaluate=lift(value), jvp=elementwise_jvp(derivative), code=code or f"{{np}}.{name}({{0}})",
             transpose=Transpose((0,), _transposed),
             printing=Printing(func_print(unicode or name), func_print(latex), py_call(name)),
             domain=(domain,), doc=doc)


# ------------------------------------------------------------------ exp
def exp(a: Any) -> Expr:
    """The elementwise exponential exp∘(A); d exp(A) = exp(A) ⊙ dA."""
    a = as_expr(a)
    return a.args[0] if a.op == "log" else elementwise_node("exp", a)


register_elementwise("exp", exp, np.exp, lambda n: n, r"\exp", "elementwise exponential")


# ------------------------------------------------------------------ log
def log(a: Any) -> Expr:
    """The elementwise natural logarithm log∘(A); d log(A) = A∘⁻¹ ⊙ dA."""
    a = as_expr(a)
    return a.args[0] if a.op == "exp" else elementwise_node("log", a)


register_elementwise("log", log, np.log, lambda n: power(n.args[0], -1.0), r"\log",
                     "elementwise natural logarithm", domain="positive")


# ------------------------------------------------------------ sin, cos
def sin(a: Any) -> Expr:
    """The elementwise sine; d sin(A) = cos(A) ⊙ dA."""
    return elementwise_node("sin", as_expr(a))


def cos(a: Any) -> Expr:
    """The elementwise cosine; d cos(A) = −sin(A) ⊙ dA."""
    return elementwise_node("cos", as_expr(a))


register_elementwise("sin", sin, np.sin, lambda n: cos(n.args[0]), r"\sin", "elementwise sine")
register_elementwise("cos", cos, np.cos, lambda n: scale(-1.0, sin(n.args[0])), r"\cos",
                     "elementwise cosine")


# ----------------------------------------------------------------- tanh
def tanh(a: Any) -> Expr:
    """The elementwise hyperbolic tangent; d tanh(A) = (1 − tanh²(A)) ⊙ dA."""
    return elementwise_node("tanh", as_expr(a))


register_elementwise("tanh", tanh, np.tanh,
                     lambda n: add(ones(n.shape), scale(-1.0, hadamard(n, n))), r"\tanh",
                     "elementwise hyperbolic tangent")


# ----------------------------------------------------------------- sqrt
def sqrt(a: Any) -> Expr:
    """The elementwise square root A∘½ (the power ½); d sqrt(A) = ½ A∘⁻½ ⊙ dA."""
    return power(as_expr(a), 0.5)


register("sqrt", FAMILY, public="sqrt", function=sqrt, signature="(...)->(...)", node=False,
         domain=("positive",), doc="elementwise square root (the power ½)")


# -------------------------------------------------------------- sigmoid
def sigmoid(a: Any) -> Expr:
    """The logistic function σ(A) = 1/(1 + e⁻ᴬ), elementwise; dσ(A) = σ(A) ⊙ (1 − σ(A)) ⊙ dA.

    Evaluated as SciPy's ``expit``, which stays exact for arguments of any
    size (σ(−800) = 0, σ(800) = 1, never NaN).
    """
    return elementwise_node("sigmoid", as_expr(a))


register_elementwise("sigmoid", sigmoid, expit,
                     lambda n: hadamard(n, add(ones(n.shape), scale(-1.0, n))), r"\sigma",
                     "the logistic sigmoid 1/(1 + e⁻ᴬ)", unicode="σ",
                     code=code_for(numpy="special.expit({0})", jax="jax.nn.sigmoid({0})",
                                   torch="torch.sigmoid({0})"))
