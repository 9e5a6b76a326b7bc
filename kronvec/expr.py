"""Matrix expressions: an immutable, interned DAG with shapes checked on build.

Every node is an :class:`Expr` with an operation name ``op``, argument nodes
``args``, named parameters ``params`` (``node.params.coef``) and a ``shape``
(``()`` for scalars, ``(r, c)`` otherwise).  Nodes are hash-consed: building
the same expression twice gives the *same* object, so structural equality is
identity and subexpressions are shared for free.

Nodes are built by the canonicalising constructors of the op families
(:mod:`kronvec.ops`); the operators below (``A @ B``, ``A + B``, ``A.T``, ...)
look those up in the registry.  The constructors never use a property that
depends on values (such as the symmetry of a bound matrix), so an expression
always means what it says.
"""
from __future__ import annotations

import numbers
import operator
import threading
import weakref
from typing import Any, Callable, Container, Iterable, Sequence

import numpy as np

from . import registry
from .dims import BASE, unify
from .normal_shapes import normal_shape
from .errors import ShapeError
from .registry import Params
from .shapes import Shape, fmt, is_scalar_shape, whole_shape

__all__ = ["Expr", "ConstValue", "as_expr", "as_operand", "as_operands",
           "is_scalar", "is_number", "const_scalar",
           "rebuild", "substitute", "strip_names", "display_names", "describe_symbol",
           "raise_name_clash", "walk_all"]


def is_scalar(shape_or_expr: Any) -> bool:
    """True for shape ``()`` or ``(1, 1)``: both count as scalars."""
    shape = shape_or_expr.shape if isinstance(shape_or_expr, Expr) else shape_or_expr
    return is_scalar_shape(shape)


def is_number(x: Any) -> bool:
    """A real Python or NumPy number (not an array of several)."""
    return isinstance(x, numbers.Real) or (isinstance(x, np.ndarray) and x.ndim == 0
                                           and np.isrealobj(x))


class ConstValue:
    """A read-only float64 array with an optional display name, hashed by content."""

    __slots__ = ("array", "name", "_hash")

    def __init__(self, array: np.ndarray, name: str | None) -> None:
        arr = np.array(array, dtype=float, copy=True)
        arr.setflags(write=False)
        self.array = arr
        self.name = name
        self._hash = hash((arr.shape, arr.tobytes(), name))

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, ConstValue) and self.name == other.name
                and self.array.shape == other.array.shape
                and bool(np.array_equal(self.array, other.array)))

    def __repr__(self) -> str:
        return f"ConstValue({self.name or 'unnamed'}, shape {self.array.shape})"


NO_PARAMS = Params()
_INTERNING = threading.Lock()
"""Held while a new node is made and entered in the table, so that one expression is one node
also when threads build it at the same time (lookups of existing nodes take no lock)."""


def _fn(name: str) -> Callable[..., Expr]:
    return registry.function(name)


