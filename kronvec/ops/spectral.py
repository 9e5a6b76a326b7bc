"""Spectral decompositions: eigh, eigvalsh and svd (the norms through the SVD: ``svd_norms``).

Each output of a decomposition is its own node (w and V of ``eigh``; U, s
and Vᵀ of ``svd``), so each differentiates, prints and combines on its own;
the outputs of one decomposition share one LAPACK call through
:meth:`Evaluator.shared <kronvec.evaluation.Evaluator.shared>`, and the
values alone (``eigvalsh``, ``svd(A, compute_uv=False)``) use the cheaper
values-only call unless the vectors are wanted too.

Derivatives (A = V diag(w) Vᵀ, dAₛ the symmetric matrix mirrored from the
triangle that is read; A = U diag(s) Vᵀ reduced, P = Uᵀ dA V):

* dw = diag(Vᵀ dAₛ V);  dV = V (F ⊙ Vᵀ dAₛ V),  Fᵢⱼ = 1/(wⱼ − wᵢ) (i ≠ j), Fᵢᵢ = 0;
* ds = diag(P);  dU = U (F ⊙ (PS + SPᵀ)) + (I − UUᵀ) dA V S⁻¹,
  dV = V (F ⊙ (SP + PᵀS)) + (I − VVᵀ) dAᵀ U S⁻¹,  Fᵢⱼ = 1/(sⱼ² − sᵢ²)
  (Townsend, "Differentiating the singular value decomposition", 2016).

F is the node ``gapinv``: at a repeated eigenvalue (singular value) it raises
:class:`~kronvec.DegenerateError` naming the value and the gap, since the
vectors have no derivative there; values and their derivatives (and the
gradients of functions of them) stay defined.
"""
from __future__ import annotations

from functools import partial
from operator import itemgetter
from typing import Any, Literal, Sequence

import numpy as np

from ..contexts import CodeContext, EvaluationContext, PrintContext, StyledPrintContext
from ..errors import DegenerateError
from ..expr import Expr, NO_PARAMS, as_expr
from ..maps import (DiagExtractMap, ElementwiseMap, KronMap, KronTMap, TriangleMap,
                    commutation_map)
from ..maps.algebra import add_maps
from ..maps.algebra import compose
from ..registry import Params, Prec, Printing, register, signature_of
from ..shapes import first_member, fmt, member_text, minimum, stack_of
from ._code_templates import code_eigh
from ._evaluation_rules import with_node
from ._outputs import Output, register_outputs
from ._printing_rules import func_print, py_call
from .arithmetic import add, hadamard, power, scale
from .leaves import identity, ones
from .products import matmul, matrix_transpose
from .structure import diag

__all__ = ["eigh", "eigvalsh", "svd", "gapinv", "svd_parts", "eigh_pair"]


_EPS = np.finfo(float).eps


def _uplo(UPLO: Any) -> str:
    if UPLO not in ("L", "U"):
        raise ValueError(f"eigh: UPLO must be 'L' or 'U', got {UPLO!r}")
    result: str = UPLO
    return result


def _mirror(uplo: str) -> str:
    return "mirror_lower" if uplo == "L" else "mirror_upper"


# --------------------------------------------------------------- gapinv
def gapinv(x: Any, what: str = "eigh", nonzero: bool = False) -> Expr:
    """F(x): Fᵢⱼ = 1/(xⱼ − xᵢ) for i ≠ j and 0 on the diagonal, for a column x (n, 1).

    The factor of eigenvector (x = w) and singular vector (x = s∘²)
    derivatives.  Evaluating it at a repeated value raises
    :class:`~kronvec.DegenerateError` naming the value and the gap (``what``
    says whose: ``"eigh"`` or ``"svd"``); with ``nonzero`` also at a value 0
    (the singular vectors of a non-square matrix need nonzero singular values).
    Its differential is dFᵢⱼ = −Fᵢⱼ² (dxⱼ − dxᵢ).
    """
    x = as_expr(x)
    if len(x.shape) < 2 or x.shape[-1] != 1:
        raise ValueError(f"gapinv: needs an (n, 1) column, got shape {fmt(x.shape)}")
    n = x.shape[-2]
    return Expr.make("gapinv", (x,), Params(what=what, nonzero=bool(nonzero)), x.shape[:-1] + (n,))


