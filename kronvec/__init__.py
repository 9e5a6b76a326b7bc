"""kronvec: matrix calculus with lazy Kronecker derivatives.

Build matrix expressions, differentiate them into structured linear maps
(vec dF = (Bᵀ ⊗ A) vec dV and friends), print closed forms, and apply them
at the cost of the hand-written formula.

>>> import kronvec as kv
>>> X, V = kv.Matrix("X", (6, 3)), kv.Matrix("V", (6, 6))
>>> F = kv.inv(X.T @ kv.inv(V) @ X).named("F")
>>> J = kv.jacobian(F, V)
>>> print(J)
(V⁻¹XF)ᵀ ⊗ (FXᵀV⁻¹)
>>> print(J.differential())
dF = F Xᵀ V⁻¹ dV V⁻¹ X F
"""
from .derivative import Jacobian, explain, grad, hessian, jacobian
from .errors import BindingError, MaterializationError, ShapeError
from .evaluation import evaluate
from .expr import (Constant, Expr, Matrix, Scalar, Vector, det, diag, expm, eye, inv, kron,
                   logdet, matrix_power, norm, ones, solve, sum, trace, zeros)
from .maps import LinearMap
from .printing import pretty
from .structured import commutation, duplication, elimination, unvec, vec, vech
from .expr import elementwise as _elementwise
from .expr import hadamard

__version__ = "0.1.0"


def exp(A: Expr) -> Expr:
    """The elementwise exponential exp∘(A)."""
    return _elementwise("exp", A)


def log(A: Expr) -> Expr:
    """The elementwise natural logarithm log∘(A)."""
    return _elementwise("log", A)


def sin(A: Expr) -> Expr:
    """The elementwise sine."""
    return _elementwise("sin", A)


def cos(A: Expr) -> Expr:
    """The elementwise cosine."""
    return _elementwise("cos", A)


def tanh(A: Expr) -> Expr:
    """The elementwise hyperbolic tangent."""
    return _elementwise("tanh", A)


def sqrt(A: Expr) -> Expr:
    """The elementwise square root A∘½."""
    return _elementwise("sqrt", A)


__all__ = [
    "Matrix", "Vector", "Scalar", "Constant", "Expr", "eye", "zeros", "ones",
    "inv", "solve", "trace", "det", "logdet",
    "kron", "hadamard", "exp", "log", "sin", "cos", "tanh", "sqrt", "sum", "norm", "diag",
    "matrix_power", "expm", "evaluate", "jacobian", "grad", "hessian", "Jacobian", "LinearMap",
    "explain", "pretty", "vec", "unvec", "vech", "commutation", "duplication", "elimination",
    "ShapeError", "BindingError", "MaterializationError",
]
