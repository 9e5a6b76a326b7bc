"""Evaluation: shared work, solves instead of inverses, and clear errors."""
from __future__ import annotations

import importlib

import numpy as np
import pytest

import kronvec as kv
from kronvec.testing import fd_jacobian

evaluation = importlib.import_module("kronvec.evaluation")


@pytest.fixture
def solve_log(monkeypatch):
    """Record every solve (label, right-hand side shape) and forbid explicit inverses."""
    calls = []
    original = evaluation.Factorization.solve

    def solve(self, b, trans=False, context=None):
        calls.append((self.label, b.shape))
        return original(self, b, trans, context)

    def no_inverse(*args, **kwargs):
        raise AssertionError("an explicit inverse was formed")

    monkeypatch.setattr(evaluation.Factorization, "solve", solve)
    monkeypatch.setattr(np.linalg, "inv", no_inverse)
    return calls


def _gls(n=30, m=4, pd=False, symmetric_value=True, seed=0):
    rng = np.random.default_rng(seed)
    X, V = kv.Matrix("X", (n, m)), kv.Matrix("V", (n, n), positive_definite=pd)
    F = kv.inv(X.T @ kv.inv(V) @ X)
    A = rng.standard_normal((n, n))
    V0 = A @ A.T / n + np.eye(n) if symmetric_value else A + n * np.eye(n)
    return F, X, V, rng.standard_normal((n, m)), V0


@pytest.mark.parametrize("pd", [False, True])
def test_gls_factors_cost_one_solve_with_v(solve_log, pd):
    F, X, V, X0, V0 = _gls(pd=pd)
    L = kv.jacobian(F, V).at(X=X0, V=V0)
    with_v = [c for c in solve_log if c[0] == "inv(V)"]
    assert len(with_v) == 1, solve_log
    W = np.linalg.solve(V0, X0) @ np.linalg.solve(X0.T @ np.linalg.solve(V0, X0), np.eye(4))
    H = np.random.default_rng(1).standard_normal(V0.shape)
    np.testing.assert_allclose(L.jvp(H), W.T @ H @ W, rtol=1e-10, atol=1e-12)


def test_nonsymmetric_value_uses_two_solves_and_stays_correct(solve_log):
    F, X, V, X0, V0 = _gls(symmetric_value=False)
    L = kv.jacobian(F, V).at(X=X0, V=V0)
    assert len([c for c in solve_log if c[0] == "inv(V)"]) == 2
    np.testing.assert_allclose(L.to_dense(), fd_jacobian(F, V, {"X": X0, "V": V0}), atol=1e-6)


def test_shared_subexpressions_are_evaluated_once(solve_log):
    n = 8
    V, b = kv.Matrix("V", (n, n)), kv.Vector("b", n)
    expr = kv.inv(V) @ b + 2 * (kv.inv(V) @ b) + kv.trace(kv.inv(V) @ b @ b.T)
    rng = np.random.default_rng(0)
    V0, b0 = rng.standard_normal((n, n)) + n * np.eye(n), rng.standard_normal(n)
    kv.evaluate(expr, V=V0, b=b0)
    assert [c for c in solve_log if c[1] == (n, 1)] == [("inv(V)", (n, 1))]


def test_positive_definite_uses_cholesky_and_refuses_other_values():
    F, X, V, X0, V0 = _gls(pd=True)
    ev = evaluation.Evaluator({"X": X0, "V": V0}, [F])
    assert ev.factorization(V).cholesky is not None
    skewed = V0 + np.triu(np.full_like(V0, 1e-3), 1)
    with pytest.raises(ValueError, match=r"V \(30, 30\), positive definite: not symmetric"):
        evaluation.Evaluator({"X": X0, "V": skewed}, [F])
    with pytest.raises(ValueError, match="V.*not positive definite"):
        kv.evaluate(kv.inv(V), V=V0 - 10 * np.eye(len(V0)))
    # the same matrix without the declaration: LU, and the numbers are right
    plain = kv.Matrix("V", V.shape)
    Vi = np.linalg.solve(skewed, np.eye(len(skewed)))
    np.testing.assert_allclose(kv.evaluate(kv.inv(plain), V=skewed), Vi, rtol=1e-10)


