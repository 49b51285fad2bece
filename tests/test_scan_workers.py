"""How many worker processes a cold scan starts: the cores free right now, not the 1-minute load
average (it lags a minute and counts lsm's own previous run, so an idle two-core machine running lsm
twice in a row would scan on one core)."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest

from llm_session_manager import scan


def fake_proc(monkeypatch: pytest.MonkeyPatch, cores: int, runnable: list[int], load: float) -> None:
    """``cores`` usable, /proc/loadavg showing each of ``runnable`` in turn (this process included),
    and ``load`` as the 1-minute load average."""
    looks: Iterator[int] = iter(runnable)

    def fake_open(path: str, mode: str = "r", *args: Any, **kwargs: Any) -> io.BytesIO:
        assert path == "/proc/loadavg" and mode == "rb"
        return io.BytesIO(f"{load:.2f} 0.50 0.40 {next(looks)}/321 4567\n".encode())

    monkeypatch.setattr(scan, "open", fake_open, raising=False)
    monkeypatch.setattr(scan.os, "sched_getaffinity", lambda pid: set(range(cores)))
    monkeypatch.setattr(scan.os, "getloadavg", lambda: (load, 0.5, 0.4))


def test_an_idle_machine_just_after_a_run_gets_a_pool(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_proc(monkeypatch, cores=2, runnable=[1, 1, 1], load=1.2)  # the load of our own last run
    assert scan._workers() == 2


def test_no_pool_while_the_other_core_is_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_proc(monkeypatch, cores=2, runnable=[2, 2, 2], load=0.1)  # a job started a moment ago
    assert scan._workers() == 1


def test_a_passing_blip_is_not_a_busy_core(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_proc(monkeypatch, cores=2, runnable=[3, 1, 1], load=0.0)
    assert scan._workers() == 2
    fake_proc(monkeypatch, cores=8, runnable=[3, 4, 12], load=0.0)
    assert scan._workers() == 4  # never more than 4


def test_without_proc_the_load_average_decides(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_proc(*args: Any, **kwargs: Any) -> io.BytesIO:
        raise FileNotFoundError("/proc/loadavg")

    fake_proc(monkeypatch, cores=2, runnable=[], load=0.2)
    monkeypatch.setattr(scan, "open", no_proc, raising=False)
    assert scan._workers() == 2
    monkeypatch.setattr(scan.os, "getloadavg", lambda: (1.4, 1.0, 1.0))
    assert scan._workers() == 1


def _square(n: int) -> int:
    return n * n


class CountingPool:
    """Runs each task at once, counting the tasks submitted and not yet collected."""

    def __init__(self) -> None:
        self.outstanding = self.most = 0

    def submit(self, fn: Any, *args: Any) -> Any:
        from concurrent.futures import Future

        self.outstanding += 1
        self.most = max(self.most, self.outstanding)
        future: Future[Any] = Future()
        future.set_result(fn(*args))
        pool = self

        class Collected:
            def result(self) -> Any:
                pool.outstanding -= 1
                return future.result()

        return Collected()


def test_pooled_work_comes_back_in_order_with_few_tasks_queued() -> None:
    from concurrent.futures import ProcessPoolExecutor

    items = list(range(scan.POOL_CHUNK * 5 + 3))  # the last task is a short one
    with ProcessPoolExecutor(max_workers=2) as pool:
        assert list(scan._mapped(pool, _square, items)) == [n * n for n in items]
    counting = CountingPool()
    many = list(range(scan.POOL_CHUNK * scan.POOL_AHEAD * 4))
    assert list(scan._mapped(counting, _square, many)) == [n * n for n in many]
    assert counting.most == scan.POOL_AHEAD  # Executor.map would have queued all 32 at once
    assert list(scan._mapped(counting, _square, [])) == []
