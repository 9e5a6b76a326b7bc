"""Leaves: symbols, constants, the identity, zeros and ones, and named subexpressions."""
from __future__ import annotations

from typing import Any, Sequence, cast

import numpy as np

from ..contexts import PrintContext, StyledPrintContext
from ..dims import BASE, Dim, dim, free_dim, size_text
from ..errors import ShapeError
from .. import registry
from ..expr import ConstValue, Expr, NO_PARAMS
from ..registry import Params, Prec, Printing, SELF, Transpose, inferring, register
from ..shapes import Shape, fmt, matrix_transposed
from ..shapes import refuse_named
from ._evaluation_rules import constant_value
from ._jvp_rules import identity_jvp
from ._printing_rules import python_number

__all__ = ["Matrix", "Array", "Vector", "Scalar", "Constant", "eye", "zeros", "ones", "named",
           "symbol", "filled", "size_of", "per_size"]



def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"a symbol name must be an identifier, got {name!r}")


# ---------------------------------------------------------------- symbol
def symbol(name: str, shape: Shape, symmetric: bool, positive_definite: bool) -> Expr:
    """The symbol node (use :func:`Matrix`, :func:`Vector` or :func:`Scalar`)."""
    return Expr.make("symbol", (), Params(name=name, symmetric=bool(symmetric),
                                          positive_definite=bool(positive_definite)), shape)


def _size(s: Any) -> Any:
    """A declared size: a positive integer or a name (a :class:`kronvec.dims.Dim`), else None."""
    if isinstance(s, str):
        return Dim(s) if s.isidentifier() else None
    if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1:
        return None
    if s >= 2 ** 63 and not isinstance(s, Dim):  # (a name is a Dim; n + 1 is far below)
        raise ShapeError(f"a size of {int(s)} is beyond what kronvec handles (sizes below 2**40, or "
                         f"names)")
    return dim(s)


def Matrix(name: str, shape: Sequence[Any] | None = None, symmetric: bool = False,
           positive_definite: bool = False) -> Expr:
    """A matrix symbol, or a stack of matrices.

    Parameters
    ----------
    name : str
        The name values are bound by (``kv.evaluate(F, X=X0)``).
    shape : (int, int), or (b, ..., int, int), or None
        Rows and columns; with three or more axes, a stack of matrices (the
        leading axes are the stack axes, as in NumPy: ``@`` broadcasts over
        them and the linear-algebra functions act on the last two axes).  A
        size may be a name (``("n", "m")``): the values bound later fix it.
        None leaves both sizes to be inferred from how the symbol is used.
    symmetric : bool
        Declares V = Vᵀ (for a stack: every member symmetric).  ``kv.grad`` then
        returns the gradient in the space of symmetric matrices,
        sym(G) = (G + Gᵀ)/2; ``kv.jacobian`` stays the unconstrained map.
    positive_definite : bool
        Declares V symmetric positive definite (implies ``symmetric``):
        inverses and determinants of V use a Cholesky factorization when the
        bound value is symmetric.
    """
    _check_name(name)
    symmetric = bool(symmetric or positive_definite)
    if shape is None:
        n = free_dim()
        shape = (n, n) if symmetric else (n, free_dim())
    given = tuple(shape) if isinstance(shape, (tuple, list)) else (shape,)
    sizes = tuple(_size(s) for s in given)
    if len(sizes) < 2 or any(s is None for s in sizes):
        raise ShapeError(f"Matrix {name!r}: shape must be two positive integers or names (or more, "
                         f"for a stack of matrices), got {given}")
    if symmetric and sizes[-2] != sizes[-1]:
        raise ShapeError(f"Matrix {name!r}: a symmetric matrix must be square, got {fmt(sizes)}")
    return symbol(name, sizes, symmetric, positive_definite)


