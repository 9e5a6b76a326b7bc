"""Broadcasting follows NumPy for + - * /, maximum and minimum.

Values and result shapes are compared with NumPy on random broadcast patterns
(columns, rows, 1×1 and () scalars, full matrices), shape errors are raised
exactly where NumPy raises them and name the operation and both shapes,
derivatives in every operand match finite differences and pass the dot-test,
and a broadcast prints as the product with ones that it is (X + b𝟙ᵀ), whose
adjoint sums the rows.
"""
from __future__ import annotations

import operator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kronvec as kv
from kronvec.parse import ParseError, analyze, parse_expression
from kronvec.printing import to_python
from kronvec.testing import check_jacobian

from _reference import close

OPERATIONS = {
    "+": (operator.add, operator.add),
    "-": (operator.sub, operator.sub),
    "*": (operator.mul, operator.mul),
    "/": (operator.truediv, operator.truediv),
    "maximum": (kv.maximum, np.maximum),
    "minimum": (kv.minimum, np.minimum),
}


def _pattern(n, m, kind):
    """A shape that broadcasts against (n, m)."""
    return {"full": (n, m), "column": (n, 1), "row": (1, m), "one": (1, 1), "scalar": ()}[kind]


def _symbol(name, shape):
    return kv.Scalar(name) if shape == () else kv.Matrix(name, shape)


kinds = st.sampled_from(["full", "column", "row", "one", "scalar"])


@settings(max_examples=60, deadline=None)
@given(op=st.sampled_from(sorted(OPERATIONS)), n=st.integers(1, 4), m=st.integers(1, 4),
       left=kinds, right=kinds, seed=st.integers(0, 2 ** 16))
def test_values_and_shapes_are_numpys(op, n, m, left, right, seed):
    ours, theirs = OPERATIONS[op]
    a_shape, b_shape = _pattern(n, m, left), _pattern(n, m, right)
    rng = np.random.default_rng(seed)
    a0, b0 = rng.uniform(0.5, 2.0, a_shape), rng.uniform(0.5, 2.0, b_shape)
    a, b = _symbol("A", a_shape), _symbol("B", b_shape)
    expected = theirs(a0, b0)
    e = ours(a, b)
    value = np.asarray(kv.evaluate(e, A=a0, B=b0))
    if expected.ndim == 2 and expected.shape != (1, 1):
        assert e.shape == expected.shape
        close(value, expected)
    else:  # scalars: () or (1, 1), both count as scalar
        assert e.shape in ((), (1, 1)) and value.size == 1
        close(value.reshape(()), np.reshape(expected, ()))


@settings(max_examples=25, deadline=None)
@given(op=st.sampled_from(sorted(OPERATIONS)), n=st.integers(1, 3), m=st.integers(1, 3),
       left=kinds, right=kinds, seed=st.integers(0, 2 ** 16))
def test_derivatives_in_each_operand(op, n, m, left, right, seed):
    ours, _ = OPERATIONS[op]
    a, b = _symbol("A", _pattern(n, m, left)), _symbol("B", _pattern(n, m, right))
    rng = np.random.default_rng(seed)
    values = {"A": rng.uniform(0.5, 2.0, a.shape), "B": rng.uniform(0.5, 2.0, b.shape) + 0.01}
    f = ours(kv.exp(a), b)
    for wrt in (a, b):
        check_jacobian(f, wrt, values)
        G = kv.grad(kv.sum(f * f), wrt)
        assert G.shape in (wrt.shape, (1, 1)) if wrt.shape == () else G.shape == wrt.shape


@pytest.mark.parametrize("op", sorted(OPERATIONS))
@pytest.mark.parametrize(("a", "b"), [((4, 3), (2, 5)), ((4, 3), (3, 4)), ((4, 3), (4, 2)),
                                      ((4, 1), (3, 1)), ((1, 3), (1, 4))])
def test_shapes_that_numpy_refuses_are_refused(op, a, b):
    ours, theirs = OPERATIONS[op]
    with pytest.raises(ValueError):
        theirs(np.ones(a), np.ones(b))
    with pytest.raises(kv.ShapeError) as info:
        ours(kv.Matrix("A", a), kv.Matrix("B", b))
    message = str(info.value)
    assert str(a) in message and str(b) in message, message
    assert "broadcast" in message, message
    name = {"+": "add", "-": "add", "*": "multiply", "/": "divide"}.get(op, op)
    assert message.startswith(name), message


def test_the_error_text_is_numpys():
    with pytest.raises(kv.ShapeError, match=r"^add: operands could not be broadcast together with "
                                            r"shapes \(4, 3\) \(2, 5\)$"):
        kv.Matrix("A", (4, 3)) + kv.Matrix("B", (2, 5))


def test_a_broadcast_prints_as_a_product_with_ones():
    X, b, r = kv.Matrix("X", (4, 3)), kv.Vector("b", 4), kv.Matrix("r", (1, 3))
    assert str(X + b) == "X + b𝟙ᵀ"
    assert str(X + r) == "X + 𝟙r"
    assert str(X - b) == "X - b𝟙ᵀ"
    assert str(X * b) == "X ⊙ b𝟙ᵀ"
    assert str(X / b) == "X ⊘ b𝟙ᵀ"
    assert str(b + r) == "b𝟙ᵀ + 𝟙r"
    assert str(kv.maximum(X, b)) == "max(X, b𝟙ᵀ)"
    assert str(kv.ones(1, 3)) == "𝟙ᵀ" and str(kv.ones(3, 1)) == "𝟙"
    assert (X + b).latex() == r"X + b \mathbf{1}^{\top}"


