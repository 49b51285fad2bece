"""OpenAI Chat Completions for the model stub (Aider, Copilot CLI BYOK), streaming and not.

Routes: ``POST …/chat/completions`` (the answer) and ``GET …/models`` (the model list some clients ask
for first). Usage is sent in the OpenAI form, ``prompt_tokens`` including the cached part:

    prompt_tokens = input + cache_read + cache_write
    prompt_tokens_details.cached_tokens = cache_read
    completion_tokens = output

plus the cache-write figure under the names the clients read (``prompt_tokens_details.cache_write_tokens``,
``cache_creation_input_tokens``, and ``cache_read_input_tokens``, as litellm passes Anthropic's through).
Under a base URL starting ``/openai-plain/`` the usage is OpenAI's own, with no cache writes:
``prompt_tokens = input + cache_read``, ``prompt_tokens_details.cached_tokens = cache_read`` (the
stub's cache_write figure is not sent). The log record keeps the stub's four figures (``usage``), the
wire object sent (``wire_usage``) and ``plain``, so the capture script can compute the truth in any
client's terms.

Tool calls use a tool the request offered: a shell tool (``bash``/``shell``/``powershell``…) for
``[[tool:ok]]``/``[[tool:fail]]``, a file viewer (``view``/``read_file``…) for ``[[read:*]]``, Copilot's
``task`` for ``[[subagent]]``; when the request offers no tools (Aider) the answer is text.
"""

from __future__ import annotations

import json
import time
from typing import Any

WIRE = "chat"
MODEL_IDS = ("gpt-4o", "gpt-4o-mini", "gpt-4.1", "claude-sonnet-4.5")
SHELL_TOOLS = ("bash", "shell", "powershell", "run_shell_command", "run_in_terminal")
READ_TOOLS = ("view", "read_file", "read", "str_replace_editor")
OK_COMMAND = "echo lsm-capture-ok"
FAIL_COMMAND = "ls /nonexistent-lsm-capture-dir"
READ_OK = "/home/dev/work/copilot-tools/notes.txt"
READ_MISSING = "/home/dev/work/copilot-tools/missing.txt"
SLOW_SECONDS = 30
SUBAGENT_TOOLS = ("task",)  # Copilot CLI's sub-agent launcher
SUBAGENT_PROMPT = "Reply with one line."
SUBAGENT_MODEL = "gpt-4o-mini"  # no marker: the sub-agent answers with text


def matches(method: str, path: str) -> bool:
    return path.endswith("/chat/completions") or (method == "GET" and path.endswith("/models"))


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(
            p.get("text", "") for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
        )
    return ""


def _last_user(messages: list[Any]) -> str:
    for msg in reversed(messages):
        if isinstance(msg, dict) and msg.get("role") == "user":
            return _text(msg.get("content"))
    return ""


def _tool_names(body: dict[str, Any]) -> list[str]:
    names = []
    for tool in body.get("tools") or []:
        fn = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(fn, dict) and isinstance(fn.get("name"), str):
            names.append(fn["name"])
    return names


def _pick(names: list[str], wanted: tuple[str, ...]) -> str | None:
    for want in wanted:
        if want in names:
            return want
    return None


def _tool_call(scenario: str, names: list[str], slow: bool) -> dict[str, Any] | None:
    """The function call the scenario asks for, with one of the offered tools, or None."""
    if scenario in ("tool:ok", "tool:fail"):
        name = _pick(names, SHELL_TOOLS)
        command = OK_COMMAND if scenario == "tool:ok" else FAIL_COMMAND
        if slow and scenario == "tool:ok":  # a command that runs long enough to kill the agent mid-tool
            command = f"sleep {SLOW_SECONDS} && {OK_COMMAND}"
        args: dict[str, Any] = {"command": command, "description": f"stub {scenario}"}
    elif scenario in ("read:ok", "read:missing"):
        name = _pick(names, READ_TOOLS)
        args = {"path": READ_OK if scenario == "read:ok" else READ_MISSING}
        if name == "str_replace_editor":
            args["command"] = "view"
    elif scenario == "subagent":
        name = _pick(names, SUBAGENT_TOOLS)
        args = {
            "description": "stub sub-agent",
            "prompt": SUBAGENT_PROMPT,
            "agent_type": "explore",
            "name": "stub",
            "model": SUBAGENT_MODEL,  # not the main agent's model, to tell their figures apart
        }
    else:
        return None
    if name is None:
        return None
    return {"name": name, "arguments": json.dumps(args)}


