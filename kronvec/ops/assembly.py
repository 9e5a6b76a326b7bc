"""Assembly: ``kv.block``, ``kv.hstack`` and ``kv.vstack``.

One node, ``block``, holds the blocks in row-major order and the number of
blocks in each row of blocks (``layout``).  As in ``np.block``, each row of
blocks is joined side by side (equal heights), then the rows are stacked
(equal total widths); ``hstack`` is one row and ``vstack`` one column.  A
scalar counts as a 1×1 block, so ``kv.vstack([s, t])`` is a ``(2, 1)`` vector.

The node is linear in every block: d block(…, Aᵢ, …) = Σᵢ place(dAᵢ) at the
block's position, so its derivative in one block is a placement map whose
adjoint cuts the block out of the cotangent, Ḡ ↦ Ḡ[rows of Aᵢ, columns of Aᵢ].
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..contexts import PrintContext, CodeContext, StyledPrintContext
from ..dims import unify
from ..errors import ShapeError
from ..expr import Expr, NO_PARAMS, as_expr
from ..maps import place_map
from ..registry import Params, Prec, Printing, Transpose, inferring, register
from ..shapes import fmt
from ._evaluation_rules import with_node
from .arithmetic import as_shape
from .indexing import block_offsets
from .leaves import zeros
from .products import matrix_transpose

__all__ = ["block", "hstack", "vstack"]



def _dims(e: Expr, op: str) -> tuple[int, int]:
    if e.shape == ():
        return (1, 1)
    if len(e.shape) != 2:
        raise ShapeError(f"{op}: needs matrices or scalars, got shape {fmt(e.shape)}")
    return e.shape


def _assemble(grid: list[list[Any]], op: str) -> Expr:
    """The block node of a grid of blocks (rows of blocks, each a non-empty list)."""
    rows = [[as_expr(x) for x in row] for row in grid]
    width = None
    for k, row in enumerate(rows):
        heights = {_dims(b, op)[0] for b in row}
        if len(heights) > 1:
            listed = ", ".join(fmt(b.shape) for b in row)
            message = (f"{op}: the blocks {listed} of row {k} have different numbers of rows"
                       if len(rows) > 1 or op == "block" else
                       f"{op}: shapes {listed} have different numbers of rows")
            unify([(_dims(row[0], op)[0], _dims(b, op)[0]) for b in row[1:]], message)  # inferred sizes
            raise ShapeError(message)
        row_width = sum(_dims(b, op)[1] for b in row)
        if width is not None and row_width != width[0]:
            if len(row) == len(width[1]):  # inferred widths unify, block column by block column
                unify([(_dims(a, op)[1], _dims(b, op)[1]) for a, b in zip(width[1], row)],
                      f"{op}: different numbers of columns")
            raise ShapeError(f"{op}: rows of blocks have different widths: {width[0]} (row 0: "
                             f"{', '.join(fmt(b.shape) for b in width[1])}) and {row_width} (row {k}: "
                             f"{', '.join(fmt(b.shape) for b in row)})" if op == "block" else
                             f"{op}: shapes {', '.join(fmt(r[0].shape) for r in rows)} have "
                             f"different numbers of columns")
        width = width or (row_width, row)
    assert width is not None, "a block has a row"
    shape = (sum(_dims(row[0], op)[0] for row in rows), width[0])
    flat = [b for row in rows for b in row]
    if len(flat) == 1:
        return as_shape(flat[0], shape)
    if all(b.op == "zeros" for b in flat):
        return zeros(shape)
    return Expr.make("block", flat, Params(layout=tuple(len(row) for row in rows)), shape)


def _items(seq: Any, op: str) -> list[Any]:
    if isinstance(seq, (Expr, np.ndarray)) or not isinstance(seq, Sequence) or isinstance(seq, str):
        raise TypeError(f"{op}: needs a list of matrices, got {type(seq).__name__}")
    items = list(seq)
    if not items:
        raise ValueError(f"{op}: needs at least one array")
    return items


@inferring
def block(arrays: Any) -> Expr:
    """Assemble a matrix from nested lists of blocks, as ``np.block``.

    ``kv.block([[A, B], [C, D]])`` is the matrix with A and B side by side
    above C and D; a flat list ``kv.block([A, B])`` is one row.  Blocks in
    a row have equal numbers of rows and every row of blocks the same total
    width (the column splits may differ between rows, as in NumPy).
    Scalars count as 1×1 blocks.  Only lists arrange blocks (a tuple is a
    ``TypeError``, as in NumPy).

    d block(…, Aᵢ, …) places dAᵢ at the block's position; the gradient in Aᵢ
    is the corresponding block of the gradient in the whole.

    Raises
    ------
    ShapeError
        Blocks that do not fit, naming the op and the shapes.
    """
    if isinstance(arrays, tuple):
        raise TypeError("block: arrays is a tuple; only lists can be used to arrange blocks "
                        "(as in np.block)")
    items = _items(arrays, "block")
    nested = [isinstance(x, list) for x in items]
    if any(isinstance(x, tuple) for x in items):
        raise TypeError("block: only lists can be used to arrange blocks (as in np.block)")
    if any(nested) and not all(nested):
        raise ValueError("block: list depths are mismatched (every element is a list of blocks, "
                         "or none is)")
    if not any(nested):
        return _assemble([items], "block")
    rows = [_items(row, "block") for row in items]
    if any(isinstance(x, (list, tuple)) for row in rows for x in row):
        raise ValueError("block: blocks may be nested two lists deep at most (a matrix is 2-D)")
    return _assemble(rows, "block")


@inferring
def hstack(tup: Any) -> Expr:
    """Matrices side by side, as ``np.hstack`` (equal numbers of rows).

    Scalars count as 1×1, so ``kv.hstack([s, t])`` is a ``(1, 2)`` row.
    d hstack(A, B) = hstack(dA, dB).
    """
    return _assemble([_items(tup, "hstack")], "hstack")


@inferring
def vstack(tup: Any) -> Expr:
    """Matrices one above the other, as ``np.vstack`` (equal numbers of columns).

    Scalars count as 1×1, so ``kv.vstack([s, t])`` is a ``(2, 1)`` column.
    d vstack(A, B) = vstack(dA, dB).
    """
    return _assemble([[x] for x in _items(tup, "vstack")], "vstack")


def _rows(node: Expr) -> list[tuple[Expr, ...]]:
    out, k = [], 0
    for count in node.params.layout:
        out.append(node.args[k:k + count])
        k += count
    return out


def _block_value(info: Any, *values: Any) -> np.ndarray:
    grid, k = [], 0
    for count in info.params.layout:
        row = []
        for v in values[k:k + count]:
            v = np.asarray(v, dtype=float)
            row.append(v.reshape(1, 1) if v.ndim == 0 else v)
        grid.append(row)
        k += count
    return np.block(grid)


def _block_jvp(node: Expr, i: int) -> Any:
    child = node.args[i]
    r0, c0 = block_offsets(node)[i]
    h, w = child.shape or (1, 1)
    return place_map(range(r0, r0 + h), range(c0, c0 + w), child.shape, node.shape)


def _is_grid(node: Expr) -> bool:
    """Whether every row of blocks splits its columns at the same places."""
    widths = [[(b.shape or (1, 1))[1] for b in row] for row in _rows(node)]
    return all(w == widths[0] for w in widths)


def _transposed(node: Expr, t: list[Expr]) -> Expr:
    """[A B; C D]ᵀ = [Aᵀ Cᵀ; Bᵀ Dᵀ] when the blocks form a grid; else a transpose node."""
    if not _is_grid(node):
        return Expr.make("matrix_transpose", (node,), NO_PARAMS, node.shape[::-1])
    rows = _rows(node)
    return _assemble([[matrix_transpose(row[j]) for row in rows] for j in range(len(rows[0]))], "block")


def _print_block(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
    rows = _rows(e)
    if printer.s.latex:
        body = r" \\ ".join(" & ".join(printer(b) for b in row) for row in rows)
        return r"\begin{bmatrix} " + body + r" \end{bmatrix}", Prec.ATOM
    return "[" + "; ".join(", ".join(printer(b) for b in row) for row in rows) + "]", Prec.ATOM


def _python_block(printer: PrintContext, e: Expr) -> tuple[str, int]:
    rows = ", ".join("[" + ", ".join(printer(b) for b in row) + "]" for row in _rows(e))
    return f"block([{rows}])", Prec.ATOM


def _rebuild(node: Expr, args: list[Expr]) -> Expr:
    grid, k = [], 0
    for count in node.params.layout:
        grid.append(args[k:k + count])
        k += count
    return _assemble(grid, "block")


def _block_code(g: CodeContext, e: Expr, *args: str) -> str:
    codes = [a if b.shape != () else f"{a}.reshape(1, 1)" for a, b in zip(args, e.args)]
    rows, k = [], 0
    for count in e.params.layout:
        rows.append(codes[k:k + count])
        k += count
    if g.name != "torch":
        return f"{g.array_module}.block([{', '.join('[' + ', '.join(r) + ']' for r in rows)}])"
    joined = [r[0] if len(r) == 1 else f"torch.cat([{', '.join(r)}], 1)" for r in rows]
    return joined[0] if len(joined) == 1 else f"torch.cat([{', '.join(joined)}], 0)"


_LINEAR: dict[str, Any] = dict(  # the fields of the linear assembly ops
    evaluate=with_node(_block_value), jvp=_block_jvp, rebuild=_rebuild, code=_block_code,
    transpose=Transpose(None, _transposed),
    printing=Printing(_print_block, _print_block, _python_block))

register("block", public="block", function=block, signature="blocks:grid->(m,n)",
         params=("layout",), doc="a matrix assembled from blocks, as np.block", **_LINEAR)
register("hstack", public="hstack", function=hstack, signature="blocks:row->(m,n)", node=False,
         doc="matrices side by side, as np.hstack (builds a block)")
register("vstack", public="vstack", function=vstack, signature="blocks:column->(m,n)",
         node=False, doc="matrices one above the other, as np.vstack (builds a block)")

