"""Where a session's cost comes from: lsm's prices, the agent's own logged cost, or an imported figure."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timezone

from test_health import make_session

from llm_session_manager.config import DEFAULTS
from llm_session_manager.models import ModelTokens
from llm_session_manager.pricing import ModelTable
from llm_session_manager.service import derive

NOW = datetime(2026, 12, 4, 12, tzinfo=timezone.utc)


def view_of(**changes: object):  # type: ignore[no-untyped-def]
    session = dataclasses.replace(make_session(), **changes)
    return derive(session, ModelTable(), dict(DEFAULTS), NOW)


def test_priced_model_uses_the_table_even_when_the_agent_logged_a_cost() -> None:
    usage = (ModelTokens("claude-sonnet-4-5", input=1_000_000),)
    view = view_of(model_usage=usage, agent_cost_usd=99.0)
    assert view.cost_usd == 3.0
    assert view.cost_source == "table"
    assert view.warnings == []


def test_unpriced_model_falls_back_to_the_agents_own_cost() -> None:
    usage = (ModelTokens("acme-model-9", input=1000, output=10),)
    view = view_of(model_usage=usage, agent_cost_usd=0.0123)
    assert view.cost_usd == 0.0123
    assert view.cost_source == "agent"
    assert view.warnings == []


def test_unpriced_model_without_agent_cost_is_unknown_with_a_warning() -> None:
    view = view_of(model_usage=(ModelTokens("acme-model-9", input=1000),))
    assert view.cost_usd is None
    assert view.cost_source is None
    assert view.warnings == [
        "unknown model 'acme-model-9': cost not computed (add it under 'models:' in the config)"
    ]


def test_a_log_without_a_model_name_says_so_not_unknown_model() -> None:
    view = view_of(agent="aider", model_usage=(ModelTokens("unknown", input=1000),))
    assert view.cost_usd is None
    assert view.warnings == ["model not recorded by aider: cost not computed"]


def test_imported_session_keeps_its_recorded_cost() -> None:
    view = view_of(origin="imported", recorded_cost_usd=1.5, model_usage=(ModelTokens("x", input=5),))
    assert (view.cost_usd, view.cost_source) == (1.5, "recorded")
