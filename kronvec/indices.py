"""Basic indexing of matrices: keys normalised to ranges, and ranges printed as slices.

kronvec follows NumPy's basic indexing (integers and slices, with steps and
negative indices) with one difference: vectors are ``(n, 1)`` columns, so an
index that NumPy answers with a 1-D array gives a column or a row here::

    X[i, j]      ()          an entry
    X[:, j]      (n, 1)      a column
    X[i, :]      (1, m)      a row
    X[a:b, c:d]  (b-a, d-c)  a block (steps and negative bounds as NumPy)
    x[i]         ()          an entry of an (n, 1) vector
    X[a:b]       (b-a, m)    rows, as NumPy's ``X[a:b]``

Every key becomes two Python ``range`` objects (the rows and the columns
taken, non-negative and in order), which is what the index nodes and the
selection maps store: ranges compare and hash by the sequence they stand for,
so ``X[-1, :]`` and ``X[n-1, :]`` are one node.  Fancy indexing (lists,
arrays, booleans), ``...`` and ``None`` raise an ``IndexError`` saying so.
"""
from __future__ import annotations

import math
import numbers
import operator
from typing import Any

import numpy as np

from .dims import BASE, size_text
from .errors import ShapeError
from .shapes import Shape, fmt

__all__ = ["normalize_key", "range_text", "key_text", "as_slice", "as_range", "Ranges", "is_named_range",
           "positions_in", "within", "disjoint"]

Ranges = tuple[range, range]

_FANCY = ("kronvec supports basic indexing only: integers and slices such as X[i, j], X[:, j] "
          "or X[1:3, ::2]")


def _integer(value: Any, where: str) -> int:
    """``value`` as an index (``operator.index``), refusing booleans and non-integers."""
    if isinstance(value, (bool, np.bool_)):
        raise IndexError(f"{where}: a boolean is not an index ({_FANCY})")
    if isinstance(value, (list, tuple, np.ndarray)):
        raise IndexError(f"{where}: fancy indexing with {type(value).__name__}s is not supported "
                         f"({_FANCY})")
    if value is Ellipsis or value is None:
        raise IndexError(f"{where}: {'...' if value is Ellipsis else 'None (np.newaxis)'} is not "
                         f"supported ({_FANCY})")
    try:
        return operator.index(value)
    except TypeError:
        kind = "a non-integer number" if isinstance(value, numbers.Number) else type(value).__name__
        raise IndexError(f"{where}: {kind} ({value!r}) is not an index ({_FANCY})") from None


def _axis(part: Any, size: int, axis: int, where: str) -> tuple[range, bool]:
    """(the positions taken on one axis, whether the axis was taken by an integer)."""
    if isinstance(part, slice):
        bounds = [None if b is None else _integer(b, where) for b in (part.start, part.stop, part.step)]
        if bounds[2] == 0:
            raise ValueError(f"{where}: slice step cannot be zero")
        taken = range(size)[slice(*bounds)]
        if size >= BASE and abs(taken.step) > 1 and len(taken) > 1:
            name = size_text(size)
            raise ShapeError(f"{where}: the number of entries a step of {taken.step} takes from axis {axis} "
                             f"of size {name} depends on {name} modulo {abs(taken.step)}, which the name "
                             f"{name} does not say (the sizes are names); give the sizes as numbers, or "
                             f"take steps of 1 or -1")
        return taken, False
    i = _integer(part, where)
    if not -size <= i < size:
        raise IndexError(f"{where}: index {i} is out of bounds for axis {axis} with size {size}")
    return range(i % size, i % size + 1), True


def normalize_key(key: Any, shape: Shape, what: str = "index") -> tuple[range, range, Shape]:
    """(rows, cols, result shape) of ``X[key]`` for X of ``shape``.

    Parameters
    ----------
    key : int, slice, or a tuple of one or two of them
        As in NumPy's basic indexing.
    shape : (int, int)
        The shape of the matrix indexed.
    what : str
        How errors name the operation (e.g. ``X[5, 0]``).

    Raises
    ------
    IndexError
        For an index out of range, too many indices, fancy indexing, ``...``
        or ``None``, and for ``X[i]`` of a matrix with more than one column
        (write ``X[i, :]``).
    ShapeError
        When the selection is empty.
    """
    if len(shape) != 2:
        kind = "a scalar" if len(shape) < 2 else "a stack of matrices (only matrices are indexed)"
        raise IndexError(f"{what}: cannot index {kind} (shape {fmt(shape)})")
    n, m = shape
    parts = key if isinstance(key, tuple) else (key,)
    if len(parts) > 2:
        raise IndexError(f"{what}: too many indices for a matrix of shape {fmt(shape)}: "
                         f"{len(parts)} were given")
    if len(parts) == 1 and not isinstance(parts[0], slice):
        _integer(parts[0], what)  # fancy keys are named as such first
        if m != 1:
            raise IndexError(f"{what}: a single integer indexes an (n, 1) vector; write X[i, :] "
                             f"for a row or X[i, j] for an entry")
        parts = (parts[0], 0)
    elif len(parts) == 1:
        parts = (parts[0], slice(None))
    (rows, row_int), (cols, col_int) = (_axis(p, size, axis, what)
                                        for axis, (p, size) in enumerate(zip(parts, shape)))
    if not len(rows) or not len(cols):
        raise ShapeError(f"{what}: the selection of shape {fmt((len(rows), len(cols)))} from "
                         f"{fmt(shape)} is empty; kronvec matrices have at least one row and column")
    out: Shape = () if row_int and col_int else (len(rows), len(cols))
    return rows, cols, out


