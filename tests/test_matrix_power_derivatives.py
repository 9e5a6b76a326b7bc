"""The derivative of matrix_power in O(log k) products: values, adjoints, Hessians, printing."""
from __future__ import annotations

import time

import numpy as np
import pytest

import kronvec as kv
from kronvec.maps.powers import MatrixPowerFrechetMap, MatrixPowerSecondMap, power_frechet, power_second
from kronvec.testing import check_jacobian, dottest, fd_jacobian

P = np.linalg.matrix_power


def _sum_of_products(A, H, k):
    return sum(P(A, i) @ H @ P(A, k - 1 - i) for i in range(k))


def _point(n, seed, radius=0.9):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((n, n))
    return radius * A / np.max(np.abs(np.linalg.eigvals(A)))


@pytest.mark.parametrize("k", [1, 2, 3, 4, 7, 16, 33])
def test_the_map_is_the_sum_of_products(k):
    A, H = _point(4, k), np.random.default_rng(1).standard_normal((4, 4))
    np.testing.assert_allclose(power_frechet(A, H, k), _sum_of_products(A, H, k), rtol=1e-12, atol=1e-13)
    L = MatrixPowerFrechetMap(A, k, (4, 4))
    dottest(L)
    expected = sum(np.kron(P(A, k - 1 - i).T, P(A, i)) for i in range(k))
    np.testing.assert_allclose(L.to_dense(), expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("k", [2, 3, 5, 9])
def test_the_second_derivative_map_is_the_double_sum(k):
    rng = np.random.default_rng(k)
    A, X, Y = _point(3, k), rng.standard_normal((3, 3)), rng.standard_normal((3, 3))
    expected = sum(P(A, i) @ X @ P(A, j) @ Y @ P(A, k - 2 - i - j)
                   for i in range(k - 1) for j in range(k - 1 - i))
    np.testing.assert_allclose(power_second(A, X, Y, k), expected, rtol=1e-12, atol=1e-13)
    for slot in (0, 1):
        dottest(MatrixPowerSecondMap(A, Y, k, slot, (3, 3)))


@pytest.mark.parametrize("k", [-7, -2, -1, 0, 1, 2, 3, 4, 5, 17, 64])
@pytest.mark.parametrize("shape", [(1, 1), (3, 3)])
def test_jacobian_of_matrix_power_against_finite_differences(k, shape):
    X = kv.Matrix("X", shape)
    A = _point(shape[0], abs(k) + 7, radius=0.95) + (1.5 * np.eye(shape[0]) if k < 0 else 0)
    check_jacobian(kv.matrix_power(X, k), X, {"X": A})


def test_large_powers_against_the_eigenbasis():
    rng = np.random.default_rng(5)
    Q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    w = np.array([1.0, -1.0 + 1e-9, 0.5])
    A = Q @ np.diag(w) @ Q.T
    X = kv.Matrix("X", (3, 3))
    for k in (5000, 999_999_999):
        L = kv.jacobian(kv.matrix_power(X, k), X).at(X=A)
        H = rng.standard_normal((3, 3))
        # Daleckii–Krein: Qᵀ L(A, H) Q = G ⊙ QᵀHQ, Gᵢⱼ = (wᵢᵏ − wⱼᵏ)/(wᵢ − wⱼ), k wᵢᵏ⁻¹ at ties
        wi, wj = w[:, None], w[None, :]
        with np.errstate(divide="ignore", invalid="ignore"):
            G = np.where(np.isclose(wi, wj, rtol=0, atol=1e-15), k * wi ** (k - 1),
                         (wi ** k - wj ** k) / (wi - wj))
        expected = Q @ (G * (Q.T @ H @ Q)) @ Q.T
        np.testing.assert_allclose(L.jvp(H), expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max())
        dottest(L, rtol=1e-6)  # rounding grows like k·ε at eigenvalues ±1


def test_deriving_printing_and_applying_a_huge_power_is_fast():
    X = kv.Matrix("X", (3, 3))
    start = time.perf_counter()
    F = kv.matrix_power(X, 999_999_999)
    J = kv.jacobian(F, X)
    assert str(J) == "H ↦ Σᵢ₌₀⁹⁹⁹⁹⁹⁹⁹⁹⁸ Xⁱ H X⁹⁹⁹⁹⁹⁹⁹⁹⁸⁻ⁱ"
    assert J.differential() == "d(X⁹⁹⁹⁹⁹⁹⁹⁹⁹) = Σᵢ₌₀⁹⁹⁹⁹⁹⁹⁹⁹⁸ Xⁱ dX X⁹⁹⁹⁹⁹⁹⁹⁹⁸⁻ⁱ"
    assert J.latex() == r"H ↦ \sum_{i=0}^{999999998} X^{i} H X^{999999998-i}"
    assert str(kv.grad(kv.trace(F), X)) == "999999999(X⁹⁹⁹⁹⁹⁹⁹⁹⁸)ᵀ"
    L = J.at(X=0.5 * np.eye(3))
    assert L.to_dense().shape == (9, 9)
    assert time.perf_counter() - start < 2.0


def test_small_powers_print_as_before():
    C = kv.Matrix("C", (3, 3))
    assert str(kv.jacobian(kv.matrix_power(C, 3), C)) == "(C²)ᵀ ⊗ I + Cᵀ ⊗ C + I ⊗ C²"


@pytest.mark.parametrize("k", [4, 6])
def test_hessians_through_large_powers(k):
    X = kv.Matrix("X", (3, 3))
    A = _point(3, 11)
    for f in (kv.sum(kv.matrix_power(X, k)), kv.trace(kv.matrix_power(X, k) @ X.T)):
        g = kv.grad(f, X)
        check_jacobian(g, X, {"X": A})
        Hd = kv.jacobian(g, X).at(X=A).to_dense()
        np.testing.assert_allclose(Hd, Hd.T, rtol=1e-10, atol=1e-10)
    with pytest.raises(NotImplementedError, match="third derivatives through matrix_power"):
        # (holds a matrix_power_frechet2 node)
        second = kv.grad(kv.sum(kv.grad(kv.sum(kv.matrix_power(X, k)), X) ** 2), X)
        kv.jacobian(second, X)


def test_stacks_and_generated_code():
    S = kv.Matrix("S", (2, 3, 3))
    A = np.stack([_point(3, 1), _point(3, 2)])
    F = kv.matrix_power(S, 6)
    check_jacobian(F, S, {"S": A})
    g = kv.grad(kv.sum(F), S)
    np.testing.assert_allclose(kv.evaluate(g, S=A), fd_jacobian(kv.sum(F), S, {"S": A})[0].reshape(A.shape,
                               order="F"), rtol=1e-6, atol=1e-8)
    X = kv.Matrix("X", (3, 3))
    f = kv.lambdify([X], kv.grad(kv.sum(kv.matrix_power(X, 9)), X))
    np.testing.assert_allclose(f(A[0]), kv.evaluate(kv.grad(kv.sum(kv.matrix_power(X, 9)), X), X=A[0]),
                               rtol=1e-12)


def test_generated_jvp_of_a_large_power():
    X = kv.Matrix("X", (3, 3))
    F = kv.matrix_power(X, 12)
    A, H = _point(3, 4), np.random.default_rng(2).standard_normal((3, 3))
    f = kv.lambdify([X], F)
    np.testing.assert_allclose(f(A), P(A, 12), rtol=1e-12)
    J = kv.jacobian(F, X)
    np.testing.assert_allclose(kv.lambdify([X], J)(A, H), J.at(X=A).jvp(H), rtol=1e-12)
    np.testing.assert_allclose(kv.lambdify([X], J.T)(A, H), J.at(X=A).vjp(H), rtol=1e-12)
    S = kv.hessian(kv.sum(F), X)
    np.testing.assert_allclose(kv.lambdify([X], kv.jacobian(kv.grad(kv.sum(F), X), X))(A, H),
                               kv.jacobian(kv.grad(kv.sum(F), X), X).at(X=A).jvp(H), rtol=1e-12)
    assert S is not None
