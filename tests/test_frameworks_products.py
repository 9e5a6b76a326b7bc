"""The JAX code of a transposed matrix times a column, Aᵀv, is written (vᵀA)ᵀ: XLA on the CPU
compiles ``A.T @ v`` into a loop reading A across its rows (the logistic gradient at (2048, 256)
took 15× JAX's own in float32), and ``v.T @ A`` into one matrix-vector product.  The numbers are
those of the library, as a gradient inside ``kv.jax_function`` too.
"""
from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import kronvec as kv

needs_jax = pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")


def _logistic():
    m, n = 40, 6
    X, y, w = kv.Matrix("X", (m, n)), kv.Vector("y", m), kv.Vector("w", n)
    rng = np.random.default_rng(0)
    values = {"X": rng.standard_normal((m, n)), "y": (rng.uniform(size=(m, 1)) < 0.5) * 1.0,
              "w": rng.standard_normal((n, 1))}
    return [w, X, y], kv.sum(kv.softplus(X @ w)) - y.T @ X @ w, values


@needs_jax
def test_jax_code_of_a_transposed_matrix_times_a_column_is_a_row_times_the_matrix():
    jax = pytest.importorskip("jax")
    args, loss, values = _logistic()
    gradient = kv.grad(loss, args[0])
    code = kv.lambdify(args, gradient, "jax")
    assert "X.T @" not in code.source, code.source
    assert ".swapaxes(-1, -2) @ X).swapaxes(-1, -2)" in code.source, code.source
    with jax.enable_x64(True):
        got = code(*(jax.numpy.asarray(values[a.params.name]) for a in args))
        np.testing.assert_allclose(got, kv.evaluate(gradient, values), rtol=1e-12)
        fun = kv.jax_function(args, loss)
        np.testing.assert_allclose(jax.jit(jax.grad(fun))(*(values[a.params.name] for a in args)),
                                   kv.evaluate(gradient, values), rtol=1e-12)
        hessian = jax.jit(jax.hessian(fun))(*(values[a.params.name] for a in args))
        np.testing.assert_allclose(hessian, kv.hessian(loss, args[0]).at(values).to_tensor(), rtol=1e-10)
    assert "X.T @" in kv.lambdify(args, gradient, "numpy").source  # NumPy's own product is unchanged
