"""Tests for llm_session_manager.discovery.

Pure functions are table-tested: every agent's signature (positives and false positives), the
Codex rollout helpers and the tree rules (wrappers, re-launchers, editor helpers). ``scan_processes``
is tested against REAL child processes shaped like each agent — an interpreter symlinked as
``…/bin/claude``, ``…/bin/codex`` (holding its rollout file open), ``…/@github/copilot-…/copilot``,
an Electron-like ``cursor``/``code`` main process with dozens of ``--type=`` helpers, the real
``node`` running fake npm launchers, Gemini's self-relaunch and the ``cursor-agent`` bash wrapper's
``exec -a`` — and like the usual false positives; psutil is never mocked (only spied on once).
Every spawned process is killed by a finalizer.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psutil
import pytest

from llm_session_manager.discovery import (
    Candidate,
    _redundant,
    _Seen,
    classify,
    link_sessions,
    parse_proc_stat_start,
    parse_status_file,
    pick_rollout,
    proc_start_matches,
    rollout_session_id,
    scan_processes,
    session_hint_from_argv,
)
from llm_session_manager.models import Process

FAKE_AGENTS = Path(__file__).parent / "fake_agents"
PYTHON = os.path.realpath(sys.executable)
NODE = shutil.which("node")
IS_LINUX = sys.platform.startswith("linux")
POSIX = os.name == "posix"

ID_A = "11111111-1111-4111-8111-111111111111"
ID_B = "22222222-2222-4222-8222-222222222222"
ID_C = "33333333-3333-4333-8333-333333333333"
ID_D = "44444444-4444-4444-8444-444444444444"

VERSIONS = "/home/u/.local/share/claude/versions"
CLI_JS = "/usr/lib/node_modules/@anthropic-ai/claude-code/cli.js"

# --------------------------------------------------------------------------------------------
# classify: positives and false positives
# --------------------------------------------------------------------------------------------

CLAUDE_CASES: list[tuple[str, str | None, str | None, list[str]]] = [
    ("native via ~/.local/bin", "claude", f"{VERSIONS}/2.1.144", ["/home/u/.local/bin/claude"]),
    ("bare argv0", "claude", None, ["claude"]),
    ("native with flags", "claude", f"{VERSIONS}/2.1.144", ["claude", "--resume", ID_A, "--model", "opus"]),
    ("headless print mode", "claude", None, ["claude", "-p", "summarise this repo"]),
    ("prompt that reads like a subcommand", "claude", None, ["claude", "daemon run"]),
    ("macOS name is the version", "2.1.144", f"{VERSIONS}/2.1.144", ["claude"]),
    ("started by its version path", "2.1.144", f"{VERSIONS}/2.1.144", [f"{VERSIONS}/2.1.144"]),
    ("argv unreadable, exe known", "2.1.144", f"{VERSIONS}/2.1.144", []),
    ("argv unreadable, name known", "claude", None, []),
    (
        "windows native",
        "claude.exe",
        r"C:\Users\u\.local\bin\claude.exe",
        [r"C:\Users\u\.local\bin\claude.exe", "--continue"],
    ),
    ("npm cli.js", "node", "/usr/bin/node", ["node", CLI_JS]),
    ("npm cli.js, full node path", "node", "/usr/bin/node", ["/usr/bin/node", CLI_JS, "-c"]),
    (
        "npm cli.js after node options",
        "node",
        "/usr/bin/node",
        ["node", "--max-old-space-size=8192", "--require", "/x/preload.js", CLI_JS, "--resume", ID_A],
    ),
    (
        "older ~/.claude/local install",
        "node",
        "/usr/bin/node",
        ["node", "/home/u/.claude/local/node_modules/@anthropic-ai/claude-code/cli.js"],
    ),
    ("npm bin symlink", "node", "/usr/bin/node", ["node", "/usr/local/bin/claude", "--continue"]),
    ("npx cache bin", "node", "/usr/bin/node", ["node", "/home/u/.npm/_npx/ab12/node_modules/.bin/claude"]),
    ("process.title rewritten", "claude", "/usr/bin/node", ["claude"]),
    ("bun runs cli.js", "bun", "/home/u/.bun/bin/bun", ["bun", CLI_JS]),
    (
        "windows npm",
        "node.exe",
        r"C:\Program Files\nodejs\node.exe",
        [
            r"C:\Program Files\nodejs\node.exe",
            r"C:\Users\u\AppData\Roaming\npm\node_modules\@anthropic-ai\claude-code\cli.js",
        ],
    ),
]

NOT_CLAUDE_CASES: list[tuple[str, str | None, str | None, list[str]]] = [
    ("claude daemon run", "claude", f"{VERSIONS}/2.1.170", ["claude", "daemon", "run"]),
    ("daemon by version path", "2.1.170", f"{VERSIONS}/2.1.170", [f"{VERSIONS}/2.1.170", "daemon", "run"]),
    ("daemon via npm", "node", "/usr/bin/node", ["node", CLI_JS, "daemon", "run"]),
    ("bg pty host", "claude", f"{VERSIONS}/2.1.170", [f"{VERSIONS}/2.1.170", "--bg-pty-host", "--fd=3"]),
    ("bg spare", "claude", f"{VERSIONS}/2.1.170", ["claude", "--bg-spare"]),
    ("bg flag with value", "claude", None, ["claude", "--bg-pty-host=7"]),
    ("claude mcp serve", "claude", None, ["claude", "mcp", "serve"]),
    ("claude doctor", "claude", None, ["claude", "doctor"]),
    ("embedded ripgrep via argv0 rg", "rg", f"{VERSIONS}/2.1.170", ["rg", "--files", "/home/u/p"]),
    ("embedded ripgrep flag", "claude", f"{VERSIONS}/2.1.170", [f"{VERSIONS}/2.1.170", "--ripgrep", "-l"]),
    (
        "desktop app",
        "Claude",
        "/Applications/Claude.app/Contents/MacOS/Claude",
        ["/Applications/Claude.app/Contents/MacOS/Claude"],
    ),
    (
        "desktop app helper",
        "Claude Helper",
        "/Applications/Claude.app/Contents/Frameworks/Claude Helper.app/Contents/MacOS/Claude Helper",
        [
            "/Applications/Claude.app/Contents/Frameworks/Claude Helper.app/Contents/MacOS/Claude Helper",
            "--type=utility",
        ],
    ),
    (
        "desktop MCP server via bundled launcher",
        "disclaimer",
        "/Applications/Claude.app/Contents/Helpers/disclaimer",
        ["/Applications/Claude.app/Contents/Helpers/disclaimer", "node", "/x/server/index.js"],
    ),
    (
        "claude binary inside the desktop bundle",
        "claude",
        "/Applications/Claude.app/Contents/Resources/claude",
        ["/Applications/Claude.app/Contents/Resources/claude", "mcp-server"],
    ),
    (
        "windows desktop app",
        "Claude.exe",
        r"C:\Users\u\AppData\Local\AnthropicClaude\app-0.9.0\Claude.exe",
        [r"C:\Users\u\AppData\Local\AnthropicClaude\app-0.9.0\Claude.exe"],
    ),
    ("Electron name on linux", "Claude", "/opt/Claude/claude-desktop", ["/opt/Claude/Claude"]),
    ("claude-squad", "claude-squad", "/usr/local/bin/claude-squad", ["claude-squad"]),
    ("ccusage binary", "ccusage", None, ["ccusage", "daily"]),
    (
        "ccusage via npx",
        "node",
        "/usr/bin/node",
        ["node", "/home/u/.npm/_npx/x/node_modules/ccusage/dist/index.js", "blocks", "--live"],
    ),
    ("grep", "grep", "/usr/bin/grep", ["grep", "-r", "claude", "."]),
    ("pgrep -f", "pgrep", "/usr/bin/pgrep", ["pgrep", "-f", "claude"]),
    ("tail a transcript", "tail", "/usr/bin/tail", ["tail", "-f", "/home/u/.claude/projects/-p/x.jsonl"]),
    ("less", "less", "/usr/bin/less", ["less", "claude.log"]),
    ("vim on cli.js", "vim", "/usr/bin/vim", ["vim", CLI_JS]),
    (
        "playwright MCP in claude-tools",
        "node",
        "/usr/bin/node",
        ["node", "/home/u/claude-tools/node_modules/@playwright/test/cli.js", "test"],
    ),
    ("npm exec wrapper", "npm", "/usr/bin/node", ["npm", "exec", "@anthropic-ai/claude-code"]),
    ("npx wrapper", "node", "/usr/bin/node", ["node", "/usr/bin/npx", "@anthropic-ai/claude-code"]),
    ("npm install", "npm", "/usr/bin/node", ["npm", "install", "-g", "@anthropic-ai/claude-code"]),
    ("node with claude as an argument", "node", "/usr/bin/node", ["node", "server.js", "claude"]),
    ("node eval mentioning claude", "node", "/usr/bin/node", ["node", "-e", "console.log('claude')"]),
    ("node eval of the word claude", "node", "/usr/bin/node", ["node", "-e", "claude"]),
    (
        "node print then a claude arg",
        "node",
        "/usr/bin/node",
        ["node", "--print", "1", "/usr/local/bin/claude"],
    ),
    (
        "lookalike package",
        "node",
        "/usr/bin/node",
        ["node", "/usr/lib/node_modules/@anthropic-ai/claude-code-router/cli.js"],
    ),
    ("other scope", "node", "/usr/bin/node", ["node", "/x/node_modules/not-anthropic-ai/claude-code/cli.js"]),
    (
        "Claude Code's own Bash tool shell",
        "bash",
        "/usr/bin/bash",
        ["/bin/bash", "-c", "-l", "source /home/u/.claude/shell-snapshots/snapshot-bash-1.sh && eval 'ls'"],
    ),
    ("python mentioning claude", "python3", "/usr/bin/python3", ["python3", "-c", "print('claude')"]),
    ("python script named claude.py", "python3", "/usr/bin/python3", ["python3", "claude.py"]),
    ("lookalike names", "claudette", None, ["claudette"]),
    ("claude-code is not the binary name", "claude-code", None, ["claude-code"]),
    ("capitalised on linux", "Claude", None, ["/usr/bin/Claude"]),
    ("empty", None, None, []),
]


@pytest.mark.parametrize(("label", "name", "exe", "cmdline"), CLAUDE_CASES, ids=[c[0] for c in CLAUDE_CASES])
def test_classify_recognises_claude_code(
    label: str, name: str | None, exe: str | None, cmdline: list[str]
) -> None:
    assert classify(name, exe, cmdline) == "claude-code"


@pytest.mark.parametrize(
    ("label", "name", "exe", "cmdline"), NOT_CLAUDE_CASES, ids=[c[0] for c in NOT_CLAUDE_CASES]
)
def test_classify_rejects_false_positives(
    label: str, name: str | None, exe: str | None, cmdline: list[str]
) -> None:
    assert classify(name, exe, cmdline) is None


def test_classify_uses_the_signature_table() -> None:
    from llm_session_manager.discovery import AgentSignature

    aider = AgentSignature(agent="aider", programs=frozenset({"aider"}))
    assert classify("aider", None, ["aider"], signatures=(aider,)) == "aider"
    assert classify("claude", None, ["claude"], signatures=(aider,)) is None


# --------------------------------------------------------------------------------------------
# classify: the other agents
# --------------------------------------------------------------------------------------------

NPM = "/usr/lib/node_modules"
CODEX_NATIVE = f"{NPM}/@openai/codex-linux-x64/vendor/x86_64-unknown-linux-musl/codex/codex"
CA_VER = "/home/u/.local/share/cursor-agent/versions/2026.01.28-fd13201"
CA_INDEX = f"{CA_VER}/index.js"
VSC_MAC = "/Applications/Visual Studio Code.app/Contents/MacOS/Electron"
CURSOR_MAC = "/Applications/Cursor.app/Contents/MacOS/Cursor"

AgentCase = tuple[str, str, str | None, str | None, list[str]]

AGENT_CASES: list[AgentCase] = [
    # Codex: the native binary under any install, the npm launcher, the old JS CLI.
    ("codex: bare", "codex", "codex", "/opt/homebrew/bin/codex", ["codex"]),
    ("codex: argv unreadable", "codex", "codex", None, []),
    ("codex: npm native child", "codex", "codex", CODEX_NATIVE, [CODEX_NATIVE, "--yolo"]),
    (
        "codex: older npm native, target triple",
        "codex",
        "codex-x86_64-unknown-linux-musl",
        None,
        [f"{NPM}/@openai/codex/bin/codex-x86_64-unknown-linux-musl"],
    ),
    ("codex: macOS triple", "codex", None, None, ["/x/bin/codex-aarch64-apple-darwin", "exec", "go"]),
    ("codex: windows", "codex", "codex.exe", None, [r"C:\Users\u\AppData\Roaming\npm\codex.exe"]),
    ("codex: npm launcher", "codex", "node", "/usr/bin/node", ["node", f"{NPM}/@openai/codex/bin/codex.js"]),
    ("codex: npm bin symlink", "codex", "node", "/usr/bin/node", ["node", "/usr/local/bin/codex", "--yolo"]),
    ("codex: 2025 JS CLI", "codex", "node", "/usr/bin/node", ["node", f"{NPM}/@openai/codex/dist/cli.js"]),
    ("codex: exec is a session", "codex", "codex", None, ["codex", "exec", "fix the tests"]),
    ("codex: resume is a session", "codex", "codex", None, ["codex", "resume", ID_A]),
    (
        "codex: prompt mentions app-server",
        "codex",
        "codex",
        None,
        ["codex", "--yolo", "start the app-server"],
    ),
    ("codex: option values before a prompt", "codex", "codex", None, ["codex", "-m", "gpt-5", "mcp tips?"]),
    # Gemini CLI: node on the bin symlink or the package entry, before and after its re-launch.
    ("gemini: bin symlink", "gemini", "node", "/usr/bin/node", ["node", "/usr/local/bin/gemini"]),
    (
        "gemini: re-launched child",
        "gemini",
        "node",
        "/usr/bin/node",
        ["/usr/bin/node", "--max-old-space-size=8192", "/usr/local/bin/gemini", "--yolo"],
    ),
    (
        "gemini: package entry",
        "gemini",
        "node",
        "/usr/bin/node",
        ["node", f"{NPM}/@google/gemini-cli/dist/index.js"],
    ),
    (
        "gemini: homebrew libexec",
        "gemini",
        "node",
        "/opt/homebrew/bin/node",
        [
            "node",
            "/opt/homebrew/Cellar/gemini-cli/0.9/libexec/lib/node_modules/@google/gemini-cli/dist/index.js",
        ],
    ),
    (
        "gemini: npx cache",
        "gemini",
        "node",
        "/usr/bin/node",
        ["node", "/h/.npm/_npx/1a/node_modules/.bin/gemini"],
    ),
    (
        "gemini: resume",
        "gemini",
        "node",
        "/usr/bin/node",
        ["node", "/usr/local/bin/gemini", "--resume", "latest"],
    ),
    # Aider: Python on the console script, -m aider, or a launcher named aider.
    (
        "aider: console script",
        "aider",
        "aider",
        "/usr/bin/python3.12",
        ["/usr/bin/python3", "/h/.local/bin/aider"],
    ),
    (
        "aider: pipx venv python",
        "aider",
        "aider",
        "/h/.local/share/pipx/venvs/aider-chat/bin/python3.12",
        ["/h/.local/share/pipx/venvs/aider-chat/bin/python", "/h/.local/bin/aider", "--model", "sonnet"],
    ),
    ("aider: -m aider", "aider", "python3", None, ["python3", "-m", "aider"]),
    ("aider: -m attached", "aider", "python3", None, ["python3.11", "-maider", "--yes"]),
    (
        "aider: -m aider.main after flags",
        "aider",
        "python3",
        None,
        ["python3", "-u", "-X", "utf8", "-m", "aider.main"],
    ),
    (
        "aider: -W value before the script",
        "aider",
        "python3",
        None,
        ["python3", "-W", "ignore", "/v/bin/aider"],
    ),
    (
        "aider: windows launcher's python",
        "aider",
        "python.exe",
        None,
        [r"C:\Python312\python.exe", r"C:\Python312\Scripts\aider.exe", "--model", "x"],
    ),
    ("aider: windows launcher", "aider", "aider.exe", None, [r"C:\Python312\Scripts\aider.exe"]),
    # Cursor Agent CLI: the wrapper exec's the bundled node with argv[0] set to its own path.
    (
        "cursor-agent: wrapper exec -a",
        "cursor-agent",
        "node",
        f"{CA_VER}/node",
        ["/home/u/.local/bin/cursor-agent", "--use-system-ca", CA_INDEX, "--resume", ID_A],
    ),
    (
        "cursor-agent: called as agent",
        "cursor-agent",
        "node",
        f"{CA_VER}/node",
        ["/h/.local/bin/agent", CA_INDEX],
    ),
    (
        "cursor-agent: homebrew node",
        "cursor-agent",
        "node",
        "/opt/homebrew/bin/node",
        ["node", CA_INDEX, "-p", "fix the build"],
    ),
    (
        "cursor-agent: container layout",
        "cursor-agent",
        "node",
        "/opt/cursor-agent/versions/v1/dist-package/node",
        ["/usr/local/bin/agent", "/opt/cursor-agent/versions/v1/dist-package/index.js"],
    ),
    (
        "cursor-agent: linked as `cursor` (its docker layout)",
        "cursor-agent",
        "node",
        "/opt/cursor-agent/versions/v1/dist-package/node",
        ["cursor", "--use-system-ca", "/opt/cursor-agent/versions/v1/dist-package/index.js"],
    ),
    (
        "cursor-agent: agent subcommand",
        "cursor-agent",
        "node",
        f"{CA_VER}/node",
        ["cursor-agent", CA_INDEX, "agent"],
    ),
    # The Cursor IDE: the Electron main process only.
    (
        "cursor: deb",
        "cursor",
        "cursor",
        "/usr/share/cursor/cursor",
        ["/usr/share/cursor/cursor", "--no-sandbox"],
    ),
    ("cursor: AppImage", "cursor", "cursor", None, ["/tmp/.mount_CursorAb12/cursor"]),
    ("cursor: macOS", "cursor", "Cursor", CURSOR_MAC, [CURSOR_MAC]),
    (
        "cursor: windows",
        "cursor",
        "Cursor.exe",
        None,
        [r"C:\Users\u\AppData\Local\Programs\cursor\Cursor.exe"],
    ),
    ("cursor: opened on a folder", "cursor", "cursor", None, ["/usr/share/cursor/cursor", "/home/u/project"]),
    # Copilot CLI: the native binary; the npm loader (dropped later as its wrapper).
    ("copilot-cli: native", "copilot-cli", "copilot", None, [f"{NPM}/@github/copilot-linux-x64/copilot"]),
    ("copilot-cli: resume", "copilot-cli", "copilot", None, ["/h/.local/bin/copilot", f"--resume={ID_B}"]),
    (
        "copilot-cli: npm loader",
        "copilot-cli",
        "node",
        "/usr/bin/node",
        ["node", f"{NPM}/@github/copilot/npm-loader.js"],
    ),
    ("copilot-cli: npm bin", "copilot-cli", "node", "/usr/bin/node", ["node", "/usr/local/bin/copilot"]),
    (
        "copilot-cli: prompt mode",
        "copilot-cli",
        "copilot",
        None,
        ["copilot", "-p", "fix it", "--allow-all-tools"],
    ),
    # VS Code, standing for GitHub Copilot (and Cline / Roo inside it).
    ("vscode: linux", "copilot", "code", "/usr/share/code/code", ["/usr/share/code/code", "--unity-launch"]),
    ("vscode: snap", "copilot", "code", None, ["/snap/code/190/usr/share/code/code", "--no-sandbox", "."]),
    ("vscode: insiders", "copilot", "code-insiders", None, ["/usr/share/code-insiders/code-insiders"]),
    ("vscodium", "copilot", "codium", None, ["/usr/share/codium/codium"]),
    ("vscode: macOS Electron", "copilot", "Electron", VSC_MAC, [VSC_MAC]),
    ("vscode: macOS, argv unreadable", "copilot", "Electron", VSC_MAC, []),
    (
        "vscode: windows",
        "copilot",
        "Code.exe",
        None,
        [r"C:\Users\u\AppData\Local\Programs\Microsoft VS Code\Code.exe"],
    ),
]

NOT_AGENT_CASES: list[tuple[str, str | None, str | None, list[str]]] = [
    # Codex servers, utilities, helpers and lookalikes.
    ("codex app-server", "codex", None, ["codex", "app-server", "--listen", "unix://"]),
    ("codex app-server daemon", "codex", None, ["codex", "app-server", "daemon", "pid-update-loop"]),
    (
        "codex app-server after a -c value (IDE extension)",
        "codex",
        None,
        ["codex", "-c", "features.code_mode_host=true", "app-server", "--analytics-default-enabled"],
    ),
    (
        "codex in the VS Code extension",
        "codex",
        None,
        ["/h/.vscode/extensions/openai.chatgpt-26.5/bin/linux-x86_64/codex", "app-server"],
    ),
    ("codex mcp-server", "codex", None, ["codex", "mcp-server"]),
    ("codex mcp list", "codex", None, ["codex", "mcp", "list"]),
    ("codex login", "codex", None, ["codex", "login"]),
    (
        "codex via npm, app-server",
        "node",
        "/usr/bin/node",
        ["node", f"{NPM}/@openai/codex/bin/codex.js", "app-server"],
    ),
    (
        "codex inside ChatGPT.app",
        "codex",
        "/Applications/ChatGPT.app/Contents/Resources/codex",
        ["/Applications/ChatGPT.app/Contents/Resources/codex", "--orphaned-helper"],
    ),
    ("codex desktop app", "codex", None, ["/Applications/Codex.app/Contents/Resources/codex", "exec"]),
    (
        "codex-linux-sandbox arg0 helper",
        "codex-linux-sandbox",
        CODEX_NATIVE,
        ["codex-linux-sandbox", "--", "ls"],
    ),
    ("apply_patch arg0 helper", "apply_patch", CODEX_NATIVE, ["apply_patch", "*** Begin Patch"]),
    ("codex-execve-wrapper", "codex-execve-wrapper", None, ["codex-execve-wrapper", "ls"]),
    ("codexbar", "codexbar", None, ["codexbar"]),
    ("codex-subagent tool", "node", "/usr/bin/node", ["node", "/h/.codex/skills/x/codex-subagent", "start"]),
    ("other triple-like name", "codex-foo-bar", None, ["codex-foo-bar"]),
    (
        "tail of a rollout",
        "tail",
        "/usr/bin/tail",
        ["tail", "-f", "/h/.codex/sessions/2026/05/01/rollout-x.jsonl"],
    ),
    # Gemini lookalikes and utilities.
    ("gemini mcp list", "node", "/usr/bin/node", ["node", "/usr/local/bin/gemini", "mcp", "list"]),
    (
        "gemini extensions",
        "node",
        "/usr/bin/node",
        ["node", "/usr/local/bin/gemini", "--debug", "extensions", "list"],
    ),
    (
        "gemini acp server (Zed)",
        "node",
        "/usr/bin/node",
        ["node", "/usr/local/bin/gemini", "--experimental-acp"],
    ),
    ("gemini-tools package", "node", "/usr/bin/node", ["node", "/x/node_modules/gemini-tools/cli.js"]),
    ("google genai sdk script", "node", "/usr/bin/node", ["node", "/x/@google/genai/dist/index.js"]),
    ("gemini as an argument", "node", "/usr/bin/node", ["node", "server.js", "gemini"]),
    ("gemini.js is not gemini", "node", "/usr/bin/node", ["node", "/x/bin/gemini.js"]),
    ("lookalike name", "gemini-cli-proxy", None, ["gemini-cli-proxy"]),
    # Aider lookalikes.
    ("aider.py", "python3", None, ["python3", "aider.py"]),
    ("script in an aider folder", "python3", None, ["python3", "/src/aider/tool.py"]),
    ("-m aider_helper", "python3", None, ["python3", "-m", "aider_helper"]),
    ("-m aider.tests", "python3", None, ["python3", "-m", "aider.tests"]),
    ("-c import aider", "python3", None, ["python3", "-c", "import aider; aider.main()"]),
    ("pip install aider-chat", "python3", None, ["python3", "-m", "pip", "install", "aider-chat"]),
    ("aider-install", "python3", None, ["python3", "/h/.local/bin/aider-install"]),
    ("aider as an argument", "python3", None, ["python3", "run.py", "aider"]),
    ("aider after -W's value", "python3", None, ["python3", "-W", "aider"]),
    ("node running aider", "node", "/usr/bin/node", ["node", "/x/bin/aider"]),
    ("vim on aider", "vim", "/usr/bin/vim", ["vim", "/h/.local/bin/aider"]),
    # Cursor agent helpers and utilities.
    ("cursor-agent worker-server", "node", f"{CA_VER}/node", [f"{CA_VER}/node", CA_INDEX, "worker-server"]),
    (
        "cursor-agent worker (IDE / My Machines host)",
        "node",
        f"{CA_VER}/node",
        ["/h/.local/bin/cursor-agent", "--use-system-ca", CA_INDEX, "worker", "start", "--worker-dir", "/p"],
    ),
    ("cursor-agent worker, options first", "node", f"{CA_VER}/node", ["agent", CA_INDEX, "--pool", "worker"]),
    ("cursor-agent acp", "node", f"{CA_VER}/node", ["/h/.local/bin/cursor-agent", CA_INDEX, "acp"]),
    ("cursor-agent login", "node", f"{CA_VER}/node", ["/h/.local/bin/cursor-agent", CA_INDEX, "login"]),
    ("cursor-agent mcp", "node", f"{CA_VER}/node", ["cursor-agent", CA_INDEX, "mcp", "list"]),
    ("index.js outside versions", "node", "/usr/bin/node", ["node", "/h/.local/share/cursor-agent/index.js"]),
    ("another app's index.js", "node", "/usr/bin/node", ["node", "/srv/app/versions/1/index.js"]),
    # Electron helpers, the CLI launcher and lookalikes of the editors.
    ("cursor renderer", "cursor", None, ["/usr/share/cursor/cursor", "--type=renderer", "--app-path=/x"]),
    ("cursor zygote", "cursor", None, ["/usr/share/cursor/cursor", "--type=zygote", "--no-zygote-sandbox"]),
    ("cursor gpu", "cursor", None, ["/usr/share/cursor/cursor", "--type=gpu-process"]),
    (
        "cursor extension host",
        "cursor",
        None,
        ["/usr/share/cursor/cursor", "--type=utility", "--utility-sub-type=node.mojom.NodeService"],
    ),
    (
        "cursor macOS helper",
        "Cursor Helper (Renderer)",
        None,
        [
            "/Applications/Cursor.app/Contents/Frameworks/Cursor Helper (Renderer).app/Contents/MacOS/"
            "Cursor Helper (Renderer)",
            "--type=renderer",
        ],
    ),
    ("cursor macOS plugin helper", "Cursor Helper (Plugin)", None, ["Cursor Helper (Plugin)"]),
    (
        "cursor CLI launcher",
        "cursor",
        None,
        [
            "/usr/share/cursor/cursor",
            "/usr/share/cursor/resources/app/out/cli.js",
            "--wait",
            "COMMIT_EDITMSG",
        ],
    ),
    (
        "vscode CLI launcher (run as node)",
        "code",
        None,
        [
            "/usr/share/code/code",
            "--ms-enable-electron-run-as-node",
            "/usr/share/code/resources/app/out/cli.js",
            ".",
        ],
    ),
    (
        "vscode old extension host",
        "code",
        None,
        [
            "/usr/share/code/code",
            "--ms-enable-electron-run-as-node",
            "/x/bootstrap-fork",
            "--type=extensionHost",
        ],
    ),
    (
        "vscode pty host",
        "code",
        None,
        ["/usr/share/code/code", "--type=utility", "--utility-sub-type=ptyHost"],
    ),
    (
        "vscode macOS helper",
        "Code Helper (Plugin)",
        None,
        ["/A/Code Helper (Plugin).app/Contents/MacOS/Code Helper"],
    ),
    ("another app's Electron", "Electron", "/Applications/Slack.app/Contents/MacOS/Electron", []),
    ("plain electron", "electron", "/usr/bin/electron", ["/usr/bin/electron", "/usr/lib/code/out/main.js"]),
    ("code-server", "node", "/usr/bin/node", ["node", "/usr/lib/code-server/out/node/entry.js"]),
    ("code-tunnel", "code-tunnel", None, ["/usr/share/code/bin/code-tunnel", "tunnel"]),
    ("copilot language server", "copilot-language-server", None, ["copilot-language-server", "--stdio"]),
    ("cursor as a word", "python3", None, ["python3", "-c", "print('cursor')"]),
    # Copilot CLI utilities, ACP and the unrelated AWS Copilot CLI.
    ("copilot --acp", "copilot", None, ["copilot", "--acp"]),
    ("copilot login", "copilot", None, ["copilot", "login"]),
    ("aws copilot svc logs", "copilot", None, ["/usr/local/bin/copilot", "svc", "logs", "--follow"]),
    ("aws copilot deploy", "copilot", None, ["copilot", "deploy", "--env", "test"]),
    ("copilot-cli lookalike", "node", "/usr/bin/node", ["node", "/x/node_modules/copilot-api/dist/main.js"]),
]


@pytest.mark.parametrize(
    ("label", "agent", "name", "exe", "cmdline"), AGENT_CASES, ids=[c[0] for c in AGENT_CASES]
)
def test_classify_recognises_every_agent(
    label: str, agent: str, name: str | None, exe: str | None, cmdline: list[str]
) -> None:
    assert classify(name, exe, cmdline) == agent


@pytest.mark.parametrize(
    ("label", "name", "exe", "cmdline"), NOT_AGENT_CASES, ids=[c[0] for c in NOT_AGENT_CASES]
)
def test_classify_rejects_other_agents_false_positives(
    label: str, name: str | None, exe: str | None, cmdline: list[str]
) -> None:
    assert classify(name, exe, cmdline) is None


def test_every_agent_of_the_registry_has_a_signature_or_a_reason() -> None:
    from llm_session_manager.agents import agent_names, agent_signatures

    agents = {sig.agent for sig in agent_signatures()}
    assert agents == {
        "claude-code",
        "codex",
        "gemini",
        "aider",
        "cursor-agent",
        "cursor",
        "copilot-cli",
        "copilot",
    }
    # Cline (and Roo) run inside VS Code: the "copilot" row stands for them, no process of their own.
    assert set(agent_names()) - agents == {"cline"}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (f"/h/.codex/sessions/2026/05/01/rollout-2026-05-01T12-00-00-{ID_A}.jsonl", ID_A),
        (f"/h/.codex/sessions/2026/05/01/rollout-2026-05-01T12-00-00-{ID_A.upper()}.jsonl", ID_A),
        (r"C:\Users\u\.codex\sessions\2026\05\01\rollout-2026-05-01T12-00-00-" + ID_B + ".jsonl", ID_B),
        (f"/custom-home/sessions/2026/12/31/rollout-x-{ID_C}.jsonl", ID_C),
        (f"/h/.codex/archived_sessions/rollout-2026-05-01T12-00-00-{ID_A}.jsonl", None),
        (f"/h/.codex/sessions/2026/05/rollout-2026-05-01T12-00-00-{ID_A}.jsonl", None),
        (f"/h/.codex/sessions/2026/05/01/rollout-2026-05-01T12-00-00-{ID_A}.jsonl.bak", None),
        (f"/h/.codex/sessions/2026/05/01/session-{ID_A}.jsonl", None),
        ("/h/.codex/log/codex-tui.log", None),
        ("/h/.codex/history.jsonl", None),
    ],
)
def test_rollout_session_id(path: str, expected: str | None) -> None:
    assert rollout_session_id(path) == expected


def _rollout(root: Path, native_id: str, source: object, *, mtime: float) -> str:
    day = root / "sessions" / "2026" / "05" / "01"
    day.mkdir(parents=True, exist_ok=True)
    path = day / f"rollout-2026-05-01T12-00-00-{native_id}.jsonl"
    meta = {"type": "session_meta", "payload": {"id": native_id, "cwd": "/p", "source": source}}
    path.write_text(json.dumps(meta) + "\n")
    os.utime(path, (mtime, mtime))
    return str(path)


def test_pick_rollout(tmp_path: Path) -> None:
    main = _rollout(tmp_path, ID_A, "cli", mtime=1000)
    sub = _rollout(tmp_path, ID_B, {"subagent": {"thread_spawn": {"parent_thread_id": ID_A}}}, mtime=2000)
    newer = _rollout(tmp_path, ID_C, "cli", mtime=3000)  # after /new, while the old one is still open
    log = str(tmp_path / "codex-tui.log")
    assert pick_rollout([]) is None
    assert pick_rollout([log]) is None
    assert pick_rollout([main, log, main]) == main
    assert pick_rollout([sub]) == sub  # a lone file is taken as it is
    assert pick_rollout([sub, main]) == main  # the sub-agent's thread is newer but not the session
    assert pick_rollout([main, sub, newer]) == newer
    broken = _rollout(tmp_path, ID_D, "cli", mtime=500)
    Path(broken).write_text("{not json\n")
    os.utime(broken, (4000, 4000))
    assert pick_rollout([sub, broken]) == broken  # unreadable meta counts as top-level


@pytest.mark.parametrize(
    ("cmdline", "expected"),
    [
        (["codex", "resume", ID_A], ID_A),
        (["codex", "exec", "resume", ID_B, "go on"], ID_B),
        (["codex", "-m", "gpt-5", "resume", ID_A], ID_A),
        (["codex", "resume", "--last"], None),
        (["codex", "resume"], None),
        (["codex", "fork", ID_A], None),
        (["codex", "exec", "resume the work on", ID_A], None),
        (["codex", ID_A], None),
    ],
)
def test_codex_resume_subcommand_hint(cmdline: list[str], expected: str | None) -> None:
    from llm_session_manager.agents.codex import INFO
    from llm_session_manager.discovery import _resume_subcommand_hint

    assert INFO.signature is not None
    assert _resume_subcommand_hint(INFO.signature, cmdline[1:]) == expected


# --------------------------------------------------------------------------------------------
# One row per session, one per editor app: the tree rules
# --------------------------------------------------------------------------------------------


def seen(pid: int, ppid: int | None, agent: str, created: float, *, status_file: bool = False) -> _Seen:
    process = Process(pid=pid, agent=agent, cwd="/p", started_at=None, cpu_pct=None, rss_bytes=None)
    return _Seen(pid, ppid, created, process, status_file)


TreeCase = tuple[str, list[_Seen], dict[int, int | None], set[int]]

TREE_CASES: list[TreeCase] = [
    (
        "npm launcher and its native child: the launcher goes",
        [seen(10, 1, "codex", 0), seen(11, 10, "codex", 0.3)],
        {},
        {10},
    ),
    (
        "a session that starts another session much later keeps both",
        [seen(10, 1, "claude-code", 0), seen(11, 10, "claude-code", 600)],
        {},
        set(),
    ),
    (
        "a parent with its own status file is a session",
        [seen(10, 1, "claude-code", 0, status_file=True), seen(11, 10, "claude-code", 1)],
        {},
        set(),
    ),
    (
        "different agents are never wrappers",
        [seen(10, 1, "claude-code", 0), seen(11, 10, "codex", 1)],
        {},
        set(),
    ),
    (
        "gemini's launcher re-launched its worker an hour later: still its launcher",
        [seen(10, 1, "gemini", 0), seen(11, 10, "gemini", 3600)],
        {},
        {10},
    ),
    (
        "gemini run from a gemini session's shell: the outer worker stays",
        [
            seen(10, 1, "gemini", 0),
            seen(11, 10, "gemini", 0.5),
            seen(12, 11, "gemini", 900),  # the nested launcher, exec'd by `bash -c`
            seen(13, 12, "gemini", 900.4),
        ],
        {},
        {10, 12},
    ),
    (
        "an editor's extension server run by the app binary is not a second app",
        [seen(20, 1, "cursor", 0), seen(22, 21, "cursor", 5)],
        {21: 20, 20: 1},
        {22},
    ),
    (
        "an editor's direct same-agent child goes, the app stays",
        [seen(20, 1, "copilot", 0), seen(21, 20, "copilot", 0.2)],
        {21: 20, 20: 1},
        {21},
    ),
    (
        "two editors side by side",
        [seen(20, 1, "copilot", 0), seen(30, 1, "cursor", 0), seen(31, 30, "copilot", 1)],
        {31: 30},
        set(),
    ),
]


@pytest.mark.parametrize(("label", "items", "tree", "expected"), TREE_CASES, ids=[c[0] for c in TREE_CASES])
def test_redundant_processes(
    label: str, items: list[_Seen], tree: dict[int, int | None], expected: set[int]
) -> None:
    parent_of = {s.pid: s.ppid for s in items} | tree
    assert _redundant(items, parent_of) == expected


# --------------------------------------------------------------------------------------------
# argv hints, /proc parsing, status files
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cmdline", "expected"),
    [
        (["claude", "--resume", ID_A], ID_A),
        (["claude", "-r", ID_A], ID_A),
        (["claude", f"--resume={ID_A}"], ID_A),
        (["claude", "--session-id", ID_B], ID_B),
        (["claude", f"--session-id={ID_B}"], ID_B),
        (["node", CLI_JS, "--resume", ID_A], ID_A),
        (["claude", "--resume", ID_A, "--session-id", ID_B], ID_B),
        (["claude", "--resume", ID_A, "--fork-session"], None),
        (["claude", "--resume", ID_A, "--fork-session", "--session-id", ID_B], ID_B),
        (["claude", "--resume"], None),
        (["claude", "--resume", "--model", "opus"], None),
        (["claude", "--resume", "auth refactor"], None),
        (["claude", "--continue"], None),
        (["claude", ID_A], None),
        ([ID_A], None),
        ([], None),
    ],
)
def test_session_hint_from_argv(cmdline: list[str], expected: str | None) -> None:
    assert session_hint_from_argv(cmdline) == expected


def test_parse_proc_stat_start_counts_from_last_paren() -> None:
    rest = " ".join(str(n) for n in range(3, 45))  # field n holds the number n
    assert parse_proc_stat_start(f"42 (claude) {rest}") == 22
    assert parse_proc_stat_start(f"42 (we ird) (x) {rest}") == 22
    assert parse_proc_stat_start("42 (claude) S 1 2") is None
    assert parse_proc_stat_start("garbage") is None


def test_parse_proc_stat_start_on_this_process() -> None:
    if not IS_LINUX:
        pytest.skip("/proc/<pid>/stat exists only on Linux")
    ticks = parse_proc_stat_start(Path(f"/proc/{os.getpid()}/stat").read_text())
    assert isinstance(ticks, int) and ticks > 0


def test_proc_start_matches() -> None:
    # Linux: exact clock ticks.
    assert proc_start_matches("174097251", start_ticks=174097251, create_time=None)
    assert not proc_start_matches("174097251", start_ticks=174097252, create_time=1e9)
    # macOS: ps lstart, local time, 1 s resolution.
    created = time.mktime((2026, 9, 10, 8, 31, 58, 0, 0, -1)) + 0.4
    assert proc_start_matches("Thu Sep 10 08:31:58 2026", start_ticks=None, create_time=created)
    assert proc_start_matches("Thu Sep 10  8:31:58 2026", start_ticks=None, create_time=created)
    assert not proc_start_matches("Thu Sep 10 08:41:58 2026", start_ticks=None, create_time=created)
    # Unknown form or /proc unreadable: the session must not predate the process.
    assert proc_start_matches("opaque", start_ticks=None, create_time=1000.0, started_at_ms=1_003_000)
    assert not proc_start_matches("opaque", start_ticks=None, create_time=1000.0, started_at_ms=900_000)
    assert not proc_start_matches("opaque", start_ticks=None, create_time=1000.0)


def test_parse_status_file() -> None:
    good = {
        "pid": 7,
        "sessionId": ID_A,
        "cwd": "/p",
        "startedAt": 1787637231465,
        "procStart": "123",
        "status": "waiting",
        "waitingFor": "input needed",
        "statusUpdatedAt": 1787662267409,
        "kind": "interactive",
        "entrypoint": "cli",
        "version": "2.1.234",
    }
    parsed = parse_status_file(good)
    assert parsed is not None
    assert (parsed.pid, parsed.session_id, parsed.cwd, parsed.status, parsed.proc_start) == (
        7,
        ID_A,
        "/p",
        "waiting",
        "123",
    )
    assert parsed.status_updated_at == datetime.fromtimestamp(1787662267.409, tz=timezone.utc)
    assert parse_status_file({**good, "procStart": 123}) is not None
    assert parse_status_file({k: v for k, v in good.items() if k != "status"}) is None
    assert parse_status_file({k: v for k, v in good.items() if k != "procStart"}) is None
    assert parse_status_file({**good, "procStart": ""}) is None
    assert parse_status_file({**good, "procStart": True}) is None
    assert parse_status_file(["not", "a", "dict"]) is None
    assert parse_status_file(None) is None


# --------------------------------------------------------------------------------------------
# Real processes
# --------------------------------------------------------------------------------------------


@dataclass
class Spawner:
    """Starts real processes in their own process group and kills every one of them at the end."""

    env: dict[str, str]
    children: list[subprocess.Popen[str]] = field(default_factory=list)
    detached: list[tuple[int, float]] = field(default_factory=list)

    def start(
        self,
        argv: Sequence[str],
        cwd: Path,
        *,
        read_line: bool = False,
        expect_argv: Sequence[str] | None = None,
        env: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        """Start ``argv`` in ``cwd``; wait until its argv (or ``expect_argv``, for a wrapper that
        exec's) is in place. ``env`` adds variables. Returns (pid, first line if asked)."""
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env={**self.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            text=True,
        )
        self.children.append(proc)
        line = ""
        if read_line:
            assert proc.stdout is not None
            line = proc.stdout.readline().strip()
        wait_for_argv(proc.pid, argv if expect_argv is None else expect_argv)
        return proc.pid, line

    def start_detached(self, argv: Sequence[str], cwd: Path) -> int:
        """Start ``argv`` outside our process tree (a launcher starts it, then exits)."""
        out = subprocess.run(
            [PYTHON, str(FAKE_AGENTS / "detach.py"), str(cwd), *argv],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        pid = int(out.stdout.strip())
        self.detached.append((pid, psutil.Process(pid).create_time()))
        wait_for_argv(pid, argv)
        return pid

    def close(self) -> None:
        for proc in self.children:
            # Descendants first (a helper may have left the process group), then the process itself
            # at once: waiting for it to exit on its own costs seconds per process.
            with contextlib.suppress(psutil.Error):
                for kid in psutil.Process(proc.pid).children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        kid.kill()
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL) if POSIX else proc.kill()
            proc.wait(timeout=10)
            if proc.stdout is not None:
                proc.stdout.close()
        for pid, created in self.detached:
            try:
                if psutil.Process(pid).create_time() == created:  # still ours, not a reused pid
                    psutil.Process(pid).kill()
            except psutil.Error:
                pass


def wait_for_argv(pid: int, argv: Sequence[str], timeout: float = 15.0) -> None:
    """Wait until the process has exec'd, i.e. shows exactly ``argv``."""
    deadline = time.monotonic() + timeout
    last: list[str] = []
    while time.monotonic() < deadline:
        try:
            last = psutil.Process(pid).cmdline()
        except psutil.Error:
            last = []
        if last == list(argv):
            return
        time.sleep(0.02)
    raise AssertionError(f"pid {pid} never showed argv {list(argv)!r}; last saw {last!r}")


@pytest.fixture
def spawner(request: pytest.FixtureRequest) -> Spawner:
    env = {**os.environ, "FAKE_AGENT_LIFETIME": "120", "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PYTHONPATH", None)
    s = Spawner(env=env)
    request.addfinalizer(s.close)
    return s


@dataclass
class Layout:
    root: Path
    claude: Path  # an interpreter symlink named "claude"
    squad: Path  # an interpreter symlink named "claude-squad"

    def project(self, name: str) -> Path:
        path = self.root / "projects" / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def sleeper(self, *extra: str) -> list[str]:
        """argv of a Claude-shaped process: ``…/bin/claude …/sleeper.py extra…``."""
        return [str(self.claude), str(FAKE_AGENTS / "sleeper.py"), *extra]


@pytest.fixture
def layout(tmp_path: Path) -> Layout:
    if not POSIX:
        pytest.skip("the fake agents are interpreter symlinks; POSIX only")
    root = Path(os.path.realpath(tmp_path))
    (root / "bin").mkdir()
    claude = root / "bin" / "claude"
    squad = root / "bin" / "claude-squad"
    claude.symlink_to(PYTHON)
    squad.symlink_to(PYTHON)
    return Layout(root=root, claude=claude, squad=squad)


@pytest.fixture
def bystander(spawner: Spawner, layout: Layout) -> int:
    """A plain process (not an agent) whose pid stands in for "us" in scan_processes.

    Our fakes are children of pytest, so with the default self_pid they would be our descendants
    and excluded. The bystander is their sibling: neither their ancestor nor their descendant.
    """
    pid, _ = spawner.start([PYTHON, str(FAKE_AGENTS / "sleeper.py")], layout.project("bystander"))
    return pid


def under(root: Path, procs: Sequence[Process]) -> dict[int, Process]:
    """The scanned processes whose cwd lies inside ``root`` (ignores agents really running here)."""
    prefix = str(root) + os.sep
    return {p.pid: p for p in procs if p.cwd and (p.cwd + os.sep).startswith(prefix)}


def proc_start_of(pid: int) -> str:
    """What Claude Code would write as procStart for ``pid`` on this platform."""
    if IS_LINUX:
        ticks = parse_proc_stat_start(Path(f"/proc/{pid}/stat").read_text())
        assert ticks is not None
        return str(ticks)
    return time.strftime("%a %b %d %H:%M:%S %Y", time.localtime(psutil.Process(pid).create_time()))


def write_status(config_dir: Path, pid: int, **fields: object) -> None:
    sessions = config_dir / "sessions"
    sessions.mkdir(parents=True, exist_ok=True)
    (sessions / f"{pid}.json").write_text(json.dumps({"pid": pid, **fields}))


def test_scan_finds_native_claude_and_ignores_decoys(
    spawner: Spawner, layout: Layout, bystander: int
) -> None:
    native_dir = layout.project("native")
    native, _ = spawner.start(layout.sleeper(), native_dir)
    resumed, _ = spawner.start(layout.sleeper("--resume", ID_A), layout.project("resumed"))

    # An npm-style wrapper whose real agent is its child: only the child counts.
    wrapper_dir = layout.project("wrapped")
    wrapper, child_line = spawner.start(
        [str(layout.claude), str(FAKE_AGENTS / "wrapper.py"), *layout.sleeper()], wrapper_dir, read_line=True
    )
    wrapped_child = int(child_line)

    decoys = layout.project("decoys")
    (decoys / "claude.log").write_text("claude\n")
    decoy_pids = [
        spawner.start([PYTHON, str(FAKE_AGENTS / "sleeper.py"), "claude", "--resume", ID_B], decoys)[0],
        spawner.start([str(layout.squad), str(FAKE_AGENTS / "sleeper.py")], decoys)[0],
        spawner.start(layout.sleeper("--bg-spare"), decoys)[0],
        spawner.start(layout.sleeper("--bg-pty-host"), decoys)[0],
        spawner.start(["tail", "-f", str(decoys / "claude.log")], decoys)[0],
    ]
    # `claude daemon run`: the interpreter named "claude" runs the file "daemon" from its cwd.
    daemon_dir = layout.project("daemon")
    shutil.copy(FAKE_AGENTS / "sleeper.py", daemon_dir / "daemon")
    decoy_pids.append(spawner.start([str(layout.claude), "daemon", "run"], daemon_dir)[0])

    found = under(layout.root, scan_processes([layout.root / "no-config"], self_pid=bystander))

    assert set(found) == {native, resumed, wrapped_child}
    assert wrapper not in found and not set(decoy_pids) & set(found)
    p = found[native]
    ps = psutil.Process(native)
    assert p.agent == "claude-code"
    assert p.cwd == str(native_dir)
    assert p.cmdline == tuple(layout.sleeper())
    assert p.started_at is not None and p.started_at.tzinfo is not None
    assert abs(p.started_at.timestamp() - ps.create_time()) < 0.01
    assert p.rss_bytes is not None and p.rss_bytes > 0
    assert isinstance(p.cpu_pct, float)
    assert (p.session_hint, p.hint_source, p.state) == (None, None, None)
    assert (found[resumed].session_hint, found[resumed].hint_source) == (ID_A, "argv")
    assert found[wrapped_child].cwd == str(wrapper_dir)


def test_scan_finds_node_shaped_claude(spawner: Spawner, layout: Layout, bystander: int) -> None:
    if NODE is None:
        pytest.skip("`node` is not installed, so an npm-style Claude Code process cannot be started")
    package = layout.root / "lib" / "node_modules" / "@anthropic-ai" / "claude-code"
    package.mkdir(parents=True)
    cli = package / "cli.js"
    shutil.copy(FAKE_AGENTS / "cli.js", cli)
    npm_bin = layout.root / "npm-bin"
    npm_bin.mkdir()
    (npm_bin / "claude").symlink_to(cli)  # what `npm i -g` puts on PATH
    playwright = layout.root / "claude-tools" / "node_modules" / "@playwright" / "test"
    playwright.mkdir(parents=True)
    shutil.copy(FAKE_AGENTS / "cli.js", playwright / "cli.js")

    via_cli, _ = spawner.start([NODE, str(cli), "--resume", ID_C], layout.project("node-cli"))
    via_bin, _ = spawner.start([NODE, str(npm_bin / "claude")], layout.project("node-bin"))
    decoy, _ = spawner.start([NODE, str(playwright / "cli.js"), "test"], layout.project("playwright"))

    found = under(layout.root, scan_processes([], self_pid=bystander))

    assert set(found) == {via_cli, via_bin}
    assert decoy not in found
    assert found[via_cli].cwd == str(layout.project("node-cli"))
    assert (found[via_cli].session_hint, found[via_cli].hint_source) == (ID_C, "argv")
    assert found[via_bin].cmdline == (NODE, str(npm_bin / "claude"))


def test_status_file_hints_are_checked_against_pid_reuse(
    spawner: Spawner, layout: Layout, bystander: int
) -> None:
    config_a = layout.root / "config-a"
    config_b = layout.root / "config-b"  # e.g. a second CLAUDE_CONFIG_DIR
    good, _ = spawner.start(layout.sleeper("--resume", ID_A), layout.project("good"))
    reused, _ = spawner.start(layout.sleeper("--resume", ID_C), layout.project("reused"))
    no_status, _ = spawner.start(layout.sleeper(), layout.project("no-status"))
    other_dir, _ = spawner.start(layout.sleeper(), layout.project("other-dir"))

    updated_ms = 1_790_000_000_123
    started_ms = int(psutil.Process(good).create_time() * 1000) + 500
    write_status(
        config_a,
        good,
        sessionId=ID_B,  # the status file beats the --resume in argv
        cwd=str(layout.project("good")),
        startedAt=started_ms,
        procStart=proc_start_of(good),
        status="busy",
        statusUpdatedAt=updated_ms,
        kind="interactive",
        entrypoint="cli",
        version="2.1.200",
    )
    # A file left by an earlier process that had the same pid: procStart does not match.
    stale_start = str(int(proc_start_of(reused)) - 5000) if IS_LINUX else "Mon Jan  5 09:12:34 2026"
    write_status(config_a, reused, sessionId=ID_D, procStart=stale_start, status="idle", startedAt=1)
    # An old-format file without status: not honoured.
    write_status(config_a, no_status, sessionId=ID_D, procStart=proc_start_of(no_status))
    # Found in the second config dir only.
    write_status(config_b, other_dir, sessionId=ID_D, procStart=proc_start_of(other_dir), status="waiting")

    found = under(layout.root, scan_processes([config_a, config_b], self_pid=bystander))

    assert set(found) == {good, reused, no_status, other_dir}
    g = found[good]
    assert (g.session_hint, g.hint_source, g.state) == (ID_B, "status-file", "busy")
    assert g.state_updated_at == datetime.fromtimestamp(updated_ms / 1000, tz=timezone.utc)
    r = found[reused]
    assert (r.session_hint, r.hint_source, r.state) == (ID_C, "argv", None)
    n = found[no_status]
    assert (n.session_hint, n.hint_source, n.state) == (None, None, None)
    o = found[other_dir]
    assert (o.session_hint, o.hint_source, o.state) == (ID_D, "status-file", "waiting")

    # End to end: the hinted processes link; the new session without a transcript still links.
    now = datetime.now(timezone.utc)
    links = link_sessions(
        list(found.values()),
        [Candidate(ID_B, str(layout.project("good")), now, now - timedelta(seconds=1))],
    )
    assert links == {good: ID_B, reused: ID_C, other_dir: ID_D}


def test_default_self_pid_excludes_our_own_tree(spawner: Spawner, layout: Layout) -> None:
    mine, _ = spawner.start(layout.sleeper(), layout.project("child-of-pytest"))
    outside = spawner.start_detached(layout.sleeper(), layout.project("detached"))

    found = under(layout.root, scan_processes([]))  # self_pid defaults to os.getpid()
    assert outside in found
    assert mine not in found  # our descendant

    assert mine not in under(layout.root, scan_processes([], self_pid=mine))  # ourselves


def test_ancestors_of_self_are_kept(spawner: Spawner, layout: Layout, bystander: int) -> None:
    # A Claude-shaped parent whose child is a plain process standing in for `lsm`.
    parent, child_line = spawner.start(
        [str(layout.claude), str(FAKE_AGENTS / "wrapper.py"), PYTHON, str(FAKE_AGENTS / "sleeper.py")],
        layout.project("host"),
        read_line=True,
    )
    lsm = int(child_line)
    assert parent in under(layout.root, scan_processes([], self_pid=bystander))  # not a wrapper
    # lsm running inside a Claude Code session (its Bash tool) still sees that session.
    assert parent in under(layout.root, scan_processes([], self_pid=lsm))


def test_other_users_processes_are_ignored(spawner: Spawner, layout: Layout, bystander: int) -> None:
    if not POSIX or os.geteuid() != 0:
        pytest.skip("starting a process as another user needs root")
    import pwd

    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no `nobody` user")
    sleep = shutil.which("sleep")
    assert sleep is not None
    shared = Path(tempfile.mkdtemp(prefix="lsm-discovery-"))
    try:
        shared.chmod(0o755)
        claude = shared / "claude"
        claude.symlink_to(sleep)  # argv[0] basename "claude"
        theirs = subprocess.Popen(
            [str(claude), "60"],
            cwd=shared,
            user=nobody.pw_uid,
            group=nobody.pw_gid,
            start_new_session=True,
            text=True,
        )
        spawner.children.append(theirs)
        wait_for_argv(theirs.pid, [str(claude), "60"])
        assert classify("claude", sleep, [str(claude), "60"]) == "claude-code"
        assert theirs.pid not in {p.pid for p in scan_processes([], self_pid=bystander)}
    finally:
        shutil.rmtree(shared, ignore_errors=True)


def test_scan_survives_processes_exiting(spawner: Spawner, layout: Layout, bystander: int) -> None:
    """Processes that come and go during the scan are data, never exceptions."""
    short = [spawner.start(layout.sleeper(), layout.project(f"short-{i}"))[0] for i in range(3)]
    for pid in short:
        os.killpg(pid, signal.SIGKILL)
    for _ in range(3):
        scan_processes([layout.root / "missing"], self_pid=bystander)


# --------------------------------------------------------------------------------------------
# Real processes shaped like the other agents
# --------------------------------------------------------------------------------------------


def link_python(path: Path) -> Path:
    """An interpreter symlink at ``path``: a process started through it shows ``path`` as argv[0]."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(PYTHON)
    return path


def copy_fake(name: str, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(FAKE_AGENTS / name, dest)
    return dest


def need_node() -> str:
    if NODE is None:
        pytest.skip("`node` is not installed, so a node-shaped agent process cannot be started")
    return NODE


def only(found: dict[int, Process], agent: str) -> dict[int, Process]:
    return {pid: p for pid, p in found.items() if p.agent == agent}


def test_scan_finds_codex_and_its_open_rollout(
    spawner: Spawner, layout: Layout, bystander: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    node = need_node()
    sleeper = str(FAKE_AGENTS / "sleeper.py")
    home = layout.root / "codex-home"
    rollout_a = _rollout(home, ID_A, "cli", mtime=time.time())
    rollout_b = _rollout(home, ID_B, "cli", mtime=time.time())
    rollout_c = _rollout(home, ID_C, "exec", mtime=time.time() - 60)
    rollout_sub = _rollout(home, ID_D, {"subagent": {"other": "x"}}, mtime=time.time())

    # The native binary (Homebrew / install script) holding its rollout open.
    codex = link_python(layout.root / "bin" / "codex")
    # read_line: the fake prints "ready" once its files are open (its argv is in place before that).
    native, _ = spawner.start(
        [str(codex), sleeper, "--hold", rollout_a], layout.project("native"), read_line=True
    )
    # A new session before its first message: no rollout yet.
    fresh, _ = spawner.start([str(codex), sleeper], layout.project("fresh"))
    # A session with a sub-agent thread: both rollouts open, the session's own wins.
    with_sub, _ = spawner.start(
        [str(codex), sleeper, "--hold", rollout_sub, "--hold", rollout_c],
        layout.project("with-sub"),
        read_line=True,
    )
    # `codex resume <id>` (the rollout not reopened yet): the argv names the session.
    resume_dir = layout.project("resume")
    copy_fake("sleeper.py", resume_dir / "resume")
    resumed, _ = spawner.start([str(codex), "resume", ID_D], resume_dir)

    # npm: node …/@openai/codex/bin/codex.js starts the native child, which is the session.
    npm = layout.root / "npm" / "lib" / "node_modules"
    launcher = copy_fake("launcher.js", npm / "@openai" / "codex" / "bin" / "codex.js")
    child_bin = link_python(
        npm / "@openai" / "codex-linux-x64" / "vendor" / "x86_64-unknown-linux-musl" / "codex" / "codex"
    )
    wrapper, child_line = spawner.start(
        [node, str(launcher), "--yolo"],
        layout.project("npm"),
        read_line=True,
        env={"FAKE_CHILD_ARGV": json.dumps([str(child_bin), sleeper, "--hold", rollout_b])},
    )
    npm_child = int(child_line)
    # The 2025 JS-only CLI: no native child, the node process is the session.
    js_cli = copy_fake("launcher.js", layout.root / "npm-old" / "@openai" / "codex" / "dist" / "cli.js")
    js_only, _ = spawner.start([node, str(js_cli)], layout.project("js-only"))

    decoys = layout.project("decoys")
    copy_fake("sleeper.py", decoys / "app-server")
    copy_fake("sleeper.py", decoys / "mcp-server")
    sandbox = link_python(layout.root / "bin" / "codex-linux-sandbox")
    decoy_pids = [
        spawner.start([str(codex), "app-server", "--listen", "stdio://"], decoys)[0],
        spawner.start([str(codex), "mcp-server"], decoys)[0],
        spawner.start([str(sandbox), sleeper, "--hold", rollout_a], decoys)[0],
        spawner.start(["tail", "-f", rollout_a], decoys)[0],
    ]

    opened: list[int] = []
    original = psutil.Process.open_files

    def spy(self: psutil.Process) -> list[Any]:
        opened.append(self.pid)
        return original(self)

    monkeypatch.setattr(psutil.Process, "open_files", spy)
    found = under(layout.root, scan_processes([], self_pid=bystander))

    assert set(found) == {native, fresh, with_sub, resumed, npm_child, js_only}
    assert wrapper not in found and not set(decoy_pids) & set(found)
    assert {p.agent for p in found.values()} == {"codex"}
    hints = {pid: (p.session_hint, p.hint_source) for pid, p in found.items()}
    assert hints[native] == (ID_A, "open-file")
    assert hints[npm_child] == (ID_B, "open-file")
    assert hints[with_sub] == (ID_C, "open-file")
    assert hints[resumed] == (ID_D, "argv")
    assert hints[fresh] == (None, None) and hints[js_only] == (None, None)
    assert found[npm_child].cwd == str(layout.project("npm"))
    # open_files() is costly: asked of the reported Codex processes only.
    assert set(found) <= set(opened)
    assert not set(opened) & {wrapper, bystander, *decoy_pids}


def test_scan_keeps_geminis_working_child(spawner: Spawner, layout: Layout, bystander: int) -> None:
    node = need_node()
    package = layout.root / "npm" / "lib" / "node_modules" / "@google" / "gemini-cli"
    entry = copy_fake("gemini.js", package / "dist" / "index.js")
    bin_link = layout.root / "npm" / "bin" / "gemini"
    bin_link.parent.mkdir(parents=True)
    bin_link.symlink_to(entry)

    launcher, child_line = spawner.start([node, str(bin_link)], layout.project("via-bin"), read_line=True)
    worker = int(child_line)
    launcher2, child_line2 = spawner.start(
        [node, str(entry), "--resume", ID_A], layout.project("via-entry"), read_line=True
    )
    worker2 = int(child_line2)
    tools = copy_fake("cli.js", layout.root / "x" / "node_modules" / "gemini-tools" / "cli.js")
    decoy, _ = spawner.start([node, str(tools), "gemini"], layout.project("decoy"))

    found = only(under(layout.root, scan_processes([], self_pid=bystander)), "gemini")

    assert set(found) == {worker, worker2}
    assert not {launcher, launcher2, decoy} & set(found)
    assert "--max-old-space-size=256" in found[worker].cmdline
    assert found[worker].cwd == str(layout.project("via-bin"))
    assert (found[worker].session_hint, found[worker2].session_hint) == (None, ID_A)


def test_scan_finds_aider(spawner: Spawner, layout: Layout, bystander: int) -> None:
    # pip / pipx / uv: python runs the console script …/bin/aider.
    script = copy_fake("sleeper.py", layout.root / "venv" / "bin" / "aider")
    console, _ = spawner.start([PYTHON, str(script), "--model", "sonnet"], layout.project("console"))
    # python -m aider (run where the package is importable).
    module_dir = layout.project("module")
    copy_fake("sleeper.py", module_dir / "aider" / "__main__.py")
    as_module, _ = spawner.start([PYTHON, "-m", "aider"], module_dir)
    # A launcher named aider (the interpreter itself, as Windows' aider.exe shows).
    launcher = link_python(layout.root / "bin" / "aider")
    named, _ = spawner.start([str(launcher), str(FAKE_AGENTS / "sleeper.py")], layout.project("named"))

    decoys = layout.project("decoys")
    copy_fake("sleeper.py", decoys / "aider.py")
    copy_fake("sleeper.py", decoys / "aider_helper" / "__main__.py")
    tool = copy_fake("sleeper.py", layout.root / "aider" / "tool.py")
    decoy_pids = [
        spawner.start([PYTHON, "aider.py"], decoys)[0],
        spawner.start([PYTHON, "-m", "aider_helper"], decoys)[0],
        spawner.start([PYTHON, str(tool), "aider"], decoys)[0],
    ]

    found = under(layout.root, scan_processes([], self_pid=bystander))

    assert set(only(found, "aider")) == {console, as_module, named}
    assert not set(decoy_pids) & set(found)
    assert found[as_module].cwd == str(module_dir)
    assert all(p.session_hint is None for p in only(found, "aider").values())


def test_scan_finds_the_cursor_agent_cli(spawner: Spawner, layout: Layout, bystander: int) -> None:
    node = need_node()
    version = layout.root / "home" / ".local" / "share" / "cursor-agent" / "versions" / "2026.01.28-fd13201"
    wrapper_script = copy_fake("cursor-agent.sh", version / "cursor-agent")
    wrapper_script.chmod(0o755)
    (version / "node").symlink_to(node)
    index = copy_fake("cursor_agent_index.js", version / "index.js")
    bin_dir = layout.root / "home" / ".local" / "bin"
    bin_dir.mkdir(parents=True)
    cli = bin_dir / "cursor-agent"
    cli.symlink_to(wrapper_script)
    agent = bin_dir / "agent"
    agent.symlink_to(wrapper_script)

    # The wrapper exec's node with argv[0] = its own path; the session starts a worker-server helper.
    session, line = spawner.start(
        [str(cli), "--resume", ID_A],
        layout.project("session"),
        read_line=True,
        expect_argv=[str(cli), str(index), "--resume", ID_A],
    )
    helper = int(line.split()[1])
    as_agent, line2 = spawner.start(
        [str(agent)], layout.project("as-agent"), read_line=True, expect_argv=[str(agent), str(index)]
    )
    helper2 = int(line2.split()[1])
    # `cursor-agent worker start`: a long-lived host of agents dispatched from elsewhere.
    worker, _ = spawner.start(
        [str(cli), "worker", "start"],
        layout.project("worker"),
        expect_argv=[str(cli), str(index), "worker", "start"],
    )

    found = under(layout.root, scan_processes([], self_pid=bystander))

    assert set(only(found, "cursor-agent")) == {session, as_agent}
    assert not {helper, helper2, worker} & set(found)
    assert (found[session].session_hint, found[session].hint_source) == (ID_A, "argv")
    assert found[session].cwd == str(layout.project("session"))


def test_scan_finds_the_copilot_cli_once(spawner: Spawner, layout: Layout, bystander: int) -> None:
    node = need_node()
    npm = layout.root / "npm" / "lib" / "node_modules"
    loader = copy_fake("launcher.js", npm / "@github" / "copilot" / "npm-loader.js")
    native = link_python(npm / "@github" / "copilot-linux-x64" / "copilot")
    sleeper = str(FAKE_AGENTS / "sleeper.py")
    wrapper, child_line = spawner.start(
        [node, str(loader), "--resume", ID_B],
        layout.project("cli"),
        read_line=True,
        env={"FAKE_CHILD_ARGV": json.dumps([str(native), sleeper, "--resume", ID_B])},
    )
    child = int(child_line)
    # AWS's unrelated `copilot` CLI tailing service logs.
    aws_dir = layout.project("aws")
    copy_fake("sleeper.py", aws_dir / "svc")
    aws = link_python(layout.root / "aws" / "bin" / "copilot")
    decoy, _ = spawner.start([str(aws), "svc", "logs", "--follow"], aws_dir)

    found = under(layout.root, scan_processes([], self_pid=bystander))

    assert set(only(found, "copilot-cli")) == {child}
    assert wrapper not in found and decoy not in found
    assert (found[child].session_hint, found[child].hint_source) == (ID_B, "argv")


def test_scan_reports_each_editor_app_once(spawner: Spawner, layout: Layout, bystander: int) -> None:
    electron = str(FAKE_AGENTS / "electron.py")
    server = copy_fake("sleeper.py", layout.root / "extensions" / "lang" / "server.js")
    helper_bin = link_python(layout.root / "Cursor Helper (Renderer)")
    cursor = str(link_python(layout.root / "opt" / "cursor" / "cursor"))
    code = str(link_python(layout.root / "usr" / "share" / "code" / "code"))

    # Cursor with two dozen Chromium helpers, a macOS-style helper binary and an extension host
    # whose language server runs on the app's own binary.
    cursor_main, line = spawner.start(
        [cursor, electron, "--helpers", "24", "--ext-server", str(server), "--mac-helper", str(helper_bin)],
        layout.project("cursor-ws"),
        read_line=True,
    )
    cursor_tree = json.loads(line)
    vscode_main, line2 = spawner.start(
        [code, electron, "--helpers", "6", "--ext-server", str(server)],
        layout.project("vscode-ws"),
        read_line=True,
    )
    vscode_tree = json.loads(line2)
    # `code --wait` as git's editor, from a terminal outside the app: the CLI launcher.
    cli_js = copy_fake(
        "sleeper.py", layout.root / "usr" / "share" / "code" / "resources" / "app" / "out" / "cli.js"
    )
    cli, _ = spawner.start([code, str(cli_js), "--wait", "COMMIT_EDITMSG"], layout.project("terminal"))

    found = under(layout.root, scan_processes([], self_pid=bystander))

    assert {p.pid: p.agent for p in found.values()} == {cursor_main: "cursor", vscode_main: "copilot"}
    helpers = set(cursor_tree["helpers"]) | set(vscode_tree["helpers"])
    assert len(helpers) == 24 + 2 + 6 + 1
    assert not (helpers | {cursor_tree["server"], vscode_tree["server"], cli}) & set(found)
    assert all(psutil.Process(pid).ppid() == cursor_main for pid in cursor_tree["helpers"])
    assert found[cursor_main].cwd == str(layout.project("cursor-ws"))
    assert found[cursor_main].session_hint is None and found[vscode_main].session_hint is None


# --------------------------------------------------------------------------------------------
# link_sessions
# --------------------------------------------------------------------------------------------

T0 = datetime(2026, 5, 1, 12, 0, tzinfo=timezone.utc)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def proc(
    pid: int,
    cwd: str | None = "/p",
    *,
    started: float | None = 0,
    hint: str | None = None,
    source: str | None = None,
) -> Process:
    return Process(
        pid=pid,
        agent="claude-code",
        cwd=cwd,
        started_at=None if started is None else at(started),
        cpu_pct=None,
        rss_bytes=None,
        session_hint=hint,
        hint_source=source or ("status-file" if hint else None),
    )


def cand(native_id: str, cwd: str | None = "/p", *, last: float, first: float | None = None) -> Candidate:
    return Candidate(native_id, cwd, at(last), None if first is None else at(first))


LinkCase = tuple[str, list[Process], list[Candidate], dict[int, str]]

LINK_CASES: list[LinkCase] = [
    ("hint with its transcript", [proc(1, hint=ID_A)], [cand(ID_A, last=5, first=1)], {1: ID_A}),
    ("hint before the first message: no transcript yet", [proc(1, hint=ID_A)], [], {1: ID_A}),
    (
        "hint beats a newer transcript it does not own... when that one predates the hinted writes",
        [proc(1, hint=ID_A)],
        [cand(ID_A, last=9, first=1), cand(ID_B, last=8, first=2)],
        {1: ID_A},
    ),
    ("argv hint", [proc(1, hint=ID_A, source="argv")], [cand(ID_A, last=5)], {1: ID_A}),
    (
        "no hint: newest transcript in the cwd written after start",
        [proc(1, started=10)],
        [cand(ID_A, last=12), cand(ID_B, last=15), cand(ID_C, "/elsewhere", last=20)],
        {1: ID_B},
    ),
    ("no hint: nothing written since start", [proc(1, started=10)], [cand(ID_A, last=9)], {}),
    ("no hint and no start time: no guess", [proc(1, started=None)], [cand(ID_A, last=9)], {}),
    ("no hint and no cwd: no guess", [proc(1, cwd=None)], [cand(ID_A, last=9)], {}),
    (
        "two hint-less processes share the cwd: refuse",
        [proc(1), proc(2, started=1)],
        [cand(ID_A, last=5), cand(ID_B, last=6)],
        {},
    ),
    (
        "a hinted and a hint-less process share the cwd",
        [proc(1, hint=ID_A), proc(2, started=1)],
        [cand(ID_A, last=9, first=0.5), cand(ID_B, last=6, first=2)],
        {1: ID_A, 2: ID_B},
    ),
    (
        "hint-less processes in different cwds",
        [proc(1, "/p"), proc(2, "/q")],
        [cand(ID_A, "/p", last=5), cand(ID_B, "/q", last=6)],
        {1: ID_A, 2: ID_B},
    ),
    (
        "/clear: a newer transcript appeared after the hinted one went quiet",
        [proc(1, hint=ID_A)],
        [cand(ID_A, last=5, first=1), cand(ID_B, last=9, first=6)],
        {1: ID_B},
    ),
    (
        "/clear twice: the newest wins",
        [proc(1, hint=ID_A)],
        [cand(ID_A, last=5, first=1), cand(ID_B, last=7, first=6), cand(ID_C, last=9, first=8)],
        {1: ID_C},
    ),
    (
        "/clear before the first message: hinted transcript never existed",
        [proc(1, hint=ID_A)],
        [cand(ID_B, last=9, first=6)],
        {1: ID_B},
    ),
    (
        "/clear: a transcript from before the process started is not a switch",
        [proc(1, started=10, hint=ID_A)],
        [cand(ID_A, last=15, first=11), cand(ID_B, last=30, first=5)],
        {1: ID_A},
    ),
    (
        "/clear: newer transcript is claimed by another live process",
        [proc(1, hint=ID_A), proc(2, hint=ID_B)],
        [cand(ID_A, last=5, first=1), cand(ID_B, last=9, first=6)],
        {1: ID_A, 2: ID_B},
    ),
    (
        "/clear: a hint-less process shares the cwd, so the newer one may be its",
        [proc(1, hint=ID_A), proc(2, started=3)],
        [cand(ID_A, last=5, first=1), cand(ID_B, last=9, first=6)],
        {1: ID_A, 2: ID_B},
    ),
    (
        "/clear: two idle hinted processes would both switch: neither does",
        [proc(1, hint=ID_A), proc(2, hint=ID_C)],
        [cand(ID_A, last=4, first=1), cand(ID_C, last=5, first=2), cand(ID_B, last=9, first=6)],
        {1: ID_A, 2: ID_C},
    ),
    (
        "/clear without first_write uses last_write",
        [proc(1, hint=ID_A)],
        [cand(ID_A, last=5), cand(ID_B, last=9)],
        {1: ID_B},
    ),
    (
        "same hint twice from argv: ambiguous",
        [proc(1, hint=ID_A, source="argv"), proc(2, "/q", hint=ID_A, source="argv")],
        [cand(ID_A, last=5)],
        {},
    ),
    (
        "same hint from a status file and from argv: the status file wins",
        [proc(1, hint=ID_A, source="argv"), proc(2, "/q", hint=ID_A)],
        [cand(ID_A, last=5)],
        {2: ID_A},
    ),
    (
        "a hinted id is never guessed for another process",
        [proc(1, "/q", hint=ID_A), proc(2, "/p", started=1)],
        [cand(ID_A, "/p", last=9)],
        {1: ID_A},
    ),
]


@pytest.mark.parametrize(
    ("label", "procs", "candidates", "expected"), LINK_CASES, ids=[c[0] for c in LINK_CASES]
)
def test_link_sessions(
    label: str, procs: list[Process], candidates: list[Candidate], expected: dict[int, str]
) -> None:
    links = link_sessions(procs, candidates)
    assert links == expected
    assert len(set(links.values())) == len(links)  # each candidate at most once


def test_link_sessions_normalises_paths(tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    alias = tmp_path / "alias"
    try:
        alias.symlink_to(real, target_is_directory=True)
    except OSError:
        pytest.skip("cannot create symlinks here")
    links = link_sessions([proc(1, str(alias) + os.sep)], [cand(ID_A, str(real / "." / ""), last=5)])
    assert links == {1: ID_A}


def test_link_sessions_accepts_naive_datetimes() -> None:
    naive = Process(
        pid=1,
        agent="claude-code",
        cwd="/p",
        started_at=datetime(2026, 5, 1, 12, 0),
        cpu_pct=None,
        rss_bytes=None,
    )
    candidates = [Candidate(ID_A, "/p", datetime(2026, 5, 1, 12, 5), None), cand(ID_B, last=-1)]
    assert link_sessions([naive], candidates) == {1: ID_A}
