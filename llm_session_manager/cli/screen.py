"""Lines and fitted tables written straight to the output, byte for byte as Rich would print them,
without loading Rich (~20 ms of every `lsm list`).

``detect`` reads the output's terminal, colours and width by Rich's own rules (``rich.console.Console``:
FORCE_COLOR, isatty, TERM, NO_COLOR, COLUMNS and LINES, the terminal size of fds 0-2), which Rich 13.9
and 15 apply alike.
What this module draws is the plain part of what Rich does: runs of text in styles made of a few
attribute and standard colour names (the same codes in every colour system), lines wrapped at word
boundaries. Anything else (another style, a cell styled in parts, a table wider than the terminal, a
word longer than a line, Windows, a setting Rich's versions read differently) is answered None, and
the caller prints through Rich instead.
tests/test_screen.py holds both ways to the same bytes.
"""

from __future__ import annotations

import itertools
import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TextIO

from llm_session_manager.cli.fitted import PIPE_WIDTH

if TYPE_CHECKING:
    from llm_session_manager.cli.fitted import FittedTable

# Rich's SGR parameters: attributes in the order Rich writes them, then the foreground colour.
ATTRIBUTES = {"bold": "1", "dim": "2", "italic": "3", "underline": "4", "reverse": "7", "strike": "9"}
_COLOURS = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
COLOURS = {
    **{name: str(30 + i) for i, name in enumerate(_COLOURS)},
    **{f"bright_{name}": str(90 + i) for i, name in enumerate(_COLOURS)},
}
_ORDER = list(ATTRIBUTES)
_WORD = re.compile(r"\s*\S+\s*")  # rich._wrap.re_word: a word and the spaces around it
_TRAILING_SPACE = re.compile(r"\s+$")


@dataclass(frozen=True)
class Screen:
    """Where the output goes, as Rich's console sees it."""

    terminal: bool  # False: piped (no width limit, lines without trailing spaces)
    width: int | None  # None when piped
    styles: bool  # styles draw (a terminal that is not dumb)
    no_color: bool  # NO_COLOR: attributes drawn, colours not


def detect(env: Mapping[str, str] | None = None, stream: TextIO | None = None) -> Screen | None:
    """The output's screen as Rich would see it; None where Rich must be asked: Windows, IDLE, and the
    settings Rich's versions read differently (TTY_COMPATIBLE, new in 14; FORCE_COLOR or NO_COLOR set
    to nothing, which Rich 13 takes as set)."""
    env = os.environ if env is None else env
    stream = sys.stdout if stream is None else stream
    if os.name == "nt" or getattr(sys.stdin, "__module__", "").startswith("idlelib"):
        return None
    if "TTY_COMPATIBLE" in env or env.get("FORCE_COLOR") == "" or env.get("NO_COLOR") == "":
        return None
    no_color = env.get("NO_COLOR", "") != ""
    if not _is_terminal(env, stream):
        return Screen(terminal=False, width=None, styles=False, no_color=no_color)
    dumb = env.get("TERM", "").lower() in ("dumb", "unknown")
    return Screen(terminal=True, width=_width(env, dumb), styles=not dumb, no_color=no_color)


def _is_terminal(env: Mapping[str, str], stream: TextIO) -> bool:
    if env.get("FORCE_COLOR"):
        return True
    isatty = getattr(stream, "isatty", None)
    try:
        return False if isatty is None else bool(isatty())
    except ValueError:  # a closed stream
        return False


def _width(env: Mapping[str, str], dumb: bool) -> int:
    """Console.size's width: COLUMNS when set (alone it does not hold on a dumb terminal), else the
    first of fds 0-2 that is a terminal, else 80."""
    columns, lines = env.get("COLUMNS"), env.get("LINES")
    fixed = int(columns) if columns is not None and columns.isdigit() else None
    if fixed is not None and lines is not None and lines.isdigit():
        return fixed
    if dumb:
        return 80
    if fixed is not None:
        return fixed
    for fd in (0, 1, 2):
        try:
            return os.get_terminal_size(fd).columns or 80
        except (AttributeError, ValueError, OSError):
            continue
    return 80


def sgr(style: str, no_color: bool) -> str | None:
    """The SGR parameters Rich writes for ``style`` ("" for none), or None for a style this module does
    not know (Rich parses it)."""
    attributes: set[str] = set()
    colour = ""
    for word in style.split():
        if word in ATTRIBUTES:
            attributes.add(word)
        elif word in COLOURS:
            colour = COLOURS[word]  # the last colour named wins, as in Rich
        else:
            return None
    codes = [ATTRIBUTES[a] for a in _ORDER if a in attributes]
    if colour and not no_color:
        codes.append(colour)
    return ";".join(codes)


def _drawn(text: str, style: Any, screen: Screen) -> str | None:
    """``text`` in ``style`` (None: a style this module does not draw)."""
    if not style or not screen.styles or not text:
        return text
    if type(style) is not str or (codes := sgr(style, screen.no_color)) is None:
        return None
    return f"\x1b[{codes}m{text}\x1b[0m" if codes else text


def _line(drawn: str, screen: Screen) -> str:
    return (drawn if screen.terminal else drawn.rstrip(" ")) + "\n"


def table_text(table: FittedTable, screen: Screen) -> str | None:
    """What ``console.print(table)`` writes (no title, a table no wider than the screen)."""
    if table.title or table.width > (screen.width if screen.width is not None else PIPE_WIDTH):
        return None
    out: list[str] = []
    for line in table.lines():
        parts: list[str] = []
        for run in line:
            if type(run) is not tuple or (drawn := _drawn(run[0], run[1], screen)) is None:
                return None  # a Text: a cell styled in parts
            parts.append(drawn)
        out.append(_line("".join(parts), screen))
    return "".join(out)


def text_lines(text: str, style: str, screen: Screen) -> str | None:
    """What ``console.print(f"[{style}]{text}[/{style}]")`` writes for a ``text`` of one line, without
    brackets, every character one cell wide: wrapped at word boundaries as Rich wraps it."""
    width = screen.width if screen.width is not None else PIPE_WIDTH
    if "[" in text or not (text.isprintable() and (text.isascii() or _one_cell_each(text))):
        return None
    pieces = _wrapped(text, width)
    if pieces is None:
        return None
    out: list[str] = []
    for piece in pieces:
        if len(piece) > width:  # Text.rstrip_end: the spaces beyond the width go
            spaces = _TRAILING_SPACE.search(piece)
            if spaces is not None:
                piece = piece[: len(piece) - min(len(spaces.group(0)), len(piece) - width)]
        drawn = _drawn(piece, style, screen)
        if drawn is None:
            return None
        out.append(_line(drawn, screen))
    return "".join(out)


def _one_cell_each(text: str) -> bool:
    from rich.cells import cell_len  # a small module (no console)

    return cell_len(text) == len(text)


def _wrapped(text: str, width: int) -> list[str] | None:
    """rich._wrap.divide_line for words that fit on a line (None: one does not, and Rich folds it)."""
    breaks: list[int] = []
    offset = 0
    match = _WORD.match(text, 0)
    while match is not None:
        start, end = match.span()
        word = match.group(0)
        length = len(word.rstrip())
        if length > width:
            return None
        if width - offset >= length:
            offset += len(word)
        elif offset and start:
            breaks.append(start)
            offset = len(word)
        match = _WORD.match(text, end)
    edges = [0, *breaks, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(edges)]
