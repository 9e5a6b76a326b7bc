"""Each matrix is factored once in the program JAX compiles for derivatives of a kv.jax_function.

The factorizations are counted in the lowered program (StableHLO, the LAPACK calls reached from
``main`` through the functions it calls): ``jax.hessian`` keeps one primitive (kronvec's
second-order code), which factors each matrix once; a solve with Aᵀ of a factored A reuses A's
LU factors (a transposed solve) instead of factoring Aᵀ.  A value, gradient and Hessian in one
``jit`` lower one primitive each, whose identical factorizations XLA's common-subexpression pass
merges: the compiled program factors each matrix once too.  Skipped only when JAX is missing.
"""
from __future__ import annotations

import importlib.util
import re
from collections import Counter

import numpy as np
import pytest

import kronvec as kv

needs_jax = pytest.mark.skipif(importlib.util.find_spec("jax") is None, reason="JAX is not installed")
LAPACK = r"lapack_[sd](potrf|getrf|syevd)"


def lowered_factorizations(jax, fun, *values) -> Counter:
    """The factorizations (potrf, getrf, syevd) the lowered program of ``fun`` runs, by call site."""
    text = jax.jit(fun).lower(*values).as_text()
    bodies: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        m = re.search(r"func\.func \w+ @(\w+)", line)
        if m:
            current = bodies.setdefault(m.group(1), [])
        elif current is not None:
            current.append(line)

    def count(name: str) -> Counter:
        found: Counter = Counter()
        for line in bodies.get(name, []):
            found.update(re.findall(LAPACK, line))
            for callee in re.findall(r"(?<!custom_)call @(\w+)", line):
                found += count(callee)
        return found
    return count("main")


def compiled_factorizations(jax, fun, *values) -> Counter:
    text = jax.jit(fun).lower(*values).compile().as_text()
    return Counter(re.findall(r'custom_call_target="' + LAPACK, text))


@needs_jax
def test_hessian_factors_each_matrix_once(jax64):
    jax = jax64
    rng = np.random.default_rng(0)
    n = 4
    X, V = kv.Matrix("X", (n, 2)), kv.Matrix("V", (n, n))
    F = kv.logdet(X.T @ kv.solve(V, X))  # LU of V and of XᵀV⁻¹X (its transpose: the same factors)
    gls = kv.jax_function([X, V], F)
    x0, v0 = rng.standard_normal((n, 2)), rng.standard_normal((n, n)) + 4 * np.eye(n)
    hessian = jax.hessian(gls, argnums=(0, 1))
    assert lowered_factorizations(jax, hessian, x0, v0) == Counter({"getrf": 2})
    want = kv.hessian(F, X).at(X=x0, V=v0).to_tensor()
    np.testing.assert_allclose(hessian(x0, v0)[0][0], want, rtol=1e-9, atol=1e-12)
    grad_v = jax.jit(jax.grad(gls, argnums=1))
    np.testing.assert_allclose(grad_v(x0, v0), kv.evaluate(kv.grad(F, V), X=x0, V=v0), rtol=1e-9)

    K = kv.Matrix("K", (n, n), positive_definite=True)
    y = kv.Vector("y", n)
    gp = kv.jax_function([K, y], 0.5 * (y.T @ kv.inv(K) @ y) + 0.5 * kv.logdet(K))
    k0, y0 = v0 @ v0.T + n * np.eye(n), rng.standard_normal((n, 1))
    assert lowered_factorizations(jax, jax.hessian(gp), k0, y0) == Counter({"potrf": 1})

    S = kv.Matrix("S", (3, 3), positive_definite=True)
    root = kv.jax_function([S], kv.trace(kv.sqrtm(S)))
    assert lowered_factorizations(jax, jax.hessian(root), np.eye(3) * 2 + 0.1)["syevd"] == 1


