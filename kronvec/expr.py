"""Matrix expressions: an immutable, interned DAG with shapes checked on build.

Every node is an :class:`Expr` with an operation name ``op``, argument nodes
``args``, hashable ``params`` and a ``shape`` (``()`` for scalars, ``(r, c)``
otherwise).  Nodes are hash-consed: building the same expression twice gives
the *same* object, so structural equality is identity and subexpressions are
shared for free.

The constructors below are *canonicalising*: they apply the cheap local
identities that keep closed forms short,

* (Aᵀ)ᵀ = A, (AB)ᵀ = BᵀAᵀ, (A + B)ᵀ = Aᵀ + Bᵀ, (A⁻¹)ᵀ = (Aᵀ)⁻¹ (inverse outside),
  the transpose of a 1×1 matrix is itself;
* products are flattened, identities dropped, A⁻¹A = AA⁻¹ = I cancelled and
  scalar factors pulled to the front;
* sums are flattened and equal terms merged (2A instead of A + A);
* (A⁻¹)⁻¹ = A, (cA)⁻¹ = c⁻¹A⁻¹, tr(Aᵀ) = tr(A), zeros absorb and vanish.

They never use a property that depends on values (such as the symmetry of a
bound matrix), so an expression always means what it says.
"""
from __future__ import annotations

import numbers
import weakref
from typing import Any, Iterable, Sequence

import numpy as np

from .errors import ShapeError

Shape = tuple[int, ...]

__all__ = [
    "Expr", "Matrix", "Vector", "Scalar", "Constant", "as_expr", "identity", "eye", "zeros", "ones",
    "matmul", "add", "scale", "smul", "transpose", "inv", "solve", "trace", "det",
    "logdet", "kron", "hadamard", "power", "elementwise", "sum", "norm", "diag",
    "matrix_power", "expm", "expm_frechet", "kron_contract", "is_scalar", "ELEMENTWISE_FUNCS",
]

ELEMENTWISE_FUNCS = ("exp", "log", "sin", "cos", "tanh", "sqrt")


def _fmt(shape: Shape) -> str:
    return str(tuple(shape))


def is_scalar(shape_or_expr: Any) -> bool:
    """True for shape ``()`` or ``(1, 1)``: both count as scalars."""
    shape = shape_or_expr.shape if isinstance(shape_or_expr, Expr) else shape_or_expr
    return tuple(shape) in ((), (1, 1))


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


