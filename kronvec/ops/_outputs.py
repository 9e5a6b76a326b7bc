"""The outputs of a factorization (``qr`` → Q, R): one op per output, registered together.

Each output is a node of its own (``qr_R``): its constructor is the public
function's item (``qr(A)[1]``), its evaluation takes its part of one shared
factorization (``ev.shared``: one recorded step, one LAPACK call for all the
outputs), and its Python form is ``qr(A)[1]``.  What differs between the
outputs (the JVP rule, the printed names, ``triangular``, ``orthonormal``, ...)
is given per output.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from operator import itemgetter
from typing import Any, Callable, Mapping, Sequence

from ..contexts import CodeRule, EvaluateRule, EvaluationContext, JvpRule, PrintContext, PythonPrintRule
from ..expr import Expr
from ..registry import Prec, Printing, register
from ._printing_rules import func_print

__all__ = ["Output", "register_outputs", "output_item"]


@dataclass(frozen=True)
class Output:
    """One output of a factorization: the op ``name`` (``qr_R``), its ``index`` in the
    factorization's tuple, its JVP rule, its Unicode and LaTeX names, its one-line ``doc``,
    and any other fields of its registration (``triangular=``, ``orthonormal=``, ...)."""

    name: str
    index: int
    jvp: JvpRule
    unicode: str
    latex: str
    doc: str
    fields: Mapping[str, Any] = field(default_factory=dict)


def output_item(factorization: Callable[[Any], tuple[Expr, ...]], index: int, a: Any) -> Expr:
    """Item ``index`` of ``factorization(a)``: the constructor of an output."""
    return factorization(a)[index]


def _shared_output(public: str, full: Callable[..., Any], index: int) -> EvaluateRule:
    def evaluate_output(ev: EvaluationContext, e: Expr) -> Any:
        return ev.op(itemgetter(index), ev.shared((public, e.args[0]), full, ev(e.args[0])))
    return evaluate_output


def _python_item(public: str, index: int) -> PythonPrintRule:
    def python_item(printer: PrintContext, e: Expr) -> tuple[str, int]:
        return f"{public}({printer(e.args[0])})[{index}]", Prec.ATOM
    return python_item


def register_outputs(public: str, factorization: Callable[[Any], tuple[Expr, ...]],
                     full: Callable[..., Any], code: Callable[[int], CodeRule], outputs: Sequence[Output],
                     **common: Any) -> None:
    """Register the outputs of ``factorization`` (the public function ``public``): ``full``
    computes all of them from the value of the argument, ``code(index)`` writes one in
    generated code; ``common`` holds the fields every output shares (``stacks=``,
    ``identity=``).  An output's ``fields`` may replace the defaults (``evaluate=``)."""
    for out in outputs:
        fields = {"function": partial(output_item, factorization, out.index),
                  "evaluate": _shared_output(public, full, out.index), "code": code(out.index),
                  "printing": Printing(func_print(out.unicode), func_print(out.latex),
                                       _python_item(public, out.index)),
                  **common, **out.fields}
        register(out.name, jvp=out.jvp, doc=out.doc, **fields)
