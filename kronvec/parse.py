"""A whitelisting parser for matrix expressions written in Python syntax.

The text is parsed with :func:`ast.parse` and the tree is walked with a strict
whitelist: symbol names, numbers, the operators ``@ + - * / **``, unary
``- +``, the attribute ``.T`` and calls of a fixed set of kronvec functions
with positional arguments. Nothing is ever evaluated by Python; the
expression is rebuilt by calling the functions of a namespace (the
``kronvec`` package).

Shapes of symbols not given explicitly are inferred by unification over
dimension variables (a small union-find whose classes may be bound to a
known size), plus a few deferred constraints (``kron`` multiplies sizes,
``diag`` is either vector -> matrix or matrix -> vector).
"""
from __future__ import annotations

import ast
import math
import operator
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Mapping, Union

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "Analysis",
    "ParseError",
    "ParsedExpression",
    "analyze",
    "build",
    "parse",
    "parse_expression",
]

MAX_LENGTH = 10_000
MAX_DEPTH = 100

ARITY: dict[str, int] = {
    "inv": 1, "solve": 2, "trace": 1, "det": 1, "logdet": 1, "kron": 2,
    "exp": 1, "log": 1, "sin": 1, "cos": 1, "tanh": 1, "sqrt": 1,
    "sum": 1, "norm": 1, "diag": 1, "matrix_power": 2, "expm": 1, "eye": 1,
    "zeros": 2, "ones": 2,
}
FUNCTIONS = frozenset(ARITY)

_ELEMENTWISE = frozenset({"exp", "log", "sin", "cos", "tanh", "sqrt"})
_SQUARE_SAME = frozenset({"inv", "expm"})
_SQUARE_SCALAR = frozenset({"trace", "det", "logdet"})
_SCALAR = frozenset({"sum", "norm"})
_INVERTIBLE = frozenset({"inv", "det", "logdet"})
_POSITIVE = frozenset({"log", "sqrt"})

_BINARY_SYMBOLS: dict[type, str] = {
    ast.MatMult: "@", ast.Add: "+", ast.Sub: "-",
    ast.Mult: "*", ast.Div: "/", ast.Pow: "**",
}
_OTHER_OPERATORS: dict[type, str] = {
    ast.FloorDiv: "//", ast.Mod: "%", ast.LShift: "<<", ast.RShift: ">>",
    ast.BitOr: "|", ast.BitXor: "^", ast.BitAnd: "&",
    ast.Invert: "~", ast.Not: "not",
}
_NUMBER_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add, "-": operator.sub, "*": operator.mul,
    "/": operator.truediv,
}
_NODE_NAMES: dict[str, str] = {
    "Subscript": "indexing", "Lambda": "a lambda", "ListComp": "a comprehension",
    "SetComp": "a comprehension", "DictComp": "a comprehension",
    "GeneratorExp": "a generator expression", "List": "a list",
    "Tuple": "a tuple", "Set": "a set", "Dict": "a dict",
    "Compare": "a comparison", "BoolOp": "a boolean operator",
    "IfExp": "a conditional expression", "NamedExpr": "an assignment",
    "JoinedStr": "an f-string", "Starred": "unpacking", "Await": "await",
    "Yield": "yield", "YieldFrom": "yield", "Slice": "a slice",
    "FormattedValue": "an f-string",
}


class ParseError(ValueError):
    """An expression text that is not a valid kronvec matrix expression."""


# --------------------------------------------------------------------------
# Intermediate representation


@dataclass(frozen=True)
class Num:
    """A numeric constant."""

    value: Union[int, float]


@dataclass(frozen=True)
class Sym:
    """A matrix symbol, referred to by name."""

    name: str


@dataclass(frozen=True)
class Apply:
    """An operator (``@``, ``neg``, ``T``, ...) or function applied to args."""

    op: str
    args: tuple["Node", ...]


Node = Union[Num, Sym, Apply]


@dataclass(frozen=True)
class _Matrix:
    """The inferred type of a matrix-valued node: two dimension variables.

    ``scalar`` marks values that are scalars by construction (``trace``,
    ``det``, ...), which scale a matrix rather than combine with it entrywise.
    """

    rows: int
    cols: int
    scalar: bool = False


_Type = Union[_Matrix, None]  # None: a Python number