def gap_inverse(x: np.ndarray, what: str = "eigh", nonzero: bool = False) -> np.ndarray:
    """The value of F(x) (see :func:`gapinv`), or a DegenerateError at a repeated value."""
    if np.ndim(x) > 2:
        return _gap_inverse_stack(np.asarray(x, dtype=float)[..., 0], what, nonzero)
    d = np.asarray(x, dtype=float).reshape(-1)
    n = d.size
    gaps = d[None, :] - d[:, None]  # xⱼ − xᵢ
    scale_ = float(np.max(np.abs(d), initial=0.0))
    tol = 10.0 * max(n, 1) * _EPS * max(scale_, np.finfo(float).tiny)
    off = ~np.eye(n, dtype=bool)
    close = off & (np.abs(gaps) <= tol)
    values, noun, vectors = ("w", "eigenvalue", "eigenvectors") if what == "eigh" else \
        ("s", "singular value", "singular vectors")
    shown = (lambda v: v) if what == "eigh" else (lambda v: float(np.sqrt(max(v, 0.0))))
    if close.any():
        i, j = map(int, np.argwhere(close)[0])
        raise DegenerateError(
            f"{what}: the {vectors} have no derivative at a repeated {noun}: {values}[{i}] = "
            f"{values}[{j}] = {shown(d[i]):.6g} (gap {abs(shown(d[j]) - shown(d[i])):.3g}; gaps at or "
            f"below {tol:.3g} in {'s²' if what == 'svd' else 'w'} count as repeated)")
    if nonzero and np.any(np.abs(d) <= tol):
        i = int(np.argmin(np.abs(d)))
        raise DegenerateError(f"{what}: the {vectors} of a non-square matrix have no derivative at a "
                              f"zero {noun}: {values}[{i}] = {shown(d[i]):.3g}")
    out = np.zeros((n, n))
    out[off] = 1.0 / gaps[off]
    return out


def _gap_inverse_stack(d: np.ndarray, what: str, nonzero: bool) -> np.ndarray:
    """F(x) for every member of a stack (d: the values, ``(..., n)``), in batched operations;
    a DegenerateError names the member and the repeated value."""
    n = d.shape[-1]
    gaps = d[..., None, :] - d[..., :, None]
    scale_ = np.maximum(np.max(np.abs(d), axis=-1, initial=0.0), np.finfo(float).tiny)
    tol = 10.0 * max(n, 1) * _EPS * scale_
    off = ~np.eye(n, dtype=bool)
    close = off & (np.abs(gaps) <= tol[..., None, None])
    small = nonzero & (np.abs(d) <= tol[..., None])
    bad = close.any(axis=(-2, -1)) | small.any(axis=-1)
    if bad.any():
        k = first_member(bad)
        try:
            gap_inverse(d[k][:, None], what, nonzero)
        except DegenerateError as err:
            raise DegenerateError(f"{member_text(k)} of the stack: {err}") from None
    out = np.zeros(gaps.shape)
    with np.errstate(divide="ignore"):
        np.divide(1.0, gaps, out=out, where=off)
    return out


def _gapinv_code(g: CodeContext, e: Expr, x: str) -> str:
    if g.name == "numpy":  # as evaluated: a DegenerateError at a repeated value
        return f"{g.helper('gap_inverse', gap_inverse)}({x}, {e.params.what!r}, {e.params.nonzero})"
    eye = g.let(g.eye(e.shape[0]), hint="I")
    return f"(1.0 - {eye}) / ({x}.T - {x} + {eye})"  # 1/(xⱼ − xᵢ) off the diagonal, 0 on it


def _gapinv_jvp(node: Expr, i: int) -> Any:
    # dFᵢⱼ = −Fᵢⱼ² (dxⱼ − dxᵢ) = −F∘² ⊙ (𝟙 dxᵀ − dx 𝟙ᵀ)
    n, stack = node.shape[-1], stack_of(node.shape)
    col, square = stack + (n, 1), stack + (n, n)
    spread = add_maps(KronTMap(ones(n, 1), None, col, square),
                      -1.0 * KronMap(None, ones(1, n), col, square))
    return compose(ElementwiseMap(scale(-1.0, hadamard(node, node)), square), spread)


