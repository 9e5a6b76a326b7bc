"""``kv.diagonal(A, offset, axis1, axis2)`` and the trace with an offset, as NumPy's.

The diagonal with offset o of the planes (axis1, axis2) is the main diagonal of the
k × k block that starts at row max(0, −o) and column max(0, o): the planes are moved
to the last two axes, the block is selected (an index map for a matrix, products with
constant selection matrices [0 I 0] for a stack) and its diagonal extracted, so the
derivative is a composition of lazy selection maps.  As NumPy, the result drops both
axes and appends the diagonal: ``(k,)`` for a matrix, ``(..., k)`` for a stack.  The
trace with an offset is the sum of that diagonal (0 when the diagonal is empty).
"""
from __future__ import annotations



from ..dims import size_text
from ..expr import Expr, Operand, as_expr
from ..registry import inferring, register
from ..shapes import fmt, smaller, stack_of
from .indexing import selected_rows
from .leaves import filled, zeros
from .reductions import sum as sum_
from .stacks import normalize_axes, reduce_sum, c_order_reshape
from .stacks import transpose as permute
from .structure import diag

__all__ = ["diagonal", "offset_trace"]



def _planes_last(op: str, a: Expr, axis1: int, axis2: int) -> Expr:
    """``a`` with the axes ``axis1``, ``axis2`` moved to the end, in that order."""
    if a.ndim < 2:
        raise ValueError(f"{op}: needs at least two axes, got shape {fmt(a.shape)}")
    first, second = (normalize_axes(op, x, a.shape)[0] for x in (axis1, axis2))
    if first == second:
        raise ValueError(f"{op}: axis1 and axis2 cannot be the same (got {axis1} and {axis2})")
    ndim = a.ndim
    if (first, second) == (ndim - 2, ndim - 1):
        return a
    return permute(a, tuple(k for k in range(ndim) if k not in (first, second)) + (first, second))


def _block_size(shape: tuple[int, ...], offset: int) -> tuple[int, int, int]:
    """(first row, first column, k) of the k × k block whose diagonal is the offset diagonal."""
    n, m = shape[-2:]
    row, col = max(0, -offset), max(0, offset)
    what = f"diagonal: the diagonal of offset {offset} in planes {fmt(shape[-2:])} has"
    return row, col, max(0, smaller(n - row, m - col, what))


def _offset_block(a: Expr, offset: int) -> Expr:
    """The k × k block of each plane whose main diagonal is the offset diagonal."""
    n, m = a.shape[-2:]
    row, col, k = _block_size(a.shape, offset)
    if (row, col) == (0, 0) and k == n == m:
        return a
    if a.ndim == 2:
        return a[row:row + k, col:col + k]
    if (row, k) != (0, n):
        a = selected_rows(n, range(row, row + k), f"[0 I 0]{size_text(k)}×{size_text(n)}") @ a
    if (col, k) != (0, m):
        a = a @ selected_rows(m, range(col, col + k), f"[0 I 0]{size_text(k)}×{size_text(m)}").T
    return a


@inferring
def diagonal(a: Operand, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Expr:
    """The diagonal as ``numpy.diagonal(A, offset, axis1, axis2)``: the entries A[i, i + offset].

    For a matrix a 1-D result ``(k,)``; for an array of three or more axes the planes
    spanned by ``axis1`` and ``axis2`` (NumPy's defaults: the first two axes) are removed
    and their diagonals appended, ``(..., k)``.  It is linear: d diagonal(A) =
    diagonal(dA), a selection.  An empty diagonal (offset past the edge) raises.
    """
    a = _planes_last("diagonal", as_expr(a), axis1, axis2)
    offset = int(offset)
    k = _block_size(a.shape, offset)[2]
    if k == 0:
        raise ValueError(f"diagonal: offset {offset} leaves no diagonal in planes of shape "
                         f"{fmt(a.shape[-2:])}")
    column = diag(_offset_block(a, offset))
    return c_order_reshape(column, column.shape[:-1])


diagonal.__dict__["stack_keywords"] = ("offset", "axis1", "axis2")  # (not parsed)


def offset_trace(a: Operand, offset: int, axis1: int = 0, axis2: int = 1) -> Expr:
    """Σᵢ A[i, i + offset] as ``numpy.trace(A, offset, axis1, axis2)`` (``kv.trace`` with an offset):
    the sum of :func:`diagonal`, 0 for an empty diagonal; d tr = tr(dA) over the same entries."""
    a = _planes_last("trace", as_expr(a), axis1, axis2)
    offset = int(offset)
    if _block_size(a.shape, offset)[2] == 0:
        stack = stack_of(a.shape)
        return filled("zeros", stack) if stack else zeros(())
    d = diagonal(a, offset, -2, -1)
    return sum_(d) if d.ndim == 1 else reduce_sum(d, (d.ndim - 1,), False)


register("diagonal", public="diagonal", function=diagonal, signature="(n,n)->(n)", node=False,
         stacks=True, doc="the diagonal with an offset, as np.diagonal (a 1-D result for a matrix)")
register("offset_trace", function=offset_trace, node=False, stacks=True,
         doc="the trace with an offset, as np.trace (kv.trace dispatches here)")
