"""The one table of differentiation rules.

``RULES[op](node, i)`` is the partial derivative of ``node`` in its i-th
argument: a linear map from that argument's tangent to the node's tangent,
with expressions as factors.  Only these JVP rules are written; VJPs are
their adjoints.  Linear operations (sums, transposes, diag) map the tangent
the same way they map values.

Differentials used (Magnus & Neudecker; Matrix Cookbook eqs. 36-59):

=================  ===========================================
node               d(node)
=================  ===========================================
A₁⋯Aₖ              Σᵢ A₁⋯Aᵢ₋₁ dAᵢ Aᵢ₊₁⋯Aₖ
C = A⁻¹            −C dA C
tr A               tr dA
det A              det(A) tr(A⁻¹ dA)
log|det A|         tr(A⁻¹ dA)
A ⊗ B              dA ⊗ B + A ⊗ dB
A ⊙ B              dA ⊙ B + A ⊙ dB
f(A) elementwise   f'(A) ⊙ dA
‖A‖                tr((A/‖A‖)ᵀ dA)
Aᵏ                 Σᵢ Aⁱ dA Aᵏ⁻¹⁻ⁱ
e^A                L(A, dA) (Fréchet derivative)
=================  ===========================================
"""
from __future__ import annotations

from typing import Callable

from . import expr as E
from .algebra import add, scale
from .maps import LinearMap
from .terms import (DiagEmbedMap, DiagExtractMap, ElementwiseMap, ExpmFrechetMap,
                    KronFactorMap, KronMap, KronTMap, TraceMap)

__all__ = ["RULES", "partial"]

Rule = Callable[[E.Expr, int], LinearMap]


def partial(node: E.Expr, i: int) -> LinearMap:
    """∂ node / ∂ node.args[i] as a linear map."""
    try:
        rule = RULES[node.op]
    except KeyError:
        raise NotImplementedError(f"no derivative rule for {node.op!r}") from None
    return rule(node, i)


def _io(node: E.Expr, i: int) -> tuple[tuple, tuple]:
    return node.args[i].shape, node.shape


def _matmul(node: E.Expr, i: int) -> LinearMap:
    a = node.args
    before = E.matmul(*a[:i]) if i > 0 else None
    after = E.matmul(*a[i + 1:]) if i < len(a) - 1 else None
    return KronMap(before, after, *_io(node, i))


def _linear(node: E.Expr, i: int) -> LinearMap:
    return KronMap(None, None, *_io(node, i))


def _smul(node: E.Expr, i: int) -> LinearMap:
    s, a = node.args
    if i == 0:  # ds · A
        return TraceMap(None, a, *_io(node, 0))
    return scale(s, KronMap(None, None, *_io(node, 1)))


def _one() -> E.Expr:
    return E.Constant(1.0)


def _elementwise(derivative: Callable[[E.Expr], E.Expr]) -> Rule:
    """A rule D ⊙ dA with D = ``derivative(node)``."""
    return lambda node, i: ElementwiseMap(derivative(node), node.args[0].shape, node.shape)


def _kron(node: E.Expr, i: int) -> LinearMap:
    a, b = node.args
    dims = (*a.shape, *b.shape)
    if i == 0:
        return KronFactorMap(b, "b", "a", "big", dims)
    return KronFactorMap(a, "a", "b", "big", dims)


def _kron_contract(node: E.Expr, i: int) -> LinearMap:
    big, other = node.args
    side = node.params[0]
    fixed_other = "b" if side == "a" else "a"
    dims = (*node.shape, *other.shape) if side == "a" else (*other.shape, *node.shape)
    if i == 0:
        return KronFactorMap(other, fixed_other, "big", side, dims)
    return KronFactorMap(big, "big", fixed_other, side, dims)


def _matpow(node: E.Expr, i: int) -> LinearMap:
    a, k = node.args[0], node.params[0]
    power = lambda j: E.matrix_power(a, j) if j > 0 else None  # noqa: E731
    return add(*[KronMap(power(j), power(k - 1 - j), a.shape, a.shape) for j in range(k)])


def _expm_frechet(node: E.Expr, i: int) -> LinearMap:
    if i == 1:
        return ExpmFrechetMap(node.args[0], node.shape)
    raise NotImplementedError("second derivatives through expm (the derivative of the "
                              "Fréchet derivative in A) are not supported")


RULES: dict[str, Rule] = {
    "matmul": _matmul,
    "add": _linear,
    "named": _linear,
    "scale": lambda node, i: scale(node.params[0], _linear(node, i)),
    "smul": _smul,
    "transpose": lambda node, i: KronTMap(None, None, *_io(node, i)),
    "inv": lambda node, i: KronMap(E.scale(-1.0, node), node, *_io(node, i)),
    "trace": lambda node, i: TraceMap(None, _one(), *_io(node, i)),
    "det": lambda node, i: TraceMap(E.inv(node.args[0]), node, *_io(node, i)),
    "logdet": lambda node, i: TraceMap(E.inv(node.args[0]), _one(), *_io(node, i)),
    "kron": _kron,
    "kron_contract": _kron_contract,
    "hadamard": lambda node, i: ElementwiseMap(node.args[1 - i], *_io(node, i)),
    "power": _elementwise(lambda n: E.scale(n.params[0], E.power(n.args[0], n.params[0] - 1))),
    "exp": _elementwise(lambda n: n),
    "log": _elementwise(lambda n: E.power(n.args[0], -1.0)),
    "sin": _elementwise(lambda n: E.elementwise("cos", n.args[0])),
    "cos": _elementwise(lambda n: E.scale(-1.0, E.elementwise("sin", n.args[0]))),
    "tanh": _elementwise(lambda n: E.add(E.ones(n.shape), E.scale(-1.0, E.hadamard(n, n)))),
    "sum": lambda node, i: TraceMap(E.ones(node.args[0].shape[::-1]), _one(), *_io(node, i)),
    "norm": lambda node, i: TraceMap(E.transpose(E.smul(E.power(node, -1.0), node.args[0])),
                                     _one(), *_io(node, i)),
    "diag": lambda node, i: DiagEmbedMap(node.shape[0]),
    "diagpart": lambda node, i: DiagExtractMap(node.args[0].shape[0]),
    "matpow": _matpow,
    "expm": lambda node, i: ExpmFrechetMap(node.args[0], node.shape),
    "expm_frechet": _expm_frechet,
}
