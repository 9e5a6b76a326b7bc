"""kv.lambdify: generated code on every installed backend.

* every operation (the cases of tests/test_op_derivatives.py): the generated
  value, JVP and VJP equal ``kv.evaluate`` and the bound map's ``jvp``/``vjp``
  to rounding, on several random value sets, on NumPy, JAX and PyTorch (the
  last two when installed; JAX runs in float64);
* the source reads as intended: solves instead of inverses, one factorization
  per matrix (Cholesky for positive definite symbols), shared values
  assigned once, the printer's names;
* ``jax.jit`` of the generated JAX code;
* errors: an unknown backend, a missing library (simulated), symbols that are
  not arguments.
"""
from __future__ import annotations

import importlib
import re
import tomllib
from pathlib import Path

import numpy as np
import pytest

import kronvec as kv
from _backends import BACKENDS, jax, torch
from kronvec.codegen import CodegenError
from kronvec.testing import random_values
from test_op_derivatives import CASES

ROOT = Path(__file__).resolve().parents[1]


if jax is not None:
    import jax.numpy as jnp

CONVERT = {"numpy": np.asarray, "jax": lambda x: jnp.asarray(x),
           "torch": lambda x: torch.as_tensor(np.array(x))}

# Written for NumPy only, or for symmetric arguments only (the cases use general ones), and
# slices with negative steps, which PyTorch does not have: the backend says so (CodegenError).
UNSUPPORTED = {
    "jax": {"sqrtm", "logm", "sqrtm_frechet", "logm_frechet", "logm_frechet2"},
    "torch": {"sqrtm", "logm", "sqrtm_frechet", "logm_frechet", "logm_frechet2", "getitem", "index"},
}
# eigenvectors are defined up to their signs, which other LAPACK drivers may choose differently
SIGNS = {"eigh", "eigh_vectors", "svd", "svd_U", "svd_Vt"}


def _symbols(f):
    return [s for _, s in sorted(f.symbols().items())]


def _close(got, want, rtol=1e-9, absolute=False):
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape, (got.shape, want.shape)
    if absolute:
        got, want = np.abs(got), np.abs(want)
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale)


# ------------------------------------------------------------ every operation
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("op", sorted(CASES))
def test_values_jvp_and_vjp_equal_the_library(op, backend):
    f, wrt, positive = CASES[op](3, 2, 4)
    syms = _symbols(f)
    J = kv.jacobian(f, wrt)
    if any(len(e.shape) > 2 for e in [f, *syms]):  # stacks: the code is right, or refused naming a stack
        try:
            fns = [kv.lambdify(syms, out, backend) for out in (f, J, J.T)]
        except CodegenError as err:
            assert "stack" in str(err), str(err)
            return
    elif op in UNSUPPORTED.get(backend, ()):
        with pytest.raises(CodegenError, match=backend):
            kv.lambdify(syms, f, backend), kv.lambdify(syms, J, backend), kv.lambdify(syms, J.T, backend)
        return
    else:
        fns = [kv.lambdify(syms, out, backend) for out in (f, J, J.T)]
    signs = backend != "numpy" and op in SIGNS
    conv = CONVERT[backend]
    for seed in (1, 2, 3):  # one generated function, new values every call
        rng = np.random.default_rng(seed)
        values = random_values(f, rng, positive=positive)
        L = J.at(values)
        H, G = rng.standard_normal(L.in_shape), rng.standard_normal(L.out_shape)
        args = [conv(values[s.params.name]) for s in syms]
        _close(fns[0](*args), kv.evaluate(f, values), absolute=signs)
        _close(fns[1](*args, conv(H)), L.jvp(H), absolute=signs)
        if not signs:
            _close(fns[2](*args, conv(G)), L.vjp(G))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fn", ["sqrtm", "logm"])
def test_matrix_functions_of_symmetric_matrices_on_every_backend(fn, backend):
    S, C = kv.Matrix("S", (4, 4), positive_definite=True), kv.Matrix("C", (4, 4))
    f = kv.trace(C @ getattr(kv, fn)(S))
    J, g = kv.jacobian(getattr(kv, fn)(S), S), kv.grad(f, S)
    rng = np.random.default_rng(0)
    values = random_values(f, rng)
    conv = CONVERT[backend]
    H = rng.standard_normal((4, 4))
    H = H + H.T
    _close(kv.lambdify([C, S], g, backend)(*(conv(values[k]) for k in "CS")), kv.evaluate(g, values))
    _close(kv.lambdify([S], J, backend)(conv(values["S"]), conv(H)), J.at(values).jvp(H))


