"""Cumulative sums along an axis: ``kv.cumsum``, as ``numpy.cumsum``.

A cumulative sum is linear.  Down the columns (``axis=0``) it is L A, with
L = tril(𝟙) the lower triangle of ones, and along the rows (``axis=1``) it is
A Lᵀ; so d cumsum(A) = cumsum(dA), the map dA ↦ L dA (or dA Lᵀ).  With
``axis=None`` NumPy sums over all entries in C order (row by row) and returns
a 1-D array: the cumulative sum down the flattened column, dA ↦ L vec_C(dA).
"""
from __future__ import annotations

import numpy as np

from ..contexts import CodeContext
from ..expr import Expr, Operand, as_expr
from ..shapes import fmt
from ..maps import KronMap, LinearMap
from ..maps.axes import ReshapeMap
from ..maps.algebra import compose
from ..registry import Params, Transpose, inferring, register
from ._evaluation_rules import with_node
from ._jvp_rules import map_shapes
from ._printing_rules import axis_printing
from .axis_reductions import resolve_axis
from .leaves import ones
from .triangular import tri

__all__ = ["cumsum"]


# --------------------------------------------------------------- cumsum
@inferring
def cumsum(a: Operand, axis: int | None = None) -> Expr:
    """The cumulative sums of A's entries, as ``numpy.cumsum(A, axis)``.

    ``axis=0``: down each column, C = L A with L = tril(𝟙), Cᵢⱼ = Σ_{k≤i} Aₖⱼ;
    ``axis=1``: along each row, C = A Lᵀ; ``axis=None`` (NumPy's default): over all
    entries in C order, a 1-D result of length m·n.  Linear: d cumsum(A) = cumsum(dA).
    (Examples: ``docs/adding-an-operation.md``, which adds it.)
    """
    x = as_expr(a)
    if x.ndim > 2:
        raise NotImplementedError(f"cumsum: takes a matrix, not an array of {x.ndim} axes "
                                  f"(shape {fmt(x.shape)})")
    shape, axis = resolve_axis(CUMSUM, "cumsum", x, axis)
    if axis is not None and x.shape[axis] == 1:
        return x
    return Expr.make("cumsum", (x,), Params(axis=axis), shape)


def _cumsum_value(node: Expr, x: np.ndarray) -> np.ndarray:
    return np.cumsum(x, axis=node.params.axis)


def _cumsum_jvp(node: Expr, i: int) -> LinearMap:
    """dA ↦ L dA (axis 0) or dA Lᵀ (axis 1), L = tril(𝟙) of the summed axis's length; for
    axis None, L applied to the entries in C order (reshaped to a column and back)."""
    axis = node.params.axis
    n = node.shape[0 if axis is None else axis]
    lower = tri(ones(n, n), "lower")
    if axis == 0:
        return KronMap(lower, None, *map_shapes(node, i))
    if axis == 1:
        return KronMap(None, lower.T, *map_shapes(node, i))
    column = (n, 1)
    return compose(ReshapeMap(column, node.shape), KronMap(lower, None, column, column),
                   ReshapeMap(node.args[0].shape, column))


def _cumsum_code(g: CodeContext, e: Expr, a: str) -> str:
    axis = e.params.axis
    if g.name == "torch":  # torch.cumsum takes one dimension: over all entries, the flattened array
        return f"torch.cumsum({a}.reshape(-1), 0)" if axis is None else f"torch.cumsum({a}, {axis})"
    return f"{g.array_module}.cumsum({a}, axis={axis})"


def _cumsum_transposed(node: Expr, t: list[Expr]) -> Expr:
    """cumsum(A, axis)ᵀ = cumsum(Aᵀ, 1 − axis): columns of A are rows of Aᵀ."""
    return cumsum(t[0], axis=1 - node.params.axis)


CUMSUM = register(
    "cumsum", public="cumsum", function=cumsum,
    signature="(m,n),axis=None->(m*n) | (m,n),axis=0->(m,n) | (m,n),axis=1->(m,n)", params=("axis",),
    stacks=True,  # for the 1-D result of axis=None (the constructor refuses stacks)
    evaluate=with_node(_cumsum_value),
    code=_cumsum_code,
    jvp=_cumsum_jvp,
    transpose=Transpose((0,), _cumsum_transposed),
    printing=axis_printing("cumsum", r"\operatorname{cumsum}"),
    identity=("{out} = L{arg} (L = tril(𝟙); along the rows {arg}Lᵀ) ⇒ d{out} = cumsum(d{arg})",
              r"{out} = L {arg} \Rightarrow \mathrm{{d}}{out} = \operatorname{{cumsum}}(\mathrm{{d}}{arg})"),
    doc="the cumulative sums down the columns (axis=0), along the rows (1) or over all entries (None)",
)