# --------------------------------------------------------------------------
# Dimension unification


class _Conflict(Exception):
    """Two dimensions that must be equal have different known sizes."""

    def __init__(self, left: int, right: int) -> None:
        super().__init__(left, right)
        self.left = left
        self.right = right


class _Dims:
    """Union-find over dimension variables; a class may carry a known size."""

    def __init__(self) -> None:
        self._parent: list[int] = []
        self._size: list[int | None] = []

    def new(self, size: int | None = None) -> int:
        """Return a fresh variable, bound to ``size`` if given."""
        self._parent.append(len(self._parent))
        self._size.append(size)
        return len(self._parent) - 1

    def find(self, var: int) -> int:
        """Return the representative of ``var``'s class."""
        root = var
        while self._parent[root] != root:
            root = self._parent[root]
        while self._parent[var] != root:
            self._parent[var], var = root, self._parent[var]
        return root

    def size(self, var: int) -> int | None:
        """Return the known size of ``var``, or None."""
        return self._size[self.find(var)]

    def unify(self, a: int, b: int) -> bool:
        """Make ``a`` and ``b`` equal; return whether anything changed.

        Raises
        ------
        _Conflict
            If both have known, different sizes.
        """
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        sa, sb = self._size[ra], self._size[rb]
        if sa is not None and sb is not None and sa != sb:
            raise _Conflict(sa, sb)
        self._parent[rb] = ra
        self._size[ra] = sa if sa is not None else sb
        return True

    def bind(self, var: int, size: int) -> bool:
        """Give ``var`` the known ``size``; return whether anything changed.

        Raises
        ------
        _Conflict
            If ``var`` already has a different known size.
        """
        root = self.find(var)
        known = self._size[root]
        if known is not None and known != size:
            raise _Conflict(known, size)
        self._size[root] = size
        return known is None


# --------------------------------------------------------------------------
# Analysis: whitelist, typing, shape inference


@dataclass
class Analysis:
    """The result of :func:`analyze`: a checked tree and the symbols' shapes.

    Attributes
    ----------
    tree : Node
        The expression in a small intermediate form (numbers folded).
    shapes : dict[str, tuple[int, int]]
        Every symbol's shape, in order of first appearance.
    invertible : frozenset[str]
        Symbols that occur under ``inv``, ``det``, ``logdet`` or as the first
        argument of ``solve`` (random test values should be SPD if square).
    positive : frozenset[str]
        Symbols that occur under ``log``, ``sqrt``, a fractional or negative
        power, or in a denominator (random test values should be positive).
    """

    tree: Node
    shapes: dict[str, tuple[int, int]]
    invertible: frozenset[str] = field(default_factory=frozenset)
    positive: frozenset[str] = field(default_factory=frozenset)


@dataclass
class _Deferred:
    """A constraint that is applied once enough sizes are known.

    ``operands`` and ``result`` are the types involved, shown on a conflict.
    """

    kind: str
    dims: tuple[int, ...]
    node: ast.AST
    operands: tuple[_Matrix, ...]
    result: _Matrix


