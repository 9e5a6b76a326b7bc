"""Generated code on stacks for softmax and log_softmax over a whole stack (or some of its
axes), the Fréchet derivatives of expm, sqrtm and logm (first and second) and the maps that
embed or extract diagonals, on every installed backend.

With one and two stack axes and stacks of 1×1 members, the generated value, JVP and VJP equal
``kv.evaluate`` and the bound map, and the JVP a central finite difference.  The second Fréchet
derivatives of expm and logm are written for every backend too (JAX and PyTorch: the batched
block exponential, and the eigenbasis of symmetric members).
"""
from __future__ import annotations

from functools import partial

import numpy as np
import pytest

import kronvec as kv
from _backends import BACKENDS, check_generated_code, close, direction, to_backend
from kronvec.testing import fd_jvp

STACKS = [((4,), 3), ((2, 3), 3), ((3,), 1)]
STACK_IDS = ["one_axis", "two_axes", "one_by_one_members"]


def _case(name, stack, n):
    """(expression, symbols, values, the symbol to differentiate in)."""
    rng = np.random.default_rng(len(stack) * 10 + n)
    X = kv.Matrix("X", stack + (n, n))
    S = kv.Matrix("S", stack + (n, n), positive_definite=True)
    v = kv.Matrix("v", stack + (n, 1))
    a = rng.standard_normal(stack + (n, n))
    values = {"X": rng.standard_normal(stack + (n, n)) / 2, "v": rng.standard_normal(stack + (n, 1)),
              "S": a @ np.swapaxes(a, -1, -2) / n + np.eye(n)}
    exprs = {
        "softmax_whole_stack": (kv.softmax(X) * X, X),
        "log_softmax_whole_stack": (kv.log_softmax(X.mT @ X), X),
        "softmax_rows": (kv.softmax(X, axis=-1) + kv.log_softmax(X, axis=(0, -2)), X),
        "expm": (kv.expm(X) @ X, X),
        "sqrtm": (kv.sqrtm(S) @ S, S),
        "logm": (kv.logm(S) * S, S),
        "diag_embed": (kv.diag(v * v), v),
        "diag_extract": (kv.diag(X @ X), X),
    }
    f, wrt = exprs[name]
    return f, [s for s in (X, S, v) if s in f.symbols().values()], values, wrt


NAMES = ["softmax_whole_stack", "log_softmax_whole_stack", "softmax_rows", "expm", "sqrtm", "logm",
         "diag_embed", "diag_extract"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("stack,n", STACKS, ids=STACK_IDS)
@pytest.mark.parametrize("name", NAMES)
def test_ported_stack_code_value_jvp_vjp_equal_the_library(name, stack, n, backend):
    f, syms, values, wrt = _case(name, stack, n)
    check_generated_code(f, syms, values, wrt, backend)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("stack,n", STACKS, ids=STACK_IDS)
@pytest.mark.parametrize("fn", ["expm", "sqrtm", "logm"])
def test_second_frechet_derivatives_on_stacks(fn, stack, n, backend):
    """d(L_f(A, H)) along H in every backend: sqrtm's, and expm's and logm's (their own nodes)."""
    f, syms, values, wrt = _case(fn, stack, n)
    A = wrt
    H = kv.Matrix("H", A.shape)
    first = kv.jacobian(kv.jacobian(getattr(kv, fn)(A), A).apply(H), A).apply(H)  # L²(A; H, H)
    rng = np.random.default_rng(6)
    h = direction(rng, A.shape, A.params.symmetric)
    vals = {**values, "H": h}
    assert fn == "sqrtm" or any(node.op == f"{fn}_frechet2" for node in first.walk())
    code = kv.lambdify([A, H], first, backend)
    conv = partial(to_backend, backend)
    close(code(conv(values[A.params.name]), conv(h)), kv.evaluate(first, vals))
    along = kv.jacobian(getattr(kv, fn)(A), A).apply(H)
    close(code(conv(values[A.params.name]), conv(h)), fd_jvp(along, A, vals, h), rtol=1e-5)
