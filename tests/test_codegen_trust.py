"""kv.lambdify where its numbers were once wrong or missing.

* the gradients of det(AXB), det(XᵀAX) and tr((XᵀCX)⁻¹A) (Matrix Cookbook (51)–(54),
  (125), (126)), whose code factorized a transposed value under a name that is
  not a variable (``t2.T_lu``);
* arguments of other shapes than the symbols' (a stack of tangents, a stack of
  values, a transposed matrix): the generated function refuses them, naming the
  argument and the shape it expects, instead of returning scrambled numbers.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

import kronvec as kv
from _backends import BACKENDS, jax, torch




def _convert(backend: str, x: np.ndarray):
    if backend == "jax":
        return jax.numpy.asarray(x)
    if backend == "torch":
        return torch.as_tensor(np.array(x))
    return x


def _cookbook(n: int, k: int, symmetric: bool) -> dict[str, tuple[kv.Expr, list, kv.Expr]]:
    X, Xr = kv.Matrix("X", (n, n)), kv.Matrix("Xr", (n, k))
    A, B = kv.Matrix("A", (n, n), symmetric=symmetric), kv.Matrix("B", (n, n))
    C, Ak = kv.Matrix("C", (n, n), symmetric=symmetric), kv.Matrix("Ak", (k, k))
    return {
        "(51) det(AXB)": (kv.det(A @ X @ B), [A, X, B], X),
        "(52) det(XᵀAX), X square": (kv.det(X.T @ A @ X), [A, X], X),
        "(53) det(XᵀAX)": (kv.det(Xr.T @ A @ Xr), [A, Xr], Xr),
        "(54) log det(XᵀAX)": (kv.logdet(Xr.T @ A @ Xr), [A, Xr], Xr),
        "(125/126) tr((XᵀCX)⁻¹A)": (kv.trace(kv.inv(Xr.T @ C @ Xr) @ Ak), [C, Xr, Ak], Xr),
        "(125/126) tr((XᵀCX)⁻¹A), X square": (kv.trace(kv.inv(X.T @ C @ X) @ A), [C, X, A], X),
    }


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("symmetric", [False, True])
@pytest.mark.parametrize("case", sorted(_cookbook(3, 2, False)))
def test_cookbook_gradients_of_determinants_and_traces_of_inverses(case, symmetric, backend):
    f, args, wrt = _cookbook(3, 2, symmetric)[case]
    G = kv.grad(f, wrt)
    fn = kv.lambdify(args, G, backend=backend)
    grad_fn = kv.lambdify(args, kv.jacobian(f, wrt).T, backend=backend)
    rng = np.random.default_rng(7)
    for _ in range(3):
        values = {}
        for s in args:
            v = rng.standard_normal(s.shape)
            values[s.params.name] = v @ v.T + np.eye(s.shape[0]) if s.params.symmetric else v
        given = [_convert(backend, values[s.params.name]) for s in args]
        want = kv.evaluate(G, **values)
        np.testing.assert_allclose(np.asarray(fn(*given)), want, rtol=1e-8, atol=1e-10)
        one = _convert(backend, np.ones(f.shape))
        np.testing.assert_allclose(np.asarray(grad_fn(*given, one)), want, rtol=1e-8, atol=1e-10)
    assert ".T_" not in fn.source and ".T_" not in grad_fn.source


def _square_case(n: int = 3):
    A, X = kv.Matrix("A", (n, n)), kv.Matrix("X", (n, n))
    F = A @ X.T @ X  # its JVP has dXᵀ, which would reverse every axis of a stack
    rng = np.random.default_rng(5)
    A0, X0 = rng.standard_normal((2, n, n))
    return A, X, F, kv.jacobian(F, X), A0, X0, rng


@pytest.mark.parametrize("backend", BACKENDS)
def test_values_of_other_shapes_are_refused_naming_the_parameter(backend):
    A, X, F, J, A0, X0, rng = _square_case()
    stack = rng.standard_normal((3, 3, 3))  # three tangents (cotangents, values) of shape (3, 3)
    wide = rng.standard_normal((3, 4))
    Jt = kv.jacobian(kv.expm(A @ X), X)  # a Fréchet derivative: its code takes one tangent
    cases = [(Jt, (A0, X0, stack), 2), (Jt.T, (A0, X0, stack), 2), (F, (stack, X0), 0),
             (J, (A0, stack, X0), 1), (F, (A0, wide), 1), (J, (A0, X0, wide), 2), (J, (A0, X0, wide.T), 2),
             (J.T, (A0, X0, stack[..., :2]), 2)]
    for out, given, culprit in cases:
        fn = kv.lambdify([A, X], out, backend=backend)
        param = fn.params[culprit]
        got = re.escape(str(given[culprit].shape))
        expected = rf"value of {param} has shape {got}, but {param} is \(3, 3\)"
        with pytest.raises(kv.ShapeError, match=expected):
            fn(*[_convert(backend, v) for v in given])
    with pytest.raises(TypeError, match=r"jvp\(\) missing 1 required positional argument: .dX."):
        kv.lambdify([A, X], J, backend=backend)(A0, X0)


def _stack_cases():
    """Jacobians whose code takes stacks of tangents (Kronecker, transposed, trace, elementwise,
    softmax terms, sums and scalings), in X (3, 3) with A (3, 3) and B (3, 2)."""
    A, X, B = kv.Matrix("A", (3, 3)), kv.Matrix("X", (3, 3)), kv.Matrix("B", (3, 2))
    return [A, X, B], X, {
        "AXᵀX": A @ X.T @ X, "tanh(X) ⊙ X": kv.tanh(X) * X, "2XB": 2.0 * X @ B, "X⁻¹": kv.inv(X),
        "softmax(XB, 0)": kv.softmax(X @ B, axis=0), "log_softmax(X, 1)": kv.log_softmax(X, axis=1),
        "softmax(X)": kv.softmax(X), "XᵀX + XB Bᵀ": X.T @ X + X @ B @ B.T,
        "det(X) AX": kv.det(X) * (A @ X), "tr(X) B + log det(X) XB": kv.trace(X) * B + kv.logdet(X) * (X @ B),
    }


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", sorted(_stack_cases()[2]))
def test_jvp_and_vjp_code_takes_stacks_of_tangents(case, backend):
    args, X, cases = _stack_cases()
    J = kv.jacobian(cases[case], X)
    rng = np.random.default_rng(8)
    values = {s.params.name: rng.standard_normal(s.shape) for s in args}
    L = J.at(values)
    given = [_convert(backend, values[s.params.name]) for s in args]
    for out, M in ((J, L), (J.T, L.T)):
        fn = kv.lambdify(args, out, backend=backend)
        assert fn.stacked_last
        for lead in ((), (4,), (2, 3)):  # one tangent, a stack, a stack with two stack axes
            H = rng.standard_normal(lead + M.in_shape)
            want = np.stack([M.jvp(h) for h in H.reshape((-1,) + M.in_shape)]).reshape(lead + M.out_shape)
            got = np.asarray(fn(*given, _convert(backend, H)))
            assert got.shape == want.shape
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max())


def test_elementwise_factor_of_per_member_scalars_in_generated_jvp():
    """maximum(det(W), c) for a 1-D c is one number per entry of c; the JVP's elementwise
    factor (a step function of shape (2,)) multiplies tangents in their matrix form (2, 1, 1)."""
    X = kv.Matrix("X", (1, 2))
    C1, C2 = np.array([[0.5], [0.7]]), np.array([-1.0, 2.0])
    E = kv.maximum(kv.det(0.3 * (kv.cos(X) @ C1) + 3 * kv.eye(1)), C2)
    J = kv.jacobian(E, X)
    x, h = np.array([[0.088, -0.092]]), np.array([[0.3, -0.4]])
    np.testing.assert_allclose(kv.lambdify([X], J)(x, h), J.at(X=x).jvp(h), rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", ["solve", "solve from the right", "transposed solve from the right"])
def test_one_factored_matrix_against_a_stack_of_right_sides(backend, case):
    """(XXᵀ + I)⁻¹ X C for a stack C of constants: one factorization, a stack of solves (the code
    once passed the stack to a solver of single matrices, which refused it)."""
    rng = np.random.default_rng(0)
    X = kv.Matrix("X", (3, 2))
    A = kv.inv(X @ X.T + kv.eye(3))
    E = {"solve": A @ X @ rng.standard_normal((2, 2, 1)),
         "solve from the right": rng.standard_normal((2, 1, 3)) @ A,
         "transposed solve from the right": rng.standard_normal((2, 1, 3)) @ (A @ X @ X.T).T}[case]
    x = rng.standard_normal((3, 2))
    got = np.asarray(kv.lambdify([X], E, backend=backend)(_convert(backend, x)))
    np.testing.assert_allclose(got, kv.evaluate(E, X=x), rtol=1e-10, atol=1e-12)
