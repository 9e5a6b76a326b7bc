"""Cost in proportion to the input and to the answer, checked in a child process.

Each case runs in a fresh interpreter with its address space limited
(``RLIMIT_AS``) and a wall-clock limit, so a regression fails here instead of
hanging the suite or exhausting the machine.  Limits are a few times the
measured cost, so that slow CI machines pass.
"""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.resources

ROOT = Path(__file__).resolve().parents[1]
GiB = 2 ** 30


_PRELUDE = "import resource\nresource.setrlimit(resource.RLIMIT_AS, ({0}, {0}))\n"


def run_limited(code: str, memory: int = 2 * GiB, seconds: float = 20.0,
                args: tuple[str, ...] = ()) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``code`` in a child Python with at most ``memory`` bytes of address space (set by
    the child before anything else) and ``seconds`` of wall time; return the finished
    process and its duration.

    Large blocks are always mapped (``MALLOC_MMAP_THRESHOLD_``), so that freed arrays leave
    the resident size and it measures what is held."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "MALLOC_MMAP_THRESHOLD_": str(2 ** 20),
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-c", _PRELUDE.format(memory) + textwrap.dedent(code), *args],
                              capture_output=True, text=True, timeout=seconds, env=env, cwd=ROOT,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"took more than {seconds} s")
    return done, time.perf_counter() - start


def succeeds(code: str, **limits: float) -> str:
    """Run ``code`` under the limits and return its standard output; fail with its stderr."""
    done, _ = run_limited(code, **limits)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_caches_keep_a_bounded_number_of_bytes_of_constants_alive():
    # before: 60 evaluations with a new 8 MB constant each kept 458 MiB alive
    out = succeeds("""
        import gc
        import numpy as np
        import kronvec as kv
        X = kv.Matrix("X", (1000, 1000))
        x0 = np.ones((1000, 1000))
        resident = lambda: int(open("/proc/self/statm").read().split()[1]) * 4096
        before = resident()
        for i in range(60):
            C = np.full((1000, 1000), i + 0.5)
            kv.evaluate(X * C, X=x0)
            if i % 3 == 0:
                kv.jacobian(kv.sum(X * C), X)
        del C
        gc.collect()
        print(resident() - before)
    """)
    held = int(out.split()[-1])
    assert held < 300 * 2 ** 20, f"{held / 2 ** 20:.0f} MiB held"


def test_duplication_and_elimination_are_built_in_constant_memory():
    succeeds("""
        import numpy as np
        import kronvec as kv
        D, L = kv.duplication(20000), kv.elimination(20000)  # 2·10⁸ index entries if built eagerly
        assert D.in_shape == (200010000, 1) and L.out_shape == (200010000, 1)
        small = kv.duplication(3)
        assert np.array_equal(small.jvp(np.arange(6.0)), [[0, 1, 2], [1, 3, 4], [2, 4, 5]])
    """, memory=1 * GiB)


def test_binding_a_jacobian_does_not_compute_a_value_larger_than_its_factors():
    # before: J.at tried to allocate 74.5 GiB for F = x xᵀ, which nobody asked for
    out = succeeds("""
        import numpy as np
        import kronvec as kv
        n = 100_000
        x = kv.Vector("x", n)
        x0 = np.linspace(-1.0, 1.0, n).reshape(n, 1)
        L = kv.jacobian(x @ x.T, x).at(x=x0)
        assert L.shape == (n * n, n)
        g = kv.jacobian(kv.sum(x @ x.T), x).at(x=x0)
        h = np.cos(np.arange(n)).reshape(n, 1)
        print(float(g.jvp(h)), 2 * x0.sum() * h.sum())
    """, memory=1 * GiB)
    got, expected = map(float, out.split())
    assert abs(got - expected) <= 1e-9 * max(1.0, abs(expected))


def test_a_deferred_value_is_computed_on_first_access():
    import numpy as np

    import kronvec as kv
    from kronvec.evaluation import derivative_binding
    n = 6
    x = kv.Vector("x", n)
    x0 = np.arange(1.0, n + 1).reshape(n, 1)
    old = derivative_binding.EAGER_VALUE_ENTRIES
    derivative_binding.EAGER_VALUE_ENTRIES = 4
    try:
        J = kv.jacobian(kv.exp(x @ x.T), x)
        L = J.at(x=x0)
    finally:
        derivative_binding.EAGER_VALUE_ENTRIES = old
    assert L._value_thunk is not None
    np.testing.assert_allclose(L.value, np.exp(x0 @ x0.T), rtol=1e-14)
    assert L._value_thunk is None
    assert kv.jacobian(kv.exp(x @ x.T), x).at(x=x0).value is not None


def test_gradients_with_all_ones_factors_never_form_the_ones_matrix():
    # before: 2 𝟙x evaluated 𝟙 as a 20000×20000 matrix (3 GiB)
    out = succeeds("""
        import numpy as np
        import kronvec as kv
        n = 20_000
        x = kv.Vector("x", n)
        x0 = np.cos(np.arange(n)).reshape(n, 1)
        g = kv.grad(kv.sum(x @ x.T), x)
        value = kv.evaluate(g, x=x0)
        assert value.shape == (n, 1)
        assert np.allclose(value, 2 * x0.sum()), value[:3]
        print("ok")
    """, memory=1 * GiB)
    assert out.strip() == "ok"


