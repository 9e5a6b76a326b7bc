"""Pickling objects that keep caches and locks: the state without them.

Bound maps and Jacobians keep what they set up on first use (an
eigendecomposition as a closure, a compiled evaluation plan) and may hold
locks; neither pickles, and neither is part of what the object is.
:func:`portable_state` is an object's ``__dict__`` with every cache reset to
its empty value and every lock left out (noted by name);
:func:`restore_state` puts that state back with new locks, so the caches are
rebuilt lazily after unpickling, exactly as on a new object.
"""
from __future__ import annotations

import copy
import threading
from typing import Any, Callable, Mapping

__all__ = ["portable_state", "restore_state"]

_LOCK_TYPES: dict[type, Callable[[], Any]] = {type(threading.Lock()): threading.Lock,
                                              type(threading.RLock()): threading.RLock}
_LOCK_KINDS: dict[Callable[[], Any], str] = {threading.Lock: "lock", threading.RLock: "rlock"}
_MAKE_LOCK = {"lock": threading.Lock, "rlock": threading.RLock}
_LOCKS_KEY = "__kronvec_locks__"


def portable_state(obj: Any, caches: Mapping[str, Any]) -> dict[str, Any]:
    """``obj.__dict__`` with the attributes named in ``caches`` reset to (a copy of) the empty
    value given there, and its locks replaced by a note of their names and kinds.

    Examples
    --------
    >>> class Cached:
    ...     def __init__(self):
    ...         self.data, self._memo, self._lock = [1, 2], lambda: 3, threading.Lock()
    >>> sorted(portable_state(Cached(), {"_memo": None}).items())
    [('__kronvec_locks__', (('_lock', 'lock'),)), ('_memo', None), ('data', [1, 2])]
    """
    state = dict(obj.__dict__)
    locks = []
    for name, value in obj.__dict__.items():
        make = _LOCK_TYPES.get(type(value))
        if make is not None:
            locks.append((name, _LOCK_KINDS[make]))
            del state[name]
    for name, empty in caches.items():
        if name in state:
            state[name] = copy.copy(empty)
    if locks:
        state[_LOCKS_KEY] = tuple(locks)
    return state


def restore_state(obj: Any, state: Mapping[str, Any]) -> None:
    """Set ``obj``'s attributes from a :func:`portable_state`, with new locks where it had some."""
    state = dict(state)
    for name, kind in state.pop(_LOCKS_KEY, ()):
        state[name] = _MAKE_LOCK[kind]()
    obj.__dict__.update(state)
