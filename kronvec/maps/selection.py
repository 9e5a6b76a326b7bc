"""Selection and placement: the derivatives of indexing and of block assembly.

One term does both.  ``IndexMap`` copies the entries of H at rows ``r_src``
and columns ``c_src`` to rows ``r_dst`` and columns ``c_dst`` of a zero
matrix of the output's shape:

    out[r_dst[a], c_dst[b]] = H[r_src[a], c_src[b]],   zero elsewhere.

With the partial permutation matrices P (p × n, P[r_dst[a], r_src[a]] = 1) and
Q (q × k, likewise for the columns) this is H ↦ P H Qᵀ, so in the vec
convention its matrix is Q ⊗ P, one 1 per selected entry.  A selection
(``X[1:3, 0]``) fills its whole output; a placement (the derivative of
``kv.block`` in one block, and the adjoint of a selection) reads all of H.

The term stores the index arrays, never P and Q: applying it costs one copy
of the entries moved, and ``to_dense`` writes its ones directly, where the
Kronecker form A H B with selection matrices would cost a product with each.
The adjoint swaps source and destination (the indices are distinct, so the
scatter needs no accumulation), and two index maps compose into one, or into
the zero map when what the outer one reads was never written (the
composition rule lives in :mod:`kronvec.maps.algebra`).

Applied to an expression the map builds index and placement nodes, through
the registry (``index`` and ``place`` of :mod:`kronvec.ops.indexing`).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import registry
from ..expr import Expr
from ..indices import as_range, as_slice
from ..shapes import Shape, as_matrix_shape
from ..shapes import DERIVATION, refuse_named
from .base import LinearMap
from .nodes import ZeroMap

__all__ = ["IndexMap", "select_map", "place_map", "compose_index_maps"]

Pairs = tuple[np.ndarray, np.ndarray]  # (source positions, destination positions) on one axis


def _frozen(x: Any) -> np.ndarray:
    a = np.array(x, dtype=np.intp).reshape(-1)
    a.setflags(write=False)
    return a


def _progression(a: np.ndarray) -> slice | None:
    """The slice that takes the positions ``a`` (an arithmetic progression), else None."""
    try:
        return as_slice(as_range(a))
    except ValueError:
        return None


class IndexMap(LinearMap):
    """H ↦ P H Qᵀ: entries copied from (r_src, c_src) to (r_dst, c_dst) of a zero matrix.

    Parameters
    ----------
    rows, cols : (source, destination) pairs of integer arrays of equal length
        The positions read in H and written in the output, per axis (each
        without repeats, and arithmetic progressions as basic indexing gives).
    in_shape, out_shape : the shapes of H and of the output (``()`` for scalars).

    Notes
    -----
    The dense matrix (column-major vec) is Q ⊗ P: the entry in row
    ``r_dst[a] + p·c_dst[b]`` and column ``r_src[a] + n·c_src[b]`` is 1.
    The adjoint is the index map with source and destination swapped.
    """

    def __init__(self, rows: Pairs, cols: Pairs, in_shape: Shape, out_shape: Shape) -> None:
        super().__init__(in_shape, out_shape)
        self.rows = (_frozen(rows[0]), _frozen(rows[1]))
        self.cols = (_frozen(cols[0]), _frozen(cols[1]))
        (n, k), (p, q) = as_matrix_shape(self.in_shape), as_matrix_shape(self.out_shape)
        self._read = (_progression(self.rows[0]), _progression(self.cols[0]))
        self._write = (_progression(self.rows[1]), _progression(self.cols[1]))
        self.fills = _is_all(self.rows[1], p) and _is_all(self.cols[1], q)
        self.reads_all = _is_all(self.rows[0], n) and _is_all(self.cols[0], k)

    def is_identity(self) -> bool:
        return self.fills and self.reads_all \
            and as_matrix_shape(self.in_shape) == as_matrix_shape(self.out_shape)

    def relabel(self, in_shape: Shape, out_shape: Shape) -> LinearMap:
        return IndexMap(self.rows, self.cols, in_shape, out_shape)

    def _apply(self, h: Any) -> Any:
        if isinstance(h, Expr):
            return self._apply_symbolic(h)
        h = np.asarray(h)
        taken = _gather(h, self._read, self.rows[0], self.cols[0])
        if self.fills:
            return np.array(taken)  # a copy, never a view of the tangent
        out = np.zeros(h.shape[:-2] + as_matrix_shape(self.out_shape))
        rs, cs = self._write
        if rs is not None and cs is not None:
            out[..., rs, cs] = taken
        else:
            out[..., self.rows[1][:, None], self.cols[1][None, :]] = taken
        return out

    def _apply_symbolic(self, h: Expr) -> Expr:
        take, place = registry.function("index"), registry.function("place")
        rows, cols = as_range(self.rows[0]), as_range(self.cols[0])
        if self.fills:
            return take(h, rows, cols, self.out_shape)
        taken = take(h, rows, cols, (len(rows), len(cols)))
        return place(taken, as_range(self.rows[1]), as_range(self.cols[1]), self.out_shape)

    def _adjoint(self) -> LinearMap:
        return IndexMap(self.rows[::-1], self.cols[::-1], self.out_shape, self.in_shape)

    def _dense_into(self, out: np.ndarray, coef: float, assign: bool) -> None:
        (n, _), (p, _) = as_matrix_shape(self.in_shape), as_matrix_shape(self.out_shape)
        (ri, ro), (ci, co) = self.rows, self.cols
        out_idx = (ro[:, None] + p * co[None, :]).reshape(-1)
        in_idx = (ri[:, None] + n * ci[None, :]).reshape(-1)
        if assign:
            out[...] = 0.0
            out[out_idx, in_idx] = coef
        else:
            out[out_idx, in_idx] += coef  # distinct pairs: no accumulation needed

    def matrices(self) -> tuple[np.ndarray, np.ndarray]:
        """(P, Q), the partial permutation matrices of H ↦ P H Qᵀ."""
        (n, k), (p, q) = as_matrix_shape(self.in_shape), as_matrix_shape(self.out_shape)
        P, Q = np.zeros((p, n)), np.zeros((q, k))
        P[self.rows[1], self.rows[0]] = 1.0
        Q[self.cols[1], self.cols[0]] = 1.0
        return P, Q

    def einsum_form(self, i: str, j: str, a: str, b: str) -> list[tuple[str, Any]]:
        """Operands of out[i, j] = Σ P[i, a] H[a, b] Q[j, b]."""
        P, Q = self.matrices()
        return [(i + a, P), (j + b, Q)]


def _is_all(positions: np.ndarray, size: int) -> bool:
    return len(positions) == size and bool(np.all(positions == np.arange(size)))


def _gather(h: np.ndarray, slices: tuple[slice | None, slice | None], rows: np.ndarray,
            cols: np.ndarray) -> np.ndarray:
    rs, cs = slices
    if rs is not None and cs is not None:
        return h[..., rs, cs]
    return h[..., rows[:, None], cols[None, :]]


def _pairs_for(positions: range, to_output: bool) -> Pairs:
    refuse_named("indexing", (len(positions),), DERIVATION)
    dense = np.arange(len(positions))
    taken = np.array(positions, dtype=np.intp)
    return (dense, taken) if to_output else (taken, dense)


def select_map(rows: range, cols: range, in_shape: Shape, out_shape: Shape) -> IndexMap:
    """H ↦ H[rows, cols] (the derivative of an index node), reshaped to ``out_shape``."""
    return IndexMap(_pairs_for(rows, False), _pairs_for(cols, False), in_shape, out_shape)


def place_map(rows: range, cols: range, in_shape: Shape, out_shape: Shape) -> IndexMap:
    """h ↦ the zero matrix of ``out_shape`` with h at ``rows, cols`` (a block's derivative)."""
    return IndexMap(_pairs_for(rows, True), _pairs_for(cols, True), in_shape, out_shape)


def _compose_axis(outer: Pairs, inner: Pairs, middle: int) -> Pairs:
    """The positions of one axis through inner, then outer (only where outer reads what inner wrote)."""
    position = np.full(middle, -1, dtype=np.intp)
    position[inner[1]] = np.arange(len(inner[1]))
    through = position[outer[0]]
    kept = through >= 0
    return inner[0][through[kept]], outer[1][kept]


def compose_index_maps(outer: IndexMap, inner: IndexMap) -> LinearMap:
    """outer ∘ inner as one index map, or the zero map when nothing passes through."""
    mid_rows, mid_cols = as_matrix_shape(inner.out_shape)
    rows = _compose_axis(outer.rows, inner.rows, mid_rows)
    cols = _compose_axis(outer.cols, inner.cols, mid_cols)
    if not len(rows[0]) or not len(cols[0]):
        return ZeroMap(inner.in_shape, outer.out_shape)
    return IndexMap(rows, cols, inner.in_shape, outer.out_shape)
