"""Factorizations of stacks of square matrices, computed for all members in one call.

:class:`BatchedFactorization` stands beside :class:`~.factorization.Factorization`
(which factors one matrix by LAPACK) for values with stack axes,
``(b, ..., n, n)``.  Everything is one batched NumPy call that loops over the
members in C: ``np.linalg.inv`` once (LU for every member), then every solve
is a batched ``np.matmul`` with the inverses, ``np.linalg.slogdet`` gives the
(log-)determinants, and the reciprocal condition number of every member is
exact from the inverses, 1/(‖Aᵢ‖₁ ‖Aᵢ⁻¹‖₁).  A singular member raises a
``LinAlgError`` naming the sub-expression and the member's index.  No
per-matrix LAPACK wrapper is ever called in a Python loop over members.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..shapes import first_member, member_text

__all__ = ["BatchedFactorization"]

_EPS = np.finfo(float).eps


class BatchedFactorization:
    """Solves, inverses and determinants of every member of a stack of square matrices.

    Parameters
    ----------
    a : (..., n, n) array
        The stack.
    label : str
        How errors name it, e.g. ``inv(X.mT @ X)``.
    finite : bool
        The caller knows that ``a`` is finite.

    Notes
    -----
    The inverses are computed once, on first use, by ``np.linalg.inv``; a
    solve A⁻¹B (or A⁻ᵀB) is then one ``np.matmul`` over the stack, with B
    broadcast against it as NumPy does.  :meth:`verify` raises for a member
    that is singular to working precision.
    """

    def __init__(self, a: np.ndarray, label: str, try_cholesky: bool = False,
                 symmetric: bool | None = None, finite: bool = False, cholesky: np.ndarray | None = None,
                 triangle: str | None = None) -> None:
        self.label = label
        self.n = a.shape[-1]
        self.stack = a.shape[:-2]
        if not finite and not np.isfinite(a).all():
            bad = ~np.isfinite(a).all(axis=(-2, -1))
            raise np.linalg.LinAlgError(f"{label}: {member_text(first_member(bad))} of the stack contains "
                                        f"NaN or inf")
        self._a = a
        self._inv: np.ndarray | None = None
        self._rcond: np.ndarray | None = None
        self._used = False
        self._checked = False
        self._context: Callable[[], str] | None = None

    def _inverses(self) -> np.ndarray:
        if self._inv is None:
            try:
                self._inv = np.linalg.inv(self._a)
            except np.linalg.LinAlgError:  # an exactly singular member: say which
                sign, _ = np.linalg.slogdet(self._a)
                self._rcond = np.where(sign == 0, 0.0, 1.0)
                self._used = True
                self.verify()
                raise
        return self._inv

    def _note_use(self, context: Callable[[], str] | None) -> None:
        if not self._used:
            self._used, self._context = True, context

    def solve(self, b: np.ndarray, trans: bool = False,
              context: Callable[[], str] | None = None) -> np.ndarray:
        """A⁻¹B (A⁻ᵀB when ``trans``) for every member: one batched matrix product."""
        self._note_use(context)
        inv = self._inverses()
        return (np.swapaxes(inv, -1, -2) if trans else inv) @ b

    def inverse(self, trans: bool = False) -> np.ndarray:
        """A⁻¹ (or A⁻ᵀ) of every member."""
        self._note_use(None)
        inv = self._inverses()
        return np.swapaxes(inv, -1, -2) if trans else inv

    def logabsdet(self) -> tuple[np.ndarray, np.ndarray]:
        """(sign, log|det A|) of every member (``np.linalg.slogdet``)."""
        return np.linalg.slogdet(self._a)

    def rcond(self) -> np.ndarray:
        """The reciprocal condition number of every member in the 1-norm, from the inverses."""
        if self._rcond is None:
            anorm = np.abs(self._a).sum(axis=-2).max(axis=-1)
            inorm = np.abs(self._inverses()).sum(axis=-2).max(axis=-1)
            with np.errstate(divide="ignore", invalid="ignore"):
                self._rcond = np.where(anorm > 0, 1.0 / (anorm * inorm), 0.0)
        return self._rcond

    def verify(self) -> None:
        """Raise ``LinAlgError`` naming the first member that is singular to working precision,
        if the factors served a solve or an inverse."""
        if not self._used or self._checked:
            return
        rcond = self.rcond()
        bad = ~(rcond > _EPS)
        if bad.any():
            index = first_member(bad)
            what = self.label if self._context is None else self._context()
            matrix = self.label[4:-1] if self.label.startswith("inv(") else self.label
            raise np.linalg.LinAlgError(f"{what}: {matrix} is singular to working precision in "
                                        f"{member_text(index)} of the stack (reciprocal condition number "
                                        f"{float(rcond[index]):.1e})")
        self._checked = True
