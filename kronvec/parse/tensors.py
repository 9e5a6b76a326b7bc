"""Shape inference for einsum and reshape: ``einsum('ij,jk->ik', A, B)``, ``reshape(A, (3, 4))``.

A mixin of :class:`~kronvec.parse.inference.Inference`.  The parser's
expressions are matrices, so each operand of an einsum has two indices (a
repeated one, ``ii``, makes it square) and its result none (a scalar) or two;
equal letters are equal sizes.  A reshape keeps the number of entries: the
result's r·c is the operand's rows times columns (one of r, c may be −1: then
it is what the other leaves).
"""
from __future__ import annotations

import ast
from typing import Any, Callable

from ..dims import Dim
from .dims import Conflict, Deferred, Dims, Matrix, Type
from .syntax import Apply, Lit, Node, ParseError

__all__ = ["TensorRules"]

_MATRICES_ONLY = ("the parser reads matrices: each operand needs two indices and the result none or "
                  "two (call kronvec.einsum from Python for other arrays)")


class TensorRules:
    """Types of einsum and reshape calls (uses the dimensions of the inference it is mixed into)."""

    dims: Dims
    one: int
    deferred: list[Deferred]
    type_of: Callable[[Node], Type]
    error: Callable[[ast.AST | None, str], ParseError]
    describe: Callable[[Type], str]

    def tensor_type(self, tree: Apply) -> Matrix:
        """The type of ``einsum(...)`` or ``reshape(...)``."""
        return self.einsum_type(tree) if tree.op == "einsum" else self.reshape_type(tree)

    def einsum_type(self, tree: Apply) -> Matrix:
        subscripts = str(_literal(tree.args[0])).replace(" ", "")
        operands = tree.args[1:]
        inputs, arrow, output = subscripts.partition("->")
        terms = inputs.split(",")
        if not arrow:  # implicit: the letters that occur once, sorted (as NumPy)
            output = "".join(sorted(c for c in set(inputs) - {","} if inputs.count(c) == 1))
        if "." in subscripts or "-" in output or ">" in output:
            raise self.error(tree.where, f"einsum('{subscripts}'): {_MATRICES_ONLY}")
        if len(terms) != len(operands):
            raise self.error(tree.where, f"einsum('{subscripts}') names {len(terms)} operand(s), "
                                         f"got {len(operands)}")
        if any(len(term) != 2 for term in terms) or len(output) not in (0, 2):
            raise self.error(tree.where, f"einsum('{subscripts}'): {_MATRICES_ONLY}")
        if set(output) - set(inputs):
            raise self.error(tree.where, f"einsum('{subscripts}'): the output's index "
                                         f"{sorted(set(output) - set(inputs))[0]!r} is in no operand")
        letters: dict[str, int] = {}
        kinds = [self.type_of(operand) for operand in operands]
        for term, kind in zip(terms, kinds):
            if kind is None:
                raise self.error(tree.where, f"einsum('{subscripts}') needs matrix operands, not numbers")
            for letter, dim in zip(term, (kind.rows, kind.cols)):
                try:
                    self.dims.unify(letters.setdefault(letter, dim), dim)
                except Conflict:
                    shapes = " and ".join(self.describe(k) for k in kinds)
                    raise self.error(tree.where, f"shape mismatch: einsum('{subscripts}') of {shapes}: the "
                                                 f"sizes of index {letter!r} differ") from None
        if not output:
            return Matrix(self.one, self.one, scalar=True)
        return Matrix(letters[output[0]], letters[output[1]])

    def reshape_type(self, tree: Apply) -> Matrix:
        kind = self.type_of(tree.args[0])
        shape: tuple[int, ...] = tuple(_literal(tree.args[1]))
        if kind is None:
            raise self.error(tree.where, "reshape() needs a matrix, not a number")
        if len(shape) != 2:
            raise self.error(tree.where, f"reshape() to {shape}: the parser reads matrices, so the shape "
                                         f"has two sizes (call kronvec.reshape from Python for others)")
        if shape.count(-1) > 1 or any(s == 0 or s < -1 for s in shape):
            raise self.error(tree.where, f"reshape() to {shape}: sizes are positive, and one may be -1")
        rows, cols = (self.dims.new(None if size == -1 else int(size)) for size in shape)

        def apply() -> bool:
            n, m = self.dims.size(kind.rows), self.dims.size(kind.cols)
            r, c = self.dims.size(rows), self.dims.size(cols)
            if n is None or m is None:  # the operand's other size, from the result's entries
                if r is None or c is None or (n is None) == (m is None):
                    return False
                known, unknown = (n, kind.cols) if n is not None else (m, kind.rows)
                if known is None or (r * c) % known:
                    raise Conflict()
                return self.dims.bind(unknown, r * c // known)
            constraint.done = True
            if r is None or c is None:
                given, free = (c, rows) if r is None else (r, cols)
                if given is None or (n * m) % given:
                    raise Conflict()
                return self.dims.bind(free, n * m // given)
            if r * c != n * m:
                raise Conflict()
            return False
        def message() -> str:
            sizes = (self.dims.size(kind.rows), self.dims.size(kind.cols))
            if any(isinstance(s, Dim) for s in sizes):
                return (f"reshape() to {shape} needs its matrix's sizes as numbers (they would be names, "
                        f"{self.describe(kind)}); give them, e.g. --shape X=RxC for a symbol X")
            return f"shape mismatch: reshape() of a {self.describe(kind)} matrix to {shape}: the number of " \
                   f"entries differs"
        constraint = Deferred(apply, tree.where, message)
        self.deferred.append(constraint)
        return Matrix(rows, cols)


def _literal(node: Node) -> Any:
    assert isinstance(node, Lit), "the reader makes the subscripts and the shape literals"
    return node.value
