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
