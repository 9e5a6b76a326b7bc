"""The behaviour promised by the public API: LinearMap shapes and algebra,
errors, bindings, helpers, operator mixing with NumPy, symmetric gradients
and Hessians.  Expected values come from NumPy formulas or from central
finite differences of ``kv.evaluate``; never from kronvec alone.
"""
from __future__ import annotations

import time
import tracemalloc

import numpy as np
import pytest
import scipy.sparse.linalg as spla
from hypothesis import given, settings
from hypothesis import strategies as st

import kronvec as kv
from _reference import vec, unvec, ev, scalar, close, fd_close, fd_jvp

inv = np.linalg.inv


# ---------------------------------------------------------------------------
# local helpers
# ---------------------------------------------------------------------------















def fd_dense(expr, wrt_name, in_shape, vals):
    """Dense Jacobian (vec convention) of expr by central differences of
    kv.evaluate, one column per entry of the input."""
    X0 = vals[wrt_name]
    cols = []
    for c in range(int(np.prod(in_shape))):
        e = np.zeros(int(np.prod(in_shape)))
        e[c] = 1.0
        d = fd_jvp(lambda Z: ev(expr, **{**vals, wrt_name: Z}), X0, unvec(e, in_shape))
        cols.append(vec(d))
    return np.stack(cols, axis=1)


def wellcond(rng, n):
    return rng.standard_normal((n, n)) + n * np.eye(n)


def spd(rng, n):
    A = rng.standard_normal((n, n))
    return A @ A.T + n * np.eye(n)


def shape_str(shape):
    return "(" + ", ".join(str(s) for s in shape) + ")"


# ---------------------------------------------------------------------------
# A set of named Jacobians with NumPy reference dense matrices
# ---------------------------------------------------------------------------

def _jac_cases():
    """Each entry: name -> (expr, wrt symbol, in_shape, vals)."""
    rng = np.random.default_rng(2024)
    n, m = 5, 2
    X = kv.Matrix("X", (n, m))
    V = kv.Matrix("V", (n, n))
    S = kv.Matrix("S", (3, 3))
    Y = kv.Matrix("Y", (3, 4))
    Z = kv.Matrix("Z", (4, 2))
    A = kv.Matrix("A", (2, 3))
    a, b = kv.Vector("a", 3), kv.Vector("b", 2)
    vals = dict(X=rng.standard_normal((n, m)), V=spd(rng, n), S=wellcond(rng, 3),
                Y=rng.standard_normal((3, 4)), Z=rng.standard_normal((4, 2)),
                A=rng.standard_normal((2, 3)), a=rng.standard_normal((3, 1)),
                b=rng.standard_normal((2, 1)))
    return {
        "gls_wrt_V": (kv.inv(X.T @ kv.inv(V) @ X), V, (n, n), vals),
        "gls_wrt_X": (kv.inv(X.T @ kv.inv(V) @ X), X, (n, m), vals),
        "inv": (kv.inv(S), S, (3, 3), vals),
        "product_YZ_wrt_Y": (Y @ Z, Y, (3, 4), vals),
        "AYZ_wrt_Z": (A @ Y @ Z, Z, (4, 2), vals),
        "transpose": (Y.T @ A.T, Y, (3, 4), vals),
        "kron": (kv.kron(A, Z), Z, (4, 2), vals),
        "hadamard": (Y * (A.T @ A @ Y), Y, (3, 4), vals),
        "det": (kv.det(S), S, (3, 3), vals),
        "logdet_XtVX": (kv.logdet(X.T @ V @ X), X, (n, m), vals),
        "trace_scaled": (kv.trace(S) * S, S, (3, 3), vals),
        "solve": (kv.solve(S, Y), S, (3, 3), vals),
        "quadratic_1x1": (a.T @ Y @ Z @ b, Y, (3, 4), vals),
    }


JAC = _jac_cases()
JAC_IDS = sorted(JAC)


def _bind(name):
    expr, sym, in_shape, vals = JAC[name]
    L = kv.jacobian(expr, sym).at(**vals)
    wrt = {"gls_wrt_V": "V", "gls_wrt_X": "X", "inv": "S", "product_YZ_wrt_Y": "Y",
           "AYZ_wrt_Z": "Z", "transpose": "Y", "kron": "Z", "hadamard": "Y", "det": "S",
           "logdet_XtVX": "X", "trace_scaled": "S", "solve": "S",
           "quadratic_1x1": "Y"}[name]
    return expr, wrt, in_shape, vals, L