@pytest.mark.parametrize("backend", BACKENDS)
def test_hessian_vector_products(backend):
    X = kv.Matrix("X", (4, 3))
    f = kv.logdet(X.T @ X + kv.eye(3)) + kv.sum(kv.sigmoid(X) * X)
    Hs = kv.hessian(f, X)
    rng = np.random.default_rng(4)
    X0, D = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    hvp = kv.lambdify([X], Hs, backend)
    _close(hvp(CONVERT[backend](X0), CONVERT[backend](D)), Hs.at(X=X0).jvp(D))


@pytest.mark.parametrize("backend", BACKENDS)
def test_scalars_and_scalar_shapes(backend):
    s, x = kv.Scalar("s"), kv.Vector("x", 3)
    f = s * kv.sum(kv.exp(s * x)) + s ** 2
    conv = CONVERT[backend]
    values = {"s": np.asarray(0.7), "x": np.array([[0.1], [-0.2], [0.3]])}
    fn = kv.lambdify([s, x], f, backend)
    _close(fn(conv(values["s"]), conv(values["x"])), kv.evaluate(f, values))
    J = kv.jacobian(f, s)
    L = J.at(values)
    _close(kv.lambdify([s, x], J, backend)(conv(values["s"]), conv(values["x"]), conv(np.asarray(0.3))),
           L.jvp(0.3))
    _close(kv.lambdify([s, x], J.T, backend)(conv(values["s"]), conv(values["x"]), conv(np.asarray(1.5))),
           L.vjp(1.5))


@pytest.mark.parametrize("backend", BACKENDS)
def test_stable_forms_for_arguments_of_any_size(backend):
    """sigmoid, softplus, logsumexp, softmax and log_softmax (and their gradients) at ±800."""
    x = kv.Vector("x", 3)
    outputs = (kv.sigmoid(x), kv.grad(kv.sum(kv.sigmoid(x)), x), kv.softplus(x),
               kv.grad(kv.sum(kv.softplus(x)), x), kv.logsumexp(x), kv.grad(kv.logsumexp(x), x),
               kv.softmax(x), kv.log_softmax(x), kv.grad(kv.sum(kv.log_softmax(x)), x))
    f = kv.lambdify([x], outputs, backend)
    x0 = np.array([[-800.0], [0.0], [800.0]])
    got = [np.asarray(v, dtype=float) for v in f(CONVERT[backend](x0))]
    want = kv.evaluate(outputs, x=x0)
    for g, w in zip(got, want):
        assert np.isfinite(g).all()
        _close(g, w, rtol=1e-12)
    np.testing.assert_array_equal(got[0].ravel(), [0.0, 0.5, 1.0])
    np.testing.assert_allclose(got[2].ravel(), [0.0, np.log(2.0), 800.0], rtol=1e-15)
    np.testing.assert_array_equal(got[6].ravel(), [0.0, 0.0, 1.0])


# ------------------------------------------------------------------ readability
def _gls(pd=False, n=6, m=3):
    X, V = kv.Matrix("X", (n, m)), kv.Matrix("V", (n, n), positive_definite=pd)
    F = kv.inv(X.T @ kv.inv(V) @ X).named("F")
    return X, V, F, kv.jacobian(F, V)


def _gp(n=5):
    K, y = kv.Matrix("K", (n, n), positive_definite=True), kv.Vector("y", n)
    f = -0.5 * (y.T @ kv.inv(K) @ y) - 0.5 * kv.logdet(K)
    return K, y, f, kv.grad(f, K)


def _assignments(source: str) -> list[tuple[str, str]]:
    out = []
    for line in source.splitlines()[1:]:
        code = line.split("  #")[0].strip()
        if " = " in code and not code.startswith("return"):
            target, value = code.split(" = ", 1)
            out.append((target, value))
    return out


