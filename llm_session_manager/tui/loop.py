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
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from types import FrameType
from typing import Any, Protocol

from rich.console import Console
from rich.live import Live

from llm_session_manager.api.context import Context
from llm_session_manager.models import SessionView
from llm_session_manager.paths import Paths
from llm_session_manager.tui.render import (
    SCOPES,
    SORT_LABELS,
    Prompt,
    ViewState,
    render,
    sort_cycle,
    visible_views,
)
from llm_session_manager.tui.snapshot import Refresher, Snapshot, loading_snapshot, local_now

QUIT, REFRESH = "quit", "refresh"
LOADING_TICK = 0.25  # seconds between frames while the first scan runs (its count of files moves)
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
    "enter", "esc", "backspace", "tab", or the character typed. Unknown escape sequences are dropped whole."""
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
        if data[i] in (0x7F, 0x08):
            keys.append("backspace")
            i += 1
            continue
        if data[i] == 0x09:
            keys.append("tab")
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


@dataclass(frozen=True)
class Command:
    """An action key's request, carried out by the loop: "tag", "describe" (with the typed ``text``),
    "export", "ask_close", "close", "copy", "copy_id", "pager" on the session ``target``."""

    name: str
    target: str
    text: str = ""


Action = str | Command | None
# Keys that act on the selected session: the command each asks for.
ROW_COMMANDS = {"e": "export", "c": "ask_close", "y": "copy", "Y": "copy_id", "o": "pager"}
# Commands that can take a while (reading a whole transcript, waiting for a process to exit).
SLOW_COMMANDS = {"export": "writing the hand-off…", "close": "closing…"}


def apply_key(
    state: ViewState, key: str, ids: Sequence[str], *, page: int = 10, sorts: Sequence[str] = ()
) -> tuple[ViewState, Action]:
    """The view state after ``key`` (``ids``: the table's rows in order), and what the loop must do:
    "quit", "refresh", a :class:`Command`, or None."""
    if state.prompt is not None:
        return prompt_key(state, key)
    if key == "q":
        return state, QUIT
    if key == "r":
        return replace(state, message="refreshing…"), REFRESH
    changed = view_key(state, key, sorts)
    if changed is not None:
        return changed, None
    return row_key(state, key, ids, page)


def view_key(state: ViewState, key: str, sorts: Sequence[str]) -> ViewState | None:
    """Keys that change what is shown: help, details, filter, sort, scope; None for any other key."""
    if key in ("h", "?"):
        return replace(state, help=not state.help, message="")
    if key == "esc":
        cleared = "filter cleared" if state.filter or state.content else ""
        return replace(state, help=False, filter="", content="", content_ids=(), message=cleared)
    if key == "enter":
        return replace(state, details=not state.details, message="")
    if key == "/":
        return replace(state, help=False, prompt=Prompt("filter", state.filter), message="")
    if key == "s":
        cycle = tuple(sorts) or sort_cycle(state.sort)
        nxt = cycle[(cycle.index(state.sort) + 1) % len(cycle)] if state.sort in cycle else cycle[0]
        return replace(state, sort=nxt, reverse=False, message=f"sorted by {SORT_LABELS.get(nxt, nxt)}")
    if key == "S":
        way = "reversed" if not state.reverse else "back in its usual order"
        label = SORT_LABELS.get(state.sort, state.sort)
        return replace(state, reverse=not state.reverse, message=f"sort by {label} {way}")
    if key == "a":
        scope = SCOPES[(SCOPES.index(state.scope) + 1) % len(SCOPES)]
        what = "all sessions" if scope == "all" else "running sessions only"
        return replace(state, scope=scope, message=f"showing {what}")
    return None


def row_key(state: ViewState, key: str, ids: Sequence[str], page: int) -> tuple[ViewState, Action]:
    """Keys on the rows: moving the selection, and the actions on the selected session."""
    if not ids:
        return state, None
    current = ids.index(state.selected) if state.selected in ids else 0
    if key in ("t", "d"):
        kind = "tag" if key == "t" else "describe"
        return replace(state, prompt=Prompt(kind, "", ids[current]), message=""), None
    if key in ROW_COMMANDS:
        return state, Command(ROW_COMMANDS[key], ids[current])
    moves = {"up": -1, "k": -1, "down": 1, "j": 1, "pgup": -page, "pgdn": page}
    if key in moves:
        target = current + moves[key]
    elif key in ("home", "g"):
        target = 0
    elif key in ("end", "G"):
        target = len(ids) - 1
    else:
        return state, None
    return replace(state, selected=ids[max(0, min(len(ids) - 1, target))], message=""), None


def _search_key(state: ViewState, prompt: Prompt, key: str) -> tuple[ViewState, Action] | None:
    """Tab between the filter and a search of what was said; Enter runs the search, Esc clears it."""
    if key == "tab" and prompt.kind in ("filter", "content"):
        kind = "content" if prompt.kind == "filter" else "filter"
        switched = replace(state, prompt=replace(prompt, kind=kind))
        return replace(switched, filter=prompt.text if kind == "filter" else ""), None
    if prompt.kind == "content" and key == "esc":
        return replace(state, prompt=None, content="", content_ids=(), message="search cleared"), None
    if prompt.kind == "content" and key == "enter":
        text = prompt.text.strip()
        done = replace(state, prompt=None)
        if not text:
            return replace(done, content="", content_ids=(), message="search cleared"), None
        return replace(done, message=f"searching what was said for {text!r}…"), Command(
            "content_search", "", text
        )
    return None


def prompt_key(state: ViewState, key: str) -> tuple[ViewState, Action]:
    """A key while a prompt is open: typing, Backspace, Enter (keep / save), Esc (clear / cancel); for
    the close question, y closes and any other key cancels. The filter applies as it is typed; Tab
    turns it into a search of what was said in the sessions (run on Enter), and back."""
    prompt = state.prompt
    assert prompt is not None
    searched = _search_key(state, prompt, key)
    if searched is not None:
        return searched
    if prompt.kind == "close":
        closed = replace(state, prompt=None)
        if key in ("y", "Y") and prompt.target:
            return closed, Command("close", prompt.target)
        return replace(closed, message="close cancelled"), None
    if key == "esc":
        if prompt.kind == "filter":
            return replace(state, prompt=None, filter="", message="filter cleared"), None
        return replace(state, prompt=None, message=f"{prompt.kind} cancelled"), None
    if key == "enter":
        done = replace(state, prompt=None)
        if prompt.kind == "filter":
            return replace(done, filter=prompt.text.strip(), message=""), None
        return done, Command(prompt.kind, prompt.target or "", prompt.text)
    if key == "backspace":
        text = prompt.text[:-1]
    elif len(key) == 1 and key.isprintable():
        text = prompt.text + key
    else:
        return state, None
    typed = replace(state, prompt=replace(prompt, text=text))
    return replace(typed, filter=text) if prompt.kind == "filter" else typed, None


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

            self._saved = termios.tcgetattr(self.fd)
        self.resume()
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
        self.suspend()

    def suspend(self) -> None:
        """The terminal's own settings again (for a pager, and on close)."""
        if self.fd is not None and self._saved is not None:
            import termios

            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)

    def resume(self) -> None:
        """Cbreak mode, no echo, Ctrl-Z disabled."""
        if self.fd is not None:
            import termios
            import tty

            tty.setcbreak(self.fd, termios.TCSANOW)
            attrs = termios.tcgetattr(self.fd)
            attrs[6][termios.VSUSP] = bytes([_vdisable(self.fd)])  # Ctrl-Z: see the module docstring
            termios.tcsetattr(self.fd, termios.TCSANOW, attrs)

    def wake(self) -> None:
        """Ends a wait from another thread (a scan finished); safe to call at any time."""
        pipe = self._pipe
        if pipe is not None:
            with contextlib.suppress(OSError):
                os.write(pipe[1], b"w")

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


