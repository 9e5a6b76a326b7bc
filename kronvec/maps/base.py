"""The base class of lazy linear maps dV ↦ dF between matrix spaces.

A :class:`LinearMap` takes a tangent H of ``in_shape`` to one of ``out_shape``.
In the vec convention (column-major, Magnus & Neudecker) its dense matrix J has
shape ``(prod(out_shape), prod(in_shape))`` with ``vec(L(H)) = J vec(H)``,
and ``vec(A H B) = (Bᵀ ⊗ A) vec(H)``.

Subclasses implement ``_apply`` (the action, on arrays or expressions),
``_adjoint`` and, where they have factors, ``factors``/``bind``.  The
structured terms live in :mod:`kronvec.maps.terms`, the algebra nodes (sum,
scaling, composition, zero) in :mod:`kronvec.maps.nodes`.  The operators
``@ + *`` are the algebra of :mod:`kronvec.maps.algebra`, which registers
itself in :data:`ALGEBRA`; maps print through :data:`kronvec.registry.DISPLAY`.
A map's factors are expressions (a symbolic Jacobian) or arrays (a map bound
to numbers); the public numeric methods need the latter.  Internally a scalar
shape ``()`` is handled as ``(1, 1)`` and tangents may carry leading batch axes.
"""
from __future__ import annotations

import math
import numbers
from typing import Any, Callable

import numpy as np

from .. import registry
from ..dims import BASE, dim
from ..normal_shapes import normal_shape
from ..errors import MaterializationError, ShapeError
from ..expr import Expr, is_scalar
from ..lazy import LazyModule
from ..shapes import Shape, as_matrix_shape, fmt, human_bytes, is_plain, is_scalar_shape, same_shape
from ..shapes import refuse_named
from ..transient import portable_state, restore_state
from . import factors as fx
from .operands import Operand

sparse_linalg = LazyModule("scipy.sparse.linalg")  # for LinearOperator; imported on first use

__all__ = ["LinearMap", "ALGEBRA", "as_matrix_shape", "expression_factors", "bind_factor", "check_composable",
           "DEFAULT_MAX_BYTES", "same_shape", "dense_by_basis", "real_array", "check_max_bytes"]

DEFAULT_MAX_BYTES = 2 ** 30
_FLOAT = np.dtype(float)


def real_array(x: Any, what: str) -> np.ndarray:
    """``x`` as a float64 array; a ``TypeError`` for complex numbers, whose imaginary part a
    cast would drop (called only for arrays that are not float64 already)."""
    arr = np.asarray(x)
    if arr.dtype.kind == "c":
        raise TypeError(f"{what}: complex arrays are not supported (kronvec works in real arithmetic); "
                        f"the map is real and linear, so apply it to the real and imaginary parts")
    return arr.astype(float, copy=False)


def check_max_bytes(max_bytes: Any) -> None:
    """``to_dense``'s ``max_bytes`` is a number of bytes or None (a ``TypeError`` otherwise)."""
    if max_bytes is not None and (isinstance(max_bytes, bool) or not isinstance(max_bytes, numbers.Real)):
        raise TypeError(f"to_dense: max_bytes must be a number of bytes (or None for no limit), "
                        f"got {max_bytes!r} of type {type(max_bytes).__name__}")


class _Algebra:
    """compose / add / scale of maps, set by :mod:`kronvec.maps.algebra` on import."""

    compose: Callable[..., "LinearMap"]
    add_maps: Callable[..., "LinearMap"]
    scale_map: Callable[[Any, "LinearMap"], "LinearMap"]
    dense: Callable[["LinearMap", np.ndarray], bool]  # one contraction per term (maps.network)


ALGEBRA = _Algebra()


