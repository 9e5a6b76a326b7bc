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

For a stack of matrices the checks are made for every member in one batched
call, and a failing member is named by its index.

An array that cannot change (not writeable, nor any array it views) is checked
once: binding the same object again skips the checks it passed (finiteness,
exact symmetry) and reuses its Cholesky factor (:data:`CHECKED`).

:meth:`Binder.quick` binds for the checks of results (:mod:`.checks`): a value of a symmetric
symbol is checked equal to its transpose bit for bit and finite (a positive definite matrix by
its Cholesky factorization, which reads every entry), and anything that would need more
(a value symmetric only to rounding, a failed Cholesky factorization) raises
:class:`~.checks.SuspectResult` for the full binding to decide and name.
"""
from __future__ import annotations

import difflib
import math
import threading
import weakref
from collections import OrderedDict
from enum import IntEnum
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import scipy.linalg as sla
from scipy.linalg import lapack

from ..errors import BindingError, ShapeError
from ..expr import Expr, describe_symbol, raise_name_clash
from ..shapes import first_member, fmt, is_scalar_shape, member_text
from .checks import SuspectResult, pivots_balanced

__all__ = ["Bound", "Binder", "symbol_table", "bind_values", "symmetric_key", "is_symmetric", "SYMMETRY_RTOL",
           "by_name", "check_dtype", "refuse_masked", "convert_value"]

SYMMETRY_RTOL = 1e-10

CHECKED: "OrderedDict[int, tuple[weakref.ref[np.ndarray], dict[str, Any]]]" = OrderedDict()
"""Read-only arrays that passed the binding checks, by ``id``: a weak reference to the array (the
entry counts only while it is the same object) and what was found: ``"kind"`` (a :class:`Kind` other
than ``POSITIVE_SCALAR``: the checks it passed) and ``"cholesky"`` (its upper factor, or factors of
a stack, for a positive definite kind).
The most recently remembered arrays are kept, at most :data:`CHECKED_SIZE`; reads take no lock.
An entry whose array died stays until it is replaced or evicted, and never matches a new array."""
CHECKED_SIZE = 64
_FLOAT64 = np.dtype(np.float64)  # the native descriptor: a value of exactly this one needs no conversion
_CHECKED_LOCK = threading.Lock()


class Kind(IntEnum):
    """What binding checks of a symbol's value.  The first three are ordered: each checks what
    the one before it does, and more (an array that passed a later one passed the earlier)."""

    PLAIN = 0  # a finite array of the symbol's shape
    SYMMETRIC = 1  # also equal to its transpose up to rounding; made exactly symmetric
    POSITIVE_DEFINITE = 2  # also a Cholesky factorization, which is kept
    POSITIVE_SCALAR = 3  # a 1×1 symbol declared positive definite: a positive number
    SYMMETRIC_STACK = 4  # a stack whose members are declared symmetric (checked per member)
    POSITIVE_DEFINITE_STACK = 5  # a stack whose members are declared positive definite


# The members as module constants, for the per-symbol loop of Binder: on Python 3.11 reading
# Kind.SYMMETRIC costs 0.15 µs, a global 0.02 µs.
_PLAIN, _SYMMETRIC, _POSITIVE_DEFINITE, _POSITIVE_SCALAR, _SYMMETRIC_STACK, _POSITIVE_DEFINITE_STACK = Kind


class Bound(dict[Expr, np.ndarray]):
    """Checked values by symbol, with the upper Cholesky factors of the values
    of symbols declared positive definite (``cholesky``) and, when the binder knows it
    without looking at the values, their :func:`symmetric_key` (``key``)."""

    def __init__(self, values: Mapping[Expr, np.ndarray] | Iterable[tuple[Expr, np.ndarray]] = (),
                 cholesky: Mapping[Expr, np.ndarray] | Iterable[tuple[Expr, np.ndarray]] = (),
                 key: frozenset[Expr] | None = None) -> None:
        super().__init__(values)
        self.cholesky: dict[Expr, np.ndarray] = dict(cholesky)
        self.key = key


def _empty_bound(key: frozenset[Expr] | None) -> Bound:
    """``Bound(key=key)``, made without the calls of its ``__init__`` (a first use makes one)."""
    bound: Bound = dict.__new__(Bound)
    bound.cholesky, bound.key = {}, key
    return bound


def symmetric_key(values: Mapping[Expr, np.ndarray]) -> frozenset[Expr]:
    """The square symbols (n > 1) whose values are exactly symmetric.

    Declared symmetric symbols are symmetric by their binding; the others are
    compared entry by entry (stopping at the first difference).
    """
    key: frozenset[Expr] | None = getattr(values, "key", None)
    if key is not None:
        return key
    return frozenset(s for s, v in values.items()
                     if v.ndim == 2 and v.shape[0] == v.shape[1] > 1
                     and (s.params.symmetric or is_symmetric(v)))


def is_symmetric(v: np.ndarray) -> bool:
    """Whether the square ``v`` equals its transpose exactly (SciPy's early-exit loop for
    large matrices, NumPy's comparison for small ones, where it has less overhead; every
    member for a stack)."""
    if v.ndim > 2:
        return bool((v == np.swapaxes(v, -1, -2)).all())
    return bool((v == v.T).all()) if v.shape[0] <= 64 else sla.issymmetric(v)


def symbol_table(exprs: Sequence[Expr]) -> dict[str, Expr]:
    """The symbols of ``exprs`` by name (two different symbols with one name are refused)."""
    symbols: dict[str, Expr] = {}
    for e in exprs:
        for name, sym in e.symbols().items():
            other = symbols.setdefault(name, sym)
            if other is not sym:
                raise_name_clash(other, sym)
    return symbols


class Binder:
    """Checks and converts values for a fixed set of symbols (made once, used per binding)."""

    def __init__(self, symbols: Mapping[str, Expr]) -> None:
        self.symbols = dict(symbols)
        self._rows: list[tuple[str, Expr, tuple[int, ...], Kind]]
        self._rows = [(name, sym, sym.shape, _kind(sym)) for name, sym in self.symbols.items()]
        square = [s for s in self.symbols.values() if len(s.shape) == 2 and s.shape[0] == s.shape[1] > 1]
        # the symmetric_key of every binding, when no square symbol is left to compare
        self._key = frozenset(square) if all(s.params.symmetric for s in square) else None

    def __call__(self, values: Mapping[str, Any]) -> Bound:
        bound = _empty_bound(self._key)
        cholesky = bound.cholesky
        try:
            for name, sym, shape, kind in self._rows:
                given = values[name]
                if CHECKED and _bound_as_checked_before(bound, sym, given, shape, kind):
                    continue
                value = convert_value(name, given, shape)
                if kind is _SYMMETRIC:
                    value = _symmetric(sym, value)
                elif kind is _POSITIVE_DEFINITE:
                    value = _symmetric(sym, value)
                    cholesky[sym] = _cholesky(sym, value)
                elif kind is _POSITIVE_SCALAR and not float(value.reshape(())) > 0:
                    raise ValueError(f"value for {describe_symbol(sym)}: not positive definite "
                                     f"({float(value.reshape(())):g} <= 0)")
                elif kind >= _SYMMETRIC_STACK:
                    value, factor = _symmetric_stack(sym, value, kind is _POSITIVE_DEFINITE_STACK)
                    if factor is not None:
                        cholesky[sym] = factor
                if kind is not _POSITIVE_SCALAR and type(given) is np.ndarray and not given.flags.writeable:
                    _remember(given, kind, cholesky.get(sym), value)
                bound[sym] = value
        except KeyError:
            self._raise_missing(values)
        return bound

    def quick(self, values: Mapping[str, Any], inputs: bool = True) -> Bound:
        """The values checked as the checks of results need (:mod:`.checks`): plain values finite
        (one dot product each), values of symmetric symbols exactly symmetric (their bytes against
        their transpose's) and finite, Cholesky factors of positive definite ones, with balanced
        pivots (:func:`~.checks.pivots_balanced`: the factorizations made from them do not check
        them again); with ``inputs=False`` only the conversion and the Cholesky factors.
        :class:`~.checks.SuspectResult` for anything the full binding (:meth:`__call__`) must
        decide: it makes the same checks and names the culprit.
        """
        bound = _empty_bound(self._key)
        cholesky = bound.cholesky
        try:
            for name, sym, shape, kind in self._rows:
                given = values[name]
                if CHECKED and _bound_as_checked_before(bound, sym, given, shape, kind, quick=True):
                    continue
                value = given.view() if type(given) is np.ndarray and given.dtype is _FLOAT64 \
                    and given.shape == shape else _as_float_array(name, given, shape).view()
                if kind is _PLAIN:  # (looks_finite, its common case written out)
                    if inputs and not (value.size <= _DOT_SUM_UP_TO and value.flags.c_contiguous
                                       and math.isfinite(value.reshape(-1).dot(_ONES[:value.size]))
                                       or looks_finite(value)):
                        raise SuspectResult(name)  # the full binding names NaN or inf (or finds none)
                elif kind is _POSITIVE_DEFINITE:
                    # (finite by the pivots of its factor; mirror_equal, its common case written out)
                    if inputs and not (value.size <= _BYTES_AT_ONCE and value.tobytes() == value.T.tobytes()
                                       or mirror_equal(value)):
                        raise SuspectResult(name)
                    c, info = lapack.dpotrf(value.T if value.flags.c_contiguous else value, lower=0, clean=1)
                    if info != 0 or not pivots_balanced(c, squared=True):
                        raise SuspectResult(name)
                    cholesky[sym] = c  # its pivots checked here: its factorization does not again
                elif kind is _POSITIVE_SCALAR:
                    if not float(value.reshape(())) > 0:  # (nor NaN)
                        raise SuspectResult(name)
                    bound[sym] = value
                    continue
                elif inputs and not _exactly_symmetric(value):  # a symmetric matrix or stack
                    raise SuspectResult(name)
                elif kind is _POSITIVE_DEFINITE_STACK:
                    try:
                        cholesky[sym] = np.linalg.cholesky(value).swapaxes(-1, -2)
                    except np.linalg.LinAlgError:
                        raise SuspectResult(name) from None
                if inputs and type(given) is np.ndarray and not given.flags.writeable:
                    _remember(given, kind, cholesky.get(sym), value)
                bound[sym] = value
        except KeyError:
            self._raise_missing(values)
        return bound

    def adding(self, bound: Bound, values: Mapping[str, Any]) -> Bound:
        """``bound`` with the checked values of this binder's symbols (a new ``Bound`` when there
        are any; ``bound`` itself is left as it is)."""
        rest = self(values)
        if not rest:
            return bound
        rest.update(bound)
        rest.cholesky.update(bound.cholesky)
        rest.key = None if rest.key is None or bound.key is None else rest.key | bound.key
        return rest

    def _raise_missing(self, values: Mapping[str, Any]) -> None:
        missing = [s for name, s in self.symbols.items() if name not in values]
        listed = ", ".join(f"{s.params.name} (shape {s.shape})" for s in missing)
        message = f"missing value{'s' if len(missing) > 1 else ''} for {listed}"
        unused = [k for k in values if k not in self.symbols]
        hints = [f"{s.params.name!r}: did you mean {close[0]!r}?" for s in missing
                 if (close := difflib.get_close_matches(s.params.name, unused, n=1, cutoff=0.5)
                     or [k for k in unused if k.lower() == s.params.name.lower()])]
        raise BindingError(message + (f" ({'; '.join(hints)})" if hints else ""))


def _exactly_symmetric(v: np.ndarray) -> bool:
    """Whether ``v`` (a matrix or a stack) is finite (its sum, :func:`looks_finite`) and equal
    to its transpose (:func:`mirror_equal`); a stack of small members in one pass, each few
    members summed while in cache.  A positive definite matrix needs only the second: the
    Cholesky factorization that follows reads every entry of the triangle it factors into its
    pivots (:func:`~.checks.pivots_balanced`), and the other triangle is the same bits."""
    if v.ndim > 2 and v.shape[-1] ** 2 <= _BYTES_AT_ONCE and v.flags.c_contiguous:
        return _members_mirror_equal(v, summed=True)
    return looks_finite(v) and mirror_equal(v)


def mirror_equal(v: np.ndarray) -> bool:
    """Whether the matrix or stack ``v`` equals its transpose bit for bit (every member of a
    stack).  Equal bits are equal numbers, NaN aside (checked apart); -0.0 against 0.0 reads
    as unequal, and the full binding then decides.

    Small members are compared as bytes with their transposed copies, at most
    :data:`_BYTES_AT_ONCE` entries at a time (one ``memcmp``; NumPy's elementwise comparison
    of a transposed view runs an inner loop per row and costs 4-5× more); a large matrix by
    SciPy's early-exit loop, which reads it once."""
    n = v.shape[-1]
    if n * n > _BYTES_AT_ONCE:
        members = v.reshape((-1, n, n))
        return all(sla.issymmetric(member) for member in members)
    if v.ndim == 2:
        return v.tobytes() == v.T.tobytes()
    return _members_mirror_equal(v, summed=False)