@needs_jax
def test_value_gradient_and_hessian_in_one_jit_factor_once_when_compiled(jax64):
    jax = jax64
    rng = np.random.default_rng(1)
    n = 4
    X, V = kv.Matrix("X", (n, 2)), kv.Matrix("V", (n, n))
    gls = kv.jax_function([X, V], kv.logdet(X.T @ kv.solve(V, X)))
    x0, v0 = rng.standard_normal((n, 2)), rng.standard_normal((n, n)) + 4 * np.eye(n)

    def newton(x, v):
        return gls(x, v), jax.grad(gls)(x, v), jax.hessian(gls)(x, v)
    assert compiled_factorizations(jax, newton, x0, v0) == Counter({"getrf": 2})


TRANSPOSED_CASES = {
    "solves": lambda M, y: (kv.inv(M) @ y, kv.inv(M.T) @ y, kv.inv(M.T)),
    "determinant_of_the_transpose": lambda M, y: (kv.solve(M, y), kv.solve(M.T, y), kv.det(M.T), kv.inv(M.T)),
    "logdet_first": lambda M, y: (kv.solve(M.T, y), kv.inv(M), kv.logdet(M.T), kv.det(M)),
}


@pytest.mark.parametrize("backend", ["numpy", "jax", "torch"])
@pytest.mark.parametrize("case", list(TRANSPOSED_CASES))
def test_a_matrix_and_its_transpose_share_lu_factors_in_generated_code(case, backend):
    """Solves and inverses with Mᵀ of a factored M are transposed solves with M's factors; a
    determinant of Mᵀ, which reads Mᵀ's own factors, gets them; every number equals kv.evaluate."""
    module = pytest.importorskip(backend)
    A, B, y = kv.Matrix("A", (3, 3)), kv.Matrix("B", (3, 3)), kv.Matrix("y", (3, 2))
    outputs = TRANSPOSED_CASES[case](A @ B, y)
    rng = np.random.default_rng(2)
    values = {"A": rng.standard_normal((3, 3)) + 3 * np.eye(3),
              "B": rng.standard_normal((3, 3)) + 3 * np.eye(3), "y": rng.standard_normal((3, 2))}
    fun = kv.lambdify([A, B, y], outputs, backend=backend)
    convert = module.tensor if backend == "torch" else np.asarray
    with (module.enable_x64(True) if backend == "jax" else np.errstate()):
        got = fun(*[convert(values[k]) for k in "ABy"])
        for g, want in zip(got, kv.evaluate(list(outputs), values)):
            np.testing.assert_allclose(np.asarray(g), want, rtol=1e-10, atol=1e-12)
    if case == "solves":  # one factorization: M's
        assert len(re.findall(r"lu_factor\(|dgetrf\(", fun.source)) == 1, fun.source


@needs_jax
def test_jvp_rule_takes_only_the_nonzero_tangents(jax64):
    """jacfwd in w alone: the JVP primitive reads (w, X, y, dw), not zero tangents of X and y, whose
    terms (products with an m×n zero matrix per basis tangent) would be work for nothing."""
    jax = jax64
    m, n = 6, 3
    X, y, w = kv.Matrix("X", (m, n)), kv.Vector("y", m), kv.Vector("w", n)
    loss = kv.sum(kv.softplus(X @ w)) - y.T @ X @ w
    fun = kv.jax_function([w, X, y], loss)
    rng = np.random.default_rng(3)
    w0, x0, y0 = rng.standard_normal((n, 1)), rng.standard_normal((m, n)), rng.standard_normal((m, 1))
    jaxpr = jax.make_jaxpr(jax.jacfwd(fun))(w0, x0, y0).jaxpr
    arities = [len(eq.invars) for eq in jaxpr.eqns if eq.primitive.name.startswith("kronvec_")]
    assert max(arities) == 4, arities
    values = {"w": w0, "X": x0, "y": y0}
    np.testing.assert_allclose(jax.hessian(fun)(w0, x0, y0).reshape(n, n),
                               kv.hessian(loss, w).at(values).to_dense(), rtol=1e-9)
