"""Session commands: list, info, health."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from typing import Any

import typer

from llm_session_manager import __version__
from llm_session_manager.agents.base import AgentReader
from llm_session_manager.cli.common import (
    AGENT_HELP,
    FORMAT_HELP,
    Env,
    check_agent,
    check_format,
    load_env,
    print_json,
    warn,
)
from llm_session_manager.listing import ListFilter, check_statuses, keep, sort_views
from llm_session_manager.serialize import health_json, session_json
from llm_session_manager.service import Collected, collect, project_name, resolve_id
from llm_session_manager.timefmt import SINCE_FORMS, parse_since


def _collect(env: Env) -> Collected:
    result = collect(env.paths, env.config)
    if result.discovery_error:
        warn(result.discovery_error)
    for stats in result.stats.values():
        for err in stats.errors[:5]:
            warn(f"skipped {err}")
    return result


def list_cmd(
    all_: bool = typer.Option(False, "--all", "-a", help="Every session, not only running and recent ones."),
    status: list[str] = typer.Option(
        [], "--status", "-s", help="active, idle, ended or closed (repeatable)."
    ),
    tag: list[str] = typer.Option([], "--tag", "-t", help="Only sessions with this tag (repeatable)."),
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
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """List sessions: running ones and those active recently (--all for every session)."""
    fmt = check_format(fmt)
    env = load_env()
    now = datetime.now(timezone.utc)
    flt = ListFilter(
        all=all_,
        statuses=check_statuses(status),
        tags=tuple(t.strip().lower() for t in tag),
        project=project,
        agent=check_agent(agent),
        since=parse_since(since, now, utc=utc) if since else None,
        recent_hours=float(env.config["recent_hours"]),
    )
    sort_key = sort or env.config["list"]["sort"]
    result = _collect(env)
    views = sort_views([v for v in result.views if keep(v, flt, now)], sort_key)
    if limit:
        views = views[:limit]
    if fmt == "json":
        print_json([session_json(v, project_name(v)) for v in views])
        return
    from llm_session_manager.cli.render import console, sessions_table, table_width

    out = console()
    if not views:
        hint = "" if all_ else " (try --all for older sessions)"
        out.print(f"No sessions found{hint}.")
        return
    out.print(sessions_table(views, now, table_width(out), known=result.views))
    running = sum(1 for v in views if v.session.process)
    out.print(
        f"[dim]{len(views)} session(s), {running} running. Tokens ≈ = not exact (counted with tiktoken,"
        " or rounded in the agent's log); ? = unknown. Health ~ = estimated.[/dim]"
    )


def health_cmd(
    session_id: str = typer.Argument(..., help="Session id or a unique prefix of it."),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """Show a session's health: every factor's raw value, score, weight and reason."""
    fmt = check_format(fmt)
    env = load_env()
    view = resolve_id(_collect(env).views, session_id)
    if fmt == "json":
        print_json(
            {"id": view.session.id, "context_pct": view.context_pct, **health_json(view.health, detail=True)}
        )
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
    env = load_env()
    result = _collect(env)
    info = {
        "version": __version__,
        "paths": _paths_info(env),
        "agents": {reader.name: _agent_info(reader, result) for reader in result.readers},
        "unknown_models": result.unknown_models,
        "models_not_recorded": result.models_not_recorded,
        "cache": _cache_info(result),
        "unreadable": [err for stats in result.stats.values() for err in stats.errors],
        "discovery": result.discovery_error or "ok",
        "pid": os.getpid(),
    }
    if fmt == "json":
        print_json(info)
        return
    _print_info(info)


def _paths_info(env: Env) -> dict[str, object]:
    roots = [{"path": str(p), "exists": p.is_dir()} for p in env.paths.claude_project_roots]
    return {
        **env.paths.as_dict(),
        "config_file_exists": env.paths.config_file.exists(),
        "claude_project_roots": roots,  # kept from 0.3.0 (Claude Code only; see agents.*.roots)
    }


def _cache_info(result: Collected) -> dict[str, object]:
    """The parse cache over every agent: a hit when no agent had to read a changed file."""
    stats = list(result.stats.values())
    return {
        "hit": bool(stats) and all(s.from_cache for s in stats),
        "files_read": sum(s.files_read for s in stats),
        "bytes_read": sum(s.bytes_read for s in stats),
    }


def _agent_info(reader: AgentReader, result: Collected) -> dict[str, object]:
    sessions = [v.session for v in result.views if v.session.agent == reader.name]
    stats = result.stats.get(reader.name)
    files = stats.files if stats else 0
    return {
        "roots": [{"path": path, "exists": exists} for path, exists in reader.roots()],
        "sessions": len(sessions),
        "running": sum(1 for s in sessions if s.process),
        "source_files": files,
        "transcript_files": files,  # the 0.3.0 name of source_files, kept for scripts
        "skipped_lines": sum(s.skipped_lines for s in sessions),
        "cache_hit": bool(stats and stats.from_cache),
        "files_read": stats.files_read if stats else 0,
        "bytes_read": stats.bytes_read if stats else 0,
    }


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
