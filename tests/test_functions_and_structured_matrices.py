"""Elementwise functions, reductions, diag, matrix_power, expm,
commutation / duplication / elimination matrices and vech.

Every derivative is checked against central finite differences of
``kv.evaluate`` and against a hand-written NumPy / SciPy reference, and every
map passes the adjoint dot test  <L h, g> == <h, L^T g>.
"""
from __future__ import annotations

import zlib

import numpy as np
import pytest
import scipy.linalg as sla
from hypothesis import given, settings
from hypothesis import strategies as st

import kronvec as kv
from _reference import commutation_ref, vec, unvec, ev, scalar, close, fd_close, fd_jvp

inv = np.linalg.inv


# ---------------------------------------------------------------------------
# local helpers
# ---------------------------------------------------------------------------















def fd_check(L, expr, name, vals, rng, n_dirs=3):
    """L.jvp along random directions == central differences of kv.evaluate."""
    X0 = vals[name]
    for _ in range(n_dirs):
        H = rng.standard_normal(X0.shape)
        got = np.asarray(L.jvp(H), dtype=float)
        want = fd_jvp(lambda Z: ev(expr, **{**vals, name: Z}), X0, H)
        assert got.size == want.size, (got.shape, want.shape)
        fd_close(np.ravel(got), np.ravel(want))


def dot_test(L, rng, n=3):
    for _ in range(n):
        h = rng.standard_normal(tuple(L.in_shape))
        g = rng.standard_normal(tuple(L.out_shape))
        Lh = np.asarray(L.jvp(h), dtype=float)
        LTg = np.asarray(L.vjp(g), dtype=float)
        assert Lh.shape == tuple(L.out_shape)
        assert LTg.shape == tuple(L.in_shape)
        lhs, rhs = np.sum(Lh * g), np.sum(h * LTg)
        scale = max(1.0, abs(lhs))
        assert abs(lhs - rhs) <= 1e-10 * scale, (lhs, rhs)
        rhs2 = np.sum(h * np.asarray(L.T.jvp(g), dtype=float))
        assert abs(lhs - rhs2) <= 1e-10 * scale, (lhs, rhs2)


def dense_from_jvp(jvp, in_shape):
    n_in = int(np.prod(in_shape))
    cols = []
    for c in range(n_in):
        e = np.zeros(n_in)
        e[c] = 1.0
        cols.append(vec(jvp(unvec(e, in_shape))))
    return np.stack(cols, axis=1)


def as_dense(M):
    """A structured matrix given either as a LinearMap or as an array."""
    if hasattr(M, "to_dense"):
        return np.asarray(M.to_dense(), dtype=float)
    return np.asarray(M, dtype=float)


def vech_ref(A):
    n = A.shape[0]
    return np.concatenate([A[j:, j] for j in range(n)])


