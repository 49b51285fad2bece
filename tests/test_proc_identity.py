"""`lsm list`'s fast path asks ``discovery.could_find_agents`` (``/proc`` read directly) before it loads
psutil: it must see every process as psutil does, or a running agent would be missed and a stale listing
printed. Real processes, compared with psutil's own view of them."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from factories import running_agent

from llm_session_manager import discovery

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")

NODE = shutil.which("node")


def _psutil_view(pid: int) -> tuple[str, str | None, tuple[str, ...]] | None:
    """name, exe and cmdline as discovery's psutil pass gets them (``ad_value=None``)."""
    try:
        proc = psutil.Process(pid)
        info = proc.as_dict(attrs=["name", "exe", "cmdline"], ad_value=None)
    except psutil.NoSuchProcess:
        return None
    cmdline = info["cmdline"]
    return info["name"], info["exe"], tuple(cmdline) if cmdline is not None else ()


def _same_for(pid: int) -> bool:
    """Whether both views agree (a process that ends or changes between the two reads is tried again)."""
    for _ in range(5):
        ours, theirs = discovery.proc_identity(pid), _psutil_view(pid)
        if ours == theirs:
            return True
        time.sleep(0.05)
    print(pid, ours, theirs)
    return False


@pytest.fixture
def odd_processes(tmp_path: Path) -> Iterator[list[int]]:
    """Processes whose identity takes psutil's rules to read: a name over the kernel's 15 bytes, an
    executable deleted while it runs, node processes that retitled themselves (as Claude Code's npm
    install does) with spaces in the title, one of them filling the argv area to its last byte, and a
    zombie (psutil knows no executable for it)."""
    procs: list[subprocess.Popen[bytes]] = []
    sleeper = Path(__file__).parent / "fake_agents" / "sleeper.py"
    long_name = tmp_path / "a-program-with-a-long-name"
    long_name.symlink_to(sys.executable)
    procs.append(subprocess.Popen([str(long_name), str(sleeper)], stdout=subprocess.PIPE))
    copy = tmp_path / "python-copy"
    shutil.copy2(os.path.realpath(sys.executable), copy)
    procs.append(subprocess.Popen([str(copy), str(sleeper)], stdout=subprocess.PIPE))
    assert NODE is not None, "node is installed by .ci/run"
    title = "process.title = 'claude tool runner'; console.log('ready'); setTimeout(() => {}, 60000)"
    procs.append(subprocess.Popen([NODE, "-e", title], stdout=subprocess.PIPE))
    # A title that fills the whole argv area but its last byte: one NUL-ended string, split at spaces.
    filled = (
        "const n = require('fs').readFileSync('/proc/self/cmdline').length;"
        "process.title = 'claude tool runner '.repeat(50).slice(0, n - 1);"
        "console.log('ready'); setTimeout(() => {}, 60000)"
    )
    procs.append(subprocess.Popen([NODE, "-e", filled], stdout=subprocess.PIPE))
    # A zombie: a child that has ended and that its parent has not waited for.
    reaper = (
        "import subprocess, time; c = subprocess.Popen(['true']); print(c.pid, flush=True); time.sleep(60)"
    )
    parent = subprocess.Popen([sys.executable, "-c", reaper], stdout=subprocess.PIPE)
    try:
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        copy.unlink()  # /proc/<pid>/exe now ends with " (deleted)"
        assert parent.stdout is not None
        zombie = int(parent.stdout.readline())
        while psutil.Process(zombie).status() != psutil.STATUS_ZOMBIE:
            time.sleep(0.01)
        yield [*(p.pid for p in procs), zombie]
    finally:
        for proc in [*procs, parent]:
            proc.kill()
            proc.wait(timeout=10)


def test_every_process_reads_as_psutil_reads_it(odd_processes: list[int]) -> None:
    assert os.readlink(f"/proc/{odd_processes[1]}/exe").endswith(" (deleted)")
    assert discovery.proc_identity(odd_processes[0])[0] == "a-program-with-a-long-name"  # type: ignore[index]
    assert discovery.proc_identity(odd_processes[3])[2][:3] == ("claude", "tool", "runner")  # type: ignore[index]
    assert discovery.proc_identity(odd_processes[4]) == ("true", None, ())
    pids = set(psutil.pids()) | set(odd_processes)
    assert all(_same_for(pid) for pid in sorted(pids))


