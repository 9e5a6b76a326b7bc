"""Values on the Dask path, block by block: the checks of the values, where a block starts in
the whole stack, and sums over the stack that are not finite.

Kept apart from :mod:`kronvec.chunked`, which builds the Dask graphs; nothing here imports
Dask (a Dask array's own module is passed in).
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from .evaluation.binding import check_dtype, convert_value, refuse_masked
from .expr import ConstValue, Expr, substitute
from .registry import Params
from .shapes import Shape

__all__ = ["block_offset", "checked_value", "finite_sums"]


def block_offset(offsets: tuple[np.ndarray, ...]) -> tuple[int, ...]:
    """Where a block starts in the whole stack, from its blocks of the stack's indices (one array
    per stack axis, whose first entry is the block's first index)."""
    return tuple(int(o.reshape(-1)[0]) for o in offsets)


def checked_value(da: Any, name: str, v: Any, shape: Shape) -> Any:
    """A value of the Dask path for the symbol ``name`` of ``shape``: a Dask array with known
    chunks, of real numbers, or an array checked as binding checks it."""
    if type(v).__module__[:5] != "dask.":
        return convert_value(name, v, shape)
    refuse_masked(name, v)
    arr = da.asarray(v)
    if any(math.isnan(c) for c in arr.shape):
        raise ValueError(f"value for {name}: a Dask array of unknown chunk sizes (shape {arr.shape}); "
                         f"call its compute_chunk_sizes() first")
    check_dtype(name, arr.dtype)
    return arr


def finite_sums(e: Expr, values: Mapping[str, Any]) -> Expr:
    """``e`` with the sums over the stack that are not finite (−inf, the log-determinant of a
    singular member, as NumPy's) as constants: binding refuses such values for symbols."""
    infinite = {id(s): Expr.make("const", (), Params(value=ConstValue(values[n], None)), s.shape)
                for n, s in e.symbols().items()
                if n.startswith("_stack_sum") and not np.isfinite(values[n]).all()}
    return substitute(e, infinite) if infinite else e
