"""Programs evaluate as a person writes them in NumPy: a transpose of a shared node reads that
node (as ``.T``), biases broadcast instead of forming 𝟙b, sums over rows are sums instead of
products with 𝟙ᵀ, in ``kv.evaluate`` and in the code ``kv.lambdify`` writes."""
from __future__ import annotations

import operator
import weakref

import numpy as np
import pytest

import kronvec as kv
from kronvec.evaluation import Binder, Plan, run_recorded, symbol_table


def _steps(exprs, values):
    plans: dict = {}
    run_recorded(plans, list(exprs), Binder(symbol_table(list(exprs)))(values))
    (plan,) = plans.values()
    return plan.steps


def _mlp(n=7, d=4, h=5, k=3, seed=0):
    rng = np.random.default_rng(seed)
    X, Y = kv.Matrix("X", (n, d)), kv.Matrix("Y", (n, k))
    W1, b1, W2, b2 = kv.Matrix("W1", (d, h)), kv.Matrix("b1", (1, h)), kv.Matrix("W2", (h, k)), \
        kv.Matrix("b2", (1, k))
    R = kv.tanh(X @ W1 + b1) @ W2 + b2 - Y
    loss = 0.5 * kv.sum(R * R)
    vals = {"X": rng.standard_normal((n, d)), "Y": rng.standard_normal((n, k)),
            "W1": rng.standard_normal((d, h)), "b1": rng.standard_normal((1, h)),
            "W2": rng.standard_normal((h, k)), "b2": rng.standard_normal((1, k))}
    return [loss, *kv.grad(loss, [W1, b1, W2, b2])], [X, Y, W1, b1, W2, b2], vals


def _by_hand(X, Y, W1, b1, W2, b2):
    H = np.tanh(X @ W1 + b1)
    R = H @ W2 + b2 - Y
    dZ = (R @ W2.T) * (1 - H * H)
    return 0.5 * np.sum(R * R), X.T @ dZ, dZ.sum(0, keepdims=True), H.T @ R, R.sum(0, keepdims=True)


def test_the_mlp_gradients_are_the_hand_written_ones():
    outs, _, vals = _mlp()
    for got, want in zip(kv.evaluate(outs, vals), _by_hand(**vals)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def test_a_transpose_of_a_shared_node_reads_that_node():
    # before: tanh(W1ᵀXᵀ + b1ᵀ𝟙ᵀ), the transpose pushed to the leaves, was a second tanh
    outs, _, vals = _mlp()
    assert sum(fn is np.tanh for fn, _, _ in _steps(outs, vals)) == 1
    X, W = kv.Matrix("X", (6, 4)), kv.Matrix("W", (4, 5))
    Z = kv.exp(X @ W)
    X0, W0 = np.linspace(-1, 1, 24).reshape(6, 4), np.linspace(0, 1, 20).reshape(4, 5)
    steps = _steps([Z, Z.T], {"X": X0, "W": W0})
    assert sum(fn is np.exp for fn, _, _ in steps) == 1
    value, flipped = kv.evaluate([Z, Z.T], X=X0, W=W0)
    np.testing.assert_array_equal(flipped, value.T)
    np.testing.assert_allclose(value, np.exp(X0 @ W0), rtol=1e-15)


def test_products_with_a_vector_of_ones_are_broadcasts_and_sums():
    # before: 𝟙b1 was an outer product and 𝟙ᵀP a matrix-vector product with ones
    outs, _, vals = _mlp()
    steps = _steps(outs, vals)
    ones_operands = [ins for fn, ins, _ in steps if fn is operator.matmul]
    assert len(ones_operands) == 5  # X W1, H W2, R W2ᵀ, Xᵀ dZ, Hᵀ R: nothing with 𝟙
    b, A = kv.Matrix("b", (1, 3)), kv.Matrix("A", (4, 3))
    c = kv.Matrix("c", (4, 1))
    b0, A0, c0 = np.array([[1.0, 2.0, 3.0]]), np.arange(12.0).reshape(4, 3), np.arange(4.0).reshape(4, 1)
    f = [A + b, A + c, kv.ones(1, 4) @ A, A @ kv.ones(3, 1), kv.ones(4, 1) @ b, c @ kv.ones(1, 3)]
    got = kv.evaluate(f, A=A0, b=b0, c=c0)
    want = [A0 + b0, A0 + c0, A0.sum(0, keepdims=True), A0.sum(1, keepdims=True), np.repeat(b0, 4, 0),
            np.repeat(c0, 3, 1)]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-15)
        assert g.flags.writeable  # kv.evaluate's results are the caller's arrays


