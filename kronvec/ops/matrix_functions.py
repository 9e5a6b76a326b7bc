"""Matrix functions: expm, sqrtm and logm, and their Fréchet derivatives.

Each derivative is a lazy map whose adjoint is the same derivative at Aᵀ
(f(Aᵀ) = f(A)ᵀ for these primary functions): ``ExpmFrechetMap`` and
``MatrixFunctionFrechetMap`` (Sylvester equation for sqrtm, the 2n × 2n
block formula for logm, Daleckii–Krein for symmetric values).  The Fréchet
derivatives are nodes too (``expm_frechet``, ``sqrtm_frechet``,
``logm_frechet``), so gradients print and differentiate again:
L(A, I) simplifies (to e^A, ½ S⁻¹, A⁻¹), which keeps traces of these
functions exact at repeated eigenvalues.
"""
from __future__ import annotations

from functools import partial
from typing import Any, Callable

import numpy as np
import scipy.linalg as sla

from ..contexts import CodeContext, EvaluationContext, StyledPrintContext
from ..errors import ShapeError
from ..expr import Expr, NO_PARAMS, as_expr
from ..maps import ExpmFrechetMap, KronMap, LogmSecondMap, MatrixFunctionFrechetMap
from ..maps.algebra import add_maps
from ..maps.algebra import compose
from ..maps.algebra import scale_map
from ..maps.expm_second import ExpmSecondMap, expm_second
from ..maps.frechet import all_symmetric, logm_second, real_logm, real_sqrtm
from ..maps.terms import expm_frechet_stack
from ..registry import Prec, Printing, Transpose, register, signature_of
from ..shapes import Shape, broadcast_shapes_nd, divmod_index, fmt, member_text, whole_shape
from ._code_templates import code_eigenbasis_frechet, code_eigh, code_for
from ._frechet2_code import code_expm_second, code_logm_second
from ._evaluation_rules import lift
from ._jvp_rules import map_shapes
from ._printing_rules import call_printing, py_call
from ._structure_rules import transposed_alike
from .arithmetic import scale
from .leaves import identity, zeros
from .products import inv

__all__ = ["expm", "expm_frechet", "expm_frechet2", "sqrtm", "logm", "sqrtm_frechet", "logm_frechet",
           "logm_frechet2"]



def expm(a: Any) -> Expr:
    """The matrix exponential e^A = Σₖ Aᵏ/k!.

    Its derivative is the Fréchet derivative d e^A = L(A, dA), a lazy map whose
    adjoint is L(Aᵀ, ·).  A stack of matrices (three or more axes) gives the
    exponential of each member, evaluated by one batched ``scipy.linalg.expm``;
    its derivative is L(A, dA) member by member, applied to the whole stack at
    once (the block formula of :func:`kronvec.maps.terms.expm_frechet_stack`).
    """
    a = as_expr(a)
    signature_of(EXPM).check("expm", [a.shape])
    if a.op == "zeros" and a.ndim == 2:
        return identity(a.shape[0])
    return Expr.make("expm", (a,), NO_PARAMS, a.shape)


