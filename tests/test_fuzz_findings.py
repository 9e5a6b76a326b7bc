"""Failures the differential fuzzer (tests/fuzz) found on main, each reproduced as it reported it.

``python tests/fuzz/survey.py`` groups its failures; one small test per group, each of
which failed before its fix.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special as special

import kronvec as kv
from kronvec.testing import fd_jvp

RNG = np.random.default_rng(17)


# A. A (1, 1) matrix times a () scalar stays a matrix operand


@pytest.mark.parametrize("outer", [kv.sqrtm, kv.expm, kv.inv, lambda a: kv.svd(a @ a, compute_uv=False)])
def test_a_1x1_matrix_times_a_scalar_of_itself_stays_a_matrix(outer):
    X = kv.Matrix("X", (1, 1))
    c = np.array([[0.183439]])
    F = outer(X * kv.sum(X * c) + 3 * kv.eye(1))  # X · Σ(X ⊙ C): the () total multiplies a 1×1
    x, h = np.array([[0.7]]), np.array([[0.4]])
    L = kv.jacobian(F, X).at({"X": x})
    assert L.jvp(h).shape == F.shape
    np.testing.assert_allclose(L.jvp(h), fd_jvp(F, X, {"X": x}, h), rtol=1e-6, atol=1e-9)
    g = kv.grad(kv.sum(F), X)
    assert np.shape(kv.evaluate(g, X=x)) == (1, 1)


def test_a_product_with_a_scalar_first_and_last_is_the_same_matrix():
    X = kv.Matrix("X", (1, 1))
    s = kv.sum(X)
    for e in (X * s, s * X):
        assert e.shape == (1, 1)
        assert e.op == "smul"  # the () factor is the coefficient s of s·A, never the matrix A
        assert e.args[0].shape == () and e.args[1].shape == (1, 1)


# B. A reduction over all entries of a 1×1 is a () scalar, as NumPy's


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "logsumexp"])
@pytest.mark.parametrize("keepdims", [False, True])
def test_b_reduction_of_a_1x1_over_all_entries_has_numpys_shape(name, keepdims):
    X = kv.Matrix("X", (1, 1))
    x = np.array([[0.3]])
    twin = special.logsumexp if name == "logsumexp" else getattr(np, name)
    e = getattr(kv, name)(X, keepdims=keepdims)
    expected = np.asarray(twin(x, keepdims=keepdims))
    assert e.shape == expected.shape
    value = kv.evaluate(e, X=x)
    assert np.shape(value) == expected.shape
    np.testing.assert_allclose(value, expected)
