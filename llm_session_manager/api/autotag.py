"""Auto-tagging use cases: suggest tags for a session from its project and prompts (heuristics, and
Claude when asked), record what was shown, learn from what was accepted or rejected; and the AI
description `describe --ai` writes. The project folder and transcripts are only read; every write goes to
lsm's own store."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from llm_session_manager.api.context import Context
from llm_session_manager.models import SessionView

if TYPE_CHECKING:  # imported inside the use cases: `lsm list` does not pay for it
    from llm_session_manager import tagging

Say = Callable[[str], None]


@dataclass
class Plan:
    """What auto-tag found for one session, before learning re-ranks it."""

    view: SessionView
    profile: tagging.ProjectProfile
    prompts: list[str]
    suggestions: list[tagging.Suggestion]
    ai: str = "off"  # off | used | no-key
    redacted: int = 0
    notes: list[str] = field(default_factory=list)


@dataclass
class Suggested:
    plan: Plan
    ranked: tagging.Ranked
    shown: list[tagging.Suggestion]


def _look(view: SessionView) -> tuple[tagging.ProjectProfile, list[str]]:
    from llm_session_manager import tagging

    s = view.session
    return tagging.scan_project(s.project_path), tagging.first_prompts(s.transcript_paths)


def _ai_suggestions(ctx: Context, plan: Plan, warn: Say) -> None:
    """Ask Claude; on success its tags lead and the heuristics fill in. Without a key: a warning."""
    from llm_session_manager import ai, tagging

    try:
        settings = ai.settings_from(ctx.paths.env, ctx.config)
    except ai.NoKeyError:
        warn(f"{ai.KEY_VARIABLE} is not set; suggesting tags from heuristics only")
        plan.ai = "no-key"
        return
    s = plan.view.session
    context = tagging.ai_context(plan.profile, s.title, plan.prompts, plan.view.tags, plan.suggestions)
    tags, plan.redacted = ai.suggest_tags(settings, context)
    have = set(plan.view.tags)
    found = [
        tagging.Suggestion(tag, t.confidence, t.reason, "ai", t.confidence)
        for t in tags
        if (tag := tagging.clean_ai_tag(t.tag)) is not None and tag not in have
    ]
    plan.suggestions = tagging.combine(tagging.merge(found), plan.suggestions)
    plan.ai = "used"


def build_plan(ctx: Context, view: SessionView, use_ai: bool, warn: Say) -> Plan:
    """Look at the session's project and prompts and suggest tags (heuristics, then Claude if asked).
    Raises ``AIError`` before anything is written when Claude was asked and failed."""
    from llm_session_manager import tagging

    profile, prompts = _look(view)
    suggestions = tagging.heuristic_suggestions(profile, view.session.title, prompts, view.tags)
    plan = Plan(view, profile, prompts, suggestions)
    if not profile.exists:
        plan.notes.append(
            f"project folder {view.session.project_path} is not here; suggestions come from the prompts only"
            if view.session.project_path
            else "the session has no project folder; suggestions come from the prompts only"
        )
    if use_ai:
        _ai_suggestions(ctx, plan, warn)
    return plan


def suggest(
    ctx: Context, session_id: str, *, use_ai: bool, min_confidence: float, limit: int, warn: Say
) -> Suggested:
    """The suggestions to show, re-ranked by what this project type's users accepted and rejected
    before (a tag rejected for this session is not offered again); what is shown is recorded."""
    from llm_session_manager import tagging
    from llm_session_manager.service import open_db

    view = ctx.one(session_id)
    plan = build_plan(ctx, view, use_ai, warn)  # an AI failure ends here: nothing stored
    sid, ptype = view.session.id, plan.profile.project_type
    with ctx.lock, closing(open_db(ctx.paths)) as conn:
        ranked = tagging.rerank(
            plan.suggestions,
            tagging.feedback_counts(conn, ptype),
            ptype,
            tagging.rejected_for_session(conn, sid),
        )
        shown = [s for s in ranked.kept if s.confidence >= min_confidence][:limit]
        tagging.record_suggested(conn, sid, ptype, shown)
    return Suggested(plan, ranked, shown)


def decide(ctx: Context, suggested: Suggested, decisions: Sequence[tagging.Decision]) -> list[str]:
    """Store the decisions (they teach the ranking) and add the accepted or applied tags; the tags
    added."""
    from llm_session_manager import tagging
    from llm_session_manager.service import open_db

    if not decisions:
        return []
    ctx.check_writable()
    sid, ptype = suggested.plan.view.session.id, suggested.plan.profile.project_type
    with ctx.lock, closing(open_db(ctx.paths)) as conn:
        return tagging.apply_decisions(conn, sid, ptype, list(decisions))


def tag_stats(ctx: Context, tag: str | None = None, project_type: str | None = None) -> tagging.Stats:
    """How suggestions fared: per tag and project type, suggested/accepted/rejected counts."""
    from llm_session_manager import tagging
    from llm_session_manager.service import open_db

    with closing(open_db(ctx.paths)) as conn:
        return tagging.tag_stats(
            conn, tag.strip().lower() if tag else None, project_type.strip().lower() if project_type else None
        )


def ai_description(ctx: Context, view: SessionView, note: Say) -> str:
    """`describe --ai`: a one-paragraph description from Claude (raises ``AIError`` on any failure)."""
    from llm_session_manager import ai, tagging

    try:
        settings = ai.settings_from(ctx.paths.env, ctx.config)
    except ai.NoKeyError:
        raise ai.NoKeyError(
            f"{ai.KEY_VARIABLE} is not set: describe --ai needs it (or give the description yourself)"
        ) from None
    profile, prompts = _look(view)
    hints = tagging.heuristic_suggestions(profile, view.session.title, prompts, view.tags)
    context = tagging.ai_context(profile, view.session.title, prompts, view.tags, hints)
    text, redacted = ai.describe(settings, context)
    if redacted:
        note(f"lsm: note: {redacted} secret(s) were redacted before asking Claude")
    return text
