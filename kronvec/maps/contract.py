"""Index contractions for compositions that no mixed-product rule merges.

A composition L₁∘⋯∘Lₖ of einsum-form terms is one contraction over the
intermediate matrices' two indices each (4th-order index contraction):
out[i, j, a, b] = Σ L₁[i, j, x, y] L₂[x, y, ...] ⋯.  opt_einsum picks the order;
expressions are cached by subscripts and operand shapes.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from ..lazy import LazyModule
from ..shapes import as_matrix_shape

oe = LazyModule("opt_einsum")  # imported on first use

__all__ = ["dense_by_einsum", "cached_expression"]


@lru_cache(maxsize=256)
def cached_expression(subscripts: str, *shapes: tuple[int, ...]) -> Any:
    """An ``opt_einsum.contract_expression`` reused across calls of the same form."""
    return oe.contract_expression(subscripts, *shapes, optimize="auto")


def dense_by_einsum(m: Any, out: np.ndarray, coef: float) -> bool:
    """Write ``coef`` times the dense matrix of the composition ``m`` into ``out`` by one contraction.

    Returns False (leaving ``out`` alone) when a factor has no einsum form.
    """
    maps = [p for t in m.maps for p in (t.parts() if hasattr(t, "parts") else (t,))]  # sandwiches
    if not all(hasattr(t, "einsum_form") for t in maps):
        return False
    symbols = (oe.get_symbol(s) for s in range(10 ** 6))
    a, b = next(symbols), next(symbols)
    first_in = (a, b)
    operands: list[tuple[str, Any]] = []
    for t in reversed(maps):
        i, j = next(symbols), next(symbols)
        operands.extend(t.einsum_form(i, j, a, b))
        a, b = i, j
    subs, operand_arrays = zip(*operands)
    arrays = list(operand_arrays)
    smallest = min(range(len(arrays)), key=lambda s: arrays[s].size)
    arrays[smallest] = coef * arrays[smallest]
    out_subs = b + a + first_in[1] + first_in[0]  # J4[j, i, b, a]
    expr = cached_expression(",".join(subs) + "->" + out_subs, *[x.shape for x in arrays])
    (n, k), (p, q) = as_matrix_shape(m.in_shape), as_matrix_shape(m.out_shape)
    expr(*arrays, out=out.reshape(q, p, k, n))
    return True
