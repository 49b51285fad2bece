"""Cursor IDE reader: a ``state.vscdb`` built here with Cursor's real table layout (no public sample of
this database exists; see tests/fixtures/cursor/PROVENANCE.md)."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import run_cli_inprocess

from llm_session_manager.agents import cursor as cur
from llm_session_manager.agents.base import FileState
from llm_session_manager.agents.cursor import CursorReader
from llm_session_manager.models import Session
from llm_session_manager.paths import resolve
from llm_session_manager.tokens import count_tokens

REPO = Path(__file__).resolve().parent.parent

SCHEMA = """
CREATE TABLE ItemTable (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB);
CREATE TABLE cursorDiskKV (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB);
CREATE TABLE composerHeaders (
  composerId TEXT PRIMARY KEY, workspaceId TEXT, createdAt INTEGER, lastUpdatedAt INTEGER,
  isArchived INTEGER, isSubagent INTEGER, recency INTEGER, checkpointAt INTEGER, value TEXT
);
"""

MS = 1772359200000  # 2026-03-01T10:00:00Z in epoch milliseconds
A1 = '{"path": "utils.py"}'  # 7 tokens (o200k_base)
A2 = '{"command": "pytest"}'  # 6
U1 = "Why does the cache miss on every request?"  # 9
T2 = "Because the key includes a timestamp."
TH2 = "The key is built from the request time."  # T2 + "\n" + TH2: 16
A3 = '{"query": "cache_key"}'  # 7
R3 = 'src/cache.py:12: key = f"{path}:{time.time()}"'  # 16


def iso(minute: int, second: int = 0) -> str:
    return f"2026-03-01T10:{minute:02d}:{second:02d}.000Z"


class Builder:
    """Writes rows the way Cursor does: INSERT into tables declared ON CONFLICT REPLACE."""

    def __init__(self, path: Path, wal: bool = False) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None)
        if wal:
            self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.executescript(SCHEMA)

    def kv(self, key: str, value: Any) -> None:
        raw = value if isinstance(value, (str, bytes)) else json.dumps(value)
        self.conn.execute("INSERT INTO cursorDiskKV (key, value) VALUES (?, ?)", (key, raw))

    def composer(self, cid: str, bubbles: list[dict[str, Any]], **fields: Any) -> None:
        headers = [{"bubbleId": b["bubbleId"], "type": b["type"]} for b in bubbles]
        self.kv(f"composerData:{cid}", {"composerId": cid, "fullConversationHeadersOnly": headers, **fields})
        for b in bubbles:
            self.kv(f"bubbleId:{cid}:{b['bubbleId']}", b)

    def header(self, cid: str, workspace: str | None = None, updated: int = MS, **value: Any) -> None:
        self.conn.execute(
            "INSERT INTO composerHeaders VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                cid,
                workspace,
                MS,
                updated,
                int(value.pop("archived", 0)),
                int(value.pop("subagent", 0)),
                updated,
                updated,
                json.dumps({"type": "head", "composerId": cid, **value}),
            ),
        )

    def close(self) -> None:
        self.conn.close()


def bubble(
    bid: str, btype: int, text: str = "", tokens: tuple[int, int] | None = (0, 0), **extra: Any
) -> dict:
    b: dict[str, Any] = {"_v": 3, "bubbleId": bid, "type": btype, "text": text, **extra}
    if tokens is not None:
        b["tokenCount"] = {"inputTokens": tokens[0], "outputTokens": tokens[1]}
    return b


def workspace(user_dir: Path, ws: str, folder: str, composers: list[str] | None = None) -> None:
    d = user_dir / "workspaceStorage" / ws
    d.mkdir(parents=True, exist_ok=True)
    (d / "workspace.json").write_text(json.dumps({"folder": folder}))
    if composers is not None:
        conn = sqlite3.connect(d / "state.vscdb")
        conn.execute("CREATE TABLE ItemTable (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)")
        doc = {"allComposers": [{"composerId": c, "type": "head"} for c in composers]}
        conn.execute("INSERT INTO ItemTable VALUES ('composer.composerData', ?)", (json.dumps(doc),))
        conn.commit()
        conn.close()


def build_standard(user_dir: Path) -> Path:
    """Seven chats and one empty one; see the expectations in ``test_standard_db_totals``."""
    db = user_dir / "globalStorage" / "state.vscdb"
    b = Builder(db)
    workspace(user_dir, "ws1", "file:///home/dev/my%20app")
    workspace(user_dir, "ws2", "file:///home/dev/legacy", composers=["c-legacy"])
    # c-exact: every reply metered; the prompts' {0,0} is covered by the reply's metered input.
    b.composer(
        "c-exact",
        [
            bubble(
                "e1", 1, "Fix the login bug", createdAt=iso(0), modelInfo={"modelName": "claude-4.5-sonnet"}
            ),
            bubble("e2", 2, "Done.", (1200, 30), createdAt=iso(0, 30)),
            bubble("e3", 1, "Now add a test", createdAt=iso(5)),
            bubble("e4", 2, "Added.", (2000, 45), createdAt=iso(5, 20)),
        ],
        name="Fix login",
        createdAt=MS,
        lastUpdatedAt=MS + 330_000,
        modelConfig={"modelName": "claude-4.5-sonnet"},
        createdOnBranch="main",
    )
    b.header("c-exact", "ws1", updated=MS + 330_000)
    # c-mixed: a metered turn with two unmetered tool bubbles (their arguments are counted output).
    b.composer(
        "c-mixed",
        [
            bubble("m1", 1, "Refactor utils", createdAt=iso(10)),
            bubble(
                "m2",
                2,
                toolFormerData={
                    "name": "read_file",
                    "rawArgs": A1,
                    "result": "def f(): pass",
                    "status": "completed",
                    "additionalData": {"status": "success"},
                },
                createdAt=iso(10, 5),
            ),
            bubble(
                "m3", 2, "Refactored.", (900, 20), modelInfo={"modelName": "gpt-5"}, createdAt=iso(10, 30)
            ),
            bubble(
                "m4",
                2,
                toolFormerData={
                    "name": "run_terminal_cmd",
                    "rawArgs": A2,
                    "status": "completed",
                    "additionalData": {"status": "error"},
                },
                createdAt=iso(10, 40),
            ),
        ],
        createdAt=MS + 600_000,
        modelConfig={"modelName": "claude-4-sonnet"},
    )
    b.kv("bubbleId:c-mixed:orphan", bubble("orphan", 2, "left over", (5000, 5000)))  # not in the headers
    b.header(
        "c-mixed",
        None,
        archived=1,
        name="Utils refactor",
        workspaceIdentifier={"id": "w9", "uri": {"fsPath": "/srv/proj"}},
    )
    # c-unmetered: nothing metered; the first bubble has no createdAt and no tokenCount at all.
    b.composer(
        "c-unmetered",
        [
            bubble("u1", 1, U1, tokens=None),
            bubble("u2", 2, T2, thinking={"text": TH2}, createdAt=iso(20, 10)),
            bubble(
                "u3", 2, toolFormerData={"name": "grep", "rawArgs": A3, "result": R3}, createdAt=iso(20, 20)
            ),
            bubble("u4", 2, errorDetails={"message": "Error [unavailable]"}, createdAt=iso(20, 30)),
        ],
        createdAt=MS + 1_200_000,
        modelConfig={"modelName": "default"},
    )
    b.header("c-unmetered", "ws1")
    # c-legacy: an inline conversation, no header row; its workspace's own database lists it. Its
    # bubble l2 also has a KV row, which wins over the inline copy.
    b.kv(
        "composerData:c-legacy",
        {
            "composerId": "c-legacy",
            "createdAt": MS - 86_400_000,
            "conversation": [
                bubble("l1", 1, "Old question", createdAt="2026-02-28T10:00:00.000Z"),
                bubble("l2", 2, "Old answer", (300, 12), createdAt="2026-02-28T10:01:00.000Z"),
            ],
        },
    )
    b.kv(
        "bubbleId:c-legacy:l2", bubble("l2", 2, "Old answer", (310, 15), createdAt="2026-02-28T10:01:00.000Z")
    )
    # c-broken: composerData is not JSON; the chat is rebuilt from its bubbles, ordered by createdAt.
    b.kv("composerData:c-broken", "{not json")
    b.kv("bubbleId:c-broken:z2", bubble("z2", 2, "Hello", (50, 5), createdAt=iso(30, 10)))
    b.kv("bubbleId:c-broken:z1", bubble("z1", 1, "Hi", createdAt=iso(30)))
    # c-badbubble: one bubble value is not JSON.
    b.composer(
        "c-badbubble",
        [bubble("f1", 1, "Q", createdAt=iso(40)), bubble("f3", 2, "A", (100, 10), createdAt=iso(40, 10))],
        createdAt=MS + 2_400_000,
    )
    b.kv(
        "composerData:c-badbubble",
        {
            "composerId": "c-badbubble",
            "createdAt": MS + 2_400_000,
            "fullConversationHeadersOnly": [
                {"bubbleId": "f1", "type": 1},
                {"bubbleId": "f2", "type": 2},
                {"bubbleId": "f3", "type": 2},
            ],
        },
    )
    b.kv("bubbleId:c-badbubble:f2", "not valid json {")
    b.header("c-badbubble", "ws1")
    # c-empty: opened, never used.
    b.composer("c-empty", [], createdAt=MS)
    # c-parent and its sub-agent c-sub (folded into the parent's session).
    b.composer(
        "c-parent",
        [
            bubble("h1", 1, "Plan it", createdAt=iso(50)),
            bubble("h2", 2, "Planned.", (400, 40), createdAt=iso(50, 30)),
        ],
        createdAt=MS + 3_000_000,
        subComposerIds=["c-sub"],
        modelConfig={"modelName": "claude-4.5-sonnet"},
    )
    b.header("c-parent", "ws1")
    b.composer(
        "c-sub",
        [
            bubble("s1", 1, "Sub task", createdAt=iso(51)),
            bubble("s2", 2, "Sub done.", (150, 25), createdAt=iso(52)),
        ],
        createdAt=MS + 3_060_000,
        modelConfig={"modelName": "claude-4.5-sonnet"},
    )
    b.header("c-sub", "ws1", subagent=1)
    b.close()
    return db


@pytest.fixture
def user_dir(tmp_path: Path) -> Path:
    return tmp_path / "home" / ".config" / "Cursor" / "User"


def read_all(reader: CursorReader, prior: FileState | None = None) -> tuple[FileState, dict[str, Session]]:
    (path, key, _ident) = next(iter(reader.sources()))
    state = reader.read(path, key, prior)
    return state, {s.native_id: s for s in reader.sessions([state])}


def test_standard_db_totals(user_dir: Path) -> None:
    db = build_standard(user_dir)
    state, by_id = read_all(CursorReader([user_dir]))
    assert sorted(by_id) == [
        "c-badbubble",
        "c-broken",
        "c-exact",
        "c-legacy",
        "c-mixed",
        "c-parent",
        "c-unmetered",
    ]

    s = by_id["c-exact"]
    # input 1200 + 2000 = 3200, output 30 + 45 = 75; the prompts' {0,0} is in the metered input.
    assert (s.tokens.input, s.tokens.output, s.tokens.cache_read, s.tokens.source) == (3200, 75, 0, "exact")
    assert s.context_tokens == 2000 + 45
    assert (s.title, s.project_path, s.git_branch, s.model) == (
        "Fix login",
        "/home/dev/my app",
        "main",
        "claude-4.5-sonnet",
    )
    assert (s.messages_user, s.messages_assistant, s.tool_calls, s.skipped_lines) == (2, 2, 0, 0)
    assert s.started_at is not None and s.started_at.isoformat() == "2026-03-01T10:00:00+00:00"
    assert s.last_activity is not None and s.last_activity.isoformat() == "2026-03-01T10:05:30+00:00"
    assert s.transcript_paths == (str(db),)

    s = by_id["c-mixed"]
    # metered m3: 900 in / 20 out (gpt-5); unmetered tool calls count their arguments as output:
    # m2 7 tokens on the composer's model (claude-4-sonnet), m4 6 tokens on gpt-5 (the model in force).
    # The tool result and the prompt are not counted: the metered input of the turn holds them.
    # The orphan bubble (not in the headers) is ignored.
    assert count_tokens(A1) == 7 and count_tokens(A2) == 6
    assert (s.tokens.input, s.tokens.output, s.tokens.source) == (900, 20 + 7 + 6, "counted")
    usage = {m.model: (m.input, m.output) for m in s.model_usage}
    assert usage == {"gpt-5": (900, 26), "claude-4-sonnet": (0, 7)}
    assert s.models == ("gpt-5", "claude-4-sonnet") and s.model == "gpt-5"
    assert (s.tool_calls, s.tool_errors, s.recent_tool_results) == (2, 1, (False, True))
    assert (s.title, s.project_path) == ("Utils refactor", "/srv/proj")  # archived, still listed

    s = by_id["c-unmetered"]
    # input: U1 9 + tool result R3 16 = 25; output: text+thinking 16 + tool args A3 7 = 23.
    assert [count_tokens(t) for t in (U1, R3, f"{T2}\n{TH2}", A3)] == [9, 16, 16, 7]
    assert (s.tokens.input, s.tokens.output, s.tokens.source) == (25, 23, "counted")
    assert s.context_tokens == 48 and s.peak_context_tokens == 48
    assert (s.model, s.models, s.title) == ("default", ("default",), U1)
    assert (s.api_errors, s.recent_api_errors, s.tool_calls, s.messages_assistant) == (1, 1, 1, 2)
    assert s.started_at is not None and s.started_at.isoformat() == "2026-03-01T10:20:00+00:00"

    s = by_id["c-legacy"]
    assert (s.tokens.input, s.tokens.output, s.tokens.source) == (310, 15, "exact")  # the KV row won
    assert (s.project_path, s.title, s.model) == ("/home/dev/legacy", "Old question", None)
    assert s.model_usage[0].model == "unknown"

    s = by_id["c-broken"]
    assert (s.tokens.input, s.tokens.output, s.skipped_lines, s.title) == (50, 5, 1, "Hi")
    assert s.project_path is None  # no header and no workspace lists it

    s = by_id["c-badbubble"]
    assert (s.tokens.input, s.tokens.output, s.skipped_lines, s.tokens.source) == (100, 10, 1, "exact")

    s = by_id["c-parent"]
    # 400 + 150 in, 40 + 25 out: the sub-agent's chat is part of its parent's session.
    assert (s.tokens.input, s.tokens.output, s.tokens.source) == (550, 65, "exact")
    assert s.messages_user == 1 and s.context_tokens == 440

    assert state.data["mode"] == "ro"
    assert state.offset == state.identity[2]


def test_json_header_index_blob_values_and_code_workspace(tmp_path: Path) -> None:
    """3.0-era installs: no composerHeaders table, the index is JSON in ItemTable; values may be BLOBs."""
    user_dir = tmp_path / "Cursor" / "User"
    db = user_dir / "globalStorage" / "state.vscdb"
    db.parent.mkdir(parents=True)
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE ItemTable (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)")
    conn.execute("CREATE TABLE cursorDiskKV (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)")
    index = {
        "allComposers": [
            {"composerId": "j1", "name": "From the index", "workspaceIdentifier": {"id": "wsA"}},
            {"composerId": "j2", "workspaceIdentifier": {"id": "wsB", "uri": {"fsPath": "/opt/b"}}},
        ]
    }
    conn.execute("INSERT INTO ItemTable VALUES ('composer.composerHeaders', ?)", (json.dumps(index),))
    for cid in ("j1", "j2"):
        doc = {"composerId": cid, "fullConversationHeadersOnly": [{"bubbleId": "x", "type": 2}]}
        conn.execute(
            "INSERT INTO cursorDiskKV VALUES (?, ?)", (f"composerData:{cid}", json.dumps(doc).encode())
        )
        raw = json.dumps(bubble("x", 2, "ok", (40, 4))).encode()  # stored as a BLOB
        conn.execute("INSERT INTO cursorDiskKV VALUES (?, ?)", (f"bubbleId:{cid}:x", raw))
    conn.commit()
    conn.close()
    ws = user_dir / "workspaceStorage" / "wsA"
    ws.mkdir(parents=True)
    (ws / "workspace.json").write_text(json.dumps({"workspace": "file:///home/dev/mono/all.code-workspace"}))
    _, by_id = read_all(CursorReader([user_dir]))
    assert (by_id["j1"].title, by_id["j1"].project_path) == ("From the index", "/home/dev/mono")
    assert (by_id["j2"].project_path, by_id["j2"].tokens.input, by_id["j2"].tokens.source) == (
        "/opt/b",
        40,
        "exact",
    )


def test_no_like_and_key_ranges(user_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every query is an exact key or a key range (the index answers it); no LIKE."""
    build_standard(user_dir)
    statements: list[str] = []
    real = cur._connect

    def traced(path: str, param: str) -> sqlite3.Connection:
        conn = real(path, param)
        conn.set_trace_callback(statements.append)
        return conn

    monkeypatch.setattr(cur, "_connect", traced)
    read_all(CursorReader([user_dir]))
    kv = [s for s in statements if "cursorDiskKV" in s and "sqlite_master" not in s]
    assert kv and not any("LIKE" in s.upper() for s in statements)
    assert all("key = " in s or ("key >= " in s and "key < " in s) for s in kv)
    plans = sqlite3.connect(user_dir / "globalStorage" / "state.vscdb").execute(
        "EXPLAIN QUERY PLAN SELECT key, rowid FROM cursorDiskKV WHERE key >= ? AND key < ?", ("a", "b")
    )
    assert "COVERING INDEX" in " ".join(str(r) for r in plans)


