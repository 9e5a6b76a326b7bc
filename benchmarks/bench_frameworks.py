"""kronvec inside JAX and PyTorch against each framework's own differentiation of the same function.

Each row times one step two ways in the same process, interleaved round by
round: with the function's derivatives from ``kv.jax_function`` /
``kv.torch_function`` (kronvec inside the framework), and with the framework
differentiating its own code for the same function.  It prints the best-of
time of each and their ratio kronvec / own (below 1: kronvec is faster),
after checking that both give the same numbers.  JAX steps are jitted;
PyTorch runs eagerly.  CPU only; BLAS, XLA and torch on one thread.

Rows (tensorgrad's published workloads, plus one of kronvec's own):

* the dense Hessian of xᵀAx at n = 2048;
* a logistic-regression Newton step at (2048, 256);
* a GP marginal-likelihood step (RBF kernel, n = 128, 3 log-hyperparameters);
* the logsumexp Hessian at n = 64, 256, 1024;
* the gradient of tr(W S^½) in a JAX loss (JAX's own through ``eigh``).

Usage: ``python benchmarks/bench_frameworks.py [--rounds 5] [--only name]``
"""
from __future__ import annotations

import argparse
import os
import sys
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import kronvec as kv  # noqa: E402

jax.config.update("jax_enable_x64", True)
torch.set_num_threads(1)


def _block(x):
    for leaf in jax.tree_util.tree_leaves(x):
        if hasattr(leaf, "block_until_ready"):
            leaf.block_until_ready()
    return x


def timed(fn, rounds):
    best = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        _block(fn())
        best.append(time.perf_counter() - t0)
    return best


def compare(name, ours, own, rounds, rtol):
    """Check, warm up, then time ``ours`` and ``own`` interleaved; print one row."""
    a, b = _block(ours()), _block(own())
    for x, y in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        x = x.detach().numpy() if isinstance(x, torch.Tensor) else np.asarray(x)
        y = y.detach().numpy() if isinstance(y, torch.Tensor) else np.asarray(y)
        scale = max(1.0, float(np.abs(y).max()))
        assert np.allclose(x, y, rtol=rtol, atol=rtol * scale), (name, float(np.abs(x - y).max()))
    t_ours, t_own = [], []
    for _ in range(rounds):
        t_ours += timed(ours, 1)
        t_own += timed(own, 1)
    ratios = sorted(o / w for o, w in zip(t_ours, t_own))
    print(f"| {name} | {min(t_ours) * 1e3:.2f} | {min(t_own) * 1e3:.2f} | {min(t_ours) / min(t_own):.2f} "
          f"| {ratios[len(ratios) // 2]:.2f} |", flush=True)


def dtypes(dtype):
    return (jnp.float64 if dtype == "float64" else jnp.float32,
            torch.float64 if dtype == "float64" else torch.float32)


def quadratic(dtype, rounds):
    n = 2048
    jd, td = dtypes(dtype)
    rng = np.random.default_rng(0)
    a0, x0 = rng.standard_normal((n, n)), rng.standard_normal((n, 1))
    x, A = kv.Vector("x", n), kv.Matrix("A", (n, n))
    f = x.T @ A @ x
    kj = kv.jax_function([x, A], f)
    aj, xj = jnp.asarray(a0, jd), jnp.asarray(x0, jd)
    ours = jax.jit(jax.hessian(kj))
    own = jax.jit(jax.hessian(lambda v, a: (v.T @ a @ v)[0, 0]))
    compare(f"xᵀAx Hessian, n={n}, JAX {dtype}", lambda: ours(xj, aj), lambda: own(xj, aj), rounds,
            1e-3 if dtype == "float32" else 1e-9)
    kt = kv.torch_function([x, A], f)
    at, xt = torch.tensor(a0, dtype=td), torch.tensor(x0, dtype=td)
    compare(f"xᵀAx Hessian, n={n}, PyTorch {dtype}", lambda: torch.func.hessian(kt)(xt, at),
            lambda: torch.func.hessian(lambda v, a: (v.T @ a @ v)[0, 0])(xt, at), rounds,
            1e-3 if dtype == "float32" else 1e-9)


