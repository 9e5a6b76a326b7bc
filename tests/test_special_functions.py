"""The scipy.special functions: values and shapes against SciPy on every shape class, derivatives
against finite differences (with the adjoint dot-test of the bound maps), log_ndtr far into the
lower tail, xlogy at x = 0, printing and the command line's test values.

Derivatives of each op to second order on random shapes are also in
``tests/test_op_derivatives.py`` (its ``CASES``).
"""
from __future__ import annotations

import importlib

import numpy as np
import pytest
from scipy import special

import kronvec as kv
from kronvec.cli import main
from kronvec.parse import analyze, parse_expression
from kronvec.printing import to_latex, to_python
from kronvec.testing import check_jacobian, dottest, fd_jacobian


def _optional(name):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


jax, torch = _optional("jax"), _optional("torch")
if jax is not None:
    jax.config.update("jax_enable_x64", True)
BACKENDS = ["numpy"] + (["jax"] if jax is not None else []) + (["torch"] if torch is not None else [])
CONVERT = {"numpy": np.asarray, "jax": lambda x: jax.numpy.asarray(x),
           "torch": lambda x: torch.as_tensor(np.array(x))}

UNARY = ["gammaln", "digamma", "erf", "erfc", "ndtr", "log_ndtr", "logit"]
# the values each function is tested on: Γ and ψ on the positive axis, logit on (0, 1)
DOMAIN = {"gammaln": (0.2, 4.0), "digamma": (0.2, 4.0), "logit": (0.05, 0.95)}
SHAPES = [(1, 1), (1, 4), (4, 1), (3, 4), (2, 3, 4), (2, 2, 3, 2), (3, 1, 1)]


def _draw(rng, name, shape):
    low, high = DOMAIN.get(name, (-3.0, 3.0))
    return rng.uniform(low, high, shape)


def _mills(x):
    """φ(x)/Φ(x) for x ≪ 0 by the asymptotic series Φ(x) = φ(x)/|x| Σₖ (−1)ᵏ (2k − 1)!!/x²ᵏ
    (exact to rounding for x ≤ −40 with ten terms)."""
    total, term = 0.0, 1.0
    for k in range(10):
        total += term
        term *= -(2 * k + 1) / x ** 2
    return -x / total


def _log_ndtr_second(x):
    """d²/dx² log Φ(x) = −(φ/Φ)(x)(x + (φ/Φ)(x)) for x ≪ 0: −1 + 1/x² − 6/x⁴ + 50/x⁶ − ⋯."""
    return -1.0 + x ** -2 - 6.0 * x ** -4 + 50.0 * x ** -6