def _members_mirror_equal(v: np.ndarray, summed: bool) -> bool:
    """:func:`mirror_equal` for a stack of small members, a few at a time (and, when ``summed``,
    their sum finite, taken while they are in cache)."""
    n = v.shape[-1]
    members = v.reshape((-1, n, n))
    step = _BYTES_AT_ONCE // (n * n)
    total = 0.0
    for i in range(0, len(members), step):
        chunk = members[i:i + step]
        if chunk.tobytes() != chunk.swapaxes(-1, -2).tobytes():
            return False
        if summed:
            flat = chunk.reshape(-1)
            total += float(flat.dot(_ONES[:flat.size]))
    return math.isfinite(total)


_BYTES_AT_ONCE = 12288  # entries compared as bytes at once: 96 KiB, under glibc's 128 KiB mmap threshold


def looks_finite(arr: np.ndarray) -> bool:
    """Whether every entry of the float64 ``arr`` is finite: its sum, by dot products with a
    vector of ones, :data:`_DOT_SUM_UP_TO` entries at a time (BLAS: 0.25 µs against NumPy's
    0.75 µs for a sum of 100 entries, 0.7 against 1.5 ms for 4 million).  False also when the
    sum overflows (as NumPy's sum does): the caller's exact pass (``np.isfinite``), or the full
    binding, then decides."""
    if not arr.flags.forc:
        return math.isfinite(arr.sum())
    flat = arr.ravel("K")
    if flat.size <= _DOT_SUM_UP_TO:
        return math.isfinite(flat.dot(_ONES[:flat.size]))
    total = 0.0
    for start in range(0, flat.size, _DOT_SUM_UP_TO):
        part = flat[start:start + _DOT_SUM_UP_TO]
        total += float(part.dot(_ONES[:part.size]))
    return math.isfinite(total)


