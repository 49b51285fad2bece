"""Tags, project names, descriptions, search and batch operations, through the real CLI."""

from __future__ import annotations

import json
import os
import pty
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import FakeHome
from test_running_sessions import SID, running_claude, write_status, write_transcript  # noqa: F401

from llm_session_manager.errors import UsageError
from llm_session_manager.organise import normalise_tag

SIDE = "88a8d761-7b9a-4bf1-a8ca-c1febe6bf358"


def ok(fake: FakeHome, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    r = fake.run(*args, **env)
    assert r.returncode == 0, r.stderr
    return r


def listed(fake: FakeHome, *args: str) -> dict[str, dict[str, object]]:
    return {o["native_id"]: o for o in json.loads(ok(fake, "list", "--all", "-f", "json", *args).stdout)}


@pytest.mark.parametrize(
    ("raw", "clean"), [(" Backend ", "backend"), ("API", "api"), ("v1.2_x-y", "v1.2_x-y")]
)
def test_tags_are_normalised(raw: str, clean: str) -> None:
    assert normalise_tag(raw) == clean


@pytest.mark.parametrize("raw", ["", "  ", "two words", "a/b", "émoji", "x" * 65, "tag!"])
def test_bad_tags_are_refused(raw: str) -> None:
    with pytest.raises(UsageError):
        normalise_tag(raw)


def test_tag_untag_and_filter(fake_home: FakeHome) -> None:
    out = json.loads(ok(fake_home, "tag", "88a8", "Backend", "api", "backend", "-f", "json").stdout)
    assert out["id"] == f"claude-code:{SIDE}" and out["tags"] == ["api", "backend"]
    assert set(listed(fake_home, "--tag", "backend")) == {SIDE}
    assert set(listed(fake_home, "--tag", "backend", "--tag", "api")) == {SIDE}
    assert listed(fake_home, "--tag", "backend", "--tag", "other") == {}
    out = json.loads(ok(fake_home, "untag", "88a8", "api", "-f", "json").stdout)
    assert out["tags"] == ["backend"]


def test_bad_tag_changes_nothing(fake_home: FakeHome) -> None:
    ok(fake_home, "tag", "88a8", "keep")
    r = fake_home.run("tag", "88a8", "fine", "not fine!")
    assert r.returncode == 2 and "bad tag" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert listed(fake_home)[SIDE]["tags"] == ["keep"]


def test_set_project_and_filter(fake_home: FakeHome) -> None:
    ok(fake_home, "set-project", "88a8", "My  Web App")
    s = listed(fake_home)[SIDE]
    assert s["project"] == "My Web App"
    assert set(listed(fake_home, "--project", "my web app")) == {SIDE}
    ok(fake_home, "set-project", "88a8", "")
    assert listed(fake_home)[SIDE]["project"] == "claude-code-log"


def test_describe_and_show(fake_home: FakeHome) -> None:
    ok(fake_home, "describe", "88a8", "Refactoring the border colour code")
    assert ok(fake_home, "describe", "88a8", "--show").stdout.strip() == "Refactoring the border colour code"
    assert listed(fake_home)[SIDE]["description"] == "Refactoring the border colour code"
    r = fake_home.run("describe", "88a8")
    assert r.returncode == 2 and "exactly one" in r.stderr


def test_search_finds_by_description_title_tags_and_project(fake_home: FakeHome) -> None:
    ok(fake_home, "describe", "88a8", "Implemented JWT authentication for the API")
    ok(fake_home, "tag", "ses_stage0", "auth")

    def found(*words: str) -> list[str]:
        r = ok(fake_home, "search", *words, "-f", "json")
        return [o["native_id"] for o in json.loads(r.stdout)]

    assert found("jwt") == [SIDE]
    assert found("JWT API") == [SIDE]  # all words, any case
    assert found("jwt missing-word") == []
    assert found("decorators") == ["representative"]  # the title, from the transcript's summary
    assert found("stage0") == ["ses_stage0_small"]  # custom title
    assert set(found("auth")) == {SIDE, "ses_stage0_small"}  # prefix of "authentication" and the tag
    assert found("claude-code-log") == [SIDE]  # project
    details = ok(fake_home, "search", "jwt", "--details").stdout
    assert "Implemented JWT" in details
    assert any(band in details for band in ("healthy", "warning", "critical"))


def test_batch_tag_with_pattern(fake_home: FakeHome) -> None:
    r = ok(fake_home, "batch-tag", "ses*", "fixture", "-f", "json")
    data = json.loads(r.stdout)
    assert sorted(data["sessions"]) == ["claude-code:ses_stage0_small", "claude-code:session-alpha"]
    assert data["added"] == 2
    r = ok(fake_home, "batch-tag", "all", "everything")
    assert "Tagging 5 session(s)" in r.stderr
    assert all("everything" in s["tags"] for s in listed(fake_home).values())
    r = fake_home.run("batch-tag", "nothing-like-this*", "x")
    assert r.returncode == 0 and "no session matches" in r.stderr and "nothing to do" in r.stderr


def test_batch_close_needs_confirmation_without_a_terminal(fake_home: FakeHome) -> None:
    r = fake_home.run("batch-close", "all")
    assert r.returncode == 2 and "--force" in r.stderr
    assert {s["status"] for s in listed(fake_home).values()} == {"ended"}


def test_batch_close_dry_run_and_reopen(fake_home: FakeHome) -> None:
    r = ok(fake_home, "batch-close", "ses*", "--dry-run", "-f", "json")
    assert {o["action"] for o in json.loads(r.stdout)} == {"dry run"}
    assert {s["status"] for s in listed(fake_home).values()} == {"ended"}
    ok(fake_home, "batch-close", "ses*", "--force")
    statuses = {k: v["status"] for k, v in listed(fake_home).items()}
    assert statuses["ses_stage0_small"] == "closed" and statuses[SIDE] == "ended"
    assert set(listed(fake_home, "--status", "closed")) == {"ses_stage0_small", "session-alpha"}
    ok(fake_home, "reopen", "ses_stage0")
    assert listed(fake_home)["ses_stage0_small"]["status"] == "ended"
    r = fake_home.run("reopen", "ses_stage0")
    assert r.returncode == 0 and "not closed" in r.stderr and "nothing to do" in r.stderr


def test_batch_close_asks_in_a_terminal(fake_home: FakeHome) -> None:
    def run_with_tty(answer: bytes) -> int:
        master, slave = pty.openpty()
        proc = subprocess.Popen(
            [sys.executable, "-m", "llm_session_manager", "batch-close", "session-alpha"],
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=fake_home.env(),
        )
        os.close(slave)
        time.sleep(0.5)
        os.write(master, answer)
        code = proc.wait(timeout=60)
        os.close(master)
        return code

    assert run_with_tty(b"n\n") == 0  # declined: nothing to do, not a failure
    assert listed(fake_home)["session-alpha"]["status"] == "ended"
    assert run_with_tty(b"y\n") == 0
    assert listed(fake_home)["session-alpha"]["status"] == "closed"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc for procStart")
def test_batch_close_ends_only_the_identified_process(
    fake_home: FakeHome,
    running_claude: tuple[int, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    pid, project = running_claude
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], cwd=project)
    try:
        write_transcript(fake_home, project)
        write_status(fake_home, pid, project, "idle")
        r = fake_home.run("batch-close", SID[:8] + "*", "--force", "-f", "json", LSM_DISCOVERY="on")
        assert r.returncode == 0, r.stderr
        outcome = json.loads(r.stdout)
        assert outcome == [{"id": f"claude-code:{SID}", "pid": pid, "action": "terminated", "detail": ""}]
        deadline = time.time() + 5
        while time.time() < deadline:
            try:
                os.waitpid(pid, os.WNOHANG)
                os.kill(pid, 0)
            except (ChildProcessError, ProcessLookupError):
                break
            time.sleep(0.05)
        else:
            pytest.fail("the session's process is still alive")
        assert bystander.poll() is None  # untouched
    finally:
        bystander.kill()
        bystander.wait()


def test_metadata_survives_and_is_atomic(fake_home: FakeHome) -> None:
    ok(fake_home, "tag", "88a8", "one")
    db = fake_home.lsm_home / "lsm.db"
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT tag FROM session_tags").fetchall() == [("one",)]
    conn.close()
