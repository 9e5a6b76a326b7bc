"""Maps as text, in the vec convention, and the differential form of a Jacobian.

H ↦ A H B prints as ``Bᵀ ⊗ A``, H ↦ A Hᵀ B as ``(Bᵀ ⊗ A)K`` (K the commutation
matrix), H ↦ tr(C H) M as ``vec(M)vec(Cᵀ)ᵀ`` and H ↦ D ⊙ H as ``diag(vec D)``;
between columns, a sandwich A₁ (D ⊙ (A₂ H)) prints as ``A₁ diag(D) A₂`` and
the softmax Jacobian as ``diag(s) - ssᵀ``; scalar factors are pulled to the
front, and maps with no Kronecker form print by their action (``H ↦ H ⊗ A``).
The renderer of each map type is chosen from a table keyed by type, apart
from the classes it prints.
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from ..expr import Expr, const_scalar, is_scalar, strip_names
from ..maps import (ComposeMap, DiagEmbedMap, DiagExtractMap, DiagRankOneMap, DiagSandwichMap,
                    ElementwiseMap, ExpmFrechetMap, IndexMap, KronDiagMap, KronFactorMap, KronMap, KronTMap,
                    LinearMap, LogmSecondMap, MatrixFunctionFrechetMap, ScaledMap, SumMap, TraceMap,
                    TriangleMap, TriSolveMap, ZeroMap, expression_factors)
from ..maps.adjugate import AdjugateFrechetMap
from ..maps.expm_second import ExpmSecondMap
from ..maps.polar import PolarFrechetMap
from ..maps.axes import BroadcastMap, PermuteMap, ReduceMap, ReshapeMap
from ..maps.einsum import EinsumMap
from ..maps.operands import Operand
from ..maps.powers import MatrixPowerFrechetMap, MatrixPowerSecondMap
from ..maps.structured import VechMap
from ..ops.arithmetic import smul
from ..ops.leaves import Scalar, symbol
from ..ops.products import inv, matrix_transpose
from ..ops.reductions import det
from ..ops.triangular import TRI_TEXT, signed
from ..registry import Prec
from ..shapes import as_matrix_shape
from .expressions import Printer, format_number, shared_names, to_unicode, where_clause
from .styles import LATEX, UNICODE, Style, free_letters

__all__ = ["map_to_unicode", "map_to_latex", "differential", "render_map", "MAP_RENDERERS"]

SUM, UNARY, KRON, PROD, POSTFIX, ATOM = (Prec.SUM, Prec.UNARY, Prec.KRON, Prec.PROD, Prec.POSTFIX,
                                          Prec.ATOM)

def _split_scalar(f: Any) -> tuple[list[Any], Any]:
    """Leading scalar factors (numbers or scalar expressions) of an expression factor."""
    coefs: list[Any] = []
    while isinstance(f, Expr) and f.op in ("scale", "smul", "adj"):
        if f.op == "adj":  # det(A) A⁻¹
            coefs.append(det(f.args[0]))
            f = inv(f.args[0])
        elif f.op == "scale":
            coefs.append(f.params.coef)
            f = f.args[0]
        else:
            coefs.append(f.args[0])
            f = f.args[1]
    return coefs, f


class _MapPrinter:
    def __init__(self, style: Style, names: Mapping[Expr, str] | None) -> None:
        self.s = style
        self.p = Printer(style, names)

    def factor(self, f: Any, level: int) -> str:
        if f is None:
            return self.s.identity
        if isinstance(f, (np.ndarray, Operand)):
            return f"[{'×'.join(map(str, f.shape))} array]"
        return self.p(f, level)

    def transposed(self, f: Any) -> str:
        """Bᵀ: the canonical transpose for a single factor, (B)ᵀ for a product."""
        if f is None:
            return self.s.identity
        if isinstance(f, Expr) and f.op not in ("matmul", "add", "smul", "scale", "kron",
                                                  "multiply"):
            return self.p(matrix_transpose(f), POSTFIX)
        return self.factor(f, ATOM) + self.s.transpose

    def coefficient(self, coefs: list[Any]) -> tuple[str, bool]:
        """(text, negative) for a product of scalar coefficients."""
        number, scalar = 1.0, None
        for c in coefs:
            if isinstance(c, Expr):
                scalar = c if scalar is None else smul(scalar, c)  # ‖X‖⁻² ‖X‖⁻¹ = ‖X‖⁻³
            else:
                number *= float(np.reshape(c, ()))
        while scalar is not None and scalar.op == "scale":
            number, scalar = number * scalar.params.coef, scalar.args[0]
        if scalar is not None and (constant := const_scalar(scalar)) is not None:  # ‖X‖ ‖X‖⁻¹ = 1
            number, scalar = number * constant, None
        magnitude = abs(number)
        if magnitude == 1.0:
            text = ""
        elif not magnitude.is_integer() and (1.0 / magnitude).is_integer():
            text = self.s.fraction(format_number(1.0 / magnitude))  # as expressions print X/2
        else:
            text = format_number(magnitude)
        if scalar is not None:
            text = (text + " " if text else "") + self.p(scalar, POSTFIX)
        return text, number < 0

    def render(self, m: LinearMap) -> tuple[str, bool, bool]:
        """(text, negative, is_sum) with the sign pulled out."""
        for kind in type(m).__mro__:
            method = MAP_RENDERERS.get(kind)
            if method is not None:
                result: tuple[str, bool, bool] = method(self, m)
                return result
        return getattr(m, "display_name", type(m).__name__), False, False

    def _with_coefficient(self, ctext: str, body: str) -> str:
        return f"{ctext} {body}" if ctext else body

    def _zero(self, m: ZeroMap) -> tuple[str, bool, bool]:
        return "0", False, False

    def _sum(self, m: SumMap) -> tuple[str, bool, bool]:
        out = ""
        for k, t in enumerate(m.terms):
            text, neg, _ = self.render(t)
            if k == 0:
                out = (self.s.minus if neg else "") + text
            else:
                out += (f" {self.s.minus} " if neg else " + ") + text
        return out, False, True

    def _scaled(self, m: ScaledMap) -> tuple[str, bool, bool]:
        ctext, neg = self.coefficient([m.coef])
        text, neg2, is_sum = self.render(m.inner)
        if text == "1":
            return ctext or "1", neg != neg2, False
        return self._with_coefficient(ctext, self.s.paren(text) if is_sum else text), neg != neg2, False

    def _compose(self, m: ComposeMap) -> tuple[str, bool, bool]:
        parts, neg = [], False
        for t in _chained(m.maps):
            text, n2, is_sum = self.render(t)
            neg ^= n2
            parts.append(self.s.paren(text) if is_sum or " " in text else text)
        return (" \\cdot " if self.s.latex else " · ").join(parts), neg, False

    def _kron(self, m: KronMap | KronTMap) -> tuple[str, bool, bool]:
        """A H B as Bᵀ ⊗ A; A Hᵀ B as (Bᵀ ⊗ A)K₍ₙ,ₖ₎; the identity map as I with its size."""
        ca, A = _split_scalar(m.A)
        cb, B = _split_scalar(m.B)
        ctext, neg = self.coefficient(ca + cb)
        # K₍ₙ,ₖ₎ vec H = vec Hᵀ, H of shape (n, k)
        commutation = self.s.sized("K", *as_matrix_shape(m.in_shape)[-2:])
        if A is None and B is None:
            if is_scalar(m.in_shape):
                return ctext or "1", neg, False  # the identity on scalars
            size = math.prod(m.in_shape)
            body = self.s.sized(self.s.identity, size) if isinstance(m, KronMap) else commutation
        else:
            body = self.transposed(B) + self.s.kron + self.factor(A, POSTFIX)
            if isinstance(m, KronTMap):
                body = self.s.paren(body) + commutation
        return self._with_coefficient(ctext, body), neg, False

    def _trace(self, m: TraceMap) -> tuple[str, bool, bool]:
        """tr(C H) M as vec(M) vec(Cᵀ)ᵀ; a scalar C or M becomes a coefficient."""
        s = self.s
        cm, M = _split_scalar(m.M)
        cc, C = _split_scalar(m.C)
        scalar_in = is_scalar(m.in_shape)
        if scalar_in and (C is None or isinstance(C, Expr) and is_scalar(C)):
            cc, C = cc + ([] if C is None or _is_one(C) else [C]), None  # tr(C h) = C·h
        if isinstance(M, Expr) and is_scalar(M) and not _is_one(M):
            cm, M = cm + [M], None
        ctext, neg = self.coefficient(cm + cc)
        row = "" if C is None and scalar_in else \
            s.func("vec", self.factor(matrix_transpose(C) if isinstance(C, Expr) else C, SUM)) + s.transpose
        column = "" if M is None or isinstance(M, Expr) and _is_one(M) or \
            isinstance(M, np.ndarray) and M.size == 1 else s.func("vec", self.factor(M, SUM))
        body = " ".join(part for part in (ctext, column, row) if part)
        return body or "1", neg, False

    def _elementwise(self, m: ElementwiseMap) -> tuple[str, bool, bool]:
        """D ⊙ H as diag(vec D); plain multiplication on scalars."""
        cd, D = _split_scalar(m.D)
        if is_scalar(m.in_shape) and isinstance(D, Expr):
            ctext, neg = self.coefficient(cd + [D])
            return ctext or "1", neg, False
        ctext, neg = self.coefficient(cd)
        return self._with_coefficient(ctext, self.s.func("diag", self.s.func("vec", self.factor(D, SUM)))), \
            neg, False

    def _triangle(self, m: TriangleMap) -> tuple[str, bool, bool]:
        """A triangle map as its operator name: vec Φ(H) = Φ vec H, vec symₗ(H) = symₗ vec H."""
        uni, lat, extra = TRI_TEXT[m.kind]
        name = lat if self.s.latex else uni
        if extra:
            name = self.s.func(name, "·", signed(self.s, extra))
        return name, False, False

    def _trisolve(self, m: TriSolveMap) -> tuple[str, bool, bool]:
        """H ↦ Tl⁻¹ H Tr⁻¹ as Tr⁻ᵀ ⊗ Tl⁻¹ (triangular solves)."""
        if not m.symbolic:
            return self._action(m)
        left, right = m.inverses()
        return self._kron(KronMap(left, right, m.in_shape, m.out_shape))

    def _sandwich(self, m: DiagSandwichMap) -> tuple[str, bool, bool]:
        """A₁ diag(D) A₂ between columns; otherwise its terms, as a composition prints them."""
        if not m.is_column_form():
            return self._compose(ComposeMap(m.parts()))
        c1, A1 = _split_scalar(m.A1)
        cd, D = _split_scalar(m.D)
        c2, A2 = _split_scalar(m.A2)
        ctext, neg = self.coefficient(c1 + cd + c2)
        parts = [self.factor(A1, POSTFIX) if A1 is not None else "",
                 self.s.func("diag", self.factor(D, SUM)),
                 self.factor(A2, POSTFIX) if A2 is not None else ""]
        return self._with_coefficient(ctext, " ".join(p for p in parts if p)), neg, False

    def _rank_one(self, m: DiagRankOneMap) -> tuple[str, bool, bool]:
        """diag(s) - ssᵀ (I - 𝟙sᵀ for log_softmax) when the matrix is one slice; else the action."""
        if not m.is_single_slice():
            return self._action(m)
        s = self.s
        if as_matrix_shape(m.in_shape)[1] == 1:  # a column is its own vec
            diagonal = s.identity if m.D is None else s.func("diag", self.factor(m.D, SUM))
            u = s.ones if m.U is None else self.factor(m.U, POSTFIX)
            v = s.ones + s.transpose if m.V is None else self.transposed(m.V)
        else:
            def vec(f: Any) -> str:
                return s.ones if f is None else s.func("vec", self.factor(f, SUM))
            diagonal = s.identity if m.D is None else s.func("diag", vec(m.D))
            u, v = vec(m.U), vec(m.V) + s.transpose
        spaced = len(u) > 1 or len(v) > 1 + len(s.transpose)
        return f"{diagonal} {s.minus} {s.join([u, v], spaced)}", False, True

    def _action(self, m: LinearMap) -> tuple[str, bool, bool]:
        return self.action(m), False, False

    def _axes(self, m: LinearMap) -> tuple[str, bool, bool]:
        """The maps on the axes of stacks, by their action in NumPy's words."""
        if isinstance(m, BroadcastMap):
            text = f"broadcast_to(H, {m.out_shape})"
        elif isinstance(m, ReduceMap):
            axes = m.removed + m.kept_sums
            text = f"sum(H, axis={axes[0] if len(axes) == 1 else tuple(sorted(axes))})"
        elif isinstance(m, PermuteMap):
            text = f"matrix_transpose(H, {m.axes})"
        else:
            text = f"reshape(H, {m.out_shape})"
        return f"H ↦ {text}", False, False

    def action(self, m: LinearMap) -> str:
        """A map with no Kronecker form, written by its action: ``H ↦ H ⊗ A``."""
        h = symbol("H", m.in_shape, False, False) if m.in_shape else Scalar("H")
        if m.symbolic or not m.factors():
            return f"H ↦ {self.p(m._apply(h))}"
        return f"H ↦ {type(m).__name__}(H)"


