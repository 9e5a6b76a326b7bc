"""Dask values: stacks of matrices chunked along their stack axes, evaluated block by block.

When a value given to ``kv.evaluate`` or ``J.at`` is a Dask array, the result
is a Dask array (or a :class:`ChunkedMap`) built with ``dask.array.blockwise``:
every block of the stack is an ordinary NumPy evaluation of the same
expression for the members of that block (its batched factorizations and
products included), run on whatever Dask scheduler is active, a
``dask.distributed`` cluster included.  The numbers are NumPy's.

* The stacked values (symbols of three or more axes) must share their stack
  axes; their chunks along those axes are taken from the first one (the
  others, and NumPy values of the same stack, are chunked alike), and the
  matrix axes are kept whole.
* A sum over the stack axes (``kv.sum(kv.logdet(V))``, ``kv.mean``-like
  sums, a norm over everything) is Dask's own reduction of the blockwise
  values; what is computed from such sums is one more small task.
* For ``J.at(...)``, the map is bound once per block, lazily: nothing is
  computed until a result is, and then the binding and the products run in
  the same pass over the data (``L.persist()`` keeps the bound blocks on the
  scheduler for many products); ``jvp``/``vjp`` are one blockwise call each,
  and a result without the stack axes (a map into a sum over members, or the
  cotangent of a matrix shared by the members) is Dask's sum of the blocks'.

Operations that mix members (a permutation or reshape of the stack axes, a
tensordot over them) are refused with ``NotImplementedError``.  Dask is
imported only when Dask values arrive (:func:`dask_module`), so the core
works without it.
"""
from __future__ import annotations

import string
from functools import partial
from typing import Any, Callable, Mapping

import numpy as np

from . import evaluation
from .blockvalues import block_offset, checked_value, finite_sums
from .caches import RecentCache, constant_bytes
from .derivative import Jacobian, jacobian
from .errors import BindingError, ShapeError
from .expr import Expr, as_expr, rebuild, strip_names, substitute
from .lazy import optional_module
from .ops.leaves import symbol
from .ops.stacks import broadcast_to, c_order_reshape
from .shapes import Shape, fmt, members_from, stack_of

__all__ = ["evaluate_chunked", "at_chunked", "ChunkedMap", "dask_module", "is_dask", "resized"]


def dask_module(name: str = "dask.array") -> Any:
    """The Dask module ``name``, imported on first use (Dask is an optional extra)."""
    return optional_module(name, "dask", "Dask values")


def is_dask(x: Any) -> bool:
    """Whether ``x`` is a Dask collection (by its type's module)."""
    return type(x).__module__[:5] == "dask."


# ------------------------------------------------------------- resizing
_RESIZED: "RecentCache[Expr]" = RecentCache(256)  # bounded by the bytes of the constants it keeps alive


def _stack_shaped(e: Expr, stack: Shape) -> bool:
    k = len(stack)
    return e.shape[:k] == stack and (e.ndim >= k + 2 or e.ndim == k and e.op != "eye")


def resized(e: Expr, stack: Shape, block: Shape, names: frozenset[str]) -> Expr:
    """``e`` for a block of the stack: the stacked symbols named in ``names`` (and the leaves,
    reshapes and broadcasts of the stack's shape) with stack axes ``block`` instead of ``stack``."""
    key = (e, stack, block, names)
    hit = _RESIZED.get(key)
    if hit is not None:
        return hit
    k = len(stack)
    memo: dict[Expr, Expr] = {}
    for node in e.walk():
        p = node.params
        if node.op == "symbol" and p.name in names:
            new = symbol(p.name, block + node.shape[k:], p.symmetric, p.positive_definite)
        elif not node.args and node.op in ("zeros", "ones", "eye") and _stack_shaped(node, stack):
            new = Expr.make(node.op, (), p, block + node.shape[k:])
        elif not node.args and node.op == "const" and _stack_shaped(node, stack):
            raise NotImplementedError("a constant stack with Dask values: give it as a symbol's value")
        elif node.op in ("c_order_reshape", "broadcast_to") and _stack_shaped(node, stack):
            build = c_order_reshape if node.op == "c_order_reshape" else broadcast_to
            new = build(memo[node.args[0]], block + node.shape[k:])
        elif node.args:
            new = rebuild(node, [memo[a] for a in node.args])
        else:
            new = node
        memo[node] = new
    return _RESIZED.add(key, memo[e], constant_bytes((e, memo[e])))


