"""The dashboard's pure parts: the screen printed to a Console(file=StringIO()), key handling, the
snapshot and the refresher's decisions. The real terminal loop is in test_monitor_tmux.py."""

from __future__ import annotations

import copy
import dataclasses
import os
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from io import StringIO
from pathlib import Path
from typing import Any

import pytest

from llm_session_manager.config import DEFAULTS
from llm_session_manager.models import ModelTokens, Process, Session, SessionView, TokenUsage
from llm_session_manager.paths import resolve
from llm_session_manager.pricing import ModelTable
from llm_session_manager.recommend import Recommendation
from llm_session_manager.scan import ScanStats
from llm_session_manager.service import Collected, derive
from llm_session_manager.tui.loop import apply_key, decode_keys, settle
from llm_session_manager.tui.render import SORTS, ViewState, render, visible_views, window
from llm_session_manager.tui.snapshot import (
    Refresher,
    Snapshot,
    build_snapshot,
    next_deadline,
    today_totals,
)

NOW = datetime(2026, 11, 25, 15, 30, tzinfo=timezone.utc)
CFG: dict[str, Any] = copy.deepcopy(DEFAULTS)
SONNET = "claude-sonnet-4-5-20250929"


def make_session(
    native: str,
    *,
    project: str = "/home/dev/src/web-app",
    running: str | None = None,  # the process state: "busy", "idle", "waiting"; None = no process
    minutes_ago: float = 1.0,
    context: int | None = 50_000,
    tokens: TokenUsage | None = None,
    agent: str = "claude-code",
    transcript: str | None = None,
    **extra: Any,
) -> Session:
    last = NOW - timedelta(minutes=minutes_ago)
    tokens = tokens or TokenUsage(1_000, 2_000, 3_000, 44_000)
    usage = ModelTokens(SONNET, tokens.input, tokens.output, tokens.cache_creation, tokens.cache_read)
    proc = (
        Process(4242, agent, project, last - timedelta(hours=1), 1.0, 1, state=running, state_updated_at=last)
        if running is not None
        else None
    )
    return Session(
        id=f"{agent}:{native}",
        agent=agent,
        native_id=native,
        title=f"work on {native}",
        project_path=project,
        git_branch="feature/login",
        model=SONNET,
        models=(SONNET,),
        started_at=last - timedelta(hours=1),
        last_activity=last,
        tokens=tokens,
        model_usage=(usage,),
        context_tokens=context,
        context_window=None,
        context_window_source="",
        messages_user=3,
        messages_assistant=3,
        tool_calls=10,
        tool_errors=2,
        api_errors=0,
        interruptions=0,
        compactions=0,
        skipped_lines=0,
        transcript_paths=(transcript or f"/home/dev/.claude/projects/p/{native}.jsonl",),
        recent_tool_results=(False, True, False, True),
        process=proc,
        **extra,
    )


def make_view(session: Session, *, burn: float | None = None, per_hour: float | None = None) -> SessionView:
    view = derive(session, ModelTable(None), CFG, NOW)
    view.burn_rate_tokens_per_min, view.cost_per_hour_usd = burn, per_hour
    return view


def snapshot_of(views: Sequence[SessionView], **kw: Any) -> Snapshot:
    collected = Collected(list(views), {"claude-code": ScanStats()})
    return build_snapshot(collected, CFG, NOW, **kw)


def screen(snap: Snapshot, state: ViewState, width: int = 160, height: int = 40) -> str:
    from rich.console import Console

    out = StringIO()
    Console(file=out, width=width, height=height, color_system=None, highlight=False).print(
        render(snap, state)
    )
    return out.getvalue()


@pytest.fixture
def fleet() -> Snapshot:
    """Two running sessions (one waiting on the user) and three ended ones."""
    views = [
        make_view(make_session("aaaa1111-run", running="busy", context=150_000), burn=12_345.0, per_hour=3.2),
        make_view(make_session("bbbb2222-wait", running="waiting", minutes_ago=3, project="/srv/api")),
        make_view(make_session("cccc3333-old", minutes_ago=60 * 5, context=None)),
        make_view(make_session("dddd4444-old", minutes_ago=60 * 30)),
        make_view(make_session("eeee5555-old", minutes_ago=60 * 50, agent="codex")),
    ]
    return snapshot_of(views)


# ------------------------------------------------------------------------------------------------------
# The screen