def _print_expm(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
    """expm(A), and expm(A)ᵀ for e^(Aᵀ) = (e^A)ᵀ."""
    arg = e.args[0]
    name = r"\operatorname{expm}" if printer.s.latex else "expm"
    if arg.op == "matrix_transpose" and arg not in printer.names:
        return printer.s.func(name, printer(arg.args[0])) + printer.s.transpose, Prec.POSTFIX
    return printer.s.func(name, printer(arg)), Prec.ATOM


EXPM = register(
    "expm", public="expm", function=expm, signature="(n,n)->(n,n)",
    evaluate=lift(sla.expm),
    code=code_for(numpy="sla.expm({0})", jax="jsla.expm({0})", torch="torch.linalg.matrix_exp({0})"),
    jvp=lambda node, i: ExpmFrechetMap(node.args[0], node.shape),
    transpose=Transpose((0,), transposed_alike),
    printing=Printing(_print_expm, _print_expm, py_call("expm")),
    stacks=True,
    doc="the matrix exponential e^A",
)


def _block_frechet(g: CodeContext, node: Expr, a: str, h: str) -> str:
    """L(A, E) as the upper right block of exp [[A, E], [0, A]] (generated code)."""
    n = node.shape[0]
    big = f"torch.cat([torch.cat([{a}, {h}], 1), torch.cat([{g.zeros((n, n))}, {a}], 1)], 0)"
    return f"torch.linalg.matrix_exp({big})[:{n}, {n}:]"


def expm_frechet(a: Any, e: Any) -> Expr:
    """L(A, E): the Fréchet derivative of e^A in the direction E.

    ``d expm(A) = L(A, dA)``; its adjoint is L(Aᵀ, ·).  For stacks, L(Aᵢ, Eᵢ)
    of each member, the stack axes of A and E broadcast (a matrix E or A
    serves every member).
    """
    a, e = as_expr(a), as_expr(e)
    signature_of(EXPM).check("expm_frechet", [a.shape])
    signature_of(EXPM).check("expm_frechet", [e.shape])
    if e.shape[-2:] != a.shape[-2:]:
        raise ShapeError(f"expm_frechet: shapes {fmt(a.shape)} and {fmt(e.shape)} differ")
    try:
        shape = broadcast_shapes_nd("expm_frechet", a.shape, e.shape)
    except ValueError:
        raise ShapeError(f"expm_frechet: the stack axes of {fmt(a.shape)} and {fmt(e.shape)} "
                         f"could not be broadcast") from None
    if e.op == "zeros":
        return zeros(shape)
    if shape == a.shape and e.op == "eye":  # A commutes with I: L(A, I) = ∫ e^{sA} e^{(1-s)A} ds = e^A
        return expm(a)
    if shape == a.shape and e.op == "scale" and e.args[0].op == "eye":
        return scale(e.params.coef, expm(a))
    return Expr.make("expm_frechet", (a, e), NO_PARAMS, shape)


def _expm_frechet_value(a: np.ndarray, h: np.ndarray) -> np.ndarray:
    """L(A, H): SciPy's ``expm_frechet`` for a matrix, the batched block formula for a stack."""
    if a.ndim > 2 or h.ndim > 2:
        return expm_frechet_stack(a, h)
    result: np.ndarray = sla.expm_frechet(a, h, compute_expm=False, check_finite=False)
    return result


def _expm_frechet_jvp(node: Expr, i: int) -> Any:
    a, e = node.args
    if i == 1:
        return ExpmFrechetMap(a, map_shapes(node, 1)[0])
    return ExpmSecondMap(a, e, map_shapes(node, 0)[0])  # d L(A, E) = L²(A; dA, E)


def expm_frechet2(a: Any, h: Any, e: Any) -> Expr:
    """L²_expm(A; H, E): the second Fréchet derivative of expm (that of L(A, E) in A along H).

    Symmetric in H and E; the stack axes of A, H and E broadcast.  Evaluated
    from the (1, 3) blocks of expm([[A, H, 0], [0, A, E], [0, 0, A]]) and of
    the same with H and E swapped (:func:`kronvec.maps.expm_second.expm_second`).
    """
    a, h, e = as_expr(a), as_expr(h), as_expr(e)
    for x in (a, h, e):
        signature_of(EXPM).check("expm_frechet2", [x.shape])
    if not h.shape[-2:] == e.shape[-2:] == a.shape[-2:]:
        raise ShapeError(f"expm_frechet2: shapes {fmt(a.shape)}, {fmt(h.shape)} and {fmt(e.shape)} differ")
    try:
        shape = broadcast_shapes_nd("expm_frechet2", a.shape, h.shape, e.shape)
    except ValueError:
        raise ShapeError(f"expm_frechet2: the stack axes of {fmt(a.shape)}, {fmt(h.shape)} and "
                         f"{fmt(e.shape)} could not be broadcast") from None
    if h.op == "zeros" or e.op == "zeros":
        return zeros(shape)
    return Expr.make("expm_frechet2", (a, h, e), NO_PARAMS, shape)


def _expm_frechet2_jvp(node: Expr, i: int) -> Any:
    a, h, e = node.args
    if i == 0:
        raise NotImplementedError(f"expm_frechet2: third derivatives through expm (the derivative of its "
                                  f"second Fréchet derivative in A, here of shape {fmt(a.shape)}) are not "
                                  f"supported")
    return ExpmSecondMap(a, e if i == 1 else h, map_shapes(node, i)[0])


register(
    "expm_frechet", function=expm_frechet,
    evaluate=lift(_expm_frechet_value),
    code=code_for(numpy="sla.expm_frechet({0}, {1}, compute_expm=False, check_finite=False)",
                  jax="jsla.expm_frechet({0}, {1}, compute_expm=False)",
                  torch=lambda g, e, a, h: _block_frechet(g, e, a, h)),
    jvp=_expm_frechet_jvp,
    printing=call_printing("L_expm", r"\operatorname{L_expm}", "expm_frechet"),
    stacks=True,
    doc="the Fréchet derivative L(A, E) of expm (appears in derivatives of expm)",
)
register(
    "expm_frechet2", function=expm_frechet2,
    evaluate=lift(expm_second),
    code=code_for(numpy=lambda g, e, a, h, x: f"{g.helper('expm_second', expm_second)}({a}, {h}, {x})",
                  other=code_expm_second),
    jvp=_expm_frechet2_jvp,
    printing=call_printing("L²_expm", r"\operatorname{L^2_{expm}}", "expm_frechet2"),
    stacks=True,
    doc="the second Fréchet derivative L²(A; H, E) of expm (appears in Hessians through expm)",
)


# ------------------------------------------------------- sqrtm and logm
def sqrtm(a: Any) -> Expr:
    """The principal square root S = A^½ (S² = A, eigenvalues in the right half plane).

    For a symmetric value (a symbol declared symmetric, or a value equal to
    its transpose) S = V diag(√w) Vᵀ from ``eigh``; otherwise
    ``scipy.linalg.sqrtm``.  A matrix without a real principal root (an
    eigenvalue on the negative real axis) raises ``ValueError``.

    Differentiating S² = A gives the Sylvester equation S dS + dS S = dA, so
    dS = L_sqrtm(A, dA), a lazy map (solved on the Schur form of S; the
    Daleckii–Krein form V (G ⊙ Vᵀ dA V) Vᵀ, Gᵢⱼ = 1/(√wᵢ + √wⱼ), for a
    symmetric A, exact at repeated eigenvalues).  Its adjoint is L_sqrtm(Aᵀ, ·).

    A stack of symmetric members takes one batched ``eigh`` (value and
    derivative); a stack with a member that is not symmetric is evaluated and
    differentiated member by member (each in its own form).
    """
    a = as_expr(a)
    signature_of(SQRTM).check("sqrtm", [a.shape])
    if a.op in ("eye", "zeros"):
        return a
    return Expr.make("sqrtm", (a,), NO_PARAMS, a.shape)


def logm(a: Any) -> Expr:
    """The principal logarithm X = log A (e^X = A, eigenvalues with |Im| < π).

    For a symmetric value X = V diag(log w) Vᵀ (w > 0) from ``eigh``;
    otherwise ``scipy.linalg.logm``.  A matrix without a real principal
    logarithm raises ``ValueError``.

    dX = L_logm(A, dA), exact: the upper right block of log [[A, dA], [0, A]]
    (the Daleckii–Krein form with Gᵢⱼ = log(wᵢ/wⱼ)/(wᵢ − wⱼ), 1/wᵢ at ties, for a
    symmetric A).  Its adjoint is L_logm(Aᵀ, ·).  Stacks as for :func:`sqrtm`.
    """
    a = as_expr(a)
    signature_of(LOGM).check("logm", [a.shape])
    if a.op == "eye":
        return zeros(a.shape)
    return Expr.make("logm", (a,), NO_PARAMS, a.shape)


def _spectral_value(fn: str, a: np.ndarray) -> np.ndarray:
    """f(A) for f = sqrt or log: by eigh for a symmetric A, by SciPy otherwise; a stack of
    symmetric members by one batched eigh, other stacks member by member."""
    if a.ndim > 2 and not all_symmetric(a):  # member by member, each in its own form
        return _member_values(fn, a)
    if a.ndim > 2 or sla.issymmetric(a):
        w, V = np.linalg.eigh(a)
        top = np.maximum(1.0, np.abs(w).max(axis=-1, initial=0.0))
        floor = -10 * a.shape[-1] * np.finfo(float).eps * top
        where = "" if a.ndim == 2 else " of a member"
        Vt = np.swapaxes(V, -1, -2)
        if fn == "sqrtm":
            if np.any(w.min(axis=-1, initial=0.0) < floor):
                raise ValueError(f"sqrtm: the symmetric matrix{where} has a negative eigenvalue "
                                 f"{w.min():.3g}, so no real square root")
            result: np.ndarray = (V * np.sqrt(np.maximum(w, 0.0))[..., None, :]) @ Vt
            return result
        bad = np.flatnonzero(np.reshape(w.min(axis=-1, initial=1.0) <= -floor, -1))
        if bad.size:  # at most rounding above 0: singular to working precision
            member = int(bad[0])
            where = "" if a.ndim == 2 else f" (member {member} of the stack of shape {a.shape})"
            lowest = float(w.reshape(-1, w.shape[-1])[member].min())
            kind = "singular" if abs(lowest) <= -np.reshape(floor, -1)[member] else "not positive definite"
            raise ValueError(f"logm: the symmetric matrix{where} is {kind} (eigenvalue {lowest:.3g}), so it "
                             f"has no real logarithm")
        result = (V * np.log(w)[..., None, :]) @ Vt
        return result
    return real_sqrtm(a) if fn == "sqrtm" else real_logm(a)


def _member_values(fn: str, a: np.ndarray) -> np.ndarray:
    """f(Aᵢ) for every member of a stack, one at a time; an error names the member in the whole stack."""
    flat = a.reshape((-1,) + a.shape[-2:])
    out = np.empty_like(flat, dtype=float)
    for k, member in enumerate(flat):
        try:
            out[k] = _spectral_value(fn, member)
        except ValueError as err:
            where = member_text(divmod_index(k, a.shape[:-2]))
            whole = fmt(whole_shape(None, a.shape))
            raise ValueError(f"{where} of the stack of shape {whole}: {err}") from None
    return out.reshape(a.shape)


def _function_code(g: CodeContext, e: Expr, a: str) -> str:
    """sqrtm or logm in generated code: NumPy as :func:`_spectral_value`; the others in the
    eigenbasis for a symmetric value (the square root of max(w, 0), as NumPy)."""
    fn = e.op
    if g.name == "numpy":
        return f"{g.helper(fn + '_value', partial(_spectral_value, fn))}({a})"
    if not g.symmetric(e.args[0]):
        if fn == "sqrtm" and g.name == "jax":
            return f"jnp.real(jsla.sqrtm({a}))"
        g.unsupported(f"{fn} of a matrix that is not symmetric")
    w, V = f"{code_eigh(g, a)}[0]", f"{code_eigh(g, a)}[1]"
    module = g.array_module
    f = f"{module}.sqrt(({w} + {module}.abs({w})) / 2)" if fn == "sqrtm" else f"{module}.log({w})"
    return f"({V} * {f}) @ {V}.T"


def _frechet_code(g: CodeContext, e: Expr, a: str, h: str) -> str:
    """L_f(A, H) in generated code: NumPy by the library's map; the others in the eigenbasis of a
    symmetric A (Daleckii–Krein, divided differences exact at ties)."""
    fn = e.op[:-len("_frechet")]
    if g.name == "numpy":
        f = g.value(sqrtm(e.args[0]) if fn == "sqrtm" else logm(e.args[0]))
        return f"{g.helper(fn + '_frechet', partial(_apply_frechet, fn))}({a}, {f}, {h})"
    if not g.symmetric(e.args[0]):
        g.unsupported(f"the derivative of {fn} at a matrix that is not symmetric")
    return code_eigenbasis_frechet(g, fn, a, h, lambda x: f"{x}.T", "[:, None]")


def _transposed_function(node: Expr, t: list[Expr]) -> Expr:
    return Expr.make(node.op, (t[0],), node.params, node.shape)  # f(Aᵀ) = f(A)ᵀ


def _frechet_map(fn: str, a: Expr, value: Expr) -> MatrixFunctionFrechetMap:
    return MatrixFunctionFrechetMap(fn, a, value, a.shape)


def _register_function(fn: str, function: Callable[..., Expr], identity: tuple[str, str], doc: str) -> Any:
    """sqrtm or logm: evaluated by SciPy (or in the eigenbasis for a symmetric value), with the
    Fréchet derivative as its JVP."""
    return register(
        fn, public=fn, function=function, signature="(n,n)->(n,n)",
        evaluate=lift(partial(_spectral_value, fn)), code=lambda g, e, a: _function_code(g, e, a),
        jvp=lambda node, i: _frechet_map(fn, node.args[0], node),
        transpose=Transpose((0,), _transposed_function),
        printing=call_printing(fn, rf"\operatorname{{{fn}}}", fn),
        identity=identity, domain=("invertible",), stacks=True, doc=doc,
    )


SQRTM = _register_function(
    "sqrtm", sqrtm,
    ("{out}² = {arg} ⇒ {out} d{out} + d{out} {out} = d{arg} (a Sylvester equation) ⇒ "
     "d{out} = L_sqrtm({arg}, d{arg}); for a symmetric {arg} = V diag(w) Vᵀ: "
     "V (G ⊙ Vᵀ d{arg} V) Vᵀ, Gᵢⱼ = 1/(√wᵢ + √wⱼ)",
     r"{out}^2 = {arg} \Rightarrow {out}\, \mathrm{{d}}{out} + \mathrm{{d}}{out}\, {out} = "
     r"\mathrm{{d}}{arg}"),
    "the principal matrix square root A^½",
)
LOGM = _register_function(
    "logm", logm,
    ("{out} = log {arg} ⇒ d{out} = L_logm({arg}, d{arg}), the upper right block of "
     "log [[{arg}, d{arg}], [0, {arg}]]; for a symmetric {arg} = V diag(w) Vᵀ: "
     "V (G ⊙ Vᵀ d{arg} V) Vᵀ, "
     "Gᵢⱼ = (log wᵢ − log wⱼ)/(wᵢ − wⱼ) (1/wᵢ at ties)",
     r"\mathrm{{d}}{out} = \left[\log \begin{{pmatrix}} {arg} & \mathrm{{d}}{arg} \\ 0 & {arg} "
     r"\end{{pmatrix}}\right]_{{12}}"),
    "the principal matrix logarithm log A",
)


def sqrtm_frechet(a: Any, e: Any) -> Expr:
    """L_sqrtm(A, E): the X with S X + X S = E for S = sqrtm(A) (the derivative of sqrtm in the direction E).

    L_sqrtm(A, I) = ½ S⁻¹.  Its derivative in A is −L(A, dS X + X dS) with
    dS = L(A, dA) (differentiating the Sylvester equation).
    """
    a, e, shape = _frechet_args("sqrtm_frechet", a, e)
    if e.op == "zeros":
        return zeros(shape)
    if shape == a.shape and e.op == "eye":
        return scale(0.5, inv(sqrtm(a)))
    if shape == a.shape and e.op == "scale" and e.args[0].op == "eye":
        return scale(0.5 * e.params.coef, inv(sqrtm(a)))
    return Expr.make("sqrtm_frechet", (a, e), NO_PARAMS, shape)


def logm_frechet(a: Any, e: Any) -> Expr:
    """L_logm(A, E): the derivative of logm at A in the direction E; L_logm(A, I) = A⁻¹."""
    a, e, shape = _frechet_args("logm_frechet", a, e)
    if e.op == "zeros":
        return zeros(shape)
    if shape == a.shape and e.op == "eye":
        return inv(a)
    if shape == a.shape and e.op == "scale" and e.args[0].op == "eye":
        return scale(e.params.coef, inv(a))
    return Expr.make("logm_frechet", (a, e), NO_PARAMS, shape)


def logm_frechet2(a: Any, h: Any, e: Any) -> Expr:
    """L²_logm(A; H, E): the second Fréchet derivative of logm (that of L_logm(A, E) in A along H)."""
    a, h, shape = _frechet_args("logm_frechet2", a, h)
    e = _frechet_args("logm_frechet2", a, e)[1]
    shape = _frechet_args("logm_frechet2", zeros(shape), e)[2]
    if h.op == "zeros" or e.op == "zeros":
        return zeros(shape)
    return Expr.make("logm_frechet2", (a, h, e), NO_PARAMS, shape)


def _frechet_args(name: str, a: Any, e: Any) -> tuple[Expr, Expr, Shape]:
    """The arguments as expressions and the node's shape: that of A and E with their stack axes
    broadcast (a matrix E serves every member of a stack A, and the reverse)."""
    a, e = as_expr(a), as_expr(e)
    signature_of(SQRTM).check(name, [a.shape])
    signature_of(SQRTM).check(name, [e.shape])
    if e.shape[-2:] != a.shape[-2:]:
        raise ShapeError(f"{name}: shapes {fmt(a.shape)} and {fmt(e.shape)} differ")
    try:
        return a, e, broadcast_shapes_nd(name, a.shape, e.shape)
    except ValueError:
        raise ShapeError(f"{name}: the stack axes of {fmt(a.shape)} and {fmt(e.shape)} could not be "
                         f"broadcast") from None


def _sqrtm_frechet_jvp(node: Expr, i: int) -> Any:
    a = node.args[0]
    if i == 1:
        return MatrixFunctionFrechetMap("sqrtm", a, sqrtm(a), map_shapes(node, 1)[0])
    shape = map_shapes(node, 0)[0]  # a matrix A against a stack E: the stack of L(A, Eᵢ)
    fr = MatrixFunctionFrechetMap("sqrtm", a, sqrtm(a), shape)
    # S X + X S = E ⇒ S dX + dX S = −(dS X + X dS), dS = L(A, dA)
    X = node
    around = add_maps(KronMap(None, X, shape, shape), KronMap(X, None, shape, shape))
    return scale_map(-1.0, compose(fr, around, fr))


def _logm_frechet_jvp(node: Expr, i: int) -> Any:
    a, e = node.args
    if i == 1:
        return MatrixFunctionFrechetMap("logm", a, logm(a), map_shapes(node, 1)[0])
    return LogmSecondMap(a, e, map_shapes(node, 0)[0])


def _logm_frechet2_jvp(node: Expr, i: int) -> Any:
    a, h, e = node.args
    if i == 0:
        raise NotImplementedError("third derivatives through logm (the derivative of its second Fréchet "
                                  "derivative in A) are not supported")
    return LogmSecondMap(a, e if i == 1 else h, map_shapes(node, i)[0])


_FUNCTIONS = {"sqrtm": sqrtm, "logm": logm}


def _frechet_evaluation(ev: EvaluationContext, e: Expr) -> Any:
    """L(A, E) of sqrtm or logm (named by the op) from the values of A, f(A) and E."""
    fn = e.op.removesuffix("_frechet")
    a = e.args[0]
    return ev.op(_frechet_value(fn), ev(a), ev(_FUNCTIONS[fn](a)), ev(e.args[1]))


for _fn, _function, _jvp in (("sqrtm", sqrtm_frechet, _sqrtm_frechet_jvp),
                             ("logm", logm_frechet, _logm_frechet_jvp)):
    register(f"{_fn}_frechet", function=_function, evaluate=_frechet_evaluation, code=_frechet_code, jvp=_jvp,
             printing=call_printing(f"L_{_fn}", rf"\operatorname{{L_{{{_fn}}}}}", f"{_fn}_frechet"),
             stacks=True, doc=f"the Fréchet derivative L(A, E) of {_fn} (appears in derivatives of {_fn})")
register(
    "logm_frechet2", function=logm_frechet2,
    evaluate=lift(logm_second),
    code=code_for(numpy=lambda g, e, a, h, x: f"{g.helper('logm_second', logm_second)}({a}, {h}, {x})",
                  other=code_logm_second),
    jvp=_logm_frechet2_jvp,
    printing=call_printing("L²_logm", r"\operatorname{L^2_{logm}}", "logm_frechet2"),
    stacks=True,
    doc="the second Fréchet derivative of logm (appears in its Hessians)",
)


def _frechet_value(fn: str) -> Any:
    return partial(_apply_frechet, fn)


def _apply_frechet(fn: str, a: np.ndarray, f: np.ndarray, e: np.ndarray) -> np.ndarray:
    result: np.ndarray = MatrixFunctionFrechetMap(fn, a, f, a.shape)._apply(e)
    return result
