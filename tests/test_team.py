"""Team mode against a real PostgreSQL: a throwaway cluster started here (initdb + pg_ctl, as an
unprivileged user, on a free loopback port, in a temp dir). Two fake machines push concurrently, again
after new replies, after a push killed between batches, and the same logs from a second computer of the
same person: the team's totals always equal the machines' own, with nothing counted twice."""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeHome, install_fixtures
from test_agent_codex import install as install_codex
from test_agent_gemini import install as install_gemini
from test_json_contract import DOCS, UPDATE, compare, load_golden, merge, save_golden, shape_of


def _pg_bin() -> Path:
    """The newest installed PostgreSQL's binaries (Debian keeps each major version apart), or
    LSM_TEST_PG_BIN."""
    if os.environ.get("LSM_TEST_PG_BIN"):
        return Path(os.environ["LSM_TEST_PG_BIN"])
    found = sorted(
        (p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    return found[-1] if found else Path("/usr/lib/postgresql/15/bin")


PG_BIN = _pg_bin()
PG_USER = "lsm-pg-test"  # the unprivileged account the cluster runs as when the tests run as root
DB_ROLE = "lsm"
DB_PASSWORD = "pg-Test-s3cret-pw"


# ---------------------------------------------------------------------------------------------------
# A throwaway PostgreSQL cluster


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _as_cluster_user(cmd: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return cmd
    return ["runuser", "-u", PG_USER, "--", *cmd]


def _ensure_user() -> None:
    if os.geteuid() != 0:
        return
    try:
        pwd.getpwnam(PG_USER)
    except KeyError:
        # A test worker alongside may make it first (useradd then fails): the look-up below decides.
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_USER],
            capture_output=True,
        )
        pwd.getpwnam(PG_USER)


@dataclass(frozen=True)
class Cluster:
    port: int
    root: Path

    def url(self, database: str = "lsm_team", password: str = DB_PASSWORD) -> str:
        return f"postgresql://{DB_ROLE}:{password}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"'.encode())
        return self.url(name)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Cluster]:
    """A real PostgreSQL on 127.0.0.1, password authentication on TCP; fails (never skips) when the
    server binaries are missing: .ci/run installs them."""
    initdb, pg_ctl = PG_BIN / "initdb", PG_BIN / "pg_ctl"
    assert initdb.exists() and pg_ctl.exists(), f"PostgreSQL is not installed ({PG_BIN}); see .ci/run"
    _ensure_user()
    root = Path(tempfile.mkdtemp(prefix="lsm-pg-"))
    data, sockets, pwfile = root / "data", root / "sock", root / "pw"
    sockets.mkdir()
    pwfile.write_text(DB_PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(root, PG_USER)
        shutil.chown(sockets, PG_USER)
        shutil.chown(pwfile, PG_USER)
    init = [str(initdb), "-D", str(data), "-U", DB_ROLE, f"--pwfile={pwfile}", "-A", "scram-sha-256"]
    subprocess.run(_as_cluster_user([*init, "--no-sync", "-E", "UTF8"]), check=True, capture_output=True)
    port = free_port()
    options = f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off"
    start = [str(pg_ctl), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "-t", "60", "start"]
    run = subprocess.run(_as_cluster_user(start), capture_output=True, text=True)
    assert run.returncode == 0, (run.stdout, run.stderr, _log(root))
    try:
        yield Cluster(port, root)
    finally:
        stop = [str(pg_ctl), "-D", str(data), "-m", "immediate", "-w", "stop"]
        subprocess.run(_as_cluster_user(stop), capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _log(root: Path) -> str:
    log = root / "log"
    return log.read_text(errors="replace")[-2000:] if log.exists() else ""


_COUNTER = iter(range(1, 10_000))


@pytest.fixture
def team_db(postgres: Cluster) -> str:
    """A fresh database of the cluster for one test."""
    return postgres.create_database(f"team_{os.getpid()}_{next(_COUNTER)}")


# ---------------------------------------------------------------------------------------------------
# Fake machines

MODELS = ("claude-sonnet-4-20250514", "claude-opus-4-20250514", "claude-haiku-4-5")


def reply(session: str, n: int, day: int, hour: int, minute: int, model: str, base: int) -> str:
    """One Claude Code assistant reply with its usage (the ccusage fixture's shape)."""
    return json.dumps(
        {
            "timestamp": f"2026-01-{day:02d}T{hour:02d}:{minute:02d}:00.000Z",
            "sessionId": session,
            "message": {
                "role": "assistant",
                "id": f"msg-{session}-{n}",
                "model": model,
                "usage": {
                    "input_tokens": base + n,
                    "output_tokens": 3 * base + n,
                    "cache_creation_input_tokens": 7 * n,
                    "cache_read_input_tokens": 11 * base,
                },
            },
            "requestId": f"req-{session}-{n}",
            "version": "1.0.0",
        }
    )


def write_session(projects: Path, project: str, session: str, replies: list[str]) -> Path:
    folder = projects / f"-home-dev-{project}"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{session}.jsonl"
    with path.open("a", encoding="utf-8") as fh:
        for line in replies:
            fh.write(json.dumps({**json.loads(line), "cwd": f"/home/dev/{project}"}) + "\n")
    return path


@dataclass
class Machine:
    home: FakeHome
    user: str
    name: str

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.home.run(*args)

    def json(self, *args: str) -> Any:
        r = self.run(*args, "--format", "json")
        assert r.returncode == 0, (args, r.stderr)
        return json.loads(r.stdout)

    def push_process(self) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "llm_session_manager", "team", "push", "--format", "json"],
            env=self.home.env(),
            cwd=self.home.home,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )


