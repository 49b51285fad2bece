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
    context: list[tuple[int, float]]  # (epoch seconds, % of the window) since the last compaction
    tokens: list[tuple[int, int]]  # (minute since the epoch, tokens of every kind), replies' minutes only
    models: list[dict[str, Any]]  # tokens and cost per model (``models_document``)


def session_page(ctx: Context, session_id: str) -> SessionPage:
    """Everything a session's page shows, from one scan (the recommendations look at every session,
    as `lsm recommend` does, and keep those that name this one)."""
    from llm_session_manager.api.sessions import health_document, session_document
    from llm_session_manager.recommend import recommend
    from llm_session_manager.service import resolve_id

    views = ctx.collect(history=True).views  # with each session's per-minute history, for the chart
    view = resolve_id(views, session_id)
    recs = recommend(views, ctx.config, ctx.now().astimezone())
    mine = [r for r in recs if view.session.id in r.session_ids]
    return SessionPage(
        view,
        session_document(view),
        health_document(view),
        mine,
        context_fill(view),
        tokens_per_minute(view),
        models_document(ctx, view),
    )


def models_document(ctx: Context, view: SessionView) -> list[dict[str, Any]]:
    """Each model's tokens and its cost at lsm's prices (None: the model has no price), most tokens
    first."""
    from llm_session_manager.pricing import ModelTable

    table = ModelTable(ctx.config.get("models"))
    rows = []
    for usage in view.session.model_usage:
        total = usage.input + usage.output + usage.cache_creation + usage.cache_read
        cost, _unpriced = table.cost([usage])
        rows.append(
            {
                "model": usage.model,
                "input": usage.input,
                "output": usage.output,
                "cache_creation": usage.cache_creation,
                "cache_read": usage.cache_read,
                "total": total,
                "cost_usd": cost,
            }
        )
    return sorted(rows, key=lambda r: -int(r["total"]))


def context_fill(view: SessionView) -> list[tuple[int, float]]:
    """The context's fill over time, as a share of the window, from the agent's own usage records."""
    window = view.session.context_window
    if not window:
        return []
    return [(at, tokens / window * 100) for at, tokens in view.session.context_series]


def tokens_per_minute(view: SessionView) -> list[tuple[int, int]]:
    """Tokens per minute (input, output and cache, every model) over the whole session."""
    minutes: dict[int, int] = {}
    for minute, _model, i, o, cw, cr, _cw1h in view.session.usage_history:
        minutes[minute] = minutes.get(minute, 0) + i + o + cw + cr
    return sorted(minutes.items())
