"""The evaluator: values of expressions over one binding, with shared work.

An :class:`Evaluator` binds values to symbols once and evaluates any number of expressions
over them, computing each shared subexpression once; each node is evaluated by its op's
``evaluate`` rule from the registry.  Inverses are never formed when a product allows a solve:
in a chain A₁⋯Aₖ a factor B⁻¹ multiplies its neighbour by a triangular solve with a
factorization of B (LU, or Cholesky for a symbol declared positive definite whose value is
symmetric), and every factorization is computed once per evaluator.  The chain's
multiplication order is chosen from the shapes (matrix-chain order).

Every numeric step goes through :meth:`Evaluator.op`, which can record it: the recorded
:class:`Plan` replays the same LAPACK/BLAS calls for new values without the symbolic
bookkeeping (a Jacobian keeps one per binding pattern).

The outputs of one factorization (w and V of ``eigh``, Q and R of ``qr``) are separate nodes
that share one computation: :meth:`Evaluator.shared` runs it once per evaluator (one recorded
step, one LAPACK call), and :meth:`Evaluator.mentions` tells a values-only output
(``eigvalsh``) whether its vectors are wanted too, in which case it takes them from that call.

With ``describe=True`` it also keeps :attr:`Evaluator.described`, the evaluation as code
generation (:mod:`kronvec.codegen`) reads it: its own steps with what they compute
(``("solve", trans, factors)``, ...) and, for every node, the value its op's rule gave.
"""
from __future__ import annotations

import operator
from functools import partial
from typing import Any, Callable, Mapping, Sequence, cast

import numpy as np

from ..expr import Expr, rebuild, walk_all
from ..maps.operands import LARGE, Identity, chain_order
from ..ops._structure_rules import triangle
from ..ops.arithmetic import scaled_term
from ..ops.leaves import ones
from ..ops.products import inv, matrix_transpose
from ..registry import DISPLAY, spec
from ..ops._evaluation_rules import matrix_transpose_value
from .batched import BatchedFactorization
from .binding import bind_values, symmetric_key
from .factorization import Factorization
from .labels import inverse_label, solve_label
from .operands import low_rank_split, product_operand, scaled, sum_operand
from .fused import fused_operands, ones_product, sigmoid_slope, sigmoid_slope_argument
from .plan import Plan
from .structure import Structure
from .traces import (expand_powers, factor_kind, has_inverse, mirrored_half, standalone_inverses,
                     trace_of_product)

__all__ = ["Evaluator", "Plan", "run_recorded"]

_OWN_TRANSPOSES = frozenset({"matmul", "matrix_transpose"})  # products look for their transposes themselves


