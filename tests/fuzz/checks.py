"""Every check the fuzzer runs on a program, and the refusals the contract documents.

For a program E with NumPy twin e, at a valid point:

* ``kv.evaluate(E)`` equals e in value and in shape (exactly ``E.shape``, which is
  NumPy's shape);
* for each variable V, the bound Jacobian L = ``kv.jacobian(E, V).at(...)``: its JVP
  against central (h = 1e-6) and five-point (h = 2e-4) finite differences (each retried at
  h/10 and h/100 before a disagreement counts as a wrong number), its VJP
  against ⟨Ḡ, finite differences⟩, the adjoint dot test, ``to_dense`` against the
  stacked JVPs of the unit directions;
* for the scalar f = Σ C ⊙ E (C a constant), ``kv.grad(f, V)`` (exactly V's shape)
  against finite differences and ``kv.hessian(f, V)``: symmetric and against finite
  differences of the gradient; with several variables ``kv.grad(f, [U, V])`` agrees;
* ``kv.lambdify`` (NumPy backend) of E against ``kv.evaluate``, and of the Jacobian
  against the bound JVP.

Every exception at a valid point is a failure unless :data:`DOCUMENTED_REFUSALS`
names the rule of API.md that allows it.
"""
from __future__ import annotations

import traceback
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable

import numpy as np

import kronvec as kv
from kronvec.testing import dottest

from .programs import KNOWN_GAPS, Program
from .terms import Values

DOCUMENTED_REFUSALS: list[tuple[type[BaseException], str, Callable[[Program], bool], str]] = [
    # (exception type, text its message must contain, the programs it may meet, the rule).
    # The guards keep every drawn point away from repeated eigenvalues and singular values
    # and from rank changes, so the first two are not expected; each stays allowed only for
    # the exact message of its rule.
    (kv.DegenerateError, "repeated", lambda p: True,
     "API.md v1.2: eigenvectors / singular vectors have no derivative at a repeated value"),
    (kv.DegenerateError, "rank", lambda p: True,
     "API.md v1.3: pinv at a point where the rank changes raises"),
    # Issue 17 (finding 5) lets generated code refuse stacks, naming the argument, instead of
    # handling them as the bound maps do; allowed only for programs that hold a stack.
    (NotImplementedError, "lambdify: stacks of matrices are not supported", lambda p: p.has_stacks,
     "issue 17 finding 5: lambdify handles stacks or refuses them"),
    # Generated code takes stacks now; an op whose code is still written for one matrix is
    # refused on a stack, naming the op and the shape (issue 22).
    (NotImplementedError, "its code is written for one matrix", lambda p: p.has_stacks,
     "issue 22: lambdify takes stacks; ops not yet generated for stacks are refused by name"),
]
"""Refusals at a point the fuzzer thinks valid that the contract nevertheless documents."""

KNOWN_CHECK_FINDINGS: dict[str, str] = {
    # check → the finding of issue 17 that makes it fail today (empty it as fixes land).
}

RTOL = 1e-6
"""Tolerance relative to the largest entry involved (and at least 1)."""


@dataclass
class Tally:
    """Figures of a run: programs drawn, checks run, wrong numbers, crashes, skipped points."""

    programs: int = 0
    checks: int = 0
    wrong: int = 0
    crashes: int = 0
    refusals: int = 0
    no_valid_point: int = 0
    refined: int = 0
    """Checks that agreed with finite differences only at a smaller step
    (see :func:`_close_to_differences`)."""
    coarsened: int = 0
    """Checks that agreed with finite differences only at a larger step (the rounding of large
    values, see :func:`_close_to_differences`)."""

    def line(self) -> str:
        return (f"{self.programs} programs, {self.checks} checks, {self.wrong} wrong numbers, "
                f"{self.crashes} crashes, {self.refusals} documented refusals, "
                f"{self.no_valid_point} programs without a valid point, "
                f"{self.refined} checks passed at a smaller finite-difference step, "
                f"{self.coarsened} at a larger one")


def _documented(error: BaseException, program: Program) -> bool:
    return any(isinstance(error, kind) and text in str(error) and applies(program)
               for kind, text, applies, _ in DOCUMENTED_REFUSALS)


