"""A fake HOME for every test: no test ever sees the developer's real ~/.claude or lsm data, nor an agent
process it did not start. Also: lsm run inside the test process (FakeHome.run, run_cli_inprocess) and the
markers of each test file (MARKED_FILES). docs/TESTING_GUIDE.md describes them."""

from __future__ import annotations

import contextlib
import gc
import io
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"
CLAUDE_FIX = FIXTURES / "claude"
REPO = Path(__file__).resolve().parent.parent
# Variables that point lsm or an agent at real data: never inherited by a test.
LEAKY_ENV = (
    "LSM_",
    "CLAUDE_CONFIG_DIR",
    "XDG_",
    "CODEX_HOME",
    "GEMINI_DATA_DIR",
    "GEMINI_CLI_HOME",
    "COPILOT_HOME",
    "CURSOR_CONFIG_DIR",
    "CLINE_DATA_DIR",
    "CLINE_DIR",
    "VSCODE_PORTABLE",
    "APPDATA",
    "TIKTOKEN_CACHE_DIR",
    "ANTHROPIC_",
)

SUBAGENT_PARENT = "0a1b2c3d-4e5f-4061-8071-2a3b4c5d6e7f"
# `pytest --cli-process`: FakeHome.run starts a child process for every command, as before the
# in-process runner (a way to check that both give the same results).
CLI_IN_CHILD_PROCESS = False


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--cli-process",
        action="store_true",
        help="run every FakeHome.run command in a child process instead of in process",
    )


def pytest_configure(config: pytest.Config) -> None:
    global CLI_IN_CHILD_PROCESS
    CLI_IN_CHILD_PROCESS = bool(config.getoption("--cli-process"))


