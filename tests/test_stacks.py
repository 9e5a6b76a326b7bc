"""Stacks of matrices: symbols of three or more axes, with NumPy's semantics.

Values against NumPy (broadcasting ``@``, the linear-algebra functions on the
last two axes, ``.T`` against ``.mT``, the axis arguments of trace, sum, norm
and tensordot), every stacked function's Jacobian against finite differences
with the adjoint dot-test on stacks of two members, the vec convention of
``to_dense`` (column-major over all axes, no coupling between members), the
per-member closed forms, the errors that name a member, and that nothing
loops over the members in Python.  The functions along axes (max, min,
logsumexp, softmax, log_softmax) against NumPy and SciPy, their derivatives to
second order, and their stability at ±800.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sla
from scipy import special

import kronvec as kv
from kronvec.printing import to_latex, to_python
from kronvec.testing import check_jacobian, dottest, fd_jacobian, random_values

B, N, M, K = 2, 4, 3, 2


def _rng(seed=0):
    return np.random.default_rng(seed)


def _spd(rng, shape):
    a = rng.standard_normal(shape)
    return a @ np.swapaxes(a, -1, -2) / shape[-1] + np.eye(shape[-1])


X = kv.Matrix("X", (B, N, M))
Y = kv.Matrix("Y", (B, N, M))
S = kv.Matrix("S", (B, N, N))
V = kv.Matrix("V", (B, N, N), symmetric=True)
A = kv.Matrix("A", (M, N))
C = kv.Matrix("C", (N, M))


def _values(rng=None):
    rng = rng or _rng()
    return {"X": rng.standard_normal((B, N, M)), "Y": rng.standard_normal((B, N, M)),
            "S": rng.standard_normal((B, N, N)) + 3 * np.eye(N), "V": _spd(rng, (B, N, N)),
            "A": rng.standard_normal((M, N)), "C": rng.standard_normal((N, M))}


# ------------------------------------------------------------------ values
VALUE_CASES = {
    "stack @ matrix": (lambda: X @ A, lambda v: v["X"] @ v["A"]),
    "matrix @ stack": (lambda: A @ S, lambda v: v["A"] @ v["S"]),
    "stack @ stack": (lambda: X.mT @ S @ X, lambda v: np.swapaxes(v["X"], 1, 2) @ v["S"] @ v["X"]),
    "broadcast stack axes": (lambda: kv.Matrix("Z", (1, M, N)) @ S,
                             lambda v: v["Z"] @ v["S"]),
    "inv": (lambda: kv.inv(S), lambda v: np.linalg.inv(v["S"])),
    "solve": (lambda: kv.solve(S, X), lambda v: np.linalg.solve(v["S"], v["X"])),
    "solve with a matrix": (lambda: kv.solve(S, C), lambda v: np.linalg.solve(v["S"], v["C"])),
    "det": (lambda: kv.det(S), lambda v: np.linalg.det(v["S"])),
    "logdet": (lambda: kv.logdet(S), lambda v: np.linalg.slogdet(v["S"])[1]),
    "cholesky": (lambda: kv.cholesky(V), lambda v: np.linalg.cholesky(v["V"])),
    "eigvalsh": (lambda: kv.eigvalsh(V), lambda v: np.linalg.eigvalsh(v["V"])[..., None]),
    "eigh vectors": (lambda: kv.eigh(V)[1] @ kv.diag(kv.eigh(V)[0]) @ kv.eigh(V)[1].mT, lambda v: v["V"]),
    "svd values": (lambda: kv.svd(X, compute_uv=False),
                   lambda v: np.linalg.svd(v["X"], compute_uv=False)[..., None]),
    "svd": (lambda: kv.svd(X)[0] @ kv.diag(kv.svd(X)[1]) @ kv.svd(X)[2], lambda v: v["X"]),
    "qr": (lambda: kv.qr(X)[1], lambda v: np.linalg.qr(v["X"])[1]),
    "lu": (lambda: kv.lu(S)[1], lambda v: np.stack([sla.lu(s)[1] for s in v["S"]])),
    "lu P": (lambda: kv.lu(S)[0], lambda v: np.stack([sla.lu(s)[0] for s in v["S"]])),
    "pinv": (lambda: kv.pinv(X), lambda v: np.linalg.pinv(v["X"])),
    "solve_triangular": (lambda: kv.solve_triangular(S, X, lower=True),
                         lambda v: np.stack([sla.solve_triangular(s, x, lower=True)
                                             for s, x in zip(v["S"], v["X"])])),
    "solve_triangular trans": (lambda: kv.solve_triangular(S, C, trans=1, unit_diagonal=True),
                               lambda v: np.stack([sla.solve_triangular(s, v["C"], 1, unit_diagonal=True)
                                                   for s in v["S"]])),
    "matrix_power": (lambda: kv.matrix_power(S, -2), lambda v: np.linalg.matrix_power(v["S"], -2)),
    "T": (lambda: X.T, lambda v: v["X"].T),
    "mT": (lambda: X.mT, lambda v: np.swapaxes(v["X"], -1, -2)),
    "matrix_transpose": (lambda: kv.matrix_transpose(X), lambda v: np.matrix_transpose(v["X"])),
    "swapaxes": (lambda: kv.swapaxes(X, 0, 2), lambda v: np.swapaxes(v["X"], 0, 2)),
    "np.swapaxes": (lambda: np.swapaxes(X, -1, -2), lambda v: np.swapaxes(v["X"], -1, -2)),
    "transpose axes": (lambda: kv.transpose(X, (1, 0, 2)), lambda v: np.transpose(v["X"], (1, 0, 2))),
    "np.transpose": (lambda: np.transpose(X), lambda v: np.transpose(v["X"])),
    "add a matrix": (lambda: X + C, lambda v: v["X"] + v["C"]),
    "subtract a column": (lambda: X - C[:, :1], lambda v: v["X"] - v["C"][:, :1]),
    "multiply": (lambda: X * Y * C, lambda v: v["X"] * v["Y"] * v["C"]),
    "divide": (lambda: X / (Y * Y + 1.0), lambda v: v["X"] / (v["Y"] ** 2 + 1.0)),
    "scalar times": (lambda: 2.5 * X - kv.trace(A @ C) * X,
                     lambda v: 2.5 * v["X"] - np.trace(v["A"] @ v["C"]) * v["X"]),
    "elementwise": (lambda: kv.exp(X) + kv.tanh(Y) + kv.sigmoid(X * Y) + kv.relu(X) + kv.maximum(X, Y),
                    lambda v: np.exp(v["X"]) + np.tanh(v["Y"]) + 1 / (1 + np.exp(-v["X"] * v["Y"]))
                    + np.maximum(v["X"], 0) + np.maximum(v["X"], v["Y"])),
    "power": (lambda: X ** 2 + (Y * Y) ** 0.5, lambda v: v["X"] ** 2 + np.abs(v["Y"])),
    "expm": (lambda: kv.expm(0.5 * S), lambda v: np.stack([sla.expm(0.5 * s) for s in v["S"]])),
    "expm of transposed members": (lambda: kv.expm(S.mT),
                                   lambda v: np.stack([sla.expm(s.T) for s in v["S"]])),
}


@pytest.mark.parametrize("name", sorted(VALUE_CASES))
def test_values_follow_numpy(name):
    build, numpy = VALUE_CASES[name]
    e = build()
    rng = _rng(1)
    values = _values(rng)
    values["Z"] = rng.standard_normal((1, M, N))
    expected = numpy(values)
    assert e.shape == expected.shape
    np.testing.assert_allclose(kv.evaluate(e, values), expected, rtol=1e-10, atol=1e-12)


AXES = [
    ("trace", lambda: kv.trace(kv.Matrix("Q", (N, N, B))), lambda q: np.trace(q)),
    ("trace last two", lambda: kv.trace(kv.Matrix("Q", (N, N, B)), axis1=1, axis2=0),
     lambda q: np.trace(q, 0, 1, 0)),
    ("trace members", lambda: kv.trace(kv.Matrix("R", (B, N, N)), axis1=-2, axis2=-1),
     lambda r: np.trace(r, axis1=-2, axis2=-1)),
    ("trace 0, 2", lambda: kv.trace(kv.Matrix("U", (N, B, N)), axis1=0, axis2=2),
     lambda u: np.trace(u, axis1=0, axis2=2)),
    ("trace rectangular planes", lambda: kv.trace(X), lambda x: np.trace(x)),
    ("trace rectangular members", lambda: kv.trace(X, axis1=-2, axis2=-1),
     lambda x: np.trace(x, axis1=-2, axis2=-1)),
    ("sum", lambda: kv.sum(X), lambda x: np.sum(x)),
    ("sum 0", lambda: kv.sum(X, axis=0), lambda x: np.sum(x, axis=0)),
    ("sum -1", lambda: kv.sum(X, axis=-1), lambda x: np.sum(x, axis=-1)),
    ("sum (1, 2)", lambda: kv.sum(X, axis=(1, 2)), lambda x: np.sum(x, axis=(1, 2))),
    ("sum keepdims", lambda: kv.sum(X, axis=1, keepdims=True), lambda x: np.sum(x, axis=1, keepdims=True)),
    ("sum all keepdims", lambda: kv.sum(X, keepdims=True), lambda x: np.sum(x, keepdims=True)),
    ("mean keepdims", lambda: kv.mean(X, axis=(0, 2), keepdims=True),
     lambda x: np.mean(x, axis=(0, 2), keepdims=True)),
    ("matrix sum keepdims", lambda: kv.sum(kv.Matrix("Q", (N, M)), keepdims=True),
     lambda q: np.sum(q, keepdims=True)),
    ("matrix mean keepdims", lambda: kv.mean(kv.Matrix("Q", (N, M)), keepdims=True),
     lambda q: np.mean(q, keepdims=True)),
    ("mean", lambda: kv.mean(X), lambda x: np.mean(x)),
    ("mean (0, 2)", lambda: kv.mean(X, axis=(0, 2)), lambda x: np.mean(x, axis=(0, 2))),
    ("norm", lambda: kv.norm(X), lambda x: np.linalg.norm(x)),
    ("norm axis 1", lambda: kv.norm(X, axis=1), lambda x: np.linalg.norm(x, axis=1)),
    ("norm members", lambda: kv.norm(X, axis=(-2, -1)), lambda x: np.linalg.norm(x, axis=(-2, -1))),
    ("norm nuc", lambda: kv.norm(X, "nuc", axis=(1, 2)), lambda x: np.linalg.norm(x, "nuc", axis=(1, 2))),
    ("norm 2", lambda: kv.norm(X, 2, axis=(-2, -1)), lambda x: np.linalg.norm(x, 2, axis=(-2, -1))),
    ("norm 2 of planes (0, 1)", lambda: kv.norm(X, 2, axis=(0, 1)),
     lambda x: np.linalg.norm(x, 2, axis=(0, 1))),
    ("diag", lambda: kv.diag(kv.Matrix("R", (B, N, N))),
     lambda r: np.diagonal(r, axis1=1, axis2=2)[..., None]),
    ("diag of columns", lambda: kv.diag(kv.Matrix("R", (B, N, 1))),
     lambda r: r * np.eye(N)),
    ("tensordot 2", lambda: kv.tensordot(X, kv.Matrix("W", (N, M, K)), axes=2),
     lambda x: np.tensordot(x, np.arange(N * M * K, dtype=float).reshape(N, M, K), axes=2)),
    ("tensordot pairs", lambda: kv.tensordot(X, Y, axes=([0, 1], [0, 1])),
     lambda x: np.tensordot(x, x + 1, axes=([0, 1], [0, 1]))),
]


@pytest.mark.parametrize("name", [a[0] for a in AXES])
def test_axis_arguments_follow_numpy(name):
    _, build, numpy = next(a for a in AXES if a[0] == name)
    e = build()
    (sym_name, sym), = [(n, s) for n, s in e.symbols().items() if n != "W" and n != "Y"]
    value = _rng(2).standard_normal(sym.shape)
    values = {sym_name: value, "W": np.arange(N * M * K, dtype=float).reshape(N, M, K), "Y": value + 1}
    expected = numpy(value)
    assert e.shape == np.shape(expected)
    np.testing.assert_allclose(kv.evaluate(e, values), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("shape, axes", [((B, M, N), (-2, -1)), ((B, N, M), (-2, -1)), ((B, N, M), (0, 1)),
                                         ((N, B, M), (0, 2))])
def test_traces_of_rectangular_planes_of_stacks_sum_the_diagonal_and_differentiate(shape, axes):
    """As np.trace; the trace of a non-square matrix (two axes) raises (the v1 contract)."""
    Q = kv.Matrix("Q", shape)
    t = kv.trace(Q, axis1=axes[0], axis2=axes[1])
    values = {"Q": _rng(5).standard_normal(shape)}
    np.testing.assert_allclose(kv.evaluate(t, values), np.trace(values["Q"], axis1=axes[0], axis2=axes[1]))
    check_jacobian(t, Q, values)


@pytest.mark.parametrize("shape, axis", [((N, M), None), ((B, N, M), 1), ((B, N, M), (0, 2)),
                                         ((B, N, M), None)])
def test_sums_and_means_keeping_their_axes_differentiate(shape, axis):
    Q = kv.Matrix("Q", shape)
    values = {"Q": _rng(6).standard_normal(shape)}
    for f in (kv.sum(Q, axis=axis, keepdims=True), kv.mean(Q, axis=axis, keepdims=True)):
        check_jacobian(f, Q, values)


def test_T_reverses_all_axes_and_mT_transposes_the_members():
    assert X.T.shape == (M, N, B) and X.mT.shape == (B, M, N)
    assert X.mT.mT is X and X.T.T is X and kv.swapaxes(X, -1, -2) is X.mT is X.swapaxes(1, 2)
    assert kv.transpose(X) is X.T and kv.permute_dims(X, (0, 2, 1)) is X.mT
    assert str(X.mT) == "Xᵀ" and str(X.T) == "transpose(X, (2, 1, 0))"
    Z = kv.Matrix("Z", (N, M))
    assert Z.T is Z.mT is kv.transpose(Z) is kv.matrix_transpose(Z) is kv.swapaxes(Z, 0, 1)
    with pytest.raises(ValueError, match="ndim < 2"):
        _ = kv.Scalar("s").mT


def test_a_matrix_broadcasts_against_a_stack():
    v = _values()
    for e, expected in [(C + X, v["C"] + v["X"]), (X * C, v["X"] * v["C"]), (A @ X.mT.mT.mT.mT, None)]:
        if expected is not None:
            assert e.shape == (B, N, M)
            np.testing.assert_allclose(kv.evaluate(e, v), expected)
    with pytest.raises(kv.ShapeError, match="could not be broadcast"):
        X + kv.Matrix("D", (3, N, M))
    with pytest.raises(kv.ShapeError, match="not aligned"):
        X @ kv.Matrix("E", (B, N, M))


# ------------------------------------------------------ finite differences
def _skewed(Q):
    return 0.1 * (Q - Q.mT) + 0.01 * Q


SPD = X.mT @ X + 3 * kv.eye(M)  # a stack of (M, M) positive definite matrices
FD_CASES = {
    "matmul": (lambda: A @ X @ kv.Matrix("G", (M, M)), X),
    "matmul in the matrix": (lambda: X @ kv.Matrix("G", (M, M)) @ X.mT, kv.Matrix("G", (M, M))),
    "inv": (lambda: kv.inv(X.mT @ kv.inv(V) @ X), V),
    "solve": (lambda: kv.solve(S, X), S),
    "det": (lambda: kv.det(S), S),
    "logdet": (lambda: kv.logdet(X.mT @ X), X),
    "trace": (lambda: kv.trace(S @ S, axis1=-2, axis2=-1), S),
    "trace over a stack axis": (lambda: kv.trace(kv.Matrix("Q", (N, N, B))), kv.Matrix("Q", (N, N, B))),
    "sum over members": (lambda: kv.sum(kv.logdet(S)), S),
    "sum along an axis": (lambda: kv.sum(X * X, axis=1), X),
    "mean over members": (lambda: kv.mean(X * Y, axis=0), X),
    "broadcast stack axes": (lambda: kv.Matrix("Z", (1, N, M)) * X + kv.Matrix("Z", (1, N, M)),
                             kv.Matrix("Z", (1, N, M))),
    "norm": (lambda: kv.norm(X - Y), X),
    "norm of members": (lambda: kv.norm(X - Y, axis=(-2, -1)), X),
    "nuclear norm": (lambda: kv.norm(X, "nuc", axis=(-2, -1)), X),
    "diag": (lambda: kv.diag(kv.diag(S @ S)), S),
    "T": (lambda: X.T * kv.Matrix("R", (M, N, B)), X),
    "swapaxes": (lambda: kv.swapaxes(X, 0, 1) * kv.Matrix("P", (N, B, M)), X),
    "tensordot": (lambda: kv.tensordot(X, Y, axes=([0, 1], [0, 1])), Y),
    "elementwise": (lambda: kv.exp(X * Y) + kv.sin(X) * C, X),
    "broadcast matrix": (lambda: kv.tanh(X + C) * X, C),
    "scalar": (lambda: kv.Scalar("t") * X + kv.trace(A @ C) * Y, kv.Scalar("t")),
    "matrix_power": (lambda: kv.matrix_power(S, 3), S),
    "cholesky": (lambda: kv.cholesky(SPD + _skewed(kv.Matrix("Q", (B, M, M)))), kv.Matrix("Q", (B, M, M))),
    "eigvalsh": (lambda: kv.eigvalsh(SPD), X),
    "eigh": (lambda: kv.eigh(SPD + _skewed(kv.Matrix("Q", (B, M, M))))[1] @ kv.Matrix("G", (M, K)),
             kv.Matrix("Q", (B, M, M))),
    "svd": (lambda: kv.svd(X)[0] @ kv.svd(X)[2], X),
    "svdvals": (lambda: kv.svd(X, compute_uv=False), X),
    "qr": (lambda: kv.qr(X)[0] @ kv.qr(X)[1], X),
    "lu": (lambda: kv.lu(S)[1] @ kv.lu(S)[2], S),
    "pinv": (lambda: kv.pinv(X), X),
    "solve_triangular": (lambda: kv.solve_triangular(S, X, lower=True), S),
    "solve_triangular shared": (lambda: kv.solve_triangular(kv.Matrix("T", (N, N)) + 3 * kv.eye(N), X,
                                                            trans=1), kv.Matrix("T", (N, N))),
    "expm": (lambda: kv.expm(0.5 * S), S),
    "expm of a product": (lambda: kv.expm(X.mT @ kv.Matrix("G", (N, M)) / N), X),
    "expm trace": (lambda: kv.sum(kv.trace(C.mT @ kv.expm(0.5 * S) @ C, axis1=-2, axis2=-1)), S),
    "expm of a matrix against a stack": (lambda: kv.sum(kv.trace(kv.Matrix("Q", (B, N, N)) @ kv.expm(
        0.5 * kv.Matrix("T", (N, N))), axis1=-2, axis2=-1)), kv.Matrix("T", (N, N))),
}


@pytest.mark.parametrize("name", sorted(FD_CASES))
def test_jacobian_matches_finite_differences_and_its_adjoint(name):
    build, wrt = FD_CASES[name]
    f = build()
    values = random_values(f, _rng(3))
    check_jacobian(f, wrt, values, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("name", ["logdet", "sum over members", "norm", "tensordot", "elementwise"])
def test_gradients_and_hessians_of_stacks(name):
    build, wrt = FD_CASES[name]
    f = build()
    scalar = f if f.shape == () else kv.sum(f * f)
    values = random_values(scalar, _rng(4))
    g = kv.grad(scalar, wrt)
    assert g.shape == wrt.shape
    L = kv.jacobian(scalar, wrt).at(values)
    np.testing.assert_allclose(kv.evaluate(g, values), L.vjp(1.0), rtol=1e-10, atol=1e-12)
    H = kv.hessian(scalar, wrt).at(values)
    check = kv.testing.fd_jacobian(g, wrt, values)
    np.testing.assert_allclose(H.to_dense(), check, rtol=1e-5, atol=1e-5)
    dottest(H)


def test_gradient_of_a_summed_log_likelihood_prints_per_member():
    assert str(kv.grad(kv.sum(kv.logdet(V)), V)) == "V⁻¹"
    assert str(kv.grad(kv.sum(kv.logdet(X.mT @ kv.inv(V) @ X)), X)) == "2V⁻¹X(XᵀV⁻¹X)⁻¹"


# ------------------------------------------------------------- the maps
def _gls():
    F = kv.inv(X.mT @ kv.inv(V) @ X).named("F")
    return F, kv.jacobian(F, V)


def test_the_gls_jacobian_prints_the_closed_form_of_one_member():
    F, J = _gls()
    assert str(J) == "(V⁻¹XF)ᵀ ⊗ (FXᵀV⁻¹)"
    assert J.differential() == "dF = F Xᵀ V⁻¹ dV V⁻¹ X F"
    assert J.in_shape == (B, N, N) and J.out_shape == (B, M, M)


def test_dense_is_column_major_and_members_stay_uncoupled():
    F, J = _gls()
    values = _values()
    L = J.at(values)
    D = L.to_dense()
    assert D.shape == (B * M * M, B * N * N)
    rows = np.arange(B * M * M).reshape((B, M, M), order="F")
    cols = np.arange(B * N * N).reshape((B, N, N), order="F")
    v0, x0 = values["V"], values["X"]
    for i in range(B):
        for j in range(B):
            block = D[np.ix_(rows[i].reshape(-1, order="F"), cols[j].reshape(-1, order="F"))]
            if i != j:
                assert not block.any()  # no coupling between members
            else:
                W = np.linalg.solve(v0[i], x0[i]) @ np.linalg.inv(x0[i].T @ np.linalg.solve(v0[i], x0[i]))
                np.testing.assert_allclose(block, np.kron(W.T, W.T), atol=1e-12)
    H = _rng(5).standard_normal((B, N, N))
    np.testing.assert_allclose(D @ kv.vec(H), kv.vec(L.jvp(H)), atol=1e-12)
    np.testing.assert_allclose(L @ kv.vec(H), kv.vec(L.jvp(H)), atol=1e-12)
    op = L.aslinearoperator()
    np.testing.assert_allclose(op.rmatvec(kv.vec(L.jvp(H))), D.T @ D @ kv.vec(H), atol=1e-10)
    T = L.to_tensor()
    assert T.shape == (B, M, M, B, N, N)
    np.testing.assert_allclose(np.tensordot(T, H, axes=3), L.jvp(H), atol=1e-12)


def test_bound_maps_take_stacks_of_tangents():
    F, J = _gls()
    L = J.at(_values())
    Hs = _rng(6).standard_normal((3, B, N, N))
    np.testing.assert_allclose(L.jvp(Hs), np.stack([L.jvp(h) for h in Hs]), atol=1e-12)
    Gs = _rng(7).standard_normal((3, B, M, M))
    np.testing.assert_allclose(L.vjp(Gs), np.stack([L.vjp(g) for g in Gs]), atol=1e-12)


def test_the_bound_factors_keep_the_stack_axes():
    F, J = _gls()
    L = J.at(_values())
    assert isinstance(L, kv.maps.KronMap) and L.A.shape == (B, M, N) and L.B.shape == (B, N, M)


def test_nothing_loops_over_the_members_in_python(monkeypatch):
    """Stacks never reach SciPy's per-matrix LAPACK wrappers (which would be a Python loop)."""
    from kronvec.evaluation import factorization
    from kronvec.maps import triangular as maps_triangular
    from kronvec.ops import decompositions, triangular

    def refuse(*args, **kwargs):
        raise AssertionError("a per-matrix LAPACK wrapper was called for a stack")
    for module in (factorization.lapack, maps_triangular.lapack, maps_triangular.blas, triangular.lapack):
        for name in dir(module):
            if name.startswith("d"):
                monkeypatch.setattr(module, name, refuse)
    monkeypatch.setattr(decompositions.sla, "lu", refuse)
    monkeypatch.setattr(triangular.sla, "solve_triangular", refuse)
    values = _values()
    for name in ("inv", "solve", "det", "logdet", "cholesky", "lu", "solve_triangular", "eigh", "qr"):
        f = FD_CASES[name][0]()
        vals = random_values(f, _rng(8))
        L = kv.jacobian(f, FD_CASES[name][1]).at(vals)
        L.jvp(np.ones(L.in_shape))
        L.vjp(np.ones(L.out_shape))
    kv.evaluate([kv.inv(S), kv.logdet(V), kv.det(S)], values)


