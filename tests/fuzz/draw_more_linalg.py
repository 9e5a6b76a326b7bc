"""Program steps of the v1.3 linear algebra: slogdet, the norms of every ord, diagonals and
traces with offsets, LU of tall and wide matrices, QR of wide ones, and columns of eigh's
eigenvectors whose eigenvalue is simple.

Guards keep the point away from what has no derivative: kinks of |x| and ties of max
(norms of ord 1, ∞, −1, −∞, vector p-norms), repeated or small singular values (ord −2),
pivoting ties (LU), a singular leading block (LU, wide QR) and repeated eigenvalues at
the drawn column (eigh). Outputs fixed only up to sign (eigenvector columns) enter as
their squares.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg as sla

import kronvec as kv

from .terms import Context, Guard, Term, Values, singular_values, spectral_gaps


def _per_member(f: Any, a: np.ndarray) -> np.ndarray:
    """``f`` applied to each member of a stack."""
    flat = a.reshape((-1,) + a.shape[-2:])
    results = [np.asarray(f(m)) for m in flat]
    return np.stack(results).reshape(a.shape[:-2] + results[0].shape) if a.ndim > 2 else results[0]


def _member_tags(t: Term, scalar_per_member: bool) -> tuple[str, ...]:
    if not scalar_per_member or len(t.shape) < 3:
        return ()
    return ("per-member scalars",) + (("per-member scalars of a stack with two stack axes",)
                                      if len(t.shape) >= 4 else ())


def _gap_of_sorted(values: np.ndarray) -> float:
    """The gap between the largest two values along the last axis (ties of a max)."""
    if values.shape[-1] < 2:
        return np.inf
    top = np.sort(values, axis=-1)
    return float(np.min(top[..., -1] - top[..., -2]))


# ----------------------------------------------------------------------- slogdet
def draw_slogdet(ctx: Context, t: Term) -> Term | None:
    """sign · logabsdet (or logabsdet alone) of Q = 0.3 t Cᵀ ± 3I: a sign of either kind."""
    if len(t.shape) < 2 or not ctx.allows(("slogdet of a stack",) if len(t.shape) >= 3 else ()):
        return None
    n = t.shape[-2]
    c = ctx.rng.standard_normal(t.shape[-2:])
    shift = ctx.pick([3.0, -3.0])
    q = t.then(0.3 * (t.expr @ c.T) + shift * kv.eye(n),
               lambda v: 0.3 * (t.twin(v) @ c.T) + shift * np.eye(n))
    sign, logabs = kv.slogdet(q.expr)
    both = ctx.pick([True, False])
    expr = sign * logabs if both else logabs

    def twin(v: Values) -> np.ndarray:
        s, la = np.linalg.slogdet(q.twin(v))
        return np.asarray(s * la if both else la)
    guard = Guard("singular", lambda v: float(np.min(np.linalg.svd(q.twin(v), compute_uv=False))))
    tags = _member_tags(t, True) + (("slogdet of a stack",) if len(t.shape) >= 3 else ())
    return q.then(expr, twin, guards=(guard,), tags=tags)


# ------------------------------------------------------------------------- norms
MATRIX_ORDS: list[Any] = [1, -1, np.inf, -np.inf, -2]
VECTOR_ORDS: list[Any] = [1, 3, 0.5, np.inf, -np.inf, -1]


def _matrix_norm_guard(t: Term, ord_: Any) -> Guard:
    if ord_ == -2:
        svals = singular_values(t.twin)

        def margin(v: Values) -> float:  # the smallest singular value: simple and away from 0
            s = np.sort(svals(v), axis=-1)
            gap = float(np.min(s[..., 1:2] - s[..., 0:1], initial=np.inf))
            return min(float(np.min(s[..., 0])) - 0.1, gap)
        return Guard("smallest singular value tie or zero", margin)
    axis = -2 if abs(ord_) == 1 else -1  # ord ±1: sums of columns; ±∞: sums of rows

    def sums_margin(v: Values) -> float:
        a = t.twin(v)
        sums = np.sum(np.abs(a), axis=axis)
        kink = float(np.min(np.abs(a)))
        return min(kink, _gap_of_sorted(sums if ord_ > 0 else -sums))
    return Guard("norm tie or kink", sums_margin)


def _vector_norm_guard(t: Term, ord_: Any, axis: int) -> Guard:
    def margin(v: Values) -> float:
        a = np.abs(t.twin(v))
        kink = float(np.min(a))
        if np.isinf(ord_):
            moved = np.moveaxis(a, axis, -1)
            return min(kink, _gap_of_sorted(moved if ord_ > 0 else -moved))
        return kink
    return Guard("vector norm tie or kink", margin)


def draw_norm_of_order(ctx: Context, t: Term) -> Term | None:
    """kv.norm with a matrix ord (1, −1, ∞, −∞, −2) over the member axes, or a vector p-norm
    (1, 3, ½, ∞, −∞, −1) along one axis, as np.linalg.norm."""
    if len(t.shape) < 2:
        return None
    if ctx.pick(["matrix", "vector"]) == "matrix":
        ord_ = ctx.pick(MATRIX_ORDS)
        if ord_ == -2 and 1 in t.shape[-2:] and t.shape[-2:] != (1, 1):
            return None  # (through a 1×1 Gram matrix: the smallest of one singular value)
        axes = {"axis": (-2, -1)} if len(t.shape) >= 3 else {}
        tags = _member_tags(t, True) + (("norm -2 of a stack with two stack axes",)
                                        if ord_ == -2 and len(t.shape) >= 4 else ())
        if not ctx.allows(tags):
            return None
        expr = kv.norm(t.expr, ord_, **axes)
        return t.then(expr, lambda v: np.asarray(np.linalg.norm(t.twin(v), ord_, **axes)),
                      guards=(_matrix_norm_guard(t, ord_),), tags=tags)
    ord_ = ctx.pick(VECTOR_ORDS)
    axis = ctx.pick([-2, -1])
    expr = kv.norm(t.expr, ord_, axis=axis)
    matrix = len(t.shape) == 2  # a matrix keeps the reduced axis (the (n, 1) / (1, m) convention)

    def twin(v: Values) -> np.ndarray:
        return np.asarray(np.linalg.norm(t.twin(v), ord_, axis=axis, keepdims=matrix))
    return t.then(expr, twin, guards=(_vector_norm_guard(t, ord_, axis),))


# ------------------------------------------------------------- diagonals, traces
def draw_diagonal_or_trace(ctx: Context, t: Term) -> Term | None:
    """kv.diagonal / kv.trace with an offset and a pair of axes (stack axes included), as NumPy."""
    if len(t.shape) < 2:
        return None
    nd = len(t.shape)
    pairs = [(nd - 2, nd - 1), (nd - 1, nd - 2)] + ([(0, nd - 1), (nd - 2, 0)] if nd >= 3 else [])
    axis1, axis2 = ctx.pick(pairs)
    size1, size2 = t.shape[axis1], t.shape[axis2]
    offset = ctx.pick(sorted({0, 1, -1, size2 - 1, -(size1 - 1)}))
    if not -size1 < offset < size2:
        return None
    kind = ctx.pick(["diagonal", "trace"])
    if kind == "trace" and nd == 2 and offset == 0 and size1 != size2:
        return None  # kv.trace of a non-square matrix raises (the v1 contract, unlike np.trace)
    if kind == "diagonal":
        expr = kv.diagonal(t.expr, offset, axis1, axis2)

        def twin(v: Values) -> np.ndarray:
            return np.diagonal(t.twin(v), offset, axis1, axis2)
    else:
        expr = kv.trace(t.expr, offset, axis1, axis2)

        def twin(v: Values) -> np.ndarray:
            return np.asarray(np.trace(t.twin(v), offset, axis1, axis2))
    tags = ("diagonal of a stack across a stack axis",) if nd >= 3 and (axis1, axis2) not in \
        ((nd - 2, nd - 1), (nd - 1, nd - 2)) else ()
    return t.then(expr, twin, tags=tags)


# ----------------------------------------------------------- rectangular factors
def _pivot_margin(a: np.ndarray) -> float:
    """The smallest gap, over the elimination steps of partial pivoting, between the chosen
    pivot's magnitude and the next candidate's (a tie swaps rows discontinuously), and the
    smallest pivot (a singular leading block)."""
    worst = np.inf
    for member in a.reshape((-1,) + a.shape[-2:]):
        u = np.array(member, dtype=float)
        m, n = u.shape
        for j in range(min(m, n)):
            column = np.abs(u[j:, j])
            order = np.sort(column)
            worst = min(worst, float(order[-1]), float(order[-1] - order[-2]) if len(order) > 1 else np.inf)
            p = j + int(np.argmax(column))
            u[[j, p]] = u[[p, j]]
            if u[j, j] != 0:
                u[j + 1:, j:] -= np.outer(u[j + 1:, j] / u[j, j], u[j, j:])
    return worst


def draw_rectangular_factor(ctx: Context, t: Term) -> Term | None:
    """L or U of kv.lu (tall, wide or square, as scipy.linalg.lu), or Q or R of kv.qr of a wide t."""
    if len(t.shape) < 2:
        return None
    m, n = t.shape[-2:]
    options = ["lu L", "lu U"] + (["qr Q", "qr R"] if m < n else [])
    name = ctx.pick(options)
    if name.startswith("lu"):
        index = 1 if name == "lu L" else 2
        expr = kv.lu(t.expr)[index]

        def twin(v: Values) -> np.ndarray:
            return _per_member(lambda a: sla.lu(a)[index], t.twin(v))
        guards = (Guard("lu pivoting tie or singular leading block", lambda v: _pivot_margin(t.twin(v))),)
    else:
        index = 0 if name == "qr Q" else 1
        expr = kv.qr(t.expr)[index]

        def twin(v: Values) -> np.ndarray:
            return np.linalg.qr(t.twin(v))[index]
        guards = (Guard("singular leading block", lambda v: float(np.min(np.linalg.svd(
            t.twin(v)[..., :m], compute_uv=False))) - 0.15),)
    tags = ("1×1 intermediate into a matrix op",) if min(m, n) == 1 else ()
    return t.then(expr, twin, guards=guards, tags=tags)


# --------------------------------------------------------------- eigh columns
def draw_eigenvector_column(ctx: Context, t: Term) -> Term | None:
    """(column j of eigh(P)'s V)∘², P = t tᵀ + 2I, where only λⱼ need be simple: the other
    eigenvalues tie (at 2) when t has at least two fewer columns than rows; for a stack the
    column is V @ eⱼ."""
    if len(t.shape) < 2 or t.shape[-2] < 2:
        return None
    n = t.shape[-2]
    d = 2.0 * np.eye(n)
    p = t.then(t.expr @ kv.matrix_transpose(t.expr) + d,
               lambda v: t.twin(v) @ np.swapaxes(t.twin(v), -1, -2) + d)
    j = ctx.pick(list(range(n)))
    V = kv.eigh(p.expr)[1]
    unit = np.eye(n)[:, j:j + 1]
    column = V[:, j] if len(t.shape) == 2 else V @ unit
    guard = spectral_gaps("repeated eigenvalue at the column",
                          lambda v: _gaps_at(np.linalg.eigvalsh(p.twin(v)), j))
    tags = ("eigenvector column of a stack",) if len(t.shape) >= 3 else ()
    return p.then(column * column, lambda v: np.linalg.eigh(p.twin(v))[1][..., :, j:j + 1] ** 2,
                  guards=(guard,), tags=tags)


def _gaps_at(w: np.ndarray, j: int) -> np.ndarray:
    """[λⱼ − (the nearest other eigenvalue), 0] along the last axis: spectral_gaps reads the smallest
    positive difference of these two sorted values, the distance of λⱼ to the others."""
    others = np.delete(w, j, axis=-1)
    distance = np.min(np.abs(others - w[..., j:j + 1]), axis=-1, keepdims=True)
    return np.concatenate([np.zeros_like(distance), distance], axis=-1)


def draw_function_by_eigenbasis(ctx: Context, t: Term) -> Term | None:
    """V diag(tanh(θ w)) Vᵀ written by hand from eigh(P), P = t tᵀ + 2I, θ = 0.2 + tanh(Σ t)/20 a scalar
    of t: a function of the eigenvalues and of θ, with derivatives of every order the checks take
    (Daleckii–Krein at fixed θ) even where eigenvalues tie (at 2 when t has at least two fewer
    columns than rows).  On stacks (one or more stack axes, 1×1 members too) V diag(tanh(w/5)) Vᵀ,
    member by member."""
    if len(t.shape) > 2:
        return _function_by_eigenbasis_of_stack(t)
    if len(t.shape) != 2 or t.shape[0] < 2:
        return None
    n = t.shape[0]
    d = 2.0 * np.eye(n)
    p = t.then(t.expr @ t.expr.T + d, lambda v: t.twin(v) @ t.twin(v).T + d)
    w, V = kv.eigh(p.expr)
    theta = 0.2 + 0.05 * kv.tanh(kv.sum(t.expr))  # a scalar of t besides the eigenvalues

    def twin(v: Any) -> np.ndarray:
        wv, Vv = np.linalg.eigh(p.twin(v))
        return np.asarray(Vv @ np.diag(np.tanh((0.2 + 0.05 * np.tanh(np.sum(t.twin(v)))) * wv)) @ Vv.T)
    return p.then(V @ kv.diag(kv.tanh(theta * w)) @ V.T, twin, tags=("function written in the eigenbasis",))


def _function_by_eigenbasis_of_stack(t: Term) -> Term:
    n = t.shape[-2]
    d = 2.0 * np.eye(n)
    p = t.then(t.expr @ kv.matrix_transpose(t.expr) + d,
               lambda v: t.twin(v) @ np.swapaxes(t.twin(v), -1, -2) + d)
    w, V = kv.eigh(p.expr)

    def twin(v: Any) -> np.ndarray:
        wv, Vv = np.linalg.eigh(p.twin(v))
        return np.asarray((Vv * np.tanh(wv / 5)[..., None, :]) @ np.swapaxes(Vv, -1, -2))
    tags = ("function written in the eigenbasis of a stack",) + \
        (("function written in the eigenbasis of 1×1 members",) if n == 1 else ())
    return p.then(V @ kv.diag(kv.tanh(w / 5)) @ V.mT, twin, tags=tags)


MORE_LINALG_STEPS = [draw_slogdet, draw_norm_of_order, draw_diagonal_or_trace, draw_rectangular_factor,
                     draw_eigenvector_column, draw_function_by_eigenbasis]
