"""Benchmark: whole workloads through the public API, against hand-written NumPy/SciPy.

    python benchmarks/bench_workloads.py [--quick] [--json out.json] [--no-jax] [--threads N]

Each row times one thing a user writes with kronvec and the LAPACK/BLAS code
they would otherwise write by hand, interleaved in one process (the ``Timer``
of bench_gls.py), and reports kronvec / baseline against a target:

1. GP gradient of f = -½ yᵀK⁻¹y - ½ log det K: ``kv.evaluate(kv.grad(f, K), ...)``
   with new K, y every call vs LAPACK potrf + potrs + potri.
2. GP value and gradient together: ``kv.evaluate([f, g], ...)`` (and two
   ``evaluate`` calls) vs one Cholesky doing both.
3. Log-det barrier Hessian-vector product: ``kv.hessian(-logdet X, X).at(X=X0).jvp(D)``
   vs X⁻¹ D X⁻¹ with two ``cho_solve``; also first use (bind + one jvp).
4. Dense Hessian of xᵀAx (n = 2048): ``.at(...).to_dense()`` vs ``A + A.T``.
5. Tall factor (WᵀW)⁻¹Wᵀ, W of n×2 up to n = 400000: bind + jvp and bound jvp
   vs the O(nk²) hand formula, run in a memory-limited subprocess; peak memory.
6. GLS F = (XᵀV⁻¹X)⁻¹: first use ``J.at(X, V).jvp(H)`` and bound ``L.vjp(G)``.
7. With JAX installed (optional): jitted value_and_grad / grad for the GP and
   jitted ``jax.jvp`` for GLS first use, as extra columns.

Every baseline is checked against kronvec's result before it is timed; the
script stops if they disagree.  Not part of the test run; see benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import resource
import subprocess
import sys
import time
import tracemalloc
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, BENCH_DIR)
sys.path.insert(0, os.path.join(BENCH_DIR, os.pardir))

import bench_gls as bg  # noqa: E402  (imports NumPy; see _apply_threads for --threads)

_REEXEC = "_KRONVEC_BENCH_THREADS_APPLIED"
_BLAS_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def _apply_threads(argv: list[str]) -> None:
    """Apply ``--threads N`` with bench_gls._preset_threads before NumPy is imported.

    Importing bench_gls already imported NumPy (and started OpenBLAS), so when
    the thread variables change, the script restarts itself in a fresh
    interpreter that has them set from the start.
    """
    if os.environ.get(_REEXEC):
        return
    before = [os.environ.get(v) for v in _BLAS_VARS]
    bg._preset_threads(argv)
    if [os.environ.get(v) for v in _BLAS_VARS] != before:
        os.environ[_REEXEC] = "1"
        sys.stdout.flush()
        os.execv(sys.executable, [sys.executable, os.path.abspath(__file__), *argv])


if __name__ == "__main__":
    _apply_threads(sys.argv[1:])

import numpy as np  # noqa: E402
import scipy.linalg as sla  # noqa: E402
from scipy.linalg import lapack  # noqa: E402

import kronvec as kv  # noqa: E402
from bench_gls import (Row, Timer, build_F, fmt_r, fmt_t, load_jax, machine_info,  # noqa: E402
                       make_problem, make_row, noisy, numpy_factors)

# --quick runs the same sizes with shorter timings
GP_SIZES = [200, 1000]
HVP_SIZES = [200, 1000]
QUAD_N = 2048
TALL_K = 2
TALL_SIZES = [4000, 400000]         # timed (kronvec in a memory-limited subprocess)
TALL_MEMORY_SIZES = [1000, 4000]    # peak memory, for the growth with n
TALL_MEMORY_LIMIT = 4 * 2 ** 30     # RLIMIT_AS of each tall subprocess
GLS_SIZES = [(20, 5), (200, 20), (1000, 100)]
GLS_FIRST_TARGET = {(20, 5): 1.8, (200, 20): 1.3, (1000, 100): 1.3}
GLS_VJP_TARGET = {(20, 5): 1.3, (200, 20): 1.1}
POOL = 3                            # distinct (K, y) values cycled through by the GP rows


# ------------------------------------------------------------------ results
@dataclass
class Result:
    """One row of the table.  ``row`` holds the interleaved timings (bench_gls.Row)
    when both sides ran; ``status`` says why kronvec has no time ("unsupported: …",
    "fails: …"); ``target`` is the limit on kronvec / baseline (None: reported only)."""

    workload: str
    size: str
    baseline: str
    target: float | None
    row: Row | None = None
    status: str = ""
    base_time: float | None = None
    jax_row: Row | None = None
    memory: dict[str, Any] | None = None
    met: bool | None = None

    def __post_init__(self) -> None:
        if self.met is None and self.target is not None:
            self.met = bool(self.row is not None and self.row.ratio <= self.target)


def result_from_dict(d: dict[str, Any]) -> Result:
    """Inverse of ``asdict`` (for rows a subprocess sends back as JSON)."""
    d = dict(d)
    for key in ("row", "jax_row"):
        if d.get(key) is not None:
            d[key] = Row(**{k: (math.nan if v is None else v) for k, v in d[key].items()})
    return Result(**d)


def error_text(e: BaseException, limit: int = 300) -> str:
    text = f"{type(e).__name__}: {e}".replace("\n", " ").replace("|", "/")
    return text if len(text) <= limit else text[:limit - 1] + "…"


def check(label: str, got: Any, ref: Any, rtol: float = 1e-7) -> None:
    """Raise unless kronvec's ``got`` and the baseline's ``ref`` are the same numbers."""
    got, ref = np.asarray(got, dtype=float), np.asarray(ref, dtype=float)
    if got.shape != ref.shape and got.size == ref.size:  # a (1, 1) scalar against a ()
        got = got.reshape(ref.shape)
    scale = float(np.abs(ref).max(initial=0.0)) or 1.0
    if got.shape != ref.shape or not np.allclose(got, ref, rtol=rtol, atol=rtol * scale):
        err = float(np.abs(got - ref).max() / scale) if got.shape == ref.shape else math.inf
        raise SystemExit(f"{label}: kronvec and the baseline disagree (shapes {got.shape} / {ref.shape}, "
                         f"max rel err {err:.1e}); the baseline is not the same computation")


@dataclass
class Ctx:
    timer: Timer
    jax: Any
    quick: bool
    log: Callable[[str], None]
    results: list[Result] = field(default_factory=list)

    def add(self, r: Result) -> None:
        self.results.append(r)
        self.log(f"  {r.workload:<46} {r.size:>9}  {kv_cell(r):>12}  vs {base_cell(r):<40} "
                 f"{ratio_cell(r):>22}  target {target_cell(r):<9} {met_cell(r)}"
                 + (f"  | jax {fmt_t(r.jax_row.time)}" if r.jax_row else ""))

    def compare(self, workload: str, size: str, subject: Callable[[], Any], baseline: str,
                base: Callable[[], Any], target: float | None, jax_fn: Callable[[], Any] | None = None
                ) -> Result:
        """Time subject and base (and jax_fn) interleaved; add and return the row."""
        fns = [subject, base] + ([jax_fn] if jax_fn is not None else [])
        times = self.timer.pair(fns)
        row = make_row(size, workload, "-", times[0], baseline, times[1])
        jrow = make_row(size, workload, "jax", times[2], "kronvec", times[0]) if jax_fn else None
        r = Result(workload, size, baseline, target, row=row, jax_row=jrow)
        self.add(r)
        return r

    def failed(self, workload: str, size: str, status: str, baseline: str, base: Callable[[], Any],
               target: float | None) -> Result:
        """A row whose kronvec side did not run: the baseline is still timed, alone."""
        bt = min(self.timer.pair([base])[0])
        r = Result(workload, size, baseline, target, status=status, base_time=bt,
                   met=None if target is None else False)
        self.add(r)
        return r


# ------------------------------------------------------------------ table cells
def kv_cell(r: Result) -> str:
    if r.status:
        return r.status
    if r.memory is not None:
        m = r.memory
        return f"{m['kv_peak'] / 2 ** 20:.2f} MB ({m['kv_peak'] / m['input']:.0f}× input)"
    return fmt_t(r.row.time) if r.row else "-"


def base_cell(r: Result) -> str:
    if r.memory is not None:
        m = r.memory
        return f"{m['base_peak'] / 2 ** 20:.2f} MB ({m['base_peak'] / m['input']:.0f}× input) {r.baseline}"
    t = r.row.base_time if r.row else r.base_time
    return f"{fmt_t(t)} {r.baseline}"


def ratio_cell(r: Result) -> str:
    if r.memory is not None:
        m = r.memory
        if m["kv_peak"] is None:
            return "-"
        out = fmt_r(m["kv_peak"] / m["base_peak"])
        if m.get("slope") is not None:
            out += f" (peak ∝ n^{m['slope']:.2f})"
        return out
    if r.row is None:
        return "-"
    return f"{fmt_r(r.row.ratio)} (median {fmt_r(r.row.ratio_med)}){noisy(r.row)}"


def target_cell(r: Result) -> str:
    if r.memory is not None:
        return "O(nk)"
    return "-" if r.target is None else f"≤ {r.target:g}×"


def met_cell(r: Result) -> str:
    return "-" if r.met is None else ("yes" if r.met else "**no**")


def results_table(results: list[Result], with_jax: bool) -> str:
    head = "| workload | size | kronvec | baseline | ratio | target | met? |"
    if with_jax:
        head += " jax | jax / kronvec |"
    lines = [head, "|" + "---|" * head.count(" |")]
    for r in results:
        line = (f"| {r.workload} | {r.size} | {kv_cell(r)} | {base_cell(r)} | {ratio_cell(r)} | "
                f"{target_cell(r)} | {met_cell(r)} |")
        if with_jax:
            j = r.jax_row
            line += f" {fmt_t(j.time)} | {fmt_r(j.ratio)} |" if j else " - | - |"
        lines.append(line)
    return "\n".join(lines)


# ------------------------------------------------------------------ 1, 2: GP likelihood
def gp_lapack(K: np.ndarray, y: np.ndarray, value: bool = False) -> Any:
    """G = ½(ααᵀ − K⁻¹), α = K⁻¹y, from one Cholesky (and f = -½yᵀα − Σ log diag C)."""
    c, info = lapack.dpotrf(K, lower=0, clean=0)
    if info != 0:
        raise np.linalg.LinAlgError(f"dpotrf info={info}")
    alpha, _ = lapack.dpotrs(c, y, lower=0)
    kinv, _ = lapack.dpotri(c, lower=0)          # upper triangle of K⁻¹
    kinv = np.triu(kinv)
    kinv += np.triu(kinv, 1).T                   # mirror (a copy: no aliasing)
    G = np.outer(alpha, alpha)
    G -= kinv
    G *= 0.5
    if not value:
        return G
    return -0.5 * float(y @ alpha) - float(np.log(np.diagonal(c)).sum()), G


def gp_jax(jax: Any) -> tuple[Callable, Callable]:
    """Jitted grad and value_and_grad of the GP likelihood in K (K symmetrised first, so
    the gradient is the symmetric one, as kronvec's and LAPACK's)."""
    jnp, jsl = jax.numpy, jax.scipy.linalg

    def f(K: Any, y: Any) -> Any:
        c = jsl.cho_factor((K + K.T) / 2)
        return -0.5 * y @ jsl.cho_solve(c, y) - jnp.sum(jnp.log(jnp.diagonal(c[0])))

    return jax.jit(jax.grad(f)), jax.jit(jax.value_and_grad(f))


def bench_gp(ctx: Ctx, n: int) -> None:
    size = f"n={n}"
    K = kv.Matrix("K", (n, n), positive_definite=True)
    y = kv.Vector("y", n)
    f = -0.5 * (y.T @ kv.inv(K) @ y) - 0.5 * kv.logdet(K)
    g = kv.grad(f, K)
    pool = []
    for s in range(POOL):
        P = make_problem(n, 1, seed=7 + s)
        pool.append((P["V"], np.ascontiguousarray(P["X"][:, 0])))
    for K0, y0 in pool:   # every value: a stale (cached) result would show here
        check(f"GP gradient {size}", kv.evaluate(g, K=K0, y=y0), gp_lapack(K0, y0))
        val, G = gp_lapack(K0, y0, value=True)
        check(f"GP value {size}", kv.evaluate(f, K=K0, y=y0), val)

    def cycler(fn: Callable[[np.ndarray, np.ndarray], Any]) -> Callable[[], Any]:
        it = itertools.cycle(pool)
        return lambda: fn(*next(it))

    jgrad = jvg = None
    if ctx.jax is not None:
        jax = ctx.jax
        jg, jv = gp_jax(jax)
        jpool = [(jax.device_put(a), jax.device_put(b)) for a, b in pool]
        for (K0, y0), (Kj, yj) in zip(pool, jpool):
            val, G = gp_lapack(K0, y0, value=True)
            check(f"GP gradient {size} (jax)", np.asarray(jg(Kj, yj)), G)
            jval, jG = jv(Kj, yj)
            check(f"GP value and gradient {size} (jax)", [float(jval)] + list(np.asarray(jG).ravel()),
                  [val] + list(G.ravel()))
        itj = itertools.cycle(jpool)
        jgrad = lambda: jax.block_until_ready(jg(*next(itj)))
        jvg = lambda: jax.block_until_ready(jv(*next(itj)))

    # 1. gradient
    ctx.compare("1 GP gradient kv.evaluate(g)", size, cycler(lambda a, b: kv.evaluate(g, K=a, y=b)),
                "potrf+potrs+potri", cycler(gp_lapack), 1.1, jgrad)

    # 2. value and gradient in one call
    base2 = cycler(lambda a, b: gp_lapack(a, b, value=True))
    name = "2 GP value+grad kv.evaluate([f, g])"
    try:
        out = kv.evaluate([f, g], K=pool[0][0], y=pool[0][1])
        val, G = gp_lapack(*pool[0], value=True)
        check(f"GP value and gradient {size}", np.concatenate([np.ravel(out[0]), np.ravel(out[1])]),
              np.concatenate([[val], G.ravel()]))
    except SystemExit:
        raise
    except Exception as e:  # noqa: BLE001 - reported in the row
        ctx.failed(name, size, f"unsupported: {error_text(e)}", "one Cholesky: f and G", base2, 1.1)
    else:
        ctx.compare(name, size, cycler(lambda a, b: kv.evaluate([f, g], K=a, y=b)),
                    "one Cholesky: f and G", base2, 1.1, jvg)
    ctx.compare("2 GP value+grad, two kv.evaluate calls", size,
                cycler(lambda a, b: (kv.evaluate(f, K=a, y=b), kv.evaluate(g, K=a, y=b))),
                "one Cholesky: f and G", base2, None, jvg)


# ------------------------------------------------------------------ 3: log-det barrier HVP
def bench_hvp(ctx: Ctx, n: int) -> None:
    size = f"n={n}"
    X = kv.Matrix("X", (n, n), positive_definite=True)
    Hs = kv.hessian(-kv.logdet(X), X)
    P = make_problem(n, 1, seed=3)
    X0, D = P["V"], P["H"]               # SPD point, symmetric direction
    L = Hs.at(X=X0)
    C = sla.cho_factor(X0, check_finite=False)
    Xi = sla.cho_solve(C, np.eye(n), check_finite=False)

    def hvp_cho() -> np.ndarray:        # X⁻¹ D X⁻¹ = (X⁻¹ (X⁻¹D)ᵀ)ᵀ
        Y = sla.cho_solve(C, D, check_finite=False)
        return sla.cho_solve(C, Y.T, check_finite=False).T

    def first_cho() -> np.ndarray:
        c = sla.cho_factor(X0, check_finite=False)
        Y = sla.cho_solve(c, D, check_finite=False)
        return sla.cho_solve(c, Y.T, check_finite=False).T

    check(f"HVP {size}", L.jvp(D), hvp_cho())
    check(f"HVP {size} (explicit inverse)", L.jvp(D), Xi @ D @ Xi)
    check(f"HVP first use {size}", Hs.at(X=X0).jvp(D), first_cho())
    ctx.compare("3 barrier HVP, bound H.jvp(D)", size, lambda: L.jvp(D), "2 cho_solve (C given)", hvp_cho,
                None)
    ctx.compare("3 barrier HVP, bound H.jvp(D)", size, lambda: L.jvp(D), "Xi @ D @ Xi (X⁻¹ given)",
                lambda: Xi @ D @ Xi, None)
    ctx.compare("3 barrier HVP, first use H.at(X).jvp(D)", size, lambda: Hs.at(X=X0).jvp(D),
                "cho_factor + 2 cho_solve", first_cho, None)


# ------------------------------------------------------------------ 4: dense Hessian of xᵀAx
def bench_quad(ctx: Ctx, n: int) -> None:
    size = f"n={n}"
    x, A = kv.Vector("x", n), kv.Matrix("A", (n, n))
    Hq = kv.hessian(x.T @ A @ x, x)
    P = make_problem(n, 1, seed=5)
    A0, x0 = P["H"] + np.triu(P["H"], 1), np.ascontiguousarray(P["X"][:, 0])  # a non-symmetric A
    L = Hq.at(A=A0, x=x0)
    check(f"dense Hessian {size}", Hq.at(A=A0, x=x0).to_dense(), A0 + A0.T)
    ctx.compare("4 dense Hessian .at(A, x).to_dense()", size, lambda: Hq.at(A=A0, x=x0).to_dense(),
                "A + A.T", lambda: A0 + A0.T, 1.2)
    ctx.compare("4 dense Hessian, bound L.to_dense()", size, L.to_dense, "A + A.T", lambda: A0 + A0.T, None)


# ------------------------------------------------------------------ 5: tall factor (WᵀW)⁻¹Wᵀ
def tall_dP(W: np.ndarray, H: np.ndarray, Si: np.ndarray, P: np.ndarray) -> np.ndarray:
    """d[(WᵀW)⁻¹Wᵀ] in direction H, O(nk²): S⁻¹(Hᵀ − (HᵀW + WᵀH)P) with P = S⁻¹Wᵀ, S = WᵀW."""
    M = H.T @ W
    return Si @ H.T - (Si @ (M + M.T)) @ P


def tall_first(W: np.ndarray, H: np.ndarray) -> np.ndarray:
    """The hand formula from scratch: S, S⁻¹, P, then dP."""
    Si = np.linalg.inv(W.T @ W)
    return tall_dP(W, H, Si, Si @ W.T)


def tall_fd_check() -> None:
    """The hand formula (and kronvec) against central finite differences, at a small size."""
    rng = np.random.default_rng(11)
    n, k = 9, TALL_K
    W0, H = rng.standard_normal((n, k)), rng.standard_normal((n, k))
    P = lambda Wm: np.linalg.solve(Wm.T @ Wm, Wm.T)
    eps = 1e-6
    fd = (P(W0 + eps * H) - P(W0 - eps * H)) / (2 * eps)
    hand = tall_first(W0, H)
    if not np.allclose(hand, fd, rtol=1e-6, atol=1e-8):
        raise SystemExit(f"tall factor: the hand formula disagrees with finite differences "
                         f"(max err {np.abs(hand - fd).max():.1e})")
    W = kv.Matrix("W", (n, k))
    check("tall factor n=9 (kronvec vs hand formula)",
          kv.jacobian(kv.solve(W.T @ W, W.T), W).at(W=W0).jvp(H), hand)


def tall_problem(n: int, k: int) -> tuple[Any, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(13 + n)
    W = kv.Matrix("W", (n, k))
    return kv.jacobian(kv.solve(W.T @ W, W.T), W), rng.standard_normal((n, k)), rng.standard_normal((n, k))


def peak_bytes(fn: Callable[[], Any]) -> int:
    """Peak traced allocation (tracemalloc; NumPy reports its buffers) during one call."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        out = fn()
        peak = tracemalloc.get_traced_memory()[1]
        del out
        return peak
    finally:
        tracemalloc.stop()


