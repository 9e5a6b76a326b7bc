"""kv.diagonal and kv.trace with any offset and axes, and kv.pinv(A, rtol, hermitian), as NumPy:
values and shapes, derivatives against finite differences, the adjoint dot test."""
from __future__ import annotations

import numpy as np
import pytest

import kronvec as kv
from kronvec.parse import ParseError, parse_expression
from kronvec.testing import check_jacobian, dottest, fd_jacobian


def _cases():
    for shape in [(3, 4), (4, 3), (1, 1), (1, 3), (3, 1), (2, 3, 4), (2, 2, 3, 3), (2, 1, 1)]:
        nd = len(shape)
        for a1 in range(-nd, nd):
            for a2 in range(-nd, nd):
                if a1 % nd != a2 % nd:
                    for offset in range(-4, 5):
                        yield shape, offset, a1, a2


CASES = list(_cases())


@pytest.mark.parametrize("shape, offset, a1, a2", CASES)
def test_diagonal_and_trace_match_numpy(shape, offset, a1, a2):
    A = np.random.default_rng(len(shape) + offset + 4).standard_normal(shape)
    X = kv.Matrix("X", shape)
    ref = np.diagonal(A, offset, a1, a2)
    if ref.size == 0:
        with pytest.raises(ValueError, match="diagonal"):
            kv.diagonal(X, offset, a1, a2)
    else:
        e = kv.diagonal(X, offset, a1, a2)
        assert e.shape == ref.shape
        np.testing.assert_array_equal(kv.evaluate(e, {"X": A}), ref)
    if offset == 0 and len(shape) == 2 and shape[0] != shape[1]:
        with pytest.raises(kv.ShapeError):  # the v1 rule: the trace of a non-square matrix raises
            kv.trace(X, offset, a1, a2)
        return
    t, ref_t = kv.trace(X, offset, a1, a2), np.trace(A, offset, a1, a2)
    assert t.shape == np.shape(ref_t)
    np.testing.assert_allclose(kv.evaluate(t, {"X": A}), ref_t, rtol=1e-14, atol=1e-14)


def test_same_axes_raise():
    with pytest.raises(ValueError, match="axis1 and axis2"):
        kv.diagonal(kv.Matrix("X", (3, 3)), 1, 0, -2)
    with pytest.raises(ValueError, match="axis1 and axis2"):
        kv.trace(kv.Matrix("X", (2, 3, 3)), 1, 1, 1)


@pytest.mark.parametrize("shape, offset, a1, a2", [
    ((3, 4), 1, 0, 1), ((3, 4), -1, 1, 0), ((4, 3), -2, 0, 1), ((1, 3), 2, 0, 1), ((3, 1), -1, 0, 1),
    ((2, 3, 4), 1, -2, -1), ((2, 3, 4), -1, 0, 2), ((2, 2, 3, 3), 1, 1, 3), ((2, 1, 2), 1, 1, 2),
    ((3, 3), 0, 0, 1)])
def test_derivatives_of_diagonal_and_trace(shape, offset, a1, a2):
    rng = np.random.default_rng(3)
    X = kv.Matrix("X", shape)
    values = {"X": rng.standard_normal(shape)}
    for e in (kv.diagonal(X, offset, a1, a2), kv.trace(X, offset, a1, a2)):
        L = check_jacobian(e, X, values)
        dottest(L)
        assert np.all(np.isin(L.to_dense(), (0.0, 1.0)))  # a selection (and sums) of entries
        W = rng.standard_normal(e.shape)
        f = kv.sum(kv.Constant(W) * e) if e.shape != () else e
        G = kv.evaluate(kv.grad(f, X), values)
        np.testing.assert_allclose(G, fd_jacobian(f, X, values).reshape(shape, order="F"), atol=1e-8)
        assert np.all(kv.hessian(kv.sum(e * e) if e.shape != () else e * e, X).at(values).to_dense() >= 0)


