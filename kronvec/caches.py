"""Sharing between threads, and caches bounded by the bytes they keep alive.

Expressions, Jacobians and bound maps may be shared between threads (a Dask
threaded scheduler, a thread pool).  Work that is done once and kept is
guarded here:

* :data:`FIRST_USE` is taken, with a second look inside it, by state that an
  object builds lazily on first use (``Jacobian.at``); once built, the state
  is read without it, so later calls cost no lock.
* :class:`RecentCache` keeps the most recently used results of a pure
  function; reads take no lock (one dictionary lookup), additions do.

Expressions are interned, so recent evaluations and Jacobians are cached by
their expressions (a loop replays one recorded plan).  A key keeps its
expressions, and so their constant arrays, alive: a cache counts those bytes
(:func:`constant_bytes`) and evicts the least recently used entries once
either of its bounds is passed, so that many calls with new large constants
hold at most ``max_bytes`` of them.  An entry larger than the whole budget is
not kept.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Generic, Hashable, Iterable, TypeVar

from .expr import Expr, walk_all

__all__ = ["FIRST_USE", "RecentCache", "constant_bytes", "CACHE_BYTES"]

FIRST_USE = threading.RLock()
"""Held while an object builds the state of its first use (re-entrant: a first use may need
another object's)."""

CACHE_BYTES = 128 * 2 ** 20
"""The default byte budget of each cache: the constants its keys and values keep alive."""

V = TypeVar("V")


def constant_bytes(exprs: Iterable[Any]) -> int:
    """The bytes of the constant arrays held by the expressions (each distinct node once)."""
    return sum(int(getattr(node.params.value.array, "nbytes", 0))
               for node in walk_all(e for e in exprs if isinstance(e, Expr) and e._has_constants)
               if node.op == "const")


class RecentCache(Generic[V]):
    """The ``size`` most recently used values by key, within a byte budget, safe to share
    between threads.

    Parameters
    ----------
    size : int
        How many entries are kept; the least recently used one goes first.
    max_bytes : int
        How many bytes (as given to :meth:`add`, typically :func:`constant_bytes`
        of the key) all entries may hold together.

    Notes
    -----
    ``get`` is one lookup and a move to the end of the order, each a single
    step of the ordered dictionary that no other thread interleaves with; an
    entry evicted between the two is simply a hit this time.  ``add`` keeps
    the value already there if another thread added one for the same key, so
    every caller gets the same object.
    """

    def __init__(self, size: int, max_bytes: int = CACHE_BYTES) -> None:
        self.size, self.max_bytes = int(size), int(max_bytes)
        self._data: "OrderedDict[Hashable, tuple[V, int]]" = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        """The value for ``key`` (now the most recently used), or None."""
        hit = self._data.get(key)
        if hit is None:
            return None
        try:
            self._data.move_to_end(key)
        except KeyError:  # evicted by another thread meanwhile
            pass
        return hit[0]

    def add(self, key: Hashable, value: V, nbytes: int = 0) -> V:
        """Keep ``value`` for ``key``, holding ``nbytes``, and return the value kept (the first
        one added wins); the oldest entries past the bounds are evicted."""
        if nbytes > self.max_bytes:
            return value
        with self._lock:
            kept = self._data.get(key)
            if kept is None:
                kept = self._data[key] = (value, nbytes)
                self._bytes += nbytes
            self._data.move_to_end(key)
            while self._data and (len(self._data) > self.size or self._bytes > self.max_bytes):
                self._bytes -= self._data.popitem(last=False)[1][1]
        return kept[0]

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

    def __contains__(self, key: Any) -> bool:
        return key in self._data
