"""Official plan limits and the budget they leave: pure functions over observations.

An observation is one figure an agent reported itself: Claude Code hands ``rate_limits.five_hour`` and
``.seven_day`` (from Anthropic's ``anthropic-ratelimit-unified-*`` headers, subscription sign-ins only) to
its statusline command, which records them; Codex writes ``rate_limits`` into its rollouts. Nothing here
is estimated from token counts: a percentage is the agent's, and a projection says what it was made from.

- stale: the window has reset since the figure was observed (``resets_at`` passed), or, with no reset
  time, the figure is older than the window itself; its percentage no longer describes the window.
- burn: percentage points per hour. "recent": the rise between the first and the last observation of
  the same window within the burn window (burn.BURN_WINDOW_MINUTES); "window_average": the used share
  spread over the time since the window began (its reset time minus its length). None when neither is
  known or nothing is being used.
- projected_full_at: when the window reaches 100% at that burn, if that comes before it resets.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llm_session_manager.burn import BURN_WINDOW_MINUTES
from llm_session_manager.models import Session
from llm_session_manager.paths import Paths
from llm_session_manager.timefmt import iso

if TYPE_CHECKING:
    from llm_session_manager.config import Config

WINDOW_MINUTES = {"5h": 300, "7d": 10_080}
# Codex names its 10080-minute window "weekly" (agents/codex.py); the same window is "7d" here.
WINDOW_ALIASES = {"weekly": "7d", "five_hour": "5h", "seven_day": "7d"}
# The agents that report official limits, in the order they are shown.
LIMIT_AGENTS = ("claude-code", "codex")
DEFAULT_NEAR_PERCENT = 80.0

EXIT_NEAR = 10
EXIT_REACHED = 11


def window_name(name: str, minutes: int | None = None) -> str:
    """``5h``/``7d`` for the windows every agent shares; the agent's own name otherwise."""
    if minutes is not None:
        for known, length in WINDOW_MINUTES.items():
            if minutes == length:
                return known
    return WINDOW_ALIASES.get(name, name)


@dataclass(frozen=True)
class Observation:
    """One official figure, as the agent reported it."""

    agent: str
    window: str
    used_percent: float
    resets_at: datetime | None
    observed_at: datetime
    source: str  # "statusline" (Claude Code's statusline input) or "codex-log" (a Codex rollout)
    session_id: str | None = None
    window_minutes: int | None = None

    @property
    def length(self) -> timedelta | None:
        minutes = self.window_minutes or WINDOW_MINUTES.get(self.window)
        return timedelta(minutes=minutes) if minutes else None