def logistic(dtype, rounds):
    m, n = 2048, 256
    jd, td = dtypes(dtype)
    rng = np.random.default_rng(1)
    x0 = rng.standard_normal((m, n)) / np.sqrt(n)
    y0 = (rng.uniform(size=(m, 1)) < 0.5).astype(float)
    w0 = rng.standard_normal((n, 1)) * 0.1
    X, y, w = kv.Matrix("X", (m, n)), kv.Vector("y", m), kv.Vector("w", n)
    loss = kv.sum(kv.softplus(X @ w)) - y.T @ X @ w
    kj = kv.jax_function([w, X, y], loss)

    def own_loss(v, a, b):
        z = a @ v
        return jnp.sum(jax.nn.softplus(z)) - (b.T @ z)[0, 0]

    def step(fun):
        def newton(v, a, b):
            g = jax.grad(fun)(v, a, b)
            h = jax.hessian(fun)(v, a, b).reshape(n, n)
            return v - jnp.linalg.solve(h, g)
        return jax.jit(newton)

    wj, xj, yj = (jnp.asarray(v, jd) for v in (w0, x0, y0))
    ours, own = step(kj), step(own_loss)
    compare(f"logistic Newton step, ({m}, {n}), JAX {dtype}", lambda: ours(wj, xj, yj),
            lambda: own(wj, xj, yj), rounds, 1e-3 if dtype == "float32" else 1e-8)
    kt = kv.torch_function([w, X, y], loss)

    def own_torch(v, a, b):
        z = a @ v
        return torch.nn.functional.softplus(z).sum() - (b.T @ z)[0, 0]

    def torch_step(fun, v, a, b):
        g = torch.func.grad(fun)(v, a, b)
        h = torch.func.hessian(fun)(v, a, b).reshape(n, n)
        return v - torch.linalg.solve(h, g)

    wt, xt, yt = (torch.tensor(v, dtype=td) for v in (w0, x0, y0))
    compare(f"logistic Newton step, ({m}, {n}), PyTorch {dtype}", lambda: torch_step(kt, wt, xt, yt),
            lambda: torch_step(own_torch, wt, xt, yt), rounds, 1e-3 if dtype == "float32" else 1e-8)


def gp(dtype, rounds):
    n = 128
    jd, td = dtypes(dtype)
    rng = np.random.default_rng(2)
    pts, y0 = rng.uniform(-2, 2, (n, 2)), rng.standard_normal((n, 1))
    K, y = kv.Matrix("K", (n, n), positive_definite=True), kv.Vector("y", n)
    nll_expr = 0.5 * (y.T @ kv.inv(K) @ y) + 0.5 * kv.logdet(K)
    kj, kt = kv.jax_function([K, y], nll_expr), kv.torch_function([K, y], nll_expr)

    def kernel(lib, theta, p):
        d2 = ((p[:, None, :] - p[None, :, :]) ** 2).sum(-1)
        eye = lib.eye(n, dtype=p.dtype)
        return lib.exp(theta[1]) * lib.exp(-0.5 * d2 / lib.exp(2 * theta[0])) + lib.exp(theta[2]) * eye

    def own_j(theta, p, b):
        k = kernel(jnp, theta, p)
        c = jnp.linalg.cholesky(k)
        alpha = jax.scipy.linalg.cho_solve((c, True), b)
        return 0.5 * (b.T @ alpha)[0, 0] + jnp.log(jnp.diagonal(c)).sum()

    theta0 = np.array([0.0, 0.0, -2.0])
    tj, pj, yj = jnp.asarray(theta0, jd), jnp.asarray(pts, jd), jnp.asarray(y0, jd)
    ours = jax.jit(jax.value_and_grad(lambda t, p, b: kj(kernel(jnp, t, p), b)))
    own = jax.jit(jax.value_and_grad(own_j))
    compare(f"GP likelihood step, n={n}, JAX {dtype}", lambda: ours(tj, pj, yj), lambda: own(tj, pj, yj),
            rounds, 1e-3 if dtype == "float32" else 1e-8)

    def own_t(theta, p, b):
        k = kernel(torch, theta, p)
        c = torch.linalg.cholesky(k)
        alpha = torch.cholesky_solve(b, c)
        return 0.5 * (b.T @ alpha)[0, 0] + torch.log(torch.diagonal(c)).sum()

    def step(fun):
        theta = torch.tensor(theta0, dtype=td, requires_grad=True)
        value = fun(theta, torch.tensor(pts, dtype=td), torch.tensor(y0, dtype=td))
        (g,) = torch.autograd.grad(value, theta)
        return value.detach(), g

    compare(f"GP likelihood step, n={n}, PyTorch {dtype}", lambda: step(lambda t, p, b: kt(kernel(torch, t, p), b)),
            lambda: step(own_t), rounds, 1e-3 if dtype == "float32" else 1e-8)