MAP_RENDERERS: dict[type, Any] = {
    ZeroMap: _MapPrinter._zero,
    SumMap: _MapPrinter._sum,
    ScaledMap: _MapPrinter._scaled,
    ComposeMap: _MapPrinter._compose,
    KronMap: _MapPrinter._kron,
    KronTMap: _MapPrinter._kron,
    TraceMap: _MapPrinter._trace,
    ElementwiseMap: _MapPrinter._elementwise,
    DiagEmbedMap: _MapPrinter._action,
    DiagExtractMap: _MapPrinter._action,
    ExpmFrechetMap: _MapPrinter._action,
    KronFactorMap: _MapPrinter._action,
    IndexMap: _MapPrinter._action,  # H ↦ H[1:3, 0], H ↦ place₍₄,₃₎(H, [1:3, 0])
    TriangleMap: _MapPrinter._triangle,
    TriSolveMap: _MapPrinter._trisolve,
    MatrixFunctionFrechetMap: _MapPrinter._action,
    AdjugateFrechetMap: _MapPrinter._action,
    PolarFrechetMap: _MapPrinter._action,
    LogmSecondMap: _MapPrinter._action,
    ExpmSecondMap: _MapPrinter._action,  # H ↦ L²_expm(A, H, E)
    MatrixPowerFrechetMap: _MapPrinter._action,  # H ↦ Σᵢ₌₀ᵏ⁻¹ Aⁱ H Aᵏ⁻¹⁻ⁱ
    MatrixPowerSecondMap: _MapPrinter._action,
    KronDiagMap: _MapPrinter._action,
    EinsumMap: _MapPrinter._action,  # H ↦ [Σₖ AᵢₖHₖⱼₗ]ᵢⱼₗ
    BroadcastMap: _MapPrinter._axes,
    ReduceMap: _MapPrinter._axes,
    PermuteMap: _MapPrinter._axes,
    ReshapeMap: _MapPrinter._axes,
    DiagSandwichMap: _MapPrinter._sandwich,
    DiagRankOneMap: _MapPrinter._rank_one,
    VechMap: lambda p, m: (p.s.sized(m.letter, m.n) + (p.s.transpose if m.transposed else ""),
                           False, False),
}


