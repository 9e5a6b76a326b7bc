"""``kv.einsum(subscripts, *operands)``: Einstein summation, as ``numpy.einsum``.

Implicit and explicit output, ``...`` (broadcast axes) and repeated letters
(diagonals and traces) mean what they mean in NumPy; operands may have any
number of axes (``kv.Array`` symbols, matrices, stacks, NumPy constants, whose
1-D arrays stay 1-D here).  The node keeps the subscripts made explicit in
canonical letters (:func:`kronvec.maps.einsum.parse_einsum`), so one
contraction is one node however it was spelled.

A contraction that is an operation kronvec already has becomes that operation
(and prints and differentiates as it): a matrix product ``ij,jk->ik`` (with
any transposes) is AB, ``ii`` is tr(A), ``ij,ij->ij`` is A ⊙ B, ``ji`` is Aᵀ,
``ij,ij`` is tr(AᵀB).  Every other contraction prints in index notation,
``[Σₖ AᵢⱼₖBₖₗ]ᵢⱼₗ``, and its derivative in each operand is the lazy
:class:`~kronvec.maps.einsum.EinsumMap`, whose adjoint is a contraction too.
Values are contracted by opt_einsum in an order planned once per subscripts
and shapes.
"""
from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np

from ..contexts import CodeContext, EvaluationContext, PrintContext, StyledPrintContext
from ..expr import Expr, as_expr
from ..maps.einsum import LETTERS, Contraction, EinsumMap, contract, parse_einsum
from ..registry import Params, Prec, Printing, Transpose, inferring, register
from ..shapes import Shape
from .arithmetic import hadamard, scale
from .leaves import Constant, zeros
from .products import matmul, matrix_transpose
from .reductions import sum as sum_all
from .reductions import trace
from .stacks import c_order_reshape

__all__ = ["einsum"]

FAMILY = "einsum"

_SUBSCRIPT = dict(zip("aehijklmnoprstuvx", "ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ"))


def _operand(x: Any) -> Expr:
    """An operand as an expression; a NumPy 1-D array stays 1-D (subscripts say its axes)."""
    return x if isinstance(x, Expr) else Constant(x, column=False)


@inferring
def einsum(subscripts: str, *operands: Any) -> Expr:
    """Einstein summation of the operands over the subscripts, as ``numpy.einsum``.

    out[o] = Σ over the letters in no output of Π_k A_k[s_k], e.g. ``einsum("ij,jk->ik", A, B)``
    is AB and ``einsum("bij,bj->bi", X, v)`` the products of a stack with vectors.

    Parameters
    ----------
    subscripts : str
        NumPy's subscripts: comma-separated terms, an optional ``->output`` (implicit:
        the letters that occur once, sorted), ``...`` for broadcast axes, a repeated
        letter within a term for a diagonal.
    *operands : expressions or arrays
        Of any number of axes (axes of length one broadcast as in NumPy).

    Returns
    -------
    Expr
        Of NumPy's shape.  Its derivative in each operand is the contraction with the
        tangent in that operand's place, a lazy map whose adjoint is a contraction too.

    Raises
    ------
    kv.ShapeError
        For subscripts that do not fit the shapes, naming the subscripts, the shapes and
        the index whose sizes disagree.
    """
    if not isinstance(subscripts, str):
        raise TypeError("einsum: give the subscripts as a string, e.g. einsum('ij,jk->ik', A, B) "
                        "(NumPy's interleaved form is not supported)")
    if not operands:
        raise ValueError("einsum: needs at least one operand")
    exprs = [_operand(x) for x in operands]
    contraction, squeezes = parse_einsum(subscripts, [e.shape for e in exprs])
    exprs = [c_order_reshape(e, tuple(s for k, s in enumerate(e.shape) if k not in drop)) if drop else e
             for e, drop in zip(exprs, squeezes)]
    return _built(contraction, exprs)


def _out_shape(c: Contraction, exprs: list[Expr]) -> Shape:
    sizes = c.sizes([e.shape for e in exprs])
    return tuple(sizes[letter] for letter in c.output)


def _built(c: Contraction, exprs: list[Expr]) -> Expr:
    """The canonical node of the contraction ``c`` of ``exprs``: zeros for a zero operand,
    scalings pulled out, and the operations kronvec has for matrices (:func:`_as_matrix_op`)."""
    shape = _out_shape(c, exprs)
    if any(e.op == "zeros" for e in exprs):
        return zeros(shape)
    coef = 1.0
    for k, e in enumerate(exprs):
        while e.op == "scale" and not isinstance(e.params.coef, Expr):
            coef *= float(e.params.coef)
            e = e.args[0]
        exprs[k] = e
    flat = _flattened(c, exprs)
    if flat is not None:
        return flat if coef == 1.0 else scale(coef, flat)
    node = _as_matrix_op(c, exprs)
    if node is None:
        node = Expr.make("einsum", tuple(exprs), Params(subscripts=c.text), shape)
    return node if coef == 1.0 else scale(coef, node)


