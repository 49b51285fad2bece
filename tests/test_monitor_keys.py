"""The monitor's keys and what they call: the prompts (filter, tag, describe, close y/N), the filter
language, resume commands, the action functions over a real store, and the worker thread that lets
the frame show before the first scan ends."""

from __future__ import annotations

import base64
import dataclasses
import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from test_tui_render import NOW, make_session, make_view, snapshot_of

from llm_session_manager.errors import LsmError, UsageError
from llm_session_manager.paths import resolve
from llm_session_manager.resume import resume_command
from llm_session_manager.tui import actions
from llm_session_manager.tui.loop import Command, apply_key, decode_keys
from llm_session_manager.tui.query import matches, parse_query
from llm_session_manager.tui.render import Prompt, ViewState

IDS = ["claude-code:a", "claude-code:b"]


def typed(state: ViewState, text: str) -> ViewState:
    for key in text:
        state, action = apply_key(state, key, IDS)
        assert action is None
    return state


# ------------------------------------------------------------------------------------------------------
# Prompts


def test_filter_prompt_applies_as_typed_and_esc_clears() -> None:
    s, _ = apply_key(ViewState(selected=IDS[0]), "/", IDS)
    assert s.prompt == Prompt("filter", "")
    s = typed(s, "agent:codex q")  # q is text here, not quit
    assert s.filter == "agent:codex q" and s.prompt is not None
    s, _ = apply_key(s, "backspace", IDS)
    s, _ = apply_key(s, "enter", IDS)
    assert s.prompt is None and s.filter == "agent:codex"
    s, _ = apply_key(s, "/", IDS)
    assert s.prompt is not None and s.prompt.text == "agent:codex"  # opens on the current filter
    s, _ = apply_key(s, "esc", IDS)
    assert s.prompt is None and s.filter == "" and s.message == "filter cleared"
    # Esc outside a prompt clears a kept filter too.
    assert apply_key(ViewState(filter="x"), "esc", IDS)[0].filter == ""


def test_tag_and_describe_prompts_end_in_a_command() -> None:
    s, _ = apply_key(ViewState(selected=IDS[1]), "t", IDS)
    assert s.prompt == Prompt("tag", "", IDS[1])
    s = typed(s, "auth ui")
    s, action = apply_key(s, "enter", IDS)
    assert action == Command("tag", IDS[1], "auth ui") and s.prompt is None
    s, _ = apply_key(s, "d", IDS)
    s, action = apply_key(typed(s, "wip"), "esc", IDS)
    assert action is None and s.message == "describe cancelled"


def test_describe_opens_on_the_current_description() -> None:
    from llm_session_manager.tui.loop import with_description

    view = make_view(make_session("a"))
    view.description = "half\ndone"
    snap = snapshot_of([view])
    state, _ = apply_key(ViewState(selected=view.session.id), "d", [view.session.id])
    state = with_description(state, snap)
    assert state.prompt == Prompt("describe", "half done", view.session.id)


def test_close_asks_and_only_y_closes() -> None:
    s = ViewState(selected=IDS[0])
    assert apply_key(s, "c", IDS)[1] == Command("ask_close", IDS[0])
    asking = dataclasses.replace(s, prompt=Prompt("close", "", IDS[0], "would mark closed"))
    assert apply_key(asking, "y", IDS)[1] == Command("close", IDS[0])
    for key in ("n", "q", "enter", "esc", "c"):
        after, action = apply_key(asking, key, IDS)
        assert action is None and after.prompt is None and after.message == "close cancelled"


def test_row_keys_and_reverse_sort() -> None:
    s = ViewState(selected=IDS[1])
    assert apply_key(s, "e", IDS)[1] == Command("export", IDS[1])
    assert apply_key(s, "y", IDS)[1] == Command("copy", IDS[1])
    assert apply_key(s, "Y", IDS)[1] == Command("copy_id", IDS[1])
    assert apply_key(s, "o", IDS)[1] == Command("pager", IDS[1])
    assert apply_key(s, "t", [])[0].prompt is None  # nothing to act on
    rev, _ = apply_key(s, "S", IDS)
    assert rev.reverse and "reversed" in rev.message
    assert not apply_key(rev, "S", IDS)[0].reverse
    assert not apply_key(rev, "s", IDS)[0].reverse  # a new sort starts in its usual order


def test_decode_backspace() -> None:
    assert decode_keys(b"ab\x7f\x08/") == ["a", "b", "backspace", "backspace", "/"]


# ------------------------------------------------------------------------------------------------------
# The filter language


def test_query_fields_and_words() -> None:
    q = parse_query("Agent:Codex status:active JWT tag:auth project:api agent:gemini nothing:x")
    assert q.agent == ("codex", "gemini") and q.status == ("active",) and q.tag == ("auth",)
    assert q.project == ("api",) and q.words == ("jwt", "nothing:x")
    assert not parse_query("  ") and parse_query("x")


