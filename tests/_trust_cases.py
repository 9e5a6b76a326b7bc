"""Finite-difference cases for the nodes behind the derivatives of det, of the SVD's norms and
of norms at zero (merged into ``test_op_derivatives.CASES``)."""
from __future__ import annotations

import kronvec as kv
from kronvec.ops.norm_roots import power0


def _case_adj(n, m, k):
    X = kv.Matrix("X", (n, n))
    g = kv.grad(kv.det(X), X)
    assert any(node.op == "adj" for node in g.walk())
    return g, X, False


def _case_adj_frechet(n, m, k):
    X, W = kv.Matrix("X", (n, n)), kv.Matrix("W", (n, n))
    g = kv.grad(kv.sum(W * kv.grad(kv.det(X), X)), X)
    assert any(node.op == "adj_frechet" for node in g.walk())
    return g, W, False


def _case_norm_gradient(n, m, k):
    X = kv.Matrix("X", (n + m - 1, n) if k % 3 else (n, n + m - 1))
    g = kv.grad(kv.norm(X, 2 if k % 2 else "nuc"), X)  # the Hessian case (k = 3) is the spectral one
    assert any(node.op == "norm_gradient" for node in g.walk())
    return g, X, False


def _case_polar_frechet(n, m, k):
    X = kv.Matrix("X", (n + m - 1, n) if k % 2 else (n, n + m - 1))
    W = kv.Matrix("W", X.shape)
    g = kv.grad(kv.sum(W * kv.grad(kv.norm(X, "nuc"), X)), X)
    assert any(node.op == "polar_frechet" for node in g.walk())
    return g, W, False


def _case_power0(n, m, k):
    X = kv.Matrix("X", (n, k))
    return power0(X * X + 0.5, -0.5 if k % 2 else 1.5), X, False


TRUST_CASES = {"adj": _case_adj, "adj_frechet": _case_adj_frechet, "norm_gradient": _case_norm_gradient,
               "polar_frechet": _case_polar_frechet, "power0": _case_power0}
