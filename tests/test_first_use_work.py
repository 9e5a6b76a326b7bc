"""First use does the work a person would write, and no more: binding a map computes F beside
its factors only when F adds little to them, the sigmoid's slope σ(u) ⊙ σ(−u) is one
exponential, and every value and error stays what it was."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.special import expit

import kronvec as kv
from kronvec.evaluation import Binder, run_recorded, symbol_table
from kronvec.evaluation.batched import one_norms
from kronvec.evaluation.fused import sigmoid_slope


def _logistic(n: int, d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X0 = rng.standard_normal((n, d)) / np.sqrt(d)
    y0 = (rng.random((n, 1)) < 0.5).astype(float)
    w0 = rng.standard_normal((d, 1))
    X, w, y = kv.Matrix("X", (n, d)), kv.Vector("w", d), kv.Vector("y", n)
    f = kv.sum(kv.softplus(X @ w)) - y.T @ X @ w
    return f, w, {"X": X0, "y": y0, "w": w0}


def test_binding_the_logistic_hessian_leaves_the_gradient_for_when_it_is_read():
    # before: J.at computed Xᵀσ(Xw) − Xᵀy (two more products with X) at every binding
    f, w, values = _logistic(600, 60)
    L = kv.hessian(f, w).at(values)
    assert L._value_thunk is not None
    X0, y0, w0 = values["X"], values["y"], values["w"]
    np.testing.assert_allclose(L.value, X0.T @ (expit(X0 @ w0) - y0), rtol=1e-12, atol=1e-12)
    D = expit(X0 @ w0) * expit(-X0 @ w0)
    v = np.linspace(-1, 1, 60).reshape(60, 1)
    np.testing.assert_allclose(L.jvp(v), X0.T @ (D * (X0 @ v)), rtol=1e-12)


def test_a_small_value_beside_the_factors_is_still_computed_with_them():
    f, w, values = _logistic(8, 3)
    L = kv.hessian(f, w).at(values)
    assert L._value_thunk is None
    X0, y0, w0 = values["X"], values["y"], values["w"]
    np.testing.assert_allclose(L.value, X0.T @ (expit(X0 @ w0) - y0), rtol=1e-12, atol=1e-14)


def test_a_bad_value_of_a_symbol_only_the_value_needs_is_still_refused_at_binding():
    f, w, values = _logistic(600, 60)
    values["y"] = values["y"].copy()
    values["y"][3, 0] = np.nan
    with pytest.raises(ValueError, match="value for y contains NaN or inf"):
        kv.hessian(f, w).at(values)


@pytest.mark.parametrize("u", [np.linspace(-800.0, 800.0, 4001).reshape(-1, 1),
                               np.array([[-np.inf], [np.inf], [0.0], [-745.0], [36.0]]),
                               np.linspace(-5, 5, 24).reshape(2, 3, 4)])
def test_the_sigmoid_slope_is_the_product_of_the_two_sigmoids(u):
    # atol for the denormal tails, where the one exponential is the nearer of the two
    np.testing.assert_allclose(sigmoid_slope(u), expit(u) * expit(-u), rtol=4e-15, atol=1e-300)
    assert sigmoid_slope(np.float64(2.0)) == pytest.approx(expit(2.0) * expit(-2.0), rel=1e-15)
    assert np.isnan(sigmoid_slope(np.array([[np.nan]])))[0, 0]


def test_the_evaluator_computes_the_sigmoid_slope_with_one_exponential():
    u = kv.Matrix("u", (50, 3))
    slope = kv.sigmoid(u) * kv.sigmoid(-u)
    plans: dict = {}
    u0 = np.linspace(-40, 40, 150).reshape(50, 3)
    got = kv.evaluate(slope, u=u0)
    np.testing.assert_allclose(got, expit(u0) * expit(-u0), rtol=4e-15)
    run_recorded(plans, [slope], Binder(symbol_table([slope]))({"u": u0}))
    steps = [fn for plan in plans.values() for fn, _, _ in plan.steps]
    assert steps == [sigmoid_slope]


def test_the_sigmoids_are_still_computed_when_another_output_needs_them():
    u = kv.Matrix("u", (4, 3))
    u0 = np.linspace(-3, 3, 12).reshape(4, 3)
    slope, s, r = kv.evaluate([kv.sigmoid(u) * kv.sigmoid(-u), kv.sigmoid(u), kv.sigmoid(-u)], u=u0)
    np.testing.assert_allclose(slope, expit(u0) * expit(-u0), rtol=4e-15)
    np.testing.assert_allclose(s, expit(u0), rtol=1e-15)
    np.testing.assert_allclose(r, expit(-u0), rtol=1e-15)


@pytest.mark.parametrize("shape", [(3, 4, 4), (400, 20, 20), (7, 3, 300, 5), (2, 1, 1), (0, 3, 3)])
def test_the_one_norms_of_a_stack_taken_a_few_members_at_a_time(shape):
    a = np.random.default_rng(1).standard_normal(shape)
    if a.size > 10:
        a.reshape(-1)[5] = np.nan  # a NaN member has a NaN norm, as before
    expected = np.abs(a).sum(axis=-2).max(axis=-1)
    np.testing.assert_allclose(one_norms(a), expected, rtol=1e-14)
    flipped = np.swapaxes(a, -1, -2)  # not contiguous
    np.testing.assert_allclose(one_norms(flipped), np.abs(flipped).sum(axis=-2).max(axis=-1), rtol=1e-14)
