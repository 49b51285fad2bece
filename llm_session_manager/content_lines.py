"""One line of an append-only JSONL transcript as conversation turns, for the content index.

Each agent's line is turned into turns by the same function its conversation reader (``lsm export``)
uses, so search and export agree on what was said. Claude Code's lines are first decoded into a few
msgspec structs that name only what a turn needs: a tool result's body (often the largest part of a
line) and the bulk of a tool's input (a file written whole) are left undecoded unless they are indexed
(a tool error, or ``search.index_tool_output``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
import orjson

from llm_session_manager.agents.base import Turn
from llm_session_manager.timefmt import canonical_ts

# Tool input keys whose (short) values say what a tool did: a command, a file, a search.
INPUT_KEYS = (
    "command",
    "cmd",
    "file_path",
    "path",
    "paths",
    "notebook_path",
    "absolute_path",
    "dir_path",
    "directory",
    "target_file",
    "filename",
    "pattern",
    "glob",
    "query",
    "url",
    "description",
    "workdir",
    "cwd",
    "input",
    "patch",
)


class _Input(msgspec.Struct):
    command: Any = None
    cmd: Any = None
    file_path: Any = None
    path: Any = None
    paths: Any = None
    notebook_path: Any = None
    absolute_path: Any = None
    dir_path: Any = None
    directory: Any = None
    target_file: Any = None
    filename: Any = None
    pattern: Any = None
    glob: Any = None
    query: Any = None
    url: Any = None
    description: Any = None
    workdir: Any = None
    cwd: Any = None
    input: Any = None
    patch: Any = None


class _Block(msgspec.Struct):
    type: Any = None
    text: Any = None
    id: Any = None
    name: Any = None
    tool_use_id: Any = None
    is_error: Any = None
    input: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)  # empty when absent
    content: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)


class _Message(msgspec.Struct):
    role: Any = None
    id: Any = None
    model: Any = None
    content: str | list[_Block] | None = None


class _Line(msgspec.Struct):
    type: Any = None
    subtype: Any = None
    timestamp: Any = None
    isSidechain: Any = None  # the transcript's own names
    isMeta: Any = None
    isCompactSummary: Any = None
    message: _Message | None = None


_decode_line = msgspec.json.Decoder(_Line).decode
_decode_input = msgspec.json.Decoder(_Input).decode


def _lite_input(raw: msgspec.Raw) -> Any:
    """A tool's input with only the keys that say what it did (a string input, e.g. a patch, whole)."""
    if not raw:
        return None
    try:
        found = _decode_input(raw)
    except msgspec.ValidationError:  # not an object: a string or a list, small enough to decode
        return orjson.loads(bytes(raw))
    return {k: v for k in INPUT_KEYS if (v := getattr(found, k)) is not None}


def _block(block: _Block, bodies: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": block.type,
        "text": block.text,
        "id": block.id,
        "name": block.name,
        "tool_use_id": block.tool_use_id,
        "is_error": block.is_error,
    }
    if block.type == "tool_use":
        out["input"] = (
            orjson.loads(bytes(block.input)) if bodies and block.input else _lite_input(block.input)
        )
    elif block.type == "tool_result":
        wanted = bodies or block.is_error is True
        out["content"] = orjson.loads(bytes(block.content)) if wanted and block.content else ""
    return out


def claude_turns(raw: bytes, bodies: bool) -> list[Turn]:
    """The turns of one Claude Code line (``bodies``: keep tool inputs and results whole)."""
    from llm_session_manager.agents.claude_code import _turn_from_line

    if not bodies and _only_results(raw):
        return []
    try:
        line = _decode_line(raw)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return _claude_turns_slow(raw)
    if line.isSidechain is True or line.message is None:
        obj: dict[str, Any] = {"type": line.type, "subtype": line.subtype, "timestamp": line.timestamp}
    else:
        msg = line.message
        body = msg.content if isinstance(msg.content, str) or msg.content is None else None
        blocks = [_block(b, bodies) for b in msg.content] if isinstance(msg.content, list) else None
        obj = {
            "type": line.type,
            "subtype": line.subtype,
            "timestamp": line.timestamp,
            "isMeta": line.isMeta,
            "isCompactSummary": line.isCompactSummary,
            "message": {"role": msg.role, "id": msg.id, "model": msg.model, "content": blocks or body},
        }
    if line.isSidechain is True:
        return []
    turn = _turn_from_line(obj)
    return [turn] if turn is not None else []


def _only_results(raw: bytes) -> bool:
    """A line of tool results only, none an error (no text block, no ``true`` after ``is_error``): it
    says nothing the index keeps without tool outputs. A third of a transcript's bytes, often."""
    return (
        b'"tool_result"' in raw
        and b'"text"' not in raw
        and b'"is_error":true' not in raw
        and b'"is_error": true' not in raw
    )


def _claude_turns_slow(raw: bytes) -> list[Turn]:
    """A line of an unexpected shape, decoded whole."""
    from llm_session_manager.agents.claude_code import _turn_from_line

    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return []
    if not isinstance(obj, dict) or obj.get("isSidechain") is True:
        return []
    turn = _turn_from_line(obj)
    return [turn] if turn is not None else []


def codex_turns(raw: bytes, bodies: bool) -> list[Turn]:
    """The turns of one Codex rollout line (a ``response_item``)."""
    from llm_session_manager.agents.codex import _conversation_turn

    if b'"response_item"' not in raw:  # session_meta, event_msg, turn_context: nothing said
        return []
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return []
    payload = obj.get("payload") if isinstance(obj, dict) else None
    if obj.get("type") != "response_item" or not isinstance(payload, dict):
        return []
    turn = _conversation_turn(payload, canonical_ts(obj.get("timestamp")))
    return [turn] if turn is not None else []


# Agent -> what one line of its transcript says.
LINE_TURNS: dict[str, Callable[[bytes, bool], list[Turn]]] = {
    "claude-code": claude_turns,
    "codex": codex_turns,
}
