"""Team mode: `memory.server: http://host:port` against a real `chroma run` server that this module starts on
a free loopback port (data in a temp dir) and stops when its tests are done. Two engineers (two fake
HOMEs, two lsm data dirs) share one memory through it; texts are embedded on each client.
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import FakeHome, install_fixtures

from llm_session_manager import config as config_mod
from llm_session_manager import memory
from llm_session_manager.errors import StoreError
from llm_session_manager.paths import resolve

SIDE = "88a8d761-7b9a-4bf1-a8ca-c1febe6bf358"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def chroma_cli() -> Path:
    """The `chroma` script chromadb installs next to this interpreter."""
    for name in ("chroma", "chroma.exe"):
        path = Path(sys.executable).parent / name
        if path.exists():
            return path
    pytest.fail("the chroma CLI (installed with chromadb) is not next to the Python interpreter")


def wait_for(port: int, proc: subprocess.Popen[bytes], seconds: float = 60.0) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"chroma run exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail("chroma run did not answer its heartbeat within a minute")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("chroma-server")
    port = free_port()
    log = (data / "server.log").open("wb")
    proc = subprocess.Popen(
        [str(chroma_cli()), "run", "--path", str(data / "db"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={"HOME": str(data), "PATH": "/usr/bin:/bin", "ANONYMIZED_TELEMETRY": "False"},
    )
    try:
        wait_for(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        log.close()


def team_config(tmp_path: Path, url: str, collection: str) -> Path:
    file = tmp_path / f"config-{collection}.yaml"
    file.write_text(f"memory:\n  server: {url}\n  collection: {collection}\n")
    return file


def ok(fake: FakeHome, *args: str, **env: str) -> str:
    r = fake.run(*args, **env)
    assert r.returncode == 0, r.stderr
    return r.stdout


@pytest.fixture
def engineers(tmp_path: Path) -> tuple[FakeHome, FakeHome]:
    a = FakeHome(home=tmp_path / "alice", claude=tmp_path / "alice/.claude", lsm_home=tmp_path / "alice-lsm")
    b = FakeHome(home=tmp_path / "bob", claude=tmp_path / "bob/.claude", lsm_home=tmp_path / "bob-lsm")
    a.home.mkdir()
    b.home.mkdir()
    install_fixtures(a.projects)
    return a, b


def test_two_engineers_share_one_memory(
    server: str, engineers: tuple[FakeHome, FakeHome], tmp_path: Path
) -> None:
    alice, bob = engineers
    env = {"LSM_CONFIG": str(team_config(tmp_path, server, "team_share"))}
    saved = json.loads(
        ok(
            alice,
            "memory-add",
            "88a8",
            "Implemented JWT auth using jose library",
            "-t",
            "auth",
            "-f",
            "json",
            **env,
        )
    )
    ok(alice, "memory-add", "ses_stage0", "The staging database is refreshed every Monday", **env)
    again = json.loads(
        ok(alice, "memory-add", "88a8", "Implemented JWT auth using jose library", "-f", "json", **env)
    )
    assert again["id"] == saved["id"] and again["created"] is False  # dedup on the server too
    assert not (alice.lsm_home / "memory").exists()  # nothing stored locally in team mode

    hits = json.loads(ok(bob, "memory-search", "how to do authentication", "-f", "json", **env))
    assert hits[0]["id"] == saved["id"] and hits[0]["session_id"] == f"claude-code:{SIDE}"
    assert hits[0]["score"] > hits[1]["score"]
    tagged = json.loads(ok(bob, "memory-list", "--tag", "auth", "-f", "json", **env))
    assert [m["id"] for m in tagged] == [saved["id"]]  # a where filter evaluated by the server
    by_session = json.loads(ok(bob, "memory-list", "--session", SIDE[:8], "-f", "json", **env))
    assert [m["id"] for m in by_session] == [saved["id"]]  # a session only the store knows, by prefix

    stats = json.loads(ok(bob, "memory-stats", "-f", "json", **env))
    assert stats["memories"] == 2 and stats["store"] == {
        "kind": "server",
        "url": server,
        "collection": "team_share",
    }
    ok(bob, "memory-delete", saved["id"], **env)
    assert [m["id"] for m in json.loads(ok(alice, "memory-list", "-f", "json", **env))] != [saved["id"]]
    assert len(json.loads(ok(alice, "memory-list", "-f", "json", **env))) == 1


def test_store_api_against_the_server(server: str) -> None:
    paths = resolve()
    cfg = config_mod.load(paths.config_file)
    cfg["memory"].update(server=server, collection="team_api")
    store = memory.open_store(paths, cfg)
    texts = [
        "Fixed ECONNREFUSED 127.0.0.1:6379 by starting redis before the tests",
        "Connection errors from the cache meant the service was not running",
        "Blog articles are indexed with Postgres tsvector so readers can look up any phrase",
        "The font is Inter, loaded from a local copy",
    ]
    store.add_many([memory.NewMemory(t, "codex:x1", "x1", "codex", "api", ("t",)) for t in texts])
    assert store.search("finding posts that contain certain words", limit=1)[0].memory.text == texts[2]
    first = store.search("ECONNREFUSED", limit=2)[0]
    assert first.memory.text == texts[0] and first.matched == ("ECONNREFUSED",)
    assert sorted(m.text for m in store.find(memory.Filters(sessions=("codex:x1",), tags=("t",)))) == sorted(
        texts
    )
    assert store.find(memory.Filters(sessions=("codex:other",))) == []
    assert store.stats().count == 4


def test_an_unreachable_server_is_one_clear_line(fake_home: FakeHome, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    env = {"LSM_CONFIG": str(team_config(tmp_path, url, "nobody_home"))}
    r = fake_home.run("memory-list", **env)
    assert r.returncode == 1, r.stderr
    assert (
        r.stderr.startswith(f"lsm: error: cannot reach the memory server {url}") and "chroma run" in r.stderr
    )
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    paths = resolve()
    cfg = config_mod.load(paths.config_file)
    cfg["memory"]["server"] = url
    with pytest.raises(StoreError, match="cannot reach the memory server"):
        memory.open_store(paths, cfg)
