"""Sizes given as names: ``kv.Matrix("X", ("n", "m"))``.

A named dimension is a :class:`Dim`, an ``int`` whose value is a sentinel: a
distinct prime above ``BASE`` = 2⁴⁰ for each name.  Every piece of shape code
keeps working unchanged: equal names compare equal, two different names never
do (names are rigid), a name is never 1 (it never broadcasts), and a size
computed from names (``vec`` of an n×m matrix has n·m entries, ``kron``
multiplies sizes) is an int that factors uniquely back into the names, so it
prints as ``nm``.  No real axis has 2⁴⁰ entries, so a size at or above
``BASE`` is always a name or a product of names.

An *inferred* dimension (``kv.Matrix("X")`` leaves its sizes to be inferred)
is a free dimension: it unifies with any other size (:func:`resolve`), and
prints with the first free letter of n, m, p, q, r, k.

The prime of a name is derived from the name itself (a hash, then the next
prime), so a pickled expression means the same sizes in every process.
"""
from __future__ import annotations

import hashlib
import itertools
import math
import threading
from contextvars import ContextVar
from typing import Any, Callable, Iterable, Mapping, Sequence

from .errors import ShapeError
from .primes import is_prime

__all__ = ["polynomial", "size_of_polynomial", "Unified", "unify", "has_free", "BASE", "Dim",
           "dim", "free_dim", "is_named", "is_free", "has_names", "size_text", "factor_names", "resolve",
           "find", "substitute_shape", "LETTERS", "letters_for", "linear_form", "minimum_of", "has_minimum"]

BASE = 2 ** 40
"""Sizes at or above this are names or products of names (no real axis is this long)."""

LETTERS = ("n", "m", "p", "q", "r", "k")
"""The letters inferred dimensions print with, in order of appearance."""
_ORDER = {letter: k for k, letter in enumerate(LETTERS)}  # min(n, m), min(m, k): in this order
LETTERING: ContextVar[Mapping[int, str] | None] = ContextVar("kronvec_free_letters", default=None)
"""The letters of the free dimensions of what is being printed (:func:`letters_for`), if any."""

_LOCK = threading.Lock()
_NAME_OF: dict[int, str] = {}   # prime -> name
_PRIME_OF: dict[str, int] = {}  # name -> prime
_FREE_PREFIX = "?"
_free_counter = itertools.count(1)
_PARENT: dict[int, int] = {}    # union-find over free dimensions: free prime -> what it became
_MIN_PREFIX = "min⟨"
_MINIMA: dict[int, tuple[int, int]] = {}  # the prime of min(a, b) -> (a, b)


def _prime_for(name: str) -> int:
    """The prime that stands for ``name`` (registered on first use)."""
    prime = _PRIME_OF.get(name)
    if prime is not None:
        return prime
    with _LOCK:
        prime = _PRIME_OF.get(name)
        if prime is None:
            digest = int.from_bytes(hashlib.sha256(name.encode()).digest()[:4], "big")
            prime = BASE + (digest << 7) + 1
            while not is_prime(prime) or prime in _NAME_OF:
                prime += 2
            _NAME_OF[prime] = name
            _PRIME_OF[name] = prime
            if name.startswith(_MIN_PREFIX):  # min(a, b), as pickled: its two sizes are in the name
                _MINIMA[prime] = tuple(int(v) for v in name[len(_MIN_PREFIX):-1].split(","))  # type: ignore
    return prime


