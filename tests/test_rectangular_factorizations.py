"""``kv.lu`` of tall and wide matrices (scipy.linalg.lu's shapes) and ``kv.qr`` of wide ones
(np.linalg.qr, mode "reduced"), API.md v1.3: values against SciPy/NumPy, derivatives of every
factor against central differences (first and second order), the adjoint dot test, stacks with
one and two stack axes."""
import numpy as np
import pytest
import scipy.linalg as sla

import kronvec as kv
from kronvec.testing import dottest, fd_jacobian, relative_error

SHAPES = [(5, 3), (3, 5), (1, 4), (4, 1), (2, 4, 3), (2, 3, 4), (2, 2, 3, 5), (3, 1, 1)]


def _value(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _lu_reference(a):
    if a.ndim == 2:
        return sla.lu(a)
    parts = [sla.lu(m) for m in a.reshape((-1,) + a.shape[-2:])]
    return tuple(np.stack([p[i] for p in parts]).reshape(a.shape[:-2] + parts[0][i].shape) for i in range(3))


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_values_and_shapes_as_scipy_and_numpy(shape):
    a0 = _value(shape)
    A = kv.Matrix("A", shape)
    for factor, ref in zip(kv.lu(A), _lu_reference(a0)):
        assert factor.shape == ref.shape
        np.testing.assert_allclose(kv.evaluate(factor, A=a0), ref, atol=1e-13)
    for factor, ref in zip(kv.qr(A), np.linalg.qr(a0)):
        assert factor.shape == ref.shape
        np.testing.assert_allclose(kv.evaluate(factor, A=a0), ref, atol=1e-13)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("which", ["lu_L", "lu_U", "qr_Q", "qr_R"])
def test_first_derivatives_match_finite_differences(shape, which):
    a0 = _value(shape, 1)
    A = kv.Matrix("A", shape)
    factor = {"lu_L": kv.lu(A)[1], "lu_U": kv.lu(A)[2], "qr_Q": kv.qr(A)[0], "qr_R": kv.qr(A)[1]}[which]
    L = kv.jacobian(factor, A).at({"A": a0})
    assert relative_error(L.to_dense(), fd_jacobian(factor, A, {"A": a0})) < 1e-7
    dottest(L)


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (2, 3, 4), (2, 4, 3)], ids=str)
def test_second_derivatives_match_finite_differences(shape):
    a0 = _value(shape, 2)
    A = kv.Matrix("A", shape)
    P, L, U = kv.lu(A)
    Q, R = kv.qr(A)
    rng = np.random.default_rng(3)
    weights = [kv.Constant(rng.standard_normal(f.shape[-2:])) for f in (L, U, Q, R)]
    f = sum(kv.sum(kv.hadamard(x, c) ** 2) for x, c in zip((L, U, Q, R), weights))
    H = kv.hessian(f, A).at({"A": a0})
    assert relative_error(H.to_dense(), fd_jacobian(kv.grad(f, A), A, {"A": a0})) < 1e-6
    dottest(H)


def test_the_factors_reconstruct_the_matrix_and_the_permutation_is_constant():
    a0 = _value((4, 6), 4)
    A = kv.Matrix("A", (4, 6))
    P, L, U = kv.lu(A)
    np.testing.assert_allclose(kv.evaluate(P @ L @ U, A=a0), a0, atol=1e-13)
    assert not kv.jacobian(P, A).at({"A": a0}).to_dense().any()
    Q, R = kv.qr(A)
    np.testing.assert_allclose(kv.evaluate(Q @ R, A=a0), a0, atol=1e-13)


def test_a_wide_matrix_whose_leading_columns_are_singular_raises_naming_the_factor():
    a0 = _value((3, 5), 5)
    a0[:, 2] = a0[:, 0] + a0[:, 1]  # the first three columns have rank 2
    A = kv.Matrix("A", (3, 5))
    with pytest.raises(np.linalg.LinAlgError, match=r"qr\(A\)\[1\] @ C1.T is singular"):
        kv.jacobian(kv.qr(A)[1], A).at({"A": a0}).to_dense()
