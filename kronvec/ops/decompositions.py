"""QR, LU and the pseudo-inverse.

* ``kv.qr(A)``: (Q, R) reduced, A = QR for A (m, n) of full column rank.
  With C = Qᵀ dA R⁻¹ (so QᵀdQ + dR R⁻¹ = C, QᵀdQ skew, dR R⁻¹ upper):

      dR = foldᵤ(C) R,   dQ = dA R⁻¹ − Q foldᵤ(C),   foldᵤ(C) = triu(C) + tril(C, −1)ᵀ.

* ``kv.lu(A)``: (P, L, U) as ``scipy.linalg.lu`` for a square A, A = PLU
  with P a permutation (constant), L unit lower and U upper triangular.
  With X = L⁻¹ Pᵀ dA U⁻¹ = L⁻¹dL + dU U⁻¹:

      dL = L tril(X, −1),   dU = triu(X) U.

* ``kv.pinv(A)``: the Moore–Penrose inverse; along perturbations of constant
  rank (Golub & Pereyra, 1973)

      dA⁺ = −A⁺ dA A⁺ + A⁺A⁺ᵀ dAᵀ (I − AA⁺) + (I − A⁺A) dAᵀ A⁺ᵀA⁺.

The outputs of ``qr`` and ``lu`` share one LAPACK call when evaluated
together; solves with R, L and U are triangular solves.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import scipy.linalg as sla

from ..contexts import CodeContext, PrintContext, StyledPrintContext
from ..dims import size_text
from ..errors import DegenerateError, ShapeError
from ..expr import Expr, NO_PARAMS, as_expr
from ..maps import KronMap, KronTMap, LinearMap, TriangleMap, TriSolveMap, ZeroMap
from ..maps.algebra import add_maps
from ..maps.algebra import compose
from ..maps.algebra import scale_map
from ..registry import DISPLAY, Params, Prec, Printing, register, signature_of
from ..shapes import fmt, matrix_transposed, minimum, sign_of_difference, stack_of
from ._code_templates import code_for
from ._evaluation_rules import with_node
from ._outputs import Output, register_outputs
from ._structure_rules import through
from .arithmetic import add, scale
from .leaves import identity
from .products import matmul
from .rectangular_factors import tall_lu_maps, wide_lu_maps, wide_qr_maps
from .triangular import tri

__all__ = ["qr", "lu", "pinv"]



def _upper_if_square(node: Expr) -> str | None:
    """"upper" for a square factor (a trapezoidal one is not inverted)."""
    return "upper" if node.shape[-1] == node.shape[-2] else None


def _lower_if_square(node: Expr) -> str | None:
    """"lower" for a square factor (a trapezoidal one is not inverted)."""
    return "lower" if node.shape[-1] == node.shape[-2] else None


# ------------------------------------------------------------------- qr
def qr(a: Any) -> tuple[Expr, Expr]:
    """(Q, R) with A = QR, reduced, as ``numpy.linalg.qr(A)`` (mode "reduced").

    For A of shape (m, n) and k = min(m, n): Q (m, k) with QᵀQ = I and R (k, n)
    upper triangular (trapezoidal when wide; LAPACK's signs, which the derivative
    keeps).  For m ≥ n, of full column rank:
    With C = Qᵀ dA R⁻¹:

        dR = foldᵤ(C) R,   dQ = dA R⁻¹ − Q foldᵤ(C),   foldᵤ(C) = triu(C) + tril(C, −1)ᵀ

    (from QᵀdQ + dR R⁻¹ = C with QᵀdQ skew-symmetric and dR R⁻¹ upper
    triangular).  Solves with R are triangular solves; a rank-deficient A
    raises ``LinAlgError`` there.
    """
    a = as_expr(a)
    signature_of(QR).check("qr", [a.shape])
    m, n = a.shape[-2:]
    k, stack = minimum(m, n), stack_of(a.shape)
    Q = Expr.make("qr_Q", (a,), NO_PARAMS, stack + (m, k))
    return Q, Expr.make("qr_R", (a,), NO_PARAMS, stack + (k, n))


def _qr_full(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return np.linalg.qr(a)


def _qr_code(index: int) -> Any:
    return lambda g, e, a: f"{g.let(f'{g.linalg_module}.qr({a})', hint='qr')}[{index}]"


_LU_CALL = code_for(numpy="sla.lu({0}, check_finite=False)", jax="jsla.lu({0})", torch="torch.linalg.lu({0})")


def _lu_code(index: int) -> Any:
    return lambda g, e, a: f"{g.let(_LU_CALL[g.name].format(a), hint='plu')}[{index}]"


def _qr_parts(node: Expr) -> tuple[Expr, Expr, Any, int]:
    a = node.args[0]
    Q, R = qr(a)
    n, square = a.shape[-1], R.shape
    # C = Qᵀ dA R⁻¹, then foldᵤ(C)
    c_map = compose(TriSolveMap(None, R, True, False, square, label=f"{DISPLAY.python(R)} (solve with R)"),
                    KronMap(Q.mT, None, a.shape, square))
    return Q, R, compose(TriangleMap("fold_upper", n, stack_of(a.shape)), c_map), n


def _wide(a: Expr, op: str = "qr") -> bool:
    """Whether A (m, n) is wide, m < n; a ``ShapeError`` when the names leave it open: the
    derivative of a tall and of a wide factorization are different maps."""
    m, n = a.shape[-2:]
    sign = sign_of_difference(m, n)
    if sign is None:
        raise ShapeError(f"{op}: the derivative of the {op.upper()} factors of a matrix of shape "
                         f"{fmt(a.shape)} depends on whether {size_text(m)} ≥ {size_text(n)} (tall) or "
                         f"not (wide), which the names do not say; give the sizes as numbers, or as one "
                         f"name for a square matrix (the factors themselves evaluate at any sizes)")
    return sign < 0


def _qr_r_jvp(node: Expr, i: int) -> Any:
    a = node.args[0]
    if _wide(a):
        return wide_qr_maps(a, *qr(a), DISPLAY.python(node))[1]
    Q, R, fold_c, n = _qr_parts(node)
    return compose(KronMap(None, R, R.shape, R.shape), fold_c)


def _qr_q_jvp(node: Expr, i: int) -> Any:
    a = node.args[0]
    if _wide(a):
        return wide_qr_maps(a, *qr(a), DISPLAY.python(node))[0]
    Q, R, fold_c, n = _qr_parts(node)
    right = TriSolveMap(None, R, True, False, a.shape, label=f"{DISPLAY.python(R)} (solve with R)")
    return add_maps(right, scale_map(-1.0, compose(KronMap(Q, None, R.shape, a.shape), fold_c)))


def _lu_p_jvp(node: Expr, i: int) -> LinearMap:
    """P is piecewise constant: its derivative is zero."""
    return ZeroMap(node.args[0].shape, node.shape)


_QR_IDENTITY = ("{arg} = QR, QᵀQ = I ⇒ C = Qᵀ d{arg} R⁻¹ = QᵀdQ + dR R⁻¹ (skew + upper) ⇒ "
                "dR = foldᵤ(C) R, dQ = d{arg} R⁻¹ − Q foldᵤ(C), foldᵤ(C) = triu(C) + tril(C, −1)ᵀ",
                r"{arg} = QR \Rightarrow C = Q^{{\top}} \mathrm{{d}}{arg}\, R^{{-1}},\ \mathrm{{d}}R = "
                r"\operatorname{{fold}}_U(C) R,\ \mathrm{{d}}Q = \mathrm{{d}}{arg}\, R^{{-1}} - Q "
                r"\operatorname{{fold}}_U(C)")

QR = register(
    "qr", public="qr", function=qr, signature="(m,n)->(m,n)", node=False, outputs=("Q", "R"),
    stacks=True,
    doc="(Q, R), the reduced QR decomposition of a matrix of full column rank",
)
register_outputs("qr", qr, _qr_full, _qr_code, [
    Output("qr_Q", 0, _qr_q_jvp, "qr_Q", r"\operatorname{qr}_Q", "the orthonormal factor Q of qr",
           {"orthonormal": "columns"}),
    Output("qr_R", 1, _qr_r_jvp, "qr_R", r"\operatorname{qr}_R", "the upper triangular factor R of qr",
           {"triangular": _upper_if_square}),
], stacks=True, identity=_QR_IDENTITY)


# ------------------------------------------------------------------- lu
def lu(a: Any) -> tuple[Expr, Expr, Expr]:
    """(P, L, U) with A = PLU, as ``scipy.linalg.lu(A)``.

    For A of shape (m, n) and k = min(m, n): P (m, m) a permutation matrix
    (piecewise constant: its derivative is zero), L (m, k) unit lower triangular
    (trapezoidal when tall), U (k, n) upper triangular (trapezoidal when wide).
    For a square A:  With X = L⁻¹ Pᵀ dA U⁻¹, which is
    L⁻¹dL (strictly lower) + dU U⁻¹ (upper):

        dL = L tril(X, −1),   dU = triu(X) U,

    applied with triangular solves.  A singular A raises ``LinAlgError`` in the
    derivative (U is singular).  Tall and wide A: :mod:`kronvec.ops.rectangular_factors`.
    """
    a = as_expr(a)
    signature_of(LU).check("lu", [a.shape])
    stack, (m, n) = stack_of(a.shape), a.shape[-2:]
    k = minimum(m, n)
    shapes = {"P": (m, m), "L": (m, k), "U": (k, n)}
    return tuple(Expr.make(f"lu_{part}", (a,), NO_PARAMS, stack + shapes[part])  # type: ignore[return-value]
                 for part in "PLU")


def _lu_full(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if a.ndim > 2 and a.shape[-1] == a.shape[-2]:
        return batched_lu(a)
    result: tuple[np.ndarray, np.ndarray, np.ndarray] = sla.lu(a, check_finite=False)
    return result


def batched_lu(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(P, L, U) of every member of a stack of square matrices, as ``scipy.linalg.lu`` gives for
    each (partial pivoting, the first largest pivot, as LAPACK's ``getrf``).

    Gaussian elimination column by column, each step one vectorized operation over all
    members (a loop over the n columns, never over the members).
    """
    n = a.shape[-1]
    lu = np.array(a, dtype=float).reshape((-1, n, n))
    members = np.arange(lu.shape[0])
    perm = np.tile(np.arange(n), (lu.shape[0], 1))
    for j in range(n):
        p = j + np.argmax(np.abs(lu[:, j:, j]), axis=1)
        lu[members, j], lu[members, p] = lu[members, p], lu[members, j].copy()
        perm[members, j], perm[members, p] = perm[members, p], perm[members, j].copy()
        pivot = lu[:, j, j]
        lu[:, j + 1:, j] /= np.where(pivot != 0, pivot, 1.0)[:, None]
        lu[:, j + 1:, j + 1:] -= lu[:, j + 1:, j, None] * lu[:, j, None, j + 1:]
    P = np.zeros_like(lu)
    P[members[:, None], perm, np.arange(n)] = 1.0  # A = P L U: row perm[i] of A is row i of L U
    shape = a.shape
    L = (np.tril(lu, -1) + np.eye(n)).reshape(shape)
    return P.reshape(shape), L, np.triu(lu).reshape(shape)