# The markers of pyproject.toml by test file: (markers, only tests whose name holds this word or None).
# Kept here, in one table, so that `-m "not slow"`, `-m tmux` or `-m chroma` picks the same tests
# whoever edits the files. tests/test_markers.py checks that every file named still exists.
MARKED_FILES: dict[str, tuple[tuple[str, ...], str | None]] = {
    "test_monitor_tmux.py": (("tmux", "slow"), None),
    "test_monitor_actions_tmux.py": (("tmux", "slow"), None),
    "test_hooks_live.py": (("tmux", "slow"), None),
    "test_memory.py": (("chroma",), None),
    "test_memory_server.py": (("chroma", "slow"), None),
    "test_memory_state.py": (("chroma", "slow"), None),
    "test_json_contract.py": (("chroma",), "memory"),
    "test_mcp_server.py": (("chroma",), "memory"),
    "test_mcp_stdio.py": (("slow",), None),
    "test_mcp_stdio_errors.py": (("slow",), None),
    "test_mcp_http_auth.py": (("slow",), None),
    "test_tables_pty.py": (("slow",), None),
    "test_fuzz_readers.py": (("slow",), None),
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        markers, word = MARKED_FILES.get(item.path.name, ((), None))
        if word is None or word in item.name:
            for name in markers:
                item.add_marker(name)


@dataclass
class FakeHome:
    home: Path
    claude: Path  # ~/.claude
    lsm_home: Path

    @property
    def projects(self) -> Path:
        return self.claude / "projects"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(LEAKY_ENV)}
        # Processes running on the test machine are not part of any test's world; a test that turns
        # discovery on sees only agents working in its own folder (not those of a test running alongside).
        env.update(
            HOME=str(self.home),
            LSM_HOME=str(self.lsm_home),
            NO_COLOR="1",
            COLUMNS="200",
            LSM_DISCOVERY="off",
            LSM_DISCOVERY_UNDER=str(self.home.parent),
        )
        env.update(extra)
        return env

    def run(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """``lsm ARGS`` as a user runs it, in this home: stdout, stderr and exit status. In this process
        (see :func:`run_cli_inprocess`) unless discovery is on: then lsm must see the test's agent
        processes, which are this process's children and so, in process, its own family."""
        env = self.env(**extra)
        if CLI_IN_CHILD_PROCESS or discovery_on(env):
            return self.run_process(*args, **extra)
        return run_cli_inprocess(args, env=env, cwd=self.home)

    def run_process(self, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        """``python -m llm_session_manager ARGS`` in a child process: for what only a real process
        shows (start-up imports, the entry point's own exit, signals, a terminal, discovery)."""
        return subprocess.run(
            [sys.executable, "-m", "llm_session_manager", *args],
            env=self.env(**extra),
            capture_output=True,
            text=True,
            timeout=120,
            cwd=str(self.home),
        )


def discovery_on(env: Mapping[str, str]) -> bool:
    return env.get("LSM_DISCOVERY", "on").lower() not in ("off", "0", "no", "false")


# Python's default warning filters outside __main__ (pytest's own would record warnings instead of
# printing them on stderr as the real process does).
_DEFAULT_WARNING_FILTERS = (
    ("ignore", DeprecationWarning),
    ("ignore", PendingDeprecationWarning),
    ("ignore", ImportWarning),
    ("ignore", ResourceWarning),
)


def _reset_process_state() -> None:
    """State lsm keeps for the life of its process and that a new process would not have."""
    tokens = sys.modules.get("llm_session_manager.tokens")
    if tokens is not None:
        tokens._cache_dir = None  # chosen from TIKTOKEN_CACHE_DIR / LSM_HOME on first use


def _exit_status(code: object, stderr: io.TextIOWrapper) -> int:
    """What the interpreter makes of ``SystemExit(code)``."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    stderr.write(f"{code}\n")
    return 1


def _captured(stream: io.TextIOWrapper) -> str:
    """The stream's text as ``subprocess.run(text=True)`` decodes a child's: strict UTF-8, universal
    newlines."""
    stream.flush()
    stream.buffer.seek(0)
    return stream.buffer.read().decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def _file_stream(errors: str) -> io.TextIOWrapper:
    """A text stream over an anonymous file; closing it closes the file."""
    return io.TextIOWrapper(tempfile.TemporaryFile(), encoding="utf-8", errors=errors)


@contextlib.contextmanager
def _process_like(env: Mapping[str, str], cwd: Path) -> Iterator[tuple[io.TextIOWrapper, io.TextIOWrapper]]:
    """This process made to look like a fresh ``lsm`` process for the length of one command: its own
    environment, working directory, argv, stdin from /dev/null, stdout and stderr to files (with real
    file descriptors, as a pipe has), Python's default warning filters. Everything is put back after."""
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    saved_streams = (sys.stdin, sys.stdout, sys.stderr, sys.argv)
    with contextlib.ExitStack() as files:
        # The encodings and error handlers of a child's pipes under a UTF-8 locale.
        out = files.enter_context(_file_stream("surrogateescape"))
        err = files.enter_context(_file_stream("backslashreplace"))
        stdin = files.enter_context(open(os.devnull, encoding="utf-8"))
        try:
            os.environ.clear()
            os.environ.update(env)
            time.tzset()  # a child process reads TZ at start
            os.chdir(cwd)
            sys.stdin, sys.stdout, sys.stderr = stdin, out, err
            _reset_process_state()
            with warnings.catch_warnings():
                warnings.resetwarnings()
                for action, category in _DEFAULT_WARNING_FILTERS:
                    warnings.simplefilter(action, category)
                yield out, err
        finally:
            sys.stdin, sys.stdout, sys.stderr, sys.argv = saved_streams
            os.chdir(saved_cwd)
            os.environ.clear()
            os.environ.update(saved_env)
            time.tzset()
            _reset_process_state()


def run_cli_inprocess(
    args: tuple[str, ...] | list[str], *, env: Mapping[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    """``lsm ARGS`` through the real entry point (``entry.main``, as ``python -m llm_session_manager``
    calls it) inside this process: the same stdout, stderr and exit status as the child process of
    :meth:`FakeHome.run_process` (tests/test_runner_parity.py holds the two to that), ten to fifty
    times faster. An exception nobody caught prints its traceback and exits 1, as the interpreter does."""
    from llm_session_manager import entry
    from llm_session_manager.store import checkpoints

    argv = [str(a) for a in args]
    collecting = gc.isenabled()  # a listing turns the collector off for the rest of its process
    with _process_like(env, cwd) as (out, err):
        sys.argv = [str(Path(entry.__file__).with_name("__main__.py")), *argv]
        try:
            entry.main()
            status = 0
        except SystemExit as exc:
            status = _exit_status(exc.code, err)
        except KeyboardInterrupt:
            traceback.print_exc()
            status = -signal.SIGINT  # the interpreter ends itself with the signal
        except Exception:
            traceback.print_exc()
            status = 1
        finally:
            # A process ends only once its threads have: a cold scan's checkpointing thread
            # (store/checkpoints.py) still copying the log into the database.
            try:
                checkpoints.settle()
            finally:
                if collecting:
                    gc.enable()
        stdout, stderr = _captured(out), _captured(err)
    return subprocess.CompletedProcess(["lsm", *argv], status, stdout, stderr)


@pytest.fixture(autouse=True)
def _isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Even in-process tests get a fake HOME and data dir."""
    for key in list(os.environ):
        if key.startswith(LEAKY_ENV):
            monkeypatch.delenv(key, raising=False)
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("LSM_HOME", str(tmp_path / "lsm-data"))
    monkeypatch.setenv("LSM_DISCOVERY_UNDER", str(tmp_path))
    yield


def install_fixtures(projects: Path) -> None:
    """Lay the public Claude Code fixtures out as a real ~/.claude/projects tree."""
    tmp = projects / "-tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    shutil.copy(CLAUDE_FIX / "stage0_small.jsonl", tmp / "ses_stage0_small.jsonl")
    shutil.copy(CLAUDE_FIX / "subagent" / f"{SUBAGENT_PARENT}.jsonl", tmp / f"{SUBAGENT_PARENT}.jsonl")
    shutil.copytree(CLAUDE_FIX / "subagent" / SUBAGENT_PARENT, tmp / SUBAGENT_PARENT)
    log = projects / "-e-Workspace-src-github-claude-code-log"
    log.mkdir(parents=True, exist_ok=True)
    shutil.copy(CLAUDE_FIX / "sidechain_integrated.jsonl", log / "88a8d761-7b9a-4bf1-a8ca-c1febe6bf358.jsonl")
    shutil.copy(CLAUDE_FIX / "representative_messages.jsonl", log / "representative.jsonl")
    alpha = projects / "project-alpha" / "session-alpha"
    alpha.mkdir(parents=True, exist_ok=True)
    shutil.copy(CLAUDE_FIX / "ccusage_chat.jsonl", alpha / "chat.jsonl")


@pytest.fixture
def fake_home(tmp_path: Path) -> FakeHome:
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    fh = FakeHome(home=home, claude=home / ".claude", lsm_home=tmp_path / "lsm-data")
    install_fixtures(fh.projects)
    return fh