def _close(computed: Any, reference: Any, what: str, rtol: float = RTOL) -> None:
    computed, reference = np.asarray(computed, dtype=float), np.asarray(reference, dtype=float)
    assert computed.shape == reference.shape, f"{what}: shape {computed.shape}, expected {reference.shape}"
    scale = max(1.0, float(np.max(np.abs(reference), initial=0.0)))
    error = float(np.max(np.abs(computed - reference), initial=0.0))
    assert error <= rtol * scale, \
        f"{what}: off by {error:.3g} (scale {scale:.3g})\n{computed}\nvs\n{reference}"


REFINEMENTS = (10.0, 100.0)
"""Divisors of the finite-difference step tried when a check disagrees at the first step."""
COARSENINGS = (10.0, 100.0)
"""Multipliers of the finite-difference step tried after the :data:`REFINEMENTS`."""


def _close_to_differences(computed: Any, differences: Callable[[float], Any], h: float, what: str,
                          rtol: float, tally: "Tally") -> None:
    """``computed`` against ``differences(h)``, and when they disagree, against ``differences``
    at steps h/10 and h/100 before calling the number wrong.

    A step of h moves the point by up to ~4h·|H|; where the program varies fast (cos of an
    argument of 500, whose derivative is 10³) that crosses a kink of abs or max that lies
    well beyond :data:`~fuzz.terms.MARGIN` in value, or leaves the region where the
    stencil's O(h⁴) error is small. A smaller step sees the function the derivative
    describes; the tolerance stays the same, and a wrong derivative disagrees at every step
    (the differences converge to the true derivative, not to it). Costs nothing on a pass.

    Steps 10h and 100h come last: differences of a large value carry its rounding, about
    eps·|F|/h, which no smaller step reduces. At seed 57, (⋯ + I)³ − Y of 10⁷ has the derivative
    −H in Y, and central differences at h = 10⁻⁶ are off by 4.5·10⁻⁴.
    """
    try:
        _close(computed, differences(h), what, rtol)
        return
    except AssertionError as first:
        for divisor in REFINEMENTS:
            try:
                _close(computed, differences(h / divisor), what, rtol)
            except AssertionError as error:
                refined_error = str(error).splitlines()[0]
                continue
            tally.refined += 1
            return
        for multiplier in COARSENINGS:
            try:
                _close(computed, differences(h * multiplier), what, rtol)
            except AssertionError:
                continue
            tally.coarsened += 1
            return
        raise AssertionError(f"{first}\n(at step h/{REFINEMENTS[-1]:g}: {refined_error})") from None


def _at(values: Values, name: str, t: float, direction: np.ndarray) -> dict[str, np.ndarray]:
    return {**values, name: values[name] + t * direction}


CENTRAL_STEP, FIVE_POINT_STEP = 1e-6, 2e-4
"""First steps of the central and five-point differences."""


def central_difference(f: Callable[[Values], Any], values: Values, name: str, d: np.ndarray,
                       h: float = CENTRAL_STEP) -> np.ndarray:
    """(f(V + hD) − f(V − hD)) / 2h."""
    return (np.asarray(f(_at(values, name, h, d))) - np.asarray(f(_at(values, name, -h, d)))) / (2 * h)


def five_point_difference(f: Callable[[Values], Any], values: Values, name: str, d: np.ndarray,
                          h: float = FIVE_POINT_STEP) -> np.ndarray:
    """(−f(V + 2hD) + 8f(V + hD) − 8f(V − hD) + f(V − 2hD)) / 12h, error O(h⁴)."""
    def at(t: float) -> np.ndarray:
        return np.asarray(f(_at(values, name, t * h, d)))
    return (8 * (at(1) - at(-1)) - (at(2) - at(-2))) / (12 * h)


