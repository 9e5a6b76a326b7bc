"""kv.jax_function and kv.torch_function: values, derivatives of every order, transforms, the tie case.

Each framework's tests are skipped only when its library is missing.  The
references are kronvec's own evaluation and bound maps and central finite
differences of the function itself.
"""
from __future__ import annotations

import importlib
import importlib.util

import numpy as np
import pytest

import kronvec as kv
from kronvec import lazy
from kronvec.frameworks import rules

HAS_JAX = importlib.util.find_spec("jax") is not None
HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_jax = pytest.mark.skipif(not HAS_JAX, reason="JAX is not installed")
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed")

RNG_SEED = 7


def fd(fun, x: np.ndarray, direction: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """Central difference of the NumPy-valued ``fun`` at x along ``direction``."""
    h = eps * max(1.0, float(np.max(np.abs(x))))
    return (np.asarray(fun(x + h * direction)) - np.asarray(fun(x - h * direction))) / (2 * h)


def rotated(eigenvalues) -> np.ndarray:
    """Q diag(eigenvalues) Qᵀ for a fixed random rotation Q."""
    q = np.linalg.qr(np.random.default_rng(3).standard_normal((len(eigenvalues),) * 2))[0]
    return q @ np.diag(eigenvalues) @ q.T


def cases():
    """(name, args, outputs, values) of the functions compared below."""
    rng = np.random.default_rng(RNG_SEED)
    n, m = 5, 3
    X, V = kv.Matrix("X", (n, m)), kv.Matrix("V", (n, n))
    K = kv.Matrix("K", (n, n), positive_definite=True)
    y = kv.Vector("y", n)
    A = kv.Matrix("A", (3, 3))
    t = kv.Scalar("t")
    R = rng.standard_normal((n, n))
    values = {"X": rng.standard_normal((n, m)), "V": rng.standard_normal((n, n)) + 4 * np.eye(n),
              "K": R @ R.T + n * np.eye(n), "y": rng.standard_normal((n, 1)),
              "A": rng.standard_normal((3, 3)) + 3 * np.eye(3), "t": np.array(0.7)}
    gp = -0.5 * (y.T @ kv.inv(K) @ y) - 0.5 * kv.logdet(K)
    return [
        ("gls", [X, V], kv.inv(X.T @ kv.inv(V) @ X), values),
        ("gp", [K, y], gp, values),
        ("several", [K, y], (gp, kv.grad(gp, K)), values),
        ("logdet", [A], kv.logdet(A @ A.T), values),
        ("scalar arg", [A, t], kv.logdet(A + t * (A.T @ A)), values),
        ("sqrtm", [K], kv.sqrtm(K), values),
    ]


CASES = cases()
IDS = [c[0] for c in CASES]


def _sym(a: np.ndarray, symbol) -> np.ndarray:
    return (a + a.T) / 2 if symbol.params.symmetric and a.ndim == 2 and a.shape[0] > 1 else a


# ------------------------------------------------------------------------------------ JAX
@needs_jax
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_jax_values_and_first_order(jax64, case):
    jax, jnp = jax64, jax64.numpy
    name, args, outputs, values = case
    f = kv.jax_function(args, outputs)
    xs = [jnp.asarray(values[a.params.name]) for a in args]
    outs = f(*xs)
    several = isinstance(outputs, tuple)
    expected = kv.evaluate(list(outputs) if several else outputs, values)
    for got, want in zip(outs if several else (outs,), expected if several else (expected,)):
        assert got.shape == rules.value_shape(np.shape(want))  # a scalar or 1×1 output is 0-d
        np.testing.assert_allclose(got, np.reshape(want, got.shape), rtol=1e-10, atol=1e-12)
    rng = np.random.default_rng(1)
    tangents = [jnp.asarray(rng.standard_normal(np.shape(x))) for x in xs]
    _, touts = jax.jvp(f, tuple(xs), tuple(tangents))
    for k, out in enumerate(outputs if several else (outputs,)):
        want = sum(np.asarray(kv.jacobian(out, a).at(values).jvp(_sym(np.asarray(h), a)))
                   for a, h in zip(args, tangents) if a in kv.evaluation.symbol_table([out]).values())
        got = touts[k] if several else touts
        np.testing.assert_allclose(got, np.reshape(want, np.shape(got)), rtol=1e-8, atol=1e-10)
        # and against finite differences of the function itself
        for i in range(len(args)):
            def along(v, i=i, k=k):
                out = f(*[jnp.asarray(v) if j == i else x for j, x in enumerate(xs)])
                return out[k] if several else out
            want_fd = fd(along, np.asarray(xs[i]), np.asarray(tangents[i]))
            got_i = jax.jvp(lambda v, i=i, k=k: along(v), (xs[i],), (tangents[i],))[1]
            np.testing.assert_allclose(got_i, want_fd, rtol=1e-5, atol=1e-7)


@needs_jax
def test_jax_grad_and_hessian_are_kronvecs(jax64):
    jax, jnp = jax64, jax64.numpy
    A = kv.Matrix("A", (3, 3))
    f = kv.logdet(A @ A.T) + kv.trace(kv.inv(A))
    a0 = np.random.default_rng(0).standard_normal((3, 3)) + 3 * np.eye(3)
    fun = kv.jax_function([A], f)
    np.testing.assert_allclose(jax.grad(fun)(jnp.asarray(a0)), kv.evaluate(kv.grad(f, A), A=a0), rtol=1e-10)
    hess = jax.jit(jax.hessian(fun))(jnp.asarray(a0))
    want = kv.hessian(f, A).at(A=a0).to_tensor()
    np.testing.assert_allclose(hess, want, rtol=1e-9, atol=1e-12)
    forward_forward = jax.jit(jax.jacfwd(jax.jacfwd(fun)))
    np.testing.assert_allclose(forward_forward(jnp.asarray(a0)), want, rtol=1e-9, atol=1e-12)
    d = np.random.default_rng(2).standard_normal((3, 3))
    grad = jax.jit(jax.grad(fun))
    np.testing.assert_allclose(np.tensordot(hess, d, 2), fd(lambda v: grad(jnp.asarray(v)), a0, d),
                               rtol=1e-6, atol=1e-8)


@needs_jax
def test_jax_third_order_against_finite_differences(jax64):
    jax, jnp = jax64, jax64.numpy
    K = kv.Matrix("K", (3, 3), positive_definite=True)
    fun = kv.jax_function([K], kv.trace(kv.sqrtm(K)) + kv.logdet(K))
    k0 = rotated([1.0, 2.0, 4.0])
    third = jax.jit(jax.jacfwd(jax.hessian(fun)))(jnp.asarray(k0))
    assert third.shape == (3,) * 6
    d = np.random.default_rng(5).standard_normal((3, 3))
    d = (d + d.T) / 2
    hessian = jax.jit(jax.hessian(fun))
    want = fd(lambda v: hessian(jnp.asarray(v)), k0, d, eps=1e-5)
    np.testing.assert_allclose(np.tensordot(third, d, 2), want, rtol=1e-5, atol=1e-7)


@needs_jax
def test_jax_jit_vmap_stacks_and_linear_transpose(jax64):
    jax, jnp = jax64, jax64.numpy
    X, V = kv.Matrix("X", (5, 3)), kv.Matrix("V", (5, 5))
    F = kv.inv(X.T @ kv.inv(V) @ X)
    f = kv.jax_function([X, V], F)
    rng = np.random.default_rng(4)
    xs = rng.standard_normal((2, 4, 5, 3))
    v0 = rng.standard_normal((5, 5)) + 4 * np.eye(5)
    loop = np.array([[kv.evaluate(F, X=xs[i, j], V=v0) for j in range(4)] for i in range(2)])
    np.testing.assert_allclose(jax.jit(f)(xs[0, 0], v0), loop[0, 0], rtol=1e-10)
    np.testing.assert_allclose(jax.vmap(f, in_axes=(0, None))(xs[0], v0), loop[0], rtol=1e-10)
    np.testing.assert_allclose(f(xs, v0), loop, rtol=1e-10)  # two stack axes, V broadcast
    np.testing.assert_allclose(jax.jit(jax.vmap(jax.grad(lambda x: jnp.sum(f(x, v0)))))(xs[0]),
                               [kv.evaluate(kv.grad(kv.sum(F), X), X=x, V=v0) for x in xs[0]], rtol=1e-9)
    # the JVP is linear in the tangent and JAX transposes it: vjp and linear_transpose
    _, vjp = jax.vjp(f, jnp.asarray(xs[0, 0]), jnp.asarray(v0))
    g = rng.standard_normal((3, 3))
    J = kv.jacobian(F, V).at(X=xs[0, 0], V=v0)
    np.testing.assert_allclose(vjp(jnp.asarray(g))[1], J.vjp(g), rtol=1e-9)
    lin = lambda h: jax.jvp(lambda v: f(xs[0, 0], v), (jnp.asarray(v0),), (h,))[1]
    transposed = jax.linear_transpose(lin, jnp.zeros((5, 5)))
    np.testing.assert_allclose(transposed(jnp.asarray(g))[0], J.vjp(g), rtol=1e-9)


@needs_jax
def test_jax_composes_with_jax_numpy_on_both_sides(jax64):
    jax, jnp = jax64, jax64.numpy
    K = kv.Matrix("K", (4, 4), positive_definite=True)
    y = kv.Vector("y", 4)
    nll = kv.jax_function([K, y], 0.5 * (y.T @ kv.inv(K) @ y) + 0.5 * kv.logdet(K))
    rng = np.random.default_rng(6)
    pts, y0 = rng.standard_normal((4, 2)), rng.standard_normal((4, 1))

    def loss(log_scale):  # native code before (an RBF kernel) and after (a square)
        k = jnp.exp(log_scale) * jnp.exp(-jnp.sum((pts[:, None] - pts[None]) ** 2, -1)) + jnp.eye(4)
        return nll(k, y0) ** 2

    def native(log_scale):
        k = jnp.exp(log_scale) * jnp.exp(-jnp.sum((pts[:, None] - pts[None]) ** 2, -1)) + jnp.eye(4)
        return (0.5 * y0.T @ jnp.linalg.solve(k, y0) + 0.5 * jnp.linalg.slogdet(k)[1])[0, 0] ** 2

    for transform in (lambda g: g, jax.grad, lambda g: jax.grad(jax.grad(g))):
        np.testing.assert_allclose(jax.jit(transform(loss))(0.3), jax.jit(transform(native))(0.3), rtol=1e-8)


@needs_jax
def test_jax_tie_case_is_exact_where_jaxs_own_derivative_is_nan(jax64):
    """sqrtm at eigenvalues (1, 1, 4): JAX differentiating eigh gives NaN, kronvec the exact Fréchet map."""
    jax, jnp = jax64, jax64.numpy
    S = kv.Matrix("S", (3, 3), positive_definite=True)
    W = np.arange(9.0).reshape(3, 3) / 9
    f = kv.trace(kv.Constant(W) @ kv.sqrtm(S))
    s0 = rotated([1.0, 1.0, 4.0])

    def own(s):
        lam, u = jnp.linalg.eigh(s)
        return jnp.trace(W @ (u * jnp.sqrt(lam)) @ u.T)

    assert np.isnan(np.asarray(jax.grad(own)(jnp.asarray(s0)))).any()
    g = jax.grad(kv.jax_function([S], f))(jnp.asarray(s0))
    np.testing.assert_allclose(g, kv.evaluate(kv.grad(f, S), S=s0), rtol=1e-10)
    d = np.random.default_rng(8).standard_normal((3, 3))
    d = (d + d.T) / 2
    np.testing.assert_allclose(np.sum(g * d), fd(lambda v: kv.evaluate(f, S=v), s0, d), rtol=1e-7)
    # forward over forward is kronvec's at every order (reverse mode linearizes the JVP code,
    # whose eigendecomposition JAX then differentiates itself)
    grad = jax.jit(jax.grad(kv.jax_function([S], f)))
    hd = fd(lambda v: grad(jnp.asarray(v)), s0, d)
    hess = jax.jit(jax.jacfwd(jax.jacfwd(kv.jax_function([S], f))))(jnp.asarray(s0))
    np.testing.assert_allclose(np.tensordot(hess, d, 2), hd, rtol=1e-6, atol=1e-8)
    want = kv.hessian(f, S).at(S=s0).to_tensor()  # on symmetric directions: symmetrize its input side
    np.testing.assert_allclose(hess, (want + want.transpose(0, 1, 3, 2)) / 2, rtol=1e-9, atol=1e-12)


@needs_jax
def test_jax_float32(jax64):
    jax, jnp = jax64, jax64.numpy
    A = kv.Matrix("A", (3, 3))
    f = kv.jax_function([A], kv.inv(A) @ A.T)
    a0 = np.random.default_rng(9).standard_normal((3, 3)).astype(np.float32) + 3 * np.eye(3, dtype=np.float32)
    out = f(jnp.asarray(a0))
    assert out.dtype == jnp.float32
    np.testing.assert_allclose(out, kv.evaluate(kv.inv(A) @ A.T, A=a0.astype(float)), rtol=1e-4)
    assert jax.jacrev(f)(jnp.asarray(a0)).dtype == jnp.float32


# ---------------------------------------------------------------------------------- PyTorch
@pytest.fixture
def torch():
    return pytest.importorskip("torch")


@needs_torch
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_torch_values_gradcheck_and_gradgradcheck(torch, case):
    name, args, outputs, values = case
    f = kv.torch_function(args, outputs)
    xs = [torch.tensor(values[a.params.name], dtype=torch.float64, requires_grad=True) for a in args]
    several = isinstance(outputs, tuple)
    outs = f(*xs)
    expected = kv.evaluate(list(outputs) if several else outputs, values)
    for got, want in zip(outs if several else (outs,), expected if several else (expected,)):
        assert tuple(got.shape) == rules.value_shape(np.shape(want))
        np.testing.assert_allclose(got.detach().numpy(), np.reshape(want, got.shape), rtol=1e-10, atol=1e-12)
    assert torch.autograd.gradcheck(f, tuple(xs), check_forward_ad=True)
    assert torch.autograd.gradgradcheck(f, tuple(xs))
    # the VJP is kronvec's adjoint map
    for k, out in enumerate(outputs if several else (outputs,)):
        o = outs[k] if several else outs
        g = torch.tensor(np.random.default_rng(k).standard_normal(tuple(o.shape)))
        grads = torch.autograd.grad(o, xs, g, retain_graph=True, allow_unused=True)
        for a, got in zip(args, grads):
            if a in kv.evaluation.symbol_table([out]).values():
                want = kv.jacobian(out, a).at(values).vjp(np.reshape(g.numpy(), out.shape))
                np.testing.assert_allclose(got.numpy(), _sym(np.reshape(want, got.shape), a),
                                           rtol=1e-8, atol=1e-10)


@needs_torch
def test_torch_func_transforms_and_hessian(torch):
    A = kv.Matrix("A", (3, 3))
    f = kv.logdet(A @ A.T) + kv.trace(kv.inv(A))
    a0 = np.random.default_rng(0).standard_normal((3, 3)) + 3 * np.eye(3)
    fun, x = kv.torch_function([A], f), torch.tensor(a0)
    grad = kv.evaluate(kv.grad(f, A), A=a0)
    hess = kv.hessian(f, A).at(A=a0).to_tensor()
    np.testing.assert_allclose(torch.func.grad(fun)(x).numpy(), grad, rtol=1e-10)
    for second in (torch.func.jacrev, torch.func.jacfwd):
        np.testing.assert_allclose(second(torch.func.grad(fun))(x).numpy(), hess, rtol=1e-9, atol=1e-12)
    d = torch.tensor(np.random.default_rng(1).standard_normal((3, 3)))
    np.testing.assert_allclose(torch.func.jvp(fun, (x,), (d,))[1].item(), np.sum(grad * d.numpy()),
                               rtol=1e-10)
    np.testing.assert_allclose(torch.func.vjp(fun, x)[1](torch.tensor(2.0, dtype=torch.float64))[0].numpy(),
                               2 * grad, rtol=1e-10)
    stack = torch.stack([x, 2 * x, x.T])
    want = [kv.evaluate(f, A=v) for v in stack.numpy()]
    np.testing.assert_allclose(torch.func.vmap(fun)(stack).numpy(), want, rtol=1e-10)
    np.testing.assert_allclose(fun(stack.reshape(3, 1, 3, 3)).numpy().ravel(), want, rtol=1e-10)
    np.testing.assert_allclose(torch.func.vmap(torch.func.grad(fun))(stack).numpy(),
                               [kv.evaluate(kv.grad(f, A), A=v) for v in stack.numpy()], rtol=1e-9)
    # third order: the derivative of kronvec's Hessian against finite differences of it
    third = torch.func.jacfwd(torch.func.jacrev(torch.func.grad(fun)))(x).numpy()
    hess_at = lambda v: torch.func.jacrev(torch.func.grad(fun))(torch.tensor(v)).numpy()
    np.testing.assert_allclose(np.tensordot(third, d.numpy(), 2), fd(hess_at, a0, d.numpy()),
                               rtol=1e-5, atol=1e-7)


@needs_torch
def test_torch_tie_case_and_composition(torch):
    """sqrtm at eigenvalues (1, 1, 4): PyTorch differentiating eigh is wrong or NaN, kronvec exact."""
    S = kv.Matrix("S", (3, 3), positive_definite=True)
    W = np.arange(9.0).reshape(3, 3) / 9
    f = kv.trace(kv.Constant(W) @ kv.sqrtm(S))
    s0 = rotated([1.0, 1.0, 4.0])
    want = kv.evaluate(kv.grad(f, S), S=s0)

    def own(s):
        lam, u = torch.linalg.eigh(s)
        return torch.trace(torch.tensor(W) @ (u * lam.sqrt()) @ u.T)

    own_grad = torch.func.grad(own)(torch.tensor(s0)).numpy()
    assert not (np.isfinite(own_grad).all() and np.allclose(own_grad, want, rtol=1e-3))
    ours = kv.torch_function([S], f)
    np.testing.assert_allclose(torch.func.grad(ours)(torch.tensor(s0)).numpy(), want, rtol=1e-10)
    assert torch.autograd.gradgradcheck(ours, (torch.tensor(s0, requires_grad=True),))
    # native code before and after kronvec's square root, at a tie again: eigenvalues (1/4, 1/4, 4)
    root = kv.torch_function([S], kv.sqrtm(S))
    b = torch.tensor(s0, requires_grad=True)
    loss = torch.sum(torch.tensor(W) * root(b @ b.T / 4)) ** 2
    (g,) = torch.autograd.grad(loss, b)
    d = np.random.default_rng(3).standard_normal((3, 3))

    def value(v):
        m = v @ v.T / 4
        return float(np.sum(W * kv.evaluate(kv.sqrtm(S), S=(m + m.T) / 2)) ** 2)

    np.testing.assert_allclose(np.sum(g.numpy() * d), fd(value, s0, d), rtol=1e-7)


@needs_torch
def test_torch_float32(torch):
    A = kv.Matrix("A", (3, 3))
    f = kv.torch_function([A], kv.inv(A) @ A.T)
    a0 = torch.tensor(np.random.default_rng(9).standard_normal((3, 3)) + 3 * np.eye(3), dtype=torch.float32)
    out = f(a0)
    assert out.dtype == torch.float32
    assert torch.func.jacrev(f)(a0).dtype == torch.float32


# ------------------------------------------------------------------------------ ImportError
@pytest.mark.parametrize("make, module, extra", [(kv.jax_function, "jax", "kronvec[jax]"),
                                                 (kv.torch_function, "torch", "kronvec[torch]")])
def test_missing_library_names_the_extra(monkeypatch, make, module, extra):
    real = importlib.import_module

    def without(name, *rest):
        if name == module or name.startswith(module + "."):
            raise ImportError(f"No module named {name!r}")
        return real(name, *rest)

    monkeypatch.setattr(lazy.importlib, "import_module", without)  # the one place that imports by name
    A = kv.Matrix("A", (2, 2))
    with pytest.raises(ImportError, match=extra.replace("[", r"\[").replace("]", r"\]")):
        make([A], kv.inv(A))


@needs_jax
def test_jax_every_order_is_kronvecs_in_reverse_mode_too(jax64):
    """jax.hessian (forward over reverse) and jacrev(jacrev) at repeated eigenvalues: kronvec's second
    derivative of the square root (finite, exact), where differentiating eigh gives NaN; and the third
    order of one case against finite differences of kronvec's Hessian."""
    jax, jnp = jax64, jax64.numpy
    S = kv.Matrix("S", (3, 3), positive_definite=True)
    W = np.arange(9.0).reshape(3, 3) / 9
    f = kv.trace(kv.Constant(W) @ kv.sqrtm(S))
    s0 = rotated([1.0, 1.0, 4.0])
    fun = kv.jax_function([S], f)
    want = kv.hessian(f, S).at(S=s0).to_tensor()
    want = (want + want.transpose(0, 1, 3, 2)) / 2  # tangents act as (H + Hᵀ)/2
    want = (want + want.transpose(1, 0, 2, 3)) / 2  # and so do the gradient's
    for second in (jax.hessian, lambda g: jax.jacrev(jax.jacrev(g)), lambda g: jax.jacfwd(jax.jacrev(g))):
        hess = jax.jit(second(fun))(jnp.asarray(s0))
        assert np.isfinite(np.asarray(hess)).all()
        np.testing.assert_allclose(hess, want, rtol=1e-9, atol=1e-12)
    d = np.random.default_rng(8).standard_normal((3, 3))
    d = (d + d.T) / 2
    grad = jax.jit(jax.grad(fun))
    np.testing.assert_allclose(np.tensordot(jax.hessian(fun)(jnp.asarray(s0)), d, 2),
                               fd(lambda v: grad(jnp.asarray(v)), s0, d), rtol=1e-6, atol=1e-8)
    # the third order: reverse over forward over reverse, against finite differences of the Hessian
    A = kv.Matrix("A", (3, 3))
    g = kv.logdet(A @ A.T) + kv.trace(kv.inv(A))
    a0 = np.random.default_rng(0).standard_normal((3, 3)) + 3 * np.eye(3)
    gfun = kv.jax_function([A], g)
    third = jax.jit(jax.jacrev(jax.hessian(gfun)))(jnp.asarray(a0))
    hessian = jax.jit(jax.hessian(gfun))
    e = np.random.default_rng(9).standard_normal((3, 3))
    along = fd(lambda v: hessian(jnp.asarray(v)), a0, e, eps=1e-5)
    np.testing.assert_allclose(np.tensordot(third, e, 2), along, rtol=1e-5, atol=1e-7)


@needs_torch
def test_torch_second_order_at_a_tie_is_kronvecs_through_every_transform(torch):
    """torch.func.hessian and jacrev(jacrev) of a fresh function (its derivative Functions made inside
    the transforms) and double backward, at eigenvalues (1, 1, 4): kronvec's exact second derivative."""
    S = kv.Matrix("S", (3, 3), positive_definite=True)
    W = np.arange(9.0).reshape(3, 3) / 9
    f = kv.trace(kv.Constant(W) @ kv.sqrtm(S))
    s0 = rotated([1.0, 1.0, 4.0])
    want = kv.hessian(f, S).at(S=s0).to_tensor()
    want = (want + want.transpose(0, 1, 3, 2)) / 2
    want = (want + want.transpose(1, 0, 2, 3)) / 2
    for second in (torch.func.hessian, lambda g: torch.func.jacrev(torch.func.jacrev(g))):
        hess = second(kv.torch_function([S], f))(torch.tensor(s0)).numpy()
        np.testing.assert_allclose(hess, want, rtol=1e-9, atol=1e-12)
    x = torch.tensor(s0, requires_grad=True)
    (g,) = torch.autograd.grad(kv.torch_function([S], f)(x), x, create_graph=True)
    rows = [torch.autograd.grad(g.reshape(-1)[k], x, retain_graph=True)[0].numpy() for k in range(9)]
    np.testing.assert_allclose(np.reshape(rows, (3, 3, 3, 3)), want, rtol=1e-9, atol=1e-12)


@needs_jax
def test_jax_float32_values_with_float64_constants(jax64):
    """A constant of the expression (float64) does not promote float32 values: jit and grad lower."""
    jax, jnp = jax64, jax64.numpy
    S = kv.Matrix("S", (3, 3), positive_definite=True)
    W = np.arange(9.0).reshape(3, 3) / 9
    f = kv.jax_function([S], kv.trace(kv.Constant(W) @ kv.sqrtm(S)))
    s0 = jnp.asarray(rotated([1.0, 2.0, 4.0]), jnp.float32)
    g = jax.jit(jax.grad(f))(s0)
    assert g.dtype == jnp.float32 and f(s0).dtype == jnp.float32
    want = kv.evaluate(kv.grad(kv.trace(kv.Constant(W) @ kv.sqrtm(S)), S), S=np.asarray(s0, float))
    np.testing.assert_allclose(g, want, rtol=1e-4, atol=1e-5)
