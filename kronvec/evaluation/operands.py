"""The steps that keep a map's large factors structured (:meth:`Evaluator.operand`): a thin
product as two pieces, a sum as its terms, a scaled operand as its scale and operand."""
from __future__ import annotations

from typing import Any

from ..expr import Expr
from ..maps.operands import Operand, Product, Sum

__all__ = ["low_rank_split", "sum_operand", "product_operand", "scaled"]


def low_rank_split(e: Expr) -> int | None:
    """Where to split a product p×q into (p×r)(r×q) pieces, if that is much smaller."""
    dims = [e.args[0].shape[0]] + [a.shape[1] for a in e.args]
    rows, cols = dims[0], dims[-1]
    k = min(range(1, len(e.args)), key=lambda i: dims[i])
    return k if dims[k] * (rows + cols) * 4 < rows * cols else None


def sum_operand(coefs: tuple[float, ...], *values: Any) -> Sum:
    return Sum(list(zip(coefs, values)))


def product_operand(left: Any, right: Any) -> Product:
    return Product([left, right])


def scaled(c: float, x: Any) -> Any:
    return x.scaled(c) if isinstance(x, Operand) else c * x
