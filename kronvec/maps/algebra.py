"""Composition, sums and scaling of linear maps, simplified by operand types.

The fast paths are chosen by the types of the two operands (as in CoLA),
looked up in type-pair tables along both operands' class hierarchies, and
kept apart from the term classes:

* mixed product: A₁(A₂ H B₂)B₁ = (A₁A₂) H (B₂B₁), and likewise with transposes
  (Kron∘KronT, KronT∘Kron, KronT∘KronT);
* rank one: tr(C L(H)) M = tr(C' H) M with C'ᵀ = Lᵀ(Cᵀ), and L(tr(C H) M) = tr(C H) L(M);
* elementwise: D₁ ⊙ (D₂ ⊙ H) = (D₁ ⊙ D₂) ⊙ H;
* selection and placement: two index maps are one (or zero, when the outer
  reads only entries the inner never wrote);
* triangular solves next to a Kronecker term fold into its factors,
  A (T⁻¹ H) = (AT⁻¹) H, so that the evaluator computes AT⁻¹ once by a solve;
* sandwiches: a Kronecker term on either side of an elementwise one is one
  term, A₁ (D ⊙ (A₂ H B₂)) B₁, and further Kronecker terms multiply into its
  outer factors (so a Hessian of Σ f(Xw) is Xᵀ diag(f''(Xw)) X);
* zero, identity, scaling and sums distribute; what is left stays a lazy
  :class:`~kronvec.maps.nodes.ComposeMap`.

Sums merge terms that share a factor (A H B₁ + A H B₂ = A H (B₁ + B₂); sandwiches add diagonals).
Every rule works on symbolic factors (building expressions) and on numbers.
Importing this module installs it as the algebra behind ``@ + *`` of maps.
"""
from __future__ import annotations

import math
from typing import Any, Callable, Optional

from ..expr import Expr
from . import factors as fx
from ..shapes import Shape, as_matrix_shape
from .base import ALGEBRA, LinearMap
from .dispatch import Rule, rule_for_pair, rule_for_type
from .sandwich import DiagSandwichMap, sandwich_shape_ok
from .nodes import ComposeMap, ScaledMap, SumMap, ZeroMap, flatten_sum
from .diagonal import KronDiagMap
from .selection import IndexMap, compose_index_maps
from .terms import DiagEmbedMap, DiagExtractMap, ElementwiseMap, KronMap, KronTMap, TraceMap
from .triangular import TriSolveMap

__all__ = ["compose", "add_maps", "scale_map", "COMPOSE_TIERS", "COMPOSE_RULES", "MERGE_RULES", "SCALE_RULES",
           "RELABEL_RULES"]

# ------------------------------------------------------------ composition
def compose(*maps: LinearMap) -> LinearMap:
    """L₁∘L₂∘⋯ (``maps[0]`` applied last), simplified where algebra allows."""
    result = maps[-1]
    for outer in reversed(maps[:-1]):
        result = _compose2(outer, result)
    return result


def _compose2(outer: LinearMap, inner: LinearMap) -> LinearMap:
    if inner.is_identity():
        return _relabel(outer, inner.in_shape, outer.out_shape)
    if outer.is_identity():
        return _relabel(inner, inner.in_shape, outer.out_shape)
    for table in COMPOSE_TIERS:  # zero, scalings, sums and chains first, then the term rules
        rule = rule_for_pair(table, outer, inner)
        merged = rule(outer, inner) if rule is not None else None
        if merged is not None:
            return merged
    return ComposeMap([outer, inner])


def _zero(outer: LinearMap, inner: LinearMap) -> LinearMap:
    return ZeroMap(inner.in_shape, outer.out_shape)


def _into_inner_chain(outer: LinearMap, inner: ComposeMap) -> LinearMap:
    head = _compose2(outer, inner.maps[0])
    rest = inner.maps[1:]
    if isinstance(head, ComposeMap) and head.maps[-1] is inner.maps[0]:
        return ComposeMap(head.maps + rest)
    return compose(head, *rest)


def _into_outer_chain(outer: ComposeMap, inner: LinearMap) -> LinearMap:
    tail = _compose2(outer.maps[-1], inner)
    if isinstance(tail, ComposeMap) and tail.maps[0] is outer.maps[-1]:
        return ComposeMap(outer.maps[:-1] + tail.maps)
    return compose(*outer.maps[:-1], tail)


