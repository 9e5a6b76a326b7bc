"""Run the fuzzer without stopping at a failure; print its figures and every distinct failure.

``python tests/fuzz/survey.py [--scale 10] [--known]`` draws, per shape class,
``CI_EXAMPLES × scale`` programs (derandomized, as the suite does) and groups the
failures by their first line, with one reproducer each.
"""
from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[2])]

from fuzz.checks import Tally, check_program  # noqa: E402
from fuzz.programs import CI_EXAMPLES, programs  # noqa: E402
from fuzz.terms import SHAPE_CLASSES  # noqa: E402



def survey(scale: float, with_known: bool) -> tuple[Tally, dict[str, list[str]]]:
    """Per shape class, ``CI_EXAMPLES × scale`` programs and, as the suite does, an eighth as many
    that start with a scipy.special function."""
    tally, failures = Tally(), defaultdict(list)
    def runner(shape_class: str, special: bool = False):
        examples = CI_EXAMPLES * scale / (8 if special else 1)
        @settings(max_examples=max(1, round(examples)), deadline=None, derandomize=True,
                  database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(data=st.data())
        def run(data):
            program = data.draw(programs(shape_class, with_known=with_known, special=special))
            rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1)))
            tally.programs += 1
            values = program.valid_values(rng)
            if values is None:
                tally.no_valid_point += 1
                return
            for failure in check_program(program, values, tally, rng, with_known=with_known):
                key = failure.splitlines()[0][:160]
                failures[key].append(f"{program.expr} {program.expr.shape}  [{shape_class}; "
                                     f"{ {k: v.shape for k, v in program.variables.items()} }; "
                                     f"tags {sorted(program.term.tags)}]")
        return run

    for shape_class in sorted(SHAPE_CLASSES):
        runner(shape_class)()
        runner(shape_class, special=True)()
    return tally, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--known", action="store_true", help="draw the families of KNOWN_FINDINGS too")
    args = parser.parse_args()
    start = time.perf_counter()
    tally, failures = survey(args.scale, args.known)
    print(f"{tally.line()} in {time.perf_counter() - start:.0f} s")
    for key, programs_ in sorted(failures.items(), key=lambda kv: -len(kv[1])):
        print(f"\n[{len(programs_)}×] {key}\n    e.g. {min(programs_, key=len)}")


if __name__ == "__main__":
    main()