class Expr:
    """A node of a matrix expression (build them with the public functions).

    Arithmetic follows NumPy: ``A @ B``, ``A + B``, ``A - B``, ``-A``, ``A.T``,
    ``c * A`` and ``A / c`` for scalars, ``A * B`` and ``A / B`` elementwise for
    equal shapes, ``A ** p`` elementwise (p a number or a scalar expression, also
    ``s ** A``), ``X[i, j]`` and slices as NumPy's basic indexing.  NumPy arrays
    and numbers mix in as constants on either side.
    """

    __slots__ = ("op", "args", "params", "shape", "_symbols", "_has_names", "_has_constants",
                 "__weakref__")
    __array_ufunc__ = None  # make ndarray @ Expr defer to Expr.__rmatmul__
    _table: "weakref.WeakValueDictionary[tuple[Any, ...], Expr]" = weakref.WeakValueDictionary()

    op: str
    args: tuple["Expr", ...]
    params: Params
    shape: Shape
    _symbols: dict[str, "Expr"]
    _has_names: bool  # a ``named`` node at or below this one
    _has_constants: bool  # a ``const`` node at or below this one

    @classmethod
    def make(cls, op: str, args: Sequence["Expr"] = (), params: Params = NO_PARAMS,
             shape: Shape = ()) -> "Expr":
        """The unique node with these fields (hash-consing)."""
        args = tuple(args)
        shape = normal_shape(shape)  # names stay Dims
        key = (op, tuple(id(a) for a in args), params, shape)
        node = cls._table.get(key)
        if node is None:
            with _INTERNING:  # look again: another thread may have made it meanwhile
                node = cls._table.get(key)
                if node is None:
                    node = cls._table[key] = cls._new(op, args, params, shape)
        return node

    @classmethod
    def _new(cls, op: str, args: tuple["Expr", ...], params: Params, shape: Shape) -> "Expr":
        node = object.__new__(cls)
        symbols = _merged_symbols(args) if op != "symbol" else None
        for field, value in (("op", op), ("args", args), ("params", params), ("shape", shape)):
            object.__setattr__(node, field, value)
        object.__setattr__(node, "_symbols", symbols if symbols is not None else {params.name: node})
        object.__setattr__(node, "_has_names", op == "named" or any(a._has_names for a in args))
        object.__setattr__(node, "_has_constants", op == "const" or any(a._has_constants for a in args))
        return node

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"kronvec expressions are immutable (cannot set {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"kronvec expressions are immutable (cannot delete {name!r})")

    def __reduce__(self) -> tuple[Callable[..., Expr], tuple[Any, ...]]:
        """Pickle by structure; unpickling interns again, so identity is kept."""
        return (Expr.make, (self.op, self.args, self.params, self.shape))

    # ----------------------------------------------------------------- info
    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def name(self) -> str | None:
        """The symbol's or constant's name, or the name given by :meth:`named`."""
        name: str | None = None
        if self.op in ("symbol", "named"):
            name = self.params.name
        elif self.op == "const":
            name = self.params.value.name
        return name

    @property
    def T(self) -> "Expr":
        """The transpose Aᵀ; for a stack, as in NumPy, all axes reversed (``.mT`` transposes
        the matrices of a stack)."""
        if len(self.shape) <= 2:
            return _fn("matrix_transpose")(self)
        return _fn("transpose")(self)

    @property
    def mT(self) -> "Expr":
        """The matrix transpose: the last two axes swapped (Aᵀ for a matrix, each member
        transposed for a stack), as NumPy's ``.mT``."""
        if len(self.shape) < 2:
            raise ValueError(f"matrix transpose with ndim < 2 is undefined (shape {fmt(self.shape)})")
        return _fn("matrix_transpose")(self)

    def swapaxes(self, axis1: int, axis2: int) -> "Expr":
        """The expression with two axes interchanged, as ``numpy.swapaxes`` (which calls this
        method, so ``np.swapaxes(X, -1, -2)`` works on expressions)."""
        return _fn("swapaxes")(self, axis1, axis2)

    def transpose(self, *axes: Any) -> "Expr":
        """The axes permuted, as ``ndarray.transpose`` (no axes: all reversed)."""
        order = axes[0] if len(axes) == 1 and (axes[0] is None or isinstance(axes[0], (tuple, list))) \
            else axes
        return _fn("transpose")(self, tuple(order) if order else None)

    def named(self, name: str) -> "Expr":
        """This expression, printed as ``name`` wherever it occurs in a result.

        ``F = kv.inv(X.T @ kv.inv(V) @ X).named("F")`` makes the Jacobian print
        as ``(V⁻¹XF)ᵀ ⊗ (FXᵀV⁻¹)``.  Naming changes printing only.
        """
        return _fn("named")(self, name)

    def symbols(self) -> dict[str, "Expr"]:
        """The symbols this expression contains, by name."""
        return dict(self._symbols)

    def walk(self) -> list["Expr"]:
        """Every distinct node once, children before parents."""
        return walk_all((self,))

    # ------------------------------------------------------------ printing
    def __str__(self) -> str:
        return registry.DISPLAY.unicode(self)

    def __repr__(self) -> str:
        return f"<kronvec expression {registry.DISPLAY.python(self)} of shape {fmt(self.shape)}>"

    def latex(self) -> str:
        """LaTeX source of this expression."""
        return registry.DISPLAY.latex(self)

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"

    def __bool__(self) -> bool:
        raise TypeError("the truth value of a kronvec expression is undefined; "
                        "use kv.evaluate(...) to get numbers")

    __hash__ = object.__hash__

    # ----------------------------------------------------------- operators
    def __matmul__(self, other: Any) -> "Expr":
        return _fn("matmul")(self, as_expr(other))

    def __rmatmul__(self, other: Any) -> "Expr":
        if isinstance(other, (np.ndarray, list, tuple)) and np.ndim(other) == 1:
            other = np.reshape(other, (1, -1))  # as in NumPy, a 1-D left operand is a row
        return _fn("matmul")(as_expr(other), self)

    def __add__(self, other: Any) -> "Expr":
        return _fn("add")(self, other)

    def __radd__(self, other: Any) -> "Expr":
        return _fn("add")(other, self)

    def __sub__(self, other: Any) -> "Expr":
        return _fn("add")(self, _fn("scale")(-1.0, as_operand(other, self)))

    def __rsub__(self, other: Any) -> "Expr":
        return _fn("add")(as_operand(other, self), _fn("scale")(-1.0, self))

    def __neg__(self) -> "Expr":
        return _fn("scale")(-1.0, self)

    def __pos__(self) -> "Expr":
        return self

    def __mul__(self, other: Any) -> "Expr":
        return _fn("multiply")(self, other)

    def __rmul__(self, other: Any) -> "Expr":
        return _fn("multiply")(other, self)

    def __truediv__(self, other: Any) -> "Expr":
        if is_number(other) and not other >= BASE:  # (a size given as a name is no constant)
            if other == 0:
                raise ZeroDivisionError("division of an expression by zero")
            return _fn("scale")(1.0 / float(other), self)
        return _fn("multiply")(self, _fn("power")(as_operand(other, self), -1.0), op_name="divide")

    def __rtruediv__(self, other: Any) -> "Expr":
        return _fn("multiply")(as_operand(other, self), _fn("power")(self, -1.0), op_name="divide")

    def __pow__(self, p: Any) -> "Expr":
        if is_number(p) and not p >= BASE:
            return _fn("power")(self, float(p))
        return _fn("pow")(self, as_operand(p, self))

    def __rpow__(self, base: Any) -> "Expr":
        """``s ** A``: the number (or scalar) s raised elementwise to the entries of A."""
        return _fn("pow")(as_operand(base, self), self)

    def __getitem__(self, key: Any) -> "Expr":
        """``X[i, j]``, ``X[:, j]``, ``X[i, :]``, ``X[a:b, c:d]`` and ``x[i]``: NumPy's basic
        indexing, with vectors as ``(n, 1)`` columns (see :mod:`kronvec.indices`)."""
        return _fn("getitem")(self, key)

    def __iter__(self) -> Any:
        raise TypeError("kronvec expressions are not iterable; index them (X[i, j], X[:, j])")


