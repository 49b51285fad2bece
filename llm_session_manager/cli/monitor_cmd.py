"""`lsm monitor`: the live dashboard (see ``llm_session_manager.tui``)."""

from __future__ import annotations

import math
import sys

import typer

from llm_session_manager.cli.common import AGENT_HELP, check_agent, load_env
from llm_session_manager.errors import UsageError


class NotATerminalError(UsageError):
    """The dashboard needs a terminal to draw on (exit 2, like every other command that needs one)."""


def monitor_cmd(
    interval: float | None = typer.Option(
        None,
        "--interval",
        min=0.2,
        max=3600,
        help="Seconds between refreshes, 0.2 to 3600 (default: dashboard.refresh_interval, 5).",
    ),
    agent: str | None = typer.Option(None, "--agent", help=AGENT_HELP),
    project: str | None = typer.Option(None, "--project", "-p", help="Project name or part of its path."),
    notify: bool = typer.Option(
        False, "--notify", help="Also alert when a session needs you (as `lsm notify`; needs the hooks)."
    ),
) -> None:
    """Live dashboard of your sessions: context, tokens, cost, burn rate, health. Keys: ? for help."""
    if interval is not None and not math.isfinite(interval):  # click's range lets nan through
        raise UsageError(f"--interval: must be a number of seconds from 0.2 to 3600, got {interval}")
    if not sys.stdout.isatty():
        raise NotATerminalError(
            "monitor draws on a terminal and stdout is not one; for scripts use `lsm list --format json`"
        )
    agent = check_agent(agent)
    env = load_env()
    seconds = interval if interval is not None else float(env.config["dashboard"]["refresh_interval"])
    from llm_session_manager.tui.loop import run_monitor

    stop = None
    if notify:
        from llm_session_manager.cli.hooks_cmd import start_notifier

        stop = start_notifier(env.paths, env.config)
    try:
        run_monitor(env.paths, env.config, interval=seconds, agent=agent, project=project)
    finally:
        if stop is not None:
            stop.set()


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor_cmd)
