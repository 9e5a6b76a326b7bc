"""Exponents that are expressions: ``A ** s`` and ``s ** A`` for a scalar expression s.

``pow(B, E)`` is the elementwise power B∘ᴱ as ``np.power`` computes it, with
a scalar on either side (broadcast over the other) or two matrices of one
shape.  ``s ** A`` is s raised elementwise to the entries of A, i.e.
exp∘(A log s).  With P = B∘ᴱ its differential is

    dP = E ⊙ B∘⁽ᴱ⁻¹⁾ ⊙ dB + P ⊙ log(B) ⊙ dE,

each term a diagonal map in the vec convention, or a rank-one map
ds ↦ ds·M when the argument is a scalar and the result a matrix.  The
derivative in the exponent needs B > 0 (log B), as the power itself does for
exponents that are not integers.  A numeric exponent gives the ``power``
node of :mod:`kronvec.ops.arithmetic` instead (``A ** 2`` prints as A∘²).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..contexts import CodeContext, PrintContext, StyledPrintContext
from ..errors import ShapeError
from .. import registry
from ..expr import Expr, NO_PARAMS, Operand, as_operands, const_scalar, is_scalar
from ..maps import ElementwiseMap, TraceMap
from ..registry import Prec, Printing, register
from ..shapes import Shape, broadcast_shapes_nd, fmt, is_plain
from ._evaluation_rules import with_node
from ._structure_rules import through
from .arithmetic import add, as_shape, multiply, power
from .broadcasting import aligned, broadcast_to
from .elementwise import log
from .leaves import Constant, ones

__all__ = ["pow"]



def _result_shape(b: Expr, e: Expr) -> Shape:
    if is_scalar(b) and is_scalar(e):
        return (1, 1) if (1, 1) in (b.shape, e.shape) else ()
    if is_scalar(e):
        return b.shape
    if is_scalar(b) or b.shape == e.shape:
        return e.shape
    raise ShapeError(f"power: shapes {fmt(b.shape)} and {fmt(e.shape)} differ (the base and the "
                     f"exponent of ** need shapes that broadcast)")


def _spread(a: Expr, shape: Shape) -> Expr:
    """``a`` broadcast to ``shape``: b𝟙ᵀ, 𝟙r for matrices, NumPy's ``broadcast_to`` otherwise."""
    if a.shape == shape:
        return a
    return broadcast_to(a, shape) if is_plain(shape) else registry.function("broadcast_to")(a, shape)


def pow(base: Operand, exponent: Operand) -> Expr:
    """The elementwise power ``base ** exponent`` with an expression as exponent (or base).

    ``A ** s`` for a matrix A and a scalar expression s is A∘ˢ (every entry
    to the power s); ``s ** A`` is s∘ᴬ = exp∘(A log s); two matrices of one
    shape give the entrywise powers, as ``np.power``.  Numbers as exponents
    give the plain power A∘ᵖ.

    d(B∘ᴱ) = E ⊙ B∘⁽ᴱ⁻¹⁾ ⊙ dB + B∘ᴱ ⊙ log(B) ⊙ dE.
    """
    b, e = as_operands(base, exponent)
    if b.shape != e.shape and () not in (b.shape, e.shape) and (
            not (is_scalar(b) or is_scalar(e)) or 1 in (b.ndim, e.ndim)):  # NumPy's broadcasting
        try:
            common = broadcast_shapes_nd("power", b.shape, e.shape)
        except ShapeError:
            raise ShapeError(f"power: shapes {fmt(b.shape)} and {fmt(e.shape)} differ and do not "
                             f"broadcast (the base and the exponent of **)") from None
        b, e = aligned("power", b, e)
        b, e = _spread(b, common), _spread(e, common)
    shape = _result_shape(b, e)
    p = const_scalar(e) if is_scalar(e) else None
    if p is not None:
        return as_shape(power(b, p), shape)
    if e.op == "zeros":
        return ones(shape)
    vb, ve = const_scalar(b), const_scalar(e)
    if vb is not None and vb == 1.0:
        return ones(shape)
    if vb is not None and ve is not None:
        return as_shape(Constant(vb ** ve), shape)
    return Expr.make("pow", (b, e), NO_PARAMS, shape)


def _pow_value(info: Any, b: Any, e: Any) -> np.ndarray:
    b, e = np.asarray(b, dtype=float), np.asarray(e, dtype=float)
    value = np.power(b.reshape(()) if b.size == 1 else b, e.reshape(()) if e.size == 1 else e)
    result: np.ndarray = value.reshape(info.shape) if value.size == math.prod(info.shape) else value
    return result


def _pow_code(g: CodeContext, node: Expr, b: str, e: str) -> str:
    shapes = []
    codes = []
    for code, arg in zip((b, e), node.args):
        if arg.shape != () and math.prod(arg.shape) == 1:  # a 1×1 value broadcasts as a scalar
            code, shape = f"{code}.reshape(())", ()
        else:
            shape = arg.shape
        codes.append(code)
        shapes.append(shape)
    out = f"{codes[0]} ** {codes[1]}"
    return out if np.broadcast_shapes(*shapes) == node.shape else f"({out}).reshape({node.shape})"


def _pow_jvp(node: Expr, i: int) -> Any:
    b, e = node.args
    if i == 0:  # E ⊙ B∘⁽ᴱ⁻¹⁾ ⊙ dB
        d = multiply(e, pow(b, add(e, Constant(-1.0))))
    else:  # B∘ᴱ ⊙ log(B) ⊙ dE
        d = multiply(node, log(b))
    arg = node.args[i]
    if not is_plain(node.shape):  # a stack: dE spread over it is composed by the caller (partial)
        return ElementwiseMap(d, node.shape, node.shape)
    if is_scalar(node) or arg.shape == node.shape:
        return ElementwiseMap(d, arg.shape, node.shape)
    return TraceMap(None, d, arg.shape, node.shape)  # a scalar argument: ds ↦ ds·D


def _print_pow(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
    base, exponent = (printer(a, Prec.ATOM) for a in e.args)
    elementwise = not is_scalar(e)
    if printer.s.latex:
        circ = "\\circ " if elementwise else ""
        return f"{base}^{{{circ}{exponent}}}", Prec.POSTFIX
    return f"{base}{'∘' if elementwise else ''}^{exponent}", Prec.POSTFIX


def _python_pow(printer: PrintContext, e: Expr) -> tuple[str, int]:
    return f"{printer(e.args[0], Prec.ATOM)} ** {printer(e.args[1], Prec.ATOM)}", Prec.POSTFIX


register(
    "pow", function=pow,
    stacks=True,
    evaluate=with_node(_pow_value), code=_pow_code,
    jvp=_pow_jvp,
    transpose=through(),
    printing=Printing(_print_pow, _print_pow, _python_pow),
    domain=("positive", ""),
    doc="A ** s and s ** A, the elementwise power with an expression as exponent",
)
