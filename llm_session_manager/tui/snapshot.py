"""What one frame of the dashboard shows, and when to collect it again.

``build_snapshot`` turns a ``service.collect()`` result into a :class:`Snapshot`: the sessions (after the
``--agent``/``--project`` filters), how many run, today's totals, the summed burn rate, the short ids and
the recommendations.

``Refresher`` hands the loop a snapshot on every tick. A full ``collect()`` costs about 0.2 ms per known
session even when nothing changed (it decodes and re-derives every session), so a tick first looks, cheaply,
for a reason to collect:

- a watched path changed (``stat`` only, no reading): the transcripts of running and recently active
  sessions, their folders, the agents' root folders and the folders right under them (a new session
  file changes its folder), and lsm's own database (tags, imports);
- the running agent processes or their busy/idle/waiting state changed (process discovery);
- a moment passed at which a derived value flips on its own: a running session turns idle
  (``idle_minutes``), a busy or waiting one counts as stuck (``health.stuck_*_minutes``), or a burn rate
  must decay (at most a minute);
- the last collect is older than ``max_age`` seconds (a safety net for what the watch list misses);
- the user pressed ``r``.

Otherwise the previous snapshot is reused with the new time (ages in the table still move).

A collect for a change or a deadline tells ``collect()`` which watched paths changed
(``CollectMemo.changed``): only those are stat'ed again, only the sessions they can affect are merged
again, and the agents the tick just found are reused. A path under an agent's root that is no listed
file (a folder whose listing changed) makes that agent's files listed again; the first collect, ``r``
and the ``max_age`` safety net list every file.

A collect found necessary waits, though, until the monitor has spent at most ``COLLECT_SHARE`` of one core
on collecting: after a collect that took C seconds of CPU the next one (other than ``r``) comes at least
C / COLLECT_SHARE seconds later. Where ``collect()`` is cheap this changes nothing; on a machine where it
is slow (thousands of sessions while an agent writes) the dashboard stays light, and says that newer data
is waiting (``Snapshot.pending_for``).
"""

from __future__ import annotations

import dataclasses
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Any

from llm_session_manager import hookspool
from llm_session_manager.limits import Limit
from llm_session_manager.listing import ListFilter, keep
from llm_session_manager.models import SessionView
from llm_session_manager.paths import Paths
from llm_session_manager.pricing import ModelTable
from llm_session_manager.service import (
    Collected,
    CollectMemo,
    UsageSource,
    collect,
    discovery_enabled,
    is_placeholder,
    open_db,
    project_name,
)

COLLECT_SHARE = 0.10  # at most this share of one core goes to collect() (see the module docstring)
HOT_HOURS = 2.0  # a session active this recently has its files watched on every tick
MAX_ROOT_CHILDREN = 256  # folders right under an agent root that are watched (more: the safety net)
BURN_RECHECK = timedelta(seconds=60)
DEADLINE_SLACK = timedelta(seconds=1)

CollectFn = Callable[..., Collected]
_NOT_SEEN = object()


@dataclass(frozen=True)
class Today:
    """Today's use (local calendar day), counted at the time of each reply as `lsm report daily` counts
    it: a session that began yesterday adds only what it did since midnight. A session whose agent does
    not time its replies counts whole at its last activity (the report's rule)."""

    sessions: int = 0
    tokens: int = 0
    tokens_counted: bool = False  # some of the tokens were counted with tiktoken, not logged
    cost_usd: float = 0.0
    cost_unknown: int = 0  # models with tokens today but no price: their cost is not in cost_usd


@dataclass(frozen=True)
class Snapshot:
    """Everything one frame shows. ``time`` is the frame's moment (local, aware); ``scanned_at`` when
    the sessions were last collected."""

    time: datetime
    views: tuple[SessionView, ...]
    running: int
    today: Today
    burn_tokens_per_min: float | None
    cost_per_hour_usd: float | None
    short_ids: Mapping[str, str]  # session id -> its pasteable short id (present.pasteable_ids)
    recommendations: tuple[Any, ...] = ()  # recommend.Recommendation, most urgent first
    roots: tuple[tuple[str, bool], ...] = ()  # where the readers look, and whether it exists
    filters: tuple[str, ...] = ()  # e.g. ("agent=codex",)
    warnings: tuple[str, ...] = ()
    scanned_at: datetime | None = None
    pending_for: float | None = None  # a change is known; the next collect comes in this many seconds
    limits: tuple[Limit, ...] = ()  # the official plan limits that are current
    near_percent: float = 80.0  # budget.near_percent: a limit this full is shown in yellow
    loading: bool = False  # the first scan has not finished: the frame is drawn, the data comes next
    progress: ScanCount | None = None  # while loading: how far the scan's reading has come

    @property
    def total(self) -> int:
        return len(self.views)


