"""Makers of printing rules, ``(printer, node) -> (text, precedence)``.

``printer(x, level)`` prints a sub-expression, with parentheses when it binds
looser than ``level``, and ``printer.s`` is the style (Unicode or LaTeX); the
Python printer writes the library's own syntax, which the parser reads back.
(``p`` is never a printer: in the op sections it is an exponent or parameters.)
"""
from __future__ import annotations

from typing import Any

from ..contexts import PrintContext, PrintRule, PythonPrintRule, StyledPrintContext
from ..expr import Expr
from ..registry import Prec, Printing

__all__ = ["PrintRule", "PythonPrintRule", "func_print", "py_call", "call_printing", "axis_text",
           "axis_printing", "axes_printing", "python_number", "per_size_text"]

def func_print(name: str) -> PrintRule:
    """``name(args)`` in the printer's style (Unicode or LaTeX)."""
    def print_call(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
        return printer.s.func(name, *[printer(a) for a in e.args]), Prec.ATOM
    return print_call


def py_call(name: str) -> PythonPrintRule:
    """``name(args)`` in the library's Python syntax."""
    def python_call(printer: PrintContext, e: Expr) -> tuple[str, int]:
        return f"{name}({', '.join(printer(a) for a in e.args)})", Prec.ATOM
    return python_call


def call_printing(unicode: str, latex: str, python: str) -> Printing:
    """A node printed as a function call, e.g. tr(A), \\operatorname{tr}(A), trace(A)."""
    return Printing(func_print(unicode), func_print(latex), py_call(python))


def axis_text(axis: Any) -> str:
    """An axis argument as NumPy writes it: ``1``, ``(0, 2)``; one axis of a tuple as that axis."""
    return str(axis[0] if isinstance(axis, tuple) and len(axis) == 1 else axis)


def _axis_call(name: str, latex: str, python: str, field: str = "axis") -> tuple[PrintRule, PrintRule,
                                                                                  PythonPrintRule]:
    def given(e: Expr) -> Any:  # all the axes of a stack are NumPy's axis=None
        axis = getattr(e.params, field)
        return None if isinstance(axis, tuple) and axis == tuple(range(e.args[0].ndim)) else axis

    def styled(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
        args = [printer(a) for a in e.args]
        axis = given(e)
        if axis is not None:
            args.append((r"\mathrm{axis}=" if printer.s.latex else "axis=") + axis_text(axis))
        if getattr(e.params, "keepdims", False):
            args.append(r"\mathrm{keepdims}" if printer.s.latex else "keepdims")
        return printer.s.func(latex if printer.s.latex else name, *args), Prec.ATOM

    def plain(printer: PrintContext, e: Expr) -> tuple[str, int]:
        axis = given(e)
        extra = "" if axis is None else f", axis={axis_text(axis)}"
        extra += ", keepdims=True" if getattr(e.params, "keepdims", False) else ""
        return f"{python}({', '.join(printer(a) for a in e.args)}{extra})", Prec.ATOM
    return styled, styled, plain


def axis_printing(name: str, latex: str, python: str | None = None) -> Printing:
    """``name(A)``, or ``name(A, axis=0)`` for a node with an axis, as NumPy writes the call."""
    return Printing(*_axis_call(name, latex, python or name))


def axes_printing(name: str, latex: str, python: str | None = None) -> Printing:
    """``name(X, axis=(1, 2), keepdims)`` for a reduction of a stack over the axes ``params.axes``
    (non-negative, as NumPy's call; the Python form ``keepdims=True``)."""
    return Printing(*_axis_call(name, latex, python or name, "axes"))


def python_number(c: float) -> str:
    """A number as Python reads it back exactly."""
    c = float(c)
    return str(int(c)) if c.is_integer() and abs(c) < 1e15 else repr(c)


def per_size_text(printer: StyledPrintContext, size: Expr, a: Expr) -> tuple[str, int]:
    """A/n for a size n given as a name (the mean of n entries), as a number divides: ``sum(X)/(nm)``."""
    text, prec = printer.render(size)
    if printer.s.latex:
        return f"\\frac{{{printer(a)}}}{{{text}}}", Prec.UNARY
    return f"{printer(a, Prec.PROD)}/{text if prec >= Prec.ATOM else printer.s.paren(text)}", Prec.UNARY
