"""How `lsm mcp-server` and `lsm mcp-session-server` talk: stdio that answers every request, and HTTP
that only the token holder on this machine can use.

stdio: the SDK's transport drops a line it cannot read as a JSON-RPC message (a wrong ``jsonrpc``
version, ``params`` that are not an object, a ``method`` that is not a string, broken JSON…), so a
client that sent it with an id would wait forever. Lines are checked here first: such a request gets
the JSON-RPC error it deserves (``-32700`` parse error, ``-32600`` invalid request, ``-32602`` invalid
params), with its id when it has a usable one and ``null`` otherwise, as JSON-RPC 2.0 says. stdin is
read by a daemon thread, so Ctrl-C ends the server at once even while it waits for a client.

HTTP (streamable-http): every request must carry ``Authorization: Bearer <token>``. The token is made
on first use (``secrets.token_urlsafe(32)``), kept in ``mcp-http-token`` next to lsm's config file with
mode 0600, printed once to stderr when made, and written by `lsm mcp-config --transport http` into the
client's config. Before the token is even looked at, the Host header must name the bound address (or
``localhost``) with the bound port, and an Origin header, when there is one, must be a loopback origin:
a web page reached through a rebound DNS name is refused (DNS-rebinding protection) whatever address
the server listens on. One ASGI guard in front of the whole app does all three, for every path: the
SDK's ``TransportSecuritySettings`` only covers the MCP route, matches exact strings (so cannot say
"any IP literal" for a wildcard bind) and has no token.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import stat
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llm_session_manager.errors import ConfigError, LsmError

# Host, Origin and token checks are shared with the web dashboard (is_loopback re-exported for the CLI).
from llm_session_manager.httpguard import HostRule, request_headers, token_matches, url_host
from llm_session_manager.httpguard import is_loopback as is_loopback

if TYPE_CHECKING:
    from mcp.server.mcpserver import MCPServer
    from mcp_types import JSONRPCError

TOKEN_FILE = "mcp-http-token"
TOKEN_BYTES = 32  # secrets.token_urlsafe(32): 43 characters, 256 bits
MAX_TOKEN_FILE = 1024
# After the client closes stdin, how long requests already read may take to be answered before the
# server ends (the SDK would otherwise drop them unanswered).
DRAIN_SECONDS = 120.0

# JSON-RPC 2.0 error codes.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602


# ---------------------------------------------------------------------------------------------------
# stdio: every request with an id gets an answer


def _usable_id(value: Any) -> bool:
    """JSON-RPC ids we can echo: strings and integers (not booleans, floats, null, objects)."""
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _error(request_id: str | int | None, code: int, message: str) -> JSONRPCError:
    from mcp_types import ErrorData, JSONRPCError

    return JSONRPCError(jsonrpc="2.0", id=request_id, error=ErrorData(code=code, message=message))


def _problem(obj: dict[str, Any]) -> tuple[int, str]:
    """What is wrong with a request object the SDK refused, as a JSON-RPC code and message."""
    if obj.get("jsonrpc") != "2.0":
        return INVALID_REQUEST, "Invalid Request: 'jsonrpc' must be \"2.0\""
    if not isinstance(obj.get("method"), str):
        return INVALID_REQUEST, "Invalid Request: 'method' must be a string"
    if "params" in obj and obj["params"] is not None and not isinstance(obj["params"], dict):
        return INVALID_PARAMS, "Invalid params: 'params' must be an object"
    return INVALID_REQUEST, "Invalid Request: not a JSON-RPC 2.0 request"


def rejection(line: str) -> JSONRPCError | None:
    """The error answer for a stdin line the SDK would drop without a word, or None when the line is fine
    for the SDK or must get no answer (blank lines, notifications, malformed responses)."""
    import mcp_types

    if not line.strip():
        return None
    try:
        obj = json.loads(line)
    except ValueError:
        return _error(None, PARSE_ERROR, "Parse error: the line is not valid JSON")
    if not isinstance(obj, dict):
        kind = "batches are not supported" if isinstance(obj, list) else "a message must be a JSON object"
        return _error(None, INVALID_REQUEST, f"Invalid Request: {kind}")
    if "id" not in obj:
        return None  # a notification: never answered, even when malformed
    if not _usable_id(obj["id"]):
        if "method" in obj:  # the SDK would take it for a notification and the client would wait
            return _error(None, INVALID_REQUEST, "Invalid Request: 'id' must be a string or an integer")
        return None
    if "method" not in obj and ("result" in obj or "error" in obj):
        return None  # a (malformed) response of the client's: responses are not answered
    try:
        mcp_types.jsonrpc_message_adapter.validate_python(obj, by_name=False)
    except ValueError:
        code, message = _problem(obj)
        return _error(obj["id"], code, message)
    return None


def _request_key(line: str) -> tuple[str, str | None]:
    """``("request", id)`` for a request the SDK will answer, ``("cancelled", id)`` for a cancellation
    (no answer is due then), else ``("", None)``; ids as JSON text, so 1 and "1" differ."""
    try:
        obj = json.loads(line)
    except ValueError:
        return "", None
    if not isinstance(obj, dict) or not isinstance(obj.get("method"), str):
        return "", None
    if "id" in obj:
        return "request", json.dumps(obj["id"])
    params = obj.get("params")
    if obj["method"] == "notifications/cancelled" and isinstance(params, dict) and "requestId" in params:
        return "cancelled", json.dumps(params["requestId"])
    return "", None


@dataclass
class _Lines:
    """stdin lines for the SDK's stdio transport. Lines it would drop are answered here instead, through
    the transport's own write stream (one writer, so frames never interleave). At the end of stdin the
    iteration waits until every request already passed on has its answer (at most DRAIN_SECONDS): the
    SDK stops its handlers when its input ends, so `printf '…' | lsm mcp-server` got no answers."""

    source: Any  # a binary file object (the private duplicate of fd 0)
    replies: Any = None  # the transport's write stream, set once it exists
    pending: set[str] = field(default_factory=set)  # ids (JSON text) of requests not yet answered

    def __post_init__(self) -> None:
        import anyio

        self.ready = anyio.Event()
        self.answered = anyio.Event()

    def note_answer(self, message: Any) -> None:
        """Called for every message the server writes: a response or error settles its request."""
        request_id = getattr(getattr(message, "message", None), "id", None)
        if request_id is not None and self.pending:
            self.pending.discard(json.dumps(request_id))
            self.answered.set()

    async def _drain(self) -> None:
        import anyio

        with anyio.move_on_after(DRAIN_SECONDS):
            while self.pending:
                self.answered = anyio.Event()
                await self.answered.wait()

    async def __aiter__(self) -> AsyncIterator[str]:
        import anyio
        from mcp.shared.message import SessionMessage

        send, receive = anyio.create_memory_object_stream[str](16)
        threading.Thread(
            target=_pump, args=(self.source, send, anyio.lowlevel.current_token()), daemon=True
        ).start()
        await self.ready.wait()
        async with receive:
            async for line in receive:
                error = rejection(line)
                if error is None:
                    kind, key = _request_key(line)
                    if kind == "request" and key is not None:
                        self.pending.add(key)
                    elif kind == "cancelled" and key is not None:
                        self.pending.discard(key)
                    yield line
                else:
                    await self.replies.send(SessionMessage(error))
        await self._drain()


class _NotingReplies:
    """The transport's write stream, telling ``_Lines`` which requests have been answered."""

    def __init__(self, inner: Any, lines: _Lines) -> None:
        self._inner = inner
        self._lines = lines

    async def send(self, item: Any) -> None:
        await self._inner.send(item)
        self._lines.note_answer(item)

    def close(self) -> None:
        self._inner.close()

    async def aclose(self) -> None:
        await self._inner.aclose()

    def clone(self) -> Any:
        return _NotingReplies(self._inner.clone(), self._lines)

    async def __aenter__(self) -> _NotingReplies:
        await self._inner.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> Any:
        return await self._inner.__aexit__(*exc)


