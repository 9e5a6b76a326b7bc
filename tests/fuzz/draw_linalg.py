"""Program steps of linear algebra: products, transposes, functions of square and SPD
matrices, factorizations, per-member scalars, norms, assembly and indexing.

Domains are kept valid by construction where possible: SPD arguments are
``P = T Tᵀ + I`` (eigenvalues ≥ 1), general square ones ``Q + 3I`` for a small Q;
guards (:mod:`fuzz.terms`) keep the rest away from repeated eigenvalues or singular
values, rank changes and pivoting ties. Outputs fixed only up to sign (eigenvectors,
singular vectors) enter as their squares, which are smooth.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import scipy.linalg as sla

import kronvec as kv

from .terms import Context, Guard, Term, Values, singular_values, smallest, spectral_gaps

Pair = tuple[Callable[[Any], Any], Callable[[np.ndarray], np.ndarray]]


def _mT(a: np.ndarray) -> np.ndarray:
    return np.swapaxes(a, -1, -2)


def _eye(n: int) -> np.ndarray:
    return np.eye(n)


def _is_matrix_like(t: Term) -> bool:
    return len(t.shape) >= 2


def _stack_ops(t: Term) -> tuple[str, ...]:
    """A per-member op after a softmax over stack members (issue 17, finding 1)."""
    return ("per-member op after mixing members",) if "softmax mixes stack members" in t.tags else ()


def _member_scalars(t: Term, is_scalar_per_member: bool) -> tuple[str, ...]:
    """Per-member scalars (det, norms of a stack), with two stack axes a family of their own."""
    if not is_scalar_per_member or len(t.shape) < 3:
        return ()
    return ("per-member scalars",) + (("per-member scalars of a stack with two stack axes",)
                                      if len(t.shape) >= 4 else ())


def _tiny(t: Term) -> tuple[str, ...]:
    """A matrix op on a 1×1 (or on t tᵀ for t of one row): finding 11's family."""
    return ("1×1 intermediate into a matrix op",) if t.shape[-2] == 1 else ()


def _one_by_one(t: Term) -> tuple[str, ...]:
    """A product with a 1×1 factor, which kronvec may have made a () scalar (finding 11)."""
    return ("1×1 intermediate into a matrix op",) if t.shape[-2:] == (1, 1) else ()


def draw_matrix_product(ctx: Context, t: Term) -> Term | None:
    """t @ C, C @ t (C a 2-D or 3-D constant) or t @ Y for a new symbol Y."""
    if not _is_matrix_like(t):
        return None
    n, m = t.shape[-2:]
    if not ctx.allows(_one_by_one(t)):
        return None
    k = ctx.pick([1, 2, 3])
    side = ctx.pick(["right", "left", "variable"] if len(ctx.variables) < 3 else ["right", "left"])
    if side == "variable":
        y = ctx.new_variable((m, k))
        return t.then(t.expr @ y.expr, lambda v: t.twin(v) @ y.twin(v), also=(y,), tags=_one_by_one(t))
    lead = ctx.pick([(), (t.shape[-3],) if len(t.shape) >= 3 else (2,)])
    c = ctx.rng.standard_normal(lead + ((m, k) if side == "right" else (k, n)))
    if side == "right":
        return t.then(t.expr @ c, lambda v: t.twin(v) @ c, tags=_one_by_one(t))
    return t.then(c @ t.expr, lambda v: c @ t.twin(v), tags=_one_by_one(t))


def draw_transpose(ctx: Context, t: Term) -> Term | None:
    """t.mT, t.T (all axes reversed, as NumPy) or kv.swapaxes on random axes."""
    if not _is_matrix_like(t):
        return None
    kind = ctx.pick(["mT", "T", "swapaxes"])
    if kind == "mT":
        return t.then(kv.matrix_transpose(t.expr), lambda v: _mT(t.twin(v)))
    if kind == "T":
        return t.then(t.expr.T, lambda v: t.twin(v).T)
    i, j = ctx.pick(list(range(len(t.shape)))), ctx.pick([-1, -2])
    return t.then(kv.swapaxes(t.expr, i, j), lambda v: np.swapaxes(t.twin(v), i, j))


SPD_CONDITION_LIMIT = 1e6
"""Largest condition number of P = t tᵀ + I at a valid point.  Past it a value made by solving
with P carries a relative error of about κ(P)·eps, which finite differences divide by their
step (10⁻⁶…10⁻⁸): at κ = 1.9·10¹⁰ ((M⁶ + I)⁻¹M³ with M = L Lᵀ + I, seed 41) central differences
are off by 0.14 and even the exact derivative, evaluated term by term as written, keeps only
two digits (terms of 10³ cancel to 0.1, each accurate to κ·eps), so no check can tell a wrong
derivative from rounding.  Nested powers (t = (X Xᵀ + I)³) reach it from small values."""


