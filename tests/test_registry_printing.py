"""What each registry entry prints and declares, checked for every operation.

Three kinds of slip pass every numeric test and are caught only here:

* a printing with a control character, as a LaTeX name written in a
  non-raw string (``"\\operatorname{\\arctan}"`` holds a BEL: ``\\a``);
* a Python default of a public function that differs from its signature's
  default, so that ``kv.cumsum(X)`` and the parser's ``cumsum(X)`` (which
  fills in the signature's default) compute different things;
* a Python form that does not parse back to the expression it came from
  (named constants included: the parser is given them by name).

The expressions are the finite-difference cases of every operation
(``tests/test_op_derivatives.py``), so a new operation is covered by the case
that the registry test already demands of it.
"""
from __future__ import annotations

import ast
import inspect
import unicodedata

import numpy as np
import pytest

import kronvec as kv
from kronvec import registry
from kronvec.parse import function_names, parse_expression
from kronvec.signature import parse_signature
from kronvec.printing import to_python
from kronvec.printing.expressions import PythonPrinter
from test_op_derivatives import CASES

SPECS = registry.specs()
PUBLIC = [op for op in SPECS if op.public and op.function is not None]
LEAVES = {
    "symbol": lambda: kv.Matrix("X", (2, 3)),
    "const": lambda: kv.Constant(np.arange(6.0).reshape(2, 3), name="A"),
    "unnamed const": lambda: kv.Constant(np.arange(6.0).reshape(2, 3)),
    "eye": lambda: kv.eye(3),
    "zeros": lambda: kv.zeros(2, 3),
    "ones": lambda: kv.ones(2, 3),
}


def _expression(name):
    if name in LEAVES:
        return LEAVES[name]()
    return CASES[name](3, 2, 4)[0]


def _control_characters(text: str) -> list[str]:
    """The characters of Unicode category C (control, format, unassigned, private use)."""
    return [f"U+{ord(c):04X}" for c in text if unicodedata.category(c).startswith("C")]


@pytest.mark.parametrize("name", [*LEAVES, *CASES])
def test_every_printing_is_printable_text(name):
    """Unicode, LaTeX and Python text of every node of every case: no control character."""
    e = _expression(name)
    for node in e.walk():
        op = registry.spec(node.op)
        for style, text in (("unicode", str(node)), ("latex", node.latex()), ("python", to_python(node))):
            assert isinstance(text, str) and text, f"{op.name}: empty {style} printing"
            bad = _control_characters(text)
            assert not bad, (f"{op.name} ({op.family}): its {style} printing has control characters {bad} "
                             f"(a LaTeX name in a non-raw string?): {text!r}")


@pytest.mark.parametrize("op", [op for op in PUBLIC if op.signature is not None and op.signature.keywords],
                         ids=lambda op: op.name)
def test_python_defaults_equal_the_signature_defaults(op):
    """kv.f(A) and the parser's f(A) (which fills in the signature's defaults) are one call."""
    parameters = inspect.signature(op.function).parameters
    for keyword, default in op.signature.keywords.items():
        assert keyword in parameters, f"kv.{op.public}: lacks {keyword!r} (its signature declares it)"
        python = parameters[keyword].default
        assert python is not inspect.Parameter.empty, f"kv.{op.public}: {keyword} has no default in Python"
        assert python == default and type(python) is type(default), (
            f"kv.{op.public}: {keyword}={python!r} in Python but {keyword}={default!r} in its signature "
            f"(the first alternative naming it), so kv.{op.public}(A) and the parser's {op.public}(A) differ")


def test_the_defaults_test_can_fail():
    sig = parse_signature("(m,n),axis=None->() | (m,n),axis=0->(1,n)")

    def f(a, axis=0):
        """A function whose default differs from its signature's."""
    bad = registry.OpSpec(name="f", family="test", public="f", function=f, signature=sig)
    with pytest.raises(AssertionError, match="axis=0 in Python but axis=None"):
        test_python_defaults_equal_the_signature_defaults(bad)