class Expr:
    """A node of a matrix expression (build them with the public functions).

    Arithmetic follows NumPy: ``A @ B``, ``A + B``, ``A - B``, ``-A``, ``A.T``,
    ``c * A`` and ``A / c`` for scalars, ``A * B`` and ``A / B`` elementwise for
    equal shapes, ``A ** p`` elementwise.  NumPy arrays and numbers mix in as
    constants on either side.
    """

    __slots__ = ("op", "args", "params", "shape", "__weakref__")
    __array_ufunc__ = None  # make ndarray @ Expr defer to Expr.__rmatmul__
    _table: "weakref.WeakValueDictionary[tuple, Expr]" = weakref.WeakValueDictionary()

    op: str
    args: tuple["Expr", ...]
    params: tuple
    shape: Shape

    @classmethod
    def make(cls, op: str, args: Sequence["Expr"] = (), params: tuple = (),
             shape: Shape = ()) -> "Expr":
        """The unique node with these fields (hash-consing)."""
        args = tuple(args)
        shape = tuple(int(s) for s in shape)
        key = (op, tuple(id(a) for a in args), params, shape)
        node = cls._table.get(key)
        if node is None:
            node = object.__new__(cls)
            for field, value in (("op", op), ("args", args), ("params", params), ("shape", shape)):
                object.__setattr__(node, field, value)
            cls._table[key] = node
        return node

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"kronvec expressions are immutable (cannot set {name!r})")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"kronvec expressions are immutable (cannot delete {name!r})")

    def __reduce__(self) -> tuple:
        """Pickle by structure; unpickling interns again, so identity is kept."""
        return (Expr.make, (self.op, self.args, self.params, self.shape))

    # ----------------------------------------------------------------- info
    @property
    def ndim(self) -> int:
        return len(self.shape)

    @property
    def name(self) -> str | None:
        """The symbol's or constant's name, or the name given by :meth:`named`."""
        if self.op in ("symbol", "named"):
            return self.params[0]
        if self.op == "const":
            return self.params[0].name
        return None

    @property
    def T(self) -> "Expr":
        """The transpose Aᵀ."""
        return transpose(self)

    def named(self, name: str) -> "Expr":
        """This expression, printed as ``name`` wherever it occurs in a result.

        ``F = kv.inv(X.T @ kv.inv(V) @ X).named("F")`` makes the Jacobian print
        as ``(V⁻¹XF)ᵀ ⊗ (FXᵀV⁻¹)``.  Naming changes printing only.
        """
        if not isinstance(name, str) or not name:
            raise TypeError("named() needs a non-empty string")
        return Expr.make("named", (self,), (name,), self.shape)

    def symbols(self) -> dict[str, "Expr"]:
        """The symbols this expression contains, by name."""
        found: dict[str, Expr] = {}
        for node in self.walk():
            if node.op == "symbol":
                other = found.setdefault(node.params[0], node)
                if other is not node:
                    raise ShapeError(
                        f"two different symbols are named {node.params[0]!r}: "
                        f"shapes {_fmt(other.shape)} and {_fmt(node.shape)}")
        return found

    def walk(self) -> Iterable["Expr"]:
        """Every distinct node once, children before parents."""
        seen: set[int] = set()
        order: list[Expr] = []
        stack: list[tuple[Expr, bool]] = [(self, False)]
        while stack:
            node, expanded = stack.pop()
            if expanded:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((a, False) for a in reversed(node.args) if id(a) not in seen)
        return order

    def depends_on(self, symbol: "Expr") -> bool:
        return any(n is symbol for n in self.walk())

    # ------------------------------------------------------------ printing
    def __str__(self) -> str:
        return _printing.to_unicode(self)

    def __repr__(self) -> str:
        return f"<kronvec expression {_printing.to_python(self)} of shape {_fmt(self.shape)}>"

    def latex(self) -> str:
        """LaTeX source of this expression."""
        return _printing.to_latex(self)

    def _repr_latex_(self) -> str:
        return f"${self.latex()}$"

    def __bool__(self) -> bool:
        raise TypeError("the truth value of a kronvec expression is undefined; "
                        "use kv.evaluate(...) to get numbers")

    __hash__ = object.__hash__

    # ----------------------------------------------------------- operators
    def __matmul__(self, other: Any) -> "Expr":
        return matmul(self, as_expr(other))

    def __rmatmul__(self, other: Any) -> "Expr":
        if isinstance(other, (np.ndarray, list, tuple)) and np.ndim(other) == 1:
            other = np.reshape(other, (1, -1))  # as in NumPy, a 1-D left operand is a row
        return matmul(as_expr(other), self)

    def __add__(self, other: Any) -> "Expr":
        return _broadcast_add(self, as_expr(other))

    def __radd__(self, other: Any) -> "Expr":
        return _broadcast_add(as_expr(other), self)

    def __sub__(self, other: Any) -> "Expr":
        return _broadcast_add(self, scale(-1.0, as_expr(other)))

    def __rsub__(self, other: Any) -> "Expr":
        return _broadcast_add(as_expr(other), scale(-1.0, self))

    def __neg__(self) -> "Expr":
        return scale(-1.0, self)

    def __pos__(self) -> "Expr":
        return self

    def __mul__(self, other: Any) -> "Expr":
        return _multiply(self, other)

    def __rmul__(self, other: Any) -> "Expr":
        return _multiply(other, self)

    def __truediv__(self, other: Any) -> "Expr":
        if _is_number(other):
            if other == 0:
                raise ZeroDivisionError("division of an expression by zero")
            return scale(1.0 / float(other), self)
        return _multiply(self, power(as_expr(other), -1.0), op_name="divide")

    def __rtruediv__(self, other: Any) -> "Expr":
        return _multiply(other, power(self, -1.0), op_name="divide")

    def __pow__(self, p: Any) -> "Expr":
        if not _is_number(p):
            raise TypeError("A ** p needs a number p (elementwise power)")
        return power(self, float(p))


