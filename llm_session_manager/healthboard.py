"""The last health lsm computed for each recently active Claude Code session, for `lsm statusline`.

The statusline runs on every Claude Code refresh and cannot afford the whole transcript that a health
score needs, so it shows the score the last full computation (`lsm list`, the monitor, MCP, the web
page) left here, and only while it is recent: a figure older than MAX_AGE_SECONDS is not shown at all.
Standard library only: the statusline imports this module.
"""

from __future__ import annotations

import contextlib
import json
import os

FILE_NAME = "health.json"
MAX_AGE_SECONDS = 10 * 60
KEEP_SECONDS = 60 * 60  # sessions active this recently are written


def _sessions(entries: dict[str, tuple[float, str, bool]]) -> dict[str, list[object]]:
    return {
        sid: [round(score), status, estimated] for sid, (score, status, estimated) in sorted(entries.items())
    }


def encode(entries: dict[str, tuple[float, str, bool]], now: float) -> bytes:
    """``{"t": computed at, "sessions": {session id: [score, status, estimated]}}``."""
    doc = {"t": round(now, 3), "sessions": _sessions(entries)}
    return json.dumps(doc, separators=(",", ":")).encode()


def write(folder: str, entries: dict[str, tuple[float, str, bool]], now: float) -> None:
    """Replace the board atomically; an unchanged board (same scores) is left alone but for its time,
    which is rewritten at most once a minute."""
    path = os.path.join(folder, FILE_NAME)
    try:
        with open(path, "rb") as f:
            old = json.loads(f.read())
        if old.get("sessions") == _sessions(entries) and now - float(old.get("t", 0)) < 60:
            return
    except (OSError, ValueError, TypeError, AttributeError):
        pass
    import tempfile  # only the writer needs it: the statusline only reads

    try:  # a read-only or full data folder costs the statusline its health, nothing else
        os.makedirs(folder, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".health-", dir=folder)
    except OSError:
        return
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(encode(entries, now))
        os.replace(tmp, path)
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def read(folder: str, session_id: str, now: float) -> tuple[int, str, bool] | None:
    """(score, status, estimated) of ``session_id`` when the board is recent, else None."""
    try:
        with open(os.path.join(folder, FILE_NAME), "rb") as f:
            doc = json.loads(f.read(1 << 20))
        if now - float(doc["t"]) > MAX_AGE_SECONDS:
            return None
        score, status, estimated = doc["sessions"][session_id]
        if status not in ("healthy", "warning", "critical"):
            return None
        return int(score), str(status), bool(estimated)
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