# ------------------------------------------------------------- context
class _Context:
    """The Dask values of one call: the stack, its chunks, and the values by name."""

    def __init__(self, symbols: Mapping[str, Expr], given: Mapping[str, Any]) -> None:
        self.da = dask_module()
        given = {n: checked_value(self.da, n, v, symbols[n].shape) if n in symbols else v
                 for n, v in given.items()}
        self.numpy: dict[str, Any] = {}
        self.small: dict[str, Any] = {}  # Dask values passed whole to every block
        self.chunked: dict[str, Any] = {}  # Dask stacks, chunked along the stack axes
        stacked = [n for n, s in symbols.items() if n in given and is_dask(given[n]) and s.ndim >= 3]
        self.stack: Shape | None = stack_of(symbols[stacked[0]].shape) if stacked else None
        k = len(self.stack or ())
        chunks = self.da.asarray(given[stacked[0]]).chunks[:k] if stacked else ()
        self.chunks = chunks
        for name, sym in symbols.items():
            if name not in given:
                continue
            v = given[name]
            if self.stack is not None and sym.ndim >= 3 and stack_of(sym.shape) == self.stack:
                arr = v if is_dask(v) else self.da.from_array(np.asarray(v, dtype=float))
                if arr.shape != sym.shape:
                    raise ShapeError(f"value for {name}: expected shape {fmt(sym.shape)}, got "
                                                f"{fmt(arr.shape)}")
                self.chunked[name] = arr.astype(float).rechunk(chunks + tuple((s,) for s in sym.shape[k:]))
            elif is_dask(v):
                if sym.ndim >= 3:
                    raise NotImplementedError(f"value for {name}: Dask stacks need one common stack "
                                              f"{fmt(self.stack or ())}, got shape {fmt(sym.shape)}")
                self.small[name] = self.da.asarray(v).astype(float)
            else:
                self.numpy[name] = v
        self.names = frozenset(self.chunked)
        self._sums = 0
        # the indices along each stack axis, chunked as the stack: a block's first one is its offset
        self.offsets = [x for i, c in enumerate(chunks)
                        for x in (self.da.arange(sum(c), chunks=(c,)), string.ascii_letters[i])]

    @property
    def letters(self) -> str:
        return string.ascii_letters[:len(self.stack or ())]

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without the Dask module (imported again when unpickled)."""
        return {k: v for k, v in self.__dict__.items() if k != "da"}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self.da = dask_module()

    def stacked(self, e: Expr) -> bool:
        return any(name in self.chunked for name in e.symbols())

    # ------------------------------------------------------ expressions
    def value(self, e: Expr) -> Any:
        """The Dask array of ``e``."""
        e = self._sums_over_the_stack(strip_names(e))
        self._check_memberwise(e)
        if self.stack is not None and self.stacked(e):
            return self.blockwise(e)
        return self.whole(e)

    def _sums_over_the_stack(self, e: Expr) -> Expr:
        """``e`` with every sum over the stack axes replaced by a new symbol whose value is Dask's
        reduction of the blockwise values (innermost first)."""
        while self.stack is not None:
            k = len(self.stack)
            found = next((n for n in e.walk() if n.op in _STACK_REDUCTIONS and self.stacked(n.args[0])
                          and set(n.params.axes) & set(range(k))), None)
            if found is None:
                return e
            what = found.op.removeprefix("reduce_")
            if not set(range(k)) <= set(found.params.axes):
                raise NotImplementedError(f"a {what} over some of the stack axes {fmt(self.stack)} with Dask "
                                          f"values (axes {found.params.axes})")
            self._check_memberwise(found.args[0])  # reduced by Dask, but evaluated block by block
            inner = self.blockwise(found.args[0])
            total = _STACK_REDUCTIONS[found.op](inner, found.params.axes, found.params.keepdims)
            self._sums += 1
            name = f"_stack_sum{self._sums}"
            self.small[name] = total
            e = substitute(e, {id(found): symbol(name, found.shape, False, False)})
        return e

    def _check_memberwise(self, e: Expr) -> None:
        if self.stack is None:
            return
        k = len(self.stack)
        for node in e.walk():
            if not self.stacked(node):
                continue
            moves = node.op == "transpose" and node.params.axes[:k] != tuple(range(k))
            if node.shape[:k] != self.stack or moves or _along_stack_axes(node, k):
                raise NotImplementedError(f"{node.op} mixes the members of the stack {fmt(self.stack)} "
                                          f"(shape {fmt(node.shape)}), which Dask values do not support "
                                          f"block by block: pass NumPy values for it, or keep such "
                                          f"functions to the matrix axes")

    def inputs(self, e: Expr) -> tuple[list[str], list[str], dict[str, Any]]:
        """(chunked names, small Dask names, NumPy values) that ``e`` reads."""
        names = e.symbols()
        chunked = sorted(n for n in names if n in self.chunked)
        small = sorted(n for n in names if n in self.small)
        return chunked, small, {n: self.numpy[n] for n in names if n in self.numpy}

    def pairs(self, chunked: list[str], small: list[str], start: int = 0) -> tuple[list[Any], int]:
        """blockwise's (array, index) arguments: stacks by block, small arrays whole."""
        args: list[Any] = []
        pos = start
        letters = string.ascii_letters
        for name in chunked:
            arr = self.chunked[name]
            core = letters[pos:pos + arr.ndim - len(self.letters)]
            pos += len(core)
            args += [arr, self.letters + core]
        for name in small:
            arr = self.small[name]
            args += [arr, letters[pos:pos + arr.ndim]]
            pos += arr.ndim
        return args, pos

    def blockwise(self, e: Expr) -> Any:
        """``e`` evaluated block by block: a Dask array chunked like the stack."""
        chunked, small, numpy_values = self.inputs(e)
        args, pos = self.pairs(chunked, small, 2 * len(self.letters) + 2)
        k = len(self.letters)
        out_core = string.ascii_letters[pos:pos + e.ndim - k]
        assert self.stack is not None, "blockwise evaluation of a stack"
        fn = partial(_evaluate_block, e, self.stack, self.names, tuple(chunked) + tuple(small), numpy_values)
        return self.da.blockwise(fn, self.letters + out_core, *self.offsets, *args, dtype=float,
                                 concatenate=True, new_axes={c: s for c, s in zip(out_core, e.shape[k:])},
                                 meta=np.empty((0,) * e.ndim))

    def whole(self, e: Expr) -> Any:
        """``e`` as one task (it reads no stack, only sums over it and small values)."""
        chunked, small, numpy_values = self.inputs(e)
        fn = partial(_evaluate_whole, e, tuple(small), numpy_values)
        if not small:
            return self.da.from_delayed(dask_module("dask").delayed(fn)(), shape=e.shape, dtype=float)
        args, pos = self.pairs([], small)  # whole: their indices are not the output's
        out = string.ascii_letters[pos:pos + e.ndim]
        return self.da.blockwise(fn, out, *args, dtype=float, concatenate=True, meta=np.empty((0,) * e.ndim),
                                 new_axes=dict(zip(out, e.shape)))