def Array(name: str, shape: Sequence[int] | int) -> Expr:
    """A symbol of any number of dimensions, as a NumPy array of that shape.

    ``Array("w", (b,))`` is a 1-D array (NumPy's semantics: next to a stack it
    aligns with the last axis, next to per-member scalars it is one value per
    member), ``Array("s", ())`` a scalar (the same symbol as ``Scalar("s")``)
    and two or more dimensions give :func:`Matrix`.  Elementwise functions,
    sums and broadcasting arithmetic act on every shape; matrix operations
    (``@``, ``inv``, ``det``, ...) need two dimensions or more and raise
    ``kv.ShapeError`` naming the operation and the shape otherwise.
    """
    _check_name(name)
    shape = (shape,) if isinstance(shape, (int, np.integer, str)) and not isinstance(shape, bool) \
        else tuple(cast(Sequence[Any], shape))  # a bool is refused by tuple() as before
    if len(shape) >= 2:
        return Matrix(name, shape)
    if any(_size(s) is None for s in shape):
        raise ShapeError(f"Array {name!r}: a shape is a tuple of positive integers or names, got {shape}")
    if not shape:
        return Scalar(name)
    return symbol(name, (_size(shape[0]),), False, False)


def Vector(name: str, n: int | str | None = None) -> Expr:
    """A column-vector symbol: an ``(n, 1)`` matrix (n a number, a name, or None: inferred)."""
    return Matrix(name, (free_dim() if n is None else n, 1))


def Scalar(name: str) -> Expr:
    """A scalar symbol (shape ``()``)."""
    _check_name(name)
    return symbol(name, (), True, False)


def _transposed_symbol(node: Expr, _: list[Expr]) -> Expr:
    """Sᵀ = S for a symbol declared symmetric; otherwise the transpose node."""
    if node.params.symmetric:
        return node
    return Expr.make("matrix_transpose", (node,), NO_PARAMS, matrix_transposed(node.shape))


register(
    "symbol", leaf=True, params=("name", "symmetric", "positive_definite"),
    evaluate=lambda ev, e: ev.values[e],
    transpose=Transpose((), _transposed_symbol),
    printing=Printing(lambda printer, e: (printer.s.name(e.params.name), Prec.ATOM),
                      lambda printer, e: (printer.s.name(e.params.name), Prec.ATOM),
                      lambda printer, e: (e.params.name, Prec.ATOM)),
    doc="a matrix, vector or scalar symbol",
)


# -------------------------------------------------------------- constant
def Constant(value: Any, name: str | None = None, *, column: bool = True) -> Expr:
    """A constant matrix (or scalar, or stack of matrices) with an optional display name.

    A 1-D array is a column ``(n, 1)`` (with ``column=False`` it stays 1-D, as
    NumPy's; :func:`kronvec.expr.as_operand` says when operators keep it so);
    an array of three or more axes is a stack of matrices.
    """
    if isinstance(value, int) and not isinstance(value, bool) and value >= BASE:
        return size_of(value)  # a size given as a name, used as a number (n·X)
    arr = np.asarray(value)
    if np.iscomplexobj(arr):
        raise TypeError("kronvec works in real arithmetic; complex constants are not supported")
    if arr.ndim == 1 and column:
        arr = arr.reshape(-1, 1)
    if arr.ndim == 2 and name is None and arr.shape[0] == arr.shape[1] \
            and np.array_equal(arr, arr[0, 0] * np.eye(arr.shape[0])) and arr[0, 0] != 0:
        return registry.function("scale")(float(arr[0, 0]), eye(arr.shape[0]))
    if arr.ndim >= 1 and name is None and not arr.any():
        return zeros(arr.shape)
    return Expr.make("const", (), Params(value=ConstValue(arr, name)), arr.shape)


