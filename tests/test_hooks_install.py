"""`lsm hooks install|uninstall|status` on real-shaped agent config files: user hooks and settings kept in
their order and style, idempotent, backups, atomic writes that keep the mode, byte-identical uninstall,
bad files left untouched with one line."""

from __future__ import annotations

import json
import os
import stat
from datetime import datetime, timezone
from pathlib import Path

import pytest
from conftest import FakeHome
from test_hooks import payloads

from llm_session_manager import agent_config, hook_install
from llm_session_manager.errors import ConfigError

# Claude Code's settings as a user keeps them: tabs, no final newline, non-ASCII, a hook of their own.
CLAUDE_SETTINGS = (
    '{\n\t"model": "opus",\n\t"statusLine": {"type": "command", "command": "~/bin/status ☕"},\n'
    '\t"hooks": {\n\t\t"PreToolUse": [\n\t\t\t{"matcher": "Bash", "hooks": [{"type": "command", '
    '"command": "~/bin/guard.sh"}]}\n\t\t],\n\t\t"Stop": []\n\t},\n'
    '\t"permissions": {"allow": ["Bash(ls:*)"]}\n}'
)
GEMINI_SETTINGS = """{
    "general": {"vimMode": true},
    "hooksConfig": {"enabled": true, "disabled": []},
    "hooks": {
        "BeforeTool": [
            {
                "matcher": "run_shell_command",
                "hooks": [{"name": "audit", "type": "command", "command": "audit.sh", "timeout": 5000}]
            }
        ]
    }
}
"""
CODEX_HOOKS = (
    '{"hooks": {"Stop": [{"hooks": [{"type": "command", "command": "say done", "timeout": 30}]}]}}\n'
)


def setup_agents(fake_home: FakeHome) -> dict[str, Path]:
    files = {
        "claude-code": fake_home.claude / "settings.json",
        "gemini": fake_home.home / ".gemini" / "settings.json",
        "codex": fake_home.home / ".codex" / "hooks.json",
    }
    texts = {"claude-code": CLAUDE_SETTINGS, "gemini": GEMINI_SETTINGS, "codex": CODEX_HOOKS}
    for agent, path in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(texts[agent], encoding="utf-8")
        path.chmod(0o600)
    return files


def backups(path: Path) -> list[Path]:
    return sorted(path.parent.glob(path.name + agent_config.BACKUP_INFIX + "*"))


def test_round_trip_keeps_everything_and_restores_every_byte(fake_home: FakeHome) -> None:
    files = setup_agents(fake_home)
    before = {agent: path.read_bytes() for agent, path in files.items()}
    done = fake_home.run("hooks", "install")
    assert done.returncode == 0, done.stderr
    assert "open /hooks in Codex and trust the lsm entries" in done.stderr  # Codex's trust review
    for agent, path in files.items():
        doc = json.loads(path.read_text(encoding="utf-8"))
        assert sorted(hook_install.installed_events(agent, doc)) == sorted(
            hook_install.AGENT_HOOKS[agent].events
        )
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert backups(path)[0].read_bytes() == before[agent]
    claude = (files["claude-code"]).read_text(encoding="utf-8")
    assert claude.startswith('{\n\t"model": "opus"') and not claude.endswith("\n") and "☕" in claude
    doc = json.loads(claude)
    assert list(doc) == ["model", "statusLine", "hooks", "permissions"]
    assert doc["hooks"]["PreToolUse"][0] == {
        "matcher": "Bash",
        "hooks": [{"type": "command", "command": "~/bin/guard.sh"}],
    }
    gemini = json.loads(files["gemini"].read_text())
    ours = gemini["hooks"]["BeforeTool"][1]["hooks"][0]
    assert ours["name"] == "lsm" and ours["timeout"] == 10_000 and ours["command"].endswith(" hook gemini")
    assert gemini["hooks"]["BeforeTool"][0]["hooks"][0]["name"] == "audit"
    codex = json.loads(files["codex"].read_text())
    # Codex 0.171 clamps these two to 3 s, with a warning at every start when asked for more.
    assert codex["hooks"]["SessionEnd"][0]["hooks"][0]["timeout"] == 3
    assert codex["hooks"]["Interrupt"][0]["hooks"][0]["timeout"] == 3
    assert codex["hooks"]["PreToolUse"][0]["hooks"][0]["timeout"] == 10

    installed = {agent: path.read_bytes() for agent, path in files.items()}
    again = fake_home.run("hooks", "install")
    assert again.returncode == 0 and again.stderr.count("already installed") == 3
    assert {agent: path.read_bytes() for agent, path in files.items()} == installed
    assert all(len(backups(path)) == 1 for path in files.values())

    out = fake_home.run("hooks", "uninstall")
    assert out.returncode == 0 and out.stderr.count("restored the file as it was before install") == 3
    assert {agent: path.read_bytes() for agent, path in files.items()} == before


def test_a_file_lsm_created_is_removed_again(fake_home: FakeHome) -> None:
    target = fake_home.home / ".codex" / "hooks.json"
    assert fake_home.run("hooks", "install", "--agent", "codex").returncode == 0
    assert target.exists()
    assert fake_home.run("hooks", "uninstall", "--agent", "codex").returncode == 0
    assert not target.exists()


