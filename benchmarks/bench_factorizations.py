"""Benchmark: bound JVPs and VJPs of cholesky and eigh against the hand-written closed form.

    python benchmarks/bench_factorizations.py [--sizes 100,500] [--no-jax] [--budget 2]

BLAS is pinned to one thread (set before NumPy is imported).  For each size n
and each derivative, the map bound once (``kv.jacobian(F, A).at(A=A0)``) is
applied to a tangent and timed side by side, interleaved, with a hand-written
NumPy/SciPy implementation of the same closed form (target: at most 1.3× its
time) and, when JAX is importable, with ``jax.linearize`` / ``jax.vjp`` of
``jnp.linalg.cholesky`` / ``jnp.linalg.eigh``, jitted (the same bound use):

* cholesky: dL = L Φ(L⁻¹ dAₛ L⁻ᵀ) (two ``trsm``, a product); VJP
  Ā = foldₗ(L⁻ᵀ Φ(Lᵀ L̄) L⁻¹);
* eigh, eigenvectors: dV = V (F ⊙ Vᵀ dAₛ V); VJP Ā = foldₗ(V (F ⊙ Vᵀ V̄) Vᵀ);
* eigh, eigenvalues: dw = diag(Vᵀ dAₛ V); VJP Ā = foldₗ(V diag(w̄) Vᵀ).

dAₛ is the symmetric matrix mirrored from the lower triangle (what NumPy
reads); the hand-written versions do the same.  Not part of the test run.
"""
from __future__ import annotations

import argparse
import os
import sys

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()

import numpy as np  # noqa: E402
from scipy.linalg import blas  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
import kronvec as kv  # noqa: E402
from bench_gls import Timer, load_jax, paired_ratio  # noqa: E402

TARGET = 1.3


# ------------------------------------------------------- hand-written closed forms
def mirror(h: np.ndarray) -> np.ndarray:
    return np.tril(h) + np.tril(h, -1).T


def fold(g: np.ndarray) -> np.ndarray:
    return np.tril(g) + np.triu(g, 1).T


def phi(x: np.ndarray) -> np.ndarray:
    out = np.tril(x)
    out[np.diag_indices_from(out)] *= 0.5
    return out


def numpy_cholesky(L: np.ndarray) -> tuple:
    Lf = np.asfortranarray(L)

    def jvp(h: np.ndarray) -> np.ndarray:  # L Φ(L⁻¹ hₛ L⁻ᵀ)
        x = blas.dtrsm(1.0, Lf, mirror(h), lower=1)                 # L⁻¹ hₛ
        x = blas.dtrsm(1.0, Lf, x, side=1, lower=1, trans_a=1)      # · L⁻ᵀ
        return L @ phi(x)

    def vjp(g: np.ndarray) -> np.ndarray:  # foldₗ(L⁻ᵀ Φ(Lᵀ g) L⁻¹)
        x = blas.dtrsm(1.0, Lf, phi(L.T @ g), lower=1, trans_a=1)   # L⁻ᵀ ·
        x = blas.dtrsm(1.0, Lf, x, side=1, lower=1)                 # · L⁻¹
        return fold(x)
    return jvp, vjp


def numpy_eigh(w: np.ndarray, V: np.ndarray) -> tuple:
    gaps = w[None, :] - w[:, None]
    np.fill_diagonal(gaps, 1.0)
    F = 1.0 / gaps
    np.fill_diagonal(F, 0.0)

    def vec_jvp(h: np.ndarray) -> np.ndarray:
        return V @ (F * (V.T @ mirror(h) @ V))

    def vec_vjp(g: np.ndarray) -> np.ndarray:
        return fold(V @ (F * (V.T @ g)) @ V.T)

    def val_jvp(h: np.ndarray) -> np.ndarray:
        return np.einsum("ij,ij->j", V, mirror(h) @ V)[:, None]

    def val_vjp(g: np.ndarray) -> np.ndarray:
        return fold((V * g[:, 0]) @ V.T)
    return vec_jvp, vec_vjp, val_jvp, val_vjp


