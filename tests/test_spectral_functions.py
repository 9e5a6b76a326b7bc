"""sqrtm and logm: values, Fréchet derivatives (adjoint = the derivative at Aᵀ),
the Daleckii–Krein form for symmetric values, and exactness at exactly repeated
eigenvalues for spectral functions and their traces."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
from hypothesis import given, settings
from hypothesis import strategies as st

import kronvec as kv
from kronvec.maps import MatrixFunctionFrechetMap
from kronvec.maps.frechet import divided_differences
from kronvec.testing import check_jacobian, dottest, fd_jacobian, fd_jvp, symmetrizer

FUNCTIONS = {"sqrtm": (kv.sqrtm, sla.sqrtm), "logm": (kv.logm, sla.logm)}


def _rng(seed=0):
    return np.random.default_rng(seed)


def _general(n, seed=0):
    return 0.4 * _rng(seed).standard_normal((n, n)) + 2 * np.eye(n)


def _spd(n, seed=0):
    a = _rng(seed).standard_normal((n, n))
    return a @ a.T / n + np.eye(n)


def _rotated(eigenvalues, seed=0):
    q, _ = np.linalg.qr(_rng(seed).standard_normal((len(eigenvalues),) * 2))
    s = q @ np.diag(eigenvalues) @ q.T
    return (s + s.T) / 2


def _block(A, H):
    n = A.shape[0]
    return np.real(sla.logm(np.block([[A, H], [np.zeros((n, n)), A]])))[:n, n:]


@pytest.mark.parametrize("fn", sorted(FUNCTIONS))
@pytest.mark.parametrize("kind", ["general", "symmetric"])
def test_values_match_scipy(fn, kind):
    ours, ref = FUNCTIONS[fn]
    A0 = _general(5) if kind == "general" else _spd(5)
    A = kv.Matrix("A", (5, 5))
    np.testing.assert_allclose(kv.evaluate(ours(A), A=A0), np.real(ref(A0)), atol=1e-11)
    np.testing.assert_allclose(kv.evaluate(ours(A).T, A=A0), np.real(ref(A0)).T, atol=1e-11)


@pytest.mark.parametrize("fn", sorted(FUNCTIONS))
def test_no_real_principal_function_is_an_error(fn):
    A = kv.Matrix("A", (2, 2))
    with pytest.raises(ValueError, match="no real"):
        kv.evaluate(FUNCTIONS[fn][0](A), A=np.diag([-1.0, 2.0]))
    with pytest.raises(ValueError, match="no real"):
        kv.evaluate(FUNCTIONS[fn][0](A), A=np.array([[-1.0, 1.0], [0.0, 2.0]]))


@pytest.mark.parametrize("fn", sorted(FUNCTIONS))
@pytest.mark.parametrize("kind", ["general", "symmetric"])
def test_frechet_derivative_and_its_adjoint_is_the_derivative_at_the_transpose(fn, kind):
    A0 = _general(4, 1) if kind == "general" else _spd(4, 1)
    A = kv.Matrix("A", (4, 4))
    F = FUNCTIONS[fn][0](A)
    L = check_jacobian(F, A, {"A": A0})
    at_transpose = kv.jacobian(F, A).at(A=A0.T)
    r = _rng(2)
    for _ in range(3):
        G = r.standard_normal((4, 4))
        np.testing.assert_allclose(L.vjp(G), at_transpose.jvp(G), atol=1e-12)
    H = r.standard_normal((4, 4))
    if fn == "sqrtm":  # S dS + dS S = dA
        S, dS = sla.sqrtm(A0).real, L.jvp(H)
        np.testing.assert_allclose(S @ dS + dS @ S, H, atol=1e-12)
    else:  # the exact block formula
        np.testing.assert_allclose(L.jvp(H), _block(A0, H), atol=1e-11)


@pytest.mark.parametrize("fn", sorted(FUNCTIONS))
def test_the_frechet_maps_pass_the_dot_test_for_defective_and_symmetric_points(fn):
    jordan = np.array([[2.0, 1.0, 0.0], [0.0, 2.0, 1.0], [0.0, 0.0, 2.0]])  # the block method's case
    for A0 in (jordan, _spd(3), 2 * np.eye(3)):
        F0 = np.real(FUNCTIONS[fn][1](A0))
        M = MatrixFunctionFrechetMap(fn, A0, F0, (3, 3))
        dottest(M, _rng(3))
        H = _rng(4).standard_normal((3, 3))
        np.testing.assert_allclose(M.jvp(H), (np.real(FUNCTIONS[fn][1](A0 + 1e-6 * H))
                                              - np.real(FUNCTIONS[fn][1](A0 - 1e-6 * H))) / 2e-6, atol=1e-6)


def test_divided_differences_are_the_derivative_at_ties_and_free_of_cancellation():
    w = np.array([1.0, 1.0, 1.0 + 1e-13, 4.0])
    G = divided_differences("sqrtm", w)
    np.testing.assert_allclose(G[0, 1], 0.5)
    np.testing.assert_allclose(G[0, 3], 1 / 3)
    L = divided_differences("logm", w)
    np.testing.assert_allclose(L[0, 1], 1.0)
    np.testing.assert_allclose(L[0, 2], 1.0, rtol=1e-12)  # log(1 + 1e-13)/1e-13 without cancellation
    np.testing.assert_allclose(L[0, 3], np.log(4) / 3)


@pytest.mark.parametrize("fn", sorted(FUNCTIONS))
@pytest.mark.parametrize("eigenvalues", [[2.0, 2.0, 2.0], [1.0, 3.0, 3.0], [0.5, 0.5, 4.0]])
def test_symmetric_spectral_functions_are_exact_at_exactly_repeated_eigenvalues(fn, eigenvalues):
    S0 = 2.0 * np.eye(3) if eigenvalues == [2.0, 2.0, 2.0] else _rotated(eigenvalues)
    S = kv.Matrix("S", (3, 3), symmetric=True)
    f = FUNCTIONS[fn][0]
    J = kv.jacobian(f(S), S).at(S=S0).to_dense() @ symmetrizer(3)
    assert np.all(np.isfinite(J))
    np.testing.assert_allclose(J, fd_jacobian(f(S), S, {"S": S0}), atol=1e-7)
    # traces and log-determinants of them: gradients and Hessians at the tie
    for scalar in (kv.trace(f(S)), kv.logdet(kv.sqrtm(S))):
        g = kv.grad(scalar, S)
        G = kv.evaluate(g, S=S0)
        H = kv.hessian(scalar, S).at(S=S0).to_dense() @ symmetrizer(3)
        assert np.all(np.isfinite(G)) and np.all(np.isfinite(H))
        fd = fd_jacobian(scalar, S, {"S": S0}).reshape(3, 3, order="F")
        np.testing.assert_allclose(G, (fd + fd.T) / 2, atol=1e-7)
        np.testing.assert_allclose(H, fd_jacobian(g, S, {"S": S0}), atol=1e-6)


@pytest.mark.parametrize("phi", ["log", "cube", "exp"])
@pytest.mark.parametrize("eigenvalues", [[2.0, 2.0, 2.0], [1.0, 1.0, 3.0], [0.5, 2.0, 3.0]])
def test_hessians_of_sums_of_functions_of_eigenvalues_are_exact_at_ties(phi, eigenvalues):
    """Σ φ(wᵢ): the gradient is V diag(φ'(w)) Vᵀ and its derivative the Daleckii–Krein form."""
    S = kv.Matrix("S", (3, 3), symmetric=True)
    w = kv.eigvalsh(S)
    f = kv.sum({"log": kv.log(w), "cube": w ** 3, "exp": kv.exp(0.5 * w)}[phi])
    S0 = _rotated(eigenvalues, 3)
    g = kv.grad(f, S)
    H = kv.hessian(f, S).at(S=S0).to_dense() @ symmetrizer(3)
    assert np.all(np.isfinite(H))
    np.testing.assert_allclose(H, fd_jacobian(g, S, {"S": S0}), atol=1e-6 * max(1.0, np.abs(H).max()))


def test_gradients_of_traces_are_closed_forms():
    S = kv.Matrix("S", (3, 3), symmetric=True)
    assert str(kv.grad(kv.trace(kv.sqrtm(S)), S)) == "sqrtm(S)⁻¹/2"
    assert str(kv.grad(kv.trace(kv.logm(S)), S)) == "S⁻¹"
    assert str(kv.grad(kv.sum(kv.eigvalsh(S)), S)) == "I"


def test_printing_and_explain_name_the_identities():
    A = kv.Matrix("A", (3, 3))
    J = kv.jacobian(kv.sqrtm(A).named("S"), A)
    assert J.differential() == "dS = L_sqrtm(A, dA)"
    assert "S dS + dS S = dA" in J.steps()
    assert "upper right block of log [[A, dA], [0, A]]" in kv.explain(kv.logm(A), A)
    assert str(J) == "H ↦ L_sqrtm(A, H)" and r"\operatorname{L_{sqrtm}}" in J.latex()


def test_logm_hessian_on_a_general_matrix():
    A = kv.Matrix("A", (3, 3))
    A0 = _general(3, 5)
    f = kv.sum(kv.logm(A) * kv.logm(A))
    H = kv.hessian(f, A).at(A=A0)
    np.testing.assert_allclose(H.to_dense(), fd_jacobian(kv.grad(f, A), A, {"A": A0}), atol=1e-6)
    dottest(H, _rng(6))


@settings(max_examples=10, deadline=None)
@given(n=st.integers(1, 5), seed=st.integers(0, 2 ** 16), symmetric=st.booleans())
def test_random_points(n, seed, symmetric):
    A = kv.Matrix("A", (n, n))
    A0 = _spd(n, seed) if symmetric else _general(n, seed)
    for fn in ("sqrtm", "logm"):
        F = FUNCTIONS[fn][0](A)
        L = kv.jacobian(F, A).at(A=A0)
        D = _rng(seed + 1).standard_normal((n, n))
        np.testing.assert_allclose(L.jvp(D), fd_jvp(F, A, {"A": A0}, D), rtol=1e-5, atol=1e-6)
        dottest(L, _rng(seed + 2))
