"""kv.norm of every order np.linalg.norm takes, and kv.slogdet: values and shapes against NumPy,
derivatives against finite differences (first and second order), the adjoint dot test, and the
documented choices at kinks (ties split evenly, a zero argument has gradient 0, never NaN)."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import kronvec as kv
from kronvec.testing import check_jacobian, dottest, fd_jacobian

INF = np.inf
MATRIX_ORDS = [None, "fro", "nuc", 2, -2, 1, -1, INF, -INF]
VECTOR_ORDS = [None, 2, 1, 0, INF, -INF, 3, 0.5, -1.5]


@pytest.fixture(autouse=True)
def _no_floating_point_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


def _numpy_shape(a: np.ndarray, ord, axis, keepdims) -> tuple:
    """NumPy's shape, except that a matrix keeps an axis reduced alone (the (n, 1) convention)."""
    if a.ndim == 2 and isinstance(axis, int):
        return np.linalg.norm(a, ord, axis, True).shape
    return np.shape(np.linalg.norm(a, ord, axis, keepdims))


def _value_cases():
    for shape in [(3, 4), (1, 1), (1, 3), (3, 1), (2, 3, 4), (2, 2, 3, 3), (2, 1, 1)]:
        nd = len(shape)
        pairs = [(0, 1), (1, 0), (-2, -1), (-1, -2)] + ([(0, 2), (2, 1)] if nd > 2 else [])
        for keep in (False, True):
            for ord_ in MATRIX_ORDS:
                for axis in pairs + ([None] if nd == 2 else []):
                    yield shape, ord_, axis, keep
            for ord_ in VECTOR_ORDS:
                for axis in range(-nd, nd):
                    yield shape, ord_, axis, keep


@pytest.mark.parametrize("shape, ord_, axis, keep", list(_value_cases()))
def test_values_and_shapes_match_numpy(shape, ord_, axis, keep):
    rng = np.random.default_rng(sum(shape))
    A = rng.standard_normal(shape)
    e = kv.norm(kv.Matrix("X", shape), ord_, axis, keep)
    want = _numpy_shape(A, ord_, axis, keep)
    got = kv.evaluate(e, {"X": A})
    assert e.shape == want and np.shape(got) == want
    np.testing.assert_allclose(got, np.reshape(np.linalg.norm(A, ord_, axis, keep), want), rtol=1e-12)


@pytest.mark.parametrize("ord_", VECTOR_ORDS)
@pytest.mark.parametrize("keep", [False, True])
def test_vector_norms_of_per_member_scalars(ord_, keep):
    S = kv.Matrix("S", (4, 3, 3))
    V = np.random.default_rng(1).standard_normal((4, 3, 3)) + 3 * np.eye(3)
    e = kv.norm(kv.logdet(S), ord_, keepdims=keep)
    ref = np.linalg.norm(np.linalg.slogdet(V)[1], ord_, keepdims=keep)
    assert e.shape == np.shape(ref)
    np.testing.assert_allclose(kv.evaluate(e, {"S": V}), ref, rtol=1e-12)


def test_invalid_orders_raise_as_numpy():
    X, S = kv.Matrix("X", (3, 4)), kv.Matrix("S", (2, 3, 4))
    with pytest.raises(ValueError, match="matrices"):
        kv.norm(X, 3)
    with pytest.raises(ValueError, match="nuc"):
        kv.norm(X, "nuc", axis=0)
    with pytest.raises(ValueError, match="dimensions"):
        kv.norm(S, 1)
    for ord_ in ("fro", "nuc", 2):  # an order with axis=None needs one or two axes, as in NumPy
        with pytest.raises(ValueError, match="dimensions"):
            kv.norm(S, ord_)
    assert kv.norm(S).shape == ()


# ------------------------------------------------------------ derivatives
def _derivative_cases():
    for shape in [(3, 4), (1, 1), (1, 3), (3, 1), (4, 3)]:
        for ord_ in [-2, 1, -1, INF, -INF]:
            yield shape, ord_, None, False
        for ord_ in [3, 0.5, -1.5, 1, INF, -INF, 0]:
            yield shape, ord_, 0, False
            yield shape, ord_, -1, False
    for ord_ in [-2, 1, -1, INF, -INF, "nuc", 2, "fro"]:
        yield (2, 3, 4), ord_, (-2, -1), False
        yield (2, 3, 4), ord_, (2, 0), True
    for ord_ in [3, 0.5, -1.5, INF, 0, 2]:
        yield (2, 3, 4), ord_, 1, True
        yield (2, 3, 4), ord_, -1, False


