"""Prometheus metrics (`lsm serve`'s /metrics): ``exposition(ctx)`` renders them in the text format.

Labels are few and never free text from a session: ``agent``, ``model``, ``project`` (the project *name*),
``user`` and ``machine`` (team.user / team.machine, else the login and host name). Never a session id,
title or path. Each call builds a fresh registry from the sessions as they are now, so counters are the
totals over every session lsm knows (they only grow while sessions do) and gauges describe the running
sessions:

- ``lsm_{input,output,cache_creation,cache_read}_tokens_total``, ``lsm_cost_usd_total``: per model
  (a model lsm cannot price adds no cost; a session the agent priced itself adds its cost to its model);
- ``lsm_sessions``, ``lsm_sessions_running``: sessions, by their main model;
- ``lsm_context_percent_max``, ``lsm_health_score_min``: the fullest context and the worst health
  among running sessions;
- ``lsm_limit_5h_used_percent``, ``lsm_limit_7d_used_percent``: the official limits the agents reported
  (stale figures are left out).

A counter falls when lsm forgets sessions (`lsm prune`); Prometheus reads that as a counter reset.
With ``team=True`` the figures come from the team store (every machine's last push) instead of this
machine's logs.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from llm_session_manager.config import Config
    from llm_session_manager.limits import Limit
    from llm_session_manager.paths import Paths

LABELS = ("agent", "model", "project", "user", "machine")
TOKEN_KINDS = ("input", "output", "cache_creation", "cache_read")
LIMIT_WINDOWS = ("5h", "7d")


class MetricsContext(Protocol):
    """What exposition needs of an api.Context."""

    paths: Paths
    config: Config
    lock: Any

    def now(self) -> datetime: ...


@dataclass
class Facts:
    """One session's share of the metrics."""

    agent: str
    project: str | None
    user: str
    machine: str
    model: str | None
    running: bool
    context_pct: float | None
    health: float | None
    models: Sequence[dict[str, Any]] = field(default_factory=list)

    def labels(self, model: str | None) -> tuple[str, ...]:
        return (self.agent, model or "", self.project or "", self.user, self.machine)


