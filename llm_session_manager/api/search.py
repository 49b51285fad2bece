"""Content search use cases: bring the content index up to date, find what was said (`lsm search
--content`, `lsm grep`, the MCP tool ``search_conversations``), and the opt-in transcript archive."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from llm_session_manager.api.context import Context
from llm_session_manager.errors import UsageError
from llm_session_manager.models import SessionView

if TYPE_CHECKING:
    import sqlite3

    from llm_session_manager.content_index import MessageHit, RefreshStats
    from llm_session_manager.service import Collected
    from llm_session_manager.transcript_archive import PruneResult

LIMIT_MAX = 500


@dataclass(frozen=True)
class SearchFilters:
    """``since`` as typed (``2h``, ``3d``, a date; UTC when ``utc``); ``roles`` among user, assistant,
    tool; ``limit`` sessions, each with at most ``per_session`` messages."""

    agent: str | None = None
    project: str | None = None
    since: str | None = None
    roles: tuple[str, ...] = ()
    limit: int = 20
    per_session: int = 3
    utc: bool = False


@dataclass(frozen=True)
class Hit:
    """One matching message. ``highlights`` are the (start, end) character spans of ``snippet`` that
    matched; ``score`` is FTS5's BM25 relevance (higher is better)."""

    session_id: str
    agent: str
    title: str | None
    project: str | None
    message_time: str | None
    role: str
    snippet: str
    highlights: tuple[tuple[int, int], ...]
    score: float
    resume_command: str | None

    def document(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "agent": self.agent,
            "title": self.title,
            "project": self.project,
            "message_time": self.message_time,
            "role": self.role,
            "snippet": self.snippet,
            "highlights": [list(span) for span in self.highlights],
            "score": round(self.score, 4),
            "resume_command": self.resume_command,
        }


@dataclass
class SearchResult:
    """Sessions best first, each a list of its best hits (best first)."""

    sessions: list[list[Hit]]
    refreshed: RefreshStats | None = None
    warnings: list[str] = field(default_factory=list)

    def hits(self) -> list[Hit]:
        return [hit for group in self.sessions for hit in group]

    def documents(self) -> list[dict[str, Any]]:
        return [hit.document() for hit in self.hits()]


def refresh_index(
    ctx: Context, collected: Collected | None = None, notice: Callable[[str], None] | None = None
) -> RefreshStats:
    """Index what is new in every session's transcripts (and copy them when the archive is on)."""
    from llm_session_manager import content_index
    from llm_session_manager.service import open_db
    from llm_session_manager.transcript_archive import Archiver, folder

    collected = collected or ctx.collect()
    settings = content_index.Settings.of(ctx.config)
    with ctx.lock, closing(open_db(ctx.paths)) as conn:
        archiver = Archiver(conn, folder(ctx.paths.data_dir), ctx.now()) if archive_enabled(ctx) else None
        stats = content_index.refresh(conn, (v.session for v in collected.views), settings, archiver, notice)
    if archiver is not None:
        stats.errors.extend(archiver.errors)
    return stats


def archive_enabled(ctx: Context) -> bool:
    section: Any = ctx.config.get("archive") or {}
    return bool(section.get("enabled", False))


def search_conversations(
    ctx: Context, query: str, filters: SearchFilters, notice: Callable[[str], None] | None = None
) -> SearchResult:
    """The sessions where ``query`` (FTS5 syntax: words, "phrases", prefix*, NEAR, AND/OR/NOT) was
    said, best first, each with its best matching messages; the index is brought up to date first."""
    from llm_session_manager import content_index
    from llm_session_manager.service import open_db

    _check(filters)
    since = _since(ctx, filters)
    collected = ctx.collect()
    refreshed = refresh_index(ctx, collected, notice)
    views = {v.session.id: v for v in collected.views}
    keep = _keeper(views, filters)
    with ctx.lock, closing(open_db(ctx.paths)) as conn:
        found = content_index.find(
            conn,
            query,
            roles=filters.roles,
            since=since,
            keep=keep,
            sessions=filters.limit,
            per_session=filters.per_session,
        )
    sessions = [[_hit(m, views.get(m.session_id)) for m in group] for group in found]
    return SearchResult(sessions, refreshed, list(refreshed.errors))


