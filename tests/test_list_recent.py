"""A listing derives only the sessions it can show (the recent window, `--since`, `--agent`): everything
it prints, stores and warns about is what deriving every session gave, on every agent's sessions, with
filters, ids that another (unlisted) session shares a prefix with, unpriced models only old sessions
use, and the status line's health board."""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeHome
from factories import SONNET, write_claude_transcript, write_config
from test_all_agents import everything  # noqa: F401  (the fixture: every agent's sessions in one HOME)

from llm_session_manager import fastlist, healthboard, listing, service
from llm_session_manager.api.context import Context
from llm_session_manager.api.sessions import Listing, ListQuery, list_sessions

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def claude(home: FakeHome, sid: str, at: datetime, model: str = SONNET) -> None:
    path = write_claude_transcript(home.projects, home.home / "work" / sid[:4], sid, at=at)
    if model != SONNET:
        path.write_text(path.read_text().replace(SONNET, model))


@pytest.fixture
def mixed(everything: FakeHome) -> FakeHome:  # noqa: F811
    """Every agent's fixtures (old), Claude Code sessions active 2 h, 30 min and 3 days ago, and two
    whose ids share their first 7 characters: one recent, one a week old."""
    claude(everything, "recent01-aaaa", NOW - timedelta(hours=2))
    claude(everything, "halfhour-bbbb", NOW - timedelta(minutes=30))
    claude(everything, "threedays-cccc", NOW - timedelta(days=3))
    claude(everything, "abcdefg1-new0", NOW - timedelta(hours=1))
    claude(everything, "abcdefg2-old0", NOW - timedelta(days=7))
    claude(everything, "mystery0-dddd", NOW - timedelta(days=5), model="mystery-model-9")
    return everything


@pytest.fixture
def environ(mixed: FakeHome, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeHome]:
    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in mixed.env().items():
        monkeypatch.setenv(name, value)
    yield mixed


def listed(query: ListQuery, monkeypatch: pytest.MonkeyPatch, narrowed: bool) -> Listing:
    """The listing as `lsm list` makes it at NOW; ``narrowed`` False: every session derived, as before."""
    with monkeypatch.context() as m:
        if not narrowed:
            m.setattr(listing, "shown_at_most", lambda f, now: None)
        ctx = dataclasses.replace(Context.from_environment(), clock=lambda: NOW)
        return list_sessions(ctx, query)


def outputs(result: Listing, recent_hours: float = 24.0) -> dict[str, Any]:
    """Everything a listing prints, stores and warns about."""
    return {
        "json": b"".join(result.json_chunks()),
        "table": b"".join(result.table_chunks()),
        "until": fastlist.valid_until(result.collected, NOW, recent_hours),
        "unknown": result.collected.unknown_models,
        "unrecorded": result.collected.models_not_recorded,
        "found": sorted(s.id for s in result.collected.sessions()),
    }


QUERIES = [
    ListQuery(),
    ListQuery(agent="claude-code"),
    ListQuery(project="work"),
    ListQuery(sort="health"),
    ListQuery(limit=2),
    ListQuery(all_sessions=True),
    ListQuery(statuses=("ended",)),
    ListQuery(since="3d"),
    ListQuery(since="2h", agent="cla"),
    ListQuery(all_sessions=True, agent="codex"),
    ListQuery(all_sessions=True, agent="c"),
    ListQuery(statuses=("ended",), agent="gemini", sort="cost"),
]


@pytest.mark.parametrize("query", QUERIES, ids=repr)
def test_the_recent_listing_shows_what_deriving_everything_showed(
    environ: FakeHome, monkeypatch: pytest.MonkeyPatch, query: ListQuery
) -> None:
    narrowed = outputs(listed(query, monkeypatch, True))
    assert narrowed == outputs(listed(query, monkeypatch, False))
    assert len(narrowed["found"]) > 10


def test_only_the_sessions_it_can_show_are_derived(
    environ: FakeHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    derived: list[str] = []
    real = service.derive

    def counting(session: Any, *args: Any, **kwargs: Any) -> Any:
        derived.append(session.native_id)
        return real(session, *args, **kwargs)

    monkeypatch.setattr(service, "derive", counting)
    recent = listed(ListQuery(), monkeypatch, True)
    shown = {v.session.native_id for v in recent.views}
    assert shown >= {"recent01-aaaa", "halfhour-bbbb", "abcdefg1-new0"}  # (and fixtures dated today)
    # The half-hour session is on the status line's health board too: derived once, for both.
    assert sorted(derived) == sorted(shown)
    assert len(shown) < len(recent.collected.sessions()) / 2
    assert {s.native_id for s in recent.collected.unlisted} >= {"threedays-cccc", "abcdefg2-old0"}
    derived.clear()
    listed(ListQuery(all_sessions=True), monkeypatch, True)
    assert len(derived) == len(recent.collected.sessions())


def test_ids_are_told_apart_from_sessions_the_listing_leaves_out(
    environ: FakeHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = json.loads(b"".join(listed(ListQuery(), monkeypatch, True).table_chunks()))
    ids = {row["full_id"]: row["id"] for row in table["rows"]}
    assert ids["abcdefg1-new0"] == "abcdefg1"  # "abcdef" would also start the week-old abcdefg2-old0


def test_an_unpriced_model_of_an_old_session_is_still_counted(
    environ: FakeHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    recent = listed(ListQuery(), monkeypatch, True)
    assert "mystery0-dddd" not in {v.session.native_id for v in recent.views}
    assert recent.collected.unknown_models.get("mystery-model-9") == 1


def test_the_health_board_gets_a_session_older_than_a_short_recent_window(
    environ: FakeHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With `recent_hours: 0.1` (6 minutes) the listing leaves the half-hour session out, yet it is on
    the board (which keeps an hour), as when every session was derived."""
    monkeypatch.setenv("LSM_CONFIG", str(write_config(environ.home, "recent_hours: 0.1\n")))
    boards, seen = [], []
    for narrowed in (False, True):
        board = Path(Context.from_environment().paths.data_dir) / healthboard.FILE_NAME
        board.unlink(missing_ok=True)
        result = listed(ListQuery(), monkeypatch, narrowed)
        assert "halfhour-bbbb" not in {v.session.native_id for v in result.views}
        boards.append(json.loads(board.read_text())["sessions"])
        seen.append(outputs(result, 0.1))  # sessions of the last day still bound how long it is valid
    assert boards[0] == boards[1]
    assert "halfhour-bbbb" in boards[1]
    assert seen[0] == seen[1]
