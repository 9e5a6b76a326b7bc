"""Derivatives in a symbol when the expression holds a different symbol of its name.

The derivative would be the zero map (the expression does not contain the
symbol asked for), a silently wrong number: ``kv.grad``, ``kv.jacobian`` and
``kv.hessian`` raise instead, naming both symbols with their shapes (API.md
v1.3, last item of "one rule for shapes").
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import kronvec as kv


def _pairs():
    """(the symbol in the expression, another symbol of its name)."""
    return [
        (kv.Matrix("X", (2, 2)), kv.Matrix("X", (3, 3))),
        (kv.Matrix("X", (3, 1)), kv.Matrix("X", (1, 3))),
        (kv.Matrix("X", (2, 3, 3)), kv.Matrix("X", (3, 3))),
        (kv.Matrix("S", (3, 3), symmetric=True), kv.Matrix("S", (3, 3))),
    ]


def _both(inside: kv.Expr, asked: kv.Expr) -> str:
    return re.escape(f"{inside.params.name} {inside.shape}") + ".*" + \
        re.escape(f"{asked.params.name} {asked.shape}")


@pytest.mark.parametrize("inside, asked", _pairs())
def test_derivatives_in_a_symbol_whose_name_another_symbol_holds_raise(inside, asked):
    Y = kv.Matrix("Y", inside.shape[-2:])
    f = kv.sum(inside * inside) + kv.sum(Y * Y)
    F = inside * inside
    for what, call in [("grad", lambda: kv.grad(f, asked)),
                       ("jacobian", lambda: kv.jacobian(F, asked)),
                       ("hessian", lambda: kv.hessian(f, asked)),
                       ("grad", lambda: kv.grad(f, [Y, asked])),
                       ("jacobian", lambda: kv.jacobian(F, (asked,))),
                       ("hessian", lambda: kv.hessian(f, [asked, Y]))]:
        with pytest.raises(kv.ShapeError, match=what + ":.*" + _both(inside, asked)):
            call()


def test_the_same_symbol_and_absent_symbols_still_differentiate():
    X, Z = kv.Matrix("X", (3, 3)), kv.Matrix("Z", (2, 2))
    f = kv.trace(X @ X)
    X0 = np.arange(9.0).reshape(3, 3)
    np.testing.assert_allclose(kv.evaluate(kv.grad(f, kv.Matrix("X", (3, 3))), X=X0), 2 * X0.T)
    np.testing.assert_allclose(kv.evaluate(kv.grad(f, "X"), X=X0), 2 * X0.T)
    np.testing.assert_allclose(kv.evaluate(kv.grad(f, Z), X=X0), np.zeros((2, 2)))
