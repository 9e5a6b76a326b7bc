"""Rules chosen by the types of the maps they apply to (as in CoLA): the lookups of the
type tables of :mod:`kronvec.maps.algebra`, along the maps' class hierarchies."""
from __future__ import annotations

from typing import Any, Callable, Optional, TypeVar

from .base import LinearMap

__all__ = ["Rule", "rule_for_type", "rule_for_pair"]

Rule = Callable[[Any, Any], Optional[LinearMap]]
"""A rule of a table by a pair of map types: ``(outer, inner) -> map``, or None where it does
not apply."""

RuleOfType = TypeVar("RuleOfType")  # the rules of a table by one map's type


def rule_for_type(table: dict[type, RuleOfType], m: LinearMap) -> RuleOfType | None:
    """The rule for the most specific class of ``m`` in ``table``, or None."""
    for kind in type(m).__mro__:
        if kind in table:
            return table[kind]
    return None


def rule_for_pair(table: dict[tuple[type, type], Rule], outer: LinearMap, inner: LinearMap) -> Rule | None:
    """The most specific rule for the pair of types (along both class hierarchies).

    Remembered per table and pair of types (a block Hessian composes hundreds of thousands
    of pairs, and each search tries up to |MRO|² keys), and looked up again when the table
    has grown since.
    """
    key = (id(table), type(outer), type(inner))
    known = _PAIRS.get(key)
    if known is not None and known[0] is table and known[1] == len(table):
        return known[2]
    found = None
    for o in type(outer).__mro__:
        for i in type(inner).__mro__:
            found = table.get((o, i))
            if found is not None:
                break
        if found is not None:
            break
    _PAIRS[key] = (table, len(table), found)  # the table itself too: its id is never reused
    return found


_PAIRS: dict[tuple[int, type, type], tuple[dict[tuple[type, type], Rule], int, Rule | None]] = {}
