"""The ``ai`` section of the configuration: defaults, overrides and strict validation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import run_cli_inprocess
from factories import config_error as error
from factories import write_config as write

from llm_session_manager.config import DEFAULT_FILE_TEXT, DEFAULTS, load


def test_defaults() -> None:
    assert DEFAULTS["ai"] == {"model": "claude-haiku-4-5", "timeout_seconds": 30}
    assert load(Path("/nonexistent/config.yaml"))["ai"] == DEFAULTS["ai"]


def test_default_file_documents_the_section() -> None:
    assert yaml.safe_load(DEFAULT_FILE_TEXT)["ai"] == DEFAULTS["ai"]
    assert "ANTHROPIC_API_KEY" in DEFAULT_FILE_TEXT


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ai:\n  model: claude-haiku-5-5\n", {"model": "claude-haiku-5-5", "timeout_seconds": 30}),
        ("ai:\n  timeout_seconds: 2.5\n", {"model": "claude-haiku-4-5", "timeout_seconds": 2.5}),
        ("ai:\n  timeout_seconds: 600\n", {"model": "claude-haiku-4-5", "timeout_seconds": 600}),
        ("ai:\n", DEFAULTS["ai"]),  # an empty section means all defaults
    ],
)
def test_overrides(tmp_path: Path, text: str, expected: dict[str, object]) -> None:
    assert load(write(tmp_path, text))["ai"] == expected


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("ai:\n  timeout_seconds: 0\n", "ai.timeout_seconds"),
        ("ai:\n  timeout_seconds: -1\n", "ai.timeout_seconds"),
        ("ai:\n  timeout_seconds: 601\n", "ai.timeout_seconds"),
        ("ai:\n  timeout_seconds: soon\n", "ai.timeout_seconds"),
        ("ai:\n  timeout_seconds: true\n", "ai.timeout_seconds"),
        ("ai:\n  model: ''\n", "ai.model"),
        ("ai:\n  model: two words\n", "ai.model"),
        ("ai:\n  model: 5\n", "ai.model"),
        ("ai:\n  max_tokens: 5\n", "ai.max_tokens"),
        ("ai: claude\n", "ai"),
    ],
)
def test_bad_values_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    assert f"'{key}'" in error(tmp_path, text)


def test_cli_show_config_has_the_section(tmp_path: Path) -> None:
    file = write(tmp_path, "ai:\n  model: claude-sonnet-4-5\n")
    env = {
        "HOME": str(tmp_path),
        "LSM_HOME": str(tmp_path / "data"),
        "LSM_CONFIG": str(file),
        "PATH": "/usr/bin",
    }
    r = run_cli_inprocess(["show-config", "--format", "json"], env=env, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert '"model": "claude-sonnet-4-5"' in r.stdout