# ---------------------------------------------------------------- leaves
def Matrix(name: str, shape: Sequence[int], symmetric: bool = False,
           positive_definite: bool = False) -> Expr:
    """A matrix symbol.

    Parameters
    ----------
    name : str
        The name values are bound by (``kv.evaluate(F, X=X0)``).
    shape : (int, int)
        Rows and columns.
    symmetric : bool
        Declares V = Vᵀ.  ``kv.grad`` then returns the gradient in the space of
        symmetric matrices, sym(G) = (G + Gᵀ)/2; ``kv.jacobian`` stays the
        unconstrained map.
    positive_definite : bool
        Declares V symmetric positive definite (implies ``symmetric``):
        inverses and determinants of V use a Cholesky factorization when the
        bound value is symmetric.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a symbol name must be an identifier, got {name!r}")
    shape = tuple(shape)
    if len(shape) != 2 or any(not isinstance(s, (int, np.integer)) or s < 1 for s in shape):
        raise ShapeError(f"Matrix {name!r}: shape must be two positive integers, got {shape}")
    symmetric = bool(symmetric or positive_definite)
    if symmetric and shape[0] != shape[1]:
        raise ShapeError(f"Matrix {name!r}: a symmetric matrix must be square, got {_fmt(shape)}")
    return Expr.make("symbol", (), (name, symmetric, bool(positive_definite)), shape)


def Vector(name: str, n: int) -> Expr:
    """A column-vector symbol: an ``(n, 1)`` matrix."""
    return Matrix(name, (int(n), 1))


def Scalar(name: str) -> Expr:
    """A scalar symbol (shape ``()``)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a symbol name must be an identifier, got {name!r}")
    return Expr.make("symbol", (), (name, True, False), ())


def Constant(value: Any, name: str | None = None) -> Expr:
    """A constant matrix (or scalar) with an optional display name."""
    arr = np.asarray(value)
    if np.iscomplexobj(arr):
        raise TypeError("kronvec works in real arithmetic; complex constants are not supported")
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim > 2:
        raise ShapeError(f"a constant must be a scalar or a matrix, got shape {arr.shape}")
    if arr.ndim == 2 and name is None and arr.shape[0] == arr.shape[1] \
            and np.array_equal(arr, arr[0, 0] * np.eye(arr.shape[0])) and arr[0, 0] != 0:
        return scale(float(arr[0, 0]), identity(arr.shape[0]))
    if arr.ndim == 2 and name is None and not arr.any():
        return zeros(arr.shape)
    return Expr.make("const", (), (ConstValue(arr, name),), arr.shape)


def identity(n: int) -> Expr:
    """The n×n identity I."""
    if int(n) != n or n < 1:
        raise ShapeError(f"eye: the size must be a positive integer, got {n!r}")
    return Expr.make("identity", (), (), (int(n), int(n)))


def eye(n: int) -> Expr:
    """The n×n identity matrix I (``kv.eye(n)``), e.g. for ``inv(X.T @ X + 0.1 * eye(3))``."""
    return identity(n)


def _shape_of(dims: tuple) -> Shape:
    """A shape from ``(r, c)`` or from the two integers ``r, c``."""
    shape = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else tuple(dims)
    if any(int(d) != d or d < 1 for d in shape) or len(shape) not in (0, 2):
        raise ShapeError(f"a shape must be () or two positive integers, got {shape}")
    return tuple(int(d) for d in shape)


def zeros(*shape: Any) -> Expr:
    """The zero matrix of a shape, ``zeros(r, c)`` or ``zeros((r, c))``."""
    return Expr.make("zeros", (), (), _shape_of(shape))


def ones(*shape: Any) -> Expr:
    """The all-ones matrix J, ``ones(r, c)`` or ``ones((r, c))``; ``ones(())`` is the scalar 1."""
    shape = _shape_of(shape)
    if shape == (1, 1):
        return identity(1)
    if shape == ():
        return Constant(1.0)
    return Expr.make("ones", (), (), shape)


def _is_number(x: Any) -> bool:
    return isinstance(x, numbers.Real) or (isinstance(x, np.ndarray) and x.ndim == 0
                                           and np.isrealobj(x))


def as_expr(x: Any) -> Expr:
    """An expression for ``x`` (expressions pass through; arrays become constants)."""
    if isinstance(x, Expr):
        return x
    if isinstance(x, (numbers.Number, np.ndarray, np.generic, list, tuple)):
        return Constant(x)
    raise TypeError(f"cannot use a {type(x).__name__} in a kronvec expression")


def _const_scalar(e: Expr) -> float | None:
    """The number a constant scalar expression stands for, else None."""
    if e.op == "const" and e.params[0].array.size == 1 and e.params[0].name is None:
        return float(e.params[0].array.reshape(()))
    if e.op == "identity" and e.shape == (1, 1):
        return 1.0
    if e.op == "zeros" and is_scalar(e):
        return 0.0
    return None


def strip_names(e: Expr) -> Expr:
    """The expression without ``named`` wrappers (names affect printing only)."""
    if not any(n.op == "named" for n in e.walk()):
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
    for node in f.walk():
        if node.op == "named":
            plain = strip_names(node.args[0])
            names.setdefault(plain, node.params[0])
            t = transpose(plain)
            if t is not plain:
                names.setdefault(t, node.params[0] + "ᵀ")
    return names