def _lu_x(node: Expr) -> tuple[Expr, Expr, Any]:
    a = node.args[0]
    P, L, U = lu(a)
    label = DISPLAY.python(node)
    solves = TriSolveMap(L, U, True, False, a.shape, label=f"{label} (solves with L and U)")
    return L, U, compose(solves, KronMap(P.mT, None, a.shape, a.shape))


def _lu_rectangular(node: Expr) -> tuple[Any, Any]:
    a = node.args[0]
    maps = wide_lu_maps if _wide(a, "lu") else tall_lu_maps
    return maps(a, *lu(a), DISPLAY.python(node))


def _lu_l_jvp(node: Expr, i: int) -> Any:
    if node.args[0].shape[-2] != node.args[0].shape[-1]:
        return _lu_rectangular(node)[0]
    L, U, x = _lu_x(node)
    part = TriangleMap("strict_lower", node.shape[-1], stack_of(node.shape))
    return compose(KronMap(L, None, node.shape, node.shape), part, x)


def _lu_u_jvp(node: Expr, i: int) -> Any:
    if node.args[0].shape[-2] != node.args[0].shape[-1]:
        return _lu_rectangular(node)[1]
    L, U, x = _lu_x(node)
    return compose(KronMap(None, U, node.shape, node.shape), TriangleMap("upper", node.shape[-1],
                                                                          stack_of(node.shape)), x)


