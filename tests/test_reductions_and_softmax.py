"""Reductions along an axis and the softmax family, against NumPy and SciPy.

sum, mean, max, min and logsumexp take ``axis=None/0/1`` (and negative axes)
and keep two dimensions ((1, m) or (n, 1)); softmax and log_softmax follow
scipy.special.  Their derivatives match finite differences to second order,
their maps pass the dot-test, their closed forms print like the textbook
(diag(s) − ssᵀ, I − 𝟙sᵀ, a softmax for the gradient of a log-sum-exp), and
the parser accepts ``axis=`` (by keyword or position) and nothing else.
"""
from __future__ import annotations

import numpy as np
import pytest
import scipy.special as sp
from hypothesis import given, settings
from hypothesis import strategies as st

import kronvec as kv
from kronvec.cli import main
from kronvec.parse import ParseError, analyze, parse_expression
from kronvec.printing import to_python
from kronvec.testing import check_jacobian, dottest, fd_jacobian

from _reference import close

REDUCTIONS = {
    "sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min, "logsumexp": sp.logsumexp,
}
KEEP_SHAPE = {"softmax": sp.softmax, "log_softmax": sp.log_softmax}
AXES = [None, 0, 1, -1, -2]

shapes = st.tuples(st.integers(1, 4), st.integers(1, 4))


@settings(max_examples=40, deadline=None)
@given(name=st.sampled_from(sorted(REDUCTIONS) + sorted(KEEP_SHAPE)), shape=shapes,
       axis=st.sampled_from(AXES), seed=st.integers(0, 2 ** 16))
def test_values_are_numpys_and_scipys(name, shape, axis, seed):
    A0 = 3 * np.random.default_rng(seed).standard_normal(shape)
    e = getattr(kv, name)(kv.Matrix("A", shape), axis=axis)
    value = np.asarray(kv.evaluate(e, A=A0))
    if name in REDUCTIONS:
        expected = REDUCTIONS[name](A0, axis=axis, keepdims=axis is not None)
    else:
        expected = KEEP_SHAPE[name](A0, axis=axis)
    if axis is None and name in REDUCTIONS:
        assert e.shape in ((), (1, 1)) and value.size == 1
        close(value.reshape(()), expected)
    else:
        assert e.shape == expected.shape
        close(value, expected)


@settings(max_examples=25, deadline=None)
@given(name=st.sampled_from(sorted(REDUCTIONS) + sorted(KEEP_SHAPE)), shape=shapes,
       axis=st.sampled_from(AXES), seed=st.integers(0, 2 ** 16))
def test_first_and_second_derivatives(name, shape, axis, seed):
    A = kv.Matrix("A", shape)
    rng = np.random.default_rng(seed)
    values = {"A": rng.standard_normal(shape), "W": rng.standard_normal(shape)}
    f = getattr(kv, name)(A * kv.Matrix("W", shape), axis=axis)
    check_jacobian(f, A, values)
    scalar = kv.sum(f * f)
    H = kv.hessian(scalar, A).at(values)
    np.testing.assert_allclose(H.to_dense(), fd_jacobian(kv.grad(scalar, A), A, values),
                               rtol=1e-5, atol=1e-5)
    dottest(H)


def test_negative_axes_are_the_same_nodes():
    A = kv.Matrix("A", (3, 4))
    for name in ("sum", "mean", "max", "min", "logsumexp", "softmax", "log_softmax"):
        fn = getattr(kv, name)
        assert fn(A, axis=-1) is fn(A, axis=1) and fn(A, axis=-2) is fn(A, axis=0)
        assert fn(A) is fn(A, axis=None)


def test_sum_without_an_axis_is_unchanged():
    A = kv.Matrix("A", (3, 4))
    assert kv.sum(A).op == "sum" and kv.sum(A).shape == ()
    assert str(kv.grad(kv.sum(A), A)) == "𝟙"


def test_bad_axes_are_refused_as_numpy_refuses_them():
    A = kv.Matrix("A", (3, 4))
    for fn in (kv.sum, kv.mean, kv.max, kv.logsumexp, kv.softmax):
        with pytest.raises(np.exceptions.AxisError, match="axis 2"):
            fn(A, axis=2)
        with pytest.raises(TypeError):
            fn(A, axis=1.5)
    with pytest.raises(np.exceptions.AxisError):
        np.sum(np.ones((3, 4)), axis=2)


def test_reductions_print_as_products_with_ones_or_with_their_axis():
    A = kv.Matrix("A", (3, 4))
    assert str(kv.sum(A, axis=0)) == "𝟙ᵀA" and str(kv.sum(A, axis=1)) == "A𝟙"
    assert str(kv.mean(A, axis=0)) == "𝟙ᵀA/3" and str(kv.mean(A)) == "sum(A)/12"
    assert str(kv.max(A, axis=0)) == "max(A, axis=0)" and str(kv.min(A)) == "min(A)"
    assert str(kv.logsumexp(A, axis=1)) == "logsumexp(A, axis=1)"
    assert kv.logsumexp(A, axis=1).latex() == r"\operatorname{logsumexp}\left(A, \mathrm{axis}=1\right)"
    assert str(kv.grad(kv.max(A), A)) == "∂max(A)"
    assert str(kv.grad(kv.sum(kv.min(A, axis=1)), A)) == "∂min(A, axis=1)"


def test_the_gradient_of_a_log_sum_exp_is_a_softmax():
    x, A = kv.Vector("x", 5), kv.Matrix("A", (3, 4))
    assert str(kv.grad(kv.logsumexp(x), x)) == "softmax(x)"
    assert kv.grad(kv.logsumexp(x), x) is kv.softmax(x)
    assert str(kv.grad(kv.sum(kv.logsumexp(A, axis=0)), A)) == "softmax(A, axis=0)"
    assert str(kv.jacobian(kv.logsumexp(x), x)) == "vec(softmax(x))ᵀ"


