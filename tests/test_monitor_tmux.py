"""`lsm monitor` on a real terminal: the real CLI in a tmux pane (keys sent with ``send-keys``, the screen
read with ``capture-pane``) on a fake HOME with fixture sessions and a running fake Claude Code process;
plus a pseudo-terminal for the failure path. tmux is required: without it these tests FAIL (CI installs
it, see .ci/run)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest
from conftest import FakeHome
from test_running_sessions import FAKE_AGENTS, SID, iso_now, write_status, write_transcript

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and a pty")

WIDTH, HEIGHT = 160, 40
SHORT = SID[:8]
PROMPT = "lsm-test$ "


@pytest.fixture
def tmux_bin() -> str:
    found = shutil.which("tmux")
    if found is None:
        pytest.fail(
            "tmux is not installed; the monitor's terminal tests need it: apt-get install -y tmux"
            " (CI's .ci/run installs it)",
            pytrace=False,
        )
    return found


class Pane:
    """A shell in a detached tmux session on a server of its own (its own socket)."""

    def __init__(self, tmux: str, env: dict[str, str], cwd: Path) -> None:
        self.tmux, self.cwd = tmux, cwd
        # A server of its own, its socket in a folder of its own (a short path: sockets have a length limit).
        self.folder = Path(tempfile.mkdtemp(prefix="lsm-tmux-"))
        self.socket = str(self.folder / "sock")
        self.env = {k: v for k, v in env.items() if k not in ("TMUX", "TMUX_PANE", "COLUMNS", "LINES")}
        self.env["TERM"] = "xterm-256color"

    def cmd(self, *args: str) -> str:
        r = subprocess.run(
            [self.tmux, "-S", self.socket, "-f", "/dev/null", *args],
            env=self.env,
            cwd=self.cwd,
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert r.returncode == 0, f"tmux {args}: {r.stderr}"
        return r.stdout

    def start(self, width: int = WIDTH, height: int = HEIGHT) -> None:
        rc = self.cwd / ".lsm-test-bashrc"  # bash takes no PS1 from the environment when run as root
        rc.write_text(f"PS1={shlex.quote(PROMPT)}\n", encoding="utf-8")
        shell = f"bash --rcfile {shlex.quote(str(rc))} --noprofile -i"
        self.cmd("new-session", "-d", "-s", "mon", "-x", str(width), "-y", str(height), shell)
        self.wait_for(lambda t: PROMPT.strip() in t, what="the shell prompt")

    def type_line(self, line: str) -> None:
        self.cmd("send-keys", "-t", "mon", "-l", line)
        self.cmd("send-keys", "-t", "mon", "Enter")

    def keys(self, *keys: str) -> None:
        for key in keys:
            self.cmd("send-keys", "-t", "mon", key)
            time.sleep(0.15)

    def text(self) -> str:
        return self.cmd("capture-pane", "-p", "-t", "mon")

    def alternate_screen(self) -> bool:
        return self.cmd("display-message", "-p", "-t", "mon", "#{alternate_on}").strip() == "1"

    def wait_for(self, check: Callable[[str], bool], what: str, timeout: float = 20.0) -> str:
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.text()
            if check(text):
                return text
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}; the screen:\n{text}")

    def close(self) -> None:
        subprocess.run([self.tmux, "-S", self.socket, "kill-server"], capture_output=True, timeout=20)
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture
def pane_factory(tmux_bin: str, fake_home: FakeHome) -> Iterator[Callable[..., Pane]]:
    panes: list[Pane] = []

    def make(**env: str) -> Pane:
        pane = Pane(tmux_bin, fake_home.env(**env), fake_home.home)
        panes.append(pane)
        pane.start()
        return pane

    yield make
    for pane in panes:
        pane.close()


# ------------------------------------------------------------------------------------------------------
# A pane in a PID namespace of its own: process discovery sees only what the test started


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        pytest.fail(f"{name} is not installed; the monitor's terminal tests need it", pytrace=False)
    return found


# A new PID namespace with its own /proc: as root, or as anyone where user namespaces are allowed.
UNSHARE_VARIANTS = (
    ("--pid", "--fork", "--mount-proc"),
    ("--user", "--map-root-user", "--pid", "--fork", "--mount-proc"),
)


def unshare_argv() -> list[str]:
    """The first unshare command line that makes a PID namespace here; the test fails without one."""
    unshare = _tool("unshare")
    errors = []
    for flags in UNSHARE_VARIANTS:
        probe = subprocess.run([unshare, *flags, "true"], capture_output=True, text=True)
        if probe.returncode == 0:
            return [unshare, *flags]
        errors.append(probe.stderr.strip())
    pytest.fail(f"unshare cannot make a PID namespace here: {errors}", pytrace=False)


class NamespacePane(Pane):
    """A Pane whose shell is PID 1's child in a new PID namespace with its own /proc."""

    def start(self, width: int = 160, height: int = 40) -> None:
        rc = self.cwd / ".lsm-test-bashrc"
        rc.write_text(f"PS1={shlex.quote(PROMPT)}\n", encoding="utf-8")
        shell = shlex.join([*unshare_argv(), "bash", "--rcfile", str(rc), "--noprofile", "-i"])
        self.cmd("new-session", "-d", "-s", "mon", "-x", str(width), "-y", str(height), shell)
        self.cmd("set-option", "-g", "set-clipboard", "on")  # OSC 52 from the monitor fills a tmux buffer
        self.wait_for(lambda t: PROMPT.strip() in t, what="the shell prompt")


