"""Benchmark: the logistic-regression Hessian-vector product, bound once, against NumPy.

    python benchmarks/bench_logistic.py [--quick] [--sizes 2048x256,...] [--json out.json]

For f(w) = Σ softplus(Xw) − yᵀXw kronvec derives the Hessian
∇²f(w) = Xᵀ diag(σ(Xw) ⊙ (1 − σ(Xw))) X as one structured term (a diagonal
between X and Xᵀ).  Bound once, ``H = kv.hessian(f, w).at(X=X0, y=y0, w=w0)``,
each ``H.jvp(v)`` should cost what the hand-written NumPy ``X.T @ (D * (X @ v))``
with D precomputed costs: two matrix-vector products and a scaling.  Rows,
each kronvec / NumPy in the same process, interleaved (the ``Timer`` of
bench_gls.py), BLAS pinned to one thread:

* bound HVP: ``H.jvp(v)`` vs ``X.T @ (D * (X @ v))`` (target ≤ 1.2× at (2048, 256));
* operator matvec: ``H.aslinearoperator().matvec(v)`` (a 1-D vec, as CG calls
  it) vs the same NumPy on a 1-D vector;
* 16 vectors at once: ``H @ V`` for V of shape (d, 16) vs ``X.T @ (D * (X @ V))``;
* first use: ``kv.hessian(f, w).at(...).jvp(v)`` (evaluates σ(Xw) and D) vs NumPy
  computing D with ``scipy.special.expit`` and one HVP;
* first use with a new w every call and the same read-only X (a Newton loop), the same
  against NumPy (target ≤ 1.2× at (2048, 256)).

Every result is checked against the NumPy one before it is timed.  Not part of
the test run; see benchmarks/README.md.
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before NumPy is imported: BLAS on one thread

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
from typing import Any, Callable  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402
from scipy.special import expit  # noqa: E402

from bench_gls import Timer, paired_ratio  # noqa: E402  (also puts the repository on sys.path)

import kronvec as kv  # noqa: E402

TARGET = 1.2          # for the bound HVP at the target size
TARGET_SIZE = (2048, 256)
FULL_SIZES = [(2048, 256), (512, 64), (8192, 512)]
QUICK_SIZES = [(2048, 256)]


def problem(n: int, d: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    w = rng.standard_normal((d, 1))
    y = (rng.random((n, 1)) < expit(X @ w)).astype(float)
    return {"X": X, "y": y, "w": w}


def hessian(n: int, d: int) -> kv.Jacobian:
    X, w, y = kv.Matrix("X", (n, d)), kv.Vector("w", d), kv.Vector("y", n)
    return kv.hessian(kv.sum(kv.softplus(X @ w)) - y.T @ X @ w, w)


def compare(timer: Timer, name: str, ours: Callable[[], Any], theirs: Callable[[], Any],
            target: float | None) -> dict[str, Any]:
    np.testing.assert_allclose(np.asarray(ours()).reshape(-1), np.asarray(theirs()).reshape(-1),
                               rtol=1e-10, atol=1e-12)
    t_ours, t_theirs = timer.pair([ours, theirs])
    best = min(t_ours) / min(t_theirs)
    return {"bench": name, "kronvec_s": min(t_ours), "numpy_s": min(t_theirs), "ratio": best,
            "paired_ratio": paired_ratio(t_ours, t_theirs), "target": target,
            "ok": None if target is None else best <= target}


def bench_size(n: int, d: int, timer: Timer) -> list[dict[str, Any]]:
    values = problem(n, d)
    X0, w0 = values["X"], values["w"]
    J = hessian(n, d)
    H = J.at(values)
    z = X0 @ w0
    D = expit(z) * expit(-z)
    rng = np.random.default_rng(1)
    v, v1, V = rng.standard_normal((d, 1)), rng.standard_normal(d), rng.standard_normal((d, 16))
    op = H.aslinearoperator()

    def first_use_numpy() -> np.ndarray:
        s = expit(X0 @ w0)
        return X0.T @ ((s * (1 - s)) * (X0 @ v))

    # a Newton or trust-region loop: the data fixed (and read-only), a new iterate w every call
    X_fixed = X0.copy()
    X_fixed.flags.writeable = False
    iterates = [rng.standard_normal((d, 1)) for _ in range(16)]
    step = [0, 0]

    def new_w_kronvec() -> np.ndarray:
        step[0] += 1
        return J.at(X=X_fixed, y=values["y"], w=iterates[step[0] % 16]).jvp(v)

    def new_w_numpy() -> np.ndarray:
        step[1] += 1
        s = expit(X_fixed @ iterates[step[1] % 16])
        return X_fixed.T @ ((s * (1 - s)) * (X_fixed @ v))

    rows = [
        compare(timer, "bound HVP H.jvp(v)", lambda: H.jvp(v), lambda: X0.T @ (D * (X0 @ v)),
                TARGET if (n, d) == TARGET_SIZE else None),
        compare(timer, "operator matvec (1-D)", lambda: op.matvec(v1),
                lambda: X0.T @ (D[:, 0] * (X0 @ v1)), None),
        compare(timer, "16 vectors H @ V", lambda: H @ V, lambda: X0.T @ (D * (X0 @ V)), None),
        compare(timer, "first use at(...).jvp(v)", lambda: J.at(values).jvp(v), first_use_numpy, None),
        compare(timer, "first use, new w, X read-only", new_w_kronvec, new_w_numpy,
                TARGET if (n, d) == TARGET_SIZE else None),
    ]
    for row in rows:
        row["size"] = f"{n}x{d}"
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="(2048, 256) only, short timings")
    ap.add_argument("--sizes", help="comma-separated NxD list, e.g. 2048x256,8192x512")
    ap.add_argument("--json", metavar="FILE", help="also write the rows as JSON")
    args = ap.parse_args(argv)
    sizes = [tuple(int(x) for x in s.split("x")) for s in args.sizes.split(",")] if args.sizes \
        else (QUICK_SIZES if args.quick else FULL_SIZES)
    timer = Timer(target=0.002, repeat=9, budget=0.3) if args.quick else \
        Timer(target=0.02, repeat=25, budget=2.0)
    print(f"kronvec {kv.__version__}, NumPy {np.__version__}, Python {platform.python_version()}, "
          f"BLAS threads: {os.environ['OPENBLAS_NUM_THREADS']}")
    print(f"{'size':>10}  {'benchmark':<26} {'kronvec':>10} {'NumPy':>10} {'ratio':>6} "
          f"{'paired':>6}  target")
    rows: list[dict[str, Any]] = []
    for n, d in sizes:
        for row in bench_size(n, d, timer):
            rows.append(row)
            verdict = "" if row["target"] is None else \
                f"≤ {row['target']:.1f}: {'ok' if row['ok'] else 'MISSED'}"
            print(f"{row['size']:>10}  {row['bench']:<26} {row['kronvec_s'] * 1e6:8.1f}µs "
                  f"{row['numpy_s'] * 1e6:8.1f}µs {row['ratio']:6.2f} {row['paired_ratio']:6.2f}  {verdict}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"rows": rows, "python": platform.python_version(), "numpy": np.__version__}, fh,
                      indent=2)
    return 0 if all(r["ok"] is not False for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
