"""Small makers shared by the op sections: evaluation, printing and JVP helpers.

An op section reads as a declaration, e.g. the trace::

    register("trace", FAMILY, public="trace", function=trace, signature="(n,n)->()",
             evaluate=lift(np.trace),
             jvp=lambda node, i: TraceMap(None, one(), *io(node, i)),
             printing=call_printing("tr", r"\\operatorname{tr}", "trace"))

Print functions take the printer ``p`` and the node and return
``(text, precedence)``; ``p(x, level)`` prints a sub-expression, with
parentheses when it binds looser than ``level``, and ``p.s`` is the style.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable

import numpy as np

from ..contexts import EvaluateRule, PrintContext, PrintRule, PythonPrintRule, StyledPrintContext
from ..expr import Expr
from ..maps import ElementwiseMap, KronMap, LinearMap
from ..registry import Prec, Printing, spec
from ..shapes import Shape, broadcast_shapes_nd, is_plain, stack_of

__all__ = ["lift", "with_node", "constant_value", "io", "identity_jvp", "elementwise_jvp",
           "matrix_transpose_value", "stack_in_shape", "unit_factor", "product_stack",
           "call_printing", "func_print", "py_call", "python_number", "axis_printing", "axes_printing",
           "axis_text", "swapped_axis",
           "NodeInfo", "Prec", "Printing", "triangle", "code_number", "code_transpose", "code_sum",
           "code_for", "code_slice", "code_eigh", "code_axis"]

EvalRule = EvaluateRule


# ------------------------------------------------------------ evaluation
def lift(fn: Callable[..., Any]) -> EvalRule:
    """An evaluation rule applying ``fn`` to the values of the arguments."""
    return lambda ev, e: ev.op(fn, *[ev(a) for a in e.args])


class NodeInfo:
    """The parameters and shape of a node: what a recorded step may keep of it."""

    __slots__ = ("params", "shape")

    def __init__(self, e: Expr) -> None:
        self.params, self.shape = e.params, e.shape


def with_node(fn: Callable[..., Any]) -> EvalRule:
    """A rule calling ``fn(NodeInfo, *argument values)``."""
    return lambda ev, e: ev.op(partial(fn, NodeInfo(e)), *[ev(a) for a in e.args])


def _same(value: Any) -> Any:
    return value


def constant_value(make: Callable[[Expr], Any]) -> EvalRule:
    """A rule for a leaf whose value depends only on the node."""
    return lambda ev, e: ev.op(partial(_same, make(e)))


def matrix_transpose_value(x: Any) -> Any:
    """The matrix transpose of a value: the last two axes swapped (a scalar, or a 1-D array of
    per-member scalars, is its own transpose)."""
    if type(x) is np.ndarray:  # the method: NumPy's function wrapper costs more than the swap
        return x.swapaxes(-1, -2) if x.ndim >= 2 else x
    return np.swapaxes(x, -1, -2) if np.ndim(x) >= 2 else x


# ------------------------------------------------------------------ JVPs
def io(node: Expr, i: int) -> tuple[Shape, Shape]:
    """(shape of argument i, shape of the node): a map's in and out shapes.

    For a node over stacks whose argument i has fewer (or size-1) stack axes
    than the node, the in shape is that argument broadcast to the node's
    stack axes (:func:`stack_in_shape`); :func:`kronvec.derivative.partial`
    composes the map with the broadcast of the argument.
    """
    arg = node.args[i]
    if arg.shape == node.shape or is_plain(arg.shape) and is_plain(node.shape):
        return arg.shape, node.shape
    if arg.ndim >= 3 and arg.shape[:-2] == node.shape:  # per-member scalars, any number of stack axes
        return arg.shape, node.shape
    return stack_in_shape(node, i), node.shape


def stack_in_shape(node: Expr, i: int) -> Shape:
    """Argument i's shape broadcast to the node: the node's whole shape for an elementwise
    argument (``(...)`` in the signature, or a term of a sum), else the node's stack axes
    followed by the argument's matrix (or scalar) axes."""
    arg = node.args[i]
    sig = spec(node.op).signature
    arrays = [a for a in sig.alternatives[0].args if a.kind in ("array", "any")] if sig is not None else []
    if node.op == "add" or (i < len(arrays) and arrays[i].kind == "any"):
        return node.shape
    core = arg.shape[-2:] if arg.ndim >= 2 else ()
    return stack_of(node.shape) + tuple(core)


