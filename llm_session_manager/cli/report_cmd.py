"""`lsm report daily|weekly|monthly|blocks|session` (the rules: ../reports.py) and `lsm prune`."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import typer

from llm_session_manager.cli.common import (
    AGENT_HELP,
    FORMAT_HELP,
    check_agent,
    check_format,
    emit,
    load_env,
    warn,
)
from llm_session_manager.timefmt import SINCE_FORMS

REPORT_FORMATS = ("table", "json", "yaml", "csv")

report_app = typer.Typer(
    help="Tokens and cost per day, week, month, Claude 5-hour block or session, counted when each reply"
    " happened.",
    no_args_is_help=True,
)


def _run(
    kind: str,
    by: list[str],
    since: str | None,
    until: str | None,
    agent: str | None,
    project: str | None,
    tz: str | None,
    start_of_week: str,
    last: int | None,
    fmt: str,
    chart: bool,
    team: bool = False,
) -> None:
    from llm_session_manager import reports

    fmt = check_format(fmt, REPORT_FORMATS)
    request = reports.Request(
        kind, tuple(by), since, until, check_agent(agent), project, tz, start_of_week, last
    )
    from llm_session_manager.api.advice import usage_report
    from llm_session_manager.cli.progress import with_progress

    if team:
        from llm_session_manager.cli.team_cmd import team_report_doc

        doc, shown_by = team_report_doc(request)
        errors: list[str] = []
    else:
        doc, errors = usage_report(with_progress(load_env()), request)
        shown_by = reports.check_by(by)
    for err in errors:
        warn(f"skipped {err}")
    for model in doc["unpriced_models"]:
        warn(
            f"no price for model '{model}': the cost of its rows is unknown"
            " (add it under 'models:' in the config)"
        )
    if fmt in ("json", "yaml"):
        emit(fmt, doc)
    elif fmt == "csv":
        _csv(doc, shown_by, kind)
    else:
        _table(doc, shown_by, kind, chart)


def _csv(doc: dict[str, Any], by: tuple[str, ...], kind: str) -> None:
    import csv
    import sys

    from llm_session_manager.safetext import for_terminal

    keys = ["session_id", "title"] if kind == "session" else []
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(
        [
            "period",
            *keys,
            *by,
            "input",
            "output",
            "cache_creation",
            "cache_read",
            "total",
            "cost_usd",
            "sessions",
        ]
    )
    for row in doc["rows"]:
        t = row["tokens"]
        texts = [for_terminal(str(row.get(k) or "")) for k in (*keys, *by)]
        cost = "" if row["cost_usd"] is None else f"{row['cost_usd']:.6f}"
        writer.writerow(
            [
                row["period"],
                *texts,
                t["input"],
                t["output"],
                t["cache_creation"],
                t["cache_read"],
                t["total"],
                cost,
                row["sessions"],
            ]
        )


def _table(doc: dict[str, Any], by: tuple[str, ...], kind: str, chart: bool) -> None:
    from llm_session_manager.cli.render import console, report_table, table_width
    from llm_session_manager.present import human_tokens, money

    out = console()
    if not doc["rows"]:
        out.print("No usage in this range.")
        return
    out.print(report_table(doc, by, kind, chart, table_width(out)))
    for row in doc["rows"]:
        if kind == "blocks" and row.get("burn"):
            b = row["burn"]
            out.print(
                f"active block {row['period']}: {b['tokens_per_minute']:,} tokens/min, projected"
                f" {human_tokens(b['projected_total_tokens'])} and {money(b['projected_cost_usd'])}"
                f" by {row['end']}"
            )


def _command(kind: str, doc: str) -> None:
    def command(
        by: list[str] = typer.Option(
            [], "--by", help="Split rows by agent, model, project or branch (repeatable)."
        ),
        since: str | None = typer.Option(None, "--since", help=f"From: {SINCE_FORMS} (in --timezone)."),
        until: str | None = typer.Option(
            None, "--until", help="Up to (a date: that whole day), same forms as --since."
        ),
        agent: str | None = typer.Option(None, "--agent", help=AGENT_HELP),
        project: str | None = typer.Option(None, "--project", "-p", help="Project name or part of its path."),
        tz: str | None = typer.Option(
            None,
            "--timezone",
            "--tz",
            help="Time zone of days and weeks: an IANA name or UTC (default: local).",
        ),
        start_of_week: str = typer.Option("monday", "--start-of-week", help="First day of a week (weekly)."),
        last: int | None = typer.Option(None, "--last", min=0, help="Only the last N periods."),
        fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
        chart: bool = typer.Option(False, "--chart", help="A bar per row (total tokens), in the table."),
        team: bool = typer.Option(
            False, "--team", help="Everyone's usage from the team store; --by also takes user and machine."
        ),
    ) -> None:
        _run(kind, by, since, until, agent, project, tz, start_of_week, last, fmt, chart, team)

    command.__doc__ = doc
    report_app.command(kind)(command)


_command("daily", "Tokens and cost per day.")
_command("weekly", "Tokens and cost per week (rows named by the week's first day).")
_command("monthly", "Tokens and cost per month.")
_command("blocks", "Claude's 5-hour billing windows (as ccusage draws them); the active one with its pace.")
_command("session", "Tokens and cost per session, counted inside --since/--until.")


def prune_cmd(
    before: str = typer.Option(
        ..., "--before", help=f"Forget archived sessions last active before: {SINCE_FORMS}."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only list what would be forgotten."),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """Forget archived sessions (those whose transcripts the agent deleted) last active before a date."""
    from llm_session_manager.api.maintenance import prune_archived
    from llm_session_manager.reports import moment as parse_moment

    fmt = check_format(fmt)
    local = datetime.now().astimezone().tzinfo or timezone.utc
    moment = parse_moment("--before", before, datetime.now(timezone.utc), local)
    assert moment is not None  # --before is required
    pruned = prune_archived(load_env(), moment, dry_run=dry_run)
    ids = pruned.forgotten
    if fmt != "table":
        emit(fmt, pruned.document())
        return
    from llm_session_manager.safetext import for_terminal

    verb = "would forget" if dry_run else "forgot"
    typer.echo(for_terminal(f"{verb} {len(ids)} archived session(s)"))
    for sid in ids:
        typer.echo(for_terminal(f"  {sid}"))


def register(app: typer.Typer) -> None:
    app.add_typer(report_app, name="report")
    app.command("prune")(prune_cmd)