def _print_constant(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
    value = e.params.value
    if value.name is not None:
        return printer.s.name(value.name), Prec.ATOM
    if value.array.size == 1:
        return printer.number(float(value.array.reshape(())))
    return printer.s.name(printer.constant_label(value)), Prec.ATOM


def _python_constant(printer: PrintContext, e: Expr) -> tuple[str, int]:
    """The constant's name if it is a Python name (the parser reads it back given the
    constants), its number if it has one entry, else a label ``C1``, ``C2``, ..."""
    value = e.params.value
    if value.name and value.name.isidentifier():
        return value.name, Prec.ATOM
    if value.array.size == 1:
        return python_number(float(value.array.reshape(()))), Prec.ATOM
    return printer.constant_label(value), Prec.ATOM


register(
    "const", leaf=True, function=Constant, params=("value",),
    evaluate=constant_value(lambda e: e.params.value.array),
    printing=Printing(_print_constant, _print_constant, _python_constant),
    doc="a constant array",
)


# -------------------------------------------------------------- identity
@inferring
def eye(n: int | str) -> Expr:
    """The n×n identity matrix I, as ``numpy.eye(n)`` (``kv.eye(n)``).

    Parameters
    ----------
    n : int or str
        The size: a positive integer, or a name (``kv.eye("n")``) whose number
        the values bound later fix.

    Examples
    --------
    ``kv.inv(X.T @ X + 0.1 * kv.eye(3))``
    """
    size = _size(n) if isinstance(n, str) else n
    if size is None or int(size) != size or size < 1:
        raise ShapeError(f"eye: the size must be a positive integer or a name, got {n!r}")
    size = dim(size)
    return Expr.make("eye", (), NO_PARAMS, (size, size))


def _identity_value(e: Expr) -> np.ndarray:
    """I, or for a stack the identity in every member (a read-only broadcast view)."""
    return np.eye(_numeric(e)[0]) if e.ndim == 2 else np.broadcast_to(np.eye(e.shape[-1]), _numeric(e))


def _print_identity(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
    return printer.s.identity, Prec.ATOM


def _python_identity(printer: PrintContext, e: Expr) -> tuple[str, int]:
    return f"eye({e.shape[0]})", Prec.ATOM


def _itself(node: Expr, args: list[Expr]) -> Expr:
    return node


register(
    "eye", leaf=True, public="eye", function=eye, signature="int:n->(n,n)",
    evaluate=constant_value(_identity_value),
    code=lambda g, e: g.eye(e.shape[0]),
    transpose=SELF,
    printing=Printing(_print_identity, _print_identity, _python_identity),
    rebuild=_itself,
    doc="the n×n identity matrix",
)


def _numeric(e: Expr) -> Shape:
    """The shape of a constant about to be made: a ``ShapeError`` if a size is still a name."""
    refuse_named(e.op, e.shape)
    return e.shape


# --------------------------------------------------------- zeros and ones
def _shape_of(dims: tuple[Any, ...]) -> Shape:
    """A shape from ``(r, c)`` or from the integers ``r, c`` (any number of them, as NumPy:
    ``(b,)`` for per-member scalars or a 1-D array, more for a stack)."""
    shape = tuple(dims[0]) if len(dims) == 1 and isinstance(dims[0], (tuple, list)) else tuple(dims)
    sizes = tuple(_size(d) if isinstance(d, str) else d for d in shape)
    if any(d is None or isinstance(d, bool) or int(d) != d or d < 1 for d in sizes):
        raise ShapeError(f"a shape must be a tuple of positive integers or names, got {shape}")
    return tuple(dim(d) for d in sizes)


def filled(op: str, shape: Shape) -> Expr:
    """The zeros or ones (``op``) of any shape."""
    return zeros(shape) if op == "zeros" else ones(shape)


@inferring
def zeros(*shape: Any) -> Expr:
    """The zero array of a shape, ``zeros(r, c)`` or ``zeros((r, c))`` (any number of axes)."""
    return Expr.make("zeros", (), NO_PARAMS, _shape_of(shape))


@inferring
def ones(*shape: Any) -> Expr:
    """The all-ones matrix J, ``ones(r, c)`` or ``ones((r, c))``; ``ones(())`` is the scalar 1."""
    shape = _shape_of(shape)
    if shape == (1, 1):
        return eye(1)
    if shape == ():
        return Constant(1.0)
    return Expr.make("ones", (), NO_PARAMS, shape)


def _filled_python(word: str, scalar: str) -> Any:
    return lambda printer, e: ((f"{word}({', '.join(map(str, e.shape))})" if e.shape else scalar), Prec.ATOM)


def _print_zero(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
    return printer.s.zero, Prec.ATOM


def _transposed_fill(node: Expr, _: list[Expr]) -> Expr:
    return Expr.make(node.op, (), NO_PARAMS, matrix_transposed(node.shape))


register(
    "zeros", leaf=True, public="zeros", function=zeros, signature="int:m,int:n->(m,n)",
    evaluate=constant_value(lambda e: np.zeros(_numeric(e))), code=lambda g, e: g.zeros(e.shape),
    transpose=Transpose((), _transposed_fill),
    printing=Printing(_print_zero, _print_zero, _filled_python("zeros", "0")),
    rebuild=lambda node, args: node,
    doc="the zero matrix",
)
def _print_ones(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
    """𝟙, and 𝟙ᵀ for a row of ones (as in b𝟙ᵀ, a column broadcast over columns)."""
    if len(e.shape) == 2 and e.shape[0] == 1 and e.shape[1] > 1:
        return printer.s.ones + printer.s.transpose, Prec.POSTFIX
    return printer.s.ones, Prec.ATOM


register(
    "ones", leaf=True, public="ones", function=ones, signature="int:m,int:n->(m,n)",
    evaluate=constant_value(lambda e: np.ones(_numeric(e))), code=lambda g, e: g.ones(e.shape),
    transpose=Transpose((), _transposed_fill),
    printing=Printing(_print_ones, _print_ones, _filled_python("ones", "1")),
    rebuild=lambda node, args: node,
    deferred=True,  # evaluated only when used: products with it are sums (Evaluator.chain)
    doc="the all-ones matrix",
)


# ------------------------------------------------------------------ size
def size_of(n: int) -> Expr:
    """The number n as a scalar expression: a constant, or for a size given as a name (or a
    product of names, such as the n·m entries of an n×m matrix) a node that prints as the name
    and evaluates to the number the bound values give it (``tr(Iₙ) = n``)."""
    if n < BASE:
        return Constant(float(n))
    return Expr.make("size", (), Params(size=dim(n)), ())


def per_size(e: Expr, n: int) -> Expr:
    """e / n for a size n (a number or a name): the mean of n entries is their sum over n."""
    if n < BASE:
        return registry.function("scale")(1.0 / n, e)
    return registry.function("smul")(registry.function("power")(size_of(n), -1.0), e)


def _print_size(e: Expr) -> tuple[str, int]:
    """n; a product of names as nm, which binds like a product ((nm)⁻¹)."""
    text = size_text(e.params.size)
    return text, Prec.ATOM if len(text) == 1 else Prec.PROD


def _size_value(e: Expr) -> float:
    refuse_named("size", (e.params.size,))
    return float(e.params.size)


register(
    "size", leaf=True, params=("size",),
    evaluate=constant_value(_size_value), code=lambda g, e: repr(_size_value(e)),
    transpose=SELF,
    printing=Printing(lambda p, e: _print_size(e), lambda p, e: _print_size(e),
                      lambda p, e: (size_text(e.params.size, "*"), Prec.ATOM)),
    doc="a size given as a name, as a number",
)


# ----------------------------------------------------------------- named
def named(e: Expr, name: str) -> Expr:
    """``e``, printed as ``name`` wherever it occurs (see :meth:`Expr.named`)."""
    if not isinstance(name, str) or not name:
        raise TypeError("named() needs a non-empty string")
    return Expr.make("named", (e,), Params(name=name), e.shape)


register(
    "named", function=named, params=("name",),
    stacks=True,
    evaluate=lambda ev, e: ev(e.args[0]), code="{0}",
    jvp=identity_jvp,
    printing=Printing(lambda printer, e: (printer.s.name(e.params.name), Prec.ATOM),
                      lambda printer, e: (printer.s.name(e.params.name), Prec.ATOM),
                      lambda printer, e: (e.params.name, Prec.ATOM)),
    doc="a subexpression with a display name",
)