def _relabel(m: LinearMap, in_shape: Shape, out_shape: Shape) -> LinearMap:
    """``m`` relabelled to scalar shapes ``()``/``(1, 1)`` where they differ."""
    if m.in_shape == tuple(in_shape) and m.out_shape == tuple(out_shape):
        return m
    rule = rule_for_type(RELABEL_RULES, m)
    relabelled = rule(m, in_shape, out_shape) if rule is not None else m.relabel(in_shape, out_shape)
    if relabelled is not None:
        return relabelled
    return ComposeMap([KronMap(None, None, m.out_shape, out_shape), m,
                       KronMap(None, None, in_shape, m.in_shape)])


RELABEL_RULES: dict[type, Callable[[Any, Shape, Shape], LinearMap]] = {
    ScaledMap: lambda m, i, o: ScaledMap(m.coef, _relabel(m.inner, i, o)),
    SumMap: lambda m, i, o: SumMap([_relabel(t, i, o) for t in m.terms]),
    ZeroMap: lambda m, i, o: ZeroMap(i, o),
}


def _kron_kron(o: KronMap, i: KronMap) -> LinearMap:
    # A₁ (A₂ H B₂) B₁
    return KronMap(fx.product(o.A, i.A), fx.product(i.B, o.B), i.in_shape, o.out_shape)


def _kron_kront(o: KronMap, i: KronTMap) -> LinearMap:
    # A₁ (A₂ Hᵀ B₂) B₁
    return KronTMap(fx.product(o.A, i.A), fx.product(i.B, o.B), i.in_shape, o.out_shape)


def _kront_kron(o: KronTMap, i: KronMap) -> LinearMap:
    # A₁ (A₂ H B₂)ᵀ B₁ = (A₁B₂ᵀ) Hᵀ (A₂ᵀB₁)
    return KronTMap(fx.product(o.A, fx.transposed(i.B)), fx.product(fx.transposed(i.A), o.B),
                    i.in_shape, o.out_shape)


def _kront_kront(o: KronTMap, i: KronTMap) -> LinearMap:
    # A₁ (A₂ Hᵀ B₂)ᵀ B₁ = (A₁B₂ᵀ) H (A₂ᵀB₁)
    return KronMap(fx.product(o.A, fx.transposed(i.B)), fx.product(fx.transposed(i.A), o.B),
                   i.in_shape, o.out_shape)


def _elem_elem(o: ElementwiseMap, i: ElementwiseMap) -> LinearMap:
    return ElementwiseMap(fx.elementwise_product(o.D, i.D), i.in_shape, o.out_shape)


def _kron_elem(o: KronMap, i: ElementwiseMap) -> LinearMap | None:
    # A (D ⊙ H) B
    if not sandwich_shape_ok(i):
        return None
    return DiagSandwichMap(o.A, o.B, i.D, None, None, i.in_shape, o.out_shape)


def _elem_kron(o: ElementwiseMap, i: KronMap) -> LinearMap | None:
    # D ⊙ (A H B)
    if not sandwich_shape_ok(o):
        return None
    return DiagSandwichMap(None, None, o.D, i.A, i.B, i.in_shape, o.out_shape)


def _kron_sandwich(o: KronMap, i: DiagSandwichMap) -> LinearMap:
    # A (A₁ (D ⊙ ·) B₁) B = (A A₁) (D ⊙ ·) (B₁ B)
    return DiagSandwichMap(fx.product(o.A, i.A1), fx.product(i.B1, o.B), i.D, i.A2, i.B2,
                           i.in_shape, o.out_shape)


def _sandwich_kron(o: DiagSandwichMap, i: KronMap) -> LinearMap:
    # (D ⊙ (A₂ (A H B) B₂)) = D ⊙ ((A₂A) H (BB₂))
    return DiagSandwichMap(o.A1, o.B1, o.D, fx.product(o.A2, i.A), fx.product(i.B, o.B2),
                           i.in_shape, o.out_shape)


def _elem_sandwich(o: ElementwiseMap, i: DiagSandwichMap) -> LinearMap | None:
    # D₁ ⊙ (D₂ ⊙ (A₂ H B₂)) when the sandwich has no outer factors
    if i.A1 is not None or i.B1 is not None:
        return None
    return DiagSandwichMap(None, None, fx.elementwise_product(o.D, i.D), i.A2, i.B2, i.in_shape, o.out_shape)


