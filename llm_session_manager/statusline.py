"""`lsm statusline`: Claude Code's ``statusLine`` command. Reads the JSON Claude Code pipes in, records
the official limits, context and cost it carries, prints one line.

It runs on every Claude Code refresh, so it imports only the standard library and safetext (no typer,
rich, orjson or YAML unless the config file sets a ``statusline`` or ``budget`` key), and it records by
appending one line to a spool (store/observations.py moves it into SQLite on read), never waiting for a
database. It never fails its host: any bad input or error prints ``FALLBACK`` and exits 0.

Spool line keys: ``t`` (Unix seconds), ``sid`` (session id), ``model`` (model id), ``ctx_tokens``
(input + cache tokens of the last reply), ``ctx_window``, ``ctx_pct`` (Claude Code's used_percentage),
``cost`` (its total_cost_usd), ``limits`` ([[window, used_percentage, resets_at], ...]).

Health: lsm's score needs the whole transcript (errors, activity), which this path cannot afford to
read; the line shows the score the last full computation left (healthboard.py), and only while it is
under ten minutes old.
"""

from __future__ import annotations

import json
import os
import sys
import time
import unicodedata
from string import Formatter
from typing import TYPE_CHECKING, Any

from llm_session_manager import healthboard
from llm_session_manager.compaction import CLAUDE_CODE_COMPACT
from llm_session_manager.hookspool import data_dir
from llm_session_manager.safetext import for_terminal
from llm_session_manager.statusline_format import DEFAULT_FORMAT, FIELDS

if TYPE_CHECKING:  # not imported at run time: every millisecond counts here
    from collections.abc import Mapping
    from typing import TextIO

FALLBACK = "lsm: no status"
MAX_INPUT = 1 << 20  # Claude Code's input is ~1.5 KB; more is not a statusline payload
TAIL_BYTES = 32 << 10  # how much of the spool's end is read for the context trend
COMPACT_SPOOL_BYTES = 256 << 10  # the statusline moves a spool this big into the store itself
TREND_SECONDS = 30 * 60  # = burn.BURN_WINDOW_MINUTES
SPOOL_NAME = "statusline.jsonl"  # = store.observations.SPOOL_NAME
RECENT_NAME = "statusline.recent.jsonl"  # = store.observations.RECENT_NAME: the last half hour, compacted
LIMIT_KEYS = (("five_hour", "5h"), ("seven_day", "7d"))

SEGMENT_SEP = " | "  # splits a format into segments; a segment whose fields are all empty is left out
JOIN = " │ "
DEFAULT_NEAR_PERCENT = 80.0  # = limits.DEFAULT_NEAR_PERCENT, budget.near_percent in the config
CONTEXT_WARN_PERCENT = 70.0  # = recommend.context_warning_pct's default

GREEN, YELLOW, RED = "32", "33", "31"
THEN_TIMEOUT = 2.0  # seconds the user's own statusline command (--then) may take


# ---------------------------------------------------------------------------------------------------
# Reading the payload


MAX_TEXT = 200  # a session id, model or folder longer than this is cut: a spool line stays small


def _num(value: Any) -> float | None:
    """A finite figure, 0 or more (every figure of the payload is a count, share, cost or time)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:
        return None
    return float(value) if 0 <= value < 1e15 else None


def _text(value: Any) -> str | None:
    return value[:MAX_TEXT] if isinstance(value, str) and value else None


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def context_tokens(ctx: Mapping[str, Any]) -> int | None:
    """Input + cache tokens of the last reply (``current_usage``), else the used share of the window."""
    usage = _obj(ctx.get("current_usage"))
    parts = [
        _num(usage.get(k)) for k in ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    ]
    if any(p is not None for p in parts):
        return int(sum(p for p in parts if p is not None))
    pct, size = _num(ctx.get("used_percentage")), _num(ctx.get("context_window_size"))
    return int(pct * size / 100) if pct is not None and size else None


def read_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The figures lsm uses from one statusline payload (absent ones are None)."""
    model = _obj(payload.get("model"))
    ctx = _obj(payload.get("context_window"))
    limits = []
    for key, window in LIMIT_KEYS:
        item = _obj(_obj(payload.get("rate_limits")).get(key))
        used = _num(item.get("used_percentage"))
        if used is not None:
            resets = _num(item.get("resets_at"))
            limits.append([window, used, resets if resets and resets > 0 else None])
    size = _num(ctx.get("context_window_size"))
    workspace = _obj(payload.get("workspace"))
    return {
        "sid": _text(payload.get("session_id")),
        "model": _text(model.get("id")),
        "model_name": _text(model.get("display_name")) or _text(model.get("id")),
        "ctx_tokens": context_tokens(ctx),
        "ctx_window": int(size) if size and size > 0 else None,
        "ctx_pct": _num(ctx.get("used_percentage")),
        "cost": _num(_obj(payload.get("cost")).get("total_cost_usd")),
        "limits": limits,
        "session": _text(payload.get("session_name")),
        "dir": _text(workspace.get("current_dir")) or _text(payload.get("cwd")),
    }