def rebuild(node: Expr, args: Sequence[Expr]) -> Expr:
    """``node`` with new arguments, through the canonicalising constructors."""
    if all(a is b for a, b in zip(args, node.args)):
        return node
    return _REBUILD[node.op](node, list(args))


# ----------------------------------------------------------- constructors
def transpose(a: Expr) -> Expr:
    """Aᵀ, pushed towards the leaves: (AB)ᵀ = BᵀAᵀ, (A + B)ᵀ = Aᵀ + Bᵀ, (A⁻¹)ᵀ = (Aᵀ)⁻¹, ...

    Works bottom-up with an explicit stack, so deep expressions do not recurse.
    """
    a = as_expr(a)
    direct = _transpose_directly(a)
    if direct is not None:
        return direct
    done: dict[Expr, Expr] = {}
    stack: list[tuple[Expr, bool]] = [(a, False)]
    while stack:
        node, ready = stack.pop()
        if node in done:
            continue
        direct = _transpose_directly(node)
        if direct is not None:
            done[node] = direct
            continue
        inner = _PUSH_THROUGH[node.op]
        kids = list(node.args) if inner is None else [node.args[i] for i in inner]
        if ready:
            done[node] = _TRANSPOSE_RULES[node.op](node, [done[k] for k in kids])
        else:
            stack.append((node, True))
            stack.extend((k, False) for k in kids if k not in done)
    return done[a]


def _transpose_directly(a: Expr) -> Expr | None:
    """Aᵀ when it needs no transposed arguments, else None."""
    if is_scalar(a) or a.op in ("zeros", "identity", "ones") and a.shape[0] == a.shape[1]:
        return a
    if a.op == "transpose":
        return a.args[0]
    if a.op in ("zeros", "ones"):
        return Expr.make(a.op, (), (), a.shape[::-1])
    if a.op == "diag":
        return a
    if a.op not in _PUSH_THROUGH:
        return Expr.make("transpose", (a,), (), a.shape[::-1])
    return None


# which arguments a transpose passes through, and how the result is rebuilt
_PUSH_THROUGH: dict[str, tuple[int, ...] | None] = {  # None: every argument
    "matmul": None, "add": None, "scale": (0,), "smul": (1,), "inv": (0,), "kron": (0, 1),
    "hadamard": (0, 1), "power": (0,), "matpow": (0,), "expm": (0,),
    **{f: (0,) for f in ELEMENTWISE_FUNCS},
}
_TRANSPOSE_RULES = {
    "matmul": lambda a, t: matmul(*reversed(t)),
    "add": lambda a, t: add(*t),
    "scale": lambda a, t: scale(a.params[0], t[0]),
    "smul": lambda a, t: smul(a.args[0], t[0]),
    "inv": lambda a, t: inv(t[0]),
    "kron": lambda a, t: kron(t[0], t[1]),
    "hadamard": lambda a, t: hadamard(t[0], t[1]),
    "power": lambda a, t: Expr.make("power", (t[0],), a.params, a.shape[::-1]),
    "matpow": lambda a, t: Expr.make("matpow", (t[0],), a.params, a.shape),
    "expm": lambda a, t: Expr.make("expm", (t[0],), a.params, a.shape),
    **{f: (lambda a, t: Expr.make(a.op, (t[0],), a.params, a.shape[::-1])) for f in ELEMENTWISE_FUNCS},
}


def _check_2d(opname: str, *xs: Expr) -> None:
    for x in xs:
        if x.ndim != 2:
            raise ShapeError(f"{opname}: needs matrices, got a scalar of shape {_fmt(x.shape)}")


def matmul(*factors: Expr) -> Expr:
    """The matrix product A₁A₂⋯Aₖ (shapes checked pairwise)."""
    factors = [as_expr(f) for f in factors]
    _check_2d("matmul", *factors)
    for left, right in zip(factors, factors[1:]):
        if left.shape[1] != right.shape[0]:
            raise ShapeError(f"matmul: shapes {_fmt(left.shape)} and {_fmt(right.shape)} "
                             f"are not aligned ({left.shape[1]} != {right.shape[0]})")
    shape = (factors[0].shape[0], factors[-1].shape[1])
    coef = 1.0
    scalars: list[Expr] = []
    flat: list[Expr] = []
    for f in factors:
        while f.op in ("scale", "smul"):
            if f.op == "scale":
                coef *= f.params[0]
                f = f.args[0]
            else:
                scalars.append(f.args[0])
                f = f.args[1]
        if f.op == "zeros":
            return zeros(shape)
        flat.extend(p for p in (f.args if f.op == "matmul" else (f,)) if p.op != "identity")
    flat = _merge_powers(_cancel_inverses(flat))
    if not flat:
        core = identity(shape[0])
    elif len(flat) == 1:
        core = flat[0]
    else:
        core = Expr.make("matmul", flat, (), shape)
    for s in scalars:
        core = smul(s, core)
    return scale(coef, core)


