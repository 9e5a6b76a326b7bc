"""Binding and evaluating the factors of a bound map, with the checks of results first.

:func:`bind_and_run` is what ``J.at`` runs: in the quick mode (the default, :mod:`.checks`) it
binds with :meth:`Binder.quick <.binding.Binder.quick>` and evaluates with factorizations that
check their pivots; when anything there looks wrong (:class:`~.checks.SuspectResult`) or fails, it
binds and evaluates again with every check, which names the culprit as a full evaluation always
did, or gives the values.  The two modes keep separate recorded plans.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from ..expr import Expr
from .binding import Binder, Bound
from .checks import SuspectResult
from .evaluator import Plan, run_recorded

__all__ = ["bind_and_run"]

_SEARCH = (SuspectResult, np.linalg.LinAlgError, ValueError, FloatingPointError)
"""What sends a quick evaluation to the full one (which raises the error that names the culprit)."""


def bind_and_run(plans: dict[Any, dict[frozenset[Expr], Plan]], key: Any, exprs: Sequence[Expr], factors: int,
                 binder: Binder, given: Mapping[str, Any], mode: str) -> tuple[list[Any], Bound]:
    """The values of ``exprs`` (the first ``factors`` of them may come back structured) for the
    values ``given``, and the bound values, checked as ``mode`` says (``"quick"``, ``"none"``:
    only results, or ``"full"``); the recorded plans are kept in ``plans`` under ``key`` (and
    ``(key, "full")`` for the full checks)."""
    if mode != "full":
        try:
            bound = binder.quick(given, inputs=mode == "quick")
            quick_plans = plans.get(key)
            if quick_plans is None:
                quick_plans = plans.setdefault(key, {})
            return run_recorded(quick_plans, exprs, bound, factors, quick=True), bound
        except _SEARCH:
            pass  # the search for the culprit: every check, as a full binding makes them
    bound = binder(given)
    return run_recorded(plans.setdefault((key, "full"), {}), exprs, bound, factors), bound
