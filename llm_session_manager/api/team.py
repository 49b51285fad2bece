"""Team use cases: initialise the team store, push this machine's numbers to it, and read everyone's
sessions, usage reports and official limits. The documents are those of `lsm list`, `lsm report` and
`lsm limits` with ``user`` and ``machine`` added (report rows: when split --by user or machine)."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from llm_session_manager.api.context import Context
from llm_session_manager.errors import UsageError

if TYPE_CHECKING:
    import psycopg

    from llm_session_manager.limits import Observation
    from llm_session_manager.reports import Request
    from llm_session_manager.team.push import Identity, SessionRecord


def identity(ctx: Context) -> Identity:
    """This person and computer as the team store names them: the configured names, else the login
    name and the host name."""
    from llm_session_manager.team.push import identity_of

    return identity_of(ctx.config["team"])


@contextmanager
def connection(ctx: Context, *, migrated: bool = True) -> Iterator[psycopg.Connection]:
    """A connection to the team store (its schema checked when ``migrated``); driver failures become one
    line without the password."""
    from llm_session_manager.errors import LsmError
    from llm_session_manager.team import db, schema

    url = db.url_of(dict(ctx.config["team"]))
    conn = db.connect(url)
    try:
        if migrated:
            schema.require(conn)
        yield conn
    except LsmError:
        raise
    except Exception as exc:
        import psycopg

        if isinstance(exc, psycopg.Error):
            raise db.failure(exc, url) from None
        raise
    finally:
        conn.close()


def init(ctx: Context) -> dict[str, Any]:
    """`lsm team init`: create or migrate the schema (safe to run again, and from many machines)."""
    from llm_session_manager.team import schema

    with connection(ctx, migrated=False) as conn:
        start = schema.migrate(conn)
    return {"schema_version": schema.SCHEMA_VERSION, "was": start, "migrated": start != schema.SCHEMA_VERSION}


@dataclass
class PushResult:
    user: str
    machine: str
    sessions: int  # sessions of this machine
    sent: int  # sessions changed since the store last had them
    written: int  # sessions written (the others: another machine holds a further-along copy)
    limits: int
    pushed_at: datetime
    errors: list[str] = field(default_factory=list)

    def document(self) -> dict[str, Any]:
        from llm_session_manager.timefmt import iso

        return {
            "user": self.user,
            "machine": self.machine,
            "sessions": self.sessions,
            "sent": self.sent,
            "written": self.written,
            "limits": self.limits,
            "pushed_at": iso(self.pushed_at),
            "errors": self.errors,
        }


def push(
    ctx: Context, *, batch_size: int | None = None, after_batch: Callable[[int], None] | None = None
) -> PushResult:
    """`lsm team push`: this machine's sessions, their per-hour usage and its official limits. The
    store is reached first, so a wrong URL or password fails before the scan."""
    from llm_session_manager.team import push as team_push

    who = identity(ctx)
    now = ctx.now()
    with connection(ctx) as conn:
        records, observations, errors = _this_machine(ctx, who, now)
        sent, written = team_push.write_sessions(
            conn, who, records, now, batch_size=batch_size or team_push.BATCH_SIZE, after_batch=after_batch
        )
        limits = team_push.write_limits(conn, who, observations, now)
        team_push.touch_machine(conn, who, now, len(records))
    return PushResult(who.user, who.machine, len(records), sent, written, limits, now, errors)


def _this_machine(
    ctx: Context, who: Identity, now: datetime
) -> tuple[list[SessionRecord], list[Observation], list[str]]:
    """What a push sends: the session records, the official-limit figures, and the scan's errors."""
    from llm_session_manager.limits import observe
    from llm_session_manager.pricing import ModelTable
    from llm_session_manager.service import collect, project_name
    from llm_session_manager.team import push as team_push

    with ctx.lock:
        collected = collect(ctx.paths, ctx.config, now=now, history=True)
        observations = observe(ctx.paths, ctx.config)
    table = ModelTable(ctx.config.get("models"))
    records = [
        team_push.record_of(v, project_name(v), table, who.share_titles)
        for v in team_push.pushable(collected.views)
    ]
    errors = [err for stats in collected.stats.values() for err in stats.errors[:5]]
    return records, observations, errors


