"""Counting the LAPACK routines that kronvec calls through ``scipy.linalg.lapack``."""
from __future__ import annotations

from typing import Any

from scipy.linalg import lapack


def count_lapack_calls(monkeypatch: Any, names: tuple[str, ...]) -> list[str]:
    """Wrap each routine of ``names`` in ``scipy.linalg.lapack`` for the test; the returned list
    gets a routine's name at each of its calls."""
    calls: list[str] = []
    for name in names:
        original = getattr(lapack, name)

        def counted(*args: Any, _name: str = name, _original: Any = original, **kwargs: Any) -> Any:
            calls.append(_name)
            return _original(*args, **kwargs)
        monkeypatch.setattr(lapack, name, counted)
    return calls
