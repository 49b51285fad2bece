"""Print the monitor's screen at 80x24, 120x40, 200x50 and 250x60 (docs/DASHBOARD_FEATURES.md shows them).

    .venv/bin/python manual_tests/monitor_screens.py [--width W --height H]

The sessions are a made-up fleet (seven agents, three running, one with a hostile title), built as the
readers would build them and passed through the real derive / build_snapshot / render: health, cost,
burn rates, today's spend by reply time, recommendations and limit meters are all computed, not typed
in. The clock is fixed, so the output is the same on every run; tests/test_monitor_render.py checks it.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
from datetime import datetime, timedelta, timezone
from io import StringIO
from typing import Any

from llm_session_manager.config import DEFAULTS
from llm_session_manager.limits import Observation, current_limits
from llm_session_manager.models import ModelTokens, Process, Session, TokenUsage
from llm_session_manager.pricing import ModelTable
from llm_session_manager.scan import ScanStats
from llm_session_manager.service import Collected, derive
from llm_session_manager.tui.render import ViewState, render
from llm_session_manager.tui.snapshot import Snapshot, build_snapshot

NOW = datetime(2026, 12, 4, 15, 30, tzinfo=timezone.utc)
SIZES = ((80, 24), (120, 40), (200, 50), (250, 60))
CFG: dict[str, Any] = copy.deepcopy(DEFAULTS)
HOSTILE = "[bold red]pwned[/] \x1b[2J\x1b]52;c;ZXZpbA==\x07 rm -rf ~"


def _minute(at: datetime) -> int:
    return int(at.timestamp() // 60)


def _session(
    native: str,
    agent: str,
    title: str,
    project: str,
    model: str,
    *,
    started: float,  # hours before NOW
    last: float,  # minutes before NOW
    context: int | None,
    replies: list[tuple[float, int, int, int, int]],  # (minutes before NOW, in, out, cache write, cache read)
    state: str | None = None,  # the running process's state; None: not running
    pid: int = 0,
) -> Session:
    """A session as a reader returns it: totals, per-minute buckets and history from its replies."""
    history = tuple(
        sorted((_minute(NOW - timedelta(minutes=m)), model, i, o, cw, cr, 0) for m, i, o, cw, cr in replies)
    )
    last_at = NOW - timedelta(minutes=last)
    recent = tuple(b[:6] for b in history if b[0] >= _minute(last_at) - 60)
    tokens = TokenUsage(*(sum(r[k] for r in replies) for k in range(1, 5)))
    proc = None
    if state is not None:
        started_at = NOW - timedelta(hours=started)
        proc = Process(
            pid, agent, project, started_at, 3.0, 200_000_000, state=state, state_updated_at=last_at
        )
    return Session(
        id=f"{agent}:{native}",
        agent=agent,
        native_id=native,
        title=title,
        project_path=project,
        git_branch="main",
        model=model,
        models=(model,),
        started_at=NOW - timedelta(hours=started),
        last_activity=last_at,
        tokens=tokens,
        model_usage=(
            ModelTokens(model, *(tokens.input, tokens.output, tokens.cache_creation, tokens.cache_read)),
        ),
        context_tokens=context,
        context_window=None,
        context_window_source="",
        messages_user=len(replies),
        messages_assistant=len(replies),
        tool_calls=3 * len(replies),
        tool_errors=1,
        api_errors=0,
        interruptions=0,
        compactions=0,
        skipped_lines=0,
        transcript_paths=(f"/home/dev/.{agent}/sessions/{native}.jsonl",),
        recent_tool_results=(False, False, True, False),
        usage_buckets=recent,
        usage_history=history,
        process=proc,
    )


def _burst(first: float, count: int, every: float, size: int) -> list[tuple[float, int, int, int, int]]:
    """``count`` replies, ``every`` minutes apart from ``first`` minutes ago, growing in cache reads."""
    return [(first - k * every, 40, 600, 2_000, size + 3_000 * k) for k in range(count)]


def demo_sessions() -> list[Session]:
    sonnet, gpt, gemini = "claude-sonnet-4-5-20250929", "gpt-5-codex", "gemini-2.5-pro"
    return [
        _session(
            "5f0c2b1e-8d4a-4c1b-9e7f-123456789abc",
            "claude-code",
            "add OAuth login to the web app",
            "/home/dev/src/web-app",
            sonnet,
            started=20,
            last=0.5,
            context=151_000,
            state="busy",
            pid=4242,
            # yesterday evening, then this afternoon: only today's replies count in "Today"
            replies=[(17 * 60, 10, 300, 5_000, 20_000), *_burst(29, 14, 2, 90_000)],
        ),
        _session(
            "019a7c44-3b2e-7d10-a9c4-5e6f7a8b9c0d",
            "codex",
            "migrate the billing service to Postgres 17",
            "/home/dev/src/billing",
            gpt,
            started=2,
            last=3,
            context=96_000,
            state="waiting",
            pid=4300,
            replies=_burst(28, 6, 4, 40_000),
        ),
        _session(
            "b7e4c2d1-0f9a-4e8b-8c7d-6e5f4a3b2c1d",
            "gemini",
            "write integration tests for the API",
            "/home/dev/src/api",
            gemini,
            started=1,
            last=25,
            context=30_000,
            state="idle",
            pid=4400,
            replies=_burst(40, 3, 5, 12_000),
        ),
        _session(
            "a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d",
            "claude-code",
            "fix the flaky CI job on main",
            "/home/dev/src/web-app",
            sonnet,
            started=6,
            last=190,
            context=60_000,
            replies=_burst(200, 5, 3, 30_000),
        ),
        _session(
            "c0ffee00-1111-4222-8333-444455556666",
            "cursor-agent",
            HOSTILE,
            "/home/dev/src/tools",
            "claude-sonnet-4-5-20250929",
            started=30,
            last=26 * 60,
            context=20_000,
            replies=_burst(26 * 60, 2, 10, 10_000),
        ),
        _session(
            "d00dfeed-2222-4333-8444-555566667777",
            "copilot-cli",
            "bump dependencies",
            "/home/dev/src/api",
            "gpt-5",
            started=80,
            last=3 * 24 * 60,
            context=8_000,
            replies=_burst(3 * 24 * 60, 2, 5, 4_000),
        ),
        _session(
            "e1e1e1e1-3333-4444-8555-666677778888",
            "aider",
            "refactor the CLI parser",
            "/home/dev/src/cli",
            "gpt-5",
            started=200,
            last=8 * 24 * 60,
            context=None,
            replies=_burst(8 * 24 * 60, 3, 5, 2_000),
        ),
    ]


def demo_limits() -> tuple[Any, ...]:
    seen = NOW - timedelta(minutes=1)
    observations = [
        Observation("claude-code", "5h", 42.0, NOW + timedelta(hours=2, minutes=5), seen, "statusline"),
        Observation("claude-code", "7d", 17.0, NOW + timedelta(days=3, hours=4), seen, "statusline"),
        Observation("codex", "5h", 91.0, NOW + timedelta(hours=1, minutes=10), seen, "codex-log"),
    ]
    return tuple(lim for lim in current_limits(observations, NOW) if not lim.stale)


def demo_snapshot() -> Snapshot:
    table = ModelTable(None)
    views = [derive(s, table, CFG, NOW) for s in demo_sessions()]
    snap = build_snapshot(Collected(views, {"claude-code": ScanStats()}), CFG, NOW)
    return dataclasses.replace(snap, limits=demo_limits())


def screen(snap: Snapshot, state: ViewState, width: int, height: int) -> str:
    from rich.console import Console

    out = StringIO()
    Console(file=out, width=width, height=height, color_system=None, highlight=False).print(
        render(snap, state)
    )
    return "\n".join(line.rstrip() for line in out.getvalue().splitlines())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--width", type=int)
    parser.add_argument("--height", type=int)
    args = parser.parse_args()
    sizes = [(args.width, args.height or 40)] if args.width else list(SIZES)
    snap = demo_snapshot()
    for width, height in sizes:
        print(f"--- {width}x{height}, all sessions (a) ---")
        print(screen(snap, ViewState(scope="all"), width, height))
        print()


if __name__ == "__main__":
    main()
