"""Derivatives of the rectangular factorizations: ``lu`` of a tall or wide A, ``qr`` of a wide A.

With k = min(m, n), E = [I_k 0] the selection of the first k rows (``first_rows``) and
Eᶜ = Eᵀ the placement back, the factorizations split into a square part and a rest:

* tall LU, A (m, n), m > n: PᵀA = [L₁; L₂] U, L₁ (n, n) unit lower.  With
  X = L₁⁻¹ E Pᵀ dA U⁻¹ (the square LU's X):

      dU = triu(X) U,   dL = L tril(X, −1) + N dA U⁻¹,   N = Pᵀ − L L₁⁻¹ E Pᵀ,

  (N dA U⁻¹ is [0; (dÂ₂ − L₂L₁⁻¹dÂ₁) U⁻¹] with dÂ = Pᵀ dA: the rows below the square);
* wide LU, A (m, n), m < n: PᵀA = L [U₁ U₂], U₁ (m, m) upper.  With
  X = L⁻¹ Pᵀ dA Eᵀ U₁⁻¹:

      dL = L tril(X, −1),   dU = triu(X) U + L⁻¹ Pᵀ dA N,   N = I − Eᵀ U₁⁻¹ U;

* wide QR (NumPy's reduced mode), A (m, n), m < n: A = Q [R₁ R₂], Q (m, m).  With
  C = Qᵀ dA Eᵀ R₁⁻¹ and foldᵤ(C) = triu(C) + tril(C, −1)ᵀ (the square QR's):

      dQ = dA Eᵀ R₁⁻¹ − Q foldᵤ(C),   dR = foldᵤ(C) R + Qᵀ dA N,   N = I − Eᵀ R₁⁻¹ R

  (from dR₂ = Qᵀ dA₂ − (QᵀdQ) R₂ with QᵀdQ = C − foldᵤ(C)).

N is the only new factor: an expression with a triangular solve (no inverse is
formed), evaluated once per binding.  The square part needs L₁ and U (U₁, R₁)
nonsingular: a singular one raises ``LinAlgError`` naming it.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..dims import BASE
from ..expr import Expr
from ..maps import KronMap, TriangleMap, TriSolveMap
from ..maps.algebra import add_maps
from ..maps.algebra import compose
from ..maps.algebra import scale_map
from ..shapes import stack_of
from .arithmetic import add, scale
from .indexing import selected_rows
from .leaves import Constant, identity
from .products import matmul
from .triangular import solve_triangular

__all__ = ["first_rows", "tall_lu_maps", "wide_lu_maps", "wide_qr_maps"]


def first_rows(k: int, m: int) -> Expr:
    """E = [I_k 0], the (k, m) constant that selects the first k rows of an (m, ·) matrix (for
    sizes given as names, the rows of I_m that values fix)."""
    if k < BASE and m < BASE:
        return Constant(np.eye(k, m), "[I 0]")
    return selected_rows(m, range(k), "[I 0]")


def tall_lu_maps(a: Expr, P: Expr, L: Expr, U: Expr, label: str) -> tuple[Any, Any]:
    """(dL, dU) of the LU of a tall A (m > n) as maps of dA (module docstring)."""
    stack, (m, n) = stack_of(a.shape), a.shape[-2:]
    E = first_rows(n, m)
    Pt1, L1 = matmul(E, P.mT), matmul(E, L)
    square = stack + (n, n)
    x = compose(TriSolveMap(L1, U, True, False, square, label=f"{label} (solves with L₁ and U)"),
                KronMap(Pt1, None, a.shape, square))
    dU = compose(KronMap(None, U, square, square), TriangleMap("upper", n, stack), x)
    N = add(P.mT, scale(-1.0, matmul(L, solve_triangular(L1, Pt1, lower=True, unit_diagonal=True))))
    below = compose(KronMap(N, None, a.shape, a.shape),
                    TriSolveMap(None, U, True, False, a.shape, label=f"{label} (solve with U)"))
    dL = add_maps(compose(KronMap(L, None, square, a.shape), TriangleMap("strict_lower", n, stack), x), below)
    return dL, dU


def wide_lu_maps(a: Expr, P: Expr, L: Expr, U: Expr, label: str) -> tuple[Any, Any]:
    """(dL, dU) of the LU of a wide A (m < n) as maps of dA (module docstring)."""
    stack, (m, n) = stack_of(a.shape), a.shape[-2:]
    Et = first_rows(m, n).mT
    U1 = matmul(U, Et)
    square = stack + (m, m)
    x = compose(TriSolveMap(L, U1, True, False, square, label=f"{label} (solves with L and U₁)"),
                KronMap(P.mT, Et, a.shape, square))
    dL = compose(KronMap(L, None, square, square), TriangleMap("strict_lower", m, stack), x)
    N = add(identity(n), scale(-1.0, matmul(Et, solve_triangular(U1, U, lower=False))))
    right = compose(TriSolveMap(L, None, True, False, a.shape, label=f"{label} (solve with L)"),
                    KronMap(P.mT, N, a.shape, a.shape))
    dU = add_maps(compose(KronMap(None, U, square, a.shape), TriangleMap("upper", m, stack), x), right)
    return dL, dU


def wide_qr_maps(a: Expr, Q: Expr, R: Expr, label: str) -> tuple[Any, Any]:
    """(dQ, dR) of the reduced QR of a wide A (m < n) as maps of dA (module docstring)."""
    stack, (m, n) = stack_of(a.shape), a.shape[-2:]
    Et = first_rows(m, n).mT
    R1 = matmul(R, Et)
    square = stack + (m, m)
    first = compose(TriSolveMap(None, R1, True, False, square, label=f"{label} (solve with R₁)"),
                    KronMap(None, Et, a.shape, square))  # dA Eᵀ R₁⁻¹
    fold_c = compose(TriangleMap("fold_upper", m, stack), KronMap(Q.mT, None, square, square), first)
    dQ = add_maps(first, scale_map(-1.0, compose(KronMap(Q, None, square, square), fold_c)))
    N = add(identity(n), scale(-1.0, matmul(Et, solve_triangular(R1, R, lower=False))))
    dR = add_maps(compose(KronMap(None, R, square, a.shape), fold_c), KronMap(Q.mT, N, a.shape, a.shape))
    return dQ, dR
