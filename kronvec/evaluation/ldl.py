"""Solves with a Bunch–Kaufman factor A = P U D Uᵀ Pᵀ by triangular solves with many columns.

LAPACK's ``sytrs`` applies the factor one column at a time (rank-one updates of
the right side), so with k right-hand sides it runs at BLAS-2 speed: at n = 2000
and k = 200 it takes 250 ms where ``getrs`` takes 47 ms.  ``sytrs2`` (not wrapped
by SciPy) does it with ``trsm`` after ``syconv`` has separated U from D; this is
the same algorithm:

1. B ← Pᵀ B (the row interchanges of ``ipiv``, as one permutation);
2. B ← U⁻¹ B (unit upper triangular);
3. B ← D⁻¹ B (1×1 and 2×2 blocks);
4. B ← U⁻ᵀ B;
5. B ← P B.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla
from scipy.linalg import lapack

__all__ = ["WideLDLSolver", "WIDE_FROM"]

WIDE_FROM = 8  # right-hand sides from which the trsm form beats sytrs


class WideLDLSolver:
    """A⁻¹B for a factor ``(ldu, ipiv)`` of ``dsytrf(a, lower=0)`` (A symmetric), by ``trsm``.

    The conversion (``dsyconv``) and the permutation are computed once, here.
    """

    def __init__(self, ldu: np.ndarray, ipiv: np.ndarray) -> None:
        n = ldu.shape[0]
        converted, e, info = lapack.dsyconv(ldu, ipiv, lower=0, way=0)
        if info != 0:
            raise np.linalg.LinAlgError(f"dsyconv failed (info={info})")
        self.U = converted  # unit upper triangular above the diagonal; D on the diagonal
        order, pivots = list(range(n)), ipiv.tolist()
        k = n - 1
        while k >= 0:  # the interchanges of step 1, in LAPACK's order (ipiv is 1-based)
            p = pivots[k]
            row, other = (k, p - 1) if p > 0 else (k - 1, -p - 1)
            order[row], order[other] = order[other], order[row]
            k -= 1 if p > 0 else 2
        self.perm = np.array(order)
        self.unperm = np.argsort(self.perm)
        two = np.flatnonzero(ipiv < 0)
        second = two[1::2]  # the second row of each 2×2 block (its first is one above)
        self.single = np.setdiff1d(np.arange(n), two)
        self.first, self.second = second - 1, second
        d = np.diagonal(converted)
        self.d_single = d[self.single][:, None]
        off = e[second]  # the off-diagonal entry of each 2×2 block
        a, b = d[self.first] / off, d[second] / off
        self.off, self.a, self.b, self.denom = off[:, None], a[:, None], b[:, None], (a * b - 1.0)[:, None]

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """A⁻¹ rhs for a 2-D ``rhs`` of shape (n, k)."""
        y = sla.solve_triangular(self.U, rhs[self.perm], lower=False, unit_diagonal=True,
                                 check_finite=False)
        z = np.empty_like(y)
        with np.errstate(divide="ignore", invalid="ignore"):  # singular: the condition check raises
            z[self.single] = y[self.single] / self.d_single
            if self.first.size:  # the 2×2 blocks [[α, β], [β, γ]]: LAPACK's scaled formula
                y1, y2 = y[self.first] / self.off, y[self.second] / self.off
                z[self.first] = (self.b * y1 - y2) / self.denom
                z[self.second] = (self.a * y2 - y1) / self.denom
        x = sla.solve_triangular(self.U, z, lower=False, trans=1, unit_diagonal=True, check_finite=False)
        result: np.ndarray = x[self.unperm]
        return result
