"""A loopback stand-in for the Anthropic Messages API, for tests that run the real ``anthropic`` client.

``FakeAnthropic`` is a threaded HTTP server on 127.0.0.1 (a free port). It records every request
(path, headers, JSON body) and answers from a queue of canned replies; an empty queue answers 500.
A reply may be delayed (to provoke the client's timeout). Point the client at ``base_url``, or set
``ANTHROPIC_BASE_URL`` for a subprocess.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


def message(content: list[dict[str, Any]], stop_reason: str = "end_turn", **extra: Any) -> dict[str, Any]:
    """A Messages API reply body."""
    return {
        "id": "msg_fake_01",
        "type": "message",
        "role": "assistant",
        "model": "claude-haiku-4-5",
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": 42, "output_tokens": 7},
        **extra,
    }


def tool_reply(name: str, tool_input: Any) -> Reply:
    """A reply whose content is one forced tool call (what a strict tool answer looks like)."""
    block = {"type": "tool_use", "id": "toolu_fake_01", "name": name, "input": tool_input}
    return Reply(body=message([block], stop_reason="tool_use"))


def error_reply(status: int, kind: str, text: str, **headers: str) -> Reply:
    return Reply(status, {"type": "error", "error": {"type": kind, "message": text}}, dict(headers))


class FakeAnthropic:
    def __init__(self) -> None:
        self.requests: list[Request] = []
        self._replies: list[Reply] = []
        self._lock = threading.Lock()
        self._closing = threading.Event()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode("utf-8", "replace")
                fake._record(
                    Request("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                reply = fake._next()
                if reply.delay and fake._closing.wait(reply.delay):
                    return
                data = json.dumps(reply.body).encode() if reply.body is not None else b""
                try:
                    self.send_response(reply.status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.send_header("request-id", "req_fake_01")
                    for key, value in reply.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout)
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def queue(self, *replies: Reply) -> None:
        with self._lock:
            self._replies.extend(replies)

    def _next(self) -> Reply:
        with self._lock:
            if self._replies:
                return self._replies.pop(0)
        return error_reply(500, "api_error", "the fake has no reply queued")

    def _record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def __enter__(self) -> FakeAnthropic:
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
