"""Reading the team store: everyone's sessions (`lsm list --team`), their per-hour usage for reports
(`lsm report … --team`) and official limits (`lsm limits --team`). SQL only; the documents are built by
the callers from what these return."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psycopg

    from llm_session_manager.limits import Observation

# `lsm list --sort` keys as SQL (the same order as listing.sort_views: biggest first, worst health first).
SORTS = {
    "last_activity": "last_activity DESC NULLS LAST",
    "started_at": "started_at DESC NULLS LAST",
    "tokens": "total_tokens DESC",
    "cost": "cost_usd DESC NULLS LAST",
    "context": "context_pct DESC NULLS LAST",
    "health": "health_score ASC NULLS LAST",
    "project": "lower(project) ASC NULLS FIRST",
}


@dataclass(frozen=True)
class SessionFilter:
    """`lsm list --team`'s filters, as listing.ListFilter reads them; ``recent_after`` is the start of
    the recent window (used unless every session, a status or --since is asked for)."""

    every: bool = False
    statuses: tuple[str, ...] = ()
    agent: str | None = None
    project: str | None = None
    tags: tuple[str, ...] = ()
    since: datetime | None = None
    recent_after: datetime | None = None
    user: str | None = None
    machine: str | None = None


def _where(f: SessionFilter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if f.statuses:
        clauses.append("status = ANY(%s)")
        params.append(list(f.statuses))
    if f.agent:
        clauses.append("starts_with(agent, %s)")
        params.append(f.agent)
    if f.project:
        wanted = f.project.strip().lower()
        clauses.append("(lower(project) = %s OR (length(%s) > 1 AND strpos(lower(project), %s) > 0))")
        params += [wanted, wanted, wanted]
    if f.tags:
        clauses.append("(doc::jsonb -> 'tags') @> %s::jsonb")
        from psycopg.types.json import Jsonb

        params.append(Jsonb(list(f.tags)))
    if f.since:
        clauses.append("last_activity >= %s")
        params.append(f.since)
    if f.user:
        clauses.append("user_name = %s")
        params.append(f.user)
    if f.machine:
        clauses.append("machine = %s")
        params.append(f.machine)
    if not (f.every or f.statuses or f.since) and f.recent_after is not None:
        clauses.append("(running OR last_activity >= %s)")
        params.append(f.recent_after)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


def sessions(
    conn: psycopg.Connection, f: SessionFilter, sort: str, limit: int | None
) -> list[tuple[dict[str, Any], str, str]]:
    """(list document, user, machine) of every session the filter keeps, in ``sort`` order."""
    where, params = _where(f)
    order = f"{SORTS[sort]}, user_name, agent, native_id"
    sql = f"SELECT doc, user_name, machine FROM lsm_team_sessions{where} ORDER BY {order}"
    if limit:
        sql += " LIMIT %s"
        params.append(limit)
    return [(doc, user, machine) for doc, user, machine in conn.execute(sql.encode(), params).fetchall()]


@dataclass(frozen=True)
class UsageRow:
    """One session of the team with its per-hour usage: what a report needs of it."""

    user: str
    machine: str
    agent: str
    native_id: str
    session_id: str
    project: str | None
    doc: dict[str, Any]
    buckets: list[tuple[int, str, int, int, int, int, int]]  # reports.Bucket, minute = hour start


def usage(
    conn: psycopg.Connection, agent: str | None, since: datetime | None, until: datetime | None
) -> list[UsageRow]:
    """Every session with usage in [since, until), and its buckets there (hours that start inside)."""
    where = ["TRUE"]
    params: list[Any] = []
    if agent:
        where.append("starts_with(u.agent, %s)")
        params.append(agent)
    if since:
        where.append("u.hour >= date_trunc('hour', %s::timestamptz)")
        params.append(since)
    if until:
        where.append("u.hour < %s")
        params.append(until)
    buckets: dict[tuple[str, str, str], list[tuple[int, str, int, int, int, int, int]]] = {}
    sql = f"""SELECT u.user_name, u.agent, u.native_id, extract(epoch FROM u.hour)::bigint / 60, u.model,
                     u.input_tokens, u.output_tokens, u.cache_creation_tokens, u.cache_read_tokens,
                     u.cache_write_1h_tokens
              FROM lsm_team_usage u WHERE {" AND ".join(where)}
              ORDER BY u.user_name, u.agent, u.native_id, u.hour, u.model"""
    for user, ag, native, minute, model, *tokens in conn.execute(sql.encode(), params):
        buckets.setdefault((user, ag, native), []).append((int(minute), model, *map(int, tokens)))
    if not buckets:
        return []
    rows = conn.execute(
        """SELECT user_name, machine, agent, native_id, session_id, project, doc FROM lsm_team_sessions
           WHERE (user_name, agent, native_id) IN (SELECT * FROM unnest(%s::text[], %s::text[], %s::text[]))
           ORDER BY user_name, agent, native_id""",
        [list(k) for k in zip(*buckets.keys())],
    ).fetchall()
    return [UsageRow(u, m, a, n, sid, p, doc, buckets[(u, a, n)]) for u, m, a, n, sid, p, doc in rows]


def limit_observations(conn: psycopg.Connection, since: datetime) -> list[tuple[str, str, Observation]]:
    """(user, machine, observation) of every official-limit figure observed since ``since``, and the
    newest of each person's agent window however old (shown as stale)."""
    from llm_session_manager.limits import Observation

    rows = conn.execute(
        """SELECT user_name, machine, agent, window_name, used_percent, resets_at, observed_at, source,
                  session_id, window_minutes
           FROM lsm_team_limits l
           WHERE observed_at >= %s OR observed_at = (
               SELECT max(observed_at) FROM lsm_team_limits n
               WHERE n.user_name = l.user_name AND n.agent = l.agent AND n.window_name = l.window_name)
           ORDER BY user_name, observed_at""",
        (since,),
    ).fetchall()
    return [
        (user, machine, Observation(agent, window, used, resets, observed, source, sid, minutes))
        for user, machine, agent, window, used, resets, observed, source, sid, minutes in rows
    ]


def machines(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Every machine that pushed: who, when last, with which lsm, how many sessions it holds now."""
    rows = conn.execute(
        """SELECT m.machine, m.user_name, m.last_push_at, m.lsm_version, m.sessions,
                  (SELECT count(*) FROM lsm_team_sessions s WHERE s.machine = m.machine
                      AND s.user_name = m.user_name)
           FROM lsm_team_machines m ORDER BY m.user_name, m.machine"""
    ).fetchall()
    return [
        {
            "machine": machine,
            "user": user,
            "last_push_at": last,
            "lsm_version": version,
            "sessions_pushed": pushed,
            "sessions_held": int(held),
        }
        for machine, user, last, version, pushed, held in rows
    ]


def metric_rows(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
    """What /metrics needs of every team session: (agent, project, user, machine, model, running,
    context %, health score, per-model tokens and cost)."""
    return conn.execute(
        """SELECT agent, project, user_name, machine, model, running, context_pct, health_score, models
           FROM lsm_team_sessions"""
    ).fetchall()