def test_running_sessions_shown_with_every_column(fleet: Snapshot) -> None:
    text = screen(fleet, ViewState())
    lines = text.splitlines()
    assert len(lines) == 40 and all(len(line) <= 160 for line in lines)
    assert "lsm monitor" in lines[0] and "2 running of 5 sessions" in lines[0]
    for column in (
        "Agent",
        "ID",
        "Title",
        "Project",
        "Model",
        "Status",
        "Context",
        "Tokens",
        "Cost",
        "Burn",
        "Health",
    ):
        assert column in text
    assert "Last ↓" in text  # the sort column is marked
    row = next(line for line in lines if "aaaa1111" in line)
    # 150,000 of sonnet 4.5's 200,000 window = 75%; 50,000 tokens; 12,345 tok/min -> "12k/min".
    assert "active (busy)" in row and "75%" in row and "50k" in row and "12k/m $3.20/h" in row
    assert "web-app" in row and "sonnet-4-5 " in row and "claude-code" in row
    assert "work on aaaa1111-run" in row  # the title
    # Sonnet 4.5: 1,000 x $3 + 2,000 x $15 + 3,000 x $3.75 + 44,000 x $0.30 per million = $0.05745.
    assert "$0.06" in row
    wait_row = next(line for line in lines if "bbbb2222" in line)
    assert "(needs you)" in wait_row and "3m ago" in wait_row  # the agent waits for the user
    # Ended sessions only with "a".
    assert "cccc3333" not in text and "eeee5555" not in text
    # Footer with the keys, on the last line.
    assert lines[-1].lstrip().startswith("q") and "help" in lines[-1] and "running only" in lines[-1]
    assert "/  filter" in lines[-1] and "S  reverse" in lines[-1]


def test_selection_marker_and_detail_pane(fleet: Snapshot) -> None:
    state = ViewState(selected="claude-code:bbbb2222-wait")
    text = screen(fleet, state)
    marked = [line for line in text.splitlines() if line.startswith(">")]
    assert len(marked) == 1 and "bbbb2222" in marked[0]
    # The pane: the session's id, project, health factors with reasons, errors, transcript.
    assert "claude-code:bbbb2222-wait" in text and "work on bbbb2222-wait" in text
    assert "project /srv/api" in text and "branch feature/login" in text
    assert "health " in text and "activity" in text and "duration" in text
    assert "2 tool errors (2 of the last 4 results)" in text
    assert "transcript /home/dev/.claude/projects/p/bbbb2222-wait.jsonl" in text
    # Enter hides the pane.
    hidden = screen(fleet, dataclasses.replace(state, details=False))
    assert "transcript /home" not in hidden and "bbbb2222" in hidden


def test_detail_pane_shows_the_sessions_recommendation(fleet: Snapshot) -> None:
    rec = Recommendation(
        "restart",
        "critical",
        ("claude-code:aaaa1111-run",),
        "context at 90% of the compact point",
        "/compact",
    )
    other = Recommendation(
        "close_idle", "info", ("claude-code:zzzz",), "idle for 3 h", "lsm batch-close zzzz"
    )
    snap = dataclasses.replace(fleet, recommendations=(rec, other))
    text = screen(snap, ViewState(selected="claude-code:aaaa1111-run"))
    assert "restart: context at 90% of the compact point" in text and "→ /compact" in text
    assert "idle for 3 h" not in text


def test_all_scope_sort_and_scrolling() -> None:
    views = [make_view(make_session(f"s{i:03d}-x", minutes_ago=i + 1, context=1_000 * i)) for i in range(100)]
    snap = snapshot_of(views)
    state = ViewState(scope="all", selected="claude-code:s070-x", details=False)
    text = screen(snap, state, height=30)
    marked = [line for line in text.splitlines() if line.startswith(">")]
    assert len(marked) == 1 and "s070" in marked[0]
    assert "s000" not in text and "of 100" in text and "↑" in text and "↓" in text
    # Sorted by context fill: the fullest first.
    by_context = visible_views(snap, dataclasses.replace(state, sort="context"))
    assert by_context[0].session.native_id == "s099-x"
    assert window(70, 100, 20) == 60 and window(5, 100, 20) == 0 and window(99, 100, 20) == 80