@dataclass
class World:
    pane: NamespacePane
    fake_home: FakeHome
    project: Path
    agent: psutil.Process  # the fake agent, seen from outside the namespace
    inner_pid: int  # its pid inside the namespace (what the monitor shows)
    pager_log: Path
    start_ticks: str  # /proc/<pid>/stat field 22: the same inside and outside the namespace

    def status(self, state: str) -> None:
        """The agent's live status file, as Claude Code writes it (pid as the namespace numbers it)."""
        write_status(self.fake_home, self.inner_pid, self.project, state, proc_start=self.start_ticks)


def _namespaced_pid(proc: psutil.Process) -> int:
    """The process's pid in the innermost PID namespace (the last NSpid field)."""
    for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines():
        if line.startswith("NSpid:"):
            return int(line.split()[-1])
    raise AssertionError("no NSpid line")


def _find_agent(pane: Pane, timeout: float = 20.0) -> psutil.Process:
    root = psutil.Process(int(pane.cmd("display-message", "-p", "-t", "mon", "#{pane_pid}")))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in root.children(recursive=True):
            try:
                if any(arg.endswith("sleeper.py") for arg in p.cmdline()):
                    return p
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.1)
    raise AssertionError("the fake agent did not start")


@pytest.fixture(name="world")
def world_fixture(fake_home: FakeHome, tmp_path: Path) -> Iterator[World]:
    """A fake agent in a pane of its own PID namespace; $PAGER records its arguments."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "claude").symlink_to(sys.executable)
    project = tmp_path / "work" / "dashboard_app"
    project.mkdir(parents=True)
    pager_log = tmp_path / "pager.log"
    pager = tmp_path / "record-pager"
    # A pager that records its arguments, one per line, and exits at once.
    pager.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" >> {shlex.quote(str(pager_log))}\n', encoding="utf-8")
    pager.chmod(0o755)
    env = fake_home.env(LSM_DISCOVERY="on", PAGER=str(pager), FAKE_AGENT_LIFETIME="300")
    pane = NamespacePane(_tool("tmux"), env, fake_home.home)
    try:
        pane.start()
        agent_cmd = shlex.join([str(bindir / "claude"), str(FAKE_AGENTS / "sleeper.py")])
        pane.type_line(f"(cd {shlex.quote(str(project))} && exec {agent_cmd} > /dev/null) &")
        agent = _find_agent(pane)
        write_transcript(fake_home, project)
        inner = _namespaced_pid(agent)
        start_ticks = Path(f"/proc/{agent.pid}/stat").read_text().rsplit(")", 1)[1].split()[19]
        world = World(pane, fake_home, project, agent, inner, pager_log, start_ticks)
        world.status("busy")
        yield world
    finally:
        pane.close()


def monitor_line(fake_home: FakeHome, *args: str) -> str:
    """The shell line: terminal settings before and after, the monitor, its exit status."""
    cmd = shlex.join([sys.executable, "-m", "llm_session_manager", "monitor", "--interval", "1", *args])
    return (
        f"stty -g > {fake_home.home}/stty.before; {cmd}; echo EXIT=$?; stty -g > {fake_home.home}/stty.after"
    )


def marked_row(text: str) -> str:
    rows = [line for line in text.splitlines() if line.startswith(">")]
    assert len(rows) == 1, text
    return rows[0]


def save_capture(name: str, text: str) -> None:
    """With MONITOR_CAPTURES=DIR, keep the screens (docs/DASHBOARD_FEATURES.md shows them)."""
    folder = os.environ.get("MONITOR_CAPTURES")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        Path(folder, f"{name}.txt").write_text(text, encoding="utf-8")


def assert_terminal_clean(pane: Pane, fake_home: FakeHome, status: int) -> str:
    text = pane.wait_for(lambda t: f"EXIT={status}" in t, what=f"EXIT={status}")
    pane.wait_for(lambda t: t.rstrip().endswith(PROMPT.strip()), what="the prompt after the monitor")
    assert not pane.alternate_screen()
    assert "lsm monitor " not in text and "Today:" not in text  # the dashboard is gone with its screen
    before = (fake_home.home / "stty.before").read_text()
    assert (fake_home.home / "stty.after").read_text() == before  # echo, canonical mode... all back
    return text


def add_reply(fake_home: FakeHome, project: Path, cache_read: int) -> None:
    """The agent answers again: one more assistant line in the running session's transcript."""
    from llm_session_manager.agents.claude_code import encode_project_dir

    line = {
        "type": "assistant",
        "sessionId": SID,
        "cwd": str(project),
        "timestamp": iso_now(-timedelta(seconds=1)),
        "isSidechain": False,
        "requestId": "req_2",
        "message": {
            "id": "msg_2",
            "model": "claude-sonnet-4-5-20250929",
            "content": [{"type": "text", "text": "Done."}],
            "usage": {
                "input_tokens": 10,
                "output_tokens": 20,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": cache_read,
            },
        },
    }
    path = fake_home.projects / encode_project_dir(str(project)) / f"{SID}.jsonl"
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(line) + "\n")


