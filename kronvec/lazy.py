"""Third-party modules loaded on first use, not when kronvec is imported: the one place
where kronvec imports a module by name.

``scipy.sparse.linalg`` (for ``LinearOperator``) alone costs about half of the
time of importing NumPy and ``scipy.linalg``; ``scipy.special`` and ``opt_einsum``
are needed only by a few operations; Dask, JAX and torch are optional extras.
Two forms, both for third-party modules only (kronvec's own modules are imported
by ``import`` statements at the top of each module, so that the import graph is
plain to read and to check; :func:`optional_module` refuses them):

* a :class:`LazyModule` stands for a module at module level and imports it on
  its first attribute access::

      sparse_linalg = LazyModule("scipy.sparse.linalg")
      ...
      sparse_linalg.LinearOperator(shape, matvec=...)   # imported here, once

  Each attribute read is then stored on the stand-in, so later reads are plain
  attribute lookups.
* :func:`optional_module` imports an optional extra when a feature needs it,
  with an ``ImportError`` that names the extra to install.

``tests/test_registry.py::test_modules_are_imported_by_name_only_here`` checks
that no other module imports by name.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

__all__ = ["LazyModule", "optional_module"]


def _third_party(name: str) -> str:
    """``name``, or a ``ValueError`` if it names a module of kronvec (or a relative one)."""
    if name.startswith(".") or name.split(".", 1)[0] == "kronvec":
        raise ValueError(f"{name!r} is a module of kronvec: import it by an import statement at the top of "
                         f"the module that needs it")
    return name


class LazyModule:
    """The third-party module ``name``, imported when one of its attributes is first read.

    Parameters
    ----------
    name : str
        The absolute module name, e.g. ``"scipy.special"``.
    """

    def __init__(self, name: str) -> None:
        self._name = _third_party(name)

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("__"):  # copy, pickle and introspection probes do not import
            raise AttributeError(attr)
        value = getattr(importlib.import_module(self._name), attr)
        setattr(self, attr, value)
        return value

    def __repr__(self) -> str:
        return f"<module {self._name!r}, imported on first use>"


def optional_module(name: str, extra: str, needed_by: str) -> ModuleType:
    """The third-party module ``name`` of the optional extra ``kronvec[extra]``, imported now.

    Parameters
    ----------
    name : str
        The absolute module name, e.g. ``"dask.array"``.
    extra : str
        The extra that installs it (``pip install "kronvec[extra]"``).
    needed_by : str
        What needs it, for the message (``"Dask values"``).

    Raises
    ------
    ImportError
        The module is not installed; the message names the extra.
    """
    try:
        return importlib.import_module(_third_party(name))
    except ImportError as err:
        raise ImportError(f"{needed_by} needs {name}, which is not installed: "
                          f"pip install \"kronvec[{extra}]\" ({err})") from err