@pytest.mark.parametrize("name", JAC_IDS)
def test_dense_matches_finite_differences(name):
    expr, wrt, in_shape, vals, L = _bind(name)
    D = np.asarray(L.to_dense())
    out_size = int(np.prod(ev(expr, **vals).shape))
    assert D.shape == (out_size, int(np.prod(in_shape)))
    assert L.shape == D.shape
    fd_close(D, fd_dense(expr, wrt, in_shape, vals))


@pytest.mark.parametrize("name", JAC_IDS)
def test_adjoint_dot_test(name):
    """<L h, g> == <h, L^T g> for random h, g."""
    _, _, in_shape, _, L = _bind(name)
    rng = np.random.default_rng(5)
    for _ in range(3):
        h = rng.standard_normal(tuple(L.in_shape))
        g = rng.standard_normal(tuple(L.out_shape))
        lhs = np.sum(np.asarray(L.jvp(h)) * g)
        rhs = np.sum(h * np.asarray(L.vjp(g)))
        rhs2 = np.sum(h * np.asarray(L.T.jvp(g)))
        assert np.isclose(lhs, rhs, rtol=1e-10, atol=1e-10)
        assert np.isclose(lhs, rhs2, rtol=1e-10, atol=1e-10)
        lv = np.asarray(L @ vec(h))
        assert np.isclose(lv @ vec(g), vec(h) @ np.asarray(L.T @ vec(g)),
                          rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("name", JAC_IDS)
def test_jvp_shape_and_dense_consistency(name):
    expr, wrt, in_shape, vals, L = _bind(name)
    out_shape = ev(expr, **vals).shape
    assert tuple(L.in_shape) == in_shape
    assert int(np.prod(L.out_shape)) == int(np.prod(out_shape))
    H = np.random.default_rng(6).standard_normal(in_shape)
    J = np.asarray(L.jvp(H))
    assert J.shape == tuple(L.out_shape)
    D = np.asarray(L.to_dense())
    close(vec(J), D @ vec(H))
    # and the jvp itself is the directional derivative
    fd_close(vec(J), vec(fd_jvp(lambda Z: ev(expr, **{**vals, wrt: Z}), vals[wrt], H)))


@pytest.mark.parametrize("name", JAC_IDS)
def test_vjp_is_dense_transpose(name):
    _, _, in_shape, _, L = _bind(name)
    G = np.random.default_rng(7).standard_normal(tuple(L.out_shape))
    W = np.asarray(L.vjp(G))
    assert W.shape == in_shape
    close(vec(W), np.asarray(L.to_dense()).T @ vec(G))


@pytest.mark.parametrize("name", JAC_IDS)
def test_to_tensor_entries(name):
    _, _, in_shape, _, L = _bind(name)
    D = np.asarray(L.to_dense())
    T = np.asarray(L.to_tensor())
    out_shape = tuple(L.out_shape)
    assert T.shape == out_shape + in_shape
    if len(out_shape) == 2:
        p = out_shape[0]
        n = in_shape[0]
        for i, j, a, b in np.ndindex(T.shape):
            assert T[i, j, a, b] == pytest.approx(D[i + p * j, a + n * b], rel=1e-12, abs=1e-12)
    else:  # scalar output of shape ()
        close(vec(T), D[0])


# ---------------------------------------------------------------------------
# LinearMap members on one rectangular example
# ---------------------------------------------------------------------------

@pytest.fixture
def axb():
    """F = A X B with X (3, 4), A (2, 3), B (4, 5): J = kron(B^T, A)."""
    rng = np.random.default_rng(11)
    A0, X0, B0 = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), \
        rng.standard_normal((4, 5))
    X = kv.Matrix("X", (3, 4))
    A = kv.Matrix("A", (2, 3))
    B = kv.Matrix("B", (4, 5))
    L = kv.jacobian(A @ X @ B, X).at(A=A0, X=X0, B=B0)
    return L, np.kron(B0.T, A0), (A0, X0, B0)


def test_linear_map_shapes(axb):
    L, Jref, _ = axb
    assert tuple(L.in_shape) == (3, 4)
    assert tuple(L.out_shape) == (2, 5)
    assert tuple(L.shape) == (10, 12)
    assert np.asarray(L.jvp(np.ones((3, 4)))).shape == (2, 5)
    assert np.asarray(L.vjp(np.ones((2, 5)))).shape == (3, 4)
    assert np.asarray(L.to_dense()).shape == (10, 12)
    assert np.asarray(L.to_tensor()).shape == (2, 5, 3, 4)
    close(L.to_dense(), Jref)


def test_jvp_vjp_values(axb):
    L, _, (A0, X0, B0) = axb
    rng = np.random.default_rng(12)
    H, G = rng.standard_normal((3, 4)), rng.standard_normal((2, 5))
    close(L.jvp(H), A0 @ H @ B0)
    close(L.vjp(G), A0.T @ G @ B0.T)


