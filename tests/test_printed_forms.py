"""Printed forms found in user trials: each reads like the textbook one, and the
numbers behind it stay right."""
from __future__ import annotations

import numpy as np

import kronvec as kv
from kronvec.testing import check_jacobian, random_values


def squash(text) -> str:
    return "".join(str(text).split())


def test_squared_norm_cancels_its_scalars():
    X, A = kv.Matrix("X", (3, 2)), kv.Matrix("A", (3, 2))
    J = kv.jacobian(kv.norm(X - A) ** 2, X)
    assert squash(J) == squash("2 vec(X - A)ᵀ")
    assert "where" not in kv.pretty(J)
    assert "‖" not in J.differential().split("=", 1)[1]
    check_jacobian(kv.norm(X - A) ** 2, X, random_values(J.expr, np.random.default_rng(0)))


def test_differences_print_with_a_minus():
    assert str(kv.Scalar("s") - 3.0) == "s - 3"
    K, y = kv.Matrix("K", (4, 4), positive_definite=True), kv.Vector("y", 4)
    gp = -0.5 * y.T @ kv.inv(K) @ y - 0.5 * kv.logdet(K)
    text = kv.jacobian(gp, K).differential()
    assert "+ -" not in text and " - tr(K⁻¹ dK)" in text, text


def test_the_commutation_matrix_carries_its_size():
    K = kv.Matrix("K", (3, 3))
    assert squash(kv.jacobian(K.T @ K, K)) == squash("(Kᵀ ⊗ I)K₍₃,₃₎ + I ⊗ Kᵀ")
    assert squash(kv.hessian(kv.logdet(K), K)) == squash("-(K⁻¹ ⊗ K⁻ᵀ)K₍₃,₃₎")
    assert "K_{(3,3)}" in kv.hessian(kv.logdet(K), K).latex()
    X = kv.Matrix("X", (4, 2))
    assert str(kv.jacobian(X.T, X)) == "K₍₄,₂₎"


def test_the_identity_map_is_told_apart_from_identity_factors():
    X, B = kv.Matrix("X", (3, 2)), kv.Matrix("B", (2, 2))
    assert squash(kv.jacobian(X + X @ B, X)) == squash("I₆ + Bᵀ ⊗ I")
    assert "I_{6}" in kv.jacobian(X + X @ B, X).latex()


def test_products_of_ones_merge():
    X = kv.Matrix("X", (4, 3))
    assert str(kv.grad(kv.sum(kv.ones(1, 4) @ X), X)) == "𝟙"
    assert kv.ones(4, 2) @ kv.ones(2, 3) is 2 * kv.ones(4, 3)


def test_gradient_of_trace_of_expm_is_the_transposed_exponential():
    A = kv.Matrix("A", (3, 3))
    g = kv.grad(kv.trace(kv.expm(A)), A)
    assert str(g) == "expm(A)ᵀ"
    A0 = 0.3 * np.random.default_rng(1).standard_normal((3, 3))
    from scipy.linalg import expm
    np.testing.assert_allclose(kv.evaluate(g, A=A0), expm(A0).T, rtol=1e-12)


def test_latex_halves_are_fractions():
    K, y = kv.Matrix("K", (4, 4), positive_definite=True), kv.Vector("y", 4)
    J = kv.jacobian(-0.5 * y.T @ kv.inv(K) @ y - 0.5 * kv.logdet(K), K)
    assert "\\frac{1}{2}" in J.latex() and "1/2" not in J.latex()
    assert kv.grad(kv.logdet(K) / 2 - kv.trace(K) / 2, K).latex().startswith("\\frac{")


def test_steps_have_no_redundant_lines():
    X, w, y = kv.Matrix("X", (5, 3)), kv.Vector("w", 3), kv.Vector("y", 5)
    nll = kv.sum(kv.log(1 + kv.exp(X @ w))) - y.T @ X @ w
    lines = [line.replace(" ", "") for line in kv.jacobian(nll, w).steps().splitlines()]
    renames = [line for line in lines if len(line) == 3 and line[1] == "=" and line[2].isupper()]
    assert not renames, lines  # no "S = R", and so no "dS = dR" after it
    U, V, Xm = kv.Matrix("U", (4, 2)), kv.Matrix("V", (3, 2)), kv.Matrix("X", (4, 3))
    for f in (kv.sum((Xm - U @ V.T) * (Xm - U @ V.T)), kv.trace((Xm - U @ V.T).T @ (Xm - U @ V.T))):
        steps = kv.explain(f, U).splitlines()
        assert "P = UVᵀ" in steps and "M = X - P" in steps, steps


def test_kalman_update_jacobian_factors():
    P = kv.Matrix("P", (3, 3), symmetric=True)
    H, R = kv.Matrix("H", (2, 3)), kv.Matrix("R", (2, 2), positive_definite=True)
    update = P - P @ H.T @ kv.inv(H @ P @ H.T + R) @ H @ P
    J = kv.jacobian(update, P)
    assert J.nterms == 1
    assert squash(kv.pretty(J)) == squash("(I - HᵀWHP)ᵀ ⊗ (I - PHᵀWH),  where W = (HPHᵀ + R)⁻¹")
    check_jacobian(update, P, random_values(update, np.random.default_rng(3)))
