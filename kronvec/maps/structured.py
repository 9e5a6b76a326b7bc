"""The vec convention and the classic structured matrices as lazy maps.

``vec`` stacks columns (column-major): ``vec(A) = A.reshape(-1, order="F")``,
so that ``vec(A H B) = (Bᵀ ⊗ A) vec(H)``.  ``vech`` stacks the columns of the
lower triangle, ``vech(A) = [A[j:, j] for j in range(n)]`` concatenated.

* the commutation matrix K (K vec A = vec Aᵀ) is the map A ↦ Aᵀ;
* the duplication matrix D (D vech A = vec A for symmetric A) maps vech → vec;
* the elimination matrix L (L vec A = vech A) maps vec → vech.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from ..dims import dim
from ..errors import ShapeError
from ..expr import Expr
from .base import LinearMap
from .terms import KronTMap

__all__ = ["vec", "unvec", "vech", "commutation", "duplication", "elimination",
           "DuplicationMap", "EliminationMap", "VechMap"]


def vec(A: ArrayLike) -> np.ndarray:
    """The column-major vectorisation ``A.reshape(-1, order="F")`` of an array (a matrix or a
    stack: all axes, as ``to_dense`` flattens them)."""
    _numeric("vec", A)
    return np.asarray(A, dtype=float).reshape(-1, order="F")


def _numeric(fn: str, A: Any) -> None:
    if isinstance(A, Expr):
        raise TypeError(f"kv.{fn} takes numbers (an array), not the expression {A} of shape "
                        f"{A.shape}: evaluate it first (kv.evaluate), or use J.to_dense() for the vec "
                        f"form of a derivative")


def unvec(v: ArrayLike, shape: tuple[int, int]) -> np.ndarray:
    """The inverse of :func:`vec`: a matrix of ``shape`` from its column stack."""
    _numeric("unvec", v)
    v = np.asarray(v, dtype=float)
    if v.size != int(np.prod(shape)):
        raise ShapeError(f"unvec: {v.size} entries do not fill shape {tuple(shape)}")
    return v.reshape(shape, order="F")


def _vech_index(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column indices of the lower triangle in vech order."""
    cols, rows = np.triu_indices(n)
    return rows, cols


def vech(A: ArrayLike) -> np.ndarray:
    """The half-vectorisation: the columns of the lower triangle of a square A, stacked."""
    _numeric("vech", A)
    a = np.asarray(A, dtype=float)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ShapeError(f"vech: needs a square matrix, got shape {a.shape}")
    rows, cols = _vech_index(a.shape[0])
    half: np.ndarray = a[rows, cols]
    return half


def commutation(m: int, n: int) -> LinearMap:
    """The map A ↦ Aᵀ from (m, n) to (n, m); its dense form K has K vec A = vec Aᵀ (m and n
    numbers or names: ``commutation("n", "m")`` prints K₍ₙ,ₘ₎)."""
    m, n = dim(m), dim(n)
    return KronTMap(None, None, (m, n), (n, m))


class VechMap(LinearMap):
    """A map between n×n matrices and their vech (n(n+1)/2 entries, as a column).

    ``letter`` and ``transposed`` say how it prints: D₃, D₃ᵀ, L₃ or L₃ᵀ.
    """

    letter = ""
    transposed = False

    def acts_on_expressions(self) -> bool:
        return False  # index maps on arrays only: compositions with them stay lazy

    def __init__(self, n: int, to_vech: bool) -> None:
        n = dim(n)
        half, full = (n * (n + 1) // 2, 1), (n, n)
        super().__init__(full if to_vech else half, half if to_vech else full)
        self.n = n
        self._index: tuple[np.ndarray, np.ndarray] | None = None

    @property
    def rows(self) -> np.ndarray:
        """Row indices of the lower triangle in vech order (computed on first use)."""
        return self._vech_index()[0]

    @property
    def cols(self) -> np.ndarray:
        """Column indices of the lower triangle in vech order (computed on first use)."""
        return self._vech_index()[1]

    def _vech_index(self) -> tuple[np.ndarray, np.ndarray]:
        if self._index is None:  # O(n²) only once the map is applied: construction is O(1)
            self._index = _vech_index(self.n)
        return self._index

    def _lower(self, h: Any) -> np.ndarray:
        """The n×n matrices with the vech entries h in their lower triangles."""
        out = np.zeros(np.shape(h)[:-2] + (self.n, self.n))
        out[..., self.rows, self.cols] = h[..., :, 0]
        return out


class DuplicationMap(VechMap):
    """vech A ↦ A for symmetric A: from (n(n+1)/2, 1) to (n, n); dense form D.

    The adjoint is Dᵀ vec G = vech(G + Gᵀ − diag G).
    """

    letter = "D"

    def __init__(self, n: int) -> None:
        super().__init__(n, to_vech=False)

    def _apply(self, h: Any) -> Any:
        out = self._lower(h)
        out[..., self.cols, self.rows] = h[..., :, 0]
        return out

    def _adjoint(self) -> LinearMap:
        return _DuplicationAdjoint(self.n)


class _DuplicationAdjoint(VechMap):
    """G ↦ Dᵀ vec G = vech(G + Gᵀ − diag G)."""

    letter, transposed = "D", True

    def __init__(self, n: int) -> None:
        super().__init__(n, to_vech=True)

    def _apply(self, g: Any) -> Any:
        off = self.rows != self.cols
        return (g[..., self.rows, self.cols] + off * g[..., self.cols, self.rows])[..., None]

    def _adjoint(self) -> LinearMap:
        return DuplicationMap(self.n)


class EliminationMap(VechMap):
    """A ↦ vech A: from (n, n) to (n(n+1)/2, 1); dense form L.  Adjoint: Lᵀ."""

    letter = "L"

    def __init__(self, n: int) -> None:
        super().__init__(n, to_vech=True)

    def _apply(self, h: Any) -> Any:
        return h[..., self.rows, self.cols][..., None]

    def _adjoint(self) -> LinearMap:
        return _EliminationAdjoint(self.n)


class _EliminationAdjoint(VechMap):
    """vech-shaped g ↦ the lower-triangular matrix with those entries (Lᵀ)."""

    letter, transposed = "L", True

    def __init__(self, n: int) -> None:
        super().__init__(n, to_vech=False)

    def _apply(self, g: Any) -> Any:
        return self._lower(g)

    def _adjoint(self) -> LinearMap:
        return EliminationMap(self.n)


def duplication(n: int) -> LinearMap:
    """The duplication matrix D as a map vech → vec; ``L @ duplication(n)`` is the
    Jacobian with respect to vech V."""
    return DuplicationMap(dim(n))


def elimination(n: int) -> LinearMap:
    """The elimination matrix L as a map vec → vech (inverse of D on symmetric matrices)."""
    return EliminationMap(dim(n))
