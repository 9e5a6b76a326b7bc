"""Dask values are held to what NumPy values are: the same refusals, errors that name the
member by its index in the whole stack, and nothing computed before a result is.

Skipped when Dask is not installed.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest

import kronvec as kv

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")

B, N = 12, 3
V = kv.Matrix("V", (B, N, N))
y = kv.Matrix("y", (B, N, 1))
RNG = np.random.default_rng(0)


def _stack(singular: int | None = None) -> np.ndarray:
    v0 = RNG.standard_normal((B, N, N)) + 3 * np.eye(N)
    if singular is not None:
        v0[singular] = np.ones((N, N))
    return v0


def _blocks(x: np.ndarray, size: int = 4):
    return da.from_array(x, chunks=(size,) + x.shape[1:])


# ------------------------------------------------------------ refusals
def test_complex_dask_values_are_refused_as_numpy_values_are():
    v0 = _stack() + 0.5j
    with pytest.raises(TypeError, match="value for V: complex values are not supported"):
        kv.evaluate(kv.inv(V), V=v0)
    with pytest.raises(TypeError, match="value for V: complex values are not supported"):
        kv.evaluate(kv.inv(V), V=_blocks(v0))
    with pytest.raises(TypeError, match="value for V: complex values are not supported"):
        kv.jacobian(kv.inv(V), V).at(V=_blocks(v0))
    A = kv.Matrix("A", (N, N))  # a matrix shared by the members, given as a Dask array
    with pytest.raises(TypeError, match="value for A: complex values are not supported"):
        kv.evaluate(V @ A, V=_blocks(_stack()), A=da.from_array(np.eye(N) * 1j))
    with pytest.raises(TypeError, match="value for A: complex values are not supported"):
        kv.evaluate(V @ A, V=_blocks(_stack()), A=np.eye(N) * 1j)


def test_masked_values_are_refused_as_numpy_values_are():
    v0 = _stack()
    mask = np.zeros(v0.shape, dtype=bool)
    mask[7, 0, 0] = True
    for masked in (np.ma.masked_array(v0, mask=mask), da.ma.masked_array(_blocks(v0), mask=_blocks(mask))):
        with pytest.raises(TypeError, match="value for V: a masked array"):
            kv.evaluate(kv.inv(V), V=masked, y=_blocks(np.ones((B, N, 1))))
        with pytest.raises(TypeError, match="value for V: a masked array"):
            kv.jacobian(kv.inv(V), V).at(V=masked, y=_blocks(np.ones((B, N, 1))))


def test_complex_tangents_to_a_map_bound_to_dask_values_are_refused():
    L = kv.jacobian(kv.inv(V), V).at(V=_blocks(_stack()))
    tangent = np.ones((B, N, N)) * (1 + 1j)
    with pytest.raises(TypeError, match="jvp: complex arrays are not supported"):
        L.jvp(tangent)
    with pytest.raises(TypeError, match="vjp: complex arrays are not supported"):
        L.vjp(_blocks(tangent))


def test_dask_arrays_of_unknown_chunk_sizes_say_to_compute_them():
    v0 = _stack()
    vd = _blocks(v0)
    unknown = vd[vd[:, 0, 0] > -np.inf]  # every member, but Dask cannot know how many
    assert np.isnan(unknown.shape[0])
    with pytest.raises(ValueError, match=r"value for V: .*unknown chunk sizes.*compute_chunk_sizes\(\)"):
        kv.evaluate(kv.inv(V), V=unknown)
    with pytest.raises(ValueError, match=r"compute_chunk_sizes\(\)"):
        kv.jacobian(kv.inv(V), V).at(V=unknown)
    known = unknown.compute_chunk_sizes()
    np.testing.assert_allclose(kv.evaluate(kv.inv(V), V=known).compute(), np.linalg.inv(v0))


# ------------------------------------------------------------ members named in the whole stack
def _computed(x):
    return x.compute() if hasattr(x, "compute") else x


def test_a_singular_member_is_named_by_its_index_in_the_whole_stack():
    v0, y0 = _stack(singular=7), RNG.standard_normal((B, N, 1))  # member 7 is member 3 of block 1
    for values in ({"V": v0, "y": y0}, {"V": _blocks(v0), "y": _blocks(y0)}):
        with pytest.raises(np.linalg.LinAlgError, match=r"V is singular .* in member 7 of the stack"):
            _computed(kv.evaluate(kv.solve(V, y), values))
        with pytest.raises(np.linalg.LinAlgError, match=r"solve\(V, y\): V is singular .* member 7 of"):
            _computed(kv.jacobian(kv.solve(V, y), y).at(values).jvp(np.ones((B, N, 1))))


def test_members_of_two_stack_axes_are_named_by_their_index_tuple_and_symbols_by_their_shape():
    S = kv.Matrix("S", (2, 6, N, N), symmetric=True)
    s0 = np.broadcast_to(2 * np.eye(N), (2, 6, N, N)).copy()
    s0[1, 4, 0, 1] = 5.0  # member (1, 4) is (0, 1) of the block starting at (1, 3)
    with pytest.raises(ValueError, match=r"value for S \(2, 6, 3, 3\), symmetric: member \(1, 4\) is not "
                                         r"symmetric"):
        kv.evaluate(kv.logdet(S), S=da.from_array(s0, chunks=(1, 3, N, N))).compute()
    with pytest.raises(ValueError, match=r"value for S \(2, 6, 3, 3\), symmetric: member \(1, 4\)"):
        kv.evaluate(kv.logdet(S), S=s0)


def test_a_singular_member_met_by_a_product_is_named_in_the_whole_stack():
    """The condition of a triangular factor is checked when the bound map is first applied."""
    T = kv.Matrix("T", (B, N, N))
    t0 = np.triu(_stack())
    t0[9, 1, 1] = 0.0  # member 9: member 1 of the third block
    L = kv.jacobian(kv.solve_triangular(T, y), y).at(T=_blocks(t0), y=_blocks(np.ones((B, N, 1))))
    with pytest.raises(np.linalg.LinAlgError, match=r"member 9 of the stack"):
        L.jvp(np.ones((B, N, 1))).compute()


def test_a_member_refused_by_sqrtm_is_named_in_the_whole_stack():
    S = kv.Matrix("S", (B, N, N))
    s0 = np.broadcast_to(2 * np.eye(N), (B, N, N)).copy()
    s0[10, 0, 1] = 0.1  # not symmetric (evaluated member by member, API.md v1.3) ...
    s0[10, 2, 2] = -1.0  # ... and without a real square root: member 10, member 2 of the third block
    message = r"member 10 of the stack of shape \(12, 3, 3\): sqrtm: the matrix has no real"
    with pytest.raises(ValueError, match=message):
        kv.evaluate(kv.sqrtm(S), S=s0)
    with pytest.raises(ValueError, match=message):
        kv.evaluate(kv.sqrtm(S), S=_blocks(s0)).compute()


def test_a_sum_over_the_stack_that_is_minus_infinity_is_numpys():
    v0 = _stack(singular=7)
    f = kv.sum(kv.logdet(V))
    assert kv.evaluate(f, V=v0) == -np.inf
    assert kv.evaluate(f, V=_blocks(v0)).compute() == -np.inf


# ------------------------------------------------------------ laziness
class _CountingScheduler:
    """Dask's synchronous scheduler, counting the graphs it is given to compute."""

    def __init__(self) -> None:
        self.runs = 0

    def __call__(self, dsk, keys, **kwargs):
        self.runs += 1
        return dask.get(dsk, keys, **kwargs)


