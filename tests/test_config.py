"""Tests for llm_session_manager.config: loading, strict validation, the default file, and the CLI
commands around them (run as a real subprocess with every path inside tmp_path)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli_inprocess
from factories import config_error as load_error
from factories import write_config as write

from llm_session_manager import config as config_mod
from llm_session_manager.config import DEFAULT_FILE_TEXT, DEFAULTS, load, write_default
from llm_session_manager.errors import ConfigError, LsmError
from llm_session_manager.pricing import ModelTable

# --------------------------------------------------------------------------------------------------
# defaults and round trip


def test_missing_file_gives_defaults(tmp_path: Path) -> None:
    cfg = load(tmp_path / "nope" / "config.yaml")
    assert cfg == DEFAULTS
    assert not (tmp_path / "nope").exists()


def test_defaults_are_a_copy(tmp_path: Path) -> None:
    before = copy.deepcopy(DEFAULTS)
    cfg = load(tmp_path / "missing.yaml")
    cfg["health"]["weights"]["tokens"] = 99
    cfg["models"]["x"] = {}
    assert before == DEFAULTS


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "~\n"])
def test_empty_file_gives_defaults(tmp_path: Path, text: str) -> None:
    assert load(write(tmp_path, text)) == DEFAULTS


def test_default_file_round_trip(tmp_path: Path) -> None:
    file = tmp_path / "sub" / "dir" / "config.yaml"
    assert write_default(file) is True
    assert file.read_text(encoding="utf-8") == DEFAULT_FILE_TEXT
    assert load(file) == DEFAULTS
    assert list(file.parent.iterdir()) == [file]  # no temp file left over


def test_write_default_refuses_existing_file_unless_forced(tmp_path: Path) -> None:
    file = write(tmp_path, "idle_minutes: 7\n")
    assert write_default(file) is False
    assert file.read_text(encoding="utf-8") == "idle_minutes: 7\n"
    assert write_default(file, force=True) is True
    assert file.read_text(encoding="utf-8") == DEFAULT_FILE_TEXT
    assert not list(tmp_path.glob(".config-*"))  # no temp file left over


def test_partial_file_merges_with_defaults(tmp_path: Path) -> None:
    text = "idle_minutes: 5\nhealth:\n  weights: {tokens: 1}\n  stuck_busy_minutes: 2.5\nlist: {sort: cost}\n"
    cfg = load(write(tmp_path, text))
    expected = copy.deepcopy(DEFAULTS)
    expected["idle_minutes"] = 5
    expected["health"]["weights"]["tokens"] = 1
    expected["health"]["stuck_busy_minutes"] = 2.5
    expected["list"]["sort"] = "cost"
    assert cfg == expected


def test_every_sort_key_is_accepted(tmp_path: Path) -> None:
    for key in config_mod.SORT_KEYS:
        cfg = load(write(tmp_path, f"list: {{sort: {key}}}\ndashboard: {{sort: {key}}}\n"))
        assert cfg["list"]["sort"] == cfg["dashboard"]["sort"] == key


def test_config_error_is_an_lsm_error_with_exit_1() -> None:
    assert issubclass(ConfigError, LsmError)
    assert ConfigError.exit_code == 1


# --------------------------------------------------------------------------------------------------
# invalid YAML and structure


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("idle_minutes: 10\nrecent_hours: 24\nlist:\n  sort: [\n", 5),
        ("idle_minutes: 10\n  recent_hours: 24\n", 2),
        ('idle_minutes: 10\nlist: {sort: "unterminated\n', 3),
    ],
)
def test_invalid_yaml_names_file_and_line(tmp_path: Path, text: str, line: int) -> None:
    message = load_error(tmp_path, text)
    assert "not valid YAML" in message
    assert f"(line {line})" in message


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_top_level_must_be_a_mapping(tmp_path: Path, text: str) -> None:
    assert "top level must be a mapping" in load_error(tmp_path, text)


def test_unreadable_file(tmp_path: Path) -> None:
    file = tmp_path / "config.yaml"
    file.write_bytes(b"idle_minutes: 10\n# \xff\xfe not utf-8\n")
    with pytest.raises(ConfigError, match="cannot read") as info:
        load(file)
    assert str(file) in str(info.value)


def test_python_tags_are_rejected(tmp_path: Path) -> None:
    assert "not valid YAML" in load_error(tmp_path, "idle_minutes: !!python/object/apply:os.getcwd []\n")


# --------------------------------------------------------------------------------------------------
# unknown keys


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("idle_minute: 10\n", "idle_minute"),
        ("health:\n  wieghts: {tokens: 1}\n", "health.wieghts"),
        ("health:\n  weights: {tokens: 1, speed: 1}\n", "health.weights.speed"),
        ("health:\n  thresholds: {healthy: 80, critical: 10}\n", "health.thresholds.critical"),
        ("dashboard: {sorting: cost}\n", "dashboard.sorting"),
        ("list: {limit: 5}\n", "list.limit"),
        ("1: 2\n", "1"),
    ],
)
def test_unknown_key_names_dotted_key(tmp_path: Path, text: str, key: str) -> None:
    assert f"unknown key '{key}'" in load_error(tmp_path, text)


# --------------------------------------------------------------------------------------------------
# wrong types


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('idle_minutes: "ten"\n', "idle_minutes"),
        ("idle_minutes: ten\n", "idle_minutes"),
        ("idle_minutes: true\n", "idle_minutes"),
        ("recent_hours: [24]\n", "recent_hours"),
        ("health: 3\n", "health"),
        ("health: [tokens]\n", "health"),
        ("health:\n  weights: {tokens: yes}\n", "health.weights.tokens"),
        ("health:\n  weights: {errors: false}\n", "health.weights.errors"),
        ("health:\n  weights: 1\n", "health.weights"),
        ("health:\n  thresholds: {healthy: '70'}\n", "health.thresholds.healthy"),
        ("health:\n  stuck_busy_minutes: true\n", "health.stuck_busy_minutes"),
        ("dashboard: {refresh_interval: fast}\n", "dashboard.refresh_interval"),
        ("list: {sort: 3}\n", "list.sort"),
        ("list: last_activity\n", "list"),
    ],
)
def test_wrong_type_names_key(tmp_path: Path, text: str, key: str) -> None:
    message = load_error(tmp_path, text)
    assert f"'{key}' must be" in message


def test_wrong_type_message_says_what_was_expected(tmp_path: Path) -> None:
    message = load_error(tmp_path, 'idle_minutes: "ten"\n')
    assert "integer or number" in message
    assert "'ten'" in message
    assert "mapping" in load_error(tmp_path, "health: 3\n")


# --------------------------------------------------------------------------------------------------
# bad values


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("idle_minutes: 0\n", "idle_minutes"),
        ("idle_minutes: -5\n", "idle_minutes"),
        ("health:\n  weights: {tokens: -0.1}\n", "health.weights"),
        ("health:\n  weights: {tokens: 0, duration: 0, activity: 0, errors: 0}\n", "health.weights"),
        ("health:\n  thresholds: {healthy: 50, warning: 60}\n", "health.thresholds"),
        ("health:\n  thresholds: {healthy: 101}\n", "health.thresholds"),
        ("health:\n  thresholds: {warning: -1}\n", "health.thresholds"),
        ("list: {sort: size}\n", "list.sort"),
        ("dashboard: {sort: name}\n", "dashboard.sort"),
        ("dashboard: {refresh_interval: 0}\n", "dashboard.refresh_interval"),
    ],
)
def test_bad_value_names_key(tmp_path: Path, text: str, key: str) -> None:
    assert f"'{key}'" in load_error(tmp_path, text)


def test_unknown_sort_lists_the_choices(tmp_path: Path) -> None:
    message = load_error(tmp_path, "list: {sort: size}\n")
    for key in config_mod.SORT_KEYS:
        assert key in message


def test_equal_thresholds_are_allowed(tmp_path: Path) -> None:
    cfg = load(write(tmp_path, "health:\n  thresholds: {healthy: 50, warning: 50}\n"))
    assert cfg["health"]["thresholds"] == {"healthy": 50, "warning": 50}


@pytest.mark.parametrize(
    "text",
    ["recent_hours: -1\n", "health:\n  stuck_busy_minutes: -5\n", "health:\n  stuck_waiting_minutes: -5\n"],
)
def test_negative_durations_are_rejected(tmp_path: Path, text: str) -> None:
    file = write(tmp_path, text)
    with pytest.raises(ConfigError):
        load(file)


# --------------------------------------------------------------------------------------------------
# models overrides


MODELS_TEXT = """\
models:
  claude-example-5:
    context_window: 1000000
    input: 3
    output: 15.5
    cache_write_5m: 3.75
    cache_write_1h: 6
    cache_read: 0.3
  claude-sonnet-4-5:
    input: 4
