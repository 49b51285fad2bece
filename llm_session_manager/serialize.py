"""The public JSON shapes (documented in docs/CLI_GUIDE.md). Keep keys stable: scripts depend on them."""

from __future__ import annotations

from typing import Any

from llm_session_manager.models import Health, Process, RateLimit, SessionView
from llm_session_manager.safetext import without_secrets
from llm_session_manager.timefmt import iso


def process_json(proc: Process | None) -> dict[str, Any] | None:
    if proc is None:
        return None
    return {
        "pid": proc.pid,
        "state": proc.state,
        "state_updated_at": iso(proc.state_updated_at),
        "started_at": iso(proc.started_at),
        "cpu_pct": proc.cpu_pct,
        "rss_bytes": proc.rss_bytes,
        "cwd": proc.cwd,
        # How the process was tied to its session: status-file, argv, cwd, or null (not tied).
        "link": proc.hint_source,
    }


def health_json(health: Health, *, detail: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {"score": health.score, "status": health.status, "estimated": health.estimated}
    if detail:
        out["caps"] = list(health.caps)
        out["factors"] = [
            {
                "name": f.name,
                "score": f.score,
                "weight": round(f.weight, 4),
                "weighted": round(f.score * f.weight, 2),
                "reason": f.reason,
                "raw": f.raw,
            }
            for f in health.factors
        ]
    return out


def rate_limit_json(r: RateLimit) -> dict[str, Any]:
    return {
        "name": r.name,
        "used_percent": r.used_percent,
        "window_minutes": r.window_minutes,
        "resets_at": iso(r.resets_at),
    }


def session_json(view: SessionView, project: str | None) -> dict[str, Any]:
    s = view.session
    t = s.tokens
    # A running app or agent whose sessions we could not read: its tokens are unknown, not zero.
    unknown = s.process is not None and not s.transcript_paths
    tokens = (
        None
        if unknown
        else {
            "input": t.input,
            "output": t.output,
            "cache_creation": t.cache_creation,
            "cache_read": t.cache_read,
            "total": t.total,
            "source": t.source,
        }
    )
    return {
        "id": s.id,
        "agent": s.agent,
        "native_id": s.native_id,
        "title": s.title,
        "project_path": s.project_path,
        "project": project,
        "git_branch": s.git_branch,
        "model": s.model,
        "models": list(s.models),
        "status": view.status,
        # What the session is doing now: working, waiting_permission, waiting_input, idle, compacting,
        # ended; state_source says who told: "hooks", "status-file" or "activity" (lsm's own guess).
        "state": view.state,
        "state_detail": without_secrets(view.state_detail),
        "state_since": iso(view.state_since),
        "state_source": view.state_source,
        "pid": s.process.pid if s.process else None,
        "process": process_json(s.process),
        "started_at": iso(s.started_at),
        "last_activity": iso(s.last_activity),
        "tokens": tokens,
        # "exact": from the agent's own usage records; "counted": tiktoken over the text we could see;
        # "rounded": the agent logged rounded figures (Aider's "12k sent").
        "tokens_source": None if unknown else t.source,
        "context_tokens": s.context_tokens,
        "context_window": s.context_window,
        "context_window_source": s.context_window_source,
        "context_pct": view.context_pct,
        "compact_at": view.compact_at,
        "cost_usd": view.cost_usd,
        # "table": lsm's price table; "agent": the cost the agent logged itself (its model has no price
        # in lsm's table); "recorded": an imported document's figure; null: no cost.
        "cost_source": view.cost_source,
        "burn_rate_tokens_per_min": view.burn_rate_tokens_per_min,
        "cost_per_hour_usd": view.cost_per_hour_usd,
        "minutes_to_compact": view.minutes_to_compact,
        "messages": {"user": s.messages_user, "assistant": s.messages_assistant},
        "tool_calls": s.tool_calls,
        "tool_errors": s.tool_errors,
        "api_errors": s.api_errors,
        "interruptions": s.interruptions,
        "compactions": s.compactions,
        "skipped_lines": s.skipped_lines,
        "rate_limits": [rate_limit_json(r) for r in s.rate_limits],
        "health": health_json(view.health),
        "tags": list(view.tags),
        "description": view.description,
        "transcript_paths": list(s.transcript_paths),
        "warnings": list(view.warnings),
    }
