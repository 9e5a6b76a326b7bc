"""What evaluation costs: several outputs share their work, bound maps give the
primal, factors that would be large stay structured, and sums are written once."""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kronvec as kv
from _lapack import count_lapack_calls
from kronvec.maps.operands import Product, Sum, write_into
from kronvec.testing import dottest


def spd(rng, n):
    a = rng.standard_normal((n, n))
    return a @ a.T / n + np.eye(n)


@pytest.fixture
def lapack_calls(monkeypatch):
    return count_lapack_calls(monkeypatch, ("dpotrf", "dgetrf", "dpotri", "dpotrs"))


def test_value_and_gradient_together_cost_one_cholesky(lapack_calls):
    n = 6
    K, y = kv.Matrix("K", (n, n), positive_definite=True), kv.Vector("y", n)
    f = -0.5 * y.T @ kv.inv(K) @ y - 0.5 * kv.logdet(K)
    g = kv.grad(f, K)
    rng = np.random.default_rng(0)
    for _ in range(2):  # recorded, then replayed
        K0, y0 = spd(rng, n), rng.standard_normal((n, 1))
        lapack_calls.clear()
        fv, gv = kv.evaluate([f, g], K=K0, y=y0)
        assert lapack_calls.count("dpotrf") == 1 and "dgetrf" not in lapack_calls
        assert lapack_calls.count("dpotri") == 1 and lapack_calls.count("dpotrs") == 1
        Ki = np.linalg.inv(K0)
        alpha = Ki @ y0
        expected = -0.5 * (y0.T @ alpha).item() - 0.5 * np.linalg.slogdet(K0)[1]
        np.testing.assert_allclose(fv.reshape(()), expected)
        np.testing.assert_allclose(gv, 0.5 * (alpha @ alpha.T - Ki), atol=1e-12)


def test_evaluate_takes_a_list_or_tuple_and_returns_a_tuple():
    X = kv.Matrix("X", (3, 2))
    X0 = np.arange(6.0).reshape(3, 2)
    out = kv.evaluate([X.T @ X, kv.trace(X.T @ X)], X=X0)
    assert isinstance(out, tuple) and len(out) == 2
    np.testing.assert_allclose(out[0], X0.T @ X0)
    np.testing.assert_allclose(out[1], np.trace(X0.T @ X0))
    assert isinstance(kv.evaluate((X,), X=X0), tuple)
    np.testing.assert_allclose(kv.evaluate([[1.0, 2.0], [3.0, 4.0]]), [[1.0, 2.0], [3.0, 4.0]])


def test_a_bound_map_gives_the_primal():
    n, m = 8, 3
    X, V = kv.Matrix("X", (n, m)), kv.Matrix("V", (n, n), positive_definite=True)
    F = kv.inv(X.T @ kv.inv(V) @ X)
    rng = np.random.default_rng(1)
    X0, V0 = rng.standard_normal((n, m)), spd(rng, n)
    for _ in range(2):
        L = kv.jacobian(F, V).at(X=X0, V=V0)
        np.testing.assert_allclose(L.value, np.linalg.inv(X0.T @ np.linalg.solve(V0, X0)), rtol=1e-10)
    # a map without factors still gives the primal, and the symbolic map stays clean
    J = kv.jacobian(X + 1.0, X)
    np.testing.assert_allclose(J.at(X=X0).value, X0 + 1.0)
    assert J.map.value is None
    # the value needs every symbol of F; without them the map still binds
    J2 = kv.jacobian(X @ X.T @ V, V)
    assert J2.at(X=X0).value is None


def test_a_tall_low_rank_factor_is_never_formed():
    n, k = 20000, 2
    W = kv.Matrix("W", (n, k))
    J = kv.jacobian(kv.solve(W.T @ W, W.T), W)
    rng = np.random.default_rng(2)
    W0, H = rng.standard_normal((n, k)), rng.standard_normal((n, k))
    tracemalloc.start()
    L = J.at(W=W0)
    dF = L.jvp(H)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 40 * W0.nbytes, peak  # the n×n factor would take 3.2 GB
    S = W0.T @ W0
    P = np.linalg.solve(S, W0.T)
    np.testing.assert_allclose(dF, np.linalg.solve(S, H.T - (H.T @ W0 + W0.T @ H) @ P), atol=1e-10)
    G = rng.standard_normal((k, n))
    assert abs(np.vdot(dF, G) - np.vdot(H, L.vjp(G))) < 1e-8 * abs(np.vdot(dF, G))


