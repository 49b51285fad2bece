"""One output helper for every command: --format yaml prints the JSON document, --format csv its rows,
and neither lets text a terminal acts on through."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import yaml
from conftest import FakeHome

COMMANDS = (
    ("list", "--all"),
    ("health", "88a8"),
    ("info",),
    ("recommend",),
    ("search", "tmp"),
    ("limits",),
    ("tag-stats",),
    ("doctor",),
    ("hooks", "status"),
    ("report", "daily", "--timezone", "UTC"),
)


def _run(fake_home: FakeHome, *args: str) -> str:
    out = fake_home.run(*args)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("args", COMMANDS, ids=lambda a: " ".join(a))
def test_yaml_is_the_json_document(fake_home: FakeHome, args: tuple[str, ...]) -> None:
    _run(fake_home, *args, "-f", "json")  # the cold scan: both documents below come from a warm one
    as_json = json.loads(_run(fake_home, *args, "-f", "json"))
    as_yaml = yaml.safe_load(_run(fake_home, *args, "-f", "yaml"))
    for doc in (as_json, as_yaml):  # the only figures that move between two runs
        if isinstance(doc, dict):
            doc.pop("pid", None)
    assert as_yaml == as_json


def test_csv_has_one_row_per_session_with_flattened_keys(fake_home: FakeHome) -> None:
    sessions = json.loads(_run(fake_home, "list", "--all", "-f", "json"))
    rows = list(csv.DictReader(io.StringIO(_run(fake_home, "list", "--all", "-f", "csv"))))
    assert [r["id"] for r in rows] == [s["id"] for s in sessions]
    assert [int(r["tokens.total"]) for r in rows] == [s["tokens"]["total"] for s in sessions]
    one = rows[0]
    assert json.loads(one["tags"]) == sessions[0]["tags"]  # lists as JSON text


def test_a_single_document_is_one_csv_row(fake_home: FakeHome) -> None:
    health = json.loads(_run(fake_home, "health", "88a8", "-f", "json"))
    rows = list(csv.DictReader(io.StringIO(_run(fake_home, "health", "88a8", "-f", "csv"))))
    assert len(rows) == 1 and rows[0]["id"] == health["id"]
    assert float(rows[0]["score"]) == health["score"]


def test_yaml_and_csv_never_carry_terminal_controls(fake_home: FakeHome, tmp_path: Path) -> None:
    hostile = "fix \x1b]52;c;ZXZpbA==\x07 the \u202eevil\u202c \x9b31m bug"
    assert fake_home.run("describe", "88a8", hostile).returncode == 0
    for fmt in ("yaml", "csv"):
        text = _run(fake_home, "list", "--all", "-f", fmt)
        assert not any(c in text for c in ("\x1b", "\x07", "\u202e", "\u202c", "\x9b")), fmt
    doc = yaml.safe_load(_run(fake_home, "list", "--all", "-f", "yaml"))
    assert any(s["description"] == hostile for s in doc)  # escaped, not changed


def test_commands_that_print_no_document_refuse_yaml(fake_home: FakeHome) -> None:
    out = fake_home.run("forget", "nothing", "-f", "yaml")
    assert out.returncode == 2 and "table, json" in out.stderr
