"""Closed forms: the seed results print in their textbook form.

Comparisons are on structure, not whitespace: strings are compared with
spaces removed, and Jacobians by their term count and factor expressions.
"""
from __future__ import annotations

import numpy as np
import pytest

import kronvec as kv
from kronvec.maps import KronMap


def squash(text: str) -> str:
    return "".join(str(text).split())


@pytest.fixture
def gls():
    X, V = kv.Matrix("X", (6, 3)), kv.Matrix("V", (6, 6))
    return X, V, kv.inv(X.T @ kv.inv(V) @ X)


def test_gls_jacobian_is_one_kronecker_term(gls):
    X, V, F = gls
    J = kv.jacobian(F, V)
    assert J.nterms == len(J.terms) == 1
    term = J.terms[0]
    assert isinstance(term, KronMap)
    W = kv.inv(V) @ X @ F
    assert term.B is W
    assert term.A is F @ X.T @ kv.inv(V)


def test_gls_jacobian_prints_with_the_given_name(gls):
    X, V, F = gls
    J = kv.jacobian(F.named("F"), V)
    assert squash(J) == squash("(V⁻¹XF)ᵀ ⊗ (FXᵀV⁻¹)")
    assert squash(J.differential()) == squash("dF = F Xᵀ V⁻¹ dV V⁻¹ X F")
    assert squash(J.latex()) == squash(
        r"\left(V^{-1} X F\right)^{\top} \otimes \left(F X^{\top} V^{-1}\right)")
    assert J._repr_latex_().startswith("$")


def test_gls_steps_read_like_a_hand_derivation(gls):
    X, V, F = gls
    lines = [squash(line) for line in kv.jacobian(F.named("F"), V).steps().splitlines()]
    for expected in ["P = V⁻¹", "M = XᵀPX", "F = M⁻¹", "dP = -P dV P", "dM = Xᵀ dP X",
                     "dF = -F dM F", "dF = F Xᵀ V⁻¹ dV V⁻¹ X F",
                     "vec dF = ((V⁻¹XF)ᵀ ⊗ (FXᵀV⁻¹)) vec dV"]:
        assert squash(expected) in lines, (expected, lines)


@pytest.mark.parametrize("build,expected", [
    (lambda X, a, b, A, B: a.T @ kv.inv(X) @ b, "-X⁻ᵀabᵀX⁻ᵀ"),
    (lambda X, a, b, A, B: kv.trace(kv.inv(X)), "-(X⁻²)ᵀ"),
    (lambda X, a, b, A, B: kv.trace(kv.matrix_power(X, 3)), "3(X²)ᵀ"),
    (lambda X, a, b, A, B: kv.trace(A @ X @ B), "AᵀBᵀ"),
    (lambda X, a, b, A, B: kv.logdet(X), "X⁻ᵀ"),
    (lambda X, a, b, A, B: kv.det(X), "det(X) X⁻ᵀ"),
    (lambda X, a, b, A, B: a.T @ X @ b, "abᵀ"),
    (lambda X, a, b, A, B: kv.trace(X.T @ A @ X), "(A + Aᵀ)X"),
])
def test_seed_gradients_print_short(build, expected):
    n = 4
    X, A, B = kv.Matrix("X", (n, n)), kv.Matrix("A", (n, n)), kv.Matrix("B", (n, n))
    a, b = kv.Vector("a", n), kv.Vector("b", n)
    assert squash(kv.grad(build(X, a, b, A, B), X)) == squash(expected)


def test_least_squares_and_logdet_gram_gradients_print_short():
    A, x, b = kv.Matrix("A", (5, 3)), kv.Vector("x", 3), kv.Vector("b", 5)
    r = A @ x - b
    assert squash(kv.grad(r.T @ r, x)) == squash("2Aᵀ(Ax - b)")
    X = kv.Matrix("X", (5, 3))
    assert squash(kv.grad(kv.logdet(X.T @ X), X)) == squash("2X(XᵀX)⁻¹")


