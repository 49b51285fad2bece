"""Builders that many tests share: model objects with every field filled (override what a test is about),
a Claude Code transcript on disk, a running process shaped like an agent.

Defaults are plain and fixed (a quiet, healthy session of two hours, active 3 minutes before ``NOW``), so
a test names only the fields its assertions depend on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from llm_session_manager.agents.claude_code import encode_project_dir
from llm_session_manager.config import load
from llm_session_manager.errors import ConfigError
from llm_session_manager.models import Process, Session, TokenUsage

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
SONNET = "claude-sonnet-4-5-20250929"
FAKE_AGENTS = Path(__file__).parent / "fake_agents"


def make_session(
    native: str = "abc123", agent: str = "claude-code", now: datetime = NOW, **changes: Any
) -> Session:
    """A quiet, healthy, not-running session active 3 minutes before ``now``; ``changes`` override any
    field."""
    base = Session(
        id=f"{agent}:{native}",
        agent=agent,
        native_id=native,
        title=f"session {native}",
        project_path=f"/work/{native}",
        git_branch="main",
        model=SONNET,
        models=(SONNET,),
        started_at=now - timedelta(hours=2),
        last_activity=now - timedelta(minutes=3),
        tokens=TokenUsage(input=1_000, output=2_000, cache_creation=3_000, cache_read=4_000),
        context_tokens=10_000,
        context_window=200_000,
        context_window_source="table",
        messages_user=5,
        messages_assistant=5,
        tool_calls=0,
        tool_errors=0,
        api_errors=0,
        interruptions=0,
        compactions=0,
        skipped_lines=0,
        transcript_paths=(f"/home/u/.claude/projects/p/{native}.jsonl",),
    )
    return replace(base, **changes)


def make_process(
    pid: int = 4242,
    agent: str = "claude-code",
    state: str | None = None,
    state_updated_at: datetime | None = None,
    *,
    cwd: str = "/work",
    now: datetime = NOW,
) -> Process:
    """A live agent process started two hours before ``now``, idle on the CPU."""
    return Process(
        pid=pid,
        agent=agent,
        cwd=cwd,
        started_at=now - timedelta(hours=2),
        cpu_pct=0.0,
        rss_bytes=1 << 20,
        state=state,
        state_updated_at=state_updated_at,
    )


def iso(dt: datetime) -> str:
    """A timestamp as Claude Code writes it: UTC, milliseconds, ``Z``."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def write_claude_transcript(
    projects: Path,
    project: Path,
    sid: str,
    *,
    at: datetime | None = None,
    cache_read: int = 5_000,
    prompt: str = "add a login page",
) -> Path:
    """A Claude Code transcript under ``projects`` (``~/.claude/projects``) for a session working in
    ``project``: one prompt and one reply at ``at`` (default: now). Its context is 10 + 1000 +
    ``cache_read`` tokens."""
    folder = projects / encode_project_dir(str(project))
    folder.mkdir(parents=True, exist_ok=True)
    common = {
        "sessionId": sid,
        "cwd": str(project),
        "timestamp": iso(at or datetime.now(timezone.utc)),
        "isSidechain": False,
    }
    lines = [
        {**common, "type": "user", "message": {"role": "user", "content": prompt}},
        {
            **common,
            "type": "assistant",
            "requestId": f"req_{sid[:8]}",
            "message": {
                "id": f"msg_{sid[:8]}",
                "model": SONNET,
                "content": [{"type": "text", "text": "On it."}],
                "usage": {
                    "input_tokens": 10,
                    "output_tokens": 20,
                    "cache_creation_input_tokens": 1000,
                    "cache_read_input_tokens": cache_read,
                },
            },
        },
    ]
    path = folder / f"{sid}.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return path


@contextmanager
def running_agent(
    bindir: Path, cwd: Path, name: str = "claude", *, lifetime: int = 60
) -> Iterator[subprocess.Popen[bytes]]:
    """A process whose argv[0] is ``bindir/name`` (this Python under the agent's name, running
    fake_agents/sleeper.py), working in ``cwd``; ready when it returns, killed at the end. Process
    discovery takes it for the agent."""
    bindir.mkdir(parents=True, exist_ok=True)
    program = bindir / name
    if not program.exists():
        program.symlink_to(sys.executable)
    cwd.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen(
        [str(program), str(FAKE_AGENTS / "sleeper.py")],
        cwd=cwd,
        stdout=subprocess.PIPE,
        env={**os.environ, "FAKE_AGENT_LIFETIME": str(lifetime)},
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=10)


def write_config(folder: Path, text: str, name: str = "config.yaml") -> Path:
    """An lsm config file holding ``text``."""
    file = folder / name
    file.write_text(text, encoding="utf-8")
    return file


def config_error(folder: Path, text: str) -> str:
    """Loading ``text`` as lsm's config fails with one line that starts with the file's path; returns the
    rest of that line."""
    file = write_config(folder, text)
    with pytest.raises(ConfigError) as info:
        load(file)
    message = str(info.value)
    assert message.startswith(f"{file}: ") and "\n" not in message, message
    return message[len(f"{file}: ") :]
