"""Burn rate, cost per hour and time to compaction: by hand, and end to end on a running session."""

from __future__ import annotations

import json
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import FakeHome
from test_running_sessions import SID, running_claude, write_status  # noqa: F401

from llm_session_manager.agents.claude_code import encode_project_dir
from llm_session_manager.burn import burn_rates, minutes_to_compact
from llm_session_manager.models import Process, Session, TokenUsage
from llm_session_manager.pricing import ModelTable

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=timezone.utc)
SONNET = "claude-sonnet-4-5"


def session(
    buckets: tuple = (), series: tuple = (), ctx: int | None = None, running: bool = False
) -> Session:
    proc = Process(1, "claude-code", "/w", NOW, 0.0, 1) if running else None
    return Session(
        id="claude-code:s",
        agent="claude-code",
        native_id="s",
        title=None,
        project_path="/w",
        git_branch=None,
        model=SONNET,
        models=(SONNET,),
        started_at=NOW,
        last_activity=NOW,
        tokens=TokenUsage(),
        context_tokens=ctx,
        context_window=None,
        context_window_source="",
        messages_user=0,
        messages_assistant=0,
        tool_calls=0,
        tool_errors=0,
        api_errors=0,
        interruptions=0,
        compactions=0,
        skipped_lines=0,
        transcript_paths=(),
        usage_buckets=buckets,
        context_series=series,
        process=proc,
    )


def minute(delta_min: float) -> int:
    return int((NOW.timestamp() - delta_min * 60) // 60)


def test_burn_rate_and_cost_per_hour() -> None:
    # 10 minutes ago: 1,000 in + 500 out; 20 minutes ago: 100,000 cache reads; 45 minutes ago: outside.
    buckets = (
        (minute(45), SONNET, 999_999, 0, 0, 0),
        (minute(20), SONNET, 0, 0, 0, 100_000),
        (minute(10), SONNET, 1_000, 500, 0, 0),
    )
    tokens_per_min, usd_per_hour = burn_rates(session(buckets), ModelTable(), NOW)
    assert tokens_per_min == pytest.approx((1_000 + 500 + 100_000) / 30, abs=0.1)
    # cost in the window: 1,000 x $3/M + 500 x $15/M + 100,000 x $0.30/M = 0.003 + 0.0075 + 0.03 = $0.0405
    assert usd_per_hour == pytest.approx(0.0405 * 2, abs=1e-4)


def test_no_recent_usage_is_none_not_zero() -> None:
    assert burn_rates(session(((minute(90), SONNET, 5, 5, 5, 5),)), ModelTable(), NOW) == (None, None)


def test_unknown_model_has_rate_but_no_cost() -> None:
    rate, cost = burn_rates(session(((minute(5), "mystery-model", 300, 0, 0, 0),)), ModelTable(), NOW)
    assert rate == 10.0 and cost is None


def test_minutes_to_compact() -> None:
    t = NOW.timestamp()
    # 60,000 -> 100,000 tokens over 20 minutes = 2,000 tokens/min; 67,000 left to 167,000 -> 33.5 min.
    series = ((int(t - 1200), 60_000), (int(t - 600), 80_000), (int(t), 100_000))
    assert minutes_to_compact(session(series=series, ctx=100_000, running=True), 167_000, NOW) == 33.5
    assert minutes_to_compact(session(series=series, ctx=100_000, running=False), 167_000, NOW) is None
    shrinking = ((int(t - 600), 90_000), (int(t), 20_000))
    assert minutes_to_compact(session(series=shrinking, ctx=20_000, running=True), 167_000, NOW) is None
    assert minutes_to_compact(session(series=series[-1:], ctx=100_000, running=True), 167_000, NOW) is None


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc for procStart")
def test_running_session_shows_burn_and_projection(
    fake_home: FakeHome,
    running_claude: tuple[int, Path],  # noqa: F811
) -> None:
    pid, project = running_claude
    folder = fake_home.projects / encode_project_dir(str(project))
    folder.mkdir(parents=True)
    now = datetime.now(timezone.utc)
    lines = []
    for i, ctx in enumerate((40_000, 60_000, 80_000, 100_000)):
        ts = (now - timedelta(minutes=9 - 3 * i)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        lines.append(
            {
                "type": "user",
                "sessionId": SID,
                "cwd": str(project),
                "timestamp": ts,
                "message": {"role": "user", "content": f"step {i}"},
            }
        )
        lines.append(
            {
                "type": "assistant",
                "sessionId": SID,
                "cwd": str(project),
                "timestamp": ts,
                "requestId": f"r{i}",
                "message": {
                    "id": f"m{i}",
                    "model": "claude-sonnet-4-5-20250929",
                    "content": [{"type": "text", "text": "ok"}],
                    "usage": {
                        "input_tokens": 0,
                        "output_tokens": 100,
                        "cache_creation_input_tokens": 0,
                        "cache_read_input_tokens": ctx,
                    },
                },
            }
        )
    (folder / f"{SID}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    write_status(fake_home, pid, project, "busy")
    r = fake_home.run("list", "--format", "json", LSM_DISCOVERY="on")
    assert r.returncode == 0, r.stderr
    s = {o["native_id"]: o for o in json.loads(r.stdout)}[SID]
    assert s["burn_rate_tokens_per_min"] == pytest.approx(
        (40_000 + 60_000 + 80_000 + 100_000 + 400) / 30, abs=0.1
    )
    assert s["cost_per_hour_usd"] > 0
    # 60,000 tokens of growth over 9 minutes; 67,000 left to the compact point of 167,000.
    assert s["minutes_to_compact"] == pytest.approx(67_000 / (60_000 / 9), abs=0.2)
