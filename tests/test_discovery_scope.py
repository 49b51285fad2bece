"""LSM_DISCOVERY_UNDER keeps process discovery to the agents working in one folder: how every test that
turns discovery on sees its own fake agents and never a real `claude` on the machine, or one that a test
running alongside started."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import FakeHome

from llm_session_manager.discovery import scan_processes, scope

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fake agents need /proc")

FAKE_AGENTS = Path(__file__).parent / "fake_agents"


@pytest.fixture
def start_claude(tmp_path: Path) -> Iterator[Callable[[Path], int]]:
    """Starts a process shaped like Claude Code (argv[0] `claude`) working in a given folder."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "claude").symlink_to(sys.executable)
    procs: list[subprocess.Popen[bytes]] = []

    def start(cwd: Path) -> int:
        cwd.mkdir(parents=True, exist_ok=True)
        proc = subprocess.Popen(
            [str(bindir / "claude"), str(FAKE_AGENTS / "sleeper.py")],
            cwd=cwd,
            stdout=subprocess.PIPE,
            env={"FAKE_AGENT_LIFETIME": "60", "PATH": "/usr/bin:/bin"},
        )
        procs.append(proc)
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        return proc.pid

    yield start
    for proc in procs:
        proc.kill()
        proc.wait(timeout=10)


def test_the_variable_names_a_folder() -> None:
    assert scope({}) is None
    assert scope({"LSM_DISCOVERY_UNDER": " "}) is None
    assert scope({"LSM_DISCOVERY_UNDER": "/tmp/x/../y"}) == Path("/tmp/y").resolve()
    assert scope({"LSM_DISCOVERY_UNDER": "~/w", "HOME": "/ignored"}) == Path("~/w").expanduser().resolve()


def test_only_agents_working_in_the_folder_are_found(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, start_claude: Callable[[Path], int]
) -> None:
    here = start_claude(tmp_path / "work" / "app")
    elsewhere = start_claude(tmp_path_factory.mktemp("elsewhere") / "app")
    bystander = start_claude(
        tmp_path / "bystander"
    )  # stands for lsm: itself and its children are never listed

    def pids(within: Path | None) -> set[int]:
        return {p.pid for p in scan_processes([], self_pid=bystander, within=within)}

    assert {here, elsewhere} <= pids(None)
    assert pids(tmp_path / "work") == {here}
    assert pids(tmp_path / "work" / "app") == {here}
    assert pids(tmp_path / "work" / "ap") == set()  # a folder, not a prefix of the name


def test_a_test_with_discovery_on_sees_only_its_own_agents(
    fake_home: FakeHome, tmp_path_factory: pytest.TempPathFactory, start_claude: Callable[[Path], int]
) -> None:
    """What broke test_monitor_end_to_end on machines where a real `claude` runs: an agent outside the
    test's folder is not a running row of the test's listing."""
    mine = start_claude(fake_home.home.parent / "work" / "my_app")
    theirs = start_claude(tmp_path_factory.mktemp("elsewhere") / "app")
    r = fake_home.run("list", "--all", "--format", "json", LSM_DISCOVERY="on")
    assert r.returncode == 0, r.stderr
    running = {row["pid"] for row in json.loads(r.stdout) if row.get("pid") is not None}
    assert running == {mine}, (mine, theirs, running)
