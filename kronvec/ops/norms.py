"""``kv.slogdet`` and the norms of ``np.linalg.norm`` beyond Frobenius, nuclear and spectral.

* ``slogdet(A)`` = (sign det A, log|det A|): the sign is piecewise constant
  (derivative 0), and d log|det A| = tr(A⁻¹ dA) whatever the sign.
* Matrix norms of the orders 1, −1, ∞, −∞ are extrema of absolute column or
  row sums, max_j Σᵢ |Aᵢⱼ| and so on: built from ``abs``, ``sum`` and
  ``max``/``min``, they inherit the documented choices (|·|′(0) = 0, ties split
  evenly).
* The order −2 is the smallest singular value s_k; d s_k = u_kᵀ dA v_k, ties
  of the smallest value split evenly (the mean of u_g v_gᵀ over the tied group
  G, which does not depend on the basis chosen in G), and at s_k = 0 the
  minimum-norm subgradient 0.
* Vector p-norms ‖x‖_p = (Σᵢ |xᵢ|ᵖ)^(1/p) along an axis (``vector_norm``):
  d‖x‖_p = Σᵢ Wᵢ dxᵢ with W = sign(x) ⊙ |x|^(p−1) · ‖x‖_p^(1−p), where
  |0|^q = 0 for q < 0 (``abs_power``, ``signed_power``): the gradient at a zero
  argument is 0, never NaN.  The orders ∞, −∞ and 0 (the number of nonzero
  entries, derivative 0) are ``max``/``min``/``sum`` of ``abs``.
"""
from __future__ import annotations

import math
from functools import partial
from typing import Any

import numpy as np

from ..contexts import CodeContext, PrintContext, StyledPrintContext
from ..errors import DegenerateError, ShapeError
from ..expr import Expr, NO_PARAMS, Operand, as_expr
from ..maps import ElementwiseMap, KronMap, LinearMap, TraceMap, ZeroMap
from ..maps.axes import ReduceMap
from ..maps.algebra import compose
from ..registry import DISPLAY, Params, Prec, Printing, inferring, register, signature_of
from ..shapes import fmt, is_plain
from ._code_templates import code_for
from ._evaluation_rules import lift, with_node
from ._jvp_rules import map_shapes
from ._printing_rules import func_print, py_call
from .arithmetic import multiply, scale
from .axis_reductions import axes_sum_jvp, keep_total
from .axis_reductions import max as max_
from .axis_reductions import min as min_
from .leaves import Constant, ones
from .piecewise import abs as abs_
from .piecewise import sign
from .products import inv, matmul, matrix_transpose
from .reductions import logdet, norm as basic_norm
from .reductions import sum as sum_
from .spectral import svd_parts
from .stacks import normalize_axes, reduced_shape, c_order_reshape
from .stacks import transpose as permute

__all__ = ["slogdet", "singular_logabsdet", "norm_of_order", "vector_norm", "smallest_singular_value",
           "abs_power",
           "signed_power"]



# -------------------------------------------------------------- slogdet
@inferring
def slogdet(a: Operand) -> tuple[Expr, Expr]:
    """(sign, logabsdet) of a square A as ``numpy.linalg.slogdet``: det A = sign · exp(logabsdet).

    For a stack, per member (each of shape ``(b,)``).  At a singular A the
    values are (0, −∞), as NumPy's.  The sign is piecewise constant, so its
    derivative is 0; d log|det A| = tr(A⁻¹ dA) for either sign (Matrix Cookbook
    eq. 57), which does not exist at a singular A (evaluating it there raises
    ``LinAlgError`` naming the singular matrix).
    """
    a = as_expr(a)
    shape = signature_of(SLOGDET).check("slogdet", [a.shape])
    inner = a.args[0] if a.op == "matrix_transpose" else a
    return Expr.make("slogdet_sign", (inner,), NO_PARAMS, shape), logdet(a)


def _sign_value(x: np.ndarray) -> Any:
    sign_ = np.linalg.slogdet(x)[0]
    return float(sign_) if x.ndim == 2 else sign_


SLOGDET = register(
    "slogdet", public="slogdet", function=slogdet, signature="(n,n)->()", node=False,
    stacks=True, outputs=("sign", "logabsdet"),
    doc="(sign det A, log|det A|) as np.linalg.slogdet")
