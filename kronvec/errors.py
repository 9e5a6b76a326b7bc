"""Exceptions raised by kronvec.

Every error names what went wrong in the user's terms: the operation and both
shapes for a mismatch, the symbol and its shape for a missing value, the
sub-expression for a singular matrix, the size for a refused materialisation.
"""
from __future__ import annotations

import numpy as np

__all__ = ["ShapeError", "BindingError", "MaterializationError", "DegenerateError"]


class ShapeError(ValueError):
    """Shapes that do not fit an operation, e.g. ``matmul: (4, 3) and (2, 5)``."""


class BindingError(KeyError, ValueError):
    """A symbol's value is missing (or two symbols share a name).

    ``KeyError`` quotes its message when printed; this class prints it plainly.
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class MaterializationError(MemoryError, ValueError):
    """A dense result would exceed the allowed size; the message says how big
    and how to allow it (``to_dense(max_bytes=...)``)."""


class DegenerateError(np.linalg.LinAlgError):
    """A derivative that does not exist at this point, such as the derivative of
    eigenvectors at a repeated eigenvalue; the message names the repeated value
    and the gap."""
