"""Content search (`lsm search --content`, `lsm grep`, the MCP tool ``search_conversations``): a phrase
said in a session of every agent is found with its snippet and resume command; secrets are never
indexed; the index follows appended and rewritten transcripts; the opt-in archive keeps deleted
sessions findable and exportable."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeHome
from test_all_agents import AGENTS, everything  # noqa: F401  (the fixture: every agent's files)
from test_hostile_text import (  # noqa: F401  (hostile: the fixture)
    assert_forced_terminal_safe,
    assert_no_secret,
    assert_terminal_safe,
    hostile,
)
from test_secret_corpus import SECRETS, leak, leaks, strings_in, write_sessions

from llm_session_manager import content_index
from llm_session_manager.agents import agent_info
from tests.real_fixtures import REAL, install

HIT_KEYS = {"session_id", "message_time", "role", "snippet", "score", "resume_command"}


def grep(fake: FakeHome, *args: str) -> list[dict[str, Any]]:
    r = fake.run("grep", *args, "--format", "json")
    assert r.returncode == 0, r.stderr
    hits: list[dict[str, Any]] = json.loads(r.stdout)
    return hits


def listed(fake: FakeHome) -> list[dict[str, Any]]:
    r = fake.run("list", "--all", "--format", "json")
    assert r.returncode == 0, r.stderr
    rows: list[dict[str, Any]] = json.loads(r.stdout)
    return rows


def prompt_of(fake: FakeHome, session_id: str) -> str | None:
    """The first user prompt of a session, as `lsm export` reads it (at least three words)."""
    r = fake.run("export", session_id, "-o", "-", "--format", "json")
    assert r.returncode == 0, r.stderr
    for turn in json.loads(r.stdout)["conversation"]["turns"]:
        words = re.findall(r"[A-Za-z]{3,}", turn.get("text") or "")
        if turn["role"] == "user" and len(words) >= 3 and "REDACTED" not in words:
            return " ".join(words[:4])
    return None


def expected_resume(row: dict[str, Any]) -> str | None:
    info = agent_info(row["agent"])
    words = info.resume if info is not None else None
    return f"{' '.join(words)} {row['native_id']}" if words else None


def write_config(fake: FakeHome, text: str) -> None:
    path = fake.home / ".config" / "llm-session-manager" / "config.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------------------------------------
# Every agent


def test_a_prompt_of_every_agent_is_found(everything: FakeHome) -> None:  # noqa: F811
    rows = listed(everything)
    found: set[str] = set()
    for agent in sorted(AGENTS):
        for row in [r for r in rows if r["agent"] == agent]:
            phrase = prompt_of(everything, row["id"])
            if phrase is None:
                continue
            hits = grep(everything, f'"{phrase}"', "--agent", agent, "--role", "user", "--limit", "50")
            mine = [h for h in hits if h["session_id"] == row["id"]]
            assert mine, f"{agent}: '{phrase}' not found in {row['id']}"
            hit = mine[0]
            assert set(hit) >= HIT_KEYS
            assert hit["role"] == "user" and hit["score"] > 0
            assert hit["resume_command"] == expected_resume(row)
            marked = "".join(hit["snippet"][a:b] for a, b in hit["highlights"])
            assert re.sub("[^a-z]", "", marked.lower()) == re.sub("[^a-z]", "", phrase.lower()), hit
            assert all(h["agent"] == agent for h in hits)  # --agent narrows
            found.add(agent)
            break
    assert found == AGENTS


@pytest.fixture
def real_home(fake_home: FakeHome) -> FakeHome:
    """Every capture of a real agent CLI in one HOME."""
    shutil.rmtree(fake_home.projects)
    for capture in sorted(REAL.iterdir()):
        if (capture / "home").is_dir():
            install(capture, fake_home.home)
    return fake_home


# A phrase each real capture's prompts hold, and the agent that said it.
REAL_PHRASES = {
    "claude-code": '"Read the file that is not there"',
    "codex": '"Run a command that works"',
    "gemini": '"List the missing directory"',
    "copilot-cli": '"Run the check command"',
    "aider": "hello",
}


@pytest.mark.parametrize("agent", sorted(REAL_PHRASES))
def test_real_captures_table_and_json(real_home: FakeHome, agent: str) -> None:
    rows = {r["id"]: r for r in listed(real_home)}
    hits = grep(real_home, REAL_PHRASES[agent], "--agent", agent)
    assert hits and {h["agent"] for h in hits} == {agent}
    for hit in hits:
        assert hit["resume_command"] == expected_resume(rows[hit["session_id"]])
    table = real_home.run("search", REAL_PHRASES[agent], "--content", "--agent", agent)
    assert table.returncode == 0, table.stderr
    first = hits[0]
    assert first["snippet"] in table.stdout
    if first["resume_command"]:
        assert f"resume: {first['resume_command']}" in table.stdout


def test_tool_commands_paths_and_errors_are_indexed_not_outputs(real_home: FakeHome) -> None:
    # A command the model ran, and the error it got (Claude Code's capture: ls of a missing path).
    assert any(h["role"] == "tool" for h in grep(real_home, '"ls /nonexistent-lsm-path"', "--role", "tool"))
    assert any(h["role"] == "tool" for h in grep(real_home, '"No such file or directory"', "--role", "tool"))
    # A successful tool's output ("stub notes", what Read returned) is not indexed by default...
    assert grep(real_home, '"stub notes"', "--role", "tool") == []
    # ...and is with search.index_tool_output.
    write_config(real_home, "search:\n  index_tool_output: true\n")
    assert grep(real_home, '"stub notes"', "--role", "tool")


def test_mcp_search_conversations_is_lsm_grep(real_home: FakeHome, monkeypatch: pytest.MonkeyPatch) -> None:
    import anyio
    from mcp import Client

    from llm_session_manager.mcp.server import build_server

    for key, value in real_home.env().items():
        monkeypatch.setenv(key, value)
    expected = grep(real_home, REAL_PHRASES["codex"], "--agent", "codex")

    async def main() -> Any:
        async with Client(build_server()) as client:
            tools = {t.name for t in (await client.list_tools()).tools}
            assert "search_conversations" in tools
            result = await client.call_tool(
                "search_conversations", {"query": REAL_PHRASES["codex"], "agent": "codex"}
            )
            assert not result.is_error, result.content
            bad = await client.call_tool("search_conversations", {"query": '"unclosed NEAR('})
            assert bad.is_error and "cannot read the query" in bad.content[0].text  # type: ignore[union-attr]
            return result.structured_content

    got = anyio.run(main)
    assert got["count"] == len(expected) and got["hits"] == expected
    assert got["hits"][0]["resume_command"].startswith("codex resume ")


# ---------------------------------------------------------------------------------------------------
# Queries


def test_fts5_syntax_and_plain_words(real_home: FakeHome) -> None:
    assert grep(real_home, "missin*", "--agent", "gemini")  # prefix
    assert grep(real_home, "NEAR(missing directory, 2)", "--agent", "gemini")
    assert grep(real_home, "missing AND directory NOT zzzqqq", "--agent", "gemini")
    assert grep(real_home, "zzzqqq OR directory", "--agent", "gemini")
    # Words FTS5 cannot parse alone (a path, a hyphenated word) are read as words.
    assert grep(real_home, "/nonexistent-lsm-path")
    assert grep(real_home, "lsm-ok")


@pytest.mark.parametrize("query", ['"unclosed', "NEAR(", "a AND", "(missing", "col:word"])
def test_a_malformed_query_is_one_usage_line(real_home: FakeHome, query: str) -> None:
    r = real_home.run("grep", query)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert "cannot read the query" in r.stderr


def test_filters_role_since_limit_and_usage_errors(real_home: FakeHome) -> None:
    assert {h["role"] for h in grep(real_home, "directory", "--role", "user")} == {"user"}
    assert grep(real_home, "directory", "--since", "2099-01-01") == []
    assert len({h["session_id"] for h in grep(real_home, "the", "--limit", "2")}) == 2
    for args in (("--role", "robot"), ("--agent", "nobody")):
        r = real_home.run("grep", "the", *args)
        assert r.returncode == 2 and "Traceback" not in r.stderr
    r = real_home.run("search", "the", "--role", "user")  # a content filter without --content
    assert r.returncode == 2 and "need --content" in r.stderr


def test_table_highlights_are_styles_never_markup(fake_home: FakeHome) -> None:
    write_claude(fake_home, "hostile", ["[bold red]injected[/] \x1b]52;c;ZXZpbA==\x07 marker-word here"])
    r = fake_home.run("grep", "injected")
    assert r.returncode == 0, r.stderr
    assert "[bold red]injected[/]" in r.stdout  # shown as typed
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout
    from llm_session_manager.api.search import Hit
    from llm_session_manager.cli.search_cmds import hit_lines

    hit = Hit("claude-code:x", "claude-code", None, None, None, "user", "[b]x[/b] y", ((4, 5),), 1.0, None)
    line = hit_lines([[hit]])[-1]
    assert line.plain.endswith("[b]x[/b] y")
    assert any(span.style == "bold yellow reverse" for span in line.spans)


# ---------------------------------------------------------------------------------------------------
# Secrets


def test_no_secret_is_indexed_findable_or_shown(fake_home: FakeHome) -> None:
    write_sessions(fake_home)
    write_config(fake_home, "search:\n  index_tool_output: true\n")  # the most text indexed
    hits = grep(fake_home, "REDACTED", "--limit", "500")
    assert hits, "redaction markers are indexed"
    output = json.dumps(hits)
    assert leaks(output + "\n".join(strings_in(hits))) == []
    conn = sqlite3.connect(fake_home.lsm_home / "lsm.db")
    stored = "\n".join(row[0] for row in conn.execute("SELECT text FROM content_messages"))
    assert leaks(stored) == []
    for secret in SECRETS:  # nothing finds a secret whole; its first characters find only the marker
        assert content_index.find(conn, content_index.as_words(secret.secret)) == [], secret.label
        prefix = content_index.as_words(secret.secret[:12]) + "*"
        for group in content_index.find(conn, prefix):
            assert all(leak(secret, hit.snippet.text) is None for hit in group), secret.label


# ---------------------------------------------------------------------------------------------------
# Incremental


def claude_line(sid: str, n: int, text: str, role: str = "user") -> str:
    message: dict[str, Any] = {"role": role, "content": text}
    if role == "assistant":
        message = {
            "id": f"msg_{sid}_{n}",
            "role": "assistant",
            "model": "claude-sonnet-4-5",
            "content": [{"type": "text", "text": text}],
            "usage": {"input_tokens": 10, "output_tokens": 5},
        }
    return json.dumps(
        {
            "type": role,
            "sessionId": sid,
            "cwd": "/work/search",
            "timestamp": f"2026-11-20T10:00:{n:02d}.000Z",
            "uuid": f"{sid}-{n}",
            "message": message,
        }
    )


def write_claude(fake: FakeHome, sid: str, prompts: list[str]) -> Path:
    proj = fake.projects / "-work-search"
    proj.mkdir(parents=True, exist_ok=True)
    path = proj / f"{sid}.jsonl"
    path.write_text("".join(claude_line(sid, i, p) + "\n" for i, p in enumerate(prompts)), encoding="utf-8")
    return path


def progress(fake: FakeHome, path: Path) -> tuple[int, int]:
    conn = sqlite3.connect(fake.lsm_home / "lsm.db")
    row = conn.execute(
        "SELECT offset, (SELECT COUNT(*) FROM content_messages WHERE path = ?) FROM content_progress"
        " WHERE path = ?",
        (str(path), str(path)),
    ).fetchone()
    return int(row[0]), int(row[1])


def message_ids(fake: FakeHome) -> list[int]:
    conn = sqlite3.connect(fake.lsm_home / "lsm.db")
    return [
        r[0] for r in conn.execute("SELECT id FROM content_messages WHERE session_id = 'claude-code:grow'")
    ]


def test_appended_lines_are_indexed_from_the_offset(fake_home: FakeHome) -> None:
    path = write_claude(fake_home, "grow", ["the jwt refresh bug is back"])
    assert [h["session_id"] for h in grep(fake_home, '"jwt refresh"')] == ["claude-code:grow"]
    size = path.stat().st_size
    assert progress(fake_home, path) == (size, 1)
    first = message_ids(fake_home)
    with path.open("a", encoding="utf-8") as fh:
        fh.write(claude_line("grow", 1, "fixed the token rotation in auth.py", "assistant") + "\n")
        fh.write(claude_line("grow", 2, "half a line")[:20])  # being written: not read yet
    hits = grep(fake_home, '"token rotation"')
    assert [(h["session_id"], h["role"]) for h in hits] == [("claude-code:grow", "assistant")]
    offset, messages = progress(fake_home, path)
    assert messages == 2 and offset == path.read_bytes().rindex(b"\n") + 1
    assert message_ids(fake_home)[: len(first)] == first
    with path.open("a", encoding="utf-8") as fh:
        fh.write(
            claude_line("grow", 2, "half a line")[20:] + "\n" + claude_line("grow", 3, "one more line") + "\n"
        )
    from llm_session_manager.api import search as search_api
    from llm_session_manager.api.context import Context
    from llm_session_manager.paths import resolve

    stats = search_api.refresh_index(Context.for_paths(resolve(fake_home.env())))
    assert stats.sources_read == 1 and stats.messages == 2  # the half line, completed, and the new one
    assert stats.bytes_read == path.stat().st_size - offset  # only what was appended is read
    assert grep(fake_home, "auth.py")  # a file name as plain words


def test_a_rewritten_file_is_indexed_again(fake_home: FakeHome) -> None:
    path = write_claude(fake_home, "redo", ["first version about pelicans", "and more pelicans here"])
    assert len(grep(fake_home, "pelicans")) == 2
    write_claude(fake_home, "redo", ["second version about herons"])  # shorter: rewritten
    assert grep(fake_home, "pelicans") == []
    assert [h["session_id"] for h in grep(fake_home, "herons")] == ["claude-code:redo"]
    assert progress(fake_home, path)[1] == 1
    # Same size, new content (rewritten in place).
    path.write_text(path.read_text(encoding="utf-8").replace("herons", "egrets"), encoding="utf-8")
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 1_000_000))
    assert grep(fake_home, "herons") == [] and grep(fake_home, "egrets")


def test_a_deleted_session_stays_findable_and_info_reports_the_index(fake_home: FakeHome) -> None:
    path = write_claude(fake_home, "gone", ["remember the albatross incident"])
    assert grep(fake_home, "albatross")
    path.unlink()
    assert [h["session_id"] for h in grep(fake_home, "albatross")] == ["claude-code:gone"]
    r = fake_home.run("info", "--format", "json")
    index = json.loads(r.stdout)["content_index"]
    assert index["messages"] >= 1 and index["sessions"] >= 1 and index["bytes"] > 0


# ---------------------------------------------------------------------------------------------------
# The archive


def test_archive_keeps_a_deleted_transcript_exportable(fake_home: FakeHome) -> None:
    write_config(fake_home, "archive:\n  enabled: true\n")
    path = write_claude(fake_home, "kept", ["the kestrel migration plan"])
    assert grep(fake_home, "kestrel")
    with path.open("a", encoding="utf-8") as fh:  # a second gzip member
        fh.write(claude_line("kept", 1, "kestrel step two", "assistant") + "\n")
    assert len(grep(fake_home, "kestrel")) == 2
    status = json.loads(fake_home.run("archive", "status", "--format", "json").stdout)
    assert status["enabled"] is True and status["files"] >= 1 and status["original_bytes"] > 0
    copy = fake_home.lsm_home / "transcripts" / str(path).lstrip("/")
    assert Path(str(copy) + ".gz").is_file()
    original = path.read_bytes()
    path.unlink()
    hits = grep(fake_home, "kestrel")
    assert {h["session_id"] for h in hits} == {"claude-code:kept"}
    r = fake_home.run("export", "claude-code:kept", "-o", "-", "--format", "json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    texts = [t.get("text") for t in doc["conversation"]["turns"]]
    assert texts == ["the kestrel migration plan", "kestrel step two"]
    assert doc["session"]["transcript_paths"] == [str(path)]
    import gzip

    assert gzip.decompress(Path(str(copy) + ".gz").read_bytes()) == original
    # prune: the copy and the deleted session's messages go.
    dry = json.loads(
        fake_home.run("archive", "prune", "--before", "2099-01-01", "--dry-run", "-f", "json").stdout
    )
    assert dry["copies"] >= 1 and dry["sessions"] >= 1 and dry["dry_run"] is True
    assert grep(fake_home, "kestrel")
    r = fake_home.run("archive", "prune", "--before", "2099-01-01", "--format", "json")
    assert json.loads(r.stdout)["copies"] == dry["copies"]
    assert grep(fake_home, "kestrel") == []
    assert not Path(str(copy) + ".gz").exists()


def test_archive_is_off_by_default(fake_home: FakeHome) -> None:
    write_claude(fake_home, "plain", ["nothing is copied"])
    assert grep(fake_home, "copied")
    assert not (fake_home.lsm_home / "transcripts").exists()
    status = json.loads(fake_home.run("archive", "status", "--format", "json").stdout)
    assert status["enabled"] is False and status["files"] == 0


def test_texts_redacted_together_are_redacted_as_alone() -> None:
    from llm_session_manager.redact import redact_text

    texts = [t for s in SECRETS for t in (s.context, f"benign line {s.n}: config = value", s.secret)]
    assert content_index.redact_many(texts) == [redact_text(t)[0] for t in texts]
    # A text holding the separator is redacted alone, and still comes back whole.
    odd = ["a" + content_index._SEPARATOR + "b", SECRETS[0].context]
    assert content_index.redact_many(odd) == [redact_text(t)[0] for t in odd]


def test_claude_lines_give_the_turns_export_gives() -> None:
    """The index's quick decoding of Claude Code lines keeps what the conversation reader keeps: the
    same turns with tool bodies, and the same messages to index without them."""
    from llm_session_manager.agents.claude_code import _turn_from_line
    from llm_session_manager.content_lines import claude_turns

    lines = [
        raw
        for path in sorted((REAL / "claude-code-2.1.197" / "home").rglob("*.jsonl"))
        for raw in path.read_bytes().split(b"\n")
        if raw.strip()
    ]
    assert len(lines) > 50
    kinds = set()
    for raw in lines:
        obj = json.loads(raw)
        whole = _turn_from_line(obj) if obj.get("isSidechain") is not True else None
        assert claude_turns(raw, True) == ([whole] if whole else [])
        want = [d for t in ([whole] if whole else []) for d in content_index.drafts_of_turn(t, False)]
        got = [d for t in claude_turns(raw, False) for d in content_index.drafts_of_turn(t, False)]
        assert got == want
        kinds.update(d.role for d in got)
    assert kinds == {"user", "assistant", "tool"}


def test_doctor_repair_keeps_what_was_said_of_deleted_sessions(fake_home: FakeHome) -> None:
    path = write_claude(fake_home, "repaired", ["the osprey nest survives a repair"])
    assert grep(fake_home, "osprey")
    path.unlink()
    db = fake_home.lsm_home / "lsm.db"
    conn = sqlite3.connect(db)
    conn.execute("DROP TABLE merged_cache")  # damage: doctor rebuilds the database
    conn.commit()
    conn.close()
    assert fake_home.run("doctor", "--repair").returncode == 0
    # The FTS5 index is made again from the kept messages on the next search.
    assert [h["session_id"] for h in grep(fake_home, "osprey")] == ["claude-code:repaired"]
    assert grep(fake_home, "nothingofthesort") == []


def test_archive_turned_on_later_copies_what_was_indexed(fake_home: FakeHome) -> None:
    path = write_claude(fake_home, "later", ["the heron count"])
    assert grep(fake_home, "heron")  # indexed with the archive off: nothing copied
    assert not (fake_home.lsm_home / "transcripts").exists()
    write_config(fake_home, "archive:\n  enabled: true\n")
    assert grep(fake_home, "heron")  # nothing new to index, but the copy is made
    copy = Path(str(fake_home.lsm_home / "transcripts" / str(path).lstrip("/")) + ".gz")
    import gzip

    assert gzip.decompress(copy.read_bytes()) == path.read_bytes()


def test_hostile_transcripts_are_inert_in_grep(hostile: FakeHome) -> None:  # noqa: F811
    """Markup, escape sequences and a token in what was said: shown as text, never run, never leaked."""
    table = hostile.run("grep", "hostile")
    assert table.returncode == 0, table.stderr
    assert_terminal_safe(table.stdout + table.stderr)
    assert "[/INST]" in table.stdout and "[REDACTED:" in table.stdout
    forced = hostile.run("grep", "hostile", FORCE_COLOR="1", NO_COLOR="")
    assert forced.returncode == 0, forced.stderr
    assert_forced_terminal_safe(forced.stdout)
    as_json = hostile.run("grep", "hostile", "--format", "json")
    assert as_json.returncode == 0 and json.loads(as_json.stdout)
    assert_no_secret(as_json.stdout)
    nothing = hostile.run("grep", "nomatch\x1b]0;x\x07")
    assert nothing.returncode == 0
    assert_terminal_safe(nothing.stdout + nothing.stderr)


def test_tool_input_keys_and_their_decoder_agree() -> None:
    from llm_session_manager import content_lines

    assert set(content_lines.INPUT_KEYS) == set(content_lines._Input.__struct_fields__)
    turn = content_lines.claude_turns(
        json.dumps(
            {
                "type": "assistant",
                "timestamp": "2026-11-20T10:00:00.000Z",
                "message": {
                    "id": "m1",
                    "role": "assistant",
                    "content": [
                        {
                            "type": "tool_use",
                            "id": "t1",
                            "name": "Write",
                            "input": {"file_path": "/src/jwt.py", "content": "SECRET BODY"},
                        }
                    ],
                },
            }
        ).encode(),
        False,
    )
    drafts = [d.text for t in turn for d in content_index.drafts_of_turn(t, False)]
    assert drafts == ["Write\n/src/jwt.py"]  # the file touched, not what was written to it


def test_a_file_read_in_small_blocks_gives_the_same_rows(
    fake_home: FakeHome, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_claude(fake_home, "blocks", [f"line {i} about the pelican survey" for i in range(40)])
    with path.open("a", encoding="utf-8") as fh:
        fh.write(claude_line("blocks", 99, "half")[:30])  # unfinished
    settings = content_index.Settings()
    job = content_index.FileJob(
        "claude-code", "claude-code:blocks", str(path), None, settings.digest(), settings, 0
    )
    whole = content_index.read_file(job)
    monkeypatch.setattr(content_index, "READ_BLOCK", 97)  # lines cross every block boundary
    small = content_index.read_file(job)
    assert small.rows == whole.rows and len(whole.rows) == 40
    assert small.end == whole.end == path.read_bytes().rindex(b"\n") + 1


@pytest.mark.parametrize("archive", [True, False])
def test_a_resumed_chat_losing_its_first_file(real_home: FakeHome, archive: bool) -> None:
    """Gemini resumed a chat in a second file; the first is deleted: with the archive on, what the first
    file said stays findable; without it, the session is indexed again from what is left."""
    if archive:
        write_config(real_home, "archive:\n  enabled: true\n")
    chats = real_home.home / ".gemini" / "tmp" / "gemini-resume" / "chats"
    first = sorted(chats.glob("*7378cea7.jsonl"))[0]
    sid = "gemini:7378cea7-8f1a-4c5a-87f8-b95e54dd941f"
    assert sid in {h["session_id"] for h in grep(real_home, "stub-missing-dir", "--agent", "gemini")}
    first.unlink()
    found = {h["session_id"] for h in grep(real_home, "stub-missing-dir", "--agent", "gemini")}
    assert (sid in found) is archive
    assert sid in {h["session_id"] for h in grep(real_home, "notes.txt", "--agent", "gemini")}


def test_much_to_read_is_read_by_the_scans_pool_the_same(
    everything: FakeHome,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past PARALLEL_MIN_BYTES, with a core free, the transcripts are read in the cold scan's worker
    processes (scan._pool), a few a task, in order: the same rows as read here."""
    from llm_session_manager import scan

    settings = content_index.Settings()
    paths = sorted(p for p in everything.projects.rglob("*.jsonl") if p.is_file())
    jobs = [
        content_index.FileJob(
            "claude-code", f"s{n}", str(p), None, settings.digest(), settings, p.stat().st_size
        )
        for n, p in enumerate(paths)
    ]
    assert len(jobs) > 2
    here = list(content_index._read_files(jobs))
    sizes: list[int] = []
    real_pool = scan._pool

    def noted_pool(size: int, reader: Any = None) -> Any:
        sizes.append(size)
        return real_pool(size, reader)

    monkeypatch.setattr(scan, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(scan, "_workers", lambda: 2)
    monkeypatch.setattr(scan, "_pool", noted_pool)
    pooled = list(content_index._read_files(jobs))
    assert sizes == [2]
    assert [(r.job.path, r.rows, r.end, r.identity, r.error) for r in pooled] == [
        (r.job.path, r.rows, r.end, r.identity, r.error) for r in here
    ]
    assert any(r.rows for r in pooled)
