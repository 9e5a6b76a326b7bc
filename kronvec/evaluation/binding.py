"""Binding values to symbols: every value is checked and converted once.

Values are looked up by symbol name; a missing one raises ``BindingError``
listing every missing name with its shape (and the close names that were
given instead), a wrongly shaped one ``ShapeError``, and NaN, inf, complex,
object or non-numeric values are refused.  Declared structure is checked
here too:

* a symbol declared ``symmetric`` needs a value equal to its transpose up to
  rounding (relative 1e-10); it is then made exactly symmetric, (V + Vᵀ)/2;
* a symbol declared ``positive_definite`` also needs a Cholesky factorization
  to succeed; the factor is kept (:attr:`Bound.cholesky`) and reused by every
  solve, inverse and determinant of that symbol.
"""
from __future__ import annotations

import difflib
import math
from typing import Any, Mapping, Sequence

import numpy as np
import scipy.linalg as sla
from scipy.linalg import lapack

from ..errors import BindingError, ShapeError
from ..expr import Expr, describe_symbol, raise_name_clash
from ..shapes import is_scalar_shape

__all__ = ["Bound", "symbol_table", "bind_values", "symmetric_key", "SYMMETRY_RTOL"]

SYMMETRY_RTOL = 1e-10


class Bound(dict):
    """Checked values by symbol, with the upper Cholesky factors of the values
    of symbols declared positive definite (``cholesky``)."""

    def __init__(self, values: Mapping[Expr, np.ndarray] = (), cholesky: Mapping[Expr, np.ndarray] = ()):
        super().__init__(values)
        self.cholesky: dict[Expr, np.ndarray] = dict(cholesky)


def symmetric_key(values: Mapping[Expr, np.ndarray]) -> frozenset:
    """The square symbols (n > 1) whose values are exactly symmetric.

    Declared symmetric symbols are symmetric by their binding; the others are
    compared entry by entry (stopping at the first difference).
    """
    return frozenset(s for s, v in values.items()
                     if v.ndim == 2 and v.shape[0] == v.shape[1] > 1
                     and (s.params.symmetric or sla.issymmetric(v)))


def symbol_table(exprs: Sequence[Expr]) -> dict[str, Expr]:
    """The symbols of ``exprs`` by name (two different symbols with one name are refused)."""
    symbols: dict[str, Expr] = {}
    for e in exprs:
        for name, sym in e.symbols().items():
            other = symbols.setdefault(name, sym)
            if other is not sym:
                raise_name_clash(other, sym)
    return symbols


def bind_values(values: Mapping[str, Any], exprs: Sequence[Expr],
                symbols: Mapping[str, Expr] | None = None) -> Bound:
    """Check and convert the values of the symbols in ``exprs`` (or of ``symbols``)."""
    if symbols is None:
        symbols = symbol_table(exprs)
    missing = [s for name, s in symbols.items() if name not in values]
    if missing:
        listed = ", ".join(f"{s.params.name} (shape {s.shape})" for s in missing)
        message = f"missing value{'s' if len(missing) > 1 else ''} for {listed}"
        unused = [k for k in values if k not in symbols]
        hints = [f"{s.params.name!r}: did you mean {close[0]!r}?" for s in missing
                 if (close := difflib.get_close_matches(s.params.name, unused, n=1, cutoff=0.5)
                     or [k for k in unused if k.lower() == s.params.name.lower()])]
        raise BindingError(message + (f" ({'; '.join(hints)})" if hints else ""))
    bound = Bound()
    for name, sym in symbols.items():
        value = _convert(name, values[name], sym.shape)
        if sym.params.symmetric and value.ndim == 2 and value.shape[0] > 1:
            value = _symmetric(sym, value)
            if sym.params.positive_definite:
                bound.cholesky[sym] = _cholesky(sym, value)
        elif sym.params.positive_definite and value.size == 1 and not float(value.reshape(())) > 0:
            raise ValueError(f"value for {describe_symbol(sym)}: not positive definite "
                             f"({float(value.reshape(())):g} <= 0)")
        bound[sym] = value
    return bound


def _convert(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(value)
    if np.iscomplexobj(arr):
        raise TypeError(f"value for {name}: complex values are not supported")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"value for {name}: not a numeric array (dtype {arr.dtype}); "
                        f"give real numbers, e.g. a float64 array")
    arr = arr.astype(float, copy=False)
    if arr.shape != shape:
        if arr.size == math.prod(shape) and (arr.ndim == 1 and len(shape) == 2 and shape[1] == 1
                                             or is_scalar_shape(shape) and is_scalar_shape(arr.shape)):
            arr = arr.reshape(shape)
        else:
            raise ShapeError(f"value for {name}: expected shape {shape}, got {arr.shape}")
    if not np.isfinite(arr.sum()) and not np.isfinite(arr).all():  # one pass when all is well
        raise ValueError(f"value for {name} contains NaN or inf")
    return arr.view()  # a distinct object per symbol, so recorded plans can tell them apart


def _symmetric(sym: Expr, value: np.ndarray) -> np.ndarray:
    """The value of a symbol declared symmetric, made exactly symmetric, or a ValueError."""
    if sla.issymmetric(value):
        return value
    scale = float(np.abs(value).max())
    gap = float(np.abs(value - value.T).max())
    if gap > SYMMETRY_RTOL * scale:
        raise ValueError(f"value for {describe_symbol(sym)}: not symmetric (max |V - Vᵀ| = {gap:.3g} "
                         f"for max |V| = {scale:.3g}); pass a symmetric value or declare the symbol "
                         f"without symmetric=True")
    return (value + value.T) / 2


def _cholesky(sym: Expr, value: np.ndarray) -> np.ndarray:
    """The upper Cholesky factor of a positive definite value, or a ValueError naming the symbol."""
    c, info = lapack.dpotrf(value.T if value.flags.c_contiguous else value, lower=0, clean=1)  # = value
    if info != 0:
        raise ValueError(f"value for {describe_symbol(sym)}: not positive definite (its Cholesky "
                         f"factorization breaks down at column {info}); pass a positive definite "
                         f"value or declare the symbol symmetric=True instead")
    return c