register(
    "gapinv", function=gapinv, params=("what", "nonzero"), stacks=True,
    evaluate=with_node(lambda n, x: gap_inverse(x, n.params.what, n.params.nonzero)),
    code=lambda g, e, x: _gapinv_code(g, e, x),
    jvp=_gapinv_jvp,
    printing=Printing(func_print("F"), func_print("F"), py_call("gapinv")),
    rebuild=lambda node, args: gapinv(args[0], node.params.what, node.params.nonzero),
    doc="F(x)ᵢⱼ = 1/(xⱼ − xᵢ), the gap factor of eigenvector and singular vector derivatives",
)


# ----------------------------------------------------------------- eigh
def eigvalsh(a: Any, UPLO: str = "L") -> Expr:
    """The eigenvalues w of a symmetric A, ascending, as an (n, 1) column (``numpy.linalg.eigvalsh``).

    Only the ``UPLO`` triangle of A is read ("L" lower, "U" upper): A stands
    for the symmetric matrix Aₛ mirrored from it.  With A = V diag(w) Vᵀ,

        dw = diag(Vᵀ dAₛ V),

    which exists also at repeated eigenvalues (where it is the derivative of
    the sorted eigenvalues along directions that do not split them).
    """
    a = as_expr(a)
    shape = signature_of(EIGVALSH).check("eigvalsh", [a.shape])
    return Expr.make("eigvalsh", (a,), Params(UPLO=_uplo(UPLO)), shape)