def local_now() -> datetime:
    return datetime.now().astimezone()


@dataclass(frozen=True)
class ScanCount:
    """Files and bytes the first scan plans to read, and has read so far."""

    files_done: int = 0
    files: int = 0
    bytes_done: int = 0
    bytes: int = 0


class ScanCounter:
    """A ``scan.ScanProgress`` that only counts, for the monitor's first frame to show. The scan tells
    it from its own thread (and from worker results); the screen thread reads :meth:`count`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = ScanCount()

    def planned(self, files: int, nbytes: int) -> None:
        with self._lock:
            c = self._count
            self._count = dataclasses.replace(c, files=c.files + files, bytes=c.bytes + nbytes)

    def advanced(self, files: int, nbytes: int) -> None:
        with self._lock:
            c = self._count
            self._count = dataclasses.replace(
                c, files_done=c.files_done + files, bytes_done=c.bytes_done + nbytes
            )

    def finished(self) -> None:
        """Nothing to erase: the first snapshot replaces the frame that shows the count."""

    def count(self) -> ScanCount:
        with self._lock:
            return self._count


def loading_snapshot(now: datetime, progress: ScanCount | None = None) -> Snapshot:
    """The frame drawn before the first scan ends: the screen's frame, no data yet (how far the
    scan's reading has come, when it tells)."""
    return Snapshot(now, (), 0, Today(), None, None, {}, loading=True, progress=progress)


def today_totals(views: Iterable[SessionView], now: datetime, table: ModelTable | None = None) -> Today:
    """Tokens and cost of the replies since local midnight (``reports.build``, daily, from midnight),
    over the sessions active today (imported sessions and placeholders aside)."""
    from llm_session_manager import reports

    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    today = [
        v
        for v in views
        if v.session.origin != "imported"
        and not is_placeholder(v.session)
        and v.session.last_activity is not None
        and v.session.last_activity >= midnight
    ]
    sources = [UsageSource(v.session, project_name(v)) for v in today]
    zone = now.tzinfo or timezone.utc
    options = reports.Options("daily", zone, str(zone), since=midnight)
    report = reports.build(sources, options, table or ModelTable(None))
    sessions: set[str] = set()
    tokens, cost = 0, 0.0
    for row in report.rows:
        sessions |= row.sessions
        tokens += sum(row.tokens)
        row_cost = report.cost(row)
        cost += row_cost or 0.0
    counted = any(v.session.tokens.source != "exact" for v in today if v.session.id in sessions)
    return Today(len(sessions), tokens, counted, cost, len(report.unpriced))


def summed(values: Iterable[float | None]) -> float | None:
    """The sum of the known values; None when none is known."""
    known = [v for v in values if v is not None]
    return sum(known) if known else None


def _recommendations(views: Sequence[SessionView], cfg: Mapping[str, Any], now: datetime) -> tuple[Any, ...]:
    """``recommend.recommend`` when that module is there; nothing otherwise."""
    try:
        from llm_session_manager.recommend import recommend
    except ImportError:
        return ()
    return tuple(recommend(views, cfg, now))


@lru_cache(maxsize=2)
def _pasteable(sessions: frozenset[tuple[str, str]]) -> dict[str, str]:
    """``present.pasteable_ids`` (at least 8 characters), kept while the sessions known stay the same:
    with thousands of them it costs more than the rest of a snapshot. Treat the result as read-only."""
    from llm_session_manager.present import pasteable_ids

    return pasteable_ids(sorted(sessions), minimum=8)


