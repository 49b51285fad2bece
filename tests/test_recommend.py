"""Tests for `lsm recommend`: the pure rules case by case (crafted session views, health scored by the
real health module), then the command on a fake HOME, then a running fake agent end to end."""

from __future__ import annotations

import copy
import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeHome
from factories import NOW, make_process, make_session, running_agent, write_claude_transcript

from llm_session_manager.config import DEFAULTS
from llm_session_manager.health import HealthInputs, score_session
from llm_session_manager.models import Session, SessionView
from llm_session_manager.pricing import auto_compact_point
from llm_session_manager.recommend import (
    Recommendation,
    close_command,
    export_command,
    rank,
    recommend,
    settings,
    similarity,
)


def make_view(
    session: Session,
    *,
    status: str | None = None,
    health_cfg: dict[str, Any] | None = None,
    cost: float | None = 1.0,
    tags: tuple[str, ...] = (),
    project: str | None = None,
    description: str | None = None,
    burn: float | None = None,
    cost_per_hour: float | None = None,
    minutes_to_compact: float | None = None,
) -> SessionView:
    """A view as the service derives it: compact point from the window, health from the real scorer."""
    window = session.context_window or 200_000
    compact_at = auto_compact_point(window, session.agent)
    if status is None:
        status = "ended" if session.process is None else "active"
    inputs = HealthInputs(NOW, window, compact_at, running=session.process is not None, estimated=False)
    health = score_session(session, inputs, health_cfg or DEFAULTS["health"])
    ctx = session.context_tokens
    pct = round(100.0 * ctx / window, 1) if ctx is not None else None
    return SessionView(
        session,
        status,
        cost,
        health,
        pct,
        compact_at,
        tags=list(tags),
        project=project,
        description=description,
        burn_rate_tokens_per_min=burn,
        cost_per_hour_usd=cost_per_hour,
        minutes_to_compact=minutes_to_compact,
    )


def live(native: str = "abc123", pid: int = 4242, **changes: Any) -> Session:
    """A running session (a process is tied to it)."""
    agent = changes.pop("agent", "claude-code")
    state = changes.pop("state", None)
    return make_session(native, agent, process=make_process(pid, agent, state), **changes)


def cfg(**recommend_changes: Any) -> dict[str, Any]:
    out = copy.deepcopy(DEFAULTS)
    out["recommend"].update(recommend_changes)
    return out


def kinds(recs: list[Recommendation]) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(r.kind, r.severity, r.session_ids) for r in recs]


def healthy_set() -> list[SessionView]:
    """Running sessions in different projects, recently active, small contexts, nothing shared."""
    return [
        make_view(live("aaa111", 101, title="add a login page")),
        make_view(live("bbb222", 102, title="profile the importer", git_branch="perf")),
        make_view(live("ccc333", 103, agent="codex", title="write release notes")),
        make_view(make_session("ddd444", title="old work"), status="ended"),
    ]


# --------------------------------------------------------------------------------------------------
# nothing to say


def test_healthy_set_gives_nothing() -> None:
    assert recommend(healthy_set(), cfg(), NOW) == []


def test_healthy_set_with_every_limit_set_gives_nothing() -> None:
    views = healthy_set()
    views[0].burn_rate_tokens_per_min = 20_000.0
    views[0].cost_per_hour_usd = 2.0
    config = cfg(burn_rate_tokens_per_min_limit=50_000, cost_per_hour_limit_usd=5, daily_cost_limit_usd=10)
    assert recommend(views, config, NOW) == []  # 3 sessions today at $1 each: $3 <= $10


def test_no_sessions_gives_nothing() -> None:
    assert recommend([], cfg(daily_cost_limit_usd=1), NOW) == []


def test_settings_defaults_and_missing_section() -> None:
    assert settings({}) == DEFAULTS["recommend"]
    assert settings({"recommend": {"idle_close_minutes": 5}})["idle_close_minutes"] == 5
    assert DEFAULTS["recommend"] == {
        "idle_close_minutes": 60,
        "context_warning_pct": 70,
        "burn_rate_tokens_per_min_limit": None,
        "cost_per_hour_limit_usd": None,
        "daily_cost_limit_usd": None,
    }


# --------------------------------------------------------------------------------------------------
# restart / compact


def test_context_at_96_percent_of_the_compact_point_is_critical() -> None:
    # 160,000 / 167,000 = 95.8% of the auto-compact point of a 200k window: health is capped at 39.
    view = make_view(live(context_tokens=160_000))
    assert view.health.status == "critical"
    (rec,) = recommend([view], cfg(), NOW)
    assert (rec.kind, rec.severity, rec.session_ids) == ("restart", "critical", ("claude-code:abc123",))
    assert "context 160,000 tokens = 96% of the auto-compact point (167,000)" in rec.reason
    assert rec.reason.startswith(f"health {view.health.score:.0f}/100 (critical)")
    assert rec.action.startswith("Run /compact in that session")
    assert "lsm export 'abc123' --format markdown -o handoff-abc123.md" in rec.action


