"""Derivatives in several variables at once: the block Hessian.

``kv.hessian(f, [U, V])`` is a :class:`BlockJacobian`: the grid of symbolic
Jacobians Hᵢⱼ = ∂(∇ᵢ f)/∂Vⱼ (``[[H_UU, H_UV], [H_VU, H_VV]]``).  Like a
:class:`~kronvec.derivative.Jacobian` it prints its closed forms (one line per
block) and binds numbers with :meth:`BlockJacobian.at`, which evaluates the
factors of all blocks in one evaluation (shared subexpressions and
factorizations are computed once) and gives a
:class:`~kronvec.maps.blocks.BlockMap` acting on tuples of tangents.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from . import expr as E
from .caches import FIRST_USE
from .evaluation import Plan, bind_values, by_name, run_recorded, symbol_table
from .maps import expression_factors
from .maps.blocks import BlockMap
from .registry import DISPLAY

__all__ = ["BlockJacobian"]


class BlockJacobian:
    """A grid of symbolic Jacobians between tuples of variables.

    Attributes
    ----------
    expr : Expr
        The expression differentiated (for a Hessian, the scalar f).
    wrt : tuple of Expr
        The variables, in order.
    blocks : tuple of tuples of Jacobian
        ``blocks[i][j]`` maps dVⱼ to the i-th output (for a Hessian, d∇ᵢf).
    map : BlockMap
        The symbolic block map.
    """

    def __init__(self, expr: E.Expr, wrt: Sequence[E.Expr], blocks: Sequence[Sequence[Any]]) -> None:
        self.expr, self.wrt = expr, tuple(wrt)
        self.blocks = tuple(tuple(row) for row in blocks)
        names = [v.params.name for v in self.wrt]
        self.map = BlockMap([[J.map for J in row] for row in self.blocks], (names, names))
        self._factors: list[E.Expr] | None = None
        self._symbols: dict[str, E.Expr] = {}
        self._plans: dict[frozenset[E.Expr], Plan] = {}

    def __reduce__(self) -> tuple[type[BlockJacobian], tuple[Any, ...]]:
        """Pickle the blocks; what ``at`` set up is built again on first use."""
        return (BlockJacobian, (self.expr, self.wrt, self.blocks))

    @property
    def in_shape(self) -> tuple[tuple[int, ...], ...]:
        return self.map.in_shape

    @property
    def out_shape(self) -> tuple[tuple[int, ...], ...]:
        return self.map.out_shape

    @property
    def shape(self) -> tuple[int, int]:
        return self.map.shape

    def __getitem__(self, ij: tuple[int, int]) -> Any:
        """The block (i, j), a Jacobian."""
        i, j = ij
        return self.blocks[i][j]

    def at(self, values: Mapping[str, Any] | None = None, **kw: Any) -> BlockMap:
        """The numeric block map at the given values (bound by symbol name).

        Its ``jvp`` takes a tuple of tangents (one per variable) and returns a
        tuple, ``vjp`` likewise, and ``to_dense()`` is the full block matrix.
        """
        if any(J._per_sizes is not None for row in self.blocks for J in row):  # sizes given as names
            given = by_name("H.at", values, kw)  # each block derived at the sizes the values fix
            return BlockMap([[J.at(given) for J in row] for row in self.blocks], self.map.labels)
        if self._factors is None:
            with FIRST_USE:  # threads binding at once build this once (``_factors`` set last)
                if self._factors is None:
                    factors = list(dict.fromkeys(f for row in self.blocks for J in row
                                                 for f in expression_factors(J.map)))
                    self._symbols = symbol_table(factors)
                    self._factors = factors
        bound = bind_values(by_name("H.at", values, kw), self._factors, self._symbols)
        table = dict(zip(self._factors, run_recorded(self._plans, self._factors, bound)))
        return self.map.bind(table.__getitem__)

    @property
    def T(self) -> "BlockJacobian":
        """The adjoint grid (blocks Jⱼᵢᵀ)."""
        cols = range(len(self.blocks[0]))
        return BlockJacobian(self.expr, self.wrt, [[row[j].T for row in self.blocks] for j in cols])

    def __str__(self) -> str:
        """One line per block: ``[U, V]: <closed form of ∂(∇_U f)/∂V>``."""
        outs, ins = self.map.labels
        return "\n".join(f"[{outs[i]}, {ins[j]}]: {J}" for i, row in enumerate(self.blocks)
                         for j, J in enumerate(row))

    def latex(self) -> str:
        """The blocks as a LaTeX ``bmatrix`` of their closed forms."""
        rows = [" & ".join(J.latex() for J in row) for row in self.blocks]
        return r"\begin{bmatrix} " + r" \\ ".join(rows) + r" \end{bmatrix}"

    def __repr__(self) -> str:
        names = ", ".join(v.params.name for v in self.wrt)
        return f"<BlockJacobian of shape {self.shape} in ({names}) of {DISPLAY.unicode(self.expr)}>"
