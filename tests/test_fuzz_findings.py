"""Failures the differential fuzzer (tests/fuzz) found on main, each reproduced as it reported it.

``python tests/fuzz/survey.py`` groups its failures; one small test per group, each of
which failed before its fix.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special as special

import kronvec as kv
from kronvec.maps.powers import MatrixPowerSecondMap
from kronvec.testing import dottest, fd_jvp

RNG = np.random.default_rng(17)


# A. A (1, 1) matrix times a () scalar stays a matrix operand


@pytest.mark.parametrize("outer", [kv.sqrtm, kv.expm, kv.inv, lambda a: kv.svd(a @ a, compute_uv=False)])
def test_a_1x1_matrix_times_a_scalar_of_itself_stays_a_matrix(outer):
    X = kv.Matrix("X", (1, 1))
    c = np.array([[0.183439]])
    F = outer(X * kv.sum(X * c) + 3 * kv.eye(1))  # X · Σ(X ⊙ C): the () total multiplies a 1×1
    x, h = np.array([[0.7]]), np.array([[0.4]])
    L = kv.jacobian(F, X).at({"X": x})
    assert L.jvp(h).shape == F.shape
    np.testing.assert_allclose(L.jvp(h), fd_jvp(F, X, {"X": x}, h), rtol=1e-6, atol=1e-9)
    g = kv.grad(kv.sum(F), X)
    assert np.shape(kv.evaluate(g, X=x)) == (1, 1)


def test_a_product_with_a_scalar_first_and_last_is_the_same_matrix():
    X = kv.Matrix("X", (1, 1))
    s = kv.sum(X)
    for e in (X * s, s * X):
        assert e.shape == (1, 1)
        assert e.op == "smul"  # the () factor is the coefficient s of s·A, never the matrix A
        assert e.args[0].shape == () and e.args[1].shape == (1, 1)


# B. A reduction over all entries of a 1×1 is a () scalar, as NumPy's


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "logsumexp"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_b_reduction_of_a_1x1_over_all_entries_has_numpys_shape(name, keepdims):
    X = kv.Matrix("X", (1, 1))
    x = np.array([[0.3]])
    twin = special.logsumexp if name == "logsumexp" else getattr(np, name)
    e = getattr(kv, name)(X, keepdims=keepdims)
    expected = np.asarray(twin(x, keepdims=keepdims))
    assert e.shape == expected.shape
    value = kv.evaluate(e, X=x)
    assert np.shape(value) == expected.shape
    np.testing.assert_allclose(value, expected)


# D. Generated code for the JVP/VJP of a matrix broadcast against a stack


def _as_backend(backend: str, a: np.ndarray):
    if backend == "torch":
        torch = pytest.importorskip("torch")
        return torch.as_tensor(a, dtype=torch.float64)
    if backend == "jax":
        pytest.importorskip("jax")
    return a


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
@pytest.mark.parametrize("which", ["matrix", "rows of one", "scalar", "through an inverse"])
def test_d_lambdify_of_a_broadcast_against_a_stack(backend, which):
    X = kv.Matrix("X", (2, 2))
    C = RNG.standard_normal((3, 2, 2))
    F = {"matrix": lambda: C - X, "rows of one": lambda: X + C[:, :1, :], "scalar": lambda: kv.sum(X) + C,
         "through an inverse": lambda: C - kv.inv(0.3 * X @ X.T + 3 * kv.eye(2))}[which]()
    x, H, G = RNG.standard_normal((2, 2)), RNG.standard_normal((2, 2)), RNG.standard_normal(F.shape)
    J = kv.jacobian(F, X)
    L = J.at({"X": x})
    jvp = kv.lambdify([X], J, backend=backend)(*(_as_backend(backend, a) for a in (x, H)))
    vjp = kv.lambdify([X], J.T, backend=backend)(*(_as_backend(backend, a) for a in (x, G)))
    rtol = 1e-5 if backend == "jax" else 1e-12  # JAX computes in float32 unless told otherwise
    np.testing.assert_allclose(np.asarray(jvp), L.jvp(H), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(np.asarray(vjp), L.vjp(G), rtol=rtol, atol=rtol)
    np.testing.assert_allclose(np.sum(np.asarray(jvp) * G), np.sum(H * np.asarray(vjp)), rtol=rtol)


# C. A 1-D constant next to a () expression stays 1-D (API.md v1.3: NumPy decides)


@pytest.mark.parametrize("op", ["minimum", "maximum", "add", "multiply"])
def test_c_a_1d_constant_next_to_a_0d_expression_keeps_numpys_shape(op):
    X = kv.Matrix("X", (2, 3))
    x = RNG.standard_normal((2, 3))
    c = np.array([2.04092])
    logdet = kv.logdet(X @ X.T + kv.eye(2))
    f = {"minimum": kv.minimum, "maximum": kv.maximum, "add": lambda a, b: a + b,
         "multiply": lambda a, b: a * b}[op]
    twin = {"minimum": np.minimum, "maximum": np.maximum, "add": np.add, "multiply": np.multiply}[op]
    expected = twin(np.linalg.slogdet(x @ x.T + np.eye(2))[1], c)
    for e in (f(logdet, c), f(c, logdet)):
        assert e.shape == expected.shape == (1,)
        np.testing.assert_allclose(kv.evaluate(e, X=x), expected)
    assert (X[:, :1] * np.ones(2)).shape == (2, 1)  # next to a matrix: the v1 column


def test_d_lambdify_of_a_trace_term_with_a_1x1_factor_keeps_the_output_shape():
    # abs(0.58 (sum(X X C1 ⊙ C2) X) X C1) for X (1, 1): the term tr(C dX) M with C (1, 1)
    X = kv.Matrix("X", (1, 1))
    C1, C2 = RNG.standard_normal((1, 3)), RNG.standard_normal((1, 3))
    F = kv.abs(0.580808 * (kv.sum((X @ X @ C1) * C2) * X) @ X @ C1)
    x, H = np.array([[0.7]]), np.array([[0.3]])
    L = kv.jacobian(F, X).at({"X": x})
    jvp = kv.lambdify([X], kv.jacobian(F, X))(x, H)
    assert np.shape(jvp) == (1, 3)
    np.testing.assert_allclose(jvp, L.jvp(H), rtol=1e-12)
    np.testing.assert_allclose(L.jvp(H), fd_jvp(F, X, {"X": x}, H), rtol=1e-6)


# E. Hessians through matrix_power of stacks


def _hessian_vs_gradient_differences(f, X, x, direction, eps=1e-6):
    g = kv.grad(f, X)
    fd = (kv.evaluate(g, X=x + eps * direction) - kv.evaluate(g, X=x - eps * direction)) / (2 * eps)
    return kv.hessian(f, X).at({"X": x}).jvp(direction), fd


@pytest.mark.parametrize("shape, k", [((3, 2, 2), 3), ((2, 1, 2, 2), 4), ((3, 1, 1), 6), ((2, 3, 1), 5),
                                      ((2, 2), 5)])
def test_e_hessian_through_matrix_power_of_a_stack(shape, k):
    X = kv.Matrix("X", shape)
    n = shape[-2]
    C = RNG.standard_normal(shape[:-1] + (n,))
    f = kv.sum(C * kv.matrix_power(0.3 * X @ kv.matrix_transpose(X) + kv.eye(n), k))
    x, d = 0.5 * RNG.standard_normal(shape), RNG.standard_normal(shape)
    hv, fd = _hessian_vs_gradient_differences(f, X, x, d)
    np.testing.assert_allclose(hv, fd, rtol=1e-6, atol=1e-6 * np.abs(fd).max())
    e = RNG.standard_normal(shape)  # the Hessian is symmetric: <e, H d> = <H e, d>
    H = kv.hessian(f, X).at({"X": x})
    np.testing.assert_allclose(np.sum(e * H.jvp(d)), np.sum(H.jvp(e) * d), rtol=1e-9)


def test_e_hessian_through_a_negative_matrix_power_of_a_stack_with_two_stack_axes():
    # cos(chol((XXᵀ + I)⁻⁴ + I)) for X (2, 1, 2, 1), as the fuzzer drew it
    X = kv.Matrix("X", (2, 1, 2, 1))
    C = RNG.standard_normal((2, 1, 2, 2))
    P = X @ kv.matrix_transpose(X) + kv.eye(2)
    f = kv.sum(C * kv.cos(kv.cholesky(kv.matrix_power(P, -4) + kv.eye(2))))
    x, d = RNG.standard_normal((2, 1, 2, 1)), RNG.standard_normal((2, 1, 2, 1))
    hv, fd = _hessian_vs_gradient_differences(f, X, x, d)
    np.testing.assert_allclose(hv, fd, rtol=1e-6, atol=1e-6 * np.abs(fd).max())


@pytest.mark.parametrize("slot", [0, 1])
@pytest.mark.parametrize("shape", [(3, 2, 2), (2, 1, 3, 3), (4, 1, 1)])
def test_e_second_derivative_map_of_matrix_power_on_a_stack_passes_the_dot_test(shape, slot):
    A, F = 0.5 * RNG.standard_normal(shape), RNG.standard_normal(shape)
    L = MatrixPowerSecondMap(A, F, 5, slot, shape)
    dottest(L)
    h = RNG.standard_normal(shape)
    members = [MatrixPowerSecondMap(A.reshape(-1, *shape[-2:])[b], F.reshape(-1, *shape[-2:])[b], 5, slot,
                                    shape[-2:]).jvp(h.reshape(-1, *shape[-2:])[b])
               for b in range(int(np.prod(shape[:-2])))]
    np.testing.assert_allclose(L.jvp(h), np.reshape(members, shape), rtol=1e-12)


@pytest.mark.parametrize("axis", [(1, 2), (-2, -1)])
def test_d_lambdify_of_a_jacobian_into_per_member_scalars_has_their_shape(axis):
    # sum(X + C1, axis=(1, 2)) for X (1, 1) and C1 (2, 1, 1): a (2,) result, not (2, 1, 1)
    X = kv.Matrix("X", (1, 1))
    F = kv.sum(X + RNG.standard_normal((2, 1, 1)), axis=axis)
    x, H, G = np.array([[0.3]]), np.array([[0.5]]), RNG.standard_normal(2)
    L = kv.jacobian(F, X).at({"X": x})
    jvp = kv.lambdify([X], kv.jacobian(F, X))(x, H)
    assert np.shape(jvp) == (2,)
    np.testing.assert_allclose(jvp, L.jvp(H), rtol=1e-12)
    np.testing.assert_allclose(kv.lambdify([X], kv.jacobian(F, X).T)(x, G), L.vjp(G), rtol=1e-12)


# F. lambdify of an expression defined only for small values of its symbols


def test_f_lambdify_finds_representative_values_where_the_expression_is_defined():
    # logm(3I − 0.449188(λ(X² + I) + Y)) has no real logarithm for X, Y with entries in [0.5, 2]
    X, Y = kv.Matrix("X", (1, 1)), kv.Matrix("Y", (1, 1))
    F = kv.logm(3 * kv.eye(1) - 0.449188 * (kv.eigvalsh(kv.matrix_power(X, 2) + kv.eye(1)) + Y))
    x, y, H = np.array([[0.088]]), np.array([[-0.0925]]), np.array([[0.4]])
    np.testing.assert_allclose(kv.lambdify([X, Y], F)(x, y), kv.evaluate(F, X=x, Y=y), rtol=1e-12)
    J = kv.jacobian(F, X)
    np.testing.assert_allclose(kv.lambdify([X, Y], J)(x, y, H), J.at({"X": x, "Y": y}).jvp(H), rtol=1e-12)


# G. Generated code for the Jacobian of a 1-D diagonal (a reshape of an index): it refused the
# reshape map as if it were a stack of matrices


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_g_lambdify_of_the_jacobian_of_a_diagonal_with_an_offset(offset):
    X = kv.Matrix("X", (3, 2))
    f = kv.diagonal(kv.abs(X), offset)
    J = kv.jacobian(f, X)
    jvp, vjp = kv.lambdify([X], J), kv.lambdify([X], J.T)
    x, h = RNG.standard_normal((3, 2)) + 2.0, RNG.standard_normal((3, 2))
    L = J.at(X=x)
    np.testing.assert_allclose(np.reshape(jvp(x, h), -1), np.reshape(L.jvp(h), -1), atol=1e-14)
    g = RNG.standard_normal(f.shape)
    np.testing.assert_allclose(np.reshape(vjp(x, g), -1), np.reshape(L.vjp(g), -1), atol=1e-14)


# H. The derivative of norm(A, -2) of a stack with several stack axes (it raised
#    NotImplementedError asking to reshape to one stack axis)


@pytest.mark.parametrize("shape", [(2, 2, 3, 2), (2, 1, 2, 2), (2, 3, 1, 1), (2, 2, 1, 3), (2, 1, 2, 3, 2)])
def test_h_derivatives_of_the_smallest_singular_value_of_a_stack_with_several_stack_axes(shape):
    X = kv.Matrix("X", shape)
    E = kv.norm(X, -2, axis=(-2, -1))
    x, h = RNG.standard_normal(shape), RNG.standard_normal(shape)
    assert E.shape == shape[:-2]
    L = kv.jacobian(E, X).at({"X": x})
    np.testing.assert_allclose(L.jvp(h), fd_jvp(E, X, {"X": x}, h), rtol=1e-6, atol=1e-8)
    dottest(L, RNG)
    w = RNG.standard_normal(E.shape)
    f = kv.sum(E * w)
    G = kv.evaluate(kv.grad(f, X), {"X": x})
    assert G.shape == shape
    np.testing.assert_allclose(np.vdot(G, h), np.vdot(w, L.jvp(h)), rtol=1e-10)
    Hm = kv.hessian(f, X).at({"X": x})
    dottest(Hm, RNG)
    np.testing.assert_allclose(Hm.jvp(h), fd_jvp(kv.grad(f, X), X, {"X": x}, h), rtol=1e-5, atol=1e-7)


# I. Generated code naming the inverses of a stack after code that is not a name (the factored
#    stack was a transposed view, 'ŧ7.swapaxes(-1, -2)', and its inverses were named
#    'ŧ7.swapaxes(-1, -2)_inv': a SyntaxError)


@pytest.mark.parametrize("shape", [(3, 1, 1), (2, 2, 2), (2, 1, 3, 3)])
def test_i_lambdify_of_the_jacobian_of_slogdet_of_a_stack_scaled_by_a_scalar_of_itself(shape):
    X = kv.Matrix("X", shape)
    c = RNG.standard_normal(shape)
    _, logabs = kv.slogdet(0.38 * kv.sum(X * c) * X - 3 * kv.eye(shape[-1]))
    E = kv.sum(logabs) / 3
    J = kv.jacobian(E, X)
    x, h = 0.5 * RNG.standard_normal(shape), RNG.standard_normal(shape)
    np.testing.assert_allclose(kv.lambdify([X], J)(x, h), J.at({"X": x}).jvp(h), rtol=1e-10)
    np.testing.assert_allclose(J.at({"X": x}).jvp(h), fd_jvp(E, X, {"X": x}, h), rtol=1e-6)