def _check(filters: SearchFilters) -> None:
    from llm_session_manager.content_index import ROLES

    for role in filters.roles:
        if role not in ROLES:
            raise UsageError(f"--role: unknown role '{role}' (one of {', '.join(ROLES)})")
    if not 1 <= filters.limit <= LIMIT_MAX:
        raise UsageError(f"--limit must be between 1 and {LIMIT_MAX}")


def _since(ctx: Context, filters: SearchFilters) -> str | None:
    from llm_session_manager.timefmt import canonical_ts, iso, parse_since

    if not filters.since:
        return None
    moment: datetime = parse_since(filters.since, ctx.now(), utc=filters.utc)
    return canonical_ts(iso(moment))


def _keeper(views: dict[str, SessionView], filters: SearchFilters) -> Callable[[str], bool]:
    """Which sessions the agent and project filters keep (a session lsm no longer lists is kept only
    by an agent filter, read from its id)."""
    from llm_session_manager.listing import ListFilter, keep

    if not filters.agent and not filters.project:
        return lambda _sid: True
    flt = ListFilter(all=True, agent=filters.agent, project=filters.project)
    epoch = datetime.fromtimestamp(0).astimezone()

    def kept(session_id: str) -> bool:
        view = views.get(session_id)
        if view is not None:
            return keep(view, flt, epoch)
        agent = session_id.split(":", 1)[0]
        return not filters.project and bool(filters.agent) and agent.startswith(filters.agent or "")

    return kept


def _hit(match: MessageHit, view: SessionView | None) -> Hit:
    from llm_session_manager.resume import resume_command
    from llm_session_manager.safetext import without_secrets
    from llm_session_manager.service import project_name

    session = view.session if view is not None else None
    return Hit(
        session_id=match.session_id,
        agent=session.agent if session is not None else match.session_id.split(":", 1)[0],
        title=without_secrets(session.title) if session is not None else None,
        project=project_name(view) if view is not None else None,
        message_time=match.at,
        role=match.role,
        snippet=match.snippet.text,
        highlights=match.snippet.spans,
        score=match.score,
        resume_command=resume_command(session) if session is not None else None,
    )


# ---------------------------------------------------------------------------------------------------
# The archive


def archive_status(ctx: Context) -> dict[str, object]:
    """`lsm archive status`: copies kept, their size, and the content index's size."""
    from llm_session_manager import transcript_archive
    from llm_session_manager.service import open_db

    with ctx.lock, closing(open_db(ctx.paths)) as conn:
        return transcript_archive.status(
            conn, transcript_archive.folder(ctx.paths.data_dir), archive_enabled(ctx)
        )


def archive_prune(ctx: Context, before: str, *, utc: bool = False, dry_run: bool = False) -> PruneResult:
    """`lsm archive prune --before DATE`: copies of sessions last active before DATE, and the indexed
    messages of those whose transcripts are gone."""
    from llm_session_manager import transcript_archive
    from llm_session_manager.service import open_db
    from llm_session_manager.timefmt import parse_since

    moment = parse_since(before, ctx.now(), utc=utc)
    live = {v.session.id for v in ctx.views() if v.session.origin == "live"}
    with ctx.lock, closing(open_db(ctx.paths)) as conn:
        return transcript_archive.prune(
            conn, transcript_archive.folder(ctx.paths.data_dir), moment, live, dry_run=dry_run
        )


@contextmanager
def readable_view(ctx: Context, view: SessionView) -> Iterator[SessionView]:
    """``view`` with its deleted transcript files replaced by the archive's copies (unpacked for the
    time of the ``with``), or ``view`` itself when its files are there or no copy exists."""
    import dataclasses
    import os

    from llm_session_manager import transcript_archive
    from llm_session_manager.service import open_db

    paths = view.session.transcript_paths
    if all(os.path.lexists(p) for p in paths):
        yield view
        return
    root = transcript_archive.folder(ctx.paths.data_dir)
    with (
        ctx.lock,
        closing(open_db(ctx.paths)) as conn,
        transcript_archive.readable(conn, root, paths) as found,
    ):
        if found is None:
            yield view
            return
        session = dataclasses.replace(view.session, transcript_paths=tuple(found))
        yield dataclasses.replace(view, session=session)


def index_size(conn: sqlite3.Connection) -> dict[str, int]:
    """The content index's messages, sessions and bytes (`lsm info`)."""
    from llm_session_manager.store import content

    return content.sizes(conn)
