"""Declared structure: symmetric and positive definite symbols are used when
simplifying, printing and evaluating, and checked when values are bound."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kronvec as kv
from _lapack import count_lapack_calls
from kronvec.testing import check_jacobian, fd_jacobian, random_values


def squash(text) -> str:
    return "".join(str(text).split())


def spd(rng, n):
    a = rng.standard_normal((n, n))
    return a @ a.T / n + np.eye(n)


# ------------------------------------------------------------ simplification
def test_symmetric_symbols_are_their_own_transpose():
    S = kv.Matrix("S", (3, 3), symmetric=True)
    assert S.T is S
    assert kv.inv(S).T is kv.inv(S)
    assert S + S.T is 2 * S
    A = kv.Matrix("A", (3, 3))
    assert A.T is not A


def test_quadratic_form_in_a_symmetric_matrix_prints_2Sx():
    S, x = kv.Matrix("S", (3, 3), symmetric=True), kv.Vector("x", 3)
    assert squash(kv.grad(x.T @ S @ x, x)) == "2Sx"
    assert squash(kv.hessian(x.T @ S @ x, x)) == squash("2 I ⊗ S")


def test_logdet_of_a_positive_definite_matrix_prints_its_inverse():
    P = kv.Matrix("P", (3, 3), positive_definite=True)
    assert squash(kv.jacobian(kv.logdet(P), P)) == squash("vec(P⁻¹)ᵀ")
    assert squash(kv.grad(kv.logdet(P), P)) == "P⁻¹"


def test_mahalanobis_gradient_is_the_textbook_one():
    Sigma, x, mu = kv.Matrix("Sigma", (3, 3), positive_definite=True), kv.Vector("x", 3), kv.Vector("mu", 3)
    g = kv.grad((x - mu).T @ kv.inv(Sigma) @ (x - mu), x)
    assert squash(g) == squash("2Sigma⁻¹ (x - mu)")
    rng = np.random.default_rng(0)
    S0, x0, m0 = spd(rng, 3), rng.standard_normal((3, 1)), rng.standard_normal((3, 1))
    np.testing.assert_allclose(kv.evaluate(g, Sigma=S0, x=x0, mu=m0),
                               2 * np.linalg.solve(S0, x0 - m0), rtol=1e-12)


# ------------------------------------------------------------------ checks
def test_a_nonsymmetric_value_for_a_symmetric_symbol_is_refused():
    S = kv.Matrix("S", (3, 3), symmetric=True)
    bad = np.arange(9.0).reshape(3, 3)
    with pytest.raises(ValueError, match=r"value for S \(3, 3\), symmetric: not symmetric"):
        kv.evaluate(kv.trace(S), S=bad)
    with pytest.raises(ValueError, match="S"):
        kv.jacobian(kv.inv(S), S).at(S=bad + 10 * np.eye(3))


def test_a_value_symmetric_up_to_rounding_is_made_exactly_symmetric():
    S = kv.Matrix("S", (3, 3), symmetric=True)
    rng = np.random.default_rng(1)
    S0 = spd(rng, 3)
    nearly = S0 + 1e-14 * np.triu(np.ones((3, 3)), 1)
    value = kv.evaluate(S, S=nearly)
    np.testing.assert_array_equal(value, value.T)
    np.testing.assert_allclose(value, S0, atol=1e-13)


def test_a_value_that_is_not_positive_definite_is_refused():
    P = kv.Matrix("P", (3, 3), positive_definite=True)
    indefinite = np.diag([1.0, -1.0, 2.0])
    with pytest.raises(ValueError, match=r"value for P \(3, 3\), positive definite: not positive definite"):
        kv.evaluate(kv.trace(P), P=indefinite)
    with pytest.raises(ValueError, match="not positive definite"):
        kv.jacobian(kv.logdet(P), P).at(P=indefinite)
    with pytest.raises(ValueError, match="not positive definite"):
        kv.evaluate(kv.trace(kv.Matrix("p", (1, 1), positive_definite=True)), p=[[-1.0]])


def test_the_cholesky_factor_of_the_binding_is_reused(monkeypatch):
    calls = count_lapack_calls(monkeypatch, ("dpotrf",))
    P, B = kv.Matrix("P", (5, 5), positive_definite=True), kv.Matrix("B", (5, 2))
    f = kv.logdet(P) + kv.trace(B.T @ kv.inv(P) @ B) + kv.det(P)
    rng = np.random.default_rng(2)
    P0, B0 = spd(rng, 5), rng.standard_normal((5, 2))
    expected = np.linalg.slogdet(P0)[1] + np.trace(B0.T @ np.linalg.solve(P0, B0)) + np.linalg.det(P0)
    for _ in range(2):  # recorded, then replayed
        calls.clear()
        np.testing.assert_allclose(kv.evaluate(f, P=P0, B=B0), expected, rtol=1e-12)
        assert len(calls) == 1


@settings(max_examples=20, deadline=None)
@given(n=st.integers(2, 5), seed=st.integers(0, 2 ** 16))
def test_derivatives_in_symmetric_symbols_match_symmetric_finite_differences(n, seed):
    S = kv.Matrix("S", (n, n), symmetric=True)
    B = kv.Matrix("B", (n, 2))
    for f in (kv.logdet(S) + kv.trace(B.T @ kv.inv(S) @ B), B.T @ S @ S @ B, kv.inv(S + S @ S)):
        values = random_values(f, np.random.default_rng(seed))
        check_jacobian(f, S, values)
    g = kv.grad(kv.logdet(S) + kv.trace(B.T @ kv.inv(S) @ B), S)
    values = random_values(g, np.random.default_rng(seed))
    G = kv.evaluate(g, values)
    np.testing.assert_allclose(G, G.T, atol=1e-12)
    fd = fd_jacobian(kv.logdet(S) + kv.trace(B.T @ kv.inv(S) @ B), S, values).reshape((n, n), order="F")
    np.testing.assert_allclose(G, fd, rtol=1e-5, atol=1e-6)