_LU_IDENTITY = ("{arg} = PLU, P constant ⇒ X = L⁻¹ Pᵀ d{arg} U⁻¹ = L⁻¹dL + dU U⁻¹ (strictly lower + upper) "
                "⇒ dL = L tril(X, −1), dU = triu(X) U",
                r"{arg} = PLU \Rightarrow X = L^{{-1}} P^{{\top}} \mathrm{{d}}{arg}\, U^{{-1}},\ "
                r"\mathrm{{d}}L = L \operatorname{{tril}}(X, -1),\ "
                r"\mathrm{{d}}U = \operatorname{{triu}}(X) U")

LU = register(
    "lu", public="lu", function=lu, signature="(m,n)->(m,n)", node=False, outputs=("P", "L", "U"),
    stacks=True,
    doc="(P, L, U) with A = PLU, as scipy.linalg.lu",
)
register_outputs("lu", lu, _lu_full, _lu_code, [
    Output("lu_P", 0, _lu_p_jvp, "lu_P", r"\operatorname{lu}_P", "the permutation P of lu (constant)"),
    Output("lu_L", 1, _lu_l_jvp, "lu_L", r"\operatorname{lu}_L", "the unit lower triangular factor L of lu",
           {"triangular": _lower_if_square, "identity": _LU_IDENTITY}),
    Output("lu_U", 2, _lu_u_jvp, "lu_U", r"\operatorname{lu}_U", "the upper triangular factor U of lu",
           {"triangular": _upper_if_square, "identity": _LU_IDENTITY}),
], stacks=True)


