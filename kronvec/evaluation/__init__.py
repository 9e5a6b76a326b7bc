"""Numeric evaluation of expressions: ``kv.evaluate`` and the machinery behind it.

* :mod:`.binding` checks and converts the values bound to symbols;
* :mod:`.factorization` holds LU/Cholesky factors reused by every solve;
* :mod:`.evaluator` evaluates shared subexpressions once, turning inverses
  into solves, and records plans that later bindings replay.
"""
from __future__ import annotations

import weakref
from typing import Any, Mapping

import numpy as np

from ..expr import Expr, as_expr
from .binding import bind_values, symbol_table, symmetric_key
from .evaluator import Evaluator, Plan, run_recorded
from .factorization import Factorization

__all__ = ["evaluate", "Evaluator", "Factorization", "Plan", "bind_values", "symbol_table",
           "symmetric_key", "run_recorded"]


def evaluate(expr: Expr, values: Mapping[str, Any] | None = None, **kw: Any) -> np.ndarray:
    """The value of ``expr`` with symbols bound by name.

    Parameters
    ----------
    expr : Expr
        The expression.
    values, **kw
        Values by symbol name (a mapping, keywords, or both).  Values for
        symbols the expression does not contain are ignored.

    Returns
    -------
    numpy.ndarray
        An array of ``expr.shape`` (``()`` for scalars).

    Raises
    ------
    BindingError
        A value is missing; the message lists the names and their shapes.
    ShapeError
        A value has the wrong shape.
    numpy.linalg.LinAlgError
        A matrix that must be inverted is singular; the message names the
        sub-expression.
    """
    expr = as_expr(expr)
    memo = _EVALUATE_MEMO.get(expr)
    if memo is None:
        memo = _EVALUATE_MEMO[expr] = (symbol_table([expr]), {})
    symbols, plans = memo
    bound = bind_values({**(values or {}), **kw}, [expr], symbols)
    return np.array(run_recorded(plans, [expr], bound)[0], dtype=float)


_EVALUATE_MEMO: "weakref.WeakKeyDictionary[Expr, tuple[dict, dict]]" = weakref.WeakKeyDictionary()
