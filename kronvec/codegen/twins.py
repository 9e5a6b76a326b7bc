"""One LU factorization for a matrix and its transpose in generated code.

The evaluator factors A and Aᵀ as two matrices when both are solved with (the
VJP and the JVP of a GLS estimate solve with XᵀV⁻¹X and with its transpose).
Since Aᵀ = (P L U)ᵀ, a solve with Aᵀ is a transposed solve with A's factors,
Aᵀ⁻¹b = A⁻ᵀb, and its inverse is A⁻ᵀ: so the code factors A once and its
solves and inverses with Aᵀ pass ``trans`` flipped.  An op template that asks
for Aᵀ's own factorization (:meth:`Emitter.factor`: a determinant, an
adjugate) gets it, factored at that point.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..expr import Expr
from .arrays import Factor

__all__ = ["SOLVES", "factorize", "share_transposed", "flipped", "own_factor"]

SOLVES = frozenset({"solve", "solve_right", "inverse"})  # the evaluator steps that read a factorization


def _twin(g: Any, code: str) -> Factor | None:
    """The LU factor of a matrix whose transpose is the value of ``code`` (``W.T`` of a factored
    ``W``, or ``W`` of a factored ``W.T``), if the code computed one."""
    transpose = code[:-2] if code.endswith(".T") and code[:-2].isidentifier() else code + ".T"
    for b, f in g._factor_of.items():
        if f.kind == "lu" and not f.stacked and g.code_of(b) == transpose:
            return f  # type: ignore[no-any-return]
    return None


def share_transposed(g: Any, a: Expr, args: tuple[Any, ...], fac: Any) -> bool:
    """Whether the factorization ``fac`` of the matrix ``a`` is that of a factored Bᵀ = ``a`` (then
    recorded as B's factor with flipped solves; ``a``'s own is made only if a template asks)."""
    twin = _twin(g, g._arg(args[0])) if np.ndim(args[0]) == 2 and len(args) == 1 else None
    if twin is None:
        return False
    g._factors[id(fac)] = twin
    g._transposed[id(fac)] = (a, args, fac)
    return True


def factorize(g: Any, a: Expr, args: tuple[Any, ...], fac: Any) -> None:
    """The evaluator's factorization ``fac`` of ``a`` in code: shared with a factored Aᵀ, or its own."""
    if not share_transposed(g, a, args, fac):
        g._factorize(a, args, fac)


def flipped(g: Any, fac_value: Any, trans: bool) -> bool:
    """``trans`` for a solve or an inverse with the factorization ``fac_value``: flipped when it is
    the factor of the transpose."""
    return trans != (id(fac_value) in g._transposed)


def own_factor(g: Any, a: Expr) -> Factor | None:
    """The factorization of ``a`` itself, factored now if its solves share the transpose's."""
    f: Factor | None = g._factor_of.get(a)
    if f is not None:
        return f
    for key, (b, args, fac) in list(g._transposed.items()):
        if b == a:
            del g._transposed[key]
            g._factorize(b, args, fac)  # its own factors from here on (solves no longer flipped)
            f = g._factor_of.get(a)
            return f
    return None