# ------------------------------------------------------------- round trip
OPERATOR_NODES = {"symbol", "const", "add", "scale", "smul", "getitem", "index", "pow"}
"""Internal nodes that operators and literals build (``A + B``, ``2 * A``, ``A[0, 1]``, ``A ** s``)."""


def _why_not_parseable(e, text: str) -> str | None:
    """Why the parser cannot read ``text`` by design (None: it must read it back)."""
    calls = {n.func.id for n in ast.walk(ast.parse(text)) if isinstance(n, ast.Call)
             and isinstance(n.func, ast.Name)}
    internal = calls - set(function_names())
    internal |= {node.op for node in e.walk() if registry.spec(node.op).public is None} - OPERATOR_NODES
    if internal:
        return f"internal nodes {sorted(internal)}: public functions build them, the parser reads those"
    if calls & {"reshape", "expand_dims", "squeeze", "einsum"}:
        return "a shape, axes or subscripts as an argument: the parser reads numbers and matrices"
    if "norm" in calls and "axis=" in text:
        return "norm(..., axis=...) is not parsed: the parser reads norms of whole matrices"
    if any(node.op == "named" for node in e.walk()):
        return "a named subexpression prints as its name"
    if any(node.ndim not in (0, 2) for node in e.walk() if node.op == "symbol"):
        return "the parser reads matrices, not stacks"
    if any(registry.public_functions()[c].outputs for c in calls if c in registry.public_functions()):
        return "an output of a function with several outputs"
    return None


def _constants(e, printer: PythonPrinter) -> dict:
    nodes = [node for node in e.walk() if node.op == "const"]
    by_value = {node.params.value: node for node in nodes}
    named = {node.params.value.name: node for node in nodes if (node.params.value.name or "").isidentifier()}
    return {**named, **{label: by_value[value] for label, value in printer.constants().items()}}


def _round_trip(e):
    printer = PythonPrinter()
    text = printer(e)
    symbols = {node.params.name: node for node in e.walk() if node.op == "symbol"}
    assert not any(node.params.positive_definite for node in symbols.values()), "declare it symmetric"
    symmetric = [name for name, s in symbols.items() if s.params.symmetric and s.ndim == 2]
    again = parse_expression(text, {name: s.shape for name, s in symbols.items()}, kv, symmetric=symmetric,
                             constants=_constants(e, printer))
    assert again is e, f"{text!r} parses back to {to_python(again)!r}"


@pytest.mark.parametrize("name", [*LEAVES, *CASES])
def test_the_python_form_parses_back_to_the_same_expression(name):
    e = _expression(name)
    if name in LEAVES:  # inside a product, as they occur
        e = kv.Matrix("Z", (3, e.shape[0])) @ e
    reason = _why_not_parseable(e, to_python(e))
    if reason:
        pytest.skip(reason)
    _round_trip(e)


@pytest.mark.parametrize("make", [
    lambda X: kv.Constant(np.full((3, 3), 2.0), name="W") @ X,
    lambda X: kv.Constant(np.pi, name="pi") * X,
    lambda X: kv.Constant(np.arange(3.0), name="c") * X,  # a named column, broadcast
    lambda X: kv.Constant(np.arange(9.0).reshape(3, 3)) @ X + kv.Constant(np.ones((3, 3)) * 2) @ X.T,
    lambda X: kv.Constant(np.arange(9.0).reshape(3, 3), name="[0 I 0]") @ X,  # not a Python name
    lambda X: kv.pinv(X, rtol=1e-6) + kv.pinv(X, hermitian=True),
], ids=["named matrix", "named scalar", "named column", "unnamed", "display name", "pinv keywords"])
def test_constants_and_keywords_parse_back(make):
    _round_trip(make(kv.Matrix("X", (3, 3))))