@pytest.mark.parametrize("shape, ord_, axis, keep", list(_derivative_cases()))
def test_jvp_and_vjp_match_finite_differences(shape, ord_, axis, keep):
    """Generic points (no ties, no zeros): the Jacobian against central differences, the dot
    test, and the gradient of ⟨W, ‖X‖⟩ against differences of the scalar."""
    rng = np.random.default_rng(len(shape) + 7)
    X = kv.Matrix("X", shape)
    e = kv.norm(X, ord_, axis, keep)
    values = {"X": rng.uniform(0.5, 2.0, shape) * rng.choice([-1.0, 1.0], shape)}
    check_jacobian(e, X, values, rtol=1e-5, atol=1e-6)
    W = rng.standard_normal(e.shape)
    scalar = kv.sum(kv.Constant(W) * e) if e.shape != () else e
    G = kv.evaluate(kv.grad(scalar, X), values)
    fd = fd_jacobian(scalar, X, values).reshape(shape, order="F")
    np.testing.assert_allclose(G, fd, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("ord_, axis", [(-2, None), (3, 0), (0.5, 1), (-1.5, 0), (3, -1)])
def test_second_derivatives_match_finite_differences_of_the_gradient(ord_, axis):
    rng = np.random.default_rng(5)
    X = kv.Matrix("X", (3, 4))
    e = kv.norm(X, ord_, axis)
    f = e if e.shape == () else kv.sum(e * e)
    values = {"X": rng.uniform(0.5, 2.0, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4))}
    H = kv.hessian(f, X).at(values)
    np.testing.assert_allclose(H.to_dense(), fd_jacobian(kv.grad(f, X), X, values), rtol=1e-5, atol=1e-6)
    dottest(H)


# ------------------------------------------------- kinks: ties and zeros
@pytest.mark.parametrize("ord_, axis", [(o, None) for o in MATRIX_ORDS if o not in (None, "fro", "nuc", 2)] +
                         [(o, 0) for o in VECTOR_ORDS if o not in (None, 2)])
def test_gradient_at_a_zero_argument_is_zero(ord_, axis):
    X = kv.Matrix("X", (3, 2))
    e = kv.norm(X, ord_, axis)
    f = e if e.shape == () else kv.sum(e)
    G = kv.evaluate(kv.grad(f, X), {"X": np.zeros((3, 2))})
    np.testing.assert_array_equal(G, np.zeros((3, 2)))


def test_ties_split_evenly():
    X = kv.Matrix("X", (2, 2))
    A = np.array([[1.0, -2.0], [2.0, 1.0]])  # column sums 3, 3; row sums 3, 3
    G1 = kv.evaluate(kv.grad(kv.norm(X, 1), X), {"X": A})
    np.testing.assert_allclose(G1, np.sign(A) / 2)
    Ginf = kv.evaluate(kv.grad(kv.norm(X, INF), X), {"X": A})
    np.testing.assert_allclose(Ginf, np.sign(A) / 2)
    x = kv.Matrix("x", (3, 1))
    Gv = kv.evaluate(kv.grad(kv.norm(x, INF, axis=0), x), {"x": np.array([[2.0], [-2.0], [1.0]])})
    np.testing.assert_allclose(Gv, [[0.5], [-0.5], [0.0]])


def test_smallest_singular_value_ties_split_evenly_and_zero_gives_zero():
    X = kv.Matrix("X", (3, 3))
    Q = np.linalg.qr(np.random.default_rng(2).standard_normal((3, 3)))[0]
    A = Q @ np.diag([4.0, 1.0, 1.0])
    G = kv.evaluate(kv.grad(kv.norm(X, -2), X), {"X": A})
    P = Q[:, 1:] @ np.eye(3)[1:]  # u_g v_gᵀ summed over the tied group (V = I)
    np.testing.assert_allclose(G, P / 2, atol=1e-12)
    G0 = kv.evaluate(kv.grad(kv.norm(X, -2), X), {"X": np.diag([3.0, 1.0, 0.0])})
    np.testing.assert_array_equal(G0, np.zeros((3, 3)))


def test_count_of_nonzeros_has_derivative_zero():
    X = kv.Matrix("X", (3, 2))
    A = np.array([[1.0, 0.0], [-2.0, 3.0], [0.0, 0.0]])
    e = kv.norm(X, 0, axis=0)
    np.testing.assert_allclose(kv.evaluate(e, {"X": A}), [[2.0, 1.0]])
    np.testing.assert_array_equal(kv.jacobian(e, X).at(X=A).to_dense(), np.zeros((2, 6)))


def test_p_norm_with_zero_entries_is_finite():
    x = kv.Matrix("x", (4, 1))
    x0 = np.array([[0.0], [1.0], [-2.0], [0.0]])
    for p in (0.5, 3.0, -1.5):
        G = kv.evaluate(kv.grad(kv.norm(x, p, axis=0), x), {"x": x0})
        assert np.all(np.isfinite(G)) and G[0, 0] == 0.0 and G[3, 0] == 0.0


