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
the public functions of the op registry, exported here as they are
registered (see ``docs/adding-an-operation.md``).
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
from .ops.arithmetic import hadamard
from .ops.leaves import Array, Constant, Matrix, Scalar, Vector
from .ops.stacks import permute_dims
from .printing import pretty
from .dims import on_first_free
from .registry import public_functions

__version__ = "0.1.0"

globals().update({name: op.function for name, op in public_functions().items()})
# sizes left to inference build through a wrapper from the first one on (kronvec.registry)
on_first_free(lambda: globals().update({name: op.function for name, op in public_functions().items()}))

__all__ = [  # a literal list, so that type checkers see these names as exported
    "Matrix", "Array", "Vector", "Scalar", "Constant", "Expr", "hadamard", "permute_dims",
    "evaluate", "jacobian", "grad", "hessian", "Jacobian", "LinearMap", "BlockJacobian", "BlockMap",
    "explain", "pretty", "lambdify", "jax_function", "torch_function",
    "vec", "unvec", "vech", "commutation", "duplication", "elimination",
    "ShapeError", "BindingError", "MaterializationError", "DegenerateError",
]
__all__[:0] = sorted(public_functions())  # the op functions first, as before
