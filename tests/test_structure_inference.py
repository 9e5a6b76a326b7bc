"""Structure inferred from the form of expressions, and closed forms with a person's flop count.

* symmetric (and positive definite where it follows) propagates through sums, scalings,
  AᵀA, AᵀSA, inverses; a matrix symmetric by its form is factored by Cholesky, with
  LDLᵀ or LU when it is indefinite, never by an LU that ignores the symmetry;
* the GP likelihood in (s, t), K = s·Kx + t·I, costs one Cholesky and one inverse
  from it: yᵀK⁻²y reuses the solve K⁻¹y, tr(K⁻¹Kx) is Σ K⁻¹ ⊙ Kx, no matrix power.
"""
from __future__ import annotations

import subprocess
import sys
from collections import Counter

import numpy as np
import pytest
from scipy.linalg import lapack

import kronvec as kv
from kronvec.evaluation import explain_cost
from kronvec.evaluation.structure import Structure
from kronvec.evaluation.traces import trace_of_pair


def _spd_kernel(rng: np.random.Generator, n: int) -> np.ndarray:
    x = rng.standard_normal((n, 3))
    return np.exp(-0.5 * ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))


def _gp(n: int) -> tuple:
    Kx = kv.Matrix("Kx", (n, n), symmetric=True)
    y = kv.Vector("y", n)
    s, t = kv.Scalar("s"), kv.Scalar("t")
    K = s * Kx + t * kv.eye(n)
    f = 0.5 * (y.T @ kv.inv(K) @ y) + 0.5 * kv.logdet(K)
    return f, kv.grad(f, s), kv.grad(f, t)


def _gp_numpy(Kx: np.ndarray, y: np.ndarray, s: float, t: float) -> tuple[float, float, float]:
    K = s * Kx + t * np.eye(len(y))
    Ki = np.linalg.inv(K)
    a = Ki @ y
    f = 0.5 * y @ a + 0.5 * np.linalg.slogdet(K)[1]
    return f, 0.5 * (np.trace(Ki @ Kx) - a @ Kx @ a), 0.5 * (np.trace(Ki) - a @ a)


@pytest.fixture
def lapack_calls(monkeypatch: pytest.MonkeyPatch) -> Counter:
    """Counts of the LAPACK routines the factorizations call (by name)."""
    calls: Counter = Counter()
    for name in ("dgetrf", "dpotrf", "dsytrf", "dgetri", "dpotri", "dsytri", "dpotrs", "dgetrs"):
        original = getattr(lapack, name)

        def spy(*args, _name=name, _original=original, **kw):
            calls[_name] += 1
            if _name in ("dpotrs", "dgetrs"):
                calls[_name + " columns"] += 1 if np.ndim(args[1]) == 1 else np.shape(args[1])[1]
            return _original(*args, **kw)
        monkeypatch.setattr(lapack, name, spy)
    monkeypatch.setattr(np.linalg, "matrix_power", _forbidden("matrix_power"))
    return calls


def _forbidden(name: str):
    def fail(*args, **kw):
        raise AssertionError(f"{name} called")
    return fail


# ------------------------------------------------------------ inference
def test_symmetry_propagates_through_the_algebra():
    A, B = kv.Matrix("A", (3, 3)), kv.Matrix("B", (3, 3))
    S = kv.Matrix("S", (3, 3), symmetric=True)
    X = kv.Matrix("X", (3, 2))
    s = kv.Scalar("s")
    st = Structure()
    for e in [A + A.T, 2 * (A + A.T), A @ A.T, A.T @ A, X.T @ S @ X, X.T @ kv.inv(S) @ X,
              s * S + kv.eye(3), kv.inv(s * S + kv.eye(3)), kv.matrix_power(S, 3), S * S,
              A.T @ S @ S @ A, kv.inv(A.T @ A)]:
        assert st.symmetric(e), e
    for e in [A, A @ B, A @ S, A.T @ B, S @ A, X @ X.T @ A, A + B.T, s * A]:
        assert not st.symmetric(e), e
    # a symbol whose value is exactly symmetric, without a declaration
    assert Structure({A}).symmetric(A @ kv.inv(A) @ A + 2 * A)


