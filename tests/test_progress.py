"""Progress of a long scan: the scanner tells a plain ``ScanProgress`` of every file it reads (serial and
parallel reading, cold and incremental scans); the CLI draws it as a Rich bar on stderr only when stderr
is a terminal and the scan lasts over a second, and erases it before the table."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FakeHome

from llm_session_manager import config as config_mod
from llm_session_manager import scan, service
from llm_session_manager.cli.progress import ScanBar, scan_progress
from llm_session_manager.paths import resolve

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Recorder:
    """A ScanProgress that writes down what it is told."""

    def __init__(self) -> None:
        self.planned_files = self.planned_bytes = self.done_files = self.done_bytes = 0
        self.finished_calls = 0

    def planned(self, files: int, nbytes: int) -> None:
        self.planned_files += files
        self.planned_bytes += nbytes

    def advanced(self, files: int, nbytes: int) -> None:
        assert self.done_files + files <= self.planned_files  # never past what was announced
        self.done_files += files
        self.done_bytes += nbytes

    def finished(self) -> None:
        self.finished_calls += 1


def collect_in(fh: FakeHome, monkeypatch: pytest.MonkeyPatch, progress: Recorder) -> service.Collected:
    for key, value in fh.env().items():
        if key in ("HOME", "LSM_HOME", "LSM_DISCOVERY"):
            monkeypatch.setenv(key, value)
    paths = resolve()
    return service.collect(paths, config_mod.load(paths.config_file), processes=False, progress=progress)


def source_files(fh: FakeHome) -> tuple[int, int]:
    files = [p for p in fh.projects.rglob("*.jsonl") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def test_a_cold_scan_reports_every_file_and_a_warm_one_nothing(
    fake_home: FakeHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold = Recorder()
    result = collect_in(fake_home, monkeypatch, cold)
    read = sum(s.files_read for s in result.stats.values())
    assert read > 0 and cold.planned_files == read == cold.done_files
    assert (cold.planned_files, cold.planned_bytes) == source_files(fake_home)
    assert cold.done_bytes == cold.planned_bytes
    warm = Recorder()
    collect_in(fake_home, monkeypatch, warm)
    assert (warm.planned_files, warm.done_files) == (0, 0)  # from the cache: nothing to read
    # One file grows: only it is read, from where the last scan stopped.
    transcript = next(fake_home.projects.rglob("88a8d761-*.jsonl"))
    with transcript.open("ab") as fh:
        fh.write(b"\n")
    again = Recorder()
    collect_in(fake_home, monkeypatch, again)
    assert (again.planned_files, again.done_files, again.done_bytes) == (1, 1, 1)


def test_parallel_reading_reports_too(fake_home: FakeHome, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scan, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(scan, "_workers", lambda: 2)
    progress = Recorder()
    collect_in(fake_home, monkeypatch, progress)
    assert progress.planned_files == progress.done_files == source_files(fake_home)[0]
    assert progress.done_bytes == progress.planned_bytes


def forced_console() -> tuple[object, io.StringIO]:
    from rich.console import Console

    buf = io.StringIO()
    return Console(file=buf, force_terminal=True, width=100, color_system=None), buf


def test_the_bar_waits_for_the_delay_then_shows_files_megabytes_and_time_left() -> None:
    now = [0.0]
    console, buf = forced_console()
    bar = ScanBar(console, delay=1.0, clock=lambda: now[0])
    bar.planned(40, 394_000_000)
    bar.advanced(1, 9_000_000)
    assert not bar.shown  # a scan that ends within a second shows nothing
    now[0] = 1.2
    bar.advanced(1, 10_000_000)
    assert bar.shown
    bar.show()  # idempotent
    text = ANSI.sub("", buf.getvalue())
    assert "scanning agent logs" in text and "2/40 files" in text
    assert "19.0/394.0 MB" in text and ("-:--:--" in text or re.search(r"\d:\d\d:\d\d", text))
    bar.finished()
    assert not bar.shown
    bar.planned(1, 10)  # a later scan starts afresh: nothing shown before its own delay
    assert not bar.shown
    bar.finished()


def test_the_bar_is_not_drawn_for_a_scan_already_over() -> None:
    console, buf = forced_console()
    bar = ScanBar(console, delay=5.0)
    bar.planned(1, 100)
    bar.advanced(1, 100)
    bar.finished()
    bar.show()  # the timer firing late, after the scan was over
    assert not bar.shown and buf.getvalue() == ""


def test_after_the_last_file_the_bar_says_merging() -> None:
    now = [0.0]
    console, buf = forced_console()
    bar = ScanBar(console, delay=1.0, clock=lambda: now[0])
    bar.planned(2, 2_000_000)
    bar.advanced(1, 1_000_000)
    bar.advanced(1, 1_000_000)
    now[0] = 1.5
    bar.show()  # reading took under a second, merging goes on: the bar still shows
    assert bar.shown and "merging sessions" in ANSI.sub("", buf.getvalue())
    bar.finished()


def test_no_bar_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    assert scan_progress() is None


def run_code(*args: str) -> str:
    """Python that runs `lsm ARGS` with the progress bar's delay at zero."""
    return (
        "import sys\n"
        "from llm_session_manager.cli import progress\n"
        "progress.DELAY = 0.0\n"
        "from llm_session_manager import cli\n"
        f"cli.main({list(args)!r})\n"
    )


RUN = run_code("list", "--all")


def on_terminal_stderr(fake_home: FakeHome, tmp_path: Path, code: str) -> tuple[str, str]:
    """(stdout, what a terminal on stderr received) of ``code`` run with stderr on a pseudo-terminal."""
    master, slave = os.openpty()
    env = fake_home.env(TERM="xterm-256color")
    stdout = (tmp_path / "stdout.txt").open("w+", encoding="utf-8")  # a file: a pipe could fill up
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        stdout=stdout,
        stderr=slave,
        env=env,
        cwd=str(fake_home.home),
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    assert proc.wait(timeout=120) == 0
    stdout.seek(0)
    return stdout.read(), b"".join(chunks).decode(errors="replace")


def test_lsm_list_draws_the_bar_on_a_terminal_stderr(fake_home: FakeHome, tmp_path: Path) -> None:
    out, screen = on_terminal_stderr(fake_home, tmp_path, RUN)
    assert "scanning agent logs" in ANSI.sub("", screen) and "files" in screen
    assert "\x1b[2K" in screen or "\x1b[1A" in screen  # transient: the bar's lines are cleared at the end
    assert out.startswith("ID ") and "Total" in out  # the table itself is untouched, on stdout


def test_lsm_report_draws_the_bar_too(fake_home: FakeHome, tmp_path: Path) -> None:
    code = run_code("report", "daily", "--timezone", "UTC", "--format", "json")
    out, screen = on_terminal_stderr(fake_home, tmp_path, code)
    assert "scanning agent logs" in ANSI.sub("", screen) and "files" in screen
    assert json.loads(out)["report"] == "daily"  # the document itself is untouched, on stdout


def test_lsm_list_piped_shows_no_progress(fake_home: FakeHome, tmp_path: Path) -> None:
    r = subprocess.run(
        [sys.executable, "-c", RUN],
        env=fake_home.env(),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(fake_home.home),
    )
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert "scanning" not in r.stdout and r.stdout.startswith("ID ")
