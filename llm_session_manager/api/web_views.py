"""Use cases of the web dashboard's pages that no other front end has: one session with everything its
page shows, and the advice that names it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from llm_session_manager.api.context import Context

if TYPE_CHECKING:
    from llm_session_manager.models import SessionView
    from llm_session_manager.recommend import Recommendation


@dataclass
class SessionPage:
    view: SessionView
    document: dict[str, Any]  # `lsm list --format json`'s object for it
    health: dict[str, Any]  # `lsm health <id> --format json`
    advice: list[Recommendation]  # `lsm recommend` entries naming this session


def session_page(ctx: Context, session_id: str) -> SessionPage:
    """Everything a session's page shows, from one scan (the recommendations look at every session,
    as `lsm recommend` does, and keep those that name this one)."""
    from llm_session_manager.api.sessions import health_document, session_document
    from llm_session_manager.recommend import recommend
    from llm_session_manager.service import resolve_id

    views = ctx.collect().views
    view = resolve_id(views, session_id)
    recs = recommend(views, ctx.config, ctx.now().astimezone())
    mine = [r for r in recs if view.session.id in r.session_ids]
    return SessionPage(view, session_document(view), health_document(view), mine)
