"""Helpers of JVP rules, ``(node, i) -> LinearMap``: the in and out shapes of a node's
derivative in argument i (stacks broadcast), and the rules of linear and elementwise ops."""
from __future__ import annotations

from typing import Callable

from ..expr import Expr
from ..maps import ElementwiseMap, KronMap, LinearMap
from ..registry import spec
from ..shapes import Shape, is_plain, stack_of

__all__ = ["map_shapes", "stack_in_shape", "identity_jvp", "elementwise_jvp"]


def map_shapes(node: Expr, i: int) -> tuple[Shape, Shape]:
    """(shape of argument i, shape of the node): a map's in and out shapes.

    For a node over stacks whose argument i has fewer (or size-1) stack axes
    than the node, the in shape is that argument broadcast to the node's
    stack axes (:func:`stack_in_shape`); :func:`kronvec.derivative.partial`
    composes the map with the broadcast of the argument.
    """
    arg = node.args[i]
    if arg.shape == node.shape or is_plain(arg.shape) and is_plain(node.shape):
        return arg.shape, node.shape
    if arg.ndim >= 3 and arg.shape[:-2] == node.shape:  # per-member scalars, any number of stack axes
        return arg.shape, node.shape
    return stack_in_shape(node, i), node.shape


def stack_in_shape(node: Expr, i: int) -> Shape:
    """Argument i's shape broadcast to the node: the node's whole shape for an elementwise
    argument (``(...)`` in the signature, or a term of a sum), else the node's stack axes
    followed by the argument's matrix (or scalar) axes."""
    arg = node.args[i]
    sig = spec(node.op).signature
    arrays = [a for a in sig.alternatives[0].args if a.kind in ("array", "any")] if sig is not None else []
    if node.op == "add" or (i < len(arrays) and arrays[i].kind == "any"):
        return node.shape
    core = arg.shape[-2:] if arg.ndim >= 2 else ()
    return stack_of(node.shape) + tuple(core)


def identity_jvp(node: Expr, i: int) -> LinearMap:
    """d(node) = d(argument i): linear ops that map tangents as they map values."""
    return KronMap(None, None, *map_shapes(node, i))


def elementwise_jvp(derivative: Callable[[Expr], Expr]) -> Callable[[Expr, int], LinearMap]:
    """The JVP f'(A) ⊙ dA of an elementwise function, with f'(A) = ``derivative(node)``."""
    def elementwise_map(node: Expr, i: int) -> LinearMap:
        return ElementwiseMap(derivative(node), node.args[0].shape, node.shape)
    return elementwise_map
