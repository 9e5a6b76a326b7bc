"""Expressions as text: Unicode, LaTeX, and the library's own Python syntax.

Printing reads expressions and never computes.  Each node prints by its op's
``printing`` entry in the registry; this module is the engine those entries
call: precedence and parentheses, names given with ``.named``, and the
notation of products and sums.  Products print as juxtaposition (``FXᵀV⁻¹``;
with spaces when a name is longer than one letter), sums lead with a positive
term and pull out common factors ((A + Aᵀ)X), and scaled terms print as
``2X``, ``-X`` or ``X/2``.
"""
from __future__ import annotations

from contextlib import nullcontext
from typing import Any, ContextManager, Mapping

from .. import registry
from ..dims import LETTERING, has_free
from ..expr import Expr, NO_PARAMS, const_scalar
from ..ops.arithmetic import add, scale
from ..ops.leaves import Constant
from ..ops.products import matmul
from ..registry import Prec, spec
from .styles import LATEX, UNICODE, Style, free_letters

__all__ = ["Printer", "to_unicode", "to_latex", "to_python", "format_number", "leaf_name"]


def format_number(c: float) -> str:
    """A short decimal form (integers without a point)."""
    c = float(c)
    if c.is_integer() and abs(c) < 1e15:
        return str(int(c))
    return f"{c:.6g}"


class Printer:
    """Unicode or LaTeX text of expressions, memoised per node (children first)."""

    def __init__(self, style: Style, names: Mapping[Expr, str] | None = None) -> None:
        self.s = style
        self.names = names or {}
        self.used: set[Expr] = set()  # the named subexpressions that were printed by name
        self._constants: dict[Any, str] = {}
        self._memo: dict[Expr, tuple[str, int]] = {}

    def constant_label(self, value: Any) -> str:
        """``C1``, ``C2``, ...: unnamed constant matrices, numbered as they appear in the text."""
        return self._constants.setdefault(value, f"C{len(self._constants) + 1}")

    def __call__(self, e: Expr, level: int = Prec.SUM) -> str:
        memo = self._memo
        if e not in memo:
            for node in e.walk():  # children first: deep expressions do not recurse
                if node not in memo:
                    memo[node] = self.render(node)
        text, prec = memo[e]
        return self.s.paren(text) if prec < level else text

    def render(self, e: Expr) -> tuple[str, int]:
        """(text, precedence) of ``e``: its display name, or its op's printing."""
        if e in self.names:
            self.used.add(e)
            return self.s.name(self.names[e]), Prec.ATOM
        if e.op in ("matmul", "trace"):
            e = _determinant_in_front(e)
        printing = _printing(e)
        return (printing.latex if self.s.latex else printing.unicode)(self, e)

    # ------------------------------------------------ notation for op sections
    format_number = staticmethod(format_number)

    def number(self, c: float) -> tuple[str, int]:
        text = format_number(c)
        return (text, Prec.ATOM) if c >= 0 else (self.s.minus + text.lstrip("-"), Prec.UNARY)

    def scaled(self, c: float, inner: Expr) -> tuple[str, int]:
        """c·A as ``2A``, ``-A``, ``A/2``."""
        body = self(inner, Prec.PROD)
        if c == -1.0:
            return self.s.minus + body, Prec.UNARY
        num = format_number(abs(c))
        sign = self.s.minus if c < 0 else ""
        if not float(c).is_integer() and float(1.0 / c).is_integer():
            k = format_number(abs(1.0 / c))
            if self.s.latex:
                return f"{sign}\\frac{{{self(inner)}}}{{{k}}}", Prec.UNARY
            return f"{sign}{body}/{k}", Prec.UNARY
        sep = " " if self.s.latex or body[:1].isdigit() else ""
        return f"{sign}{num}{sep}{body}", Prec.UNARY

    def sum(self, terms: tuple[Expr, ...]) -> str:
        """A sum with common factors pulled out and a positive term first: y - XF."""
        factored = factor_sum(terms, self._abbreviate)
        if factored is not None:
            return self(factored, Prec.SUM)
        signed = [_signed(t) for t in terms]
        positive = [st for st in signed if not st[0]]
        if positive and positive[0] is not signed[0]:  # lead with a positive term: y - XF
            signed = [positive[0]] + [st for st in signed if st is not positive[0]]
        out = ""
        for k, (neg, t) in enumerate(signed):
            body = self(t, Prec.UNARY)
            if k == 0:
                out = (self.s.minus if neg else "") + body
            else:
                out += (f" {self.s.minus} " if neg else " + ") + body
        return out

    def product(self, factors: list[Expr]) -> str:
        """Juxtaposed factors, spaced when a name is longer than one letter."""
        factors = self._abbreviate(factors)
        parts = [self(f, Prec.POSTFIX) for f in factors]
        spaced = any(len(leaf_name(f, self.names)) > 1 for f in factors)
        return self.s.join(parts, spaced)

    def _abbreviate(self, factors: list[Expr]) -> list[Expr]:
        """Replace a run of factors that makes up a named product by that product."""
        for named in self.names:
            if named.op != "matmul" or len(named.args) >= len(factors):
                continue
            k = len(named.args)
            for i in range(len(factors) - k + 1):
                if all(a is b for a, b in zip(factors[i:i + k], named.args)):
                    return self._abbreviate(factors[:i] + [named] + factors[i + k:])
        return factors