class LinearMap:
    """A lazy linear map between matrix spaces (the derivative dV ↦ dF).

    Attributes
    ----------
    in_shape, out_shape : tuple
        Shapes of the tangent dV and of its image dF.
    shape : (int, int)
        ``(prod(out_shape), prod(in_shape))``, the shape of the dense matrix.
    value : numpy.ndarray or None
        For a map from ``J.at(...)``: F itself at the bound point (the primal),
        computed in the same evaluation as the factors.

    Notes
    -----
    ``jvp``, ``vjp``, ``@`` and composition work on the structured form;
    only ``to_dense`` and ``to_tensor`` materialise, and they refuse beyond
    ``max_bytes`` (1 GiB by default).
    """

    __array_ufunc__ = None  # ndarray @ LinearMap defers to __rmatmul__
    # Attributes set up on first use (closures, decompositions) -> their empty value: left out
    # when pickling, rebuilt lazily after (locks are left out and made anew too).
    _caches: dict[str, Any] = {}

    def __init__(self, in_shape: Shape, out_shape: Shape) -> None:
        self.in_shape: Shape = normal_shape(in_shape)
        self.out_shape: Shape = normal_shape(out_shape)  # names stay Dims
        self._adj: LinearMap | None = None
        self._symbolic: bool | None = None
        self._direct = len(self.in_shape) == 2 and len(self.out_shape) == 2  # no reshaping needed
        self._plain = is_plain(self.in_shape) and is_plain(self.out_shape)  # no stacks

    def __getstate__(self) -> dict[str, Any]:
        return portable_state(self, self._caches)

    def __setstate__(self, state: dict[str, Any]) -> None:
        restore_state(self, state)

    # ----------------------------------------------------- to implement
    def _apply(self, h: Any) -> Any:
        """L(h) for h of shape (..., *as_matrix_shape(in_shape)), an array or an expression."""
        raise NotImplementedError

    def _adjoint(self) -> "LinearMap":
        raise NotImplementedError

    def factors(self) -> tuple[Any, ...]:
        """The matrices this term is built from (expressions or arrays)."""
        return ()

    def children(self) -> tuple["LinearMap", ...]:
        """Sub-maps of an algebra node."""
        return ()

    def relabel(self, in_shape: Shape, out_shape: Shape) -> "LinearMap | None":
        """This map with the scalar shapes ``()``/``(1, 1)`` of its ends relabelled,
        or None when the algebra must wrap it instead."""
        return None

    def absorb(self, c: Any) -> "LinearMap | None":
        """c·L with the scalar c folded into a factor, or None if it has no factor for it."""
        return None

    def is_identity(self) -> bool:
        """True for H ↦ H."""
        return False

    def columnwise(self) -> bool:
        """Whether this map between column vectors acts on each column of a matrix alike,
        so that ``matvec`` can apply it to many columns at once (one matrix product)."""
        return False

    def memberwise(self) -> bool:
        """Whether the map acts on each member of a stack alone (with that member's factors),
        as every term does; maps that broadcast, sum, permute or reshape axes do not."""
        return all(c.memberwise() for c in self.children())

    def acts_on_expressions(self) -> bool:
        """Whether ``_apply`` takes expressions too (so the algebra may push factors through)."""
        return True

    def bind(self, value: Callable[[Expr], Any]) -> "LinearMap":
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
        if not self._plain:
            dense_by_basis(self, out, coef, assign)
            return
        n, k = as_matrix_shape(self.in_shape)
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
    _value: np.ndarray | None = None
    _value_thunk: Callable[[], np.ndarray] | None = None

    @property
    def value(self) -> np.ndarray | None:
        """F at the bound point (for a map from ``J.at(...)``), or None.

        A value that costs more than the map's own factors is computed on
        first access, not by ``J.at`` (so a map whose F is too large to hold
        can still be built and applied)."""
        thunk = self._value_thunk
        if thunk is not None:
            self._value = thunk()
            self._value_thunk = None
        return self._value

    @value.setter
    def value(self, value: np.ndarray | None) -> None:
        self._value, self._value_thunk = value, None

    def defer_value(self, compute: Callable[[], np.ndarray]) -> None:
        """Make ``value`` the result of ``compute()``, called on first access."""
        self._value, self._value_thunk = None, compute

    @property
    def shape(self) -> tuple[int, int]:
        """``(prod(out_shape), prod(in_shape))`` (with sizes given as names, products of them)."""
        rows, cols = math.prod(self.out_shape), math.prod(self.in_shape)
        return (rows if rows < BASE else dim(rows), cols if cols < BASE else dim(cols))

    @property
    def symbolic(self) -> bool:
        """True while any factor is an expression (not yet bound to numbers)."""
        if self._symbolic is None:  # maps are immutable: decide once
            self._symbolic = fx.is_symbolic(*self.factors()) or any(c.symbolic for c in self.children())
        return self._symbolic

    def _require_numeric(self, what: str) -> None:
        if self._symbolic is False:
            return
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
        if x.shape == shape or x.size == 1 and is_scalar_shape(shape) and x.ndim <= 2:
            return ()  # a scalar tangent may be given as 1.0 or [[1.0]] either way
        if len(shape) == 2 and shape[1] == 1 and x.shape == shape[:1]:
            return ()  # a vector (n, 1) given as a 1-D array, as values may be
        if x.ndim == len(shape) + 1 and x.shape[1:] == shape:
            return x.shape[:1]
        refuse_named(what, shape)
        raise ShapeError(f"{what}: an array of shape {fmt(x.shape)} does not fit the map's "
                         f"{'input' if what == 'jvp' else 'output'} shape {fmt(shape)} "
                         f"(or a stack (k, *{fmt(shape)}))")

    def jvp(self, H: Any) -> np.ndarray:
        """dF for dV = H.

        Parameters
        ----------
        H : array of ``in_shape``, or a stack ``(k, *in_shape)`` of tangents.

        Returns
        -------
        numpy.ndarray of ``out_shape`` (or ``(k, *out_shape)``).
        """
        if self._symbolic is not False:
            self._require_numeric("jvp")
        if type(H) is not np.ndarray or H.dtype != _FLOAT:
            H = real_array(H, "jvp")
        if H.shape == self.in_shape and self._direct:  # the common case, without reshaping
            out = self._apply(H)
            return out if type(out) is np.ndarray else np.asarray(out, dtype=float)
        batch = self._batch(H, self.in_shape, "jvp")
        out = self._apply(H.reshape(batch + as_matrix_shape(self.in_shape)))
        return np.asarray(out, dtype=float).reshape(batch + self.out_shape)

    def vjp(self, G: Any) -> np.ndarray:
        """The cotangent of dV for the cotangent G of dF: Lᵀ(G).

        Parameters
        ----------
        G : array of ``out_shape``, or a stack ``(k, *out_shape)``.
        """
        if self._symbolic is not False:
            self._require_numeric("vjp")
        if type(G) is not np.ndarray or G.dtype != _FLOAT:
            G = real_array(G, "vjp")
        if G.shape == self.out_shape and self._direct:  # the common case, without reshaping
            adjoint = self._adj if self._adj is not None else self.T
            out = adjoint._apply(G)
            return out if type(out) is np.ndarray else np.asarray(out, dtype=float)
        batch = self._batch(G, self.out_shape, "vjp")
        out = self.T._apply(G.reshape(batch + as_matrix_shape(self.out_shape)))
        return np.asarray(out, dtype=float).reshape(batch + self.in_shape)

    def matvec(self, v: Any) -> np.ndarray:
        """J v for a vec ``v`` (1-D), or J V for columns of vecs (2-D)."""
        self._require_numeric("matvec")
        v = real_array(v, "matvec")
        if not self._plain:
            return self._matvec_nd(v)
        n, k = as_matrix_shape(self.in_shape)
        if v.ndim == 1 and v.shape[0] == n * k:
            result: np.ndarray = np.swapaxes(self._apply(v.reshape(k, n).T), -1, -2).reshape(-1).copy()
            return result
        if v.ndim == 2 and v.shape[0] == n * k and k == 1 and as_matrix_shape(self.out_shape)[1] == 1 \
                and self.columnwise():
            return np.asarray(self._apply(v), dtype=float)  # all columns in one product
        if v.ndim == 2 and v.shape[0] == n * k:
            cols = v.shape[1]
            h = np.swapaxes(v.T.reshape(cols, k, n), -1, -2)
            out = np.asarray(self._apply(h), dtype=float)
            return np.swapaxes(out, -1, -2).reshape(cols, -1).T.copy()
        raise ShapeError(f"matvec: a vector of shape {fmt(v.shape)} does not fit the map's "
                         f"matrix shape {fmt(self.shape)}")

    def _matvec_nd(self, v: np.ndarray) -> np.ndarray:
        """``matvec`` for maps between stacks: vecs are column-major over all axes."""
        inner, size = as_matrix_shape(self.in_shape), math.prod(self.in_shape)
        if v.ndim not in (1, 2) or v.shape[0] != size:
            raise ShapeError(f"matvec: a vector of shape {fmt(v.shape)} does not fit the map's "
                             f"matrix shape {fmt(self.shape)}")
        cols = v.reshape(size, -1).T  # (columns, size)
        h = cols.reshape((len(cols),) + inner[::-1]).transpose((0,) + tuple(range(len(inner), 0, -1)))
        out = np.asarray(self._apply(np.ascontiguousarray(h)), dtype=float)
        out = out.reshape((len(cols),) + as_matrix_shape(self.out_shape))
        flat = out.transpose((0,) + tuple(range(out.ndim - 1, 0, -1))).reshape(len(cols), -1).T
        return flat.reshape(-1).copy() if v.ndim == 1 else flat.copy()

    def __matmul__(self, other: Any) -> Any:
        if isinstance(other, LinearMap):
            check_composable(self, other)
            return ALGEBRA.compose(self, other)
        if not isinstance(other, (np.ndarray, list, tuple, int, float, np.generic)):
            return NotImplemented  # e.g. a symbolic Jacobian, which composes from the right
        return self.matvec(other)

    def __rmatmul__(self, other: Any) -> Any:
        """``u @ L`` for a row vector (or rows): (Jᵀ uᵀ)ᵀ."""
        u = real_array(other, "u @ L")
        return self.T.matvec(u.T).T

    # ---------------------------------------------------------- algebra
    def __add__(self, other: Any) -> "LinearMap":
        if not isinstance(other, LinearMap):
            return NotImplemented
        if not (same_shape(self.in_shape, other.in_shape) and same_shape(self.out_shape, other.out_shape)):
            raise ShapeError(f"add: maps {fmt(self.in_shape)} -> {fmt(self.out_shape)} and "
                             f"{fmt(other.in_shape)} -> {fmt(other.out_shape)} differ")
        return ALGEBRA.add_maps(self, other)

    def __sub__(self, other: Any) -> "LinearMap":
        if not isinstance(other, LinearMap):
            return NotImplemented
        return self + (-1.0) * other

    def __neg__(self) -> "LinearMap":
        return (-1.0) * self

    def __mul__(self, c: Any) -> "LinearMap":
        if isinstance(c, (int, float, np.integer, np.floating)) or \
                (isinstance(c, np.ndarray) and c.ndim == 0):
            return ALGEBRA.scale_map(float(c), self)
        if isinstance(c, Expr) and is_scalar(c):
            return ALGEBRA.scale_map(c, self)
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
        check_max_bytes(max_bytes)
        rows, cols = self.shape
        nbytes = 8 * rows * cols
        if max_bytes is not None and nbytes > max_bytes:
            refuse_named("to_dense", self.out_shape + self.in_shape)
            raise MaterializationError(
                f"to_dense would allocate {human_bytes(nbytes)} for a {rows} x {cols} float64 matrix, "
                f"more than max_bytes={max_bytes} ({human_bytes(max_bytes)}); call "
                f"to_dense(max_bytes={nbytes}) to allow it, or use jvp/vjp/aslinearoperator, "
                f"which never materialise")
        out = np.empty((rows, cols))
        if ALGEBRA.dense(self, out):
            return out
        if self._plain:
            self._dense_into(out, 1.0, True)  # every term writes all of ``out`` when assigning
        else:  # between stacks: basis tangents through the batched action
            dense_by_basis(self, out, 1.0, True)
        return out

    def to_tensor(self, max_bytes: int | None = DEFAULT_MAX_BYTES) -> np.ndarray:
        """The tensor T of shape ``out_shape + in_shape``, T[i, j, a, b] = ∂F[i, j]/∂V[a, b]."""
        out, inn = as_matrix_shape(self.out_shape), as_matrix_shape(self.in_shape)
        J = self.to_dense(max_bytes)
        T = J.reshape(out[::-1] + inn[::-1])  # column-major vecs: reversed axes in C order
        axes = tuple(range(len(out) - 1, -1, -1)) + tuple(range(len(out) + len(inn) - 1, len(out) - 1, -1))
        return T.transpose(axes).reshape(self.out_shape + self.in_shape)

    def aslinearoperator(self) -> Any:
        """A ``scipy.sparse.linalg.LinearOperator`` acting on vecs (column-major)."""
        self._require_numeric("aslinearoperator")
        return sparse_linalg.LinearOperator(self.shape, matvec=self.matvec, rmatvec=self.T.matvec,
                              matmat=self.matvec, rmatmat=self.T.matvec, dtype=np.float64)

    # -------------------------------------------------------- printing
    def __str__(self) -> str:
        return registry.DISPLAY.map_unicode(self)

    def __repr__(self) -> str:
        kind = "symbolic" if self.symbolic else "numeric"
        return (f"<{kind} LinearMap {fmt(self.in_shape)} -> {fmt(self.out_shape)}: "
                f"{self}>")

    def latex(self) -> str:
        """LaTeX of the closed form."""
        return registry.DISPLAY.map_latex(self)

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"