def test_codex_inline_hooks_in_config_toml_are_pointed_out(fake_home: FakeHome) -> None:
    toml = fake_home.home / ".codex" / "config.toml"
    toml.parent.mkdir()
    toml.write_text('model = "gpt-6.2-sol"\n\n[[hooks.Stop]]\n[[hooks.Stop.hooks]]\ntype = "command"\n')
    before = toml.read_bytes()
    done = fake_home.run("hooks", "install", "--agent", "codex")
    assert done.returncode == 0 and "has [hooks] tables too" in done.stderr
    assert toml.read_bytes() == before  # never edited: lsm writes hooks.json


def test_without_agent_only_agents_present_are_touched(fake_home: FakeHome) -> None:
    done = fake_home.run("hooks", "install")
    assert done.returncode == 0
    assert "codex: skipped" in done.stderr and "gemini: skipped" in done.stderr
    assert not (fake_home.home / ".codex").exists() and not (fake_home.home / ".gemini").exists()
    assert (fake_home.claude / "settings.json").exists()


def test_user_change_after_install_is_kept_by_uninstall(fake_home: FakeHome) -> None:
    files = setup_agents(fake_home)
    assert fake_home.run("hooks", "install", "--agent", "claude-code").returncode == 0
    doc = json.loads(files["claude-code"].read_text())
    doc["theme"] = "light"
    files["claude-code"].write_text(json.dumps(doc, indent="\t"), encoding="utf-8")
    done = fake_home.run("hooks", "uninstall", "--agent", "claude-code")
    assert done.returncode == 0 and "changed since install" in done.stderr
    after = json.loads(files["claude-code"].read_text())
    # Everything of the user's is there, the new key too; only the event list they had left empty
    # ("Stop": []), which lsm's entry filled, goes with it.
    user = json.loads(CLAUDE_SETTINGS)
    assert after == {**user, "theme": "light", "hooks": {"PreToolUse": user["hooks"]["PreToolUse"]}}
    assert list(after) == ["model", "statusLine", "hooks", "permissions", "theme"]


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ('{"model": "opus",}', "not valid JSON at line 1"),
        ('{\n  // my settings\n  "model": "opus"\n}', "comments are not supported"),
        ("[1, 2]", "not a JSON object"),
        ('{"hooks": []}', "'hooks' is not an object"),
        ('{"hooks": {"Stop": {"hooks": []}}}', "'hooks.Stop' is not a list"),
    ],
)
def test_a_bad_file_is_left_untouched_with_one_line(fake_home: FakeHome, text: str, says: str) -> None:
    path = fake_home.claude / "settings.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.utime(path, (1_700_000_000, 1_700_000_000))
    done = fake_home.run("hooks", "install", "--agent", "claude")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and "left untouched" in lines[0]
    assert path.read_text() == text and path.stat().st_mtime == 1_700_000_000
    assert backups(path) == []


def test_status_says_what_is_installed_and_when_each_agent_last_spoke(fake_home: FakeHome) -> None:
    setup_agents(fake_home)
    assert fake_home.run("hooks", "install", "--agent", "gemini").returncode == 0
    payload = json.dumps(payloads("gemini")[1])
    import subprocess
    import sys

    subprocess.run(
        [sys.executable, "-m", "llm_session_manager", "hook", "gemini"],
        input=payload.encode(),
        env=fake_home.env(),
        check=True,
        timeout=60,
    )
    done = fake_home.run("hooks", "status", "--format", "json")
    assert done.returncode == 0, done.stderr
    status = {row["agent"]: row for row in json.loads(done.stdout)["agents"]}
    assert status["gemini"]["installed"] == "yes" and status["gemini"]["last_event"] == "BeforeAgent"
    assert status["claude-code"]["installed"] == "no" and status["claude-code"]["last_event_at"] is None
    assert json.loads(done.stdout)["spool"] == {"lines": 1, "corrupt_lines": 0}
    table = fake_home.run("hooks", "status")
    assert "gemini: installed yes" in table.stdout and "last event BeforeAgent" in table.stdout


def test_a_moved_lsm_updates_its_entries_in_place(tmp_path: Path) -> None:
    path = tmp_path / "settings.json"
    path.write_text('{"hooks": {}}\n')
    now = datetime.now(timezone.utc)
    old = hook_install.hook_edit("claude-code", "/old/venv/bin/lsm")
    agent_config.install(path, old, tmp_path / "rec", now)
    new = hook_install.hook_edit("claude-code", "/new/bin/lsm")
    outcome = agent_config.install(path, new, tmp_path / "rec", now)
    assert outcome.changed
    text = path.read_text()
    assert "/old/venv" not in text and text.count("/new/bin/lsm hook claude-code") == len(
        hook_install.AGENT_HOOKS["claude-code"].events
    )
    assert agent_config.uninstall(path, new, tmp_path / "rec", now).exact
    assert path.read_text() == '{"hooks": {}}\n'


def test_entries_of_other_tools_are_never_taken_for_ours() -> None:
    for command in ("lsm-other hook claude-code", "echo lsm hook claude-code x", "/bin/lsm hook codex"):
        assert not hook_install.is_ours({"type": "command", "command": command}, "claude-code")
    for command in (
        "lsm hook claude-code",
        "'/a b/lsm' hook claude-code",
        "/usr/bin/python3 -m llm_session_manager hook claude-code",
    ):
        assert hook_install.is_ours({"type": "command", "command": command}, "claude-code")


def test_read_document_rejects_what_it_cannot_edit(tmp_path: Path) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    with pytest.raises(ConfigError, match="left untouched"):
        agent_config.read_document(fifo)
