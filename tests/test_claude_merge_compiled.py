"""The merge's compiled loops (agents/_claude_fold.c): a session's per-minute usage history and the
per-session, per-model totals give exactly what the Python loops give, in the same order and with the
same types, on generated sessions and on entries no fold writes; for anything unusual they answer None
and Python works it out (or raises, as it always did). Fails, not skips, where the module was not
built."""

from __future__ import annotations

import random
import zlib
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from claude_corpus import generate

from llm_session_manager.agents import claude_code
from llm_session_manager.agents.base import FileState
from llm_session_manager.agents.claude_code import SYNTHETIC, ClaudeCodeReader

CANONICAL = "2025-11-06T13:56:27.816Z"


@pytest.fixture(scope="module")
def compiled() -> Any:
    assert claude_code.compiled_fold() is not None, "the compiled module was not built (pip install -e .)"
    from llm_session_manager.agents import _claude_fold

    return _claude_fold


@pytest.fixture
def python_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The Python loops, the compiled ones set aside."""
    monkeypatch.setattr(claude_code, "_fast_history", None)
    monkeypatch.setattr(claude_code, "_fast_aggregate", None)
    monkeypatch.setattr(claude_code, "_fast_drop", None)
    yield


def python_history(entries: list[list[Any]], monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as m:
        m.setattr(claude_code, "_fast_history", None)
        return claude_code._usage_history(entries)


def python_totals(best: dict[str, list[Any]], owner: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Any:
    with monkeypatch.context() as m:
        m.setattr(claude_code, "_fast_aggregate", None)
        return claude_code._aggregate(best, owner)


def same(a: Any, b: Any) -> bool:
    """Equal, in the same order, with the same types all the way down."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def entry(model: Any, counts: tuple[Any, ...], side: Any = False, ts: Any = CANONICAL) -> list[Any]:
    return [model, *counts, side, ts]


