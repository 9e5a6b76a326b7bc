"""Benchmark: the GLS Jacobian of a stack of b = 10,000 members, bound once, and the same on Dask.

    python benchmarks/bench_stacks.py [--members 10000] [--size 20x5] [--budget 2] [--no-dask]
                                      [--json out.json]

For stacks X (b, n, m) and V (b, n, n), F = (Xᵀ V⁻¹ X)⁻¹ member by member and
dF = Wᵀ dV W with W = V⁻¹ X F (V symmetric).  The map is bound once,
``L = kv.jacobian(F, V).at(X=X0, V=V0)``, and ``L.jvp(H)`` is timed side by
side, interleaved, in one process with BLAS pinned to one thread (set before
NumPy is imported), against

* the hand-written batched closed form ``Wt @ H @ W`` (``np.matmul`` over the
  stack; target: kronvec at most 1.2× its time), and
* a Python loop over the members applying the unbatched kronvec map of each
  member (each bound once beforehand; target: kronvec at least 10× faster).

With Dask installed, a ``dask.distributed`` LocalCluster of 2 worker
processes (one thread each, on the loopback) runs the same problem chunked
along the stack (one chunk per worker): the evaluation of F and of the
summed log-likelihood, the binding and one JVP, each against the NumPy run of
the same step (the results must be equal).  Not part of the test run.
"""
from __future__ import annotations

import argparse
import importlib
import inspect
import json
import os
import sys
import time
from typing import Any

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
import kronvec as kv  # noqa: E402
from bench_gls import Timer, paired_ratio  # noqa: E402

TARGET_BATCHED, TARGET_LOOP = 1.2, 10.0