def _evaluate_block(e: Expr, stack: Shape, names: frozenset[str], order: tuple[str, ...],
                    numpy_values: dict[str, Any], *blocks: np.ndarray) -> np.ndarray:
    """One block (after its offsets in the stack): ``e`` resized to the block's members, evaluated
    by NumPy; an error names a member by its index in the whole stack."""
    k = len(stack)
    values = dict(numpy_values)
    values.update(zip(order, blocks[k:]))
    block = _block_stack(names, order, blocks[k:], k)
    with members_from(block_offset(blocks[:k]), stack, names):
        part = finite_sums(resized(e, stack, block, names), values)
        return np.asarray(evaluation.evaluate(part, values), dtype=float)


def _block_stack(names: frozenset[str], order: tuple[str, ...], blocks: tuple[Any, ...], k: int) -> Shape:
    return next(np.shape(b)[:k] for n, b in zip(order, blocks) if n in names)


def _evaluate_whole(e: Expr, order: tuple[str, ...], numpy_values: dict[str, Any], *small: Any) -> np.ndarray:
    values = dict(numpy_values)
    values.update(zip(order, small))
    return np.asarray(evaluation.evaluate(finite_sums(e, values), values), dtype=float)


def evaluate_chunked(expr: Any, given: Mapping[str, Any]) -> Any:
    """``kv.evaluate`` with Dask values: Dask arrays (a tuple of them for several expressions)."""
    several = isinstance(expr, (list, tuple)) and any(isinstance(x, Expr) for x in expr)
    exprs = [as_expr(x) for x in expr] if several else [as_expr(expr)]
    ctx = _Context(evaluation.symbol_table(exprs), given)
    missing = [f"{s.params.name} (shape {s.shape})" for e in exprs for n, s in e.symbols().items()
               if n not in given]
    if missing:
        raise BindingError(f"missing values for {', '.join(dict.fromkeys(missing))}")
    out = [ctx.value(e) for e in exprs]
    return tuple(out) if several else out[0]


