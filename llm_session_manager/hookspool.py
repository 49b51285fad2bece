"""`lsm hook <agent>`: the command Claude Code, Codex and Gemini CLI run on their own events.

It runs on every tool call of every session, so it is built for speed and for never hurting the host:
standard library only (no typer, rich, orjson, dataclasses or pathlib: each costs milliseconds), one
JSON object read from stdin, one line appended to the spool, exit 0. Nothing is printed on stdout or
stderr (Gemini CLI parses either as the hook's answer); any failure is a line in ``hooks/errors.log``.

The spool is ``<data dir>/hooks/events.jsonl``: one compact JSON object per line, written with a single
``write`` on a descriptor opened with ``O_APPEND``, so concurrent agents never interleave or lose lines.
When it passes ``MAX_SPOOL_BYTES`` the writer renames it to ``events.1.jsonl`` (replacing an older one)
and starts afresh, which bounds the spool to about twice that size. ``lsm`` reads it incrementally into
its SQLite store (``store/hook_events.py``).
"""

from __future__ import annotations

import os
import sys
import time

SPOOL_VERSION = 1
AGENTS = ("claude-code", "codex", "gemini")
SPOOL_DIR = "hooks"
SPOOL_NAME = "events.jsonl"
ROTATED_NAME = "events.1.jsonl"
ERROR_LOG = "errors.log"
MAX_SPOOL_BYTES = 8 << 20
MAX_ERROR_LOG_BYTES = 256 << 10
MAX_PAYLOAD_BYTES = 32 << 20  # a PostToolUse payload carries the tool's output
# Field caps keep a spool line small (well under a page), so one write() stays one line.
MAX_PATH = 1024
MAX_TEXT = 300
MAX_ID = 200

# The tool argument that says what a tool call is about, first match wins (Bash's command, an
# edit's file, Gemini's shell command, Codex's apply_patch description).
_SUBJECT_KEYS = ("command", "file_path", "path", "url", "pattern", "query", "description")
# Why the event happened: start source, end reason, compaction trigger, the API error of a failed turn.
_WHY_KEYS = ("source", "reason", "trigger", "error")


def data_dir(env: dict[str, str] | os._Environ[str]) -> str:
    """lsm's data folder, the same as ``paths.resolve(env).data_dir`` (a test holds them equal) but
    without importing pathlib and dataclasses."""
    if env.get("LSM_HOME"):
        return os.path.expanduser(env["LSM_HOME"])
    xdg = env.get("XDG_DATA_HOME")
    if xdg:
        return os.path.join(xdg, "llm-session-manager")
    home = env.get("HOME") or env.get("USERPROFILE") or os.path.expanduser("~")
    return os.path.join(home, ".local", "share", "llm-session-manager")


def spool_dir(env: dict[str, str] | os._Environ[str]) -> str:
    return os.path.join(data_dir(env), SPOOL_DIR)


def _text(value: object, limit: int) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _subject(payload: dict[str, object]) -> str | None:
    tool_input = payload.get("tool_input")
    if isinstance(tool_input, dict):
        for key in _SUBJECT_KEYS:
            text = _text(tool_input.get(key), MAX_TEXT)
            if text:
                return text
    details = payload.get("details")  # Gemini CLI's Notification: the confirmation it shows
    if isinstance(details, dict):
        return _text(details.get("command"), MAX_TEXT) or _text(details.get("title"), MAX_TEXT)
    return None


def _message(payload: dict[str, object]) -> str | None:
    """What the agent says: a notification's text, or a failed turn's error details."""
    return _text(payload.get("message"), MAX_TEXT) or _text(payload.get("error_details"), MAX_TEXT)


def record(agent: str, payload: dict[str, object], now: float) -> dict[str, object]:
    """The spool record of one hook payload: what lsm needs, never the prompt or the tool's output."""
    out: dict[str, object] = {"v": SPOOL_VERSION, "t": round(now, 3), "agent": agent}
    fields = {
        "event": _text(payload.get("hook_event_name"), MAX_ID),
        "sid": _text(payload.get("session_id"), MAX_ID),
        "cwd": _text(payload.get("cwd"), MAX_PATH),
        "tp": _text(payload.get("transcript_path"), MAX_PATH),
        "tool": _text(payload.get("tool_name"), MAX_ID),
        "subject": _subject(payload),
        "ntype": _text(payload.get("notification_type"), MAX_ID),
        "msg": _message(payload),
        "why": next((w for w in (_text(payload.get(k), MAX_ID) for k in _WHY_KEYS) if w), None),
        "aid": _text(payload.get("agent_id"), MAX_ID),
    }
    out.update({k: v for k, v in fields.items() if v is not None})
    return out