def _sandwich_elem(o: DiagSandwichMap, i: ElementwiseMap) -> LinearMap | None:
    # A₁ (D₁ ⊙ (D₂ ⊙ H)) B₁ when the sandwich has no inner factors
    if o.A2 is not None or o.B2 is not None:
        return None
    return DiagSandwichMap(o.A1, o.B1, fx.elementwise_product(o.D, i.D), None, None, i.in_shape, o.out_shape)


def _trace_after(o: TraceMap, inner: LinearMap) -> LinearMap | None:
    # tr(C L(H)) M = tr(C' H) M with C'ᵀ = Lᵀ(Cᵀ); on stacks, for an L acting member by member
    if o.symbolic and not inner.acts_on_expressions() or not inner.memberwise():
        return None
    return TraceMap(fx.transposed(inner.T._apply(o.c_transposed())), o.M, inner.in_shape, o.out_shape)


def _before_trace(outer: LinearMap, i: TraceMap) -> LinearMap | None:
    # L(tr(C H) M) = tr(C H) L(M); on stacks, for an L acting member by member
    if i.symbolic and not outer.acts_on_expressions() or not outer.memberwise():
        return None
    return TraceMap(i.C, outer._apply(i.M), i.in_shape, outer.out_shape)


def _kron_trisolve(o: KronMap, i: TriSolveMap) -> LinearMap | None:
    # A (Tl⁻¹ H Tr⁻¹) B = (A Tl⁻¹) H (Tr⁻¹ B): a factor next to a solve absorbs it (symbolic only)
    if not (o.symbolic and i.symbolic):
        return None
    left, right = i.inverses()
    fold_l, fold_r = o.A is not None and i.Tl is not None, o.B is not None and i.Tr is not None
    if not (fold_l or fold_r):
        return None
    kron = KronMap(fx.product(o.A, left) if fold_l else o.A, fx.product(right, o.B) if fold_r else o.B,
                   i.out_shape, o.out_shape)
    rest = TriSolveMap(None if fold_l else i.Tl, None if fold_r else i.Tr, i.lower_l, i.lower_r,
                       i.in_shape, i.out_shape, i.label)
    return kron if rest.is_identity() else ComposeMap([kron, rest])


def _trisolve_kron(o: TriSolveMap, i: KronMap) -> LinearMap | None:
    # Tl⁻¹ (A H B) Tr⁻¹ = (Tl⁻¹ A) H (B Tr⁻¹) (symbolic only)
    if not (o.symbolic and i.symbolic):
        return None
    left, right = o.inverses()
    fold_l, fold_r = i.A is not None and o.Tl is not None, i.B is not None and o.Tr is not None
    if not (fold_l or fold_r):
        return None
    kron = KronMap(fx.product(left, i.A) if fold_l else i.A, fx.product(i.B, right) if fold_r else i.B,
                   i.in_shape, i.out_shape)
    rest = TriSolveMap(None if fold_l else o.Tl, None if fold_r else o.Tr, o.lower_l, o.lower_r,
                       i.out_shape, o.out_shape, o.label)
    return kron if rest.is_identity() else ComposeMap([rest, kron])


def _diag_of_kron(o: DiagExtractMap, i: KronMap) -> LinearMap | None:
    # diag(A H B) in one product (A, B square here: diag needs a square A H B)
    if i.A is None or i.B is None:
        return None
    return KronDiagMap(i.A, i.B, "extract", i.in_shape, o.out_shape)


def _kron_of_diag(o: KronMap, i: DiagEmbedMap) -> LinearMap | None:
    # A diag(h) B in one product
    if o.A is None or o.B is None:
        return None
    return KronDiagMap(o.A, o.B, "embed", i.in_shape, o.out_shape)


COMPOSE_TIERS: list[dict[tuple[type, type], Rule]] = [
    {(ZeroMap, LinearMap): _zero, (LinearMap, ZeroMap): _zero},
    {(ScaledMap, LinearMap): lambda o, i: scale_map(o.coef, _compose2(o.inner, i)),
     (LinearMap, ScaledMap): lambda o, i: scale_map(i.coef, _compose2(o, i.inner))},
    {(SumMap, LinearMap): lambda o, i: add_maps(*[_compose2(t, i) for t in o.terms]),
     (LinearMap, SumMap): lambda o, i: add_maps(*[_compose2(o, t) for t in i.terms])},
    {(LinearMap, ComposeMap): _into_inner_chain},
    {(ComposeMap, LinearMap): _into_outer_chain},
]

