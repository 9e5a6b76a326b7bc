"""Pickling: expressions, Jacobians, bound maps and generated functions.

Everything round-trips through the standard pickle (multiprocessing's
default) and gives the same numbers after, also once it has been used: a
Jacobian after ``.at()`` (its recorded evaluation plan is compiled code), a
bound sqrtm/logm map after its first JVP (its eigen or Schur form is a
closure), a lambdified function (its code is generated).  Caches and locks
are left out and built again on first use; symbols stay interned, so an
unpickled X is the live X.
"""
from __future__ import annotations

import multiprocessing
import pickle
import threading

import numpy as np
import pytest

import kronvec as kv
from kronvec.maps import LinearMap
from kronvec.testing import random_values
from test_codegen_trust import BACKENDS, _convert
from test_op_derivatives import CASES


def _round_trip(obj):
    return pickle.loads(pickle.dumps(obj))


def _stacked_cases():
    """Bound maps of every kind on stacks (one and two stack axes) and in several variables."""
    X, A = kv.Matrix("X", (2, 3, 3)), kv.Matrix("A", (3, 3))
    S = kv.Matrix("S", (2, 3, 3), symmetric=True)
    P = kv.Matrix("P", (2, 2, 3, 3), positive_definite=True)
    Y = kv.Matrix("Y", (2, 1, 1))
    return {
        "stack kron": (A @ X @ X, X, False),
        "stack kront": (X.mT @ A @ X, X, False),
        "stack inv": (kv.inv(X) @ A, X, False),
        "stack det": (kv.sum(kv.det(X)), X, False),
        "stack solve": (kv.solve(X, A @ X), X, False),
        "stack sqrtm": (kv.sqrtm(S), S, True),
        "stack logm": (kv.logm(S), S, True),
        "stack cholesky, two stack axes": (kv.cholesky(P), P, True),
        "stack logdet": (kv.sum(kv.logdet(S)), S, True),
        "stack of 1x1 members": (kv.sum(kv.exp(Y) * Y), Y, False),
        "stack sum over members": (kv.sum(X * X, axis=0), X, False),
    }


ALL_CASES = {**{op: (lambda make=make: make(3, 2, 4)) for op, make in CASES.items()},
             **{name: (lambda case=case: case) for name, case in _stacked_cases().items()}}


def _bound(case: str, seed: int = 1):
    f, wrt, positive = ALL_CASES[case]()
    rng = np.random.default_rng(seed)
    values = random_values(f, rng, positive=positive)
    J = kv.jacobian(f, wrt)
    L = J.at(values)
    H, G = rng.standard_normal(L.in_shape), rng.standard_normal(L.out_shape)
    return f, J, values, L, H, G


@pytest.mark.parametrize("case", sorted(ALL_CASES))
def test_bound_maps_and_jacobians_pickle_after_use_with_the_same_numbers(case):
    f, J, values, L, H, G = _bound(case)
    jvp, vjp = L.jvp(H), L.vjp(G)  # first use: closures, decompositions and plans are set up
    stacked = np.stack([H, 2 * H])
    jvp2, adjoint = L.jvp(stacked), L.T.jvp(G)
    M = _round_trip(L)
    np.testing.assert_array_equal(M.jvp(H), jvp)
    np.testing.assert_array_equal(M.vjp(G), vjp)
    np.testing.assert_array_equal(M.T.jvp(G), adjoint)
    np.testing.assert_array_equal(M.jvp(stacked), jvp2)
    np.testing.assert_array_equal(_round_trip(L.T).jvp(G), adjoint)
    _close(_round_trip(J.at(values)).jvp(H), jvp)  # not used before pickling
    J2, f2 = _round_trip(J), _round_trip(f)
    assert f2 is f and J2.wrt is J.wrt  # interned again
    _close(J2.at(values).jvp(H), jvp)
    _close(_round_trip(J.T).at(values).jvp(G), vjp)
    np.testing.assert_array_equal(kv.evaluate(f2, values), kv.evaluate(f, values))


def _close(got, want):
    """Equal to rounding (a binding replayed from its recorded plan may round differently)."""
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * max(1.0, np.abs(want).max()))


