"""Terms built around a diagonal: the curvature of elementwise functions and of softmax.

=============================  ==============================  ==============================
term                           action H ↦                      dense (vec convention)
=============================  ==============================  ==============================
``DiagSandwichMap``            A₁ (D ⊙ (A₂ H B₂)) B₁           (B₁ᵀ ⊗ A₁) diag(vec D) (B₂ᵀ ⊗ A₂)
``DiagRankOneMap`` (axis)      D ⊙ H − U ⊙ Σ(V ⊙ H) per slice  diag(vec D) − vec U vec Vᵀ on
                                                               every slice (block diagonal)
=============================  ==============================  ==============================

The sandwich is what the chain rule gives through an elementwise function
between two products, d f(A X B) = f'(A X B) ⊙ (A dX B), and what a Hessian of
Σ f(X w) gives: Xᵀ diag(f''(Xw)) X, the diagonal congruence of logistic
regression, applied as two matrix-vector products and one scaling.

The rank-one-per-slice term is the Jacobian of softmax along an axis,
diag(s) − ssᵀ on each slice s, and of log_softmax, I − 𝟙sᵀ: applying it
costs a few passes over H, never the (n × n) blocks.  A slice is the whole
matrix (``axis=None``), each column (``axis=0``) or each row (``axis=1``);
``None`` as D, U or V stands for the all-ones matrix (so D = None is the
identity).  For a stack, ``axis`` is a tuple of axes of H, as NumPy's: each
slice is what the other axes fix (``(2,)``: every row of every member).
"""
from __future__ import annotations

from functools import cached_property
from typing import Any, Callable

import numpy as np

from .. import registry
from ..expr import Expr, as_expr
from ..shapes import Shape, as_matrix_shape
from . import factors as fx
from .base import LinearMap, bind_factor, dense_by_basis
from .nodes import ComposeMap
from .terms import ElementwiseMap, KronMap, _FactorTerm

__all__ = ["DiagSandwichMap", "DiagRankOneMap", "sandwich_shape_ok"]


def _shape_of(f: Any) -> tuple[int, ...]:
    return tuple(f.shape) if f is not None else ()


def sandwich_shape_ok(e: ElementwiseMap) -> bool:
    """Whether an elementwise term can be the middle of a sandwich (a matrix, not a scalar)."""
    return e.in_shape == e.out_shape and len(e.in_shape) == 2 and _shape_of(e.D) == e.in_shape


_FACTORS = ("A1", "B1", "D", "A2", "B2")


