"""Binding a symbolic derivative to numbers: what ``J.at(...)`` runs.

A derivative dV ↦ dF is a linear map whose factors are expressions.  Binding evaluates every
factor once (sharing subexpressions and factorizations, :func:`~.checked_run.bind_and_run`),
puts the values into the map (:meth:`LinearMap.bind <kronvec.maps.base.LinearMap.bind>`) and
gives the map F's value too: computed with the factors when that costs little beside them,
else on first access.  :class:`FactorBinding` holds what that needs for one derivative, made
once, and the plans its evaluations recorded; :func:`bind_derivative` binds.

A derivative whose sizes are names is bound at the sizes its values fix, through the same
derivative with numbers for the names.  :class:`SharedStructure` keeps the plans of all those
sized derivatives by the symbolic structure: a plan recorded at one size set replays at every
other (when its steps read no size, :func:`~.plan.size_free`).
"""
from __future__ import annotations

import copy
import functools
from typing import Any, Mapping, Sequence

import numpy as np

from ..expr import Expr, strip_names
from ..maps import LinearMap, expression_factors
from ..sizing import with_sizes
from .binding import Binder, Bound, symbol_table
from .checked_run import bind_and_run
from .evaluator import run_recorded
from .labels import solve_named
from .plan import Plan, StructurePlans, size_free
from .work import work_beside

__all__ = ["FactorBinding", "bind_derivative", "SharedStructure"]

EAGER_VALUE_ENTRIES = 2 ** 20
"""``J.at`` computes F with the factors when no node of F outside them has more entries than this
and F adds at most EAGER_VALUE_MADDS multiply-adds; otherwise ``L.value`` is computed on access."""
EAGER_VALUE_MADDS = 2 ** 15  # Xᵀσ(Xw) − Xᵀy beside the logistic Hessian's factors doubles its products

_PLAN_KEYS: tuple[Any, ...] = (False, True, (False, "full"), (True, "full"), "value")
"""The keys of a derivative's plans: ``eager`` (a bool: F evaluated with the factors),
``(eager, "full")`` for the full checks, and ``"value"`` (F alone, deferred)."""


def _cheap_beside(f: Expr, factors: list[Expr]) -> bool:
    """Whether F adds little to the factors' evaluation (see EAGER_VALUE_ENTRIES)."""
    largest, madds = work_beside(f, factors, EAGER_VALUE_MADDS)
    return largest <= EAGER_VALUE_ENTRIES and madds <= EAGER_VALUE_MADDS


class FactorBinding:
    """What binding one derivative needs: its factors, the binders of their symbols, whether F is
    evaluated with them, and the plans its evaluations recorded.

    Parameters
    ----------
    expr : Expr
        F (display names are stripped for evaluation).
    lmap : LinearMap
        The symbolic map dV ↦ dF whose factors are bound.
    factors : sequence of Expr, optional
        The map's distinct factors in the order to evaluate them (by default the order
        :func:`~kronvec.maps.expression_factors` finds them).
    shared : dict, optional
        Plans by key and symbol names shared with the other size sets of one symbolic structure
        (:class:`SharedStructure`); by default the plans are this derivative's own.
    """

    def __init__(self, expr: Expr, lmap: LinearMap, factors: Sequence[Expr] | None = None,
                 shared: dict[Any, dict[frozenset[str], Plan]] | None = None) -> None:
        self.factors = list(factors if factors is not None else dict.fromkeys(expression_factors(lmap)))
        self.plain = strip_names(expr)
        self.shape = expr.shape
        self.plain_symbols = self.plain.symbols()
        self.exprs = {False: self.factors, True: self.factors + [self.plain]}
        self.binders = {k: Binder(symbol_table(exprs)) for k, exprs in self.exprs.items()}
        self.rest_binder = Binder({name: sym for name, sym in self.binders[True].symbols.items()
                                   if name not in self.binders[False].symbols})
        self.eager_value = _cheap_beside(self.plain, self.factors)
        self.plans: dict[Any, dict[frozenset[Expr], Plan]] = {}
        if shared is not None:
            symbols = self.binders[True].symbols
            self.plans = {key: StructurePlans(shared.setdefault(key, {}), symbols) for key in _PLAN_KEYS}

    def value_at(self, bound: Mapping[Expr, Any]) -> np.ndarray:
        """F at a bound point, alone (a value deferred by :func:`bind_derivative`)."""
        try:
            value = run_recorded(self.plans.setdefault("value", {}), [self.plain], bound)[0]
        except np.linalg.LinAlgError as err:
            raise solve_named(err, self.plain) from None
        return np.asarray(value, dtype=float).reshape(self.shape)


def bind_derivative(binding: FactorBinding, lmap: LinearMap, given: Mapping[str, Any],
                    mode: str) -> LinearMap:
    """The map ``lmap`` with its factors evaluated at the values ``given`` (by symbol name),
    checked as ``mode`` says (:func:`~.checks.check_mode`), and F's value: set when every symbol
    of F has a value (computed on first access when F costs more than the factors), else None.

    The numeric steps are recorded in ``binding.plans`` and replayed for later bindings.
    """
    with_value = given.keys() >= binding.plain_symbols.keys()
    eager = with_value and binding.eager_value
    bound: Bound
    try:
        results, bound = bind_and_run(binding.plans, eager, binding.exprs[eager], len(binding.factors),
                                      binding.binders[eager], given, mode)
    except np.linalg.LinAlgError as err:
        raise solve_named(err, binding.plain) from None
    table = dict(zip(binding.factors, results))
    bound_map = lmap.bind(table.__getitem__)
    if bound_map is lmap:  # a map without factors binds to itself: keep that one clean
        bound_map = copy.copy(bound_map)
    if eager:
        bound_map.value = np.asarray(results[-1], dtype=float).reshape(binding.shape)
    elif with_value:
        bound_map.defer_value(functools.partial(binding.value_at, binding.rest_binder.adding(bound, given)))
    else:
        bound_map.value = None
    return bound_map


class SharedStructure:
    """The plans of a derivative whose sizes are names, shared by its sized copies.

    The derivative at sizes s is the same DAG with numbers for the names, so its factors are
    those of the symbolic map with the sizes put in (:func:`~kronvec.sizing.with_sizes`), in the
    same order.  When no step of their evaluation reads a size (:func:`~.plan.size_free`), the
    plans recorded at the first size set are replayed at every other with the values bound there.
    """

    def __init__(self, expr: Expr, lmap: LinearMap) -> None:
        self.factors = list(dict.fromkeys(expression_factors(lmap)))
        self.size_free = size_free(self.factors + [strip_names(expr)])
        self.plans: dict[Any, dict[frozenset[str], Plan]] = {}

    def binding(self, expr: Expr, lmap: LinearMap, sizes: Mapping[int, int]) -> FactorBinding:
        """The binding of the sized derivative (``expr`` and ``lmap`` at ``sizes``), sharing this
        structure's plans when it can (its factors are this structure's, sized)."""
        if self.size_free:
            factors = with_sizes(self.factors, sizes)
            own = set(expression_factors(lmap))
            if len(set(factors)) == len(factors) == len(own) and own.issuperset(factors):
                return FactorBinding(expr, lmap, factors, self.plans)
        return FactorBinding(expr, lmap)
