"""Benchmark: the GLS covariance F = (Xᵀ V⁻¹ X)⁻¹ and its Jacobian in V.

    python benchmarks/bench_gls.py [--quick] [--sizes 20x5,100x20,...] [--json out.json]
                                   [--no-jax] [--no-torch] [--threads N]

The closed form of the derivative is dF = Wᵀ dV W with W = V⁻¹ X F (for a
symmetric V; in general dF = A dV B with A = F Xᵀ V⁻¹ and B = V⁻¹ X F).  A
user who binds the Jacobian once (``L = kv.jacobian(F, V).at(X=X0, V=V0)``)
and applies it many times should pay what that closed form costs and no more.
Everything is measured side by side in one process and reported as the ratio
kronvec / hand-written NumPy measured in the same run:

* bound JVP and VJP vs ``W.T @ H @ W`` (and ``A @ H @ B`` for a general V);
* a stack of 16 tangents in one ``jvp`` call vs 16 single calls;
* first use, ``J.at(X=X0, V=V0).jvp(H)``, vs NumPy computing F with solves,
  then W and one JVP (``np.linalg.solve``; ``scipy.linalg.cho_solve`` for SPD);
  also "cold", on a Jacobian never bound before (so ``at`` must plan too);
* ``to_dense`` vs ``np.kron`` of the closed-form factors;
* the symbolic ``kv.jacobian(F, V)`` (fresh symbol names every repetition,
  since expressions are interned);
* when installed: ``jax.jvp`` (jitted), ``jax.linearize`` (jitted),
  ``jax.jacfwd`` (jitted) and ``torch.func.linearize``.

V is declared twice: ``positive_definite=True`` (Cholesky) and plain (LU).
Not part of the test run.  See benchmarks/README.md for the columns.
"""
from __future__ import annotations

import argparse
import gc
import inspect
import json
import math
import os
import platform
import statistics
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Callable



def _preset_threads(argv: list[str]) -> None:
    """``--threads N`` must act before NumPy (OpenBLAS) is imported."""
    for i, a in enumerate(argv):
        val = a.split("=", 1)[1] if a.startswith("--threads=") else \
            (argv[i + 1] if a == "--threads" and i + 1 < len(argv) else None)
        if val:
            for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ[var] = val
            if val == "1":
                os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") +
                                           " --xla_cpu_multi_thread_eigen=false").strip()


if __name__ == "__main__":
    _preset_threads(sys.argv[1:])

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.linalg as sla  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
import kronvec as kv  # noqa: E402

FULL_SIZES = [(20, 5), (100, 20), (200, 20), (500, 50), (1000, 100), (2000, 200)]
QUICK_SIZES = [(20, 5), (100, 20), (200, 20)]
DENSE_MAX_BYTES = 200 * 2 ** 20     # to_dense / np.kron only up to this size
BATCH_MAX_BYTES = 128 * 2 ** 20     # batched JVP only when the stack fits in this
JACFWD_MAX_N = 100                  # jax.jacfwd only up to n = 100 (~1 s per call there)
K_BATCH = 16


# ------------------------------------------------------------------ timing
CLOCK = time.process_time if os.environ.get("KRONVEC_BENCH_CLOCK") == "cpu" else time.perf_counter
"""The clock of every timing: the wall clock, or with KRONVEC_BENCH_CLOCK=cpu the process's CPU time
(BLAS on one thread runs on the calling thread; other processes on a shared machine then do not
inflate the samples)."""


