"""The operations of kronvec, one family per module and one short section per op.

Importing this package registers every operation in :mod:`kronvec.registry`.
"""
from . import leaves  # noqa: F401  (first: the others build leaves)
from . import adjugate  # noqa: F401
from . import arithmetic, elementwise, matrix_functions, products, reductions, structure  # noqa: F401
from . import assembly, exponents, indexing, kronecker, stacks  # noqa: F401
# after products: these build products and inverses
from . import decompositions, spectral, spectral_functions, triangular  # noqa: F401
from . import eigen_ties, eigen_frechet  # noqa: F401  (after spectral and indexing: columns of eigh's V)
from . import axis_reductions, cumulative, ml, piecewise, power_derivatives  # noqa: F401
from . import diagonals, norms  # noqa: F401  (after axis_reductions and piecewise: norms are built from them)
from . import special  # noqa: F401  (after stacks: gradients spread over stacks)
from . import einsum  # noqa: F401  (after products and reductions: contractions that are matrix ops become them)
from . import reshaping  # noqa: F401  (after einsum: outer is a contraction)
