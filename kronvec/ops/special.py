"""The ``scipy.special`` functions of statistics: gammaln, digamma, polygamma, erf, erfc, ndtr,
log_ndtr, logit and xlogy.

Each is the SciPy function of the same name, applied entry by entry (xlogy
broadcasting its two arguments as NumPy does), with the derivative

* d gammaln(A) = ψ(A) ⊙ dA, d ψ(A) = ψ⁽¹⁾(A) ⊙ dA, d ψ⁽ⁿ⁾(A) = ψ⁽ⁿ⁺¹⁾(A) ⊙ dA
  (ψ = digamma, ψ⁽ⁿ⁾ = polygamma(n, ·));
* d erf(A) = (2/√π) e^(−A∘²) ⊙ dA = −d erfc(A);
* d Φ(A) = φ(A) ⊙ dA, with Φ = ndtr the standard normal distribution function and
  φ(x) = e^(−x²/2)/√(2π) its density;
* d log Φ(A) = (φ/Φ)(A) ⊙ dA, the ratio evaluated as √(2/π)/erfcx(−x/√2), which
  stays exact where Φ underflows (x = −40, −10³: the ratio is ≈ −x) and is 0, not
  NaN, where φ underflows; d(φ/Φ)(x) = −(φ/Φ)(x) (x + (φ/Φ)(x));
* d logit(A) = (A ⊙ (𝟙 − A))∘⁻¹ ⊙ dA;
* d xlogy(X, Y) = log(Y) ⊙ dX + xdivy(X, Y) ⊙ dY, where xdivy(x, y) = x/y, and 0
  where x = 0 (xlogy(0, y) = 0 for every y, so its derivative in y is 0 there).

Transposes pass through, as for every elementwise function.
"""
from __future__ import annotations

import math
from functools import partial
from typing import Any

import numpy as np

from ..contexts import PrintContext, StyledPrintContext
from ..expr import Expr, NO_PARAMS, Operand, as_expr, as_operands
from ..lazy import LazyModule
from ..maps import ElementwiseMap, LinearMap
from ..registry import Params, Prec, Printing, inferring, register
from ._code_templates import code_for
from ._evaluation_rules import lift, with_node
from ._jvp_rules import map_shapes
from ._printing_rules import func_print, py_call
from ._structure_rules import through
from .arithmetic import add, hadamard, power, scale
from .broadcasting import broadcast_all
from .elementwise import elementwise_node, exp, log, register_elementwise
from .leaves import filled
from .stacks import broadcast_to

__all__ = ["gammaln", "digamma", "polygamma", "erf", "erfc", "ndtr", "log_ndtr", "ndtr_ratio", "logit",
           "xlogy", "xdivy"]


special = LazyModule("scipy.special")  # imported on first use

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_SQRT_HALF = math.sqrt(0.5)
_SUPERSCRIPT = str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")


def _call(name: str, *values: Any) -> Any:
    return getattr(special, name)(*values)


def _scipy(name: str) -> Any:
    """The evaluation of ``scipy.special.<name>``, which imports SciPy's module on first use."""
    return partial(_call, name)


def _one_minus(a: Expr) -> Expr:
    return add(filled("ones", a.shape), scale(-1.0, a))


def _gaussian(a: Expr, c: float) -> Expr:
    """e^(−c A∘²) elementwise."""
    return exp(scale(-c, power(a, 2.0)))


# -------------------------------------------------------------- gammaln
@inferring
def gammaln(a: Operand) -> Expr:
    """log |Γ(A)| elementwise, as ``scipy.special.gammaln``; d gammaln(A) = ψ(A) ⊙ dA
    (ψ = digamma)."""
    return elementwise_node("gammaln", as_expr(a))


# -------------------------------------------------------------- digamma
@inferring
def digamma(a: Operand) -> Expr:
    """ψ(A) = Γ'(A)/Γ(A) elementwise, as ``scipy.special.digamma``; d ψ(A) = ψ⁽¹⁾(A) ⊙ dA
    (the trigamma function, ``polygamma(1, A)``)."""
    return elementwise_node("digamma", as_expr(a))


