"""Exit codes are an API (docs/CLI_GUIDE.md, "Exit codes"): 0 done (nothing to do included, with a
message), 1 error, 2 usage, 3 not found; the same class of failure gives the same code in every
command. Also the one --since parser (local time unless --utc) and the quiet fixes: export never
creates folders silently, hand-offs end with a newline, tagging a tag twice says so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone

import pytest
from conftest import FakeHome

from llm_session_manager.cli.common import AGENT_NAMES, check_agent, one_agent
from llm_session_manager.errors import UsageError
from llm_session_manager.timefmt import parse_since

SIDE = "88a8d761-7b9a-4bf1-a8ca-c1febe6bf358"

# (arguments, exit status, a piece of the one stderr line)
TABLE: list[tuple[list[str], int, str]] = [
    # usage: a bad value, option, command or combination
    (["list", "--format", "xml"], 2, "--format: unknown format 'xml'"),
    (["list", "--agent", "clod"], 2, "--agent: unknown agent 'clod' (one of claude-code, codex"),
    (["recommend", "--agent", "clod"], 2, "--agent: unknown agent"),
    (["memory-list", "--agent", "clod"], 2, "--agent: unknown agent"),
    (["memory-search", "x", "--agent", "c"], 2, "could be claude-code, codex"),
    (["list", "--since", "99999999d"], 2, "--since: '99999999d' is out of range"),
    (["list", "--since", "0001-01-01T00:00:00+05:00"], 2, "out of range"),
    (["list", "--since", "yesterday-ish"], 2, "--since: cannot read"),
    (["list", "--since", "2026/01/01"], 2, "--since: cannot read"),
    (["list", "--bogus"], 2, "No such option: --bogus"),
    (["list", "-a", "--limit", "0"], 2, "--limit"),
    (["no-such-command"], 2, "No such command"),
    (["tag", "88a8", "not a tag"], 2, "bad tag"),
    (["describe", "88a8"], 2, "exactly one"),
    (["export", "88a8", "-o", "out.txt"], 2, "cannot tell the format"),
    (["import-context", "x.json", "--format", "yaml"], 2, "--input-format"),
    (["import-context", "x.json", "--input-format", "xml"], 2, "--input-format: unknown format"),
    (["batch-close", "all"], 2, "--force"),
    (["auto-tag", "88a8", "--interactive"], 2, "needs a terminal"),
    (["monitor"], 2, "not one"),
    (["memory-search", "  "], 2, "empty"),
    # not found: a session, memory, file or folder that does not exist
    (["health", "zzz"], 3, "no session matches 'zzz'"),
    (["health", "ses"], 3, "matches 2 sessions"),
    (["tag", "zzz", "x"], 3, "no session matches"),
    (["export", "zzz", "-o", "-"], 3, "no session matches"),
    (["export", "88a8", "-o", "no/such/dir/h.md"], 3, "folder no/such/dir does not exist"),
    (["batch-export", "all", "-o", "no/such/dir"], 3, "folder no/such/dir does not exist"),
    (["import-context", "nope.json"], 3, "nope.json: no such file"),
    (["tokens", "nope"], 3, "nope"),
    (["memory-delete", "mem-000000000000"], 3, "no memory"),
]

# Nothing to do: exit 0, the reason on stderr.
NOTHING: list[tuple[list[str], str]] = [
    (["batch-close", "nothing-like-this*"], "no open session matches 'nothing-like-this*'; nothing to do"),
    (["batch-close", "ses*", "--status", "active"], "with status active; nothing to do"),
    (["batch-tag", "nothing-like-this*", "x"], "no session matches 'nothing-like-this*'; nothing to do"),
    (["batch-export", "nothing-like-this*"], "no session matches 'nothing-like-this*'; nothing to do"),
    (["reopen", "88a8"], "is not closed (it is ended); nothing to do"),
    (["untag", "88a8", "never-had"], "had no tag never-had"),
]


@pytest.mark.parametrize(
    ("args", "code", "needle"), TABLE, ids=lambda v: " ".join(v) if isinstance(v, list) else ""
)
def test_exit_code_table(fake_home: FakeHome, args: list[str], code: int, needle: str) -> None:
    r = fake_home.run(*args)
    assert r.returncode == code, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], r.stderr
    assert "Traceback" not in r.stderr and r.stdout == ""


def test_no_command_prints_help_and_exits_2(fake_home: FakeHome) -> None:
    r = fake_home.run()
    assert r.returncode == 2 and "Commands" in r.stdout


def test_a_broken_config_file_is_1(fake_home: FakeHome) -> None:
    config = fake_home.home / "bad.yaml"
    config.write_text("idle_minuts: 3\n", encoding="utf-8")
    for args in (["list"], ["info"], ["recommend"]):
        r = fake_home.run(*args, LSM_CONFIG=str(config))
        assert r.returncode == 1 and "idle_minuts" in r.stderr, (args, r.stderr)


@pytest.mark.parametrize(
    ("args", "needle"), NOTHING, ids=lambda v: " ".join(v) if isinstance(v, list) else ""
)
def test_nothing_to_do_is_0_with_a_message(fake_home: FakeHome, args: list[str], needle: str) -> None:
    r = fake_home.run(*args)
    assert r.returncode == 0 and needle in r.stderr, r.stderr


def test_nothing_to_do_in_json_is_an_empty_result(fake_home: FakeHome) -> None:
    r = fake_home.run("batch-close", "nothing*", "-f", "json")
    assert r.returncode == 0 and json.loads(r.stdout) == []
    r = fake_home.run("batch-tag", "nothing*", "x", "-f", "json")
    assert r.returncode == 0 and json.loads(r.stdout) == {"sessions": [], "tags": ["x"], "added": 0}
    r = fake_home.run("reopen", "88a8", "-f", "json")
    assert json.loads(r.stdout) == {"id": f"claude-code:{SIDE}", "status": "ended"}


def test_tagging_a_tag_twice_says_already_tagged(fake_home: FakeHome) -> None:
    first = fake_home.run("tag", "88a8", "auth", "-f", "json")
    assert json.loads(first.stdout)["added"] == ["auth"] and json.loads(first.stdout)["already_tagged"] == []
    again = fake_home.run("tag", "88a8", "auth")
    assert again.returncode == 0
    assert f"claude-code:{SIDE} is already tagged auth; nothing changed" in again.stderr
    both = json.loads(fake_home.run("tag", "88a8", "auth", "api", "-f", "json").stdout)
    assert both["added"] == ["api"] and both["already_tagged"] == ["auth"] and both["tags"] == ["api", "auth"]
    assert "(already tagged: auth)" in fake_home.run("tag", "88a8", "auth", "db").stderr


# ---------------------------------------------------------------------------------------------------
# export -o: folders are never created silently; every document ends with a newline


def test_export_needs_parents_for_a_missing_folder(fake_home: FakeHome) -> None:
    target = fake_home.home / "notes" / "deep" / "handoff.md"
    r = fake_home.run("export", "88a8", "-o", str(target))
    assert r.returncode == 3 and "--parents" in r.stderr
    assert not (fake_home.home / "notes").exists()  # nothing was created
    r = fake_home.run("export", "88a8", "-o", str(target), "--parents")
    assert r.returncode == 0 and f"created folder {target.parent}" in r.stderr and target.exists()


def test_batch_export_creates_only_the_folder_it_was_given(fake_home: FakeHome) -> None:
    r = fake_home.run("batch-export", "ses*", "-o", "out")
    assert r.returncode == 0 and "created folder out" in r.stderr
    assert len(list((fake_home.home / "out").iterdir())) == 2
    r = fake_home.run("batch-export", "ses*", "-o", "a/b", "--parents")
    assert r.returncode == 0 and (fake_home.home / "a" / "b").is_dir()


@pytest.mark.parametrize("fmt", ["markdown", "json", "yaml"])
def test_every_export_ends_with_one_newline(fake_home: FakeHome, fmt: str) -> None:
    r = fake_home.run("export", "88a8", "-o", "-", "--format", fmt)
    assert r.returncode == 0 and r.stdout.endswith("\n") and not r.stdout.endswith("\n\n")
    fake_home.run("export", "ses_stage0", "-o", f"h.{fmt[:4]}", "--format", fmt)
    text = (fake_home.home / f"h.{fmt[:4]}").read_text(encoding="utf-8")
    assert text.endswith("\n") and not text.endswith("\n\n")


# ---------------------------------------------------------------------------------------------------
# --agent and --since


def test_agent_names_are_the_readers_names() -> None:
    from llm_session_manager.agents import all_readers
    from llm_session_manager.paths import resolve

    assert tuple(r.name for r in all_readers(resolve())) == AGENT_NAMES
    assert check_agent(" Claude ") == "claude" and check_agent("cursor") == "cursor"
    assert one_agent("claude") == "claude-code" and one_agent("cursor") == "cursor"
    with pytest.raises(UsageError, match="could be copilot, copilot-cli"):
        one_agent("cop")
    with pytest.raises(UsageError, match="unknown agent"):
        check_agent("")


def test_agent_help_lists_the_agents(fake_home: FakeHome) -> None:
    for command in ("list", "memory-search", "recommend", "monitor"):
        out = fake_home.run(command, "--help").stdout
        assert "claude-code" in out and "cline" in out, command


def test_short_flags_mean_one_thing(fake_home: FakeHome) -> None:
    """-a is --all, never --agent; -d --details; -o an output; -s --status; -p --project."""
    import typer.main

    from llm_session_manager.cli import app

    meaning: dict[str, set[str]] = {}
    for command in typer.main.get_command(app).commands.values():  # type: ignore[attr-defined]
        for param in command.params:
            for short in (o for o in (*param.opts, *param.secondary_opts) if o[:2] != "--" and o[:1] == "-"):
                meaning.setdefault(short, set()).add(param.opts[0])
    clashes = {s: names for s, names in meaning.items() if len(names) > 1}
    assert clashes == {"-o": {"--output", "--output-dir"}}  # both: where the output goes
    assert meaning["-a"] == {"--all"} and meaning["-f"] == {"--format"}


@pytest.fixture
def tokyo(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is Asia/Tokyo (UTC+9, no daylight saving) for this test."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


NOW = utc("2026-11-25T03:00:00")  # noon in Tokyo


@pytest.mark.parametrize(
    ("value", "local", "as_utc"),
    [
        ("today", "2026-11-24T15:00:00", "2026-11-25T00:00:00"),
        ("Yesterday", "2026-11-23T15:00:00", "2026-11-24T00:00:00"),
        ("2026-11-01", "2026-10-31T15:00:00", "2026-11-01T00:00:00"),
        ("2026-11-01T09:30", "2026-11-01T00:30:00", "2026-11-01T09:30:00"),
        ("2026-11-01T09:30:00+01:00", "2026-11-01T08:30:00", "2026-11-01T08:30:00"),
        ("2026-11-01T09:30:00Z", "2026-11-01T09:30:00", "2026-11-01T09:30:00"),
        ("2h", "2026-11-25T01:00:00", "2026-11-25T01:00:00"),
        ("1.5 d", "2026-11-23T15:00:00", "2026-11-23T15:00:00"),
        ("30min", "2026-11-25T02:30:00", "2026-11-25T02:30:00"),
    ],
)
def test_since_is_local_time_unless_utc(tokyo: None, value: str, local: str, as_utc: str) -> None:
    assert parse_since(value, NOW) == utc(local)
    assert parse_since(value, NOW, utc=True) == utc(as_utc)


def test_since_today_across_a_daylight_saving_change(monkeypatch: pytest.MonkeyPatch) -> None:
    """Berlin moved to summer time at 01:00 UTC on 2026-03-29: yesterday's midnight was still +01:00."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    try:
        now = utc("2026-03-29T12:00:00")
        assert parse_since("today", now) == utc("2026-03-28T23:00:00")
        assert parse_since("yesterday", now) == utc("2026-03-27T23:00:00")
        assert parse_since("2026-07-01", now) == utc("2026-06-30T22:00:00")  # summer: +02:00
    finally:
        monkeypatch.undo()
        time.tzset()


