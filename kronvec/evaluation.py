"""Numeric evaluation of expressions.

An :class:`Evaluator` binds values to symbols once and evaluates any number of
expressions over them, computing each shared subexpression once.  Inverses are
never formed when a product allows a solve: in a chain A₁⋯Aₖ a factor B⁻¹
multiplies its neighbour by a triangular solve with a factorization of B
(LU, or Cholesky for a symbol declared positive definite whose value is
symmetric), and every factorization is computed once per evaluator.  The
chain's multiplication order is chosen from the shapes (matrix-chain order).

Every numeric step goes through :meth:`Evaluator.op`, which can record it: the
recorded :class:`Plan` replays the same LAPACK/BLAS calls for new values
without the symbolic bookkeeping (a Jacobian keeps one per binding pattern).
"""
from __future__ import annotations

import math
import operator
import weakref
from functools import partial
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import scipy.linalg as sla
from scipy.linalg import lapack

from . import expr as E
from .errors import BindingError, ShapeError
from .printing import to_python

__all__ = ["evaluate", "Evaluator", "Factorization", "Plan", "bind_values", "symbol_table",
           "symmetric_key", "run_recorded"]

_EPS = np.finfo(float).eps


def evaluate(expr: E.Expr, values: Mapping[str, Any] | None = None, **kw: Any) -> np.ndarray:
    """The value of ``expr`` with symbols bound by name.

    Parameters
    ----------
    expr : Expr
        The expression.
    values, **kw
        Values by symbol name (a mapping, keywords, or both).  Values for
        symbols the expression does not contain are ignored.

    Returns
    -------
    numpy.ndarray
        An array of ``expr.shape`` (``()`` for scalars).

    Raises
    ------
    BindingError
        A value is missing; the message lists the names and their shapes.
    ShapeError
        A value has the wrong shape.
    numpy.linalg.LinAlgError
        A matrix that must be inverted is singular; the message names the
        sub-expression.
    """
    expr = E.as_expr(expr)
    memo = _EVALUATE_MEMO.get(expr)
    if memo is None:
        memo = _EVALUATE_MEMO[expr] = (symbol_table([expr]), {})
    symbols, plans = memo
    bound = bind_values({**(values or {}), **kw}, [expr], symbols)
    return np.array(run_recorded(plans, [expr], bound)[0], dtype=float)


_EVALUATE_MEMO: "weakref.WeakKeyDictionary[E.Expr, tuple[dict, dict]]" = weakref.WeakKeyDictionary()


def run_recorded(plans: dict, exprs: Sequence[E.Expr], bound: Mapping[E.Expr, np.ndarray]) -> list[Any]:
    """Values of ``exprs``, replaying a plan from ``plans`` or recording one into it."""
    plan = plans.get(symmetric_key(bound))
    if plan is not None:
        return plan.run(bound)
    ev = Evaluator({}, exprs, record=True, bound=bound)
    results = [ev(e) for e in exprs]
    plan = ev.plan(results)
    if plan is not None:
        plans[plan.key] = plan
    return results


