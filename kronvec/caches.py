"""Module-level caches bounded by entries and by the bytes of the constants they keep alive.

Expressions are interned, so recent evaluations and Jacobians are cached by
their expressions (a loop replays one recorded plan).  A key keeps its
expressions, and so their constant arrays, alive: :class:`BoundedCache`
counts those bytes and evicts the least recently used entries once either
bound is passed, so that many calls with new large constants hold at most
``max_bytes`` of them.  An entry larger than the whole budget is not kept.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Hashable, Iterable

from .expr import Expr

__all__ = ["BoundedCache", "constant_bytes", "CACHE_BYTES"]

CACHE_BYTES = 128 * 2 ** 20
"""The default byte budget of each cache: the constants its keys and values keep alive."""


def constant_bytes(exprs: Iterable[Any]) -> int:
    """The bytes of the constant arrays held by the expressions (each distinct node once)."""
    total, seen = 0, set()
    for e in exprs:
        if not isinstance(e, Expr):
            continue
        for node in e.walk():
            if node.op == "const" and id(node) not in seen:
                seen.add(id(node))
                total += int(getattr(node.params.value.array, "nbytes", 0))
    return total


class BoundedCache:
    """A least-recently-used mapping with at most ``max_entries`` entries and ``max_bytes`` bytes.

    Parameters
    ----------
    max_entries : int
        How many entries are kept.
    max_bytes : int
        How many bytes (as given to :meth:`put`, typically :func:`constant_bytes`
        of the key) all entries may hold together.
    """

    def __init__(self, max_entries: int, max_bytes: int = CACHE_BYTES) -> None:
        self.max_entries, self.max_bytes = int(max_entries), int(max_bytes)
        self._data: OrderedDict[Hashable, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> Any:
        """The value for ``key`` (now the most recent), or None."""
        with self._lock:
            hit = self._data.get(key)
            if hit is None:
                return None
            self._data.move_to_end(key)
            return hit[0]

    def put(self, key: Hashable, value: Any, nbytes: int = 0) -> None:
        """Keep ``value`` for ``key``, holding ``nbytes``; evict the oldest entries past the bounds."""
        if nbytes > self.max_bytes:
            return
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._data[key] = (value, nbytes)
            self._bytes += nbytes
            while self._data and (len(self._data) > self.max_entries or self._bytes > self.max_bytes):
                self._bytes -= self._data.popitem(last=False)[1][1]

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._data.clear()
            self._bytes = 0

    @property
    def nbytes(self) -> int:
        """The bytes the entries hold together."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._data)
