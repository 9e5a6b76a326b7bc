"""det through singular matrices (issue 17, finding 14): derivatives of a polynomial never raise.

The gradient of det is the adjugate adj(A)ᵀ (det(A) A⁻ᵀ where A is invertible) and
its Hessian the derivative of the adjugate; both exist at every A.  Checked at
matrices of rank n − 1, n − 2 and 0, through compositions (det(AX), det(XXᵀ),
tanh(det A), det²), on stacks with a singular member and on 1×1 matrices,
against the cofactor matrix computed by minors and against central differences.
"""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import kronvec as kv
from kronvec.testing import dottest, fd_jacobian

RANKS = {
    "rank n-1": np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]]),
    "rank n-2": np.outer([1.0, -2.0, 0.5], [3.0, 1.0, -1.0]),
    "zero": np.zeros((3, 3)),
    "regular": np.array([[2.0, 1.0, 0.0], [-1.0, 3.0, 1.0], [0.5, 0.0, 1.5]]),
}


def cofactors(a: np.ndarray) -> np.ndarray:
    """The cofactor matrix adj(A)ᵀ by minors (the reference gradient of det)."""
    n = a.shape[-1]
    out = np.empty_like(a)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(a, i, axis=-2), j, axis=-1)
            out[..., i, j] = (-1) ** (i + j) * (np.linalg.det(minor) if n > 1 else 1.0)
    return out


def cofactor_hessian(a: np.ndarray) -> np.ndarray:
    """d cof(A) by central differences of the cofactors (a polynomial: exact to rounding)."""
    n, eps = a.shape[-1], 1e-4
    cols = []
    for c in range(n * n):
        e = np.zeros(n * n)
        e[c] = eps
        step = e.reshape((n, n), order="F")
        cols.append(((cofactors(a + step) - cofactors(a - step)) / (2 * eps)).reshape(-1, order="F"))
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("name", sorted(RANKS))
def test_gradient_and_hessian_of_det_at_any_rank(name):
    A, a = kv.Matrix("A", (3, 3)), RANKS[name]
    f = kv.det(A)
    np.testing.assert_allclose(kv.evaluate(kv.grad(f, A), A=a), cofactors(a), atol=1e-12)
    L = kv.jacobian(f, A).at(A=a)
    np.testing.assert_allclose(L.to_dense().reshape(3, 3, order="F"), cofactors(a), atol=1e-12)
    H = kv.hessian(f, A).at(A=a)
    dottest(H)
    np.testing.assert_allclose(H.to_dense(), cofactor_hessian(a), atol=1e-8)
    np.testing.assert_allclose(H.to_dense(), fd_jacobian(kv.grad(f, A), A, {"A": a}), atol=1e-7)


@pytest.mark.parametrize("name", ["rank n-1", "rank n-2", "zero"])
def test_compositions_through_a_singular_argument(name):
    X, a = kv.Matrix("X", (3, 3)), RANKS[name]
    C = np.array([[1.0, 0.5, 0.0], [0.0, 2.0, -1.0], [1.0, 0.0, 1.0]])
    for f in (kv.det(C @ X), kv.det(X @ X.T), kv.tanh(kv.det(X)), kv.det(X) ** 2, kv.det(X + X.T - a - a.T)):
        values = {"X": a}
        L = kv.jacobian(f, X).at(values)
        fd = fd_jacobian(f, X, values)
        tol = 1e-5 * max(1.0, np.abs(fd).max())  # differences of values of size 10³ near a zero slope
        np.testing.assert_allclose(L.to_dense(), fd, atol=tol)
        dottest(L)
        g = kv.evaluate(kv.grad(f, X), values)
        np.testing.assert_allclose(g.reshape(-1, order="F"), fd.ravel(), atol=tol)
        H = kv.hessian(f, X).at(values)
        fd2 = fd_jacobian(kv.grad(f, X), X, values)
        np.testing.assert_allclose(H.to_dense(), fd2, atol=1e-5 * max(1.0, np.abs(fd2).max()))


def test_gradient_of_det_of_a_product_at_a_singular_factor_is_not_zero():
    X = kv.Matrix("X", (3, 3))
    C = np.array([[1.0, 0.5, 0.0], [0.0, 2.0, -1.0], [1.0, 0.0, 1.0]])
    a = RANKS["rank n-1"]
    g = kv.evaluate(kv.grad(kv.det(C @ X), X), X=a)
    np.testing.assert_allclose(g, C.T @ cofactors(C @ a), atol=1e-12)
    assert np.abs(g).max() > 1.0


def test_stack_with_a_singular_member():
    S = kv.Matrix("S", (3, 3, 3))
    s = np.stack([RANKS["regular"], RANKS["rank n-1"], RANKS["rank n-2"]])
    f = kv.sum(kv.det(S))  # (weights by a 1-D constant wait for NumPy's shape rule: finding 3)
    np.testing.assert_allclose(kv.evaluate(kv.grad(f, S), S=s), cofactors(s), atol=1e-11)
    for f in (kv.sum(kv.det(S)), kv.sum(kv.det(S) ** 2), kv.sum(kv.det(S) ** 3)):
        H = kv.hessian(f, S).at(S=s)
        dottest(H)
        fd2 = fd_jacobian(kv.grad(f, S), S, {"S": s})
        np.testing.assert_allclose(H.to_dense(), fd2, atol=1e-7 * max(1.0, np.abs(fd2).max()))


@pytest.mark.parametrize("x0", [0.0, 2.5, -1.0])
def test_det_of_a_1x1_matrix(x0):
    x = kv.Matrix("x", (1, 1))
    f = kv.det(x)
    g = kv.evaluate(kv.grad(f, x), x=np.array([[x0]]))
    assert np.shape(g) == (1, 1)
    np.testing.assert_array_equal(g, [[1.0]])
    np.testing.assert_array_equal(kv.jacobian(f, x).at(x=np.array([[x0]])).to_dense(), [[1.0]])
    np.testing.assert_array_equal(kv.hessian(f, x).at(x=np.array([[x0]])).to_dense(), [[0.0]])
    h = kv.hessian(f ** 3, x).at(x=np.array([[x0]])).to_dense()
    np.testing.assert_allclose(h, [[6.0 * x0]], atol=1e-12)


def test_the_printed_forms_are_jacobis_formula():
    A = kv.Matrix("A", (3, 3))
    assert str(kv.grad(kv.det(A), A)) == "det(A) A⁻ᵀ"
    assert kv.jacobian(kv.det(A), A).differential().replace(" ", "") == "d(det(A))=det(A)tr(A⁻¹dA)"
    assert "L_adj" in str(kv.hessian(kv.det(A), A))
    X, B = kv.Matrix("X", (3, 3)), kv.Matrix("B", (3, 3))
    assert str(kv.grad(kv.det(A @ X @ B), X)) == "det(AXB) Aᵀ(BᵀXᵀAᵀ)⁻¹Bᵀ"
    assert kv.jacobian(kv.det(A @ A.T), A).differential() == "d(det(AAᵀ)) = 2det(AAᵀ) tr(Aᵀ (AAᵀ)⁻¹ dA)"


def test_hessian_maps_of_det_and_of_the_nuclear_norm_pickle_after_use():
    A = kv.Matrix("A", (3, 3))
    a = RANKS["rank n-1"] + np.diag([0.0, 0.0, 1e-3])
    for f in (kv.det(A), kv.norm(A, "nuc")):
        L = kv.hessian(f, A).at(A=a)
        before = L.jvp(a)
        np.testing.assert_array_equal(pickle.loads(pickle.dumps(L)).jvp(a), before)