def test_matmul_with_vectors(axb):
    L, Jref, _ = axb
    rng = np.random.default_rng(13)
    v = rng.standard_normal(12)
    out = np.asarray(L @ v)
    assert out.shape == (10,)
    close(out, Jref @ v)
    M = rng.standard_normal((12, 3))
    out2 = np.asarray(L @ M)
    assert out2.shape == (10, 3)
    close(out2, Jref @ M)


def test_transpose_map(axb):
    L, Jref, (A0, X0, B0) = axb
    LT = L.T
    assert tuple(LT.in_shape) == (2, 5)
    assert tuple(LT.out_shape) == (3, 4)
    assert tuple(LT.shape) == (12, 10)
    close(LT.to_dense(), Jref.T)
    close(LT.T.to_dense(), Jref)
    G = np.random.default_rng(14).standard_normal((2, 5))
    close(LT.jvp(G), A0.T @ G @ B0.T)
    close(LT.vjp(np.ones((3, 4))), A0 @ np.ones((3, 4)) @ B0)


def test_sum_and_scaling():
    rng = np.random.default_rng(15)
    A0, B0, C0, D0 = (rng.standard_normal(s) for s in [(2, 3), (4, 5), (2, 4), (3, 5)])
    X0 = rng.standard_normal((3, 4))
    X = kv.Matrix("X", (3, 4))
    L1 = kv.jacobian(A0 @ X @ B0, X).at(X=X0)
    L2 = kv.jacobian(C0 @ X.T @ D0, X).at(X=X0)       # also (2, 5) output
    J1 = np.kron(B0.T, A0)
    J2 = dense_of(lambda H: C0 @ H.T @ D0, (3, 4))
    S = L1 + L2
    assert tuple(S.in_shape) == (3, 4) and tuple(S.out_shape) == (2, 5)
    close(S.to_dense(), J1 + J2)
    H = rng.standard_normal((3, 4))
    close(S.jvp(H), A0 @ H @ B0 + C0 @ H.T @ D0)
    close((2.5 * L1).to_dense(), 2.5 * J1)
    close((-1.0 * L2).jvp(H), -(C0 @ H.T @ D0))
    close((0.5 * (L1 + L2)).T.to_dense(), 0.5 * (J1 + J2).T)


def dense_of(fun, in_shape):
    cols = []
    for c in range(int(np.prod(in_shape))):
        e = np.zeros(int(np.prod(in_shape)))
        e[c] = 1
        cols.append(vec(fun(unvec(e, in_shape))))
    return np.stack(cols, axis=1)


def test_aslinearoperator(axb):
    L, Jref, _ = axb
    op = L.aslinearoperator()
    assert isinstance(op, spla.LinearOperator)
    assert op.shape == (10, 12)
    rng = np.random.default_rng(16)
    v, w, M = rng.standard_normal(12), rng.standard_normal(10), rng.standard_normal((12, 4))
    mv = np.asarray(op.matvec(v))
    assert mv.reshape(-1).shape == (10,)
    close(mv.reshape(-1), Jref @ v)
    close(np.asarray(op.rmatvec(w)).reshape(-1), Jref.T @ w)
    mm = np.asarray(op.matmat(M))
    assert mm.shape == (10, 4)
    close(mm, Jref @ M)
    close(np.asarray(op @ v).reshape(-1), Jref @ v)
    close(np.asarray(op.T @ w).reshape(-1), Jref.T @ w)


def test_str_and_latex_of_symbolic_jacobian():
    X = kv.Matrix("X", (5, 2))
    V = kv.Matrix("V", (5, 5))
    J = kv.jacobian(kv.inv(X.T @ kv.inv(V) @ X), V)
    s, t = str(J), J.latex()
    assert isinstance(s, str) and isinstance(t, str)
    assert "V" in s and "X" in s
    assert "V" in t and "X" in t


# ---------------------------------------------------------------------------
# Chain rule by composition
# ---------------------------------------------------------------------------

