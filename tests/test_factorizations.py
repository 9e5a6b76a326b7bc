"""Factorizations: cholesky, eigh/eigvalsh, svd, qr, lu, solve_triangular and pinv.

Values against NumPy/SciPy (the triangle that is read, UPLO, reduced shapes),
finite differences for every output, the triangle the derivative reads,
one LAPACK call for the outputs of one factorization, degenerate points,
printed closed forms, the parser and the cost of the bound maps.
"""
from __future__ import annotations

import time

import numpy as np
import pytest
import scipy.linalg as sla
from hypothesis import given, settings
from hypothesis import strategies as st

import kronvec as kv
from kronvec.maps import TriSolveMap
from kronvec.parse import ParseError, parse_expression
from kronvec.printing import to_python
from kronvec.testing import check_jacobian, fd_jacobian, symmetrizer


def _rng(seed=0):
    return np.random.default_rng(seed)


def _spd(n, seed=0):
    a = _rng(seed).standard_normal((n, n))
    return a @ a.T / n + np.eye(n)


def _lower_spd_with_junk(n, seed=0):
    """A non-symmetric matrix whose lower triangle is that of an SPD matrix (junk above)."""
    s = _spd(n, seed)
    return np.tril(s) + np.triu(_rng(seed + 1).standard_normal((n, n)), 1)


# ---------------------------------------------------------------- values
def test_cholesky_reads_the_lower_triangle_like_numpy():
    A0 = _lower_spd_with_junk(5)
    A = kv.Matrix("A", (5, 5))
    L = kv.evaluate(kv.cholesky(A), A=A0)
    np.testing.assert_allclose(L, np.linalg.cholesky(A0), atol=1e-14)
    assert np.allclose(np.triu(L, 1), 0)


def test_cholesky_of_a_non_positive_definite_matrix_is_named():
    A = kv.Matrix("A", (3, 3))
    with pytest.raises(np.linalg.LinAlgError, match=r"cholesky\(A\).*not positive definite"):
        kv.evaluate(kv.cholesky(A), A=-np.eye(3))


def test_cholesky_of_a_positive_definite_symbol_reuses_the_binding_factor():
    S = kv.Matrix("S", (4, 4), positive_definite=True)
    S0 = _spd(4)
    np.testing.assert_allclose(kv.evaluate(kv.cholesky(S), S=S0), np.linalg.cholesky(S0), atol=1e-14)


@pytest.mark.parametrize("uplo", ["L", "U"])
def test_eigh_and_eigvalsh_read_the_uplo_triangle_like_numpy(uplo):
    A0 = _rng(2).standard_normal((5, 5))  # not symmetric: only the UPLO triangle counts
    A = kv.Matrix("A", (5, 5))
    w, V = kv.eigh(A, UPLO=uplo)
    w0, V0 = np.linalg.eigh(A0, UPLO=uplo)
    assert w.shape == (5, 1) and V.shape == (5, 5)
    np.testing.assert_allclose(kv.evaluate(w, A=A0)[:, 0], w0, atol=1e-13)
    np.testing.assert_allclose(kv.evaluate(V, A=A0), V0, atol=1e-13)
    values = kv.evaluate(kv.eigvalsh(A, UPLO=uplo), A=A0)[:, 0]
    np.testing.assert_allclose(values, np.linalg.eigvalsh(A0, uplo))
    assert kv.eigh(A, UPLO=uplo)[0] is kv.eigvalsh(A, UPLO=uplo)  # one node for w
    with pytest.raises(ValueError, match="UPLO"):
        kv.eigh(A, UPLO="X")


