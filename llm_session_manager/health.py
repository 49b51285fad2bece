"""Health score: pure functions over a session and the moment of scoring.

Four factors, as the product has always had them, each measuring what the evidence says degrades a
session (docs/HEALTH.md has the formulas and sources):

- tokens:   current context fill, relative to the auto-compact point and in absolute tokens;
- duration: turns since the last compaction or /clear, and the number of compactions;
- activity: stuck signals (busy with no transcript write, waiting on a prompt) — idleness is fine;
- errors:   recent tool-error rate, API errors, one command failing again and again, interruptions.

Severe signals cap the score, since a weighted average would hide them. An ended session is scored
as it ended (its recent window is the half hour before its last line); the caps its agent's error
signals set (auth error, prompt too long, compaction thrash) lapse CAP_DECAY_HOURS after that, so a
session that ended on a failed sign-in last week is not critical today. Context caps stay: they say
what resuming it would start from.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import pairwise
from types import MappingProxyType
from typing import Any

from llm_session_manager.models import Health, HealthFactor, Session

REL_POINTS = ((0.5, 0.0), (0.8, 40.0), (0.95, 70.0))
ABS_POINTS = ((32_000, 0.0), (64_000, 10.0), (128_000, 20.0), (200_000, 30.0), (500_000, 40.0))
TURN_POINTS = ((50, 100.0), (150, 70.0), (300, 40.0))
COMPACTION_SCORES = (100.0, 85.0, 70.0, 50.0, 50.0)  # 0..4 compactions; 5+ -> 25
DEFAULT_WEIGHTS = {"tokens": 0.4, "duration": 0.2, "activity": 0.2, "errors": 0.2}
CAP_WARNING = 69.0
CAP_CRITICAL = 39.0
# An ended session's error-signal caps lapse this long after its last activity.
CAP_DECAY_HOURS = 24.0
NO_RAW: Mapping[str, object] = MappingProxyType({})  # a factor scored without its explanation


@dataclass(frozen=True, slots=True)  # one per session in a listing (its health can be explained later)
class HealthInputs:
    """What scoring needs beyond the session itself."""

    now: datetime
    context_window: int | None
    compact_at: int | None
    running: bool
    estimated: bool


def interpolate(x: float, points: Sequence[tuple[float, float]]) -> float:
    """Piecewise-linear through ``points`` (sorted by x), flat outside them."""
    if x <= points[0][0]:
        return points[0][1]
    for (x0, y0), (x1, y1) in pairwise(points):
        if x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return points[-1][1]


def tokens_factor(
    ctx: int | None, compact_at: int | None, weight: float, explain: bool = True
) -> HealthFactor:
    """``explain`` False: the score alone, without the raw values and the reason (see score_session)."""
    if ctx is None or not compact_at:
        return HealthFactor(
            "tokens",
            {"context_tokens": ctx, "compact_at": compact_at} if explain else NO_RAW,
            100.0,
            weight,
            "context size unknown (no assistant reply yet)",
        )
    if not explain:
        return HealthFactor("tokens", NO_RAW, _tokens_score(ctx, compact_at), weight, "")
    rel = ctx / compact_at
    rel_pen = interpolate(rel, REL_POINTS)
    abs_pen = interpolate(ctx, ABS_POINTS)
    score = _tokens_score(ctx, compact_at)
    reason = f"context {ctx:,} tokens = {rel:.0%} of the auto-compact point ({compact_at:,})"
    if abs_pen > rel_pen:
        reason += "; long contexts lose accuracy whatever the window"
    raw = {
        "context_tokens": ctx,
        "compact_at": compact_at,
        "relative": round(rel, 4),
        "relative_penalty": round(rel_pen, 1),
        "absolute_penalty": round(abs_pen, 1),
    }
    return HealthFactor("tokens", raw, score, weight, reason)


def _tokens_score(ctx: int | None, compact_at: int | None) -> float:
    """The tokens factor's score (rounded as a factor shows it)."""
    if ctx is None or not compact_at:
        return 100.0
    rel_pen = interpolate(ctx / compact_at, REL_POINTS)
    abs_pen = interpolate(ctx, ABS_POINTS)
    return round(max(0.0, 100.0 - max(rel_pen, abs_pen) - 0.25 * min(rel_pen, abs_pen)), 1)


