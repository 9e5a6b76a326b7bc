"""Block maps: linear maps between tuples of matrices (several variables at once).

A :class:`BlockMap` with blocks Lᵢⱼ takes a tuple of tangents (H₁, …, Hₙ)
to the tuple (Σⱼ L₁ⱼ Hⱼ, …, Σⱼ Lₘⱼ Hⱼ).  Its in and out shapes are tuples of
shapes, and its dense matrix is the block matrix [Lᵢⱼ] of the blocks' dense
matrices: in the vec convention, with the vecs of the variables stacked in
order, vec(out) = [Lᵢⱼ] vec(H).  ``kv.hessian(f, [U, V]).at(...)`` is one,
with blocks [[H_UU, H_UV], [H_VU, H_VV]], Hᵢⱼ = ∂(∇ᵢ f)/∂Vⱼ.

It has the interface of :class:`~kronvec.maps.base.LinearMap` (``jvp``,
``vjp``, ``.T``, ``@``, ``+``, ``c *``, ``to_dense``, ``aslinearoperator``)
on tuples, but is not a subclass: a LinearMap maps one matrix to one matrix,
and every algebra rule, printer and test of maps relies on that.  The block
map is a thin layer over its blocks, which keep all their structure.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

import numpy as np

from .. import registry
from ..errors import MaterializationError, ShapeError
from ..expr import Expr
from ..shapes import Shape, fmt, human_bytes, same_shape
from .base import DEFAULT_MAX_BYTES, LinearMap, check_max_bytes, real_array, sparse_linalg

__all__ = ["BlockMap"]


class BlockMap:
    """(H₁, …, Hₙ) ↦ (Σⱼ Lᵢⱼ Hⱼ)ᵢ for a grid of LinearMaps Lᵢⱼ.

    Parameters
    ----------
    blocks : sequence of sequences of LinearMap
        ``blocks[i][j]`` maps the j-th input to (a term of) the i-th output;
        the blocks of a row share their output shape, those of a column their
        input shape.
    labels : (sequence of str, sequence of str), optional
        Names of the outputs and of the inputs, for printing.

    Attributes
    ----------
    in_shape, out_shape : tuple of shapes
        The shapes of the input and output tuples.
    shape : (int, int)
        The shape of the dense block matrix.
    """

    __array_ufunc__ = None  # ndarray @ BlockMap defers to __rmatmul__

    def __init__(self, blocks: Sequence[Sequence[LinearMap]],
                 labels: tuple[Sequence[str], Sequence[str]] | None = None) -> None:
        grid = tuple(tuple(row) for row in blocks)
        if not grid or not grid[0] or any(len(row) != len(grid[0]) for row in grid):
            raise ShapeError("a block map needs a non-empty rectangular grid of blocks")
        for i, row in enumerate(grid):
            for j, b in enumerate(row):
                if not (same_shape(b.out_shape, row[0].out_shape)
                        and same_shape(b.in_shape, grid[0][j].in_shape)):
                    raise ShapeError(f"block map: block [{i}, {j}] maps {fmt(b.in_shape)} -> "
                                     f"{fmt(b.out_shape)}, but its column takes {fmt(grid[0][j].in_shape)} "
                                     f"and its row gives {fmt(row[0].out_shape)}")
        self.blocks = grid
        self.in_shape: tuple[Shape, ...] = tuple(b.in_shape for b in grid[0])
        self.out_shape: tuple[Shape, ...] = tuple(row[0].out_shape for row in grid)
        self.labels = labels or ([str(i) for i in range(len(grid))], [str(j) for j in range(len(grid[0]))])
        self._adj: BlockMap | None = None

    # ------------------------------------------------------------- info
    @property
    def shape(self) -> tuple[int, int]:
        """(Σᵢ size of output i, Σⱼ size of input j)."""
        return (sum(math.prod(s) for s in self.out_shape), sum(math.prod(s) for s in self.in_shape))

    @property
    def symbolic(self) -> bool:
        return any(b.symbolic for row in self.blocks for b in row)

    @property
    def T(self) -> "BlockMap":
        """The adjoint: blocks Lⱼᵢᵀ, so that Σᵢ⟨(L H)ᵢ, Gᵢ⟩ = Σⱼ⟨Hⱼ, (Lᵀ G)ⱼ⟩."""
        if self._adj is None:
            cols = range(len(self.blocks[0]))
            self._adj = BlockMap([[row[j].T for row in self.blocks] for j in cols], self.labels[::-1])
            self._adj._adj = self
        return self._adj

    def bind(self, value: Callable[[Expr], Any]) -> "BlockMap":
        """Every block bound (see :meth:`LinearMap.bind`)."""
        return BlockMap([[b.bind(value) for b in row] for row in self.blocks], self.labels)

    # ------------------------------------------------------ application
    def _tuple(self, xs: Any, shapes: tuple[Shape, ...], what: str) -> list[Any]:
        if not isinstance(xs, (tuple, list)) or len(xs) != len(shapes):
            got = f"a {type(xs).__name__} of {len(xs)}" if isinstance(xs, (tuple, list)) else \
                f"a {type(xs).__name__}"
            raise ShapeError(f"{what}: needs a tuple of {len(shapes)} arrays of shapes "
                             f"{', '.join(fmt(s) for s in shapes)} (one per variable), got {got}")
        return list(xs)

    def jvp(self, H: Sequence[Any]) -> tuple[np.ndarray, ...]:
        """(Σⱼ Lᵢⱼ Hⱼ)ᵢ for the tuple H of tangents (each of its input shape, or a stack)."""
        H = self._tuple(H, self.in_shape, "jvp")
        return tuple(_sum(b.jvp(h) for b, h in zip(row, H)) for row in self.blocks)

    def vjp(self, G: Sequence[Any]) -> tuple[np.ndarray, ...]:
        """The cotangents of the inputs for the tuple G of output cotangents: Lᵀ G."""
        self._tuple(G, self.out_shape, "vjp")
        return self.T.jvp(G)

    def matvec(self, v: Any) -> np.ndarray:
        """[Lᵢⱼ] v for v the stacked vecs of the inputs (1-D), or columns of them (2-D)."""
        v = real_array(v, "matvec")
        if v.shape[:1] != (self.shape[1],) or v.ndim > 2:
            raise ShapeError(f"matvec: a vector of shape {fmt(v.shape)} does not fit the block map's "
                             f"matrix shape {fmt(self.shape)}")
        parts = np.split(v, np.cumsum([math.prod(s) for s in self.in_shape])[:-1])
        return np.concatenate([_sum(b.matvec(x) for b, x in zip(row, parts)) for row in self.blocks])

    def __matmul__(self, other: Any) -> Any:
        if isinstance(other, BlockMap):
            if len(self.blocks[0]) != len(other.blocks):
                raise ShapeError(f"compose: the left block map takes {len(self.blocks[0])} inputs, "
                                 f"the right one gives {len(other.blocks)}")
            return BlockMap([[_sum(row[k] @ other.blocks[k][j] for k in range(len(other.blocks)))
                              for j in range(len(other.blocks[0]))] for row in self.blocks],
                            (self.labels[0], other.labels[1]))
        if isinstance(other, (np.ndarray, list, tuple, int, float, np.generic)):
            return self.matvec(other)
        return NotImplemented

    def __rmatmul__(self, other: Any) -> Any:
        """``u @ L`` for a row vector (or rows): (Lᵀ uᵀ)ᵀ."""
        return self.T.matvec(real_array(other, "u @ L").T).T

    # ---------------------------------------------------------- algebra
    def __add__(self, other: Any) -> "BlockMap":
        if not isinstance(other, BlockMap):
            return NotImplemented
        if self.in_shape != other.in_shape or self.out_shape != other.out_shape:
            raise ShapeError("add: block maps of different shapes")
        return BlockMap([[a + b for a, b in zip(r, s)] for r, s in zip(self.blocks, other.blocks)],
                        self.labels)

    def __sub__(self, other: Any) -> "BlockMap":
        result: BlockMap = self + (-1.0) * other
        return result

    def __neg__(self) -> "BlockMap":
        return (-1.0) * self

    def __mul__(self, c: Any) -> "BlockMap":
        if not isinstance(c, (int, float, np.integer, np.floating)):
            return NotImplemented
        return BlockMap([[float(c) * b for b in row] for row in self.blocks], self.labels)

    __rmul__ = __mul__

    def __truediv__(self, c: Any) -> "BlockMap":
        return self * (1.0 / float(c))

    # ------------------------------------------------------------ dense
    def to_dense(self, max_bytes: int | None = DEFAULT_MAX_BYTES) -> np.ndarray:
        """The block matrix [Lᵢⱼ] of shape ``self.shape`` (variables stacked in order,
        each vec column-major); refused beyond ``max_bytes`` as :meth:`LinearMap.to_dense`."""
        check_max_bytes(max_bytes)
        rows, cols = self.shape
        nbytes = 8 * rows * cols
        if max_bytes is not None and nbytes > max_bytes:
            raise MaterializationError(
                f"to_dense would allocate {human_bytes(nbytes)} for a {rows} x {cols} float64 matrix, "
                f"more than max_bytes={max_bytes}; call to_dense(max_bytes={nbytes}) to allow it")
        return np.block([[b.to_dense(None) for b in row] for row in self.blocks])

    def to_tensor(self, max_bytes: int | None = DEFAULT_MAX_BYTES) -> tuple[tuple[np.ndarray, ...], ...]:
        """The blocks' tensors ``out_shape[i] + in_shape[j]``, as a tuple of rows."""
        return tuple(tuple(b.to_tensor(max_bytes) for b in row) for row in self.blocks)

    def aslinearoperator(self) -> Any:
        """A ``scipy.sparse.linalg.LinearOperator`` on the stacked vecs."""
        return sparse_linalg.LinearOperator(self.shape, matvec=self.matvec, rmatvec=self.T.matvec,
                              matmat=self.matvec, rmatmat=self.T.matvec, dtype=np.float64)

    # --------------------------------------------------------- printing
    def lines(self, render: Callable[[LinearMap], str]) -> list[str]:
        """``[U, V]: …`` for every block, in row-major order."""
        outs, ins = self.labels
        return [f"[{outs[i]}, {ins[j]}]: {render(b)}" for i, row in enumerate(self.blocks)
                for j, b in enumerate(row)]

    def __str__(self) -> str:
        return "\n".join(self.lines(registry.DISPLAY.map_unicode))

    def __repr__(self) -> str:
        kind = "symbolic" if self.symbolic else "numeric"

        def shapes(ss: Sequence[Shape]) -> str:
            return "(" + ", ".join(fmt(s) for s in ss) + ")"
        return f"<{kind} BlockMap {shapes(self.in_shape)} -> {shapes(self.out_shape)}>"


def _sum(xs: Any) -> Any:
    it = iter(xs)
    out = next(it)
    for x in it:
        out = out + x
    return out
