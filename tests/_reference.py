"""Reference helpers shared by the contract tests: plain NumPy, no kronvec internals.

The expected values of the tests come from these and hand-written formulas,
never from kronvec's own testing module, so a bug there cannot hide one here.
"""
from __future__ import annotations

import numpy as np

import kronvec as kv


def vec(A):
    """Column-major vectorisation."""
    return np.asarray(A).reshape(-1, order="F")


def unvec(v, shape):
    return np.asarray(v).reshape(shape, order="F")


def ev(expr, **vals):
    return np.asarray(kv.evaluate(expr, **vals), dtype=float)


def scalar(x):
    a = np.asarray(x, dtype=float)
    assert a.size == 1, f"expected a scalar, got shape {a.shape}"
    assert a.shape in [(), (1, 1), (1,)], a.shape
    return float(a.reshape(()))


def close(actual, desired, rtol=1e-8, atol=None):
    actual = np.asarray(actual, dtype=float)
    desired = np.asarray(desired, dtype=float)
    if atol is None:
        atol = 1e-10 * max(1.0, float(np.max(np.abs(desired), initial=0.0)))
    np.testing.assert_allclose(actual, desired, rtol=rtol, atol=atol)


def fd_close(actual, desired):
    """Comparison tolerance for central finite differences."""
    desired = np.asarray(desired, dtype=float)
    close(actual, desired, rtol=1e-5,
          atol=1e-6 * max(1.0, float(np.max(np.abs(desired), initial=0.0))))


def fd_jvp(fun, X0, H, eps=1e-6):
    """Central difference of fun at X0 along H."""
    return (np.asarray(fun(X0 + eps * H), dtype=float)
            - np.asarray(fun(X0 - eps * H), dtype=float)) / (2 * eps)


def commutation_ref(m, n):
    """K with K vec(A) = vec(A.T) for A of shape (m, n), built by hand."""
    K = np.zeros((m * n, m * n))
    for i in range(m):
        for j in range(n):
            K[j + n * i, i + m * j] = 1.0
    return K