# ----------------------------------------------------------------- pinv
def pinv(a: Any, rtol: float | None = None, hermitian: bool = False) -> Expr:
    """The Moore–Penrose inverse A⁺ (``numpy.linalg.pinv``), of shape (n, m) for A (m, n).

    Along perturbations that keep the rank (Golub & Pereyra, 1973); the Jacobian exists where
    A has full rank (elsewhere a perturbation changes the rank, and binding or evaluating the
    derivative raises ``kv.DegenerateError``, the rank decided as ``np.linalg.pinv`` does):

        dA⁺ = −A⁺ dA A⁺ + A⁺A⁺ᵀ dAᵀ (I − AA⁺) + (I − A⁺A) dAᵀ A⁺ᵀA⁺,

    which for A of full rank is the derivative (one of the projectors vanishes).

    As NumPy (≥ 2): singular values below ``rtol`` · s₁ count as zero (default
    max(m, n) · ε), and ``hermitian=True`` reads A as symmetric through its lower
    triangle, as ``eigh`` does: A⁺ is then the pseudo-inverse of symₗ(A) =
    tril(A) + tril(A, −1)ᵀ, differentiated through that triangle.
    """
    a = as_expr(a)
    signature_of(PINV).check("pinv", [a.shape])
    if hermitian:
        a = tri(a, "mirror_lower")
    if rtol is None and not hermitian:
        if a.op == "pinv" and not a.params:
            return a.args[0]
        if a.op == "eye":
            return a
        return Expr.make("pinv", (a,), NO_PARAMS, matrix_transposed(a.shape))
    return _pinv_node(a, Params(rtol=None if rtol is None else float(rtol), hermitian=bool(hermitian)))


def _pinv_node(a: Expr, params: Any) -> Expr:
    return Expr.make("pinv", (a,), params, matrix_transposed(a.shape))


def _keywords(params: Any) -> dict[str, Any]:
    """NumPy's keywords of a pinv node (``rtol``, ``hermitian``) that differ from the defaults."""
    return {k: v for k, v in params if k in ("rtol", "hermitian") and v is not None and v is not False}


def _pinv_code(g: CodeContext, e: Expr, x: str) -> str:
    extra = "".join(f", {k}={v!r}" for k, v in _keywords(e.params).items())
    return f"{g.linalg_module}.pinv({x}{extra})"


def _pinv_python(printer: PrintContext, e: Expr) -> tuple[str, int]:
    a = e.args[0]
    hermitian = bool(dict(e.params).get("hermitian"))
    arg = printer(a.args[0] if hermitian and a.op == "tri" else a)
    extra = "".join(f", {k}={v!r}" for k, v in _keywords(e.params).items())
    return f"pinv({arg}{extra})", Prec.ATOM


def _full_rank(a: Expr) -> Expr:
    """A⁺ as a factor of pinv's derivative: the same value, from an evaluation that refuses an A
    whose rank is not full (where the rank changes, and the derivative does not exist)."""
    return Expr.make("pinv", (a,), Params(full_rank=True), matrix_transposed(a.shape))


def _pinv_value(node: Any, x: np.ndarray) -> np.ndarray:
    """``np.linalg.pinv``; for the factors of the derivative, by the SVD with NumPy's cutoff
    max(m, n)·ε·s₁, raising ``kv.DegenerateError`` where a singular value is at or below it."""
    if not dict(node.params).get("full_rank"):
        return np.linalg.pinv(x, **_keywords(node.params))
    u, s, vt = np.linalg.svd(x, full_matrices=False)
    low = ~(s > max(x.shape[-2:]) * np.finfo(float).eps * s[..., :1])
    if low.any():
        member = np.argwhere(low.any(axis=-1))[0] if low.ndim > 1 else ()
        where = f" in member {tuple(int(k) for k in member)} of the stack" if low.ndim > 1 else ""
        rank = int((~low[tuple(member)]).sum())
        raise DegenerateError(f"pinv: no derivative at a matrix of shape {x.shape} of rank {rank} < "
                              f"{min(x.shape[-2:])}{where} (singular values {s[tuple(member)]}): a "
                              f"perturbation changes the rank there")
    result: np.ndarray = np.swapaxes(vt, -1, -2) @ (np.swapaxes(u, -1, -2) / s[..., :, None])
    return result


