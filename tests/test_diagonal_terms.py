"""The algebra of the terms built around a diagonal (kronvec.maps.sandwich).

Kronecker terms on either side of an elementwise term compose into one
DiagSandwichMap, further Kronecker terms multiply into its factors, sandwiches
with the same factors add their diagonals, and a composition that contains
one contracts and prints as it did term by term.  (The dot-test and the dense
forms of every map type are in tests/test_maps.py.)
"""
from __future__ import annotations

import numpy as np

import kronvec as kv
from kronvec.maps import ComposeMap, DiagRankOneMap, DiagSandwichMap, ElementwiseMap, KronMap
from kronvec.maps.algebra import add_maps, compose
from kronvec.testing import dottest

from _reference import close


def _rng(seed=0):
    return np.random.default_rng(seed)


def test_kronecker_terms_around_a_diagonal_compose_into_one_sandwich():
    r = _rng()
    X, D, Y = r.standard_normal((5, 3)), r.standard_normal((5, 2)), r.standard_normal((4, 5))
    inner = KronMap(X, None, (3, 2), (5, 2))
    outer = KronMap(Y, None, (5, 2), (4, 2))
    m = compose(outer, ElementwiseMap(D, (5, 2)), inner)
    assert isinstance(m, DiagSandwichMap)
    H = r.standard_normal((3, 2))
    close(m.jvp(H), Y @ (D * (X @ H)))
    twice = compose(ElementwiseMap(D, (5, 2)), compose(ElementwiseMap(D, (5, 2)), inner))
    assert isinstance(twice, DiagSandwichMap)
    close(twice.jvp(H), D * D * (X @ H))
    dottest(m)


def test_sandwiches_with_the_same_factors_add_their_diagonals():
    X, w = kv.Matrix("X", (6, 3)), kv.Vector("w", 3)
    f = kv.sum(kv.sigmoid(X @ w)) + kv.sum(kv.exp(X @ w))
    H = kv.hessian(f, w)
    assert H.nterms == 1 and isinstance(H.map, DiagSandwichMap)
    X0, w0 = _rng(1).standard_normal((6, 3)), _rng(2).standard_normal((3, 1))
    s = 1 / (1 + np.exp(-X0 @ w0))
    d = s * (1 - s) * (1 - 2 * s) + np.exp(X0 @ w0)
    close(H.at(X=X0, w=w0).to_dense(), X0.T @ (d * X0))


def test_the_column_form_is_one_product():
    r = _rng(3)
    A1, d, A2 = r.standard_normal((2, 4)), r.standard_normal((4, 1)), r.standard_normal((4, 3))
    m = DiagSandwichMap(A1, None, d, A2, None, (3, 1), (2, 1))
    assert m.is_column_form()
    close(m.to_dense(), A1 @ np.diag(d[:, 0]) @ A2)
    out = np.ones((2, 3))
    m._dense_into(out, 2.0, False)
    close(out, 1 + 2 * A1 @ np.diag(d[:, 0]) @ A2)


def test_a_chain_through_two_functions_prints_and_contracts_term_by_term():
    X, W = kv.Matrix("X", (5, 3)), kv.Matrix("W", (3, 2))
    J = kv.jacobian(kv.exp(X @ kv.exp(W)), W)
    assert str(J) == "diag(vec(exp(Xexp(W)))) · (I ⊗ X) · diag(vec(exp(W)))"
    X0, W0 = _rng(4).standard_normal((5, 3)), 0.3 * _rng(5).standard_normal((3, 2))
    dense = J.at(X=X0, W=W0).to_dense()
    E = np.exp(X0 @ np.exp(W0))
    expected = np.diag(E.reshape(-1, order="F")) @ np.kron(np.eye(2), X0) @ np.diag(
        np.exp(W0).reshape(-1, order="F"))
    close(dense, expected)
    assert str(kv.jacobian(kv.exp(X @ W), W)) == "diag(vec(exp(XW))) · (I ⊗ X)"


def test_rank_one_terms_are_adjoint_by_swapping():
    r = _rng(6)
    S, V = r.random((3, 4)), r.random((3, 4))
    for axis in (None, 0, 1):
        m = DiagRankOneMap(None, S, V, axis, (3, 4))
        close(m.T.to_dense(), m.to_dense().T)
        dottest(m)
    scaled = 2.0 * DiagRankOneMap(S, S, S, 0, (3, 4))
    close(scaled.to_dense(), 2 * DiagRankOneMap(S, S, S, 0, (3, 4)).to_dense())
    total = add_maps(DiagRankOneMap(S, S, S, 0, (3, 4)), scaled)
    close(total.to_dense(), 3 * DiagRankOneMap(S, S, S, 0, (3, 4)).to_dense())
    assert isinstance(compose(DiagRankOneMap(S, S, S, 0, (3, 4)), ElementwiseMap(V, (3, 4))), ComposeMap)
