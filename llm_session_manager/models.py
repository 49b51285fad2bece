"""Plain data types shared by readers, services and front ends.

JSON output is built from these objects; field names are the JSON keys.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from datetime import datetime
from operator import attrgetter


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Token counts of a session. ``source``: "exact" (the agent's own usage records), "counted"
    (tiktoken over the text we could see) or "rounded" (the agent logged rounded figures, e.g. Aider)."""

    input: int = 0
    output: int = 0
    cache_creation: int = 0
    cache_read: int = 0
    source: str = "exact"

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_creation + self.cache_read


@dataclass(frozen=True, slots=True)
class ModelTokens:
    """One model's share of a session's tokens. The ``long_*`` fields are the part of each total that
    was spent in requests above the long-context tier (over 200k input tokens), priced higher."""

    model: str
    input: int = 0
    output: int = 0
    cache_creation: int = 0
    cache_read: int = 0
    cache_write_1h: int = 0
    long_input: int = 0
    long_output: int = 0
    long_cache_creation: int = 0
    long_cache_read: int = 0
    long_cache_write_1h: int = 0


@dataclass(frozen=True)
class RateLimit:
    """An official usage-limit figure an agent wrote in its logs (e.g. Codex's 5-hour and weekly)."""

    name: str  # "5h", "weekly", or the agent's own name for the window
    used_percent: float
    window_minutes: int | None = None
    resets_at: datetime | None = None
    observed_at: datetime | None = None  # when the agent logged the figure


@dataclass(frozen=True)
class Process:
    """One running agent process, as discovery saw it."""

    pid: int
    agent: str
    cwd: str | None
    started_at: datetime | None
    cpu_pct: float | None
    rss_bytes: int | None
    cmdline: tuple[str, ...] = ()
    # The agent's own busy/idle/waiting state and when it last changed, when it tells us.
    state: str | None = None
    state_updated_at: datetime | None = None
    # A session id the process names itself: its live status file, or --resume/--session-id.
    session_hint: str | None = None
    hint_source: str | None = None
    # The name the user gave the session, when the agent says so while it runs (Claude Code's status file).
    name: str | None = None


@dataclass(frozen=True)
class ModelCost:
    """What one model's tokens cost in a session (USD); ``None`` when the model is unknown."""

    model: str
    tokens: TokenUsage
    cost_usd: float | None


# Slots: a listing holds every session at once, and past 30 fields an instance dict is not key-shared.
@dataclass(frozen=True, slots=True)
class Session:
    """One agent session, merged from all of its transcript files."""

    id: str
    agent: str
    native_id: str
    title: str | None
    project_path: str | None
    git_branch: str | None
    model: str | None
    models: tuple[str, ...]
    started_at: datetime | None
    last_activity: datetime | None
    tokens: TokenUsage
    context_tokens: int | None
    context_window: int | None
    context_window_source: str
    messages_user: int
    messages_assistant: int
    tool_calls: int
    tool_errors: int
    api_errors: int
    interruptions: int
    compactions: int
    skipped_lines: int
    transcript_paths: tuple[str, ...]
    fatal_signals: tuple[str, ...] = ()
    # Tool results of the recent past, newest last: True = error. Used by the health score.
    recent_tool_results: tuple[bool, ...] = ()
    repeated_failures: int = 0
    # API errors and user interruptions in the 30 minutes before the last activity.
    recent_api_errors: int = 0
    recent_interruptions: int = 0
    turns_since_compaction: int = 0
    last_compaction_at: datetime | None = None
    model_usage: tuple[ModelTokens, ...] = ()
    # The largest context the main chain ever reached (usage above 200k proves a 1M window).
    peak_context_tokens: int | None = None
    rate_limits: tuple[RateLimit, ...] = ()
    # Tokens per (minute since the epoch, model): input, output, cache_creation, cache_read — the hour
    # before the last activity, for burn rates. And (epoch seconds, context tokens) since the last
    # compaction, for the time-to-compaction projection.
    usage_buckets: tuple[tuple[int, str, int, int, int, int], ...] = ()
    context_series: tuple[tuple[int, int], ...] = ()
    # Tokens per (minute since the epoch, model) over the whole session, for usage reports: input,
    # output, cache_creation, cache_read, cache_write_1h. Empty when the agent's log does not time its
    # replies (reports then count the session at its last activity).
    usage_history: tuple[tuple[int, str, int, int, int, int, int], ...] = ()
    # "live": read from the agent's files on this machine; "imported": from an export document.
    origin: str = "live"
    # The cost an imported session's document recorded (prices may have changed since).
    recorded_cost_usd: float | None = None
    # The cost the agent itself logged for the whole session (Claude Code's ``costUSD``, Aider's
    # "Cost: $x session"), used only when lsm cannot price every model the session used.
    agent_cost_usd: float | None = None
    process: Process | None = None


_SESSION_FIELDS = tuple(f.name for f in fields(Session))
_session_values = attrgetter(*_SESSION_FIELDS)
_WINDOW_AT = _SESSION_FIELDS.index("context_window")
_WINDOW_SOURCE_AT = _SESSION_FIELDS.index("context_window_source")


def with_context_window(session: Session, window: int, source: str) -> Session:
    """``dataclasses.replace(session, context_window=window, context_window_source=source)`` in half
    its time (every session listed takes one): the values are read in one call, passed in order."""
    values = list(_session_values(session))
    values[_WINDOW_AT] = window
    values[_WINDOW_SOURCE_AT] = source
    return Session(*values)


@dataclass(frozen=True)
class HealthFactor:
    name: str
    raw: Mapping[str, object]
    score: float
    weight: float
    reason: str


@dataclass(frozen=True, slots=True)  # one per session in a listing
class Health:
    score: float
    status: str  # healthy | warning | critical
    caps: tuple[str, ...] = ()
    estimated: bool = False
    # Makes each factor with its raw values and reason, the first time ``factors`` is asked for: a listing
    # shows the score alone (health.score_session).
    explain: Callable[[], tuple[HealthFactor, ...]] = field(default=tuple, compare=False, repr=False)
    _made: tuple[HealthFactor, ...] | None = field(default=None, init=False, compare=False, repr=False)

    @property
    def factors(self) -> tuple[HealthFactor, ...]:
        made = self._made
        if made is None:
            made = self.explain()
            object.__setattr__(self, "_made", made)  # a cache: the frozen value is unchanged
        return made


@dataclass(slots=True)  # a listing holds one per session
class SessionView:
    """A session with everything derived from it: status, cost, health and our own metadata."""

    session: Session
    status: str
    cost_usd: float | None
    health: Health
    context_pct: float | None
    compact_at: int | None
    tags: list[str] = field(default_factory=list)
    project: str | None = None
    description: str | None = None
    warnings: list[str] = field(default_factory=list)
    # Speed over the recent window (None when the session has not been active in it).
    burn_rate_tokens_per_min: float | None = None
    cost_per_hour_usd: float | None = None
    # For a running session whose context grows: minutes until the auto-compact point at this rate.
    minutes_to_compact: float | None = None
    # Where cost_usd comes from: "table" (lsm's prices), "agent" (the agent's own logged cost),
    # "recorded" (an imported document's figure), or None when there is no cost.
    cost_source: str | None = None
    # What the session is doing now (hookstate.STATES), why (the tool awaiting approval, the agent's
    # question), since when, and who says so: "hooks", "status-file" or "activity" (lsm's guess).
    state: str | None = None
    state_detail: str | None = None
    state_since: datetime | None = None
    state_source: str | None = None
