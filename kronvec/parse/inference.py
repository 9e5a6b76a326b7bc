"""Shape inference for parsed expressions, from the registry's signatures.

Every matrix-valued node gets a type of two dimension variables; a small
union-find makes equal dimensions one class, which may carry a known size.
A function call unifies its arguments with its signature
(:mod:`kronvec.signature`); what cannot be decided at once waits as a
deferred constraint: products of sizes (``kron``), a choice between
alternatives (``diag`` of a vector or of a square matrix), and the sizes of
indexing and assembly (:mod:`.assembly`).
"""
from __future__ import annotations

import ast
from typing import Any, Callable, Mapping

from ..dims import LETTERS, Dim
from ..registry import public_functions, signature_of
from ..signature import Alternative, Arg, Signature
from .assembly import AssemblyRules
from .tensors import TensorRules
from .dims import Conflict, Deferred, Dims, Matrix, Type
from .syntax import Apply, Index, Lit, Node, Num, ParseError, Seq, Sym

__all__ = ["Inference", "Matrix"]


class Inference(AssemblyRules, TensorRules):
    """Types of a tree's nodes and shapes of its symbols."""

    def __init__(self, reader: Any, shapes: Mapping[str, tuple[int, ...]]) -> None:
        self.reader = reader
        self.given = shapes
        self.dims = Dims()
        self.one = self.dims.new(1)
        self.symbols: dict[str, Matrix] = {}
        self.scalars: set[str] = set()  # symbols found to be scalars
        self.deferred: list[Deferred] = []

    def error(self, where: ast.AST | None, message: str) -> ParseError:
        return self.reader.error(where, message) if where is not None else ParseError(message)

    def describe(self, kind: Type) -> str:
        """A type as text: ``5×3``, ``5×?`` or ``a number``."""
        if kind is None:
            return "a number"
        rows, cols = self.dims.size(kind.rows), self.dims.size(kind.cols)
        return f"{'?' if rows is None else rows}×{'?' if cols is None else cols}"

    # ----------------------------------------------------------- walking
    def type_of(self, tree: Node) -> Type:
        if isinstance(tree, Num):
            return None
        if isinstance(tree, Sym):
            if tree.name not in self.symbols:
                given = self.given.get(tree.name, (None, None))
                rows, cols = (1, 1) if given == () else given
                self.symbols[tree.name] = Matrix(self.dims.new(rows), self.dims.new(cols), given == ())
            return self.symbols[tree.name]
        if isinstance(tree, Index):
            return self.index_type(tree, self.type_of(tree.base))
        if isinstance(tree, Seq):
            raise self.error(tree.where, "a list of blocks is not an expression")
        if isinstance(tree, Lit):
            raise self.error(tree.where, "a literal here is not an expression")
        if tree.op in ("einsum", "reshape"):
            return self.tensor_type(tree)
        if any(isinstance(a, Seq) for a in tree.args):
            return self.blocks_type(tree, signature_of(public_functions()[tree.op]).alternatives[0].args[0])
        kinds = [self.type_of(a) for a in tree.args]
        if tree.op == "T":
            if kinds[0] is None:
                raise self.error(tree.where, ".T needs a matrix, not a number")
            return Matrix(kinds[0].cols, kinds[0].rows, kinds[0].scalar)
        if tree.op == "neg":
            return kinds[0]
        if tree.op == "**":
            return self.power_type(tree, *kinds)
        if tree.op in ("@", "+", "-", "*", "/"):
            return self.binary(tree, *kinds)
        return self.call(tree, signature_of(public_functions()[tree.op]), kinds)

    def binary(self, tree: Apply, left: Type, right: Type) -> Type:
        if tree.op == "@":
            if left is None or right is None:
                raise self.error(tree.where, "operator '@' needs matrices, not numbers")
            try:
                self.dims.unify(left.cols, right.rows)
            except Conflict:
                raise self.error(tree.where, f"shape mismatch for '@': {self.describe(left)} @ "
                                 f"{self.describe(right)} (the left operand's columns must equal the "
                                 f"right operand's rows)") from None
            return Matrix(left.rows, right.cols, left.scalar and right.scalar)
        if left is None or left.scalar or right is None or right.scalar:
            return self.broadcast(tree.where, f"operator '{tree.op}'", left, right)
        if tree.op in ("*", "/") and self.is_one_by_one(right):
            return left
        if tree.op in ("*", "/") and self.is_one_by_one(left):
            return right
        if tree.op in ("*", "/") and self.is_free(left) != self.is_free(right):
            return self.maybe_scalar(tree, left, right)
        return self.broadcast(tree.where, f"operator '{tree.op}'", left, right)

    def broadcast(self, where: ast.AST | None, what: str, left: Type, right: Type) -> Type:
        """The type of an elementwise ``left ∘ right``, broadcast as in NumPy.

        Sizes known on both sides broadcast (equal, or one of them 1); a size
        not yet known is taken equal to the other side's, the least assumption.
        """
        if left is None or left.scalar:
            if left is not None and right is not None:
                self.scalar_by_default(where, right)
            return right if right is not None else left
        if right is None or right.scalar:
            if right is not None:
                self.scalar_by_default(where, left)
            return left
        try:
            rows = self.broadcast_dim(left.rows, right.rows)
            return Matrix(rows, self.broadcast_dim(left.cols, right.cols))
        except Conflict:
            raise self.error(where, f"shape mismatch: {what} needs shapes that broadcast (equal sizes, "
                                    f"or 1), got {self.describe(left)} and {self.describe(right)}") from None

    def scalar_by_default(self, where: ast.AST | None, kind: Matrix) -> None:
        """``s - yᵀXw`` with s a scalar (a sum, a trace): sizes of the other operand that
        nothing else decides are 1, the least assumption (so w is a column)."""
        def apply() -> bool:
            if self.dims.size(kind.rows) is not None and self.dims.size(kind.cols) is not None:
                constraint.done = True
            return False

        def default() -> None:
            for dim in (kind.rows, kind.cols):
                if self.dims.size(dim) is None:
                    self.dims.bind(dim, 1)
        constraint = Deferred(apply, where, lambda: "", default=default)
        self.deferred.append(constraint)

    def broadcast_dim(self, a: int, b: int) -> int:
        sa, sb = self.dims.size(a), self.dims.size(b)
        if sa is not None and sb is not None and sa != sb and 1 in (sa, sb):
            return b if sa == 1 else a
        self.dims.unify(a, b)
        return a

    def power_type(self, tree: Apply, base: Type, exponent: Type) -> Type:
        """``B ** E``: a number or a scalar on one side (a free symbol there is taken as a scalar)."""
        if exponent is None or exponent.scalar or self.is_one_by_one(exponent):
            return base
        if base is None or base.scalar or self.is_one_by_one(base):
            return exponent
        if self.is_free(exponent) and exponent is not base:
            self.make_scalar(exponent)
            return base
        if self.is_free(base) and base is not exponent:
            self.make_scalar(base)
            return exponent
        raise self.error(tree.where, f"the exponent of '**' must be a number or a scalar (or the base "
                                     f"a scalar), got {self.describe(base)} ** {self.describe(exponent)}")

    def is_free(self, kind: Matrix) -> bool:
        """A symbol's type of which nothing is known yet."""
        return kind in self.symbols.values() and self.dims.size(kind.rows) is None \
            and self.dims.size(kind.cols) is None

    def maybe_scalar(self, tree: Apply, left: Matrix, right: Matrix) -> Matrix:
        """``s * A`` with nothing known of s: a scalar, unless other uses give s a shape.

        Broadcasting allows a scalar there, and a scalar is the least
        assumption; decided once everything else is (:meth:`solve_deferred`).
        """
        free, other = (left, right) if self.is_free(left) else (right, left)

        def apply() -> bool:
            if self.dims.size(free.rows) is None and self.dims.size(free.cols) is None:
                return False
            constraint.done = True
            if self.is_one_by_one(free):
                return False
            self.fits_into(tree.where, free, other, f"operator '{tree.op}' needs shapes that broadcast "
                                                    f"to the other operand's")
            return True
        constraint = Deferred(apply, tree.where, lambda: "", default=lambda: self.make_scalar(free))
        self.deferred.append(constraint)
        return other

    def make_scalar(self, kind: Matrix) -> None:
        self.dims.bind(kind.rows, 1)
        self.dims.bind(kind.cols, 1)
        self.scalars.update(name for name, k in self.symbols.items() if k is kind)

    def is_one_by_one(self, kind: Matrix) -> bool:
        return self.dims.size(kind.rows) == 1 and self.dims.size(kind.cols) == 1

    def fits_into(self, where: ast.AST | None, part: Matrix, whole: Matrix, message: str) -> None:
        """``part`` broadcasts to ``whole`` (each size equal, or 1 in ``part``)."""
        before = f"{self.describe(part)} and {self.describe(whole)}"
        try:
            for a, b in ((part.rows, whole.rows), (part.cols, whole.cols)):
                if self.dims.size(a) != 1:
                    self.dims.unify(a, b)
        except Conflict:
            raise self.error(where, f"shape mismatch: {message}, got {before}") from None

    # -------------------------------------------------------------- calls
    def call(self, tree: Apply, sig: Signature, kinds: list[Type]) -> Type:
        name = tree.op
        alternatives = sig.alternatives_for(dict(tree.keywords))  # the keyword values pick some
        first = alternatives[0]
        if len(first.args) > 1 and all(a.kind == "any" for a in first.args):  # maximum(X, 0): broadcasts
            result: Type = None
            for kind in kinds:
                result = self.broadcast(tree.where, f"{name}()", result, kind)
            if result is None:
                raise self.error(tree.where, f"{name}() needs a matrix argument, not only numbers")
            return result
        for arg, kind, sub in zip(first.args, kinds, tree.args):
            if arg.kind in ("int", "num"):
                self.literal(tree, arg, sub)
            elif kind is None:
                raise self.error(tree.where, f"{name}() needs matrix arguments, not numbers")
        if len(alternatives) == 1:
            try:
                return self.apply(first, tree, kinds)
            except Conflict:
                raise self.error(tree.where, self.call_message(tree, sig, kinds, first)) from None
        result = Matrix(self.dims.new(), self.dims.new())
        pending = list(alternatives)

        def choose() -> bool:
            viable = [alt for alt in pending if self.fits(alt, tree, kinds, result)]
            if not viable:
                raise Conflict()
            pending[:] = viable
            if len(viable) > 1:
                return False
            self.unify_types(self.apply(viable[0], tree, kinds), result)
            constraint.done = True
            return True
        constraint = Deferred(choose, tree.where, lambda: self.call_message(tree, sig, kinds))
        self.deferred.append(constraint)
        return result

    def matrix(self, tree: Apply, kind: Type) -> Matrix:
        """The type of a matrix argument (:meth:`call` refused numbers there)."""
        if kind is None:
            raise self.error(tree.where, f"{tree.op}() needs matrix arguments, not numbers")
        return kind

    def literal(self, tree: Apply, arg: Arg, sub: Node) -> None:
        if not isinstance(sub, Num):
            raise self.error(tree.where, f"{tree.op}() needs a number as this argument")
        if arg.kind == "int":  # a size (int:n) is positive; other integers (powers) may be negative
            if sub.value != int(sub.value):
                raise self.error(tree.where, f"{tree.op}() needs an integer, got {sub.value}")
            if arg.dims and sub.value < 1:
                raise self.error(tree.where, f"{tree.op}() needs an integer >= 1, got {sub.value}")

    def apply(self, alt: Alternative, tree: Apply, kinds: list[Type]) -> Matrix:
        """Unify the arguments with one alternative; the result's type."""
        names: dict[str, int] = {}
        any_kind: Type = None

        def var(dim: str) -> int:
            if dim.isdigit():
                return self.dims.new(int(dim))
            if dim not in names:
                names[dim] = self.dims.new()
            return names[dim]
        for arg, kind, sub in zip(alt.args, kinds, tree.args):
            if arg.kind == "any":
                any_kind = kind
            elif arg.kind == "int" and arg.dims:
                if not isinstance(sub, Num):
                    raise self.error(tree.where, f"{tree.op}() needs a number as this argument")
                self.dims.bind(var(arg.dims[0]), int(sub.value))
            elif arg.kind == "array":
                dims = arg.dims or ("1", "1")
                matrix = self.matrix(tree, kind)
                self.dims.unify(matrix.rows, var(dims[0]))
                self.dims.unify(matrix.cols, var(dims[1]))
        if alt.out.kind == "any":
            matrix = self.matrix(tree, any_kind)
            return Matrix(matrix.rows, matrix.cols)
        if not alt.out.dims:
            return Matrix(self.one, self.one, scalar=True)
        if len(alt.out.dims) == 1:
            raise self.error(tree.where, f"{tree.op}() of a matrix is a 1-D array, which a parsed expression "
                                         f"(of matrices) cannot hold; call kronvec.{tree.op} from Python")
        rows, cols = (self.product(tree, kinds, d, var) if "*" in d else var(d) for d in alt.out.dims)
        return Matrix(rows, cols)

    def product(self, tree: Apply, kinds: list[Type], dim: str, var: Callable[[str], int]) -> int:
        """A dimension that is the product of two others (deferred until sizes are known)."""
        x, y, z = var(dim.split("*")[0]), var(dim.split("*")[1]), self.dims.new()

        def apply() -> bool:
            sx, sy, sz = self.dims.size(x), self.dims.size(y), self.dims.size(z)
            if sx is not None and sy is not None:
                return self.dims.bind(z, sx * sy)
            known, unknown = (sx, y) if sx is not None else (sy, x)
            if sz is not None and known is not None:
                if sz % known:
                    raise Conflict()
                return self.dims.bind(unknown, sz // known)
            return False
        self.deferred.append(Deferred(apply, tree.where, lambda: (
            f"shape mismatch: {tree.op}() of {' and '.join(self.describe(k) for k in kinds)} cannot "
            f"be this size (its sizes are the products of its arguments' sizes)")))
        return z

    def fits(self, alt: Alternative, tree: Apply, kinds: list[Type], result: Matrix) -> bool:
        """Whether an alternative can still hold (tried on a copy of the dimensions)."""
        state, deferred = self.dims.snapshot(), len(self.deferred)
        try:
            self.unify_types(self.apply(alt, tree, kinds), result)
            return True
        except Conflict:
            return False
        finally:
            self.dims.restore(state)
            del self.deferred[deferred:]

    def unify_types(self, a: Matrix, b: Matrix) -> None:
        self.dims.unify(a.rows, b.rows)
        self.dims.unify(a.cols, b.cols)

    def call_message(self, tree: Apply, sig: Signature, kinds: list[Type],
                     chosen: Alternative | None = None) -> str:
        got = " and ".join(self.describe(k) for k in kinds if k is not None)
        alternative = chosen or sig.alternatives[0]
        first = alternative.args[0]
        if sig.describe is not None:
            return f"shape mismatch: {tree.op}() needs {sig.describe}, got {got}"
        if (chosen is not None or len(sig.alternatives) == 1) and first.kind == "array" \
                and len(first.dims) == 2 and first.dims[0] == first.dims[1] and not self.square_ok(kinds[0]):
            return f"shape mismatch: {tree.op}() needs a square matrix, got {got}"
        needs = ",".join(_arg_text(a) for a in alternative.args)
        return f"shape mismatch: {tree.op}() needs shapes {needs}, got {got}"

    def square_ok(self, kind: Type) -> bool:
        if kind is None:  # a number, refused as such
            return True
        rows, cols = self.dims.size(kind.rows), self.dims.size(kind.cols)
        return rows is None or cols is None or rows == cols

    # ------------------------------------------------------------ results
    def solve_deferred(self) -> None:
        """Apply deferred constraints until nothing changes; then take the defaults
        (a scalar for ``s * A``) of those still undecided, one at a time."""
        while True:
            changed = True
            while changed:
                changed = False
                for constraint in self.deferred:
                    if constraint.done:
                        continue
                    try:
                        if constraint.apply():
                            changed = True
                    except Conflict:
                        raise self.error(constraint.where, constraint.message()) from None
            waiting = [(c, default) for c in self.deferred
                       if not c.done and (default := c.default) is not None]
            if not waiting:
                return
            waiting[0][1]()
            waiting[0][0].done = True

    def default_sizes(self) -> None:
        """Decide the sizes no use decides: a symbol whose name is one lower-case letter is a
        column vector (the Matrix Cookbook's convention) and every size still unknown becomes a
        name, the first free letter of n, m, p, q, r, k in order of appearance."""
        for name, kind in self.symbols.items():
            if len(name) == 1 and name.islower() and name not in self.given and name not in self.scalars \
                    and not kind.scalar and self.dims.size(kind.cols) is None:
                self.dims.bind(kind.cols, 1)
        self.solve_deferred()
        used = {str(s) for shape in self.given.values() for s in shape if isinstance(s, Dim)}
        letters = (f"{letter}{suffix}" for suffix in ("", "2", "3", "4", "5") for letter in LETTERS)
        for kind in list(self.symbols.values()):
            for var in (kind.rows, kind.cols):
                if self.dims.size(var) is None:
                    letter = next(letters)
                    while letter in used:
                        letter = next(letters)
                    self.dims.bind(var, Dim(letter))
                    self.solve_deferred()

    def resolved_shapes(self) -> dict[str, tuple[int, ...]]:
        """Every symbol's shape, or a ParseError naming the undetermined ones."""
        shapes: dict[str, tuple[int, ...]] = {}
        unknown: list[str] = []
        for name, kind in self.symbols.items():
            rows, cols = self.dims.size(kind.rows), self.dims.size(kind.cols)
            if name in self.scalars or kind.scalar:
                shapes[name] = ()
            elif rows is None or cols is None:
                r, c = ("R" if rows is None else str(rows)), ("C" if cols is None else str(cols))
                known = f" (known so far: {'?' if rows is None else rows}×{'?' if cols is None else cols})"
                partial = known if rows is not None or cols is not None else ""
                unknown.append(f"cannot infer the shape of {name!r}{partial}; pass --shape {name}={r}x{c}")
            else:
                shapes[name] = (rows, cols)
        if unknown:
            raise ParseError("; ".join(unknown))
        return shapes


def _arg_text(arg: Arg) -> str:
    """An argument of a signature as declared: ``(n,n)``, ``(...)``, ``int`` or ``num``."""
    if arg.kind == "any":
        return "(...)"
    if arg.kind == "array":
        return "(" + ",".join(arg.dims) + ")"
    return arg.kind
