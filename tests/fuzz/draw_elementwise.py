"""Program steps that act entry by entry or along axes: elementwise functions, broadcasting
against constants and other variables, reductions and softmax.

Each ``draw_*`` takes the program's :class:`~fuzz.terms.Context` and the term so far and
returns the next term, or None when it does not apply to the term's shape.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import scipy.special as sp

import kronvec as kv

from .terms import Context, Guard, Term, away_from_zero, constant_against, top_two_gap

# name → (kronvec, NumPy twin); arguments are shifted into the function's domain first
SMOOTH: dict[str, tuple[Callable[[Any], Any], Callable[[np.ndarray], np.ndarray]]] = {
    "exp": (lambda e: kv.exp(0.5 * e), lambda a: np.exp(0.5 * a)),
    "sin": (kv.sin, np.sin),
    "cos": (kv.cos, np.cos),
    "tanh": (kv.tanh, np.tanh),
    "sigmoid": (kv.sigmoid, sp.expit),
    "softplus": (kv.softplus, lambda a: np.logaddexp(0.0, a)),
    "expm1": (lambda e: kv.expm1(0.5 * e), lambda a: np.expm1(0.5 * a)),
    "square": (kv.square, np.square),
    "log": (lambda e: kv.log(e * e + 0.5), lambda a: np.log(a * a + 0.5)),
    "sqrt": (lambda e: kv.sqrt(e * e + 0.5), lambda a: np.sqrt(a * a + 0.5)),
    "log1p": (lambda e: kv.log1p(e * e), lambda a: np.log1p(a * a)),
    "power": (lambda e: (e * e + 0.5) ** 1.5, lambda a: (a * a + 0.5) ** 1.5),
    "reciprocal": (lambda e: 1.0 / (e * e + 0.5), lambda a: 1.0 / (a * a + 0.5)),
}
# the scipy.special functions, drawn only by draw_special_function (programs(..., special=True)),
# so that the draws of the other programs stay as they are
SPECIAL: dict[str, tuple[Callable[[Any], Any], Callable[[np.ndarray], np.ndarray]]] = {
    "erf": (kv.erf, sp.erf),
    "erfc": (kv.erfc, sp.erfc),
    "ndtr": (kv.ndtr, sp.ndtr),
    "log_ndtr": (lambda e: kv.log_ndtr(3.0 * e), lambda a: sp.log_ndtr(3.0 * a)),
    "gammaln": (lambda e: kv.gammaln(e * e + 1.0), lambda a: sp.gammaln(a * a + 1.0)),
    "digamma": (lambda e: kv.digamma(e * e + 1.5), lambda a: sp.digamma(a * a + 1.5)),
    "polygamma": (lambda e: kv.polygamma(1, e * e + 1.5), lambda a: sp.polygamma(1, a * a + 1.5)),
    "logit": (lambda e: kv.logit(1.0 / (e * e + 2.0)), lambda a: sp.logit(1.0 / (a * a + 2.0))),
    "xlogy": (lambda e: kv.xlogy(e, e * e + 0.5), lambda a: sp.xlogy(a, a * a + 0.5)),
}
KINKED: dict[str, tuple[Callable[[Any], Any], Callable[[np.ndarray], np.ndarray]]] = {
    "abs": (kv.abs, np.abs),
    "relu": (kv.relu, lambda a: np.maximum(a, 0.0)),
    "sign": (lambda e: kv.sign(e) * e, lambda a: np.sign(a) * a),
}


def _per_member_tags(t: Term) -> tuple[str, ...]:
    """An elementwise function of per-member scalars (``kv.tanh(kv.det(X))`` for a stack X)."""
    return ("elementwise of per-member scalars",) if "per-member scalars" in t.tags else ()


PERIODIC_ARGUMENT_LIMIT = 1e3
"""Largest |x| at which sin(x) and cos(x) are checked.  Past it the argument is typically a
fast-growing function (cos(exp(det(A)/2)) of an argument of 7·10⁵, seed 54): a step of the
differences turns it by whole periods, and their error exceeds the derivative (which
differences converged at h = 10⁻⁹ confirm)."""


def _periodic_guards(name: str, t: Term) -> tuple[Guard, ...]:
    if name not in ("sin", "cos"):
        return ()
    return (Guard(f"{name} of a large argument",
                  lambda v: 1 - float(np.max(np.abs(t.twin(v)), initial=0.0)) / PERIODIC_ARGUMENT_LIMIT),)


def draw_smooth_function(ctx: Context, t: Term) -> Term:
    name = ctx.pick(sorted(SMOOTH))
    f, twin = SMOOTH[name]
    return t.then(f(t.expr), lambda v: twin(t.twin(v)), guards=_periodic_guards(name, t),
                  tags=_per_member_tags(t))


def draw_special_function(ctx: Context, t: Term) -> Term:
    """A scipy.special function, its argument shifted into its domain."""
    name = ctx.pick(sorted(SPECIAL))
    f, twin = SPECIAL[name]
    return t.then(f(t.expr), lambda v: twin(t.twin(v)), tags=_per_member_tags(t))


def draw_kinked_function(ctx: Context, t: Term) -> Term:
    """abs, relu, sign(x)·x at points at least MARGIN away from their kink at 0."""
    name = ctx.pick(sorted(KINKED))
    f, twin = KINKED[name]
    return t.then(f(t.expr), lambda v: twin(t.twin(v)), guards=(away_from_zero(f"{name} at 0", t.twin),),
                  tags=_per_member_tags(t))


def _constant_tags(t: Term, rank: int) -> tuple[str, ...]:
    if rank == 1 and len(t.shape) != 2:
        return ("1-D constant against a non-matrix",)
    if len(t.shape) == 1 and rank >= 2:
        return ("per-member scalars against a 2-D constant",)
    return ()


def draw_constant_operand(ctx: Context, t: Term) -> Term | None:
    """t ∘ C or C ∘ t for ∘ in + − ⊙ ÷ and a NumPy constant C of rank 0, 1, 2 or 3."""
    rank = ctx.pick([0, 1, 2, 3])
    drawn = constant_against(ctx, t.shape, rank)
    if drawn is None:
        return None
    c, seen = drawn
    if not ctx.allows(_constant_tags(t, rank)):
        return None
    op = ctx.pick(["+", "-", "*", "/", "r-", "r/"])
    if op in ("/", "r/"):  # keep divisors away from 0
        c, seen = np.sign(c) * (0.5 + np.abs(c)), np.sign(seen) * (0.5 + np.abs(seen))
    builders: dict[str, Callable[[Any, Any], Any]] = {
        "+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b,
        "/": lambda a, b: a / b, "r-": lambda a, b: b - a, "r/": lambda a, b: b / (a * a + 0.5),
    }
    f = builders[op]
    return t.then(f(t.expr, c), lambda v: f(t.twin(v), seen), tags=_constant_tags(t, rank))


def draw_extremum_with_constant(ctx: Context, t: Term) -> Term | None:
    """kv.maximum / kv.minimum against a constant, away from ties."""
    drawn = constant_against(ctx, t.shape, ctx.pick([0, 1, 2]))
    if drawn is None:
        return None
    c, seen = drawn
    rank = np.ndim(c)
    if not ctx.allows(_constant_tags(t, rank)):
        return None
    name = ctx.pick(["maximum", "minimum"])
    f, twin = getattr(kv, name), getattr(np, name)
    return t.then(f(t.expr, c), lambda v: twin(t.twin(v), seen),
                  guards=(away_from_zero(f"{name} tie", lambda v: t.twin(v) - seen),),
                  tags=_constant_tags(t, rank))


def _broadcast_partner_shape(ctx: Context, shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """A shape of two or more axes that broadcasts against ``shape`` without changing it."""
    if len(shape) < 2:
        return () if not shape else None
    core = tuple(ctx.pick([s, 1]) if s > 1 else 1 for s in shape[-2:])
    lead = shape[:-2][ctx.pick(list(range(len(shape) - 1))):]
    return lead + core


def draw_another_variable(ctx: Context, t: Term) -> Term | None:
    """t + Y, t − Y, t ⊙ Y or maximum(t, Y) for a new symbol Y that broadcasts against t."""
    if len(ctx.variables) >= 3:
        return None
    shape = _broadcast_partner_shape(ctx, t.shape)
    if shape is None:
        return None
    y = ctx.new_variable(shape)
    tags = ("(1, 1) factor of a stack",) if shape == (1, 1) and len(t.shape) >= 3 else ()
    op = ctx.pick(["+", "-", "*", "maximum"])
    if op == "maximum":
        return t.then(kv.maximum(t.expr, y.expr), lambda v: np.maximum(t.twin(v), y.twin(v)),
                      guards=(away_from_zero("maximum tie", lambda v: t.twin(v) - y.twin(v)),), also=(y,),
                      tags=tags)
    f = {"+": lambda a, b: a + b, "-": lambda a, b: a - b, "*": lambda a, b: a * b}[op]
    return t.then(f(t.expr, y.expr), lambda v: f(t.twin(v), y.twin(v)), also=(y,), tags=tags)


def draw_scaled_by_a_scalar_of_itself(ctx: Context, t: Term) -> Term | None:
    """t · Σ(t ⊙ C): a scalar expression multiplying a matrix."""
    c = ctx.rng.standard_normal(t.shape)
    tags = (("scalar times a 1×1",) if t.shape == (1, 1) else ()) + \
        (("scalar times a stack with two stack axes",) if len(t.shape) >= 4 else ()) + \
        (("(1, 1) factor of a stack",) if len(t.shape) >= 3 and t.shape[-2:] == (1, 1) else ()) + \
        _constant_tags(t, c.ndim)
    return t.then(t.expr * kv.sum(t.expr * c), lambda v: t.twin(v) * np.sum(t.twin(v) * c), tags=tags)


# -- reductions -------------------------------------------------------------------------------

def _axis_options(shape: tuple[int, ...]) -> list[Any]:
    """Axes NumPy takes: None, each axis (also negative), and pairs on three or more axes."""
    options: list[Any] = [None] + list(range(len(shape))) + [-1]
    if len(shape) >= 3:
        options += [(0, len(shape) - 1), (-2, -1), tuple(range(len(shape) - 2))]
    return options


def _numpy_reduction(a: np.ndarray, f: Callable[..., np.ndarray], axis: Any, keepdims: bool,
                     matrix_convention: bool) -> np.ndarray:
    """NumPy's reduction; on a matrix, an axis keeps its dimension (axis 0 gives (1, m))."""
    return f(a, axis=axis, keepdims=keepdims or (matrix_convention and axis is not None))


REDUCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "sum": np.sum, "mean": np.mean, "max": np.max, "min": np.min, "logsumexp": sp.logsumexp,
}


def _mixes_members(shape: tuple[int, ...], axis: Any) -> bool:
    """Does a reduction/softmax over ``axis`` mix members of a stack?"""
    if len(shape) < 3:
        return False
    axes = range(len(shape)) if axis is None else (axis if isinstance(axis, tuple) else (axis,))
    return any(a % len(shape) < len(shape) - 2 for a in axes)


def _two_stack_axes(t: Term, name: str) -> tuple[str, ...]:
    if len(t.shape) >= 4 and name in ("max", "min", "logsumexp", "softmax", "log_softmax"):
        return ("max/min/logsumexp/softmax of a stack with two stack axes",)
    return ()


def draw_reduction(ctx: Context, t: Term) -> Term | None:
    """kv.sum / mean / max / min / logsumexp over a random axis (stack axes included)."""
    if t.shape == ():
        return None
    name = ctx.pick(sorted(REDUCTIONS))
    axis = ctx.pick(_axis_options(t.shape))
    keep = {"keepdims": ctx.pick([False, True])} if name in ("max", "min", "logsumexp") else {}
    matrix = len(t.shape) == 2
    expr = getattr(kv, name)(t.expr, axis=axis, **keep)
    twin_f, keepdims = REDUCTIONS[name], bool(keep.get("keepdims"))

    def twin(v):
        return np.asarray(_numpy_reduction(t.twin(v), twin_f, axis, keepdims, matrix))

    guards = ((top_two_gap(f"{name} tie", t.twin, axis, smallest=name == "min"),)
              if name in ("max", "min") else ())
    tags = (("per-member scalars",) if len(expr.shape) == 1 and len(t.shape) >= 3 else ())
    tags += _two_stack_axes(t, name)
    tags += ("reduction of a 1×1",) if t.shape[-2:] == (1, 1) else ()
    tags += ("1×1 intermediate from a reduction",) if expr.shape[-2:] == (1, 1) else ()
    return t.then(expr, twin, guards=guards, tags=tags)


def draw_softmax(ctx: Context, t: Term) -> Term | None:
    """kv.softmax / kv.log_softmax over a random axis; over a stack axis it mixes members."""
    if t.shape == ():
        return None
    name = ctx.pick(["softmax", "log_softmax"])
    axis = ctx.pick(_axis_options(t.shape))
    twin_f = sp.softmax if name == "softmax" else sp.log_softmax
    tags = (("softmax mixes stack members",) if _mixes_members(t.shape, axis) else ())
    tags += _two_stack_axes(t, name)
    return t.then(getattr(kv, name)(t.expr, axis=axis), lambda v: twin_f(t.twin(v), axis=axis), tags=tags)


ELEMENTWISE_STEPS = [draw_smooth_function, draw_kinked_function, draw_constant_operand,
                     draw_extremum_with_constant, draw_another_variable, draw_scaled_by_a_scalar_of_itself,
                     draw_reduction, draw_softmax]
