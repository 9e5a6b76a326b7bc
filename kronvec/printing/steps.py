"""Step-by-step derivations in the style of a hand derivation.

Every intermediate result that depends on the variable gets a letter, then its
differential is written from the differentials of its arguments, and finally
everything is substituted back::

    P = V⁻¹
    M = XᵀPX
    F = M⁻¹
    dP = -P dV P
    dM = Xᵀ dP X
    dF = -F dM F
    dF = F Xᵀ V⁻¹ dV V⁻¹ X F
    vec dF = ((V⁻¹XF)ᵀ ⊗ (FXᵀV⁻¹)) vec dV

For a scalar f the last lines are df = tr(Gᵀ dX) and G.
"""
from __future__ import annotations

from typing import Any, Mapping

from .. import expr as E
from ..derivative import partial
from ..ops.arithmetic import add
from ..ops.leaves import Matrix, Scalar, symbol
from ..registry import spec
from .expressions import to_latex, to_unicode
from .maps import map_to_latex, map_to_unicode

__all__ = ["derivation"]

_LETTERS = "PMNQRSTUWYZABCDEGHKL"


def derivation(J: Any, gradient: E.Expr | None = None,
               names: Mapping[E.Expr, str] | None = None, latex: bool = False) -> str:
    """The derivation of a Jacobian's differential, one step a line.

    Parameters
    ----------
    J : Jacobian
        The symbolic derivative of ``J.expr`` in ``J.wrt`` (its ``names``, from
        ``.named``, are used for parts of the expression).
    gradient : Expr, optional
        For a scalar ``J.expr``, its gradient G: the last line is df = tr(Gᵀ dX).
    names : mapping, optional
        Extra display names for subexpressions.
    latex : bool
        Give LaTeX: one ``aligned`` block with a line per step.
    """
    w = _Writer(latex)
    wrt = J.wrt
    plain = E.strip_names(E.as_expr(J.expr))
    given = {**J.names, **(names or {})}
    steps = _intermediates(plain, wrt, given)
    final = given.get(plain, "f" if E.is_scalar(plain) else "F")
    steps[plain] = final
    shown_names = {**given, **_with_transposes(steps)}
    if latex:  # tangents print as \mathrm{d}V rather than as a symbol named dV
        tangents = {_tangent(wrt): wrt.params.name, **{_tangent(n, L): L for n, L in steps.items()}}
        shown_names.update(_with_transposes({t: f"\\mathrm{{d}}{L}" for t, L in tangents.items()}))
    lines = [w.line(letter, w.show(node, {k: v for k, v in shown_names.items() if k is not node}))
             for node, letter in steps.items()]
    dname = _differentials(w, plain, wrt, steps, shown_names, lines)
    lines += _conclusion(w, J, gradient, plain, final, dname[wrt], len(steps) > 1)
    if latex:
        return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"
    return "\n".join(lines)


class _Writer:
    """How the lines of a derivation are written, in Unicode or in LaTeX."""

    def __init__(self, latex: bool) -> None:
        self.latex = latex
        self.show, self.show_map = (to_latex, map_to_latex) if latex else (to_unicode, map_to_unicode)
        self.d = "\\mathrm{d}" if latex else "d"

    def line(self, lhs: str, rhs: str) -> str:
        return f"{lhs} &= {rhs}" if self.latex else f"{lhs} = {rhs}"


def _differentials(w: _Writer, plain: E.Expr, wrt: E.Expr, steps: dict[E.Expr, str],
                   shown_names: Mapping[E.Expr, str], lines: list[str]) -> dict[E.Expr, E.Expr]:
    """The differential of every node of ``plain`` that depends on ``wrt``, by node; for the
    lettered intermediates (``steps``) it appends ``using <identity>`` and ``dL = ...`` to ``lines``."""
    dname: dict[E.Expr, E.Expr] = {wrt: _tangent(wrt)}
    transposed = {node.T: node for node in steps}
    for node in plain.walk():
        if node is wrt or not any(a in dname for a in node.args):
            continue
        if node not in steps and node in transposed:  # rᵀ of an intermediate r: d(rᵀ) = (dr)ᵀ
            rep = transposed[node]
            dname[node] = _tangent(rep, steps[rep]).T
            continue
        terms = [partial(node, i)._apply(dname[a]) for i, a in enumerate(node.args) if a in dname]
        total = add(*terms)
        if node in steps:
            letter = steps[node]
            identity = spec(node.op).identity
            if identity:
                arg = _arg_name(node.args[0], steps, w.show)
                text = identity[1 if w.latex else 0].format(out=letter, arg=arg)
                lines.append(f"&\\text{{using }} {text}" if w.latex else f"using {text}")
            lines.append(w.line(f"{w.d}{letter}", w.show(total, shown_names)))
            dname[node] = _tangent(node, letter)
        else:
            dname[node] = total
    return dname