def exposition(ctx: MetricsContext, *, team: bool = False) -> tuple[bytes, str]:
    """The metrics in Prometheus' text format, and its content type."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    facts, limits = _team_facts(ctx) if team else _local_facts(ctx)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Collector(facts, limits))
    return generate_latest(registry), CONTENT_TYPE_LATEST


def _local_facts(ctx: MetricsContext) -> tuple[list[Facts], list[tuple[str, str, Limit]]]:
    from llm_session_manager.limits import current_limits, observe
    from llm_session_manager.pricing import ModelTable
    from llm_session_manager.service import collect, project_name
    from llm_session_manager.team.push import identity_of, model_rows

    who = identity_of(ctx.config["team"])
    now = ctx.now()
    with ctx.lock:
        views = collect(ctx.paths, ctx.config, now=now).views
        observations = observe(ctx.paths, ctx.config)
    table = ModelTable(ctx.config.get("models"))
    facts = [
        Facts(
            agent=v.session.agent,
            project=project_name(v),
            user=who.user,
            machine=who.machine,
            model=v.session.model,
            running=v.session.process is not None and v.status != "closed",
            context_pct=v.context_pct,
            health=v.health.score,
            models=model_rows(v, table),
        )
        for v in views
        if v.session.origin != "imported"
    ]
    limits = [(who.user, who.machine, limit) for limit in current_limits(observations, now)]
    return facts, limits


def _team_facts(ctx: MetricsContext) -> tuple[list[Facts], list[tuple[str, str, Limit]]]:
    from llm_session_manager.limits import current_limits
    from llm_session_manager.team import db, read, schema
    from llm_session_manager.team.push import LIMITS_LOOKBACK

    url = db.url_of(dict(ctx.config["team"]))
    now = ctx.now()
    conn = db.connect(url)
    try:
        schema.require(conn)
        rows = read.metric_rows(conn)
        observed = read.limit_observations(conn, now - LIMITS_LOOKBACK)
    except Exception as exc:
        import psycopg

        if isinstance(exc, psycopg.Error):
            raise db.failure(exc, url) from None
        raise
    finally:
        conn.close()
    facts = [
        Facts(agent, project, user, machine, model, bool(running), pct, health, models)
        for agent, project, user, machine, model, running, pct, health, models in rows
    ]
    by_user: dict[tuple[str, str], list[Any]] = {}
    for user, machine, obs in observed:
        by_user.setdefault((user, machine), []).append(obs)
    limits = [(u, m, limit) for (u, m), obs in sorted(by_user.items()) for limit in current_limits(obs, now)]
    return facts, limits


class _Collector:
    """Turns the facts into metric families at each collect (the registry is built once per scrape)."""

    def __init__(self, facts: Sequence[Facts], limits: Sequence[tuple[str, str, Limit]]) -> None:
        self.facts = facts
        self.limits = limits

    def collect(self) -> Iterator[Any]:
        yield from _usage_families(self.facts)
        yield from _session_families(self.facts)
        yield from _limit_families(self.limits)


def _usage_families(facts: Iterable[Facts]) -> Iterator[Any]:
    from prometheus_client.core import CounterMetricFamily

    tokens: dict[str, dict[tuple[str, ...], float]] = {kind: {} for kind in TOKEN_KINDS}
    cost: dict[tuple[str, ...], float] = {}
    for f in facts:
        for row in f.models:
            key = f.labels(row.get("model"))
            for kind in TOKEN_KINDS:
                tokens[kind][key] = tokens[kind].get(key, 0) + int(row.get(kind) or 0)
            if row.get("cost_usd") is not None:
                cost[key] = cost.get(key, 0.0) + float(row["cost_usd"])
    for kind in TOKEN_KINDS:
        family = CounterMetricFamily(
            f"lsm_{kind}_tokens",
            f"{kind.replace('_', ' ').capitalize()} tokens, every session",
            labels=LABELS,
        )
        for key, value in sorted(tokens[kind].items()):
            family.add_metric(key, value)
        yield family
    money = CounterMetricFamily(
        "lsm_cost_usd", "USD at lsm's prices (or the agent's own), every session", labels=LABELS
    )
    for key, value in sorted(cost.items()):
        money.add_metric(key, round(value, 6))
    yield money


def _session_families(facts: Iterable[Facts]) -> Iterator[Any]:
    from prometheus_client.core import GaugeMetricFamily

    count: dict[tuple[str, ...], int] = {}
    running: dict[tuple[str, ...], int] = {}
    fullest: dict[tuple[str, ...], float] = {}
    worst: dict[tuple[str, ...], float] = {}
    for f in facts:
        key = f.labels(f.model)
        count[key] = count.get(key, 0) + 1
        if not f.running:
            continue
        running[key] = running.get(key, 0) + 1
        if f.context_pct is not None:
            fullest[key] = max(fullest.get(key, 0.0), f.context_pct)
        if f.health is not None:
            worst[key] = min(worst.get(key, 100.0), f.health)
    specs = (
        ("lsm_sessions", "Sessions lsm knows, by their main model", count),
        ("lsm_sessions_running", "Sessions whose agent process is running", running),
        ("lsm_context_percent_max", "Fullest context window among running sessions (percent)", fullest),
        ("lsm_health_score_min", "Worst health score among running sessions (0-100)", worst),
    )
    for name, doc, values in specs:
        family = GaugeMetricFamily(name, doc, labels=LABELS)
        for key, value in sorted(values.items()):
            family.add_metric(key, value)
        yield family


def _limit_families(limits: Iterable[tuple[str, str, Limit]]) -> Iterator[Any]:
    from prometheus_client.core import GaugeMetricFamily

    families = {
        window: GaugeMetricFamily(
            f"lsm_limit_{window}_used_percent",
            f"Share of the official {window} limit used, as the agent reported it",
            labels=("agent", "user", "machine"),
        )
        for window in LIMIT_WINDOWS
    }
    for user, machine, limit in limits:
        o = limit.observation
        if not limit.stale and o.window in families:
            families[o.window].add_metric((o.agent, user, machine), o.used_percent)
    yield from families.values()
