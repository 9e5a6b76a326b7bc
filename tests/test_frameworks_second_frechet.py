"""Second order through expm and logm inside JAX and PyTorch: the generated code of their second
Fréchet derivatives (``expm_frechet2``, ``logm_frechet2``).

``jax.jacfwd(jax.jacfwd(...))``, ``jax.hessian``, ``torch.func.hessian`` and
``jacrev(jacrev(...))`` of ``kv.jax_function``/``kv.torch_function`` equal kronvec's own Hessian
and central finite differences of its gradient, for one matrix, at repeated eigenvalues (logm)
and on stacks.  Skipped only when the library is missing.
"""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import kronvec as kv

needs_jax = pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch is not installed")

W = np.arange(9.0).reshape(3, 3) / 9 - 0.3


def _rotated(eigenvalues):
    q = np.linalg.qr(np.random.default_rng(3).standard_normal((3, 3)))[0]
    return q @ np.diag(eigenvalues) @ q.T


def _cases():
    """(name, symbol, function, value, whether the symbol is symmetric)."""
    A = kv.Matrix("A", (3, 3))
    S = kv.Matrix("S", (3, 3), positive_definite=True)
    a0 = np.random.default_rng(0).standard_normal((3, 3))
    return [
        ("expm", A, kv.trace(kv.Constant(W) @ kv.expm(0.5 * A)), a0),
        ("logm", S, kv.trace(kv.Constant(W) @ kv.logm(S)) + kv.sum(kv.logm(S) ** 2),
         _rotated([1.0, 2.0, 4.0])),
        ("logm_at_a_tie", S, kv.trace(kv.Constant(W) @ kv.logm(S)), _rotated([1.0, 1.0, 4.0])),
    ]


CASES = _cases()
IDS = [c[0] for c in CASES]


def _want(f, X, x0):
    """kronvec's Hessian (symmetrized on both sides for a symmetric symbol, read as (X + Xᵀ)/2)."""
    want = kv.hessian(f, X).at({X.params.name: x0}).to_tensor()
    if X.params.symmetric:
        want = (want + want.transpose(0, 1, 3, 2)) / 2
        want = (want + want.transpose(1, 0, 2, 3)) / 2
    return want


def _fd_of_gradient(grad, x0, d, eps=1e-6):
    return (np.asarray(grad(x0 + eps * d)) - np.asarray(grad(x0 - eps * d))) / (2 * eps)


def _direction(X):
    d = np.random.default_rng(4).standard_normal((3, 3))
    return (d + d.T) / 2 if X.params.symmetric else d


@needs_jax
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jax_second_order_through_expm_and_logm(case):
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    name, X, f, x0 = case
    with jax.enable_x64(True):
        fun = kv.jax_function([X], f)
        want = _want(f, X, x0)
        forward_forward = jax.jit(jax.vmap(jax.jacfwd(jax.jacfwd(fun))))  # stacks: each member's Hessian
        stack = np.stack([x0, 1.5 * x0, x0.T])
        per_member = forward_forward(jnp.asarray(stack))
        for k, member in enumerate(stack):
            np.testing.assert_allclose(per_member[k], _want(f, X, member), rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(per_member[0], want, rtol=1e-8, atol=1e-10)
        if name != "expm":  # forward over reverse as well (JAX compiles the block exponential slowly)
            hessian = jax.jit(jax.hessian(fun))(jnp.asarray(x0))
            np.testing.assert_allclose(hessian, want, rtol=1e-8, atol=1e-10)
        d = _direction(X)
        gradient = kv.grad(f, X)
        along = _fd_of_gradient(lambda v: kv.evaluate(gradient, {X.params.name: v}), x0, d)
        np.testing.assert_allclose(np.tensordot(per_member[0], d, 2), along, rtol=1e-6, atol=1e-8)


@needs_torch
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_torch_second_order_through_expm_and_logm(case):
    torch = pytest.importorskip("torch")
    name, X, f, x0 = case
    fun = kv.torch_function([X], f)
    want = _want(f, X, x0)
    for second in (torch.func.hessian, lambda g: torch.func.jacrev(torch.func.jacrev(g)),
                   lambda g: torch.func.jacfwd(torch.func.jacrev(g))):
        np.testing.assert_allclose(second(fun)(torch.tensor(x0)).numpy(), want, rtol=1e-8, atol=1e-10)
    d = _direction(X)
    hess = torch.func.hessian(fun)(torch.tensor(x0)).numpy()
    grad = torch.func.grad(fun)
    along = _fd_of_gradient(lambda v: grad(torch.tensor(v)).numpy(), x0, d)
    np.testing.assert_allclose(np.tensordot(hess, d, 2), along, rtol=1e-6, atol=1e-8)
    x = torch.tensor(x0, requires_grad=True)  # double backward
    (g,) = torch.autograd.grad(fun(x), x, create_graph=True)
    rows = [torch.autograd.grad(g.reshape(-1)[k], x, retain_graph=True)[0].numpy() for k in range(9)]
    np.testing.assert_allclose(np.reshape(rows, (3, 3, 3, 3)), want, rtol=1e-8, atol=1e-10)
