"""Export use cases: one session's document (live, or as imported) and its rendered text."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from typing import Any

from llm_session_manager.api.context import Context
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
    return document_for(view, stored, full=full, transcript=transcript, redact=redact, memories=memories)


def export_text(ctx: Context, view: SessionView, fmt: str, *, transcript: bool, full: bool) -> str:
    """`lsm export <id> -o - --format <fmt>`, redacted."""
    from llm_session_manager import exporting

    return exporting.render(export_document(ctx, view, full=full, transcript=transcript), fmt)
