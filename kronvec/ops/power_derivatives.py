"""The derivatives of ``matrix_power`` as nodes: L(A, H) = Σᵢ₌₀ᵏ⁻¹ Aⁱ H Aᵏ⁻¹⁻ⁱ and its derivative in A.

``d(Aᵏ) = matrix_power_frechet(A, dA, k)``, applied in O(log k) products (the upper
right block of [[A, H], [0, A]]ᵏ by repeated squaring, see
:mod:`kronvec.maps.powers`), so deriving, printing and applying the derivative
of A⁹⁹⁹⁹⁹⁹⁹⁹⁹ costs about 90 products and prints in one line.  L(A, I) = k Aᵏ⁻¹
keeps gradients of tr(Aᵏ) short.  Its derivative in A is
``matrix_power_frechet2(A, E, H, k) + matrix_power_frechet2(A, H, E, k)`` with
matrix_power_frechet2(A, X, Y, k) = Σ_{i+j+l=k−2} Aⁱ X Aʲ Y Aˡ (the (1, 3) block of
[[A, X, 0], [0, A, Y], [0, 0, A]]ᵏ), so Hessians work, member by member on stacks; third derivatives
through it are refused.
"""
from __future__ import annotations

from typing import Any


from ..contexts import PrintContext, CodeContext, StyledPrintContext
from ..errors import ShapeError
from ..expr import Expr, Operand, as_expr
from ..maps.algebra import add_maps
from ..maps.algebra import compose
from ..maps.axes import BroadcastMap
from ..maps.powers import (MatrixPowerFrechetMap, MatrixPowerSecondMap, frechet_by_squaring, power_frechet,
                           power_second, second_by_squaring)
from ..registry import Params, Prec, Printing, Transpose, register
from ..shapes import Shape, broadcast_shapes_nd, fmt
from ._code_templates import code_for
from ._evaluation_rules import with_node
from ._jvp_rules import map_shapes
from ._structure_rules import through
from .arithmetic import scale
from .leaves import zeros
from .products import matrix_power

__all__ = ["matrix_power_frechet", "matrix_power_frechet2"]



def _shape(name: str, *args: Expr) -> Shape:
    a = args[0]
    for x in args:
        if x.ndim < 2 or x.shape[-2:] != a.shape[-2:] or a.shape[-1] != a.shape[-2]:
            raise ShapeError(f"{name}: needs square matrices of one size, got shapes "
                             f"{', '.join(fmt(y.shape) for y in args)}")
    try:
        return broadcast_shapes_nd(name, *(x.shape for x in args))
    except ValueError:
        raise ShapeError(f"{name}: the stack axes of {', '.join(fmt(y.shape) for y in args)} could not be "
                         f"broadcast") from None


def matrix_power_frechet(a: Operand, h: Operand, k: int) -> Expr:
    """L(A, H) = Σᵢ₌₀ᵏ⁻¹ Aⁱ H Aᵏ⁻¹⁻ⁱ, the derivative of Aᵏ (k ≥ 1) in the direction H."""
    a, h, k = as_expr(a), as_expr(h), int(k)
    shape = _shape("matrix_power_frechet", a, h)
    if h.op == "zeros" or k < 1:
        return zeros(shape)
    if k == 1:
        return h
    if shape == a.shape and h.op == "eye" and a.ndim == 2:  # A commutes with I: k Aᵏ⁻¹
        return scale(float(k), matrix_power(a, k - 1))
    if shape == a.shape and h.op == "scale" and h.args[0].op == "eye" and a.ndim == 2:
        return scale(h.params.coef * k, matrix_power(a, k - 1))
    return Expr.make("matrix_power_frechet", (a, h), Params(k=k), shape)


def matrix_power_frechet2(a: Operand, x: Operand, y: Operand, k: int) -> Expr:
    """Σ_{i+j+l=k−2} Aⁱ X Aʲ Y Aˡ: with X and Y swapped and added, the derivative of L(A, Y) in A along X."""
    a, x, y, k = as_expr(a), as_expr(x), as_expr(y), int(k)
    shape = _shape("matrix_power_frechet2", a, x, y)
    if x.op == "zeros" or y.op == "zeros" or k < 2:
        return zeros(shape)
    return Expr.make("matrix_power_frechet2", (a, x, y), Params(k=k), shape)


