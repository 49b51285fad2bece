"""A loopback model stub for capturing what the real agent CLIs write.

The agents are pointed at this server instead of their vendor's API. Every answer carries usage figures
that are distinct per call (``usage_for``) and is appended to a JSONL log with those figures, so the
truth of a captured session is computed from this log, never from lsm.

Wire formats live in ``wire_*.py`` beside this file; each defines ``WIRE`` (a name), ``matches(method,
path)`` and ``handle(ex)``. The server binds 127.0.0.1 only and stops itself after ``--time-limit``.

Prompt markers choose what the model does (``scenario``): ``[[tool:ok]]`` runs a shell command that
succeeds, ``[[tool:fail]]`` one that fails, ``[[read:ok]]`` reads a file, ``[[read:missing]]`` reads one that
does not exist, ``[[subagent]]`` starts a sub-agent (Claude), ``[[slow]]`` makes the answer take 30 s (to
kill an agent mid-call). Without a marker, or once a tool result came back, the model answers with text.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import parse_qs, urlsplit

HERE = Path(__file__).resolve().parent
WIRE_MODULES = ("wire_anthropic", "wire_responses", "wire_gemini", "wire_chat")
MARKERS = ("tool:ok", "tool:fail", "read:ok", "read:missing", "subagent", "slow")
# Header values never written to the log (they hold the fake keys the agents were given).
SECRET_HEADERS = {"authorization", "x-api-key", "x-goog-api-key", "api-key"}


def usage_for(call: int) -> dict[str, int]:
    """Distinct, recognisable figures for the n-th answer (n from 1): each field moves at its own step,
    so a sum that double-counts or drops one call shows in every field."""
    return {
        "input": 1000 + 101 * call,
        "output": 20 + 7 * call,
        "cache_read": 300 + 13 * call,
        "cache_write": 50 + 11 * call,
    }


def scenario(text: str) -> str:
    """The marker found in the newest user text, or "text"."""
    for marker in MARKERS:
        if f"[[{marker}]]" in text:
            return marker
    return "text"


@dataclass
class Stub:
    log_path: Path
    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next_call(self) -> tuple[int, dict[str, int]]:
        with self.lock:
            self.calls += 1
            return self.calls, usage_for(self.calls)

    def log(self, record: dict[str, Any]) -> None:
        record = {"t": round(time.time(), 3), **record}
        with self.lock, self.log_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")


class Exchange:
    """One request and the tools to answer it (plain JSON or server-sent events)."""

    def __init__(self, handler: BaseHTTPRequestHandler, stub: Stub) -> None:
        self.handler = handler
        self.stub = stub
        parts = urlsplit(handler.path)
        self.method = handler.command
        self.path = parts.path
        self.query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        self.headers = {k.lower(): v for k, v in handler.headers.items()}
        length = int(self.headers.get("content-length") or 0)
        raw = handler.rfile.read(length) if length else b""
        try:
            self.body: Any = json.loads(raw) if raw else None
        except ValueError:
            self.body = None
        self.raw = raw

    def public_headers(self) -> dict[str, str]:
        return {k: v for k, v in self.headers.items() if k not in SECRET_HEADERS}

    def send_json(self, obj: Any, status: int = 200) -> None:
        data = json.dumps(obj).encode()
        self.handler.send_response(status)
        self.handler.send_header("Content-Type", "application/json")
        self.handler.send_header("Content-Length", str(len(data)))
        self.handler.end_headers()
        self.handler.wfile.write(data)

    def start_sse(self) -> None:
        self.handler.send_response(200)
        self.handler.send_header("Content-Type", "text/event-stream")
        self.handler.send_header("Cache-Control", "no-cache")
        self.handler.send_header("Connection", "close")
        self.handler.end_headers()
        self.handler.close_connection = True

    def sse(self, data: Any, event: str | None = None) -> None:
        chunk = ""
        if event is not None:
            chunk += f"event: {event}\n"
        chunk += f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"
        self.handler.wfile.write(chunk.encode())
        self.handler.wfile.flush()

    def log(self, **fields: Any) -> None:
        self.stub.log({"method": self.method, "path": self.path, **fields})


def load_wires() -> Iterator[ModuleType]:
    sys.path.insert(0, str(HERE))
    for name in WIRE_MODULES:
        try:
            yield importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name != name:
                raise


def make_handler(stub: Stub, wires: list[ModuleType]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # quiet
            return

        def _dispatch(self) -> None:
            ex = Exchange(self, stub)
            for wire in wires:
                if wire.matches(ex.method, ex.path):
                    try:
                        wire.handle(ex)
                    except (BrokenPipeError, ConnectionResetError):
                        ex.log(wire=wire.WIRE, event="client-disconnected")
                    return
            ex.log(wire=None, event="unhandled", headers=ex.public_headers())
            ex.send_json({"error": {"message": f"stub: no route for {ex.method} {ex.path}"}}, status=404)

        do_GET = do_POST = do_PUT = do_HEAD = _dispatch

    return Handler


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port (printed on stdout)")
    ap.add_argument("--log", type=Path, required=True, help="JSONL log of every answer and its usage")
    ap.add_argument("--time-limit", type=float, default=900, help="seconds before the server stops itself")
    args = ap.parse_args(argv)
    stub = Stub(args.log)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(stub, list(load_wires())))
    server.daemon_threads = True
    timer = threading.Timer(args.time_limit, server.shutdown)
    timer.daemon = True
    timer.start()
    print(server.server_address[1], flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
