"""Usage reports over the team store: reports.py's rules (periods, blocks, pricing) over the per-hour
buckets every machine pushed, split also by user and machine.

Each team session becomes a ``Session`` with its usage history (one bucket per hour and model, at the
hour's first minute) and reports.build runs once per (user, machine) group that ``--by`` asks for; the
rows are then merged. Claude's 5-hour blocks belong to one account, so they are always drawn per user.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from llm_session_manager.models import ModelTokens, Session, TokenUsage
from llm_session_manager.service import UsageSource
from llm_session_manager.timefmt import parse_ts

if TYPE_CHECKING:
    import psycopg

    from llm_session_manager.config import Config
    from llm_session_manager.reports import Options, Request, Row
    from llm_session_manager.team.read import UsageRow

TEAM_DIMENSIONS = ("user", "machine")


def split_by(values: Sequence[str]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """--by values: (user/machine, the dimensions reports.py knows), each checked."""
    from llm_session_manager.reports import check_by

    team: list[str] = []
    rest: list[str] = []
    for raw in values:
        for part in raw.split(","):
            name = part.strip().lower()
            if name in TEAM_DIMENSIONS:
                if name not in team:
                    team.append(name)
            elif name:
                rest.append(name)
    try:
        others = check_by(rest)
    except Exception as exc:
        from llm_session_manager.errors import UsageError

        raise UsageError(str(exc).replace("(one of ", "(one of user, machine, ")) from None
    return tuple(team), others


def session_of(row: UsageRow) -> Session:
    """The team session as reports read one: its numbers from the pushed document, its usage by hour."""
    doc = row.doc
    t = doc.get("tokens") or {}
    messages = doc.get("messages") or {}
    usage = _model_usage(row.buckets)
    return Session(
        id=row.session_id,
        agent=row.agent,
        native_id=row.native_id,
        title=doc.get("title"),
        project_path=None,
        git_branch=doc.get("git_branch"),
        model=doc.get("model"),
        models=tuple(doc.get("models") or ()),
        started_at=parse_ts(doc.get("started_at")),
        last_activity=parse_ts(doc.get("last_activity")),
        tokens=TokenUsage(
            int(t.get("input") or 0),
            int(t.get("output") or 0),
            int(t.get("cache_creation") or 0),
            int(t.get("cache_read") or 0),
            str(t.get("source") or "exact"),
        ),
        context_tokens=doc.get("context_tokens"),
        context_window=doc.get("context_window"),
        context_window_source=str(doc.get("context_window_source") or ""),
        messages_user=int(messages.get("user") or 0),
        messages_assistant=int(messages.get("assistant") or 0),
        tool_calls=int(doc.get("tool_calls") or 0),
        tool_errors=int(doc.get("tool_errors") or 0),
        api_errors=int(doc.get("api_errors") or 0),
        interruptions=int(doc.get("interruptions") or 0),
        compactions=int(doc.get("compactions") or 0),
        skipped_lines=int(doc.get("skipped_lines") or 0),
        transcript_paths=(),
        model_usage=usage,
        usage_history=tuple(row.buckets),
        origin="team",
    )


def _model_usage(buckets: Sequence[tuple[int, str, int, int, int, int, int]]) -> tuple[ModelTokens, ...]:
    sums: dict[str, list[int]] = {}
    for _minute, model, *tokens in buckets:
        row = sums.setdefault(model, [0, 0, 0, 0, 0])
        for i, n in enumerate(tokens):
            row[i] += n
    return tuple(ModelTokens(m, *t) for m, t in sums.items())


def options_of(request: Request, by: tuple[str, ...], now: datetime) -> Options:
    from llm_session_manager.reports import Options, moment, weekday_of, zone_of

    zone, zone_name = zone_of(request.timezone)
    return Options(
        kind=request.kind,
        zone=zone,
        zone_name=zone_name,
        start_of_week=weekday_of(request.start_of_week),
        since=moment("--since", request.since, now, zone),
        until=moment("--until", request.until, now, zone),
        by=by,
        last=None,
    )


def _project_ok(row: UsageRow, project: str | None) -> bool:
    if not project:
        return True
    wanted = project.strip().lower()
    name = (row.project or "").lower()
    return wanted == name or (len(wanted) > 1 and wanted in name)


def build_report(conn: psycopg.Connection, cfg: Config, request: Request, now: datetime) -> dict[str, Any]:
    """The report's JSON document (reports.to_json's shape; rows carry user/machine when split so)."""
    from llm_session_manager import reports
    from llm_session_manager.pricing import ModelTable
    from llm_session_manager.team import read

    agent = reports.check_agent(request.agent)
    team_by, by = split_by(request.by)
    if request.kind == "blocks" and "user" not in team_by:
        team_by = ("user", *team_by)
    options = options_of(request, by, now)
    groups: dict[tuple[str, ...], list[UsageSource]] = {}
    for row in read.usage(conn, agent, options.since, options.until):
        if _project_ok(row, request.project):
            labels = {"user": row.user, "machine": row.machine}
            key = tuple(labels[d] for d in team_by)
            groups.setdefault(key, []).append(UsageSource(session_of(row), row.project))
    table = ModelTable(cfg.get("models"))
    rows: list[Row] = []
    for key, sources in groups.items():
        for r in reports.build(sources, options, table).rows:
            r.dims = {**dict(zip(team_by, key)), **r.dims}
            rows.append(r)
    rows.sort(key=lambda r: (r.period, *((v or "") for v in r.dims.values())))
    if request.last is not None:
        keep = set(sorted({r.period for r in rows})[-request.last :]) if request.last > 0 else set()
        rows = [r for r in rows if r.period in keep]
    return reports.to_json(reports.Report(options, rows, table))
