"""Tests for llm_session_manager.discovery.

Pure functions are table-tested. ``scan_processes`` is tested against REAL child processes shaped
like Claude Code (an interpreter symlinked as ``…/bin/claude``, the real ``node`` running a fake
``…/@anthropic-ai/claude-code/cli.js``) and like the usual false positives; psutil is never mocked.
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

import psutil
import pytest

from llm_session_manager.discovery import (
    Candidate,
    classify,
    link_sessions,
    parse_proc_stat_start,
    parse_status_file,
    proc_start_matches,
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

    def start(self, argv: Sequence[str], cwd: Path, *, read_line: bool = False) -> tuple[int, str]:
        """Start ``argv`` in ``cwd``; wait until its argv is in place. Returns (pid, first line if asked)."""
        proc = subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=self.env,
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
        wait_for_argv(proc.pid, argv)
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
            # Kill descendants first, so a wrapper reaps its own child before it exits.
            with contextlib.suppress(psutil.Error):
                for kid in psutil.Process(proc.pid).children(recursive=True):
                    with contextlib.suppress(psutil.Error):
                        kid.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=2)
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