def test_context_at_91_percent_is_a_warning() -> None:
    # 152,000 / 167,000 = 91%: past the 90% "near" line, under the 95% critical one; health capped at 69.
    view = make_view(live(context_tokens=152_000))
    assert view.health.status == "warning"
    (rec,) = recommend([view], cfg(), NOW)
    assert (rec.kind, rec.severity) == ("restart", "warning")
    assert "91% of the auto-compact point" in rec.reason
    assert "/compact" in rec.action


def test_context_at_89_percent_is_not_a_restart() -> None:
    # 148,000 / 167,000 = 88.6%; it is 74% of the window, so only the context warning (70%) fires.
    (rec,) = recommend([make_view(live(context_tokens=148_000))], cfg(), NOW)
    assert rec.kind == "usage_warning"


def test_compact_point_minutes_away_is_a_restart_warning() -> None:
    # 120,000 tokens (72% of the compact point) but ~6 minutes from it at 8,000 tokens/min.
    view = make_view(live(context_tokens=120_000), burn=8_000.0, minutes_to_compact=5.9)
    (rec,) = [r for r in recommend([view], cfg(), NOW) if r.kind == "restart"]
    assert rec.severity == "warning"
    assert "it reaches the auto-compact point in ~6 min at 8,000 tokens/min" in rec.reason
    assert rec.action.startswith("Run /compact")


def test_past_the_compact_point_says_so_never_0_min() -> None:
    # The reported case: 119% of the compact point, where the projection has no minutes left.
    view = make_view(live(context_tokens=198_730), burn=9_000.0, minutes_to_compact=0.0)
    (rec,) = [r for r in recommend([view], cfg(), NOW) if r.kind == "restart"]
    assert rec.severity == "critical"
    assert "context 198,730 tokens is past the auto-compact point (167,000), at 119% of it" in rec.reason
    assert "min" not in rec.reason and "reaches" not in rec.reason
    assert rec.action.startswith("Run /compact")


def test_compact_point_under_a_minute_away() -> None:
    view = make_view(live(context_tokens=150_000), burn=40_000.0, minutes_to_compact=0.4)
    (rec,) = [r for r in recommend([view], cfg(), NOW) if r.kind == "restart"]
    assert "it reaches the auto-compact point in under a minute at 40,000 tokens/min" in rec.reason


def test_advice_names_sessions_by_their_shortest_unique_prefix() -> None:
    a = "8b705c1a-0000-4000-8000-000000000001"
    b = "8b705c9f-0000-4000-8000-000000000002"
    idle = NOW - timedelta(hours=2)
    views = [
        make_view(live(a, 101, project_path="/w/app", last_activity=idle)),
        make_view(live(b, 102, project_path="/w/app", last_activity=NOW - timedelta(minutes=1))),
        make_view(make_session("ffff0000-0000-4000-8000-000000000003")),  # ended, but known
    ]
    recs = recommend(views, cfg(), NOW)
    assert {r.kind for r in recs} == {"close_idle", "merge"}
    for rec in recs:
        text = rec.reason + rec.action
        assert a not in text and b not in text  # never the whole UUID
        assert set(rec.short_ids) <= {"8b705c1", "8b705c9"}
    (merge,) = [r for r in recs if r.kind == "merge"]
    assert merge.short_ids == ("8b705c1", "8b705c9") and merge.labels() == merge.short_ids
    assert merge.action.startswith("Keep 8b705c9 (most recent); lsm export '8b705c1' --format markdown")
    assert "lsm batch-close 'claude-code:8b705c1*'" in merge.action
    assert merge.session_ids == (f"claude-code:{a}", f"claude-code:{b}")  # JSON keeps full ids


def test_compaction_thrash_means_start_fresh() -> None:
    view = make_view(live(fatal_signals=("compaction_thrash",), compactions=4, context_tokens=90_000))
    (rec,) = recommend([view], cfg(), NOW)
    assert (rec.kind, rec.severity) == ("restart", "critical")
    assert "the agent reported compaction thrash" in rec.reason
    assert "4 compactions so far" in rec.reason
    assert rec.action == (
        "Start a fresh session from a hand-off: lsm export 'abc123' --format markdown"
        " -o handoff-abc123.md, then give the file to a new session"
    )


def test_prompt_too_long_means_start_fresh() -> None:
    (rec,) = recommend([make_view(live(fatal_signals=("prompt_too_long",)))], cfg(), NOW)
    assert rec.kind == "restart" and rec.severity == "critical"
    assert "prompt too long" in rec.reason
    assert rec.action.startswith("Start a fresh session")


def test_many_compactions_and_near_the_point_means_start_fresh() -> None:
    (rec,) = recommend([make_view(live(context_tokens=155_000, compactions=3))], cfg(), NOW)
    assert rec.kind == "restart"
    assert "3 compactions so far" in rec.reason
    assert rec.action.startswith("Start a fresh session")


