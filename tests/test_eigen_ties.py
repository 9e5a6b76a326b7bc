"""Eigenvectors at ties of other eigenvalues (API.md v1.3): a column of ``eigh(A)[1]`` whose
eigenvalue is simple, spectral projectors of tied groups and V f(w) Vᵀ written by hand
differentiate where other eigenvalues repeat; quantities inside a tied group raise
``kv.DegenerateError`` naming the group.

Finite differences of a column align the sign of each evaluated column with the column at the
point (an eigenvector is defined up to its sign, which LAPACK may flip between nearby matrices).
"""
import numpy as np
import pytest

import kronvec as kv
from _backends import BACKENDS, jax, torch
from kronvec.testing import dottest, fd_jacobian, relative_error


def _rotated(values, seed=0, stack=()):
    """Q diag(values) Qᵀ for random rotations Q (one per member of a stack)."""
    rng = np.random.default_rng(seed)
    n = len(values)
    q, _ = np.linalg.qr(rng.standard_normal(tuple(stack) + (n, n)))
    a = (q * np.asarray(values, dtype=float)) @ np.swapaxes(q, -1, -2)
    return (a + np.swapaxes(a, -1, -2)) / 2


def _aligned_fd(f, name, a0, eps=1e-6):
    """The Jacobian of ``f`` (columns of eigenvectors, (..., n, 1)) by central differences, signs
    aligned with f at a0, in the vec convention of ``to_dense``."""
    f0 = kv.evaluate(f, {name: a0})

    def value(a):
        v = kv.evaluate(f, {name: a})
        return v * np.sign(np.sum(v * f0, axis=-2, keepdims=True))

    columns = []
    for c in range(a0.size):
        e = np.zeros(a0.size)
        e[c] = 1.0
        e = e.reshape(a0.shape, order="F")
        columns.append(((value(a0 + eps * e) - value(a0 - eps * e)) / (2 * eps)).reshape(-1, order="F"))
    return np.array(columns).T


@pytest.mark.parametrize("uplo", ["L", "U"])
def test_column_whose_eigenvalue_is_simple_differentiates_at_a_tie_of_the_others(uplo):
    a0 = _rotated([1.0, 1.0, 4.0])
    A = kv.Matrix("A", (3, 3))
    w, V = kv.eigh(A, UPLO=uplo)
    v = V[:, 2]
    assert v.op == "eigh_column"
    L = kv.jacobian(v, A).at({"A": a0})
    assert relative_error(L.to_dense(), _aligned_fd(v, "A", a0)) < 1e-7
    dottest(L)


def test_column_at_an_exact_tie_of_a_diagonal_matrix():
    a0 = np.diag([1.0, 1.0, 4.0])  # LAPACK returns the tie exactly (JAX's derivative is NaN here)
    A = kv.Matrix("A", (3, 3))
    v = kv.eigh(A)[1][:, 2]
    J = kv.jacobian(v, A).at({"A": a0}).to_dense()
    assert np.isfinite(J).all()
    assert relative_error(J, _aligned_fd(v, "A", a0)) < 1e-7


def test_second_derivatives_of_a_column_at_a_tie_of_the_others():
    a0 = _rotated([1.0, 1.0, 4.0], seed=3)
    A = kv.Matrix("A", (3, 3))
    v = kv.eigh(A)[1][:, 2]
    b = kv.Constant(np.array([[1.0], [-2.0], [0.5]]))
    for f in (kv.sum(v.T @ b) ** 2, kv.sum(kv.hadamard(v, v) * b) * kv.sum(v.T @ b) ** 2):
        H = kv.hessian(f, A).at({"A": a0})
        fd = fd_jacobian(kv.grad(f, A), A, {"A": a0})
        assert relative_error(H.to_dense(), fd) < 1e-6
        dottest(H)


@pytest.mark.parametrize("stack", [(2,), (2, 2)])
def test_columns_of_stacks_with_ties(stack):
    rng = np.random.default_rng(4)
    shifts = rng.uniform(-1, 1, stack)[..., None, None] * np.eye(3)
    a0 = _rotated([1.0, 1.0, 4.0], seed=5, stack=stack) + shifts
    A = kv.Matrix("A", stack + (3, 3))
    w, V = kv.eigh(A)
    e2 = np.array([[0.0], [0.0], [1.0]])
    v = V @ e2
    assert v.op == "eigh_column" and v.shape == stack + (3, 1)
    L = kv.jacobian(v, A).at({"A": a0})
    assert relative_error(L.to_dense(), _aligned_fd(v, "A", a0)) < 1e-7
    dottest(L)
    f = kv.sum(kv.hadamard(v, v) * kv.Constant(np.array([[1.0], [2.0], [3.0]])))
    H = kv.hessian(f, A).at({"A": a0})
    assert relative_error(H.to_dense(), fd_jacobian(kv.grad(f, A), A, {"A": a0})) < 1e-6