def tall_rows(ctx: Ctx, n: int, k: int, memory_only: bool) -> None:
    """The tall-factor rows of one size; run inside a memory-limited subprocess."""
    size = f"{n}x{k}"
    J, W0, H = tall_problem(n, k)
    Si = np.linalg.inv(W0.T @ W0)
    P = Si @ W0.T
    first_name = "5 tall factor, first use J.at(W).jvp(H)"
    bound_name = "5 tall factor, bound L.jvp(H)"
    mem_name = "5 tall factor, peak memory of bind+jvp"
    try:
        L = J.at(W=W0)
        check(f"tall factor {size}", L.jvp(H), tall_first(W0, H))
    except SystemExit:
        raise
    except BaseException as e:  # noqa: BLE001 - MemoryError, MaterializationError, …: reported
        status = f"fails: {error_text(e)}"
    else:
        status = ""
        if not memory_only:
            ctx.compare(first_name, size, lambda: J.at(W=W0).jvp(H), "hand: S⁻¹, P, dP",
                        lambda: tall_first(W0, H), 1.2)
            ctx.compare(bound_name, size, lambda: L.jvp(H), "hand dP (S⁻¹, P given)",
                        lambda: tall_dP(W0, H, Si, P), 1.2)
        del L
    if status and not memory_only:
        ctx.failed(first_name, size, status, "hand: S⁻¹, P, dP", lambda: tall_first(W0, H), 1.2)
        ctx.failed(bound_name, size, status, "hand dP (S⁻¹, P given)", lambda: tall_dP(W0, H, Si, P), 1.2)
    memory = {"n": n, "input": W0.nbytes, "base_peak": peak_bytes(lambda: tall_first(W0, H)),
              "kv_peak": None if status else peak_bytes(lambda: J.at(W=W0).jvp(H))}
    ctx.add(Result(mem_name, size, "hand formula", None, status=status, memory=memory,
                   met=False if status else None))