def _merge_powers(flat: list[Expr]) -> list[Expr]:
    """Write runs of one factor as a power: BBᵏ = Bᵏ⁺¹ (so equal terms can merge)."""
    out: list[tuple[Expr, int]] = []
    for f in flat:
        base, k = (f.args[0], f.params[0]) if f.op == "matpow" else (f, 1)
        if out and out[-1][0] is base:
            out[-1] = (base, out[-1][1] + k)
        else:
            out.append((base, k))
    return [b if k == 1 else Expr.make("matpow", (b,), (k,), b.shape) for b, k in out]


def _cancel_inverses(flat: list[Expr]) -> list[Expr]:
    """Remove M⁻¹M and MM⁻¹ from a flat product, also when M is itself a product."""
    changed = True
    while changed:
        changed = False
        for i, f in enumerate(flat):
            if f.op != "inv":
                continue
            base = f.args[0]
            parts = list(base.args) if base.op == "matmul" else [base]
            k = len(parts)
            if flat[i + 1:i + 1 + k] == parts:
                flat = flat[:i] + flat[i + 1 + k:]
            elif i >= k and flat[i - k:i] == parts:
                flat = flat[:i - k] + flat[i + 1:]
            else:
                continue
            changed = True
            break
    return flat


def add(*terms: Expr) -> Expr:
    """The sum of equally shaped terms, with equal terms merged."""
    terms = [as_expr(t) for t in terms]
    shape = terms[0].shape
    for t in terms[1:]:
        if t.shape != shape:
            if is_scalar(t) and is_scalar(shape):
                shape = (1, 1)
                continue
            raise ShapeError(f"add: shapes {_fmt(shape)} and {_fmt(t.shape)} differ")
    coefs: dict[int, float] = {}
    bases: dict[int, Expr] = {}
    for t in terms:
        for part in (t.args if t.op == "add" else (t,)):
            c, base = (part.params[0], part.args[0]) if part.op == "scale" else (1.0, part)
            if base.op == "zeros":
                continue
            k = id(base)
            bases.setdefault(k, base)
            coefs[k] = coefs.get(k, 0.0) + c
    nonzero = [k for k in bases if coefs[k] != 0.0]
    if not nonzero:
        return zeros(shape)
    common = abs(coefs[nonzero[0]])
    if len(nonzero) > 1 and common != 1.0 and all(abs(coefs[k]) == common for k in nonzero):
        # A/2 - B/2 = (A - B)/2, so that products containing it can pull the 1/2 out
        return scale(common, add(*[scale(coefs[k] / common, bases[k]) for k in nonzero]))
    kept = [_as_shape(scale(coefs[k], bases[k]), shape) for k in nonzero]
    if len(kept) == 1:
        return kept[0]
    return Expr.make("add", kept, (), shape)


def _as_shape(e: Expr, shape: Shape) -> Expr:
    """A scalar of shape () where a (1, 1) one is needed, as s·I₁ (others unchanged)."""
    if e.shape == shape or tuple(shape) != (1, 1):
        return e
    return Expr.make("smul", (e, identity(1)), (), (1, 1))


def _broadcast_add(a: Expr, b: Expr) -> Expr:
    """A + B following NumPy broadcasting of scalars over matrices."""
    if a.shape != b.shape:
        if a.shape == () and b.ndim == 2 and not is_scalar(b):
            a = smul(a, ones(b.shape))
        elif b.shape == () and a.ndim == 2 and not is_scalar(a):
            b = smul(b, ones(a.shape))
    return add(a, b)


def scale(c: float, a: Expr) -> Expr:
    """c·A for a number c."""
    c = float(c)
    a = as_expr(a)
    if c == 1.0:
        return a
    if c == 0.0 or a.op == "zeros":
        return zeros(a.shape)
    if a.op == "scale":
        return scale(c * a.params[0], a.args[0])
    value = _const_scalar(a)
    if value is not None and a.shape == ():
        return Constant(c * value)
    return Expr.make("scale", (a,), (c,), a.shape)


