"""Benchmark: the time of ``import kronvec`` against ``import numpy, scipy.linalg``.

    python benchmarks/bench_import.py [--repeats 15] [--json out.json]

Each import runs in a fresh interpreter (bytecode cached), the two alternated,
timed by the process's CPU time from just before the import statement (so the
interpreter's own start does not count, and other work on the machine counts as
little as it can).  Prints the medians, the best times and their ratio (target
≤ 1.15×), then what kronvec adds on top of NumPy and SciPy, from one fresh
process that imports ``numpy, scipy.linalg`` first:

* the third-party modules kronvec imports beyond those two (heavy ones load on
  first use through :mod:`kronvec.lazy`, so this list should stay empty);
* its own modules: how many, and the bytes of their bytecode (reading and
  unmarshalling it is a cost that grows with the code);
* the garbage collections during the import and their time;
* the ten modules whose own execution takes longest (``python -X importtime``).

Not part of the test run; see benchmarks/README.md.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
OURS, THEIRS = "import kronvec", "import numpy, scipy.linalg"

_BREAKDOWN = r"""
import gc, importlib.util, json, os, sys, time
import numpy, scipy.linalg
before = set(sys.modules)
collections = []
def _timer(phase, info, _start=[0.0]):
    if phase == "start":
        _start[0] = time.perf_counter()
    else:
        collections.append((info["generation"], time.perf_counter() - _start[0]))
gc.callbacks.append(_timer)
import kronvec
gc.callbacks.remove(_timer)
added = sorted(set(sys.modules) - before)
own = [m for m in added if m.split(".")[0] == "kronvec"]
size = sum(os.path.getsize(importlib.util.cache_from_source(sys.modules[m].__file__)) for m in own)
print(json.dumps({"third_party": [m for m in added if m not in own], "own_modules": len(own),
                  "bytecode_bytes": size, "collections": collections}))
"""


def _environment() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.update(PYTHONPATH=ROOT, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def once(statement: str) -> float:
    """CPU seconds of ``statement`` in a fresh interpreter."""
    code = f"import time; t = time.process_time(); {statement}; print(time.process_time() - t)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_environment(),
                          check=True, cwd=ROOT)
    return float(done.stdout)


def import_times(repeats: int = 15) -> tuple[list[float], list[float]]:
    """CPU seconds of ``import kronvec`` and of ``import numpy, scipy.linalg``, alternated."""
    once(OURS)  # writes the bytecode if it is missing
    ours, theirs = [], []
    for r in range(repeats):
        pair = [(OURS, ours), (THEIRS, theirs)]
        for statement, into in pair[::1 if r % 2 else -1]:
            into.append(once(statement))
    return ours, theirs


def breakdown() -> dict[str, object]:
    """What kronvec adds on top of NumPy and SciPy (see the module's docstring)."""
    done = subprocess.run([sys.executable, "-c", _BREAKDOWN], capture_output=True, text=True,
                          env=_environment(), check=True, cwd=ROOT)
    out: dict[str, object] = json.loads(done.stdout)
    timed = subprocess.run([sys.executable, "-X", "importtime", "-c", f"{THEIRS}; {OURS}"],
                           capture_output=True, text=True, env=_environment(), check=True, cwd=ROOT).stderr
    rows = []
    for line in timed.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[0].strip().isdigit() and parts[2].strip().startswith("kronvec"):
            rows.append((int(parts[0]), parts[2].strip()))
    out["slowest_own"] = sorted(rows, reverse=True)[:10]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--json")
    args = ap.parse_args()
    ours, theirs = import_times(args.repeats)
    ratio, best = statistics.median(ours) / statistics.median(theirs), min(ours) / min(theirs)
    print(f"import kronvec {statistics.median(ours) * 1e3:.1f} ms (best {min(ours) * 1e3:.1f}) vs "
          f"numpy, scipy.linalg {statistics.median(theirs) * 1e3:.1f} ms (best {min(theirs) * 1e3:.1f}): "
          f"{ratio:.2f}× (best {best:.2f}×; ≤ 1.15: {'ok' if ratio <= 1.15 else 'MISSED'})")
    parts = breakdown()
    collections = parts["collections"]
    assert isinstance(collections, list)
    print(f"third-party modules beyond numpy and scipy.linalg: {parts['third_party'] or 'none'}")
    print(f"kronvec's own modules: {parts['own_modules']}, "
          f"{int(str(parts['bytecode_bytes'])) / 1e6:.2f} MB of bytecode")
    print(f"garbage collections during the import: {len(collections)}, "
          f"{sum(t for _, t in collections) * 1e3:.1f} ms")
    slowest = parts["slowest_own"]
    assert isinstance(slowest, list)
    print("slowest own modules (self, -X importtime): "
          + ", ".join(f"{name} {us / 1e3:.1f} ms" for us, name in slowest))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"kronvec": ours, "numpy, scipy.linalg": theirs, **parts}, fh, indent=1)


if __name__ == "__main__":
    main()
