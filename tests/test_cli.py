"""Tests of the expression parser (kronvec.parse) and ``kronvec derive``."""
from __future__ import annotations

import builtins
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import kronvec as kv
from kronvec.dims import Dim
from kronvec import cli
from kronvec.cli import main
from kronvec.parse import MAX_DEPTH, MAX_LENGTH, ParseError, analyze, parse, parse_expression

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ("derive", "inv(X.T @ inv(V) @ X)", "--wrt", "V", "--shape", "X=5x3")


class Tripwire:
    """A namespace that records every attribute looked up on it."""

    def __init__(self) -> None:
        self.touched: list[str] = []

    def __getattr__(self, name: str) -> Any:
        self.touched.append(name)
        raise AssertionError(f"namespace.{name} was used")


# --------------------------------------------------------------------------
# Parser: good input


@pytest.mark.parametrize(
    ("text", "shapes", "expected"),
    [
        ("inv(X.T @ inv(V) @ X)", {"X": (5, 3)}, (3, 3)),
        ("X.T @ X", {"X": (5, 3)}, (3, 3)),
        ("A @ B + 2 * C - C / 4", {"A": (2, 3), "B": (3, 4)}, (2, 4)),
        ("solve(A, B)", {"B": (3, 2)}, (3, 2)),
        ("kron(A, B)", {"A": (2, 3), "B": (4, 5)}, (8, 15)),
        ("exp(X) * Y", {"X": (2, 3)}, (2, 3)),
        ("X ** 2 + sqrt(X)", {"X": (2, 3)}, (2, 3)),
        ("diag(v) @ X", {"X": (4, 2)}, (4, 2)),
        ("matrix_power(A, 3) @ B", {"B": (3, 2)}, (3, 2)),
        ("expm(A) @ x", {"x": 4}, (4, 1)),
        ("-X + +X", {"X": (2, 2)}, (2, 2)),
    ],
)
def test_builds_expected_shape(text: str, shapes: dict, expected: tuple[int, int]) -> None:
    assert tuple(parse_expression(text, shapes, kv).shape) == expected


@pytest.mark.parametrize(
    "text",
    ["logdet(X.T @ X)", "trace(X.T @ X)", "det(X.T @ X)", "sum(X)", "norm(X)", "a.T @ X.T @ X @ a"],
)
def test_scalar_expressions(text: str) -> None:
    shape = tuple(parse_expression(text, {"X": (5, 3), "a": 3}, kv).shape)
    assert shape in ((), (1, 1))


@pytest.mark.parametrize(
    ("text", "given", "expected"),
    [
        ("inv(X.T @ inv(V) @ X)", {"X": (5, 3)}, {"X": (5, 3), "V": (5, 5)}),
        ("A @ B + C", {"A": (2, 3), "B": (3, 4)}, {"A": (2, 3), "B": (3, 4), "C": (2, 4)}),
        ("X.T + Y", {"X": (2, 3)}, {"X": (2, 3), "Y": (3, 2)}),
        ("solve(A, b)", {"b": 3}, {"A": (3, 3), "b": (3, 1)}),
        ("trace(A) * X", {"A": (4, 4), "X": (2, 3)}, {"A": (4, 4), "X": (2, 3)}),
        ("kron(A, B) + C", {"A": (2, 3), "C": (8, 15)}, {"A": (2, 3), "C": (8, 15), "B": (4, 5)}),
        ("diag(A) + v", {"A": (3, 3)}, {"A": (3, 3), "v": (3, 1)}),
        ("diag(v) + A", {"v": 3}, {"v": (3, 1), "A": (3, 3)}),
        ("logdet(A) + det(A @ B)", {"B": (2, 2)}, {"A": (2, 2), "B": (2, 2)}),
        ("X @ matrix_power(A, 2)", {"X": (5, 3)}, {"X": (5, 3), "A": (3, 3)}),
    ],
)
def test_shape_inference(text: str, given: dict, expected: dict) -> None:
    assert analyze(text, given).shapes == expected


def test_vector_shorthand() -> None:
    assert analyze("a.T @ a", {"a": 5}).shapes == {"a": (5, 1)}
    assert analyze("a.T @ a", {"a": (5,)}).shapes == {"a": (5, 1)}


def test_test_value_hints() -> None:
    shapes = {"V": (3, 3), "X": (2, 2), "Y": (2, 2), "W": (2, 2)}
    analysis = analyze("logdet(V) + sum(log(Y)) + sum(X / Z) + sum(W ** 0.5)", shapes)
    assert analysis.invertible == {"V"}
    assert analysis.positive == {"Y", "Z", "W"}


