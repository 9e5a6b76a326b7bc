"""Expressions, Jacobians and bound maps shared between threads give the serial numbers.

Every round starts 8 threads at one barrier on objects that nobody has used
yet (a fresh symbol name per round), with the interpreter switching threads
every microsecond, so that the first uses overlap: the first ``J.at`` of a
Jacobian, the interning of a new symbol, the first evaluation of a new
expression, and the blocks of a Dask graph on the threaded scheduler.

The rounds run in one fresh interpreter (:func:`_child_outcomes`), with faulthandler on.  In
the suite's own process they met what other tests leave behind: torch's and JAX's threads,
JAX's ``gc.callbacks`` hook (Python code at every collection, so with a switch interval of
1 µs a thread can hand over the interpreter in the middle of any allocation) and the
objects left to the collector; twice a run of the whole suite died there with a segmentation
fault in the collector, never reproduced alone.  In a child a crash fails these tests with
every thread's stack in the message, and the rest of the suite runs on.  The last rounds
(:func:`_collector_stress`) collect at nearly every allocation with such a hook installed.
"""
from __future__ import annotations

import gc
import json
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest

import kronvec as kv

try:  # optional: without it the Dask rounds are skipped
    import dask
    import dask.array as da
except ImportError:
    dask = da = None

THREADS = 8


class _switch_often:
    """Switch threads every microsecond (the default is 5 ms), so that races show."""

    def __enter__(self) -> None:
        self.before = sys.getswitchinterval()
        sys.setswitchinterval(1e-6)

    def __exit__(self, *exc: object) -> None:
        sys.setswitchinterval(self.before)


def _at_once(work: Callable[[int], Any], threads: int = THREADS) -> list[Any]:
    """``work(i)`` in ``threads`` threads released together; results (or exceptions) in order."""
    barrier = threading.Barrier(threads)
    out: list[Any] = [None] * threads

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = work(i)
        except Exception as err:  # reported by the caller, with the others
            out[i] = err

    pool = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return out


def _raised(results: list[Any]) -> list[Exception]:
    return [r for r in results if isinstance(r, Exception)]


def _jacobian_round(r: int, rng: np.random.Generator) -> None:
    n = 4
    a0 = rng.standard_normal((n, n))
    X = kv.Matrix(f"X{r}", (n, n))
    J = kv.jacobian(kv.inv(X) @ a0 @ X + kv.logdet(X) * X, X)
    x0 = 0.3 * rng.standard_normal((n, n)) + np.eye(n)
    h, g = rng.standard_normal((n, n)), rng.standard_normal((n, n))

    def work(i: int) -> tuple[np.ndarray, np.ndarray]:
        L = J.at({f"X{r}": x0})
        return L.jvp(h), L.vjp(g)

    results = _at_once(work)
    assert not _raised(results), _raised(results)[:2]
    xi = np.linalg.inv(x0)
    expected = -xi @ h @ xi @ a0 @ x0 + xi @ a0 @ h + np.trace(xi @ h) * x0 + np.linalg.slogdet(x0)[1] * h
    for jvp, vjp in results:
        np.testing.assert_allclose(jvp, expected, rtol=1e-10, atol=1e-12)
        assert np.isclose(np.sum(vjp * h), np.sum(jvp * g), rtol=1e-10)


def _first_binding_of_a_fresh_jacobian() -> None:
    """dF = -X⁻¹ H X⁻¹ A X + X⁻¹ A H + tr(X⁻¹ H) X + log det(X) H for F = X⁻¹ A X + log det(X) X,
    and the VJP its adjoint."""
    rng = np.random.default_rng(0)
    for r in range(25):
        _jacobian_round(r, rng)


def _block_hessian_round(r: int, rng: np.random.Generator) -> None:
    U, V = kv.Matrix(f"U{r}", (3, 3)), kv.Matrix(f"V{r}", (3, 3))
    f = kv.trace(U @ V @ U.T @ V)
    H = kv.hessian(f, [U, V])
    values = {f"U{r}": rng.standard_normal((3, 3)), f"V{r}": rng.standard_normal((3, 3))}
    tangents = (rng.standard_normal((3, 3)), rng.standard_normal((3, 3)))
    results = _at_once(lambda i: H.at(values).jvp(tangents))
    assert not _raised(results), _raised(results)[:2]
    serial = kv.BlockJacobian(H.expr, H.wrt, H.blocks)  # one of its own, bound by one thread
    expected = serial.at(values).jvp(tangents)
    for out in results:
        for got, want in zip(out, expected):
            np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)


