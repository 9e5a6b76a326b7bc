"""Dense matrices by one contraction per term (kronvec.maps.network) against basis tangents."""
from __future__ import annotations

import time

import numpy as np
import pytest

import kronvec as kv
from kronvec.maps.base import dense_by_basis
from kronvec.maps.network import dense_by_network
from kronvec.testing import random_values

from test_op_derivatives import CASES


@pytest.mark.parametrize("op", sorted(CASES))
def test_network_dense_equals_the_basis_tangents(op):
    """Every derivative the network takes (first and second order) equals the dense matrix
    built column by column; the others are left to the basis tangents."""
    f, wrt, positive = CASES[op](3, 2, 4)
    scalar = f if f.shape in ((), (1, 1)) else kv.sum(f * f)
    values = random_values(scalar, np.random.default_rng(0), positive=positive)
    maps = [kv.jacobian(f, wrt).at(values)]
    try:
        maps.append(kv.hessian(scalar, wrt).at(values))
    except NotImplementedError:  # ops without a third derivative (their cases differentiate twice)
        pass
    for L in maps:
        out = np.full(L.shape, np.nan)
        if dense_by_network(L, out):
            ref = np.empty(L.shape)
            dense_by_basis(L, ref, 1.0, True)
            np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
        else:
            assert np.isnan(out).all()  # left alone


def test_pairwise_hessian_is_one_contraction_per_term_not_basis_tangents():
    """At N = 120 the 360 × 360 Hessian of Σ φ(‖xᵢ − xⱼ‖) by basis tangents takes seconds; by
    the network a small fraction of that."""
    N = 120
    X = kv.Matrix("X", (N, 3))
    D = X[:, None, :] - X[None, :, :]
    E = kv.sum(kv.sqrt(kv.sum(D * D, axis=-1) + 0.01))
    L = kv.hessian(E, X).at(X=np.random.default_rng(0).random((N, 3)))
    out = np.empty(L.shape)
    start = time.perf_counter()
    assert dense_by_network(L, out)
    fast = time.perf_counter() - start
    ref = np.empty(L.shape)
    start = time.perf_counter()
    dense_by_basis(L, ref, 1.0, True)
    slow = time.perf_counter() - start
    np.testing.assert_allclose(out, ref, rtol=1e-12, atol=1e-12)
    assert fast < slow / 5, (fast, slow)
