"""`lsm hook`: recorded payloads of each agent through the real command, the spool, its compaction into
the store, the state machine, and the state `lsm list` shows."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import FakeHome

from llm_session_manager import hookspool, hookstate
from llm_session_manager.hookstate import HookEvent, HookState, apply, live_state
from llm_session_manager.models import Process
from llm_session_manager.paths import resolve
from llm_session_manager.store import db, hook_events

HOOKS = Path(__file__).parent / "fixtures" / "hooks"
CLAUDE_SID = "1e1e1e1e-0000-4000-8000-0000000000cc"


def payloads(agent: str) -> list[dict[str, object]]:
    name = {
        "claude-code": "claude-code-2.1.197",
        "codex": "codex-0.171",
        "gemini": "gemini-0.61",
        "gemini-captured": "gemini-0.61-captured",
        "codex-captured": "codex-0.171-captured",
    }[agent]
    lines = [json.loads(line) for line in (HOOKS / f"{name}.jsonl").read_text().splitlines()]
    return [line.get("payload", line) for line in lines]


def run_hook(env: dict[str, str], agent: str, stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "llm_session_manager", "hook", agent],
        input=stdin,
        env=env,
        capture_output=True,
        timeout=60,
    )


def spool_lines(lsm_home: Path) -> list[dict[str, object]]:
    path = lsm_home / "hooks" / hookspool.SPOOL_NAME
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.mark.parametrize(
    "env",
    [
        {"HOME": "/h"},
        {"HOME": "/h", "LSM_HOME": "~/data"},
        {"HOME": "/h", "XDG_DATA_HOME": "/x"},
        {"USERPROFILE": "/w"},
    ],
)
def test_spool_is_in_the_data_dir_paths_names(env: dict[str, str]) -> None:
    assert Path(hookspool.data_dir(env)) == resolve(env).data_dir


@pytest.mark.parametrize("agent", ["claude-code", "codex", "gemini"])
def test_each_agents_recorded_payloads_are_spooled_silently(fake_home: FakeHome, agent: str) -> None:
    sent = payloads(agent)
    for payload in sent:
        done = run_hook(fake_home.env(), agent, json.dumps(payload).encode())
        assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    lines = spool_lines(fake_home.lsm_home)
    assert [line["event"] for line in lines] == [p["hook_event_name"] for p in sent]
    assert {line["agent"] for line in lines} == {agent}
    assert all(line["sid"] == sent[0]["session_id"] for line in lines)
    # Never the prompt, the answer or the tool's output.
    text = json.dumps(lines)
    assert "make a file" not in text and "list the files" not in text and "stub answer" not in text


def test_claude_permission_request_keeps_tool_and_command(fake_home: FakeHome) -> None:
    for payload in payloads("claude-code")[:5]:
        run_hook(fake_home.env(), "claude-code", json.dumps(payload).encode())
    by_event = {line["event"]: line for line in spool_lines(fake_home.lsm_home)}
    assert by_event["PermissionRequest"]["tool"] == "Bash"
    assert by_event["PermissionRequest"]["subject"] == "touch approved-by-bar.txt"
    assert by_event["Notification"]["ntype"] == "permission_prompt"
    assert by_event["Notification"]["msg"] == "Claude needs your permission"


@pytest.mark.parametrize(
    "stdin",
    [b"", b"not json", b"[1, 2]", b'{"hook_event_name": "Stop"} trailing', b"\xff\xfe{"],
)
def test_bad_input_exits_0_and_is_logged_not_printed(fake_home: FakeHome, stdin: bytes) -> None:
    done = run_hook(fake_home.env(), "claude-code", stdin)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    log = (fake_home.lsm_home / "hooks" / hookspool.ERROR_LOG).read_text()
    assert "lsm hook claude-code" in log
    assert not (fake_home.lsm_home / "hooks" / hookspool.SPOOL_NAME).exists()


def test_unknown_agent_and_unwritable_data_dir_still_exit_0(fake_home: FakeHome, tmp_path: Path) -> None:
    payload = json.dumps(payloads("claude-code")[0]).encode()
    done = run_hook(fake_home.env(), "aider", payload)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    done = run_hook(fake_home.env(LSM_HOME=str(blocker / "sub")), "claude-code", payload)
    assert (done.returncode, done.stdout, done.stderr) == (0, b"", b"")


def _imported(importtime_stderr: bytes) -> set[str]:
    lines = importtime_stderr.decode().splitlines()
    return {line.split("|")[-1].strip() for line in lines if line.startswith("import time:")}


def test_hook_path_imports_no_cli_framework(fake_home: FakeHome) -> None:
    payload = json.dumps(payloads("claude-code")[2]).encode()
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "llm_session_manager", "hook", "claude-code"],
        input=payload,
        env=fake_home.env(),
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0 and done.stdout == b""
    modules = _imported(done.stderr)
    assert "llm_session_manager.hookspool" in modules
    # What the interpreter loads before any of our code (site, an editable install's finder) is not ours.
    modules -= _imported(
        subprocess.run(
            [sys.executable, "-X", "importtime", "-c", "pass"], capture_output=True, timeout=60
        ).stderr
    )
    heavy = {
        "typer",
        "click",
        "rich",
        "orjson",
        "json",
        "dataclasses",
        "pathlib",
        "typing",
        "llm_session_manager.cli",
    }
    assert not modules & heavy, sorted(modules & heavy)


def test_hook_help_goes_to_the_cli(fake_home: FakeHome) -> None:
    done = fake_home.run("hook", "--help")
    assert done.returncode == 0 and "Record one hook event" in done.stdout


WRITER = """
import sys
from llm_session_manager import hookspool
directory, who, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
for i in range(count):
    payload = {"hook_event_name": "PreToolUse", "session_id": who,
               "tool_name": "Bash", "tool_input": {"command": "x" * (i % 300)}}
    rec = hookspool.record("codex", payload, 1.0 + i)
    hookspool.append(directory, hookspool.encode(rec))
