"""kv.jax_function and kv.torch_function on symbols that are stacks, and declared structure.

* Symbols of shape (b, n, n) and (b₁, b₂, n, n) (and stacks of 1×1 members): values, gradients
  and Hessians equal kronvec's own maps and finite differences; gradcheck and gradgradcheck pass.
* A symbol declared symmetric or positive definite: a concrete value that is not raises a
  ValueError naming the symbol; traced values (jit, vmap) are not checked.
"""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import kronvec as kv

HAS_JAX = importlib.util.find_spec("jax") is not None
HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_jax = pytest.mark.skipif(not HAS_JAX, reason="JAX is not installed")
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")


def fd(fun, x, direction, eps=1e-6):
    h = eps * max(1.0, float(np.max(np.abs(x))))
    return (np.asarray(fun(x + h * direction)) - np.asarray(fun(x - h * direction))) / (2 * h)


def stack_case(stack):
    """A loss of stacked symbols mixing solves, log-determinants, determinants, a Cholesky factor,
    elementwise functions and reductions over the members."""
    rng = np.random.default_rng(len(stack))
    n = 3
    X, S = kv.Matrix("X", stack + (n, n)), kv.Matrix("S", stack + (n, n), positive_definite=True)
    y = kv.Matrix("y", stack + (n, 2))
    m = rng.standard_normal(stack + (n, n))
    values = {"X": rng.standard_normal(stack + (n, n)) + 3 * np.eye(n),
              "S": m @ np.swapaxes(m, -1, -2) / n + 2 * np.eye(n), "y": rng.standard_normal(stack + (n, 2))}
    f = (kv.sum(kv.logdet(S)) + kv.sum(y.mT @ kv.inv(S) @ y) + kv.sum(kv.det(X) * kv.logdet(S))
         + kv.sum(kv.tanh(kv.solve(X, y))) + kv.sum(kv.cholesky(S) @ y * y))
    return [X, S, y], f, values


STACKS = [(2,), (2, 1)]


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@needs_jax
@pytest.mark.parametrize("stack", STACKS, ids=["one_axis", "two_axes"])
def test_jax_stacked_symbols_value_grad_hessian(jax64, stack):
    jax, jnp = jax64, jax64.numpy
    args, f, values = stack_case(stack)
    fun = kv.jax_function(args, f)
    xs = [jnp.asarray(values[a.params.name]) for a in args]
    np.testing.assert_allclose(jax.jit(fun)(*xs), kv.evaluate(f, values), rtol=1e-10)
    grads = jax.jit(jax.grad(fun, argnums=(0, 1, 2)))(*xs)
    for a, g in zip(args, grads):
        np.testing.assert_allclose(g, kv.evaluate(kv.grad(f, a), values), rtol=1e-9, atol=1e-12)
    X = args[0]
    hess = jax.jit(jax.jacfwd(jax.jacfwd(fun)))(*xs)  # in X
    want = kv.hessian(f, X).at(values).to_tensor()
    np.testing.assert_allclose(hess, want, rtol=1e-8, atol=1e-10)
    d = np.random.default_rng(3).standard_normal(X.shape)
    grad_x = jax.jit(jax.grad(fun))
    along = fd(lambda v: grad_x(jnp.asarray(v), *xs[1:]), values["X"], d)
    np.testing.assert_allclose(np.tensordot(hess, d, X.ndim), along, rtol=1e-6, atol=1e-8)


@needs_jax
def test_jax_stacks_of_one_by_one_members(jax64):
    jax, jnp = jax64, jax64.numpy
    X = kv.Matrix("X", (5, 1, 1))
    f = kv.sum(kv.inv(X) @ X @ X) + kv.sum(kv.logdet(X @ X))
    x0 = np.random.default_rng(4).uniform(1.0, 2.0, (5, 1, 1))
    fun = kv.jax_function([X], f)
    np.testing.assert_allclose(fun(jnp.asarray(x0)), kv.evaluate(f, X=x0), rtol=1e-10)
    np.testing.assert_allclose(jax.grad(fun)(jnp.asarray(x0)), kv.evaluate(kv.grad(f, X), X=x0), rtol=1e-10)
    np.testing.assert_allclose(jax.jacfwd(jax.jacfwd(fun))(jnp.asarray(x0)),
                               kv.hessian(f, X).at(X=x0).to_tensor(), rtol=1e-9, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("stack", STACKS, ids=["one_axis", "two_axes"])
def test_torch_stacked_symbols_gradcheck_and_gradgradcheck(torch, stack):
    args, f, values = stack_case(stack)
    fun = kv.torch_function(args, f)
    xs = tuple(torch.tensor(values[a.params.name], requires_grad=True) for a in args)
    np.testing.assert_allclose(fun(*xs).item(), kv.evaluate(f, values), rtol=1e-10)
    grads = torch.autograd.grad(fun(*xs), xs)
    for a, g in zip(args, grads):
        np.testing.assert_allclose(g.numpy(), kv.evaluate(kv.grad(f, a), values), rtol=1e-9, atol=1e-12)
    assert torch.autograd.gradcheck(fun, xs, check_forward_ad=True)
    assert torch.autograd.gradgradcheck(fun, xs)


# ------------------------------------------------------------------------ declared structure
@needs_jax
def test_jax_declared_structure_is_checked_on_concrete_values(jax64):
    jax, jnp = jax64, jax64.numpy
    S = kv.Matrix("S", (3, 3), positive_definite=True)
    T = kv.Matrix("T", (2, 3, 3), symmetric=True)
    fs, ft = kv.jax_function([S], kv.logdet(S)), kv.jax_function([T], kv.sum(T @ T))
    not_symmetric = jnp.asarray(np.arange(9.0).reshape(3, 3))
    indefinite = jnp.asarray(np.diag([1.0, -1.0, 2.0]))
    for wrap in (lambda g: g, jax.grad):
        with pytest.raises(ValueError, match=r"value of S \(declared positive definite.*not symmetric"):
            wrap(fs)(not_symmetric)
        with pytest.raises(ValueError, match=r"value of S \(declared positive definite.*not positive def"):
            wrap(fs)(indefinite)
    with pytest.raises(ValueError, match=r"value of T \(declared symmetric, shape \(2, 3, 3\)\) is not symm"):
        ft(jnp.stack([indefinite, not_symmetric]))
    ft(jnp.stack([indefinite, indefinite]))  # symmetric and indefinite: fine for a symmetric symbol
    assert np.isnan(jax.jit(fs)(indefinite))  # traced values are not checked
    fs(jnp.asarray(np.eye(3) + 1e-14 * np.arange(9.0).reshape(3, 3)))  # symmetric to rounding


@needs_torch
def test_torch_declared_structure_is_checked_on_concrete_values(torch):
    S = kv.Matrix("S", (3, 3), positive_definite=True)
    fs = kv.torch_function([S], kv.logdet(S))
    with pytest.raises(ValueError, match=r"value of S \(declared positive definite.*not symmetric"):
        fs(torch.tensor(np.arange(9.0).reshape(3, 3), requires_grad=True))
    with pytest.raises(ValueError, match=r"value of S \(declared positive definite.*not positive definite"):
        fs(torch.tensor(np.diag([1.0, -1.0, 2.0])))
    np.testing.assert_allclose(fs(torch.eye(3, dtype=torch.float64) * 2).item(), 3 * np.log(2.0))
