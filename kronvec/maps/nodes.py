"""The algebra nodes of linear maps: zero, sum, scaling and composition.

They are built by the simplifying functions of :mod:`kronvec.maps.algebra`
(reached through :data:`kronvec.maps.base.ALGEBRA`), never directly, so that
sums merge terms, scalings fold into factors and compositions take the
mixed-product fast paths first.
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

import numpy as np

from ..expr import Expr
from . import factors as fx
from .base import ALGEBRA, LinearMap, as_matrix_shape, bind_factor
from .contract import dense_by_einsum

__all__ = ["ZeroMap", "SumMap", "ScaledMap", "ComposeMap", "flatten_sum"]


class ZeroMap(LinearMap):
    """H ↦ 0."""

    def _apply(self, h: Any) -> Any:
        if fx.is_symbolic(h):
            return fx.zeros(as_matrix_shape(self.out_shape) if self._plain else self.out_shape)
        lead = np.shape(h)[:np.ndim(h) - len(as_matrix_shape(self.in_shape))]  # the batch of tangents
        return np.zeros(lead + as_matrix_shape(self.out_shape))

    def _adjoint(self) -> LinearMap:
        return ZeroMap(self.out_shape, self.in_shape)

    def _dense_into(self, out: np.ndarray, coef: float, assign: bool) -> None:
        if assign:
            out[...] = 0.0


class SumMap(LinearMap):
    """H ↦ Σᵢ Lᵢ(H).  Build with :func:`kronvec.maps.algebra.add_maps`."""

    def __init__(self, terms: Sequence[LinearMap]) -> None:
        super().__init__(terms[0].in_shape, terms[0].out_shape)
        self.terms = tuple(terms)

    def children(self) -> tuple[LinearMap, ...]:
        return self.terms

    def columnwise(self) -> bool:
        return all(t.columnwise() for t in self.terms)

    def _apply(self, h: Any) -> Any:
        out = self.terms[0]._apply(h)
        for t in self.terms[1:]:
            out = fx.plus(out, t._apply(h))
        return out

    def _adjoint(self) -> LinearMap:
        return SumMap([t.T for t in self.terms])

    def bind(self, value: Callable[[Expr], Any]) -> LinearMap:
        return ALGEBRA.add_maps(*[t.bind(value) for t in self.terms])

    def _dense_into(self, out: np.ndarray, coef: float, assign: bool) -> None:
        for i, t in enumerate(self.terms):
            t._dense_into(out, coef, assign and i == 0)


class ScaledMap(LinearMap):
    """H ↦ c·L(H) for a scalar c (a number, or a scalar expression)."""

    def __init__(self, coef: Any, inner: LinearMap) -> None:
        super().__init__(inner.in_shape, inner.out_shape)
        self.coef = coef
        self.inner = inner

    def factors(self) -> tuple[Any, ...]:
        return (self.coef,)

    def children(self) -> tuple[LinearMap, ...]:
        return (self.inner,)

    def columnwise(self) -> bool:
        return self.inner.columnwise()

    def _apply(self, h: Any) -> Any:
        return fx.mul(self.coef, self.inner._apply(h))

    def _adjoint(self) -> LinearMap:
        return ScaledMap(self.coef, self.inner.T)

    def bind(self, value: Callable[[Expr], Any]) -> LinearMap:
        c = bind_factor(value, self.coef)
        return ALGEBRA.scale_map(float(np.reshape(c, ())), self.inner.bind(value))

    def _dense_into(self, out: np.ndarray, coef: float, assign: bool) -> None:
        self.inner._dense_into(out, coef * float(np.reshape(self.coef, ())), assign)


class ComposeMap(LinearMap):
    """H ↦ L₁(L₂(⋯Lₖ(H))), the chain rule where no closed form merges the factors.

    ``maps[0]`` is applied last.  Build with :func:`kronvec.maps.algebra.compose`,
    which merges Kronecker-type neighbours by the mixed-product rule first.
    """

    def __init__(self, maps: Sequence[LinearMap]) -> None:
        super().__init__(maps[-1].in_shape, maps[0].out_shape)
        self.maps = tuple(maps)

    def children(self) -> tuple[LinearMap, ...]:
        return self.maps

    def columnwise(self) -> bool:
        return all(m.columnwise() and as_matrix_shape(m.out_shape)[1] == 1 for m in self.maps)

    def _apply(self, h: Any) -> Any:
        for m in reversed(self.maps):
            h = m._apply(h)
        return h

    def _adjoint(self) -> LinearMap:
        return ComposeMap([m.T for m in reversed(self.maps)])

    def bind(self, value: Callable[[Expr], Any]) -> LinearMap:
        return ALGEBRA.compose(*[m.bind(value) for m in self.maps])

    def _dense_into(self, out: np.ndarray, coef: float, assign: bool) -> None:
        # one contraction straight into ``out``; adding to it goes by column blocks
        # instead, so that no temporary as large as the output is made
        if not (assign and dense_by_einsum(self, out, coef)):
            super()._dense_into(out, coef, assign)


def flatten_sum(maps: Iterable[LinearMap]) -> list[LinearMap]:
    """The terms of nested sums, zeros dropped."""
    out: list[LinearMap] = []
    for m in maps:
        if isinstance(m, SumMap):
            out.extend(flatten_sum(m.terms))
        elif not isinstance(m, ZeroMap):
            out.append(m)
    return out
