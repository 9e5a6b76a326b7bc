"""Nodes the evaluator computes as a person would in NumPy instead of node by node.

Products with a vector of ones are broadcasts and sums: 𝟙ₚb (a row b repeated, the bias of a
layer) is a read-only broadcast view of b, b𝟙_qᵀ one of the column b, 𝟙ᵀA the column sums of
A and A𝟙 its row sums (no outer product is formed, no matrix-vector product with ones).

The slope of the logistic sigmoid, σ(u) ⊙ σ(−u) (the second derivative of softplus, the
weights of the logistic-regression Hessian Xᵀ diag(σ(Xw) ⊙ σ(−Xw)) X), is

    σ(u) σ(−u) = e / (1 + e)²,  e = exp(−|u|),

one exponential where the two sigmoids cost two (SciPy's ``expit`` is about five times
NumPy's ``exp``), with the same relative accuracy at every u: e ∈ (0, 1] never cancels, and
the tails e⁻ᵘ for large |u| are kept (1 − σ(u) would round them to 0).
"""
from __future__ import annotations

from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np

from ..expr import Expr

__all__ = ["sigmoid_slope_argument", "sigmoid_slope", "fused_operands", "ones_product",
           "ones_product_kind", "ones_product_code"]


def sigmoid_slope_argument(node: Expr) -> Expr | None:
    """u when ``node`` is σ(u) ⊙ σ(−u) (in either order, −u as ``-1 · u``), else None."""
    if node.op != "multiply" or len(node.args) != 2:
        return None
    a, b = node.args
    if a.op != "sigmoid" or b.op != "sigmoid" or a.shape != b.shape:
        return None
    for plus, minus in ((a.args[0], b.args[0]), (b.args[0], a.args[0])):
        if minus.op == "scale" and minus.params.coef == -1.0 and minus.args[0] is plus:
            return plus
    return None


def fused_operands(nodes: Iterable[Expr]) -> Iterator[Expr]:
    """The nodes that fused chains among ``nodes`` do not need (σ(u), σ(−u) and −u of a
    σ(u) ⊙ σ(−u)): evaluated only if another node asks for them."""
    for node in nodes:
        if sigmoid_slope_argument(node) is not None:
            yield from node.args
            yield from (a.args[0] for a in node.args if a.args[0].op == "scale")


def sigmoid_slope(u: Any) -> Any:
    """σ(u) σ(−u) elementwise, as e / (1 + e)² with e = exp(−|u|) (one exponential)."""
    e = np.exp(-np.abs(u))
    if type(e) is not np.ndarray:  # a number
        return e / (1.0 + e) ** 2
    d = np.add(e, 1.0)
    np.multiply(d, d, out=d)
    return np.divide(e, d, out=d)


def ones_product_kind(factors: Sequence[Expr]) -> str | None:
    """``"repeat_row"`` (𝟙b), ``"repeat_column"`` (b𝟙ᵀ), ``"column_sums"`` (𝟙ᵀA) or
    ``"row_sums"`` (A𝟙) for a product of two ``factors`` one of which is a vector of ones, else
    None."""
    if len(factors) != 2:
        return None
    a, b = factors
    if a.op == "ones" and a.ndim == 2 and b.op not in _NOT_DENSE:
        return "repeat_row" if a.shape[1] == 1 else "column_sums" if a.shape[0] == 1 else None
    if b.op == "ones" and b.ndim == 2 and a.op not in _NOT_DENSE:
        return "repeat_column" if b.shape[0] == 1 else "row_sums" if b.shape[1] == 1 else None
    return None


def ones_product_code(factors: Sequence[Expr], left: str, right: str) -> str | None:
    """NumPy code of the product of two ``factors`` (their code ``left`` and ``right``) when one
    is a vector of ones: ``np.broadcast_to(b, shape)`` or ``A.sum(axis=..., keepdims=True)``."""
    kind = ones_product_kind(factors)
    if kind in ("repeat_row", "repeat_column"):
        a, b = factors
        shape = np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (a.shape[-2], b.shape[-1])
        return f"np.broadcast_to({right if kind == 'repeat_row' else left}, {tuple(shape)})"
    if kind in ("column_sums", "row_sums"):  # 𝟙ᵀA sums over the rows, A𝟙 over the columns
        summed = right if kind == "column_sums" else left
        summed = summed if summed.isidentifier() else f"({summed})"
        return f"{summed}.sum(axis={-2 if kind == 'column_sums' else -1}, keepdims=True)"
    return None


def ones_product(factors: Sequence[Expr]) -> Callable[[Any, Any], Any] | None:
    """How to compute the product of two ``factors`` one of which is a vector of ones, by
    broadcasting or summing (called with the two values), or None for any other product."""
    kind = ones_product_kind(factors)
    return None if kind is None else _BY_NUMPY[kind]


_NOT_DENSE = frozenset({"ones", "inv", "matrix_power", "eye"})  # solves, inverses and 𝟙𝟙ᵀ go as before


def _repeat_row(ones: np.ndarray, b: Any) -> Any:
    return np.broadcast_to(b, np.shape(b)[:-2] + (ones.shape[0], np.shape(b)[-1]))


def _repeat_column(a: Any, ones: np.ndarray) -> Any:
    return np.broadcast_to(a, np.shape(a)[:-1] + (ones.shape[1],))


def _column_sums(ones: np.ndarray, a: Any) -> Any:
    return np.sum(a, axis=-2, keepdims=True)


def _row_sums(a: Any, ones: np.ndarray) -> Any:
    return np.sum(a, axis=-1, keepdims=True)


_BY_NUMPY = {"repeat_row": _repeat_row, "repeat_column": _repeat_column, "column_sums": _column_sums,
             "row_sums": _row_sums}
