"""Numeric evaluation of expressions.

An :class:`Evaluator` binds values to symbols once and evaluates any number of
expressions over them, computing each shared subexpression once.  Inverses are
never formed when a product allows a solve: in a chain A₁⋯Aₖ a factor B⁻¹
multiplies its neighbour by a triangular solve with a factorization of B
(LU, or Cholesky for a symbol declared positive definite whose value is
symmetric), and every factorization is computed once per evaluator.  The
chain's multiplication order is chosen from the shapes (matrix-chain order).
"""
from __future__ import annotations

import math
import warnings
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import scipy.linalg as sla
from scipy.linalg import lapack

from . import expr as E
from .errors import BindingError, ShapeError

__all__ = ["evaluate", "Evaluator", "Factorization"]

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
    ev = Evaluator({**(values or {}), **kw}, [expr])
    return np.array(ev(expr), dtype=float)


class Factorization:
    """LU or Cholesky factors of a square matrix, for solves with A or Aᵀ.

    The reciprocal condition number is checked (LAPACK ``gecon``/``pocon``) on
    the first solve, so a singular matrix raises instead of giving garbage.
    """

    def __init__(self, a: np.ndarray, label: str, try_cholesky: bool) -> None:
        self.label = label
        self.n = a.shape[0]
        self._checked = False
        self._anorm = float(np.abs(a).sum(axis=0).max()) if a.size else 0.0
        if not np.all(np.isfinite(a)):
            raise np.linalg.LinAlgError(f"{label}: the matrix contains NaN or inf")
        self.cholesky = None
        if try_cholesky and np.array_equal(a, a.T):
            try:
                self.cholesky = sla.cho_factor(a, lower=False, check_finite=False)
            except np.linalg.LinAlgError:
                self.cholesky = None
        self.lu = None
        if self.cholesky is None:
            with warnings.catch_warnings():  # singularity is reported by _check instead
                warnings.simplefilter("ignore", sla.LinAlgWarning)
                self.lu = sla.lu_factor(a, check_finite=False)

    def _check(self) -> None:
        if self._checked:
            return
        if self.cholesky is not None:
            rcond, _ = lapack.dpocon(self.cholesky[0], self._anorm, uplo="U")
        else:
            lu = self.lu[0]
            rcond = 0.0 if np.any(np.diag(lu) == 0) else lapack.dgecon(lu, self._anorm, norm="1")[0]
        if not rcond > _EPS:
            raise np.linalg.LinAlgError(
                f"{self.label}: the matrix is singular to working precision "
                f"(reciprocal condition number {rcond:.1e})")
        self._checked = True

    def solve(self, b: np.ndarray, trans: bool = False) -> np.ndarray:
        """A⁻¹b, or A⁻ᵀb when ``trans``."""
        self._check()
        if self.cholesky is not None:
            return sla.cho_solve(self.cholesky, b, check_finite=False)
        return sla.lu_solve(self.lu, b, trans=1 if trans else 0, check_finite=False)

    def inverse(self, trans: bool = False) -> np.ndarray:
        """A⁻¹ (or A⁻ᵀ), for when the inverse itself is the value asked for."""
        return self.solve(np.eye(self.n), trans)

    def logabsdet(self) -> tuple[float, float]:
        """(sign, log|det A|)."""
        if self.cholesky is not None:
            return 1.0, 2.0 * float(np.log(np.diag(self.cholesky[0])).sum())
        lu, piv = self.lu
        d = np.diag(lu)
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
    """

    def __init__(self, values: Mapping[str, Any], exprs: Sequence[E.Expr]) -> None:
        self.values = _bind(values, exprs)
        self._cache: dict[E.Expr, Any] = {}
        self._factors: dict[E.Expr, Factorization] = {}
        self._chains: dict[tuple[E.Expr, ...], np.ndarray] = {}
        # Vᵀ and V are the same numbers when V's value is exactly symmetric: one
        # canonical form lets XᵀV⁻¹ and V⁻¹X share a single solve.
        self._transposes = [(E.transpose(s), s) for s, v in self.values.items()
                            if v.ndim == 2 and v.shape[0] == v.shape[1] > 1 and np.array_equal(v, v.T)]
        self._symmetric = {id(t): s for t, s in self._transposes}  # nodes kept alive above
        self._canonical: dict[E.Expr, E.Expr] = {}

    def canon(self, e: E.Expr) -> E.Expr:
        """``e`` with Vᵀ written V for every symbol whose value is exactly symmetric."""
        if not self._symmetric:
            return e
        c = self._canonical.get(e)
        if c is None:
            c = E.substitute(e, self._symmetric)
            self._canonical[e] = c
        return c

    def __call__(self, e: E.Expr) -> Any:
        e = self.canon(e)
        v = self._cache.get(e)
        if v is None:
            v = _EVAL[e.op](self, e)
            self._cache[e] = v
        return v

    def _cached_chain(self, factors: tuple[E.Expr, ...]) -> np.ndarray | None:
        """A product computed before, in this or in transposed order."""
        hit = self._chains.get(factors)
        if hit is not None:
            return hit
        flipped = tuple(self.canon(E.transpose(f)) for f in reversed(factors))
        hit = self._chains.get(flipped)
        return None if hit is None else hit.T

    def factorization(self, a: E.Expr) -> Factorization:
        """The (cached) factorization of the square matrix ``a``."""
        f = self._factors.get(a)
        if f is None:
            from .printing import to_python
            pd = a.op == "symbol" and a.params[2]
            f = Factorization(np.asarray(self(a), dtype=float), f"inv({to_python(a)})", pd)
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
            value = _combine(product(i, k), product(k + 1, j))
            self._chains[factors[i:j + 1]] = value
            return value

        return product(0, n - 1)


def _combine(left: Any, right: Any) -> np.ndarray:
    """left·right where either may be an unevaluated inverse (factorization, transposed)."""
    if isinstance(left, tuple):
        if isinstance(right, tuple):
            right = right[0].inverse(right[1])
        return left[0].solve(right, left[1])
    if isinstance(right, tuple):
        # X B⁻¹ = (B⁻ᵀ Xᵀ)ᵀ
        return right[0].solve(left.T, not right[1]).T
    return left @ right


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


def _bind(values: Mapping[str, Any], exprs: Sequence[E.Expr]) -> dict[E.Expr, np.ndarray]:
    """Check and convert the values of the symbols in ``exprs``."""
    symbols: dict[str, E.Expr] = {}
    for e in exprs:
        for name, sym in e.symbols().items():
            other = symbols.setdefault(name, sym)
            if other is not sym:
                raise BindingError(f"two different symbols are named {name!r}: shapes "
                                   f"{other.shape} and {sym.shape}")
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
    return arr


# ------------------------------------------------------------ the table
def _symbol(ev: Evaluator, e: E.Expr) -> np.ndarray:
    return ev.values[e]


def _matmul(ev: Evaluator, e: E.Expr) -> np.ndarray:
    t = ev.canon(E.transpose(e))
    if t in ev._cache:
        return ev._cache[t].T
    return ev.chain(e.args)


def _inv(ev: Evaluator, e: E.Expr) -> np.ndarray:
    fac, trans = ev._inverse_operand(e)  # type: ignore[misc]
    return fac.inverse(trans)


def _det(ev: Evaluator, e: E.Expr) -> float:
    sign, logabs = _logabsdet(ev, e.args[0])
    return sign * math.exp(logabs) if logabs > -math.inf else 0.0


def _logdet(ev: Evaluator, e: E.Expr) -> float:
    return _logabsdet(ev, e.args[0])[1]


def _logabsdet(ev: Evaluator, a: E.Expr) -> tuple[float, float]:
    return ev.factorization(a).logabsdet()


def _kron_contract(ev: Evaluator, e: E.Expr) -> np.ndarray:
    big, other = ev(e.args[0]), ev(e.args[1])
    (r, c), side = e.shape, e.params[0]
    if side == "a":
        p, q = other.shape
        return np.einsum("ikjl,kl->ij", big.reshape(r, p, c, q), other)
    m, n = other.shape
    return np.einsum("ikjl,ij->kl", big.reshape(m, r, n, c), other)


def _expm_frechet(ev: Evaluator, e: E.Expr) -> np.ndarray:
    return sla.expm_frechet(ev(e.args[0]), ev(e.args[1]), compute_expm=False, check_finite=False)


_EVAL: dict[str, Callable[[Evaluator, E.Expr], Any]] = {
    "symbol": _symbol,
    "const": lambda ev, e: e.params[0].array,
    "identity": lambda ev, e: np.eye(e.shape[0]),
    "zeros": lambda ev, e: np.zeros(e.shape),
    "ones": lambda ev, e: np.ones(e.shape),
    "named": lambda ev, e: ev(e.args[0]),
    "matmul": _matmul,
    "add": lambda ev, e: sum((ev(a) for a in e.args[1:]), start=ev(e.args[0])),
    "scale": lambda ev, e: e.params[0] * ev(e.args[0]),
    "smul": lambda ev, e: np.reshape(ev(e.args[0]), ()) * ev(e.args[1]),
    "transpose": lambda ev, e: ev(e.args[0]).T,
    "inv": _inv,
    "trace": lambda ev, e: float(np.trace(ev(e.args[0]))),
    "det": _det,
    "logdet": _logdet,
    "kron": lambda ev, e: np.kron(ev(e.args[0]), ev(e.args[1])),
    "kron_contract": _kron_contract,
    "hadamard": lambda ev, e: ev(e.args[0]) * ev(e.args[1]),
    "power": lambda ev, e: np.power(ev(e.args[0]), e.params[0]),
    "exp": lambda ev, e: np.exp(ev(e.args[0])),
    "log": lambda ev, e: np.log(ev(e.args[0])),
    "sin": lambda ev, e: np.sin(ev(e.args[0])),
    "cos": lambda ev, e: np.cos(ev(e.args[0])),
    "tanh": lambda ev, e: np.tanh(ev(e.args[0])),
    "sum": lambda ev, e: float(np.sum(ev(e.args[0]))),
    "norm": lambda ev, e: float(np.linalg.norm(ev(e.args[0]))),
    "diag": lambda ev, e: np.diag(ev(e.args[0])[:, 0]),
    "diagpart": lambda ev, e: np.diag(ev(e.args[0])).reshape(-1, 1).copy(),
    "matpow": lambda ev, e: np.linalg.matrix_power(ev(e.args[0]), e.params[0]),
    "expm": lambda ev, e: sla.expm(ev(e.args[0])),
    "expm_frechet": _expm_frechet,
}
