"""Program steps on tensors: einsum contractions (with a constant, with a new variable, of
the term alone: permutations, sums over axes, diagonals) and reshaping (reshape in C and F
order, new axes by indexing and expand_dims, squeeze, moveaxis, outer)."""
from __future__ import annotations

import math
import string

import numpy as np
from hypothesis import strategies as st

import kronvec as kv

from .terms import Context, Term


def _letters(ndim: int) -> str:
    return string.ascii_lowercase[:ndim]


def draw_einsum(ctx: Context, t: Term) -> Term | None:
    """einsum of t alone (a permutation, a sum over some axes, a diagonal), with a constant
    contracting its last axis, or with a new variable of its shape (a Hadamard-like product
    summed over one axis)."""
    shape = t.shape
    letters = _letters(len(shape))
    kinds = ["alone", "constant"] + (["variable"] if len(ctx.variables) < 3 and len(shape) >= 2 else [])
    kind = ctx.pick(kinds)
    if kind == "alone":
        same = [(i, j) for i in range(len(shape)) for j in range(i + 1, len(shape)) if shape[i] == shape[j]]
        if same and ctx.pick([True, False]):  # a diagonal over two axes of one size
            i, j = ctx.pick(same)
            subs = letters[:j] + letters[i] + letters[j + 1:]
            out = "".join(dict.fromkeys(subs))
        else:
            kept = [c for c in letters if ctx.pick([True, False])]
            out = "".join(ctx.draw(st.permutations(kept))) if kept else ""
            subs = letters
        text = f"{subs}->{out}"
        return t.then(kv.einsum(text, t.expr), lambda v: np.einsum(text, t.twin(v)), tags=("einsum",))
    if kind == "constant":
        k = ctx.pick([1, 2])
        if not shape:
            c = ctx.rng.standard_normal(k)
            text = ",k->k"
        else:
            c = ctx.rng.standard_normal((shape[-1], k))
            text = f"...{letters[-1]},{letters[-1]}z->...z"
        return t.then(kv.einsum(text, t.expr, c), lambda v: np.einsum(text, t.twin(v), c), tags=("einsum",))
    y = ctx.new_variable(shape)
    out = letters[:-1]
    text = f"{letters},{letters}->{out}"
    return t.then(kv.einsum(text, t.expr, y.expr), lambda v: np.einsum(text, t.twin(v), y.twin(v)),
                  also=(y,), tags=("einsum",))


def _factorizations(size: int) -> list[tuple[int, ...]]:
    out = [(size,), (1, size), (size, 1)]
    out += [(a, size // a) for a in range(2, size) if size % a == 0]
    out += [(a, b, size // (a * b)) for a in range(2, size) for b in range(2, size) if size % (a * b) == 0
            and size // (a * b) > 1]
    return out


def draw_reshaping(ctx: Context, t: Term) -> Term | None:
    """reshape (C or F order), a new axis by indexing then a broadcast product, expand_dims and
    squeeze, moveaxis, or outer with a constant vector."""
    shape = t.shape
    kind = ctx.pick(["reshape", "newaxis", "expand_squeeze", "moveaxis", "outer"])
    if kind == "reshape":
        target = ctx.pick(_factorizations(max(1, math.prod(shape))))
        order = ctx.pick(["C", "F"])
        return t.then(kv.reshape(t.expr, target, order=order),
                      lambda v: np.reshape(t.twin(v), target, order=order), tags=("reshape",))
    if kind == "newaxis":
        if not shape:
            return None
        # A[None] or A[:, None]; of a matrix also with an integer, as NumPy (X[0, None] is (1, m))
        with_integer = [(0, None), (None, -1), (slice(None), 0, None), (-1, slice(None), None)]
        key = ctx.pick([(None,), (slice(None), None)] + (with_integer if len(shape) == 2 else []))
        spread = list(t.expr[key].shape)
        spread[sum(1 for item in key[:key.index(None)] if not isinstance(item, int))] = 2
        c = ctx.rng.standard_normal(tuple(spread))
        return t.then(t.expr[key] * c, lambda v: t.twin(v)[key] * c, tags=("new axis",))
    if kind == "expand_squeeze":
        axis = ctx.pick(list(range(len(shape) + 1)))
        expanded = kv.expand_dims(t.expr, axis)
        c = ctx.rng.standard_normal(expanded.shape)
        return t.then(kv.squeeze(expanded * c, axis),
                      lambda v: np.squeeze(np.expand_dims(t.twin(v), axis) * c, axis), tags=("new axis",))
    if kind == "moveaxis":
        if len(shape) < 2:
            return None
        source, destination = ctx.pick(list(range(len(shape)))), ctx.pick(list(range(-len(shape), 0)))
        return t.then(kv.moveaxis(t.expr, source, destination),
                      lambda v: np.moveaxis(t.twin(v), source, destination), tags=("moveaxis",))
    c = ctx.rng.standard_normal(ctx.pick([1, 2]))
    return t.then(kv.outer(t.expr, c), lambda v: np.outer(t.twin(v), c), tags=("outer",))


TENSOR_STEPS = [draw_einsum, draw_reshaping]
