"""The monitor's screen at the four sizes the docs show (80x24, 120x40, 200x50, 250x60), on the demo
fleet of manual_tests/monitor_screens.py: every line fits, the title and project always stay, figures
are never cut, hostile text stays inert; and the parts behind them (today by reply time, burn of running
sessions only, sparklines, state words, advice in short ids, the sort arrow)."""

from __future__ import annotations

import dataclasses
import re
import sys
from datetime import timedelta
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "manual_tests"))
from monitor_screens import CFG, HOSTILE, NOW, demo_sessions, demo_snapshot, screen

from llm_session_manager.recommend import Recommendation
from llm_session_manager.tui.render import (
    SORT_COLUMNS,
    SORTS,
    ViewState,
    burn_cell,
    shown_state,
    sparkline,
)
from llm_session_manager.tui.snapshot import Snapshot, loading_snapshot

SIZES = [(80, 24), (120, 40), (200, 50), (250, 60)]
CLAUDE = "claude-code:5f0c2b1e-8d4a-4c1b-9e7f-123456789abc"
CODEX = "codex:019a7c44-3b2e-7d10-a9c4-5e6f7a8b9c0d"


@pytest.fixture(scope="module")
def snap() -> Snapshot:
    return demo_snapshot()


def table_rows(text: str) -> list[str]:
    """The session rows: from the header's rule to the first empty line."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("───")) + 1
    rows = []
    for line in lines[start:]:
        if not line.strip():
            break
        rows.append(line)
    return rows


@pytest.mark.parametrize(("width", "height"), SIZES)
def test_layout_at_each_size(snap: Snapshot, width: int, height: int) -> None:
    text = screen(snap, ViewState(scope="all"), width, height)
    lines = text.splitlines()
    assert len(lines) == height and all(len(line) <= width for line in lines)
    header = next(line for line in lines if "Title" in line and "Project" in line)
    for column in ("Title", "Project", "Status", "Context", "Last ↓"):
        assert column in header
    rows = table_rows(text)
    assert len(rows) == 7 and rows[0].startswith(">")
    assert "add OAuth login" in rows[0] and "web-app" in rows[0] and "76%" in rows[0]
    assert "needs you" in rows[1] and "billing" in rows[1]  # codex waits on the user
    # Figures are whole: every context fill ends in a full percentage; money keeps its cents.
    for row in rows:
        assert re.search(r"(\d+%|  -  )", row), row
        for money in re.findall(r"\$[\d.,…]+", row):
            assert re.fullmatch(r"\$\d+\.\d{2,4}", money), row
    # The limits with their reset countdown, on every width.
    assert "claude 5h" in text and "42%" in text and "↻2h 05m" in text and "codex 5h" in text
    assert "91%" in text and "↻1h 10m" in text
    # Hostile text is shown, never run or styled.
    assert "\x1b" not in text and "\x07" not in text
    if width >= 120:
        assert "[bold red]pwned[/] ␛[2J" in text
    # Key hints on the last line: quit and help always.
    assert lines[-1].startswith(" q ") and "?  help" in lines[-1]
    assert "ID" in header and "5f0c2b1e" in rows[0] and "019a7c44" in rows[1]  # never cut
    if width >= 200:
        assert "Agent" in header and "Activity" in header
        assert re.search("[▁▂▃▄▅▆▇█]{5,}", rows[0])  # the running session's tokens per 2 minutes
    if width >= 250:
        assert "Started" in header and "Model" in header


def test_low_value_columns_go_first_at_80(snap: Snapshot) -> None:
    header = next(
        line for line in screen(snap, ViewState(scope="all"), 80, 24).splitlines() if "Title" in line
    )
    assert "Project" in header and "Health" in header and "ID" in header  # the id, whole and pasteable
    for gone in ("Agent", "Model", "Burn", "Activity", "Started", "Tokens", "Cost"):
        assert gone not in header


def test_today_counts_replies_since_midnight(snap: Snapshot) -> None:
    midnight = int(NOW.replace(hour=0, minute=0).timestamp() // 60)
    today = [b for s in demo_sessions() for b in s.usage_history if b[0] >= midnight]
    assert snap.today.tokens == sum(sum(b[2:6]) for b in today)
    claude = next(v for v in snap.views if v.session.id == CLAUDE)
    # Its reply of yesterday evening is not today's spend, though the session was active today.
    assert snap.today.tokens < sum(
        v.session.tokens.total
        for v in snap.views
        if v.session.last_activity and v.session.last_activity >= NOW.replace(hour=0, minute=0)
    )
    assert claude.session.usage_history[0][0] < midnight
    assert snap.today.sessions == 4 and snap.today.cost_usd > 0


def test_burn_only_for_running_sessions(snap: Snapshot) -> None:
    ended = next(v for v in snap.views if v.session.process is None and v.session.last_activity)
    burning = dataclasses.replace(ended, burn_rate_tokens_per_min=9_999.0, cost_per_hour_usd=9.0)
    assert burn_cell(burning) == "-"
    from llm_session_manager.service import Collected
    from llm_session_manager.tui.snapshot import build_snapshot

    views = [burning if v is ended else v for v in snap.views]
    again = build_snapshot(Collected(views, {}), CFG, NOW)
    running = [v for v in views if v.session.process is not None]
    assert again.burn_tokens_per_min == pytest.approx(sum(v.burn_rate_tokens_per_min or 0 for v in running))
    assert again.burn_tokens_per_min == snap.burn_tokens_per_min  # the ended session's 9,999 is not in it
    assert again.cost_per_hour_usd == snap.cost_per_hour_usd


def test_sparkline_of_a_running_session(snap: Snapshot) -> None:
    claude = next(v for v in snap.views if v.session.id == CLAUDE)
    line = sparkline(claude, NOW)
    assert len(line) == 15 and line.rstrip()[-1] == "█"  # the busiest step is the newest
    assert (
        sparkline(dataclasses.replace(claude, session=dataclasses.replace(claude.session, process=None)), NOW)
        == ""
    )
    # Nothing in the last 30 minutes: no line.
    assert sparkline(claude, NOW + timedelta(hours=2)) == ""


def test_state_words(snap: Snapshot) -> None:
    codex = next(v for v in snap.views if v.session.id == CODEX)
    assert shown_state(codex) == ("needs you", "waiting")
    idle = next(v for v in snap.views if v.session.agent == "gemini")
    assert idle.status == "idle" and shown_state(idle) is None  # never "idle (idle)"
    text = screen(snap, ViewState(scope="all", selected=idle.session.id), 200, 50)
    assert "idle (idle)" not in text


def test_advice_names_sessions_by_short_id(snap: Snapshot) -> None:
    rec = Recommendation(
        "merge",
        "warning",
        (CLAUDE, CODEX),
        f"{CLAUDE} and {CODEX} look like the same work",
        f"lsm export '{CLAUDE}' -o h.md && lsm batch-close '{CODEX}'",
    )
    text = screen(dataclasses.replace(snap, recommendations=(rec,)), ViewState(scope="all"), 200, 50)
    assert "5f0c2b1e and 019a7c44 look like the same work" in text
    assert "lsm export '5f0c2b1e' -o h.md && lsm batch-close '019a7c44'" in text
    advice = [line for line in text.splitlines() if "same work" in line or "batch-close" in line]
    assert advice and not any("8d4a-4c1b" in line for line in advice)  # no UUID in the advice


@pytest.mark.parametrize("sort", SORTS)
def test_sort_column_has_an_arrow_on_every_sort(snap: Snapshot, sort: str) -> None:
    for width in (80, 200):
        down = screen(snap, ViewState(scope="all", sort=sort), width, 30)
        up = screen(snap, ViewState(scope="all", sort=sort, reverse=True), width, 30)
        assert f"{SORT_COLUMNS[sort]} ↓" in down and f"{SORT_COLUMNS[sort]} ↑" in up


def test_reverse_sort_reverses_the_rows(snap: Snapshot) -> None:
    from llm_session_manager.tui.render import visible_views

    down = [v.session.id for v in visible_views(snap, ViewState(scope="all", sort="cost"))]
    up = [v.session.id for v in visible_views(snap, ViewState(scope="all", sort="cost", reverse=True))]
    assert up == down[::-1] and down[0] == CLAUDE


def test_filter_in_the_table(snap: Snapshot) -> None:
    text = screen(snap, ViewState(scope="all", filter="agent:codex status:active postgres"), 120, 30)
    assert "migrate the billing" in text and "add OAuth" not in text and "filter: agent:codex" in text
    none = screen(snap, ViewState(scope="running", filter="status:ended"), 120, 30)
    assert "No session matches the filter 'status:ended' in running sessions (a: all sessions)." in none


def test_hostile_title_in_the_detail_pane(snap: Snapshot) -> None:
    hostile = next(v for v in snap.views if v.session.title == HOSTILE)
    text = screen(snap, ViewState(scope="all", selected=hostile.session.id), 120, 40)
    assert "\x1b" not in text and "␛]52;c;ZXZpbA==␇" in text


def test_loading_frame() -> None:
    text = screen(loading_snapshot(NOW), ViewState(), 80, 24)
    assert "reading the agents' logs" in text and "Reading the agents' logs…" in text
    assert text.splitlines()[-1].startswith(" q ")


def test_hook_states_that_wait_read_needs_you(snap: Snapshot) -> None:
    codex = next(v for v in snap.views if v.session.id == CODEX)
    asking = dataclasses.replace(
        codex, state="waiting_permission", state_detail="Bash: rm -rf build", state_source="hooks"
    )
    assert shown_state(asking) == ("needs you: Bash", "waiting_permission")
    assert shown_state(asking, full=True) == ("needs you: Bash: rm -rf build", "waiting_permission")
    question = dataclasses.replace(asking, state="waiting_input", state_detail=None)
    assert shown_state(question) == ("needs you", "waiting_input")
    working = dataclasses.replace(asking, state="working", state_detail=None)
    assert shown_state(working) == ("working", "working")


def test_close_question_fits_80_columns(snap: Snapshot) -> None:
    from llm_session_manager.tui.render import Prompt

    asking = ViewState(
        scope="all", prompt=Prompt("close", "", CLAUDE, "would mark closed and send SIGTERM to pid 4242")
    )
    last = screen(snap, asking, 80, 24).splitlines()[-1]
    assert last.startswith(" Close 5f0c2b1e?  y  closes, any other key cancels: would") and len(last) <= 80