def test_the_derivative_of_expm_does_not_loop_over_the_members(monkeypatch):
    """L(A, H) of a stack is one batched exponential of the block matrices, never SciPy's
    per-matrix ``expm_frechet`` once per member."""
    from kronvec.maps import terms
    from kronvec.ops import matrix_functions

    def refuse(*args, **kwargs):
        raise AssertionError("expm_frechet was called for a member of a stack")
    monkeypatch.setattr(terms.sla, "expm_frechet", refuse)
    monkeypatch.setattr(matrix_functions.sla, "expm_frechet", refuse)
    calls = []
    batched = sla.expm

    def counted(a):
        calls.append(np.shape(a))
        return batched(a)
    monkeypatch.setattr(terms.sla, "expm", counted)
    values = _values()
    L = kv.jacobian(kv.expm(S), S).at(values)
    L.jvp(np.ones(L.in_shape))
    L.vjp(np.ones(L.out_shape))
    L.jvp(np.ones((3,) + L.in_shape))
    assert calls == [(B, 2 * N, 2 * N), (B, 2 * N, 2 * N), (3, B, 2 * N, 2 * N)]
    f = kv.sum(kv.trace(C.mT @ kv.expm(S) @ C, axis1=-2, axis2=-1))
    kv.evaluate(kv.grad(f, S), values)


