"""Cost in proportion to the input and to the answer, checked in a child process.

Each case runs in a fresh interpreter with its address space limited
(``RLIMIT_AS``) and a wall-clock limit, so a regression fails here instead of
hanging the suite or exhausting the machine.  Limits are a few times the
measured cost, so that slow CI machines pass.
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.resources

ROOT = Path(__file__).resolve().parents[1]
GiB = 2 ** 30


def run_limited(code: str, memory: int = 2 * GiB, seconds: float = 20.0,
                args: tuple[str, ...] = ()) -> tuple[subprocess.CompletedProcess, float]:
    """Run ``code`` in a child Python with at most ``memory`` bytes of address space and
    ``seconds`` of wall time; return the finished process and its duration.

    Large blocks are always mapped (``MALLOC_MMAP_THRESHOLD_``), so that freed arrays leave
    the resident size and it measures what is held."""
    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "MALLOC_MMAP_THRESHOLD_": str(2 ** 20),
           "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    start = time.perf_counter()
    try:
        done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True,
                              text=True, timeout=seconds, preexec_fn=limit, env=env, cwd=ROOT)
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