def test_chain_rule_composition():
    rng = np.random.default_rng(20)
    n, m = 5, 3
    X0, V0 = rng.standard_normal((n, m)), spd(rng, n)
    X, V = kv.Matrix("X", (n, m)), kv.Matrix("V", (n, n))
    P = kv.Matrix("P", (m, m))
    P_expr = X.T @ kv.inv(V) @ X
    P0 = X0.T @ inv(V0) @ X0
    close(ev(P_expr, X=X0, V=V0), P0)
    outer = kv.jacobian(kv.inv(P), P).at(P=P0)
    inner = kv.jacobian(P_expr, V).at(X=X0, V=V0)
    C = outer @ inner
    assert tuple(C.in_shape) == (n, n) and tuple(C.out_shape) == (m, m)
    full = kv.jacobian(kv.inv(P_expr), V).at(X=X0, V=V0)
    F = inv(P0)
    Vi = inv(V0)
    Jref = np.kron((Vi @ X0 @ F).T, F @ X0.T @ Vi)
    close(C.to_dense(), Jref)
    close(full.to_dense(), Jref)
    H = rng.standard_normal((n, n))
    close(C.jvp(H), full.jvp(H))
    close(C.jvp(H), F @ X0.T @ Vi @ H @ Vi @ X0 @ F)
    G = rng.standard_normal((m, m))
    close(C.vjp(G), unvec(Jref.T @ vec(G), (n, n)))
    close(C.T.to_dense(), Jref.T)


def test_composition_shape_mismatch():
    rng = np.random.default_rng(21)
    P = kv.Matrix("P", (3, 3))
    V = kv.Matrix("V", (4, 4))
    L1 = kv.jacobian(kv.inv(P), P).at(P=wellcond(rng, 3))
    L2 = kv.jacobian(kv.inv(V), V).at(V=wellcond(rng, 4))
    with pytest.raises(kv.ShapeError) as ei:
        _ = L1 @ L2
    msg = str(ei.value)
    assert "(3, 3)" in msg and "(4, 4)" in msg
    assert isinstance(ei.value, ValueError)
    with pytest.raises(kv.ShapeError):
        _ = L2 @ L1
    with pytest.raises(ValueError):
        _ = L1 + L2
# ---------------------------------------------------------------------------
# Zero map
# ---------------------------------------------------------------------------

def test_zero_map_for_absent_symbol():
    rng = np.random.default_rng(22)
    X, Y = kv.Matrix("X", (3, 3)), kv.Matrix("Y", (2, 4))
    X0, Y0 = wellcond(rng, 3), rng.standard_normal((2, 4))
    L = kv.jacobian(kv.inv(X), Y).at(X=X0, Y=Y0)
    assert tuple(L.in_shape) == (2, 4) and tuple(L.out_shape) == (3, 3)
    D = np.asarray(L.to_dense())
    assert D.shape == (9, 8)
    assert not D.any()
    J = np.asarray(L.jvp(np.ones((2, 4))))
    assert J.shape == (3, 3) and not J.any()
    W = np.asarray(L.vjp(np.ones((3, 3))))
    assert W.shape == (2, 4) and not W.any()
    g = ev(kv.grad(kv.trace(X), Y), X=X0, Y=Y0)
    assert g.shape == (2, 4) and not g.any()


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------

def test_shape_error_is_value_error():
    assert issubclass(kv.ShapeError, ValueError)


@pytest.mark.parametrize("op,words", [
    ("matmul", ("@", "matmul", "mul", "product", "dot")),
    ("add", ("+", "add", "sum", "plus")),
    ("sub", ("-", "sub", "add", "minus", "diff")),
    ("hadamard", ("*", "hadamard", "mul", "elementwise", "product")),
])
def test_shape_error_binary(op, words):
    A = kv.Matrix("A", (4, 3))
    B = kv.Matrix("B", (2, 5))
    with pytest.raises(kv.ShapeError) as ei:
        if op == "matmul":
            _ = A @ B
        elif op == "add":
            _ = A + B
        elif op == "sub":
            _ = A - B
        else:
            _ = A * B
    msg = str(ei.value)
    assert "(4, 3)" in msg and "(2, 5)" in msg, msg
    assert any(w in msg.lower() for w in words), msg


def test_shape_error_other_binary():
    A, B = kv.Matrix("A", (4, 3)), kv.Matrix("B", (3, 4))
    with pytest.raises(kv.ShapeError) as ei:
        _ = A + B
    assert "(4, 3)" in str(ei.value) and "(3, 4)" in str(ei.value)
    with pytest.raises(kv.ShapeError):
        _ = A * B
    with pytest.raises(kv.ShapeError):
        kv.solve(kv.Matrix("S", (3, 3)), kv.Matrix("R", (4, 2)))
    with pytest.raises(kv.ShapeError):
        _ = A @ A
    with pytest.raises(kv.ShapeError):
        _ = np.ones((2, 2)) @ A
    with pytest.raises(kv.ShapeError):
        _ = A @ np.ones((4, 4))