def test_dense_form_of_a_sum_factor_is_written_in_one_pass():
    n = 300
    x, A = kv.Vector("x", n), kv.Matrix("A", (n, n))
    L = kv.hessian(x.T @ A @ x, x).at(A=np.arange(n * n, dtype=float).reshape(n, n), x=np.ones(n))
    term = L if not hasattr(L, "terms") else L.terms[0]
    assert isinstance(term.A, Sum)  # kept as A + Aᵀ until it is needed
    A0 = np.arange(n * n, dtype=float).reshape(n, n)
    np.testing.assert_array_equal(L.to_dense(), A0 + A0.T)
    np.testing.assert_allclose(L.jvp(np.ones(n)), (A0 + A0.T) @ np.ones((n, 1)))


@settings(max_examples=25, deadline=None)
@given(p=st.integers(1, 6), r=st.integers(1, 3), q=st.integers(1, 6), seed=st.integers(0, 2 ** 16))
def test_structured_operands_act_like_their_dense_form(p, r, q, seed):
    rng = np.random.default_rng(seed)
    L, R, C = rng.standard_normal((p, r)), rng.standard_normal((r, q)), rng.standard_normal((p, q))
    for op in (Product([L, R]), Sum([(1.0, L @ R), (-2.0, C)]), Sum([(0.5, Product([L, R])), (1.0, C)])):
        d = np.asarray(op)
        h, g = rng.standard_normal((q, 3)), rng.standard_normal((4, p))
        np.testing.assert_allclose(op @ h, d @ h, atol=1e-12)
        np.testing.assert_allclose(g @ op, g @ d, atol=1e-12)
        np.testing.assert_allclose(np.asarray(op.T), d.T, atol=1e-12)
        np.testing.assert_allclose(np.asarray(3.0 * op), 3 * d, atol=1e-12)
        stack = rng.standard_normal((2, q, 3))
        np.testing.assert_allclose(op @ stack, d @ stack, atol=1e-12)
        out = np.ones((p, q))
        write_into(op, out, 2.0, False)
        np.testing.assert_allclose(out, 1 + 2 * d, atol=1e-12)


def test_maps_with_structured_factors_pass_the_dot_test():
    rng = np.random.default_rng(3)
    n = 400
    W = kv.Matrix("W", (n, 2))
    L = kv.jacobian(W @ kv.inv(W.T @ W) @ W.T, W).at(W=rng.standard_normal((n, 2)))
    dottest(L, rng)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_symmetric_indefinite_matrices_use_the_symmetric_factorization(seed, lapack_calls):
    n = 150
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n))
    S0, B0 = a + a.T, rng.standard_normal((n, 3))  # indefinite: 2×2 pivots occur
    S, B = kv.Matrix("S", (n, n), symmetric=True), kv.Matrix("B", (n, 3))
    lapack_calls.clear()
    out = kv.evaluate([kv.solve(S, B), kv.inv(S), kv.logdet(S), kv.det(S / 8)], S=S0, B=B0)
    assert "dgetrf" not in lapack_calls and "dpotrf" not in lapack_calls
    np.testing.assert_allclose(out[0], np.linalg.solve(S0, B0), rtol=1e-8)
    np.testing.assert_allclose(out[1], np.linalg.inv(S0), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(out[2], np.linalg.slogdet(S0)[1], rtol=1e-10)
    np.testing.assert_allclose(out[3], np.linalg.det(S0 / 8), rtol=1e-8)
    ldl = kv.evaluation.Evaluator({"S": S0}, [kv.inv(S)]).factorization(S).ldl
    assert ldl is not None and (ldl[1] < 0).any() == (seed >= 0)


def test_a_matrix_and_its_transpose_written_out_share_one_factorization(lapack_calls):
    """(s Kxᵀ + t I)⁻¹ in the gradient of a GP likelihood in t is (s Kx + t I)⁻ᵀ: one LU serves
    both (a non-symmetric Kx, so no Cholesky)."""
    n = 7
    Kx, y, s, t = kv.Matrix("Kx", (n, n)), kv.Vector("y", n), kv.Scalar("s"), kv.Scalar("t")
    K = s * Kx + t * kv.eye(n)
    f = 0.5 * (y.T @ kv.inv(K) @ y) + 0.5 * kv.logdet(K)
    rng = np.random.default_rng(3)
    kx, y0 = rng.standard_normal((n, n)) + n * np.eye(n), rng.standard_normal((n, 1))
    lapack_calls.clear()
    fv, gs, gt = kv.evaluate([f, kv.grad(f, s), kv.grad(f, t)], Kx=kx, y=y0, s=1.3, t=0.7)
    assert lapack_calls.count("dgetrf") == 1, lapack_calls
    Ki = np.linalg.inv(1.3 * kx + 0.7 * np.eye(n))
    alpha, beta = Ki @ y0, Ki.T @ y0  # K⁻¹y and K⁻ᵀy
    np.testing.assert_allclose(gt, 0.5 * np.trace(Ki) - 0.5 * (beta.T @ alpha).item(), rtol=1e-10)
    np.testing.assert_allclose(gs, 0.5 * np.trace(Ki @ kx) - 0.5 * (beta.T @ kx @ alpha).item(), rtol=1e-10)
