"""`lsm list --format json` answered from its stored output (fastlist.py): byte for byte what the CLI
prints, and never once anything it shows may have changed."""

from __future__ import annotations

import ast
import io
import json
import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from conftest import FakeHome, run_cli_inprocess
from factories import running_agent, write_claude_transcript, write_config
from test_all_agents import everything  # noqa: F401  (the fixture: every agent's sessions in one HOME)

from llm_session_manager import fastlist
from llm_session_manager.paths import resolve

ALL = ("list", "--all", "--format", "json")
RECENT = ("list", "--format", "json")


@pytest.fixture
def quiet(everything: FakeHome) -> FakeHome:  # noqa: F811
    """Every agent's fixtures plus a Claude Code session active two hours ago (so `lsm list` without
    --all shows something), all quiet."""
    at = datetime.now(timezone.utc) - timedelta(hours=2)
    write_claude_transcript(everything.projects, everything.home / "app", "recent-quiet", at=at)
    for path in everything.home.rglob("*"):  # readers that date a session by its file's mtime
        os.utime(path, (at.timestamp(), at.timestamp()), follow_symlinks=False)
    return everything


def fast(
    home: FakeHome,
    monkeypatch: pytest.MonkeyPatch,
    *args: str,
    now: float | None = None,
    env: dict[str, str] | None = None,
) -> bytes | None:
    """What the fast path answers in ``home``'s environment (None: the CLI must run)."""
    wanted = home.env(**(env or {}))
    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in wanted.items():
        monkeypatch.setenv(name, value)
    form = fastlist.query_form(list(args))
    assert form is not None
    return fastlist.stored_output(form, time.time() if now is None else now)


def normal(home: FakeHome, *args: str, **env: str) -> bytes:
    result = home.run(*args, **env)
    assert result.returncode == 0, result.stderr
    return result.stdout.encode()


@pytest.mark.parametrize("args", [ALL, RECENT, ("list", "-a", "-f", "json")])
def test_stored_output_is_what_the_cli_prints(
    quiet: FakeHome, monkeypatch: pytest.MonkeyPatch, args: tuple[str, ...]
) -> None:
    printed = normal(quiet, *args)
    assert fast(quiet, monkeypatch, *args) == printed
    agents = {doc["agent"] for doc in json.loads(printed)}
    assert len(agents) >= (5 if "--all" in args or "-a" in args else 1)


def test_a_table_listing_stores_the_json_too(quiet: FakeHome, monkeypatch: pytest.MonkeyPatch) -> None:
    normal(quiet, "list", "--all")
    stored = fast(quiet, monkeypatch, *ALL)
    assert stored is not None and stored == normal(quiet, *ALL)


def answered_in_child(home: FakeHome, *args: str, **env: str) -> tuple[str, bytes]:
    """The entry point's fast answer in a new process (as a user's shell starts it): what it imported
    and what it printed."""
    code = (
        "import sys\n"
        "from llm_session_manager import entry\n"
        f"status = entry._answered_fast({list(args)!r})\n"
        "heavy = ('typer', 'rich', 'click', 'hashlib', 'shutil')\n"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        "lsm = [m for m in ('cli', 'models', 'scan') if 'llm_session_manager.' + m in sys.modules]\n"
        "sys.stderr.write(repr((status, heavy, lsm)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=home.env(**env), capture_output=True, timeout=60, cwd=home.home
    )
    return out.stderr.decode(), out.stdout


def test_the_entry_point_answers_without_typer_or_rich(quiet: FakeHome) -> None:
    """Nor hashlib (OpenSSL's bindings: BLAKE2b comes from digest.py), shutil (its compression modules:
    the stored output is copied by fileio.copy_stream), the CLI, the session models (the
    agents' modules build sessions only when they read) or the scanner: a quiet listing lists files and
    prints what it stored."""
    printed = normal(quiet, *ALL)
    assert answered_in_child(quiet, *ALL) == ("(0, [], [])", printed)


