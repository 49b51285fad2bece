"""The session service: read transcripts, find running processes, and derive status, cost and health.

Front ends (CLI, dashboard, MCP) call ``collect`` and render what comes back; they never read sources
or SQL themselves.
"""

from __future__ import annotations

import dataclasses
import functools
import gc
import sqlite3
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from llm_session_manager import burn, hookstate
from llm_session_manager import health as health_mod
from llm_session_manager.agents import all_readers, default_window
from llm_session_manager.agents.base import AgentReader
from llm_session_manager.models import Process, Session, SessionView, TokenUsage, with_context_window
from llm_session_manager.paths import Paths
from llm_session_manager.pricing import ModelTable, auto_compact_point
from llm_session_manager.safetext import without_secrets
from llm_session_manager.scan import ScanMemo, ScanProgress, ScanStats, scan_agent
from llm_session_manager.store import db, hook_events, meta

if TYPE_CHECKING:
    from llm_session_manager.config import Config

STATUSES = ("active", "idle", "ended", "closed", "imported", "archived")
P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class Collected:
    views: list[SessionView]
    stats: dict[str, ScanStats]
    processes: list[Process] = field(default_factory=list)
    unknown_models: dict[str, int] = field(default_factory=dict)
    discovery_error: str | None = None
    readers: list[AgentReader] = field(default_factory=list)
    # agent -> sessions with tokens but no model name in the agent's log (so no price either)
    models_not_recorded: dict[str, int] = field(default_factory=dict)
    # Sessions found but not derived: the caller's ``wanted`` said it shows them nowhere.
    unlisted: list[Session] = field(default_factory=list)

    def sessions(self) -> list[Session]:
        """Every session found, derived or not (ids are told apart among all of them)."""
        return [v.session for v in self.views] + self.unlisted


def open_db(paths: Paths) -> sqlite3.Connection:
    return db.connect(paths.db_file)


def discovery_enabled(env: Mapping[str, str]) -> bool:
    """Whether running agents are looked for: LSM_DISCOVERY=off (0, no, false) turns it off, in the
    environment the paths were resolved from (never read again here)."""
    return env.get("LSM_DISCOVERY", "on").lower() not in ("off", "0", "no", "false")


def _scan_processes(paths: Paths, memo: CollectMemo | None = None) -> tuple[list[Process], str | None]:
    if memo is not None and memo.processes is not None:  # the caller has just looked
        return list(memo.processes), None
    from llm_session_manager import discovery

    try:
        return discovery.running_agents(
            paths.claude_config_dirs, paths.env, ask_proc_first=memo is None
        ), None
    except Exception as exc:  # discovery must never take the listing down with it
        return [], f"process discovery failed: {exc}"


def _discover(sessions: list[Session], procs: list[Process]) -> list[Session]:
    """Attach running processes to their sessions; a running session without a transcript yet (or an
    app whose sessions we cannot read) still shows, as a placeholder row."""
    from llm_session_manager import discovery

    if not procs:
        return sessions
    out = list(sessions)
    by_key = {(s.agent, s.native_id): i for i, s in enumerate(out)}
    for agent in sorted({p.agent for p in procs}):
        agent_procs = [p for p in procs if p.agent == agent]
        candidates = [
            discovery.Candidate(
                native_id=s.native_id,
                cwd=s.project_path,
                last_write=s.last_activity or datetime.fromtimestamp(0, timezone.utc),
                first_write=s.started_at,
            )
            for s in sessions
            if s.agent == agent
        ]
        links = discovery.link_sessions(agent_procs, candidates)
        for proc in agent_procs:
            native = links.get(proc.pid)
            index = by_key.get((agent, native)) if native is not None else None
            if index is not None:
                if proc.hint_source is None or proc.session_hint != native:
                    proc = dataclasses.replace(proc, hint_source="cwd")
                out[index] = dataclasses.replace(out[index], process=proc)
            else:
                out.append(_placeholder(proc, native))
                by_key[(agent, out[-1].native_id)] = len(out) - 1
    return out


NEW_TITLE = "(new session, no transcript yet)"
UNLINKED_TITLE = "(running; transcript not identified)"


