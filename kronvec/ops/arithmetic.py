"""Sums, scalings and elementwise products and powers.

Canonical forms kept by the constructors: sums are flattened and equal terms
merged (2A instead of A + A, (A − B)/2 with the common coefficient pulled
out), zeros vanish, numeric coefficients and scalar factors come first, and
s·s of a scalar is s².
"""
from __future__ import annotations

import operator
from functools import partial
from typing import Any

import numpy as np
from scipy.linalg import blas

from ..dims import BASE
from ..contexts import CodeContext, EvaluationContext, PrintContext, StyledPrintContext
from ..errors import ShapeError
from ..expr import Expr, NO_PARAMS, as_expr, as_operands, const_scalar, is_number, is_scalar
from ..maps.adjugate import adjugate_by_svd
from ..maps import ElementwiseMap, KronMap, TraceMap
from ..maps.algebra import scale_map
from .. import registry
from ..registry import Params, Prec, Printing, Transpose, register
from ..shapes import Shape, broadcast_shapes_nd, fmt, is_plain, same_shape
from ._code_templates import code_number, code_sum
from ._evaluation_rules import lift, with_node
from ._jvp_rules import elementwise_jvp, identity_jvp, map_shapes
from ._printing_rules import per_size_text, python_number
from ._structure_rules import through, transposed_alike
from .broadcasting import aligned, broadcast_shapes, broadcast_to
from .leaves import Constant, filled, identity, ones, zeros

__all__ = ["add", "scale", "smul", "hadamard", "multiply", "power", "adjugate", "scaled_term"]



def _py_binary(symbol: str, prec: Prec, left: Prec, right: Prec) -> Any:
    return lambda printer, e: (f"{printer(e.args[0], left)}{symbol}{printer(e.args[1], right)}", prec)


# ------------------------------------------------------------------- add
def add(*terms: Any) -> Expr:
    """The sum of the terms, with equal terms merged; shapes broadcast as in NumPy.

    A column b of shape (n, 1) added to an (n, m) matrix is spread as b𝟙ᵀ, a
    row r of shape (1, m) as 𝟙r and a scalar s as s𝟙 (:mod:`.broadcasting`);
    ``()`` and ``(1, 1)`` count as the same scalar.  Shapes that do not
    broadcast raise ``kv.ShapeError`` naming both.

    The sum has the broadcast shape of *all* its terms, also when some cancel
    or are zero: X − X + C for a stack X and a matrix C is C spread over X's
    stack axes, as NumPy computes it.
    """
    terms = aligned("add", *as_operands(*terms))
    plain = all(is_plain(t.shape) for t in terms)  # then every term is spread to the shape
    if plain:
        shape = broadcast_shapes("add", *[t.shape for t in terms])
        if not is_scalar(shape):
            terms = [broadcast_to(t, shape) for t in terms]
    else:  # stacks: NumPy's broadcasting, done by the evaluation (the derivative spreads tangents)
        shape = broadcast_shapes_nd("add", *[t.shape for t in terms])
    coefs: dict[int, float] = {}
    bases: dict[int, Expr] = {}
    parts = 0
    for t in terms:
        for part in (t.args if t.op == "add" else (t,)):
            c, base = (part.params.coef, part.args[0]) if part.op == "scale" else (1.0, part)
            parts += 1
            if base.op == "zeros":
                continue
            k = id(base)
            bases.setdefault(k, base)
            coefs[k] = coefs.get(k, 0.0) + c
    nonzero = [k for k in bases if coefs[k] != 0.0]
    if not nonzero:
        return zeros(shape)
    if not plain and len(nonzero) < parts and not same_shape(
            broadcast_shapes_nd("add", *[bases[k].shape for k in nonzero]), shape):
        # terms that cancel or vanish still set the shape (their stack axes stay)
        return registry.function("broadcast_to")(add(*[scale(coefs[k], bases[k]) for k in nonzero]), shape)
    common = abs(coefs[nonzero[0]])
    if len(nonzero) > 1 and common != 1.0 and all(abs(coefs[k]) == common for k in nonzero):
        # A/2 - B/2 = (A - B)/2, so that products containing it can pull the 1/2 out
        return scale(common, add(*[scale(coefs[k] / common, bases[k]) for k in nonzero]))
    kept = [as_shape(scale(coefs[k], bases[k]), shape) for k in nonzero]
    if len(kept) == 1:
        return kept[0]
    return Expr.make("add", kept, NO_PARAMS, shape)