def test_a_process_gone_reads_as_none() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait(timeout=10)
    assert discovery.proc_identity(proc.pid) is None


def test_a_running_agent_is_seen_without_psutil(tmp_path: Path) -> None:
    with running_agent(tmp_path / "bin", tmp_path / "app") as agent:
        assert discovery.proc_identity(agent.pid) == _psutil_view(agent.pid)
        assert discovery.could_find_agents()
        # (as seen from another process: the scan leaves out its own children)
        found = discovery.scan_processes([], self_pid=2**22 + 1, within=tmp_path / "app")
        assert [p.pid for p in found] == [agent.pid]


def _fake_proc(root: Path, pid: int, name: str, argv: list[str], exe: str | None) -> None:
    folder = root / str(pid)
    folder.mkdir(parents=True)
    (folder / "stat").write_text(f"{pid} ({name}) S 1 {pid} {pid} 0 -1 4194560 0 0 0 0 0 0 0 0 20 0 1 0 99\n")
    (folder / "cmdline").write_bytes(b"".join(a.encode() + b"\0" for a in argv))
    if exe is not None:
        (folder / "exe").symlink_to(exe)


def test_no_agent_in_proc_means_none_can_be_found(tmp_path: Path) -> None:
    """The answer rests on classify alone: decoys are not agents; one agent among them is."""
    proc = tmp_path / "proc"
    _fake_proc(proc, 10, "bash", ["-bash"], "/usr/bin/bash")
    _fake_proc(proc, 11, "node", ["node", "/opt/tools/claude-tools/cli.js"], "/usr/bin/node")
    _fake_proc(proc, 12, "grep", ["grep", "claude"], "/usr/bin/grep")
    _fake_proc(proc, 13, "kthreadd", [], None)
    (proc / "self").mkdir()
    assert not discovery.could_find_agents(str(proc))
    cli = "/usr/lib/node_modules/@anthropic-ai/claude-code/cli.js"
    _fake_proc(proc, 14, "node", ["node", cli], "/usr/bin/node")
    assert discovery.could_find_agents(str(proc))


def test_an_unreadable_proc_means_perhaps(tmp_path: Path) -> None:
    assert discovery.could_find_agents(str(tmp_path / "missing"))


def test_the_fast_path_loads_no_psutil_when_no_agent_can_run(tmp_path: Path) -> None:
    """Checked in a child whose /proc shows no agent of its own making (the machine's processes are not
    this test's to control: if one of them is an agent, psutil is loaded, as it should be)."""
    code = (
        "import sys\n"
        "from llm_session_manager import discovery\n"
        "found = discovery.could_find_agents()\n"
        "print(found, 'psutil' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True)
    found, loaded = out.stdout.split()
    assert loaded == "False"
    assert found in ("True", "False")


def test_a_one_shot_command_loads_psutil_only_when_proc_shows_a_possible_agent(tmp_path: Path) -> None:
    """service.collect's process scan asks /proc first: psutil is loaded (and its pass made) exactly when
    some process could be an agent; either answer is right on a machine this test does not control."""
    code = (
        "import sys\n"
        "from llm_session_manager import discovery, service\n"
        "from llm_session_manager.paths import resolve\n"
        "real, seen = discovery.could_find_agents, []\n"
        "def spy(*args):\n"
        "    seen.append(real(*args))\n"
        "    return seen[-1]\n"
        "discovery.could_find_agents = spy\n"
        "procs, error = service._scan_processes(resolve())\n"
        "print(seen, 'psutil' in sys.modules, error)\n"
    )
    env = {**os.environ, "HOME": str(tmp_path), "LSM_DISCOVERY_UNDER": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True, env=env
    )
    assert out.stdout.strip() in ("[False] False None", "[True] True None"), out.stdout
    with running_agent(tmp_path / "bin", tmp_path / "app"):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True, env=env
        )
    assert out.stdout.strip() == "[True] True None", out.stdout
