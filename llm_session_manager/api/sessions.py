"""Session use cases: list and find, one session, its health, and our metadata on it (tags, project,
description). Documents are exactly what `lsm … --format json` prints."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypedDict

from llm_session_manager.api.context import Context
from llm_session_manager.errors import UsageError
from llm_session_manager.fileio import copy_stream
from llm_session_manager.models import SessionView

if TYPE_CHECKING:
    import sqlite3

    from llm_session_manager.service import Collected

DESCRIPTION_MAX = 4000
PROJECT_MAX = 200


class MetaDocument(TypedDict):
    """Our own metadata about a session, as `lsm tag|describe|set-project --format json` prints it (and
    the MCP write tools return)."""

    id: str
    tags: list[str]
    project: str | None
    description: str | None


@dataclass(frozen=True)
class ListQuery:
    """The filters of `lsm list` plus the words of `lsm search` (``text``). ``since`` is as typed
    (``2h``, ``3d``, a date), read in UTC when ``utc`` else local time."""

    statuses: tuple[str, ...] = ()
    agent: str | None = None
    tags: tuple[str, ...] = ()
    project: str | None = None
    text: str | None = None
    all_sessions: bool = False
    since: str | None = None
    utc: bool = False
    sort: str | None = None
    limit: int | None = None


@dataclass
class Listing:
    """Sessions in display order; ``scores`` (session id → score) when the query had words."""

    views: list[SessionView]
    collected: Collected
    scores: dict[str, float] = field(default_factory=dict)
    # The file each output kind was stored in by this listing's run (fastlist.remember), to print it from.
    stored: dict[str, Path] = field(default_factory=dict, init=False, repr=False)

    def documents(self) -> list[dict[str, Any]]:
        return list(self._documents())

    def _documents(self) -> Iterator[dict[str, Any]]:
        for v in self.views:
            doc = session_document(v)
            yield {**doc, "score": self.scores[v.session.id]} if self.scores else doc

    def json_chunks(self) -> Iterator[bytes]:
        """`lsm list --format json`'s output, a document at a time."""
        from llm_session_manager import fastlist

        return fastlist.output_chunks(self._documents())

    def write_json(self, out: BinaryIO) -> None:
        """`lsm list --format json`'s output to ``out``, never held whole (14 MB at 6,000 sessions): copied
        from the file it was just stored in, or made a document at a time when it was not (or that file
        is gone: a later run replaced it)."""
        stored = self._stored_file("json")
        if stored is not None:
            with stored:
                copy_stream(stored, out)
            return
        for chunk in self.json_chunks():
            out.write(chunk)

    def table_chunks(self) -> Iterator[bytes]:
        """The rows of `lsm list`'s table (listing_table.TableData) as JSON, a row at a time: what the fast
        path stores and draws. Ids are told apart from every session the scan found."""
        from llm_session_manager.listing_table import table_chunks

        return table_chunks(self.views, self.collected.sessions())

    def table_rows(self) -> bytes:
        """The same rows whole, for the CLI to draw: read from the file they were just stored in, or made
        again, so that the full path and the fast path draw the same table."""
        stored = self._stored_file("table")
        if stored is not None:
            with stored:
                return stored.read()
        return b"".join(self.table_chunks())

    def _stored_file(self, kind: str) -> BinaryIO | None:
        """The file this run stored ``kind`` in, opened; None when it stored none or a later run has
        replaced it (a file once written is never changed)."""
        path = self.stored.get(kind)
        if path is None:
            return None
        try:
            return open(path, "rb")  # the caller closes it
        except FileNotFoundError:
            return None

    def outputs(self) -> dict[str, Callable[[], Iterable[bytes]]]:
        """What `lsm list`'s fast path stores of this listing, per kind (fastlist.KINDS), in pieces."""
        return {"json": self.json_chunks, "table": self.table_chunks}


def list_sessions(ctx: Context, query: ListQuery) -> Listing:
    """Without ``text``: running and recent sessions (every one with ``all_sessions``), filtered and
    sorted. With ``text``: every session matching the words, best first, then narrowed by the filters.
    A listing without filters is stored, as JSON and as table rows, for `lsm list`'s fast path. The
    cyclic garbage collector stays off until the listing is made (``service.collector_paused``)."""
    from llm_session_manager.service import collector_paused

    return collector_paused(_listed)(ctx, query)


