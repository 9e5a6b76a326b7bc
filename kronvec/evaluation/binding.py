"""Binding values to symbols: every value is checked and converted once.

Values are looked up by symbol name; a missing one raises ``BindingError``
listing every missing name with its shape, a wrongly shaped one
``ShapeError``, and NaN, inf, complex or non-numeric values are refused.
"""
from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from ..errors import BindingError, ShapeError
from ..expr import Expr
from ..shapes import is_scalar_shape

__all__ = ["symbol_table", "bind_values", "symmetric_key"]


def symmetric_key(values: Mapping[Expr, np.ndarray]) -> frozenset:
    """The square symbols (n > 1) whose values are exactly symmetric."""
    return frozenset(s for s, v in values.items()
                     if v.ndim == 2 and v.shape[0] == v.shape[1] > 1 and np.array_equal(v, v.T))


def symbol_table(exprs: Sequence[Expr]) -> dict[str, Expr]:
    """The symbols of ``exprs`` by name (two different symbols with one name are refused)."""
    symbols: dict[str, Expr] = {}
    for e in exprs:
        for name, sym in e.symbols().items():
            other = symbols.setdefault(name, sym)
            if other is not sym:
                raise BindingError(f"two different symbols are named {name!r}: shapes "
                                   f"{other.shape} and {sym.shape}")
    return symbols


def bind_values(values: Mapping[str, Any], exprs: Sequence[Expr],
                symbols: Mapping[str, Expr] | None = None) -> dict[Expr, np.ndarray]:
    """Check and convert the values of the symbols in ``exprs`` (or of ``symbols``)."""
    if symbols is None:
        symbols = symbol_table(exprs)
    missing = [s for name, s in symbols.items() if name not in values]
    if missing:
        listed = ", ".join(f"{s.params.name} (shape {s.shape})" for s in missing)
        raise BindingError(f"missing value{'s' if len(missing) > 1 else ''} for {listed}")
    bound: dict[Expr, np.ndarray] = {}
    for name, sym in symbols.items():
        bound[sym] = _convert(name, values[name], sym.shape)
    return bound


def _convert(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(value)
    if np.iscomplexobj(arr):
        raise TypeError(f"value for {name}: complex values are not supported")
    try:
        arr = arr.astype(float, copy=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"value for {name}: not a numeric array ({exc})") from None
    if arr.shape != shape:
        if arr.size == math.prod(shape) and (arr.ndim == 1 and len(shape) == 2 and shape[1] == 1
                                             or is_scalar_shape(shape) and is_scalar_shape(arr.shape)):
            arr = arr.reshape(shape)
        else:
            raise ShapeError(f"value for {name}: expected shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"value for {name} contains NaN or inf")
    return arr.view()  # a distinct object per symbol, so recorded plans can tell them apart
