"""The code-generation backends installed here: NumPy always, JAX (in float64) and PyTorch
when their libraries import."""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import numpy as np

import kronvec as kv
from kronvec.testing import fd_jvp


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


def to_backend(backend: str, x: object) -> object:
    """``x`` as an array of ``backend`` (a copy for PyTorch, which wants writable memory)."""
    if backend == "jax":
        return jax.numpy.asarray(x)  # type: ignore[union-attr]
    if backend == "torch":
        return torch.as_tensor(np.array(x))  # type: ignore[union-attr]
    return np.asarray(x)


def close(got: object, want: object, rtol: float = 1e-8) -> None:
    """``got`` equals ``want`` in shape, and in value to ``rtol`` of the larger of 1 and max|want|."""
    got, want = np.asarray(got, dtype=float), np.asarray(want, dtype=float)
    assert got.shape == want.shape, (got.shape, want.shape)
    scale = max(1.0, float(np.abs(want).max(initial=0.0)))
    np.testing.assert_allclose(got, want, rtol=rtol, atol=rtol * scale)


def direction(rng: np.random.Generator, shape: tuple[int, ...], symmetric: bool) -> np.ndarray:
    """A random direction of ``shape``, symmetric in its last two axes when ``symmetric``."""
    h = rng.standard_normal(shape)
    return h + np.swapaxes(h, -1, -2) if symmetric else h


def check_generated_code(f: Any, syms: list[Any], values: dict[str, Any], wrt: Any, backend: str) -> None:
    """The generated value, JVP and VJP of ``f`` in ``wrt`` equal the library's evaluation and bound
    map (and the JVP equals central finite differences)."""
    J = kv.jacobian(f, wrt)
    fns = [kv.lambdify(syms, out, backend) for out in (f, J, J.T)]
    args = [to_backend(backend, values[s.params.name]) for s in syms]
    L = J.at(values)
    rng = np.random.default_rng(5)
    H, G = direction(rng, L.in_shape, wrt.params.symmetric), rng.standard_normal(L.out_shape)
    close(fns[0](*args), kv.evaluate(f, values))
    close(fns[1](*args, to_backend(backend, H)), L.jvp(H))
    close(fns[1](*args, to_backend(backend, H)), fd_jvp(f, wrt, values, H), rtol=1e-5)
    close(fns[2](*args, to_backend(backend, G)), L.vjp(G))
