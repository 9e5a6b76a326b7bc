"""Every linear-map type: adjoint dot-test, dense form against a hand-built
reference, batched application, and the algebra's fast paths.

``MAKERS`` builds one numeric instance of every LinearMap subclass for random
sizes; ``test_every_map_type_is_covered`` fails when a new class is added
without a maker.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
from hypothesis import given, settings
from hypothesis import strategies as st

import kronvec as kv
from kronvec import maps
from kronvec.maps import eigen_frechet
from kronvec.maps import einsum as einsum_maps
from kronvec.maps import (adjugate, algebra, axes, diagonal, expm_second, frechet, nodes, polar, powers,
                          sandwich, selection, structured, terms, triangular)
from kronvec.testing import dottest


def _rng(seed):
    return np.random.default_rng(seed)


def make_kron(r, n, k, p, q):
    return terms.KronMap(r.standard_normal((p, n)), r.standard_normal((k, q)), (n, k), (p, q))


def make_kron_identity_left(r, n, k, p, q):
    return terms.KronMap(None, r.standard_normal((k, q)), (n, k), (n, q))


def make_kront(r, n, k, p, q):
    return terms.KronTMap(r.standard_normal((p, k)), r.standard_normal((n, q)), (n, k), (p, q))


def make_trace(r, n, k, p, q):
    return terms.TraceMap(r.standard_normal((k, n)), r.standard_normal((p, q)), (n, k), (p, q))


def make_trace_scalar(r, n, k, p, q):
    return terms.TraceMap(r.standard_normal((k, n)), np.ones((1, 1)), (n, k), ())


def make_elementwise(r, n, k, p, q):
    return terms.ElementwiseMap(r.standard_normal((n, k)), (n, k))


def make_diag_embed(r, n, k, p, q):
    return terms.DiagEmbedMap(n)


def make_diag_extract(r, n, k, p, q):
    return terms.DiagExtractMap(n)


def make_kron_factor(r, n, k, p, q):
    fixed, src, dst = ["b", "a", "big"][r.integers(3)], None, None
    slots = [s for s in ("a", "b", "big") if s != fixed]
    src, dst = slots if r.integers(2) else slots[::-1]
    dims = (n, k, p, q)
    shapes = {"a": (n, k), "b": (p, q), "big": (n * p, k * q)}
    return terms.KronFactorMap(r.standard_normal(shapes[fixed]), fixed, src, dst, dims)


def make_expm_frechet(r, n, k, p, q):
    return terms.ExpmFrechetMap(0.5 * r.standard_normal((n, n)), (n, n))


def make_triangle(r, n, k, p, q):
    return triangular.TriangleMap(triangular.LINEAR_KINDS[r.integers(len(triangular.LINEAR_KINDS))], n)


def _triangular_factor(r, n, lower):
    t = np.tril(r.standard_normal((n, n))) + 2 * n * np.eye(n)
    t = t if lower else t.T
    return np.asfortranarray(t) if r.integers(2) else t


def make_trisolve(r, n, k, p, q):
    lower_l, lower_r = bool(r.integers(2)), bool(r.integers(2))
    left = _triangular_factor(r, n, lower_l) if r.integers(3) else None
    right = _triangular_factor(r, k, lower_r) if left is None or r.integers(2) else None
    return triangular.TriSolveMap(left, right, lower_l, lower_r, (n, k))


def make_matfun_frechet(r, n, k, p, q):
    fn = ["sqrtm", "logm"][r.integers(2)]
    a = r.standard_normal((n, n))
    A = a @ a.T / n + np.eye(n) if r.integers(2) else 0.3 * a + 2 * np.eye(n)  # symmetric or not
    F = sla.sqrtm(A) if fn == "sqrtm" else sla.logm(A)
    return frechet.MatrixFunctionFrechetMap(fn, A, np.real(F), (n, n))


def make_logm_second(r, n, k, p, q):
    A = 0.3 * r.standard_normal((n, n)) + 2 * np.eye(n)
    return frechet.LogmSecondMap(A, r.standard_normal((n, n)), (n, n))


def make_expm_second(r, n, k, p, q):
    return expm_second.ExpmSecondMap(0.5 * r.standard_normal((n, n)), r.standard_normal((n, n)), (n, n))


def make_power_frechet(r, n, k, p, q):
    return powers.MatrixPowerFrechetMap(0.4 * r.standard_normal((n, n)), int(r.integers(1, 40)), (n, n))


def make_power_second(r, n, k, p, q):
    return powers.MatrixPowerSecondMap(0.4 * r.standard_normal((n, n)), r.standard_normal((n, n)),
                                       int(r.integers(2, 20)), int(r.integers(2)), (n, n))


def make_kron_diag(r, n, k, p, q):
    if r.integers(2):
        A, B = r.standard_normal((p, n)), r.standard_normal((k, p))
        return diagonal.KronDiagMap(A, B, "extract", (n, k), (p, 1))
    A, B = r.standard_normal((n, p)), r.standard_normal((p, q))
    return diagonal.KronDiagMap(A, B, "embed", (p, 1), (n, q))
def make_sandwich(r, n, k, p, q):
    a, b = int(r.integers(1, 4)), int(r.integers(1, 4))  # the middle shape (a, b)
    return sandwich.DiagSandwichMap(r.standard_normal((p, a)), r.standard_normal((b, q)),
                                    r.standard_normal((a, b)), r.standard_normal((a, n)),
                                    r.standard_normal((k, b)), (n, k), (p, q))


def make_sandwich_columns(r, n, k, p, q):
    a = int(r.integers(1, 5))
    return sandwich.DiagSandwichMap(r.standard_normal((p, a)), None, r.standard_normal((a, 1)),
                                    r.standard_normal((a, n)), None, (n, 1), (p, 1))


def make_sandwich_one_side(r, n, k, p, q):
    return sandwich.DiagSandwichMap(None, None, r.standard_normal((n, q)), None, r.standard_normal((k, q)),
                                    (n, k), (n, q))


def make_rank_one(r, n, k, p, q):
    pick = lambda: r.standard_normal((n, k)) if r.integers(3) else None
    return sandwich.DiagRankOneMap(pick(), pick(), pick(), [None, 0, 1][r.integers(3)], (n, k))


def make_sum(r, n, k, p, q):
    return nodes.SumMap([make_kron(r, n, k, p, q), make_kront(r, n, k, p, q), make_trace(r, n, k, p, q)])


def make_scaled(r, n, k, p, q):
    return nodes.ScaledMap(-2.5, make_kron_factor(r, n, k, p, q))


def make_compose(r, n, k, p, q):
    return nodes.ComposeMap([make_elementwise(r, p, q, p, q), make_kron(r, n, k, p, q)])


def make_zero(r, n, k, p, q):
    return nodes.ZeroMap((n, k), (p, q))


def make_duplication(r, n, k, p, q):
    return structured.DuplicationMap(n)


def make_duplication_adjoint(r, n, k, p, q):
    return structured.DuplicationMap(n).T


def make_elimination(r, n, k, p, q):
    return structured.EliminationMap(n)


def make_elimination_adjoint(r, n, k, p, q):
    return structured.EliminationMap(n).T


def _progression(r, size, length=None):
    """A random non-empty range of positions in range(size) (steps and reversals included)."""
    length = int(r.integers(1, size + 1)) if length is None else length
    steps = [s for s in (1, 2, -1, -2) if abs(s) * (length - 1) < size]
    step = steps[r.integers(len(steps))]
    span = abs(step) * (length - 1)
    start = int(r.integers(0, size - span))
    return range(start, start + step * length, step) if step > 0 else \
        range(start + span, start + span + step * length, step)


def make_select(r, n, k, p, q):
    rows, cols = _progression(r, n), _progression(r, k)
    scalar = len(rows) == len(cols) == 1 and r.integers(2)
    return selection.select_map(rows, cols, (n, k), () if scalar else (len(rows), len(cols)))


def make_place(r, n, k, p, q):
    rows, cols = _progression(r, p), _progression(r, q)
    scalar = len(rows) == len(cols) == 1 and r.integers(2)
    return selection.place_map(rows, cols, () if scalar else (len(rows), len(cols)), (p, q))


def make_index_copy(r, n, k, p, q):
    lr, lc = int(r.integers(1, min(n, p) + 1)), int(r.integers(1, min(k, q) + 1))
    rows = (np.array(_progression(r, n, lr)), np.array(_progression(r, p, lr)))
    cols = (np.array(_progression(r, k, lc)), np.array(_progression(r, q, lc)))
    return selection.IndexMap(rows, cols, (n, k), (p, q))


def make_broadcast(r, n, k, p, q):  # a column against a stack: a leading axis and a size-1 axis spread
    return axes.BroadcastMap((n, 1), (p, n, k))


def make_reduce(r, n, k, p, q):
    return axes.ReduceMap((p, n, k), (n, 1))


def make_permute(r, n, k, p, q):
    return axes.PermuteMap((n, k, p), (2, 0, 1))


def make_reshape(r, n, k, p, q):
    return axes.ReshapeMap((n, k, p), (k, n * p))


def make_kron_stack(r, n, k, p, q):  # factors of a stack of two members, one of them shared
    return terms.KronMap(r.standard_normal((2, p, n)), r.standard_normal((k, q)), (2, n, k), (2, p, q))


def make_trace_stack(r, n, k, p, q):  # per-member scalars of a stack, out (2,)
    return terms.TraceMap(r.standard_normal((2, k, n)), r.standard_normal((2, 1, 1)), (2, n, k), (2,))


def make_triangle_stack(r, n, k, p, q):
    return triangular.TriangleMap(["phi", "mirror_lower", "fold_upper"][r.integers(3)], n, (2,))


def make_trisolve_stack(r, n, k, p, q):
    T = np.tril(r.standard_normal((2, n, n))) + 3 * np.eye(n)
    return triangular.TriSolveMap(T, np.swapaxes(T, -1, -2), True, False, (2, n, n))


def make_adjugate_frechet(r, n, k, p, q):
    a = r.standard_normal((n, n))
    if n > 1 and r.integers(2):  # a singular A: the derivative of the adjugate exists there too
        a[:, 0] = a[:, 1:].sum(axis=1)
    return adjugate.AdjugateFrechetMap(a, (n, n))


def make_polar_frechet(r, n, k, p, q):
    shape = (n + p - 1, n) if r.integers(2) else (n, n + p - 1)
    return polar.PolarFrechetMap(r.standard_normal(shape), shape)


def _spectrum(r, n):
    """An orthogonal V and eigenvalues with a tie (w₀ = w₁ when n > 2)."""
    V = np.linalg.qr(r.standard_normal((n, n)))[0]
    w = np.sort(r.standard_normal(n))
    if n > 2:
        w[1] = w[0]
    return V, w[:, None]


def make_eigfun_frechet(r, n, k, p, q):  # V (Γ ⊙ Vᵀ H V) Vᵀ with Γ of exp at the spectrum
    V, w = _spectrum(r, n)
    gamma = eigen_frechet.first_divided_differences(w, np.exp(w), np.exp(w))
    return eigen_frechet.EigfunFrechetMap(None, None, "L", V, gamma, (n, n))


def make_eigfun_second(r, n, k, p, q):  # H ↦ L²(A; H, E) for exp
    V, w = _spectrum(r, n)
    return eigen_frechet.EigfunSecondMap(None, "L", V, w, np.exp(w), np.exp(w), np.exp(w),
                                         r.standard_normal((n, n)), (n, n))


def make_diag_stack(r, n, k, p, q):
    return terms.DiagEmbedMap(n, (2,)) if r.integers(2) else terms.DiagExtractMap(n, (2,))


def make_einsum(r, n, k, p, q):  # H ↦ Σ A[i,j,k] H[k,l] b[j] with a 1-D factor
    c, _ = einsum_maps.parse_einsum("ijk,kl,j->il", [(p, n, k), (k, q), (n,)])
    operands = [r.standard_normal((p, n, k)), None, r.standard_normal(n)]
    return einsum_maps.EinsumMap(c, operands, (k, q), (p, q))


def make_einsum_diagonal(r, n, k, p, q):  # H ↦ Σ H[i,i,j] A[j,l]: a repeated index and a summed one
    c, _ = einsum_maps.parse_einsum("iij,jl->l", [(n, n, k), (k, q)])
    return einsum_maps.EinsumMap(c, [None, r.standard_normal((k, q))], (n, n, k), (q,))


MAKERS = {
    "einsum": make_einsum, "einsum_diagonal": make_einsum_diagonal,
    "kron": make_kron, "kron_identity": make_kron_identity_left, "kront": make_kront,
    "trace": make_trace, "trace_scalar": make_trace_scalar, "elementwise": make_elementwise,
    "diag_embed": make_diag_embed, "diag_extract": make_diag_extract,
    "kron_factor": make_kron_factor, "expm_frechet": make_expm_frechet, "sum": make_sum,
    "scaled": make_scaled, "compose": make_compose, "zero": make_zero,
    "duplication": make_duplication, "duplication_adjoint": make_duplication_adjoint,
    "elimination": make_elimination, "elimination_adjoint": make_elimination_adjoint,
    "select": make_select, "place": make_place, "index_copy": make_index_copy,
    "triangle": make_triangle, "trisolve": make_trisolve, "matfun_frechet": make_matfun_frechet,
    "logm_second": make_logm_second, "kron_diag": make_kron_diag, "adjugate_frechet": make_adjugate_frechet,
    "expm_second": make_expm_second,
    "polar_frechet": make_polar_frechet, "power_frechet": make_power_frechet,
    "power_second": make_power_second,
    "sandwich": make_sandwich, "sandwich_columns": make_sandwich_columns,
    "sandwich_one_side": make_sandwich_one_side, "rank_one": make_rank_one,
    "broadcast": make_broadcast, "reduce": make_reduce, "permute": make_permute, "reshape": make_reshape,
    "kron_stack": make_kron_stack, "trace_stack": make_trace_stack, "triangle_stack": make_triangle_stack,
    "trisolve_stack": make_trisolve_stack, "diag_stack": make_diag_stack,
    "eigfun_frechet": make_eigfun_frechet, "eigfun_second": make_eigfun_second,
}


def _all_subclasses(cls):
    out = set()
    for sub in cls.__subclasses__():
        out |= {sub} | _all_subclasses(sub)
    return out


def test_every_map_type_is_covered():
    covered = {type(make(_rng(0), 3, 2, 4, 2)) for make in MAKERS.values()}
    concrete = {c for c in _all_subclasses(maps.LinearMap) if "_apply" in vars(c)}  # not abstract bases
    assert concrete <= covered, concrete - covered


sizes = st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4), st.integers(1, 4))


def _reference_dense(L):
    """Column c of J is vec(L(E_c)), one basis tangent at a time."""
    n_in = int(np.prod(L.in_shape))
    cols = []
    for c in range(n_in):
        e = np.zeros(n_in)
        e[c] = 1.0
        cols.append(kv.vec(L.jvp(kv.unvec(e, L.in_shape) if L.in_shape else e.reshape(()))))
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("kind", sorted(MAKERS))
@settings(max_examples=15, deadline=None)
@given(dims=sizes, seed=st.integers(0, 2 ** 16))
def test_adjoint_dot_test(kind, dims, seed):
    dottest(MAKERS[kind](_rng(seed), *dims), _rng(seed + 1))


@pytest.mark.parametrize("kind", sorted(MAKERS))
@settings(max_examples=8, deadline=None)
@given(dims=sizes, seed=st.integers(0, 2 ** 16))
def test_dense_tensor_matvec_and_operator_agree(kind, dims, seed):
    L = MAKERS[kind](_rng(seed), *dims)
    ref = _reference_dense(L)
    dense = L.to_dense()
    assert dense.shape == L.shape
    np.testing.assert_allclose(dense, ref, atol=1e-12)
    np.testing.assert_allclose(L.T.to_dense(), ref.T, atol=1e-12)
    T = L.to_tensor()
    assert T.shape == L.out_shape + L.in_shape
    r = _rng(seed + 2)
    h = r.standard_normal(L.in_shape)
    np.testing.assert_allclose(np.tensordot(T, h, axes=h.ndim) if h.ndim else T * h,
                               L.jvp(h), atol=1e-12)
    v = r.standard_normal(L.shape[1])
    np.testing.assert_allclose(L @ v, ref @ v, atol=1e-12)
    V2 = r.standard_normal((L.shape[1], 3))
    np.testing.assert_allclose(L @ V2, ref @ V2, atol=1e-12)
    op = L.aslinearoperator()
    u = r.standard_normal(L.shape[0])
    np.testing.assert_allclose(op.matvec(v), ref @ v, atol=1e-12)
    np.testing.assert_allclose(op.rmatvec(u), ref.T @ u, atol=1e-12)


@pytest.mark.parametrize("kind", sorted(MAKERS))
def test_batched_jvp_and_vjp_equal_a_loop(kind):
    L = MAKERS[kind](_rng(5), 3, 2, 4, 2)
    r = _rng(6)
    H = r.standard_normal((4,) + L.in_shape)
    G = r.standard_normal((4,) + L.out_shape)
    np.testing.assert_allclose(L.jvp(H), np.stack([L.jvp(h) for h in H]), atol=1e-12)
    np.testing.assert_allclose(L.vjp(G), np.stack([L.vjp(g) for g in G]), atol=1e-12)


def test_kron_dense_is_numpy_kron_built_by_hand():
    r = _rng(1)
    A, B = r.standard_normal((4, 3)), r.standard_normal((5, 2))
    L = terms.KronMap(A, B, (3, 5), (4, 2))
    np.testing.assert_array_equal(L.to_dense(), np.kron(B.T, A))
    H = r.standard_normal((3, 5))
    np.testing.assert_allclose(np.kron(B.T, A) @ H.reshape(-1, order="F"),
                               (A @ H @ B).reshape(-1, order="F"))


def test_commutation_dense_permutes_vec():
    A = np.arange(6.0).reshape(2, 3)
    K = kv.commutation(2, 3).to_dense()
    np.testing.assert_array_equal(K @ kv.vec(A), kv.vec(A.T))


# ------------------------------------------------------------ algebra
def _numeric_compose_matches(outer, inner, expected_type):
    merged = algebra.compose(outer, inner)
    assert isinstance(merged, expected_type), type(merged)
    h = _rng(9).standard_normal(inner.in_shape)
    np.testing.assert_allclose(merged.jvp(h), outer.jvp(inner.jvp(h)), atol=1e-12)


@pytest.mark.parametrize("outer_kind,inner_kind,expected", [
    ("kron", "kron", terms.KronMap), ("kron", "kront", terms.KronTMap),
    ("kront", "kron", terms.KronTMap), ("kront", "kront", terms.KronMap),
    ("trace", "kron", terms.TraceMap), ("kron", "trace", terms.TraceMap),
    ("elementwise", "elementwise", terms.ElementwiseMap),
    ("kron", "zero", nodes.ZeroMap), ("expm_frechet", "kron", nodes.ComposeMap),
])
def test_composition_fast_paths(outer_kind, inner_kind, expected):
    r = _rng(4)
    n = 3
    outer = MAKERS[outer_kind](r, n, n, n, n)
    inner = MAKERS[inner_kind](r, n, n, n, n)
    _numeric_compose_matches(outer, inner, expected)


def test_sum_merges_terms_sharing_a_factor():
    r = _rng(2)
    A = r.standard_normal((3, 3))
    L1 = terms.KronMap(A, r.standard_normal((2, 2)), (3, 2), (3, 2))
    L2 = terms.KronMap(A, r.standard_normal((2, 2)), (3, 2), (3, 2))
    s = L1 + L2
    assert isinstance(s, terms.KronMap)
    h = r.standard_normal((3, 2))
    np.testing.assert_allclose(s.jvp(h), L1.jvp(h) + L2.jvp(h))


def test_scaling_and_subtraction():
    L = make_kron(_rng(3), 3, 2, 4, 2)
    h = _rng(4).standard_normal((3, 2))
    np.testing.assert_allclose((2.0 * L).jvp(h), 2 * L.jvp(h))
    np.testing.assert_allclose((L * 3).jvp(h), 3 * L.jvp(h))
    np.testing.assert_allclose((L / 4).jvp(h), L.jvp(h) / 4)
    np.testing.assert_allclose((L - L).to_dense(), 0 * L.to_dense(), atol=1e-14)
    np.testing.assert_allclose((-L).jvp(h), -L.jvp(h))


def test_row_vector_times_map_is_a_vjp():
    L = make_kron(_rng(3), 3, 2, 4, 2)
    u = _rng(5).standard_normal(L.shape[0])
    np.testing.assert_allclose(u @ L, L.to_dense().T @ u, atol=1e-12)


def test_composition_shape_mismatch_names_both_shapes():
    r = _rng(0)
    small = make_kron(r, 3, 3, 3, 3)
    big = make_kron(r, 5, 5, 5, 5)
    with pytest.raises(kv.ShapeError, match=r"\(3, 3\).*\(5, 5\)"):
        small @ big


def test_to_dense_limit_is_explicit_and_can_be_lifted():
    L = make_kron(_rng(3), 3, 2, 4, 2)
    with pytest.raises(kv.MaterializationError, match=r"384 bytes.*max_bytes=384"):
        L.to_dense(max_bytes=100)
    with pytest.raises(ValueError):
        L.to_tensor(max_bytes=100)
    np.testing.assert_array_equal(L.to_dense(max_bytes=None), L.to_dense(max_bytes=384))
