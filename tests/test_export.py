"""Export and import through the real CLI: formats, lossless round trip, redaction, bad input."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

import pytest
import yaml
from conftest import FakeHome, install_fixtures

SIDE = "88a8d761-7b9a-4bf1-a8ca-c1febe6bf358"
FAKE_KEY = "sk-ant-api03-" + "Zz9" * 30 + "-AA"


def ok(fake: FakeHome, *args: str, **env: str) -> str:
    r = fake.run(*args, **env)
    assert r.returncode == 0, r.stderr
    return r.stdout


def fails(fake: FakeHome, *args: str, code: int = 2) -> str:
    r = fake.run(*args)
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return lines[0]


@pytest.fixture
def other_home(tmp_path: Path) -> FakeHome:
    """A second machine: empty agents' dirs, its own lsm data."""
    home = tmp_path / "other-home"
    home.mkdir()
    return FakeHome(home=home, claude=home / ".claude", lsm_home=tmp_path / "other-lsm")


def test_json_export_shape(fake_home: FakeHome, tmp_path: Path) -> None:
    out = tmp_path / "ctx.json"
    ok(fake_home, "export", "88a8", "--output", str(out))
    doc = json.loads(out.read_text())
    assert doc["schema_version"] == 1 and doc["redacted"] is True
    s = doc["session"]
    assert (
        s["id"] == f"claude-code:{SIDE}" and s["tokens"]["total"] == 306073 and s["tokens_source"] == "exact"
    )
    assert s["context_tokens"] == 144227 and doc["health"]["factors"]
    conv = doc["conversation"]
    assert conv["available"] and conv["included"]
    roles = [t["role"] for t in conv["turns"]]
    assert roles[0] == "assistant" and "user" in roles
    assert conv["turns"][0]["tool_calls"][0]["name"] == "Task"
    assert doc["git"] == {"repo": False}


def test_format_follows_extension_and_stdout(fake_home: FakeHome, tmp_path: Path) -> None:
    ok(fake_home, "export", "88a8", "-o", str(tmp_path / "c.yaml"))
    doc = yaml.safe_load((tmp_path / "c.yaml").read_text())
    assert doc["session"]["native_id"] == SIDE
    text = ok(fake_home, "export", "88a8", "-o", "-", "--format", "yaml")
    assert yaml.safe_load(text)["session"]["native_id"] == SIDE
    assert json.loads(ok(fake_home, "export", "88a8", "-o", "-"))["session"]["native_id"] == SIDE
    line = fails(fake_home, "export", "88a8", "-o", str(tmp_path / "c.txt"))
    assert "--format" in line


def test_markdown_hand_off_reads_well(fake_home: FakeHome, tmp_path: Path) -> None:
    md_path = tmp_path / "handoff.md"
    ok(fake_home, "export", "representative", "-o", str(md_path))
    md = md_path.read_text()
    headings = [line for line in md.splitlines() if line.startswith("#")]
    assert headings[0].startswith("# Session hand-off: User learned about Python decorators")
    for section in (
        "## Files touched",
        "## Commands run",
        "## Last errors",
        "## Open questions",
        "## Conversation",
    ):
        assert section in headings
    assert headings.index("## Open questions") < headings.index("## Conversation")
    assert "### User" in md and "### Assistant" in md
    assert "Can you help me understand how Python decorators work?" in md
    assert md.count("```") % 2 == 0  # every code fence is closed
    assert "Secrets redacted" in md


def test_existing_file_needs_force_and_nothing_partial(fake_home: FakeHome, tmp_path: Path) -> None:
    out = tmp_path / "ctx.json"
    out.write_text("keep me")
    assert "--force" in fails(fake_home, "export", "88a8", "-o", str(out))
    assert out.read_text() == "keep me"
    ok(fake_home, "export", "88a8", "-o", str(out), "--force")
    assert json.loads(out.read_text())["schema_version"] == 1
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        if os.geteuid() != 0:  # root can write anywhere
            fails(fake_home, "export", "88a8", "-o", str(locked / "x.json"), code=1)
            assert list(locked.iterdir()) == []
    finally:
        locked.chmod(0o700)


