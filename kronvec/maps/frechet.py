"""Fréchet derivatives of the matrix square root and logarithm, as lazy maps.

``MatrixFunctionFrechetMap("sqrtm" | "logm", A, F)`` is H ↦ L_f(A, H), the
Fréchet derivative of f at A (F = f(A)):

* symmetric A (checked once on the bound value; a symbol declared symmetric
  always is): the Daleckii–Krein form L_f(A, H) = V (G ⊙ Vᵀ H V) Vᵀ with
  A = V diag(w) Vᵀ and the divided differences Gᵢⱼ = f[wᵢ, wⱼ], whose limit at
  a tie wᵢ = wⱼ is f'(wᵢ) — so it stays finite and exact at exactly repeated
  eigenvalues (sqrt: Gᵢⱼ = 1/(√wᵢ + √wⱼ); log: log(wᵢ/wⱼ)/(wᵢ − wⱼ) by log1p);
* otherwise, for sqrtm, the Sylvester equation S X + X S = H (S = √A), solved
  by LAPACK ``trsyl`` on the real Schur form of S computed once; for logm,
  the exact block formula L_log(A, H) = [log [[A, H], [0, A]]]₁₂, evaluated
  in the eigenbasis of A when that is well conditioned (the same formula,
  at the cost of four products instead of a 2n × 2n logarithm).

For these primary matrix functions f(Aᵀ) = f(A)ᵀ, so the adjoint is
L_f(Aᵀ, ·).  ``LogmSecondMap(A, E)`` is H ↦ L²_log(A; H, E), the second
Fréchet derivative, from the (1, 3) blocks of log [[A, H, 0], [0, A, E],
[0, 0, A]] (and with H, E swapped); its adjoint is G ↦ L²_log(Aᵀ; G, Eᵀ).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import scipy.linalg as sla
from scipy.linalg import lapack

from .. import registry
from ..errors import DegenerateError
from ..expr import Expr, as_expr
from ..shapes import Shape, first_member, fmt, member_text, whole_shape
from . import factors as fx
from .base import LinearMap, bind_factor
from .prepared import SecondFrechetMap

__all__ = ["MatrixFunctionFrechetMap", "LogmSecondMap", "divided_differences", "real_logm", "real_sqrtm",
           "symmetric_members", "all_symmetric",
           "logm_second"]

_EPS = np.finfo(float).eps
_LOG_SUSPECT = 20.0
"""|log λ| above this (λ < 2·10⁻⁹ relative to 1) makes a logarithm worth checking for a singular matrix."""


def real_logm(a: np.ndarray, label: str = "logm") -> np.ndarray:
    """The principal logarithm of a real matrix with no eigenvalue on the closed negative real axis.

    A singular matrix (σ_min ≤ n·ε·σ_max) has none: SciPy would return finite numbers of size
    |log ε|, so a result that large, or not finite, is checked by the singular values and refused.
    """
    out = _real(sla.logm(a), label, "logarithm")
    if not np.all(np.isfinite(out)) or np.abs(out).max(initial=0.0) > _LOG_SUSPECT:
        s = np.linalg.svd(a, compute_uv=False)
        if s[-1] <= a.shape[-1] * _EPS * s[0]:
            raise ValueError(f"{label}: the matrix of shape {a.shape} is singular (smallest singular value "
                             f"{s[-1]:.3g}, largest {s[0]:.3g}), so it has no logarithm")
    return out


def real_sqrtm(a: np.ndarray, label: str = "sqrtm") -> np.ndarray:
    """The principal square root of a real matrix with no eigenvalue on the closed negative real axis."""
    return _real(sla.sqrtm(a), label, "square root")


def _real(out: np.ndarray, label: str, what: str) -> np.ndarray:
    out = np.asarray(out)
    if np.iscomplexobj(out):
        if np.abs(out.imag).max(initial=0.0) > 1e-8 * max(1.0, np.abs(out.real).max(initial=0.0)):
            raise ValueError(f"{label}: the matrix has no real principal {what} (an eigenvalue on the "
                             f"closed negative real axis)")
        out = out.real
    return np.ascontiguousarray(out, dtype=float)


def divided_differences(fn: str, w: np.ndarray) -> np.ndarray:
    """Gᵢⱼ = (f(wᵢ) − f(wⱼ))/(wᵢ − wⱼ), = f'(wᵢ) at ties, for f = sqrt or log, without cancellation
    (w of shape (..., n): a stack of spectra gives a stack of G)."""
    wi, wj = w[..., :, None], w[..., None, :]
    if fn == "sqrtm":
        r = np.sqrt(np.maximum(w, 0.0))
        total = r[..., :, None] + r[..., None, :]
        if np.any(total <= 0.0):
            raise DegenerateError("sqrtm: the square root has no derivative at a matrix with a repeated "
                                  "zero eigenvalue (0 + 0 in the divided difference 1/(√wᵢ + √wⱼ))")
        result: np.ndarray = 1.0 / total
        return result
    if np.any(w <= 0.0):
        raise ValueError("logm: the symmetric matrix is not positive definite: it has no real logarithm")
    diff = wi - wj
    with np.errstate(divide="ignore", invalid="ignore"):
        g = np.log1p(diff / wj) / diff
    ties = diff == 0.0
    return np.where(ties, 1.0 / np.broadcast_to(wi, diff.shape), g)


class MatrixFunctionFrechetMap(LinearMap):
    """H ↦ L_f(A, H) for f = ``"sqrtm"`` or ``"logm"``; F = f(A) (the square root S for sqrtm).

    Parameters
    ----------
    fn : "sqrtm" or "logm"
    A, F : (n, n) factors (expressions or arrays).
    in_shape : (n, n)
    """

    _caches = {"_apply_numeric": None}

    def __init__(self, fn: str, A: Any, F: Any, in_shape: Shape, out_shape: Shape | None = None) -> None:
        super().__init__(in_shape, in_shape)
        self.fn, self.A, self.F = fn, A, F
        self._apply_numeric: Callable[[np.ndarray], np.ndarray] | None = None

    def factors(self) -> tuple[Any, ...]:
        return (self.A, self.F)

    def bind(self, value: Callable[[Expr], Any]) -> LinearMap:
        return MatrixFunctionFrechetMap(self.fn, bind_factor(value, self.A), bind_factor(value, self.F),
                                        self.in_shape)

    def relabel(self, in_shape: Shape, out_shape: Shape) -> None:
        return None

    def _numeric(self) -> Callable[[np.ndarray], np.ndarray]:
        """The application on one (n, n) tangent, set up once (eigen or Schur form)."""
        if self._apply_numeric is None:
            A, F = np.asarray(self.A, dtype=float), np.asarray(self.F, dtype=float)
            if A.ndim > 2:
                self._apply_numeric = _symmetric_stack_frechet(self.fn, A) if all_symmetric(A) else \
                    _member_frechet(self.fn, A, F)
            elif sla.issymmetric(A):
                w, V = np.linalg.eigh(A)
                G = divided_differences(self.fn, w)
                self._apply_numeric = lambda h: V @ (G * (V.T @ h @ V)) @ V.T
            elif self.fn == "sqrtm":
                T, Z = sla.schur(F, output="real")
                self._apply_numeric = lambda h: _sylvester(T, Z, h)
            else:
                self._apply_numeric = _logm_eigenbasis(A) or (lambda h: _logm_block(A, h))
        return self._apply_numeric

    def _apply(self, h: Any) -> Any:
        if fx.is_symbolic(self.A, self.F, h):
            return registry.function(self.fn + "_frechet")(as_expr(self.A), as_expr(h))
        h = np.asarray(h, dtype=float)
        apply = self._numeric()
        if np.ndim(self.A) > 2:
            return apply(h)
        flat = h.reshape((-1,) + h.shape[-2:])
        return np.stack([apply(x) for x in flat]).reshape(h.shape)

    def _adjoint(self) -> LinearMap:
        return MatrixFunctionFrechetMap(self.fn, fx.transposed(self.A), fx.transposed(self.F), self.in_shape)


def all_symmetric(A: np.ndarray) -> bool:
    """Whether every member of a stack (or the matrix) is exactly symmetric."""
    return bool((A == np.swapaxes(A, -1, -2)).all())


def _member_frechet(fn: str, A: np.ndarray, F: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """L_f(Aᵢ, Hᵢ) member by member, for a stack with a member that is not symmetric (each member in
    its own form: eigenbasis, Schur form or block formula)."""
    n = A.shape[-1]
    F = np.broadcast_to(F, A.shape)
    members = [MatrixFunctionFrechetMap(fn, a, f, a.shape)._numeric()
               for a, f in zip(A.reshape((-1, n, n)), F.reshape((-1, n, n)))]

    def apply(h: np.ndarray) -> np.ndarray:
        shape = np.broadcast_shapes(np.shape(h), A.shape)
        tangents = np.broadcast_to(h, shape).reshape((-1, len(members), n, n))
        out = np.stack([np.stack([f(x) for f, x in zip(members, batch)]) for batch in tangents])
        return out.reshape(shape)
    return apply


def symmetric_members(label: str, A: np.ndarray) -> None:
    """Refuse (``NotImplementedError``) a stack with a member that is not exactly symmetric."""
    bad = ~(A == np.swapaxes(A, -1, -2)).all(axis=(-2, -1))
    if bad.any():
        whole = fmt(whole_shape(None, A.shape))  # of the whole stack, in a block of it
        raise NotImplementedError(f"{label}: stacks of matrices are supported by {label} only when every "
                                  f"member is symmetric ({member_text(first_member(bad))} of the stack of "
                                  f"shape {whole} is not); declare the symbol symmetric=True, or apply it "
                                  f"to one matrix at a time")


def _symmetric_stack_frechet(fn: str, A: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """L_f(Aᵢ, Hᵢ) = Vᵢ (Gᵢ ⊙ Vᵢᵀ Hᵢ Vᵢ) Vᵢᵀ for a stack of symmetric members: one batched ``eigh``,
    applied to the whole stack (and to leading axes of tangents) at once."""
    symmetric_members(fn, A)
    w, V = np.linalg.eigh(A)
    G = divided_differences(fn, w)
    Vt = np.swapaxes(V, -1, -2)
    return lambda h: V @ (G * (Vt @ h @ V)) @ Vt


def _sylvester(T: np.ndarray, Z: np.ndarray, h: np.ndarray) -> np.ndarray:
    """X with S X + X S = H, for S = Z T Zᵀ in real Schur form (LAPACK ``trsyl``)."""
    c = Z.T @ h @ Z
    y, scale, info = lapack.dtrsyl(T, T, c)
    if info < 0:
        raise np.linalg.LinAlgError(f"sqrtm: LAPACK trsyl failed (info={info})")
    result: np.ndarray = Z @ (y / scale) @ Z.T
    return result


# The eigenbasis forms lose about κ(X)² ε (first derivative) and κ(X)³ ε (second) to rounding,
# through intermediates κ(X) times larger than the result: used only where that stays below ~1e-12.
_EIGENBASIS_COND = 100.0
_EIGENBASIS_COND_SECOND = 30.0


def _logm_eigenbasis(A: np.ndarray) -> Callable[[np.ndarray], np.ndarray] | None:
    """L_log(A, ·) = X (G ⊙ X⁻¹ · X) X⁻¹ for A = X Λ X⁻¹ with a well-conditioned eigenbasis, else None.

    This is the block formula log [[A, H], [0, A]] worked out in the
    eigenbasis of A (there the block matrix is [[Λ, X⁻¹HX], [0, Λ]], whose
    logarithm has G ⊙ X⁻¹HX, Gᵢⱼ = log[λᵢ, λⱼ], in its corner), so it is exact;
    its rounding error grows like κ(X)²·ε, so it is used only for κ(X) ≤ 100,
    and the block formula otherwise (defective or nearly defective A).
    """
    lam, X = np.linalg.eig(A)
    if not np.all(np.isfinite(X)) or np.linalg.cond(X) > _EIGENBASIS_COND:
        return None
    if np.any((np.abs(lam.imag) <= 1e-14 * np.abs(lam)) & (lam.real <= 0)):
        return None  # an eigenvalue on the negative real axis: no principal logarithm (the block method says)
    Xinv = np.linalg.inv(X)
    G = _complex_log_divided_differences(lam)
    return lambda h: (X @ (G * (Xinv @ h @ X)) @ Xinv).real


def _complex_log_divided_differences(lam: np.ndarray) -> np.ndarray:
    """Gᵢⱼ = (Log λᵢ − Log λⱼ)/(λᵢ − λⱼ), 1/λᵢ at ties; close pairs by log1p (keeping the branch)."""
    li, lj = lam[:, None], lam[None, :]
    d = li - lj
    direct = np.log(li) - np.log(lj)
    close = np.abs(d) < 0.5 * np.abs(lj)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(close, d / lj, 0.0)
        near = np.log1p(z)
        near = near + 2j * np.pi * np.round((direct - near).imag / (2 * np.pi))
        G = np.where(close, near, direct) / d
    return np.where(d == 0, 1.0 / np.broadcast_to(li, d.shape), G)


def _logm_block(A: np.ndarray, h: np.ndarray) -> np.ndarray:
    """L_log(A, H) = the upper right block of log [[A, H], [0, A]]."""
    n = A.shape[0]
    big = np.zeros((2 * n, 2 * n))
    big[:n, :n] = big[n:, n:] = A
    big[:n, n:] = h
    return real_logm(big, "logm")[:n, n:]


def logm_second(A: np.ndarray, h: np.ndarray, e: np.ndarray) -> np.ndarray:
    """L²_log(A; H, E) = B₁₃(H, E) + B₁₃(E, H), B₁₃ the (1, 3) block of log [[A, H, 0], [0, A, E], [0, 0, A]].

    In the eigenbasis of A (when well conditioned) B₁₃ = X B X⁻¹ with
    Bᵢⱼ = Σₖ log[λᵢ, λₖ, λⱼ] H'ᵢₖ E'ₖⱼ (second divided differences; H' = X⁻¹HX);
    otherwise the 3n × 3n logarithms themselves.  Stacks (of symmetric members only) take one
    batched ``eigh``.
    """
    if A.ndim == 2 and (h.ndim > 2 or e.ndim > 2) and not sla.issymmetric(A):  # one A, stacked directions
        shape = np.broadcast_shapes(h.shape, e.shape)
        pairs = zip(np.broadcast_to(h, shape).reshape((-1,) + shape[-2:]),
                    np.broadcast_to(e, shape).reshape((-1,) + shape[-2:]))
        return np.stack([logm_second(A, x, y) for x, y in pairs]).reshape(shape)
    if A.ndim > 2 and not all_symmetric(A):  # member by member, each in its own form
        shape = np.broadcast_shapes(A.shape, h.shape, e.shape)
        triples = zip(*(np.broadcast_to(x, shape).reshape((-1,) + shape[-2:]) for x in (A, h, e)))
        return np.stack([logm_second(a, x, y) for a, x, y in triples]).reshape(shape)
    if A.ndim > 2 or h.ndim > 2 or e.ndim > 2:
        return _logm_second_symmetric_stack(np.broadcast_to(A, np.broadcast_shapes(A.shape, e.shape)), h, e)
    second = _logm_second_eigenbasis(A)
    if second is not None:
        return second(h, e)
    n = A.shape[0]

    def block(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        big = np.zeros((3 * n, 3 * n))
        for k in range(3):
            big[k * n:(k + 1) * n, k * n:(k + 1) * n] = A
        big[:n, n:2 * n], big[n:2 * n, 2 * n:] = x, y
        return real_logm(big, "logm")[:n, 2 * n:]
    result: np.ndarray = block(h, e) + block(e, h)
    return result


def _logm_second_symmetric_stack(A: np.ndarray, h: np.ndarray, e: np.ndarray) -> np.ndarray:
    """L²_log(Aᵢ; Hᵢ, Eᵢ) for a stack of symmetric members, by one batched ``eigh``: Aᵢ = Vᵢ diag(wᵢ) Vᵢᵀ,
    Bᵢⱼ = Σₖ log[wᵢ, wₖ, wⱼ] (H'ᵢₖ E'ₖⱼ + E'ᵢₖ H'ₖⱼ) with H' = Vᵀ H V, and L² = V B Vᵀ (any H, E)."""
    symmetric_members("logm", A)
    w, V = np.linalg.eigh(A)
    T = _log_second_divided_differences(w, divided_differences("logm", w))
    Vt = np.swapaxes(V, -1, -2)
    hp, ep = Vt @ h @ V, Vt @ e @ V
    b = np.einsum("...ikj,...ik,...kj->...ij", T, hp, ep) + np.einsum("...ikj,...ik,...kj->...ij", T, ep, hp)
    result: np.ndarray = V @ b @ Vt
    return result


def _logm_second_eigenbasis(A: np.ndarray) -> Callable[[np.ndarray, np.ndarray], np.ndarray] | None:
    lam, X = np.linalg.eig(A)
    if not np.all(np.isfinite(X)) or np.linalg.cond(X) > _EIGENBASIS_COND_SECOND or \
            np.any((np.abs(lam.imag) <= 1e-14 * np.abs(lam)) & (lam.real <= 0)):
        return None
    Xinv = np.linalg.inv(X)
    T = _log_second_divided_differences(lam, _complex_log_divided_differences(lam))

    def apply(h: np.ndarray, e: np.ndarray) -> np.ndarray:
        hp, ep = Xinv @ h @ X, Xinv @ e @ X
        b = np.einsum("ikj,ik,kj->ij", T, hp, ep) + np.einsum("ikj,ik,kj->ij", T, ep, hp)
        result: np.ndarray = (X @ b @ Xinv).real
        return result
    return apply


def _log_second_divided_differences(lam: np.ndarray, G: np.ndarray) -> np.ndarray:
    """Tᵢₖⱼ = log[λᵢ, λₖ, λⱼ] = (G[i,k] − G[k,j])/(λᵢ − λⱼ), with the confluent limits at ties
    (λ of shape (..., n): a stack of spectra gives a stack of T)."""
    li, lk, lj = lam[..., :, None, None], lam[..., None, :, None], lam[..., None, None, :]
    tol = 1e-8 * np.maximum(np.abs(li), np.abs(lj))
    with np.errstate(divide="ignore", invalid="ignore"):
        far = (G[..., :, :, None] - G[..., None, :, :]) / (li - lj)  # G symmetric: G[k, j]
        # λᵢ ≈ λⱼ: ∂G(λᵢ, λₖ)/∂λᵢ = (1/λᵢ − G[i,k])/(λᵢ − λₖ), and −1/(2λᵢ²) when λₖ ≈ λᵢ too
        conf = (1.0 / li - G[..., :, :, None]) / (li - lk)
    both = np.broadcast_to(-0.5 / li ** 2, far.shape)
    near_k = np.abs(li - lk) <= 1e-8 * np.maximum(np.abs(li), np.abs(lk))
    return np.where(np.abs(li - lj) > tol, far, np.where(near_k, both, conf))


class LogmSecondMap(SecondFrechetMap):
    """H ↦ L²_log(A; H, E), the derivative of L_log(A, E) in A (the second Fréchet derivative of logm).

    Symmetric in H and E; its adjoint is G ↦ L²_log(Aᵀ; G, Eᵀ).
    """

    node = "logm_frechet2"
    _apply = SecondFrechetMap.apply_second

    def second(self, h: np.ndarray) -> np.ndarray:
        A, E = np.asarray(self.A, dtype=float), np.asarray(self.E, dtype=float)
        if A.ndim > 2 or E.ndim > 2:
            return logm_second(A, h, E)
        flat = h.reshape((-1,) + h.shape[-2:])
        return np.stack([logm_second(A, x, E) for x in flat]).reshape(h.shape)