@dataclass(frozen=True)
class Limit:
    """The latest observation of one agent's window, with what follows from it now."""

    observation: Observation
    stale: bool
    burn_percent_per_hour: float | None
    projection_basis: str | None  # "recent" | "window_average" | None
    projected_full_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        o = self.observation
        length = o.length
        return {
            "agent": o.agent,
            "window": o.window,
            "window_minutes": int(length.total_seconds() // 60) if length else None,
            "used_percent": o.used_percent,
            "resets_at": iso(o.resets_at),
            "observed_at": iso(o.observed_at),
            "source": o.source,
            "session_id": o.session_id,
            "stale": self.stale,
            "burn_percent_per_hour": self.burn_percent_per_hour,
            "projection_basis": self.projection_basis,
            "projected_full_at": iso(self.projected_full_at),
        }


def is_stale(obs: Observation, now: datetime) -> bool:
    if obs.resets_at is not None:
        return obs.resets_at <= now
    length = obs.length
    return length is not None and obs.observed_at + length <= now


def _recent_burn(history: Sequence[Observation], last: Observation) -> float | None:
    """Points per hour between the first and the last observation of this window (same reset time)
    within the burn window; None with fewer than two such points a minute apart."""
    start = last.observed_at - timedelta(minutes=BURN_WINDOW_MINUTES)
    same = [
        o for o in history if o.resets_at == last.resets_at and start <= o.observed_at <= last.observed_at
    ]
    if len(same) < 2:
        return None
    first = min(same, key=lambda o: o.observed_at)
    hours = (last.observed_at - first.observed_at).total_seconds() / 3600
    if hours < 1 / 60:
        return None
    return max(0.0, (last.used_percent - first.used_percent) / hours)


def _average_burn(last: Observation) -> float | None:
    length = last.length
    if last.resets_at is None or length is None or last.used_percent <= 0:
        return None
    hours = (last.observed_at - (last.resets_at - length)).total_seconds() / 3600
    return last.used_percent / hours if hours > 0 else None


def burn(history: Sequence[Observation], last: Observation) -> tuple[float | None, str | None]:
    recent = _recent_burn(history, last)
    if recent is not None:
        return round(recent, 2), "recent"
    average = _average_burn(last)
    return (round(average, 2), "window_average") if average is not None else (None, None)


def projected_full(last: Observation, per_hour: float | None) -> datetime | None:
    """When the window reaches 100% at ``per_hour`` (now, if it has), or None if it resets first."""
    if last.used_percent >= 100:
        return last.observed_at
    if not per_hour:
        return None
    full = last.observed_at + timedelta(hours=(100 - last.used_percent) / per_hour)
    return None if last.resets_at is not None and full >= last.resets_at else full


def current_limits(observations: Iterable[Observation], now: datetime) -> list[Limit]:
    """The latest figure of each (agent, window), with staleness and projection, agents in LIMIT_AGENTS
    order and the shorter window first."""
    groups: dict[tuple[str, str], list[Observation]] = {}
    for obs in observations:
        groups.setdefault((obs.agent, obs.window), []).append(obs)
    out: list[Limit] = []
    for history in groups.values():
        last = max(history, key=lambda o: o.observed_at)
        if is_stale(last, now):
            out.append(Limit(last, True, None, None, None))
            continue
        per_hour, basis = burn(history, last)
        out.append(Limit(last, False, per_hour, basis, projected_full(last, per_hour)))
    return sorted(out, key=_order)


def _order(limit: Limit) -> tuple[int, str, float, str]:
    o = limit.observation
    rank = LIMIT_AGENTS.index(o.agent) if o.agent in LIMIT_AGENTS else len(LIMIT_AGENTS)
    length = o.length
    return rank, o.agent, length.total_seconds() if length else float("inf"), o.window


# ---------------------------------------------------------------------------------------------------
# Budget: "can I start a big task now?"


@dataclass(frozen=True)
class Budget:
    agent: str
    status: str  # "ok" | "near" | "reached" | "unknown"
    limits: tuple[Limit, ...]
    binding: Limit | None  # the fresh window with the least left
    runs_out_at: datetime | None
    suggestion: str

    @property
    def left_percent(self) -> float | None:
        if self.binding is None:
            return None
        return round(max(0.0, 100 - self.binding.observation.used_percent), 2)

    def as_json(self, now: datetime) -> dict[str, Any]:
        o = self.binding.observation if self.binding else None
        resets = o.resets_at if o else None
        return {
            "agent": self.agent,
            "status": self.status,
            "left_percent": self.left_percent,
            "window": o.window if o else None,
            "resets_at": iso(resets),
            "resets_in_seconds": max(0, int((resets - now).total_seconds())) if resets else None,
            "runs_out_at": iso(self.runs_out_at),
            "suggestion": self.suggestion,
            "limits": [limit.as_json() for limit in self.limits],
        }


STATUS_EXIT = {"ok": 0, "unknown": 0, "near": EXIT_NEAR, "reached": EXIT_REACHED}


def countdown(delta: timedelta) -> str:
    """``2h 05m``, ``3d 4h``, ``12m``: a reset countdown."""
    minutes = max(0, int(delta.total_seconds() // 60))
    days, rest = divmod(minutes, 1440)
    hours, mins = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h"
    return f"{hours}h {mins:02d}m" if hours else f"{mins}m"


def _status(fresh: Sequence[Limit], near_percent: float) -> str:
    if not fresh:
        return "unknown"
    worst = max(limit.observation.used_percent for limit in fresh)
    if worst >= 100:
        return "reached"
    return "near" if worst >= near_percent else "ok"


def _suggestion(
    agent: str, status: str, binding: Limit | None, runs_out: datetime | None, now: datetime
) -> str:
    if binding is None:
        if agent == "claude-code":
            return (
                "no current limit figures: Claude Code reports them to `lsm statusline` (a Claude.ai sign-in)"
            )
        return f"no current limit figures in {agent}'s logs (none logged, or all from before their reset)"
    o = binding.observation
    resets = f" (resets in {countdown(o.resets_at - now)})" if o.resets_at else ""
    left = max(0.0, 100 - o.used_percent)
    if status == "reached":
        return f"the {o.window} limit is reached{resets}: wait for the reset or use another agent"
    if status == "near":
        return f"only {left:g}% of the {o.window} limit left{resets}: keep tasks small or wait for the reset"
    if runs_out is not None:
        return (
            f"{left:g}% of the {o.window} limit left, but at the current pace it runs out in "
            f"{countdown(runs_out - now)}{resets}: pace big tasks"
        )
    return f"room for a big task: {left:g}% of the {o.window} limit left{resets}"


def budget_for(agent: str, limits: Sequence[Limit], near_percent: float, now: datetime) -> Budget:
    own = tuple(limit for limit in limits if limit.observation.agent == agent)
    fresh = [limit for limit in own if not limit.stale]
    status = _status(fresh, near_percent)
    binding = max(fresh, key=lambda limit: limit.observation.used_percent) if fresh else None
    ends = [limit.projected_full_at for limit in fresh if limit.projected_full_at is not None]
    runs_out = min(ends) if ends else None
    return Budget(agent, status, own, binding, runs_out, _suggestion(agent, status, binding, runs_out, now))


def budgets(
    limits: Sequence[Limit], near_percent: float, now: datetime, agents: Sequence[str] | None = None
) -> list[Budget]:
    """One budget per agent that reports limits (those of LIMIT_AGENTS and any other seen)."""
    names = list(LIMIT_AGENTS)
    names += sorted({limit.observation.agent for limit in limits} - set(names))
    if agents is not None:
        names = [name for name in names if name in agents]
    return [budget_for(name, limits, near_percent, now) for name in names]


def exit_code(items: Iterable[Budget]) -> int:
    """11 when any limit is reached, 10 when any is near, else 0."""
    return max((STATUS_EXIT[b.status] for b in items), default=0)


def budget_document(items: Sequence[Budget], near_percent: float, now: datetime) -> dict[str, Any]:
    """What `lsm budget --format json` prints and the MCP tool ``get_budget`` returns."""
    worst = next((s for s in ("reached", "near", "ok") if any(b.status == s for b in items)), "unknown")
    return {
        "status": worst,
        "exit_code": exit_code(items),
        "near_percent": near_percent,
        "agents": [b.as_json(now) for b in items],
    }


# ---------------------------------------------------------------------------------------------------
# Gathering: the one function here that reads (the store and Codex's logs); front ends call it.


def codex_observations(sessions: Iterable[Session]) -> list[Observation]:
    """The rate limits each Codex session logged last (models.RateLimit), as observations."""
    out: list[Observation] = []
    for s in sessions:
        for r in s.rate_limits:
            observed = r.observed_at or s.last_activity
            if observed is None:
                continue
            window = window_name(r.name, r.window_minutes)
            out.append(
                Observation(
                    s.agent,
                    window,
                    r.used_percent,
                    r.resets_at,
                    observed,
                    "codex-log",
                    s.id,
                    r.window_minutes,
                )
            )
    return out


def recorded(conn: sqlite3.Connection, data_dir: Path) -> list[Observation]:
    """The statusline's observations, its spool moved into the store first."""
    from llm_session_manager.store import observations

    if data_dir.is_dir():
        observations.compact(conn, data_dir)
    return observations.observations(conn)


def observe(paths: Paths, cfg: Config, agents: Sequence[str] | None = None) -> list[Observation]:
    """Every observation lsm has: the statusline's (spool moved into the store first) and Codex's."""
    from llm_session_manager.service import collect, open_db

    out: list[Observation] = []
    conn = open_db(paths)
    try:
        out.extend(recorded(conn, paths.data_dir))
        if agents is None or "codex" in agents:
            from llm_session_manager.agents.codex import CodexReader

            result = collect(paths, cfg, conn=conn, processes=False, readers=[CodexReader.from_paths(paths)])
            out.extend(codex_observations(v.session for v in result.views))
    finally:
        conn.close()
    return [o for o in out if agents is None or o.agent in agents]