def test_the_adjoint_of_a_broadcast_sums_rows_and_columns():
    X, b, r = kv.Matrix("X", (4, 3)), kv.Vector("b", 4), kv.Matrix("r", (1, 3))
    f = kv.sum(kv.exp(X + b) + kv.exp(X + r))
    assert str(kv.grad(f, b)) == "exp(X + b𝟙ᵀ)𝟙"
    assert str(kv.grad(f, r)) == "𝟙ᵀexp(X + 𝟙r)"
    rng = np.random.default_rng(0)
    X0, b0, r0 = rng.standard_normal((4, 3)), rng.standard_normal((4, 1)), rng.standard_normal((1, 3))
    close(kv.evaluate(kv.grad(f, b), X=X0, b=b0, r=r0), np.exp(X0 + b0).sum(axis=1, keepdims=True))
    close(kv.evaluate(kv.grad(f, r), X=X0, b=b0, r=r0), np.exp(X0 + r0).sum(axis=0, keepdims=True))
    L = kv.jacobian(X + b, b).at(X=X0, b=b0)  # db ↦ db 𝟙ᵀ, adjoint G ↦ G𝟙
    G = rng.standard_normal((4, 3))
    close(L.vjp(G), G.sum(axis=1, keepdims=True))
    close(L.to_dense(), np.kron(np.ones((3, 1)), np.eye(4)))


def test_scalars_broadcast_as_before():
    X, s, t = kv.Matrix("X", (2, 3)), kv.Scalar("s"), kv.Matrix("t", (1, 1))
    assert str(X + s) == "X + s 𝟙"
    assert (X + t).shape == (2, 3) and (X * t).shape == (2, 3)
    assert (s + t).shape == (1, 1) and (s + s).shape == ()
    close(kv.evaluate(X + t, X=np.ones((2, 3)), t=[[2.0]]), np.full((2, 3), 3.0))


def test_a_column_and_a_row_make_a_matrix():
    a, r = kv.Vector("a", 3), kv.Matrix("r", (1, 2))
    e = a * r
    assert e.shape == (3, 2)
    a0, r0 = np.arange(1.0, 4.0).reshape(3, 1), np.array([[2.0, -1.0]])
    close(kv.evaluate(e, a=a0, r=r0), a0 * r0)
    check_jacobian(e, a, {"a": a0, "r": r0})
    check_jacobian(e, r, {"a": a0, "r": r0})


def test_hessians_through_a_broadcast():
    X, w, b = kv.Matrix("X", (5, 3)), kv.Vector("w", 3), kv.Scalar("b")
    c = kv.Matrix("c", (1, 2))
    W = kv.Matrix("W", (3, 2))
    rng = np.random.default_rng(4)
    values = {"X": rng.standard_normal((5, 3)), "w": rng.standard_normal((3, 1)), "b": 0.3,
              "W": rng.standard_normal((3, 2)), "c": rng.standard_normal((1, 2))}
    for f, wrt in ((kv.sum(kv.softplus(X @ w + b)), b), (kv.sum(kv.softplus(X @ W + c)), c),
                   (kv.sum(kv.softplus(X @ W + c)), W)):
        H = kv.hessian(f, wrt).at(values).to_dense()
        from_fd = check_jacobian(kv.grad(f, wrt), wrt, values).to_dense()
        close(H, from_fd, rtol=1e-10)


def test_the_parser_broadcasts():
    shapes = {"X": (4, 3), "b": (4, 1), "r": (1, 3)}
    for text, expected in (("X + b", "X + b𝟙ᵀ"), ("X - r", "X - 𝟙r"), ("X * b", "X ⊙ b𝟙ᵀ"),
                           ("maximum(X, 0)", "max(X, 0)"), ("maximum(X, b)", "max(X, b𝟙ᵀ)"),
                           ("minimum(r, X)", "min(𝟙r, X)")):
        assert str(parse_expression(text, shapes, kv)) == expected
    assert analyze("X + c", {"X": (4, 3)}).shapes["c"] == (4, 3)  # the least assumption: equal shapes
    with pytest.raises(ParseError, match="broadcast"):
        analyze("X + b", {"X": (4, 3), "b": (2, 1)})


def test_the_python_printing_of_the_new_operations_parses_back_to_the_same_node():
    X, b, c = kv.Matrix("X", (4, 3)), kv.Vector("b", 4), kv.Matrix("c", (1, 3))
    shapes = {"X": (4, 3), "b": (4, 1), "c": (1, 3)}
    for e in (X + b, X * c, X / b, kv.maximum(X, b), kv.minimum(c, X), kv.heaviside(X - b, 0.5),
              kv.relu(X), kv.abs(X), kv.sign(X), kv.softplus(X), kv.log1p(X), kv.expm1(X), kv.square(X),
              kv.max(X, axis=0), kv.min(X), kv.mean(X, axis=1), kv.softmax(X, axis=1), kv.log_softmax(X),
              kv.logsumexp(X, axis=0), kv.sum(X, axis=0) + c):
        assert parse_expression(to_python(e), shapes, kv) is e, to_python(e)