def test_a_column_inside_a_tied_group_raises_naming_the_group():
    a0 = _rotated([1.0, 1.0, 4.0])
    A = kv.Matrix("A", (3, 3))
    V = kv.eigh(A)[1]
    with pytest.raises(kv.DegenerateError, match=r"column 0 .*tied group w\[0:2\]"):
        kv.jacobian(V[:, 0], A).at({"A": a0})
    with pytest.raises(kv.DegenerateError, match="repeated eigenvalue"):
        kv.jacobian(V, A).at({"A": a0})  # V as a whole: no derivative
    S = kv.Matrix("S", (2, 3, 3))
    e0 = np.array([[1.0], [0.0], [0.0]])
    stacked = np.stack([np.diag([0.0, 2.0, 5.0]), a0])
    with pytest.raises(kv.DegenerateError, match=r"member \(?1.*tied group w\[0:2\]"):
        kv.jacobian(kv.eigh(S)[1] @ e0, S).at({"S": stacked})


@pytest.mark.parametrize("build", ["projector", "exp", "cube", "group_function"])
def test_projectors_and_functions_written_by_hand_differentiate_at_ties(build):
    a0 = _rotated([1.0, 1.0, 4.0], seed=2)
    A = kv.Matrix("A", (3, 3))
    w, V = kv.eigh(A)
    f = {"projector": lambda: V[:, :2] @ V[:, :2].T,
         "exp": lambda: V @ kv.diag(kv.exp(w)) @ V.T,
         "cube": lambda: V @ kv.diag(w ** 3) @ V.T,
         "group_function": lambda: V[:, :2] @ kv.diag(kv.exp(w[:2])) @ V[:, :2].T}[build]()
    assert f.op == "eigfun"
    L = kv.jacobian(f, A).at({"A": a0})
    assert relative_error(L.to_dense(), fd_jacobian(f, A, {"A": a0})) < 1e-7
    dottest(L)
    if build == "exp":  # V exp(w) Vᵀ is expm(A): the same derivative
        sym = kv.Matrix("S", (3, 3), symmetric=True)
        ref = kv.jacobian(kv.expm(sym), sym).at({"S": a0}).to_dense()
        sym_dirs = kv.testing.symmetrizer(3)
        assert relative_error(L.to_dense() @ sym_dirs, ref @ sym_dirs) < 1e-9


def test_a_projector_that_splits_a_tied_group_raises():
    a0 = _rotated([1.0, 1.0, 4.0])
    A = kv.Matrix("A", (3, 3))
    V = kv.eigh(A)[1]
    with pytest.raises(kv.DegenerateError, match=r"g differs within a group of repeated eigenvalues: the "
                       r"tied group w\[0:2\] = 1"):
        kv.jacobian(V[:, 1:] @ V[:, 1:].T, A).at({"A": a0})


_BY_HAND = {"projector": lambda w, V: V[:, :2] @ V[:, :2].T,
            "exp": lambda w, V: V @ kv.diag(kv.exp(w)) @ V.T,
            "cube": lambda w, V: V @ kv.diag(w ** 3) @ V.T,
            "group_function": lambda w, V: V[:, :2] @ kv.diag(kv.exp(w[:2])) @ V[:, :2].T}


@pytest.mark.parametrize("point", ["rotated tie", "exact tie", "apart"])
@pytest.mark.parametrize("uplo", ["L", "U"])
@pytest.mark.parametrize("build", sorted(_BY_HAND))
def test_second_derivatives_of_projectors_and_functions_at_ties(build, uplo, point):
    # Daleckii–Krein to second order: the Hessian of a scalar of V f(w) Vᵀ (f = exp, cube) and
    # of the projector onto a tied group, where the other eigenvalues repeat or not
    a0 = {"rotated tie": _rotated([1.0, 1.0, 4.0], seed=2), "exact tie": np.diag([1.0, 1.0, 4.0]),
          "apart": _rotated([1.0, 1.5, 4.0], seed=2)}[point]
    A = kv.Matrix("A", (3, 3))
    w, V = kv.eigh(A, UPLO=uplo)
    F = _BY_HAND[build](w, V)
    C = kv.Constant(np.arange(9.0).reshape(3, 3) / 5 - 0.7)
    for f in (kv.trace(C @ F), kv.trace(C @ F) ** 2, kv.sum(F * F * C)):
        H = kv.hessian(f, A).at({"A": a0})
        assert relative_error(H.to_dense(), fd_jacobian(kv.grad(f, A), A, {"A": a0})) < 1e-6
        dottest(H)


