"""Triangles and triangular factors: the ``tri`` parts, cholesky and solve_triangular.

* ``tri(X, kind)`` (internal) is one part of a square matrix: tril(X), triu(X),
  the strict parts, Φ(X) = tril(X) − ½ diag(X), the unit triangles
  I + tril(X, −1), the mirror symₗ(X) = tril(X) + tril(X, −1)ᵀ (the symmetric
  matrix a function reading only the lower triangle sees) and its adjoint
  foldₗ(X) = tril(X) + triu(X, 1)ᵀ.  Its derivative is the same part of dX
  (the strict part for the unit triangles): a :class:`TriangleMap`.
* ``kv.cholesky(A)``: the lower factor L of A = LLᵀ, reading the lower
  triangle of A as NumPy does; dL = L Φ(L⁻¹ dAₛ L⁻ᵀ) with dAₛ = symₗ(dA).
* ``kv.solve_triangular(A, B, ...)``: op(T)⁻¹B as SciPy, with T the named
  triangle of A: one triangular solve, and a derivative that reads the same
  triangle.

Nodes known to be triangular declare it (``triangular``), so the evaluator
solves with them by ``trtrs`` and their inverses' derivatives are
:class:`TriSolveMap` solves, never explicit inverses.
"""
from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import scipy.linalg as sla
from scipy.linalg import lapack

from ..contexts import PrintContext, CodeContext, EvaluationContext, StyledPrintContext
from ..errors import ShapeError
from ..expr import Expr, NO_PARAMS, Operand, as_expr
from ..maps import KronMap, TriangleMap, TriSolveMap, commutation_map
from ..maps.algebra import compose
from ..maps.algebra import scale_map
from ..maps.triangular import LINEAR_KINDS, TRIANGLE_KINDS, apply_triangle
from ..registry import DISPLAY, Params, Prec, Printing, Transpose, inferring, register, signature_of
from ..shapes import first_member, fmt, matrix_transposed, member_text, stack_of
from ._code_templates import code_for
from ._evaluation_rules import NodeInfo, matrix_transpose_value, with_node
from ._printing_rules import call_printing
from ._structure_rules import triangle
from .arithmetic import scale
from .leaves import Constant, eye, zeros
from .products import inv

__all__ = ["tri", "cholesky", "solve_triangular", "TRI_TEXT", "signed"]


_MIRRORS = ("mirror_lower", "mirror_upper")


# ------------------------------------------------------------------ tri
def tri(a: Operand, kind: str) -> Expr:
    """One part of the square matrix A, by ``kind``.

    ``lower`` tril(A), ``upper`` triu(A), ``strict_lower`` tril(A, −1),
    ``strict_upper`` triu(A, 1), ``phi`` Φ(A) = tril(A) − ½ diag(A) (and
    ``phi_upper``), ``unit_lower`` I + tril(A, −1) (and ``unit_upper``),
    ``mirror_lower`` symₗ(A) = tril(A) + tril(A, −1)ᵀ (and ``mirror_upper``),
    ``fold_lower`` foldₗ(A) = tril(A) + triu(A, 1)ᵀ, the adjoint of symₗ (and
    ``fold_upper``).  All but the unit triangles are linear in A.
    """
    a = as_expr(a)
    if kind not in TRIANGLE_KINDS:
        raise ValueError(f"tri: unknown kind {kind!r} (one of {', '.join(TRIANGLE_KINDS)})")
    unit = kind.startswith("unit")
    if a.shape == ():  # a scalar read as a 1×1 matrix (a tangent of a 1×1 argument, in a Hessian)
        if kind.startswith("strict"):
            return zeros(())
        return Constant(1.0) if unit else scale(0.5, a) if kind.startswith("phi") else a
    if len(a.shape) < 2 or a.shape[-2] != a.shape[-1]:
        raise ShapeError(f"tri: needs a square matrix, got shape {fmt(a.shape)}")
    if a.op == "zeros":
        return (eye(a.shape[0]) if a.ndim == 2 else Expr.make("eye", (), NO_PARAMS, a.shape)) \
            if unit else a
    if kind in _MIRRORS and a.op == "symbol" and a.params.symmetric:
        return a  # symₗ(S) = S for a symmetric S
    if kind in ("lower", "upper") and triangle(a) == kind:
        return a
    if kind in _MIRRORS and a.op == "tri" and a.params.kind in _MIRRORS:
        return a if a.params.kind == kind else tri(a.args[0], a.params.kind)  # already symmetric
    if a.op == "scale" and not unit:
        return scale(a.params.coef, tri(a.args[0], kind))
    if a.op == "eye":  # the identity's parts: itself, ½I (Φ), or 0 (strict parts)
        if kind.startswith("strict"):
            return zeros(a.shape)
        return scale(0.5, a) if kind.startswith("phi") else a
    return Expr.make("tri", (a,), Params(kind=kind), a.shape)


