"""One HOME holding every agent's fixtures: `lsm list --all` shows them side by side, with the same
fields, and `lsm info` counts each agent. The per-agent rules are tested in test_agent_*.py; this is the
integration a user sees."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import FakeHome
from test_agent_aider import HISTORY_FILE
from test_agent_cline import install as install_cline
from test_agent_codex import install as install_codex
from test_agent_copilot import install_fixture as install_copilot
from test_agent_copilot_cli import install_fixture as install_copilot_cli
from test_agent_cursor import build_standard as build_cursor_db
from test_agent_gemini import install as install_gemini

FIX = Path(__file__).parent / "fixtures"
AGENTS = {
    "claude-code",
    "codex",
    "gemini",
    "cursor",
    "cursor-agent",
    "copilot",
    "copilot-cli",
    "aider",
    "cline",
}


@pytest.fixture
def everything(fake_home: FakeHome) -> FakeHome:
    home = fake_home.home
    install_codex(home / ".codex")
    install_gemini(home / ".gemini" / "tmp")
    build_cursor_db(home / ".config" / "Cursor" / "User")
    transcripts = home / ".cursor" / "projects" / "home-dev-app" / "agent-transcripts" / "t1"
    transcripts.mkdir(parents=True)
    shutil.copy(FIX / "cursor" / "agent_small.jsonl", transcripts / "t1.jsonl")
    install_copilot(home / ".config" / "Code" / "User")
    install_copilot_cli(home / ".copilot")
    repo = home / "src" / "app"
    (repo / ".git").mkdir(parents=True)
    shutil.copy(FIX / "aider" / "chat-history.excerpt.md", repo / HISTORY_FILE)
    install_cline(home)
    return fake_home  # Claude Code's fixtures are already there (the fake_home fixture)


def test_every_agent_listed_with_the_same_fields(everything: FakeHome) -> None:
    r = everything.run("list", "--all", "--format", "json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert {o["agent"] for o in rows} == AGENTS
    keys = set(rows[0])
    for o in rows:
        assert set(o) == keys  # one contract for every agent
        assert o["id"] == f"{o['agent']}:{o['native_id']}"
        assert o["tokens_source"] in ("exact", "counted", "rounded")
        t = o["tokens"]
        assert t["total"] == t["input"] + t["output"] + t["cache_creation"] + t["cache_read"]
        assert o["status"] == "ended"
    by_agent: dict[str, list[dict[str, object]]] = {}
    for o in rows:
        by_agent.setdefault(o["agent"], []).append(o)
    # Provenance: agents with usage records are exact, the others are counted, never passed off as exact.
    assert {o["tokens_source"] for o in by_agent["cursor-agent"]} == {"counted"}
    assert all(o["tokens_source"] == "exact" for o in by_agent["gemini"])
    assert "exact" in {o["tokens_source"] for o in by_agent["codex"]}
    # Known models are priced in every family; unknown ones are null, not zero.
    assert any(isinstance(o["cost_usd"], float) and o["cost_usd"] > 0 for o in by_agent["gemini"])
    assert any(isinstance(o["cost_usd"], float) and o["cost_usd"] > 0 for o in by_agent["claude-code"])
    assert any(o["cost_usd"] is None for o in rows)


def test_info_counts_every_agent(everything: FakeHome) -> None:
    r = everything.run("info", "--format", "json")
    assert r.returncode == 0, r.stderr
    info = json.loads(r.stdout)
    assert set(info["agents"]) == AGENTS
    for name, agent in info["agents"].items():
        assert agent["sessions"] >= 1, name
        assert agent["roots"] and any(root["exists"] for root in agent["roots"]), name
    text = everything.run("info").stdout
    for name in AGENTS:
        assert f"{name}:" in text


def test_filters_work_across_agents(everything: FakeHome) -> None:
    r = everything.run("list", "--all", "--agent", "gemini", "--format", "json")
    assert {o["agent"] for o in json.loads(r.stdout)} == {"gemini"}
    r = everything.run("list", "--all", "--sort", "tokens", "--format", "json")
    totals = [o["tokens"]["total"] for o in json.loads(r.stdout)]
    assert totals == sorted(totals, reverse=True)
    table = everything.run("list", "--all")
    assert table.returncode == 0 and "≈" in table.stdout  # counted sessions are marked in the table


def test_second_run_reads_nothing(everything: FakeHome) -> None:
    assert everything.run("list", "--all").returncode == 0
    info = json.loads(everything.run("info", "--format", "json").stdout)
    for name, agent in info["agents"].items():
        assert agent["cache_hit"] and agent["files_read"] == 0, name


def test_export_import_round_trip_for_every_agent(everything: FakeHome, tmp_path: Path) -> None:
    """export -> import (on another machine) -> export gives the same document, for every agent."""
    other = FakeHome(
        home=tmp_path / "other", claude=tmp_path / "other" / ".claude", lsm_home=tmp_path / "other-lsm"
    )
    other.home.mkdir()
    rows = json.loads(everything.run("list", "--all", "--format", "json").stdout)
    seen = set()
    for row in rows:
        if row["agent"] in seen:
            continue
        seen.add(row["agent"])
        first, second = tmp_path / f"{row['agent']}.1.json", tmp_path / f"{row['agent']}.2.json"
        r = everything.run("export", row["id"], "-o", str(first))
        assert r.returncode == 0, r.stderr
        r = other.run("import-context", str(first))
        assert r.returncode == 0, r.stderr
        r = other.run("export", row["id"], "-o", str(second))
        assert r.returncode == 0, r.stderr
        assert first.read_text() == second.read_text(), row["id"]
    assert seen == AGENTS


@pytest.mark.parametrize(
    ("agent", "prompt"),
    [
        ("codex", "List the files"),
        ("gemini", "Say hello and list files."),
        ("claude-code", "Hello Claude! Can you help me understand how Python decorators work?"),
        ("copilot-cli", "List the files"),
        ("cline", "Add a --verbose flag to the CLI and document it in the README"),
        ("cursor-agent", "List the files."),
    ],
)
def test_conversation_exported_for_agents_that_can(everything: FakeHome, agent: str, prompt: str) -> None:
    rows = json.loads(everything.run("list", "--all", "--agent", agent, "--format", "json").stdout)
    rows = [row for row in rows if row["agent"] == agent]  # --agent also matches a prefix (cursor-agent)
    docs = [json.loads(everything.run("export", row["id"], "-o", "-").stdout) for row in rows]
    with_prompt = [
        d
        for d in docs
        if any(t["role"] == "user" and t["text"] == prompt for t in d["conversation"]["turns"])
    ]
    assert with_prompt, agent
    doc = with_prompt[0]
    assert doc["conversation"]["available"] is True
    roles = {t["role"] for t in doc["conversation"]["turns"]}
    assert "assistant" in roles