def duration_factor(session: Session, weight: float, explain: bool = True) -> HealthFactor:
    score = _duration_score(session)
    if not explain:
        return HealthFactor("duration", NO_RAW, score, weight, "")
    turns = session.turns_since_compaction
    n = session.compactions
    fatal = _duration_fatal(session)
    if fatal:
        reason = "fatal: " + ", ".join(f.replace("_", " ") for f in fatal)
    else:
        reason = f"{turns} turns since the last compaction or /clear; {n} compaction{'s' if n != 1 else ''}"
    raw = {"turns_since_compaction": turns, "compactions": n, "fatal": fatal}
    return HealthFactor("duration", raw, score, weight, reason)


def _duration_fatal(session: Session) -> list[str]:
    return [f for f in session.fatal_signals if f in ("compaction_thrash", "prompt_too_long")]


def _duration_score(session: Session) -> float:
    """The duration factor's score (rounded as a factor shows it)."""
    if session.fatal_signals and _duration_fatal(session):
        return 0.0
    n = session.compactions
    compaction_score = COMPACTION_SCORES[n] if n < len(COMPACTION_SCORES) else 25.0
    return round(0.6 * compaction_score + 0.4 * interpolate(session.turns_since_compaction, TURN_POINTS), 1)


def activity_factor(
    session: Session, inputs: HealthInputs, weight: float, cfg: Mapping[str, Any], explain: bool = True
) -> HealthFactor:
    if not inputs.running and not explain:
        return HealthFactor("activity", NO_RAW, 100.0, weight, "")
    proc = session.process
    state = proc.state if proc else None
    last = session.last_activity
    quiet_min = (inputs.now - last).total_seconds() / 60 if last else None
    # The quiet time matters (and is shown) only while the session runs: for an ended session it would
    # be a number that changes every time it is asked, saying nothing about its health.
    shown = round(quiet_min, 1) if quiet_min is not None and inputs.running else None
    raw: dict[str, object] = {"running": inputs.running, "state": state, "minutes_since_write": shown}
    if not inputs.running:
        reason = "not running; idleness is not a health problem"
        if signals_lapsed(session, inputs) and session.fatal_signals:
            signals = ", ".join(f.replace("_", " ") for f in session.fatal_signals)
            reason += f"; it ended with: {signals} (over {CAP_DECAY_HOURS:g} h ago, no longer caps the score)"
        return HealthFactor("activity", raw, 100.0, weight, reason)
    busy_limit = float(cfg.get("stuck_busy_minutes", 10))
    wait_limit = float(cfg.get("stuck_waiting_minutes", 15))
    if state == "busy" and quiet_min is not None and quiet_min > busy_limit:
        return HealthFactor(
            "activity",
            raw,
            30.0,
            weight,
            f"busy but no transcript write for {quiet_min:.0f} min: probably stuck",
        )
    if state == "waiting":
        since = proc.state_updated_at if proc else None
        waited = (inputs.now - since).total_seconds() / 60 if since else quiet_min
        if waited is not None and waited > wait_limit:
            return HealthFactor("activity", raw, 60.0, weight, f"waiting on a prompt for {waited:.0f} min")
    return HealthFactor("activity", raw, 100.0, weight, f"running, {state or 'state unknown'}; not stuck")


def errors_factor(session: Session, weight: float, explain: bool = True) -> HealthFactor:
    score = _errors_score(session)
    if not explain:
        return HealthFactor("errors", NO_RAW, score, weight, "")
    recent = session.recent_tool_results
    errors = sum(1 for r in recent if r)
    rate = errors / len(recent) if recent else 0.0
    repeated = session.repeated_failures >= 3
    parts = [f"{errors} of the last {len(recent)} tool calls failed" if recent else "no tool calls"]
    if session.recent_api_errors:
        parts.append(f"{session.recent_api_errors} recent API error(s)")
    if repeated:
        parts.append(f"one command failed {session.repeated_failures} times")
    if session.recent_interruptions:
        parts.append(f"{session.recent_interruptions} recent interruption(s)")
    raw = {
        "recent_tool_calls": len(recent),
        "recent_tool_errors": errors,
        "error_rate": round(rate, 3),
        "recent_api_errors": session.recent_api_errors,
        "repeated_failures": session.repeated_failures,
        "recent_interruptions": session.recent_interruptions,
    }
    return HealthFactor("errors", raw, score, weight, "; ".join(parts))


def _errors_score(session: Session) -> float:
    """The errors factor's score (rounded as a factor shows it)."""
    recent = session.recent_tool_results
    score = 100.0 - 150.0 * (sum(1 for r in recent if r) / len(recent) if recent else 0.0)
    score -= min(15.0 * session.recent_api_errors, 45.0)
    if session.repeated_failures >= 3:
        score -= 30.0
    score -= min(10.0 * session.recent_interruptions, 30.0)
    return round(max(0.0, score), 1)