def test_declared_symmetric_jacobian_is_the_unconstrained_map():
    """Not projected on symmetric matrices: d(V⁻¹B) = −V⁻¹ dV V⁻¹B for any dV."""
    n = 4
    V = kv.Matrix("V", (n, n), symmetric=True)
    f = kv.inv(V) @ kv.Matrix("B", (n, 2))
    rng = np.random.default_rng(2)
    A = rng.standard_normal((n, n))
    V0, B0 = A @ A.T + n * np.eye(n), rng.standard_normal((n, 2))
    Vi = np.linalg.solve(V0, np.eye(n))
    np.testing.assert_allclose(kv.jacobian(f, V).at(V=V0, B=B0).to_dense(),
                               -np.kron((Vi @ B0).T, Vi), atol=1e-12)


def test_det_and_logdet_from_the_factorization():
    rng = np.random.default_rng(3)
    A0 = rng.standard_normal((5, 5))
    A = kv.Matrix("A", (5, 5))
    np.testing.assert_allclose(kv.evaluate(kv.det(A), A=A0), np.linalg.det(A0))
    np.testing.assert_allclose(kv.evaluate(kv.logdet(A), A=A0), np.linalg.slogdet(A0)[1])
    assert kv.evaluate(kv.det(A), A=np.zeros((5, 5))) == 0.0


def test_singular_matrix_names_the_subexpression():
    n = 4
    V, X = kv.Matrix("V", (n, n)), kv.Matrix("X", (n, 2))
    singular = np.ones((n, n))
    with pytest.raises(np.linalg.LinAlgError, match=r"solve\(V, X\): V is singular"):
        kv.evaluate(kv.inv(V) @ X, V=singular, X=np.ones((n, 2)))
    with pytest.raises(np.linalg.LinAlgError, match=r"solve\(V, X\)"):
        kv.evaluate(kv.solve(V, X), V=singular, X=np.ones((n, 2)))
    with pytest.raises(np.linalg.LinAlgError, match=r"inv\(X.T @ X\)"):
        kv.evaluate(kv.inv(X.T @ X), X=np.ones((n, 2)))
    with pytest.raises(np.linalg.LinAlgError, match=r"inv\(V\)"):
        kv.jacobian(kv.inv(V), V).at(V=singular)


def test_missing_values_are_listed_with_shapes():
    X, V = kv.Matrix("X", (5, 3)), kv.Matrix("V", (5, 5))
    with pytest.raises(kv.BindingError) as err:
        kv.evaluate(X.T @ kv.inv(V) @ X)
    assert "X (shape (5, 3))" in str(err.value) and "V (shape (5, 5))" in str(err.value)
    assert isinstance(err.value, KeyError) and isinstance(err.value, ValueError)


def test_wrong_shape_and_bad_values():
    X = kv.Matrix("X", (5, 3))
    with pytest.raises(kv.ShapeError, match=r"X.*\(5, 3\).*\(3, 5\)"):
        kv.evaluate(X, X=np.ones((3, 5)))
    with pytest.raises(ValueError, match="NaN"):
        kv.evaluate(X, X=np.full((5, 3), np.nan))
    with pytest.raises(TypeError, match="complex"):
        kv.evaluate(X, X=np.ones((5, 3)) * 1j)


def test_vectors_accept_1d_values_and_extra_values_are_ignored():
    a = kv.Vector("a", 3)
    out = kv.evaluate(a.T @ a, a=np.array([1.0, 2.0, 3.0]), unused=np.eye(7))
    assert out.shape == (1, 1) and out[0, 0] == 14.0


def test_two_symbols_with_one_name_are_refused():
    with pytest.raises(ValueError, match="named 'X'"):
        kv.evaluate(kv.Matrix("X", (2, 2)) @ kv.Matrix("X", (2, 3)),
                    X=np.eye(2))


def test_rebinding_replays_the_recorded_plan_with_fresh_numbers():
    F, X, V, X0, V0 = _gls(n=7, m=3)
    J = kv.jacobian(F, V)
    rng = np.random.default_rng(11)
    for trial in range(4):
        A = rng.standard_normal((7, 7))
        V1 = A @ A.T + 7 * np.eye(7) if trial % 2 == 0 else A + 7 * np.eye(7)
        X1 = rng.standard_normal((7, 3))
        np.testing.assert_allclose(J.at(X=X1, V=V1).to_dense(), fd_jacobian(F, V, {"X": X1, "V": V1}),
                                   atol=1e-6)
    assert sum(map(len, J._binding.plans.values())) == 2  # one for symmetric V values, one for general ones


