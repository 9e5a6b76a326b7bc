"""Functions of eigenvalues in the eigenbasis: V diag(g) Vᵀ and its Daleckii–Krein derivative.

The gradient of Σᵢ φ(wᵢ) for w = eigvalsh(A) is V diag(φ'(w)) Vᵀ.  Differentiated
factor by factor, that goes through dV = V (F ⊙ Vᵀ dA V), Fᵢⱼ = 1/(wⱼ − wᵢ), which
does not exist at a repeated eigenvalue, although the sum does:

    d(V diag(g) Vᵀ) = V (Γ ⊙ Vᵀ dAₛ V) Vᵀ + V diag(dg) Vᵀ,   Γᵢⱼ = (gᵢ − gⱼ)/(wᵢ − wⱼ) (i ≠ j),

and for g = φ(w) elementwise the divided difference Γᵢⱼ has the limit φ'(wᵢ) at
a tie (Daleckii–Krein).  ``eigfun(A, g)`` is that node; the adjoint of the
eigenvalue derivative builds it (so Hessians of sums of functions of
eigenvalues are exact at repeated eigenvalues), and ``divdiff(w, g, g')``
is Γ: the quotient where the eigenvalues are apart, (g'ᵢ + g'ⱼ)/2 where they
are within ε^⅓ of each other (where the quotient would lose digits), and a
:class:`~kronvec.DegenerateError` at a tie when g' is not known (g not an
elementwise function of w).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..contexts import CodeContext, EvaluationContext, PrintContext, StyledPrintContext
from ..errors import DegenerateError
from ..expr import Expr, NO_PARAMS, as_expr
from ..maps import ElementwiseMap, KronDiagMap, KronMap, KronTMap, TraceMap, TriangleMap, ZeroMap
from ..maps.algebra import add_maps
from ..maps.eigen_frechet import EigfunFrechetMap
from ..maps.algebra import compose
from ..registry import Params, Prec, Printing, SELF, register, spec
from ..shapes import first_member, member_text, stack_of
from ._code_templates import code_transpose
from ._printing_rules import func_print, py_call
from .arithmetic import add
from .elementwise import ELEMENTWISE_FUNCTIONS
from .leaves import identity, ones, zeros
from .spectral import eigenvectors, eigvalsh, gapinv
from .structure import diag

__all__ = ["eigfun", "divdiff", "elementwise_derivative", "spectral_derivative", "other_variables",
           "derivative_along"]

_EPS = np.finfo(float).eps


_ELEMENTWISE_OPS = {"power", "scale", "add", "multiply", "named"}


def elementwise_derivative(g: Expr, w: Expr) -> Expr | None:
    """φ'(w) when g = φ(w) is an elementwise function of the column w, else None.

    Forward mode along g's DAG with dw = 𝟙, through elementwise functions,
    powers, sums, scalings and Hadamard products, and through entries taken
    from w (``w[G]``) and placed back at the same rows (``place(·, G)``), whose
    Jacobians are all diagonal, so the image of 𝟙 is the diagonal of the
    Jacobian.  A g that does not depend on w (a constant: the indicator of a
    projector) has φ' = 0.
    """
    d: dict[Expr, Expr | None] = {}
    rows: dict[Expr, range] = {}  # the entries of w that each row of a moving node stands for
    for node in g.walk():
        if node is w:
            d[node], rows[node] = ones(w.shape), range(w.shape[-2])
            continue
        moving = [i for i, a in enumerate(node.args) if d.get(a) is not None]
        if not moving:
            d[node] = None
            continue
        aligned = _aligned_rows(node, moving, [rows[node.args[i]] for i in moving], w)
        if aligned is None:
            return None
        rows[node] = aligned
        jvp = spec(node.op).jvp
        assert jvp is not None, "an elementwise op has a JVP rule"
        d[node] = add(*[jvp(node, i)._apply(d[node.args[i]]) for i in moving])
    if d.get(g) is None:
        return zeros(w.shape) if w not in g.walk() else None
    return d[g] if g.shape == w.shape and rows[g] == range(w.shape[-2]) else None


def spectral_derivative(g: Expr, w: Expr) -> Expr | None:
    """φ'(w) when g = φ(w) depends on no variable except through w (constants and w are its
    leaves) and elementwise, else None.  Then V diag(g) Vᵀ is a function of A alone, whose
    derivative is Daleckii–Krein's to every order."""
    stack, seen = [g], set()
    while stack:
        node = stack.pop()
        if node is w or id(node) in seen:
            continue
        seen.add(id(node))
        if node.op == "symbol":
            return None
        stack.extend(node.args)
    return elementwise_derivative(g, w)


