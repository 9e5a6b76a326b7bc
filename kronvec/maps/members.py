"""Per-member scalars of stacks with any number of stack axes.

A scalar-valued function f of each member of a stack ``(b₁, …, b_k, n, m)`` has the
derivative H ↦ (tr(C_I H_I) · M)_I, one rank-one :class:`~kronvec.maps.terms.TraceMap` per
member I.  With one stack axis the result ``(b,)`` is per-member scalars, the form a
``TraceMap`` acts in; with several stack axes the result ``(b₁, …, b_k)`` is the same
numbers in C order, so the map is

    reshape_{(b,) → (b₁, …, b_k)} ∘ TraceMap(C♭, M) ∘ reshape_{(b₁, …, b_k, n, m) → (b, n, m)},

with b = b₁⋯b_k and C♭ the members of C in the same C order (a C shared by every member
stays as it is).  The reshapes only relabel axes: no member is coupled to another.
"""
from __future__ import annotations

import math
from typing import Any

from .. import registry
from ..expr import Expr
from ..shapes import Shape
from .algebra import compose
from .axes import ReshapeMap
from .base import LinearMap
from .terms import TraceMap

__all__ = ["member_trace_map"]


def _flat_members(C: Any, count: int) -> Any:
    """The members of the factor C of a stack, in one stack axis of ``count`` members (an
    identity ``None`` or a factor shared by every member, of two axes, stays)."""
    if C is None or not isinstance(C, Expr) or C.ndim <= 2:
        return C
    return registry.function("c_order_reshape")(C, (count,) + tuple(C.shape[-2:]))


def member_trace_map(C: Any, M: Any, in_shape: Shape, out_shape: Shape) -> LinearMap:
    """H ↦ tr(C H) · M member by member, from a stack ``in_shape`` = stack + (n, m) to its
    per-member scalars ``out_shape`` (a scalar, ``(b,)``, or ``(b₁, …, b_k)``).

    Parameters
    ----------
    C : factor of shape ``stack + (m, n)``, ``(m, n)`` (shared) or None (the identity).
    M : the scalar factor (per member or shared).
    in_shape, out_shape : the shapes of the argument and of the per-member scalars.
    """
    stack = tuple(in_shape[:-2])
    if len(stack) < 2 or tuple(out_shape) != stack:
        return TraceMap(C, M, in_shape, out_shape)
    count = math.prod(stack)
    flat_in = (count,) + tuple(in_shape[-2:])
    if isinstance(M, Expr) and M.shape == stack:
        M = registry.function("c_order_reshape")(M, (count,))
    inner = TraceMap(_flat_members(C, count), M, flat_in, (count,))
    return compose(ReshapeMap((count,), stack), inner, ReshapeMap(tuple(in_shape), flat_in))
