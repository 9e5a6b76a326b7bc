"""Issue 17's findings about numbers and shapes, each reproduced exactly as reported.

One small test per numbered finding (1, 2, 3, 4, 10, 11, 12, 13, 14, 15), each of
which failed before its fix. A test marked ``xfail(strict=True)`` reproduces a
finding that is not fixed yet: once the fix lands it passes, the strict marker
turns that into a failure, and the marker must go.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla

import kronvec as kv
from kronvec.testing import fd_jacobian, fd_jvp


def _cofactor(A: np.ndarray) -> np.ndarray:
    """adj(A)ᵀ from the minors, defined at singular A too (the gradient of det)."""
    n = A.shape[0]
    out = np.empty_like(A)
    for i in range(n):
        for j in range(n):
            minor = np.delete(np.delete(A, i, axis=0), j, axis=1)
            out[i, j] = (-1) ** (i + j) * (np.linalg.det(minor) if minor.size else 1.0)
    return out


# 1. softmax over a stack axis, then a per-member op

X1 = np.array([[[.3, -1.2], [.8, .1]], [[-.5, .7], [1.1, -.4]]])
H1 = np.array([[[1, .5], [-.3, .2]], [[.4, -1], [.6, .9]]])


@pytest.mark.parametrize("axis", [0, None, (0, 1)])
@pytest.mark.parametrize("fname", ["softmax", "log_softmax"])
@pytest.mark.parametrize("member", ["det", "det2", "tr2"])
def test_finding_1_softmax_over_a_stack_axis_then_a_per_member_op(axis, fname, member):
    X = kv.Matrix("X", (2, 2, 2))
    S = getattr(kv, fname)(X, axis=axis)
    per_member = {"det": kv.det(S), "det2": kv.det(S) ** 2,
                  "tr2": kv.trace(S, axis1=-2, axis2=-1) ** 2}[member]
    f = kv.sum(per_member)
    jvp = kv.jacobian(f, X).at(X=X1).jvp(H1)
    np.testing.assert_allclose(jvp, fd_jvp(f, X, {"X": X1}, H1), rtol=1e-6, atol=1e-8)


# 2. stack axes dropped when terms cancel

def test_finding_2_cancelled_terms_keep_the_stack_axes():
    X, C, s = kv.Matrix("X", (2, 3, 3)), kv.Matrix("C", (3, 3)), kv.Scalar("s")
    rng = np.random.default_rng(0)
    X0, C0 = rng.standard_normal((2, 3, 3)), rng.standard_normal((3, 3))
    assert (X - X + C).shape == (2, 3, 3)
    np.testing.assert_allclose(kv.evaluate(kv.sum(X - X + C), X=X0, C=C0), np.sum(X0 - X0 + C0))
    assert (kv.zeros(2, 3, 3) + np.eye(3)).shape == (2, 3, 3)
    assert (X - X + s).shape == (2, 3, 3)


# 3. 1-D constants against per-member results

def test_finding_3_a_1d_constant_times_a_per_member_result_is_numpy_shaped():
    B = kv.Matrix("B", (3, 2, 2))
    w = np.array([1., 2., 3.])
    B0 = np.random.default_rng(1).standard_normal((3, 2, 2)) + 3 * np.eye(2)
    assert (w * kv.logdet(B)).shape == (3,)
    np.testing.assert_allclose(kv.evaluate(kv.sum(w * kv.logdet(B)), B=B0),
                               np.sum(w * np.linalg.slogdet(B0)[1]))


# 4. 1×1 shapes

def test_finding_4_gradient_of_det_of_a_1x1_matrix_is_1x1():
    x = kv.Matrix("x", (1, 1))
    assert np.shape(kv.evaluate(kv.grad(kv.det(x), x), x=np.array([[2.]]))) == (1, 1)


def test_finding_4_sum_of_a_1x1_times_a_matrix_evaluates_to_its_shape():
    x, Z = kv.Matrix("x", (3, 1)), kv.Matrix("Z", (2, 3))
    e = kv.sum((x.T @ x) * Z)
    value = kv.evaluate(e, x=np.ones((3, 1)), Z=np.ones((2, 3)))
    assert np.shape(value) == e.shape == np.shape(np.sum(np.ones((1, 1)) * np.ones((2, 3))))


def test_finding_4_gradient_for_a_stack_of_1x1_members_has_the_stack_shape():
    X = kv.Matrix("X", (3, 1, 1))
    f = kv.sum(kv.trace(X, axis1=-2, axis2=-1) ** 2)
    assert np.shape(kv.evaluate(kv.grad(f, X), X=np.array([2., 3., .5]).reshape(3, 1, 1))) == (3, 1, 1)


# 10. elementwise functions of per-member scalars

def test_finding_10_elementwise_function_of_per_member_determinants():
    X = kv.Matrix("X", (3, 2, 2))
    X0 = np.random.default_rng(2).standard_normal((3, 2, 2))
    f = kv.sum(kv.tanh(kv.det(X)))
    G = kv.evaluate(kv.grad(f, X), X=X0)
    np.testing.assert_allclose(G.reshape(-1, order="F"), fd_jacobian(f, X, {"X": X0}).ravel(), rtol=1e-6)


# 11. 1×1 and 1×n intermediates

_AFTER_A_1X1 = {
    "eigh": lambda M: kv.eigh(M)[0], "eigvalsh": kv.eigvalsh, "cholesky": kv.cholesky,
    "svd": lambda M: kv.svd(M, compute_uv=False), "sqrtm": kv.sqrtm, "expm": kv.expm,
    "logm": kv.logm, "kron": lambda M: kv.kron(M, M),
}


# after a 1×1 product x xᵀ the Hessians of the triangle-reading ops raise; after a 1×1 made
# from trace() even the gradients of all of them do
_REPORTED = ([("x xT", op) for op in ("cholesky", "eigh", "eigvalsh")]
             + [("trace", op) for op in sorted(_AFTER_A_1X1)])


@pytest.mark.parametrize("made_by, op", _REPORTED)
def test_finding_11_ops_after_a_1x1_intermediate_differentiate(op, made_by):
    x = kv.Matrix("x", (1, 3))
    M = x @ x.T + 1.0 if made_by == "x xT" else kv.trace(x.T @ x) * np.ones((1, 1)) + 1.0
    f = kv.sum(_AFTER_A_1X1[op](M) * _AFTER_A_1X1[op](M))
    values = {"x": np.array([[.3, -.7, .5]])}
    G = kv.evaluate(kv.grad(f, x), values)
    np.testing.assert_allclose(G.reshape(-1, order="F"), fd_jacobian(f, x, values).ravel(), rtol=1e-6)
    H = kv.hessian(f, x).at(values).to_dense()
    np.testing.assert_allclose(H, fd_jacobian(kv.grad(f, x), x, values), rtol=1e-5, atol=1e-7)


# 12. false "singular" on stacks

def test_finding_12_a_zero_column_on_the_right_is_not_singular():
    A, B = kv.Matrix("A", (2, 3, 3)), kv.Matrix("B", (2, 3, 2))
    rng = np.random.default_rng(0)
    A0, B0 = rng.standard_normal((2, 3, 3)) + 3 * np.eye(3), rng.standard_normal((2, 3, 2))
    B0[:, :, 1] = 0
    np.testing.assert_allclose(kv.evaluate(kv.solve(A, B), A=A0, B=B0), np.linalg.solve(A0, B0), atol=1e-12)


# 13. nuclear norm

def test_finding_13_nuclear_norm_hessian_at_a_repeated_singular_value():
    X = kv.Matrix("X", (3, 3))
    X0 = np.diag([2., 2., 1.])
    f = kv.norm(X, "nuc")
    H = kv.hessian(f, X).at(X=X0).to_dense()
    np.testing.assert_allclose(H, H.T, atol=1e-10)
    np.testing.assert_allclose(H, fd_jacobian(kv.grad(f, X), X, {"X": X0}), atol=1e-6)


# 14. det through a singular matrix

def test_finding_14_second_derivative_of_det_at_a_singular_matrix():
    X = kv.Matrix("X", (3, 3))
    X0 = np.diag([1., 1., 0.])
    H = kv.hessian(kv.det(X), X).at(X=X0).to_dense()
    step = 1e-6
    fd = np.column_stack([
        ((_cofactor(X0 + step * E) - _cofactor(X0 - step * E)) / (2 * step)).reshape(-1, order="F")
        for E in np.eye(9).reshape(9, 3, 3).transpose(0, 2, 1)])
    np.testing.assert_allclose(H, fd, atol=1e-8)


def test_finding_14_det_of_x_xT_at_a_rank_deficient_x():
    Y = kv.Matrix("Y", (3, 2))
    G = kv.evaluate(kv.grad(kv.det(Y @ Y.T), Y), Y=np.random.default_rng(0).standard_normal((3, 2)))
    np.testing.assert_allclose(G, 0, atol=1e-12)  # det(YYᵀ) ≡ 0 for Y 3×2


@pytest.mark.parametrize("at", [2.0, 0.0])
def test_finding_14_gradient_of_det_of_a_1x1_matrix(at):
    x = kv.Matrix("x", (1, 1))
    G = kv.evaluate(kv.grad(kv.det(x), x), x=np.array([[at]]))
    assert np.shape(G) == (1, 1)
    np.testing.assert_allclose(G, [[1.0]])


# 15. non-differentiable points get the documented choice

def test_finding_15_maximum_with_a_number_splits_a_tie_evenly():
    A = kv.Matrix("A", (2, 2))
    for f in (kv.maximum(A, 1.0), kv.maximum(1.0, A), kv.minimum(A, 1.0)):
        G = kv.evaluate(kv.grad(kv.sum(f), A), A=np.ones((2, 2)))
        np.testing.assert_array_equal(G, 0.5)


def test_finding_15_sigmoid_derivative_keeps_relative_precision_in_the_tails():
    A = kv.Matrix("A", (2, 2))
    x = np.array([[40., -40.], [30., 700.]])
    G = kv.evaluate(kv.grad(kv.sum(kv.sigmoid(A)), A), A=x)
    exact = np.exp(-np.abs(x)) / (1 + np.exp(-np.abs(x))) ** 2
    np.testing.assert_allclose(G, exact, rtol=1e-12)


def test_finding_15_gradient_of_a_norm_at_zero_is_zero():
    A = kv.Matrix("A", (2, 2))
    np.testing.assert_array_equal(kv.evaluate(kv.grad(kv.norm(A), A), A=np.zeros((2, 2))), 0)
    G = kv.evaluate(kv.grad(kv.sum(kv.norm(A, axis=0)), A), A=np.array([[0., 1.], [0., 2.]]))
    np.testing.assert_allclose(G, [[0, 1 / np.sqrt(5)], [0, 2 / np.sqrt(5)]])


def test_finding_15_spectral_norm_gradient_at_a_tie_is_the_average():
    A = kv.Matrix("A", (2, 2))
    np.testing.assert_allclose(kv.evaluate(kv.grad(kv.norm(A, 2), A), A=np.eye(2)), np.eye(2) / 2)


def test_finding_15_pinv_jacobian_where_the_rank_changes_raises():
    A = kv.Matrix("A", (2, 2))
    with pytest.raises(kv.DegenerateError, match="pinv"):
        kv.jacobian(kv.pinv(A), A).at(A=np.diag([1., 0.])).to_dense()


# Found by the differential fuzzer (tests/test_fuzz.py), beyond issue 17's list. Each is
# gated in the fuzzer by a family of NEW_FINDINGS / KNOWN_GAPS in tests/fuzz/programs.py.

def _found(what: str):
    return pytest.mark.xfail(strict=True, reason=f"found by the fuzzer: {what}")


def test_fuzz_finding_scalar_times_a_stack_with_two_stack_axes():
    X = kv.Matrix("X", (2, 2, 3, 3))
    rng = np.random.default_rng(0)
    X0, H = rng.standard_normal((2, 2, 3, 3)), rng.standard_normal((2, 2, 3, 3))
    f = kv.sum(X) * X
    L = kv.jacobian(f, X).at(X=X0)
    np.testing.assert_allclose(L.jvp(H), fd_jvp(f, X, {"X": X0}, H), atol=1e-6)
    assert L.vjp(H).shape == (2, 2, 3, 3)


@pytest.mark.parametrize("name", ["max", "logsumexp"])
def test_fuzz_finding_hessian_through_a_reduction_of_a_stack_with_two_stack_axes(name):
    X = kv.Matrix("X", (2, 2, 3, 3))
    rng = np.random.default_rng(0)
    X0, h1, h2 = (rng.standard_normal((2, 2, 3, 3)) for _ in range(3))
    m = getattr(kv, name)(X, axis=0)
    f = kv.sum(kv.sum(m) * m * rng.standard_normal(m.shape))
    H = kv.hessian(f, X).at(X=X0)
    np.testing.assert_allclose(np.vdot(H.jvp(h1), h2), np.vdot(h1, H.jvp(h2)), rtol=1e-9)
    g, step = kv.grad(f, X), 1e-6
    fd = (kv.evaluate(g, X=X0 + step * h1) - kv.evaluate(g, X=X0 - step * h1)) / (2 * step)
    np.testing.assert_allclose(H.jvp(h1), fd, atol=1e-6)


@pytest.mark.parametrize("member", ["det", "logdet", "nuc", "2"])
def test_fuzz_finding_per_member_scalars_of_a_stack_with_two_stack_axes(member):
    X = kv.Matrix("X", (2, 2, 3, 3))
    X0 = np.random.default_rng(0).standard_normal((2, 2, 3, 3)) + 3 * np.eye(3)
    f = kv.sum({"det": kv.det, "logdet": kv.logdet,
                "nuc": lambda A: kv.norm(A, "nuc", axis=(-2, -1)),
                "2": lambda A: kv.norm(A, 2, axis=(-2, -1))}[member](X))
    G = kv.evaluate(kv.grad(f, X), X=X0)
    np.testing.assert_allclose(G.reshape(-1, order="F"), fd_jacobian(f, X, {"X": X0}).ravel(), atol=1e-6)


@pytest.mark.parametrize("fname", ["sqrtm", "logm"])
def test_fuzz_finding_matrix_functions_of_a_non_symmetric_stack(fname):
    A = kv.Matrix("A", (2, 2, 2))
    A0 = 3 * np.eye(2) + 0.3 * np.random.default_rng(0).standard_normal((2, 2, 2))
    reference = np.stack([getattr(sla, fname)(member) for member in A0])
    np.testing.assert_allclose(kv.evaluate(getattr(kv, fname)(A), A=A0), reference, atol=1e-10)


@pytest.mark.parametrize("fname", ["sqrtm", "logm"])
@pytest.mark.parametrize("shape", [(2, 2, 2), (2, 2, 3, 3)])
def test_fuzz_finding_derivatives_of_matrix_functions_of_a_non_symmetric_stack(fname, shape):
    A = kv.Matrix("A", shape)
    rng = np.random.default_rng(1)
    A0 = 3 * np.eye(shape[-1]) + 0.3 * rng.standard_normal(shape)
    A0[0] = A0[0] + np.swapaxes(A0[0], -1, -2)  # a symmetric member beside non-symmetric ones
    F = getattr(kv, fname)(A)
    L = kv.jacobian(F, A).at(A=A0)
    np.testing.assert_allclose(L.to_dense(), fd_jacobian(F, A, {"A": A0}), atol=1e-7)
    f = kv.sum(F * F * rng.standard_normal(shape))
    H = kv.hessian(f, A).at(A=A0)
    np.testing.assert_allclose(H.to_dense(), fd_jacobian(kv.grad(f, A), A, {"A": A0}), atol=1e-6)


@pytest.mark.parametrize("fname", ["sqrtm", "logm"])
def test_fuzz_finding_hessian_through_matrix_functions_of_a_stack(fname):
    B = kv.Matrix("B", (2, 3, 3))
    B0 = np.random.default_rng(0).standard_normal((2, 3, 3))
    f = kv.sum(getattr(kv, fname)(B @ kv.matrix_transpose(B) + kv.eye(3)))
    H = kv.hessian(f, B).at(B=B0).to_dense()
    np.testing.assert_allclose(H, fd_jacobian(kv.grad(f, B), B, {"B": B0}), atol=1e-5)


def test_fuzz_finding_hessian_of_a_scalar_times_a_stack_of_1x1():
    X, Y = kv.Matrix("X", (2, 1, 1)), kv.Matrix("Y", (1, 1))
    f = kv.sum((kv.sum(Y * kv.exp(X)) * Y) * kv.exp(X))
    values = {"X": np.array([.3, -.2]).reshape(2, 1, 1), "Y": np.array([[.5]])}
    H = kv.hessian(f, X).at(values).to_dense()
    np.testing.assert_allclose(H, fd_jacobian(kv.grad(f, X), X, values), atol=1e-6)


@pytest.mark.parametrize("rhs", ["symbol", "constant"])
@pytest.mark.parametrize("form", ["solve", "inv @", "@ inv"])
def test_fuzz_finding_one_matrix_solved_against_a_stack(rhs, form):
    """A single matrix A against a stack B: every member solved with the one factorization.

    With a NumPy stack of right-hand sides whose stack size equals n, LAPACK took the stack
    for one matrix and returned wrong numbers silently (other sizes raised)."""
    A = kv.Matrix("A", (2, 2))
    rng = np.random.default_rng(0)
    A0 = rng.standard_normal((2, 2)) + 3 * np.eye(2)
    B0 = rng.standard_normal((2, 2, 2) if rhs == "constant" else (3, 2, 2))
    B = B0 if rhs == "constant" else kv.Matrix("B", B0.shape)
    expr = {"solve": lambda: kv.solve(A, B), "inv @": lambda: kv.inv(A) @ B,
            "@ inv": lambda: B @ kv.inv(A)}[form]()
    reference = np.linalg.inv(A0) @ B0 if form != "@ inv" else B0 @ np.linalg.inv(A0)
    np.testing.assert_allclose(kv.evaluate(expr, A=A0, B=B0), reference, atol=1e-12)
    L = kv.jacobian(expr, A).at(A=A0, B=B0)
    H = rng.standard_normal((2, 2))
    np.testing.assert_allclose(L.jvp(H), fd_jvp(expr, A, {"A": A0, "B": B0}, H), atol=1e-6)