def test_critical_health_from_errors_means_start_fresh_with_the_factor_reasons() -> None:
    # All 10 recent tool calls failed, one command 5 times, 3 API errors: errors factor 0, score 80,
    # which a strict health band (critical below 90) calls critical.
    strict = copy.deepcopy(DEFAULTS["health"])
    strict["thresholds"] = {"healthy": 95, "warning": 90}
    session = live(recent_tool_results=(True,) * 10, repeated_failures=5, recent_api_errors=3)
    view = make_view(session, health_cfg=strict)
    assert (view.health.score, view.health.status) == (80.0, "critical")
    (rec,) = recommend([view], cfg(), NOW)
    assert (rec.kind, rec.severity) == ("restart", "critical")
    assert "10 of the last 10 tool calls failed" in rec.reason
    assert "one command failed 5 times" in rec.reason
    assert rec.action.startswith("Start a fresh session")


def test_auth_error_means_fix_the_sign_in() -> None:
    (rec,) = recommend([make_view(live(fatal_signals=("auth_error",)))], cfg(), NOW)
    assert (rec.kind, rec.severity) == ("restart", "critical")
    assert "sign-in or billing" in rec.action


@pytest.mark.parametrize(
    ("agent", "window", "context", "expected"),
    [
        ("codex", 272_000, 240_000, "Run /compact"),  # compact point 244,800: 98%
        ("gemini", 1_048_576, 500_000, "Run /compress"),  # compact point 524,288 (50%): 95%
        ("aider", 128_000, 110_000, "Start a fresh session"),  # no compact command: 115,200 -> 95%
    ],
)
def test_compact_command_follows_the_agent(agent: str, window: int, context: int, expected: str) -> None:
    view = make_view(live(agent=agent, context_tokens=context, context_window=window))
    (rec,) = [r for r in recommend([view], cfg(), NOW) if r.kind == "restart"]
    assert rec.action.startswith(expected)


@pytest.mark.parametrize("status", ["ended", "closed", "imported"])
def test_sessions_not_running_get_no_restart(status: str) -> None:
    session = make_session(fatal_signals=("compaction_thrash",), context_tokens=166_000)
    if status == "closed":
        session = replace(session, process=make_process())
    assert recommend([make_view(session, status=status)], cfg(), NOW) == []


# --------------------------------------------------------------------------------------------------
# close idle


def test_idle_session_gets_batch_close() -> None:
    view = make_view(live(last_activity=NOW - timedelta(minutes=90)), status="idle")
    (rec,) = recommend([view], cfg(), NOW)
    assert (rec.kind, rec.severity, rec.session_ids) == ("close_idle", "info", ("claude-code:abc123",))
    assert rec.reason == (
        "1 running session(s) with no activity for 60+ min: abc123 (idle 1 h 30 min, pid 4242)"
    )
    assert rec.action == "lsm batch-close 'claude-code:abc123'"


def test_idle_sessions_are_named_together_longest_first() -> None:
    views = [
        make_view(live("aaa111", 101, last_activity=NOW - timedelta(minutes=61)), status="idle"),
        make_view(live("bbb222", 102, last_activity=NOW - timedelta(days=3)), status="idle"),
        make_view(live("ccc333", 103, last_activity=NOW - timedelta(minutes=59)), status="idle"),
    ]
    (rec,) = recommend(views, cfg(), NOW)
    assert rec.session_ids == ("claude-code:bbb222", "claude-code:aaa111")  # 59 min is under the limit
    assert "idle 3 days" in rec.reason and "idle 1 h 01 min" in rec.reason
    assert rec.action == "lsm batch-close 'claude-code:bbb222' && lsm batch-close 'claude-code:aaa111'"


def test_idle_limit_comes_from_the_config() -> None:
    view = make_view(live(last_activity=NOW - timedelta(minutes=20)), status="idle")
    assert recommend([view], cfg(), NOW) == []
    (rec,) = recommend([view], cfg(idle_close_minutes=15), NOW)
    assert rec.kind == "close_idle" and "15+ min" in rec.reason


@pytest.mark.parametrize("state", ["busy", "waiting"])
def test_busy_or_waiting_process_is_not_idle(state: str) -> None:
    view = make_view(live(last_activity=NOW - timedelta(hours=3), state=state))
    assert [r.kind for r in recommend([view], cfg(), NOW)] == []


def test_recent_state_change_counts_as_activity() -> None:
    proc = make_process(state="idle", state_updated_at=NOW - timedelta(minutes=5))
    session = make_session(last_activity=NOW - timedelta(hours=3), process=proc)
    assert recommend([make_view(session, status="idle")], cfg(), NOW) == []


def test_editor_sessions_and_ended_sessions_are_not_closed() -> None:
    editor = make_view(live(agent="cursor", last_activity=NOW - timedelta(hours=5)), status="idle")
    ended = make_view(make_session(last_activity=NOW - timedelta(hours=5)))
    assert recommend([editor, ended], cfg(), NOW) == []


