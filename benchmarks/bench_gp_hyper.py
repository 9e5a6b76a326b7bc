"""Benchmark: the GP negative log likelihood in its hyperparameters (s, t), value + gradient.

    python benchmarks/bench_gp_hyper.py [--quick] [--sizes 200,1000] [--json out.json]

With K = s·Kx + t·I (Kx a symmetric kernel matrix, s, t scalar symbols),
f = ½ yᵀK⁻¹y + ½ log det K and its gradient in (s, t),

    ∂f/∂s = ½ (tr(K⁻¹Kx) − yᵀK⁻¹KxK⁻¹y),   ∂f/∂t = ½ (tr(K⁻¹) − yᵀK⁻²y),

``kv.evaluate([f, kv.grad(f, s), kv.grad(f, t)], ...)`` with new (s, t) every
call against the hand-written Cholesky form a person writes: ``potrf``, one
``potrs`` for α = K⁻¹y, ``potri`` for K⁻¹, then tr(K⁻¹Kx) = Σ K⁻¹ ⊙ Kx,
yᵀK⁻²y = ‖α‖² and yᵀK⁻¹KxK⁻¹y = αᵀKxα (about n³ flops).  kronvec is never told
that K is symmetric: it infers it from the form of s·Kx + t·I.  Target ≤ 1.2×
at n = 200 and 1000.  Interleaved in one process (the ``Timer`` of bench_gls.py),
BLAS pinned to one thread; the results are checked against each other before
they are timed.  Not part of the test run; see benchmarks/README.md.
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before NumPy is imported: BLAS on one thread

import argparse  # noqa: E402
import itertools  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from scipy.linalg import lapack  # noqa: E402

from bench_gls import Timer, paired_ratio  # noqa: E402  (also puts the repository on sys.path)

import kronvec as kv  # noqa: E402

TARGET = 1.2
SIZES = [200, 1000]
HYPER = [(1.3, 0.7), (0.8, 0.2), (2.0, 1.1)]  # (s, t) cycled through: a new K every call


def kernel(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A squared-exponential kernel matrix on n random points in 3-D, and a target y."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3))
    Kx = np.exp(-0.5 * ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    return Kx, rng.standard_normal(n)


def by_hand(Kx: np.ndarray, y: np.ndarray, s: float, t: float) -> tuple[float, float, float]:
    """f, ∂f/∂s, ∂f/∂t from one Cholesky factorization (potrf, potrs, potri)."""
    K = s * Kx
    K[np.diag_indices_from(K)] += t
    c, info = lapack.dpotrf(K, lower=0, clean=0)
    if info != 0:
        raise np.linalg.LinAlgError(f"dpotrf info={info}")
    alpha, _ = lapack.dpotrs(c, y, lower=0)
    kinv, _ = lapack.dpotri(c, lower=0)  # the upper triangle of K⁻¹
    kinv = np.triu(kinv)
    kinv += np.triu(kinv, 1).T
    f = 0.5 * float(y @ alpha) + float(np.log(np.diagonal(c)).sum())
    ds = 0.5 * (float(np.dot(kinv.ravel(), Kx.ravel())) - float(alpha @ (Kx @ alpha)))
    dt = 0.5 * (float(np.trace(kinv)) - float(alpha @ alpha))
    return f, ds, dt


def expressions(n: int) -> list[kv.Expr]:
    Kx, y = kv.Matrix("Kx", (n, n)), kv.Vector("y", n)
    s, t = kv.Scalar("s"), kv.Scalar("t")
    K = s * Kx + t * kv.eye(n)
    f = 0.5 * (y.T @ kv.inv(K) @ y) + 0.5 * kv.logdet(K)
    return [f, kv.grad(f, s), kv.grad(f, t)]


def bench_size(n: int, timer: Timer) -> dict[str, Any]:
    Kx0, y0 = kernel(n)
    exprs = expressions(n)
    for s0, t0 in HYPER:
        got = [float(np.ravel(v)[0]) for v in kv.evaluate(exprs, Kx=Kx0, y=y0, s=s0, t=t0)]
        np.testing.assert_allclose(got, by_hand(Kx0, y0, s0, t0), rtol=1e-8)
    ours_it, theirs_it = itertools.cycle(HYPER), itertools.cycle(HYPER)

    def ours() -> Any:
        s0, t0 = next(ours_it)
        return kv.evaluate(exprs, Kx=Kx0, y=y0, s=s0, t=t0)

    def theirs() -> Any:
        return by_hand(Kx0, y0, *next(theirs_it))

    t_ours, t_theirs = timer.pair([ours, theirs])
    ratio = min(t_ours) / min(t_theirs)
    return {"size": f"n={n}", "kronvec_s": min(t_ours), "hand_s": min(t_theirs), "ratio": ratio,
            "paired_ratio": paired_ratio(t_ours, t_theirs), "target": TARGET, "ok": ratio <= TARGET}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="short timings")
    ap.add_argument("--sizes", help="comma-separated n list, e.g. 200,1000")
    ap.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = ap.parse_args(argv)
    sizes = [int(x) for x in args.sizes.split(",")] if args.sizes else SIZES
    timer = Timer(target=0.05, repeat=7, budget=2.0) if args.quick else \
        Timer(target=0.2, repeat=15, budget=8.0)
    print(f"kronvec {kv.__version__}, NumPy {np.__version__}, Python {platform.python_version()}, "
          f"BLAS threads: {os.environ['OPENBLAS_NUM_THREADS']}")
    print(f"{'size':>7}  {'kronvec':>10} {'by hand':>10} {'ratio':>6} {'paired':>6}  target")
    rows = []
    for n in sizes:
        row = bench_size(n, timer)
        rows.append(row)
        print(f"{row['size']:>7}  {row['kronvec_s'] * 1e3:8.2f}ms {row['hand_s'] * 1e3:8.2f}ms "
              f"{row['ratio']:6.2f} {row['paired_ratio']:6.2f}  "
              f"≤ {TARGET}: {'ok' if row['ok'] else 'MISSED'}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rows": rows, "python": platform.python_version(), "numpy": np.__version__}, fh,
                      indent=2)
    return 0 if all(r["ok"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
