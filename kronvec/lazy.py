"""Heavy modules loaded on first use, not when kronvec is imported.

``scipy.sparse.linalg`` (for ``LinearOperator``) alone costs about half of the
time of importing NumPy and ``scipy.linalg``; ``scipy.special`` and ``opt_einsum``
are needed only by a few operations.  A :class:`LazyModule` stands for such a
module at module level and imports it on its first attribute access::

    sparse_linalg = LazyModule("scipy.sparse.linalg")
    ...
    sparse_linalg.LinearOperator(shape, matvec=...)   # imported here, once

Each attribute read is then stored on the stand-in, so later reads are plain
attribute lookups.
"""
from __future__ import annotations

import importlib
from typing import Any

__all__ = ["LazyModule"]


class LazyModule:
    """The module ``name``, imported when one of its attributes is first read.

    Parameters
    ----------
    name : str
        The absolute module name, e.g. ``"scipy.special"``.
    """

    def __init__(self, name: str) -> None:
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):  # copy, pickle and introspection probes do not import
            raise AttributeError(attr)
        value = getattr(importlib.import_module(self._name), attr)
        setattr(self, attr, value)
        return value

    def __repr__(self) -> str:
        return f"<module {self._name!r}, imported on first use>"