def _check_assigned_once(source: str) -> None:
    pairs = _assignments(source)
    targets = [t for t, _ in pairs if "[" not in t]
    assert len(targets) == len(set(targets)), source  # every value has its own variable
    values = [v for _, v in pairs]
    assert len(values) == len(set(values)), source  # nothing is computed twice


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("pd", [False, True])
def test_gls_jacobian_uses_solves_and_one_factorization_of_each_matrix(backend, pd):
    X, V, F, J = _gls(pd)
    for out in (J, J.T):
        src = kv.lambdify([X, V], out, backend).source
        assert "inv(" not in src and "getri" not in src and "potri" not in src
        assert src.startswith(("def jvp(X, V, dV):", "def vjp(X, V, F_bar):"))
        factor = {"numpy": r"dpotrf\(V" if pd else r"dgetrf\(V",
                  "jax": r"cho_factor\(V" if pd else r"lu_factor\(V",
                  "torch": r"cholesky\(V" if pd else r"lu_factor\(V"}[backend]
        assert len(re.findall(factor, src)) == 1, src
        assert len(re.findall(r"dgetrf|dpotrf|cho_factor|lu_factor|linalg\.cholesky", src)) == 2, src
        _check_assigned_once(src)


@pytest.mark.parametrize("backend", BACKENDS)
def test_gp_value_and_gradient_share_the_cholesky_factor_and_the_solve(backend):
    K, y, f, G = _gp()
    src = kv.lambdify([K, y], (f, G), backend).source
    chol, solve = {"numpy": ("dpotrf", "dpotrs"), "jax": ("cho_factor", "cho_solve"),
                   "torch": ("linalg.cholesky", "cholesky_solve")}[backend]
    assert src.count(chol) == 1
    assert src.count(solve) == (2 if backend == "jax" else 1)  # K⁻¹y (and K⁻¹ in JAX, by a solve)
    assert "inv(" not in src.replace("cholesky_inverse(", "") and "K_inv" in src  # K⁻¹ is part of the output
    _check_assigned_once(src)


def test_wide_right_sides_are_solved_from_the_right():
    """NumPy solves with many more right-hand columns than unknowns by trsm from the right (LU
    with its permutation, Cholesky, triangular), to the same numbers."""
    rng = np.random.default_rng(6)
    X, V, F, J = _gls(n=40, m=16)
    X0, V0 = rng.standard_normal((40, 16)), rng.standard_normal((40, 40)) + 9 * np.eye(40)
    H, G = rng.standard_normal((40, 40)), rng.standard_normal((16, 16))
    L = J.at(X=X0, V=V0)
    for out, tangent, want in ((J, H, L.jvp(H)), (J.T, G, L.vjp(G))):
        f = kv.lambdify([X, V], out)
        assert "blas.dtrsm" in f.source and "dlaswp" in f.source
        _close(f(X0, V0, tangent), want)
    K, A = kv.Matrix("K", (16, 16), positive_definite=True), kv.Matrix("A", (16, 16))
    B = kv.Matrix("B", (16, 40))
    outputs = (kv.solve(K, B), B.T @ kv.inv(K), kv.solve(kv.cholesky(A @ A.T + 16 * kv.eye(16)), B))
    f = kv.lambdify([K, A, B], outputs)
    assert f.source.count("blas.dtrsm") == 3, f.source  # BᵀK⁻¹ is (K⁻¹B)ᵀ: one solve for both
    R = rng.standard_normal((16, 16))
    values = {"K": R @ R.T + 16 * np.eye(16), "A": rng.standard_normal((16, 16)),
              "B": rng.standard_normal((16, 40))}
    for got, want in zip(f(*(values[k] for k in "KAB")), kv.evaluate(outputs, values)):
        _close(got, want)


def test_inverses_only_where_the_inverse_is_wanted():
    A, B = kv.Matrix("A", (4, 4)), kv.Matrix("B", (4, 2))
    assert "dgetri" not in kv.lambdify([A, B], kv.solve(A, B) + kv.inv(A) @ B).source
    assert kv.lambdify([A, B], (kv.inv(A), kv.solve(A, B))).source.count("dgetri") == 1


