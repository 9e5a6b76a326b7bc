"""The stable functions of everyday ML: softplus, logsumexp, softmax and log_softmax.

Each is evaluated in its stable form, exact to rounding for arguments of any
size (x = ±800 included): softplus as NumPy's ``logaddexp(0, x)``, the others
as SciPy's max-shifted ``logsumexp``, ``softmax`` and ``log_softmax``.  Their
derivatives are written with stable nodes too, so printed gradients and
Hessians, and the maps bound from them, stay finite:

* d softplus(A) = σ(A) ⊙ dA (σ the stable sigmoid);
* d logsumexp(A) = Σ(S ⊙ dA) per slice with S = softmax(A): the gradient of a
  log-sum-exp is a softmax;
* d softmax(A) = S ⊙ dA − S ⊙ Σ(S ⊙ dA), on a vector (diag(s) − ssᵀ) ds;
* d log_softmax(A) = dA − Σ(S ⊙ dA), on a vector (I − 𝟙sᵀ) ds.

Σ is the sum over each slice along ``axis`` (scipy.special's semantics: the
whole matrix for ``axis=None``, each column for 0, each row for 1), spread
back over the slice.  The Jacobians of softmax and log_softmax are
:class:`~kronvec.maps.DiagRankOneMap` terms.

For a stack (three or more axes, or per-member scalars), ``axis`` is NumPy's
and SciPy's: None (every entry), an integer or a tuple, negative ones counting
from the end; ``logsumexp`` removes the reduced axes unless ``keepdims=True``
(the internal node ``reduce_logsumexp``), and the nodes of softmax and
log_softmax keep the axes as a tuple.  The derivatives are the same, with Σ
over those axes.
"""
from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from ..contexts import CodeContext
from ..expr import Expr, Operand, as_expr
from ..lazy import LazyModule
from ..maps import DiagRankOneMap, LinearMap
from ..registry import Params, inferring, register, spec
from ..shapes import is_plain
from ._code_templates import code_axis, code_for
from ._evaluation_rules import with_node
from ._jvp_rules import map_shapes
from ._printing_rules import axes_printing, axis_printing
from .axis_reductions import (AXIS_KEPT, AXIS_REDUCTION, axes_sum_jvp, keep_total, resolve_axis, slice_length,
                              slice_sum_jvp, stack_reduction)
from .elementwise import elementwise_node, register_elementwise, sigmoid
from .leaves import filled
from .reductions import sum as sum_
from .stacks import normalize_axes, c_order_reshape

special = LazyModule("scipy.special")  # for logsumexp; imported on first use

__all__ = ["softplus", "logsumexp", "softmax", "log_softmax"]



# ------------------------------------------------------------- softplus
@inferring
def softplus(a: Operand) -> Expr:
    """softplus(A) = log(1 + eᴬ) elementwise, evaluated as ``np.logaddexp(0, A)``;
    d softplus(A) = σ(A) ⊙ dA.

    Stable for arguments of any size: softplus(800) = 800, softplus(−800) = 0.
    """
    return elementwise_node("softplus", as_expr(a))


register_elementwise("softplus", softplus, lambda x: np.logaddexp(0.0, x), lambda n: sigmoid(n.args[0]),
                     r"\operatorname{softplus}", "log(1 + eᴬ) elementwise, stable (derivative σ(A))",
                     code=code_for(numpy="np.logaddexp(0.0, {0})", jax="jax.nn.softplus({0})",
                                   torch="torch.logaddexp(torch.zeros_like({0}), {0})"))