class Timer:
    """timeit-style timing: calibrate a loop count, then repeat; interleaved.

    ``pair(fns)`` calibrates every function so one repetition lasts at least
    ``target`` seconds (at least one call), then runs up to ``repeat`` rounds
    (at least 3) within about ``budget`` seconds; in each round every
    function is timed once, the order alternating between rounds, so slow
    drift (turbo, other processes) hits all of them alike.  When the first
    two disagree (best-of ratio and median paired ratio more than 15 % apart),
    up to ``retries`` more batches of rounds are added.
    The garbage collector is off while timing, as in :mod:`timeit`.
    Returns the per-call times of every round for every function.
    """

    def __init__(self, target: float, repeat: int, budget: float, retries: int = 2) -> None:
        self.target, self.repeat, self.budget, self.retries = target, repeat, budget, retries

    @staticmethod
    def _run(fn: Callable[[], Any], number: int) -> float:
        gcold = gc.isenabled()
        gc.disable()
        try:
            t0 = CLOCK()
            for _ in range(number):
                fn()
            return CLOCK() - t0
        finally:
            if gcold:
                gc.enable()

    def calibrate(self, fn: Callable[[], Any]) -> tuple[int, float]:
        fn()  # warm up (caches, lazy imports, JIT)
        number = 1
        while True:
            t = self._run(fn, number)
            if t >= self.target:
                return number, t / number
            # grow towards the target, at most 10x at a time
            number = max(number + 1, min(10 * number, int(number * 1.2 * self.target / max(t, 1e-9))))

    def pair(self, fns: list[Callable[[], Any]]) -> list[list[float]]:
        cal = [self.calibrate(f) for f in fns]
        per_round = sum(n * t for n, t in cal)
        repeat = max(3, min(self.repeat, int(self.budget / max(per_round, 1e-9))))
        times: list[list[float]] = [[] for _ in fns]
        order = list(range(len(fns)))
        for _attempt in range(1 + self.retries):
            for r in range(repeat):
                for i in (order if r % 2 == 0 else order[::-1]):
                    n = cal[i][0]
                    times[i].append(self._run(fns[i], n) / n)
            # another process can make one side's best round much luckier than the
            # other's; then the two ratio estimates disagree: measure more rounds
            if len(fns) < 2 or not _disagree(times[0], times[1]):
                break
        return times

    def each(self, make: Callable[[], Callable[[], Any]], base: Callable[[], Any]
             ) -> tuple[list[float], list[float]]:
        """Time ``make()()`` (a fresh subject every call, ``make`` untimed) call by call,
        interleaved with single calls of ``base``; as many calls as fit in the budget."""
        make()()
        base()
        times: tuple[list[float], list[float]] = ([], [])
        t_end = time.perf_counter() + self.budget
        while len(times[0]) < 5 or (time.perf_counter() < t_end and len(times[0]) < 200):
            fn = make()
            gcold = gc.isenabled()
            gc.disable()
            try:
                t0 = CLOCK()
                fn()
                t1 = CLOCK()
                base()
                t2 = CLOCK()
            finally:
                if gcold:
                    gc.enable()
            times[0].append(t1 - t0)
            times[1].append(t2 - t1)
        return times


def _disagree(a: list[float], b: list[float], tol: float = 1.15) -> bool:
    """Whether min(a)/min(b) and the median paired ratio differ by more than ``tol``."""
    r1, r2 = min(a) / min(b), paired_ratio(a, b)
    return abs(math.log(r1 / r2)) > math.log(tol)


def paired_ratio(a: list[float], b: list[float]) -> float:
    """Median over rounds of a/b (rounds are interleaved, so this cancels slow drift)."""
    return statistics.median(x / y for x, y in zip(a, b))


# ------------------------------------------------------------------ results
@dataclass
class Row:
    """One comparison: a subject (usually kronvec) against a baseline, same run.

    ``time``/``base_time`` are the best (minimum) per-call times over the
    rounds, ``ratio = time / base_time``; ``ratio_med`` is the median over
    rounds of the paired (interleaved) ratios, a second estimate that is
    less sensitive to a single lucky round.  ns/flop divides by the closed
    form's flop count 2n²m + 2nm² (per tangent for batched rows).
    """

    size: str
    bench: str
    variant: str                 # "PD V" / "plain V" / "-"
    time: float
    baseline: str
    base_time: float
    ratio: float
    ratio_med: float
    time_med: float
    base_time_med: float
    ns_per_flop: float | None = None
    base_ns_per_flop: float | None = None
    extra: dict = field(default_factory=dict)


def make_row(size: str, bench: str, variant: str, t: list[float], baseline: str, tb: list[float] | None,
             flops: float | None = None, **extra: Any) -> Row:
    nan = float("nan")
    tmin = min(t)
    bmin = min(tb) if tb else nan
    return Row(size, bench, variant, tmin, baseline, bmin,
               tmin / bmin if tb else nan, paired_ratio(t, tb) if tb else nan,
               statistics.median(t), statistics.median(tb) if tb else nan,
               tmin / flops * 1e9 if flops else None, bmin / flops * 1e9 if (flops and tb) else None,
               dict(extra))


