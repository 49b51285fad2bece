"""A collect runs with Python's cyclic garbage collector off (it walked the thousands of sessions and views
being made, again and again) and leaves it as it found it, even when the scan fails."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from conftest import FakeHome

from llm_session_manager import config as config_mod
from llm_session_manager import service
from llm_session_manager.paths import resolve


@pytest.fixture
def gc_state() -> Iterator[None]:
    was = gc.isenabled()
    yield
    if was:
        gc.enable()
    else:
        gc.disable()


def collected(fh: FakeHome, monkeypatch: pytest.MonkeyPatch) -> tuple[service.Collected, list[bool]]:
    """A collect of the fixture sessions, and whether the collector was on at each reader's scan."""
    for key, value in fh.env().items():
        if key in ("HOME", "LSM_HOME", "LSM_DISCOVERY"):
            monkeypatch.setenv(key, value)
    seen: list[bool] = []
    real = service.scan_agent

    def noted(*args: object, **kwargs: object) -> object:
        seen.append(gc.isenabled())
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "scan_agent", noted)
    paths = resolve()
    return service.collect(paths, config_mod.load(paths.config_file), processes=False), seen


def test_the_collector_is_off_during_a_collect_and_back_on_after(
    fake_home: FakeHome, monkeypatch: pytest.MonkeyPatch, gc_state: None
) -> None:
    gc.enable()
    result, seen = collected(fake_home, monkeypatch)
    assert result.views and seen and not any(seen)
    assert gc.isenabled()


def test_a_caller_that_turned_it_off_finds_it_off(
    fake_home: FakeHome, monkeypatch: pytest.MonkeyPatch, gc_state: None
) -> None:
    gc.disable()
    result, seen = collected(fake_home, monkeypatch)
    assert result.views and not any(seen)
    assert not gc.isenabled()


def test_a_failing_collect_turns_it_back_on(
    fake_home: FakeHome, monkeypatch: pytest.MonkeyPatch, gc_state: None
) -> None:
    gc.enable()

    def broken(*args: object, **kwargs: object) -> object:
        raise RuntimeError("boom")

    monkeypatch.setattr(service, "scan_agent", broken)
    paths = resolve()
    with pytest.raises(RuntimeError):
        service.collect(paths, config_mod.load(paths.config_file), processes=False)
    assert gc.isenabled()