def test_unreadable_process_is_idle_only_when_it_says_so() -> None:
    # A running agent whose transcript lsm cannot read: "last activity" is only its start time.
    unknown = make_session("pid-77", transcript_paths=(), last_activity=NOW - timedelta(hours=3))
    unknown = replace(unknown, process=make_process(77))
    assert recommend([make_view(unknown, status="idle")], cfg(), NOW) == []
    told = replace(unknown, process=make_process(77, state="idle", state_updated_at=NOW - timedelta(hours=2)))
    (rec,) = recommend([make_view(told, status="idle")], cfg(), NOW)
    assert rec.kind == "close_idle" and rec.session_ids == ("claude-code:pid-77",)
    assert "idle 2 h 00 min" in rec.reason


def test_close_command_matches_exactly_that_id() -> None:
    odd = "claude-code:a[1]*?'x"
    command = close_command(odd)
    (pattern,) = shlex.split(command)[2:]
    assert fnmatch.fnmatchcase(odd, pattern)
    assert not fnmatch.fnmatchcase("claude-code:a1zzz'x", pattern)


# --------------------------------------------------------------------------------------------------
# merge


def test_two_sessions_in_the_same_folder_are_merge_candidates() -> None:
    older = make_view(live("aaa111", 101, project_path="/work/app", last_activity=NOW - timedelta(minutes=9)))
    newer = make_view(
        live("bbb222", 102, project_path="/work/app/", last_activity=NOW - timedelta(minutes=1))
    )
    (rec,) = recommend([older, newer], cfg(), NOW)
    assert (rec.kind, rec.severity) == ("merge", "info")
    assert rec.session_ids == ("claude-code:aaa111", "claude-code:bbb222")
    assert rec.reason == (
        "2 running sessions look like the same work — aaa111 and bbb222:"
        " same project folder /work/app; both on branch main"
    )
    assert rec.action == (
        "Keep bbb222 (most recent); lsm export 'aaa111' --format markdown"
        " -o handoff-aaa111.md && lsm batch-close 'claude-code:aaa111'; then give handoff-aaa111.md to"
        " bbb222"
    )


def git_worktrees(root: Path) -> tuple[str, str, str]:
    """A repository with a second worktree and a subfolder, laid out as git does (no git needed)."""
    main, other = root / "app", root / "app-wt"
    (main / ".git" / "worktrees" / "app-wt").mkdir(parents=True)
    (main / ".git" / "worktrees" / "app-wt" / "commondir").write_text("../..\n", encoding="utf-8")
    other.mkdir()
    (other / ".git").write_text(f"gitdir: {main / '.git' / 'worktrees' / 'app-wt'}\n", encoding="utf-8")
    (main / "src").mkdir()
    return str(main), str(other), str(main / "src")


def test_same_feature_branch_in_two_worktrees(tmp_path: Path) -> None:
    main, other, sub = git_worktrees(tmp_path)
    a = make_view(live("aaa111", 101, project_path=main, git_branch="feat/login"))
    b = make_view(live("bbb222", 102, project_path=other, git_branch="feat/login"))
    repo = os.path.realpath(Path(main) / ".git")
    assert similarity(a, b) == [f"same repository {repo}", "same branch feat/login"]
    assert [r.kind for r in recommend([a, b], cfg(), NOW)] == ["merge"]
    c = make_view(live("ccc333", 103, project_path=sub, git_branch="main"))
    assert similarity(a, c) == [f"same repository {repo}"]  # a subfolder is the same repository


def test_same_branch_in_different_repositories_is_not_a_merge(tmp_path: Path) -> None:
    # The reported case: two repositories with a feature branch of the same name.
    for name in ("shop", "blog"):
        (tmp_path / name / ".git").mkdir(parents=True)
    a = make_view(live("aaa111", 101, project_path=str(tmp_path / "shop"), git_branch="feat/login"))
    b = make_view(live("bbb222", 102, project_path=str(tmp_path / "blog"), git_branch="feat/login"))
    assert similarity(a, b) == []
    assert recommend([a, b], cfg(), NOW) == []
    # Nor does a project name the user gave both, nor the same tags and wording, join two repositories.
    c = make_view(
        live("ccc333", 103, project_path=str(tmp_path / "shop"), title="oauth login redirect"),
        project="web",
        tags=("auth",),
    )
    d = make_view(
        live("ddd444", 104, project_path=str(tmp_path / "blog"), title="oauth login redirect"),
        project="web",
        tags=("auth",),
    )
    assert similarity(c, d) == []


def test_generic_branch_alone_is_not_similar() -> None:
    a = make_view(live("aaa111", 101, project_path="/work/one", git_branch="main"))
    b = make_view(live("bbb222", 102, project_path="/work/two", git_branch="main"))
    assert similarity(a, b) == []


def test_same_project_name_set_by_the_user_when_a_folder_is_unknown() -> None:
    a = make_view(live("aaa111", 101, git_branch=None, project_path=None), project="Billing")
    b = make_view(live("bbb222", 102, git_branch=None, project_path=None), project="billing ")
    assert similarity(a, b) == ["same project 'Billing'"]


