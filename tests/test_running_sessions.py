"""End to end: a real process shaped like Claude Code, its live status file and its transcript, seen
through `lsm list` and `lsm health` exactly as a user would see them."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import FakeHome
from factories import running_agent, write_claude_transcript

from llm_session_manager.discovery import parse_proc_stat_start

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc for procStart")

FAKE_AGENTS = Path(__file__).parent / "fake_agents"
SID = "5f0c2b1e-8d4a-4c1b-9e7f-123456789abc"


def iso_now(delta: timedelta = timedelta(0)) -> str:
    return (datetime.now(timezone.utc) + delta).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


@pytest.fixture
def running_claude(fake_home: FakeHome, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A process whose argv[0] is `claude`, running in a project dir, started by this test."""
    project = tmp_path / "work" / "my_app"
    with running_agent(tmp_path / "bin", project) as proc:
        yield proc.pid, project


def write_transcript(fake_home: FakeHome, project: Path, *, busy_minutes_ago: float = 0.5) -> None:
    at = datetime.now(timezone.utc) - timedelta(minutes=busy_minutes_ago)
    write_claude_transcript(fake_home.projects, project, SID, at=at, cache_read=150_000)


def write_status(
    fake_home: FakeHome,
    pid: int,
    project: Path,
    status: str,
    *,
    proc_start: str | None = None,
    updated_minutes_ago: float = 0.0,
) -> None:
    sessions = fake_home.claude / "sessions"
    sessions.mkdir(parents=True, exist_ok=True)
    if proc_start is None:
        proc_start = str(parse_proc_stat_start(Path(f"/proc/{pid}/stat").read_text()))
    updated = int((time.time() - updated_minutes_ago * 60) * 1000)
    doc = {
        "pid": pid,
        "sessionId": SID,
        "cwd": str(project),
        "startedAt": int(time.time() * 1000),
        "procStart": proc_start,
        "status": status,
        "statusUpdatedAt": updated,
        "kind": "interactive",
    }
    (sessions / f"{pid}.json").write_text(json.dumps(doc), encoding="utf-8")


def listed(fake_home: FakeHome, *args: str) -> dict[str, dict[str, object]]:
    r = fake_home.run("list", "--format", "json", *args, LSM_DISCOVERY="on")
    assert r.returncode == 0, r.stderr
    return {o["native_id"]: o for o in json.loads(r.stdout)}


def test_running_session_linked_by_status_file(fake_home: FakeHome, running_claude: tuple[int, Path]) -> None:
    pid, project = running_claude
    write_transcript(fake_home, project)
    write_status(fake_home, pid, project, "busy")
    s = listed(fake_home)[SID]
    assert s["pid"] == pid and s["status"] == "active"
    proc = s["process"]
    assert isinstance(proc, dict)
    assert proc["state"] == "busy" and proc["link"] == "status-file" and proc["cwd"] == str(project)
    assert isinstance(proc["rss_bytes"], int) and proc["rss_bytes"] > 0
    assert s["context_tokens"] == 151_010
    # The default listing shows it without --all, and --status filters on it.
    assert SID in listed(fake_home, "--status", "active")


def test_running_session_linked_by_cwd_without_status_file(
    fake_home: FakeHome, running_claude: tuple[int, Path]
) -> None:
    pid, project = running_claude
    time.sleep(0.05)
    write_transcript(fake_home, project, busy_minutes_ago=0)  # written after the process started
    config = fake_home.home / "lsm.yaml"
    config.write_text("idle_minutes: 0.01\n", encoding="utf-8")  # 0.6 s
    time.sleep(1.0)
    r = fake_home.run("list", "--format", "json", LSM_DISCOVERY="on", LSM_CONFIG=str(config))
    s = {o["native_id"]: o for o in json.loads(r.stdout)}[SID]
    assert s["pid"] == pid
    assert s["status"] == "idle"  # alive, but no write for longer than idle_minutes
    proc = s["process"]
    assert isinstance(proc, dict) and proc["link"] == "cwd" and proc["state"] is None


def test_pid_reuse_is_not_trusted(fake_home: FakeHome, running_claude: tuple[int, Path]) -> None:
    pid, project = running_claude
    time.sleep(0.05)
    write_transcript(fake_home, project, busy_minutes_ago=0)
    write_status(fake_home, pid, project, "busy", proc_start="1")  # another process's start time
    proc = listed(fake_home)[SID]["process"]
    assert isinstance(proc, dict) and proc["state"] is None and proc["link"] == "cwd"


def test_new_session_without_transcript_is_listed(
    fake_home: FakeHome, running_claude: tuple[int, Path]
) -> None:
    pid, project = running_claude
    write_status(fake_home, pid, project, "idle")
    s = listed(fake_home)[SID]
    assert s["pid"] == pid and s["transcript_paths"] == []
    # Nothing could be read yet: tokens and cost are unknown, not zero.
    assert s["tokens"] is None and s["tokens_source"] is None and s["cost_usd"] is None


def test_stuck_busy_session_loses_activity_points(
    fake_home: FakeHome, running_claude: tuple[int, Path]
) -> None:
    pid, project = running_claude
    write_transcript(fake_home, project, busy_minutes_ago=25)  # the status file links it, not the cwd
    write_status(fake_home, pid, project, "busy", updated_minutes_ago=25)
    r = fake_home.run("health", SID[:8], "--format", "json", LSM_DISCOVERY="on")
    assert r.returncode == 0, r.stderr
    activity = {f["name"]: f for f in json.loads(r.stdout)["factors"]}["activity"]
    assert activity["score"] == 30 and "stuck" in activity["reason"]


def test_process_gone_means_ended(fake_home: FakeHome, running_claude: tuple[int, Path]) -> None:
    pid, project = running_claude
    write_transcript(fake_home, project)
    os.kill(pid, 9)
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            os.waitpid(pid, os.WNOHANG)
            os.kill(pid, 0)
        except (ChildProcessError, ProcessLookupError):
            break
        time.sleep(0.05)
    s = listed(fake_home, "--all")[SID]
    assert s["status"] == "ended" and s["pid"] is None
