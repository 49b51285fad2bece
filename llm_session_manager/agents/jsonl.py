"""Reading append-only JSONL logs incrementally: the one loop every JSONL reader shares."""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import orjson

# The most read at a time (a file's buffer is never larger, unless one line is). Reading a 5 MB transcript
# through 512 KB is as fast as through a buffer of its size, and a reading worker's peak is 3-4 MB lower.
CHUNK = 512 * 1024
# What a line of valid JSON but an unexpected shape can raise inside a reader's ``apply`` (a list where a
# string was expected, a missing key, a number too large...). Such a line is counted as skipped.
LINE_ERRORS = (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError)
S = TypeVar("S")
# A compiled fold: (buffer, start, end, state, one) -> the offset after the last complete line.
Fold = Callable[[bytearray, int, int, Any, Callable[[int, int], None]], int]


def fold_lines(
    fh: Any,
    offset: int,
    state: S,
    apply: Callable[[S, Any], None],
    bad: Callable[[S], None],
    decode: Callable[[S, memoryview], Any] | None = None,
    fast: Fold | None = None,
) -> int:
    """Call ``apply(state, obj)`` for every complete JSON line from byte ``offset`` of the open binary
    file ``fh`` (``bad(state)`` for a line that is not JSON; blank lines are ignored). Returns the offset
    after the last complete line: a final line without its newline is left for the next read.
    ``decode(state, line)`` replaces ``orjson.loads`` (a reader's typed decoder; ValueError for a line
    that is not JSON). ``fast(buf, start, end, state, one)``, a reader's compiled fold, folds the complete
    lines of ``buf[start:end]`` itself and returns the offset after the last newline; it calls
    ``one(start, stop)`` for each line it leaves to ``decode`` and ``apply``.

    One buffer is reused for the whole file and each line is decoded from a view of it: no copy of
    the file's lines, and no fresh memory to fault in for every chunk."""
    fh.seek(offset)
    buf = bytearray(_buffer_size(fh, offset))
    view = memoryview(buf)
    filled = 0  # bytes of an unfinished line at the start of buf
    loads: Callable[[memoryview], Any] = orjson.loads if decode is None else partial(decode, state)

    def one(start: int, stop: int) -> None:  # a line (that ``fast`` left to Python)
        line = view[start:stop]
        try:
            obj = loads(line)
        except ValueError:
            if not line.tobytes().isspace():
                bad(state)
        else:
            try:
                apply(state, obj)
            except LINE_ERRORS:
                bad(state)  # a line of the wrong shape costs that line, never the session

    fold = _each_line if fast is None else fast
    while True:
        if filled == len(buf):  # one line longer than the buffer: a larger one
            buf = buf + bytes(len(buf))
            view = memoryview(buf)
        got = fh.readinto(view[filled:])
        if not got:
            return offset
        end = filled + got
        pos = fold(buf, 0, end, state, one)
        offset += pos
        filled = end - pos
        if filled:
            buf[:filled] = bytes(view[pos:end])


def _each_line(buf: bytearray, start: int, end: int, _state: object, one: Callable[[int, int], None]) -> int:
    """``one(start, stop)`` for each complete, non-empty line of ``buf[start:end]``; the offset after the
    last newline."""
    find = buf.find
    pos = start
    while (newline := find(b"\n", pos, end)) >= 0:
        if newline > pos:
            one(pos, newline)
        pos = newline + 1
    return pos


def _buffer_size(fh: Any, offset: int) -> int:
    """Room for what is left to read (most transcripts are small), at most CHUNK."""
    try:
        left = os.fstat(fh.fileno()).st_size - offset
    except (AttributeError, OSError, ValueError):
        return CHUNK
    return max(4096, min(CHUNK, left + 1))


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
