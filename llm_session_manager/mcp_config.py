"""`lsm mcp-config`: the MCP client configuration entry that starts this installation's server.

The entry runs the absolute path of the interpreter lsm is installed in (``python -m llm_session_manager
mcp-server``), so it works whatever the client's PATH and working directory are (Claude Desktop starts
servers in ``/`` with only USER, HOME and PATH inherited), and passes the variables that point lsm or an
agent at non-default folders when they are set here (``LSM_HOME``, ``LSM_CONFIG``, ``CODEX_HOME``…):
the server then sees the same sessions as the CLI. Secrets (``ANTHROPIC_API_KEY``) are never copied.

Client files (``--write`` merges the entry into them):

- Claude Desktop: ``claude_desktop_config.json`` in ``~/Library/Application Support/Claude/`` (macOS),
  ``%APPDATA%\\Claude\\`` (Windows), ``$XDG_CONFIG_HOME/Claude/`` (Linux, default ``~/.config``);
  servers under ``mcpServers``.
- Cursor: ``~/.cursor/mcp.json``; servers under ``mcpServers``.
- VS Code: the user profile's ``mcp.json`` (``~/Library/Application Support/Code/User/``,
  ``%APPDATA%\\Code\\User\\``, ``$XDG_CONFIG_HOME/Code/User/``); servers under ``servers``, with
  ``"type": "stdio"``.
- Claude Code keeps its own configuration: the ``claude mcp add`` command line is printed instead.

With ``--transport http`` the entry points at a running `lsm mcp-server --transport http` instead: its
URL and an ``Authorization: Bearer`` header with lsm's MCP token (``url`` + ``headers`` for Cursor,
``"type": "http"`` + ``url`` + ``headers`` for VS Code, ``--transport http … --header`` for Claude Code).
Claude Desktop's file starts local (stdio) servers only. A file that gets the token is made private
(group and other permissions removed).

Writing keeps every other server and key, copies the old file to a timestamped backup next to it first,
and replaces the file atomically (temporary file + rename). A file that is not a JSON object is a clear
error and is left exactly as it was.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from llm_session_manager.errors import ConfigError, LsmError, UsageError
from llm_session_manager.paths import xdg_config_home

CLIENTS = ("claude-desktop", "claude-code", "cursor", "vscode")
SERVER_KEY = "llm-session-manager"
# Variables that point lsm or an agent somewhere else than the defaults: passed on when set here.
ENV_PATHS = (
    "LSM_HOME",
    "LSM_CONFIG",
    "CODEX_HOME",
    "GEMINI_DATA_DIR",
    "GEMINI_CLI_HOME",
    "COPILOT_HOME",
    "CURSOR_CONFIG_DIR",
    "CLINE_DATA_DIR",
    "CLINE_DIR",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
)
# Lists of paths (kept as given, apart from a leading ~).
ENV_LISTS = ("CLAUDE_CONFIG_DIR", "LSM_AIDER_ROOTS")
TOP_KEY = {"claude-desktop": "mcpServers", "cursor": "mcpServers", "vscode": "servers"}


@dataclass(frozen=True)
class Launch:
    """How a client starts the server."""

    command: str
    args: tuple[str, ...]
    env: dict[str, str]


@dataclass(frozen=True)
class Remote:
    """A running HTTP server a client connects to, and the token it must send."""

    url: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def launch(env: Mapping[str, str], executable: str | None = None) -> Launch:
    """This installation's server: the absolute interpreter path, ``-m llm_session_manager mcp-server``,
    and the environment it needs (absolute paths, so that the client's working directory does not
    matter)."""
    python = os.path.abspath(executable or sys.executable)  # not resolved: a venv's python is a symlink
    passed: dict[str, str] = {}
    for name in ENV_PATHS:
        value = env.get(name, "").strip()
        if value:
            passed[name] = os.path.abspath(os.path.expanduser(value))
    for name in ENV_LISTS:
        value = env.get(name, "").strip()
        if value:
            passed[name] = os.path.expanduser(value)
    return Launch(python, ("-m", "llm_session_manager", "mcp-server"), passed)


def entry(client: str, spec: Launch | Remote) -> dict[str, Any]:
    """The server's entry in the client's file."""
    if isinstance(spec, Remote):
        return http_entry(client, spec)
    out: dict[str, Any] = {"type": "stdio"} if client == "vscode" else {}
    out["command"] = spec.command
    out["args"] = list(spec.args)
    if spec.env:
        out["env"] = dict(spec.env)
    return out


def http_entry(client: str, remote: Remote) -> dict[str, Any]:
    """The entry for a running HTTP server, with the token in the client's ``headers``."""
    if client == "claude-desktop":
        raise UsageError(
            "Claude Desktop's config file starts local servers only: use the default --transport stdio"
        )
    head: dict[str, Any] = {"type": "http"} if client == "vscode" else {}
    return {**head, "url": remote.url, "headers": remote.headers}


def document(client: str, spec: Launch | Remote, name: str = SERVER_KEY) -> dict[str, Any]:
    """The snippet to merge into the client's file."""
    return {TOP_KEY[client]: {name: entry(client, spec)}}