COMPOSE_RULES: dict[tuple[type, type], Rule] = {
    (KronMap, KronMap): _kron_kron,
    (KronMap, KronTMap): _kron_kront,
    (KronTMap, KronMap): _kront_kron,
    (KronTMap, KronTMap): _kront_kront,
    (ElementwiseMap, ElementwiseMap): _elem_elem,
    (IndexMap, IndexMap): compose_index_maps,
    (KronMap, TriSolveMap): _kron_trisolve,
    (DiagExtractMap, KronMap): _diag_of_kron,
    (KronMap, DiagEmbedMap): _kron_of_diag,
    (TriSolveMap, KronMap): _trisolve_kron,
    (KronMap, ElementwiseMap): _kron_elem,
    (ElementwiseMap, KronMap): _elem_kron,
    (KronMap, DiagSandwichMap): _kron_sandwich,
    (DiagSandwichMap, KronMap): _sandwich_kron,
    (ElementwiseMap, DiagSandwichMap): _elem_sandwich,
    (DiagSandwichMap, ElementwiseMap): _sandwich_elem,
    (TraceMap, LinearMap): _trace_after,
    (LinearMap, TraceMap): _before_trace,
}
COMPOSE_TIERS.append(COMPOSE_RULES)


# ------------------------------------------------------------------ sums
def add_maps(*maps: LinearMap) -> LinearMap:
    """L₁ + L₂ + ⋯, merging terms that share a factor."""
    in_shape, out_shape = maps[0].in_shape, maps[0].out_shape
    terms: list[LinearMap] = []
    flat = flatten_sum(maps)
    index: dict[tuple[Any, ...], list[int]] | None = {} if len(flat) > 8 else None  # merge key -> positions
    for m in flat:
        m = _relabel(m, in_shape, out_shape)
        if index is None:  # a short sum: try every term
            candidates: Any = range(len(terms))
        else:
            candidates = sorted({pos for key in _merge_keys(m) for pos in index.get(key, ())})
        for pos in candidates:  # the first term it merges with, as a scan of all terms finds
            merged = _merge(terms[pos], m)
            if merged is not None:
                terms[pos] = merged
                break
        else:
            terms.append(m)
            pos = len(terms) - 1
        if index is not None:
            for key in _merge_keys(terms[pos]):
                index.setdefault(key, []).append(pos)
    terms = _factor_kron_sums([t for t in terms if not isinstance(t, ZeroMap)])
    if not terms:
        return ZeroMap(in_shape, out_shape)
    return terms[0] if len(terms) == 1 else SumMap(terms)


def _factor_kron_sums(terms: list[LinearMap]) -> list[LinearMap]:
    """Σᵢⱼ cᵢⱼ Aᵢ H Bⱼ = (Σ uᵢAᵢ) H (Σ vⱼBⱼ) when the coefficients have rank one (cᵢⱼ = uᵢvⱼ).

    So I - Q ⊗ I + Q ⊗ R - I ⊗ R prints as (I - Q) ⊗ (I - R).  Tried on two or more
    symbolic Kronecker terms of one kind, whose factors are read as sums of terms (identities
    made explicit), so that partial merges made before do not hide the pattern.
    """
    for kind in (KronMap, KronTMap):
        group = [t for t in terms if type(t) is kind]
        if len(group) < 3 or not all(t.symbolic or not t.factors() or t.is_identity() for t in group) \
                or not any(t.symbolic for t in group):
            continue
        factored = _rank_one(group)
        if factored is not None:
            terms = [t for t in terms if not any(t is g for g in group)] + [factored]
    return terms


def _summands(f: Any) -> list[tuple[float, Any]]:
    """An expression factor as (coefficient, term) pairs of its sum."""
    c, f = _coefficient(f)
    parts = f.args if isinstance(f, Expr) and f.op == "add" else (f,)
    return [(c * c2, p) for c2, p in map(_coefficient, parts)]