def _signed(t: Expr) -> tuple[bool, Expr]:
    """(negative, |t|) for a term of a sum: -A, a negative number, or one of these as a 1×1 matrix."""
    if t.op == "scale" and t.params.coef < 0:
        return True, scale(-1.0, t)
    value = const_scalar(t)
    if value is not None and value < 0:
        return True, Constant(-value)
    if t.op == "smul" and t.args[1].op == "eye" and t.shape == (1, 1):  # s·I₁ prints as s
        return _signed(t.args[0])
    return False, t


def _chain(t: Expr) -> tuple[float, list[Expr]]:
    """A term as (coefficient, factors of its matrix product)."""
    c = 1.0
    if t.op == "scale":
        c, t = t.params.coef, t.args[0]
    return c, list(t.args) if t.op == "matmul" else [t]


def factor_sum(terms: tuple[Expr, ...], abbreviate: Any = lambda factors: factors) -> Expr | None:
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
            rest = [scale(c, matmul(*(f[:-1] if side == -1 else f[1:]))) for c, f in chains]
            inner = add(*rest)
            if inner.op != "add" and inner.op != "scale":
                return None  # the rest merged: nothing to show
            return matmul(inner, common) if side == -1 else matmul(common, inner)
    return None


def leaf_name(f: Expr, names: Mapping[Expr, str]) -> str:
    """The name a factor prints with (for deciding whether a product needs spaces)."""
    if f in names:
        return names[f].rstrip("ᵀ")
    while f.op in ("matrix_transpose", "inv") and f not in names:
        f = f.args[0]
    if f in names:
        return names[f].rstrip("ᵀ")
    if f.op in ("symbol", "named"):
        result: str = f.params.name
        return result
    if f.op == "const" and f.params.value.name:
        result = f.params.value.name
        return result
    if spec(f.op).family in SPACED_FAMILIES:
        return f.op  # function-like factors (Φ(X), chol(A)) are set apart: L Φ(L⁻¹ dA L⁻ᵀ)
    return ""


def _printing(e: Expr) -> registry.Printing:
    """How the node ``e`` prints (every node op declares it)."""
    printing = spec(e.op).printing
    if printing is None:
        raise TypeError(f"operation {e.op!r} has no printing")
    return printing


SPACED_FAMILIES = frozenset({"triangular", "spectral", "spectral_functions", "svd_norms", "decompositions"})


class PythonPrinter:
    """The library's own syntax, which the parser reads back to the same node."""

    def __init__(self) -> None:
        self._memo: dict[Expr, tuple[str, int]] = {}
        self._constants: dict[Any, str] = {}

    constant_label = Printer.constant_label

    def __call__(self, e: Expr, level: int = Prec.SUM) -> str:
        memo = self._memo
        if e not in memo:
            for node in e.walk():  # children first
                if node not in memo:
                    memo[node] = self.render(node)
        text, prec = memo[e]
        return f"({text})" if prec < level else text

    def render(self, e: Expr) -> tuple[str, int]:
        """(text, precedence) of ``e`` by its op's Python printing (internal nodes that print
        as the expression they stand for render that expression)."""
        return _printing(e).python(self, e)

    def constants(self) -> dict[str, Any]:
        """The constants printed under a label (``C1``, ...), by label: what
        :func:`kronvec.parse.parse_expression` needs to read the text back."""
        return {label: value for value, label in self._constants.items()}


def to_unicode(e: Expr, names: Mapping[Expr, str] | None = None) -> str:
    """Unicode closed form, e.g. ``(XᵀV⁻¹X)⁻¹``; big repeated parts named (:func:`with_shared_names`)."""
    with _lettered(e):
        return with_shared_names(UNICODE, e, names)


def to_latex(e: Expr, names: Mapping[Expr, str] | None = None) -> str:
    """LaTeX source, e.g. ``\\left(X^{\\top} V^{-1} X\\right)^{-1}``."""
    with _lettered(e):
        return with_shared_names(LATEX, e, names)


def _lettered(e: Expr) -> ContextManager[None]:
    """Inferred sizes of ``e`` print with the letters of their order of appearance (in e's shape,
    then its symbols'), unless the printing of a larger whole already chose them."""
    if LETTERING.get() is not None or not has_free([e.shape]) and not has_free(
            s.shape for s in e.symbols().values()):
        return nullcontext()
    return free_letters([e.shape, *(s.shape for s in e.symbols().values())])


