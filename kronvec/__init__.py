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

The functions on expressions (``kv.inv``, ``kv.trace``, ``kv.exp``, ...) are
the public functions of the op registry, imported here by name from the
modules of :mod:`kronvec.ops` that declare them, so that type checkers see
them (``tests/test_registry.py`` checks that this list is the registry's).
Each is one function from import on: it builds expressions whose sizes are
left to inference too (:func:`kronvec.registry.inferring`).
"""
from . import ops, printing  # noqa: F401  (registers every op; installs the printer)
from . import chunked  # noqa: F401  (installs evaluation with Dask values; Dask itself is imported on use)
from .blockjacobian import BlockJacobian
from .derivative import Jacobian, explain, grad, hessian, jacobian
from .errors import BindingError, DegenerateError, MaterializationError, ShapeError
from .codegen import lambdify
from .evaluation import evaluate
from .frameworks import jax_function, torch_function
from .expr import Expr
from .maps import LinearMap
from .maps.blocks import BlockMap
from .maps.structured import commutation, duplication, elimination, unvec, vec, vech
from .ops.arithmetic import hadamard, multiply, power
from .ops.assembly import block, hstack, vstack
from .ops.axis_reductions import max, mean, min
from .ops.cumulative import cumsum
from .ops.decompositions import lu, pinv, qr
from .ops.diagonals import diagonal
from .ops.einsum import einsum
from .ops.elementwise import arctan, cos, exp, expm1, log, log1p, sigmoid, sin, sqrt, square, tanh
from .ops.kronecker import kron
from .ops.leaves import Array, Constant, Matrix, Scalar, Vector, eye, ones, zeros
from .ops.matrix_functions import expm, logm, sqrtm
from .ops.ml import log_softmax, logsumexp, softmax, softplus
from .ops.norms import slogdet
from .ops.piecewise import abs, heaviside, maximum, minimum, relu, sign
from .ops.products import inv, matmul, matrix_power, matrix_transpose, solve
from .ops.reductions import det, logdet, norm, sum, trace
from .ops.reshaping import expand_dims, moveaxis, outer, reshape, squeeze
from .ops.special import digamma, erf, erfc, gammaln, log_ndtr, logit, ndtr, polygamma, xlogy
from .ops.spectral import eigh, eigvalsh, svd
from .ops.stacks import permute_dims, swapaxes, tensordot, transpose
from .ops.structure import diag
from .ops.triangular import cholesky, solve_triangular
from .printing import pretty

__version__ = "0.1.0"

__all__ = [  # a literal list, so that type checkers see these names as exported
    # the public functions of the op registry
    "abs", "arctan", "block", "cholesky", "cos", "cumsum", "det", "diag", "diagonal", "digamma", "eigh",
    "eigvalsh", "einsum", "erf", "erfc", "exp", "expand_dims", "expm", "expm1", "eye", "gammaln",
    "heaviside", "hstack", "inv", "kron", "log", "log1p", "log_ndtr", "log_softmax", "logdet", "logit",
    "logm", "logsumexp", "lu", "matmul", "matrix_power", "matrix_transpose", "max", "maximum", "mean",
    "min", "minimum", "moveaxis", "multiply", "ndtr", "norm", "ones", "outer", "pinv", "polygamma",
    "power", "qr", "relu", "reshape", "sigmoid", "sign", "sin", "slogdet", "softmax", "softplus", "solve",
    "solve_triangular", "sqrt", "sqrtm", "square", "squeeze", "sum", "svd", "swapaxes", "tanh",
    "tensordot", "trace", "transpose", "vstack", "xlogy", "zeros",
    # symbols, derivatives, maps and the rest
    "Matrix", "Array", "Vector", "Scalar", "Constant", "Expr", "hadamard", "permute_dims",
    "evaluate", "jacobian", "grad", "hessian", "Jacobian", "LinearMap", "BlockJacobian", "BlockMap",
    "explain", "pretty", "lambdify", "jax_function", "torch_function",
    "vec", "unvec", "vech", "commutation", "duplication", "elimination",
    "ShapeError", "BindingError", "MaterializationError", "DegenerateError",
]
