"""Lazy linear maps dV ↦ dF between matrix spaces.

A :class:`LinearMap` takes a tangent H of ``in_shape`` to one of ``out_shape``.
In the vec convention (column-major, Magnus & Neudecker) its dense matrix J has
shape ``(prod(out_shape), prod(in_shape))`` with ``vec(L(H)) = J vec(H)``,
and ``vec(A H B) = (Bᵀ ⊗ A) vec(H)``.

The structured terms (Kronecker, transposed Kronecker, trace, elementwise, ...)
live in :mod:`kronvec.terms`; this module holds the base class and the algebra
nodes (sum, scaling, composition, zero).  A map's factors are expressions
(a symbolic Jacobian) or arrays (a map bound to numbers, see ``bind``); the
public numeric methods need the latter.  Internally a scalar shape ``()`` is
handled as ``(1, 1)`` and tangents may carry leading batch axes.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from . import expr as E
from . import factors as fx
from .errors import MaterializationError, ShapeError

Shape = tuple[int, ...]

__all__ = ["LinearMap", "SumMap", "ScaledMap", "ComposeMap", "ZeroMap", "as2d", "expression_factors",
           "DEFAULT_MAX_BYTES", "same_shape"]

DEFAULT_MAX_BYTES = 2 ** 30


def as2d(shape: Shape) -> tuple[int, int]:
    """The matrix shape a tangent of ``shape`` is handled as (``()`` → ``(1, 1)``)."""
    return (int(shape[0]), int(shape[1])) if len(shape) == 2 else (1, 1)


def same_shape(a: Shape, b: Shape) -> bool:
    """Equal shapes, counting ``()`` and ``(1, 1)`` as the same scalar shape."""
    return tuple(a) == tuple(b) or (E.is_scalar(a) and E.is_scalar(b))


def _fmt(shape: Shape) -> str:
    return str(tuple(shape))


def _human(nbytes: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if nbytes < 1024 or unit == "PiB":
            return f"{nbytes:.1f} {unit}" if unit != "bytes" else f"{int(nbytes)} bytes"
        nbytes /= 1024
    return f"{nbytes:.1f} PiB"


class LinearMap:
    """A lazy linear map between matrix spaces (the derivative dV ↦ dF).

    Attributes
    ----------
    in_shape, out_shape : tuple
        Shapes of the tangent dV and of its image dF.
    shape : (int, int)
        ``(prod(out_shape), prod(in_shape))``, the shape of the dense matrix.

    Notes
    -----
    ``jvp``, ``vjp``, ``@`` and composition work on the structured form;
    only ``to_dense`` and ``to_tensor`` materialise, and they refuse beyond
    ``max_bytes`` (1 GiB by default).
    """

    __array_ufunc__ = None  # ndarray @ LinearMap defers to __rmatmul__

    def __init__(self, in_shape: Shape, out_shape: Shape) -> None:
        self.in_shape: Shape = tuple(int(s) for s in in_shape)
        self.out_shape: Shape = tuple(int(s) for s in out_shape)
        self._adj: LinearMap | None = None
        self._symbolic: bool | None = None

    # ----------------------------------------------------- to implement
    def _apply(self, h: Any) -> Any:
        """L(h) for h of shape (..., *as2d(in_shape)), an array or an expression."""
        raise NotImplementedError

    def _adjoint(self) -> "LinearMap":
        raise NotImplementedError

    def factors(self) -> tuple[Any, ...]:
        """The matrices this term is built from (expressions or arrays)."""
        return ()

    def children(self) -> tuple["LinearMap", ...]:
        """Sub-maps of an algebra node."""
        return ()

    def bind(self, value: Callable[[E.Expr], Any]) -> "LinearMap":
        """This map with every expression factor replaced by ``value(factor)``.

        A map without factors or sub-maps (a structural map such as diag or
        the duplication matrix) is the same map bound or not.
        """
        if not self.factors() and not self.children():
            return self
        raise NotImplementedError

    def _dense_into(self, out: np.ndarray, coef: float, assign: bool) -> None:
        """Write (``assign``) or add ``coef`` times the dense matrix into ``out``.

        The default pushes the columns of the identity through ``_apply`` in
        batches; structured terms override it with a closed form.
        """
        n, k = as2d(self.in_shape)
        rows = out.shape[0]
        batch = max(1, min(n * k, (32 * 2 ** 20) // (8 * max(1, rows + n * k))))
        for c0 in range(0, n * k, batch):
            cols = np.arange(c0, min(c0 + batch, n * k))
            basis = np.zeros((len(cols), n, k))
            basis[np.arange(len(cols)), cols % n, cols // n] = 1.0
            images = np.asarray(self._apply(basis), dtype=float)
            block = np.swapaxes(images, -1, -2).reshape(len(cols), rows).T
            if assign:
                out[:, c0:c0 + len(cols)] = coef * block
            else:
                out[:, c0:c0 + len(cols)] += coef * block

    # ------------------------------------------------------------- info
    @property
    def shape(self) -> tuple[int, int]:
        """``(prod(out_shape), prod(in_shape))``."""
        return (math.prod(self.out_shape), math.prod(self.in_shape))

    @property
    def symbolic(self) -> bool:
        """True while any factor is an expression (not yet bound to numbers)."""
        if self._symbolic is None:  # maps are immutable: decide once
            self._symbolic = fx.is_symbolic(*self.factors()) or any(c.symbolic for c in self.children())
        return self._symbolic

    def _require_numeric(self, what: str) -> None:
        if self.symbolic:
            raise TypeError(f"{what} needs numbers: bind values first with .at(...)")

    @property
    def T(self) -> "LinearMap":
        """The adjoint map (the VJP): ⟨L H, G⟩ = ⟨H, Lᵀ G⟩."""
        if self._adj is None:
            self._adj = self._adjoint()
            self._adj._adj = self
        return self._adj

    # ------------------------------------------------------ application
    def _batch(self, x: np.ndarray, shape: Shape, what: str) -> tuple[int, ...]:
        if x.shape == shape:
            return ()
        if x.ndim == len(shape) + 1 and x.shape[1:] == shape:
            return x.shape[:1]
        raise ShapeError(f"{what}: an array of shape {_fmt(x.shape)} does not fit the map's "
                         f"{'input' if what == 'jvp' else 'output'} shape {_fmt(shape)} "
                         f"(or a stack (k, *{_fmt(shape)}))")

    def jvp(self, H: Any) -> np.ndarray:
        """dF for dV = H.

        Parameters
        ----------
        H : array of ``in_shape``, or a stack ``(k, *in_shape)`` of tangents.

        Returns
        -------
        numpy.ndarray of ``out_shape`` (or ``(k, *out_shape)``).
        """
        self._require_numeric("jvp")
        H = np.asarray(H, dtype=float)
        batch = self._batch(H, self.in_shape, "jvp")
        out = self._apply(H.reshape(batch + as2d(self.in_shape)))
        return np.asarray(out, dtype=float).reshape(batch + self.out_shape)

    def vjp(self, G: Any) -> np.ndarray:
        """The cotangent of dV for the cotangent G of dF: Lᵀ(G).

        Parameters
        ----------
        G : array of ``out_shape``, or a stack ``(k, *out_shape)``.
        """
        self._require_numeric("vjp")
        G = np.asarray(G, dtype=float)
        batch = self._batch(G, self.out_shape, "vjp")
        out = self.T._apply(G.reshape(batch + as2d(self.out_shape)))
        return np.asarray(out, dtype=float).reshape(batch + self.in_shape)

    def matvec(self, v: Any) -> np.ndarray:
        """J v for a vec ``v`` (1-D), or J V for columns of vecs (2-D)."""
        self._require_numeric("matvec")
        v = np.asarray(v, dtype=float)
        n, k = as2d(self.in_shape)
        if v.ndim == 1 and v.shape[0] == n * k:
            return np.swapaxes(self._apply(v.reshape(k, n).T), -1, -2).reshape(-1).copy()
        if v.ndim == 2 and v.shape[0] == n * k:
            cols = v.shape[1]
            h = np.swapaxes(v.T.reshape(cols, k, n), -1, -2)
            out = np.asarray(self._apply(h), dtype=float)
            return np.swapaxes(out, -1, -2).reshape(cols, -1).T.copy()
        raise ShapeError(f"matvec: a vector of shape {_fmt(v.shape)} does not fit the map's "
                         f"matrix shape {_fmt(self.shape)}")

    def __matmul__(self, other: Any) -> Any:
        if isinstance(other, LinearMap):
            check_composable(self, other)
            return _algebra.compose(self, other)
        return self.matvec(other)

    def __rmatmul__(self, other: Any) -> Any:
        """``u @ L`` for a row vector (or rows): (Jᵀ uᵀ)ᵀ."""
        u = np.asarray(other, dtype=float)
        return self.T.matvec(u.T).T

    # ---------------------------------------------------------- algebra
    def __add__(self, other: Any) -> "LinearMap":
        if not isinstance(other, LinearMap):
            return NotImplemented
        if not (same_shape(self.in_shape, other.in_shape) and same_shape(self.out_shape, other.out_shape)):
            raise ShapeError(f"add: maps {_fmt(self.in_shape)} -> {_fmt(self.out_shape)} and "
                             f"{_fmt(other.in_shape)} -> {_fmt(other.out_shape)} differ")
        return _algebra.add(self, other)

    def __sub__(self, other: Any) -> "LinearMap":
        if not isinstance(other, LinearMap):
            return NotImplemented
        return self + (-1.0) * other

    def __neg__(self) -> "LinearMap":
        return (-1.0) * self

    def __mul__(self, c: Any) -> "LinearMap":
        if isinstance(c, (int, float, np.integer, np.floating)) or \
                (isinstance(c, np.ndarray) and c.ndim == 0):
            return _algebra.scale(float(c), self)
        if isinstance(c, E.Expr) and E.is_scalar(c):
            return _algebra.scale(c, self)
        return NotImplemented

    __rmul__ = __mul__

    def __truediv__(self, c: Any) -> "LinearMap":
        return self * (1.0 / float(c))

    # --------------------------------------------------------- dense
    def to_dense(self, max_bytes: int | None = DEFAULT_MAX_BYTES) -> np.ndarray:
        """The dense ``(prod(out_shape), prod(in_shape))`` matrix J.

        Column-major vec convention: ``J @ vec(H) == vec(L(H))`` with
        ``vec(A) = A.reshape(-1, order="F")``; for H ↦ A H B this is
        ``kron(B.T, A)``.  The result is allocated once and written in place.

        Parameters
        ----------
        max_bytes : int or None
            Refuse (``MaterializationError``) if J would take more memory;
            None allows any size.
        """
        self._require_numeric("to_dense")
        rows, cols = self.shape
        nbytes = 8 * rows * cols
        if max_bytes is not None and nbytes > max_bytes:
            raise MaterializationError(
                f"to_dense would allocate {_human(nbytes)} for a {rows} x {cols} float64 matrix, "
                f"more than max_bytes={max_bytes} ({_human(max_bytes)}); call "
                f"to_dense(max_bytes={nbytes}) to allow it, or use jvp/vjp/aslinearoperator, "
                f"which never materialise")
        out = np.empty((rows, cols))
        self._dense_into(out, 1.0, True)  # every term writes all of ``out`` when assigning
        return out

    def to_tensor(self, max_bytes: int | None = DEFAULT_MAX_BYTES) -> np.ndarray:
        """The tensor T of shape ``out_shape + in_shape``, T[i, j, a, b] = ∂F[i, j]/∂V[a, b]."""
        p, q = as2d(self.out_shape)
        n, k = as2d(self.in_shape)
        J = self.to_dense(max_bytes)
        return J.reshape(q, p, k, n).transpose(1, 0, 3, 2).reshape(self.out_shape + self.in_shape)

    def aslinearoperator(self) -> Any:
        """A ``scipy.sparse.linalg.LinearOperator`` acting on vecs (column-major)."""
        from scipy.sparse.linalg import LinearOperator
        self._require_numeric("aslinearoperator")
        return LinearOperator(self.shape, matvec=self.matvec, rmatvec=self.T.matvec,
                              matmat=self.matvec, rmatmat=self.T.matvec, dtype=np.float64)

    # -------------------------------------------------------- printing
    def __str__(self) -> str:
        return _printing.map_to_unicode(self)

    def __repr__(self) -> str:
        kind = "symbolic" if self.symbolic else "numeric"
        return (f"<{kind} LinearMap {_fmt(self.in_shape)} -> {_fmt(self.out_shape)}: "
                f"{self}>")

    def latex(self) -> str:
        """LaTeX of the closed form."""
        return _printing.map_to_latex(self)

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"


def check_composable(outer: LinearMap, inner: LinearMap) -> None:
    """Raise ShapeError unless ``outer`` takes what ``inner`` gives."""
    if not same_shape(outer.in_shape, inner.out_shape):
        raise ShapeError(
            f"compose: the left map takes {_fmt(outer.in_shape)} tangents but the right map "
            f"gives {_fmt(inner.out_shape)} (left: {_fmt(outer.in_shape)} -> "
            f"{_fmt(outer.out_shape)}, right: {_fmt(inner.in_shape)} -> {_fmt(inner.out_shape)}); "
            "the chain rule contracts the intermediate matrix, so these shapes must agree")


def expression_factors(m: LinearMap) -> list[E.Expr]:
    """The expression factors of ``m`` and of its sub-maps (what binding evaluates)."""
    out = [f for f in m.factors() if isinstance(f, E.Expr)]
    for c in m.children():
        out.extend(expression_factors(c))
    return out


def _bind_factor(value: Callable[[E.Expr], Any], f: Any) -> Any:
    if isinstance(f, E.Expr):
        v = np.asarray(value(f), dtype=float)
        return v.reshape(1, 1) if v.ndim == 0 else v
    return f


class ZeroMap(LinearMap):
    """H ↦ 0."""

    def _apply(self, h: Any) -> Any:
        if fx.is_symbolic(h):
            return E.zeros(as2d(self.out_shape))
        return np.zeros(np.shape(h)[:-2] + as2d(self.out_shape))

    def _adjoint(self) -> LinearMap:
        return ZeroMap(self.out_shape, self.in_shape)

    def _dense_into(self, out: np.ndarray, coef: float, assign: bool) -> None:
        if assign:
            out[...] = 0.0


class SumMap(LinearMap):
    """H ↦ Σᵢ Lᵢ(H).  Build with :func:`kronvec.algebra.add`."""

    def __init__(self, terms: Sequence[LinearMap]) -> None:
        super().__init__(terms[0].in_shape, terms[0].out_shape)
        self.terms = tuple(terms)

    def children(self) -> tuple[LinearMap, ...]:
        return self.terms

    def _apply(self, h: Any) -> Any:
        out = self.terms[0]._apply(h)
        for t in self.terms[1:]:
            out = fx.plus(out, t._apply(h))
        return out

    def _adjoint(self) -> LinearMap:
        return SumMap([t.T for t in self.terms])

    def bind(self, value: Callable[[E.Expr], Any]) -> LinearMap:
        return _algebra.add(*[t.bind(value) for t in self.terms])

    def _dense_into(self, out: np.ndarray, coef: float, assign: bool) -> None:
        for i, t in enumerate(self.terms):
            t._dense_into(out, coef, assign and i == 0)


class ScaledMap(LinearMap):
    """H ↦ c·L(H) for a scalar c (a number, or a scalar expression)."""

    def __init__(self, coef: Any, inner: LinearMap) -> None:
        super().__init__(inner.in_shape, inner.out_shape)
        self.coef = coef
        self.inner = inner

    def factors(self) -> tuple[Any, ...]:
        return (self.coef,)

    def children(self) -> tuple[LinearMap, ...]:
        return (self.inner,)

    def _apply(self, h: Any) -> Any:
        return fx.mul(self.coef, self.inner._apply(h))

    def _adjoint(self) -> LinearMap:
        return ScaledMap(self.coef, self.inner.T)

    def bind(self, value: Callable[[E.Expr], Any]) -> LinearMap:
        c = _bind_factor(value, self.coef)
        return _algebra.scale(float(np.reshape(c, ())), self.inner.bind(value))

    def _dense_into(self, out: np.ndarray, coef: float, assign: bool) -> None:
        self.inner._dense_into(out, coef * float(np.reshape(self.coef, ())), assign)


class ComposeMap(LinearMap):
    """H ↦ L₁(L₂(⋯Lₖ(H))), the chain rule where no closed form merges the factors.

    ``maps[0]`` is applied last.  Build with :func:`kronvec.algebra.compose`,
    which merges Kronecker-type neighbours by the mixed-product rule first.
    """

    def __init__(self, maps: Sequence[LinearMap]) -> None:
        super().__init__(maps[-1].in_shape, maps[0].out_shape)
        self.maps = tuple(maps)

    def children(self) -> tuple[LinearMap, ...]:
        return self.maps

    def _apply(self, h: Any) -> Any:
        for m in reversed(self.maps):
            h = m._apply(h)
        return h

    def _adjoint(self) -> LinearMap:
        return ComposeMap([m.T for m in reversed(self.maps)])

    def bind(self, value: Callable[[E.Expr], Any]) -> LinearMap:
        return _algebra.compose(*[m.bind(value) for m in self.maps])

    def _dense_into(self, out: np.ndarray, coef: float, assign: bool) -> None:
        # one contraction straight into ``out``; adding to it goes by column blocks
        # instead, so that no temporary as large as the output is made
        if not (assign and _contract.dense_by_einsum(self, out, coef)):
            super()._dense_into(out, coef, assign)


def flatten_sum(maps: Iterable[LinearMap]) -> list[LinearMap]:
    """The terms of nested sums, zeros dropped."""
    out: list[LinearMap] = []
    for m in maps:
        if isinstance(m, SumMap):
            out.extend(flatten_sum(m.terms))
        elif not isinstance(m, ZeroMap):
            out.append(m)
    return out


# The operators of LinearMap (``@``, ``+``, ``*``) are the algebra of its
# subclasses, and maps print themselves: the import cycles of this module,
# resolved here once LinearMap and the algebra nodes exist.
from . import algebra as _algebra  # noqa: E402
from . import contract as _contract  # noqa: E402
from . import printing as _printing  # noqa: E402