def _frechet_jvp(node: Expr, i: int) -> Any:
    a, h = node.args
    k, shape = node.params.k, map_shapes(node, i)[0]
    if i == 1:
        return MatrixPowerFrechetMap(a, k, shape)
    second = add_maps(*(MatrixPowerSecondMap(a, h, k, slot, node.shape) for slot in (0, 1)))
    if shape != node.shape:  # A's members against more of H's stack axes: dA spread over them first
        return compose(second, BroadcastMap(shape, node.shape))
    return second


def _second_jvp(node: Expr, i: int) -> Any:
    a, x, y = node.args
    if i == 0:
        raise NotImplementedError(f"third derivatives through matrix_power(·, {node.params.k}) (the "
                                  f"derivative of its second derivative in A, of shape {fmt(a.shape)}) "
                                  f"are not supported")
    if i == 1:
        return MatrixPowerSecondMap(a, y, node.params.k, 0, map_shapes(node, i)[0])
    return MatrixPowerSecondMap(a, x, node.params.k, 1, map_shapes(node, i)[0])


def _print_sum(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
    """Σᵢ₌₀ᵏ⁻¹ Aⁱ H Aᵏ⁻¹⁻ⁱ (and the double sum of the second derivative), with the number k − 1."""
    s, a, top = printer.s, printer(e.args[0], Prec.ATOM), e.params.k - 1
    if e.op == "matrix_power_frechet":
        h = printer(e.args[1], Prec.PROD)
        if s.latex:
            return rf"\sum_{{i=0}}^{{{top}}} {a}^{{i}} {h} {a}^{{{top}-i}}", Prec.SUM
        return f"Σᵢ₌₀{s.sup(str(top))} {a}ⁱ {h} {a}{s.sup(str(top))}⁻ⁱ", Prec.SUM
    x, y = printer(e.args[1], Prec.PROD), printer(e.args[2], Prec.PROD)
    if s.latex:
        return (rf"\sum_{{i+j+l={top - 1}}} {a}^{{i}} {x} {a}^{{j}} {y} {a}^{{l}}", Prec.SUM)
    return f"Σ_{{i+j+l={top - 1}}} {a}ⁱ {x} {a}ʲ {y} {a}ˡ", Prec.SUM


def _print_python(printer: PrintContext, e: Expr) -> tuple[str, int]:
    return f"{e.op}({', '.join(printer(x) for x in e.args)}, {e.params.k})", Prec.ATOM


def _frechet_value(node: Expr, a: Any, h: Any) -> Any:
    return power_frechet(a, h, node.params.k)


def _frechet_code(g: CodeContext, e: Expr, a: str, h: str) -> str:
    return f"{g.helper('power_frechet', frechet_by_squaring)}({a}, {h}, {e.params.k})"


def _second_value(node: Expr, a: Any, x: Any, y: Any) -> Any:
    return power_second(a, x, y, node.params.k)


def _second_code(g: CodeContext, e: Expr, a: str, x: str, y: str) -> str:
    return f"{g.helper('power_second', second_by_squaring)}({a}, {x}, {y}, {e.params.k})"


def _second_transposed(node: Expr, t: list[Expr]) -> Expr:
    """(Σ Aⁱ X Aʲ Y Aˡ)ᵀ = Σ Aᵀˡ Yᵀ Aᵀʲ Xᵀ Aᵀⁱ: the directions trade places."""
    return matrix_power_frechet2(t[0], t[2], t[1], node.params.k)


register(
    "matrix_power_frechet", function=matrix_power_frechet, params=("k",), stacks=True,
    evaluate=with_node(_frechet_value), code=code_for(other=_frechet_code),
    jvp=_frechet_jvp,
    transpose=through(),
    printing=Printing(_print_sum, _print_sum, _print_python),
    doc="Σᵢ Aⁱ H Aᵏ⁻¹⁻ⁱ, the derivative of matrix_power (appears in its derivatives)",
)
register(
    "matrix_power_frechet2", function=matrix_power_frechet2, params=("k",), stacks=True,
    evaluate=with_node(_second_value), code=code_for(other=_second_code),
    jvp=_second_jvp,
    transpose=Transpose(None, _second_transposed),
    printing=Printing(_print_sum, _print_sum, _print_python),
    doc="Σ Aⁱ X Aʲ Y Aˡ, the second derivative of matrix_power (appears in its Hessians)",
)
