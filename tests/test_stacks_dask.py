"""Dask values: stacks chunked along their stack axes give Dask arrays with NumPy's numbers.

``kv.evaluate`` and ``J.at(...).jvp/vjp`` with Dask values, on the default
scheduler and on a ``dask.distributed`` LocalCluster started (and stopped)
here, on the loopback only.  Skipped when Dask is not installed.
"""
from __future__ import annotations

import numpy as np
import pytest

import kronvec as kv

da = pytest.importorskip("dask.array")

B, N, M = 7, 5, 2


def _values(seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((B, N, N))
    return {"X": rng.standard_normal((B, N, M)), "V": a @ np.swapaxes(a, 1, 2) / N + np.eye(N),
            "y": rng.standard_normal((B, N, 1)), "A": rng.standard_normal((M, M))}


X, V = kv.Matrix("X", (B, N, M)), kv.Matrix("V", (B, N, N), symmetric=True)
y, A = kv.Matrix("y", (B, N, 1)), kv.Matrix("A", (M, M))
F = kv.inv(X.mT @ kv.solve(V, X)).named("F")
beta = F @ X.mT @ kv.solve(V, y)
residual = y - X @ beta
LOGLIK = -0.5 * kv.sum(kv.logdet(V)) - 0.5 * kv.sum(residual.mT @ kv.solve(V, residual))


def _chunked(values, chunks=3):
    return {k: (da.from_array(v, chunks=(chunks,) + v.shape[1:]) if v.ndim == 3 else v)
            for k, v in values.items()}


@pytest.mark.parametrize("expr", [F, beta, kv.logdet(V), LOGLIK, kv.sum(X, axis=0) @ A, kv.norm(X),
                                  kv.trace(V, axis1=-2, axis2=-1) * kv.sum(kv.logdet(V)),
                                  X @ A @ X.mT, kv.grad(LOGLIK, V)])
def test_evaluate_gives_dask_arrays_with_numpys_numbers(expr):
    values = _values()
    out = kv.evaluate(expr, _chunked(values))
    assert isinstance(out, da.Array) and out.shape == expr.shape
    if expr.shape[:1] == (B,):
        assert out.numblocks[0] == 3  # block by block along the stack
    np.testing.assert_allclose(out.compute(), kv.evaluate(expr, values), rtol=1e-12, atol=1e-12)


def test_several_expressions_and_mixed_chunks():
    values = _values(1)
    given = {"X": da.from_array(values["X"], chunks=(2, N, M)),
             "V": da.from_array(values["V"], chunks=(4, 1, N)),
             "y": values["y"]}  # a NumPy stack among Dask ones is chunked alike
    outs = kv.evaluate([F, LOGLIK], given)
    assert all(isinstance(o, da.Array) for o in outs)
    for o, e in zip(outs, [F, LOGLIK]):
        np.testing.assert_allclose(o.compute(), kv.evaluate(e, values), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("case", ["gls in V", "gls in X", "loglik in V", "shared matrix"])
def test_bound_maps_apply_block_by_block(case):
    values = _values(2)
    f, wrt = {"gls in V": (F, V), "gls in X": (F, X), "loglik in V": (LOGLIK, V),
              "shared matrix": (X @ A @ X.mT, A)}[case]
    J = kv.jacobian(f, wrt)
    L, ref = J.at(_chunked(values)), J.at(values)
    assert L.in_shape == ref.in_shape and L.out_shape == ref.out_shape
    rng = np.random.default_rng(3)
    h, g = rng.standard_normal(ref.in_shape), rng.standard_normal(ref.out_shape)
    for out, expected in [(L.jvp(h), ref.jvp(h)), (L.vjp(g), ref.vjp(g)), (L.T.jvp(g), ref.vjp(g)),
                          (L.jvp(da.from_array(h)), ref.jvp(h)), (L.value, ref.value)]:
        assert isinstance(out, da.Array)
        np.testing.assert_allclose(out.compute(), expected, rtol=1e-11, atol=1e-12)
    np.testing.assert_allclose(L.compute().to_dense(), ref.to_dense(), atol=1e-12)


def test_what_mixes_members_is_refused():
    values = _chunked(_values())
    W = kv.Matrix("W", (B, B, N))
    with pytest.raises(NotImplementedError, match="mixes the members"):
        kv.evaluate(kv.trace(W), W=da.zeros((B, B, N), chunks=3))  # NumPy's trace: over the stack axis
    with pytest.raises(NotImplementedError, match="sum over the stack"):
        kv.jacobian(kv.exp(kv.sum(kv.logdet(V))), V).at(values)
    with pytest.raises(kv.ShapeError, match="stacks of tangents"):
        kv.jacobian(F, V).at(values).jvp(np.zeros((2, B, N, N)))


@pytest.mark.parametrize("build", [lambda: kv.softmax(X, axis=0), lambda: kv.log_softmax(X, axis=(0, 1)),
                                   lambda: kv.softmax(X), lambda: kv.sum(kv.softmax(X, axis=0) * X)])
def test_functions_along_the_stack_axis_are_refused_not_computed_block_by_block(build):
    """softmax over the members keeps the stack's shape, but one block's value depends on the
    others: refused (it was once computed block by block, with wrong numbers)."""
    values = _chunked(_values(5))
    with pytest.raises(NotImplementedError, match="mixes the members"):
        out = kv.evaluate(build(), values)
        out.compute()
    with pytest.raises(NotImplementedError, match="mixes the members"):
        kv.jacobian(build(), X).at(values).jvp(np.ones(X.shape))


@pytest.mark.parametrize("build", [lambda: kv.max(X, axis=0), lambda: kv.min(X, axis=(0, 2), keepdims=True),
                                   lambda: kv.logsumexp(X), lambda: kv.logsumexp(800.0 * X, axis=(0, 1)),
                                   lambda: kv.sum(kv.max(X, axis=0))])
def test_max_min_and_logsumexp_over_the_stack_use_dasks_reductions(build):
    """Their values reduce the blockwise values with Dask; their derivatives mix the members."""
    values = _values(8)
    f = build()
    out = kv.evaluate(f, _chunked(values))
    assert isinstance(out, da.Array)
    np.testing.assert_allclose(out.compute(), kv.evaluate(f, values), rtol=1e-12, atol=1e-12)
    with pytest.raises(NotImplementedError, match="mixes the members|act member by member"):
        kv.jacobian(f, X).at(_chunked(values)).jvp(np.ones(X.shape))


@pytest.mark.parametrize("build", [lambda: kv.softmax(X, axis=-1), lambda: kv.log_softmax(X, axis=(1, 2)),
                                   lambda: kv.logsumexp(X, axis=-2), lambda: kv.max(X, axis=(1, 2)),
                                   lambda: kv.sum(kv.logsumexp(X, axis=(1, 2)))])
def test_functions_along_the_matrix_axes_run_block_by_block(build):
    values = _values(6)
    f = build()
    out = kv.evaluate(f, _chunked(values))
    np.testing.assert_allclose(out.compute(), kv.evaluate(f, values), rtol=1e-12, atol=1e-12)
    h = np.random.default_rng(7).standard_normal(X.shape)
    got = kv.jacobian(f, X).at(_chunked(values)).jvp(h)
    np.testing.assert_allclose(got.compute(), kv.jacobian(f, X).at(values).jvp(h), rtol=1e-11, atol=1e-12)


def test_a_local_cluster_computes_the_same_numbers():
    distributed = pytest.importorskip("distributed")
    values = _values(4)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None) as cluster, distributed.Client(cluster):
        given = _chunked(values, chunks=4)
        value, total = kv.evaluate([F, LOGLIK], given)
        np.testing.assert_allclose(value.compute(), kv.evaluate(F, values), rtol=1e-12)
        np.testing.assert_allclose(total.compute(), kv.evaluate(LOGLIK, values), rtol=1e-12)
        L = kv.jacobian(F, V).at(given)
        h = np.random.default_rng(5).standard_normal((B, N, N))
        np.testing.assert_allclose(L.jvp(h).compute(), kv.jacobian(F, V).at(values).jvp(h), rtol=1e-11)