def build_snapshot(
    collected: Collected,
    cfg: Mapping[str, Any],
    now: datetime,
    *,
    agent: str | None = None,
    project: str | None = None,
    roots: Sequence[tuple[str, bool]] = (),
) -> Snapshot:
    """The frame data for ``collected``, keeping only the sessions ``--agent``/``--project`` select."""
    flt = ListFilter(all=True, agent=agent, project=project)
    views = tuple(v for v in collected.views if keep(v, flt, now))
    warnings: list[str] = []
    if collected.discovery_error:
        warnings.append(collected.discovery_error)
    warnings += [f"skipped {err}" for stats in collected.stats.values() for err in stats.errors]
    try:
        recs = _recommendations(views, cfg, now)
    except Exception as exc:  # advice must never take the dashboard down
        recs = ()
        warnings.append(f"recommendations failed: {type(exc).__name__}: {exc}")
    # Prefixes unique among every session lsm knows (not only those shown): pasteable into any command.
    shorts = _pasteable(frozenset((v.session.agent, v.session.native_id) for v in collected.views))
    running = [v for v in views if v.session.process is not None]
    return Snapshot(
        time=now,
        views=views,
        running=len(running),
        today=today_totals(views, now, ModelTable(cfg.get("models"))),
        # Only running sessions burn: an ended one's recent rate is history, not spend going on.
        burn_tokens_per_min=summed(v.burn_rate_tokens_per_min for v in running),
        cost_per_hour_usd=summed(v.cost_per_hour_usd for v in running),
        short_ids={v.session.id: shorts[v.session.id] for v in views},
        recommendations=recs,
        roots=tuple(roots),
        filters=tuple(f"{k}={v}" for k, v in (("agent", agent), ("project", project)) if v),
        warnings=tuple(warnings),
        scanned_at=now,
    )


# ------------------------------------------------------------------------------------------------------
# When to collect again


def file_identity(path: str) -> tuple[int, int, int] | None:
    """(inode, size, mtime_ns) of a path, None when it does not exist."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_ino, st.st_size, st.st_mtime_ns)


def _child_dirs(root: str) -> list[str]:
    try:
        with os.scandir(root) as it:
            out = [e.path for e in it if e.is_dir(follow_symlinks=False)]
    except OSError:
        return []
    return out if len(out) <= MAX_ROOT_CHILDREN else []


def _ancestors(path: str, roots: Sequence[str]) -> list[str]:
    """The folders from ``path``'s parent up to the agent root holding it (at most 6 levels)."""
    out: list[str] = []
    current = os.path.dirname(path)
    for _ in range(6):
        if not current or current in out:
            break
        out.append(current)
        if current in roots:
            break
        parent = os.path.dirname(current)
        if parent == current:
            break
        current = parent
    return out


def is_hot(view: SessionView, now: datetime) -> bool:
    last = view.session.last_activity
    return view.session.process is not None or (last is not None and now - last <= timedelta(hours=HOT_HOURS))


def watch_list(views: Iterable[SessionView], roots: Sequence[str], db_file: str, now: datetime) -> list[str]:
    """Every path whose ``stat`` a quiet tick compares (see the module docstring)."""
    paths: set[str] = {db_file, db_file + "-wal"}
    # The agents' hook events: a line appended there is a state change to show at once.
    spool = os.path.join(os.path.dirname(db_file), hookspool.SPOOL_DIR)
    paths.update(os.path.join(spool, name) for name in (hookspool.SPOOL_NAME, hookspool.ROTATED_NAME))
    for root in roots:
        paths.add(root)
        paths.update(_child_dirs(root))
    since = now - timedelta(hours=HOT_HOURS)  # is_hot, inlined: this runs over every session
    for v in views:
        last = v.session.last_activity
        if v.session.process is None and (last is None or last < since):
            continue
        for transcript in v.session.transcript_paths:
            paths.add(transcript)
            paths.add(transcript + "-wal")  # SQLite sources write here first
            paths.update(_ancestors(transcript, roots))
    return sorted(paths)