def test_incremental_reads_only_changed_chats(user_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = build_standard(user_dir)
    reader = CursorReader([user_dir])
    state, _ = read_all(reader)
    monkeypatch.setattr(cur, "ALWAYS_REREAD", 0)
    calls: list[str] = []
    real = cur.read_composer
    monkeypatch.setattr(cur, "read_composer", lambda conn, cid: (calls.append(cid), real(conn, cid))[1])

    _, again = read_all(reader, state)  # nothing changed
    assert calls == []
    assert again["c-exact"].tokens == state_session(reader, state)["c-exact"].tokens

    b = Builder.__new__(Builder)
    b.conn = sqlite3.connect(db, isolation_level=None)
    b.kv("bubbleId:c-exact:e5", bubble("e5", 1, "One more", createdAt=iso(6)))
    b.kv("bubbleId:c-exact:e6", bubble("e6", 2, "Sure.", (2500, 10), createdAt=iso(6, 30)))
    doc = json.loads(
        b.conn.execute("SELECT value FROM cursorDiskKV WHERE key = 'composerData:c-exact'").fetchone()[0]
    )
    doc["fullConversationHeadersOnly"] += [{"bubbleId": "e5", "type": 1}, {"bubbleId": "e6", "type": 2}]
    b.kv("composerData:c-exact", doc)
    b.close()
    state2, by_id = read_all(reader, state)
    assert calls == ["c-exact"]
    assert (by_id["c-exact"].tokens.input, by_id["c-exact"].tokens.output) == (3200 + 2500, 75 + 10)
    assert by_id["c-unmetered"].tokens.input == 25  # kept from the first read

    # Cursor fills tokenCount in later, by writing the bubble again (a new rowid): seen too.
    calls.clear()
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute(
        "INSERT INTO cursorDiskKV VALUES ('bubbleId:c-unmetered:u2', ?)",
        (json.dumps(bubble("u2", 2, T2, (700, 16), thinking={"text": TH2}, createdAt=iso(20, 10))),),
    )
    conn.close()
    _, by_id = read_all(reader, state2)
    assert calls == ["c-unmetered"]
    # The u2 turn is metered now (700 in, 16 out); u3's args (7 out) and u4 stay counted, and the turn's
    # prompt and tool result are covered by the metered input.
    assert (by_id["c-unmetered"].tokens.input, by_id["c-unmetered"].tokens.output) == (700, 16 + 7)


def state_session(reader: CursorReader, state: FileState) -> dict[str, Session]:
    return {s.native_id: s for s in reader.sessions([state])}


def test_recently_written_chats_are_always_read_again(user_dir: Path) -> None:
    """An in-place UPDATE keeps the rowid; the chats written last are re-read anyway."""
    db = build_standard(user_dir)
    reader = CursorReader([user_dir])
    state, _ = read_all(reader)
    conn = sqlite3.connect(db, isolation_level=None)
    new = bubble("s2", 2, "Sub done.", (150, 99), createdAt=iso(52))
    conn.execute("UPDATE cursorDiskKV SET value = ? WHERE key = 'bubbleId:c-sub:s2'", (json.dumps(new),))
    conn.close()
    _, by_id = read_all(reader, state)
    assert by_id["c-parent"].tokens.output == 40 + 99


def test_locked_rollback_journal_db_is_read_immutable_and_untouched(user_dir: Path) -> None:
    db = build_standard(user_dir)
    writer = sqlite3.connect(db, isolation_level=None, timeout=0)
    writer.execute("BEGIN EXCLUSIVE")
    writer.execute("INSERT INTO cursorDiskKV VALUES ('composerData:c-new', '{}')")
    before = (db.read_bytes(), os.stat(db).st_mtime_ns, sorted(os.listdir(db.parent)))
    try:
        with pytest.raises(sqlite3.OperationalError):  # an ordinary reader is locked out
            sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0).execute("SELECT 1 FROM cursorDiskKV")
        state, by_id = read_all(CursorReader([user_dir]))
        after = (db.read_bytes(), os.stat(db).st_mtime_ns, sorted(os.listdir(db.parent)))
    finally:
        writer.execute("ROLLBACK")
        writer.close()
    assert state.data["mode"] == "immutable"
    assert by_id["c-exact"].tokens.input == 3200 and len(by_id) == 7
    assert after == before