@pytest.mark.parametrize("fname", ["inv", "det", "logdet", "trace"])
def test_shape_error_non_square(fname):
    A = kv.Matrix("A", (4, 3))
    with pytest.raises(kv.ShapeError) as ei:
        getattr(kv, fname)(A)
    msg = str(ei.value)
    assert "(4, 3)" in msg, msg
    key = {"inv": "inv", "det": "det", "logdet": "det", "trace": "tr"}[fname]
    assert key in msg.lower(), msg


def test_binding_error_missing_value():
    X, Y = kv.Matrix("X", (3, 3)), kv.Matrix("Yvals", (3, 2))
    with pytest.raises(kv.BindingError) as ei:
        kv.evaluate(X @ Y, X=np.eye(3))
    msg = str(ei.value)
    assert "Yvals" in msg and "(3, 2)" in msg, msg
    # several missing names are all listed
    with pytest.raises(kv.BindingError) as ei:
        kv.evaluate(X @ Y)
    msg = str(ei.value)
    assert "Yvals" in msg and "X" in msg and "(3, 3)" in msg and "(3, 2)" in msg, msg
    # binding a Jacobian needs the values too
    with pytest.raises(kv.BindingError) as ei:
        kv.jacobian(kv.inv(X) @ Y, X).at(X=np.eye(3))
    assert "Yvals" in str(ei.value)


def test_wrong_shaped_value():
    X = kv.Matrix("X", (3, 2))
    with pytest.raises(kv.ShapeError):
        kv.evaluate(X.T @ X, X=np.ones((2, 3)))
    with pytest.raises(kv.ShapeError):
        kv.evaluate(X.T @ X, X=np.ones((3, 3)))
    with pytest.raises(kv.ShapeError):
        kv.jacobian(X.T @ X, X).at(X=np.ones((2, 2)))


def test_singular_matrix_names_the_inverse():
    Sigma = kv.Matrix("Sigma", (3, 3))
    S0 = np.array([[1.0, 2.0, 0.0], [3.0, 4.0, 0.0], [5.0, 6.0, 0.0]])
    with pytest.raises(np.linalg.LinAlgError) as ei:
        kv.evaluate(kv.inv(Sigma) @ np.ones((3, 1)), Sigma=S0)
    msg = str(ei.value)
    assert "Sigma" in msg, msg
    with pytest.raises(np.linalg.LinAlgError):
        kv.evaluate(kv.inv(Sigma), Sigma=np.zeros((3, 3)))


