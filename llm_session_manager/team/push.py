"""What leaves a machine, and how it is written to the team store.

A session leaves as numbers: tokens, cost, context %, health, status, model, agent, project *name* and
times, in the same document `lsm list --format json` prints, with every text and path taken out
(title, description, tags, branch, the state's detail, the folder, transcript paths, the process) —
unless ``team.share_titles`` is true, which lets the title, description, tags and branch go, redacted.
Its usage goes as per-hour buckets (hour, model, tokens).

Writing is idempotent and crash-safe: sessions go in batches, one transaction each. A session row is
written when it is new, when this machine pushed it before, or when it is further along (later last
activity, then more tokens) than what another machine pushed; its buckets are then replaced whole in
the same transaction. So a re-push changes nothing, a push killed between batches leaves every session
either as before or as now, and the same logs pushed from two computers count once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from llm_session_manager.models import SessionView
from llm_session_manager.pricing import ModelTable
from llm_session_manager.safetext import without_secrets

if TYPE_CHECKING:
    import psycopg

    from llm_session_manager.limits import Observation

BATCH_SIZE = 200
# Official-limit observations older than this are not pushed (the longest window is 7 days).
LIMITS_LOOKBACK = timedelta(days=8)
# (hour start, model, input, output, cache_creation, cache_read, cache_write_1h)
HourBucket = tuple[datetime, str, int, int, int, int, int]


@dataclass(frozen=True)
class Identity:
    """Who pushes: the person (the key of their sessions) and the computer (an attribute)."""

    user: str
    machine: str
    share_titles: bool = False


def identity_of(team: Mapping[str, Any]) -> Identity:
    """The configured names (``team.user``, ``team.machine``), else the login name and the host name."""
    import getpass
    import socket

    user = team.get("user")
    if not user:
        try:
            user = getpass.getuser()
        except (KeyError, OSError):  # no name for this uid (a container)
            user = "unknown-user"
    machine = team.get("machine") or socket.gethostname() or "unknown-host"
    return Identity(user=str(user), machine=str(machine), share_titles=bool(team.get("share_titles")))


@dataclass(frozen=True)
class SessionRecord:
    agent: str
    native_id: str
    session_id: str
    project: str | None
    model: str | None
    status: str
    running: bool
    started_at: datetime | None
    last_activity: datetime | None
    tokens: tuple[int, int, int, int]
    cost_usd: float | None
    context_pct: float | None
    health_score: float
    health_status: str
    models: list[dict[str, Any]]
    doc: dict[str, Any]
    buckets: list[HourBucket] = field(default_factory=list)
    digest: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return self.agent, self.native_id


def pushable(views: Iterable[SessionView]) -> list[SessionView]:
    """Sessions of this machine's agents, live or archived: not imported documents (they came from
    elsewhere and would count twice), not running processes whose transcript lsm cannot read."""
    from llm_session_manager.service import is_placeholder

    return [v for v in views if v.session.origin != "imported" and not is_placeholder(v.session)]


TEXT_KEYS = ("title", "description", "git_branch")


def shared_document(view: SessionView, project: str | None, share_titles: bool) -> dict[str, Any]:
    """The session's `lsm list` document as it leaves the machine."""
    from llm_session_manager.serialize import session_json

    doc = session_json(view, project)
    doc.update(project_path=None, process=None, pid=None, transcript_paths=[], warnings=[])
    if share_titles:
        for key in (*TEXT_KEYS, "state_detail"):
            doc[key] = without_secrets(doc[key])
        doc["tags"] = [without_secrets(t) for t in doc["tags"]]
    else:
        doc.update(dict.fromkeys(TEXT_KEYS), state_detail=None, tags=[])
    return doc