@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4)])
def test_svd_is_reduced_like_numpy(shape):
    X0 = _rng(3).standard_normal(shape)
    X = kv.Matrix("X", shape)
    U, s, Vt = kv.svd(X)
    k = min(shape)
    assert U.shape == (shape[0], k) and s.shape == (k, 1) and Vt.shape == (k, shape[1])
    u0, s0, vt0 = np.linalg.svd(X0, full_matrices=False)
    np.testing.assert_allclose(kv.evaluate(U, X=X0), u0, atol=1e-13)
    np.testing.assert_allclose(kv.evaluate(s, X=X0)[:, 0], s0, atol=1e-13)
    np.testing.assert_allclose(kv.evaluate(Vt, X=X0), vt0, atol=1e-13)
    assert kv.svd(X, compute_uv=False) is s


def test_qr_lu_pinv_values():
    X0 = _rng(4).standard_normal((6, 4))
    X = kv.Matrix("X", (6, 4))
    Q, R = kv.qr(X)
    q0, r0 = np.linalg.qr(X0)
    np.testing.assert_allclose(kv.evaluate(Q, X=X0), q0, atol=1e-13)
    np.testing.assert_allclose(kv.evaluate(R, X=X0), r0, atol=1e-13)
    W0 = _rng(6).standard_normal((3, 5))  # wide: NumPy's reduced shapes (API.md v1.3)
    for e, ref in zip(kv.qr(kv.Matrix("W", (3, 5))), np.linalg.qr(W0)):
        np.testing.assert_allclose(kv.evaluate(e, W=W0), ref, atol=1e-13)
    A0 = _rng(5).standard_normal((5, 5))
    A = kv.Matrix("A", (5, 5))
    for e, ref in zip(kv.lu(A), sla.lu(A0)):
        np.testing.assert_allclose(kv.evaluate(e, A=A0), ref, atol=1e-13)
    for e, ref in zip(kv.lu(X), sla.lu(X0)):  # tall: SciPy's shapes (API.md v1.3)
        np.testing.assert_allclose(kv.evaluate(e, X=X0), ref, atol=1e-13)
    rank2 = X0[:, :2] @ _rng(6).standard_normal((2, 4))
    np.testing.assert_allclose(kv.evaluate(kv.pinv(X), X=rank2), np.linalg.pinv(rank2), atol=1e-12)
    assert kv.pinv(kv.pinv(X)) is X and kv.pinv(X).shape == (4, 6)


@pytest.mark.parametrize("lower", [False, True])
@pytest.mark.parametrize("unit", [False, True])
@pytest.mark.parametrize("trans", [0, 1, "T", 2])
def test_solve_triangular_reads_only_the_named_triangle_like_scipy(lower, unit, trans):
    r = _rng(7)
    A0 = r.standard_normal((4, 4)) + 4 * np.eye(4)
    B0 = r.standard_normal((4, 3))
    A, B = kv.Matrix("A", (4, 4)), kv.Matrix("B", (4, 3))
    X = kv.solve_triangular(A, B, trans=trans, lower=lower, unit_diagonal=unit)
    ref = sla.solve_triangular(A0, B0, trans=trans, lower=lower, unit_diagonal=unit)
    np.testing.assert_allclose(kv.evaluate(X, A=A0, B=B0), ref, atol=1e-12)
    # the derivative reads the same triangle: the other entries of A have zero columns
    J = kv.jacobian(X, A).at(A=A0, B=B0).to_dense()
    ones = np.ones((4, 4))
    read = np.tril(ones, -1 if unit else 0) if lower else np.triu(ones, 1 if unit else 0)
    unread = kv.vec(read) == 0
    assert np.all(J[:, unread] == 0) and np.abs(J[:, ~unread]).max() > 0
    check_jacobian(X, A, {"A": A0, "B": B0})
    check_jacobian(X, B, {"A": A0, "B": B0})
    assert parse_expression(to_python(X), {"A": (4, 4), "B": (4, 3)}, kv) is X


def test_solve_triangular_refuses_a_bad_trans():
    with pytest.raises(ValueError, match="trans"):
        kv.solve_triangular(kv.Matrix("A", (2, 2)), kv.Matrix("B", (2, 1)), trans=3)


