"""The lsm database under concurrent first runs, damage and read-only files: never a raw SQLite
traceback, never a lost write of our own metadata."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from conftest import FakeHome, install_fixtures

from llm_session_manager.store import db

WORKERS = 12


def _open_at_once(args: tuple[str, object]) -> str:
    path, barrier = args
    barrier.wait()  # type: ignore[attr-defined]
    try:
        conn = db.connect(Path(path))
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        conn.close()
        return f"ok {version}"
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"


def test_concurrent_first_runs_all_succeed(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    for round_ in range(4):
        path = str(tmp_path / f"round{round_}" / "lsm.db")
        with ctx.Manager() as manager:
            barrier = manager.Barrier(WORKERS)
            with ctx.Pool(WORKERS) as pool:
                results = pool.map(_open_at_once, [(path, barrier)] * WORKERS)
        assert results == [f"ok {db.SCHEMA_VERSION}"] * WORKERS, results


def test_an_old_database_is_upgraded_once_by_concurrent_openers(tmp_path: Path) -> None:
    path = tmp_path / "lsm.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for statement in db.MIGRATIONS[0].split(";"):
        if statement.strip():
            conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.close()
    ctx = multiprocessing.get_context("fork")
    with ctx.Manager() as manager:
        barrier = manager.Barrier(WORKERS)
        with ctx.Pool(WORKERS) as pool:
            results = pool.map(_open_at_once, [(str(path), barrier)] * WORKERS)
    assert results == [f"ok {db.SCHEMA_VERSION}"] * WORKERS, results


# --------------------------------------------------------------------------------------------------
# damage, missing tables, read-only files: one line, and `lsm doctor --repair` keeps the user's records


def _tagged_home(fake_home: FakeHome) -> Path:
    r = fake_home.run("tag", "repr", "keepme")
    assert r.returncode == 0, r.stderr
    r = fake_home.run("describe", "repr", "kept description")
    assert r.returncode == 0, r.stderr
    assert fake_home.run("list", "--all").returncode == 0  # fills the parse cache
    path = fake_home.lsm_home / "lsm.db"
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return path


def _smash_page(path: Path, table: str) -> None:
    conn = sqlite3.connect(path)
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    conn.close()
    with path.open("r+b") as fh:
        fh.seek((root - 1) * page_size)
        fh.write(b"\xa5" * page_size)


# A listing the fast path does not answer (it has a sort): it scans, reading the cache tables. (A plain
# `lsm list --all` may be answered from the stored listing, which lives in another table.)
SCANNING_LIST = ("list", "--all", "--sort", "last_activity")


def _one_clean_line(r: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in r.stderr, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    return lines[0]


def test_corrupt_cache_page_gives_one_line_and_doctor_repairs_keeping_tags(fake_home: FakeHome) -> None:
    path = _tagged_home(fake_home)
    _smash_page(path, "merged_cache")
    r = fake_home.run(*SCANNING_LIST)
    assert r.returncode == 1
    line = _one_clean_line(r)
    assert str(path) in line and "lsm doctor --repair" in line

    r = fake_home.run("doctor", "--format", "json")
    assert r.returncode == 1
    report = json.loads(r.stdout)
    assert report["ok"] is False and report["problems"] and report["repaired"] is False

    r = fake_home.run("doctor", "--repair", "--format", "json")
    assert r.returncode == 0, r.stderr
    report = json.loads(r.stdout)
    assert report["repaired"] is True
    assert Path(report["backup"]).exists()  # the damaged file is kept, never deleted
    assert report["kept_rows"]["session_tags"] == 1

    r = fake_home.run("list", "--all", "--format", "json")
    assert r.returncode == 0, r.stderr
    row = next(o for o in json.loads(r.stdout) if o["native_id"] == "representative")
    assert row["tags"] == ["keepme"] and row["description"] == "kept description"
    assert fake_home.run("doctor").returncode == 0


def test_missing_table_gives_one_line_and_is_repaired(fake_home: FakeHome) -> None:
    path = _tagged_home(fake_home)
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE merged_cache")
    conn.commit()
    conn.close()
    r = fake_home.run(*SCANNING_LIST)
    assert r.returncode == 1
    assert "no such table" in _one_clean_line(r)
    r = fake_home.run("doctor")
    assert r.returncode == 1 and "missing table: merged_cache" in r.stdout
    assert fake_home.run("doctor", "--repair").returncode == 0
    r = fake_home.run("list", "--all", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert any(o["tags"] == ["keepme"] for o in json.loads(r.stdout))


def test_doctor_on_a_fresh_machine_has_nothing_to_check(fake_home: FakeHome) -> None:
    r = fake_home.run("doctor", "--format", "json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["exists"] is False


def test_read_only_database_is_named_as_such(tmp_path: Path) -> None:
    path = tmp_path / "lsm.db"
    db.connect(path).close()
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        conn.execute("INSERT INTO session_meta VALUES ('x', NULL, NULL, NULL, 'now')")
    except sqlite3.OperationalError as exc:
        line = db.explain(exc, path)
    conn.close()
    assert "read-only" in line and str(path) in line


# Another user, who may still read (and search) every file, so that lsm runs from a checkout in any folder
# (a clone in a 0700 temporary folder included), but writes only where that user may.
NOBODY = [
    "setpriv",
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
    "--inh-caps=+dac_read_search",
    "--ambient-caps=+dac_read_search",
    "--",
]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the command as another user")
def test_tag_on_a_store_the_user_cannot_write(tmp_path: Path) -> None:
    """Another user's store (readable, not writable): one line naming it, exit 1, nothing changed."""
    base = Path(tempfile.mkdtemp(prefix="lsm-ro-"))
    try:
        base.chmod(0o755)
        fake = FakeHome(home=base / "home", claude=base / "home" / ".claude", lsm_home=base / "lsm-data")
        fake.home.mkdir()
        install_fixtures(fake.projects)
        _tagged_home(fake)
        for p in [*base.rglob("*")]:
            p.chmod(0o755 if p.is_dir() else 0o644)
        before = (fake.lsm_home / "lsm.db").read_bytes()
        nobody = NOBODY
        r = subprocess.run(
            [*nobody, sys.executable, "-m", "llm_session_manager", "tag", "repr", "other"],
            env=fake.env(),
            capture_output=True,
            text=True,
            timeout=120,
            cwd="/",
        )
        assert r.returncode == 1, r.stderr
        line = _one_clean_line(r)
        assert str(fake.lsm_home / "lsm.db") in line and "read-only" in line, line
        assert (fake.lsm_home / "lsm.db").read_bytes() == before
    finally:
        shutil.rmtree(base)