def _pump(source: Any, send: Any, token: Any) -> None:
    """Read stdin lines in a daemon thread (a blocked read never keeps the process alive after Ctrl-C)."""
    import anyio
    import anyio.from_thread

    try:
        for raw in source:
            anyio.from_thread.run(send.send, raw.decode("utf-8", "replace"), token=token)
    except (anyio.ClosedResourceError, anyio.BrokenResourceError, RuntimeError, OSError):
        return
    finally:
        with contextlib.suppress(RuntimeError):  # the event loop may be gone already
            anyio.from_thread.run_sync(send.close, token=token)


def _claim_stdin() -> tuple[Any, Callable[[], None]]:
    """A private duplicate of fd 0 for the protocol, and fd 0 pointed at the null device meanwhile (so
    that a child process, git, never reads the client's messages)."""
    import fcntl
    import io

    try:
        private = fcntl.fcntl(0, fcntl.F_DUPFD_CLOEXEC, 3)
    except OSError:  # no stdin at all (closed): nothing will ever come, so the server ends at once
        return io.BytesIO(), lambda: None
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)

    def restore() -> None:
        with contextlib.suppress(OSError):
            os.dup2(private, 0)

    return os.fdopen(private, "rb", closefd=False), restore


async def _serve_stdio(server: MCPServer[Any], source: Any) -> None:
    from typing import IO, cast

    import anyio
    from mcp.server.stdio import stdio_server

    lines = _Lines(source)
    stdout, restore = _terminal_safe_stdout()
    out = anyio.wrap_file(cast(IO[str], stdout))
    try:
        async with stdio_server(stdin=cast(anyio.AsyncFile[str], lines), stdout=out) as (
            read_stream,
            write_stream,
        ):
            lines.replies = write_stream
            lines.ready.set()
            low = server._lowlevel_server  # what MCPServer.run_stdio_async runs, with our streams
            replies = _NotingReplies(write_stream, lines)
            await low.run(read_stream, replies, low.create_initialization_options())
    finally:
        if restore is not None:
            restore()


