"""Trust at the edges of the math (issue 17, findings 7, 12 to 15).

* logm of a singular matrix raises, naming logm (and the member of a stack);
* stacked solves with an all-zero right-hand column are not "singular";
* the nuclear norm's Hessian at repeated nonzero singular values;
* det at singular matrices: derivatives of a polynomial never raise;
* kinks and ties: maximum(A, c), sigmoid's tails, norms at zero, norm(A, 2) at a
  repeated top singular value, pinv where the rank changes.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.linalg as sla
from scipy.special import expit

import kronvec as kv
from kronvec.testing import dottest, fd_jacobian


def _quiet(fn):
    """Call fn with SciPy's warnings about singular logm inputs silenced."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn()


# ------------------------------------------------------------- finding 7: logm
SINGULAR = [[[1.0, 2.0], [0.0, 0.0]], [[0.0, 1.0], [0.0, 0.0]], [[0.1, 0.3], [0.2, 0.6]]]


@pytest.mark.parametrize("value", SINGULAR)
def test_logm_of_a_singular_non_symmetric_matrix_raises(value):
    A = kv.Matrix("A", (2, 2))
    with pytest.raises(ValueError, match=r"logm: .*singular"):
        _quiet(lambda: kv.evaluate(kv.logm(A), A=np.array(value)))
    with pytest.raises(ValueError, match=r"logm: .*singular"):
        _quiet(lambda: kv.jacobian(kv.logm(A), A).at(A=np.array(value)).jvp(np.eye(2)))


def test_logm_of_a_singular_symmetric_matrix_and_stack_member_raises():
    A = kv.Matrix("A", (2, 2), symmetric=True)
    with pytest.raises(ValueError, match=r"logm: .*singular"):
        kv.evaluate(kv.logm(A), A=np.array([[0.1, 0.2], [0.2, 0.4]]))
    B = kv.Matrix("B", (3, 2, 2), symmetric=True)
    stack = np.stack([np.eye(2), 2 * np.eye(2), np.ones((2, 2))])
    with pytest.raises(ValueError, match=r"logm: .*member 2 .*singular"):
        kv.evaluate(kv.logm(B), B=stack)
    stack[1] = -np.eye(2)
    with pytest.raises(ValueError, match=r"logm: .*member 1 .*not positive definite"):
        kv.evaluate(kv.logm(B), B=stack)


def test_logm_of_regular_matrices_is_unchanged():
    A = kv.Matrix("A", (2, 2))
    for value in ([[1e20, 2.0], [0.0, 1e20]], [[1.0, 2.0], [0.0, 1e-14]], [[2.0, 1.0], [-0.5, 3.0]]):
        a = np.array(value)
        out = kv.evaluate(kv.logm(A), A=a)
        np.testing.assert_allclose(out, np.real(sla.logm(a)), rtol=1e-12)


# ---------------------------------------------- finding 12: false "singular" on stacks
def _stack_solve_values(rng: np.random.Generator, zero_columns: tuple[int, ...]) -> dict[str, np.ndarray]:
    a = rng.standard_normal((3, 3, 3)) + 4 * np.eye(3)
    b = rng.standard_normal((3, 3, 2))
    b[..., list(zero_columns)] = 0.0
    return {"A": a, "B": b}


