"""``with_context_window`` stands in for ``dataclasses.replace`` on every listed session: it must give
the very session replace gives, whatever fields Session has now or gains later."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

from llm_session_manager.models import ModelTokens, Process, Session, TokenUsage, with_context_window


def session() -> Session:
    return Session(
        id="claude-code:s1",
        agent="claude-code",
        native_id="s1",
        title="a title",
        project_path="/p",
        git_branch="main",
        model="claude-sonnet-4-5",
        models=("claude-sonnet-4-5",),
        started_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
        last_activity=datetime(2026, 1, 2, tzinfo=timezone.utc),
        tokens=TokenUsage(1, 2, 3, 4, "exact"),
        context_tokens=5000,
        context_window=None,
        context_window_source="1m-identity",
        messages_user=3,
        messages_assistant=4,
        tool_calls=5,
        tool_errors=1,
        api_errors=0,
        interruptions=2,
        compactions=1,
        skipped_lines=0,
        transcript_paths=("/p/s1.jsonl",),
        model_usage=(ModelTokens("claude-sonnet-4-5", 1, 2, 3, 4),),
        process=Process(
            pid=42,
            agent="claude-code",
            cwd="/p",
            started_at=datetime(2026, 1, 1, tzinfo=timezone.utc),
            cpu_pct=1.5,
            rss_bytes=1 << 20,
            cmdline=("claude",),
        ),
    )


def test_it_is_replace() -> None:
    before = session()
    after = with_context_window(before, 1_000_000, "log")
    assert after == dataclasses.replace(before, context_window=1_000_000, context_window_source="log")
    assert type(after) is Session
    assert before.context_window is None and before.context_window_source == "1m-identity"  # a copy


def test_every_field_is_passed_in_order() -> None:
    """A field Session cannot take positionally (init=False, keyword-only) would be given the wrong
    value or refused: there is none."""
    for f in dataclasses.fields(Session):
        assert f.init and not f.kw_only, f.name
    before = session()
    after = with_context_window(before, 7, "table")
    for f in dataclasses.fields(Session):
        if f.name not in ("context_window", "context_window_source"):
            assert getattr(after, f.name) is getattr(before, f.name), f.name