class _TerminalSafeText:
    """The protocol's text stream on stdout, with C1, bidi and line-separator characters written as
    ``\\u`` escapes (``safetext.json_for_terminal``): the same JSON for the client, nothing a terminal
    acts on when someone runs the server by hand. Every other call goes to the wrapped stream."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        from llm_session_manager.safetext import json_for_terminal

        return int(self._inner.write(json_for_terminal(text.encode("utf-8")).decode("utf-8")))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def _terminal_safe_stdout() -> tuple[_TerminalSafeText, Callable[[], None] | None]:
    """stdout for the protocol, with fd 1 pointed at stderr meanwhile, as the SDK does when it opens
    stdout itself (stray output of a handler or a child then misses the wire); and what restores fd 1."""
    from mcp.server import stdio

    buffer, restore = stdio._claim_fd(1, sys.stdout, "wb", stdio._open_stdout_diversion)
    return _TerminalSafeText(stdio._UnownedTextWrapper(buffer, encoding="utf-8")), restore


def serve_stdio(server: MCPServer[Any]) -> None:
    """Serve over stdin/stdout until the client closes stdin (or Ctrl-C: KeyboardInterrupt)."""
    import anyio

    if sys.stdout is None:
        raise LsmError("stdout is closed: an MCP stdio server answers on stdout")
    one_line_logs()
    source, restore = _claim_stdin()  # before the event loop opens descriptors of its own
    try:
        anyio.run(_serve_stdio, server, source)
    finally:
        restore()


class _OneLine(logging.Formatter):
    """``lsm: mcp: LEVEL: message`` on one line, control characters made visible, no traceback: a
    request's own text (an unknown prompt name…) is hostile and must not reach a terminal raw."""

    def format(self, record: logging.LogRecord) -> str:
        from llm_session_manager.safetext import for_terminal

        message = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            exc = record.exc_info[1]
            message = f"{message}: {type(exc).__name__}: {exc}"
        return for_terminal(f"lsm: mcp: {record.levelname.lower()}: {message}")


def one_line_logs() -> None:
    """Replace the SDK's rich log handler (multi-line tracebacks on stderr) with one-line records."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_OneLine())
    root.addHandler(handler)


def stdin_is_terminal() -> bool:
    return sys.stdin is not None and sys.stdin.isatty()


def tty_notice() -> str:
    return (
        "lsm: this is an MCP server: it speaks JSON-RPC over stdio and waits for an MCP client "
        "(Claude Desktop, Cursor, VS Code; see `lsm mcp-config`) to send requests; press Ctrl-C to stop\n"
    )


# ---------------------------------------------------------------------------------------------------
# HTTP: addresses


def server_url(host: str, port: int) -> str:
    return f"http://{url_host(host)}:{port}/mcp"


# ---------------------------------------------------------------------------------------------------
# HTTP: the token


def token_file(config_file: Path) -> Path:
    """The token lives beside lsm's config file (``~/.config/llm-session-manager/`` by default)."""
    return config_file.parent / TOKEN_FILE


