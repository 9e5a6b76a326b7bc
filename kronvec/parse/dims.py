"""The vocabulary of shape inference: dimension variables in a union-find, the
type of a matrix-valued node, and deferred constraints."""
from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Callable, Union

__all__ = ["Conflict", "Dims", "Matrix", "Type", "Deferred"]


class Conflict(Exception):
    """Two dimensions that must be equal have different known sizes."""


class Dims:
    """Union-find over dimension variables; a class may carry a known size."""

    def __init__(self) -> None:
        self.parent: list[int] = []
        self.known: list[int | None] = []

    def new(self, size: int | None = None) -> int:
        self.parent.append(len(self.parent))
        self.known.append(size)
        return len(self.parent) - 1

    def find(self, var: int) -> int:
        root = var
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[var] != root:
            self.parent[var], var = root, self.parent[var]
        return root

    def size(self, var: int) -> int | None:
        return self.known[self.find(var)]

    def unify(self, a: int, b: int) -> bool:
        """Make ``a`` and ``b`` equal; whether anything changed (Conflict if both known and unequal)."""
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        sa, sb = self.known[ra], self.known[rb]
        if sa is not None and sb is not None and sa != sb:
            raise Conflict(sa, sb)
        self.parent[rb] = ra
        self.known[ra] = sa if sa is not None else sb
        return True

    def bind(self, var: int, size: int) -> bool:
        root = self.find(var)
        if self.known[root] is not None and self.known[root] != size:
            raise Conflict(self.known[root], size)
        changed = self.known[root] is None
        self.known[root] = size
        return changed

    def snapshot(self) -> tuple[list[int], list[int | None]]:
        return list(self.parent), list(self.known)

    def restore(self, state: tuple[list[int], list[int | None]]) -> None:
        self.parent, self.known = list(state[0]), list(state[1])


@dataclass(frozen=True)
class Matrix:
    """The type of a matrix-valued node; ``scalar`` marks scalars by construction (tr, det, ...)."""

    rows: int
    cols: int
    scalar: bool = False


Type = Union[Matrix, None]  # None: a Python number


@dataclass
class Deferred:
    """A constraint applied once enough sizes are known; ``apply`` returns whether it changed anything."""

    apply: Callable[[], bool]
    where: ast.AST | None
    message: Callable[[], str]
    default: Callable[[], None] | None = None  # what to assume when nothing else decides it
    done: bool = False
