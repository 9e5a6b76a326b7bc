"""Maps whose axis mixes the members of a stack, followed by per-member ops (issue 17, finding 1).

softmax and log_softmax over a stack axis (and over every axis) couple the
members; a per-member op after them (det, det², tr², logdet) must not move its
per-member factor through the coupling map.  Reductions over stack axes
(max, min, logsumexp, sum with ``keepdims``) are checked the same way.  Every
case: the bound Jacobian and the evaluated gradient against central differences,
the adjoint dot test, and the Hessian against differences of the gradient.
"""
from __future__ import annotations

import numpy as np
import pytest

import kronvec as kv
from kronvec.testing import dottest, fd_jacobian, fd_jvp

X = kv.Matrix("X", (2, 2, 2))
X0 = np.array([[[.3, -1.2], [.8, .1]], [[-.5, .7], [1.1, -.4]]])
H0 = np.array([[[1, .5], [-.3, .2]], [[.4, -1], [.6, .9]]])
W3 = np.arange(1.0, 4.0)
Y = kv.Matrix("Y", (3, 2, 2))
Y0 = np.random.default_rng(7).standard_normal((3, 2, 2)) + 2 * np.eye(2)


def _trace(a: kv.Expr) -> kv.Expr:
    return kv.trace(a, axis1=-2, axis2=-1)


MIXING = {
    "det softmax 0": lambda: kv.sum(kv.det(kv.softmax(X, axis=0))),
    "det log_softmax 0": lambda: kv.sum(kv.det(kv.log_softmax(X, axis=0))),
    "det softmax None": lambda: kv.sum(kv.det(kv.softmax(X, axis=None))),
    "det softmax (0, 1)": lambda: kv.sum(kv.det(kv.softmax(X, axis=(0, 1)))),
    "det log_softmax None": lambda: kv.sum(kv.det(kv.log_softmax(X, axis=None))),
    "det² softmax 0": lambda: kv.sum(kv.det(kv.softmax(X, axis=0)) ** 2),
    "tr² softmax 0": lambda: kv.sum(_trace(kv.softmax(X, axis=0)) ** 2),
    "tr² log_softmax (0, 2)": lambda: kv.sum(_trace(kv.log_softmax(X, axis=(0, 2))) ** 2),
    "logdet softmax 0": lambda: kv.sum(kv.logdet(kv.softmax(X, axis=0) + 2 * np.eye(2))),
}

REDUCING = {
    "det of X ⊙ max over members": lambda: kv.sum(kv.det(Y * kv.max(Y, axis=0, keepdims=True)) * W3),
    "det of X ⊙ min over members": lambda: kv.sum(kv.det(Y * kv.min(Y, axis=0, keepdims=True)) * W3),
    "det of X ⊙ logsumexp over members": lambda: kv.sum(kv.det(Y * kv.logsumexp(Y, axis=0, keepdims=True))
                                                         * W3),
    "det of X ⊙ sum over members": lambda: kv.sum(kv.det(Y * kv.sum(Y, axis=0, keepdims=True)) * W3),
    "softmax of per-member dets": lambda: kv.sum(kv.softmax(kv.det(Y), axis=0) * W3),
    "log_softmax of per-member dets": lambda: kv.sum(kv.log_softmax(kv.det(Y)) * W3),
    "logsumexp of per-member dets": lambda: kv.logsumexp(kv.det(Y)),
    "max of per-member traces": lambda: kv.max(_trace(Y) * W3),
}


def test_the_reported_jvp_matches_finite_differences():
    f = kv.sum(kv.det(kv.softmax(X, axis=0)))
    jvp = kv.jacobian(f, X).at(X=X0).jvp(H0)
    np.testing.assert_allclose(jvp, -0.16855353965, rtol=1e-8)
    np.testing.assert_allclose(jvp, fd_jvp(f, X, {"X": X0}, H0), rtol=1e-7)


def _check(f: kv.Expr, sym: kv.Expr, value: np.ndarray) -> None:
    values = {sym.params.name: value}
    L = kv.jacobian(f, sym).at(values)
    fd = fd_jacobian(f, sym, values)
    atol = 1e-7 * max(1.0, np.abs(fd).max())
    np.testing.assert_allclose(L.to_dense(), fd, rtol=1e-6, atol=atol)
    dottest(L)
    g = kv.evaluate(kv.grad(f, sym), values)
    assert np.shape(g) == sym.shape
    np.testing.assert_allclose(np.reshape(g, -1, order="F"), fd.ravel(), rtol=1e-6, atol=atol)
    hessian = kv.hessian(f, sym).at(values)
    dottest(hessian, rtol=1e-9)
    fd2 = fd_jacobian(kv.grad(f, sym), sym, values)
    np.testing.assert_allclose(hessian.to_dense(), fd2, rtol=1e-5, atol=1e-6 * max(1.0, np.abs(fd2).max()))


@pytest.mark.parametrize("name", sorted(MIXING))
def test_softmax_over_stack_axes_then_a_per_member_op(name):
    _check(MIXING[name](), X, X0)


@pytest.mark.parametrize("name", sorted(REDUCING))
def test_reductions_over_stack_axes_next_to_per_member_ops(name):
    _check(REDUCING[name](), Y, Y0)


def test_softmax_over_the_matrix_axes_of_a_stack_still_acts_member_by_member():
    """Slices inside each member: the map may still move per-member factors (and agrees)."""
    S = kv.softmax(X, axis=(1, 2))
    L = kv.jacobian(S, X).at(X=X0)
    assert L.memberwise()
    assert not kv.jacobian(kv.softmax(X, axis=0), X).at(X=X0).memberwise()
    _check(kv.sum(kv.det(S) * np.array([1.0, -2.0])), X, X0)