def test_help_overlay(fleet: Snapshot) -> None:
    text = screen(fleet, ViewState(help=True))
    assert "Help: keys" in text
    for key in ("q", "r", "h  ?", "↑ ↓  j k", "Enter", "s", "a"):
        assert any(line.strip(" │").startswith(key) for line in text.splitlines()), key
    assert "aaaa1111" not in text  # the help replaces the table


def test_empty_machine() -> None:
    snap = snapshot_of([], roots=[("/home/u/.claude/projects", False), ("/home/u/.codex/sessions", True)])
    text = screen(snap, ViewState())
    assert "No AI coding sessions on this machine yet." in text
    assert "/home/u/.claude/projects  (not there)" in text and "/home/u/.codex/sessions" in text
    assert "0 running of 0 sessions" in text


def test_nothing_running_points_to_a(fleet: Snapshot) -> None:
    ended = snapshot_of([v for v in fleet.views if v.session.process is None])
    text = screen(ended, ViewState())
    assert "No agent is running right now." in text and "3 past sessions" in text and "press a" in text
    assert "cccc3333" in screen(ended, ViewState(scope="all"))


def test_filter_matching_nothing(fleet: Snapshot) -> None:
    snap = snapshot_of(list(fleet.views), agent="gemini")
    assert "No session matches agent=gemini." in screen(snap, ViewState(scope="all"))


@pytest.mark.parametrize("width", [60, 80, 100, 120])
def test_narrow_terminal(fleet: Snapshot, width: int) -> None:
    state = ViewState(selected="claude-code:aaaa1111-run")
    text = screen(fleet, state, width=width, height=24)
    lines = text.splitlines()
    assert len(lines) == 24 and all(len(line) <= width for line in lines)
    row = next(line for line in lines if line.startswith(">"))
    # The title, the project, the state and the context fill always stay; the id too when it fits.
    assert "work on aaaa1111" in row and "web-app" in row and "75%" in row and "busy" in row
    if width >= 80:
        assert "aaaa1111 " in row  # whole: the id column is kept, or left out, never cut
    assert "Title" in lines[2] and "Project" in lines[2] and "Model" not in lines[2]
    if width < 116:
        assert "Agent" not in lines[2]
    assert lines[-1].lstrip().startswith("q")


def test_tiny_terminal_does_not_crash(fleet: Snapshot) -> None:
    text = screen(fleet, ViewState(), width=40, height=8)
    assert len(text.splitlines()) == 8


def test_counted_and_unknown_tokens_marked() -> None:
    counted = make_session("ffff6666", running="idle", tokens=TokenUsage(100, 200, 0, 0, "counted"))
    placeholder = dataclasses.replace(make_session("pid-77", running="busy"), transcript_paths=())
    text = screen(snapshot_of([make_view(counted), make_view(placeholder)]), ViewState())
    assert "≈300" in next(line for line in text.splitlines() if "ffff6666" in line)
    row = next(line for line in text.splitlines() if "pid-77" in line)
    assert " ? " in row


# ------------------------------------------------------------------------------------------------------
# The snapshot


def test_today_totals_and_burn(fleet: Snapshot) -> None:
    # Sessions active since midnight UTC (NOW is 15:30 UTC): the two running ones and the one of 5 h ago.
    t = today_totals(fleet.views, NOW)
    assert t.sessions == 3 and t.tokens == 3 * 50_000 and not t.tokens_counted
    assert t.cost_usd == pytest.approx(sum(v.cost_usd or 0 for v in fleet.views[:3]))
    assert fleet.burn_tokens_per_min == 12_345.0 and fleet.cost_per_hour_usd == 3.2
    assert fleet.running == 2 and fleet.total == 5
    text = screen(fleet, ViewState())
    assert "Today: $0.17 · 150k tokens · 3 sessions" in text and "Burn: 12k tok/min · $3.20/h" in text


def test_filters(fleet: Snapshot) -> None:
    views = list(fleet.views)
    assert [v.session.agent for v in snapshot_of(views, agent="codex").views] == ["codex"]
    api = snapshot_of(views, project="api")
    assert [v.session.native_id for v in api.views] == ["bbbb2222-wait"] and api.filters == ("project=api",)


def test_short_ids_are_unique_prefixes() -> None:
    views = [make_view(make_session(n)) for n in ("abcdef0123-1", "abcdef0123-2", "99999999-x")]
    snap = snapshot_of(views)
    assert snap.short_ids == {
        "claude-code:abcdef0123-1": "abcdef0123-1",
        "claude-code:abcdef0123-2": "abcdef0123-2",
        "claude-code:99999999-x": "99999999",
    }