# ------------------------------------------------------------ logsumexp
@inferring
def logsumexp(a: Operand, axis: Any = None, keepdims: bool = False) -> Expr:
    """log Σ exp(A) over all entries (``axis=None``), each column (0) or each row (1),
    as ``scipy.special.logsumexp`` with the reduced axis kept: (1, m) or (n, 1)
    (``keepdims=True`` with ``axis=None`` gives the 1×1 matrix).

    Evaluated max-shifted (exact for entries of any size).  Its gradient is
    softmax(A, axis): d logsumexp(A) = Σ(softmax(A) ⊙ dA) per slice.

    For a stack, ``scipy.special.logsumexp(X, axis, keepdims=keepdims)``: ``axis`` None,
    an integer or a tuple, the reduced axes removed unless ``keepdims``.
    """
    a = as_expr(a)
    if a.shape == () and axis is None:
        return a
    if not is_plain(a.shape):
        return stack_reduction("reduce_logsumexp", a, axis, keepdims)
    shape, axis = resolve_axis(LOGSUMEXP, "logsumexp", a, axis)
    if slice_length(a.shape, axis) == 1:  # the one entry; over all entries of a 1×1, a () scalar
        return sum_(a) if axis is None and not keepdims else a
    return keep_total(Expr.make("logsumexp", (a,), Params(axis=axis), shape), keepdims)


def _softmax_of_argument(node: Expr) -> Expr:
    """softmax of a logsumexp node's argument over its axis or axes: the gradient of logsumexp."""
    axis = node.params.axes if node.op == "reduce_logsumexp" else node.params.axis
    return softmax(node.args[0], axis=axis)


def _logsumexp_value(node: Expr, x: np.ndarray) -> Any:
    axis = node.params.axis
    return float(special.logsumexp(x)) if axis is None else special.logsumexp(x, axis=axis, keepdims=True)


LOGSUMEXP = register(
    "logsumexp", public="logsumexp", function=logsumexp, signature=AXIS_REDUCTION,
    params=("axis",), stacks=True,
    evaluate=with_node(_logsumexp_value),
    code=code_for(numpy=lambda g, e, x: f"special.logsumexp({x}{code_axis(g, e.params.axis, True)})",
                  jax=lambda g, e, x: f"jspecial.logsumexp({x}{code_axis(g, e.params.axis, True)})",
                  torch=lambda g, e, x: f"torch.logsumexp({x}{code_axis(g, e.params.axis, True)})"),
    jvp=lambda node, i: slice_sum_jvp(_softmax_of_argument(node), node, i),
    printing=axis_printing("logsumexp", r"\operatorname{logsumexp}"),
    doc="log Σ exp(A), stable, over all entries or each column or row (axis=); gradient softmax",
)


def reduce_logsumexp(a: Operand, axes: tuple[int, ...], keepdims: bool = False) -> Expr:
    """log Σ exp(X) of a stack over ``axes``, as ``scipy.special.logsumexp`` (``kv.logsumexp``
    of a stack); its gradient is softmax(X, axis=axes)."""
    return stack_reduction("reduce_logsumexp", as_expr(a), axes, keepdims)


register(
    "reduce_logsumexp", function=reduce_logsumexp, params=("axes", "keepdims"), stacks=True,
    evaluate=with_node(lambda n, x: special.logsumexp(x, axis=n.params.axes, keepdims=n.params.keepdims)),
    code=code_for(numpy="special.logsumexp({0}, axis={n.params.axes}, keepdims={n.params.keepdims})",
                  jax="jspecial.logsumexp({0}, axis={n.params.axes}, keepdims={n.params.keepdims})",
                  torch="torch.logsumexp({0}, dim={n.params.axes}, keepdim={n.params.keepdims})"),
    jvp=lambda node, i: axes_sum_jvp(_softmax_of_argument(node), node),
    printing=axes_printing("logsumexp", r"\operatorname{logsumexp}"),
    doc="log Σ exp(X) of a stack over some axes, stable (kv.logsumexp of a stack)",
)


def _along(op: str, a: Expr, axis: Any) -> Expr:
    """softmax or log_softmax of a stack over NumPy's ``axis`` (kept as a tuple in the node)."""
    axes = normalize_axes(op, axis, a.shape)
    if a.ndim == 1:  # per-member scalars (b,): as the stack (b, 1, 1), whose maps read (b, 1, 1) tangents
        return c_order_reshape(_along(op, c_order_reshape(a, a.shape + (1, 1)), axes), a.shape)
    if all(a.shape[k] == 1 for k in axes):  # one entry per slice
        return filled(_ONE_ENTRY[op], a.shape)
    return Expr.make(op, (a,), Params(axis=axes), a.shape)


