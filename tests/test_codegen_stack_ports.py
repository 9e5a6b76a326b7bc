"""Generated code on stacks for softmax and log_softmax over a whole stack (or some of its
axes), the Fréchet derivatives of expm, sqrtm and logm (first and second) and the maps that
embed or extract diagonals, on every installed backend.

With one and two stack axes and stacks of 1×1 members, the generated value, JVP and VJP equal
``kv.evaluate`` and the bound map, and the JVP a central finite difference.  The second Fréchet
derivatives of expm and logm are written for every backend too (JAX and PyTorch: the batched
block exponential, and the eigenbasis of symmetric members).
"""
from __future__ import annotations

import numpy as np
import pytest

import kronvec as kv
from _backends import BACKENDS, jax, torch
from kronvec.testing import fd_jvp

if jax is not None:
    import jax.numpy as jnp

CONVERT = {"numpy": np.asarray, "jax": lambda x: jnp.asarray(x),
           "torch": lambda x: torch.as_tensor(np.array(x))}
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


def _close(got, want, rtol=1e-8):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape, (got.shape, want.shape)
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale)


def _direction(rng, shape, symmetric):
    h = rng.standard_normal(shape)
    return h + np.swapaxes(h, -1, -2) if symmetric else h


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("stack,n", STACKS, ids=STACK_IDS)
@pytest.mark.parametrize("name", NAMES)
def test_ported_stack_code_value_jvp_vjp_equal_the_library(name, stack, n, backend):
    f, syms, values, wrt = _case(name, stack, n)
    J = kv.jacobian(f, wrt)
    fns = [kv.lambdify(syms, out, backend) for out in (f, J, J.T)]
    conv = CONVERT[backend]
    args = [conv(values[s.params.name]) for s in syms]
    L = J.at(values)
    rng = np.random.default_rng(5)
    H, G = _direction(rng, L.in_shape, wrt.params.symmetric), rng.standard_normal(L.out_shape)
    _close(fns[0](*args), kv.evaluate(f, values))
    _close(fns[1](*args, conv(H)), L.jvp(H))
    _close(fns[1](*args, conv(H)), fd_jvp(f, wrt, values, H), rtol=1e-5)
    _close(fns[2](*args, conv(G)), L.vjp(G))


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
    h = _direction(rng, A.shape, A.params.symmetric)
    vals = {**values, "H": h}
    assert fn == "sqrtm" or any(node.op == f"{fn}_frechet2" for node in first.walk())
    code = kv.lambdify([A, H], first, backend)
    conv = CONVERT[backend]
    _close(code(conv(values[A.params.name]), conv(h)), kv.evaluate(first, vals))
    along = kv.jacobian(getattr(kv, fn)(A), A).apply(H)
    _close(code(conv(values[A.params.name]), conv(h)), fd_jvp(along, A, vals, h), rtol=1e-5)
