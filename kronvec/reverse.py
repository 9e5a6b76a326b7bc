"""Reverse accumulation: gradients of a scalar in many variables by one backward sweep.

For a scalar f the sweep visits the expression DAG once, parents before
children, and gives every node u that depends on a requested variable its
cotangent ū = ∂f/∂u as an *expression*:

    f̄ = 1,    ū = Σ_{nodes v that use u} (∂v/∂u)ᵀ v̄,

where ∂v/∂u is the op's JVP rule (:func:`kronvec.derivative.partial`) and its
adjoint (``.T``, a structured map with expression factors) is applied to the
expression v̄ symbolically.  A node's cotangent is built once and shared by
every variable below it, as an AD tape shares it, so the gradients of an
L-layer program in all its parameters cost O(L) rule applications, not O(L²).
Because the cotangents are expressions, the gradient can be differentiated
again (a Hessian is the Jacobian of the gradient).
"""
from __future__ import annotations

from typing import Callable, Sequence

from . import expr as E
from .maps import LinearMap
from .ops.arithmetic import add as add_expr
from .ops.leaves import ones

__all__ = ["cotangents", "forward_is_cheap", "RULE_APPLICATIONS"]

# How many adjoint rules the sweeps have applied (read by the tests of the sweep's cost).
RULE_APPLICATIONS = [0]


def _edge_ranks(f: E.Expr) -> dict[tuple[int, int], int]:
    """The rank of each edge (node, i) in a depth-first walk from ``f`` taking arguments in order.

    The rank of (v, i) orders the lexicographically first path from f to v
    followed by argument i; forward accumulation sums its terms in the order
    of these paths, so summing a node's contributions in this order keeps
    the printed forms of gradients as forward accumulation writes them.
    """
    ranks: dict[tuple[int, int], int] = {}
    seen = {id(f)}
    stack: list[tuple[E.Expr, int]] = [(f, 0)]
    while stack:
        node, i = stack.pop()
        if i == len(node.args):
            continue
        stack.append((node, i + 1))
        ranks[(id(node), i)] = len(ranks)
        arg = node.args[i]
        if id(arg) not in seen:
            seen.add(id(arg))
            stack.append((arg, 0))
    return ranks


def _dependents(order: Sequence[E.Expr], variables: set[E.Expr]) -> set[E.Expr]:
    """The nodes of ``order`` (children first) that depend on one of ``variables``."""
    depends: set[E.Expr] = set()
    for node in order:
        if node in variables or any(a in depends for a in node.args):
            depends.add(node)
    return depends


def forward_is_cheap(f: E.Expr, variables: Sequence[E.Expr], ratio: float = 2.0,
                     budget: int = 64) -> bool:
    """Whether one forward derivation per variable costs at most about ``ratio`` × one sweep.

    Forward accumulation in V visits the nodes that depend on V; the reverse
    sweep visits the nodes that depend on any variable once.  With Dᵥ the
    nodes depending on V, forward costs Σᵥ|Dᵥ| rule applications and
    reverse |∪ᵥ Dᵥ|.  Forward is kept when Σᵥ|Dᵥ| ≤ max(ratio·|∪ᵥ Dᵥ|, budget):
    it is then within a constant factor of reverse and its gradients are
    the single-variable ones, term for term (forward sums print expanded,
    as a hand derivation writes them).  Counted in one pass with a bit mask
    of the variables below each node.
    """
    bit = {v: 1 << k for k, v in enumerate(variables)}
    masks: dict[E.Expr, int] = {}
    forward = union = 0
    for node in f.walk():
        mask = bit.get(node, 0)
        for a in node.args:
            mask |= masks.get(a, 0)
        if mask:
            masks[node] = mask
            forward += mask.bit_count()
            union += 1
    return forward <= max(ratio * union, budget)


def _first(pair: tuple[int, E.Expr]) -> int:
    return pair[0]


def cotangents(f: E.Expr, variables: Sequence[E.Expr],
               partial: Callable[[E.Expr, int], LinearMap]) -> dict[E.Expr, E.Expr]:
    """The cotangent ∂f/∂V of the scalar ``f`` in each of ``variables`` (absent when f does not use V).

    Parameters
    ----------
    f : Expr
        A scalar expression without display names.
    variables : sequence of Expr
        The symbols to differentiate by.
    partial : callable
        ``partial(node, i)``, the map ∂node/∂node.args[i] (the JVP rule).

    Returns
    -------
    dict
        Each variable that f depends on, mapped to the expression ū with
        df = Σ tr(ūᵀ du) in the shapes of the maps (before the gradient's
        final shape and symmetry are fixed by the caller).

    Notes
    -----
    Contributions to a node's cotangent are collected in a list and summed
    once, when the sweep reaches the node (all its users come earlier in the
    reverse topological order), so each node's sum is built once.
    """
    order = f.walk()
    wanted = set(variables)
    depends = _dependents(order, wanted)
    if f not in depends:
        return {}
    ranks = _edge_ranks(f)
    pending: dict[E.Expr, list[tuple[int, E.Expr]]] = {f: [(0, ones(f.shape))]}
    result: dict[E.Expr, E.Expr] = {}
    for node in reversed(order):
        parts = pending.pop(node, None)
        if parts is None:
            continue
        bar = parts[0][1] if len(parts) == 1 else add_expr(*[e for _, e in sorted(parts, key=_first)])
        if node in wanted:
            result[node] = bar
        for i, arg in enumerate(node.args):
            if arg in depends:
                RULE_APPLICATIONS[0] += 1
                pending.setdefault(arg, []).append((ranks[(id(node), i)], partial(node, i).T._apply(bar)))
    return result