def test_overlapping_tags() -> None:
    a = make_view(live("aaa111", 101, git_branch=None, project_path="/w/app"), tags=("auth", "backend"))
    b = make_view(
        live("bbb222", 102, git_branch=None, project_path="/w/app"), tags=("auth", "backend", "urgent")
    )
    assert similarity(a, b) == ["same project folder /w/app", "shared tags auth, backend"]  # 2 of 3
    c = make_view(
        live("ccc333", 103, git_branch=None, project_path="/w/app"), tags=("auth", "frontend", "urgent")
    )
    assert similarity(a, c) == ["same project folder /w/app"]  # 1 of 4 in common


def test_similar_descriptions_and_titles() -> None:
    def at(native: str, pid: int, **changes: Any) -> Session:
        return live(native, pid, git_branch=None, project_path="/w/app", **changes)

    folder = "same project folder /w/app"
    a = make_view(at("aaa111", 101), description="Fix the OAuth login redirect loop")
    b = make_view(at("bbb222", 102), description="oauth login redirect loop on Safari")
    assert similarity(a, b) == [folder, "similar descriptions (shared words: login, loop, oauth, redirect)"]
    c = make_view(at("ccc333", 103, title="add pagination to the users table"))
    d = make_view(at("ddd444", 104, title="users table pagination"))
    assert similarity(c, d) == [folder, "similar titles (shared words: pagination, table, users)"]
    e = make_view(at("eee555", 105, title="write the users guide"))
    assert similarity(c, e) == [folder]  # only "users" in common


def test_placeholder_titles_are_not_compared() -> None:
    title = "(running; transcript not identified)"
    a = make_view(live("pid-1", 101, git_branch=None, title=title, transcript_paths=()))
    b = make_view(live("pid-2", 102, git_branch=None, title=title, transcript_paths=()))
    assert similarity(a, b) == []


def test_unreadable_process_is_not_a_merge_candidate() -> None:
    readable = make_view(live("aaa111", 101, project_path="/w/app"))
    unknown = make_view(live("pid-102", 102, project_path="/w/app", transcript_paths=()))
    assert recommend([readable, unknown], cfg(), NOW) == []


def test_three_look_alikes_are_one_group() -> None:
    views = [
        make_view(live("aaa111", 101, project_path="/w/app", last_activity=NOW - timedelta(minutes=5))),
        make_view(live("bbb222", 102, project_path="/w/app", last_activity=NOW - timedelta(minutes=2))),
        make_view(live("ccc333", 103, project_path="/w/app", last_activity=NOW - timedelta(minutes=8))),
    ]
    (rec,) = recommend(views, cfg(), NOW)
    assert rec.kind == "merge" and len(rec.session_ids) == 3
    assert rec.action.startswith("Keep bbb222 (most recent); ")
    assert "lsm batch-close 'claude-code:aaa111'" in rec.action
    assert "lsm batch-close 'claude-code:ccc333'" in rec.action
    assert rec.action.endswith("then give handoff-aaa111.md, handoff-ccc333.md to bbb222")


def test_ended_sessions_are_not_merge_candidates() -> None:
    running = make_view(live("aaa111", 101, project_path="/w/app"))
    ended = make_view(make_session("bbb222", project_path="/w/app"))
    assert recommend([running, ended], cfg(), NOW) == []


# --------------------------------------------------------------------------------------------------
# usage warnings


def test_context_over_the_warning_level() -> None:
    # 150,000 of 200,000 = 75% of the window (over 70%); 150,000 / 167,000 = 89.8%: not yet "near".
    view = make_view(live(context_tokens=150_000), minutes_to_compact=42.0)
    (rec,) = recommend([view], cfg(), NOW)
    assert (rec.kind, rec.severity) == ("usage_warning", "warning")
    assert rec.reason == (
        "context 150,000 of 200,000 tokens (75.0%) is over the 70% warning level;"
        " ~42 min to the auto-compact point at the current rate"
    )
    assert rec.action == (
        "Finish the current step, then run /compact in that session (hand-off: lsm export"
        " 'abc123' --format markdown -o handoff-abc123.md)"
    )


def test_context_warning_level_comes_from_the_config() -> None:
    view = make_view(live(context_tokens=110_000))  # 55%
    assert recommend([view], cfg(), NOW) == []
    (rec,) = recommend([view], cfg(context_warning_pct=50), NOW)
    assert "over the 50% warning level" in rec.reason


def test_restart_replaces_the_context_warning() -> None:
    recs = recommend([make_view(live(context_tokens=160_000))], cfg(), NOW)
    assert [r.kind for r in recs] == ["restart"]


