"""Elementwise functions: exp, log, log1p, expm1, sin, cos, tanh, arctan, sqrt, square and sigmoid.

Each is f∘(A), applied entry by entry as NumPy does; its differential is
f'(A) ⊙ dA, a diagonal map in the vec convention.  A transpose passes
through: f(A)ᵀ = f(Aᵀ).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import registry
from ..expr import Expr, NO_PARAMS, Operand, as_expr
from ..registry import Printing, Transpose, inferring, register
from ._code_templates import code_for
from ._evaluation_rules import lift
from ._jvp_rules import elementwise_jvp
from ._printing_rules import func_print, py_call
from ._structure_rules import transposed_alike
from .arithmetic import add, hadamard, power, scale
from .leaves import ones
from ..lazy import LazyModule

special = LazyModule("scipy.special")  # for expit; imported on first use

__all__ = ["exp", "log", "log1p", "expm1", "sin", "cos", "tanh", "arctan", "sqrt", "square", "sigmoid",
           "elementwise_node", "register_elementwise", "ELEMENTWISE_FUNCTIONS"]



ELEMENTWISE_FUNCTIONS: set[str] = set()
"""The ops declared by :func:`register_elementwise` (here and in other modules): f∘(A) with
derivative f'(A) ⊙ dA."""


def elementwise_node(op: str, a: Expr) -> Expr:
    """The node ``op(a)`` of an elementwise function (the constructors simplify first)."""
    return Expr.make(op, (a,), NO_PARAMS, a.shape)


def register_elementwise(name: str, function: Callable[[Any], Expr], value: Callable[..., Any],
                         derivative: Callable[[Expr], Expr], latex: str, doc: str,
                         domain: str = "", unicode: str | None = None, code: Any = None) -> None:
    """Declare an elementwise function: f(A) evaluated by ``value``, with f'(A) = ``derivative(node)``.

    It prints as ``unicode(A)`` (default: its name), ``latex(A)`` and ``name(A)``; generated
    code calls ``{np}.<name>`` unless ``code`` says otherwise.
    """
    ELEMENTWISE_FUNCTIONS.add(name)
    register(name, public=name, function=function, signature="(...)->(...)",
             evaluate=lift(value), jvp=elementwise_jvp(derivative), code=code or f"{{np}}.{name}({{0}})",
             transpose=Transpose((0,), transposed_alike),
             printing=Printing(func_print(unicode or name), func_print(latex), py_call(name)),
             domain=(domain,), stacks=True, doc=doc)


# ------------------------------------------------------------------ exp
@inferring
def exp(a: Operand) -> Expr:
    """The elementwise exponential exp∘(A); d exp(A) = exp(A) ⊙ dA.

    exp(log(A)) = A, and exp(log_softmax(A)) = softmax(A).
    """
    a = as_expr(a)
    if a.op == "log":
        return a.args[0]
    if a.op == "log_softmax":
        return registry.function("softmax")(a.args[0], axis=a.params.axis)
    return elementwise_node("exp", a)


register_elementwise("exp", exp, np.exp, lambda n: n, r"\exp", "elementwise exponential")


# ------------------------------------------------------------------ log
@inferring
def log(a: Operand) -> Expr:
    """The elementwise natural logarithm log∘(A); d log(A) = A∘⁻¹ ⊙ dA.

    log(exp(A)) = A, and log(softmax(A)) is the stable log_softmax(A).
    """
    a = as_expr(a)
    if a.op == "exp":
        return a.args[0]
    if a.op == "softmax":
        return registry.function("log_softmax")(a.args[0], axis=a.params.axis)
    return elementwise_node("log", a)


register_elementwise("log", log, np.log, lambda n: power(n.args[0], -1.0), r"\log",
                     "elementwise natural logarithm", domain="positive")


# ---------------------------------------------------------- log1p, expm1
@inferring
def log1p(a: Operand) -> Expr:
    """log(1 + A) elementwise, accurate for small A (NumPy's ``log1p``);
    d log1p(A) = (𝟙 + A)∘⁻¹ ⊙ dA.  log1p(expm1(A)) = A."""
    a = as_expr(a)
    return a.args[0] if a.op == "expm1" else elementwise_node("log1p", a)


@inferring
def expm1(a: Operand) -> Expr:
    """eᴬ − 1 elementwise, accurate for small A (NumPy's ``expm1``); d expm1(A) = exp(A) ⊙ dA.
    expm1(log1p(A)) = A."""
    a = as_expr(a)
    return a.args[0] if a.op == "log1p" else elementwise_node("expm1", a)


