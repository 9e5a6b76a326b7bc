"""Clear errors where a user's mistake would otherwise give a puzzle or a wrong number.

Each error names the culprit: the symbol and its shape, the operation and the
operand's shape, or the singular sub-expression as the user wrote it.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import kronvec as kv

AxisError = np.exceptions.AxisError
X = kv.Matrix("X", (3, 3))
B = kv.Matrix("B", (3, 2))
S = kv.Matrix("S", (2, 3, 3))
SB = kv.Matrix("SB", (2, 3, 2))
RNG = np.random.default_rng(0)
X0 = RNG.standard_normal((3, 3)) + 3 * np.eye(3)


# ------------------------------------------------------------ values by name
@pytest.mark.parametrize("call", [
    lambda: kv.evaluate(X @ X, [X0]),
    lambda: kv.evaluate(X @ X, X0),
    lambda: kv.evaluate([X, X @ X], (X0,)),
    lambda: kv.jacobian(X @ X, X).at([X0]),
    lambda: kv.hessian(kv.trace(X @ B @ B.T), [X, B]).at([X0, np.ones((3, 2))]),
], ids=["evaluate-list", "evaluate-array", "evaluate-tuple", "J.at-list", "H.at-list"])
def test_values_given_by_position_are_refused_saying_to_pass_them_by_name(call):
    with pytest.raises(TypeError, match="pass values by symbol name"):
        call()


def test_values_by_name_still_work_as_keywords_and_as_a_mapping():
    want = X0 @ X0
    np.testing.assert_allclose(kv.evaluate(X @ X, {"X": X0}), want)
    np.testing.assert_allclose(kv.evaluate(X @ X, X=X0), want)
    np.testing.assert_allclose(kv.jacobian(X @ X, X).at({"X": X0}).value, want)


# ------------------------------------------------------------ to_dense
@pytest.mark.parametrize("bad", ["1e9", b"1e9", True, [10]])
def test_to_dense_max_bytes_must_be_a_number(bad):
    L = kv.jacobian(X @ X, X).at(X=X0)
    with pytest.raises(TypeError, match="max_bytes must be a number"):
        L.to_dense(max_bytes=bad)
    with pytest.raises(TypeError, match="max_bytes must be a number"):
        L.to_tensor(max_bytes=bad)
    H = kv.hessian(kv.trace(X @ B @ B.T), [X, B]).at(X=X0, B=np.ones((3, 2)))
    with pytest.raises(TypeError, match="max_bytes must be a number"):
        H.to_dense(max_bytes=bad)


def test_to_dense_takes_any_real_number_of_bytes_or_none():
    L = kv.jacobian(X @ X, X).at(X=X0)
    dense = L.to_dense()
    for ok in (1e9, 10 ** 9, np.int64(10 ** 9), np.float32(1e9), None):
        np.testing.assert_array_equal(L.to_dense(max_bytes=ok), dense)


# ------------------------------------------------------------ values
def test_a_ragged_nested_list_names_the_symbol():
    with pytest.raises(ValueError, match=r"value for X: a ragged nested list .*\(3, 3\)"):
        kv.evaluate(X @ X, X=[[1, 2, 3], [1, 2], [1, 2, 3]])
    with pytest.raises(ValueError, match="value for X: a ragged"):
        kv.jacobian(X @ X, X).at(X=[[1, 2, 3], [1, [2, 3], 3], [1, 2, 3]])


def test_a_masked_array_is_refused_naming_the_symbol():
    masked = np.ma.masked_array(X0, mask=np.eye(3, dtype=bool))
    with pytest.raises(TypeError, match="value for X: a masked array"):
        kv.evaluate(X @ X, X=masked)
    with pytest.raises(TypeError, match="value for X: a masked array"):
        kv.jacobian(X @ X, X).at(X=masked)


@pytest.mark.parametrize("how", ["jvp", "vjp"])
@pytest.mark.parametrize("shape", [(3, 3), (2, 3, 3)])
def test_complex_tangents_are_refused_not_cast(how, shape):
    V = kv.Matrix("V", shape)
    v0 = RNG.standard_normal(shape) + 3 * np.eye(3)
    L = kv.jacobian(kv.inv(V), V).at(V=v0)
    tangent = RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a cast would warn (ComplexWarning) before this fix
        with pytest.raises(TypeError, match=f"{how}: complex arrays are not supported"):
            getattr(L, how)(tangent)
        with pytest.raises(TypeError, match=f"{how}: complex arrays are not supported"):
            getattr(L, how)(tangent[None])  # a stack of tangents
        with pytest.raises(TypeError, match="matvec: complex arrays are not supported"):
            L.matvec(tangent.reshape(-1, order="F"))
    real = getattr(L, how)(tangent.real)  # the real part alone is fine
    assert real.dtype == np.float64


def test_integer_tangents_are_still_taken():
    L = kv.jacobian(X @ X, X).at(X=X0)
    np.testing.assert_allclose(L.jvp(np.eye(3, dtype=int)), 2 * X0)


# ------------------------------------------------------------ singular factors
def test_a_zero_pivot_in_solve_triangular_names_the_solve():
    t = np.tril(RNG.standard_normal((3, 3))) + 3 * np.eye(3)
    t[1, 1] = 0.0
    b0 = RNG.standard_normal((3, 2))
    with pytest.raises(np.linalg.LinAlgError,
                       match=r"solve_triangular\(X, B, lower=True\): the lower triangle of X is singular "
                             r"\(zero pivot at diagonal entry 1\)"):
        kv.evaluate(kv.solve_triangular(X, B, lower=True), X=t, B=b0)
    with pytest.raises(np.linalg.LinAlgError,
                       match=r"solve_triangular\(X, B, trans=1, lower=True\).*entry 1"):
        kv.evaluate(kv.solve_triangular(X, B, lower=True, trans=1), X=t, B=b0)
    with pytest.raises(np.linalg.LinAlgError, match=r"solve_triangular\(X, B, lower=True\)"):
        kv.jacobian(kv.solve_triangular(X, B, lower=True), B).at(X=t, B=b0)


def test_a_zero_pivot_in_a_stacked_solve_triangular_names_the_member():
    s0 = np.stack([np.eye(3), np.triu(np.ones((3, 3)))])
    s0[1, 2, 2] = 0.0
    with pytest.raises(np.linalg.LinAlgError,
                       match=r"solve_triangular\(S, SB\): the upper triangle of S is singular \(zero "
                             r"pivot at diagonal entry 2\) in member 1 of the stack"):
        kv.evaluate(kv.solve_triangular(S, SB), S=s0, SB=np.ones((2, 3, 2)))


@pytest.mark.parametrize("wrt", ["X", "B"])
def test_a_singular_a_in_the_derivative_of_solve_names_the_solve(wrt):
    singular = np.ones((3, 3))
    with pytest.raises(np.linalg.LinAlgError,
                       match=r"^solve\(X, B\): X is singular to working precision") as err:
        kv.jacobian(kv.solve(X, B), wrt).at(X=singular, B=np.ones((3, 2)))
    assert "inv(X)" not in str(err.value)


def test_a_singular_member_in_the_derivative_of_a_stacked_solve_names_the_solve_and_member():
    s0 = np.stack([np.eye(3), np.ones((3, 3))])
    with pytest.raises(np.linalg.LinAlgError,
                       match=r"^solve\(S, SB\): S is singular .* member 1 of the stack"):
        kv.jacobian(kv.solve(S, SB), S).at(S=s0, SB=np.ones((2, 3, 2)))


def test_an_inverse_written_as_such_is_still_named_as_the_inverse():
    with pytest.raises(np.linalg.LinAlgError, match=r"^inv\(X\)"):
        kv.jacobian(kv.inv(X), X).at(X=np.ones((3, 3)))


# ------------------------------------------------------------ axes
W = kv.Matrix("W", (2, 3, 4))

AXIS_CALLS = {
    "sum": lambda: kv.sum(X, axis=2), "sum-stack": lambda: kv.sum(W, axis=(0, 3)),
    "mean": lambda: kv.mean(X, axis=-3), "mean-stack": lambda: kv.mean(W, axis=5),
    "max": lambda: kv.max(X, axis=2), "min": lambda: kv.min(W, axis=-4),
    "logsumexp": lambda: kv.logsumexp(X, axis=2), "logsumexp-stack": lambda: kv.logsumexp(W, axis=3),
    "softmax": lambda: kv.softmax(X, axis=2), "softmax-stack": lambda: kv.softmax(W, axis=(1, 3)),
    "log_softmax": lambda: kv.log_softmax(W, axis=-4),
    "trace": lambda: kv.trace(X, axis1=0, axis2=2), "trace-stack": lambda: kv.trace(W, axis1=0, axis2=3),
    "swapaxes": lambda: kv.swapaxes(X, 0, 2), "swapaxes-stack": lambda: W.swapaxes(-4, 1),
    "norm": lambda: kv.norm(X, axis=2), "norm-stack": lambda: kv.norm(W, axis=(1, 3)),
    "tensordot": lambda: kv.tensordot(X, X, axes=([2], [0])),
    "tensordot-stack": lambda: kv.tensordot(W, X, axes=([0], [-3])),
}


@pytest.mark.parametrize("name", list(AXIS_CALLS))
def test_an_axis_out_of_bounds_names_the_operation_and_the_operands_shape(name):
    op = name.split("-")[0]
    with pytest.raises(AxisError, match=rf"^{op}: axis -?\d is out of bounds for an operand of shape "
                                        rf"\((3, 3|2, 3, 4)\)"):
        AXIS_CALLS[name]()


def test_tensordot_refuses_a_repeated_axis_instead_of_a_wrong_number():
    with pytest.raises(ValueError, match=r"tensordot: repeated axis .*\(2, 3, 4\)"):
        kv.tensordot(W, W, axes=([0, 0], [0, 1]))


def test_tensordot_with_negative_axes_is_numpys():
    w0 = RNG.standard_normal((2, 3, 4))
    v = kv.Matrix("V", (4, 3))
    v0 = RNG.standard_normal((4, 3))
    e = kv.tensordot(W, v, axes=([-1, -2], [0, -1]))
    np.testing.assert_allclose(kv.evaluate(e, W=w0, V=v0), np.tensordot(w0, v0, axes=([-1, -2], [0, -1])))
