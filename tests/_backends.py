"""The code-generation backends installed here: NumPy always, JAX (in float64) and PyTorch
when their libraries import."""
from __future__ import annotations

import importlib
from types import ModuleType


def optional(name: str) -> ModuleType | None:
    """The module ``name``, or None when it is not installed."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


jax = optional("jax")
torch = optional("torch")
if jax is not None:
    jax.config.update("jax_enable_x64", True)

BACKENDS = ["numpy"] + (["jax"] if jax is not None else []) + (["torch"] if torch is not None else [])
