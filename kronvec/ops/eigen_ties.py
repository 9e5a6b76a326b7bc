"""Eigenvectors at ties of other eigenvalues: a column of ``eigh(A)[1]`` whose eigenvalue is simple.

At a repeated eigenvalue the eigenvectors of its group G are any orthonormal
basis of the group's eigenspace, so V as a whole has no derivative there
(``gapinv`` raises).  A column vⱼ whose eigenvalue λⱼ is simple does: the
group enters only through its spectral projector P_G = Σ_{i∈G} vᵢvᵢᵀ, which
does not depend on the basis,

    dvⱼ = Σ_{groups G ∌ j} P_G dAₛ vⱼ / (λⱼ − λ_G) = Sⱼ dAₛ vⱼ,

with Sⱼ = Σ_{i≠j} vᵢvᵢᵀ / (λⱼ − λᵢ) = V diag(hⱼ) Vᵀ the reduced resolvent at λⱼ
(hⱼᵢ = 1/(λⱼ − λᵢ), hⱼⱼ = 0).  Sⱼ is itself smooth where λⱼ is simple
(Kato, *Perturbation theory for linear operators*, II.2):

    dSⱼ = Sⱼ (dAₛ − dλⱼ I) Sⱼ − Sⱼ² dAₛ Pⱼ − Pⱼ dAₛ Sⱼ²,   dλⱼ = vⱼᵀ dAₛ vⱼ,  Pⱼ = vⱼvⱼᵀ,

so both derivatives are built from Sⱼ and vⱼ only, and second (and higher)
derivatives of vⱼ exist at ties of the other eigenvalues too.  ``A[:, j]`` of
the eigenvector node builds ``eigh_column``; evaluating Sⱼ where λⱼ itself is
repeated raises :class:`~kronvec.DegenerateError` naming the tied group.
"""
from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from ..errors import DegenerateError
from ..expr import Expr
from ..maps import KronMap, TraceMap, TriangleMap
from ..maps.algebra import add_maps
from ..maps.algebra import compose
from ..maps.algebra import scale_map
from ..registry import Params, Prec, Printing, SELF, register
from ..shapes import first_member, member_text, stack_of
from ._code_templates import code_eigh
from ._printing_rules import func_print
from .products import matmul
from .spectral import eigh_pair

__all__ = ["eigh_column", "reduced_resolvent", "tied_groups"]


_EPS = np.finfo(float).eps


def tied_groups(w: np.ndarray) -> list[range]:
    """The runs of (ascending) eigenvalues w that are equal to within 10·n·ε·max|w|, as index ranges
    (one range per eigenvalue that is simple, too); the tolerance is that of ``gapinv``."""
    w = np.asarray(w, dtype=float).reshape(-1)
    n = w.size
    tol = 10.0 * max(n, 1) * _EPS * max(float(np.max(np.abs(w), initial=0.0)), np.finfo(float).tiny)
    starts = [0] + [i for i in range(1, n) if w[i] - w[i - 1] > tol]
    return [range(s, e) for s, e in zip(starts, starts[1:] + [n])]


def _mirror(uplo: str) -> str:
    return "mirror_lower" if uplo == "L" else "mirror_upper"


# --------------------------------------------------------------- eigh_column
def eigh_column(a: Expr, j: int, uplo: str = "L") -> Expr:
    """Column j of the eigenvectors of ``eigh(A, UPLO)``, an (n, 1) column (``eigh(A)[1][:, j]``).

    Its derivative dvⱼ = Sⱼ dAₛ vⱼ (Sⱼ the reduced resolvent, see the module
    docstring) exists wherever λⱼ is simple, also where other eigenvalues repeat.
    """
    n = a.shape[-1]
    return Expr.make("eigh_column", (a,), Params(j=int(j), UPLO=uplo), stack_of(a.shape) + (n, 1))