def test_expm_of_a_stack_maps_member_by_member():
    values = _values()
    s0 = values["S"] - 3 * np.eye(N)
    L = kv.jacobian(kv.expm(S), S).at(S=s0)
    H = _rng(13).standard_normal((B, N, N))
    expected = np.stack([sla.expm_frechet(a, h, compute_expm=False) for a, h in zip(s0, H)])
    np.testing.assert_allclose(L.jvp(H), expected, rtol=1e-10, atol=1e-12)
    adjoint = np.stack([sla.expm_frechet(a.T, h, compute_expm=False) for a, h in zip(s0, H)])
    np.testing.assert_allclose(L.vjp(H), adjoint, rtol=1e-10, atol=1e-12)
    Hs = _rng(14).standard_normal((3, B, N, N))
    np.testing.assert_allclose(L.jvp(Hs), np.stack([L.jvp(h) for h in Hs]), atol=1e-12)
    np.testing.assert_allclose(L.vjp(Hs), np.stack([L.vjp(h) for h in Hs]), atol=1e-12)
    D = L.to_dense()
    cols = np.arange(B * N * N).reshape((B, N, N), order="F")
    for i in range(B):
        for j in range(B):
            block = D[np.ix_(cols[i].reshape(-1, order="F"), cols[j].reshape(-1, order="F"))]
            if i != j:
                assert not block.any()  # no coupling between members
            else:
                ref = np.column_stack([kv.vec(sla.expm_frechet(s0[i], e.reshape((N, N), order="F"),
                                                               compute_expm=False))
                                       for e in np.eye(N * N)])
                np.testing.assert_allclose(block, ref, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name, reference", [("sqrtm", sla.sqrtm), ("logm", sla.logm)])
def test_sqrtm_and_logm_of_stacks_of_symmetric_members(name, reference):
    f = getattr(kv, name)
    values = _values()
    v0 = values["V"]
    np.testing.assert_allclose(kv.evaluate(f(V), values), np.stack([reference(m) for m in v0]),
                               rtol=1e-10, atol=1e-12)
    check_jacobian(f(V), V, values, rtol=1e-5, atol=1e-6)
    W = kv.Matrix("W", (N, N))
    values["W"] = _rng(16).standard_normal((N, N))
    weighted = kv.sum(kv.trace(W @ f(V), axis1=-2, axis2=-1))
    check_jacobian(weighted, V, values, rtol=1e-5, atol=1e-6)
    # member by member as for one matrix: gradients, and the Hessian of Σ tr f(Vᵢ)
    one = kv.Matrix("V", (N, N), symmetric=True)
    total = kv.sum(kv.trace(f(V), axis1=-2, axis2=-1))
    Hs = kv.hessian(total, V).at(values)
    T = _rng(17).standard_normal((B, N, N))
    T = T + np.swapaxes(T, -1, -2)
    for i in range(B):
        member = {"V": v0[i], "W": values["W"]}
        np.testing.assert_allclose(kv.evaluate(kv.grad(weighted, V), values)[i],
                                   kv.evaluate(kv.grad(kv.trace(W @ f(one)), one), member),
                                   rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(Hs.jvp(T)[i], kv.hessian(kv.trace(f(one)), one).at(member).jvp(T[i]),
                                   rtol=1e-10, atol=1e-12)
    L = kv.jacobian(f(V), V).at(values)
    D = L.to_dense()
    cols = np.arange(B * N * N).reshape((B, N, N), order="F")
    block = D[np.ix_(cols[0].reshape(-1, order="F"), cols[1].reshape(-1, order="F"))]
    assert not block.any()  # no coupling between members
    np.testing.assert_allclose(L.jvp(np.stack([T, T])), np.stack([L.jvp(T)] * 2), atol=1e-12)
    # the Hessian of Σ tr(W f(Vᵢ)) (second derivatives of the stack's Fréchet derivative): member by member
    weighted_hessian = kv.hessian(weighted, V).at(values).jvp(T)
    for i in range(B):
        member = {"V": v0[i], "W": values["W"]}
        np.testing.assert_allclose(weighted_hessian[i],
                                   kv.hessian(kv.trace(W @ f(one)), one).at(member).jvp(T[i]),
                                   rtol=1e-10, atol=1e-12)
    # a stack with non-symmetric members: member by member (refused before API.md v1.3)
    members = np.stack([np.real(getattr(sla, name)(m)) for m in values["S"]])
    np.testing.assert_allclose(kv.evaluate(f(S), values), members, rtol=1e-10, atol=1e-12)


def test_sqrtm_and_logm_of_symmetric_stacks_do_not_loop_over_the_members(monkeypatch):
    from kronvec.maps import frechet
    from kronvec.ops import matrix_functions

    def refuse(*args, **kwargs):
        raise AssertionError("a per-matrix routine was called for a stack")
    for module in (frechet, matrix_functions):
        monkeypatch.setattr(module, "real_sqrtm", refuse, raising=False)
        monkeypatch.setattr(module, "real_logm", refuse, raising=False)
    monkeypatch.setattr(frechet.sla, "issymmetric", refuse)
    calls = []
    batched = np.linalg.eigh

    def counted(a, *args, **kwargs):
        calls.append(np.shape(a))
        return batched(a, *args, **kwargs)
    monkeypatch.setattr(frechet.np.linalg, "eigh", counted)
    values = _values()
    for name in ("sqrtm", "logm"):
        calls.clear()
        L = kv.jacobian(getattr(kv, name)(V), V).at(values)
        L.jvp(np.ones((3,) + L.in_shape))
        L.vjp(np.ones(L.out_shape))
        assert calls and all(shape == (B, N, N) for shape in calls)


def test_gradients_of_traces_of_expm_of_stacks():
    f = kv.sum(kv.trace(kv.expm(S), axis1=-2, axis2=-1))
    g = kv.grad(f, S)
    assert str(g) == "expm(S)ᵀ"
    values = _values()
    np.testing.assert_allclose(kv.evaluate(g, values), np.swapaxes(sla.expm(values["S"]), -1, -2), rtol=1e-12)
    H = kv.hessian(f, S).at(values)
    np.testing.assert_allclose(H.to_dense(), fd_jacobian(g, S, values), rtol=1e-5, atol=1e-5)
    weighted = kv.sum(kv.trace(kv.Matrix("W", (N, N)) @ kv.expm(S), axis1=-2, axis2=-1))
    gw = kv.grad(weighted, S)
    assert gw.shape == S.shape and any(node.op == "expm_frechet" for node in gw.walk())
    values["W"] = _rng(15).standard_normal((N, N))
    np.testing.assert_allclose(kv.evaluate(gw, values), kv.jacobian(weighted, S).at(values).vjp(1.0),
                               rtol=1e-10, atol=1e-12)
    Hw = kv.hessian(weighted, S).at(values)  # through the second Fréchet derivative of each member
    np.testing.assert_allclose(Hw.to_dense(), fd_jacobian(gw, S, values), rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- errors
def test_a_singular_member_is_named():
    values = _values()
    values["S"][1] = np.ones((N, N))
    with pytest.raises(np.linalg.LinAlgError, match=r"S is singular to working precision in member 1"):
        kv.evaluate(kv.solve(S, X), values)
    with pytest.raises(np.linalg.LinAlgError, match=r"member 1 of the stack"):
        kv.jacobian(kv.inv(S), S).at(values)
    near = _values()
    near["S"][0] = np.outer(np.arange(1.0, N + 1), np.ones(N)) + 1e-18 * np.eye(N)
    with pytest.raises(np.linalg.LinAlgError, match=r"member 0"):
        kv.evaluate(kv.solve(S, X), near)


def test_structure_is_checked_member_by_member():
    values = _values()
    values["V"][1, 0, 1] += 1.0
    with pytest.raises(ValueError, match=r"member 1 is not symmetric"):
        kv.evaluate(kv.logdet(V), values)
    P = kv.Matrix("P", (B, N, N), positive_definite=True)
    bad = _spd(_rng(), (B, N, N))
    bad[0] = -bad[0]
    with pytest.raises(ValueError, match=r"member 0 is not positive definite"):
        kv.evaluate(kv.logdet(P), P=bad)
    with pytest.raises(np.linalg.LinAlgError, match=r"member 0 of the stack is not positive definite"):
        kv.evaluate(kv.cholesky(S), S=bad)


def test_operations_without_stacks_say_so():
    for build in (lambda: kv.kron(S, A), lambda: kv.kron(A, S)):
        with pytest.raises(NotImplementedError, match="stacks"):
            build()
    # (sqrtm and logm of a stack with non-symmetric members are evaluated member by member now:
    # test_sqrtm_and_logm_of_stacks_of_symmetric_members)
    with pytest.raises(IndexError, match="stack"):
        X[0, 0]
    with pytest.raises(kv.ShapeError, match="stack of square matrices"):
        kv.inv(X)


# ------------------------------------------- max, min, logsumexp, softmax
REDUCING = {"max": np.max, "min": np.min, "logsumexp": special.logsumexp}
KEEPING = {"softmax": special.softmax, "log_softmax": special.log_softmax}
ALONG = {**REDUCING, **KEEPING}
STACK_AXES = [None, 0, 1, 2, -1, -2, -3, (1, 2), (-2, -1), (0, 2), (0, -1), (0, 1, 2), (2, 0)]


def _along_cases():
    for name in sorted(ALONG):
        for axis in STACK_AXES:
            for keepdims in ((False, True) if name in REDUCING else (False,)):
                yield name, axis, keepdims


def _call(name, x, axis, keepdims):
    return ALONG[name](x, axis=axis, **({"keepdims": keepdims} if keepdims else {}))


@pytest.mark.parametrize("name, axis, keepdims", list(_along_cases()))
def test_functions_along_axes_follow_numpy_and_scipy(name, axis, keepdims):
    e = getattr(kv, name)(X, axis=axis, **({"keepdims": True} if keepdims else {}))
    x0 = _rng(11).standard_normal((B, N, M))
    expected = _call(name, x0, axis, keepdims)
    assert e.shape == np.shape(expected)
    np.testing.assert_allclose(kv.evaluate(e, X=x0), expected, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(ALONG))
def test_functions_along_axes_of_a_four_axis_stack_and_of_per_member_scalars(name):
    Q = kv.Matrix("Q", (2, 3, N, M))
    q0 = _rng(12).standard_normal(Q.shape)
    for axis in ((1, 3), -3, None):
        np.testing.assert_allclose(kv.evaluate(getattr(kv, name)(Q, axis=axis), Q=q0),
                                   ALONG[name](q0, axis=axis), rtol=1e-12, atol=1e-14)
    f = getattr(kv, name)(kv.logdet(V))  # over the members' log-determinants, shape (B,)
    v0 = _values()["V"]
    np.testing.assert_allclose(kv.evaluate(f, V=v0), ALONG[name](np.linalg.slogdet(v0)[1]), rtol=1e-12)
    check_jacobian(f, V, {"V": v0})


@pytest.mark.parametrize("name", ["max", "min", "logsumexp"])
def test_matrices_keep_their_dimensions_and_keepdims_makes_the_total_one_by_one(name):
    Q = kv.Matrix("Q", (N, M))
    q0 = _rng(13).standard_normal((N, M))
    fn = getattr(kv, name)
    assert fn(Q, axis=0).shape == (1, M) and fn(Q, axis=-1).shape == (N, 1) and fn(Q).shape == ()
    assert fn(Q, axis=0, keepdims=True) is fn(Q, axis=0)
    total = fn(Q, keepdims=True)
    assert total.shape == (1, 1)
    np.testing.assert_allclose(kv.evaluate(total, Q=q0), REDUCING[name](q0, keepdims=True), rtol=1e-12)
    assert str(total) == str(fn(Q))
    check_jacobian(total, Q, {"Q": q0})


ALONG_FD = [("max", -1, False), ("min", (0, 2), True), ("max", None, False), ("logsumexp", -1, False),
            ("logsumexp", (0, -2), True), ("logsumexp", None, False), ("logsumexp", 0, False),
            ("softmax", -1, False), ("softmax", (1, 2), False), ("softmax", 0, False),
            ("softmax", None, False),
            ("log_softmax", -2, False), ("log_softmax", (0, 2), False), ("log_softmax", None, False)]


@pytest.mark.parametrize("name, axis, keepdims", ALONG_FD)
def test_functions_along_axes_differentiate(name, axis, keepdims):
    extra = {"keepdims": True} if keepdims else {}
    f = getattr(kv, name)(X * Y - 0.5, axis=axis, **extra)
    values = random_values(f, _rng(14))
    check_jacobian(f, X, values, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("build", [
    lambda: kv.sum(kv.logsumexp(X, axis=-1)),
    lambda: kv.sum(kv.logsumexp(X, axis=(0, 2))),
    lambda: kv.logsumexp(X),
    lambda: kv.sum(Y * kv.softmax(X, axis=-1)),
    lambda: kv.sum(Y * kv.softmax(X, axis=(0, 1))),
    lambda: kv.sum(Y * kv.log_softmax(X, axis=-2)),
    lambda: kv.sum(Y * kv.max(X * X, axis=-1, keepdims=True)),
], ids=["logsumexp rows", "logsumexp (0, 2)", "logsumexp all", "softmax rows", "softmax (0, 1)",
        "log_softmax columns", "max"])
def test_hessians_along_axes_match_finite_differences_of_the_gradient(build):
    scalar = build()
    values = random_values(scalar, _rng(15))
    g = kv.grad(scalar, X)
    assert g.shape == X.shape
    fd = fd_jacobian(scalar, X, values).reshape(X.shape, order="F")
    np.testing.assert_allclose(kv.evaluate(g, values), fd, rtol=1e-5, atol=1e-6)
    H = kv.hessian(scalar, X).at(values)
    np.testing.assert_allclose(H.to_dense(), fd_jacobian(g, X, values), rtol=1e-5, atol=1e-5)
    dottest(H)


@pytest.mark.parametrize("size", [800.0, -800.0])
def test_functions_along_axes_of_stacks_are_stable(size):
    x0 = _rng(16).standard_normal((B, N, M)) + size
    x0[0, 1, 2] = -size  # one far entry the other way
    for name in sorted(ALONG):
        for axis in (-1, (0, 2), None):
            value = kv.evaluate(getattr(kv, name)(X, axis=axis), X=x0)
            assert np.all(np.isfinite(value)), (name, axis)
            np.testing.assert_allclose(value, ALONG[name](x0, axis=axis), rtol=1e-14)
    ones = np.full((B, N, M), size)
    np.testing.assert_allclose(kv.evaluate(kv.logsumexp(X, axis=-1), X=ones), size + np.log(M), rtol=1e-15)
    np.testing.assert_allclose(kv.evaluate(kv.softmax(X, axis=-1), X=ones), 1 / M, rtol=1e-14)
    G = kv.evaluate(kv.grad(kv.sum(kv.logsumexp(X, axis=-1)), X), X=ones)
    np.testing.assert_allclose(G, 1 / M, rtol=1e-14)
    H = kv.hessian(kv.sum(kv.logsumexp(X, axis=-1)), X).at(X=x0).to_dense()
    assert np.all(np.isfinite(H))


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "logsumexp", "max"])
def test_members_stay_uncoupled_along_the_axes_of_the_matrices(name):
    L = kv.jacobian(getattr(kv, name)(X, axis=-1), X).at(X=_rng(17).standard_normal((B, N, M)))
    out = (B, N, M) if name in KEEPING else (B, N)
    D = L.to_dense().reshape(out[::-1] + (M, N, B), order="C")  # column-major: axes reversed
    for i in range(B):
        for j in range(B):
            block = D[..., i, :, :, j] if name in KEEPING else D[:, i, :, :, j]
            assert (not block.any()) if i != j else block.any()
    H = kv.hessian(kv.sum(kv.logsumexp(X, axis=(-2, -1))), X).at(X=_rng(18).standard_normal((B, N, M)))
    D = H.to_dense().reshape((M, N, B, M, N, B))
    assert not D[..., 0, :, :, 1].any() and D[..., 0, :, :, 0].any()


def test_ties_split_the_derivative_evenly_over_the_axes():
    x0 = np.zeros((B, N, M))
    x0[0, :2, 0] = 1.0  # member 0: the maximum 1 twice
    x0[1, 3, 1] = 2.0  # member 1: once
    G = kv.evaluate(kv.grad(kv.sum(kv.max(X, axis=(-2, -1))), X), X=x0)
    expected = np.zeros((B, N, M))
    expected[0, :2, 0] = 0.5
    expected[1, 3, 1] = 1.0
    np.testing.assert_allclose(G, expected)


def test_functions_along_axes_print():
    f = kv.sum(kv.logsumexp(X, axis=-1))
    assert str(f) == "sum(logsumexp(X, axis=2))"
    assert str(kv.grad(f, X)) == "softmax(X, axis=2)"
    assert str(kv.min(X, axis=(0, 2), keepdims=True)) == "min(X, axis=(0, 2), keepdims)"
    assert str(kv.max(X)) == "max(X)" and str(kv.softmax(X, axis=(-2, -1))) == "softmax(X, axis=(1, 2))"
    assert to_latex(kv.logsumexp(X, axis=1, keepdims=True)) == \
        r"\operatorname{logsumexp}\left(X, \mathrm{axis}=1, \mathrm{keepdims}\right)"
    assert to_latex(kv.log_softmax(X, axis=0)) == \
        r"\operatorname{log\_softmax}\left(X, \mathrm{axis}=0\right)"
    assert str(kv.jacobian(kv.softmax(X, axis=-1), X)) == \
        "H ↦ softmax(X, axis=2) ⊙ H - softmax(X, axis=2) ⊙ sum(softmax(X, axis=2) ⊙ H, axis=2, keepdims)"
    assert str(kv.jacobian(kv.log_softmax(X, axis=-1), X)) == \
        "H ↦ H - sum(softmax(X, axis=2) ⊙ H, axis=2, keepdims)"
    namespace = {**{k: getattr(kv, k) for k in kv.__all__}, "X": X, "Y": Y,
                 "broadcast_to": kv.registry.function("broadcast_to"),  # internal nodes of gradients
                 "reshape": kv.registry.function("c_order_reshape")}
    for name, axis, keepdims in ALONG_FD:
        e = getattr(kv, name)(X * Y, axis=axis, **({"keepdims": True} if keepdims else {}))
        assert eval(to_python(e), namespace) is e  # the Python form builds the same node
        if name not in ("max", "min"):  # (their gradients hold the internal node ∂max)
            g = kv.grad(kv.sum(e * e), X)
            assert eval(to_python(g), namespace) is g, to_python(g)