def _rank_one(group: list[KronMap | KronTMap]) -> LinearMap | None:
    first = group[0]
    like = next(f for t in group for f in t.factors() if f is not None)
    rows: list[Any] = []
    cols: list[Any] = []
    coef: dict[tuple[int, int], float] = {}
    row_of: dict[int, int] = {}  # id(term) -> its position (the terms stay alive in rows/cols)
    col_of: dict[int, int] = {}

    def index(items: list[Any], positions: dict[int, int], x: Any) -> int:
        pos = positions.setdefault(id(x), len(items))
        if pos == len(items):
            items.append(x)
        return pos
    for t in group:
        a = _explicit(t.A, t, "A", like)
        b = _explicit(t.B, t, "B", like)
        for ca, pa in _summands(a):
            for cb, pb in _summands(b):
                key = (index(rows, row_of, pa), index(cols, col_of, pb))
                coef[key] = coef.get(key, 0.0) + ca * cb
    coef = {k: c for k, c in coef.items() if c != 0.0}
    if not coef or len(rows) * len(cols) < 2:
        return None
    i0, j0 = next(iter(coef))
    pivot = coef[(i0, j0)]
    u = [coef.get((i, j0), 0.0) / pivot for i in range(len(rows))]
    v = [coef.get((i0, j), 0.0) for j in range(len(cols))]
    for i in range(len(rows)):
        for j in range(len(cols)):
            if abs(coef.get((i, j), 0.0) - u[i] * v[j]) > 1e-12 * abs(pivot):
                return None
    left = fx.plus_all([fx.mul(c, r) for c, r in zip(u, rows) if c != 0.0])
    right = fx.plus_all([fx.mul(c, col) for c, col in zip(v, cols) if c != 0.0])
    return type(first)(_implicit(left), _implicit(right), first.in_shape, first.out_shape)


def _implicit(f: Any) -> Any:
    """None for an identity expression (so that it prints and applies as one)."""
    return None if isinstance(f, Expr) and f.op == "eye" else f


def _merge_keys(m: LinearMap) -> list[tuple[Any, ...]]:
    """Keys that two terms share whenever :func:`_merge` can merge them (factors compare by
    identity), so that a sum of n terms tries O(n) merges, not O(n²)."""
    kind = type(m)
    if rule_for_type(MERGE_RULES, m) is None:
        return []
    if isinstance(m, (KronMap, KronTMap)):
        return [(kind, 0, id(_coefficient(m.A)[1])), (kind, 1, id(_coefficient(m.B)[1]))]
    if isinstance(m, TraceMap):
        return [(kind, 0, id(m.C)), (kind, 1, id(m.M))]
    return [(kind,)]


def _merge(x: LinearMap, y: LinearMap) -> Optional[LinearMap]:
    """x + y as a single term when they share a factor, else None."""
    if type(x) is not type(y):
        return None
    rule = rule_for_type(MERGE_RULES, x)
    return rule(x, y) if rule is not None else None


def _merge_elementwise(x: ElementwiseMap, y: ElementwiseMap) -> LinearMap:
    return ElementwiseMap(fx.plus(x.D, y.D), x.in_shape, x.out_shape)


def _merge_sandwich(x: DiagSandwichMap, y: DiagSandwichMap) -> Optional[LinearMap]:
    # A₁ (D ⊙ (A₂ H B₂)) B₁ + A₁ (D' ⊙ (A₂ H B₂)) B₁ = A₁ ((D + D') ⊙ (A₂ H B₂)) B₁
    if all(fx.same(a, b) for a, b in zip((x.A1, x.B1, x.A2, x.B2), (y.A1, y.B1, y.A2, y.B2))):
        return DiagSandwichMap(x.A1, x.B1, fx.plus(x.D, y.D), x.A2, x.B2, x.in_shape, x.out_shape)
    # the same with numbers on the factors (A₂ and −A₂): the numbers move into the diagonals
    (kx, fx_), (ky, fy) = _unscaled_factors(x), _unscaled_factors(y)
    if fx.is_symbolic(x.D, y.D) and all(fx.same(a, b) for a, b in zip(fx_, fy)):
        return DiagSandwichMap(fx_[0], fx_[1], fx.plus(fx.mul(kx, x.D) if kx != 1.0 else x.D,
                                                      fx.mul(ky, y.D) if ky != 1.0 else y.D),
                               fx_[2], fx_[3], x.in_shape, x.out_shape)
    return None


def _unscaled_factors(m: DiagSandwichMap) -> tuple[float, list[Any]]:
    """(k, [A₁, B₁, A₂, B₂]) with the numbers scaling the factors taken out, multiplied into k."""
    coefficients = [_coefficient(f) for f in (m.A1, m.B1, m.A2, m.B2)]
    return math.prod([c for c, _ in coefficients], start=1.0), [base for _, base in coefficients]