def test_second_derivatives_at_a_tie_of_three():
    # the second divided differences of f at three equal eigenvalues are f''/2
    rng = np.random.default_rng(11)
    q, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    a0 = (q * np.array([2.0, 2.0, 2.0, 5.0])) @ q.T
    a0 = (a0 + a0.T) / 2
    A = kv.Matrix("A", (4, 4))
    w, V = kv.eigh(A)
    C = kv.Constant(rng.standard_normal((4, 4)))
    for F in (V @ kv.diag(kv.exp(0.5 * w)) @ V.T, V[:, :3] @ V[:, :3].T):
        f = kv.trace(C @ F) ** 2 + kv.sum(F * F * C)
        H = kv.hessian(f, A).at({"A": a0})
        assert relative_error(H.to_dense(), fd_jacobian(kv.grad(f, A), A, {"A": a0})) < 1e-6
        dottest(H)
    # and V exp(w) Vᵀ is expm(A): the same Hessian as through expm
    S = kv.Matrix("S", (4, 4), symmetric=True)
    f_hand = kv.trace(C @ (V @ kv.diag(kv.exp(0.5 * w)) @ V.T))
    f_expm = kv.trace(C @ kv.expm(0.5 * S))
    sym = kv.testing.symmetrizer(4)
    by_hand = sym.T @ kv.hessian(f_hand, A).at({"A": a0}).to_dense() @ sym
    through_expm = sym.T @ kv.hessian(f_expm, S).at({"S": a0}).to_dense() @ sym
    assert relative_error(by_hand, through_expm) < 1e-8


def test_the_derivative_of_a_projector_differentiates_again_at_a_tie():
    # the first derivative is one node, L(A, E) = V (Γ ⊙ Vᵀ E V) Vᵀ; its Jacobian in A (the second
    # derivative along E) and in E (the first derivative again) match differences at the tie
    a0 = _rotated([1.0, 1.0, 4.0], seed=6)
    A, E = kv.Matrix("A", (3, 3)), kv.Matrix("E", (3, 3))
    V = kv.eigh(A)[1]
    f = kv.trace(E.T @ (V[:, :2] @ V[:, :2].T))
    L = kv.grad(f, A)
    assert any(node.op == "eigfun_frechet" for node in L.walk())
    values = {"A": a0, "E": np.random.default_rng(8).standard_normal((3, 3))}
    for wrt in (A, E):
        J = kv.jacobian(L, wrt).at(values)
        assert relative_error(J.to_dense(), fd_jacobian(L, wrt, values)) < 1e-6
        dottest(J)


def test_a_projector_splitting_a_tied_group_has_no_second_derivative_either():
    a0 = _rotated([1.0, 1.0, 4.0])
    A = kv.Matrix("A", (3, 3))
    V = kv.eigh(A)[1]
    f = kv.trace(kv.Constant(np.arange(9.0).reshape(3, 3)) @ V[:, 1:] @ V[:, 1:].T)
    with pytest.raises(kv.DegenerateError, match=r"tied group w\[0:2\] = 1 has g\[0\] = 0, g\[1\] = 1"):
        kv.hessian(f, A).at({"A": a0}).to_dense()


def test_third_derivatives_through_functions_written_by_hand_are_refused_clearly():
    A, C = kv.Matrix("A", (3, 3)), kv.Constant(np.arange(9.0).reshape(3, 3))
    w, V = kv.eigh(A)
    g = kv.grad(kv.sum(kv.grad(kv.trace(C @ V @ kv.diag(kv.exp(w)) @ V.T), A) ** 2), A)
    with pytest.raises(NotImplementedError, match="third derivatives through V diag"):
        kv.jacobian(g, A)


