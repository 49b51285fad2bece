"""Anthropic Messages API (``/v1/messages``) as Claude Code calls it with an API key.

- ``POST /v1/messages`` with ``stream: true``: server-sent events as the real API sends them
  (``message_start`` with the input-side usage, ``content_block_start/delta/stop``, ``message_delta`` with
  the final usage, ``message_stop``). The answer is text, or one ``tool_use`` block chosen by the newest
  user text's marker (``Bash``, ``Read``, the sub-agent tool ``Agent``/``Task``, whichever the request
  offers); once a ``tool_result`` came back, text. Non-streaming requests get the same message as JSON.
- ``POST /v1/messages/count_tokens``: ``{"input_tokens": n}``; ``GET /v1/models``: a one-model list;
  anything under ``/api/`` (Claude Code's own side services): an empty JSON object. All logged.

Usage in the Anthropic API's terms, from the stub's distinct per-call figures::

    input_tokens                = input        (uncached input only)
    cache_creation_input_tokens = cache_write
    cache_read_input_tokens     = cache_read
    output_tokens               = output       (message_start carries 1, message_delta the final figure)

Every answer is logged with ``usage`` (these wire fields), ``model``, ``scenario``, ``tool`` (the tool call
made), ``kind`` ("main" when the request offers tools the way the conversation loop does, else "side"),
``session`` (the ``x-claude-code-session-id`` header or the session in ``metadata.user_id``) and
``event``: "stream-done" once the last event went out.
"""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any

WIRE = "anthropic"
SLOW_SECONDS = 30
READ_OK = "notes.txt"
READ_MISSING = "no-such-file.txt"
COMMANDS = {"tool:ok": "echo lsm-ok", "tool:fail": "ls /nonexistent-lsm-path"}
SUBAGENT_PROMPT = "[[tool:ok]] Run the check command, then say done."
SUBAGENT_TOOLS = ("Agent", "Task")
CWD_IN_SYSTEM = re.compile(r"(?:Primary working directory|Working directory|cwd): *(/[^\s`]+)")
SESSION_IN_USER_ID = re.compile(r"session_([0-9a-f-]{36})")


def matches(method: str, path: str) -> bool:
    return path.startswith(("/v1/messages", "/v1/models", "/api/"))


def wire_usage(usage: dict[str, int]) -> dict[str, int]:
    return {
        "input_tokens": usage["input"],
        "cache_creation_input_tokens": usage["cache_write"],
        "cache_read_input_tokens": usage["cache_read"],
        "output_tokens": usage["output"],
    }


