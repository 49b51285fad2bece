"""cli/screen.py writes `lsm list`'s table without Rich: the same bytes as Rich's console prints, on
every kind of output Rich tells apart (piped, terminals of every width, dumb, NO_COLOR, FORCE_COLOR,
TTY_COMPATIBLE, COLUMNS and LINES, a real pseudo-terminal), in every style the table uses."""

from __future__ import annotations

import fcntl
import io
import itertools
import os
import pty
import re
import struct
import subprocess
import sys
import termios
import time
from datetime import datetime, timezone
from typing import Any

import pytest
from rich.console import Console
from rich.text import Text
from test_fitted_table import _listing_data

from llm_session_manager.cli import screen as screens
from llm_session_manager.cli import session_table
from llm_session_manager.cli.fitted import console
from llm_session_manager.present import HEALTH_STYLE, STATUS_STYLE

NOW = datetime(2026, 12, 5, tzinfo=timezone.utc)
ENV_KEYS = ("TTY_COMPATIBLE", "FORCE_COLOR", "TERM", "COLORTERM", "NO_COLOR", "COLUMNS", "LINES")


class Output(io.StringIO):
    """Standard output as a test gives it: a terminal or not."""

    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


def _styles() -> list[str]:
    """Every style the session table draws, and combinations of the words screen.py knows."""
    used = {*STATUS_STYLE.values(), *HEALTH_STYLE.values(), "bold", "dim", "green", "yellow", "red"}
    words = [*screens.ATTRIBUTES, *screens.COLOURS]
    pairs = {f"{a} {b}" for a, b in itertools.combinations(words, 2)}
    return sorted(used | set(words) | pairs | {"red green", "bold bold"})


@pytest.mark.parametrize("system", ["standard", "256", "truecolor"])
@pytest.mark.parametrize("no_color", [False, True])
def test_styles_are_drawn_as_rich_draws_them(system: str, no_color: bool) -> None:
    screen = screens.Screen(terminal=True, width=80, styles=True, no_color=no_color)
    for style in _styles():
        out = io.StringIO()
        con = Console(file=out, force_terminal=True, color_system=system, no_color=no_color)  # type: ignore[arg-type]
        con.print(Text("x y", style=style), end="")
        assert screens._drawn("x y", style, screen) == out.getvalue(), style


def test_a_style_it_does_not_know_is_left_to_rich() -> None:
    screen = screens.Screen(terminal=True, width=80, styles=True, no_color=False)
    for style in ("on red", "not bold", "#ff0000", "b", "link https://x", "bold orange1"):
        assert screens._drawn("x", style, screen) is None


def _environ(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for key in ENV_KEYS:
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)


ENVS = [
    dict(zip(ENV_KEYS, values, strict=True))
    for values in itertools.product(
        [None, "0", "1"],  # TTY_COMPATIBLE
        [None, "", "1"],  # FORCE_COLOR
        [None, "xterm", "xterm-256color", "dumb", "UNKNOWN"],  # TERM
        [None, "truecolor"],  # COLORTERM
        [None, "1"],  # NO_COLOR
        [None, "0", "57", "wide"],  # COLUMNS
        [None, "30"],  # LINES
    )
]


@pytest.mark.parametrize("tty", [False, True])
def test_the_screen_is_seen_as_rich_sees_it(monkeypatch: pytest.MonkeyPatch, tty: bool) -> None:
    for values in ENVS:
        env = {k: v for k, v in values.items() if v is not None}
        _environ(monkeypatch, env)
        stream = Output(tty)
        screen = screens.detect(stream=stream)
        con = Console(file=stream)
        if screen is None:  # what Rich's versions read differently is left to the one installed
            assert "TTY_COMPATIBLE" in env or "" in (env.get("FORCE_COLOR"), env.get("NO_COLOR")), env
            continue
        assert (screen.terminal, screen.styles, screen.no_color) == (
            con.is_terminal,
            con.color_system is not None,
            con.no_color,
        ), env
        assert screen.width == (con.width if con.is_terminal else None), env


def _both_ways(monkeypatch: pytest.MonkeyPatch, data: Any, every: bool, tty: bool) -> tuple[str, str, bool]:
    """The listing written by write_listing and printed by Rich, and whether it was written without Rich."""
    ours, theirs = Output(tty), Output(tty)
    monkeypatch.setattr(sys, "stdout", ours)
    screen = screens.detect()
    direct = screen is not None and session_table._listing_text(data, NOW, every, screen) is not None
    session_table.write_listing(data, NOW, every)
    monkeypatch.setattr(sys, "stdout", theirs)
    session_table.print_listing(console(), data, NOW, every)
    monkeypatch.undo()
    return ours.getvalue(), theirs.getvalue(), direct


def _data(count: int) -> Any:
    data = _listing_data(count)
    statuses = list(STATUS_STYLE.items())
    healths = list(HEALTH_STYLE.values())
    rows: list[dict[str, Any]] = data["rows"]  # type: ignore[assignment]
    for i, row in enumerate(rows):
        row["status_word"], row["status_style"] = statuses[i % len(statuses)]
        row["status"] = row["status_word"] + (" (waiting)" if i % 5 == 0 else "")
        row["health_style"] = healths[i % len(healths)]
    return data