def test_apart_from_ties_the_column_and_the_full_eigenvectors_agree():
    a0 = _rotated([1.0, 2.0, 4.0])
    A = kv.Matrix("A", (3, 3))
    w, V = kv.eigh(A)
    e1 = np.array([[0.0], [1.0], [0.0]])
    full = kv.jacobian(kv.Constant(np.eye(3)) @ V, A).at({"A": a0}).to_dense()
    column = kv.jacobian(V[:, 1], A).at({"A": a0}).to_dense()
    assert relative_error(column, full[3:6]) < 1e-12
    assert kv.evaluate(V[:, 1], A=a0) == pytest.approx(kv.evaluate(V, A=a0) @ e1)


def _computed_stack(X, C, kind):
    """A stack computed from X: scaled by one scalar of the whole stack, or member by member."""
    if kind == "scalar of the stack":
        return X * kv.sum(X * C)
    sums = kv.sum(X * C, axis=(-2, -1), keepdims=True)
    return kv.tanh(X) * sums


@pytest.mark.parametrize("kind", ["scalar of the stack", "per-member scalars"])
@pytest.mark.parametrize("shape", [(3, 2, 1), (3, 2, 2), (2, 2, 3, 2), (2, 1, 2, 1), (3, 1, 1)])
def test_hessian_of_an_eigenvector_column_of_a_computed_stack(shape, kind):
    # the Hessian composes the trace map of dλⱼ Sⱼ² after a map of the stack holding a trace
    # per member (its adjoint applied to a stack of 1×1 factors gives per-member scalars)
    rng = np.random.default_rng(7)
    X = kv.Matrix("X", shape)
    n = shape[-2]
    Y = _computed_stack(X, rng.standard_normal(shape), kind)
    V = kv.eigh(Y @ kv.matrix_transpose(Y) + 2.0 * np.eye(n))[1]
    x0 = 0.7 * rng.standard_normal(shape)
    for j in range(n):
        v = V @ np.eye(n)[:, j:j + 1]
        f = kv.sum(v * v * kv.Constant(rng.standard_normal(v.shape)))
        H = kv.hessian(f, X).at({"X": x0})
        assert relative_error(H.to_dense(), fd_jacobian(kv.grad(f, X), X, {"X": x0})) < 1e-5
        dottest(H)


def _five_point(f, x0, h_dir, h):
    at = [kv.evaluate(f, X=x0 + t * h * h_dir) for t in (2, 1, -1, -2)]
    return (8 * (at[1] - at[2]) - (at[0] - at[3])) / (12 * h)


def test_columns_of_a_two_axis_stack_near_a_tie_match_differences_that_resolve_the_gap():
    # (eigvecs(XXᵀ + 2I) eⱼ)∘² at a point where one member's eigenvalues are 0.052 apart: five-point
    # differences with the fuzzer's step (h = 2·10⁻⁴) are off by 3·10⁻⁶ there, and converge to the
    # JVP as h⁴ (16× per halving): the differences' truncation error, not the derivative's
    rng = np.random.default_rng(4)
    x0, h_dir = 0.7 * rng.standard_normal((2, 2, 2, 2)), rng.standard_normal((2, 2, 2, 2))
    w = np.linalg.eigvalsh(x0 @ np.swapaxes(x0, -1, -2) + 2 * np.eye(2))
    assert np.min(w[..., 1] - w[..., 0]) == pytest.approx(0.0523, abs=1e-4)
    X = kv.Matrix("X", (2, 2, 2, 2))
    v = kv.eigh(X @ kv.matrix_transpose(X) + 2.0 * np.eye(2))[1] @ np.array([[0.0], [1.0]])
    jvp = kv.jacobian(v * v, X).at({"X": x0}).jvp(h_dir)
    errors = [np.abs(_five_point(v * v, x0, h_dir, h) - jvp).max() for h in (2e-4, 1e-4, 5e-5, 2.5e-5)]
    assert errors[0] > 1e-6 and errors[-1] < 1e-9
    assert all(12 < a / b < 20 for a, b in zip(errors, errors[1:]))