class _Analyzer:
    """Walks a Python AST with a whitelist, building IR and shape constraints."""

    def __init__(self, text: str, shapes: Mapping[str, tuple[int, int]]) -> None:
        self.text = text
        self.given = shapes
        self.dims = _Dims()
        self.one = self.dims.new(1)
        self.symbols: dict[str, _Matrix] = {}
        self.deferred: list[_Deferred] = []
        self.invertible: set[str] = set()
        self.positive: set[str] = set()

    # -- errors ----------------------------------------------------------

    def error(self, node: ast.AST, message: str) -> ParseError:
        """Return a ParseError quoting ``node`` and its position."""
        segment = ast.get_source_segment(self.text, node) or ""
        if len(segment) > 60:
            segment = segment[:57] + "..."
        return ParseError(f"{message} at {self.position(node)}: {segment!r}")

    def position(self, node: ast.AST) -> str:
        """Return ``column C`` (or ``line L, column C``) of ``node``, 1-based."""
        line_number = getattr(node, "lineno", 1)
        line = self.text.splitlines()[line_number - 1] if self.text else ""
        offset = getattr(node, "col_offset", 0)
        column = len(line.encode("utf-8")[:offset].decode("utf-8", "ignore")) + 1
        if "\n" in self.text.strip():
            return f"line {line_number}, column {column}"
        return f"column {column}"

    def describe(self, kind: _Type) -> str:
        """Return a type as text, e.g. ``5×3``, ``5×?`` or ``a number``."""
        if kind is None:
            return "a number"
        rows, cols = (self.dims.size(kind.rows), self.dims.size(kind.cols))
        return f"{'?' if rows is None else rows}×{'?' if cols is None else cols}"

    # -- walking ---------------------------------------------------------

    def visit(self, node: ast.AST, depth: int, context: frozenset[str]) -> tuple[Node, _Type]:
        """Check ``node`` and return its IR and type."""
        if depth > MAX_DEPTH:
            raise self.error(node, f"expression is nested more than {MAX_DEPTH} levels deep")
        visitor = getattr(self, f"visit_{type(node).__name__}", None)
        if visitor is None:
            raise self.rejected(node)
        return visitor(node, depth, context)

    def rejected(self, node: ast.AST) -> ParseError:
        """Return the error for a syntax element outside the whitelist."""
        name = type(node).__name__
        description = _NODE_NAMES.get(name, f"Python syntax '{name}'")
        return self.error(node, f"{description} is not allowed")

    def visit_Constant(self, node: ast.Constant, depth: int, context: frozenset[str]) -> tuple[Node, _Type]:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            kind = "a string" if isinstance(value, (str, bytes)) else f"the constant {value!r}"
            raise self.error(node, f"{kind} is not allowed (only numbers)")
        if isinstance(value, float) and not math.isfinite(value):
            raise self.error(node, "number is not finite")
        return Num(value), None

    def visit_Name(self, node: ast.Name, depth: int, context: frozenset[str]) -> tuple[Node, _Type]:
        name = node.id
        if name.startswith("_"):
            raise self.error(node, f"name {name!r} is not allowed (names may not start with '_')")
        if name in FUNCTIONS:
            raise self.error(node, f"function {name!r} used as a value; call it, e.g. {name}(X)")
        if "invertible" in context:
            self.invertible.add(name)
        if "positive" in context:
            self.positive.add(name)
        return Sym(name), self.symbol(name)

    def symbol(self, name: str) -> _Matrix:
        """Return the type of symbol ``name``, creating it on first use."""
        if name not in self.symbols:
            self.symbols[name] = self.symbol_type(name)
        return self.symbols[name]

    def symbol_type(self, name: str) -> _Matrix:
        """Return a fresh type for ``name``, bound to its given shape if any."""
        if name not in self.given:
            return _Matrix(self.dims.new(), self.dims.new())
        rows, cols = _normalize_shape(name, self.given[name])
        return _Matrix(self.dims.new(rows), self.dims.new(cols))

    def visit_Attribute(self, node: ast.Attribute, depth: int, context: frozenset[str]) -> tuple[Node, _Type]:
        if node.attr != "T":
            raise self.error(node, f"attribute {'.' + node.attr!r} is not allowed (only .T)")
        tree, kind = self.visit(node.value, depth + 1, context)
        if kind is None:
            raise self.error(node, ".T needs a matrix, not a number")
        return Apply("T", (tree,)), _Matrix(kind.cols, kind.rows, kind.scalar)

    def visit_UnaryOp(self, node: ast.UnaryOp, depth: int, context: frozenset[str]) -> tuple[Node, _Type]:
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            symbol = _OTHER_OPERATORS.get(type(node.op), type(node.op).__name__)
            raise self.error(node, f"operator {symbol!r} is not allowed")
        tree, kind = self.visit(node.operand, depth + 1, context)
        negate = isinstance(node.op, ast.USub)
        if isinstance(tree, Num):
            return Num(-tree.value if negate else tree.value), None
        return (Apply("neg", (tree,)) if negate else tree), kind

    def visit_BinOp(self, node: ast.BinOp, depth: int, context: frozenset[str]) -> tuple[Node, _Type]:
        symbol = _BINARY_SYMBOLS.get(type(node.op))
        if symbol is None:
            symbol = _OTHER_OPERATORS.get(type(node.op), type(node.op).__name__)
            raise self.error(node, f"operator {symbol!r} is not allowed")
        left, left_type = self.visit(node.left, depth + 1, context)
        right_context = context | {"positive"} if symbol == "/" else context
        right, right_type = self.visit(node.right, depth + 1, right_context)
        if left_type is None and right_type is None:
            return self.fold(node, symbol, left, right), None
        if symbol == "**":
            return self.power(node, left, left_type, right, right_type)
        return Apply(symbol, (left, right)), self.binary_type(node, symbol, left_type, right_type)

    def fold(self, node: ast.BinOp, symbol: str, left: Node, right: Node) -> Num:
        """Return the number that ``left symbol right`` denotes."""
        assert isinstance(left, Num) and isinstance(right, Num)
        if symbol == "@":
            raise self.error(node, "operator '@' needs matrices, not numbers")
        try:
            if symbol == "**":
                value = _power(left.value, right.value)
            else:
                value = _NUMBER_OPS[symbol](left.value, right.value)
        except (ArithmeticError, ValueError) as exc:
            raise self.error(node, f"invalid arithmetic ({exc})") from None
        if isinstance(value, float) and not math.isfinite(value):
            raise self.error(node, "number is not finite")
        return Num(value)

    def power(
        self, node: ast.BinOp, base: Node, base_type: _Type, exponent: Node, exponent_type: _Type
    ) -> tuple[Node, _Type]:
        """Check an elementwise power ``base ** exponent`` (number exponent)."""
        if exponent_type is not None or not isinstance(exponent, Num):
            raise self.error(node, "the exponent of '**' must be a number")
        if exponent.value < 0 or exponent.value != int(exponent.value):
            self.mark_positive(base)
        return Apply("**", (base, exponent)), base_type

    def mark_positive(self, tree: Node) -> None:
        """Record every symbol in ``tree`` as needing positive test values."""
        self.positive.update(_symbols_in(tree))

    def binary_type(self, node: ast.BinOp, symbol: str, left: _Type, right: _Type) -> _Matrix:
        """Return the type of ``left symbol right``, adding constraints."""
        if symbol == "@":
            return self.matmul_type(node, left, right)
        if left is None or left.scalar:
            return right if right is not None else left
        if right is None or right.scalar:
            return left
        if symbol in ("*", "/"):
            scaled = self.scaled_type(left, right)
            if scaled is not None:
                return scaled
        self.equal_shapes(node, left, right, f"operator '{symbol}' needs equal shapes")
        return _Matrix(left.rows, left.cols)

    def scaled_type(self, left: _Matrix, right: _Matrix) -> _Matrix | None:
        """Return the other side's type if one side is a known 1×1 matrix."""
        if self.is_one_by_one(right):
            return left
        if self.is_one_by_one(left):
            return right
        return None

    def is_one_by_one(self, kind: _Matrix) -> bool:
        """Return whether ``kind`` is known to be 1×1."""
        return self.dims.size(kind.rows) == 1 and self.dims.size(kind.cols) == 1

    def matmul_type(self, node: ast.BinOp, left: _Type, right: _Type) -> _Matrix:
        """Return the type of ``left @ right``."""
        if left is None or right is None:
            raise self.error(node, "operator '@' needs matrices, not numbers")
        try:
            self.dims.unify(left.cols, right.rows)
        except _Conflict:
            raise self.error(
                node,
                f"shape mismatch for '@': {self.describe(left)} @ {self.describe(right)} "
                f"(the left operand's columns must equal the right operand's rows)",
            ) from None
        return _Matrix(left.rows, right.cols, left.scalar and right.scalar)

    def equal_shapes(self, node: ast.AST, left: _Matrix, right: _Matrix, message: str) -> None:
        """Unify two shapes, raising a ParseError that shows both on conflict."""
        before = f"{self.describe(left)} and {self.describe(right)}"
        try:
            self.dims.unify(left.rows, right.rows)
            self.dims.unify(left.cols, right.cols)
        except _Conflict:
            raise self.error(node, f"shape mismatch: {message}, got {before}") from None

    def square(self, node: ast.AST, kind: _Matrix, what: str) -> None:
        """Require ``kind`` to be square."""
        before = self.describe(kind)
        try:
            self.dims.unify(kind.rows, kind.cols)
        except _Conflict:
            raise self.error(node, f"shape mismatch: {what} needs a square matrix, got {before}") from None

    def visit_Call(self, node: ast.Call, depth: int, context: frozenset[str]) -> tuple[Node, _Type]:
        name = self.function_name(node)
        if node.keywords:
            raise self.error(node, f"keyword arguments are not allowed in {name}()")
        if len(node.args) != ARITY[name]:
            plural = "s" if ARITY[name] != 1 else ""
            raise self.error(node, f"{name}() takes {ARITY[name]} argument{plural}, got {len(node.args)}")
        for argument in node.args:
            if isinstance(argument, ast.Starred):
                raise self.rejected(argument)
        contexts = _argument_contexts(name, context)
        visited = [self.visit(arg, depth + 1, ctx) for arg, ctx in zip(node.args, contexts, strict=True)]
        trees = tuple(tree for tree, _ in visited)
        return Apply(name, trees), self.call_type(node, name, [kind for _, kind in visited], trees)

    def function_name(self, node: ast.Call) -> str:
        """Return the whitelisted function that ``node`` calls."""
        func = node.func
        if not isinstance(func, ast.Name):
            callee = ast.get_source_segment(self.text, func) or type(func).__name__
            raise self.error(node, f"calling {callee!r} is not allowed (only {_function_list()})")
        if func.id not in FUNCTIONS:
            raise self.error(node, f"unknown function {func.id!r} (allowed: {_function_list()})")
        return func.id

    def call_type(self, node: ast.Call, name: str, kinds: list[_Type], trees: tuple[Node, ...]) -> _Matrix:
        """Return the type of ``name(*args)``, adding constraints."""
        if name == "matrix_power":
            return self.matrix_power_type(node, kinds, trees)
        if name == "eye":
            return self.eye_type(node, trees)
        if name in ("zeros", "ones"):
            return self.filled_type(node, name, trees)
        for kind in kinds:
            if kind is None:
                raise self.error(node, f"{name}() needs matrix arguments, not numbers")
        if name in _ELEMENTWISE:
            return kinds[0]
        if name in _SQUARE_SAME:
            self.square(node, kinds[0], f"{name}()")
            return _Matrix(kinds[0].rows, kinds[0].cols)
        if name in _SQUARE_SCALAR:
            self.square(node, kinds[0], f"{name}()")
            return self.scalar_type()
        if name in _SCALAR:
            return self.scalar_type()
        return getattr(self, f"{name}_type")(node, *kinds)

    def scalar_type(self) -> _Matrix:
        """Return the type of a scalar-valued function."""
        return _Matrix(self.one, self.one, scalar=True)

    def matrix_power_type(self, node: ast.Call, kinds: list[_Type], trees: tuple[Node, ...]) -> _Matrix:
        """Check ``matrix_power(A, k)``: square A, integer k ≥ 0."""
        base, exponent = kinds
        k = trees[1]
        if exponent is not None or not isinstance(k, Num) or k.value != int(k.value) or k.value < 0:
            raise self.error(node, "matrix_power(A, k) needs an integer k >= 0")
        if base is None:
            raise self.error(node, "matrix_power() needs a matrix, not a number")
        self.square(node, base, "matrix_power()")
        return _Matrix(base.rows, base.cols)

    def eye_type(self, node: ast.Call, trees: tuple[Node, ...]) -> _Matrix:
        """Check ``eye(n)``: the n×n identity for an integer literal n ≥ 1."""
        n = trees[0]
        if not isinstance(n, Num) or n.value != int(n.value) or n.value < 1:
            raise self.error(node, "eye(n) needs an integer n >= 1")
        size = self.dims.new(int(n.value))
        return _Matrix(size, size)

    def filled_type(self, node: ast.Call, name: str, trees: tuple[Node, ...]) -> _Matrix:
        """Check ``zeros(r, c)`` / ``ones(r, c)`` for integer literals r, c ≥ 1."""
        if not all(isinstance(t, Num) and t.value == int(t.value) and t.value >= 1 for t in trees):
            raise self.error(node, f"{name}(r, c) needs integers r, c >= 1")
        rows, cols = (int(t.value) for t in trees)  # type: ignore[union-attr]
        return _Matrix(self.dims.new(rows), self.dims.new(cols))

    def solve_type(self, node: ast.Call, a: _Matrix, b: _Matrix) -> _Matrix:
        """Check ``solve(A, B)``: square A with as many rows as B."""
        self.square(node, a, "solve(A, B)")
        before = f"A is {self.describe(a)}, B is {self.describe(b)}"
        try:
            self.dims.unify(a.rows, b.rows)
        except _Conflict:
            message = f"shape mismatch: solve(A, B) needs as many rows in B as in A; {before}"
            raise self.error(node, message) from None
        return _Matrix(a.cols, b.cols)

    def kron_type(self, node: ast.Call, a: _Matrix, b: _Matrix) -> _Matrix:
        """Return the type of ``kron(A, B)`` (sizes multiply; deferred)."""
        result = _Matrix(self.dims.new(), self.dims.new())
        for x, y, z in ((a.rows, b.rows, result.rows), (a.cols, b.cols, result.cols)):
            self.deferred.append(_Deferred("product", (x, y, z), node, (a, b), result))
        return result

    def diag_type(self, node: ast.Call, a: _Matrix) -> _Matrix:
        """Return the type of ``diag(A)``: (n,1) -> (n,n) or (n,n) -> (n,1).

        In both cases the result has as many rows as A; which case applies is
        decided (deferred) once A's columns or the result's columns are known.
        """
        result = _Matrix(self.dims.new(), self.dims.new())
        self.dims.unify(result.rows, a.rows)
        self.deferred.append(_Deferred("diag", (a.rows, a.cols, result.cols), node, (a,), result))
        return result

    # -- solving deferred constraints ------------------------------------

    def solve_deferred(self) -> None:
        """Apply deferred constraints until nothing changes."""
        changed = True
        while changed:
            changed = False
            for constraint in self.deferred:
                try:
                    changed |= getattr(self, f"apply_{constraint.kind}")(*constraint.dims)
                except _Conflict:
                    raise self.error(constraint.node, self.deferred_message(constraint)) from None

    def deferred_message(self, constraint: _Deferred) -> str:
        """Return the message for a deferred constraint that cannot hold."""
        operands = " and ".join(self.describe(kind) for kind in constraint.operands)
        result = self.describe(constraint.result)
        if constraint.kind == "diag":
            return f"shape mismatch: diag() needs a column vector or a square matrix, got {operands}"
        return (
            f"shape mismatch: kron() of {operands} cannot be {result} "
            f"(its sizes are the products of its arguments' sizes)"
        )

    def apply_product(self, x: int, y: int, z: int) -> bool:
        """Apply ``z == x * y`` as far as the known sizes allow."""
        sx, sy, sz = self.dims.size(x), self.dims.size(y), self.dims.size(z)
        if sx is not None and sy is not None:
            return self.dims.bind(z, sx * sy)
        if sz is not None and (sx is not None or sy is not None):
            known, unknown = (sx, y) if sx is not None else (sy, x)
            if sz % known:
                raise _Conflict(sz, known)
            return self.dims.bind(unknown, sz // known)
        return False

    def apply_diag(self, rows: int, cols: int, result_cols: int) -> bool:
        """Decide between diag of a vector and diag of a square matrix."""
        cols_size, result_size = self.dims.size(cols), self.dims.size(result_cols)
        if self.dims.size(rows) == 1:
            return self.dims.bind(cols, 1) | self.dims.bind(result_cols, 1)
        if cols_size == 1 or (result_size is not None and result_size != 1):
            return self.dims.bind(cols, 1) | self.dims.unify(result_cols, rows)
        if result_size == 1 or cols_size is not None:
            return self.dims.unify(cols, rows) | self.dims.bind(result_cols, 1)
        return False

    # -- results ---------------------------------------------------------

    def resolved_shapes(self) -> dict[str, tuple[int, int]]:
        """Return every symbol's shape, or raise naming the undetermined ones."""
        shapes: dict[str, tuple[int, int]] = {}
        unknown: list[str] = []
        for name, kind in self.symbols.items():
            rows, cols = self.dims.size(kind.rows), self.dims.size(kind.cols)
            if rows is None or cols is None:
                unknown.append(self.unknown_message(name, rows, cols))
            else:
                shapes[name] = (rows, cols)
        if unknown:
            raise ParseError("; ".join(unknown))
        return shapes

    def unknown_message(self, name: str, rows: int | None, cols: int | None) -> str:
        """Return the message for a symbol whose shape is not determined."""
        r = "R" if rows is None else str(rows)
        c = "C" if cols is None else str(cols)
        known = f" (known so far: {'?' if rows is None else rows}×{'?' if cols is None else cols})"
        partial = known if rows is not None or cols is not None else ""
        return f"cannot infer the shape of {name!r}{partial}; pass --shape {name}={r}x{c}"


def _argument_contexts(name: str, context: frozenset[str]) -> list[frozenset[str]]:
    """Return the test-value context for each argument of ``name``."""
    if name in _INVERTIBLE:
        return [context | {"invertible"}]
    if name == "solve":
        return [context | {"invertible"}, context]
    if name in _POSITIVE:
        return [context | {"positive"}]
    return [context] * ARITY[name]


def _function_list() -> str:
    return ", ".join(sorted(FUNCTIONS))


def _power(base: Union[int, float], exponent: Union[int, float]) -> Union[int, float]:
    """Return ``base ** exponent`` for numbers without unbounded big-int work."""
    value = math.pow(base, exponent)
    if isinstance(base, int) and isinstance(exponent, int) and exponent >= 0 and abs(value) < 2.0**53:
        return int(value)
    return value


def _symbols_in(tree: Node) -> set[str]:
    """Return the names of all symbols in ``tree``."""
    if isinstance(tree, Sym):
        return {tree.name}
    if isinstance(tree, Apply):
        return set().union(*(_symbols_in(arg) for arg in tree.args))
    return set()


def _normalize_shape(name: str, shape: Any) -> tuple[int, int]:
    """Return ``shape`` as ``(rows, cols)``; an int or 1-tuple is a column."""
    if isinstance(shape, int) and not isinstance(shape, bool):
        shape = (shape, 1)
    shape = tuple(shape)
    if len(shape) == 1:
        shape = (shape[0], 1)
    valid = len(shape) == 2 and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape)
    if not valid:
        raise ParseError(f"invalid shape for {name!r}: {shape!r} (expected two positive integers)")
    return shape