register_elementwise("gammaln", gammaln, _scipy("gammaln"), lambda n: digamma(n.args[0]), r"\log\Gamma",
                     "log|Γ(A)| elementwise (scipy.special.gammaln; derivative ψ(A))", domain="positive",
                     unicode="logΓ",
                     code=code_for(numpy="special.gammaln({0})", jax="jspecial.gammaln({0})",
                                   torch="torch.special.gammaln({0})"))
def _digamma_derivative(node: Expr) -> Expr:
    """ψ'(A) = polygamma(1, A)."""
    return polygamma(1, node.args[0])


register_elementwise("digamma", digamma, _scipy("digamma"), _digamma_derivative, r"\psi",
                     "the digamma function ψ(A) = Γ'(A)/Γ(A) elementwise (derivative polygamma(1, A))",
                     domain="positive", unicode="ψ",
                     code=code_for(numpy="special.digamma({0})", jax="jspecial.digamma({0})",
                                   torch="torch.special.digamma({0})"))


# ------------------------------------------------------------ polygamma
@inferring
def polygamma(n: int, x: Operand) -> Expr:
    """ψ⁽ⁿ⁾(X), the n-th derivative of the digamma function, elementwise, as
    ``scipy.special.polygamma(n, x)`` for an integer n ≥ 0 (polygamma(0, X) is digamma(X));
    d ψ⁽ⁿ⁾(X) = ψ⁽ⁿ⁺¹⁾(X) ⊙ dX."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"polygamma: the order n must be an integer ≥ 0, got {n!r}")
    x = as_expr(x)
    if n == 0:
        return digamma(x)
    return Expr.make("polygamma", (x,), Params(order=int(n)), x.shape)


def _print_polygamma(latex: bool) -> Any:
    def styled(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
        order = e.params.order
        head = rf"\psi^{{({order})}}" if latex else f"ψ⁽{str(order).translate(_SUPERSCRIPT)}⁾"
        return printer.s.func(head, printer(e.args[0])), Prec.ATOM
    return styled


def _polygamma_jvp(node: Expr, i: int) -> LinearMap:
    """d ψ⁽ⁿ⁾(A) = ψ⁽ⁿ⁺¹⁾(A) ⊙ dA."""
    return ElementwiseMap(polygamma(node.params.order + 1, node.args[0]), *map_shapes(node, i))


def _python_polygamma(printer: PrintContext, e: Expr) -> tuple[str, int]:
    return f"polygamma({e.params.order}, {printer(e.args[0])})", Prec.ATOM


register("polygamma", public="polygamma", function=polygamma, signature="int,(...)->(...)",
         params=("order",), stacks=True,
         rebuild=lambda node, args: polygamma(node.params.order, args[0]),
         evaluate=with_node(lambda n, x: special.polygamma(n.params.order, x)),
         jvp=_polygamma_jvp,
         code=code_for(numpy="special.polygamma({n.params.order}, {0})",
                       jax="jspecial.polygamma({n.params.order}, {0})",
                       torch="torch.special.polygamma({n.params.order}, {0})"),
         transpose=through(0),
         printing=Printing(_print_polygamma(False), _print_polygamma(True),
                           _python_polygamma),
         domain=("", "positive"),
         doc="ψ⁽ⁿ⁾(X), derivatives of the digamma function (scipy.special.polygamma(n, x))")


# ------------------------------------------------------------ erf, erfc
@inferring
def erf(a: Operand) -> Expr:
    """The error function erf(A) = (2/√π) ∫₀ᴬ e^(−t²) dt elementwise, as ``scipy.special.erf``;
    d erf(A) = (2/√π) e^(−A∘²) ⊙ dA."""
    return elementwise_node("erf", as_expr(a))


@inferring
def erfc(a: Operand) -> Expr:
    """The complementary error function erfc(A) = 1 − erf(A) elementwise, as
    ``scipy.special.erfc`` (exact in the tail, where 1 − erf(A) rounds to 0);
    d erfc(A) = −(2/√π) e^(−A∘²) ⊙ dA."""
    return elementwise_node("erfc", as_expr(a))


_ERF_SLOPE = 2.0 / math.sqrt(math.pi)
register_elementwise("erf", erf, _scipy("erf"), lambda n: scale(_ERF_SLOPE, _gaussian(n.args[0], 1.0)),
                     r"\operatorname{erf}", "the error function (scipy.special.erf)",
                     code=code_for(numpy="special.erf({0})", jax="jspecial.erf({0})",
                                   torch="torch.special.erf({0})"))
register_elementwise("erfc", erfc, _scipy("erfc"), lambda n: scale(-_ERF_SLOPE, _gaussian(n.args[0], 1.0)),
                     r"\operatorname{erfc}", "the complementary error function 1 − erf(A) "
                     "(scipy.special.erfc)",
                     code=code_for(numpy="special.erfc({0})", jax="jspecial.erfc({0})",
                                   torch="torch.special.erfc({0})"))


# ----------------------------------------------------------------- ndtr
@inferring
def ndtr(a: Operand) -> Expr:
    """Φ(A), the standard normal distribution function, elementwise, as ``scipy.special.ndtr``;
    d Φ(A) = φ(A) ⊙ dA with φ(x) = e^(−x²/2)/√(2π)."""
    return elementwise_node("ndtr", as_expr(a))


register_elementwise("ndtr", ndtr, _scipy("ndtr"),
                     lambda n: scale(1.0 / math.sqrt(2.0 * math.pi), _gaussian(n.args[0], 0.5)), r"\Phi",
                     "the standard normal distribution function Φ (scipy.special.ndtr)", unicode="Φ",
                     code=code_for(numpy="special.ndtr({0})", jax="jspecial.ndtr({0})",
                                   torch="torch.special.ndtr({0})"))


# ------------------------------------------------------------- log_ndtr
@inferring
def log_ndtr(a: Operand) -> Expr:
    """log Φ(A) elementwise, as ``scipy.special.log_ndtr`` (exact far into the lower tail:
    log Φ(−10³) ≈ −5·10⁵); d log Φ(A) = (φ/Φ)(A) ⊙ dA, the ratio computed stably
    (:func:`ndtr_ratio`)."""
    return elementwise_node("log_ndtr", as_expr(a))


def ndtr_ratio(a: Operand) -> Expr:
    """(φ/Φ)(A) = φ(A)/Φ(A) elementwise, the derivative of log Φ (internal).

    Evaluated as √(2/π)/erfcx(−x/√2), since Φ(x) = erfcx(−x/√2) e^(−x²/2)/2: exact where
    Φ underflows (≈ −x − 1/x for x → −∞) and 0 where φ does (x ≳ 38);
    d(φ/Φ)(A) = −(φ/Φ)(A) ⊙ (A + (φ/Φ)(A)) ⊙ dA.
    """
    return elementwise_node("ndtr_ratio", as_expr(a))


def _ndtr_ratio_value(x: Any) -> Any:
    return _SQRT_2_OVER_PI / special.erfcx(-_SQRT_HALF * np.asarray(x, dtype=float))


def _ndtr_ratio_jvp(node: Expr, i: int) -> ElementwiseMap:
    return ElementwiseMap(scale(-1.0, hadamard(node, add(node.args[0], node))), *map_shapes(node, i))


def _erfcx_code(module: str) -> str:
    return f"{_SQRT_2_OVER_PI!r} / {module}.erfcx((-{_SQRT_HALF!r}) * {{0}})"


register_elementwise("log_ndtr", log_ndtr, _scipy("log_ndtr"), lambda n: ndtr_ratio(n.args[0]), r"\log\Phi",
                     "log Φ(A), stable far into the lower tail (scipy.special.log_ndtr)", unicode="logΦ",
                     code=code_for(numpy="special.log_ndtr({0})", jax="jspecial.log_ndtr({0})",
                                   torch="torch.special.log_ndtr({0})"))
register("ndtr_ratio", function=ndtr_ratio, signature="(...)->(...)", stacks=True,
         evaluate=lift(_ndtr_ratio_value),
         jvp=_ndtr_ratio_jvp,
         code=code_for(numpy=_erfcx_code("special"), jax=_erfcx_code("jspecial"),
                       torch=_erfcx_code("torch.special")),
         transpose=through(0),
         printing=Printing(func_print("(φ/Φ)"), func_print(r"\left(\varphi/\Phi\right)"),
                           py_call("ndtr_ratio")),
         doc="φ(A)/Φ(A) elementwise, the derivative of log_ndtr, stable in both tails")


# ---------------------------------------------------------------- logit
@inferring
def logit(a: Operand) -> Expr:
    """logit(A) = log(A/(1 − A)) elementwise on (0, 1), the inverse of the sigmoid, as
    ``scipy.special.logit``; d logit(A) = (A ⊙ (𝟙 − A))∘⁻¹ ⊙ dA.  logit(σ(A)) = A."""
    a = as_expr(a)
    return a.args[0] if a.op == "sigmoid" else elementwise_node("logit", a)


register_elementwise("logit", logit, _scipy("logit"),
                     lambda n: power(hadamard(n.args[0], _one_minus(n.args[0])), -1.0),
                     r"\operatorname{logit}", "log(A/(1 − A)) on (0, 1), the inverse of the sigmoid "
                     "(scipy.special.logit)", domain="unit",
                     code=code_for(numpy="special.logit({0})", jax="jspecial.logit({0})",
                                   torch="torch.special.logit({0})"))


# ---------------------------------------------------------- xlogy, xdivy
@inferring
def xlogy(x: Operand, y: Operand) -> Expr:
    """X ⊙ log(Y) elementwise, broadcast as in NumPy, and 0 where X = 0 (also at Y = 0), as
    ``scipy.special.xlogy``; d xlogy(X, Y) = log(Y) ⊙ dX + xdivy(X, Y) ⊙ dY."""
    shape, (x, y) = broadcast_all("xlogy", *as_operands(x, y))
    return Expr.make("xlogy", (x, y), NO_PARAMS, shape)


def xdivy(x: Operand, y: Operand) -> Expr:
    """X ⊘ Y elementwise, and 0 where X = 0 (internal: the derivative of xlogy in Y);
    d xdivy(X, Y) = Y∘⁻¹ ⊙ dX − xdivy(X, Y∘²) ⊙ dY."""
    shape, (x, y) = broadcast_all("xdivy", *as_operands(x, y))
    return Expr.make("xdivy", (x, y), NO_PARAMS, shape)


def _xdivy_value(x: Any, y: Any) -> Any:
    x = np.asarray(x, dtype=float)
    return x / np.where(x == 0.0, 1.0, y)


def _spread(d: Expr, node: Expr) -> Expr:
    """A derivative factor of one argument spread to the node's shape (against a stack)."""
    return d if d.shape == node.shape else broadcast_to(d, node.shape)