def _chained(maps: tuple[LinearMap, ...]) -> list[LinearMap]:
    """The terms of a composition, with sandwiches not written A₁ diag(D) A₂ opened up."""
    out: list[LinearMap] = []
    for t in maps:
        if isinstance(t, DiagSandwichMap) and not t.is_column_form():
            out.extend(t.parts())
        else:
            out.append(t)
    return out


def _is_one(e: Expr) -> bool:
    return e.op == "eye" or (e.op == "const" and e.params.value.array.size == 1
                                  and float(e.params.value.array.reshape(())) == 1.0)


def render_map(style: Style, m: LinearMap, names: Mapping[Expr, str] | None) -> tuple[str, set[Expr]]:
    """The map's text and the named subexpressions it printed by name."""
    printer = _MapPrinter(style, names)
    text, neg, _ = printer.render(m)
    return (style.minus if neg else "") + text, printer.p.used


def _map_text(style: Style, m: LinearMap, names: Mapping[Expr, str] | None) -> str:
    """The map's text, with big subexpressions that it would repeat named (``,  where P₁ = …``)."""
    given = dict(names or {})
    new = shared_names([f for f in expression_factors(m) if isinstance(f, Expr)], given, style.latex)
    if not new:
        return render_map(style, m, given)[0]
    printer = _MapPrinter(style, {**given, **new})
    text, neg, _ = printer.render(m)
    return (style.minus if neg else "") + text + where_clause(style, printer.p, new)


