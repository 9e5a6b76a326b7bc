"""kronvec inside JAX and PyTorch: ``kv.jax_function`` and ``kv.torch_function``.

Both wrap kronvec's generated code (:func:`kronvec.lambdify`) as a function
of the framework whose derivatives are kronvec's: the JVP (JAX) and the VJP
(PyTorch) are themselves kronvec expressions of the values and the tangents
(:mod:`.rules`), generated and wrapped the same way when they are first
needed, so every order of derivative is kronvec's.
"""
from __future__ import annotations

from .jaxfn import jax_function
from .torchfn import torch_function

__all__ = ["jax_function", "torch_function"]
