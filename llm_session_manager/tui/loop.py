"""The dashboard loop: one thread doing snapshot -> render -> update, waiting on the keyboard in between.

Keys are read with ``select()`` on stdin in cbreak mode (``tty.setcbreak``: no echo, no line buffering,
Ctrl-C still interrupts), with a timeout that ends at the next refresh, so a key never delays a refresh
and a refresh never loses a key. ``SIGWINCH`` (the terminal was resized) wakes the same ``select()``
through ``signal.set_wakeup_fd``, and the next frame is laid out for the new size.

The terminal is always given back as it was: the Rich ``Live`` screen (alternate screen, hidden cursor)
and the cbreak mode are context managers, left on ``q``, on Ctrl-C, on SIGTERM and on any exception.
The suspend character (Ctrl-Z) is disabled while the dashboard runs: a stopped dashboard would leave the
terminal in its alternate screen.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from types import FrameType
from typing import Any, Protocol

from rich.console import Console
from rich.live import Live

from llm_session_manager.paths import Paths
from llm_session_manager.tui.render import SCOPES, SORT_LABELS, ViewState, render, sort_cycle, visible_views
from llm_session_manager.tui.snapshot import Refresher, Snapshot

QUIT, REFRESH = "quit", "refresh"
RESIZE = "resize"

# Escape sequences of the keys we use (xterm, VT100 application mode, Linux console).
_SEQUENCES = {
    b"\x1b[A": "up",
    b"\x1bOA": "up",
    b"\x1b[B": "down",
    b"\x1bOB": "down",
    b"\x1b[5~": "pgup",
    b"\x1b[6~": "pgdn",
    b"\x1b[H": "home",
    b"\x1bOH": "home",
    b"\x1b[1~": "home",
    b"\x1b[F": "end",
    b"\x1bOF": "end",
    b"\x1b[4~": "end",
}


def decode_keys(data: bytes) -> list[str]:
    """Key names in a chunk read from the terminal: "up", "down", "pgup", "pgdn", "home", "end",
    "enter", "esc", or the character typed. Unknown escape sequences are dropped whole."""
    keys: list[str] = []
    i = 0
    while i < len(data):
        if data[i] == 0x1B:
            for seq, name in _SEQUENCES.items():
                if data.startswith(seq, i):
                    keys.append(name)
                    i += len(seq)
                    break
            else:
                i = _skip_escape(data, i, keys)
            continue
        if data[i] in (0x0D, 0x0A):
            keys.append("enter")
            i += 1
            continue
        end = i + 1
        while end < len(data) and (data[end] & 0xC0) == 0x80:  # the rest of a UTF-8 character
            end += 1
        keys.append(data[i:end].decode("utf-8", "replace"))
        i = end
    return keys


def _skip_escape(data: bytes, i: int, keys: list[str]) -> int:
    """An ESC that starts no known sequence: a lone Esc key, or an unknown CSI/SS3 sequence to skip."""
    if i + 1 >= len(data) or data[i + 1] not in b"[O":
        keys.append("esc")
        return i + 1
    j = i + 2
    while j < len(data) and not 0x40 <= data[j] <= 0x7E:
        j += 1
    return j + 1


def apply_key(
    state: ViewState, key: str, ids: Sequence[str], *, page: int = 10, sorts: Sequence[str] = ()
) -> tuple[ViewState, str | None]:
    """The view state after ``key`` (``ids``: the table's rows in order), and "quit"/"refresh" or None."""
    if key == "q":
        return state, QUIT
    if key == "r":
        return replace(state, message="refreshing…"), REFRESH
    if key in ("h", "?"):
        return replace(state, help=not state.help, message=""), None
    if key == "esc":
        return replace(state, help=False, message=""), None
    if key == "enter":
        return replace(state, details=not state.details, message=""), None
    if key == "s":
        cycle = tuple(sorts) or sort_cycle(state.sort)
        nxt = cycle[(cycle.index(state.sort) + 1) % len(cycle)] if state.sort in cycle else cycle[0]
        return replace(state, sort=nxt, message=f"sorted by {SORT_LABELS.get(nxt, nxt)}"), None
    if key == "a":
        scope = SCOPES[(SCOPES.index(state.scope) + 1) % len(SCOPES)]
        what = "all sessions" if scope == "all" else "running sessions only"
        return replace(state, scope=scope, message=f"showing {what}"), None
    moves = {"up": -1, "k": -1, "down": 1, "j": 1, "pgup": -page, "pgdn": page}
    if not ids:
        return state, None
    current = ids.index(state.selected) if state.selected in ids else 0
    if key in moves:
        target = current + moves[key]
    elif key in ("home", "g"):
        target = 0
    elif key in ("end", "G"):
        target = len(ids) - 1
    else:
        return state, None
    return replace(state, selected=ids[max(0, min(len(ids) - 1, target))], message=""), None


def settle(state: ViewState, ids: Sequence[str]) -> ViewState:
    """Select the first row when nothing (or a session no longer shown) is selected."""
    if state.selected in ids or (not ids and state.selected is None):
        return state
    return replace(state, selected=ids[0] if ids else None)


# ------------------------------------------------------------------------------------------------------
# The terminal


class Keyboard:
    """Waits for keys and resizes. In cbreak mode while open; gives the terminal back on close."""

    def __init__(self, fd: int | None) -> None:
        self.fd = fd if fd is not None and os.isatty(fd) else None
        self._saved: list[Any] | None = None
        self._pipe: tuple[int, int] | None = None
        self._old_wakeup = -1
        self._old_handlers: dict[int, Any] = {}

    def __enter__(self) -> Keyboard:
        if self.fd is not None:
            import termios
            import tty

            self._saved = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd, termios.TCSANOW)
            attrs = termios.tcgetattr(self.fd)
            attrs[6][termios.VSUSP] = bytes([_vdisable(self.fd)])  # Ctrl-Z: see the module docstring
            termios.tcsetattr(self.fd, termios.TCSANOW, attrs)
        r, w = os.pipe()
        os.set_blocking(r, False)
        os.set_blocking(w, False)
        self._pipe = (r, w)
        self._old_wakeup = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        if hasattr(signal, "SIGWINCH"):
            self._old_handlers[signal.SIGWINCH] = signal.signal(signal.SIGWINCH, _ignore)
        self._old_handlers[signal.SIGTERM] = signal.signal(signal.SIGTERM, _terminate)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)
        signal.set_wakeup_fd(self._old_wakeup)
        if self._pipe is not None:
            for fd in self._pipe:
                os.close(fd)
            self._pipe = None
        if self.fd is not None and self._saved is not None:
            import termios

            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)

    def wait(self, timeout: float) -> list[str]:
        """Keys typed (and "resize") within ``timeout`` seconds; [] when the time is up first."""
        assert self._pipe is not None
        watched = [self._pipe[0]] + ([self.fd] if self.fd is not None else [])
        ready, _, _ = select.select(watched, [], [], max(0.0, timeout))
        events: list[str] = []
        if self._pipe[0] in ready:
            with contextlib.suppress(BlockingIOError):
                os.read(self._pipe[0], 512)
            events.append(RESIZE)
        if self.fd is not None and self.fd in ready:
            data = os.read(self.fd, 1024)
            if not data:  # the terminal went away
                return [*events, "q"]
            events += decode_keys(data)
        return events


