"""API details found in user trials: composing symbolic and structural maps,
scalar shapes, name clashes, binding mistakes, and singular points."""
from __future__ import annotations

import numpy as np
import pytest

import kronvec as kv


def test_symbolic_jacobian_composes_with_structural_maps():
    n = 3
    K = kv.Matrix("K", (n, n), symmetric=True)
    J = kv.jacobian(kv.logdet(K), K)
    Jh = J @ kv.duplication(n)
    assert Jh.in_shape == (n * (n + 1) // 2, 1)
    assert "D₃" in str(Jh)
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n))
    K0 = a @ a.T + n * np.eye(n)
    np.testing.assert_allclose(Jh.at(K=K0).to_dense(),
                               J.at(K=K0).to_dense() @ kv.duplication(n).to_dense(), rtol=1e-12)
    Je = kv.elimination(n) @ kv.jacobian(kv.inv(K), K)
    np.testing.assert_allclose(Je.at(K=K0).to_dense(),
                               kv.elimination(n).to_dense() @ kv.jacobian(kv.inv(K), K).at(K=K0).to_dense())


def test_bound_maps_and_symbolic_jacobians_say_how_to_compose():
    K = kv.Matrix("K", (3, 3))
    J = kv.jacobian(kv.inv(K), K)
    L = J.at(K=np.eye(3) * 2)
    with pytest.raises(TypeError, match="bind J first"):
        L @ J
    with pytest.raises(TypeError, match="bind J first"):
        J @ L
    np.testing.assert_allclose((L @ J.at(K=np.eye(3) * 2)).to_dense(), L.to_dense() @ L.to_dense())


def test_gradient_has_the_shape_of_a_1x1_symbol():
    x = kv.Matrix("x", (1, 1))
    g = kv.grad(kv.trace(x @ x @ x), x)
    assert g.shape == (1, 1)
    np.testing.assert_allclose(kv.evaluate(g, x=[[2.0]]), [[12.0]])
    s = kv.Scalar("s")
    assert kv.grad(s * s, s).shape == ()


def test_a_scalar_cotangent_may_be_a_number():
    x = kv.Matrix("x", (1, 1))
    L = kv.jacobian(kv.trace(x @ x), x).at(x=[[2.0]])  # output ()
    np.testing.assert_allclose(L.vjp(1.0), [[4.0]])
    M = kv.jacobian(x @ x, x).at(x=[[2.0]])  # output (1, 1)
    np.testing.assert_allclose(M.vjp(1.0), [[4.0]])
    np.testing.assert_allclose(M.jvp(1.0), [[4.0]])


def test_two_symbols_with_one_name_are_refused_when_they_meet():
    S1, S2 = kv.Matrix("S", (3, 3), symmetric=True), kv.Matrix("S", (3, 3))
    clash = r"two different symbols are named 'S' \(symmetric=True and False\)"
    with pytest.raises(kv.ShapeError, match=clash):
        S1 + S2
    with pytest.raises(kv.ShapeError, match=r"shapes \(3, 3\) and \(2, 2\)"):
        kv.trace(S2) * kv.Matrix("S", (2, 2))
    assert (S1 @ S1).symbols() == {"S": S1}


def test_a_misspelt_binding_name_is_suggested():
    K, y = kv.Matrix("K", (3, 3)), kv.Vector("y", 3)
    J = kv.jacobian(y.T @ kv.inv(K) @ y, K)
    with pytest.raises(kv.BindingError, match=r"missing value for y \(shape \(3, 1\)\).*did you mean 'Y'"):
        J.at(K=np.eye(3), Y=np.ones(3))
    np.testing.assert_allclose(J.at(K=np.eye(3), y=np.ones(3), unused=1.0).to_dense(), -np.ones((1, 9)))


def test_object_and_string_values_are_refused():
    X = kv.Matrix("X", (2, 2))
    with pytest.raises(TypeError, match="value for X: not a numeric array"):
        kv.evaluate(kv.trace(X), X=np.array([[1, 2], [3, 4]], dtype=object))
    with pytest.raises(TypeError, match="value for X"):
        kv.evaluate(kv.trace(X), X=np.array([["a", "b"], ["c", "d"]]))


def test_a_singular_solve_is_named():
    A, B = kv.Matrix("A", (3, 3)), kv.Matrix("B", (3, 2))
    with pytest.raises(np.linalg.LinAlgError, match=r"solve\(A, B\): A is singular"):
        kv.evaluate(kv.solve(A, B), A=np.ones((3, 3)), B=np.ones((3, 2)))


def _cofactor(a):
    n = len(a)
    out = np.empty_like(a)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(a, i, 0), j, 1)
            out[i, j] = (-1) ** (i + j) * np.linalg.det(minor)
    return out


@pytest.mark.parametrize("rank", [3, 2, 1, 0])
def test_gradient_of_det_is_the_cofactor_matrix_also_when_singular(rank):
    rng = np.random.default_rng(rank)
    u, _, vt = np.linalg.svd(rng.standard_normal((3, 3)))
    s = np.array([3.0, 2.0, 1.5])[:3] * (np.arange(3) < rank)
    A0 = (u * s) @ vt
    A = kv.Matrix("A", (3, 3))
    g = kv.grad(kv.det(A), A)
    assert str(g) == "det(A) A⁻ᵀ"
    np.testing.assert_allclose(kv.evaluate(g, A=A0), _cofactor(A0), atol=1e-12)
    L = kv.jacobian(kv.det(A), A).at(A=A0)
    np.testing.assert_allclose(L.to_dense().reshape(3, 3, order="F"), _cofactor(A0), atol=1e-12)


@pytest.mark.parametrize("fn", [kv.vec, kv.vech, lambda a: kv.unvec(a, (2, 2))])
def test_the_numeric_vec_helpers_name_an_expression_passed_to_them(fn):
    X = kv.Matrix("X", (3, 2, 2))
    with pytest.raises(TypeError, match=r"not the expression X of shape \(3, 2, 2\)"):
        fn(X)


def test_vec_of_a_stack_flattens_every_axis_column_major():
    a = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(kv.vec(a), a.reshape(-1, order="F"))
