"""The differential fuzzer: random programs over kronvec's ops, checked against NumPy twins.

Each program (see ``tests/fuzz``) starts from a variable of one *shape class*:

* a plain matrix, a 1×1, a 1×n and an n×1 matrix;
* a stack with one stack axis, with two stack axes, and a stack of 1×1 members;

and applies one to four random steps: elementwise functions (kinked ones away from
their kinks), broadcasting against NumPy constants of rank 0, 1, 2 and 3 and against
further variables (so a program may hold several), reductions and softmax over any
axis (stack axes included), products, transposes, functions of SPD and of general
square matrices, factorizations, solves, norms, per-member scalars, assembly and
indexing. Each step carries a NumPy/SciPy twin and keeps the point valid (SPD inputs
where needed, guards against ties, repeated eigenvalues and rank changes).

Checks (``tests/fuzz/checks.py``): value and shape of ``kv.evaluate`` against the twin;
JVP against central and five-point finite differences, VJP, the adjoint dot test,
``to_dense``; ``kv.grad`` (exactly the variable's shape) and ``kv.hessian`` (symmetric,
against differences of the gradient) of a scalar made from the program; ``kv.lambdify``
against ``kv.evaluate``. Any wrong number and any exception at a valid point fails,
except a refusal API.md documents (``DOCUMENTED_REFUSALS``). Families that fail today
because of an open finding of issue 17 are listed in ``KNOWN_FINDINGS``.

Size: the suite draws ``CI_EXAMPLES`` programs per shape class, derandomized (the ``ci``
profile of the root conftest). Environment variables:

* ``KRONVEC_FUZZ_SCALE=10`` draws ten times as many (any positive number);
* ``KRONVEC_FUZZ_KNOWN=1`` also draws the families of ``KNOWN_FINDINGS``.

``python tests/fuzz/survey.py`` runs the same generator without stopping at the first
failure and prints the figures and every distinct failure, each with the command that
replays it (``--seed S`` draws other programs; ``--replay ID`` checks one program again).
"""
from __future__ import annotations

import os

import numpy as np
import pytest
from fuzz.checks import Tally, check_program
from fuzz.programs import CI_EXAMPLES, programs
from fuzz.terms import SHAPE_CLASSES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SCALE = float(os.environ.get("KRONVEC_FUZZ_SCALE", "1"))
WITH_KNOWN = os.environ.get("KRONVEC_FUZZ_KNOWN", "") not in ("", "0")
TALLY = Tally()


@pytest.fixture(scope="module", autouse=True)
def figures():
    """Print the run's figures at the end of the module (``pytest -s`` shows them)."""
    yield
    print(f"\nfuzzer: {TALLY.line()}")


@pytest.mark.parametrize("shape_class", sorted(SHAPE_CLASSES))
@settings(max_examples=max(1, round(CI_EXAMPLES * SCALE)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_random_program_matches_numpy_and_finite_differences(shape_class, data):
    program = data.draw(programs(shape_class, with_known=WITH_KNOWN), label="program")
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1), label="seed"))
    TALLY.programs += 1
    values = program.valid_values(rng)
    if values is None:
        TALLY.no_valid_point += 1
        return
    failures = check_program(program, values, TALLY, rng, with_known=WITH_KNOWN)
    assert not failures, (f"program {program.expr} of shape {program.expr.shape} "
                          f"({program.shape_class}, tags {sorted(program.term.tags)}) at "
                          f"{ {k: v.tolist() for k, v in values.items()} }:\n" + "\n".join(failures))


@pytest.mark.parametrize("shape_class", sorted(SHAPE_CLASSES))
@settings(max_examples=max(1, round(CI_EXAMPLES * SCALE / 8)), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_random_program_with_special_functions(shape_class, data):
    """The same checks on programs that start with a scipy.special function (gammaln, log_ndtr,
    xlogy, ...) and may draw more of them."""
    program = data.draw(programs(shape_class, with_known=WITH_KNOWN, special=True), label="program")
    rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1), label="seed"))
    values = program.valid_values(rng)
    if values is None:
        return
    failures = check_program(program, values, TALLY, rng, with_known=WITH_KNOWN)
    assert not failures, (f"program {program.expr} of shape {program.expr.shape} "
                          f"({program.shape_class}, tags {sorted(program.term.tags)}) at "
                          f"{ {k: v.tolist() for k, v in values.items()} }:\n" + "\n".join(failures))