def _conclusion(w: _Writer, J: Any, gradient: E.Expr | None, plain: E.Expr, final: str,
                tangent: E.Expr, several: bool) -> list[str]:
    """The last lines: dF substituted back (for several steps), then df = tr(Gᵀ dX) with G for
    a gradient, or vec dF = (J) vec dX."""
    wrt, lines = J.wrt, []
    final_names = {**J.names, plain: final}
    if w.latex:
        final_names.update(_with_transposes({_tangent(wrt): f"\\mathrm{{d}}{wrt.params.name}"}))
    if plain.T is not plain:
        final_names.setdefault(plain.T, final + "ᵀ")
    if several:
        lines.append(w.line(f"{w.d}{final}", w.show(J.apply(tangent), final_names)))
    if gradient is not None:
        g, x = w.show(gradient, final_names), wrt.params.name
        if w.latex:
            trace = f"\\operatorname{{tr}}(G^{{\\top}} \\mathrm{{d}}{x})"
            lines.append(w.line(f"{w.d}{final}", f"{trace}, \\quad G = {g}"))
        else:
            lines.append(f"d{final} = tr(Gᵀ d{x}) with G = {g}")
    else:
        vec = "\\operatorname{vec}" if w.latex else "vec"
        closed_form = w.show_map(J.map, final_names)
        lines.append(w.line(f"{vec} {w.d}{final}", f"({closed_form}) {vec} {w.d}{wrt.params.name}"))
    return lines


def _arg_name(arg: E.Expr, steps: Mapping[E.Expr, str], show: Any) -> str:
    """How an identity names an op's argument: its letter, its symbol, or the expression."""
    if arg in steps:
        return steps[arg]
    if arg.op in ("symbol", "named"):
        result: str = arg.params.name
        return result
    return f"({show(arg)})"


def _tangent(node: E.Expr, name: str | None = None) -> E.Expr:
    """The symbol d<name> standing for the differential of ``node``."""
    name = "d" + (name or node.params.name)
    if node.shape == ():
        return Scalar(name)
    symmetric = node.op == "symbol" and bool(node.params.symmetric) and node.shape[-1] > 1
    if node.ndim != 2:  # a stack, or per-member scalars of one
        return symbol(name, node.shape, symmetric, False)
    return Matrix(name, node.shape, symmetric=symmetric)


def _intermediates(f: E.Expr, wrt: E.Expr, given: Mapping[E.Expr, str]) -> dict[E.Expr, str]:
    """Letters for the non-leaf nodes between ``wrt`` and ``f`` (children first)."""
    taken = set(f.symbols()) | set(given.values()) | {"F", "f", "I", "K"}
    letters = (c for c in _LETTERS if c not in taken)
    depends = {wrt}
    candidates: list[E.Expr] = []
    for node in f.walk():
        if node.args and any(a in depends for a in node.args):
            depends.add(node)
            if node is not f and node.op not in ("matrix_transpose", "scale") \
                    and not _prints_as_its_argument(node):
                candidates.append(node)
    # Of r and rᵀ (both in the expression), name the one with fewer transposes; on a
    # tie, the one that the intermediates above it use (parents are decided first).
    chosen: list[E.Expr] = []
    for node in reversed(candidates):
        flipped = node.T
        if node in chosen or flipped in chosen:
            continue
        rep = node
        if flipped in depends:
            tn, tf = _transposes(node), _transposes(flipped)
            if tf < tn or tf == tn and _used_by(flipped, chosen) and not _used_by(node, chosen):
                rep = flipped
        chosen.append(rep)
    position = {n: i for i, n in enumerate(candidates)}
    chosen.sort(key=lambda n: position.get(n, position.get(n.T, 0)))
    return {rep: given.get(rep) or next(letters, None) or f"T{i + 1}" for i, rep in enumerate(chosen)}


def _used_by(node: E.Expr, parents: list[E.Expr]) -> bool:
    """Whether ``node`` is an argument of one of ``parents`` (or of a scaling in one)."""
    return any(node is a or a.op == "scale" and node is a.args[0] for p in parents for a in p.args)


def _prints_as_its_argument(node: E.Expr) -> bool:
    """A scalar read as a 1×1 matrix (s·I₁) prints as s: naming it would give "S = R"."""
    return node.op == "smul" and node.args[1].op == "eye" and node.shape == (1, 1)


def _transposes(e: E.Expr) -> int:
    return sum(n.op == "matrix_transpose" for n in e.walk())


def _with_transposes(names: Mapping[E.Expr, str]) -> dict[E.Expr, str]:
    """Display names, with Lᵀ for the transpose of each named L."""
    out = dict(names)
    for node, name in names.items():
        out.setdefault(node.T, name + "ᵀ")
    return out
