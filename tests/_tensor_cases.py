"""Finite-difference cases of the tensor operations (einsum, reshaping), merged into
``CASES`` of ``tests/test_op_derivatives.py``."""
from __future__ import annotations

import kronvec as kv


def _case_einsum(n, m, k):
    """A three-operand contraction with a 1-D operand, a diagonal and a stack, in turns."""
    T, X, w = kv.Array("T", (n, m, k)), kv.Matrix("X", (k, n)), kv.Array("w", (m,))
    pick = (n + m + k) % 3
    if pick == 0:
        return kv.einsum("ijk,kl,j->il", T, X, w), X, False
    if pick == 1:  # a repeated index of X @ T's first axes: a diagonal inside the contraction
        S = kv.Array("S", (n, n, m))
        return kv.einsum("iij,j,ik->jk", S, w, X.T), S, False
    v = kv.Array("v", (k,))
    return kv.einsum("...j,j", T, v), T if n % 2 else v, False


def _case_reshape(n, m, k):
    """C and F order, one size inferred, of a product (so the tangent is not the symbol's)."""
    X = kv.Matrix("X", (n, m))
    order = "CF"[(n + m + k) % 2]
    return kv.reshape(X @ kv.Matrix("A", (m, 2 * k)), (k, -1), order=order), X, False


def _case_expand_dims(n, m, k):
    X = kv.Matrix("X", (n, m))
    return kv.expand_dims(kv.exp(X), (0, 2) if k % 2 else -1) * kv.Array("C", (k, n, 1, m)), X, False


def _case_newaxis(n, m, k):  # the pairwise differences of the rows of X, (n, n, m)
    X = kv.Matrix("X", (n, m))
    return X[:, None, :] - X[None, :, :] * kv.Array("w", (m,)), X, False


def _case_squeeze(n, m, k):
    T = kv.Array("T", (n + 1, 1, m + 1, 1))  # (with axis=None only the unit axes go)
    return kv.squeeze(T * T, axis=(1, 3) if k % 2 else None) @ kv.Matrix("B", (m + 1, k)), T, False


def _case_moveaxis(n, m, k):
    T = kv.Array("T", (n, m, k))
    return kv.moveaxis(T, (0, 2), (-1, 0)) * kv.Array("C", (k, m, n)), T, False


def _case_outer(n, m, k):
    a, X = kv.Array("a", (n,)), kv.Matrix("X", (m, k))
    return kv.outer(a * a, X), a if k % 2 else X, False


TENSOR_CASES = {
    "einsum": _case_einsum, "reshape": _case_reshape, "expand_dims": _case_expand_dims,
    "index_newaxis": _case_newaxis, "squeeze": _case_squeeze, "moveaxis": _case_moveaxis,
    "outer": _case_outer,
}
