"""The marker table of tests/conftest.py names files that exist and markers pyproject.toml registers."""

from __future__ import annotations

import pytest
from conftest import MARKED_FILES, REPO


def test_every_marked_file_exists() -> None:
    missing = [name for name in MARKED_FILES if not (REPO / "tests" / name).is_file()]
    assert not missing, f"tests/conftest.py MARKED_FILES names files that are gone: {missing}"


def test_every_marker_is_registered(pytestconfig: pytest.Config) -> None:
    registered = {line.split(":", 1)[0] for line in pytestconfig.getini("markers")}
    used = {name for markers, _word in MARKED_FILES.values() for name in markers}
    assert {"slow", "tmux", "chroma"} <= registered
    assert used <= registered, used - registered
