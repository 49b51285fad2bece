"""A number out of range in an agent's log (a 2**64 token count, 1e30, -5, NaN, "12", true) costs the record
that carries it: the session is still listed, the good records' totals are exact, and every later
command still works (a 2**64 count used to break the parse cache, and so every command, for good)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeHome

from llm_session_manager.agents import all_readers
from llm_session_manager.agents.common import MAX_COUNT, amount, count, epoch_ms
from llm_session_manager.models import Session
from llm_session_manager.paths import resolve
from llm_session_manager.scan import scan_agent
from llm_session_manager.store import db

NAN = object()  # written as the bare word NaN (Python's json writes it; no JSON parser should accept it)
BAD: list[Any] = [2**64, 2**63, 1e30, -5, 12.5, "12", True, [], {}, NAN]
GOOD_IN, GOOD_OUT = 300, 12  # what the two good records of every session add up to
TS = "2026-11-01T10:00:{:02d}.000Z"
MS = 1_793_527_200_000  # 2026-11-01T10:00:00Z


def dumps(obj: Any) -> str:
    """JSON with NAN written as NaN."""
    return json.dumps(obj, default=lambda o: float("nan") if o is NAN else None)


def lines(*objs: Any) -> str:
    return "".join(dumps(o) + "\n" for o in objs)


# --------------------------------------------------------------------------------------------------
# One session per agent: two good usage records and one record per bad value


def claude(home: Path, bad: list[Any]) -> str:
    def reply(n: int, inp: Any, out: int) -> dict[str, Any]:
        usage = {"input_tokens": inp, "output_tokens": out}
        return {
            "type": "assistant",
            "timestamp": TS.format(n),
            "sessionId": "s1",
            "uuid": f"u{n}",
            "requestId": f"r{n}",
            "message": {"id": f"m{n}", "role": "assistant", "model": "claude-sonnet-4-5", "usage": usage},
        }

    folder = home / ".claude" / "projects" / "-p"
    folder.mkdir(parents=True)
    records = [reply(1, 100, 5), *(reply(10 + i, b, 9) for i, b in enumerate(bad)), reply(2, 200, 7)]
    (folder / "s1.jsonl").write_text(lines(*records))
    return "claude-code:s1"


def copilot_cli(home: Path, bad: list[Any]) -> str:
    def record(n: int, inp: Any, out: int) -> dict[str, Any]:
        usage = {"model": "gpt-5", "inputTokens": inp, "outputTokens": out, "apiCallId": f"call{n}"}
        return {
            "type": "session.usage_record",
            "data": {"usage": usage},
            "id": f"e{n}",
            "timestamp": TS.format(n),
        }

    start = {"type": "session.start", "data": {"sessionId": "p1"}, "id": "e0", "timestamp": TS.format(0)}
    records = [
        start,
        record(1, 100, 5),
        *(record(10 + i, b, 9) for i, b in enumerate(bad)),
        record(2, 200, 7),
    ]
    folder = home / ".copilot" / "session-state" / "p1"
    folder.mkdir(parents=True)
    (folder / "events.jsonl").write_text(lines(*records))
    return "copilot-cli:p1"


def codex(home: Path, bad: list[Any]) -> str:
    def usage(n: int, inp: Any, out: int) -> dict[str, Any]:
        info = {"last_token_usage": {"input_tokens": inp, "output_tokens": out}}
        return {
            "timestamp": TS.format(n),
            "type": "event_msg",
            "payload": {"type": "token_count", "info": info},
        }

    meta = {"timestamp": TS.format(0), "type": "session_meta", "payload": {"id": "c1", "cwd": "/p"}}
    records = [meta, usage(1, 100, 5), *(usage(10 + i, b, 9) for i, b in enumerate(bad)), usage(2, 200, 7)]
    day = home / ".codex" / "sessions" / "2026" / "11" / "01"
    day.mkdir(parents=True)
    (day / "rollout-2026-11-01T10-00-00-c1.jsonl").write_text(lines(*records))
    return "codex:c1"


def gemini(home: Path, bad: list[Any]) -> str:
    def reply(mid: str, n: int, inp: Any, out: int) -> dict[str, Any]:
        return {
            "id": mid,
            "timestamp": TS.format(n),
            "type": "gemini",
            "content": "ok",
            "model": "gemini-2.5-pro",
            "tokens": {"input": inp, "output": out},
        }

    header = {
        "sessionId": "g1",
        "projectHash": "h" * 64,
        "startTime": TS.format(0),
        "lastUpdated": TS.format(0),
    }
    prompt = {"id": "u", "timestamp": TS.format(0), "type": "user", "content": [{"text": "hi"}]}
    bad_replies = (reply(f"bad{i}", 10 + i, b, 9) for i, b in enumerate(bad))
    chats = home / ".gemini" / "tmp" / "proj" / "chats"
    chats.mkdir(parents=True)
    records = [header, prompt, reply("m1", 1, 100, 5), *bad_replies, reply("m2", 2, 200, 7)]
    (chats / "session-g1.jsonl").write_text(lines(*records))
    return "gemini:g1"


def cline(home: Path, bad: list[Any]) -> str:
    def request(n: int, inp: Any, out: int) -> dict[str, Any]:
        text = dumps({"tokensIn": inp, "tokensOut": out, "cacheWrites": 0, "cacheReads": 0})
        return {"ts": MS + n * 1000, "type": "say", "say": "api_req_started", "text": text}

    task = {"ts": MS, "type": "say", "say": "task", "text": "t"}
    bad_times = [{"ts": b, "type": "say", "say": "text", "text": "x"} for b in bad if b is not NAN]
    messages = [task, request(1, 100, 5), *(request(10 + i, b, 9) for i, b in enumerate(bad))]
    messages += [*bad_times, request(2, 200, 7)]
    folder = home / ".config" / "Code" / "User" / "globalStorage" / "saoudrizwan.claude-dev" / "tasks" / "t1"
    folder.mkdir(parents=True)
    (folder / "ui_messages.json").write_text(dumps(messages))
    return "cline:t1"


def copilot(home: Path, bad: list[Any]) -> str:
    def request(rid: str, inp: Any, out: int) -> dict[str, Any]:
        result = {"metadata": {"promptTokens": inp, "outputTokens": out}}
        return {"requestId": rid, "message": {"text": "q"}, "response": [], "result": result, "timestamp": MS}

    entries: list[Any] = [{"kind": 0, "v": {"sessionId": "v1", "creationDate": MS, "requests": []}}]
    reqs = [
        request("r1", 100, 5),
        *(request(f"bad{i}", b, 9) for i, b in enumerate(bad)),
        request("r2", 200, 7),
    ]
    entries += [{"kind": 2, "k": ["requests"], "v": [r]} for r in reqs]
    chats = home / ".config" / "Code" / "User" / "workspaceStorage" / "ws" / "chatSessions"
    chats.mkdir(parents=True)
    (chats / "v1.jsonl").write_text(lines(*entries))
    return "copilot:v1"


def cursor(home: Path, bad: list[Any]) -> str:
    def bubble(kind: int, tokens: tuple[Any, int] | None = None) -> dict[str, Any]:
        b: dict[str, Any] = {"type": kind, "text": "hi" if kind == 1 else "ok", "createdAt": MS}
        if tokens is not None:
            b["tokenCount"] = {"inputTokens": tokens[0], "outputTokens": tokens[1]}
        return b

    bubbles = {"u": bubble(1), "a1": bubble(2, (100, 5))}
    bubbles |= {f"bad{i}": bubble(2, (b, 9)) for i, b in enumerate(bad)}
    bubbles["a2"] = bubble(2, (200, 7))
    composer = {
        "composerId": "k1",
        "createdAt": MS,
        "fullConversationHeadersOnly": [{"bubbleId": k, "type": b["type"]} for k, b in bubbles.items()],
    }
    path = home / ".config" / "Cursor" / "User" / "globalStorage" / "state.vscdb"
    path.parent.mkdir(parents=True)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE cursorDiskKV (key TEXT UNIQUE ON CONFLICT REPLACE, value BLOB)")
    rows = [("composerData:k1", dumps(composer))] + [
        (f"bubbleId:k1:{k}", dumps(b)) for k, b in bubbles.items()
    ]
    conn.executemany("INSERT INTO cursorDiskKV VALUES (?, ?)", rows)
    conn.commit()
    conn.close()
    return "cursor:k1"


WRITERS: dict[str, Callable[[Path, list[Any]], str]] = {
    "claude-code": claude,
    "copilot-cli": copilot_cli,
    "codex": codex,
    "gemini": gemini,
    "cline": cline,
    "copilot": copilot,
    "cursor": cursor,
}


def scan(home: Path, tmp: Path, agent: str) -> dict[str, Session]:
    paths = resolve({"HOME": str(home), "LSM_HOME": str(tmp / "lsm")})
    reader = next(r for r in all_readers(paths) if r.name == agent)
    result = scan_agent(db.connect(tmp / "cache.db"), reader)
    assert result.stats.errors == []
    return {s.id: s for s in result.sessions}


@pytest.mark.parametrize("agent", sorted(WRITERS))
@pytest.mark.parametrize("bad", BAD, ids=lambda b: "NaN" if b is NAN else repr(b))
def test_one_bad_number_costs_its_record_only(tmp_path: Path, agent: str, bad: Any) -> None:
    home = tmp_path / "home"
    sid = WRITERS[agent](home, [bad])
    session = scan(home, tmp_path, agent)[sid]
    assert (session.tokens.input, session.tokens.output) == (GOOD_IN, GOOD_OUT)
    assert session.skipped_lines >= 1


@pytest.mark.parametrize("agent", sorted(WRITERS))
def test_every_command_still_works_after_bad_numbers(fake_home: FakeHome, agent: str) -> None:
    sid = WRITERS[agent](fake_home.home, BAD)
    for _ in range(2):  # the second run reads the parse cache the first one wrote
        r = fake_home.run("list", "--all", "--format", "json")
        assert r.returncode == 0, r.stderr
        row = next(row for row in json.loads(r.stdout) if row["id"] == sid)
        assert (row["tokens"]["input"], row["tokens"]["output"]) == (GOOD_IN, GOOD_OUT)
        assert all(0 <= v <= MAX_COUNT for k, v in row["tokens"].items() if k != "source")
    r = fake_home.run("export", sid, "-o", "-", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)


def test_count_amount_and_epoch_ms_bounds() -> None:
    assert count(0) == 0 and count(MAX_COUNT) == MAX_COUNT and count(12.0) == 12
    for value in (MAX_COUNT + 1, -1, 1.5, float("nan"), float("inf"), "12", True, None, [], 2**64):
        with pytest.raises(ValueError):
            count(value)
    assert amount(0.25) == 0.25
    for value in (float("nan"), float("inf"), -0.5, 1e30, "1", False):
        with pytest.raises(ValueError):
            amount(value)
    assert epoch_ms(MS) == MS
    with pytest.raises(ValueError):
        epoch_ms(10**16)  # after the year 9999


OWN = "  "  # aider ends its own lines with a markdown line break
AIDER_HISTORY = "\n".join(
    [
        "# aider chat started at 2026-11-01 10:00:00",
        "",
        "> Main model: gpt-4o with diff edit format" + OWN,
        "",
        "#### first" + OWN,
        "",
        "ok",
        "",
        "> Tokens: 100 sent, 5 received. Cost: $0.01 message, $0.01 session." + OWN,
        "",
        "#### second" + OWN,
        "",
        "> Tokens: 99,999,999,999,999,999,999 sent, 9 received. Cost: $0.01 message, $0.02 session." + OWN,
        "> Tokens: 300 sent, 9 received. Cost: $0.01 message, $1.2.3 session." + OWN,
        "> Tokens: 200 sent, 7 received. Cost: $0.02 message, $0.03 session." + OWN,
        "",
    ]
)


def test_aider_usage_line_out_of_range_costs_that_line(tmp_path: Path) -> None:
    from llm_session_manager.agents.aider import AiderReader

    project = tmp_path / "work" / "p"
    project.mkdir(parents=True)
    (project / ".aider.chat.history.md").write_text(AIDER_HISTORY)
    result = scan_agent(db.connect(tmp_path / "cache.db"), AiderReader([tmp_path / "work"], home=tmp_path))
    assert result.stats.errors == []
    (session,) = result.sessions
    assert (session.tokens.input, session.tokens.output) == (GOOD_IN, GOOD_OUT)
    assert session.skipped_lines == 2
    assert session.agent_cost_usd == 0.03


def test_aider_commands_still_work_after_bad_numbers(fake_home: FakeHome) -> None:
    project = fake_home.home / "work" / "p"
    project.mkdir(parents=True)
    (project / ".aider.chat.history.md").write_text(AIDER_HISTORY)
    env = {"LSM_AIDER_ROOTS": str(fake_home.home / "work")}
    for _ in range(2):
        r = fake_home.run("list", "--all", "--format", "json", **env)
        assert r.returncode == 0, r.stderr
        (row,) = [row for row in json.loads(r.stdout) if row["agent"] == "aider"]
        assert (row["tokens"]["input"], row["tokens"]["output"]) == (GOOD_IN, GOOD_OUT)
    r = fake_home.run("export", str(row["id"]), "-o", "-", "--format", "json", **env)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)