def test_short_ids_are_unique_among_sessions_not_shown() -> None:
    """With --project, the ids shown must still name one session among all of them: the hidden
    session sharing the first eight characters lengthens the shown one, as `lsm health` needs."""
    shown = make_view(make_session("abcdef0123-1"))
    hidden = make_view(make_session("abcdef0199-2", project="/home/dev/src/other"))
    snap = snapshot_of([shown, hidden], project="web-app")
    assert [v.session.native_id for v in snap.views] == ["abcdef0123-1"]
    assert snap.short_ids == {"claude-code:abcdef0123-1": "abcdef012"}


# ------------------------------------------------------------------------------------------------------
# Keys


def test_decode_keys() -> None:
    assert decode_keys(b"jk\x1b[A\x1b[B\x1bOA\r\n") == ["j", "k", "up", "down", "up", "enter", "enter"]
    assert decode_keys(b"\x1b[5~\x1b[6~\x1b[H\x1b[F") == ["pgup", "pgdn", "home", "end"]
    assert decode_keys(b"\x1b") == ["esc"] and decode_keys(b"\x1bq") == ["esc", "q"]
    assert decode_keys(b"\x1b[1;5Cs") == ["s"]  # an unknown sequence (Ctrl-Right) is dropped whole
    assert decode_keys("é?".encode()) == ["é", "?"]


def test_apply_key() -> None:
    ids = ["a", "b", "c", "d"]
    s = settle(ViewState(), ids)
    assert s.selected == "a"
    s, act = apply_key(s, "j", ids)
    assert s.selected == "b" and act is None
    s, _ = apply_key(s, "down", ids)
    s, _ = apply_key(s, "down", ids)
    s, _ = apply_key(s, "j", ids)
    assert s.selected == "d"  # stops at the end
    s, _ = apply_key(s, "k", ids)
    s, _ = apply_key(s, "up", ids)
    assert s.selected == "b"
    assert apply_key(s, "pgdn", ids, page=10)[0].selected == "d"
    assert apply_key(s, "g", ids)[0].selected == "a" and apply_key(s, "G", ids)[0].selected == "d"
    assert apply_key(s, "enter", ids)[0].details is False
    assert apply_key(s, "h", ids)[0].help is True and apply_key(s, "?", ids)[0].help is True
    assert apply_key(dataclasses.replace(s, help=True), "esc", ids)[0].help is False
    assert apply_key(s, "q", ids)[1] == "quit" and apply_key(s, "r", ids)[1] == "refresh"
    assert apply_key(s, "a", ids)[0].scope == "all"
    assert apply_key(apply_key(s, "a", ids)[0], "a", ids)[0].scope == "running"
    assert apply_key(s, "x", ids) == (s, None)
    # s walks the whole cycle and comes back.
    state = s
    seen = []
    for _ in SORTS:
        state, _ = apply_key(state, "s", ids)
        seen.append(state.sort)
    assert seen[-1] == "last_activity" and sorted(seen) == sorted(SORTS)
    assert "sorted by" in apply_key(s, "s", ids)[0].message
    # A selection that left the table falls back to the first row.
    assert settle(dataclasses.replace(s, selected="gone"), ids).selected == "a"
    assert settle(s, []).selected is None


# ------------------------------------------------------------------------------------------------------
# When the refresher collects


class FakeCollect:
    def __init__(self, views: list[SessionView]) -> None:
        self.views, self.calls = views, 0

    def __call__(self, paths: Any, cfg: Any, **kw: Any) -> Collected:
        self.calls += 1
        return Collected(list(self.views), {})


