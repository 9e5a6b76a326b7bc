"""Benchmark: the value and the 4 gradients of a two-layer MLP, against hand-written NumPy.

    python benchmarks/bench_mlp.py [--rounds 30] [--fresh 7] [--json out.json]

The network is X (512×128) → tanh(X W1 + b1) (256) → H W2 + b2 (10) with the loss
½ Σ (H W2 + b2 − Y)², the biases rows broadcast over the 512 samples.  Rows, each kronvec /
hand-written in the same process, interleaved round by round, BLAS on one thread:

* ``kv.evaluate([loss, *grads])`` (``grads = kv.grad(loss, [W1, b1, W2, b2])``, the
  recorded plan replayed) vs the forward and backward pass written by hand;
* the function written by ``kv.lambdify`` (NumPy) vs the same;
* the same two in a fresh process: a new interpreter per sample that builds and warms up
  (one call), then times its next five calls, with the page faults of each (``ru_minflt``):
  what a script that runs the computation a few times pays.  The row's times are the median
  over interpreters of each interpreter's median call;
* with JAX installed (not with ``--no-jax``): ``jax.jit`` of the function written by
  ``kv.lambdify(..., backend="jax")`` vs ``jax.jit(jax.value_and_grad(loss, argnums=(2, 3, 4, 5)))``
  of the same loss written in ``jax.numpy`` (float64, XLA on one thread), both compiled before
  timing.

Times are the process's CPU time (``time.process_time``), which other processes on a shared
machine do not inflate the way they inflate the wall clock.

Every result is checked against the hand-written one before it is timed.  Not part of
the test run; see benchmarks/README.md.
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before NumPy is imported: BLAS on one thread
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import argparse  # noqa: E402
import json  # noqa: E402
import resource  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Any, Callable  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

import numpy as np  # noqa: E402

import kronvec as kv  # noqa: E402

N, D, HIDDEN, K = 512, 128, 256, 10
ORDER = ("X", "Y", "W1", "b1", "W2", "b2")
CLOCK = time.process_time  # CPU time of this process: BLAS runs on this thread; a shared machine's
# other processes slow the wall clock of every sample alike but add no CPU time here
TARGETS = {"evaluate": 1.25, "lambdify": 1.1, "jax backend": 1.1}


def values(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {"X": rng.standard_normal((N, D)), "Y": rng.standard_normal((N, K)),
            "W1": rng.standard_normal((D, HIDDEN)) / np.sqrt(D), "b1": rng.standard_normal((1, HIDDEN)),
            "W2": rng.standard_normal((HIDDEN, K)) / np.sqrt(HIDDEN), "b2": rng.standard_normal((1, K))}


def outputs() -> tuple[list[Any], list[Any]]:
    """([loss, ∇W1, ∇b1, ∇W2, ∇b2], the symbols in ORDER)."""
    X, Y = kv.Matrix("X", (N, D)), kv.Matrix("Y", (N, K))
    W1, b1 = kv.Matrix("W1", (D, HIDDEN)), kv.Matrix("b1", (1, HIDDEN))
    W2, b2 = kv.Matrix("W2", (HIDDEN, K)), kv.Matrix("b2", (1, K))
    R = kv.tanh(X @ W1 + b1) @ W2 + b2 - Y
    loss = 0.5 * kv.sum(R * R)
    return [loss, *kv.grad(loss, [W1, b1, W2, b2])], [X, Y, W1, b1, W2, b2]


def hand(X: np.ndarray, Y: np.ndarray, W1: np.ndarray, b1: np.ndarray, W2: np.ndarray,
         b2: np.ndarray) -> tuple[Any, ...]:
    """The forward and backward pass as a person writes it."""
    H = np.tanh(X @ W1 + b1)
    R = H @ W2 + b2 - Y
    dZ = (R @ W2.T) * (1.0 - H * H)
    return 0.5 * np.sum(R * R), X.T @ dZ, dZ.sum(axis=0, keepdims=True), H.T @ R, R.sum(axis=0, keepdims=True)


def callables() -> dict[str, Callable[[], Any]]:
    vals = values()
    args = [vals[name] for name in ORDER]
    outs, symbols = outputs()
    generated = kv.lambdify(symbols, outs)
    fns = {"hand": lambda: hand(*args), "evaluate": lambda: kv.evaluate(outs, vals),
           "lambdify": lambda: generated(*args)}
    expected = fns["hand"]()
    for name in ("evaluate", "lambdify"):
        for got, want in zip(fns[name](), expected):
            np.testing.assert_allclose(np.reshape(got, np.shape(want)), want, rtol=1e-10, atol=1e-10)
    return fns


def jax_callables() -> dict[str, Callable[[], Any]]:
    """``jax.jit`` of kronvec's JAX code and of ``jax.value_and_grad``, compiled and checked."""
    import jax  # optional, for comparison only
    import jax.numpy as jnp
    jax.config.update("jax_enable_x64", True)
    vals = values()
    args = [jnp.asarray(vals[name]) for name in ORDER]
    outs, symbols = outputs()
    generated = jax.jit(kv.lambdify(symbols, outs, backend="jax"))

    def loss(X: Any, Y: Any, W1: Any, b1: Any, W2: Any, b2: Any) -> Any:
        R = jnp.tanh(X @ W1 + b1) @ W2 + b2 - Y
        return 0.5 * jnp.sum(R * R)
    own = jax.jit(jax.value_and_grad(loss, argnums=(2, 3, 4, 5)))

    def ours() -> Any:
        return jax.block_until_ready(generated(*args))

    def theirs() -> Any:
        return jax.block_until_ready(own(*args))
    expected = hand(*[vals[name] for name in ORDER])
    value, grads = theirs()
    for got, want in zip(ours(), expected):
        np.testing.assert_allclose(np.reshape(np.asarray(got), np.shape(want)), want, rtol=1e-10, atol=1e-10)
    for got, want in zip([value, *grads], expected):
        np.testing.assert_allclose(np.reshape(np.asarray(got), np.shape(want)), want, rtol=1e-10, atol=1e-10)
    return {"jax value_and_grad": theirs, "jax backend": ours}