def next_deadline(views: Iterable[SessionView], cfg: Mapping[str, Any], now: datetime) -> datetime | None:
    """The first moment after ``now`` at which a time-derived value of a running session changes on its
    own: active -> idle, busy or waiting -> stuck, or a burn rate that must decay."""
    idle = timedelta(minutes=float(cfg.get("idle_minutes", 10)))
    health = cfg.get("health") or {}
    busy = timedelta(minutes=float(health.get("stuck_busy_minutes", 10)))
    waiting = timedelta(minutes=float(health.get("stuck_waiting_minutes", 15)))
    moments: list[datetime] = []
    for v in views:
        if v.burn_rate_tokens_per_min is not None or v.cost_per_hour_usd is not None:
            moments.append(now + BURN_RECHECK)
        proc, last = v.session.process, v.session.last_activity
        if proc is None:
            continue
        if last is not None:
            moments.append(last + (busy if proc.state == "busy" else idle))
        if proc.state == "waiting" and proc.state_updated_at is not None:
            moments.append(proc.state_updated_at + waiting)
    future = [m + DEADLINE_SLACK for m in moments if m + DEADLINE_SLACK > now]
    return min(future) if future else None


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    """Whether ``fn`` takes the keyword ``name`` (a stand-in collect in a test may not)."""
    import inspect

    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


@dataclass
class RefreshStats:
    collects: int = 0
    quiet_ticks: int = 0
    deferred: int = 0
    reasons: dict[str, int] = field(default_factory=dict)