def test_products_with_ones_on_stacks():
    A, b = kv.Array("A", (2, 4, 3)), kv.Array("b", (2, 1, 3))
    A0 = np.arange(24.0).reshape(2, 4, 3)
    b0 = np.arange(6.0).reshape(2, 1, 3)
    got = kv.evaluate([kv.ones(4, 1) @ b, kv.ones(1, 4) @ A, A @ kv.ones(3, 1)], A=A0, b=b0)
    want = [np.ones((4, 1)) @ b0, np.ones((1, 4)) @ A0, A0 @ np.ones((3, 1))]
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-15)


def test_generated_mlp_code_broadcasts_and_sums():
    outs, symbols, vals = _mlp()
    fn = kv.lambdify(symbols, outs)
    source = fn.source if hasattr(fn, "source") else ""
    assert "np.ones((7, 1))" not in source and "np.ones((1, 7))" not in source, source
    assert "broadcast_to(b1" in source and ".sum(axis=-2, keepdims=True)" in source, source
    assert source.count("np.tanh(") == 1, source
    for got, want in zip(fn(*[vals[s.name] for s in symbols]), _by_hand(**vals)):
        np.testing.assert_allclose(np.reshape(got, np.shape(want)), want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(1, 1), (1, 4), (4, 1)])
def test_ones_products_of_thin_shapes(shape):
    A = kv.Matrix("A", shape)
    A0 = np.arange(1.0, 1 + np.prod(shape)).reshape(shape)
    p, q = shape
    got = kv.evaluate([kv.ones(1, p) @ A, A @ kv.ones(q, 1), kv.sum(A + 1.0)], A=A0)
    np.testing.assert_allclose(got[0], A0.sum(0, keepdims=True))
    np.testing.assert_allclose(got[1], A0.sum(1, keepdims=True))
    np.testing.assert_allclose(got[2], (A0 + 1).sum())


def test_a_recorded_plan_releases_each_temporary_after_its_last_use_and_drops_dead_steps():
    # before: every intermediate lived until the plan returned (fresh pages on every call), and
    # a step whose result nothing read (-A beside a sum that reads A with coefficient -1) ran
    x = kv.Matrix("x", (3, 3))
    seen: list = []
    refs: list = []

    def double(a):
        out = 2.0 * a
        refs.append(weakref.ref(out))
        return out

    def probe(a):
        seen.append(refs[-1]() is None)  # the doubled temporary is gone by now
        return a

    dead_calls: list = []
    steps = [(double, (0,), 1), (np.negative, (1,), 2), (lambda a: dead_calls.append(1) or a, (1,), 3),
             (probe, (2,), 4)]
    plan = Plan({x: 0}, {}, steps, [4], [], 5, frozenset())
    x0 = np.arange(9.0).reshape(3, 3)
    for _ in range(3):  # step by step, then compiled
        (got,) = plan.run({x: x0})
        np.testing.assert_array_equal(got, -2.0 * x0)
    assert seen == [True, True, True] and dead_calls == []
    assert len(plan.steps) == 3


