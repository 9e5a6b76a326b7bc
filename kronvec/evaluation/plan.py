"""Recorded evaluations: the numeric steps of an evaluation alone, replayed for new values.

:meth:`Evaluator.plan <kronvec.evaluation.evaluator.Evaluator.plan>` makes a :class:`Plan`
from the steps an evaluator recorded; the plan compiles them into one straight-line
Python function.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from ..expr import Expr

__all__ = ["Plan"]


class Plan:
    """A recorded evaluation: the numeric steps alone, replayable for new values.

    Valid for any values whose symmetric symbols (those whose value equals its
    transpose) are the same as when it was recorded: ``key``.  The steps are
    compiled once into one straight-line Python function (no per-step
    dispatch); the factorizations in ``checked`` are verified at the end.
    """

    def __init__(self, inputs: Mapping[Expr, int], factors: Mapping[Expr, int],
                 steps: list[tuple[Callable[..., Any], tuple[int, ...], int]],
                 outputs: list[int], checked: list[int], size: int, key: frozenset[Expr]) -> None:
        self.inputs, self.factors, self.steps = inputs, factors, steps
        self.outputs, self.checked, self.size, self.key = outputs, checked, size, key
        self._compiled = _compile(self)

    def run(self, bound: Mapping[Expr, np.ndarray]) -> list[Any]:
        try:
            return self._compiled(bound, getattr(bound, "cholesky", {}))
        except (np.linalg.LinAlgError, ValueError, FloatingPointError):
            self.run_stepwise(bound)  # to raise for the singular matrix behind it, if any
            raise

    def run_stepwise(self, bound: Mapping[Expr, np.ndarray]) -> list[Any]:
        """The same steps one at a time (verifying what was factored if one fails)."""
        slots: list[Any] = [None] * self.size
        for sym, slot in self.inputs.items():
            slots[slot] = bound[sym]
        cholesky = getattr(bound, "cholesky", {})
        for sym, slot in self.factors.items():
            slots[slot] = cholesky[sym]
        try:
            for fn, ins, out in self.steps:
                slots[out] = fn(*[slots[i] for i in ins])
        finally:
            for i in self.checked:
                if slots[i] is not None:
                    slots[i].verify()
        return [slots[o] for o in self.outputs]


def _compile(plan: Plan) -> Callable[..., list[Any]]:
    """``plan``'s steps as the source of one function, compiled."""
    space: dict[str, Any] = {}
    lines = ["def run(bound, cholesky):"]
    for k, (sym, slot) in enumerate(plan.inputs.items()):
        space[f"x{k}"] = sym
        lines.append(f"    s{slot} = bound[x{k}]")
    for k, (sym, slot) in enumerate(plan.factors.items()):
        space[f"c{k}"] = sym
        lines.append(f"    s{slot} = cholesky[c{k}]")
    for k, (fn, ins, out) in enumerate(plan.steps):
        space[f"f{k}"] = fn
        lines.append(f"    s{out} = f{k}({', '.join(f's{i}' for i in ins)})")
    lines.extend(f"    s{i}.verify()" for i in plan.checked)
    lines.append(f"    return [{', '.join(f's{o}' for o in plan.outputs)}]")
    exec(compile("\n".join(lines), "<kronvec plan>", "exec"), space)  # our own generated source
    run: Callable[..., list[Any]] = space["run"]
    return run
