"""Exponents that are expressions: ``A ** s``, ``s ** A`` (also with NumPy number
bases), against NumPy and finite differences in both arguments, to second order."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kronvec as kv
from kronvec.parse import ParseError, analyze, parse_expression
from kronvec.printing import to_python
from kronvec.testing import check_jacobian, dottest, fd_jacobian, random_values

A, s, t = kv.Matrix("A", (3, 2)), kv.Scalar("s"), kv.Scalar("t")


def _values(rng):
    return {"A": rng.uniform(0.5, 2.0, (3, 2)), "s": rng.uniform(0.5, 2.0), "t": rng.uniform(0.5, 2.0)}


CASES = {
    "A ** s": lambda: A ** s,
    "s ** A": lambda: s ** A,
    "2.0 ** A": lambda: 2.0 ** A,
    "np.float64(2) ** A": lambda: np.float64(2) ** A,
    "s ** t": lambda: s ** t,
    "kv.power(A, s)": lambda: kv.power(A, s),
    "A ** (s * t) * t ** A": lambda: A ** (s * t) * t ** A,
}
NUMPY = {
    "A ** s": lambda v: v["A"] ** v["s"], "s ** A": lambda v: v["s"] ** v["A"],
    "2.0 ** A": lambda v: 2.0 ** v["A"], "np.float64(2) ** A": lambda v: 2.0 ** v["A"],
    "s ** t": lambda v: v["s"] ** v["t"], "kv.power(A, s)": lambda v: np.power(v["A"], v["s"]),
    "A ** (s * t) * t ** A": lambda v: v["A"] ** (v["s"] * v["t"]) * v["t"] ** v["A"],
}


@pytest.mark.parametrize("case", sorted(CASES))
@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2 ** 16))
def test_values_derivatives_and_hessians(case, seed):
    rng = np.random.default_rng(seed)
    e, values = CASES[case](), _values(rng)
    np.testing.assert_allclose(kv.evaluate(e, values), NUMPY[case](values), rtol=1e-13)
    f = kv.sum(e * e) if e.shape else e
    for wrt in (A, s, t):
        if wrt.params.name not in e.symbols():
            continue
        check_jacobian(e, wrt, values)
        H = kv.hessian(f, wrt).at(values)
        np.testing.assert_allclose(H.to_dense(), fd_jacobian(kv.grad(f, wrt), wrt, values),
                                   rtol=1e-5, atol=1e-6)
        dottest(H, rng)


def test_a_one_by_one_matrix_as_exponent():
    a, b = kv.Vector("a", 3), kv.Vector("b", 3)
    e = A ** (a.T @ b)
    values = random_values(e, np.random.default_rng(1), positive=True)
    np.testing.assert_allclose(kv.evaluate(e, values), values["A"] ** (values["a"].T @ values["b"]).item())
    check_jacobian(e, a, values)


def test_printed_forms_and_parsing_back():
    assert str(A ** s) == "A∘^s" and (A ** s).latex() == r"A^{\circ s}"
    assert str(s ** A) == "s∘^A" and str(2.0 ** A) == "2∘^A" and str(s ** t) == "s^t"
    assert str(A ** (s + t)) == "A∘^(s + t)" and to_python(A ** s) == "A ** s"
    assert str(kv.grad(kv.sum(A ** s), s)) == "tr(((Aᵀ)∘^s ⊙ log(Aᵀ))𝟙)"  # Σ A∘ˢ ⊙ log A
    assert str(kv.grad(kv.sum(2.0 ** A), A)) == "log(2) 2∘^A"
    for e in (A ** s, s ** A, 2.0 ** A, A ** (s * t), s ** t):
        shapes = {"A": (3, 2), "s": (), "t": ()}
        assert parse_expression(to_python(e), shapes, kv) is e
    analysis = analyze("sum(X ** s) + sum(2 ** X)", {"X": (2, 2)})
    assert analysis.shapes == {"X": (2, 2), "s": ()} and "X" in analysis.positive


def test_canonical_forms():
    assert A ** kv.Constant(2.0) is A ** 2 and (A ** kv.Constant(2.0)).op == "power"
    assert (A ** kv.zeros(())).op == "ones" and (1.0 ** A).op == "ones"
    assert (A ** s).T is A.T ** s
    assert kv.evaluate(kv.Constant(2.0) ** kv.Constant(3.0)) == 8.0


def test_errors():
    with pytest.raises(kv.ShapeError, match=r"power: shapes \(3, 2\) and \(2, 3\) differ"):
        A ** A.T
    with pytest.raises(ParseError, match="exponent of '\\*\\*' must be a number or a scalar"):
        analyze("X ** Y", {"X": (2, 2), "Y": (2, 2)})
    with pytest.raises(TypeError):
        A ** "s"
