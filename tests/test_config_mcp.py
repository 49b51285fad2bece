"""The `mcp` section of the configuration: default, the commented default file, and validation (each bad
value is one clear line naming the file and the key)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from factories import config_error as load_error
from factories import write_config as write

from llm_session_manager.config import DEFAULT_FILE_TEXT, DEFAULTS, load


def test_default_is_read_write() -> None:
    assert DEFAULTS["mcp"] == {"read_only": False}


def test_default_file_holds_the_section() -> None:
    assert yaml.safe_load(DEFAULT_FILE_TEXT)["mcp"] == {"read_only": False}
    assert "read_only: false" in DEFAULT_FILE_TEXT


def test_no_file_and_empty_section_give_the_default(tmp_path: Path) -> None:
    assert load(tmp_path / "missing.yaml")["mcp"] == {"read_only": False}
    assert load(write(tmp_path, "mcp:\n"))["mcp"] == {"read_only": False}


@pytest.mark.parametrize("text, expected", [("true", True), ("false", False), ("yes", True), ("off", False)])
def test_read_only_takes_yaml_booleans(tmp_path: Path, text: str, expected: bool) -> None:
    cfg = load(write(tmp_path, f"mcp:\n  read_only: {text}\n"))
    assert cfg["mcp"] == {"read_only": expected}


def test_other_sections_are_kept(tmp_path: Path) -> None:
    text = "idle_minutes: 5\nmcp: {read_only: true}\nrecommend: {idle_close_minutes: 30}\n"
    cfg = load(write(tmp_path, text))
    assert cfg["mcp"]["read_only"] is True
    assert cfg["idle_minutes"] == 5 and cfg["recommend"]["idle_close_minutes"] == 30


@pytest.mark.parametrize(
    "text, message",
    [
        ("mcp:\n  read_only: 1\n", "'mcp.read_only' must be true or false, got 1"),
        ("mcp:\n  read_only: 'true'\n", "'mcp.read_only' must be true or false, got 'true'"),
        ("mcp:\n  read_only: null\n", "'mcp.read_only' must be true or false, got None"),
        ("mcp:\n  readonly: true\n", "unknown key 'mcp.readonly'"),
        ("mcp: true\n", "'mcp' must be mapping, got True"),
        ("mcp: [read_only]\n", "'mcp' must be mapping, got ['read_only']"),
    ],
)
def test_bad_values_are_one_clear_line(tmp_path: Path, text: str, message: str) -> None:
    assert load_error(tmp_path, text) == message