PLAIN_PREFIX = "/openai-plain/"


def plain_usage(u: dict[str, int]) -> dict[str, Any]:
    """Usage exactly as the OpenAI API reports it (it has no cache writes)."""
    prompt = u["input"] + u["cache_read"]
    return {
        "prompt_tokens": prompt,
        "completion_tokens": u["output"],
        "total_tokens": prompt + u["output"],
        "prompt_tokens_details": {"cached_tokens": u["cache_read"]},
    }


def wire_usage(u: dict[str, int]) -> dict[str, Any]:
    prompt = u["input"] + u["cache_read"] + u["cache_write"]
    return {
        "prompt_tokens": prompt,
        "completion_tokens": u["output"],
        "total_tokens": prompt + u["output"],
        "prompt_tokens_details": {"cached_tokens": u["cache_read"], "cache_write_tokens": u["cache_write"]},
        "cache_creation_input_tokens": u["cache_write"],
        "cache_read_input_tokens": u["cache_read"],
    }


def _models(ex: Any) -> None:
    data = [
        {
            "id": m,
            "object": "model",
            "created": 1700000000,
            "owned_by": "stub",
        }
        for m in MODEL_IDS
    ]
    ex.log(wire=WIRE, event="models", headers=ex.public_headers())
    ex.send_json({"object": "list", "data": data})


def handle(ex: Any) -> None:
    if ex.method == "GET":
        _models(ex)
        return
    body = ex.body if isinstance(ex.body, dict) else {}
    messages = body.get("messages") or []
    last = messages[-1] if messages and isinstance(messages[-1], dict) else {}
    from stub import scenario as find_scenario  # the stub core, imported as a module beside this file

    scen = "after-tool" if last.get("role") == "tool" else find_scenario(_last_user(messages))
    user = _last_user(messages)
    call = _tool_call(scen, _tool_names(body), "[[slow]]" in user)
    if scen == "slow":
        time.sleep(SLOW_SECONDS)
    n, usage = ex.stub.next_call()
    model = body.get("model") or "unknown"
    text = f"stub answer {n} ({scen})."
    plain = ex.path.startswith(PLAIN_PREFIX)
    sent = plain_usage(usage) if plain else wire_usage(usage)
    stream = bool(body.get("stream"))
    ex.log(
        wire=WIRE,
        event="answer",
        call=n,
        model=model,
        scenario=scen,
        stream=stream,
        usage=usage,
        wire_usage=sent,
        plain=plain,
        tool_call=call,
        tools_offered=_tool_names(body),
        n_messages=len(messages),
        headers=ex.public_headers(),
        user_text=user[-300:],
    )
    call_id = f"call_stub_{n}"
    if stream:
        _stream(ex, n, model, text, call, call_id, sent)
    else:
        ex.send_json(_completion(n, model, text, call, call_id, sent))


def _message(text: str, call: dict[str, Any] | None, call_id: str) -> dict[str, Any]:
    if call is None:
        return {"role": "assistant", "content": text}
    return {
        "role": "assistant",
        "content": None,
        "tool_calls": [{"id": call_id, "type": "function", "function": call}],
    }


def _completion(
    n: int, model: str, text: str, call: dict[str, Any] | None, call_id: str, usage: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-stub-{n}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": _message(text, call, call_id),
                "finish_reason": "tool_calls" if call else "stop",
            }
        ],
        "usage": usage,
    }


def _stream(
    ex: Any, n: int, model: str, text: str, call: dict[str, Any] | None, call_id: str, usage: dict[str, Any]
) -> None:
    base = {
        "id": f"chatcmpl-stub-{n}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }
    ex.start_sse()
    ex.sse(
        {
            **base,
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
        }
    )
    if call is None:
        for word in text.split(" "):
            ex.sse(
                {**base, "choices": [{"index": 0, "delta": {"content": word + " "}, "finish_reason": None}]}
            )
        finish = "stop"
    else:
        delta = {
            "tool_calls": [
                {
                    "index": 0,
                    "id": call_id,
                    "type": "function",
                    "function": {"name": call["name"], "arguments": ""},
                }
            ]
        }
        ex.sse({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        delta = {"tool_calls": [{"index": 0, "function": {"arguments": call["arguments"]}}]}
        ex.sse({**base, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]})
        finish = "tool_calls"
    ex.sse({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": finish}]})
    ex.sse({**base, "choices": [], "usage": usage})
    ex.sse("[DONE]")
