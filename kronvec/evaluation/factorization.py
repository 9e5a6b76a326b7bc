"""LU and Cholesky factorizations, computed once and reused by every solve.

Solves call LAPACK directly (``getrs``/``potrs`` on the stored factors, or
``trtrs`` on a matrix known to be triangular, which needs no factorization),
and the reciprocal condition number is checked (``gecon``/``pocon``/``trcon``)
before the first solve, so a singular matrix raises a ``LinAlgError`` naming
the sub-expression instead of giving garbage.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import scipy.linalg as sla
from scipy.linalg import lapack

__all__ = ["Factorization"]

_EPS = np.finfo(float).eps


class Factorization:
    """LU or Cholesky factors of a square matrix, for solves with A or Aᵀ.

    The reciprocal condition number is checked (LAPACK ``gecon``/``pocon``) on
    the first solve, so a singular matrix raises instead of giving garbage.

    Parameters
    ----------
    a : (n, n) array
        The matrix.
    label : str
        How errors name it, e.g. ``inv(X.T @ X)``.
    try_cholesky : bool
        Try ``potrf`` first (for a symbol declared positive definite).
    symmetric, finite : bool, optional
        What the caller already knows of ``a``.
    cholesky : array, optional
        An upper Cholesky factor computed before (when the value was bound).
    triangle : "lower", "upper" or None
        ``a`` is known to be triangular (a Cholesky factor, ...): solves are
        triangular solves with ``a`` itself and no factorization is computed.
    """

    def __init__(self, a: np.ndarray, label: str, try_cholesky: bool,
                 symmetric: bool | None = None, finite: bool = False,
                 cholesky: np.ndarray | None = None, triangle: str | None = None) -> None:
        self.label = label
        self.n = a.shape[0]
        self._checked = False
        self._rcond: float | None = None
        self._anorm = float(np.abs(a).sum(axis=0).max()) if a.size else 0.0
        if not finite and not np.all(np.isfinite(a)):
            raise np.linalg.LinAlgError(f"{label}: the matrix contains NaN or inf")
        self.cholesky: np.ndarray | None = cholesky
        self.lu: tuple[np.ndarray, np.ndarray] | None = None
        self.triangular: tuple[np.ndarray, bool] | None = None  # (the matrix, lower)
        if triangle is not None:
            self.triangular = (a, triangle == "lower")
            return
        if cholesky is None and try_cholesky and (symmetric or symmetric is None and sla.issymmetric(a)):
            c, info = lapack.dpotrf(a, lower=0, clean=1)
            if info == 0:
                self.cholesky = c
        if self.cholesky is None:
            lu, piv, _ = lapack.dgetrf(a)  # a zero pivot is reported by _check
            self.lu = (lu, piv)

    def rcond(self) -> float:
        """The reciprocal condition number in the 1-norm (a LAPACK estimate, computed once)."""
        if self._rcond is None:
            if self.triangular is not None:
                t, lower = self.triangular
                self._rcond = float(lapack.dtrcon(t, norm="1", uplo="L" if lower else "U")[0])
            elif self.cholesky is not None:
                self._rcond = float(lapack.dpocon(self.cholesky, self._anorm, uplo="U")[0])
            else:
                lu = self.lu[0]
                self._rcond = 0.0 if np.any(np.diag(lu) == 0) else \
                    float(lapack.dgecon(lu, self._anorm, norm="1")[0])
        return self._rcond

    def _check(self, context: Callable[[], str] | None = None) -> None:
        if self._checked:
            return
        rcond = self.rcond()
        if not rcond > _EPS:
            matrix = "the matrix" if context is None else \
                self.label[4:-1] if self.label.startswith("inv(") else self.label
            raise np.linalg.LinAlgError(
                f"{context() if context is not None else self.label}: {matrix} is singular to working "
                f"precision (reciprocal condition number {rcond:.1e})")
        self._checked = True

    def solve(self, b: np.ndarray, trans: bool = False,
              context: Callable[[], str] | None = None) -> np.ndarray:
        """A⁻¹b, or A⁻ᵀb when ``trans`` (LAPACK ``potrs``/``getrs`` on the stored factors).

        ``context`` names the computation in the error for a singular matrix
        (e.g. ``solve(A, B)``); the default is the factorization's label.
        """
        self._check(context)
        if self.triangular is not None:
            t, lower = self.triangular
            x, info = lapack.dtrtrs(t, b, lower=int(lower), trans=1 if trans else 0)
        elif self.cholesky is not None:
            x, info = lapack.dpotrs(self.cholesky, b, lower=0)
        else:
            x, info = lapack.dgetrs(self.lu[0], self.lu[1], b, trans=1 if trans else 0)
        if info != 0:
            raise np.linalg.LinAlgError(f"{self.label}: LAPACK solve failed (info={info})")
        return x

    def inverse(self, trans: bool = False) -> np.ndarray:
        """A⁻¹ (or A⁻ᵀ) from the factors (``potri``/``getri``), for when the inverse itself
        is the value asked for."""
        self._check()
        if self.triangular is not None:
            t, lower = self.triangular
            out, info = lapack.dtrtri(t, lower=int(lower))
            out = np.tril(out) if lower else np.triu(out)
            out = out.T if trans else out
        elif self.cholesky is not None:
            upper, info = lapack.dpotri(self.cholesky, lower=0)
            out = np.triu(upper) + np.triu(upper, 1).T
        else:
            out, info = lapack.dgetri(*self.lu)
            out = out.T if trans else out
        if info != 0:
            raise np.linalg.LinAlgError(f"{self.label}: LAPACK inverse failed (info={info})")
        return out

    def logabsdet(self) -> tuple[float, float]:
        """(sign, log|det A|)."""
        if self.triangular is not None:
            d = np.diag(self.triangular[0])
            with np.errstate(divide="ignore"):
                return float(np.prod(np.sign(d))), float(np.log(np.abs(d)).sum())
        if self.cholesky is not None:
            return 1.0, 2.0 * float(np.log(np.diag(self.cholesky)).sum())
        lu, piv = self.lu
        d = np.diag(lu)  # scipy returns 0-based pivots
        sign = (-1.0) ** int(np.count_nonzero(piv != np.arange(self.n))) * float(np.prod(np.sign(d)))
        with np.errstate(divide="ignore"):
            return sign, float(np.log(np.abs(d)).sum())