def test_other_forms_go_to_the_cli() -> None:
    assert fastlist.query_form(["list", "--format", "json", "--agent", "codex"]) is None
    assert fastlist.query_form(["list", "--all", "--sort", "cost"]) is None
    assert fastlist.query_form(["list", "--format", "yaml"]) is None
    assert fastlist.query_form(["list", "--format"]) is None
    assert fastlist.query_form(["info", "--format", "json"]) is None
    assert fastlist.query_form(["list", "--format=JSON", "-a"]) == "list-all-json"
    assert fastlist.query_form(["list"]) == "list-recent-table"
    assert fastlist.query_form(["list", "-a", "-f", "table"]) == "list-all-table"


# ---------------------------------------------------------------------------------------------------
# The table: its rows are stored, and drawn at the moment and width of each run (cli/fast_list.py)

TABLE_ENV = {"FORCE_COLOR": "1", "COLUMNS": "100", "TERM": "xterm-256color"}  # a coloured 100-column terminal


@pytest.mark.parametrize("args", [("list", "--all"), ("list",)])
@pytest.mark.parametrize("env", [{}, TABLE_ENV], ids=["piped", "terminal"])
def test_the_table_is_drawn_from_its_stored_rows(
    quiet: FakeHome, args: tuple[str, ...], env: dict[str, str]
) -> None:
    printed = normal(quiet, *args, **env)
    status, output = answered_in_child(quiet, *args, **env)
    answered, heavy, lsm = ast.literal_eval(status)
    # Of Rich, its character widths at most: the table is written without Rich's console.
    assert answered == 0 and all(m == "rich" or m.startswith(("rich.cells", "rich._")) for m in heavy), status
    # Of lsm's heavy modules, the CLI package alone (for cli/fast_list.py): no session models, no scanner.
    assert lsm == ["cli"], status
    assert output == printed
    assert answered_in_child(quiet, *args, **(TABLE_ENV if not env else {}))[0].startswith("(0, ")
    if env:  # coloured, and fitted to the terminal's 100 columns
        plain = re.sub(r"\x1b\[[0-9;]*m", "", output.decode())
        assert b"\x1b[1m" in output and max(map(len, plain.splitlines())) == 100


def test_a_json_listing_stores_the_table_too(quiet: FakeHome) -> None:
    normal(quiet, *ALL)
    status, output = answered_in_child(quiet, "list", "--all")
    assert status.startswith("(0, ") and b"Total" in output
    assert output == normal(quiet, "list", "--all")


def test_a_tag_redraws_the_table(quiet: FakeHome) -> None:
    sid = json.loads(normal(quiet, *ALL))[0]["id"]
    normal(quiet, "list", "--all")
    assert quiet.run("tag", sid, "reviewed").returncode == 0
    assert answered_in_child(quiet, "list", "--all")[0].startswith("(None, ")
    assert quiet.run("describe", sid, "[bold]x\x1b[31m").returncode == 0
    after = normal(quiet, "list", "--all")
    assert answered_in_child(quiet, "list", "--all")[1] == after


def test_an_appended_line_is_read(quiet: FakeHome, monkeypatch: pytest.MonkeyPatch) -> None:
    normal(quiet, *ALL)
    transcript = quiet.projects / "-tmp" / "ses_stage0_small.jsonl"
    lines = transcript.read_text(encoding="utf-8").splitlines(keepends=True)
    transcript.write_text("".join(lines + lines[-1:]), encoding="utf-8")
    assert fast(quiet, monkeypatch, *ALL) is None
    after = normal(quiet, *ALL)
    assert fast(quiet, monkeypatch, *ALL) == after


def test_a_miss_hands_its_file_listing_to_the_scan(quiet: FakeHome, monkeypatch: pytest.MonkeyPatch) -> None:
    """After a change the fast path's stat pass is the command's only one: the scan takes the files it
    listed (and prints what a cold run prints), and nothing of the listing outlives the command."""
    from llm_session_manager import sources
    from llm_session_manager.agents.claude_code import ClaudeCodeReader

    normal(quiet, *ALL)
    transcript = quiet.projects / "-tmp" / "ses_stage0_small.jsonl"
    lines = transcript.read_text(encoding="utf-8").splitlines(keepends=True)
    transcript.write_text("".join(lines + lines[-1:]), encoding="utf-8")
    listed: list[object] = []
    real = ClaudeCodeReader.sources

    def counted(self: ClaudeCodeReader):  # type: ignore[no-untyped-def]
        listed.append(self)
        return real(self)

    monkeypatch.setattr(ClaudeCodeReader, "sources", counted)
    after = run_cli_inprocess(ALL, env=quiet.env(), cwd=quiet.home)
    assert after.returncode == 0, after.stderr
    assert len(listed) == 1 and sources._handed == {} and not sources._handing
    cold = run_cli_inprocess(ALL, env=quiet.env(LSM_HOME=str(quiet.home / "cold")), cwd=quiet.home)
    assert len(listed) == 2 and json.loads(after.stdout) == json.loads(cold.stdout)