class Factorization:
    """LU or Cholesky factors of a square matrix, for solves with A or Aᵀ.

    The reciprocal condition number is checked (LAPACK ``gecon``/``pocon``) on
    the first solve, so a singular matrix raises instead of giving garbage.
    """

    def __init__(self, a: np.ndarray, label: str, try_cholesky: bool,
                 symmetric: bool | None = None, finite: bool = False) -> None:
        """Factor ``a``; ``symmetric``/``finite`` pass on what the caller already checked."""
        self.label = label
        self.n = a.shape[0]
        self._checked = False
        self._anorm = float(np.abs(a).sum(axis=0).max()) if a.size else 0.0
        if not finite and not np.all(np.isfinite(a)):
            raise np.linalg.LinAlgError(f"{label}: the matrix contains NaN or inf")
        self.cholesky: np.ndarray | None = None
        self.lu: tuple[np.ndarray, np.ndarray] | None = None
        if symmetric is None and try_cholesky:
            symmetric = bool(np.array_equal(a, a.T))
        if try_cholesky and symmetric:
            c, info = lapack.dpotrf(a, lower=0, clean=1)
            if info == 0:
                self.cholesky = c
        if self.cholesky is None:
            lu, piv, _ = lapack.dgetrf(a)  # a zero pivot is reported by _check
            self.lu = (lu, piv)

    def _check(self) -> None:
        if self._checked:
            return
        if self.cholesky is not None:
            rcond, _ = lapack.dpocon(self.cholesky, self._anorm, uplo="U")
        else:
            lu = self.lu[0]
            rcond = 0.0 if np.any(np.diag(lu) == 0) else lapack.dgecon(lu, self._anorm, norm="1")[0]
        if not rcond > _EPS:
            raise np.linalg.LinAlgError(
                f"{self.label}: the matrix is singular to working precision "
                f"(reciprocal condition number {rcond:.1e})")
        self._checked = True

    def solve(self, b: np.ndarray, trans: bool = False) -> np.ndarray:
        """A⁻¹b, or A⁻ᵀb when ``trans`` (LAPACK ``potrs``/``getrs`` on the stored factors)."""
        self._check()
        if self.cholesky is not None:
            x, info = lapack.dpotrs(self.cholesky, b, lower=0)
        else:
            x, info = lapack.dgetrs(self.lu[0], self.lu[1], b, trans=1 if trans else 0)
        if info != 0:
            raise np.linalg.LinAlgError(f"{self.label}: LAPACK solve failed (info={info})")
        return x

    def inverse(self, trans: bool = False) -> np.ndarray:
        """A⁻¹ (or A⁻ᵀ), for when the inverse itself is the value asked for."""
        return self.solve(np.eye(self.n), trans)

    def logabsdet(self) -> tuple[float, float]:
        """(sign, log|det A|)."""
        if self.cholesky is not None:
            return 1.0, 2.0 * float(np.log(np.diag(self.cholesky)).sum())
        lu, piv = self.lu
        d = np.diag(lu)  # scipy returns 0-based pivots
        sign = (-1.0) ** int(np.count_nonzero(piv != np.arange(self.n))) * float(np.prod(np.sign(d)))
        with np.errstate(divide="ignore"):
            return sign, float(np.log(np.abs(d)).sum())