def test_block_hessians_pickle():
    U, V = kv.Matrix("U", (3, 2)), kv.Matrix("V", (2, 3))
    f = kv.sum(kv.tanh(U @ V)) + kv.logdet(U.T @ U)
    Hb = kv.hessian(f, [U, V])
    rng = np.random.default_rng(2)
    values = {"U": rng.standard_normal((3, 2)), "V": rng.standard_normal((2, 3))}
    tangents = (rng.standard_normal((3, 2)), rng.standard_normal((2, 3)))
    L = Hb.at(values)
    want = L.jvp(tangents)
    for got in (_round_trip(L).jvp(tangents), _round_trip(Hb).at(values).jvp(tangents)):
        for g, w in zip(got, want):
            np.testing.assert_array_equal(g, w)


def test_locks_are_left_out_and_made_anew():
    """A lock on a Jacobian or a bound map (for thread safety) does not stop pickling; the
    unpickled object has a lock of its own."""
    f, J, values, L, H, G = _bound("sqrtm")
    L.jvp(H)
    L._lock, J._lock = threading.Lock(), threading.RLock()
    L._lock.acquire()  # held: the copy's lock must be a new, free one
    L2, J2 = _round_trip(L), _round_trip(J)
    assert isinstance(L2._lock, type(threading.Lock())) and L2._lock is not L._lock
    assert L2._lock.acquire(blocking=False)
    np.testing.assert_array_equal(L2.jvp(H), L.jvp(H))
    np.testing.assert_array_equal(J2.at(values).jvp(H), L.jvp(H))
    L._lock.release()


def test_unpickled_symbols_are_the_live_symbols():
    X = kv.Matrix("X", (3, 3))
    f = kv.logdet(X.T @ X + kv.eye(3))
    X2, f2 = _round_trip((X, f))
    assert X2 is X and f2 is f
    X0 = np.arange(9.0).reshape(3, 3) / 10
    np.testing.assert_array_equal(kv.evaluate(kv.grad(f2, X), X=X0), kv.evaluate(kv.grad(f, X2), X=X0))


def _function_cases():
    X, V = kv.Matrix("X", (4, 2)), kv.Matrix("V", (4, 4), positive_definite=True)
    F = kv.inv(X.T @ kv.inv(V) @ X).named("F")
    J = kv.jacobian(F, V)
    J.at(X=np.eye(4, 2), V=np.eye(4))  # used before pickling
    return [X, V], [F, (F, kv.logdet(V)), J, J.T]


@pytest.mark.parametrize("backend", BACKENDS)
def test_lambdified_functions_pickle_and_give_the_same_numbers(backend):
    args, outputs = _function_cases()
    rng = np.random.default_rng(3)
    R = rng.standard_normal((4, 4))
    values = [rng.standard_normal((4, 2)), R @ R.T + 4 * np.eye(4)]
    for out in outputs:
        fn = kv.lambdify(args, out, backend)
        fn2 = _round_trip(fn)
        assert fn2.source == fn.source and fn2.backend == backend and fn2.args == fn.args
        given = [_convert(backend, v) for v in values]
        if isinstance(out, kv.Jacobian):
            given.append(_convert(backend, rng.standard_normal(out.in_shape)))
        got, want = fn2(*given), fn(*given)
        for g, w in zip(*(((got,), (want,)) if not isinstance(want, tuple) else (got, want))):
            np.testing.assert_array_equal(np.asarray(g), np.asarray(w))


def test_bound_maps_cross_process_boundaries():
    """A pool of new processes (spawn: a fresh interpreter) applies maps it received."""
    jobs, want = [], []
    for case in ("sqrtm", "logm", "stack solve", "named"):
        f, J, values, L, H, G = _bound(case)
        want.append(L.jvp(H))
        jobs.append((L, H))  # the pool pickles them
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        got = pool.starmap(LinearMap.jvp, jobs)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_maps_bound_to_dask_stacks_pickle():
    da = pytest.importorskip("dask.array")
    X, S = kv.Matrix("X", (4, 3, 3)), kv.Matrix("S", (4, 3, 3), symmetric=True)
    rng = np.random.default_rng(6)
    X0, H = rng.standard_normal((2, 4, 3, 3))
    S0 = X0 @ X0.transpose(0, 2, 1) + np.eye(3)
    for F, wrt, value in [(kv.inv(X) @ X.mT, X, X0), (kv.sqrtm(S), S, S0)]:
        L = kv.jacobian(F, wrt).at({wrt.params.name: da.from_array(value, chunks=(2, 3, 3))})
        want_jvp, want_vjp = np.asarray(L.jvp(H)), np.asarray(L.vjp(H))
        L2 = _round_trip(L)
        np.testing.assert_array_equal(np.asarray(L2.jvp(H)), want_jvp)
        np.testing.assert_array_equal(np.asarray(L2.vjp(H)), want_vjp)
