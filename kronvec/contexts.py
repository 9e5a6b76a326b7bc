"""What the rules of an operation receive: the evaluator, the printers and the code emitter.

The rules an op section registers (:class:`kronvec.registry.OpSpec`) are called
by layers above the ops: the evaluator (:mod:`kronvec.evaluation`), the printers
(:mod:`kronvec.printing`) and the code emitter (:mod:`kronvec.codegen`).  The
protocols here are those layers as a rule sees them, so that the ops need not
import them and the registry's fields have precise types:

=====================  ==========================================  ==============================
rule                   signature                                   implemented by
=====================  ==========================================  ==============================
``evaluate``           ``(ev: EvaluationContext, node) -> value``  ``evaluation.Evaluator``
``printing.unicode``   ``(p: StyledPrintContext, node) -> (text,    ``printing.Printer``
``printing.latex``     precedence)``
``printing.python``    ``(p: PrintContext, node) -> (text, prec)``  ``printing.PythonPrinter``
``code``               ``(g: CodeContext, node, *args) -> code``    ``codegen.emit.Emitter``
=====================  ==========================================  ==============================

A node's parameters are :class:`kronvec.registry.Params` (``node.params.axis``).
Numeric values are NumPy arrays or Python scalars (``Any`` below: a value's type
depends on the op).  The classes named only in annotations live in the layers
above and are imported for the type checker alone.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping, NoReturn, Protocol, Sequence

if TYPE_CHECKING:  # the layers above the ops: named in annotations only
    import numpy as np

    from .codegen.backends import Backend, Factor
    from .evaluation.batched import BatchedFactorization
    from .evaluation.factorization import Factorization
    from .expr import Expr
    from .maps.base import LinearMap
    from .printing.styles import Style

__all__ = ["EvaluationContext", "PrintContext", "StyledPrintContext", "CodeContext",
           "EvaluateRule", "JvpRule", "PrintRule", "PythonPrintRule", "CodeRule", "CodeTemplate",
           "RebuildRule", "TriangleRule"]


class EvaluationContext(Protocol):
    """The evaluator as an ``evaluate`` rule sees it (:class:`kronvec.evaluation.Evaluator`).

    A rule computes a node's value by ``ev.op(fn, *values)`` from the values
    ``ev(arg)`` of its arguments, so that the evaluator can record the step
    and replay it on new numbers.
    """

    @property
    def values(self) -> Mapping[Expr, Any]:
        """The bound values of the symbols."""

    @property
    def described(self) -> list[tuple[Any, ...]] | None:
        """The steps kept for code generation (None unless describing)."""

    def __call__(self, e: Expr) -> Any:
        """The value of ``e``."""

    def op(self, fn: Callable[..., Any], *args: Any, step: tuple[Any, ...] | None = None) -> Any:
        """``fn(*args)``, recorded as one step of the evaluation."""

    def shared(self, key: tuple[Any, ...], fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` computed once per ``key`` (several outputs of one decomposition)."""

    def has_shared(self, key: tuple[Any, ...]) -> bool:
        """Whether :meth:`shared` computed ``key`` already."""

    def mentions(self, op: str) -> bool:
        """Whether an expression being evaluated contains a node of ``op``."""

    def bound_cholesky(self, a: Expr) -> Any:
        """The Cholesky factor bound with the symbol ``a``, or None."""

    def cached(self, e: Expr) -> Any:
        """The value of ``e`` if it was computed already, else None."""

    def product(self, e: Expr) -> np.ndarray:
        """The value of a matrix product, in its chain order with solves for inverses."""

    def inverse(self, e: Expr) -> np.ndarray:
        """The value of an explicit inverse (only when asked for directly)."""

    def factorization(self, a: Expr) -> Factorization | BatchedFactorization:
        """The factorization of the square matrix ``a`` (of every member, batched, for a stack),
        shared by every use."""


class PrintContext(Protocol):
    """A printer as a ``printing.python`` rule sees it: ``p(arg, level)`` prints an argument,
    in parentheses when it binds looser than ``level``."""

    def __call__(self, e: Expr, level: int = ...) -> str:
        """The text of ``e``."""

    def render(self, e: Expr) -> tuple[str, int]:
        """(text, precedence) of ``e``."""

    def constant_label(self, value: Any) -> str:
        """``C1``, ``C2``, ...: the label of an unnamed constant."""


