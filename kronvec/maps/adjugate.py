"""The adjugate adj(A) = det(A) A⁻¹ and its derivative, defined at singular matrices too.

det is a polynomial, and so is its gradient adj(A)ᵀ: both, and the derivative
of the adjugate (the Hessian of det), exist at every A.  They are computed
here from the SVD A = U S Vᵀ, which never divides by a singular value:

* adj(A) = σ V adj(S) Uᵀ with σ = det(U) det(V) and adj(S) = diag(qᵢ),
  qᵢ = Πₖ≠ᵢ sₖ (products of prefixes and suffixes);
* since adj(U M Vᵀ) = σ V adj(M) Uᵀ for every M, the derivative in the
  direction H is d adj(A)[H] = σ V (diag(P d) − P ⊙ E) Uᵀ with E = Uᵀ H V,
  d = diag(E) and Pᵢⱼ = Πₖ∉{i,j} sₖ (Pᵢᵢ = 0): the first-order terms of the
  cofactors of S + E;
* the adjoint of H ↦ d adj(A)[H] is G ↦ d adj(Aᵀ)[G] (because adj(Aᵀ) = adj(A)ᵀ).

Every function takes stacks (..., n, n) as well, in batched NumPy calls.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from . import factors as fx
from .base import LinearMap
from .prepared import PreparedMap

__all__ = ["adjugate_by_svd", "adjugate_frechet", "AdjugateFrechetMap"]


def _svd(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(U, s, V, σ) with A = U diag(s) Vᵀ and σ = det(U) det(V) = ±1, for every member."""
    u, s, vt = np.linalg.svd(np.asarray(a, dtype=float))
    sign = np.sign(np.linalg.det(u)) * np.sign(np.linalg.det(vt))
    return u, s, np.swapaxes(vt, -1, -2), sign[..., None, None]


def _all_but_one(s: np.ndarray) -> np.ndarray:
    """qᵢ = Πₖ≠ᵢ sₖ along the last axis, without dividing (prefix times suffix products)."""
    ones = np.ones(s.shape[:-1] + (1,))
    prefix = np.concatenate((ones, np.cumprod(s[..., :-1], axis=-1)), axis=-1)
    suffix = np.concatenate((np.cumprod(s[..., :0:-1], axis=-1)[..., ::-1], ones), axis=-1)
    result: np.ndarray = prefix * suffix
    return result


def _all_but_two(s: np.ndarray) -> np.ndarray:
    """Pᵢⱼ = Πₖ∉{i,j} sₖ for i ≠ j, and Pᵢᵢ = 0.

    Pᵢⱼ = qᵢ / sⱼ, dividing by the larger of sᵢ, sⱼ (qᵢ holds sⱼ as a factor, so the quotient
    is exact to rounding); where both are zero, the product of the other values.
    """
    q = _all_but_one(s)
    si, sj = s[..., :, None], s[..., None, :]
    qi, qj = q[..., :, None], q[..., None, :]
    bigger_j = sj >= si
    divisor = np.where(bigger_j, sj, si)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(bigger_j, qi, qj) / np.where(divisor > 0, divisor, 1.0)
    zero = s == 0
    if zero.any():  # sᵢ = sⱼ = 0: the product of the others, nonzero only if these are the only zeros
        others = np.prod(np.where(zero, 1.0, s), axis=-1)[..., None, None]
        only_two = (zero.sum(axis=-1) == 2)[..., None, None]
        p = np.where(divisor > 0, p, np.where(only_two, others, 0.0))
    n = s.shape[-1]
    return p * (1.0 - np.eye(n))


def adjugate_by_svd(a: np.ndarray) -> np.ndarray:
    """adj(A) = σ V diag(q) Uᵀ for every member of A (continuous through singular A:
    rank n − 1 gives a rank-one adjugate, lower rank zero)."""
    u, s, v, sign = _svd(a)
    result: np.ndarray = sign * (v * _all_but_one(s)[..., None, :]) @ np.swapaxes(u, -1, -2)
    return result


def _frechet(a: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """H ↦ d adj(A)[H] for A's members, set up once from the SVD (H may have leading axes)."""
    u, s, v, sign = _svd(a)
    p = _all_but_two(s)
    ut = np.swapaxes(u, -1, -2)

    def apply(h: np.ndarray) -> np.ndarray:
        e = ut @ h @ v
        d = np.diagonal(e, axis1=-2, axis2=-1)[..., None]
        inner = -p * e
        n = e.shape[-1]
        inner[..., np.arange(n), np.arange(n)] = (p @ d)[..., 0]
        result: np.ndarray = sign * (v @ inner @ ut)
        return result
    return apply


def adjugate_frechet(a: np.ndarray, h: np.ndarray) -> np.ndarray:
    """d adj(A)[H], the derivative of the adjugate at A (any A, singular included) along H."""
    return _frechet(a)(np.asarray(h, dtype=float))


class AdjugateFrechetMap(PreparedMap):
    """H ↦ d adj(A)[H], the derivative of the adjugate (the Hessian of det, read as a map).

    Parameters
    ----------
    A : (..., n, n) factor (an expression or an array).
    in_shape : A's shape.
    """

    node = "adj_frechet"
    _apply = PreparedMap.apply_prepared
    prepare = staticmethod(_frechet)

    def _adjoint(self) -> LinearMap:
        return AdjugateFrechetMap(fx.transposed(self.A), self.in_shape)