def run_tall_child(n: int, k: int, quick: bool, memory_only: bool, log: Callable[[str], None]
                   ) -> list[Result]:
    """Run tall_rows in a subprocess with RLIMIT_AS = TALL_MEMORY_LIMIT, so a kronvec that
    materialises an n×n matrix fails there instead of exhausting this machine."""
    cmd = [sys.executable, os.path.abspath(__file__), "--_tall-child", f"{n}x{k}", "--no-jax",
           "--_rlimit-as", str(TALL_MEMORY_LIMIT)]
    cmd += ["--quick"] if quick else []
    cmd += ["--_memory-only"] if memory_only else []
    timeout = 60 if quick else 180
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        status = f"fails: subprocess timed out after {timeout} s"
        return [Result("5 tall factor", f"{n}x{k}", "hand formula", 1.2, status=status)]
    payload = None
    for line in proc.stdout.splitlines():
        if line.startswith("@@RESULTS@@ "):
            payload = json.loads(line.split(" ", 1)[1])
        else:
            log(line)
    if proc.returncode != 0 or payload is None:
        tail = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        if proc.returncode == 1 and "disagree" in proc.stderr:
            raise SystemExit(proc.stderr.strip())
        status = (f"fails: subprocess exit {proc.returncode} under a {TALL_MEMORY_LIMIT >> 30} GiB "
                  f"address-space limit: {tail}")
        return [Result("5 tall factor", f"{n}x{k}", "hand formula", 1.2, status=status, met=False)]
    return [result_from_dict(d) for d in payload]


