"""OpenAI Responses API, streaming (Codex CLI), served under ``/codex/v1`` so no other wire's routes clash.

Codex is pointed here with a ``[model_providers.stub]`` whose ``base_url`` is ``http://127.0.0.1:PORT/codex/v1``
and ``wire_api = "responses"``. A turn is ``POST /codex/v1/responses`` with ``stream: true``; the answer is
server-sent events: ``response.created``, ``response.output_item.added`` / ``.done`` per output item,
``response.output_text.delta`` for text, and ``response.completed`` carrying the usage.

Usage in the wire's terms (what Codex copies into its ``token_count`` events): ``input_tokens`` includes the
cached and cache-write tokens (``input_tokens_details.cached_tokens`` / ``cache_write_tokens``),
``output_tokens`` includes ``output_tokens_details.reasoning_tokens``, ``total_tokens`` is input + output.

Tool calls. Models in "code mode" (Codex 0.171's default) get one freeform tool, ``exec``, in the
``functions`` namespace; it runs JavaScript that calls the nested ``tools.exec_command``. Models with plain
function tools get ``exec_command`` (or ``shell_command`` / ``shell``) called directly. Either way one shell
command runs per marker; ``[[slow]]`` runs ``sleep 60`` so the agent can be killed mid-tool.
"""

from __future__ import annotations

import json
from typing import Any

from stub import scenario

WIRE = "responses"
PREFIX = "/codex/v1"
REASONING = 3  # reasoning tokens reported inside output_tokens
# The shell command each marker runs (cwd: the session's work folder, where notes.txt exists).
COMMANDS = {
    "tool:ok": "echo lsm-stub-ok",
    "tool:fail": "ls /nonexistent-lsm-stub-path",
    "read:ok": "cat notes.txt",
    "read:missing": "cat missing-lsm-stub.txt",
    "slow": "sleep 60",
}
OUTPUT_TYPES = {"function_call_output", "custom_tool_call_output", "tool_search_output"}
SHELL_TOOLS = ("exec_command", "shell_command", "shell")
TITLE_SOURCE = "thread_title"  # x-codex-turn-metadata.thread_source of the TUI's title call


