"""Numeric evaluation of expressions: ``kv.evaluate`` and the machinery behind it.

* :mod:`.binding` checks and converts the values bound to symbols;
* :mod:`.factorization` holds LU/Cholesky factors reused by every solve;
* :mod:`.evaluator` evaluates shared subexpressions once, turning inverses
  into solves, and records plans that later bindings replay.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from ..caches import RecentCache, constant_bytes
from ..expr import Expr, as_expr
from ..sizing import PerSizes, named_symbols, read_sizes, refuse_unfixed, with_sizes
from .binding import Binder, Bound, bind_values, by_name, symbol_table, symmetric_key
from .checked_run import bind_and_run
from .checks import SuspectResult, check_mode
from .evaluator import Evaluator, Plan, run_recorded
from .factorization import Factorization
from .work import work_beside

__all__ = ["evaluate", "explain_cost", "Evaluator", "Factorization", "Plan", "Binder", "Bound", "bind_values",
           "symbol_table", "symmetric_key", "run_recorded", "CHUNKED", "DaskHook", "chunked_values",
           "by_name", "work_beside", "bind_and_run", "check_mode", "SuspectResult"]

class DaskHook:
    """Evaluation with Dask values, installed by :mod:`kronvec.chunked` (:meth:`install`):
    values that are Dask arrays make ``kv.evaluate`` and ``J.at`` build Dask graphs instead.
    Until it is installed both functions are None (Dask is an optional extra)."""

    __slots__ = ("evaluate", "at")

    def __init__(self) -> None:
        self.evaluate: Callable[[Any, Mapping[str, Any]], Any] | None = None  # (expr, values) -> Dask array
        self.at: Callable[[Any, Mapping[str, Any]], Any] | None = None  # (Jacobian, values) -> ChunkedMap

    def install(self, evaluate: Callable[[Any, Mapping[str, Any]], Any],
                at: Callable[[Any, Mapping[str, Any]], Any]) -> None:
        self.evaluate, self.at = evaluate, at


CHUNKED = DaskHook()


def chunked_values(given: Mapping[str, Any]) -> bool:
    """Whether any value is a Dask array (checked by its type's module: Dask is never imported here)."""
    for v in given.values():  # (a loop: a first use of two values pays less than for any() of a generator)
        if type(v) is not np.ndarray and type(v).__module__[:5] == "dask.":
            return True
    return False


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
    given = by_name("kv.evaluate", values, kw)
    if CHUNKED.evaluate is not None and chunked_values(given):
        return CHUNKED.evaluate(_with_bound_sizes(expr, given), given)
    several = isinstance(expr, (list, tuple)) and not _is_numeric(expr)
    exprs = tuple(as_expr(e) for e in expr) if several else (as_expr(expr),)
    memo = _EVALUATE_MEMO.get(exprs)
    if memo is None:
        symbols = symbol_table(list(exprs))
        named: PerSizes[list[Expr]] | None = PerSizes() if named_symbols(symbols.values()) else None
        if named is None:
            refuse_unfixed(exprs)  # shapes with names that no symbol fixes
        memo = _EVALUATE_MEMO.add(exprs, (Binder(symbols), {}, named), constant_bytes(exprs))
    binder, plans, named = memo
    if named is not None:  # sizes given as names: the values fix them
        sizes = read_sizes("kv.evaluate", binder.symbols, given)
        sized = named.get(sizes, lambda: with_sizes(exprs, sizes))
        return evaluate(sized if several else sized[0], given)
    bound = binder(given)
    results = tuple(np.array(r, dtype=float) for r in run_recorded(plans, list(exprs), bound))
    return results if several else results[0]


def _with_bound_sizes(expr: Any, given: Mapping[str, Any]) -> Any:
    """``expr`` (or a list of expressions) with the sizes the values fix, where they are names."""
    exprs = [as_expr(e) for e in expr] if isinstance(expr, (list, tuple)) else [as_expr(expr)]
    symbols = symbol_table(exprs)
    if not named_symbols(symbols.values()):
        return expr
    sized = with_sizes(exprs, read_sizes("kv.evaluate", symbols, given))
    return sized if isinstance(expr, (list, tuple)) else sized[0]


def explain_cost(expr: Any, values: Mapping[str, Any] | None = None, **kw: Any) -> str:
    """The choices the evaluator makes for ``expr`` at these values, one a line, with their
    multiply-add counts: matrices factored by Cholesky because they are symmetric by their form,
    traces of products with inverses taken as elementwise sums, shared halves of palindromic
    products.

    Examples
    --------
    >>> import kronvec as kv
    >>> import numpy as np
    >>> from kronvec.evaluation import explain_cost
    >>> Kx, s, t = kv.Matrix("Kx", (100, 100), symmetric=True), kv.Scalar("s"), kv.Scalar("t")
    >>> K = s * Kx + t * kv.eye(100)
    >>> print(explain_cost(kv.trace(kv.inv(K) @ Kx), Kx=np.eye(100), s=1.0, t=1.0))
    s Kx + t I is symmetric by its form: Cholesky
    tr((s Kx + t I)⁻¹ Kx) = Σ ((s Kx + t I)⁻¹) ⊙ (Kx)ᵀ: 3.43e+05 multiply-adds
    (the product, then its trace: 1e+06)
    """
    several = isinstance(expr, (list, tuple)) and not _is_numeric(expr)
    exprs = [as_expr(e) for e in expr] if several else [as_expr(expr)]
    bound = Binder(symbol_table(exprs))({**values, **kw} if values else kw)
    ev = Evaluator({}, exprs, bound=bound)
    for e in exprs:
        ev(e)
    ev.verify()
    return "\n".join(note() for note in ev.notes) or "no choices: every product in its matrix-chain order"


def _is_numeric(x: Any) -> bool:
    """A nested list of numbers (a constant), as opposed to a list of expressions."""
    return not any(isinstance(e, Expr) for e in x)


# Expressions are interned, so a tuple of them identifies an evaluation: recent ones
# keep their recorded plans (``kv.evaluate(f, ...)`` in a loop replays one plan), within a
# byte budget for the constants they keep alive.
_EVALUATE_MEMO: "RecentCache[tuple[Binder, dict[frozenset[Expr], Plan], PerSizes[list[Expr]] | None]]" = \
    RecentCache(256)