def range_text(r: range, size: int, as_int: bool) -> str:
    """The slice that takes ``r`` from an axis of ``size``: ``:``, ``1:3``, ``::-1``, or ``2``
    when ``as_int`` and ``r`` has one entry."""
    if as_int and len(r) == 1:
        return size_text(r[0])
    if r == range(size):
        return ":"
    step = r.step if len(r) > 1 else 1
    start, last = r[0], r[-1]
    stop = last + step
    start_text = "" if (step > 0 and start == 0) or (step < 0 and start == size - 1) else size_text(start)
    stop_text = "" if (step > 0 and stop >= size) or (step < 0 and stop < 0) else size_text(stop)
    return f"{start_text}:{stop_text}" + ("" if step == 1 else f":{step}")


def key_text(rows: range, cols: range, base: Shape, scalar: bool) -> str:
    """The key of an index node as written: ``1:3, 0``, ``i`` for an entry of a vector, ...

    An axis of one entry is written as an integer unless that would make a
    1×1 block a scalar (then both are slices).  A column vector's entries and
    row ranges are written with one index (``x[2]``, ``x[1:3]``).
    """
    n, m = base
    as_int = scalar or not (len(rows) == 1 and len(cols) == 1)
    if m == 1 and (scalar or len(rows) > 1 or not as_int):
        return range_text(rows, n, scalar or len(rows) == 1 and as_int)
    return f"{range_text(rows, n, as_int)}, {range_text(cols, m, as_int)}"


def as_slice(r: range) -> slice:
    """The slice taking the positions ``r`` (for NumPy indexing)."""
    return slice(r.start, r.stop if r.stop >= 0 else None, r.step)


def as_range(positions: Any) -> range:
    """An arithmetic progression of integers (an array) as a range."""
    p = [int(x) for x in np.asarray(positions).reshape(-1)]
    if len(p) == 1:
        return range(p[0], p[0] + 1)
    step = p[1] - p[0]
    r = range(p[0], p[-1] + step, step)
    if step == 0 or list(r) != p:
        raise ValueError(f"positions {p} are not an arithmetic progression")
    return r


# ------------------------------------------- positions whose sizes are names
def is_named_range(r: range) -> bool:
    """Whether a range runs over positions of an axis whose size is a name (n, n + 1, ...)."""
    return max(abs(r.start), abs(r.stop)) >= BASE // 2


def positions_in(a: range, b: range) -> range:
    """The indices i, as a range, of the entries a[i] that ``b`` holds (without listing them).

    a[i] = a₀ + i·s lies in b = {b₀ + j·t} when i·s ≡ b₀ − a₀ (mod t): with g = gcd(s, t) that
    is i ≡ i₀ (mod t/g), within the bounds of b."""
    if not len(a) or not len(b):
        return range(0)
    b = b if b.step > 0 else b[::-1]
    if a.step < 0:
        found = positions_in(a[::-1], b)
        last = len(a) - 1
        return range(last - found[-1], last - found[0] + 1, found.step) if len(found) else found
    s, t = a.step, b.step
    g = math.gcd(s, t)
    if (b[0] - a[0]) % g:
        return range(0)
    period = t // g
    i0 = ((b[0] - a[0]) // g) * pow(s // g, -1, period) % period if period > 1 else 0
    lo = max(0, -((a[0] - b[0]) // s))
    hi = min(len(a) - 1, (b[-1] - a[0]) // s)
    first = lo + (i0 - lo) % period
    return range(first, hi + 1, period) if first <= hi else range(0)


def within(inner: range, outer: range) -> range | None:
    """The positions, within ``outer``, of the entries of ``inner`` (None unless all are in it)."""
    if not len(inner) or len(positions_in(inner, outer)) != len(inner):
        return None
    first = outer.index(inner[0])
    step = (outer.index(inner[1]) - first) if len(inner) > 1 else 1
    return range(first, first + step * len(inner), step)


def disjoint(a: range, b: range) -> bool:
    """Whether two ranges share no entry."""
    return not len(positions_in(a, b))
