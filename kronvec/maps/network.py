"""Dense matrices of maps between arrays of any shape, as one index contraction per term.

A map built from axis moves (broadcast, sum over axes, reshapes that insert or drop
axes of length one, permutations), elementwise products, matrix products of
matrices and einsum contractions is a tensor network: following a tangent from
the input, each map renames its axes, adds factors that share index letters with
it, or sums letters out.  The dense tensor T[out, in] is then one contraction of
those factors (identities δ tie an output letter to the input letter it equals,
vectors of ones carry the letters a broadcast creates), planned by opt_einsum.

The derivative of the pairwise energy Σᵢⱼ φ(‖xᵢ − xⱼ‖), written with
``X[:, None, :] - X[None, :, :]``, is such a sum of networks: its 3N × 3N Hessian costs
O(N²) per term this way, where pushing the 3N basis tangents through the map costs
O(N³) (and a (3N, N, N, 3) batch of tangents in memory).  Maps that are not networks
(triangular solves, Fréchet derivatives, ...) return False and are densified by basis
tangents as before.
"""
from __future__ import annotations

import math
from typing import Any, Iterator

import numpy as np

from ..lazy import LazyModule
from .axes import BroadcastMap, PermuteMap, ReduceMap, ReshapeMap
from .base import ALGEBRA, LinearMap
from .contract import cached_expression
from .einsum import EinsumMap
from .nodes import ComposeMap, ScaledMap, SumMap, ZeroMap
from .operands import Operand, dense_of
from .terms import ElementwiseMap, KronMap

oe = LazyModule("opt_einsum")

__all__ = ["dense_by_network"]

MAX_TERMS = 256
"""Sums inside compositions are multiplied out into at most this many products."""

Labels = list[str | None]  # one index letter per axis of the tangent (None for an axis of length one)


class _Unsupported(Exception):
    """The map is not a network of the kinds this module knows."""


class _Network:
    """The factors of a contraction being built, and fresh index letters."""

    def __init__(self) -> None:
        self.operands: list[tuple[str, np.ndarray]] = []
        self.sizes: dict[str, int] = {}
        self._next = 0

    def letter(self, size: int) -> str | None:
        """A fresh letter for an axis of ``size`` (None for length one: no letter needed)."""
        if size == 1:
            return None
        symbol = str(oe.get_symbol(self._next))
        self._next += 1
        self.sizes[symbol] = int(size)
        return symbol

    def factor(self, labels: Labels, array: Any) -> None:
        """A factor whose axes carry ``labels`` (axes labelled None have length one)."""
        array = np.asarray(dense_of(array) if isinstance(array, Operand) else array, dtype=float)
        if array.ndim != len(labels):
            raise _Unsupported
        kept = [(k, c) for k, c in enumerate(labels) if c is not None]
        if any(array.shape[k] != self.sizes[c] for k, c in kept):
            raise _Unsupported
        subs = "".join(c for _, c in kept)
        self.operands.append((subs, array.reshape([array.shape[k] for k, _ in kept])))


def _broadcast_labels(net: _Network, shape: tuple[int, ...], labels: Labels) -> Labels:
    """A factor of ``shape``, NumPy-broadcast against the tangent with ``labels`` (its axes
    right-aligned): its labels, None where the factor has length one."""
    if len(shape) > len(labels):
        raise _Unsupported
    aligned = labels[len(labels) - len(shape):]
    out: Labels = []
    for size, c in zip(shape, aligned):
        if size == 1:
            out.append(None)
        elif c is not None and net.sizes[c] == size:
            out.append(c)
        else:
            raise _Unsupported
    return out


def _through(net: _Network, m: LinearMap, labels: Labels, coef: list[float]) -> Labels:
    """The labels of m(tangent) for a tangent with ``labels``, adding m's factors to ``net``."""
    if isinstance(m, ComposeMap):
        for inner in reversed(m.maps):
            labels = _through(net, inner, labels, coef)
        return labels
    if isinstance(m, ScaledMap):
        coef[0] *= float(np.reshape(m.coef, ()))
        return _through(net, m.inner, labels, coef)
    if len(labels) != len(m.in_shape):
        raise _Unsupported  # a tangent in its matrix form ((1, 1) for a scalar)
    if isinstance(m, ReshapeMap):
        if [s for s in m.in_shape if s != 1] != [s for s in m.out_shape if s != 1]:
            raise _Unsupported  # a reshape that merges or splits axes
        letters = iter(c for c in labels if c is not None)
        return [next(letters) if s != 1 else None for s in m.out_shape]
    if isinstance(m, PermuteMap):
        return [labels[a] for a in m.axes]
    if isinstance(m, BroadcastMap):
        old = iter(labels)
        out: Labels = []
        for k, size in enumerate(m.out_shape):
            c = None if k in m.inserted else next(old)
            if c is None and size != 1:
                c = net.letter(size)
                net.factor([c], np.ones(size))
            out.append(c)
        return out
    if isinstance(m, ReduceMap):
        kept = [c for k, c in enumerate(labels) if k not in m.removed]
        positions = [k for k in range(len(labels)) if k not in m.removed]
        return [None if k in m.kept_sums else c for k, c in zip(positions, kept)]
    if isinstance(m, ElementwiseMap):
        D = np.asarray(dense_of(m.D) if isinstance(m.D, Operand) else m.D, dtype=float)
        if D.size == 1:
            coef[0] *= float(D.reshape(()))
            return labels
        shape = tuple(m.in_shape)
        if D.shape != shape and D.size == math.prod(shape) and len(D.shape) > len(shape):
            D = D.reshape(shape)  # a factor in its matrix form ((n, 1, 1) for n per-member scalars)
        net.factor(_broadcast_labels(net, D.shape, labels), D)
        return labels
    if isinstance(m, KronMap) and len(m.in_shape) == len(m.out_shape) == 2 and len(labels) == 2:
        rows, cols = labels
        if m.A is not None:
            rows = net.letter(m.out_shape[0])
            net.factor([rows, labels[0]], m.A)
        if m.B is not None:
            cols = net.letter(m.out_shape[1])
            net.factor([labels[1], cols], m.B)
        return [rows, cols]
    if isinstance(m, EinsumMap):
        return _through_einsum(net, m, labels)
    raise _Unsupported


