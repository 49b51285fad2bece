"""Advice and usage use cases: recommendations, official limits, the budget, usage reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from llm_session_manager.api.context import Context

if TYPE_CHECKING:
    from llm_session_manager.limits import Budget, Limit
    from llm_session_manager.models import SessionView
    from llm_session_manager.recommend import Recommendation
    from llm_session_manager.reports import Request


@dataclass
class Advice:
    recommendations: list[Recommendation]
    views: list[SessionView]
    discovery_error: str | None

    def documents(self) -> list[dict[str, Any]]:
        return [r.as_json() for r in self.recommendations]


def recommendations(ctx: Context, agent: str | None = None, project: str | None = None) -> Advice:
    """What to do now, most urgent first; with ``agent``/``project`` only advice touching those
    sessions. "Today" for the daily cost is the local calendar day."""
    from llm_session_manager.listing import ListFilter, keep
    from llm_session_manager.recommend import recommend

    collected = ctx.collect()
    views = collected.views
    now = ctx.now().astimezone()
    recs = recommend(views, ctx.config, now)
    if agent or project:
        flt = ListFilter(all=True, agent=agent, project=project)
        wanted = {v.session.id for v in views if keep(v, flt, now)}
        recs = [r for r in recs if wanted.intersection(r.session_ids)]
    return Advice(recs, views, collected.discovery_error)


def official_limits(ctx: Context, agents: list[str] | None = None) -> list[Limit]:
    """The newest observation of each agent's official windows (5 h, 7 d), with staleness."""
    from llm_session_manager.limits import current_limits, observe

    with ctx.lock:
        found = observe(ctx.paths, ctx.config, agents)
    return current_limits(found, ctx.now())


@dataclass
class BudgetAnswer:
    items: list[Budget]
    near_percent: float
    now: datetime
    exit_code: int

    def document(self) -> dict[str, Any]:
        from llm_session_manager.limits import budget_document

        return budget_document(self.items, self.near_percent, self.now)


def budget(ctx: Context, agents: list[str] | None = None) -> BudgetAnswer:
    """Can a big task start now: per agent, limit left, reset, run-out time and one suggestion."""
    from llm_session_manager.limits import budgets, exit_code

    near = float(ctx.config["budget"]["near_percent"])
    now = ctx.now()
    items = budgets(official_limits(ctx, agents), near, now, agents)
    return BudgetAnswer(items, near, now, exit_code(items))


def usage_report(ctx: Context, request: Request) -> tuple[dict[str, Any], list[str]]:
    """`lsm report …` as a document, and the files that could not be read."""
    from llm_session_manager import reports

    with ctx.lock:
        try:
            return reports.usage_report(ctx.paths, ctx.config, request, progress=ctx.progress)
        finally:
            if ctx.progress is not None:
                ctx.progress.finished()
