"""Arithmetic on the factors of linear-map terms.

A term's factors are either expressions (a symbolic Jacobian) or NumPy arrays
(a map bound to numbers); ``None`` stands for an identity matrix that is never
built.  These helpers let one implementation of each term and each algebra
rule serve both: with expressions they build (canonicalised) expressions, with
arrays they compute.  Arrays may carry leading batch axes.
"""
from __future__ import annotations

from typing import Any, Union

import numpy as np

from . import expr as E

Factor = Union[E.Expr, np.ndarray, None]

__all__ = ["Factor", "is_symbolic", "mm", "tr", "had", "mul", "plus", "eye", "trace_prod", "same"]


def is_symbolic(*xs: Any) -> bool:
    """True when any argument is an expression."""
    return any(isinstance(x, E.Expr) for x in xs)


def mm(*xs: Factor) -> Factor:
    """The product x₁x₂⋯ of the non-identity factors (None when all are identities)."""
    xs = tuple(x for x in xs if x is not None)
    if not xs:
        return None
    if len(xs) == 1:
        return xs[0]
    if is_symbolic(*xs):
        return E.matmul(*xs)
    out = xs[0]
    for x in xs[1:]:
        out = out @ x
    return out


def tr(x: Factor) -> Factor:
    """xᵀ (over the last two axes)."""
    if x is None:
        return None
    if isinstance(x, E.Expr):
        return x.T
    return np.swapaxes(x, -1, -2) if x.ndim >= 2 else x


def had(a: Any, b: Any) -> Any:
    """a ⊙ b (a scalar times b when either is a scalar)."""
    if is_symbolic(a, b):
        a, b = E.as_expr(a), E.as_expr(b)
        if E.is_scalar(a) or E.is_scalar(b):
            return E.smul(a, b)
        return E.hadamard(E.as_expr(a), E.as_expr(b))
    return a * b


def mul(c: Any, x: Any) -> Any:
    """c·x for a scalar c (a number, a 0-d or 1×1 array, or a scalar expression)."""
    if is_symbolic(c, x):
        if isinstance(c, E.Expr):
            return E.smul(c, E.as_expr(x))
        return E.scale(float(c), E.as_expr(x))
    if isinstance(c, np.ndarray):
        c = c.reshape(())
    return c * x


def plus(a: Any, b: Any) -> Any:
    """a + b."""
    if is_symbolic(a, b):
        return E.add(E.as_expr(a), E.as_expr(b))
    return a + b


def eye(n: int, like: Any) -> Any:
    """The n×n identity as an expression or an array, matching ``like``."""
    return E.identity(n) if is_symbolic(like) else np.eye(n)


def trace_prod(c: Factor, h: Any) -> Any:
    """tr(C H) (tr H when C is None), batched over leading axes of an array H."""
    if is_symbolic(c, h):
        h = E.as_expr(h)
        if E.is_scalar(h):
            return h if c is None else E.smul(E.as_expr(c), h)
        return E.trace(h if c is None else E.matmul(c, h))
    if c is None:
        return np.trace(h, axis1=-2, axis2=-1)
    return np.einsum("...ij,ji->...", h, c)


def same(a: Factor, b: Factor) -> bool:
    """Whether two factors are known to be equal without looking at values."""
    return a is b