def warm(rounds: int, with_jax: bool = True) -> dict[str, list[float]]:
    fns = callables()
    if with_jax:
        try:
            fns.update(jax_callables())
        except ImportError:
            pass
    times: dict[str, list[float]] = {name: [] for name in fns}
    for r in range(rounds):
        for name, fn in (fns.items() if r % 2 else reversed(fns.items())):
            t = CLOCK()
            for _ in range(5):
                fn()
            times[name].append((CLOCK() - t) / 5)
    return times


def _fresh_sample(name: str, calls: int = 5) -> None:
    """In a new interpreter: set up (one checked call), then time ``calls`` more calls, each with
    its page faults (``ru_minflt``)."""
    fn = callables()[name]
    out = []
    for _ in range(calls):
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t = CLOCK()
        fn()
        elapsed = CLOCK() - t
        out.append({"time": elapsed, "faults": resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults})
    print(json.dumps(out))


def fresh(samples: int) -> dict[str, list[list[dict[str, float]]]]:
    """Per name, per fresh interpreter, the timed calls; the names alternate in every round."""
    out: dict[str, list[list[dict[str, float]]]] = {"hand": [], "evaluate": [], "lambdify": []}
    for r in range(samples):
        for name in (list(out) if r % 2 else list(out)[::-1]):
            run = subprocess.run([sys.executable, os.path.abspath(__file__), "--sample", name],
                                 capture_output=True, text=True, check=True)
            out[name].append(json.loads(run.stdout.strip().splitlines()[-1]))
    return out


def fresh_rows(samples: dict[str, list[list[dict[str, float]]]]) -> list[dict[str, Any]]:
    """kronvec / hand-written in fresh interpreters: the median over interpreters of each one's
    median call (whether glibc hands freed temporaries back to the kernel, and so whether a
    call page-faults, varies between interpreters: the best call is not a fair estimate)."""
    def typical(name: str, key: str) -> float:
        return float(np.median([np.median([c[key] for c in calls]) for calls in samples[name]]))
    rows = []
    for name in ("evaluate", "lambdify"):
        paired = [np.median([c["time"] for c in a]) / np.median([c["time"] for c in b])
                  for a, b in zip(samples[name], samples["hand"])]
        rows.append({"bench": f"{name}, fresh process", "kronvec_s": typical(name, "time"),
                     "numpy_s": typical("hand", "time"), "median_ratio": float(np.median(paired)),
                     "faults": typical(name, "faults"), "numpy_faults": typical("hand", "faults"),
                     "target": TARGETS[name]})
        rows[-1]["ratio"] = rows[-1]["kronvec_s"] / rows[-1]["numpy_s"]
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=30, help="warm rounds (5 calls each)")
    ap.add_argument("--fresh", type=int, default=7, help="fresh-process samples of each")
    ap.add_argument("--no-jax", action="store_true", help="skip the JAX rows")
    ap.add_argument("--sample", help=argparse.SUPPRESS)
    ap.add_argument("--json", metavar="FILE")
    args = ap.parse_args(argv)
    if args.sample:
        _fresh_sample(args.sample)
        return 0
    rows = []
    times = warm(args.rounds, with_jax=not args.no_jax)
    pairs = [("evaluate", "hand"), ("lambdify", "hand"), ("jax backend", "jax value_and_grad")]
    for name, against in pairs:
        if name not in times:
            continue
        t, base = np.array(times[name]), np.array(times[against])
        rows.append({"bench": f"{name}, warm", "kronvec_s": t.min(), "numpy_s": base.min(),
                     "ratio": t.min() / base.min(), "median_ratio": float(np.median(t / base)),
                     "target": TARGETS[name]})
    if args.fresh:
        rows.extend(fresh_rows(fresh(args.fresh)))
    print(f"kronvec {kv.__version__}, NumPy {np.__version__}, BLAS threads 1; MLP {N}×{D}→{HIDDEN}→{K}")
    for r in rows:
        extra = f"  median paired {r['median_ratio']:.2f}"
        if "faults" in r:
            extra += f", page faults a call {r['faults']:.0f} vs {r['numpy_faults']:.0f}"
        verdict = "ok" if r["ratio"] <= r["target"] else "MISSED"
        print(f"{r['bench']:<26} {r['kronvec_s'] * 1e6:9.0f} µs vs {r['numpy_s'] * 1e6:9.0f} µs  "
              f"{r['ratio']:5.2f}×{extra}  (≤ {r['target']}: {verdict})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
