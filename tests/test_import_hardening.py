"""Hostile import documents: refused in one line naming the field, nothing stored, nothing broken
afterwards; ids never reach a path; `lsm forget` removes what was imported."""

from __future__ import annotations

import copy
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml
from conftest import FakeHome

from llm_session_manager import import_schema


@pytest.fixture
def doc(fake_home: FakeHome, tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / "doc.json"
    r = fake_home.run("export", "repr", "-o", str(out), "--format", "json")
    assert r.returncode == 0, r.stderr
    return json.loads(out.read_text())  # type: ignore[no-any-return]


@pytest.fixture
def other(tmp_path: Path) -> FakeHome:
    home = tmp_path / "other"
    home.mkdir()
    return FakeHome(home=home, claude=home / ".claude", lsm_home=tmp_path / "other-data")


def stored(home: FakeHome) -> int:
    db = home.lsm_home / "lsm.db"
    if not db.exists():
        return 0
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT count(*) FROM imported_sessions").fetchone()[0])
    finally:
        conn.close()


def set_field(doc: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    cur = out
    parts = dotted.split(".")
    for part in parts[:-1]:
        cur = cur[part]
    cur[parts[-1]] = value
    return out


def refused(home: FakeHome, path: Path, text: str | bytes) -> str:
    if isinstance(text, str):
        path.write_text(text)
    else:
        path.write_bytes(text)
    r = home.run("import-context", str(path))
    assert r.returncode in (1, 2), (r.returncode, r.stderr)
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert stored(home) == 0
    assert home.run("list", "--all").returncode == 0  # nothing half-stored that breaks listing
    return lines[0]


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("session.messages.user", "many", "session.messages.user"),
        ("session.tool_calls", "x", "session.tool_calls"),
        ("session.context_window", "big", "session.context_window"),
        ("session.compactions", [1], "session.compactions"),
        ("session.tokens.input", 2**63 + 5, "session.tokens.input"),
        ("session.tokens.output", -1, "session.tokens.output"),
        ("session.cost_usd", 1e309, "session.cost_usd"),
        ("session.models", "claude", "session.models"),
        ("conversation.turns", [{"role": "user", "tool_calls": "x"}], "conversation.turns[0].tool_calls"),
        ("tags", ["ok", 5], "tags[1]"),
        ("session.id", "/abs/dir/X:y", "session.id"),
        ("session.native_id", "../../etc", "session.native_id"),
        ("session.agent", "../x", "session.agent"),
        ("session.native_id", "a" * 10_000, "session.native_id"),
    ],
)
def test_wrong_nested_fields_are_refused(
    other: FakeHome, tmp_path: Path, doc: dict[str, Any], field: str, value: Any, needle: str
) -> None:
    bad = set_field(doc, field, value)
    if field == "session.cost_usd":  # JSON cannot hold infinity; YAML can (.inf)
        line = refused(other, tmp_path / "bad.yaml", yaml.safe_dump(bad))
    else:
        line = refused(other, tmp_path / "bad.json", orjson.dumps(bad).decode())
    assert needle in line, line


def test_yaml_billion_laughs_is_refused_fast(other: FakeHome, tmp_path: Path) -> None:
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    started = time.monotonic()
    line = refused(other, tmp_path / "laughs.yaml", "\n".join(lines) + "\n")
    assert time.monotonic() - started < 30
    assert "aliases expanded" in line


def test_an_oversized_document_is_refused_before_it_is_read(other: FakeHome, tmp_path: Path) -> None:
    path = tmp_path / "huge.json"
    with path.open("wb") as fh:
        fh.truncate(import_schema.MAX_DOCUMENT_BYTES + 1)  # sparse: costs no disk
    r = other.run("import-context", str(path))
    assert r.returncode == 2 and "larger than" in r.stderr and stored(other) == 0


def test_a_bad_document_already_in_the_store_does_not_break_listing_and_can_be_forgotten(
    fake_home: FakeHome, other: FakeHome, tmp_path: Path, doc: dict[str, Any]
) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps(doc))
    assert other.run("import-context", str(good)).returncode == 0
    # An older lsm accepted a wrong nested type: write it straight into the store.
    conn = sqlite3.connect(other.lsm_home / "lsm.db")
    bad = set_field(doc, "session.messages.user", "many")
    conn.execute("UPDATE imported_sessions SET doc = ?", (orjson.dumps(bad),))
    conn.commit()
    conn.close()
    r = other.run("list", "--all", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == []
    r = other.run("forget", doc["session"]["id"], "--format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout) == {"id": doc["session"]["id"], "result": "forgotten"}
    assert stored(other) == 0
    # Sessions read from an agent's own files are never forgotten.
    r = fake_home.run("forget", "repr")
    assert r.returncode == 3 and "only imported sessions" in r.stderr


def test_batch_export_file_names_stay_inside_the_folder(
    other: FakeHome, tmp_path: Path, doc: dict[str, Any]
) -> None:
    long_id = set_field(doc, "session.native_id", "x" * 250)
    long_id["session"]["id"] = "claude-code:" + "x" * 250
    path = tmp_path / "long.json"
    path.write_text(json.dumps(long_id))
    assert other.run("import-context", str(path)).returncode == 0
    out = tmp_path / "out"
    r = other.run("batch-export", "all", "--output-dir", str(out))
    assert r.returncode == 0, r.stderr
    written = list(out.iterdir())
    assert len(written) == 1 and len(written[0].name) <= 170
    assert all(p.parent == out for p in tmp_path.rglob("*.json") if p.parent.name == "out")


def test_an_id_that_holds_a_credential_is_refused(
    other: FakeHome, tmp_path: Path, doc: dict[str, Any]
) -> None:
    """Ids are shown exactly everywhere (list, MCP, file names), never redacted: no credential in one."""
    token = "hf_" + "Yd5PFELDP5b8l5yY2vqAzzGAtIiFMB1YrZ"
    bad = set_field(doc, "session.native_id", token)
    bad["session"]["id"] = f"claude-code:{token}"
    line = refused(other, tmp_path / "bad.json", json.dumps(bad))
    assert "session.native_id" in line and token not in line
