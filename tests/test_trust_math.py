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
