"""Sharing between threads: a bounded cache of recent results and the lock for first use.

Expressions, Jacobians and bound maps may be shared between threads (a Dask
threaded scheduler, a thread pool).  Work that is done once and kept is
guarded here:

* :data:`FIRST_USE` is taken, with a second look inside it, by state that an
  object builds lazily on first use (``Jacobian.at``); once built, the state
  is read without it, so later calls cost no lock.
* :class:`RecentCache` keeps the most recently used results of a pure
  function; reads take no lock (one dictionary lookup), additions do.
"""
from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Generic, Hashable, TypeVar

__all__ = ["FIRST_USE", "RecentCache"]

FIRST_USE = threading.RLock()
"""Held while an object builds the state of its first use (re-entrant: a first use may need
another object's)."""

V = TypeVar("V")


class RecentCache(Generic[V]):
    """The ``size`` most recently used values by key, safe to share between threads.

    Parameters
    ----------
    size : int
        How many entries are kept; the least recently used one goes first.

    Notes
    -----
    ``get`` is one lookup and a move to the end of the order, each a single
    step of the ordered dictionary that no other thread interleaves with; an
    entry evicted between the two is simply a hit this time.  ``add`` keeps
    the value already there if another thread added one for the same key, so
    every caller gets the same object.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._data: "OrderedDict[Hashable, V]" = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        """The value for ``key`` (now the most recently used), or None."""
        hit = self._data.get(key)
        if hit is not None:
            try:
                self._data.move_to_end(key)
            except KeyError:  # evicted by another thread meanwhile
                pass
        return hit

    def add(self, key: Hashable, value: V) -> V:
        """Keep ``value`` for ``key`` and return the value kept (the first one added wins)."""
        with self._lock:
            kept = self._data.setdefault(key, value)
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)
        return kept

    def clear(self) -> None:
        with self._lock:
            self._data.clear()

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: Any) -> bool:
        return key in self._data