def as_shape(e: Expr, shape: Shape) -> Expr:
    """A scalar of shape () where a (1, 1) one is needed, as s·I₁ (others unchanged)."""
    if e.shape == shape or tuple(shape) != (1, 1):
        return e
    return Expr.make("smul", (e, identity(1)), NO_PARAMS, (1, 1))


def evaluate_sum(ev: EvaluationContext, e: Expr, coef: float = 1.0) -> Any:
    """coef·Σᵢ cᵢ Aᵢ for the sum node ``e``, with the scaled terms cᵢAᵢ read as (cᵢ, Aᵢ):
    one pass per term into one new array (``scale`` nodes inside are never formed)."""
    terms = [(t.params.coef, t.args[0]) if t.op == "scale" else (1.0, t) for t in e.args]
    coefs = tuple(coef * c for c, _ in terms)
    if ev.described is None and e.ndim == 2 and any(scaled_term(t, e.shape) for _, t in terms):
        kinds = tuple(scaled_term(t, e.shape) for _, t in terms)
        args = [x for (_, t), kind in zip(terms, kinds) for x in _term_values(ev, t, kind)]
        return ev.op(partial(_scaled_sum, coefs, kinds, e.shape[-1]), *args)
    return ev.op(partial(_weighted_sum, coefs), *[ev(t) for _, t in terms])


def scaled_term(t: Expr, shape: Shape) -> str:
    """How a term of an n×n sum is added without forming it: ``"eye"`` (I), ``"scaled eye"``
    (s·I, s a scalar expression), ``"scaled"`` (s·A: the scalar joins the coefficient), or ``""``."""
    if t.op == "eye" and t.shape == shape:
        return "eye"
    if t.op != "smul" or t.args[1].shape != shape or t.args[0].op == "det" and t.args[1].op == "inv":
        return ""
    return "scaled eye" if t.args[1].op == "eye" else "scaled"


def _term_values(ev: EvaluationContext, t: Expr, kind: str) -> list[Any]:
    if kind == "eye":
        return []
    if kind == "scaled eye":
        return [ev(t.args[0])]
    return [ev(t.args[0]), ev(t.args[1])] if kind == "scaled" else [ev(t)]


def _scaled_sum(coefs: tuple[float, ...], kinds: tuple[str, ...], n: int, *xs: Any) -> np.ndarray:
    """Σᵢ cᵢ Tᵢ for an n×n sum whose terms are I, s·I, s·A or plain A (``kinds``; ``xs`` holds
    the scalar s before A): the scalars join the coefficients and identities add to the
    diagonal, so the sum costs one pass per dense term."""
    dense: list[tuple[float, np.ndarray]] = []
    diagonal = 0.0
    k = 0
    for c, kind in zip(coefs, kinds):
        if kind in ("scaled", "scaled eye"):
            c = c * float(np.reshape(xs[k], ()))
            k += 1
        if kind in ("eye", "scaled eye"):
            diagonal += c
        else:
            dense.append((c, xs[k]))
            k += 1
    if not dense:
        return diagonal * np.eye(n)
    out = _weighted_sum(tuple(c for c, _ in dense), *[x for _, x in dense])
    if diagonal:
        out.reshape(-1)[::out.shape[-1] + 1] += diagonal
    result: np.ndarray = out
    return result


def sum_code(g: CodeContext, e: Expr, coef: float = 1.0) -> str:
    """Generated code of coef·Σᵢ cᵢ Aᵢ for the sum node ``e`` (as :func:`evaluate_sum`)."""
    terms = [(t.params.coef, t.args[0]) if t.op == "scale" else (1.0, t) for t in e.args]
    return code_sum([(coef * c, g.value(t)) for c, t in terms])


