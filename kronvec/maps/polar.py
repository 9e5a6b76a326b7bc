"""The gradients of the nuclear and spectral norms, with the documented choices at kinks, and the
derivative of the nuclear norm's gradient (its Hessian).

With the reduced SVD A = U diag(s) Vᵀ and the rank decided as NumPy's ``matrix_rank``
(sᵢ > max(m, n)·ε·s₁):

* ∇‖A‖_* = U_r V_rᵀ, over the nonzero singular values: the minimum-norm subgradient
  (0 at A = 0); where A has full rank it is the polar factor A (AᵀA)^{-½};
* ∇‖A‖₂ = the average of uᵢvᵢᵀ over the singular values tied with s₁ (to the same
  tolerance): the minimum-norm subgradient (0 at A = 0), u₁v₁ᵀ where s₁ > s₂;
* d(U Vᵀ)[H] = U Ω Vᵀ + (I − UUᵀ) H V S⁻¹ Vᵀ + U S⁻¹ Uᵀ H (I − VVᵀ), with E = UᵀHV and
  Ωᵢⱼ = (Eᵢⱼ − Eⱼᵢ)/(sᵢ + sⱼ): sums, never differences, of singular values, so it is
  exact at repeated ones; it exists where A has full rank (a smaller rank is where the
  nuclear norm's rank changes: ``DegenerateError``).  The map is self-adjoint.

Every function takes stacks (..., m, n) in batched NumPy calls.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import DegenerateError
from .base import LinearMap
from .prepared import PreparedMap

__all__ = ["norm_gradient_value", "polar_frechet", "PolarFrechetMap"]

_EPS = np.finfo(float).eps


def _tolerance(a: np.ndarray, s: np.ndarray) -> np.ndarray:
    """NumPy's ``matrix_rank`` tolerance max(m, n)·ε·s₁ of every member, shaped to broadcast over s."""
    result: np.ndarray = max(a.shape[-2:]) * _EPS * s[..., :1]
    return result


def norm_gradient_value(kind: str, a: np.ndarray) -> np.ndarray:
    """∇‖A‖_* (``kind="nuc"``) or ∇‖A‖₂ (``kind="2"``) as above, for a matrix or a stack."""
    u, s, vt = np.linalg.svd(np.asarray(a, dtype=float), full_matrices=False)
    tol = _tolerance(a, s)
    if kind == "nuc":
        weights = (s > tol).astype(float)
    else:
        tied = (s >= s[..., :1] - tol) & (s[..., :1] > 0)
        weights = tied / np.maximum(tied.sum(axis=-1, keepdims=True), 1)
    result: np.ndarray = (u * weights[..., None, :]) @ vt
    return result


def _polar_parts(a: np.ndarray) -> tuple[np.ndarray, ...]:
    u, s, vt = np.linalg.svd(np.asarray(a, dtype=float), full_matrices=False)
    low = s[..., -1:] <= _tolerance(a, s)
    if low.any():
        index = np.argwhere(low.reshape(low.shape[:-1]))[0] if low.ndim > 1 else ()
        where = f" (member {tuple(int(i) for i in index)} of the stack)" if low.ndim > 1 else ""
        raise DegenerateError(f"nuclear norm: no second derivative at a matrix of shape {a.shape} that is "
                              f"not of full rank{where} (smallest singular value "
                              f"{float(s[tuple(index)][-1]) if low.ndim > 1 else float(s[-1]):.3g}): "
                              f"its rank changes there")
    return u, s, np.swapaxes(vt, -1, -2), s[..., :, None] + s[..., None, :]


def _polar(a: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """H ↦ d(U Vᵀ)[H] for A's members, set up once (H may have leading axes)."""
    u, s, v, sums = _polar_parts(a)
    ut, vt = np.swapaxes(u, -1, -2), np.swapaxes(v, -1, -2)
    m, n = a.shape[-2:]

    def apply(h: np.ndarray) -> np.ndarray:
        e = ut @ h @ v
        out = u @ ((e - np.swapaxes(e, -1, -2)) / sums) @ vt
        if m > n:  # (I − UUᵀ) H V S⁻¹ Vᵀ
            rest = h @ v - u @ (ut @ h @ v)
            out = out + (rest / s[..., None, :]) @ vt
        elif n > m:  # U S⁻¹ Uᵀ H (I − VVᵀ)
            rest = ut @ h - (ut @ h @ v) @ vt
            out = out + u @ (rest / s[..., :, None])
        result: np.ndarray = out
        return result
    return apply


def polar_frechet(a: np.ndarray, h: np.ndarray) -> np.ndarray:
    """d(U Vᵀ)[H], the derivative of ∇‖A‖_* at a full-rank A along H."""
    return _polar(a)(np.asarray(h, dtype=float))


class PolarFrechetMap(PreparedMap):
    """H ↦ d(U Vᵀ)[H], the derivative of the gradient of the nuclear norm (self-adjoint).

    Parameters
    ----------
    A : (..., m, n) factor (an expression or an array).
    in_shape : A's shape.
    """

    node = "polar_frechet"
    _apply = PreparedMap.apply_prepared
    prepare = staticmethod(_polar)

    def _adjoint(self) -> LinearMap:
        return self
