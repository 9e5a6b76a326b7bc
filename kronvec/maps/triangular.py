"""Triangles of square matrices: the structural maps of factorization derivatives.

=============================  ==============================================
term                           action H ↦
=============================  ==============================================
``TriangleMap("lower")``       tril(H) (also ``upper``, ``strict_lower``,
                               ``strict_upper``)
``TriangleMap("phi")``         Φ(H) = tril(H) − ½ diag(H), the lower triangle
                               with half the diagonal (``phi_upper``: triu)
``TriangleMap("mirror_lower")``  symₗ(H) = tril(H) + tril(H, −1)ᵀ, the symmetric
                               matrix mirrored from the lower triangle (what a
                               function reading only that triangle sees)
``TriangleMap("fold_lower")``  foldₗ(H) = tril(H) + triu(H, 1)ᵀ, the adjoint of
                               symₗ (``*_upper`` likewise)
``TriSolveMap(Tl, Tr)``        Tl⁻¹ H Tr⁻¹ for triangular Tl, Tr, by BLAS
                               ``trsm`` (never an explicit inverse)
=============================  ==============================================

The masks are elementwise, hence self-adjoint; the mirror and the fold are
each other's adjoints.  ``TriSolveMap``'s adjoint solves with the transposes.
Applied to expressions, these maps build the ``tri`` node (printed Φ(H),
symₗ(H), ...) and ``inv`` products, which the evaluator turns back into
triangular solves.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
from scipy.linalg import blas, lapack

from .. import registry
from ..expr import Expr
from ..shapes import Shape, first_member, member_text
from . import factors as fx
from .base import LinearMap, bind_factor

__all__ = ["TriangleMap", "TriSolveMap", "TRIANGLE_KINDS", "LINEAR_KINDS", "apply_triangle",
           "ADJOINT_KIND", "trsm"]

# kind -> triangle of the result ("lower", "upper" or "" for a symmetric or full result)
TRIANGLE_KINDS = {
    "lower": "lower", "upper": "upper", "strict_lower": "lower", "strict_upper": "upper",
    "phi": "lower", "phi_upper": "upper", "unit_lower": "lower", "unit_upper": "upper",
    "mirror_lower": "", "mirror_upper": "", "fold_lower": "lower", "fold_upper": "upper",
}
LINEAR_KINDS = tuple(k for k in TRIANGLE_KINDS if not k.startswith("unit"))
ADJOINT_KIND = {**{k: k for k in LINEAR_KINDS}, "mirror_lower": "fold_lower", "fold_lower": "mirror_lower",
                "mirror_upper": "fold_upper", "fold_upper": "mirror_upper"}


def _t(x: np.ndarray) -> np.ndarray:
    return np.swapaxes(x, -1, -2)


def _half_diagonal(x: np.ndarray, part: np.ndarray) -> np.ndarray:
    out = np.array(part, dtype=float)
    n = x.shape[-1]
    idx = np.arange(n)
    out[..., idx, idx] *= 0.5
    return out


def _unit(part: np.ndarray) -> np.ndarray:
    out = np.array(part, dtype=float)
    n = out.shape[-1]
    out[..., np.arange(n), np.arange(n)] = 1.0
    return out


_ACTIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "lower": np.tril, "upper": np.triu,
    "strict_lower": lambda x: np.tril(x, -1), "strict_upper": lambda x: np.triu(x, 1),
    "phi": lambda x: _half_diagonal(x, np.tril(x)), "phi_upper": lambda x: _half_diagonal(x, np.triu(x)),
    "unit_lower": lambda x: _unit(np.tril(x, -1)), "unit_upper": lambda x: _unit(np.triu(x, 1)),
    "mirror_lower": lambda x: np.tril(x) + _t(np.tril(x, -1)),
    "mirror_upper": lambda x: np.triu(x) + _t(np.triu(x, 1)),
    "fold_lower": lambda x: np.tril(x) + _t(np.triu(x, 1)),
    "fold_upper": lambda x: np.triu(x) + _t(np.tril(x, -1)),
}


def apply_triangle(kind: str, x: np.ndarray) -> np.ndarray:
    """The ``kind`` part of the square matrices ``x`` (over the last two axes)."""
    return _ACTIONS[kind](np.asarray(x, dtype=float))


class TriangleMap(LinearMap):
    """H ↦ T(H) for one of the linear triangle maps ``LINEAR_KINDS`` on (n, n) matrices (each
    member of a stack ``stack + (n, n)``).

    The masks (``lower``, ``upper``, ``strict_*``, ``phi``, ``phi_upper``) are
    elementwise products with a 0/½/1 pattern, so they are self-adjoint;
    ``mirror_lower`` and ``fold_lower`` (and the upper ones) are adjoint to each
    other: ⟨symₗ(H), G⟩ = ⟨H, foldₗ(G)⟩.
    """

    def __init__(self, kind: str, n: int, stack: Shape = ()) -> None:
        if kind not in LINEAR_KINDS:
            raise ValueError(f"TriangleMap: unknown kind {kind!r} (one of {', '.join(LINEAR_KINDS)})")
        super().__init__(tuple(stack) + (n, n), tuple(stack) + (n, n))
        self.kind, self.stack = kind, tuple(stack)

    def _apply(self, h: Any) -> Any:
        if fx.is_symbolic(h):
            return registry.function("tri")(h, self.kind)
        return apply_triangle(self.kind, h)

    def _adjoint(self) -> LinearMap:
        return TriangleMap(ADJOINT_KIND[self.kind], self.in_shape[-1], self.stack)


def trsm(t: np.ndarray, lower: bool, b: np.ndarray, side: str, trans: bool = False) -> np.ndarray:
    """op(T)⁻¹ B (``side="left"``) or B op(T)⁻¹ (``"right"``) by BLAS ``dtrsm``, T triangular.

    ``op(T)`` is Tᵀ when ``trans``.  Both operands are passed to BLAS in the
    memory order they have (a C-ordered matrix is the Fortran-ordered
    transpose), so no operand is copied.
    """
    if not t.flags.f_contiguous:  # T in C order is Tᵀ in Fortran order: solve with that
        t, lower, trans = t.T, not lower, not trans
    out: np.ndarray
    if b.flags.f_contiguous:
        out = blas.dtrsm(1.0, t, b, side=0 if side == "left" else 1, lower=int(lower), trans_a=int(trans))
        return out
    bt = np.ascontiguousarray(b).T  # Fortran order: op(T)⁻¹ B = (Bᵀ op(T)⁻ᵀ)ᵀ and the reverse
    out = blas.dtrsm(1.0, t, bt, side=1 if side == "left" else 0, lower=int(lower), trans_a=int(not trans))
    return out.T


def _solve_stack(t: np.ndarray, lower: bool, h: np.ndarray, side: str) -> np.ndarray:
    """T⁻¹ H or H T⁻¹ for H of shape (..., n, k) with leading batch axes, one ``trsm`` call;
    for a stack of triangular T, one batched ``np.linalg.solve`` over all members."""
    if t.ndim > 2:
        if side == "left":
            return np.linalg.solve(t, h)
        return np.swapaxes(np.linalg.solve(np.swapaxes(t, -1, -2), np.swapaxes(h, -1, -2)), -1, -2)
    if h.ndim == 2:
        return trsm(t, lower, h, side)
    lead, (n, k) = h.shape[:-2], h.shape[-2:]
    if side == "right":  # rows of all the stacked matrices at once: (b·n, k) T⁻¹
        return trsm(t, lower, h.reshape(-1, k), "right").reshape(h.shape)
    cols = np.moveaxis(h.reshape((-1, n, k)), 0, 1).reshape(n, -1)  # (n, b·k)
    out = trsm(t, lower, cols, "left")
    return np.moveaxis(out.reshape(n, -1, k), 1, 0).reshape(lead + (n, k))


class TriSolveMap(LinearMap):
    """H ↦ Tl⁻¹ H Tr⁻¹ for triangular Tl (n, n) and Tr (k, k); None stands for the identity.

    Parameters
    ----------
    Tl, Tr : triangular factors (expressions or arrays) or None.
    lower_l, lower_r : bool
        Whether Tl (Tr) is lower (else upper) triangular.
    in_shape, out_shape : the shape (n, k) of H (and of the result).
    label : str
        How an error for a singular factor names it.

    Notes
    -----
    Bound to numbers, each side is one BLAS ``trsm`` per application (batches
    of tangents included); the condition of each factor is checked once
    (LAPACK ``trcon``), so a singular factor raises ``LinAlgError`` instead of
    giving infinities.  Its vec form is (Tr⁻ᵀ ⊗ Tl⁻¹); its adjoint is
    G ↦ Tl⁻ᵀ G Tr⁻ᵀ.
    """

    def __init__(self, Tl: Any, Tr: Any, lower_l: bool, lower_r: bool, in_shape: Shape,
                 out_shape: Shape | None = None, label: str = "triangular factor") -> None:
        super().__init__(in_shape, in_shape if out_shape is None else out_shape)
        self.Tl, self.Tr, self.lower_l, self.lower_r, self.label = Tl, Tr, bool(lower_l), bool(lower_r), label
        self._checked = False

    def factors(self) -> tuple[Any, ...]:
        return (self.Tl, self.Tr)

    def is_identity(self) -> bool:
        return self.Tl is None and self.Tr is None

    def bind(self, value: Callable[[Expr], Any]) -> LinearMap:
        return TriSolveMap(bind_factor(value, self.Tl), bind_factor(value, self.Tr), self.lower_l,
                           self.lower_r, self.in_shape, self.out_shape, self.label)

    def relabel(self, in_shape: Shape, out_shape: Shape) -> LinearMap:
        return TriSolveMap(self.Tl, self.Tr, self.lower_l, self.lower_r, in_shape, out_shape, self.label)

    def inverses(self) -> tuple[Any, Any]:
        """(Tl⁻¹, Tr⁻¹) as expressions (None for identities), for printing and the algebra."""
        inv = registry.function("inv")
        return (None if self.Tl is None else inv(self.Tl)), (None if self.Tr is None else inv(self.Tr))

    def _check(self) -> None:
        for t, lower in ((self.Tl, self.lower_l), (self.Tr, self.lower_r)):
            if t is None:
                continue
            if np.ndim(t) > 2:
                _check_stack(np.asarray(t, dtype=float), self.label)
                continue
            rcond, _ = lapack.dtrcon(np.asarray(t, dtype=float), norm="1", uplo="L" if lower else "U")
            if not rcond > np.finfo(float).eps:
                raise np.linalg.LinAlgError(f"{self.label}: the triangular factor is singular to "
                                            f"working precision (reciprocal condition number {rcond:.1e})")
        self._checked = True

    def _apply(self, h: Any) -> Any:
        if not isinstance(h, np.ndarray) or self.symbolic:
            left, right = self.inverses()
            return fx.product(left, h, right)
        if not self._checked:
            self._check()
        out = np.asarray(h, dtype=float)
        if self.Tr is not None:
            out = _solve_stack(self.Tr, self.lower_r, out, "right")
        if self.Tl is not None:
            out = _solve_stack(self.Tl, self.lower_l, out, "left")
        return out

    def _adjoint(self) -> LinearMap:
        return TriSolveMap(fx.transposed(self.Tl), fx.transposed(self.Tr), not self.lower_l, not self.lower_r,
                           self.out_shape, self.in_shape, self.label)


def _check_stack(t: np.ndarray, label: str) -> None:
    """Raise for the first singular member of a stack of triangular factors (from the exact
    reciprocal condition numbers 1/(‖Tᵢ‖₁ ‖Tᵢ⁻¹‖₁), in batched calls)."""
    d = np.abs(np.diagonal(t, axis1=-2, axis2=-1))
    rcond = np.zeros(t.shape[:-2])
    ok = (d > 0).all(axis=-1)
    if ok.any():
        inv = np.linalg.inv(np.where(ok[..., None, None], t, np.eye(t.shape[-1])))
        norms = np.abs(t).sum(axis=-2).max(axis=-1) * np.abs(inv).sum(axis=-2).max(axis=-1)
        rcond = np.where(ok, 1.0 / norms, 0.0)
    bad = ~(rcond > np.finfo(float).eps)
    if bad.any():
        k = first_member(bad)
        raise np.linalg.LinAlgError(f"{label}: the triangular factor is singular to working precision in "
                                    f"{member_text(k)} of the stack (reciprocal condition number "
                                    f"{float(rcond[k]):.1e})")