def smul(s: Expr, a: Expr) -> Expr:
    """s·A for a scalar expression s (shape ``()`` or ``(1, 1)``)."""
    s, a = as_expr(s), as_expr(a)
    if not is_scalar(s):
        if is_scalar(a):
            s, a = a, s
        else:
            raise ShapeError(f"scalar multiply: {_fmt(s.shape)} is not a scalar (with {_fmt(a.shape)})")
    shape = a.shape if not (a.shape == () and s.shape == (1, 1)) else (1, 1)
    value = _const_scalar(s)
    if value is not None:
        return _as_shape(scale(value, a), shape)
    if s.op == "scale":
        return scale(s.params[0], smul(s.args[0], a))
    if a.op == "scale":
        return scale(a.params[0], smul(s, a.args[0]))
    if a.op == "zeros" or s.op == "zeros":
        return zeros(shape)
    if a.op == "smul":
        return smul(smul(s, a.args[0]), a.args[1])
    if a.shape == () and _power_base(s)[0] is _power_base(a)[0]:
        return power(_power_base(a)[0], _power_base(s)[1] + _power_base(a)[1])
    avalue = _const_scalar(a)
    if avalue is not None and is_scalar(a):
        return _as_shape(scale(avalue, s), shape)
    return Expr.make("smul", (s, a), (), shape)


def _power_base(e: Expr) -> tuple[Expr, float]:
    """(b, p) with e = b^p (p = 1 for anything but a power)."""
    return (e.args[0], e.params[0]) if e.op == "power" else (e, 1.0)


def _multiply(x: Any, y: Any, op_name: str = "multiply") -> Expr:
    """``x * y``: scaling when one side is a scalar, Hadamard when shapes agree."""
    if _is_number(x):
        return scale(float(x), as_expr(y))
    if _is_number(y):
        return scale(float(y), as_expr(x))
    a, b = as_expr(x), as_expr(y)
    if a.shape == b.shape and not (a.shape == ()):
        return hadamard(a, b)
    if is_scalar(a) or is_scalar(b):
        return smul(a, b)
    raise ShapeError(f"{op_name} (elementwise): shapes {_fmt(a.shape)} and {_fmt(b.shape)} differ")


def _square(opname: str, a: Expr) -> Expr:
    a = as_expr(a)
    if a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ShapeError(f"{opname}: needs a square matrix, got shape {_fmt(a.shape)}")
    return a


def inv(a: Expr) -> Expr:
    """The matrix inverse A⁻¹ (evaluated by factorization and solves)."""
    a = _square("inv", a)
    if a.op == "inv":
        return a.args[0]
    if a.op == "identity":
        return a
    if a.op == "zeros":
        raise np.linalg.LinAlgError("inv: the zero matrix is singular")
    if a.op == "scale":
        return scale(1.0 / a.params[0], inv(a.args[0]))
    return Expr.make("inv", (a,), (), a.shape)


def solve(a: Expr, b: Expr) -> Expr:
    """A⁻¹B, computed by a solve with a factorization of A (never an inverse)."""
    a = _square("solve", a)
    b = as_expr(b)
    _check_2d("solve", b)
    if a.shape[1] != b.shape[0]:
        raise ShapeError(f"solve: shapes {_fmt(a.shape)} and {_fmt(b.shape)} are not aligned")
    return matmul(inv(a), b)


def trace(a: Expr) -> Expr:
    """tr(A) = Σᵢ Aᵢᵢ, a scalar, for a square A.

    Its differential is tr(dA); ∇_X tr(AXB) = AᵀBᵀ (Matrix Cookbook eq. 101).
    """
    a = _square("trace", a)
    if a.op == "transpose":
        return trace(a.args[0])
    if a.op == "scale":
        return scale(a.params[0], trace(a.args[0]))
    if a.op == "identity":
        return Constant(float(a.shape[0]))
    if a.op == "zeros":
        return zeros(())
    return Expr.make("trace", (a,), (), ())


def det(a: Expr) -> Expr:
    """det(A), a scalar, for a square A (computed from an LU or Cholesky factorization).

    Its differential is det(A) tr(A⁻¹ dA) (Jacobi's formula; Matrix Cookbook eq. 46).
    """
    a = _square("det", a)
    if a.op == "transpose":
        return det(a.args[0])
    return Expr.make("det", (a,), (), ())


def logdet(a: Expr) -> Expr:
    """log|det A|, a scalar (equal to log det A when det A > 0).

    Its differential is tr(A⁻¹ dA) either way (Matrix Cookbook eq. 57).
    """
    a = _square("logdet", a)
    if a.op == "transpose":
        return logdet(a.args[0])
    return Expr.make("logdet", (a,), (), ())