# ------------------------------------------------------ softmax, log_softmax
@inferring
def softmax(a: Any, axis: int | None = None) -> Expr:
    """exp(A) / Σ exp(A) over all entries (``axis=None``), each column (0) or each row (1),
    as ``scipy.special.softmax`` (evaluated max-shifted, so never overflowing).

    Its Jacobian is dA ↦ S ⊙ dA − S ⊙ Σ(S ⊙ dA) per slice, diag(s) − ssᵀ for a vector s.
    For a stack, ``scipy.special.softmax(X, axis)`` (None, an integer or a tuple).
    """
    return _normalized("softmax", a, axis)


@inferring
def log_softmax(a: Any, axis: int | None = None) -> Expr:
    """A − logsumexp(A) over all entries (``axis=None``), each column (0) or each row (1),
    as ``scipy.special.log_softmax`` (stable for entries of any size).

    Its Jacobian is dA ↦ dA − Σ(S ⊙ dA) per slice with S = softmax(A): I − 𝟙sᵀ for a vector.
    For a stack, ``scipy.special.log_softmax(X, axis)`` (None, an integer or a tuple).
    """
    return _normalized("log_softmax", a, axis)


_ONE_ENTRY = {"softmax": "ones", "log_softmax": "zeros"}  # the value along a slice of one entry


def _normalized(op: str, a: Operand, axis: int | None) -> Expr:
    """softmax or log_softmax of ``a`` along ``axis`` (a constant along slices of one entry)."""
    a = as_expr(a)
    if not is_plain(a.shape):
        return _along(op, a, axis)
    shape, axis = resolve_axis(spec(op), op, a, axis)
    if slice_length(a.shape, axis) == 1:
        return filled(_ONE_ENTRY[op], shape)
    return Expr.make(op, (a,), Params(axis=axis), shape)


def _normalized_value(op: str, node: Expr, x: np.ndarray) -> np.ndarray:
    """``scipy.special.softmax`` or ``log_softmax`` along the node's axis."""
    result: np.ndarray = getattr(special, op)(x, axis=node.params.axis)
    return result


def _normalized_code(g: CodeContext, e: Expr, x: str) -> str:
    """softmax or log_softmax along the node's axis in generated code (each library's stable one)."""
    axis, fn = e.params.axis, e.op
    if g.name == "numpy":
        return f"special.{fn}({x}, axis={axis})"
    if g.name == "jax":
        return f"jax.nn.{fn}({x}, axis={(0, 1) if axis is None else axis})"
    if axis is None:  # PyTorch's works along one dimension: over all entries, flattened
        return f"torch.{fn}({x}.reshape(-1), 0).reshape({x}.shape)"
    return f"torch.{fn}({x}, {axis})"


def _softmax_jvp(node: Expr, i: int) -> LinearMap:
    """dS = S ⊙ dA − S ⊙ Σ(S ⊙ dA) per slice."""
    return DiagRankOneMap(node, node, node, node.params.axis, *map_shapes(node, i))


def _log_softmax_jvp(node: Expr, i: int) -> LinearMap:
    """d log_softmax(A) = dA − Σ(S ⊙ dA) per slice, S = softmax(A)."""
    s = softmax(node.args[0], axis=node.params.axis)
    return DiagRankOneMap(None, None, s, node.params.axis, *map_shapes(node, i))


for _op, _function, _jvp, _latex, _doc in (
        ("softmax", softmax, _softmax_jvp, r"\operatorname{softmax}",
         "exp(A)/Σ exp(A), stable, over all entries or each column or row (axis=)"),
        ("log_softmax", log_softmax, _log_softmax_jvp, r"\operatorname{log\_softmax}",
         "A − logsumexp(A), stable, over all entries or each column or row (axis=)")):
    register(_op, public=_op, function=_function, signature=AXIS_KEPT, params=("axis",), stacks=True,
             evaluate=with_node(partial(_normalized_value, _op)), code=_normalized_code, jvp=_jvp,
             printing=axis_printing(_op, _latex), doc=_doc)