def _listed(ctx: Context, query: ListQuery) -> Listing:
    from llm_session_manager import fastlist, organise
    from llm_session_manager.listing import ListFilter, check_statuses, keep, shown_at_most, sort_views
    from llm_session_manager.timefmt import parse_since

    now = ctx.now()
    text = (query.text or "").strip()
    flt = ListFilter(
        all=query.all_sessions or bool(text),
        statuses=check_statuses(query.statuses),
        tags=tuple(t.strip().lower() for t in query.tags),
        project=query.project,
        agent=query.agent,
        since=parse_since(query.since, now, utc=query.utc) if query.since else None,
        recent_hours=float(ctx.config["recent_hours"]),
    )
    forms = fastlist.forms_of(query.all_sessions, query != ListQuery(all_sessions=query.all_sessions))
    pending = fastlist.prepare(ctx.paths, forms)
    collected = ctx.collect(wanted=shown_at_most(flt, now))
    views = [v for v in collected.views if keep(v, flt, now)]
    scores: dict[str, float] = {}
    if text:
        hits = organise.search(views, text)
        scores = {h.view.session.id: h.score for h in hits}
        ordered = [h.view for h in hits]
        if query.sort:
            ordered = sort_views(ordered, query.sort)
    else:
        ordered = sort_views(views, query.sort or ctx.config["list"]["sort"])
    if query.limit:
        ordered = ordered[: query.limit]
    listing = Listing(ordered, collected, scores)
    listing.stored = fastlist.remember(
        ctx.paths, ctx.config, pending, collected, listing.outputs(), now, flt.recent_hours
    )
    return listing


def session_document(view: SessionView) -> dict[str, Any]:
    """One session as `lsm list --format json` prints it."""
    from llm_session_manager.serialize import session_json
    from llm_session_manager.service import project_name

    return session_json(view, project_name(view))


def health_document(view: SessionView) -> dict[str, Any]:
    """`lsm health <id> --format json`: the score with every factor's value, weight and reason."""
    from llm_session_manager.serialize import health_json

    return {"id": view.session.id, "context_pct": view.context_pct, **health_json(view.health, detail=True)}


def meta_document(view: SessionView) -> MetaDocument:
    from llm_session_manager.service import project_name

    return {
        "id": view.session.id,
        "tags": list(view.tags),
        "project": project_name(view),
        "description": view.description,
    }


# ---------------------------------------------------------------------------------------------------
# Metadata changes: one transaction each; the answer is the session's metadata after the change, read
# back from the store (no second scan).


@dataclass(frozen=True)
class TagChange:
    view: SessionView  # the session after the change
    changed: list[str]  # tags added (tag) or removed (untag)
    unchanged: list[str]  # already there (tag) or not there (untag)


def _write(
    ctx: Context, view: SessionView, change: Callable[[sqlite3.Connection, str], object]
) -> SessionView:
    from llm_session_manager.service import apply_meta, open_db
    from llm_session_manager.store import meta

    ctx.check_writable()
    sid = view.session.id
    with ctx.lock, closing(open_db(ctx.paths)) as conn:
        change(conn, sid)
        stored = meta.load_all(conn).get(sid) or meta.SessionMeta(sid)
    after = dataclasses.replace(view)
    apply_meta(after, stored)
    return after


def _resolve(ctx: Context, target: str | SessionView) -> SessionView:
    return target if isinstance(target, SessionView) else ctx.one(target)


def tag(ctx: Context, session_id: str | SessionView, tags: Sequence[str]) -> TagChange:
    from llm_session_manager.organise import normalise_tags
    from llm_session_manager.store import meta

    clean = normalise_tags(tags)
    view = _resolve(ctx, session_id)
    had = [t for t in clean if t in view.tags]
    added = [t for t in clean if t not in had]
    after = _write(ctx, view, lambda conn, sid: meta.add_tags(conn, [sid], added))
    return TagChange(after, added, had)


def untag(ctx: Context, session_id: str | SessionView, tags: Sequence[str]) -> TagChange:
    from llm_session_manager.organise import normalise_tags
    from llm_session_manager.store import meta

    clean = normalise_tags(tags)
    view = _resolve(ctx, session_id)
    missing = [t for t in clean if t not in view.tags]
    after = _write(ctx, view, lambda conn, sid: meta.remove_tags(conn, [sid], clean))
    return TagChange(after, [t for t in clean if t not in missing], missing)


def clean_project(name: str) -> str | None:
    """A project name as stored: one line, spaces collapsed; empty clears it."""
    from llm_session_manager.safetext import storable

    value = " ".join(storable(name).split()) or None
    if value is not None and len(value) > PROJECT_MAX:
        raise UsageError(f"project name is longer than {PROJECT_MAX} characters")
    return value


def clean_description(text: str) -> str | None:
    from llm_session_manager.safetext import storable

    value = storable(text).strip()
    if len(value) > DESCRIPTION_MAX:
        raise UsageError(f"description is longer than {DESCRIPTION_MAX} characters")
    return value or None


def set_project(ctx: Context, session_id: str | SessionView, name: str) -> SessionView:
    from llm_session_manager.store import meta

    value = clean_project(name)
    view = _resolve(ctx, session_id)
    return _write(ctx, view, lambda conn, sid: meta.set_field(conn, [sid], "project", value))


def describe(ctx: Context, session_id: str | SessionView, text: str) -> SessionView:
    from llm_session_manager.store import meta

    value = clean_description(text)
    view = _resolve(ctx, session_id)
    return _write(ctx, view, lambda conn, sid: meta.set_field(conn, [sid], "description", value))
