"""Closed forms as text: Unicode, LaTeX, and the library's own Python syntax.

Printing reads expressions and maps and never computes.  Products print as
juxtaposition (``FXᵀV⁻¹``; with spaces when a name is longer than one letter),
inverse transposes as ``X⁻ᵀ``, repeated factors as powers (``X⁻²``), and
subexpressions named with ``.named("F")`` by their name.

Maps print in the vec convention: H ↦ A H B as ``Bᵀ ⊗ A``, H ↦ A Hᵀ B as
``(Bᵀ ⊗ A)K`` (K the commutation matrix), H ↦ tr(C H) M as ``vec(M)vec(Cᵀ)ᵀ``
and H ↦ D ⊙ H as ``diag(vec D)``; scalar factors are pulled to the front.
"""
from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from . import expr as E
from .maps import ComposeMap, LinearMap, ScaledMap, SumMap, ZeroMap, expression_factors
from .terms import (DiagEmbedMap, DiagExtractMap, ElementwiseMap, ExpmFrechetMap,
                            KronFactorMap, KronMap, KronTMap, TraceMap)

__all__ = ["to_unicode", "to_latex", "to_python", "map_to_unicode", "map_to_latex",
           "differential", "format_number"]

# precedence: higher binds tighter
SUM, UNARY, KRON, PROD, POSTFIX, ATOM = range(6)