def walk_all(exprs: Iterable[Expr], known: Container[Expr] = ()) -> list[Expr]:
    """Every distinct node of several expressions once, children before parents: O(their
    distinct nodes), where a walk of each (a loss and its gradients share most nodes) costs
    O(outputs × nodes).  Nodes in ``known`` (values computed before) are left out, and so is
    everything below them that no other node reads."""
    seen: set[int] = set()
    order: list[Expr] = []
    stack: list[tuple[Expr, bool]] = [(e, False) for e in reversed(list(exprs))]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in seen or (known and node in known):
            continue
        seen.add(id(node))
        stack.append((node, True))
        stack.extend((a, False) for a in reversed(node.args) if id(a) not in seen)
    return order


_NO_SYMBOLS: dict[str, Expr] = {}


def _merged_symbols(args: tuple[Expr, ...]) -> dict[str, Expr]:
    """The symbols of a new node's arguments; two different symbols with one name meet here
    and are refused.  (Dictionaries are shared between nodes, never changed.)"""
    merged = _NO_SYMBOLS
    owned = False  # merged was made here (no node holds it yet): extended in place, not copied
    for a in args:
        syms = a._symbols
        if syms is merged or not syms:
            continue
        if not merged:
            merged = syms
            continue
        if len(syms) == 1 and owned:  # a symbol (or its function) joining a dictionary made here
            for name, node in syms.items():
                other = merged.setdefault(name, node)
                if other is not node:
                    raise_name_clash(other, node)
            continue
        small, big = (syms, merged) if len(syms) <= len(merged) else (merged, syms)
        shared = [name for name in small if name in big]  # O(len(small)): a product of m
        # factors merges m dictionaries, which must not cost O(m²)
        if not all(map(operator.is_, map(big.__getitem__, shared), map(small.__getitem__, shared))):
            for name in shared:
                if big[name] is not small[name]:
                    raise_name_clash(big[name], small[name])
        if len(shared) == len(small):
            if big is not merged:
                merged, owned = big, False
        elif owned and big is merged:
            merged.update(small)
        else:
            merged, owned = {**big, **small}, True
    return merged


def describe_symbol(s: Expr) -> str:
    """``V (3, 3), symmetric`` and the like."""
    flags = ["positive definite" if s.params.positive_definite else
             "symmetric" if s.params.symmetric and s.shape != () else ""]
    shape = whole_shape(s.params.name, s.shape)  # of the whole stack, in a block of it
    return ", ".join([f"{s.params.name} {fmt(shape)}"] + [f for f in flags if f])