def test_symmetric_gradient_prints_without_transposes():
    V = kv.Matrix("V", (4, 4), symmetric=True)
    assert squash(kv.grad(kv.logdet(V), V)) == "V⁻¹"


def test_repeated_factors_print_as_powers():
    X = kv.Matrix("X", (3, 3))
    assert str(kv.inv(X) @ kv.inv(X)) == "X⁻²"
    assert str(X @ X @ X) == "X³"


def test_transposes_pushed_to_the_leaves_and_inverses_canonical():
    A, B = kv.Matrix("A", (3, 2)), kv.Matrix("B", (2, 3))
    assert (A @ B).T is B.T @ A.T
    assert kv.inv(A @ B).T is kv.inv(B.T @ A.T)
    assert kv.inv(kv.inv(A @ B)) is A @ B
    assert (A.T).T is A
    assert kv.inv(A @ B) @ (A @ B) is kv.eye(3)
    assert squash(kv.inv(A @ B).T) == squash("(BᵀAᵀ)⁻¹")


def test_equal_terms_merge_and_scalars_come_first():
    X = kv.Matrix("X", (3, 3))
    assert str(X + X) == "2X"
    assert str(X - X) == "0"
    assert squash(X @ (3 * X.T) @ (-1 * X)) == squash("-3XXᵀX")
    assert squash(kv.trace(X) * (2 * X)) == squash("2tr(X) X")


def test_python_syntax_round_trips_through_the_parser(gls):
    from kronvec.parse import parse_expression
    from kronvec.printing import to_python
    X, V, F = gls
    text = to_python(F)
    assert text == "inv(X.T @ inv(V) @ X)"
    again = parse_expression(text, {"X": (6, 3), "V": (6, 6)}, kv)
    assert again is F


def test_latex_of_expressions():
    X = kv.Matrix("X", (3, 3))
    assert squash(kv.inv(X).T.latex()) == squash(r"X^{-\top}")
    assert squash(kv.trace(X @ X.T).latex()) == squash(r"\operatorname{tr}\left(X X^{\top}\right)")
    assert squash(kv.logdet(X).latex()) == squash(r"\log\det\left(X\right)")


def test_numbers_and_constants_print():
    X = kv.Matrix("X", (2, 2))
    assert str(0.5 * X) == "X/2"
    assert str(kv.Constant(np.eye(2) * 3, name="A") @ X) == "AX"
    assert str(kv.norm(X)) == "‖X‖"


def test_named_products_are_found_inside_longer_chains_and_sums_lead_positive():
    X, y = kv.Matrix("X", (5, 3)), kv.Vector("y", 5)
    F = (kv.inv(X.T @ X + 0.1 * kv.eye(3)) @ X.T @ y).named("F")
    J = kv.jacobian(F, X)
    assert squash(J.differential()) == squash("dF = (XᵀX + I/10)⁻¹(dXᵀ (y - XF) - Xᵀ dX F)")
    values = {"X": np.random.default_rng(0).standard_normal((5, 3)), "y": np.ones(5)}
    from kronvec.testing import check_jacobian
    check_jacobian(F, X, values)


def test_cookbook_forms_for_hessians_and_nonkronecker_terms():
    X, A = kv.Matrix("X", (4, 3)), kv.Matrix("A", (4, 4))
    assert squash(kv.hessian(kv.norm(X), X)) == squash("-‖X‖⁻³ vec(X) vec(X)ᵀ + ‖X‖⁻¹ I₁₂")
    assert squash(kv.hessian(kv.trace(X.T @ A @ X), X)) == squash("I ⊗ (A + Aᵀ)")
    assert squash(kv.jacobian(kv.det(A), A).differential()) == squash("d(det(A)) = det(A) tr(A⁻¹ dA)")
    assert squash(kv.jacobian(kv.kron(X, A), X)) == squash("H ↦ H ⊗ A")


