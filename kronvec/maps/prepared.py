"""Maps whose numeric action comes from one function of their factors, named by an op node.

* :class:`PreparedMap`: one factor A, the action prepared once per value of A.
* :class:`SecondFrechetMap`: the second Fréchet derivatives L²_f(A; H, E) of matrix functions.

Some derivatives are cheap to apply once a decomposition of A is known (an SVD for the
adjugate's and the polar factor's derivatives): :class:`PreparedMap` keeps that set-up (a
closure over the decomposition), makes it on the first numeric application, drops it when
pickled, and on symbolic arguments builds the expression node named :attr:`node`.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import registry
from ..expr import Expr, as_expr
from ..shapes import Shape
from . import factors as fx
from .base import LinearMap, bind_factor


class PreparedMap(LinearMap):
    """H ↦ f_A(H) for a factor A, with ``prepare(A)`` returning the numeric f_A.

    Subclasses set :attr:`node` (the op that prints and differentiates f_A(H)),
    :meth:`prepare` and ``_apply = PreparedMap.apply_prepared``, and say what their adjoint is.

    Parameters
    ----------
    A : (..., m, n) factor (an expression or an array).
    in_shape : A's shape (also the output shape).
    """

    node: str = ""

    def __init__(self, A: Any, in_shape: Shape, out_shape: Shape | None = None) -> None:
        super().__init__(in_shape, in_shape)
        self.A = A
        self._apply_numeric: Callable[[np.ndarray], np.ndarray] | None = None

    @staticmethod
    def prepare(a: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
        raise NotImplementedError

    def factors(self) -> tuple[Any, ...]:
        return (self.A,)

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the prepared application (a closure), which is rebuilt on first use."""
        return {**self.__dict__, "_apply_numeric": None}

    def bind(self, value: Callable[[Expr], Any]) -> LinearMap:
        return type(self)(bind_factor(value, self.A), self.in_shape)

    def relabel(self, in_shape: Shape, out_shape: Shape) -> None:
        return None

    def apply_prepared(self, h: Any) -> Any:
        """f_A(H): the node on symbolic arguments, else the prepared numeric action."""
        if fx.is_symbolic(self.A, h):
            return registry.function(self.node)(as_expr(self.A), as_expr(h))
        if self._apply_numeric is None:
            self._apply_numeric = self.prepare(np.asarray(self.A, dtype=float))
        return self._apply_numeric(np.asarray(h, dtype=float))


class SecondFrechetMap(LinearMap):
    """H ↦ L²_f(A; H, E), the derivative of a Fréchet derivative L_f(A, E) in A.

    Symmetric in H and E; its adjoint is G ↦ L²_f(Aᵀ; G, Eᵀ).  Subclasses set :attr:`node`
    (the op that prints and differentiates it) and :meth:`second` (its numeric value).

    Parameters
    ----------
    A, E : (..., n, n) factors (expressions or arrays).
    in_shape : the shape of H (also the output shape).
    """

    node: str = ""

    def __init__(self, A: Any, E: Any, in_shape: Shape, out_shape: Shape | None = None) -> None:
        super().__init__(in_shape, in_shape)
        self.A, self.E = A, E

    def second(self, h: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def factors(self) -> tuple[Any, ...]:
        return (self.A, self.E)

    def bind(self, value: Callable[[Expr], Any]) -> LinearMap:
        return type(self)(bind_factor(value, self.A), bind_factor(value, self.E), self.in_shape)

    def relabel(self, in_shape: Shape, out_shape: Shape) -> None:
        return None

    def apply_second(self, h: Any) -> Any:
        """L²_f(A; H, E): the node on symbolic arguments, else :meth:`second`."""
        if fx.is_symbolic(self.A, self.E, h):
            return registry.function(self.node)(as_expr(self.A), as_expr(h), as_expr(self.E))
        return self.second(np.asarray(h, dtype=float))

    def _adjoint(self) -> LinearMap:
        return type(self)(fx.transposed(self.A), fx.transposed(self.E), self.in_shape)