def test_wal_db_with_a_writer_is_read_ro_without_touching_files(tmp_path: Path) -> None:
    user_dir = tmp_path / "u" / "Cursor" / "User"
    db = user_dir / "globalStorage" / "state.vscdb"
    b = Builder(db, wal=True)
    b.composer("c1", [bubble("a", 1, "hi"), bubble("b", 2, "yo", (10, 2))], createdAt=MS)
    b.conn.execute("PRAGMA wal_autocheckpoint = 0")
    b.kv("bubbleId:c1:b", bubble("b", 2, "yo", (11, 3)))  # committed, only in the WAL
    reader = CursorReader([user_dir])
    ident1 = next(iter(reader.sources()))[2]
    b.conn.execute("BEGIN IMMEDIATE")  # the writer holds the write lock, with an uncommitted change
    b.kv("bubbleId:c1:b", bubble("b", 2, "yo", (99, 99)))
    files = [db, Path(f"{db}-wal"), Path(f"{db}-shm")]
    before = [(p.read_bytes(), os.stat(p).st_mtime_ns) for p in files[:2]]
    state, by_id = read_all(reader)
    after = [(p.read_bytes(), os.stat(p).st_mtime_ns) for p in files[:2]]
    b.conn.execute("COMMIT")
    assert state.data["mode"] == "ro"
    assert (by_id["c1"].tokens.input, by_id["c1"].tokens.output) == (11, 3)  # committed data, from the WAL
    assert after == before
    ident2 = next(iter(reader.sources()))[2]
    assert ident2 != ident1  # the commit went to the WAL only: the identity still changed
    b.close()