def kron(a: Expr, b: Expr) -> Expr:
    """The Kronecker product A ⊗ B."""
    a, b = as_expr(a), as_expr(b)
    _check_2d("kron", a, b)
    shape = (a.shape[0] * b.shape[0], a.shape[1] * b.shape[1])
    if a.op == "zeros" or b.op == "zeros":
        return zeros(shape)
    return Expr.make("kron", (a, b), (), shape)


def kron_contract(big: Expr, other: Expr, small_shape: Shape, side: str) -> Expr:
    """Contract ``big`` (shaped like A ⊗ B) with one Kronecker factor.

    With ``big`` viewed as blocks ``big[i*p + k, j*q + l]`` for A of shape
    ``(m, n)`` and B of shape ``(p, q)``:

    * ``side="a"``: returns the (m, n) matrix Σₖₗ big[ip+k, jq+l] · other[k, l]
      (``other`` is B); this is the adjoint of A ↦ A ⊗ B;
    * ``side="b"``: returns the (p, q) matrix Σᵢⱼ big[ip+k, jq+l] · other[i, j]
      (``other`` is A); the adjoint of B ↦ A ⊗ B.
    """
    big, other = as_expr(big), as_expr(other)
    small_shape = tuple(small_shape)
    expect = (small_shape[0] * other.shape[0], small_shape[1] * other.shape[1])
    if side == "b":
        expect = (other.shape[0] * small_shape[0], other.shape[1] * small_shape[1])
    if big.shape != expect:
        raise ShapeError(f"kron_contract: shapes {_fmt(big.shape)} and {_fmt(other.shape)} do not fit")
    if big.op == "zeros" or other.op == "zeros":
        return zeros(small_shape)
    return Expr.make("kron_contract", (big, other), (side,), small_shape)


def hadamard(a: Expr, b: Expr) -> Expr:
    """The elementwise (Hadamard) product A ⊙ B of equally shaped matrices."""
    a, b = as_expr(a), as_expr(b)
    if a.shape != b.shape:
        raise ShapeError(f"hadamard: shapes {_fmt(a.shape)} and {_fmt(b.shape)} differ")
    if is_scalar(a):
        return smul(a, b)
    if a.op == "zeros" or b.op == "zeros":
        return zeros(a.shape)
    if a.op == "ones":
        return b
    if b.op == "ones":
        return a
    if a.op == "scale":
        return scale(a.params[0], hadamard(a.args[0], b))
    if b.op == "scale":
        return scale(b.params[0], hadamard(a, b.args[0]))
    return Expr.make("hadamard", (a, b), (), a.shape)


def power(a: Expr, p: float) -> Expr:
    """The elementwise power A∘ᵖ."""
    a = as_expr(a)
    p = float(p)
    if p == 1.0:
        return a
    if p == 0.0:
        return ones(a.shape)
    if a.op == "power" and p.is_integer():
        return power(a.args[0], a.params[0] * p)
    value = _const_scalar(a)
    if value is not None and a.shape == ():
        return Constant(value ** p)
    return Expr.make("power", (a,), (p,), a.shape)


def elementwise(fname: str, a: Expr) -> Expr:
    """An elementwise function (exp, log, sin, cos, tanh, sqrt) of A."""
    if fname not in ELEMENTWISE_FUNCS:
        raise ValueError(f"unknown elementwise function {fname!r}")
    a = as_expr(a)
    if fname == "sqrt":
        return power(a, 0.5)
    if fname == "log" and a.op == "exp" or fname == "exp" and a.op == "log":
        return a.args[0]
    return Expr.make(fname, (a,), (), a.shape)


def sum(a: Expr) -> Expr:  # noqa: A001 - the public name kv.sum
    """Σᵢⱼ Aᵢⱼ, the sum of all entries, a scalar.

    Its differential is Σᵢⱼ dAᵢⱼ = tr(𝟙ᵀ dA), so its gradient is the ones matrix.
    """
    a = as_expr(a)
    if a.shape == ():
        return a
    return Expr.make("sum", (a,), (), ())


def norm(a: Expr) -> Expr:
    """The Frobenius norm ‖A‖ = (Σᵢⱼ Aᵢⱼ²)^½, a scalar."""
    a = as_expr(a)
    return Expr.make("norm", (a,), (), ())