def _xlogy_jvp(node: Expr, i: int) -> ElementwiseMap:
    x, y = node.args
    d = log(y) if i == 0 else xdivy(x, y)
    return ElementwiseMap(_spread(d, node), *map_shapes(node, i))


def _xdivy_jvp(node: Expr, i: int) -> ElementwiseMap:
    x, y = node.args
    d = power(y, -1.0) if i == 0 else scale(-1.0, xdivy(x, power(y, 2.0)))
    return ElementwiseMap(_spread(d, node), *map_shapes(node, i))


def _xdivy_code(module: str) -> str:
    return f"{{0}} / {module}.where({{0}} == 0, 1.0, {{1}})"


register("xlogy", public="xlogy", function=xlogy, signature="(...),(...)->(...)", stacks=True,
         evaluate=lift(_scipy("xlogy")), jvp=_xlogy_jvp,
         code=code_for(numpy="special.xlogy({0}, {1})", jax="jspecial.xlogy({0}, {1})",
                       torch="torch.special.xlogy({0}, {1})"),
         transpose=through(0, 1),
         printing=Printing(func_print("xlogy"), func_print(r"\operatorname{xlogy}"), py_call("xlogy")),
         domain=("", "positive"),
         doc="X ⊙ log(Y), 0 where X = 0, broadcast as NumPy (scipy.special.xlogy)")
register("xdivy", function=xdivy, signature="(...),(...)->(...)", stacks=True,
         evaluate=lift(_xdivy_value), jvp=_xdivy_jvp,
         code=code_for(numpy=_xdivy_code("np"), jax=_xdivy_code("jnp"), torch=_xdivy_code("torch")),
         transpose=through(0, 1),
         printing=Printing(func_print("xdivy"), func_print(r"\operatorname{xdivy}"), py_call("xdivy")),
         doc="X ⊘ Y, 0 where X = 0 (the derivative of xlogy in Y)")