def test_numbers_are_folded() -> None:
    assert tuple(parse_expression("2 ** 3 * X / (1 + 1)", {"X": (2, 2)}, kv).shape) == (2, 2)
    assert analyze("-(2 * 3) * X", {"X": (2, 2)}).tree.args[0].value == -6


# --------------------------------------------------------------------------
# Parser: shape errors


def test_undetermined_size_becomes_a_name() -> None:
    # v1.3 (sizes given as names): a size no use decides is a name, no longer an error
    assert analyze("X @ Y", {"X": (2, 3)}).shapes == {"X": (2, 3), "Y": (3, Dim("n"))}


def test_undetermined_sizes_all_named() -> None:
    assert analyze("X @ Y", {}).shapes == {"X": (Dim("n"), Dim("m")), "Y": (Dim("m"), Dim("p"))}


@pytest.mark.parametrize(
    ("text", "shapes"),
    [
        ("X @ Y", {"X": (2, 3), "Y": (4, 4)}),
        ("X + Y", {"X": (2, 3), "Y": (3, 2)}),
        ("inv(X)", {"X": (2, 3)}),
        ("logdet(X)", {"X": (2, 3)}),
        ("solve(A, b)", {"A": (3, 3), "b": 4}),
        ("kron(A, B) + C", {"A": (2, 2), "C": (5, 5)}),
        ("diag(A)", {"A": (2, 3)}),
        ("X @ X", {"X": (2, 3)}),
    ],
)
def test_shape_mismatch(text: str, shapes: dict) -> None:
    with pytest.raises(ParseError, match="shape mismatch"):
        analyze(text, shapes)


@pytest.mark.parametrize("shape", [(0, 2), (2, -1), (1, 2, 3), "2x3"])
def test_invalid_given_shape(shape: Any) -> None:
    with pytest.raises(ParseError, match="invalid shape"):
        analyze("X", {"X": shape})


def test_symmetric_must_be_square() -> None:
    with pytest.raises(ParseError, match="symmetric"):
        parse("X.T @ X", {"X": (5, 3)}, kv, symmetric={"X"})


# --------------------------------------------------------------------------
# Parser: anything outside the whitelist


INJECTIONS = [
    "__import__('os').system('echo hi')",
    "X.__class__",
    "X.T.__class__.__mro__",
    "X.T.__class__",
    "(lambda: 1)()",
    "open('f')",
    "X[0]",
    '"abc"',
    "inv(X, y=1)",
    "getattr(X, 'T')",
    "eval('1')",
    "exec('1')",
    "inv",
    "inv(*X)",
    "X.T()",
    "inv(X)(X)",
    "_X",
    "[x for x in X]",
    "X if X else X",
    "X == X",
    "(X := X)",
    "f'{X}'",
    "True * X",
    "None",
    "X // 2",
    "~X",
    "not X",
    "X ** X",
    "matrix_power(X, 1.5)",
    "inv()",
    "inv(X, X)",
    "{X}",
    "X; X",
    "import os",
]