def check_composable(outer: LinearMap, inner: LinearMap) -> None:
    """Raise ShapeError unless ``outer`` takes what ``inner`` gives."""
    if not same_shape(outer.in_shape, inner.out_shape):
        raise ShapeError(
            f"compose: the left map takes {fmt(outer.in_shape)} tangents but the right map "
            f"gives {fmt(inner.out_shape)} (left: {fmt(outer.in_shape)} -> "
            f"{fmt(outer.out_shape)}, right: {fmt(inner.in_shape)} -> {fmt(inner.out_shape)}); "
            "the chain rule contracts the intermediate matrix, so these shapes must agree")


def expression_factors(m: LinearMap) -> list[Expr]:
    """The expression factors of ``m`` and of its sub-maps (what binding evaluates)."""
    out = [f for f in m.factors() if isinstance(f, Expr)]
    for c in m.children():
        out.extend(expression_factors(c))
    return out


def bind_factor(value: Callable[[Expr], Any], f: Any) -> Any:
    """The number a factor stands for: an array (a 0-d one as 1×1, per-member scalars of a
    stack ``(b,)`` as the stack ``(b, 1, 1)``), or a structured
    :class:`~kronvec.maps.operands.Operand` as the evaluator gave it."""
    if isinstance(f, Expr):
        v = value(f)
        if type(v) is np.ndarray and v.ndim == 2 and v.dtype is _FLOAT:
            return v  # the common case: a matrix as the evaluator gave it
        if isinstance(v, Operand):
            return v
        v = np.asarray(v, dtype=float)
        if v.ndim > 2 and not v.flags.c_contiguous and not v.swapaxes(-1, -2).flags.c_contiguous:
            # a stack: batched products run fastest on C-ordered members (or, as BLAS reads a
            # transpose, on the transposes of C-ordered members: no pass over the stack then)
            return np.ascontiguousarray(v)
        return v.reshape(as_matrix_shape(v.shape)) if v.ndim < 2 else v
    return f