def _placeholder(proc: Process, native: str | None) -> Session:
    """A running process whose transcript does not exist yet (or could not be told apart)."""
    known = native is not None
    return Session(
        id=f"{proc.agent}:{native or f'pid-{proc.pid}'}",
        agent=proc.agent,
        native_id=native or f"pid-{proc.pid}",
        title=proc.name or (NEW_TITLE if known else UNLINKED_TITLE),
        project_path=proc.cwd,
        git_branch=None,
        model=None,
        models=(),
        started_at=proc.started_at,
        last_activity=proc.started_at,
        tokens=TokenUsage(),
        context_tokens=None,
        context_window=None,
        context_window_source="",
        messages_user=0,
        messages_assistant=0,
        tool_calls=0,
        tool_errors=0,
        api_errors=0,
        interruptions=0,
        compactions=0,
        skipped_lines=0,
        transcript_paths=(),
        process=proc,
    )


def status_of(session: Session, closed: bool, now: datetime, idle_minutes: float) -> str:
    if closed:
        return "closed"
    if session.origin in ("imported", "archived"):
        return session.origin
    if session.process is None:
        return "ended"
    if session.process.state == "busy":
        return "active"
    last = session.last_activity
    if last is not None and now - last <= timedelta(minutes=idle_minutes):
        return "active"
    return "idle"


def derive(
    session: Session,
    table: ModelTable,
    cfg: Config,
    now: datetime,
    closed: bool = False,
    hook: hookstate.HookState | None = None,
) -> SessionView:
    """Everything computed on top of a session: window, status, cost, health, live state."""
    session = hookstate.with_hook_counts(session, hook)
    if session.context_window:  # the agent's own log says it (Codex's model_context_window)
        window, source = session.context_window, session.context_window_source or "log"
    else:
        window, source = table.window(
            session.model,
            one_m=session.context_window_source == "1m-identity",
            peak_context=max(session.peak_context_tokens or 0, session.context_tokens or 0) or None,
            default=default_window(session.agent),
        )
    session = with_context_window(session, window, source)
    compact_at = auto_compact_point(window, session.agent)
    status = status_of(session, closed, now, float(cfg["idle_minutes"]))
    live = hookstate.live_state(hook, session.process, status, session.last_activity)
    status = hookstate.status_with(status, live)
    cost, unknown, cost_source = session_cost(session, table)
    estimated = source in ("default", "family", "observed") or session.tokens.source != "exact"
    inputs = health_mod.HealthInputs(
        now=now,
        context_window=window,
        compact_at=compact_at,
        running=session.process is not None and status != "closed",
        estimated=estimated,
    )
    health = health_mod.score_session(session, inputs, cfg["health"])
    pct = round(100.0 * session.context_tokens / window, 1) if session.context_tokens is not None else None
    warnings = [unpriced_warning(session.agent, m) for m in unknown] + hookstate.warnings(hook, live)
    view = SessionView(session, status, cost, health, pct, compact_at, warnings=warnings)
    view.state, view.state_detail, view.state_since, view.state_source = (
        live.state,
        live.detail,
        live.since,
        live.source,
    )
    view.cost_source = cost_source
    view.burn_rate_tokens_per_min, view.cost_per_hour_usd = burn.burn_rates(session, table, now)
    view.minutes_to_compact = burn.minutes_to_compact(session, compact_at, now)
    return view


# Model names readers use when the agent's log names no model.
UNRECORDED_MODELS = ("unknown", "")


def session_cost(session: Session, table: ModelTable) -> tuple[float | None, list[str], str | None]:
    """(cost, models that could not be priced, cost source). lsm's own prices win; when a model has
    no price, the cost the agent logged itself stands in for the whole session (labelled "agent")."""
    if is_placeholder(session):
        return None, [], None
    if session.origin == "imported":
        cost = session.recorded_cost_usd
        return cost, [], "recorded" if cost is not None else None
    cost, unknown = table.cost(session.model_usage)
    if cost is not None:
        return cost, [], "table"
    if session.agent_cost_usd is not None:
        return round(session.agent_cost_usd, 6), [], "agent"
    return None, unknown, None


def unpriced_warning(agent: str, model: str) -> str:
    if model in UNRECORDED_MODELS:
        return f"model not recorded by {agent}: cost not computed"
    return f"unknown model '{model}': cost not computed (add it under 'models:' in the config)"


def is_placeholder(session: Session) -> bool:
    """A running process with no session data we could read: its tokens are unknown, not zero."""
    return session.process is not None and not session.transcript_paths