def test_trace_offset_printing_and_code():
    X = kv.Matrix("X", (3, 4))
    t = kv.trace(X, 1)
    A = np.random.default_rng(0).standard_normal((3, 4))
    np.testing.assert_allclose(kv.lambdify([X], t)(A), np.trace(A, 1))
    np.testing.assert_allclose(kv.lambdify([X], kv.grad(t, X))(A), np.eye(3, 4, 1))
    assert "X" in str(t) and "X" in t.latex()


# ------------------------------------------------------------------ pinv
@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4), (1, 3), (2, 3, 5), (2, 2, 4, 3)])
@pytest.mark.parametrize("rtol", [None, 1e-3])
def test_pinv_rtol_values_and_derivatives(shape, rtol):
    rng = np.random.default_rng(sum(shape))
    X, A = kv.Matrix("X", shape), rng.standard_normal(shape)
    e = kv.pinv(X, rtol=rtol)
    ref = np.linalg.pinv(A) if rtol is None else np.linalg.pinv(A, rtol=rtol)
    assert e.shape == ref.shape
    np.testing.assert_allclose(kv.evaluate(e, {"X": A}), ref, rtol=1e-12, atol=1e-12)
    if len(shape) <= 3:
        check_jacobian(e, X, {"X": A})


def test_pinv_rtol_truncation_values_and_a_clear_error_for_its_derivative():
    A = np.diag([3.0, 1.0, 0.01]) @ np.linalg.qr(np.random.default_rng(1).standard_normal((3, 3)))[0]
    X = kv.Matrix("X", (3, 3))
    e = kv.pinv(X, rtol=0.1)
    np.testing.assert_allclose(kv.evaluate(e, {"X": A}), np.linalg.pinv(A, rtol=0.1), atol=1e-13)
    assert np.linalg.matrix_rank(kv.evaluate(e, {"X": A})) == 2
    with pytest.raises(kv.DegenerateError, match=r"pinv\(rtol=0.1\).*discards the singular value 0.01"):
        kv.jacobian(e, X).at(X=A).to_dense()
    assert repr(e).startswith("<kronvec expression pinv(X, rtol=0.1)")
    np.testing.assert_allclose(kv.lambdify([X], e)(A), np.linalg.pinv(A, rtol=0.1), atol=1e-13)


@pytest.mark.parametrize("shape", [(4, 4), (1, 1), (2, 3, 3)])
def test_pinv_hermitian_reads_the_lower_triangle(shape):
    rng = np.random.default_rng(2)
    X, A = kv.Matrix("X", shape), rng.standard_normal(shape)  # not symmetric: NumPy reads tril
    e = kv.pinv(X, hermitian=True)
    np.testing.assert_allclose(kv.evaluate(e, {"X": A}), np.linalg.pinv(A, hermitian=True), rtol=1e-10)
    check_jacobian(e, X, {"X": A})
    if len(shape) == 2:
        np.testing.assert_allclose(kv.lambdify([X], e)(A), np.linalg.pinv(A, hermitian=True), rtol=1e-10)
        H = kv.hessian(kv.sum(e * e), X).at(X=A)
        np.testing.assert_allclose(H.to_dense(), fd_jacobian(kv.grad(kv.sum(e * e), X), X, {"X": A}),
                                   rtol=1e-5, atol=1e-6)


def test_pinv_with_keywords_prints_them():
    X = kv.Matrix("X", (3, 3))
    assert repr(kv.pinv(X, hermitian=True)).startswith("<kronvec expression pinv(X, hermitian=True)")
    assert str(kv.pinv(X)) == "X⁺"
    assert kv.pinv(kv.pinv(X, rtol=0.1)).op == "pinv"  # truncation is not undone
    assert kv.pinv(kv.pinv(X)) is X


def test_the_parser_reads_the_new_orders_and_refuses_a_1d_diagonal_clearly():
    X = kv.Matrix("X", (4, 4))
    assert parse_expression("norm(X, ord=-2)", {"X": (4, 4)}, kv) is kv.norm(X, -2)
    with pytest.raises(ParseError, match="diagonal.*1-D array"):
        parse_expression("diagonal(X)", {"X": (4, 4)}, kv)
