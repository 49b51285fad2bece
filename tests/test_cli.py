"""The command line, run as a user runs it: a real subprocess in a fake HOME."""

from __future__ import annotations

import json
import re

import pytest
from conftest import FakeHome

from llm_session_manager import __version__

CONTRACT = {
    "id",
    "agent",
    "native_id",
    "title",
    "project_path",
    "project",
    "model",
    "models",
    "status",
    "pid",
    "started_at",
    "last_activity",
    "tokens",
    "context_tokens",
    "context_window",
    "context_pct",
    "cost_usd",
    "messages",
    "tool_errors",
    "interruptions",
    "compactions",
    "health",
    "tags",
    "description",
    "transcript_paths",
}
ANSI = re.compile(r"\x1b\[")
ISO_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


def test_list_json_contract(fake_home: FakeHome) -> None:
    r = fake_home.run("list", "--all", "--format", "json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert isinstance(data, list) and len(data) == 5
    for obj in data:
        assert set(obj) >= CONTRACT, CONTRACT - set(obj)
        assert set(obj["tokens"]) >= {"input", "output", "cache_creation", "cache_read", "total"}
        t = obj["tokens"]
        assert t["total"] == t["input"] + t["output"] + t["cache_creation"] + t["cache_read"]
        assert set(obj["messages"]) == {"user", "assistant"}
        assert set(obj["health"]) >= {"score", "status"}
        assert obj["id"] == f"{obj['agent']}:{obj['native_id']}"
        for key in ("started_at", "last_activity"):
            assert obj[key] is None or ISO_Z.match(obj[key]), obj[key]
        assert obj["status"] in {"active", "idle", "ended", "closed"}
    by_id = {o["native_id"]: o for o in data}
    side = by_id["88a8d761-7b9a-4bf1-a8ca-c1febe6bf358"]
    assert side["tokens"]["total"] == 9 + 738 + 164054 + 141272
    assert side["context_tokens"] == 144227 and side["context_window"] == 200_000
    assert side["context_pct"] == pytest.approx(72.1)
    assert side["cost_usd"] > 0


def test_list_default_hides_old_sessions(fake_home: FakeHome) -> None:
    r = fake_home.run("list", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == []  # fixtures are months old and nothing runs
    table = fake_home.run("list")
    assert "No sessions found" in table.stdout and "--all" in table.stdout


def test_table_has_no_ansi_when_piped(fake_home: FakeHome) -> None:
    r = fake_home.run("list", "--all")
    assert r.returncode == 0, r.stderr
    assert not ANSI.search(r.stdout)
    assert "claude-code" in r.stdout and "88a8d761" in r.stdout


def test_filters(fake_home: FakeHome) -> None:
    def ids(*args: str) -> set[str]:
        r = fake_home.run("list", "--format", "json", *args)
        assert r.returncode == 0, r.stderr
        return {o["native_id"] for o in json.loads(r.stdout)}

    assert ids("--all", "--project", "claude-code-log") == {"88a8d761-7b9a-4bf1-a8ca-c1febe6bf358"}
    assert len(ids("--all", "--project", "tmp")) == 3  # cwd from the lines, not the folder name
    assert len(ids("--status", "ended")) == 5
    assert ids("--status", "active") == set()
    assert len(ids("--all", "--agent", "claude-code")) == 5
    assert ids("--all", "--agent", "codex") == set()
    assert ids("--since", "2026-04-01") == {"ses_stage0_small"}
    assert ids("--all", "--tag", "backend") == set()
    r = fake_home.run("list", "--all", "--sort", "tokens", "--format", "json", "--limit", "1")
    assert [o["native_id"] for o in json.loads(r.stdout)] == ["88a8d761-7b9a-4bf1-a8ca-c1febe6bf358"]


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["list", "--format", "xml"], 2, "--format"),
        (["list", "--status", "sleeping"], 2, "unknown status"),
        (["list", "--since", "yesterday-ish"], 2, "--since"),
        (["list", "--sort", "colour"], 2, "--sort"),
        (["health", "zzz-no-such"], 3, "no session matches"),
        (["health", "ses"], 3, "matches 2 sessions"),
    ],
)
def test_bad_input_is_one_line_error(fake_home: FakeHome, args: list[str], code: int, needle: str) -> None:
    r = fake_home.run(*args)
    assert r.returncode == code
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_ambiguous_id_lists_candidates(fake_home: FakeHome) -> None:
    r = fake_home.run("health", "ses")
    assert "claude-code:ses_stage0_small" in r.stderr and "claude-code:session-alpha" in r.stderr


