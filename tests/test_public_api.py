"""The public surface: every name of the public API exists, and everything public is documented."""
from __future__ import annotations

import inspect

import pytest

import kronvec as kv

CONTRACT = [
    "Matrix", "Vector", "inv", "solve", "trace", "det", "logdet", "kron", "evaluate",
    "jacobian", "grad", "hessian", "vec", "unvec", "ShapeError", "BindingError",
    "exp", "log", "sin", "cos", "tanh", "sqrt", "sum", "norm", "diag", "matrix_power",
    "expm", "commutation", "duplication", "elimination", "vech", "LinearMap",
]


@pytest.mark.parametrize("name", CONTRACT)
def test_contract_names_exist(name):
    assert hasattr(kv, name)


@pytest.mark.parametrize("name", sorted(kv.__all__))
def test_public_names_have_docstrings(name):
    doc = inspect.getdoc(getattr(kv, name))
    assert doc and len(doc) > 20, name


def test_linear_map_members_are_documented():
    for member in ["jvp", "vjp", "T", "to_dense", "to_tensor", "aslinearoperator", "shape"]:
        assert inspect.getdoc(getattr(kv.LinearMap, member)), member
    for member in ["at", "differential", "steps", "latex", "terms", "nterms", "T"]:
        assert inspect.getdoc(getattr(kv.Jacobian, member)), member
