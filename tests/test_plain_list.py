"""`lsm list` [--all] [--format json|table] that no stored output answers is scanned without typer
(cli/plain_list.py): it prints what the list command prints through typer, and fails as every command
does (cli/guard.py): one line on stderr and the documented exit status."""

from __future__ import annotations

import ast
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FakeHome

from llm_session_manager.cli.guard import guarded
from llm_session_manager.errors import ConfigError

TABLE_ENV = {"COLUMNS": "120"}


def in_child(home: FakeHome, code: str, **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-c", code], env=home.env(**env), capture_output=True, timeout=120, cwd=home.home
    )


def plain(home: FakeHome, *args: str, **env: str) -> tuple[int, list[str], bytes]:
    """``entry._listed_plain(args)`` in a new process with an empty store (nothing stored answers): its
    exit status, the typer/click modules it loaded, what it printed."""
    code = (
        "import sys\n"
        "from llm_session_manager import entry\n"
        f"status = entry._listed_plain({list(args)!r})\n"
        "sys.stdout.flush()\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('typer', 'click'))\n"
        "sys.stderr.write(repr((status, heavy)))\n"
    )
    out = in_child(home, code, **env)
    status, heavy = ast.literal_eval(out.stderr.decode())
    return status, heavy, out.stdout


def through_typer(home: FakeHome, *args: str, **env: str) -> bytes:
    """The list command run by the Typer application itself."""
    code = f"from llm_session_manager.cli.typer_app import main\nmain({list(args)!r})\n"
    out = in_child(home, code, **env)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("every", [True, False])
def test_a_scanned_json_listing_is_the_list_commands_without_typer(fake_home: FakeHome, every: bool) -> None:
    args = ("list", "--all", "--format", "json") if every else ("list", "--format", "json")
    status, heavy, printed = plain(fake_home, *args, LSM_HOME=str(fake_home.home / "plain"))
    assert status == 0 and heavy == []
    expected = through_typer(fake_home, *args, LSM_HOME=str(fake_home.home / "typer"))
    assert json.loads(printed) == json.loads(expected)
    if every:
        assert len(json.loads(printed)) >= 3


def test_a_scanned_table_is_the_list_commands_without_typer(fake_home: FakeHome) -> None:
    status, heavy, printed = plain(
        fake_home, "list", "--all", LSM_HOME=str(fake_home.home / "p"), **TABLE_ENV
    )
    assert status == 0 and heavy == []
    assert printed == through_typer(
        fake_home, "list", "--all", LSM_HOME=str(fake_home.home / "t"), **TABLE_ENV
    )
    assert b"Total" in printed


def test_other_commands_and_forms_are_left_to_the_cli(fake_home: FakeHome) -> None:
    from llm_session_manager import entry

    assert entry._listed_plain(["info"]) is None
    assert entry._listed_plain(["list", "--all", "--sort", "cost"]) is None
    assert entry._listed_plain(["list", "--format", "yaml"]) is None


def test_a_bad_config_is_the_same_line_and_status_as_through_typer(fake_home: FakeHome) -> None:
    config = fake_home.home / "bad.yaml"
    config.write_text("idle_minutes: [not, a, number]\n", encoding="utf-8")
    plain_run = fake_home.run("list", "--all", "--format", "json", LSM_CONFIG=str(config))
    typer_run = fake_home.run("list", "--all", "--format", "json", "--sort", "cost", LSM_CONFIG=str(config))
    assert plain_run.returncode == typer_run.returncode != 0
    assert plain_run.stderr == typer_run.stderr and len(plain_run.stderr.splitlines()) == 1
    assert "Traceback" not in plain_run.stderr and plain_run.stdout == ""


def test_a_damaged_database_is_one_line_naming_it(fake_home: FakeHome) -> None:
    assert fake_home.run("list", "--all", "--format", "json").returncode == 0
    path = fake_home.lsm_home / "lsm.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'parse_cache'").fetchone()[0]
    conn.close()
    with path.open("r+b") as fh:  # the table the scan reads
        fh.seek((root - 1) * page_size)
        fh.write(b"\xa5" * page_size)
    transcript = next(fake_home.projects.rglob("*.jsonl"))
    with transcript.open("a", encoding="utf-8") as fh:  # a change: the stored listing no longer answers
        fh.write("\n")
    r = fake_home.run("list", "--all", "--format", "json")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    (line,) = r.stderr.strip().splitlines()
    assert str(path) in line and "lsm doctor --repair" in line


def test_a_reader_that_stops_reading_ends_it_quietly(fake_home: FakeHome) -> None:
    env = fake_home.env(LSM_HOME=str(fake_home.home / "pipe"))
    out = subprocess.run(
        [
            "bash",
            "-c",
            f"'{sys.executable}' -m llm_session_manager list --all --format json | head -c 10;"
            ' echo " ${PIPESTATUS[0]}"',
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=fake_home.home,
    )
    assert out.stdout.endswith(" 0\n"), out
    assert "Traceback" not in out.stderr and "Error" not in out.stderr, out.stderr


# --------------------------------------------------------------------------------------------------
# guard.py: what every command's failure becomes


def ended(run: object, capsys: pytest.CaptureFixture[str]) -> tuple[object, str]:
    with pytest.raises(SystemExit) as info:
        guarded(run)  # type: ignore[arg-type]
    return info.value.code, capsys.readouterr().err


def test_an_lsm_error_is_its_line_without_secrets_and_its_status(capsys: pytest.CaptureFixture[str]) -> None:
    def bad() -> None:
        raise ConfigError("token sk-ant-api03-" + "A" * 40 + " is not a path\x1b[31m")

    code, err = ended(bad, capsys)
    assert code == ConfigError.exit_code and err.startswith("lsm: error: ")
    assert "sk-ant-api03-AAAA" not in err and "\x1b" not in err and err.count("\n") == 1


def test_an_interrupt_is_130_and_a_closed_pipe_0(capsys: pytest.CaptureFixture[str]) -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    def closed() -> None:
        raise BrokenPipeError

    assert ended(interrupted, capsys) == (130, "lsm: interrupted\n")
    assert ended(closed, capsys) == (0, "")


def test_a_database_error_names_the_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    def broken() -> None:
        raise sqlite3.DatabaseError("database disk image is malformed")

    code, err = ended(broken, capsys)
    assert code == 1 and "lsm.db" in err and "lsm doctor --repair" in err


def test_anything_else_is_not_hidden() -> None:
    def bug() -> None:
        raise ValueError("a bug")

    with pytest.raises(ValueError):
        guarded(bug)
    assert guarded(lambda: 5) is None