def test_health_by_prefix(fake_home: FakeHome) -> None:
    r = fake_home.run("health", "88a8", "--format", "json")
    assert r.returncode == 0, r.stderr
    h = json.loads(r.stdout)
    assert h["id"] == "claude-code:88a8d761-7b9a-4bf1-a8ca-c1febe6bf358"
    assert [f["name"] for f in h["factors"]] == ["tokens", "duration", "activity", "errors"]
    assert sum(f["weight"] for f in h["factors"]) == pytest.approx(1.0)
    assert all(f["reason"] for f in h["factors"])
    assert h["status"] in {"healthy", "warning", "critical"}
    table = fake_home.run("health", "88a8")
    assert table.returncode == 0 and "tokens" in table.stdout and "auto-compact" in table.stdout


def test_info(fake_home: FakeHome) -> None:
    r = fake_home.run("info", "--format", "json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert info["version"] == __version__
    assert info["paths"]["data_dir"] == str(fake_home.lsm_home)
    assert info["agents"]["claude-code"]["sessions"] == 5
    assert info["agents"]["claude-code"]["skipped_lines"] >= 0
    assert info["unknown_models"] == {}  # every model with tokens in the fixtures has a price now
    text = fake_home.run("info")
    assert str(fake_home.lsm_home) in text.stdout and "claude-code: 5 session(s)" in text.stdout


def test_skipped_lines_shown_in_info(fake_home: FakeHome) -> None:
    path = fake_home.projects / "-tmp" / "ses_stage0_small.jsonl"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write('not json at all\n{"type":"user","mess')
    info = json.loads(fake_home.run("info", "--format", "json").stdout)
    assert info["agents"]["claude-code"]["skipped_lines"] == 2


def test_claude_config_dir_env(fake_home: FakeHome) -> None:
    other = fake_home.home / "elsewhere"
    (fake_home.claude).rename(other)
    r = fake_home.run(
        "list", "--all", "--format", "json", CLAUDE_CONFIG_DIR=f"{other},{fake_home.home}/missing"
    )
    assert r.returncode == 0, r.stderr
    assert len(json.loads(r.stdout)) == 5


@pytest.mark.parametrize("module", ["llm_session_manager", "llm_session_manager.cli"])
def test_version_and_module_forms(fake_home: FakeHome, module: str) -> None:
    import subprocess
    import sys

    r = subprocess.run(
        [sys.executable, "-m", module, "--version"],
        env=fake_home.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0 and r.stdout.strip() == f"lsm {__version__}"


def test_help_lists_commands(fake_home: FakeHome) -> None:
    r = fake_home.run("--help")
    assert r.returncode == 0
    for cmd in ("list", "info", "health", "init-config", "show-config"):
        assert cmd in r.stdout


def test_info_lists_a_model_without_a_price(fake_home: FakeHome) -> None:
    folder = fake_home.projects / "-tmp-acme"
    folder.mkdir(parents=True)
    line = {
        "type": "assistant",
        "timestamp": "2026-11-01T10:00:00.000Z",
        "sessionId": "acme",
        "requestId": "r1",
        "message": {"id": "m1", "model": "acme-model-9", "usage": {"input_tokens": 10, "output_tokens": 2}},
    }
    (folder / "acme.jsonl").write_text(json.dumps(line) + "\n")
    info = json.loads(fake_home.run("info", "--format", "json").stdout)
    assert info["unknown_models"] == {"acme-model-9": 1}
    assert "unknown model 'acme-model-9' in 1 session(s)" in fake_home.run("info").stdout
