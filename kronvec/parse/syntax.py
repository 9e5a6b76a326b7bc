"""From text to a small checked tree, through a strict whitelist.

The text is parsed with :func:`ast.parse` and walked node by node: symbol
names, numbers, the operators ``@ + - * / **``, unary ``- +``, the attribute
``.T``, subscripts whose indices are integer literals or slices of integer
literals (``X[0, 1:3]``, ``x[-1]``, ``X[::2, :]``), and calls of the public
functions of the op registry with positional arguments (lists of matrices
for those that take blocks: ``block([[A, B], [C, D]])``, ``hstack([A, B])``),
the literal keyword parameters their signatures declare (``axis=0``) and
the literal keyword arguments of their Python functions (``lower=True``);
``einsum`` takes its subscripts as a string literal and ``reshape`` a shape of
integer literals, as the Python API spells them.
Anything else is refused with the offending piece and its column.
Nothing is ever evaluated by Python.  Numbers are folded as they are read,
and symbols are marked where random test values must be invertible or
positive (the registry's ``domain`` of each argument).
"""
from __future__ import annotations

import ast
import inspect
import math
import operator
from dataclasses import dataclass, field
from typing import Any, Callable, Union

from ..registry import public_functions, signature_of

__all__ = ["ParseError", "Num", "Sym", "Apply", "Index", "Seq", "Lit", "Node", "read", "MAX_LENGTH",
           "MAX_DEPTH", "function_names"]

MAX_LENGTH = 10_000
MAX_DEPTH = 100

_BINARY = {ast.MatMult: "@", ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}
_REFUSED_OPERATORS = {ast.FloorDiv: "//", ast.Mod: "%", ast.LShift: "<<", ast.RShift: ">>",
                      ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&", ast.Invert: "~", ast.Not: "not"}
_FOLD: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul, "/": operator.truediv}
_NODE_NAMES = {
    "Subscript": "indexing", "Lambda": "a lambda", "ListComp": "a comprehension",
    "SetComp": "a comprehension", "DictComp": "a comprehension",
    "GeneratorExp": "a generator expression", "List": "a list", "Tuple": "a tuple", "Set": "a set",
    "Dict": "a dict", "Compare": "a comparison", "BoolOp": "a boolean operator",
    "IfExp": "a conditional expression", "NamedExpr": "an assignment", "JoinedStr": "an f-string",
    "Starred": "unpacking", "Await": "await", "Yield": "yield", "YieldFrom": "yield",
    "Slice": "a slice", "FormattedValue": "an f-string",
}


class ParseError(ValueError):
    """An expression text that is not a valid kronvec matrix expression."""


@dataclass(frozen=True)
class Num:
    """A numeric constant."""

    value: Union[int, float]


@dataclass(frozen=True)
class Sym:
    """A symbol, referred to by name."""

    name: str
    where: ast.AST | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Apply:
    """An operator (``@``, ``neg``, ``T``, ...) or a registry function applied to args."""

    op: str
    args: tuple["Node", ...]
    where: ast.AST | None = field(default=None, compare=False)
    keywords: tuple[tuple[str, Any], ...] = ()  # literal keywords: axis=0 (defaults filled in), lower=True


@dataclass(frozen=True)
class Index:
    """``base[key]``: ``parts`` are integers and ``(start, stop, step)`` triples (slices)."""

    base: "Node"
    parts: tuple[Union[int, tuple[Union[int, None], ...]], ...]
    where: ast.AST | None = field(default=None, compare=False)

    def key(self) -> Any:
        """The key as Python writes it (an int, a slice or a tuple of them)."""
        parts = tuple(slice(*p) if isinstance(p, tuple) else p for p in self.parts)
        return parts[0] if len(parts) == 1 else parts


@dataclass(frozen=True)
class Seq:
    """A list of matrices (or of lists of them), the argument of ``block``, ``hstack``, ``vstack``."""

    items: tuple[Any, ...]
    where: ast.AST | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Lit:
    """A literal argument that is neither a number nor a matrix: einsum's subscripts, a shape."""

    value: Any
    where: ast.AST | None = field(default=None, compare=False)


Node = Union[Num, Sym, Apply, Index, Seq, Lit]

_INDEX_HELP = "only integer literals and slices of integer literals are allowed as indices, e.g. X[0, 1:3]"


def function_names() -> list[str]:
    """The functions a text may call: the public functions of the registry."""
    return sorted(public_functions())