class Evaluator:
    """Values of expressions over one binding of symbols to numbers.

    Parameters
    ----------
    values : mapping
        Values by symbol name.
    exprs : sequence of Expr
        The expressions that will be evaluated; their symbols are checked
        against ``values`` at once so that missing names are reported together.
    record : bool
        Record every numeric step so that :meth:`plan` can replay them.
    """

    def __init__(self, values: Mapping[str, Any], exprs: Sequence[E.Expr],
                 record: bool = False, bound: Mapping[E.Expr, np.ndarray] | None = None) -> None:
        self.values = dict(bound) if bound is not None else bind_values(values, exprs)
        self._cache: dict[E.Expr, Any] = {}
        self._factors: dict[E.Expr, Factorization] = {}
        self._chains: dict[tuple[E.Expr, ...], np.ndarray] = {}
        # Vᵀ and V are the same numbers when V's value is exactly symmetric: one
        # canonical form lets XᵀV⁻¹ and V⁻¹X share a single solve.
        self._symmetric_symbols = symmetric_key(self.values)
        self._transposes = [(E.transpose(s), s) for s in self._symmetric_symbols]
        self._symmetric = {id(t): s for t, s in self._transposes}  # nodes kept alive above
        self._canonical: dict[E.Expr, E.Expr] = {}
        self._tape: list[tuple[Callable[..., Any], tuple[int, ...], int]] | None = None
        self._slots: dict[int, int] = {}
        self._alive: list[Any] = []
        if record:
            self._tape = []
            for v in self.values.values():
                self._register(v)

    # ----------------------------------------------------------- recording
    def _register(self, value: Any) -> int:
        slot = len(self._alive)
        self._alive.append(value)
        self._slots[id(value)] = slot
        return slot

    def op(self, fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)``, recorded when recording (args must be earlier results)."""
        out = fn(*args)
        if isinstance(out, float):
            out = np.asarray(out)
        if self._tape is not None:
            try:
                ins = tuple(self._slots[id(a)] for a in args)
            except KeyError:
                self._tape = None  # an untracked input: no plan, evaluation itself is unaffected
            else:
                self._tape.append((fn, ins, self._register(out)))
        return out

    def plan(self, outputs: Sequence[Any]) -> "Plan | None":
        """The recorded steps producing ``outputs`` (None if anything was not recorded)."""
        if self._tape is None or any(id(o) not in self._slots for o in outputs):
            return None
        inputs = {sym: self._slots[id(v)] for sym, v in self.values.items()}
        return Plan(inputs, list(self._tape), [self._slots[id(o)] for o in outputs],
                    len(self._alive), symmetric_key(self.values))

    # ---------------------------------------------------------- evaluation
    def canon(self, e: E.Expr) -> E.Expr:
        """``e`` with Vᵀ written V for every symbol whose value is exactly symmetric."""
        if not self._symmetric:
            return e
        memo = self._canonical
        if e not in memo:
            nodes = [e] if all(a in memo for a in e.args) else e.walk()
            for node in nodes:  # children first: no recursion on deep expressions
                if node in memo:
                    continue
                if id(node) in self._symmetric:
                    c = self._symmetric[id(node)]
                elif node.args:
                    c = E.rebuild(node, [memo[a] for a in node.args])
                else:
                    c = node
                memo[node] = c
                memo.setdefault(c, c)  # canonical forms are their own
        return memo[e]

    def __call__(self, e: E.Expr) -> Any:
        e = self.canon(e)
        v = self._cache.get(e)
        if v is None:
            # children first, so deep expressions do not recurse; inverses wait
            # until a product asks for them, so that they become solves
            if any(a not in self._cache and a.op != "inv" for a in e.args):
                for node in e.walk():
                    if node not in self._cache and node.op != "inv" and node is not e:
                        self._cache[node] = _EVAL[node.op](self, node)
            v = self._cache[e] = _EVAL[e.op](self, e)
        return v

    def factorization(self, a: E.Expr) -> Factorization:
        """The (cached) factorization of the square matrix ``a``."""
        f = self._factors.get(a)
        if f is None:
            is_symbol = a.op == "symbol"  # its value was checked when bound
            make = partial(Factorization, label=f"inv({to_python(a)})",
                           try_cholesky=is_symbol and a.params[2],
                           symmetric=(a in self._symmetric_symbols) if is_symbol else None,
                           finite=is_symbol)
            f = self.op(make, self(a))
            self._factors[a] = f
        return f

    def _inverse_operand(self, f: E.Expr) -> tuple[Factorization, bool] | None:
        """For a factor B⁻¹ or B⁻ᵀ not yet evaluated: (factorization of B, transposed)."""
        if f.op != "inv" or f in self._cache:
            return None
        base = f.args[0]
        if base.op == "transpose":
            return self.factorization(base.args[0]), True
        return self.factorization(base), False

    def _cached_chain(self, factors: tuple[E.Expr, ...]) -> np.ndarray | None:
        """A product computed before, in this or in transposed order."""
        hit = self._chains.get(factors)
        if hit is not None:
            return hit
        flipped = tuple(self.canon(E.transpose(f)) for f in reversed(factors))
        hit = self._chains.get(flipped)
        return None if hit is None else self.op(np.transpose, hit)

    def chain(self, factors: Sequence[E.Expr]) -> np.ndarray:
        """The product of ``factors`` in the cheapest order, with solves for inverses.

        Products computed before (in either orientation) cost nothing, so the
        order prefers to reuse them.
        """
        factors = tuple(factors)
        n = len(factors)
        if n == 1:
            return self(factors[0])
        for f in factors:  # factorize first: that evaluates (and caches) what inverses contain
            self._inverse_operand(f)
        dims = [factors[0].shape[0]] + [f.shape[1] for f in factors]
        known = {(i, j): hit for i in range(n) for j in range(i + 1, n)
                 if (hit := self._cached_chain(factors[i:j + 1])) is not None}
        split = _chain_order(dims, known)

        def product(i: int, j: int) -> Any:
            if (i, j) in known:
                return known[(i, j)]
            if i == j:
                inv_op = self._inverse_operand(factors[i])
                return inv_op if inv_op is not None else self(factors[i])
            k = split[i][j]
            value = self._combine(product(i, k), product(k + 1, j))
            self._chains[factors[i:j + 1]] = value
            return value

        return product(0, n - 1)

    def _combine(self, left: Any, right: Any) -> np.ndarray:
        """left·right where either may be an unevaluated inverse (factorization, transposed)."""
        if isinstance(left, tuple):
            if isinstance(right, tuple):
                right = self.op(partial(_inverse, trans=right[1]), right[0])
            return self.op(partial(_solve, trans=left[1]), left[0], right)
        if isinstance(right, tuple):
            return self.op(partial(_solve_right, trans=right[1]), right[0], left)
        return self.op(operator.matmul, left, right)


class Plan:
    """A recorded evaluation: the numeric steps alone, replayable for new values.

    Valid for any values whose symmetric symbols (those whose value equals its
    transpose) are the same as when it was recorded: ``key``.
    """

    def __init__(self, inputs: Mapping[E.Expr, int], steps: list, outputs: list[int],
                 size: int, key: frozenset) -> None:
        self.inputs, self.steps, self.outputs, self.size, self.key = inputs, steps, outputs, size, key

    def run(self, bound: Mapping[E.Expr, np.ndarray]) -> list[Any]:
        slots: list[Any] = [None] * self.size
        for sym, slot in self.inputs.items():
            slots[slot] = bound[sym]
        for fn, ins, out in self.steps:
            slots[out] = fn(*[slots[i] for i in ins])
        return [slots[o] for o in self.outputs]


def _solve(fac: Factorization, b: np.ndarray, trans: bool) -> np.ndarray:
    return fac.solve(b, trans)


def _solve_right(fac: Factorization, x: np.ndarray, trans: bool) -> np.ndarray:
    """X B⁻¹ = (B⁻ᵀ Xᵀ)ᵀ (or X B⁻ᵀ)."""
    return fac.solve(x.T, not trans).T


def _inverse(fac: Factorization, trans: bool) -> np.ndarray:
    return fac.inverse(trans)


def symmetric_key(values: Mapping[E.Expr, np.ndarray]) -> frozenset:
    """The square symbols (n > 1) whose values are exactly symmetric."""
    return frozenset(s for s, v in values.items()
                     if v.ndim == 2 and v.shape[0] == v.shape[1] > 1 and np.array_equal(v, v.T))


def _chain_order(dims: Sequence[int], known: Mapping[tuple[int, int], Any] = {}) -> list[list[int]]:
    """Split points of the cheapest parenthesisation (classic matrix-chain DP).

    Sub-products listed in ``known`` cost nothing.
    """
    n = len(dims) - 1
    cost = [[0.0] * n for _ in range(n)]
    split = [[0] * n for _ in range(n)]
    for length in range(2, n + 1):
        for i in range(n - length + 1):
            j = i + length - 1
            if (i, j) in known:
                continue
            best = math.inf
            for k in range(j - 1, i - 1, -1):
                c = cost[i][k] + cost[k + 1][j] + dims[i] * dims[k + 1] * dims[j + 1]
                if c < best:
                    best, split[i][j] = c, k
            cost[i][j] = best
    return split


def symbol_table(exprs: Sequence[E.Expr]) -> dict[str, E.Expr]:
    """The symbols of ``exprs`` by name (two different symbols with one name are refused)."""
    symbols: dict[str, E.Expr] = {}
    for e in exprs:
        for name, sym in e.symbols().items():
            other = symbols.setdefault(name, sym)
            if other is not sym:
                raise BindingError(f"two different symbols are named {name!r}: shapes "
                                   f"{other.shape} and {sym.shape}")
    return symbols


def bind_values(values: Mapping[str, Any], exprs: Sequence[E.Expr],
                symbols: Mapping[str, E.Expr] | None = None) -> dict[E.Expr, np.ndarray]:
    """Check and convert the values of the symbols in ``exprs`` (or of ``symbols``)."""
    if symbols is None:
        symbols = symbol_table(exprs)
    missing = [s for name, s in symbols.items() if name not in values]
    if missing:
        listed = ", ".join(f"{s.params[0]} (shape {s.shape})" for s in missing)
        raise BindingError(f"missing value{'s' if len(missing) > 1 else ''} for {listed}")
    bound: dict[E.Expr, np.ndarray] = {}
    for name, sym in symbols.items():
        bound[sym] = _convert(name, values[name], sym.shape)
    return bound


def _convert(name: str, value: Any, shape: tuple[int, ...]) -> np.ndarray:
    arr = np.asarray(value)
    if np.iscomplexobj(arr):
        raise TypeError(f"value for {name}: complex values are not supported")
    try:
        arr = arr.astype(float, copy=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"value for {name}: not a numeric array ({exc})") from None
    if arr.shape != shape:
        if arr.size == math.prod(shape) and (arr.ndim == 1 and len(shape) == 2 and shape[1] == 1
                                             or E.is_scalar(shape) and E.is_scalar(arr.shape)):
            arr = arr.reshape(shape)
        else:
            raise ShapeError(f"value for {name}: expected shape {shape}, got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"value for {name} contains NaN or inf")
    return arr.view()  # a distinct object per symbol, so recorded plans can tell them apart


# ------------------------------------------------------------ the table
def _lift(fn: Callable[..., Any]) -> Callable[[Evaluator, E.Expr], Any]:
    """An evaluation rule applying ``fn`` to the values of the arguments."""
    return lambda ev, e: ev.op(fn, *[ev(a) for a in e.args])


def _constant(make: Callable[[E.Expr], Any]) -> Callable[[Evaluator, E.Expr], Any]:
    """An evaluation rule for a leaf whose value depends only on the node."""
    return lambda ev, e: ev.op(partial(_same, make(e)))


def _same(value: Any) -> Any:
    return value


def _matmul(ev: Evaluator, e: E.Expr) -> np.ndarray:
    t = ev.canon(E.transpose(e))
    if t in ev._cache:
        return ev.op(np.transpose, ev._cache[t])
    return ev.chain(e.args)


def _inv(ev: Evaluator, e: E.Expr) -> np.ndarray:
    fac, trans = ev._inverse_operand(e)  # type: ignore[misc]
    return ev.op(partial(_inverse, trans=trans), fac)


def _det(fac: Factorization) -> float:
    sign, logabs = fac.logabsdet()
    return sign * math.exp(logabs) if logabs > -math.inf else 0.0


def _sum_of(*xs: Any) -> Any:
    out = xs[0]
    for x in xs[1:]:
        out = out + x
    return out


def _kron_contract(side: str, shape: tuple[int, int], big: np.ndarray, other: np.ndarray) -> np.ndarray:
    r, c = shape
    if side == "a":
        p, q = other.shape
        return np.einsum("ikjl,kl->ij", big.reshape(r, p, c, q), other)
    m, n = other.shape
    return np.einsum("ikjl,ij->kl", big.reshape(m, r, n, c), other)


class _Node:
    """The parameters and shape of a node (what a recorded step may keep of it)."""

    __slots__ = ("params", "shape")

    def __init__(self, e: E.Expr) -> None:
        self.params, self.shape = e.params, e.shape


def _parametrised(fn: Callable[..., Any]) -> Callable[[Evaluator, E.Expr], Any]:
    """A rule calling ``fn(node, *argument values)``."""
    return lambda ev, e: ev.op(partial(fn, _Node(e)), *[ev(a) for a in e.args])


_EVAL: dict[str, Callable[[Evaluator, E.Expr], Any]] = {
    "symbol": lambda ev, e: ev.values[e],
    "const": _constant(lambda e: e.params[0].array),
    "identity": _constant(lambda e: np.eye(e.shape[0])),
    "zeros": _constant(lambda e: np.zeros(e.shape)),
    "ones": _constant(lambda e: np.ones(e.shape)),
    "named": lambda ev, e: ev(e.args[0]),
    "matmul": _matmul,
    "add": _lift(_sum_of),
    "scale": _parametrised(lambda e, x: e.params[0] * x),
    "smul": _lift(lambda s, x: np.reshape(s, ()) * x),
    "transpose": _lift(np.transpose),
    "inv": _inv,
    "trace": _lift(lambda x: float(np.trace(x))),
    "det": lambda ev, e: ev.op(_det, ev.factorization(e.args[0])),
    "logdet": lambda ev, e: ev.op(lambda fac: fac.logabsdet()[1], ev.factorization(e.args[0])),
    "kron": _lift(np.kron),
    "kron_contract": _parametrised(lambda e, big, other: _kron_contract(e.params[0], e.shape, big, other)),
    "hadamard": _lift(operator.mul),
    "power": _parametrised(lambda e, x: np.power(x, e.params[0])),
    "exp": _lift(np.exp),
    "log": _lift(np.log),
    "sin": _lift(np.sin),
    "cos": _lift(np.cos),
    "tanh": _lift(np.tanh),
    "sum": _lift(lambda x: float(np.sum(x))),
    "norm": _lift(lambda x: float(np.linalg.norm(x))),
    "diag": _lift(lambda v: np.diag(v[:, 0])),
    "diagpart": _lift(lambda x: np.diag(x).reshape(-1, 1).copy()),
    "matpow": _parametrised(lambda e, x: np.linalg.matrix_power(x, e.params[0])),
    "expm": _lift(sla.expm),
    "expm_frechet": _lift(lambda a, h: sla.expm_frechet(a, h, compute_expm=False, check_finite=False)),
}
