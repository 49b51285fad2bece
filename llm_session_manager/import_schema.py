"""What an import document may contain: every nested field's type and range, and size limits.

An imported document is stored and then read by every listing command, so a wrong nested type
(``messages.user: "many"``) or an absurd size would break lsm on every run, long after the import.
Everything is therefore checked before anything is stored, and the first problem is named in one line.
The shape follows docs/EXPORT_FORMAT.md (schema version 1); fields it does not name are kept as they
are, within the size limits.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from llm_session_manager.safetext import without_secrets

MAX_DOCUMENT_BYTES = 32 * 1024 * 1024  # a long session with --full is a few MB
MAX_STRING = 4 * 1024 * 1024  # one tool output with --full
MAX_SHORT = 4096  # ids, names, paths, models, timestamps
MAX_TURNS = 200_000
MAX_LIST = 10_000  # tags, models, tool calls of one turn, memories…
MAX_NODES = 5_000_000  # every value in the document, aliases expanded
MAX_DEPTH = 64
MAX_COUNT = 2**53  # token and message counts: beyond this nothing is real (and JSON loses precision)


class SchemaError(ValueError):
    """``str(err)`` names the field: ``field 'session.messages.user' must be …``."""


def _fail(path: str, what: str, value: Any) -> SchemaError:
    return SchemaError(f"field '{path}' must be {what}, got {_show(value)}")


def _show(value: Any) -> str:
    if isinstance(value, str):
        return f"a string of {len(value):,} characters" if len(value) > 40 else repr(value)
    if isinstance(value, (list, dict)):
        return f"a {type(value).__name__} of {len(value):,} items"
    return repr(value)


# --------------------------------------------------------------------------------------------------
# Leaf checks: each returns a function (path, value) -> None that raises SchemaError


Check = Callable[[str, Any], None]


def count(nullable: bool = False) -> Check:
    def check(path: str, value: Any) -> None:
        if value is None and nullable:
            return
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < MAX_COUNT:
            raise _fail(path, "a whole number from 0 to 2^53" + (" or null" if nullable else ""), value)

    return check


def number(nullable: bool = True) -> Check:
    def check(path: str, value: Any) -> None:
        if value is None and nullable:
            return
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        if not ok or not math.isfinite(value) or abs(value) >= MAX_COUNT:
            raise _fail(path, "a finite number" + (" or null" if nullable else ""), value)

    return check


def text(nullable: bool = True, limit: int = MAX_SHORT) -> Check:
    def check(path: str, value: Any) -> None:
        if value is None and nullable:
            return
        if not isinstance(value, str) or len(value) > limit:
            what = f"a string of at most {limit:,} characters" + (" or null" if nullable else "")
            raise _fail(path, what, value)

    return check


def flag(nullable: bool = False) -> Check:
    def check(path: str, value: Any) -> None:
        if value is None and nullable:
            return
        if not isinstance(value, bool):
            raise _fail(path, "true or false", value)

    return check


def one_of(*choices: str) -> Check:
    def check(path: str, value: Any) -> None:
        if value not in choices:
            raise _fail(path, "one of " + ", ".join(choices), value)

    return check


def items(each: Check, limit: int = MAX_LIST) -> Check:
    def check(path: str, value: Any) -> None:
        if not isinstance(value, list) or len(value) > limit:
            raise _fail(path, f"a list of at most {limit:,} items", value)
        for i, item in enumerate(value):
            each(f"{path}[{i}]", item)

    return check


def anything(path: str, value: Any) -> None:
    """Any JSON value (tool inputs, health factors' raw figures): only its size is limited."""
    _bounded(path, value, 0)


def _bounded(path: str, value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise SchemaError(f"field '{path}' is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str) and len(value) > MAX_STRING:
        raise _fail(path, f"a string of at most {MAX_STRING:,} characters", value)
    if isinstance(value, float) and not math.isfinite(value):
        raise _fail(path, "a finite number", value)
    if isinstance(value, dict):
        for key, item in value.items():
            _bounded(f"{path}.{key}", item, depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _bounded(f"{path}[{i}]", item, depth + 1)


def mapping(fields: dict[str, Check], required: tuple[str, ...] = (), nullable: bool = False) -> Check:
    """A mapping whose named fields pass their checks; other keys are allowed (kept, size-limited)."""

    def check(path: str, value: Any) -> None:
        if value is None and nullable:
            return
        if not isinstance(value, dict):
            raise _fail(path, "a mapping" + (" or null" if nullable else ""), value)
        for key in required:
            if key not in value:
                raise SchemaError(f"missing field '{path}.{key}'" if path else f"missing field '{key}'")
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if not isinstance(key, str):
                raise SchemaError(f"field '{where}': keys must be strings")
            (fields.get(key) or anything)(where, item)

    return check


# --------------------------------------------------------------------------------------------------
# The document (docs/EXPORT_FORMAT.md)

TOKENS = mapping(
    {k: count() for k in ("input", "output", "cache_creation", "cache_read", "total")},
    required=("input", "output", "cache_creation", "cache_read"),
)
SESSION = mapping(
    {
        "id": text(nullable=False),
        "agent": text(nullable=False, limit=64),
        "native_id": text(nullable=False),
        "title": text(limit=MAX_STRING),
        "project_path": text(),
        "git_branch": text(),
        "model": text(),
        "models": items(text(nullable=False)),
        "started_at": text(),
        "last_activity": text(),
        "status_at_export": text(),
        "tokens": TOKENS,
        "tokens_source": text(nullable=False, limit=32),
        "context_tokens": count(nullable=True),
        "context_window": count(nullable=True),
        "context_pct": number(),
        "cost_usd": number(),
        "messages": mapping({"user": count(), "assistant": count()}),
        "tool_calls": count(),
        "tool_errors": count(),
        "api_errors": count(),
        "interruptions": count(),
        "compactions": count(),
        "transcript_paths": items(text(nullable=False)),
    },
    required=("id", "agent", "native_id", "models", "tokens", "tokens_source", "messages"),
)
# Present in every export even when null: a document without them was not written by lsm.
REQUIRED_NULLABLE = ("title", "project_path", "model", "started_at", "last_activity", "context_tokens")

TOOL_CALL = mapping({"id": text(), "name": text(), "input": anything})
TOOL_RESULT = mapping({"tool_use_id": text(), "is_error": flag(nullable=True), "content": anything})
TURN = mapping(
    {
        "role": text(nullable=False, limit=32),
        "timestamp": text(),
        "text": text(limit=MAX_STRING),
        "model": text(),
        "tool_calls": items(TOOL_CALL),
        "tool_results": items(TOOL_RESULT),
    },
    required=("role",),
)
CONVERSATION = mapping(
    {
        "included": flag(),
        "available": flag(),
        "full": flag(),
        "trimmed_characters": count(),
        "turns": items(TURN, limit=MAX_TURNS),
    },
    required=("turns",),
)
HEALTH = mapping({"score": number(), "status": text(), "estimated": flag(), "caps": items(anything)})
DOCUMENT = mapping(
    {
        "schema_version": count(),
        "exported_at": text(),
        "generator": text(),
        "redacted": flag(),
        "redactions": mapping({}),
        "session": SESSION,
        "health": HEALTH,
        "git": mapping({}),
        "project": text(),
        "tags": items(text(nullable=False, limit=256)),
        "description": text(limit=MAX_STRING),
        "memories": items(mapping({})),
        "conversation": CONVERSATION,
    },
    required=("schema_version", "session", "health", "tags", "project", "description", "conversation"),
)


AGENT_NAME = re.compile(r"[a-z][a-z0-9-]{0,31}")
MAX_NATIVE_ID = 256


def check_document(data: Any) -> None:
    """Raise SchemaError naming the first field that is missing, of the wrong type or too large."""
    if not isinstance(data, dict):
        raise SchemaError("not an lsm export (the top level must be a mapping)")
    expanded_size(data)
    DOCUMENT("", data)
    session = data["session"]
    for key in REQUIRED_NULLABLE:
        if key not in session:
            raise SchemaError(f"missing field 'session.{key}'")
    check_session_id(session["id"], session["agent"], session["native_id"])


def check_session_id(session_id: str, agent: str, native_id: str) -> None:
    """An id is ``<agent>:<native id>``; both parts end up in file names (batch-export) and must not
    be able to name another folder, or be longer than a file name may be."""
    if not AGENT_NAME.fullmatch(agent):
        raise _fail("session.agent", "an agent name such as claude-code", agent)
    bad = (
        not native_id
        or len(native_id) > MAX_NATIVE_ID
        or native_id in (".", "..")
        or any(ch in native_id for ch in "/\\")
        or any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in native_id)
        or without_secrets(native_id) != native_id  # an id is shown everywhere exactly, never redacted
    )
    if bad:
        what = f"1 to {MAX_NATIVE_ID} characters with no slash, backslash, control character or credential"
        raise _fail("session.native_id", what, native_id)
    if session_id != f"{agent}:{native_id}":
        raise _fail("session.id", f"'{agent}:{native_id}' (agent, a colon, the native id)", session_id)


def expanded_size(data: Any, limit: int = MAX_NODES) -> int:
    """How many values the document holds with every YAML alias expanded (a shared object counts
    each time it is reached); SchemaError past ``limit``. Computed once per distinct object, so a
    "billion laughs" document is refused in microseconds instead of being expanded."""
    memo: dict[int, int] = {}

    def size(value: Any, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise SchemaError(f"the document is nested more than {MAX_DEPTH} levels deep")
        if not isinstance(value, (dict, list)):
            return 1
        known = memo.get(id(value))
        if known is not None:
            return known
        children = value.values() if isinstance(value, dict) else value
        total = 1
        for child in children:
            total += size(child, depth + 1)
            if total > limit:
                raise SchemaError(f"the document holds more than {limit:,} values (aliases expanded)")
        memo[id(value)] = total
        return total

    return size(data, 0)
