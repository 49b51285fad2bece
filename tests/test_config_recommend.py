"""The `recommend` section of the configuration: defaults, the commented default file, and validation
(each bad value is one clear line naming the file and the key)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from factories import config_error as load_error
from factories import write_config as write

from llm_session_manager.config import DEFAULT_FILE_TEXT, DEFAULTS, load


def test_defaults() -> None:
    assert DEFAULTS["recommend"] == {
        "idle_close_minutes": 60,
        "context_warning_pct": 70,
        "burn_rate_tokens_per_min_limit": None,
        "cost_per_hour_limit_usd": None,
        "daily_cost_limit_usd": None,
    }


def test_default_file_documents_every_key_with_its_default() -> None:
    section = yaml.safe_load(DEFAULT_FILE_TEXT)["recommend"]
    assert section == DEFAULTS["recommend"]
    for key in DEFAULTS["recommend"]:
        assert f"  {key}: " in DEFAULT_FILE_TEXT


def test_missing_or_empty_section_gives_defaults(tmp_path: Path) -> None:
    assert load(write(tmp_path, "idle_minutes: 5\n"))["recommend"] == DEFAULTS["recommend"]
    assert load(write(tmp_path, "recommend:\n"))["recommend"] == DEFAULTS["recommend"]


def test_values_are_merged_with_defaults(tmp_path: Path) -> None:
    text = (
        "recommend:\n  idle_close_minutes: 0.5\n  context_warning_pct: 85\n"
        "  daily_cost_limit_usd: 25\n  cost_per_hour_limit_usd: 4.5\n"
    )
    assert load(write(tmp_path, text))["recommend"] == {
        "idle_close_minutes": 0.5,
        "context_warning_pct": 85,
        "burn_rate_tokens_per_min_limit": None,
        "cost_per_hour_limit_usd": 4.5,
        "daily_cost_limit_usd": 25,
    }


def test_a_limit_can_be_set_back_to_null(tmp_path: Path) -> None:
    cfg = load(write(tmp_path, "recommend:\n  burn_rate_tokens_per_min_limit: null\n"))
    assert cfg["recommend"]["burn_rate_tokens_per_min_limit"] is None


def test_loading_does_not_change_the_defaults(tmp_path: Path) -> None:
    load(write(tmp_path, "recommend:\n  idle_close_minutes: 5\n"))
    assert DEFAULTS["recommend"]["idle_close_minutes"] == 60


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("recommend: 5\n", "'recommend' must be mapping, got 5"),
        ("recommend: [1]\n", "'recommend' must be mapping, got [1]"),
        ("recommend:\n  idle_minutes: 5\n", "unknown key 'recommend.idle_minutes'"),
        (
            "recommend:\n  idle_close_minutes: soon\n",
            "'recommend.idle_close_minutes' must be a number, got 'soon'",
        ),
        (
            "recommend:\n  idle_close_minutes: true\n",
            "'recommend.idle_close_minutes' must be a number, got True",
        ),
        (
            "recommend:\n  idle_close_minutes: null\n",
            "'recommend.idle_close_minutes' must be a number, got None",
        ),
        ("recommend:\n  idle_close_minutes: 0\n", "'recommend.idle_close_minutes' must be positive"),
        ("recommend:\n  context_warning_pct: -5\n", "'recommend.context_warning_pct' must be positive"),
        (
            "recommend:\n  context_warning_pct: 120\n",
            "'recommend.context_warning_pct' must be at most 100 (a percentage)",
        ),
        (
            "recommend:\n  daily_cost_limit_usd: '10 USD'\n",
            "'recommend.daily_cost_limit_usd' must be a number, or null for no limit, got '10 USD'",
        ),
        (
            "recommend:\n  cost_per_hour_limit_usd: 0\n",
            "'recommend.cost_per_hour_limit_usd' must be positive (use null for no limit)",
        ),
        (
            "recommend:\n  burn_rate_tokens_per_min_limit: -1\n",
            "'recommend.burn_rate_tokens_per_min_limit' must be positive (use null for no limit)",
        ),
    ],
)
def test_bad_values_are_clear_errors(tmp_path: Path, text: str, expected: str) -> None:
    assert load_error(tmp_path, text) == expected
