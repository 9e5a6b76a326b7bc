"""Sizes given as names (API v1.3), continued: means, sums of sizes, indexing and assembly,
offset diagonals, structured maps composed with derivatives."""
from __future__ import annotations

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
