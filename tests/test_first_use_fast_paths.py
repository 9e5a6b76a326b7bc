"""The fast paths of binding and factoring a value keep every check: a plain float64 array
skips only the conversions it does not need, and the one-sum finiteness test falls back to
the entrywise one when the sum alone cannot tell (finite entries whose sum overflows)."""
from __future__ import annotations

import numpy as np
import pytest

import kronvec as kv
from kronvec.errors import ShapeError
from kronvec.evaluation.binding import convert_value
from kronvec.evaluation.factorization import Factorization


@pytest.mark.filterwarnings("ignore:overflow encountered")  # the sum's, before the entrywise test
def test_finite_entries_whose_sum_overflows_are_accepted():
    big = np.array([[1e308, 1e308], [1e308, 1e308]])
    converted = convert_value("A", big, (2, 2))
    np.testing.assert_array_equal(converted, big)
    assert converted is not big  # a distinct object per symbol
    fac = Factorization(np.array([[1e308, 1e308], [-1e308, 1e308]]), "A", try_cholesky=False)
    assert fac.lu is not None


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_plain_float64_array_with_nan_or_inf_is_refused(bad):
    a = np.eye(3)
    a[1, 2] = bad
    with pytest.raises(ValueError, match="value for A contains NaN or inf"):
        convert_value("A", a, (3, 3))
    with pytest.raises(np.linalg.LinAlgError, match="NaN or inf"):
        Factorization(a, "A", try_cholesky=False)


def test_values_off_the_fast_path_are_still_converted_or_refused():
    np.testing.assert_array_equal(convert_value("A", np.eye(2, dtype=np.float32), (2, 2)), np.eye(2))
    np.testing.assert_array_equal(convert_value("A", np.eye(2).astype(">f8"), (2, 2)), np.eye(2))
    np.testing.assert_array_equal(convert_value("x", np.ones(3), (3, 1)), np.ones((3, 1)))
    with pytest.raises(ShapeError, match="expected shape"):
        convert_value("A", np.eye(3), (2, 2))
    with pytest.raises(TypeError, match="complex"):
        convert_value("A", np.eye(2, dtype=complex), (2, 2))
    with pytest.raises(TypeError, match="masked"):
        convert_value("A", np.ma.masked_array(np.eye(2)), (2, 2))


def test_a_positive_definite_symbol_bound_twice_gives_the_same_inverse():
    X0 = np.random.default_rng(0).standard_normal((6, 3))
    X = kv.Matrix("X", (6, 3))
    F = kv.inv(X.T @ X)
    J = kv.jacobian(F, X)
    first, second = J.at(X=X0).value, J.at(X=X0).value  # recorded, then replayed
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(second, second.T)
    np.testing.assert_allclose(second, np.linalg.inv(X0.T @ X0), rtol=1e-12)


@pytest.mark.parametrize("n, m", [(1, 1), (3, 3), (4, 1), (6, 2), (20, 5), (40, 30)])
def test_the_first_vjp_of_a_bound_map_is_its_adjoints(n, m):
    """The first VJP of a bound A H B map of small factors is taken without building the
    adjoint map: it equals the adjoint's own product, passes the dot test, and a stack of
    cotangents or a VJP after the adjoint exists gives the same numbers."""
    rng = np.random.default_rng(n + m)
    X, V = kv.Matrix("X", (n, m)), kv.Matrix("V", (n, n), positive_definite=True)
    J = kv.jacobian(kv.inv(X.T @ kv.inv(V) @ X), V)
    R = rng.standard_normal((n, n))
    X0, V0 = rng.standard_normal((n, m)), R @ R.T + n * np.eye(n)
    H, G = rng.standard_normal((n, n)), rng.standard_normal((m, m))
    first = J.at(X=X0, V=V0).vjp(G)
    L = J.at(X=X0, V=V0)
    np.testing.assert_allclose(first, L.T.jvp(G), rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(L.vjp(G), first, rtol=1e-13, atol=1e-15)
    assert np.isclose(np.sum(L.jvp(H) * G), np.sum(H * first), rtol=1e-11, atol=1e-13)
    stacked = J.at(X=X0, V=V0).vjp(np.stack([G, 2 * G]))
    np.testing.assert_allclose(stacked, np.stack([first, 2 * first]), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("n", [1, 5, 200])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_factored_matrix_is_checked_finite_by_its_one_norm(n, order, bad):
    """The full check reads finiteness from the 1-norm it takes anyway (LAPACK's dlange passes
    NaN and inf on), wherever the entry is."""
    for position in {(0, 0), (n - 1, 0), (0, n - 1), (n // 2, n - 1)}:
        a = np.asarray(np.eye(n) * n + 0.5, order=order)
        a[position] = bad
        with pytest.raises(np.linalg.LinAlgError, match="NaN or inf"):
            Factorization(a, "A", try_cholesky=True, symmetric=True)
        with pytest.raises(np.linalg.LinAlgError, match="NaN or inf"):
            Factorization(a, "A", try_cholesky=False)


@pytest.mark.parametrize("n, d", [(1, 1), (7, 1), (9, 4), (40, 6)])
def test_a_bound_diagonal_sandwich_applies_as_its_parts(n, d):
    """Xᵀ diag(σ'(Xw)) X bound at new values (no shape logic redone, the symbolic map's parts
    left behind): its JVP is the closed form, for one tangent and a stack, and it passes the
    dot test with its VJP."""
    rng = np.random.default_rng(n + d)
    X, w = kv.Matrix("X", (n, d)), kv.Vector("w", d)
    J = kv.hessian(kv.sum(kv.softplus(X @ w)), w)
    for _ in range(2):
        X0, w0 = rng.standard_normal((n, d)), rng.standard_normal((d, 1))
        s = 1 / (1 + np.exp(-X0 @ w0))
        L = J.at(X=X0, w=w0)
        v, g = rng.standard_normal((d, 1)), rng.standard_normal((d, 1))
        np.testing.assert_allclose(L.jvp(v), X0.T @ (s * (1 - s) * (X0 @ v)), rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(L.jvp(np.stack([v, 2 * v])), np.stack([L.jvp(v), 2 * L.jvp(v)]),
                                   rtol=1e-13, atol=1e-15)
        assert np.isclose(np.sum(L.jvp(v) * g), np.sum(v * L.vjp(g)), rtol=1e-12, atol=1e-14)
