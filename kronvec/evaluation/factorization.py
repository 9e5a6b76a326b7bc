"""LU, Cholesky and LDLᵀ factorizations, computed once and reused by every solve.

Solves call LAPACK directly (``getrs``/``potrs``/``sytrs`` on the stored
factors, or ``trtrs`` on a matrix known to be triangular, which needs no
factorization; many right-hand sides of a large LDLᵀ factor go through ``trsm``,
:mod:`kronvec.evaluation.ldl`), and the reciprocal condition number is checked at the end of
an evaluation (exactly from an inverse when one was formed, else
``gecon``/``pocon``/``sycon``/``trcon``), so a singular matrix raises a
``LinAlgError`` naming the sub-expression instead of giving garbage.

A factorization made with ``quick=True`` checks its result instead: its pivots
(:func:`~.checks.pivots_balanced`, O(n)), with no finiteness pass over the matrix and no
1-norm; pivots that are tiny or not finite raise :class:`~.checks.SuspectResult`, and the
caller evaluates again with every check above, which names the culprit.
"""
from __future__ import annotations

import functools
import math
from typing import Callable

import numpy as np
from scipy.linalg import lapack

from .binding import is_symmetric
from .checks import SuspectResult, pivots_balanced
from .ldl import WIDE_FROM, WideLDLSolver

__all__ = ["Factorization", "mirror_upper", "one_norm", "fortran_view"]

_EPS = np.finfo(float).eps