def test_the_fast_path_outside_the_entry_point_keeps_no_listing(
    quiet: FakeHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llm_session_manager import sources

    normal(quiet, *ALL)
    (quiet.projects / "-tmp" / "new.jsonl").write_text("", encoding="utf-8")
    assert fast(quiet, monkeypatch, *ALL) is None
    assert sources._handed == {}


def test_a_tag_is_shown(quiet: FakeHome, monkeypatch: pytest.MonkeyPatch) -> None:
    before = normal(quiet, *ALL)
    sid = json.loads(before)[0]["id"]
    assert quiet.run("tag", sid, "reviewed").returncode == 0
    assert fast(quiet, monkeypatch, *ALL) is None
    after = normal(quiet, *ALL)
    assert b'"reviewed"' in after and fast(quiet, monkeypatch, *ALL) == after


def test_a_config_change_is_read(quiet: FakeHome, monkeypatch: pytest.MonkeyPatch) -> None:
    normal(quiet, *RECENT)
    config = resolve(quiet.env()).config_file
    config.parent.mkdir(parents=True, exist_ok=True)
    write_config(config.parent, "recent_hours: 1\n", config.name)
    assert fast(quiet, monkeypatch, *RECENT) is None
    assert normal(quiet, *RECENT) == b"[]\n"


def test_another_environment_is_not_answered(quiet: FakeHome, monkeypatch: pytest.MonkeyPatch) -> None:
    normal(quiet, *ALL)
    assert fast(quiet, monkeypatch, *ALL, env={"CODEX_HOME": str(quiet.home / "elsewhere")}) is None
    assert fast(quiet, monkeypatch, *ALL, env={"SHLVL": "7"}) is not None  # shell bookkeeping
    assert fast(quiet, monkeypatch, *ALL, env=TABLE_ENV) is not None  # only the drawing reads these


def test_a_running_agent_is_left_to_the_cli(quiet: FakeHome) -> None:
    on = {"LSM_DISCOVERY": "on"}
    normal(quiet, *ALL, **on)
    # (A process that looks like an agent, out of this test's scope, loads the models: not asserted here.)
    assert answered_in_child(quiet, *ALL, **on)[0].startswith("(0, [], [")
    with running_agent(quiet.home / "bin", quiet.home / "app"):
        status, printed = answered_in_child(quiet, *ALL, **on)
        assert status.startswith("(None, [], [") and "cli" not in status and printed == b""
        normal(quiet, *ALL, **on)
        assert _rows(quiet) == []  # a listing with a running agent is not stored


def test_time_passing_the_recent_window_is_not_answered(
    quiet: FakeHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    normal(quiet, *RECENT)
    two_hours_ago = time.time() - 2 * 3600
    assert fast(quiet, monkeypatch, *RECENT, now=time.time() + 60) is not None
    # The session active two hours ago leaves the 24-hour listing 22 hours from now.
    assert fast(quiet, monkeypatch, *RECENT, now=two_hours_ago + 24 * 3600 + 1) is None


def test_a_recently_active_session_is_never_stored(quiet: FakeHome, monkeypatch: pytest.MonkeyPatch) -> None:
    normal(quiet, *ALL)
    at = datetime.now(timezone.utc) - timedelta(minutes=2)  # inside the burn window
    write_claude_transcript(quiet.projects, quiet.home / "app", "just-now", at=at)
    normal(quiet, *ALL)
    assert _rows(quiet) == []
    assert fast(quiet, monkeypatch, *ALL) is None


def _rows(home: FakeHome) -> list[tuple[object, ...]]:
    with sqlite3.connect(home.lsm_home / "lsm.db") as conn:
        return list(conn.execute("SELECT query, valid_until FROM list_cache"))


def _damage(home: FakeHome, statement: str) -> None:
    conn = sqlite3.connect(home.lsm_home / "lsm.db")
    with conn:
        conn.execute(statement)
    conn.close()


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE list_cache SET output = 'not bytes'",
        "UPDATE list_cache SET valid_until = 'soon'",
        "UPDATE list_cache SET keys = x'00ff'",
        "DROP TABLE list_cache",
    ],
)
def test_a_damaged_row_never_breaks_the_listing(
    quiet: FakeHome, monkeypatch: pytest.MonkeyPatch, statement: str
) -> None:
    printed = normal(quiet, *ALL)
    _damage(quiet, statement)
    assert fast(quiet, monkeypatch, *ALL) is None
    result = quiet.run(*ALL)
    assert result.returncode == 0 and result.stdout.encode() == printed, result.stderr
    assert fastlist.fast_main("list-all-json") in (None, 0)