def _flattened(c: Contraction, exprs: list[Expr]) -> Expr | None:
    """An einsum of einsums as one contraction (the inner summed letters made fresh), or None
    when no operand is an einsum or the letters would run out."""
    inner_nodes = [e for e in exprs if e.op == "einsum"]
    if not inner_nodes:
        return None
    used = set("".join(c.inputs) + c.output)
    fresh = [ch for ch in LETTERS if ch not in used]
    needed = sum(len(Contraction.read(e.params.subscripts).summed()) for e in inner_nodes)
    if needed > len(fresh):
        return None
    spare = iter(fresh)
    inputs: list[str] = []
    operands: list[Expr] = []
    for subs, e in zip(c.inputs, exprs):
        if e.op != "einsum":
            inputs.append(subs)
            operands.append(e)
            continue
        inner = Contraction.read(e.params.subscripts)
        rename = dict(zip(inner.output, subs))
        rename.update((ch, next(spare)) for ch in inner.summed())
        inputs.extend("".join(rename[ch] for ch in t) for t in inner.inputs)
        operands.extend(e.args)
    flat, _ = parse_einsum(",".join(inputs) + "->" + c.output, [e.shape for e in operands])
    return _built(flat, operands)


def _oriented(e: Expr, subs: str, first: str) -> Expr:
    """The matrix ``e`` (subscripts ``subs``) transposed if needed to have ``first`` as its rows."""
    return e if subs[0] == first else matrix_transpose(e)


def _as_matrix_op(c: Contraction, exprs: list[Expr]) -> Expr | None:
    """The contraction as a matrix product, trace, Hadamard product or transpose, when it is
    one of them for matrices (two axes each) with NumPy's result shape, or a product of the
    members of stacks (``...ij,...jk->...ik``); else None."""
    if any(len(s) != 2 for s in c.inputs) or any(e.ndim != 2 for e in exprs):
        return _as_stacked_product(c, exprs)
    ins, out = c.inputs, c.output
    if len(ins) == 1:
        (s,) = ins
        if s[0] == s[1]:
            return trace(exprs[0]) if out == "" else None
        if out == "":
            return sum_all(exprs[0])
        return _oriented(exprs[0], s, out[0]) if len(out) == 2 else None
    if len(out) == 2 and all(set(s) == set(out) and s[0] != s[1] for s in ins):
        result = _oriented(exprs[0], ins[0], out[0])
        for e, s in zip(exprs[1:], ins[1:]):
            result = hadamard(result, _oriented(e, s, out[0]))
        return result
    if len(ins) != 2 or any(s[0] == s[1] for s in ins):
        return None
    (a, b), (sa, sb) = exprs, ins
    shared = set(sa) & set(sb)
    if len(shared) == 2 and out == "":  # Σ A ⊙ B (or A ⊙ Bᵀ) = tr(AᵀB) (or tr(AB))
        return trace(matmul(matrix_transpose(a), _oriented(b, sb, sa[0])))
    if len(shared) != 1 or len(out) != 2 or (shared & set(out)):
        return None
    return _core_product(a, b, sa, sb, out)


def _core_product(a: Expr, b: Expr, sa: str, sb: str, out: str) -> Expr | None:
    """AB, with the transposes the letters ask for, when ``sa,sb->out`` (two letters each,
    no repeats) sums over exactly one shared letter; else None.  For stacks the transposes
    are the members' and the product broadcasts over the stack axes, as ``@``."""
    shared = set(sa) & set(sb)
    if len(set(sa)) != 2 or len(set(sb)) != 2 or len(shared) != 1 or (shared & set(out)):
        return None
    (k,) = shared
    free_a, free_b = sa.replace(k, ""), sb.replace(k, "")
    if {free_a, free_b} != set(out) or free_a == free_b:
        return None
    left = a if sa == free_a + k else matrix_transpose(a)
    right = b if sb == k + free_b else matrix_transpose(b)
    product = matmul(left, right)
    return product if out == free_a + free_b else matrix_transpose(product)


def _as_stacked_product(c: Contraction, exprs: list[Expr]) -> Expr | None:
    """``...ij,...jk->...ik`` (any transposes of the members) as the product of stacks: the
    leading letters of each operand are the output's leading letters, aligned at the right."""
    if len(exprs) != 2 or any(e.ndim < 2 for e in exprs) or len(c.output) < 3:
        return None
    (sa, sb), out = c.inputs, c.output
    lead = out[:-2]
    if any(s[:-2] != lead[len(lead) - len(s) + 2:] for s in (sa, sb)) or \
            len(lead) != max(len(sa), len(sb)) - 2 or set(lead) & set(sa[-2:] + sb[-2:] + out[-2:]):
        return None
    return _core_product(exprs[0], exprs[1], sa[-2:], sb[-2:], out[-2:])


