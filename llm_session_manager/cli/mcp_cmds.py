"""MCP commands: mcp-server, mcp-session-server, mcp-config (docs/MCP_INTEGRATION.md).

The MCP SDK is imported only when a server starts: `lsm list` never pays for it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from llm_session_manager.cli.common import check_format, load_env, print_json, say, warn
from llm_session_manager.errors import UsageError

if TYPE_CHECKING:
    from llm_session_manager.mcp_config import Launch, Remote, WriteResult

TRANSPORTS = ("stdio", "streamable-http", "http")  # http: short for streamable-http


def _transport(value: str) -> str:
    kind = value.strip().lower()
    if kind not in TRANSPORTS:
        raise UsageError(f"--transport: unknown transport '{value}' (one of {', '.join(TRANSPORTS)})")
    return "streamable-http" if kind == "http" else kind


def _check_bind(host: str, allow_remote: bool) -> bool:
    """Whether ``host`` is loopback; a non-loopback bind needs --allow-remote."""
    from llm_session_manager.mcp.transport import is_loopback

    if is_loopback(host):
        return True
    if not allow_remote:
        raise UsageError(
            f"--host {host} is not a loopback address: other machines could reach the server; "
            "add --allow-remote to listen there anyway"
        )
    return False


def mcp_server_cmd(
    transport: str = typer.Option(
        "stdio", "--transport", help="stdio (what Claude Desktop starts) or http (streamable-http)."
    ),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="http: the address to listen on (loopback by default)."
    ),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="http: the port to listen on."),
    allow_remote: bool = typer.Option(
        False,
        "--allow-remote",
        help="http: allow a --host that is not loopback (other machines can connect).",
    ),
) -> None:
    """Serve lsm over MCP: sessions, health, recommendations, memory, export (for Claude Desktop,
    Claude Code, Cursor, VS Code). Over http every request needs the bearer token lsm keeps beside its
    config file (`lsm mcp-config --transport http` writes it into a client's config)."""
    kind = _transport(transport)
    env = load_env()  # a broken config file is one clear line now, not a failure inside the protocol
    from llm_session_manager.mcp import server as mcp_server

    if kind == "stdio":
        from llm_session_manager.mcp.transport import stdin_is_terminal, tty_notice

        if stdin_is_terminal():
            sys.stderr.write(tty_notice())
        mcp_server.run()
        return
    loopback = _check_bind(host, allow_remote)
    token = _announce_token(env.paths.config_file)
    if not loopback:
        warn(
            f"listening on {host}: other machines can reach port {port}; every request still needs the "
            "token, but plain HTTP is not encrypted"
        )
    from llm_session_manager.mcp.transport import server_url

    say(f"lsm: MCP server at {server_url(host, port)} (Ctrl-C to stop)")
    mcp_server.run_http(host, port, token)


def _announce_token(config_file: Path) -> str:
    """The HTTP token; when it is made now, it is shown once on stderr."""
    from llm_session_manager.mcp.transport import http_token, token_file

    token, made = http_token(config_file)
    where = token_file(config_file)
    if made:
        sys.stderr.write(
            f"lsm: made the MCP HTTP token (shown this once; kept in {where}, mode 0600):\n{token}\n"
        )
    sys.stderr.write(
        f"lsm: clients must send 'Authorization: Bearer <the token in {where}>'; "
        "`lsm mcp-config --transport http` writes it into a client's config\n"
    )
    return token


def mcp_session_server_cmd(
    session_id: str = typer.Argument(..., help="Session id or a unique prefix of it."),
) -> None:
    """Serve ONE session over MCP (stdio), for the agent working in it: live metrics, git state, files
    touched and changed, memory of its project."""
    from llm_session_manager.service import collect, resolve_id

    env = load_env()
    view = resolve_id(collect(env.paths, env.config).views, session_id)  # unknown id: exit 3, now
    from llm_session_manager.mcp import session as mcp_session
    from llm_session_manager.mcp.transport import stdin_is_terminal, tty_notice

    if stdin_is_terminal():
        sys.stderr.write(tty_notice())
    mcp_session.run(view.session.id)


def mcp_config_cmd(
    client: str = typer.Option(
        "claude-desktop", "--client", "-c", help="claude-desktop, claude-code, cursor or vscode."
    ),
    write: bool = typer.Option(
        False, "--write", help="Merge the entry into the client's config file (a backup is kept)."
    ),
    file: str | None = typer.Option(
        None, "--file", help="The config file to write instead of the client's default."
    ),
    name: str = typer.Option("llm-session-manager", "--name", help="The server's name in the client."),
    fmt: str = typer.Option("json", "--format", "-f", help="json (the entry) or path (the file only)."),
    transport: str = typer.Option(
        "stdio",
        "--transport",
        help="stdio (the client starts the server) or http (it connects to `lsm mcp-server --transport "
        "http`, sending lsm's token).",
    ),
    host: str = typer.Option("127.0.0.1", "--host", help="http: the address the server listens on."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="http: the port the server listens on."),
) -> None:
    """Print (or --write) the MCP client configuration that starts this installation's server (or, with
    --transport http, connects to the running HTTP server with its bearer token)."""
    from llm_session_manager import mcp_config

    kind = client.strip().lower()
    if kind not in mcp_config.CLIENTS:
        raise UsageError(f"--client: unknown client '{client}' (one of {', '.join(mcp_config.CLIENTS)})")
    fmt = check_format(fmt, ("json", "path"))
    if not name.strip() or any(ch.isspace() for ch in name):
        raise UsageError("--name: give a name without spaces")
    mode = _transport(transport)
    if mode != "stdio" and kind == "claude-desktop":  # before a token is made for nothing
        raise UsageError(
            "Claude Desktop's config file starts local servers only: use the default --transport stdio"
        )
    spec = _client_spec(mode, host, port)
    if kind == "claude-code":
        if write or file:
            raise UsageError(
                "Claude Code keeps its own MCP configuration: run the printed `claude mcp add` command"
            )
        sys.stdout.write(mcp_config.claude_code_command(spec, name) + "\n")
        return
    target = mcp_config.config_file(kind, os.environ) if file is None else Path(file).expanduser().absolute()
    if fmt == "path":
        sys.stdout.write(f"{target}\n")
        return
    if not write:
        print_json(mcp_config.document(kind, spec, name))
        again = f"--client {kind}" + (" --transport http" if isinstance(spec, mcp_config.Remote) else "")
        say(f"lsm: merge this into {target} (or run: lsm mcp-config {again} --write)")
        return
    result = mcp_config.write_config(kind, spec, target, name)
    print_json(mcp_config.document(kind, spec, name))
    _report(result, name, kind)


def _client_spec(kind: str, host: str, port: int) -> Launch | Remote:
    """What the client entry describes: how to start the server, or where the HTTP server is."""
    from llm_session_manager import mcp_config

    if kind == "stdio":
        return mcp_config.launch(os.environ)
    from llm_session_manager.mcp.transport import http_token, server_url

    token, made = http_token(load_env().paths.config_file)
    if made:
        say("lsm: made the MCP HTTP token; `lsm mcp-server --transport http` will use it")
    return mcp_config.Remote(server_url(host, port), token)


def _report(result: WriteResult, name: str, client: str) -> None:
    if result.action == "unchanged":
        say(f"lsm: {result.file} already has this '{name}' entry; nothing was changed")
        return
    backup = f" (the old file is in {result.backup})" if result.backup else ""
    say(f"lsm: {result.action} '{name}' in {result.file}{backup}")
    restart = {"claude-desktop": "Quit and restart Claude Desktop", "cursor": "Restart Cursor"}
    step = restart.get(client, "Reload VS Code (or run 'MCP: List Servers')")
    say(f"lsm: {step} to load it.")


def register(app: typer.Typer) -> None:
    app.command("mcp-server")(mcp_server_cmd)
    app.command("mcp-session-server")(mcp_session_server_cmd)
    app.command("mcp-config")(mcp_config_cmd)
