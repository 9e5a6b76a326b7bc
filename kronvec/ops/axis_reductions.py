"""Reductions along an axis: mean, max and min (``kv.sum`` is in :mod:`.reductions`).

As in NumPy, ``axis=None`` reduces every entry to a scalar, ``axis=0`` each
column (giving ``(1, m)``) and ``axis=1`` each row (giving ``(n, 1)``);
negative axes count from the end.  The results keep two dimensions, since
vectors are columns and rows here; ``keepdims=True`` makes the total of all
entries the 1×1 matrix.  For a stack (three or more axes, or per-member
scalars), NumPy's reductions: ``axis`` None, an integer or a tuple, the
reduced axes removed unless ``keepdims=True`` (the internal nodes
``reduce_max``, ``reduce_min``, as ``reduce_sum`` for ``kv.sum``).

The derivative of a reduction that weighs the entries of each slice by W
(the slice's maximum for max, the softmax for logsumexp) is dA ↦ Σ(W ⊙ dA) per
slice: tr(Wᵀ dA) for ``axis=None``, 𝟙ᵀ(W ⊙ dA) for ``axis=0`` and
(W ⊙ dA)𝟙 for ``axis=1`` (:func:`slice_sum_jvp`).  For max and min, W is the
indicator of the entries where the extremum is attained, divided by their
number: ties split the derivative evenly.  Over the axes of a stack the
derivative is the same, Σ over those axes (:func:`axes_sum_jvp`).
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from ..contexts import CodeContext
from ..expr import Expr, Operand, as_expr
from ..maps import ElementwiseMap, KronMap, LinearMap, TraceMap, ZeroMap
from ..maps.axes import ReduceMap
from ..maps.algebra import compose
from ..registry import Params, inferring, register, signature_of
from ..shapes import Shape, is_plain
from ..signature import normalize_keyword
from ._code_templates import code_axis, code_for
from ._evaluation_rules import with_node
from ._jvp_rules import map_shapes
from ._printing_rules import axes_printing, axis_printing
from .broadcasting import broadcast_to
from .leaves import ones, per_size
from .products import matrix_transpose
from .reductions import AXIS_REDUCTION
from .reductions import sum as sum_
from .stacks import normalize_axes, reduced_shape, c_order_reshape

__all__ = ["mean", "max", "min", "AXIS_REDUCTION", "AXIS_KEPT", "slice_sum_jvp", "slice_length",
           "resolve_axis", "axes_sum_jvp", "keep_total", "stack_reduction"]


AXIS_KEPT = "(...),axis=None->(...) | (m,n),axis=0->(m,n) | (m,n),axis=1->(m,n)"
"""The signature of a function along an axis that keeps the shape (softmax, log_softmax)."""


def resolve_axis(spec: Any, op: str, a: Expr, axis: Any) -> tuple[Shape, int | None]:
    """The result shape of ``op(a, axis=axis)`` and the axis normalized (−1 is 1)."""
    axis = normalize_keyword(op, "axis", axis, a.shape)
    return signature_of(spec).check(op, [a.shape], axis=axis), axis


def slice_length(shape: Shape, axis: int | None) -> int:
    """How many entries each slice along ``axis`` has (all of them for None)."""
    return math.prod(shape) if axis is None else shape[axis]


def slice_sum_jvp(weights: Expr, node: Expr, i: int) -> LinearMap:
    """dA ↦ Σ(W ⊙ dA) over each slice along the node's axis, for the weights W of A's shape."""
    in_shape, out_shape = map_shapes(node, i)
    axis = node.params.axis
    if axis is None or out_shape == (1, 1):
        return TraceMap(matrix_transpose(weights), ones(out_shape), in_shape, out_shape)
    n, m = in_shape
    total = KronMap(ones(1, n), None, in_shape, out_shape) if axis == 0 else \
        KronMap(None, ones(m, 1), in_shape, out_shape)
    return compose(total, ElementwiseMap(weights, in_shape))


def axes_sum_jvp(weights: Expr, node: Expr) -> LinearMap:
    """dA ↦ Σ(W ⊙ dA) over the node's ``axes`` (a reduction of a stack): the sums over axes
    (:class:`~kronvec.maps.axes.ReduceMap`, removing them unless ``keepdims``) after W ⊙ ·."""
    in_shape, p = node.args[0].shape, node.params
    return compose(ReduceMap(in_shape, node.shape, () if p.keepdims else p.axes),
                   ElementwiseMap(weights, in_shape))


def keep_total(e: Expr, keepdims: bool) -> Expr:
    """A matrix's total as the 1×1 matrix for ``keepdims=True`` (as ``kv.sum(A, keepdims=True)``)."""
    return broadcast_to(e, (1, 1)) if keepdims and e.shape == () else e


