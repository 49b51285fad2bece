"""MCP commands: mcp-server, mcp-session-server, mcp-config (docs/MCP_INTEGRATION.md).

The MCP SDK is imported only when a server starts: `lsm list` never pays for it.
"""

from __future__ import annotations

import ipaddress
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from llm_session_manager.cli.common import check_format, load_env, print_json, warn
from llm_session_manager.errors import UsageError

if TYPE_CHECKING:
    from llm_session_manager.mcp_config import WriteResult

TRANSPORTS = ("stdio", "streamable-http")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def mcp_server_cmd(
    transport: str = typer.Option(
        "stdio", "--transport", help="stdio (what Claude Desktop starts) or streamable-http."
    ),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="streamable-http: the address to listen on (loopback by default)."
    ),
    port: int = typer.Option(
        8000, "--port", min=1, max=65535, help="streamable-http: the port to listen on."
    ),
) -> None:
    """Serve lsm over MCP: sessions, health, recommendations, memory, export (for Claude Desktop,
    Claude Code, Cursor, VS Code)."""
    kind = transport.strip().lower()
    if kind not in TRANSPORTS:
        raise UsageError(f"--transport: unknown transport '{transport}' (one of {', '.join(TRANSPORTS)})")
    load_env()  # a broken config file is one clear line now, not a failure inside the protocol
    if kind == "streamable-http":
        if not _is_loopback(host):
            warn(f"listening on {host}: anyone who can reach port {port} can read your sessions (no auth)")
        sys.stderr.write(f"lsm: MCP server at http://{host}:{port}/mcp (Ctrl-C to stop)\n")
    from llm_session_manager import mcp_server

    mcp_server.run(kind, host, port)


def mcp_session_server_cmd(
    session_id: str = typer.Argument(..., help="Session id or a unique prefix of it."),
) -> None:
    """Serve ONE session over MCP (stdio), for the agent working in it: live metrics, git state, files
    touched and changed, memory of its project."""
    from llm_session_manager.service import collect, resolve_id

    env = load_env()
    view = resolve_id(collect(env.paths, env.config).views, session_id)  # unknown id: exit 3, now
    from llm_session_manager import mcp_session

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
) -> None:
    """Print (or --write) the MCP client configuration that starts this installation's server."""
    from llm_session_manager import mcp_config

    kind = client.strip().lower()
    if kind not in mcp_config.CLIENTS:
        raise UsageError(f"--client: unknown client '{client}' (one of {', '.join(mcp_config.CLIENTS)})")
    fmt = check_format(fmt, ("json", "path"))
    if not name.strip() or any(ch.isspace() for ch in name):
        raise UsageError("--name: give a name without spaces")
    spec = mcp_config.launch(os.environ)
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
        sys.stderr.write(f"lsm: merge this into {target} (or run: lsm mcp-config --client {kind} --write)\n")
        return
    result = mcp_config.write_config(kind, spec, target, name)
    print_json(mcp_config.document(kind, spec, name))
    _report(result, name, kind)


def _report(result: WriteResult, name: str, client: str) -> None:
    if result.action == "unchanged":
        sys.stderr.write(f"lsm: {result.file} already has this '{name}' entry; nothing was changed\n")
        return
    backup = f" (the old file is in {result.backup})" if result.backup else ""
    sys.stderr.write(f"lsm: {result.action} '{name}' in {result.file}{backup}\n")
    restart = {"claude-desktop": "Quit and restart Claude Desktop", "cursor": "Restart Cursor"}
    step = restart.get(client, "Reload VS Code (or run 'MCP: List Servers')")
    sys.stderr.write(f"lsm: {step} to load it.\n")


def register(app: typer.Typer) -> None:
    app.command("mcp-server")(mcp_server_cmd)
    app.command("mcp-session-server")(mcp_session_server_cmd)
    app.command("mcp-config")(mcp_config_cmd)
