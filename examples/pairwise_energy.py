"""The pairwise-distance energy of jax-ml/jax#787: lazy gradient and Hessian-vector products,
and the dense 3N × 3N Hessian only when asked for.

For N points xᵢ in 3-D (the rows of X, N × 3) the softened distance energy

    E(X) = ½ Σᵢⱼ φ(‖xᵢ − xⱼ‖),   φ(r) = √(r² + ε²),

is written as in NumPy with the (N, N, 3) array of differences
``X[:, None, :] - X[None, :, :]``.  In JAX, ``jax.hessian(E)`` (jacfwd of jacrev) pushes
the 3N basis tangents through that array at once: (3N, N, N, 3) numbers (jax#787 asked
for 551 GB at N = 2483), for a Hessian of 288 MB at N = 2000.  Today's XLA fuses the
batch instead of storing it, but the work stays O(N³).

kronvec differentiates the expression into lazy maps: ``kv.grad(E, X)`` is an expression,
``kv.hessian(E, X).at(X=X0)`` a map whose ``jvp`` is a Hessian-vector product in O(N²)
time and memory, and whose ``to_dense()`` (only on request) is one contraction per term,
O(N²) each, never the (3N, N, N, 3) batch.  The checks below compare them with the closed
forms: ∇ᵢE = Σⱼ φ'(rᵢⱼ) uᵢⱼ and the 3 × 3 blocks Hᵢⱼ = −Kᵢⱼ (i ≠ j), Hᵢᵢ = Σⱼ Kᵢⱼ with
Kᵢⱼ = φ''(r) uuᵀ + φ'(r)/r (I − uuᵀ), u = (xᵢ − xⱼ)/r.

Run:  python examples/pairwise_energy.py                 (N = 40, checks only)
      python examples/pairwise_energy.py --n 2000 --time  (timings; add --jax N... for jax.hessian)
"""
from __future__ import annotations

import argparse
import time

import numpy as np

import kronvec as kv

try:  # only for the comparison with jax.hessian
    import jax
except ImportError:  # pragma: no cover
    jax = None

EPS = 0.1


def energy(n: int) -> tuple[kv.Expr, kv.Expr]:
    """E(X) for a symbol X of N points in 3-D, written with NumPy's broadcasting."""
    X = kv.Matrix("X", (n, 3))
    D = X[:, None, :] - X[None, :, :]
    return 0.5 * kv.sum(kv.sqrt(kv.sum(D * D, axis=-1) + EPS ** 2)), X


def closed_forms(X0: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """E, ∇E and the dense Hessian by the formulas of the docstring, in NumPy."""
    n = len(X0)
    diff = X0[:, None, :] - X0[None, :, :]
    s = np.sum(diff * diff, axis=-1)
    phi = np.sqrt(s + EPS ** 2)
    d1 = 1.0 / phi  # φ'(r)/r
    d2 = -1.0 / phi ** 3  # (φ''(r) − φ'(r)/r)/r²
    gradient = np.einsum("ij,ijc->ic", d1, diff)
    K = d2[:, :, None, None] * diff[:, :, :, None] * diff[:, :, None, :] + d1[:, :, None, None] * np.eye(3)
    H = -K.transpose(0, 2, 1, 3).reshape(3 * n, 3 * n)  # C-order rows: point, then coordinate
    H[np.arange(3 * n), np.arange(3 * n)] = 0.0
    for i in range(n):
        H[3 * i:3 * i + 3, 3 * i:3 * i + 3] = K[i].sum(axis=0) - K[i, i]
    return 0.5 * float(phi.sum()), gradient, H


def c_order(H_vec: np.ndarray, n: int) -> np.ndarray:
    """A Hessian in kronvec's column-major vec order (coordinate, then point) in C order."""
    perm = np.arange(3 * n).reshape(3, n).T.reshape(-1)  # C index 3i + c -> vec index c·n + i
    return H_vec[np.ix_(perm, perm)]


def check(n: int = 40, seed: int = 0) -> None:
    E, X = energy(n)
    X0 = np.random.default_rng(seed).random((n, 3))
    e_ref, g_ref, H_ref = closed_forms(X0)
    np.testing.assert_allclose(kv.evaluate(E, X=X0), e_ref, rtol=1e-12)
    np.testing.assert_allclose(kv.evaluate(kv.grad(E, X), X=X0), g_ref, rtol=1e-10, atol=1e-12)
    L = kv.hessian(E, X).at(X=X0)
    V = np.random.default_rng(seed + 1).standard_normal((n, 3))
    np.testing.assert_allclose(L.jvp(V).reshape(-1), H_ref @ V.reshape(-1), rtol=1e-10, atol=1e-10)
    H = c_order(L.to_dense(), n)
    np.testing.assert_allclose(H, H_ref, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(H.reshape(n, 3, n, 3).sum(axis=2), 0.0, atol=1e-9)  # translations
    print(f"N = {n}: E, ∇E, the HVP and the dense {3 * n}×{3 * n} Hessian equal the closed forms")
    print(f"E = {E}")


def timed(fn: object, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        best = min(best, time.perf_counter() - start)
    return best


def time_kronvec(n: int) -> dict[str, float]:
    E, X = energy(n)
    X0 = np.random.default_rng(0).random((n, 3))
    V = np.random.default_rng(1).standard_normal((n, 3))
    G, J = kv.grad(E, X), kv.hessian(E, X)
    L = J.at(X=X0)
    return {"grad": timed(lambda: kv.evaluate(G, X=X0)),
            "bind": timed(lambda: J.at(X=X0)),
            "hvp": timed(lambda: L.jvp(V)),
            "dense": timed(lambda: L.to_dense(max_bytes=None), repeat=1)}


def time_jax(n: int) -> float:
    """Seconds for jax.hessian (jacfwd of jacrev) of the same energy, compiled, float64."""
    if jax is None:
        raise SystemExit("the comparison needs jax (pip install jax)")
    jax.config.update("jax_enable_x64", True)
    jnp = jax.numpy

    def energy_jax(x: "jax.Array") -> "jax.Array":
        d = x[:, None, :] - x[None, :, :]
        return 0.5 * jnp.sum(jnp.sqrt(jnp.sum(d * d, axis=-1) + EPS ** 2))

    hessian = jax.jit(jax.hessian(energy_jax))
    X0 = jnp.asarray(np.random.default_rng(0).random((n, 3)))
    hessian(X0).block_until_ready()
    return timed(lambda: hessian(X0).block_until_ready(), repeat=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=40, help="number of points")
    parser.add_argument("--time", action="store_true", help="time kronvec at --n")
    parser.add_argument("--jax", type=int, nargs="*", default=[], help="time jax.hessian at these N")
    args = parser.parse_args()
    check(min(args.n, 40))
    if args.time:
        t = time_kronvec(args.n)
        print(f"kronvec, N = {args.n}: grad {t['grad']:.3f} s, Hessian bound {t['bind']:.3f} s, "
              f"HVP {t['hvp']:.3f} s, dense {3 * args.n}×{3 * args.n} Hessian {t['dense']:.2f} s")
    for n in args.jax:
        print(f"jax.hessian, N = {n}: {time_jax(n):.2f} s")


if __name__ == "__main__":
    main()
