"""The command line's safety: one-line errors, memory budgets, and careful file handling."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from kronvec.cli import main

SQUARE = ("--wrt", "X", "--shape", "X=3x3")


def one_line_error(capsys: pytest.CaptureFixture, argv: list[str]) -> str:
    """Run ``kronvec`` on argv; it must fail with status 2 and one line on stderr."""
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    err = capsys.readouterr().err
    assert status == 2, (argv, err)
    assert err.count("\n") == 1 and err.startswith("error: "), (argv, err)
    assert "Traceback" not in err
    return err


@pytest.mark.parametrize("argv", [
    ["derive", "X @", *SQUARE],  # bad syntax
    ["derive", "X @@ X", *SQUARE],
    ["derive", "(((X", *SQUARE],
    ["derive", "frobnicate(X)", *SQUARE],  # unknown names
    ["derive", "X.__class__", *SQUARE],
    ["derive", "trace(X)", "--wrt", "Y", "--shape", "X=3x3"],
    ["derive", "X @ Y", "--wrt", "X", "--shape", "X=3x3,Y=2x2"],  # bad shapes
    ["derive", "X", "--wrt", "X", "--shape", "X=0x3"],
    ["derive", "X", "--wrt", "X", "--shape", "X=3by3"],
    ["derive", "X", "--wrt", "X", "--shape", "X=99999999999999999999x2", "--check"],
    ["derive", "X", "--wrt", "X", "--bogus"],  # bad options
    ["derive", "X", *SQUARE, "--max-bytes", "lots"],
    ["derive"],
    [],
    ["derive", "X", *SQUARE, "--check", "--at", "X=/no/such/file.npy"],  # missing files
    ["derive", "X", *SQUARE, "--check", "--at", "X=/dev/stdin"],
    ["derive", "X", *SQUARE, "--check", "--at", "X=/dev/null"],
    ["derive", "X", *SQUARE, "--check", "--at", "X"],
    ["derive", "X\x1b[2J\x07 + 1", *SQUARE, "--check", "--at", "X=\x1b[31m.npy"],
])
def test_every_failure_is_one_line_with_status_2(capsys, argv):
    err = one_line_error(capsys, argv)
    assert "\x1b" not in err and "\x07" not in err


@pytest.mark.parametrize("argv", [
    ["derive", "X ** 99999999999999999999999999", *SQUARE, "--check"],  # huge exponents
    ["derive", "X ** 1e400", *SQUARE, "--check"],
    ["derive", "2 ** 99999 * X", *SQUARE],
    ["derive", "matrix_power(X, 10 ** 400)", *SQUARE],
    ["derive", "matrix_power(X, 99999999999999999999)", *SQUARE, "--check"],
    ["derive", "exp(X) * 1e308 * 1e308", *SQUARE, "--check"],
    ["derive", "X" + " + X" * 5000, *SQUARE],
])
def test_extreme_inputs_succeed_or_fail_in_one_line(capsys, argv):
    try:
        status = main(argv)
    except SystemExit as exit_:
        status = exit_.code
    err = capsys.readouterr().err
    assert status in (0, 1, 2) and "Traceback" not in err
    assert status != 2 or (err.count("\n") == 1 and err.startswith("error: ")), err


def test_files_that_are_not_regular_npy_files_are_refused(tmp_path: Path, capsys) -> None:
    text = tmp_path / "values.npy"
    text.write_text("not an array")
    fifo = tmp_path / "fifo.npy"
    os.mkfifo(fifo)
    pickled = tmp_path / "object.npy"
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    plain = tmp_path / "plain.txt"
    np.save(tmp_path / "plain.txt.npy", np.eye(3))
    plain.write_bytes((tmp_path / "plain.txt.npy").read_bytes())
    folder = tmp_path / "folder.npy"
    folder.mkdir()
    for path, says in [(text, "cannot read"), (fifo, "not a regular file"), (pickled, "cannot read"),
                       (plain, "not a .npy file"), (tmp_path, "not a .npy file"),
                       (folder, "not a regular file")]:
        err = one_line_error(capsys, ["derive", "X", *SQUARE, "--check", "--at", f"X={path}"])
        assert says in err, err


def test_a_file_larger_than_the_budget_is_not_read(tmp_path: Path, capsys) -> None:
    big = tmp_path / "big.npy"
    np.save(big, np.zeros((3, 3)))
    err = one_line_error(capsys, ["derive", "X", *SQUARE, "--check", "--at", f"X={big}", "--max-bytes", "64"])
    assert "--max-bytes" in err
    assert main(["derive", "X", *SQUARE, "--check", "--at", f"X={big}"]) == 0


def test_check_and_dense_refuse_work_beyond_the_memory_budget(tmp_path: Path, capsys) -> None:
    argv = ["derive", "X @ X.T", "--wrt", "X", "--shape", "X=100000x1"]
    assert main(argv) == 0  # printing the derivative needs no memory
    capsys.readouterr()
    err = one_line_error(capsys, [*argv, "--check"])
    assert "--max-bytes" in err and "raise" in err
    target = tmp_path / "J.npy"
    err = one_line_error(capsys, ["derive", "X", "--wrt", "X", "--shape", "X=40x40", "--dense", str(target),
                                  "--max-bytes", "1MiB"])
    assert "--max-bytes" in err and not target.exists()
    assert main(["derive", "X", "--wrt", "X", "--shape", "X=40x40", "--dense", str(target),
                 "--max-bytes", "1GiB"]) == 0
    assert np.load(target).shape == (1600, 1600)


def test_dense_never_appends_npy_overwrites_or_follows_a_link(tmp_path: Path, capsys) -> None:
    argv = ["derive", "X", "--wrt", "X", "--shape", "X=2x2", "--dense"]
    one_line_error(capsys, [*argv, str(tmp_path / "J")])
    assert not (tmp_path / "J").exists() and not (tmp_path / "J.npy").exists()
    existing = tmp_path / "old.npy"
    existing.write_bytes(b"keep me")
    assert "--force" in one_line_error(capsys, [*argv, str(existing)])
    assert existing.read_bytes() == b"keep me"
    victim = tmp_path / "victim.npy"
    victim.write_bytes(b"precious")
    link = tmp_path / "link.npy"
    link.symlink_to(victim)
    one_line_error(capsys, [*argv, str(link)])
    dangling = tmp_path / "dangling.npy"
    dangling.symlink_to(tmp_path / "nowhere.npy")
    one_line_error(capsys, [*argv, str(dangling)])
    assert not (tmp_path / "nowhere.npy").exists()
    assert main([*argv, str(link), "--force"]) == 0  # replaces the link itself
    assert victim.read_bytes() == b"precious" and not link.is_symlink()
    assert np.load(link).shape == (4, 4)
    assert main([*argv, str(existing), "--force"]) == 0
    assert np.load(existing).shape == (4, 4)


def test_the_echoed_expression_has_no_control_characters(capsys) -> None:
    assert main(["derive", "trace(X)\x1b]0;title\x07\r", *SQUARE]) in (0, 2)
    captured = capsys.readouterr()
    assert "\x1b" not in captured.out + captured.err and "\r" not in captured.out + captured.err
    assert main(["derive", "trace(X\u202e)", *SQUARE]) in (0, 2)
    captured = capsys.readouterr()
    assert "\u202e" not in captured.out + captured.err


def test_help_documents_the_budget_and_force(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["derive", "--help"])
    out = capsys.readouterr().out
    assert "--max-bytes" in out and "--force" in out and "1GiB" in out