def test_the_printer_names():
    X, V, F, J = _gls()
    src = kv.lambdify([X, V], (F, X @ F)).source
    assert re.search(r"^    F = ", src, re.M), src  # the user's name for F
    A, Y = kv.Matrix("A", (5, 3)), kv.Matrix("Y", (5, 5))
    P = kv.inv(A.T @ A + kv.eye(3))
    e = kv.trace(A @ P @ A.T @ Y) + kv.sum(A @ P @ A.T)
    assert "where W = A(AᵀA + I)⁻¹Aᵀ" in kv.pretty(e)
    src = kv.lambdify([A, Y], e).source
    assert re.search(r"^    W = ", src, re.M), src  # the name kv.pretty gives A(AᵀA + I)⁻¹Aᵀ


def test_numbers_of_a_readable_example():
    X, V, F, J = _gls()
    f = kv.lambdify([X, V], J)
    assert f.__doc__.startswith("the JVP of F in V")
    assert f.backend == "numpy" and f.args == (X, V)
    lines = f.source.splitlines()
    assert lines[-2].strip().startswith("dF = ") and lines[-1] == "    return dF"
    assert all(len(line) < 120 for line in lines)


# ------------------------------------------------------------------ JAX
@pytest.mark.skipif(jax is None, reason="JAX is not installed")
def test_jax_jit_of_the_generated_code():
    X, V, F, J = _gls(n=7, m=2)
    K, y, f, G = _gp(n=6)
    rng = np.random.default_rng(3)
    X0, H = rng.standard_normal((7, 2)), rng.standard_normal((7, 7))
    V0 = rng.standard_normal((7, 7)) + 4 * np.eye(7)
    jvp = jax.jit(kv.lambdify([X, V], J, backend="jax"))
    _close(jvp(X0, V0, H), J.at(X=X0, V=V0).jvp(H))
    R = rng.standard_normal((6, 6))
    K0, y0 = R @ R.T + 6 * np.eye(6), rng.standard_normal((6, 1))
    both = jax.jit(kv.lambdify([K, y], (f, G), backend="jax"))
    for got, want in zip(both(K0, y0), kv.evaluate([f, G], K=K0, y=y0)):
        _close(got, want)
    assert "cholesky" in str(jax.make_jaxpr(kv.lambdify([K, y], G, backend="jax"))(K0, y0))


# ------------------------------------------------------------------ errors
def test_an_unknown_backend_lists_the_backends():
    X, V, F, J = _gls()
    with pytest.raises(ValueError, match=r"'numpy', 'jax', 'torch'"):
        kv.lambdify([X, V], F, backend="tensorflow")


@pytest.mark.parametrize("backend, library", [("jax", "jax"), ("torch", "torch")])
def test_a_missing_library_names_the_extra(backend, library, monkeypatch):
    real = importlib.import_module

    def missing(name, *args, **kw):
        if name.split(".")[0] == library:
            raise ImportError(f"No module named {name!r}")
        return real(name, *args, **kw)

    monkeypatch.setattr(importlib, "import_module", missing)
    X, V, F, J = _gls()
    with pytest.raises(ImportError, match=re.escape(f'pip install "kronvec[{backend}]"')):
        kv.lambdify([X, V], F, backend=backend)


def test_symbols_that_are_not_arguments_and_other_misuse():
    X, V, F, J = _gls()
    with pytest.raises(ValueError, match="V, which is not among the args"):
        kv.lambdify([X], F)
    with pytest.raises(TypeError, match="one Jacobian"):
        kv.lambdify([X, V], (F, J))
    with pytest.raises(TypeError, match="must be symbols"):
        kv.lambdify([X.T, V], F)


def test_pyproject_declares_the_extras():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    assert any(r.startswith("jax") for r in extras["jax"])
    assert any(r.startswith("torch") for r in extras["torch"])
    assert "jax>=0.4" in extras["test"]
    assert not any(r.startswith(("jax", "torch")) for r in project["dependencies"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_generated_jvp_in_a_one_by_one_variable_of_a_wider_result(backend):
    """tr(c h) M for a 1×1 tangent h and a 1×1 factor c is a number times M: (1, m), not (1, 1, 1, m)."""
    X = kv.Matrix("X", (1, 1))
    J = kv.jacobian(kv.hstack([kv.exp(X), kv.exp(X) * kv.exp(X)]), X)
    x, h = np.array([[0.5]]), np.array([[0.25]])
    out = np.asarray(kv.lambdify([X], J, backend)(CONVERT[backend](x), CONVERT[backend](h)))
    np.testing.assert_allclose(out, J.at(X=x).jvp(h), rtol=1e-14)