def _eigh_full(uplo: Literal["L", "U"], a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    w, v = np.linalg.eigh(a, UPLO=uplo)
    return w[..., None], v


_VECTOR_OPS = ("eigh_vectors", "eigh_column", "eigh_resolvent", "eigfun")
"""The ops whose values need eigh's vectors: with one of them the eigenvalues come from the same call."""


def eigh_pair(ev: Any, a: Expr, uplo: Literal["L", "U"]) -> Any:
    """The value (w as a column, V) of ``eigh(a, UPLO)``, from the one LAPACK call its outputs share."""
    return ev.shared(("eigh", a, uplo), partial(_eigh_full, uplo), ev(a))


def _eigvalsh_value(ev: EvaluationContext, e: Expr) -> np.ndarray:
    a, uplo = e.args[0], e.params.UPLO
    key = ("eigh", a, uplo)
    if ev.has_shared(key) or any(ev.mentions(op) for op in _VECTOR_OPS):
        result: np.ndarray = ev.op(itemgetter(0), ev.shared(key, partial(_eigh_full, uplo), ev(a)))
        return result
    result = ev.op(partial(_eigvalsh_only, uplo), ev(a))
    return result


def _eigvalsh_code(g: CodeContext, e: Expr, a: str) -> str:
    uplo = e.params.UPLO
    if g.evaluates(eigenvectors(e.args[0], uplo)) or g.name == "jax":  # one eigh for both (JAX:
        # its eigvalsh symmetrizes A instead of reading one triangle)
        return f"{code_eigh(g, a, uplo)}[0][:, None]"
    return f"{g.linalg_module}.eigvalsh({a}, UPLO={uplo!r})[:, None]"


def _svd_code(index: int) -> Any:
    def code(g: CodeContext, e: Expr, a: str) -> str:
        a_ = e.args[0]
        full = index != 1 or g.evaluates(svd_factor(a_, "U")) or g.evaluates(svd_factor(a_, "Vt"))
        if not full:
            return f"{g.linalg_module}.svdvals({a})[:, None]" if g.name == "torch" else \
                f"{g.linalg_module}.svd({a}, compute_uv=False)[:, None]"
        usv = g.let(f"{g.linalg_module}.svd({a}, full_matrices=False)", hint="svd")
        return f"{usv}[1][:, None]" if index == 1 else f"{usv}[{index}]"
    return code


def _eigvalsh_only(uplo: Literal["L", "U"], a: np.ndarray) -> np.ndarray:
    return np.linalg.eigvalsh(a, UPLO=uplo)[..., None]


def eigenvectors(a: Expr, uplo: str) -> Expr:
    """The eigenvector node V of ``eigh(A, UPLO)`` (use :func:`eigh`)."""
    return Expr.make("eigh_vectors", (a,), Params(UPLO=uplo), a.shape)


def _eigvalsh_jvp(node: Expr, i: int) -> Any:
    a, uplo = node.args[0], node.params.UPLO
    V, n, stack = eigenvectors(a, uplo), a.shape[-1], stack_of(a.shape)
    return compose(DiagExtractMap(n, stack), KronMap(V.mT, V, a.shape, a.shape),
                   TriangleMap(_mirror(uplo), n, stack))


def _eigvectors_jvp(node: Expr, i: int) -> Any:
    a, uplo, V, n = node.args[0], node.params.UPLO, node, node.shape[-1]
    F = gapinv(eigvalsh(a, uplo), "eigh")
    return compose(KronMap(V, None, a.shape, a.shape), ElementwiseMap(F, a.shape),
                   KronMap(V.mT, V, a.shape, a.shape), TriangleMap(_mirror(uplo), n, stack_of(a.shape)))


def _py_uplo(name: str) -> Any:
    def render(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
        extra = ", UPLO='U'" if e.params.UPLO == "U" else ""
        return f"{name}({printer(e.args[0])}{extra})", Prec.ATOM
    return render


_EIGH_IDENTITY = ("{arg} = V diag(w) Vᵀ, VᵀV = I ⇒ Vᵀ d{arg} V = diag(dw) + (VᵀdV) diag(w) − diag(w) (VᵀdV) "
                  "⇒ dw = diag(Vᵀ d{arg} V), dV = V (F ⊙ Vᵀ d{arg} V) with Fᵢⱼ = 1/(wⱼ − wᵢ)",
                  r"{arg} = V \operatorname{{diag}}(w) V^{{\top}} \Rightarrow \mathrm{{d}}w = "
                  r"\operatorname{{diag}}(V^{{\top}} \mathrm{{d}}{arg}\, V),\ \mathrm{{d}}V = V (F \odot "
                  r"V^{{\top}} \mathrm{{d}}{arg}\, V),\ F_{{ij}} = 1/(w_j - w_i)")

EIGVALSH = register(
    "eigvalsh", public="eigvalsh", function=eigvalsh, signature="(n,n)->(n,1)", params=("UPLO",),
    stacks=True,
    evaluate=_eigvalsh_value, code=_eigvalsh_code,
    jvp=_eigvalsh_jvp,
    printing=Printing(func_print("λ"), func_print(r"\lambda"), _py_uplo("eigvalsh")),
    identity=_EIGH_IDENTITY,
    doc="the eigenvalues of a symmetric matrix, ascending, as a column (reads the UPLO triangle)",
)

def _eigenvectors_value(ev: EvaluationContext, e: Expr) -> Any:
    """V from the eigendecomposition shared with the eigenvalues (one LAPACK call)."""
    a, uplo = e.args[0], e.params.UPLO
    return ev.op(itemgetter(1), ev.shared(("eigh", a, uplo), partial(_eigh_full, uplo), ev(a)))


def _eigenvectors_code(g: CodeContext, e: Expr, a: str) -> str:
    return f"{code_eigh(g, a, e.params.UPLO)}[1]"


def _python_eigenvectors(printer: PrintContext, e: Expr) -> tuple[str, int]:
    return f"eigh({printer(e.args[0])})[1]", Prec.ATOM


def _rebuild_eigenvectors(node: Expr, args: Sequence[Expr]) -> Expr:
    return eigenvectors(args[0], node.params.UPLO)


register(
    "eigh_vectors", function=eigenvectors, params=("UPLO",), stacks=True,
    evaluate=_eigenvectors_value, code=_eigenvectors_code,
    jvp=_eigvectors_jvp, orthonormal="columns",
    printing=Printing(func_print("eigvecs"), func_print(r"\operatorname{eigvecs}"), _python_eigenvectors),
    rebuild=_rebuild_eigenvectors,
    identity=_EIGH_IDENTITY,
    doc="the orthonormal eigenvectors V of eigh (columns in the order of w)",
)


def eigh(a: Any, UPLO: str = "L") -> tuple[Expr, Expr]:
    """(w, V) with A = V diag(w) Vᵀ for a symmetric A, as ``numpy.linalg.eigh``.

    w are the eigenvalues, ascending, as an (n, 1) column; V the orthonormal
    eigenvectors (column j for w[j]).  Only the ``UPLO`` triangle of A is read,
    so A stands for the symmetric Aₛ mirrored from it, and

        dw = diag(Vᵀ dAₛ V),   dV = V (F ⊙ Vᵀ dAₛ V),   Fᵢⱼ = 1/(wⱼ − wᵢ), Fᵢᵢ = 0.

    Both are ordinary expressions; evaluated together they share one LAPACK
    call.  At a repeated eigenvalue dV does not exist: evaluating it raises
    :class:`~kronvec.DegenerateError` naming the eigenvalue and the gap.
    """
    a = as_expr(a)
    signature_of(EIGH).check("eigh", [a.shape])
    uplo = _uplo(UPLO)
    return eigvalsh(a, uplo), eigenvectors(a, uplo)


EIGH = register(
    "eigh", public="eigh", function=eigh, signature="(n,n)->(n,1)", node=False, outputs=("w", "V"),
    stacks=True,
    doc="(w, V): eigenvalues (ascending column) and eigenvectors of a symmetric matrix",
)


# ------------------------------------------------------------------ svd
def _k(a: Expr) -> int:
    k: int = minimum(*a.shape[-2:])  # min(n, m) when names leave the order open
    return k


def svd(a: Any, compute_uv: bool = True) -> Any:
    """(U, s, Vᵀ) with A = U diag(s) Vᵀ, reduced, as ``numpy.linalg.svd(A, full_matrices=False)``.

    For A of shape (m, n) and k = min(m, n): U (m, k), s (k, 1) descending,
    Vᵀ (k, n); with ``compute_uv=False`` only s.  With P = Uᵀ dA V and
    S = diag(s):

        ds = diag(P),
        dU = U (F ⊙ (PS + SPᵀ)) + (I − UUᵀ) dA V S⁻¹,
        dV = V (F ⊙ (SP + PᵀS)) + (I − VVᵀ) dAᵀ U S⁻¹,   Fᵢⱼ = 1/(sⱼ² − sᵢ²).

    U and V need distinct (and, for a non-square A, nonzero) singular values:
    elsewhere evaluating their derivatives raises :class:`~kronvec.DegenerateError`.
    """
    a = as_expr(a)
    signature_of(SVD).check("svd", [a.shape])
    s = Expr.make("svdvals", (a,), NO_PARAMS, stack_of(a.shape) + (_k(a), 1))
    if not compute_uv:
        return s
    return svd_factor(a, "U"), s, svd_factor(a, "Vt")


def svd_factor(a: Expr, which: str) -> Expr:
    """The node U (``which="U"``) or Vᵀ (``"Vt"``) of ``svd(A)`` (use :func:`svd`)."""
    m, n = a.shape[-2:]
    shape = (m, _k(a)) if which == "U" else (_k(a), n)
    return Expr.make("svd_" + which, (a,), NO_PARAMS, stack_of(a.shape) + shape)


def _svd_full(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    u, s, vt = np.linalg.svd(a, full_matrices=False)
    return u, s[..., None], vt


def _svd_values(ev: EvaluationContext, e: Expr) -> np.ndarray:
    key = ("svd", e.args[0])
    if ev.has_shared(key) or ev.mentions("svd_U") or ev.mentions("svd_Vt"):
        result: np.ndarray = ev.op(itemgetter(1), ev.shared(key, _svd_full, ev(e.args[0])))
        return result
    result = ev.op(_svd_values_only, ev(e.args[0]))
    return result


def _svd_values_only(a: np.ndarray) -> np.ndarray:
    return np.linalg.svd(a, compute_uv=False)[..., None]


def svd_parts(a: Expr) -> tuple[Expr, Expr, Expr, Expr, int]:
    """(U, s, Vᵀ, V, k) of the reduced SVD of ``a``, k = min(m, n)."""
    U, s, Vt = svd(a)
    return U, s, Vt, matrix_transpose(Vt), _k(a)


def _svdvals_jvp(node: Expr, i: int) -> Any:
    U, _, _, V, k = svd_parts(node.args[0])
    stack = stack_of(node.args[0].shape)
    return compose(DiagExtractMap(k, stack), KronMap(U.mT, V, node.args[0].shape, stack + (k, k)))


def _complement(Q: Expr) -> Expr:
    """I − QQᵀ, the projector onto the orthogonal complement of Q's columns."""
    return add(identity(Q.shape[-2]), scale(-1.0, matmul(Q, Q.mT)))


def _svd_u_jvp(node: Expr, i: int) -> Any:
    a = node.args[0]
    (m, n), (U, s, _, V, k), st = a.shape[-2:], svd_parts(a), stack_of(a.shape)
    S, Sinv = diag(s), diag(power(s, -1.0))
    F = gapinv(power(s, 2.0), "svd", nonzero=m != n)
    inner = add_maps(KronMap(U.mT, matmul(V, S), a.shape, st + (k, k)),
                     KronTMap(matmul(S, V.mT), U, a.shape, st + (k, k)))
    dU = compose(KronMap(U, None, st + (k, k), st + (m, k)), ElementwiseMap(F, st + (k, k)), inner)
    if m != k:  # k = min(m, n) < m, or unknown (sizes as names): the term is zero where m = k
        dU = add_maps(dU, KronMap(_complement(U), matmul(V, Sinv), a.shape, st + (m, k)))
    return dU


def _svd_vt_jvp(node: Expr, i: int) -> Any:
    a = node.args[0]
    (m, n), (U, s, _, V, k), st = a.shape[-2:], svd_parts(a), stack_of(a.shape)
    S, Sinv = diag(s), diag(power(s, -1.0))
    F = gapinv(power(s, 2.0), "svd", nonzero=m != n)
    inner = add_maps(KronMap(matmul(S, U.mT), V, a.shape, st + (k, k)),
                     KronTMap(V.mT, matmul(U, S), a.shape, st + (k, k)))
    dV = compose(KronMap(V, None, st + (k, k), st + (n, k)), ElementwiseMap(F, st + (k, k)), inner)
    if n != k:
        dV = add_maps(dV, KronTMap(_complement(V), matmul(U, Sinv), a.shape, st + (n, k)))
    return compose(commutation_map(st + (n, k)), dV)


_SVD_IDENTITY = ("{arg} = U diag(s) Vᵀ ⇒ P = Uᵀ d{arg} V = UᵀdU S + dS + S dVᵀV ⇒ ds = diag(P), "
                 "dU = U (F ⊙ (PS + SPᵀ)) + (I − UUᵀ) d{arg} V S⁻¹, dV = V (F ⊙ (SP + PᵀS)) + "
                 "(I − VVᵀ) d{arg}ᵀ U S⁻¹ with Fᵢⱼ = 1/(sⱼ² − sᵢ²)",
                 r"{arg} = U \operatorname{{diag}}(s) V^{{\top}} \Rightarrow \mathrm{{d}}s = "
                 r"\operatorname{{diag}}(U^{{\top}} \mathrm{{d}}{arg}\, V)")


def _python_svdvals(printer: PrintContext, e: Expr) -> tuple[str, int]:
    return f"svd({printer(e.args[0])}, compute_uv=False)", Prec.ATOM


SVD = register(
    "svd", public="svd", function=svd, signature="(m,n)->(m,n)", node=False, stacks=True,
    outputs=("U", "s", "Vt"),
    doc="(U, s, Vᵀ), the reduced singular value decomposition; s alone with compute_uv=False",
)
register_outputs("svd", svd, _svd_full, _svd_code, [
    Output("svdvals", 1, _svdvals_jvp, "svdvals", r"\operatorname{svdvals}",
           "the singular values s of svd, descending, as a column",
           {"function": partial(svd, compute_uv=False), "evaluate": _svd_values,
            "printing": Printing(func_print("svdvals"), func_print(r"\operatorname{svdvals}"),
                                 _python_svdvals)}),
    Output("svd_U", 0, _svd_u_jvp, "svd_U", r"\operatorname{svd}_U", "the left singular vectors U of svd",
           {"function": partial(svd_factor, which="U"), "orthonormal": "columns"}),
    Output("svd_Vt", 2, _svd_vt_jvp, "svd_Vt", r"\operatorname{svd}_{V^\top}",
           "the right singular vectors Vᵀ of svd",
           {"function": partial(svd_factor, which="Vt"), "orthonormal": "rows"}),
], stacks=True, identity=_SVD_IDENTITY)