def test_refresher_collects_only_on_change(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LSM_DISCOVERY", "off")
    transcript = tmp_path / "t.jsonl"
    transcript.write_text("{}\n")
    view = make_view(make_session("hot-1", minutes_ago=0.5, transcript=str(transcript)))
    fake = FakeCollect([view])
    clock = [NOW]
    r = Refresher(resolve(), CFG, collect_fn=fake, clock=lambda: clock[0], max_age=300, cpu_clock=lambda: 0.0)
    try:
        first = r.refresh()
        assert fake.calls == 1 and first.time == NOW
        clock[0] = NOW + timedelta(seconds=5)
        second = r.refresh()
        assert fake.calls == 1 and second.time == clock[0] and second.views == first.views
        with transcript.open("a") as fh:  # the agent wrote
            fh.write("{}\n")
        r.refresh()
        assert fake.calls == 2
        r.refresh()
        assert fake.calls == 2
        r.refresh(force=True)  # "r"
        assert fake.calls == 3
        clock[0] = NOW + timedelta(seconds=5 + 301)  # the safety net: 300 s after the last collect
        r.refresh()
        assert fake.calls == 4 and r.stats.reasons == {"first": 1, "changed": 1, "forced": 1, "time": 1}
    finally:
        r.close()


def test_refresher_spends_at_most_a_tenth_of_a_core_collecting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A collect that costs 3 s of CPU is followed by the next one 30 s later at the earliest (r: now)."""
    monkeypatch.setenv("LSM_DISCOVERY", "off")
    transcript = tmp_path / "t.jsonl"
    transcript.write_text("{}\n")
    fake = FakeCollect([make_view(make_session("hot-1", minutes_ago=0.5, transcript=str(transcript)))])
    clock, cpu = [NOW], [0.0]

    def costly(*a: Any, **k: Any) -> Collected:
        cpu[0] += 3.0
        return fake(*a, **k)

    r = Refresher(resolve(), CFG, collect_fn=costly, clock=lambda: clock[0], cpu_clock=lambda: cpu[0])
    try:
        r.refresh()
        with transcript.open("a") as fh:
            fh.write("{}\n")
        clock[0] = NOW + timedelta(seconds=5)
        snap = r.refresh()
        assert fake.calls == 1 and snap.pending_for == 25.0 and r.stats.deferred == 1
        assert "newer data in 25s (r: now)" in screen(snap, ViewState())
        clock[0] = NOW + timedelta(seconds=30)
        assert r.refresh().pending_for is None and fake.calls == 2
        with transcript.open("a") as fh:
            fh.write("{}\n")
        clock[0] = NOW + timedelta(seconds=35)
        r.refresh()
        assert fake.calls == 2
        r.refresh(force=True)
        assert fake.calls == 3
    finally:
        r.close()


def test_refresher_keeps_last_data_when_a_collect_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LSM_DISCOVERY", "off")
    fake = FakeCollect([make_view(make_session("x1"))])
    r = Refresher(resolve(), CFG, collect_fn=fake, clock=lambda: NOW)
    try:
        good = r.refresh()

        def broken(*a: Any, **k: Any) -> Collected:
            raise OSError("disk on fire")

        r._collect_fn = broken
        bad = r.refresh(force=True)
        assert bad.views == good.views and "disk on fire" in bad.warnings[0]
        assert "warning: refresh failed" in screen(bad, ViewState())
    finally:
        r.close()


def test_deadlines() -> None:
    busy = make_view(make_session("b", running="busy", minutes_ago=2))
    idle_soon = make_view(make_session("i", running="idle", minutes_ago=8))
    ended = make_view(make_session("e", minutes_ago=1))
    # active -> idle at 10 min after the last write: in 2 min (+1 s of slack).
    assert next_deadline([idle_soon, ended], CFG, NOW) == NOW + timedelta(minutes=2, seconds=1)
    # busy with no write for 10 min counts as stuck: 8 min from now.
    assert next_deadline([busy], CFG, NOW) == NOW + timedelta(minutes=8, seconds=1)
    burning = make_view(make_session("x"), burn=10.0)
    assert next_deadline([burning], CFG, NOW) == NOW + timedelta(seconds=61)
    assert next_deadline([ended], CFG, NOW) is None


def test_no_thread_started(fleet: Snapshot) -> None:
    import threading

    before = threading.active_count()
    screen(fleet, ViewState(help=True))
    assert threading.active_count() == before
    assert os.environ.get("LSM_HOME")  # conftest isolates every test


def test_long_paths_keep_their_end() -> None:
    deep = "/home/dev/" + "/".join(f"level{i}" for i in range(30)) + "/my_project"
    view = make_view(make_session("long-1", running="busy", project=deep))
    for width in (80, 160):
        text = screen(snapshot_of([view]), ViewState(), width=width)
        assert all(len(line) <= width for line in text.splitlines())
        assert "…" in text and "level29/my_project" in text