def test_monitor_end_to_end(world: World) -> None:
    fake_home, project, pid, pane = world.fake_home, world.project, world.inner_pid, world.pane
    pane.type_line(monitor_line(fake_home))

    # The running session, linked to its process: busy, 151,010 of 200,000 tokens of context.
    text = pane.wait_for(lambda t: SHORT in t and "active (busy)" in t, what="the running session")
    assert pane.alternate_screen()
    row = next(line for line in text.splitlines() if SHORT in line)
    assert "add a login page" in row and "dashboard_app" in row and "76%" in row and "151k" in row
    assert " lsm monitor " in text and "Today:" in text and "Burn:" in text
    assert f"claude-code:{SID}" in text and f"pid {pid}" in text  # the detail pane of the selection
    assert "88a8d761" not in text  # ended fixture sessions: only with "a"
    save_capture("running", text)

    # a: every session.
    pane.keys("a")
    text = pane.wait_for(lambda t: "88a8d761" in t and "showing all sessions" in t, what="all sessions")
    assert SHORT in marked_row(text)
    save_capture("all", text)

    # j / k / Down / Up move the selection; the detail pane follows it.
    pane.keys("j")
    text = pane.wait_for(lambda t: SHORT not in marked_row(t), what="the selection to move down")
    second = marked_row(text).split()[1]
    assert f"claude-code:{SID}" not in text
    pane.keys("k")
    pane.wait_for(lambda t: SHORT in marked_row(t), what="the selection to move back up")
    pane.keys("Down")
    pane.wait_for(lambda t: second in marked_row(t), what="Down")
    pane.keys("Up")
    pane.wait_for(lambda t: SHORT in marked_row(t) and f"claude-code:{SID}" in t, what="Up")

    # Enter hides the detail pane, and shows it again.
    pane.keys("Enter")
    pane.wait_for(lambda t: f"claude-code:{SID}" not in t, what="the detail pane to close")
    pane.keys("Enter")
    pane.wait_for(lambda t: f"claude-code:{SID}" in t, what="the detail pane to open")

    # s: next sort (context fill), marked in the header.
    pane.keys("s")
    text = pane.wait_for(lambda t: "sorted by context fill" in t, what="the sort to change")
    assert "Context ↓" in text and "Last ↓" not in text

    # h: the help; h again closes it.
    pane.keys("h")
    text = pane.wait_for(lambda t: "Help: keys" in t, what="the help")
    assert "cycle the sort" in text and "show all sessions / running ones only" in text
    save_capture("help", text)
    pane.keys("?")
    pane.wait_for(lambda t: "Help: keys" not in t and SHORT in t, what="the help to close")

    # r: refresh now.
    pane.keys("r")
    pane.wait_for(lambda t: "refreshed at" in t, what="a refresh")

    # Without a key, the next refresh shows what the agent did: a new reply, then waiting on the user.
    add_reply(fake_home, project, cache_read=171_000)  # +171,030 -> 322,060 tokens; context 171,010
    pane.wait_for(lambda t: "322k" in t, what="the new reply's tokens")
    world.status("waiting")
    text = pane.wait_for(lambda t: "(needs you)" in t, what="the waiting state")
    save_capture("waiting", text)

    # a again: running ones only.
    pane.keys("a")
    pane.wait_for(lambda t: "88a8d761" not in t and "showing running sessions only" in t, what="running only")

    pane.keys("q")
    text = assert_terminal_clean(pane, fake_home, 0)
    save_capture("after_quit", text)


