"""`lsm mcp-config`: the entry for each client, where each client's file lives on each platform, and
`--write` on no file, a file with other servers, an invalid file and an unwritable folder (through the
real CLI in a fake HOME)."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeHome

from llm_session_manager import mcp_config

ARGS = ["-m", "llm_session_manager", "mcp-server"]


def desktop_file(fake: FakeHome) -> Path:
    return fake.home / ".config" / "Claude" / "claude_desktop_config.json"


def run(fake: FakeHome, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return fake.run("mcp-config", *args, **env)


def backups(file: Path) -> list[Path]:
    return sorted(file.parent.glob(f"{file.name}.lsm-backup-*"))


def leftovers(folder: Path) -> list[Path]:
    """Temporary files an interrupted write would leave behind."""
    return sorted(p for p in folder.iterdir() if p.name.endswith(".tmp"))


# ---------------------------------------------------------------------------------------------------
# The entry


def test_launch_uses_this_interpreter_and_passes_only_path_variables(tmp_path: Path) -> None:
    env = {
        "LSM_HOME": "data/lsm",  # relative: made absolute (Claude Desktop starts servers in /)
        "LSM_CONFIG": "~/lsm.yaml",
        "CLAUDE_CONFIG_DIR": "~/a,~/b",
        "CODEX_HOME": "",
        "ANTHROPIC_API_KEY": "sk-ant-secret",
        "HOME": str(tmp_path),
        "PATH": "/usr/bin",
    }
    spec = mcp_config.launch(env)
    assert spec.command == os.path.abspath(sys.executable) and os.path.isabs(spec.command)
    assert spec.args == tuple(ARGS)
    assert spec.env == {
        "LSM_HOME": os.path.abspath("data/lsm"),
        "LSM_CONFIG": os.path.expanduser("~/lsm.yaml"),
        "CLAUDE_CONFIG_DIR": os.path.expanduser("~/a,~/b"),
    }


def test_entries_per_client() -> None:
    spec = mcp_config.Launch("/venv/bin/python", tuple(ARGS), {"LSM_HOME": "/data"})
    plain = {"command": "/venv/bin/python", "args": ARGS, "env": {"LSM_HOME": "/data"}}
    assert mcp_config.document("claude-desktop", spec) == {"mcpServers": {"llm-session-manager": plain}}
    assert mcp_config.document("cursor", spec, "lsm") == {"mcpServers": {"lsm": plain}}
    assert mcp_config.document("vscode", spec) == {
        "servers": {"llm-session-manager": {"type": "stdio", **plain}}
    }
    bare = mcp_config.Launch("/venv/bin/python", tuple(ARGS), {})
    assert "env" not in mcp_config.entry("claude-desktop", bare)


def test_claude_code_command_line_is_quoted() -> None:
    spec = mcp_config.Launch("/Users/me/My Tools/venv/bin/python", tuple(ARGS), {"LSM_HOME": "/data dir"})
    assert mcp_config.claude_code_command(spec, platform="linux") == (
        "claude mcp add --transport stdio --scope user -e 'LSM_HOME=/data dir' llm-session-manager --"
        " '/Users/me/My Tools/venv/bin/python' -m llm_session_manager mcp-server"
    )
    win = mcp_config.Launch(r"C:\Program Files\lsm\python.exe", tuple(ARGS), {})
    assert mcp_config.claude_code_command(win, platform="win32") == (
        "claude mcp add --transport stdio --scope user llm-session-manager --"
        ' "C:\\Program Files\\lsm\\python.exe" -m llm_session_manager mcp-server'
    )


@pytest.mark.parametrize(
    "client, platform, env, expected",
    [
        ("claude-desktop", "darwin", {}, "H/Library/Application Support/Claude/claude_desktop_config.json"),
        ("claude-desktop", "win32", {"APPDATA": "R"}, "R/Claude/claude_desktop_config.json"),
        ("claude-desktop", "win32", {}, "H/AppData/Roaming/Claude/claude_desktop_config.json"),
        ("claude-desktop", "linux", {}, "H/.config/Claude/claude_desktop_config.json"),
        ("claude-desktop", "linux", {"XDG_CONFIG_HOME": "X"}, "X/Claude/claude_desktop_config.json"),
        ("cursor", "darwin", {}, "H/.cursor/mcp.json"),
        ("cursor", "win32", {"APPDATA": "R"}, "H/.cursor/mcp.json"),
        ("vscode", "darwin", {}, "H/Library/Application Support/Code/User/mcp.json"),
        ("vscode", "win32", {"APPDATA": "R"}, "R/Code/User/mcp.json"),
        ("vscode", "linux", {}, "H/.config/Code/User/mcp.json"),
    ],
)
def test_client_files(client: str, platform: str, env: dict[str, str], expected: str, tmp_path: Path) -> None:
    full = {"HOME": str(tmp_path / "H"), **{k: str(tmp_path / v) for k, v in env.items()}}
    assert mcp_config.config_file(client, full, platform) == tmp_path / expected


# ---------------------------------------------------------------------------------------------------
# Printing


def test_prints_the_entry_and_where_it_goes(fake_home: FakeHome) -> None:
    r = run(fake_home)
    assert r.returncode == 0, r.stderr
    entry = {
        "command": os.path.abspath(sys.executable),
        "args": ARGS,
        "env": {"LSM_HOME": str(fake_home.lsm_home)},
    }
    assert json.loads(r.stdout) == {"mcpServers": {"llm-session-manager": entry}}
    hint = "(or run: lsm mcp-config --client claude-desktop --write)"
    assert r.stderr == f"lsm: merge this into {desktop_file(fake_home)} {hint}\n"
    assert not desktop_file(fake_home).exists()
    path = run(fake_home, "--client", "vscode", "--format", "path")
    assert path.stdout == f"{fake_home.home / '.config' / 'Code' / 'User' / 'mcp.json'}\n"


def test_claude_code_gets_a_command_line(fake_home: FakeHome) -> None:
    r = run(fake_home, "--client", "claude-code")
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.startswith("claude mcp add --transport stdio --scope user -e LSM_HOME=")
    assert r.stdout.endswith(f" llm-session-manager -- {os.path.abspath(sys.executable)} {' '.join(ARGS)}\n")
    refused = run(fake_home, "--client", "claude-code", "--write")
    assert refused.returncode == 2 and refused.stdout == ""
    assert "Claude Code keeps its own MCP configuration" in refused.stderr


def test_bad_options_are_usage_errors(fake_home: FakeHome) -> None:
    for args, message in (
        (
            ("--client", "emacs"),
            "--client: unknown client 'emacs' (one of claude-desktop, claude-code, cursor, vscode)",
        ),
        (("--name", "my server"), "--name: give a name without spaces"),
        (("--format", "yaml"), "--format: unknown format 'yaml' (one of json, path)"),
    ):
        r = run(fake_home, *args)
        assert r.returncode == 2 and r.stderr == f"lsm: error: {message}\n", r.stderr


# ---------------------------------------------------------------------------------------------------
# --write


def test_write_creates_the_file(fake_home: FakeHome) -> None:
    r = run(fake_home, "--write")
    assert r.returncode == 0, r.stderr
    file = desktop_file(fake_home)
    data = json.loads(file.read_text())
    assert data == json.loads(r.stdout)
    assert data["mcpServers"]["llm-session-manager"]["command"] == os.path.abspath(sys.executable)
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert backups(file) == [] and leftovers(file.parent) == []
    assert f"lsm: created 'llm-session-manager' in {file}\n" in r.stderr


def test_write_keeps_other_servers_and_keys(fake_home: FakeHome, tmp_path: Path) -> None:
    file = desktop_file(fake_home)
    file.parent.mkdir(parents=True)
    old: dict[str, Any] = {
        "globalShortcut": "Ctrl+Space",
        "mcpServers": {
            "filesystem": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "/x"]},
            "llm-session-manager": {"command": "/old/python", "args": ["-m", "old"]},
            "weather": {"command": "uvx", "args": ["weather"], "env": {"API_KEY": "k"}},
        },
    }
    old_text = json.dumps(old, indent=4)
    file.write_text(old_text)
    file.chmod(0o640)
    r = run(fake_home, "--write")
    assert r.returncode == 0, r.stderr
    new = json.loads(file.read_text())
    assert new["globalShortcut"] == "Ctrl+Space"
    assert list(new["mcpServers"]) == ["filesystem", "llm-session-manager", "weather"]  # order kept
    assert new["mcpServers"]["filesystem"] == old["mcpServers"]["filesystem"]
    assert new["mcpServers"]["weather"] == old["mcpServers"]["weather"]
    assert new["mcpServers"]["llm-session-manager"]["command"] == os.path.abspath(sys.executable)
    assert stat.S_IMODE(file.stat().st_mode) == 0o640  # permissions kept
    [backup] = backups(file)
    assert backup.read_text() == old_text
    assert f"lsm: updated 'llm-session-manager' in {file} (the old file is in {backup})\n" in r.stderr
    # Run again: nothing to do, no second backup.
    again = run(fake_home, "--write")
    assert again.returncode == 0 and "nothing was changed" in again.stderr
    assert backups(file) == [backup]
    # Another data dir: the entry is updated, the previous file backed up.
    moved = run(fake_home, "--write", LSM_HOME=str(tmp_path / "elsewhere"))
    assert moved.returncode == 0, moved.stderr
    assert json.loads(file.read_text())["mcpServers"]["llm-session-manager"]["env"] == {
        "LSM_HOME": str(tmp_path / "elsewhere")
    }
    assert len(backups(file)) == 2 and leftovers(file.parent) == []


def test_write_adds_to_cursor_and_vscode_files(fake_home: FakeHome) -> None:
    cursor = fake_home.home / ".cursor" / "mcp.json"
    cursor.parent.mkdir()
    cursor.write_text('{"mcpServers": {"other": {"command": "x"}}}')
    assert run(fake_home, "--client", "cursor", "--write").returncode == 0
    assert list(json.loads(cursor.read_text())["mcpServers"]) == ["other", "llm-session-manager"]
    r = run(fake_home, "--client", "vscode", "--write", "--name", "lsm")
    assert r.returncode == 0, r.stderr
    vscode = json.loads((fake_home.home / ".config" / "Code" / "User" / "mcp.json").read_text())
    assert vscode["servers"]["lsm"]["type"] == "stdio" and "Reload VS Code" in r.stderr
    project = fake_home.home / "proj" / ".vscode" / "mcp.json"
    assert run(fake_home, "--client", "vscode", "--write", "--file", str(project)).returncode == 0
    assert "llm-session-manager" in json.loads(project.read_text())["servers"]


@pytest.mark.parametrize(
    "text, message",
    [
        (
            '{"mcpServers": {"a": {"command": "x"},}}',
            "not valid JSON (line 1, column 39: Expecting property name",
        ),
        ("// my servers\n{}", "not valid JSON (line 1, column 1: Expecting value)"),
        ('["not", "an", "object"]', "the top level must be a JSON object; it was left untouched"),
        ('{"mcpServers": ["a", "b"]}', "'mcpServers' must be a JSON object; it was left untouched"),
    ],
)
def test_write_refuses_an_invalid_file_and_leaves_it_untouched(
    fake_home: FakeHome, text: str, message: str
) -> None:
    file = desktop_file(fake_home)
    file.parent.mkdir(parents=True)
    file.write_text(text)
    before = file.stat()
    r = run(fake_home, "--write")
    assert r.returncode == 1 and r.stdout == ""
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"lsm: error: {file}: {message}"), r.stderr
    assert file.read_text() == text and file.stat().st_mtime_ns == before.st_mtime_ns
    assert backups(file) == [] and leftovers(file.parent) == []


def _without_dac(command: list[str]) -> list[str]:
    """Root ignores permission bits: drop the capabilities that let it (setpriv, util-linux)."""
    if os.geteuid() != 0:
        return command
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root without setpriv: folder permissions cannot be enforced")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search,-fowner", *command]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
@pytest.mark.parametrize("existing", [True, False])
def test_write_into_an_unwritable_folder_is_a_clear_error(fake_home: FakeHome, existing: bool) -> None:
    file = desktop_file(fake_home)
    file.parent.mkdir(parents=True)
    text = '{"mcpServers": {"other": {"command": "x"}}}'
    if existing:
        file.write_text(text)
    file.parent.chmod(0o555)
    try:
        r = subprocess.run(
            _without_dac([sys.executable, "-m", "llm_session_manager", "mcp-config", "--write"]),
            env=fake_home.env(),
            capture_output=True,
            text=True,
            timeout=60,
            cwd=str(fake_home.home),
        )
    finally:
        file.parent.chmod(0o755)
    assert r.returncode == 1 and r.stdout == "" and "Traceback" not in r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("lsm: error: cannot "), r.stderr
    assert "Permission denied" in lines[0] and lines[0].endswith("nothing was changed")
    if existing:
        assert file.read_text() == text
    else:
        assert not file.exists()
    assert backups(file) == [] and leftovers(file.parent) == []
