"""Context export and import: one versioned document, written as JSON, YAML or Markdown.

The document (schema in docs/EXPORT_FORMAT.md) holds the session's identity, usage, health, our own
metadata and the conversation. JSON and YAML are for machines and import back losslessly; Markdown is a
hand-off for a person or a fresh session. Secrets are redacted by default in every format.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from llm_session_manager import __version__
from llm_session_manager.errors import LsmError, UsageError
from llm_session_manager.models import Session, SessionView
from llm_session_manager.project import git_state
from llm_session_manager.serialize import health_json
from llm_session_manager.service import project_name
from llm_session_manager.timefmt import iso

SCHEMA_VERSION = 1
FORMATS = ("json", "yaml", "markdown")
EXTENSIONS = {".json": "json", ".yaml": "yaml", ".yml": "yaml", ".md": "markdown", ".markdown": "markdown"}
TRIM_CHARS = 2000
FILE_TOOLS = ("Edit", "Write", "Read", "MultiEdit", "NotebookEdit", "apply_patch", "write_file", "read_file")


class ImportError_(LsmError):
    """A document that cannot be imported (the message names the field)."""


# ---------------------------------------------------------------------------------------------------
# Building the document


def format_for(path: str, given: str | None) -> str:
    if given:
        fmt = given.strip().lower()
        fmt = "markdown" if fmt == "md" else "yaml" if fmt == "yml" else fmt
        if fmt not in FORMATS:
            raise UsageError(f"--format: unknown format '{given}' (one of {', '.join(FORMATS)})")
        return fmt
    if path == "-":
        return "json"
    ext = Path(path).suffix.lower()
    if ext not in EXTENSIONS:
        raise UsageError(f"cannot tell the format from '{path}': add --format json|yaml|markdown")
    return EXTENSIONS[ext]


def _trim(text: str, full: bool) -> tuple[str, int]:
    if full or len(text) <= TRIM_CHARS:
        return text, 0
    cut = len(text) - TRIM_CHARS
    return text[:TRIM_CHARS] + f"\n[… trimmed {cut:,} characters; export with --full to keep them]", cut


def _trim_turns(turns: list[dict[str, Any]], full: bool) -> tuple[list[dict[str, Any]], int]:
    total = 0
    out = []
    for turn in turns:
        turn = dict(turn)
        if turn.get("tool_results"):
            results = []
            for result in turn["tool_results"]:
                content, cut = _trim(str(result.get("content") or ""), full)
                total += cut
                results.append({**result, "content": content})
            turn["tool_results"] = results
        out.append(turn)
    return out, total


def build_document(
    view: SessionView,
    turns: list[dict[str, Any]] | None,
    *,
    full: bool = False,
    transcript: bool = True,
    redact: bool = True,
    memories: Sequence[dict[str, Any]] = (),
    now: datetime | None = None,
) -> dict[str, Any]:
    """The export document of one live session. ``turns`` None = the agent's conversation is not readable.

    Secrets are redacted before long tool outputs are cut, so a key crossing the cut is never left half
    shown (the redactor would not recognise its first half)."""
    s = view.session
    t = s.tokens
    counts: dict[str, int] = {}
    if redact and transcript and turns:
        from llm_session_manager.redact import redact_value

        turns = redact_value(turns, counts)
    kept, trimmed = _trim_turns(turns or [], full) if transcript else ([], 0)
    doc: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "exported_at": iso(now or datetime.now(timezone.utc)),
        "generator": f"lsm {__version__}",
        "redacted": redact,
        "session": {
            "id": s.id,
            "agent": s.agent,
            "native_id": s.native_id,
            "title": s.title,
            "project_path": s.project_path,
            "git_branch": s.git_branch,
            "model": s.model,
            "models": list(s.models),
            "started_at": iso(s.started_at),
            "last_activity": iso(s.last_activity),
            "status_at_export": view.status,
            "tokens": {
                "input": t.input,
                "output": t.output,
                "cache_creation": t.cache_creation,
                "cache_read": t.cache_read,
                "total": t.total,
            },
            "tokens_source": t.source,
            "context_tokens": s.context_tokens,
            "context_window": s.context_window,
            "context_pct": view.context_pct,
            "cost_usd": view.cost_usd,
            "messages": {"user": s.messages_user, "assistant": s.messages_assistant},
            "tool_calls": s.tool_calls,
            "tool_errors": s.tool_errors,
            "api_errors": s.api_errors,
            "interruptions": s.interruptions,
            "compactions": s.compactions,
            "transcript_paths": list(s.transcript_paths),
        },
        "health": health_json(view.health, detail=True),
        "git": git_state(s.project_path),
        "project": project_name(view),
        "tags": list(view.tags),
        "description": view.description,
        "memories": list(memories),
        "conversation": {
            "included": transcript,
            "available": turns is not None,
            "full": full,
            "trimmed_characters": trimmed,
            "turns": kept,
        },
    }
    if redact:
        from llm_session_manager.redact import redact_value

        conversation = doc.pop("conversation")  # its turns are redacted already (the last key: order kept)
        doc = redact_value(doc, counts)
        doc["conversation"] = conversation
        doc["redactions"] = counts
    return doc


def redacted_document(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored (imported) document redacted for output: whatever it holds — an export made with
    --no-redact, or one edited by hand — leaves lsm redacted, and says so truthfully.

    Redaction is idempotent, so an export that was redacted already comes back unchanged (its
    ``redactions`` counts are kept and new finds are added): export → import → export stays identical."""
    from llm_session_manager.redact import redact_value

    counts: dict[str, int] = {}
    body = {k: v for k, v in doc.items() if k not in ("redacted", "redactions")}
    clean = redact_value(body, counts)
    before = doc.get("redactions") if doc.get("redacted") is True else None
    total = dict(before) if isinstance(before, dict) else {}
    for kind, n in counts.items():
        total[kind] = (total.get(kind) or 0) + n
    out: dict[str, Any] = {}
    for key in doc:
        if key == "redacted":
            out[key] = True
        elif key != "redactions":
            out[key] = clean[key] if key in clean else doc[key]
    if "redacted" not in out:
        out["redacted"] = True
    out["redactions"] = total
    return out


