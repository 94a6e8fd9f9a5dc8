"""A failed run's error as the model should read it: its own code's frames and the error.

A pandas or scikit-learn traceback is mostly library frames (``pandas/core/indexes/base.py``,
``strptime.pyx``...): twenty lines of tail showed the 1.5B little of its own script and cost
hundreds of prompt tokens per failed turn, re-read on every later turn. ``compact`` keeps the
frames of the script itself (files outside the interpreter's library), the last frame if
there is none, a count of the frames left out, and the error message (its first lines), and
names the error line (the first line of the message, e.g. ``KeyError: 'AAPL'``), which the
feedback uses to notice a repeated error and to explain it. Output that is not a Python
traceback (a shell error) is left to the caller's tail.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ErrorView", "compact"]

_START = "Traceback (most recent call last):"
_FRAME = re.compile(r'^\s+File "([^"]+)", line \d+')
_LIBRARY = re.compile(r"/(?:site-packages|dist-packages|lib/python\d[\d.]*)/|\.pyx$|^<frozen ")
MESSAGE_LINES = 6
BEFORE_LINES = 5


@dataclass(frozen=True, slots=True)
class ErrorView:
    text: str
    """The compacted traceback (with a few lines the script printed before it)."""
    error: str
    """The error line: ``ExceptionName: message``."""
    line: str | None
    """The script's own source line that raised (its last own frame's), when shown."""


def compact(text: str) -> ErrorView | None:
    """The compacted view of the last Python traceback in ``text``, or None without one."""
    lines = text.rstrip().splitlines()
    starts = [i for i, line in enumerate(lines) if line.startswith(_START)]
    if not starts:
        return None
    start = starts[-1]
    body = lines[start + 1 :]
    end = next((i for i, line in enumerate(body) if line and not line[0].isspace()), len(body))
    message = [line for line in body[end:] if line.strip()][:MESSAGE_LINES]
    if not message:
        return None
    frames = _frames(body[:end])
    own = [frame for frame in frames if not _LIBRARY.search(frame[0])]
    kept = own or frames[-1:]
    left_out = len(frames) - len(kept)
    before = [line for line in lines[: starts[0]] if line.strip()][-BEFORE_LINES:]
    out = [*before, _START]
    for _, frame_lines in kept:
        out += frame_lines
    if left_out:
        out.append(f"  ... ({left_out} frames inside libraries left out)")
    out += message
    where = own[-1][1][1].strip() if own and len(own[-1][1]) > 1 else None
    return ErrorView("\n".join(out), message[0].strip(), where)


def _frames(lines: list[str]) -> list[tuple[str, list[str]]]:
    """(file, [the File line, its source line]) for each frame; caret lines dropped."""
    frames: list[tuple[str, list[str]]] = []
    for line in lines:
        match = _FRAME.match(line)
        if match is not None:
            frames.append((match.group(1), [line]))
        elif frames and len(frames[-1][1]) == 1 and line.strip().strip("^~ "):
            frames[-1][1].append(line)
    return frames