def duplication_ref(n):
    D = np.zeros((n * n, n * (n + 1) // 2))
    col = 0
    for j in range(n):
        for i in range(j, n):
            D[i + n * j, col] = 1.0
            D[j + n * i, col] = 1.0
            col += 1
    return D


def unvech_ref(v, n):
    return unvec(duplication_ref(n) @ np.ravel(v), (n, n))


def sym_matrix(rng, n):
    A = rng.standard_normal((n, n))
    return A + A.T


def spd(rng, n):
    A = rng.standard_normal((n, n))
    return A @ A.T + n * np.eye(n)


# ---------------------------------------------------------------------------
# Elementwise functions
# ---------------------------------------------------------------------------

ELEMENTWISE = {
    # name: (numpy f, numpy f', domain)
    "exp": (np.exp, np.exp, "any"),
    "log": (np.log, lambda x: 1 / x, "pos"),
    "sin": (np.sin, np.cos, "any"),
    "cos": (np.cos, lambda x: -np.sin(x), "any"),
    "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2, "any"),
    "sqrt": (np.sqrt, lambda x: 0.5 / np.sqrt(x), "pos"),
}


def _sample(rng, shape, domain):
    if domain == "pos":
        return rng.uniform(0.5, 2.0, shape)
    return rng.standard_normal(shape)


@pytest.mark.parametrize("fname", sorted(ELEMENTWISE))
def test_elementwise_function(fname):
    f, df, domain = ELEMENTWISE[fname]
    rng = np.random.default_rng(zlib.crc32(fname.encode()))
    X0 = _sample(rng, (3, 4), domain)
    X = kv.Matrix("X", (3, 4))
    F = getattr(kv, fname)(X)
    vals = dict(X=X0)
    close(ev(F, **vals), f(X0))
    L = kv.jacobian(F, X).at(**vals)
    assert tuple(L.in_shape) == (3, 4) and tuple(L.out_shape) == (3, 4)
    H = rng.standard_normal((3, 4))
    close(L.jvp(H), df(X0) * H)
    close(L.vjp(H), df(X0) * H)
    close(L.to_dense(), np.diag(vec(df(X0))))
    fd_check(L, F, "X", vals, rng)
    dot_test(L, rng)


@pytest.mark.parametrize("fname", sorted(ELEMENTWISE))
def test_elementwise_in_a_chain(fname):
    """f(A X B) w.r.t. X: vec(dF) = diag(vec f'(AXB)) kron(B^T, A) vec(dX)."""
    f, df, domain = ELEMENTWISE[fname]
    rng = np.random.default_rng(1 + zlib.crc32(fname.encode()))
    A0, X0, B0 = rng.uniform(0.2, 1.0, (2, 3)), rng.uniform(0.2, 1.0, (3, 4)), \
        rng.uniform(0.2, 1.0, (4, 5))
    X = kv.Matrix("X", (3, 4))
    F = getattr(kv, fname)(A0 @ X @ B0)
    vals = dict(X=X0)
    M = A0 @ X0 @ B0
    close(ev(F, **vals), f(M))
    L = kv.jacobian(F, X).at(**vals)
    close(L.to_dense(), np.diag(vec(df(M))) @ np.kron(B0.T, A0))
    fd_check(L, F, "X", vals, rng)
    dot_test(L, rng)
    # gradient of sum(f(AXB)) = A^T f'(AXB) B^T
    close(ev(kv.grad(kv.sum(F), X), **vals), A0.T @ df(M) @ B0.T)


def test_sum_of_exp_gradient():
    rng = np.random.default_rng(3)
    A0, X0 = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)) * 0.5
    X = kv.Matrix("X", (3, 2))
    f = kv.sum(kv.exp(A0 @ X))
    close(scalar(ev(f, X=X0)), np.sum(np.exp(A0 @ X0)))
    close(ev(kv.grad(f, X), X=X0), A0.T @ np.exp(A0 @ X0))


@pytest.mark.parametrize("p", [2, 3, 0.5, -1, 2.5, 1, 0])
def test_elementwise_power(p):
    rng = np.random.default_rng(4)
    X0 = rng.uniform(0.5, 2.0, (3, 2))
    X = kv.Matrix("X", (3, 2))
    F = X ** p
    vals = dict(X=X0)
    close(ev(F, **vals), X0 ** p)
    L = kv.jacobian(F, X).at(**vals)
    H = rng.standard_normal((3, 2))
    close(L.jvp(H), p * X0 ** (p - 1) * H if p != 0 else np.zeros((3, 2)))
    close(L.to_dense(), np.diag(vec(p * X0 ** (p - 1))) if p != 0 else np.zeros((6, 6)))
    fd_check(L, F, "X", vals, rng)
    dot_test(L, rng)


def test_power_gradient_of_sum_of_squares():
    rng = np.random.default_rng(5)
    A0, X0, b0 = rng.standard_normal((4, 3)), rng.standard_normal((3, 2)), \
        rng.standard_normal((4, 2))
    X = kv.Matrix("X", (3, 2))
    f = kv.sum((A0 @ X - b0) ** 2)
    close(scalar(ev(f, X=X0)), np.sum((A0 @ X0 - b0) ** 2))
    close(ev(kv.grad(f, X), X=X0), 2 * A0.T @ (A0 @ X0 - b0))


def test_elementwise_division():
    rng = np.random.default_rng(6)
    X0 = rng.standard_normal((3, 4))
    Y0 = rng.uniform(0.5, 2.0, (3, 4))
    X, Y = kv.Matrix("X", (3, 4)), kv.Matrix("Y", (3, 4))
    F = X / Y
    vals = dict(X=X0, Y=Y0)
    close(ev(F, **vals), X0 / Y0)
    LX = kv.jacobian(F, X).at(**vals)
    LY = kv.jacobian(F, Y).at(**vals)
    H = rng.standard_normal((3, 4))
    close(LX.jvp(H), H / Y0)
    close(LY.jvp(H), -X0 * H / Y0 ** 2)
    close(LX.to_dense(), np.diag(vec(1 / Y0)))
    close(LY.to_dense(), np.diag(vec(-X0 / Y0 ** 2)))
    fd_check(LX, F, "X", vals, rng)
    fd_check(LY, F, "Y", vals, rng)
    dot_test(LX, rng)
    dot_test(LY, rng)
    # a NumPy array in the denominator and in the numerator
    close(ev(X / Y0, X=X0), X0 / Y0)
    close(ev(X0 / Y, Y=Y0), X0 / Y0)