class Reader:
    """Walks a Python AST with the whitelist; records test-value hints."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.functions = public_functions()
        self.invertible: set[str] = set()
        self.positive: set[str] = set()
        self.unit: set[str] = set()

    def error(self, node: ast.AST, message: str) -> ParseError:
        """A ParseError quoting ``node`` and its position."""
        segment = ast.get_source_segment(self.text, node) or ""
        if len(segment) > 60:
            segment = segment[:57] + "..."
        return ParseError(f"{message} at {self.position(node)}: {segment!r}")

    def position(self, node: ast.AST) -> str:
        """``column C`` (or ``line L, column C``) of ``node``, 1-based."""
        line_number = getattr(node, "lineno", 1)
        line = self.text.splitlines()[line_number - 1] if self.text else ""
        offset = getattr(node, "col_offset", 0)
        column = len(line.encode("utf-8")[:offset].decode("utf-8", "ignore")) + 1
        if "\n" in self.text.strip():
            return f"line {line_number}, column {column}"
        return f"column {column}"

    def refused(self, node: ast.AST) -> ParseError:
        name = type(node).__name__
        return self.error(node, f"{_NODE_NAMES.get(name, f'Python syntax {name!r}')} is not allowed")

    def visit(self, node: ast.AST, depth: int, hint: str = "") -> Node:
        if depth > MAX_DEPTH:
            raise self.error(node, f"expression is nested more than {MAX_DEPTH} levels deep")
        visitor = _VISITORS.get(type(node))
        if visitor is None:
            raise self.refused(node)
        return visitor(self, node, depth, hint)

    def visit_Constant(self, node: ast.Constant, depth: int, hint: str) -> Node:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = "a string" if isinstance(value, (str, bytes)) else f"the constant {value!r}"
            raise self.error(node, f"{kind} is not allowed (only numbers)")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.error(node, "number is not finite")
        return Num(value)

    def visit_Name(self, node: ast.Name, depth: int, hint: str) -> Node:
        name = node.id
        if name.startswith("_"):
            raise self.error(node, f"name {name!r} is not allowed (names may not start with '_')")
        if name in self.functions:
            raise self.error(node, f"function {name!r} used as a value; call it, e.g. {name}(X)")
        hinted = {"invertible": self.invertible, "positive": self.positive, "unit": self.unit}
        hinted.get(hint, set()).add(name)
        return Sym(name, node)

    def visit_Attribute(self, node: ast.Attribute, depth: int, hint: str) -> Node:
        if node.attr != "T":
            raise self.error(node, f"attribute {'.' + node.attr!r} is not allowed (only .T)")
        inner = self.visit(node.value, depth + 1, hint)
        if isinstance(inner, Num):
            raise self.error(node, ".T needs a matrix, not a number")
        return Apply("T", (inner,), node)

    def visit_UnaryOp(self, node: ast.UnaryOp, depth: int, hint: str) -> Node:
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            symbol = _REFUSED_OPERATORS.get(type(node.op), type(node.op).__name__)
            raise self.error(node, f"operator {symbol!r} is not allowed")
        inner = self.visit(node.operand, depth + 1, hint)
        negate = isinstance(node.op, ast.USub)
        if isinstance(inner, Num):
            return Num(-inner.value if negate else inner.value)
        return Apply("neg", (inner,), node) if negate else inner

    def visit_BinOp(self, node: ast.BinOp, depth: int, hint: str) -> Node:
        symbol = _BINARY.get(type(node.op))
        if symbol is None:
            symbol = _REFUSED_OPERATORS.get(type(node.op), type(node.op).__name__)
            raise self.error(node, f"operator {symbol!r} is not allowed")
        left = self.visit(node.left, depth + 1, hint)
        right = self.visit(node.right, depth + 1, "positive" if symbol == "/" else hint)
        if isinstance(left, Num) and isinstance(right, Num):
            return self.fold(node, symbol, left, right)
        if symbol == "**" and (not isinstance(right, Num) or right.value < 0
                               or right.value != int(right.value)):
            self.positive.update(_symbols_in(left))  # a real exponent needs a positive base
        return Apply(symbol, (left, right), node)

    def visit_Subscript(self, node: ast.Subscript, depth: int, hint: str) -> Node:
        base = self.visit(node.value, depth + 1, hint)
        if isinstance(base, Num):
            raise self.error(node, "a number cannot be indexed")
        elements = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
        if not elements or len(elements) > 2:
            raise self.error(node, f"a matrix takes one or two indices, got {len(elements)}")
        parts: list[Any] = []
        for element in elements:
            if isinstance(element, ast.Slice):
                bounds = (element.lower, element.upper, element.step)
                parts.append(tuple(None if b is None else self.index_literal(b) for b in bounds))
                if parts[-1][2] == 0:
                    raise self.error(element, "slice step cannot be zero")
            else:
                parts.append(self.index_literal(element))
        return Index(base, tuple(parts), node)

    def index_literal(self, node: ast.AST) -> int:
        """An integer literal (possibly negative) used as an index."""
        inner, sign = node, 1
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            inner, sign = node.operand, -1 if isinstance(node.op, ast.USub) else 1
        if isinstance(inner, ast.Constant) and type(inner.value) is int:
            return sign * inner.value
        raise self.error(node, f"this index is not allowed ({_INDEX_HELP})")

    def visit_blocks(self, node: ast.AST, arrangement: str, name: str, depth: int, hint: str) -> Seq:
        """The list argument of ``block``/``hstack``/``vstack``: matrices, or (for block) rows of them."""
        kinds = (ast.List,) if arrangement == "grid" else (ast.List, ast.Tuple)
        if not isinstance(node, kinds):
            raise self.error(node, f"{name}() takes a list of matrices, e.g. {name}([A, B])")
        if not node.elts:
            raise self.error(node, f"{name}() needs at least one matrix")
        items: list[Any] = []
        for element in node.elts:
            if isinstance(element, (ast.List, ast.Tuple)):
                if arrangement != "grid" or not isinstance(element, ast.List) or \
                        any(isinstance(e, (ast.List, ast.Tuple)) for e in element.elts):
                    raise self.error(element, f"{name}() takes a list of matrices here "
                                              f"(block() takes lists of rows, two lists deep at most)")
                items.append(self.visit_blocks(element, "row", name, depth + 1, hint))
            else:
                items.append(self.visit(element, depth + 1, hint))
        if len({isinstance(x, Seq) for x in items}) > 1:
            raise self.error(node, f"{name}(): list depths are mismatched")
        return Seq(tuple(items), node)

    def fold(self, node: ast.BinOp, symbol: str, left: Num, right: Num) -> Num:
        """The number that ``left symbol right`` denotes."""
        if symbol == "@":
            raise self.error(node, "operator '@' needs matrices, not numbers")
        try:
            value = _power(left.value, right.value) if symbol == "**" else \
                _FOLD[symbol](left.value, right.value)
        except (ArithmeticError, ValueError) as exc:
            raise self.error(node, f"invalid arithmetic ({exc})") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise self.error(node, "number is not finite")
        return Num(value)

    def visit_Call(self, node: ast.Call, depth: int, hint: str) -> Node:
        func = node.func
        listed = ", ".join(sorted(self.functions))
        if not isinstance(func, ast.Name):
            callee = ast.get_source_segment(self.text, func) or type(func).__name__
            raise self.error(node, f"calling {callee!r} is not allowed (only {listed})")
        op = self.functions.get(func.id)
        if op is None:
            raise self.error(node, f"unknown function {func.id!r} (allowed: {listed})")
        name = func.id
        if name in _TENSOR_CALLS:
            return _TENSOR_CALLS[name](self, node, depth, hint)
        if op.outputs:
            raise self.error(node, f"{name}() returns {len(op.outputs)} outputs ({', '.join(op.outputs)}), "
                                   f"but an expression has one value; use a single-valued function "
                                   f"({_SINGLE_VALUED}) or call kronvec.{name} from Python")
        signature = signature_of(op)
        declared = signature.keywords
        arity = signature.arity
        if not arity <= len(node.args) <= arity + len(declared):
            also = f" (and {', '.join(f'{k}=' for k in declared)})" if declared else ""
            raise self.error(node, f"{name}() takes {arity} argument{'s' if arity != 1 else ''}{also}, "
                                   f"got {len(node.args)}")
        for argument in node.args:
            if isinstance(argument, ast.Starred):
                raise self.refused(argument)
        keywords = self.keywords(node, name, declared) if declared else \
            self.function_keywords(node, name, op.function)
        domain = op.domain + ("",) * arity
        specs = signature.alternatives[0].args
        args = tuple(self.visit_blocks(a, specs[i].dims[0], name, depth + 1, hint)
                     if specs[i].kind == "blocks" else self.visit(a, depth + 1, domain[i] or hint)
                     for i, a in enumerate(node.args[:arity]))
        return Apply(name, args, node, keywords)

    def function_keywords(self, node: ast.Call, name: str,
                          function: Callable[..., Any] | None) -> tuple[tuple[str, Any], ...]:
        """The literal keyword arguments of a call (``lower=True``, ``UPLO="U"``, ``ord="nuc"``).

        Only the function's own keyword parameters, each given once, with a
        number, a boolean or a short string as its value.
        """
        if function is None:
            raise TypeError(f"kv.{name} has no function")
        hidden = getattr(function, "stack_keywords", ())  # meaningful for stacks only, never parsed
        allowed = [p.name for p in inspect.signature(function).parameters.values()
                   if p.default is not inspect.Parameter.empty and p.name not in hidden]
        if any(kw.arg is None for kw in node.keywords):
            raise self.error(node, f"unpacking (**) is not allowed in {name}()")
        if node.keywords and not allowed:
            raise self.error(node, f"keyword arguments are not allowed in {name}()")
        out: dict[str, Any] = {}
        for kw in node.keywords:
            if kw.arg is None:
                raise self.error(node, f"unpacking (**) is not allowed in {name}()")
            if kw.arg not in allowed:
                known = f" (it takes {', '.join(allowed)})" if allowed else " (it takes none)"
                raise self.error(node, f"unknown keyword argument {kw.arg!r} in {name}(){known}")
            if kw.arg in out:
                raise self.error(node, f"keyword argument {kw.arg!r} given twice in {name}()")
            out[kw.arg] = self.free_literal(kw.value, f"{name}({kw.arg}=...)")
        return tuple(out.items())

    def free_literal(self, value: ast.AST, what: str) -> Any:
        """A literal keyword value: a number (possibly negative), True/False/None or a short string."""
        negate = isinstance(value, ast.UnaryOp) and isinstance(value.op, ast.USub)
        inner = value.operand if isinstance(value, ast.UnaryOp) and negate else value
        if isinstance(inner, ast.Constant):
            v = inner.value
            if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v):
                return -v if negate else v
            if not negate and (v is None or isinstance(v, bool) or isinstance(v, str) and len(v) <= 8):
                return v
        raise self.error(value, f"{what} needs a literal value (a number, True, False or a short string)")

    def keywords(self, node: ast.Call, name: str, declared: dict[str, Any]) -> tuple[tuple[str, Any], ...]:
        """The declared keyword parameters of a call (given by name, or by position after
        the arrays), each a literal, checked against the signature; defaults filled in."""
        given: dict[str, Any] = {}
        arity = signature_of(self.functions[name]).arity
        for key, value in zip(declared, node.args[arity:]):
            given[key] = self.literal(value, name, key)
        for keyword in node.keywords:
            if keyword.arg is None:
                raise self.error(keyword.value, "unpacking with '**' is not allowed")
            if keyword.arg not in declared:
                takes = ", ".join(f"{k}=" for k in declared)
                raise self.error(node, f"keyword argument {keyword.arg!r} is not allowed in {name}() "
                                       f"(it takes {takes})")
            if keyword.arg in given:
                raise self.error(node, f"{name}() got {keyword.arg}= twice")
            given[keyword.arg] = self.literal(keyword.value, name, keyword.arg)
        try:
            return tuple(signature_of(self.functions[name]).resolve(name, given).items())
        except (TypeError, ValueError) as exc:
            raise self.error(node, str(exc)) from None

    def literal(self, node: ast.AST, name: str, key: str) -> Any:
        """The value of a literal keyword argument: None, an integer, True/False or a string."""
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub) \
                and isinstance(node.operand, ast.Constant) and type(node.operand.value) is int:
            return -node.operand.value
        if isinstance(node, ast.Constant) and (node.value is None or type(node.value) in (int, bool, str)):
            return node.value
        raise self.error(node, f"{name}() needs a literal value for {key}= (such as None or 0)")


    # ------------------------------------------------ einsum and reshape
    def visit_einsum(self, node: ast.Call, depth: int, hint: str) -> Node:
        """``einsum('ij,jk->ik', A, B)``: the subscripts as a string literal, then the operands."""
        if node.keywords:
            raise self.error(node, "einsum() takes no keyword arguments here")
        if len(node.args) < 2:
            raise self.error(node, "einsum() takes the subscripts and at least one operand, "
                                   "e.g. einsum('ij,jk->ik', A, B)")
        first = node.args[0]
        if not (isinstance(first, ast.Constant) and isinstance(first.value, str)) \
                or len(first.value) > 64 or not set(first.value) <= _SUBSCRIPT_CHARACTERS:
            raise self.error(first, "einsum() needs its subscripts as a string literal of letters, "
                                    "',' and '->', e.g. 'ij,jk->ik'")
        operands = tuple(self.visit(a, depth + 1, hint) for a in node.args[1:])
        return Apply("einsum", (Lit(first.value, first), *operands), node)

    def visit_reshape(self, node: ast.Call, depth: int, hint: str) -> Node:
        """``reshape(A, (r, c))`` or ``reshape(A, (r, -1), order='F')``: the shape as integer literals."""
        order = [self.literal(a, "reshape", "order") for a in node.args[2:3]]
        for keyword in node.keywords:
            if keyword.arg != "order" or order:
                raise self.error(node, "reshape() takes the matrix, the shape and order= only")
            order.append(self.literal(keyword.value, "reshape", "order"))
        if not 2 <= len(node.args) <= 3 or order and order[0] not in ("C", "F"):
            raise self.error(node, "reshape() takes a matrix, a shape such as (3, 4), and order='C' or 'F'")
        target = node.args[1]
        items = target.elts if isinstance(target, ast.Tuple) else [target]
        shape = tuple(self.index_literal(item) for item in items)
        operand = self.visit(node.args[0], depth + 1, hint)
        return Apply("reshape", (operand, Lit(shape, target)), node, (("order", order[0] if order else "C"),))


_SUBSCRIPT_CHARACTERS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ,->. ")
_TENSOR_CALLS: dict[str, Callable[..., Node]] = {"einsum": Reader.visit_einsum,
                                                  "reshape": Reader.visit_reshape}

_VISITORS: dict[type, Callable[..., Node]] = {
    ast.Constant: Reader.visit_Constant, ast.Name: Reader.visit_Name,
    ast.Attribute: Reader.visit_Attribute, ast.UnaryOp: Reader.visit_UnaryOp,
    ast.BinOp: Reader.visit_BinOp, ast.Call: Reader.visit_Call, ast.Subscript: Reader.visit_Subscript,
}


_SINGLE_VALUED = "eigvalsh(A), cholesky(A), norm(A, ord=2), norm(A, ord='nuc'), ..."


def _power(base: Union[int, float], exponent: Union[int, float]) -> Union[int, float]:
    """``base ** exponent`` for numbers without unbounded big-int work."""
    value = math.pow(base, exponent)
    if isinstance(base, int) and isinstance(exponent, int) and exponent >= 0 and abs(value) < 2.0**53:
        return int(value)
    return value


def _symbols_in(tree: Node) -> set[str]:
    if isinstance(tree, Sym):
        return {tree.name}
    if isinstance(tree, Apply):
        return set().union(*(_symbols_in(arg) for arg in tree.args))
    if isinstance(tree, Index):
        return _symbols_in(tree.base)
    if isinstance(tree, Seq):
        return set().union(*(_symbols_in(item) for item in tree.items))
    return set()


def _bracket_depth(text: str) -> int:
    depth = deepest = 0
    for char in text:
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    return deepest


def read(text: str) -> tuple[Node, Reader]:
    """The checked tree of ``text`` and the reader (with its hints), or a ParseError."""
    if not isinstance(text, str):
        raise ParseError(f"expression must be a string, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"expression is too long ({len(text)} characters; at most {MAX_LENGTH})")
    if not text.strip():
        raise ParseError("expression is empty")
    if _bracket_depth(text) > MAX_DEPTH:
        raise ParseError(f"expression is nested more than {MAX_DEPTH} levels deep")
    try:
        body = ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        where = f" at column {exc.offset}" if exc.offset else ""
        raise ParseError(f"invalid syntax{where}: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise ParseError(f"expression is nested too deeply (at most {MAX_DEPTH} levels)") from None
    reader = Reader(text.strip())
    tree = reader.visit(body, 1)
    if isinstance(tree, Num):
        raise ParseError("the expression is a plain number; it must contain a matrix symbol")
    return tree, reader