def _merge_trace(x: TraceMap, y: TraceMap) -> Optional[LinearMap]:
    # tr(C H) M: merge equal M (sum the C) or equal C (sum the M)
    if fx.same(x.M, y.M) and x.C is not None and y.C is not None:
        return TraceMap(fx.plus(x.C, y.C), x.M, x.in_shape, x.out_shape)
    if fx.same(x.C, y.C):
        return TraceMap(x.C, fx.plus(x.M, y.M), x.in_shape, x.out_shape)
    return None


def _merge_kron(x: KronMap | KronTMap, y: KronMap | KronTMap) -> Optional[LinearMap]:
    (c1, a1), (c2, a2) = _coefficient(x.A), _coefficient(y.A)
    (d1, b1), (d2, b2) = _coefficient(x.B), _coefficient(y.B)
    k1, k2 = c1 * d1, c2 * d2  # A H B with its numeric factor: k·(A' H B')
    if fx.same(a1, a2) and b1 is not None and b2 is not None:
        return type(x)(a1, fx.plus(fx.mul(k1, b1), fx.mul(k2, b2)), x.in_shape, x.out_shape)
    if fx.same(b1, b2) and a1 is not None and a2 is not None:
        return type(x)(fx.plus(fx.mul(k1, a1), fx.mul(k2, a2)), b1, x.in_shape, x.out_shape)
    if a1 is None and b1 is None and a2 is None and b2 is None:
        return ScaledMap(2.0, x)
    return None


def _explicit(f: Any, m: KronMap | KronTMap, side: str, like: Any) -> Any:
    """A factor of ``m``, with None (an identity) made explicit, of its size and of the kind of
    ``like`` (an expression, or numbers)."""
    if f is not None:
        return f
    n, k = as_matrix_shape(m.in_shape)[-2:]
    size = {("A", KronMap): n, ("B", KronMap): k, ("A", KronTMap): k, ("B", KronTMap): n}
    return fx.eye(size[(side, type(m))], like)


MERGE_RULES: dict[type, Callable[[Any, Any], Optional[LinearMap]]] = {
    ElementwiseMap: _merge_elementwise,
    DiagSandwichMap: _merge_sandwich,
    TraceMap: _merge_trace,
    KronMap: _merge_kron,
    KronTMap: _merge_kron,
}


def _coefficient(f: Any) -> tuple[float, Any]:
    """(c, F') with F = c·F' for an expression factor scaled by a number, else (1, F)."""
    if isinstance(f, Expr) and f.op == "scale":
        return f.params.coef, f.args[0]
    return 1.0, f


# --------------------------------------------------------------- scaling
def scale_map(c: Any, m: LinearMap) -> LinearMap:
    """c·L for a number or a scalar expression c; absorbed into a factor where possible."""
    if not isinstance(c, Expr):
        c = float(c)
        if c == 1.0:
            return m
        if c == 0.0:
            return ZeroMap(m.in_shape, m.out_shape)
    rule = rule_for_type(SCALE_RULES, m)
    if rule is not None:
        return rule(c, m)
    absorbed = m.absorb(c)
    return absorbed if absorbed is not None else ScaledMap(c, m)


def _scale_chain(c: Any, m: ComposeMap) -> LinearMap:
    for pos, part in enumerate(m.maps):
        scaled = scale_map(c, part)
        if not isinstance(scaled, ScaledMap):
            return ComposeMap(m.maps[:pos] + (scaled,) + m.maps[pos + 1:])
    return ScaledMap(c, m)


def _scale_scaled(c: float | Expr, m: ScaledMap) -> LinearMap:
    # c·(c'·L) = (c c')·L
    return scale_map(fx.mul(c, m.coef) if fx.is_symbolic(c, m.coef) else c * m.coef, m.inner)


SCALE_RULES: dict[type, Callable[[Any, Any], LinearMap]] = {
    ZeroMap: lambda c, m: m,
    ScaledMap: _scale_scaled,
    SumMap: lambda c, m: add_maps(*[scale_map(c, t) for t in m.terms]),
    ComposeMap: _scale_chain,
}


ALGEBRA.compose, ALGEBRA.add_maps, ALGEBRA.scale_map = compose, add_maps, scale_map