def _vdisable(fd: int) -> int:
    """The "no character" value of this terminal's control characters (0 on Linux, 0xff on BSDs)."""
    try:
        value = os.fpathconf(fd, "PC_VDISABLE")
    except (OSError, ValueError):
        return 0
    return value if 0 <= value <= 255 else 0


def _ignore(signum: int, frame: FrameType | None) -> None:
    """SIGWINCH: nothing to do here; its byte on the wakeup pipe ends the wait."""


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


# ------------------------------------------------------------------------------------------------------
# The loop


class SnapshotSource(Protocol):
    """What the loop needs from a ``Refresher``: a snapshot now (``force``: collect whatever happens)."""

    def refresh(self, force: bool = False) -> Snapshot: ...


def run(
    refresher: SnapshotSource,
    *,
    interval: float,
    console: Console,
    state: ViewState,
    stdin_fd: int | None,
    sorts: Sequence[str] = (),
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Show the dashboard until "q" (or Ctrl-C, which raises KeyboardInterrupt after the terminal is
    restored). ``refresher.refresh(force)`` gives each snapshot; the first one is taken before the
    screen is switched, so an error there prints like any other."""
    snapshot = refresher.refresh(force=True)
    with (
        Keyboard(stdin_fd) as keyboard,
        Live(
            console=console, screen=True, auto_refresh=False, redirect_stdout=False, redirect_stderr=False
        ) as live,
    ):
        due = clock() + interval
        while True:
            ids = [v.session.id for v in visible_views(snapshot, state)]
            state = settle(state, ids)
            live.update(render(snapshot, state), refresh=True)
            force = False
            for key in keyboard.wait(due - clock()):
                if key == RESIZE:
                    continue
                ids = [v.session.id for v in visible_views(snapshot, state)]
                state, action = apply_key(state, key, ids, page=max(5, console.height // 2), sorts=sorts)
                if action == QUIT:
                    return
                force = force or action == REFRESH
            if force or clock() >= due:
                snapshot = refresher.refresh(force=force)
                due = clock() + interval
                if force:
                    state = replace(state, message=f"refreshed at {snapshot.time:%H:%M:%S}")


def run_monitor(
    paths: Paths,
    cfg: Mapping[str, Any],
    *,
    interval: float,
    agent: str | None = None,
    project: str | None = None,
) -> None:
    """`lsm monitor` on this process's terminal."""
    sort = str(cfg.get("dashboard", {}).get("sort", "last_activity"))
    refresher = Refresher(paths, cfg, agent=agent, project=project)
    try:
        run(
            refresher,
            interval=interval,
            # Without COLUMNS/LINES from the environment, Rich asks the terminal its size at every frame.
            console=Console(highlight=False, _environ=_environ_without_size()),
            state=ViewState(sort=sort),
            stdin_fd=sys.stdin.fileno() if sys.stdin is not None and sys.stdin.isatty() else None,
            sorts=sort_cycle(sort),
        )
    finally:
        refresher.close()


def _environ_without_size() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