def dense_by_basis(m: LinearMap, out: np.ndarray, coef: float, assign: bool) -> None:
    """Write (or add) ``coef`` times the dense matrix of ``m`` into ``out`` by pushing the
    column-major basis tangents through ``m._apply``, a batch of columns at a time; for
    shapes of any number of axes (maps between stacks)."""
    n_in = math.prod(m.in_shape)
    rows = out.shape[0]
    inner = as_matrix_shape(m.in_shape)
    batch = max(1, min(n_in, (32 * 2 ** 20) // (8 * max(1, rows + n_in))))
    for c0 in range(0, n_in, batch):
        cols = np.arange(c0, min(c0 + batch, n_in))
        basis = np.zeros((len(cols), n_in))
        basis[np.arange(len(cols)), cols] = 1.0
        # column-major: vec index c is the entry np.unravel_index(c, inner, order="F")
        tangents = basis.reshape((len(cols),) + inner[::-1]).transpose((0,) + tuple(range(len(inner), 0, -1)))
        images = np.asarray(m._apply(np.ascontiguousarray(tangents)), dtype=float)
        images = images.reshape((len(cols),) + as_matrix_shape(m.out_shape))
        block = images.transpose((0,) + tuple(range(images.ndim - 1, 0, -1))).reshape(len(cols), rows).T
        if assign:
            out[:, c0:c0 + len(cols)] = coef * block
        else:
            out[:, c0:c0 + len(cols)] += coef * block