SHARED_MIN_NODES = 12
"""A subexpression the printed form would repeat is named when it prints this many nodes or more."""
EXPANDED_LIMIT = 400
"""... and only when the whole expression, written out, would print more nodes than this, so that
small expressions print as they always did."""
_SUBSCRIPTS = str.maketrans("0123456789", "₀₁₂₃₄₅₆₇₈₉")


def distinct_nodes(roots: list[Expr]) -> list[Expr]:
    """Every node below the roots once, in the order of their walks (children before parents)."""
    order: list[Expr] = []
    seen: set[Expr] = set()
    for r in roots:
        for node in r.walk():
            if node not in seen:
                seen.add(node)
                order.append(node)
    return order


def shared_names(roots: list[Expr], names: Mapping[Expr, str], latex: bool = False) -> dict[Expr, str]:
    """Names P₁, P₂, … for the big subexpressions that printing ``roots`` would repeat.

    Written out, an expression prints its shared subexpressions once per
    occurrence, so nesting (softmax of softmax of …) grows the text
    exponentially.  In one pass over the DAG, children first, a node
    referenced more than once whose printed tree (with names counted as one
    node) has ``SHARED_MIN_NODES`` nodes or more gets a name, which keeps the
    text linear in the number of distinct subexpressions.  Nothing is named
    when the whole text would have at most ``EXPANDED_LIMIT`` nodes.
    """
    order = distinct_nodes(roots)
    written: dict[Expr, int] = {}
    references: dict[Expr, int] = {r: 1 for r in roots}
    for node in order:
        written[node] = 1 if node in names else 1 + sum(written[a] for a in node.args)
        for a in node.args:
            references[a] = references.get(a, 0) + 1
    if sum(written[r] for r in roots) <= EXPANDED_LIMIT:
        return {}
    new: dict[Expr, str] = {}
    for node in order:
        if node in names or not node.args:
            continue
        written[node] = 1 + sum(written[a] for a in node.args)
        if references[node] > 1 and written[node] >= SHARED_MIN_NODES:
            k = str(len(new) + 1)
            new[node] = f"P_{{{k}}}" if latex else "P" + k.translate(_SUBSCRIPTS)
            written[node] = 1
    return new


def with_shared_names(style: Style, e: Expr, names: Mapping[Expr, str] | None = None) -> str:
    """``e`` printed, with big repeated subexpressions named: ``… P₁ …,  where P₁ = …``."""
    given = dict(names or {})
    new = shared_names([e], given, style.latex)
    if not new:
        return Printer(style, given)(e)
    printer = Printer(style, {**given, **new})
    text = printer(e)
    return text + where_clause(style, printer, new)


def where_clause(style: Style, printer: Printer, new: Mapping[Expr, str]) -> str:
    """``,  where P₁ = …, P₂ = …`` for the names in ``new`` that ``printer`` used (and those
    their definitions use), children first; empty when none was used."""
    definitions: dict[Expr, str] = {}
    for node in reversed(list(new)):  # parents first: a definition may use the names below it
        if node in printer.used:
            printing = _printing(node)
            body, _ = (printing.latex if style.latex else printing.unicode)(printer, node)
            definitions[node] = f"{style.name(new[node])} = {body}"
    if not definitions:
        return ""
    where = r", \quad \text{where } " if style.latex else ",  where "
    return where + ", ".join(definitions[n] for n in new if n in definitions)


def to_python(e: Expr) -> str:
    """The expression in the library's own syntax, e.g. ``inv(X.T @ inv(V) @ X)``."""
    return PythonPrinter()(e)


def _determinant_in_front(e: Expr) -> Expr:
    """A product (or the trace of one) with an adjugate factor adj(B) = det(B) B⁻¹ written as
    det(B) times the product with B⁻¹, as Jacobi's formula is written by hand."""
    product = e.args[0] if e.op == "trace" else e
    if product.op != "matmul":
        return e
    found = next((k for k, f in enumerate(product.args) if f.op == "adj"), None)
    if found is None:
        return e
    b = product.args[found].args[0]
    factors = product.args[:found] + (registry.function("inv")(b),) + product.args[found + 1:]
    inner = Expr.make("matmul", factors, product.params, product.shape)
    if e.op == "trace":
        inner = Expr.make("trace", (inner,), e.params, e.shape)
    flipped = registry.function("matrix_transpose")(b)  # det(Bᵀ) = det(B): the one with fewer transposes
    transposes = [sum(n.op == "matrix_transpose" for n in x.walk()) for x in (b, flipped)]
    det = registry.function("det")(flipped if transposes[1] < transposes[0] else b)
    return Expr.make("smul", (det, inner), NO_PARAMS, e.shape)
