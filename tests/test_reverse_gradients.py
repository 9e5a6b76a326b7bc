"""Reverse accumulation: gradients in many variables from one backward sweep.

``kronvec.derivative.reverse_gradients`` (what ``kv.grad(f, [many])`` uses
when forward accumulation per variable would cost more) against central
finite differences and against the forward gradients, on random programs,
stacks, 1×1 and scalar symbols, broadcasting against NumPy constants of
every rank and symmetric symbols; block Hessians built on reverse gradients;
and the cost of the sweep, counted in nodes built (deterministic, not time).
"""
from __future__ import annotations

import gc
import itertools
import sys
import time

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_random_expressions import SYMBOLS, _values, expressions

import kronvec as kv
from kronvec import expr as E
from kronvec import reverse
from kronvec.derivative import reverse_gradients
from kronvec.testing import fd_jacobian, random_values

_FRESH = itertools.count()


def _check(f, variables, values, rtol=1e-5):
    """Reverse gradients: exact shapes, equal to the forward ones and to finite differences."""
    f = E.strip_names(f)
    back = reverse_gradients(f, list(variables))
    for g, v in zip(back, variables):
        assert g.shape == v.shape, (g.shape, v.shape)
        got = np.asarray(kv.evaluate(g, values))
        assert got.shape == v.shape
        forward = np.asarray(kv.evaluate(kv.grad(f, v), values))
        np.testing.assert_allclose(got, forward, rtol=1e-9, atol=1e-9 * max(1.0, np.abs(forward).max()))
        fd = fd_jacobian(f, v, values).reshape(v.shape, order="F")
        np.testing.assert_allclose(got, fd, rtol=rtol, atol=rtol * max(1.0, np.abs(fd).max()))
    return back


@settings(max_examples=15, deadline=None)
@given(tree=expressions, seed=st.integers(0, 2 ** 16))
def test_random_programs_in_all_variables(tree, seed):
    expr, _ = tree
    f = kv.sum(expr * kv.tanh(expr)) + kv.trace(SYMBOLS["A"] @ expr)
    _check(f, list(SYMBOLS.values()), _values(seed))


def _mlp(layers, n=5, d=3, loss="squares", tag=""):
    X = kv.Matrix(f"X{tag}", (n, d))
    H, params = X, []
    for i in range(layers):
        W, b = kv.Matrix(f"W{i}{tag}", (d, d)), kv.Matrix(f"b{i}{tag}", (1, d))
        params += [W, b]
        H = kv.tanh(H @ W + b)
    f = kv.sum(H * H) if loss == "squares" else kv.sum(kv.logsumexp(H, axis=1))
    return f, params


@pytest.mark.parametrize("loss", ["squares", "logsumexp"])
def test_mlp_through_the_public_api_uses_the_sweep(loss):
    f, params = _mlp(5, loss=loss)
    assert not reverse.forward_is_cheap(f, params)
    before = reverse.RULE_APPLICATIONS[0]
    grads = kv.grad(f, params)
    assert reverse.RULE_APPLICATIONS[0] > before
    values = random_values(f, np.random.default_rng(1))
    assert [g.shape for g in grads] == [p.shape for p in params]
    _check(f, params, values)


def test_stacks_broadcasting_and_scalars():
    S, W = kv.Matrix("S", (2, 4, 3)), kv.Matrix("W", (3, 3))
    T = kv.Matrix("T", (3, 2, 4, 3))  # two stack axes
    c, u = kv.Scalar("c"), kv.Matrix("u", (1, 1))
    d, e = kv.Matrix("d", (1, 3)), kv.Matrix("e", (4, 1))
    rng = np.random.default_rng(5)
    M = kv.Matrix("M", (4, 3))
    consts = [np.float64(0.7), rng.standard_normal((4, 3)), rng.standard_normal((2, 4, 3))]
    Z = kv.tanh(S @ W + d) * c + u * e
    f = (kv.sum(Z * Z) + kv.sum(kv.tanh(T @ W) * S) + sum(kv.sum(Z * k) for k in consts)
         + kv.sum(kv.tanh(M @ W) * rng.standard_normal(4)) + kv.sum(Z * M))  # rank 1: a column
    variables = [S, W, T, c, u, d, e, M]
    values = random_values(f, rng)
    _check(f, variables, values)


