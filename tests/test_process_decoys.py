"""Process classification against decoys: inline code that merely mentions an agent's name, editors,
grep, shells and look-alike tools are never taken for an agent (batch-close must never kill them)."""

from __future__ import annotations

import pytest

from llm_session_manager.discovery import classify

NODE = "/usr/bin/node"
PY = "/usr/bin/python3"

# (process name, executable, argv): none of these is an agent session.
DECOYS: list[tuple[str, str, list[str]]] = [
    # node: every way to pass code on the command line
    ("node", NODE, ["node", "-e", "1", "claude"]),
    ("node", NODE, ["node", "--eval", "1", "claude"]),
    ("node", NODE, ["node", "--eval=require('x')", "claude"]),
    ("node", NODE, ["node", "-p", "1", "claude"]),
    ("node", NODE, ["node", "--print", "1", "claude"]),
    ("node", NODE, ["node", "--print=1", "claude"]),
    ("node", NODE, ["node", "-pe", "1", "claude"]),
    ("node", NODE, ["node", "-ep", "1", "codex"]),
    ("node", NODE, ["node", "-pe", "claude"]),
    ("node", NODE, ["node", "-p", "claude"]),
    ("node", NODE, ["node", "--input-type=module", "-e", "1", "gemini"]),
    ("node", NODE, ["node", "--eval=x", "copilot"]),
    ("node", NODE, ["node", "-", "claude"]),  # script from stdin
    ("node", NODE, ["node", "--require", "claude", "server.js"]),
    ("node", NODE, ["node", "--title=claude", "server.js"]),
    ("node", NODE, ["node", "server.js", "claude"]),
    ("node", NODE, ["node", "--test", "claude.test.js"]),
    # bun and deno
    ("bun", "/usr/bin/bun", ["bun", "-e", "1", "claude"]),
    ("bun", "/usr/bin/bun", ["bun", "--eval", "1", "claude"]),
    ("bun", "/usr/bin/bun", ["bun", "--eval=1", "claude"]),
    ("bun", "/usr/bin/bun", ["bun", "--print=1", "claude"]),
    ("deno", "/usr/bin/deno", ["deno", "eval", "1", "claude"]),
    ("deno", "/usr/bin/deno", ["deno", "run", "claude"]),
    # python: -c in every cluster form
    ("python3", PY, ["python3", "-c", "pass", "aider"]),
    ("python3", PY, ["python3", "-Ic", "pass", "aider"]),
    ("python3", PY, ["python3", "-Sc", "pass", "aider"]),
    ("python3", PY, ["python3", "-X", "dev", "-c", "pass", "aider"]),
    ("python3", PY, ["python3", "-W", "ignore", "-c", "pass", "aider"]),
    ("python3", PY, ["python3", "-m", "http.server", "aider"]),
    ("python3", PY, ["python3", "-", "aider"]),
    ("python3", PY, ["python3", "tool.py", "aider"]),
    # editors, pagers, search tools and shells mentioning an agent
    ("vim", "/usr/bin/vim", ["vim", "claude"]),
    ("nvim", "/usr/bin/nvim", ["nvim", "/home/u/.claude/settings.json"]),
    ("less", "/usr/bin/less", ["less", "/usr/bin/claude"]),
    ("grep", "/usr/bin/grep", ["grep", "-r", "claude", "."]),
    ("rg", "/usr/bin/rg", ["rg", "codex"]),
    ("bash", "/bin/bash", ["bash", "-c", "claude --version"]),
    ("sh", "/bin/sh", ["sh", "-c", "exec codex"]),
    ("zsh", "/bin/zsh", ["zsh", "-c", "gemini"]),
    ("tmux", "/usr/bin/tmux", ["tmux", "new", "-s", "claude"]),
    ("watch", "/usr/bin/watch", ["watch", "lsm", "list"]),
    # look-alike tools
    ("claude-squad", "/usr/bin/claude-squad", ["claude-squad"]),
    ("ccusage", "/usr/bin/ccusage", ["ccusage", "blocks"]),
    ("codex-linux-sandbox", "/x/codex-linux-sandbox", ["codex-linux-sandbox"]),
    ("node", NODE, ["node", "/x/node_modules/ccusage/dist/index.js", "claude"]),
    # argv[0] set by the caller (`exec -a claude sleep 600`): the process is still sleep
    ("sleep", "/usr/bin/sleep", ["claude", "600"]),
    ("sleep", "/usr/bin/sleep", ["codex"]),
    ("tail", "/usr/bin/tail", ["gemini", "-f", "/dev/null"]),
    ("bash", "/bin/bash", ["copilot"]),
]

# And the real thing, for contrast (so a classifier that says "no" to everything fails this file).
AGENTS: list[tuple[str, str, list[str], str]] = [
    ("node", NODE, ["node", "/usr/lib/node_modules/@anthropic-ai/claude-code/cli.js"], "claude-code"),
    ("node", NODE, ["node", "--no-warnings", "/usr/local/bin/claude", "--resume"], "claude-code"),
    ("claude", "/home/u/.local/share/claude/versions/2.1.197", ["claude"], "claude-code"),
    ("2.1.197", "/Users/u/.local/share/claude/versions/2.1.197", ["claude"], "claude-code"),  # macOS
    ("claude", NODE, ["claude"], "claude-code"),  # npm install: node set its title to claude
    ("node", NODE, ["claude", "--resume"], "claude-code"),  # the title in argv only (macOS)
    ("claude", "/usr/bin/python3.12", ["/tmp/bin/claude"], "claude-code"),  # a symlink named claude
    ("codex", "/x/vendor/x86_64-unknown-linux-musl/codex/codex", ["codex"], "codex"),
    ("python3", PY, ["python3", "-m", "aider", "--model", "x"], "aider"),
    ("python3", PY, ["python3", "/home/u/.local/bin/aider"], "aider"),
]


@pytest.mark.parametrize(("name", "exe", "argv"), DECOYS, ids=[" ".join(d[2]) for d in DECOYS])
def test_decoy_is_not_an_agent(name: str, exe: str, argv: list[str]) -> None:
    assert classify(name, exe, argv) is None


@pytest.mark.parametrize(("name", "exe", "argv", "agent"), AGENTS, ids=[" ".join(a[2]) for a in AGENTS])
def test_real_agent_is_recognised(name: str, exe: str, argv: list[str], agent: str) -> None:
    assert classify(name, exe, argv) == agent
