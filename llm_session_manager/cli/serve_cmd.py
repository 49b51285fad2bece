"""`lsm serve`: the web dashboard (llm_session_manager/web/, docs/WEB.md).

Starlette and uvicorn are imported only when the server starts.
"""

from __future__ import annotations

import sys

import typer

from llm_session_manager.cli.common import load_env
from llm_session_manager.errors import UsageError
from llm_session_manager.safetext import for_terminal


def _token(given: str | None, configured: str) -> str | None:
    token = (given if given is not None else configured or "").strip()
    if given is not None and not token:
        raise UsageError("--token: the token is empty")
    return token or None


def serve_cmd(
    host: str = typer.Option("127.0.0.1", "--host", help="The address to listen on (loopback by default)."),
    port: int = typer.Option(
        8765, "--port", min=0, max=65535, help="The port to listen on (0: any free port)."
    ),
    open_: bool = typer.Option(False, "--open", help="Open the dashboard in the default web browser."),
    token: str | None = typer.Option(
        None,
        "--token",
        help="Ask browsers and scripts for this token (default: web.token from the config). Required"
        " for a --host that is not loopback.",
    ),
    team: bool = typer.Option(
        False,
        "--team",
        help="Everyone's sessions, reports and limits from the team store (team.database_url; docs/TEAM.md).",
    ),
) -> None:
    """Serve the web dashboard: live sessions, session pages, reports, limits, and /api JSON."""
    from llm_session_manager.httpguard import is_loopback

    if team:
        from llm_session_manager.cli.team_cmd import team_context

        ctx = team_context()
        if not str(ctx.config["team"]["database_url"] or "").strip():
            raise UsageError(
                "--team: no team store is configured (team.database_url or LSM_TEAM_DATABASE_URL)"
            )
    else:
        ctx = load_env()
    secret = _token(token, str(ctx.config["web"]["token"]))
    if not is_loopback(host) and secret is None:
        raise UsageError(
            f"--host {host} is not a loopback address: set a token (--token or web.token in the config)"
            " so that only its holders can use the dashboard"
        )
    from llm_session_manager.web.app import serve

    def announce(url: str) -> None:
        notes = [] if is_loopback(host) else [f"listening on {host}"]
        notes += ["token required"] if secret else []
        shown = f" ({', '.join(notes)})" if notes else ""
        sys.stderr.write(for_terminal(f"lsm: dashboard at {url}{shown}; press Ctrl-C to stop") + "\n")
        sys.stderr.flush()

    serve(ctx, host, port, secret, announce=announce, open_browser=open_, team=team)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_cmd)
