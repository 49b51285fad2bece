"""Prometheus metrics: metrics.exposition over this machine and over the team store, and a real
Prometheus (the Debian package, started here on loopback) scraping `lsm serve`'s /metrics and answering
its query API with our series. Fails (never skips) when prometheus is missing: .ci/run installs it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_team import (  # the PostgreSQL cluster and the fake machines of the team tests
    MODELS,
    Machine,
    alice_laptop,
    bob_desktop,
    free_port,
    postgres,
    push_all,
    reply,
    team_db,
    write_session,
)

from llm_session_manager.metrics import LABELS, exposition

__all__ = ["postgres", "team_db"]  # fixtures used here

TOKEN_METRICS = tuple(f"lsm_{kind}_tokens" for kind in ("input", "output", "cache_creation", "cache_read"))


def samples(body: bytes) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Every sample by metric name (counters under their _total name), parsed by prometheus_client."""
    from prometheus_client.parser import text_string_to_metric_families

    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(body.decode()):
        for s in family.samples:
            if not s.name.endswith("_created"):
                out.setdefault(s.name, []).append((dict(s.labels), s.value))
    return out


def context_of(machine: Machine) -> Any:
    from llm_session_manager.api.context import Context
    from llm_session_manager.paths import resolve

    return Context.for_paths(resolve(machine.home.env()))


def token_total(docs: list[dict[str, Any]]) -> dict[str, int]:
    return {
        k: sum(d["tokens"][k] for d in docs if d["tokens"])
        for k in ("input", "output", "cache_creation", "cache_read")
    }


def test_local_metrics_add_up_to_the_sessions_and_carry_only_low_cardinality_labels(tmp_path: Path) -> None:
    a = alice_laptop(tmp_path, "postgresql://unused@127.0.0.1:1/unused")
    docs = a.json("list", "--all")
    body, content_type = exposition(context_of(a))
    assert content_type.startswith("text/plain; version=")
    found = samples(body)
    want = token_total(docs)
    for kind in want:
        got = found[f"lsm_{kind}_tokens_total"]
        assert sum(v for _l, v in got) == want[kind]
        assert all(set(labels) == set(LABELS) for labels, _v in got)
        assert {labels["user"] for labels, _v in got} == {"alice"}
    priced = sum(d["cost_usd"] for d in docs if d["cost_usd"] is not None)
    assert sum(v for _l, v in found["lsm_cost_usd_total"]) == pytest.approx(priced, abs=1e-5)
    assert sum(v for _l, v in found["lsm_sessions"]) == len(docs)
    text = body.decode()
    for d in docs:  # never a session id, title or path
        assert d["native_id"] not in text
        assert not d["title"] or d["title"] not in text
    assert "/home/" not in text and "/tmp/" not in text


def test_team_metrics_cover_every_machine(tmp_path: Path, team_db: str) -> None:
    a, b = alice_laptop(tmp_path, team_db), bob_desktop(tmp_path, team_db)
    assert a.run("team", "init").returncode == 0
    push_all(a, b)
    body, _type = exposition(context_of(a), team=True)
    found = samples(body)
    want = token_total(a.json("list", "--all") + b.json("list", "--all"))
    assert sum(v for _l, v in found["lsm_input_tokens_total"]) == want["input"]
    assert {(labels["user"], labels["machine"]) for labels, _v in found["lsm_output_tokens_total"]} == {
        ("alice", "alice-laptop"),
        ("bob", "bob-desktop"),
    }
    assert "lsm_limit_7d_used_percent" in body.decode()


def test_running_session_gauges() -> None:
    """A session with a running agent process counts in lsm_sessions_running with its context and
    health; an ended one only in lsm_sessions."""
    import dataclasses

    from llm_session_manager.metrics import Facts, _session_families

    running = Facts("claude-code", "shop", "u", "m", MODELS[0], True, 62.5, 55.0, [])
    ended = dataclasses.replace(running, running=False, context_pct=99.0, health=1.0)
    families = {f.name: f for f in _session_families([running, ended])}
    key = ("claude-code", MODELS[0], "shop", "u", "m")
    values = {name: {tuple(s.labels.values()): s.value for s in f.samples} for name, f in families.items()}
    assert values["lsm_sessions"][key] == 2
    assert values["lsm_sessions_running"][key] == 1
    assert values["lsm_context_percent_max"][key] == 62.5
    assert values["lsm_health_score_min"][key] == 55.0


