"""Diagonals of Kronecker products: H ↦ diag(A H B) and h ↦ A diag(h) B in one product.

``DiagExtractMap ∘ KronMap(A, B)`` (the derivative of eigenvalues and singular
values, dw = diag(Vᵀ dA V)) would form A H B and keep its diagonal; this
term computes HB once and takes Σⱼ Aᵢⱼ (HB)ⱼᵢ, and its adjoint
g ↦ Aᵀ diag(g) Bᵀ scales the columns of Aᵀ instead of multiplying by a
diagonal matrix: one matrix product each way.  The algebra builds it from
those compositions (:mod:`kronvec.maps.algebra`).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import registry
from ..expr import Expr
from ..shapes import Shape
from . import factors as fx
from .base import LinearMap, bind_factor

__all__ = ["KronDiagMap"]


class KronDiagMap(LinearMap):
    """``"extract"``: H ↦ diag(A H B) as a column; ``"embed"``: h ↦ A diag(h) B.

    Parameters
    ----------
    A, B : factors (expressions or arrays); for ``extract`` A (k, p) and B (q, k)
        with H (p, q); for ``embed`` A (p, k) and B (k, q) with h (k, 1).
    direction : "extract" or "embed" (adjoint to each other: extract(A, B)ᵀ = embed(Aᵀ, Bᵀ)).
    """

    def __init__(self, A: Any, B: Any, direction: str, in_shape: Shape, out_shape: Shape) -> None:
        super().__init__(in_shape, out_shape)
        self.A, self.B, self.direction = A, B, direction

    def factors(self) -> tuple[Any, ...]:
        return (self.A, self.B)

    def bind(self, value: Callable[[Expr], Any]) -> LinearMap:
        return KronDiagMap(bind_factor(value, self.A), bind_factor(value, self.B), self.direction,
                           self.in_shape, self.out_shape)

    def _apply(self, h: Any) -> Any:
        diag = registry.function("diag")
        if fx.is_symbolic(self.A, self.B, h):
            if self.direction == "extract":
                return diag(fx.product(self.A, h, self.B))
            A = self.A
            if isinstance(A, Expr) and A.op == "eigh_vectors" and A.ndim == 2 and self.B is A.T:
                # V diag(h) Vᵀ in the eigenbasis: the node whose derivative is Daleckii–Krein
                return registry.function("eigfun")(A.args[0], h, A.params.UPLO)
            return fx.product(A, diag(h), self.B)
        h = np.asarray(h, dtype=float)
        if self.direction == "extract":
            return np.einsum("...ij,...ji->...i", self.A, h @ self.B)[..., None]
        return (self.A * np.swapaxes(h, -1, -2)) @ self.B

    def _adjoint(self) -> LinearMap:
        flip = "embed" if self.direction == "extract" else "extract"
        return KronDiagMap(fx.transposed(self.A), fx.transposed(self.B), flip, self.out_shape, self.in_shape)
