"""Products, transposes and inverses: matmul, transpose, inv, solve, matrix_power.

Canonical forms kept by the constructors:

* (Aᵀ)ᵀ = A, (AB)ᵀ = BᵀAᵀ, (A + B)ᵀ = Aᵀ + Bᵀ, (A⁻¹)ᵀ = (Aᵀ)⁻¹ (inverse outside),
  the transpose of a 1×1 matrix is itself; each op says how a transpose
  passes through it (its ``transpose`` hook);
* products are flattened, identities dropped, A⁻¹A = AA⁻¹ = I cancelled (also
  when A is itself a product), runs of one factor written as powers and
  scalar factors pulled to the front;
* (A⁻¹)⁻¹ = A, (cA)⁻¹ = c⁻¹A⁻¹.
"""
from __future__ import annotations

import weakref
from typing import Any, Callable

import numpy as np

from ..contexts import StyledPrintContext
from ..expr import Expr, NO_PARAMS, Operand, as_expr
from ..maps import KronMap, KronTMap, TriSolveMap
from ..maps.algebra import add_maps
from ..maps.algebra import scale_map
from ..maps.powers import MatrixPowerFrechetMap
from ..registry import DISPLAY, Params, Prec, Printing, Transpose, inferring, register, signature_of, spec
from ..registry import function as registry_function
from ..shapes import matrix_transposed
from ._code_templates import code_transpose
from ._evaluation_rules import lift, matrix_transpose_value, with_node
from ._jvp_rules import map_shapes
from ._printing_rules import py_call
from ._product_factors import product_stack, unit_factor
from ._structure_rules import through, transposed_alike, triangle
from .arithmetic import scale, smul
from .eigenbasis_products import eigenbasis_sandwiches
from .leaves import eye, ones, zeros

__all__ = ["matmul", "matrix_transpose", "inv", "solve", "matrix_power"]



# --------------------------------------------------------------- matmul
@inferring
def matmul(*factors: Any) -> Expr:
    """The matrix product A₁A₂⋯Aₖ (shapes checked pairwise).

    For stacks of matrices the product is NumPy's: member by member, with the
    stack axes broadcast (a matrix multiplies every member of a stack).
    """
    factors = [as_expr(f) for f in factors]
    sig = signature_of(MATMUL)
    for left, right in zip(factors, factors[1:]):
        sig.check("matmul", [left.shape, right.shape])
    if len(factors) == 1:
        sig.check("matmul", [factors[0].shape, matrix_transposed(factors[0].shape)])
    stack = product_stack(factors)
    shape = stack + (factors[0].shape[-2], factors[-1].shape[-1])
    coef = 1.0
    scalars: list[Expr] = []
    flat: list[Expr] = []
    for f in factors:
        while f.op in ("scale", "smul"):
            if f.op == "scale":
                coef *= f.params.coef
                f = f.args[0]
            else:
                scalars.append(f.args[0])
                f = f.args[1]
        if f.op == "zeros":
            return zeros(shape)
        flat.extend(p for p in (f.args if f.op == "matmul" else (f,)) if not unit_factor(p))
    flat = eigenbasis_sandwiches(_cancel_inverses(_cancel_orthonormal(_cholesky_products(flat))))
    flat, ones_coef = _merge_ones(_merge_powers(flat))
    coef *= ones_coef
    if stack and product_stack(flat) != stack:  # cancelled factors carried stack axes: keep them
        flat.append(Expr.make("eye", (), NO_PARAMS, stack + (shape[-1], shape[-1])))
    if not flat:
        core = eye(shape[0])
    elif len(flat) == 1:
        core = flat[0]
    else:
        core = Expr.make("matmul", flat, NO_PARAMS, shape)
    for s in scalars:
        core = smul(s, core)
    return scale(coef, core)


def _merge_powers(flat: list[Expr]) -> list[Expr]:
    """Write runs of one factor as a power: BBᵏ = Bᵏ⁺¹ (so equal terms can merge)."""
    out: list[tuple[Expr, int]] = []
    for f in flat:
        base, k = (f.args[0], f.params.k) if f.op == "matrix_power" else (f, 1)
        if out and out[-1][0] is base:
            out[-1] = (base, out[-1][1] + k)
        else:
            out.append((base, k))
    return [b if k == 1 else Expr.make("matrix_power", (b,), Params(k=k), b.shape) for b, k in out]