class StyledPrintContext(PrintContext, Protocol):
    """The Unicode or LaTeX printer as a ``printing.unicode``/``latex`` rule sees it
    (:class:`kronvec.printing.Printer`); ``p.s`` is the style."""

    @property
    def s(self) -> Style:
        """The notation: Unicode or LaTeX."""

    @property
    def names(self) -> Mapping[Expr, str]:
        """Display names of subexpressions."""

    def format_number(self, c: float) -> str:
        """A short decimal form of ``c``."""

    def number(self, c: float) -> tuple[str, int]:
        """(text, precedence) of the number ``c``."""

    def scaled(self, c: float, inner: Expr) -> tuple[str, int]:
        """(text, precedence) of c·``inner``."""

    def sum(self, terms: tuple[Expr, ...]) -> str:
        """The text of a sum of ``terms``."""

    def product(self, factors: list[Expr]) -> str:
        """The text of a product of ``factors``."""


class CodeContext(Protocol):
    """The code emitter as a ``code`` rule sees it (:class:`kronvec.codegen.emit.Emitter`).

    ``g.array_module`` and ``g.linalg_module`` are the backend's array and linear-algebra module
    names in generated code; ``g.name`` is the backend's name.
    """

    name: str
    array_module: str
    linalg_module: str
    batched: bool

    @property
    def backend(self) -> Backend:
        """The backend the code is written for."""

    def let(self, rhs: str, hint: str | None = None, shared: bool = True, comment: str | None = None,
            node: Expr | None = None) -> str:
        """A variable holding ``rhs`` (the same one for the same code)."""

    def line(self, text: str, comment: str | None = None, var: str | None = None) -> None:
        """Emit one line."""

    def fresh(self, *hints: str) -> tuple[str, ...]:
        """New variable names."""

    def value(self, e: Expr) -> str:
        """The code of a value the evaluation computed."""

    def has(self, e: Expr) -> bool:
        """Whether the code of ``e`` was written."""

    def evaluates(self, e: Expr) -> bool:
        """Whether the evaluation computed ``e``."""

    def factor(self, a: Expr) -> Factor:
        """The factorization of ``a`` in the generated code."""

    def bound_cholesky(self, a: Expr) -> Factor | None:
        """The Cholesky factor passed with the symbol ``a``, if any."""

    def symmetric(self, a: Expr) -> bool:
        """Whether ``a`` is known to be symmetric."""

    def helper(self, name: str, fn: Any) -> str:
        """Put a routine or constant into the generated code's namespace; its name there."""

    def constant(self, value: Any, name: str | None = None) -> str:
        """A constant array in the namespace."""

    def index_constant(self, value: Any, name: str) -> str:
        """An integer index array in the namespace."""

    def eye(self, n: int) -> str:
        """Code of the n×n identity."""

    def zeros(self, shape: tuple[int, ...]) -> str:
        """Code of zeros of ``shape``."""

    def ones(self, shape: tuple[int, ...]) -> str:
        """Code of ones of ``shape``."""

    def unsupported(self, what: str) -> NoReturn:
        """Refuse: the backend cannot compute ``what``."""


EvaluateRule = Callable[[EvaluationContext, "Expr"], Any]
"""``(ev, node) -> value``."""
JvpRule = Callable[["Expr", int], "LinearMap"]
"""``(node, i) -> LinearMap``: the derivative in argument i."""
PrintRule = Callable[[StyledPrintContext, "Expr"], tuple[str, int]]
"""``(p, node) -> (text, precedence)`` in Unicode or LaTeX."""
PythonPrintRule = Callable[[PrintContext, "Expr"], tuple[str, int]]
"""``(p, node) -> (text, precedence)`` in the library's Python syntax."""
CodeRule = Callable[..., str]
"""``(g: CodeContext, node, *argument_codes: str) -> code``: one code string per argument."""
CodeTemplate = str | CodeRule | Mapping[str, str | CodeRule]
"""A format string, a :data:`CodeRule`, or either by backend name (``"*"``: the others)."""
RebuildRule = Callable[["Expr", Sequence["Expr"]], "Expr"]
"""``(node, args) -> Expr``: the node with new arguments."""
TriangleRule = Callable[["Expr"], "str | None"]
"""``node -> "lower" | "upper" | None``."""
