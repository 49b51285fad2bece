"""Filtering and sorting sessions for `lsm list` (pure functions)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from llm_session_manager.errors import UsageError
from llm_session_manager.models import Session, SessionView
from llm_session_manager.service import STATUSES, project_name

# One --since parser for every front end (the CLI and the MCP server import it from here too).
from llm_session_manager.timefmt import parse_since as parse_since


@dataclass(frozen=True)
class ListFilter:
    all: bool = False
    statuses: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    project: str | None = None
    agent: str | None = None
    since: datetime | None = None
    recent_hours: float = 24.0


def _project_matches(view: SessionView, wanted: str) -> bool:
    w = wanted.strip().lower()
    name = (project_name(view) or "").lower()
    path = (view.session.project_path or "").lower()
    return w == name or (len(w) > 1 and w in path)


def keep(view: SessionView, f: ListFilter, now: datetime) -> bool:
    if f.statuses and view.status not in f.statuses:
        return False
    if f.tags and not set(f.tags) <= set(view.tags):
        return False
    if f.project and not _project_matches(view, f.project):
        return False
    return _passes_on_its_own(view.session, f, now)


def _passes_on_its_own(s: Session, f: ListFilter, now: datetime) -> bool:
    """What ``keep`` decides on the session alone: the agent, ``--since``, the recent window."""
    if f.agent and s.agent != f.agent and not s.agent.startswith(f.agent):
        return False
    last = s.last_activity or datetime.fromtimestamp(0, timezone.utc)
    if f.since and last < f.since:
        return False
    if f.all or f.statuses or f.since:
        return True
    return s.process is not None or now - last <= timedelta(hours=f.recent_hours)


def shown_at_most(f: ListFilter, now: datetime) -> Callable[[Session], bool] | None:
    """Whether a session can pass ``keep``, asked before anything is derived from it (None: any can).
    The agent, ``--since`` and the recent window are the session's own (a session neither running nor
    active within the window is left out whatever else it is); statuses, tags and projects need what is
    derived, and are left to ``keep``."""
    if not f.agent and not f.since and (f.all or f.statuses):
        return None
    return lambda s: _passes_on_its_own(s, f, now)


def check_statuses(statuses: Sequence[str]) -> tuple[str, ...]:
    out = []
    for raw in statuses:
        for part in raw.split(","):
            st = part.strip().lower()
            if not st:
                continue
            if st not in STATUSES:
                raise UsageError(f"--status: unknown status '{st}' (one of {', '.join(STATUSES)})")
            out.append(st)
    return tuple(out)


def sort_views(views: list[SessionView], key: str) -> list[SessionView]:
    epoch = datetime.fromtimestamp(0, timezone.utc)
    keys = {
        "last_activity": lambda v: v.session.last_activity or epoch,
        "started_at": lambda v: v.session.started_at or epoch,
        "tokens": lambda v: v.session.tokens.total,
        "cost": lambda v: v.cost_usd or 0.0,
        "context": lambda v: v.context_pct or 0.0,
        "health": lambda v: -v.health.score,  # worst first
        "project": lambda v: (project_name(v) or "").lower(),
    }
    if key not in keys:
        raise UsageError(f"--sort: unknown key '{key}' (one of {', '.join(keys)})")
    reverse = key not in ("project",)
    return sorted(views, key=keys[key], reverse=reverse)
