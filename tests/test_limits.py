"""Official plan limits (`lsm limits`), the budget they leave (`lsm budget`, exit 0/10/11), staleness and
projections, from Claude Code's statusline input and Codex's logs."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeHome
from test_agent_codex import install as install_codex
from test_statusline import fresh, payloads, run_statusline

from llm_session_manager import limits
from llm_session_manager.limits import Observation, budgets, current_limits, exit_code
from llm_session_manager.store import db, observations

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)


def obs(
    used: float,
    minutes_ago: float = 0,
    window: str = "5h",
    resets_in: float | None = 120,
    agent: str = "claude-code",
) -> Observation:
    resets = NOW + timedelta(minutes=resets_in) if resets_in is not None else None
    return Observation(agent, window, used, resets, NOW - timedelta(minutes=minutes_ago), "statusline", "s1")


# ---------------------------------------------------------------------------------------------------
# The rules


def test_stale_once_the_window_has_reset() -> None:
    assert limits.is_stale(obs(50, resets_in=-1), NOW)
    assert not limits.is_stale(obs(50, resets_in=1), NOW)
    # No reset time: stale once older than the window itself.
    assert limits.is_stale(obs(50, minutes_ago=301, resets_in=None), NOW)
    assert not limits.is_stale(obs(50, minutes_ago=299, resets_in=None), NOW)
    (limit,) = current_limits([obs(50, resets_in=-1)], NOW)
    assert limit.stale and limit.projected_full_at is None and limit.burn_percent_per_hour is None


def test_recent_burn_projects_the_time_to_full() -> None:
    # 40% -> 50% in 20 minutes: 30 points an hour, 50 left: 100 minutes, before the reset in 120.
    (limit,) = current_limits([obs(40, minutes_ago=20), obs(50)], NOW)
    assert limit.projection_basis == "recent" and limit.burn_percent_per_hour == pytest.approx(30)
    assert limit.projected_full_at == NOW + timedelta(minutes=100)


def test_no_projection_when_the_window_resets_first() -> None:
    (limit,) = current_limits([obs(40, minutes_ago=20, resets_in=30), obs(42, resets_in=30)], NOW)
    assert limit.burn_percent_per_hour == pytest.approx(6) and limit.projected_full_at is None


def test_window_average_when_there_is_one_figure() -> None:
    # The 5 h window began 3 h ago (it resets in 2 h): 60% in 3 h is 20 points an hour, 40 left: 2 h,
    # which is when it resets, so no run-out before the reset.
    (limit,) = current_limits([obs(60)], NOW)
    assert limit.projection_basis == "window_average" and limit.burn_percent_per_hour == pytest.approx(20)
    assert limit.projected_full_at is None
    (limit,) = current_limits([obs(90)], NOW)  # 30 an hour: full in 20 minutes
    assert limit.projected_full_at == NOW + timedelta(minutes=20)


def test_only_the_same_window_counts_for_the_recent_burn() -> None:
    before_reset = obs(90, minutes_ago=10, resets_in=-5)  # the previous window's last figure
    (limit,) = current_limits([before_reset, obs(5, resets_in=295)], NOW)
    assert limit.projection_basis == "window_average"


def test_codex_weekly_is_7d() -> None:
    assert limits.window_name("weekly", 10080) == "7d" and limits.window_name("primary", 300) == "5h"
    assert limits.window_name("secondary", 60) == "secondary"


@pytest.mark.parametrize(("used", "status", "code"), [(42, "ok", 0), (80, "near", 10), (100, "reached", 11)])
def test_budget_status_and_exit_code(used: float, status: str, code: int) -> None:
    items = budgets(current_limits([obs(used), obs(17, window="7d", resets_in=5000)], NOW), 80, NOW)
    claude = items[0]
    assert claude.agent == "claude-code" and claude.status == status
    assert exit_code(items) == code
    assert claude.binding is not None and claude.binding.observation.window == "5h"
    doc = limits.budget_document(items, 80, NOW)
    assert doc["status"] == status and doc["exit_code"] == code
    assert doc["agents"][0]["left_percent"] == max(0, 100 - used)
    assert doc["agents"][0]["resets_in_seconds"] == 7200
    assert [a["agent"] for a in doc["agents"]] == ["claude-code", "codex"]
    assert doc["agents"][1]["status"] == "unknown"


def test_budget_ignores_stale_figures() -> None:
    items = budgets(current_limits([obs(100, resets_in=-1)], NOW), 80, NOW)
    assert items[0].status == "unknown" and exit_code(items) == 0


def test_budget_warns_of_a_run_out_before_the_reset() -> None:
    (claude, _codex) = budgets(current_limits([obs(40, minutes_ago=20), obs(50)], NOW), 80, NOW)
    assert claude.status == "ok" and claude.runs_out_at == NOW + timedelta(minutes=100)
    assert "runs out in 1h 40m" in claude.suggestion


# ---------------------------------------------------------------------------------------------------
# The spool


def test_compaction_moves_lines_and_skips_bad_ones(tmp_path: Path) -> None:
    spool = tmp_path / "statusline.jsonl"
    now = time.time()
    good = {"t": now, "sid": "s", "model": "m", "ctx_tokens": 5, "ctx_window": 10, "ctx_pct": 50.0}
    good |= {"cost": 0.5, "limits": [["5h", 42.0, now + 60]]}
    old = dict(good, t=now - 9 * 86400)
    spool.write_text(
        "\n".join([json.dumps(good), "not json", '{"t": "x"}', json.dumps(old), '{"t": 1, "limits": [[1]]}'])
        + "\n",
        encoding="utf-8",
    )
    left = tmp_path / "statusline.jsonl.compacting-1-2"  # a crash's leftover is picked up too
    left.write_text(json.dumps(dict(good, t=now - 1)) + "\n", encoding="utf-8")
    conn = db.connect(tmp_path / "lsm.db")
    result = observations.compact(conn, tmp_path, now)
    assert (result.lines, result.bad_lines) == (3, 3)
    assert sorted(p.name for p in tmp_path.iterdir() if "statusline" in p.name) == ["statusline.recent.jsonl"]
    recent = [
        json.loads(line)["t"] for line in (tmp_path / "statusline.recent.jsonl").read_text().splitlines()
    ]
    assert recent == [now - 1, now]  # the last half hour, oldest first; the 9-day-old line is not kept
    found = observations.observations(conn)
    assert [(o.window, o.used_percent, o.source) for o in found] == [
        ("5h", 42.0, "statusline")
    ] * 2  # old dropped
    samples = conn.execute("SELECT session_id, context_tokens, cost_usd FROM statusline_samples").fetchall()
    assert samples == [("s", 5, 0.5), ("s", 5, 0.5)]


# ---------------------------------------------------------------------------------------------------
# The commands


def lsm(fh: FakeHome, *args: str) -> Any:
    r = fh.run(*args, "--format", "json")
    return r.returncode, json.loads(r.stdout) if r.stdout else None


def test_limits_empty(fake_home: FakeHome) -> None:
    assert lsm(fake_home, "limits") == (0, [])
    r = fake_home.run("limits")
    assert r.returncode == 0 and "No official limits recorded yet" in r.stdout


@pytest.mark.parametrize(("five", "code", "status"), [(42, 0, "ok"), (85, 10, "near"), (100, 11, "reached")])
def test_budget_exit_codes_after_statusline(fake_home: FakeHome, five: float, code: int, status: str) -> None:
    assert run_statusline(fake_home, fresh(payloads()[2], five=five)).returncode == 0
    returncode, doc = lsm(fake_home, "budget", "--agent", "claude")
    assert returncode == code and doc["status"] == status and doc["exit_code"] == code
    (claude,) = doc["agents"]
    assert claude["agent"] == "claude-code" and claude["window"] == "5h"
    assert claude["left_percent"] == 100 - five
    assert 3 * 3600 - 120 <= claude["resets_in_seconds"] <= 3 * 3600
    table = fake_home.run("budget")
    assert table.returncode == code and status in table.stdout


def test_near_threshold_from_config(fake_home: FakeHome) -> None:
    config = fake_home.home / "config.yaml"
    config.write_text("budget:\n  near_percent: 40\n", encoding="utf-8")
    run_statusline(fake_home, fresh(payloads()[2]))
    r = fake_home.run("budget", "-f", "json", LSM_CONFIG=str(config))
    assert r.returncode == 10 and json.loads(r.stdout)["near_percent"] == 40


def test_stale_after_the_reset(fake_home: FakeHome) -> None:
    """The capture's own payload, replayed after its windows reset: shown as stale, no budget from it."""
    now = time.time()
    payload = fresh(payloads()[2], now=now - 6 * 3600)  # the 5 h window reset 3 h ago
    run_statusline(fake_home, payload)
    _, items = lsm(fake_home, "limits")
    stale = {i["window"]: i["stale"] for i in items}
    assert stale == {"5h": True, "7d": False}
    code, doc = lsm(fake_home, "budget")
    assert code == 0 and doc["agents"][0]["window"] == "7d"