def _bracket_depth(text: str) -> int:
    """Return the deepest nesting of brackets in ``text``."""
    depth = deepest = 0
    for char in text:
        if char in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in ")]}":
            depth -= 1
    return deepest


def _parse_tree(text: str) -> ast.expr:
    """Return the body of ``text`` parsed in eval mode, or raise ParseError."""
    if not isinstance(text, str):
        raise ParseError(f"expression must be a string, not {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ParseError(f"expression is too long ({len(text)} characters; at most {MAX_LENGTH})")
    if not text.strip():
        raise ParseError("expression is empty")
    if _bracket_depth(text) > MAX_DEPTH:
        raise ParseError(f"expression is nested more than {MAX_DEPTH} levels deep")
    try:
        return ast.parse(text.strip(), mode="eval").body
    except SyntaxError as exc:
        where = f" at column {exc.offset}" if exc.offset else ""
        raise ParseError(f"invalid syntax{where}: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise ParseError(f"expression is nested too deeply (at most {MAX_DEPTH} levels)") from None


def analyze(text: str, shapes: Mapping[str, Any] | None = None) -> Analysis:
    """Check an expression text and infer its symbols' shapes.

    Parameters
    ----------
    text : str
        The expression, e.g. ``"inv(X.T @ inv(V) @ X)"``.
    shapes : mapping of str to (int, int), optional
        Known shapes; an int ``n`` (or ``(n,)``) means the column ``(n, 1)``.

    Returns
    -------
    Analysis
        The checked tree and every symbol's shape.

    Raises
    ------
    ParseError
        For anything outside the whitelist, a shape conflict or a symbol whose
        shape cannot be determined.
    """
    analyzer = _Analyzer(text.strip() if isinstance(text, str) else text, dict(shapes or {}))
    body = _parse_tree(text)
    tree, _ = analyzer.visit(body, 1, frozenset())
    if isinstance(tree, Num):
        raise ParseError("the expression is a plain number; it must contain a matrix symbol")
    analyzer.solve_deferred()
    return Analysis(
        tree=tree,
        shapes=analyzer.resolved_shapes(),
        invertible=frozenset(analyzer.invertible),
        positive=frozenset(analyzer.positive),
    )


_BUILD_OPS: dict[str, Callable[..., Any]] = {
    "@": operator.matmul, "+": operator.add, "-": operator.sub,
    "*": operator.mul, "/": operator.truediv, "**": operator.pow,
    "neg": operator.neg, "T": operator.attrgetter("T"),
}


def _build_node(tree: Node, symbols: Mapping[str, Any], namespace: Any) -> Any:
    """Return the namespace expression for ``tree``."""
    if isinstance(tree, Num):
        return tree.value
    if isinstance(tree, Sym):
        return symbols[tree.name]
    args = [_build_node(arg, symbols, namespace) for arg in tree.args]
    if tree.op in _BUILD_OPS:
        return _BUILD_OPS[tree.op](*args)
    return _namespace_function(namespace, tree.op)(*args)


def _namespace_function(namespace: Any, name: str) -> Callable[..., Any]:
    """Return ``namespace.name`` or raise a ParseError if it is missing."""
    function = getattr(namespace, name, None)
    if not callable(function):
        raise ParseError(f"function {name!r} is not available in this version of kronvec")
    return function


def _make_symbol(namespace: Any, name: str, shape: tuple[int, int], symmetric: bool) -> Any:
    """Return ``namespace.Matrix(name, shape)``, flagged symmetric if asked."""
    if symmetric:
        if shape[0] != shape[1]:
            raise ParseError(
                f"{name!r} is declared symmetric but its shape {shape[0]}×{shape[1]} is not square"
            )
        return namespace.Matrix(name, shape, symmetric=True)
    return namespace.Matrix(name, shape)


@dataclass
class ParsedExpression:
    """An expression built in a namespace, with its symbols.

    Attributes
    ----------
    expression : object
        The namespace's expression object.
    symbols : dict[str, object]
        The symbol objects by name, in order of first appearance.
    analysis : Analysis
        Shapes and test-value hints (see :class:`Analysis`).
    """

    expression: Any
    symbols: dict[str, Any]
    analysis: Analysis


def build(analysis: Analysis, namespace: Any, symmetric: Collection[str] = ()) -> ParsedExpression:
    """Build an analyzed expression with the functions of ``namespace``.

    Parameters
    ----------
    analysis : Analysis
        The result of :func:`analyze`.
    namespace : module-like
        Provides ``Matrix(name, shape, symmetric=...)`` and the functions.
    symmetric : collection of str
        Names of symbols to create with ``symmetric=True``.

    Returns
    -------
    ParsedExpression
    """
    symbols = {
        name: _make_symbol(namespace, name, shape, name in symmetric)
        for name, shape in analysis.shapes.items()
    }
    return ParsedExpression(_build_node(analysis.tree, symbols, namespace), symbols, analysis)


def parse(
    text: str,
    shapes: Mapping[str, Any] | None,
    namespace: Any,
    symmetric: Collection[str] = (),
) -> ParsedExpression:
    """Parse ``text`` and build it in ``namespace``; see :func:`parse_expression`."""
    return build(analyze(text, shapes), namespace, symmetric)


def parse_expression(
    text: str,
    shapes: Mapping[str, Any] | None,
    namespace: Any,
    symmetric: Collection[str] = (),
) -> Any:
    """Parse a matrix expression written in Python syntax.

    Parameters
    ----------
    text : str
        E.g. ``"inv(X.T @ inv(V) @ X)"``. Allowed: symbol names, numbers,
        ``@ + - * / **``, unary ``- +``, ``.T`` and calls (positional
        arguments only) of ``inv, solve, trace, det, logdet, kron, exp, log,
        sin, cos, tanh, sqrt, sum, norm, diag, matrix_power, expm``.
    shapes : mapping of str to (int, int), optional
        Shapes of symbols; the others are inferred. An int ``n`` means
        ``(n, 1)``.
    namespace : module-like
        Provides ``Matrix`` and the functions (normally the ``kronvec``
        package).
    symmetric : collection of str, optional
        Symbols to declare ``symmetric=True``.

    Returns
    -------
    object
        The expression built with ``namespace``.

    Raises
    ------
    ParseError
        For text outside the whitelist (quoting the piece and its column),
        texts over 10,000 characters, nesting deeper than 100, shape
        conflicts, or symbols whose shape cannot be inferred.

    Notes
    -----
    Nothing in ``text`` is evaluated by Python: the tree from
    :func:`ast.parse` is checked node by node and rebuilt through
    ``namespace``.
    """
    return parse(text, shapes, namespace, symmetric).expression
