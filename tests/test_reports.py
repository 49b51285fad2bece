"""`lsm report` and archived sessions: per-day sums against an independent reading of a generated
multi-day corpus (itself checked against the generator's truth), time zones, blocks, and sessions whose
transcripts were deleted."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from claude_corpus import SessionTruth, generate
from conftest import FakeHome

KEYS = ("input", "output", "cache_creation", "cache_read")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, SessionTruth]]:
    root = tmp_path_factory.mktemp("report-corpus")
    truths = generate(root, sessions=70, seed=11, tricky=False)  # starts 1-90 min apart: ~2 days
    return root, truths


def _reference_days(root: Path) -> tuple[dict[str, list[int]], dict[str, list[int]]]:
    """Per UTC day and per session: the usage of every distinct reply (message id + request id; the main
    chain's line, else the largest), read straight from the files."""
    best: dict[str, tuple[bool, int, str, str, list[int]]] = {}
    for path in sorted((root / "projects").rglob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            obj = json.loads(line)
            msg = obj.get("message")
            if not isinstance(msg, dict) or not isinstance(msg.get("usage"), dict) or not msg.get("id"):
                continue
            if msg.get("model") == "<synthetic>":
                continue
            u = msg["usage"]
            counts = [int(u.get(k) or 0) for k in ("input_tokens", "output_tokens")]
            counts += [int(u.get(k) or 0) for k in ("cache_creation_input_tokens", "cache_read_input_tokens")]
            key = f"{msg['id']}|{obj.get('requestId')}"
            rank = (not obj.get("isSidechain"), sum(counts))
            old = best.get(key)
            if old is None or rank > (old[0], old[1]):
                best[key] = (rank[0], rank[1], obj["timestamp"][:10], obj["sessionId"], counts)
    days: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    sessions: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for _main, _total, day, sid, counts in best.values():
        for i, value in enumerate(counts):
            days[day][i] += value
            sessions[sid][i] += value
    return dict(days), dict(sessions)


def _report(fh: FakeHome, root: Path | None, *args: str) -> dict[str, Any]:
    extra = {"CLAUDE_CONFIG_DIR": str(root)} if root else {}
    proc = fh.run("report", *args, "-f", "json", **extra)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)  # type: ignore[no-any-return]


def test_daily_sums_equal_the_replies_of_each_day(
    fake_home: FakeHome, corpus: tuple[Path, dict[str, SessionTruth]]
) -> None:
    root, truths = corpus
    days, per_session = _reference_days(root)
    # The independent reading agrees with the generator's truth, session by session ...
    for sid, t in truths.items():
        assert per_session.get(sid, [0, 0, 0, 0]) == [t.input, t.output, t.cache_creation, t.cache_read], sid
    assert len(days) >= 2
    doc = _report(fake_home, root, "daily", "--timezone", "UTC", "--agent", "claude")
    assert doc["report"] == "daily" and doc["timezone"] == "UTC"
    # ... and lsm's days equal its days.
    got = {r["period"]: [r["tokens"][k] for k in KEYS] for r in doc["rows"]}
    assert got == days
    total = [sum(d[i] for d in days.values()) for i in range(4)]
    assert [doc["totals"]["tokens"][k] for k in KEYS] == total
    assert doc["totals"]["tokens"]["total"] == sum(total)
    assert doc["totals"]["sessions"] == len(truths)


def test_by_model_and_last(fake_home: FakeHome, corpus: tuple[Path, dict[str, SessionTruth]]) -> None:
    root, _ = corpus
    daily = _report(fake_home, root, "daily", "--timezone", "UTC")
    split = _report(fake_home, root, "daily", "--timezone", "UTC", "--by", "model")
    assert {r["model"] for r in split["rows"]} >= {"claude-sonnet-4-5-20250929"} or split["rows"]
    for day in daily["rows"]:
        parts = [r for r in split["rows"] if r["period"] == day["period"]]
        assert sum(r["tokens"]["total"] for r in parts) == day["tokens"]["total"]
    last = _report(fake_home, root, "daily", "--timezone", "UTC", "--last", "1")
    assert [r["period"] for r in last["rows"]] == [daily["rows"][-1]["period"]]


def _reply(ts: str, msg: str, sid: str = "s1", tokens: int = 100) -> str:
    return json.dumps(
        {
            "type": "assistant",
            "timestamp": ts,
            "sessionId": sid,
            "uuid": f"u-{msg}",
            "requestId": f"r-{msg}",
            "cwd": "/tmp/demo",
            "message": {
                "id": msg,
                "role": "assistant",
                "model": "claude-sonnet-4-5-20250929",
                "content": [{"type": "text", "text": "ok"}],
                "usage": {"input_tokens": tokens, "output_tokens": 1},
            },
        }
    )


def _write(fh: FakeHome, name: str, lines: list[str]) -> Path:
    folder = fh.claude / "projects" / "-tmp-demo"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_time_zone_moves_a_late_reply_to_the_next_day(tmp_path: Path) -> None:
    fh = FakeHome(home=tmp_path / "h", claude=tmp_path / "h" / ".claude", lsm_home=tmp_path / "lsm")
    fh.home.mkdir()
    _write(fh, "s1", [_reply("2025-10-01T23:40:00.000Z", "m1")])
    utc = _report(fh, None, "daily", "--timezone", "UTC")
    india = _report(fh, None, "daily", "--timezone", "Asia/Kolkata")  # +05:30
    assert [r["period"] for r in utc["rows"]] == ["2025-10-01"]
    assert [r["period"] for r in india["rows"]] == ["2025-10-02"]
    assert india["timezone"] == "Asia/Kolkata"
    week = _report(fh, None, "weekly", "--timezone", "UTC", "--start-of-week", "sunday")
    assert [r["period"] for r in week["rows"]] == ["2025-09-28"]  # 1 Oct 2025 was a Wednesday
    month = _report(fh, None, "monthly", "--timezone", "UTC")
    assert [r["period"] for r in month["rows"]] == ["2025-10"]


def test_blocks_start_at_the_hour_and_break_after_five_hours(tmp_path: Path) -> None:
    fh = FakeHome(home=tmp_path / "h", claude=tmp_path / "h" / ".claude", lsm_home=tmp_path / "lsm")
    fh.home.mkdir()
    stamps = ["2025-10-01T10:15:00.000Z", "2025-10-01T12:00:00.000Z", "2025-10-01T15:20:00.000Z"]
    stamps += ["2025-10-01T15:50:00.000Z", "2025-10-02T01:05:00.000Z"]  # the last after a gap > 5 h
    _write(fh, "s1", [_reply(ts, f"m{i}") for i, ts in enumerate(stamps)])
    doc = _report(fh, None, "blocks")
    assert [r["period"] for r in doc["rows"]] == [
        "2025-10-01T10:00:00Z",
        "2025-10-01T15:00:00Z",
        "2025-10-02T01:00:00Z",
    ]
    assert [r["tokens"]["input"] for r in doc["rows"]] == [200, 200, 100]
    assert doc["rows"][0]["end"] == "2025-10-01T15:00:00Z"
    assert not any(r["active"] for r in doc["rows"]) and all(r["burn"] is None for r in doc["rows"])


def test_deleted_transcript_stays_archived_until_pruned(tmp_path: Path) -> None:
    fh = FakeHome(home=tmp_path / "h", claude=tmp_path / "h" / ".claude", lsm_home=tmp_path / "lsm")
    fh.home.mkdir()
    gone = _write(fh, "old", [_reply("2025-10-01T10:00:00.000Z", "a1", "old", 500)])
    _write(fh, "new", [_reply("2025-10-03T10:00:00.000Z", "b1", "new", 70)])
    before = _report(fh, None, "daily", "--timezone", "UTC")
    assert fh.run("list", "--all", "-f", "json").returncode == 0
    gone.unlink()
    listed = {s["native_id"]: s for s in json.loads(fh.run("list", "--all", "-f", "json").stdout)}
    assert listed["old"]["status"] == "archived" and listed["old"]["tokens"]["input"] == 500
    assert listed["new"]["status"] == "ended"
    assert _report(fh, None, "daily", "--timezone", "UTC") == before  # still in the reports
    dry = json.loads(fh.run("prune", "--before", "2025-10-02", "--dry-run", "-f", "json").stdout)
    assert dry["forgotten"] == ["claude-code:old"] and dry["dry_run"] is True
    assert "old" in {s["native_id"] for s in json.loads(fh.run("list", "--all", "-f", "json").stdout)}
    pruned = json.loads(fh.run("prune", "--before", "2025-10-02", "-f", "json").stdout)
    assert pruned["forgotten"] == ["claude-code:old"]
    assert "old" not in {s["native_id"] for s in json.loads(fh.run("list", "--all", "-f", "json").stdout)}
    after = _report(fh, None, "daily", "--timezone", "UTC")
    assert [r["period"] for r in after["rows"]] == ["2025-10-03"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("daily", "--timezone", "Mars/Olympus"), "--timezone: unknown time zone"),
        (("daily", "--by", "colour"), "--by: unknown dimension"),
        (("weekly", "--start-of-week", "x"), "--start-of-week: unknown day"),
        (("daily", "--until", "soon"), "--until: cannot read 'soon'"),
        (("blocks", "--agent", "codex"), "only claude-code has them"),
        (("daily", "-f", "xml"), "--format: unknown format"),
    ],
)
def test_bad_options_are_one_line_and_exit_2(
    fake_home: FakeHome, args: tuple[str, ...], message: str
) -> None:
    proc = fake_home.run("report", *args)
    assert proc.returncode == 2
    assert message in proc.stderr and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_csv_has_a_header_and_one_line_per_row(fake_home: FakeHome) -> None:
    proc = fake_home.run("report", "daily", "--timezone", "UTC", "--by", "model", "-f", "csv")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split(",") == [
        "period", "model", *KEYS, "total", "cost_usd", "sessions",
    ]  # fmt: skip
    doc = _report(fake_home, None, "daily", "--timezone", "UTC", "--by", "model")
    assert len(lines) == 1 + len(doc["rows"])


