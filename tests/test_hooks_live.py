"""Hook events reaching what the user sees: `lsm list --format json` and the monitor in a real terminal,
with a running fake Claude Code process whose session the events name."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import test_monitor_tmux
from conftest import FakeHome
from test_hooks import payloads
from test_monitor_tmux import SHORT, Pane, monitor_line
from test_running_sessions import FAKE_AGENTS, SID, write_status, write_transcript

# The monitor tests' tmux panes.
pane_factory = test_monitor_tmux.pane_factory
tmux_bin = test_monitor_tmux.tmux_bin


@pytest.fixture
def running_agent(fake_home: FakeHome, tmp_path: Path) -> Iterator[tuple[int, Path]]:
    """A process named `claude` working in `dashboard_app` (under the test's own folder, where discovery
    looks), linked to SID by its live status file."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "claude").symlink_to(sys.executable)
    project = tmp_path / "work" / "dashboard_app"
    project.mkdir(parents=True)
    proc = subprocess.Popen(
        [str(bindir / "claude"), str(FAKE_AGENTS / "sleeper.py")],
        cwd=project,
        stdout=subprocess.PIPE,
        env={**os.environ, "FAKE_AGENT_LIFETIME": "120"},
    )
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        write_transcript(fake_home, project)
        write_status(fake_home, proc.pid, project, "busy")
        yield proc.pid, project
    finally:
        proc.kill()
        proc.wait(timeout=10)


def send(fake_home: FakeHome, project: Path, event: str) -> None:
    """The captured Claude Code payload of ``event``, as if the running session sent it now."""
    payload = next(p for p in payloads("claude-code") if p["hook_event_name"] == event)
    payload = {**payload, "session_id": SID, "cwd": str(project)}
    done = subprocess.run(
        [sys.executable, "-m", "llm_session_manager", "hook", "claude-code"],
        input=json.dumps(payload).encode(),
        env=fake_home.env(),
        capture_output=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")


def listed(fake_home: FakeHome) -> dict[str, object]:
    done = fake_home.run("list", "--format", "json", LSM_DISCOVERY="on")
    assert done.returncode == 0, done.stderr
    return next(s for s in json.loads(done.stdout) if s["native_id"] == SID)


def test_list_state_follows_the_hooks(fake_home: FakeHome, running_agent: tuple[int, Path]) -> None:
    _pid, project = running_agent
    before = listed(fake_home)  # the status file says busy; no hook event yet
    assert (before["state"], before["state_source"]) == ("working", "status-file")

    send(fake_home, project, "PermissionRequest")
    row = listed(fake_home)
    assert (row["state"], row["state_source"]) == ("waiting_permission", "hooks")
    assert row["state_detail"] == "Bash: touch approved-by-bar.txt"
    assert row["state_since"] is not None

    send(fake_home, project, "PostToolUse")
    assert listed(fake_home)["state"] == "working"
    send(fake_home, project, "Stop")
    assert listed(fake_home)["state"] == "idle"
    send(fake_home, project, "SessionEnd")
    row = listed(fake_home)
    assert (row["state"], row["state_detail"]) == ("ended", "prompt_input_exit")


def test_monitor_shows_the_permission_wait_within_one_refresh(
    fake_home: FakeHome, running_agent: tuple[int, Path], pane_factory: Callable[..., Pane]
) -> None:
    _pid, project = running_agent
    pane = pane_factory(LSM_DISCOVERY="on")
    pane.type_line(monitor_line(fake_home))
    pane.wait_for(lambda t: SHORT in t and "active (busy)" in t, what="the running session")
    sent = time.monotonic()
    send(fake_home, project, "PermissionRequest")
    # The selected session's detail pane: the state ("needs you"), the tool and its command.
    wanted = "status active (needs you: Bash: t"
    text = pane.wait_for(lambda t: wanted in t, what="the permission wait", timeout=10)
    took = time.monotonic() - sent
    assert took < 1 + 3, took  # the refresh interval (1 s) plus the time one refresh takes here
    row = next(line for line in text.splitlines() if SHORT in line)
    assert "active (needs you" in row  # the table's status column, cut to its width
    pane.keys("q")
    pane.wait_for(lambda t: "EXIT=0" in t, what="the monitor to quit")


def test_hostile_tool_input_is_shown_safely(fake_home: FakeHome, running_agent: tuple[int, Path]) -> None:
    _pid, project = running_agent
    key = "sk-ant-api03-" + "B" * 93 + "AA"
    payload = next(p for p in payloads("claude-code") if p["hook_event_name"] == "PermissionRequest")
    hostile = {**payload, "session_id": SID, "cwd": str(project)}
    hostile["tool_input"] = {"command": f"curl -H 'x-api-key: {key}' \x1b]52;c;aGk=\x07 [bold]x[/bold]"}
    done = subprocess.run(
        [sys.executable, "-m", "llm_session_manager", "hook", "claude-code"],
        input=json.dumps(hostile).encode(),
        env=fake_home.env(),
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0
    row = listed(fake_home)
    assert row["state"] == "waiting_permission" and key not in row["state_detail"]
    assert "[REDACTED" in row["state_detail"]
    table = fake_home.run("list", LSM_DISCOVERY="on")
    assert table.returncode == 0 and "waiting_permission Bash" in table.stdout
    assert "\x1b" not in table.stdout and key not in table.stdout


def test_monitor_notify_alerts_while_the_dashboard_runs(
    fake_home: FakeHome, running_agent: tuple[int, Path], pane_factory: Callable[..., Pane], tmp_path: Path
) -> None:
    _pid, project = running_agent
    bindir = tmp_path / "notify-bin"
    bindir.mkdir()
    log = tmp_path / "notified.txt"
    (bindir / "notify-send").write_text(f"#!/bin/sh\nprintf '%s\\n' \"$@\" >> '{log}'\n")
    (bindir / "notify-send").chmod(0o755)
    pane = pane_factory(LSM_DISCOVERY="on", PATH=f"{bindir}:{os.environ.get('PATH', '')}")
    pane.type_line(monitor_line(fake_home, "--notify"))
    pane.wait_for(lambda t: SHORT in t and "active (busy)" in t, what="the running session")
    time.sleep(2)  # the alert thread starts from the events that come after it
    send(fake_home, project, "PermissionRequest")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not log.exists():
        time.sleep(0.2)
    lines = log.read_text().splitlines()
    assert lines[0] == "--app-name=lsm" and lines[1].endswith("needs your permission")
    assert lines[2].startswith("Bash: touch approved-by-bar.txt · project dashboard_app")
    pane.keys("q")
    pane.wait_for(lambda t: "EXIT=0" in t, what="the monitor to quit")