def _pinv_jvp(node: Expr, i: int) -> Any:
    a = node.args[0]
    X = _full_rank(a)  # A⁺ (n, m), checked for full rank when evaluated
    rtol = dict(node.params).get("rtol")
    if rtol is not None:  # pinv(A, rtol) is A⁺ while the cutoff discards no singular value: checked
        X = Expr.make("pinv_checked", (a, X), Params(rtol=rtol), X.shape)
    m, n = a.shape[-2:]
    left = add(identity(n), scale(-1.0, matmul(X, a)))   # I − A⁺A (n, n)
    right = add(identity(m), scale(-1.0, matmul(a, X)))  # I − AA⁺ (m, m)
    return add_maps(KronMap(scale(-1.0, X), X, a.shape, node.shape),
                    KronTMap(matmul(X, X.mT), right, a.shape, node.shape),
                    KronTMap(left, matmul(X.mT, X), a.shape, node.shape))


def _checked_value(node: Any, a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``x`` (= pinv(a, rtol)), after checking that the cutoff discarded no singular value that the
    default cutoff keeps: the pseudo-inverse's derivative here is that of constant rank."""
    s = np.linalg.svd(a, compute_uv=False)
    top = s[..., :1]
    cut = (s <= node.params.rtol * top) & (s > max(a.shape[-2:]) * np.finfo(float).eps * top)
    if np.any(cut):
        raise DegenerateError(f"pinv(rtol={node.params.rtol!r}): the cutoff discards the singular value "
                              f"{float(s[cut][0]):.3g} (of {float(top.max()):.3g}), so the rank of the "
                              f"truncated pseudo-inverse is not that of A: its derivative is not implemented")
    return x


def _print_pinv(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
    return printer(e.args[0], Prec.ATOM) + ("^{+}" if printer.s.latex else "⁺"), Prec.POSTFIX


PINV = register(
    "pinv", public="pinv", function=pinv, signature="(m,n)->(n,m)",
    stacks=True,
    evaluate=with_node(_pinv_value), code=_pinv_code,
    rebuild=lambda node, args: pinv(args[0]) if not node.params else _pinv_node(args[0], node.params),
    jvp=_pinv_jvp,
    transpose=through(0),
    printing=Printing(_print_pinv, _print_pinv, _pinv_python),
    identity=("{out} = {arg}⁺ (constant rank) ⇒ d{out} = −{out} d{arg} {out} + {out}{out}ᵀ d{arg}ᵀ "
              "(I − {arg}{out}) + (I − {out}{arg}) d{arg}ᵀ {out}ᵀ{out} (Golub–Pereyra)",
              r"\mathrm{{d}}{out} = -{out}\, \mathrm{{d}}{arg}\, {out} + {out}{out}^{{\top}} "
              r"\mathrm{{d}}{arg}^{{\top}} (I - {arg}{out}) + (I - {out}{arg}) \mathrm{{d}}{arg}^{{\top}} "
              r"{out}^{{\top}}{out}"),
    doc="the Moore–Penrose pseudo-inverse A⁺ (its derivative at constant rank)",
)
def _pinv_checked(a: Expr, x: Expr, rtol: float | None) -> Expr:
    return Expr.make("pinv_checked", (a, x), Params(rtol=rtol), x.shape)


def _pinv_checked_jvp(node: Expr, i: int) -> LinearMap:
    """The value passes through (argument 1); the checked matrix (argument 0) has no derivative."""
    if i == 1:
        return KronMap(None, None, node.shape, node.shape)
    return ZeroMap(node.args[0].shape, node.shape)


def _print_checked_value(printer: PrintContext, e: Expr) -> tuple[str, int]:
    """Printed as the value it checks (pinv(A, rtol))."""
    return printer.render(e.args[1])


register(
    "pinv_checked",
    function=_pinv_checked,
    stacks=True, params=("rtol",),
    evaluate=with_node(_checked_value), code="{1}",
    jvp=_pinv_checked_jvp,
    printing=Printing(*(_print_checked_value,) * 3),
    doc="pinv(A, rtol) in a derivative, checked to discard no singular value (the value of pinv)",
)