def _aligned_rows(node: Expr, moving: list[int], moving_rows: list[range], w: Expr) -> range | None:
    """The rows of w that the rows of ``node`` stand for, when node's Jacobian in its moving
    arguments stays diagonal (None otherwise)."""
    first = moving_rows[0]
    if any(r != first for r in moving_rows):
        return None
    if len(w.shape) > 2:  # a stack of columns: elementwise functions keeping its shape
        ok = node.op in _ELEMENTWISE_OPS or node.op in ELEMENTWISE_FUNCTIONS or \
            node.op == "smul" and moving == [1]
        return first if ok and node.shape == w.shape else None
    if node.op == "index":
        r = node.params.rows
        return first[r.start:r.stop:r.step] if node.params.cols == range(1) else None
    if node.op == "place":
        same = node.params.rows == first and node.params.cols == range(1)
        return range(node.shape[0]) if same and node.shape == w.shape else None
    ok = node.op in _ELEMENTWISE_OPS or node.op in ELEMENTWISE_FUNCTIONS or \
        node.op == "smul" and moving == [1]
    return first if ok and node.shape[0] == len(first) else None


# -------------------------------------------------------------- divdiff
def divdiff(w: Any, g: Any, gprime: Any = None) -> Expr:
    """Γᵢⱼ = (gᵢ − gⱼ)/(wᵢ − wⱼ) for i ≠ j, 0 on the diagonal; (g'ᵢ + g'ⱼ)/2 where wᵢ ≈ wⱼ.

    Without ``gprime`` a tie raises :class:`~kronvec.DegenerateError`.
    """
    w, g = as_expr(w), as_expr(g)
    args = (w, g) if gprime is None else (w, g, as_expr(gprime))
    n = w.shape[-2]
    return Expr.make("divdiff", args, NO_PARAMS, stack_of(w.shape) + (n, n))