def test_burn_rate_over_the_limit() -> None:
    view = make_view(live(), burn=60_000.0)
    assert recommend([view], cfg(), NOW) == []  # no limit by default
    (rec,) = recommend([view], cfg(burn_rate_tokens_per_min_limit=50_000), NOW)
    assert (rec.kind, rec.severity) == ("usage_warning", "warning")
    assert rec.reason == "burn rate 60,000 tokens/min is over the limit of 50,000 tokens/min"
    assert rec.action.startswith("Check the session is not looping (lsm health 'abc123')")


def test_cost_per_hour_twice_the_limit_is_critical() -> None:
    view = make_view(live(), cost_per_hour=12.5)
    (rec,) = recommend([view], cfg(cost_per_hour_limit_usd=5), NOW)
    assert (rec.kind, rec.severity) == ("usage_warning", "critical")
    assert rec.reason == "cost $12.50/hour is over the limit of $5.00/hour"


def test_context_rate_and_cost_are_one_warning_per_session() -> None:
    view = make_view(live(context_tokens=145_000), burn=9_000.0, cost_per_hour=6.0)
    config = cfg(burn_rate_tokens_per_min_limit=5_000, cost_per_hour_limit_usd=5)
    (rec,) = recommend([view], config, NOW)
    assert rec.reason.count(";") == 2  # context; burn rate; cost
    assert rec.action.count("; ") == 1  # compact step; check step
    assert rec.magnitude == pytest.approx(9_000 / 5_000)


def test_rates_of_sessions_not_running_are_ignored() -> None:
    view = make_view(make_session(), burn=90_000.0, cost_per_hour=90.0)
    assert recommend([view], cfg(burn_rate_tokens_per_min_limit=1, cost_per_hour_limit_usd=1), NOW) == []


LOCAL = timezone(timedelta(hours=2))
LOCAL_NOW = datetime(2026, 3, 1, 1, 0, tzinfo=LOCAL)  # 2026-02-28 23:00 UTC


def today_view(native: str, cost: float | None, minutes_after_midnight: float, **changes: Any) -> SessionView:
    midnight = datetime(2026, 3, 1, tzinfo=LOCAL)
    at = midnight + timedelta(minutes=minutes_after_midnight)
    changes.setdefault("started_at", at - timedelta(minutes=1))
    return make_view(make_session(native, last_activity=at, **changes), cost=cost)


def test_daily_cost_over_the_limit_in_local_time() -> None:
    views = [
        today_view("aaa111", 6.0, 30),  # 00:30 local = 22:30 UTC the day before: today
        today_view("bbb222", 5.0, 50),
        today_view("ccc333", 100.0, -30),  # 23:30 local yesterday: not today
    ]
    (rec,) = recommend(views, cfg(daily_cost_limit_usd=10), LOCAL_NOW)
    assert (rec.kind, rec.severity) == ("usage_warning", "warning")
    assert rec.session_ids == ("claude-code:aaa111", "claude-code:bbb222")  # costliest first
    assert rec.reason == (
        "$11.00 spent today (since 2026-03-01 00:00 UTC+02:00) across 2 session(s) is over the daily"
        " limit of $10.00; most: aaa111 $6.00, bbb222 $5.00"
    )
    assert rec.action == (
        "See where it went: lsm list --since '2026-03-01T00:00:00+02:00' --sort cost; pause the costliest"
        " sessions, or raise recommend.daily_cost_limit_usd in the config"
    )
    assert rec.magnitude == pytest.approx(1.1)


def test_daily_cost_at_the_limit_is_fine_and_no_limit_means_no_check() -> None:
    views = [today_view("aaa111", 6.0, 30), today_view("bbb222", 4.0, 40)]
    assert recommend(views, cfg(daily_cost_limit_usd=10), LOCAL_NOW) == []
    assert recommend(views, cfg(), LOCAL_NOW) == []


def test_daily_cost_says_when_it_is_an_upper_bound() -> None:
    views = [
        today_view("aaa111", 30.0, 10, started_at=datetime(2026, 2, 27, tzinfo=timezone.utc)),
        today_view("bbb222", None, 20),
        replace(today_view("ccc333", 500.0, 20), session=make_session("ccc333", origin="imported")),
        # A process whose transcript is not identified: its spend is in another row, not "unknown".
        replace(
            today_view("pid-9", None, 20),
            session=make_session("pid-9", transcript_paths=(), process=make_process(9)),
        ),
    ]
    (rec,) = recommend(views, cfg(daily_cost_limit_usd=10), LOCAL_NOW)
    assert rec.severity == "critical"  # 3 times the limit
    assert rec.session_ids == ("claude-code:aaa111",)
    assert "1 of them began before midnight and count in full, so this is an upper bound" in rec.reason
    assert "1 session(s) with an unknown cost are not counted" in rec.reason


def test_small_amounts_keep_four_decimals() -> None:
    views = [today_view("aaa111", 0.05208, 30)]
    (rec,) = recommend(views, cfg(daily_cost_limit_usd=0.05), LOCAL_NOW)
    assert "$0.0521 spent today" in rec.reason and "daily limit of $0.0500" in rec.reason