def test_stacks_of_one_by_one_members():
    P, q = kv.Matrix("P", (4, 1, 1)), kv.Matrix("q", (1, 1))
    f = kv.sum(kv.tanh(P @ q) * P) + kv.sum(q * q)
    values = random_values(f, np.random.default_rng(2))
    _check(f, [P, q], values)


def test_symmetric_symbols_get_symmetric_gradients():
    S = kv.Matrix("S", (3, 3), symmetric=True)
    A, y = kv.Matrix("A", (3, 3)), kv.Vector("y", 3)
    K = S @ S + 3 * np.eye(3)
    f = kv.logdet(K) + y.T @ kv.inv(K) @ y + kv.trace(A @ S @ A.T @ S)
    values = random_values(f, np.random.default_rng(3))
    gS, gA, gy = _check(f, [S, A, y], values)
    G = np.asarray(kv.evaluate(gS, values))
    np.testing.assert_allclose(G, G.T, atol=1e-12)


def test_block_hessian_from_reverse_gradients():
    f, params = _mlp(5, n=3, d=2)
    assert not reverse.forward_is_cheap(f, params)
    values = random_values(f, np.random.default_rng(4))
    dense = kv.hessian(f, params).at(values).to_dense()
    np.testing.assert_allclose(dense, dense.T, atol=1e-8)
    grads = reverse_gradients(E.strip_names(f), params)
    fd = np.block([[fd_jacobian(g, v, values) for v in params] for g in grads])
    np.testing.assert_allclose(dense, fd, rtol=1e-5, atol=1e-5)


def test_variables_the_expression_does_not_use_get_zeros():
    f, params = _mlp(2)
    Z = kv.Matrix("Z", (2, 5))
    grads = reverse_gradients(E.strip_names(f), [*params, Z])
    assert grads[-1].op == "zeros" and grads[-1].shape == (2, 5)


def _nodes_built(layers):
    """Expr.make calls of kv.grad of a fresh MLP in all its 2L parameters."""
    f, params = _mlp(layers, tag=f"_{next(_FRESH)}")
    calls = [0]
    make = E.Expr.make.__func__

    def counting(cls, *args, **kw):
        calls[0] += 1
        return make(cls, *args, **kw)
    E.Expr.make = classmethod(counting)
    try:
        kv.grad(f, params)
    finally:
        E.Expr.make = classmethod(make)
    return calls[0]


def test_gradient_of_a_program_in_all_parameters_grows_linearly():
    small, large = _nodes_built(8), _nodes_built(32)
    assert large <= 4 * 1.25 * small, (small, large)


def _calls_to_build_hessian(k):
    """Python calls made by kv.hessian of tr(A₁X⋯AₖX) in X (fresh symbols; deterministic)."""
    tag = f"_{next(_FRESH)}"
    X = kv.Matrix(f"X{tag}", (3, 3))
    P = kv.Matrix(f"A0{tag}", (3, 3)) @ X
    for i in range(1, k):
        P = P @ kv.Matrix(f"A{i}{tag}", (3, 3)) @ X
    f = kv.trace(P)
    calls = [0]

    def count(frame, event, arg):
        calls[0] += event == "call"
    sys.setprofile(count)
    try:
        kv.hessian(f, X)
    finally:
        sys.setprofile(None)
    return calls[0]


def test_hessian_of_a_long_product_grows_as_its_number_of_terms():
    # k² terms: doubling k may cost at most 2^2.3 times the calls (k⁴ merges or k³ rebuilt
    # runs of factors cost 5.6-9.8 times)
    small, large = _calls_to_build_hessian(8), _calls_to_build_hessian(16)
    assert large <= 2 ** 2.3 * small, (small, large, large / small)


