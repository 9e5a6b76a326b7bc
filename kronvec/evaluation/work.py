"""What evaluating an expression adds to the evaluation of others: multiply-adds, counted."""
from __future__ import annotations

import math
from typing import Sequence

from ..expr import Expr

__all__ = ["work_beside"]


def work_beside(f: Expr, known: Sequence[Expr]) -> tuple[int, int]:
    """The work ``f`` adds to an evaluation of ``known``: the most entries of a node of ``f`` not
    among ``known``, and the multiply-adds of the nodes neither among ``known`` nor below one.

    A product of an m×k and a k×n matrix costs m·k·n multiply-adds, any other node one per
    entry of its value.
    """
    given = {id(e) for e in known}
    below = {id(node) for e in known for node in e.walk()}
    largest = madds = 0
    for node in f.walk():
        if id(node) in given:
            continue
        entries = math.prod(node.shape)
        largest = max(largest, entries)
        if id(node) not in below:
            madds += entries * (node.args[0].shape[-1] if node.op == "matmul" and node.args[0].shape else 1)
    return largest, madds