def signals_lapsed(session: Session, inputs: HealthInputs) -> bool:
    """Whether an ended session's error signals are too old to cap its score: it is not running and
    its last activity is more than CAP_DECAY_HOURS before ``inputs.now``."""
    last = session.last_activity
    return not inputs.running and last is not None and inputs.now - last > timedelta(hours=CAP_DECAY_HOURS)


def caps_for(
    session: Session, compact_at: int | None, inputs: HealthInputs | None = None
) -> list[tuple[float, str]]:
    """The caps on a score: context fill, and the agent's error signals (unless they lapsed)."""
    caps: list[tuple[float, str]] = []
    ctx = session.context_tokens
    rel = ctx / compact_at if ctx is not None and compact_at else 0.0
    if rel >= 0.95:
        caps.append((CAP_CRITICAL, "context at 95%+ of the auto-compact point"))
    elif rel >= 0.8 or (ctx or 0) >= 200_000:
        caps.append((CAP_WARNING, "context at 80%+ of the auto-compact point or over 200k tokens"))
    if inputs is not None and signals_lapsed(session, inputs):
        return caps
    for signal in session.fatal_signals:
        caps.append((CAP_CRITICAL, signal.replace("_", " ")))
    return caps


def band(score: float, thresholds: Mapping[str, Any]) -> str:
    if score >= float(thresholds.get("healthy", 70)):
        return "healthy"
    if score >= float(thresholds.get("warning", 40)):
        return "warning"
    return "critical"


def score_session(session: Session, inputs: HealthInputs, cfg: Mapping[str, Any]) -> Health:
    """The health of ``session``; ``cfg`` is the config's ``health`` section. The factors' raw values
    and reasons are worked out when first asked for (``Health.factors``): a listing of thousands of
    sessions shows the score alone, and building them was most of the scoring's time and memory."""
    w_tokens, w_duration, w_activity, w_errors = _weights(cfg)
    activity = activity_factor(session, inputs, w_activity, cfg, False).score if inputs.running else 100.0
    # The factors' scores and weights as _factors makes them, summed in the same order (the listing
    # scores every session: 4 factor objects each took a third of the time).
    score = (
        0
        + _tokens_score(session.context_tokens, inputs.compact_at) * w_tokens
        + _duration_score(session) * w_duration
        + activity * w_activity
        + _errors_score(session) * w_errors
    )
    caps = caps_for(session, inputs.compact_at, inputs)
    for limit, _why in caps:
        score = min(score, limit)
    score = round(score, 1)
    return Health(
        score,
        band(score, cfg.get("thresholds", {})),
        tuple(why for _l, why in caps),
        inputs.estimated,
        _Explained(session, inputs, cfg),
    )


@dataclass(frozen=True, slots=True)
class _Explained:
    """Makes a session's factors with their raw values and reasons (``Health.explain``): one small object
    per session of a listing, where a ``functools.partial`` took three."""

    session: Session
    inputs: HealthInputs
    cfg: Mapping[str, Any]

    def __call__(self) -> tuple[HealthFactor, ...]:
        return _factors(self.session, self.inputs, self.cfg, True)


def _factors(
    session: Session, inputs: HealthInputs, cfg: Mapping[str, Any], explain: bool
) -> tuple[HealthFactor, ...]:
    w_tokens, w_duration, w_activity, w_errors = _weights(cfg)
    return (
        tokens_factor(session.context_tokens, inputs.compact_at, w_tokens, explain),
        duration_factor(session, w_duration, explain),
        activity_factor(session, inputs, w_activity, cfg, explain),
        errors_factor(session, w_errors, explain),
    )


_WEIGHTS: dict[tuple[Any, ...], tuple[float, float, float, float]] = {}


def _weights(cfg: Mapping[str, Any]) -> tuple[float, float, float, float]:
    """The tokens, duration, activity and errors weights of the ``health`` section, as shares of their
    sum (remembered per set of weights: every session of a listing asks)."""
    given = cfg.get("weights") or DEFAULT_WEIGHTS
    key = tuple(given.items())
    found = _WEIGHTS.get(key)
    if found is None:
        weights = dict(given)
        total = sum(float(w) for w in weights.values()) or 1.0
        found = (
            float(weights.get("tokens", 0.0)) / total,
            float(weights.get("duration", 0.0)) / total,
            float(weights.get("activity", 0.0)) / total,
            float(weights.get("errors", 0.0)) / total,
        )
        if len(_WEIGHTS) > 64:
            _WEIGHTS.clear()
        _WEIGHTS[key] = found
    return found