def encode(rec: dict[str, object]) -> bytes:
    """One spool line, ASCII-escaped so that it stays a single line whatever the agent sent (the
    same bytes as ``json.dumps(rec, separators=(",", ":"))``)."""
    return _dumps(rec).encode("ascii") + b"\n"


def append(directory: str, line: bytes) -> None:
    """Append ``line`` with one write on an O_APPEND descriptor; rotate the spool when it is full."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    path = os.path.join(directory, SPOOL_NAME)
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        written = os.write(fd, line)
        if written != len(line):
            raise OSError(f"short write to {path}: {written} of {len(line)} bytes")
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    if size > MAX_SPOOL_BYTES:
        _rotate(directory, path, size)


def _rotate(directory: str, path: str, size: int) -> None:
    """Rename the full spool aside, once even when several writers notice at the same moment."""
    import fcntl

    lock_fd = os.open(os.path.join(directory, ".rotate.lock"), os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        try:
            if os.stat(path).st_size >= size:  # nobody rotated it while we waited
                os.replace(path, os.path.join(directory, ROTATED_NAME))
        except FileNotFoundError:
            pass
    finally:
        os.close(lock_fd)


def log_error(directory: str, message: str) -> None:
    """A line in our own log; the agent never sees it. Failing to log is ignored too."""
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        path = os.path.join(directory, ERROR_LOG)
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        try:
            if os.stat(path).st_size > MAX_ERROR_LOG_BYTES:
                flags |= os.O_TRUNC
        except FileNotFoundError:
            pass
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        line = f"{stamp} {' '.join(message.split())[:500]}\n".encode("utf-8", "replace")
        fd = os.open(path, flags, 0o600)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except Exception:  # the hook must never fail its agent, not even for its own log
        return


# JSON through the C accelerator directly: the json package imports re (and enum, functools…), which
# alone costs more than the rest of this command. Same parser, same strictness.
class _ScanContext:
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int

    @staticmethod
    def parse_constant(name: str) -> float:
        return float(name.replace("Infinity", "inf"))


def _loads(raw: bytes) -> object:
    try:
        import _json

        scan = _json.make_scanner(_ScanContext())  # type: ignore[arg-type]
    except (ImportError, AttributeError):  # pragma: no cover - an interpreter without the accelerator
        import json

        return json.loads(raw)
    text = raw.decode("utf-8-sig")
    start = len(text) - len(text.lstrip(" \t\n\r"))
    try:
        value, end = scan(text, start)
    except StopIteration:
        raise ValueError("not JSON") from None
    if text[end:].strip(" \t\n\r"):
        raise ValueError(f"extra data after the JSON value at character {end}")
    return value


def _dumps(rec: dict[str, object]) -> str:
    """A flat object of strings and numbers, as compact ASCII JSON."""
    try:
        from _json import encode_basestring_ascii as quote
    except ImportError:  # pragma: no cover
        import json

        return json.dumps(rec, separators=(",", ":"))
    parts = []
    for key, value in rec.items():
        if isinstance(value, str):
            item = quote(value)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            item = repr(value)
        else:
            raise TypeError(f"spool field {key!r} is {type(value).__name__}")
        parts.append(f"{quote(key)}:{item}")
    return "{" + ",".join(parts) + "}"


def _read_stdin() -> bytes:
    data = sys.stdin.buffer.read(MAX_PAYLOAD_BYTES + 1)
    if len(data) > MAX_PAYLOAD_BYTES:
        raise ValueError(f"payload larger than {MAX_PAYLOAD_BYTES:,} bytes")
    return data


def run(agent: str, raw: bytes, env: dict[str, str] | os._Environ[str], now: float) -> None:
    """Spool one payload; raises on anything wrong (the caller logs it)."""
    if agent not in AGENTS:
        raise ValueError(f"unknown agent {agent!r} (expected one of {', '.join(AGENTS)})")
    payload = _loads(raw)
    if not isinstance(payload, dict):
        raise ValueError("the payload is not a JSON object")
    append(spool_dir(env), encode(record(agent, payload, now)))


USAGE = f"usage: lsm hook {{{'|'.join(AGENTS)}}}  (run by the agent with its event JSON on stdin)\n"


def fast_main(argv: list[str]) -> int:
    """``argv`` = ["hook", agent]. Exit 0 whatever happens when an agent runs us; a person typing the
    command at a terminal gets the usage line instead of a silent wait on stdin."""
    if len(argv) != 2:
        sys.stderr.write(USAGE)
        return 2
    if sys.stdin is None or sys.stdin.isatty():
        sys.stderr.write(USAGE)
        return 2
    env = os.environ
    try:
        run(argv[1], _read_stdin(), env, time.time())
    except Exception as exc:
        log_error(spool_dir(env), f"lsm hook {argv[1][:40]}: {type(exc).__name__}: {exc}")
    return 0