def _condition(t: Term) -> Guard:
    """κ(P) = (σmax(t)² + 1) / (σmin(t)² + 1) (σmin = 0 when t has fewer columns than rows), from t:
    P's own eigenvalues lose the small ones to rounding once κ(P) passes 1/eps."""
    def margin(v: Values) -> float:
        a = np.asarray(t.twin(v), dtype=float)
        if not np.isfinite(a).all():
            return -np.inf
        s = np.linalg.svd(a, compute_uv=False)
        low = s[..., -1] if a.shape[-1] >= a.shape[-2] else np.zeros(s.shape[:-1])
        return 1 - float(np.max((s[..., 0] ** 2 + 1) / (low ** 2 + 1))) / SPD_CONDITION_LIMIT
    return Guard("ill-conditioned P = t tᵀ + I", margin)


def _spd(t: Term) -> Term:
    """P = t tᵀ + I, per member, kept below :data:`SPD_CONDITION_LIMIT` in condition number."""
    n = t.shape[-2]
    p = t.then(t.expr @ kv.matrix_transpose(t.expr) + kv.eye(n),
               lambda v: t.twin(v) @ _mT(t.twin(v)) + _eye(n))
    return p.then(p.expr, p.twin, guards=(_condition(t),))


def _eigvals_guard(p: Term) -> Guard:
    return spectral_gaps("repeated eigenvalue", lambda v: np.linalg.eigvalsh(p.twin(v)))


SPD_FUNCTIONS: dict[str, Pair] = {
    "inv": (kv.inv, np.linalg.inv),
    "logdet": (kv.logdet, lambda a: np.linalg.slogdet(a)[1]),
    "det": (kv.det, np.linalg.det),
    "cholesky": (kv.cholesky, np.linalg.cholesky),
    "sqrtm": (kv.sqrtm, lambda a: _per_member(sla.sqrtm, a)),
    "logm": (kv.logm, lambda a: _per_member(sla.logm, a)),
    "eigvalsh": (kv.eigvalsh, lambda a: np.linalg.eigvalsh(a)[..., None]),
    "eigenvectors²": (lambda e: kv.eigh(e)[1] * kv.eigh(e)[1], lambda a: np.linalg.eigh(a)[1] ** 2),
    "power -2": (lambda e: kv.matrix_power(e, -2), lambda a: np.linalg.matrix_power(a, -2)),
    "power 3": (lambda e: kv.matrix_power(e, 3), lambda a: np.linalg.matrix_power(a, 3)),
    "pinv": (kv.pinv, np.linalg.pinv),
}
PER_MEMBER_SCALARS = {"logdet", "det"}


def _per_member(f: Callable[[np.ndarray], np.ndarray], a: np.ndarray) -> np.ndarray:
    """A SciPy matrix function applied to each member of a stack."""
    flat = a.reshape((-1,) + a.shape[-2:])
    return np.real(np.stack([f(member) for member in flat])).reshape(a.shape)


def draw_spd_function(ctx: Context, t: Term) -> Term | None:
    """A function of P = t tᵀ + I: inverse, (log)det, Cholesky, sqrtm, logm, eigen-things, powers."""
    if not _is_matrix_like(t):
        return None
    p = _spd(t)
    name = ctx.pick(sorted(SPD_FUNCTIONS))
    f, twin = SPD_FUNCTIONS[name]
    guards = (_eigvals_guard(p),) if name == "eigenvectors²" else ()
    tags = _stack_ops(t) + _tiny(t) + _member_scalars(t, name in PER_MEMBER_SCALARS)
    if name in ("sqrtm", "logm") and len(t.shape) >= 3:  # symmetric, but only up to rounding
        tags += ("sqrtm/logm of a stack", "sqrtm/logm of a non-symmetric stack")
    return p.then(f(p.expr), lambda v: np.asarray(twin(p.twin(v))), guards=guards, tags=tags)


