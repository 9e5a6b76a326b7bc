"""Newton's method with Hessian-vector products, never forming the Hessian.

The Gaussian precision-matrix MLE: for a sample covariance C (SPD), minimise
over symmetric positive definite S

    f(S) = tr(C S) − log det S.

Gradient and Hessian (S symmetric, so kronvec gives the symmetric gradient):

    ∇f(S) = C − S⁻¹                (sym(C) − S⁻¹ in general)
    ∇²f(S)[Δ] = S⁻¹ Δ S⁻¹          (vec form S⁻¹ ⊗ S⁻¹, SPD)

The minimiser is S* = C⁻¹. Each Newton step solves ∇²f(S)[Δ] = −∇f(S) with
conjugate gradients, using `kv.hessian(f, S).at(S=S_k).aslinearoperator()`:
every CG iteration is one Hessian-vector product, i.e. two n×n solves, and
the n²×n² Hessian is never built. A backtracking line search keeps S
positive definite and decreases f (damped Newton); near the solution full
steps are taken and convergence is quadratic.

Run:  python examples/newton_hvp.py
"""
from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import cg

import kronvec as kv

N = 8


def sample_covariance(rng: np.random.Generator, n: int = N, samples: int = 40) -> np.ndarray:
    """A well-conditioned sample covariance of correlated Gaussian data."""
    mix = np.eye(n) + 0.4 * rng.standard_normal((n, n)) / np.sqrt(n)
    Y = rng.standard_normal((samples, n)) @ mix.T
    Y -= Y.mean(axis=0)
    return Y.T @ Y / samples


def objective():
    """f(S) = tr(CS) − log det S with S symmetric positive definite."""
    S = kv.Matrix("S", (N, N), symmetric=True, positive_definite=True)
    C = kv.Matrix("C", (N, N))
    f = kv.trace(C @ S) - kv.logdet(S)
    return f, S


def is_pd(S: np.ndarray) -> bool:
    try:
        np.linalg.cholesky(S)
        return True
    except np.linalg.LinAlgError:
        return False


def newton_direction(H: kv.Jacobian, S0: np.ndarray, C0: np.ndarray, G: np.ndarray) -> tuple[np.ndarray, int]:
    """Solve H(S0)[Δ] = −G by CG on the lazy Hessian; return Δ and the CG iteration count.

    Each CG iteration costs one Hessian-vector product (op.matvec).
    """
    op = H.at(S=S0, C=C0).aslinearoperator()
    hvps = 0

    def count(_xk: np.ndarray) -> None:
        nonlocal hvps
        hvps += 1

    d, info = cg(op, -kv.vec(G), rtol=1e-10, atol=0.0, maxiter=10 * N * N, callback=count)
    assert info == 0, f"CG did not converge (info={info})"
    D = kv.unvec(d, (N, N))
    return (D + D.T) / 2, hvps          # symmetric up to rounding; make it exact


def newton(C0: np.ndarray, tol: float = 1e-10, max_iter: int = 30) -> np.ndarray:
    f, S = objective()
    grad = kv.grad(f, S)
    H = kv.hessian(f, S)
    print("f(S)   =", f)
    print("∇f(S)  =", grad)
    print("∇²f(S) =", H, "  (acts as Δ ↦ S⁻¹ Δ S⁻¹)")
    print(f"{'iter':>4}  {'f(S)':>14}  {'‖∇f‖':>9}  {'step':>6}  {'CG its':>6}")

    Sk = np.eye(N)
    fk = float(kv.evaluate(f, S=Sk, C=C0))
    for it in range(max_iter):
        G = kv.evaluate(grad, S=Sk, C=C0)
        gnorm = np.linalg.norm(G)
        if gnorm < tol:
            print(f"{it:4d}  {fk:14.10f}  {gnorm:9.2e}")
            return Sk
        D, hvps = newton_direction(H, Sk, C0, G)
        slope = float(np.vdot(G, D))             # df along D; < 0 for a descent direction
        assert slope < 0
        t = 1.0
        while True:
            trial = Sk + t * D
            if is_pd(trial):
                f_trial = float(kv.evaluate(f, S=trial, C=C0))
                if f_trial <= fk + 0.25 * t * slope:
                    break
            t /= 2
        print(f"{it:4d}  {fk:14.10f}  {gnorm:9.2e}  {t:6.3f}  {hvps:6d}")
        Sk, fk = trial, f_trial
    raise RuntimeError("Newton's method did not converge")


def main() -> None:
    rng = np.random.default_rng(0)
    C0 = sample_covariance(rng)
    print(f"n = {N}: the Hessian would be {N * N} x {N * N}; only HVPs are used.\n")

    # The Hessian-vector product agrees with the closed form S⁻¹ Δ S⁻¹.
    f, S = objective()
    S1 = np.linalg.inv(C0) + 0.1 * np.eye(N)
    Delta = rng.standard_normal((N, N))
    Delta = Delta + Delta.T
    hvp = kv.hessian(f, S).at(S=S1, C=C0).jvp(Delta)
    S1inv = np.linalg.inv(S1)
    assert np.allclose(hvp, S1inv @ Delta @ S1inv)

    S_hat = newton(C0)
    err = np.abs(S_hat - np.linalg.inv(C0)).max()
    print(f"\nmax |S − C⁻¹| = {err:.1e}")
    assert np.allclose(S_hat, np.linalg.inv(C0), rtol=1e-8, atol=1e-10)


if __name__ == "__main__":
    main()
