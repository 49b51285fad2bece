"""Burn rate and time to compaction: pure functions over a session's recent usage.

- burn rate: all tokens (input, output, cache writes and reads) of the last ``window`` minutes before
  now, per minute; cost per hour: their cost scaled to an hour. A session with no usage in the window
  has no burn rate (None), not zero: it is not burning.
- minutes to compaction: for a running session, the context growth per minute over the window (from
  the main-chain context after each reply since the last compaction) projected to the auto-compact
  point; None when the context is not growing or there are fewer than two points.
"""

from __future__ import annotations

from datetime import datetime

from llm_session_manager.models import ModelTokens, Session
from llm_session_manager.pricing import ModelTable

BURN_WINDOW_MINUTES = 30


def recent_usage(session: Session, now: datetime, window: float = BURN_WINDOW_MINUTES) -> list[ModelTokens]:
    start = now.timestamp() / 60 - window
    buckets = session.usage_buckets
    if not buckets or max(b[0] for b in buckets) < start:  # nothing recent
        return []
    per: dict[str, list[int]] = {}
    for minute, model, inp, out, cc, cr in session.usage_buckets:
        if minute >= start:
            row = per.setdefault(model, [0, 0, 0, 0])
            row[0] += inp
            row[1] += out
            row[2] += cc
            row[3] += cr
    return [ModelTokens(m, *r) for m, r in per.items()]


def burn_rates(
    session: Session, table: ModelTable, now: datetime, window: float = BURN_WINDOW_MINUTES
) -> tuple[float | None, float | None]:
    """(tokens per minute, USD per hour) over the last ``window`` minutes."""
    usage = recent_usage(session, now, window)
    tokens = sum(u.input + u.output + u.cache_creation + u.cache_read for u in usage)
    if not tokens:
        return None, None
    cost, unknown = table.cost(usage)
    per_hour = None if cost is None or unknown else round(cost * 60 / window, 4)
    return round(tokens / window, 1), per_hour


def minutes_to_compact(
    session: Session, compact_at: int | None, now: datetime, window: float = BURN_WINDOW_MINUTES
) -> float | None:
    if session.process is None or not compact_at or session.context_tokens is None:
        return None
    start = now.timestamp() - window * 60
    points = [(t, c) for t, c in session.context_series if t >= start]
    if len(points) < 2:
        return None
    (t0, c0), (t1, c1) = points[0], points[-1]
    if t1 <= t0 or c1 <= c0:
        return None
    per_minute = (c1 - c0) / ((t1 - t0) / 60)
    left = compact_at - session.context_tokens
    return 0.0 if left <= 0 else round(left / per_minute, 1)
