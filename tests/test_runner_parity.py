"""FakeHome.run runs lsm inside the test process (tests/conftest.py, run_cli_inprocess): it must answer
exactly as `python -m llm_session_manager` in a child process does — stdout, stderr, exit status — for
commands of every kind: tables and JSON, help and usage errors, lsm's own errors, writes, the fast
statusline and hook paths. Each command runs on a fresh data dir both times, so both see the same
store."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
import tempfile

import pytest
from conftest import FakeHome, _exit_status, run_cli_inprocess

SUB = "0a1b2c3d"  # the sub-agent fixture's session, by prefix
SAMPLE = [
    (),
    ("--version",),
    ("--help",),
    ("list", "--help"),
    ("no-such-command",),
    ("list", "--no-such-option"),
    ("list",),
    ("list", "--all", "--format", "json"),
    ("list", "--all", "--sort", "cost", "--format", "csv"),
    ("info",),
    ("health", SUB),
    ("health", SUB, "--format", "json"),
    ("health", "ffffffff"),
    ("health", ""),
    ("tag", SUB, "parity", "--format", "json"),
    ("describe", SUB, "two runs, one answer"),
    ("search", "stage0", "--all"),
    ("forget", SUB),
    ("export", SUB, "--format", "json", "-o", "/no/such/folder/x.json"),
    ("recommend", "--format", "json"),
    ("report", "daily", "--format", "json"),
    ("tag-stats",),
    ("show-config",),
    ("limits", "--format", "json"),
    ("hooks", "status"),
    ("statusline",),
    ("hook", "Stop"),
    ("tokens", "--help"),
]


@pytest.mark.slow
@pytest.mark.parametrize("args", SAMPLE, ids=[" ".join(a) or "(none)" for a in SAMPLE])
def test_in_process_answers_as_the_child_process(fake_home: FakeHome, args: tuple[str, ...]) -> None:
    child = fake_home.run_process(*args)
    shutil.rmtree(fake_home.lsm_home, ignore_errors=True)
    inside = run_cli_inprocess(args, env=fake_home.env(), cwd=fake_home.home)
    assert (inside.returncode, inside.stdout, inside.stderr) == (child.returncode, child.stdout, child.stderr)
    assert "Traceback" not in child.stderr


@pytest.mark.parametrize("value", [None, 0, 3, 258, -1, "bye"])
def test_exit_values_are_read_as_the_interpreter_reads_them(value: object) -> None:
    """The runner's stand-in for the interpreter's handling of ``sys.exit(value)``, against the real one."""
    child = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.exit({value!r})"], capture_output=True, text=True
    )
    with io.TextIOWrapper(tempfile.TemporaryFile(), encoding="utf-8") as err:
        assert _exit_status(value, err) == child.returncode
        err.flush()
        err.buffer.seek(0)
        assert err.buffer.read().decode("utf-8") == child.stderr