def test_positive_definiteness_where_it_follows():
    P = kv.Matrix("P", (3, 3), positive_definite=True)
    S = kv.Matrix("S", (3, 3), symmetric=True)
    X = kv.Matrix("X", (3, 2))
    s = kv.Scalar("s")
    st = Structure()
    for e in [P, 2 * P + kv.eye(3), kv.inv(P), X @ X.T + kv.eye(3), kv.matrix_power(P, 3), P + S @ S]:
        assert st.positive_definite(e), e
    for e in [X @ X.T, X.T @ P @ X, S @ S]:
        assert st.positive_semidefinite(e) and not st.positive_definite(e), e
    # the sign of a scalar symbol is unknown: symmetric, not known positive definite
    for e in [s * P + kv.eye(3), S, -1.0 * P, P - kv.eye(3), kv.matrix_power(S, 3)]:
        assert not st.positive_semidefinite(e), e


# ------------------------------------------------------------ factorizations
def test_inferred_symmetric_matrix_is_factored_by_cholesky(lapack_calls):
    rng = np.random.default_rng(0)
    n = 40
    f, gs, gt = _gp(n)
    Kx0, y0 = _spd_kernel(rng, n), rng.standard_normal(n)
    got = kv.evaluate([f, gs, gt], Kx=Kx0, y=y0, s=1.3, t=0.7)
    np.testing.assert_allclose([float(np.ravel(v)[0]) for v in got], _gp_numpy(Kx0, y0, 1.3, 0.7), rtol=1e-9)
    assert lapack_calls["dpotrf"] == 1 and lapack_calls["dgetrf"] == 0 and lapack_calls["dsytrf"] == 0


