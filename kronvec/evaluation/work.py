"""What evaluating an expression adds to the evaluation of others: multiply-adds, counted."""
from __future__ import annotations

import math
from typing import Sequence

from ..expr import Expr

__all__ = ["work_beside"]


def work_beside(f: Expr, known: Sequence[Expr], budget: int = 0) -> tuple[int, int]:
    """The work ``f`` adds to an evaluation of ``known``: the most entries of a node of ``f`` not
    among ``known``, and the multiply-adds of the nodes neither among ``known`` nor below one.

    A product of an m×k and a k×n matrix costs m·k·n multiply-adds, any other node one per
    entry of its value.  When the nodes not among ``known`` cost at most ``budget`` together,
    their count is returned as it is (the nodes below ``known`` are not looked for).
    """
    given = {id(e) for e in known}
    nodes = [node for node in f.walk() if id(node) not in given]
    largest = max((math.prod(node.shape) for node in nodes), default=0)
    madds = _madds(nodes)
    if madds <= budget:  # small even with the nodes below the factors: no need to walk them
        return largest, madds
    below = {id(node) for e in known for node in e.walk()}
    return largest, _madds([node for node in nodes if id(node) not in below])


def _madds(nodes: Sequence[Expr]) -> int:
    return sum(math.prod(node.shape) * (node.args[0].shape[-1] if node.op == "matmul" and node.args[0].shape
                                        else 1) for node in nodes)