def bench_tall(ctx: Ctx) -> None:
    tall_fd_check()
    ctx.log("  tall factor: hand formula S⁻¹(Hᵀ − (HᵀW + WᵀH)S⁻¹Wᵀ) agrees with finite differences "
            "and kronvec at 9x2")
    mem_sizes = [n for n in TALL_MEMORY_SIZES if n not in TALL_SIZES]
    for n in mem_sizes + TALL_SIZES:
        rows = run_tall_child(n, TALL_K, ctx.quick, n in mem_sizes, ctx.log)
        ctx.results.extend(rows)
    # O(nk) memory: the peak should grow like n between the memory sizes
    mem = [r for r in ctx.results if r.memory is not None and r.memory["kv_peak"] is not None]
    mem.sort(key=lambda r: r.memory["n"])
    for prev, r in zip(mem, mem[1:]):
        slope = math.log(r.memory["kv_peak"] / prev.memory["kv_peak"]) / math.log(r.memory["n"]
                                                                                   / prev.memory["n"])
        r.memory["slope"] = slope
        r.met = slope <= 1.25


# ------------------------------------------------------------------ 6: GLS
def gls_jax(jax: Any, X0: np.ndarray) -> Callable:
    jnp, jsl = jax.numpy, jax.scipy.linalg
    Xj = jnp.asarray(X0)

    def f(V: Any) -> Any:
        return jnp.linalg.inv(Xj.T @ jsl.cho_solve(jsl.cho_factor(V), Xj))

    return jax.jit(lambda V, H: jax.jvp(f, (V,), (H,))[1])