class DiagSandwichMap(_FactorTerm):
    """H ↦ A₁ (D ⊙ (A₂ H B₂)) B₁: a diagonal between two Kronecker terms.

    Parameters
    ----------
    A1, B1 : the outer factors (None: identity), mapping the middle shape to ``out_shape``.
    D : the diagonal, of the middle shape (that of A₂ H B₂).
    A2, B2 : the inner factors (None: identity), applied to H of ``in_shape``.

    Notes
    -----
    In the vec convention the dense form is (B₁ᵀ ⊗ A₁) diag(vec D) (B₂ᵀ ⊗ A₂);
    for columns (B₁ = B₂ = I₁) that is A₁ diag(d) A₂, e.g. Xᵀ diag(d) X.  The
    adjoint is the sandwich of the transposed factors in reverse order.
    """

    def __init__(self, A1: Any, B1: Any, D: Any, A2: Any, B2: Any, in_shape: Shape,
                 out_shape: Shape) -> None:
        super().__init__(in_shape, out_shape)
        self.A1, self.B1, self.D, self.A2, self.B2 = A1, B1, D, A2, B2
        self.mid_shape: Shape = _shape_of(D)

    def factors(self) -> tuple[Any, ...]:
        return (self.A1, self.B1, self.D, self.A2, self.B2)

    def bind(self, value: Callable[[Expr], Any]) -> LinearMap:
        """The map with its factors bound to numbers, without redoing its shape logic (nor
        keeping the parts of the symbolic map)."""
        new = self._copy_with(**{name: bind_factor(value, getattr(self, name)) for name in _FACTORS})
        new.__dict__.pop("_parts", None)
        return new

    def columnwise(self) -> bool:
        return self.B1 is None and self.B2 is None and (np.ndim(self.D) < 2 or np.shape(self.D)[-1] == 1)

    @cached_property
    def _parts(self) -> tuple[LinearMap, ...]:
        parts: list[LinearMap] = []
        if self.A1 is not None or self.B1 is not None:
            parts.append(KronMap(self.A1, self.B1, self.mid_shape, self.out_shape))
        parts.append(ElementwiseMap(self.D, self.mid_shape))
        if self.A2 is not None or self.B2 is not None:
            parts.append(KronMap(self.A2, self.B2, self.in_shape, self.mid_shape))
        return tuple(parts)

    def parts(self) -> tuple[LinearMap, ...]:
        """The Kronecker and elementwise terms it composes, applied last first."""
        return self._parts

    def is_column_form(self) -> bool:
        """Whether it maps columns to columns through columns: then it is A₁ diag(d) A₂."""
        return (self.B1 is None and self.B2 is None and as_matrix_shape(self.in_shape)[1] == 1
                and as_matrix_shape(self.out_shape)[1] == 1 and as_matrix_shape(self.mid_shape)[1] == 1)

    def absorb(self, c: Any) -> LinearMap:
        return DiagSandwichMap(self.A1, self.B1, fx.mul(c, self.D), self.A2, self.B2,
                               self.in_shape, self.out_shape)

    def _apply(self, h: Any) -> Any:
        if not isinstance(h, np.ndarray) or self.symbolic:
            inner = fx.elementwise_product(self.D, fx.product(self.A2, h, self.B2))
            return fx.product(self.A1, inner, self.B1)
        A1, A2 = self.A1, self.A2
        if self.B1 is None and self.B2 is None and (A1 is None or type(A1) is np.ndarray) \
                and (A2 is None or type(A2) is np.ndarray):  # A₁ (D ⊙ (A₂ H)), as its parts do it
            inner = fx.elementwise_product(self.D, h if A2 is None else A2 @ h)
            return inner if A1 is None else A1 @ inner
        for part in reversed(self._parts):
            h = part._apply(h)
        return h

    def _adjoint(self) -> LinearMap:
        return DiagSandwichMap(fx.transposed(self.A2), fx.transposed(self.B2), self.D,
                               fx.transposed(self.A1), fx.transposed(self.B1), self.out_shape, self.in_shape)

    def _dense_into(self, out: np.ndarray, coef: float, assign: bool) -> None:
        if self.is_column_form():
            # A₁ diag(d) A₂ as one product: scale the columns of A₁ (or the rows of A₂)
            d = coef * np.asarray(self.D).reshape(-1)
            left = np.diag(d) if self.A1 is None else np.asarray(self.A1) * d
            dense = left if self.A2 is None else left @ np.asarray(self.A2)
        elif len(self._parts) == 1:
            self._parts[0]._dense_into(out, coef, assign)
            return
        else:
            dense = np.empty_like(out)
            ComposeMap(self._parts)._dense_into(dense, coef, True)
        if assign:
            out[...] = dense
        else:
            out += dense