class ScanWorker:
    """Runs ``refresher.refresh`` on a thread of its own, so the screen is drawn at once and keys are
    handled while a long scan runs. One request at a time; the loop takes each result when it is woken.
    The refresher (and its database connection) is used and closed on this thread only."""

    def __init__(self, refresher: SnapshotSource, wake: Callable[[], None]) -> None:
        self.refresher, self._wake = refresher, wake
        self._cond = threading.Condition()
        self._request: bool | None = None  # the force flag of the pending request
        self._result: tuple[Snapshot, bool] | None = None
        self._error: BaseException | None = None
        self._stop = False
        self.busy = False
        self._thread = threading.Thread(target=self._run, name="lsm-monitor-scan", daemon=True)
        self._thread.start()

    def request(self, force: bool = False) -> None:
        with self._cond:
            self._request = force or bool(self._request)
            self.busy = True
            self._cond.notify()

    def take(self) -> tuple[Snapshot, bool] | None:
        """The newest (snapshot, forced) not taken yet; a refresh's exception is raised here."""
        with self._cond:
            if self._error is not None:
                raise self._error
            result, self._result = self._result, None
            return result

    def idle(self) -> bool:
        with self._cond:
            return not self.busy and self._result is None

    def stop(self, timeout: float = 2.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify()
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            while True:
                with self._cond:
                    while self._request is None and not self._stop:
                        self._cond.wait()
                    if self._stop:
                        return
                    force, self._request = self._request, None
                try:
                    snapshot = self.refresher.refresh(force=bool(force))
                except BaseException as exc:  # handed to the loop, which ends with it
                    with self._cond:
                        self._error, self.busy = exc, False
                    self._wake()
                    return
                with self._cond:
                    self._result, self.busy = (snapshot, bool(force)), self._request is not None
                self._wake()
        finally:
            close = getattr(self.refresher, "close", None)
            if callable(close):
                close()


class Screen:
    """The running dashboard: the worker, the screen, the keyboard, and what the action keys do."""

    def __init__(
        self,
        worker: ScanWorker,
        live: Live,
        keyboard: Keyboard,
        console: Console,
        ctx: Context | None,
    ) -> None:
        self.worker, self.live, self.keyboard, self.console, self.ctx = (
            worker,
            live,
            keyboard,
            console,
            ctx,
        )

    def carry_out(self, state: ViewState, command: Command, snapshot: Snapshot) -> ViewState:
        """Do what ``command`` asks for the session it names; the message says how it went."""
        from llm_session_manager.errors import LsmError

        if command.name == "content_search":
            return self.search_content(state, command.text)
        view = next((v for v in snapshot.views if v.session.id == command.target), None)
        if view is None:
            return replace(state, message="that session is gone")
        try:
            message, state = self._dispatch(state, command, view)
        except (LsmError, OSError) as exc:
            message = f"{command.name} failed: {exc}"
        except Exception as exc:  # an action must never take the dashboard down
            message = f"{command.name} failed: {type(exc).__name__}: {exc}"
        return replace(state, message=message)

    def search_content(self, state: ViewState, query: str) -> ViewState:
        """`lsm grep QUERY`: the table keeps the sessions where it was said, in every scope."""
        from llm_session_manager.api.search import SearchFilters, search_conversations
        from llm_session_manager.errors import LsmError

        if self.ctx is None:
            return replace(state, message="search: not available here")
        try:
            result = search_conversations(self.ctx, query, SearchFilters(limit=200, per_session=1))
        except LsmError as exc:
            return replace(state, message=f"search failed: {exc}")
        except Exception as exc:  # a search must never take the dashboard down
            return replace(state, message=f"search failed: {type(exc).__name__}: {exc}")
        ids = tuple(group[0].session_id for group in result.sessions if group)
        found = f"{len(ids)} session(s) mention {query!r}" if ids else f"no session mentions {query!r}"
        return replace(state, content=query, content_ids=ids, message=f"{found}; Esc clears")

    def _dispatch(self, state: ViewState, command: Command, view: SessionView) -> tuple[str, ViewState]:
        from llm_session_manager.tui import actions

        name = command.name
        if name in ("copy", "copy_id"):
            text, what = (view.session.id, "id") if name == "copy_id" else actions.copy_text(view)
            self.console.file.write(actions.osc52(text))
            self.console.file.flush()
            return f"copied the {what}: {text}", state
        if name == "pager":
            self.page(actions.pager_argv(view, os.environ))
            return "", state
        ctx = self.ctx
        if ctx is None:
            return f"{name}: not available here", state
        if name == "ask_close":
            if view.status == "closed":
                return f"{view.session.id} is already closed", state
            detail = actions.close_preview(ctx, view)
            return "", replace(state, prompt=Prompt("close", "", view.session.id, detail))
        if name == "close":
            message = actions.close(ctx, view)
        elif name == "tag":
            message = actions.add_tags(ctx, view, command.text)
        elif name == "describe":
            message = actions.describe(ctx, view, command.text)
        elif name == "export":
            message = f"hand-off written to {actions.export_handoff(ctx, view)}"
        else:
            return f"unknown action {name}", state
        self.worker.request(force=True)  # show the change at once
        return message, state

    def page(self, argv: list[str]) -> None:
        """Run the pager on the real terminal: the screen and cbreak mode are given back, then taken
        again when the pager ends (Ctrl-C in the pager is the pager's)."""
        import subprocess

        self.live.stop()
        self.keyboard.suspend()
        try:
            proc = subprocess.Popen(argv)
            while True:
                try:
                    proc.wait()
                    break
                except KeyboardInterrupt:
                    continue
        finally:
            self.keyboard.resume()
            self.live.start()


def run(
    refresher: SnapshotSource,
    *,
    interval: float,
    console: Console,
    state: ViewState,
    stdin_fd: int | None,
    sorts: Sequence[str] = (),
    clock: Callable[[], float] = time.monotonic,
    ctx: Context | None = None,
) -> None:
    """Show the dashboard until "q" (or Ctrl-C, which raises KeyboardInterrupt after the terminal is
    restored). The frame is drawn at once; ``refresher.refresh(force)`` runs on a worker thread and each
    snapshot fills the screen when it is ready. An exception from a refresh ends the loop (the terminal
    restored first) and is raised here. ``ctx``: the use cases' context the action keys call (None: the
    actions that write say they are not available)."""
    snapshot = loading_snapshot(local_now())
    with (
        Keyboard(stdin_fd) as keyboard,
        Live(
            console=console, screen=True, auto_refresh=False, redirect_stdout=False, redirect_stderr=False
        ) as live,
    ):
        worker = ScanWorker(refresher, keyboard.wake)
        session = Screen(worker, live, keyboard, console, ctx)
        try:
            _loop(session, snapshot, state, interval, sorts, clock)
        finally:
            worker.stop()


def _loop(
    session: Screen,
    snapshot: Snapshot,
    state: ViewState,
    interval: float,
    sorts: Sequence[str],
    clock: Callable[[], float],
) -> None:
    worker = session.worker
    worker.request(force=True)
    due = clock() + interval
    while True:
        taken = worker.take()
        if taken is not None:
            snapshot, forced = taken
            if forced and state.message == "refreshing…":
                state = replace(state, message=f"refreshed at {snapshot.time:%H:%M:%S}")
        elif snapshot.loading:  # the clock runs while the first scan does, and the count of files read
            counter = getattr(worker.refresher, "progress", None)
            count = counter.count() if counter is not None else None
            snapshot = replace(snapshot, time=local_now(), progress=count)
        ids = [v.session.id for v in visible_views(snapshot, state)]
        state = settle(state, ids)
        session.live.update(render(snapshot, state), refresh=True)
        wait = due - clock()
        for key in session.keyboard.wait(min(wait, LOADING_TICK) if snapshot.loading else wait):
            if key == RESIZE:
                continue
            state, action = _key(session, snapshot, state, key, sorts)
            if action == QUIT:
                return
        if clock() >= due:
            if worker.idle() and not snapshot.loading:
                worker.request(force=False)
            due = clock() + interval


def _key(
    session: Screen, snapshot: Snapshot, state: ViewState, key: str, sorts: Sequence[str]
) -> tuple[ViewState, Action]:
    """One key: the new view state, and the action carried out (a refresh asked of the worker, a
    command done here); "quit" is left to the caller."""
    ids = [v.session.id for v in visible_views(snapshot, state)]
    opened = state.prompt is None
    state, action = apply_key(state, key, ids, page=max(5, session.console.height // 2), sorts=sorts)
    if opened and state.prompt is not None and state.prompt.kind == "describe":
        state = with_description(state, snapshot)
    if action == REFRESH:
        session.worker.request(force=True)
    elif isinstance(action, Command):
        if action.name in SLOW_COMMANDS:  # say so before the screen waits for it
            busy = replace(state, message=SLOW_COMMANDS[action.name])
            session.live.update(render(snapshot, busy), refresh=True)
        state = session.carry_out(state, action, snapshot)
        session.live.update(render(snapshot, state), refresh=True)
    return state, action


def with_description(state: ViewState, snapshot: Snapshot) -> ViewState:
    """The describe prompt opens on the current description: Enter alone keeps it."""
    prompt = state.prompt
    assert prompt is not None
    view = next((v for v in snapshot.views if v.session.id == prompt.target), None)
    text = " ".join((view.description or "").split()) if view else ""
    return replace(state, prompt=replace(prompt, text=text))


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
    run(
        refresher,
        interval=interval,
        # Without COLUMNS/LINES from the environment, Rich asks the terminal its size at every frame.
        console=Console(highlight=False, _environ=_environ_without_size()),
        state=ViewState(sort=sort),
        stdin_fd=sys.stdin.fileno() if sys.stdin is not None and sys.stdin.isatty() else None,
        sorts=sort_cycle(sort),
        ctx=Context.for_paths(paths),
    )


def _environ_without_size() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
