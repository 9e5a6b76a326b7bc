"""Run the fuzzer without stopping at a failure; print its figures and every distinct failure.

``python tests/fuzz/survey.py [--scale 10] [--seed S] [--known]`` draws, per shape class,
``CI_EXAMPLES × scale`` programs and groups the failures by their first line, with one
reproducer each. Without ``--seed`` the draws are derandomized, as the suite's are; with it,
each shape class is drawn from a generator seeded by S and the class.

Every reproducer carries its id, ``<shape class>/<special>/<index>``, and the command that
replays it: ``--replay ID`` (with the same ``--seed``, ``--scale`` and ``--known``) draws the
same sequence of programs, checks only the one with that index, and prints its expression,
its values and every failure in full.
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
import zlib
from collections import defaultdict
from pathlib import Path
from typing import Any, Callable

import numpy as np
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parents[2])]

from fuzz.checks import Tally, check_program  # noqa: E402
from fuzz.programs import CI_EXAMPLES, Program, programs  # noqa: E402
from fuzz.terms import SHAPE_CLASSES  # noqa: E402


class _Stop(BaseException):
    """Ends a run once ``on_program`` is done (a BaseException, as KeyboardInterrupt, which
    Hypothesis lets through at once instead of recording a failure and running it again)."""


def program_id(shape_class: str, special: bool, index: int) -> str:
    """The id of the ``index``-th program drawn for ``shape_class`` (``special``: the run that
    starts with a scipy.special function)."""
    return f"{shape_class}/{'special' if special else 'plain'}/{index}"


def parse_id(text: str) -> tuple[str, bool, int]:
    """Inverse of :func:`program_id`."""
    shape_class, kind, index = text.rsplit("/", 2)
    if shape_class not in SHAPE_CLASSES or kind not in ("special", "plain"):
        raise SystemExit(f"--replay {text!r}: expected <shape class>/<plain|special>/<index> with a "
                         f"shape class among {sorted(SHAPE_CLASSES)}")
    return shape_class, kind == "special", int(index)


def _run(shape_class: str, special: bool, scale: float, base_seed: int | None, with_known: bool,
         on_program: Callable[[int, Program, np.random.Generator], bool | None]) -> None:
    """Draw the programs of one shape class in order, calling ``on_program(index, program, rng)``
    until it returns True.

    The draws depend only on the arguments (never on what ``on_program`` does with the
    program), so the ``index``-th program of a run is the same in every run."""
    examples = CI_EXAMPLES * scale / (8 if special else 1)
    counter = [0]

    @settings(max_examples=max(1, round(examples)), deadline=None, derandomize=base_seed is None,
              database=None, phases=[Phase.generate], suppress_health_check=list(HealthCheck))
    @given(data=st.data())
    def run(data: Any) -> None:
        program = data.draw(programs(shape_class, with_known=with_known, special=special))
        rng = np.random.default_rng(data.draw(st.integers(0, 2 ** 32 - 1)))
        index, counter[0] = counter[0], counter[0] + 1
        if on_program(index, program, rng):
            raise _Stop

    if base_seed is not None:
        run = seed(zlib.crc32(f"{base_seed}/{program_id(shape_class, special, 0)}".encode()))(run)
    try:
        run()
    except _Stop:
        pass


def survey(scale: float, with_known: bool, base_seed: int | None = None
           ) -> tuple[Tally, dict[str, list[tuple[str, str]]]]:
    """Per shape class, ``CI_EXAMPLES × scale`` programs and, as the suite does, an eighth as many
    that start with a scipy.special function. Failures: first line → [(program, id)]."""
    tally, failures = Tally(), defaultdict(list)

    for shape_class in sorted(SHAPE_CLASSES):
        for special in (False, True):
            def check(index: int, program: Program, rng: np.random.Generator,
                      shape_class: str = shape_class, special: bool = special) -> None:
                tally.programs += 1
                values = program.valid_values(rng)
                if values is None:
                    tally.no_valid_point += 1
                    return
                for failure in check_program(program, values, tally, rng, with_known=with_known):
                    key = failure.splitlines()[0][:160]
                    failures[key].append((
                        f"{program.expr} {program.expr.shape}  [{shape_class}; "
                        f"{ {k: v.shape for k, v in program.variables.items()} }; "
                        f"tags {sorted(program.term.tags)}]",
                        program_id(shape_class, special, index)))
            _run(shape_class, special, scale, base_seed, with_known, check)
    return tally, failures


def replay(program: str, scale: float, with_known: bool, base_seed: int | None) -> None:
    """Check the program with id ``program`` and print it, its point and its failures in full."""
    shape_class, special, wanted = parse_id(program)

    def check(index: int, program_: Program, rng: np.random.Generator) -> bool:
        if index != wanted:
            return False
        tally = Tally(programs=1)
        values = program_.valid_values(rng)
        print(f"{program}: {program_.expr} {program_.expr.shape}\n  tags {sorted(program_.term.tags)}")
        if values is None:
            print("  no valid point")
            return True
        with np.printoptions(precision=17):
            for name, value in values.items():
                print(f"  {name} {value.shape} =\n{value!r}")
        for failure in check_program(program_, values, tally, rng, with_known=with_known):
            print(f"\n{failure}")
        print(f"\n{tally.line()}")
        return True
    _run(shape_class, special, scale, base_seed, with_known, check)


def replay_command(program: str, scale: float, with_known: bool, base_seed: int | None) -> str:
    options = [f"--scale {scale:g}"] + ([f"--seed {base_seed}"] if base_seed is not None else []) \
        + (["--known"] if with_known else [])
    return f"python tests/fuzz/survey.py {' '.join(options)} --replay {shlex.quote(program)}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=None,
                        help="seed of the draws (default: derandomized, as the suite)")
    parser.add_argument("--known", action="store_true", help="draw the families of KNOWN_FINDINGS too")
    parser.add_argument("--replay", metavar="ID", help="check only the program with this id (from a report)")
    args = parser.parse_args()
    if args.replay:
        replay(args.replay, args.scale, args.known, args.seed)
        return
    start = time.perf_counter()
    tally, failures = survey(args.scale, args.known, args.seed)
    seed_text = "derandomized" if args.seed is None else f"seed {args.seed}"
    print(f"{tally.line()} in {time.perf_counter() - start:.0f} s (scale {args.scale:g}, {seed_text})")
    for key, programs_ in sorted(failures.items(), key=lambda kv: -len(kv[1])):
        example, program = min(programs_, key=lambda p: len(p[0]))
        print(f"\n[{len(programs_)}×] {key}\n    e.g. {example}\n    replay: "
              f"{replay_command(program, args.scale, args.known, args.seed)}")


if __name__ == "__main__":
    main()