class Checker:
    """Runs the checks of one program at one point, collecting failures into messages."""

    def __init__(self, program: Program, values: Values, tally: Tally, rng: np.random.Generator,
                 with_known: bool = False):
        self.program, self.values, self.tally, self.rng = program, values, tally, rng
        self.with_known = with_known
        self.failures: list[str] = []

    def check(self, name: str, body: Callable[[], None]) -> None:
        self.tally.checks += 1
        try:
            body()
        except AssertionError as error:
            self.tally.wrong += 1
            self.failures.append(f"wrong number — {name}: {error}")
        except Exception as error:  # every exception at a valid point is a finding
            if _documented(error, self.program):
                self.tally.refusals += 1
                return
            self.tally.crashes += 1
            where = traceback.extract_tb(error.__traceback__)[-1]
            self.failures.append(f"crash — {name}: {type(error).__name__}: {error} "
                                 f"(at {Path(where.filename).name}:{where.lineno})")

    def evaluate(self, expr: Any, values: Values | None = None) -> np.ndarray:
        return np.asarray(kv.evaluate(expr, dict(self.values if values is None else values)))

    # -- the checks ---------------------------------------------------------------------------

    def value(self) -> None:
        expr, twin = self.program.expr, self.program.term.twin

        def body() -> None:
            computed, reference = kv.evaluate(expr, dict(self.values)), np.asarray(twin(self.values))
            assert np.shape(computed) == tuple(expr.shape), \
                f"kv.evaluate gives shape {np.shape(computed)}, the expression says {tuple(expr.shape)}"
            assert tuple(expr.shape) == reference.shape, \
                f"shape {tuple(expr.shape)}, NumPy's is {reference.shape}"
            _close(computed, reference, "value vs NumPy twin", rtol=1e-7)
        self.check("kv.evaluate vs the NumPy twin", body)

    def jacobian(self, name: str) -> None:
        expr, symbol = self.program.expr, self.program.variables[name]
        state: dict[str, Any] = {}

        def bind() -> None:
            L = kv.jacobian(expr, symbol).at(dict(self.values))
            assert tuple(L.in_shape) == tuple(symbol.shape) and tuple(L.out_shape) == tuple(expr.shape), \
                f"map {L.in_shape} -> {L.out_shape}, expected {symbol.shape} -> {expr.shape}"
            state["L"] = L
        self.check(f"bind the Jacobian in {name}", bind)
        if "L" not in state:
            return
        L, H = state["L"], self.rng.standard_normal(symbol.shape)
        G = self.rng.standard_normal(expr.shape)

        def of_values(v: Values) -> np.ndarray:
            return self.evaluate(expr, v)

        def differences() -> None:
            state["five"] = five_point_difference(of_values, self.values, name, H)
        self.check(f"kv.evaluate near the point, along {name}", differences)
        if "five" not in state:
            return

        def five(h: float) -> np.ndarray:
            return state["five"] if h == FIVE_POINT_STEP else five_point_difference(
                of_values, self.values, name, H, h)
        self.check(f"JVP in {name} vs five-point differences", lambda: _close_to_differences(
            L.jvp(H), five, FIVE_POINT_STEP, "JVP vs 5-point FD", RTOL, self.tally))
        self.check(f"JVP in {name} vs central differences", lambda: _close_to_differences(
            L.jvp(H), lambda h: central_difference(of_values, self.values, name, H, h), CENTRAL_STEP,
            "JVP vs central FD", 1e-5, self.tally))

        def vjp() -> None:
            vj = np.asarray(L.vjp(G))
            assert vj.shape == tuple(symbol.shape), f"VJP has shape {vj.shape}, not {symbol.shape}"
            _close_to_differences(np.vdot(vj, H), lambda h: np.vdot(G, five(h)), FIVE_POINT_STEP,
                                  "<VJP(G), H> vs <G, FD>", RTOL, self.tally)
        self.check(f"VJP in {name} vs finite differences", vjp)
        self.check(f"adjoint dot test in {name}", lambda: dottest(L, self.rng, rtol=1e-9))
        if L.shape[0] * L.shape[1] <= 4096:
            self.check(f"to_dense in {name} vs stacked JVPs", lambda: _close(
                L.to_dense(), np.column_stack([
                    np.asarray(L.jvp(e.reshape(symbol.shape, order="F"))).reshape(-1, order="F")
                    for e in np.eye(L.shape[1])]).reshape(L.shape), "to_dense", rtol=1e-10))
        self.generated_jacobian(name, L, H)

    def generated_jacobian(self, name: str, L: Any, H: np.ndarray) -> None:
        symbols = list(self.program.variables.values())
        if (self.program.has_stacks and "lambdify jacobian of a stack" in KNOWN_CHECK_FINDINGS
                and not self.with_known):
            return
        J = kv.jacobian(self.program.expr, self.program.variables[name])
        args = [self.values[s.params.name] for s in symbols]
        self.check(f"lambdify of the Jacobian in {name} vs the bound JVP",
                   lambda: _close(kv.lambdify(symbols, J)(*args, H), L.jvp(H), "generated JVP", rtol=1e-9))

    def generated_value(self) -> None:
        symbols = list(self.program.variables.values())
        args = [self.values[s.params.name] for s in symbols]

        def body() -> None:
            computed = np.asarray(kv.lambdify(symbols, self.program.expr)(*args))
            reference = self.evaluate(self.program.expr)
            assert computed.shape == reference.shape, \
                f"generated code gives {computed.shape}, not {reference.shape}"
            _close(computed, reference, "generated value", rtol=1e-9)
        self.check("lambdify vs kv.evaluate", body)

    def scalar(self, with_hessian: bool) -> None:
        """grad and hessian of f = Σ C ⊙ E, in each variable and in all at once."""
        expr = self.program.expr
        weights = self.rng.standard_normal(expr.shape)
        f = kv.sum(expr * weights) if expr.shape != () else expr
        names = sorted(self.program.variables)
        grads: dict[str, np.ndarray] = {}
        for name in names:
            symbol = self.program.variables[name]
            if (tuple(symbol.shape) == (1, 1) and "grad of a (1, 1) variable" in KNOWN_CHECK_FINDINGS
                    and not self.with_known):
                continue
            H = self.rng.standard_normal(symbol.shape)

            def grad(name: str = name, symbol: Any = symbol, H: np.ndarray = H) -> None:
                G = self.evaluate(kv.grad(f, symbol))
                assert G.shape == tuple(symbol.shape), f"kv.grad has shape {G.shape}, not {symbol.shape}"
                grads[name] = G
                _close_to_differences(np.vdot(G, H), lambda h: five_point_difference(
                    partial(self.evaluate, f), self.values, name, H, h), FIVE_POINT_STEP,
                    "<grad, H> vs 5-point FD", RTOL, self.tally)
            self.check(f"kv.grad in {name}", grad)
            if with_hessian:
                self.check(f"kv.hessian in {name}",
                           lambda name=name, symbol=symbol: self.hessian(f, name, symbol))
        if len(names) >= 2 and len(grads) == len(names):
            def together() -> None:
                for name, G in zip(names, kv.grad(f, [self.program.variables[k] for k in names])):
                    _close(self.evaluate(G), grads[name], f"kv.grad(f, [...]) in {name}", rtol=1e-10)
            self.check("kv.grad in several variables at once", together)

    def hessian(self, f: Any, name: str, symbol: Any) -> None:
        Hm = kv.hessian(f, symbol).at(dict(self.values))
        h1, h2 = self.rng.standard_normal(symbol.shape), self.rng.standard_normal(symbol.shape)
        a, b = float(np.vdot(Hm.jvp(h1), h2)), float(np.vdot(h1, Hm.jvp(h2)))
        assert abs(a - b) <= 1e-8 * max(1.0, abs(a), abs(b)), f"Hessian not symmetric: {a} vs {b}"
        g = kv.grad(f, symbol)
        _close_to_differences(Hm.jvp(h1), lambda h: five_point_difference(
            lambda v: self.evaluate(g, v), self.values, name, h1, h), FIVE_POINT_STEP,
            "Hessian-vector product vs 5-point FD of the gradient", 1e-5, self.tally)


def check_program(program: Program, values: Values, tally: Tally, rng: np.random.Generator,
                  with_known: bool = False) -> list[str]:
    """Run every check; return the failures (empty when the program passes)."""
    checker = Checker(program, values, tally, rng, with_known)
    if program.build_error:
        tally.checks += 1
        tally.crashes += 1
        return [f"crash — building the program: {program.build_error}"]
    checker.value()
    for name in sorted(program.variables):
        checker.jacobian(name)
    checker.scalar(with_hessian=with_known or not program.term.tags & KNOWN_GAPS.keys())
    checker.generated_value()
    return checker.failures