def logsumexp(dtype, rounds):
    jd, td = dtypes(dtype)
    for n in (64, 256, 1024):
        x = kv.Vector("x", n)
        x0 = np.random.default_rng(n).standard_normal((n, 1))
        kj = kv.jax_function([x], kv.logsumexp(x))
        xj = jnp.asarray(x0, jd)
        ours = jax.jit(jax.hessian(kj))
        own = jax.jit(jax.hessian(lambda v: jax.nn.logsumexp(v)))
        compare(f"logsumexp Hessian, n={n}, JAX {dtype}", lambda: ours(xj), lambda: own(xj), rounds,
                1e-4 if dtype == "float32" else 1e-10)
        kt = kv.torch_function([x], kv.logsumexp(x))
        xt = torch.tensor(x0, dtype=td)
        compare(f"logsumexp Hessian, n={n}, PyTorch {dtype}", lambda: torch.func.hessian(kt)(xt),
                lambda: torch.func.hessian(torch.logsumexp)(xt, (0, 1)), rounds,
                1e-4 if dtype == "float32" else 1e-10)


def sqrtm_loss(dtype, rounds):
    n = 64
    jd, _ = dtypes(dtype)
    rng = np.random.default_rng(3)
    r = rng.standard_normal((n, n))
    s0, w0 = r @ r.T / n + np.eye(n), rng.standard_normal((n, n))
    S = kv.Matrix("S", (n, n), positive_definite=True)
    kj = kv.jax_function([S], kv.trace(kv.Constant(w0) @ kv.sqrtm(S)))
    wj = jnp.asarray(w0, jd)

    def own_loss(s):
        lam, u = jnp.linalg.eigh(s)
        return jnp.trace(wj @ (u * jnp.sqrt(lam)) @ u.T)

    sj = jnp.asarray(s0, jd)
    ours, own = jax.jit(jax.grad(kj)), jax.jit(jax.grad(own_loss))
    compare(f"grad of tr(W S^½), n={n}, JAX {dtype}", lambda: ours(sj), lambda: ((lambda g: (g + g.T) / 2)(own(sj))),
            rounds, 1e-3 if dtype == "float32" else 1e-8)


ROWS = {"quadratic": quadratic, "logistic": logistic, "gp": gp, "logsumexp": logsumexp, "sqrtm": sqrtm_loss}

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--only", choices=sorted(ROWS), action="append")
    options = parser.parse_args()
    print(f"# load average {os.getloadavg()}; kronvec {kv.__file__}", file=sys.stderr)
    print("| row | kronvec ms | own ms | ratio (best) | ratio (median) |")
    print("|---|---|---|---|---|")
    for row in options.only or ROWS:
        for dt in ("float64", "float32"):
            ROWS[row](dt, options.rounds)
