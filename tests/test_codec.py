"""The merged cache's session codec: a round trip is exact, and a listing's thousands of sessions share
the strings they repeat."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import orjson
import pytest
from factories import SONNET, make_session

from llm_session_manager import codec
from llm_session_manager.codec import session_from_dict, session_to_dict
from llm_session_manager.models import ModelTokens, RateLimit, Session
from llm_session_manager.timefmt import parse_ts


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


# --- the typed decoder (codec.sessions_from_json) -------------------------------------------------------


@pytest.fixture
def typed() -> Iterator[None]:
    """The typed decoder in use from the first byte (a command that loaded msgspec already)."""
    codec._typed_decoder()
    yield


def plain(body: bytes, history: bool) -> list[Session] | type[BaseException]:
    """What the plain path makes of an array: its sessions, or the type of what it raises."""
    try:
        docs = orjson.loads(body)
        if not isinstance(docs, list):
            return ValueError
        return [session_from_dict(d, history=history) for d in docs]
    except Exception as exc:
        return type(exc)


def through_typed(body: bytes, history: bool) -> list[Session] | type[BaseException] | None:
    try:
        return codec.sessions_from_json(body, history=history)
    except Exception as exc:
        return type(exc)


def variety() -> list[Session]:
    at = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
    return [
        session("a"),
        make_session("b", started_at=None, last_activity=None, model=None, models=(), git_branch=None),
        make_session("c", last_compaction_at=at.replace(microsecond=0), fatal_signals=("auth_error",)),
        make_session("d", recent_tool_results=(True, False), usage_buckets=((1, SONNET, 1, 2, 3, 4),)),
        make_session("e", context_series=((1, 2), (3, 4)), agent_cost_usd=1.25, recorded_cost_usd=0.5),
        make_session("f", origin="imported", peak_context_tokens=None, context_window=None),
        make_session("g", rate_limits=(RateLimit("weekly", 3.0),), title='ünïcode \u2028 "quoted"'),
        make_session("h", model_usage=(ModelTokens("m", *range(1, 11)), ModelTokens("n"))),
    ]


@pytest.mark.parametrize("history", [True, False])
def test_typed_sessions_equal_the_plain_ones(typed: None, history: bool) -> None:
    body = orjson.dumps([session_to_dict(s) for s in variety()])
    got = codec.sessions_from_json(body, history=history)
    assert got is not None
    assert got == plain(body, history)
    for a, b in zip(got, plain(body, history), strict=True):  # type: ignore[arg-type]
        for name in ("started_at", "last_activity", "last_compaction_at"):
            x, y = getattr(a, name), getattr(b, name)
            assert (x is None and y is None) or x.tzinfo is y.tzinfo, name


def test_typed_sessions_share_the_strings_they_repeat(typed: None) -> None:
    a, b = codec.sessions_from_json(orjson.dumps([session_to_dict(session(n)) for n in "ab"])) or []
    for name in ("agent", "model", "project_path", "git_branch"):
        assert getattr(a, name) is getattr(b, name), name
    assert a.models[0] is b.models[0] is a.model_usage[0].model is b.model_usage[0].model
    assert a.tokens.source is b.tokens.source


ODD_DATES = [
    "2026-03-01T12:00:00Z",
    "2026-03-01T12:00:00.123456Z",
    "2026-03-01T12:00:00.1234567Z",  # more digits than a microsecond
    "2026-03-01T12:00:00.1Z",
    "2026-03-01 12:00:00Z",
    "2026-03-01t12:00:00z",
    "2026-03-01T12:00:00+02:00",
    "2026-03-01T12:00:00-00:00",
    "2026-03-01T12:00:00",
    "2026-03-01",
    "2026-03-01Z",
    "2026-W09-1T12:00:00Z",
    "2026-03-01T24:00:00Z",
    "2026-03-01T12:00:60Z",
    "2026-02-30T12:00:00Z",
    "0999-03-01T12:00:00Z",
    "9999-12-31T23:59:59.999999Z",
    " 2026-03-01T12:00:00Z",
    "2026-03-01T12:00:00Z ",
    "2026-03-01T12:00Z",
    "2026Z",
    "not a date at all, Z",
    "",
    None,
    0,
    1.5,
    [],
]


@pytest.mark.parametrize("value", ODD_DATES, ids=repr)
def test_a_saved_date_reads_as_parse_ts_reads_it(value: object) -> None:
    got, want = codec._moment(value), parse_ts(value)
    assert got == want
    assert type(got) is type(want)
    if got is not None and want is not None:
        assert got.tzinfo is want.tzinfo


def odd_documents() -> list[tuple[str, Any]]:
    """Documents that are not as session_to_dict writes them, one change each."""
    base = session_to_dict(session("x"))
    cases: list[tuple[str, Any]] = []
    for name in (
        "title",
        "tokens",
        "models",
        "started_at",
        "fatal_signals",
        "usage_buckets",
        "model_usage",
        "rate_limits",
        "usage_history",
        "origin",
        "agent_cost_usd",
        "id",
    ):
        cases.append((f"without {name}", {k: v for k, v in base.items() if k != name}))
    for name, value in [
        ("fatal_signals", None),
        ("models", None),
        ("models", "ab"),
        ("transcript_paths", {"a": 1}),
        ("usage_buckets", ["ab"]),
        ("usage_buckets", [{"a": 1}]),
        ("context_series", None),
        ("model_usage", None),
        ("model_usage", [["m"]]),
        ("model_usage", [[]]),
        ("rate_limits", None),
        ("rate_limits", [["5h", 1.0, 300, "2026-03-01T12:00:00Z"]]),
        ("rate_limits", [["5h"]]),
        ("usage_history", 5),
        ("usage_history", '[[1, "m", 1, 2, 3, 4, 0]]'),
        ("usage_history", "not json"),
        ("tokens", None),
        ("tokens", [1, 2]),
        ("tokens", {"input": 1, "source": "exact", "extra": 2}),
        ("started_at", "2026-03-01T12:00:00+02:00"),
        ("started_at", 7),
        ("last_activity", "garbage"),
        ("agent", 5),
        ("model", ["x"]),
        ("native_id", None),
        ("process", {"pid": 1}),
        ("unknown_key", 1),
        ("recent_tool_results", [1, 0]),
        ("messages_user", 1.5),
        ("title", 2**70),
    ]:
        cases.append((f"{name}={value!r}", {**base, name: value}))
    return cases


@pytest.mark.parametrize("history", [True, False])
@pytest.mark.parametrize(("label", "doc"), odd_documents(), ids=[c[0] for c in odd_documents()])
def test_an_odd_document_reads_as_the_plain_path_reads_it(
    typed: None, label: str, doc: Any, history: bool
) -> None:
    body = b"[" + orjson.dumps(session_to_dict(session("y"))) + b"," + json.dumps(doc).encode() + b"]"
    want = plain(body, history)
    got = through_typed(body, history)
    # None: the typed decoder refused the array, and the caller takes the plain path (want) instead.
    assert got is None or got == want, label


@pytest.mark.parametrize(
    "body", [b"", b"not json", b"{}", b"[1]", b"[[]]", b"[null]", b'[{"id": 1}]', b"[] trailing", b"\xff"]
)
def test_what_is_not_an_array_of_documents_is_left_to_the_plain_path(typed: None, body: bytes) -> None:
    assert codec.sessions_from_json(body) is None or codec.sessions_from_json(body) == plain(body, True)


def test_a_small_history_never_imports_msgspec(tmp_path: Path) -> None:
    """msgspec costs ~7 ms to import: a command that has not loaded it decodes its first TYPED_AFTER bytes
    the plain way, and only a larger history brings it in."""
    script = (
        "import sys, orjson\n"
        "from llm_session_manager import codec\n"
        "from factories import make_session\n"
        "body = orjson.dumps([codec.session_to_dict(make_session(str(i))) for i in range(3)])\n"
        "assert codec.sessions_from_json(body) is None\n"
        "assert 'msgspec' not in sys.modules\n"
        "big = orjson.dumps([codec.session_to_dict(make_session(str(i))) for i in range(2000)])\n"
        "assert len(big) < codec.TYPED_AFTER * 2\n"
        "first = codec.sessions_from_json(big)\n"
        "second = codec.sessions_from_json(big)\n"
        "assert 'msgspec' in sys.modules and first is None and second is not None and len(second) == 2000\n"
        "assert second == [codec.session_from_dict(d) for d in orjson.loads(big)]\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), *sys.path])}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
