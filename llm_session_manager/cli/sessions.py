"""Session commands: list, info, health."""

from __future__ import annotations

from typing import Any

import typer

from llm_session_manager.api.context import Context
from llm_session_manager.api.sessions import ListQuery, health_document
from llm_session_manager.api.status import info_document
from llm_session_manager.cli import completion
from llm_session_manager.cli.common import (
    AGENT_HELP,
    FORMAT_HELP,
    check_agent,
    check_format,
    emit,
    load_env,
)
from llm_session_manager.cli.plain_list import warn_scan, write_list
from llm_session_manager.cli.progress import with_progress
from llm_session_manager.service import Collected, resolve_id
from llm_session_manager.timefmt import SINCE_FORMS


def _collect(ctx: Context) -> Collected:
    result = ctx.collect()
    warn_scan(result)
    return result


def list_cmd(
    all_: bool = typer.Option(False, "--all", "-a", help="Every session, not only running and recent ones."),
    status: list[str] = typer.Option(
        [], "--status", "-s", help="active, idle, ended or closed (repeatable)."
    ),
    tag: list[str] = typer.Option(
        [], "--tag", "-t", help="Only sessions with this tag (repeatable).", autocompletion=completion.tags
    ),
    project: str | None = typer.Option(None, "--project", "-p", help="Project name or part of its path."),
    agent: str | None = typer.Option(None, "--agent", help=AGENT_HELP),
    since: str | None = typer.Option(
        None, "--since", help=f"Active since: {SINCE_FORMS} (local time unless --utc)."
    ),
    utc: bool = typer.Option(False, "--utc", help="Read --since days and times as UTC, not local time."),
    sort: str | None = typer.Option(
        None, "--sort", help="last_activity, started_at, tokens, cost, health, context, project."
    ),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, help="Show at most N sessions."),
    team: bool = typer.Option(
        False, "--team", help="Everyone's sessions from the team store, with user and machine (docs/TEAM.md)."
    ),
    user: str | None = typer.Option(None, "--user", help="With --team: only this person's sessions."),
    machine: str | None = typer.Option(None, "--machine", help="With --team: only this computer's sessions."),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """List sessions: running ones and those active recently (--all for every session)."""
    fmt = check_format(fmt)
    ctx = with_progress(load_env())
    query = ListQuery(
        statuses=tuple(status),
        agent=check_agent(agent),
        tags=tuple(tag),
        project=project,
        all_sessions=all_,
        since=since,
        utc=utc,
        sort=sort,
        limit=limit,
    )
    if team or user or machine:
        from llm_session_manager.cli.team_cmd import list_team

        list_team(query, fmt, team=team, user=user, machine=machine)
        return
    write_list(ctx, query, fmt, all_)


def health_cmd(
    session_id: str = typer.Argument(
        ..., help="Session id or a unique prefix of it.", autocompletion=completion.session_ids
    ),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """Show a session's health: every factor's raw value, score, weight and reason."""
    fmt = check_format(fmt)
    env = with_progress(load_env())
    view = resolve_id(_collect(env).views, session_id)
    if fmt != "table":
        emit(fmt, health_document(view))
        return
    from llm_session_manager.cli.render import console, health_table, markup_safe

    out = console()
    out.print(health_table(view))
    for cap in view.health.caps:
        out.print(f"[red]capped:[/red] {markup_safe(cap)}")
    for w in view.warnings:
        out.print(f"[yellow]warning:[/yellow] {markup_safe(w)}")


def info_cmd(fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP)) -> None:
    """Version, every path lsm uses, agents found and their session counts, skipped lines."""
    fmt = check_format(fmt)
    env = with_progress(load_env())
    result = _collect(env)
    info = info_document(env, result)
    if fmt != "table":
        emit(fmt, info)
        return
    _print_info(info)


def _print_info(info: dict[str, Any]) -> None:
    from llm_session_manager.cli.render import console
    from llm_session_manager.cli.render import markup_safe as safe

    out = console()
    paths = info["paths"]
    out.print(f"[bold]lsm {info['version']}[/bold]")
    out.print(
        f"config file:  {safe(paths['config_file'])}"
        + ("" if paths["config_file_exists"] else " (not created)")
    )
    out.print(f"data dir:     {safe(paths['data_dir'])}")
    out.print(f"database:     {safe(paths['database'])}")
    for name, a in info["agents"].items():
        out.print(
            f"[bold]{name}[/bold]: {a['sessions']} session(s), {a['running']} running,"
            f" {a['source_files']} file(s), {a['skipped_lines']} skipped line(s)"
        )
        for root in a["roots"]:
            out.print(f"    {safe(root['path'])}" + ("" if root["exists"] else " (missing)"))
    for model, count in sorted(info["unknown_models"].items()):
        out.print(
            f"[yellow]warning:[/yellow] unknown model '{safe(model)}' in {count} session(s):"
            " cost not computed"
        )
    for agent, count in sorted(info["models_not_recorded"].items()):
        out.print(f"note: {agent} did not record the model in {count} session(s): no cost from lsm's prices")
    for err in info["unreadable"]:
        out.print(f"[yellow]warning:[/yellow] skipped {safe(err)}")
    if info["discovery"] != "ok":
        out.print(f"[yellow]warning:[/yellow] {safe(info['discovery'])}")


def register(app: typer.Typer) -> None:
    app.command("list")(list_cmd)
    app.command("info")(info_cmd)
    app.command("health")(health_cmd)
