"""Checkpointing a write-ahead log from a thread of its own while one connection writes much.

In WAL mode a commit that leaves more than ``wal_autocheckpoint`` pages in the log copies them into the
database there and then, and waits for the disk twice (the log, then the database). A cold scan commits
about 80 MB of saved state at 6,000 sessions; on this project's test machine those waits took 0.6 s of
the 1.0 s its saving took, and while the scanning thread waited no worker got new files to read. Here the
writer's connection stops checkpointing and a thread with its own connection checkpoints instead, as
each few MB are written. SQLite lets a checkpoint run beside a writer and readers (PASSIVE), the thread
waits for the disk without the GIL, and what is durable when is unchanged: with ``synchronous=NORMAL``
the log is synced at checkpoints, whoever runs them.

The thread outlives the block that started it: it makes one last checkpoint of what the block wrote and
closes its connection, while the caller goes on (a command's remaining work overlaps that wait; the
interpreter waits for the thread before exiting, as for any non-daemon thread). When that connection is
the database's last, closing it removes the log under an exclusive lock (tens of milliseconds for a
cold scan's, more on a file system that discards freed blocks at once), and a connection opened
meanwhile waits: a listing makes its outputs before it opens one (``fastlist.remember``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from llm_session_manager.store.db import database_file

# Bytes written between two checkpoints: SQLite's own default is 1,000 pages (4 MB at 4 KiB pages).
EVERY_BYTES = 4 << 20


class Checkpoints:
    """Told how much the writer wrote (``written``); checkpoints in a thread every ``EVERY_BYTES``. The
    thread starts at the first of them: a scan forks its workers before it writes, and a process must not
    fork while another thread may hold SQLite's or the allocator's locks (``settle``)."""

    def __init__(self, file: Path | None) -> None:
        self.file = file
        self._wake = threading.Event()
        self._last = False  # the block is over: one more checkpoint, then the thread ends
        self._since = 0
        self._wrote = False
        self._begun = threading.Event()  # a checkpoint begun after the block ended (or the thread ended)
        self._checkpointing = False  # the thread is in a checkpoint now
        self.thread: threading.Thread | None = None
        self.done = 0  # checkpoints the thread ran
        self.error: str | None = None  # why the thread gave up, if it did

    def written(self, nbytes: int) -> None:
        if self.file is None:
            return
        self._wrote = True
        self._since += nbytes
        if self._since >= EVERY_BYTES:
            self._since = 0
            self._start()
            self._wake.set()

    def finish(self) -> None:
        """The block is over: the thread checkpoints what is left and closes, without being waited for
        beyond the start of that checkpoint. The writer's connection checkpoints on its own again after
        this, at its next commit past ``wal_autocheckpoint`` pages, and the log is far past that: had
        the writer's commit come first (the scans of other agents commit right after a cold one), it
        would have run the whole checkpoint itself, waiting for the disk, and the thread's would have
        found the log busy. Begun, the thread's holds the checkpoint lock, and the writer's gives way."""
        self._last = True
        if self._wrote:
            self._start()
        self._wake.set()
        if self.thread is not None and not self._checkpointing:  # (one running holds the lock already)
            self._begun.wait(timeout=5.0)

    def _start(self) -> None:
        if self.thread is None:
            thread = threading.Thread(target=self._run, name="lsm-checkpoints")
            # Started before ``settle`` can see it (another thread's scan may be about to fork): it
            # joins what it finds, and a thread not started yet cannot be joined. The thread takes the
            # lock only to leave the set, after this.
            with _LOCK:
                thread.start()
                _RUNNING.add(thread)
            self.thread = thread

    def _run(self) -> None:
        try:
            self._checkpoints()
        finally:
            self._begun.set()
            with _LOCK:
                _RUNNING.discard(threading.current_thread())

    def _checkpoints(self) -> None:
        try:
            conn = sqlite3.connect(str(self.file), timeout=10, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            self.error = str(exc)
            return
        try:
            conn.execute("PRAGMA synchronous=NORMAL")
            while True:
                self._wake.wait()
                self._wake.clear()
                last = self._last  # read before: a block ending during this checkpoint wakes us again
                self._checkpointing = True  # before _last is read again: finish() reads them in turn
                if self._last:
                    self._begun.set()  # the writer goes on as the statement takes the lock (GIL released)
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                finally:
                    self._checkpointing = False
                self.done += 1
                if last:
                    return
        except sqlite3.Error as exc:  # the writer's next checkpoint does it
            self.error = str(exc)
        finally:
            conn.close()


_LOCK = threading.Lock()
_RUNNING: set[threading.Thread] = set()


def settle() -> None:
    """Wait for the checkpoint threads still running (before forking)."""
    with _LOCK:
        running = list(_RUNNING)
    for thread in running:
        thread.join()


@contextmanager
def checkpointed_aside(conn: sqlite3.Connection) -> Iterator[Checkpoints]:
    """While the block writes through ``conn``, its WAL is checkpointed by ``Checkpoints``' thread; after
    it, ``conn`` checkpoints as it did before. A database in memory is left as it is."""
    file = database_file(conn)
    if file is None or conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
        yield Checkpoints(None)
        return
    before = int(conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0])
    conn.execute("PRAGMA wal_autocheckpoint=0")
    aside = Checkpoints(file)
    try:
        yield aside
    finally:
        aside.finish()
        conn.execute(f"PRAGMA wal_autocheckpoint={before}")
