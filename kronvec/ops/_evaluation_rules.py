"""Makers of evaluation rules, ``(evaluator, node) -> value``, for the op sections.

``lift(np.trace)`` applies a NumPy function to the values of a node's
arguments; ``with_node(f)`` also passes the node's parameters and shape
(:class:`NodeInfo`, what a recorded step may keep); ``constant_value`` makes
the rule of a leaf.  Evaluators record these calls (``ev.op``) so that plans
replay them.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable

import numpy as np

from ..contexts import EvaluateRule, EvaluationContext
from ..expr import Expr

__all__ = ["EvaluateRule", "lift", "NodeInfo", "with_node", "constant_value", "matrix_transpose_value"]



def lift(fn: Callable[..., Any]) -> EvaluateRule:
    """An evaluation rule applying ``fn`` to the values of the arguments."""
    def evaluate_lifted(ev: EvaluationContext, e: Expr) -> Any:
        return ev.op(fn, *[ev(a) for a in e.args])
    return evaluate_lifted


class NodeInfo:
    """The parameters and shape of a node: what a recorded step may keep of it."""

    __slots__ = ("params", "shape")

    def __init__(self, e: Expr) -> None:
        self.params, self.shape = e.params, e.shape


def with_node(fn: Callable[..., Any]) -> EvaluateRule:
    """A rule calling ``fn(NodeInfo, *argument values)``."""
    def evaluate_with_node(ev: EvaluationContext, e: Expr) -> Any:
        return ev.op(partial(fn, NodeInfo(e)), *[ev(a) for a in e.args])
    return evaluate_with_node


def _same(value: Any) -> Any:
    return value


def constant_value(make: Callable[[Expr], Any]) -> EvaluateRule:
    """A rule for a leaf whose value depends only on the node."""
    def evaluate_constant(ev: EvaluationContext, e: Expr) -> Any:
        return ev.op(partial(_same, make(e)))
    return evaluate_constant


def matrix_transpose_value(x: Any) -> Any:
    """The matrix transpose of a value: the last two axes swapped (a scalar, or a 1-D array of
    per-member scalars, is its own transpose)."""
    if type(x) is np.ndarray:  # the method: NumPy's function wrapper costs more than the swap
        return x.swapaxes(-1, -2) if x.ndim >= 2 else x
    return np.swapaxes(x, -1, -2) if np.ndim(x) >= 2 else x
