"""Live rows: while a browser listens on ``/events``, the sessions are listed again every ``interval``
seconds and each row that changed is pushed as a Server-Sent Event. Nobody listening, nothing is
scanned. The scan is the one-shot incremental scan every command runs (only changed files are read)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from llm_session_manager.web.pages import Row

KEEPALIVE_SECONDS = 15.0


def event(name: str, data: Any) -> bytes:
    """One SSE message; JSON on one line (orjson escapes newlines inside strings)."""
    return b"event: " + name.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def changes(before: dict[str, bytes], rows: list[Row]) -> tuple[dict[str, bytes], list[Row], list[str]]:
    """(the new state, rows new or changed since ``before``, ids no longer listed)."""
    after = {r.id: orjson.dumps(r.as_json()) for r in rows}
    changed = [r for r in rows if before.get(r.id) != after[r.id]]
    gone = [sid for sid in before if sid not in after]
    return after, changed, gone


class LiveRows:
    """The last rows sent (or shown), the listeners' queues, and the polling task."""

    def __init__(self, rows: Callable[[], list[Row]], interval: float = 2.0) -> None:
        self._rows = rows  # blocking: called in a worker thread
        self.interval = interval
        self.known: dict[str, bytes] = {}
        self.queues: set[asyncio.Queue[bytes]] = set()

    def shown(self, rows: list[Row]) -> None:
        """A page was rendered with these rows: later changes are measured from them."""
        self.known, _, _ = changes({}, rows)

    async def poll(self) -> None:
        """Run until cancelled (the app's lifespan owns the task)."""
        while True:
            await asyncio.sleep(self.interval)
            if self.queues:
                with contextlib.suppress(Exception):  # a failed scan is tried again next time
                    await self.tick()

    async def tick(self) -> None:
        from starlette.concurrency import run_in_threadpool

        rows = await run_in_threadpool(self._rows)
        self.known, changed, gone = changes(self.known, rows)
        messages = [event("row", r.as_json()) for r in changed]
        messages += [event("gone", {"id": sid}) for sid in gone]
        for queue in list(self.queues):
            for message in messages:
                queue.put_nowait(message)

    async def stream(self, disconnected: Callable[[], Any]) -> AsyncIterator[bytes]:
        queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.queues.add(queue)
        try:
            yield b"retry: 3000\n: connected\n\n"
            while True:
                try:
                    yield await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                except asyncio.TimeoutError:
                    if await disconnected():
                        return
                    yield b": keep-alive\n\n"
        finally:
            self.queues.discard(queue)