# ------------------------------------------------- derivatives, every output
def _outputs():
    A, S, X, W = (kv.Matrix("A", (4, 4)), kv.Matrix("S", (4, 4), symmetric=True), kv.Matrix("X", (5, 3)),
                  kv.Matrix("W", (3, 5)))
    w, V = kv.eigh(A)
    wu, Vu = kv.eigh(A, UPLO="U")
    U, s, Vt = kv.svd(X)
    Uw, sw, Vtw = kv.svd(W)
    Q, R = kv.qr(X)
    P, L, Uf = kv.lu(A)
    return {
        "cholesky": (kv.cholesky(A), A), "cholesky_sym": (kv.cholesky(S), S),
        "eigh_w": (w, A), "eigh_V": (V, A), "eigh_w_U": (wu, A), "eigh_V_U": (Vu, A),
        "eigh_V_sym": (kv.eigh(S)[1], S),
        "svd_U": (U, X), "svd_s": (s, X), "svd_Vt": (Vt, X), "svd_U_wide": (Uw, W), "svd_s_wide": (sw, W),
        "svd_Vt_wide": (Vtw, W), "qr_Q": (Q, X), "qr_R": (R, X),
        "lu_P": (P, A), "lu_L": (L, A), "lu_U": (Uf, A),
        "pinv": (kv.pinv(X), X), "pinv_wide": (kv.pinv(W), W),
        "norm_nuc": (kv.norm(X, ord="nuc"), X), "norm_2": (kv.norm(X, ord=2), X),
        "norm_fro": (kv.norm(X, "fro"), X),
        "matrix_power_-2": (kv.matrix_power(A, -2), A),
    }


def _values_for(wrt, seed):
    r = _rng(seed)
    if wrt.params.name == "A":
        return {"A": _lower_spd_with_junk(4, seed) + 0.5 * np.eye(4)}
    if wrt.params.name == "S":
        return {"S": _spd(4, seed)}
    return {wrt.params.name: r.standard_normal(wrt.shape)}


@pytest.mark.parametrize("name", sorted(_outputs()))
def test_every_output_matches_finite_differences_to_second_order(name):
    f, wrt = _outputs()[name]
    values = _values_for(wrt, 11)
    check_jacobian(f, wrt, values)
    scalar = f if f.shape in ((), (1, 1)) else kv.sum(kv.Matrix("C", f.shape) * f)
    values["C"] = _rng(12).standard_normal(f.shape)
    g = kv.grad(scalar, wrt)
    H = kv.hessian(scalar, wrt).at(values).to_dense()
    ref = fd_jacobian(g, wrt, values)
    if wrt.params.symmetric:
        H = H @ symmetrizer(4)
    np.testing.assert_allclose(H, ref, rtol=1e-5, atol=1e-5 * max(1, np.abs(ref).max()))


def test_the_derivatives_read_the_triangle_the_value_reads():
    A = kv.Matrix("A", (4, 4))
    A0 = _lower_spd_with_junk(4)
    strict_upper = kv.vec(np.triu(np.ones((4, 4)), 1)) == 1
    for f in (kv.cholesky(A), kv.eigvalsh(A), kv.eigh(A)[1]):
        J = kv.jacobian(f, A).at(A=A0).to_dense()
        assert np.all(J[:, strict_upper] == 0), f
    Ju = kv.jacobian(kv.eigvalsh(A, UPLO="U"), A).at(A=A0).to_dense()
    assert np.all(Ju[:, kv.vec(np.tril(np.ones((4, 4)), -1)) == 1] == 0)


