"""The fuzzer's own machinery: its finite-difference checks and the replay of a reported program.

A check of the fuzzer must neither call a right derivative wrong (a point whose
finite-difference stencil crosses a kink) nor let a wrong one pass.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special as special
from fuzz.checks import FIVE_POINT_STEP, Tally, _close_to_differences, check_program
from fuzz.draw_elementwise import draw_smooth_function
from fuzz.draw_linalg import _spd
from fuzz.programs import Program
from fuzz.survey import _run, parse_id, program_id
from fuzz.terms import MARGIN, Term

import kronvec as kv

# The scale-10 survey's abs(cos((min(logΦ(3X), axis=3, keepdims)² + 0.5)^1.5)) at X (2, 1, 2, 3):
# cos of an argument near 490 has a derivative near 10³ in X, so the five-point stencil (reaching
# 4e-4·H) moves it by ~0.8 rad and crosses the kink of abs (cos goes 0.147 → −0.145), although
# |cos| = 0.147 is three times MARGIN away from it. Smaller steps converge to kronvec's JVP
# (central differences: off by 6e-5 at h = 1e-6, 4e-6 at 1e-7, with JVP entries of 700).
X_KINK = np.array([[[[-0.9783329, -0.84280664, -0.9115883], [-0.43587976, 1.01309608, -1.12091972]]],
                   [[[0.66077862, 0.88373034, -0.24882244], [-0.49065526, 0.33048023, 0.85019037]]]])


def _kink_program() -> Program:
    X = kv.Matrix("X", X_KINK.shape)
    m = kv.min(kv.log_ndtr(3.0 * X), axis=3, keepdims=True)

    def twin(v):
        mm = special.log_ndtr(3.0 * v["X"]).min(axis=3, keepdims=True)
        return np.abs(np.cos((mm * mm + 0.5) ** 1.5))
    return Program(Term(kv.abs(kv.cos((m * m + 0.5) ** 1.5)), twin), {"X": X}, "stack, two axes", 3)


@pytest.mark.parametrize("seed", [0, 1])
def test_a_stencil_across_a_kink_is_retried_at_smaller_steps_not_called_wrong(seed):
    tally = Tally()
    failures = check_program(_kink_program(), {"X": X_KINK}, tally, np.random.default_rng(seed))
    assert failures == [] and tally.wrong == 0 and tally.crashes == 0
    assert tally.refined >= 1  # the first step disagreed: the retry is what passed


def _derivative_of_cos_500(x: float, h: float) -> float:
    def f(t: float) -> float:
        return float(np.cos(500.0 * t))
    return (8 * (f(x + h) - f(x - h)) - (f(x + 2 * h) - f(x - 2 * h))) / (12 * h)


def test_the_retry_passes_the_right_derivative_and_still_refuses_a_wrong_one():
    x = 0.3
    right = -500.0 * np.sin(500.0 * x)
    tally = Tally()
    _close_to_differences(right, lambda h: _derivative_of_cos_500(x, h), FIVE_POINT_STEP, "d cos", 1e-6,
                          tally)
    assert tally.refined == 1  # wrong at 2e-4 (the stencil spans 0.4 rad), right at 2e-5
    for wrong in (right * (1 + 1e-5), right + 1e-3, -right):
        with pytest.raises(AssertionError, match="at step h/100"):
            _close_to_differences(wrong, lambda h: _derivative_of_cos_500(x, h), FIVE_POINT_STEP, "d cos",
                                  1e-6, Tally())


def test_a_reported_program_id_replays_the_same_program():
    assert parse_id(program_id("stack, two axes", True, 17)) == ("stack, two axes", True, 17)

    def drawn(seed):
        out = []
        _run("plain matrix", False, 0.05, seed, False, lambda i, p, rng: out.append((i, str(p.expr))))
        return out
    first = drawn(5)
    assert [i for i, _ in first] == list(range(4))
    assert drawn(5) == first  # the same seed draws the same programs, in the same order
    assert drawn(6) != first


# Seed 41's (M⁶ + I)⁻¹M³ with M = L Lᵀ + I, L = log_softmax(X − c): the outer P = t tᵀ + I (t = M³)
# has κ = 1.9e10, where central differences are off by 0.14 and the derivative itself, written as
# four solves whose terms of 10³ cancel to 0.1, keeps two digits. Seed 54's cos(exp(det(A)/2)) turns
# by whole periods within one finite-difference step (argument 7e5).
X_SEED_41 = np.array([[-1.1723107877997911, 0.4010202083906988, 1.1217887836554],
                      [0.6553595694451861, 0.19306368204908933, -1.210258199387554],
                      [-0.6972299547639585, -0.04721162546487399, -0.8713550897434195]])


def _symbol_term(shape: tuple[int, ...]) -> Term:
    return Term(kv.Matrix("X", shape), lambda v: v["X"])


def _valid(term: Term, values: dict[str, np.ndarray]) -> bool:
    return all(guard.margin(values) > MARGIN for guard in term.guards)


def test_an_ill_conditioned_spd_argument_is_not_a_valid_point():
    x = _symbol_term((3, 3))
    lsm = x.then(kv.log_softmax(x.expr), lambda v: special.log_softmax(x.twin(v)))
    m = _spd(lsm)
    m3 = m.then(kv.matrix_power(m.expr, 3), lambda v: np.linalg.matrix_power(m.twin(v), 3))
    assert _valid(m, {"X": X_SEED_41})  # M itself: κ = 58
    assert not _valid(_spd(m3), {"X": X_SEED_41})  # M⁶ + I: κ = 1.9e10


def test_the_condition_guard_sees_what_rounding_hides_in_p():
    # t = R diag(1e18, 1) Rᵀ: P = t tᵀ + I has κ ≈ 1e36, but P's computed eigenvalues lose the small
    # one to rounding (eigvalsh's error is eps·λmax ≈ 1e20), which would make κ look small or negative
    rotation = np.linalg.qr(np.random.default_rng(0).standard_normal((2, 2)))[0]
    big = rotation @ np.diag([1e18, 1.0]) @ rotation.T
    p = _spd(_symbol_term((2, 2)))
    assert not _valid(p, {"X": big})
    assert _valid(p, {"X": rotation @ np.diag([30.0, 1.0]) @ rotation.T})
    assert _valid(_spd(_symbol_term((3, 2))), {"X": np.ones((3, 2))})  # P has the eigenvalue 1
    stack = np.stack([np.eye(2), big])
    assert not _valid(_spd(_symbol_term((2, 2, 2))), {"X": stack})  # any member


class _Picks:
    def __init__(self, name: str) -> None:
        self.name = name

    def pick(self, options: list[str]) -> str:
        return self.name


@pytest.mark.parametrize("name", ["cos", "sin"])
def test_sin_and_cos_of_a_large_argument_are_not_a_valid_point(name):
    term = draw_smooth_function(_Picks(name), _symbol_term((2, 1)))
    assert _valid(term, {"X": np.array([[3.0], [-40.0]])})
    assert not _valid(term, {"X": np.array([[3.0], [7.3e5]])})
    tanh = draw_smooth_function(_Picks("tanh"), _symbol_term((2, 1)))
    assert _valid(tanh, {"X": np.array([[3.0], [7.3e5]])})