def _texts(content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "\n".join(
        b["text"]
        for b in content
        if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
    )


def _tool_results(content: Any) -> list[dict[str, Any]]:
    if not isinstance(content, list):
        return []
    out = []
    for b in content:
        if isinstance(b, dict) and b.get("type") == "tool_result":
            out.append(
                {
                    "tool_use_id": b.get("tool_use_id"),
                    "is_error": b.get("is_error") is True,
                    "content": _texts(b.get("content")) or str(b.get("content"))[:200],
                }
            )
    return out


def newest_user(body: Any) -> tuple[str, list[dict[str, Any]]]:
    """(text of the newest user message, its tool results when that message carries any)."""
    messages = body.get("messages") if isinstance(body, dict) else None
    for message in reversed(messages or []):
        if not isinstance(message, dict) or message.get("role") != "user":
            continue
        results = _tool_results(message.get("content"))
        if results:
            return "", results
        text = _texts(message.get("content"))
        if text.strip():
            return text, []
    return "", []


def marker_in(text: str) -> str:
    """The scenario marker of the user's own words (Claude Code adds <system-reminder> blocks, which
    never carry one)."""
    from stub import scenario

    return scenario(text)


def tool_names(body: Any) -> list[str]:
    tools = body.get("tools") if isinstance(body, dict) else None
    return [t["name"] for t in tools or [] if isinstance(t, dict) and isinstance(t.get("name"), str)]


def system_text(body: Any) -> str:
    system = body.get("system") if isinstance(body, dict) else None
    return system if isinstance(system, str) else _texts(system)


def working_dir(body: Any) -> str:
    found = CWD_IN_SYSTEM.search(system_text(body))
    if found:
        return found.group(1)
    for message in body.get("messages") or []:
        if isinstance(message, dict):
            found = CWD_IN_SYSTEM.search(_texts(message.get("content")))
            if found:
                return found.group(1)
    return os.getcwd()


def tool_call(marker: str, body: Any) -> dict[str, Any] | None:
    """The tool_use block a marker asks for (None when the request offers no such tool)."""
    names = tool_names(body)
    if marker in COMMANDS and "Bash" in names:
        return {"name": "Bash", "input": {"command": COMMANDS[marker], "description": "stub check"}}
    if marker in ("read:ok", "read:missing") and "Read" in names:
        name = READ_OK if marker == "read:ok" else READ_MISSING
        return {"name": "Read", "input": {"file_path": os.path.join(working_dir(body), name)}}
    if marker == "subagent":
        tool = next((n for n in SUBAGENT_TOOLS if n in names), None)
        if tool:
            return {
                "name": tool,
                "input": {
                    "description": "stub sub-task",
                    "prompt": SUBAGENT_PROMPT,
                    "subagent_type": "general-purpose",
                },
            }
    return None


def session_of(ex: Any) -> str | None:
    header = ex.headers.get("x-claude-code-session-id")
    if header:
        return str(header)
    metadata = ex.body.get("metadata") if isinstance(ex.body, dict) else None
    user_id = metadata.get("user_id") if isinstance(metadata, dict) else None
    if isinstance(user_id, str):
        found = SESSION_IN_USER_ID.search(user_id)
        if found:
            return found.group(1)
        try:
            parsed = json.loads(user_id)
        except ValueError:
            return None
        if isinstance(parsed, dict) and isinstance(parsed.get("session_id"), str):
            return parsed["session_id"]
    return None


def handle(ex: Any) -> None:
    if ex.path == "/v1/messages/count_tokens":
        n = len(json.dumps(ex.body or {})) // 4
        ex.log(wire=WIRE, event="count_tokens", input_tokens=n, session=session_of(ex))
        ex.send_json({"input_tokens": n})
    elif ex.path.startswith("/v1/models"):
        ex.log(wire=WIRE, event="models")
        model = {
            "type": "model",
            "id": "claude-opus-4-8",
            "display_name": "Opus 4.8",
            "created_at": "2026-01-01T00:00:00Z",
        }
        ex.send_json({"data": [model], "has_more": False, "first_id": model["id"], "last_id": model["id"]})
    elif ex.path == "/v1/messages" and ex.method == "POST":
        answer(ex)
    else:
        ex.log(wire=WIRE, event="side-service", headers=ex.public_headers())
        ex.send_json({})


def answer(ex: Any) -> None:
    body = ex.body if isinstance(ex.body, dict) else {}
    call, usage = ex.stub.next_call()
    text, results = newest_user(body)
    marker = "text" if results else marker_in(text)
    tool = None if marker in ("text", "slow") else tool_call(marker, body)
    model = str(body.get("model") or "claude-stub")
    names = tool_names(body)
    record = {
        "wire": WIRE,
        "call": call,
        "model": model,
        "scenario": marker,
        "tool_call": tool,
        "tool_results": results,
        "usage": wire_usage(usage),
        "kind": "main" if "Bash" in names else "side",
        "tools": names,
        "session": session_of(ex),
        "stream": body.get("stream") is True,
        "max_tokens": body.get("max_tokens"),
        "system_head": system_text(body)[:160],
        "user_head": text[:160],
        "headers": {
            k: v
            for k, v in ex.public_headers().items()
            if k.startswith(("x-claude", "anthropic", "user-agent", "x-app"))
        },
    }
    msg_id = f"msg_stub{call:04d}"
    blocks = _blocks(call, marker, tool)
    ex.log(event="answer", **record)
    if not record["stream"]:
        ex.send_json(_message(msg_id, model, blocks, usage, final=True))
        ex.log(wire=WIRE, event="stream-done", call=call)
        return
    start_sse(ex, f"req_stub{call:04d}")
    start = _message(msg_id, model, [], usage, final=False)
    ex.sse({"type": "message_start", "message": start}, event="message_start")
    ex.sse({"type": "ping"}, event="ping")
    for index, block in enumerate(blocks):
        _stream_block(ex, index, block, slow=marker == "slow")
    delta = {
        "type": "message_delta",
        "delta": {"stop_reason": "tool_use" if tool else "end_turn", "stop_sequence": None},
        "usage": wire_usage(usage),
    }
    ex.sse(delta, event="message_delta")
    ex.sse({"type": "message_stop"}, event="message_stop")
    ex.log(wire=WIRE, event="stream-done", call=call)


def start_sse(ex: Any, request_id: str) -> None:
    """Headers of an event stream, with the ``request-id`` the real API sends (Claude Code writes it
    as the line's ``requestId``)."""
    h = ex.handler
    h.send_response(200)
    h.send_header("Content-Type", "text/event-stream")
    h.send_header("Cache-Control", "no-cache")
    h.send_header("request-id", request_id)
    h.send_header("Connection", "close")
    h.end_headers()
    h.close_connection = True


def _blocks(call: int, marker: str, tool: dict[str, Any] | None) -> list[dict[str, Any]]:
    if tool:
        return [
            {"type": "text", "text": f"Calling {tool['name']} (stub call {call})."},
            {"type": "tool_use", "id": f"toolu_stub{call:04d}", "name": tool["name"], "input": tool["input"]},
        ]
    if marker == "slow":
        return [{"type": "text", "text": f"A long answer begins (stub call {call}) and then it goes on."}]
    return [{"type": "text", "text": f"Stub answer {call}: done."}]


def _message(
    msg_id: str, model: str, blocks: list[dict[str, Any]], usage: dict[str, int], final: bool
) -> dict[str, Any]:
    wire = wire_usage(usage)
    if not final:
        wire["output_tokens"] = 1
    return {
        "id": msg_id,
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": blocks,
        "stop_reason": ("tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn")
        if final
        else None,
        "stop_sequence": None,
        "usage": {**wire, "service_tier": "standard"},
    }


def _stream_block(ex: Any, index: int, block: dict[str, Any], slow: bool) -> None:
    if block["type"] == "text":
        ex.sse(
            {"type": "content_block_start", "index": index, "content_block": {"type": "text", "text": ""}},
            event="content_block_start",
        )
        words = block["text"].split(" ")
        half = len(words) // 2
        ex.sse(
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "text_delta", "text": " ".join(words[:half]) + " "},
            },
            event="content_block_delta",
        )
        if slow:
            ex.log(wire=WIRE, event="slow", scenario="slow")
            time.sleep(SLOW_SECONDS)
        ex.sse(
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "text_delta", "text": " ".join(words[half:])},
            },
            event="content_block_delta",
        )
    else:
        start = {**block, "input": {}}
        ex.sse(
            {"type": "content_block_start", "index": index, "content_block": start},
            event="content_block_start",
        )
        ex.sse(
            {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "input_json_delta", "partial_json": json.dumps(block["input"])},
            },
            event="content_block_delta",
        )
    ex.sse({"type": "content_block_stop", "index": index}, event="content_block_stop")
