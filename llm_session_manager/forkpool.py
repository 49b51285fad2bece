"""Worker processes forked from this one, fed and read by the calling thread alone.

A cold scan hands a few hundred tasks to two workers and takes back ~30 MB of saved state per 1,500
sessions. ``concurrent.futures.ProcessPoolExecutor`` does this through a management thread and a queue
feeder thread in the parent: at 1,500 sessions they took ~60 ms of the parent's CPU (most of it waking
up and waiting for the interpreter lock beside the thread that saves the states), and their imports
(multiprocessing, logging, socket, tempfile, subprocess) ~12 ms of the start. Here each worker has a pipe
for its tasks and one for its results; the caller's thread writes tasks and reads results whenever it
submits or waits for one, and the workers run ahead on what their pipes hold.

Only where ``os.fork`` exists (the caller uses ProcessPoolExecutor elsewhere). A task is a picklable
function and arguments; its exception comes back as ``WorkerError`` with its text. A worker that dies (a
crash in compiled code, a signal) fails the tasks it held and every later one: ``BrokenPool``. Workers
are told to stop by a message, not by the end of their pipe (another process forked meanwhile may hold
its other end), and a worker's death is seen by its process, not by the end of its result pipe alone.
At the pool's end, a worker still holding tasks (the caller gave up: an error, ^C) is killed: workers
only read, so nothing of theirs is left half-written.
"""

from __future__ import annotations

import contextlib
import os
import select
import struct
import sys
from collections import deque
from collections.abc import Callable
from typing import Any

_HEAD = struct.Struct("<Q")  # the byte length of the pickle that follows; 0: stop
PIPE_BYTES = 1 << 20  # asked of the kernel for each pipe, so that a worker rarely waits for the caller
LIVENESS_SECONDS = 1.0  # how often a wait looks whether the workers it waits for are still there


class PoolError(Exception):
    """Work handed to the pool did not come back."""


class WorkerError(PoolError):
    """A task raised in its worker (the text of that exception)."""


class BrokenPool(PoolError):
    """A worker ended without answering its tasks."""


class Task:
    """A submitted call; ``result()`` waits for it (reading whatever else has come meanwhile)."""

    __slots__ = ("_done", "_error", "_pool", "_value")

    def __init__(self, pool: ForkPool) -> None:
        self._pool = pool
        self._done = False
        self._value: Any = None
        self._error: BaseException | None = None

    def result(self) -> Any:
        while not self._done:
            if not self._pool._pump(block=True):  # no worker holds it (the pool was closed)
                self._error, self._done = BrokenPool("the pool was closed before answering"), True
        if self._error is not None:
            raise self._error
        return self._value


class _Worker:
    __slots__ = ("alive", "held", "inbox", "out", "pid", "results", "tasks")

    def __init__(self, pid: int, tasks: int, results: int) -> None:
        self.pid = pid
        self.tasks = tasks  # our end of the pipe it reads tasks from (non-blocking)
        self.results = results  # our end of the pipe it writes results to
        self.out = bytearray()  # task bytes not yet taken by the pipe
        self.inbox = bytearray()  # result bytes not yet a whole result
        self.held: deque[Task] = deque()  # its tasks, in the order it answers them
        self.alive = True  # until ``_died``, which also takes it out of the pool's list


