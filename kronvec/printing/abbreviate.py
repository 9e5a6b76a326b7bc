"""Shorter closed forms: recurring subexpressions named (``… W …,  where W = …``)."""
from __future__ import annotations

from typing import Any, Mapping

from ..expr import Expr, display_names, strip_names
from ..maps import expression_factors
from .expressions import Printer, distinct_nodes
from .maps import render_map
from .styles import UNICODE

__all__ = ["abbreviate", "with_definitions", "pretty"]

_LETTERS = "WPQRSTUYZNMLGHBCDEJ"


def abbreviate(roots: list[Expr], names: Mapping[Expr, str] | None = None,
               min_length: int = 6, most: int = 8) -> dict[Expr, str]:
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
        printer = Printer(UNICODE, chosen)
        best, gain = None, 0
        for node, count in counts.items():
            if count < 2 or node in chosen or not node.args or node.op in ("matrix_transpose", "named"):
                continue
            length = len(printer(node))
            if length >= min_length and (count - 1) * length > gain:
                best, gain = node, (count - 1) * length
        if best is None:
            break
        letter = next(letters, None)
        if letter is None:
            break
        chosen[best] = letter
        if best.T is not best:
            chosen[best.T] = letter + "ᵀ"
    return chosen


def _occurrences(roots: list[Expr], names: Mapping[Expr, str]) -> dict[Expr, int]:
    """How often each subexpression is printed (runs in products and transposes count).

    Counted over the DAG from parents to children (linear time, however much
    the expression shares), stopping at named subexpressions.
    """
    order = distinct_nodes(roots)
    times: dict[Expr, int] = {}
    for r in roots:
        times[r] = times.get(r, 0) + 1
    products = [n for n in order if n.op == "matmul"]
    counts: dict[Expr, int] = {}
    for node in reversed(order):  # parents before children
        c = times.get(node, 0)
        if not c:
            continue
        key = node.args[0] if node.op == "matrix_transpose" and node.args[0].args else node
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


def with_definitions(text: str, names: Mapping[Expr, str], given: Mapping[Expr, str],
                     used: set[Expr] | None = None) -> str:
    """``text`` followed by ``where W = …`` for the names not given by the user.

    With ``used`` (the named nodes ``text`` printed by name), only the names
    the text needs are defined, and the names their definitions need.
    """
    new = {name: node for node, name in names.items() if node not in given and not name.endswith("ᵀ")}
    pending = [names[n].rstrip("ᵀ") for n in used] if used is not None else list(new)
    defs: dict[str, str] = {}
    while pending:
        name = pending.pop()
        if name not in new or name in defs:
            continue
        printer = Printer(UNICODE, {k: v for k, v in names.items() if k is not new[name]})
        defs[name] = f"{name} = {printer(new[name])}"
        pending.extend(names[n].rstrip("ᵀ") for n in printer.used)
    if not defs:
        return text
    order = [name for name in new if name in defs]
    return f"{text},  where " + ", ".join(defs[name] for name in order)


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
    given = dict(obj.names) if from_jacobian else display_names(obj)
    if from_jacobian:
        names = abbreviate(expression_factors(obj.map), given)
        text, used = render_map(UNICODE, obj.map, names)
        return with_definitions(text, names, given, used)
    plain = strip_names(obj)
    names = abbreviate([plain], given)
    printer = Printer(UNICODE, names)
    return with_definitions(printer(plain), names, given, printer.used)