@pytest.mark.parametrize("n", [12, 150])  # LU below the LDLᵀ size, Bunch–Kaufman from it
def test_indefinite_inferred_symmetric_matrix_falls_back(n, lapack_calls):
    rng = np.random.default_rng(1)
    f, gs, gt = _gp(n)
    Kx0, y0 = _spd_kernel(rng, n), rng.standard_normal(n)
    s0, t0 = -1.0, 0.5 * np.linalg.eigvalsh(Kx0)[n // 2]  # s·Kx + t·I indefinite
    for _ in range(2):  # the recorded plan falls back too
        got = kv.evaluate([f, gs, gt], Kx=Kx0, y=y0, s=s0, t=t0)
        np.testing.assert_allclose([float(np.ravel(v)[0]) for v in got], _gp_numpy(Kx0, y0, s0, t0),
                                   rtol=1e-7)
    assert lapack_calls["dpotrf"] == 2
    assert lapack_calls["dsytrf" if n >= 128 else "dgetrf"] == 2


def test_plan_recorded_indefinite_replays_positive_definite(lapack_calls):
    rng = np.random.default_rng(2)
    n = 20
    f, gs, gt = _gp(n)
    Kx0, y0 = _spd_kernel(rng, n), rng.standard_normal(n)
    for s0, t0 in [(-1.0, 0.5 * np.linalg.eigvalsh(Kx0)[n // 2]), (2.0, 0.3), (0.5, 1.0)]:
        got = kv.evaluate([f, gs, gt], Kx=Kx0, y=y0, s=s0, t=t0)
        np.testing.assert_allclose([float(np.ravel(v)[0]) for v in got], _gp_numpy(Kx0, y0, s0, t0),
                                   rtol=1e-7)


def test_singular_inferred_symmetric_matrix_is_named():
    n = 6
    f, gs, _ = _gp(n)
    with pytest.raises(np.linalg.LinAlgError, match=r"s \* Kx \+ t \* eye\(6\).*singular"):
        kv.evaluate([f, gs], Kx=np.ones((n, n)), y=np.ones(n), s=1.0, t=0.0)


def test_declared_positive_definite_keeps_its_meaning():
    P = kv.Matrix("P", (3, 3), positive_definite=True)
    with pytest.raises(Exception, match="P"):
        kv.evaluate(kv.logdet(P), P=np.diag([1.0, -1.0, 2.0]))


# ------------------------------------------------------------ flops
def test_gp_gradient_spends_one_cholesky_and_one_inverse(lapack_calls):
    rng = np.random.default_rng(3)
    n = 60
    f, gs, gt = _gp(n)
    Kx0, y0 = _spd_kernel(rng, n), rng.standard_normal(n)
    kv.evaluate([f, gs, gt], Kx=Kx0, y=y0, s=1.1, t=0.4)
    # potrf once, potri once (tr(K⁻¹) needs it; tr(K⁻¹Kx) = Σ K⁻¹ ⊙ Kx uses it), solves with
    # single right-hand sides only, no LU, no matrix power (the fixture forbids it)
    assert lapack_calls["dpotrf"] == 1 and lapack_calls["dpotri"] == 1
    assert lapack_calls["dpotrs columns"] <= 2 and lapack_calls["dgetrs"] == 0


def test_quadratic_form_gradient_forms_no_inverse(lapack_calls):
    rng = np.random.default_rng(4)
    n = 50
    Kx, y, s, t = kv.Matrix("Kx", (n, n), symmetric=True), kv.Vector("y", n), kv.Scalar("s"), kv.Scalar("t")
    K = s * Kx + t * kv.eye(n)
    q = y.T @ kv.inv(K) @ y
    Kx0, y0 = _spd_kernel(rng, n), rng.standard_normal(n)
    got = kv.evaluate([kv.grad(q, s), kv.grad(q, t)], Kx=Kx0, y=y0, s=0.9, t=0.6)
    a = np.linalg.solve(0.9 * Kx0 + 0.6 * np.eye(n), y0)
    np.testing.assert_allclose([float(np.ravel(v)[0]) for v in got], [-a @ Kx0 @ a, -a @ a], rtol=1e-9)
    assert lapack_calls["dpotri"] == lapack_calls["dgetri"] == 0
    assert lapack_calls["dpotrs columns"] == 1  # one solve K⁻¹y serves yᵀK⁻¹KxK⁻¹y and yᵀK⁻²y


def test_gp_gradient_agrees_with_central_differences():
    rng = np.random.default_rng(5)
    n = 15
    f, gs, gt = _gp(n)
    Kx0, y0 = _spd_kernel(rng, n), rng.standard_normal(n)
    value = lambda s0, t0: float(np.ravel(kv.evaluate(f, Kx=Kx0, y=y0, s=s0, t=t0))[0])
    s0, t0, h = 1.2, 0.5, 1e-6
    got = kv.evaluate([gs, gt], Kx=Kx0, y=y0, s=s0, t=t0)
    fd = [(value(s0 + h, t0) - value(s0 - h, t0)) / (2 * h),
          (value(s0, t0 + h) - value(s0, t0 - h)) / (2 * h)]
    np.testing.assert_allclose([float(v) for v in got], fd, rtol=1e-6)


def test_traces_of_products_with_inverses_match_numpy(lapack_calls):
    rng = np.random.default_rng(6)
    n, m = 7, 3
    A, B, C = kv.Matrix("A", (n, n)), kv.Matrix("B", (n, m)), kv.Matrix("C", (m, n))
    y = kv.Vector("y", n)
    S = kv.Matrix("S", (n, n), symmetric=True)
    A0 = rng.standard_normal((n, n)) + n * np.eye(n)
    B0, C0, y0 = rng.standard_normal((n, m)), rng.standard_normal((m, n)), rng.standard_normal(n)
    S0 = rng.standard_normal((n, n))
    S0 = S0 + S0.T
    Ai = np.linalg.inv(A0)
    cases = [
        (kv.trace(kv.inv(A) @ S), np.trace(Ai @ S0)),
        (kv.trace(S @ kv.inv(A)), np.trace(S0 @ Ai)),
        (kv.trace(C @ kv.inv(A) @ B), np.trace(C0 @ Ai @ B0)),
        (kv.trace(kv.inv(A).T @ S @ kv.inv(A)), np.trace(Ai.T @ S0 @ Ai)),
        (kv.trace(kv.matrix_power(kv.inv(A), 2) @ S), np.trace(Ai @ Ai @ S0)),
        (kv.trace(B @ C @ kv.inv(A)), np.trace(B0 @ C0 @ Ai)),
        (y.T @ kv.matrix_power(kv.inv(A), 3) @ y, y0 @ Ai @ Ai @ Ai @ y0),
        (kv.trace(kv.inv(A) @ S) + kv.trace(kv.inv(A)), np.trace(Ai @ S0) + np.trace(Ai)),
    ]
    for e, ref in cases:
        for _ in range(2):  # recorded, then replayed
            got = kv.evaluate(e, A=A0, B=B0, C=C0, S=S0, y=y0)
            np.testing.assert_allclose(float(np.ravel(got)[0]), ref, rtol=1e-9, err_msg=str(e))


@pytest.mark.parametrize("layout", ["C", "F"])
def test_trace_of_pair_every_layout(layout):
    rng = np.random.default_rng(8)
    L = np.asarray(rng.standard_normal((5, 4)), order=layout)
    R = np.asarray(rng.standard_normal((4, 5)), order=layout)
    S = rng.standard_normal((5, 5))
    S = np.asarray(S + S.T, order=layout)
    assert np.isclose(trace_of_pair(L, R), np.trace(L @ R))
    assert np.isclose(trace_of_pair(S, S.T @ S, left_symmetric=True), np.trace(S @ S @ S))
    assert np.isclose(trace_of_pair(L @ R, S, right_symmetric=True), np.trace(L @ R @ S))


# ------------------------------------------------------------ sums with scalar multiples
def test_sums_of_scalar_multiples_and_identities_match_numpy():
    rng = np.random.default_rng(9)
    n = 5
    A, B = kv.Matrix("A", (n, n)), kv.Matrix("B", (n, n))
    s, t = kv.Scalar("s"), kv.Scalar("t")
    A0, B0 = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    s0, t0 = 1.7, -0.3
    eye = np.eye(n)
    cases = [
        (s * A + t * kv.eye(n), s0 * A0 + t0 * eye),
        (s * A - 2 * (t * kv.eye(n)) + B + kv.eye(n), s0 * A0 - 2 * t0 * eye + B0 + eye),
        (s * kv.eye(n) + t * kv.eye(n) + 3 * kv.eye(n), (s0 + t0 + 3) * eye),
        (-(s * A) + t * B, -s0 * A0 + t0 * B0),
        (kv.inv(s * A.T @ A + t * kv.eye(n)) @ B, np.linalg.solve(s0 * A0.T @ A0 + t0 * eye, B0)),
    ]
    for e, ref in cases:
        for _ in range(2):  # recorded, then replayed
            got = kv.evaluate(e, A=A0, B=B0, s=s0, t=t0)
            np.testing.assert_allclose(got, ref, rtol=1e-12, err_msg=str(e))
    # 1×1 sums of scalars (s·I₁) and a scalar symbol of shape (1, 1)
    u = kv.Matrix("u", (1, 1))
    np.testing.assert_allclose(kv.evaluate(s * u + t * kv.eye(1), u=[[2.0]], s=s0, t=t0), [[2 * s0 + t0]])


def test_sum_with_a_scaled_identity_forms_no_identity(monkeypatch):
    n = 30
    A, s, t = kv.Matrix("A", (n, n)), kv.Scalar("s"), kv.Scalar("t")
    A0 = np.arange(n * n, dtype=float).reshape(n, n)
    e = s * A + t * kv.eye(n)
    monkeypatch.setattr(np, "eye", _forbidden("np.eye"))
    np.testing.assert_allclose(kv.evaluate(e, A=A0, s=2.0, t=1.0), 2.0 * A0 + np.diag(np.ones(n)))


# ------------------------------------------------------------ imports
def test_heavy_modules_load_on_first_use():
    code = ("import sys, kronvec as kv, numpy as np\n"
            "heavy = ['scipy.sparse.linalg', 'scipy.special', 'opt_einsum']\n"
            "assert not [m for m in heavy if m in sys.modules], [m for m in heavy if m in sys.modules]\n"
            "X, w = kv.Matrix('X', (4, 2)), kv.Vector('w', 2)\n"
            "H = kv.hessian(kv.sum(kv.softplus(X @ w)), w).at(X=np.ones((4, 2)), w=np.ones(2))\n"
            "op = H.aslinearoperator()\n"
            "assert 'scipy.sparse.linalg' in sys.modules and op.matvec(np.ones(2)).shape == (2,)\n"
            "print(float(kv.evaluate(kv.sum(kv.sigmoid(X)), X=np.zeros((4, 2)))))\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "4.0"


def test_explain_cost_names_the_choices():
    rng = np.random.default_rng(10)
    n = 30
    f, gs, gt = _gp(n)
    text = explain_cost([f, gs, gt], Kx=_spd_kernel(rng, n), y=rng.standard_normal(n), s=1.0, t=0.5)
    assert "s Kx + t I is symmetric by its form: Cholesky" in text
    assert f"(the product, then its trace: {n ** 3:.3g})" in text  # n solves, avoided
    indefinite = explain_cost(f, Kx=-np.eye(n), y=np.ones(n), s=1.0, t=0.5)
    assert "symmetric by its form: LU" in indefinite  # below the LDLᵀ size
