"""Traces of products with inverses, in the order a flop count chooses.

tr(A₁⋯Aₖ) is invariant under rotation and is the sum Σ L ⊙ Rᵀ of any split
L = A₁⋯Aⱼ, R = Aⱼ₊₁⋯Aₖ, which saves the last product.  With an inverse among
the factors the split can leave the inverse alone on one side: tr(K⁻¹A) =
Σ K⁻¹ ⊙ Aᵀ costs an explicit inverse (``potri`` from a Cholesky factor, n³/3
multiply-adds, nothing if K⁻¹ is needed anyway) where the product K⁻¹A costs a
solve with n right-hand sides (n³).  Every rotation and split is costed, in
multiply-adds, and the cheapest is taken:

* a product of several factors: the matrix-chain cost, solves counted as
  products with an n×n matrix, sub-products computed before costing nothing;
* a lone inverse: the inverse from the factorization (nothing when it was
  formed before or is an output or argument of something else than a product);
* the elementwise sum: rows × cols of the split.

Powers of inverses, (B⁻¹)ᵏ, are written as k factors B⁻¹ (solves, never a power of
an explicit inverse): :func:`expand_powers`.
"""
from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from ..expr import Expr, walk_all
from ..registry import DISPLAY

if TYPE_CHECKING:  # the evaluator calls these functions (named in annotations only)
    from .evaluator import Evaluator

__all__ = ["expand_powers", "factor_kind", "has_inverse", "mirrored_half", "trace_of_product",
           "trace_of_pair", "inverse_cost", "standalone_inverses"]

_MAX_ROTATED = 12  # longer chains are costed in their given rotation only


def expand_powers(factors: Sequence[Expr]) -> tuple[Expr, ...]:
    """The factors of a product with every (B⁻¹)ᵏ written as k factors B⁻¹."""
    if not any(f.op == "matrix_power" and f.args[0].op == "inv" for f in factors):
        return tuple(factors)
    out: list[Expr] = []
    for f in factors:
        out.extend((f.args[0],) * f.params.k if f.op == "matrix_power" and f.args[0].op == "inv" else (f,))
    return tuple(out)


def has_inverse(product: Expr) -> bool:
    """Whether the 2-D product node, larger than 1×1, has a factor B⁻¹ or (B⁻¹)ᵏ."""
    return product.op == "matmul" and product.ndim == 2 and product.shape[0] > 1 and any(
        f.op == "inv" or f.op == "matrix_power" and f.args[0].op == "inv" for f in product.args)


def factor_kind(fac: Any) -> str:
    """What a factorization turned out to be: ``"Cholesky"``, ``"LDLᵀ"``, ``"LU"``, ..."""
    if getattr(fac, "triangular", None) is not None:
        return "triangular"
    if getattr(fac, "cholesky", None) is not None:
        return "Cholesky"
    return "LDLᵀ (not positive definite)" if getattr(fac, "ldl", None) is not None else "LU"


def inverse_cost(fac: Any) -> float:
    """Multiply-adds of the explicit inverse from a factorization (Cholesky or LDLᵀ: n³/3,
    LU: 2n³/3, triangular: n³/6)."""
    n3 = float(fac.n) ** 3
    if fac.triangular is not None:
        return n3 / 6
    return n3 / 3 if fac.cholesky is not None or fac.ldl is not None else 2 * n3 / 3


def standalone_inverses(exprs: Sequence[Expr]) -> set[Expr]:
    """The inverses in ``exprs`` whose value is needed as a matrix: outputs, and arguments of
    anything but a product or a power (e.g. tr(K⁻¹))."""
    out = {e for e in exprs if e.op == "inv"}
    for node in walk_all(exprs):
        if node.op not in ("matmul", "matrix_power"):
            out.update(a for a in node.args if a.op == "inv")
    return out


def _chain_costs(dims: Sequence[int], known: set[tuple[int, int]]) -> list[list[float]]:
    """cost[i][j]: multiply-adds of the product of factors i..j in the best order."""
    n = len(dims) - 1
    cost = [[0.0] * n for _ in range(n)]
    for length in range(2, n + 1):
        for i in range(n - length + 1):
            j = i + length - 1
            if (i, j) not in known:
                cost[i][j] = min(cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                                 for k in range(i, j))
    return cost


