"""Benchmark: the time to BUILD derivatives of programs, as the program grows.

    python benchmarks/bench_programs.py [--quick] [--no-jax] [--json out.json]

Each size runs in a fresh interpreter (interning would otherwise share nodes
between sizes), BLAS pinned to one thread; the time is the best of five
builds with fresh symbol names, in CPU time of the process (so that other
work on the machine does not count).  Rows:

1. ``kv.grad(f, [W₁, b₁, …, W_L, b_L])`` of an L-layer tanh MLP (X 64×32,
   W 32×32, b 1×32), loss Σ H⊙H and Σ logsumexp(H, rows), L = 8 … 64;
2. ``kv.grad`` of a tanh chain H ← tanh(H W_i) in all W_i;
3. ``kv.hessian(tr(A₁X⋯A_kX), X)``, k = 8 … 32 (k² terms);
4. with JAX: ``jax.jit(jax.grad(f)).lower(...).compile()`` of the MLP loss in
   all parameters (trace + compile), at each L;
5. ``mlp-first-use``: the same gradient built and then evaluated once
   (``kv.evaluate([f, *grads])``, which plans the evaluation): what a program
   pays before its first numbers, to set beside JAX's trace + compile.

Prints times and the growth exponent (least-squares slope of log time against
log size).  Then, unless ``--no-sizes``: the printed size (characters) of
softmax nested 10 and 20 deep (``str`` of F, ``str`` and ``differential()`` of
``kv.jacobian(F, X)`` and of ``kv.jacobian(Σ F, X)``, ``str`` of the gradient;
target ≤ 100,000 and at most 3× the size at depth 10), and the time of
``import kronvec`` against ``import numpy, scipy.linalg`` in fresh interpreters
(CPU time, bytecode cached, the two alternated, median and best of 15; target ≤ 1.15×;
``bench_import.py`` times it alone, with a breakdown).
Not part of the test run; see benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import gc
import json
import math
import os
import statistics
import subprocess
import sys
import time

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(BENCH_DIR, os.pardir)
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

from bench_import import import_times  # noqa: E402  (the import row; see bench_import.py)


def _mlp(kv, L, tag, loss="squares", n=64, d=32):
    H = kv.Matrix(f"X{tag}", (n, d))
    params = []
    for i in range(L):
        W, b = kv.Matrix(f"W{i}{tag}", (d, d)), kv.Matrix(f"b{i}{tag}", (1, d))
        params += [W, b]
        H = kv.tanh(H @ W + b)
    f = kv.sum(H * H) if loss == "squares" else kv.sum(kv.logsumexp(H, axis=1))
    return f, params


def _chain(kv, L, tag, d=8):
    H = kv.Matrix(f"X{tag}", (d, d))
    params = [kv.Matrix(f"W{i}{tag}", (d, d)) for i in range(L)]
    for W in params:
        H = kv.tanh(H @ W)
    return kv.sum(H * H), params


def _product_trace(kv, k, tag, n=6):
    X = kv.Matrix(f"X{tag}", (n, n))
    P = None
    for i in range(k):
        term = kv.Matrix(f"A{i}{tag}", (n, n)) @ X
        P = term if P is None else P @ term
    return kv.trace(P), X


def _first_use(kv, L, tag, n=64, d=32):
    """Build the MLP gradient and evaluate the loss and it once (planning included)."""
    import numpy as np
    f, params = _mlp(kv, L, tag)
    grads = kv.grad(f, params)
    rng = np.random.default_rng(0)
    values = {p.params.name: 0.3 * rng.standard_normal(p.shape) for p in params}
    values[f"X{tag}"] = rng.standard_normal((n, d))
    return kv.evaluate([f, *grads], values)


def _best(build, repeats=5):
    times = []
    gc.disable()  # as timeit does: a collection pass belongs to no build in particular
    try:
        for r in range(repeats):
            t = time.process_time()
            build(f"_{r}")
            times.append(time.process_time() - t)
    finally:
        gc.enable()
    return min(times)


def _jax_compile(L, n=64, d=32):
    import jax
    import jax.numpy as jnp
    import numpy as np

    def loss(params, X):
        H = X
        for W, b in params:
            H = jnp.tanh(H @ W + b)
        return jnp.sum(H * H)
    rng = np.random.default_rng(0)
    params = [(jnp.asarray(rng.standard_normal((d, d))), jnp.asarray(rng.standard_normal((1, d))))
              for _ in range(L)]
    X = jnp.asarray(rng.standard_normal((n, d)))
    t = time.process_time()
    jax.jit(jax.grad(loss)).lower(params, X).compile()
    return time.process_time() - t


def one(row: str, size: int) -> float:
    """The build time of one row at one size (run in a fresh interpreter)."""
    sys.path.insert(0, ROOT)
    import kronvec as kv
    if row == "jax":
        _jax_compile(2)  # jax's own start-up is not the program's cost
        return _jax_compile(size)
    if row == "mlp-first-use":
        def build(tag):
            return _first_use(kv, size, tag)
    elif row.startswith("mlp"):
        def build(tag):
            f, params = _mlp(kv, size, tag, loss=row.split("-")[1])
            return kv.grad(f, params)
    elif row == "chain":
        def build(tag):
            f, params = _chain(kv, size, tag)
            return kv.grad(f, params)
    else:
        def build(tag):
            f, X = _product_trace(kv, size, tag)
            return kv.hessian(f, X)
    return _best(build)


def slope(sizes, times):
    xs, ys = [math.log(s) for s in sizes], [math.log(t) for t in times]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)


def printed_sizes() -> dict[int, dict[str, int]]:
    """Characters of the printed forms of softmax nested 10 and 20 deep."""
    sys.path.insert(0, ROOT)
    import kronvec as kv
    X, F, sizes = kv.Matrix("X", (3, 3)), None, {}
    F = X
    for depth in range(1, 21):
        F = kv.softmax(F)
        if depth in (10, 20):
            J, Js = kv.jacobian(F, X), kv.jacobian(kv.sum(F), X)
            sizes[depth] = {"str(F)": len(str(F)), "str(J)": len(str(J)),
                            "J.differential()": len(J.differential()), "str(J of ΣF)": len(str(Js)),
                            "(J of ΣF).differential()": len(Js.differential()),
                            "str(grad ΣF)": len(str(kv.grad(kv.sum(F), X)))}
    return sizes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-jax", action="store_true")
    ap.add_argument("--no-sizes", action="store_true", help="skip the printed sizes and the import")
    ap.add_argument("--only", help="comma-separated rows to run")
    ap.add_argument("--json")
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(repr(one(args.one[0], int(args.one[1]))))
        return
    layers = [8, 16, 32] if args.quick else [8, 16, 32, 64]
    rows = {"mlp-squares": layers, "mlp-logsumexp": layers, "chain": layers + ([] if args.quick else [80]),
            "hessian": [8, 16, 32] if args.quick else [8, 16, 24, 32], "mlp-first-use": layers}
    if not args.no_jax:
        rows["jax"] = layers
    if args.only:
        rows = {k: v for k, v in rows.items() if k in args.only.split(",")}
    results = {}
    for row, sizes in rows.items():
        times = []
        for size in sizes:
            out = subprocess.run([sys.executable, __file__, "--one", row, str(size)],
                                 capture_output=True, text=True, check=True)
            times.append(float(out.stdout.strip().splitlines()[-1]))
        results[row] = {"sizes": sizes, "seconds": times, "exponent": slope(sizes, times)}
        cells = "  ".join(f"{s}: {t * 1e3:8.1f} ms" for s, t in zip(sizes, times))
        print(f"{row:14s} {cells}   growth exponent {results[row]['exponent']:.2f}", flush=True)
    if not args.no_sizes:
        sizes = printed_sizes()
        results["printed sizes"] = sizes
        for what in sizes[10]:
            ten, twenty = sizes[10][what], sizes[20][what]
            ok = twenty <= 100_000 and twenty <= 3 * ten
            print(f"softmax nested, {what:26s} depth 10: {ten:7d}  depth 20: {twenty:7d}  "
                  f"({twenty / ten:.2f}×; ≤ 100,000 and ≤ 3×: {'ok' if ok else 'MISSED'})")
        ours, theirs = import_times()
        results["import"] = {"kronvec": ours, "numpy, scipy.linalg": theirs}
        ratio, best = statistics.median(ours) / statistics.median(theirs), min(ours) / min(theirs)
        print(f"import kronvec {statistics.median(ours) * 1e3:.1f} ms (best {min(ours) * 1e3:.1f}) vs "
              f"numpy, scipy.linalg {statistics.median(theirs) * 1e3:.1f} ms (best {min(theirs) * 1e3:.1f}): "
              f"{ratio:.2f}× (best {best:.2f}×; ≤ 1.15: {'ok' if ratio <= 1.15 else 'MISSED'})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