def test_steps_name_r_once_and_write_its_transpose():
    A, x, b = kv.Matrix("A", (4, 3)), kv.Vector("x", 3), kv.Vector("b", 4)
    r = A @ x - b
    lines = [squash(line) for line in kv.explain(r.T @ r, x).splitlines()]
    for expected in ["P = Ax", "M = P - b", "f = MᵀM", "dP = A dx", "df = dMᵀ M + Mᵀ dM",
                     "df = tr(Gᵀ dx) with G = 2Aᵀ(Ax - b)"]:
        assert squash(expected) in lines, (expected, lines)


def test_pretty_names_recurring_subexpressions():
    n, p = 12, 2
    X, V, y = kv.Matrix("X", (n, p)), kv.Matrix("V", (n, n), symmetric=True), kv.Vector("y", n)
    Vi = kv.inv(V)
    F = kv.inv(X.T @ Vi @ X)
    reml = -0.5 * (kv.logdet(V) + kv.logdet(X.T @ Vi @ X) + y.T @ Vi @ y - y.T @ Vi @ X @ F @ X.T @ Vi @ y)
    assert squash(kv.pretty(kv.grad(reml, V))) == squash(
        "(((W - V⁻¹)y)(yᵀ(W - V⁻¹)) - (V⁻¹ - W))/2,  where W = V⁻¹XPXᵀV⁻¹, P = (XᵀV⁻¹X)⁻¹")
    assert squash(kv.pretty(kv.jacobian(F, V))) == squash("(V⁻¹XW)ᵀ ⊗ (WXᵀV⁻¹), where W = (XᵀV⁻¹X)⁻¹")
    assert squash(kv.pretty(kv.jacobian(F.named("F"), V))) == squash("(V⁻¹XF)ᵀ ⊗ (FXᵀV⁻¹)")
    A, B = kv.Matrix("A", (3, 3)), kv.Matrix("B", (3, 3))
    assert kv.pretty(kv.grad(kv.trace(A @ B @ B.T), B)) == str(kv.grad(kv.trace(A @ B @ B.T), B))


def test_derivatives_in_a_scalar_variable_print_as_coefficients():
    s, X, a = kv.Scalar("s"), kv.Matrix("X", (3, 2)), kv.Vector("a", 3)
    assert squash(kv.jacobian(s * X, s)) == "vec(X)"
    assert squash(kv.jacobian(kv.exp(s) * X + s ** 2 * X, s)) == squash("(exp(s) + 2s) vec(X)")
    assert squash(kv.grad(a.T @ X @ X.T @ a * s, s)) == squash("aᵀXXᵀa")
    assert squash(kv.jacobian(kv.trace(X.T @ X) * s, s)) == squash("tr(XᵀX)")
    assert kv.grad(s * s, s).shape == ()


def test_steps_in_latex(gls):
    X, V, F = gls
    text = kv.jacobian(F, V).steps(latex=True)
    assert text.startswith("\\begin{aligned}") and text.endswith("\\end{aligned}")
    lines = [squash(line).removesuffix("\\\\") for line in text.splitlines()[1:-1]]
    assert squash(r"\mathrm{d}P &= -P \mathrm{d}V P") in lines
    assert squash(r"\mathrm{d}F &= F X^{\top} V^{-1} \mathrm{d}V V^{-1} X F") in lines


def test_python_syntax_of_a_pinv_gradient_with_a_cutoff_prints_and_parses_back():
    # the gradient holds an internal node printed as its second argument; the Python printer
    # gives that node's (text, precedence) as the Unicode and LaTeX printers do
    from kronvec.parse import parse_expression
    from kronvec.printing import to_python
    A = kv.Matrix("A", (3, 4))
    g = kv.grad(kv.sum(kv.pinv(A, rtol=1e-3)), A)
    text = to_python(g)
    assert "pinv(A)" in text
    again = parse_expression(text, {"A": (3, 4)}, kv)
    values = {"A": np.random.default_rng(0).standard_normal((3, 4))}
    np.testing.assert_allclose(kv.evaluate(again, values), kv.evaluate(g, values), rtol=1e-12)