def test_secrets_are_redacted_by_default(fake_home: FakeHome, tmp_path: Path) -> None:
    proj = fake_home.projects / "-work-secret"
    proj.mkdir(parents=True)
    lines = [
        {
            "type": "user",
            "sessionId": "sec",
            "cwd": "/work/secret",
            "timestamp": "2026-11-20T10:00:00.000Z",
            "message": {"role": "user", "content": f"use this key {FAKE_KEY} and DB_PASSWORD=hunter2hunter2"},
        },
        {
            "type": "assistant",
            "sessionId": "sec",
            "cwd": "/work/secret",
            "timestamp": "2026-11-20T10:00:01.000Z",
            "requestId": "r1",
            "message": {
                "id": "m1",
                "model": "claude-sonnet-4-5",
                "usage": {"input_tokens": 1},
                "content": [{"type": "text", "text": "commit 3f2b9c1e8d7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c"}],
            },
        },
    ]
    (proj / "secret-session.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    for ext in ("json", "yaml", "md"):
        out = tmp_path / f"s.{ext}"
        ok(fake_home, "export", "secret-session", "-o", str(out))
        text = out.read_text()
        assert FAKE_KEY not in text and "hunter2hunter2" not in text, ext
        assert "[REDACTED:anthropic-key]" in text and "3f2b9c1e8d7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c" in text
    r = fake_home.run("export", "secret-session", "-o", "-", "--no-redact")
    assert r.returncode == 0 and FAKE_KEY in r.stdout and "NOT redacted" in r.stderr


def test_trimming_full_and_no_transcript(fake_home: FakeHome, tmp_path: Path) -> None:
    proj = fake_home.projects / "-work-long"
    proj.mkdir(parents=True)
    big = "x" * 10_000
    lines = [
        {
            "type": "user",
            "timestamp": "2026-11-20T10:00:00.000Z",
            "cwd": "/work/long",
            "message": {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "t1", "content": big}],
            },
        },
    ]
    (proj / "long-session.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines))
    doc = json.loads(ok(fake_home, "export", "long-session", "-o", "-"))
    content = doc["conversation"]["turns"][0]["tool_results"][0]["content"]
    assert len(content) < 2200 and "trimmed 8,000 characters" in content
    assert doc["conversation"]["trimmed_characters"] == 8000
    doc = json.loads(ok(fake_home, "export", "long-session", "-o", "-", "--full"))
    assert doc["conversation"]["turns"][0]["tool_results"][0]["content"] == big
    doc = json.loads(ok(fake_home, "export", "long-session", "-o", "-", "--no-transcript"))
    assert doc["conversation"]["turns"] == [] and doc["conversation"]["included"] is False


@pytest.mark.parametrize("ext", ["json", "yaml"])
def test_round_trip_is_identical_for_every_session(
    fake_home: FakeHome, other_home: FakeHome, tmp_path: Path, ext: str
) -> None:
    ok(fake_home, "tag", "88a8", "backend")
    ok(fake_home, "describe", "88a8", "Borders and colours")
    sessions = json.loads(ok(fake_home, "list", "--all", "-f", "json"))
    assert len(sessions) == 5
    for s in sessions:
        first = tmp_path / f"{s['native_id']}.1.{ext}"
        second = tmp_path / f"{s['native_id']}.2.{ext}"
        ok(fake_home, "export", s["id"], "-o", str(first))
        ok(other_home, "import-context", str(first))
        ok(other_home, "export", s["id"], "-o", str(second))
        assert first.read_text() == second.read_text(), s["id"]
    imported = json.loads(ok(other_home, "list", "--status", "imported", "-f", "json"))
    assert {o["id"] for o in imported} == {s["id"] for s in sessions}
    side = next(o for o in imported if o["native_id"] == SIDE)
    assert side["tags"] == ["backend"] and side["description"] == "Borders and colours"
    assert side["tokens"]["total"] == 306073 and side["status"] == "imported"


def test_imported_session_works_with_other_commands(
    fake_home: FakeHome, other_home: FakeHome, tmp_path: Path
) -> None:
    path = tmp_path / "ctx.json"
    ok(fake_home, "export", "88a8", "-o", str(path))
    ok(other_home, "import-context", str(path))
    assert "already imported" in other_home.run("import-context", str(path)).stderr  # no duplicate
    ok(other_home, "tag", "88a8", "handed-over")
    health = json.loads(ok(other_home, "health", "88a8", "-f", "json"))
    assert health["id"] == f"claude-code:{SIDE}"
    assert [o["native_id"] for o in json.loads(ok(other_home, "search", "handed", "-f", "json"))] == [SIDE]


def test_clashing_id_needs_session_id(fake_home: FakeHome, tmp_path: Path) -> None:
    path = tmp_path / "ctx.json"
    ok(fake_home, "export", "88a8", "-o", str(path))
    line = fails(fake_home, "import-context", str(path))
    assert "--session-id" in line
    ok(fake_home, "import-context", str(path), "--session-id", "copy-1")
    listed = {o["id"]: o for o in json.loads(ok(fake_home, "list", "--all", "-f", "json"))}
    assert listed["claude-code:copy-1"]["status"] == "imported"
    assert listed[f"claude-code:{SIDE}"]["status"] == "ended"


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("just some text: [", "not valid JSON or YAML"),
        ('{"schema_version": 1', "not valid JSON"),
        ("- a\n- b\n", "must be a mapping"),
        ("schema_version: 99\nsession: {}\n", "schema_version 99"),
        ("!!python/object:os.system {}\n", "not valid JSON or YAML"),
    ],
)
def test_bad_import_files(fake_home: FakeHome, tmp_path: Path, content: str, needle: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    line = fails(fake_home, "import-context", str(path), code=1)
    assert needle in line


def test_missing_field_and_wrong_type_are_named(fake_home: FakeHome, tmp_path: Path) -> None:
    path = tmp_path / "ctx.json"
    ok(fake_home, "export", "88a8", "-o", str(path))
    doc = json.loads(path.read_text())
    del doc["session"]["tokens"]["output"]
    path.write_text(json.dumps(doc))
    assert "session.tokens.output" in fails(
        fake_home, "import-context", str(path), "--session-id", "a", code=1
    )
    doc["session"]["tokens"]["output"] = "many"
    path.write_text(json.dumps(doc))
    assert "session.tokens.output" in fails(
        fake_home, "import-context", str(path), "--session-id", "a", code=1
    )
    conn = sqlite3.connect(fake_home.lsm_home / "lsm.db")
    assert conn.execute("SELECT count(*) FROM imported_sessions").fetchone()[0] == 0
    conn.close()


def test_batch_export(fake_home: FakeHome, tmp_path: Path) -> None:
    out = tmp_path / "exports"
    r = fake_home.run("batch-export", "ses*", "--output-dir", str(out), "--format", "markdown")
    assert r.returncode == 0, r.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "claude-code_ses_stage0_small.md",
        "claude-code_session-alpha.md",
    ]
    r = fake_home.run("batch-export", "ses*", "--output-dir", str(out), "--format", "markdown")
    assert "skipped" in r.stderr


def test_fixture_install_helper_is_stable(tmp_path: Path) -> None:
    install_fixtures(tmp_path / "p")
    assert len(list((tmp_path / "p").rglob("*.jsonl"))) == 6