def test_symmetric_directions_see_da_itself():
    """On a symmetric dA the mirrored dAₛ is dA: dL = L Φ(L⁻¹ dA L⁻ᵀ) by hand."""
    A0 = _spd(5)
    A = kv.Matrix("A", (5, 5))
    L0 = np.linalg.cholesky(A0)
    H = _rng(8).standard_normal((5, 5))
    H = H + H.T
    X = sla.solve_triangular(L0, sla.solve_triangular(L0, H, lower=True).T, lower=True).T
    phi = np.tril(X) - 0.5 * np.diag(np.diag(X))
    np.testing.assert_allclose(kv.jacobian(kv.cholesky(A), A).at(A=A0).jvp(H), L0 @ phi, atol=1e-12)
    w0, V0 = np.linalg.eigh(A0)
    P = V0.T @ H @ V0
    F = 1.0 / (w0[None, :] - w0[:, None] + np.eye(5)) - np.eye(5)
    w, V = kv.eigh(A)
    np.testing.assert_allclose(kv.jacobian(w, A).at(A=A0).jvp(H)[:, 0], np.diag(P), atol=1e-12)
    np.testing.assert_allclose(kv.jacobian(V, A).at(A=A0).jvp(H), V0 @ (F * P), atol=1e-10)


@settings(max_examples=10, deadline=None)
@given(m=st.integers(1, 5), n=st.integers(1, 5), seed=st.integers(0, 2 ** 16))
def test_svd_qr_pinv_for_random_shapes(m, n, seed):
    X = kv.Matrix("X", (m, n))
    X0 = _rng(seed).standard_normal((m, n))
    for out in kv.svd(X):
        check_jacobian(out, X, {"X": X0}, rtol=1e-4, atol=1e-5)
    check_jacobian(kv.pinv(X), X, {"X": X0}, rtol=1e-4, atol=1e-5)
    if m >= n:
        for out in kv.qr(X):
            check_jacobian(out, X, {"X": X0}, rtol=1e-4, atol=1e-5)


# --------------------------------------------------------- one LAPACK call
class _Counter:
    def __init__(self, fn):
        self.fn, self.calls = fn, 0

    def __call__(self, *args, **kw):
        self.calls += 1
        return self.fn(*args, **kw)


def test_outputs_of_one_factorization_share_one_lapack_call(monkeypatch):
    eigh, eigvalsh, svd = _Counter(np.linalg.eigh), _Counter(np.linalg.eigvalsh), _Counter(np.linalg.svd)
    monkeypatch.setattr(np.linalg, "eigh", eigh)
    monkeypatch.setattr(np.linalg, "eigvalsh", eigvalsh)
    monkeypatch.setattr(np.linalg, "svd", svd)
    A, X = kv.Matrix("A", (4, 4)), kv.Matrix("X", (5, 3))
    A0, X0 = _spd(4), _rng(1).standard_normal((5, 3))
    w, V = kv.eigh(A)
    np.testing.assert_allclose(kv.evaluate(V @ kv.diag(w) @ V.T, A=A0), A0, atol=1e-12)
    assert (eigh.calls, eigvalsh.calls) == (1, 0)
    kv.evaluate(w, A=A0)  # the values alone: the values-only call
    assert (eigh.calls, eigvalsh.calls) == (1, 1)
    J = kv.jacobian(V, A)
    J.at(A=A0)  # factors V and F(w): one eigh
    J.at(A=A0 + 0.1 * np.eye(4))  # the recorded plan replays one call
    assert eigh.calls == 3
    U, s, Vt = kv.svd(X)
    kv.evaluate(U @ kv.diag(s) @ Vt, X=X0)
    assert svd.calls == 1
    kv.evaluate(s, X=X0)
    assert svd.calls == 2


def test_qr_and_lu_outputs_share_one_call(monkeypatch):
    qr, lu = _Counter(np.linalg.qr), _Counter(sla.lu)
    monkeypatch.setattr(np.linalg, "qr", qr)
    monkeypatch.setattr(sla, "lu", lu)
    X, A = kv.Matrix("X", (5, 3)), kv.Matrix("A", (4, 4))
    X0, A0 = _rng(2).standard_normal((5, 3)), _rng(3).standard_normal((4, 4))
    Q, R = kv.qr(X)
    np.testing.assert_allclose(kv.evaluate(Q @ R, X=X0), X0, atol=1e-12)
    P, L, U = kv.lu(A)
    np.testing.assert_allclose(kv.evaluate(P @ L @ U, A=A0), A0, atol=1e-12)
    assert (qr.calls, lu.calls) == (1, 1)