def test_hadamard_product():
    rng = np.random.default_rng(7)
    X0, Y0 = rng.standard_normal((2, 5)), rng.standard_normal((2, 5))
    X, Y = kv.Matrix("X", (2, 5)), kv.Matrix("Y", (2, 5))
    vals = dict(X=X0, Y=Y0)
    F = X * Y
    close(ev(F, **vals), X0 * Y0)
    LX, LY = kv.jacobian(F, X).at(**vals), kv.jacobian(F, Y).at(**vals)
    close(LX.to_dense(), np.diag(vec(Y0)))
    close(LY.to_dense(), np.diag(vec(X0)))
    for L, name in [(LX, "X"), (LY, "Y")]:
        fd_check(L, F, name, vals, rng)
        dot_test(L, rng)
    LXX = kv.jacobian(X * X * X, X).at(**vals)
    close(LXX.to_dense(), np.diag(vec(3 * X0 ** 2)))


# ---------------------------------------------------------------------------
# Reductions: sum, norm
# ---------------------------------------------------------------------------

def test_sum():
    rng = np.random.default_rng(8)
    A0, X0, B0 = rng.standard_normal((2, 3)), rng.standard_normal((3, 4)), \
        rng.standard_normal((4, 5))
    X = kv.Matrix("X", (3, 4))
    s = kv.sum(X)
    close(scalar(ev(s, X=X0)), X0.sum())
    close(ev(kv.grad(s, X), X=X0), np.ones((3, 4)))
    L = kv.jacobian(s, X).at(X=X0)
    close(np.asarray(L.to_dense()).reshape(-1), np.ones(12))
    dot_test(L, rng)
    f = kv.sum(A0 @ X @ B0)
    close(scalar(ev(f, X=X0)), np.sum(A0 @ X0 @ B0))
    close(ev(kv.grad(f, X), X=X0), A0.T @ np.ones((2, 5)) @ B0.T)
    Lf = kv.jacobian(f, X).at(X=X0)
    fd_check(Lf, f, "X", dict(X=X0), rng)


def test_norm():
    rng = np.random.default_rng(9)
    X0 = rng.standard_normal((4, 3))
    X = kv.Matrix("X", (4, 3))
    f = kv.norm(X)
    nrm = np.linalg.norm(X0, "fro")
    close(scalar(ev(f, X=X0)), nrm)
    close(ev(kv.grad(f, X), X=X0), X0 / nrm)
    L = kv.jacobian(f, X).at(X=X0)
    close(np.asarray(L.to_dense()).reshape(-1), vec(X0) / nrm)
    fd_check(L, f, "X", dict(X=X0), rng)
    dot_test(L, rng)
    # Hessian of the norm: (I - x x^T / |x|^2) / |x|
    Hm = kv.hessian(f, X).at(X=X0)
    x = vec(X0)
    close(Hm.to_dense(), (np.eye(12) - np.outer(x, x) / nrm ** 2) / nrm)
    # norm of a product
    A0 = rng.standard_normal((2, 4))
    g = kv.norm(A0 @ X)
    M = A0 @ X0
    close(ev(kv.grad(g, X), X=X0), A0.T @ M / np.linalg.norm(M))


# ---------------------------------------------------------------------------
# diag
# ---------------------------------------------------------------------------

def test_diag_vector_to_matrix():
    rng = np.random.default_rng(10)
    n = 4
    v0 = rng.standard_normal((n, 1))
    v = kv.Vector("v", n)
    F = kv.diag(v)
    close(ev(F, v=v0), np.diag(v0.ravel()))
    L = kv.jacobian(F, v).at(v=v0)
    assert tuple(L.in_shape) == (n, 1) and tuple(L.out_shape) == (n, n)
    J = np.zeros((n * n, n))
    for i in range(n):
        J[i + n * i, i] = 1.0
    close(L.to_dense(), J)
    fd_check(L, F, "v", dict(v=v0), rng)
    dot_test(L, rng)
    G = rng.standard_normal((n, n))
    close(np.ravel(L.vjp(G)), np.diag(G))


