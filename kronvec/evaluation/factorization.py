"""LU and Cholesky factorizations, computed once and reused by every solve.

Solves call LAPACK directly (``getrs``/``potrs`` on the stored factors), and
the reciprocal condition number is checked (``gecon``/``pocon``) before the
first solve, so a singular matrix raises a ``LinAlgError`` naming the
sub-expression instead of giving garbage.
"""
from __future__ import annotations

import numpy as np
from scipy.linalg import lapack

__all__ = ["Factorization"]

_EPS = np.finfo(float).eps


class Factorization:
    """LU or Cholesky factors of a square matrix, for solves with A or Aᵀ.

    The reciprocal condition number is checked (LAPACK ``gecon``/``pocon``) on
    the first solve, so a singular matrix raises instead of giving garbage.
    """

    def __init__(self, a: np.ndarray, label: str, try_cholesky: bool,
                 symmetric: bool | None = None, finite: bool = False) -> None:
        """Factor ``a``; ``symmetric``/``finite`` pass on what the caller already checked."""
        self.label = label
        self.n = a.shape[0]
        self._checked = False
        self._anorm = float(np.abs(a).sum(axis=0).max()) if a.size else 0.0
        if not finite and not np.all(np.isfinite(a)):
            raise np.linalg.LinAlgError(f"{label}: the matrix contains NaN or inf")
        self.cholesky: np.ndarray | None = None
        self.lu: tuple[np.ndarray, np.ndarray] | None = None
        if symmetric is None and try_cholesky:
            symmetric = bool(np.array_equal(a, a.T))
        if try_cholesky and symmetric:
            c, info = lapack.dpotrf(a, lower=0, clean=1)
            if info == 0:
                self.cholesky = c
        if self.cholesky is None:
            lu, piv, _ = lapack.dgetrf(a)  # a zero pivot is reported by _check
            self.lu = (lu, piv)

    def _check(self) -> None:
        if self._checked:
            return
        if self.cholesky is not None:
            rcond, _ = lapack.dpocon(self.cholesky, self._anorm, uplo="U")
        else:
            lu = self.lu[0]
            rcond = 0.0 if np.any(np.diag(lu) == 0) else lapack.dgecon(lu, self._anorm, norm="1")[0]
        if not rcond > _EPS:
            raise np.linalg.LinAlgError(
                f"{self.label}: the matrix is singular to working precision "
                f"(reciprocal condition number {rcond:.1e})")
        self._checked = True

    def solve(self, b: np.ndarray, trans: bool = False) -> np.ndarray:
        """A⁻¹b, or A⁻ᵀb when ``trans`` (LAPACK ``potrs``/``getrs`` on the stored factors)."""
        self._check()
        if self.cholesky is not None:
            x, info = lapack.dpotrs(self.cholesky, b, lower=0)
        else:
            x, info = lapack.dgetrs(self.lu[0], self.lu[1], b, trans=1 if trans else 0)
        if info != 0:
            raise np.linalg.LinAlgError(f"{self.label}: LAPACK solve failed (info={info})")
        return x

    def inverse(self, trans: bool = False) -> np.ndarray:
        """A⁻¹ (or A⁻ᵀ), for when the inverse itself is the value asked for."""
        return self.solve(np.eye(self.n), trans)

    def logabsdet(self) -> tuple[float, float]:
        """(sign, log|det A|)."""
        if self.cholesky is not None:
            return 1.0, 2.0 * float(np.log(np.diag(self.cholesky)).sum())
        lu, piv = self.lu
        d = np.diag(lu)  # scipy returns 0-based pivots
        sign = (-1.0) ** int(np.count_nonzero(piv != np.arange(self.n))) * float(np.prod(np.sign(d)))
        with np.errstate(divide="ignore"):
            return sign, float(np.log(np.abs(d)).sum())
