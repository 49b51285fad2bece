"""The config file's ``aider`` section: where lsm looks for Aider chat histories."""

from __future__ import annotations

from pathlib import Path

import pytest
from factories import write_config as write

from llm_session_manager.agents.aider import AiderReader
from llm_session_manager.config import DEFAULT_FILE_TEXT, DEFAULTS, load, write_default
from llm_session_manager.errors import ConfigError
from llm_session_manager.paths import resolve


def test_defaults_search_home_three_levels_deep(tmp_path: Path) -> None:
    assert DEFAULTS["aider"] == {"search_roots": ["~"], "max_depth": 3}
    assert "aider:" in DEFAULT_FILE_TEXT
    file = tmp_path / "config.yaml"
    write_default(file)
    assert load(file)["aider"] == DEFAULTS["aider"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "aider:\n  search_roots: [~/code, /srv/git]\n",
            {"search_roots": ["~/code", "/srv/git"], "max_depth": 3},
        ),
        ("aider:\n  max_depth: 0\n", {"search_roots": ["~"], "max_depth": 0}),
        ("aider:\n  search_roots: []\n  max_depth: 6\n", {"search_roots": [], "max_depth": 6}),
        ("aider:\n", {"search_roots": ["~"], "max_depth": 3}),
    ],
)
def test_valid_sections(tmp_path: Path, text: str, expected: dict[str, object]) -> None:
    assert load(write(tmp_path, text))["aider"] == expected


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("aider:\n  search_roots: ~/code\n", "'aider.search_roots' must be list"),
        ("aider:\n  search_roots: [~/code, 3]\n", "'aider.search_roots' must be a list of folder paths"),
        ("aider:\n  search_roots: ['  ']\n", "'aider.search_roots' must be a list of folder paths"),
        ("aider:\n  search_roots: [~]\n", 'write "~" in quotes'),
        ("aider:\n  max_depth: -1\n", "'aider.max_depth' must be a whole number"),
        ("aider:\n  max_depth: 2.5\n", "'aider.max_depth' must be a whole number"),
        ("aider:\n  max_depth: true\n", "'aider.max_depth'"),
        ("aider:\n  roots: [~]\n", "unknown key 'aider.roots'"),
        ("aider: [~]\n", "'aider' must be mapping"),
    ],
)
def test_invalid_sections(tmp_path: Path, text: str, needle: str) -> None:
    file = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load(file)
    assert needle in str(info.value)
    assert str(file) in str(info.value)


def test_reader_follows_the_loaded_config(tmp_path: Path) -> None:
    home = tmp_path / "home"
    cfg = load(write(tmp_path, "aider:\n  search_roots: [~/code, '~']\n  max_depth: 1\n"))
    reader = AiderReader.from_config(resolve({"HOME": str(home), "LSM_HOME": str(tmp_path / "d")}), cfg)
    assert (reader.search_roots, reader.max_depth) == ((str(home / "code"), str(home)), 1)
