"""Reading append-only JSONL logs incrementally: the one loop every JSONL reader shares."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import orjson

CHUNK = 8 * 1024 * 1024
# What a line of valid JSON but an unexpected shape can raise inside a reader's ``apply`` (a list where a
# string was expected, a missing key, a number too large...). Such a line is counted as skipped.
LINE_ERRORS = (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError)
S = TypeVar("S")


def fold_lines(
    fh: Any, offset: int, state: S, apply: Callable[[S, Any], None], bad: Callable[[S], None]
) -> int:
    """Call ``apply(state, obj)`` for every complete JSON line from byte ``offset`` of the open binary
    file ``fh`` (``bad(state)`` for a line that is not JSON; blank lines are ignored). Returns the offset
    after the last complete line: a final line without its newline is left for the next read."""
    fh.seek(offset)
    rest = b""
    loads = orjson.loads
    while True:
        chunk = fh.read(CHUNK)
        if not chunk:
            return offset
        buf = rest + chunk if rest else chunk
        lines = buf.split(b"\n")
        rest = lines.pop()
        offset += len(buf) - len(rest)
        for line in lines:
            if not line or line.isspace():
                continue
            try:
                obj = loads(line)
            except ValueError:
                bad(state)
                continue
            try:
                apply(state, obj)
            except LINE_ERRORS:
                bad(state)  # a line of the wrong shape costs that line, never the session


def read_tail(fh: Any, offset: int, state: S, apply: Callable[[S, Any], None]) -> tuple[int, bool]:
    """The last line when it has no newline yet. A whole JSON object is complete (a line cut short is
    never valid JSON): it is applied and consumed. Anything else is still being written: it is left
    for the next read, and reported as partial (the caller counts it as one skipped line for now).
    Returns (new offset, partial)."""
    fh.seek(offset)
    tail = fh.read()
    if not tail.strip():
        return offset + len(tail), False
    try:
        obj = orjson.loads(tail)
    except ValueError:
        return offset, True
    if not isinstance(obj, dict):
        return offset, True
    try:
        apply(state, obj)
    except LINE_ERRORS:
        return offset, True  # left unread: once a newline follows, fold_lines counts it as skipped
    return offset + len(tail), False