def test_diag_matrix_to_vector():
    rng = np.random.default_rng(11)
    n = 4
    A0 = rng.standard_normal((n, n))
    A = kv.Matrix("A", (n, n))
    F = kv.diag(A)
    out = ev(F, A=A0)
    assert out.shape == (n, 1)
    close(out, np.diag(A0)[:, None])
    L = kv.jacobian(F, A).at(A=A0)
    assert tuple(L.in_shape) == (n, n) and tuple(L.out_shape) == (n, 1)
    J = np.zeros((n, n * n))
    for i in range(n):
        J[i, i + n * i] = 1.0
    close(L.to_dense(), J)
    fd_check(L, F, "A", dict(A=A0), rng)
    dot_test(L, rng)
    # diag(diag(A)) zeroes the off-diagonal, and its derivative does too
    F2 = kv.diag(kv.diag(A))
    close(ev(F2, A=A0), np.diag(np.diag(A0)))
    H = rng.standard_normal((n, n))
    close(kv.jacobian(F2, A).at(A=A0).jvp(H), np.diag(np.diag(H)))
    # gradient of sum(diag(A X)) = tr(A X) -> A^T
    X = kv.Matrix("X", (n, n))
    close(ev(kv.grad(kv.sum(kv.diag(A @ X)), X), A=A0, X=H), A0.T)


# ---------------------------------------------------------------------------
# matrix_power
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("k", [0, 1, 2, 3, 5])
def test_matrix_power(k):
    rng = np.random.default_rng(12 + k)
    n = 3
    X0 = rng.standard_normal((n, n)) / 2 + np.eye(n)
    X = kv.Matrix("X", (n, n))
    F = kv.matrix_power(X, k)
    vals = dict(X=X0)
    close(ev(F, **vals), np.linalg.matrix_power(X0, k))
    L = kv.jacobian(F, X).at(**vals)
    assert tuple(L.in_shape) == (n, n) and tuple(L.out_shape) == (n, n)
    P = np.linalg.matrix_power

    def ref(H):
        return sum((P(X0, r) @ H @ P(X0, k - 1 - r) for r in range(k)),
                   np.zeros((n, n)))

    H = rng.standard_normal((n, n))
    close(L.jvp(H), ref(H))
    close(L.to_dense(), dense_from_jvp(ref, (n, n)))
    fd_check(L, F, "X", vals, rng)
    dot_test(L, rng)
    # Cookbook eq 121: d tr(X^k)/dX = k (X^{k-1})^T
    g = ev(kv.grad(kv.trace(F), X), **vals)
    close(g, k * P(X0, k - 1).T if k > 0 else np.zeros((n, n)))


# ---------------------------------------------------------------------------
# expm
# ---------------------------------------------------------------------------

def test_expm_value_and_frechet():
    rng = np.random.default_rng(13)
    n = 4
    A0 = rng.standard_normal((n, n)) * 0.6
    A = kv.Matrix("A", (n, n))
    F = kv.expm(A)
    close(ev(F, A=A0), sla.expm(A0))
    L = kv.jacobian(F, A).at(A=A0)
    assert tuple(L.in_shape) == (n, n) and tuple(L.out_shape) == (n, n)
    for _ in range(3):
        H = rng.standard_normal((n, n))
        close(L.jvp(H), sla.expm_frechet(A0, H, compute_expm=False), rtol=1e-7)
        G = rng.standard_normal((n, n))
        close(L.vjp(G), sla.expm_frechet(A0.T, G, compute_expm=False), rtol=1e-7)
        close(L.T.jvp(G), sla.expm_frechet(A0.T, G, compute_expm=False), rtol=1e-7)
    Jref = dense_from_jvp(lambda H: sla.expm_frechet(A0, H, compute_expm=False), (n, n))
    close(L.to_dense(), Jref, rtol=1e-7)
    fd_check(L, F, "A", dict(A=A0), rng)
    dot_test(L, rng)


