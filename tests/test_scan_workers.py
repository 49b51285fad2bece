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

    from llm_session_manager.forkpool import ForkPool

    items = list(range(scan.POOL_CHUNK * 5 + 3))  # the last task is a short one
    with ProcessPoolExecutor(max_workers=2) as pool:  # where the system does not fork
        assert list(scan._mapped(pool, _square, items)) == [n * n for n in items]
    with ForkPool(2) as forked:
        assert list(scan._mapped(forked, _square, items)) == [n * n for n in items]
    counting = CountingPool()
    many = list(range(scan.POOL_CHUNK * scan.POOL_AHEAD * 4))
    assert list(scan._mapped(counting, _square, many)) == [n * n for n in many]
    assert counting.most == scan.POOL_AHEAD  # Executor.map would have queued all 32 at once
    assert list(scan._mapped(counting, _square, [])) == []


ARENAS = r"""
import ctypes, os, sys, tempfile, threading

libc = ctypes.CDLL(None)
libc.fdopen.restype = ctypes.c_void_p
libc.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
libc.fflush.argtypes = (ctypes.c_void_p,)


def heaps() -> int:
    with tempfile.TemporaryFile() as fh:
        fp = libc.fdopen(os.dup(fh.fileno()), b"w")
        libc.malloc_info(0, fp)
        libc.fflush(fp)
        fh.seek(0)
        return fh.read().count(b"<heap nr=")


if sys.argv[1] == "lean":
    from llm_session_manager import scan

    with scan._pool(2) as pool:
        assert pool.submit(abs, -3).result() == 3
kept = []
worker = threading.Thread(target=lambda: kept.extend(bytes(64 * 1024) for _ in range(64)))
worker.start()
worker.join()
print(heaps())
"""


@pytest.mark.parametrize("lean", [True, False])
def test_a_pool_keeps_every_thread_of_this_process_in_one_malloc_arena(lean: bool) -> None:
    """Each thread gets a malloc arena of its own by default (results came back through the executor's
    threads; the checkpoint thread allocates beside a scan), and what passed through them stayed in the
    process (each forked worker counting it again). Once a pool has run, a thread allocating uses the
    one arena. The case without a pool shows the test can tell the difference."""
    import subprocess
    import sys

    got = subprocess.run(
        [sys.executable, "-c", ARENAS, "lean" if lean else "plain"],
        capture_output=True,
        text=True,
        check=True,
    )
    heaps = int(got.stdout)
    assert heaps == 1 if lean else heaps > 1, got.stdout


def test_a_c_library_without_mallopt_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    import ctypes

    def no_libc(name: object) -> object:
        raise OSError("no such library")

    monkeypatch.setattr(scan, "_LEAN", False)
    monkeypatch.setattr(ctypes, "CDLL", no_libc)
    scan._lean_allocator()  # no error: the pool runs with the allocator as it is
    assert scan._LEAN


def test_another_c_library_is_not_given_glibcs_parameters(monkeypatch: pytest.MonkeyPatch) -> None:
    """-3 and -8 are glibc's M_MMAP_THRESHOLD and M_ARENA_MAX; another libc's mallopt is not called."""
    import ctypes

    def not_glibc(name: str) -> str:
        raise ValueError("unrecognized configuration name")

    def must_not_load(name: object) -> object:
        raise AssertionError("mallopt looked up on another C library")

    monkeypatch.setattr(scan, "_LEAN", False)
    monkeypatch.setattr(scan.os, "confstr", not_glibc)
    monkeypatch.setattr(ctypes, "CDLL", must_not_load)
    scan._lean_allocator()
    assert scan._LEAN