def test_closed_wal_db_creates_no_side_files(tmp_path: Path) -> None:
    user_dir = tmp_path / "u" / "Cursor" / "User"
    db = user_dir / "globalStorage" / "state.vscdb"
    b = Builder(db, wal=True)
    b.composer("c1", [bubble("a", 1, "hi"), bubble("b", 2, "yo", (10, 2))], createdAt=MS)
    b.close()  # the last connection checkpoints and removes -wal and -shm
    assert sorted(os.listdir(db.parent)) == ["state.vscdb"]
    before = (db.read_bytes(), os.stat(db).st_mtime_ns)
    state, by_id = read_all(CursorReader([user_dir]))
    assert state.data["mode"] == "immutable"
    assert by_id["c1"].tokens.input == 10
    assert sorted(os.listdir(db.parent)) == ["state.vscdb"]
    assert (db.read_bytes(), os.stat(db).st_mtime_ns) == before


def test_identity_combines_db_and_wal(tmp_path: Path) -> None:
    db = tmp_path / "state.vscdb"
    db.write_bytes(b"x" * 10)
    st = os.stat(db)
    assert cur.db_identity(db) == (st.st_dev, st.st_ino, 10, st.st_mtime_ns)
    wal = tmp_path / "state.vscdb-wal"
    wal.write_bytes(b"y" * 7)
    os.utime(wal, ns=(5, 5))
    assert cur.db_identity(db) == (st.st_dev, st.st_ino, 17, st.st_mtime_ns + 5)


