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


TENSOR_CASES = {
    "einsum": _case_einsum,
}
