"""Shapes: the small vocabulary every layer shares.

A shape is a tuple of ints: ``()`` for a scalar, ``(r, c)`` for a matrix.
Scalars may also be ``(1, 1)`` matrices; both count as scalar.  Internally a
tangent of shape ``()`` is handled as ``(1, 1)`` (:func:`as2d`).
"""
from __future__ import annotations

from typing import Any

Shape = tuple[int, ...]

__all__ = ["Shape", "fmt", "is_scalar_shape", "as2d", "same_shape", "human_bytes"]


def fmt(shape: Any) -> str:
    """A shape as the user writes it, e.g. ``(4, 3)``."""
    return str(tuple(shape))


def is_scalar_shape(shape: Any) -> bool:
    """True for ``()`` and ``(1, 1)``."""
    return tuple(shape) in ((), (1, 1))


def as2d(shape: Shape) -> tuple[int, int]:
    """The matrix shape a tangent of ``shape`` is handled as (``()`` → ``(1, 1)``)."""
    return (int(shape[0]), int(shape[1])) if len(shape) == 2 else (1, 1)


def same_shape(a: Shape, b: Shape) -> bool:
    """Equal shapes, counting ``()`` and ``(1, 1)`` as the same scalar shape."""
    return tuple(a) == tuple(b) or (is_scalar_shape(a) and is_scalar_shape(b))


def human_bytes(nbytes: float) -> str:
    """``1.5 GiB`` and the like."""
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.1f} {unit}" if unit != "bytes" else f"{int(nbytes)} bytes"
        nbytes /= 1024
    return f"{nbytes:.1f} PiB"
