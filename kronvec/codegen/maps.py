"""Generated code for the action of a linear map: one template per map type.

A Jacobian's JVP (or, for ``J.T``, its VJP) is written from the structure of
its map, as a bound map applies it: the factors are computed first (shared
with each other by the evaluator), then one line per term, e.g.

=====================  ==========================================================
map                    code for the tangent ``h``
=====================  ==========================================================
``KronMap(A, B)``      ``A @ h @ B`` or ``A @ (h @ B)``, the cheaper order (as bound)
``KronTMap(A, B)``     ``A @ h.T @ B``
``TraceMap(C, M)``     ``np.einsum('...ij,ji->...', h, C)[..., None, None] * M``
``ElementwiseMap(D)``  ``D * h``
``TriSolveMap``        triangular solves with the backend's solver
``BroadcastMap``       ``np.broadcast_to(h.reshape(...), out_shape)`` (unit axes inserted first)
``ReduceMap``          ``h.sum(axis=...)`` over the axes a broadcast spread along (its adjoint)
``SumMap``, ...        the sum of the terms, ``c * ...``, the maps one after another
=====================  ==========================================================

Maps whose action is an op (``ExpmFrechetMap`` is L(A, H), ``TriangleMap``
a ``tri`` part) are written by that op's code template.  :data:`MAP_CODE`
has an entry for every map class of :mod:`kronvec.maps` (a test checks it).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..expr import Expr
from ..maps import (ComposeMap, DiagEmbedMap, DiagExtractMap, ElementwiseMap, ExpmFrechetMap, IndexMap,
                    KronDiagMap, KronFactorMap, KronMap, KronTMap, LinearMap, ScaledMap, SumMap, TraceMap,
                    TriangleMap, TriSolveMap, ZeroMap)
from ..maps.axes import BroadcastMap, PermuteMap, ReduceMap, ReshapeMap, _AxesMap
from ..maps.adjugate import AdjugateFrechetMap
from ..maps.eigen_frechet import EigfunFrechetMap, EigfunSecondMap
from ..maps.einsum import EinsumMap
from ..maps.expm_second import ExpmSecondMap
from ..maps.polar import PolarFrechetMap
from ..maps.prepared import PreparedMap, SecondFrechetMap
from ..maps.frechet import LogmSecondMap, MatrixFunctionFrechetMap
from ..maps.powers import MatrixPowerFrechetMap, MatrixPowerSecondMap
from ..maps.sandwich import DiagRankOneMap, DiagSandwichMap
from ..maps.structured import (DuplicationMap, EliminationMap, VechMap, _DuplicationAdjoint,
                               _EliminationAdjoint)
from ..maps.terms import _SLOT_INDEX, _FactorTerm
from ..ops._code_templates import code_slice, code_transpose
from ..ops.leaves import Matrix
from ..registry import function
from ..shapes import as_matrix_shape
from .arrays import diagonals, transposed_members
from .backends import Factor
from .emit import Emitter, _operand

__all__ = ["MAP_CODE", "BATCHED", "STACK_MAPS", "apply_map"]

MapCode = Callable[[Emitter, Any, str], str]


def apply_map(g: Emitter, m: LinearMap, h: str) -> str:
    """Emit the code of m(h) for the tangent code ``h`` (of shape ``as_matrix_shape(m.in_shape)``);
    returns the code of the result (of shape ``as_matrix_shape(m.out_shape)``, or a scalar).

    The code of the maps in :data:`BATCHED` takes tangents with leading axes as well (a
    stack of tangents, as a bound map's ``jvp`` does); any other map clears ``g.batched``.
    """
    for cls in type(m).__mro__:
        rule = MAP_CODE.get(cls)
        if rule is not None:
            if cls not in BATCHED:
                g.batched = False
            if cls not in STACK_MAPS and max(len(m.in_shape), len(m.out_shape)) > 2:
                g.unsupported(f"the action of a {type(m).__name__} on a stack, shape {tuple(m.in_shape)} "
                              f"(its code is written for one matrix)")
            return rule(g, m, h)
    g.unsupported(f"the action of a {type(m).__name__}")


def _factor(g: Emitter, f: Any) -> str | None:
    """The code of a map's factor (None for an identity)."""
    if f is None or isinstance(f, Expr) and f.op == "eye":
        return None
    if isinstance(f, Expr):
        return g.value(f)
    if isinstance(f, (int, float, np.number)):
        return repr(float(f))
    return g.constant(f)


def _factor_code(g: Emitter, f: Any) -> str:
    """The code of a factor that is no identity (a triangular solve's)."""
    code = _factor(g, f)
    if code is None:
        g.unsupported("a triangular solve with an identity factor")
    return code


def _is_scalar(f: Any) -> bool:
    return isinstance(f, Expr) and f.shape == ()


def _product(g: Emitter, left: Any, h: str, right: Any, left_first: bool = True) -> str:
    a, b = _factor(g, left), _factor(g, right)
    if a is not None and _is_scalar(left):
        h, a = f"{a} * {h}", None
    if b is not None and _is_scalar(right):
        h, b = f"{h} * {b}", None
    if a is None and b is None:
        return h
    if a is None:
        return f"{h} @ {b}"
    if b is None:
        return f"{a} @ {h}"
    return f"{a} @ {h} @ {b}" if left_first else f"{a} @ ({h} @ {b})"


def _kron(g: Emitter, m: KronMap, h: str) -> str:
    return g.let(_product(g, m.A, h, m.B, m._left_first), hint="term")


def _kront(g: Emitter, m: KronTMap, h: str) -> str:
    return g.let(_product(g, m.A, f"{_operand(h)}.swapaxes(-1, -2)", m.B), hint="term")


def _trace(g: Emitter, m: TraceMap, h: str) -> str:
    c = _factor(g, m.C)
    if max(len(as_matrix_shape(m.in_shape)), len(as_matrix_shape(m.out_shape))) > 2:
        return _trace_members(g, m, h, c)
    if c is None:
        t = f"{g.array_module}.einsum('...ii->...', {h})"  # the trace of each tangent of a stack
    elif _is_scalar(m.C) or as_matrix_shape(m.in_shape) == (1, 1):  # a scalar tangent: tr(c h) = c h
        g.batched = False
        if not (_is_scalar(m.C) or isinstance(m.C, (int, float, np.number))):
            c = f"{_operand(c)}.reshape(())"  # a 1×1 factor C: tr(C h) is still a () number
        t = f"{h}.reshape(())" if _is_one(m.C) else f"{c} * {h}.reshape(())"
    elif len(m.C.shape) > 2:  # a stack of factors Cᵢ: tr(Cᵢ Hᵢ) for every member
        t = f"{g.array_module}.einsum('...ij,...ji->...', {h}, {c})"
    else:
        t = f"{g.array_module}.einsum('...ij,ji->...', {h}, {c})"
    if _is_one(m.M):
        return g.let(t, hint="term")
    if len(m.M.shape) == 2:  # each trace times the matrix M
        t = f"{_operand(t)}[..., None, None]"
    elif m.M.shape != ():
        g.batched = False
    return g.let(f"{_operand(t)} * {g.value(m.M)}", hint="term")


def _trace_members(g: Emitter, m: TraceMap, h: str, c: str | None) -> str:
    """tr(Cᵢ Hᵢ) Mᵢ for every member i of a stack (C, M: one matrix, or one per member), in the
    matrix form of the output (per-member scalars as (..., 1, 1))."""
    g.batched = False
    if as_matrix_shape(m.in_shape)[-2:] == (1, 1):  # per-member scalar tangents: tr(cᵢ hᵢ) = cᵢ hᵢ
        t = f"{_operand(h)}[..., 0, 0]"
        if c is not None and not _is_one(m.C):
            scalar = _is_scalar(m.C) or not isinstance(m.C, Expr) or len(m.C.shape) < 2
            t = f"{c if scalar else _operand(c) + '[..., 0, 0]'} * {t}"
    elif c is None:
        t = f"{g.array_module}.einsum('...ii->...', {h})"
    elif len(m.C.shape) > 2:
        t = f"{g.array_module}.einsum('...ij,...ji->...', {h}, {c})"
    else:
        t = f"{g.array_module}.einsum('...ij,ji->...', {h}, {c})"
    t = f"{_operand(t)}[..., None, None]"
    if _is_one(m.M):
        return g.let(t, hint="term")
    mv = g.value(m.M)
    if 0 < len(m.M.shape) < 2:  # per-member scalars
        mv = f"{_operand(mv)}[..., None, None]"
    return g.let(f"{t} * {mv}", hint="term")


def _is_one(f: Any) -> bool:
    """Whether the factor is the constant 1."""
    return isinstance(f, Expr) and f.op == "const" and f.params.value.array.size == 1 \
        and float(f.params.value.array.reshape(())) == 1.0


def _elementwise(g: Emitter, m: ElementwiseMap, h: str) -> str:
    d = _factor(g, m.D)
    if isinstance(m.D, Expr) and len(m.D.shape) == 1:  # per-member scalars, in matrix form (b, 1, 1)
        d = f"{_operand(d)}[..., None, None]" if d is not None else d
    return g.let(f"{d} * {h}", hint="term")


def _diag_embed(g: Emitter, m: DiagEmbedMap, h: str) -> str:
    """diag(h) of each (n, 1) member: hᵢ δᵢⱼ, the column times the identity (stacks broadcast)."""
    return g.let(f"{_operand(h)} * {g.eye(m.out_shape[-1])}", hint="term")


def _diag_extract(g: Emitter, m: DiagExtractMap, h: str) -> str:
    """The diagonal of each (n, n) member as a column (stacks broadcast)."""
    return g.let(f"{diagonals(g.array_module, h)}[..., None]", hint="term")


def _kron_diag(g: Emitter, m: KronDiagMap, h: str) -> str:
    """diag(A H B) as a column, or A diag(h) B = (A ⊙ hᵀ) B, of every member of a stack."""
    a, b = _factor(g, m.A), _factor(g, m.B)
    if m.direction == "extract":
        return g.let(f"{g.array_module}.einsum('...ij,...ji->...i', {a}, {h} @ {b})[..., None]", hint="term")
    stacked = max(len(m.in_shape), len(m.out_shape)) > 2
    return g.let(f"({a} * {transposed_members(h) if stacked else _transposed(h)}) @ {b}", hint="term")


def _kron_factor(g: Emitter, m: KronFactorMap, h: str) -> str:
    mm, n, p, q = m.dims
    big4 = f"({mm}, {p}, {n}, {q})"
    f = _factor(g, m.F)
    fv = f"{f}.reshape{big4}" if m.fixed == "big" else f
    hv = f"{h}.reshape{big4}" if m.src == "big" else h
    spec = f"{_SLOT_INDEX[m.fixed]},{_SLOT_INDEX[m.src]}->{_SLOT_INDEX[m.dst]}"
    out = f"{g.array_module}.einsum('{spec}', {fv}, {hv})"
    return g.let(f"{out}.reshape({mm * p}, {n * q})" if m.dst == "big" else out, hint="term")


def _tangent(shape: tuple[int, ...]) -> Expr:
    """A symbol standing for the tangent, to write a map's action as an op node."""
    return Matrix("_tangent", as_matrix_shape(shape))


def _via_op(build: Callable[[Any, Expr], Expr]) -> MapCode:
    """A map whose action is the op node ``build(m, H)``: its arguments are factors and H."""
    def code(g: Emitter, m: Any, h: str) -> str:
        tangent = _tangent(m.in_shape)
        node = build(m, tangent)
        if tangent not in node.args:
            g.unsupported(f"the action of a {type(m).__name__} (it simplifies to {node.op!r})")
        args: list[str | None] = [h if a is tangent else g.value(a) if isinstance(a, Expr) else _factor(g, a)
                                  for a in node.args]  # an identity factor is an argument too
        return g.let(g.render(node, args), hint="term")
    return code


def _index(g: Emitter, m: IndexMap, h: str) -> str:
    (rs, cs), (ws, wc) = m._read, m._write
    if rs is None or cs is None or ws is None or wc is None:
        g.unsupported("an index map that is not a slice")
    (n, k), (p, q) = as_matrix_shape(m.in_shape), as_matrix_shape(m.out_shape)
    if g.name == "torch" and any(s.step is not None and s.step < 0 for s in (rs, cs, ws, wc)):
        g.unsupported("an index with a negative step (PyTorch slices take positive steps only)")
    taken = f"{h}[{_slice(rs, n)}, {_slice(cs, k)}]"
    if m.fills:
        return g.let(taken, hint="term")
    return g.let(g.backend.place(g, (p, q), f"{_slice(ws, p)}, {_slice(wc, q)}", taken), hint="term")


def _slice(s: slice, size: int) -> str:
    return code_slice(range(*s.indices(size)), size)


def _trisolve(g: Emitter, m: TriSolveMap, h: str) -> str:
    out, shape = h, as_matrix_shape(m.in_shape)
    if m.Tr is not None:
        f = Factor("triangular", (_factor_code(g, m.Tr),), shape[-1], m.lower_r, stacked=len(m.Tr.shape) - 2)
        out = g.let(g.backend.solve_right_code(g, f, out, False, shape) if f.stacked
                    else g.backend.solve_right(f, out, False), hint="term")
    if m.Tl is not None:
        f = Factor("triangular", (_factor_code(g, m.Tl),), shape[-2], m.lower_l, stacked=len(m.Tl.shape) - 2)
        out = g.let(g.backend.solve_code(g, f, out, False, shape) if f.stacked
                    else g.backend.solve(f, out, False), hint="term")
    return out


def _vech_indices(g: Emitter, m: VechMap) -> tuple[str, str]:
    return g.index_constant(m.rows, "vech_rows"), g.index_constant(m.cols, "vech_cols")


def _duplication(g: Emitter, m: DuplicationMap, h: str) -> str:
    r, c = _vech_indices(g, m)
    low = g.let(g.backend.place(g, (m.n, m.n), f"{r}, {c}", f"{h}[:, 0]"), hint="lower")
    return g.let(f"{low} + {g.array_module}.tril({low}, -1).T", hint="term")


def _duplication_adjoint(g: Emitter, m: _DuplicationAdjoint, h: str) -> str:
    r, c = _vech_indices(g, m)
    off = g.constant((m.rows != m.cols).astype(float), "vech_off")
    return g.let(f"({h}[{r}, {c}] + {off} * {h}[{c}, {r}])[:, None]", hint="term")


def _elimination(g: Emitter, m: EliminationMap, h: str) -> str:
    r, c = _vech_indices(g, m)
    return g.let(f"{h}[{r}, {c}][:, None]", hint="term")


def _elimination_adjoint(g: Emitter, m: _EliminationAdjoint, h: str) -> str:
    r, c = _vech_indices(g, m)
    return g.let(g.backend.place(g, (m.n, m.n), f"{r}, {c}", f"{h}[:, 0]"), hint="term")


def _sandwich(g: Emitter, m: DiagSandwichMap, h: str) -> str:
    for part in reversed(m.parts()):  # A₂ H B₂, then D ⊙ ·, then A₁ · B₁
        h = apply_map(g, part, h)
    return h


def _diag_rank_one(g: Emitter, m: DiagRankOneMap, h: str) -> str:
    """D ⊙ H − U ⊙ Σ(V ⊙ H), the sums over each slice (all of H, each column, each row)."""
    vh = h if m.V is None else g.let(f"{_factor(g, m.V)} * {h}", hint="t")
    axes = {None: (-2, -1), 0: -2, 1: -1}.get(m.axis)  # counted from the end: tangents may be stacked
    if axes is None:
        g.batched, axes = False, m.axis
    if g.name == "torch":
        sums = g.let(f"{vh}.sum(dim={axes}, keepdim=True)", hint="t")
    else:
        sums = g.let(f"{vh}.sum(axis={axes}, keepdims=True)", hint="t")
    first = h if m.D is None else f"{_factor(g, m.D)} * {h}"
    spread = sums if m.U is None else f"{_factor(g, m.U)} * {sums}"
    return g.let(f"{first} - {spread}", hint="term")


def _zero(g: Emitter, m: ZeroMap, h: str) -> str:
    return g.zeros(as_matrix_shape(m.out_shape))


def _sum(g: Emitter, m: SumMap, h: str) -> str:
    terms = [apply_map(g, t, h) for t in m.terms]
    return g.let(" + ".join(terms), hint="term")


def _scaled(g: Emitter, m: ScaledMap, h: str) -> str:
    inner = apply_map(g, m.inner, h)
    return g.let(f"{_factor(g, m.coef)} * {inner}", hint="term")


def _compose(g: Emitter, m: ComposeMap, h: str) -> str:
    for inner in reversed(m.maps):
        h = apply_map(g, inner, h)
    return h


def _transposed(h: str) -> str:
    return code_transpose(h)


def _unsupported_base(g: Emitter, m: Any, h: str) -> str:
    g.unsupported(f"the action of a {type(m).__name__}")


def _broadcast(g: Emitter, m: BroadcastMap, h: str) -> str:
    """H in its own shape, unit axes inserted, spread to the output's shape by broadcasting."""
    g.batched = False
    expanded = list(m.out_shape)
    kept = iter(m.in_shape)
    for k in range(len(expanded)):
        expanded[k] = 1 if k in m.inserted else next(kept)
    spread = f"{g.array_module}.broadcast_to({_operand(h)}.reshape({tuple(expanded)}), {tuple(m.out_shape)})"
    return g.let(f"{spread}.reshape({as_matrix_shape(m.out_shape)})", hint="term")


def _reduce(g: Emitter, m: ReduceMap, h: str) -> str:
    """Σ of H over the axes where the output has size 1 (kept) and over the removed ones."""
    g.batched = False
    x = f"{_operand(h)}.reshape({tuple(m.in_shape)})"
    keep, axis = ("keepdim", "dim") if g.name == "torch" else ("keepdims", "axis")
    if m.kept_sums:
        x = f"{x}.sum({axis}={m.kept_sums}, {keep}=True)"
    if m.removed:
        x = f"{x}.sum({axis}={m.removed})"
    return g.let(f"{x}.reshape({as_matrix_shape(m.out_shape)})", hint="term")


def _einsum(g: Emitter, m: EinsumMap, h: str) -> str:
    """``np.einsum(subscripts, A, h, …)`` with the tangent read in its own shape, written back in
    its matrix form."""
    g.batched = False
    args = [f"{_operand(h)}.reshape({m.in_shape})" if x is None else _einsum_factor(g, x, shape)
            for x, shape in zip(m.operands, m.operand_shapes)]
    extra = ", optimize=True" if g.name == "numpy" else ""
    text = m.contraction.text
    contracted = f"{g.array_module}.einsum({text!r}, {', '.join(args)}{extra})"
    return g.let(f"{contracted}.reshape({as_matrix_shape(m.out_shape)})", hint="term")


def _einsum_factor(g: Emitter, x: Any, shape: tuple[int, ...]) -> str:
    code = _factor(g, x)
    if code is None:  # an identity (the δ of a repeated index)
        code = g.eye(shape[0])
    return f"{g.array_module}.reshape({code}, {shape})"


def _stack_axes(g: Emitter, m: Any, h: str) -> str:
    g.unsupported(f"the action of a {type(m).__name__}: generated code is for matrices, not stacks")


def _permute(g: Emitter, m: PermuteMap, h: str) -> str:
    """H in its own shape, its axes permuted (``np.transpose``; PyTorch's ``permute``)."""
    g.batched = False
    x = f"{_operand(h)}.reshape({tuple(m.in_shape)})"
    moved = f"{x}.permute({m.axes})" if g.name == "torch" else f"{g.array_module}.transpose({x}, {m.axes})"
    return g.let(f"{moved}.reshape({as_matrix_shape(m.out_shape)})", hint="term")


def _reshape(g: Emitter, m: ReshapeMap, h: str) -> str:
    """H read in C order in the output's shape, as NumPy reshapes values."""
    g.batched = False
    return g.let(f"{_operand(h)}.reshape({as_matrix_shape(m.out_shape)})", hint="term")


# Maps whose code is written for stacks (factors and tangents with leading axes); the maps written
# by an op's template (``_via_op``) are checked by the op (:mod:`.stacks`).
STACK_MAPS = frozenset({KronMap, KronTMap, TraceMap, ElementwiseMap, SumMap, ScaledMap, ComposeMap, ZeroMap,
                        BroadcastMap, ReduceMap, PermuteMap, ReshapeMap, DiagRankOneMap, DiagSandwichMap,
                        ExpmFrechetMap, MatrixFunctionFrechetMap, PreparedMap, AdjugateFrechetMap,
                        PolarFrechetMap, SecondFrechetMap, LogmSecondMap, ExpmSecondMap,
                        MatrixPowerFrechetMap, MatrixPowerSecondMap, TriangleMap, TriSolveMap, EinsumMap,
                        DiagEmbedMap, DiagExtractMap, KronDiagMap})


# Maps whose code broadcasts over leading axes of the tangent.
BATCHED = frozenset({KronMap, KronTMap, TraceMap, ElementwiseMap, DiagSandwichMap, DiagRankOneMap, SumMap,
                     ScaledMap, ComposeMap, DiagEmbedMap, DiagExtractMap})

_prepared = _via_op(lambda m, H: function(m.node)(m.A, H))  # a PreparedMap's node names its op
_second = _via_op(lambda m, H: function(m.node)(m.A, H, m.E))

MAP_CODE: dict[type, MapCode] = {
    KronMap: _kron,
    KronTMap: _kront,
    TraceMap: _trace,
    ElementwiseMap: _elementwise,
    DiagEmbedMap: _diag_embed,
    DiagExtractMap: _diag_extract,
    KronDiagMap: _kron_diag,
    KronFactorMap: _kron_factor,
    ExpmFrechetMap: _via_op(lambda m, H: function("expm_frechet")(m.A, H)),
    MatrixFunctionFrechetMap: _via_op(lambda m, H: function(m.fn + "_frechet")(m.A, H)),
    PreparedMap: _prepared,
    EigfunFrechetMap: lambda g, m, h: apply_map(g, m.sandwich(), h),  # V (Γ ⊙ Vᵀ H V) Vᵀ
    EigfunSecondMap: _via_op(lambda m, H: function("eigfun_frechet2")(m.A, m.g, H, m.E, m.uplo)),
    AdjugateFrechetMap: _prepared,
    PolarFrechetMap: _prepared,
    SecondFrechetMap: _second,
    LogmSecondMap: _second,
    ExpmSecondMap: _second,
    MatrixPowerFrechetMap: _via_op(lambda m, H: function("matpow_frechet")(m.A, H, m.k)),
    MatrixPowerSecondMap: _via_op(lambda m, H: function("matpow_frechet2")(m.A, *((H, m.F) if m.slot == 0
                                                                                  else (m.F, H)), m.k)),
    TriangleMap: _via_op(lambda m, H: function("tri")(H, m.kind)),
    TriSolveMap: _trisolve,
    IndexMap: _index,
    DuplicationMap: _duplication,
    _DuplicationAdjoint: _duplication_adjoint,
    EliminationMap: _elimination,
    _EliminationAdjoint: _elimination_adjoint,
    VechMap: _unsupported_base,
    _FactorTerm: _unsupported_base,
    DiagSandwichMap: _sandwich,
    DiagRankOneMap: _diag_rank_one,
    ZeroMap: _zero,
    SumMap: _sum,
    ScaledMap: _scaled,
    ComposeMap: _compose,
    _AxesMap: _stack_axes,
    BroadcastMap: _broadcast,
    ReduceMap: _reduce,
    PermuteMap: _permute,
    ReshapeMap: _reshape,
    EinsumMap: _einsum,
}