# ------------------------------------------------------------ degenerate
def test_eigenvectors_at_a_repeated_eigenvalue_raise_naming_value_and_gap():
    A = kv.Matrix("A", (3, 3))
    A0 = np.diag([1.0, 2.0, 2.0])
    w, V = kv.eigh(A)
    with pytest.raises(kv.DegenerateError, match=r"repeated eigenvalue: w\[1\] = w\[2\] = 2 \(gap 0"):
        kv.jacobian(V, A).at(A=A0)
    assert issubclass(kv.DegenerateError, np.linalg.LinAlgError)
    # the eigenvalues keep their derivative, and sum(w) = tr(A) its gradient and Hessian
    J = kv.jacobian(w, A).at(A=A0).to_dense()
    assert np.all(np.isfinite(J))
    f = kv.sum(w)
    np.testing.assert_allclose(kv.evaluate(kv.grad(f, A), A=A0), np.eye(3), atol=1e-14)
    np.testing.assert_allclose(kv.hessian(f, A).at(A=A0).to_dense(), 0.0)
    S = kv.Matrix("S", (3, 3), symmetric=True)
    f = kv.sum(kv.log(kv.eigvalsh(S)))
    g = kv.grad(f, S)  # finite at a tie: S⁻¹
    np.testing.assert_allclose(kv.evaluate(g, S=2 * np.eye(3)), np.eye(3) / 2, atol=1e-14)
    # and its Hessian too (Daleckii–Krein: H ↦ V (Γ ⊙ Vᵀ H V) Vᵀ with Γ → −1/w² at the tie)
    H = kv.hessian(f, S).at(S=2 * np.eye(3))
    dS = _rng(1).standard_normal((3, 3))
    dS = dS + dS.T
    np.testing.assert_allclose(H.jvp(dS), -dS / 4, atol=1e-12)
    # a function of V that is not one of the eigenvalues alone is refused at the tie, never NaN
    B = kv.Matrix("B", (3, 3))
    with pytest.raises(kv.DegenerateError, match="repeated eigenvalue"):
        kv.hessian(kv.sum(B * kv.eigh(S)[1]), S).at(S=2 * np.eye(3), B=np.eye(3))


def test_singular_vectors_at_repeated_or_zero_singular_values_raise():
    X = kv.Matrix("X", (3, 3))
    U, s, Vt = kv.svd(X)
    with pytest.raises(kv.DegenerateError, match=r"repeated singular value: s\[0\] = s\[1\] = 2"):
        kv.jacobian(U, X).at(X=np.diag([2.0, 2.0, 1.0]))
    np.testing.assert_allclose(kv.jacobian(s, X).at(X=np.diag([2.0, 2.0, 1.0])).to_dense(),
                               fd_jacobian(s, X, {"X": np.diag([2.0, 2.0, 1.0]) + np.diag([0, 1e-3, 0])}),
                               atol=1e-5)
    T = kv.Matrix("T", (4, 2))
    U2 = kv.svd(T)[0]
    T0 = np.zeros((4, 2))
    T0[0, 0] = 1.0
    with pytest.raises(kv.DegenerateError, match="zero singular value"):
        kv.jacobian(U2, T).at(T=T0)


def test_singular_triangular_factors_raise_instead_of_infinities():
    A = kv.Matrix("A", (3, 3))
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        kv.jacobian(kv.lu(A)[2], A).at(A=np.ones((3, 3))).jvp(np.eye(3))