def _merge_seconds(*sizes):
    """Best times of merging the symbol tables of a node with m arguments (m/2 distinct symbols)
    for each m, interleaved (a burst of load on the machine hits every size alike)."""
    tag = f"_{next(_FRESH)}"
    X = kv.Matrix(f"X{tag}", (3, 3))
    nodes = [tuple(a for i in range(m // 2) for a in (kv.Matrix(f"A{i}{tag}", (3, 3)), X)) for m in sizes]
    best = [float("inf")] * len(sizes)
    gc.disable()
    try:
        for _ in range(15):
            for k, args in enumerate(nodes):
                start = time.perf_counter()
                E._merged_symbols(args)
                best[k] = min(best[k], time.perf_counter() - start)
    finally:
        gc.enable()
    return best


def test_symbol_tables_of_a_long_product_merge_in_linear_time():
    # each subproduct of A₁X⋯AₖX (there are k² of them) merges its factors' symbols: a copy of
    # the table per factor made that O(k) per factor (8x the factors cost 50-60x the time)
    small, large = _merge_seconds(1000, 8000)
    assert large <= 20 * small, (small, large, large / small)
    X, Y = kv.Matrix("X", (3, 3)), kv.Matrix("Y", (3, 3))
    with pytest.raises(kv.ShapeError, match="'X'"):
        E._merged_symbols((X, Y, kv.Matrix("X", (3, 4))))


def _calls_to_first_use(layers):
    """Python calls of building the MLP's gradients in all parameters and evaluating the loss
    and them once (planning included), with fresh symbols (deterministic)."""
    tag = f"_{next(_FRESH)}"
    rng = np.random.default_rng(0)
    H = kv.Matrix(f"X{tag}", (6, 4))
    values = {f"X{tag}": rng.standard_normal((6, 4))}
    params = []
    for i in range(layers):
        W, b = kv.Matrix(f"W{i}{tag}", (4, 4)), kv.Matrix(f"b{i}{tag}", (1, 4))
        values[f"W{i}{tag}"] = 0.5 * rng.standard_normal((4, 4))
        values[f"b{i}{tag}"] = rng.standard_normal((1, 4))
        params += [W, b]
        H = kv.tanh(H @ W + b)
    f = kv.sum(H * H)
    calls = [0]

    def count(frame, event, arg):
        calls[0] += event == "call"
    gc.collect()
    gc.disable()  # weakly cached nodes must not vanish mid-count
    sys.setprofile(count)
    try:
        kv.evaluate([f, *kv.grad(f, params)], values)
    finally:
        sys.setprofile(None)
        gc.enable()
    return calls[0]


def test_first_use_of_a_program_and_its_gradients_grows_linearly():
    # the outputs share most nodes: walking each output's whole expression (to size the
    # constants it holds, to find what to evaluate first) made it O(layers²): 6.9x the calls
    # for 4x the layers; linear: 3.9-4x
    _calls_to_first_use(2)  # what a first evaluation in a process pays once
    small, large = _calls_to_first_use(8), _calls_to_first_use(32)
    assert large <= 4 * 1.15 * small, (small, large, large / small)


def test_a_composition_rule_is_looked_up_once_per_pair_of_types():
    # the block Hessian of an 8-layer MLP composed 600,000 pairs of maps, each searching
    # |MRO|² keys of every tier of the table (a third of its build time)
    from kronvec.maps import KronMap, ZeroMap, dispatch

    class Counted(dict):
        reads = 0

        def get(self, key, default=None):
            Counted.reads += 1
            return super().get(key, default)
    table = Counted({(KronMap, ZeroMap): lambda outer, inner: inner})
    a = KronMap(None, None, (2, 2), (2, 2))
    z = ZeroMap((2, 2), (2, 2))
    assert dispatch.rule_for_pair(table, a, z) is not None and dispatch.rule_for_pair(table, z, a) is None
    searched = Counted.reads
    for _ in range(10):
        assert dispatch.rule_for_pair(table, a, z) is not None and dispatch.rule_for_pair(table, z, a) is None
    assert Counted.reads == searched, (searched, Counted.reads)
    table[(ZeroMap, KronMap)] = lambda outer, inner: outer  # a rule added later is found
    assert dispatch.rule_for_pair(table, z, a) is not None