def test_generated_sessions_merge_the_same(
    compiled: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(tmp_path / "claude", sessions=40, seed=11)
    reader = ClaudeCodeReader([tmp_path / "claude" / "projects"])
    states = [reader.read(path, key, None) for path, key, _ident in reader.sources()]
    best, owner = claude_code._dedup_across_files(states)
    totals = compiled.aggregate(best, owner)
    assert totals and same(totals, python_totals(best, owner, monkeypatch))
    owned: dict[str, list[list[Any]]] = {}
    for key, e in best.items():
        owned.setdefault(owner[key], []).append(e)
    checked = 0
    for entries in owned.values():
        history = compiled.usage_history(entries)
        assert history is not None and same(history, python_history(entries, monkeypatch))
        checked += len(history)
    assert checked > 100
    monkeypatch.setattr(claude_code, "_fast_history", compiled.usage_history)
    monkeypatch.setattr(claude_code, "_fast_aggregate", compiled.aggregate)
    monkeypatch.setattr(claude_code, "_fast_drop", compiled.drop_replays)
    with_c = reader.sessions(states)
    monkeypatch.setattr(claude_code, "_fast_history", None)
    monkeypatch.setattr(claude_code, "_fast_aggregate", None)
    monkeypatch.setattr(claude_code, "_fast_drop", None)
    assert with_c == reader.sessions(states)


def random_entries(rng: random.Random, n: int) -> list[list[Any]]:
    models = ["claude-opus-4-5", "claude-sonnet-4-5", "", None, SYNTHETIC, "claude-ü-é", "claude-😀"]
    out = []
    for _ in range(n):
        minute = rng.choice([rng.randrange(29_000_000, 29_000_100), None])
        ts: Any = (
            minute
            if minute is None or rng.random() < 0.5
            else f"2025-03-{rng.randrange(1, 29):02d}T{rng.randrange(24):02d}:{rng.randrange(60):02d}:00.000Z"
        )
        counts = tuple(rng.choice([0, 1, 150_000, 2**40, rng.randrange(1000)]) for _ in range(5))
        out.append(entry(rng.choice(models), counts, rng.random() < 0.2, ts))
    return out


@pytest.mark.parametrize("seed", range(40))
def test_random_entries_merge_the_same(compiled: Any, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    entries = random_entries(rng, rng.randrange(0, 300))
    history = compiled.usage_history(entries)
    assert history is not None and same(history, python_history(entries, monkeypatch))
    best = {f"msg_{i}|req_{i % 7}": e for i, e in enumerate(entries)}
    owner = {key: f"session-{rng.randrange(4)}" for key in best}
    totals = compiled.aggregate(best, owner)
    assert totals is not None and same(totals, python_totals(best, owner, monkeypatch))


ODD_HISTORIES = [
    [entry("m", (1, 2, 3, 4, 5), ts="2025-11-06 13:56:27.816Z")],  # a stamp _minute parses whole
    [entry("m", (1, 2, 3, 4, 5), ts="not a stamp")],
    [entry("m", (1.5, 2, 3, 4, 5))],  # a count no fold writes
    [entry("m", (True, 2, 3, 4, 5))],
    [entry("m", (2**70, 2, 3, 4, 5))],  # beyond 64 bits
    [entry("m", (2**62, 0, 0, 0, 0)), entry("m", (2**62, 0, 0, 0, 0))],  # a sum beyond 64 bits
    [entry(7, (1, 2, 3, 4, 5))],  # a model that is not a str
    [entry("m", (1, 2, 3, 4, 5), ts=2**70)],
    [("m", 1, 2, 3, 4, 5, False, CANONICAL)],  # not a list
]


@pytest.mark.parametrize("entries", ODD_HISTORIES)
def test_what_no_fold_writes_is_left_to_python(
    compiled: Any, entries: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert compiled.usage_history(entries) is None
    try:
        expected = python_history(entries, monkeypatch)
    except Exception as exc:
        with pytest.raises(type(exc)):
            claude_code._usage_history(entries)
    else:
        assert same(claude_code._usage_history(entries), expected)


def test_short_entries_none_stamps_and_the_synthetic_model_are_skipped_alike(
    compiled: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    entries = [
        ["m", 1, 2, 3, 4, 5, False],  # no timestamp slot
        entry("m", (1, 2, 3, 4, 5), ts=None),
        entry(SYNTHETIC, (9, 9, 9, 9, 9)),
        entry(None, (1, 1, 1, 1, 1)),
        entry("", (2, 2, 2, 2, 2)),
        entry("m", (1, 2, 3, 4, 5), ts=29_000_000),
        entry("m", (1, 2, 3, 4, 5), ts=29_000_000),
    ]
    history = compiled.usage_history(entries)
    assert same(history, python_history(entries, monkeypatch))
    assert history[0] == (29_000_000, "m", 2, 4, 6, 8, 10)  # the earliest minute first
    assert [row[1] for row in history].count("unknown") == 1  # None and "" are both "unknown"


ODD_TOTALS: list[tuple[dict[str, Any], dict[str, str]]] = [
    ({"a|1": entry("m", (1, 2, 3, 4, 5))}, {}),  # a message nobody owns: Python raises KeyError
    ({"a|1": ["m", 1, 2]}, {"a|1": "s"}),  # too short
    ({"a|1": entry("m", (1.0, 2, 3, 4, 5))}, {"a|1": "s"}),
    ({"a|1": entry(["m"], (1, 2, 3, 4, 5))}, {"a|1": "s"}),
    ({"a|1": entry("m", (2**63 - 1, 0, 1, 0, 0))}, {"a|1": "s"}),  # input + cache beyond 64 bits
]


@pytest.mark.parametrize(("best", "owner"), ODD_TOTALS)
def test_totals_no_fold_writes_are_left_to_python(
    compiled: Any, best: dict[str, Any], owner: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert compiled.aggregate(best, owner) is None
    try:
        expected = python_totals(best, owner, monkeypatch)
    except Exception as exc:
        with pytest.raises(type(exc)):
            claude_code._aggregate(best, owner)
    else:
        assert same(claude_code._aggregate(best, owner), expected)


def test_the_long_context_tier_starts_above_200k(compiled: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    best = {
        "a|1": entry("m", (100_000, 1, 50_000, 50_000, 0)),  # exactly 200k: standard
        "b|1": entry("m", (100_000, 1, 50_000, 50_001, 0)),  # one more: long context
        "c|1": entry(SYNTHETIC, (1, 1, 1, 1, 1)),
        "d|1": entry(None, (1, 0, 0, 0, 0)),
    }
    owner = dict.fromkeys(best, "s")
    totals = compiled.aggregate(best, owner)
    assert same(totals, python_totals(best, owner, monkeypatch))
    assert totals == {
        "s": {
            "m": [100_000, 1, 50_000, 50_000, 0, 100_000, 1, 50_000, 50_001, 0],
            "unknown": [1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
        }
    }


# --------------------------------------------------------------------------------------------------
# Sidechain replays: one entry per message id a sidechain entry has, a main-chain one when there is one


def python_dropped(best: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    kept = dict(best)
    with monkeypatch.context() as m:
        m.setattr(claude_code, "_fast_drop", None)
        claude_code._drop_sidechain_replays(kept)
    return kept


@pytest.mark.parametrize("seed", range(40))
def test_random_replays_are_dropped_alike(compiled: Any, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = random.Random(seed)
    best: dict[str, Any] = {}
    for i in range(rng.randrange(0, 200)):
        msg = f"msg_{rng.randrange(30)}"
        key = msg if rng.random() < 0.1 else f"{msg}|req_{i}"
        side: Any = rng.choice([True, False, 0, 1])
        best[key] = entry("m", (i, 0, 0, 0, 0), side)
    kept = dict(best)
    assert compiled.drop_replays(kept) is True
    expected = python_dropped(best, monkeypatch)
    assert list(kept) == list(expected) and same(kept, expected)


def test_a_main_chain_entry_is_kept_over_its_replays(compiled: Any) -> None:
    best = {
        "a|1": entry("m", (1, 0, 0, 0, 0), side=1),
        "a|2": entry("m", (2, 0, 0, 0, 0), side=0),
        "a|3": entry("m", (3, 0, 0, 0, 0), side=True),
        "b|1": entry("m", (4, 0, 0, 0, 0), side=True),  # only sidechain copies: the first is kept
        "b|2": entry("m", (5, 0, 0, 0, 0), side=True),
        "c|1": entry("m", (6, 0, 0, 0, 0), side=False),  # no sidechain entry: untouched
        "c|2": entry("m", (7, 0, 0, 0, 0), side=False),
    }
    assert compiled.drop_replays(best) is True
    assert list(best) == ["a|2", "b|1", "c|1", "c|2"]


@pytest.mark.parametrize(
    "best",
    [
        {7: entry("m", (1, 0, 0, 0, 0), side=True)},  # a key that is not a str
        {"a|1": ("m", 1, 0, 0, 0, 0, True, CANONICAL)},  # not a list
        {"a|1": ["m", 1, 0]},  # too short
        {"a|1": entry("m", (1, 0, 0, 0, 0), side="yes"), "a|2": entry("m", (1, 0, 0, 0, 0), side=True)},
    ],
)
def test_replays_no_fold_writes_are_left_to_python(compiled: Any, best: dict[Any, Any]) -> None:
    before = dict(best)
    assert compiled.drop_replays(best) is False
    assert best == before and list(best) == list(before)


def test_the_module_refuses_an_entry_layout_it_was_not_written_for(compiled: Any) -> None:
    """The loops read an entry's counts and flags by position: a claude_code whose positions moved is
    refused at configure (and nothing runs half configured), so Python does everything."""
    import types

    moved = types.SimpleNamespace(**{name: getattr(claude_code, name) for name in dir(claude_code)})
    moved.E_SIDE = claude_code.E_SIDE + 1
    try:
        with pytest.raises(ValueError, match="E_SIDE"):
            compiled.configure(moved)
        with pytest.raises(RuntimeError, match="configure"):
            compiled.usage_history([])
        with pytest.raises(RuntimeError, match="configure"):
            compiled.aggregate({}, {})
        with pytest.raises(RuntimeError, match="configure"):
            compiled.drop_replays({})
        with pytest.raises(RuntimeError, match="configure"):
            compiled.message_hashes({})
    finally:
        compiled.configure(claude_code)
    assert compiled.usage_history([]) == ()


# --- the messages a file holds, hashed (message_hashes) ----------------------------------------------------


def python_hashes(entries: Any) -> bytes:
    """What scan grouped the sessions by before the compiled module hashed them: zlib's CRC-32 of each
    distinct message id, in any order (sorted here, as the compiled module returns them)."""
    return array("I", sorted({zlib.crc32(k.partition("|")[0].encode()) for k in entries})).tobytes()


def test_generated_files_hash_their_messages_alike(compiled: Any, tmp_path: Path) -> None:
    generate(tmp_path / "claude", sessions=40, seed=5)
    reader = ClaudeCodeReader([tmp_path / "claude" / "projects"])
    states = [reader.read(path, key, None) for path, key, _ident in reader.sources()]
    assert sum(len(s.data["entries"]) for s in states) > 200
    for state in states:
        hashed = compiled.message_hashes(state.data["entries"])
        assert hashed == python_hashes(state.data["entries"]) == reader.message_hashes(state)


@pytest.mark.parametrize("seed", range(20))
def test_random_message_ids_hash_alike(compiled: Any, seed: int) -> None:
    rng = random.Random(seed)
    alphabet = "ab|é€😀\x00 \u2028z"
    entries = {
        "".join(rng.choice(alphabet) for _ in range(rng.randrange(0, 12))): []
        for _ in range(rng.randrange(0, 60))
    }
    assert compiled.message_hashes(entries) == python_hashes(entries)


@pytest.mark.parametrize(
    "entries",
    [
        {},
        {"": []},
        {"|": [], "||x": []},
        {"msg_1|req_1": [], "msg_1|req_2": [], "msg_1": []},  # one message under three keys: hashed once
    ],
)
def test_edge_keys_hash_alike(compiled: Any, entries: dict[str, Any]) -> None:
    assert compiled.message_hashes(entries) == python_hashes(entries)


@pytest.mark.parametrize(
    "entries",
    [
        [],
        {1: []},
        {b"abc": []},
        {"\ud800|x": []},  # an id UTF-8 cannot encode
        {"abc|\ud800": []},  # a lone surrogate after the id: Python encodes only the id
    ],
)
def test_hashes_no_fold_writes_are_left_to_python(compiled: Any, entries: Any) -> None:
    """Not a dict, a key that is not a str, a key UTF-8 cannot encode: None, and the reader hashes them in
    Python (or raises as it did)."""
    assert compiled.message_hashes(entries) is None
    state = FileState("/p.jsonl", "s", (0, 0, 0, 0), 0, b"", {"entries": entries})
    try:
        want: Any = python_hashes(entries)
    except Exception as exc:
        with pytest.raises(type(exc)):
            ClaudeCodeReader.message_hashes(state)
    else:
        assert ClaudeCodeReader.message_hashes(state) == want
