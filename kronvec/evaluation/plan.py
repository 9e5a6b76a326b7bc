"""Recorded evaluations: the numeric steps of an evaluation alone, replayed for new values.

:meth:`Evaluator.plan <kronvec.evaluation.evaluator.Evaluator.plan>` makes a :class:`Plan`
from the steps an evaluator recorded.  A plan is a :class:`Program` (the steps, read from
numbered slots and compiled into one straight-line Python function) and the symbols whose
values fill its input slots.  A program whose steps read no size (:func:`size_free`) serves
every size of one symbolic structure: :class:`StructurePlans` keeps such programs by the
names of the symbols, so that the derivative of an expression whose sizes are names records
one plan and replays it with the values of every size set (:meth:`Plan.rekeyed`).
"""
from __future__ import annotations

from operator import itemgetter
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np

from ..expr import Expr
from ..registry import spec

__all__ = ["Plan", "Program", "StructurePlans", "size_free"]

Step = tuple[Callable[..., Any], tuple[int, ...], int]


class Program:
    """Recorded steps over numbered slots: inputs and bound Cholesky factors first, then one slot
    per step.  The first run goes step by step; from the second on, the steps are compiled once
    into one straight-line Python function (no per-step dispatch: compiling pays off only when
    the program runs again, and a derivative bound once never pays for it).  The factorizations
    in ``checked`` are verified at the end.  Steps whose results nothing reads are left out (a
    term -A of a sum that the sum read as A with the coefficient -1).
    """

    compilations = 0
    """How many programs were compiled in this process (for tests of sharing)."""

    def __init__(self, input_slots: list[int], factor_slots: list[int], steps: list[Step],
                 outputs: list[int], checked: list[int], size: int) -> None:
        self.input_slots, self.factor_slots = input_slots, factor_slots
        self.outputs, self.checked, self.size = outputs, checked, size
        self._recorded = steps  # pruned on first use: a derivative bound once never replays
        self._steps: list[Step] | None = None
        self._dying: dict[int, list[int]] = {}
        self._compiled: Callable[..., list[Any]] | None = None
        self._replayed = False

    @property
    def steps(self) -> list[Step]:
        """The steps that the outputs and the checked factorizations depend on, in order."""
        if self._steps is None:
            kept = {*self.outputs, *self.checked}
            steps = _live(self._recorded, set(kept))
            self._dying = _last_uses(steps, kept)
            self._steps = steps
        return self._steps

    def run(self, inputs: Sequence[Any], factors: Sequence[Any]) -> list[Any]:
        """The outputs for the values of the input slots and of the factor slots, in order."""
        compiled = self._compiled
        if compiled is None:
            if not self._replayed:
                self._replayed = True
                return self.run_stepwise(inputs, factors)
            compiled = self._compiled = _compile(self)
            Program.compilations += 1
        try:
            return compiled(inputs, factors)
        except (np.linalg.LinAlgError, ValueError, FloatingPointError):
            self.run_stepwise(inputs, factors)  # to raise for the singular matrix behind it, if any
            raise

    def run_stepwise(self, inputs: Sequence[Any], factors: Sequence[Any]) -> list[Any]:
        """The same steps one at a time (verifying what was factored if one fails), each
        intermediate released after its last use."""
        steps = self.steps
        slots: list[Any] = [None] * self.size
        for slot, value in zip(self.input_slots, inputs):
            slots[slot] = value
        for slot, value in zip(self.factor_slots, factors):
            slots[slot] = value
        try:
            dying = self._dying
            for k, (fn, ins, out) in enumerate(steps):
                slots[out] = fn(*[slots[i] for i in ins])
                for i in dying.get(k, ()):
                    slots[i] = None
        finally:
            for i in self.checked:
                if slots[i] is not None:
                    slots[i].verify()
        return [slots[o] for o in self.outputs]