@pytest.mark.parametrize("value", ["99999999d", "999999999999999999999w", "0001-01-01"])
def test_absurd_since_is_a_usage_error(tokyo: None, value: str) -> None:
    with pytest.raises(UsageError, match="out of range"):
        parse_since(value, NOW)


def test_list_since_date_in_local_time_or_utc(fake_home: FakeHome) -> None:
    """88a8's last activity is 2025-11-19T22:55:40Z: after midnight of the 20th in Tokyo (15:00Z on the
    19th), before midnight of the 20th in UTC."""

    def ids(*args: str) -> set[str]:
        r = fake_home.run("list", "-f", "json", *args, TZ="Asia/Tokyo")
        assert r.returncode == 0, r.stderr
        return {o["native_id"] for o in json.loads(r.stdout)}

    assert SIDE in ids("--since", "2025-11-20")
    assert SIDE not in ids("--since", "2025-11-20", "--utc")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")
@pytest.mark.parametrize(
    "args",
    [
        ["list", "--all", "--format", "json"],
        ["list", "--all"],
        ["list", "--all", "--format", "json", "--agent", "claude-code"],
        ["info", "--format", "json"],
        ["--help"],
        ["--version"],
    ],
)
def test_output_to_a_full_disk_is_one_line_and_1(fake_home: FakeHome, args: list[str]) -> None:
    """`lsm … > /dev/full`: one line on stderr and status 1, never a traceback, from the full CLI and from
    the paths answered without it (the stored listing, run twice so that the second is answered there;
    the root help and the version)."""
    for _ in range(2):
        with open("/dev/full", "w") as full:
            done = subprocess.run(
                [sys.executable, "-m", "llm_session_manager", *args],
                env=fake_home.env(),
                stdout=full,
                stderr=subprocess.PIPE,
                text=True,
                timeout=120,
                cwd=str(fake_home.home),
            )
        assert (done.returncode, done.stderr) == (1, "lsm: error: cannot write: No space left on device\n")