def diag(a: Expr) -> Expr:
    """diag(v) for an (n, 1) vector: the (n, n) diagonal matrix; for a square
    (n, n) matrix A: its diagonal as an (n, 1) vector."""
    a = as_expr(a)
    _check_2d("diag", a)
    if a.shape[1] == 1 and a.shape[0] >= 1 and a.shape != (1, 1):
        return Expr.make("diag", (a,), (), (a.shape[0], a.shape[0]))
    if a.shape[0] != a.shape[1]:
        raise ShapeError(f"diag: needs an (n, 1) vector or a square matrix, got {_fmt(a.shape)}")
    if a.shape == (1, 1):
        return a
    if a.op == "diag":
        return a.args[0]
    return Expr.make("diagpart", (a,), (), (a.shape[0], 1))


def matrix_power(a: Expr, k: int) -> Expr:
    """Aᵏ for an integer k ≥ 0 (A⁰ = I)."""
    a = _square("matrix_power", a)
    if int(k) != k or k < 0:
        raise ValueError(f"matrix_power: k must be an integer >= 0, got {k!r}")
    k = int(k)
    if k == 0:
        return identity(a.shape[0])
    if k == 1:
        return a
    if a.op == "identity":
        return a
    return Expr.make("matpow", (a,), (k,), a.shape)


def expm(a: Expr) -> Expr:
    """The matrix exponential e^A."""
    a = _square("expm", a)
    if a.op == "zeros":
        return identity(a.shape[0])
    return Expr.make("expm", (a,), (), a.shape)


def expm_frechet(a: Expr, e: Expr) -> Expr:
    """L(A, E): the Fréchet derivative of e^A in the direction E.

    ``d expm(A) = L(A, dA)``; its adjoint is L(Aᵀ, ·).
    """
    a, e = _square("expm_frechet", a), as_expr(e)
    if e.shape != a.shape:
        raise ShapeError(f"expm_frechet: shapes {_fmt(a.shape)} and {_fmt(e.shape)} differ")
    if e.op == "zeros":
        return e
    return Expr.make("expm_frechet", (a, e), (), a.shape)


def _unary(fn):  # type: ignore[no-untyped-def]
    return lambda node, args: fn(args[0])


_REBUILD = {
    "matmul": lambda node, args: matmul(*args),
    "add": lambda node, args: add(*args),
    "scale": lambda node, args: scale(node.params[0], args[0]),
    "smul": lambda node, args: smul(args[0], args[1]),
    "transpose": _unary(transpose),
    "inv": _unary(inv),
    "trace": _unary(trace),
    "det": _unary(det),
    "logdet": _unary(logdet),
    "kron": lambda node, args: kron(args[0], args[1]),
    "kron_contract": lambda node, args: kron_contract(args[0], args[1], node.shape, node.params[0]),
    "hadamard": lambda node, args: hadamard(args[0], args[1]),
    "power": lambda node, args: power(args[0], node.params[0]),
    "sum": _unary(sum),
    "norm": _unary(norm),
    "diag": _unary(diag),
    "diagpart": _unary(diag),
    "matpow": lambda node, args: matrix_power(args[0], node.params[0]),
    "expm": _unary(expm),
    "named": lambda node, args: args[0].named(node.params[0]),
    "expm_frechet": lambda node, args: expm_frechet(args[0], args[1]),
}
for _f in ELEMENTWISE_FUNCS:
    _REBUILD[_f] = (lambda f: (lambda node, args: elementwise(f, args[0])))(_f)


def substitute(e: Expr, mapping: dict[int, Expr]) -> Expr:
    """``e`` with nodes replaced (``mapping`` keyed by ``id(node)``)."""
    memo: dict[int, Expr] = {}
    for node in e.walk():
        if id(node) in mapping:
            memo[id(node)] = mapping[id(node)]
        elif node.args:
            memo[id(node)] = rebuild(node, [memo[id(a)] for a in node.args])
        else:
            memo[id(node)] = node
    return memo[id(e)]


def assume_symmetric(e: Expr) -> Expr:
    """``e`` with Vᵀ replaced by V for every symbol declared symmetric.

    Valid wherever the value of V is symmetric (as in a gradient with respect
    to a symmetric matrix); used to shorten such results, never on Jacobians.
    """
    mapping = {id(n): n.args[0] for n in e.walk()
               if n.op == "transpose" and n.args[0].op == "symbol" and n.args[0].params[1]}
    return substitute(e, mapping) if mapping else e


# Expressions print themselves, and the printer reads expressions: the one import
# cycle of this module, resolved here once every name above exists.
from . import printing as _printing  # noqa: E402