def test_a_plan_is_compiled_only_when_it_is_replayed_a_second_time():
    # a derivative bound once (cold first use) does not pay for compiling its plan
    x = kv.Matrix("x", (2, 2))
    plan = Plan({x: 0}, {}, [(np.negative, (0,), 1)], [1], [], 2, frozenset())
    x0 = np.eye(2)
    assert plan._compiled is None
    np.testing.assert_array_equal(plan.run({x: x0})[0], -x0)
    assert plan._compiled is None
    np.testing.assert_array_equal(plan.run({x: x0})[0], -x0)
    assert plan._compiled is not None
    np.testing.assert_array_equal(plan.run({x: 2 * x0})[0], -2 * x0)


def test_errors_still_name_the_singular_matrix_with_labels_made_on_demand():
    X, V = kv.Matrix("X", (4, 2)), kv.Matrix("V", (4, 4))
    J = kv.jacobian(kv.inv(X.T @ kv.inv(V) @ X), V)
    X0 = np.arange(8.0).reshape(4, 2)
    J.at(X=X0, V=np.eye(4) + 0.1)
    with pytest.raises(np.linalg.LinAlgError, match=r"V is singular|inv\(V\)|solve\(V"):
        J.at(X=X0, V=np.ones((4, 4)))
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        J.at(X=np.ones((4, 2)), V=np.eye(4))


def test_a_stack_whose_inverse_is_an_output_solves_by_products_with_it():
    # before: F = (XᵀV⁻¹X)⁻¹ of every member was formed for the value and, besides, a batched LU
    # solve with XᵀV⁻¹X made FXᵀV⁻¹
    b, n, m = 3, 6, 2
    rng = np.random.default_rng(3)
    R = rng.standard_normal((b, n, n))
    V0 = R @ np.swapaxes(R, 1, 2) / n + np.eye(n)
    V0 = (V0 + np.swapaxes(V0, 1, 2)) / 2
    X0 = rng.standard_normal((b, n, m))
    X, V = kv.Matrix("X", (b, n, m)), kv.Matrix("V", (b, n, n), symmetric=True)
    F = kv.inv(X.mT @ kv.solve(V, X))
    J = kv.jacobian(F, V)
    L = J.at(X=X0, V=V0)
    (plan,) = J._binding.plans[J._binding.eager_value].values()
    solves = [fn for fn, _, _ in plan.steps if "solve" in repr(fn)]
    assert len(solves) == 1, plan.steps  # V⁻¹ once; F by its inverse, which F is
    Y = np.linalg.solve(V0, X0)
    F0 = np.linalg.inv(np.swapaxes(X0, 1, 2) @ Y)
    W = Y @ F0
    H = rng.standard_normal((b, n, n))
    np.testing.assert_allclose(L.jvp(H), np.swapaxes(W, 1, 2) @ H @ W, rtol=1e-10)
    np.testing.assert_allclose(L.value, F0, rtol=1e-12)
    with pytest.raises(np.linalg.LinAlgError, match="member 1|\\[1\\]"):
        X1 = X0.copy()
        X1[1] = 0.0
        J.at(X=X1, V=V0)


def test_a_stack_solve_with_more_columns_than_rows_goes_through_the_inverses():
    # before: a batched LU solve of the 5×5 members against 20 columns (and a probe column)
    rng = np.random.default_rng(4)
    A0 = rng.standard_normal((50, 3, 3)) + 3 * np.eye(3)
    B0 = rng.standard_normal((50, 3, 7))
    A, B = kv.Matrix("A", (50, 3, 3)), kv.Matrix("B", (50, 3, 7))
    calls: list = []
    original = np.linalg.solve
    try:
        np.linalg.solve = lambda *a, **k: calls.append(1) or original(*a, **k)
        got = kv.evaluate(kv.solve(A, B), A=A0, B=B0)
    finally:
        np.linalg.solve = original
    np.testing.assert_allclose(got, original(A0, B0), rtol=1e-12)
    assert calls == []
    singular = A0.copy()
    singular[7] = np.outer([1.0, 2.0, 3.0], [1.0, 1.0, 1.0])
    with pytest.raises(np.linalg.LinAlgError, match="member 7|\\[7\\]"):
        kv.evaluate(kv.solve(A, B), A=singular, B=B0)
