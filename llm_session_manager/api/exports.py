"""Export and import use cases: one session's document (live, or as imported) and its rendered text;
importing a document as a session, and forgetting it."""

from __future__ import annotations

import re
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from typing import Any

from llm_session_manager.api.context import Context
from llm_session_manager.errors import AmbiguousIdError, NotFoundError, UsageError
from llm_session_manager.models import SessionView


def stored_document(ctx: Context, view: SessionView) -> dict[str, Any] | None:
    """The document an imported session came from, or None for a live session."""
    from llm_session_manager.service import open_db
    from llm_session_manager.store import imports

    with ctx.lock, closing(open_db(ctx.paths)) as conn:
        stored = imports.load_all(conn).get(view.session.id)
    return stored[0] if stored else None


def export_document(
    ctx: Context,
    view: SessionView,
    *,
    full: bool,
    transcript: bool,
    redact: bool = True,
    warn: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """The export document of a live session (with its memories), or the stored document of an imported
    one with its current tags, project and description."""
    from llm_session_manager.api.memory import for_export
    from llm_session_manager.exporting import document_for

    stored = stored_document(ctx, view)
    memories: list[dict[str, Any]] = []
    if stored is None:
        memories, problem = for_export(ctx, view.session.id)
        if problem and warn:
            warn(problem)
    if stored is not None or not transcript:
        return document_for(view, stored, full=full, transcript=transcript, redact=redact, memories=memories)
    from llm_session_manager.api.search import readable_view

    with readable_view(ctx, view) as readable:  # the archive's copies of transcripts the agent deleted
        doc = document_for(readable, None, full=full, transcript=True, redact=redact, memories=memories)
    if readable is not view:
        doc["session"]["transcript_paths"] = list(view.session.transcript_paths)
    return doc


def export_text(ctx: Context, view: SessionView, fmt: str, *, transcript: bool, full: bool) -> str:
    """`lsm export <id> -o - --format <fmt>`, redacted."""
    from llm_session_manager import exporting

    return exporting.render(export_document(ctx, view, full=full, transcript=transcript), fmt)


# ---------------------------------------------------------------------------------------------------
# Imports: a document becomes a session listed with status "imported"; forgetting removes it.


@dataclass(frozen=True)
class Imported:
    session_id: str
    created: bool  # False: the same document was already imported under that id


def import_document(
    ctx: Context, doc: dict[str, Any], source: str, session_id: str | None = None
) -> Imported:
    """Store a parsed export document (``exporting.parse_document`` checked it) under its own id or
    ``session_id``. Importing the same document again changes nothing; an id already taken by another
    document or by a live session is refused."""
    from llm_session_manager import exporting
    from llm_session_manager.service import open_db
    from llm_session_manager.store import imports

    ctx.check_writable()
    digest = exporting.content_hash(doc)
    new_id = target_id(doc, session_id)
    live = {v.session.id for v in ctx.views() if v.session.origin == "live"}
    with ctx.lock, closing(open_db(ctx.paths)) as conn:
        existing = imports.load_all(conn)
        if new_id in existing and existing[new_id][1] == digest:
            return Imported(new_id, False)
        if new_id in existing or new_id in live:
            raise UsageError(
                f"session id {new_id} is already taken on this machine; import with --session-id NEW_ID"
            )
        stored = with_id(doc, new_id)
        imports.save(
            conn,
            new_id,
            stored,
            digest,
            source,
            clean_tags(doc["tags"]),
            doc.get("project"),
            doc.get("description"),
        )
    return Imported(new_id, True)


def forget(ctx: Context, query: str) -> str:
    """Remove an imported session (document, tags, project, description); its id. Sessions read from an
    agent's own files are never deleted."""
    from llm_session_manager.service import open_db
    from llm_session_manager.store import imports

    ctx.check_writable()
    with ctx.lock, closing(open_db(ctx.paths)) as conn:
        target = imported_id(imports.ids(conn), query)
        imports.forget(conn, target)
    return target


def target_id(doc: dict[str, Any], wanted: str | None) -> str:
    agent = doc["session"]["agent"]
    if wanted is None:
        return str(doc["session"]["id"])
    wanted = wanted.strip()
    if not re.fullmatch(r"[A-Za-z0-9._:\-]{1,128}", wanted):
        raise UsageError("--session-id: use letters, digits, '.', '_', '-' (at most 128)")
    return wanted if wanted.startswith(f"{agent}:") else f"{agent}:{wanted}"


def with_id(doc: dict[str, Any], new_id: str) -> dict[str, Any]:
    if doc["session"]["id"] == new_id:
        return doc
    session = dict(doc["session"])
    session["id"] = new_id
    session["native_id"] = new_id.partition(":")[2]
    return {**doc, "session": session}


def clean_tags(tags: list[str]) -> list[str]:
    from llm_session_manager.organise import normalise_tag

    out: list[str] = []
    for tag in tags:
        try:
            clean = normalise_tag(tag)
        except UsageError:
            continue
        if clean not in out:
            out.append(clean)
    return out


def imported_id(known: list[str], query: str) -> str:
    """The imported session ``query`` names (full id, native id, or a unique prefix of either). Read
    from the table of imports alone, so a document that no longer loads can still be removed."""
    q = query.strip()
    exact = [i for i in known if q in (i, i.partition(":")[2])]
    matches = exact or [i for i in known if q and (i.startswith(q) or i.partition(":")[2].startswith(q))]
    if len(matches) == 1:
        return matches[0]
    if not matches:
        raise NotFoundError(f"no imported session matches '{q}' (only imported sessions can be forgotten)")
    raise AmbiguousIdError(f"'{q}' matches {len(matches)} imported sessions: {', '.join(matches[:8])}")
