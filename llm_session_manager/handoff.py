"""The Markdown hand-off: a summary a person (or a fresh session) can act on, then the conversation.

A pure function of the export document, so what it shows is exactly what the JSON holds.
"""

from __future__ import annotations

from typing import Any

from llm_session_manager.safetext import for_terminal

LAST_ERRORS = 5
MAX_LIST = 25


def _fmt_int(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) else "?"


def _money(value: Any) -> str:
    return f"${value:,.2f}" if isinstance(value, (int, float)) and not isinstance(value, bool) else "unknown"


def files_touched(turns: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(path, what was done) from tool calls that name a file, in first-seen order."""
    seen: dict[str, set[str]] = {}
    for turn in turns:
        for call in turn.get("tool_calls") or []:
            args = call.get("input") if isinstance(call.get("input"), dict) else {}
            path = args.get("file_path") or args.get("path") or args.get("notebook_path")
            if isinstance(path, str) and path:
                seen.setdefault(path, set()).add(str(call.get("name") or "tool"))
    return [(p, ", ".join(sorted(tools))) for p, tools in seen.items()]


def commands_run(turns: list[dict[str, Any]]) -> list[str]:
    out = []
    for turn in turns:
        for call in turn.get("tool_calls") or []:
            args = call.get("input") if isinstance(call.get("input"), dict) else {}
            command = args.get("command") or args.get("cmd")
            if isinstance(command, list):
                command = " ".join(str(c) for c in command)
            if isinstance(command, str) and command.strip():
                out.append(command.strip().splitlines()[0][:200])
    return out


def last_errors(turns: list[dict[str, Any]]) -> list[str]:
    errors = []
    for turn in turns:
        for result in turn.get("tool_results") or []:
            if result.get("is_error"):
                errors.append(" ".join(str(result.get("content") or "").split())[:300])
    return errors[-LAST_ERRORS:]


def open_questions(turns: list[dict[str, Any]]) -> list[str]:
    """Questions the assistant asked in its last replies (the user may still owe an answer)."""
    for turn in reversed(turns):
        if turn.get("role") != "assistant" or not turn.get("text"):
            continue
        lines = [line.strip(" -*>") for line in str(turn["text"]).splitlines()]
        return [line for line in lines if line.endswith("?") and len(line) > 8][:5]
    return []


def _summary(doc: dict[str, Any]) -> list[str]:
    s = doc["session"]
    h = doc["health"]
    turns = doc["conversation"]["turns"]
    prompts = [t["text"] for t in turns if t.get("role") == "user" and t.get("text")]
    doing = doc.get("description") or s.get("title") or (prompts[0][:200] if prompts else "(unknown)")
    tokens = s["tokens"]
    lines = [
        f"# Session hand-off: {s.get('title') or s['id']}",
        "",
        f"- **Session**: `{s['id']}` ({s['agent']}), project **{doc.get('project') or '-'}**"
        + (f" at `{s['project_path']}`" if s.get("project_path") else ""),
        f"- **What it was doing**: {doing}",
        f"- **State at export**: {s.get('status_at_export', '?')};"
        f" last activity {s.get('last_activity') or '?'}",
        f"- **Model**: {s.get('model') or '?'}; context {_fmt_int(s.get('context_tokens'))} tokens"
        + (
            f" ({s['context_pct']}% of {_fmt_int(s.get('context_window'))})"
            if s.get("context_pct") is not None
            else ""
        ),
        f"- **Usage**: {_fmt_int(tokens.get('total'))} tokens ({s.get('tokens_source')}),"
        f" cost {_money(s.get('cost_usd'))}",
        f"- **Health**: {h.get('score')} ({h.get('status')})",
    ]
    if doc.get("tags"):
        lines.append(f"- **Tags**: {', '.join(doc['tags'])}")
    git = doc.get("git") or {}
    if git.get("repo"):
        lines.append(
            f"- **Git**: branch `{git.get('branch') or '(detached)'}` at `{(git.get('head') or '?')[:12]}`,"
            f" {len(git.get('dirty_files') or [])} changed file(s),"
            f" {len(git.get('untracked_files') or [])} untracked"
        )
    return lines


def _section(title: str, items: list[str], empty: str) -> list[str]:
    lines = ["", f"## {title}", ""]
    if not items:
        return [*lines, f"_{empty}_"]
    shown = items[:MAX_LIST]
    lines += [f"- {item}" for item in shown]
    if len(items) > len(shown):
        lines.append(f"- … and {len(items) - len(shown)} more")
    return lines


def _conversation(turns: list[dict[str, Any]]) -> list[str]:
    lines = ["", "## Conversation", ""]
    for turn in turns:
        role = str(turn.get("role", "?"))
        stamp = f" · {turn['timestamp']}" if turn.get("timestamp") else ""
        lines.append(f"### {role.capitalize()}{stamp}")
        lines.append("")
        if turn.get("text"):
            lines += [str(turn["text"]), ""]
        for call in turn.get("tool_calls") or []:
            import json

            args = json.dumps(call.get("input"), ensure_ascii=False, indent=1)[:1500]
            lines += [f"**Tool call** `{call.get('name')}`:", "", "```json", args, "```", ""]
        for result in turn.get("tool_results") or []:
            label = "Tool error" if result.get("is_error") else "Tool result"
            lines += [f"**{label}**:", "", "```", str(result.get("content") or ""), "```", ""]
    return lines


def to_markdown(doc: dict[str, Any]) -> str:
    turns = doc["conversation"]["turns"]
    lines = _summary(doc)
    if doc.get("description"):
        lines += ["", "## Description", "", str(doc["description"])]
    lines += _section(
        "Files touched", [f"`{p}` ({what})" for p, what in files_touched(turns)], "none recorded"
    )
    lines += _section("Commands run", [f"`{c}`" for c in commands_run(turns)], "none recorded")
    lines += _section("Last errors", last_errors(turns), "no tool errors")
    lines += _section("Open questions", open_questions(turns), "none in the last reply")
    conv = doc["conversation"]
    if not conv.get("included"):
        lines += ["", "_The conversation was left out of this export (--no-transcript)._"]
    elif not conv.get("available"):
        lines += ["", "_This agent's conversation cannot be exported yet; only the summary is included._"]
    else:
        lines += _conversation(turns)
    if doc.get("redacted"):
        found = doc.get("redactions") or {}
        what = ", ".join(f"{k} ×{v}" for k, v in sorted(found.items())) or "none found"
        lines += [
            "",
            "---",
            f"_Secrets redacted ({what}). Exported by {doc.get('generator')} at {doc.get('exported_at')}._",
        ]
    else:
        lines += [
            "",
            "---",
            f"_NOT redacted. Exported by {doc.get('generator')} at {doc.get('exported_at')}._",
        ]
    # A hand-off is read (cat, a pager, pasted into a prompt): escape sequences from the transcript are
    # shown (␛[2J), never run, wherever the document is written. JSON and YAML keep the exact text.
    return for_terminal("\n".join(lines).rstrip(), multiline=True) + "\n"
