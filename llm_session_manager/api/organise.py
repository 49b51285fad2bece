"""Batch use cases over sessions chosen by a pattern: tag many, close many (mark closed and end their
agent processes, never an editor), reopen one."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass
from typing import TYPE_CHECKING

from llm_session_manager.api.context import Context
from llm_session_manager.models import SessionView

if TYPE_CHECKING:
    from llm_session_manager.organise import CloseOutcome


def select(
    ctx: Context,
    pattern: str,
    *,
    statuses: Sequence[str] = (),
    recent_only: bool = False,
    open_only: bool = False,
) -> list[SessionView]:
    """Sessions matching ``pattern`` ('all', or a glob over ids, titles and projects); ``recent_only``:
    running or active within ``recent_hours``; ``open_only``: not closed through lsm."""
    from llm_session_manager import organise
    from llm_session_manager.listing import ListFilter, keep

    views = ctx.views()
    if recent_only:
        flt = ListFilter(recent_hours=float(ctx.config["recent_hours"]))
        now = ctx.now()
        views = [v for v in views if keep(v, flt, now)]
    chosen = organise.select(views, pattern, statuses)
    return [v for v in chosen if v.status != "closed"] if open_only else chosen


def batch_tag(ctx: Context, views: Sequence[SessionView], tags: Sequence[str]) -> int:
    """Add ``tags`` to every session in one transaction; the number of (session, tag) pairs added."""
    from llm_session_manager.service import open_db
    from llm_session_manager.store import meta

    ctx.check_writable()
    with ctx.lock, closing(open_db(ctx.paths)) as conn:
        return meta.add_tags(conn, [v.session.id for v in views], tags)


def close(
    ctx: Context, views: Sequence[SessionView], *, dry_run: bool, timeout: float = 5.0
) -> list[CloseOutcome]:
    """Mark the sessions closed (one transaction) and end their agent processes with SIGTERM — never an
    editor that hosts the agent. ``dry_run`` says what would happen and changes nothing."""
    from llm_session_manager.organise import close_sessions
    from llm_session_manager.service import open_db

    if not dry_run:
        ctx.check_writable()
    with ctx.lock, closing(open_db(ctx.paths)) as conn:
        return close_sessions(conn, views, dry_run=dry_run, timeout=timeout)


@dataclass(frozen=True)
class Reopened:
    view: SessionView  # after the change (its status recomputed)
    changed: bool  # False: it was not closed


def reopen(ctx: Context, session_id: str) -> Reopened:
    """Reopen a session closed through lsm (its status is derived again from its activity)."""
    from llm_session_manager.service import open_db
    from llm_session_manager.store import meta

    view = ctx.one(session_id)
    if view.status != "closed":
        return Reopened(view, False)
    ctx.check_writable()
    with ctx.lock, closing(open_db(ctx.paths)) as conn:
        meta.set_field(conn, [view.session.id], "closed_at", None)
    return Reopened(ctx.one(view.session.id), True)