@dataclass
class CollectMemo:
    """Kept by a long-running caller (the dashboard) between ``collect`` calls: each reader's scan memo,
    and the derived view of every session that is quiet (not running, idle for longer than the burn
    window), whose numbers no longer depend on the time."""

    scans: dict[str, ScanMemo] = field(default_factory=dict)
    # session id -> (the session, what else its view was derived from, the view, its unpriced models)
    views: dict[str, tuple[Session, tuple[Any, ...], SessionView, set[str]]] = field(default_factory=dict)
    # Set by the caller before each collect: the only paths that can have changed since the last one,
    # when it knows them (the dashboard's watch list); the collect stats just those (scan_agent's
    # ``changed``). None: every file is listed again.
    changed: set[str] | None = None
    # Likewise the running agents, when the caller has just looked for them (None: collect looks).
    processes: list[Process] | None = None

    def scan_of(self, reader: str) -> tuple[ScanMemo, set[str] | None]:
        """The reader's scan memo, and the paths known to have changed."""
        return self.scans.setdefault(reader, ScanMemo()), self.changed


def collector_paused(fn: Callable[P, R]) -> Callable[P, R]:
    """``fn`` with Python's cyclic garbage collector off while it runs (left as it was found). A collect
    makes hundreds of thousands of objects that live until the command ends (sessions, views, their
    tuples), and the collector walked them again and again as they were made: at 6,000 sessions 329
    collections took 74 ms, and with it off here the command's whole run collects 59 times in 39 ms.
    Nothing a collect makes is cyclic garbage worth finding sooner. A use case that goes on making
    output from what it collected is paused whole (``api.sessions.list_sessions``): once the collect
    was over, the collector walked all of it again (after one appended line at 6,000 sessions, 119
    collections in 55 ms, a full one among them)."""

    @functools.wraps(fn)
    def paused(*args: P.args, **kwargs: P.kwargs) -> R:
        if not gc.isenabled():
            return fn(*args, **kwargs)
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            gc.enable()

    return paused


@collector_paused
def collect(
    paths: Paths,
    cfg: Config,
    *,
    conn: sqlite3.Connection | None = None,
    now: datetime | None = None,
    processes: bool = True,
    readers: list[AgentReader] | None = None,
    memo: CollectMemo | None = None,
    history: bool = False,
    progress: ScanProgress | None = None,
    wanted: Callable[[Session], bool] | None = None,
) -> Collected:
    """Every session with its derived view. ``history``: keep each session's per-minute usage history
    (``Session.usage_history``, what usage reports count by reply time; the monitor's header needs it).
    ``progress`` is told of each file the scan reads (its ``finished`` is the caller's to call).
    ``wanted``: the sessions the caller can show (None: all); the others are not derived (~30 us each)
    but kept in ``Collected.unlisted``, still counted for unpriced models, and derived anyway when the
    status line's health board needs them."""
    now = now or datetime.now(timezone.utc)
    procs: list[Process] = []
    error = None
    if processes and discovery_enabled(paths.env):
        procs, error = _scan_processes(paths, memo)
    if readers is None:
        # A running agent's folder is a place to look even when it is outside the configured roots.
        running_dirs = {p.agent: [q.cwd for q in procs if q.agent == p.agent and q.cwd] for p in procs}
        readers = all_readers(paths, cfg, running_dirs)
    own_conn = conn is None
    conn = conn or open_db(paths)
    stats: dict[str, ScanStats] = {}
    sessions: list[Session] = []
    try:
        for reader in readers:
            scan_memo, hint = memo.scan_of(reader.name) if memo is not None else (None, None)
            result = scan_agent(conn, reader, scan_memo, history=history, progress=progress, changed=hint)
            stats[reader.name] = result.stats
            sessions.extend(result.sessions)
        sessions = _discover(sessions, procs)
        live = {(s.agent, s.native_id) for s in sessions}
        sessions.extend(imported_sessions(conn, live))
        sessions.extend(archived_sessions(conn, live, {r.name for r in readers}))
        metadata = meta.load_all(conn)
        hooks = hookstate.HookIndex(hook_states(conn, paths))
    finally:
        if own_conn:
            conn.close()
    table = ModelTable(cfg.get("models"))
    views: list[SessionView] = []
    unknown: dict[str, int] = {}
    unrecorded: dict[str, int] = {}  # agent -> sessions whose log names no model
    quiet_before = now - timedelta(minutes=burn.BURN_WINDOW_MINUTES + 1)
    lapsed_before = now - timedelta(hours=health_mod.CAP_DECAY_HOURS)
    board_since = _board_since(now)
    unlisted: list[Session] = []
    sessions.reverse()
    while sessions:  # each session given up once derived: its view holds its own copy
        s = sessions.pop()
        if wanted is not None and not wanted(s) and not _on_board(s, board_since):
            unlisted.append(s)
            cost_source = session_cost(s, table)[2]
            _count_unpriced(_unpriced(s, cost_source, table), s.agent, unknown, unrecorded)
            continue
        m = metadata.get(s.id)
        hook = hooks.match(s)
        key: tuple[Any, ...] = (hook,)
        if m is not None:
            key = (m.project, m.description, m.closed_at, tuple(m.tags), hook)
        last = s.last_activity
        key += (last is not None and last < lapsed_before,)  # the health caps of ended sessions lapse
        cached = memo.views.get(s.id) if memo is not None else None
        if cached is not None and cached[0] is s and cached[1] == key:
            view, unpriced = cached[2], cached[3]
        else:
            view = derive(s, table, cfg, now, closed=bool(m and m.closed_at), hook=hook)
            if m is not None:
                apply_meta(view, m)
            unpriced = _unpriced_models(view, table)
            quiet = s.process is None and s.last_activity is not None and s.last_activity < quiet_before
            if memo is not None and quiet:
                memo.views[s.id] = (s, key, view, unpriced)
        _count_unpriced(unpriced, s.agent, unknown, unrecorded)
        views.append(view)
    publish_health(paths, views, now)
    return Collected(views, stats, procs, unknown, error, readers, unrecorded, unlisted)


