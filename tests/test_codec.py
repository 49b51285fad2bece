"""The merged cache's session codec: a round trip is exact, and a listing's thousands of sessions share
the strings they repeat."""

from __future__ import annotations

from datetime import datetime, timezone

import orjson
from factories import SONNET, make_session

from llm_session_manager.codec import session_from_dict, session_to_dict
from llm_session_manager.models import ModelTokens, RateLimit, Session


def session(native: str) -> Session:
    """A session with every kind of field the codec writes; its project and models the same in each."""
    at = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    return make_session(
        native,
        project_path="/p",
        model_usage=(ModelTokens(SONNET, 1, 2, 3, 4),),
        rate_limits=(RateLimit("5h", 12.5, 300, at, at),),
        usage_history=((29572125, SONNET, 1, 2, 3, 4, 0),),
    )


def decoded(native: str, history: bool = True) -> Session:
    return session_from_dict(orjson.loads(orjson.dumps(session_to_dict(session(native)))), history=history)


def test_a_round_trip_is_exact_and_history_is_left_out_on_request() -> None:
    assert decoded("a") == session("a")
    assert decoded("a", history=False).usage_history == ()


def test_decoded_sessions_share_the_strings_they_repeat() -> None:
    a, b = decoded("a"), decoded("b")
    for name in ("agent", "model", "project_path", "git_branch"):
        assert getattr(a, name) is getattr(b, name), name
    assert a.models[0] is b.models[0] is a.model_usage[0].model is b.model_usage[0].model
    assert a.tokens.source is b.tokens.source
    assert a.transcript_paths != b.transcript_paths