def test_query_matches() -> None:
    waiting = make_view(make_session("w-1", running="waiting", project="/srv/api", agent="codex"))
    waiting.tags = ["auth", "backend"]
    ended = make_view(make_session("e-1", minutes_ago=600))
    assert matches(waiting, parse_query("agent:cod status:needs tag:au project:api work"))
    assert matches(waiting, parse_query("status:waiting")) and matches(waiting, parse_query("status:act"))
    assert not matches(waiting, parse_query("status:ended"))
    assert matches(ended, parse_query("status:ended web-app")) and not matches(ended, parse_query("tag:auth"))
    assert not matches(ended, parse_query("agent:codex"))
    assert matches(ended, parse_query("E-1"))  # the id, case ignored


# ------------------------------------------------------------------------------------------------------
# Resume commands


@pytest.mark.parametrize(
    ("agent", "command"),
    [
        ("claude-code", "claude --resume abc-1"),
        ("codex", "codex resume abc-1"),
        ("gemini", "gemini --resume abc-1"),
        ("cursor-agent", "cursor-agent --resume abc-1"),
        ("copilot-cli", "copilot --resume abc-1"),
        ("cursor", None),
        ("aider", None),
        ("cline", None),
    ],
)
def test_resume_command(agent: str, command: str | None) -> None:
    assert resume_command(make_session("abc-1", agent=agent)) == command


def test_resume_command_quotes_and_refuses() -> None:
    hostile = make_session("x; rm -rf ~ $(id)")
    assert resume_command(hostile) == "claude --resume 'x; rm -rf ~ $(id)'"
    imported = dataclasses.replace(make_session("i-1"), origin="imported")
    placeholder = dataclasses.replace(make_session("pid-77", running="busy"), transcript_paths=())
    assert resume_command(imported) is None and resume_command(placeholder) is None


# ------------------------------------------------------------------------------------------------------
# Actions, on the test's own store


def test_tag_and_describe_write_the_store() -> None:
    from contextlib import closing

    from llm_session_manager.api import Context
    from llm_session_manager.service import open_db
    from llm_session_manager.store import meta

    ctx = Context.from_environment()
    view = make_view(make_session("t-1"))
    assert actions.add_tags(ctx, view, "Auth  ui") == "tagged claude-code:t-1: auth, ui"
    with pytest.raises(UsageError):
        actions.add_tags(ctx, view, "bad/tag")
    with pytest.raises(UsageError):
        actions.add_tags(ctx, view, "   ")
    assert actions.describe(ctx, view, "[b]x[/b]\x1b[2J") == "described claude-code:t-1"
    with closing(open_db(ctx.paths)) as conn:
        m = meta.load_all(conn)["claude-code:t-1"]
    assert sorted(m.tags) == ["auth", "ui"] and m.description == "[b]x[/b]\x1b[2J"  # stored as typed
    assert actions.describe(ctx, view, "  ") == "cleared the description of claude-code:t-1"
    read_only = Context.from_environment(read_only=True)
    with pytest.raises(LsmError, match="read-only"):
        actions.add_tags(read_only, view, "x")


def test_handoff_never_overwrites(tmp_path: Path) -> None:
    paths = resolve()
    view = make_view(make_session("../../etc/passwd"))
    first = actions.handoff_path(paths, view)
    assert (
        first.parent == paths.data_dir / "handoffs" and "/" not in first.name and ".." not in first.name[:3]
    )
    first.parent.mkdir(parents=True)
    first.write_text("taken")
    assert actions.handoff_path(paths, view).name.endswith("-2.md")


def test_osc52_and_copy_text() -> None:
    seq = actions.osc52("claude --resume é")
    assert seq.startswith("\x1b]52;c;") and seq.endswith("\x07")
    assert base64.b64decode(seq[7:-1]).decode() == "claude --resume é"
    assert actions.copy_text(make_view(make_session("c-1"))) == ("claude --resume c-1", "resume command")
    assert actions.copy_text(make_view(make_session("c-2", agent="cursor"))) == ("cursor:c-2", "id")


def test_pager_argv(tmp_path: Path) -> None:
    text = tmp_path / "t.jsonl"
    text.write_text("{}\n")
    db = tmp_path / "state.vscdb"
    db.write_text("")
    view = make_view(make_session("p-1"))
    view.session = dataclasses.replace(view.session, transcript_paths=(str(text), str(db)))
    assert actions.pager_argv(view, {"PAGER": "cat -v"}) == [
        "cat",
        "-v",
        str(text),
    ]  # the database is left out
    with pytest.raises(UsageError, match="pager not found"):
        actions.pager_argv(view, {"PAGER": "no-such-pager-xyz"})
    with pytest.raises(UsageError, match="unbalanced"):
        actions.pager_argv(view, {"PAGER": "less '"})
    view.session = dataclasses.replace(view.session, transcript_paths=(str(db),))
    with pytest.raises(UsageError, match="no transcript file"):
        actions.pager_argv(view, {"PAGER": "cat"})


# ------------------------------------------------------------------------------------------------------
# The frame before the first scan