def _count_unpriced(
    models: set[str], agent: str, unknown: dict[str, int], unrecorded: dict[str, int]
) -> None:
    for model in models:
        if model in UNRECORDED_MODELS:
            unrecorded[agent] = unrecorded.get(agent, 0) + 1
        else:
            unknown[model] = unknown.get(model, 0) + 1


def _board_since(now: datetime) -> datetime:
    from llm_session_manager import healthboard

    return now - timedelta(seconds=healthboard.KEEP_SECONDS)


def _on_board(session: Session, since: datetime) -> bool:
    """Whether `lsm statusline`'s health board shows ``session``: a live Claude Code session running or
    active since ``since``."""
    return (
        session.agent == "claude-code"
        and session.origin == "live"
        and (session.process is not None or (session.last_activity or since) > since)
    )


def publish_health(paths: Paths, views: Sequence[SessionView], now: datetime) -> None:
    """Leave the health of recently active Claude Code sessions where `lsm statusline` reads it
    (healthboard.py); nothing is written while no such session exists and no board does."""
    from llm_session_manager import healthboard

    since = _board_since(now)
    entries = {
        v.session.native_id: (v.health.score, v.health.status, v.health.estimated)
        for v in views
        if _on_board(v.session, since)
    }
    folder = str(paths.data_dir)
    if entries or (paths.data_dir / healthboard.FILE_NAME).exists():
        healthboard.write(folder, entries, now.timestamp())


def apply_meta(view: SessionView, m: meta.SessionMeta) -> None:
    """Our own metadata onto a view. It can quote a transcript (describe --ai) or a pasted key: redacted."""
    view.tags = list(m.tags)
    view.project, view.description = without_secrets(m.project), without_secrets(m.description)


def hook_states(conn: sqlite3.Connection, paths: Paths) -> dict[tuple[str, str], hookstate.HookState]:
    """Every session's state as its agent's hooks last told it, after reading what the spool gained."""
    from llm_session_manager import hookspool

    hook_events.sync(conn, paths.data_dir / hookspool.SPOOL_DIR)
    return hook_events.load_states(conn)


def _unpriced_models(view: SessionView, table: ModelTable) -> set[str]:
    """Models with tokens that lsm has no price for, in a session whose cost is therefore unknown (a
    session the agent priced itself is not counted)."""
    return _unpriced(view.session, view.cost_source, table)


def _unpriced(session: Session, cost_source: str | None, table: ModelTable) -> set[str]:
    if cost_source == "agent":
        return set()
    return {
        row.model
        for row in session.model_usage
        if (row.input or row.output or row.cache_creation or row.cache_read) and not table.is_known(row.model)
    }


def imported_sessions(conn: sqlite3.Connection, live: set[tuple[str, str]]) -> list[Session]:
    """Sessions brought in with `lsm import-context` (a live one with the same id wins)."""
    from llm_session_manager.import_schema import SchemaError, check_document
    from llm_session_manager.store import imports

    out = []
    for session_id, (doc, _digest) in imports.load_all(conn).items():
        try:
            # Checked again on every read: a document stored by an older lsm, or edited in the
            # database, must not break every listing; `lsm forget` removes it.
            check_document(doc)
        except SchemaError:
            continue
        session = session_from_document(session_id, doc)
        if (session.agent, session.native_id) not in live:
            out.append(session)
    return out