def _evaluate(info: "_EinsumInfo", *values: Any) -> np.ndarray:
    return contract(info.params.subscripts, *[np.reshape(v, a) for v, a in zip(values, info.arg_shapes)])


class _EinsumInfo:
    """What the recorded evaluation step keeps of the node: its subscripts and argument shapes."""

    __slots__ = ("params", "arg_shapes")

    def __init__(self, e: Expr) -> None:
        self.params, self.arg_shapes = e.params, tuple(a.shape for a in e.args)


def _evaluate_rule(ev: EvaluationContext, e: Expr) -> Any:
    return ev.op(partial(_evaluate, _EinsumInfo(e)), *[ev(a) for a in e.args])


def _einsum_jvp(node: Expr, i: int) -> EinsumMap:
    """d einsum(…, Aᵢ, …) = einsum(…, dAᵢ, …): the contraction with the tangent in slot i."""
    c = Contraction.read(node.params.subscripts)
    operands = [None if k == i else a for k, a in enumerate(node.args)]
    return EinsumMap(c, operands, node.args[i].shape, node.shape)


def _transposed(node: Expr, _: list[Expr]) -> Expr:
    """(einsum)ᵀ: the same contraction with the last two output letters swapped (each member
    of a stack transposed; a result of fewer than two axes is its own transpose)."""
    c = Contraction.read(node.params.subscripts)
    if len(c.output) < 2:
        return node
    swapped = Contraction(c.inputs, c.output[:-2] + c.output[-1] + c.output[-2])
    return _built(swapped, list(node.args))


def _rebuild(node: Expr, args: list[Expr]) -> Expr:
    return _built(Contraction.read(node.params.subscripts), [as_expr(a) for a in args])


# ---------------------------------------------------------------- printing
def _indexed(p: StyledPrintContext, e: Expr, letters: str) -> str:
    """``e`` with its index letters attached: Aᵢⱼ, A_{ij}, (X + Y)ᵢⱼ; a scalar as itself."""
    text = str(p(e, Prec.ATOM))
    if not letters:
        return text
    if p.s.latex:
        return f"{text}_{{{letters}}}"
    return text + "".join(_SUBSCRIPT[c] for c in letters)


def _print_index_notation(p: StyledPrintContext, e: Expr) -> tuple[str, int]:
    """[Σₖ AᵢⱼₖBₖₗ]ᵢⱼₗ in Unicode, \\left[\\sum_{k} A_{ijk} B_{kl}\\right]_{ijl} in LaTeX; the
    bracket is left out for a scalar result, the sum for a contraction over no letter."""
    c = Contraction.read(e.params.subscripts)
    if not p.s.latex and not all(ch in _SUBSCRIPT for ch in "".join(c.inputs)):
        return _print_call(p, e)
    body = p.s.join([_indexed(p, a, s) for a, s in zip(e.args, c.inputs)], p.s.latex)
    summed = c.summed()
    if summed:
        sigma = f"\\sum_{{{summed}}} " if p.s.latex else "Σ" + "".join(_SUBSCRIPT[ch] for ch in summed) + " "
        body = sigma + body
    if not c.output:
        return body, Prec.UNARY if summed else Prec.PROD
    if p.s.latex:
        return f"\\left[{body}\\right]_{{{c.output}}}", Prec.ATOM
    return f"[{body}]" + "".join(_SUBSCRIPT[ch] for ch in c.output), Prec.ATOM


def _print_call(p: PrintContext, e: Expr) -> tuple[str, int]:
    """``einsum('ij,jk->ik', A, B)``: the library's Python syntax (and the Unicode fallback)."""
    args = ", ".join([repr(e.params.subscripts)] + [p(a) for a in e.args])
    return f"einsum({args})", Prec.ATOM


def _code(g: CodeContext, e: Expr, *args: str) -> str:
    """``np.einsum('ij,jk->ik', a, b)`` on every backend (NumPy plans the order with optimize)."""
    extra = ", optimize=True" if g.name == "numpy" else ""
    shaped = [f"{g.array_module}.reshape({x}, {a.shape})" for x, a in zip(args, e.args)]
    return f"{g.array_module}.einsum({e.params.subscripts!r}, {', '.join(shaped)}{extra})"


register(
    "einsum", FAMILY, public="einsum", function=einsum, signature="(...),(...)->(...)",
    params=("subscripts",),
    stacks=True, evaluate=_evaluate_rule, jvp=_einsum_jvp, rebuild=_rebuild,
    transpose=Transpose((), _transposed),
    printing=Printing(_print_index_notation, _print_index_notation, _print_call),
    code=_code,
    doc="Einstein summation as numpy.einsum (matrix products, traces and Hadamard products print as such)",
)
