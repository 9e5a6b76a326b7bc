"""A softmax classifier: its gradient from kronvec, checked against finite differences.

For data X (n × d), one-hot labels Y (n × K), weights W (d × K) and a bias row
c (1 × K), broadcast over the n rows as NumPy does (it prints as 𝟙c), the
cross-entropy is

    L(W, c) = −Σ Y ⊙ log_softmax(XW + 𝟙c, axis=1) + (λ/2) ‖W‖².

kronvec gives its gradients in closed form, with the stable log_softmax and
softmax (never exp of large numbers); for one-hot Y they reduce to the
textbook Xᵀ(S − Y) + λW and 𝟙ᵀ(S − Y) with S = softmax(XW + 𝟙c, axis=1).
The example checks both gradients against central finite differences of a
plain NumPy/SciPy loss, and against those textbook forms, then trains the
classifier with L-BFGS (SciPy) on the kronvec value and gradient and reports
its accuracy on three Gaussian clusters.

Run:  python examples/softmax_classifier.py
"""
from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.special import log_softmax, softmax

import kronvec as kv

N, D, K, RIDGE = 300, 2, 3, 1e-3


def clusters(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Three Gaussian clusters in the plane and their one-hot labels."""
    centers = np.array([[0.0, 3.0], [-2.6, -1.5], [2.6, -1.5]])
    labels = rng.integers(K, size=N)
    X = centers[labels] + rng.standard_normal((N, D))
    return X, np.eye(K)[labels]


def loss():
    X, Y = kv.Matrix("X", (N, D)), kv.Matrix("Y", (N, K))
    W, c = kv.Matrix("W", (D, K)), kv.Matrix("c", (1, K))
    L = -kv.sum(Y * kv.log_softmax(X @ W + c, axis=1)) + RIDGE / 2 * kv.sum(W * W)
    return L, W, c


def numpy_loss(X: np.ndarray, Y: np.ndarray, W: np.ndarray, c: np.ndarray) -> float:
    return float(-np.sum(Y * log_softmax(X @ W + c, axis=1)) + RIDGE / 2 * np.sum(W * W))


def central_differences(fun, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    out = np.empty_like(x)
    for index in np.ndindex(*x.shape):
        step = np.zeros_like(x)
        step[index] = eps
        out[index] = (fun(x + step) - fun(x - step)) / (2 * eps)
    return out


def main() -> None:
    rng = np.random.default_rng(0)
    X0, Y0 = clusters(rng)
    L, W, c = loss()
    gW, gc = kv.grad(L, W), kv.grad(L, c)
    print("L      =", L)
    print("∇_W L  =", gW)
    print("∇_c L  =", gc)

    W0, c0 = rng.standard_normal((D, K)), rng.standard_normal((1, K))
    values = {"X": X0, "Y": Y0, "W": W0, "c": c0}
    GW, Gc = kv.evaluate(gW, values), kv.evaluate(gc, values)
    fdW = central_differences(lambda w: numpy_loss(X0, Y0, w, c0), W0)
    fdc = central_differences(lambda b: numpy_loss(X0, Y0, W0, b), c0)
    S = softmax(X0 @ W0 + c0, axis=1)
    errors = (np.abs(GW - fdW).max() / np.abs(fdW).max(), np.abs(Gc - fdc).max() / np.abs(fdc).max())
    print(f"\nrelative error against finite differences: ∇_W {errors[0]:.1e}, ∇_c {errors[1]:.1e}")
    assert max(errors) < 1e-6
    assert np.allclose(GW, X0.T @ (S - Y0) + RIDGE * W0) and np.allclose(Gc, (S - Y0).sum(axis=0))

    def value_and_gradient(theta: np.ndarray) -> tuple[float, np.ndarray]:
        point = {"X": X0, "Y": Y0, "W": theta[:D * K].reshape(D, K), "c": theta[D * K:].reshape(1, K)}
        value = float(np.reshape(kv.evaluate(L, point), ()))
        return value, np.concatenate([kv.evaluate(gW, point).ravel(), kv.evaluate(gc, point).ravel()])

    result = minimize(value_and_gradient, np.zeros(D * K + K), jac=True, method="L-BFGS-B",
                      options={"gtol": 1e-9, "ftol": 1e-15, "maxiter": 2000})
    W_hat, c_hat = result.x[:D * K].reshape(D, K), result.x[D * K:].reshape(1, K)
    accuracy = float(np.mean(np.argmax(X0 @ W_hat + c_hat, axis=1) == np.argmax(Y0, axis=1)))
    final_gradient = float(np.linalg.norm(value_and_gradient(result.x)[1]))
    print(f"L-BFGS: {result.nit} iterations, loss {result.fun:.4f}, ‖∇L‖ = {final_gradient:.1e}, "
          f"training accuracy {accuracy:.1%}")
    assert result.success and accuracy > 0.9 and final_gradient < 1e-6


if __name__ == "__main__":
    main()