def test_roots_follow_xdg_appdata_and_macos(tmp_path: Path) -> None:
    home = tmp_path / "h"
    env = {"HOME": str(home), "XDG_CONFIG_HOME": str(tmp_path / "xdg"), "APPDATA": str(tmp_path / "ad")}
    reader = CursorReader.from_paths(resolve(env))
    roots = [p for p, _e in reader.roots()]
    assert roots == [
        str(tmp_path / "xdg" / "Cursor" / "User" / "globalStorage" / "state.vscdb"),
        str(home / "Library" / "Application Support" / "Cursor" / "User" / "globalStorage" / "state.vscdb"),
        str(tmp_path / "ad" / "Cursor" / "User" / "globalStorage" / "state.vscdb"),
    ]
    assert list(reader.sources()) == []
    mac = home / "Library" / "Application Support" / "Cursor" / "User"
    Builder(mac / "globalStorage" / "state.vscdb").close()
    assert [p for p, _k, _i in reader.sources()] == [roots[1]]
    _, sessions = read_all(reader)
    assert sessions == {}


def test_folder_uris() -> None:
    assert cur.folder_from_uri("file:///home/u/a%20b") == "/home/u/a b"
    assert cur.folder_from_uri("file:///c%3A/Users/u/p") == "c:/Users/u/p"
    assert cur.folder_from_uri("vscode-remote://ssh-remote%2Bbox/srv/app") == "/srv/app"
    assert cur.folder_from_uri("https://example.com/x") is None


