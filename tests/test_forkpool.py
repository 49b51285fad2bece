"""The cold scan's worker processes (forkpool.py): forked from this one and fed by the calling thread
alone. Results come back in order and whole, however large; a task's exception comes back as its text;
a worker that dies fails what it held and everything after, and the pool ends without hanging: when a
worker dies with its pipe held open elsewhere, when another pool's workers hold this one's pipes, when
the caller gives up with tasks still running."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeHome
from factories import write_claude_transcript

from llm_session_manager import forkpool, scan
from llm_session_manager.forkpool import BrokenPool, ForkPool, WorkerError


def _square(n: int) -> int:
    return n * n


def _pid() -> int:
    return os.getpid()


def _blob(n: int, size: int) -> bytes:
    return bytes([n % 251]) * size


def _fail(text: str) -> None:
    raise ValueError(text)


def _die(code: int) -> None:
    os._exit(code)


def _die_holding_the_pipe(code: int) -> None:
    """End this worker while a child of it keeps the worker's end of the result pipe open."""
    if os.fork() == 0:
        time.sleep(2)
        os._exit(0)
    os._exit(code)


def _sleep(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def test_results_come_back_in_order_from_other_processes() -> None:
    with ForkPool(2) as pool:
        tasks = [pool.submit(_square, n) for n in range(200)]
        assert [t.result() for t in tasks] == [n * n for n in range(200)]
        pids = {pool.submit(_pid).result() for _ in range(20)}
        assert os.getpid() not in pids and pids


def test_results_larger_than_the_pipes_come_back_whole() -> None:
    big = 3 * forkpool.PIPE_BYTES + 17  # more than a pipe holds, from both workers at once
    with ForkPool(2) as pool:
        tasks = [pool.submit(_blob, n, big) for n in range(6)]
        for n, task in enumerate(tasks):
            assert task.result() == _blob(n, big)


def test_large_tasks_queued_ahead_reach_their_worker() -> None:
    with ForkPool(2) as pool:
        payload = b"x" * (2 * forkpool.PIPE_BYTES)  # more than the task pipe takes at once
        tasks = [pool.submit(len, payload) for _ in range(8)]
        assert [t.result() for t in tasks] == [len(payload)] * 8


def test_a_task_that_raises_is_its_text_and_the_pool_goes_on() -> None:
    with ForkPool(2) as pool:
        failed = pool.submit(_fail, "bad line 3")
        after = pool.submit(_square, 7)
        with pytest.raises(WorkerError, match="ValueError: bad line 3"):
            failed.result()
        assert after.result() == 49


def test_the_initializer_runs_in_each_worker_before_its_tasks(tmp_path: Path) -> None:
    mark = tmp_path / "marks"
    mark.mkdir()

    def initializer() -> None:
        (mark / str(os.getpid())).touch()

    with ForkPool(2, initializer=initializer) as pool:
        pids = {pool.submit(_pid).result() for _ in range(10)}
    assert pids <= {int(p.name) for p in mark.iterdir()} and len(list(mark.iterdir())) == 2


def test_a_worker_that_dies_breaks_the_pool_without_hanging() -> None:
    with ForkPool(2) as pool:
        doomed = pool.submit(_die, 9)
        with pytest.raises(BrokenPool, match="exit status 9"):
            doomed.result()
        with pytest.raises(BrokenPool):
            pool.submit(_square, 2).result()


def test_a_worker_killed_by_a_signal_says_so() -> None:
    with ForkPool(1) as pool:
        pid = pool.submit(_pid).result()
        task = pool.submit(_sleep, 30)
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(BrokenPool, match="killed by signal 9"):
            task.result()


def test_a_worker_dead_while_its_pipe_stays_open_is_seen(monkeypatch: pytest.MonkeyPatch) -> None:
    """The end of the result pipe never comes while another process holds it: the wait looks at the
    worker process itself."""
    monkeypatch.setattr(forkpool, "LIVENESS_SECONDS", 0.05)
    with ForkPool(1) as pool:
        task = pool.submit(_die_holding_the_pipe, 3)
        started = time.monotonic()
        with pytest.raises(BrokenPool, match="exit status 3"):
            task.result()
        assert time.monotonic() - started < 1.5  # before the grandchild lets go of the pipe


def test_giving_up_with_tasks_running_kills_the_workers() -> None:
    started = time.monotonic()
    with pytest.raises(RuntimeError), ForkPool(2) as pool:
        pids = {pool.submit(_pid).result() for _ in range(10)}
        for _ in range(4):
            pool.submit(_sleep, 30)
        raise RuntimeError("the caller failed")
    assert time.monotonic() - started < 10
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reaped


def test_another_pools_workers_holding_its_pipes_do_not_keep_it_open() -> None:
    """A pool forked while another is open (two scans in two threads of a server) inherits the first
    one's ends of its pipes; the first still stops and is waited for."""
    first = ForkPool(2)
    second = ForkPool(2)
    try:
        assert first.submit(_square, 3).result() == 9
        assert second.submit(_square, 4).result() == 16
        started = time.monotonic()
        first.close()
        assert time.monotonic() - started < 5
        assert second.submit(_square, 5).result() == 25
    finally:
        first.close()
        second.close()


def test_a_closed_pool_answers_nothing() -> None:
    pool = ForkPool(1)
    pending = pool.submit(_sleep, 0.2)
    pool.close()
    with pytest.raises(BrokenPool):
        pending.result()


def test_the_scans_pool_is_this_one_and_mapped_work_comes_back_in_order() -> None:
    items = list(range(scan.POOL_CHUNK * 5 + 3))
    with scan._pool(2) as pool:
        assert isinstance(pool, ForkPool)
        assert list(scan._mapped(pool, _square, items)) == [n * n for n in items]


def test_a_pool_imports_no_multiprocessing() -> None:
    """Its point: the executor's threads and imports are what it saves a cold scan."""
    code = (
        "import sys\n"
        "from llm_session_manager import scan\n"
        "with scan._pool(2) as pool:\n"
        "    assert pool.submit(abs, -3).result() == 3\n"
        "print(sorted(m for m in ('multiprocessing', 'concurrent.futures') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr


# A worker killed in a real scan (the out-of-memory killer, a signal): that agent's sessions are left
# out with one line saying why, never a traceback, and nothing half-done is kept as the scan's result.

_real_row_job = scan._row_job


def _row_job_dying_on_the_third(args: Any) -> Any:
    """scan._row_job, except that the worker reading the file whose name ends in ``-2.jsonl`` dies."""
    if str(args[2]).endswith("-2.jsonl"):
        os._exit(9)
    return _real_row_job(args)


def test_a_worker_killed_in_a_cold_scan_is_one_agents_error(
    fake_home: FakeHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    at = datetime.now(timezone.utc) - timedelta(hours=1)
    for n in range(6):
        write_claude_transcript(fake_home.projects, fake_home.home / "app", f"sess-{n}", at=at)
    monkeypatch.setattr(scan, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(scan, "_workers", lambda: 2)
    monkeypatch.setattr(scan, "_row_job", _row_job_dying_on_the_third)
    broken = fake_home.run("list", "--all", "--format", "json")
    assert broken.returncode == 0 and json.loads(broken.stdout) == []
    assert "Traceback" not in broken.stderr
    [line] = broken.stderr.strip().splitlines()
    assert "claude-code" in line and "a worker process ended without answering (exit status 9)" in line
    monkeypatch.setattr(scan, "_row_job", _real_row_job)
    again = fake_home.run("list", "--all", "--format", "json")  # nothing of the broken scan was kept
    assert again.returncode == 0 and not again.stderr
    assert {f"sess-{n}" for n in range(6)} <= {d["native_id"] for d in json.loads(again.stdout)}