@pytest.mark.parametrize(
    "documents",
    [
        [],
        [{}],
        [{"a": []}, {"b": {}}],
        [{"id": "x", "tags": ["a", "b"], "tokens": {"input": 1, "nested": {"deep": [1, {"k": None}]}}}],
        [{"title": "line\nbreak \x1b[31m\u009b \u2028 日本語", "cost": 1.5e-7, "ok": True}] * 3,
        [1, "two", None, [3]],
    ],
)
def test_the_output_made_a_document_at_a_time_is_orjsons_indented_array(documents: list[object]) -> None:
    import orjson

    from llm_session_manager.safetext import json_for_terminal

    whole = json_for_terminal(orjson.dumps(documents, option=orjson.OPT_INDENT_2)) + b"\n"
    assert b"".join(fastlist.output_chunks(iter(documents))) == whole


def test_the_json_is_printed_from_the_file_it_was_stored_in_or_made_again(
    quiet: FakeHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The listing's JSON is never held whole: stored a document at a time, then copied from its file to
    the output; if a later run replaced that file meanwhile, it is made again, the same bytes."""
    import io

    from llm_session_manager.api.context import Context
    from llm_session_manager.api.sessions import ListQuery, list_sessions

    printed = normal(quiet, *ALL)
    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in quiet.env().items():
        monkeypatch.setenv(name, value)
    with sqlite3.connect(quiet.lsm_home / "lsm.db") as conn:
        conn.execute("DELETE FROM list_cache")  # so that this listing stores its output again
    listing = list_sessions(Context.from_environment(), ListQuery(all_sessions=True))
    stored = listing.stored["json"]
    assert stored.read_bytes() == printed and stored.parent.name == "list-cache"
    out = io.BytesIO()
    listing.write_json(out)
    assert out.getvalue() == printed
    stored.unlink()
    again = io.BytesIO()
    listing.write_json(again)
    assert again.getvalue() == printed == b"".join(fastlist.output_chunks(listing.documents()))


def test_the_table_rows_are_stored_a_row_at_a_time_and_drawn_from_their_file(
    quiet: FakeHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table's rows are streamed into their file, byte for byte what the whole TableData dumps to;
    the CLI draws from that file, or from the rows made again when a later run replaced it."""
    import orjson

    from llm_session_manager.api.context import Context
    from llm_session_manager.api.sessions import ListQuery, list_sessions
    from llm_session_manager.listing_table import table_chunks, table_data

    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in quiet.env().items():
        monkeypatch.setenv(name, value)
    listing = list_sessions(Context.from_environment(), ListQuery(all_sessions=True))
    views, known = listing.views, listing.collected.sessions()
    assert len(views) > 5
    whole = orjson.dumps(table_data(views, known))
    assert b"".join(listing.table_chunks()) == whole
    for part in (views[:1], views[1:3], []):  # ids told apart from all the known ones, or among themselves
        assert b"".join(table_chunks(part, known)) == orjson.dumps(table_data(part, known))
        assert b"".join(table_chunks(part)) == orjson.dumps(table_data(part))
    stored = listing.stored["table"]
    assert stored.read_bytes() == whole == listing.table_rows()
    stored.unlink()
    assert listing.table_rows() == whole


# fileio.copy_stream: the stored output is sent by the kernel where it can, and copied otherwise.


def stored_output(tmp_path: Path) -> tuple[Path, bytes]:
    body = b"".join(b'{"n": %d}\n' % i for i in range(200_000))  # ~2 MB, more than one chunk
    path = tmp_path / "out.json"
    path.write_bytes(body)
    return path, body


def pipe_drained(write: Callable[[BinaryIO], None]) -> bytes:
    """What ``write`` put into a pipe, read by a thread as it comes."""
    import threading

    r, w = os.pipe()
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(os.fdopen(r, "rb").read()))
    reader.start()
    with os.fdopen(w, "wb") as out:
        write(out)
    reader.join()
    return got[0]