def test_reader_is_picklable(user_dir: Path) -> None:
    import pickle

    reader = CursorReader([user_dir])
    assert pickle.loads(pickle.dumps(reader)).user_dirs == (user_dir,)


def generate(db: Path, composers: int, bubbles: int, metered_every: int = 0) -> None:
    b = Builder(db)
    b.conn.execute("BEGIN")
    text = "Please look at the function that parses the configuration file and explain the failure. " * 2
    for c in range(composers):
        cid = f"gen-{c:05d}"
        rows = []
        for i in range(bubbles):
            metered = metered_every and i % metered_every == 1
            rows.append(bubble(f"b{i:03d}", 1 if i % 2 == 0 else 2, text, (5000, 300) if metered else (0, 0)))
        b.composer(cid, rows, createdAt=MS + c)
        b.header(cid, "ws1")
    b.conn.execute("COMMIT")
    b.close()


def test_many_chats_incremental_cost(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """300 chats x 20 bubbles (a smaller cousin of the 2,000 x 50 benchmark in the closing notes)."""
    user_dir = tmp_path / "Cursor" / "User"
    db = user_dir / "globalStorage" / "state.vscdb"
    generate(db, 300, 20)
    reader = CursorReader([user_dir])
    state, by_id = read_all(reader)
    assert len(by_id) == 300 and all(s.tokens.source == "counted" for s in by_id.values())
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute(
        "INSERT INTO cursorDiskKV VALUES ('bubbleId:gen-00007:b000', ?)",
        (json.dumps(bubble("b000", 1, "x")),),
    )
    conn.close()
    calls: list[str] = []
    real = cur.read_composer
    monkeypatch.setattr(cur, "read_composer", lambda conn, cid: (calls.append(cid), real(conn, cid))[1])
    _, again = read_all(reader, state)
    # The cost that matters, counted rather than timed (a shared machine makes times flaky): only the
    # changed chat and the few always re-read are decoded again.
    assert "gen-00007" in calls and len(calls) <= 1 + cur.ALWAYS_REREAD
    assert again["gen-00007"].tokens.input < by_id["gen-00007"].tokens.input


def run_cli(home: Path, lsm_home: Path, **extra: str) -> Any:

    env = {k: v for k, v in os.environ.items() if not k.startswith(("LSM_", "CLAUDE_", "XDG_", "CURSOR_"))}
    env.update(HOME=str(home), LSM_HOME=str(lsm_home), LSM_DISCOVERY="off", NO_COLOR="1", **extra)
    proc = run_cli_inprocess(["list", "--all", "--format", "json"], env=env, cwd=home)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def sessions_of(doc: Any, agent: str) -> Iterator[dict[str, Any]]:
    rows = doc["sessions"] if isinstance(doc, dict) else doc
    return (r for r in rows if r["agent"] == agent)


def test_end_to_end_list_json(tmp_path: Path) -> None:
    home = tmp_path / "home"
    xdg = tmp_path / "xdg"
    build_standard(xdg / "Cursor" / "User")
    doc = run_cli(home, tmp_path / "lsm", XDG_CONFIG_HOME=str(xdg))
    rows = {r["native_id"]: r for r in sessions_of(doc, "cursor")}
    assert len(rows) == 7
    r = rows["c-exact"]
    assert r["id"] == "cursor:c-exact"
    assert r["tokens"] == {
        "input": 3200,
        "output": 75,
        "cache_creation": 0,
        "cache_read": 0,
        "total": 3275,
        "source": "exact",
    }
    assert (r["tokens_source"], r["model"], r["project_path"]) == (
        "exact",
        "claude-4.5-sonnet",
        "/home/dev/my app",
    )
    r = rows["c-unmetered"]
    assert (r["tokens"]["total"], r["tokens_source"], r["model"]) == (48, "counted", "default")
    assert r["health"]["estimated"] is True
    # a second run comes from the parse cache
    again = {
        r["native_id"]: r
        for r in sessions_of(run_cli(home, tmp_path / "lsm", XDG_CONFIG_HOME=str(xdg)), "cursor")
    }
    assert again["c-exact"]["tokens"] == rows["c-exact"]["tokens"]
