"""Every operation's derivative against central finite differences, to second order.

Each entry of ``CASES`` builds, for random sizes, an expression exercising one
operation of the registry (non-square shapes wherever the operation allows)
and the symbol to differentiate by.  ``tests/test_registry.py`` makes a new
operation without a case fail the suite.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import kronvec as kv
from kronvec.maps.triangular import TRIANGLE_KINDS
from kronvec.ops.eigen_frechet import eigfun_frechet, eigfun_frechet2
from kronvec.ops.eigen_ties import reduced_resolvent
from kronvec.ops.spectral import gapinv
from kronvec.ops.special import ndtr_ratio, xdivy
from kronvec.ops.spectral_functions import divdiff
from kronvec.ops.stacks import broadcast_to, c_order_reshape
from kronvec.ops.triangular import tri
from kronvec.testing import check_jacobian, fd_jacobian, random_values

from _tensor_cases import TENSOR_CASES
from _trust_cases import TRUST_CASES


def _case_matmul(n, m, k):
    A, X, B = kv.Matrix("A", (m, n)), kv.Matrix("X", (n, k)), kv.Matrix("B", (k, m + 1))
    return A @ X @ B @ B.T @ X.T, X, False


def _case_add(n, m, k):
    X, A = kv.Matrix("X", (n, k)), kv.Matrix("A", (n, k))
    return X + A - 2 * X, X, False


def _case_named(n, m, k):
    X = kv.Matrix("X", (n, k))
    return kv.Matrix("A", (m, n)) @ (X.named("Y")), X, False


def _case_scale(n, m, k):
    X = kv.Matrix("X", (n, k))
    return -3.5 * (X @ kv.Matrix("B", (k, m))), X, False


def _case_smul(n, m, k):
    X = kv.Matrix("X", (n, n))
    return kv.trace(X) * (X @ kv.Matrix("B", (n, k))), X, False


def _case_transpose(n, m, k):
    X = kv.Matrix("X", (n, k))
    return kv.Matrix("A", (m, k)) @ X.T, X, False


def _case_inv(n, m, k):
    X, V = kv.Matrix("X", (n + m, m)), kv.Matrix("V", (n + m, n + m))
    return kv.inv(X.T @ kv.inv(V) @ X), V, False


def _case_trace(n, m, k):
    X = kv.Matrix("X", (n, k))
    return kv.trace(kv.Matrix("A", (k, n)) @ X), X, False


def _case_det(n, m, k):
    X = kv.Matrix("X", (n, n))
    return kv.det(X), X, False


def _case_logdet(n, m, k):
    X = kv.Matrix("X", (n, m))
    return kv.logdet(X.T @ X + kv.Matrix("S", (m, m), symmetric=True)), X, False


def _case_kron(n, m, k):
    A, B = kv.Matrix("A", (n, k)), kv.Matrix("B", (m, 2))
    return kv.kron(A, B) + kv.kron(kv.Matrix("C", (n, k)), B), B, False


def _case_kron_contract(n, m, k):
    # the gradient of tr(C (A ⊗ B)) contains kron_contract; differentiate it again
    A, B, C = kv.Matrix("A", (n, k)), kv.Matrix("B", (m, 2)), kv.Matrix("C", (2 * k, m * n))
    g = kv.grad(kv.trace(C @ kv.kron(A, B)), A)
    assert any(node.op == "kron_contract" for node in g.walk())
    return g, B if n % 2 else C, False


def _case_hadamard(n, m, k):
    X, A = kv.Matrix("X", (n, k)), kv.Matrix("A", (n, k))
    return A * X * X, X, False


def _case_power(n, m, k):
    X = kv.Matrix("X", (n, k))
    return X ** 3 + X ** -1.5, X, True


def _elementwise(fname):
    def case(n, m, k):
        X = kv.Matrix("X", (n, k))
        return getattr(kv, fname)(kv.Matrix("A", (n, k)) * X), X, True
    return case


def _signed(fname):
    """f(A ⊙ X − 5/4) with A, X in [1/2, 2]: arguments of both signs (kinks have measure zero)."""
    def case(n, m, k):
        X = kv.Matrix("X", (n, k))
        return getattr(kv, fname)(kv.Matrix("A", (n, k)) * X - 1.25), X, True
    return case


def _axis(n, m, k):
    return [None, 0, 1, -1][(n + m + k) % 4]


def _along_axis(fname):
    def case(n, m, k):  # slices of two or more entries (over one entry these functions are trivial)
        X = kv.Matrix("X", (n + 1, k + 1))
        return getattr(kv, fname)(kv.Matrix("A", (n + 1, k + 1)) * X - 1.25, axis=_axis(n, m, k)), X, True
    return case


def _case_extremum(fname):
    def case(n, m, k):  # a column broadcast against a matrix, arguments crossing
        X, b = kv.Matrix("X", (n, k)), kv.Vector("b", n)
        return getattr(kv, fname)(kv.Matrix("A", (n, k)) * X - 1.25, b), X if k % 2 else b, True
    return case


def _case_weights(fname):
    def case(n, m, k):  # the gradient of max contains its weights; differentiate them again
        X = kv.Matrix("X", (n + 1, k + 1))
        g = kv.grad(kv.sum(getattr(kv, fname)(X, axis=_axis(n, m, k))), X)
        assert any(node.op == f"{fname}_weights" for node in g.walk())
        return kv.Matrix("A", (n + 1, k + 1)) * g, X, False
    return case


def _case_mean(n, m, k):
    X = kv.Matrix("X", (n, k))
    return kv.mean(X @ kv.Matrix("B", (k, m)), axis=_axis(n, m, k)), X, False


def _case_cumsum(n, m, k):  # X ⊙ X: a nonlinear argument, so that the Hessian check is not trivial
    X = kv.Matrix("X", (n, k))
    return kv.cumsum(X * X @ kv.Matrix("B", (k, m)), axis=_axis(n, m, k)), X, False


def _case_sum(n, m, k):
    X = kv.Matrix("X", (n, k))
    return kv.sum(X @ kv.Matrix("B", (k, m))), X, False


def _case_norm(n, m, k):
    X = kv.Matrix("X", (n, k))
    return kv.norm(X - kv.Matrix("A", (n, k))), X, False


def _case_diag(n, m, k):
    v = kv.Vector("v", n)
    return kv.diag(v) @ kv.Matrix("A", (n, m)), v, False


def _case_diagpart(n, m, k):
    X = kv.Matrix("X", (n, n))
    return kv.Matrix("A", (m, n)) @ kv.diag(X @ X), X, False


def _case_matpow(n, m, k):
    X = kv.Matrix("X", (n, n))
    return kv.matrix_power(X, 3), X, False


def _case_matpow_large(n, m, k):  # beyond the written-out powers: the O(log k) map
    X = kv.Matrix("X", (n, n))
    return kv.matrix_power(0.4 * X, 7), X, False


def _case_matpow_frechet(n, m, k):
    X, C = kv.Matrix("X", (n, n)), kv.Matrix("C", (n, n))
    g = kv.grad(kv.trace(C @ kv.matrix_power(0.4 * X, 6)), X)
    assert any(node.op == "matrix_power_frechet" for node in g.walk())
    return g, C if k % 2 else X, False  # in X: a Hessian of it would be a third derivative


def _case_matpow_frechet2(n, m, k):
    X, C, W = kv.Matrix("X", (n, n)), kv.Matrix("C", (n, n)), kv.Matrix("W", (n, n))
    g = kv.grad(kv.sum(W * kv.grad(kv.trace(C @ kv.matrix_power(0.4 * X, 5)), X)), X)
    assert any(node.op == "matrix_power_frechet2" for node in g.walk())
    return g, W if k % 2 else C, False


def _case_expm(n, m, k):
    X = kv.Matrix("X", (n, n))
    return kv.expm(0.3 * X), X, False


def _case_expm_frechet2(n, m, k):
    X, C, W = kv.Matrix("X", (n, n)), kv.Matrix("C", (n, n)), kv.Matrix("W", (n, n))
    g = kv.grad(kv.sum(W * kv.grad(kv.trace(C @ kv.expm(0.3 * X)), X)), X)
    assert any(node.op == "expm_frechet2" for node in g.walk())
    return g, W if k % 2 else C, False


def _case_expm_frechet(n, m, k):
    X, C = kv.Matrix("X", (n, n)), kv.Matrix("C", (n, n))
    g = kv.grad(kv.trace(C @ kv.expm(0.3 * X)), X)
    assert any(node.op == "expm_frechet" for node in g.walk())
    return g, C, False


def _case_index(n, m, k):
    X = kv.Matrix("X", (n + 1, k))
    return X[0, -1] * (kv.Matrix("A", (m, n)) @ X[1:, ::-1]), X, False


def _case_place(n, m, k):
    # the gradient through an index contains a placement; differentiate it again
    X = kv.Matrix("X", (n + 1, k))
    g = kv.grad(kv.sum(X[1:, ::2] ** 3), X)
    assert any(node.op == "place" for node in g.walk())
    return g, X, False


def _case_block(n, m, k):
    X, A, B = kv.Matrix("X", (n, k)), kv.Matrix("A", (n, n)), kv.Matrix("B", (1, k))
    return kv.block([[X, A @ X], [B, X[:1, :] * X[-1:, :]]]), X, False


def _case_hstack(n, m, k):
    X = kv.Matrix("X", (n, k))
    return kv.hstack([X, X[:, :1] * X[:, -1:], X[0, 0]]) if n == 1 else \
        kv.hstack([X, X[:, :1] * X[:, -1:]]), X, False


def _case_vstack(n, m, k):
    X, B = kv.Matrix("X", (n, k)), kv.Matrix("B", (k, k))
    return kv.vstack([X @ B, X[-1:, :] * X[:1, :]]), X, False


def _case_pow(n, m, k):
    # X ** t differentiates the base, t ** X the exponent
    X, t = kv.Matrix("X", (n, k)), kv.Scalar("t")
    return (X ** t) * (t ** (kv.Matrix("A", (n, k)) * X)), X, True


def _spd(n, m):
    X = kv.Matrix("X", (n + m, n))
    return X.T @ X + n * kv.eye(n)


def _skew(n):
    """0.1(A − Aᵀ) + 0.01A: a small non-symmetric part (a function reading one triangle sees half of it)."""
    A = kv.Matrix("A", (n, n))
    return 0.1 * (A - A.T) + 0.01 * A, A


def _case_tri(n, m, k):
    X = kv.Matrix("X", (n, n))
    kinds = sorted(TRIANGLE_KINDS)
    parts = [tri(X, kinds[(n + j * k) % len(kinds)]) for j in range(3)]
    return kv.Matrix("B", (m, n)) @ (parts[0] @ parts[1] + parts[2].T), X, False


def _case_cholesky(n, m, k):
    skew, A = _skew(n)
    return kv.cholesky(_spd(n, m) + skew) @ kv.Matrix("B", (n, k)), A, False


def _case_solve_triangular(n, m, k):
    A, B = kv.Matrix("A", (n, n)), kv.Matrix("B", (n, k))
    X = kv.solve_triangular(A + 3 * n * kv.eye(n), B, trans=m % 2, lower=n % 2 == 0, unit_diagonal=k % 2 == 0)
    return X, (A if m + k > 3 else B), False


def _case_eigvalsh(n, m, k):
    skew, A = _skew(n)
    return kv.eigvalsh(_spd(n, m) + skew, UPLO="LU"[k % 2]), A, False


def _case_eigh_vectors(n, m, k):
    skew, A = _skew(n)
    w, V = kv.eigh(_spd(n, m) + skew, UPLO="LU"[k % 2])
    return kv.Matrix("B", (m, n)) @ V, A, False


def _case_eigh_column(n, m, k):
    skew, A = _skew(n)
    w, V = kv.eigh(_spd(n, m) + skew, UPLO="LU"[k % 2])
    column = V[:, n - 1]
    assert column.op == "eigh_column" or n == 1  # (V[:, 0] of a 1×1 V is V)
    return kv.Matrix("B", (m, n)) @ column, A, False


def _case_eigh_resolvent(n, m, k):
    skew, A = _skew(n)
    return kv.Matrix("B", (m, n)) @ reduced_resolvent(_spd(n, m) + skew, k % n, "LU"[k % 2]), A, False


def _case_gapinv(n, m, k):
    v = kv.Vector("v", n)
    return gapinv(0.1 * v + np.arange(n, dtype=float).reshape(-1, 1)), v, False


def _case_eigfun(n, m, k):
    skew, A = _skew(n)
    # the gradient of Σ φ(wᵢ): V diag(φ'(w)) Vᵀ, an eigfun node
    g = kv.grad(kv.sum(kv.exp(0.3 * kv.eigvalsh(_spd(n, m) + skew))), A)
    assert any(node.op == "eigfun" for node in g.walk())
    return g, A, False


def _case_eigfun_frechet(n, m, k):
    # L(A, E) of V exp(0.3w) Vᵀ (the derivative in A, second order, is tested in test_eigen_ties)
    a = _spd(n, m)
    E = kv.Matrix("E", (n, n))
    return eigfun_frechet(a, kv.exp(0.3 * kv.eigvalsh(a, "LU"[k % 2])), E, "LU"[k % 2]), E, False


def _case_eigfun_frechet2(n, m, k):
    a = _spd(n, m)
    H, E = kv.Matrix("H", (n, n)), kv.Matrix("E", (n, n))
    return eigfun_frechet2(a, kv.eigvalsh(a) ** 3, H, E + H.T), H, False


def _case_divdiff(n, m, k):
    v = kv.Vector("v", n)
    w = 0.1 * v + np.arange(n, dtype=float).reshape(-1, 1)
    return divdiff(w, kv.sin(w), kv.cos(w)) + divdiff(w, kv.Matrix("u", (n, 1))), v, False


def _svd_case(index):
    def case(n, m, k):
        X = kv.Matrix("X", (n, m))
        out = kv.svd(X)[index]
        return (kv.Matrix("B", (k, out.shape[0])) @ out if index != 1 else out), X, False
    return case


def _norm_case(order):
    def case(n, m, k):
        X = kv.Matrix("X", (n, m))
        return kv.norm(X - kv.Matrix("A", (n, m)), ord=order), X, False
    return case


def _qr_case(index):
    def case(n, m, k):
        X = kv.Matrix("X", (n + m - 1, n))
        out = kv.qr(X)[index]
        return kv.Matrix("B", (k, out.shape[0])) @ out, X, False
    return case


def _lu_case(index):
    def case(n, m, k):
        X = kv.Matrix("X", (n, n))
        return kv.Matrix("B", (k, n)) @ kv.lu(X)[index], X, False
    return case


def _case_pinv(n, m, k):
    X = kv.Matrix("X", (n, n + m - 1) if k % 2 else (n + m - 1, n))
    return kv.pinv(X), X, False


def _matfun_case(fn):
    def case(n, m, k):
        A = kv.Matrix("A", (n, n))
        f = getattr(kv, fn)
        # a general A (Schur/Sylvester or the block formula) and a symmetric value (Daleckii–Krein);
        # SciPy's logm is slow, so half of the draws keep to the symmetric one
        symmetric = f(A.T @ A + kv.eye(n))
        return (symmetric + f(A + n * kv.eye(n)) if fn == "sqrtm" or (n + m + k) % 2 else symmetric), A, False
    return case


def _case_sqrtm_frechet(n, m, k):
    A, C = kv.Matrix("A", (n, n)), kv.Matrix("C", (n, n))
    g = kv.grad(kv.trace(C @ kv.sqrtm(A + n * kv.eye(n))), A)
    assert any(node.op == "sqrtm_frechet" for node in g.walk())
    return g, A, False


def _case_logm_frechet(n, m, k):
    A, C = kv.Matrix("A", (n, n)), kv.Matrix("C", (n, n))
    g = kv.grad(kv.trace(C @ kv.logm(A + n * kv.eye(n))), A)
    assert any(node.op == "logm_frechet" for node in g.walk())
    return g, C, False


def _case_logm_frechet2(n, m, k):
    A, C, W = kv.Matrix("A", (n, n)), kv.Matrix("C", (n, n)), kv.Matrix("W", (n, n))
    g = kv.grad(kv.sum(W * kv.grad(kv.trace(C @ kv.logm(A + n * kv.eye(n))), A)), A)
    assert any(node.op == "logm_frechet2" for node in g.walk())
    return g, W if k % 2 else C, False


def _case_permute(n, m, k):  # the axes of a stack permuted, then a matrix against the stack
    X = kv.Matrix("X", (2, n, k))
    return kv.Matrix("A", (m, 2)) @ kv.transpose(X, (1, 0, 2)), X, False


def _case_swapaxes(n, m, k):
    X = kv.Matrix("X", (n, 2, k))
    return kv.swapaxes(X, 0, -1) * kv.Matrix("A", (k, 2, n)), X, False


def _case_reshape(n, m, k):
    X = kv.Matrix("X", (2, n, k))
    return c_order_reshape(X * X, (n, 2 * k)) @ kv.Matrix("B", (2 * k, m)), X, False


def _case_broadcast_to(n, m, k):
    X = kv.Matrix("X", (n, k))
    return broadcast_to(X * X, (2, n, k)) * kv.Matrix("A", (2, n, k)), X, False


def _case_reduce_sum(n, m, k):
    X = kv.Matrix("X", (2, n, k))
    return kv.sum(X * kv.Matrix("A", (2, n, k)) * X, axis=(n + m + k) % 3), X, False


def _stack_along_axes(fname):
    def case(n, m, k):  # a stack of two members; one axis (negative), a pair, or all of them
        X = kv.Matrix("X", (2, n + 1, k + 1))
        axis = [0, (0, 2), None, (-2, -1), -1][(n + m + k) % 5]
        keep = {"keepdims": bool(m % 2)} if fname in ("max", "min", "logsumexp") else {}
        return getattr(kv, fname)(kv.Matrix("A", (2, n + 1, k + 1)) * X - 1.25, axis=axis, **keep), X, True
    return case


def _case_tensordot(n, m, k):
    X = kv.Matrix("X", (2, n, k))
    return kv.tensordot(X * X, kv.Matrix("A", (n, k, m)), axes=2), X, False


def _case_slogdet(n, m, k):
    X = kv.Matrix("X", (n, n))
    return kv.slogdet(X.T @ X + kv.Matrix("S", (n, n), symmetric=True))[1], X, False


def _case_slogdet_sign(n, m, k):  # piecewise constant: derivative 0
    X = kv.Matrix("X", (n, n))
    return kv.slogdet(X + kv.Matrix("S", (n, n), symmetric=True))[0] * kv.trace(X), X, False


def _p_norm_case(order, axis=0):
    def case(n, m, k):  # entries of both signs (|x|^p has its kink at 0, of measure zero)
        X = kv.Matrix("X", (n, k))
        return kv.norm(kv.Matrix("A", (n, k)) * X - 1.25, order, axis), X, True
    return case


def _case_diagonal(n, m, k):  # offset diagonals of the rectangular members of a stack, squared: (2, k)
    X = kv.Matrix("X", (2, n + 1, k + 1))
    d = kv.diagonal(X * kv.Matrix("A", (2, n + 1, k + 1)), (n + k) % 3 - 1, -2, -1)
    return d * d, X, False


def _case_offset_trace(n, m, k):  # planes (0, 3) of a four-axis stack, with an offset: (2, m)
    X = kv.Matrix("X", (n + 1, 2, m, k + 1))
    return kv.trace(X * X, offset=1 - 2 * ((n + k) % 2), axis1=0, axis2=3), X, False


def _case_pinv_rtol(n, m, k):
    X = kv.Matrix("X", (n, n + m - 1) if k % 2 else (n + m - 1, n))
    return kv.pinv(X, rtol=1e-6), X, False


def _wide(fname):
    """f(4 A ⊙ X − 8) with A, X in [1/2, 2]: arguments from −7 to 8 (both tails of the normal)."""
    def case(n, m, k):
        X = kv.Matrix("X", (n, k))
        return fname(4.0 * (kv.Matrix("A", (n, k)) * X) - 8.0), X, True
    return case


def _case_polygamma(n, m, k):
    X = kv.Matrix("X", (n, k))
    return kv.polygamma(1 + (n + m + k) % 3, kv.Matrix("A", (n, k)) * X), X, True


def _case_logit(n, m, k):  # arguments in [0.05, 0.8]
    X = kv.Matrix("X", (n, k))
    return kv.logit(0.2 * (kv.Matrix("A", (n, k)) * X)), X, True


def _case_xlogy(fn):
    def case(n, m, k):  # x of both signs, a positive column y broadcast against it
        X, b = kv.Matrix("X", (n, k)), kv.Vector("b", n)
        return fn(kv.Matrix("A", (n, k)) * X - 1.25, b), X if k % 2 else b, True
    return case


CASES = {
    "diagonal": _case_diagonal, "offset_trace": _case_offset_trace, "pinv_checked": _case_pinv_rtol,
    "slogdet": _case_slogdet, "slogdet_sign": _case_slogdet_sign,
    "vector_norm": _p_norm_case(3), "abs_power": _p_norm_case(-1.5, 1), "signed_power": _p_norm_case(0.5),
    "norm_of_order": _p_norm_case(1, None), "smallest_singular_value": _norm_case(-2),
    "smallest_weights": _norm_case(-2),
    "matmul": _case_matmul, "add": _case_add, "named": _case_named, "scale": _case_scale,
    "smul": _case_smul, "matrix_transpose": _case_transpose, "inv": _case_inv, "trace": _case_trace,
    "det": _case_det, "logdet": _case_logdet, "kron": _case_kron,
    "kron_contract": _case_kron_contract, "multiply": _case_hadamard, "power": _case_power,
    "exp": _elementwise("exp"), "log": _elementwise("log"), "sin": _elementwise("sin"),
    "cos": _elementwise("cos"), "tanh": _elementwise("tanh"), "arctan": _elementwise("arctan"),
    "sigmoid": _elementwise("sigmoid"),
    "sum": _case_sum, "cumsum": _case_cumsum,
    "norm": _case_norm, "diag": _case_diag, "diagpart": _case_diagpart, "matrix_power": _case_matpow,
    "matpow large": _case_matpow_large, "matrix_power_frechet": _case_matpow_frechet,
    "matrix_power_frechet2": _case_matpow_frechet2,
    "expm": _case_expm, "expm_frechet": _case_expm_frechet, "expm_frechet2": _case_expm_frechet2,
    "solve": lambda n, m, k: (kv.solve(kv.Matrix("A", (n, n)), kv.Matrix("X", (n, k))),
                              kv.Matrix("A", (n, n)), False),
    "sqrt": lambda n, m, k: (kv.sqrt(kv.Matrix("X", (n, k))), kv.Matrix("X", (n, k)), True),
    "getitem": _case_index, "index": _case_index, "place": _case_place, "block": _case_block,
    "hstack": _case_hstack, "vstack": _case_vstack, "pow": _case_pow,
    "tri": _case_tri, "cholesky": _case_cholesky, "solve_triangular": _case_solve_triangular,
    "eigvalsh": _case_eigvalsh, "eigh_vectors": _case_eigh_vectors, "eigh": _case_eigh_vectors,
    "eigh_column": _case_eigh_column, "eigh_resolvent": _case_eigh_resolvent,
    "gapinv": _case_gapinv, "svd_U": _svd_case(0), "svdvals": _svd_case(1), "svd_Vt": _svd_case(2),
    "svd": _svd_case(0), "nuclear_norm": _norm_case("nuc"), "spectral_norm": _norm_case(2),
    "qr_Q": _qr_case(0), "qr_R": _qr_case(1), "qr": _qr_case(0),
    "lu_P": _lu_case(0), "lu_L": _lu_case(1), "lu_U": _lu_case(2), "lu": _lu_case(1),
    "pinv": _case_pinv, "sqrtm": _matfun_case("sqrtm"), "logm": _matfun_case("logm"),
    "sqrtm_frechet": _case_sqrtm_frechet, "logm_frechet": _case_logm_frechet,
    "logm_frechet2": _case_logm_frechet2, "eigfun": _case_eigfun, "divdiff": _case_divdiff,
    "eigfun_frechet": _case_eigfun_frechet, "eigfun_frechet2": _case_eigfun_frechet2,
    "log1p": _elementwise("log1p"), "expm1": _signed("expm1"), "square": _signed("square"),
    "softplus": _signed("softplus"), "abs": _signed("abs"), "sign": _signed("sign"),
    "relu": _signed("relu"),
    "heaviside": lambda n, m, k: (kv.heaviside(kv.Matrix("X", (n, k)) - 1.25, 0.5),
                                  kv.Matrix("X", (n, k)), True),
    "maximum": _case_extremum("maximum"), "minimum": _case_extremum("minimum"),
    "max": _along_axis("max"), "min": _along_axis("min"),
    "max_weights": _case_weights("max"), "min_weights": _case_weights("min"),
    "mean": _case_mean, "logsumexp": _along_axis("logsumexp"), "softmax": _along_axis("softmax"),
    "log_softmax": _along_axis("log_softmax"),
    "transpose": _case_permute, "swapaxes": _case_swapaxes, "c_order_reshape": _case_reshape,
    "broadcast_to": _case_broadcast_to, "reduce_sum": _case_reduce_sum, "tensordot": _case_tensordot,
    "reduce_max": _stack_along_axes("max"), "reduce_min": _stack_along_axes("min"),
    "reduce_logsumexp": _stack_along_axes("logsumexp"), "stacked softmax": _stack_along_axes("softmax"),
    "stacked log_softmax": _stack_along_axes("log_softmax"),
    "gammaln": _elementwise("gammaln"), "digamma": _elementwise("digamma"), "polygamma": _case_polygamma,
    "erf": _signed("erf"), "erfc": _signed("erfc"), "ndtr": _wide(kv.ndtr), "log_ndtr": _wide(kv.log_ndtr),
    "ndtr_ratio": _wide(ndtr_ratio), "logit": _case_logit, "xlogy": _case_xlogy(kv.xlogy),
    "xdivy": _case_xlogy(xdivy),
    **TRUST_CASES,
    **TENSOR_CASES,
}


dims = st.tuples(st.integers(1, 4), st.integers(1, 4), st.integers(1, 4))


@pytest.mark.parametrize("op", sorted(CASES))
@settings(max_examples=12, deadline=None)
@given(sizes=dims, seed=st.integers(0, 2 ** 16))
def test_rule_matches_finite_differences(op, sizes, seed):
    f, wrt, positive = CASES[op](*sizes)
    values = random_values(f, np.random.default_rng(seed), positive=positive)
    check_jacobian(f, wrt, values, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("op", sorted(CASES))
def test_gradient_of_a_scalar_through_each_rule(op):
    """grad of ⟨W, F⟩ equals Jᵀ vec W (finite differences)."""
    f, wrt, positive = CASES[op](3, 2, 4)
    W = kv.Matrix("W", f.shape) if f.shape != () else kv.Constant(1.0)
    scalar = kv.sum(W * f) if f.shape != () else f
    rng = np.random.default_rng(7)
    values = random_values(scalar, rng, positive=positive)
    G = kv.evaluate(kv.grad(scalar, wrt), values)
    fd = fd_jacobian(scalar, wrt, values).reshape(wrt.shape, order="F")
    np.testing.assert_allclose(G, fd, rtol=1e-5, atol=1e-6 * max(1, np.abs(fd).max()))


# Ops whose second derivative kronvec does not have (it raises NotImplementedError, tested below).
NO_SECOND_ORDER: set[str] = set()


@pytest.mark.parametrize("op", sorted(set(CASES) - NO_SECOND_ORDER))
def test_hessian_matches_finite_differences_of_the_gradient(op):
    f, wrt, positive = CASES[op](3, 2, 3)
    scalar = f if f.shape in ((), (1, 1)) else kv.sum(f * f)
    values = random_values(scalar, np.random.default_rng(3), positive=positive)
    g = kv.grad(scalar, wrt)
    H = kv.hessian(scalar, wrt).at(values)
    assert H.in_shape == H.out_shape == wrt.shape
    np.testing.assert_allclose(H.to_dense(), fd_jacobian(g, wrt, values), rtol=1e-5, atol=1e-5)


def test_third_derivative_through_expm_is_refused_clearly():
    X, C = kv.Matrix("X", (3, 3)), kv.Matrix("C", (3, 3))
    g = kv.grad(kv.sum(kv.grad(kv.trace(C @ kv.expm(X)), X)), X)
    with pytest.raises(NotImplementedError, match="third derivatives through expm"):
        kv.jacobian(g, X)


def test_trace_of_expm_has_a_hessian():
    """∇ tr(e^X) = L(Xᵀ, I) = e^(Xᵀ), whose derivative is the Fréchet derivative again."""
    X = kv.Matrix("X", (3, 3))
    f = kv.trace(kv.expm(0.3 * X))
    values = random_values(f, np.random.default_rng(1))
    H = kv.hessian(f, X).at(values)
    np.testing.assert_allclose(H.to_dense(), fd_jacobian(kv.grad(f, X), X, values), rtol=1e-5, atol=1e-6)
