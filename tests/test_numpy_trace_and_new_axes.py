"""``kv.trace`` of a non-square matrix and ``X[i, None]`` as NumPy (API.md v1.2: where NumPy has a
function of the same name, kronvec's means the same).

* ``kv.trace(A)`` of a non-square matrix raises ShapeError (the v1 contract); offset traces and
  the rectangular planes of stacks are NumPy's.
* A key mixing ``None`` with integers or slices indexes a matrix as NumPy: an integer drops its
  axis, a slice keeps it, ``None`` inserts one.  ``X[0, None]`` and ``X[None, 0]`` are the row
  ``(1, m)``, which is kronvec's ``X[0, :]`` (the v1 convention), and print as it.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import kronvec as kv
from kronvec.testing import check_jacobian, dottest

RNG = np.random.default_rng(2207)
RECTANGULAR = [(2, 3), (3, 2), (1, 3), (3, 1), (1, 4), (4, 1)]


@pytest.mark.parametrize("shape", RECTANGULAR, ids=str)
def test_the_trace_of_a_non_square_matrix_raises_as_the_v1_contract_says_and_offsets_follow_numpy(shape):
    """API.md v1: ``trace`` of a non-square matrix raises ShapeError naming the shape; an offset
    trace (v1.3) is NumPy's sum of that diagonal, for any shape."""
    X = kv.Matrix("X", shape)
    with pytest.raises(kv.ShapeError, match=re.escape(str(shape))):
        kv.trace(X)
    x = RNG.standard_normal(shape)
    t = kv.trace(X, 1)
    np.testing.assert_allclose(kv.evaluate(t, {"X": x}), np.trace(x, 1), rtol=1e-14, atol=1e-14)


def test_the_traces_of_a_stack_of_non_square_members_and_of_its_planes():
    S = kv.Matrix("S", (3, 2, 4))
    s = RNG.standard_normal((3, 2, 4))
    for axes in [(-2, -1), (0, 1), (0, 2), (1, 0)]:
        t = kv.trace(S, axis1=axes[0], axis2=axes[1])
        np.testing.assert_allclose(kv.evaluate(t, {"S": s}), np.trace(s, axis1=axes[0], axis2=axes[1]))
        check_jacobian(t, S, {"S": s})
        dottest(kv.jacobian(t, S).at({"S": s}), RNG)


def test_named_sizes_that_differ_still_raise_and_inferred_sizes_are_made_square():
    with pytest.raises(kv.ShapeError, match=r"trace: .*\(n, m\)"):
        kv.trace(kv.Matrix("Y", ("n", "m")))
    X = kv.Matrix("X")
    kv.trace(X)
    assert X.shape[0] == X.shape[1] or str(kv.trace(X)) == "tr(X)"


# ------------------------------------------------------------------- X[i, None]

KEYS = [(0, None), (None, 0), (-1, None), (slice(None), 0, None), (0, slice(None), None), (0, 1, None),
        (None, 0, 1), (0, None, None), (Ellipsis, 0, None), (0, Ellipsis, None), (None, slice(0, 2), 1),
        (None, slice(1, 3)), (slice(0, 1), None, slice(1, 3)), (slice(None), None, 2)]


@pytest.mark.parametrize("key", KEYS, ids=str)
@pytest.mark.parametrize("shape", [(2, 3), (3, 1), (1, 3)], ids=str)
def test_integers_and_slices_next_to_new_axes_index_a_matrix_as_numpy(shape, key):
    x = RNG.standard_normal(shape)
    try:
        ref = x[key]
    except IndexError:
        with pytest.raises(IndexError, match=r"index \[.*\] of a matrix of shape"):
            kv.Matrix("X", shape)[key]
        return
    X = kv.Matrix("X", shape)
    if ref.size == 0:  # kronvec's rule for every index: an empty selection raises, naming it
        with pytest.raises(kv.ShapeError, match="is empty"):
            X[key]
        return
    e = X[key]
    assert e.shape == ref.shape
    np.testing.assert_array_equal(kv.evaluate(e, {"X": x}), ref)
    np.testing.assert_array_equal(kv.lambdify([X], e)(x), ref)
    L = kv.jacobian(e, X).at({"X": x})
    dottest(L, RNG)
    h = RNG.standard_normal(shape)
    np.testing.assert_array_equal(L.jvp(h), h[key])
    w = RNG.standard_normal(ref.shape)
    G = kv.evaluate(kv.grad(kv.sum(e * w), X), {"X": x})
    expected = np.zeros(shape)
    expected[key] = w
    np.testing.assert_array_equal(G, expected)


def test_a_row_with_a_new_axis_is_kronvecs_row_and_prints_as_it():
    X = kv.Matrix("X", (4, 3))
    assert X[0, None] is X[0, :] or str(X[0, None]) == str(X[0, :]) == "X[0, :]"
    assert X[None, 0].shape == X[0, :].shape == (1, 3)
    assert str(X[:, 0, None]) == "X[:, 0]"
    assert str(X[0, :, None]) == "reshape(X[0, :], (3, 1))"  # NumPy's (m, 1), not the row


def test_new_axes_with_indices_out_of_range_or_on_a_stack_raise_naming_the_index_and_the_shape():
    X = kv.Matrix("X", (4, 3))
    with pytest.raises(IndexError, match=r"index \[5, None\] of a matrix of shape \(4, 3\): index 5 is out"):
        X[5, None]
    with pytest.raises(IndexError, match=r"index \[0, 0, 0, None\] of a matrix of shape \(4, 3\): too many"):
        X[0, 0, 0, None]
    with pytest.raises(IndexError, match=r"shape \(2, 4, 3\).*got 0"):
        kv.Matrix("S", (2, 4, 3))[0, None]