def _history_totals(s: Any) -> list[int]:
    return [sum(b[i] for b in s.usage_history) for i in (2, 3, 4, 5)]


def _model_totals(s: Any) -> list[int]:
    return [sum(getattr(m, k) for m in s.model_usage) for k in KEYS]


def test_codex_and_gemini_sessions_carry_their_whole_usage_history(tmp_path: Path) -> None:
    import test_agent_codex
    import test_agent_gemini

    test_agent_codex.install(tmp_path / "codex")
    test_agent_gemini.install(tmp_path / "gemini")
    sessions = [*test_agent_codex.read_all(tmp_path / "codex").values()]
    sessions += test_agent_gemini.read_all(tmp_path / "gemini").values()
    timed = [s for s in sessions if s.tokens.total]
    assert timed
    for s in timed:
        assert s.usage_history, s.id
        # Every token of the session is in its history, at the minutes its replies happened.
        assert _history_totals(s) == _model_totals(s), s.id
        assert max(b[0] for b in s.usage_history) <= s.last_activity.timestamp() // 60  # type: ignore[union-attr]


@pytest.mark.parametrize("with_memo", [False, True])
def test_a_deleted_session_is_archived_with_its_history(tmp_path: Path, with_memo: bool) -> None:
    """Both scan paths archive it: one-shot commands (from the merged cache) and the dashboard (its memo)."""
    from llm_session_manager.agents.claude_code import ClaudeCodeReader
    from llm_session_manager.scan import ScanMemo, scan_agent
    from llm_session_manager.store import archive, db

    fh = FakeHome(home=tmp_path / "h", claude=tmp_path / "h" / ".claude", lsm_home=tmp_path / "lsm")
    stamps = ["2025-10-01T10:15:00.000Z", "2025-10-01T12:00:00.000Z"]
    gone = _write(fh, "old", [_reply(ts, f"m{i}", "old", 40) for i, ts in enumerate(stamps)])
    _write(fh, "kept", [_reply("2025-10-02T10:00:00.000Z", "k1", "kept")])
    conn = db.connect(tmp_path / "c.db")
    reader = ClaudeCodeReader([fh.projects])
    memo = ScanMemo() if with_memo else None
    scan_agent(conn, reader, memo)
    assert archive.load_all(conn) == []
    gone.unlink()
    live = scan_agent(conn, reader, memo).sessions
    assert [s.native_id for s in live] == ["kept"]
    (saved,) = archive.load_all(conn)
    assert (saved.id, saved.origin, saved.tokens.input) == ("claude-code:old", "archived", 80)
    assert [(b[0] % 1440, b[2]) for b in saved.usage_history] == [(10 * 60 + 15, 40), (12 * 60, 40)]


