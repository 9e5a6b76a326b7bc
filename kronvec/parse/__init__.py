"""A whitelisting parser for matrix expressions written in Python syntax.

``parse_expression("inv(X.T @ inv(V) @ X)", {"X": (5, 3)}, kv)`` reads the
text with a strict whitelist (:mod:`.syntax`), infers the shapes of symbols
not given from the registry's signatures (:mod:`.inference`), and rebuilds
the expression by calling the functions of a namespace (normally the
``kronvec`` package).  Nothing in the text is ever evaluated by Python.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Mapping

from .inference import Inference
from .syntax import MAX_DEPTH, MAX_LENGTH, Index, Lit, Node, Num, ParseError, Seq, Sym, function_names, read

__all__ = ["MAX_DEPTH", "MAX_LENGTH", "Analysis", "ParseError", "ParsedExpression", "analyze", "build",
           "parse", "parse_expression", "function_names"]


@dataclass
class Analysis:
    """The result of :func:`analyze`: a checked tree and the symbols' shapes.

    Attributes
    ----------
    tree : Node
        The expression in a small intermediate form (numbers folded).
    shapes : dict[str, tuple[int, ...]]
        Every symbol's shape, in order of first appearance; ``()`` for a
        scalar (declared, or used only as a scalar factor, as s in ``s * A``).
    invertible : frozenset[str]
        Symbols that occur where the registry asks for invertible values
        (under ``inv``, ``det``, ``logdet``, as the first argument of ``solve``).
    positive : frozenset[str]
        Symbols that occur under ``log``, ``sqrt``, a fractional or negative
        power, or in a denominator (random test values should be positive).
    unit : frozenset[str]
        Symbols that occur where the registry asks for values in (0, 1) (under ``logit``).
    """

    tree: Node
    shapes: dict[str, tuple[int, ...]]
    invertible: frozenset[str] = field(default_factory=frozenset)
    positive: frozenset[str] = field(default_factory=frozenset)
    unit: frozenset[str] = field(default_factory=frozenset)


def _normalize_shape(name: str, shape: Any) -> tuple[int, ...]:
    """``shape`` as ``(rows, cols)``; an int or 1-tuple is a column, ``()`` a scalar."""
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape, 1)
    if shape == "scalar":
        shape = ()
    shape = tuple(shape)
    if shape == ():
        result: tuple[int, ...] = shape
        return result
    if len(shape) == 1:
        shape = (shape[0], 1)
    valid = len(shape) == 2 and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape)
    if not valid:
        raise ParseError(f"invalid shape for {name!r}: {shape!r} (expected two positive integers)")
    result = shape
    return result


def analyze(text: str, shapes: Mapping[str, Any] | None = None) -> Analysis:
    """Check an expression text and infer its symbols' shapes.

    Parameters
    ----------
    text : str
        The expression, e.g. ``"inv(X.T @ inv(V) @ X)"``.
    shapes : mapping of str to (int, int), optional
        Known shapes; an int ``n`` (or ``(n,)``) means the column ``(n, 1)``,
        and ``()`` or ``"scalar"`` a scalar.

    Raises
    ------
    ParseError
        For anything outside the whitelist, a shape conflict or a symbol whose
        shape cannot be determined.
    """
    given = {name: _normalize_shape(name, s) for name, s in (shapes or {}).items()}
    tree, reader = read(text)
    inference = Inference(reader, given)
    inference.type_of(tree)
    inference.solve_deferred()
    inference.default_sizes()
    return Analysis(tree, inference.resolved_shapes(), frozenset(reader.invertible),
                    frozenset(reader.positive), frozenset(reader.unit))


_OPERATORS: dict[str, Callable[..., Any]] = {
    "@": operator.matmul, "+": operator.add, "-": operator.sub, "*": operator.mul,
    "/": operator.truediv, "**": operator.pow, "neg": operator.neg, "T": operator.attrgetter("T"),
}


def _build_node(tree: Node, symbols: Mapping[str, Any], namespace: Any) -> Any:
    if isinstance(tree, (Num, Lit)):
        return tree.value
    if isinstance(tree, Sym):
        return symbols[tree.name]
    if isinstance(tree, Index):
        return _build_node(tree.base, symbols, namespace)[tree.key()]
    if isinstance(tree, Seq):
        return [_build_node(item, symbols, namespace) for item in tree.items]
    args = [_build_node(arg, symbols, namespace) for arg in tree.args]
    if tree.op in _OPERATORS:
        return _OPERATORS[tree.op](*args)
    function = getattr(namespace, tree.op, None)
    if not callable(function):
        raise ParseError(f"function {tree.op!r} is not available in this version of kronvec")
    return function(*args, **dict(tree.keywords))


@dataclass
class ParsedExpression:
    """An expression built in a namespace, with its symbols (by name, in order of
    first appearance) and the :class:`Analysis` it came from."""

    expression: Any
    symbols: dict[str, Any]
    analysis: Analysis


def build(analysis: Analysis, namespace: Any, symmetric: Collection[str] = (),
          constants: Mapping[str, Any] | None = None) -> ParsedExpression:
    """Build an analyzed expression with the functions of ``namespace``; the
    symbols named in ``symmetric`` are declared ``symmetric=True``, and the
    names in ``constants`` stand for those expressions (named constants)."""
    symbols = {}
    for name, shape in analysis.shapes.items():
        if constants and name in constants:
            symbols[name] = constants[name]
            continue
        if name in symmetric and shape[0] != shape[1]:
            raise ParseError(f"{name!r} is declared symmetric but its shape {shape[0]}×{shape[1]} "
                             f"is not square")
        if shape == ():
            symbols[name] = namespace.Scalar(name)
            continue
        symbols[name] = namespace.Matrix(name, shape, **({"symmetric": True} if name in symmetric else {}))
    return ParsedExpression(_build_node(analysis.tree, symbols, namespace), symbols, analysis)


def parse(text: str, shapes: Mapping[str, Any] | None, namespace: Any,
          symmetric: Collection[str] = (), constants: Mapping[str, Any] | None = None) -> ParsedExpression:
    """Parse ``text`` and build it in ``namespace``; see :func:`parse_expression`."""
    known = {**(shapes or {}), **{name: c.shape for name, c in (constants or {}).items()}}
    return build(analyze(text, known), namespace, symmetric, constants)


def parse_expression(text: str, shapes: Mapping[str, Any] | None, namespace: Any,
                     symmetric: Collection[str] = (), constants: Mapping[str, Any] | None = None) -> Any:
    """Parse a matrix expression written in Python syntax.

    Parameters
    ----------
    text : str
        E.g. ``"inv(X.T @ inv(V) @ X)"``.  Allowed: symbol names, numbers,
        ``@ + - * / **``, unary ``- +``, ``.T``, subscripts with integer
        literals and slices of them (``X[0, 1:3]``) and calls of the public
        functions of the op registry (:func:`function_names`) with positional
        arguments (lists of matrices for ``block``, ``hstack`` and ``vstack``)
        and literal keywords (``axis=0``, ``lower=True``); ``einsum`` with its subscripts as a
        string literal (``einsum('ij,jk->ik', A, B)``, operands and result matrices) and
        ``reshape`` with a shape of integer literals (``reshape(A, (3, -1), order='F')``).
    shapes : mapping of str to (int, int), optional
        Shapes of symbols; the others are inferred.  An int ``n`` means ``(n, 1)``.
    namespace : module-like
        Provides ``Matrix`` and the functions (normally the ``kronvec`` package).
    symmetric : collection of str, optional
        Symbols to declare ``symmetric=True``.
    constants : mapping of str to Expr, optional
        Named constants (``kv.Constant(value, name)``) by the name their Python
        form prints, so that printed text parses back to the same expression.

    Raises
    ------
    ParseError
        For text outside the whitelist (quoting the piece and its column),
        texts over 10,000 characters, nesting deeper than 100, shape
        conflicts, or symbols whose shape cannot be inferred.
    """
    return parse(text, shapes, namespace, symmetric, constants).expression
