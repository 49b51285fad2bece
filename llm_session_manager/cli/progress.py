"""A progress bar on stderr for a long scan (the first `lsm list` over a large history).

``scan_progress()`` gives the service a plain ``ScanProgress`` (scan.py) to tell, or None when stderr
is not a terminal: piped or redirected, nothing is drawn. The bar appears only once the scan has taken
``DELAY`` seconds (a warm scan never shows it), shows files, megabytes and the time left (then
"merging sessions" once every file is read), and is erased when the scan is over, before the command
prints its table.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from llm_session_manager.api.context import Context

DELAY = 1.0  # seconds of scanning before the bar appears


def scan_progress() -> ScanBar | None:
    """A bar on stderr, when stderr is a terminal; None otherwise."""
    stream = sys.stderr
    if stream is None or not stream.isatty():
        return None
    return ScanBar()


class ScanBar:
    """``ScanProgress`` drawn with Rich once the scan has lasted ``delay`` seconds. Thread-safe: the
    timer that shows the bar and the scan's calls may come from different threads."""

    def __init__(
        self,
        console: Any = None,
        delay: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._console = console  # a rich Console; None: a new one on stderr
        self._delay = DELAY if delay is None else delay
        self._clock = clock
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._progress: Any = None
        self._task: Any = None
        self._started: float | None = None
        self._over = False
        self.files = self.files_done = self.bytes = self.bytes_done = 0

    def planned(self, files: int, nbytes: int) -> None:
        with self._lock:
            self.files += files
            self.bytes += nbytes
            if self._started is None:
                self._started = self._clock()
                self._over = False
                self._timer = threading.Timer(self._delay, self.show)
                self._timer.daemon = True
                self._timer.start()
            self._refresh()

    def advanced(self, files: int, nbytes: int) -> None:
        with self._lock:
            self.files_done += files
            self.bytes_done += nbytes
            started = self._started
            if self._progress is None and started is not None and self._clock() - started >= self._delay:
                self._show()
            self._refresh()

    def finished(self) -> None:
        """The scan is over: the bar (if shown) is erased, and the next scan starts afresh."""
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            if self._progress is not None:
                self._progress.stop()
            self._progress = self._task = self._timer = self._started = None
            self._over = True
            self.files = self.files_done = self.bytes = self.bytes_done = 0

    @property
    def shown(self) -> bool:
        return self._progress is not None

    def show(self) -> None:
        """Draw the bar now (the timer calls this after ``delay``)."""
        with self._lock:
            self._show()

    def _show(self) -> None:
        if self._progress is not None or self._over:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        console = self._console or Console(stderr=True)
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[files]}"),
            DownloadColumn(binary_units=False),
            TimeRemainingColumn(),
            console=console,
            transient=True,
        )
        self._task = self._progress.add_task("", total=self.bytes, completed=self.bytes_done, files="")
        self._refresh()
        self._progress.start()

    def _refresh(self) -> None:
        if self._progress is None:
            return
        files = f"{self.files_done:,}/{self.files:,} files"
        # Once every file is read the sessions are merged, which takes a while on a large history too.
        what = "merging sessions" if self.bytes_done >= self.bytes else "scanning agent logs"
        self._progress.update(
            self._task, description=what, total=self.bytes, completed=self.bytes_done, files=files
        )


def with_progress(ctx: Context) -> Context:
    """``ctx`` with a progress bar for its scans (when stderr is a terminal)."""
    ctx.progress = scan_progress()
    return ctx
