"""The derivatives of the matrix power Aᵏ as lazy maps, applied in O(log k) products.

``MatrixPowerFrechetMap(A, k)`` is H ↦ L(A, H) = Σᵢ₌₀ᵏ⁻¹ Aⁱ H Aᵏ⁻¹⁻ⁱ, the upper
right block of [[A, H], [0, A]]ᵏ, computed by repeated squaring of that block
matrix (kept as the pair (P, Q) of its blocks):

    [[P₁, Q₁], [0, P₁]] [[P₂, Q₂], [0, P₂]] = [[P₁P₂, P₁Q₂ + Q₁P₂], [0, P₁P₂]],

three products per step and about 2 log₂ k steps.  Its adjoint is the same
map at Aᵀ (⟨Aⁱ H Aʲ, G⟩ = ⟨H, (Aᵀ)ⁱ G (Aᵀ)ʲ⟩ summed over i + j = k − 1).

``MatrixPowerSecondMap(A, F, k, slot)`` is the derivative of L(A, ·) in A:
E ↦ Σ_{i+j+l=k−2} Aⁱ E Aʲ F Aˡ (``slot`` 0) or E ↦ Σ Aⁱ F Aʲ E Aˡ (``slot`` 1),
the (1, 3) block of [[A, X, 0], [0, A, Y], [0, 0, A]]ᵏ, by repeated squaring
too.  Its adjoint is the same form at Aᵀ with Fᵀ (in the same slot).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import registry
from ..expr import Expr, as_expr
from ..shapes import Shape
from . import factors as fx
from .base import LinearMap, bind_factor

__all__ = ["MatrixPowerFrechetMap", "MatrixPowerSecondMap", "power_frechet", "power_second",
           "frechet_by_squaring", "second_by_squaring"]


Powers = tuple[Any, ...]  # the running products of a repeated squaring (arrays of any library)


def _power(combine: Callable[[Powers, Powers], Powers], base: Powers, k: int) -> Powers:
    """baseᵏ (k ≥ 1) under the associative ``combine``, by repeated squaring."""
    result: Powers | None = None
    while True:
        if k & 1:
            result = base if result is None else combine(result, base)
        k >>= 1
        if not k:
            assert result is not None, "a power k ≥ 1"
            return result
        base = combine(base, base)


def _pair(x: Powers, y: Powers) -> Powers:
    (p1, q1), (p2, q2) = x, y
    return p1 @ p2, p1 @ q2 + q1 @ p2


def _triple(x: Powers, y: Powers) -> Powers:
    (p1, a1, b1, r1), (p2, a2, b2, r2) = x, y
    r = a1 @ b2 + (0 if r2 is None else p1 @ r2) + (0 if r1 is None else r1 @ p2)
    return p1 @ p2, p1 @ a2 + a1 @ p2, p1 @ b2 + b1 @ p2, r


def frechet_by_squaring(A: Any, H: Any, k: int) -> Any:
    """Σᵢ₌₀ᵏ⁻¹ Aⁱ H Aᵏ⁻¹⁻ⁱ (k ≥ 1) by repeated squaring, with ``@`` and ``+`` alone (so any array
    library's arrays will do: generated code uses it for every backend)."""
    return _power(_pair, (A, H), int(k))[1]


def second_by_squaring(A: Any, X: Any, Y: Any, k: int) -> Any:
    """Σ_{i+j+l=k−2} Aⁱ X Aʲ Y Aˡ (k ≥ 2) by repeated squaring, with ``@`` and ``+`` alone."""
    return _power(_triple, (A, X, Y, None), int(k))[3]


def power_frechet(A: np.ndarray, H: np.ndarray, k: int) -> np.ndarray:
    """Σᵢ₌₀ᵏ⁻¹ Aⁱ H Aᵏ⁻¹⁻ⁱ (k ≥ 1) in O(log k) products; stack axes of A and H broadcast."""
    out: np.ndarray = frechet_by_squaring(np.asarray(A, dtype=float), np.asarray(H, dtype=float), k)
    return out


def power_second(A: np.ndarray, X: np.ndarray, Y: np.ndarray, k: int) -> np.ndarray:
    """Σ_{i+j+l=k−2} Aⁱ X Aʲ Y Aˡ (0 for k < 2) in O(log k) products."""
    A, X, Y = (np.asarray(v, dtype=float) for v in (A, X, Y))
    shape = np.broadcast_shapes(A.shape, X.shape, Y.shape)
    return np.zeros(shape) if k < 2 else np.broadcast_to(second_by_squaring(A, X, Y, k), shape).copy()


class MatrixPowerFrechetMap(LinearMap):
    """H ↦ Σᵢ₌₀ᵏ⁻¹ Aⁱ H Aᵏ⁻¹⁻ⁱ, the derivative of Aᵏ (k ≥ 1), in O(log k) products.

    Parameters
    ----------
    A : (…, n, n) factor (an expression or an array)
    k : int, k ≥ 1
    in_shape : the shape of H (that of Aᵏ)
    """

    def __init__(self, A: Any, k: int, in_shape: Shape, out_shape: Shape | None = None) -> None:
        super().__init__(in_shape, in_shape)
        self.A, self.k = A, int(k)

    def factors(self) -> tuple[Any, ...]:
        return (self.A,)

    def bind(self, value: Callable[[Expr], Any]) -> LinearMap:
        return MatrixPowerFrechetMap(bind_factor(value, self.A), self.k, self.in_shape)

    def relabel(self, in_shape: Shape, out_shape: Shape) -> None:
        return None

    def _apply(self, h: Any) -> Any:
        if fx.is_symbolic(self.A, h):
            return registry.function("matrix_power_frechet")(as_expr(self.A), as_expr(h), self.k)
        return power_frechet(self.A, h, self.k)

    def _adjoint(self) -> LinearMap:
        return MatrixPowerFrechetMap(fx.transposed(self.A), self.k, self.in_shape)


class MatrixPowerSecondMap(LinearMap):
    """E ↦ Σ_{i+j+l=k−2} Aⁱ E Aʲ F Aˡ (``slot`` 0) or Σ Aⁱ F Aʲ E Aˡ (``slot`` 1).

    The derivative of L(A, F) = Σ Aⁱ F Aᵏ⁻¹⁻ⁱ in A is the sum of the two slots;
    the adjoint of a slot is that slot at Aᵀ with Fᵀ.
    """

    def __init__(self, A: Any, F: Any, k: int, slot: int, in_shape: Shape,
                 out_shape: Shape | None = None) -> None:
        super().__init__(in_shape, in_shape)
        self.A, self.F, self.k, self.slot = A, F, int(k), int(slot)

    def factors(self) -> tuple[Any, ...]:
        return (self.A, self.F)

    def bind(self, value: Callable[[Expr], Any]) -> LinearMap:
        return MatrixPowerSecondMap(bind_factor(value, self.A), bind_factor(value, self.F), self.k, self.slot,
                                    self.in_shape)

    def relabel(self, in_shape: Shape, out_shape: Shape) -> None:
        return None

    def _apply(self, e: Any) -> Any:
        x, y = (e, self.F) if self.slot == 0 else (self.F, e)
        if fx.is_symbolic(self.A, self.F, e):
            return registry.function("matrix_power_frechet2")(as_expr(self.A), as_expr(x), as_expr(y), self.k)
        return power_second(self.A, x, y, self.k)

    def _adjoint(self) -> LinearMap:
        return MatrixPowerSecondMap(fx.transposed(self.A), fx.transposed(self.F), self.k, self.slot,
                                    self.in_shape)