class Factorization:
    """LU or Cholesky factors of a square matrix, for solves with A or Aᵀ.

    The reciprocal condition number is checked (:meth:`verify`) whenever the
    factors were used for a solve or an inverse, so a singular matrix raises
    instead of giving garbage.

    Parameters
    ----------
    a : (n, n) array
        The matrix.
    label : str, or a function returning it
        How errors name it, e.g. ``inv(X.T @ X)``.
    try_cholesky : bool
        Try ``potrf`` first (for a symbol declared positive definite).
    symmetric, finite : bool, optional
        What the caller already knows of ``a``.
    cholesky : array, optional
        An upper Cholesky factor computed before (when the value was bound; with ``quick``,
        by :meth:`Binder.quick <.binding.Binder.quick>`, which checked its pivots).
    triangle : "lower", "upper" or None
        ``a`` is known to be triangular (a Cholesky factor, ...): solves are
        triangular solves with ``a`` itself and no factorization is computed.
    quick : bool
        Check the result, not the matrix: :meth:`verify` reads the pivots of LU and
        Cholesky factors and raises :class:`~.checks.SuspectResult` when they are tiny
        (estimated reciprocal condition number below :data:`~.checks.PIVOT_GATE`) or not finite.
    """

    # What every factorization starts with (class attributes: an evaluation makes many small
    # ones, and each attribute set in __init__ costs its share of a first use)
    _used = False  # the factors served a solve or an inverse
    _context: Callable[[], str] | None = None  # names the first solve, if any
    _checked = False
    _rcond: float | None = None
    _inverse_norm: float | None = None
    _quick = False
    _a: np.ndarray | None = None
    _norm: float | None = None  # ‖a‖₁
    cholesky: np.ndarray | None = None
    lu: tuple[np.ndarray, np.ndarray] | None = None
    ldl: tuple[np.ndarray, np.ndarray] | None = None
    _wide: WideLDLSolver | None = None  # the trsm form of ldl, once wide solves come
    triangular: tuple[np.ndarray, bool] | None = None  # (the matrix, lower)

    def __init__(self, a: np.ndarray, label: str | Callable[[], str], try_cholesky: bool,
                 symmetric: bool | None = None, finite: bool = False,
                 cholesky: np.ndarray | None = None, triangle: str | None = None,
                 quick: bool = False) -> None:
        self._label = label  # a string, or a function that makes it (only errors read it)
        self.n = a.shape[0]
        if quick:
            self._quick, self._a = True, a  # a kept for a condition estimate asked for later
        else:
            self._norm = one_norm(a) if a.size else 0.0  # (NaN or inf when an entry is)
            if not finite and not math.isfinite(self._norm) and not np.isfinite(a).all():
                raise np.linalg.LinAlgError(f"{self.label}: the matrix contains NaN or inf")
        if cholesky is not None:
            self.cholesky = cholesky
            self._checked = quick  # its pivots were checked when it was bound (Binder.quick)
        if triangle is not None:
            self.triangular = (a, triangle == "lower")
            return
        if cholesky is None and try_cholesky and (symmetric or symmetric is None and is_symmetric(a)):
            c, info = lapack.dpotrf(fortran_view(a), lower=0, clean=1)
            if info == 0:
                self.cholesky = c
        if self.cholesky is None and symmetric and self.n >= LDL_FROM:
            # symmetric (indefinite): Bunch–Kaufman LDLᵀ, about half the work of LU
            ldu, ipiv, _ = lapack.dsytrf(fortran_view(a), lower=0, lwork=int(lapack.dsytrf_lwork(self.n)[0]))
            self.ldl = (ldu, ipiv)
        elif self.cholesky is None:
            lu, piv, _ = lapack.dgetrf(a)  # a zero pivot is reported by verify
            self.lu = (lu, piv)


    @property
    def label(self) -> str:
        """How errors name the matrix, e.g. ``inv(X.T @ X)``."""
        if not isinstance(self._label, str):
            self._label = self._label()
        return self._label

    @property
    def _anorm(self) -> float:
        """‖A‖₁ (computed once, when asked for)."""
        if self._norm is None:
            assert self._a is not None, "kept when the norm was not computed at once"
            self._norm = one_norm(self._a) if self._a.size else 0.0
        return self._norm

    def _pivots_look_fine(self) -> bool:
        """For ``quick``: whether the pivots of LU or Cholesky factors are finite and not tiny
        (other factors are checked by their condition estimate)."""
        if self.cholesky is not None:
            return pivots_balanced(self.cholesky, squared=True)
        if self.lu is not None:
            return pivots_balanced(self.lu[0], squared=False)
        return bool(self.rcond() > _EPS)

    def rcond(self) -> float:
        """The reciprocal condition number in the 1-norm, computed once: exactly from the
        inverse when it was formed, else the LAPACK estimate (``pocon``/``gecon``)."""
        if self._rcond is None:
            if self._inverse_norm is not None:
                self._rcond = 1.0 / (self._anorm * self._inverse_norm) if self._anorm else 0.0
            elif self.triangular is not None:
                t, lower = self.triangular
                self._rcond = float(lapack.dtrcon(t, norm="1", uplo="L" if lower else "U")[0])
            elif self.cholesky is not None:
                self._rcond = float(lapack.dpocon(self.cholesky, self._anorm, uplo="U")[0])
            elif self.ldl is not None:
                self._rcond = float(lapack.dsycon(*self.ldl, self._anorm, lower=0)[0])
            else:
                assert self.lu is not None, "the factors are LU when no other kind is"
                lu = self.lu[0]
                self._rcond = 0.0 if np.any(np.diag(lu) == 0) else \
                    float(lapack.dgecon(lu, self._anorm, norm="1")[0])
        return self._rcond

    def verify(self) -> None:
        """Raise ``LinAlgError`` if the factors were used for solves or an inverse of a
        matrix that is singular to working precision (naming the first such use).

        The evaluator calls this once at the end of an evaluation, so that the
        condition estimate can come from an inverse computed meanwhile.
        """
        if not self._used or self._checked:
            return
        if self._quick:
            if not self._pivots_look_fine():
                raise SuspectResult(f"{self.label}: tiny or non-finite pivots")
            self._checked = True
            return
        rcond = self.rcond()
        if not rcond > _EPS:
            if self._context is None:
                what, matrix = self.label, "the matrix"
            else:
                what = self._context()
                matrix = self.label[4:-1] if self.label.startswith("inv(") else self.label
            raise np.linalg.LinAlgError(f"{what}: {matrix} is singular to working precision "
                                        f"(reciprocal condition number {rcond:.1e})")
        self._checked = True

    def _note_use(self, context: Callable[[], str] | None) -> None:
        if not self._used:
            self._used, self._context = True, context

    def solve(self, b: np.ndarray, trans: bool = False,
              context: Callable[[], str] | None = None) -> np.ndarray:
        """A⁻¹b, or A⁻ᵀb when ``trans`` (LAPACK ``potrs``/``getrs`` on the stored factors).

        ``context`` names the computation in the error for a singular matrix
        (e.g. ``solve(A, B)``); the default is the factorization's label.
        A stack b of shape (..., n, k) is solved member by member in one call, as the
        columns of the (n, ...·k) matrix its members form side by side.
        """
        if b.ndim > 2:
            columns = np.moveaxis(b, -2, 0)
            x = self.solve(columns.reshape(columns.shape[0], -1), trans, context)
            return np.moveaxis(x.reshape(columns.shape), 0, -2)
        self._note_use(context)
        if self.triangular is not None:
            t, lower = self.triangular
            x, info = lapack.dtrtrs(t, b, lower=int(lower), trans=1 if trans else 0)
        elif self.cholesky is not None:
            x, info = lapack.dpotrs(self.cholesky, b, lower=0)
        elif self.ldl is not None:  # symmetric: A⁻ᵀ = A⁻¹
            x, info = self._ldl_solve(b)
        else:
            assert self.lu is not None, "the factors are LU when no other kind is"
            x, info = lapack.dgetrs(self.lu[0], self.lu[1], b, trans=1 if trans else 0)
        if info != 0:
            raise np.linalg.LinAlgError(f"{self.label}: LAPACK solve failed (info={info})")
        return x

    def _ldl_solve(self, b: np.ndarray) -> tuple[np.ndarray, int]:
        """``sytrs``, or for many right-hand sides of a large matrix the ``trsm`` form
        (:class:`~kronvec.evaluation.ldl.WideLDLSolver`, set up once and kept)."""
        ldl = self.ldl
        assert ldl is not None, "called for LDLᵀ factors"
        k = b.shape[1] if b.ndim == 2 else 1
        if self._wide is None and k >= WIDE_SETUP_FROM[1] and self.n >= WIDE_SETUP_FROM[0]:
            self._wide = WideLDLSolver(*ldl)
        if self._wide is not None and k >= WIDE_FROM:
            return self._wide.solve(b), 0
        solved: tuple[np.ndarray, int] = lapack.dsytrs(*ldl, b, lower=0)
        return solved

    def inverse(self, trans: bool = False) -> np.ndarray:
        """A⁻¹ (or A⁻ᵀ) from the factors (``potri``/``sytri``/``getri``, or ``trtri`` for a
        triangular matrix), for when the inverse itself is the value asked for."""
        out: np.ndarray
        self._note_use(None)
        if self.triangular is not None:
            t, lower = self.triangular
            out, info = lapack.dtrtri(t, lower=int(lower))
            out = np.tril(out) if lower else np.triu(out)
            out = out.T if trans else out
        elif self.cholesky is not None:
            out, info = lapack.dpotri(self.cholesky, lower=0)
            if info == 0:
                out = mirror_upper(out).T  # symmetric: the C-ordered view has the same numbers
        elif self.ldl is not None:
            out, info = lapack.dsytri(*self.ldl, lower=0)
            if info == 0:
                out = mirror_upper(np.triu(out)).T
        else:
            assert self.lu is not None, "the factors are LU when no other kind is"
            out, info = lapack.dgetri(*self.lu)
            out = out.T if trans else out
        if info != 0:
            if self._quick:
                raise SuspectResult(f"{self.label}: singular")
            self._inverse_norm = np.inf  # singular: verify() says so
            self.verify()
        if not self._quick:
            self._inverse_norm = one_norm(out)
        return out

    def logabsdet(self) -> tuple[float, float]:
        """(sign, log|det A|)."""
        if self.triangular is not None:
            d = np.diag(self.triangular[0])
            with np.errstate(divide="ignore"):
                return float(np.prod(np.sign(d))), float(np.log(np.abs(d)).sum())
        if self.cholesky is not None:
            return 1.0, 2.0 * float(np.log(np.diag(self.cholesky)).sum())
        if self.ldl is not None:
            return _ldl_logabsdet(*self.ldl)
        assert self.lu is not None, "the factors are LU when no other kind is"
        lu, piv = self.lu
        d = np.diag(lu)  # scipy returns 0-based pivots
        sign = (-1.0) ** int(np.count_nonzero(piv != np.arange(self.n))) * float(np.prod(np.sign(d)))
        with np.errstate(divide="ignore"):
            return sign, float(np.log(np.abs(d)).sum())