_SUP = str.maketrans("0123456789-.", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻·")


def format_number(c: float) -> str:
    """A short decimal form (integers without a point)."""
    c = float(c)
    if c.is_integer() and abs(c) < 1e15:
        return str(int(c))
    return f"{c:.6g}"


class _Style:
    """What differs between Unicode, LaTeX and Python output."""

    transpose = "ᵀ"
    inverse = "⁻¹"
    inverse_t = "⁻ᵀ"
    minus = "-"
    kron = " ⊗ "
    hadamard = " ⊙ "
    divide = " ⊘ "
    identity = "I"
    ones = "𝟙"
    zero = "0"

    def sup(self, text: str) -> str:
        return text.translate(_SUP)

    def func(self, name: str, *args: str) -> str:
        return f"{name}({', '.join(args)})"

    def norm(self, arg: str) -> str:
        return f"‖{arg}‖"

    def paren(self, s: str) -> str:
        return f"({s})"

    def name(self, s: str) -> str:
        return s

    def join(self, parts: list[str], spaced: bool) -> str:
        return (" " if spaced else "").join(parts)

    def scalar_times(self, s: str, m: str) -> str:
        return f"{s} {m}"

    def elem_power(self, base: str, p: str) -> str:
        return f"{base}∘{self.sup(p)}"


class _Latex(_Style):
    transpose = "^{\\top}"
    inverse = "^{-1}"
    inverse_t = "^{-\\top}"
    minus = "-"
    kron = " \\otimes "
    hadamard = " \\odot "
    divide = " \\oslash "
    identity = "I"
    ones = "\\mathbf{1}"

    def sup(self, text: str) -> str:
        return f"^{{{text}}}"

    def func(self, name: str, *args: str) -> str:
        names = {"tr": "\\operatorname{tr}", "det": "\\det", "log det": "\\log\\det",
                 "exp": "\\exp", "log": "\\log", "sin": "\\sin", "cos": "\\cos",
                 "tanh": "\\tanh", "sqrt": "\\sqrt", "vec": "\\operatorname{vec}",
                 "diag": "\\operatorname{diag}", "sum": "\\operatorname{sum}"}
        if name == "sqrt":
            return f"\\sqrt{{{args[0]}}}"
        head = names.get(name, "\\operatorname{" + name + "}")
        return head + "\\left(" + ", ".join(args) + "\\right)"

    def norm(self, arg: str) -> str:
        return f"\\left\\|{arg}\\right\\|_F"

    def paren(self, s: str) -> str:
        return f"\\left({s}\\right)"

    def name(self, s: str) -> str:
        if s.endswith("ᵀ"):
            return self.name(s[:-1]) + self.transpose
        if len(s) > 1 and not s.startswith("\\"):
            return f"\\mathrm{{{s}}}" if s.isalpha() else s
        return s

    def join(self, parts: list[str], spaced: bool) -> str:
        return " ".join(parts)

    def scalar_times(self, s: str, m: str) -> str:
        return f"{s} \\, {m}"

    def elem_power(self, base: str, p: str) -> str:
        return f"{base}^{{\\circ {p}}}"


_UNICODE, _LATEX = _Style(), _Latex()


class _Printer:
    def __init__(self, style: _Style, names: Mapping[E.Expr, str] | None = None) -> None:
        self.s = style
        self.names = names or {}
        self._memo: dict[E.Expr, tuple[str, int]] = {}

    def __call__(self, e: E.Expr, level: int = SUM) -> str:
        memo = self._memo
        if e not in memo:
            for node in e.walk():  # children first: deep expressions do not recurse
                if node not in memo:
                    memo[node] = self.render(node)
        text, prec = memo[e]
        return self.s.paren(text) if prec < level else text

    # ---------------------------------------------------------------
    def render(self, e: E.Expr) -> tuple[str, int]:
        s = self.s
        if e in self.names:
            return s.name(self.names[e]), ATOM
        op = e.op
        if op in ("symbol", "named"):
            return s.name(e.params[0]), ATOM
        if op == "const":
            return self.constant(e)
        if op == "identity":
            return s.identity, ATOM
        if op == "zeros":
            return s.zero, ATOM
        if op == "ones":
            return s.ones, ATOM
        if op == "transpose":
            return self(e.args[0], ATOM) + s.transpose, POSTFIX
        if op == "inv":
            inner = e.args[0]
            if inner.op == "transpose" and inner not in self.names:
                return self(inner.args[0], ATOM) + s.inverse_t, POSTFIX
            return self(inner, ATOM) + s.inverse, POSTFIX
        if op == "matpow":
            return self.matrix_power(e.args[0], e.params[0]), POSTFIX
        if op == "matmul":
            return self.product(list(e.args)), PROD
        if op == "add":
            return self.sum(e.args), SUM
        if op == "scale":
            return self.scaled(e.params[0], e.args[0])
        if op == "smul" and e.args[1].op == "identity" and e.shape == (1, 1):
            return self.render(e.args[0])
        if op == "smul":
            return s.scalar_times(self(e.args[0], POSTFIX), self(e.args[1], PROD)), PROD
        if op == "kron":
            return s.kron.join(self(a, PROD) for a in e.args), KRON
        if op == "hadamard":
            a, b = e.args
            if b.op == "power" and b.params[0] == -1.0:
                return self(a, PROD) + s.divide + self(b.args[0], PROD), KRON
            return self(a, PROD) + s.hadamard + self(b, PROD), KRON
        if op == "power":
            return self.power(e)
        if op in ("trace", "sum") and e.args[0].shape == (1, 1):
            return self.render(e.args[0])  # the 1×1 matrix read as a scalar
        if op in ("trace", "det", "logdet", "sum", "diag", "diagpart") + E.ELEMENTWISE_FUNCS:
            fname = {"trace": "tr", "logdet": "log det", "diagpart": "diag"}.get(op, op)
            return s.func(fname, self(e.args[0])), ATOM
        if op == "norm":
            return s.norm(self(e.args[0])), ATOM
        if op == "expm":
            return s.func("expm", self(e.args[0])), ATOM
        if op == "expm_frechet":
            return s.func("L_expm", self(e.args[0]), self(e.args[1])), ATOM
        if op == "kron_contract":
            # the matrix K with ⟨K, H⟩ = ⟨G, H ⊗ B⟩ (side a) or ⟨G, A ⊗ H⟩ (side b)
            big, other = self(e.args[0]), self(e.args[1], PROD)
            slot = f"·{s.kron}{other}" if e.params[0] == "a" else f"{other}{s.kron}·"
            return f"⟨{big}, {slot}⟩", ATOM
        raise NotImplementedError(f"cannot print {op!r}")

    def constant(self, e: E.Expr) -> tuple[str, int]:
        value = e.params[0]
        if value.name is not None:
            return self.s.name(value.name), ATOM
        if value.array.size == 1:
            c = float(value.array.reshape(()))
            text = format_number(c)
            return (text, ATOM) if c >= 0 else (self.s.minus + text.lstrip("-"), UNARY)
        return self.s.name(f"C{_const_id(value)}"), ATOM

    def power(self, e: E.Expr) -> tuple[str, int]:
        base, p = e.args[0], e.params[0]
        if p == 0.5:
            return self.s.func("sqrt", self(base)), ATOM
        if base.shape == ():
            return self(base, ATOM) + self.s.sup(format_number(p)), POSTFIX
        return self.s.elem_power(self(base, ATOM), format_number(p)), POSTFIX

    def scaled(self, c: float, inner: E.Expr) -> tuple[str, int]:
        body = self(inner, PROD)
        if c == -1.0:
            return self.s.minus + body, UNARY
        num = format_number(abs(c))
        sign = self.s.minus if c < 0 else ""
        if not float(c).is_integer() and float(1.0 / c).is_integer():
            return f"{sign}{self(inner, PROD)}/{format_number(abs(1.0 / c))}", UNARY
        sep = " " if isinstance(self.s, _Latex) or body[:1].isdigit() else ""
        return f"{sign}{num}{sep}{body}", UNARY

    def sum(self, terms: tuple[E.Expr, ...]) -> str:
        factored = _factor_sum(terms, self._abbreviate)
        if factored is not None:
            return self(factored, SUM)
        positive = [t for t in terms if not (t.op == "scale" and t.params[0] < 0)]
        if positive and positive[0] is not terms[0]:  # lead with a positive term: y - XF
            terms = (positive[0],) + tuple(t for t in terms if t is not positive[0])
        out = ""
        for k, t in enumerate(terms):
            neg = t.op == "scale" and t.params[0] < 0
            body = self(E.scale(-1.0, t) if neg else t, UNARY)
            if k == 0:
                out = (self.s.minus if neg else "") + body
            else:
                out += (f" {self.s.minus} " if neg else " + ") + body
        return out

    def matrix_power(self, base: E.Expr, k: int) -> str:
        """Bᵏ, with X⁻ᵏ for B = X⁻¹ and (Xᵏ)ᵀ, (X⁻ᵏ)ᵀ for transposed leaves."""
        s, names = self.s, self.names
        if base not in names:
            if base.op == "inv" and base.args[0] not in names:
                inner = base.args[0]
                if inner.op == "transpose" and inner not in names:
                    return s.paren(self(inner.args[0], ATOM) + s.sup(f"-{k}")) + s.transpose
                return self(inner, ATOM) + s.sup(f"-{k}")
            if base.op == "transpose":
                return s.paren(self(base.args[0], ATOM) + s.sup(str(k))) + s.transpose
        return self(base, ATOM) + s.sup(str(k))

    def product(self, factors: list[E.Expr]) -> str:
        factors = self._abbreviate(factors)
        parts = [self(f, POSTFIX) for f in factors]
        spaced = any(len(_leaf_name(f, self.names)) > 1 for f in factors)
        return self.s.join(parts, spaced)

    def _abbreviate(self, factors: list[E.Expr]) -> list[E.Expr]:
        """Replace a run of factors that makes up a named product by that product."""
        for named in self.names:
            if named.op != "matmul" or len(named.args) >= len(factors):
                continue
            k = len(named.args)
            for i in range(len(factors) - k + 1):
                if all(a is b for a, b in zip(factors[i:i + k], named.args)):
                    return self._abbreviate(factors[:i] + [named] + factors[i + k:])
        return factors


def _chain(t: E.Expr) -> tuple[float, list[E.Expr]]:
    """A term as (coefficient, factors of its matrix product)."""
    c = 1.0
    if t.op == "scale":
        c, t = t.params[0], t.args[0]
    return c, list(t.args) if t.op == "matmul" else [t]


def _factor_sum(terms: tuple[E.Expr, ...],
                abbreviate: Any = lambda factors: factors) -> E.Expr | None:
    """AX + BX as (A + B)X, or XA + XB as X(A + B), when every term shares the factor.

    ``abbreviate`` rewrites a list of factors with named products first, so
    that yᵀW - yᵀV⁻¹ (W a named product) factors as yᵀ(W - V⁻¹).
    """
    chains = [(c, abbreviate(f)) for c, f in (_chain(t) for t in terms)]
    if len(chains) < 2 or any(len(f) < 2 for _, f in chains):
        return None
    for side in (-1, 0):
        common = chains[0][1][side]
        if all(f[side] is common for _, f in chains):
            rest = [E.scale(c, E.matmul(*(f[:-1] if side == -1 else f[1:]))) for c, f in chains]
            inner = E.add(*rest)
            if inner.op != "add" and inner.op != "scale":
                return None  # the rest merged: nothing to show
            return E.matmul(inner, common) if side == -1 else E.matmul(common, inner)
    return None


def _leaf_name(f: E.Expr, names: Mapping[E.Expr, str]) -> str:
    """The name a factor prints with (for deciding whether a product needs spaces)."""
    if f in names:
        return names[f].rstrip("ᵀ")
    while f.op in ("transpose", "inv") and f not in names:
        f = f.args[0]
    if f in names:
        return names[f].rstrip("ᵀ")
    if f.op in ("symbol", "named"):
        return f.params[0]
    if f.op == "const" and f.params[0].name:
        return f.params[0].name
    return ""


_CONST_IDS: dict[int, int] = {}


def _const_id(value: Any) -> int:
    return _CONST_IDS.setdefault(hash(value), len(_CONST_IDS) + 1)


def to_unicode(e: E.Expr, names: Mapping[E.Expr, str] | None = None) -> str:
    """Unicode closed form, e.g. ``(XᵀV⁻¹X)⁻¹``."""
    return _Printer(_UNICODE, names)(e)


def to_latex(e: E.Expr, names: Mapping[E.Expr, str] | None = None) -> str:
    """LaTeX source, e.g. ``\\left(X^{\\top} V^{-1} X\\right)^{-1}``."""
    return _Printer(_LATEX, names)(e)


# ------------------------------------------------------- python syntax
def to_python(e: E.Expr) -> str:
    """The expression in the library's own syntax, e.g. ``inv(X.T @ inv(V) @ X)``."""
    memo: dict[E.Expr, tuple[str, int]] = {}
    for node in e.walk():  # children first
        memo[node] = _py(node, memo)
    return memo[e][0]


def _exact(c: float) -> str:
    """A number as Python reads it back exactly."""
    c = float(c)
    return str(int(c)) if c.is_integer() and abs(c) < 1e15 else repr(c)


def _py(e: E.Expr, memo: Mapping[E.Expr, tuple[str, int]]) -> tuple[str, int]:
    """(text, precedence) of ``e`` from those of its arguments in ``memo``."""
    op = e.op

    def sub(x: E.Expr, level: int) -> str:
        text, prec = memo[x]
        return f"({text})" if prec < level else text

    if op in ("symbol", "named"):
        return e.params[0], ATOM
    if op == "const":
        v = e.params[0]
        if v.name:
            return v.name, ATOM
        if v.array.size == 1:
            return _exact(float(v.array.reshape(()))), ATOM
        return f"C{_const_id(v)}", ATOM
    if op == "identity":
        return f"eye({e.shape[0]})", ATOM
    if op in ("zeros", "ones"):
        return f"{op}({', '.join(map(str, e.shape))})" if e.shape else ("0" if op == "zeros" else "1"), ATOM
    if op == "transpose":
        return sub(e.args[0], ATOM) + ".T", POSTFIX
    if op == "matmul":
        return " @ ".join(sub(a, POSTFIX) for a in e.args), PROD
    if op == "add":
        return " + ".join(sub(a, PROD) for a in e.args), SUM
    if op == "scale":
        c = e.params[0]
        if c == -1.0:
            return "-" + sub(e.args[0], PROD), UNARY
        return f"{_exact(c)} * {sub(e.args[0], POSTFIX)}", PROD
    if op in ("smul", "hadamard"):
        return f"{sub(e.args[0], POSTFIX)} * {sub(e.args[1], POSTFIX)}", PROD
    if op == "power":
        return f"{sub(e.args[0], ATOM)} ** {_exact(e.params[0])}", POSTFIX
    if op == "matpow":
        return f"matrix_power({memo[e.args[0]][0]}, {e.params[0]})", ATOM
    fname = {"diagpart": "diag"}.get(op, op)
    return f"{fname}({', '.join(memo[a][0] for a in e.args)})", ATOM


# ---------------------------------------------------------------- maps
def _split_scalar(f: Any) -> tuple[list[Any], Any]:
    """Leading scalar factors (numbers or scalar expressions) of an expression factor."""
    coefs: list[Any] = []
    while isinstance(f, E.Expr) and f.op in ("scale", "smul"):
        if f.op == "scale":
            coefs.append(f.params[0])
            f = f.args[0]
        else:
            coefs.append(f.args[0])
            f = f.args[1]
    return coefs, f


class _MapPrinter:
    def __init__(self, style: _Style, names: Mapping[E.Expr, str] | None) -> None:
        self.s = style
        self.p = _Printer(style, names)

    def factor(self, f: Any, level: int) -> str:
        if f is None:
            return self.s.identity
        if isinstance(f, np.ndarray):
            return f"[{'×'.join(map(str, f.shape))} array]"
        return self.p(f, level)

    def transposed(self, f: Any) -> str:
        """Bᵀ: the canonical transpose for a single factor, (B)ᵀ for a product."""
        if f is None:
            return self.s.identity
        if isinstance(f, E.Expr) and f.op not in ("matmul", "add", "smul", "scale", "kron",
                                                  "hadamard"):
            return self.p(E.transpose(f), POSTFIX)
        return self.factor(f, ATOM) + self.s.transpose

    def coefficient(self, coefs: list[Any]) -> tuple[str, bool]:
        """(text, negative) for a product of scalar coefficients."""
        number, scalar = 1.0, None
        for c in coefs:
            if isinstance(c, E.Expr):
                scalar = c if scalar is None else E.smul(scalar, c)  # ‖X‖⁻² ‖X‖⁻¹ = ‖X‖⁻³
            else:
                number *= float(np.reshape(c, ()))
        while scalar is not None and scalar.op == "scale":
            number, scalar = number * scalar.params[0], scalar.args[0]
        magnitude = abs(number)
        if magnitude == 1.0:
            text = ""
        elif not magnitude.is_integer() and (1.0 / magnitude).is_integer():
            text = f"1/{format_number(1.0 / magnitude)}"  # as expressions print X/2
        else:
            text = format_number(magnitude)
        if scalar is not None:
            text = (text + " " if text else "") + self.p(scalar, POSTFIX)
        return text, number < 0

    def render(self, m: LinearMap) -> tuple[str, bool, bool]:
        """(text, negative, is_sum) with the sign pulled out."""
        for kind, method in _MAP_RENDERERS:
            if isinstance(m, kind):
                return method(self, m)
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
        for t in m.maps:
            text, n2, is_sum = self.render(t)
            neg ^= n2
            parts.append(self.s.paren(text) if is_sum or " " in text else text)
        return " · ".join(parts), neg, False

    def _kron(self, m: KronMap | KronTMap) -> tuple[str, bool, bool]:
        """A H B as Bᵀ ⊗ A; A Hᵀ B as (Bᵀ ⊗ A)K."""
        ca, A = _split_scalar(m.A)
        cb, B = _split_scalar(m.B)
        ctext, neg = self.coefficient(ca + cb)
        if A is None and B is None:
            if E.is_scalar(m.in_shape):
                return ctext or "1", neg, False  # the identity on scalars
            body = self.s.identity if isinstance(m, KronMap) else "K"
        else:
            body = self.transposed(B) + self.s.kron + self.factor(A, POSTFIX)
            if isinstance(m, KronTMap):
                body = self.s.paren(body) + "K"
        return self._with_coefficient(ctext, body), neg, False

    def _trace(self, m: TraceMap) -> tuple[str, bool, bool]:
        """tr(C H) M as vec(M) vec(Cᵀ)ᵀ; a scalar C or M becomes a coefficient."""
        s = self.s
        cm, M = _split_scalar(m.M)
        cc, C = _split_scalar(m.C)
        scalar_in = E.is_scalar(m.in_shape)
        if scalar_in and (C is None or isinstance(C, E.Expr) and E.is_scalar(C)):
            cc, C = cc + ([] if C is None or _is_one(C) else [C]), None  # tr(C h) = C·h
        if isinstance(M, E.Expr) and E.is_scalar(M) and not _is_one(M):
            cm, M = cm + [M], None
        ctext, neg = self.coefficient(cm + cc)
        row = "" if C is None and scalar_in else \
            s.func("vec", self.factor(E.transpose(C) if isinstance(C, E.Expr) else C, SUM)) + s.transpose
        column = "" if M is None or isinstance(M, E.Expr) and _is_one(M) or \
            isinstance(M, np.ndarray) and M.size == 1 else s.func("vec", self.factor(M, SUM))
        body = " ".join(part for part in (ctext, column, row) if part)
        return body or "1", neg, False

    def _elementwise(self, m: ElementwiseMap) -> tuple[str, bool, bool]:
        """D ⊙ H as diag(vec D); plain multiplication on scalars."""
        cd, D = _split_scalar(m.D)
        if E.is_scalar(m.in_shape) and isinstance(D, E.Expr):
            ctext, neg = self.coefficient(cd + [D])
            return ctext or "1", neg, False
        ctext, neg = self.coefficient(cd)
        return self._with_coefficient(ctext, self.s.func("diag", self.s.func("vec", self.factor(D, SUM)))), \
            neg, False

    def _action(self, m: LinearMap) -> tuple[str, bool, bool]:
        return self.action(m), False, False

    def action(self, m: LinearMap) -> str:
        """A map with no Kronecker form, written by its action: ``H ↦ H ⊗ A``."""
        h = E.Matrix("H", m.in_shape) if m.in_shape else E.Scalar("H")
        if m.symbolic or not m.factors():
            return f"H ↦ {self.p(m._apply(h))}"
        return f"H ↦ {type(m).__name__}(H)"


_MAP_RENDERERS: list[tuple[type | tuple[type, ...], Any]] = [
    (ZeroMap, _MapPrinter._zero),
    (SumMap, _MapPrinter._sum),
    (ScaledMap, _MapPrinter._scaled),
    (ComposeMap, _MapPrinter._compose),
    ((KronMap, KronTMap), _MapPrinter._kron),
    (TraceMap, _MapPrinter._trace),
    (ElementwiseMap, _MapPrinter._elementwise),
    ((DiagEmbedMap, DiagExtractMap, ExpmFrechetMap, KronFactorMap), _MapPrinter._action),
]


def _is_one(e: E.Expr) -> bool:
    return e.op == "identity" or (e.op == "const" and e.params[0].array.size == 1
                                  and float(e.params[0].array.reshape(())) == 1.0)


def _map_text(style: _Style, m: LinearMap, names: Mapping[E.Expr, str] | None) -> str:
    text, neg, _ = _MapPrinter(style, names).render(m)
    return (style.minus if neg else "") + text


def map_to_unicode(m: LinearMap, names: Mapping[E.Expr, str] | None = None) -> str:
    """The map in the vec convention, e.g. ``(V⁻¹XF)ᵀ ⊗ FXᵀV⁻¹``."""
    return _map_text(_UNICODE, m, names)


def map_to_latex(m: LinearMap, names: Mapping[E.Expr, str] | None = None) -> str:
    """LaTeX of the map in the vec convention."""
    return _map_text(_LATEX, m, names)


def differential(J: Any) -> str:
    """``dF = ...`` for a Jacobian; ``V̄ = ...`` in terms of F̄ for its adjoint."""
    wrt = J.wrt
    plain = E.strip_names(J.expr)
    fname = J.names.get(plain) or _lhs_name(J.expr)
    if J.adjoint:
        bar = "\u0304"
        cotangent = _symbol((fname if fname.isidentifier() else ("f" if J.out_shape == () else "F")) + bar,
                            J.in_shape)
        out = J.apply(cotangent)
        note = "" if fname.isidentifier() else f"  ({cotangent.params[0]}: the cotangent of {fname})"
        return f"{wrt.params[0]}{bar} = {to_unicode(out, J.names)}{note}"
    out = J.apply(_symbol("d" + wrt.params[0], wrt.shape))
    return f"d{fname} = {to_unicode(out, J.names)}"


def _symbol(name: str, shape: tuple) -> E.Expr:
    return E.Matrix(name, shape) if shape != () else E.Scalar(name)


def _lhs_name(e: E.Expr) -> str:
    if e.op in ("symbol", "named"):
        return e.params[0]
    text = to_unicode(e)
    return text if len(text) <= 1 else f"({text})"



# ------------------------------------------------------- abbreviations
_LETTERS = "WPQRSTUYZNMLGHBCDEJ"


def abbreviate(roots: list[E.Expr], names: Mapping[E.Expr, str] | None = None,
               min_length: int = 6, most: int = 8) -> dict[E.Expr, str]:
    """Names for subexpressions that recur in ``roots`` (common subexpressions).

    Greedily names the subexpression whose repetition costs the most printed
    characters, counting an occurrence also where it is a run of factors
    inside a longer product (V⁻¹X(XᵀV⁻¹X)⁻¹XᵀV⁻¹ inside yᵀV⁻¹X(XᵀV⁻¹X)⁻¹XᵀV⁻¹)
    and where its transpose occurs, until nothing of ``min_length`` characters
    or more occurs twice, or ``most`` names were made.  Returns the given names
    plus the new ones.
    """
    chosen = dict(names or {})
    taken = {s for r in roots for s in r.symbols()} | set(chosen.values()) | {"I", "K"}
    letters = (c for c in _LETTERS if c not in taken)
    for _ in range(most):
        counts = _occurrences(roots, chosen)
        printer = _Printer(_UNICODE, chosen)
        best, gain = None, 0
        for node, count in counts.items():
            if count < 2 or node in chosen or not node.args or node.op in ("transpose", "named"):
                continue
            length = len(printer(node))
            if length >= min_length and (count - 1) * length > gain:
                best, gain = node, (count - 1) * length
        letter = next(letters, None) if best is not None else None
        if letter is None:
            break
        chosen[best] = letter
        if E.transpose(best) is not best:
            chosen[E.transpose(best)] = letter + "ᵀ"
    return chosen


def _occurrences(roots: list[E.Expr], names: Mapping[E.Expr, str]) -> dict[E.Expr, int]:
    """How often each subexpression is printed (runs in products and transposes count).

    Counted over the DAG from parents to children (linear time, however much
    the expression shares), stopping at named subexpressions.
    """
    order: list[E.Expr] = []
    seen: set[E.Expr] = set()
    for r in roots:
        for node in r.walk():
            if node not in seen:
                seen.add(node)
                order.append(node)
    times: dict[E.Expr, int] = {}
    for r in roots:
        times[r] = times.get(r, 0) + 1
    products = [n for n in order if n.op == "matmul"]
    counts: dict[E.Expr, int] = {}
    for node in reversed(order):  # parents before children
        c = times.get(node, 0)
        if not c:
            continue
        key = node.args[0] if node.op == "transpose" and node.args[0].args else node
        counts[key] = counts.get(key, 0) + c
        if node in names:
            continue
        if node.op == "matmul":
            for p in products:
                k = len(p.args)
                if p is not node and k < len(node.args):
                    runs = sum(all(a is b for a, b in zip(node.args[i:i + k], p.args))
                               for i in range(len(node.args) - k + 1))
                    counts[p] = counts.get(p, 0) + c * runs
        for a in node.args:
            times[a] = times.get(a, 0) + c
    return counts


def with_definitions(text: str, names: Mapping[E.Expr, str], given: Mapping[E.Expr, str]) -> str:
    """``text`` followed by ``where W = …`` for the names not given by the user."""
    new = [(node, name) for node, name in names.items()
           if node not in given and not name.endswith("ᵀ")]
    if not new:
        return text
    defs = [f"{name} = {to_unicode(node, {k: v for k, v in names.items() if k is not node})}"
            for node, name in new]
    return f"{text},  where " + ", ".join(defs)


def pretty(obj: Any) -> str:
    """A closed form with recurring subexpressions named: ``… W …,  where W = …``.

    Works for an expression (e.g. a gradient) or a Jacobian; names given with
    ``.named`` are kept, and only subexpressions of 6 or more printed
    characters that occur at least twice are named.  Printing only: the
    expression itself is unchanged.

    Examples
    --------
    >>> import kronvec as kv
    >>> X, V = kv.Matrix("X", (5, 3)), kv.Matrix("V", (5, 5))
    >>> print(kv.pretty(kv.jacobian(kv.inv(X.T @ kv.inv(V) @ X), V)))
    (V⁻¹XW)ᵀ ⊗ (WXᵀV⁻¹),  where W = (XᵀV⁻¹X)⁻¹
    """
    from_jacobian = hasattr(obj, "map") and hasattr(obj, "names")
    given = dict(obj.names) if from_jacobian else E.display_names(obj)
    if from_jacobian:
        roots = expression_factors(obj.map)
        names = abbreviate(roots, given)
        return with_definitions(map_to_unicode(obj.map, names), names, given)
    plain = E.strip_names(obj)
    names = abbreviate([plain], given)
    return with_definitions(to_unicode(plain, names), names, given)

