"""Random programs: a shape class, a first variable, then a chain of random steps.

A :class:`Program` is the final :class:`~fuzz.terms.Term` (expression and NumPy twin)
with the variables it uses. Steps come from :mod:`fuzz.draw_elementwise` and
:mod:`fuzz.draw_linalg`; a step that does not apply to the current shape is passed
over, and so is a step whose family is listed in :data:`KNOWN_FINDINGS` or
:data:`NEW_FINDINGS` (unless asked for), so the suite stays green while those findings are being fixed.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np
from hypothesis import strategies as st

from .draw_elementwise import ELEMENTWISE_STEPS, draw_special_function
from .draw_linalg import LINALG_STEPS
from .draw_more_linalg import MORE_LINALG_STEPS
from .draw_tensors import TENSOR_STEPS
from .terms import MARGIN, SHAPE_CLASSES, Context, Term, draw_values

KNOWN_FINDINGS: dict[str, str] = {
    # program family (a Term tag) → the finding of issue 17 that makes it fail today.
    # Empty now: every family of issue 17's findings is drawn.
}

NEW_FINDINGS: dict[str, str] = {
    # program family → a failure the fuzzer found beyond issue 17's list (see the report of the
    # branch that added it); empty it as the fixes land.
}

KNOWN_GAPS: dict[str, str] = {
    # family → a Hessian check that fails for a reason outside issue 17's list (the Hessian
    # of these families is not checked while listed here).
}

STEPS: list[Callable[[Context, Term], Term | None]] = (ELEMENTWISE_STEPS + LINALG_STEPS + MORE_LINALG_STEPS
                                                      + TENSOR_STEPS)

CI_EXAMPLES = 80
"""Programs drawn per shape class in the normal suite (``KRONVEC_FUZZ_SCALE`` multiplies it)."""

MAX_ENTRIES = 96
"""Largest value (entries) a step may produce: keeps dense checks cheap."""


@dataclass(frozen=True)
class Program:
    """A random program: its final term, its variables (name → symbol) and its shape class."""

    term: Term
    variables: dict[str, Any]
    shape_class: str
    steps: int
    build_error: str = ""
    """A step whose expression kronvec refused to build (NumPy builds its twin): a crash."""

    @property
    def expr(self) -> Any:
        return self.term.expr

    @property
    def has_stacks(self) -> bool:
        """Does any variable or node of the program have a shape other than () and (n, m)?"""
        return any(len(node.shape) not in (0, 2)
                   for node in list(self.expr.walk()) + list(self.variables.values()))

    def valid_values(self, rng: np.random.Generator, tries: int = 8) -> dict[str, np.ndarray] | None:
        """Values at which every guard holds with room to spare (None if no draw gives one)."""
        for _ in range(tries):
            values = draw_values(self.variables, rng)
            with np.errstate(all="ignore"):
                try:
                    if all(guard.margin(values) > MARGIN for guard in self.term.guards) \
                            and _checkable(self.term.twin(values)):
                        return values
                except AssertionError:  # kronvec's and NumPy's shapes differ: the checks say so
                    return values
        return None


LARGEST = 1e8
"""Largest magnitude of a program's value at a point the checks use: beyond it (exp of exp
overflowing, or values of 10²⁵) finite differences with steps of 10⁻³ keep no digit, so the
point is not one at which a derivative can be checked."""


def _checkable(value: np.ndarray) -> bool:
    """Whether the twin's value is finite and small enough for finite differences to check."""
    value = np.asarray(value, dtype=float)
    return bool(np.isfinite(value).all() and np.abs(value).max(initial=0.0) <= LARGEST)


def _mark_constant(term: Term | None) -> Term | None:
    """Tag a step whose expression kronvec simplified to a constant (its variables cancelled)."""
    if term is None or any(node.op == "symbol" for node in term.expr.walk()):
        return term
    return replace(term, tags=term.tags | {"cancelled to a constant"})


@st.composite
def programs(draw: Callable[[Any], Any], shape_class: str | None = None, max_steps: int = 4,
             with_known: bool = False, special: bool = False) -> Program:
    """A random program of ``shape_class`` (any when None); ``with_known`` also draws the
    families of :data:`KNOWN_FINDINGS`; ``special`` starts with a scipy.special function and
    may draw more of them."""
    shape_class = shape_class or draw(st.sampled_from(sorted(SHAPE_CLASSES)))
    stack, core = SHAPE_CLASSES[shape_class](lambda lo, hi: draw(st.integers(lo, hi)))
    excluded = frozenset() if with_known else frozenset(KNOWN_FINDINGS) | frozenset(NEW_FINDINGS)
    ctx = Context(draw, np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1))), stack, core,
                  excluded=excluded)
    term = ctx.new_variable(stack + core)
    if special:
        term = draw_special_function(ctx, term)
    steps = draw(st.integers(1, max_steps))
    for _ in range(steps):
        for step in draw(st.permutations(STEPS + [draw_special_function] if special else STEPS)):
            before = dict(ctx.variables)
            try:
                candidate = _mark_constant(step(ctx, term))
            except Exception as error:  # kronvec refused a program NumPy computes
                failure = f"{step.__name__} on {term.expr} {term.shape}: {type(error).__name__}: {error}"
                return Program(term, before, shape_class, steps, failure)
            if (candidate is not None and ctx.allows(tuple(candidate.tags))
                    and int(np.prod(candidate.shape)) <= MAX_ENTRIES):
                term = candidate
                break
            ctx.variables = before  # a step passed over leaves no variable behind
    return Program(term, ctx.variables, shape_class, steps)