def _codex_rollout(home: Path, used: float, resets_at: float, at: str) -> None:
    sid = "0199e2f0-0000-7000-8000-0000000000aa"
    path = home / ".codex" / "sessions" / "2026" / "12" / "04" / f"rollout-2026-12-04T10-00-00-{sid}.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    limits_doc = {
        "primary": {"used_percent": used, "window_minutes": 300, "resets_at": resets_at},
        "secondary": {"used_percent": 7.0, "window_minutes": 10080, "resets_at": resets_at + 86400},
    }
    lines = [
        {
            "timestamp": at,
            "type": "session_meta",
            "payload": {"id": sid, "cwd": "/tmp", "cli_version": "0.171.0"},
        },
        {
            "timestamp": at,
            "type": "event_msg",
            "payload": {"type": "token_count", "info": None, "rate_limits": limits_doc},
        },
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")


def test_codex_limits_from_its_logs(fake_home: FakeHome) -> None:
    install_codex(fake_home.home / ".codex")  # the 0.53 fixture: limits from 2025, long reset
    _, items = lsm(fake_home, "limits", "--agent", "codex")
    assert {(i["window"], i["stale"], i["source"]) for i in items} == {
        ("5h", True, "codex-log"),
        ("7d", True, "codex-log"),
    }
    code, doc = lsm(fake_home, "budget", "--agent", "codex")
    assert code == 0 and doc["agents"][0]["status"] == "unknown"
    now = datetime.now(timezone.utc)
    at = (now - timedelta(minutes=5)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    _codex_rollout(fake_home.home, 91.0, now.timestamp() + 3600, at)
    _, items = lsm(fake_home, "limits", "--agent", "codex")
    fresh_items = [i for i in items if not i["stale"]]
    assert {(i["window"], i["used_percent"]) for i in fresh_items} == {("5h", 91.0), ("7d", 7.0)}
    assert all(i["source"] == "codex-log" and i["agent"] == "codex" for i in items)
    assert {i["observed_at"] for i in fresh_items} == {at.replace(".000Z", "Z")}
    assert len(items) == 2  # only the latest figure of each window
    code, doc = lsm(fake_home, "budget", "--agent", "codex")
    assert code == 10 and doc["agents"][0]["status"] == "near" and doc["agents"][0]["left_percent"] == 9


def test_schema_upgrade_keeps_the_tables(tmp_path: Path) -> None:
    conn = db.connect(tmp_path / "lsm.db")
    names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"limit_observations", "statusline_samples"} <= names
    with pytest.raises(sqlite3.IntegrityError):
        conn.execute("INSERT INTO limit_observations VALUES ('a', NULL, 1, NULL, 1, 's', NULL)")


# ---------------------------------------------------------------------------------------------------
# MCP: the same document


def _without_clock(doc: dict[str, Any]) -> dict[str, Any]:
    for agent in doc["agents"]:
        agent.pop("resets_in_seconds")
        agent["suggestion"] = agent["suggestion"].split(" (resets in")[0]
    return doc


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_mcp_get_budget_and_resource_are_lsm_budget(
    fake_home: FakeHome, monkeypatch: pytest.MonkeyPatch, anyio_backend: str
) -> None:
    from test_mcp_server import call, call_error, connect, read

    monkeypatch.setenv("LSM_DISCOVERY", "off")
    run_statusline(fake_home, fresh(payloads()[2], five=85))
    code, cli = lsm(fake_home, "budget")
    assert code == 10
    async with connect() as c:
        tool = await call(c, "get_budget")
        only = await call(c, "get_budget", agent="claude-code")
        resource = json.loads(await read(c, "limits://budget"))
        assert "agent" in await call_error(c, "get_budget", agent="gemini")
    assert _without_clock(tool) == _without_clock(cli) == _without_clock(resource)
    assert tool["status"] == "near" and tool["exit_code"] == 10
    assert [a["agent"] for a in only["agents"]] == ["claude-code"]


def test_doctor_repair_keeps_the_recorded_limits(fake_home: FakeHome) -> None:
    """Claude Code's figures exist nowhere else once shown: a rebuilt database keeps them."""
    run_statusline(fake_home, fresh(payloads()[2]))
    before = lsm(fake_home, "limits")[1]
    with sqlite3.connect(fake_home.lsm_home / "lsm.db") as conn:
        conn.execute("DROP TABLE token_cache")  # damage: a missing table makes --repair rebuild
    r = fake_home.run("doctor", "--repair")
    assert r.returncode == 0 and "repaired" in r.stdout + r.stderr, r.stdout + r.stderr
    assert lsm(fake_home, "limits")[1] == before and len(before) == 2


# ---------------------------------------------------------------------------------------------------
# The monitor's header


def test_monitor_header_shows_the_limits_and_a_new_sample_refreshes(
    fake_home: FakeHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    from io import StringIO

    from rich.console import Console

    from llm_session_manager.config import DEFAULTS
    from llm_session_manager.paths import resolve
    from llm_session_manager.scan import ScanStats
    from llm_session_manager.service import Collected
    from llm_session_manager.tui.render import ViewState, render
    from llm_session_manager.tui.snapshot import Refresher

    monkeypatch.setenv("LSM_DISCOVERY", "off")
    run_statusline(fake_home, fresh(payloads()[2], five=85))

    def collect_fn(*_args: Any, **_kw: Any) -> Collected:
        return Collected([], {"claude-code": ScanStats()})

    refresher = Refresher(resolve(), DEFAULTS, collect_fn=collect_fn)
    try:
        snap = refresher.refresh()
        assert [(lim.observation.window, lim.observation.used_percent) for lim in snap.limits] == [
            ("5h", 85.0),
            ("7d", 17.0),
        ]
        out = StringIO()
        Console(file=out, width=160, height=30, color_system=None).print(render(snap, ViewState()))
        # The meters: each window's bar, share and time to its reset (the monitor's header layout).
        assert re.search(r"Limits: claude 5h [█░]{8} 85% ↻\d+h \d+m +7d [█░]{8} 17% ↻\d+d", out.getvalue())
        assert refresher.reason(snap.time) is None
        run_statusline(fake_home, fresh(payloads()[2], five=86))
        assert refresher.reason(snap.time) == "changed"
    finally:
        refresher.close()


def test_an_agent_without_limits_is_a_usage_error(fake_home: FakeHome) -> None:
    for command in ("limits", "budget"):
        r = fake_home.run(command, "--agent", "gemini")
        assert r.returncode == 2 and "reports no official limits" in r.stderr
        assert fake_home.run(command, "--agent", "nope").returncode == 2