# ------------------------------------------------------------ bound maps
class ChunkedMap:
    """A Jacobian bound to Dask values, block by block (``J.at(...)`` with Dask values).

    Every block of the stack holds its own bound NumPy map, a task of the
    graph: binding computes nothing, and computing a product binds the blocks
    it needs in the same pass over the data (:meth:`persist` keeps the bound
    blocks on the active scheduler, for many products).  ``jvp`` and ``vjp``
    are one ``blockwise`` call each and return Dask arrays; an error names a
    member by its index in the whole stack.  A result without the stack axes
    (the derivative of a sum over the members, or the cotangent of a matrix
    that every member shares) is the sum of the blocks' results, by Dask's
    reduction.

    Attributes
    ----------
    in_shape, out_shape, shape : as for :class:`~kronvec.LinearMap`.
    value : dask.array.Array or None
        F at the bound point (None when a symbol of F has no value).
    """

    def __init__(self, ctx: _Context, J: Jacobian, bound: Any, stacked: tuple[bool, bool], value: Any,
                 adjoint: bool = False) -> None:
        self._ctx, self._J, self._bound, self._stacked, self.value = ctx, J, bound, stacked, value
        self._adjoint = adjoint
        self.in_shape, self.out_shape = (J.out_shape, J.in_shape) if adjoint else (J.in_shape, J.out_shape)

    @property
    def shape(self) -> tuple[int, int]:
        return (int(np.prod(self.out_shape)), int(np.prod(self.in_shape)))

    @property
    def T(self) -> "ChunkedMap":
        """The adjoint map (the VJP)."""
        return ChunkedMap(self._ctx, self._J, self._bound, self._stacked, self.value, not self._adjoint)

    def jvp(self, H: Any) -> Any:
        """dF for dV = H (an array or Dask array of ``in_shape``): a Dask array of ``out_shape``."""
        return self._apply(H, "vjp" if self._adjoint else "jvp")

    def vjp(self, G: Any) -> Any:
        """The cotangent of dV for the cotangent G of dF: a Dask array of ``in_shape``."""
        return self._apply(G, "jvp" if self._adjoint else "vjp")

    def persist(self) -> "ChunkedMap":
        """The same map with its blocks bound now and kept on the active scheduler (so that many
        products do not bind again)."""
        bound = self._bound.persist()
        return ChunkedMap(self._ctx, self._J, bound, self._stacked, self.value, self._adjoint)

    def compute(self) -> Any:
        """The NumPy :class:`~kronvec.LinearMap` at the same values (computed)."""
        values = dict(self._ctx.numpy)
        values.update({n: np.asarray(v) for n, v in {**self._ctx.chunked, **self._ctx.small}.items()
                       if not n.startswith("_stack_sum")})
        return self._J.at(values)

    def __repr__(self) -> str:
        return (f"<LinearMap bound to Dask values {fmt(self.in_shape)} -> {fmt(self.out_shape)}: "
                f"{self._J}>")

    def _apply(self, x: Any, how: str) -> Any:
        J, ctx = self._J, self._ctx
        src, dst = (J.in_shape, J.out_shape) if how == "jvp" else (J.out_shape, J.in_shape)
        src_stacked, dst_stacked = self._stacked if how == "jvp" else self._stacked[::-1]
        if (x.dtype if hasattr(x, "dtype") else np.asarray(x).dtype).kind == "c":
            raise TypeError(f"{how}: complex arrays are not supported (kronvec works in real arithmetic); "
                            f"the map is real and linear, so apply it to the real and imaginary parts")
        if tuple(np.shape(x)) != tuple(src):
            raise ShapeError(f"{how}: an array of shape {fmt(np.shape(x))} does not fit the map's "
                             f"{'input' if how == 'jvp' else 'output'} shape {fmt(src)} (stacks of "
                             f"tangents are not supported with Dask values)")
        da, k, letters = ctx.da, len(ctx.letters), ctx.letters
        if ctx.stack is None:
            task = dask_module("dask").delayed(_apply_whole)(how, self._bound, x)
            return da.from_delayed(task, shape=dst, dtype=float)
        core_in = string.ascii_letters[2 * k + 2:2 * k + 2 + len(src) - (k if src_stacked else 0)]
        if src_stacked:
            arr = da.asarray(x) if is_dask(x) else da.from_array(np.asarray(x, dtype=float))
            arg = [arr.astype(float).rechunk(ctx.chunks + tuple((s,) for s in src[k:])), letters + core_in]
        else:
            arg = [da.asarray(x).astype(float), core_in] if is_dask(x) else [np.asarray(x, dtype=float), None]
        out_core = string.ascii_letters[2 * k + 2 + len(core_in):][:len(dst) - (k if dst_stacked else 0)]
        chunks = {c: (ctx.chunks[i] if dst_stacked else 1) for i, c in enumerate(letters)}
        out_shape = dst[k:] if dst_stacked else dst
        fn = partial(_apply_block, how, dst_stacked, ctx.stack, ctx.names)
        out = da.blockwise(fn, letters + out_core, *ctx.offsets, self._bound, letters, *arg, dtype=float,
                           concatenate=True, align_arrays=False, adjust_chunks=chunks,
                           new_axes=dict(zip(out_core, out_shape)), meta=np.empty((0,) * (k + len(out_core))))
        return out if dst_stacked else out.sum(axis=tuple(range(k)))