def test_expm_gradients():
    """d tr(e^X)/dX = (e^X)^T;  d tr(B e^X)/dX = L(X^T, B^T)."""
    rng = np.random.default_rng(14)
    n = 3
    X0 = rng.standard_normal((n, n)) * 0.5
    B0 = rng.standard_normal((n, n))
    X = kv.Matrix("X", (n, n))
    close(ev(kv.grad(kv.trace(kv.expm(X)), X), X=X0), sla.expm(X0).T, rtol=1e-7)
    close(ev(kv.grad(kv.trace(B0 @ kv.expm(X)), X), X=X0),
          sla.expm_frechet(X0.T, B0.T, compute_expm=False), rtol=1e-7)
    # a non-normal, non-symmetric argument built from a product
    C0 = rng.standard_normal((n, 2))
    Y = kv.Matrix("Y", (2, n))
    F = kv.expm(C0 @ Y)
    vals = dict(Y=rng.standard_normal((2, n)) * 0.5)
    L = kv.jacobian(F, Y).at(**vals)
    fd_check(L, F, "Y", vals, rng)
    dot_test(L, rng)


# ---------------------------------------------------------------------------
# commutation, duplication, elimination, vech
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("m,n", [(1, 1), (2, 3), (3, 2), (4, 4), (1, 5)])
def test_commutation(m, n):
    Kobj = kv.commutation(m, n)
    K = as_dense(Kobj)
    assert K.shape == (m * n, m * n)
    close(K, commutation_ref(m, n))
    A = np.random.default_rng(15).standard_normal((m, n))
    close(K @ vec(A), vec(A.T))
    close(K.T @ K, np.eye(m * n))
    if hasattr(Kobj, "jvp"):
        assert tuple(Kobj.in_shape) == (m, n) and tuple(Kobj.out_shape) == (n, m)
        close(Kobj.jvp(A), A.T)
        dot_test(Kobj, np.random.default_rng(16))


@pytest.mark.parametrize("n", [1, 2, 3, 5])
def test_vech(n):
    rng = np.random.default_rng(17)
    A = rng.standard_normal((n, n))
    v = np.asarray(kv.vech(A))
    assert v.size == n * (n + 1) // 2
    close(np.ravel(v), vech_ref(A))
    if n == 3:
        B = np.arange(9.0).reshape(3, 3, order="F")    # B[i, j] = i + 3 j
        close(np.ravel(kv.vech(B)), [0, 1, 2, 4, 5, 8])


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_duplication(n):
    rng = np.random.default_rng(18)
    N = n * (n + 1) // 2
    D = kv.duplication(n)
    assert tuple(D.in_shape) == (N, 1)
    assert tuple(D.out_shape) == (n, n)
    Dd = as_dense(D)
    assert Dd.shape == (n * n, N)
    close(Dd, duplication_ref(n))
    S = sym_matrix(rng, n)
    close(D.jvp(vech_ref(S).reshape(N, 1)), S)
    close(np.ravel(D @ vech_ref(S)), vec(S))
    # D^T vec(A) = vech(A + A^T - diag(A))
    A = rng.standard_normal((n, n))
    close(np.ravel(D.vjp(A)), vech_ref(A + A.T - np.diag(np.diag(A))))
    dot_test(D, rng)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_elimination(n):
    rng = np.random.default_rng(19)
    N = n * (n + 1) // 2
    E = kv.elimination(n)
    assert tuple(E.in_shape) == (n, n)
    assert tuple(E.out_shape) == (N, 1)
    Ed = as_dense(E)
    assert Ed.shape == (N, n * n)
    S = sym_matrix(rng, n)
    close(Ed @ vec(S), vech_ref(S))
    close(np.ravel(E.jvp(S)), vech_ref(S))
    # the inverse of the duplication on symmetric matrices
    close(Ed @ duplication_ref(n), np.eye(N))
    close(as_dense(E @ kv.duplication(n)), np.eye(N))
    Dd = duplication_ref(n)
    close(Dd @ Ed @ vec(S), vec(S))
    dot_test(E, rng)