_BLOCK = 256
_SMALL = 256  # up to this size mirror_upper copies by kept flat offsets (n = 200: 25 µs, by blocks 45 µs)
LDL_FROM = 128  # from this size the symmetric factorization beats LU
# (n, k) from which one solve with k right-hand sides pays for setting up the trsm form of
# LDLᵀ (syconv, O(n²)): at n = 2000, k = 200 it takes 19 ms + 47 ms against sytrs' 270 ms
WIDE_SETUP_FROM = (1024, 32)


def _ldl_logabsdet(ldu: np.ndarray, ipiv: np.ndarray) -> tuple[float, float]:
    """(sign, log|det A|) of A = U D Uᵀ (Bunch–Kaufman, upper): det A = det D, D made of 1×1
    blocks and of 2×2 blocks where ipiv(k) = ipiv(k-1) < 0 (LAPACK's convention)."""
    d = np.diag(ldu).copy()
    k = len(d) - 1
    while k >= 0:
        if ipiv[k] < 0 and k > 0 and ipiv[k - 1] == ipiv[k]:
            d[k - 1] = ldu[k - 1, k - 1] * ldu[k, k] - ldu[k - 1, k] ** 2
            d[k] = 1.0
            k -= 2
        else:
            k -= 1
    with np.errstate(divide="ignore"):
        return float(np.prod(np.sign(d))), float(np.log(np.abs(d)).sum())


