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
from . import printing  # noqa: F401  (installs the printer behind str(expr))
from .derivative import Jacobian, explain, grad, hessian, jacobian
from .errors import BindingError, DegenerateError, MaterializationError, ShapeError
from .evaluation import evaluate
from .expr import Expr
from .maps import LinearMap
from .maps.structured import commutation, duplication, elimination, unvec, vec, vech
from .ops.arithmetic import hadamard, multiply, power
from .ops.elementwise import cos, exp, log, sin, sqrt, tanh
from .ops.leaves import Constant, Matrix, Scalar, Vector, eye, ones, zeros
from .ops.matrix_functions import expm
from .ops.products import inv, kron, matmul, matrix_power, solve, transpose
from .ops.reductions import det, logdet, norm, sum, trace
from .ops.structure import diag
from .printing import pretty

__version__ = "0.1.0"

__all__ = [
    "Matrix", "Vector", "Scalar", "Constant", "Expr", "eye", "zeros", "ones",
    "inv", "solve", "trace", "det", "logdet", "matmul", "transpose", "multiply", "power",
    "kron", "hadamard", "exp", "log", "sin", "cos", "tanh", "sqrt", "sum", "norm", "diag",
    "matrix_power", "expm", "evaluate", "jacobian", "grad", "hessian", "Jacobian", "LinearMap",
    "explain", "pretty", "vec", "unvec", "vech", "commutation", "duplication", "elimination",
    "ShapeError", "BindingError", "MaterializationError", "DegenerateError",
]