def test_ctrl_c_restores_the_terminal(fake_home: FakeHome, pane_factory: Callable[..., Pane]) -> None:
    pane = pane_factory()
    pane.type_line(monitor_line(fake_home))
    pane.wait_for(lambda t: "No agent is running right now." in t, what="the dashboard")
    assert pane.alternate_screen()
    pane.keys("C-c")
    assert_terminal_clean(pane, fake_home, 130)  # 128 + SIGINT, as for any interrupted command


def test_sigterm_restores_the_terminal(fake_home: FakeHome, pane_factory: Callable[..., Pane]) -> None:
    import psutil

    pane = pane_factory()
    pane.type_line(monitor_line(fake_home))
    pane.wait_for(lambda t: "No agent is running right now." in t, what="the dashboard")
    shell = psutil.Process(int(pane.cmd("display-message", "-p", "-t", "mon", "#{pane_pid}")))
    monitors = [p for p in shell.children() if "monitor" in p.cmdline()]
    assert len(monitors) == 1
    monitors[0].terminate()
    assert_terminal_clean(pane, fake_home, 143)  # 128 + SIGTERM


def test_resize_lays_the_screen_out_again(fake_home: FakeHome, pane_factory: Callable[..., Pane]) -> None:
    pane = pane_factory()
    pane.type_line(monitor_line(fake_home))
    pane.wait_for(lambda t: "No agent is running" in t, what="the dashboard")
    pane.keys("a")
    text = pane.wait_for(lambda t: "88a8d761" in t and "Cost" in t, what="all sessions")
    assert "Title" in text and "ID" in text
    pane.cmd("resize-window", "-t", "mon", "-x", "80", "-y", "24")
    text = pane.wait_for(lambda t: "Cost" not in t and "Stage0 small" in t, what="the narrow layout")
    save_capture("narrow", text)
    lines = text.splitlines()
    assert len(lines) <= 24 and all(len(line) <= 80 for line in lines)
    header = next(line for line in lines if "Title" in line)
    assert "Project" in header and "Context" in header and "Status" in header and "ID" in header
    pane.cmd("resize-window", "-t", "mon", "-x", "160", "-y", "40")
    pane.wait_for(lambda t: "Cost" in t and "ID" in t, what="the wide layout again")
    pane.keys("q")
    assert_terminal_clean(pane, fake_home, 0)