@pytest.mark.parametrize("zero_columns", [(1,), (0, 1)])
def test_stacked_solve_with_a_zero_right_hand_column_is_not_singular(zero_columns):
    A, B = kv.Matrix("A", (3, 3, 3)), kv.Matrix("B", (3, 3, 2))
    values = _stack_solve_values(np.random.default_rng(3), zero_columns)
    out = kv.evaluate(kv.solve(A, B), values)
    np.testing.assert_allclose(out, np.linalg.solve(values["A"], values["B"]), rtol=1e-12, atol=1e-14)
    out = kv.evaluate(kv.inv(A) @ B, values)
    np.testing.assert_allclose(out, np.linalg.solve(values["A"], values["B"]), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("reduce", [kv.max, kv.min])
def test_gradients_of_max_and_min_through_a_stacked_solve_with_a_zero_column(reduce):
    A, B = kv.Matrix("A", (3, 3, 3)), kv.Matrix("B", (3, 3, 2))
    values = _stack_solve_values(np.random.default_rng(4), (1,))
    values["B"][..., 0] += 0.1 * np.arange(9.0).reshape(3, 3)  # one extremum, away from the zero column
    f = reduce(kv.solve(A, B))
    for sym in (A, B):
        L = kv.jacobian(f, sym).at(values)
        np.testing.assert_allclose(L.to_dense(), fd_jacobian(f, sym, values), rtol=1e-6, atol=1e-8)
        dottest(L)
        grad = kv.evaluate(kv.grad(f, sym), values)
        assert grad.shape == sym.shape
        np.testing.assert_allclose(grad.reshape(-1, order="F"), L.to_dense().ravel(), rtol=1e-10, atol=1e-12)


def test_a_singular_member_still_raises_and_is_named():
    A, B = kv.Matrix("A", (3, 3, 3)), kv.Matrix("B", (3, 3, 2))
    values = _stack_solve_values(np.random.default_rng(5), (1,))
    values["A"][2] = np.outer([1.0, 2.0, 3.0], [1.0, -1.0, 0.5])
    with pytest.raises(np.linalg.LinAlgError, match=r"singular .*member 2"):
        kv.evaluate(kv.solve(A, B), values)


# --------------------------------------------- finding 15: kinks, ties and tails
@pytest.mark.parametrize("c", [0, 0.0, 1.0, -2])
def test_maximum_and_minimum_with_a_number_split_ties_evenly(c):
    A = kv.Matrix("A", (2, 3))
    a = np.array([[c, c + 1.0, c - 1.0], [c, c - 0.5, c]], dtype=float)
    for fn, above in ((kv.maximum, 1.0), (kv.minimum, 0.0)):
        expected = np.where(a == c, 0.5, np.where(a > c, above, 1.0 - above))
        for f in (fn(A, c), fn(c, A)):
            np.testing.assert_array_equal(kv.jacobian(f, A).at(A=a).to_dense().diagonal(),
                                          expected.reshape(-1, order="F"))
            np.testing.assert_array_equal(kv.evaluate(kv.grad(kv.sum(f), A), A=a), expected)
            np.testing.assert_array_equal(kv.evaluate(f, A=a), np.maximum(a, c) if fn is kv.maximum
                                          else np.minimum(a, c))
    assert str(kv.relu(A)) == "relu(A)"  # relu keeps its own documented 0 at 0
    np.testing.assert_array_equal(kv.evaluate(kv.grad(kv.sum(kv.relu(A)), A), A=np.zeros((2, 3))), 0.0)


def test_maximum_ties_on_stacks_and_1x1():
    for shape in ((1, 1), (2, 1, 1), (2, 2, 3)):
        X = kv.Matrix("X", shape)
        L = kv.jacobian(kv.maximum(X, 0.0), X).at(X=np.zeros(shape))
        np.testing.assert_array_equal(L.to_dense(), 0.5 * np.eye(int(np.prod(shape))))


SIGMOID_POINTS = np.array([[-800.0], [-40.0], [-1.0], [0.0], [3.0], [40.0], [700.0], [800.0]])


def test_the_derivative_of_sigmoid_keeps_relative_precision_in_the_tails():
    x = kv.Matrix("x", (8, 1))
    slope = expit(SIGMOID_POINTS) * expit(-SIGMOID_POINTS)  # σ(x)σ(−x), exact to rounding
    f = kv.sum(kv.sigmoid(x))
    jac = kv.jacobian(kv.sigmoid(x), x).at(x=SIGMOID_POINTS).to_dense().diagonal()
    grad = kv.evaluate(kv.grad(f, x), x=SIGMOID_POINTS)
    code = kv.lambdify([x], kv.grad(f, x))(SIGMOID_POINTS)
    for got in (jac, grad.ravel(), np.asarray(code).ravel()):
        np.testing.assert_allclose(got, slope.ravel(), rtol=1e-13, atol=0)
    assert str(kv.grad(f, x)) == "σ(x) ⊙ σ(-x)"
    # σ'' = σ'(x)(σ(−x) − σ(x)): finite, of the right sign and size in the tails
    hess = kv.hessian(f, x).at(x=SIGMOID_POINTS).to_dense().diagonal()
    np.testing.assert_allclose(hess, (slope * (expit(-SIGMOID_POINTS) - expit(SIGMOID_POINTS))).ravel(),
                               rtol=1e-12, atol=0)


# ------------------------------- findings 13 and 15: the nuclear and spectral norms
def _with_singular_values(shape: tuple[int, int], s: list[float], seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    u, _ = np.linalg.qr(rng.standard_normal((shape[0], len(s))))
    v, _ = np.linalg.qr(rng.standard_normal((shape[1], len(s))))
    return (u * s) @ v.T


@pytest.mark.parametrize("shape", [(3, 3), (4, 3), (3, 5), (1, 1), (1, 3)])
@pytest.mark.parametrize("ord_", ["nuc", 2])
def test_norm_gradients_at_a_zero_matrix_are_zero(shape, ord_):
    A = kv.Matrix("A", shape)
    f = kv.norm(A, ord_)
    np.testing.assert_array_equal(kv.evaluate(kv.grad(f, A), A=np.zeros(shape)), np.zeros(shape))
    dense = kv.jacobian(f, A).at(A=np.zeros(shape)).to_dense()
    np.testing.assert_array_equal(dense, np.zeros((1, np.prod(shape))))


def test_spectral_norm_gradient_at_a_tie_is_the_average():
    A = kv.Matrix("A", (4, 3))
    a = _with_singular_values((4, 3), [2.0, 2.0, 0.5], 1)
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    expected = (u[:, :2] @ vt[:2]) / 2
    np.testing.assert_allclose(kv.evaluate(kv.grad(kv.norm(A, 2), A), A=a), expected, atol=1e-12)
    np.testing.assert_allclose(kv.evaluate(kv.grad(kv.norm(A, 2), A), A=2 * np.eye(4, 3)),
                               np.eye(4, 3) / 3, atol=1e-15)
    # away from ties: u₁v₁ᵀ, and the Hessian still by the SVD's rules
    b = _with_singular_values((4, 3), [3.0, 2.0, 0.5], 2)
    u, s, vt = np.linalg.svd(b, full_matrices=False)
    top = np.outer(u[:, 0], vt[0])
    np.testing.assert_allclose(kv.evaluate(kv.grad(kv.norm(A, 2), A), A=b), top, atol=1e-12)
    H = kv.hessian(kv.norm(A, 2), A).at(A=b)
    np.testing.assert_allclose(H.to_dense(), fd_jacobian(kv.grad(kv.norm(A, 2), A), A, {"A": b}), atol=1e-6)


def test_nuclear_norm_gradient_at_lower_rank_is_the_minimum_norm_subgradient():
    A = kv.Matrix("A", (4, 3))
    a = _with_singular_values((4, 3), [2.0, 1.0], 3)  # rank 2
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    np.testing.assert_allclose(kv.evaluate(kv.grad(kv.norm(A, "nuc"), A), A=a), u[:, :2] @ vt[:2], atol=1e-12)


@pytest.mark.parametrize("shape,s", [((3, 3), [2.0, 2.0, 1.0]), ((4, 3), [1.5, 1.5, 1.5]),
                                     ((3, 5), [3.0, 1.0, 1.0]), ((3, 3), [1.0, 2.0, 3.0]), ((1, 1), [2.0]),
                                     ((1, 4), [1.3])])
def test_nuclear_norm_hessian_at_repeated_singular_values(shape, s):
    A = kv.Matrix("A", shape)
    a = _with_singular_values(shape, s, 4) * (1 if shape[0] > 1 else -1)
    f = kv.norm(A, "nuc")
    H = kv.hessian(f, A).at(A=a)
    dottest(H)
    fd = fd_jacobian(kv.grad(f, A), A, {"A": a})
    np.testing.assert_allclose(H.to_dense(), fd, atol=1e-7)
    np.testing.assert_allclose(H.to_dense(), H.to_dense().T, atol=1e-12)  # a Hessian is symmetric


def test_nuclear_norm_hessian_on_a_stack_with_ties():
    S = kv.Matrix("S", (2, 3, 3))
    s = np.stack([_with_singular_values((3, 3), [1.0, 1.0, 1.0], 5),
                  _with_singular_values((3, 3), [2.0, 2.0, 1.0], 6)])
    f = kv.sum(kv.norm(S, "nuc", axis=(-2, -1)))
    H = kv.hessian(f, S).at(S=s)
    dottest(H)
    np.testing.assert_allclose(H.to_dense(), fd_jacobian(kv.grad(f, S), S, {"S": s}), atol=1e-7)


def test_nuclear_norm_hessian_where_the_rank_changes_raises():
    A = kv.Matrix("A", (4, 3))
    with pytest.raises(kv.DegenerateError, match="nuclear norm.*rank"):
        kv.hessian(kv.norm(A, "nuc"), A).at(A=_with_singular_values((4, 3), [2.0, 1.0], 7)).to_dense()


# --------------------------------------------- finding 15: pinv where the rank changes
@pytest.mark.parametrize("shape,s", [((2, 2), [5.0, 0.0]), ((4, 3), [2.0, 1.0]), ((3, 5), [1.0, 1e-17]),
                                     ((1, 3), [0.0]), ((3, 1), [0.0])])
def test_pinv_jacobian_where_the_rank_changes_raises(shape, s):
    A = kv.Matrix("A", shape)
    a = _with_singular_values(shape, s, 8) if any(s) else np.zeros(shape)
    np.testing.assert_allclose(kv.evaluate(kv.pinv(A), A=a), np.linalg.pinv(a), atol=1e-12)  # the value
    with pytest.raises(kv.DegenerateError, match=r"pinv: .*rank"):
        kv.jacobian(kv.pinv(A), A).at(A=a).to_dense()
    with pytest.raises(kv.DegenerateError, match=r"pinv: .*rank"):
        kv.evaluate(kv.grad(kv.sum(kv.pinv(A)), A), A=a)


def test_pinv_jacobian_of_a_stack_names_the_member():
    S = kv.Matrix("S", (3, 4, 2))
    s = np.random.default_rng(9).standard_normal((3, 4, 2))
    s[2, :, 1] = 2 * s[2, :, 0]
    with pytest.raises(kv.DegenerateError, match=r"pinv: .*member \(2,\)"):
        kv.jacobian(kv.pinv(S), S).at(S=s).jvp(np.ones((3, 4, 2)))


@pytest.mark.parametrize("shape", [(1, 1), (1, 3), (3, 1), (4, 3), (3, 5), (2, 3, 2)])
def test_pinv_jacobian_at_full_rank_is_unchanged(shape):
    A = kv.Matrix("A", shape)
    a = np.random.default_rng(10).standard_normal(shape)
    L = kv.jacobian(kv.pinv(A), A).at(A=a)
    np.testing.assert_allclose(L.to_dense(), fd_jacobian(kv.pinv(A), A, {"A": a}), rtol=1e-6, atol=1e-7)
    dottest(L)


# ------------------------------- finding 15: norms at a zero argument have gradient 0
NORMS_AT_ZERO = {  # shape, the scalar, the axes each norm runs over
    "fro (3, 2)": ((3, 2), lambda A: kv.norm(A), (0, 1)),
    "fro (1, 1)": ((1, 1), lambda A: kv.norm(A, "fro"), (0, 1)),
    "fro (1, 3)": ((1, 3), lambda A: kv.norm(A), (0, 1)),
    "columns": ((3, 2), lambda A: kv.sum(kv.norm(A, axis=0)), (0,)),
    "rows": ((3, 2), lambda A: kv.sum(kv.norm(A, axis=1)), (1,)),
    "stack": ((2, 3, 2), lambda A: kv.norm(A), (0, 1, 2)),
    "stack columns": ((2, 3, 2), lambda A: kv.sum(kv.norm(A, axis=1)), (1,)),
    "stack members": ((2, 3, 2), lambda A: kv.sum(kv.norm(A, axis=(-2, -1))), (1, 2)),
    "stack of 1x1": ((3, 1, 1), lambda A: kv.sum(kv.norm(A, axis=(-2, -1))), (1, 2)),
}


@pytest.mark.parametrize("name", sorted(NORMS_AT_ZERO))
def test_norm_gradients_at_zero_and_at_zero_slices(name):
    shape, build, axes = NORMS_AT_ZERO[name]
    A = kv.Matrix("A", shape)
    f = build(A)
    a = np.random.default_rng(11).standard_normal(shape)
    a[..., 0] = 0.0
    if len(shape) == 3:
        a[1] = 0.0  # a zero member as well
    for value in (np.zeros(shape), a):
        with np.errstate(all="raise"):
            g = kv.evaluate(kv.grad(f, A), A=value)
            dense = kv.jacobian(f, A).at(A=value).to_dense()
        norms = np.sqrt((value * value).sum(axis=axes, keepdims=True))
        expected = np.divide(value, norms, out=np.zeros(shape), where=norms > 0)  # 0 on zero slices
        assert g.size == expected.size  # (the shape of a 1×1 gradient is finding 4's: not checked here)
        np.testing.assert_allclose(np.reshape(g, shape), expected, rtol=1e-13, atol=0)
        np.testing.assert_allclose(dense.reshape(shape, order="F"), expected, rtol=1e-13, atol=0)


@pytest.mark.parametrize("name", ["fro (3, 2)", "columns", "stack members"])
def test_norm_hessians_at_a_zero_slice_raise_and_elsewhere_match_differences(name):
    shape, build, _ = NORMS_AT_ZERO[name]
    A = kv.Matrix("A", shape)
    f = build(A)
    a = np.random.default_rng(12).standard_normal(shape)
    H = kv.hessian(f, A).at(A=a)
    np.testing.assert_allclose(H.to_dense(), fd_jacobian(kv.grad(f, A), A, {"A": a}), atol=1e-7)
    a[..., 0] = 0.0
    a[0] = 0.0 if len(shape) == 3 else a[0]
    a = 0.0 * a if name.startswith("fro") else a  # a zero matrix, column, member
    with pytest.raises(kv.DegenerateError, match="norm: no second derivative at a zero"):
        kv.hessian(f, A).at(A=a).to_dense()