def stack_reduction(op: str, a: Expr, axis: Any, keepdims: bool) -> Expr:
    """The node ``op`` (``reduce_max``, ...) of a stack over NumPy's ``axis``; a slice of one
    entry is that entry (the array reshaped)."""
    axes = normalize_axes(op.removeprefix("reduce_"), axis, a.shape)
    shape = reduced_shape(a.shape, axes, keepdims)
    if all(a.shape[k] == 1 for k in axes):
        return c_order_reshape(a, shape)
    return Expr.make(op, (a,), Params(axes=axes, keepdims=bool(keepdims)), shape)


# ----------------------------------------------------------------- mean
@inferring
def mean(a: Operand, axis: int | None = None, keepdims: bool = False) -> Expr:
    """The mean of the entries (``axis=None``), of each column (0) or of each row (1), as ``np.mean``.

    It is the sum divided by the slice length: mean(A, axis=0) = 𝟙ᵀA/n.  For a stack,
    NumPy's means over any axes (an int or a tuple; the axes removed unless ``keepdims``),
    as ``kv.sum``.
    """
    a = as_expr(a)
    if a.shape == () and axis is None:
        return a
    if not is_plain(a.shape):
        axes = normalize_axes("mean", axis, a.shape)
        return per_size(sum_(a, axis=axes, keepdims=keepdims), math.prod(a.shape[k] for k in axes))
    if keepdims and axis is None and a.ndim == 2:
        return per_size(sum_(a, keepdims=True), math.prod(a.shape))
    _, axis = resolve_axis(MEAN, "mean", a, axis)
    return per_size(sum_(a, axis=axis), slice_length(a.shape, axis))


MEAN = register("mean", public="mean", function=mean, signature=AXIS_REDUCTION, node=False,
                stacks=True, doc="the mean of all entries, or of each column or row (axis=)")


# ------------------------------------------------------------- max, min
def _extremum(kind: str) -> Callable[..., Expr]:
    def reduce(a: Operand, axis: Any = None, keepdims: bool = False) -> Expr:
        a = as_expr(a)
        if a.shape == () and axis is None:
            return a
        if not is_plain(a.shape):
            return stack_reduction(f"reduce_{kind}", a, axis, keepdims)
        shape, axis = resolve_axis(_REDUCTIONS[kind], kind, a, axis)
        if slice_length(a.shape, axis) == 1:  # the one entry; over all entries of a 1×1, a () scalar
            return sum_(a) if axis is None and not keepdims else a
        return keep_total(Expr.make(kind, (a,), Params(axis=axis), shape), keepdims)
    return reduce


def _weights(kind: str) -> Callable[[Expr, Any], Expr]:
    """∂max(A): of a matrix along None, 0 or 1; of a stack along a tuple of axes."""
    def make(a: Expr, axis: Any) -> Expr:
        return Expr.make(f"{kind}_weights", (a,), Params(axis=axis), a.shape)
    return make


def _stack_extremum(kind: str) -> Callable[..., Expr]:
    def reduce(a: Operand, axes: tuple[int, ...], keepdims: bool = False) -> Expr:
        return stack_reduction(f"reduce_{kind}", as_expr(a), axes, keepdims)
    reduce.__name__ = reduce.__qualname__ = f"reduce_{kind}"
    reduce.__doc__ = f"The {kind}ima of a stack over ``axes``, as ``np.{kind}`` (``kv.{kind}`` of a stack)."
    return reduce


def _extremum_value(kind: str) -> Callable[..., Any]:
    reduce = np.max if kind == "max" else np.min

    def value(node: Expr, x: np.ndarray) -> Any:
        axis = node.params.axis
        return float(reduce(x)) if axis is None else reduce(x, axis=axis, keepdims=True)
    return value


def _weights_value(kind: str) -> Callable[..., Any]:
    reduce = np.max if kind == "max" else np.min

    def value(node: Expr, x: np.ndarray) -> np.ndarray:
        axis = node.params.axis
        hit = (x == reduce(x, axis=axis, keepdims=True)).astype(float)
        result: np.ndarray = hit / hit.sum(axis=axis, keepdims=True)
        return result
    return value