register_elementwise("log1p", log1p, np.log1p,
                     lambda n: power(add(ones(n.shape), n.args[0]), -1.0), r"\operatorname{log1p}",
                     "log(1 + A) elementwise, accurate near 0", domain="positive")
register_elementwise("expm1", expm1, np.expm1, lambda n: exp(n.args[0]), r"\operatorname{expm1}",
                     "eᴬ − 1 elementwise, accurate near 0")


# ------------------------------------------------------------ sin, cos
@inferring
def sin(a: Operand) -> Expr:
    """The elementwise sine; d sin(A) = cos(A) ⊙ dA."""
    return elementwise_node("sin", as_expr(a))


@inferring
def cos(a: Operand) -> Expr:
    """The elementwise cosine; d cos(A) = −sin(A) ⊙ dA."""
    return elementwise_node("cos", as_expr(a))


register_elementwise("sin", sin, np.sin, lambda n: cos(n.args[0]), r"\sin", "elementwise sine")
register_elementwise("cos", cos, np.cos, lambda n: scale(-1.0, sin(n.args[0])), r"\cos",
                     "elementwise cosine")


# ----------------------------------------------------------------- tanh
@inferring
def tanh(a: Operand) -> Expr:
    """The elementwise hyperbolic tangent; d tanh(A) = (1 − tanh²(A)) ⊙ dA."""
    return elementwise_node("tanh", as_expr(a))


register_elementwise("tanh", tanh, np.tanh,
                     lambda n: add(ones(n.shape), scale(-1.0, hadamard(n, n))), r"\tanh",
                     "elementwise hyperbolic tangent")


# --------------------------------------------------------------- arctan
@inferring
def arctan(a: Operand) -> Expr:
    """The elementwise inverse tangent arctan∘(A), in (−π/2, π/2); d arctan(A) = (1 + A∘²)∘⁻¹ ⊙ dA."""
    return elementwise_node("arctan", as_expr(a))


def _arctan_derivative(node: Expr) -> Expr:
    """1/(1 + A∘²), entry by entry."""
    a = node.args[0]
    return power(add(ones(a.shape), hadamard(a, a)), -1.0)


register_elementwise("arctan", arctan, np.arctan, _arctan_derivative, r"\arctan",
                     "elementwise inverse tangent, in (−π/2, π/2)")


# ----------------------------------------------------------------- sqrt
@inferring
def sqrt(a: Operand) -> Expr:
    """The elementwise square root A∘½ (the power ½); d sqrt(A) = ½ A∘⁻½ ⊙ dA."""
    return power(as_expr(a), 0.5)


register("sqrt", public="sqrt", function=sqrt, signature="(...)->(...)", node=False, stacks=True,
         domain=("positive",), doc="elementwise square root (the power ½)")


# --------------------------------------------------------------- square
@inferring
def square(a: Operand) -> Expr:
    """The elementwise square A ⊙ A = A∘² (the power 2, as NumPy's ``square``); d A∘² = 2A ⊙ dA."""
    return power(as_expr(a), 2.0)


register("square", public="square", function=square, signature="(...)->(...)", node=False,
         stacks=True,
         doc="elementwise square (the power 2)")


# -------------------------------------------------------------- sigmoid
@inferring
def sigmoid(a: Operand) -> Expr:
    """The logistic function σ(A) = 1/(1 + e⁻ᴬ), elementwise; dσ(A) = σ(A) ⊙ σ(−A) ⊙ dA.

    Evaluated as SciPy's ``expit``, which stays exact for arguments of any
    size (σ(−800) = 0, σ(800) = 1, never NaN).  The derivative is written
    σ(A) σ(−A), not σ(A)(1 − σ(A)): 1 − σ(A) cancels to 0 for A ≳ 37, where
    σ(−A) keeps its relative precision.
    """
    return elementwise_node("sigmoid", as_expr(a))


def _expit(x: Any) -> Any:
    return special.expit(x)


register_elementwise("sigmoid", sigmoid, _expit,
                     lambda n: hadamard(n, sigmoid(scale(-1.0, n.args[0]))), r"\sigma",
                     "the logistic sigmoid 1/(1 + e⁻ᴬ)", unicode="σ",
                     code=code_for(numpy="special.expit({0})", jax="jax.nn.sigmoid({0})",
                                   torch="torch.sigmoid({0})"))
