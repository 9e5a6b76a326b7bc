"""Sizes given as names (API v1.3), continued: means, sums of sizes, indexing and assembly,
offset diagonals, structured maps composed with derivatives."""
from __future__ import annotations

import pickle

import numpy as np
import pytest

import kronvec as kv


def test_mean_prints_as_the_sized_mean_with_names_for_numbers() -> None:
    X, Y = kv.Matrix("X", ("n", "m")), kv.Matrix("Y", (3, 2))
    assert str(kv.mean(Y)) == "sum(Y)/6" and str(kv.mean(X)) == "sum(X)/(nm)"
    assert kv.mean(Y).latex().replace("Y", "X").replace("{6}", "{nm}") == kv.mean(X).latex()
    assert str(kv.mean(Y, axis=0)) == "𝟙ᵀY/3" and str(kv.mean(X, axis=0)) == "𝟙ᵀX/n"
    assert str(kv.grad(kv.mean(Y), Y)) == "𝟙/6" and str(kv.grad(kv.mean(X), X)) == "𝟙/(nm)"
    X0 = np.arange(12.0).reshape(4, 3)
    assert kv.evaluate(kv.mean(X), X=X0) == pytest.approx(X0.mean())


def test_a_derivative_composed_with_structured_maps_binds_at_two_sizes() -> None:
    S, A = kv.Matrix("S", ("n", "n"), symmetric=True), kv.Matrix("A", ("n", "n"))
    J = kv.jacobian(S @ A, S)
    D, L = kv.duplication("n"), kv.elimination("n")
    composed = {"J D": J @ D, "L J": L @ J, "L J D": L @ J @ D, "(J D)ᵀ": (J @ D).T,
                "grad D": kv.jacobian(kv.trace(S @ A), S) @ D}
    assert str(composed["J D"]) == "(Aᵀ ⊗ I) · Dₙ"
    rng = np.random.default_rng(0)
    for n in (3, 5):
        values = {"S": (lambda B: B + B.T)(rng.standard_normal((n, n))), "A": rng.standard_normal((n, n))}
        Ss, As = kv.Matrix("S", (n, n), symmetric=True), kv.Matrix("A", (n, n))
        Js = kv.jacobian(Ss @ As, Ss)
        Ds, Ls = kv.duplication(n), kv.elimination(n)
        sized = {"J D": Js @ Ds, "L J": Ls @ Js, "L J D": Ls @ Js @ Ds, "(J D)ᵀ": (Js @ Ds).T,
                 "grad D": kv.jacobian(kv.trace(Ss @ As), Ss) @ Ds}
        for key, M in composed.items():
            bound = M.at(values)
            assert bound.shape == sized[key].at(values).shape, key
            np.testing.assert_allclose(bound.to_dense(), sized[key].at(values).to_dense(), atol=1e-12)
    X = kv.Matrix("X", ("n", "m"))
    with pytest.raises(kv.ShapeError, match="compose the bound maps"):
        (kv.jacobian(X @ X.T, X) @ kv.jacobian(2 * X, X)).at(X=np.ones((3, 2)))


def test_sums_of_named_sizes_print_and_bind() -> None:
    X, Y = kv.Matrix("X", ("n", "m")), kv.Matrix("Y", ("n", "k"))
    H = kv.hstack([X, Y])
    assert str(H.shape) == "(n, m + k)" and str(kv.vstack([X.T, Y.T]).shape) == "(m + k, n)"
    W = kv.Matrix("W", (H.shape[1], "p"))
    assert str(W.shape) == "(m + k, p)"
    assert str(kv.Matrix("V", (X.shape[0] * H.shape[1], 2)).shape) == "(n*m + n*k, 2)"
    assert str(kv.Matrix("U", (X.shape[0] + X.shape[1] - 1, 2)).shape) == "(n + m - 1, 2)"
    rng = np.random.default_rng(1)
    J = kv.jacobian(H @ W, W)
    for n, m, k, p in ((2, 3, 1, 2), (4, 1, 3, 5)):
        X0, Y0, W0 = rng.standard_normal((n, m)), rng.standard_normal((n, k)), rng.standard_normal((m + k, p))
        np.testing.assert_allclose(kv.evaluate(H @ W, X=X0, Y=Y0, W=W0), np.hstack([X0, Y0]) @ W0)
        assert J.at(X=X0, Y=Y0, W=W0).shape == (n * p, (m + k) * p)
        Z = kv.Matrix("Z", (H.shape[1], "n"))  # k read from Z (m + k rows) once X gives m
        Z0 = rng.standard_normal((m + k, n))
        assert kv.evaluate(kv.sum(Z) + kv.sum(X), Z=Z0, X=X0) == pytest.approx(Z0.sum() + X0.sum())
    with pytest.raises(kv.ShapeError, match=r"^m \+ k is 4 \(m = 3, k = 1\) but 5 from W \(5, 2\)$"):
        kv.evaluate(H @ W, X=np.ones((2, 3)), Y=np.ones((2, 1)), W=np.ones((5, 2)))
    assert pickle.loads(pickle.dumps(W)) is W