def identity_jvp(node: Expr, i: int) -> LinearMap:
    """d(node) = d(argument i): linear ops that map tangents as they map values."""
    return KronMap(None, None, *io(node, i))


def elementwise_jvp(derivative: Callable[[Expr], Expr]) -> Callable[[Expr, int], LinearMap]:
    """The JVP f'(A) ⊙ dA of an elementwise function, with f'(A) = ``derivative(node)``."""
    return lambda node, i: ElementwiseMap(derivative(node), node.args[0].shape, node.shape)


# -------------------------------------------------------------- printing
def func_print(name: str) -> PrintRule:
    """``name(args)`` in the printer's style (Unicode or LaTeX)."""
    return lambda p, e: (p.s.func(name, *[p(a) for a in e.args]), Prec.ATOM)


def py_call(name: str) -> PythonPrintRule:
    """``name(args)`` in the library's Python syntax."""
    return lambda p, e: (f"{name}({', '.join(p(a) for a in e.args)})", Prec.ATOM)


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

    def styled(p: StyledPrintContext, e: Expr) -> tuple[str, int]:
        args = [p(a) for a in e.args]
        axis = given(e)
        if axis is not None:
            args.append((r"\mathrm{axis}=" if p.s.latex else "axis=") + axis_text(axis))
        if getattr(e.params, "keepdims", False):
            args.append(r"\mathrm{keepdims}" if p.s.latex else "keepdims")
        return p.s.func(latex if p.s.latex else name, *args), Prec.ATOM

    def plain(p: PrintContext, e: Expr) -> tuple[str, int]:
        axis = given(e)
        extra = "" if axis is None else f", axis={axis_text(axis)}"
        extra += ", keepdims=True" if getattr(e.params, "keepdims", False) else ""
        return f"{python}({', '.join(p(a) for a in e.args)}{extra})", Prec.ATOM
    return styled, styled, plain


def axis_printing(name: str, latex: str, python: str | None = None) -> Printing:
    """``name(A)``, or ``name(A, axis=0)`` for a node with an axis, as NumPy writes the call."""
    return Printing(*_axis_call(name, latex, python or name))


def axes_printing(name: str, latex: str, python: str | None = None) -> Printing:
    """``name(X, axis=(1, 2), keepdims)`` for a reduction of a stack over the axes ``params.axes``
    (non-negative, as NumPy's call; the Python form ``keepdims=True``)."""
    return Printing(*_axis_call(name, latex, python or name, "axes"))


def swapped_axis(axis: int | None) -> int | None:
    """The axis of the transposed matrix: 0 and 1 trade places (None stays)."""
    return None if axis is None else 1 - axis


def python_number(c: float) -> str:
    """A number as Python reads it back exactly."""
    c = float(c)
    return str(int(c)) if c.is_integer() and abs(c) < 1e15 else repr(c)


# ------------------------------------------------------------- products
def unit_factor(f: Expr) -> bool:
    """An identity, or a stack of 1×1 ones (a per-member 1): dropped from products (the stack
    axes it carries are kept by the product's shape)."""
    return f.op == "identity" and f.ndim == 2 or f.op == "ones" and f.ndim > 2 and f.shape[-2:] == (1, 1)


