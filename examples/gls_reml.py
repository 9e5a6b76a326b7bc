"""GLS and REML derivatives with respect to a covariance matrix V.

Model: y = Xβ + ε with ε ~ N(0, V), X of shape (n, p), V SPD of shape (n, n).

1. The GLS estimator

       β̂(V) = (XᵀV⁻¹X)⁻¹ XᵀV⁻¹ y.

   Writing F = (XᵀV⁻¹X)⁻¹, its differential is

       dβ̂ = F XᵀV⁻¹ dV V⁻¹ (Xβ̂ − y) = F XᵀV⁻¹ dV V⁻¹ X β̂ − F XᵀV⁻¹ dV V⁻¹ y,

   so vec dβ̂ = [(V⁻¹Xβ̂)ᵀ ⊗ FXᵀV⁻¹ − (V⁻¹y)ᵀ ⊗ FXᵀV⁻¹] vec dV. kronvec prints
   this closed form, and the example checks it against finite differences.

2. The REML log-likelihood (up to a constant)

       ℓ(V) = −½ [log det V + log det(XᵀV⁻¹X) + yᵀV⁻¹y − yᵀV⁻¹X(XᵀV⁻¹X)⁻¹XᵀV⁻¹y]
            = −½ [log det V + log det(XᵀV⁻¹X) + yᵀPy],
       P = V⁻¹ − V⁻¹X(XᵀV⁻¹X)⁻¹XᵀV⁻¹.

   With V declared symmetric, its gradient (in the space of symmetric
   matrices) is the textbook REML score

       G = ∂ℓ/∂V = ½ (P y yᵀ P − P).

3. A variance-components model V(θ) = σ² I + τ² Z Zᵀ. Because
   dV = dσ² I + dτ² ZZᵀ is symmetric, the chain rule through the symmetric
   gradient G gives

       ∂ℓ/∂σ² = tr(G),    ∂ℓ/∂τ² = tr(G ZZᵀ) = tr(Zᵀ G Z),

   which drive a few steps of projected gradient ascent on (σ², τ²).

Run:  python examples/gls_reml.py
"""
from __future__ import annotations

import textwrap

import numpy as np

import kronvec as kv
from kronvec.testing import dottest, fd_jacobian

N, P_COLS, R = 12, 3, 4          # observations, fixed effects, random effects


