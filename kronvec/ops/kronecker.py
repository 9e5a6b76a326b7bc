"""Kronecker products: kron, and kron_contract, the adjoint of one of its factors.

vec(A ⊗ B) is linear in each factor; its JVPs are :class:`~kronvec.maps.KronFactorMap`
terms, dA ↦ dA ⊗ B and dB ↦ A ⊗ dB, whose adjoints contract a matrix shaped like
A ⊗ B with the other factor (``kron_contract``).  (A ⊗ B)ᵀ = Aᵀ ⊗ Bᵀ.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..contexts import CodeContext, StyledPrintContext
from ..errors import ShapeError
from ..expr import Expr, NO_PARAMS, Operand, as_expr
from ..maps import KronFactorMap
from ..registry import Params, Prec, Printing, inferring, register, signature_of
from ..shapes import fmt
from ._evaluation_rules import lift, with_node
from ._printing_rules import py_call
from ._structure_rules import through
from .leaves import zeros

__all__ = ["kron", "kron_contract"]



# ----------------------------------------------------------------- kron
@inferring
def kron(a: Operand, b: Operand) -> Expr:
    """The Kronecker product A ⊗ B."""
    a, b = as_expr(a), as_expr(b)
    shape = signature_of(KRON).check("kron", [a.shape, b.shape])
    if a.op == "zeros" or b.op == "zeros":
        return zeros(shape)
    return Expr.make("kron", (a, b), NO_PARAMS, shape)


def _kron_jvp(node: Expr, i: int) -> Any:
    a, b = node.args
    dims = (*a.shape, *b.shape)
    if i == 0:
        return KronFactorMap(b, "b", "a", "big", dims)
    return KronFactorMap(a, "a", "b", "big", dims)


def _print_kron(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
    return printer.s.kron.join(printer(a, Prec.PROD) for a in e.args), Prec.KRON


KRON = register(
    "kron", public="kron", function=kron, signature="(m,n),(p,q)->(m*p,n*q)",
    evaluate=lift(np.kron), code="{np}.kron({0}, {1})",
    jvp=_kron_jvp,
    transpose=through(0, 1),
    printing=Printing(_print_kron, _print_kron, py_call("kron")),
    doc="the Kronecker product A ⊗ B",
)


def kron_contract(big: Operand, other: Operand, small_shape: tuple[int, int], side: str) -> Expr:
    """Contract ``big`` (shaped like A ⊗ B) with one Kronecker factor.

    With ``big`` viewed as blocks ``big[i*p + k, j*q + l]`` for A of shape
    ``(m, n)`` and B of shape ``(p, q)``:

    * ``side="a"``: returns the (m, n) matrix Σₖₗ big[ip+k, jq+l] · other[k, l]
      (``other`` is B); this is the adjoint of A ↦ A ⊗ B;
    * ``side="b"``: returns the (p, q) matrix Σᵢⱼ big[ip+k, jq+l] · other[i, j]
      (``other`` is A); the adjoint of B ↦ A ⊗ B.
    """
    big, other = as_expr(big), as_expr(other)
    small_shape = tuple(small_shape)
    expect = (small_shape[0] * other.shape[0], small_shape[1] * other.shape[1])
    if side == "b":
        expect = (other.shape[0] * small_shape[0], other.shape[1] * small_shape[1])
    if big.shape != expect:
        raise ShapeError(f"kron_contract: shapes {fmt(big.shape)} and {fmt(other.shape)} do not fit")
    if big.op == "zeros" or other.op == "zeros":
        return zeros(small_shape)
    return Expr.make("kron_contract", (big, other), Params(side=side), small_shape)


def _kron_contract_value(node: Expr, big: np.ndarray, other: np.ndarray) -> np.ndarray:
    r, c = node.shape
    if node.params.side == "a":
        p, q = other.shape
        result: np.ndarray = np.einsum("ikjl,kl->ij", big.reshape(r, p, c, q), other)
        return result
    m, n = other.shape
    result = np.einsum("ikjl,ij->kl", big.reshape(m, r, n, c), other)
    return result


def _kron_contract_code(g: CodeContext, node: Expr, big: str, other: str) -> str:
    r, c = node.shape
    if node.params.side == "a":
        p, q = node.args[1].shape
        return f"{g.array_module}.einsum('ikjl,kl->ij', {big}.reshape({r}, {p}, {c}, {q}), {other})"
    m, n = node.args[1].shape
    return f"{g.array_module}.einsum('ikjl,ij->kl', {big}.reshape({m}, {r}, {n}, {c}), {other})"


def _kron_contract_jvp(node: Expr, i: int) -> Any:
    big, other = node.args
    side = node.params.side
    fixed_other = "b" if side == "a" else "a"
    dims = (*node.shape, *other.shape) if side == "a" else (*other.shape, *node.shape)
    if i == 0:
        return KronFactorMap(other, fixed_other, "big", side, dims)
    return KronFactorMap(big, "big", fixed_other, side, dims)


def _print_kron_contract(printer: StyledPrintContext, e: Expr) -> tuple[str, int]:
    # the matrix K with ⟨K, H⟩ = ⟨G, H ⊗ B⟩ (side a) or ⟨G, A ⊗ H⟩ (side b)
    big, other = printer(e.args[0]), printer(e.args[1], Prec.PROD)
    slot = f"·{printer.s.kron}{other}" if e.params.side == "a" else f"{other}{printer.s.kron}·"
    return f"⟨{big}, {slot}⟩", Prec.ATOM


register(
    "kron_contract", function=kron_contract, params=("side",),
    evaluate=with_node(_kron_contract_value), code=_kron_contract_code,
    jvp=_kron_contract_jvp,
    printing=Printing(_print_kron_contract, _print_kron_contract, py_call("kron_contract")),
    rebuild=lambda node, args: kron_contract(args[0], args[1], node.shape, node.params.side),
    doc="the adjoint of a Kronecker factor (appears in gradients of kron)",
)
