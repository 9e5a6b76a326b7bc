"""Checks that cost nothing on the happy path: a read-only array bound again is not checked again.

An array that cannot change (not writeable, nor any array it views) passed the
binding checks once (finite; exactly symmetric; positive definite, with its
Cholesky factor kept); binding the same object again skips them.  Writeable
arrays, and read-only views of writeable ones, are checked every time.
"""
from __future__ import annotations

import numpy as np
import pytest

import kronvec as kv
from _lapack import count_lapack_calls
from kronvec.evaluation import binding


@pytest.fixture
def conversions(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the values the binder checked and converted, in order."""
    seen: list[str] = []
    original = binding.convert_value

    def spy(name, value, shape):
        seen.append(name)
        return original(name, value, shape)
    monkeypatch.setattr(binding, "convert_value", spy)
    return seen


def _read_only(a: np.ndarray) -> np.ndarray:
    a = np.array(a, dtype=float)
    a.setflags(write=False)
    return a


def test_read_only_array_is_checked_once(conversions):
    X, w = kv.Matrix("X", (6, 3)), kv.Vector("w", 3)
    f = kv.sum(kv.softplus(X @ w))
    X0 = _read_only(np.arange(18.0).reshape(6, 3) / 10)
    for k in range(3):
        w0 = np.full((3, 1), 0.1 * k)
        np.testing.assert_allclose(kv.evaluate(f, X=X0, w=w0), np.logaddexp(0, X0 @ w0).sum())
    assert conversions.count("X") == 1 and conversions.count("w") == 3


def test_writeable_arrays_and_views_of_them_are_checked_every_time(conversions):
    X = kv.Matrix("X", (2, 2))
    X0 = np.eye(2)
    view = X0.view()
    view.setflags(write=False)  # read-only, but its base can change
    for value in (X0, view):
        assert kv.evaluate(kv.sum(X), X=value) == 2.0
        X0[0, 1] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            kv.evaluate(kv.sum(X), X=value)
        X0[0, 1] = 0.0
    assert conversions.count("X") == 4


def test_positive_definite_read_only_value_keeps_its_cholesky_factor(monkeypatch):
    P = kv.Matrix("P", (4, 4), positive_definite=True)
    P0 = _read_only(np.diag([1.0, 2.0, 3.0, 4.0]) + 0.1)
    assert np.isclose(kv.evaluate(kv.logdet(P), P=P0), np.linalg.slogdet(P0)[1])
    calls = count_lapack_calls(monkeypatch, ("dpotrf",))
    for _ in range(2):
        assert np.isclose(kv.evaluate(kv.logdet(P), P=P0), np.linalg.slogdet(P0)[1])
    assert calls == []


def test_checks_passed_for_a_weaker_declaration_do_not_count():
    A = kv.Matrix("A", (3, 3))
    P = kv.Matrix("P", (3, 3), positive_definite=True)
    S = kv.Matrix("S", (3, 3), symmetric=True)
    indefinite = _read_only(np.diag([1.0, -1.0, 2.0]))
    assert kv.evaluate(kv.trace(A), A=indefinite) == 2.0
    with pytest.raises(ValueError, match="P.*not positive definite"):
        kv.evaluate(kv.logdet(P), P=indefinite)
    nonsymmetric = _read_only(np.triu(np.ones((3, 3))))
    assert kv.evaluate(kv.trace(A), A=nonsymmetric) == 3.0
    with pytest.raises(ValueError, match="S.*not symmetric"):
        kv.evaluate(kv.trace(S), S=nonsymmetric)


def test_a_new_object_with_the_same_id_is_checked(conversions):
    X = kv.Matrix("X", (2, 2))
    for k in range(3):  # each array dies before the next is made: ids are reused
        value = _read_only(np.full((2, 2), float(k)))
        assert kv.evaluate(kv.sum(X), X=value) == 4.0 * k
        del value
    assert conversions.count("X") == 3
    bad = np.full((2, 2), np.nan)
    bad.setflags(write=False)
    with pytest.raises(ValueError, match="NaN"):
        kv.evaluate(kv.sum(X), X=bad)