def _apply_block(how: str, stacked: bool, stack: Shape, names: frozenset[str],
                 *blocks: np.ndarray) -> np.ndarray:
    """One block's jvp or vjp (with unit stack axes in front when the result is summed), after
    the block's offsets in the stack, its bound map and its tangent."""
    k = len(stack)
    m, x = blocks[k].reshape(-1)[0], blocks[k + 1]
    with members_from(block_offset(blocks[:k]), stack, names):
        y = m.jvp(x) if how == "jvp" else m.vjp(x)
    return y if stacked else np.asarray(y)[(None,) * k]


def _apply_whole(how: str, m: Any, x: Any) -> np.ndarray:
    y: np.ndarray = m.jvp(x) if how == "jvp" else m.vjp(x)
    return y


def _bind_block(F: Expr, wrt: Expr, stack: Shape, names: frozenset[str], order: tuple[str, ...],
                numpy_values: dict[str, Any], *blocks: np.ndarray) -> np.ndarray:
    """One block's bound map, in a 1-element object array (one per block of the stack); the
    block's offsets in the stack come first."""
    k = len(stack)
    values = dict(numpy_values)
    values.update(zip(order, blocks[k:]))
    block = _block_stack(names, order, blocks[k:], k)
    with members_from(block_offset(blocks[:k]), stack, names):
        m = jacobian(resized(F, stack, block, names), resized(wrt, stack, block, names)).at(values)
    out = np.empty((1,) * k, dtype=object)
    out[(0,) * k] = m
    return out