def make_machine(root: Path, user: str, name: str, url: str, *, share_titles: bool = False) -> Machine:
    home = root / name / "home"
    home.mkdir(parents=True)
    fh = FakeHome(home=home, claude=home / ".claude", lsm_home=root / name / "lsm-data")
    config = home / ".config" / "llm-session-manager" / "config.yaml"
    config.parent.mkdir(parents=True)
    config.write_text(
        textwrap.dedent(
            f"""\
            team:
              database_url: {url}
              user: {user}
              machine: {name}
              share_titles: {"true" if share_titles else "false"}
            """
        ),
        encoding="utf-8",
    )
    return Machine(fh, user, name)


def alice_laptop(root: Path, url: str) -> Machine:
    """Claude Code: the public fixtures and three sessions of our own over several days and models."""
    m = make_machine(root, "alice", "alice-laptop", url)
    install_fixtures(m.home.projects)
    for i in range(3):
        sid = f"a1000000-0000-4000-8000-00000000000{i}"
        lines = [
            reply(sid, n, 10 + n % 3, 8 + n, 5 * n, MODELS[(i + n) % 3], 100 * (i + 1)) for n in range(6)
        ]
        write_session(m.home.projects, f"shop-{i}", sid, lines)
    return m


def bob_desktop(root: Path, url: str) -> Machine:
    """Codex and Gemini fixtures, and two Claude Code sessions."""
    m = make_machine(root, "bob", "bob-desktop", url)
    install_codex(m.home.home / ".codex")
    install_gemini(m.home.home / ".gemini" / "tmp")
    for i in range(2):
        sid = f"b2000000-0000-4000-8000-00000000000{i}"
        lines = [reply(sid, n, 11, 9 + n, 2 * n, MODELS[n % 2], 50 * (i + 2)) for n in range(4)]
        write_session(m.home.projects, "billing", sid, lines)
    return m


# ---------------------------------------------------------------------------------------------------
# Totals


def list_figures(docs: list[dict[str, Any]]) -> list[tuple[str, int, int, int, int, float | None]]:
    """Every session's id, tokens and cost, sorted: the team's must equal the machines' exactly."""
    out = []
    for d in docs:
        t = d["tokens"]
        out.append((d["id"], t["input"], t["output"], t["cache_creation"], t["cache_read"], d["cost_usd"]))
    return sorted(out, key=lambda row: row[0])


