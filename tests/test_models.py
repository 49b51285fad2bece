"""``with_context_window`` stands in for ``dataclasses.replace`` on every listed session: it must give
the very session replace gives, whatever fields Session has now or gains later."""

from __future__ import annotations

import dataclasses

from factories import SONNET, make_process, make_session

from llm_session_manager.models import ModelTokens, Session, with_context_window


def session() -> Session:
    return make_session(
        context_window=None,
        context_window_source="1m-identity",
        model_usage=(ModelTokens(SONNET, 1, 2, 3, 4),),
        process=make_process(),
    )


def test_it_is_replace() -> None:
    before = session()
    after = with_context_window(before, 1_000_000, "log")
    assert after == dataclasses.replace(before, context_window=1_000_000, context_window_source="log")
    assert type(after) is Session
    assert before.context_window is None and before.context_window_source == "1m-identity"  # a copy


def test_every_field_is_passed_in_order() -> None:
    """A field Session cannot take positionally (init=False, keyword-only) would be given the wrong
    value or refused: there is none."""
    for f in dataclasses.fields(Session):
        assert f.init and not f.kw_only, f.name
    before = session()
    after = with_context_window(before, 7, "table")
    for f in dataclasses.fields(Session):
        if f.name not in ("context_window", "context_window_source"):
            assert getattr(after, f.name) is getattr(before, f.name), f.name