def test_a_column_of_a_fast_oscillating_matrix_matches_differences_that_resolve_it():
    # eigvecs(M Mᵀ + 2I)[:, 0]∘², M = cos(Σ(D ⊙ C₂) D), D = det(0.3 X C₁ᵀ + 3I) per member of a
    # stack with two stack axes: M's entries are cosines of arguments in the thousands, so
    # differences with h = 2·10⁻⁴ (h |dM| ≈ 1) keep no digit; with h = 3·10⁻⁶ they agree
    r = np.random.default_rng(1015)
    C1, C2 = r.standard_normal((3, 2)), r.standard_normal((2, 2))
    X = kv.Matrix("X", (2, 2, 3, 2))
    D = kv.det(0.3 * (X @ C1.T) + 3 * kv.eye(3))
    M = kv.cos(D * kv.sum(D * C2))
    v = kv.eigh(M @ kv.matrix_transpose(M) + 2.0 * np.eye(2))[1][:, 0]
    rng = np.random.default_rng(15)
    x0, h_dir = 0.7 * rng.standard_normal((2, 2, 3, 2)), rng.standard_normal((2, 2, 3, 2))
    jvp = kv.jacobian(v * v, X).at({"X": x0}).jvp(h_dir)
    scale = np.abs(jvp).max()
    assert np.abs(_five_point(v * v, x0, h_dir, 2e-4) - jvp).max() > 0.1 * scale
    assert np.abs(_five_point(v * v, x0, h_dir, 3e-6) - jvp).max() < 1e-7 * scale


def _as_backend(backend, x):
    if backend == "jax":
        return jax.numpy.asarray(x)
    return torch.as_tensor(np.array(x)) if backend == "torch" else x


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("stack", [(3,), (2, 2)])
def test_generated_code_of_columns_of_stacks(stack, backend):
    # the column and the reduced resolvent come from the batched eigh of every member
    rng = np.random.default_rng(12)
    X = kv.Matrix("X", stack + (3, 2))
    v = kv.eigh(X @ kv.matrix_transpose(X) + 2.0 * np.eye(3))[1] @ np.array([[0.0], [1.0], [0.0]])
    f = kv.sum(v * v * kv.Constant(rng.standard_normal(v.shape)))
    x0, h = rng.standard_normal(X.shape), rng.standard_normal(X.shape)
    J, H = kv.jacobian(v * v, X), kv.hessian(f, X)
    cases = [(v * v, (x0,), kv.evaluate(v * v, X=x0)), (J, (x0, h), J.at(X=x0).jvp(h)),
             (H, (x0, h), H.at(X=x0).jvp(h))]
    for out, args, expected in cases:
        got = kv.lambdify([X], out, backend)(*[_as_backend(backend, a) for a in args])
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("spectrum", [[1.0, 1.0, 4.0], [2.0, 2.0, 2.0], [1.0, 1.5, 4.0]])
def test_generated_code_of_second_derivatives_of_functions_written_by_hand(spectrum, backend):
    # eigfun_frechet2 (second divided differences, φ''/2 where three eigenvalues tie) on every backend
    a0 = _rotated(spectrum, seed=9)
    rng = np.random.default_rng(10)
    A = kv.Matrix("A", (3, 3))
    w, V = kv.eigh(A)
    C = kv.Constant(rng.standard_normal((3, 3)))
    by_hand = [V @ kv.diag(kv.exp(0.5 * w)) @ V.T] + ([V[:, :2] @ V[:, :2].T] if spectrum[1] < 2 else [])
    for F in by_hand:
        f = kv.trace(C @ F) ** 2 + kv.sum(F * F * C)
        H = kv.hessian(f, A)
        h = rng.standard_normal((3, 3))
        expected = H.at(A=a0).jvp(h)
        code = kv.lambdify([A], H, backend)
        if backend != "numpy":
            assert "einsum('...ikj" in code.source  # the second Daleckii–Krein derivative, written out
        got = code(_as_backend(backend, a0), _as_backend(backend, h))
        np.testing.assert_allclose(np.asarray(got), expected, rtol=1e-10, atol=1e-12)


def _tied_stack(stack, n, seed=21):
    """A stack of n×n symmetric members with a tie in every member (the first two eigenvalues of
    n ≥ 3, shifted per member; 1×1 members are any numbers)."""
    rng = np.random.default_rng(seed)
    spectrum = [1.0, 1.0, 4.0, 6.0][:n] if n > 1 else [1.5]
    shifts = rng.uniform(-0.5, 0.5, stack)[..., None, None] * np.eye(n)
    return _rotated(spectrum, seed=seed, stack=stack) + shifts


_BY_HAND_ON_STACKS = {
    "exp": lambda w, V: V @ kv.diag(kv.exp(0.5 * w)) @ V.mT,
    "cube": lambda w, V: V @ kv.diag(w ** 3) @ V.mT,
    "projector": lambda w, V: V @ kv.diag(kv.Constant(np.array([[1.0], [1.0], [0.0]]))) @ V.mT,
}