_DOT_SUM_UP_TO = 1 << 16
_ONES = np.ones(_DOT_SUM_UP_TO)
_ONES.flags.writeable = False


def _unchangeable(a: Any) -> bool:
    """Whether the ndarray ``a`` cannot change: neither it nor any array it views is writeable."""
    while type(a) is np.ndarray:
        if a.flags.writeable:
            return False
        a = a.base
    return a is None


def _bound_as_checked_before(bound: Bound, sym: Expr, given: Any, shape: tuple[int, ...], kind: Kind,
                             quick: bool = False) -> bool:
    """Bind ``given`` as a view (a distinct object per symbol, as a conversion makes) with the
    Cholesky factor found before, when the same read-only array passed these checks already
    (for :meth:`Binder.quick`, a factor of a matrix with balanced pivots: the quick binding
    checks them, the full one does not)."""
    passed = _passed(given)
    if passed is None or kind > passed["kind"] or given.shape != shape:
        return False
    if quick and kind is _POSITIVE_DEFINITE and not pivots_balanced(passed["cholesky"], squared=True):
        return False
    if kind is _POSITIVE_DEFINITE or kind is _POSITIVE_DEFINITE_STACK:
        bound.cholesky[sym] = passed["cholesky"]
    bound[sym] = given.view()
    return True