def test_printing_and_generated_code():
    X = kv.Matrix("X", (3, 4))
    assert str(kv.norm(X, -2)) == "‖X‖₋₂"
    assert str(kv.norm(X, 3, axis=0)).endswith("‖_3")
    assert kv.norm(X, -2).latex() == r"\left\|X\right\|_{-2}"
    A = np.random.default_rng(3).standard_normal((3, 4))
    for ord_, axis in [(-2, None), (3, 0), (-1.5, 1), (1, None), (INF, 0)]:
        e = kv.norm(X, ord_, axis)
        fn = kv.lambdify([X], e)
        np.testing.assert_allclose(fn(A), kv.evaluate(e, {"X": A}), rtol=1e-12)
        g = kv.grad(kv.sum(e), X)
        np.testing.assert_allclose(kv.lambdify([X], g)(A), kv.evaluate(g, {"X": A}), rtol=1e-12)


# -------------------------------------------------------------- slogdet
@pytest.mark.parametrize("shape", [(3, 3), (1, 1), (2, 3, 3), (4, 1, 1)])
def test_slogdet_values_and_shapes_match_numpy(shape):
    X = kv.Matrix("X", shape)
    A = np.random.default_rng(4).standard_normal(shape)
    sign, logabs = kv.slogdet(X)
    ref = np.linalg.slogdet(A)
    assert sign.shape == logabs.shape == np.shape(ref[0])
    np.testing.assert_array_equal(kv.evaluate(sign, {"X": A}), ref[0])
    np.testing.assert_allclose(kv.evaluate(logabs, {"X": A}), ref[1], rtol=1e-12)


def test_slogdet_of_a_singular_matrix_is_zero_and_minus_infinity():
    X = kv.Matrix("X", (3, 3))
    sign, logabs = kv.slogdet(X)
    assert kv.evaluate(sign, {"X": np.ones((3, 3))}) == 0.0
    assert kv.evaluate(logabs, {"X": np.ones((3, 3))}) == -INF
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        kv.evaluate(kv.grad(logabs, X), {"X": np.ones((3, 3))})


@pytest.mark.parametrize("shape", [(3, 3), (1, 1), (2, 3, 3)])
def test_slogdet_derivatives(shape):
    """d log|det A| = tr(A⁻¹ dA), for a negative determinant too; the sign's derivative is 0."""
    X = kv.Matrix("X", shape)
    A = np.random.default_rng(6).standard_normal(shape) + 2 * np.eye(shape[-1])
    A[..., 0, :] *= -1  # det < 0
    sign, logabs = kv.slogdet(X)
    check_jacobian(logabs, X, {"X": A})
    np.testing.assert_array_equal(kv.jacobian(sign, X).at(X=A).to_dense(), 0.0)
    f = logabs if logabs.shape == () else kv.sum(logabs * logabs)
    H = kv.hessian(f, X).at(X=A)
    np.testing.assert_allclose(H.to_dense(), fd_jacobian(kv.grad(f, X), X, {"X": A}), rtol=1e-5, atol=1e-6)
    assert str(sign) == "sign det(X)"
    if len(shape) == 2:
        np.testing.assert_array_equal(kv.lambdify([X], sign)(A), np.linalg.slogdet(A)[0])


@pytest.mark.parametrize("shape", [(3, 3), (1, 1), (2, 3, 3), (2, 1, 2, 2)])
def test_the_derivative_of_logabsdet_at_a_singular_matrix_is_a_degenerate_error_naming_slogdet(shape):
    X = kv.Matrix("X", shape)
    singular = np.ones(shape)  # every member of rank 1 (and 1×1: [1] is regular, so zero it)
    if shape[-1] == 1:
        singular = np.zeros(shape)
    logabs = kv.slogdet(X)[1]
    with pytest.raises(kv.DegenerateError, match=r"slogdet: log\|det X\| .*no derivative at a singular X"):
        kv.jacobian(kv.sum(logabs), X).at(X=singular)
    regular = np.eye(shape[-1]) + np.zeros(shape)
    kv.jacobian(kv.sum(logabs), X).at(X=regular)  # (the check costs nothing where A is regular)


@pytest.mark.parametrize("shape", [(1, 1), (2, 2, 3, 3), (3, 1, 1)])
def test_hessians_of_det_exist_at_singular_matrices(shape):
    X = kv.Matrix("X", shape)
    rng = np.random.default_rng(7)
    u = rng.standard_normal(shape[:-1] + (1,))
    singular = u * np.swapaxes(u, -1, -2) if shape[-1] > 1 else np.zeros(shape)  # rank 1 (or 0)
    f = kv.sum(kv.det(X) ** 2) + kv.sum(kv.det(X))
    H = kv.hessian(f, X).at(X=singular)
    fd2 = fd_jacobian(kv.grad(f, X), X, {"X": singular})
    np.testing.assert_allclose(H.to_dense(), fd2, atol=1e-7 * max(1.0, np.abs(fd2).max()))
    dottest(H)