def test_doctor_on_a_fifo_in_place_of_the_database_answers_and_repairs(fake_home: FakeHome) -> None:
    """A FIFO named lsm.db blocked `lsm doctor` forever (its integrity check opened it)."""
    fake_home.lsm_home.mkdir(parents=True)
    os.mkfifo(fake_home.lsm_home / "lsm.db")
    r = fake_home.run("doctor", "--format", "json")
    assert r.returncode == 1, r.stderr
    assert json.loads(r.stdout)["problems"] == ["not a regular file"]
    r = fake_home.run("doctor", "--repair")
    assert r.returncode == 0, r.stderr
    assert (fake_home.lsm_home / "lsm.db").is_file()
    assert fake_home.run("list", "--all").returncode == 0


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the command as another user")
def test_doctor_repair_on_a_store_the_user_cannot_write_is_one_line(tmp_path: Path) -> None:
    """--repair in a folder the user cannot write: one line and exit 1, not a PermissionError traceback."""
    base = Path(tempfile.mkdtemp(prefix="lsm-ro-"))
    try:
        base.chmod(0o755)
        data = base / "lsm-data"
        data.mkdir()
        (data / "lsm.db").write_bytes(b"garbage, not a database" * 100)
        data.chmod(0o555)
        nobody = NOBODY
        env = {**os.environ, "HOME": str(base), "LSM_HOME": str(data), "LSM_DISCOVERY": "off"}
        r = subprocess.run(
            [*nobody, sys.executable, "-m", "llm_session_manager", "doctor", "--repair"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd="/",
        )
        assert r.returncode == 1, r.stderr
        assert "cannot move" in _one_clean_line(r)
        assert sorted(p.name for p in data.iterdir()) == ["lsm.db"]
    finally:
        (base / "lsm-data").chmod(0o755)
        shutil.rmtree(base)