def _refusal_message(fn):
    """Call fn, expect a refusal raised before anything large is allocated."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(Exception) as ei:
            fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    elapsed = time.perf_counter() - t0
    # NumPy's own "Unable to allocate" error means it *tried* to allocate.
    assert type(ei.value).__name__ != "_ArrayMemoryError", str(ei.value)
    assert peak < 256 * 2**20, f"peak traced allocation {peak} bytes"
    assert elapsed < 10
    return str(ei.value)


def _mentions_size(msg, nbytes):
    """The message states how big the dense result would be."""
    gb, gib = nbytes / 1e9, nbytes / 2**30
    candidates = {str(nbytes), f"{nbytes:,}", f"{nbytes:_}",
                  f"{gb:.1f}", f"{gb:.2f}", f"{gib:.1f}", f"{gib:.2f}",
                  f"{gb:.0f} G", f"{gib:.0f} G", f"{nbytes:.3g}", f"{nbytes:.2e}"}
    return any(c in msg for c in candidates)


def test_to_dense_refuses_huge_results():
    n = 200   # J is (n^2, n^2) = 40000 x 40000 doubles = 12.8 GB
    rng = np.random.default_rng(23)
    X0 = wellcond(rng, n)
    X = kv.Matrix("X", (n, n))
    L = kv.jacobian(kv.inv(X), X).at(X=X0)
    assert tuple(L.shape) == (n * n, n * n)
    nbytes = n ** 4 * 8
    msg = _refusal_message(L.to_dense)
    assert _mentions_size(msg, nbytes), msg
    msg = _refusal_message(L.to_tensor)
    assert _mentions_size(msg, nbytes), msg
    # still lazy and usable: a JVP costs what the closed form costs
    H = rng.standard_normal((n, n))
    Xi = inv(X0)
    close(L.jvp(H), -Xi @ H @ Xi, rtol=1e-7)


def test_to_dense_allows_moderate_results():
    n = 30   # 900 x 900 doubles: fine
    X0 = wellcond(np.random.default_rng(24), n)
    X = kv.Matrix("X", (n, n))
    Xi = inv(X0)
    close(kv.jacobian(kv.inv(X), X).at(X=X0).to_dense(), -np.kron(Xi.T, Xi))


# ---------------------------------------------------------------------------
# vec / unvec
# ---------------------------------------------------------------------------

def test_vec_unvec_round_trip():
    A = np.arange(12.0).reshape(3, 4)
    v = np.asarray(kv.vec(A))
    close(v.reshape(-1), A.reshape(-1, order="F"))
    close(v.reshape(-1), [0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11])
    B = np.asarray(kv.unvec(v.reshape(-1), (3, 4)))
    assert B.shape == (3, 4)
    close(B, A)
    close(np.asarray(kv.unvec(np.arange(6.0), (2, 3))), [[0, 2, 4], [1, 3, 5]])


def test_vec_kron_identity():
    rng = np.random.default_rng(25)
    A, H, B = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), \
        rng.standard_normal((4, 5))
    lhs = np.asarray(kv.vec(A @ H @ B)).reshape(-1)
    rhs = np.kron(B.T, A) @ np.asarray(kv.vec(H)).reshape(-1)
    close(lhs, rhs)


@settings(max_examples=20, deadline=None)
@given(p=st.integers(1, 4), n=st.integers(1, 4), k=st.integers(1, 4),
       q=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_hyp_vec_identity_and_product_jacobian(p, n, k, q, seed):
    rng = np.random.default_rng(seed)
    A0, H, B0 = rng.standard_normal((p, n)), rng.standard_normal((n, k)), \
        rng.standard_normal((k, q))
    close(np.asarray(kv.vec(A0 @ H @ B0)).reshape(-1),
          np.kron(B0.T, A0) @ np.asarray(kv.vec(H)).reshape(-1))
    close(np.asarray(kv.unvec(kv.vec(H), (n, k))), H)
    X = kv.Matrix("X", (n, k))
    L = kv.jacobian(A0 @ X @ B0, X).at(X=H)
    assert tuple(L.shape) == (p * q, n * k)
    close(L.to_dense(), np.kron(B0.T, A0))
    close(L @ vec(H), vec(A0 @ H @ B0))


# ---------------------------------------------------------------------------
# Operators with NumPy arrays and numbers; scalar expressions
# ---------------------------------------------------------------------------

def test_numpy_on_both_sides():
    rng = np.random.default_rng(26)
    A0 = rng.standard_normal((2, 3))
    B0 = rng.standard_normal((4, 5))
    C0 = rng.standard_normal((3, 4))
    X0 = rng.standard_normal((3, 4))
    X = kv.Matrix("X", (3, 4))
    for expr, ref in [
        (A0 @ X, A0 @ X0),
        (X @ B0, X0 @ B0),
        (A0 @ X @ B0, A0 @ X0 @ B0),
        (C0 + X, C0 + X0),
        (X + C0, X0 + C0),
        (C0 - X, C0 - X0),
        (X - C0, X0 - C0),
        (C0 * X, C0 * X0),
        (2 * X, 2 * X0),
        (X * 2, 2 * X0),
        (X / 2, X0 / 2),
        (-X, -X0),
        (X.T, X0.T),
    ]:
        assert not isinstance(expr, np.ndarray), type(expr)
        close(ev(expr, X=X0), ref)
    # derivatives through NumPy constants
    close(kv.jacobian(A0 @ X @ B0, X).at(X=X0).to_dense(), np.kron(B0.T, A0))


def test_scalar_expressions_multiply():
    rng = np.random.default_rng(27)
    A0, X0 = rng.standard_normal((3, 3)), rng.standard_normal((3, 2))
    A, X = kv.Matrix("A", (3, 3)), kv.Matrix("X", (3, 2))
    vals = dict(A=A0, X=X0)
    close(ev(kv.trace(A) * X, **vals), np.trace(A0) * X0)
    close(ev(X * kv.trace(A), **vals), np.trace(A0) * X0)
    close(ev(X / kv.trace(A), **vals), X0 / np.trace(A0))
    close(scalar(ev(kv.trace(A) * kv.det(A), **vals)), np.trace(A0) * np.linalg.det(A0))
    # d(tr(A) X)/dA = vec(X) vec(I)^T ; d/dX = tr(A) I
    LA = kv.jacobian(kv.trace(A) * X, A).at(**vals)
    close(LA.to_dense(), np.outer(vec(X0), vec(np.eye(3))))
    LX = kv.jacobian(kv.trace(A) * X, X).at(**vals)
    close(LX.to_dense(), np.trace(A0) * np.eye(6))
    # (1, 1) scalar times matrix
    a = kv.Vector("a", 3)
    a0 = rng.standard_normal((3, 1))
    close(ev((a.T @ A @ a) * X, a=a0, **vals), (a0.T @ A0 @ a0).item() * X0)


def test_scalar_shapes_mix():
    """() and (1, 1) scalars combine (NumPy broadcasting) and both are scalars
    for grad."""
    rng = np.random.default_rng(36)
    X0 = wellcond(rng, 3)
    b0 = rng.standard_normal((3, 1))
    X, b = kv.Matrix("X", (3, 3)), kv.Vector("b", 3)
    f = kv.logdet(X) + b.T @ X @ b
    close(scalar(ev(f, X=X0, b=b0)),
          np.linalg.slogdet(X0)[1] + (b0.T @ X0 @ b0).item())
    close(ev(kv.grad(f, X), X=X0, b=b0), inv(X0).T + b0 @ b0.T)


def test_evaluation_ignores_extra_values():
    rng = np.random.default_rng(28)
    X0 = wellcond(rng, 3)
    X = kv.Matrix("X", (3, 3))
    out = ev(kv.inv(X), X=X0, Unused=np.ones((7, 7)), other=3.0)
    close(out, inv(X0))
    G = ev(kv.grad(kv.logdet(X), X), X=X0, Unused=np.ones((2, 2)))
    close(G, inv(X0).T)
    L = kv.jacobian(kv.inv(X), X).at(X=X0, Unused=np.zeros((5, 1)))
    close(L.to_dense(), -np.kron(inv(X0).T, inv(X0)))


def test_evaluate_returns_array_of_expression_shape():
    rng = np.random.default_rng(29)
    X0 = rng.standard_normal((4, 2))
    X = kv.Matrix("X", (4, 2))
    out = kv.evaluate(X.T @ X, X=X0)
    assert isinstance(out, np.ndarray)
    assert out.shape == (2, 2)
    s = np.asarray(kv.evaluate(kv.trace(X.T @ X), X=X0))
    assert s.shape in [(), (1, 1)]


def test_vector_symbol_shape():
    a = kv.Vector("a", 4)
    assert tuple(a.shape) == (4, 1)
    assert tuple(kv.Matrix("M", (2, 3)).shape) == (2, 3)


def test_grad_of_1x1_scalar():
    rng = np.random.default_rng(30)
    a0, X0, b0 = rng.standard_normal((3, 1)), rng.standard_normal((3, 4)), \
        rng.standard_normal((4, 1))
    a, X, b = kv.Vector("a", 3), kv.Matrix("X", (3, 4)), kv.Vector("b", 4)
    f = a.T @ X @ b
    G = ev(kv.grad(f, X), a=a0, X=X0, b=b0)
    assert G.shape == (3, 4)
    close(G, a0 @ b0.T)
    # also with NumPy vectors as constants
    G2 = ev(kv.grad(a0.T @ X @ b0, X), X=X0)
    close(G2, a0 @ b0.T)
    # and w.r.t. the vector
    close(ev(kv.grad(f, a), a=a0, X=X0, b=b0), X0 @ b0)


def test_grad_is_an_expression_differentiable_again():
    rng = np.random.default_rng(31)
    X0 = wellcond(rng, 3)
    X = kv.Matrix("X", (3, 3))
    G = kv.grad(kv.logdet(X), X)
    close(ev(G, X=X0), inv(X0).T)
    # grad of tr(grad) = grad tr(X^-T) = -(X^-2)^T
    close(ev(kv.grad(kv.trace(G), X), X=X0), -(inv(X0) @ inv(X0)).T)


# ---------------------------------------------------------------------------
# symmetric=True
# ---------------------------------------------------------------------------

def test_symmetric_grad_and_unconstrained_jacobian():
    rng = np.random.default_rng(32)
    n = 4
    A0, r0 = rng.standard_normal((n, n)), rng.standard_normal((n, 1))
    V0 = spd(rng, n)
    V = kv.Matrix("V", (n, n), symmetric=True)
    r = kv.Vector("r", n)
    f = kv.logdet(V) + kv.trace(r.T @ kv.inv(V) @ r) + kv.trace(A0 @ V)
    Vi = inv(V0)
    G = Vi.T - (Vi @ r0 @ r0.T @ Vi).T + A0.T      # unconstrained gradient
    Gs = ev(kv.grad(f, V), V=V0, r=r0)
    close(Gs, (G + G.T) / 2)
    L = kv.jacobian(f, V).at(V=V0, r=r0)
    close(np.asarray(L.to_dense()).reshape(-1), vec(G))
    # jacobian of a matrix-valued expression stays the unconstrained map
    LM = kv.jacobian(A0 @ V, V).at(V=V0)
    close(LM.to_dense(), np.kron(np.eye(n), A0))
    # the unsymmetric gradient via a non-symmetric symbol of the same shape
    W = kv.Matrix("W", (n, n))
    close(ev(kv.grad(kv.trace(A0 @ W), W), W=V0), A0.T)


def test_symmetric_grad_directional_derivative():
    """For symmetric E, df = tr(G^T E) (checked by finite differences)."""
    rng = np.random.default_rng(33)
    n = 3
    V0 = spd(rng, n)
    A0 = rng.standard_normal((n, n))
    V = kv.Matrix("V", (n, n), symmetric=True)
    f = kv.trace(A0 @ kv.inv(V)) + kv.logdet(V)
    G = ev(kv.grad(f, V), V=V0)
    close(G, G.T)
    for _ in range(3):
        E = rng.standard_normal((n, n))
        E = E + E.T
        d = fd_jvp(lambda Z: scalar(ev(f, V=Z)), V0, E)
        assert np.isclose(np.sum(G * E), d, rtol=1e-6, atol=1e-8)


# ---------------------------------------------------------------------------
# Hessians
# ---------------------------------------------------------------------------

def test_hessian_shapes_and_hvp():
    rng = np.random.default_rng(34)
    n, m = 4, 3
    X0 = rng.standard_normal((n, m))
    A0 = rng.standard_normal((n, n))
    X = kv.Matrix("X", (n, m))
    f = kv.logdet(X.T @ X) + kv.trace(X.T @ A0 @ X)

    def grad_np(Z):
        return 2 * Z @ inv(Z.T @ Z) + (A0 + A0.T) @ Z

    def f_np(Z):
        return np.linalg.slogdet(Z.T @ Z)[1] + np.trace(Z.T @ A0 @ Z)

    close(ev(kv.grad(f, X), X=X0), grad_np(X0))
    Hm = kv.hessian(f, X).at(X=X0)
    assert tuple(Hm.in_shape) == (n, m)
    assert tuple(Hm.out_shape) == (n, m)
    assert tuple(Hm.shape) == (n * m, n * m)
    D = np.asarray(Hm.to_dense())
    close(D, D.T, rtol=1e-8)                     # Hessians are symmetric
    for _ in range(3):
        E = rng.standard_normal((n, m))
        hv = np.asarray(Hm.jvp(E))
        assert hv.shape == (n, m)
        fd_close(hv, fd_jvp(grad_np, X0, E))
        fd_close(hv, fd_jvp(lambda Z: ev(kv.grad(f, X), X=Z), X0, E))
        # second directional derivative of f
        eps = 1e-4
        d2 = (f_np(X0 + eps * E) - 2 * f_np(X0) + f_np(X0 - eps * E)) / eps ** 2
        assert np.isclose(np.sum(E * hv), d2, rtol=1e-4, atol=1e-4)


def test_hessian_equals_jacobian_of_grad():
    rng = np.random.default_rng(35)
    X0 = wellcond(rng, 3)
    X = kv.Matrix("X", (3, 3))
    f = kv.trace(kv.inv(X))
    H1 = np.asarray(kv.hessian(f, X).at(X=X0).to_dense())
    H2 = np.asarray(kv.jacobian(kv.grad(f, X), X).at(X=X0).to_dense())
    close(H1, H2)
    # grad tr(X^-1) = -(X^-2)^T ; its FD Jacobian
    cols = []
    for c in range(9):
        e = np.zeros(9)
        e[c] = 1
        cols.append(vec(fd_jvp(lambda Z: -(inv(Z) @ inv(Z)).T, X0, unvec(e, (3, 3)))))
    fd_close(H1, np.stack(cols, axis=1))


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 4), m=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_hyp_adjoint_and_fd(n, m, seed):
    """Random shapes: J of inv(X^T V^-1 X) + X^T C X w.r.t. X against FD,
    plus the adjoint dot test."""
    rng = np.random.default_rng(seed)
    n = n + m   # tall
    X0 = rng.standard_normal((n, m)) + 2 * np.eye(n, m)     # well-conditioned
    V0, C0 = spd(rng, n), rng.standard_normal((n, n))
    X, V = kv.Matrix("X", (n, m)), kv.Matrix("V", (n, n))
    F = kv.inv(X.T @ kv.inv(V) @ X) + X.T @ C0 @ X
    vals = dict(X=X0, V=V0)
    L = kv.jacobian(F, X).at(**vals)
    H = rng.standard_normal((n, m))
    fd_close(L.jvp(H), fd_jvp(lambda Z: ev(F, **{**vals, "X": Z}), X0, H))
    G = rng.standard_normal((m, m))
    assert np.isclose(np.sum(np.asarray(L.jvp(H)) * G), np.sum(H * np.asarray(L.vjp(G))),
                      rtol=1e-9, atol=1e-9)
