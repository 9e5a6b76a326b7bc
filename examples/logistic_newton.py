"""Logistic regression by Newton's method, the Hessian applied through conjugate gradients.

With labels y ∈ {0, 1}ⁿ, data X (n × d) and a small ridge λ, the negative
log-likelihood is

    f(w) = Σ softplus(Xw) − yᵀXw + (λ/2) wᵀw,        softplus(z) = log(1 + eᶻ).

kronvec derives, in closed form and with stable nodes only,

    ∇f(w)  = Xᵀ(σ(Xw) − y) + λw
    ∇²f(w) = Xᵀ diag(σ(Xw) ⊙ (1 − σ(Xw))) X + λI

and `kv.hessian(f, w).at(...).aslinearoperator()` is a SciPy LinearOperator
whose matvec is two matrix-vector products and a scaling: each Newton step
solves ∇²f(w) Δ = −∇f(w) with `scipy.sparse.linalg.cg`, never forming the
Hessian.  The start is w = 300·𝟙, where a naive log(1 + eᶻ) or 1/(1 + e⁻ᶻ)
overflows; softplus and σ stay finite, and a backtracking line search brings
the iterates in.  The result is checked against the optimality condition and
against a dense NumPy Newton solve.

Run:  python examples/logistic_newton.py
"""
from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import cg

import kronvec as kv

N, D, RIDGE = 400, 6, 1e-2


def data(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features, labels drawn from a logistic model, and the true weights."""
    X = rng.standard_normal((N, D))
    w_true = rng.standard_normal((D, 1))
    y = (rng.random((N, 1)) < 1 / (1 + np.exp(-X @ w_true))).astype(float)
    return X, y, w_true


def objective():
    X, w, y = kv.Matrix("X", (N, D)), kv.Vector("w", D), kv.Vector("y", N)
    f = kv.sum(kv.softplus(X @ w)) - y.T @ X @ w + RIDGE / 2 * (w.T @ w)
    return f, w


def newton(X0: np.ndarray, y0: np.ndarray, w0: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    f, w = objective()
    grad, hessian = kv.grad(f, w), kv.hessian(f, w)
    print("f(w)   =", f)
    print("∇f(w)  =", grad)
    print("∇²f(w) =", hessian)
    print(f"{'iter':>4}  {'f(w)':>14}  {'‖∇f‖':>9}  {'step':>8}  {'CG its':>6}")
    value = lambda v: float(np.reshape(kv.evaluate(f, X=X0, y=y0, w=v), ()))  # noqa: E731
    wk, fk = w0, value(w0)
    assert np.isfinite(fk)
    for it in range(60):
        G = kv.evaluate(grad, X=X0, y=y0, w=wk)
        assert np.isfinite(G).all()
        gnorm = float(np.linalg.norm(G))
        if gnorm < tol:
            print(f"{it:4d}  {fk:14.8f}  {gnorm:9.2e}")
            return wk
        op = hessian.at(X=X0, y=y0, w=wk).aslinearoperator()  # matvec: Xᵀ(d ⊙ (Xv)) + λv
        iterations = 0

        def count(_: np.ndarray) -> None:
            nonlocal iterations
            iterations += 1
        step, info = cg(op, -G.ravel(), rtol=1e-12, atol=0.0, maxiter=10 * D, callback=count)
        assert info == 0, f"CG did not converge (info={info})"
        step = step.reshape(D, 1)
        slope = float(G.ravel() @ step.ravel())
        t = 1.0
        while value(wk + t * step) > fk + 1e-4 * t * slope:
            t /= 2
        print(f"{it:4d}  {fk:14.8f}  {gnorm:9.2e}  {t:8.2e}  {iterations:6d}")
        wk = wk + t * step
        fk = value(wk)
    raise RuntimeError("Newton's method did not converge")


def main() -> None:
    rng = np.random.default_rng(0)
    X0, y0, w_true = data(rng)
    w_hat = newton(X0, y0, np.full((D, 1), 300.0))

    # optimality: Xᵀ(σ(Xŵ) − y) + λŵ = 0, written out in NumPy
    p = 0.5 * (1 + np.tanh(X0 @ w_hat / 2))
    residual = X0.T @ (p - y0) + RIDGE * w_hat
    # a dense NumPy Newton iteration from the solution changes nothing
    H = X0.T @ (p * (1 - p) * X0) + RIDGE * np.eye(D)
    w_numpy = w_hat - np.linalg.solve(H, residual)
    print(f"\nŵ      = {np.round(w_hat.ravel(), 4)}")
    print(f"w_true = {np.round(w_true.ravel(), 4)}")
    print(f"‖∇f(ŵ)‖ = {np.linalg.norm(residual):.1e}, ‖ŵ − dense Newton step‖ = "
          f"{np.linalg.norm(w_hat - w_numpy):.1e}")
    assert np.linalg.norm(residual) < 1e-8
    assert np.allclose(w_hat, w_numpy, atol=1e-10)
    assert np.corrcoef(w_hat.ravel(), w_true.ravel())[0, 1] > 0.9


if __name__ == "__main__":
    main()
