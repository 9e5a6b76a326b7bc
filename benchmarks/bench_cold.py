"""Benchmark: cold first use (derive + bind + one JVP of a never-seen expression) against the
first call of the same function in the autodiff frameworks that are installed.

    python benchmarks/bench_cold.py [--samples 40] [--sizes 20x5,100x20]

kronvec: new symbols every sample, F = (Xᵀ V⁻¹ X)⁻¹ with V positive definite,
``kv.jacobian(F, V).at(X=X0, V=V0).jvp(H)`` (the expression, its derivative, the plan of the
evaluation and the JVP, all new).  Two more kronvec rows for sizes given as names: the same with
``kv.Matrix("X", ("n", "m"))`` (derived without numbers, then at the sizes the values fix), and
"names, planned": a symbolic derivative bound before at other sizes (n + 1, m + 1), bound at
these for the first time (derived at these sizes; the plan recorded at the others is replayed).
torch.func: ``torch.func.jvp`` of a new Python function computing the same F
(``torch.linalg.solve``, ``torch.linalg.inv``), first call; autograd (HIPS), if installed:
``autograd.make_jvp`` of a new function, first call.  Interleaved sample
by sample, BLAS and torch on one thread, CPU time of the process (``time.process_time``), which
other processes on a shared machine do not inflate.  The results are checked against each other.
"""
from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"  # before NumPy is imported: BLAS on one thread

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from typing import Any, Callable  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np  # noqa: E402

from bench_gls import make_problem  # noqa: E402  (also puts the repository on sys.path)

import kronvec as kv  # noqa: E402

CLOCK = time.process_time


def kronvec_cold(n: int, m: int, X0: np.ndarray, V0: np.ndarray, H: np.ndarray) -> Callable[[int], Any]:
    def run(k: int) -> Any:
        X = kv.Matrix(f"X{k}", (n, m))
        V = kv.Matrix(f"V{k}", (n, n), positive_definite=True)
        J = kv.jacobian(kv.inv(X.T @ kv.inv(V) @ X), V)
        return J.at({f"X{k}": X0, f"V{k}": V0}).jvp(H)
    return run


def kronvec_named(X0: np.ndarray, V0: np.ndarray, H: np.ndarray) -> Callable[[int], Any]:
    def run(k: int) -> Any:
        X = kv.Matrix(f"Xn{k}", ("n", "m"))  # names of their own: at the bound sizes they are new too
        V = kv.Matrix(f"Vn{k}", ("n", "n"), positive_definite=True)
        J = kv.jacobian(kv.inv(X.T @ kv.inv(V) @ X), V)
        return J.at({f"Xn{k}": X0, f"Vn{k}": V0}).jvp(H)
    return run


def kronvec_planned(X0: np.ndarray, V0: np.ndarray, H: np.ndarray, samples: int) -> Callable[[int], Any]:
    """Derivatives with sizes as names, each bound once at (n + 1, m + 1) before the timing."""
    n, m = X0.shape
    rng = np.random.default_rng(0)
    X1, R = rng.standard_normal((n + 1, m + 1)), rng.standard_normal((n + 1, n + 1))
    prepared: dict[int, Any] = {}
    for k in [*range(samples), 10 ** 6, 10 ** 6 + 1]:
        X = kv.Matrix(f"Xp{k}", ("n", "m"))
        V = kv.Matrix(f"Vp{k}", ("n", "n"), positive_definite=True)
        prepared[k] = kv.jacobian(kv.inv(X.T @ kv.inv(V) @ X), V)
        prepared[k].at({f"Xp{k}": X1, f"Vp{k}": R @ R.T + (n + 1) * np.eye(n + 1)})

    def run(k: int) -> Any:
        return prepared.pop(k).at({f"Xp{k}": X0, f"Vp{k}": V0}).jvp(H)
    return run


def torch_cold(X0: np.ndarray, V0: np.ndarray, H: np.ndarray) -> Callable[[int], Any] | None:
    if importlib.util.find_spec("torch") is None:
        return None
    import torch  # noqa: PLC0415  (optional, for comparison only)
    import torch.func  # noqa: PLC0415
    torch.set_num_threads(1)
    Xt, Vt, Ht = (torch.from_numpy(a) for a in (X0, V0, H))

    def run(k: int) -> Any:
        def F(V: Any) -> Any:  # a new function object every sample
            return torch.linalg.inv(Xt.T @ torch.linalg.solve(V, Xt))
        return torch.func.jvp(F, (Vt,), (Ht,))[1].numpy()
    return run


def autograd_cold(X0: np.ndarray, V0: np.ndarray, H: np.ndarray) -> Callable[[int], Any] | None:
    if importlib.util.find_spec("autograd") is None:
        return None
    import autograd  # noqa: PLC0415
    import autograd.numpy as anp  # noqa: PLC0415

    def run(k: int) -> Any:
        def F(V: Any) -> Any:
            return anp.linalg.inv(X0.T @ anp.linalg.solve(V, X0))
        return autograd.make_jvp(F)(V0)(H)[1]
    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--samples", type=int, default=40)
    ap.add_argument("--sizes", default="20x5,100x20")
    args = ap.parse_args(argv)
    print(f"kronvec {kv.__version__}, NumPy {np.__version__}, one thread, CPU time; best and median of "
          f"{args.samples} interleaved samples")
    for size in args.sizes.split(","):
        n, m = (int(x) for x in size.split("x"))
        p = make_problem(n, m)
        X0, V0, H = p["X"], p["V"], p["H"]
        runs = {"kronvec": kronvec_cold(n, m, X0, V0, H), "kronvec, names": kronvec_named(X0, V0, H),
                "kronvec, names, planned": kronvec_planned(X0, V0, H, args.samples),
                "torch.func.jvp": torch_cold(X0, V0, H), "autograd make_jvp": autograd_cold(X0, V0, H)}
        runs = {name: run for name, run in runs.items() if run is not None}
        reference = runs["kronvec"](10 ** 6)
        for name, run in runs.items():
            np.testing.assert_allclose(np.asarray(run(10 ** 6 + 1)), reference, rtol=1e-8, atol=1e-12)
        times: dict[str, list[float]] = {name: [] for name in runs}
        for k in range(args.samples):
            for name, run in runs.items():
                t = CLOCK()
                run(k)
                times[name].append(CLOCK() - t)
        ours = np.array(times["kronvec"])
        for name, t in times.items():
            t = np.array(t)
            line = f"  {size:>7} {name:<23} {t.min() * 1e6:8.0f} µs (median {np.median(t) * 1e6:6.0f} µs)"
            if name != "kronvec":
                line += (f"   kronvec / {name}: {ours.min() / t.min():.2f}× "
                         f"(median paired {np.median(ours / t):.2f}×)")
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