def _first_binding_of_a_fresh_block_hessian() -> None:
    rng = np.random.default_rng(1)
    for r in range(15):
        _block_hessian_round(r, rng)


def _symbol_round(r: int, x0: np.ndarray) -> None:
    def work(i: int) -> tuple[Any, np.ndarray]:
        X = kv.Matrix(f"S{r}", (2, 2))
        f = kv.sum(X * X) + kv.trace(kv.Matrix(f"S{r}", (2, 2)))
        return X, kv.evaluate(kv.grad(f, X), {f"S{r}": x0})

    results = _at_once(work)
    assert not _raised(results), _raised(results)[:2]
    assert len({id(X) for X, _ in results}) == 1
    for _, g in results:
        np.testing.assert_allclose(g, 2 * x0 + np.eye(2))


def _one_symbol_per_name_and_shape() -> None:
    """Two nodes for one symbol would make the derivative in one of them zero."""
    rng = np.random.default_rng(2)
    for r in range(150):
        _symbol_round(r, rng.standard_normal((2, 2)))


def _evaluation_round(r: int, rng: np.random.Generator) -> None:
    V = kv.Matrix(f"W{r}", (3, 3), positive_definite=True)
    y = kv.Vector(f"y{r}", 3)
    f = kv.logdet(V) + y.T @ kv.solve(V, y)
    a = rng.standard_normal((3, 3))
    v0, y0 = a @ a.T + 3 * np.eye(3), rng.standard_normal(3)
    values = {f"W{r}": v0, f"y{r}": y0}
    results = _at_once(lambda i: (kv.evaluate(f, values), kv.evaluate(kv.grad(f, V), values)))
    assert not _raised(results), _raised(results)[:2]
    value = np.linalg.slogdet(v0)[1] + y0 @ np.linalg.solve(v0, y0)
    w = np.linalg.solve(v0, y0)
    for got, grad in results:
        np.testing.assert_allclose(got, value, rtol=1e-12)
        np.testing.assert_allclose(grad, np.linalg.inv(v0) - np.outer(w, w), rtol=1e-10, atol=1e-12)


def _first_evaluation_of_fresh_expressions() -> None:
    rng = np.random.default_rng(3)
    for r in range(25):
        _evaluation_round(r, rng)


def _dask_rounds(rounds: range, prefix: str = "D") -> None:
    """Every block binds its own map (symbols of the block's shape, made by the first block that
    needs them) on 8 threads; 8 fresh maps per round, computed together."""
    assert dask is not None and da is not None, "the Dask rounds run only where Dask is installed"
    rng = np.random.default_rng(4)
    b, n = 16, 3
    with dask.config.set(scheduler="threads", num_workers=THREADS):
        for r in rounds:
            v0 = rng.standard_normal((b, n, n)) + 3 * np.eye(n)
            h = rng.standard_normal((b, n, n))
            vi = np.linalg.inv(v0)
            expected = -vi @ h @ vi @ np.swapaxes(v0, 1, 2) + vi @ np.swapaxes(h, 1, 2)
            stacks = [kv.Matrix(f"{prefix}{r}_{k}", (b, n, n)) for k in range(8)]
            jvps = [kv.jacobian(kv.inv(V) @ V.mT, V).at({V.name: da.from_array(v0, chunks=(1, n, n))}).jvp(h)
                    for V in stacks]
            for got in dask.compute(*jvps):
                np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)


def _dask_threaded_scheduler() -> None:
    _dask_rounds(range(20))


def _collector_stress() -> None:
    """Fresh Dask rounds with a collection at nearly every allocation of a container and a Python
    ``gc.callbacks`` hook (as JAX installs): every collection is a point where another thread may
    take over, in the middle of whatever C code allocated."""
    calls = [0]

    def hook(phase: str, info: dict[str, int]) -> None:
        calls[0] += 1

    before = gc.get_threshold()
    gc.callbacks.append(hook)
    gc.set_threshold(3, 2, 2)
    try:
        _dask_rounds(range(4), prefix="G")
    finally:
        gc.callbacks.remove(hook)
        gc.set_threshold(*before)
    assert calls[0] > 1000, calls  # the collector did run that often