@pytest.mark.parametrize("stack, n, build", [(stack, n, build) for stack in ((2,), (2, 2)) for n in (3, 1)
                                              for build in sorted(_BY_HAND_ON_STACKS)
                                              if n == 3 or build != "projector"] + [((3,), 1, "exp")])
def test_functions_written_by_hand_on_stacks_at_ties(stack, n, build):
    # V diag(g) Vᵀ of a stack is one eigfun node: first and second derivatives by Daleckii–Krein,
    # member by member, where every member's eigenvalues repeat (the projector's indicator is 3×3)
    a0 = _tied_stack(stack, n)
    A = kv.Matrix("A", stack + (n, n))
    w, V = kv.eigh(A)
    F = _BY_HAND_ON_STACKS[build](w, V)
    assert F.op == "eigfun" and F.shape == A.shape
    L = kv.jacobian(F, A).at({"A": a0})
    assert relative_error(L.to_dense(), fd_jacobian(F, A, {"A": a0})) < 1e-7
    dottest(L)
    C = kv.Constant(np.random.default_rng(3).standard_normal(A.shape))
    for f in (kv.sum(C * F), kv.sum(C * F) ** 2, kv.sum(F * F * C)):
        H = kv.hessian(f, A).at({"A": a0})
        assert relative_error(H.to_dense(), fd_jacobian(kv.grad(f, A), A, {"A": a0})) < 1e-6
        dottest(H)


@pytest.mark.parametrize("stack, n", [((2,), 3), ((2, 2), 3), ((2, 2), 1)])
def test_hessians_of_sums_of_functions_of_eigenvalues_of_stacks_at_ties(stack, n):
    # the gradient of Σ exp(w) of a stack is V diag(exp(w)) Vᵀ, an eigfun node: its Jacobian at ties
    a0 = _tied_stack(stack, n, seed=22)
    A = kv.Matrix("A", stack + (n, n))
    f = kv.sum(kv.exp(0.5 * kv.eigvalsh(A)))
    assert any(node.op == "eigfun" for node in kv.grad(f, A).walk())
    H = kv.hessian(f, A).at({"A": a0})
    assert relative_error(H.to_dense(), fd_jacobian(kv.grad(f, A), A, {"A": a0})) < 1e-6
    dottest(H)


def test_a_projector_splitting_a_tied_group_of_one_member_of_a_stack_raises_naming_the_member():
    a0 = np.stack([np.diag([0.0, 2.0, 5.0]), _rotated([1.0, 1.0, 4.0])])
    A = kv.Matrix("A", (2, 3, 3))
    w, V = kv.eigh(A)
    P = V @ kv.diag(kv.Constant(np.array([[0.0], [1.0], [1.0]]))) @ V.mT
    with pytest.raises(kv.DegenerateError, match=r"member 1 of the stack: eigh: V diag\(g\) Vᵀ has no "
                       r"derivative .* tied group w\[0:2\]"):
        kv.jacobian(P, A).at({"A": a0}).to_dense()


def _mixed_function(build, w, V, s, A):
    g = {"exp(s w)": lambda: kv.exp(s * w), "s w³ + w": lambda: s * w ** 3 + w,
         "tanh(w tr A / 6)": lambda: kv.tanh(w * (kv.trace(A) / 6.0))}[build]()
    return V @ kv.diag(g) @ V.T


