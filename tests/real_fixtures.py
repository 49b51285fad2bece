"""Logs written by the real agent CLIs (tests/fixtures/real/<agent>-<version>/), and their truth.

Each capture folder holds ``home/`` (the HOME the agent wrote into, laid out as on disk), ``truth.json``
(computed by manual_tests/real_agents from the model stub's log, never from lsm) and ``PROVENANCE.md``.
``truth.json``::

    {"agent": "claude-code", "version": "2.1.197", "home": "/home/dev",
     "sessions": [{"native_id": "...", "scenario": "one-shot",
                   "tokens": {"input": 0, "output": 0, "cache_creation": 0, "cache_read": 0},
                   "messages": {"user": 1, "assistant": 1}, "tool_calls": 0, "tool_errors": 0,
                   "model": "...", "context_tokens": 0, "context_window": 0,
                   "project_path": "/home/dev/work/x", "status": "ended", ...optional keys}]}

Every key present in a truth session is compared with the same key of ``lsm list --all --format json``;
``tokens`` compares the four fields only (not ``total``/``source``).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.conftest import FakeHome

REAL = Path(__file__).parent / "fixtures" / "real"
# Keys of a truth session that describe the capture, not an lsm field.
NOT_COMPARED = {"native_id", "scenario", "note"}


def capture_dirs(agent: str) -> list[Path]:
    """Every captured version of ``agent`` (folders named <agent>-<version>)."""
    return sorted(p for p in REAL.glob(f"{agent}-*") if (p / "truth.json").is_file())


def load_truth(capture: Path) -> dict[str, Any]:
    truth: dict[str, Any] = json.loads((capture / "truth.json").read_text(encoding="utf-8"))
    return truth


def install(capture: Path, home: Path) -> dict[str, Any]:
    """Copy the captured HOME into ``home`` (a test's fake HOME) and return the truth."""
    shutil.copytree(capture / "home", home, dirs_exist_ok=True, symlinks=True)
    return load_truth(capture)


def differences(row: dict[str, Any], want: dict[str, Any]) -> list[str]:
    """Where lsm's JSON row disagrees with a truth session (empty when it is exact)."""
    out: list[str] = []
    for key, expected in want.items():
        if key in NOT_COMPARED:
            continue
        got = row.get(key)
        if key == "tokens":
            got = {k: (got or {}).get(k) for k in expected}
        if got != expected:
            out.append(f"{key}: lsm {got!r} != truth {expected!r}")
    return out


def compare(rows: list[dict[str, Any]], truth: dict[str, Any]) -> dict[str, list[str]]:
    """native id -> differences, for every truth session (a missing session is one difference)."""
    by_native = {r["native_id"]: r for r in rows if r["agent"] == truth["agent"]}
    report: dict[str, list[str]] = {}
    for want in truth["sessions"]:
        row = by_native.get(want["native_id"])
        report[want["native_id"]] = ["session not listed by lsm"] if row is None else differences(row, want)
    return report


def listed(tmp_path: Path, capture: Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``lsm list --all --format json`` over the capture installed in an empty fake HOME, and its truth."""
    home = tmp_path / "home"
    fh = FakeHome(home=home, claude=home / ".claude", lsm_home=tmp_path / "lsm-data")
    truth = install(capture, home)
    result = fh.run("list", "--all", "--format", "json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), truth


def truth_of(capture: Path, scenario: str) -> dict[str, Any]:
    """The truth of the session captured for ``scenario``."""
    for want in load_truth(capture)["sessions"]:
        if want["scenario"] == scenario:
            return dict(want)
    raise AssertionError(f"no {scenario!r} session in {capture}")
