"""Public functions are fixed at import: a size left to inference rebinds nothing.

``kv.inv`` is the function ``kronvec.ops.products`` defines, from import on and
after the first symbol without sizes; it builds expressions whose sizes are
still inferred through :func:`kronvec.registry.inferring`, not through a name
swapped in at run time.
"""
from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import kronvec as kv
from kronvec import registry

ROOT = Path(__file__).resolve().parents[1]


def test_a_size_left_to_inference_rebinds_no_public_name():
    """In a fresh process (the first size left to inference is the event that once swapped the
    names): every public name and every registered constructor is the same object before and
    after ``kv.Matrix("X")``, and the functions build with inferred sizes."""
    script = textwrap.dedent("""
        import kronvec as kv
        from kronvec import registry
        names = {name: getattr(kv, name) for name in kv.__all__}
        constructors = {op.name: op.function for op in registry.specs()}
        X, V = kv.Matrix("X"), kv.Matrix("V")
        F = kv.inv(X.T @ kv.inv(V) @ X)
        assert str(kv.jacobian(kv.inv(X), X)) == "-X⁻ᵀ ⊗ X⁻¹", kv.jacobian(kv.inv(X), X)
        changed = [name for name in kv.__all__ if getattr(kv, name) is not names[name]]
        changed += [op.name for op in registry.specs() if op.function is not constructors[op.name]]
        assert not changed, changed
        print("ok", F.shape[0] == F.shape[1])
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["ok", "True"]


@pytest.mark.parametrize("op", [op for op in registry.specs() if op.public], ids=lambda op: op.name)
def test_every_public_function_is_the_one_its_module_defines(op):
    module = sys.modules[op.function.__module__]
    assert getattr(module, op.public) is op.function is getattr(kv, op.public)
    assert registry.is_inferring(op.function), f"kv.{op.public} is not defined with @inferring"


def test_register_refuses_a_public_function_without_inference():
    def double(a: object) -> object:
        return a
    with pytest.raises(TypeError, match="'double' must be defined with @inferring"):
        registry.register("double_for_a_test", public="double", function=double)
    assert "double_for_a_test" not in {op.name for op in registry.specs()}
