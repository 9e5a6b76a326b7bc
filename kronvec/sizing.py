"""Binding sizes given as names: values fix them, one symbolic result serves every size.

An expression whose symbols have named sizes (``kv.Matrix("X", ("n", "m"))``)
is derived and printed without numbers.  When values are bound
(``kv.evaluate``, ``J.at``, a function of ``kv.lambdify``), the sizes are read
from the values (:func:`read_sizes`, which names the dimension and both
sources of a conflict), substituted into the expression (:func:`with_sizes`,
the same DAG with numbers for names) and the sized expression is evaluated as
any other.  The sized objects are kept per size set (:class:`PerSizes`), so a
second binding at the same sizes costs what binding a sized expression costs.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Generic, Hashable, Iterable, Mapping, Sequence, TypeVar

import numpy as np

from .dims import (BASE, Dim, Unified, has_minimum, letters_for, linear_form, polynomial, size_of_polynomial,
                   size_text, substitute_shape)
from .errors import BindingError, ShapeError
from .expr import Expr, raise_name_clash
from . import registry
from .maps.base import LinearMap
from .maps.nodes import ComposeMap
from .maps.structured import VechMap
from .maps.terms import KronTMap
from .registry import Params
from .shapes import fmt

__all__ = ["named_symbols", "read_sizes", "with_sizes", "PerSizes", "sizes_text",
           "sized_derivative", "sized_jacobian", "per_sizes", "resolved", "refuse_unfixed",
           "inferred_as", "bound_elsewhere"]

V = TypeVar("V")


def named_symbols(symbols: Iterable[Expr]) -> bool:
    """Whether any of the symbols has a size given as a name."""
    return any(s >= BASE for sym in symbols for s in sym.shape)


def _value_shape(value: Any) -> tuple[int, ...]:
    shape = getattr(value, "shape", None)
    return tuple(int(s) for s in shape) if shape is not None else tuple(np.shape(value))


def read_sizes(what: str, symbols: Mapping[str, Expr], given: Mapping[str, Any],
               required: bool = True) -> dict[int, int]:
    """The number each named size stands for, read from the values ``given`` by symbol name.

    Raises
    ------
    BindingError
        A symbol has no value (the message lists them with their shapes).
    ShapeError
        A value whose number of axes differs from its symbol's, a size that is
        not positive, or two values that give one name two numbers:
        ``n is 5 from X (5, 3) but 6 from V (6, 6)``.
    """
    missing = [s for name, s in symbols.items() if name not in given] if required else []
    if missing:
        listed = ", ".join(f"{s.params.name} (shape {fmt(s.shape)})" for s in missing)
        raise BindingError(f"{what}: missing value{'s' if len(missing) > 1 else ''} for {listed}")
    sizes: dict[int, int] = {}
    source: dict[int, tuple[str, tuple[int, ...]]] = {}
    sums: list[tuple[int, int, str, tuple[int, ...]]] = []  # sizes such as m + k, solved last
    computed: list[tuple[int, int, str, tuple[int, ...]]] = []  # sizes such as min(n, m), checked
    for name, sym in symbols.items():
        if name not in given or not any(s >= BASE for s in sym.shape):
            continue
        shape = _value_shape(given[name])
        if len(shape) != len(sym.shape):
            raise ShapeError(f"{what}: the value of {name} has shape {shape}, but {name} is "
                             f"{fmt(sym.shape)}")
        for declared, size in zip(sym.shape, shape):
            if declared < BASE:
                continue  # a number: the binding checks it
            terms = polynomial(int(declared))
            if has_minimum(int(declared)):
                computed.append((int(declared), size, name, shape))
                continue
            if terms is not None and sum(1 for k in terms if k) > 1:
                sums.append((int(declared), size, name, shape))
                continue
            key, size = _atom(int(declared), size)  # n + 1 is 5: n is 4
            if size < 1:
                raise ShapeError(f"{what}: {size_text(int(declared))} is {size} from {name} {shape}, "
                                 f"which is no size")
            known = sizes.setdefault(key, size)
            if known != size:
                first, first_shape = source[key]
                letters = letters_for(sym.shape)
                raise ShapeError(f"{size_text(key, '', letters)} is {known} from {first} {first_shape} "
                                 f"but {size} from {name} {shape}")
            source.setdefault(key, (name, shape))
    _solve_sums(sums, sizes)
    _check_computed(computed, sizes)
    return sizes


def _check_computed(computed: list[tuple[int, int, str, tuple[int, ...]]], sizes: dict[int, int]) -> None:
    """Sizes such as min(n, m) (the rank of an SVD) that values give: each is checked against
    its number at the sizes the other values fixed (a name they do not fix is left to the binding)."""
    for declared, size, name, shape in computed:
        known = substitute_shape((declared,), sizes)[0]
        if known < BASE and known != size:
            raise ShapeError(f"{size_text(declared)} is {known} ({sizes_text(sizes)}) but {size} from "
                             f"{name} {shape}")


def _solve_sums(sums: list[tuple[int, int, str, tuple[int, ...]]], sizes: dict[int, int]) -> None:
    """Sizes read from values whose declared sizes are sums of names (``m + k`` is 5): each sum
    with one name unknown, and that name in no product, gives it; the others are checked."""
    pending = list(sums)
    while pending:
        left = []
        for declared, size, name, shape in pending:
            terms = polynomial(declared) or {}
            unknown = {n for k in terms for n in k if int(Dim(n)) not in sizes}
            if len(unknown) == 1 and (next(iter(unknown)),) in terms \
                    and sum(1 for k in terms if next(iter(unknown)) in k) == 1:
                atom = next(iter(unknown))
                coef = terms.pop((atom,))
                rest = size - int(size_of_polynomial(terms, lambda n: sizes[int(Dim(n))]))
                if rest % coef or rest // coef < 1:
                    raise ShapeError(f"{size_text(declared)} is {size} from {name} {shape}, which gives "
                                     f"{atom} no size (the other sizes: {sizes_text(sizes)})")
                sizes[int(Dim(atom))] = rest // coef
            elif not unknown:
                known = int(size_of_polynomial(terms, lambda n: sizes[int(Dim(n))]))
                if known != size:
                    used = {int(Dim(n)) for monomial in terms for n in monomial}
                    mentioned = {k: v for k, v in sizes.items() if k in used}
                    raise ShapeError(f"{size_text(declared)} is {known} ({sizes_text(mentioned)}) but "
                                     f"{size} from {name} {shape}")
            else:
                left.append((declared, size, name, shape))
        if len(left) == len(pending):
            return  # sizes that the values do not fix: the binding says which symbols to give
        pending = left


def _atom(declared: int, size: int) -> tuple[int, int]:
    """The name a declared size stands on and its number: c·n + d of ``size`` gives n, or the
    declared size itself when it is not of that form."""
    names, number, offset = linear_form(declared)
    if len(names) == 1 and (size - offset) % number == 0:
        return int(Dim(names[0])), (size - offset) // number
    return declared, size


def sizes_text(sizes: Mapping[int, int]) -> str:
    """``n = 4, m = 3``."""
    return ", ".join(f"{size_text(k)} = {v}" for k, v in sizes.items())


def _sized_param(value: Any, sizes: Mapping[int, int]) -> Any:
    if isinstance(value, range) and max(abs(value.start), abs(value.stop)) >= BASE // 2:
        return range(*(_sized_position(v, sizes) for v in (value.start, value.stop, value.step)))
    if isinstance(value, tuple) and any(isinstance(v, int) and v >= BASE for v in value):
        return substitute_shape(value, sizes)
    if isinstance(value, int) and value >= BASE:
        return substitute_shape((value,), sizes)[0]
    return value


def _sized_position(value: int, sizes: Mapping[int, int]) -> int:
    """A position or bound on an axis whose size is a name (n - 1, n + 1), at the sizes."""
    if abs(value) < BASE // 2:
        return value
    sized = int(substitute_shape((abs(value),), sizes)[0])
    return sized if value > 0 else -sized


def with_sizes(roots: Sequence[Expr], sizes: Mapping[int, int]) -> list[Expr]:
    """The expressions with every named size replaced by its number in ``sizes`` (names not in
    ``sizes`` stay): the same DAG, node for node, with numeric shapes."""
    memo: dict[int, Expr] = {}
    for root in roots:
        for node in root.walk():
            if id(node) in memo:
                continue
            args = tuple(memo[id(a)] for a in node.args)
            shape = substitute_shape(node.shape, sizes) if any(s >= BASE for s in node.shape) else node.shape
            params = node.params
            if any(isinstance(v, (int, tuple, range)) for v in params.values()):
                params = Params(**{k: _sized_param(v, sizes) for k, v in params})
            if shape == node.shape and all(a is b for a, b in zip(args, node.args)) \
                    and params == node.params:
                memo[id(node)] = node
            else:
                memo[id(node)] = Expr.make(node.op, args, params, shape)
                if node.op in ("index", "place"):
                    _check_positions(node, memo[id(node)])
    return [memo[id(r)] for r in roots]


def _check_positions(named: Expr, sized: Expr) -> None:
    """A ``ShapeError`` when an index (or a placement) reaches past an axis at the bound sizes:
    ``X[3, :]`` of an (n, m) X bound with n = 2 has no entry to take."""
    base = sized.args[0].shape if sized.op == "index" else sized.shape
    named_base = named.args[0].shape if named.op == "index" else named.shape
    for axis, positions in enumerate((sized.params.rows, sized.params.cols)):
        size = (base or (1, 1))[axis]
        ends = sorted((positions[0], positions[-1])) if len(positions) else (0, 0)
        if not 0 <= ends[0] <= ends[1] < size:
            raise ShapeError(f"{named.op}: positions {positions[0]} to {positions[-1]} of an axis of size "
                             f"{size_text((named_base or (1, 1))[axis])} = {size}: past its end; the index "
                             f"needs a larger size (or the sizes as numbers)")


def inferred_as(other: Expr | None, wrt: Expr) -> Expr:
    """``other`` (the symbol of ``wrt``'s name inside an expression) when ``wrt`` is that symbol
    with sizes left to inference, else ``wrt``."""
    if other is None or other is wrt:
        return wrt
    try:
        raise_name_clash(other, wrt)
    except Unified:
        return other
    except ShapeError:
        pass
    return wrt


def per_sizes(expr: Expr, lmap: Any) -> "PerSizes[Any] | None":
    """A cache of sized copies for a derivative of ``expr`` whose sizes are names, else None."""
    if any(s >= BASE for shape in (lmap.in_shape, lmap.out_shape) for s in shape) \
            or named_symbols(expr._symbols.values()):
        return PerSizes()
    return None


def sized_jacobian(J: Any, sizes: Mapping[int, int], jacobian: Callable[[Expr, Expr], Any]) -> Any:
    """The derivative ``J`` at the numbers ``sizes`` for its names: derived from the sized expression
    (``jacobian``), transposed and composed with structural maps as J is."""
    derived = jacobian(J.expr, J.wrt).map
    derived = derived.T if J.adjoint else derived
    outer: list[LinearMap] = []
    inner: list[LinearMap] = []
    if derived is not J.map and str(derived) != str(J.map):  # J composed with another map
        outer, inner = _structural_around(J.map, derived)
    f, wrt = with_sizes([J.expr, J.wrt], sizes)
    sized = jacobian(f, wrt)
    sized = sized.T if J.adjoint else sized
    for m in reversed(inner):
        sized = sized @ _resized(m, sizes)
    for m in reversed(outer):
        sized = _resized(m, sizes) @ sized
    return sized


def sized_derivative(J: Any, given: Mapping[str, Any], jacobian: Callable[[Expr, Expr], Any],
                     share: Callable[[Any, Mapping[int, int]], Any] | None = None) -> LinearMap:
    """The derivative ``J`` bound at the values ``given``: J with the sizes they fix, derived once per
    size set (:func:`sized_jacobian`; ``share(sized, sizes)`` gives it the plans recorded at other
    size sets), then bound."""
    symbols = {**J.expr._symbols, J.wrt.params.name: J.wrt}
    sizes = read_sizes("J.at", symbols, given, required=False)
    made = (lambda: share(sized_jacobian(J, sizes, jacobian), sizes)) if share is not None \
        else (lambda: sized_jacobian(J, sizes, jacobian))
    sized = J._per_sizes.get(sizes, made)
    if sized._per_sizes is not None:
        unfixed = [f"{name} {fmt(s.shape)}" for name, s in symbols.items()
                   if name not in given and any(d >= BASE for d in s.shape)]
        raise ShapeError(f"J.at: the values do not fix every size of the derivative; give values for "
                         f"{', '.join(unfixed) or 'the symbols whose sizes are names'}")
    bound: LinearMap = sized.at(given)
    return bound


def _structural_around(composed: LinearMap, derived: LinearMap) -> tuple[list[LinearMap], list[LinearMap]]:
    """(L, R) with ``composed`` = L∘derived∘R for structural maps L and R (``kv.duplication(n)``,
    ``kv.elimination(n)``, ``kv.commutation(m, n)`` and their transposes), found as the chain of
    a derivative composed with them; a ``ShapeError`` when ``composed`` is not such a chain."""
    chain = composed.maps if isinstance(composed, ComposeMap) else [composed]
    core = derived.maps if isinstance(derived, ComposeMap) else [derived]
    for start in range(len(chain) - len(core) + 1):
        outer, inner = list(chain[:start]), list(chain[start + len(core):])
        if all(a is b or str(a) == str(b) for a, b in zip(chain[start:], core)) \
                and all(_structural(m) for m in outer + inner):
            return outer, inner
    raise ShapeError("J.at: a derivative with sizes given as names composed with maps other than "
                     "kv.duplication, kv.elimination and kv.commutation cannot be bound; bind each "
                     "derivative, then compose the bound maps (J1.at(...) @ J2.at(...))")


def _structural(m: LinearMap) -> bool:
    return isinstance(m, VechMap) or isinstance(m, KronTMap) and m.A is None and m.B is None


def _resized(m: LinearMap, sizes: Mapping[int, int]) -> LinearMap:
    """A structural map (:func:`_structural`) with the numbers ``sizes`` for its names."""
    if isinstance(m, VechMap):
        return type(m)(substitute_shape((m.n,), sizes)[0])  # type: ignore[call-arg]
    return KronTMap(None, None, substitute_shape(m.in_shape, sizes), substitute_shape(m.out_shape, sizes))


def refuse_unfixed(exprs: Sequence[Expr]) -> None:
    """A ``ShapeError`` for expressions whose shapes hold names when none of their symbols does
    (nothing bound to them can fix the sizes); None otherwise."""
    for e in exprs:
        if any(s >= BASE for s in e.shape):
            raise ShapeError(f"kv.evaluate: the sizes {fmt(e.shape)} are names that no symbol of the "
                             f"expression fixes; build it with numbers, or with a symbol of those sizes")
    return None


def bound_elsewhere(J: Any, given: Mapping[str, Any], jacobian: Callable[[Expr, Expr], Any],
                    chunked_at: Callable[[Any, Mapping[str, Any]], Any] | None,
                    share: Callable[[Any, Mapping[int, int]], Any] | None = None) -> LinearMap:
    """``J.at(given)`` where J's own plans do not serve: with sizes given as names (J derived at
    the sizes the values fix, :func:`sized_derivative`, sharing plans through ``share``), or with
    Dask values (``chunked_at``)."""
    if J._per_sizes is not None or chunked_at is None:
        return sized_derivative(J, given, jacobian, share)
    bound: LinearMap = chunked_at(J, given)
    return bound


class PerSizes(Generic[V]):
    """Objects made for one size set each (a few size sets at a time, the most recent kept)."""

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._data: dict[Hashable, V] = {}
        self._lock = threading.Lock()

    def get(self, sizes: Mapping[int, int], make: Callable[[], V]) -> V:
        key = tuple(sorted(sizes.items()))
        hit = self._data.get(key)
        if hit is not None:
            return hit
        value = make()
        with self._lock:
            hit = self._data.setdefault(key, value)
            while len(self._data) > self.size:
                self._data.pop(next(iter(self._data)))
        return hit


def resolved(x: Any) -> Any:
    """``x`` (an expression, or a tuple, list or dict of them) with inferred sizes resolved."""
    if isinstance(x, Expr):
        return with_sizes([x], {})[0]
    if isinstance(x, (tuple, list)):
        return type(x)(resolved(v) for v in x)
    if isinstance(x, dict):
        return {k: resolved(v) for k, v in x.items()}
    return x


registry.RESOLVE = resolved
