"""One symbolic derivative and its recorded plans serve every size (issue 20): a derivative whose
sizes are names records one plan, keyed by its symbolic structure, and replays it with the values
of every size set; its numbers are those of the sized derivative at each size."""
from __future__ import annotations

import numpy as np
import pytest

import kronvec as kv
from kronvec.evaluation.evaluator import Evaluator
from kronvec.evaluation.plan import Program, size_free
from kronvec.testing import dottest, fd_jacobian


def _spd(rng: np.random.Generator, n: int) -> np.ndarray:
    A = rng.standard_normal((n, n))
    return A @ A.T + n * np.eye(n)


@pytest.fixture
def recordings(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The number of plans recorded (one entry per evaluation that made a plan)."""
    made: list[int] = []
    record = Evaluator.plan

    def counted(self: Evaluator, outputs):  # type: ignore[no-untyped-def]
        made.append(1)
        return record(self, outputs)
    monkeypatch.setattr(Evaluator, "plan", counted)
    return made


def _gls(sizes: tuple[object, object], pd: bool = True, tag: str = "") -> tuple[kv.Expr, kv.Expr, kv.Expr]:
    """F = (XᵀV⁻¹X)⁻¹ (symbols named with ``tag``: derivatives are cached by their expression)."""
    n, m = sizes
    X = kv.Matrix("X" + tag, (n, m))
    V = kv.Matrix("V" + tag, (n, n), positive_definite=pd)
    return kv.inv(X.T @ kv.inv(V) @ X), X, V


@pytest.mark.parametrize("pd", [True, False])
def test_a_named_derivative_gives_the_sized_numbers_at_every_size_set(pd: bool) -> None:
    F, X, V = _gls(("n", "m"), pd)
    J = kv.jacobian(F, V)
    rng = np.random.default_rng(20)
    compiled = Program.compilations
    for n, m in [(5, 3), (8, 4), (3, 2), (8, 4), (6, 1)]:
        X0, V0 = rng.standard_normal((n, m)), _spd(rng, n)
        L = J.at(X=X0, V=V0)
        Fs, Xs, Vs = _gls((n, m), pd)
        sized = kv.jacobian(Fs.named("F"), Vs).at(X=X0, V=V0)  # a derivative of its own
        np.testing.assert_allclose(L.to_dense(), sized.to_dense(), rtol=1e-12, atol=1e-14)
        Fg, Xg, Vg = _gls((n, m), pd=False)  # differences of a general V: the unconstrained map
        np.testing.assert_allclose(L.to_dense(), fd_jacobian(Fg, Vg, {"X": X0, "V": V0}, eps=1e-4, points=5),
                                   rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(L.value, np.linalg.inv(X0.T @ np.linalg.solve(V0, X0)), rtol=1e-12)
        dottest(L, rng=rng)
        assert L.in_shape == (n, n) and L.out_shape == (m, m)
    assert Program.compilations - compiled >= 1  # the shared plan, compiled at its second replay


def test_the_plan_recorded_at_one_size_set_is_the_one_replayed_at_the_others(recordings: list[int]) -> None:
    F, X, V = _gls(("n", "m"), tag="21")
    J = kv.jacobian(F, V)
    rng = np.random.default_rng(21)
    compiled = Program.compilations
    for n, m in [(5, 3), (9, 2), (4, 4)]:
        J.at(X21=rng.standard_normal((n, m)), V21=_spd(rng, n))
    assert len(recordings) == 1  # recorded at (5, 3), replayed at (9, 2) and compiled at (4, 4)
    for n, m in [(6, 2), (3, 3)]:
        X0, V0 = rng.standard_normal((n, m)), _spd(rng, n)
        F0 = np.linalg.inv(X0.T @ np.linalg.solve(V0, X0))  # dF = F Xᵀ V⁻¹ dV V⁻¹ X F is F at dV = V
        np.testing.assert_allclose(J.at(X21=X0, V21=V0).jvp(V0), F0, rtol=1e-10)
    assert len(recordings) == 1 and Program.compilations == compiled + 1
    programs = {id(plan.program) for sized in J._per_sizes._data.values()
                for plans in sized._binding.plans.values() for plan in plans.values()}
    assert len(programs) == 1


def test_a_structure_whose_steps_read_sizes_keeps_a_plan_per_size_set(recordings: list[int]) -> None:
    X = kv.Matrix("X22", ("n", "m"))
    F = kv.sum(X @ X.T + kv.eye("n"), axis=0)  # an identity and a reduction over an axis: sizes in the steps
    assert not size_free([F])
    J = kv.jacobian(F, X)
    rng = np.random.default_rng(22)
    bindings = 0
    for n, m in [(4, 3), (6, 2)]:
        X0, Xs = rng.standard_normal((n, m)), kv.Matrix("X22", (n, m))
        Fs = kv.sum(Xs @ Xs.T + kv.eye(n), axis=0)
        expected = fd_jacobian(Fs, Xs, {"X22": X0}, eps=1e-4, points=5)
        before = len(recordings)
        L, again = J.at(X22=X0), J.at(X22=X0)
        bindings += len(recordings) - before
        np.testing.assert_allclose(L.to_dense(), expected, rtol=1e-6, atol=1e-8)
        np.testing.assert_allclose(again.value, np.sum(X0 @ X0.T + np.eye(n), axis=0, keepdims=True))
    assert bindings == 2  # one plan per size set


def test_symmetric_values_at_one_size_set_and_general_ones_at_another_keep_their_plans() -> None:
    F, X, V = _gls(("n", "m"), pd=False)
    J = kv.jacobian(F, V)
    rng = np.random.default_rng(23)
    for n, m, symmetric in [(5, 2, True), (7, 3, False), (6, 2, False), (4, 3, True)]:
        X0 = rng.standard_normal((n, m))
        V0 = _spd(rng, n) if symmetric else _spd(rng, n) + np.triu(rng.standard_normal((n, n)), 1)
        Fs, Xs, Vs = _gls((n, m), pd=False)
        np.testing.assert_allclose(J.at(X=X0, V=V0).to_dense(), kv.jacobian(Fs, Vs).at(X=X0, V=V0).to_dense(),
                                   rtol=1e-11, atol=1e-13)
    with pytest.raises(np.linalg.LinAlgError, match=r"V"):
        J.at(X=rng.standard_normal((5, 2)), V=np.ones((5, 5)))


def test_a_sized_derivative_bound_before_keeps_its_plans_when_the_named_one_binds_at_its_sizes(
        recordings: list[int]) -> None:
    rng = np.random.default_rng(24)
    X0, V0 = rng.standard_normal((6, 2)), _spd(rng, 6)
    Fs, Xs, Vs = _gls((6, 2), tag="24")
    sized = kv.jacobian(Fs, Vs).at(X24=X0, V24=V0)
    assert len(recordings) == 1
    F, X, V = _gls(("n", "m"), tag="24")
    named = kv.jacobian(F, V).at(X24=X0, V24=V0)  # the same sized derivative: its plan is replayed
    assert len(recordings) == 1
    np.testing.assert_allclose(named.to_dense(), sized.to_dense(), rtol=1e-13)