def draw_solve(ctx: Context, t: Term) -> Term | None:
    """kv.solve(P, t) or kv.solve_triangular(P, t, ...) with P = t tᵀ + I (diagonal ≥ 1)."""
    if not _is_matrix_like(t):
        return None
    p = _spd(t)
    if ctx.pick(["solve", "triangular"]) == "solve":
        return p.then(kv.solve(p.expr, t.expr), lambda v: np.linalg.solve(p.twin(v), t.twin(v)),
                      also=(t,), tags=_stack_ops(t) + _tiny(t))
    lower, trans = ctx.pick([True, False]), ctx.pick([0, 1])
    # the triangle of an SPD matrix with unit-or-larger diagonal: well conditioned for n ≤ 3

    def twin(v):
        a, b = p.twin(v), t.twin(v)
        tri = np.tril(a) if lower else np.triu(a)
        return np.linalg.solve(_mT(tri) if trans else tri, b)
    return p.then(kv.solve_triangular(p.expr, t.expr, trans=trans, lower=lower), twin,
                  also=(t,), tags=_stack_ops(t) + _tiny(t))


def _square(ctx: Context, t: Term) -> Term:
    """Q = 0.3 t Cᵀ + 3I for a constant C of t's shape: square, eigenvalues near 3."""
    n = t.shape[-2]
    c = ctx.rng.standard_normal(t.shape[-2:])
    return t.then(0.3 * (t.expr @ c.T) + 3 * kv.eye(n), lambda v: 0.3 * (t.twin(v) @ c.T) + 3 * _eye(n))


GENERAL_FUNCTIONS: dict[str, Pair] = {
    "det": (kv.det, np.linalg.det),
    "trace": (lambda e: kv.trace(e, axis1=-2, axis2=-1), lambda a: np.trace(a, axis1=-2, axis2=-1)),
    "inv": (kv.inv, np.linalg.inv),
    "expm": (lambda e: kv.expm(0.3 * e), lambda a: _per_member(sla.expm, 0.3 * a)),
    "sqrtm": (kv.sqrtm, lambda a: _per_member(sla.sqrtm, a)),
    "logm": (kv.logm, lambda a: _per_member(sla.logm, a)),
    "power 2": (lambda e: kv.matrix_power(e, 2), lambda a: np.linalg.matrix_power(a, 2)),
    "lu L": (lambda e: kv.lu(e)[1], lambda a: _per_member(lambda m: sla.lu(m)[1], a)),
    "lu U": (lambda e: kv.lu(e)[2], lambda a: _per_member(lambda m: sla.lu(m)[2], a)),
}


def _column_dominance(q: Term) -> Guard:
    """Strict column diagonal dominance: partial pivoting never swaps rows (no pivoting tie)."""
    def margin(v):
        a = np.abs(q.twin(v))
        diag = np.diagonal(a, axis1=-2, axis2=-1)
        return float(np.min(diag - (np.sum(a, axis=-2) - diag)))
    return Guard("lu pivoting", margin)


def draw_square_function(ctx: Context, t: Term) -> Term | None:
    """A function of a general (non-symmetric) square Q near 3I: det, trace, inv, expm, sqrtm,
    logm, a power, the factors of lu."""
    if not _is_matrix_like(t):
        return None
    q = _square(ctx, t)
    name = ctx.pick(sorted(GENERAL_FUNCTIONS))
    f, twin = GENERAL_FUNCTIONS[name]
    guards = (_column_dominance(q),) if name.startswith("lu") else ()
    if name in ("inv", "sqrtm", "logm") or name.startswith("lu"):
        guards += (smallest("singular", singular_values(q.twin)),)
    if name in ("sqrtm", "logm"):  # the principal branch: eigenvalues well inside the right half-plane
        guards += (Guard("eigenvalue near the negative real axis",
                         lambda v: float(np.min(np.linalg.eigvals(q.twin(v)).real)) - 0.5),)
    tags = _stack_ops(t) + _tiny(t) + (("through expm",) if name == "expm" else ())
    tags += _member_scalars(t, name in ("det", "trace"))
    if name in ("sqrtm", "logm") and len(t.shape) >= 3:
        tags += ("sqrtm/logm of a stack", "sqrtm/logm of a non-symmetric stack")
    return q.then(f(q.expr), lambda v: np.asarray(twin(q.twin(v))), guards=guards, tags=tags)