def product_stack(factors: list[Expr]) -> tuple[int, ...]:
    """The broadcast stack axes of a product's factors (``()`` for matrices)."""
    stacks = [stack_of(f.shape) for f in factors if f.ndim > 2]
    return broadcast_shapes_nd("matmul", *stacks) if stacks else ()


# ------------------------------------------------------------ structure
_FLIP = {"lower": "upper", "upper": "lower"}


def triangle(e: Expr) -> str | None:
    """``"lower"`` or ``"upper"`` when ``e``'s value is known to be triangular, else None.

    Read from the ops' ``triangular`` declarations (a Cholesky factor is
    lower triangular); a transpose flips the triangle, a scaling keeps it.
    """
    flips = False
    while e.op in ("transpose", "scale", "named"):
        flips ^= e.op == "transpose"
        e = e.args[0]
    rule = spec(e.op).triangular
    found = rule(e) if rule is not None else None
    return _FLIP[found] if found and flips else found


# --------------------------------------------------- generated code (templates)
def code_number(c: float) -> str:
    """A number in generated code (a float literal; negative ones in parentheses)."""
    text = repr(float(c))
    return f"({text})" if text.startswith("-") else text


def code_transpose(x: str) -> str:
    """The code of xᵀ for the code of x.

    Examples
    --------
    >>> code_transpose("W"), code_transpose("W.T"), code_transpose("a @ b")
    ('W.T', 'W', '(a @ b).T')
    """
    if x.endswith(".T") and x[:-2].isidentifier():
        return x[:-2]
    return f"{x}.T" if x.isidentifier() else f"({x}).T"


def code_sum(terms: list[tuple[float, str]]) -> str:
    """c₁x₁ + c₂x₂ + ⋯ as code, for (coefficient, code) pairs.

    Examples
    --------
    >>> code_sum([(1.0, "a"), (-0.5, "b"), (2.0, "c")])
    'a - 0.5 * b + 2.0 * c'
    """
    out = []
    for k, (c, x) in enumerate(terms):
        sign, c = ("-", -c) if c < 0 else ("+", c)
        term = x if c == 1.0 else f"{repr(float(c))} * {x}"
        out.append((f"-{term}" if sign == "-" else term) if k == 0 else f" {sign} {term}")
    return "".join(out)


def code_slice(r: range, size: int) -> str:
    """The slice taking the positions ``r`` of an axis of ``size``, as code.

    Examples
    --------
    >>> code_slice(range(4), 4), code_slice(range(1, 3), 4), code_slice(range(3, -1, -1), 4)
    (':', '1:3', '3::-1')
    """
    if r == range(size):
        return ":"
    stop = r.stop if r.stop >= 0 else None
    text = f"{'' if r.start == 0 and r.step > 0 else r.start}:{'' if stop is None else stop}"
    return text + (f":{r.step}" if r.step != 1 else "")


def code_eigh(g: Any, a: str, uplo: str = "L") -> str:
    """The variable holding ``eigh(a, UPLO)`` (w, V) in generated code, computed once."""
    extra = ", symmetrize_input=False" if g.name == "jax" else ""  # read one triangle, as NumPy
    return g.let(f"{g.la}.eigh({a}, UPLO={uplo!r}{extra})", hint="eigh")


def code_axis(g: Any, axis: int | None, keep: bool) -> str:
    """The axis arguments of a reduction in generated code (``", axis=0, keepdims=True"``; PyTorch's
    ``dim=``/``keepdim=``); nothing for ``axis=None`` (all entries, except in PyTorch's logsumexp)."""
    torch = g.name == "torch"
    if axis is None:
        return ", dim=(0, 1)" if torch and keep else ""
    return f", dim={axis}, keepdim={keep}" if torch else f", axis={axis}, keepdims={keep}"


def code_for(**by_backend: Any) -> dict[str, Any]:
    """A code template by backend (``numpy=``, ``jax=``, ``torch=``; ``other=`` for the rest)."""
    return {("*" if k == "other" else k): v for k, v in by_backend.items()}