def _merge_ones(flat: list[Expr]) -> tuple[list[Expr], float]:
    """𝟙ₘₚ𝟙ₚₖ = p·𝟙ₘₖ: adjacent all-ones factors merge (with the coefficient they give).

    Next to other factors an outer product 𝟙𝟙ᵀ (p = 1) stays as it is, as a
    broadcast prints (Y𝟙𝟙ᵀ), and is cheaper to apply than the full matrix of
    ones; alone it is that matrix, 𝟙.  A merged 1×1 𝟙ᵀ𝟙 is the number p alone.
    """
    out: list[Expr] = []
    coef = 1.0
    only_ones = all(f.op == "ones" for f in flat)
    for f in flat:
        if f.op == "ones" and out and out[-1].op == "ones" and (f.shape[0] > 1 or only_ones) \
                and f.ndim == out[-1].ndim == 2:
            coef *= f.shape[0]
            merged = ones(out.pop().shape[0], f.shape[1])
            if merged.op == "ones":
                out.append(merged)
        else:
            out.append(f)
    return out, coef


def _cholesky_products(flat: list[Expr]) -> list[Expr]:
    """LLᵀ = symₗ(A) and L⁻ᵀL⁻¹ = symₗ(A)⁻¹ for a Cholesky factor L = chol(A) (A itself if symmetric)."""
    out: list[Expr] = []
    for f in flat:
        prev = out[-1] if out else None
        if prev is not None and prev.op == "cholesky" and f.op == "matrix_transpose" and f.args[0] is prev:
            out[-1] = registry_function("tri")(prev.args[0], "mirror_lower")
        elif prev is not None and f.op == "inv" and f.args[0].op == "cholesky" and prev.op == "inv" \
                and prev.args[0].op == "matrix_transpose" and prev.args[0].args[0] is f.args[0]:
            out[-1] = inv(registry_function("tri")(f.args[0].args[0], "mirror_lower"))
        else:
            out.append(f)
    return out


def _orthonormal(f: Expr) -> tuple[Expr, str] | tuple[None, str]:
    """(Q, "columns" | "rows") for a factor Q or Qᵀ whose value has orthonormal columns or rows."""
    base, flipped = (f.args[0], True) if f.op == "matrix_transpose" else (f, False)
    kind = spec(base.op).orthonormal
    if not kind:
        return None, ""
    if flipped:
        kind = "rows" if kind == "columns" else "columns"
    return base, kind


def _cancel_orthonormal(flat: list[Expr]) -> list[Expr]:
    """QᵀQ = I for orthonormal columns (QQᵀ = I for orthonormal rows), and both for a square Q."""
    out: list[Expr] = []
    for f in flat:
        if out:
            q1, k1 = _orthonormal(out[-1])
            q2, k2 = _orthonormal(f)
            square = q1 is not None and q1.shape[-2] == q1.shape[-1]
            if q1 is not None and q1 is q2 and k1 != k2 and (square or (k1 == "rows" and k2 == "columns")):
                out.pop()  # QᵀQ (columns: Qᵀ has orthonormal rows, then Q columns)
                continue
        out.append(f)
    return out


def _cancel_inverses(flat: list[Expr]) -> list[Expr]:
    """Remove M⁻¹M and MM⁻¹ from a flat product, also when M is itself a product."""
    changed = True
    while changed:
        changed = False
        for i, f in enumerate(flat):
            if f.op != "inv":
                continue
            base = f.args[0]
            parts = list(base.args) if base.op == "matmul" else [base]
            k = len(parts)
            if flat[i + 1:i + 1 + k] == parts:
                flat = flat[:i] + flat[i + 1 + k:]
            elif i >= k and flat[i - k:i] == parts:
                flat = flat[:i - k] + flat[i + 1:]
            else:
                continue
            changed = True
            break
    return flat