# ---------------------------------------------------------------------------------------------------
# A real Prometheus scraping `lsm serve`


def _wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Machine, int]]:
    m = alice_laptop(tmp_path, "postgresql://unused@127.0.0.1:1/unused")
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "llm_session_manager", "serve", "--port", str(port)],
        env=m.home.env(),
        cwd=m.home.home,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/metrics", 60)
        yield m, port
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def query(port: int, promql: str) -> list[dict[str, Any]]:
    url = f"http://127.0.0.1:{port}/api/v1/query?" + urllib.parse.urlencode({"query": promql})
    with urllib.request.urlopen(url, timeout=5) as r:
        doc = json.loads(r.read())
    assert doc["status"] == "success", doc
    result: list[dict[str, Any]] = doc["data"]["result"]
    return result


def test_prometheus_scrapes_lsm_serve(served: tuple[Machine, int], tmp_path: Path) -> None:
    binary = shutil.which("prometheus")
    assert binary, "prometheus is not installed (apt-get install prometheus; .ci/run does it)"
    machine, lsm_port = served
    config = tmp_path / "prometheus.yml"
    config.write_text(
        textwrap.dedent(
            f"""\
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: lsm
                static_configs:
                  - targets: ["127.0.0.1:{lsm_port}"]
            """
        )
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_http(f"http://127.0.0.1:{port}/-/ready", 60)
        deadline = time.monotonic() + 90
        result: list[dict[str, Any]] = []
        while not result and time.monotonic() < deadline:
            result = query(port, 'sum by (user, machine) (lsm_input_tokens_total{job="lsm"})')
            time.sleep(0.5)
        assert result, "Prometheus never scraped lsm's /metrics"
        (series,) = result
        assert series["metric"] == {"user": "alice", "machine": "alice-laptop"}
        assert float(series["value"][1]) == token_total(machine.json("list", "--all"))["input"]
        up = query(port, 'up{job="lsm"}')
        assert up and up[0]["value"][1] == "1"
        models = {r["metric"]["model"] for r in query(port, "lsm_output_tokens_total")}
        assert models >= {MODELS[0], MODELS[1]}
        for title, expr in dashboard_queries():  # every panel of the Grafana dashboard is valid PromQL
            assert isinstance(query(port, expr), list), title
    finally:
        proc.terminate()
        proc.wait(timeout=30)


DASHBOARD = Path(__file__).resolve().parent.parent / "docs" / "grafana" / "lsm.json"


def dashboard_queries() -> list[tuple[str, str]]:
    """Each panel's PromQL with Grafana's variables filled in as "All" and a one-hour range."""
    doc = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    out = []
    for panel in doc["panels"]:
        for target in panel["targets"]:
            expr = target["expr"].replace("$user", ".*").replace("$machine", ".*").replace("$__range", "1h")
            out.append((panel["title"], expr))
    return out


def test_the_grafana_dashboard_uses_only_our_metrics(tmp_path: Path) -> None:
    import re

    a = alice_laptop(tmp_path, "postgresql://unused@127.0.0.1:1/unused")
    body = exposition(context_of(a))[0].decode()
    declared = re.findall(r"^# TYPE (\S+) (\S+)$", body, re.MULTILINE)  # every family, even when empty
    exposed = {
        name + "_total" if kind == "counter" and not name.endswith("_total") else name
        for name, kind in declared
    }
    named = {name for _title, expr in dashboard_queries() for name in re.findall(r"\blsm_[a-z0-9_]+", expr)}
    assert named and named <= exposed, named - exposed
    text = DASHBOARD.read_text(encoding="utf-8")
    assert "session_id" not in text and "native_id" not in text


def test_metrics_follow_new_replies(tmp_path: Path) -> None:
    """Counters grow when a session does."""
    a = alice_laptop(tmp_path, "postgresql://unused@127.0.0.1:1/unused")
    before = sum(v for _l, v in samples(exposition(context_of(a))[0])["lsm_output_tokens_total"])
    sid = "a1000000-0000-4000-8000-000000000000"
    write_session(a.home.projects, "shop-0", sid, [reply(sid, 70, 15, 10, 0, MODELS[0], 500)])
    after = sum(v for _l, v in samples(exposition(context_of(a))[0])["lsm_output_tokens_total"])
    assert after == before + 3 * 500 + 70