def fmt_t(t: float | None) -> str:
    if t is None or (isinstance(t, float) and math.isnan(t)):
        return "-"
    if t < 1e-3:
        return f"{t * 1e6:.1f} µs"
    if t < 1:
        return f"{t * 1e3:.2f} ms"
    return f"{t:.2f} s"


def fmt_r(r: float | None) -> str:
    if r is None or math.isnan(r):
        return "-"
    return f"{r:.2f}×" if r < 100 else f"{r:.0f}×"


def fmt_f(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def jvp_flops(n: int, m: int) -> int:
    """Flops of Wᵀ H W (n×n H, n×m W): 2n²m + 2nm²."""
    return 2 * n * n * m + 2 * n * m * m


# ------------------------------------------------------------------ problem
def make_problem(n: int, m: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed + 1000 * n + m)
    X = rng.standard_normal((n, m))
    R = rng.standard_normal((n, n))
    V = R @ R.T / n + np.eye(n)          # SPD, well conditioned
    V = (V + V.T) / 2                    # exactly symmetric (kronvec then uses Cholesky)
    H = rng.standard_normal((n, n))
    H = (H + H.T) / 2
    G = rng.standard_normal((m, m))
    G = (G + G.T) / 2
    return {"X": X, "V": V, "H": H, "G": G}


_counter = [0]


def build_F(n: int, m: int, pd: bool, fresh: bool = False) -> tuple[Any, Any, Any]:
    """(F, X, V) as kronvec expressions; ``fresh`` gives never-seen symbol names."""
    if fresh:
        _counter[0] += 1
        sx, sv = f"X{_counter[0]}", f"V{_counter[0]}"
    else:
        sx, sv = "X", "V"
    X = kv.Matrix(sx, (n, m))
    V = kv.Matrix(sv, (n, n), positive_definite=True) if pd else kv.Matrix(sv, (n, n))
    return kv.inv(X.T @ kv.inv(V) @ X), X, V


def numpy_factors(X: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """F, A = F Xᵀ V⁻¹, B = V⁻¹ X F by solves (no explicit V⁻¹)."""
    Y = np.linalg.solve(V, X)
    F = np.linalg.inv(X.T @ Y)
    B = Y @ F
    A = np.linalg.solve(V.T, X @ F.T).T
    return F, A, B


def count_solves(J: Any, values: dict[str, np.ndarray]) -> str:
    """How many factorizations and triangular solves ``J.at(...)`` performs.

    Diagnostic only: wraps kronvec's internal Factorization class (not public
    API) for one call; returns "?" when the internals have changed.
    """
    mods = [m for name, m in list(sys.modules.items())
            if name.startswith("kronvec.") and isinstance(getattr(m, "Factorization", None), type)]
    try:
        cls = mods[0].Factorization
        init0, solve0 = cls.__init__, cls.solve
    except (IndexError, AttributeError):
        return "?"
    log: list[str] = []

    def init(self: Any, a: Any, label: str, *args: Any, **kw: Any) -> None:
        init0(self, a, label, *args, **kw)
        kind = "chol" if getattr(self, "cholesky", None) is not None else "LU"
        log.append(f"factor {label} {a.shape[0]}x{a.shape[1]} ({kind})")

    def solve(self: Any, b: Any, *args: Any, **kw: Any) -> Any:
        log.append(f"solve {self.label} rhs {'x'.join(map(str, np.shape(b)))}")
        return solve0(self, b, *args, **kw)

    cls.__init__, cls.solve = init, solve
    try:
        J.at(values)
    except Exception:  # noqa: BLE001 - diagnostics must not break the benchmark
        return "?"
    finally:
        cls.__init__, cls.solve = init0, solve0
    nf = sum(x.startswith("factor") for x in log)
    return f"{nf} factorizations, {len(log) - nf} solves: " + "; ".join(log)


# ------------------------------------------------------------------ optional frameworks
def load_jax() -> Any:
    try:
        import jax
        jax.config.update("jax_enable_x64", True)
        jax.config.update("jax_platforms", "cpu")
        import jax.numpy as jnp  # noqa: F401
        return jax
    except Exception:  # noqa: BLE001 - any import problem means "not available"
        return None


def load_torch(threads: int | None) -> Any:
    try:
        import torch
        import torch.func  # noqa: F401
        if threads:
            torch.set_num_threads(threads)
        return torch
    except Exception:  # noqa: BLE001
        return None


# ------------------------------------------------------------------ one size
def bench_size(n: int, m: int, timer: Timer, jax: Any, torch: Any, log: Callable[[str], None],
               quick: bool) -> list[Row]:
    size = f"{n}x{m}"
    P = make_problem(n, m)
    X0, V0, H, G = P["X"], P["V"], P["H"], P["G"]
    flops = jvp_flops(n, m)
    rows: list[Row] = []

    def add(row: Row) -> None:
        rows.append(row)
        log(f"  {row.bench:<28} {row.variant:<8} {fmt_t(row.time):>10}  vs {row.baseline:<36} "
            f"{fmt_t(row.base_time):>10}  ratio {fmt_r(row.ratio):>6} (median {fmt_r(row.ratio_med)})")

    # numpy closed-form factors
    F_np, A_np, B_np = numpy_factors(X0, V0)
    W = B_np
    Wt = np.ascontiguousarray(W.T)

    maps: dict[str, Any] = {}
    for pd in (True, False):
        variant = "PD V" if pd else "plain V"
        F, X, V = build_F(n, m, pd)
        J = kv.jacobian(F, V)
        L = J.at(X=X0, V=V0)
        LT = L.T
        maps[variant] = (J, L)
        # correctness guard: a benchmark of a wrong answer is worthless
        ref = W.T @ H @ W
        err = np.max(np.abs(L.jvp(H) - ref)) / max(1e-300, np.max(np.abs(ref)))
        if err > 1e-8:
            raise SystemExit(f"{size} {variant}: kronvec JVP differs from W.T H W (rel err {err:.1e})")
        Fc, Xc, Vc = build_F(n, m, pd, fresh=True)
        log(f"  first use of {variant}: "
            f"{count_solves(kv.jacobian(Fc, Vc), {Xc.name: X0, Vc.name: V0})}")

        # --- bound JVP
        if pd:
            base_name, base = "W.T @ H @ W", (lambda: W.T @ H @ W)
        else:
            base_name, base = "A @ H @ B", (lambda: A_np @ H @ B_np)
        tk, tb = timer.pair([lambda: L.jvp(H), base])
        add(make_row(size, "bound JVP", variant, tk, base_name, tb, flops))

        # --- bound VJP
        if pd:
            vb_name, vbase = "W @ G @ W.T", (lambda: W @ G @ Wt)
        else:
            vb_name, vbase = "A.T @ G @ B.T", (lambda: A_np.T @ G @ B_np.T)
        tk, tb = timer.pair([lambda: L.vjp(G), vbase])
        add(make_row(size, "bound VJP", variant, tk, vb_name, tb, flops))
        # the adjoint map object, built once
        tk, tb = timer.pair([lambda: LT.jvp(G), vbase])
        add(make_row(size, "bound VJP as L.T.jvp", variant, tk, vb_name, tb, flops))

        # --- batched JVP (k = 16)
        if K_BATCH * n * n * 8 <= BATCH_MAX_BYTES:
            Hs = np.stack([H + i * np.eye(n) for i in range(K_BATCH)])
            Hlist = list(Hs)

            def singles() -> None:
                for h in Hlist:
                    L.jvp(h)

            if pd:
                nb_name, nbase = f"numpy W.T @ Hs @ W (k={K_BATCH})", (lambda: W.T @ Hs @ W)
            else:
                nb_name, nbase = f"numpy A @ Hs @ B (k={K_BATCH})", (lambda: A_np @ Hs @ B_np)
            tbt, tsg, tnp = timer.pair([lambda: L.jvp(Hs), singles, nbase])
            add(make_row(size, f"batched JVP k={K_BATCH}", variant, tbt,
                         f"{K_BATCH} single L.jvp calls", tsg, K_BATCH * flops))
            add(make_row(size, f"batched JVP k={K_BATCH}", variant, tbt, nb_name, tnp, K_BATCH * flops))

        # --- first use: bind + one JVP, vs numpy forward F (solves) + W + one JVP
        def first_use() -> np.ndarray:
            return J.at(X=X0, V=V0).jvp(H)

        def np_first_solve() -> np.ndarray:
            Y = np.linalg.solve(V0, X0)
            Fv = np.linalg.inv(X0.T @ Y)
            Wv = Y @ Fv
            return Wv.T @ H @ Wv

        def np_first_cho() -> np.ndarray:
            c = sla.cho_factor(V0, check_finite=False)
            Y = sla.cho_solve(c, X0, check_finite=False)
            Fv = np.linalg.inv(X0.T @ Y)
            Wv = Y @ Fv
            return Wv.T @ H @ Wv

        tk, ts, tc = timer.pair([first_use, np_first_solve, np_first_cho])
        add(make_row(size, "first use J.at(..).jvp(H)", variant, tk, "numpy solve: F, W, JVP", ts))
        add(make_row(size, "first use J.at(..).jvp(H)", variant, tk, "numpy cho_solve: F, W, JVP", tc))

        # --- first use of the VJP, and with check=False (no input checks), where J.at takes it
        def np_first_vjp() -> np.ndarray:
            c = sla.cho_factor(V0, check_finite=False) if pd else None
            Y = sla.cho_solve(c, X0, check_finite=False) if pd else np.linalg.solve(V0, X0)
            Wv = Y @ np.linalg.inv(X0.T @ Y)
            return Wv @ G @ Wv.T  # V0 is symmetric: Aᵀ G Bᵀ = W G Wᵀ for plain V too

        np.testing.assert_allclose(J.at(X=X0, V=V0).vjp(G), np_first_vjp(), rtol=1e-8, atol=1e-12)
        tk, tv = timer.pair([lambda: J.at(X=X0, V=V0).vjp(G), np_first_vjp])
        vjp_base = "numpy cho_solve: F, W, VJP" if pd else "numpy solve: F, W, VJP"
        add(make_row(size, "first use J.at(..).vjp(G)", variant, tk, vjp_base, tv))
        if "check" in inspect.signature(J.at).parameters:
            tk, tc = timer.pair([lambda: J.at(X=X0, V=V0, check=False).jvp(H),
                                 np_first_cho if pd else np_first_solve])
            add(make_row(size, "first use, check=False", variant, tk,
                         "numpy cho_solve: F, W, JVP" if pd else "numpy solve: F, W, JVP", tc))

        # --- cold first use: a Jacobian never bound before (built untimed, fresh names),
        # so J.at has to plan the evaluation, not only replay it; timed call by call
        def make_cold() -> Callable[[], Any]:
            Fi, Xi, Vi = build_F(n, m, pd, fresh=True)
            Ji = kv.jacobian(Fi, Vi)
            vals = {Xi.name: X0, Vi.name: V0}
            return lambda: Ji.at(vals).jvp(H)

        tk, tb = timer.each(make_cold, np_first_cho if pd else np_first_solve)
        add(make_row(size, "cold first use (new J)", variant, tk,
                     "numpy cho_solve: F, W, JVP" if pd else "numpy solve: F, W, JVP", tb))

        # --- symbolic build, fresh names every call (expressions are interned)
        pool = [build_F(n, m, pd, fresh=True) for _ in range(300)]
        it = iter(pool)

        def sym_jac() -> Any:
            try:
                Fi, _, Vi = next(it)
            except StopIteration:  # out of prepared expressions: build one (rare)
                Fi, _, Vi = build_F(n, m, pd, fresh=True)
            return kv.jacobian(Fi, Vi)

        def sym_all() -> Any:
            Fi, _, Vi = build_F(n, m, pd, fresh=True)
            return str(kv.jacobian(Fi, Vi))

        sym_timer = Timer(min(timer.target, 0.005), timer.repeat, timer.budget / 2)
        tj, ta = sym_timer.pair([sym_jac, sym_all])
        add(make_row(size, "symbolic kv.jacobian(F, V)", variant, tj, "(absolute; target 5 ms)", None))
        add(make_row(size, "symbolic F, jacobian, str", variant, ta, "(absolute)", None))

    # --- to_dense vs np.kron of the closed-form factors
    dense_bytes = 8 * (m * m) * (n * n)
    if dense_bytes <= DENSE_MAX_BYTES:
        for variant in ("PD V", "plain V"):
            _, L = maps[variant]
            D = L.to_dense()
            Dk = np.kron(B_np.T, A_np)
            if not np.allclose(D, Dk, rtol=1e-8, atol=1e-12 * np.abs(Dk).max()):
                raise SystemExit(f"{size} {variant}: to_dense differs from np.kron(B.T, A)")
            del D, Dk
            if variant == "PD V":
                kb_name, kbase = "np.kron(W.T, W.T)", (lambda: np.kron(Wt, Wt))
            else:
                kb_name, kbase = "np.kron(B.T, A)", (lambda: np.kron(B_np.T, A_np))
            tk, tb = timer.pair([L.to_dense, kbase])
            add(make_row(size, "to_dense", variant, tk, kb_name, tb, MB=dense_bytes / 2 ** 20))

    _, L = maps["PD V"]
    J = maps["PD V"][0]
    # --- JAX
    if jax is not None:
        jnp = jax.numpy
        Xj, Vj, Hj = jnp.asarray(X0), jnp.asarray(V0), jnp.asarray(H)

        def f_jax(Vm: Any) -> Any:
            return jnp.linalg.inv(Xj.T @ jnp.linalg.solve(Vm, Xj))

        jvp_jit = jax.jit(lambda Vm, Hm: jax.jvp(f_jax, (Vm,), (Hm,))[1])
        _, lin = jax.linearize(f_jax, Vj)
        lin_jit = jax.jit(lin)

        def run_jvp() -> Any:
            return jvp_jit(Vj, Hj).block_until_ready()

        def run_lin() -> Any:
            return lin_jit(Hj).block_until_ready()

        if not np.allclose(np.asarray(run_lin()), W.T @ H @ W, rtol=1e-6, atol=1e-10):
            raise SystemExit(f"{size}: jax.linearize disagrees with W.T H W")
        tl, tk = timer.pair([run_lin, lambda: L.jvp(H)])
        add(make_row(size, "jax.linearize (jit) JVP", "-", tl, "kronvec bound JVP (PD V)", tk, flops))
        tj, tk = timer.pair([run_jvp, lambda: J.at(X=X0, V=V0).jvp(H)])
        add(make_row(size, "jax.jvp (jit, with primal)", "-", tj, "kronvec first use (PD V)", tk))
        if n <= (20 if quick else JACFWD_MAX_N) and dense_bytes <= DENSE_MAX_BYTES:
            jac_jit = jax.jit(jax.jacfwd(f_jax))

            def run_jac() -> Any:
                return jac_jit(Vj).block_until_ready()

            T = np.asarray(run_jac())  # (m, m, n, n) tensor
            if not np.allclose(T.transpose(1, 0, 3, 2).reshape(m * m, n * n), L.to_dense(),
                               rtol=1e-6, atol=1e-10):
                raise SystemExit(f"{size}: jax.jacfwd disagrees with to_dense")
            del T
            jt = Timer(timer.target, min(timer.repeat, 5), timer.budget)
            tj, tk = jt.pair([run_jac, L.to_dense])
            add(make_row(size, "jax.jacfwd (jit) dense", "-", tj, "kronvec to_dense (PD V)", tk))

    # --- torch.func
    if torch is not None:
        Xt, Vt, Ht = (torch.from_numpy(np.array(a)) for a in (X0, V0, H))

        def f_torch(Vm: Any) -> Any:
            return torch.linalg.inv(Xt.T @ torch.linalg.solve(Vm, Xt))

        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # torch.fx const-folding chatter
            _, tlin = torch.func.linearize(f_torch, Vt)
            if not np.allclose(tlin(Ht).numpy(), W.T @ H @ W, rtol=1e-6, atol=1e-10):
                raise SystemExit(f"{size}: torch.func.linearize disagrees with W.T H W")
            tt, tk = timer.pair([lambda: tlin(Ht), lambda: L.jvp(H)])
        add(make_row(size, "torch.func.linearize JVP", "-", tt, "kronvec bound JVP (PD V)", tk, flops))
    return rows


# ------------------------------------------------------------------ reporting
def _git_commit() -> str:
    """The checked-out commit of the repository (read-only; "?" outside git)."""
    import subprocess
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir)
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "kronvec"], cwd=root,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        if out.returncode != 0:
            return "?"
        return out.stdout.strip() + (" (+ uncommitted changes)" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return "?"


def machine_info(jax: Any, torch: Any) -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    blas = "?"
    try:
        cfg = np.show_config(mode="dicts")
        b = cfg["Build Dependencies"]["blas"]
        blas = f"{b.get('name')} {b.get('version')}"
        conf = b.get("openblas configuration")
        if conf:
            blas += f" ({' '.join(conf.split()[2:])})"
    except Exception:  # noqa: BLE001 - older numpy
        pass
    return {
        "cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
        "numpy": np.__version__, "scipy": scipy.__version__, "blas": blas,
        "kronvec": getattr(kv, "__version__", "?"),
        "kronvec_commit": _git_commit(),
        "threads": os.environ.get("OPENBLAS_NUM_THREADS", "default"),
        "loadavg_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "jax": getattr(jax, "__version__", None) if jax is not None else None,
        "torch": getattr(torch, "__version__", None) if torch is not None else None,
    }


def noisy(r: Row) -> str:
    """A mark for rows whose two ratio estimates disagree by more than 15 %."""
    if math.isnan(r.ratio) or math.isnan(r.ratio_med):
        return ""
    return " (noisy)" if abs(math.log(r.ratio / r.ratio_med)) > math.log(1.15) else ""


def results_table(rows: list[Row]) -> str:
    head = ("| size | benchmark | V | time | baseline | baseline time | ratio | ratio (median) "
            "| ns/flop | baseline ns/flop |")
    lines = [head, "|" + "---|" * 10]
    for r in rows:
        lines.append(f"| {r.size} | {r.bench} | {r.variant} | {fmt_t(r.time)} | {r.baseline} | "
                     f"{fmt_t(r.base_time)} | {fmt_r(r.ratio)} | {fmt_r(r.ratio_med)}{noisy(r)} | "
                     f"{fmt_f(r.ns_per_flop)} | {fmt_f(r.base_ns_per_flop)} |")
    return "\n".join(lines)


def scaling_table(rows: list[Row]) -> str:
    """Bound JVP time against 2n²m + 2nm² across sizes, with log-log slopes."""
    lines = ["| size | flops 2n²m+2nm² | kronvec JVP (PD V) | ns/flop | baseline W.T@H@W | ns/flop "
             "| slope kronvec | slope baseline |", "|" + "---|" * 8]
    sel = [r for r in rows if r.bench == "bound JVP" and r.variant == "PD V"]
    prev = None
    for r in sel:
        n, m = (int(s) for s in r.size.split("x"))
        fl = jvp_flops(n, m)
        if prev is None:
            sk = sb = "-"
        else:
            dl = math.log(fl / prev[0])
            sk = f"{math.log(r.time / prev[1]) / dl:.2f}"
            sb = f"{math.log(r.base_time / prev[2]) / dl:.2f}"
        lines.append(f"| {r.size} | {fl:.3g} | {fmt_t(r.time)} | {fmt_f(r.ns_per_flop)} | "
                     f"{fmt_t(r.base_time)} | {fmt_f(r.base_ns_per_flop)} | {sk} | {sb} |")
        prev = (fl, r.time, r.base_time)
    lines.append("")
    lines.append("slope = d log(time) / d log(flops) between consecutive sizes; 1.0 means time grows "
                 "like the closed form's flops (small sizes are overhead-bound, so < 1 there).")
    return "\n".join(lines)


def targets_table(rows: list[Row]) -> tuple[str, list[dict[str, Any]]]:
    def sel(bench: str, pred: Callable[[Row], bool] = lambda r: True) -> list[Row]:
        return [r for r in rows if r.bench == bench and pred(r)]

    def n_of(r: Row) -> int:
        return int(r.size.split("x")[0])

    out: list[dict[str, Any]] = []

    def target(name: str, cands: list[Row], value: Callable[[Row], float], limit: float,
               show: Callable[[float], str], le: bool = True) -> None:
        if not cands:
            out.append({"target": name, "worst": None, "where": "-", "met": None})
            return
        worst = max(cands, key=value) if le else min(cands, key=value)
        v = value(worst)
        met = v <= limit if le else v >= limit
        out.append({"target": name, "worst": v, "shown": show(v),
                    "where": f"{worst.size} {worst.variant}".strip(), "met": met})

    big = lambda r: n_of(r) >= 200  # noqa: E731
    target("bound JVP ≤ 1.2× closed form (n ≥ 200)", sel("bound JVP", big), lambda r: r.ratio, 1.2, fmt_r)
    target("bound VJP ≤ 1.2× closed form (n ≥ 200)", sel("bound VJP", big), lambda r: r.ratio, 1.2, fmt_r)
    small = lambda r: r.size == "20x5"  # noqa: E731
    target("bound JVP ≤ 15 µs at (20, 5)", sel("bound JVP", small), lambda r: r.time, 15e-6, fmt_t)
    target("bound VJP ≤ 15 µs at (20, 5)", sel("bound VJP", small), lambda r: r.time, 15e-6, fmt_t)
    # first use: PD V against the Cholesky baseline, plain V against np.linalg.solve (same algorithm)
    fu = [r for r in sel("first use J.at(..).jvp(H)")
          if (r.variant == "PD V") == ("cho" in r.baseline)]
    target("first use ≤ 1.3× numpy F + W + JVP", fu, lambda r: r.ratio, 1.3, fmt_r)
    target("(extra) cold first use, new J ≤ 1.3×", sel("cold first use (new J)"), lambda r: r.ratio, 1.3,
           fmt_r)
    target("to_dense ≤ 1.0× np.kron", sel("to_dense"), lambda r: r.ratio, 1.0, fmt_r)
    jac = [r for r in sel("jax.jacfwd (jit) dense") if r.size == "100x20"]
    target("to_dense ≥ 50× faster than jax.jacfwd at (100, 20)", jac, lambda r: r.ratio, 50.0,
           lambda v: f"{v:.0f}× faster", le=False)
    target("symbolic kv.jacobian(F, V) ≤ 5 ms", sel("symbolic kv.jacobian(F, V)"), lambda r: r.time,
           5e-3, fmt_t)

    lines = ["| target | worst measured | where | met? |", "|---|---|---|---|"]
    for t in out:
        met = "n/a" if t["met"] is None else ("yes" if t["met"] else "**no**")
        lines.append(f"| {t['target']} | {t.get('shown', '-')} | {t['where']} | {met} |")
    return "\n".join(lines), out


def _no_nan(o: Any) -> Any:
    """NaN (no baseline) as JSON null, so the file is strict JSON."""
    if isinstance(o, float) and math.isnan(o):
        return None
    if isinstance(o, dict):
        return {k: _no_nan(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_no_nan(v) for v in o]
    return o


def parse_sizes(text: str) -> list[tuple[int, int]]:
    sizes = []
    for part in text.split(","):
        part = part.strip().lower()
        if not part:
            continue
        a, b = part.split("x")
        sizes.append((int(a), int(b)))
    return sizes


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes, short timings (< 30 s)")
    ap.add_argument("--sizes", help="comma-separated NxM list, e.g. 20x5,100x20,1000x100")
    ap.add_argument("--json", metavar="FILE", help="also write all rows and the machine info as JSON")
    ap.add_argument("--no-jax", action="store_true", help="skip JAX even if installed")
    ap.add_argument("--no-torch", action="store_true", help="skip torch even if installed")
    ap.add_argument("--threads", type=int, help="BLAS/OpenMP/XLA/torch threads (default: library defaults)")
    args = ap.parse_args(argv)

    sizes = parse_sizes(args.sizes) if args.sizes else (QUICK_SIZES if args.quick else FULL_SIZES)
    timer = Timer(target=0.002, repeat=7, budget=0.1) if args.quick else \
        Timer(target=0.005, repeat=25, budget=1.0)
    jax = None if args.no_jax else load_jax()
    torch = None if args.no_torch else load_torch(args.threads)
    info = machine_info(jax, torch)

    def log(s: str) -> None:
        print(s, flush=True)

    log("# kronvec benchmark: F = (Xᵀ V⁻¹ X)⁻¹, Jacobian in V")
    log("machine: " + ", ".join(f"{k}={v}" for k, v in info.items()))
    if args.threads is None and os.getloadavg()[0] > 0.5 * (os.cpu_count() or 1):
        log("note: the machine is busy (load average above half the cores); multi-threaded BLAS may "
            "stall for a scheduler time slice. Consider --threads 1 (see benchmarks/README.md).")
    t_start = time.perf_counter()
    rows: list[Row] = []
    for n, m in sizes:
        t0 = time.perf_counter()
        log(f"\n## size (n, m) = ({n}, {m})")
        rows.extend(bench_size(n, m, timer, jax, torch, log, args.quick))
        log(f"  [{time.perf_counter() - t0:.1f} s]")

    log("\n## All rows (time = best of interleaved rounds; ratio = time / baseline time)\n")
    log(results_table(rows))
    log("\n## JVP scaling with the closed form's flops\n")
    log(scaling_table(rows))
    ttable, tlist = targets_table(rows)
    log("\n## Targets\n")
    log(ttable)
    log(f"\ntotal {time.perf_counter() - t_start:.1f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(_no_nan({"machine": info, "rows": [asdict(r) for r in rows], "targets": tlist}),
                      fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