class Dim(int):
    """A size given as a name (or a product of names): an int whose value stands for it.

    ``Dim("n")`` is the dimension n; ``repr`` and ``str`` give the name (``n*m``
    for a product).  Arithmetic gives plain ints, which :func:`size_text` prints
    with the names again.
    """

    def __new__(cls, name: Any) -> "Dim":
        if isinstance(name, str):
            if not (name.isidentifier() or name.startswith((_FREE_PREFIX, _MIN_PREFIX))):
                raise ValueError(f"a dimension name must be an identifier, got {name!r}")
            return super().__new__(cls, _prime_for(name))
        return super().__new__(cls, int(name))

    @property
    def name(self) -> str:
        return size_text(int(self))

    def __repr__(self) -> str:
        return size_text(int(find(self)), "*")  # an inferred size as what it was unified with

    __str__ = __repr__

    @property
    def free(self) -> bool:
        """Whether this is an inferred dimension (it unifies with any other)."""
        return is_free(self)

    def __reduce__(self) -> tuple[Any, ...]:
        terms = polynomial(int(self))
        if terms is not None and len(terms) > 1 or terms is None:
            return (_dim_polynomial, (tuple(terms.items()) if terms else ((((), int(self)),)),))
        factors, number = factor_names(int(self))
        return (_dim_product, (tuple(factors), number))

    # Arithmetic of sizes stays a size: a sum of names (m + k, the width of an hstack) is
    # recorded as the polynomial it is, so that it prints and binds as one.
    def __add__(self, other: Any) -> Any:
        return _combined(self, other, 1) if isinstance(other, int) else int.__add__(self, other)

    __radd__ = __add__

    def __sub__(self, other: Any) -> Any:
        return _combined(self, other, -1) if isinstance(other, int) else int.__sub__(self, other)

    def __rsub__(self, other: Any) -> Any:
        return _combined(other, self, -1) if isinstance(other, int) else int.__rsub__(self, other)

    def __mul__(self, other: Any) -> Any:
        return _multiplied(self, other) if isinstance(other, int) else int.__mul__(self, other)

    __rmul__ = __mul__


def _dim_product(names: tuple[str, ...], number: int) -> Dim:
    return Dim(number * math.prod(_prime_for(name) for name in names))


def _dim_polynomial(terms: tuple[tuple[tuple[str, ...], int], ...]) -> Any:
    return size_of_polynomial(dict(terms))


def dim(size: Any) -> Any:
    """A dimension as a shape holds it: a name becomes a :class:`Dim`, a number an int."""
    if isinstance(size, (str, Dim)):
        return size if isinstance(size, Dim) else Dim(size)
    size = int(size)
    return Dim(size) if size >= BASE else size


def free_dim() -> Dim:
    """A fresh inferred dimension (a size left to inference, resolved by unification)."""
    return Dim(f"{_FREE_PREFIX}{next(_free_counter)}")


def is_named(size: Any) -> bool:
    """Whether a size is a name or a product of names (not a number)."""
    return bool(size >= BASE)


def is_free(size: Any) -> bool:
    """Whether a size is an inferred (free) dimension."""
    return size >= BASE and _NAME_OF.get(int(size), "").startswith(_FREE_PREFIX)


def has_names(*shapes: Iterable[Any]) -> bool:
    """Whether any of the shapes holds a named size."""
    return any(s >= BASE for shape in shapes for s in shape)


_FACTORS: dict[int, tuple[tuple[str, ...], int]] = {}


def factor_names(value: int) -> tuple[list[str], int]:
    """The names whose product (times a number) a size is: ``n·m`` → (["n", "m"], 1)."""
    cached = _FACTORS.get(value)
    if cached is not None:
        return list(cached[0]), cached[1]
    names: list[str] = []
    rest = value
    if value >= BASE:
        for prime in sorted(_NAME_OF):
            if prime > rest:
                break
            while rest % prime == 0:
                names.append(_NAME_OF[prime])
                rest //= prime
    if len(_FACTORS) < 65536:
        _FACTORS[value] = (tuple(names), rest)
    return names, rest


def linear_form(value: int) -> tuple[list[str], int, int]:
    """(names, c, d) with value = c·∏names + d for a small offset d (n + 1 and the like); no
    names when a size is not of that form."""
    for offset in (0, 1, -1, 2, -2, 3, -3, 4, -4):
        names, number = factor_names(value - offset)
        if names and number < BASE:
            return names, number, offset
    return [], value, 0


