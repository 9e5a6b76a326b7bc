"""Solves with a Bunch–Kaufman LDLᵀ factor by triangular solves (kronvec.evaluation.ldl)."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import lapack

import kronvec as kv
from kronvec.evaluation.factorization import WIDE_SETUP_FROM, Factorization
from kronvec.evaluation.ldl import WideLDLSolver


def _symmetric(rng, n, zero_diagonal):
    a = rng.standard_normal((n, n))
    a = a + a.T
    if zero_diagonal:  # forces 2×2 pivots
        a[np.arange(n), np.arange(n)] = 0.0
    return a


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 40), k=st.integers(1, 12), zero_diagonal=st.booleans(), seed=st.integers(0, 2 ** 16))
def test_the_trsm_form_solves_as_sytrs_does(n, k, zero_diagonal, seed):
    rng = np.random.default_rng(seed)
    a = _symmetric(rng, n, zero_diagonal)
    ldu, ipiv, info = lapack.dsytrf(a, lower=0)
    if info != 0:  # exactly singular: nothing to compare
        return
    b = rng.standard_normal((n, k))
    want = lapack.dsytrs(ldu, ipiv, b, lower=0)[0]
    got = WideLDLSolver(ldu, ipiv).solve(b)
    scale = max(1.0, float(np.abs(want).max()))
    np.testing.assert_allclose(got, want, rtol=1e-8, atol=1e-8 * scale)


def test_two_by_two_pivots_are_exercised():
    a = _symmetric(np.random.default_rng(0), 30, True)
    ldu, ipiv, _ = lapack.dsytrf(a, lower=0)
    assert (ipiv < 0).sum() >= 2
    b = np.random.default_rng(1).standard_normal((30, 5))
    np.testing.assert_allclose(a @ WideLDLSolver(ldu, ipiv).solve(b), b, atol=1e-9)


def test_a_large_symmetric_matrix_solves_many_columns_through_trsm():
    n, k = WIDE_SETUP_FROM[0], WIDE_SETUP_FROM[1]
    rng = np.random.default_rng(2)
    a = _symmetric(rng, n, False) + 0.1 * np.eye(n)
    b = rng.standard_normal((n, k))
    fac = Factorization(a, "V", try_cholesky=False, symmetric=True)
    assert fac.ldl is not None
    x = fac.solve(b)
    assert fac._wide is not None
    np.testing.assert_allclose(a @ x, b, atol=1e-8 * np.abs(b).max() * np.linalg.cond(a))
    np.testing.assert_allclose(fac.solve(b[:, :1]), x[:, :1], rtol=1e-7, atol=1e-9)  # sytrs again
    fac.verify()


def test_the_gls_jacobian_of_a_large_undeclared_symmetric_v():
    n, m = WIDE_SETUP_FROM[0], WIDE_SETUP_FROM[1]
    rng = np.random.default_rng(3)
    X, V = kv.Matrix("X", (n, m)), kv.Matrix("V", (n, n))
    r = rng.standard_normal((n, n))
    v0 = r @ r.T / n + np.eye(n) - 0.5 * np.eye(n) * (np.arange(n) % 2)  # symmetric, maybe indefinite
    x0 = rng.standard_normal((n, m))
    F = kv.inv(X.T @ kv.inv(V) @ X)
    y = np.linalg.solve(v0, x0)
    f0 = np.linalg.inv(x0.T @ y)
    np.testing.assert_allclose(kv.evaluate(F, X=x0, V=v0), f0, rtol=1e-8, atol=1e-10)
    h = rng.standard_normal((n, n))
    w = y @ f0
    np.testing.assert_allclose(kv.jacobian(F, V).at(X=x0, V=v0).jvp(h), w.T @ h @ w, rtol=1e-7,
                               atol=1e-9 * np.abs(w).max() ** 2 * np.abs(h).max() * n)