class Refresher:
    """Snapshots for the loop, collecting again only when something may have changed."""

    def __init__(
        self,
        paths: Paths,
        cfg: Mapping[str, Any],
        *,
        agent: str | None = None,
        project: str | None = None,
        max_age: float = 300.0,
        collect_fn: CollectFn = collect,
        clock: Callable[[], datetime] = local_now,
        cpu_clock: Callable[[], float] = time.process_time,
    ) -> None:
        self.paths, self.cfg = paths, cfg
        self.agent, self.project = agent, project
        self.max_age = timedelta(seconds=max_age)
        self._collect_fn, self._clock, self._cpu_clock = collect_fn, clock, cpu_clock
        self._next_allowed: datetime | None = None
        self._conn: sqlite3.Connection | None = None
        self._snapshot: Snapshot | None = None
        self._watch: list[str] = []
        self._fingerprint: object = None
        self._changed: set[str] | None = None  # the watched paths that changed, as the last tick saw
        self._looked = False  # whether this tick's reason() looked at the watch list and the agents
        self._safety_due: datetime | None = None  # when the safety-net collect (a full listing) is due
        self._seen_processes: object = _NOT_SEEN  # the running agents as this tick's reason() saw them
        self._found: list[Any] | None = None  # the same, as discovery gave them (models.Process)
        self._due: datetime | None = None
        # Kept across collects: only changed files are re-read and only their sessions rebuilt.
        self._memo = CollectMemo()
        self.stats = RefreshStats()
        # The first collect tells it of every file it reads (a cold scan of a long history takes seconds).
        self.progress = ScanCounter() if _accepts(collect_fn, "progress") else None

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def refresh(self, force: bool = False) -> Snapshot:
        """The snapshot for now: collected again when ``force`` or when :meth:`reason` gives one."""
        now = self._clock()
        why = "forced" if force else self.reason(now)
        if self._snapshot is not None and why is None:
            self.stats.quiet_ticks += 1
            self._snapshot = dataclasses.replace(self._snapshot, time=now, pending_for=None)
            return self._snapshot
        if self._snapshot is not None and why != "forced" and self._next_allowed and now < self._next_allowed:
            self.stats.deferred += 1
            wait = (self._next_allowed - now).total_seconds()
            self._snapshot = dataclasses.replace(self._snapshot, time=now, pending_for=wait)
            return self._snapshot
        self.stats.reasons[why or "first"] = self.stats.reasons.get(why or "first", 0) + 1
        looked = why != "forced" and self._looked
        # What this tick's look saw: the watched paths that changed (None: list every file, as the
        # safety net, `r` and the first collect do) and the running agents (collect need not look again).
        self._memo.changed = self._changed if looked else None
        self._memo.processes = self._found if looked else None
        return self._collect(now)

    def reason(self, now: datetime) -> str | None:
        """Why a new collect is needed now, or None. A deadline ("time" before the safety net is due)
        and a change look at the watch list, which then names what changed (``_changed``)."""
        self._looked = False
        if self._snapshot is None or self._due is None or self._safety_due is None:
            return "first"
        if now >= self._safety_due:
            return "time"
        fingerprint = self.fingerprint()
        self._looked, self._seen_processes = True, fingerprint[1]
        self._changed = self._changed_paths(fingerprint)
        if now >= self._due:
            return "time"
        if fingerprint != self._fingerprint:
            return "changed"
        return None

    def fingerprint(self) -> tuple[tuple[object, ...], object]:
        files = tuple(file_identity(p) for p in self._watch)
        return (files, self._processes())

    def _changed_paths(self, fingerprint: tuple[tuple[object, ...], object]) -> set[str] | None:
        """The watched paths whose identity differs from the last collect's; None when the running
        agents changed too (the readers' places to look may have changed with them)."""
        base = self._fingerprint
        if not isinstance(base, tuple) or base[1] != fingerprint[1] or len(base[0]) != len(self._watch):
            return None
        pairs = zip(self._watch, base[0], fingerprint[0], strict=True)
        return {path for path, before, now in pairs if before != now}

    def _processes(self) -> tuple[tuple[object, ...], ...] | None:
        self._found = None
        if not discovery_enabled(self.paths.env):
            return None
        try:
            from llm_session_manager import discovery

            procs = discovery.running_agents(
                self.paths.claude_config_dirs, self.paths.env, ask_proc_first=False
            )
        except Exception:
            self._found = None
            return None
        self._found = procs
        return tuple((p.pid, p.agent, p.cwd, p.state, p.state_updated_at, p.session_hint) for p in procs)

    def _with_limits(self, snapshot: Snapshot, collected: Collected, now: datetime) -> Snapshot:
        """The header's limit meters: the statusline's figures and Codex's, those still current."""
        from llm_session_manager import limits

        if self._conn is None:
            return snapshot
        try:
            found = limits.recorded(self._conn, self.paths.data_dir)
        except Exception:  # a busy or damaged store costs the meters, never the dashboard
            found = []
        found += limits.codex_observations(v.session for v in collected.views if v.session.agent == "codex")
        current = tuple(lim for lim in limits.current_limits(found, now) if not lim.stale)
        near = float(self.cfg.get("budget", {}).get("near_percent", limits.DEFAULT_NEAR_PERCENT))
        return dataclasses.replace(snapshot, limits=current, near_percent=near)

    def _collect(self, now: datetime) -> Snapshot:
        if self._conn is None:
            self._conn = open_db(self.paths)
        cpu = self._cpu_clock()
        try:
            first = {"progress": self.progress} if self._snapshot is None and self.progress else {}
            collected = self._collect_fn(
                self.paths, self.cfg, conn=self._conn, now=now, memo=self._memo, history=True, **first
            )
        except Exception as exc:
            if self._snapshot is None:
                raise
            # Keep showing the last good data; say why it is not fresh, and try again next tick.
            self._due = self._safety_due = now  # the next try lists every file
            warning = f"refresh failed ({type(exc).__name__}: {exc}); showing the last data"
            self._snapshot = dataclasses.replace(self._snapshot, time=now, warnings=(warning,))
            return self._snapshot
        self.stats.collects += 1
        roots = [root for reader in collected.readers for root in reader.roots()]
        snapshot = build_snapshot(
            collected, self.cfg, now, agent=self.agent, project=self.project, roots=roots
        )
        snapshot = self._with_limits(snapshot, collected, now)
        # Missing roots are watched too: their appearance is a change (and so is a statusline sample).
        self._watch = watch_list(collected.views, [p for p, _e in roots], str(self.paths.db_file), now)
        self._watch.append(str(self.paths.data_dir / "statusline.jsonl"))
        # After collect(): its own cache writes are the baseline. The agents as seen before it (when
        # this tick looked) are: a change since then only makes the next tick collect again.
        processes, self._seen_processes = self._seen_processes, _NOT_SEEN
        if processes is _NOT_SEEN:
            processes = self._processes()
        self._fingerprint = (tuple(file_identity(p) for p in self._watch), processes)
        deadline = next_deadline(collected.views, self.cfg, now)
        self._safety_due = now + self.max_age
        self._due = min(self._safety_due, deadline) if deadline else self._safety_due
        self._snapshot = snapshot
        spent = max(0.0, self._cpu_clock() - cpu)
        self._next_allowed = now + timedelta(seconds=spent / COLLECT_SHARE)
        return snapshot
