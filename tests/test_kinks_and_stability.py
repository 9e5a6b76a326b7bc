"""Kinks take the documented one-sided derivative; the ML functions never overflow.

* At a kink: d abs, d relu and d sign are 0 at 0; ties of maximum/minimum
  and of max/min split the derivative evenly; never NaN.
* Stable numerics: kv.evaluate, bound maps and the printed gradients and
  Hessians of sigmoid, softplus, logsumexp, softmax and log_softmax are
  finite and exact to rounding at x = ±800, and so is the logistic
  regression negative log-likelihood at w = 300, with its gradient and Hessian.
* Printed forms: the logistic-regression gradient and Hessian.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.special as sp

import kronvec as kv
from kronvec.cli import main

from _reference import close

STABLE = ["sigmoid", "softplus", "logsumexp", "softmax", "log_softmax"]
UNSTABLE_NODES = {"exp", "log", "power"}  # what a naive formula would overflow or divide in


@pytest.fixture(autouse=True)
def _no_floating_point_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        yield


# ------------------------------------------------------------------ kinks
def test_abs_relu_and_sign_have_derivative_zero_at_zero():
    x = kv.Vector("x", 3)
    x0 = np.array([[-2.0], [0.0], [3.0]])
    close(kv.jacobian(kv.abs(x), x).at(x=x0).to_dense(), np.diag([-1.0, 0.0, 1.0]))
    close(kv.jacobian(kv.relu(x), x).at(x=x0).to_dense(), np.diag([0.0, 0.0, 1.0]))
    close(kv.jacobian(kv.sign(x), x).at(x=x0).to_dense(), np.zeros((3, 3)))
    close(kv.jacobian(kv.heaviside(x, 0.5), x).at(x=x0).to_dense(), np.zeros((3, 3)))
    close(kv.evaluate(kv.grad(kv.sum(kv.abs(x)), x), x=np.zeros((3, 1))), np.zeros((3, 1)))
    close(kv.evaluate(kv.relu(x), x=x0), np.maximum(x0, 0))
    close(kv.evaluate(kv.heaviside(x, 0.5), x=x0), np.heaviside(x0, 0.5))


def test_the_printed_derivatives_of_the_kinks():
    X = kv.Matrix("X", (2, 3))
    assert str(kv.grad(kv.sum(kv.abs(X)), X)) == "sign(X)"
    assert str(kv.grad(kv.sum(kv.relu(X)), X)) == "heaviside(X, 0)"
    assert str(kv.grad(kv.sum(kv.sign(X)), X)) == "0"


def test_ties_of_maximum_and_minimum_split_evenly():
    a, b = kv.Vector("a", 3), kv.Vector("b", 3)
    a0, b0 = np.array([[1.0], [2.0], [3.0]]), np.array([[2.0], [2.0], [1.0]])
    for fn, into_a in ((kv.maximum, [0.0, 0.5, 1.0]), (kv.minimum, [1.0, 0.5, 0.0])):
        La = kv.jacobian(fn(a, b), a).at(a=a0, b=b0).to_dense()
        Lb = kv.jacobian(fn(a, b), b).at(a=a0, b=b0).to_dense()
        close(La, np.diag(into_a))
        close(Lb, np.eye(3) - np.diag(into_a))
    assert str(kv.grad(kv.sum(kv.maximum(a, b)), a)) == "heaviside(a - b, 0.5)"


def test_ties_of_max_and_min_split_evenly():
    A = kv.Matrix("A", (2, 3))
    A0 = np.array([[1.0, 3.0, 3.0], [5.0, 5.0, 5.0]])
    close(kv.evaluate(kv.grad(kv.max(A), A), A=A0), [[0, 0, 0], [1 / 3, 1 / 3, 1 / 3]])
    close(kv.evaluate(kv.grad(kv.sum(kv.max(A, axis=1)), A), A=A0), [[0, 0.5, 0.5], [1 / 3] * 3])
    close(kv.evaluate(kv.grad(kv.sum(kv.max(A, axis=0)), A), A=A0), [[0, 0, 0], [1, 1, 1]])
    close(kv.evaluate(kv.grad(kv.sum(kv.min(A, axis=0)), A), A=A0), [[1, 1, 1], [0, 0, 0]])
    close(kv.evaluate(kv.grad(kv.min(A), A), A=A0), [[1, 0, 0], [0, 0, 0]])
    L = kv.jacobian(kv.max(A, axis=1), A).at(A=A0)
    assert np.isfinite(L.to_dense()).all()


def test_a_kink_is_never_nan():
    X = kv.Matrix("X", (2, 2))
    zero = np.zeros((2, 2))
    for f in (kv.abs(X), kv.relu(X), kv.sign(X), kv.maximum(X, X.T), kv.minimum(X, 0 * X + 1),
              kv.max(X, axis=0), kv.min(X)):
        scalar = kv.sum(f * f)
        assert np.isfinite(kv.evaluate(kv.grad(scalar, X), X=zero)).all()
        assert np.isfinite(kv.hessian(scalar, X).at(X=zero).to_dense()).all()


# -------------------------------------------------------------- stability
def _nodes(e):
    return {n.op for n in e.walk()}


@pytest.mark.parametrize("name", STABLE)
@pytest.mark.parametrize("size", [800.0, -800.0])
def test_values_gradients_and_hessians_are_finite_and_exact(name, size):
    x = kv.Vector("x", 4)
    x0 = size + np.array([[0.0], [1.0], [-2.0], [0.5]])
    f = getattr(kv, name)(x)
    reference = {"sigmoid": sp.expit, "softplus": lambda v: np.logaddexp(0, v),
                 "logsumexp": sp.logsumexp, "softmax": sp.softmax, "log_softmax": sp.log_softmax}[name]
    close(np.reshape(kv.evaluate(f, x=x0), np.shape(reference(x0))), reference(x0), rtol=1e-14)
    weights = kv.Constant(np.arange(1.0, 5.0).reshape(4, 1)) if f.shape != () else kv.Constant(1.0)
    scalar = kv.sum(weights * f) if f.shape != () else f
    g = kv.grad(scalar, x)
    assert not _nodes(g) & UNSTABLE_NODES, str(g)  # the printed gradient uses stable nodes
    G = kv.evaluate(g, x=x0)
    assert np.isfinite(G).all()
    H = kv.hessian(scalar, x).at(x=x0)
    J = kv.jacobian(f, x).at(x=x0)
    assert np.isfinite(H.to_dense()).all() and np.isfinite(J.to_dense()).all()
    assert np.isfinite(J.vjp(np.ones(f.shape) if f.shape else 1.0)).all()


def test_the_gradient_of_logsumexp_at_800_is_the_uniform_softmax():
    x = kv.Vector("x", 5)
    G = kv.evaluate(kv.grad(kv.logsumexp(x), x), x=800 * np.ones((5, 1)))
    close(G, np.full((5, 1), 0.2), rtol=1e-15)
    close(kv.evaluate(kv.logsumexp(x), x=800 * np.ones((5, 1))), 800 + np.log(5), rtol=1e-15)
    close(kv.evaluate(kv.softplus(x), x=np.array([[800.0], [-800.0], [0], [1], [-1]])),
          [[800.0], [0.0], [np.log(2)], [np.log1p(np.e)], [np.log1p(1 / np.e)]], rtol=1e-15)


@pytest.mark.parametrize("axis", [None, 0, 1])
def test_axis_functions_at_huge_entries(axis):
    A = kv.Matrix("A", (3, 4))
    A0 = np.array([[800.0, -800, 0, 1], [800, 800, 2, 3], [-800, 1, 1, 800]])
    for name in ("logsumexp", "softmax", "log_softmax"):
        f = getattr(kv, name)(A, axis=axis)
        scalar = kv.sum(f * f)
        assert np.isfinite(kv.evaluate(kv.grad(scalar, A), A=A0)).all()
        assert np.isfinite(kv.hessian(scalar, A).at(A=A0).to_dense()).all()
    close(kv.evaluate(kv.log_softmax(A, axis=axis), A=A0), sp.log_softmax(A0, axis=axis))


def _logistic():
    X, w, y = kv.Matrix("X", (20, 3)), kv.Vector("w", 3), kv.Vector("y", 20)
    return kv.sum(kv.softplus(X @ w)) - y.T @ X @ w, X, w, y


def test_the_logistic_nll_at_w_300_is_finite_with_its_gradient_and_hessian():
    f, X, w, y = _logistic()
    rng = np.random.default_rng(0)
    X0, y0 = rng.standard_normal((20, 3)), (rng.random((20, 1)) < 0.5).astype(float)
    w0 = np.full((3, 1), 300.0)
    z = X0 @ w0
    values = {"X": X0, "y": y0, "w": w0}
    close(np.reshape(kv.evaluate(f, values), ()), np.sum(np.logaddexp(0, z)) - (y0.T @ z).item())
    close(kv.evaluate(kv.grad(f, w), values), X0.T @ (sp.expit(z) - y0))
    d = sp.expit(z) * sp.expit(-z)
    H = kv.hessian(f, w).at(values)
    close(H.to_dense(), X0.T @ (d * X0))
    v = rng.standard_normal((3, 1))
    close(H.jvp(v), X0.T @ (d * (X0 @ v)))


def test_the_logistic_regression_prints_like_the_textbook():
    f, X, w, y = _logistic()
    assert str(kv.grad(f, w)) == "Xᵀ(σ(Xw) - y)"
    H = kv.hessian(f, w)
    assert str(H) == "Xᵀ diag(σ(Xw) ⊙ σ(-Xw)) X"
    assert H.nterms == 1
    assert H.latex() == (r"X^{\top} \operatorname{diag}\left(\sigma\left(X w\right) \odot "
                         r"\sigma\left(-X w\right)\right) X")
    # a sum of sigmoids: the product rule's two terms merge into one diagonal
    assert kv.hessian(kv.sum(kv.sigmoid(X @ w)), w).nterms == 1


def test_the_cli_derives_the_logistic_nll(capsys):
    assert main(["derive", "sum(softplus(X @ w)) - y.T @ X @ w", "--wrt", "w",
                 "--shape", "X=20x3", "--shape", "y=20", "--check"]) == 0
    out = capsys.readouterr().out
    assert "Xᵀ(σ(Xw) - y)" in out and "passed" in out