def test_the_stored_output_is_sent_by_the_kernel_into_a_pipe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from llm_session_manager import fileio

    path, body = stored_output(tmp_path)
    calls: list[int] = []
    real = os.sendfile

    def sendfile(out_fd: int, in_fd: int, offset: int, count: int) -> int:
        calls.append(offset)
        return real(out_fd, in_fd, offset, count)

    monkeypatch.setattr(os, "sendfile", sendfile)

    def write(out: BinaryIO) -> None:
        out.write(b"first\n")  # written before: flushed first, not overtaken
        with open(path, "rb") as fh:
            fh.read(3)
            fileio.copy_stream(fh, out)
            assert fh.tell() == len(body) and fh.read() == b""

    assert pipe_drained(write) == b"first\n" + body[3:]
    assert calls and calls[0] == 3


@pytest.mark.parametrize("errno_name", ["EINVAL", "ENOSYS"])
def test_where_the_kernel_cannot_send_the_output_is_copied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, errno_name: str
) -> None:
    """A terminal takes no sendfile (EINVAL): the copy goes through this process, from the same place."""
    import errno
    import io

    from llm_session_manager import fileio

    path, body = stored_output(tmp_path)

    def refuse(out_fd: int, in_fd: int, offset: int, count: int) -> int:
        raise OSError(getattr(errno, errno_name), errno_name)

    monkeypatch.setattr(os, "sendfile", refuse)
    with open(path, "rb") as fh:
        assert pipe_drained(lambda out: fileio.copy_stream(fh, out)) == body
    out = io.BytesIO()
    fileio.copy_stream(io.BytesIO(body), out)  # no file descriptor at either end
    assert out.getvalue() == body


def test_a_reader_gone_is_a_broken_pipe_as_before(tmp_path: Path) -> None:
    from llm_session_manager import fileio

    path, _body = stored_output(tmp_path)
    r, w = os.pipe()
    os.close(r)
    with open(path, "rb") as fh, os.fdopen(w, "wb") as out, pytest.raises(BrokenPipeError):
        fileio.copy_stream(fh, out)


def in_child(home: FakeHome, code: str) -> tuple[Any, bytes]:
    """``code`` run by a new interpreter in ``home``, with ``gc`` and ``sys`` imported and ``runs`` noting
    the generation of each collection: the value it wrote last on stderr, and what it printed."""
    noted = (
        "runs = []\n"
        "gc.callbacks.append(lambda phase, info: phase == 'stop' and runs.append(info['generation']))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import gc, sys\n" + noted + code],
        env=home.env(),
        capture_output=True,
        timeout=120,
        cwd=home.home,
    )
    return ast.literal_eval(out.stderr.decode().splitlines()[-1]), out.stdout


def collector_at_exit(home: FakeHome, *args: str) -> tuple[int, bool, list[int], bytes]:
    """``lsm ARGS`` through entry.main in a child: its exit status, whether the cyclic collector was on
    at the end, the generation of each collection it ran, and what it printed."""
    (status, enabled, runs), printed = in_child(
        home,
        f"sys.argv = ['lsm', {', '.join(map(repr, args))}]\n"
        "from llm_session_manager import entry\n"
        "status = 0\n"
        "try:\n"
        "    entry.main()\n"
        "except SystemExit as exit:\n"
        "    status = exit.code or 0\n"
        "sys.stderr.write('\\n' + repr((status, gc.isenabled(), runs)))\n",
    )
    return status, enabled, runs, printed


