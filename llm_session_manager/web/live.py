"""Live rows: the sessions table's rows kept in memory, refreshed in the background and pushed to the
browsers as Server-Sent Events.

- At start-up the first (possibly cold) scan runs in a worker thread while pages are already served:
  the sessions page shows how far the scan has read (``progress`` events) and fills in when it ends.
- While a browser listens on ``/events`` the sessions are listed again every ``interval`` seconds (or
  three times as long as the last scan took, whichever is longer, so a large machine is not rescanned
  back to back) and each row that changed is pushed. Nobody listening, nothing is scanned. The scan is
  the one-shot incremental scan every command runs (only changed files are read).
- Pages are drawn from the last rows at once (no page waits for a scan); the stream corrects them
  within one interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import orjson

from llm_session_manager.web.pages import Row

KEEPALIVE_SECONDS = 15.0
PROGRESS_SECONDS = 0.5


def event(name: str, data: Any) -> bytes:
    """One SSE message; JSON on one line (orjson escapes newlines inside strings)."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


@dataclass
class Progress:
    """How far the running scan has read (a ``scan.ScanProgress``; told from the scan's thread)."""

    files: int = 0
    files_done: int = 0
    nbytes: int = 0
    bytes_done: int = 0
    running: bool = False

    def planned(self, files: int, nbytes: int) -> None:
        self.files += files
        self.nbytes += nbytes
        self.running = True

    def advanced(self, files: int, nbytes: int) -> None:
        self.files_done += files
        self.bytes_done += nbytes

    def finished(self) -> None:
        self.files = self.files_done = self.nbytes = self.bytes_done = 0
        self.running = False

    def as_json(self) -> dict[str, int]:
        return {
            "files": self.files,
            "files_done": self.files_done,
            "bytes": self.nbytes,
            "bytes_done": self.bytes_done,
        }


class LiveRows:
    """The last rows listed (``rows``, None until the first scan ends), each listening browser's queue
    with the rows it was last sent, and the background listing."""

    def __init__(self, rows: Callable[[], list[Row]], interval: float = 2.0) -> None:
        self._list = rows  # blocking: called in a worker thread
        self.interval = interval
        self.rows: list[Row] | None = None
        self.took = 0.0  # seconds the last listing took
        self.streams: dict[asyncio.Queue[bytes], dict[str, bytes]] = {}
        self.progress = Progress()
        self._listing = threading.Lock()
        self._warming: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.closing = False

    def list_now(self) -> list[Row]:
        """List the sessions (blocking; one listing at a time) and keep the result."""
        with self._listing:
            started = time.monotonic()
            rows = self._list()
            self.took = time.monotonic() - started
            self.rows = rows
            return rows

    async def first_rows(self, wait: float) -> list[Row] | None:
        """The rows, waiting at most ``wait`` seconds for the first listing (started if need be)."""
        if self.rows is None:
            if self._warming is None:
                self._warming = asyncio.create_task(self.warm_up())
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._warming), wait)
        return self.rows

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self._warming is None:
            self._warming = asyncio.create_task(self.warm_up())

    async def warm_up(self) -> None:
        """The first listing, while pages are served; then its rows go to whoever listens."""
        from starlette.concurrency import run_in_threadpool

        with contextlib.suppress(Exception):  # a failed scan is tried again by the poll
            await self._push(await run_in_threadpool(self.list_now))

    async def poll(self) -> None:
        """Run until cancelled (the app's lifespan owns the task)."""
        while True:
            await asyncio.sleep(max(self.interval, 3 * self.took))
            if self.streams and self.rows is not None:
                with contextlib.suppress(Exception):  # a failed scan is tried again next time
                    await self.tick()

    async def tick(self) -> None:
        from starlette.concurrency import run_in_threadpool

        await self._push(await run_in_threadpool(self.list_now))

    async def _push(self, rows: list[Row]) -> None:
        """Each listener gets what changed since what it was last sent (all of it, the first time)."""
        after = {r.id: orjson.dumps(r.as_json()) for r in rows}
        for queue, known in list(self.streams.items()):
            queue.put_nowait(_diff(known, after, rows))
            self.streams[queue] = after

    async def stream(self, disconnected: Callable[[], Any]) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.streams[queue] = {}
        if self.rows is not None:
            await self._push_one(queue, self.rows)
        try:
            yield b"retry: 3000\n: connected\n\n"
            quiet = 0.0
            while True:
                wait = PROGRESS_SECONDS if self.rows is None else KEEPALIVE_SECONDS
                try:
                    message = await asyncio.wait_for(queue.get(), wait)
                    if self.closing:
                        return
                    if message:
                        yield message
                    quiet = 0.0
                except asyncio.TimeoutError:
                    if self.rows is None:
                        yield event("progress", self.progress.as_json())
                    quiet += wait
                    if quiet >= KEEPALIVE_SECONDS:
                        if await disconnected():
                            return
                        yield b": keep-alive\n\n"
                        quiet = 0.0
        finally:
            self.streams.pop(queue, None)

    def close(self) -> None:
        """End every stream now (the server is stopping: it would otherwise wait for them). Safe to call
        from a signal handler or another thread."""
        loop = self._loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(self._close)

    def _close(self) -> None:
        self.closing = True
        for queue in self.streams:
            queue.put_nowait(b"")

    async def _push_one(self, queue: asyncio.Queue[bytes], rows: list[Row]) -> None:
        after = {r.id: orjson.dumps(r.as_json()) for r in rows}
        queue.put_nowait(_diff({}, after, rows))
        self.streams[queue] = after


def _diff(known: dict[str, bytes], after: dict[str, bytes], rows: list[Row]) -> bytes:
    """The SSE messages that take a browser from ``known`` to ``after``: every row in order the first
    time (``rows``), then the rows that changed (``row``) and those that went (``gone``)."""
    if not known:
        return b"event: rows\ndata: [" + b",".join(after[r.id] for r in rows) + b"]\n\n"
    out = [b"event: row\ndata: " + data + b"\n\n" for sid, data in after.items() if known.get(sid) != data]
    out += [event("gone", {"id": sid}) for sid in known if sid not in after]
    return b"".join(out)