class DiagRankOneMap(_FactorTerm):
    """H ↦ D ⊙ H − U ⊙ Σ(V ⊙ H), the sums Σ taken over each slice and spread over it.

    Parameters
    ----------
    D, U, V : matrices of H's shape, or None for the all-ones matrix.
    axis : None (one slice: the whole matrix), 0 (every column) or 1 (every row); for a stack,
        a tuple of axes (non-negative, of H's shape) along which each slice runs.

    Notes
    -----
    On each slice (vec'ed) the dense form is diag(d) − uvᵀ, and the map is
    block diagonal over the slices.  The Jacobian of softmax is D = U = V = S
    (self-adjoint: diag(s) − ssᵀ); that of log_softmax is D = U = None,
    V = S (I − 𝟙sᵀ).  The adjoint swaps U and V.
    """

    def __init__(self, D: Any, U: Any, V: Any, axis: int | None, in_shape: Shape,
                 out_shape: Shape | None = None) -> None:
        super().__init__(in_shape, in_shape if out_shape is None else out_shape)
        self.D, self.U, self.V, self.axis = D, U, V, axis

    def factors(self) -> tuple[Any, ...]:
        return (self.D, self.U, self.V)

    def _with(self, *factors: Any) -> LinearMap:
        D, U, V = factors
        return DiagRankOneMap(D, U, V, self.axis, self.in_shape, self.out_shape)

    def relabel(self, in_shape: Shape, out_shape: Shape) -> LinearMap:
        return DiagRankOneMap(self.D, self.U, self.V, self.axis, in_shape, out_shape)

    def memberwise(self) -> bool:
        """False when a slice runs along a stack axis (softmax over the members mixes them)."""
        if not isinstance(self.axis, tuple):
            return True
        return all(k >= len(self.in_shape) - 2 for k in self.axis)

    def is_single_slice(self) -> bool:
        """Whether the whole matrix is one slice (then the dense form is diag(vec D) − vec U vec Vᵀ)."""
        if isinstance(self.axis, tuple):
            return all(s == 1 for k, s in enumerate(self.in_shape) if k not in self.axis)
        n, m = as_matrix_shape(self.in_shape)
        return self.axis is None or (self.axis == 0 and m == 1) or (self.axis == 1 and n == 1)

    def _apply(self, h: Any) -> Any:
        if fx.is_symbolic(h, self.D, self.U, self.V):
            return self._apply_symbolic(as_expr(h))
        if isinstance(self.axis, tuple):  # a stack: H read in its own shape, NumPy's axes
            shape = self.in_shape
            lead = np.shape(h)[:np.ndim(h) - len(as_matrix_shape(shape))]
            out = self._rank_one(np.reshape(h, lead + shape), tuple(k - len(shape) for k in self.axis))
            return np.reshape(out, lead + as_matrix_shape(self.out_shape))
        return self._rank_one(h, (-2, -1) if self.axis is None else (-2 if self.axis == 0 else -1))

    def _rank_one(self, h: Any, axes: Any) -> Any:
        vh = h if self.V is None else self.V * h
        sums = vh.sum(axis=axes, keepdims=True)
        first = h if self.D is None else self.D * h
        return first - (sums if self.U is None else self.U * sums)

    def _apply_symbolic(self, h: Expr) -> Expr:
        times = registry.function("multiply")  # NumPy's *, which broadcasts
        sums = self._slice_sums(h)
        first = h if self.D is None else times(as_expr(self.D), h)
        if self.U is not None:
            spread = times(as_expr(self.U), sums)
        elif isinstance(self.axis, tuple):  # NumPy's broadcasting of the sums over each slice
            spread = registry.function("broadcast_to")(sums, h.shape)
        else:
            spread = times(registry.function("ones")(h.shape), sums)
        return registry.function("add")(first, registry.function("scale")(-1.0, spread))

    def _slice_sums(self, h: Expr) -> Expr:
        """Σ V ⊙ H over each slice: VᵀH for a column, 𝟙ᵀ(V ⊙ H), (V ⊙ H)𝟙 or sum(V ⊙ H)."""
        matmul, ones = registry.function("matmul"), registry.function("ones")
        v = None if self.V is None else as_expr(self.V)
        if isinstance(self.axis, tuple):
            vh = h if v is None else registry.function("multiply")(v, h)
            return registry.function("reduce_sum")(vh, self.axis, True)
        n, m = as_matrix_shape(h.shape)
        if m == 1 and self.axis in (None, 0):
            return matmul(ones(1, n) if v is None else v.T, h)
        if n == 1 and self.axis in (None, 1):
            return matmul(h, ones(m, 1) if v is None else v.T)
        vh = h if v is None else registry.function("multiply")(v, h)
        if self.axis is None:
            return registry.function("sum")(vh)
        return matmul(ones(1, n), vh) if self.axis == 0 else matmul(vh, ones(m, 1))

    def _adjoint(self) -> LinearMap:
        return DiagRankOneMap(self.D, self.V, self.U, self.axis, self.out_shape, self.in_shape)

    def _dense_into(self, out: np.ndarray, coef: float, assign: bool) -> None:
        if isinstance(self.axis, tuple):
            dense_by_basis(self, out, coef, assign)
            return
        n, m = as_matrix_shape(self.in_shape)
        size = n * m

        def vec(f: Any) -> np.ndarray:
            return np.ones(size) if f is None else np.asarray(f).reshape(-1, order="F")
        dense = np.multiply.outer(-coef * vec(self.U), vec(self.V))
        if self.axis is not None:
            index = np.arange(size)
            slot = index // n if self.axis == 0 else index % n  # the column or the row of each entry
            dense *= slot[:, None] == slot[None, :]
        dense[np.arange(size), np.arange(size)] += coef * vec(self.D)
        if assign:
            out[...] = dense
        else:
            out += dense