def test_products_with_all_ones_factors_are_evaluated_as_sums():
    import numpy as np

    import kronvec as kv
    rng = np.random.default_rng(3)
    A, B = kv.Matrix("A", (4, 4)), kv.Matrix("B", (4, 3))
    A0, B0 = rng.standard_normal((4, 4)) + 4 * np.eye(4), rng.standard_normal((4, 3))
    J = np.ones((4, 4))
    cases = [
        (kv.inv(A) @ kv.ones(4, 4) @ B, np.linalg.solve(A0, J) @ B0),
        (kv.ones(3, 4) @ kv.inv(A) @ B, np.ones((3, 4)) @ np.linalg.solve(A0, B0)),
        (B.T @ kv.ones(4, 4), B0.T @ J),
        (kv.ones(4, 4) @ kv.ones(4, 4) @ A, J @ J @ A0),
        (kv.grad(kv.sum(A @ kv.inv(A) @ B @ B.T), A), None),
    ]
    for expr, expected in cases[:-1]:
        np.testing.assert_allclose(kv.evaluate(expr, A=A0, B=B0), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(kv.evaluate(cases[-1][0], A=A0, B=B0), np.zeros((4, 4)), atol=1e-9)
    g = kv.grad(kv.sum(A @ A @ B), A)
    fd = np.zeros((4, 4))
    for i in range(4):
        for j in range(4):
            e = np.zeros((4, 4))
            e[i, j] = 1e-6
            fd[i, j] = (np.sum((A0 + e) @ (A0 + e) @ B0) - np.sum((A0 - e) @ (A0 - e) @ B0)) / 2e-6
    np.testing.assert_allclose(kv.evaluate(g, A=A0, B=B0), fd, rtol=1e-7, atol=1e-7)


def test_the_derivative_of_a_huge_matrix_power_costs_log_k_products():
    # before: 25 s at k = 5000 (O(k²) terms), MemoryError after 52 s at k = 999999999
    out = succeeds("""
        import time
        import numpy as np
        import kronvec as kv
        X = kv.Matrix("X", (3, 3))
        start = time.perf_counter()
        for k in (5000, 999_999_999):
            J = kv.jacobian(kv.matrix_power(X, k), X)
            text = str(J) + J.differential() + J.latex() + str(kv.grad(kv.trace(kv.matrix_power(X, k)), X))
            assert len(text) < 400, text
            L = J.at(X=np.eye(3) * 0.5)
            L.jvp(np.ones((3, 3))), L.vjp(np.ones((3, 3))), L.to_dense()
        print(time.perf_counter() - start)
    """, memory=1 * GiB, seconds=20)
    assert float(out) < 2.0


def test_the_command_line_derives_a_huge_matrix_power_at_once():
    done, seconds = run_limited("""
        import sys
        from kronvec.cli import main
        sys.exit(main(sys.argv[1:]))
    """, memory=1 * GiB, seconds=30, args=("derive", "matrix_power(X, 999999999)", "--wrt", "X", "--shape",
                                           "X=3x3", "--check", "--latex", "--steps"))
    # the power overflows at random points, which --check reports in one line
    assert done.returncode in (0, 1, 2) and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.count("\n") <= 1
    assert "Σᵢ₌₀⁹⁹⁹⁹⁹⁹⁹⁹⁸" in done.stdout


def test_printed_forms_grow_linearly_with_nesting():
    # before: differential() of softmax nested 10 deep printed 266,376 characters, and nested 20 deep
    # ran out of memory (hundreds of MB of text)
    out = succeeds("""
        import kronvec as kv
        X = kv.Matrix("X", (3, 3))
        F, sizes = X, {}
        for depth in range(1, 21):
            F = kv.softmax(F)
            if depth in (10, 20):
                J = kv.jacobian(kv.sum(F), X)
                g = kv.grad(kv.sum(F), X)
                sizes[depth] = [len(str(F)), len(J.differential()), len(str(J)), len(J.latex()),
                                len(J.steps()), len(str(g)), len(g.latex())]
        print(sizes[10], sizes[20])
    """, memory=1 * GiB, seconds=30)
    ten, twenty = (list(map(int, part.strip(" []").split(","))) for part in out.strip().split("] ["))
    assert max(twenty) <= 100_000, twenty
    assert all(b <= 3 * a for a, b in zip(ten, twenty)), (ten, twenty)


def test_big_repeated_subexpressions_are_named_and_small_forms_are_unchanged():
    import kronvec as kv
    X = kv.Matrix("X", (3, 3))
    F = X
    for _ in range(8):
        F = kv.softmax(F)
    text = kv.jacobian(kv.sum(F), X).differential()
    assert ",  where P" in text and len(text) < 3000  # 35,000 characters written out
    small = kv.softmax(kv.softmax(X))
    assert "where" not in str(kv.grad(kv.sum(small), X))  # small forms print as they always did
