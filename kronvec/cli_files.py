"""Files and text of the command line: sizes in bytes, reading ``.npy`` values, writing results.

Reading takes regular ``.npy`` files only (never a FIFO, a device or standard
input), refusing one larger than the memory budget before reading it; writing
never appends ``.npy`` to a name, never follows a symbolic link and never
replaces an existing file unless told to (``force``).
"""
from __future__ import annotations

import os
import re
import stat
import tempfile
import unicodedata

import numpy as np

__all__ = ["CommandLineError", "printable", "parse_bytes", "load_npy", "check_target", "write_npy"]

_BYTE_UNITS = {"": 1, "b": 1, "k": 10 ** 3, "kb": 10 ** 3, "kib": 2 ** 10, "m": 10 ** 6, "mb": 10 ** 6,
               "mib": 2 ** 20, "g": 10 ** 9, "gb": 10 ** 9, "gib": 2 ** 30, "t": 10 ** 12, "tb": 10 ** 12,
               "tib": 2 ** 40}
_BYTES_PATTERN = re.compile(r"^\s*([0-9]+(?:\.[0-9]*)?(?:e[0-9]+)?)\s*([a-z]*)\s*$", re.IGNORECASE)


class CommandLineError(Exception):
    """A refusal of the command line itself (a file, a memory budget)."""


def printable(text: str) -> str:
    """``text`` without control and format characters (so an echoed expression cannot move the
    cursor, clear the screen or hide text in a terminal); newlines and tabs become spaces."""
    text = text.replace("\n", " ").replace("\t", " ")
    return "".join(c for c in text if unicodedata.category(c)[0] != "C")


def parse_bytes(text: str) -> int:
    """Parse a size in bytes: ``1000000``, ``2e9``, ``512MiB``, ``4GB``."""
    match = _BYTES_PATTERN.match(text)
    unit = match and _BYTE_UNITS.get(match.group(2).lower())
    if not match or unit is None:
        raise ValueError(f"invalid size {text!r}; expected bytes, e.g. 2000000000 or 2GiB")
    return int(float(match.group(1)) * unit)


def load_npy(path: str, max_bytes: int) -> np.ndarray:
    """Load a regular ``.npy`` file (no FIFO, device or standard input), refusing one larger
    than the memory budget before reading it."""
    if not path.endswith(".npy"):
        raise CommandLineError(f"--at: {path!r} is not a .npy file (give the file's full name)")
    try:
        info = os.stat(path)
    except OSError as exc:
        raise CommandLineError(f"--at: cannot read {path!r}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(info.st_mode):
        raise CommandLineError(f"--at: {path!r} is not a regular file")
    if info.st_size > max_bytes:
        raise CommandLineError(f"--at: {path!r} has {info.st_size} bytes, more than --max-bytes "
                               f"{max_bytes}; raise --max-bytes to read it")
    try:
        with open(path, "rb") as stream:
            result: np.ndarray = np.load(stream, allow_pickle=False)
            return result
    except MemoryError:
        raise CommandLineError(f"--at: not enough memory to read {path!r}") from None
    except (OSError, ValueError, EOFError) as exc:
        raise CommandLineError(f"--at: cannot read {path!r} as a .npy array: {exc}") from None


def check_target(path: str, force: bool) -> None:
    """Refuse an output name without ``.npy``, or one that exists (a link included) unless ``force``."""
    if not path.endswith(".npy"):
        raise CommandLineError(f"--dense: {path!r} does not end in .npy (give the file's full name)")
    if os.path.lexists(path) and not force:
        what = "a symbolic link" if os.path.islink(path) else "a file"
        raise CommandLineError(f"--dense: {path!r} exists ({what}); pass --force to replace it")
    if os.path.isdir(path) and not os.path.islink(path):
        raise CommandLineError(f"--dense: {path!r} is a directory")


def write_npy(path: str, array: np.ndarray, force: bool) -> None:
    """Write ``array`` to ``path``, a new file (``O_EXCL``: an existing name, a symbolic link
    included, is refused); with ``force``, through a new file in the same folder moved into
    place, which replaces the name itself (a link is never followed)."""
    if not force:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            handle = os.open(path, flags, 0o644)
        except FileExistsError:
            raise CommandLineError(f"--dense: {path!r} exists; pass --force to replace it") from None
        with os.fdopen(handle, "wb") as stream:
            np.save(stream, array)
        return
    handle, temporary = tempfile.mkstemp(suffix=".npy", dir=os.path.dirname(os.path.abspath(path)))
    try:
        with os.fdopen(handle, "wb") as stream:
            np.save(stream, array)
        os.replace(temporary, path)
    except BaseException:
        if os.path.lexists(temporary):
            os.unlink(temporary)
        raise
