"""Shape inference for indexing and assembly: ``X[0, 1:3]``, ``block([[A, B], [C, D]])``.

A mixin of :class:`~kronvec.parse.inference.Inference`.  An index keeps
what it can at once (an integer takes one entry, ``:`` keeps the size) and
decides the rest when the indexed matrix's size is known, with the rules of
:mod:`kronvec.indices` (so out-of-range indices are refused as the library
refuses them).  A block unifies the heights within each row of blocks and
makes the widths of the rows, and the heights of the rows, add up to the
result's size: sums whose parts or whose total are known decide the rest.
"""
from __future__ import annotations

import ast
from typing import Any, Callable

from ..errors import ShapeError
from ..indices import normalize_key
from ..signature import Arg
from .dims import Conflict, Deferred, Dims, Matrix, Type
from .syntax import Apply, Index, ParseError, Seq

__all__ = ["AssemblyRules"]


class AssemblyRules:
    """Types of index and block nodes (uses the dimensions of the inference it is mixed into)."""

    dims: Dims
    one: int
    deferred: list[Deferred]
    type_of: Callable[..., Type]
    error: Callable[[ast.AST | None, str], ParseError]
    describe: Callable[[Type], str]
    unify_types: Callable[[Matrix, Matrix], None]

    # ------------------------------------------------------------- index
    def index_type(self, tree: Index, base: Type) -> Matrix:
        if base is None:
            raise self.error(tree.where, "a number cannot be indexed")
        parts, key = tree.parts, tree.key()
        if len(parts) == 1 and not isinstance(parts[0], tuple):  # x[i]: an entry of a vector
            self.bind(tree, base.cols, 1, "a single index needs an (n, 1) vector")
            parts = (parts[0], 0)
        elif len(parts) == 1:  # X[a:b]: rows, every column
            parts = (parts[0], (None, None, None))
        if not any(isinstance(p, tuple) for p in parts):
            result = Matrix(self.one, self.one, scalar=True)
        else:
            result = Matrix(self.axis(parts[0], base.rows), self.axis(parts[1], base.cols))
        message = [""]

        def apply() -> bool:
            n, m = self.dims.size(base.rows), self.dims.size(base.cols)
            if n is None or m is None:
                return False
            constraint.done = True
            try:
                _, _, shape = normalize_key(key, (n, m), f"index of a {n}×{m} matrix")
            except (IndexError, ShapeError, ValueError) as exc:
                message[0] = str(exc)
                raise Conflict() from None
            changed = False
            for var, size in zip((result.rows, result.cols), shape or (1, 1)):
                changed |= self.dims.bind(var, size)
            return changed
        constraint = Deferred(apply, tree.where, lambda: message[0])
        self.deferred.append(constraint)
        return result

    def axis(self, part: Any, base_dim: int) -> int:
        """The result's dimension on one axis: 1 for an integer, the same for ``:``, else new."""
        if not isinstance(part, tuple):
            return self.one
        if part[:2] == (None, None) and part[2] in (None, 1):
            return base_dim
        return self.dims.new()

    def bind(self, tree: Any, var: int, size: int, message: str) -> None:
        try:
            self.dims.bind(var, size)
        except Conflict:
            raise self.error(tree.where, f"shape mismatch: {message}") from None

    # ------------------------------------------------------------ blocks
    def blocks_type(self, tree: Apply, arg: Arg) -> Matrix:
        """The type of ``block``, ``hstack`` or ``vstack`` of a list of matrices."""
        seq = tree.args[0]
        if not isinstance(seq, Seq):
            raise self.error(tree.where, f"{tree.op}() needs a list of blocks first")
        arrangement = arg.dims[0]
        items: list[Any] = [  # the types of the blocks, or lists of them for rows of blocks
            self.block_kind(x) if not isinstance(x, Seq) else [self.block_kind(y) for y in x.items]
            for x in seq.items]
        if arrangement == "column":
            grid = [[k] for k in items]
        elif items and isinstance(items[0], list):
            grid = items
        else:
            grid = [items]
        name = tree.op
        for row in grid:
            for kind in row[1:]:
                try:
                    self.dims.unify(kind.rows, row[0].rows)
                except Conflict:
                    raise self.error(tree.where, f"shape mismatch: {name}() needs blocks with equal "
                                                 f"numbers of rows side by side, got {self.describe(row[0])} "
                                                 f"and {self.describe(kind)}") from None
        width = self.sum_of([k.cols for k in grid[0]], tree, name, "columns")
        for row in grid[1:]:
            other = self.sum_of([k.cols for k in row], tree, name, "columns")
            try:
                self.dims.unify(width, other)
            except Conflict:
                raise self.error(tree.where, f"shape mismatch: {name}() needs rows of blocks of equal "
                                             f"widths, got {self.dims.size(width)} and "
                                             f"{self.dims.size(other)}") from None
        return Matrix(self.sum_of([row[0].rows for row in grid], tree, name, "rows"), width)

    def block_kind(self, node: Any) -> Matrix:
        kind = self.type_of(node)
        return Matrix(self.one, self.one, scalar=True) if kind is None else kind

    def sum_of(self, parts: list[int], tree: Apply, name: str, what: str) -> int:
        """A dimension that is the sum of ``parts`` (decided once enough sizes are known)."""
        if len(parts) == 1:
            return parts[0]
        total = self.dims.new()

        def apply() -> bool:
            sizes = [self.dims.size(p) for p in parts]
            known_total = self.dims.size(total)
            known = [s for s in sizes if s is not None]
            if len(known) == len(sizes):
                constraint.done = True
                return self.dims.bind(total, sum(known))
            missing = [p for p, s in zip(parts, sizes) if s is None]
            if known_total is not None and len(missing) == 1:
                rest = known_total - sum(s for s in sizes if s is not None)
                if rest < 1:
                    raise Conflict()
                return self.dims.bind(missing[0], rest)
            return False
        constraint = Deferred(apply, tree.where, lambda: (
            f"shape mismatch: the {what} of the blocks of {name}() do not add up"))
        self.deferred.append(constraint)
        return total