"""


def test_eight_concurrent_writers_lose_no_line(tmp_path: Path) -> None:
    directory = tmp_path / "hooks"
    count = 300
    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(directory), f"w{n}", str(count)])
        for n in range(8)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0] * 8
    raw = (directory / hookspool.SPOOL_NAME).read_bytes().splitlines()
    assert len(raw) == 8 * count
    lines = [json.loads(line) for line in raw]
    for n in range(8):
        mine = [line["t"] for line in lines if line["sid"] == f"w{n}"]
        assert mine == [1.0 + i for i in range(count)]  # each writer's lines whole and in order
    conn = db.connect(tmp_path / "lsm.db")
    stats = hook_events.sync(conn, directory)
    assert (stats.lines, stats.corrupt_lines) == (8 * count, 0)
    assert hook_events.sync(conn, directory).lines == 0  # read once


def _spool(directory: Path, *records: dict[str, object]) -> None:
    for rec in records:
        hookspool.append(str(directory), hookspool.encode(rec))


T0 = 1_796_400_000.0  # December 2026: the store forgets sessions quiet for 30 days


def _rec(event: str, at: float, sid: str = "s1", **extra: str) -> dict[str, object]:
    return {"v": 1, "t": T0 + at, "agent": "claude-code", "event": event, "sid": sid, **extra}


def test_sync_is_incremental_counts_corrupt_lines_and_follows_rotation(tmp_path: Path) -> None:
    directory = tmp_path / "hooks"
    conn = db.connect(tmp_path / "lsm.db")
    _spool(directory, _rec("UserPromptSubmit", 10.0))
    with (directory / hookspool.SPOOL_NAME).open("ab") as fh:
        fh.write(b'{"v": 1, "t": "yesterday"}\n{broken\n\n')
    _spool(directory, _rec("PreToolUse", 11.0, tool="Bash"))
    stats = hook_events.sync(conn, directory, now=T0)
    assert (stats.lines, stats.corrupt_lines) == (4, 2)
    assert hook_events.load_states(conn)[("claude-code", "s1")].state == "working"
    # Rotation: the full spool is renamed aside; what was appended to it before is still read.
    _spool(directory, _rec("PermissionRequest", 12.0, tool="Bash"))
    os.replace(directory / hookspool.SPOOL_NAME, directory / hookspool.ROTATED_NAME)
    _spool(directory, _rec("Notification", 13.0, ntype="permission_prompt", msg="needs you"))
    assert hook_events.sync(conn, directory, now=T0).lines == 2
    state = hook_events.load_states(conn)[("claude-code", "s1")]
    assert (state.state, state.detail, state.since) == ("waiting_permission", "Bash", T0 + 12.0)
    assert hook_events.totals(conn).corrupt_lines == 2
    assert [e.event for _id, e in hook_events.events_after(conn, 0)] == [
        "UserPromptSubmit",
        "PreToolUse",
        "PermissionRequest",
        "Notification",
    ]


def test_spool_rotates_when_full(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hookspool, "MAX_SPOOL_BYTES", 1000)
    directory = tmp_path / "hooks"
    for i in range(30):
        _spool(directory, _rec("PreToolUse", 1.0 + i))
    current = (directory / hookspool.SPOOL_NAME).stat().st_size
    rotated = (directory / hookspool.ROTATED_NAME).stat().st_size
    assert current <= 1000 + 200 and rotated <= 1000 + 200


def fold(name: str) -> list[HookState]:
    out: list[HookState] = []
    state = None
    agent = name.split("-captured")[0]
    for i, payload in enumerate(payloads(name)):
        rec = hookspool.record(agent, payload, 1000.0 + i)
        state = apply(state, hookstate.parse_record(json.loads(hookspool.encode(rec))))
        out.append(state)
    return out


def test_claude_events_drive_the_state() -> None:
    states = fold("claude-code")
    assert [(s.last_event, s.state) for s in states] == [
        ("SessionStart", "idle"),
        ("UserPromptSubmit", "working"),
        ("PreToolUse", "working"),
        ("PermissionRequest", "waiting_permission"),
        ("Notification", "waiting_permission"),
        ("PostToolUse", "working"),
        ("Stop", "idle"),
        ("SessionEnd", "ended"),
    ]
    waiting = states[4]
    assert waiting.detail == "Bash: touch approved-by-bar.txt"  # the notification does not hide the tool
    assert waiting.since == states[3].since == 1003.0
    assert states[-1].detail == "prompt_input_exit"


def test_codex_events_drive_the_state_and_count_compactions() -> None:
    states = fold("codex")
    assert [s.state for s in states] == [
        "idle",
        "working",
        "working",
        "waiting_permission",
        "working",
        "compacting",
        "working",
        "idle",
        "ended",
    ]
    assert states[3].detail == "Bash: rm -f /tmp/example"
    assert states[-1].compactions == 1


def test_gemini_events_drive_the_state() -> None:
    states = fold("gemini")
    assert [s.state for s in states] == [
        "idle",
        "working",
        "working",
        "waiting_permission",
        "working",
        "working",  # PreCompress "auto": Gemini CLI sends it before every model call
        "idle",
        "ended",
    ]
    assert states[3].detail == "Tool Shell requires execution: ls -la"
    assert states[-1].compactions == 0


def test_codex_captured_run() -> None:
    states = fold("codex-captured")
    assert [(s.last_event, s.state) for s in states] == [
        ("SessionStart", "idle"),
        ("UserPromptSubmit", "working"),
        ("PreToolUse", "working"),
        ("PostToolUse", "working"),
        ("Stop", "idle"),
        ("SessionEnd", "ended"),
    ]
    assert states[2].detail == "Bash: echo lsm-stub-ok"


def test_gemini_captured_run_counts_no_compaction() -> None:
    states = fold("gemini-captured")
    assert [(s.last_event, s.state) for s in states] == [
        ("SessionStart", "idle"),
        ("BeforeAgent", "working"),
        ("PreCompress", "working"),
        ("BeforeTool", "working"),
        ("AfterTool", "working"),
        ("PreCompress", "working"),
        ("AfterAgent", "idle"),
        ("SessionEnd", "ended"),
    ]
    assert states[3].detail == "run_shell_command: echo stub-ok"
    assert states[-1].compactions == 0


def test_stop_failure_is_remembered_until_the_next_prompt() -> None:
    ev = [
        HookEvent(1.0, "claude-code", "UserPromptSubmit", "s"),
        HookEvent(2.0, "claude-code", "StopFailure", "s", why="rate_limit", message="429 Too Many Requests"),
    ]
    state = apply(apply(None, ev[0]), ev[1])
    assert (state.state, state.failure) == ("idle", "turn failed: rate_limit - 429 Too Many Requests")
    assert apply(state, HookEvent(3.0, "claude-code", "UserPromptSubmit", "s")).failure is None


def test_an_older_event_never_rewinds_the_state() -> None:
    state = apply(
        apply(None, HookEvent(5.0, "codex", "Stop", "s")), HookEvent(4.0, "codex", "PreToolUse", "s")
    )
    assert (state.state, state.last_event, state.events) == ("idle", "Stop", 2)


NOW = datetime(2026, 12, 4, 12, 0, tzinfo=timezone.utc)


def _proc(state: str | None = None, updated: datetime | None = None) -> Process:
    return Process(
        1, "claude-code", "/p", NOW - timedelta(hours=1), 0.0, 0, state=state, state_updated_at=updated
    )


def _hook(state: str, at: datetime) -> HookState:
    t = at.timestamp()
    return HookState("claude-code", "s", state, "Bash: ls", t, "PermissionRequest", t)


def test_live_state_precedence() -> None:
    recent = NOW - timedelta(seconds=3)
    waiting = _hook("waiting_permission", recent)
    assert live_state(waiting, _proc(), "active", NOW).source == "hooks"
    # The status file agrees (waiting) or is older: the hooks' detail wins.
    assert live_state(waiting, _proc("waiting", NOW), "active", NOW).state == "waiting_permission"
    # Newer and disagreeing (hooks removed mid-session): the status file wins.
    later = live_state(waiting, _proc("busy", NOW + timedelta(seconds=30)), "active", NOW)
    assert (later.state, later.source) == ("working", "status-file")
    # No process: killed without SessionEnd, so ended by lsm's own reading; SessionEnd says so at once.
    assert live_state(waiting, None, "ended", NOW) == hookstate.LiveState("ended", None, NOW, "activity")
    assert live_state(_hook("ended", recent), _proc(), "active", NOW).source == "hooks"
    # Events from before this process started belong to an earlier run.
    old = _hook("working", NOW - timedelta(hours=2))
    assert live_state(old, _proc(), "idle", NOW).source == "activity"
    assert live_state(None, _proc(), "active", NOW).state == "working"
    # The transcript moved on long after the last event: the hooks stopped reporting.
    quiet = live_state(_hook("working", NOW - timedelta(minutes=5)), _proc(), "active", NOW)
    assert (quiet.state, quiet.source) == ("working", "activity")
    assert live_state(_hook("idle", NOW - timedelta(minutes=1)), _proc(), "active", NOW).source == "hooks"
    assert live_state(None, None, "imported", None).state is None
