"""The mirrored inverse of a positive definite matrix: ``mirror_upper`` fills the strict
lower triangle from the upper one, exactly, whatever the layout and size."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.linalg import lapack

from kronvec.evaluation.factorization import Factorization, mirror_upper


def _expected(a: np.ndarray) -> np.ndarray:
    return np.triu(a) + np.triu(a, 1).T


@pytest.mark.parametrize("n", [0, 1, 2, 5, 9, 64, 100, 128, 200, 256])
@pytest.mark.parametrize("order", ["C", "F"])
def test_a_contiguous_matrix_is_mirrored_exactly_whatever_its_lower_triangle(n, order):
    a = np.asarray(np.random.default_rng(n).standard_normal((n, n)), order=order)
    expected = _expected(a)
    out = mirror_upper(a)
    assert out is a
    np.testing.assert_array_equal(a, expected)


@pytest.mark.parametrize("n", [5, 130, 300])
def test_larger_or_strided_matrices_with_a_zero_lower_triangle_are_mirrored(n):
    wide = np.zeros((n, 2 * n))
    a = wide[:, ::2]  # neither C- nor F-contiguous
    a[...] = np.triu(np.random.default_rng(n).standard_normal((n, n)))
    expected = _expected(a)
    mirror_upper(a)
    np.testing.assert_array_equal(a, expected)


@pytest.mark.parametrize("n", [1, 5, 40])
def test_the_inverse_of_a_positive_definite_matrix_is_exactly_symmetric(n):
    g = np.random.default_rng(n).standard_normal((n, n))
    spd = g @ g.T / n + np.eye(n)
    inv = Factorization(spd, "S", try_cholesky=True, symmetric=True).inverse()
    np.testing.assert_array_equal(inv, inv.T)
    c, _ = lapack.dpotrf(spd, lower=0, clean=1)
    np.testing.assert_array_equal(inv, _expected(lapack.dpotri(c, lower=0)[0]))
    np.testing.assert_allclose(inv @ spd, np.eye(n), atol=1e-12)