def bench_gls(ctx: Ctx, n: int, m: int) -> None:
    size = f"{n}x{m}"
    P = make_problem(n, m)
    X0, V0, H, G = P["X"], P["V"], P["H"], P["G"]
    F, X, V = build_F(n, m, pd=True)
    J = kv.jacobian(F, V)
    L = J.at(X=X0, V=V0)
    W = numpy_factors(X0, V0)[2]
    Wt = np.ascontiguousarray(W.T)

    def np_first() -> np.ndarray:
        c = sla.cho_factor(V0, check_finite=False)
        Y = sla.cho_solve(c, X0, check_finite=False)
        Wv = Y @ np.linalg.inv(X0.T @ Y)
        return Wv.T @ H @ Wv

    check(f"GLS first use {size}", J.at(X=X0, V=V0).jvp(H), np_first())
    check(f"GLS VJP {size}", L.vjp(G), W @ G @ Wt)
    jfirst = None
    if ctx.jax is not None:
        jax = ctx.jax
        jj = gls_jax(jax, X0)
        Vj, Hj = jax.device_put(V0), jax.device_put(H)
        check(f"GLS first use {size} (jax)", np.asarray(jj(Vj, Hj)), np_first())
        jfirst = lambda: jj(Vj, Hj).block_until_ready()
    ctx.compare("6 GLS first use J.at(X, V).jvp(H)", size, lambda: J.at(X=X0, V=V0).jvp(H),
                "cho_factor, F, W, WᵀHW", np_first, GLS_FIRST_TARGET.get((n, m)), jfirst)
    ctx.compare("6 GLS bound L.vjp(G)", size, lambda: L.vjp(G), "W @ G @ W.T", lambda: W @ G @ Wt,
                GLS_VJP_TARGET.get((n, m)))