def fortran_view(a: np.ndarray) -> np.ndarray:
    """A symmetric matrix as a Fortran-ordered array: its transpose view when it is
    C-ordered (the same numbers, so LAPACK copies it straight instead of transposing)."""
    return a.T if a.flags.c_contiguous and not a.flags.f_contiguous else a


def one_norm(a: np.ndarray) -> float:
    """max_j Σ_i |a_ij| by LAPACK, without copying a C-ordered array to Fortran order."""
    if a.flags.f_contiguous or not a.flags.c_contiguous:
        return float(lapack.dlange("1", a))
    return float(lapack.dlange("I", a.T))  # the 1-norm of A is the ∞-norm of Aᵀ


@functools.lru_cache(maxsize=8)
def _triangle_offsets(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Flat C-order offsets (i·n + j) of the strict upper triangle of an n×n matrix and of
    the mirror images (j·n + i) of the same entries, kept for small n (read-only)."""
    rows, cols = np.triu_indices(n, 1)
    upper, lower = rows * n + cols, cols * n + rows
    upper.flags.writeable = lower.flags.writeable = False
    return upper, lower


def mirror_upper(a: np.ndarray) -> np.ndarray:
    """Fill the strict lower triangle of the square ``a`` from its upper one, in place:
    a_ji = a_ij for i < j.

    A contiguous matrix up to ``_SMALL`` by one gather/scatter over its flat view (the
    offsets kept per size; in Fortran order the flat view is that of aᵀ, so the roles of
    the two offset arrays swap); larger ones block by block, which needs the strict lower
    triangle to be zero (as LAPACK's ``potri`` leaves it after ``potrf(clean=1)``).
    """
    n = a.shape[0]
    if n <= _SMALL:
        flags = a.flags
        if flags.f_contiguous:  # LAPACK's output
            upper, lower = _triangle_offsets(n)
            flat = a.T.reshape(-1)
            flat[upper] = flat[lower]
            return a
        if flags.c_contiguous:
            upper, lower = _triangle_offsets(n)
            flat = a.reshape(-1)
            flat[lower] = flat[upper]
            return a
    for j0 in range(0, n, _BLOCK):
        j1 = min(j0 + _BLOCK, n)
        a[j1:, j0:j1] = a[j0:j1, j1:].T
        block = a[j0:j1, j0:j1]
        block += np.triu(block, 1).T
    return a