@pytest.mark.anyio
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_mcp_get_usage_report_is_lsm_report(
    fake_home: FakeHome, monkeypatch: pytest.MonkeyPatch, anyio_backend: str
) -> None:
    from test_mcp_server import call, call_error, connect

    monkeypatch.setenv("LSM_DISCOVERY", "off")
    cli = _report(fake_home, None, "weekly", "--timezone", "UTC", "--by", "model", "--start-of-week", "sun")
    async with connect() as c:
        tool = await call(
            c, "get_usage_report", report="weekly", timezone="UTC", by=["model"], start_of_week="sun"
        )
        error = await call_error(c, "get_usage_report", timezone="Nowhere/X")
        assert "--timezone: unknown time zone" in error
    assert tool == cli and cli["rows"]


def test_doctor_repair_keeps_archived_sessions(tmp_path: Path) -> None:
    """An archived session exists nowhere else: a rebuilt database keeps it."""
    import sqlite3

    fh = FakeHome(home=tmp_path / "h", claude=tmp_path / "h" / ".claude", lsm_home=tmp_path / "lsm")
    fh.home.mkdir()
    gone = _write(fh, "old", [_reply("2025-10-01T10:00:00.000Z", "a1", "old", 500)])
    assert fh.run("list", "--all").returncode == 0
    gone.unlink()
    before = _report(fh, None, "daily", "--timezone", "UTC")
    assert before["totals"]["tokens"]["input"] == 500
    with sqlite3.connect(fh.lsm_home / "lsm.db") as conn:
        conn.execute("DROP TABLE token_cache")  # damage: a missing table makes --repair rebuild
    r = fh.run("doctor", "--repair")
    assert r.returncode == 0 and "repaired" in r.stdout + r.stderr, r.stdout + r.stderr
    assert _report(fh, None, "daily", "--timezone", "UTC") == before