def _through_einsum(net: _Network, m: EinsumMap, labels: Labels) -> Labels:
    """The contraction's letters renamed: the slot's to the tangent's labels (a repeated letter
    tied by δ), the others fresh."""
    c = m.contraction
    sizes = c.sizes(m.operand_shapes)
    rename: dict[str, str | None] = {}
    for letter, label in zip(c.inputs[m.slot], labels):
        if letter in rename:
            if rename[letter] != label:  # the diagonal of the tangent: δ between the two axes
                net.factor([rename[letter], label], np.eye(sizes[letter]))
        else:
            rename[letter] = label
    for letter, size in sizes.items():
        if letter not in rename:
            rename[letter] = net.letter(size)
    for k, (subs, x) in enumerate(zip(c.inputs, m.operands)):
        if k != m.slot:
            net.factor([rename[ch] for ch in subs], np.reshape(x, m.operand_shapes[k]))
    return [rename[ch] for ch in c.output]


def _products(m: LinearMap) -> Iterator[tuple[float, list[LinearMap]]]:
    """m as a sum of (coefficient, composition) with no sum inside a composition."""
    if isinstance(m, SumMap):
        for t in m.terms:
            yield from _products(t)
    elif isinstance(m, ScaledMap):
        c = float(np.reshape(m.coef, ()))
        for coef, chain in _products(m.inner):
            yield c * coef, chain
    elif isinstance(m, ComposeMap):
        expanded: list[tuple[float, list[LinearMap]]] = [(1.0, [])]
        for inner in m.maps:
            expanded = [(c1 * c2, a + b) for c1, a in expanded for c2, b in _products(inner)]
            if len(expanded) > MAX_TERMS:
                raise _Unsupported
        yield from expanded
    elif not isinstance(m, ZeroMap):
        yield 1.0, [m]


def _term_dense(m_in: tuple[int, ...], m_out: tuple[int, ...],
                chain: list[LinearMap]) -> tuple[float, str, list[np.ndarray]]:
    """(coefficient, subscripts, operands) of one product's dense tensor, axes reversed (vec order)."""
    net = _Network()
    inputs: Labels = [net.letter(s) for s in m_in]
    labels, coef = list(inputs), [1.0]
    for m in reversed(chain):
        labels = _through(net, m, labels, coef)
    if len(labels) != len(m_out):
        raise _Unsupported
    outputs = []
    for c in labels:
        if c is not None and c in inputs:  # the output axis equals an input axis: δ
            fresh = net.letter(net.sizes[c])
            net.factor([c, fresh], np.eye(net.sizes[c]))
            c = fresh
        outputs.append(c)
    present = set("".join(s for s, _ in net.operands))
    for c in outputs + inputs:
        if c is not None and c not in present:
            net.factor([c], np.ones(net.sizes[c]))
    out = "".join(c for c in outputs[::-1] + inputs[::-1] if c is not None)
    subs = ",".join(s for s, _ in net.operands) + "->" + out
    return coef[0], subs, [x for _, x in net.operands]


_AXES_TERMS = (BroadcastMap, ReduceMap, PermuteMap, ReshapeMap, EinsumMap)


def _moves_axes(m: LinearMap) -> bool:
    """Whether some term of ``m`` moves axes or contracts (where basis tangents are costly)."""
    return isinstance(m, _AXES_TERMS) or not m._plain or any(_moves_axes(c) for c in m.children())


def dense_by_network(m: LinearMap, out: np.ndarray) -> bool:
    """Write the dense matrix of ``m`` (column-major vec convention) into ``out`` by one
    contraction per product of its terms; False, leaving ``out`` alone, when ``m`` has no
    term that moves axes (the closed forms of the Kronecker terms serve those) or a term is
    not a network of the known kinds."""
    if not _moves_axes(m):
        return False
    try:
        terms = [(c, _term_dense(m.in_shape, m.out_shape, chain)) for c, chain in _products(m)]
    except _Unsupported:
        return False
    out[...] = 0.0
    for c, (coef, subs, operands) in terms:
        if not operands:  # no factor at all: a scalar identity
            out += c * coef
            continue
        value = cached_expression(subs, *[x.shape for x in operands])(*operands)
        out += (c * coef) * value.reshape(out.shape)
    return True


ALGEBRA.dense = dense_by_network
