"""Derivatives through stacks with several stack axes (issue 17, "refused although the answer
exists").

Per-member scalars of a stack ``(b₁, b₂, n, n)`` (det, logdet, trace, norms) have the shape
``(b₁, b₂)``; their derivatives were refused.  Every case: the bound Jacobian against
central differences, the adjoint dot test, the gradient (shape exactly the symbol's) against
differences, and the Hessian against differences of the gradient.
"""
from __future__ import annotations

import numpy as np
import pytest

import kronvec as kv
from kronvec.testing import dottest, fd_jacobian, fd_jvp

RNG = np.random.default_rng(17)
Y = kv.Matrix("Y", (2, 3, 2, 2))
Y0 = RNG.standard_normal((2, 3, 2, 2)) + 1.5 * np.eye(2)
P = kv.Matrix("P", (2, 2, 3, 3), positive_definite=True)
_A = RNG.standard_normal((2, 2, 3, 3))
P0 = _A @ np.swapaxes(_A, -1, -2) / 3 + 3 * np.eye(3)
S = kv.Matrix("S", (2, 2, 2, 2), symmetric=True)
S0 = (Y0[:, :2] + np.swapaxes(Y0[:, :2], -1, -2)) / 2 + np.diag([0.0, 1.0])
R = kv.Matrix("R", (2, 2, 3, 2))
R0 = RNG.standard_normal((2, 2, 3, 2))
Z = kv.Matrix("Z", (2, 3, 1, 1))
Z0 = RNG.uniform(0.5, 2.0, (2, 3, 1, 1))
B2 = RNG.standard_normal((3, 2, 2)) + 2 * np.eye(2)  # a (b₂, n, n) constant against Y
W = RNG.standard_normal((2, 3))  # weights of the (b₁, b₂) per-member scalars
V = RNG.standard_normal((2, 3, 2, 1))


def _tr(a: kv.Expr) -> kv.Expr:
    return kv.trace(a, axis1=-2, axis2=-1)


SCALARS = {
    "sum det": (lambda: kv.sum(kv.det(Y)), Y, Y0),
    "weighted det": (lambda: kv.sum(kv.det(Y) * W), Y, Y0),
    "sum logdet spd": (lambda: kv.sum(kv.logdet(P)), P, P0),
    "weighted logdet": (lambda: kv.sum(kv.logdet(Y) * W), Y, Y0),
    "sum trace": (lambda: kv.sum(_tr(Y) * W), Y, Y0),
    "trace squared": (lambda: kv.sum(_tr(Y) ** 2), Y, Y0),
    "trace of inv": (lambda: kv.sum(_tr(kv.inv(Y)) * W), Y, Y0),
    "solve": (lambda: kv.sum(kv.solve(Y, V)), Y, Y0),
    "cholesky": (lambda: kv.sum(_tr(kv.cholesky(P)) * W[:, :2]), P, P0),
    "eigvalsh": (lambda: kv.sum(kv.eigvalsh(S) ** 2), S, S0),
    "nuclear norm": (lambda: kv.sum(kv.norm(R, "nuc", axis=(-2, -1)) * W[:, :2]), R, R0),
    "spectral norm": (lambda: kv.sum(kv.norm(R, 2, axis=(-2, -1)) * W[:, :2]), R, R0),
    "frobenius norm": (lambda: kv.norm(Y), Y, Y0),
    "sum over stack axis 0": (lambda: kv.sum(kv.det(kv.sum(Y, axis=0))), Y, Y0),
    "mean over stack axis 1": (lambda: kv.sum(kv.det(kv.mean(Y, axis=1))), Y, Y0),
    "mean of dets": (lambda: kv.mean(kv.det(Y)), Y, Y0),
    "tanh of dets": (lambda: kv.sum(kv.tanh(kv.det(Y)) * W), Y, Y0),
    "exp of logdets": (lambda: kv.sum(kv.exp(kv.logdet(P))), P, P0),
    "1x1 members det": (lambda: kv.sum(kv.det(Z) * W), Z, Z0),
    "1x1 members logdet": (lambda: kv.sum(kv.logdet(Z) * W), Z, Z0),
    "1x1 members trace": (lambda: kv.sum(kv.tanh(_tr(Z)) * W), Z, Z0),
    "broadcast constant matmul": (lambda: kv.sum(kv.det(Y @ B2) * W), Y, Y0),
    "broadcast constant add": (lambda: kv.sum(kv.logdet(Y + B2) * W), Y, Y0),
}

NONSCALARS = {
    "det": (lambda: kv.det(Y), Y, Y0),
    "logdet": (lambda: kv.logdet(P), P, P0),
    "trace": (lambda: _tr(Y), Y, Y0),
    "tanh det": (lambda: kv.tanh(kv.det(Y)), Y, Y0),
    "inv": (lambda: kv.inv(Y), Y, Y0),
    "1x1 det": (lambda: kv.det(Z), Z, Z0),
    "nuclear norm": (lambda: kv.norm(R, "nuc", axis=(-2, -1)), R, R0),
}


def _values(sym: kv.Expr, value: np.ndarray) -> dict[str, np.ndarray]:
    return {sym.params.name: value}