def test_replayed_plan_still_refuses_singular_values():
    F, X, V, X0, V0 = _gls(n=5, m=2)
    J = kv.jacobian(F, V)
    J.at(X=X0, V=V0)
    assert J._binding.plans
    with pytest.raises(np.linalg.LinAlgError, match=r"inv\(V\)"):
        J.at(X=X0, V=np.ones((5, 5)))


def test_binding_and_applying_a_large_jacobian_allocates_nothing_near_its_dense_size():
    import tracemalloc
    n, m = 600, 30  # the dense Jacobian would take 8·m²·n² bytes ≈ 2.6 GB
    F, X, V, X0, V0 = _gls(n=n, m=m, pd=True)
    J = kv.jacobian(F, V)
    H = np.random.default_rng(5).standard_normal((n, n))
    tracemalloc.start()
    try:
        L = J.at(X=X0, V=V0)
        out = L.jvp(H)
        back = L.vjp(out)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.shape == (m, m) and back.shape == (n, n)
    assert peak < 12 * n * n * 8, f"peak {peak / 2**20:.1f} MiB"  # a few n×n work arrays at most
    with pytest.raises(kv.MaterializationError, match="GiB"):
        L.to_dense()


def test_numpy_semantics_for_1d_operands_and_symbols_by_name():
    X = kv.Matrix("X", (3, 2))
    a0, b0 = np.arange(1.0, 4.0), np.array([1.0, -1.0])
    f = a0 @ X @ b0
    assert f.shape == (1, 1)
    X0 = np.random.default_rng(0).standard_normal((3, 2))
    np.testing.assert_allclose(kv.evaluate(f, X=X0).reshape(()), a0 @ X0 @ b0)
    np.testing.assert_allclose(kv.evaluate(kv.grad(f, "X"), X=X0), np.outer(a0, b0))
    assert kv.hessian(kv.trace(X.T @ X), "X").in_shape == (3, 2)
    with pytest.raises(kv.BindingError, match=r"no symbol named 'Y'.*X \(3, 2\)"):
        kv.jacobian(X.T @ X, "Y")


def test_repeated_jacobian_calls_reuse_the_derivative_and_its_plan():
    F, X, V, X0, V0 = _gls(n=6, m=2)
    J = kv.jacobian(F, V)
    J.at(X=X0, V=V0)
    again = kv.jacobian(kv.inv(X.T @ kv.inv(V) @ X), V)
    assert again is J and again._binding.plans
    assert kv.jacobian(F.named("F"), V) is not J  # names change printing, so not shared


def test_expressions_are_immutable_hashable_and_pickle_to_themselves():
    import pickle
    X, V = kv.Matrix("X", (4, 2)), kv.Matrix("V", (4, 4), positive_definite=True)
    F = kv.inv(X.T @ kv.inv(V) @ X) + kv.Constant(np.eye(2), name="C")
    with pytest.raises(AttributeError, match="immutable"):
        X.shape = (2, 4)
    assert {F: 1}[kv.inv(X.T @ kv.inv(V) @ X) + kv.Constant(np.eye(2), name="C")] == 1
    assert pickle.loads(pickle.dumps(F)) is F


def test_deep_expressions_do_not_hit_the_recursion_limit():
    X = kv.Matrix("X", (3, 3))
    e = X
    for _ in range(300):  # ~900 nodes deep: an unrolled iteration
        e = kv.tanh(e) * 0.9 + 0.1 * X
    values = {"X": 0.1 * np.eye(3) + 0.05}
    J = kv.jacobian(e, X).at(values)
    np.testing.assert_allclose(J.to_dense(), fd_jacobian(e, X, values), atol=1e-6)
    g = kv.grad(kv.sum(e), X)
    np.testing.assert_allclose(kv.evaluate(g, values), J.vjp(np.ones((3, 3))), atol=1e-12)
    assert kv.hessian(kv.sum(e), X).at(values).shape == (9, 9)
    assert str(e).startswith("0.9tanh(") and "X" in repr(e)
