"""`lsm statusline`, `lsm limits`, `lsm budget`: official plan limits (the rules: ../limits.py) and
Claude Code's status line (../statusline.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

import typer

from llm_session_manager.cli.common import (
    AGENT_NAMES,
    FORMAT_HELP,
    Env,
    check_agent,
    check_format,
    emit,
    load_env,
)
from llm_session_manager.errors import UsageError
from llm_session_manager.limits import Budget, Limit

LIMIT_AGENT_HELP = "Only this agent: claude-code or codex (or a prefix: claude)."
STATUS_STYLE = {"ok": "green", "near": "yellow", "reached": "bold red", "unknown": "dim"}

statusline_app = typer.Typer(
    help="Claude Code's status line: reads its JSON on stdin, records limits, prints one line.",
    invoke_without_command=True,
    no_args_is_help=False,
)


@statusline_app.callback()
def statusline_cmd(
    ctx: typer.Context,
    then: str | None = typer.Option(
        None,
        "--then",
        help="Also run this statusline command with the same input and show its line after ours.",
    ),
) -> None:
    """Print Claude Code's status line from the JSON on stdin (model, context, cost, 5 h and 7 d limits);
    always exits 0. `install` and `uninstall` set it up in ~/.claude/settings.json."""
    if ctx.invoked_subcommand is not None:
        return
    import sys

    from llm_session_manager.statusline import USAGE, run

    if sys.stdin is None or sys.stdin.isatty():
        raise UsageError(USAGE.strip().removeprefix("usage: "))
    raise typer.Exit(run(then=then))


@statusline_app.command("install")
def statusline_install(
    force: bool = typer.Option(
        False, "--force", help="Install even over your own statusLine command (it then runs after ours)."
    ),
) -> None:
    """Set `lsm statusline` as Claude Code's statusLine in its settings.json (backup first, atomic)."""
    from llm_session_manager import statusline_setup

    env = load_env()
    outcome = statusline_setup.install(env.paths, datetime.now(timezone.utc), force)
    _report(outcome)


@statusline_app.command("uninstall")
def statusline_uninstall() -> None:
    """Take `lsm statusline` out of Claude Code's settings.json: the file as it was before install."""
    from llm_session_manager import statusline_setup

    env = load_env()
    _report(statusline_setup.uninstall(env.paths, datetime.now(timezone.utc)))


def _report(outcome: Any) -> None:
    from llm_session_manager.safetext import for_terminal

    backup = f" (backup: {outcome.backup})" if outcome.backup else ""
    typer.echo(for_terminal(f"{outcome.path}: {outcome.message}{backup}"))


def _agents(agent: str | None) -> list[str] | None:
    from llm_session_manager.limits import LIMIT_AGENTS

    name = check_agent(agent)
    if name is None:
        return None
    found = [a for a in AGENT_NAMES if a.startswith(name) and a in LIMIT_AGENTS]
    if not found:
        raise UsageError(f"--agent: {agent} reports no official limits (only {', '.join(LIMIT_AGENTS)} do)")
    return found


def _gather(agent: str | None) -> tuple[list[Limit], Env, list[str] | None]:
    from llm_session_manager.api.advice import official_limits

    agents = _agents(agent)
    ctx = load_env()
    return official_limits(ctx, agents), ctx, agents


def limits_cmd(
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
    agent: str | None = typer.Option(None, "--agent", help=LIMIT_AGENT_HELP),
    team: bool = typer.Option(False, "--team", help="Everyone's limits from the team store, per user."),
) -> None:
    """Official plan limits every agent reported (Claude Code through `lsm statusline`, Codex in its logs):
    used share of the 5 h and 7 d windows, reset, staleness and the projected time to 100%."""
    fmt = check_format(fmt)
    if team:
        from llm_session_manager.cli.team_cmd import limits_team

        limits_team(_agents(agent), fmt)
        return
    limits, ctx, _ = _gather(agent)
    now = ctx.now()
    if fmt != "table":
        emit(fmt, [limit.as_json() for limit in limits])
        return
    from llm_session_manager.cli.render import console

    out = console()
    if not limits:
        out.print(
            "No official limits recorded yet. Claude Code reports them to `lsm statusline` (see"
            " `lsm statusline install`, Claude.ai sign-ins only); Codex writes them into its logs."
        )
        return
    out.print(limits_table(limits, now))


def _when(then: datetime | None, now: datetime) -> str:
    from llm_session_manager.limits import countdown

    if then is None:
        return "-"
    local = then.astimezone().strftime("%a %H:%M")
    return f"{local} (in {countdown(then - now)})" if then > now else f"{local} ({countdown(now - then)} ago)"


def limits_table(limits: Sequence[Limit], now: datetime) -> Any:
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for title in ("Agent", "Window", "Used", "Resets", "Observed", "Source", "Projected 100%"):
        table.add_column(title)
    for limit in limits:
        o = limit.observation
        used = "stale" if limit.stale else f"{o.used_percent:g}%"
        style = "dim" if limit.stale else "red" if o.used_percent >= 100 else ""
        full = "-" if limit.projected_full_at is None else _when(limit.projected_full_at, now)
        if limit.projection_basis == "window_average" and limit.projected_full_at is not None:
            full += " avg"  # from the window's average pace, not a recent rise
        table.add_row(
            cell(o.agent),
            cell(o.window),
            cell(used, style),
            cell(_when(o.resets_at, now)),
            cell(_when(o.observed_at, now)),
            cell(o.source),
            cell(full),
        )
    return table


def budget_cmd(
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
    agent: str | None = typer.Option(None, "--agent", help=LIMIT_AGENT_HELP),
) -> None:
    """Can I start a big task now? Per agent: limit left, reset countdown, run-out time at the current
    pace and one suggestion. Exit 0 ok, 10 near a limit (budget.near_percent), 11 a limit reached."""
    from llm_session_manager.api.advice import budget

    fmt = check_format(fmt)
    agents = _agents(agent)
    answer = budget(load_env(), agents)
    code = answer.exit_code
    if fmt != "table":
        emit(fmt, answer.document())
    else:
        _print_budgets(answer.items, answer.now)
    if code:
        raise typer.Exit(code)


def _print_budgets(items: Sequence[Budget], now: datetime) -> None:
    from rich.text import Text

    from llm_session_manager.cli.render import console

    out = console()
    for b in items:
        line = Text(f"{b.agent:12} ")
        line.append(f"{b.status:8}", style=STATUS_STYLE.get(b.status, ""))
        if b.binding is not None:
            line.append(f" {b.left_percent:g}% left of {b.binding.observation.window}")
        out.print(line)
        out.print(Text("  ") + cell(b.suggestion), soft_wrap=True)


def cell(value: object, style: str = "") -> Any:
    """Text from logs or payloads as a table cell: never markup, control characters shown."""
    from rich.text import Text

    from llm_session_manager.safetext import for_terminal

    return Text(for_terminal(str(value)), style=style)


def register(app: typer.Typer) -> None:
    app.add_typer(statusline_app, name="statusline")
    app.command("limits")(limits_cmd)
    app.command("budget")(budget_cmd)