def _passed(given: Any) -> dict[str, Any] | None:
    """What the checks found for ``given`` when it was bound before, if it is the same object."""
    entry = CHECKED.get(id(given))
    if entry is None or entry[0]() is not given:
        return None
    return entry[1]


def _remember(given: Any, kind: Kind, cholesky: Any, value: np.ndarray) -> None:
    """Note that ``given`` passed the checks of ``kind`` (with its Cholesky factor), when it is a
    float64 ndarray that cannot change and was used unchanged (a symmetric symbol's value is kept
    only when it was exactly symmetric)."""
    if not _unchangeable(given):
        return  # writeable (or not an ndarray)
    array: np.ndarray = given
    if array.dtype != float or value.base is not array and value is not array:
        return  # converted or symmetrized: a new array each time
    key = id(array)
    with _CHECKED_LOCK:
        CHECKED[key] = (weakref.ref(array), {"kind": kind, "cholesky": cholesky})
        CHECKED.move_to_end(key)
        while len(CHECKED) > CHECKED_SIZE:
            CHECKED.popitem(last=False)


def _kind(sym: Expr) -> Kind:
    """What binding checks of ``sym``'s value, from its declared structure and shape."""
    if len(sym.shape) > 2:
        return Kind.POSITIVE_DEFINITE_STACK if sym.params.positive_definite else \
            Kind.SYMMETRIC_STACK if sym.params.symmetric else Kind.PLAIN
    square = len(sym.shape) == 2 and sym.shape[0] == sym.shape[1]
    if sym.params.positive_definite:
        return Kind.POSITIVE_DEFINITE if square and sym.shape[0] > 1 else Kind.POSITIVE_SCALAR
    return Kind.SYMMETRIC if sym.params.symmetric and square and sym.shape[0] > 1 else Kind.PLAIN


