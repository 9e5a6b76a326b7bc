"""The pieces of a random program: terms with NumPy twins, shape classes, variables, constants.

A :class:`Term` is a kronvec expression together with

* its *twin*, a plain NumPy/SciPy function of the variables' values computing
  the same array (shape included);
* its *guards*, which keep the point valid: each returns a margin (the distance
  to a kink, a tie, a repeated eigenvalue, a rank change) that must exceed
  :data:`MARGIN`, so that the derivative exists and finite differences, which
  step far less than the margin, see a smooth function;
* its *tags*, the program families it belongs to (see ``KNOWN_FINDINGS`` in
  :mod:`fuzz.programs`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np
from hypothesis import strategies as st

import kronvec as kv

Values = Mapping[str, np.ndarray]
Twin = Callable[[Values], np.ndarray]

MARGIN = 0.05
"""Smallest allowed distance to a kink, tie or degeneracy (finite differences step ≤ 1e-3)."""


@dataclass(frozen=True)
class Guard:
    """``margin(values) > MARGIN`` at a valid point; ``what`` names the degeneracy it keeps away."""

    what: str
    margin: Callable[[Values], float]


@dataclass(frozen=True)
class Term:
    """A kronvec expression, its NumPy twin, the guards of its domain and its family tags."""

    expr: Any
    twin: Twin
    guards: tuple[Guard, ...] = ()
    tags: frozenset[str] = field(default_factory=frozenset)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.expr.shape)

    def then(self, expr: Any, twin: Twin, *, guards: tuple[Guard, ...] = (),
             tags: tuple[str, ...] = (), also: tuple["Term", ...] = ()) -> "Term":
        """A new term built from this one (and ``also``), inheriting their guards and tags."""
        parents = (self,) + also

        def checked(v: Values) -> np.ndarray:
            value = np.asarray(twin(v))
            assert value.shape == tuple(expr.shape), \
                f"intermediate {expr}: kronvec's shape {tuple(expr.shape)}, NumPy's {value.shape}"
            return value
        return Term(expr, checked,
                    sum((p.guards for p in parents), ()) + guards,
                    frozenset().union(*(p.tags for p in parents)) | frozenset(tags))


@dataclass
class Context:
    """What the drawers of one program share: Hypothesis's ``draw``, a NumPy generator for
    constants, the shape class and the variables drawn so far (name → symbol)."""

    draw: Callable[[Any], Any]
    rng: np.random.Generator
    stack: tuple[int, ...]
    core: tuple[int, int]
    variables: dict[str, Any] = field(default_factory=dict)
    excluded: frozenset[str] = frozenset()
    """Families not to draw (a drawer whose expression would raise checks this before building)."""

    def allows(self, tags: tuple[str, ...]) -> bool:
        return not self.excluded & set(tags)

    def pick(self, options: list) -> Any:
        return self.draw(st.sampled_from(options))

    def new_variable(self, shape: tuple[int, ...]) -> Term:
        """A fresh symbol (X, Y, Z, …) of ``shape`` and its twin (a lookup)."""
        name = "XYZUVW"[len(self.variables)]
        symbol = kv.Scalar(name) if shape == () else kv.Matrix(name, shape)
        self.variables[name] = symbol
        return Term(symbol, lambda v, name=name: np.asarray(v[name], dtype=float))


# -- shape classes -------------------------------------------------------------------------

SHAPE_CLASSES: dict[str, Callable[[Callable[[int, int], int]], tuple[tuple[int, ...], tuple[int, int]]]] = {
    "plain matrix": lambda size: ((), (size(2, 3), size(2, 3))),
    "1×1": lambda size: ((), (1, 1)),
    "1×n": lambda size: ((), (1, size(2, 3))),
    "n×1": lambda size: ((), (size(2, 3), 1)),
    "stack, one axis": lambda size: ((size(2, 3),), (size(1, 3), size(1, 3))),
    "stack, two axes": lambda size: ((size(2, 2), size(1, 2)), (size(1, 3), size(1, 3))),
    "stack of 1×1": lambda size: ((size(2, 3),), (1, 1)),
}
"""Shape class → ``size -> (stack axes, core (n, m))`` of the first variable."""


def draw_values(variables: Mapping[str, Any], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Standard normal values, scaled by 0.7, for every variable."""
    return {name: 0.7 * rng.standard_normal(symbol.shape) for name, symbol in variables.items()}


