"""The Claude Code reader decodes user and assistant lines into typed structs (skipping tool output,
thinking and tool inputs): the file states must be exactly those of decoding every line as a dict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from claude_corpus import generate
from real_fixtures import REAL

from llm_session_manager.agents import claude_code
from llm_session_manager.agents.claude_code import ClaudeCodeReader, decode_line

HOSTILE: list[Any] = [
    {"type": "user", "message": "a string, not an object"},
    {"type": "user", "message": {"content": ["a string block", {"type": "text", "text": "hi there"}]}},
    {"type": "user", "message": {"content": [{"type": "text", "text": ["not", "a", "string"]}]}},
    {"type": "user", "message": {"content": {"an": "object"}}},
    {"type": "user", "isMeta": True, "message": {"content": "a meta prompt"}},
    {
        "type": "user",
        "message": {"content": [{"type": "tool_result", "tool_use_id": ["x"], "is_error": True}]},
    },
    {"type": "user", "message": {"content": [{"type": "text", "text": "[Request interrupted by user]"}]}},
    {
        "type": "user",
        "message": {"content": [{"type": "tool_result", "is_error": 1}, {"type": "tool_result"}]},
    },
    {"type": "user", "isCompactSummary": 1, "message": {"content": [{"type": "text", "text": "summary"}]}},
    {"type": "assistant", "uuid": "u-1", "message": {"model": "m", "usage": {"input_tokens": 5}}},
    {"type": "assistant", "message": {"model": "m", "usage": {"input_tokens": 5}}},
    {"type": "assistant", "message": {"id": "", "model": "m", "usage": {"input_tokens": 5}}},
    {"type": "assistant", "message": {"id": "a", "usage": {"input_tokens": 10**30}}},
    {"type": "assistant", "message": {"id": "b", "usage": {"input_tokens": -1}}},
    {"type": "assistant", "message": {"id": "c", "usage": "none"}},
    {
        "type": "assistant",
        "message": {"id": "d", "content": [{"type": "tool_use", "id": "t", "input": "ls"}]},
    },
    {
        "type": "assistant",
        "requestId": "r",
        "isApiErrorMessage": True,
        "error": "authentication_failed",
        "costUSD": 0.5,
        "message": {
            "id": "e",
            "model": "<synthetic>",
            "usage": {"input_tokens": 1, "cache_creation": {"ephemeral_1h_input_tokens": 3}},
            "content": [
                {"type": "text", "text": "401 Prompt is too long"},
                {"type": "thinking", "thinking": "x"},
            ],
        },
    },
    {"type": "assistant", "costUSD": "free", "message": {"id": "f", "usage": {"input_tokens": 1}}},
    {"type": "assistant", "timestamp": 12, "cwd": 5, "gitBranch": ["b"], "message": {"id": "g"}},
    {"type": "assistant", "isSidechain": True, "cwd": "/side", "message": {"id": "h", "usage": {}}},
    {"type": "system", "subtype": "compact_boundary", "message": {"id": "i"}},
    {"type": "assistant", "message": None},
    # Usage and text blocks are structs and raw text too: every shape of them folds as the dict does.
    {"type": "assistant", "message": {"id": "j", "usage": {"input_tokens": 1, "cache_creation": 5}}},
    {"type": "assistant", "message": {"id": "k", "usage": {"cache_creation": None, "output_tokens": 2.5}}},
    {
        "type": "assistant",
        "message": {"id": "l", "usage": {"cache_creation": {}, "cache_read_input_tokens": 7}},
    },
    {"type": "assistant", "message": {"id": "m", "usage": None}},
    {"type": "assistant", "message": {"id": "n", "usage": [1]}},
    {
        "type": "assistant",
        "isApiErrorMessage": True,
        "message": {
            "id": "o",
            "usage": {"input_tokens": 2},
            "content": [
                {"type": "text"},
                {"type": "text", "text": 7},
                {"type": "text", "text": "Prompt is too long"},
            ],
        },
    },
    {
        "type": "user",
        "message": {
            "content": [
                {"type": "text"},
                {"type": "text", "text": None},
                {"type": "text", "text": "[Request interrupted by user for tool use]"},
                {"type": "text", "text": 'a prompt \u00e9 \\ "quoted"'},
                {"type": "tool_result", "tool_use_id": "t", "is_error": True},
            ]
        },
    },
    {"type": "user", "message": {"content": [{"type": "text", "text": "<command-name>/x</command-name>"}]}},
    # Lines of other types are typed too, for their time, place and an attachment's model identity.
    {
        "type": "attachment",
        "timestamp": "2025-01-01T10:00:00.000Z",
        "cwd": "/attached",
        "gitBranch": "feature",
        "attachment": {"type": "skill_listing", "content": "- a skill", "identity": {"modelId": "opus[1m]"}},
    },
    {"type": "attachment", "isSidechain": True, "gitBranch": "side", "attachment": {"identity": "opus[1m]"}},
    {"type": "attachment", "attachment": "a string"},
    {"type": "attachment", "attachment": {"identity": {"modelId": 5}}, "message": None},
    {
        "type": "progress",
        "timestamp": "2025-01-01T11:00:00+02:00",
        "data": {"message": {"type": "assistant"}},
    },
    {"type": "progress", "message": {"id": "p", "usage": {"input_tokens": 3}}},
    {"type": "progress", "message": "a string"},
    {"type": "mode", "mode": "normal", "timestamp": "2025-01-01T12:00:00.000Z"},
    {"type": "queue-operation", "operation": "enqueue", "timestamp": "1999-01-01T00:00:00.000Z"},
    {"type": 5, "timestamp": "2031-01-01T00:00:00.000Z"},
    {"timestamp": "2030-01-01T00:00:00.000Z", "gitBranch": "HEAD"},
]


def states(root: Path, typed: bool, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    with monkeypatch.context() as patch:
        # The Python folds against each other: the compiled one is held to them in test_claude_fold.py.
        patch.setattr(claude_code, "_fast", None)
        patch.setattr(claude_code, "_fast_tried", True)
        if not typed:
            patch.setattr(claude_code, "decode_line", lambda data, raw: claude_code._loads(raw))
        reader = ClaudeCodeReader([root])
        return {path: reader.read(path, key, None).data for path, key, _ident in reader.sources()}


@pytest.mark.parametrize("seed", [0, 4])
def test_typed_and_plain_decoding_give_the_same_states(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(tmp_path / "claude", sessions=30, seed=seed)
    project = tmp_path / "claude" / "projects" / "-hostile"
    project.mkdir()
    lines = [json.dumps(obj) for obj in HOSTILE] + ['{"type":"user","message":{"content":"bad \xff byte"}}']
    (project / "h.jsonl").write_bytes("\n".join(lines).encode("utf-8", "surrogateescape") + b"\n")
    root = tmp_path / "claude" / "projects"
    typed = states(root, True, monkeypatch)
    assert typed == states(root, False, monkeypatch)
    assert any(d["entries"] for d in typed.values())


def test_real_captures_decode_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    roots = sorted(p for p in REAL.glob("claude*/**/projects") if p.is_dir())
    assert roots, "real Claude Code captures are in tests/fixtures/real"
    for root in roots:
        assert states(root, True, monkeypatch) == states(root, False, monkeypatch), root


def test_which_lines_are_typed() -> None:
    fork = {"fork": True}
    plain = {"fork": False}
    assert type(decode_line(plain, b'{"type":"assistant","message":{"id":"x"}}')).__name__ == "Line"
    assert isinstance(decode_line(fork, b'{"type":"assistant","message":{"id":"x"}}'), dict)
    assert isinstance(decode_line(plain, b'{"type":"summary","summary":"s"}'), dict)
    assert type(decode_line(plain, b'{"type":"attachment","attachment":{"content":"x"}}')).__name__ == "Line"
    assert isinstance(decode_line(plain, b'{"type":"mode","mode":"normal"}'), dict)
    assert isinstance(decode_line(plain, b'{"type":"progress","message":{"id":"x"}}'), dict)
    assert isinstance(decode_line(plain, b'{"type":"user","message":"s"}'), dict)
    with pytest.raises(ValueError):
        decode_line(plain, b'{"type":"user",')