ROUNDS: dict[str, Callable[[], None]] = {
    "jacobian": _first_binding_of_a_fresh_jacobian,
    "block hessian": _first_binding_of_a_fresh_block_hessian,
    "symbol": _one_symbol_per_name_and_shape,
    "evaluation": _first_evaluation_of_fresh_expressions,
    "dask": _dask_threaded_scheduler,
    "collector stress": _collector_stress,
}
NEEDS_DASK = {"dask", "collector stress"}
OUTCOME = "outcome of the rounds: "


def child_main() -> None:
    """Run every round here (the child), printing one line: name → "ok", "skip" or the traceback."""
    has_dask = dask is not None
    outcomes: dict[str, str] = {}
    for name, rounds in ROUNDS.items():
        if name in NEEDS_DASK and not has_dask:
            outcomes[name] = "skip"
            continue
        try:
            with _switch_often():
                rounds()
            outcomes[name] = "ok"
        except Exception:  # reported by the parent's test of this name
            outcomes[name] = traceback.format_exc()
    print(OUTCOME + json.dumps(outcomes), flush=True)


_CHILD = ("import sys; sys.path.insert(0, {tests!r}); import test_concurrency; "
          "test_concurrency.child_main()")


@pytest.fixture(scope="module")
def _child_outcomes() -> dict[str, str]:
    """The outcome of every round, run in one fresh interpreter with faulthandler on (a crash
    prints the stack of every thread into the output kept here)."""
    root = Path(__file__).resolve().parents[1]
    command = [sys.executable, "-X", "faulthandler", "-c", _CHILD.format(tests=str(root / "tests"))]
    done = subprocess.run(command, cwd=root, capture_output=True, text=True, timeout=600,
                          stdin=subprocess.DEVNULL)
    lines = [line for line in done.stdout.splitlines() if line.startswith(OUTCOME)]
    if done.returncode != 0 or not lines:
        return {"crash": f"the child exited with {done.returncode}\n--- stdout\n{done.stdout[-5000:]}"
                         f"\n--- stderr\n{done.stderr[-20000:]}"}
    outcomes: dict[str, str] = json.loads(lines[-1][len(OUTCOME):])
    return outcomes


def _check(outcomes: dict[str, str], name: str) -> None:
    if "crash" in outcomes:
        pytest.fail(outcomes["crash"], pytrace=False)
    if outcomes[name] == "skip":
        pytest.skip("needs Dask")
    assert outcomes[name] == "ok", outcomes[name]


def test_first_binding_of_a_fresh_jacobian_from_many_threads(_child_outcomes):
    _check(_child_outcomes, "jacobian")


def test_first_binding_of_a_fresh_block_hessian_from_many_threads(_child_outcomes):
    _check(_child_outcomes, "block hessian")


def test_one_symbol_per_name_and_shape_when_threads_create_it_at_once(_child_outcomes):
    _check(_child_outcomes, "symbol")


def test_first_evaluation_of_fresh_expressions_from_many_threads(_child_outcomes):
    _check(_child_outcomes, "evaluation")


def test_dask_threaded_scheduler_gives_the_serial_numbers(_child_outcomes):
    _check(_child_outcomes, "dask")


def test_dask_rounds_while_the_collector_runs_at_nearly_every_allocation(_child_outcomes):
    _check(_child_outcomes, "collector stress")


def test_the_child_reports_a_crash_with_every_threads_stack(tmp_path):
    """The machinery above: a child that dies by a signal fails the tests with faulthandler's dump."""
    resource = pytest.importorskip("resource")  # POSIX: the dying child leaves no core file
    script = tmp_path / "die.py"
    script.write_text("import faulthandler, threading, time\n"
                      "started = threading.Event()\n"
                      "def wait():\n"
                      "    started.set()\n"
                      "    time.sleep(5)\n"
                      "threading.Thread(target=wait, daemon=True).start()\n"
                      "started.wait()\n"
                      "faulthandler._sigsegv()\n")  # a segmentation fault with the interpreter held
    done = subprocess.run([sys.executable, "-X", "faulthandler", str(script)], capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL, cwd=tmp_path,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_CORE, (0, 0)))
    assert done.returncode != 0
    assert "Fatal Python error: Segmentation fault" in done.stderr
    assert done.stderr.count("hread 0x") >= 2 and "in wait" in done.stderr  # every thread's stack
