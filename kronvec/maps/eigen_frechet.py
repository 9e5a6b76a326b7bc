"""Daleckii–Krein maps of F = V diag(g) Vᵀ where g = φ(w) is a function of the eigenvalues w.

For a symmetric A = V diag(w) Vᵀ and F = V diag(φ(w)) Vᵀ (the matrix function φ(A),
or the spectral projector of whole tied groups when φ is an indicator of them):

    dF = L(A, dAₛ) = V (Γ ⊙ Vᵀ dAₛ V) Vᵀ,       Γᵢⱼ = φ[wᵢ, wⱼ]  (φ'(wᵢ) where wᵢ = wⱼ),
    d L(A, E) = L²(A; dAₛ, E) = V B Vᵀ,     Bᵢⱼ = Σₖ φ[wᵢ, wₖ, wⱼ] (H'ᵢₖ E'ₖⱼ + E'ᵢₖ H'ₖⱼ),

with H' = Vᵀ dAₛ V, E' = Vᵀ E V and the divided differences φ[·, ·] and φ[·, ·, ·] of
φ (φ''(wᵢ)/2 where all three eigenvalues are equal): Daleckii–Krein to first and second
order (Bhatia, *Matrix Analysis*, V.3).  Both are independent of the basis ``eigh``
picks inside a tied group, so both exist where eigenvalues repeat, provided φ takes one
value on each tied group (always so for φ(w) elementwise; for g placed on columns of V,
the columns must hold whole groups).

* :class:`EigfunFrechetMap` is H ↦ L(A, H): on expressions the node
  ``eigfun_frechet(A, g, H)``, so a gradient through F is one node that differentiates
  again; bound to numbers, the sandwich V (Γ ⊙ Vᵀ H V) Vᵀ.
* :class:`EigfunSecondMap` is H ↦ L²(A; H, E): on expressions ``eigfun_frechet2(A, g, H,
  E)``; bound, the tensor Tᵢₖⱼ = φ[wᵢ, wₖ, wⱼ] is computed once and applied by two
  contractions.  It is symmetric in H and E, and its adjoint is G ↦ L²(A; G, Eᵀ).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import registry
from ..errors import DegenerateError
from ..expr import Expr, as_expr
from ..shapes import Shape, first_member, member_text
from . import factors as fx
from .base import LinearMap, bind_factor
from .sandwich import DiagSandwichMap

__all__ = ["EigfunFrechetMap", "EigfunSecondMap", "first_divided_differences", "second_divided_differences",
           "frechet_value", "second_frechet_value"]

_NEAR = np.finfo(float).eps ** (1 / 3)
"""Eigenvalues within ε^⅓ (relative) of each other are a tie: the quotients there would lose digits."""


def _columns(*xs: Any) -> tuple[np.ndarray, ...]:
    """The values of columns (n, 1), or of stacks of them (..., n, 1), as arrays (..., n)."""
    return tuple(np.asarray(x, dtype=float)[..., 0] for x in xs)


def _scale(w: np.ndarray) -> np.ndarray:
    """max |w| of each member (..., 1, 1) (at least the tiniest float): the scale of a tie."""
    top = np.max(np.abs(w), axis=-1, initial=0.0)[..., None, None]
    scale: np.ndarray = np.maximum(top, np.finfo(float).tiny)
    return scale


def _near(w: np.ndarray) -> np.ndarray:
    near: np.ndarray = np.abs(w[..., :, None] - w[..., None, :]) <= _NEAR * _scale(w)
    return near


def _check_groups(w: np.ndarray, g: np.ndarray, gp: np.ndarray, near: np.ndarray) -> None:
    """A DegenerateError naming the tied group (and the member of a stack) where g is not one value on
    it (then F = V diag(g) Vᵀ depends on the basis inside the group, and has no derivative)."""
    predicted = np.maximum(np.abs(gp[..., :, None]), np.abs(gp[..., None, :])) * \
        np.abs(w[..., :, None] - w[..., None, :])
    slack = 100.0 * np.finfo(float).eps * _scale(g)
    split = near & (np.abs(g[..., :, None] - g[..., None, :]) > 2.0 * predicted + slack)
    if not split.any():
        return
    member = first_member(split.any(axis=(-2, -1))) if split.ndim > 2 else ()
    w, g, split, near = w[member], g[member], split[member], near[member]
    i, j = map(int, np.argwhere(split)[0])
    members = np.flatnonzero(near[i])
    where = f"{member_text(member)} of the stack: " if member else ""
    raise DegenerateError(
        f"{where}eigh: V diag(g) Vᵀ has no derivative where g differs within a group of repeated "
        f"eigenvalues: "
        f"the tied group w[{members[0]}:{members[-1] + 1}] = {w[i]:.6g} has g[{i}] = {g[i]:.6g}, "
        f"g[{j}] = {g[j]:.6g} (a projector onto part of a tied group, or columns of V that split it)")


def first_divided_differences(w: Any, g: Any, gp: Any) -> np.ndarray:
    """Γᵢⱼ = φ[wᵢ, wⱼ] = (gᵢ − gⱼ)/(wᵢ − wⱼ), and (g'ᵢ + g'ⱼ)/2 at ties (g'ᵢ on the diagonal), from
    columns (n, 1) or stacks of them (then Γ of every member, (..., n, n))."""
    w, g, gp = _columns(w, g, gp)
    near = _near(w)
    _check_groups(w, g, gp, near)
    with np.errstate(divide="ignore", invalid="ignore"):
        quotient = (g[..., :, None] - g[..., None, :]) / (w[..., :, None] - w[..., None, :])
    gamma: np.ndarray = np.where(near, (gp[..., :, None] + gp[..., None, :]) / 2, quotient)
    return gamma


def second_divided_differences(w: Any, g: Any, gp: Any, gpp: Any) -> np.ndarray:
    """Tᵢₖⱼ = φ[wᵢ, wₖ, wⱼ] (symmetric in i, k, j), from the values g, g', g'' of φ at w (columns, or
    stacks of them: then T of every member, (..., n, n, n)).

    φ[a, b, c] = (φ[a, b] − φ[b, c])/(a − c) with a, c the pair of the three that lies
    farthest apart (the other orders give the same number; this one loses fewest digits),
    and (g''ᵢ + g''ₖ + g''ⱼ)/6 where all three are tied.
    """
    G = first_divided_differences(w, g, gp)
    w, gpp = _columns(w, gpp)
    Gt = np.swapaxes(G, -1, -2)
    wi, wk, wj = w[..., :, None, None], w[..., None, :, None], w[..., None, None, :]
    ij, ik, kj = np.abs(wi - wj), np.abs(wi - wk), np.abs(wk - wj)
    with np.errstate(divide="ignore", invalid="ignore"):
        by_ij = (G[..., :, :, None] - G[..., None, :, :]) / (wi - wj)   # (i, j) apart, k between
        by_ik = (G[..., :, None, :] - Gt[..., None, :, :]) / (wi - wk)  # (i, k) apart
        by_kj = (Gt[..., :, :, None] - G[..., :, None, :]) / (wk - wj)  # (k, j) apart
    apart = np.where((ij >= ik) & (ij >= kj), by_ij, np.where(ik >= kj, by_ik, by_kj))
    tied = np.maximum(np.maximum(ij, ik), kj) <= _NEAR * _scale(w)[..., None]
    confluent = (gpp[..., :, None, None] + gpp[..., None, :, None] + gpp[..., None, None, :]) / 6
    T: np.ndarray = np.where(tied, confluent, apart)
    return T


def frechet_value(V: np.ndarray, gamma: np.ndarray, e: np.ndarray) -> np.ndarray:
    """L(A, E) = V (Γ ⊙ Vᵀ E V) Vᵀ (of every member of a stack; E may carry leading axes)."""
    Vt = np.swapaxes(V, -1, -2)
    result: np.ndarray = V @ (gamma * (Vt @ e @ V)) @ Vt
    return result


def second_frechet_value(V: np.ndarray, T: np.ndarray, h: np.ndarray, e: np.ndarray) -> np.ndarray:
    """L²(A; H, E) = V B Vᵀ, Bᵢⱼ = Σₖ Tᵢₖⱼ (H'ᵢₖ E'ₖⱼ + E'ᵢₖ H'ₖⱼ) (of every member of a stack; H may
    carry leading axes)."""
    Vt = np.swapaxes(V, -1, -2)
    hp, ep = Vt @ h @ V, Vt @ e @ V
    b = np.einsum("...ikj,...kj,...ik->...ij", T, ep, hp) + np.einsum("...ikj,...ik,...kj->...ij", T, ep, hp)
    result: np.ndarray = V @ b @ Vt
    return result


class EigfunFrechetMap(LinearMap):
    """H ↦ L(A, H) = V (Γ ⊙ Vᵀ H V) Vᵀ, the derivative of V diag(g) Vᵀ in A (module docstring).

    Parameters
    ----------
    A, g : the matrix and the column g = φ(w) of the node ``eigfun(A, g)`` (expressions).
    uplo : the triangle ``eigh`` reads.
    V, gamma : the eigenvectors and the divided differences Γ (expressions, or arrays once bound).
    in_shape : A's shape (also the output shape).
    """

    display_name = "H ↦ V (Γ ⊙ Vᵀ H V) Vᵀ"

    def __init__(self, A: Any, g: Any, uplo: str, V: Any, gamma: Any, in_shape: Shape) -> None:
        super().__init__(in_shape, in_shape)
        self.A, self.g, self.uplo, self.V, self.Vt, self.gamma = A, g, uplo, V, fx.transposed(V), gamma

    def factors(self) -> tuple[Any, ...]:
        return (self.V, self.Vt, self.gamma)

    def sandwich(self) -> DiagSandwichMap:
        """The same map as the sandwich V (Γ ⊙ Vᵀ H V) Vᵀ of its factors."""
        V, Vt = self.V, self.Vt
        return DiagSandwichMap(V, Vt, self.gamma, Vt, V, self.in_shape, self.out_shape)

    def bind(self, value: Callable[[Expr], Any]) -> LinearMap:
        return self.sandwich().bind(value)

    def _apply(self, h: Any) -> Any:
        if fx.is_symbolic(h, *self.factors()):
            return registry.function("eigfun_frechet")(self.A, self.g, as_expr(h), self.uplo)
        return self.sandwich()._apply(h)

    def _adjoint(self) -> LinearMap:
        return self  # Γ is symmetric


class EigfunSecondMap(LinearMap):
    """H ↦ L²(A; H, E), the derivative of L(A, E) in A (module docstring).

    Parameters
    ----------
    A, g : as for :class:`EigfunFrechetMap` (expressions; None once bound).
    uplo : the triangle ``eigh`` reads.
    V, w, g, gp, gpp, E : the eigenvectors, the eigenvalues, φ, φ' and φ'' at them and E
        (expressions, or arrays once bound).
    in_shape : A's shape (also the output shape).
    """

    display_name = "H ↦ L²(A; H, E)"
    _caches = {"_tensor": None}

    def __init__(self, A: Any, uplo: str, V: Any, w: Any, g: Any, gp: Any, gpp: Any, E: Any,
                 in_shape: Shape) -> None:
        super().__init__(in_shape, in_shape)
        self.A, self.uplo, self.V, self.w, self.g, self.gp, self.gpp, self.E = A, uplo, V, w, g, gp, gpp, E
        self._tensor: np.ndarray | None = None

    def factors(self) -> tuple[Any, ...]:
        return (self.V, self.w, self.g, self.gp, self.gpp, self.E)

    def bind(self, value: Callable[[Expr], Any]) -> LinearMap:
        V, w, g, gp, gpp, E = (bind_factor(value, f) for f in self.factors())
        return EigfunSecondMap(None, self.uplo, V, w, g, gp, gpp, E, self.in_shape)

    def _apply(self, h: Any) -> Any:
        if fx.is_symbolic(h, *self.factors()):
            return registry.function("eigfun_frechet2")(self.A, self.g, as_expr(h), self.E, self.uplo)
        if self._tensor is None:
            self._tensor = second_divided_differences(self.w, self.g, self.gp, self.gpp)
        return second_frechet_value(np.asarray(self.V), self._tensor, np.asarray(h, dtype=float),
                                    np.asarray(self.E, dtype=float))

    def _adjoint(self) -> LinearMap:
        # ⟨G, L²(H, E)⟩ = ⟨L²(G, Eᵀ), H⟩: T is symmetric in its three indices
        return EigfunSecondMap(self.A, self.uplo, self.V, self.w, self.g, self.gp, self.gpp,
                               fx.transposed(self.E), self.in_shape)