# ---------------------------------------------------------------------------------------------------
# Writing


def render(doc: dict[str, Any], fmt: str) -> str:
    if fmt == "json":
        import orjson

        return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "yaml":
        import yaml

        return str(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100))
    from llm_session_manager.handoff import to_markdown

    return to_markdown(doc)


def write_output(text: str, output: str, *, force: bool) -> None:
    """Write atomically (temp file + rename): a failure never leaves a partial file behind."""
    if output == "-":
        import sys

        sys.stdout.write(text)
        sys.stdout.flush()
        return
    target = Path(output).expanduser()
    if target.exists() and not force:
        raise UsageError(f"{target} exists; add --force to overwrite it")
    if target.is_dir():
        raise UsageError(f"{target} is a directory")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    except OSError as exc:
        raise LsmError(f"cannot write {target}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise LsmError(f"cannot write {target}: {exc.strerror or exc}") from None


# ---------------------------------------------------------------------------------------------------
# Reading back


def parse_document(text: str, name: str, fmt: str | None = None) -> dict[str, Any]:
    """Load a JSON or YAML export (by ``fmt``, the file extension, or its content) and validate it."""
    fmt = fmt or EXTENSIONS.get(Path(name).suffix.lower())
    if fmt == "markdown":
        raise ImportError_(f"{name}: Markdown exports are for people; import the JSON or YAML export")
    data: Any
    if fmt in (None, "json") and text.lstrip().startswith(("{", "[")):
        import orjson

        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise ImportError_(f"{name}: not valid JSON ({exc})") from None
    else:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" at line {mark.line + 1}" if mark is not None else ""
            raise ImportError_(f"{name}: not valid JSON or YAML{where}") from None
    validate(data, name)
    return data  # type: ignore[no-any-return]


def validate(data: Any, name: str) -> None:
    """Every nested field checked (import_schema), before anything is stored."""
    from llm_session_manager.import_schema import SchemaError, check_document

    if isinstance(data, dict):
        version = data.get("schema_version")
        if isinstance(version, int) and not isinstance(version, bool) and version != SCHEMA_VERSION:
            raise ImportError_(
                f"{name}: schema_version {version} is not supported (this lsm reads {SCHEMA_VERSION})"
            )
    try:
        check_document(data)
    except SchemaError as exc:
        raise ImportError_(f"{name}: {exc}") from None


def content_hash(doc: dict[str, Any]) -> str:
    import orjson

    return hashlib.sha256(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS)).hexdigest()


def conversation_for(session: Session) -> list[dict[str, Any]] | None:
    """The session's conversation, when its agent's reader can give it (None = not available)."""
    from llm_session_manager.agents import agent_info

    info = agent_info(session.agent)
    if info is None or info.conversation is None or not session.transcript_paths:
        return None
    try:
        turns = info.conversation(list(session.transcript_paths), session.native_id)
        return [dict(turn) for turn in turns]  # the document's plain JSON objects
    except OSError as exc:
        raise LsmError(f"cannot read the transcript of {session.id}: {exc.strerror or exc}") from None


def document_for(
    view: SessionView,
    stored: dict[str, Any] | None,
    *,
    full: bool,
    transcript: bool,
    redact: bool,
    memories: Sequence[dict[str, Any]] = (),
) -> dict[str, Any]:
    """The export document: built from the live session, or — for an imported one — the stored
    document with its current tags, project and description, redacted again unless ``redact`` is False
    (an import may hold what an export --no-redact let through; redaction is idempotent, so export →
    import → export is identical)."""
    if stored is not None:
        doc = dict(stored)
        doc["tags"] = list(view.tags)
        doc["project"] = view.project
        doc["description"] = view.description
        return redacted_document(doc) if redact else doc
    turns = conversation_for(view.session) if transcript else []
    return build_document(
        view, turns, full=full, transcript=transcript, redact=redact, memories=list(memories)
    )