class ForkPool:
    """``size`` workers, forked now; ``initializer`` runs first in each. Use as a context manager: at its
    end the workers are told to stop and waited for (``close``)."""

    def __init__(self, size: int, initializer: Callable[[], None] | None = None) -> None:
        self._workers: list[_Worker] = []
        self._broken: str | None = None
        try:
            for _ in range(size):
                self._workers.append(_fork(initializer, self._workers))
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> ForkPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Task:
        """``fn(*args)`` in the worker holding the fewest tasks."""
        task = Task(self)
        if self._broken is not None:
            task._error, task._done = BrokenPool(self._broken), True
            return task
        import pickle  # here, not at import: the scan imports this module for PoolError alone

        worker = min(self._workers, key=lambda w: len(w.held))
        body = pickle.dumps((fn, args), pickle.HIGHEST_PROTOCOL)
        worker.out += _HEAD.pack(len(body))
        worker.out += body
        worker.held.append(task)
        self._pump(block=False)
        return task

    def _pump(self, block: bool) -> bool:
        """Write what the task pipes take and read what the result pipes hold; with ``block``, wait until
        something has moved (looking every LIVENESS_SECONDS whether the workers waited for are alive).
        False when no worker holds anything."""
        poller = select.poll()
        watched: dict[int, tuple[_Worker, bool]] = {}
        for w in self._workers:
            if w.out:
                poller.register(w.tasks, select.POLLOUT)
                watched[w.tasks] = (w, True)
            if w.held:
                poller.register(w.results, select.POLLIN)
                watched[w.results] = (w, False)
        if not watched:
            return False
        events = poller.poll(int(LIVENESS_SECONDS * 1000) if block else 0)
        for fd, _events in events:
            worker, writing = watched[fd]
            if not worker.alive:  # died on an earlier event of this round
                continue
            if writing:
                self._send(worker)
            else:
                self._receive(worker)
        if block and not events:
            self._look_for_the_dead()
        return True

    def _look_for_the_dead(self) -> None:
        for w in list(self._workers):
            if (w.held or w.out) and (status := _ended(w.pid)) is not None:
                self._died(w, status)

    def _send(self, worker: _Worker) -> None:
        try:
            sent = os.write(worker.tasks, worker.out)
        except BlockingIOError:
            return
        except BrokenPipeError:
            self._died(worker)
            return
        del worker.out[:sent]

    def _receive(self, worker: _Worker) -> None:
        import pickle

        chunk = os.read(worker.results, PIPE_BYTES)
        if not chunk:
            self._died(worker)
            return
        inbox = worker.inbox
        inbox += chunk
        start = 0
        while len(inbox) - start >= _HEAD.size:
            (size,) = _HEAD.unpack_from(inbox, start)
            end = start + _HEAD.size + size
            if len(inbox) < end:
                break
            ok, value = pickle.loads(memoryview(inbox)[start + _HEAD.size : end])
            task = worker.held.popleft()
            if ok:
                task._value = value
            else:
                task._error = WorkerError(value)
            task._done = True
            start = end
        del inbox[:start]

    def _died(self, worker: _Worker, status: int | None = None) -> None:
        worker.alive = False
        how = _how(_reap(worker.pid) if status is None else status)
        self._break(f"a worker process ended without answering ({how})")
        self._workers.remove(worker)
        _close(worker.tasks)
        _close(worker.results)

    def _break(self, why: str) -> None:
        self._broken = self._broken or why
        for w in self._workers:
            while w.held:
                task = w.held.popleft()
                task._error, task._done = BrokenPool(self._broken), True
            w.out.clear()

    def close(self) -> None:
        """Tell the workers to stop and wait for them; kill those still holding tasks (whose answers
        nobody waits for any more)."""
        import signal

        workers, self._workers = self._workers, []
        broken, self._broken = self._broken, self._broken or "the pool was closed"
        for w in workers:
            stopped = False
            if broken is None and not w.held and not w.out:
                with contextlib.suppress(OSError):
                    stopped = os.write(w.tasks, _HEAD.pack(0)) == _HEAD.size
            if not stopped:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(w.pid, signal.SIGKILL)
            _close(w.tasks)
        for w in workers:
            _close(w.results)  # a worker writing to it now gets EPIPE and ends
            _reap(w.pid)


def _fork(initializer: Callable[[], None] | None, siblings: list[_Worker]) -> _Worker:
    task_r, task_w = os.pipe()
    result_r, result_w = os.pipe()
    for fd in (task_w, result_w):
        _enlarge(fd)
    pid = os.fork()
    if pid == 0:  # the worker: it never returns into the caller's code
        status = 0
        try:
            os.close(task_w)
            os.close(result_r)
            for s in siblings:  # their pipes: a worker holding them would keep them open
                _close(s.tasks)
                _close(s.results)
            _serve(task_r, result_w, initializer)
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    os.close(task_r)
    os.close(result_w)
    os.set_blocking(task_w, False)
    return _Worker(pid, task_w, result_r)


def _serve(tasks: int, results: int, initializer: Callable[[], None] | None) -> None:
    """A worker's loop: read a task, run it, write its result, until told to stop (or the pipe ends)."""
    import pickle
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the caller decides; it closes the pipes
    if initializer is not None:
        initializer()
    reader = os.fdopen(tasks, "rb", buffering=PIPE_BYTES)
    while True:
        head = reader.read(_HEAD.size)
        if len(head) < _HEAD.size:
            return
        (size,) = _HEAD.unpack(head)
        if size == 0:
            return
        body = reader.read(size)
        if len(body) < size:
            return
        try:
            fn, args = pickle.loads(body)
            answer: tuple[bool, Any] = (True, fn(*args))
            out = pickle.dumps(answer, pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            out = pickle.dumps((False, f"{type(exc).__name__}: {exc}"), pickle.HIGHEST_PROTOCOL)
        del body
        _write_all(results, _HEAD.pack(len(out)))
        _write_all(results, out)
        del out


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _enlarge(fd: int) -> None:
    if sys.platform.startswith("linux"):
        import fcntl

        # Over the system's limit for a user: the default size works, waiting more.
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)


def _close(fd: int) -> None:
    with contextlib.suppress(OSError):
        os.close(fd)


def _ended(pid: int) -> int | None:
    """The wait status of ``pid`` if it has ended (it is then reaped), else None."""
    try:
        done, status = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:  # reaped by someone else
        return 0
    return status if done else None


def _reap(pid: int) -> int:
    """Wait for ``pid`` to end; its wait status."""
    try:
        return os.waitpid(pid, 0)[1]
    except ChildProcessError:  # reaped already
        return 0


def _how(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"killed by signal {os.WTERMSIG(status)}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"
