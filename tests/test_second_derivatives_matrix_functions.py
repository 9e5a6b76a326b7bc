"""Second derivatives through expm (all shapes) and through sqrtm/logm of stacks of symmetric matrices.

Hessians are checked against central differences of the gradient, for
symmetry, and the new second Fréchet maps by the adjoint dot test; printing
and NumPy code generation of a Hessian-vector product are checked too.
"""
import numpy as np
import pytest
import scipy.linalg as sla

import kronvec as kv
from kronvec.maps.expm_second import ExpmSecondMap, expm_second
from kronvec.maps.frechet import LogmSecondMap, logm_second
from kronvec.ops import matrix_functions
from kronvec.testing import dottest, fd_jacobian, random_values, symmetrizer


def _check_hessian(f, wrt, values, symmetric=False, rtol=1e-5):
    """H vs central differences of the gradient, and H symmetric (on symmetric tangents for a
    symmetric symbol: Π H Π, Π the symmetrizer)."""
    H = kv.hessian(f, wrt).at(values)
    assert H.in_shape == H.out_shape == wrt.shape
    dense = H.to_dense()
    fd = fd_jacobian(kv.grad(f, wrt), wrt, values)
    if symmetric:
        P = symmetrizer(wrt.shape[-1], wrt.shape[:-2])
        dense, fd = P @ dense @ P, P @ fd
    scale = max(1.0, np.abs(fd).max())
    np.testing.assert_allclose(dense, fd, rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(dense, dense.T, rtol=1e-10, atol=1e-10 * scale)
    dottest(H)
    return H


# ------------------------------------------------------------------ expm
def test_expm_second_equals_the_block_formula_of_a_4n_exponential():
    """L²(A; H, E) is the (1, 4) block of expm([[A, H, E, 0], [0, A, 0, E], [0, 0, A, H], [0, 0, 0, A]])."""
    rng = np.random.default_rng(0)
    n = 3
    A, H, E = (rng.standard_normal((n, n)) for _ in range(3))
    Z = np.zeros((n, n))
    big = np.block([[A, H, E, Z], [Z, A, Z, E], [Z, Z, A, H], [Z, Z, Z, A]])
    np.testing.assert_allclose(expm_second(A, H, E), sla.expm(big)[:n, 3 * n:], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(expm_second(A, H, E), expm_second(A, E, H), rtol=1e-13, atol=1e-13)


def test_expm_second_of_a_stack_is_that_of_each_member():
    rng = np.random.default_rng(1)
    A, H, E = (rng.standard_normal((2, 3, 4, 4)) for _ in range(3))
    got = expm_second(A, H, E)
    for idx in np.ndindex(2, 3):
        np.testing.assert_allclose(got[idx], expm_second(A[idx], H[idx], E[idx]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(3, 3), (1, 1), (4, 3, 3), (2, 3, 2, 2), (3, 1, 1)])
def test_expm_second_map_passes_the_dot_test(shape):
    rng = np.random.default_rng(2)
    A, E = rng.standard_normal(shape), rng.standard_normal(shape)
    dottest(ExpmSecondMap(A, E, shape))


def test_expm_second_map_with_a_matrix_against_a_stack_passes_the_dot_test():
    rng = np.random.default_rng(3)
    dottest(ExpmSecondMap(rng.standard_normal((3, 3)), rng.standard_normal((2, 3, 3)), (2, 3, 3)))


def test_hessian_of_the_sum_of_expm_of_an_outer_product():
    """The case of the issue: r of shape (1, 3), f = Σ e^{rᵀr}."""
    r = kv.Matrix("r", (1, 3))
    f = kv.sum(kv.expm(r.T @ r))
    _check_hessian(f, r, {"r": np.random.default_rng(4).standard_normal((1, 3))})


def test_hessian_of_trace_of_c_times_expm():
    X, C = kv.Matrix("X", (3, 3)), kv.Matrix("C", (3, 3))
    f = kv.trace(C @ kv.expm(X))
    _check_hessian(f, X, random_values(f, np.random.default_rng(5)))


def test_jacobian_of_the_gradient_equals_the_hessian():
    X, C = kv.Matrix("X", (3, 3)), kv.Matrix("C", (3, 3))
    f = kv.trace(C @ kv.expm(0.5 * X))
    values = random_values(f, np.random.default_rng(6))
    J = kv.jacobian(kv.grad(f, X), X).at(values).to_dense()
    np.testing.assert_allclose(J, kv.hessian(f, X).at(values).to_dense(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", [(1, 1), (1, 3), (3, 1)])
def test_hessian_through_expm_for_thin_shapes(shape):
    x = kv.Matrix("x", shape)
    f = kv.sum(kv.expm(x @ x.T) * kv.expm(x @ x.T))
    _check_hessian(f, x, {"x": np.random.default_rng(7).standard_normal(shape)})


@pytest.mark.parametrize("shape", [(4, 3, 3), (2, 3, 2, 2), (3, 1, 1)])
def test_hessian_through_expm_of_stacks(shape):
    X, C = kv.Matrix("X", shape), kv.Matrix("C", shape)
    f = kv.sum(C * kv.expm(0.5 * X))
    _check_hessian(f, X, random_values(f, np.random.default_rng(8)))


def test_hessian_through_expm_of_a_stack_against_a_numpy_constant():
    X = kv.Matrix("X", (2, 3, 3))
    C = np.random.default_rng(9).standard_normal((3, 3))
    f = kv.sum(kv.expm(0.5 * X) @ C)
    _check_hessian(f, X, random_values(f, np.random.default_rng(10)))


def test_second_derivative_prints_as_the_second_frechet_derivative():
    X, C = kv.Matrix("X", (3, 3)), kv.Matrix("C", (3, 3))
    g2 = kv.grad(kv.sum(kv.grad(kv.trace(C @ kv.expm(X)), X)), X)
    assert "L²_expm(" in str(g2)
    assert "L²_expm(" in str(kv.hessian(kv.trace(C @ kv.expm(X)), X))


def test_hessian_vector_product_through_expm_in_generated_code():
    X, C = kv.Matrix("X", (3, 3)), kv.Matrix("C", (3, 3))
    Hs = kv.hessian(kv.trace(C @ kv.expm(0.5 * X)), X)
    rng = np.random.default_rng(11)
    X0, C0, D = (rng.standard_normal((3, 3)) for _ in range(3))
    hvp = kv.lambdify([X, C], Hs, "numpy")
    want = Hs.at(X=X0, C=C0).jvp(D)
    np.testing.assert_allclose(hvp(X0, C0, D), want, rtol=1e-10, atol=1e-10 * np.abs(want).max())


def test_third_derivative_through_expm_names_the_case():
    X = kv.Matrix("X", (3, 3))
    g2 = kv.grad(kv.sum(kv.grad(kv.sum(kv.expm(X)), X)), X)
    with pytest.raises(NotImplementedError, match="third derivatives through expm"):
        kv.jacobian(g2, X)


# ------------------------------------------------------- sqrtm and logm of stacks
@pytest.mark.parametrize("fn", ["sqrtm", "logm"])
@pytest.mark.parametrize("shape", [(3, 3, 3), (2, 2, 3, 3), (3, 1, 1)])
def test_hessian_of_sqrtm_and_logm_of_stacks_of_symmetric_matrices(fn, shape):
    X, W = kv.Matrix("X", shape, symmetric=True), kv.Matrix("W", shape)
    f = kv.sum(W * getattr(kv, fn)(X))
    _check_hessian(f, X, random_values(f, np.random.default_rng(12), positive=True), symmetric=True)


def test_logm_second_of_a_symmetric_stack_is_that_of_each_member():
    rng = np.random.default_rng(13)
    B = rng.standard_normal((2, 3, 4, 4))
    A = B @ np.swapaxes(B, -1, -2) + 4 * np.eye(4)
    A[0, 0] = 2.0 * np.eye(4)  # a member with repeated eigenvalues (the confluent limits)
    H, E = rng.standard_normal((2, 3, 4, 4)), rng.standard_normal((2, 3, 4, 4))
    got = logm_second(A, H, E)
    for idx in np.ndindex(2, 3):
        np.testing.assert_allclose(got[idx], logm_second(A[idx], H[idx], E[idx]), rtol=1e-10, atol=1e-12)


def test_logm_second_map_of_a_symmetric_stack_passes_the_dot_test():
    rng = np.random.default_rng(14)
    B = rng.standard_normal((3, 3, 3))
    dottest(LogmSecondMap(B @ np.swapaxes(B, -1, -2) + 3 * np.eye(3), rng.standard_normal((3, 3, 3)),
                          (3, 3, 3)))


def test_logm_second_of_a_stack_with_a_member_that_is_not_symmetric_is_member_by_member():
    # (refused before API.md v1.3; now each member in its own form)
    rng = np.random.default_rng(15)
    A = np.stack([np.eye(3) * 2, np.eye(3) * 2 + np.triu(np.ones((3, 3)), 1)])
    E, H = rng.standard_normal((2, 3, 3)), rng.standard_normal((2, 3, 3))
    got = LogmSecondMap(A, E, (2, 3, 3)).jvp(H)
    members = [LogmSecondMap(a, e, (3, 3)).jvp(h) for a, e, h in zip(A, E, H)]
    np.testing.assert_allclose(got, np.stack(members), atol=1e-12)


@pytest.mark.parametrize("fn", ["expm", "sqrtm", "logm"])
@pytest.mark.parametrize("shapes", [((3, 3), (2, 3, 3)), ((2, 3, 3), (3, 3))])
def test_frechet_derivative_of_a_matrix_against_a_stack_differentiates_in_a(fn, shapes):
    """d L_f(A, E)/dA where one of A, E is a matrix and the other a stack (broadcast)."""
    rng = np.random.default_rng(16)
    A, E = kv.Matrix("A", shapes[0], symmetric=True), kv.Matrix("E", shapes[1])
    f = getattr(matrix_functions, fn + "_frechet")(A, E)
    B = rng.standard_normal(shapes[0])
    values = {"A": B @ np.swapaxes(B, -1, -2) / 3 + 2 * np.eye(3), "E": rng.standard_normal(shapes[1])}
    J = kv.jacobian(f, A).at(values)
    P = symmetrizer(3, shapes[0][:-2])
    fd = fd_jacobian(f, A, values)
    np.testing.assert_allclose(J.to_dense() @ P, fd, rtol=1e-5, atol=1e-6 * max(1.0, np.abs(fd).max()))
    dottest(J)


def test_logm_second_of_one_matrix_that_is_not_symmetric_against_stacked_directions():
    rng = np.random.default_rng(17)
    A = 3 * np.eye(3) + 0.5 * rng.standard_normal((3, 3))
    H, E = rng.standard_normal((2, 3, 3)), rng.standard_normal((3, 3))
    got = logm_second(A, H, E)
    for i in range(2):
        np.testing.assert_allclose(got[i], logm_second(A, H[i], E), rtol=1e-12, atol=1e-12)