# ---------------------------------------------------------------------------------------------------
# Recording


def spool_line(sample: Mapping[str, Any], now: float) -> bytes:
    keys = ("sid", "model", "ctx_tokens", "ctx_window", "ctx_pct", "cost", "limits")
    record = {"t": round(now, 3), **{k: sample[k] for k in keys}}
    return json.dumps(record, separators=(",", ":")).encode() + b"\n"


def _tail(path: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            size = fh.seek(0, os.SEEK_END)
            fh.seek(max(0, size - TAIL_BYTES))
            data = fh.read(TAIL_BYTES)
    except OSError:
        return b""
    return data if size <= TAIL_BYTES else data.partition(b"\n")[2]  # the first line may be cut


def context_points(tail: bytes, sid: str, now: float) -> list[tuple[float, int]]:
    """(time, context tokens) of this session's recent samples in the spool's tail, oldest first."""
    points: list[tuple[float, int]] = []
    needle = json.dumps(sid).encode()
    for line in tail.splitlines():
        if needle not in line:
            continue
        try:
            rec = json.loads(line)
            at, tokens = float(rec["t"]), rec["ctx_tokens"]
        except (ValueError, TypeError, KeyError):
            continue
        if rec.get("sid") == sid and isinstance(tokens, int) and now - TREND_SECONDS <= at <= now:
            points.append((at, tokens))
    return sorted(set(points))


def record(folder: str, sample: Mapping[str, Any], now: float) -> list[tuple[float, int]]:
    """Append this sample to the spool; returns the session's recent context points (this one last)."""
    spool = os.path.join(folder, SPOOL_NAME)
    points = []
    if sample["sid"]:
        tail = _tail(os.path.join(folder, RECENT_NAME)) + b"\n" + _tail(spool)
        points = context_points(tail, sample["sid"], now)
    os.makedirs(folder, exist_ok=True)
    fd = os.open(spool, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        os.write(fd, spool_line(sample, now))
        size = os.fstat(fd).st_size
    finally:
        os.close(fd)
    if size > COMPACT_SPOOL_BYTES:
        _compact(folder)
    if sample["ctx_tokens"] is not None:
        points.append((now, sample["ctx_tokens"]))
    return points


def _compact(folder: str) -> None:
    """Move a big spool into the store (rarely: every few hundred refreshes). A busy database is left
    for the next time: the renamed spool waits for it."""
    from pathlib import Path

    from llm_session_manager.store import db, observations

    conn = db.connect(Path(folder) / "lsm.db")
    try:
        conn.execute("PRAGMA busy_timeout=200")
        observations.compact(conn, Path(folder))
    finally:
        conn.close()


# ---------------------------------------------------------------------------------------------------
# The line


def minutes_to_compact(points: list[tuple[float, int]], window: int | None) -> float | None:
    """Minutes until Claude Code's auto-compact point at the context growth since the last drop (a
    compaction or /clear), or None when the context is not growing."""
    if not points or not window:
        return None
    start = 0
    for i in range(1, len(points)):
        if points[i][1] < points[i - 1][1]:
            start = i
    (t0, c0), (t1, c1) = points[start], points[-1]
    left = CLAUDE_CODE_COMPACT.point(window) - c1
    if left <= 0:
        return 0.0
    if t1 - t0 < 1 or c1 <= c0:
        return None
    return left / ((c1 - c0) / ((t1 - t0) / 60))


def _duration(minutes: float) -> str:
    whole = int(minutes)
    return f"{whole // 60}h{whole % 60:02d}m" if whole >= 60 else f"{max(whole, 1)}m"


def _reset_clock(resets: float | None, window: str, now: float) -> str:
    if resets is None:
        return ""
    when = time.localtime(resets)
    return time.strftime("%H:%M" if window == "5h" and resets - now < 86400 else "%a %H:%M", when)


def _percent(value: float) -> str:
    return f"{value:.0f}%" if value >= 1 or value == 0 else f"{value:.1f}%"


def _level(value: float, warn: float, bad: float) -> str:
    return RED if value >= bad else YELLOW if value >= warn else GREEN


HEALTH_COLOUR = {"healthy": GREEN, "warning": YELLOW, "critical": RED}


def fields(
    sample: Mapping[str, Any],
    points: list[tuple[float, int]],
    now: float,
    near: float,
    health: tuple[int, str, bool] | None = None,
) -> dict[str, tuple[str, str | None]]:
    """Each template field as (text, ANSI colour or None); untrusted text made safe here."""
    out: dict[str, tuple[str, str | None]] = {name: ("", None) for name in FIELDS}
    if sample["model_name"]:
        out["model"] = (for_terminal(sample["model_name"])[:40], None)
    pct, window, tokens = sample["ctx_pct"], sample["ctx_window"], sample["ctx_tokens"]
    if pct is None and tokens is not None and window:
        pct = tokens * 100 / window
    if pct is not None:
        out["context"] = (_percent(pct), _level(pct, CONTEXT_WARN_PERCENT, 90))
    compact = minutes_to_compact(points, window)
    if compact is not None:
        out["compact"] = (
            "compact now" if compact <= 0 else f"compact ~{_duration(compact)}",
            YELLOW if compact < 15 else None,
        )
    if sample["cost"] is not None:
        out["cost"] = (f"${sample['cost']:.2f}", None)
    for name, (window_name, used, resets) in zip(("five_hour", "seven_day"), _by_window(sample["limits"])):
        if used is None:
            continue
        if resets is not None and resets <= now:
            out[name] = ("reset", None)  # the figure is from a window that has ended
            continue
        clock = _reset_clock(resets, window_name, now)
        out[name] = (_percent(used) + (f" ↺{clock}" if clock else ""), _level(used, near, 100))
    if health is not None:
        score, status, estimated = health
        out["health"] = (f"health {'~' if estimated else ''}{score}", HEALTH_COLOUR[status])
    if sample["session"]:
        out["session"] = (for_terminal(sample["session"])[:40], None)
    if sample["dir"]:
        out["dir"] = (for_terminal(os.path.basename(sample["dir"].rstrip("/")) or sample["dir"])[:40], None)
    return out


def _by_window(limits: list[list[Any]]) -> list[tuple[str, float | None, float | None]]:
    found = {w: (u, r) for w, u, r in limits}
    return [(w, *found.get(w, (None, None))) for _key, w in LIMIT_KEYS]


def width_of(text: str) -> int:
    return sum(
        2 if unicodedata.east_asian_width(ch) in "WF" else 0 if unicodedata.combining(ch) else 1
        for ch in text
    )


def _cut(text: str, width: int) -> str:
    if width_of(text) <= width:
        return text
    out, used = "", 0
    for ch in text:
        w = width_of(ch)
        if used + w > width - 1:
            break
        out, used = out + ch, used + w
    return out + "…"


Piece = tuple[str, str | None]


def segments(fmt: str, values: Mapping[str, Piece]) -> list[list[Piece]]:
    """The format's segments as coloured pieces; a segment whose fields are all empty is left out."""
    out: list[list[Piece]] = []
    for part in fmt.split(SEGMENT_SEP):
        pieces: list[Piece] = []
        named = filled = 0
        for literal, name, _spec, _conv in Formatter().parse(part):
            if literal:
                pieces.append((literal, None))
            if name is not None:
                named += 1
                text, colour = values.get(name, ("", None))
                filled += bool(text)
                pieces.append((text, colour))
        if pieces and (not named or filled):
            out.append(_strip(pieces))
    return out


def _strip(pieces: list[Piece]) -> list[Piece]:
    """Drop the spaces an empty field leaves at a segment's ends and doubled inside it."""
    text = "".join(p[0] for p in pieces)
    if "  " not in text and text == text.strip():
        return pieces
    out: list[Piece] = []
    for chunk, colour in pieces:
        if out and out[-1][0].endswith(" ") and chunk.startswith(" "):
            chunk = chunk.lstrip(" ")
        if chunk:
            out.append((chunk, colour))
    if out:
        out[0] = (out[0][0].lstrip(), out[0][1])
        out[-1] = (out[-1][0].rstrip(), out[-1][1])
    return [p for p in out if p[0]]


def compose(parts: list[list[Piece]], width: int | None, colour: bool) -> str:
    """Segments joined; trailing segments dropped (then the last cut) until the line fits ``width``."""
    plain = [("".join(p[0] for p in seg)) for seg in parts]
    while width and len(plain) > 1 and width_of(JOIN.join(plain)) > width:
        plain.pop()
        parts = parts[: len(plain)]
    if width and plain and width_of(JOIN.join(plain)) > width:
        return _cut(plain[0], width)  # one segment left, still too wide: plain text, cut
    if not colour:
        return JOIN.join(plain)
    coloured = ["".join(f"\x1b[{c}m{t}\x1b[0m" if c else t for t, c in seg) for seg in parts]
    return JOIN.join(coloured)


# ---------------------------------------------------------------------------------------------------
# Settings and the command


def config_file(env: Mapping[str, str]) -> str:
    """lsm's config file, the same as ``paths.resolve(env).config_file`` (a test holds them equal)
    without importing pathlib and dataclasses."""
    if env.get("LSM_CONFIG"):
        return os.path.expanduser(env["LSM_CONFIG"])
    home = env.get("HOME") or env.get("USERPROFILE") or os.path.expanduser("~")
    root = env.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    return os.path.join(root, "llm-session-manager", "config.yaml")


def settings(config_file: str) -> tuple[str, float]:
    """(statusline.format, budget.near_percent). The YAML config is parsed only when it sets either:
    most runs read a few bytes and move on. A broken config keeps the defaults (`lsm show-config` says
    what is wrong)."""
    if not os.path.exists(config_file):
        return DEFAULT_FORMAT, DEFAULT_NEAR_PERCENT
    from pathlib import Path

    from llm_session_manager.fileio import read_regular

    try:
        raw = read_regular(config_file, 1 << 20)
    except OSError:
        return DEFAULT_FORMAT, DEFAULT_NEAR_PERCENT
    if not raw or (b"statusline" not in raw and b"budget" not in raw):
        return DEFAULT_FORMAT, DEFAULT_NEAR_PERCENT
    from llm_session_manager import config
    from llm_session_manager.errors import ConfigError

    try:
        cfg = config.load(Path(config_file))
    except ConfigError:
        return DEFAULT_FORMAT, DEFAULT_NEAR_PERCENT
    return str(cfg["statusline"]["format"]), float(cfg["budget"]["near_percent"])


def _width(env: Mapping[str, str]) -> int | None:
    try:
        value = int(env.get("COLUMNS", ""))
    except ValueError:
        return None
    return value if value > 0 else None


def status_line(raw: bytes, env: Mapping[str, str], now: float) -> str:
    payload = json.loads(raw)
    if not isinstance(payload, dict):
        raise ValueError("not a JSON object")
    sample = read_payload(payload)
    fmt, near = settings(config_file(env))
    folder = data_dir(dict(env))
    try:
        points = record(folder, sample, now)
    except Exception:  # a full disk or a read-only data folder: show the line, record nothing
        points = [(now, sample["ctx_tokens"])] if sample["ctx_tokens"] is not None else []
    health = healthboard.read(folder, sample["sid"], now) if sample["sid"] else None
    parts = segments(fmt, fields(sample, points, now, near, health))
    return compose(parts, _width(env), colour=not env.get("NO_COLOR"))


def then_line(command: str, raw: bytes, env: Mapping[str, str], colour: bool) -> str:
    """The first line the user's own statusline command prints for the same input (``--then``): its
    colours kept (unless NO_COLOR), every other control character made visible."""
    import re
    import subprocess

    sgr = re.compile(r"\x1b\[[0-9;]*m")
    try:
        done = subprocess.run(
            command, shell=True, input=raw, capture_output=True, timeout=THEN_TIMEOUT, env=dict(env)
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    lines = done.stdout.decode("utf-8", "replace").splitlines()
    first = lines[0] if lines else ""
    pieces = sgr.split(first)
    codes = sgr.findall(first) if colour else [""] * (len(pieces) - 1)
    out = for_terminal(pieces[0])
    for code, piece in zip(codes, pieces[1:]):
        out += code + for_terminal(piece)
    return out + ("\x1b[0m" if colour and codes else "")


def run(
    stdin: Any = None,
    stdout: TextIO | None = None,
    env: Mapping[str, str] | None = None,
    then: str | None = None,
) -> int:
    """Read the payload, print the line (and the user's own after it); always 0: the host must never
    see a failure."""
    stdin = stdin if stdin is not None else sys.stdin.buffer
    stdout = stdout if stdout is not None else sys.stdout
    env = env if env is not None else os.environ
    raw = b""
    try:
        raw = stdin.read(MAX_INPUT + 1)[:MAX_INPUT]
        line = status_line(raw, env, time.time()) or FALLBACK
    except Exception:
        line = FALLBACK
    if then:
        try:
            theirs = then_line(then, raw, env, colour=not env.get("NO_COLOR"))
        except Exception:
            theirs = ""
        line = line + JOIN + theirs if theirs else line
    try:
        stdout.write(line + "\n")
        stdout.flush()
    except (OSError, ValueError):
        pass
    return 0


USAGE = (
    "usage: lsm statusline [--then COMMAND] < payload.json  (Claude Code's statusLine command;"
    " see lsm statusline --help)\n"
)


def fast_main(argv: list[str]) -> int:
    """``argv`` = ["statusline"] or ["statusline", "--then", COMMAND], sent here by entry.py before the
    CLI is loaded (``install``, ``uninstall`` and ``--help`` go to the CLI). Anything else, or a person
    at a terminal: the usage line and exit 2."""
    rest = argv[1:]
    then = rest[1] if len(rest) == 2 and rest[0] == "--then" else None
    if (rest and then is None) or sys.stdin is None or sys.stdin.isatty():
        sys.stderr.write(USAGE)
        return 2
    return run(then=then)
