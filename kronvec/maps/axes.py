"""Maps that move, copy or sum whole axes: broadcasting, sums over axes, permutations, reshapes.

They are the derivatives of the operations on the axes of stacks of
matrices, and of NumPy's broadcasting over the stack axes:

=========================  ==========================================  =====================
term                       action H ↦                                  adjoint
=========================  ==========================================  =====================
``BroadcastMap(s, t, a)``  H with unit axes inserted at ``a``, spread  ``ReduceMap``
                           to the shape t (NumPy's ``broadcast_to``)
``ReduceMap(t, s, a)``     the sums of H over the axes it was spread   ``BroadcastMap``
                           along (``a``: the axes that disappear)
``PermuteMap(s, p)``       ``np.transpose(H, p)``                      the inverse permutation
``ReshapeMap(s, t)``       ``H.reshape(t)`` (C order, as NumPy)        the reshape back
=========================  ==========================================  =====================

Tangents arrive in their matrix form (:func:`kronvec.shapes.as_matrix_shape`) with
leading batch axes of tangents; each map reads them in the shape of its
input, acts, and returns the matrix form of its output.  None of them
couples the members of a stack beyond what the operation itself does, and
``to_dense`` (column-major vec) is built by pushing basis tangents through.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import registry
from ..shapes import Shape, as_matrix_shape, fmt
from . import factors as fx
from .base import LinearMap, dense_by_basis

__all__ = ["BroadcastMap", "ReduceMap", "PermuteMap", "ReshapeMap", "leading_axes"]


def leading_axes(small: Shape, big: Shape) -> tuple[int, ...]:
    """The axes of ``big`` that NumPy's broadcasting prepends to ``small`` (right alignment)."""
    return tuple(range(len(big) - len(small)))


def _lead(h: Any, shape: Shape) -> tuple[int, ...]:
    """The batch axes of tangents in front of the matrix form of ``shape``."""
    return tuple(np.shape(h)[:np.ndim(h) - len(as_matrix_shape(shape))])


class _AxesMap(LinearMap):
    """Common reading and writing of tangents in their own shapes."""

    def _read(self, h: np.ndarray) -> tuple[np.ndarray, tuple[int, ...]]:
        lead = _lead(h, self.in_shape)
        return np.asarray(h, dtype=float).reshape(lead + self.in_shape), lead

    def _write(self, x: np.ndarray, lead: tuple[int, ...]) -> np.ndarray:
        return np.reshape(x, lead + as_matrix_shape(self.out_shape))

    def memberwise(self) -> bool:
        return False

    def _dense_into(self, out: np.ndarray, coef: float, assign: bool) -> None:
        dense_by_basis(self, out, coef, assign)


class BroadcastMap(_AxesMap):
    """H ↦ H spread to ``out_shape``: unit axes inserted at ``inserted`` (axes of the output),
    then NumPy broadcasting of the size-1 axes.

    The derivative of a broadcast operand (a matrix against a stack, a
    scalar over a stack); its adjoint sums over the axes spread along.
    """

    def __init__(self, in_shape: Shape, out_shape: Shape, inserted: tuple[int, ...] | None = None) -> None:
        super().__init__(in_shape, out_shape)
        self.inserted = leading_axes(in_shape, out_shape) if inserted is None else tuple(inserted)
        kept = [s for k, s in enumerate(self.out_shape) if k not in self.inserted]
        if len(kept) != len(self.in_shape) or any(a not in (b, 1) for a, b in zip(self.in_shape, kept)):
            raise ValueError(f"BroadcastMap: {fmt(in_shape)} does not broadcast to {fmt(out_shape)}")

    def _apply(self, h: Any) -> Any:
        if fx.is_symbolic(h):
            expanded = h
            if self.inserted:
                shape = list(self.out_shape)
                for k in range(len(self.out_shape)):
                    if k not in self.inserted:
                        shape[k] = self.in_shape[k - sum(a < k for a in self.inserted)]
                    else:
                        shape[k] = 1
                expanded = registry.function("c_order_reshape")(h, tuple(shape))
            return registry.function("broadcast_to")(expanded, self.out_shape)
        x, lead = self._read(h)
        x = np.expand_dims(x, tuple(len(lead) + a for a in self.inserted)) if self.inserted else x
        return self._write(np.broadcast_to(x, lead + self.out_shape), lead)

    def _adjoint(self) -> LinearMap:
        return ReduceMap(self.out_shape, self.in_shape, self.inserted)


class ReduceMap(_AxesMap):
    """H ↦ the sums of H over the axes ``removed`` (gone from the output) and over the axes
    where the output has size 1 and H does not: the adjoint of :class:`BroadcastMap`."""

    def __init__(self, in_shape: Shape, out_shape: Shape, removed: tuple[int, ...] | None = None) -> None:
        super().__init__(in_shape, out_shape)
        self.removed = leading_axes(out_shape, in_shape) if removed is None else tuple(removed)
        kept = [k for k in range(len(self.in_shape)) if k not in self.removed]
        self.kept_sums = tuple(k for k, t in zip(kept, self.out_shape) if t == 1 and self.in_shape[k] != 1)

    def _apply(self, h: Any) -> Any:
        if fx.is_symbolic(h):
            out = h
            reduce_sum = registry.function("reduce_sum")
            if self.kept_sums:
                out = reduce_sum(out, self.kept_sums, True)
            if self.removed:
                out = reduce_sum(out, self.removed, False)
            return out
        x, lead = self._read(h)
        if self.kept_sums:
            x = x.sum(axis=tuple(len(lead) + k for k in self.kept_sums), keepdims=True)
        if self.removed:
            x = x.sum(axis=tuple(len(lead) + k for k in self.removed))
        return self._write(x, lead)

    def _adjoint(self) -> LinearMap:
        return BroadcastMap(self.out_shape, self.in_shape, self.removed)


class PermuteMap(_AxesMap):
    """H ↦ ``np.transpose(H, axes)``; its adjoint is the inverse permutation."""

    def __init__(self, in_shape: Shape, axes: tuple[int, ...]) -> None:
        super().__init__(in_shape, tuple(in_shape[a] for a in axes))
        self.axes = tuple(axes)

    def _apply(self, h: Any) -> Any:
        if fx.is_symbolic(h):
            return registry.function("transpose")(h, self.axes)
        x, lead = self._read(h)
        order = tuple(range(len(lead))) + tuple(len(lead) + a for a in self.axes)
        return self._write(np.transpose(x, order), lead)

    def _adjoint(self) -> LinearMap:
        return PermuteMap(self.out_shape, tuple(int(a) for a in np.argsort(self.axes)))


class ReshapeMap(_AxesMap):
    """H ↦ ``H.reshape(out_shape)`` in C order (as NumPy reshapes values); adjoint: back."""

    def _apply(self, h: Any) -> Any:
        if fx.is_symbolic(h):
            return registry.function("c_order_reshape")(h, self.out_shape)
        x, lead = self._read(h)
        return self._write(x, lead)

    def _adjoint(self) -> LinearMap:
        return ReshapeMap(self.out_shape, self.in_shape)
