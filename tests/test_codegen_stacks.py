"""kv.lambdify on symbols that are stacks of matrices, on every installed backend.

Generated code takes stacks with NumPy's semantics (leading axes broadcast,
members transposed by ``swapaxes(-1, -2)``, batched factorizations).  For a
sample of operations (inv, solve, det, logdet, cholesky, chains of products,
elementwise functions, reductions), with one and two stack axes and stacks of
1×1 members, the generated value, JVP and VJP equal ``kv.evaluate`` and the
bound map, and the JVP a central finite difference.  An operation whose code
is written for one matrix is refused, naming it and the stack's shape.
"""
from __future__ import annotations

from functools import partial

import numpy as np
import pytest

import kronvec as kv
from _backends import BACKENDS, check_generated_code, close, to_backend
from kronvec.codegen import CodegenError
from kronvec.testing import fd_jvp



def _spd(rng, shape):
    a = rng.standard_normal(shape)
    return a @ np.swapaxes(a, -1, -2) / shape[-1] + 2 * np.eye(shape[-1])


def _case(name, stack, n=3, k=2):
    """(expression, symbols, values, the symbol to differentiate in)."""
    rng = np.random.default_rng(len(stack) * 10 + n)
    X = kv.Matrix("X", stack + (n, n))
    S = kv.Matrix("S", stack + (n, n), positive_definite=True)
    y = kv.Matrix("y", stack + (n, k))
    A = kv.Matrix("A", (n, n))  # one matrix, broadcast against the stacks
    values = {"X": rng.standard_normal(stack + (n, n)) + 3 * np.eye(n), "S": _spd(rng, stack + (n, n)),
              "y": rng.standard_normal(stack + (n, k)), "A": rng.standard_normal((n, n))}
    exprs = {
        "inv": (kv.inv(X) @ A, X),
        "solve": (kv.solve(X, y), X),
        "solve_spd": (kv.solve(S, y) + kv.solve(S.mT, y), S),
        "det": (kv.det(X), X),
        "logdet": (kv.logdet(S) + kv.logdet(X @ X.mT), X),
        "cholesky": (kv.cholesky(S), S),
        "quadratic": (y.mT @ kv.inv(S) @ y, y),
        "chain": (A @ X @ X.mT @ y, X),
        "elementwise": (kv.tanh(X) * kv.exp(X.mT) + X ** 2, X),
        # their derivatives bring ndtr_ratio, polygamma and heaviside
        "special": (kv.arctan(X) + kv.log_ndtr(X) + kv.digamma(X * X + 5) * kv.relu(X), X),
        "per_member": (kv.tanh(kv.det(X)) * kv.logdet(S), S),
        "trace": (kv.trace(A @ X) + kv.sum(kv.inv(S) * S), X),
        "reduction": (kv.sum(kv.logdet(S)) + kv.sum(y.mT @ kv.solve(S, y)), S),
        "tensors": (kv.reshape(kv.expand_dims(kv.einsum("...ij,...jk,...ik->...i", X, y, y), -1) * y,
                               stack + (k, n), order="F"), X),
    }
    f, wrt = exprs[name]
    syms = [s for s in (X, S, y, A) if s in f.symbols().values()]
    return f, syms, values, wrt


NAMES = ["inv", "solve", "solve_spd", "det", "logdet", "cholesky", "quadratic", "chain", "elementwise",
         "special", "per_member", "trace", "reduction", "tensors"]


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("stack", [(4,), (2, 3)], ids=["one_axis", "two_axes"])
@pytest.mark.parametrize("name", NAMES)
def test_stacks_value_jvp_vjp_equal_the_library(name, stack, backend):
    f, syms, values, wrt = _case(name, stack)
    check_generated_code(f, syms, values, wrt, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_stacks_of_one_by_one_members(backend):
    """Members that are 1×1: inverses, determinants and products of scalars, per member."""
    X, y = kv.Matrix("X", (2, 3, 1, 1)), kv.Matrix("y", (2, 3, 1, 2))
    rng = np.random.default_rng(2)
    values = {"X": rng.uniform(1.0, 2.0, (2, 3, 1, 1)), "y": rng.standard_normal((2, 3, 1, 2))}
    f = kv.inv(X) @ y + kv.logdet(X @ X)[0, 0]
    J = kv.jacobian(f, X)
    conv = partial(to_backend, backend)
    args = [conv(values["X"]), conv(values["y"])]
    fns = [kv.lambdify([X, y], out, backend) for out in (f, J, J.T)]
    L = J.at(values)
    H, G = rng.standard_normal(L.in_shape), rng.standard_normal(L.out_shape)
    close(fns[0](*args), kv.evaluate(f, values))
    close(fns[1](*args, conv(H)), L.jvp(H))
    close(fns[1](*args, conv(H)), fd_jvp(f, X, values, H), rtol=1e-5)
    close(fns[2](*args, conv(G)), L.vjp(G))


def test_stack_source_reads_as_numpy_stack_code():
    """Members transposed by swapaxes, batched solves, per-member log-determinants."""
    f, syms, values, _ = _case("reduction", (2, 3))
    source = kv.lambdify(syms, f).source
    assert "np.linalg.cholesky(S)" in source and "axis1=-2, axis2=-1" in source
    assert ".T" not in source.replace(".T)", "")  # no full transposes of stacks
    assert "lapack" not in source  # no per-matrix LAPACK wrapper on a stack


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "numpy"])
def test_an_op_written_for_one_matrix_is_refused_on_a_stack(backend):
    """sqrtm of a stack whose members are not symmetric: JAX's and PyTorch's code is written in the
    eigenbasis of symmetric members only, so it is refused, naming the op (the nuclear norm, refused
    here before, has stack code now: tests/test_codegen_stack_norms.py)."""
    X = kv.Matrix("X", (2, 3, 3))
    with pytest.raises(CodegenError, match=r"sqrtm of a stack whose members are not symmetric"):
        kv.lambdify([X], kv.sqrtm(X @ X + 3 * kv.eye(3)), backend)
