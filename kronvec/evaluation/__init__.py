"""Numeric evaluation of expressions: ``kv.evaluate`` and the machinery behind it.

* :mod:`.binding` checks and converts the values bound to symbols;
* :mod:`.factorization` holds LU/Cholesky factors reused by every solve;
* :mod:`.evaluator` evaluates shared subexpressions once, turning inverses
  into solves, and records plans that later bindings replay.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..caches import BoundedCache, constant_bytes
from ..expr import Expr, as_expr
from .binding import Binder, bind_values, symbol_table, symmetric_key
from .evaluator import Evaluator, Plan, run_recorded
from .factorization import Factorization

__all__ = ["evaluate", "Evaluator", "Factorization", "Plan", "Binder", "bind_values", "symbol_table",
           "symmetric_key", "run_recorded", "CHUNKED", "chunked_values"]

CHUNKED: dict[str, Any] = {}
"""Evaluation with Dask values, installed by :mod:`kronvec.chunked` (``"evaluate"`` and ``"at"``):
values that are Dask arrays make ``kv.evaluate`` and ``J.at`` build Dask graphs instead."""


def chunked_values(given: Mapping[str, Any]) -> bool:
    """Whether any value is a Dask array (checked by its type's module: Dask is never imported here)."""
    return any(type(v).__module__[:5] == "dask." for v in given.values())


def evaluate(expr: Any, values: Mapping[str, Any] | None = None, **kw: Any) -> Any:
    """The value of ``expr`` with symbols bound by name.

    Parameters
    ----------
    expr : Expr, or a list or tuple of them
        The expression; for several, every shared subexpression and
        factorization is computed once (the value and gradient of a
        likelihood cost one Cholesky factorization).
    values, **kw
        Values by symbol name (a mapping, keywords, or both).  Values for
        symbols the expression does not contain are ignored.

    Returns
    -------
    numpy.ndarray, or a tuple of them
        An array of ``expr.shape`` (``()`` for scalars); a tuple for several.

    Raises
    ------
    BindingError
        A value is missing; the message lists the names and their shapes.
    ShapeError
        A value has the wrong shape.
    numpy.linalg.LinAlgError
        A matrix that must be inverted is singular; the message names the
        sub-expression.

    Notes
    -----
    Values may be Dask arrays chunked along the stack axes of stacks of
    matrices: the result is then a Dask array computed block by block
    (:mod:`kronvec.chunked`), on whatever Dask scheduler is active.
    """
    if CHUNKED and (chunked_values(values or {}) or chunked_values(kw)):
        return CHUNKED["evaluate"](expr, {**values, **kw} if values else kw)
    several = isinstance(expr, (list, tuple)) and not _is_numeric(expr)
    exprs = tuple(as_expr(e) for e in expr) if several else (as_expr(expr),)
    memo = _EVALUATE_MEMO.get(exprs)
    if memo is None:
        memo = (Binder(symbol_table(list(exprs))), {})
        _EVALUATE_MEMO.put(exprs, memo, constant_bytes(exprs))
    binder, plans = memo
    bound = binder({**values, **kw} if values else kw)
    results = tuple(np.array(r, dtype=float) for r in run_recorded(plans, list(exprs), bound))
    return results if several else results[0]


def _is_numeric(x: Any) -> bool:
    """A nested list of numbers (a constant), as opposed to a list of expressions."""
    return not any(isinstance(e, Expr) for e in x)


# Expressions are interned, so a tuple of them identifies an evaluation: recent ones
# keep their recorded plans (``kv.evaluate(f, ...)`` in a loop replays one plan), within a
# byte budget for the constants they keep alive.
_EVALUATE_MEMO = BoundedCache(256)