@pytest.mark.parametrize("count", [0, 1, 40])
@pytest.mark.parametrize(
    "env",
    [
        {},
        {"NO_COLOR": "1"},
        {"FORCE_COLOR": "1", "COLUMNS": "200"},
        {"FORCE_COLOR": "1", "COLUMNS": "120", "TERM": "xterm-256color"},
        {"FORCE_COLOR": "1", "COLUMNS": "100", "COLORTERM": "truecolor"},
        {"FORCE_COLOR": "1", "COLUMNS": "80", "NO_COLOR": "1"},
        {"FORCE_COLOR": "1", "COLUMNS": "72"},
        {"FORCE_COLOR": "1", "COLUMNS": "45"},
        {"FORCE_COLOR": "1", "COLUMNS": "30"},
        {"FORCE_COLOR": "1", "COLUMNS": "12"},
        {"FORCE_COLOR": "1", "TERM": "dumb"},
        {"FORCE_COLOR": "1", "COLUMNS": "90", "LINES": "20"},
        {"TTY_COMPATIBLE": "1", "COLUMNS": "90"},  # Rich draws it
        {"FORCE_COLOR": "", "COLUMNS": "90"},  # Rich draws it
    ],
    ids=lambda env: ",".join(f"{k}={v}" for k, v in env.items()) or "piped",
)
@pytest.mark.parametrize("every", [True, False])
def test_the_listing_is_written_as_rich_prints_it(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], count: int, every: bool
) -> None:
    _environ(monkeypatch, env)
    ours, theirs, direct = _both_ways(monkeypatch, _data(count), every, tty=False)
    assert ours == theirs
    # Written without Rich wherever the table fits: piped, and terminals of 72 columns and more.
    width = int(env.get("COLUMNS", "80")) if env.keys() - {"NO_COLOR"} else None
    if "TTY_COMPATIBLE" in env or env.get("FORCE_COLOR") == "":
        assert not direct
    elif width is None or width >= 72:
        assert direct and (not count or f"{count} session(s)" in ours), ours


def test_a_line_is_wrapped_as_rich_wraps_it(monkeypatch: pytest.MonkeyPatch) -> None:
    texts = [
        "one two three four five six seven eight nine ten",
        "  leading spaces and   runs   of spaces  ",
        "Tokens ≈ = not exact (counted with tiktoken, or rounded in the agent's log); ? = unknown.",
        "x",
        "",
        "averyveryverylongwordthatdoesnotfit and more",
    ]
    for width, text in itertools.product(range(1, 60), texts):
        screen = screens.Screen(terminal=True, width=width, styles=True, no_color=False)
        ours = screens.text_lines(text, "dim", screen)
        out = io.StringIO()
        con = Console(
            file=out, force_terminal=True, color_system="standard", width=width, highlight=False, emoji=False
        )
        con.print(f"[dim]{text}[/dim]")
        if ours is not None:
            assert ours == out.getvalue(), (width, text)
        else:  # only a word (with the spaces before it) longer than the line is left to Rich, which folds it
            assert any(len(w.rstrip()) > width for w in re.findall(r"\s*\S+\s*", text)), (width, text)


# ---------------------------------------------------------------------------------------------------
# A real terminal: its width comes from the terminal itself (no COLUMNS)

CHILD = """
import sys
from datetime import datetime, timezone
sys.path.insert(0, {tests!r})
from test_screen import _data
from llm_session_manager.cli import screen as screens, session_table
from llm_session_manager.cli.fitted import console
now = datetime(2026, 12, 5, tzinfo=timezone.utc)
data = _data(25)
screen = screens.detect()
print("DIRECT", screen is not None and session_table._listing_text(data, now, True, screen) is not None)
print("<<<", flush=True)
session_table.write_listing(data, now, True)
print(">>>", flush=True)
session_table.print_listing(console(), data, now, True)
print("===", flush=True)
"""


@pytest.mark.parametrize("columns", [96, 150])
def test_a_pseudo_terminal_gets_the_same_bytes(columns: int) -> None:
    main, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    attrs = termios.tcgetattr(child)
    attrs[1] &= ~termios.OPOST  # no "\n" -> "\r\n": the bytes as written
    termios.tcsetattr(child, termios.TCSANOW, attrs)
    env = {k: v for k, v in os.environ.items() if k not in ENV_KEYS} | {"TERM": "xterm-256color"}
    code = CHILD.format(tests=os.path.dirname(__file__))
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=child, stdout=child, stderr=child, env=env, close_fds=True
    )
    os.close(child)
    chunks = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            chunk = os.read(main, 65536)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
        if b"===" in b"".join(chunks):
            break
    proc.wait(timeout=30)
    os.close(main)
    output = b"".join(chunks).decode()
    assert "DIRECT True" in output, output
    ours = output.split("<<<\n", 1)[1].split(">>>\n", 1)[0]
    theirs = output.split(">>>\n", 1)[1].split("===", 1)[0]
    assert ours == theirs and "\x1b[" in ours
    assert max(len(line) for line in Text.from_ansi(ours).plain.splitlines()) == columns
