"""Hostile or odd transcript files: a bad line costs that line only, rewrites in place are noticed."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
from conftest import FakeHome

from llm_session_manager.agents.claude_code import ClaudeCodeReader
from llm_session_manager.agents.codex import CodexReader
from llm_session_manager.fileio import read_regular
from llm_session_manager.scan import scan_agent
from llm_session_manager.store import db


def claude_line(n: int, input_tokens: int, **extra: object) -> str:
    line = {
        "type": "assistant",
        "timestamp": f"2026-11-01T10:00:{n:02d}.000Z",
        "sessionId": "s1",
        "uuid": f"u{n}",
        "requestId": f"req{n}",
        "message": {
            "id": f"msg{n}",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "usage": {"input_tokens": input_tokens, "output_tokens": 5},
            "content": [{"type": "text", "text": "ok"}],
        },
        **extra,
    }
    return json.dumps(line) + "\n"


def claude_scan(root: Path, conn: sqlite3.Connection):  # type: ignore[no-untyped-def]
    result = scan_agent(conn, ClaudeCodeReader([root]))
    return {s.native_id: s for s in result.sessions}


def test_a_line_of_the_wrong_shape_costs_only_that_line(tmp_path: Path) -> None:
    root = tmp_path / "projects"
    (root / "-p").mkdir(parents=True)
    bad = {
        "type": "user",
        "sessionId": "s1",
        "message": {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": [], "is_error": True, "content": "x"}],
        },
        "timestamp": "2026-11-01T10:00:05.000Z",
    }
    (root / "-p" / "s1.jsonl").write_text(claude_line(1, 100) + json.dumps(bad) + "\n" + claude_line(2, 200))
    sessions = claude_scan(root, db.connect(tmp_path / "c.db"))
    assert sessions["s1"].tokens.input == 300
    assert sessions["s1"].skipped_lines == 1


def test_codex_type_list_line_does_not_hide_the_session(tmp_path: Path) -> None:
    day = tmp_path / "codex" / "sessions" / "2026" / "11" / "01"
    day.mkdir(parents=True)
    meta = {
        "timestamp": "2026-11-01T10:00:00.000Z",
        "type": "session_meta",
        "payload": {"id": "c1", "cwd": "/p", "timestamp": "2026-11-01T10:00:00.000Z"},
    }
    count = {
        "timestamp": "2026-11-01T10:00:02.000Z",
        "type": "event_msg",
        "payload": {
            "type": "token_count",
            "info": {
                "total_token_usage": {
                    "input_tokens": 50,
                    "cached_input_tokens": 0,
                    "output_tokens": 7,
                    "reasoning_output_tokens": 0,
                    "total_tokens": 57,
                },
                "last_token_usage": {
                    "input_tokens": 50,
                    "cached_input_tokens": 0,
                    "output_tokens": 7,
                    "reasoning_output_tokens": 0,
                    "total_tokens": 57,
                },
            },
        },
    }
    lines = [meta, {"timestamp": "2026-11-01T10:00:01.000Z", "type": []}, count]
    (day / "rollout-2026-11-01T10-00-00-c1.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    reader = CodexReader(tmp_path / "codex")
    sessions = scan_agent(db.connect(tmp_path / "c.db"), reader).sessions
    assert len(sessions) == 1
    assert sessions[0].tokens.output == 7


def test_same_size_rewrite_with_the_same_head_is_read_again(tmp_path: Path) -> None:
    root = tmp_path / "projects"
    (root / "-p").mkdir(parents=True)
    path = root / "-p" / "s1.jsonl"
    path.write_text(claude_line(1, 100) + claude_line(2, 200))
    conn = db.connect(tmp_path / "c.db")
    assert claude_scan(root, conn)["s1"].tokens.input == 300
    before = path.stat()
    path.write_text(claude_line(1, 100) + claude_line(2, 900))  # same length, same first 256 bytes
    assert path.stat().st_size == before.st_size
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns + 1_000_000))
    assert claude_scan(root, conn)["s1"].tokens.input == 1000


# --------------------------------------------------------------------------------------------------
# files that are not files: FIFOs, devices, huge files never block or exhaust memory


def test_read_regular_refuses_fifo_device_and_oversize(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    zero = tmp_path / "zero"
    zero.symlink_to("/dev/zero")
    big = tmp_path / "big"
    big.write_bytes(b"x" * 2048)
    for path in (fifo, zero, big, tmp_path):
        with pytest.raises(OSError):
            read_regular(path, 1024)
    assert read_regular(tmp_path / "missing", 10) is None
    assert read_regular(big, 4096) == b"x" * 2048


def test_config_file_that_is_a_fifo_is_one_clear_error(fake_home: FakeHome) -> None:
    config = fake_home.home / ".config" / "llm-session-manager" / "config.yaml"
    config.parent.mkdir(parents=True)
    os.mkfifo(config)
    r = fake_home.run("list", "--all")  # the harness's timeout fails the test if this blocks
    assert r.returncode == 1
    assert r.stderr.strip().splitlines() == [
        f"lsm: error: {config}: cannot read: {config}: not a regular file"
    ]