def bind_values(values: Mapping[str, Any], exprs: Sequence[Expr],
                symbols: Mapping[str, Expr] | None = None) -> Bound:
    """Check and convert the values of the symbols in ``exprs`` (or of ``symbols``)."""
    return Binder(symbols if symbols is not None else symbol_table(exprs))(values)


def by_name(what: str, values: Any, kw: Mapping[str, Any]) -> Mapping[str, Any]:
    """The values of a call such as ``kv.evaluate(F, values, **kw)``, by symbol name; a
    ``TypeError`` saying so for values given otherwise (a list, an array)."""
    if values is None:
        return kw
    if type(values) is dict or isinstance(values, Mapping):
        return {**values, **kw} if kw else values
    raise TypeError(f"{what}: pass values by symbol name, as keywords (X=X0) or a mapping ({{'X': X0}}), "
                    f"not as a {type(values).__name__}")


def check_dtype(name: str, dtype: np.dtype) -> None:
    """Refuse complex and non-numeric values for the symbol ``name`` (a ``TypeError``)."""
    if dtype.kind == "c":
        raise TypeError(f"value for {name}: complex values are not supported")
    if dtype.kind not in "biuf":
        raise TypeError(f"value for {name}: not a numeric array (dtype {dtype}); "
                        f"give real numbers, e.g. a float64 array")


def refuse_masked(name: str, value: Any) -> None:
    """A ``TypeError`` for a masked array (NumPy's, or a Dask array of them): its masked entries
    would be read as numbers."""
    if isinstance(value, np.ma.MaskedArray) or isinstance(getattr(value, "_meta", None), np.ma.MaskedArray):
        raise TypeError(f"value for {name}: a masked array; its masked entries would be read as "
                        f"numbers: pass value.filled(...) or a plain array")