def run_recorded(plans: dict[frozenset[Expr], Plan], exprs: Sequence[Expr], bound: Mapping[Expr, np.ndarray],
                 factors: int = 0, quick: bool = False) -> list[Any]:
    """Values of ``exprs``, replaying a plan from ``plans`` or recording one into it.

    The first ``factors`` expressions are factors of a map being bound: they
    may come back structured (:meth:`Evaluator.operand`).  With ``quick`` the
    factorizations check their results (:mod:`.checks`); keep its plans apart.
    """
    plan = plans.get(symmetric_key(bound))
    if plan is not None:
        return plan.run(bound)
    ev = Evaluator({}, exprs, record=True, bound=bound, quick=quick)
    try:
        results = [ev.operand(e) if k < factors else ev(e) for k, e in enumerate(exprs)]
    except (np.linalg.LinAlgError, ValueError, FloatingPointError):
        ev.verify()  # a singular matrix solved with earlier is the cause: say so
        raise
    ev.verify()
    plan = ev.plan(results)
    if plan is not None:
        plans[plan.key] = plan
    return results


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
    describe : bool
        Keep :attr:`described`: the evaluator's own steps (factorizations, solves, inverses,
        products and transposes) with their inputs, outputs and what they compute, and an
        entry per node whose rule ran, in the order of evaluation.
    quick : bool
        Factorizations check their results, not their matrices (:mod:`.checks`).
    """

    def __init__(self, values: Mapping[str, Any], exprs: Sequence[Expr], record: bool = False,
                 bound: Mapping[Expr, np.ndarray] | None = None, describe: bool = False,
                 quick: bool = False) -> None:
        self.values = bound if bound is not None else bind_values(values, exprs)
        self._quick = quick
        self._cholesky = getattr(self.values, "cholesky", {})
        self._cache: dict[Expr, Any] = {}
        self._factors: dict[Expr, Factorization] = {}
        self._chains: dict[tuple[Expr, ...], np.ndarray] = {}
        self._operands: dict[Expr, Any] = {}
        self._exprs = tuple(exprs)
        self._shared: dict[tuple[Any, ...], Any] = {}
        self._ops: frozenset[str] | None = None
        # Vᵀ and V are the same numbers when V's value is exactly symmetric: one
        # canonical form lets XᵀV⁻¹ and V⁻¹X share a single solve.
        self._symmetric_symbols = symmetric_key(self.values)
        self._transposes = [(matrix_transpose(s), s) for s in self._symmetric_symbols]
        self._symmetric = {id(t): s for t, s in self._transposes}  # nodes kept alive above
        self._canonical: dict[Expr, Expr] = {}
        self._kinds: set[tuple[str, tuple[int, ...]]] = set()  # (op, shape) computed: transposes to look for
        self.structure = Structure(self._symmetric_symbols)  # symmetric matrices, known from their form
        self._lazy: set[Expr] = set()  # products only traced: tr(A₁⋯Aₖ) chooses its own order
        self._unforced: set[Expr] = set()  # operands of fused chains: evaluated only when asked for
        self._standalone: set[Expr] | None = None
        # the choices made, with their multiply-add counts (explain_cost), each written when read
        self.notes: list[Callable[[], str]] = []
        self._tape: list[tuple[Callable[..., Any], tuple[int, ...], int]] | None = None
        self._slots: dict[int, int] = {}
        self._alive: list[Any] = []
        # ("step", (kind, *data), inputs, output) and ("node", node, value) entries
        self.described: list[tuple[Any, ...]] | None = [] if describe else None
        if record:
            self._tape = []
            for v in self.values.values():
                self._register(v)
            for c in self._cholesky.values():
                self._register(c)

    # ----------------------------------------------------------- recording
    def _register(self, value: Any) -> int:
        slot = len(self._alive)
        self._alive.append(value)
        self._slots[id(value)] = slot
        return slot

    def op(self, fn: Callable[..., Any], *args: Any, step: tuple[Any, ...] | None = None) -> Any:
        """``fn(*args)``, recorded when recording (args must be earlier results).  ``step`` describes
        the evaluator's own steps (``("matmul", factors)``, ...) for :attr:`described`."""
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
        if step is not None and self.described is not None:
            self.described.append(("step", step, args, out))
        return out

    def _rule(self, node: Expr) -> Any:
        """The value of ``node`` by its op's rule (noted in :attr:`described`)."""
        if node.op == "trace" and node.args[0] in self._lazy and node.args[0] not in self._cache:
            value = trace_of_product(self, node.args[0])
        elif (t := self._transpose_known(node)) is not None:  # a view, as NumPy's .T
            value = self.op(matrix_transpose_value, t, step=("transpose", node))
        elif self.described is None and (u := sigmoid_slope_argument(node)) is not None:
            value = self.op(sigmoid_slope, self(u))
        else:
            rule = spec(node.op).evaluate
            if rule is None:
                raise TypeError(f"operation {node.op!r} has no evaluation rule")
            value = rule(self, node)
        if self.described is not None:
            self.described.append(("node", node, value))
        self._kinds.add((node.op, node.shape))
        return value

    def _transpose_known(self, node: Expr) -> Any:
        """The value of ``node``ᵀ if it was computed already (tanh(XW)ᵀ is the node tanh(WᵀXᵀ): its
        value is a view of the other's), else None; looked for only if a node of that op and shape was."""
        if node.ndim < 2 or not node.args or node.op in _OWN_TRANSPOSES \
                or (node.op, node.shape[:-2] + node.shape[:-3:-1]) not in self._kinds:
            return None
        return self._cache.get(self.canon(matrix_transpose(node)))

    def shared(self, key: tuple[Any, ...], fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` computed once per ``key`` in this evaluator (one recorded step).

        The outputs of one factorization are separate nodes; each asks for the
        factorization under the same key, e.g. ``("eigh", A, "L")`` (its
        argument in canonical form), and takes its part of the result.
        """
        if key not in self._shared:
            self._shared[key] = self.op(fn, *args)
        return self._shared[key]

    def bound_cholesky(self, a: Expr) -> Any:
        """The upper Cholesky factor computed when ``a`` (a symbol declared positive
        definite) was bound, or None."""
        return self._cholesky.get(a)

    def has_shared(self, key: tuple[Any, ...]) -> bool:
        """Whether :meth:`shared` has computed ``key`` already."""
        return key in self._shared

    def mentions(self, op: str) -> bool:
        """Whether a node with op ``op`` occurs in the expressions this evaluator is for.

        A values-only output (eigenvalues) uses it to choose between a
        values-only LAPACK call and the shared full factorization.
        """
        if self._ops is None:
            seen: set[Expr] = set()
            ops: set[str] = set()
            for e in self._exprs:
                for node in e.walk():
                    if node not in seen:
                        seen.add(node)
                        ops.add(node.op)
            self._ops = frozenset(ops)
        return op in self._ops

    def plan(self, outputs: Sequence[Any]) -> "Plan | None":
        """The recorded steps producing ``outputs`` (None if anything was not recorded)."""
        if self._tape is None or any(id(o) not in self._slots for o in outputs):
            return None
        inputs = {sym: self._slots[id(v)] for sym, v in self.values.items()}
        factors = {sym: self._slots[id(c)] for sym, c in self._cholesky.items()}
        checked = [self._slots[id(f)] for f in self._factors.values()]
        return Plan(inputs, factors, list(self._tape), [self._slots[id(o)] for o in outputs],
                    checked, len(self._alive), symmetric_key(self.values))

    def verify(self) -> None:
        """Raise for any factorization that served a solve or an inverse of a singular matrix."""
        for f in self._factors.values():
            f.verify()

    # ---------------------------------------------------------- evaluation
    def canon(self, e: Expr) -> Expr:
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
                    c = rebuild(node, [memo[a] for a in node.args])
                else:
                    c = node
                memo[node] = c
                memo.setdefault(c, c)  # canonical forms are their own
        return memo[e]

    def __call__(self, e: Expr) -> Any:
        e = self.canon(e)
        v = self._cache.get(e)
        if v is None:
            # children first, so deep expressions do not recurse; deferred nodes
            # (inverses) wait until a product asks for them, so that they become solves
            if any(a not in self._cache and self._eager(a) for a in e.args):
                nodes = walk_all((e,), self._cache)
                if self.described is None:  # code generation keeps plain traces and sums
                    self._lazy.update(n.args[0] for n in nodes if n.op == "trace" and has_inverse(n.args[0]))
                    self._lazy.update(t for n in nodes if n.op == "add" and n.ndim == 2
                                      for t in n.args if scaled_term(t, n.shape))
                    self._unforced.update(fused_operands(nodes))
                for node in nodes:
                    if node not in self._cache and node is not e and self._eager(node):
                        self._cache[node] = self._rule(node)
            v = self._cache[e] = self._rule(e)
        return v

    def _eager(self, node: Expr) -> bool:
        """Whether ``node`` is evaluated before its parents ask: not an inverse or a power of one
        (a product makes those solves), a product only traced, a term s·A or s·I of a sum (it
        adds in place) or an identity."""
        return not (spec(node.op).deferred or node in self._lazy or node in self._unforced
                    or node.op == "eye"
                    or node.op == "matrix_power" and node.args[0].op == "inv")

    def standalone_inverses(self) -> set[Expr]:
        """The inverses whose value is needed as a matrix (:func:`.traces.standalone_inverses`)."""
        if self._standalone is None:
            self._standalone = {self.canon(e) for e in standalone_inverses(self._exprs)}
        return self._standalone

    def known_chain(self, factors: tuple[Expr, ...]) -> bool:
        """Whether the product of ``factors`` was computed already (in either orientation)."""
        flipped = tuple(self.canon(matrix_transpose(f)) for f in reversed(factors))
        return factors in self._chains or flipped in self._chains

    def operand(self, e: Expr) -> Any:
        """The value of a map's factor ``e``: dense, or kept structured where forming it would
        cost more than it saves (:mod:`kronvec.maps.operands`):

        * a product of k thin pieces, such as W(WᵀW)⁻¹Wᵀ for a tall W, stays two dense pieces
          L R split at its narrowest dimension r when r (rows + cols) < rows·cols/4;
        * a large sum, such as A + Aᵀ, stays its terms (``to_dense`` writes it in one pass).
        """
        e = self.canon(e)
        hit = self._operands.get(e)
        if hit is not None or e in self._cache or e.ndim != 2 or e.shape[0] * e.shape[1] < LARGE:
            return hit if hit is not None else self(e)
        if e.op == "add":
            terms = [(t.params.coef, t.args[0]) if t.op == "scale" else (1.0, t) for t in e.args]
            value = self.op(partial(sum_operand, tuple(c for c, _ in terms)),
                            *[self.operand(t) for _, t in terms])
        elif e.op == "scale" and e.args[0].op in ("add", "matmul"):
            inner = self.operand(e.args[0])
            value = self.op(partial(scaled, e.params.coef), inner)
        elif e.op == "eye":
            value = self.op(partial(Identity, e.shape[0]))
        elif e.op == "matmul" and (split := low_rank_split(e)) is not None:
            value = self.op(product_operand, self.chain(e.args[:split]), self.chain(e.args[split:]))
        else:
            return self(e)
        self._operands[e] = value
        return value

    def cached(self, e: Expr) -> Any:
        """The value of ``e`` if it was computed already, else None (never computes)."""
        return self._cache.get(self.canon(e))

    def product(self, e: Expr) -> np.ndarray:
        """A product's value: its transpose's if known (looked for only when a product of that
        shape was computed: building the transpose is most of a product's planning), else the chain."""
        if ("matmul", e.shape[:-2] + e.shape[:-3:-1]) in self._kinds \
                and (t := self.canon(matrix_transpose(e))) in self._cache:
            result: np.ndarray = self.op(matrix_transpose_value, self._cache[t], step=("transpose", e))
            return result
        return self.chain(e.args)

    def inverse(self, e: Expr) -> np.ndarray:
        """The value of A⁻¹ itself (when no product can use a solve instead)."""
        operand = self._inverse_operand(e)
        assert operand is not None, "the inverse of a square matrix"
        fac, trans = operand
        return cast(np.ndarray, self.op(partial(_inverse, trans=trans), fac, step=("inverse", trans, e)))

    def factorization(self, a: Expr) -> Factorization | BatchedFactorization:
        """The (cached) factorization of the square matrix ``a`` (of all its members, batched,
        for a stack)."""
        f = self._factors.get(a)
        if f is None:
            is_symbol = a.op == "symbol"  # its value was checked when bound
            kind = BatchedFactorization if a.ndim > 2 else Factorization
            # symmetric by its form: Cholesky first, LDLᵀ/LU if that fails (code generation
            # keeps the factorization its representative values would not decide)
            inferred = a.ndim == 2 and not is_symbol and self.structure.symmetric(a)
            make = partial(kind, label=partial(inverse_label, a),
                           try_cholesky=is_symbol and a.params.positive_definite
                           or inferred and self.described is None,
                           symmetric=(a in self._symmetric_symbols or a.ndim > 2 and a.params.symmetric)
                           if is_symbol else inferred or None,
                           finite=is_symbol, triangle=triangle(a), quick=self._quick)
            try:
                if a in self._cholesky:  # factored when its value was bound
                    f = self.op(_with_cholesky(make), self(a), self._cholesky[a], step=("factorize", a))
                else:
                    f = self.op(make, self(a), step=("factorize", a))
            except np.linalg.LinAlgError:
                self.verify()  # NaN from a singular solve earlier: name that one
                raise
            self._factors[a] = f
            if inferred:
                self.notes.append(partial(_symmetric_note, a, f))
            if (a.ndim > 2 or self._quick and a.shape[-1] <= 8) and self.described is None \
                    and self.canon(inv(a)) in self.standalone_inverses():  # F = (XᵀV⁻¹X)⁻¹, formed anyway:
                self(inv(a))  # a stack's solves (a bound map's, of a few rows) are products with it
        return f

    def _inverse_operand(self, f: Expr) -> tuple[Factorization | BatchedFactorization, bool] | None:
        """For a factor B⁻¹ or B⁻ᵀ not yet evaluated: (factorization of B, transposed)."""
        return None if f.op != "inv" or f in self._cache else self.factored(f.args[0])

    def factored(self, b: Expr) -> tuple[Factorization | BatchedFactorization, bool]:
        """(A's factorization, True) when B = Aᵀ is written so or A is factored already, else (B's, False)."""
        if b.op != "matrix_transpose" and all(f.shape != b.shape or f is b for f in self._factors):
            return self.factorization(b), False  # no other factorization of B's shape: Bᵀ is not built
        a = self.canon(matrix_transpose(b))
        transposed = b.op == "matrix_transpose" or b not in self._factors and a in self._factors
        return (self.factorization(a), True) if transposed else (self.factorization(b), False)

    def _cached_chain(self, factors: tuple[Expr, ...],
                      flipped: Sequence[Expr] | None = None) -> np.ndarray | None:
        """A product computed before, in this or in transposed order (``flipped``: the transposes
        of ``factors`` in reverse order, when known)."""
        hit = self._chains.get(factors)
        if hit is not None:
            return hit
        hit = self._chains.get(tuple(flipped) if flipped is not None else
                               tuple(self.canon(matrix_transpose(f)) for f in reversed(factors)))
        return None if hit is None else self.op(matrix_transpose_value, hit, step=("transpose", factors))

    def chain(self, factors: Sequence[Expr]) -> np.ndarray:
        """The product of ``factors`` in the cheapest order, with solves for inverses.

        Products computed before (in either orientation) cost nothing, so the
        order prefers to reuse them.
        """
        factors = expand_powers(factors)
        n = len(factors)
        if n == 1:
            result: np.ndarray = self(factors[0])
            return result
        wide = next((i for i, f in enumerate(factors) if f.op == "ones" and f.ndim == 2 and min(f.shape) > 1),
                    -1)
        if wide >= 0:  # L 𝟙 R = (L 𝟙ₚ)(𝟙_qᵀ R), rank one: never the p×q ones matrix itself
            (p, q), before, after = factors[wide].shape, factors[:wide], factors[wide + 1:]
            result = self.op(operator.matmul, self.chain(before + (ones(p, 1),)),
                           self.chain((ones(1, q),) + after), step=("matmul", factors))
            return result
        if (by_numpy := ones_product(factors)) is not None:  # broadcast or sum, no outer product
            result = self.op(by_numpy, self(factors[0]), self(factors[1]), step=("matmul", factors))
            return result
        for f in factors:  # factorize first: that evaluates (and caches) what inverses contain
            self._inverse_operand(f)
        if n >= 4 and (half := mirrored_half(self, factors)) is not None and not self.known_chain(half):
            self.chain(half)  # PᵀMP: P once, Pᵀ its transpose
        dims = [factors[0].shape[-2]] + [f.shape[-1] for f in factors]
        flipped: list[Expr] = []  # the transposed factors in reverse order, made once if needed

        def cached(i: int, j: int) -> Any:
            if not self._chains:
                return None
            if not flipped:
                flipped.extend(self.canon(matrix_transpose(f)) for f in reversed(factors))
            return self._cached_chain(factors[i:j + 1], flipped[n - 1 - j:n - i])

        known = {(i, j): hit for i in range(n) for j in range(i + 1, n) if (hit := cached(i, j)) is not None}
        split = chain_order(dims, known)

        def product(i: int, j: int) -> Any:
            if (i, j) in known:
                return known[(i, j)]
            if j > i and (hit := cached(i, j)) is not None:
                return hit  # computed meanwhile, e.g. yᵀK⁻¹ as (K⁻¹y)ᵀ
            if i == j:
                inv_op = self._inverse_operand(factors[i])
                if inv_op is not None:
                    return inv_op
                return self._operands.get(factors[i]) if factors[i] in self._operands else self(factors[i])
            k = split[i][j]
            value = self._combine(product(i, k), product(k + 1, j), partial(solve_label, factors, i, k, j),
                                  factors[i:j + 1])
            self._chains[factors[i:j + 1]] = value
            return value

        return cast(np.ndarray, product(0, n - 1))

    def _combine(self, left: Any, right: Any, label: Callable[[], str],
                 what: tuple[Expr, ...] = ()) -> np.ndarray:
        """left·right where either may be an unevaluated inverse (factorization, transposed);
        ``label`` names the solve in the error for a singular matrix, ``what`` are the factors
        of the product (for :attr:`described`)."""
        if isinstance(left, tuple):
            if isinstance(right, tuple):
                right = self.op(partial(_inverse, trans=right[1]), right[0],
                                step=("inverse", right[1], what[-1] if what else None))
            result: np.ndarray = self.op(partial(_solve, trans=left[1], context=label), left[0], right,
                           step=("solve", left[1], what))
            return result
        if isinstance(right, tuple):
            result = self.op(partial(_solve_right, trans=right[1], context=label), right[0], left,
                           step=("solve_right", right[1], what))
            return result
        result = self.op(operator.matmul, left, right, step=("matmul", what))
        return result


def _solve(fac: Factorization | BatchedFactorization, b: np.ndarray, trans: bool,
           context: Callable[[], str]) -> np.ndarray:
    return fac.solve(b, trans, context)


def _solve_right(fac: Factorization | BatchedFactorization, x: np.ndarray, trans: bool,
                 context: Callable[[], str]) -> np.ndarray:
    """X B⁻¹ = (B⁻ᵀ Xᵀ)ᵀ (or X B⁻ᵀ)."""
    xt = x.swapaxes(-1, -2) if type(x) is np.ndarray else np.swapaxes(x, -1, -2)
    return fac.solve(xt, not trans, context).swapaxes(-1, -2)


def _symmetric_note(a: Expr, f: Factorization | BatchedFactorization) -> str:
    return f"{DISPLAY.unicode(a)} is symmetric by its form: {factor_kind(f)}"


def _with_cholesky(make: Callable[..., Factorization | BatchedFactorization]
                   ) -> Callable[[np.ndarray, np.ndarray], Factorization | BatchedFactorization]:
    return lambda a, c: make(a, cholesky=c)


def _inverse(fac: Factorization | BatchedFactorization, trans: bool) -> np.ndarray:
    return fac.inverse(trans)