def _counted_stack(x: np.ndarray, size: int, reads: list[int]):
    """A Dask array whose blocks are made by a function that counts how often each is made."""
    lock = threading.Lock()

    def block(i: int) -> np.ndarray:
        with lock:
            reads[i] += 1
        return x[i * size:(i + 1) * size]

    parts = [da.from_delayed(dask.delayed(block)(i), shape=(size,) + x.shape[1:], dtype=float)
             for i in range(len(x) // size)]
    return da.concatenate(parts, axis=0)


def test_binding_dask_values_computes_nothing_and_a_result_reads_each_block_once():
    v0, y0, h = _stack(), RNG.standard_normal((B, N, 1)), RNG.standard_normal((B, N, N))
    reads = [0] * (B // 4)
    counter = _CountingScheduler()
    with dask.config.set(scheduler=counter):
        L = kv.jacobian(kv.solve(V, y), V).at(V=_counted_stack(v0, 4, reads), y=_blocks(y0))
        assert counter.runs == 0 and reads == [0, 0, 0]  # J.at only builds the graph
        jvp = L.jvp(h)
        vjp = L.vjp(np.ones((B, N, 1)))
        assert counter.runs == 0 and reads == [0, 0, 0]
        value, jvp, vjp = dask.compute(L.value, jvp, vjp)
        assert counter.runs == 1
        assert reads == [1, 1, 1]  # one pass over the data for the value and both products
    L0 = kv.jacobian(kv.solve(V, y), V).at(V=v0, y=y0)
    np.testing.assert_allclose(value, L0.value, rtol=1e-12)
    np.testing.assert_allclose(jvp, L0.jvp(h), rtol=1e-12)
    np.testing.assert_allclose(vjp, L0.vjp(np.ones((B, N, 1))), rtol=1e-12)


def test_evaluating_dask_values_computes_nothing_until_the_result_is():
    v0, y0 = _stack(), RNG.standard_normal((B, N, 1))
    reads = [0] * (B // 4)
    counter = _CountingScheduler()
    loglik = -0.5 * kv.sum(kv.logdet(V)) - 0.5 * kv.sum(y.mT @ kv.solve(V, y))
    with dask.config.set(scheduler=counter):
        value, beta = kv.evaluate([loglik, kv.solve(V, y)], V=_counted_stack(v0, 4, reads), y=_blocks(y0))
        assert counter.runs == 0 and reads == [0, 0, 0]
        value, beta = dask.compute(value, beta)
        assert counter.runs == 1 and reads == [1, 1, 1]
    np.testing.assert_allclose(value, kv.evaluate(loglik, V=v0, y=y0), rtol=1e-12)


def test_persist_binds_the_blocks_once_for_many_products():
    v0, h = _stack(), RNG.standard_normal((B, N, N))
    reads = [0] * (B // 4)
    L = kv.jacobian(kv.inv(V), V).at(V=_counted_stack(v0, 4, reads)).persist()
    assert reads == [1, 1, 1]
    first, second = L.jvp(h).compute(), L.jvp(2 * h).compute()
    assert reads == [1, 1, 1]
    np.testing.assert_allclose(2 * first, second, rtol=1e-12)


def test_a_map_without_stacked_values_computes_nothing_either():
    A = kv.Matrix("A", (N, N))
    counter = _CountingScheduler()
    with dask.config.set(scheduler=counter):
        L = kv.jacobian(kv.inv(A), A).at(A=da.from_array(_stack()[0]))
        assert counter.runs == 0
        L.jvp(np.eye(N)).compute()
        assert counter.runs == 1