# -- constants of every rank ----------------------------------------------------------------

def constant_against(ctx: Context, shape: tuple[int, ...], rank: int) -> tuple[np.ndarray, np.ndarray] | None:
    """A random constant of ``rank`` dimensions that broadcasts against ``shape``.

    Returns ``(constant, as_numpy_sees_it)``: kronvec reads a 1-D constant next to a
    2-D operand as an ``(n, 1)`` column (the one v1 convention kept in v1.3), so the
    twin sees it as ``c[:, None]``; everywhere else NumPy's rules hold and both are
    the same array. None when no constant of that rank fits.
    """
    def one_or(size: int) -> int:
        return ctx.pick([size, 1]) if size > 1 else 1

    if rank == 0:
        c = np.asarray(ctx.rng.standard_normal())
        return c, c
    if rank == 1:
        if len(shape) == 2:
            c = ctx.rng.standard_normal(one_or(shape[0]))
            return c, c[:, None]
        size = one_or(shape[-1]) if shape else ctx.pick([1, 2, 3])
        c = ctx.rng.standard_normal(size)
        return c, c
    if rank == 2:
        if len(shape) >= 2:
            c_shape = (one_or(shape[-2]), one_or(shape[-1]))
        elif len(shape) == 1:
            c_shape = (ctx.pick([1, 2]), one_or(shape[0]))
        else:
            c_shape = (ctx.pick([1, 2]), ctx.pick([1, 3]))
        c = ctx.rng.standard_normal(c_shape)
        return c, c
    if rank == 3 and len(shape) >= 2:
        lead = shape[-3] if len(shape) >= 3 else 2
        c = ctx.rng.standard_normal((one_or(lead), one_or(shape[-2]), one_or(shape[-1])))
        return c, c
    return None


# -- guards --------------------------------------------------------------------------------

def away_from_zero(what: str, twin: Twin) -> Guard:
    """|x| > MARGIN entrywise (kinks of abs, relu, sign; ties of maximum as x = a − b)."""
    return Guard(what, lambda v: float(np.min(np.abs(twin(v)), initial=np.inf)))


def top_two_gap(what: str, twin: Twin, axis: Any, smallest: bool = False) -> Guard:
    """The gap between the largest two entries along ``axis`` (ties of max/min)."""
    def margin(v: Values) -> float:
        a = -twin(v) if smallest else twin(v)
        axes = tuple(range(a.ndim)) if axis is None else (axis if isinstance(axis, tuple) else (axis,))
        axes = tuple(x % a.ndim for x in axes)
        moved = np.moveaxis(a, axes, tuple(range(-len(axes), 0)))
        flat = moved.reshape(moved.shape[:moved.ndim - len(axes)] + (-1,))
        if flat.shape[-1] < 2:
            return np.inf
        top = np.sort(flat, axis=-1)
        return float(np.min(top[..., -1] - top[..., -2]))
    return Guard(what, margin)


def spectral_gaps(what: str, values_of: Callable[[Values], np.ndarray], floor: bool = False) -> Guard:
    """The smallest gap between consecutive sorted values along the last axis (repeated
    eigenvalues or singular values), and with ``floor`` also the smallest value (rank)."""
    def margin(v: Values) -> float:
        w = np.sort(values_of(v), axis=-1)
        gaps = np.diff(w, axis=-1)
        out = float(np.min(gaps, initial=np.inf))
        return min(out, float(np.min(w))) if floor else out
    return Guard(what, margin)


def smallest(what: str, values_of: Callable[[Values], np.ndarray]) -> Guard:
    """The smallest of some values (singular values: the distance to a singular matrix)."""
    return Guard(what, lambda v: float(np.min(values_of(v))))


def singular_values(twin: Twin) -> Callable[[Values], np.ndarray]:
    return lambda v: np.linalg.svd(twin(v), compute_uv=False)
