"""Shapes as nodes and maps hold them: ints for numbers, :class:`~kronvec.dims.Dim` for names."""
from __future__ import annotations

from typing import Any

from .dims import BASE, dim

__all__ = ["normal_shape"]

_NORMAL_SHAPES: dict[Any, tuple[Any, ...]] = {}


def normal_shape(shape: Any) -> tuple[Any, ...]:
    """``shape`` with ints for numbers and :class:`~kronvec.dims.Dim` for names (the few shapes
    in use are remembered: every node and linear map normalizes its shape when it is made)."""
    normal = _NORMAL_SHAPES.get(shape) if type(shape) is tuple else None
    if normal is None:
        normal = tuple(int(s) if s < BASE else dim(s) for s in shape)
        if len(_NORMAL_SHAPES) < 4096:
            _NORMAL_SHAPES[normal] = normal
    return normal