def matches(method: str, path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


def wire_usage(u: dict[str, int]) -> dict[str, Any]:
    """The stub's distinct figures in the Responses API's terms (cached and cache-write inside input)."""
    total_in = u["input"] + u["cache_read"] + u["cache_write"]
    return {
        "input_tokens": total_in,
        "input_tokens_details": {"cached_tokens": u["cache_read"], "cache_write_tokens": u["cache_write"]},
        "output_tokens": u["output"],
        "output_tokens_details": {"reasoning_tokens": REASONING},
        "total_tokens": total_in + u["output"],
    }


def _text_of(item: dict[str, Any]) -> str:
    content = item.get("content")
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    return "\n".join(str(c.get("text") or "") for c in content if isinstance(c, dict))


def turn_state(items: list[Any]) -> tuple[str, bool]:
    """(the newest user text, whether a tool result came back after it)."""
    for i in range(len(items) - 1, -1, -1):
        item = items[i]
        if not isinstance(item, dict):
            continue
        if item.get("type", "message") == "message" and item.get("role") == "user":
            text = _text_of(item)
            if text.lstrip().startswith("<"):  # injected context (environment, instructions)
                continue
            answered = any(isinstance(x, dict) and x.get("type") in OUTPUT_TYPES for x in items[i + 1 :])
            return text, answered
    return "", False


def tool_names(body: dict[str, Any]) -> dict[str, str]:
    """Tool name -> kind ("function", "custom") over ``tools`` and the ``developer`` item's tools
    (Responses-lite puts them in the input), namespaces flattened as ``ns.name``."""
    found: dict[str, str] = {}

    def walk(tools: Any, ns: str = "") -> None:
        for tool in tools if isinstance(tools, list) else []:
            if not isinstance(tool, dict):
                continue
            name = str(tool.get("name") or tool.get("type") or "")
            if tool.get("type") == "namespace":
                walk(tool.get("tools"), name)
            else:
                found[f"{ns}.{name}" if ns else name] = str(tool.get("type"))

    walk(body.get("tools"))
    for item in body.get("input") or []:
        if isinstance(item, dict) and isinstance(item.get("tools"), list):
            walk(item["tools"])
    return found


def tool_call(n: int, command: str, tools: dict[str, str]) -> dict[str, Any]:
    """The output item that runs ``command``: code mode's ``exec`` when offered, else a shell function."""
    call_id = f"call_stub_{n}"
    if "functions.exec" in tools or "exec" in tools:
        code = f"const r = await tools.exec_command({{cmd: {json.dumps(command)}}});\n"
        code += "text(JSON.stringify(r));\n"
        item = {"type": "custom_tool_call", "id": f"ctc_{n}", "call_id": call_id, "name": "exec"}
        item["input"] = code
        if "functions.exec" in tools:
            item["namespace"] = "functions"
        return item
    for name in SHELL_TOOLS:
        for key in (name, f"functions.{name}"):
            if key in tools:
                args = {"cmd": command} if name == "exec_command" else {"command": command}
                if name == "shell":
                    args = {"command": ["bash", "-lc", command]}
                item = {"type": "function_call", "id": f"fc_{n}", "call_id": call_id, "name": name}
                item["arguments"] = json.dumps(args)
                if key != name:
                    item["namespace"] = "functions"
                return item
    raise ValueError(f"no shell tool offered: {sorted(tools)}")


def session_of(ex: Any, body: dict[str, Any]) -> dict[str, Any]:
    """The ids Codex sends with a request: session/thread headers and the turn metadata."""
    try:
        meta = json.loads(ex.headers.get("x-codex-turn-metadata") or "{}")
    except ValueError:
        meta = {}
    meta = meta if isinstance(meta, dict) else {}
    return {
        "session_id": ex.headers.get("session-id") or ex.headers.get("session_id") or meta.get("session_id"),
        "thread_id": ex.headers.get("thread-id") or meta.get("thread_id"),
        "turn_id": meta.get("turn_id"),
        "request_kind": meta.get("request_kind"),
        "turn_meta": meta,
        "originator": ex.headers.get("originator"),
        "prompt_cache_key": body.get("prompt_cache_key"),
    }


def handle(ex: Any) -> None:
    body = ex.body if isinstance(ex.body, dict) else {}
    if not (ex.method == "POST" and ex.path.endswith("/responses")):
        side_call(ex)
        return
    text, answered = turn_state(body.get("input") or [])
    ids = session_of(ex, body)
    # The TUI names a new thread with one call in a throwaway thread of its own (no rollout); its
    # prompt quotes the user's, markers included, so it is answered with a title, never a tool.
    titling = ids["turn_meta"].get("thread_source") == TITLE_SOURCE
    marker = "title" if titling else scenario(text)
    tools = tool_names(body)
    n, usage = ex.stub.next_call()
    item: dict[str, Any]
    if titling:
        item = message(n, f"Stub title {n}")
        call = None
    elif marker != "text" and not answered and marker in COMMANDS:
        item = tool_call(n, COMMANDS[marker], tools)
        call = {"name": item["name"], "command": COMMANDS[marker]}
    else:
        item = message(n, f"Stub answer {n}.")
        call = None
    wire = wire_usage(usage)
    ex.log(
        wire=WIRE,
        event="title" if titling else "response",
        call=n,
        usage=usage,
        wire_usage=wire,
        model=body.get("model"),
        scenario=marker,
        answered_tool=answered,
        user_text=text[:200],
        input_items=len(body.get("input") or []),
        tool_call=call,
        tools=sorted(tools),
        **ids,
    )
    stream(ex, n, item, wire, body.get("model"))


def message(n: int, text: str) -> dict[str, Any]:
    content = [{"type": "output_text", "text": text, "annotations": []}]
    return {"type": "message", "role": "assistant", "id": f"msg_stub_{n}", "content": content}


def stream(ex: Any, n: int, item: dict[str, Any], usage: dict[str, Any], model: Any) -> None:
    rid = f"resp_stub_{n}"
    ex.start_sse()
    ex.sse({"type": "response.created", "response": {"id": rid, "model": model, "status": "in_progress"}})
    if item["type"] == "message":
        text = item["content"][0]["text"]
        ex.sse({"type": "response.output_item.added", "output_index": 0, "item": {**item, "content": []}})
        for i, piece in enumerate((text[: len(text) // 2], text[len(text) // 2 :])):
            ex.sse(
                {
                    "type": "response.output_text.delta",
                    "item_id": item["id"],
                    "output_index": 0,
                    "content_index": 0,
                    "delta": piece,
                    "sequence_number": i,
                }
            )
    else:
        ex.sse({"type": "response.output_item.added", "output_index": 0, "item": item})
    ex.sse({"type": "response.output_item.done", "output_index": 0, "item": item})
    done = {"id": rid, "model": model, "status": "completed", "output": [item], "usage": usage}
    ex.sse({"type": "response.completed", "response": done})


def side_call(ex: Any) -> None:
    """Model lists and anything else Codex asks the provider for: answered, logged by name."""
    if ex.path.endswith("/models"):
        ex.log(wire=WIRE, event="models", headers=ex.public_headers())
        ex.send_json({"models": [], "data": [], "object": "list"})
        return
    ex.log(wire=WIRE, event="unhandled", headers=ex.public_headers())
    ex.send_json({"error": {"message": f"stub: no route for {ex.method} {ex.path}"}}, status=404)