def _matmul_jvp(node: Expr, i: int) -> Any:
    # d(A₁⋯Aₖ) = Σᵢ A₁⋯Aᵢ₋₁ dAᵢ Aᵢ₊₁⋯Aₖ
    a = node.args
    before = _subproduct(a[:i]) if i > 0 else None
    after = _subproduct(a[i + 1:]) if i < len(a) - 1 else None
    return KronMap(before, after, *map_shapes(node, i))


def _subproduct(factors: tuple[Expr, ...]) -> Expr:
    """A run of a canonical product's factors as a product, which is canonical as it stands
    (no pair in it cancels or merges) unless the run has identities or all-ones factors,
    whose merging depends on the whole run; so the Hessian of a k-factor product does not
    canonicalise its O(k²) runs again."""
    if len(factors) == 1:
        return factors[0]
    if any(f.op in ("eye", "ones") for f in factors):
        return matmul(*factors)
    shape = product_stack(list(factors)) + (factors[0].shape[-2], factors[-1].shape[-1])
    return Expr.make("matmul", factors, NO_PARAMS, shape)


MATMUL = register(
    "matmul", public="matmul", function=matmul, signature="(m,n),(n,k)->(m,k)",
    stacks=True,
    evaluate=lambda ev, e: ev.product(e), code=lambda g, e, *args: " @ ".join(args),
    jvp=_matmul_jvp,
    transpose=Transpose(None, lambda node, t: matmul(*reversed(t))),
    printing=Printing(lambda printer, e: (printer.product(list(e.args)), Prec.PROD),
                      lambda printer, e: (printer.product(list(e.args)), Prec.PROD),
                      lambda printer, e: (" @ ".join(printer(a, Prec.POSTFIX) for a in e.args), Prec.PROD)),
    rebuild=lambda node, args: matmul(*args),
    doc="the matrix product A @ B",
)


# ------------------------------------------------------------ transpose
@inferring
def matrix_transpose(a: Operand) -> Expr:
    """The matrix transpose, as ``numpy.matrix_transpose``: Aᵀ for a matrix, and for a stack
    every member transposed (the last two axes swapped; ``X.mT``); scalars, and per-member
    scalars of a stack, are their own transposes.

    It is linear: d(Aᵀ) = (dA)ᵀ, the commutation matrix in the vec convention.  Aᵀ is pushed
    towards the leaves: (AB)ᵀ = BᵀAᵀ, (A + B)ᵀ = Aᵀ + Bᵀ, (A⁻¹)ᵀ = (Aᵀ)⁻¹, ...  Each op's
    ``transpose`` hook says which arguments a transpose passes to and how the node is
    rebuilt.  Works bottom-up with an explicit stack, so deep expressions do not recurse.
    (``kv.transpose`` is NumPy's permutation of all axes: :func:`kronvec.ops.stacks.transpose`.)
    """
    a = as_expr(a)
    direct = _transpose_directly(a)
    if direct is not None:
        return direct
    done: dict[Expr, Expr] = {}
    stack: list[tuple[Expr, bool]] = [(a, False)]
    while stack:
        node, ready = stack.pop()
        if node in done:
            continue
        direct = _transpose_directly(node)
        if direct is None:
            known = _TRANSPOSED.get(node)
            direct = known() if known is not None else None
        if direct is not None:
            done[node] = direct
            continue
        rule = _transpose_rule(node.op)
        assert rule is not None, "a node without a transpose rule is transposed directly"
        kids = list(node.args) if rule.args is None else [node.args[i] for i in rule.args]
        if ready:
            done[node] = rule.build(node, [done[k] for k in kids])
            _TRANSPOSED[node] = weakref.ref(done[node])
        else:
            stack.append((node, True))
            stack.extend((k, False) for k in kids if k not in done)
    return done[a]


# Transposes already pushed to the leaves, held weakly on both sides: a reverse sweep
# transposes the activations of every layer, and each of them reuses those below it.
_TRANSPOSED: "weakref.WeakKeyDictionary[Expr, weakref.ref[Expr]]" = weakref.WeakKeyDictionary()