def test_naive_now_is_utc() -> None:
    views = [make_view(make_session(last_activity=NOW - timedelta(minutes=5)), cost=20.0)]
    (rec,) = recommend(views, cfg(daily_cost_limit_usd=10), NOW.replace(tzinfo=None))
    assert "since 2026-03-01 00:00 UTC" in rec.reason


# --------------------------------------------------------------------------------------------------
# ranking and JSON


def test_ranked_by_severity_then_kind_then_magnitude() -> None:
    views = [
        make_view(live("idle01", 101, last_activity=NOW - timedelta(hours=2)), status="idle"),
        make_view(live("merge1", 102, project_path="/w/m")),
        make_view(live("merge2", 103, project_path="/w/m")),
        make_view(live("ctx001", 104, context_tokens=145_000)),  # usage warning
        make_view(live("near01", 105, context_tokens=152_000)),  # restart warning
        make_view(live("full01", 106, context_tokens=162_000)),  # restart critical, health 39
        make_view(live("thrash", 107, fatal_signals=("compaction_thrash",))),  # restart critical, fatal
        make_view(live("burn01", 108), burn=300_000.0),  # usage critical (3x)
    ]
    recs = recommend(views, cfg(burn_rate_tokens_per_min_limit=100_000), NOW)
    assert kinds(recs) == [
        ("restart", "critical", ("claude-code:thrash",)),  # fatal outranks a lower score
        ("restart", "critical", ("claude-code:full01",)),
        ("usage_warning", "critical", ("claude-code:burn01",)),
        ("restart", "warning", ("claude-code:near01",)),
        ("usage_warning", "warning", ("claude-code:ctx001",)),
        ("close_idle", "info", ("claude-code:idle01",)),
        ("merge", "info", ("claude-code:merge1", "claude-code:merge2")),
    ]


def test_rank_is_stable_on_ties() -> None:
    a = Recommendation("close_idle", "info", ("b",), "r", "a", 1.0)
    b = Recommendation("close_idle", "info", ("a",), "r", "a", 1.0)
    assert rank([a, b]) == [b, a]


def test_json_shape() -> None:
    rec = Recommendation("merge", "info", ("x:1", "x:2"), "why", "do", 2.5)
    assert rec.as_json() == {
        "kind": "merge",
        "severity": "info",
        "session_ids": ["x:1", "x:2"],
        "reason": "why",
        "action": "do",
    }


def test_export_command_is_a_real_export_invocation() -> None:
    assert shlex.split(export_command("codex:0199a1b2-x", "0199a1b2-x")) == [
        "lsm",
        "export",
        "codex:0199a1b2-x",
        "--format",
        "markdown",
        "-o",
        "handoff-0199a1b2.md",
    ]


# --------------------------------------------------------------------------------------------------
# the command on a fake HOME


def write_transcript(
    fake_home: FakeHome, project: Path, sid: str, *, cache_read: int = 5_000, prompt: str = "add a login page"
) -> None:
    """A Claude Code transcript written now: one prompt and one reply (context = 10 + 1000 + cache_read)."""
    write_claude_transcript(fake_home.projects, project, sid, cache_read=cache_read, prompt=prompt)


def test_cli_fixture_home_has_nothing_to_recommend(fake_home: FakeHome) -> None:
    table = fake_home.run("recommend")
    assert table.returncode == 0, table.stderr
    assert table.stdout == "No recommendations: 0 running session(s), nothing needs attention.\n"
    assert "process discovery is off" in table.stderr
    as_json = fake_home.run("recommend", "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    assert json.loads(as_json.stdout) == []


def test_cli_daily_cost_warning_from_the_config(fake_home: FakeHome, tmp_path: Path) -> None:
    sid = "7d3e9a10-1111-4222-8333-444455556666"
    write_transcript(fake_home, tmp_path / "work" / "shop", sid)
    config = tmp_path / "lsm.yaml"
    config.write_text("recommend:\n  daily_cost_limit_usd: 0.0001\n", encoding="utf-8")
    r = fake_home.run("recommend", "--format", "json", LSM_CONFIG=str(config))
    assert r.returncode == 0, r.stderr
    (rec,) = json.loads(r.stdout)
    assert set(rec) == {"kind", "severity", "session_ids", "reason", "action"}
    assert rec["kind"] == "usage_warning" and rec["severity"] == "critical"
    assert rec["session_ids"] == [f"claude-code:{sid}"]
    assert "over the daily limit of $0.0001" in rec["reason"]
    # Filters keep advice naming a matching session only.
    assert json.loads(
        fake_home.run("recommend", "-f", "json", "--project", "shop", LSM_CONFIG=str(config)).stdout
    )
    assert (
        json.loads(
            fake_home.run("recommend", "-f", "json", "--agent", "codex", LSM_CONFIG=str(config)).stdout
        )
        == []
    )
    table = fake_home.run("recommend", LSM_CONFIG=str(config))
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0] == f"1. CRITICAL usage warning  {sid[:6]}"  # the shortest unique prefix
    assert lines[1].startswith("   why: $") and lines[2].startswith(
        "   do:  See where it went: lsm list --since"
    )
    assert lines[-1] == "1 recommendation(s): 1 critical."