def _weighted_sum(coefs: tuple[float, ...], *xs: Any) -> Any:
    if all(type(x) is np.ndarray and x.shape == (1, 1) for x in xs):  # scalars: Python's arithmetic
        total = coefs[0] * float(xs[0][0, 0])
        for c, x in zip(coefs[1:], xs[1:]):
            total += c * float(x[0, 0])
        return np.array([[total]])
    out = np.multiply(xs[0], coefs[0], order="C")
    if out.ndim == 0 or any(np.shape(x) != out.shape for x in xs[1:]):  # scalars of () and (1, 1)
        for c, x in zip(coefs[1:], xs[1:]):
            out = out + c * x
        return out
    flat = out.reshape(-1)  # out is C-ordered: a view
    for c, x in zip(coefs[1:], xs[1:]):
        if c == 1.0:
            out += x
        elif c == -1.0:
            out -= x
        elif x.flags.c_contiguous and x.dtype == flat.dtype:
            blas.daxpy(x.reshape(-1), flat, a=c)  # out += c·x in place, no temporary
        else:
            out += c * x
    return out


def _print_add(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
    return printer.sum(e.args), Prec.SUM


def _python_add(printer: PrintContext, e: Expr) -> tuple[str, int]:
    return " + ".join(printer(a, Prec.PROD) for a in e.args), Prec.SUM


register(
    "add", function=add, stacks=True,
    evaluate=evaluate_sum, deferred=True,
    code=lambda g, e, *args: sum_code(g, e),
    jvp=identity_jvp,
    transpose=through(),
    printing=Printing(_print_add, _print_add, _python_add),
    rebuild=lambda node, args: add(*args),
    doc="A + B",
)


# ----------------------------------------------------------------- scale
def scale(c: float, a: Any) -> Expr:
    """c·A for a number c."""
    if isinstance(c, int) and c >= BASE:  # a size given as a name: a number once values are bound
        return smul(Constant(c), a)
    c = float(c)
    a = as_expr(a)
    if c == 1.0:
        return a
    if c == 0.0 or a.op == "zeros":
        return zeros(a.shape)
    if a.op == "scale":
        return scale(c * a.params.coef, a.args[0])
    value = const_scalar(a)
    if value is not None and a.shape == ():
        return Constant(c * value)
    return Expr.make("scale", (a,), Params(coef=c), a.shape)


def _python_scale(printer: PrintContext, e: Expr) -> tuple[str, int]:
    c = e.params.coef
    if c == -1.0:
        return "-" + printer(e.args[0], Prec.PROD), Prec.UNARY
    return f"{python_number(c)} * {printer(e.args[0], Prec.POSTFIX)}", Prec.PROD


def _scale_code(g: CodeContext, e: Expr, inner: str | None) -> str:
    if e.args[0].op == "add" and not g.has(e.args[0]):  # as the evaluator: one pass per term
        return sum_code(g, e.args[0], e.params.coef)
    c = e.params.coef
    return f"-{inner}" if c == -1.0 else f"{code_number(c)} * {inner}"


def _scale_value(ev: EvaluationContext, e: Expr) -> Any:
    inner = e.args[0]
    if inner.op == "add" and ev.cached(inner) is None:  # c·(A - B): one pass per term
        return evaluate_sum(ev, inner, e.params.coef)
    return ev.op(partial(_times, e.params.coef), ev(inner))


register(
    "scale", function=scale, params=("coef",),
    stacks=True,
    evaluate=_scale_value, code=_scale_code,
    jvp=lambda node, i: scale_map(node.params.coef, identity_jvp(node, i)),
    transpose=through(0),
    printing=Printing(lambda printer, e: printer.scaled(e.params.coef, e.args[0]),
                      lambda printer, e: printer.scaled(e.params.coef, e.args[0]), _python_scale),
    rebuild=lambda node, args: scale(node.params.coef, args[0]),
    doc="c·A for a number c",
)


# ------------------------------------------------------------------ smul
def smul(s: Any, a: Any) -> Expr:
    """s·A for a scalar expression s (shape ``()`` or ``(1, 1)``)."""
    s, a = as_expr(s), as_expr(a)
    if not is_scalar(s):
        if is_scalar(a):
            s, a = a, s
        else:
            raise ShapeError(f"scalar multiply: {fmt(s.shape)} is not a scalar (with {fmt(a.shape)})")
    if s.shape == (1, 1) and a.shape == ():  # A₁ₓ₁·s: the () scalar is the coefficient, A₁ₓ₁ the matrix
        s, a = a, s
    shape = a.shape
    if s.op == "smul" and s.args[1].op == "eye" and s.shape == (1, 1):  # (t·I₁)·A = t·A
        return as_shape(smul(s.args[0], a), shape)
    value = const_scalar(s)
    if value is not None:
        return as_shape(scale(value, a), shape)
    if s.op == "scale":
        return scale(s.params.coef, smul(s.args[0], a))
    if a.op == "scale":
        return scale(a.params.coef, smul(s, a.args[0]))
    if a.op == "zeros" or s.op == "zeros":
        return zeros(shape)
    if a.op == "smul":
        return smul(smul(s, a.args[0]), a.args[1])
    if a.shape == () and "power0" in (s.op, a.op) and _power_base(s)[0] is _power_base(a)[0]:
        exponent = _power_base(s)[1] + _power_base(a)[1]  # xᵖ xᵠ of a norm x, 0 at x = 0 (x⁰ = 1)
        strict = any(e.op == "power0" and e.params.strict for e in (s, a))
        return power(_power_base(a)[0], exponent) if exponent in (0.0, 1.0) else \
            Expr.make("power0", (_power_base(a)[0],), Params(exponent=exponent, strict=strict), ())
    if a.shape == () and _power_base(s)[0] is _power_base(a)[0]:
        return power(_power_base(a)[0], _power_base(s)[1] + _power_base(a)[1])
    avalue = const_scalar(a)
    if avalue is not None and is_scalar(a):
        return as_shape(scale(avalue, s), shape)
    return Expr.make("smul", (s, a), NO_PARAMS, shape)


def _power_base(e: Expr) -> tuple[Expr, float]:
    """(b, p) with e = b^p (p = 1 for anything but a power)."""
    return (e.args[0], e.params.exponent) if e.op in ("power", "power0") else (e, 1.0)


def _smul_jvp(node: Expr, i: int) -> Any:
    s, a = node.args
    if i == 0:  # ds · A
        if node.ndim > 3:  # several stack axes: ds spread over all of A, A ⊙ ds (per-member scalars are 1-D)
            return ElementwiseMap(a, node.shape, node.shape)
        return TraceMap(None, a, *map_shapes(node, 0))
    return scale_map(s, KronMap(None, None, *map_shapes(node, 1)))


def _print_smul(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
    if e.args[1].op == "eye" and e.shape == (1, 1):
        return printer.render(e.args[0])  # s·I₁: the scalar itself
    s = e.args[0]
    if s.op == "power" and s.params.exponent == -1.0 and s.args[0].op == "size":
        return per_size_text(printer, s.args[0], e.args[1])
    return printer.s.scalar_times(printer(e.args[0], Prec.POSTFIX), printer(e.args[1], Prec.PROD)), Prec.PROD


def _smul_value(ev: EvaluationContext, e: Expr) -> Any:
    s, a = e.args
    if s.op == "det" and a.op == "inv" and a.args[0] in (s.args[0], s.args[0].T):
        # det(B)·B⁻¹ is the adjugate of B, which exists (and is computed) at a singular B too
        return ev.op(partial(adjugate, transposed=a.args[0] is not s.args[0]),
                     ev(s.args[0]), ev.factorization(s.args[0]))
    return ev.op(partial(_scalar_times, e.shape), ev(s), ev(a))


def _scalar_times(shape: Shape, s: Any, x: Any) -> Any:
    """s·x of the node's shape: a ``(1, 1)`` scalar times a ``()`` one is ``(1, 1)``."""
    out = np.reshape(s, ()) * x
    return out.reshape(shape) if np.ndim(out) < len(shape) else out


def _smul_code(g: CodeContext, e: Expr, s: str | None, a: str | None) -> str:
    sn, an = e.args
    if sn.op == "det" and an.op == "inv" and an.args[0] in (sn.args[0], sn.args[0].T):
        f = g.factor(sn.args[0])  # det(B)·B⁻¹, the adjugate: from the factors of B
        det = g.let(g.backend.det(g, f), hint="det")
        return f"{det} * {g.backend.inverse(g, f, an.args[0] is not sn.args[0])}"
    return f"{s} * {a}"


def _times(s: Any, x: Any) -> Any:
    return (s.reshape(()) if type(s) is np.ndarray else np.reshape(s, ())) * x


def adjugate(b: np.ndarray, fac: Any, transposed: bool = False) -> np.ndarray:
    """adj(B) = det(B) B⁻¹ (its transpose, the cofactor matrix, when ``transposed``).

    From the factorization when B is well conditioned; otherwise from the SVD
    B = U S Vᵀ: adj(B) = det(U) det(V) V diag(Πⱼ≠ᵢ sⱼ) Uᵀ, which is continuous
    through singular B (rank n − 1 gives a rank-one adjugate, rank n − 2 zero).
    """
    if b.ndim == 2 and fac.rcond() > _SQRT_EPS:
        sign, logabs = fac.logabsdet()
        result: np.ndarray = sign * np.exp(logabs) * fac.inverse(trans=transposed)
        return result
    adj = adjugate_by_svd(b)
    return np.swapaxes(adj, -1, -2) if transposed else adj


_SQRT_EPS = float(np.sqrt(np.finfo(float).eps))


register(
    "smul", function=smul,
    stacks=True,
    evaluate=_smul_value, code=_smul_code,
    jvp=_smul_jvp,
    transpose=through(1),
    printing=Printing(_print_smul, _print_smul, _py_binary(" * ", Prec.PROD, Prec.POSTFIX, Prec.POSTFIX)),
    doc="s·A for a scalar expression s",
)


# -------------------------------------------------------------- hadamard
def hadamard(a: Any, b: Any) -> Expr:
    """The elementwise (Hadamard) product A ⊙ B of equally shaped matrices (for stacks, of
    shapes that broadcast as in NumPy)."""
    a, b = as_expr(a), as_expr(b)
    shape = a.shape
    if a.shape != b.shape:
        if is_plain(a.shape) and is_plain(b.shape):
            raise ShapeError(f"hadamard: shapes {fmt(a.shape)} and {fmt(b.shape)} differ")
        shape = broadcast_shapes_nd("multiply", a.shape, b.shape)
    elif is_scalar(a):
        return smul(a, b)
    if a.op == "zeros" or b.op == "zeros":
        return filled("zeros", shape)
    if a.op == "ones" and b.shape == shape:  # 𝟙 ⊙ B = B (also a broadcast 𝟙)
        return b
    if b.op == "ones" and a.shape == shape:
        return a
    if a.op == "scale":
        return scale(a.params.coef, hadamard(a.args[0], b))
    if b.op == "scale":
        return scale(b.params.coef, hadamard(a, b.args[0]))
    return Expr.make("multiply", (a, b), NO_PARAMS, shape)


def multiply(x: Any, y: Any, op_name: str = "multiply") -> Expr:
    """``x * y`` as in NumPy: scaling when one side is a scalar, else the Hadamard product
    of the operands broadcast to a common shape (b𝟙ᵀ for a column b, 𝟙r for a row r)."""
    if is_number(x) and not isinstance(y, (np.ndarray, list, tuple)):
        return scale(x, as_expr(y))
    if is_number(y) and not isinstance(x, (np.ndarray, list, tuple)):
        return scale(y, as_expr(x))
    a, b = aligned(op_name, *as_operands(x, y))
    if a.shape == b.shape and not (a.shape == ()):
        return hadamard(a, b)
    if is_scalar(a) or is_scalar(b):
        return smul(a, b)
    if not (is_plain(a.shape) and is_plain(b.shape)):
        broadcast_shapes_nd(op_name, a.shape, b.shape)  # refused as NumPy refuses it
        return hadamard(a, b)
    shape = broadcast_shapes(op_name, a.shape, b.shape)
    return hadamard(_spread_operand(a, shape), _spread_operand(b, shape))


def _spread_operand(e: Expr, shape: Shape) -> Expr:
    """``e`` broadcast to ``shape``; a reciprocal is spread inside, X ⊘ 𝟙r rather than X ⊙ 𝟙r∘⁻¹."""
    if e.op == "power" and e.params.exponent == -1.0 and e.shape != shape:
        return power(broadcast_to(e.args[0], shape), -1.0)
    return broadcast_to(e, shape)


def _print_hadamard(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
    a, b = e.args
    if b.op == "power" and b.params.exponent == -1.0:
        return printer(a, Prec.PROD) + printer.s.divide + printer(b.args[0], Prec.PROD), Prec.KRON
    return printer(a, Prec.PROD) + printer.s.hadamard + printer(b, Prec.PROD), Prec.KRON


register(
    "multiply", public="multiply", function=multiply, signature="(...),(...)->(...)",
    stacks=True,
    evaluate=lift(operator.mul), code="{0} * {1}",
    jvp=lambda node, i: ElementwiseMap(node.args[1 - i], *map_shapes(node, i)),
    transpose=through(0, 1),
    printing=Printing(_print_hadamard, _print_hadamard,
                      _py_binary(" * ", Prec.PROD, Prec.POSTFIX, Prec.POSTFIX)),
    rebuild=lambda node, args: hadamard(*args),
    doc="A ⊙ B elementwise (A * B), or scaling by a scalar",
)


# ----------------------------------------------------------------- power
def power(a: Any, p: Any) -> Expr:
    """The elementwise power A∘ᵖ for a number p (``A ** p``).

    An expression as p (a scalar, or a matrix of A's shape), or a scalar A
    with a matrix p, gives the power of :mod:`kronvec.ops.exponents`, as
    ``np.power`` would compute it.
    """
    if not is_number(p):
        return registry.function("pow")(a, p)
    a = as_expr(a)
    p = float(p)
    if p == 1.0:
        return a
    if p == 0.0:
        return ones(a.shape)
    if a.op == "power" and p.is_integer():
        return power(a.args[0], a.params.exponent * p)
    value = const_scalar(a)
    if value is not None and a.shape == ():
        return Constant(value ** p)
    return Expr.make("power", (a,), Params(exponent=p), a.shape)


def _print_power(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
    base, exponent = e.args[0], e.params.exponent
    if exponent == 0.5:
        return printer.s.func(printer.s.sqrt, printer(base)), Prec.ATOM
    if base.shape == ():
        return printer(base, Prec.ATOM) + printer.s.sup(printer.format_number(exponent)), Prec.POSTFIX
    return printer.s.elem_power(printer(base, Prec.ATOM), printer.format_number(exponent)), Prec.POSTFIX


def _python_power(printer: PrintContext, e: Expr) -> tuple[str, int]:
    return f"{printer(e.args[0], Prec.ATOM)} ** {python_number(e.params.exponent)}", Prec.POSTFIX


def _power_derivative(node: Expr) -> Expr:
    """p A∘^(p−1), the elementwise derivative of A∘^p."""
    return scale(node.params.exponent, power(node.args[0], node.params.exponent - 1))


register(
    "power", public="power", function=power, signature="(...),num->(...)", stacks=True,
    params=("exponent",),
    evaluate=with_node(lambda n, x: np.power(x, n.params.exponent)),
    code=lambda g, e, x: f"{x} ** {code_number(e.params.exponent)}",
    jvp=elementwise_jvp(_power_derivative),
    transpose=Transpose((0,), transposed_alike),
    printing=Printing(_print_power, _print_power, _python_power),
    doc="A ** p, the elementwise power",
)
