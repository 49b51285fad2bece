"""Usage reports: tokens and cost per day, week, month, 5-hour block or session, counted at the time
each reply happened (not per whole session).

Pure functions over the sessions ``service.collect`` returns. Each session carries its per-minute usage
(``Session.usage_history``: minute since the epoch, model, input, output, cache_creation, cache_read,
cache_write_1h); a session whose agent's log does not time its replies counts whole at its last
activity. Cost is priced per (row, model) from those buckets with lsm's price table; the long-context
tier is priced per request and cannot be told from buckets, so reports price every token at the
standard tier (``lsm list`` prices sessions exactly).

Blocks follow ccusage's definition of Claude's 5-hour billing windows: over every Claude reply in time
order, a block starts at the hour of its first reply and holds the replies of the next 5 hours; a reply
more than 5 hours after the block's start, or after the previous reply, starts a new block. lsm keeps
reply times to the minute, so a reply exactly on a boundary (to the millisecond) can fall the other way.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import TYPE_CHECKING, Any

from llm_session_manager.models import ModelTokens
from llm_session_manager.pricing import ModelTable, model_cost

if TYPE_CHECKING:
    from llm_session_manager.config import Config
    from llm_session_manager.paths import Paths
    from llm_session_manager.scan import ScanProgress
    from llm_session_manager.service import UsageSource
from llm_session_manager.timefmt import iso

KINDS = ("daily", "weekly", "monthly", "blocks", "session")
DIMENSIONS = ("agent", "model", "project", "branch")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
BLOCK_MINUTES = 5 * 60
BLOCK_AGENT = "claude-code"
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")

# (minute since the epoch, model, input, output, cache_creation, cache_read, cache_write_1h)
Bucket = tuple[int, str, int, int, int, int, int]


@dataclass(frozen=True)
class Options:
    kind: str
    zone: tzinfo
    zone_name: str
    start_of_week: int = 0  # 0 = Monday
    since: datetime | None = None
    until: datetime | None = None  # exclusive
    by: tuple[str, ...] = ()
    last: int | None = None


@dataclass
class Row:
    period: str
    dims: dict[str, str | None]
    tokens: list[int] = field(default_factory=lambda: [0, 0, 0, 0])
    per_model: dict[str, list[int]] = field(default_factory=dict)  # model -> in, out, cc, cr, cc1h
    sessions: set[str] = field(default_factory=set)
    extra: dict[str, Any] = field(default_factory=dict)

    def add(self, session_id: str, b: Bucket) -> None:
        _m, model, inp, out, cc, cr, cc1h = b
        self.tokens[0] += inp
        self.tokens[1] += out
        self.tokens[2] += cc
        self.tokens[3] += cr
        row = self.per_model.get(model)
        if row is None:
            row = self.per_model[model] = [0, 0, 0, 0, 0]
        row[0] += inp
        row[1] += out
        row[2] += cc
        row[3] += cr
        row[4] += cc1h
        self.sessions.add(session_id)


@dataclass
class Report:
    options: Options
    rows: list[Row]
    table: ModelTable
    unpriced: set[str] = field(default_factory=set)

    def cost(self, row: Row) -> float | None:
        total = 0.0
        for model, t in row.per_model.items():
            info = self.table.lookup(model)
            if info is None or not info.priced:
                if any(t[:4]):
                    self.unpriced.add(model)
                    return None
                continue
            total += model_cost(info, ModelTokens(model, t[0], t[1], t[2], t[3], t[4]))
        return round(total, 6)


def session_buckets(src: UsageSource) -> Iterable[Bucket]:
    """The session's usage per minute; a session without reply times counts at its last activity."""
    s = src.session
    if s.usage_history:
        return s.usage_history
    if s.last_activity is None or not s.tokens.total:
        return ()
    minute = int(s.last_activity.timestamp() // 60)
    return [
        (minute, m.model, m.input, m.output, m.cache_creation, m.cache_read, m.cache_write_1h)
        for m in s.model_usage
    ]


def dimension(src: UsageSource, name: str, model: str) -> str | None:
    if name == "agent":
        return src.session.agent
    if name == "model":
        return model
    if name == "project":
        return src.project
    return src.session.git_branch


def wanted(src: UsageSource, agent: str | None, project: str | None) -> bool:
    """--agent (a name or its prefix) and --project (our name or the folder's, or part of the path, as
    `lsm list --project`); imported sessions are documents from elsewhere and never counted."""
    s = src.session
    if s.origin == "imported" or (agent and not s.agent.startswith(agent)):
        return False
    if not project:
        return True
    w = project.strip().lower()
    return w == (src.project or "").lower() or (len(w) > 1 and w in (s.project_path or "").lower())


class _Periods:
    """Minute since the epoch -> period label in the report's zone (memoised: buckets share minutes)."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.memo: dict[int, str] = {}

    def __call__(self, minute: int) -> str:
        label = self.memo.get(minute)
        if label is None:
            label = self.memo[minute] = self._label(
                datetime.fromtimestamp(minute * 60, self.options.zone).date()
            )
        return label

    def _label(self, day: date) -> str:
        kind = self.options.kind
        if kind == "monthly":
            return f"{day.year:04d}-{day.month:02d}"
        if kind == "weekly":
            day -= timedelta(days=(day.weekday() - self.options.start_of_week) % 7)
        return day.isoformat()


def _in_range(options: Options) -> Callable[[int], bool]:
    lo = options.since.timestamp() / 60 if options.since else None
    hi = options.until.timestamp() / 60 if options.until else None
    return lambda m: (lo is None or m >= lo) and (hi is None or m < hi)


def build(views: Sequence[UsageSource], options: Options, table: ModelTable) -> Report:
    if options.kind == "blocks":
        rows = _blocks(views, options)
    elif options.kind == "session":
        rows = _by_session(views, options)
    else:
        rows = _by_period(views, options)
    rows.sort(key=lambda r: (r.period, *((v or "") for v in r.dims.values())))
    if options.last is not None:
        keep = sorted({r.period for r in rows})[-options.last :] if options.last > 0 else []
        rows = [r for r in rows if r.period in set(keep)]
    return Report(options, rows, table)


def _keyed(rows: dict[tuple[Any, ...], Row], period: str, dims: dict[str, str | None]) -> Row:
    key = (period, *dims.values())
    row = rows.get(key)
    if row is None:
        row = rows[key] = Row(period, dims)
    return row


def _by_period(views: Sequence[UsageSource], options: Options) -> list[Row]:
    # The hot loop of a report over years of history: period labels memoised per minute, dimensions
    # looked up once per session when they do not depend on the model.
    label, inside = _Periods(options), _in_range(options)
    memo = label.memo
    rows: dict[tuple[Any, ...], Row] = {}
    by_model = "model" in options.by
    for view in views:
        sid = view.session.id
        fixed = {d: dimension(view, d, "") for d in options.by}
        for b in session_buckets(view):
            minute = b[0]
            if not inside(minute):
                continue
            period = memo.get(minute) or label(minute)
            dims = {**fixed, "model": b[1]} if by_model else fixed
            key = (period, *dims.values())
            row = rows.get(key)
            if row is None:
                row = rows[key] = Row(period, dict(dims))
            row.add(sid, b)
    return list(rows.values())


def _by_session(views: Sequence[UsageSource], options: Options) -> list[Row]:
    """One row per session (and per --by value): period is the day of its last reply in the range."""
    label, inside = _Periods(Options("daily", options.zone, options.zone_name)), _in_range(options)
    rows: dict[tuple[Any, ...], Row] = {}
    for view in views:
        s = view.session
        buckets = [b for b in session_buckets(view) if inside(b[0])]
        if not buckets:
            continue
        period = label(max(b[0] for b in buckets))
        for b in buckets:
            dims = {"session_id": s.id, **{d: dimension(view, d, b[1]) for d in options.by}}
            row = _keyed(rows, period, dims)
            row.add(s.id, b)
            row.extra.setdefault("title", s.title)
    return list(rows.values())


def _blocks(views: Sequence[UsageSource], options: Options, now: datetime | None = None) -> list[Row]:
    """Claude's 5-hour windows over every Claude reply, as ccusage draws them; a block is kept when it
    starts inside --since/--until."""
    points = sorted(
        (b[0], i, b)
        for i, view in enumerate(views)
        if view.session.agent == BLOCK_AGENT
        for b in session_buckets(view)
    )
    now_min = (now or datetime.now(timezone.utc)).timestamp() / 60
    inside = _in_range(options)
    out: list[Row] = []
    start = last = first = -1
    rows: dict[tuple[Any, ...], Row] = {}

    def close() -> None:
        if start >= 0 and inside(start):
            for row in rows.values():
                row.extra.update(_block_extra(start, first, last, now_min))
                out.append(row)

    for minute, i, b in points:
        if start < 0 or minute - start >= BLOCK_MINUTES or minute - last > BLOCK_MINUTES:
            close()
            start, first, rows = minute - minute % 60, minute, {}
        last = minute
        view = views[i]
        dims = {d: dimension(view, d, b[1]) for d in options.by}
        _keyed(rows, iso(datetime.fromtimestamp(start * 60, timezone.utc)) or "", dims).add(
            view.session.id, b
        )
    close()
    return out


def _block_extra(start: int, first: int, last: int, now_min: float) -> dict[str, Any]:
    end = start + BLOCK_MINUTES
    active = now_min - last < BLOCK_MINUTES and now_min < end
    return {
        "end": iso(datetime.fromtimestamp(end * 60, timezone.utc)),
        "active": active,
        "first_reply_minute": first,
        "last_reply_minute": last,
        "minutes_left": max(0, round(end - now_min)) if active else None,
    }


def burn(row: Row, report: Report) -> dict[str, float | None]:
    """An active block's pace (tokens per minute between its first and last reply) and what it comes to
    at the block's end at that pace."""
    first, last, left = (
        row.extra["first_reply_minute"],
        row.extra["last_reply_minute"],
        row.extra["minutes_left"],
    )
    total = sum(row.tokens)
    per_min = total / max(1, last - first)
    cost = report.cost(row)
    return {
        "tokens_per_minute": round(per_min, 1),
        "projected_total_tokens": round(total + per_min * (left or 0)),
        "projected_cost_usd": None
        if cost is None
        else round(cost + cost / max(1, last - first) * (left or 0), 4),
    }


# ---------------------------------------------------------------------------------------------------
# Output shapes


def token_dict(tokens: Sequence[int]) -> dict[str, int]:
    return {
        "input": tokens[0],
        "output": tokens[1],
        "cache_creation": tokens[2],
        "cache_read": tokens[3],
        "total": sum(tokens[:4]),
    }


def row_dict(row: Row, report: Report) -> dict[str, Any]:
    out: dict[str, Any] = {"period": row.period, **row.dims}
    if report.options.kind == "session":
        out["title"] = row.extra.get("title")
    out["tokens"] = token_dict(row.tokens)
    out["cost_usd"] = report.cost(row)
    out["sessions"] = len(row.sessions)
    if report.options.kind == "blocks":
        out["end"] = row.extra["end"]
        out["active"] = row.extra["active"]
        out["burn"] = burn(row, report) if row.extra["active"] else None
    return out


def totals(report: Report) -> dict[str, Any]:
    tokens = [sum(r.tokens[i] for r in report.rows) for i in range(4)]
    costs = [report.cost(r) for r in report.rows]
    sessions = set().union(*(r.sessions for r in report.rows)) if report.rows else set()
    return {
        "tokens": token_dict(tokens),
        "cost_usd": None
        if any(c is None for c in costs)
        else round(sum(c for c in costs if c is not None), 6),
        "sessions": len(sessions),
    }


def to_json(report: Report) -> dict[str, Any]:
    rows = [row_dict(r, report) for r in report.rows]
    return {
        "report": report.options.kind,
        "timezone": report.options.zone_name,
        "rows": rows,
        "totals": totals(report),
        "unpriced_models": sorted(report.unpriced),
    }


# ---------------------------------------------------------------------------------------------------
# One report, from the options as a user gives them (the CLI and the MCP tool)


@dataclass(frozen=True)
class Request:
    kind: str
    by: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    agent: str | None = None
    project: str | None = None
    timezone: str | None = None
    start_of_week: str = "monday"
    last: int | None = None


def usage_report(
    paths: Paths, cfg: Config, req: Request, now: datetime | None = None, progress: ScanProgress | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The report's JSON document, and the scan's errors (files that could not be read); ``progress`` is
    told of each file the scan reads."""
    from llm_session_manager.service import usage_sessions

    now = now or datetime.now(timezone.utc)
    agent = check_agent(req.agent)
    if req.kind == "blocks" and agent and not BLOCK_AGENT.startswith(agent):
        raise _usage(f"--agent: blocks are Claude's 5-hour windows; only {BLOCK_AGENT} has them")
    zone, zone_name = zone_of(req.timezone)
    options = Options(
        kind=req.kind,
        zone=zone,
        zone_name=zone_name,
        start_of_week=weekday_of(req.start_of_week),
        since=moment("--since", req.since, now, zone),
        until=moment("--until", req.until, now, zone),
        by=check_by(req.by),
        last=req.last,
    )
    sources, scans = usage_sessions(paths, cfg, progress=progress)
    errors = [err for stats in scans.values() for err in stats.errors[:5]]
    views = [v for v in sources if wanted(v, agent, req.project)]
    return to_json(build(views, options, ModelTable(cfg.get("models")))), errors


# ---------------------------------------------------------------------------------------------------
# Options


def _usage(message: str) -> Exception:
    from llm_session_manager.errors import UsageError

    return UsageError(message)


def check_agent(value: str | None) -> str | None:
    """An agent name or a prefix of one, lower-cased (None: every agent)."""
    from llm_session_manager.agents import agent_names

    if value is None:
        return None
    names = agent_names()
    name = value.strip().lower()
    if not name or not any(agent.startswith(name) for agent in names):
        raise _usage(f"--agent: unknown agent '{value}' (one of {', '.join(names)})")
    return name


def moment(option: str, text: str | None, now: datetime, zone: tzinfo) -> datetime | None:
    """--since/--until in the report's zone; a bare date in --until includes that whole day."""
    from llm_session_manager.errors import UsageError
    from llm_session_manager.timefmt import parse_since

    if text is None:
        return None
    try:
        when = parse_since(text, now, zone=zone)
    except UsageError as exc:
        raise _usage(str(exc).replace("--since", option, 1)) from None
    if option == "--until" and _DAY.match(text.strip()):
        day = when.astimezone(zone).date() + timedelta(days=1)
        when = datetime(day.year, day.month, day.day, tzinfo=zone).astimezone(timezone.utc)
    return when


def zone_of(name: str | None) -> tuple[tzinfo, str]:
    """``--timezone``: an IANA name (``Europe/Berlin``) or ``UTC``; None = this machine's zone."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from llm_session_manager.errors import UsageError

    if name is None:
        return _local_zone()
    text = name.strip()
    if text.upper() in ("UTC", "Z", "GMT"):
        return timezone.utc, "UTC"
    try:
        return ZoneInfo(text), text
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise UsageError(
            f"--timezone: unknown time zone '{name}' (an IANA name like Europe/Berlin, or UTC)"
        ) from None


def _local_zone() -> tuple[tzinfo, str]:
    from zoneinfo import ZoneInfo

    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        link = os.readlink("/etc/localtime")
        candidates.append(link.partition("zoneinfo/")[2])
    except OSError:
        pass
    for name in candidates:
        if name:
            try:
                return ZoneInfo(name), name
            except Exception:  # an odd TZ value: the next candidate
                continue
    local = datetime.now().astimezone().tzinfo or timezone.utc
    return local, datetime.now(local).tzname() or "local"


def weekday_of(name: str) -> int:
    from llm_session_manager.errors import UsageError

    text = name.strip().lower()
    matches = [i for i, day in enumerate(WEEKDAYS) if day.startswith(text)] if len(text) >= 2 else []
    if len(matches) != 1:
        raise UsageError(f"--start-of-week: unknown day '{name}' (monday ... sunday)")
    return matches[0]


def check_by(values: Sequence[str]) -> tuple[str, ...]:
    from llm_session_manager.errors import UsageError

    out: list[str] = []
    for raw in values:
        for part in raw.split(","):
            name = part.strip().lower()
            if name not in DIMENSIONS:
                raise UsageError(f"--by: unknown dimension '{part.strip()}' (one of {', '.join(DIMENSIONS)})")
            if name not in out:
                out.append(name)
    return tuple(out)