def test_cli_bad_config_and_bad_format(fake_home: FakeHome, tmp_path: Path) -> None:
    config = tmp_path / "lsm.yaml"
    config.write_text("recommend:\n  idle_close_minutes: soon\n", encoding="utf-8")
    r = fake_home.run("recommend", LSM_CONFIG=str(config))
    assert r.returncode == 1
    assert r.stderr == f"lsm: error: {config}: 'recommend.idle_close_minutes' must be a number, got 'soon'\n"
    r = fake_home.run("recommend", "--format", "xml")
    assert r.returncode == 2 and "unknown format 'xml'" in r.stderr


# --------------------------------------------------------------------------------------------------
# end to end: a running fake agent


@pytest.fixture
def running_claude(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """A process whose argv[0] is `claude`, running in a project dir, started by this test."""
    if not sys.platform.startswith("linux"):
        pytest.skip("process discovery of the fake agent relies on /proc")
    project = tmp_path / "work" / "my_app"
    with running_agent(tmp_path / "bin", project) as proc:
        yield proc, project


def test_running_idle_agent_gets_close_idle_and_the_action_works(
    fake_home: FakeHome, tmp_path: Path, running_claude: tuple[subprocess.Popen[bytes], Path]
) -> None:
    proc, project = running_claude
    sid = "5f0c2b1e-8d4a-4c1b-9e7f-123456789abc"
    time.sleep(0.05)
    write_transcript(fake_home, project, sid)  # written after the process started: linked by cwd
    config = tmp_path / "lsm.yaml"
    config.write_text(
        "idle_minutes: 0.005\nrecommend:\n  idle_close_minutes: 0.01\n", encoding="utf-8"
    )  # 0.6 s
    time.sleep(1.0)
    r = fake_home.run("recommend", "--format", "json", LSM_DISCOVERY="on", LSM_CONFIG=str(config))
    assert r.returncode == 0, r.stderr
    recs = json.loads(r.stdout)
    mine = [rec for rec in recs if f"claude-code:{sid}" in rec["session_ids"]]
    assert [rec["kind"] for rec in mine] == ["close_idle"]
    (rec,) = mine
    assert rec["severity"] == "info"
    assert re.search(rf"{sid[:6]} \(idle \d+ s, pid {proc.pid}\)", rec["reason"]), rec["reason"]
    assert f"lsm batch-close 'claude-code:{sid[:6]}*'" in rec["action"]  # a prefix only it has
    # The advice is a real command: run it (with --force, as there is no terminal) and the agent ends.
    (command,) = [c for c in rec["action"].split(" && ") if sid[:6] in c]
    argv = shlex.split(command)
    assert argv[:2] == ["lsm", "batch-close"]
    done = fake_home.run(*argv[1:], "--force", LSM_DISCOVERY="on", LSM_CONFIG=str(config))
    assert done.returncode == 0, done.stderr
    assert f"claude-code:{sid} (pid {proc.pid}): terminated" in done.stdout
    assert proc.wait(timeout=10) is not None
    after = fake_home.run("recommend", "--format", "json", LSM_DISCOVERY="on", LSM_CONFIG=str(config))
    assert not [x for x in json.loads(after.stdout) if f"claude-code:{sid}" in x["session_ids"]]


def test_running_agent_near_its_compact_point_gets_restart(
    fake_home: FakeHome, tmp_path: Path, running_claude: tuple[subprocess.Popen[bytes], Path]
) -> None:
    _proc, project = running_claude
    sid = "6a1d3c2f-9e5b-4d2c-8f80-23456789abcd"
    time.sleep(0.05)
    write_transcript(fake_home, project, sid, cache_read=160_000)  # context 161,010 of 167,000: 96%
    r = fake_home.run("recommend", "--format", "json", LSM_DISCOVERY="on")
    assert r.returncode == 0, r.stderr
    mine = [rec for rec in json.loads(r.stdout) if f"claude-code:{sid}" in rec["session_ids"]]
    assert [(rec["kind"], rec["severity"]) for rec in mine] == [("restart", "critical")]
    assert "context 161,010 tokens = 96% of the auto-compact point (167,000)" in mine[0]["reason"]
    assert mine[0]["action"].startswith("Run /compact in that session")
    # The hand-off in the advice is a real command: it writes the Markdown file it names.
    match = re.search(r"lsm export '[^']+' --format markdown -o (\S+\.md)", mine[0]["action"])
    assert match is not None
    done = fake_home.run(*shlex.split(match.group(0))[1:], LSM_DISCOVERY="on")
    assert done.returncode == 0, done.stderr
    handoff = (fake_home.home / match.group(1)).read_text(encoding="utf-8")
    assert match.group(1) == "handoff-6a1d3c2f.md" and sid in handoff