def local_list(*machines: Machine) -> list[dict[str, Any]]:
    return [d for m in machines for d in m.json("list", "--all")]


def team_list(machine: Machine) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = machine.json("list", "--all", "--team")
    return docs


def report_tokens(doc: dict[str, Any]) -> dict[str, int]:
    return dict(doc["totals"]["tokens"])


def push_all(*machines: Machine) -> list[dict[str, Any]]:
    """`lsm team push` on every machine at once (separate processes)."""
    procs = [m.push_process() for m in machines]
    results = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        results.append(json.loads(out))
    return results


def assert_team_equals_machines(team: Machine, *machines: Machine) -> None:
    local = local_list(*machines)
    shared = team_list(team)
    assert list_figures(shared) == list_figures(local)
    assert sum(d["tokens"]["total"] for d in shared) == sum(d["tokens"]["total"] for d in local)
    daily = ("report", "daily", "--timezone", "UTC")
    team_report = team.json(*daily, "--team")
    local_reports = [m.json(*daily) for m in machines]
    want = {k: sum(r["totals"]["tokens"][k] for r in local_reports) for k in report_tokens(team_report)}
    assert report_tokens(team_report) == want
    assert team_report["totals"]["sessions"] == sum(r["totals"]["sessions"] for r in local_reports)
    costs = [r["totals"]["cost_usd"] for r in local_reports]
    if None in costs:  # a model without a price: the total is unknown, on the team as at home
        assert team_report["totals"]["cost_usd"] is None
    else:
        assert team_report["totals"]["cost_usd"] == pytest.approx(sum(costs), abs=1e-5)


# ---------------------------------------------------------------------------------------------------
# The tests


@pytest.fixture
def machines(tmp_path: Path, team_db: str) -> tuple[Machine, Machine]:
    a, b = alice_laptop(tmp_path, team_db), bob_desktop(tmp_path, team_db)
    init = a.run("team", "init")
    assert init.returncode == 0, init.stderr
    return a, b


def test_two_machines_push_concurrently_and_the_team_totals_are_exact(
    machines: tuple[Machine, Machine],
) -> None:
    a, b = machines
    first = push_all(a, b)
    assert [r["machine"] for r in first] == ["alice-laptop", "bob-desktop"]
    assert all(r["sessions"] == r["sent"] == r["written"] > 0 for r in first)
    assert_team_equals_machines(a, a, b)
    shared = team_list(b)
    assert {(d["user"], d["machine"]) for d in shared} == {("alice", "alice-laptop"), ("bob", "bob-desktop")}
    assert {d["agent"] for d in shared} >= {"claude-code", "codex", "gemini"}

    again = push_all(a, b)  # nothing changed: nothing is sent, nothing counts twice
    assert [r["sent"] for r in again] == [0, 0]
    assert_team_equals_machines(a, a, b)


def test_new_replies_are_pushed_once(machines: tuple[Machine, Machine]) -> None:
    a, b = machines
    push_all(a, b)
    sid = "a1000000-0000-4000-8000-000000000001"
    write_session(
        a.home.projects, "shop-1", sid, [reply(sid, 50 + n, 12, 20, n, MODELS[0], 999) for n in range(3)]
    )
    before = {d["id"]: d for d in team_list(a)}[f"claude-code:{sid}"]["tokens"]["total"]
    results = push_all(a, b)
    assert results[0]["sent"] == 1 and results[1]["sent"] == 0
    after = {d["id"]: d for d in team_list(a)}[f"claude-code:{sid}"]["tokens"]["total"]
    assert after > before
    assert_team_equals_machines(b, a, b)


KILL_AFTER_FIRST_BATCH = """
import os, signal
from llm_session_manager.api.context import Context
from llm_session_manager.api import team

def killed(sent):
    os.kill(os.getpid(), signal.SIGKILL)  # as a power cut or `kill -9` between two transactions

team.push(Context.from_environment(), batch_size=2, after_batch=killed)
"""