# ------------------------------------------------------------------ main
def summary(results: list[Result]) -> str:
    judged = [r for r in results if r.met is not None]
    lines = [f"targets met: {sum(bool(r.met) for r in judged)} of {len(judged)} rows with a target"]
    for r in judged:
        if not r.met:
            lines.append(f"* not met: {r.workload} at {r.size}: {kv_cell(r) if r.status else ratio_cell(r)}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="the same sizes with short timings (< 60 s)")
    ap.add_argument("--json", metavar="FILE", help="also write all rows and the machine info as JSON")
    ap.add_argument("--no-jax", action="store_true", help="skip JAX even if installed")
    ap.add_argument("--threads", type=int, help="BLAS/OpenMP/XLA threads (default: library defaults)")
    ap.add_argument("--_tall-child", dest="tall_child", help=argparse.SUPPRESS)
    ap.add_argument("--_memory-only", dest="memory_only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--_rlimit-as", dest="rlimit_as", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.rlimit_as:
        resource.setrlimit(resource.RLIMIT_AS, (args.rlimit_as, args.rlimit_as))

    timer = Timer(target=0.002, repeat=7, budget=0.1) if args.quick else \
        Timer(target=0.005, repeat=25, budget=1.0)

    def log(s: str) -> None:
        print(s, flush=True)

    if args.tall_child:  # internal: one tall-factor size, rows back to the parent as JSON
        n, k = (int(s) for s in args.tall_child.split("x"))
        ctx = Ctx(timer, None, args.quick, log)
        tall_rows(ctx, n, k, args.memory_only)
        print("@@RESULTS@@ " + json.dumps(bg._no_nan([asdict(r) for r in ctx.results])), flush=True)
        return 0

    jax = None if args.no_jax else load_jax()
    info = machine_info(jax, None)
    log("# kronvec workloads: kronvec vs hand-written NumPy/SciPy, interleaved in one process")
    log("machine: " + ", ".join(f"{k}={v}" for k, v in info.items() if k != "torch"))
    ctx = Ctx(timer, jax, args.quick, log)
    t_start = time.perf_counter()
    sections: list[tuple[str, Callable[[], None]]] = []
    sections += [(f"1-2 GP likelihood, n={n}", lambda n=n: bench_gp(ctx, n)) for n in GP_SIZES]
    sections += [(f"3 log-det barrier HVP, n={n}", lambda n=n: bench_hvp(ctx, n)) for n in HVP_SIZES]
    sections += [(f"4 dense Hessian of xᵀAx, n={QUAD_N}", lambda: bench_quad(ctx, QUAD_N))]
    sections += [(f"5 tall factor (WᵀW)⁻¹Wᵀ, k={TALL_K}", lambda: bench_tall(ctx))]
    sections += [(f"6 GLS, (n, m) = ({n}, {m})", lambda n=n, m=m: bench_gls(ctx, n, m)) for n, m in GLS_SIZES]
    for title, run in sections:
        t0 = time.perf_counter()
        log(f"\n## {title}")
        run()
        log(f"  [{time.perf_counter() - t0:.1f} s]")

    log("\n## Results (time = best of interleaved rounds; ratio = kronvec / baseline)\n")
    log(results_table(ctx.results, jax is not None))
    log("\n" + summary(ctx.results))
    log(f"\ntotal {time.perf_counter() - t_start:.1f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(bg._no_nan({"machine": info, "results": [asdict(r) for r in ctx.results]}), fh,
                      indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