# ------------------------------------------------------------ values and shapes
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("name", UNARY)
def test_values_shapes_and_derivatives_on_every_shape_class(name, shape):
    rng = np.random.default_rng(len(shape) + sum(shape))
    X = kv.Matrix("X", shape)
    x = _draw(rng, name, shape)
    f = getattr(kv, name)(X)
    value = kv.evaluate(f, X=x)
    assert f.shape == value.shape == shape
    np.testing.assert_allclose(value, getattr(special, name)(x), rtol=1e-14, atol=1e-300)
    check_jacobian(f, X, {"X": x})
    gradient = kv.evaluate(kv.grad(kv.sum(f), X), X=x)
    assert gradient.shape == shape
    H = kv.hessian(kv.sum(f), X).at(X=x)
    dottest(H)
    np.testing.assert_allclose(H.to_dense(), fd_jacobian(kv.grad(kv.sum(f), X), X, {"X": x}),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_polygamma_on_every_shape_class(shape):
    rng = np.random.default_rng(1)
    X = kv.Matrix("X", shape)
    x = rng.uniform(0.5, 3.0, shape)
    for order in (1, 2, 3):
        f = kv.polygamma(order, X)
        np.testing.assert_allclose(kv.evaluate(f, X=x), special.polygamma(order, x), rtol=1e-13)
        check_jacobian(f, X, {"X": x}, rtol=1e-5)
    assert kv.polygamma(0, X) is kv.digamma(X)


@pytest.mark.parametrize("shape", [(1, 1), (1, 3), (3, 1), (3, 4), (2, 3, 4), (3, 1, 1)], ids=str)
@pytest.mark.parametrize("against", ["same", "column", "row", "scalar", "stack"])
def test_xlogy_broadcasts_as_numpy_and_differentiates_in_both_arguments(shape, against):
    rng = np.random.default_rng(2)
    other = {"same": shape, "column": shape[:-1] + (1,), "row": shape[:-2] + (1, shape[-1]),
             "scalar": (), "stack": (2,) + shape}[against]
    X, Y = kv.Matrix("X", shape), kv.Matrix("Y", other) if other else kv.Scalar("Y")
    x, y = rng.uniform(-2.0, 2.0, shape), rng.uniform(0.5, 2.0, other)
    values = {"X": x, "Y": y}
    for f, reference in ((kv.xlogy(X, Y), special.xlogy(x, y)),
                         (kv.xlogy(Y, X * X), special.xlogy(y, x * x))):
        value = kv.evaluate(f, values)
        assert f.shape == value.shape == reference.shape
        np.testing.assert_allclose(value, reference, rtol=1e-14)
        for wrt in (X, Y):
            check_jacobian(f, wrt, values)
            H = kv.hessian(kv.sum(f), wrt).at(values)
            dottest(H)
            np.testing.assert_allclose(H.to_dense(), fd_jacobian(kv.grad(kv.sum(f), wrt), wrt, values),
                                       rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("stack", [(3,), (2, 3)], ids=str)
@pytest.mark.parametrize("name", UNARY + ["xlogy"])
def test_functions_of_per_member_scalars(name, stack):
    """f(sᵢ) of per-member scalars of a stack B, (b,) or (b₁, b₂): sᵢ = det(Bᵢ) for one stack axis
    (the derivative of det of a stack with two stack axes is refused for now), the mean of the
    entries of Bᵢ for two; and the derivatives in B."""
    rng = np.random.default_rng(3)
    B = kv.Matrix("B", stack + (2, 2))
    b = 0.1 * rng.standard_normal(stack + (2, 2)) + np.eye(2) * (0.8 if name == "logit" else 1.2)
    if len(stack) == 1:
        s, s_value = kv.det(B), np.linalg.det(b)
    else:
        s, s_value = kv.sum(B, axis=(-2, -1)) / 4.0, b.sum(axis=(-2, -1)) / 4.0
    assert s.shape == stack
    if name == "xlogy":
        f, reference = kv.xlogy(s - 1.0, s), special.xlogy(s_value - 1.0, s_value)
    else:
        f, reference = getattr(kv, name)(s), getattr(special, name)(s_value)
    assert name != "logit" or np.all((s_value > 0) & (s_value < 1))
    value = kv.evaluate(f, B=b)
    assert f.shape == value.shape == stack
    np.testing.assert_allclose(value, reference, rtol=1e-13)
    check_jacobian(f, B, {"B": b})
    assert kv.evaluate(kv.grad(kv.sum(f), B), B=b).shape == stack + (2, 2)


@pytest.mark.parametrize("rank", [0, 1, 2, 3])
def test_constants_of_every_rank(rank):
    """NumPy constants of rank 0–3 on either side of xlogy and inside erf: NumPy's values and shapes
    (a 1-D constant next to a matrix is a column, as everywhere in kronvec)."""
    rng = np.random.default_rng(4)
    X = kv.Matrix("X", (3, 4))
    x = rng.uniform(-2.0, 2.0, (3, 4))
    c = rng.uniform(0.5, 2.0, {0: (), 1: (3,), 2: (3, 4), 3: (2, 3, 4)}[rank])
    c_numpy = c.reshape(-1, 1) if rank == 1 else c
    for f, reference in ((kv.xlogy(X, c), special.xlogy(x, c_numpy)),
                         (kv.xlogy(c, X * X), special.xlogy(c_numpy, x * x)),
                         (kv.erf(X * c), special.erf(x * c_numpy)),
                         (kv.log_ndtr(c - X), special.log_ndtr(c_numpy - x))):
        value = kv.evaluate(f, X=x)
        assert f.shape == value.shape == reference.shape
        np.testing.assert_allclose(value, reference, rtol=1e-14)
        check_jacobian(f, X, {"X": x})


def test_one_dimensional_constant_next_to_per_member_scalars():
    rng = np.random.default_rng(5)
    B = kv.Matrix("B", (3, 2, 2))
    b = 0.3 * rng.standard_normal((3, 2, 2)) + np.eye(2)
    w = rng.uniform(0.5, 2.0, 3)
    f = kv.xlogy(w, kv.det(B))
    assert f.shape == (3,)
    np.testing.assert_allclose(kv.evaluate(f, B=b), special.xlogy(w, np.linalg.det(b)))


# ------------------------------------------------------------------ log_ndtr tails
TAIL = np.array([[-40.0], [-1e3], [-1e5]])


def test_log_ndtr_and_its_gradient_far_into_the_lower_tail():
    """log Φ and φ/Φ at −40, −10³, −10⁵, where Φ underflows: exact to rounding, never NaN."""
    x = kv.Vector("x", 3)
    f = kv.sum(kv.log_ndtr(x))
    np.testing.assert_allclose(kv.evaluate(kv.log_ndtr(x), x=TAIL), special.log_ndtr(TAIL), rtol=1e-14)
    reference = np.array([[_mills(t)] for t in TAIL[:, 0]])
    gradient = kv.evaluate(kv.grad(f, x), x=TAIL)
    np.testing.assert_allclose(gradient, reference, rtol=1e-14)
    L = kv.jacobian(kv.log_ndtr(x), x).at(x=TAIL)
    dottest(L)
    np.testing.assert_allclose(np.diag(L.to_dense()), reference[:, 0], rtol=1e-14)
    generated = kv.lambdify([x], kv.grad(f, x))
    np.testing.assert_allclose(generated(TAIL), reference, rtol=1e-14)


def test_log_ndtr_hessian_in_the_lower_tail():
    """d² log Φ = −(φ/Φ)(x + φ/Φ): finite, with the relative error of the cancellation in
    x + φ/Φ (about x²ε: 10⁻¹³ at −40, 10⁻¹⁰ at −10³)."""
    x = kv.Vector("x", 2)
    H = kv.hessian(kv.sum(kv.log_ndtr(x)), x).at(x=TAIL[:2])
    dottest(H)
    diagonal = np.diag(H.to_dense())
    np.testing.assert_allclose(diagonal, [_log_ndtr_second(t) for t in TAIL[:2, 0]], rtol=1e-8)


def test_log_ndtr_in_the_upper_tail_and_at_zero():
    """At 40 φ underflows: the gradient is 0 (not 0/1 computed as NaN); at 0 it is φ(0)/Φ(0) = 2φ(0)."""
    x = kv.Vector("x", 3)
    points = np.array([[40.0], [1e3], [0.0]])
    gradient = kv.evaluate(kv.grad(kv.sum(kv.log_ndtr(x)), x), x=points)
    np.testing.assert_allclose(gradient[:, 0], [0.0, 0.0, 2.0 / np.sqrt(2.0 * np.pi)], rtol=1e-15)
    H = kv.hessian(kv.sum(kv.log_ndtr(x)), x).at(x=points).to_dense()
    assert np.all(np.isfinite(H))


@pytest.mark.parametrize("backend", BACKENDS)
def test_generated_log_ndtr_gradient_in_the_tail(backend):
    x = kv.Vector("x", 3)
    fn = kv.lambdify([x], kv.grad(kv.sum(kv.log_ndtr(x)), x), backend)
    out = np.asarray(fn(CONVERT[backend](TAIL)))
    np.testing.assert_allclose(out, [[_mills(t)] for t in TAIL[:, 0]], rtol=1e-12)


# ------------------------------------------------------------------------- xlogy at 0
def test_xlogy_at_x_zero():
    """xlogy(0, y) = 0 for every y ≥ 0 (SciPy's value), so its derivative in y is 0 there, and its
    second derivative in y too: never 0·∞ = NaN; its derivative in x is log y."""
    X, Y = kv.Matrix("X", (1, 3)), kv.Matrix("Y", (1, 3))
    values = {"X": np.zeros((1, 3)), "Y": np.array([[0.0, 0.5, 2.0]])}
    f = kv.sum(kv.xlogy(X, Y))
    np.testing.assert_array_equal(kv.evaluate(kv.xlogy(X, Y), values), [[0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(kv.evaluate(kv.grad(f, Y), values), [[0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(kv.hessian(f, Y).at(values).to_dense(), np.zeros((3, 3)))
    with np.errstate(divide="ignore"):  # log 0 = −∞: the derivative in x at y = 0
        np.testing.assert_array_equal(kv.evaluate(kv.grad(f, X), values), np.log(values["Y"]))
    for backend in BACKENDS:
        generated = kv.lambdify([X, Y], kv.grad(f, Y), backend)
        out = generated(CONVERT[backend](values["X"]), CONVERT[backend](values["Y"]))
        np.testing.assert_array_equal(np.asarray(out), [[0.0, 0.0, 0.0]])


def test_xlogy_derivative_in_y_is_x_over_y_away_from_zero():
    X, Y = kv.Matrix("X", (2, 2)), kv.Matrix("Y", (2, 2))
    values = {"X": np.array([[0.0, -1.5], [2.0, 0.25]]), "Y": np.array([[1e-300, 0.5], [3.0, 0.1]])}
    expected = np.where(values["X"] == 0, 0.0, values["X"] / values["Y"])
    np.testing.assert_array_equal(kv.evaluate(kv.grad(kv.sum(kv.xlogy(X, Y)), Y), values), expected)


# ---------------------------------------------------------------- names, printing, parsing
def test_simplifications_and_refusals():
    X = kv.Matrix("X", (2, 3))
    assert kv.logit(kv.sigmoid(X)) is X
    with pytest.raises(ValueError, match="polygamma"):
        kv.polygamma(-1, X)
    with pytest.raises(ValueError, match="polygamma"):
        kv.polygamma(1.5, X)
    with pytest.raises(kv.ShapeError, match=r"xlogy.*\(2, 3\).*\(3, 2\)"):
        kv.xlogy(X, X.T)


@pytest.mark.parametrize(("build", "unicode", "latex"), [
    (lambda X, b: kv.gammaln(X), "logΓ(X)", r"\log\Gamma\left(X\right)"),
    (lambda X, b: kv.digamma(X), "ψ(X)", r"\psi\left(X\right)"),
    (lambda X, b: kv.polygamma(2, X), "ψ⁽²⁾(X)", r"\psi^{(2)}\left(X\right)"),
    (lambda X, b: kv.erf(X), "erf(X)", r"\operatorname{erf}\left(X\right)"),
    (lambda X, b: kv.erfc(X), "erfc(X)", r"\operatorname{erfc}\left(X\right)"),
    (lambda X, b: kv.ndtr(X), "Φ(X)", r"\Phi\left(X\right)"),
    (lambda X, b: kv.log_ndtr(X), "logΦ(X)", r"\log\Phi\left(X\right)"),
    (lambda X, b: kv.logit(X), "logit(X)", r"\operatorname{logit}\left(X\right)"),
    (lambda X, b: kv.xlogy(X, b), "xlogy(X, b𝟙ᵀ)", r"\operatorname{xlogy}"),
])
def test_printing_and_parsing_back(build, unicode, latex):
    X, b = kv.Matrix("X", (3, 2)), kv.Vector("b", 3)
    e = build(X, b)
    assert str(e) == unicode
    assert to_latex(e).startswith(latex)
    assert parse_expression(to_python(e), {"X": (3, 2), "b": (3, 1)}, kv) is e


def test_printed_derivatives():
    X, Y = kv.Matrix("X", (3, 2)), kv.Matrix("Y", (3, 2))
    assert str(kv.grad(kv.sum(kv.gammaln(X)), X)) == "ψ(X)"
    assert str(kv.grad(kv.sum(kv.digamma(X)), X)) == "ψ⁽¹⁾(X)"
    assert str(kv.grad(kv.sum(kv.log_ndtr(X)), X)) == "(φ/Φ)(X)"
    assert str(kv.grad(kv.sum(kv.logit(X)), X)) == "(X ⊙ (𝟙 - X))∘⁻¹"
    assert str(kv.grad(kv.sum(kv.xlogy(X, Y)), Y)) == "xdivy(X, Y)"


def test_command_line_checks_logit_on_its_domain(capsys):
    """logit's argument gets test values in (0, 1): the check runs instead of finding no point."""
    assert analyze("sum(logit(X))", {"X": (3, 2)}).unit == frozenset({"X"})
    assert main(["derive", "sum(logit(X))", "--wrt", "X", "--shape", "X=3x2", "--check"]) == 0
    assert "passed" in capsys.readouterr().out
    assert main(["derive", "sum(xlogy(X, Y) + gammaln(Y))", "--wrt", "Y", "--shape", "X=3x2",
                 "--shape", "Y=3x2", "--check"]) == 0
