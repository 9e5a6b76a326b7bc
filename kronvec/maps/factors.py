"""Arithmetic on the factors of linear-map terms.

A term's factors are either expressions (a symbolic Jacobian) or NumPy arrays
(a map bound to numbers); ``None`` stands for an identity matrix that is never
built.  These helpers let one implementation of each term and each algebra
rule serve both: with expressions they build (canonicalised) expressions
through the registry's constructors, with arrays they compute.  Arrays may
carry leading batch axes.
"""
from __future__ import annotations

from typing import Any, Union, cast

import numpy as np

from .. import registry
from ..expr import Expr, as_expr, is_scalar
from .operands import LARGE, Identity

Factor = Union[Expr, np.ndarray, None]

__all__ = ["Factor", "is_symbolic", "product", "transposed", "elementwise_product", "mul", "plus", "eye",
           "trace_prod", "same", "constant", "zeros", "plus_all", "member_mul"]


def _build(op: str, *args: Any) -> Expr:
    return registry.function(op)(*args)


def is_symbolic(*xs: Any) -> bool:
    """True when any argument is an expression."""
    return any(isinstance(x, Expr) for x in xs)


def constant(value: float) -> Expr:
    """The scalar constant ``value`` as an expression."""
    return _build("const", value)


def product(*xs: Factor) -> Factor:
    """The product x₁x₂⋯ of the non-identity factors (None when all are identities)."""
    xs = tuple(x for x in xs if x is not None)
    if not xs:
        return None
    if len(xs) == 1:
        return xs[0]
    if is_symbolic(*xs):
        return _build("matmul", *xs)
    out: Any = xs[0]  # arrays or structured operands (maps.operands)
    for x in xs[1:]:
        out = out @ x
    product: Factor = out
    return product


def transposed(x: Factor) -> Factor:
    """xᵀ (over the last two axes: each member of a stack)."""
    if x is None:
        return None
    if isinstance(x, Expr):
        return _build("matrix_transpose", x) if x.ndim >= 2 else x
    if type(x) is np.ndarray:  # the method: NumPy's function wrapper costs more than the swap
        return x.swapaxes(-1, -2) if x.ndim >= 2 else x
    return np.swapaxes(x, -1, -2) if x.ndim >= 2 else x


def elementwise_product(a: Any, b: Any) -> Any:
    """a ⊙ b (a scalar times b when either is a scalar)."""
    if is_symbolic(a, b):
        a, b = as_expr(a), as_expr(b)
        if is_scalar(a) or is_scalar(b):
            return _build("smul", a, b)
        return _build("multiply", a, b)
    return a * b


def mul(c: Any, x: Any) -> Any:
    """c·x for a scalar c (a number, a 0-d or 1×1 array, or a scalar expression); a c of
    per-member scalars of a stack, shape ``(b,)``, scales each member of x."""
    if is_symbolic(c, x):
        if isinstance(c, Expr) and c.ndim == 1:  # per-member scalars of a stack
            return member_mul(c, as_expr(x))
        if isinstance(c, Expr):
            return _build("smul", c, as_expr(x))
        return _build("scale", float(c), as_expr(x))
    if isinstance(c, np.ndarray):
        c = c.reshape(())
    return c * x


def member_mul(c: Expr, x: Expr) -> Expr:
    """The members of x, each scaled by its scalar in c (per-member scalars of a stack, shape
    ``(b,)``): c broadcast over the matrix axes of x (a matrix x is shared by all members)."""
    if x.ndim >= 2:
        c = _build("c_order_reshape", c, c.shape + (1, 1))
    return _build("multiply", c, x)  # the op of kv.multiply (NumPy broadcasting)


def plus(a: Any, b: Any) -> Any:
    """a + b."""
    if is_symbolic(a, b):
        return _build("add", as_expr(a), as_expr(b))
    return a + b


def plus_all(xs: list[Any]) -> Any:
    """x₁ + x₂ + ⋯ (one n-ary sum for expressions)."""
    if is_symbolic(*xs):
        return _build("add", *[as_expr(x) for x in xs])
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return out


def zeros(shape: tuple[int, ...]) -> Expr:
    """The zero matrix (or scalar, stack, per-member scalars) of ``shape`` as an expression."""
    if len(shape) == 1:
        return Expr.make("zeros", (), shape=tuple(shape))
    return _build("zeros", shape)


def eye(n: int, like: Any) -> Any:
    """The n×n identity as an expression or, matching ``like``, numbers: an array, or for a
    large n an :class:`~kronvec.maps.operands.Identity` that is never formed."""
    if is_symbolic(like):
        return _build("eye", n)
    return Identity(n) if n * n >= LARGE else np.eye(n)


def trace_prod(c: Factor, h: Any) -> Any:
    """tr(C H) (tr H when C is None), batched over leading axes of an array H."""
    if is_symbolic(c, h):
        h = as_expr(h)
        if is_scalar(h) or h.ndim == 1:  # a scalar, or per-member scalars of a stack
            if isinstance(c, Expr) and c.ndim >= 3:  # a stack of 1×1 members: tr(Cᵦ h) = Cᵦ h, shape (b,)
                members = _build("c_order_reshape", c, c.shape[:-2])
                return _build("multiply", members, h) if h.ndim == 1 else _build("smul", h, members)
            return h if c is None else mul(as_expr(c), h)
        if isinstance(c, Expr) and c.op == "ones" and h.ndim == 2:  # tr(𝟙ᵀ H) = sum(H)
            return _build("sum", h)
        return _build("trace", h if c is None else _build("matmul", c, h), 0, -2, -1)
    if c is None:
        return np.trace(h, axis1=-2, axis2=-1)
    return np.einsum("...ij,...ji->...", h, cast(np.ndarray, c))  # numbers here: c is no Expr


def same(a: Factor, b: Factor) -> bool:
    """Whether two factors are known to be equal without looking at values."""
    return a is b