TRI_TEXT = {
    # kind: (unicode name, latex name, extra argument)
    "lower": ("tril", r"\operatorname{tril}", ""),
    "upper": ("triu", r"\operatorname{triu}", ""),
    "strict_lower": ("tril", r"\operatorname{tril}", "-1"),
    "strict_upper": ("triu", r"\operatorname{triu}", "1"),
    "phi": ("Φ", r"\Phi", ""),
    "phi_upper": ("Φᵤ", r"\Phi_{U}", ""),
    "mirror_lower": ("symₗ", r"\operatorname{sym}_{L}", ""),
    "mirror_upper": ("symᵤ", r"\operatorname{sym}_{U}", ""),
    "fold_lower": ("foldₗ", r"\operatorname{fold}_{L}", ""),
    "fold_upper": ("foldᵤ", r"\operatorname{fold}_{U}", ""),
    "unit_lower": ("tril", r"\operatorname{tril}", "-1"),
    "unit_upper": ("triu", r"\operatorname{triu}", "1"),
}


def signed(style: Any, number: str) -> str:
    """A literal such as -1 in the style's minus sign."""
    return style.minus + number[1:] if number.startswith("-") else number


def _print_tri(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
    kind = e.params.kind
    uni, lat, extra = TRI_TEXT[kind]
    args = [printer(e.args[0])] + ([signed(printer.s, extra)] if extra else [])
    text = printer.s.func(lat if printer.s.latex else uni, *args)
    if kind.startswith("unit"):
        return f"{printer.s.identity} + {text}", Prec.SUM
    return text, Prec.ATOM


_TRI_CODE = {  # {T}: the transpose of every member; {diagonal}: the diagonal part as a matrix (stack)
    "lower": "{np}.tril({0})", "upper": "{np}.triu({0})",
    "strict_lower": "{np}.tril({0}, -1)", "strict_upper": "{np}.triu({0}, 1)",
    "phi": "{np}.tril({0}) - 0.5 * {diagonal}",
    "phi_upper": "{np}.triu({0}) - 0.5 * {diagonal}",
    "unit_lower": "{np}.tril({0}, -1) + {eye}", "unit_upper": "{np}.triu({0}, 1) + {eye}",
    "mirror_lower": "{np}.tril({0}) + {np}.tril({0}, -1){T}",
    "mirror_upper": "{np}.triu({0}) + {np}.triu({0}, 1){T}",
    "fold_lower": "{np}.tril({0}) + {np}.triu({0}, 1){T}",
    "fold_upper": "{np}.triu({0}) + {np}.tril({0}, -1){T}",
}


def tri_code(g: CodeContext, kind: str, x: str, n: int, members_diagonal: str | None = None) -> str:
    """The ``kind`` part of the (n, n) matrix ``x`` (its code), as generated code.

    For a stack ``x``, ``members_diagonal`` is the code of the members' diagonals, shape (..., n);
    numpy's, JAX's and torch's tril and triu act on the last two axes.
    """
    template = _TRI_CODE[kind]
    eye = g.eye(n) if "{eye}" in template or "{diagonal}" in template and members_diagonal else ""
    if members_diagonal is None:
        return template.format(x, np=g.array_module, eye=eye, T=".T",
                               diagonal=f"{g.array_module}.diag({g.array_module}.diagonal({x}))")
    return template.format(x, np=g.array_module, eye=eye, T=".swapaxes(-1, -2)",
                           diagonal=f"{members_diagonal}[..., None] * {eye}")


def _tri_transposed(node: Expr, _: list[Expr]) -> Expr:
    if node.params.kind in _MIRRORS:
        return node  # symmetric
    return Expr.make("matrix_transpose", (node,), NO_PARAMS, matrix_transposed(node.shape))


def _tri_jvp(node: Expr, i: int) -> Any:
    kind = node.params.kind
    linear = {"unit_lower": "strict_lower", "unit_upper": "strict_upper"}.get(kind, kind)
    assert linear in LINEAR_KINDS
    return TriangleMap(linear, node.shape[-1], stack_of(node.shape))


register(
    "tri", function=tri, params=("kind",), stacks=True,
    evaluate=with_node(lambda n, x: apply_triangle(n.params.kind, x)),
    code=lambda g, e, x: tri_code(g, e.params.kind, x, e.shape[0]),
    jvp=_tri_jvp,
    transpose=Transpose((), _tri_transposed),
    triangular=lambda node: TRIANGLE_KINDS[node.params.kind] or None,
    printing=Printing(_print_tri, _print_tri,
                      lambda printer, e: (f"tri({printer(e.args[0])}, {e.params.kind!r})", Prec.ATOM)),
    rebuild=lambda node, args: tri(args[0], node.params.kind),
    doc="a triangle of a square matrix: tril, triu, Φ, symₗ, ... (appears in factorization derivatives)",
)


# ------------------------------------------------------------- cholesky
@inferring
def cholesky(a: Operand) -> Expr:
    """The Cholesky factor L of a symmetric positive definite A: A = LLᵀ, L lower triangular.

    As ``numpy.linalg.cholesky``, only the lower triangle of A is read: the
    factor is that of Aₛ = symₗ(A) = tril(A) + tril(A, −1)ᵀ.  Differentiating
    LLᵀ = Aₛ gives dL Lᵀ + L dLᵀ = dAₛ; L⁻¹ dL is lower triangular, so

        dL = L Φ(L⁻¹ dAₛ L⁻ᵀ),   Φ(X) = tril(X) − ½ diag(X),

    applied with two triangular solves and one product (O(n³), no inverse).
    A value that is not positive definite raises ``LinAlgError``.
    """
    a = as_expr(a)
    signature_of(CHOLESKY).check("cholesky", [a.shape])
    if a.op == "eye":
        return a
    if a.op == "scale" and a.params.coef > 0:  # chol(cA) = √c chol(A)
        return scale(float(np.sqrt(a.params.coef)), cholesky(a.args[0]))
    return Expr.make("cholesky", (a,), NO_PARAMS, a.shape)


def _cholesky_factor(label: str, a: np.ndarray) -> np.ndarray:
    if a.ndim > 2:  # a stack: one batched call (NumPy reads the lower triangle, as potrf here)
        try:
            return np.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            lowest = np.linalg.eigvalsh(a, UPLO="L")[..., 0]
            bad = ~(lowest > 0)
            k = first_member(bad)
            raise np.linalg.LinAlgError(f"{label}: {member_text(k)} of the stack is not positive definite "
                                        f"(smallest eigenvalue {float(lowest[k]):.3g})") from None
    c, info = lapack.dpotrf(a, lower=1, clean=1)
    if info > 0:
        raise np.linalg.LinAlgError(f"{label}: the matrix is not positive definite (its leading "
                                    f"minor of order {info} is not positive)")
    if info < 0:
        raise np.linalg.LinAlgError(f"{label}: LAPACK potrf failed (info={info})")
    result: np.ndarray = c
    return result


def _cholesky_value(ev: EvaluationContext, e: Expr) -> np.ndarray:
    a = e.args[0]
    bound = ev.bound_cholesky(a)
    if bound is not None:  # a positive definite symbol, factored when its value was bound
        result: np.ndarray = ev.op(matrix_transpose_value, bound)
        return result
    result = ev.op(partial(_cholesky_factor, DISPLAY.python(e)), ev(a))
    return result


_CHOLESKY_CODE = code_for(numpy="lapack.dpotrf({0}, lower=1, clean=1)[0]",
                          jax="jnp.linalg.cholesky({0}, symmetrize_input=False)",
                          torch="torch.linalg.cholesky({0})")


def _cholesky_code(g: CodeContext, e: Expr, a: str) -> str:
    factor = g.bound_cholesky(e.args[0])  # a positive definite symbol: its one factorization
    if factor is not None:
        return g.backend.cholesky_lower(factor)
    result: str = _CHOLESKY_CODE[g.name].format(a)
    return result


def _cholesky_jvp(node: Expr, i: int) -> Any:
    L, n, stack = node, node.shape[-1], stack_of(node.shape)
    solves = TriSolveMap(L, L.mT, True, False, node.shape, label=f"{DISPLAY.python(node)} (solve with L)")
    return compose(KronMap(L, None, node.shape, node.shape), TriangleMap("phi", n, stack), solves,
                   TriangleMap("mirror_lower", n, stack))


CHOLESKY = register(
    "cholesky", public="cholesky", function=cholesky, signature="(n,n)->(n,n)",
    stacks=True,
    evaluate=_cholesky_value, code=lambda g, e, a: _cholesky_code(g, e, a),
    jvp=_cholesky_jvp,
    triangular=lambda node: "lower",
    printing=call_printing("chol", r"\operatorname{chol}", "cholesky"),
    identity=("d({out}{out}ᵀ) = d{out} {out}ᵀ + {out} d{out}ᵀ = d{arg} with {out}⁻¹d{out} lower triangular ⇒ "
              "d{out} = {out} Φ({out}⁻¹ d{arg} {out}⁻ᵀ) (Φ: the lower triangle, half the diagonal; d{arg} "
              "mirrored from its lower triangle)",
              r"\mathrm{{d}}({out}{out}^{{\top}}) = \mathrm{{d}}{out}\, {out}^{{\top}} + {out}\, "
              r"\mathrm{{d}}{out}^{{\top}} = \mathrm{{d}}{arg} \Rightarrow \mathrm{{d}}{out} = {out}\, "
              r"\Phi\left({out}^{{-1}} \mathrm{{d}}{arg}\, {out}^{{-\top}}\right)"),
    domain=("invertible",),
    doc="the lower Cholesky factor L of A = LLᵀ (reads the lower triangle)",
)


# ------------------------------------------------------ solve_triangular
@inferring
def solve_triangular(a: Operand, b: Operand, trans: Any = 0, lower: bool = False,
                     unit_diagonal: bool = False) -> Expr:
    """X = op(T)⁻¹ B as ``scipy.linalg.solve_triangular``: T is the named triangle of A.

    Only the lower (``lower=True``) or upper triangle of A is read, with ones
    on the diagonal when ``unit_diagonal``; op(T) is T for ``trans`` 0/'N' and
    Tᵀ for 1/'T' (or 2/'C', the same for real matrices).  The value is one
    triangular solve, and the derivative reads the same triangle:

        dX = −op(T)⁻¹ op(dT) X + op(T)⁻¹ dB,

    with dT = tril(dA) (triu(dA); the strict part for a unit diagonal),
    applied by triangular solves.
    """
    a, b = as_expr(a), as_expr(b)
    t = {0: 0, 1: 1, 2: 1, "N": 0, "T": 1, "C": 1}.get(trans)
    if t is None:
        raise ValueError(f"solve_triangular: trans must be 0, 1, 2, 'N', 'T' or 'C', got {trans!r}")
    shape = signature_of(SOLVE_TRIANGULAR).check("solve_triangular", [a.shape, b.shape])
    if b.op == "zeros":
        return b
    return Expr.make("solve_triangular", (a, b), Params(trans=t, lower=bool(lower), unit=bool(unit_diagonal)),
                     shape)


def _triangle_read(node: Expr) -> Expr:
    """T, the triangle of A that solve_triangular reads (transposed when trans): op(T)."""
    p = node.params
    T = tri(node.args[0], ("unit_" if p.unit else "") + ("lower" if p.lower else "upper"))
    return T.mT if p.trans else T


def _solve_triangular_value(n: Any, node: Expr, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    p = n.params
    try:
        if a.ndim > 2 or b.ndim > 2:  # stacks: the triangle read, solved for all members in one call
            t = apply_triangle(("unit_" if p.unit else "") + ("lower" if p.lower else "upper"), a)
            return np.linalg.solve(np.swapaxes(t, -1, -2) if p.trans else t, b)
        result: np.ndarray = sla.solve_triangular(a, b, trans=p.trans, lower=p.lower, unit_diagonal=p.unit,
                                    check_finite=False)
        return result
    except np.linalg.LinAlgError:
        raise np.linalg.LinAlgError(_zero_pivot(node, a)) from None


def _zero_pivot(node: Expr, a: np.ndarray) -> str:
    """The error for a triangle with a zero on its diagonal, naming the solve (and the member)."""
    zero = np.diagonal(a, axis1=-2, axis2=-1) == 0
    where = ""
    if zero.ndim > 1:
        k = first_member(zero.any(axis=-1))
        where, zero = f" in {member_text(k)} of the stack", zero[k]
    i = int(np.argmax(zero))
    side = "lower" if node.params.lower else "upper"
    return (f"{DISPLAY.python(node)}: the {side} triangle of {DISPLAY.python(node.args[0])} is singular "
            f"(zero pivot at diagonal entry {i}){where}")


def _solve_triangular_rule(ev: EvaluationContext, e: Expr) -> Any:
    return ev.op(partial(_solve_triangular_value, NodeInfo(e), e), *[ev(a) for a in e.args])


def _solve_triangular_code(g: CodeContext, e: Expr, a: str, b: str) -> str:
    p = e.params
    if g.name == "torch":
        t = f"{a}.T" if p.trans else a
        upper = p.lower if p.trans else not p.lower
        return f"torch.linalg.solve_triangular({t}, {b}, upper={upper}, unitriangular={p.unit})"
    module, extra = ("sla", ", check_finite=False") if g.name == "numpy" else ("jsla", "")
    return (f"{module}.solve_triangular({a}, {b}, trans={p.trans}, lower={p.lower}, unit_diagonal={p.unit}"
            f"{extra})")


def _solve_triangular_jvp(node: Expr, i: int) -> Any:
    opT, p = _triangle_read(node), node.params
    lower = p.lower != bool(p.trans)  # the triangle of op(T)
    solve = TriSolveMap(opT, None, lower, True, node.shape, label=DISPLAY.python(node))
    if i == 1:  # op(T)⁻¹ dB
        return solve
    n, stack = node.args[0].shape[-1], stack_of(node.shape)
    kind = ("strict_" if p.unit else "") + ("lower" if p.lower else "upper")
    part = TriangleMap(kind, n, stack)  # dT (of A spread over the stack of the result)
    if p.trans:
        part = compose(commutation_map(stack + (n, n)), part)  # op(dT) = dTᵀ
    # −op(T)⁻¹ op(dT) X: the solve applied to op(dT) X
    return scale_map(-1.0, compose(solve.relabel(node.shape, node.shape),
                                   KronMap(None, node, stack + (n, n), node.shape), part))


def _print_solve_triangular(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
    return printer.product([inv(_triangle_read(e)), e.args[1]]), Prec.PROD


def _python_solve_triangular(printer: PrintContext, e: Expr) -> tuple[str, int]:
    q = e.params
    extra = "".join([", trans=1" if q.trans else "", ", lower=True" if q.lower else "",
                     ", unit_diagonal=True" if q.unit else ""])
    return f"solve_triangular({printer(e.args[0])}, {printer(e.args[1])}{extra})", Prec.ATOM


def _rebuild_solve_triangular(node: Expr, args: list[Expr]) -> Expr:
    return solve_triangular(args[0], args[1], node.params.trans, node.params.lower, node.params.unit)


SOLVE_TRIANGULAR = register(
    "solve_triangular", public="solve_triangular", function=solve_triangular,
    signature="(n,n),(n,k)->(n,k)", params=("trans", "lower", "unit"),
    stacks=True,
    evaluate=_solve_triangular_rule, code=lambda g, e, a, b: _solve_triangular_code(g, e, a, b),
    jvp=_solve_triangular_jvp,
    printing=Printing(_print_solve_triangular, _print_solve_triangular, _python_solve_triangular),
    rebuild=_rebuild_solve_triangular,
    identity=("X = T⁻¹B for the triangle T of {arg} that is read ⇒ T dX + dT X = dB ⇒ "
              "dX = T⁻¹ (dB − dT X), dT the same triangle of d{arg}",
              r"X = T^{{-1}} B \Rightarrow \mathrm{{d}}X = T^{{-1}} (\mathrm{{d}}B - \mathrm{{d}}T\, X)"),
    domain=("invertible", ""),
    doc="op(T)⁻¹B for the named triangle T of A, as scipy.linalg.solve_triangular",
)