register(
    "slogdet_sign", function=lambda a: slogdet(a)[0], stacks=True,
    evaluate=lift(_sign_value), code="{la}.slogdet({0})[0]",
    jvp=lambda node, i: ZeroMap(*map_shapes(node, i)),
    printing=Printing(func_print("sign det"), func_print(r"\operatorname{sign}\det"),
                      lambda printer, e: (f"slogdet({printer(e.args[0])})[0]", Prec.ATOM)),
    doc="the sign of det A (−1, 0 or 1; derivative 0)")


def singular_logabsdet(err: np.linalg.LinAlgError, f: Expr) -> DegenerateError | None:
    """The error for a singular A met as the factor A⁻¹ of the derivative of log|det A| in ``f``
    (``slogdet(A)[1]``, ``logdet(A)``), which has no derivative there (it is −∞); None when ``err``
    is not about such a factor.  Used only once binding has failed."""
    text = str(err)
    for node in f.walk():
        if node.op != "logdet":
            continue
        label = DISPLAY.python(inv(node.args[0]))
        if text.startswith(label + ": "):
            a = DISPLAY.python(node.args[0])
            return DegenerateError(f"slogdet: log|det {a}| (slogdet({a})[1], logdet({a})) has no derivative "
                                   f"at a singular {a}, where it is −∞: {text[len(label) + 2:]}")
    return None


# ------------------------------------------------ powers of absolute values
def abs_power(a: Operand, q: float) -> Expr:
    """|A|∘q, elementwise, with |0|^q = 0 for q < 0 (and 1 for q = 0): the factor of the p-norm's
    gradient that keeps it finite.  d|x|^q = q sign(x)|x|^(q−1) dx."""
    a = as_expr(a)
    return Expr.make("abs_power", (a,), Params(q=float(q)), a.shape)


def signed_power(a: Operand, q: float) -> Expr:
    """sign(A) ⊙ |A|∘q, elementwise, 0 where A = 0.  d(sign(x)|x|^q) = q|x|^(q−1) dx."""
    a = as_expr(a)
    return Expr.make("signed_power", (a,), Params(q=float(q)), a.shape)


def _abs_power_value(node: Expr, x: np.ndarray) -> Any:
    q = node.params.q
    ax = np.abs(x)
    if q >= 0:
        return ax ** q
    with np.errstate(divide="ignore"):
        return np.where(ax == 0, 0.0, ax ** q)


def _signed_power_value(node: Expr, x: np.ndarray) -> Any:
    return np.sign(x) * _abs_power_value(node, x)


def _safe_code(g: CodeContext, x: str, q: float, signed: bool) -> str:
    np_ = g.array_module
    body = f"{np_}.abs({x}) ** {float(q)!r}" if q >= 0 else \
        f"{np_}.where({x} == 0, 0.0, {np_}.abs({np_}.where({x} == 0, 1.0, {x})) ** {float(q)!r})"
    return f"{np_}.sign({x}) * ({body})" if signed else body