def mirrored_half(ev: Evaluator, factors: tuple[Expr, ...]) -> tuple[Expr, ...] | None:
    """The left half Pᵀ of a palindromic product PᵀMP (M symmetric), e.g. yᵀK⁻¹ in
    yᵀK⁻¹KxK⁻¹y, when computing it first (its transpose P is then known: one solve serves
    both sides) is cheaper than the best order that does not share it; else None."""
    k = len(factors)
    if k < 4 or not ev.structure.palindrome(factors):
        return None
    dims = [factors[0].shape[0]] + [f.shape[1] for f in factors]
    half = k - k // 2
    alone = _chain_costs(dims, set())
    shared = _chain_costs(dims, {(0, k // 2 - 1), (half, k - 1)})
    cost = alone[0][k // 2 - 1] + shared[0][k - 1]
    if not cost < alone[0][k - 1]:
        return None
    unshared = alone[0][k - 1]
    ev.notes.append(lambda: f"{_text(factors)}: {_text(factors[:k // 2])} once, its transpose on the right: "
                            f"{cost:.3g} multiply-adds (not shared: {unshared:.3g})")
    return factors[:k // 2]


def trace_of_product(ev: Evaluator, product: Expr) -> Any:
    """tr(``product``) for a 2-D product with inverse factors, by the cheapest rotation and
    split (the evaluator ``ev`` computes the two sides, with solves, and records the steps)."""
    factors = expand_powers(product.args)
    k = len(factors)
    needed = ev.standalone_inverses()
    best: tuple[float, tuple[Expr, ...], int] | None = None
    for r in range(k if k <= _MAX_ROTATED else 1):
        rot = factors[r:] + factors[:r]
        dims = [rot[0].shape[0]] + [f.shape[1] for f in rot]
        known = {(i, j) for i in range(k) for j in range(i + 1, k) if ev.known_chain(rot[i:j + 1])}
        cost = _chain_costs(dims, known)
        for j in range(k - 1):
            c = (_side_cost(ev, rot[:j + 1], cost[0][j], needed)
                 + _side_cost(ev, rot[j + 1:], cost[j + 1][k - 1], needed) + dims[0] * dims[j + 1])
            if best is None or c < best[0]:
                best = (c, rot, j)
    assert best is not None, "a product of k ≥ 2 factors has a split"
    total, rot, j = best
    left, right = rot[:j + 1], rot[j + 1:]
    plain = _chain_costs([factors[0].shape[0]] + [f.shape[1] for f in factors], set())[0][k - 1]
    ev.notes.append(lambda: f"tr({_text(factors)}) = Σ ({_text(left)}) ⊙ ({_text(right)})ᵀ: {total:.3g} "
                            f"multiply-adds (the product, then its trace: {plain:.3g})")
    symmetric = ev.structure.symmetric
    fn = partial(trace_of_pair, left_symmetric=len(left) == 1 and symmetric(left[0]),
                 right_symmetric=len(right) == 1 and symmetric(right[0]))
    return ev.op(fn, ev.chain(left), ev.chain(right))


def _text(factors: Sequence[Expr]) -> str:
    return " ".join(DISPLAY.unicode(f) for f in factors)


def _side_cost(ev: Evaluator, side: tuple[Expr, ...], chain_cost: float, needed: set[Expr]) -> float:
    if len(side) > 1:
        return chain_cost
    f = side[0]
    if f.op != "inv" or ev.cached(f) is not None or ev.canon(f) in needed:
        return 0.0
    return inverse_cost(ev.factored(f.args[0])[0])


def trace_of_pair(left: np.ndarray, right: np.ndarray, left_symmetric: bool = False,
                  right_symmetric: bool = False) -> float:
    """tr(L R) = Σᵢⱼ Lᵢⱼ Rⱼᵢ, by one dot product when the memory layouts line up (using
    Lᵀ = L or Rᵀ = R when known), else by ``einsum``."""
    rt = right if right_symmetric else right.T
    if left.ndim == 2 and rt.ndim == 2:
        for lhs in (left, left.T) if left_symmetric else (left,):
            lf, rf = lhs.flags, rt.flags
            if lf.c_contiguous and rf.c_contiguous or lf.f_contiguous and rf.f_contiguous:
                return float(np.dot(lhs.ravel(order="K"), rt.ravel(order="K")))
    value = np.einsum("ij,ji->", left, right)
    return float(value) if np.ndim(value) == 0 else value

