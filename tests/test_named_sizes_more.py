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