def test_the_softmax_jacobian_is_diag_s_minus_s_s_transposed():
    x = kv.Vector("x", 4)
    s = kv.softmax(x).named("s")
    J = kv.jacobian(s, x)
    assert str(J) == "diag(s) - ssᵀ"
    assert J.latex() == r"\operatorname{diag}\left(s\right) - s s^{\top}"
    assert J.differential() == "ds = s ⊙ dx - (sᵀ dx) s"
    assert str(kv.hessian(kv.logsumexp(x), x)) == "diag(softmax(x)) - softmax(x) softmax(x)ᵀ"
    assert str(kv.jacobian(kv.log_softmax(x), x)) == "I - 𝟙 softmax(x)ᵀ"
    assert str(kv.jacobian(kv.log_softmax(x), x).T) == "I - softmax(x) 𝟙ᵀ"
    A = kv.Matrix("A", (3, 4))
    assert str(kv.jacobian(kv.softmax(A), A)) == \
        "diag(vec(softmax(A))) - vec(softmax(A)) vec(softmax(A))ᵀ"
    s0 = sp.softmax(np.arange(4.0))
    close(J.at(x=np.arange(4.0)).to_dense(), np.diag(s0) - np.outer(s0, s0))


@pytest.mark.parametrize("axis", [0, 1])
def test_the_softmax_jacobian_along_an_axis_is_block_diagonal(axis):
    A = kv.Matrix("A", (3, 4))
    A0 = np.random.default_rng(1).standard_normal((3, 4))
    S = sp.softmax(A0, axis=axis)
    expected = np.zeros((12, 12))
    for j in range(S.shape[1 - axis]):  # one block per column (axis 0) or row (axis 1)
        index = [i + 3 * j for i in range(3)] if axis == 0 else [j + 3 * c for c in range(4)]
        s = S[:, j] if axis == 0 else S[j, :]
        expected[np.ix_(index, index)] = np.diag(s) - np.outer(s, s)
    close(kv.jacobian(kv.softmax(A, axis=axis), A).at(A=A0).to_dense(), expected)
    text = str(kv.jacobian(kv.softmax(A, axis=axis), A))
    assert text.startswith("H ↦ softmax(A, axis=") and "𝟙𝟙ᵀ" in text, text


def test_log_of_softmax_is_the_stable_log_softmax():
    A = kv.Matrix("A", (3, 4))
    assert kv.log(kv.softmax(A, axis=1)) is kv.log_softmax(A, axis=1)
    assert kv.exp(kv.log_softmax(A, axis=0)) is kv.softmax(A, axis=0)


def test_one_entry_slices_are_trivial():
    a = kv.Vector("a", 3)
    assert kv.softmax(a, axis=1) is kv.ones(3, 1)
    assert kv.log_softmax(a, axis=1) is kv.zeros(3, 1)
    assert kv.max(a, axis=1) is a and kv.logsumexp(a, axis=1) is a


@pytest.mark.parametrize("text", [
    "sum(X, axis=0)", "sum(X, 1)", "mean(X, axis=-1)", "max(X, axis=None)", "min(X, 0)",
    "logsumexp(X @ W, axis=1)", "softmax(X, axis=0)", "log_softmax(X @ W, -1)", "sum(X)",
])
def test_the_parser_takes_axis(text):
    e = parse_expression(text, {"X": (4, 3), "W": (3, 2)}, kv)
    name = text.split("(")[0]
    axis = None if "axis=None" in text or "," not in text.replace(" @ ", "") else \
        int(text.rsplit(",", 1)[1].strip(" )").replace("axis=", ""))
    expected = getattr(kv, name)(kv.Matrix("X", (4, 3)) @ kv.Matrix("W", (3, 2)) if "W" in text
                                 else kv.Matrix("X", (4, 3)), axis=axis)
    assert e is expected
    assert parse_expression(to_python(e), {"X": (4, 3), "W": (3, 2)}, kv) is e


@pytest.mark.parametrize(("text", "message"), [
    ("sum(X, axis=2)", "out of bounds"), ("sum(X, keepdims=1)", "keepdims"),
    ("inv(X, axis=0)", "keyword arguments are not allowed"), ("sum(X, axis=Y)", "literal"),
    ("sum(X, 0, 1)", "takes 1 argument"), ("sum(X, 0, axis=1)", "twice"),
    ("softmax(X, axis=1.5)", "literal"), ("sum(X, **d)", "not allowed"),
])
def test_the_parser_refuses_other_keywords_and_values(text, message):
    with pytest.raises(ParseError, match=message):
        analyze(text, {"X": (3, 3)})


def test_the_axis_decides_the_inferred_shapes():
    assert analyze("sum(X, axis=0) + r", {"X": (4, 3)}).shapes["r"] == (1, 3)
    assert analyze("logsumexp(X, axis=1) - c", {"X": (4, 3)}).shapes["c"] == (4, 1)


def test_the_cli_differentiates_along_an_axis(capsys):
    assert main(["derive", "sum(logsumexp(X @ W, axis=1)) - trace(Y.T @ X @ W)", "--wrt", "W",
                 "--shape", "X=20x3", "--shape", "W=3x4", "--check"]) == 0
    out = capsys.readouterr().out
    assert "softmax(XW, axis=1)" in out and "passed" in out
    assert main(["derive", "mean(max(X, axis=0))", "--wrt", "X", "--shape", "X=5x3", "--check"]) == 0
    assert "passed" in capsys.readouterr().out