def _transpose_directly(a: Expr) -> Expr | None:
    """Aᵀ when it needs no transposed arguments, else None."""
    if a.op == "matrix_transpose":
        return a.args[0]
    if len(a.shape) < 2 or a.shape == (1, 1):
        return a
    rule = _transpose_rule(a.op)
    if rule is None:
        return Expr.make("matrix_transpose", (a,), NO_PARAMS, matrix_transposed(a.shape))
    if rule.args == ():
        return rule.build(a, [])
    return None


_TRANSPOSE_RULES: dict[str, Transpose | None] = {}


def _transpose_rule(op: str) -> Transpose | None:
    """The op's transpose hook (looked up in the registry once per op)."""
    try:
        return _TRANSPOSE_RULES[op]
    except KeyError:
        rule = _TRANSPOSE_RULES[op] = spec(op).transpose
        return rule


register(
    "matrix_transpose", public="matrix_transpose", function=matrix_transpose, signature="(m,n)->(n,m)",
    stacks=True,
    evaluate=lift(matrix_transpose_value), code=lambda g, e, x: code_transpose(x),
    jvp=lambda node, i: KronTMap(None, None, *map_shapes(node, i)),
    printing=Printing(lambda printer, e: (printer(e.args[0], Prec.ATOM) + printer.s.transpose, Prec.POSTFIX),
                      lambda printer, e: (printer(e.args[0], Prec.ATOM) + printer.s.transpose, Prec.POSTFIX),
                      lambda printer, e: (printer(e.args[0], Prec.ATOM) + ".T", Prec.POSTFIX)),
    rebuild=lambda node, args: matrix_transpose(args[0]),
    doc="Aᵀ, each member's transpose for a stack (A.mT; A.T for a matrix)",
)


# ------------------------------------------------------------------ inv
@inferring
def inv(a: Operand) -> Expr:
    """The matrix inverse A⁻¹ (evaluated by factorization and solves)."""
    a = as_expr(a)
    signature_of(INV).check("inv", [a.shape])
    if a.op == "inv":
        return a.args[0]
    if a.op == "eye":
        return a
    if a.op == "zeros":
        raise np.linalg.LinAlgError("inv: the zero matrix is singular")
    if a.op == "scale":
        return scale(1.0 / a.params.coef, inv(a.args[0]))
    return Expr.make("inv", (a,), NO_PARAMS, a.shape)