def _power_printing(name: str, unicode: str, latex: str) -> Printing:
    def print_unicode(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
        return f"{unicode.format(printer(e.args[0]))}∘{e.params.q:g}", Prec.POSTFIX

    def print_latex(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
        return latex.format(printer(e.args[0])) + f"^{{\\circ {e.params.q:g}}}", Prec.POSTFIX

    def print_python(printer: PrintContext, e: Expr) -> tuple[str, int]:
        return f"{name}({printer(e.args[0])}, {e.params.q!r})", Prec.ATOM
    return Printing(print_unicode, print_latex, print_python)


def _abs_power_jvp(node: Expr, i: int) -> LinearMap:
    """d|A|∘q = q sign(A) ⊙ |A|∘(q−1) ⊙ dA."""
    q = node.params.q
    return ElementwiseMap(scale(q, signed_power(node.args[0], q - 1)), node.args[0].shape, node.shape)


def _signed_power_jvp(node: Expr, i: int) -> LinearMap:
    """d(sign(A) ⊙ |A|∘q) = q |A|∘(q−1) ⊙ dA."""
    q = node.params.q
    return ElementwiseMap(scale(q, abs_power(node.args[0], q - 1)), node.args[0].shape, node.shape)


register(
    "abs_power", function=abs_power, params=("q",), stacks=True,
    evaluate=with_node(_abs_power_value), code=lambda g, e, x: _safe_code(g, x, e.params.q, False),
    jvp=_abs_power_jvp,
    printing=_power_printing("abs_power", "|{}|", r"\left|{}\right|"),
    doc="|A|∘q elementwise, 0 at A = 0 for q < 0")
register(
    "signed_power", function=signed_power, params=("q",), stacks=True,
    evaluate=with_node(_signed_power_value), code=lambda g, e, x: _safe_code(g, x, e.params.q, True),
    jvp=_signed_power_jvp,
    printing=_power_printing("signed_power", "sign({0})|{0}|", r"\operatorname{{sign}}({0})\left|{0}\right|"),
    doc="sign(A) ⊙ |A|∘q elementwise, 0 at A = 0")


# ---------------------------------------------------------- vector p-norms
def vector_norm(a: Operand, p: float, axes: tuple[int, ...], keepdims: bool = False) -> Expr:
    """(Σᵢ |xᵢ|ᵖ)^(1/p) over ``axes`` (NumPy's vector norm of order p, p ≠ 0, finite).

    d‖x‖_p = Σ (sign(x) ⊙ |x|^(p−1) ‖x‖_p^(1−p)) ⊙ dx over the axes; 0 at a zero argument.
    """
    a = as_expr(a)
    shape = reduced_shape(a.shape, axes, keepdims)
    params = Params(p=float(p), axes=tuple(axes), keepdims=bool(keepdims))
    return Expr.make("vector_norm", (a,), params, shape)


def _vector_norm_value(node: Expr, x: np.ndarray) -> Any:
    par = node.params
    with np.errstate(divide="ignore", over="ignore"):
        out = np.sum(np.abs(x) ** par.p, axis=par.axes, keepdims=par.keepdims) ** (1.0 / par.p)
    return float(out) if np.ndim(out) == 0 else out


def _vector_norm_jvp(node: Expr, i: int) -> Any:
    a, par = node.args[0], node.params
    kept = node if par.keepdims else c_order_reshape(node, reduced_shape(a.shape, par.axes, True))
    weights = multiply(signed_power(a, par.p - 1), abs_power(kept, 1 - par.p))
    if is_plain(a.shape):  # a matrix, along one axis (kept): 𝟙ᵀ(W ⊙ dA) or (W ⊙ dA)𝟙
        n, m = a.shape
        total = KronMap(ones(1, n), None, a.shape, node.shape) if par.axes == (0,) else \
            KronMap(None, ones(m, 1), a.shape, node.shape)
        return compose(total, ElementwiseMap(weights, a.shape))
    return axes_sum_jvp(weights, node)


def _vector_norm_text(printer: StyledPrintContext, e: Expr, latex: bool) -> tuple[str, int]:
    par = e.params
    extra = "" if par.axes == tuple(range(e.args[0].ndim)) else f", axis={par.axes}"
    arg = printer(e.args[0]) + extra
    return (rf"\left\|{arg}\right\|_{{{par.p:g}}}" if latex else f"‖{arg}‖_{par.p:g}"), Prec.ATOM


def _vector_norm_python(printer: PrintContext, e: Expr) -> tuple[str, int]:
    par = e.params
    plain = is_plain(e.args[0].shape)
    axis = par.axes[0] if plain and len(par.axes) == 1 else par.axes
    keep = "" if plain else f", keepdims={par.keepdims}"
    return f"norm({printer(e.args[0])}, ord={par.p!r}, axis={axis}{keep})", Prec.ATOM


register(
    "vector_norm", function=vector_norm, params=("p", "axes", "keepdims"), stacks=True,
    evaluate=with_node(_vector_norm_value),
    code=code_for(other="{np}.sum({np}.abs({0}) ** {n.params.p!r}, axis={n.params.axes}, "
                        "keepdims={n.params.keepdims}) ** (1.0 / {n.params.p!r})",
                  torch="torch.sum(torch.abs({0}) ** {n.params.p!r}, dim={n.params.axes}, "
                        "keepdim={n.params.keepdims}) ** (1.0 / {n.params.p!r})"),
    jvp=_vector_norm_jvp,
    printing=Printing(partial(_vector_norm_text, latex=False), partial(_vector_norm_text, latex=True),
                      _vector_norm_python),
    doc="the vector p-norm (Σ|xᵢ|ᵖ)^(1/p) over some axes")


# ------------------------------------------------- smallest singular value
def smallest_singular_value(a: Operand) -> Expr:
    """s_k, the smallest singular value of a matrix (``kv.norm(A, -2)``), per member of a stack.

    d s_k = u_kᵀ dA v_k; at a tie the mean of u_g v_gᵀ over the tied group, at s_k = 0 zero.
    """
    a = as_expr(a)
    if a.ndim < 2:
        raise ShapeError(f"norm: ord=-2 needs a matrix, got shape {fmt(a.shape)}")
    return Expr.make("smallest_singular_value", (a,), NO_PARAMS, a.shape[:-2])


def smallest_weights(s: Operand) -> Expr:
    """The weights of the singular values s (k, 1) in the derivative of the smallest: 1/|G| on the
    tied group G of the smallest, 0 elsewhere, and 0 everywhere when the smallest is 0."""
    s = as_expr(s)
    return Expr.make("smallest_weights", (s,), NO_PARAMS, s.shape)


def _smallest_weights_value(s: np.ndarray) -> np.ndarray:
    k = s.shape[-2]
    top = np.max(s, axis=-2, keepdims=True)
    low = np.min(s, axis=-2, keepdims=True)
    tol = k * np.finfo(float).eps * top
    hit = (s - low <= tol) & (low > tol)
    count = np.maximum(hit.sum(axis=-2, keepdims=True), 1)
    result: np.ndarray = hit / count
    return result


def _smallest_weights_code(g: CodeContext, s: str) -> str:
    """The tied group of the smallest singular value as code (NumPy, JAX and PyTorch spellings)."""
    torch = g.name == "torch"
    axis = "dim=-2, keepdim=True" if torch else "axis=-2, keepdims=True"
    low = g.let(f"{s}.amin({axis})" if torch else f"{s}.min({axis})", hint="low")
    top = f"{s}.amax({axis})" if torch else f"{s}.max({axis})"
    tol = g.let(f"{s}.shape[-2] * {float(np.finfo(float).eps)!r} * {top}", hint="tol")
    cast = f".to({s}.dtype)" if torch else " * 1.0"
    hit = g.let(f"(({s} - {low} <= {tol}) & ({low} > {tol})){cast}", hint="hit")
    count = f"{hit}.sum({axis}).clamp(min=1.0)" if torch else \
        f"{g.array_module}.maximum({hit}.sum({axis}), 1.0)"
    return f"{hit} / {count}"


def _smallest_jvp(node: Expr, i: int) -> Any:
    """ds_k = tr(Gᵀ dA) with G = U diag(w) Vᵀ; with several stack axes Σ over the two last
    axes of G ⊙ dA, member by member."""
    a = node.args[0]
    U, s, Vt, _, _ = svd_parts(a)
    gradient = matmul(U, multiply(smallest_weights(s), Vt))  # U diag(w) Vᵀ
    if node.ndim > 1:
        return compose(ReduceMap(a.shape, node.shape, (a.ndim - 2, a.ndim - 1)),
                       ElementwiseMap(gradient, a.shape))
    return TraceMap(matrix_transpose(gradient), Constant(1.0), a.shape, node.shape)


def _smallest_value(x: np.ndarray) -> Any:
    return float(np.linalg.norm(x, -2)) if x.ndim == 2 else np.linalg.norm(x, -2, axis=(-2, -1))


register(
    "smallest_singular_value", function=smallest_singular_value, stacks=True,
    evaluate=lift(_smallest_value),
    code=code_for(other="{la}.svd({0}, compute_uv=False)[..., -1]",
                  torch="torch.linalg.svdvals({0})[..., -1]"),
    jvp=_smallest_jvp,
    printing=Printing(lambda printer, e: (f"‖{printer(e.args[0])}‖₋₂", Prec.ATOM),
                      lambda printer, e: (r"\left\|" + printer(e.args[0]) + r"\right\|_{-2}", Prec.ATOM),
                      lambda printer, e: (f"norm({printer(e.args[0])}, ord=-2)", Prec.ATOM)),
    doc="the smallest singular value ‖A‖₋₂ (ties split evenly, 0 at a zero value)")
register(
    "smallest_weights", function=smallest_weights, stacks=True,
    evaluate=lift(_smallest_weights_value),
    code=lambda g, e, s: _smallest_weights_code(g, s),
    jvp=lambda node, i: ZeroMap(*map_shapes(node, i)),
    printing=Printing(func_print("∂min"), func_print(r"\partial\min"), py_call("smallest_weights")),
    doc="where the smallest singular value is attained, divided by how often (piecewise constant)")


# ---------------------------------------------------------------- kv.norm
def _reduce(kind: str, x: Expr, axes: tuple[int, ...], keepdims: bool) -> Expr:
    """sum/max/min over ``axes``: a matrix keeps an axis reduced alone (the v1 convention)."""
    fn = {"sum": sum_, "max": max_, "min": min_}[kind]
    if is_plain(x.shape):
        return keep_total(fn(x, axis=axes[0] if len(axes) == 1 else None), keepdims)
    return fn(x, axis=axes, keepdims=keepdims)


def _vector(a: Expr, ord: Any, axes: tuple[int, ...], keepdims: bool) -> Expr:
    if isinstance(ord, str):
        raise ValueError(f"norm: invalid norm order {ord!r} for vectors")
    keep = keepdims or is_plain(a.shape)
    if ord is None:
        ord = 2
    if ord == math.inf:
        return _reduce("max", abs_(a), axes, keepdims)
    if ord == -math.inf:
        return _reduce("min", abs_(a), axes, keepdims)
    if ord == 0:  # the number of nonzero entries: piecewise constant
        return _reduce("sum", abs_(sign(a)), axes, keepdims)
    if ord == 1:
        return _reduce("sum", abs_(a), axes, keepdims)
    return vector_norm(a, float(ord), axes, keep)


def _matrix(a: Expr, ord: Any, axes: tuple[int, int], keepdims: bool) -> Expr:
    row, col = axes
    target = reduced_shape(a.shape, axes, keepdims) if not is_plain(a.shape) else ((1, 1) if keepdims else ())
    if ord in (None, "fro", "nuc", 2, -2):
        ndim = a.ndim
        moved = a if (row, col) == (ndim - 2, ndim - 1) else \
            permute(a, tuple(k for k in range(ndim) if k not in axes) + (row, col))
        out = smallest_singular_value(moved) if ord == -2 else \
            basic_norm(moved, ord, None if is_plain(moved.shape) else (-2, -1))
        return c_order_reshape(out, target) if out.shape != target else out
    if ord in (1, -1):
        inner, outer = row, col
    elif ord in (math.inf, -math.inf):
        inner, outer = col, row
    else:
        raise ValueError(f"norm: invalid norm order {ord!r} for matrices")
    kind = "max" if ord > 0 else "min"
    sums = _reduce("sum", abs_(a), (inner,), True)
    if is_plain(a.shape):  # (a 1×1 sum is its own extremum: its total is the scalar)
        return keep_total(_reduce("sum" if sums.shape == (1, 1) else kind, sums, (0, 1), False), keepdims)
    out = _reduce(kind, sums, (outer,), True)
    return c_order_reshape(out, target) if out.shape != target else out


def norm_of_order(a: Operand, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Expr:
    """``numpy.linalg.norm(A, ord, axis, keepdims)`` for the orders that need more than the
    Frobenius, nuclear and spectral norms (``kv.norm`` sends them here).

    As NumPy: ``axis=None`` is a vector norm for one axis and a matrix norm for two (more
    need ord None); an int is a vector norm along it, a pair a matrix norm of those
    planes.  Vector orders: any p, ∞, −∞ and 0; matrix orders: None/'fro', 'nuc',
    ±1, ±2, ±∞.  A matrix keeps an axis reduced alone, as ``kv.sum`` does.
    """
    a = as_expr(a)
    if axis is None:
        if ord is None and a.ndim != 1:
            out = basic_norm(a)
            target = tuple(1 for _ in a.shape) if keepdims else out.shape
            return c_order_reshape(out, target) if out.shape != target else out
        if a.ndim > 2 or a.ndim == 0:
            raise ValueError(f"norm: improper number of dimensions to norm "
                             f"(shape {fmt(a.shape)}, ord={ord!r})")
    axes = normalize_axes("norm", axis, a.shape)
    if isinstance(axis, tuple) and len(set(axis)) == 2 and len(axes) == 2:
        axes = tuple(normalize_axes("norm", x, a.shape)[0] for x in axis)  # (row, col) in the given order
    if len(axes) == 1:
        return _vector(a, ord, axes, keepdims)
    if len(axes) == 2:
        return _matrix(a, ord, (axes[0], axes[1]), keepdims)
    raise ValueError(f"norm: improper number of dimensions to norm (axis={axis!r})")


register(
    "norm_of_order", function=norm_of_order, node=False, stacks=True,
    doc="np.linalg.norm for every ord, axis and keepdims (kv.norm dispatches here)")