# ------------------------------------------------------------------ JAX
def jax_maps(jax: object, A0: np.ndarray, which: str) -> tuple:
    jnp = jax.numpy  # type: ignore[attr-defined]
    if which == "cholesky":
        f = jnp.linalg.cholesky
    elif which == "eigh_V":
        def f(a):  # type: ignore[no-untyped-def]
            return jnp.linalg.eigh(a)[1]
    else:
        def f(a):  # type: ignore[no-untyped-def]
            return jnp.linalg.eigh(a)[0]
    a = jnp.asarray(A0)
    _, lin = jax.linearize(f, a)  # type: ignore[attr-defined]
    _, back = jax.vjp(f, a)  # type: ignore[attr-defined]
    jvp, vjp = jax.jit(lin), jax.jit(lambda g: back(g)[0])  # type: ignore[attr-defined]
    return (lambda h: jvp(h).block_until_ready()), (lambda g: vjp(g).block_until_ready())


# ------------------------------------------------------------------ runs
def spd(n: int, seed: int = 0) -> np.ndarray:
    r = np.random.default_rng(seed)
    a = r.standard_normal((n, n))
    return a @ a.T / n + np.eye(n)


def bench(n: int, timer: Timer, jax: object | None) -> list[tuple]:
    A0 = spd(n)
    r = np.random.default_rng(1)
    H = r.standard_normal((n, n))
    A = kv.Matrix("A", (n, n))
    w, V = kv.eigh(A)
    L0 = np.linalg.cholesky(A0)
    w0, V0 = np.linalg.eigh(A0)
    chol_j, chol_v = numpy_cholesky(L0)
    vec_j, vec_v, val_j, val_v = numpy_eigh(w0, V0)
    cases = [("cholesky", kv.cholesky(A), chol_j, chol_v), ("eigh V", V, vec_j, vec_v),
             ("eigh w", w, val_j, val_v)]
    rows = []
    for name, F, hand_jvp, hand_vjp in cases:
        Lmap = kv.jacobian(F, A).at(A=A0)
        G = r.standard_normal(F.shape)
        assert np.allclose(Lmap.jvp(H), hand_jvp(H), atol=1e-8 * max(1.0, np.abs(hand_jvp(H)).max()))
        assert np.allclose(Lmap.vjp(G), hand_vjp(G), atol=1e-8 * max(1.0, np.abs(hand_vjp(G)).max()))
        jx = jax_maps(jax, A0, {"cholesky": "cholesky", "eigh V": "eigh_V", "eigh w": "eigh_w"}[name]) \
            if jax is not None else None
        Hs = mirror(H)  # JAX's derivatives assume a symmetric input: give it dAₛ
        Gj = G[:, 0] if name == "eigh w" else G
        for mode, ours, hand, their in (
                ("JVP", lambda: Lmap.jvp(H), lambda: hand_jvp(H), jx and (lambda: jx[0](Hs))),
                ("VJP", lambda: Lmap.vjp(G), lambda: hand_vjp(G), jx and (lambda: jx[1](Gj)))):
            fns = [ours, hand] + ([their] if their else [])
            times = timer.pair(fns)
            kvt, npt = min(times[0]), min(times[1])
            jt = min(times[2]) if their else None
            rows.append((n, name, mode, kvt, npt, paired_ratio(times[0], times[1]), jt,
                         None if jt is None else paired_ratio(times[0], times[2])))
    return rows


def fmt(t: float | None) -> str:
    if t is None:
        return "—"
    return f"{t * 1e6:.0f} µs" if t < 1e-3 else f"{t * 1e3:.2f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="100,500")
    parser.add_argument("--no-jax", action="store_true")
    parser.add_argument("--budget", type=float, default=2.0, help="seconds per timed pair")
    args = parser.parse_args(argv)
    jax = None if args.no_jax else load_jax()
    timer = Timer(target=0.05, repeat=30, budget=args.budget)
    rows = [row for n in map(int, args.sizes.split(",")) for row in bench(n, timer, jax)]
    print(f"BLAS threads: 1; JAX: {'jax ' + jax.__version__ if jax else 'not used'}")  # type: ignore[attr-defined]
    print("| n | derivative | mode | kronvec | NumPy/SciPy | kronvec/NumPy | JAX | kronvec/JAX |")
    print("|---|---|---|---|---|---|---|---|")
    worst = 0.0
    for n, name, mode, kvt, npt, ratio, jt, jr in rows:
        worst = max(worst, ratio)
        print(f"| {n} | {name} | {mode} | {fmt(kvt)} | {fmt(npt)} | {ratio:.2f}× | {fmt(jt)} | "
              f"{'—' if jr is None else f'{jr:.2f}×'} |")
    verdict = "met" if worst <= TARGET else "MISSED"
    print(f"worst kronvec/NumPy ratio {worst:.2f}× (target ≤ {TARGET}×): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