def archived_sessions(
    conn: sqlite3.Connection, live: set[tuple[str, str]], agents: set[str]
) -> list[Session]:
    """Sessions whose transcripts are gone, as lsm last saw them (a live one with the same id wins);
    only those of the agents being read."""
    from llm_session_manager.store import archive

    return [s for s in archive.load_all(conn) if s.agent in agents and (s.agent, s.native_id) not in live]


def session_from_document(session_id: str, doc: dict[str, Any]) -> Session:
    from llm_session_manager.models import ModelTokens
    from llm_session_manager.timefmt import parse_ts

    s = doc["session"]
    t = s["tokens"]
    agent, _, native = session_id.partition(":")
    tokens = TokenUsage(
        t["input"], t["output"], t["cache_creation"], t["cache_read"], s.get("tokens_source", "exact")
    )
    model = s.get("model") or "unknown"
    return Session(
        id=session_id,
        agent=agent,
        native_id=native,
        title=without_secrets(s.get("title")),  # live titles are redacted by the scan
        project_path=s.get("project_path"),
        git_branch=s.get("git_branch"),
        model=s.get("model"),
        models=tuple(s.get("models") or ()),
        started_at=parse_ts(s.get("started_at")),
        last_activity=parse_ts(s.get("last_activity")),
        tokens=tokens,
        context_tokens=s.get("context_tokens"),
        context_window=s.get("context_window"),
        context_window_source="export" if s.get("context_window") else "",
        messages_user=int((s.get("messages") or {}).get("user") or 0),
        messages_assistant=int((s.get("messages") or {}).get("assistant") or 0),
        tool_calls=int(s.get("tool_calls") or 0),
        tool_errors=int(s.get("tool_errors") or 0),
        api_errors=int(s.get("api_errors") or 0),
        interruptions=int(s.get("interruptions") or 0),
        compactions=int(s.get("compactions") or 0),
        skipped_lines=0,
        transcript_paths=(),
        model_usage=(ModelTokens(model, t["input"], t["output"], t["cache_creation"], t["cache_read"]),),
        origin="imported",
        recorded_cost_usd=s.get("cost_usd"),
    )


def project_name(view: SessionView) -> str | None:
    if view.project:
        return view.project
    return folder_name(view.session.project_path)


def folder_name(path: str | None) -> str | None:
    if not path:
        return None
    return path.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or path


@dataclass(frozen=True)
class UsageSource:
    """A session as usage reports see it: its data and its project name (ours, else its folder's)."""

    session: Session
    project: str | None


def usage_sessions(
    paths: Paths, cfg: Config, *, conn: sqlite3.Connection | None = None, progress: ScanProgress | None = None
) -> tuple[list[UsageSource], dict[str, ScanStats]]:
    """Every session of this machine's agents, and the archived ones: what usage reports need, without
    the processes, health and cost ``collect`` derives (a report over years of history stays fast)."""
    readers = all_readers(paths, cfg)
    own_conn = conn is None
    conn = conn or open_db(paths)
    stats: dict[str, ScanStats] = {}
    sessions: list[Session] = []
    try:
        for reader in readers:
            result = scan_agent(conn, reader, history=True, progress=progress)
            stats[reader.name] = result.stats
            sessions.extend(result.sessions)
        live = {(s.agent, s.native_id) for s in sessions}
        sessions.extend(archived_sessions(conn, live, {r.name for r in readers}))
        metadata = meta.load_all(conn)
    finally:
        if own_conn:
            conn.close()
    out = []
    for s in sessions:
        m = metadata.get(s.id)
        ours = without_secrets(m.project) if m is not None and m.project else None
        out.append(UsageSource(s, ours or folder_name(s.project_path)))
    return out, stats


def resolve_id(views: Sequence[SessionView], query: str) -> SessionView:
    """A session by full id (``agent:native``), native id, or unique prefix of either."""
    from llm_session_manager.errors import AmbiguousIdError, NotFoundError

    q = query.strip()
    if not q:
        raise NotFoundError("empty session id")
    exact = [v for v in views if q in (v.session.id, v.session.native_id)]
    if len(exact) == 1:
        return exact[0]
    matches = [v for v in views if v.session.native_id.startswith(q) or v.session.id.startswith(q)]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NotFoundError(f"no session matches '{q}' (see `lsm list --all`)")
    shown = ", ".join(v.session.id for v in matches[:8])
    more = f" and {len(matches) - 8} more" if len(matches) > 8 else ""
    raise AmbiguousIdError(f"'{q}' matches {len(matches)} sessions: {shown}{more}; give more characters")
