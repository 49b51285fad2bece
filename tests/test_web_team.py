"""`lsm serve --team`: the web dashboard over the team store — everyone's sessions with user and machine,
the team's reports and limits, `/metrics` of the team — against the real PostgreSQL the team tests start."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import test_team
from starlette.testclient import TestClient
from test_team import Machine, push_all, team_list

from llm_session_manager.api.context import Context
from llm_session_manager.paths import resolve
from llm_session_manager.web.app import build_app

# The team tests' fixtures: a throwaway cluster, a database of it, two machines that use it.
postgres = test_team.postgres
team_db = test_team.team_db
machines = test_team.machines

PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"


@pytest.fixture
def team_web(machines: tuple[Machine, Machine]) -> Iterator[tuple[TestClient, Machine, Machine]]:
    a, b = machines
    push_all(a, b)
    ctx = Context.for_paths(resolve(a.home.env()))  # alice's laptop, reading the team store
    app = build_app(ctx, None, host="127.0.0.1", port=PORT, first_paint=60, team=True)
    with TestClient(app, base_url=BASE) as client:
        yield client, a, b


def test_api_sessions_is_lsm_list_team(team_web: tuple[TestClient, Machine, Machine]) -> None:
    client, a, _b = team_web
    got = client.get("/api/sessions")
    assert got.status_code == 200
    want = team_list(a)
    assert got.json() == want
    assert {d["user"] for d in want} == {"alice", "bob"}


def test_sessions_page_shows_everyone_with_a_user_facet(
    team_web: tuple[TestClient, Machine, Machine],
) -> None:
    client, a, _b = team_web
    page = client.get("/").text
    assert "<h1>Team sessions</h1>" in page
    assert 'data-facet="user"' in page and '<option value="bob">bob</option>' in page
    assert 'data-key="user"' in page and 'data-key="machine"' in page
    rows = re.findall(r'<tr data-id="([^"]+)"[^>]* data-user="([^"]+)"', page)
    assert sorted(rows) == sorted((d["id"], d["user"]) for d in team_list(a))


def test_reports_and_limits_are_the_teams(team_web: tuple[TestClient, Machine, Machine]) -> None:
    client, a, _b = team_web
    report = client.get("/api/report/daily", params={"by": "user", "timezone": "UTC"})
    assert report.status_code == 200
    assert report.json() == a.json("report", "daily", "--by", "user", "--timezone", "UTC", "--team")
    assert client.get("/api/limits").json() == a.json("limits", "--team")
    assert (
        "bob" in client.get("/reports", params={"by": "model"}).text
        or client.get("/reports").status_code == 200
    )


def test_pages_of_one_machine_are_not_in_the_team_view(team_web: tuple[TestClient, Machine, Machine]) -> None:
    client, a, _b = team_web
    sid = team_list(a)[0]["id"]
    for path in (
        f"/sessions/{sid}",
        f"/api/sessions/{sid}",
        "/limits",
        "/memory",
        "/api/budget",
        "/api/recommend",
    ):
        got = client.get(path)
        assert got.status_code == 404, path
        assert "team view" in got.text, path


def test_metrics_are_the_teams(team_web: tuple[TestClient, Machine, Machine]) -> None:
    client, _a, _b = team_web
    text = client.get("/metrics").text
    users = set(re.findall(r'user="([^"]+)"', text))
    assert users == {"alice", "bob"}


def test_serve_team_needs_a_team_store(tmp_path: Path) -> None:
    from conftest import FakeHome

    home = tmp_path / "no-team"
    home.mkdir()
    fh = FakeHome(home=home, claude=home / ".claude", lsm_home=tmp_path / "no-team-lsm")
    out = fh.run("serve", "--team", "--port", "0")
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "lsm: error: --team: no team store is configured (team.database_url or LSM_TEAM_DATABASE_URL)"
    )