def convert_value(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """The value of the symbol ``name`` as a float64 array of ``shape``, or an error naming the
    symbol (masked, ragged, complex, non-numeric, of another shape, not finite)."""
    if type(value) is np.ndarray and value.dtype is _FLOAT64 and value.shape == shape:
        arr = value  # the common case: only finiteness is left to check
    else:
        arr = _as_float_array(name, value, shape)
    if not looks_finite(arr) and not np.isfinite(arr).all():  # one pass when all is well
        raise ValueError(f"value for {name} contains NaN or inf")
    return arr.view()  # a distinct object per symbol, so recorded plans can tell them apart


def _as_float_array(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``value`` as a float64 array of ``shape`` (not yet checked finite), or an error naming
    the symbol (masked, ragged, complex, non-numeric, of another shape)."""
    if type(value) is not np.ndarray:  # a subclass, a list, a number, ...
        refuse_masked(name, value)
    try:
        arr = np.asarray(value)
    except ValueError:  # a ragged nested list
        raise ValueError(f"value for {name}: a ragged nested list (rows of different lengths), not an "
                         f"array of shape {fmt(shape)}") from None
    if arr.dtype.kind != "f":
        check_dtype(name, arr.dtype)
    arr = arr.astype(float, copy=False)
    if arr.shape != shape:
        if arr.size == math.prod(shape) and (arr.ndim == 1 and len(shape) == 2 and shape[1] == 1
                                             or is_scalar_shape(shape) and is_scalar_shape(arr.shape)):
            arr = arr.reshape(shape)
        else:
            raise ShapeError(f"value for {name}: expected shape {shape}, got {arr.shape}")
    return arr


def _symmetric(sym: Expr, value: np.ndarray) -> np.ndarray:
    """The value of a symbol declared symmetric, made exactly symmetric, or a ValueError."""
    if is_symmetric(value):
        return value
    scale = float(np.abs(value).max())
    gap = float(np.abs(value - value.T).max())
    if gap > SYMMETRY_RTOL * scale:
        raise ValueError(f"value for {describe_symbol(sym)}: not symmetric (max |V - Vᵀ| = {gap:.3g} "
                         f"for max |V| = {scale:.3g}); pass a symmetric value or declare the symbol "
                         f"without symmetric=True")
    result: np.ndarray = (value + value.T) / 2
    return result


def _symmetric_stack(sym: Expr, value: np.ndarray, definite: bool) -> tuple[np.ndarray, np.ndarray | None]:
    """A stack declared symmetric (or positive definite), checked member by member in batched
    calls and made exactly symmetric, with the upper Cholesky factors of a positive definite
    one (kept, as for a matrix); a ValueError names the first failing member."""
    flipped = np.swapaxes(value, -1, -2)
    if not (value == flipped).all():
        scale = np.abs(value).max(axis=(-2, -1))
        gap = np.abs(value - flipped).max(axis=(-2, -1))
        bad = gap > SYMMETRY_RTOL * scale
        if bad.any():
            k = first_member(bad)
            raise ValueError(f"value for {describe_symbol(sym)}: {member_text(k)} is not "
                             f"symmetric (max |V - Vᵀ| = {float(gap[k]):.3g} for max |V| = "
                             f"{float(scale[k]):.3g})")
        value = (value + flipped) / 2
    if not definite:
        return value, None
    try:
        lower = np.linalg.cholesky(value)
    except np.linalg.LinAlgError:
        lowest = np.linalg.eigvalsh(value)[..., 0]
        bad = ~(lowest > 0)
        k = first_member(bad)
        raise ValueError(f"value for {describe_symbol(sym)}: {member_text(k)} is "
                         f"not positive definite (smallest eigenvalue {float(lowest[k]):.3g})") from None
    return value, np.swapaxes(lower, -1, -2)


def _cholesky(sym: Expr, value: np.ndarray) -> np.ndarray:
    """The upper Cholesky factor of a positive definite value, or a ValueError naming the symbol."""
    c, info = lapack.dpotrf(value.T if value.flags.c_contiguous else value, lower=0, clean=1)  # = value
    if info != 0:
        raise ValueError(f"value for {describe_symbol(sym)}: not positive definite (its Cholesky "
                         f"factorization breaks down at column {info}); pass a positive definite "
                         f"value or declare the symbol symmetric=True instead")
    result: np.ndarray = c
    return result
