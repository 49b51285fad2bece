"""`lsm team init|push|status` and the `--team` side of `lsm list`, `lsm report …` and `lsm limits`
(the rules: ../team/, docs/TEAM.md)."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

import typer

from llm_session_manager.api.context import Context
from llm_session_manager.cli.common import FORMAT_HELP, check_format, emit, load_env, warn
from llm_session_manager.errors import StoreError, UsageError

if TYPE_CHECKING:
    from llm_session_manager.api.sessions import ListQuery
    from llm_session_manager.reports import Request

URL_ENV = "LSM_TEAM_DATABASE_URL"

team_app = typer.Typer(
    help="Team mode: push this machine's numbers to the team's PostgreSQL, see who pushed.",
    no_args_is_help=True,
)


def team_context() -> Context:
    """The command's context with the team store's URL from LSM_TEAM_DATABASE_URL when it is set (read
    here, at the edge; the config file's team.database_url otherwise)."""
    ctx = load_env()
    url = os.environ.get(URL_ENV, "").strip()
    if url:
        ctx.config["team"]["database_url"] = url
    return ctx


@team_app.command("init")
def init_cmd(
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """Create the team store's tables in the configured PostgreSQL, or bring them up to date."""
    from llm_session_manager.api.team import init

    fmt = check_format(fmt)
    doc = init(team_context())
    if fmt != "table":
        emit(fmt, doc)
        return
    done = f"migrated from version {doc['was']}" if doc["migrated"] else "already up to date"
    typer.echo(f"team store: schema version {doc['schema_version']} ({done})")


@team_app.command("push")
def push_cmd(
    watch: bool = typer.Option(False, "--watch", help="Push again every --interval seconds until stopped."),
    interval: float | None = typer.Option(
        None,
        "--interval",
        min=5,
        max=86_400,
        help="Seconds between pushes (default team.push_interval_seconds).",
    ),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """Send this machine's sessions, per-hour usage and official limits to the team store (numbers only
    unless team.share_titles). Safe to repeat: nothing is counted twice."""
    fmt = check_format(fmt)
    ctx = team_context()
    pause = float(interval or ctx.config["team"]["push_interval_seconds"])
    if not watch:
        _push_once(ctx, fmt)
        return
    while True:
        try:
            _push_once(ctx, fmt)
        except StoreError as exc:  # the database away for a while: say so, try again next time
            warn(f"push failed, trying again in {pause:g} s: {exc}")
        time.sleep(pause)


def _push_once(ctx: Context, fmt: str) -> None:
    from llm_session_manager.api.team import push

    result = push(ctx)
    for err in result.errors:
        warn(f"skipped {err}")
    if fmt != "table":
        emit(fmt, result.document())
        return
    typer.echo(
        f"pushed {result.sent} changed of {result.sessions} session(s) as {result.user}@{result.machine}"
        f" ({result.written} written, {result.limits} limit figure(s))"
    )


@team_app.command("status")
def status_cmd(
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """The team store: schema version, sessions and people, every machine's last push."""
    from llm_session_manager.api.team import team_status

    fmt = check_format(fmt)
    doc = team_status(team_context())
    if fmt != "table":
        emit(fmt, doc)
        return
    from llm_session_manager.cli.render import SafeTable, console

    out = console()
    state = "current" if doc["schema_current"] else "needs `lsm team init`"
    out.print(
        f"schema version {doc['schema_version']} ({state});"
        f" {doc['sessions']} session(s) of {doc['users']} user(s)"
    )
    out.print(
        f"this machine pushes as {doc['user']}@{doc['machine']} (titles shared: {doc['share_titles']})",
        markup=False,
    )
    table = SafeTable("User", "Machine", "Last push", "Sessions", "lsm", box=None, header_style="bold")
    for m in doc["machines"]:
        table.add_row(
            m["user"], m["machine"], m["last_push_at"] or "-", str(m["sessions_held"]), m["lsm_version"]
        )
    out.print(table)


# ---------------------------------------------------------------------------------------------------
# --team on list, report and limits


def list_team(
    query: ListQuery, fmt: str, *, team: bool = True, user: str | None = None, machine: str | None = None
) -> None:
    """`lsm list --team [--user NAME] [--machine NAME]`."""
    from llm_session_manager.api.team import TeamQuery, team_sessions

    if not team:
        raise UsageError("--user and --machine choose among the team's sessions: add --team")
    ctx = team_context()
    docs = team_sessions(
        ctx,
        TeamQuery(
            statuses=query.statuses,
            agent=query.agent,
            tags=query.tags,
            project=query.project,
            all_sessions=query.all_sessions,
            since=query.since,
            utc=query.utc,
            sort=query.sort,
            limit=query.limit,
            user=user,
            machine=machine,
        ),
    )
    if fmt != "table":
        emit(fmt, docs)
        return
    _sessions_table(docs, ctx.now(), query.all_sessions)


def _sessions_table(docs: Sequence[dict[str, Any]], now: datetime, every: bool) -> None:
    from llm_session_manager.cli.render import SafeTable, console
    from llm_session_manager.present import ago, human_tokens, money
    from llm_session_manager.timefmt import parse_ts

    out = console()
    if not docs:
        out.print("No team sessions found" + ("." if every else " (try --all for older sessions)."))
        return
    table = SafeTable(box=None, header_style="bold")
    for title in (
        "User",
        "Machine",
        "Agent",
        "Project",
        "Model",
        "Status",
        "Context",
        "Tokens",
        "Cost",
        "Health",
        "Last",
    ):
        table.add_column(
            title, justify="right" if title in ("Context", "Tokens", "Cost", "Health") else "left"
        )
    for d in docs:
        tokens = d["tokens"]["total"] if d.get("tokens") else None
        pct = d.get("context_pct")
        table.add_row(
            d["user"],
            d["machine"],
            d["agent"],
            d.get("project") or "-",
            d.get("model") or "-",
            d["status"],
            "-" if pct is None else f"{pct:g}%",
            human_tokens(tokens),
            money(d.get("cost_usd")),
            f"{d['health']['score']:.0f}",
            ago(parse_ts(d.get("last_activity")), now),
        )
    out.print(table)
    total = sum(d["tokens"]["total"] for d in docs if d.get("tokens"))
    costs = [d["cost_usd"] for d in docs if d.get("cost_usd") is not None]
    out.print(
        f"{len(docs)} session(s) of {len({d['user'] for d in docs})} user(s) on"
        f" {len({d['machine'] for d in docs})} machine(s): {human_tokens(total)} tokens, {money(sum(costs))}",
        markup=False,
    )


def team_report_doc(request: Request) -> tuple[dict[str, Any], tuple[str, ...]]:
    """`lsm report … --team`: the document and the --by columns it is split by."""
    from llm_session_manager.api.team import team_report
    from llm_session_manager.team.report import split_by

    team_by, by = split_by(request.by)
    if request.kind == "blocks" and "user" not in team_by:
        team_by = ("user", *team_by)
    return team_report(team_context(), request), (*team_by, *by)


def limits_team(agents: list[str] | None, fmt: str) -> None:
    """`lsm limits --team`."""
    from llm_session_manager.api.team import team_limits

    docs = team_limits(team_context(), agents)
    if fmt != "table":
        emit(fmt, docs)
        return
    from llm_session_manager.cli.render import SafeTable, console

    out = console()
    if not docs:
        out.print("No official limits in the team store yet (they come with `lsm team push`).")
        return
    table = SafeTable(
        "User", "Machine", "Agent", "Window", "Used", "Resets", "Observed", box=None, header_style="bold"
    )
    for d in docs:
        used = "stale" if d["stale"] else f"{d['used_percent']:g}%"
        table.add_row(
            d["user"],
            d["machine"],
            d["agent"],
            d["window"],
            used,
            d["resets_at"] or "-",
            d["observed_at"] or "-",
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(team_app, name="team")