def test_jacobian_wrt_vech_of_inverse():
    """F = V^-1 for symmetric V; J_vech = J @ D = -kron(V^-1, V^-1) D."""
    rng = np.random.default_rng(20)
    n = 3
    N = n * (n + 1) // 2
    V0 = spd(rng, n)
    V = kv.Matrix("V", (n, n), symmetric=True)
    F = kv.inv(V)
    L = kv.jacobian(F, V).at(V=V0) @ kv.duplication(n)
    assert tuple(L.in_shape) == (N, 1)
    assert tuple(L.out_shape) == (n, n)
    Vi = inv(V0)
    Jref = -np.kron(Vi, Vi) @ duplication_ref(n)
    close(L.to_dense(), Jref)
    # finite differences in vech coordinates
    v0 = vech_ref(V0)
    for _ in range(3):
        h = rng.standard_normal(N)
        fd = fd_jvp(lambda w: ev(F, V=unvech_ref(w, n)), v0, h)
        fd_close(L.jvp(h.reshape(N, 1)), fd)
        fd_close(np.asarray(L @ h).reshape(-1), vec(fd))
    dot_test(L, rng)


def test_jacobian_wrt_vech_of_logdet():
    """d logdet(V)/d vech(V) = D^T vec(V^-1): 2 V^-1_ij off the diagonal."""
    rng = np.random.default_rng(21)
    n = 4
    N = n * (n + 1) // 2
    V0 = spd(rng, n)
    V = kv.Matrix("V", (n, n), symmetric=True)
    f = kv.logdet(V) + kv.trace(V @ V)
    L = kv.jacobian(f, V).at(V=V0) @ kv.duplication(n)
    g = np.asarray(L.to_dense()).reshape(-1)
    Gfull = inv(V0) + 2 * V0
    close(g, duplication_ref(n).T @ vec(Gfull))
    fd = np.array([fd_jvp(lambda w: scalar(ev(f, V=unvech_ref(w, n))), vech_ref(V0), e)
                   for e in np.eye(N)])
    fd_close(g, fd)
    # and the symmetric gradient is (G + G^T)/2
    close(ev(kv.grad(f, V), V=V0), Gfull)      # G is already symmetric here


# ---------------------------------------------------------------------------
# Random shapes (hypothesis)
# ---------------------------------------------------------------------------

seeds = st.integers(0, 2**32 - 1)


@settings(max_examples=20, deadline=None)
@given(fname=st.sampled_from(sorted(ELEMENTWISE)), p=st.integers(1, 4),
       q=st.integers(1, 4), seed=seeds)
def test_hyp_elementwise(fname, p, q, seed):
    f, df, domain = ELEMENTWISE[fname]
    rng = np.random.default_rng(seed)
    X0 = _sample(rng, (p, q), domain)
    X = kv.Matrix("X", (p, q))
    F = getattr(kv, fname)(X) * X          # product rule with a Hadamard
    L = kv.jacobian(F, X).at(X=X0)
    H = rng.standard_normal((p, q))
    close(L.jvp(H), (df(X0) * X0 + f(X0)) * H)
    fd_check(L, F, "X", dict(X=X0), rng, n_dirs=1)
    dot_test(L, rng, n=1)


@settings(max_examples=20, deadline=None)
@given(m=st.integers(1, 5), n=st.integers(1, 5), seed=seeds)
def test_hyp_structured_matrices(m, n, seed):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((m, n))
    K = as_dense(kv.commutation(m, n))
    close(K @ vec(A), vec(A.T))
    S = sym_matrix(rng, n)
    N = n * (n + 1) // 2
    D = as_dense(kv.duplication(n))
    E = as_dense(kv.elimination(n))
    close(D, duplication_ref(n))
    close(D @ np.ravel(kv.vech(S)), vec(S))
    close(E @ vec(S), vech_ref(S))
    close(E @ D, np.eye(N))
    # K_{n,n} D = D (duplicated matrices are symmetric)
    close(as_dense(kv.commutation(n, n)) @ D, D)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 4), k=st.integers(0, 4), seed=seeds)
def test_hyp_expm_and_matrix_power(n, k, seed):
    rng = np.random.default_rng(seed)
    A0 = rng.standard_normal((n, n)) * 0.5
    A = kv.Matrix("A", (n, n))
    H = rng.standard_normal((n, n))
    L = kv.jacobian(kv.expm(A), A).at(A=A0)
    close(L.jvp(H), sla.expm_frechet(A0, H, compute_expm=False), rtol=1e-7)
    dot_test(L, rng, n=1)
    P = np.linalg.matrix_power
    Lp = kv.jacobian(kv.matrix_power(A, k), A).at(A=A0)
    ref = sum((P(A0, r) @ H @ P(A0, k - 1 - r) for r in range(k)), np.zeros((n, n)))
    close(Lp.jvp(H), ref)
    dot_test(Lp, rng, n=1)
