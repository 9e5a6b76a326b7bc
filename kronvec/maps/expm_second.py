"""The second Fréchet derivative of the matrix exponential, as a lazy map.

With L(A, E) = ∫₀¹ e^{sA} E e^{(1-s)A} ds the (first) Fréchet derivative,
its derivative in A along H is the second Fréchet derivative

    L²(A; H, E) = ∫∫_{s₁+s₂+s₃=1} (e^{s₁A} H e^{s₂A} E e^{s₃A} + e^{s₁A} E e^{s₂A} H e^{s₃A}),

symmetric in H and E.  Each ordered term is the (1, 3) block of the
exponential of the block upper triangular matrix

    [[A, H, 0],
     [0, A, E],
     [0, 0, A]],

so L²(A; H, E) = B₁₃(H, E) + B₁₃(E, H), both orders taken by one batched
``scipy.linalg.expm`` of the (2, …, 3n, 3n) block matrices (a stack too: no
loop over its members).

Adjoint: ⟨G, e^{s₁A} H e^{s₂A} E e^{s₃A}⟩ = ⟨H, e^{s₁Aᵀ} G e^{s₃Aᵀ} Eᵀ e^{s₂Aᵀ}⟩,
and the simplex is symmetric in (s₂, s₃), so the adjoint of H ↦ L²(A; H, E)
is G ↦ L²(Aᵀ; G, Eᵀ).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg as sla

from .prepared import SecondFrechetMap

__all__ = ["ExpmSecondMap", "expm_second"]


def expm_second(A: Any, h: Any, e: Any) -> np.ndarray:
    """L²(A; H, E) = B₁₃(H, E) + B₁₃(E, H), B₁₃ the (1, 3) block of expm([[A, H, 0], [0, A, E], [0, 0, A]]).

    A, H and E broadcast over their leading (stack) axes.  L² is bilinear in
    (H, E), so each member's H and E are scaled to unit norm first (the
    product of the scales multiplied back), which keeps the norms of the
    block matrices, and so their scaling and squaring, those of A.
    """
    A, h, e = (np.asarray(x, dtype=float) for x in (A, h, e))
    n = A.shape[-1]
    shape = np.broadcast_shapes(A.shape, h.shape, e.shape)
    hs = np.linalg.norm(h, axis=(-2, -1), keepdims=True)
    es = np.linalg.norm(e, axis=(-2, -1), keepdims=True)
    hs, es = np.where(hs > 0, hs, 1.0), np.where(es > 0, es, 1.0)
    h, e = h / hs, e / es
    big = np.zeros((2,) + shape[:-2] + (3 * n, 3 * n))
    for k in range(3):
        big[..., k * n:(k + 1) * n, k * n:(k + 1) * n] = A
    big[0, ..., :n, n:2 * n], big[0, ..., n:2 * n, 2 * n:] = h, e
    big[1, ..., :n, n:2 * n], big[1, ..., n:2 * n, 2 * n:] = e, h
    corner = sla.expm(big)[..., :n, 2 * n:]
    return np.ascontiguousarray((corner[0] + corner[1]) * (hs * es))


class ExpmSecondMap(SecondFrechetMap):
    """H ↦ L²(A; H, E), the derivative of L(A, E) in A (the second Fréchet derivative of expm).

    Parameters
    ----------
    A, E : (…, n, n) factors (expressions or arrays); their stack axes broadcast.
    in_shape : the shape of H (and of the result).

    Symmetric in H and E; its adjoint is G ↦ L²(Aᵀ; G, Eᵀ) (module docstring).
    """

    node = "expm_frechet2"
    _apply = SecondFrechetMap.apply_second

    def second(self, h: np.ndarray) -> np.ndarray:
        return expm_second(self.A, h, self.E)