def test_commands_that_read_every_session_once_run_without_the_collector(quiet: FakeHome) -> None:
    status, enabled, runs, printed = collector_at_exit(quiet, "report", "daily", "--format", "json")
    assert (status, enabled) == (0, False) and json.loads(printed) and len(runs) <= 3, runs
    status, enabled, _runs, _printed = collector_at_exit(quiet, "show-config")
    assert (status, enabled) == (0, True)  # any other command keeps it


@pytest.mark.parametrize("stored", [False, True])
def test_a_listing_runs_without_the_cyclic_collector(quiet: FakeHome, stored: bool) -> None:
    """Scanned or answered from what was stored: the process makes objects that live until it exits and
    no cyclic garbage, and the collector walked them all again after the scan and at the exit
    (entry.main). In the server front ends, a listing pauses it while it runs (list_sessions)."""
    if stored:
        normal(quiet, *ALL)
    status, enabled, runs, printed = collector_at_exit(quiet, *ALL)
    assert (status, enabled) == (0, False) and json.loads(printed)
    assert len(runs) <= 3, runs  # those while the interpreter imported the entry point


def test_the_server_listing_pauses_the_collector_and_leaves_it_on(quiet: FakeHome) -> None:
    """In a child process: the collector is a process-wide switch, and another test's server thread may
    be listing in this one."""
    (before, after, views, runs), _printed = in_child(
        quiet,
        "from llm_session_manager.api.context import Context\n"
        "from llm_session_manager.api.sessions import ListQuery, list_sessions\n"
        "from llm_session_manager.paths import resolve\n"
        "ctx = Context.for_paths(resolve())\n"
        "list_sessions(ctx, ListQuery(all_sessions=True))  # what it imports, imported\n"
        "runs.clear()\n"
        "gc.set_threshold(1)  # a collection at every allocation it is allowed\n"
        "before = gc.isenabled()\n"
        "listing = list_sessions(ctx, ListQuery(all_sessions=True))\n"
        "gc.set_threshold(700)\n"
        "sys.stderr.write(repr((before, gc.isenabled(), len(listing.views), runs)))\n",
    )
    # A collection at every allocation allowed: a few on the way in and out (146 without the pause).
    assert (before, after) == (True, True) and views > 0 and len(runs) <= 5, len(runs)


def test_the_outputs_are_written_before_the_database_is_opened_and_never_left_unnamed(
    quiet: FakeHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A cold scan's last checkpoint runs in a thread as the listing is stored, and a connection opened
    while the log is being removed waits for it: the outputs are made first. An output that is not
    named (the same one is stored already) is deleted at once."""
    from llm_session_manager import service
    from llm_session_manager.api.context import Context
    from llm_session_manager.api.sessions import ListQuery, list_sessions

    for name in list(os.environ):
        monkeypatch.delenv(name)
    for name, value in quiet.env().items():
        monkeypatch.setenv(name, value)
    folder = quiet.lsm_home / "list-cache"
    ctx = Context.from_environment()
    open_db = service.open_db
    seen: list[list[str]] = []

    def opened_after(paths: Any) -> sqlite3.Connection:
        seen.append(sorted(p.name for p in folder.iterdir()) if folder.exists() else [])
        return open_db(paths)

    listing = list_sessions(ctx, ListQuery(all_sessions=True))
    first = sorted(p.name for p in folder.iterdir())
    assert sorted(p.name for p in listing.stored.values()) == first and len(first) == 2
    with sqlite3.connect(quiet.lsm_home / "lsm.db") as conn:
        conn.execute("UPDATE list_cache SET keys = 'other'")  # a change the next listing stores again
    monkeypatch.setattr(service, "open_db", opened_after)
    listing = list_sessions(ctx, ListQuery(all_sessions=True))
    second = sorted(p.name for p in listing.stored.values())
    assert seen[-1] == sorted(first + second)  # both written, neither named yet, when it was opened
    assert sorted(p.name for p in folder.iterdir()) == second  # the ones they replaced are gone
    again = list_sessions(ctx, ListQuery(all_sessions=True))  # the same inputs: nothing stored
    assert again.stored == {} and sorted(p.name for p in folder.iterdir()) == second
    out = io.BytesIO()
    again.write_json(out)
    assert out.getvalue() == (folder / listing.stored["json"].name).read_bytes()