def letters_for(dims: Iterable[Any]) -> dict[int, str]:
    """Letters for the free dimensions among ``dims``, in order of appearance: the first of
    n, m, p, q, r, k that no named dimension among ``dims`` uses (then n₂, m₂, ...)."""
    dims = list(dims)
    used = {name for d in dims if d >= BASE for name in _names_in(int(d))
            if not name.startswith(_FREE_PREFIX)}
    out: dict[int, str] = {}
    pool = (letter + suffix for suffix in ("", "2", "3", "4") for letter in LETTERS)
    for d in dims:
        for name in _names_in(int(d)) if d >= BASE else ():
            prime = _PRIME_OF[name]
            if name.startswith(_FREE_PREFIX) and prime not in out:
                letter = next(pool)
                while letter in used:
                    letter = next(pool)
                out[prime] = letter
    return out


def _names_of(value: int) -> list[str]:
    """The names a size is made of, in order (those of each term of a sum)."""
    names, rest = factor_names(value)
    if rest >= BASE:
        terms = polynomial(value) or {}
        names = list(dict.fromkeys(name for monomial in terms for name in monomial))
    return names


def _names_in(value: int) -> list[str]:
    """The names a size is made of, in order (those of each term of a sum, those of a and b for
    min(a, b))."""
    names = _names_of(value)
    if any(name.startswith(_MIN_PREFIX) for name in names):
        names = [inner for name in names for inner in (
            [n for v in _MINIMA[_PRIME_OF[name]] if v >= BASE for n in _names_in(v)]
            if name.startswith(_MIN_PREFIX) else [name])]
    return names


def size_text(value: int, joiner: str = "", letters: Mapping[int, str] | None = None) -> str:
    """A size as text: ``5``, ``n``, ``nm`` (``n*m`` with ``joiner="*"``), ``2n``.

    Free dimensions print with ``letters`` (see :func:`letters_for`), else with the letter
    their order among all free dimensions gives.
    """
    if value < BASE:
        return str(int(value))
    letters = LETTERING.get() if letters is None else letters
    names, number, offset = linear_form(int(value))
    if not names:
        terms = polynomial(int(value))
        if terms is None:
            return f"⟨size {int(value)}⟩"  # no polynomial in the names that kronvec knows of
        return _polynomial_text(terms, joiner, letters)
    if offset:
        return f"{size_text(int(value) - offset, joiner, letters)}{offset:+d}"  # n+1 and the like
    shown = [(letters or {}).get(_PRIME_OF[name]) or _minimum_text(name, letters) or _free_letter(name)
             for name in names]
    sep = joiner or ("" if all(len(s) == 1 for s in shown) else "·")
    return (str(number) + ("" if not joiner else joiner) if number != 1 else "") + sep.join(shown)


def _minimum_text(name: str, letters: Mapping[int, str] | None) -> str:
    """``min(n, m)`` for the size :func:`minimum` made, else the empty string."""
    pair = _MINIMA.get(_PRIME_OF[name]) if name.startswith(_MIN_PREFIX) else None
    texts = sorted((size_text(v, "", letters) for v in pair or ()), key=lambda t: (_ORDER.get(t, 6), t))
    return f"min({', '.join(texts)})" if texts else ""


