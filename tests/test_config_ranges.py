"""Numbers in the config are finite and within documented ranges: NaN, infinities and absurd sizes are
one clear error, never a busy loop, a crash or `$nan`."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import FakeHome

from llm_session_manager.config import ConfigError, load


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("idle_minutes: .nan\n", "'idle_minutes' must be a finite number"),
        ("dashboard:\n  refresh_interval: .inf\n", "'dashboard.refresh_interval' must be a finite number"),
        (
            "dashboard:\n  refresh_interval: 1.0e-9\n",
            "'dashboard.refresh_interval' must be between 0.2 and 3600",
        ),
        ("aider:\n  max_depth: 1000000000\n", "'aider.max_depth' must be between 0 and 32"),
        ("recent_hours: -.inf\n", "'recent_hours' must be a finite number"),
        ("models:\n  acme:\n    input: .nan\n", "'models.acme.input' must be a finite number"),
        ("health:\n  weights:\n    tokens: .nan\n", "'health.weights.tokens' must be a finite number"),
        (
            "recommend:\n  daily_cost_limit_usd: .inf\n",
            "'recommend.daily_cost_limit_usd' must be a finite number",
        ),
    ],
)
def test_non_finite_and_out_of_range_numbers_are_refused(tmp_path: Path, text: str, needle: str) -> None:
    file = tmp_path / "config.yaml"
    file.write_text(text)
    with pytest.raises(ConfigError) as info:
        load(file)
    assert needle in str(info.value)


def test_cli_reports_a_nan_config_in_one_line(fake_home: FakeHome) -> None:
    config = fake_home.home / ".config" / "llm-session-manager" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text("models:\n  claude-sonnet-4-5:\n    input: .nan\n")
    r = fake_home.run("list", "--all")
    assert r.returncode == 1
    assert "Traceback" not in r.stderr and "$nan" not in r.stdout
    assert r.stderr.strip().splitlines() == [
        f"lsm: error: {config}: 'models.claude-sonnet-4-5.input' must be a finite number, got nan"
    ]


@pytest.mark.parametrize("value", ["nan", "inf", "1e-9", "-1", "5000"])
def test_monitor_interval_must_be_a_sane_number(fake_home: FakeHome, value: str) -> None:
    r = fake_home.run("monitor", "--interval", value)
    assert r.returncode == 2
    assert "--interval" in r.stderr and "Traceback" not in r.stderr
