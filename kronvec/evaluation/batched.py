"""Factorizations of stacks of square matrices, computed for all members in one call.

:class:`BatchedFactorization` stands beside :class:`~.factorization.Factorization`
(which factors one matrix by LAPACK) for values with stack axes,
``(b, ..., n, n)``.  Everything is one batched NumPy call that loops over the
members in C: the first solve is ``np.linalg.solve`` (LU of every member);
from a second solve on, for a right-hand side with more columns than the
members have rows, or when the inverse itself is wanted, the inverses are
formed once by ``np.linalg.inv`` and every further solve is a batched
``np.matmul``; ``np.linalg.slogdet`` gives the (log-)determinants.

The reciprocal condition number of every member is exact from the inverses,
1/(‖Aᵢ‖₁ ‖Aᵢ⁻¹‖₁), when they were formed; after a single solve it is
estimated as LAPACK's ``gecon`` does, from ‖Aᵢ⁻¹‖₁ ≥ ‖Aᵢ⁻¹z‖₁/‖z‖₁ for the
solved columns and one probe column z carried along in the same call.  A
singular member raises a ``LinAlgError`` naming the sub-expression and the
member's index.  No per-matrix LAPACK wrapper is ever called in a Python loop
over members.

With ``quick=True`` (:mod:`.checks`) the stack is not checked finite and no 1-norm is taken:
the check reads results, a lower bound of every member's condition number,
max |aᵢᵢ| · ‖A⁻¹z‖₁/‖z‖₁ for z the sum of the columns solved for (no probe column is carried,
nor B copied), or max |aᵢᵢ| · max |(A⁻¹)ᵢⱼ| from the inverses,
and raises :class:`~.checks.SuspectResult` when it reaches 1/:data:`~.checks.PIVOT_GATE` or
is not finite; the full check then names the member.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..shapes import first_member, member_text
from .checks import PIVOT_GATE, SuspectResult

__all__ = ["BatchedFactorization"]

_EPS = np.finfo(float).eps


def _PROBE(n: int) -> np.ndarray:
    i = np.arange(n)
    return (-1.0) ** i * (1.0 + i / max(n - 1, 1))


_CHUNK = 1 << 16  # entries of the members one_norms takes at a time


def one_norms(a: np.ndarray) -> np.ndarray:
    """‖Aᵢ‖₁ = maxⱼ Σᵢ |aᵢⱼ| of every member of the stack ``a``, a few members at a time (|A| of a
    whole large stack would be a temporary as large as the stack, fresh pages on every call)."""
    members = a.reshape((-1,) + a.shape[-2:])
    if members.size <= _CHUNK:
        whole: np.ndarray = np.abs(a).sum(axis=-2).max(axis=-1)
        return whole
    step = max(1, _CHUNK // (a.shape[-2] * a.shape[-1]))
    out = np.empty(members.shape[0])
    buffer = np.empty((step,) + a.shape[-2:])
    for i in range(0, members.shape[0], step):
        chunk = members[i:i + step]
        part = np.abs(chunk, out=buffer[:len(chunk)])
        np.max(part.sum(axis=-2), axis=-1, out=out[i:i + len(chunk)])
    return out.reshape(a.shape[:-2])


def _norm_ratios(x: np.ndarray, b: np.ndarray) -> np.ndarray:
    """‖xⱼ‖₁/‖bⱼ‖₁ for every column of the solves x = A⁻¹b: lower bounds of ‖A⁻¹‖₁.

    A zero column bⱼ bounds nothing (0, not the 0/0 of the quotient) unless its solution is
    not zero, which only a singular A gives (∞); a solution with NaN or ∞ gives ∞.
    """
    x_norm, b_norm = np.abs(x).sum(axis=-2), np.abs(b).sum(axis=-2)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratios = np.where(b_norm > 0, x_norm / np.where(b_norm > 0, b_norm, 1.0),
                          np.where(x_norm == 0, 0.0, np.inf))
    return np.nan_to_num(ratios, nan=np.inf)


def _row_sums(x: np.ndarray) -> np.ndarray:
    """The sums of the columns of every member of ``x`` (..., n, k), as (..., n): one
    matrix-vector product over all rows when ``x`` is C-ordered (NumPy's reduction over a short
    last axis is several times slower)."""
    if x.flags.c_contiguous and x.ndim > 2:
        return (x.reshape(-1, x.shape[-1]) @ np.ones(x.shape[-1])).reshape(x.shape[:-1])
    sums: np.ndarray = x.sum(axis=-1)
    return sums


class BatchedFactorization:
    """Solves, inverses and determinants of every member of a stack of square matrices.

    Parameters
    ----------
    a : (..., n, n) array
        The stack.
    label : str, or a function returning it
        How errors name it, e.g. ``inv(X.mT @ X)``.
    try_cholesky, symmetric : bool
        ``a`` is declared positive definite or symmetric: determinants try a
        batched Cholesky factorization first.
    finite : bool
        The caller knows that ``a`` is finite.
    cholesky : array, optional
        Upper Cholesky factors of the members, computed when the value was bound.
    quick : bool
        Check results instead of the stack (see the module's notes).

    Notes
    -----
    The inverses are computed once, on first use, by ``np.linalg.inv``; a
    solve A⁻¹B (or A⁻ᵀB) is then one ``np.matmul`` over the stack, with B
    broadcast against it as NumPy does.  :meth:`verify` raises for a member
    that is singular to working precision.
    """

    def __init__(self, a: np.ndarray, label: str | Callable[[], str], try_cholesky: bool = False,
                 symmetric: bool | None = None, finite: bool = False, cholesky: np.ndarray | None = None,
                 triangle: str | None = None, quick: bool = False) -> None:
        self._label = label  # a string, or a function that makes it (only errors read it)
        self.n = a.shape[-1]
        self.stack = a.shape[:-2]
        self._quick = quick
        if not (finite or quick) and not np.isfinite(a).all():
            bad = ~np.isfinite(a).all(axis=(-2, -1))
            raise np.linalg.LinAlgError(f"{self.label}: {member_text(first_member(bad))} of the stack "
                                        f"contains NaN or inf")
        self._a = a
        self._symmetric = bool(symmetric or try_cholesky)  # declared so: Cholesky for determinants
        self._upper = cholesky  # upper Cholesky factors computed when the value was bound
        self._inv: np.ndarray | None = None
        self._rcond: np.ndarray | None = None
        self._solves = 0
        self._lower_bound = np.zeros(self.stack)  # of ‖Aᵢ⁻¹‖₁, from the solves made
        self._used = False
        self._checked = False
        self._context: Callable[[], str] | None = None


    @property
    def label(self) -> str:
        """How errors name the matrix, e.g. ``inv(X.T @ X)``."""
        if not isinstance(self._label, str):
            self._label = self._label()
        return self._label
    def _singular(self) -> None:
        """After NumPy refused an exactly singular member: raise naming it."""
        if self._quick:
            raise SuspectResult(f"{self.label}: an exactly singular member")
        sign, _ = np.linalg.slogdet(self._a)
        self._rcond = np.where(sign == 0, 0.0, 1.0)
        self._used = True
        self.verify()

    def _inverses(self) -> np.ndarray:
        if self._inv is None:
            try:
                self._inv = np.linalg.inv(self._a)
            except np.linalg.LinAlgError:  # an exactly singular member: say which
                self._singular()
                raise
            self._rcond = None  # exact from now on
        return self._inv

    def _lu_solve(self, b: np.ndarray, trans: bool) -> np.ndarray:
        """A⁻¹B by ``np.linalg.solve``, with a probe column for the condition estimate (for
        ``quick``, the sums of the columns of B and of A⁻¹B are the probe: no copy of B)."""
        a = np.swapaxes(self._a, -1, -2) if trans else self._a
        if self._quick:
            try:
                x = np.linalg.solve(a, b)
            except np.linalg.LinAlgError:
                self._singular()
                raise
            x_norm, b_norm = np.abs(_row_sums(x)).sum(axis=-1), np.abs(_row_sums(b)).sum(axis=-1)
            with np.errstate(divide="ignore", invalid="ignore"):  # 0/0 bounds nothing, c/0 is singular
                bound = np.where(b_norm > 0, x_norm / b_norm, np.where(x_norm == 0, 0.0, np.inf))
            self._note_bound(np.nan_to_num(bound, nan=np.inf))
            return x
        n, cols = self.n, b.shape[-1]
        rhs = np.empty(np.broadcast_shapes(self.stack, b.shape[:-2]) + (n, cols + 1))
        rhs[..., :cols] = b
        rhs[..., cols] = _PROBE(n)  # Higham's vector zᵢ = (−1)ⁱ (1 + i/(n − 1))
        try:
            x = np.linalg.solve(a, rhs)
        except np.linalg.LinAlgError:
            self._singular()
            raise
        self._note_bound(_norm_ratios(x, rhs).max(axis=-1))
        return x[..., :cols]

    def _note_bound(self, bound: np.ndarray) -> None:
        """Keep the lower bounds of ‖Aᵢ⁻¹‖₁ that a solve gave (the largest over the stack axes of a
        right-hand side that has more than A)."""
        extra = tuple(range(bound.ndim - len(self.stack)))
        self._lower_bound = np.maximum(self._lower_bound, bound.max(axis=extra) if extra else bound)

    def _note_use(self, context: Callable[[], str] | None) -> None:
        if not self._used:
            self._used, self._context = True, context

    def solve(self, b: np.ndarray, trans: bool = False,
              context: Callable[[], str] | None = None) -> np.ndarray:
        """A⁻¹B (A⁻ᵀB when ``trans``) for every member: one batched LU solve the first time, a
        batched product with the inverses after that, and at once when B has more columns
        than A (the inverses of 10,000 5×5 members and a product with 20 columns take half
        the time of the LU solve)."""
        self._note_use(context)
        self._solves += 1
        if self._inv is None and self._solves == 1 and np.shape(b)[-1] <= self.n:
            return self._lu_solve(np.asarray(b, dtype=float), trans)
        inv = self._inverses()
        result: np.ndarray = (np.swapaxes(inv, -1, -2) if trans else inv) @ b
        return result

    def inverse(self, trans: bool = False) -> np.ndarray:
        """A⁻¹ (or A⁻ᵀ) of every member."""
        self._note_use(None)
        inv = self._inverses()
        return np.swapaxes(inv, -1, -2) if trans else inv

    def logabsdet(self) -> tuple[np.ndarray, np.ndarray]:
        """(sign, log|det A|) of every member: from a batched Cholesky factorization for a
        symmetric stack that is positive definite (a third of the work), else ``np.linalg.slogdet``."""
        if self._upper is None and self._symmetric:
            try:
                self._upper = np.linalg.cholesky(self._a)  # (its diagonal is all that is read)
            except np.linalg.LinAlgError:
                self._symmetric = False  # indefinite: LU
        if self._upper is not None:
            diagonal = np.diagonal(self._upper, axis1=-2, axis2=-1)
            return np.ones(self.stack), 2.0 * np.log(diagonal).sum(axis=-1)
        return np.linalg.slogdet(self._a)

    def rcond(self) -> np.ndarray:
        """The reciprocal condition number of every member in the 1-norm: exact from the
        inverses if they were formed, else the estimate from the solves made."""
        if self._rcond is None:
            anorm = one_norms(self._a)
            inorm = one_norms(self._inv) if self._inv is not None else \
                self._lower_bound
            with np.errstate(divide="ignore", invalid="ignore"):
                self._rcond = np.where(anorm > 0, 1.0 / (anorm * inorm), 0.0)
        return self._rcond

    def _results_look_fine(self) -> bool:
        """For ``quick``: every member's lower bound max |aᵢᵢ| · ‖A⁻¹‖ (from the probe or the
        inverses) below 1/PIVOT_GATE, and finite.  The largest |aᵢᵢ| of the whole stack times
        the largest bound answers for every member at once when their product is small enough
        (two full reductions, no temporary); only otherwise is each member's product formed."""
        diagonals = np.diagonal(self._a, axis1=-2, axis2=-1)
        inv = self._inv
        if diagonals.size:
            whole = max(float(diagonals.max()), -float(diagonals.min())) * \
                (float(self._lower_bound.max()) if inv is None else max(float(inv.max()), -float(inv.min())))
            if whole < 1.0 / PIVOT_GATE:  # (False for NaN)
                return True
        inverse = self._lower_bound if inv is None else np.abs(inv).max(axis=(-2, -1))
        return bool((np.abs(diagonals).max(axis=-1) * inverse < 1.0 / PIVOT_GATE).all())

    def verify(self) -> None:
        """Raise ``LinAlgError`` naming the first member that is singular to working precision,
        if the factors served a solve or an inverse."""
        if not self._used or self._checked:
            return
        if self._quick:
            if not self._results_look_fine():
                raise SuspectResult(f"{self.label}: a member looks singular")
            self._checked = True
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
