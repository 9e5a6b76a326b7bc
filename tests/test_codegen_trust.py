"""kv.lambdify where its numbers were once wrong or missing.

* the gradients of det(AXB), det(XᵀAX) and tr((XᵀCX)⁻¹A) (Matrix Cookbook (51)–(54),
  (125), (126)), whose code factorized a transposed value under a name that is
  not a variable (``t2.T_lu``);
* arguments of other shapes than the symbols' (a stack of tangents, a stack of
  values, a transposed matrix): the generated function refuses them, naming the
  argument and the shape it expects, instead of returning scrambled numbers.
"""
from __future__ import annotations

import importlib

import numpy as np
import pytest

import kronvec as kv


def _optional(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


jax = _optional("jax")
torch = _optional("torch")
if jax is not None:
    jax.config.update("jax_enable_x64", True)

BACKENDS = ["numpy"] + (["jax"] if jax is not None else []) + (["torch"] if torch is not None else [])


def _convert(backend: str, x: np.ndarray):
    if backend == "jax":
        return jax.numpy.asarray(x)
    if backend == "torch":
        return torch.as_tensor(np.array(x))
    return x


def _cookbook(n: int, k: int, symmetric: bool) -> dict[str, tuple[kv.Expr, list, kv.Expr]]:
    X, Xr = kv.Matrix("X", (n, n)), kv.Matrix("Xr", (n, k))
    A, B = kv.Matrix("A", (n, n), symmetric=symmetric), kv.Matrix("B", (n, n))
    C, Ak = kv.Matrix("C", (n, n), symmetric=symmetric), kv.Matrix("Ak", (k, k))
    return {
        "(51) det(AXB)": (kv.det(A @ X @ B), [A, X, B], X),
        "(52) det(XᵀAX), X square": (kv.det(X.T @ A @ X), [A, X], X),
        "(53) det(XᵀAX)": (kv.det(Xr.T @ A @ Xr), [A, Xr], Xr),
        "(54) log det(XᵀAX)": (kv.logdet(Xr.T @ A @ Xr), [A, Xr], Xr),
        "(125/126) tr((XᵀCX)⁻¹A)": (kv.trace(kv.inv(Xr.T @ C @ Xr) @ Ak), [C, Xr, Ak], Xr),
        "(125/126) tr((XᵀCX)⁻¹A), X square": (kv.trace(kv.inv(X.T @ C @ X) @ A), [C, X, A], X),
    }


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("case", sorted(_cookbook(3, 2, False)))
def test_cookbook_gradients_of_determinants_and_traces_of_inverses(case, symmetric, backend):
    f, args, wrt = _cookbook(3, 2, symmetric)[case]
    G = kv.grad(f, wrt)
    fn = kv.lambdify(args, G, backend=backend)
    grad_fn = kv.lambdify(args, kv.jacobian(f, wrt).T, backend=backend)
    rng = np.random.default_rng(7)
    for _ in range(3):
        values = {}
        for s in args:
            v = rng.standard_normal(s.shape)
            values[s.params.name] = v @ v.T + np.eye(s.shape[0]) if s.params.symmetric else v
        given = [_convert(backend, values[s.params.name]) for s in args]
        want = kv.evaluate(G, **values)
        np.testing.assert_allclose(np.asarray(fn(*given)), want, rtol=1e-8, atol=1e-10)
        one = _convert(backend, np.ones(f.shape))
        np.testing.assert_allclose(np.asarray(grad_fn(*given, one)), want, rtol=1e-8, atol=1e-10)
    assert ".T_" not in fn.source and ".T_" not in grad_fn.source