def draw_rectangular_function(ctx: Context, t: Term) -> Term | None:
    """Functions of a rectangular t: singular values, U ⊙ U, pinv, qr, norms (fro, nuc, 2)."""
    if not _is_matrix_like(t):
        return None
    n, m = t.shape[-2:]
    svals = singular_values(t.twin)
    distinct = spectral_gaps("repeated singular value", svals)

    def conditioning(v: Values) -> float:  # singular values distinct, ≥ 0.2 and within 1e3 of each other
        s = svals(v)
        condition = float(np.max(s[..., 0] / s[..., -1]))
        return min(distinct.margin(v), float(np.min(s)) - 0.2, 1 - condition / 1e3)
    full_rank = Guard("near a rank change", conditioning)
    options = ["singular values", "U²", "pinv", "fro", "nuc", "2"] + (["qr Q", "qr R"] if n >= m else [])
    name = ctx.pick(options)
    member_axes = {"axis": (-2, -1)} if len(t.shape) >= 3 else {}
    pairs: dict[str, Pair] = {
        "singular values": (lambda e: kv.svd(e, compute_uv=False),
                            lambda a: np.linalg.svd(a, compute_uv=False)[..., None]),
        "U²": (lambda e: kv.svd(e)[0] * kv.svd(e)[0],
               lambda a: np.linalg.svd(a, full_matrices=False)[0] ** 2),
        "pinv": (kv.pinv, np.linalg.pinv),
        "qr Q": (lambda e: kv.qr(e)[0], lambda a: np.linalg.qr(a)[0]),
        "qr R": (lambda e: kv.qr(e)[1], lambda a: np.linalg.qr(a)[1]),
        "fro": (lambda e: kv.norm(e, **member_axes), lambda a: np.linalg.norm(a, **member_axes)),
        "nuc": (lambda e: kv.norm(e, "nuc", **member_axes),
                lambda a: np.linalg.norm(a, "nuc", **member_axes)),
        "2": (lambda e: kv.norm(e, 2, **member_axes), lambda a: np.linalg.norm(a, 2, **member_axes)),
    }
    f, twin = pairs[name]
    guards = () if name == "fro" else (full_rank,)
    if name == "fro":
        guards = (Guard("norm at zero", lambda v: float(np.min(np.linalg.norm(
            t.twin(v).reshape(t.shape[:-2] + (-1,)), axis=-1)))),)
    tags = _stack_ops(t) + _member_scalars(t, name in ("fro", "nuc", "2"))
    if min(n, m) == 1 and name != "fro":  # through a 1×1 Gram matrix (vᵀv)
        tags += ("1×1 intermediate into a matrix op",)
    return t.then(f(t.expr), lambda v: np.asarray(twin(t.twin(v))), guards=guards, tags=tags)


def draw_assembly(ctx: Context, t: Term) -> Term | None:
    """For a matrix: kron with a constant, hstack / vstack / block, a slice, diag, tensordot."""
    if len(t.shape) != 2:
        return None
    n, m = t.shape
    kind = ctx.pick(["kron", "hstack", "vstack", "block", "slice", "diag", "tensordot"])
    if kind == "kron":
        c = ctx.rng.standard_normal((ctx.pick([1, 2]), 2))
        if ctx.pick([True, False]):
            return t.then(kv.kron(t.expr, c), lambda v: np.kron(t.twin(v), c))
        return t.then(kv.kron(c, t.expr), lambda v: np.kron(c, t.twin(v)))
    if kind == "hstack":
        return t.then(kv.hstack([t.expr, t.expr * t.expr]), lambda v: np.hstack([t.twin(v), t.twin(v) ** 2]))
    if kind == "vstack":
        return t.then(kv.vstack([t.expr, 2 * t.expr]), lambda v: np.vstack([t.twin(v), 2 * t.twin(v)]))
    if kind == "block":
        c = ctx.rng.standard_normal((n, 1))
        d = ctx.rng.standard_normal((1, m + 1))
        return t.then(kv.block([[t.expr, c], [d[:, :m], d[:, m:]]]),
                      lambda v: np.block([[t.twin(v), c], [d[:, :m], d[:, m:]]]))
    if kind == "slice":
        rows = slice(ctx.pick(list(range(n))), None)
        cols = slice(None, None, ctx.pick([1, -1]))
        return t.then(t.expr[rows, cols], lambda v: t.twin(v)[rows, cols])
    if kind == "diag":
        if n == m:
            return t.then(kv.diag(t.expr), lambda v: np.diag(t.twin(v))[:, None])
        if m == 1:
            return t.then(kv.diag(t.expr), lambda v: np.diag(t.twin(v)[:, 0]))
        return None
    c = ctx.rng.standard_normal((m, 2))
    return t.then(kv.tensordot(t.expr, c, axes=1), lambda v: np.tensordot(t.twin(v), c, axes=1))


LINALG_STEPS = [draw_matrix_product, draw_transpose, draw_spd_function, draw_solve, draw_square_function,
                draw_rectangular_function, draw_assembly]