@pytest.mark.parametrize("point", ["rotated tie", "exact tie", "apart"])
@pytest.mark.parametrize("build", ["exp(s w)", "s w³ + w", "tanh(w tr A / 6)"])
def test_second_derivatives_of_functions_of_eigenvalues_and_a_scalar_at_ties(build, point):
    # V diag(φ(w, θ)) Vᵀ with θ a scalar symbol (s) or a scalar of A itself (its trace): eigfun takes θ as
    # an argument, so its derivative is Daleckii–Krein's in A at fixed θ plus V diag(∂φ/∂θ dθ) Vᵀ, and
    # every second derivative (in A, and mixed in either order) is exact where eigenvalues repeat
    a0 = {"rotated tie": _rotated([1.0, 1.0, 4.0], seed=2), "exact tie": np.diag([1.0, 1.0, 4.0]),
          "apart": _rotated([1.0, 1.5, 4.0], seed=2)}[point]
    A, s = kv.Matrix("A", (3, 3)), kv.Matrix("s", (1, 1))
    w, V = kv.eigh(A)
    F = _mixed_function(build, w, V, s, A)
    assert F.op == "eigfun" and len(F.args) == 3
    C = kv.Constant(np.arange(9.0).reshape(3, 3) / 5 - 0.7)
    values = {"A": a0, "s": np.array([[0.7]])}
    for f in (kv.trace(C @ F), kv.trace(C @ F) ** 2, kv.sum(F * F * C)):
        pairs = ((A, A), (A, s), (s, A), (s, s)) if build != "tanh(w tr A / 6)" else ((A, A),)
        for first, then in pairs:
            J = kv.jacobian(kv.grad(f, first), then).at(values)
            fd = fd_jacobian(kv.grad(f, first), then, values)
            assert relative_error(J.to_dense(), fd) < 1e-6
            dottest(J)


def test_a_hessian_through_a_function_of_eigenvalues_and_a_scalar_of_the_same_variable_at_a_tie():
    # P = X Xᵀ + 2I with X thin ties two eigenvalues at 2; θ = 0.2 + tanh(ΣX)/20 reaches X another way
    rng = np.random.default_rng(30)
    X = kv.Matrix("X", (3, 1))
    w, V = kv.eigh(X @ X.T + 2.0 * np.eye(3))
    F = V @ kv.diag(kv.tanh((0.2 + 0.05 * kv.tanh(kv.sum(X))) * w)) @ V.T
    f = kv.sum(F * F * kv.Constant(rng.standard_normal((3, 3)))) + kv.trace(F) ** 2
    values = {"X": rng.standard_normal((3, 1))}
    H = kv.hessian(f, X).at(values)
    assert relative_error(H.to_dense(), fd_jacobian(kv.grad(f, X), X, values)) < 1e-6
    dottest(H)


def test_functions_of_eigenvalues_and_a_vector_keep_the_general_rule():
    # g = tanh(w ⊙ u): u differs along the eigenvalues, so V diag(g) Vᵀ is no function of A alone and
    # differentiates factor by factor (right where the eigenvalues are distinct, in either order)
    A, u = kv.Matrix("A", (3, 3)), kv.Matrix("u", (3, 1))
    w, V = kv.eigh(A)
    F = V @ kv.diag(kv.tanh(w * u)) @ V.T
    assert F.op == "eigfun" and len(F.args) == 2
    f = kv.sum(kv.Constant(np.arange(9.0).reshape(3, 3)) * F) ** 2
    values = {"A": _rotated([1.0, 1.5, 4.0], seed=4), "u": np.array([[0.3], [-0.2], [0.5]])}
    for first, then in ((u, A), (A, u), (A, A)):
        J = kv.jacobian(kv.grad(f, first), then).at(values)
        assert relative_error(J.to_dense(), fd_jacobian(kv.grad(f, first), then, values)) < 1e-6


def test_third_derivatives_through_functions_of_eigenvalues_and_a_scalar_are_refused_clearly():
    A, s = kv.Matrix("A", (3, 3)), kv.Matrix("s", (1, 1))
    w, V = kv.eigh(A)
    g = kv.grad(kv.sum(kv.grad(kv.trace(V @ kv.diag(kv.exp(s * w)) @ V.T) ** 2, A) ** 2), A)
    with pytest.raises(NotImplementedError, match="third derivatives through V diag"):
        kv.jacobian(g, s)


@pytest.mark.parametrize("backend", BACKENDS)
def test_generated_code_of_a_hessian_whose_second_derivative_node_has_an_identity_factor(backend):
    # the gradient of tr(V exp(w) Vᵀ)² holds L(A, c I): its Hessian's L²(A; H, I) takes the identity as a
    # value in generated code
    A = kv.Matrix("A", (3, 3))
    w, V = kv.eigh(A)
    f = kv.trace(V @ kv.diag(kv.exp(0.5 * w)) @ V.T) ** 2
    H = kv.hessian(f, A)
    a0, h = _rotated([1.0, 1.0, 4.0], seed=3), np.random.default_rng(2).standard_normal((3, 3))
    got = kv.lambdify([A], H, backend)(_as_backend(backend, a0), _as_backend(backend, h))
    np.testing.assert_allclose(np.asarray(got), H.at(A=a0).jvp(h), rtol=1e-10, atol=1e-12)