# ---------------------------------------------------------------------------------------------------
# Reading


@dataclass(frozen=True)
class TeamQuery:
    """`lsm list --team`: the filters of `lsm list` (ListQuery) and a person or machine."""

    statuses: tuple[str, ...] = ()
    agent: str | None = None
    tags: tuple[str, ...] = ()
    project: str | None = None
    all_sessions: bool = False
    since: str | None = None
    utc: bool = False
    sort: str | None = None
    limit: int | None = None
    user: str | None = None
    machine: str | None = None


def team_sessions(ctx: Context, query: TeamQuery) -> list[dict[str, Any]]:
    """Everyone's sessions as `lsm list --format json` prints them, plus ``user`` and ``machine``."""
    from llm_session_manager.listing import check_statuses
    from llm_session_manager.team import read
    from llm_session_manager.timefmt import parse_since

    now = ctx.now()
    sort = query.sort or ctx.config["list"]["sort"]
    if sort not in read.SORTS:
        raise UsageError(f"--sort: unknown key '{sort}' (one of {', '.join(read.SORTS)})")
    flt = read.SessionFilter(
        every=query.all_sessions,
        statuses=check_statuses(query.statuses),
        agent=query.agent,
        project=query.project,
        tags=tuple(t.strip().lower() for t in query.tags),
        since=parse_since(query.since, now, utc=query.utc) if query.since else None,
        recent_after=now - timedelta(hours=float(ctx.config["recent_hours"])),
        user=query.user,
        machine=query.machine,
    )
    with connection(ctx) as conn:
        found = read.sessions(conn, flt, sort, query.limit)
    return [{**doc, "user": user, "machine": machine} for doc, user, machine in found]


def team_limits(ctx: Context, agents: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Everyone's official limits: each person's newest figure per agent and window (`lsm limits`'
    document), with the machine that observed it."""
    from llm_session_manager.limits import current_limits
    from llm_session_manager.team import read
    from llm_session_manager.team.push import LIMITS_LOOKBACK

    now = ctx.now()
    with connection(ctx) as conn:
        found = read.limit_observations(conn, now - LIMITS_LOOKBACK)
    by_user: dict[str, list[Any]] = {}
    seen_on: dict[tuple[str, Any], str] = {}
    for user, machine, obs in found:
        if agents and obs.agent not in agents:
            continue
        by_user.setdefault(user, []).append(obs)
        seen_on[(user, obs)] = machine
    out = []
    for user in sorted(by_user):
        for limit in current_limits(by_user[user], now):
            out.append({**limit.as_json(), "user": user, "machine": seen_on[(user, limit.observation)]})
    return out


def team_status(ctx: Context) -> dict[str, Any]:
    """`lsm team status`: the schema, every machine's last push, this machine's names."""
    from llm_session_manager.team import read, schema
    from llm_session_manager.timefmt import iso

    who = identity(ctx)
    with connection(ctx, migrated=False) as conn:
        version = schema.version(conn)
        schema.check(version)
        machines = read.machines(conn) if version else []
        totals = (
            conn.execute("SELECT count(*), count(DISTINCT user_name) FROM lsm_team_sessions").fetchone()
            if version
            else (0, 0)
        )
    return {
        "schema_version": version,
        "schema_current": version == schema.SCHEMA_VERSION,
        "user": who.user,
        "machine": who.machine,
        "share_titles": who.share_titles,
        "sessions": int(totals[0]) if totals else 0,
        "users": int(totals[1]) if totals else 0,
        "machines": [{**m, "last_push_at": iso(m["last_push_at"])} for m in machines],
    }


def team_report(ctx: Context, request: Request) -> dict[str, Any]:
    """`lsm report … --team`: the report of everyone's per-hour usage. ``--by`` also takes user and
    machine; blocks (Claude's 5-hour windows, one per account) are always split by user. Usage is kept
    by the hour in the team store, so --since/--until and days in a zone off the hour count whole hours."""
    from llm_session_manager.team.report import build_report

    with connection(ctx) as conn:
        return build_report(conn, ctx.config, request, ctx.now())