def claude_code_command(spec: Launch | Remote, name: str = SERVER_KEY, platform: str = sys.platform) -> str:
    """``claude mcp add --transport stdio --scope user [-e K=V]… NAME -- COMMAND ARGS…`` for a shell
    (``--transport http … NAME URL --header 'Authorization: Bearer …'`` for a running HTTP server)."""
    if isinstance(spec, Remote):
        argv = ["claude", "mcp", "add", "--transport", "http", "--scope", "user", name, spec.url]
        argv += ["--header", f"Authorization: Bearer {spec.token}"]
        return subprocess.list2cmdline(argv) if platform == "win32" else shlex.join(argv)
    argv = ["claude", "mcp", "add", "--transport", "stdio", "--scope", "user"]
    for key, value in spec.env.items():
        argv += ["-e", f"{key}={value}"]
    argv += [name, "--", spec.command, *spec.args]
    return subprocess.list2cmdline(argv) if platform == "win32" else shlex.join(argv)


def config_file(client: str, env: Mapping[str, str], platform: str = sys.platform) -> Path:
    """Where the client reads its MCP servers from (for this user)."""
    if client not in TOP_KEY:
        raise UsageError(f"{client} keeps its own configuration; use the printed command")
    home = Path(env.get("HOME") or env.get("USERPROFILE") or Path.home())
    if client == "cursor":
        return home / ".cursor" / "mcp.json"
    app, name = (
        ("Claude", "claude_desktop_config.json") if client == "claude-desktop" else ("Code", "mcp.json")
    )
    sub = (app, "User") if client == "vscode" else (app,)
    if platform == "darwin":
        return home.joinpath("Library", "Application Support", *sub, name)
    if platform == "win32":
        appdata = env.get("APPDATA")
        return (Path(appdata) if appdata else home / "AppData" / "Roaming").joinpath(*sub, name)
    return xdg_config_home(env, home).joinpath(*sub, name)


# ---------------------------------------------------------------------------------------------------
# Writing


@dataclass(frozen=True)
class WriteResult:
    file: Path
    action: str  # "created", "added", "updated" or "unchanged"
    backup: Path | None


def read_existing(file: Path, top_key: str) -> dict[str, Any] | None:
    """The client's file as a JSON object (None when there is no file); a file that cannot be merged
    safely is an error naming what is wrong."""
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read it ({_reason(exc)}); nothing was changed") from None
    if not text.strip():
        return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(
            f"{file}: not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}); it was left"
            " untouched: fix it (comments are not JSON) or add the entry by hand"
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: the top level must be a JSON object; it was left untouched")
    servers = data.get(top_key)
    if servers is not None and not isinstance(servers, dict):
        raise ConfigError(f"{file}: '{top_key}' must be a JSON object; it was left untouched")
    return data


def merged(data: dict[str, Any] | None, top_key: str, name: str, value: dict[str, Any]) -> dict[str, Any]:
    """``data`` with ``value`` as server ``name``; every other key and server kept, in order."""
    base = dict(data or {})
    servers = dict(base.get(top_key) or {})
    servers[name] = value
    base[top_key] = servers
    return base


def write_config(client: str, spec: Launch | Remote, file: Path, name: str = SERVER_KEY) -> WriteResult:
    """Merge the entry into ``file``: back the old file up, then replace it atomically."""
    top_key = TOP_KEY[client]
    data = read_existing(file, top_key)
    new = merged(data, top_key, name, entry(client, spec))
    private = isinstance(spec, Remote)  # the file now holds the token
    if data is not None and new == data:
        if private:
            _make_private(file)
        return WriteResult(file, "unchanged", None)
    if data is None:
        _atomic_write(file, json.dumps(new, indent=2, ensure_ascii=False) + "\n")
        return WriteResult(file, "created", None)
    action = "updated" if name in (data.get(top_key) or {}) else "added"
    backup = _backup(file)
    try:
        _atomic_write(file, json.dumps(new, indent=2, ensure_ascii=False) + "\n", private=private)
    except LsmError:
        backup.unlink(missing_ok=True)  # the file is unchanged: a backup of it would only mislead
        raise
    return WriteResult(file, action, backup)


def _reason(exc: BaseException) -> str:
    return str(getattr(exc, "strerror", None) or exc)


def _backup(file: Path) -> Path:
    """Copy ``file`` to ``<name>.lsm-backup-<UTC time>`` beside it (never over an older backup)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = file.with_name(f"{file.name}.lsm-backup-{stamp}")
    n = 1
    while target.exists():
        n += 1
        target = file.with_name(f"{file.name}.lsm-backup-{stamp}-{n}")
    try:
        shutil.copy2(file, target)
    except OSError as exc:
        raise LsmError(f"cannot back up {file} to {target} ({_reason(exc)}); nothing was changed") from None
    return target


def _make_private(file: Path) -> None:
    try:
        file.chmod(file.stat().st_mode & 0o700)
    except OSError as exc:
        raise LsmError(f"cannot make {file} private ({_reason(exc)}); it holds lsm's MCP token") from None


def _atomic_write(file: Path, text: str, *, private: bool = False) -> None:
    """Write a temporary file in the same folder and rename it over ``file``: a reader sees the old file
    or the new one, never half of one. The file keeps its permissions (0600 when new: it may hold paths
    and environment values), less group and other ones when ``private`` (it holds a token)."""
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        mode = file.stat().st_mode & 0o777 if file.exists() else 0o600
        mode = mode & 0o700 if private else mode
        fd, tmp = tempfile.mkstemp(prefix=f".{file.name}.", suffix=".tmp", dir=file.parent)
    except OSError as exc:
        raise LsmError(f"cannot write {file} ({_reason(exc)}); nothing was changed") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, file)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise LsmError(f"cannot write {file} ({_reason(exc)}); nothing was changed") from None