def _print_inv(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
    inner = e.args[0]
    if inner.op == "matrix_transpose" and _plain_transpose(printer, inner):
        return printer(inner.args[0], Prec.ATOM) + printer.s.inverse_t, Prec.POSTFIX
    return printer(inner, Prec.ATOM) + printer.s.inverse, Prec.POSTFIX


def _inv_jvp(node: Expr) -> Any:
    """dC = −C dA C for C = A⁻¹; for a triangular A the two products are triangular solves."""
    found = triangle(node.args[0])
    if found is None:
        return KronMap(scale(-1.0, node), node, *map_shapes(node, 0))
    lower = found == "lower"
    solves = TriSolveMap(node.args[0], node.args[0], lower, lower, node.shape, label=DISPLAY.python(node))
    return scale_map(-1.0, solves)


def _plain_transpose(printer: StyledPrintContext, t: Expr) -> bool:
    """Whether Bᵀ prints as the transpose of B (unnamed, or named B's name + ᵀ): then (Bᵀ)⁻¹ is B⁻ᵀ."""
    name = printer.names.get(t)
    return name is None or name == printer.names.get(t.args[0], "\0") + "ᵀ"


INV = register(
    "inv", public="inv", function=inv, signature="(n,n)->(n,n)", stacks=True,
    evaluate=lambda ev, e: ev.inverse(e), deferred=True,
    code=lambda g, e, x: g.backend.inverse(g, g.factor(e.args[0]), False),
    jvp=lambda node, i: _inv_jvp(node),
    transpose=through(0),
    printing=Printing(_print_inv, _print_inv, py_call("inv")),
    domain=("invertible",),
    doc="the inverse A⁻¹ (solves, never an explicit inverse, where a product allows)",
)


@inferring
def solve(a: Operand, b: Operand) -> Expr:
    """A⁻¹B, computed by a solve with a factorization of A (never an inverse)."""
    a, b = as_expr(a), as_expr(b)
    signature_of(SOLVE).check("solve", [a.shape, b.shape])
    return matmul(inv(a), b)


SOLVE = register(
    "solve", public="solve", function=solve, signature="(n,n),(n,k)->(n,k)", node=False, stacks=True,
    domain=("invertible", ""),
    doc="A⁻¹B by a solve (builds inv(A) @ B)",
)


# --------------------------------------------------------- matrix_power
@inferring
def matrix_power(a: Operand, k: int) -> Expr:
    """Aᵏ for any integer k, as ``numpy.linalg.matrix_power``: A⁰ = I, A⁻ᵏ = (A⁻¹)ᵏ.

    d(Aᵏ) = Σⱼ Aʲ dA Aᵏ⁻¹⁻ʲ for k > 0, written out for k ≤ 3 and otherwise a lazy
    map applied in O(log k) products (the upper right block of [[A, dA], [0, A]]ᵏ
    by repeated squaring), printed as that sum; a negative power is the power of
    the inverse, so its derivative goes through dA⁻¹ = −A⁻¹ dA A⁻¹.
    """
    a = as_expr(a)
    signature_of(MATPOW).check("matrix_power", [a.shape])
    if isinstance(k, bool) or not isinstance(k, (int, np.integer, float)) or int(k) != k:
        raise ValueError(f"matrix_power: k must be an integer, got {k!r}")
    k = int(k)
    if k < 0:
        return matrix_power(inv(a), -k)
    if k == 0:
        return eye(a.shape[0]) if a.ndim == 2 else Expr.make("eye", (), NO_PARAMS, a.shape)
    if k == 1 or a.op == "eye":
        return a
    return Expr.make("matrix_power", (a,), Params(k=k), a.shape)


EXPANDED_POWERS = 3
"""d(Aᵏ) for k up to this is written out as k Kronecker terms; beyond, it is the lazy map
H ↦ Σⱼ Aʲ H Aᵏ⁻¹⁻ʲ applied in O(log k) products (:mod:`kronvec.maps.powers`)."""


def _matpow_jvp(node: Expr, i: int) -> Any:
    # d(Aᵏ) = Σⱼ Aʲ dA Aᵏ⁻¹⁻ʲ
    a, k = node.args[0], node.params.k
    if k > EXPANDED_POWERS:
        return MatrixPowerFrechetMap(a, k, a.shape)
    power: Callable[[int], Expr | None] = lambda j: matrix_power(a, j) if j > 0 else None
    return add_maps(*[KronMap(power(j), power(k - 1 - j), a.shape, a.shape) for j in range(k)])


def _print_matpow(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
    """Bᵏ, with X⁻ᵏ for B = X⁻¹ and (Xᵏ)ᵀ, (X⁻ᵏ)ᵀ for transposed leaves."""
    base, k, s, names = e.args[0], e.params.k, printer.s, printer.names
    if base not in names:
        if base.op == "inv" and base.args[0] not in names:
            inner = base.args[0]
            if inner.op == "matrix_transpose" and inner not in names:
                return s.paren(printer(inner.args[0], Prec.ATOM) + s.sup(f"-{k}")) + s.transpose, Prec.POSTFIX
            return printer(inner, Prec.ATOM) + s.sup(f"-{k}"), Prec.POSTFIX
        if base.op == "matrix_transpose":
            return s.paren(printer(base.args[0], Prec.ATOM) + s.sup(str(k))) + s.transpose, Prec.POSTFIX
    return printer(base, Prec.ATOM) + s.sup(str(k)), Prec.POSTFIX


MATPOW = register(
    "matrix_power", public="matrix_power", function=matrix_power, signature="(n,n),int->(n,n)",
    params=("k",), stacks=True,
    evaluate=with_node(lambda n, x: np.linalg.matrix_power(x, n.params.k)),
    code="{la}.matrix_power({0}, {n.params.k})",
    jvp=_matpow_jvp,
    transpose=Transpose((0,), transposed_alike),
    printing=Printing(_print_matpow, _print_matpow,
                      lambda printer, e: (f"matrix_power({printer(e.args[0])}, {e.params.k})", Prec.ATOM)),
    doc="Aᵏ for an integer k (negative powers through the inverse)",
)