def _jacobian_matches(f: kv.Expr, sym: kv.Expr, value: np.ndarray) -> np.ndarray:
    values = _values(sym, value)
    L = kv.jacobian(f, sym).at(values)
    fd = fd_jacobian(f, sym, values)
    dense = L.to_dense()
    if sym.params.symmetric:  # compare on symmetric directions
        dense = dense @ kv.testing.symmetrizer(sym.shape[-1], sym.shape[:-2])
    np.testing.assert_allclose(dense, fd, rtol=1e-6, atol=1e-7 * max(1.0, np.abs(fd).max()))
    dottest(L)
    h = RNG.standard_normal(sym.shape)
    if sym.params.symmetric:
        h = h + np.swapaxes(h, -1, -2)
    np.testing.assert_allclose(L.jvp(h), fd_jvp(f, sym, values, h).reshape(np.shape(L.jvp(h))),
                               rtol=1e-6, atol=1e-7 * max(1.0, np.abs(fd).max()))
    return fd


@pytest.mark.parametrize("name", sorted(SCALARS))
def test_scalar_functions_of_stacks_with_two_stack_axes(name):
    _check_scalar(*SCALARS[name])


def _check_scalar(make, sym: kv.Expr, value: np.ndarray) -> None:
    f = make()
    values = _values(sym, value)
    fd = _jacobian_matches(f, sym, value)
    g = kv.evaluate(kv.grad(f, sym), values)
    assert np.shape(g) == sym.shape
    if not sym.params.symmetric:
        np.testing.assert_allclose(np.reshape(g, -1, order="F"), fd.ravel(), rtol=1e-6,
                                   atol=1e-7 * max(1.0, np.abs(fd).max()))
    hessian = kv.hessian(f, sym).at(values)
    dottest(hessian, rtol=1e-9)
    fd2 = fd_jacobian(kv.grad(f, sym), sym, values)
    dense = hessian.to_dense()
    if sym.params.symmetric:
        pi = kv.testing.symmetrizer(sym.shape[-1], sym.shape[:-2])
        dense, fd2 = pi @ dense @ pi, pi @ fd2
    np.testing.assert_allclose(dense, fd2, rtol=1e-5, atol=1e-6 * max(1.0, np.abs(fd2).max()))


@pytest.mark.parametrize("name", sorted(NONSCALARS))
def test_jacobians_of_per_member_results_with_two_stack_axes(name):
    make, sym, value = NONSCALARS[name]
    f = make()
    assert kv.jacobian(f, sym).at(_values(sym, value)).out_shape == f.shape
    _jacobian_matches(f, sym, value)


def test_the_reported_logdet_jacobian():
    f = kv.sum(kv.logdet(P))
    L = kv.jacobian(f, P).at(P=P0)
    expected = np.linalg.inv(P0).swapaxes(-1, -2)
    np.testing.assert_allclose(L.vjp(np.ones(L.out_shape)).reshape(P0.shape), expected, rtol=1e-10)


def test_the_reported_det_gradient_is_the_adjugate_transposed():
    g = kv.evaluate(kv.grad(kv.sum(kv.det(Y)), Y), Y=Y0)
    expected = (np.linalg.det(Y0)[..., None, None] * np.linalg.inv(Y0)).swapaxes(-1, -2)
    assert g.shape == (2, 3, 2, 2)
    np.testing.assert_allclose(g, expected, rtol=1e-10)


def test_three_stack_axes():
    T = kv.Matrix("T", (2, 1, 2, 2, 2))
    T0 = RNG.standard_normal(T.shape) + 2 * np.eye(2)
    f = kv.sum(kv.det(T) * RNG.standard_normal((2, 1, 2)))
    fd = _jacobian_matches(f, T, T0)
    g = kv.evaluate(kv.grad(f, T), T=T0)
    assert g.shape == T.shape
    np.testing.assert_allclose(np.reshape(g, -1, order="F"), fd.ravel(), rtol=1e-6, atol=1e-8)


def _eigh_vectors() -> kv.Expr:
    w, Q = kv.eigh(S)
    return kv.sum(Q ** 2 * np.array([[1.0, -0.5], [2.0, 0.3]])) + kv.sum(w * np.array([[0.4], [1.0]]))


def _svd_parts() -> kv.Expr:
    U, s, Vt = kv.svd(R)
    return kv.sum(s * np.array([[1.0], [-0.5]])) + kv.sum(U ** 2 * RNG.standard_normal((3, 2))) \
        + kv.sum(Vt ** 2 * np.array([[1.0, 0.2], [0.0, 1.0]]))


def _qr_parts() -> kv.Expr:
    Q, Rf = kv.qr(R)
    return kv.sum(Q * RNG.standard_normal((2, 2, 3, 2))) + kv.sum(Rf ** 2)


FACTORIZATIONS = {"eigh": (_eigh_vectors, S, S0), "svd": (_svd_parts, R, R0), "qr": (_qr_parts, R, R0)}


@pytest.mark.parametrize("name", sorted(FACTORIZATIONS))
def test_factorizations_of_stacks_with_two_stack_axes(name):
    _check_scalar(*FACTORIZATIONS[name])


def test_dask_values_give_the_same_jvp_or_a_clear_refusal():
    """Bound to Dask values, the Jacobian of per-member dets agrees with NumPy's; the gradient
    expression flattens the stack axes, which Dask refuses by name (never a wrong number)."""
    da = pytest.importorskip("dask.array")
    dY0 = da.from_array(Y0, chunks=(1, 3, 2, 2))
    h = RNG.standard_normal(Y.shape)
    J = kv.jacobian(kv.det(Y), Y)
    np.testing.assert_allclose(np.asarray(J.at(Y=dY0).jvp(h)), J.at(Y=Y0).jvp(h), rtol=1e-12)
    with pytest.raises(NotImplementedError, match="reshape mixes the members"):
        np.asarray(kv.evaluate(kv.grad(kv.sum(kv.det(Y)), Y), Y=dY0))