def divided_difference_matrix(w: np.ndarray, g: np.ndarray, gp: np.ndarray | None = None) -> np.ndarray:
    """The value of :func:`divdiff` (of every member of a stack of columns (..., n, 1))."""
    if np.ndim(w) > 2:
        return _stack_divided_differences(np.asarray(w, dtype=float), np.asarray(g, dtype=float),
                                           None if gp is None else np.asarray(gp, dtype=float))
    w, g = w.reshape(-1), g.reshape(-1)
    n = w.size
    dw, dg = w[:, None] - w[None, :], g[:, None] - g[None, :]
    scale_ = max(float(np.abs(w).max(initial=0.0)), np.finfo(float).tiny)
    near = (np.abs(dw) <= np.finfo(float).eps ** (1 / 3) * scale_) & ~np.eye(n, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(near, 0.0, dg / dw)
    if near.any():
        if gp is None:
            i, j = map(int, np.argwhere(near)[0])
            raise DegenerateError(f"eigh: a function of the eigenvalues that is not elementwise has no "
                                  f"derivative at a repeated eigenvalue: w[{i}] = w[{j}] = {w[i]:.6g} "
                                  f"(gap {abs(w[i] - w[j]):.3g})")
        gp = gp.reshape(-1)
        predicted = np.maximum(np.abs(gp[:, None]), np.abs(gp[None, :])) * np.abs(dw)
        slack = 100.0 * np.finfo(float).eps * max(float(np.abs(g).max(initial=0.0)), np.finfo(float).tiny)
        split = near & (np.abs(dg) > 2.0 * predicted + slack)
        if split.any():  # g differs within a group of (nearly) equal eigenvalues: a projector onto
            # part of a tied group, which has no derivative
            i, j = map(int, np.argwhere(split)[0])
            group = np.flatnonzero(near[i] | (np.arange(n) == i))
            raise DegenerateError(f"eigh: V diag(g) Vᵀ has no derivative where g differs within a group of "
                                  f"repeated eigenvalues: the tied group w[{group[0]}:{group[-1] + 1}] = "
                                  f"{w[i]:.6g} has g[{i}] = {g[i]:.6g}, g[{j}] = {g[j]:.6g} (a projector "
                                  f"onto part of a tied group, or columns of V that split it)")
        out = np.where(near, (gp[:, None] + gp[None, :]) / 2, out)
    np.fill_diagonal(out, 0.0)
    return out


def _stack_divided_differences(w: np.ndarray, g: np.ndarray, gp: np.ndarray | None) -> np.ndarray:
    """Γ of every member of a stack of columns, in batched operations; a DegenerateError names the
    member (and the tie, as :func:`divided_difference_matrix` does for one matrix)."""
    ws, gs = w[..., 0], g[..., 0]
    n = ws.shape[-1]
    dw, dg = ws[..., :, None] - ws[..., None, :], gs[..., :, None] - gs[..., None, :]
    scale_ = np.maximum(np.max(np.abs(ws), axis=-1, initial=0.0), np.finfo(float).tiny)[..., None, None]
    near = (np.abs(dw) <= np.finfo(float).eps ** (1 / 3) * scale_) & ~np.eye(n, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(near, 0.0, dg / dw)
    if near.any():
        if gp is None:
            bad = near
        else:
            gps = gp[..., 0]
            predicted = np.maximum(np.abs(gps[..., :, None]), np.abs(gps[..., None, :])) * np.abs(dw)
            g_scale = np.maximum(np.max(np.abs(gs), axis=-1, initial=0.0), np.finfo(float).tiny)
            bad = near & (np.abs(dg) > 2.0 * predicted + 100.0 * _EPS * g_scale[..., None, None])
            out = np.where(near, (gps[..., :, None] + gps[..., None, :]) / 2, out)
        if bad.any():
            k = first_member(bad.any(axis=(-2, -1)))
            try:
                divided_difference_matrix(w[k], g[k], None if gp is None else gp[k])
            except DegenerateError as err:
                raise DegenerateError(f"{member_text(k)} of the stack: {err}") from None
    out[..., np.arange(n), np.arange(n)] = 0.0
    return out


def _spread(n: int, stack: tuple[int, ...] = ()) -> Any:
    """h ↦ 𝟙hᵀ − h𝟙ᵀ, the (n, n) matrix of differences hⱼ − hᵢ (of every member of a stack)."""
    column, square = stack + (n, 1), stack + (n, n)
    return add_maps(KronTMap(ones(n, 1), None, column, square),
                    -1.0 * KronMap(None, ones(1, n), column, square))


def _divdiff_jvp(node: Expr, i: int) -> Any:
    # away from ties Γ = (𝟙gᵀ − g𝟙ᵀ) ⊙ F(w), F(w)ᵢⱼ = 1/(wⱼ − wᵢ): its derivative (needs distinct eigenvalues)
    w, g = node.args[0], node.args[1]
    n, stack = w.shape[-2], stack_of(w.shape)
    if i == 2:
        return ZeroMap(w.shape, node.shape)  # g' matters at ties only, where Γ has no derivative here
    F = gapinv(w, "eigh")
    if i == 1:
        return compose(ElementwiseMap(F, node.shape), _spread(n, stack))
    gapinv_jvp = spec("gapinv").jvp
    assert gapinv_jvp is not None, "gapinv has a JVP rule"
    return compose(ElementwiseMap(_spread(n, stack)._apply(g), node.shape), gapinv_jvp(F, 0))


def _divdiff_code(g: CodeContext, e: Expr, w: str, f: str, fp: str | None = None) -> str:
    """Γ in generated code: NumPy as evaluated; the others with the same rule, written with
    ``where`` (the quotient apart, (g'ᵢ + g'ⱼ)/2 within ε^⅓ of a tie, 0 at a tie without g')."""
    if g.name == "numpy":
        helper = g.helper("divided_differences", divided_difference_matrix)
        return f"{helper}({w}, {f}{', ' + fp if fp else ''})"
    np_, n = g.array_module, e.shape[-1]
    T = code_transpose if len(e.shape) == 2 else (lambda x: f"{x}.swapaxes(-1, -2)")
    largest = f"{np_}.max({np_}.abs({w}))" if len(e.shape) == 2 else \
        f"{np_}.amax({np_}.abs({w}), {'dim' if g.name == 'torch' else 'axis'}=(-2, -1), " \
        f"{'keepdim' if g.name == 'torch' else 'keepdims'}=True)"  # of each member of a stack
    eye = g.let(g.eye(n), hint="I")
    dw = g.let(f"{w} - {T(w)}", hint="gap")
    close = float(np.finfo(float).eps ** (1 / 3))
    near = g.let(f"({np_}.abs({dw}) <= {close!r} * {largest}) & ({eye} == 0)", hint="near")
    quotient = f"({f} - {T(f)}) / {np_}.where({near} | ({eye} == 1), 1.0, {dw})"
    tie = f"({fp} + {T(fp)}) / 2" if fp else "0.0"
    return f"{np_}.where({near}, {tie}, {quotient}) * (1.0 - {eye})"


def _divdiff_value(w: np.ndarray, g: np.ndarray, gp: np.ndarray | None = None) -> np.ndarray:
    return divided_difference_matrix(w, g, gp)


register(
    "divdiff", function=divdiff, stacks=True,
    evaluate=lambda ev, e: ev.op(_divdiff_value, *[ev(a) for a in e.args]),
    code=lambda g, e, *a: _divdiff_code(g, e, *a),
    jvp=_divdiff_jvp,
    printing=Printing(func_print("Γ"), func_print(r"\Gamma"), py_call("divdiff")),
    rebuild=lambda node, args: divdiff(*args),
    doc="the divided differences Γᵢⱼ = (gᵢ − gⱼ)/(wᵢ − wⱼ) of Daleckii–Krein derivatives",
)


# --------------------------------------------------------------- eigfun
def eigfun(a: Any, g: Any, UPLO: str = "L") -> Expr:
    """V diag(g) Vᵀ for the eigenvectors V of ``eigh(A, UPLO)`` and a column g (n, 1).

    Its derivative is the Daleckii–Krein form V (Γ ⊙ Vᵀ dAₛ V) Vᵀ + V diag(dg) Vᵀ
    with Γ = divdiff(w, g, g'), exact at repeated eigenvalues when g is an
    elementwise function of w (see the module docstring).
    """
    a, g = as_expr(a), as_expr(g)
    if g.op == "ones" and len(a.shape) == 2:
        return identity(a.shape[0])  # V Vᵀ = I
    return Expr.make("eigfun", (a, g) + other_variables(a, g, UPLO), Params(UPLO=UPLO), a.shape)


def other_variables(a: Expr, g: Expr, uplo: str) -> tuple[Expr, ...]:
    """The scalars θ of g = φ(w, θ) besides w = eigvalsh(A) (the largest parts of g that read a symbol
    and not w), when g is elementwise in w, A is one matrix and every θ is a scalar; else ().

    ``eigfun(A, g, *θ)`` takes them as arguments: its derivative is then Daleckii–Krein's in A at
    fixed θ (defined where eigenvalues repeat, to second order) plus V diag(∂φ/∂θ dθ) Vᵀ, and no
    part of it goes through g (which moves with w and θ only)."""
    w = eigvalsh(a, uplo)
    if len(a.shape) != 2 or spectral_derivative(g, w) is not None or elementwise_derivative(g, w) is None:
        return ()
    nodes = g.walk()
    reads_w: set[int] = set()
    for n in nodes:  # children first
        if n is w or any(id(x) in reads_w for x in n.args):
            reads_w.add(id(n))
    symbolic: set[int] = set()
    for n in nodes:
        if n.op == "symbol" or any(id(x) in symbolic for x in n.args):
            symbolic.add(id(n))
    thetas: dict[int, Expr] = {}
    for n in nodes:
        if id(n) in reads_w and n is not w:
            for x in n.args:
                if id(x) in symbolic and id(x) not in reads_w:
                    thetas[id(x)] = x
    if not thetas or any(t.shape not in ((), (1, 1)) for t in thetas.values()):
        return ()
    return tuple(thetas.values())


def derivative_along(g: Expr, theta: Expr) -> Expr:
    """∂g/∂θ for a scalar θ inside g: forward mode along g's DAG from dθ = 1 (w and the other θ
    held fixed)."""
    d: dict[int, Expr] = {id(theta): ones(theta.shape) if theta.shape else as_expr(1.0)}
    for node in g.walk():
        if id(node) in d:
            continue
        moving = [i for i, x in enumerate(node.args) if id(x) in d]
        if moving:
            jvp = spec(node.op).jvp
            assert jvp is not None, f"{node.op} has a JVP rule"
            d[id(node)] = add(*[jvp(node, i)._apply(d[id(node.args[i])]) for i in moving])
    return d[id(g)]


def _eigfun_value(ev: EvaluationContext, e: Expr) -> np.ndarray:
    V = ev(eigenvectors(e.args[0], e.params.UPLO))
    result: np.ndarray = ev.op(_sandwich, V, ev(e.args[1]))
    return result


def _sandwich(V: np.ndarray, g: np.ndarray) -> np.ndarray:
    result: np.ndarray = (V * np.swapaxes(g, -1, -2)) @ np.swapaxes(V, -1, -2)
    return result


def _eigfun_jvp(node: Expr, i: int) -> Any:
    a, g, uplo = node.args[0], node.args[1], node.params.UPLO
    V, n, stack = eigenvectors(a, uplo), a.shape[-1], stack_of(a.shape)
    w = eigvalsh(a, uplo)
    mirror = TriangleMap("mirror_lower" if uplo == "L" else "mirror_upper", n, stack)
    if len(node.args) > 2:  # g = φ(w, θ), θ the further arguments: φ(·, θ) of A, and θ's move
        if i == 1:
            return ZeroMap(g.shape, node.shape)
        if i > 1:  # dθ ↦ V diag(∂φ/∂θ dθ) Vᵀ
            theta = node.args[i]
            return compose(KronDiagMap(V, V.mT, "embed", g.shape, node.shape),
                           TraceMap(None, derivative_along(g, theta), theta.shape, g.shape))
        gprime = elementwise_derivative(g, w)
        assert gprime is not None, "eigfun takes further arguments only for g elementwise in w"
        gamma = add(divdiff(w, g, gprime), diag(gprime))
        return compose(EigfunFrechetMap(a, g, uplo, V, gamma, a.shape), mirror)
    gprime = spectral_derivative(g, w)
    if gprime is not None:  # a function of A alone: all of its derivative is in A, g' on Γ's diagonal
        if i == 1:
            return ZeroMap(g.shape, node.shape)
        gamma = add(divdiff(w, g, gprime), diag(gprime))
        return compose(EigfunFrechetMap(a, g, uplo, V, gamma, a.shape), mirror)
    if i == 1:
        return KronDiagMap(V, V.mT, "embed", g.shape, node.shape)
    gamma = divdiff(w, g, elementwise_derivative(g, w))
    return compose(KronMap(V, V.mT, a.shape, a.shape), ElementwiseMap(gamma, a.shape),
                   KronMap(V.mT, V, a.shape, a.shape), mirror)


def _print_eigfun(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
    V = eigenvectors(e.args[0], e.params.UPLO)
    diag = printer.s.func(r"\operatorname{diag}" if printer.s.latex else "diag", printer(e.args[1]))
    return printer.s.join([printer(V, Prec.POSTFIX), diag, printer(V.mT, Prec.POSTFIX)], True), Prec.PROD


def _eigfun_code(g: CodeContext, e: Expr, a: str, f: str, *thetas: str) -> str:
    """(V ⊙ gᵀ) Vᵀ = V diag(g) Vᵀ, with V the eigenvectors computed once (of every member of a stack)."""
    vectors = g.value(eigenvectors(e.args[0], e.params.UPLO))
    if len(e.shape) > 2:
        return f"({vectors} * {f}.swapaxes(-1, -2)) @ {vectors}.swapaxes(-1, -2)"
    return f"({vectors} * {f}.T) @ {vectors}.T"


def _python_eigfun(printer: PrintContext, e: Expr) -> tuple[str, int]:
    return f"eigfun({printer(e.args[0])}, {printer(e.args[1])})", Prec.ATOM


def _rebuild_eigfun(node: Expr, args: list[Expr]) -> Expr:
    return eigfun(args[0], args[1], node.params.UPLO)


register(
    "eigfun", function=eigfun, params=("UPLO",), stacks=True,
    evaluate=_eigfun_value,
    code=_eigfun_code,
    jvp=_eigfun_jvp,
    transpose=SELF,
    printing=Printing(_print_eigfun, _print_eigfun, _python_eigfun),
    rebuild=_rebuild_eigfun,
    identity=("G = V diag(g) Vᵀ ⇒ dG = V (Γ ⊙ Vᵀ d{arg} V) Vᵀ + V diag(dg) Vᵀ with "
              "Γᵢⱼ = (gᵢ − gⱼ)/(wᵢ − wⱼ), g'(wᵢ) at a tie (Daleckii–Krein)",
              r"\mathrm{{d}}(V \operatorname{{diag}}(g) V^{{\top}}) = V (\Gamma \odot V^{{\top}} "
              r"\mathrm{{d}}{arg}\, V) V^{{\top}} + V \operatorname{{diag}}(\mathrm{{d}}g) V^{{\top}}"),
    doc="V diag(g) Vᵀ in the eigenbasis of a symmetric matrix (gradients of functions of eigenvalues)",
)