def _free_letter(name: str) -> str:
    if not name.startswith(_FREE_PREFIX):
        return name
    k = int(name[1:]) - 1
    return LETTERS[k % len(LETTERS)] + (str(k // len(LETTERS) + 1) if k >= len(LETTERS) else "")


# ------------------------------------------------------------- inference
def find(size: Any) -> Any:
    """What a size stands for now: a free dimension that was unified stands for the other."""
    if size < BASE or not _PARENT:
        return size
    names, number = factor_names(int(size))
    if number >= BASE:  # a sum of names: each of its names resolved
        terms = polynomial(int(size))
        if terms is None or not any(_PRIME_OF[n] in _PARENT for m in terms for n in m):
            return size
        return size_of_polynomial(terms, lambda name: _root(_PRIME_OF[name]))
    if not any(_PRIME_OF[n] in _PARENT or _PRIME_OF[n] in _MINIMA for n in names):
        return size
    value = number
    for name in names:
        value *= _root(_PRIME_OF[name])
    return dim(value) if value >= BASE else value


def _root(prime: int) -> int:
    while prime in _PARENT:
        prime = _PARENT[prime]
    pair = _MINIMA.get(prime)
    return prime if pair is None else int(minimum_of(find(pair[0]), find(pair[1])))


def resolve(a: Any, b: Any) -> bool:
    """Unify two sizes when one of them is free (the free one then stands for the other);
    False when neither is free (two different names, or numbers, never unify)."""
    a, b = find(a), find(b)
    if a == b:
        return True
    with _LOCK:
        if is_free(a):
            _PARENT[int(a)] = int(b)
        elif is_free(b):
            _PARENT[int(b)] = int(a)
        else:
            return False
    return True


def substitute_shape(shape: Iterable[Any], sizes: Mapping[int, int] | None = None) -> tuple[Any, ...]:
    """A shape with free dimensions resolved (:func:`find`) and names replaced by the numbers
    in ``sizes`` (by the value of the name's prime); products are multiplied out."""
    out = []
    for s in shape:
        s = find(s)
        if s >= BASE and sizes:
            terms = polynomial(int(s))
            if terms is None:
                s = sizes.get(int(s), s)
            else:
                s = size_of_polynomial(terms, lambda name: _sized_name(name, sizes))
        out.append(s)
    return tuple(out)


def _sized_name(name: str, sizes: Mapping[int, int]) -> int:
    """The number ``sizes`` gives a name (min(n, m) from n's and m's), or its prime when none."""
    prime = _PRIME_OF[name]
    pair = _MINIMA.get(prime)
    if prime in sizes or pair is None:
        return sizes.get(prime, prime)
    return int(minimum_of(*substitute_shape(pair, sizes)))


def has_minimum(value: int) -> bool:
    """Whether a size is made with a size min(a, b) of :func:`minimum_of` (its number is computed,
    never read from a value alone)."""
    return bool(_MINIMA) and value >= BASE and any(n.startswith(_MIN_PREFIX) for n in _names_of(value))


def minimum_of(a: Any, b: Any) -> Any:
    """The size min(a, b): the smaller of two numbers, ``a`` when a == b, else a size of its own, a
    rigid name that prints as ``min(n, m)`` and whose number binding computes from the numbers of
    a and b (:func:`substitute_shape`).  (:func:`kronvec.shapes.smaller` first decides what the
    names decide, such as min(n, n + 1) = n.)"""
    a, b = sorted((int(a), int(b)))
    if b < BASE or a == b:
        return dim(a)
    return Dim(_prime_for(f"{_MIN_PREFIX}{a},{b}⟩"))


class Unified(ShapeError):
    """Raised when sizes that were inferred have just been unified: the operation is built again
    with its operands' inferred sizes resolved (by the constructors' wrapper in the registry)."""


def has_free(shapes: Iterable[Iterable[Any]]) -> bool:
    """Whether any of the shapes holds an inferred (free) size."""
    return bool(_NAME_OF) and any(is_free(s) for shape in shapes for s in shape)


def unify(pairs: Sequence[tuple[Any, Any]], message: str) -> None:
    """Unify each pair of sizes (one of each must be free, else nothing is done) and raise
    :class:`Unified` with ``message`` if any was."""
    if pairs and all(is_free(find(a)) or is_free(find(b)) or find(a) == find(b) for a, b in pairs):
        for a, b in pairs:
            resolve(a, b)
        raise Unified(message)


# ------------------------------------------------------------ sums of names
Polynomial = dict[tuple[str, ...], int]
"""A size as a polynomial in the names: {(names of a monomial, sorted): integer coefficient};
the constant term has no names.  ``m + k`` is {("m",): 1, ("k",): 1}."""

_SUMS: dict[int, tuple[tuple[tuple[str, ...], int], ...]] = {}  # value -> its polynomial, recorded


def _monomial(value: int) -> Polynomial | None:
    """c·(product of names) + d for a small d (:func:`linear_form`), as a polynomial."""
    names, number, offset = linear_form(value)
    if not names:
        return None
    out: Polynomial = {tuple(sorted(names)): number}
    if offset:
        out[()] = offset
    return out


def polynomial(value: int) -> Polynomial | None:
    """The polynomial in the names that a size stands for, or None when it is none kronvec knows.

    A product of names with a small offset (n·m, n + 1) factors back; a sum (m + k) is what
    arithmetic of :class:`Dim` recorded, or, when a sum was made of plain ints, one name plus
    such a product (found by trying each name)."""
    value = int(value)
    if value < BASE:
        return {(): value} if value else {}
    recorded = _SUMS.get(value)
    if recorded is not None:
        return dict(recorded)
    simple = _monomial(value)
    if simple is not None:
        return simple
    names, rest = factor_names(value)
    if names and rest >= BASE:  # (m + k)·n
        inner = polynomial(rest)
        if inner is not None:
            return {tuple(sorted(k + tuple(names))): c for k, c in inner.items()}
    for prime, name in list(_NAME_OF.items()):
        if name.startswith(_FREE_PREFIX) or prime >= value:
            continue
        rest = _monomial(value - prime)
        if rest is not None:
            rest[(name,)] = rest.get((name,), 0) + 1
            _record(value, rest)
            return rest
    return None


def _record(value: int, terms: Polynomial) -> None:
    if len(_SUMS) < 65536:
        _SUMS[value] = tuple((k, c) for k, c in terms.items() if c)


def _combined(a: Any, b: Any, sign: int) -> Any:
    """a + b (``sign`` 1) or a − b (``sign`` -1) of sizes, recorded when it is a sum of names."""
    value = int(a) + sign * int(b)
    if value < BASE:
        return value
    pa, pb = polynomial(int(a)), polynomial(int(b))
    if pa is not None and pb is not None and len(pa) + len(pb) > 1 and value not in _SUMS:
        terms = dict(pa)
        for monomial, c in pb.items():
            terms[monomial] = terms.get(monomial, 0) + sign * c
        terms = {k: c for k, c in terms.items() if c}
        if len([k for k in terms if k]) > 1:
            _record(value, terms)
    return Dim(value)


def _multiplied(a: Any, b: Any) -> Any:
    """a·b of sizes, recorded when it is a sum of names ((m + k)·n)."""
    value = int(a) * int(b)
    if value < BASE or value in _SUMS:
        return dim(value)
    pa, pb = polynomial(int(a)), polynomial(int(b))
    if pa is not None and pb is not None and (len(pa) > 1 or len(pb) > 1):
        terms: Polynomial = {}
        for ka, ca in pa.items():
            for kb, cb in pb.items():
                key = tuple(sorted(ka + kb))
                terms[key] = terms.get(key, 0) + ca * cb
        if len([k for k, c in terms.items() if k and c]) > 1:
            _record(value, terms)
    return dim(value)


def size_of_polynomial(terms: Polynomial, value_of: Callable[[str], int] | None = None) -> Any:
    """The size of a polynomial with each name worth ``value_of(name)`` (default: the name
    itself), recorded as a sum when names remain."""
    total: Any = 0
    for monomial, coef in terms.items():
        term: Any = coef
        for name in monomial:
            term = term * (value_of(name) if value_of is not None else Dim(name))
        total = _combined(total, term, 1) if total >= BASE or term >= BASE else total + term
    return dim(total) if total >= BASE else int(total)


def _polynomial_text(terms: Polynomial, joiner: str, letters: Mapping[int, str] | None) -> str:
    """m + k, nm + k + 1, n - m: the monomials of higher degree first, then in the order the
    names were first used; the constant last."""
    order = {name: k for k, name in enumerate(_PRIME_OF)}
    keys = sorted((k for k in terms if k), key=lambda k: (-len(k), [order.get(n, 0) for n in k]))
    out = ""
    for monomial in keys + ([()] if terms.get(()) else []):
        coef = terms[monomial]
        if monomial:
            product = 1
            for name in monomial:
                product *= _PRIME_OF[name]
            body = size_text(abs(coef) * product, joiner, letters)
        else:
            body = str(abs(coef))
        out += (("-" if coef < 0 else "") if not out else (" - " if coef < 0 else " + ")) + body
    return out