def _column_value(j: int, pair: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    return pair[1][..., :, j:j + 1]


def _column_evaluate(ev: Any, e: Expr) -> Any:
    return ev.op(partial(_column_value, e.params.j), eigh_pair(ev, e.args[0], e.params.UPLO))


def _column_jvp(node: Expr, i: int) -> Any:
    a, uplo = node.args[0], node.params.UPLO
    S = reduced_resolvent(a, node.params.j, uplo)
    return compose(KronMap(S, node, a.shape, node.shape),
                   TriangleMap(_mirror(uplo), a.shape[-1], stack_of(a.shape)))


def _print_column(p: Any, e: Expr) -> tuple[str, int]:
    vectors = p.s.func(r"\operatorname{eigvecs}" if p.s.latex else "eigvecs", p(e.args[0]))
    if p.s.latex:
        return f"{vectors}_{{:,\\, {e.params.j}}}", Prec.ATOM
    return f"{vectors}[:, {e.params.j}]", Prec.ATOM


def _python_column(p: Any, e: Expr) -> tuple[str, int]:
    extra = ", UPLO='U'" if e.params.UPLO == "U" else ""
    return f"eigh({p(e.args[0])}{extra})[1][:, {e.params.j}:{e.params.j + 1}]", Prec.ATOM


def _column_code(g: Any, e: Expr, a: str) -> str:
    j = e.params.j
    return f"{code_eigh(g, a, e.params.UPLO)}[1][..., {j}:{j + 1}]"


def _rebuild_column(node: Expr, args: tuple[Expr, ...]) -> Expr:
    return eigh_column(args[0], node.params.j, node.params.UPLO)


_COLUMN_IDENTITY = ("{arg} = V diag(w) Vᵀ, wⱼ simple ⇒ dvⱼ = Sⱼ d{arg} vⱼ, Sⱼ = Σ_{{i≠j}} vᵢvᵢᵀ/(wⱼ − wᵢ) "
                    "(tied groups of other eigenvalues enter through their projectors)",
                    r"\mathrm{{d}}v_j = S_j\, \mathrm{{d}}{arg}\, v_j,\ S_j = \sum_{{i \ne j}} "
                    r"\frac{{v_i v_i^{{\top}}}}{{w_j - w_i}}")

register(
    "eigh_column", function=eigh_column, params=("j", "UPLO"), stacks=True,
    evaluate=_column_evaluate, code=_column_code, jvp=_column_jvp,
    printing=Printing(_print_column, _print_column, _python_column),
    rebuild=_rebuild_column, identity=_COLUMN_IDENTITY,
    doc="column j of the eigenvectors of eigh (differentiable where its eigenvalue is simple)",
)


# --------------------------------------------------------- reduced_resolvent
def reduced_resolvent(a: Expr, j: int, uplo: str = "L") -> Expr:
    """Sⱼ = Σ_{i≠j} vᵢvᵢᵀ / (λⱼ − λᵢ), the reduced resolvent of the symmetric Aₛ at its eigenvalue λⱼ.

    Its value needs λⱼ simple: elsewhere it raises :class:`~kronvec.DegenerateError`
    naming the tied group.  Its derivative is Kato's (module docstring).
    """
    return Expr.make("eigh_resolvent", (a,), Params(j=int(j), UPLO=uplo), a.shape)


def resolvent_value(j: int, pair: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Sⱼ = V diag(hⱼ) Vᵀ from (w, V) (w a column), or a DegenerateError where wⱼ is repeated."""
    w, V = pair
    values = np.asarray(w)[..., 0]
    if values.ndim > 1:
        flat = values.reshape(-1, values.shape[-1])
        bad = np.array([not _simple(j, row) for row in flat]).reshape(values.shape[:-1])
        if bad.any():
            k = first_member(bad)
            raise DegenerateError(f"{member_text(k)} of the stack: {_tie_message(j, values[k])}")
    elif not _simple(j, values):
        raise DegenerateError(_tie_message(j, values))
    gaps = values[..., j:j + 1] - values
    gaps[..., j] = 1.0
    h = 1.0 / gaps
    h[..., j] = 0.0
    resolvent: np.ndarray = (V * h[..., None, :]) @ np.swapaxes(V, -1, -2)
    return resolvent


def _simple(j: int, w: np.ndarray) -> bool:
    return next(len(g) == 1 for g in tied_groups(w) if j in g)


def _tie_message(j: int, w: np.ndarray) -> str:
    group = next(g for g in tied_groups(w) if j in g)
    return (f"eigh: eigenvector column {j} has no derivative: its eigenvalue w[{j}] = {w[j]:.6g} is "
            f"repeated in the tied group w[{group.start}:{group.stop}] = {w[group.start]:.6g} (the "
            f"eigenvectors of a tied group are any basis of its eigenspace; its projector and "
            f"functions V f(w) Vᵀ do differentiate)")


def _resolvent_evaluate(ev: Any, e: Expr) -> Any:
    return ev.op(partial(resolvent_value, e.params.j), eigh_pair(ev, e.args[0], e.params.UPLO))


def _resolvent_jvp(node: Expr, i: int) -> Any:
    # dS = S dAₛ S − (vᵀ dAₛ v) S² − S² dAₛ P − P dAₛ S²
    a, j, uplo = node.args[0], node.params.j, node.params.UPLO
    S, v = node, eigh_column(a, j, uplo)
    P, S2 = matmul(v, v.mT), matmul(S, S)
    core = add_maps(KronMap(S, S, a.shape, a.shape),
                    scale_map(-1.0, TraceMap(P, S2, a.shape, a.shape)),
                    scale_map(-1.0, KronMap(S2, P, a.shape, a.shape)),
                    scale_map(-1.0, KronMap(P, S2, a.shape, a.shape)))
    return compose(core, TriangleMap(_mirror(uplo), a.shape[-1], stack_of(a.shape)))


def _resolvent_code(g: Any, e: Expr, a: str) -> str:
    if g.name == "numpy":
        pair = code_eigh(g, a, e.params.UPLO)
        helper = g.helper("reduced_resolvent", resolvent_value)
        return f"{helper}({e.params.j}, ({pair}[0][..., None], {pair}[1]))"
    np_, j, n = g.array_module, e.params.j, e.shape[-1]
    pair = code_eigh(g, a, e.params.UPLO)
    at_j = g.let(f"{np_}.arange({n}) == {j}", hint="at_j")
    h = g.let(f"{np_}.where({at_j}, 0.0, 1.0 / {np_}.where({at_j}, 1.0, {pair}[0][..., {j}:{j + 1}] - "
              f"{pair}[0]))", hint="h")
    return f"({pair}[1] * {h}[..., None, :]) @ {pair}[1].swapaxes(-1, -2)"


def _python_resolvent(p: Any, e: Expr) -> tuple[str, int]:
    return f"reduced_resolvent({p(e.args[0])}, {e.params.j})", Prec.ATOM


def _rebuild_resolvent(node: Expr, args: tuple[Expr, ...]) -> Expr:
    return reduced_resolvent(args[0], node.params.j, node.params.UPLO)


register(
    "eigh_resolvent", function=reduced_resolvent, params=("j", "UPLO"), stacks=True,
    evaluate=_resolvent_evaluate, code=_resolvent_code, jvp=_resolvent_jvp, transpose=SELF,
    printing=Printing(func_print("S"), func_print("S"), _python_resolvent),
    rebuild=_rebuild_resolvent,
    identity=("Sⱼ = Σ_{{i≠j}} vᵢvᵢᵀ/(wⱼ − wᵢ) ⇒ dSⱼ = Sⱼ (d{arg} − dwⱼ I) Sⱼ − Sⱼ² d{arg} Pⱼ − "
              "Pⱼ d{arg} Sⱼ² (Kato)",
              r"\mathrm{{d}}S_j = S_j (\mathrm{{d}}{arg} - \mathrm{{d}}w_j I) S_j - S_j^2\, "
              r"\mathrm{{d}}{arg}\, P_j - P_j\, \mathrm{{d}}{arg}\, S_j^2"),
    doc="the reduced resolvent Sⱼ of a symmetric matrix at its simple eigenvalue wⱼ",
)