def _sums_of_members(ctx: _Context, e: Expr) -> bool:
    """Whether ``e`` is linear in sums over the stack of member-wise terms (plus terms without the
    stack): then its derivative is the sum of the blocks' derivatives."""
    if not ctx.stacked(e):
        return True
    if e.op in ("add", "named"):
        return all(_sums_of_members(ctx, a) for a in e.args)
    if e.op == "scale":
        return _sums_of_members(ctx, e.args[0])
    if e.op == "reduce_sum" and set(range(len(ctx.letters))) <= set(e.params.axes):
        ctx._check_memberwise(e.args[0])
        return True
    return False


def at_chunked(J: Jacobian, given: Mapping[str, Any]) -> ChunkedMap:
    """``J.at(...)`` with Dask values: a :class:`ChunkedMap`."""
    F, wrt = strip_names(J.expr), J.wrt
    ctx = _Context(evaluation.symbol_table([F, wrt]), given)
    missing = [f"{s.params.name} (shape {s.shape})" for n, s in F.symbols().items() if n not in given]
    if missing:
        raise BindingError(f"missing values for {', '.join(missing)}")
    value = ctx.value(J.expr)
    if ctx.stack is None:
        values = {**ctx.numpy, **ctx.small}
        bound = dask_module("dask").delayed(J.at)(values)
        return ChunkedMap(ctx, J, bound, (False, False), value)
    out_stacked = ctx.stacked(F) and F.shape[:len(ctx.stack)] == ctx.stack
    if out_stacked:
        ctx._check_memberwise(F)
    elif not _sums_of_members(ctx, F):
        raise NotImplementedError("J.at with Dask values: the expression must act member by member on "
                                  "the stack, or be a sum over the stack of such terms; compute the "
                                  "other parts first")
    chunked, small, numpy_values = ctx.inputs(F)
    if small:
        raise NotImplementedError("J.at with Dask values: give the matrices shared by the members as "
                                  "NumPy arrays")
    args, _ = ctx.pairs(chunked, [], len(ctx.letters))
    fn = partial(_bind_block, F, wrt, ctx.stack, ctx.names, tuple(chunked), numpy_values)
    k = len(ctx.letters)
    bound = ctx.da.blockwise(fn, ctx.letters, *ctx.offsets, *args, dtype=object, concatenate=True,
                             adjust_chunks={c: 1 for c in ctx.letters},
                             meta=np.empty((0,) * k, dtype=object))
    return ChunkedMap(ctx, J, bound, (wrt.params.name in ctx.chunked, out_stacked), value)


evaluation.CHUNKED.install(evaluate=evaluate_chunked, at=at_chunked)


def _logsumexp(x: Any, axis: tuple[int, ...], keepdims: bool) -> Any:
    """log Σ exp(x) over ``axis`` of a Dask array, shifted by the maximum (finite at ±800)."""
    top = x.max(axis=axis, keepdims=True)
    top = dask_module().where(dask_module().isfinite(top), top, 0.0)
    out = dask_module().log(dask_module().exp(x - top).sum(axis=axis, keepdims=True)) + top
    return out if keepdims else out.squeeze(axis=axis)


# reductions over the stack axes that Dask computes from the blockwise values (values only: the
# derivatives of max, min and logsumexp over the members mix them, and are refused)
_STACK_REDUCTIONS: dict[str, Callable[[Any, tuple[int, ...], bool], Any]] = {
    "reduce_sum": lambda x, axis, keep: x.sum(axis=axis, keepdims=keep),
    "reduce_max": lambda x, axis, keep: x.max(axis=axis, keepdims=keep),
    "reduce_min": lambda x, axis, keep: x.min(axis=axis, keepdims=keep),
    "reduce_logsumexp": _logsumexp,
}


def _along_stack_axes(node: Expr, k: int) -> bool:
    """Whether a node that keeps the stack's shape still works along one of its first ``k`` axes
    (softmax over the members, the weights of a max over them, ...): its value in one block
    would depend on the other blocks."""
    if node.op == "transpose":
        return False
    params = node.params
    axes = getattr(params, "axes", getattr(params, "axis", False))
    if axes is False:
        return False
    if axes is None:
        return True
    axes = (axes,) if isinstance(axes, int) else tuple(axes)
    ndim = node.args[0].ndim if node.args else node.ndim  # the axes are those of the argument
    return any((a + ndim if a < 0 else a) < k for a in axes)