@pytest.mark.parametrize("text", INJECTIONS)
def test_rejects_non_whitelisted_input(
    text: str, capfd: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    def forbidden(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("eval/exec was called")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    namespace = Tripwire()
    with pytest.raises(ParseError):
        parse_expression(text, {"X": (3, 3)}, namespace)
    assert namespace.touched == []
    assert "hi" not in capfd.readouterr().out


def test_error_quotes_piece_and_column() -> None:
    with pytest.raises(ParseError) as info:
        analyze("X + X.__class__", {"X": (2, 2)})
    message = str(info.value)
    assert "column 5" in message and "'X.__class__'" in message


def test_unknown_function_is_named() -> None:
    with pytest.raises(ParseError, match="unknown function 'open'.*column 5"):
        analyze("X + open('f')", {"X": (2, 2)})


def test_rejects_long_text() -> None:
    text = "+".join(["X"] * (MAX_LENGTH // 2 + 1))
    with pytest.raises(ParseError, match="too long"):
        analyze(text, {"X": (2, 2)})


@pytest.mark.parametrize(
    "text",
    [
        "(" * (MAX_DEPTH + 50) + "X" + ")" * (MAX_DEPTH + 50),
        "inv(" * (MAX_DEPTH + 5) + "X" + ")" * (MAX_DEPTH + 5),
        "-" * 5000 + "X",
        "+".join(["X"] * 3000),
        "X.T" + ".T" * 2000,
    ],
)
def test_rejects_deep_nesting(text: str) -> None:
    with pytest.raises(ParseError, match="nested"):
        analyze(text, {"X": (2, 2)})


def test_nesting_within_limit_is_fine() -> None:
    text = "inv(" * 30 + "X" + ")" * 30
    assert analyze(text, {"X": (2, 2)}).shapes == {"X": (2, 2)}


def test_syntax_error() -> None:
    with pytest.raises(ParseError, match="invalid syntax"):
        analyze("X @", {"X": (2, 2)})
    with pytest.raises(ParseError, match="empty"):
        analyze("   ", {})
    with pytest.raises(ParseError, match="plain number"):
        analyze("2 * 3", {})


# --------------------------------------------------------------------------
# Command line, in process


def test_main_bad_shape_argument(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit) as info:
        main(["derive", "X", "--wrt", "X", "--shape", "X=5by3"])
    assert info.value.code == 2
    assert "NAME=RxC" in capsys.readouterr().err


def test_main_parse_error(capsys: pytest.CaptureFixture) -> None:
    assert main(["derive", "X.__class__", "--wrt", "X", "--shape", "X=2x2"]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("error: ") and "__class__" in captured.err


def test_main_absent_symbol_needs_shape(capsys: pytest.CaptureFixture) -> None:
    assert main(["derive", "trace(X)", "--wrt", "Y", "--shape", "X=3x3"]) == 2
    assert "--shape Y=RxC" in capsys.readouterr().err


def test_main_absent_symbol_is_zero(capsys: pytest.CaptureFixture) -> None:
    assert main(["derive", "trace(X)", "--wrt", "Y", "--shape", "X=3x3,Y=2", "--check"]) == 0
    out = capsys.readouterr().out
    assert "zero map" in out and "passed" in out


def test_main_symmetric(capsys: pytest.CaptureFixture) -> None:
    args = ["derive", "logdet(V) + trace(A @ V)", "--wrt", "V", "--shape", "A=3x3", "--symmetric", "V"]
    assert main([*args, "--check"]) == 0
    assert "passed" in capsys.readouterr().out


def test_main_check_failure_exits_1(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "TOLERANCE", -1.0)
    assert main([*EXAMPLE, "--check"]) == 1
    assert "FAILED" in capsys.readouterr().out


def test_main_directional_check(capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "DENSE_LIMIT", 10)
    assert main([*EXAMPLE, "--check"]) == 0
    out = capsys.readouterr().out
    assert "directional" in out and "passed" in out


def test_main_dense_refused_when_too_large(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cli, "DENSE_LIMIT", 10)
    assert main([*EXAMPLE, "--dense", str(tmp_path / "J.npy")]) == 2
    assert "refusing" in capsys.readouterr().err
    assert not (tmp_path / "J.npy").exists()


# --------------------------------------------------------------------------
# Command line, as a subprocess


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run ``python -m kronvec`` with this checkout on PYTHONPATH."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONIOENCODING": "utf-8"}
    return subprocess.run(
        [sys.executable, "-m", "kronvec", *args],
        capture_output=True, text=True, encoding="utf-8", env=env, cwd=cwd, timeout=300,
    )


def test_cli_good_input() -> None:
    result = run_cli(*EXAMPLE, "--check", "--steps")
    assert result.returncode == 0, result.stderr
    assert "⊗" in result.stdout
    assert "passed" in result.stdout
    assert "vec dF = (" in result.stdout


def test_cli_scalar_input() -> None:
    result = run_cli("derive", "logdet(X.T @ X)", "--wrt", "X", "--shape", "X=5x3", "--check")
    assert result.returncode == 0, result.stderr
    assert "∇_X f = " in result.stdout
    assert "passed" in result.stdout


def test_cli_latex() -> None:
    result = run_cli(*EXAMPLE, "--latex")
    assert result.returncode == 0, result.stderr
    assert "LaTeX" in result.stdout and "\\" in result.stdout


def test_cli_dense(tmp_path: Path) -> None:
    target = tmp_path / "J.npy"
    result = run_cli(*EXAMPLE, "--dense", str(target))
    assert result.returncode == 0, result.stderr
    assert np.load(target).shape == (9, 25)
    assert str(target) in result.stdout


def test_cli_unknown_function() -> None:
    result = run_cli("derive", "foo(X)", "--wrt", "X", "--shape", "X=3x3")
    assert result.returncode == 2
    assert "error:" in result.stderr and "foo" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_shape_mismatch() -> None:
    result = run_cli("derive", "X @ Y", "--wrt", "X", "--shape", "X=2x3", "--shape", "Y=2x2")
    assert result.returncode == 2
    assert "shape mismatch" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_undetermined_shape() -> None:
    # v1.3 (sizes given as names): sizes no use decides are names; only --dense needs numbers
    result = run_cli("derive", "X @ Y", "--wrt", "X")
    assert result.returncode == 0, result.stderr
    assert "X: n×m, Y: m×p" in result.stdout
    result = run_cli("derive", "X @ Y", "--wrt", "X", "--dense", "out.npy")
    assert result.returncode == 2
    assert "--shape X=4x3 --shape Y=3x5" in result.stderr
    assert "Traceback" not in result.stderr


def test_cli_injection_does_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    result = run_cli("derive", f"__import__('os').system('touch {marker}')", "--wrt", "X", cwd=tmp_path)
    assert result.returncode == 2
    assert not marker.exists()
    assert "Traceback" not in result.stderr


# --------------------------------------------------------------------------
# Scalars, domains and given values


def test_a_symbol_used_only_as_a_factor_is_a_scalar(capsys: pytest.CaptureFixture) -> None:
    expr = "-0.5*y.T @ inv(s*A + t*eye(5)) @ y - 0.5*logdet(s*A + t*eye(5))"
    assert analyze(expr, {"y": 5, "A": (5, 5)}).shapes == {"y": (5, 1), "s": (), "A": (5, 5), "t": ()}
    assert main(["derive", expr, "--wrt", "s", "--shape", "y=5", "--shape", "A=5x5", "--check"]) == 0
    out = capsys.readouterr().out
    assert "s: scalar" in out and "passed" in out


def test_a_factor_that_is_used_as_a_matrix_elsewhere_stays_a_matrix() -> None:
    assert analyze("s * X + s @ Y", {"X": (2, 3), "Y": (3, 3)}).shapes["s"] == (2, 3)
    assert analyze("X * Y", {"X": (2, 3)}).shapes["Y"] == ()  # the least assumption
    assert analyze("X * Y + Y", {"X": (2, 3)}).shapes["Y"] == (2, 3)


def test_scalars_can_be_declared(capsys: pytest.CaptureFixture) -> None:
    assert analyze("s * X", {"s": (), "X": (2, 2)}).shapes["s"] == ()
    assert main(["derive", "exp(s) * trace(X)", "--wrt", "s", "--shape", "s=scalar,X=2x2", "--check"]) == 0
    assert "passed" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["derive", "--help"])
    assert "NAME=scalar" in capsys.readouterr().out


def test_check_samples_inside_the_domain(capsys: pytest.CaptureFixture) -> None:
    assert main(["derive", "log(X - 5)", "--wrt", "X", "--shape", "X=2x2", "--check"]) == 0
    out = capsys.readouterr().out
    assert "passed" in out and "nan" not in out


def test_values_can_be_given(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    inside, outside = tmp_path / "inside.npy", tmp_path / "outside.npy"
    np.save(inside, np.full((2, 2), 7.0))
    np.save(outside, np.full((2, 2), 1.0))
    assert main(["derive", "log(X - 5)", "--wrt", "X", "--shape", "X=2x2", "--check",
                 "--at", f"X={inside}"]) == 0
    assert "passed" in capsys.readouterr().out
    assert main(["derive", "log(X - 5)", "--wrt", "X", "--shape", "X=2x2", "--check",
                 "--at", f"X={outside}"]) == 2
    assert "outside the domain" in capsys.readouterr().err


def test_derive_reads_einsum_and_reshape(capsys):
    assert main(["derive", 'einsum("ij,jk->ik", A, X)', "--wrt", "X", "--check"]) == 0
    out = capsys.readouterr().out
    assert "dF = A dX" in out and "(passed)" in out
    question = "trace(reshape(X, (3, -1)) @ A)"
    assert main(["derive", question, "--wrt", "X", "--shape", "X=2x6", "--check"]) == 0
    assert "(passed)" in capsys.readouterr().out
    assert main(["derive", "sum(reshape(X, (3, 4)))", "--wrt", "X"]) == 2
    assert "reshape() to (3, 4) needs its matrix's sizes as numbers" in capsys.readouterr().err
    assert main(["derive", 'einsum("ijk,kl->il", T, X)', "--wrt", "X"]) == 2
    assert "the parser reads matrices: each operand needs two indices" in capsys.readouterr().err
    assert main(["derive", "einsum(A, X)", "--wrt", "X"]) == 2
    assert "subscripts as a string literal" in capsys.readouterr().err
