"""Indexing: ``X[i, j]``, ``X[:, j]``, ``X[i, :]``, ``X[a:b, c:d]``, and the placement
that is its adjoint.

``X[key]`` follows NumPy's basic indexing with columns for vectors (see
:mod:`kronvec.indices`): an ``index`` node keeps the rows and columns taken
as ranges.  It is linear, d(X[r, c]) = dX[r, c], so its derivative is a
selection map, H ↦ H[r, c]; the adjoint of that map places a matrix into
zeros, G ↦ 0 with G at [r, c], which gradients contain as a ``place`` node:

    ∇_X tr(Cᵀ X[r, c]) = place(C, [r, c])   (C at rows r, columns c; zero elsewhere)

Both are their own kind of linear op, so they are differentiated again
(Hessians) with the same maps.  Canonical forms kept by the constructors:
``X[:, :]`` is X, an index of an index is one index, ``(X[r, c])ᵀ = Xᵀ[c, r]``,
an index of a block that falls inside one block indexes that block, an index
of a placement reads the placed matrix (or zero), constants are folded and
numeric scalings pulled out.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import registry
from ..contexts import CodeContext, PrintContext, StyledPrintContext
from ..dims import BASE, size_text
from ..expr import Expr, Operand, as_expr
from ..indices import as_range, as_slice, disjoint, is_named_range, key_text, normalize_key, within
from ..maps import LinearMap, place_map, select_map
from ..registry import Params, Prec, Printing, Transpose, register
from ..shapes import Shape, fmt
from ._code_templates import code_slice
from ._evaluation_rules import with_node
from .arithmetic import as_shape, scale, smul
from .leaves import Constant, eye, ones, zeros

__all__ = ["getitem", "index", "place", "selected_rows"]



def getitem(a: Operand, key: Any) -> Expr:
    """``a[key]`` with NumPy's basic indexing; vectors are ``(n, 1)`` columns.

    ``X[i, j]`` is the entry (a scalar), ``X[:, j]`` the column ``(n, 1)``,
    ``X[i, :]`` the row ``(1, m)``, ``X[a:b, c:d]`` a block (steps and
    negative indices as in NumPy), ``x[i]`` an entry of a vector and
    ``X[a:b]`` a range of rows.  Its differential is d(X[key]) = dX[key].

    Raises
    ------
    IndexError
        Out of range, too many indices, fancy indexing (lists, arrays,
        booleans), ``...``, ``None``, or ``X[i]`` of a matrix with several columns.
    ShapeError
        An empty selection.
    """
    a = as_expr(a)
    items = key if isinstance(key, tuple) else (key,)
    if any(item is None for item in items):  # new axes: A[:, None], A[None]
        if a.ndim == 2 and not all(item is None or item is Ellipsis or item == slice(None) for item in items):
            return _index_with_new_axes(a, items)
        return registry.function("index_newaxis")(a, key)
    rows, cols, shape = normalize_key(key, a.shape, f"index of a matrix of shape {a.shape}")
    return index(a, rows, cols, shape)


def _index_with_new_axes(a: Expr, items: tuple[Any, ...]) -> Expr:
    """``X[key]`` of a matrix for a key that mixes ``None`` with integers or slices, as NumPy:
    an integer drops its axis, a slice keeps it, ``None`` inserts an axis of length one, in the
    order of the key.  So ``X[0, None]`` and ``X[None, 0]`` are the row ``(1, m)`` (kronvec's
    ``X[0, :]``), ``X[:, 0, None]`` the column ``(n, 1)`` and ``X[0, :, None]`` is ``(m, 1)``."""
    what = f"index {_key_repr(items)} of a matrix of shape {fmt(a.shape)}"
    if sum(item is Ellipsis for item in items) > 1:
        raise IndexError(f"{what}: an index can only have a single ellipsis ('...')")
    indexed = [item for item in items if item is not None and item is not Ellipsis]
    if len(indexed) > 2:
        raise IndexError(f"{what}: too many indices, {len(indexed)} for 2 axes")
    spread = [slice(None)] * (2 - len(indexed))
    at = items.index(Ellipsis) if Ellipsis in items else len(items)
    full = list(items[:at]) + spread + [item for item in items[at + 1:]] if Ellipsis in items \
        else list(items) + spread
    parts = tuple(item for item in full if item is not None)
    rows, cols, _ = normalize_key(parts, a.shape, what)
    block = index(a, rows, cols, (len(rows), len(cols)))
    lengths = iter((len(rows), len(cols)))
    shape: list[int] = []
    for item in full:
        if item is None:
            shape.append(1)
        elif isinstance(item, slice):
            shape.append(next(lengths))
        else:
            next(lengths)  # an integer drops its axis
    return block if tuple(shape) == block.shape else registry.function("reshape")(block, tuple(shape))


def _key_repr(items: tuple[Any, ...]) -> str:
    """``[0, None]``: the key as it was written."""
    def one(item: Any) -> str:
        if isinstance(item, slice):
            return ":".join("" if x is None else str(x) for x in (item.start, item.stop)) + \
                ("" if item.step is None else f":{item.step}")
        return "..." if item is Ellipsis else repr(item)
    return "[" + ", ".join(one(item) for item in items) + "]"


register("getitem", function=getitem, node=False,
         doc="X[key]: builds the index node of NumPy's basic indexing")


def _within(inner: range, outer: range) -> range | None:
    """The positions, within ``outer``, of the entries of ``inner`` (None unless all are in it)."""
    if is_named_range(inner) or is_named_range(outer):
        return within(inner, outer)  # positions on an axis whose size is a name: never listed
    if not set(inner) <= set(outer):
        return None
    return as_range([outer.index(x) for x in inner])


def selected_rows(n: int, rows: range, label: str) -> Expr:
    """The rows ``rows`` of I_n ([0 I 0], printed as ``label``): a constant, or for a size given
    as a name the index of the identity (evaluated once values fix the sizes)."""
    if n < BASE:
        return Constant(np.eye(n)[rows.start:rows.stop], label)
    return index(eye(n), rows, range(n), (len(rows), n)).named(label)


def _disjoint(a: range, b: range) -> bool:
    if is_named_range(a) or is_named_range(b):
        return disjoint(a, b)
    return not set(a) & set(b)


def index(a: Operand, rows: range, cols: range, shape: Shape) -> Expr:
    """The entries of ``a`` at ``rows`` and ``cols`` (ranges), as a matrix of ``shape``.

    ``shape`` is ``(len(rows), len(cols))``, or ``()`` for one entry taken as a
    scalar.  This is the node behind ``a[key]`` (:func:`getitem`); selection
    maps build it when applied to expressions.
    """
    a = as_expr(a)
    shape = tuple(shape)
    if a.shape == ():
        return as_shape(a, shape)  # a scalar read whole
    if rows == range(a.shape[0]) and cols == range(a.shape[1]) and shape == a.shape:
        return a
    simpler = _simplified(a, rows, cols, shape)
    if simpler is not None:
        return simpler
    return Expr.make("index", (a,), Params(rows=rows, cols=cols), shape)


def _simplified(a: Expr, rows: range, cols: range, shape: Shape) -> Expr | None:
    op = a.op
    if op == "index":
        return index(a.args[0], a.params.rows[as_slice(rows)], a.params.cols[as_slice(cols)], shape)
    if op == "zeros":
        return zeros(shape)
    if op == "ones":
        return ones(shape)
    if op == "scale":
        return scale(a.params.coef, index(a.args[0], rows, cols, shape))
    if op == "smul" and a.args[1].shape == a.shape:
        return smul(a.args[0], index(a.args[1], rows, cols, shape))
    if op == "const" and a.params.value.name is None:
        return Constant(a.params.value.array[as_slice(rows), as_slice(cols)].reshape(shape))
    if op == "eye" and rows == cols:
        return eye(len(rows)) if shape != () else Constant(1.0)
    if op == "eye" and _disjoint(rows, cols):
        return zeros(shape)
    if op == "place":
        return _index_of_place(a, rows, cols, shape)
    if op == "block":
        return _index_of_block(a, rows, cols, shape)
    if op == "eigh_vectors" and len(cols) == 1:  # a column of eigh's V: differentiable where its
        # eigenvalue is simple, also at ties of the others (ops/eigen_ties.py)
        column = registry.function("eigh_column")(a.args[0], cols[0], a.params.UPLO)
        return index(column, rows, range(1), shape)
    return None


def _index_of_place(a: Expr, rows: range, cols: range, shape: Shape) -> Expr | None:
    placed_rows, placed_cols = a.params.rows, a.params.cols
    if _disjoint(rows, placed_rows) or _disjoint(cols, placed_cols):
        return zeros(shape)
    r, c = _within(rows, placed_rows), _within(cols, placed_cols)
    if r is None or c is None:
        return None
    return index(a.args[0], r, c, shape)


def _index_of_block(a: Expr, rows: range, cols: range, shape: Shape) -> Expr | None:
    for child, (r0, c0) in zip(a.args, block_offsets(a)):
        h, w = child.shape or (1, 1)
        r, c = _within(rows, range(r0, r0 + h)), _within(cols, range(c0, c0 + w))
        if r is not None and c is not None:
            return index(child, r, c, shape)
    return None


def block_offsets(node: Expr) -> list[tuple[int, int]]:
    """(first row, first column) of every block of a block node, in argument order."""
    out, k, top = [], 0, 0
    for count in node.params.layout:
        left = 0
        row = node.args[k:k + count]
        for child in row:
            out.append((top, left))
            left += (child.shape or (1, 1))[1]
        top += (row[0].shape or (1, 1))[0]
        k += count
    return out


def _index_value(info: Any, x: Any) -> np.ndarray:
    x = np.asarray(x, dtype=float)
    x = x.reshape(1, 1) if x.ndim == 0 else x
    taken = x[..., as_slice(info.params.rows), as_slice(info.params.cols)]
    return taken.reshape(x.shape[:-2] + info.shape).copy()


def _code_key(g: CodeContext, rows: range, cols: range, shape: Shape) -> str:
    if g.name == "torch" and (rows.step < 0 or cols.step < 0):
        g.unsupported("an index with a negative step (PyTorch slices take positive steps only)")
    return f"{code_slice(rows, shape[0])}, {code_slice(cols, shape[1])}"


def _index_code(g: CodeContext, e: Expr, x: str) -> str:
    rows, cols = e.params.rows, e.params.cols
    code = f"{x}[{_code_key(g, rows, cols, e.args[0].shape)}]"
    return code if e.shape == (len(rows), len(cols)) else f"{code}.reshape({e.shape})"


def _place_code(g: CodeContext, e: Expr, x: str) -> str:
    rows, cols, shape = e.params.rows, e.params.cols, e.shape or (1, 1)
    block = (len(rows), len(cols))
    value = x if e.args[0].shape in (block, ()) else f"{x}.reshape({block})"  # a scalar broadcasts
    out = g.backend.place(g, shape, _code_key(g, rows, cols, shape), value)
    return out if e.shape == shape else f"{out}.reshape(())"


def _print_key(printer: PrintContext, e: Expr) -> str:
    return key_text(e.params.rows, e.params.cols, e.args[0].shape, e.shape == ())


def _print_index(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
    base = e.args[0]
    text = printer(base, Prec.POSTFIX if base.op == "matrix_transpose" else Prec.ATOM)
    key = _print_key(printer, e)
    if printer.s.latex:  # braces keep X^{\top} from taking a second superscript after the key
        return f"{'{' + text + '}' if '^' in text else text}_{{{_latex_key(key)}}}", Prec.ATOM
    return f"{text}[{key}]", Prec.ATOM


def _latex_key(key: str) -> str:
    """``1{:}3,\\, 0``: colons as ordinary symbols, a thin space after commas."""
    return key.replace(":", "{:}").replace(", ", ",\\,")


def _index_jvp(node: Expr, i: int) -> LinearMap:
    """d(A[rows, cols]) = dA[rows, cols]: a selection."""
    return select_map(node.params.rows, node.params.cols, node.args[0].shape, node.shape)


def _index_transposed(node: Expr, t: list[Expr]) -> Expr:
    """A[rows, cols]ᵀ = Aᵀ[cols, rows]."""
    return index(t[0], node.params.cols, node.params.rows, node.shape[::-1])


def _python_index(printer: PrintContext, e: Expr) -> tuple[str, int]:
    return f"{printer(e.args[0], Prec.ATOM)}[{_print_key(printer, e)}]", Prec.POSTFIX


register(
    "index", function=index, params=("rows", "cols"),
    evaluate=with_node(_index_value), code=_index_code,
    jvp=_index_jvp,
    transpose=Transpose((0,), _index_transposed),
    printing=Printing(_print_index, _print_index, _python_index),
    rebuild=lambda node, args: index(args[0], node.params.rows, node.params.cols, node.shape),
    doc="X[i, j], X[:, j], X[i, :], X[a:b, c:d]: basic indexing (a selection)",
)


# ----------------------------------------------------------------- place
def place(g: Operand, rows: range, cols: range, shape: Shape) -> Expr:
    """The zero matrix of ``shape`` with ``g`` at ``rows`` and ``cols`` (ranges).

    The adjoint of indexing: ⟨place(G, [r, c]), H⟩ = ⟨G, H[r, c]⟩; gradients
    through ``X[r, c]`` contain it.  It is linear in g, and its derivative is
    the placement map.
    """
    g = as_expr(g)
    shape = tuple(shape)
    rows_all, cols_all = (range(shape[0]), range(shape[1])) if shape else (range(1), range(1))
    if g.shape == (1, 1) and g.op == "eye":
        g = Constant(1.0)  # a scalar placed: the entry 1, not the 1×1 identity
    elif g.shape == (1, 1) and g.op == "smul" and g.args[1].op == "eye":
        g = g.args[0]
    if g.op == "zeros":
        return zeros(shape)
    if rows == rows_all and cols == cols_all:
        return as_shape(g, shape) if g.shape != shape and shape == (1, 1) else g
    if g.op == "scale":
        return scale(g.params.coef, place(g.args[0], rows, cols, shape))
    if g.op == "smul" and g.args[1].shape == g.shape:
        return smul(g.args[0], place(g.args[1], rows, cols, shape))
    if g.op == "place":
        return place(g.args[0], rows[as_slice(g.params.rows)], cols[as_slice(g.params.cols)], shape)
    return Expr.make("place", (g,), Params(rows=rows, cols=cols), shape)


def _place_value(info: Any, g: Any) -> np.ndarray:
    g = np.asarray(g, dtype=float)
    rows, cols = info.params.rows, info.params.cols
    batch = g.shape[:-2] if g.ndim > 2 else ()
    out = np.zeros(batch + (info.shape or (1, 1)))
    out[..., as_slice(rows), as_slice(cols)] = g.reshape(batch + (len(rows), len(cols)))
    return out.reshape(batch + info.shape)


def _place_key(e: Expr) -> str:
    scalar = len(e.params.rows) == len(e.params.cols) == 1  # one entry: written [i, j]
    return key_text(e.params.rows, e.params.cols, e.shape or (1, 1), scalar)


def _print_place(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
    """``place₍₄,₃₎(G, [1:3, 0])``: G at rows 1:3, column 0 of a 4×3 zero matrix."""
    key, dims = _place_key(e), e.shape or (1, 1)
    if printer.s.latex:
        name = "\\operatorname{place}" + printer.s.sized("", *dims)
        return printer.s.func(name, printer(e.args[0]), f"[{_latex_key(key)}]"), Prec.ATOM
    return printer.s.func(printer.s.sized("place", *dims), printer(e.args[0]), f"[{key}]"), Prec.ATOM


def _python_place(printer: PrintContext, e: Expr) -> tuple[str, int]:
    parts = [_python_slice(r) for r in (e.params.rows, e.params.cols)]
    return f"place({printer(e.args[0])}, {tuple(e.shape)}, ({parts[0]}, {parts[1]}))", Prec.ATOM


def _python_slice(r: range) -> str:
    s = as_slice(r)
    bounds = ("None" if b is None else size_text(b) if b >= 0 else str(b) for b in (s.start, s.stop, s.step))
    return f"slice({', '.join(bounds)})"  # (sizes given as names by their names: slice(1, n, 1))


def _place_jvp(node: Expr, i: int) -> LinearMap:
    """d place(A) = place(dA): a placement, the adjoint of a selection."""
    return place_map(node.params.rows, node.params.cols, node.args[0].shape, node.shape)


def _place_transposed(node: Expr, t: list[Expr]) -> Expr:
    """place(A, rows, cols)ᵀ = place(Aᵀ, cols, rows)."""
    return place(t[0], node.params.cols, node.params.rows, node.shape[::-1])


def _rebuild_place(node: Expr, args: list[Expr]) -> Expr:
    return place(args[0], node.params.rows, node.params.cols, node.shape)


register(
    "place", function=place, params=("rows", "cols"),
    evaluate=with_node(_place_value), code=_place_code,
    jvp=_place_jvp,
    transpose=Transpose((0,), _place_transposed),
    printing=Printing(_print_place, _print_place, _python_place),
    rebuild=_rebuild_place,
    doc="a matrix placed into zeros (the adjoint of indexing; in gradients)",
)