def make_data(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """A small simulated mixed model: y = Xβ + Zu + e."""
    X = np.column_stack([np.ones(N), rng.standard_normal((N, P_COLS - 1))])
    Z = np.kron(np.eye(R), np.ones((N // R, 1)))          # R groups of N/R
    beta = np.array([[1.0], [-0.5], [2.0]])
    u = 1.5 * rng.standard_normal((R, 1))                 # true τ² = 2.25
    e = 0.7 * rng.standard_normal((N, 1))                 # true σ² = 0.49
    y = X @ beta + Z @ u + e
    return {"X": X, "Z": Z, "y": y}


def gls_estimator():
    """β̂(V) as a kronvec expression, with V an unconstrained (n, n) symbol."""
    X = kv.Matrix("X", (N, P_COLS))
    V = kv.Matrix("V", (N, N))
    y = kv.Vector("y", N)
    Vi = kv.inv(V)
    F = kv.inv(X.T @ Vi @ X).named("F")
    # Not .named("β"): naming the whole product would hide the inner name F
    # in the printed Jacobian.
    beta = F @ X.T @ Vi @ y
    return beta, V


def reml_loglik():
    """ℓ(V) for a symmetric V, and the symbols it uses."""
    X = kv.Matrix("X", (N, P_COLS))
    V = kv.Matrix("V", (N, N), symmetric=True)
    y = kv.Vector("y", N)
    Vi = kv.inv(V)
    A = X.T @ Vi @ X
    ll = -0.5 * (kv.logdet(V) + kv.logdet(A)
                 + y.T @ Vi @ y - y.T @ Vi @ X @ kv.inv(A) @ X.T @ Vi @ y)
    return ll, V


def reml_score_by_hand(V0: np.ndarray, X0: np.ndarray, y0: np.ndarray) -> np.ndarray:
    """The textbook REML score ½(PyyᵀP − P)."""
    Vi = np.linalg.inv(V0)
    P = Vi - Vi @ X0 @ np.linalg.solve(X0.T @ Vi @ X0, X0.T @ Vi)
    Py = P @ y0
    return 0.5 * (Py @ Py.T - P)


def covariance(s2: float, t2: float, Z0: np.ndarray) -> np.ndarray:
    return s2 * np.eye(N) + t2 * Z0 @ Z0.T


def show(label: str, text: str, width: int = 88) -> None:
    print(f"{label}:")
    print(textwrap.indent(textwrap.fill(text, width, break_on_hyphens=False), "    "))


def part1_gls(data: dict[str, np.ndarray]) -> None:
    print("== 1. GLS: dβ̂/dV ==")
    beta, V = gls_estimator()
    J = kv.jacobian(beta, V)
    print("vec dβ̂ = J vec dV with J =", J)
    print(J.differential(), " (F = (XᵀV⁻¹X)⁻¹, FXᵀV⁻¹y = β̂)")
    print(f"terms: {J.nterms}, dense shape {J.shape}")

    V0 = covariance(0.5, 2.0, data["Z"])
    values = {**data, "V": V0}
    # kronvec.testing.check_jacobian(beta, V, values) does both checks below in one call.
    L = J.at(values)
    err = np.abs(L.to_dense() - fd_jacobian(beta, V, values)).max()
    print(f"max |J - J_fd| = {err:.1e}  (central differences, {N * N} columns)")
    assert err < 1e-6
    dottest(L)                                    # <L h, g> = <h, Lᵀ g>

    # The lazy map applied to one direction equals the hand formula above.
    dV = np.random.default_rng(1).standard_normal((N, N))
    Vi = np.linalg.inv(V0)
    X0, y0 = data["X"], data["y"]
    F0 = np.linalg.inv(X0.T @ Vi @ X0)
    b0 = F0 @ X0.T @ Vi @ y0
    by_hand = F0 @ X0.T @ Vi @ dV @ Vi @ (X0 @ b0 - y0)
    assert np.allclose(L.jvp(dV), by_hand)
    print("jvp matches F XᵀV⁻¹ dV V⁻¹(Xβ̂ − y): ok\n")


def part2_reml(data: dict[str, np.ndarray]) -> None:
    print("== 2. REML: ∂ℓ/∂V for symmetric V ==")
    ll, V = reml_loglik()
    G = kv.grad(ll, V)
    # The pieces print compactly; the sum is correct but not factored into
    # ½(PyyᵀP − P), so the full form is long.
    X, y = kv.Matrix("X", (N, P_COLS)), kv.Vector("y", N)
    print("∂/∂V log det V            =", kv.grad(kv.logdet(V), V))
    print("∂/∂V log det(XᵀV⁻¹X)      =", kv.grad(kv.logdet(X.T @ kv.inv(V) @ X), V))
    print("∂/∂V yᵀV⁻¹y               =", kv.grad(y.T @ kv.inv(V) @ y, V))
    show("∂ℓ/∂V (kronvec, unfactored)", str(G))

    V0 = covariance(0.5, 2.0, data["Z"])
    values = {**data, "V": V0}
    G0 = kv.evaluate(G, values)
    assert np.allclose(G0, G0.T), "the symmetric gradient is symmetric"
    assert np.allclose(G0, reml_score_by_hand(V0, data["X"], data["y"]))
    print("equals ½(PyyᵀP − P): ok")

    # First-order check along a symmetric direction: ℓ(V + εE) − ℓ(V − εE) ≈ 2ε tr(G E).
    E = np.random.default_rng(2).standard_normal((N, N))
    E = E + E.T
    eps = 1e-6
    fd = (kv.evaluate(ll, {**values, "V": V0 + eps * E})
          - kv.evaluate(ll, {**values, "V": V0 - eps * E})) / (2 * eps)
    assert np.isclose(float(np.reshape(fd, ())), np.trace(G0 @ E), rtol=1e-6)
    print("directional finite difference matches tr(G dV): ok\n")


def part3_variance_components(data: dict[str, np.ndarray], max_steps: int = 60) -> None:
    print("== 3. Gradient ascent on V = σ²I + τ²ZZᵀ ==")
    ll, V = reml_loglik()
    G = kv.grad(ll, V)
    Z0 = data["Z"]

    def loglik(theta: np.ndarray) -> float:
        return float(np.reshape(kv.evaluate(ll, {**data, "V": covariance(*theta, Z0)}), ()))

    def score(theta: np.ndarray) -> np.ndarray:
        """(∂ℓ/∂σ², ∂ℓ/∂τ²) = (tr G, tr(ZᵀGZ)) by the chain rule."""
        G0 = kv.evaluate(G, {**data, "V": covariance(*theta, Z0)})
        return np.array([np.trace(G0), np.trace(Z0.T @ G0 @ Z0)])

    # Check the chain rule once against finite differences in (σ², τ²).
    theta = np.array([1.0, 1.0])
    g = score(theta)
    eps = 1e-6
    fd = np.array([(loglik(theta + eps * e) - loglik(theta - eps * e)) / (2 * eps)
                   for e in np.eye(2)])
    assert np.allclose(g, fd, rtol=1e-5)
    print(f"∂ℓ/∂(σ², τ²) at (1, 1) = {np.round(g, 4)}  (finite differences agree)")

    # Ascent in log-parameters (keeps σ², τ² > 0): ∂ℓ/∂log σ² = σ² ∂ℓ/∂σ².
    # Backtracking halves the step until ℓ increases enough (Armijo).
    log_theta, value = np.log(theta), loglik(theta)
    g0 = np.linalg.norm(theta * g)
    step = 1.0
    for it in range(max_steps):
        theta = np.exp(log_theta)
        g = theta * score(theta)
        if it % 10 == 0 and np.linalg.norm(g) >= 1e-6 * g0:
            print(f"  step {it:2d}: ℓ = {value:8.4f}  σ² = {theta[0]:.4f}  τ² = {theta[1]:.4f}"
                  f"  |∇ℓ| = {np.linalg.norm(g):.1e}")
        if np.linalg.norm(g) < 1e-6 * g0:
            break
        step = min(2 * step, 10.0)
        while True:
            trial = log_theta + step * g
            new = loglik(np.exp(trial))
            if new >= value + 1e-4 * step * (g @ g):
                break
            step /= 2
        assert new > value
        log_theta, value = trial, new
    theta = np.exp(log_theta)
    print(f"  stop {it:2d}: ℓ = {value:8.4f}  σ² = {theta[0]:.4f}  τ² = {theta[1]:.4f}"
          f"  |∇ℓ| = {np.linalg.norm(g):.1e}")
    assert np.linalg.norm(g) < 1e-4 * g0, "converged to a stationary point"


def main() -> None:
    data = make_data(np.random.default_rng(0))
    part1_gls(data)
    part2_reml(data)
    part3_variance_components(data)


if __name__ == "__main__":
    main()