def _extremum_code(kind: str) -> Callable[..., str]:
    def code(g: CodeContext, e: Expr, x: str) -> str:
        axis = e.params.axis
        fn = f"a{kind}" if g.name == "torch" and axis is not None else kind
        return f"{g.array_module}.{fn}({x}{code_axis(g, axis, axis is not None)})"
    return code


def _weights_code(kind: str) -> Callable[..., str]:
    """Where each slice attains its extremum, divided by how often: ties split evenly."""
    def code(g: CodeContext, e: Expr, x: str) -> str:
        axis = e.params.axis
        extremum = _extremum_code(kind)(g, e, x)
        cast = f".to({x}.dtype)" if g.name == "torch" else " * 1.0"
        hit = g.let(f"({x} == {extremum}){cast}", hint="hit")
        return f"{hit} / {hit}.sum({code_axis(g, axis, True)[2:]})"
    return code


_REDUCTIONS: dict[str, Any] = {}


def _register_extremum(kind: str, doc: str) -> Callable[..., Expr]:
    extremum, weights = _extremum(kind), _weights(kind)
    extremum.__name__ = extremum.__qualname__ = kind
    extremum.__doc__ = doc
    reduce = inferring(extremum)
    _REDUCTIONS[kind] = register(
        kind, public=kind, function=reduce, signature=AXIS_REDUCTION, params=("axis",), stacks=True,
        evaluate=with_node(_extremum_value(kind)), code=_extremum_code(kind),
        jvp=lambda node, i: slice_sum_jvp(weights(node.args[0], node.params.axis), node, i),
        printing=axis_printing(kind, rf"\{kind}"),
        doc=f"the {'largest' if kind == 'max' else 'smallest'} entry, or that of each column or row "
            f"(axis=); ties split the derivative evenly")
    register(
        f"{kind}_weights", function=weights, params=("axis",),
        evaluate=with_node(_weights_value(kind)), code=_weights_code(kind),
        jvp=lambda node, i: ZeroMap(*map_shapes(node, i)),
        printing=axis_printing(f"∂{kind}", rf"\partial\{kind}", f"{kind}_weights"), stacks=True,
        doc=f"∂{kind}(A): where the {kind}imum of each slice is attained, divided by how often "
            f"(the gradient of {kind}; piecewise constant)")
    np_reduce = np.max if kind == "max" else np.min
    register(
        f"reduce_{kind}", function=_stack_extremum(kind), params=("axes", "keepdims"), stacks=True,
        evaluate=with_node(lambda n, x: np_reduce(x, axis=n.params.axes, keepdims=n.params.keepdims)),
        code=code_for(other=f"{{np}}.{kind}({{0}}, axis={{n.params.axes}}, keepdims={{n.params.keepdims}})",
                      torch=f"torch.a{kind}({{0}}, dim={{n.params.axes}}, keepdim={{n.params.keepdims}})"),
        jvp=lambda node, i: axes_sum_jvp(weights(node.args[0], node.params.axes), node),
        printing=axes_printing(kind, rf"\{kind}"),
        doc=f"the {kind}ima of a stack over some axes, as np.{kind} (kv.{kind} of a stack)")
    return reduce


max = _register_extremum("max", """The largest entry (``axis=None``), or that of each column (0) or row (1),
    as ``np.max`` (the result keeps two dimensions: (1, m) or (n, 1)).

    Its derivative is dA ↦ Σ(W ⊙ dA) per slice, where W is 1 at the entries that
    attain the maximum and 0 elsewhere, divided by how many attain it: ties
    split evenly (W prints as ∂max(A)).  ``keepdims=True`` with ``axis=None`` gives the 1×1 matrix.

    For a stack, ``np.max(X, axis, keepdims)``: ``axis`` None, an integer or a tuple
    (negative ones count from the end), the reduced axes removed unless ``keepdims``;
    the derivative is the same sum of W ⊙ dX, over those axes.
    """)
min = _register_extremum("min", """The smallest entry (``axis=None``), or that of each column (0) or row (1),
    as ``np.min`` (the result keeps two dimensions: (1, m) or (n, 1)).

    Its derivative is dA ↦ Σ(W ⊙ dA) per slice, where W is 1 at the entries that
    attain the minimum and 0 elsewhere, divided by how many attain it: ties
    split evenly (W prints as ∂min(A)).  ``keepdims=True`` with ``axis=None`` gives the 1×1 matrix.

    For a stack, ``np.min(X, axis, keepdims)``: ``axis`` None, an integer or a tuple
    (negative ones count from the end), the reduced axes removed unless ``keepdims``;
    the derivative is the same sum of W ⊙ dX, over those axes.
    """)
