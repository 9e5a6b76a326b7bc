"""Bound factors kept in structured form, so that nothing large is formed.

When a map is bound, most factors become dense arrays.  Two kinds stay
structured, as an :class:`Operand` that acts like a 2-D array under ``@``
and ``.T``:

* a **product** of thin matrices whose dense form would be large, such as
  W(WᵀW)⁻¹Wᵀ for a tall W (n×2): :class:`Product` keeps the pieces and
  multiplies in the cheapest order for the operand it meets, chosen from the
  shapes (the vec trick of LinearMaps.jl), at O(nk²) instead of O(n²k);
* a **sum** such as A + Aᵀ: :class:`Sum` applies term by term to a thin
  operand, is formed once when applied again, and ``to_dense`` writes it in
  one pass into the output.

Dense forms are made only by :meth:`Operand.dense` (``np.asarray``), which
``to_dense`` and the closed-form writers call.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

__all__ = ["Operand", "Product", "Sum", "Identity", "chain_order", "dense_of", "write_into", "LARGE"]

LARGE = 1 << 16  # entries from which a factor is worth keeping structured


def chain_order(dims: Sequence[int], known: Any = ()) -> list[list[int]]:
    """Split points of the cheapest parenthesisation of a matrix chain (classic DP).

    ``dims`` are the chain's dimensions (k + 1 of them for k matrices);
    sub-products listed in ``known`` (pairs (i, j)) cost nothing.
    """
    n = len(dims) - 1
    cost = [[0.0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(2, n + 1):
        for i in range(n - length + 1):
            j = i + length - 1
            if (i, j) in known:
                continue
            best = math.inf
            for k in range(j - 1, i - 1, -1):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < best:
                    best, split[i][j] = c, k
            cost[i][j] = best
    return split


def _multiply_chain(parts: Sequence[Any]) -> Any:
    """p₁p₂⋯ in the cheapest order for their shapes (trailing two axes; batch axes broadcast)."""
    if len(parts) == 1:
        return parts[0]
    dims = [np.shape(parts[0])[-2]] + [np.shape(p)[-1] for p in parts]
    split = chain_order(dims)

    def product(i: int, j: int) -> Any:
        if i == j:
            return parts[i]
        k = split[i][j]
        return product(i, k) @ product(k + 1, j)
    return product(0, len(parts) - 1)


class Operand:
    """A factor of a bound map in structured form; acts like a 2-D array for ``@``, ``.T``,
    ``c * A`` and ``np.asarray``."""

    __array_ufunc__ = None  # ndarray @ Operand defers to Operand.__rmatmul__
    ndim = 2

    def __init__(self, shape: tuple[int, int]) -> None:
        self.shape = (int(shape[0]), int(shape[1]))
        self._dense: np.ndarray | None = None

    # -- to implement
    def _form(self) -> np.ndarray:
        raise NotImplementedError

    def _left(self, h: Any) -> Any:
        """self @ h."""
        raise NotImplementedError

    def _right(self, h: Any) -> Any:
        """h @ self."""
        raise NotImplementedError

    @property
    def T(self) -> "Operand":
        raise NotImplementedError

    def scaled(self, c: float) -> "Operand":
        raise NotImplementedError

    # -- array behaviour
    def dense(self) -> np.ndarray:
        """The dense matrix (formed once)."""
        if self._dense is None:
            self._dense = self._form()
        return self._dense

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return np.asarray(self.dense(), dtype=dtype)

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    def __matmul__(self, other: Any) -> Any:
        if isinstance(other, Operand):
            return Product([self, other])
        return self._dense @ other if self._dense is not None else self._left(other)

    def __rmatmul__(self, other: Any) -> Any:
        return other @ self._dense if self._dense is not None else self._right(other)

    def __mul__(self, c: Any) -> "Operand":
        if np.ndim(c) != 0 and np.size(c) != 1:
            return NotImplemented
        return self.scaled(float(np.reshape(c, ())))

    __rmul__ = __mul__

    def __add__(self, other: Any) -> "Sum":
        return Sum([(1.0, self), (1.0, other)])

    __radd__ = __add__

    def __sub__(self, other: Any) -> "Sum":
        return Sum([(1.0, self), (-1.0, other)])

    def swapaxes(self, a: int, b: int) -> "Operand":
        if {a % 2, b % 2} != {0, 1}:
            raise ValueError("an operand is a matrix: only its two axes can be swapped")
        return self.T

    def reshape(self, *shape: Any) -> np.ndarray:
        return self.dense().reshape(*shape)


class Product(Operand):
    """p₁p₂⋯pₖ kept as its pieces (arrays or operands); applied in the cheapest order."""

    parts: list[Any]
    coef: float

    def __init__(self, parts: Sequence[Any], coef: float = 1.0) -> None:
        flat: list[Any] = []
        for p in parts:
            if isinstance(p, Product):
                coef *= p.coef
                flat.extend(p.parts)
            else:
                flat.append(p)
        super().__init__((np.shape(flat[0])[-2], np.shape(flat[-1])[-1]))
        self.parts, self.coef = flat, coef

    def _form(self) -> np.ndarray:
        out = np.asarray(_multiply_chain([np.asarray(p) for p in self.parts]))
        return out * self.coef if self.coef != 1.0 else out

    def _left(self, h: Any) -> Any:
        out = _multiply_chain(self.parts + [h])
        return out * self.coef if self.coef != 1.0 else out

    def _right(self, h: Any) -> Any:
        out = _multiply_chain([h] + self.parts)
        return out * self.coef if self.coef != 1.0 else out

    @property
    def T(self) -> Operand:
        return Product([_transposed(p) for p in reversed(self.parts)], self.coef)

    def scaled(self, c: float) -> Operand:
        return Product(self.parts, self.coef * c)


class Sum(Operand):
    """Σ cᵢ Aᵢ kept as its terms: applied term by term to a thin operand the first time,
    formed once after that; written into an output in one pass."""

    THIN = 0.25  # a thin operand has at most this many columns per row of the sum
    terms: list[tuple[float, Any]]

    def __init__(self, terms: Sequence[tuple[float, Any]]) -> None:
        flat: list[tuple[float, Any]] = []
        for c, t in terms:
            if isinstance(t, Sum):
                flat.extend((c * c2, t2) for c2, t2 in t.terms)
            else:
                flat.append((c, t))
        super().__init__(tuple(np.shape(flat[0][1])[-2:]))
        self.terms = flat
        self._applied = 0

    def _form(self) -> np.ndarray:
        out = np.empty(self.shape)
        write_into(self, out, 1.0, True)
        return out

    def _apply(self, h: Any, left: bool) -> Any:
        self._applied += 1
        cols = np.shape(h)[-1] if left else np.shape(h)[-2]
        formable = all(type(t) is np.ndarray for _, t in self.terms)  # as small as its terms
        if formable and (self._applied > 1 or cols > self.THIN * self.shape[0]):
            d = self.dense()
            return d @ h if left else h @ d
        out = None
        for c, t in self.terms:
            part = t @ h if left else h @ t
            part = part * c if c != 1.0 else part
            out = part if out is None else out + part
        return out

    def _left(self, h: Any) -> Any:
        return self._apply(h, left=True)

    def _right(self, h: Any) -> Any:
        return self._apply(h, left=False)

    @property
    def T(self) -> Operand:
        return Sum([(c, _transposed(t)) for c, t in self.terms])

    def scaled(self, c: float) -> Operand:
        return Sum([(c * c2, t) for c2, t in self.terms])


class Identity(Operand):
    """The n×n identity, never formed."""

    def __init__(self, n: int) -> None:
        super().__init__((n, n))

    def _form(self) -> np.ndarray:
        return np.eye(self.shape[0])

    def _left(self, h: Any) -> Any:
        return h

    def _right(self, h: Any) -> Any:
        return h

    @property
    def T(self) -> Operand:
        return self

    def scaled(self, c: float) -> Operand:
        return Sum([(c, self)])


def _transposed(x: Any) -> Any:
    return x.T if isinstance(x, (Operand, np.ndarray)) else np.swapaxes(x, -1, -2)


def dense_of(x: Any) -> np.ndarray:
    """The dense array of a factor (an array, or an operand)."""
    return x.dense() if isinstance(x, Operand) else np.asarray(x)


def write_into(x: Any, out: np.ndarray, coef: float, assign: bool) -> None:
    """``out = coef·x`` (``assign``) or ``out += coef·x``, in one pass over ``out`` for a sum."""
    if isinstance(x, Sum) and x._dense is None:
        terms = x.terms
        (c1, t1), (c2, t2) = terms[0], terms[1]
        if assign and c1 == 1.0 and abs(c2) == 1.0 and coef == 1.0 and not any(
                isinstance(t, Operand) for t in (t1, t2)):
            (np.add if c2 > 0 else np.subtract)(t1, t2, out=out)  # A ± B in one pass
            terms = terms[2:]
            assign = False
        for k, (c, t) in enumerate(terms):
            write_into(t, out, coef * c, assign and k == 0)
        return
    x = dense_of(x)
    if assign:
        np.multiply(x, coef, out=out) if coef != 1.0 else np.copyto(out, x)
    elif coef == 1.0:
        out += x
    elif coef == -1.0:
        out -= x
    else:
        out += coef * x
