"""kv.jax_function and kv.torch_function of symbols with sizes given as names.

One function, built from ``kv.Matrix("X", ("n", "m"))`` and the like, is called at any sizes:
values, gradients and Hessians equal kronvec's own at each size set (each set makes its code
once); values that give one name two numbers raise ``kv.ShapeError`` naming the dimension and
both values.  Skipped only when the framework is missing.
"""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import kronvec as kv

needs_jax = pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch is not installed")

SIZES = [(5, 2), (7, 3)]


def gls_case():
    """logdet(Xᵀ V⁻¹ X) + tr(Vᵀ V)/n² for X (n, m) and V (n, n): named sizes only."""
    X, V = kv.Matrix("X", ("n", "m")), kv.Matrix("V", ("n", "n"))
    return [X, V], kv.logdet(X.T @ kv.solve(V, X)) + kv.sum(V * V) * 1e-2


def values_at(n: int, m: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed + n)
    return rng.standard_normal((n, m)), rng.standard_normal((n, n)) + 4 * np.eye(n)


@needs_jax
def test_jax_named_sizes_jit_grad_hessian_vmap_at_two_sizes(jax64):
    jax, jnp = jax64, jax64.numpy
    (X, V), F = gls_case()
    f = kv.jax_function([X, V], F)
    jitted, grad = jax.jit(f), jax.jit(jax.grad(f, argnums=(0, 1)))
    for n, m in SIZES:
        x, v = values_at(n, m)
        np.testing.assert_allclose(jitted(x, v), kv.evaluate(F, X=x, V=v), rtol=1e-10)
        gx, gv = grad(x, v)
        np.testing.assert_allclose(gx, kv.evaluate(kv.grad(F, X), X=x, V=v), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(gv, kv.evaluate(kv.grad(F, V), X=x, V=v), rtol=1e-9, atol=1e-12)
        xs = np.stack([x, 2 * x, -x])
        np.testing.assert_allclose(jax.vmap(f, in_axes=(0, None))(xs, v),
                                   [kv.evaluate(F, X=xi, V=v) for xi in xs], rtol=1e-10)
        np.testing.assert_allclose(f(xs, v), [kv.evaluate(F, X=xi, V=v) for xi in xs], rtol=1e-10)  # a stack
    hess = jax.hessian(f)(jnp.asarray(x), jnp.asarray(v))  # at the second size set
    assert hess.shape == SIZES[1] * 2
    np.testing.assert_allclose(hess, kv.hessian(F, X).at(X=x, V=v).to_tensor(), rtol=1e-8, atol=1e-10)
    x, v = values_at(*SIZES[0])
    np.testing.assert_allclose(f(x, v), kv.evaluate(F, X=x, V=v), rtol=1e-10)
    assert len(f._per_sizes._data) == len(SIZES)  # one function per size set, made once


@needs_jax
def test_jax_named_sizes_conflict_names_the_dimension_and_both_values(jax64):
    (X, V), F = gls_case()
    f = kv.jax_function([X, V], F)
    with pytest.raises(kv.ShapeError, match=r"n is 5 from X \(5, 2\) but 6 from V \(6, 6\)"):
        f(np.ones((5, 2)), np.eye(6))
    with pytest.raises(kv.ShapeError, match=r"n is 5 from X \(5, 2\) but 4 from V \(4, 4\)"):
        jax64.jit(f)(np.ones((5, 2)), np.eye(4))


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@needs_torch
def test_torch_named_sizes_gradcheck_and_func_grad_at_two_sizes(torch):
    (X, V), F = gls_case()
    f = kv.torch_function([X, V], F)
    for n, m in SIZES:
        x0, v0 = values_at(n, m)
        x, v = torch.tensor(x0, requires_grad=True), torch.tensor(v0, requires_grad=True)
        np.testing.assert_allclose(f(x, v).item(), kv.evaluate(F, X=x0, V=v0), rtol=1e-10)
        assert torch.autograd.gradcheck(f, (x, v))
        gv = torch.func.grad(f, argnums=1)(x.detach(), v.detach())
        np.testing.assert_allclose(gv.numpy(), kv.evaluate(kv.grad(F, V), X=x0, V=v0), rtol=1e-9, atol=1e-12)
    assert torch.autograd.gradgradcheck(f, (x, v))
    with pytest.raises(kv.ShapeError, match=r"n is 5 from X \(5, 2\) but 6 from V \(6, 6\)"):
        f(torch.ones(5, 2, dtype=torch.float64), torch.eye(6, dtype=torch.float64))