def test_hostile_model_and_branch_names_stay_inert(tmp_path: Path) -> None:
    fh = FakeHome(home=tmp_path / "h", claude=tmp_path / "h" / ".claude", lsm_home=tmp_path / "lsm")
    fh.home.mkdir()
    line = json.loads(_reply("2025-10-01T10:00:00.000Z", "a1"))
    line["message"]["model"] = "[bold red]evil\x1b]52;c;aGk=\x07"
    line["gitBranch"] = "[link=http://x]br\x1b[2J"
    _write(fh, "s1", [json.dumps(line)])
    for fmt in ("table", "csv", "json"):
        proc = fh.run("report", "daily", "--by", "model", "--by", "branch", "-f", fmt)
        assert proc.returncode == 0, proc.stderr
        assert "\x1b" not in proc.stdout and "\x07" not in proc.stdout, fmt
        assert "[bold red]evil" in proc.stdout or fmt == "json", fmt


def test_since_until_take_whole_days_and_chart_draws_bars(
    fake_home: FakeHome, corpus: tuple[Path, dict[str, SessionTruth]]
) -> None:
    root, _ = corpus
    daily = _report(fake_home, root, "daily", "--timezone", "UTC")
    day = daily["rows"][1]
    one = _report(
        fake_home, root, "daily", "--timezone", "UTC", "--since", day["period"], "--until", day["period"]
    )
    assert one["rows"] == [day]
    assert one["totals"]["tokens"] == day["tokens"]
    proc = fake_home.run("report", "daily", "--chart", CLAUDE_CONFIG_DIR=str(root))
    assert proc.returncode == 0 and "█" in proc.stdout, proc.stderr