def map_to_unicode(m: LinearMap, names: Mapping[Expr, str] | None = None) -> str:
    """The map in the vec convention, e.g. ``(V⁻¹XF)ᵀ ⊗ FXᵀV⁻¹``."""
    with free_letters((m.in_shape, m.out_shape)):
        return _map_text(UNICODE, m, names)


def map_to_latex(m: LinearMap, names: Mapping[Expr, str] | None = None) -> str:
    """LaTeX of the map in the vec convention."""
    with free_letters((m.in_shape, m.out_shape)):
        return _map_text(LATEX, m, names)


def differential(J: Any) -> str:
    """``dF = ...`` for a Jacobian; ``V̄ = ...`` in terms of F̄ for its adjoint (inferred sizes with
    the letters of the map's printed form)."""
    with free_letters((J.in_shape, J.out_shape)):
        return _differential(J)


def _differential(J: Any) -> str:
    wrt = J.wrt
    plain = strip_names(J.expr)
    fname = J.names.get(plain) or _lhs_name(J.expr)
    if J.adjoint:
        bar = "\u0304"
        cotangent = _symbol((fname if fname.isidentifier() else ("f" if J.out_shape == () else "F")) + bar,
                            J.in_shape)
        out = J.apply(cotangent)
        note = "" if fname.isidentifier() else f"  ({cotangent.params.name}: the cotangent of {fname})"
        return f"{wrt.params.name}{bar} = {to_unicode(out, J.names)}{note}"
    out = J.apply(_symbol("d" + wrt.params.name, wrt.shape, _symmetric(wrt)))
    return f"d{fname} = {to_unicode(out, J.names)}"


def _symmetric(wrt: Expr) -> bool:
    return bool(wrt.params.symmetric) and len(wrt.shape) >= 2 and wrt.shape[-1] > 1


def _symbol(name: str, shape: tuple[int, ...], symmetric: bool = False) -> Expr:
    """The tangent d<name>; symmetric (so symₗ(dS) = dS, dSᵀ = dS) for a symmetric symbol S."""
    return symbol(name, shape, symmetric, False) if shape != () else Scalar(name)


def _lhs_name(e: Expr) -> str:
    if e.op in ("symbol", "named"):
        result: str = e.params.name
        return result
    text = to_unicode(e)
    return text if len(text) <= 1 else f"({text})"