def hourly(buckets: Iterable[Sequence[Any]]) -> list[HourBucket]:
    """Per-minute usage (reports.Bucket) summed per (hour, model)."""
    sums: dict[tuple[int, str], list[int]] = {}
    for minute, model, *tokens in buckets:
        row = sums.setdefault((int(minute) // 60, str(model)), [0, 0, 0, 0, 0])
        for i, n in enumerate(tokens[:5]):
            row[i] += int(n)
    return [
        (datetime.fromtimestamp(hour * 3600, timezone.utc), model, *t)  # type: ignore[misc]
        for (hour, model), t in sorted(sums.items())
    ]


def model_rows(view: SessionView, table: ModelTable) -> list[dict[str, Any]]:
    """Tokens and cost per model. A model lsm cannot price has no cost, except in a session the agent
    priced itself (``cost_source: agent``): that cost goes to the session's model."""
    rows = []
    for m in view.session.model_usage:
        cost, _unknown = table.cost([m])
        tokens = m.input + m.output + m.cache_creation + m.cache_read
        rows.append(
            {
                "model": m.model,
                "input": m.input,
                "output": m.output,
                "cache_creation": m.cache_creation,
                "cache_read": m.cache_read,
                "cost_usd": cost if tokens else 0.0,
            }
        )
    if view.cost_source == "agent" and view.cost_usd is not None and rows:
        main = next((r for r in rows if r["model"] == view.session.model), rows[0])
        for r in rows:
            r["cost_usd"] = view.cost_usd if r is main else None
    return rows


def record_of(view: SessionView, project: str | None, table: ModelTable, share_titles: bool) -> SessionRecord:
    from llm_session_manager.reports import session_buckets
    from llm_session_manager.service import UsageSource

    s = view.session
    t = s.tokens
    buckets = hourly(session_buckets(UsageSource(s, project)))
    record = SessionRecord(
        agent=s.agent,
        native_id=s.native_id,
        session_id=s.id,
        project=project,
        model=s.model,
        status=view.status,
        running=s.process is not None,
        started_at=s.started_at,
        last_activity=s.last_activity,
        tokens=(t.input, t.output, t.cache_creation, t.cache_read),
        cost_usd=view.cost_usd,
        context_pct=view.context_pct,
        health_score=view.health.score,
        health_status=view.health.status,
        models=model_rows(view, table),
        doc=shared_document(view, project, share_titles),
        buckets=buckets,
    )
    return _with_digest(record)


def _with_digest(record: SessionRecord) -> SessionRecord:
    import dataclasses

    import orjson

    payload = orjson.dumps(
        [record.doc, record.models, [(b[0].isoformat(), *b[1:]) for b in record.buckets]],
        option=orjson.OPT_SORT_KEYS,
    )
    return dataclasses.replace(record, digest=hashlib.sha256(payload).hexdigest())


# ---------------------------------------------------------------------------------------------------
# Writing

_UPSERT = """
INSERT INTO lsm_team_sessions AS t (
    user_name, agent, native_id, machine, session_id, project, model, status, running, started_at,
    last_activity, input_tokens, output_tokens, cache_creation_tokens, cache_read_tokens, total_tokens,
    cost_usd, context_pct, health_score, health_status, models, doc, digest, pushed_at
) VALUES (
    %(user)s, %(agent)s, %(native_id)s, %(machine)s, %(session_id)s, %(project)s, %(model)s, %(status)s,
    %(running)s, %(started_at)s, %(last_activity)s, %(input)s, %(output)s, %(cache_creation)s,
    %(cache_read)s, %(total)s, %(cost_usd)s, %(context_pct)s, %(health_score)s, %(health_status)s,
    %(models)s, %(doc)s, %(digest)s, %(pushed_at)s
)
ON CONFLICT (user_name, agent, native_id) DO UPDATE SET
    machine = EXCLUDED.machine, session_id = EXCLUDED.session_id, project = EXCLUDED.project,
    model = EXCLUDED.model, status = EXCLUDED.status, running = EXCLUDED.running,
    started_at = EXCLUDED.started_at, last_activity = EXCLUDED.last_activity,
    input_tokens = EXCLUDED.input_tokens, output_tokens = EXCLUDED.output_tokens,
    cache_creation_tokens = EXCLUDED.cache_creation_tokens, cache_read_tokens = EXCLUDED.cache_read_tokens,
    total_tokens = EXCLUDED.total_tokens, cost_usd = EXCLUDED.cost_usd, context_pct = EXCLUDED.context_pct,
    health_score = EXCLUDED.health_score, health_status = EXCLUDED.health_status,
    models = EXCLUDED.models, doc = EXCLUDED.doc, digest = EXCLUDED.digest, pushed_at = EXCLUDED.pushed_at
WHERE t.machine = EXCLUDED.machine
   OR (COALESCE(EXCLUDED.last_activity, '-infinity'::timestamptz), EXCLUDED.total_tokens)
      > (COALESCE(t.last_activity, '-infinity'::timestamptz), t.total_tokens)
"""

# The session row as this push wrote it: the witness that its buckets are this push's to replace.
_WRITTEN = """EXISTS (SELECT 1 FROM lsm_team_sessions s
    WHERE s.user_name = %(user)s AND s.agent = %(agent)s AND s.native_id = %(native_id)s
      AND s.machine = %(machine)s AND s.pushed_at = %(pushed_at)s AND s.digest = %(digest)s)"""
_DELETE_BUCKETS = f"""DELETE FROM lsm_team_usage
    WHERE user_name = %(user)s AND agent = %(agent)s AND native_id = %(native_id)s AND {_WRITTEN}"""
_INSERT_BUCKET = f"""
INSERT INTO lsm_team_usage (user_name, agent, native_id, hour, model, input_tokens, output_tokens,
    cache_creation_tokens, cache_read_tokens, cache_write_1h_tokens)
SELECT %(user)s, %(agent)s, %(native_id)s, %(hour)s, %(model)s, %(input)s, %(output)s, %(cache_creation)s,
    %(cache_read)s, %(cache_write_1h)s
WHERE {_WRITTEN}
"""
_COUNT_WRITTEN = """SELECT count(*) FROM lsm_team_sessions
    WHERE user_name = %s AND machine = %s AND pushed_at = %s
      AND (agent, native_id) IN (SELECT * FROM unnest(%s::text[], %s::text[]))"""


def _params(record: SessionRecord, who: Identity, now: datetime) -> dict[str, Any]:
    from psycopg.types.json import Json

    return {
        "user": who.user,
        "agent": record.agent,
        "native_id": record.native_id,
        "machine": who.machine,
        "session_id": record.session_id,
        "project": record.project,
        "model": record.model,
        "status": record.status,
        "running": record.running,
        "started_at": record.started_at,
        "last_activity": record.last_activity,
        "input": record.tokens[0],
        "output": record.tokens[1],
        "cache_creation": record.tokens[2],
        "cache_read": record.tokens[3],
        "total": sum(record.tokens),
        "cost_usd": record.cost_usd,
        "context_pct": record.context_pct,
        "health_score": record.health_score,
        "health_status": record.health_status,
        "models": Json(record.models),
        "doc": Json(record.doc),
        "digest": record.digest,
        "pushed_at": now,
    }


def known_digests(conn: psycopg.Connection, who: Identity) -> dict[tuple[str, str], str]:
    """What the team store holds of this person's sessions: a session whose digest is unchanged is not
    sent again."""
    rows = conn.execute(
        "SELECT agent, native_id, digest FROM lsm_team_sessions WHERE user_name = %s", (who.user,)
    ).fetchall()
    return {(agent, native): digest for agent, native, digest in rows}


def _bucket_params(base: dict[str, Any], bucket: HourBucket) -> dict[str, Any]:
    hour, model, inp, out, cc, cr, cc1h = bucket
    return {
        **base,
        "hour": hour,
        "model": model,
        "input": inp,
        "output": out,
        "cache_creation": cc,
        "cache_read": cr,
        "cache_write_1h": cc1h,
    }


def write_batch(
    conn: psycopg.Connection, who: Identity, batch: Sequence[SessionRecord], now: datetime
) -> int:
    """One transaction: every session of the batch (in key order, so two pushes never deadlock) and,
    for each one this push wrote, its buckets replaced. The statements go in one pipeline (a batch costs
    a few round trips to a distant database, not three per session). Returns how many were written."""
    ordered = sorted(batch, key=lambda r: r.key)
    with conn.transaction():
        with conn.pipeline(), conn.cursor() as cur:
            for record in ordered:
                params = _params(record, who, now)
                cur.execute(_UPSERT, params)
                cur.execute(_DELETE_BUCKETS, params)
                if record.buckets:
                    cur.executemany(_INSERT_BUCKET, [_bucket_params(params, b) for b in record.buckets])
        keys = [[r.agent for r in ordered], [r.native_id for r in ordered]]
        row = conn.execute(_COUNT_WRITTEN, (who.user, who.machine, now, *keys)).fetchone()
    return int(row[0]) if row else 0


def write_sessions(
    conn: psycopg.Connection,
    who: Identity,
    records: Sequence[SessionRecord],
    now: datetime,
    *,
    batch_size: int = BATCH_SIZE,
    after_batch: Callable[[int], None] | None = None,
) -> tuple[int, int]:
    """Send the records whose digest the store does not have, ``batch_size`` per transaction. Returns
    (sessions sent, sessions written); ``after_batch`` is told the count sent after each commit."""
    known = known_digests(conn, who)
    todo = [r for r in records if known.get(r.key) != r.digest]
    written = 0
    for start in range(0, len(todo), batch_size):
        written += write_batch(conn, who, todo[start : start + batch_size], now)
        if after_batch is not None:
            after_batch(min(start + batch_size, len(todo)))
    return len(todo), written


def recent_observations(observations: Iterable[Observation], now: datetime) -> list[Observation]:
    """What `lsm limits` needs of this machine's official-limit figures: the newest of each agent's
    window however old (it is shown as stale), and every figure of the last 8 days (for burn rates)."""
    newest: dict[tuple[str, str], Observation] = {}
    keep: list[Observation] = []
    for o in observations:
        key = (o.agent, o.window)
        if key not in newest or o.observed_at > newest[key].observed_at:
            newest[key] = o
        if o.observed_at >= now - LIMITS_LOOKBACK:
            keep.append(o)
    return keep + [o for o in newest.values() if o not in keep]


def write_limits(
    conn: psycopg.Connection, who: Identity, observations: Iterable[Observation], now: datetime
) -> int:
    """This machine's official-limit figures (recent_observations); each is stored once."""
    rows = [
        (
            who.user,
            o.agent,
            o.window,
            o.observed_at,
            o.source,
            who.machine,
            o.used_percent,
            o.resets_at,
            o.window_minutes,
            o.session_id,
        )
        for o in recent_observations(observations, now)
    ]
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            """INSERT INTO lsm_team_limits (user_name, agent, window_name, observed_at, source, machine,
                   used_percent, resets_at, window_minutes, session_id)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING""",
            rows,
        )
    return len(rows)


def touch_machine(conn: psycopg.Connection, who: Identity, now: datetime, sessions: int) -> None:
    from llm_session_manager import __version__

    conn.execute(
        """INSERT INTO lsm_team_machines (machine, user_name, last_push_at, lsm_version, sessions)
           VALUES (%s, %s, %s, %s, %s)
           ON CONFLICT (machine, user_name) DO UPDATE SET last_push_at = EXCLUDED.last_push_at,
               lsm_version = EXCLUDED.lsm_version, sessions = EXCLUDED.sessions""",
        (who.machine, who.user, now, __version__, sessions),
    )