class Plan:
    """A recorded evaluation: a :class:`Program` and the symbols whose values fill its inputs.

    Valid for any values whose symmetric symbols (those whose value equals its
    transpose) are the same as when it was recorded: ``key``.  Values are read from
    a binding (``bound[symbol]``, and ``bound.cholesky[symbol]`` for the upper Cholesky
    factors of positive definite symbols made when they were bound).
    """

    def __init__(self, inputs: Mapping[Expr, int], factors: Mapping[Expr, int],
                 steps: list[Step], outputs: list[int], checked: list[int], size: int,
                 key: frozenset[Expr], program: Program | None = None) -> None:
        self.inputs, self.factors, self.key = tuple(inputs), tuple(factors), key
        self.program = program if program is not None else Program(
            list(inputs.values()), list(factors.values()), steps, outputs, checked, size)

    @property
    def steps(self) -> list[Step]:
        """The recorded steps: (function, input slots, output slot)."""
        return self.program.steps

    @property
    def _compiled(self) -> Callable[..., list[Any]] | None:
        return self.program._compiled

    def run(self, bound: Mapping[Expr, np.ndarray]) -> list[Any]:
        return self.program.run(_values(bound, self.inputs),
                                _values(getattr(bound, "cholesky", {}), self.factors))

    def run_stepwise(self, bound: Mapping[Expr, np.ndarray]) -> list[Any]:
        return self.program.run_stepwise(_values(bound, self.inputs),
                                         _values(getattr(bound, "cholesky", {}), self.factors))

    def rekeyed(self, symbols: Mapping[str, Expr]) -> "Plan":
        """The same program reading the values of the symbols of the same names in ``symbols``
        (those of another size set of the same symbolic structure)."""
        plan = Plan.__new__(Plan)
        plan.inputs = tuple(symbols[s.params.name] for s in self.inputs)
        plan.factors = tuple(symbols[s.params.name] for s in self.factors)
        plan.key = frozenset(symbols[s.params.name] for s in self.key)
        plan.program = self.program
        return plan


class StructurePlans(dict[frozenset[Expr], Plan]):
    """The plans of one symbolic structure at one size set, kept by symbol names in a store shared
    by every size set (``shared``): a plan recorded at one size set is replayed at the others.

    A dictionary of plans by :func:`~.binding.symmetric_key` as :func:`~.evaluator.run_recorded`
    reads and fills it; use it only for expressions whose programs are :func:`size_free`.
    """

    def __init__(self, shared: dict[frozenset[str], Plan], symbols: Mapping[str, Expr]) -> None:
        super().__init__()
        self.shared, self.symbols = shared, symbols

    def get(self, key: frozenset[Expr], default: Any = None) -> Any:
        plan = super().get(key)
        if plan is None:
            recorded = self.shared.get(frozenset(s.params.name for s in key))
            if recorded is None:
                return default
            plan = recorded.rekeyed(self.symbols)
            super().__setitem__(key, plan)
        return plan

    def __setitem__(self, key: frozenset[Expr], plan: Plan) -> None:
        super().__setitem__(key, plan)
        self.shared.setdefault(frozenset(s.params.name for s in key), plan)


SIZE_FREE_RULES = frozenset({"evaluate_lifted"})
"""Evaluation rules that apply a NumPy function to the values of the arguments alone."""
SIZE_FREE_OPS = frozenset({"symbol", "constant", "named", "matmul", "matrix_transpose", "inv", "add",
                           "scale", "det", "logdet"})
"""Ops whose evaluation (and the evaluator's products, solves and factorizations for them) reads
no size: their recorded steps are functions of the values alone, and no step keeps a size."""


def size_free(exprs: Iterable[Expr]) -> bool:
    """Whether every node of ``exprs`` evaluates by steps that read no size (:data:`SIZE_FREE_OPS`,
    or a rule of :data:`SIZE_FREE_RULES`): then a plan recorded at one size set replays at any
    other.  Ops that make arrays of their own shape (identities, ones, zeros) or keep their shape
    in a step (reshapes, axis reductions, broadcasts) are not."""
    seen: set[Expr] = set()
    for e in exprs:
        for node in e.walk():
            if node in seen:
                continue
            seen.add(node)
            if node.op not in SIZE_FREE_OPS and getattr(spec(node.op).evaluate, "__name__", "") \
                    not in SIZE_FREE_RULES:
                return False
    return True


def _values(values: Mapping[Expr, Any], keys: tuple[Expr, ...]) -> Any:
    """The values of ``keys``, in order (a tuple, or a list for one key)."""
    if len(keys) > 1:
        return itemgetter(*keys)(values)
    return [values[k] for k in keys]


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


def _compile(program: Program) -> Callable[..., list[Any]]:
    """``program``'s steps as the source of one function, compiled (intermediates deleted after
    their last use)."""
    steps = program.steps
    dying = program._dying
    space: dict[str, Any] = {}
    lines = ["def run(inputs, factors):"]
    if program.input_slots:
        lines.append(f"    {', '.join(f's{i}' for i in program.input_slots)}, = inputs")
    if program.factor_slots:
        lines.append(f"    {', '.join(f's{i}' for i in program.factor_slots)}, = factors")
    for k, (fn, ins, out) in enumerate(steps):
        space[f"f{k}"] = fn
        lines.append(f"    s{out} = f{k}({', '.join(f's{i}' for i in ins)})")
        if k in dying:
            lines.append(f"    del {', '.join(f's{i}' for i in sorted(dying[k]))}")
    lines.extend(f"    s{i}.verify()" for i in program.checked)
    lines.append(f"    return [{', '.join(f's{o}' for o in program.outputs)}]")
    exec(compile("\n".join(lines), "<kronvec plan>", "exec"), space)  # our own generated source
    run: Callable[..., list[Any]] = space["run"]
    return run