def test_det_at_a_singular_matrix_keeps_the_cofactor_gradient():
    A = kv.Matrix("A", (3, 3))
    A0 = np.array([[1.0, 2, 3], [2, 4, 6], [1, 0, 1]])
    cof = np.array([[np.linalg.det(np.delete(np.delete(A0, i, 0), j, 1)) * (-1) ** (i + j)
                     for j in range(3)] for i in range(3)])
    np.testing.assert_allclose(kv.evaluate(kv.grad(kv.det(A), A), A=A0), cof, atol=1e-12)


# -------------------------------------------------- matrix_power and norm
@pytest.mark.parametrize("k", [-3, -1, 0, 1, 4])
def test_matrix_power_for_any_integer(k):
    A = kv.Matrix("A", (3, 3))
    A0 = _rng(k + 5).standard_normal((3, 3)) + 3 * np.eye(3)
    F = kv.matrix_power(A, k)
    np.testing.assert_allclose(kv.evaluate(F, A=A0), np.linalg.matrix_power(A0, k), atol=1e-12)
    check_jacobian(F, A, {"A": A0})
    assert parse_expression(f"matrix_power(A, {k})", {"A": (3, 3)}, kv) is F
    with pytest.raises(ValueError, match="integer"):
        kv.matrix_power(A, 1.5)


@pytest.mark.parametrize("order", [None, "fro", "nuc", 2])
def test_norm_orders_like_numpy(order):
    X = kv.Matrix("X", (4, 3))
    X0 = _rng(9).standard_normal((4, 3))
    f = kv.norm(X, ord=order)
    np.testing.assert_allclose(kv.evaluate(f, X=X0), np.linalg.norm(X0, order))
    check_jacobian(f, X, {"X": X0})
    u, s, vt = np.linalg.svd(X0, full_matrices=False)
    grads = {"nuc": u @ vt, 2: np.outer(u[:, 0], vt[0]), None: X0 / np.linalg.norm(X0)}
    np.testing.assert_allclose(kv.evaluate(kv.grad(f, X), X=X0), grads.get(order, grads[None]), atol=1e-12)
    assert parse_expression(to_python(f), {"X": (4, 3)}, kv) is f


def test_norm_refuses_other_orders_and_the_parser_still_reads_norm_x():
    X = kv.Matrix("X", (4, 3))
    with pytest.raises(ValueError, match="order"):  # as NumPy's (ord=1 is a norm since v1.3)
        kv.norm(X, ord=3)
    assert parse_expression("norm(X)", {"X": (4, 3)}, kv) is kv.norm(X)
    assert parse_expression("norm(X, ord='nuc')", {"X": (4, 3)}, kv) is kv.norm(X, "nuc")


# ------------------------------------------------------------- printing
def test_closed_forms_print_like_the_cookbook():
    S, A = kv.Matrix("S", (4, 4), symmetric=True), kv.Matrix("A", (4, 4))
    J = kv.jacobian(kv.cholesky(S).named("L"), S)
    assert J.differential() == "dL = L Φ(L⁻¹ dS L⁻ᵀ)"
    assert str(J) == "(I ⊗ L) · Φ · (L⁻¹ ⊗ L⁻¹) · symₗ"
    assert r"\Phi" in J.latex() and r"\cdot" in J.latex()
    assert kv.jacobian(kv.cholesky(A).named("L"), A).differential() == "dL = L Φ(L⁻¹ symₗ(dA) L⁻ᵀ)"
    assert "d(LLᵀ) = dL Lᵀ + L dLᵀ" in kv.jacobian(kv.cholesky(S).named("L"), S).steps()
    explained = kv.explain(kv.logdet(kv.cholesky(S)), S)
    assert "using d(PPᵀ) = dP Pᵀ + P dPᵀ = dS" in explained and explained.endswith("G = S⁻¹/2")
    w, V = kv.eigh(S)
    assert kv.jacobian(V.named("V"), S).differential() == "dV = V(F(λ(S)) ⊙ Vᵀ dS V)"
    assert kv.jacobian(w, S).differential() == "d(λ(S)) = diag(eigvecs(S)ᵀ dS eigvecs(S))"
    assert "dw = diag(Vᵀ dS V)" in kv.explain(w, S)
    X = kv.Matrix("X", (5, 3))
    Q, R = kv.qr(X)
    assert kv.jacobian(R.named("R"), X).differential() == "dR = foldᵤ(qr_Q(X)ᵀ dX R⁻¹) R"
    assert "\\text{using }" in kv.jacobian(Q, X).steps(latex=True)
    assert str(kv.pinv(X)) == "X⁺" and str(kv.norm(X, "nuc")) == "‖X‖_*" and str(kv.norm(X, 2)) == "‖X‖₂"


