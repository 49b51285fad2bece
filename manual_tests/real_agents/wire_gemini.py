"""Gemini API (``/v1beta/models/<model>:<method>``) as Gemini CLI calls it with an API key.

- ``streamGenerateContent?alt=sse``: the conversation. Answers with text, or with one ``functionCall``
  (``run_shell_command`` / ``read_file``) chosen by the newest user text's marker; once a
  ``functionResponse`` came back, with text.
- ``generateContent``: side calls Gemini CLI does not write to its chat (the model router's classifier,
  the next-speaker check, titles, summaries). A JSON answer is built from the request's response schema.
  They carry usage too (they are billed), logged with ``side: true``, so the capture can say what the
  transcript cannot know.
- ``countTokens``, ``models`` list: answered, logged.

Usage in the Gemini API's terms, from the stub's distinct per-call figures (Gemini has no cache-write
count, so that figure is sent as thoughts; tool-use prompt tokens get their own step)::

    promptTokenCount        = input + cache_read      (the whole prompt, cached part included)
    cachedContentTokenCount = cache_read
    candidatesTokenCount    = output
    thoughtsTokenCount      = cache_write
    toolUsePromptTokenCount = 5 + 3 * call
    totalTokenCount         = prompt + candidates + thoughts + toolUsePrompt
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

WIRE = "gemini"
PATH = re.compile(r"^/(?:v1beta|v1|v1alpha)/models(?:/(?P<model>[^:/]+)(?::(?P<method>\w+))?)?$")
SLOW_SECONDS = 30
READ_OK = "notes.txt"
READ_MISSING = "no-such-file.txt"
COMMANDS = {"tool:ok": "echo stub-ok", "tool:fail": "ls /stub-missing-dir"}


def matches(method: str, path: str) -> bool:
    return PATH.match(path) is not None


def usage_metadata(call: int, usage: dict[str, int]) -> dict[str, int]:
    prompt = usage["input"] + usage["cache_read"]
    tool = 5 + 3 * call
    return {
        "promptTokenCount": prompt,
        "cachedContentTokenCount": usage["cache_read"],
        "candidatesTokenCount": usage["output"],
        "thoughtsTokenCount": usage["cache_write"],
        "toolUsePromptTokenCount": tool,
        "totalTokenCount": prompt + usage["output"] + usage["cache_write"] + tool,
    }


def _parts_text(parts: Any) -> str:
    if not isinstance(parts, list):
        return ""
    return "".join(p["text"] for p in parts if isinstance(p, dict) and isinstance(p.get("text"), str))


def newest_user(body: Any) -> tuple[str, list[Any] | None]:
    """(text of the newest user turn, its functionResponse parts when that turn is a tool result)."""
    contents = body.get("contents") if isinstance(body, dict) else None
    for content in reversed(contents or []):
        if not isinstance(content, dict) or content.get("role", "user") != "user":
            continue
        parts = content.get("parts") or []
        results = [p["functionResponse"] for p in parts if isinstance(p, dict) and "functionResponse" in p]
        if results:
            return "", results
        text = _parts_text(parts)
        if text.strip():
            return text, None
    return "", None


def _result_summary(results: list[Any]) -> list[dict[str, Any]]:
    """Each tool result sent back: its name, its ``error`` (if any) and the start of its ``output``, so
    the capture can tell which failed."""
    out = []
    for r in results:
        r = r if isinstance(r, dict) else {}
        resp = r.get("response") if isinstance(r.get("response"), dict) else {}
        error, output = resp.get("error"), resp.get("output")
        out.append(
            {
                "name": r.get("name"),
                "error": None if error is None else str(error)[:400],
                "output": None if output is None else str(output)[:400],
            }
        )
    return out


def function_call(scenario: str, cwd_hint: str | None) -> dict[str, Any] | None:
    if scenario in COMMANDS:
        return {"name": "run_shell_command", "args": {"command": COMMANDS[scenario]}}
    if scenario in ("read:ok", "read:missing"):
        name = READ_OK if scenario == "read:ok" else READ_MISSING
        path = f"{cwd_hint}/{name}" if cwd_hint else name
        return {"name": "read_file", "args": {"file_path": path}}
    return None


def _cwd(body: Any) -> str | None:
    """The first workspace directory Gemini CLI lists in its session context."""
    for content in (body or {}).get("contents") or []:
        m = re.search(r"Workspace Directories:\*\*\s*-\s*(\S+)", _parts_text(content.get("parts")))
        if m:
            return m.group(1)
    return None


def _session_headers(ex: Any) -> dict[str, str]:
    keep = ("user-agent", "x-goog-api-client", "x-gemini-session-id", "x-session-id")
    return {k: v for k, v in ex.headers.items() if k in keep or "session" in k}


def handle(ex: Any) -> None:
    m = PATH.match(ex.path)
    assert m is not None
    model, method = m.group("model"), m.group("method")
    if method is None:
        _models(ex, model)
    elif method == "countTokens":
        _count(ex, model)
    elif method == "streamGenerateContent":
        _stream(ex, model)
    elif method == "generateContent":
        _generate(ex, model)
    else:
        ex.log(wire=WIRE, event="unknown-method", model=model, method_name=method)
        ex.send_json({"error": {"code": 404, "message": f"stub: no method {method}"}}, status=404)


def _models(ex: Any, model: str | None) -> None:
    ex.log(wire=WIRE, event="models", model=model)
    info = {"name": f"models/{model or 'gemini-stub'}", "inputTokenLimit": 1048576, "outputTokenLimit": 65536}
    ex.send_json(info if model else {"models": [info]})


def _count(ex: Any, model: str) -> None:
    body = ex.body or {}
    req = body.get("generateContentRequest") or body
    chars = sum(len(_parts_text(c.get("parts"))) for c in req.get("contents") or [] if isinstance(c, dict))
    total = max(1, chars // 4)
    ex.log(wire=WIRE, event="countTokens", model=model, total_tokens=total)
    ex.send_json({"totalTokens": total})


def _stream(ex: Any, model: str) -> None:
    text, results = newest_user(ex.body)
    after_tool = results is not None
    scen = "text" if after_tool else _scenario(ex, text)
    call, usage = ex.stub.next_call()
    meta = usage_metadata(call, usage)
    fc = None if after_tool else function_call(scen, _cwd(ex.body))
    ex.log(
        wire=WIRE,
        event="streamGenerateContent",
        call=call,
        model=model,
        scenario=scen,
        after_tool_result=after_tool,
        tool_results=_result_summary(results or []),
        tool_call=fc,
        usage=meta,
        headers=_session_headers(ex),
        side=False,
    )
    ex.start_sse()
    version = model
    first = {"candidates": [{"content": {"role": "model", "parts": [{"text": "Stub "}]}, "index": 0}]}
    first["usageMetadata"] = {"promptTokenCount": meta["promptTokenCount"]}
    first["modelVersion"] = version
    if fc is None:
        ex.sse(first)
        if scen == "slow":
            time.sleep(SLOW_SECONDS)
        last_parts: list[dict[str, Any]] = [{"text": f"answer {call} ({scen})."}]
    else:
        last_parts = [{"functionCall": fc}]
    ex.sse(
        {
            "candidates": [
                {"content": {"role": "model", "parts": last_parts}, "finishReason": "STOP", "index": 0}
            ],
            "usageMetadata": meta,
            "modelVersion": version,
            "responseId": f"stub-{call}",
        }
    )
    ex.log(wire=WIRE, event="stream-done", call=call)


def _scenario(ex: Any, text: str) -> str:
    import stub  # the core module beside this file (loaded from sys.path by the stub)

    return str(stub.scenario(text))


def _schema_answer(schema: Any) -> Any:
    """A value fitting a JSON schema: the router picks "flash" (or a low complexity score), the
    next-speaker check says "user"."""
    if not isinstance(schema, dict):
        return "stub"
    kind = str(schema.get("type", "")).lower()
    if schema.get("enum"):
        return schema["enum"][0]
    if kind == "object":
        props = schema.get("properties") or {}
        out = {}
        for key, sub in props.items():
            if key == "model_choice":
                out[key] = "flash"
            elif key == "next_speaker":
                out[key] = "user"
            elif key == "complexity_score":
                out[key] = 10  # 1-100; low routes to flash
            else:
                out[key] = _schema_answer(sub)
        return out
    if kind == "array":
        return []
    if kind in ("integer", "number"):
        return 0
    if kind == "boolean":
        return False
    return "stub"


def _generate(ex: Any, model: str) -> None:
    body = ex.body or {}
    config = body.get("generationConfig") or {}
    schema = config.get("responseJsonSchema") or config.get("responseSchema")
    call, usage = ex.stub.next_call()
    meta = usage_metadata(call, usage)
    if schema is not None or config.get("responseMimeType") == "application/json":
        text = json.dumps(_schema_answer(schema or {"type": "object"}))
    else:
        text = "Stub summary."
    ex.log(
        wire=WIRE,
        event="generateContent",
        call=call,
        model=model,
        usage=meta,
        schema_keys=sorted((schema or {}).get("properties", {}) or {}),
        answer=text,
        headers=_session_headers(ex),
        side=True,
    )
    ex.send_json(
        {
            "candidates": [
                {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP", "index": 0}
            ],
            "usageMetadata": meta,
            "modelVersion": model,
            "responseId": f"stub-{call}",
        }
    )