def test_a_push_killed_midway_leaves_whole_sessions_and_the_next_push_completes(
    machines: tuple[Machine, Machine],
) -> None:
    a, b = machines
    push_all(a, b)
    for i in range(3):  # three changed sessions: batches of two, killed after the first
        sid = f"a1000000-0000-4000-8000-00000000000{i}"
        write_session(a.home.projects, f"shop-{i}", sid, [reply(sid, 80, 13, 7, i, MODELS[1], 4242)])
    killed = subprocess.run(
        [sys.executable, "-c", KILL_AFTER_FIRST_BATCH],
        env=a.home.env(),
        cwd=a.home.home,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    local = dict((row[0], row) for row in list_figures(local_list(a)))
    shared = {row[0]: row for row in list_figures(team_list(a)) if row[0] in local}
    updated = [sid for sid, row in shared.items() if row == local[sid]]
    stale = [sid for sid, row in shared.items() if row != local[sid]]
    assert len(stale) == 1, (updated, stale)  # two written in the committed batch, one not yet
    first = report_tokens(a.json("report", "daily", "--timezone", "UTC", "--team"))
    assert first["total"] < report_tokens(a.json("report", "daily", "--timezone", "UTC"))["total"] + sum(
        report_tokens(b.json("report", "daily", "--timezone", "UTC")).values()
    )
    resumed = push_all(a)
    assert resumed[0]["sent"] == 1
    assert_team_equals_machines(a, a, b)


KILL_INSIDE_A_TRANSACTION = """
import os, signal
import psycopg
from llm_session_manager.api.context import Context
from llm_session_manager.api import team

calls = 0
real = psycopg.Cursor.executemany

def dying(self, *args, **kwargs):
    global calls
    calls += 1
    if calls == 2:  # the second session's buckets: its row and the first session are written, uncommitted
        os.kill(os.getpid(), signal.SIGKILL)
    return real(self, *args, **kwargs)

psycopg.Cursor.executemany = dying
team.push(Context.from_environment(), batch_size=50)
"""


def test_a_push_killed_inside_a_transaction_changes_nothing(machines: tuple[Machine, Machine]) -> None:
    a, b = machines
    push_all(a, b)
    before = list_figures(team_list(a))
    before_report = a.json("report", "daily", "--timezone", "UTC", "--team")
    for i in range(3):
        sid = f"a1000000-0000-4000-8000-00000000000{i}"
        write_session(a.home.projects, f"shop-{i}", sid, [reply(sid, 85, 13, 8, i, MODELS[0], 5151)])
    killed = subprocess.run(
        [sys.executable, "-c", KILL_INSIDE_A_TRANSACTION],
        env=a.home.env(),
        cwd=a.home.home,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert list_figures(team_list(a)) == before  # the server rolled the whole batch back
    assert a.json("report", "daily", "--timezone", "UTC", "--team") == before_report
    assert push_all(a)[0]["sent"] == 3
    assert_team_equals_machines(a, a, b)


def test_the_same_logs_on_two_computers_of_one_person_count_once(
    machines: tuple[Machine, Machine], tmp_path: Path, team_db: str
) -> None:
    a, b = machines
    desk = make_machine(tmp_path, "alice", "alice-desk", team_db)
    shutil.copytree(a.home.claude, desk.home.claude)  # ~/.claude synced between the two
    push_all(a, b, desk)
    assert_team_equals_machines(b, a, b)  # alice's desk adds nothing
    push_all(desk, a)
    assert_team_equals_machines(b, a, b)

    sid = "a1000000-0000-4000-8000-000000000002"  # the desk goes on with one session: its copy wins
    write_session(desk.home.projects, "shop-2", sid, [reply(sid, 90, 14, 9, 0, MODELS[2], 777)])
    push_all(a, desk)
    shared = {d["id"]: d for d in team_list(a)}
    assert shared[f"claude-code:{sid}"]["machine"] == "alice-desk"
    push_all(a)  # the laptop's older copy does not take it back
    assert_team_equals_machines(b, desk, b)


def test_numbers_leave_the_machine_not_text(
    machines: tuple[Machine, Machine], tmp_path: Path, team_db: str
) -> None:
    a, b = machines
    assert a.run("describe", "a1000000-0000-4000-8000-000000000000", "secret plan for ACME").returncode == 0
    assert a.run("tag", "a1000000-0000-4000-8000-000000000000", "acme").returncode == 0
    push_all(a)
    dumped = json.dumps(team_list(b))
    assert "ACME" not in dumped and "acme" not in dumped and "/home" not in dumped
    assert "transcript" not in dumped.replace('"transcript_paths": []', "")
    local = {d["id"]: d for d in local_list(a)}
    for doc in team_list(b):
        assert doc["title"] is None and doc["description"] is None and doc["project_path"] is None
        assert set(doc) == set(local[doc["id"]]) | {"user", "machine"}  # the same contract, plus two keys
        assert doc["project"] == local[doc["id"]]["project"]


def test_titles_are_shared_redacted_when_asked(tmp_path: Path, team_db: str) -> None:
    m = make_machine(tmp_path, "carol", "carol-laptop", team_db, share_titles=True)
    sid = "c3000000-0000-4000-8000-000000000000"
    write_session(m.home.projects, "api", sid, [reply(sid, 1, 10, 9, 0, MODELS[0], 10)])
    assert m.run("team", "init").returncode == 0
    key = "sk-ant-api03-" + "A" * 90
    assert m.run("describe", sid, f"rotate {key} today").returncode == 0
    push_all(m)
    (doc,) = team_list(m)
    assert doc["description"] is not None and "rotate" in doc["description"] and key not in doc["description"]


def test_report_splits_by_user_and_machine(machines: tuple[Machine, Machine]) -> None:
    a, b = machines
    push_all(a, b)
    doc = a.json("report", "monthly", "--timezone", "UTC", "--team", "--by", "user,machine,agent")
    users = {(r["user"], r["machine"]) for r in doc["rows"]}
    assert users == {("alice", "alice-laptop"), ("bob", "bob-desktop")}
    by_user = {u: sum(r["tokens"]["total"] for r in doc["rows"] if r["user"] == u) for u in ("alice", "bob")}
    assert by_user["alice"] == report_tokens(a.json("report", "monthly", "--timezone", "UTC"))["total"]
    assert by_user["bob"] == report_tokens(b.json("report", "monthly", "--timezone", "UTC"))["total"]
    tokyo = ("report", "daily", "--timezone", "Asia/Tokyo")  # whole hours from UTC: the same days
    mine = {r["period"]: r["tokens"] for r in a.json(*tokyo)["rows"]}
    team = a.json(*tokyo, "--team", "--by", "user")["rows"]
    assert {r["period"]: r["tokens"] for r in team if r["user"] == "alice"} == mine
    blocks = a.json("report", "blocks", "--team")
    assert blocks["rows"] and all("user" in r for r in blocks["rows"])
    table = a.run("report", "daily", "--team", "--by", "user")
    assert table.returncode == 0 and "alice" in table.stdout and "bob" in table.stdout
    bad = a.run("report", "daily", "--team", "--by", "colour")
    assert bad.returncode == 2 and "user, machine" in bad.stderr


def test_list_filters_and_table(machines: tuple[Machine, Machine]) -> None:
    a, b = machines
    push_all(a, b)
    codex = a.json("list", "--all", "--team", "--agent", "codex")
    assert codex and {d["agent"] for d in codex} == {"codex"}
    top = a.json("list", "--all", "--team", "--sort", "tokens", "--limit", "2")
    everyone = team_list(a)
    assert [d["id"] for d in top] == [
        d["id"] for d in sorted(everyone, key=lambda d: -d["tokens"]["total"])[:2]
    ]
    billing = a.json("list", "--all", "--team", "--project", "billing")
    assert {d["user"] for d in billing} == {"bob"}
    table = a.run("list", "--all", "--team")
    assert table.returncode == 0 and "alice-laptop" in table.stdout and "bob-desktop" in table.stdout
    bobs = a.json("list", "--all", "--team", "--user", "bob")
    assert bobs and {d["machine"] for d in bobs} == {"bob-desktop"}
    assert a.json("list", "--all", "--team", "--machine", "alice-laptop") == [
        d for d in everyone if d["user"] == "alice"
    ]
    alone = a.run("list", "--user", "bob")
    assert alone.returncode == 2 and "--team" in alone.stderr


def test_limits_per_user(machines: tuple[Machine, Machine]) -> None:
    a, b = machines
    push_all(a, b)
    local = b.json("limits")
    team = a.json("limits", "--team")
    assert local, "the Codex fixture reports official limits"
    assert [(d["user"], d["machine"]) for d in team] == [("bob", "bob-desktop")] * len(local)
    for mine, shared in zip(local, team):
        assert {k: v for k, v in shared.items() if k not in ("user", "machine")} == mine


def test_status_and_errors_never_show_the_password(
    machines: tuple[Machine, Machine], postgres: Cluster
) -> None:
    a, b = machines
    push_all(a, b)
    status = a.json("team", "status")
    assert status["schema_version"] >= 1 and status["users"] == 2
    assert {m["machine"] for m in status["machines"]} == {"alice-laptop", "bob-desktop"}
    shown = a.run("show-config", "--format", "json")
    assert DB_PASSWORD not in shown.stdout and "127.0.0.1" in shown.stdout
    table = a.run("show-config")
    assert table.returncode == 0 and DB_PASSWORD not in table.stdout and "127.0.0.1" in table.stdout
    wrong = postgres.url(password="Wr0ng-pass-word")
    bad = a.home.run("list", "--team", LSM_TEAM_DATABASE_URL=wrong)
    assert bad.returncode == 1 and "Wr0ng-pass-word" not in bad.stderr and "password" in bad.stderr
    assert len(bad.stderr.strip().splitlines()) == 1
    down = a.home.run(
        "team", "push", LSM_TEAM_DATABASE_URL=f"postgresql://lsm:{DB_PASSWORD}@127.0.0.1:{free_port()}/x"
    )
    assert down.returncode == 1 and DB_PASSWORD not in down.stderr and "cannot reach" in down.stderr


def test_without_team_mode_configured(fake_home: FakeHome) -> None:
    r = fake_home.run("list", "--team")
    assert r.returncode == 1 and "team.database_url" in r.stderr


def test_push_before_init_says_so(tmp_path: Path, team_db: str) -> None:
    m = make_machine(tmp_path, "dan", "dan-laptop", team_db)
    r = m.run("team", "push")
    assert r.returncode == 1 and "lsm team init" in r.stderr
    assert m.run("team", "init").returncode == 0
    again = m.json("team", "init")
    assert again["migrated"] is False


def test_concurrent_init_migrates_once(team_db: str) -> None:
    """Ten laptops running `lsm team init` at once: one migrates, the others find the work done."""
    import psycopg

    from llm_session_manager.team import schema

    results: list[int] = []
    errors: list[BaseException] = []

    def init() -> None:
        try:
            with psycopg.connect(team_db, autocommit=True) as conn:
                results.append(schema.migrate(conn))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=init) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and sorted(results) == [0] + [schema.SCHEMA_VERSION] * 5
    with psycopg.connect(team_db) as conn:
        assert schema.version(conn) == schema.SCHEMA_VERSION


def test_watch_pushes_again(machines: tuple[Machine, Machine]) -> None:
    a, _b = machines
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llm_session_manager",
            "team",
            "push",
            "--watch",
            "--interval",
            "5",
            "-f",
            "json",
        ],
        env=a.home.env(),
        cwd=a.home.home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        seen = ""
        while seen.count('"pushed_at"') < 2 and time.monotonic() < deadline:
            seen += proc.stdout.readline()
        assert seen.count('"pushed_at"') >= 2
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_watch_goes_on_when_the_database_is_away(machines: tuple[Machine, Machine]) -> None:
    """`--watch` under a service manager: a failed push is one warning line (no password), then it
    tries again; a single push exits 1."""
    a, _b = machines
    away = f"postgresql://lsm:{DB_PASSWORD}@127.0.0.1:{free_port()}/x"
    proc = subprocess.Popen(
        [sys.executable, "-m", "llm_session_manager", "team", "push", "--watch", "--interval", "5"],
        env=a.home.env(LSM_TEAM_DATABASE_URL=away),
        cwd=a.home.home,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        assert "push failed, trying again in 5 s" in line and DB_PASSWORD not in line
        time.sleep(1)
        assert proc.poll() is None  # still watching
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_team_documents_keep_the_json_contract(machines: tuple[Machine, Machine]) -> None:
    """`--team` prints the documents of tests/fixtures/contract (every key, every allowed type) with
    ``user`` and ``machine`` added, and nothing else."""
    a, b = machines
    push_all(a, b)
    runs = {
        "list": (("list", "--all", "--team"), {"$[].user", "$[].machine"}),
        "report daily": (
            ("report", "daily", "--timezone", "UTC", "--by", "model,user,machine", "--team"),
            {"$.rows[].user", "$.rows[].machine"},
        ),
        "limits": (("limits", "--team"), {"$[].user", "$[].machine"}),
    }
    for name, (args, added) in runs.items():
        seen = merge({}, shape_of(a.json(*args), frozenset()))
        broken, new = compare(load_golden(name), seen)
        assert not broken, (name, broken)
        assert set(new) == added, (name, new)


def test_team_commands_keep_their_json_contract(tmp_path: Path, team_db: str) -> None:
    """`lsm team init|push|status --format json` against their golden files (test_json_contract's rules:
    keys are only ever added; LSM_UPDATE_CONTRACT=1 records new ones)."""
    m = alice_laptop(tmp_path, team_db)
    for name in ("team init", "team push", "team status"):
        (args,) = DOCS[name].runs
        seen = merge({}, shape_of(m.json(*args[:-2]), frozenset()))
        golden = load_golden(name)
        broken, new = compare(golden, seen)
        assert not broken, (name, broken)
        if new and UPDATE:
            save_golden(name, merge({p: set(t) for p, t in golden.items()}, seen))
            continue
        assert not new, f"lsm {name} prints new JSON keys: {new} (LSM_UPDATE_CONTRACT=1 records them)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "team:\n  database_url: mysql://u:Hunter2-secret@h/db\n",
            "'team.database_url' must be a postgresql:// URL",
        ),
        ("team:\n  share_titles: 1\n", "'team.share_titles' must be true or false"),
        ("team:\n  user: ''\n", "'team.user' must be null or one line of text"),
        ("team:\n  machine: 12\n", "'team.machine' must be null or one line of text"),
        ("team:\n  push_interval_seconds: 1\n", "'team.push_interval_seconds' must be between 5 and 86400"),
        ("team:\n  colour: red\n", "unknown key 'team.colour'"),
    ],
)
def test_team_config_is_checked(tmp_path: Path, text: str, message: str) -> None:
    from llm_session_manager.config import load
    from llm_session_manager.errors import ConfigError

    file = tmp_path / "config.yaml"
    file.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load(file)
    assert message in str(caught.value) and "Hunter2" not in str(caught.value)


def test_team_config_defaults_and_values(tmp_path: Path) -> None:
    from llm_session_manager.config import load
    from llm_session_manager.team.push import identity_of

    file = tmp_path / "config.yaml"
    file.write_text("team:\n  database_url: postgresql://h/db\n  user: ' eve '\n", encoding="utf-8")
    team = load(file)["team"]
    assert team["database_url"] == "postgresql://h/db" and team["user"] == "eve"
    who = identity_of(team)
    assert who.user == "eve" and who.machine == socket.gethostname() and who.share_titles is False