# ---------------------------------------------------------------- parser
def test_the_parser_takes_keywords_and_refuses_tuples_by_name():
    shapes = {"A": (4, 4), "B": (4, 2)}
    e = parse_expression("solve_triangular(A, B, lower=True, unit_diagonal=True)", shapes, kv)
    A, B = kv.Matrix("A", (4, 4)), kv.Matrix("B", (4, 2))
    assert e is kv.solve_triangular(A, B, lower=True, unit_diagonal=True)
    assert parse_expression("eigvalsh(A, UPLO='U')", shapes, kv) is kv.eigvalsh(kv.Matrix("A", (4, 4)), "U")
    for text, message in [("eigh(A)", r"eigh\(\) returns 2 outputs \(w, V\)"),
                          ("svd(A)", r"3 outputs \(U, s, Vt\)"), ("qr(A)", "Q, R"), ("lu(A)", "P, L, U"),
                          ("norm(A, axis=1)", "unknown keyword argument 'axis'"),
                          ("norm(A, ord=B)", "literal"), ("cholesky(A, **k)", "unpacking")]:
        with pytest.raises(ParseError, match=message):
            parse_expression(text, shapes, kv)


@pytest.mark.parametrize("text", [
    "logdet(cholesky(A) @ cholesky(A).T)", "cholesky(A) @ B", "eigvalsh(A)", "sum(eigvalsh(A, UPLO='U'))",
    "solve_triangular(A, B, lower=True)", "pinv(B)", "norm(B, ord='nuc')", "norm(B, ord=2)",
    "matrix_power(A, -2)", "trace(sqrtm(A @ A.T))", "logm(A @ A.T + eye(4))",
])
def test_cli_derives_and_checks(text, capsys):
    from kronvec.cli import main
    assert main(["derive", text, "--wrt", "A" if "A" in text else "B", "--shape", "A=4x4", "--shape", "B=4x2",
                 "--check"]) == 0, capsys.readouterr()
    assert "passed" in capsys.readouterr().out


# ------------------------------------------------------------------ cost
def test_bound_cholesky_and_eigh_maps_are_solves_and_products_of_n_by_n_factors():
    n = 300
    A0 = _spd(n)
    A = kv.Matrix("A", (n, n))
    L = kv.jacobian(kv.cholesky(A), A).at(A=A0)
    solves = [m for m in L.maps if isinstance(m, TriSolveMap)]
    assert len(solves) == 1 and solves[0].Tl.shape == (n, n)  # L⁻¹ is applied by trsm, never formed
    H = _rng(1).standard_normal((n, n))
    H = H + H.T
    V = kv.jacobian(kv.eigh(A)[1], A).at(A=A0)
    start = time.perf_counter()
    dL, dV = L.jvp(H), V.jvp(H)
    L.vjp(H), V.vjp(H)
    assert time.perf_counter() - start < 5.0  # O(n³): a handful of n × n products (O(n⁴) would take minutes)
    L0 = np.linalg.cholesky(A0)
    np.testing.assert_allclose(dL @ L0.T + L0 @ dL.T, H, atol=1e-8 * np.abs(H).max())
    assert np.all(np.isfinite(dV))
