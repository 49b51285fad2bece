"""A fake HOME for every test: no test ever sees the developer's real ~/.claude or lsm data."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
CLAUDE_FIX = FIXTURES / "claude"
REPO = Path(__file__).resolve().parent.parent
# Variables that point lsm or an agent at real data: never inherited by a test.
LEAKY_ENV = (
    "LSM_",
    "CLAUDE_CONFIG_DIR",
    "XDG_",
    "CODEX_HOME",
    "GEMINI_DATA_DIR",
    "GEMINI_CLI_HOME",
    "COPILOT_HOME",
    "CURSOR_CONFIG_DIR",
    "CLINE_DATA_DIR",
    "CLINE_DIR",
    "VSCODE_PORTABLE",
    "APPDATA",
    "TIKTOKEN_CACHE_DIR",
    "ANTHROPIC_",
)

SUBAGENT_PARENT = "0a1b2c3d-4e5f-4061-8071-2a3b4c5d6e7f"


@dataclass
class FakeHome:
    home: Path
    claude: Path  # ~/.claude
    lsm_home: Path

    @property
    def projects(self) -> Path:
        return self.claude / "projects"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(LEAKY_ENV)}
        # Processes running on the test machine are not part of any test's world, unless a test asks.
        env.update(
            HOME=str(self.home), LSM_HOME=str(self.lsm_home), NO_COLOR="1", COLUMNS="200", LSM_DISCOVERY="off"
        )
        env.update(extra)
        return env

    def run(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "llm_session_manager", *args],
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=120,
            cwd=str(self.home),
        )


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Even in-process tests get a fake HOME and data dir."""
    for key in list(os.environ):
        if key.startswith(LEAKY_ENV):
            monkeypatch.delenv(key, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("LSM_HOME", str(tmp_path / "lsm-data"))
    yield


def install_fixtures(projects: Path) -> None:
    """Lay the public Claude Code fixtures out as a real ~/.claude/projects tree."""
    tmp = projects / "-tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    shutil.copy(CLAUDE_FIX / "stage0_small.jsonl", tmp / "ses_stage0_small.jsonl")
    shutil.copy(CLAUDE_FIX / "subagent" / f"{SUBAGENT_PARENT}.jsonl", tmp / f"{SUBAGENT_PARENT}.jsonl")
    shutil.copytree(CLAUDE_FIX / "subagent" / SUBAGENT_PARENT, tmp / SUBAGENT_PARENT)
    log = projects / "-e-Workspace-src-github-claude-code-log"
    log.mkdir(parents=True, exist_ok=True)
    shutil.copy(CLAUDE_FIX / "sidechain_integrated.jsonl", log / "88a8d761-7b9a-4bf1-a8ca-c1febe6bf358.jsonl")
    shutil.copy(CLAUDE_FIX / "representative_messages.jsonl", log / "representative.jsonl")
    alpha = projects / "project-alpha" / "session-alpha"
    alpha.mkdir(parents=True, exist_ok=True)
    shutil.copy(CLAUDE_FIX / "ccusage_chat.jsonl", alpha / "chat.jsonl")


@pytest.fixture
def fake_home(tmp_path: Path) -> FakeHome:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    fh = FakeHome(home=home, claude=home / ".claude", lsm_home=tmp_path / "lsm-data")
    install_fixtures(fh.projects)
    return fh