def test_frame_is_drawn_before_the_first_scan_ends() -> None:
    """The refresher blocks until released: the screen (its header, "reading…", the keys) is already
    there, a key is handled, and the sessions appear once the scan returns."""
    import pty

    from rich.console import Console

    from llm_session_manager.tui.loop import run

    master, slave = pty.openpty()
    out = os.fdopen(os.dup(slave), "w", encoding="utf-8")
    received = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            received.extend(chunk)

    threading.Thread(target=drain, daemon=True).start()
    release = threading.Event()
    snap = snapshot_of([make_view(make_session("aaaa1111-run", running="busy"))])

    class Slow:
        calls = 0

        def refresh(self, force: bool = False) -> Any:
            self.calls += 1
            release.wait(10)
            return dataclasses.replace(snap, time=NOW)

    def script() -> None:
        deadline = time.monotonic() + 5
        while b"reading the agents" not in received and time.monotonic() < deadline:
            time.sleep(0.02)
        os.write(master, b"?")  # handled while the scan runs
        while b"Help: keys" not in received and time.monotonic() < deadline:
            time.sleep(0.02)
        os.write(master, b"?")
        release.set()
        while b"aaaa1111" not in received and time.monotonic() < deadline:
            time.sleep(0.02)
        os.write(master, b"q")

    threading.Thread(target=script, daemon=True).start()
    console = Console(file=out, force_terminal=True, width=100, height=24, color_system=None)
    try:
        run(Slow(), interval=30.0, console=console, state=ViewState(), stdin_fd=slave)
        out.flush()
        time.sleep(0.1)
        data = bytes(received)
        assert data.index(b"reading the agents") < data.index(b"Help: keys") < data.index(b"aaaa1111")
    finally:
        out.close()
        os.close(slave)
        os.close(master)


def test_first_frame_counts_the_files_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first collect is told of each file it reads; the frame shows the count before the data."""
    import pty

    from rich.console import Console

    from llm_session_manager.config import DEFAULTS
    from llm_session_manager.service import Collected
    from llm_session_manager.tui.loop import run
    from llm_session_manager.tui.snapshot import Refresher

    monkeypatch.setenv("LSM_DISCOVERY", "off")
    release = threading.Event()
    seen: list[object] = []

    def collect(paths: Any, cfg: Any, **kw: Any) -> Collected:
        seen.append(kw.get("progress"))
        progress = kw.get("progress")
        if progress is not None:
            progress.planned(10, 50_000_000)
            progress.advanced(4, 20_000_000)
            release.wait(10)
        return Collected([make_view(make_session("aaaa1111-run", running="busy"))], {})

    master, slave = pty.openpty()
    out = os.fdopen(os.dup(slave), "w", encoding="utf-8")
    received = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            received.extend(chunk)

    def script() -> None:
        deadline = time.monotonic() + 10
        while b"4 of 10 files" not in received and time.monotonic() < deadline:
            time.sleep(0.02)
        release.set()
        while b"aaaa1111" not in received and time.monotonic() < deadline:
            time.sleep(0.02)
        os.write(master, b"q")

    threading.Thread(target=drain, daemon=True).start()
    threading.Thread(target=script, daemon=True).start()
    refresher = Refresher(resolve(), DEFAULTS, collect_fn=collect)
    console = Console(file=out, force_terminal=True, width=100, height=24, color_system=None)
    try:
        run(refresher, interval=30.0, console=console, state=ViewState(), stdin_fd=slave)
        out.flush()
        time.sleep(0.1)
        data = bytes(received)
        assert b"4 of 10 files \xc2\xb7 20.0 of 50.0 MB" in data and b"40%" in data
        assert data.index(b"4 of 10 files") < data.index(b"aaaa1111")
        assert seen[0] is refresher.progress and all(p is None for p in seen[1:])  # the first collect only
    finally:
        out.close()
        os.close(slave)
        os.close(master)


def test_a_failing_action_is_a_message(monkeypatch: pytest.MonkeyPatch) -> None:
    """An action that raises (a refused tag, or a bug) leaves a message; the dashboard goes on."""
    from llm_session_manager.api import Context
    from llm_session_manager.tui.loop import Screen

    view = make_view(make_session("f-1"))
    snap = snapshot_of([view])
    screen = Screen(None, None, None, None, Context.from_environment())  # type: ignore[arg-type]
    state = screen.carry_out(ViewState(), Command("tag", view.session.id, "bad/tag"), snap)
    assert state.message.startswith("tag failed: ") and "bad/tag" in state.message

    def broken(*a: Any) -> str:
        raise RuntimeError("boom")

    monkeypatch.setattr(actions, "export_handoff", broken)
    state = screen.carry_out(ViewState(), Command("export", view.session.id), snap)
    assert state.message == "export failed: RuntimeError: boom"
    gone = screen.carry_out(ViewState(), Command("tag", "gone:1", "x"), snap)
    assert gone.message == "that session is gone"