def test_empty_machine(tmux_bin: str, tmp_path: Path) -> None:
    home = tmp_path / "empty-home"
    home.mkdir()
    fh = FakeHome(home=home, claude=home / ".claude", lsm_home=tmp_path / "empty-lsm")
    pane = Pane(tmux_bin, fh.env(), home)
    try:
        pane.start()
        pane.type_line(monitor_line(fh))
        text = pane.wait_for(
            lambda t: "No AI coding sessions on this machine yet." in t, what="the empty screen"
        )
        assert "lsm looks in:" in text and f"{home}/.claude/projects  (not there)" in text
        save_capture("empty", text)
        pane.keys("q")
        assert_terminal_clean(pane, fh, 0)
    finally:
        pane.close()


def test_not_a_terminal(fake_home: FakeHome) -> None:
    r = fake_home.run("monitor", "--interval", "1")
    assert r.returncode == 2 and r.stdout == ""  # needs a terminal: a usage error, as for batch-close
    assert r.stderr.count("\n") == 1 and "not" in r.stderr and "lsm list --format json" in r.stderr


def test_bad_interval(fake_home: FakeHome) -> None:
    r = fake_home.run("monitor", "--interval", "0")
    assert r.returncode == 2 and "--interval" in r.stderr


# ------------------------------------------------------------------------------------------------------
# The failure path, on a pseudo-terminal in this process


def test_terminal_restored_when_a_refresh_raises() -> None:
    import pty
    import termios

    from rich.console import Console
    from test_tui_render import snapshot_of

    from llm_session_manager.tui.loop import run
    from llm_session_manager.tui.render import ViewState

    master, slave = pty.openpty()
    out = os.fdopen(os.dup(slave), "w", encoding="utf-8")
    before = termios.tcgetattr(slave)
    received = bytearray()

    def drain() -> None:  # the pty's buffer must not fill up while the loop writes
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                return
            if not chunk:
                return
            received.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()

    class Failing:
        calls = 0

        def refresh(self, force: bool = False) -> Any:
            self.calls += 1
            if self.calls > 1:
                raise RuntimeError("boom")
            return snapshot_of([])

    console = Console(file=out, force_terminal=True, width=80, height=20, color_system=None)
    try:
        with pytest.raises(RuntimeError, match="boom"):
            run(Failing(), interval=0.05, console=console, state=ViewState(), stdin_fd=slave)
        out.flush()
        # In cbreak mode while it ran, back to the saved settings now.
        assert termios.tcgetattr(slave) == before
        time.sleep(0.2)
        data = bytes(received)
        assert b"\x1b[?1049h" in data and b"No AI coding sessions" in data
        # The alternate screen was left and the cursor shown again, after the last frame.
        assert data.rfind(b"\x1b[?1049l") > data.rfind(b"No AI coding sessions")
        assert b"\x1b[?25h" in data[data.rfind(b"No AI coding sessions") :]
    finally:
        out.close()
        os.close(slave)
        os.close(master)
        reader.join(timeout=5)


def test_keys_do_not_wait_for_the_refresh() -> None:
    """A key typed while the loop waits is handled at once, not at the next refresh."""
    import pty

    from rich.console import Console
    from test_tui_render import snapshot_of

    from llm_session_manager.tui.loop import run
    from llm_session_manager.tui.render import ViewState

    master, slave = pty.openpty()
    out = os.fdopen(os.dup(slave), "w", encoding="utf-8")
    threading.Thread(target=lambda: _drain(master), daemon=True).start()

    class Counting:
        calls = 0

        def refresh(self, force: bool = False) -> Any:
            self.calls += 1
            return snapshot_of([])

    refresher = Counting()
    console = Console(file=out, force_terminal=True, width=80, height=20, color_system=None)
    threading.Timer(0.3, lambda: os.write(master, b"q")).start()
    started = time.monotonic()
    try:
        run(refresher, interval=30.0, console=console, state=ViewState(), stdin_fd=slave)
        took = time.monotonic() - started
        assert took < 5 and refresher.calls == 1  # quit long before the 30 s refresh
    finally:
        out.close()
        os.close(slave)
        os.close(master)


def _drain(fd: int) -> None:
    while True:
        try:
            if not os.read(fd, 65536):
                return
        except OSError:
            return