"""


def test_models_override_is_loaded_and_usable(tmp_path: Path) -> None:
    cfg = load(write(tmp_path, MODELS_TEXT))
    assert cfg["models"] == {
        "claude-example-5": {
            "context_window": 1_000_000,
            "input": 3,
            "output": 15.5,
            "cache_write_5m": 3.75,
            "cache_write_1h": 6,
            "cache_read": 0.3,
        },
        "claude-sonnet-4-5": {"input": 4},
    }
    table = ModelTable(cfg["models"])
    assert table.window("claude-example-5") == (1_000_000, "table")
    info = table.lookup("claude-sonnet-4-5-20250929")
    assert info is not None
    assert info.input == 4
    assert info.output == 15


@pytest.mark.parametrize("text", ["models:\n", "models: {}\n", "models: null\n"])
def test_empty_models(tmp_path: Path, text: str) -> None:
    assert load(write(tmp_path, text))["models"] == {}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("models: [a, b]\n", "'models' must be"),
        ("models:\n  claude-x: 5\n", "'models.claude-x' must be"),
        ("models:\n  claude-x:\n", "'models.claude-x' must be"),
        ("models:\n  claude-x: {price: 3}\n", "unknown key 'models.claude-x.price'"),
        ("models:\n  claude-x: {input: -3}\n", "'models.claude-x.input' must not be negative"),
        ("models:\n  claude-x: {cache_read: -0.1}\n", "'models.claude-x.cache_read' must not be negative"),
        ("models:\n  claude-x: {input: '3'}\n", "'models.claude-x.input' must be"),
        ("models:\n  claude-x: {output: true}\n", "'models.claude-x.output' must be"),
        ("models:\n  claude-x: {context_window: 1.5}\n", "'models.claude-x.context_window' must be integer"),
        ("models:\n  claude-x: {long_context_threshold: 2.5}\n", "'models.claude-x.long_context_threshold'"),
    ],
)
def test_models_validation(tmp_path: Path, text: str, expected: str) -> None:
    assert expected in load_error(tmp_path, text)


def test_models_zero_context_window_is_rejected(tmp_path: Path) -> None:
    file = write(tmp_path, "models:\n  claude-x: {context_window: 0}\n")
    with pytest.raises(ConfigError, match=r"models\.claude-x\.context_window"):
        load(file)


# --------------------------------------------------------------------------------------------------
# CLI, through a real subprocess


def cli_env(tmp_path: Path, *, config: Path | None) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LSM_", "XDG_", "CLAUDE_", "CODEX_")) and k not in ("HOME", "USERPROFILE")
    }
    env.update(
        HOME=str(tmp_path),
        LSM_HOME=str(tmp_path / "data"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg"),
        XDG_DATA_HOME=str(tmp_path / "xdg-data"),
        CLAUDE_CONFIG_DIR=str(tmp_path / "claude"),
        LSM_DISCOVERY="off",  # the machine's real processes are not part of these tests
        NO_COLOR="1",
        COLUMNS="120",
    )
    if config is not None:
        env["LSM_CONFIG"] = str(config)
    return env


def run_lsm(tmp_path: Path, *args: str, config: Path | None = None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "claude" / "projects").mkdir(parents=True, exist_ok=True)
    return run_cli_inprocess(args, env=cli_env(tmp_path, config=config), cwd=tmp_path)


BAD_CONFIG = "idle_minutes: 10\nhealth:\n  wieghts: {tokens: 1}\n"


@pytest.mark.parametrize(
    "args",
    [
        ("list",),
        ("list", "--format", "json"),
        ("info",),
        ("health", "abc"),
        ("show-config",),
        ("show-config", "--format", "json"),
        ("init-config",),
    ],
)
def test_cli_bad_config_is_one_line_and_never_overwritten(tmp_path: Path, args: tuple[str, ...]) -> None:
    file = write(tmp_path, BAD_CONFIG)
    before = file.read_bytes()
    result = run_lsm(tmp_path, *args, config=file)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert str(file) in lines[0]
    assert "health.wieghts" in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert file.read_bytes() == before


def test_cli_invalid_yaml_names_file_and_line(tmp_path: Path) -> None:
    file = write(tmp_path, "idle_minutes: 10\n  recent_hours: 24\n")
    result = run_lsm(tmp_path, "list", config=file)
    assert result.returncode == 1
    (line,) = result.stderr.splitlines()
    assert str(file) in line
    assert "line 2" in line
    assert file.read_text(encoding="utf-8") == "idle_minutes: 10\n  recent_hours: 24\n"


def test_cli_init_config_writes_refuses_and_forces(tmp_path: Path) -> None:
    file = tmp_path / "conf" / "lsm.yaml"
    first = run_lsm(tmp_path, "init-config", config=file)
    assert first.returncode == 0, first.stderr
    assert str(file) in first.stderr
    assert file.read_text(encoding="utf-8") == DEFAULT_FILE_TEXT

    file.write_text("idle_minutes: 7\n", encoding="utf-8")
    second = run_lsm(tmp_path, "init-config", config=file)
    assert second.returncode != 0
    assert "--force" in second.stderr
    assert len(second.stderr.splitlines()) == 1
    assert file.read_text(encoding="utf-8") == "idle_minutes: 7\n"

    forced = run_lsm(tmp_path, "init-config", "--force", config=file)
    assert forced.returncode == 0, forced.stderr
    assert file.read_text(encoding="utf-8") == DEFAULT_FILE_TEXT
    assert sorted(q.name for q in file.parent.iterdir()) == ["lsm.yaml"]


def test_cli_init_config_uses_xdg_config_home(tmp_path: Path) -> None:
    result = run_lsm(tmp_path, "init-config")
    assert result.returncode == 0, result.stderr
    file = tmp_path / "xdg" / "llm-session-manager" / "config.yaml"
    assert file.read_text(encoding="utf-8") == DEFAULT_FILE_TEXT
    assert not (tmp_path / ".claude").exists()


def test_cli_show_config_json_is_the_effective_config(tmp_path: Path) -> None:
    file = write(tmp_path, "idle_minutes: 7\nhealth:\n  weights: {tokens: 2}\n" + MODELS_TEXT)
    result = run_lsm(tmp_path, "show-config", "--format", "json", config=file)
    assert result.returncode == 0, result.stderr
    data: dict[str, Any] = json.loads(result.stdout)
    assert data["source"] == str(file)
    assert data["config"] == load(file)
    assert data["config"]["idle_minutes"] == 7
    assert data["config"]["health"]["weights"] == {
        "tokens": 2,
        "duration": 0.2,
        "activity": 0.2,
        "errors": 0.2,
    }


def test_cli_show_config_json_without_file_shows_defaults(tmp_path: Path) -> None:
    file = tmp_path / "absent.yaml"
    result = run_lsm(tmp_path, "show-config", "--format", "json", config=file)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["config"] == DEFAULTS
    assert "defaults" in data["source"]
    assert not file.exists()
