"""Reshaping as NumPy: reshape (C and F order), expand_dims, new axes by indexing, squeeze,
moveaxis and outer; values and shapes against NumPy for 0-D, 1-D, 1×1, matrices and stacks,
derivatives against finite differences (to second order) and the adjoint dot-test."""
from __future__ import annotations

import numpy as np
import pytest

import kronvec as kv
from kronvec.maps.axes import PermuteMap, ReshapeMap
from kronvec.testing import check_jacobian, dottest, fd_jacobian

SHAPES = [(), (4,), (1, 1), (1, 3), (3, 1), (2, 3), (2, 3, 4), (2, 1, 3, 1)]


def _value(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def _check(expr, reference, symbol, value):
    """Value and shape equal NumPy's; the Jacobian matches finite differences and passes the
    dot-test; the Hessian of Σ F ⊙ F ⊙ C matches differences of the gradient."""
    assert expr.shape == np.shape(reference)
    values = {symbol.params.name: value}
    np.testing.assert_allclose(kv.evaluate(expr, values), reference, atol=1e-14)
    check_jacobian(expr, symbol, values)
    C = kv.Array("C", expr.shape)
    values["C"] = _value(expr.shape, 9)
    f = kv.sum(C * expr * kv.exp(expr))
    g = kv.grad(f, symbol)
    H = kv.hessian(f, symbol).at(values)
    np.testing.assert_allclose(H.to_dense(), fd_jacobian(g, symbol, values), rtol=1e-5, atol=1e-6)
    dottest(H)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("order", ["C", "F"])
def test_reshape(shape, order):
    A, A0 = kv.Array("A", shape), _value(shape)
    size = A0.size
    targets = {(size,), (1, size), (size, 1), (-1,), (1, -1, 1)}
    if size % 6 == 0:
        targets |= {(2, -1), (-1, 2, 3)}
    for target in targets:
        _check(kv.reshape(A, target, order=order), np.reshape(A0, target, order=order), A, A0)


def test_reshape_in_fortran_order_is_vec():
    X, X0 = kv.Matrix("X", (3, 4)), _value((3, 4))
    np.testing.assert_allclose(kv.evaluate(kv.reshape(X, -1, order="F"), X=X0), kv.vec(X0))
    assert str(kv.reshape(X, (2, 6), order="F")) == "reshape(X, (2, 6), order=F)"
    assert str(kv.reshape(X, (2, 6))) == "reshape(X, (2, 6))"
    assert isinstance(kv.jacobian(kv.reshape(X, (6, 2)), X).map, ReshapeMap)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_expand_dims(shape):
    A, A0 = kv.Array("A", shape), _value(shape)
    ndim = len(shape)
    for axis in {0, -1, ndim, (0, ndim + 1), (-1, -2)}:
        _check(kv.expand_dims(A, axis), np.expand_dims(A0, axis), A, A0)


@pytest.mark.parametrize("shape", [(4,), (2, 3), (2, 3, 4), (1, 1)], ids=str)
def test_new_axes_by_indexing(shape):
    A, A0 = kv.Array("A", shape), _value(shape)
    keys = [None, (slice(None), None), (None, Ellipsis), (Ellipsis, None), (None, slice(None), None)]
    if len(shape) == 2:
        keys += [(slice(None), None, slice(None)), (None, slice(None), slice(None))]
    for key in keys:
        _check(A[key], A0[key], A, A0)


def test_pairwise_differences_print_as_numpy_writes_them():
    X = kv.Matrix("X", (5, 3))
    D = X[:, None, :] - X[None, :, :]
    assert D.shape == (5, 5, 3)
    assert str(D) == "X[:, None, :] - X[None, :, :]"
    assert X[:, None, :].latex() == r"{X}_{[{:}, \mathrm{None}, {:}]}"
    X0 = _value((5, 3))
    np.testing.assert_allclose(kv.evaluate(D, X=X0), X0[:, None, :] - X0[None, :, :])


def test_new_axes_refuse_other_indices_of_a_stack_naming_them():
    X = kv.Matrix("X", (5, 3))
    assert X[0, None].shape == (1, 3)  # a matrix is indexed as NumPy (tests/test_numpy_trace_and_new_axes.py)
    with pytest.raises(IndexError, match="full slices"):
        kv.Matrix("S", (2, 5, 3))[0, None]
    with pytest.raises(IndexError, match="too many indices"):
        X[:, :, :, None]


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_squeeze(shape):
    A, A0 = kv.Array("A", shape), _value(shape)
    _check(kv.squeeze(A), np.squeeze(A0), A, A0)
    unit = tuple(k for k, s in enumerate(shape) if s == 1)
    if unit:
        _check(kv.squeeze(A, unit[-1]), np.squeeze(A0, unit[-1]), A, A0)


def test_squeeze_of_a_longer_axis_raises_naming_it():
    with pytest.raises(ValueError, match=r"axis 0 of shape \(2, 1\)"):
        kv.squeeze(kv.Matrix("X", (2, 1)), 0)


@pytest.mark.parametrize("source,destination", [(0, -1), (-1, 0), ((0, 1), (2, 0)), (1, 1)])
def test_moveaxis(source, destination):
    A, A0 = kv.Array("A", (2, 3, 4)), _value((2, 3, 4))
    e = kv.moveaxis(A, source, destination)
    _check(e, np.moveaxis(A0, source, destination), A, A0)
    if e is not A:
        assert isinstance(kv.jacobian(e, A).map, PermuteMap)


@pytest.mark.parametrize("shapes", [((3,), (4,)), ((3, 1), (2, 1)), ((2, 2), (3,)), ((), (3,)),
                                    ((1, 1), (1,)), ((2, 1, 2), (1, 3))], ids=str)
def test_outer(shapes):
    a, b = kv.Array("a", shapes[0]), kv.Array("b", shapes[1])
    a0, b0 = _value(shapes[0], 1), _value(shapes[1], 2)
    e = kv.outer(a, b)
    assert e.shape == np.outer(a0, b0).shape
    values = {"a": a0, "b": b0}
    np.testing.assert_allclose(kv.evaluate(e, values), np.outer(a0, b0))
    for s in (a, b):
        check_jacobian(e, s, values)


def test_outer_of_columns_is_a_b_transposed():
    a, b = kv.Vector("a", 3), kv.Vector("b", 2)
    assert str(kv.outer(a, b)) == "abᵀ"
    assert str(kv.outer(kv.Array("u", 3), kv.Array("v", 2))) == "[uᵢvⱼ]ᵢⱼ"


def test_reshaping_errors_name_the_shapes():
    X = kv.Matrix("X", (3, 4))
    with pytest.raises(kv.ShapeError, match=r"cannot reshape an array of shape \(3, 4\) into shape \(5, -1"):
        kv.reshape(X, (5, -1))
    with pytest.raises(kv.ShapeError, match=r"into shape \(5, 2\)"):
        kv.reshape(X, (5, 2))
    with pytest.raises(ValueError, match="order must be"):
        kv.reshape(X, 12, order="A")