def problem(b: int, n: int, m: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    R = rng.standard_normal((b, n, n))
    V = R @ np.swapaxes(R, 1, 2) / n + np.eye(n)
    V = (V + np.swapaxes(V, 1, 2)) / 2  # exactly symmetric
    H = rng.standard_normal((b, n, n))
    return {"X": rng.standard_normal((b, n, m)), "V": V, "y": rng.standard_normal((b, n, 1)),
            "H": (H + np.swapaxes(H, 1, 2)) / 2}


def expressions(b: int, n: int, m: int) -> tuple:
    X, V = kv.Matrix("X", (b, n, m)), kv.Matrix("V", (b, n, n), symmetric=True)
    y = kv.Matrix("y", (b, n, 1))
    F = kv.inv(X.mT @ kv.solve(V, X)).named("F")
    r = y - X @ F @ X.mT @ kv.solve(V, y)
    loglik = -0.5 * kv.sum(kv.logdet(V)) - 0.5 * kv.sum(r.mT @ kv.solve(V, r))
    return F, loglik, V


def best(times: list[float]) -> float:
    return min(times)


def report(name: str, t: list[float], base: list[float], baseline: str) -> dict:
    ratio, med = best(t) / best(base), paired_ratio(t, base)
    print(f"  {name:<34} {best(t) * 1e3:9.2f} ms   {baseline:<34} {best(base) * 1e3:9.2f} ms   "
          f"ratio {ratio:6.2f}× (median {med:.2f}×)")
    return {"bench": name, "time": best(t), "baseline": baseline, "base_time": best(base), "ratio": ratio,
            "ratio_median": med}


def numpy_part(b: int, n: int, m: int, timer: Timer) -> list[dict]:
    data = problem(b, n, m)
    F, _, V = expressions(b, n, m)
    J = kv.jacobian(F, V)
    L = J.at(X=data["X"], V=data["V"])
    X0, V0, H = data["X"], data["V"], data["H"]
    Y = np.linalg.solve(V0, X0)
    W = Y @ np.linalg.inv(np.swapaxes(X0, 1, 2) @ Y)
    Wt = np.ascontiguousarray(np.swapaxes(W, 1, 2))
    hand = lambda: Wt @ H @ W  # noqa: E731
    np.testing.assert_allclose(L.jvp(H), hand(), rtol=1e-10, atol=1e-12)
    # the same map member by member: one unbatched kronvec map per member, each bound once
    X1, V1 = kv.Matrix("X", (n, m)), kv.Matrix("V", (n, n), symmetric=True)
    J1 = kv.jacobian(kv.inv(X1.T @ kv.solve(V1, X1)), V1)
    singles = [J1.at(X=X0[i], V=V0[i]) for i in range(b)]
    loop = lambda: np.stack([s.jvp(h) for s, h in zip(singles, H)])  # noqa: E731
    np.testing.assert_allclose(loop(), hand(), rtol=1e-10, atol=1e-12)
    print(f"\nGLS stack: {b} members of size ({n}, {m}), bound once; BLAS on one thread")
    t_kv, t_hand = timer.pair([lambda: L.jvp(H), hand])
    rows = [report("kronvec L.jvp(H) (batched)", t_kv, t_hand, "NumPy Wt @ H @ W (batched)")]
    t_kv2, t_loop = timer.pair([lambda: L.jvp(H), loop])
    rows.append(report("kronvec L.jvp(H) (batched)", t_kv2, t_loop, "Python loop of kronvec maps"))
    t_bind, t_bind_np = timer.pair([lambda: J.at(X=X0, V=V0),
                                    lambda: np.linalg.solve(V0, X0) @ np.linalg.inv(
                                        np.swapaxes(X0, 1, 2) @ np.linalg.solve(V0, X0))])
    rows.append(report("kronvec J.at(X, V) (binding)", t_bind, t_bind_np, "NumPy W = V⁻¹XF (batched)"))

    def first_use_numpy() -> np.ndarray:  # one batched solve, F, W and one JVP, as a person writes it
        Y = np.linalg.solve(V0, X0)
        Wn = Y @ np.linalg.inv(np.swapaxes(X0, 1, 2) @ Y)
        return np.swapaxes(Wn, 1, 2) @ H @ Wn

    np.testing.assert_allclose(J.at(X=X0, V=V0).jvp(H), first_use_numpy(), rtol=1e-10, atol=1e-12)
    t_use, t_use_np = timer.pair([lambda: J.at(X=X0, V=V0).jvp(H), first_use_numpy])
    rows.append(report("kronvec J.at(X, V).jvp(H) (first use)", t_use, t_use_np, "NumPy W, Wᵀ H W (batched)"))
    if "check" in inspect.signature(J.at).parameters:  # no input checks; and read-only values bound before
        t_off, t_off_np = timer.pair([lambda: J.at(X=X0, V=V0, check=False).jvp(H), first_use_numpy])
        rows.append(report("first use, check=False", t_off, t_off_np, "NumPy W, Wᵀ H W (batched)"))
    X_ro, V_ro = X0.copy(), V0.copy()
    X_ro.flags.writeable = V_ro.flags.writeable = False
    t_ro, t_ro_np = timer.pair([lambda: J.at(X=X_ro, V=V_ro).jvp(H), first_use_numpy])
    rows.append(report("first use, X and V read-only", t_ro, t_ro_np, "NumPy W, Wᵀ H W (batched)"))
    # what one pays without stacks: bind each member's map and apply it, in a Python loop
    bind_loop = lambda: np.stack([J1.at(X=x, V=v).jvp(h) for x, v, h in zip(X0, V0, H)])  # noqa: E731
    np.testing.assert_allclose(bind_loop(), hand(), rtol=1e-10, atol=1e-12)
    t_first, t_first_loop = timer.pair([lambda: J.at(X=X0, V=V0).jvp(H), bind_loop])
    rows.append(report("kronvec J.at(X, V).jvp(H) (batched)", t_first, t_first_loop,
                       "Python loop: J.at(member).jvp"))
    ok_batched = rows[0]["ratio"] <= TARGET_BATCHED
    ok_loop = 1.0 / rows[1]["ratio"] >= TARGET_LOOP
    ok_first = 1.0 / rows[-1]["ratio"] >= TARGET_LOOP
    print(f"  targets: batched ≤ {TARGET_BATCHED}× NumPy: {'met' if ok_batched else 'MISSED'}; "
          f"≥ {TARGET_LOOP:.0f}× faster than the loop of bound maps: {'met' if ok_loop else 'MISSED'} "
          f"({1.0 / rows[1]['ratio']:.1f}× faster); than the loop binding each member: "
          f"{'met' if ok_first else 'MISSED'} ({1.0 / rows[-1]['ratio']:.1f}× faster)")
    return rows


def _timed(fn, repeat: int = 3) -> tuple[float, object]:
    out, times = None, []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def dask_part(b: int, n: int, m: int) -> list[dict]:
    da = importlib.import_module("dask.array")  # optional: the cluster run only
    dask = importlib.import_module("dask")
    distributed = importlib.import_module("distributed")
    F, loglik, V = expressions(b, n, m)
    J = kv.jacobian(F, V)
    rows = []
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        chunks = (b + 1) // 2
        # the data are made on the workers, one chunk each (not shipped in the graph)
        rng = da.random.default_rng(0)
        R = rng.standard_normal((b, n, n), chunks=(chunks, n, n))
        Vd = R @ da.swapaxes(R, 1, 2) / n + da.eye(n)
        Hd = rng.standard_normal((b, n, n), chunks=(chunks, n, n))
        given = {"X": rng.standard_normal((b, n, m), chunks=(chunks, n, m)),
                 "V": (Vd + da.swapaxes(Vd, 1, 2)) / 2,
                 "y": rng.standard_normal((b, n, 1), chunks=(chunks, n, 1))}
        given = dict(zip(given, dask.persist(*given.values())))
        H = ((Hd + da.swapaxes(Hd, 1, 2)) / 2).persist()
        data = {k: v.compute() for k, v in given.items()}
        H0 = H.compute()
        print(f"\nDask LocalCluster, 2 worker processes × 1 thread, {b} members in 2 chunks "
              f"(the same data in NumPy, one process, BLAS on one thread)")

        def bind_and_apply():  # the binding, one JVP and F, as J.at(...) computes them in NumPy
            mapped = J.at(given)
            return dask.compute(mapped.jvp(H), mapped.value)

        bound_numpy = J.at(data)
        steps = [
            ("evaluate F", lambda: kv.evaluate(F, given).compute(), lambda: kv.evaluate(F, data)),
            ("evaluate the summed log-likelihood", lambda: kv.evaluate(loglik, given).compute(),
             lambda: kv.evaluate(loglik, data)),
            ("J.at (binding, F) + one jvp", bind_and_apply,
             lambda: (lambda L: (L.jvp(H0), L.value))(J.at(data))),
        ]
        for name, on_dask, on_numpy in steps:
            t_d, out_d = _timed(on_dask)
            t_n, out_n = _timed(on_numpy)
            rows.append(_compare(name, t_d, out_d, t_n, out_n))
        bound = J.at(given).persist()  # bound now, kept on the workers: the JVP alone is timed
        t_d, out_d = _timed(lambda: bound.jvp(H).compute())
        t_n, out_n = _timed(lambda: bound_numpy.jvp(H0))
        rows.append(_compare("jvp of the bound map", t_d, out_d, t_n, out_n))
    return rows


def _compare(name: str, t_d: float, out_d: Any, t_n: float, out_n: Any) -> dict:
    pairs = zip(out_d, out_n) if isinstance(out_d, tuple) else [(out_d, out_n)]
    equal = all(bool(np.allclose(a, b, rtol=1e-12, atol=1e-12)) for a, b in pairs)
    print(f"  {name:<36} Dask {t_d * 1e3:9.1f} ms   NumPy {t_n * 1e3:9.1f} ms   ratio {t_d / t_n:5.2f}×   "
          f"equal: {equal}")
    if not equal:
        raise AssertionError(f"{name}: Dask and NumPy disagree")
    return {"bench": f"dask {name}", "time": t_d, "baseline": "numpy", "base_time": t_n, "ratio": t_d / t_n,
            "equal": equal}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--size", default="20x5", help="n x m of each member, e.g. 20x5")
    parser.add_argument("--budget", type=float, default=2.0, help="seconds per comparison")
    parser.add_argument("--no-dask", action="store_true")
    parser.add_argument("--json", help="write the results to this file")
    args = parser.parse_args(argv)
    n, m = (int(x) for x in args.size.lower().split("x"))
    timer = Timer(target=0.05, repeat=15, budget=args.budget)
    rows = numpy_part(args.members, n, m, timer)
    if not args.no_dask:
        try:
            rows += dask_part(args.members, n, m)
        except ImportError:
            print("\n(Dask is not installed: pip install 'kronvec[dask]' for the cluster run)")
    if args.json:
        with open(args.json, "w") as out:
            json.dump(rows, out, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
