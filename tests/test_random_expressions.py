"""Random expressions: canonicalisation never changes meaning.

Hypothesis builds random expression trees over square symbols together with a
plain NumPy function computing the same thing.  For each tree:

* ``kv.evaluate`` equals the NumPy function (so the canonicalising
  constructors, transposes pushed to the leaves, cancelled inverses, merged
  powers and terms, kept the value);
* the Jacobian equals central finite differences and passes the dot-test;
* the expression printed in Python syntax parses back to the same node.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg as sla
from hypothesis import given, settings
from hypothesis import strategies as st

import kronvec as kv
from kronvec.parse import parse_expression
from kronvec.printing import to_python
from kronvec.testing import dottest, fd_jacobian

N = 3
SYMBOLS = {name: kv.Matrix(name, (N, N)) for name in "ABX"}


def _lookup(name):
    return lambda values: values[name]


def _leaf():
    return st.sampled_from([(SYMBOLS[k], _lookup(k)) for k in SYMBOLS])


def _spd(x, fx):
    """x xᵀ + N·I: safely invertible."""
    return (x @ x.T + N * np.eye(N),
            lambda v: fx(v) @ fx(v).T + N * np.eye(N))


def _extend(children):
    pair = st.tuples(children, children)
    return st.one_of(
        pair.map(lambda p: (p[0][0] @ p[1][0], lambda v: p[0][1](v) @ p[1][1](v))),
        pair.map(lambda p: (p[0][0] + p[1][0], lambda v: p[0][1](v) + p[1][1](v))),
        pair.map(lambda p: (p[0][0] - p[1][0], lambda v: p[0][1](v) - p[1][1](v))),
        pair.map(lambda p: (p[0][0] * p[1][0], lambda v: p[0][1](v) * p[1][1](v))),
        children.map(lambda c: (c[0].T, lambda v: c[1](v).T)),
        children.map(lambda c: (-2.5 * c[0], lambda v: -2.5 * c[1](v))),
        children.map(lambda c: (kv.inv(_spd(*c)[0]), lambda v: np.linalg.inv(_spd(*c)[1](v)))),
        children.map(lambda c: (kv.inv(_spd(*c)[0]) @ c[0],
                                lambda v: np.linalg.solve(_spd(*c)[1](v), c[1](v)))),
        children.map(lambda c: (kv.matrix_power(c[0], 2) @ c[0],
                                lambda v: c[1](v) @ c[1](v) @ c[1](v))),
        children.map(lambda c: (kv.trace(c[0]) * c[0], lambda v: np.trace(c[1](v)) * c[1](v))),
        children.map(lambda c: (kv.logdet(_spd(*c)[0]) * c[0],
                                lambda v: np.linalg.slogdet(_spd(*c)[1](v))[1] * c[1](v))),
        children.map(lambda c: (kv.tanh(c[0]), lambda v: np.tanh(c[1](v)))),
        children.map(lambda c: (kv.diag(kv.diag(c[0])), lambda v: np.diag(np.diag(c[1](v))))),
        children.map(lambda c: (kv.sum(c[0]) * c[0].T, lambda v: np.sum(c[1](v)) * c[1](v).T)),
        children.map(lambda c: (c[0] / (1 + kv.norm(c[0])),
                                lambda v: c[1](v) / (1 + np.linalg.norm(c[1](v))))),
        children.map(lambda c: (c[0] ** 2 / (c[0] ** 2 + 1), lambda v: c[1](v) ** 2 / (c[1](v) ** 2 + 1))),
        children.map(lambda c: (kv.expm(0.2 * c[0]), lambda v: sla.expm(0.2 * c[1](v)))),
        pair.map(lambda p: (kv.solve(_spd(*p[0])[0], p[1][0]),
                            lambda v: np.linalg.solve(_spd(*p[0])[1](v), p[1][1](v)))),
    )


expressions = st.recursive(_leaf(), _extend, max_leaves=6)


def _values(seed):
    rng = np.random.default_rng(seed)
    return {k: rng.standard_normal((N, N)) / 2 for k in SYMBOLS}


@settings(max_examples=60, deadline=None)
@given(tree=expressions, seed=st.integers(0, 2 ** 16))
def test_evaluation_matches_numpy(tree, seed):
    expr, reference = tree
    values = _values(seed)
    np.testing.assert_allclose(kv.evaluate(expr, values), reference(values), rtol=1e-9, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(tree=expressions, seed=st.integers(0, 2 ** 16))
def test_jacobian_matches_finite_differences(tree, seed):
    expr, _ = tree
    values = _values(seed)
    L = kv.jacobian(expr, SYMBOLS["X"]).at(values)
    fd = fd_jacobian(expr, SYMBOLS["X"], values)
    np.testing.assert_allclose(L.to_dense(), fd, rtol=1e-5, atol=1e-5 * max(1.0, np.abs(fd).max()))
    dottest(L, np.random.default_rng(seed), rtol=1e-9)


@settings(max_examples=60, deadline=None)
@given(tree=expressions)
def test_python_syntax_parses_back_to_the_same_node(tree):
    expr, _ = tree
    again = parse_expression(to_python(expr), {k: (N, N) for k in SYMBOLS}, kv)
    assert again is expr, (to_python(expr), to_python(again))