def raise_name_clash(a: Expr, b: Expr) -> None:
    """Two different symbols with one name: a ``ShapeError`` saying what differs."""
    if len(a.shape) == len(b.shape) and a.params.symmetric == b.params.symmetric \
            and a.params.positive_definite == b.params.positive_definite:
        unify(list(zip(a.shape, b.shape)), f"two symbols named {a.params.name!r} with inferred sizes")
    diffs = []
    if a.shape != b.shape:
        diffs.append(f"shapes {fmt(a.shape)} and {fmt(b.shape)}")
    for flag in ("symmetric", "positive_definite"):
        if getattr(a.params, flag) != getattr(b.params, flag):
            diffs.append(f"{flag.replace('_', ' ')}={getattr(a.params, flag)} and "
                         f"{getattr(b.params, flag)}")
    raise ShapeError(f"two different symbols are named {a.params.name!r} ({'; '.join(diffs)}): "
                     f"{describe_symbol(a)} and {describe_symbol(b)}; give them different names "
                     f"or use one symbol")


def as_expr(x: Any) -> Expr:
    """An expression for ``x`` (expressions pass through; arrays become constants)."""
    if isinstance(x, Expr):
        return x
    if isinstance(x, (numbers.Number, np.ndarray, np.generic, list, tuple)):
        return _fn("const")(x)
    raise TypeError(f"cannot use a {type(x).__name__} in a kronvec expression")


def as_operand(x: Any, *others: Any) -> Expr:
    """``x`` as an operand of an elementwise or broadcasting operation with ``others``.

    The one rule for shapes: NumPy's, with vectors as ``(n, 1)`` columns.  A
    1-D array (or list) is an ``(n, 1)`` column when every other operand that
    is an expression is a matrix (the v1 convention); next to an expression of
    no dimension (a () scalar such as ``logdet(A)``), of one, or of three or
    more (a per-member result such as ``logdet`` of a stack, a stack itself) it
    stays 1-D and NumPy's broadcasting decides.  Other values become constants
    of their own shape.
    """
    if isinstance(x, Expr):
        return x
    return _constant_operand(x, any(isinstance(o, Expr) and o.ndim != 2 for o in others))


def as_operands(*xs: Any) -> list[Expr]:
    """Every argument as an operand next to the others (:func:`as_operand`)."""
    if all(isinstance(x, Expr) for x in xs):
        return list(xs)
    numpy_1d = any(isinstance(o, Expr) and o.ndim != 2 for o in xs)
    return [x if isinstance(x, Expr) else _constant_operand(x, numpy_1d) for x in xs]


def _constant_operand(x: Any, numpy_1d: bool) -> Expr:
    if numpy_1d and isinstance(x, (np.ndarray, list, tuple)) and np.ndim(x) == 1:
        return _fn("const")(x, column=False)
    return as_expr(x)


def const_scalar(e: Expr) -> float | None:
    """The number a constant scalar expression stands for, else None."""
    if e.op == "const" and e.params.value.array.size == 1 and e.params.value.name is None:
        return float(e.params.value.array.reshape(()))
    if e.op == "eye" and e.shape == (1, 1):
        return 1.0
    if e.op == "zeros" and is_scalar(e):
        return 0.0
    return None


# ----------------------------------------------------------------- rewriting
def rebuild(node: Expr, args: Sequence[Expr]) -> Expr:
    """``node`` with new arguments, through the canonicalising constructors."""
    if all(a is b for a, b in zip(args, node.args)):
        return node
    return registry.spec(node.op).rebuilt(node, list(args))


def substitute(e: Expr, mapping: dict[int, Expr]) -> Expr:
    """``e`` with nodes replaced (``mapping`` keyed by ``id(node)``), children first."""
    memo: dict[int, Expr] = {}
    for node in e.walk():
        if id(node) in mapping:
            memo[id(node)] = mapping[id(node)]
        elif node.args:
            memo[id(node)] = rebuild(node, [memo[id(a)] for a in node.args])
        else:
            memo[id(node)] = node
    return memo[id(e)]


def strip_names(e: Expr) -> Expr:
    """The expression without ``named`` wrappers (names affect printing only)."""
    if not e._has_names:
        return e
    memo: dict[int, Expr] = {}
    for node in e.walk():
        if node.op == "named":
            memo[id(node)] = memo[id(node.args[0])]
        elif node.args:
            memo[id(node)] = rebuild(node, [memo[id(a)] for a in node.args])
        else:
            memo[id(node)] = node
    return memo[id(e)]


def display_names(f: Expr) -> dict[Expr, str]:
    """Display names given with ``.named()``, for the plain nodes they stand for."""
    names: dict[Expr, str] = {}
    for node in f.walk() if f._has_names else ():
        if node.op == "named":
            plain = strip_names(node.args[0])
            names.setdefault(plain, node.params.name)
            t = _fn("matrix_transpose")(plain)
            if t is not plain:
                names.setdefault(t, node.params.name + "ᵀ")
    return names
