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
    transpose) are the same as when it was recorded: ``key``.  The first replay
    goes step by step; from the second on, the steps are compiled once into one
    straight-line Python function (no per-step dispatch: compiling pays off only
    when the plan is replayed again, and a derivative bound once never pays for
    it).  The factorizations in ``checked`` are verified at the end.
    Steps whose results nothing reads are left out (a term -A of a sum that the
    sum read as A with the coefficient -1).
    """

    def __init__(self, inputs: Mapping[Expr, int], factors: Mapping[Expr, int],
                 steps: list[tuple[Callable[..., Any], tuple[int, ...], int]],
                 outputs: list[int], checked: list[int], size: int, key: frozenset[Expr]) -> None:
        self.inputs, self.factors, self.steps = inputs, factors, _live(steps, {*outputs, *checked})
        self.outputs, self.checked, self.size, self.key = outputs, checked, size, key
        self._dying = _last_uses(self.steps, {*outputs, *checked})
        self._compiled: Callable[..., list[Any]] | None = None
        self._replayed = False

    def run(self, bound: Mapping[Expr, np.ndarray]) -> list[Any]:
        compiled = self._compiled
        if compiled is None:
            if not self._replayed:
                self._replayed = True
                return self.run_stepwise(bound)
            compiled = self._compiled = _compile(self)
        try:
            return compiled(bound, getattr(bound, "cholesky", {}))
        except (np.linalg.LinAlgError, ValueError, FloatingPointError):
            self.run_stepwise(bound)  # to raise for the singular matrix behind it, if any
            raise

    def run_stepwise(self, bound: Mapping[Expr, np.ndarray]) -> list[Any]:
        """The same steps one at a time (verifying what was factored if one fails), each
        intermediate released after its last use."""
        slots: list[Any] = [None] * self.size
        for sym, slot in self.inputs.items():
            slots[slot] = bound[sym]
        cholesky = getattr(bound, "cholesky", {})
        for sym, slot in self.factors.items():
            slots[slot] = cholesky[sym]
        try:
            dying = self._dying
            for k, (fn, ins, out) in enumerate(self.steps):
                slots[out] = fn(*[slots[i] for i in ins])
                for i in dying.get(k, ()):
                    slots[i] = None
        finally:
            for i in self.checked:
                if slots[i] is not None:
                    slots[i].verify()
        return [slots[o] for o in self.outputs]


Step = tuple[Callable[..., Any], tuple[int, ...], int]


def _live(steps: list[Step], needed: set[int]) -> list[Step]:
    """The steps that ``needed`` slots depend on, in their order."""
    kept = []
    for step in reversed(steps):
        if step[2] in needed:
            kept.append(step)
            needed.update(step[1])
    return kept[::-1]


def _last_uses(steps: list[Step], kept: set[int]) -> dict[int, list[int]]:
    """The slots (other than ``kept``) each step reads for the last time, by step index: released
    there, so that NumPy reuses their memory for the next temporaries (an evaluation then touches
    about as many fresh pages as the same code written by hand)."""
    last_use = {slot: k for k, (_, ins, _) in enumerate(steps) for slot in ins if slot not in kept}
    dying: dict[int, list[int]] = {}
    for slot, k in last_use.items():
        dying.setdefault(k, []).append(slot)
    return dying


def _compile(plan: Plan) -> Callable[..., list[Any]]:
    """``plan``'s steps as the source of one function, compiled (intermediates deleted after
    their last use)."""
    dying = plan._dying
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
        if k in dying:
            lines.append(f"    del {', '.join(f's{i}' for i in sorted(dying[k]))}")
    lines.extend(f"    s{i}.verify()" for i in plan.checked)
    lines.append(f"    return [{', '.join(f's{o}' for o in plan.outputs)}]")
    exec(compile("\n".join(lines), "<kronvec plan>", "exec"), space)  # our own generated source
    run: Callable[..., list[Any]] = space["run"]
    return run