def _read_token(file: Path) -> str | None:
    """The stored token; None when there is no file. A file that is not a private regular file of ours
    holding a token is an error (fixed permissions are tightened, with a warning)."""
    try:
        fd = os.open(file, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read the MCP HTTP token ({exc.strerror})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{file}: the MCP HTTP token file is not a regular file; remove it")
        if hasattr(os, "getuid") and info.st_uid != os.getuid():
            raise ConfigError(f"{file}: the MCP HTTP token file belongs to another user; remove it")
        if info.st_mode & 0o077:
            os.fchmod(fd, 0o600)
            sys.stderr.write(f"lsm: warning: {file} was readable by others; its mode is now 0600\n")
        data = os.read(fd, MAX_TOKEN_FILE + 1)
    finally:
        os.close(fd)
    token = data.decode("ascii", "replace").strip()
    if (
        len(data) > MAX_TOKEN_FILE
        or len(token) < 32
        or not token.isascii()
        or any(c.isspace() for c in token)
    ):
        raise ConfigError(f"{file}: not an MCP HTTP token; remove the file and a new token is made")
    return token


def _create_token(file: Path) -> str | None:
    """Write a new token to ``file`` (mode 0600) unless one appeared meanwhile; None in that case."""
    file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    token = secrets.token_urlsafe(TOKEN_BYTES)
    tmp = file.with_name(f".{file.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        os.write(fd, (token + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, file)  # atomic, and never over a token another process just made
    except FileExistsError:
        return None
    finally:
        tmp.unlink(missing_ok=True)
    return token


def http_token(config_file: Path) -> tuple[str, bool]:
    """The MCP HTTP token and whether it was made just now."""
    file = token_file(config_file)
    try:
        token = _read_token(file)
        if token is not None:
            return token, False
        made = _create_token(file)
    except OSError as exc:
        raise ConfigError(f"{file}: cannot write the MCP HTTP token ({exc.strerror or exc})") from None
    if made is not None:
        return made, True
    again = _read_token(file)
    if again is None:
        raise ConfigError(f"{file}: the MCP HTTP token vanished while it was being made; try again")
    return again, False


# ---------------------------------------------------------------------------------------------------
# HTTP: the guard and the server

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class Guard:
    """ASGI middleware in front of the whole app: Host (421), Origin (403), then the token (401)."""

    def __init__(self, app: App, rule: HostRule, token: str) -> None:
        self.app = app
        self.rule = rule
        self.token = token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)  # lifespan
            return
        headers = _headers(scope)
        if not self.rule.host_ok(headers.get("host")):
            await _refuse(scope, send, 421, "Misdirected Request: this Host is not served here\n")
        elif not self.rule.origin_ok(headers.get("origin")):
            await _refuse(scope, send, 403, "Forbidden: requests from this Origin are refused\n")
        elif not token_matches(headers.get("authorization"), self.token):
            await _refuse(scope, send, 401, "Unauthorized: send Authorization: Bearer <lsm's MCP token>\n")
        else:
            await self.app(scope, receive, send)


def _headers(scope: Scope) -> dict[str, str]:
    return request_headers(scope.get("headers") or [])


async def _refuse(scope: Scope, send: Send, status: int, text: str) -> None:
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    headers = [(b"content-type", b"text/plain; charset=utf-8")]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="lsm"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": text.encode()})


def http_app(server: MCPServer[Any], host: str, port: int, token: str) -> App:
    """The streamable-HTTP app at ``/mcp`` behind the guard."""
    from mcp.server.transport_security import TransportSecuritySettings

    # The guard does Host/Origin for every path; the SDK's own check would only repeat it on /mcp.
    off = TransportSecuritySettings(enable_dns_rebinding_protection=False)
    app = server.streamable_http_app(transport_security=off, host=host)
    return Guard(app, HostRule(host, port), token)


def serve_http(server: MCPServer[Any], host: str, port: int, token: str) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn shuts down gracefully, then Ctrl-C is a KeyboardInterrupt)."""
    import uvicorn

    one_line_logs()
    config = uvicorn.Config(
        http_app(server, host, port, token), host=host.strip("[]"), port=port, log_level="warning"
    )
    uvicorn.Server(config).run()
