"""Session <-> plain dict, for the merged-results cache (internal; the public JSON is in serialize.py)."""

from __future__ import annotations

import dataclasses
import sys
from datetime import datetime
from typing import Any

import orjson

from llm_session_manager.models import ModelTokens, RateLimit, Session, TokenUsage
from llm_session_manager.timefmt import iso, parse_ts

_DATES = ("started_at", "last_activity", "last_compaction_at")
_TUPLES = ("models", "transcript_paths", "fatal_signals", "recent_tool_results")
_NESTED_TUPLES = ("usage_buckets", "context_series")


_FIELDS = tuple(f.name for f in dataclasses.fields(Session) if f.name != "process")
_KNOWN = frozenset(f.name for f in dataclasses.fields(Session))
# Strings that thousands of sessions repeat, made one object each when read back (a listing of 6,000
# sessions holds every one of them at once).
_SHARED = ("agent", "model", "project_path", "git_branch", "context_window_source", "origin")
_MT_FIELDS = tuple(f.name for f in dataclasses.fields(ModelTokens))


def session_to_dict(session: Session) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in _FIELDS:
        value = getattr(session, name)
        if isinstance(value, datetime):
            value = iso(value)
        elif name == "tokens":
            value = {
                "input": value.input,
                "output": value.output,
                "cache_creation": value.cache_creation,
                "cache_read": value.cache_read,
                "source": value.source,
            }
        elif name == "model_usage":
            value = [[getattr(m, f) for f in _MT_FIELDS] for m in value]
        elif name == "usage_history":
            # One JSON string, decoded only for the usage reports: a listing never builds the objects.
            value = orjson.dumps(value).decode()
        elif name == "rate_limits":
            value = [
                [r.name, r.used_percent, r.window_minutes, iso(r.resets_at), iso(r.observed_at)]
                for r in value
            ]
        out[name] = value
    return out


def session_from_dict(data: dict[str, Any], *, history: bool = True) -> Session:
    """The session ``session_to_dict`` stored; without its per-minute usage history unless ``history``."""
    values = {k: v for k, v in data.items() if k in _KNOWN}
    packed = values.pop("usage_history", None)
    if history and isinstance(packed, str):
        values["usage_history"] = tuple(map(tuple, orjson.loads(packed)))
    for name in _DATES:
        values[name] = parse_ts(values.get(name))
    for name in _SHARED:
        if isinstance(values.get(name), str):
            values[name] = sys.intern(values[name])
    for name in _TUPLES:
        values[name] = tuple(values.get(name) or ())
    for name in _NESTED_TUPLES:
        values[name] = tuple(map(tuple, values.get(name) or ()))
    values["models"] = tuple(map(_shared, values["models"]))
    values["tokens"] = TokenUsage(**_source_shared(values["tokens"]))
    values["model_usage"] = tuple(
        ModelTokens(_shared(m), *rest) for m, *rest in values.get("model_usage") or ()
    )
    values["rate_limits"] = tuple(  # a cache written before observed_at has four items
        RateLimit(n, u, w, parse_ts(r), parse_ts(seen[0]) if seen else None)
        for n, u, w, r, *seen in values.get("rate_limits") or ()
    )
    return Session(**values)


def _shared(value: Any) -> Any:
    return sys.intern(value) if isinstance(value, str) else value


def _source_shared(tokens: dict[str, Any]) -> dict[str, Any]:
    source = tokens.get("source")
    return {**tokens, "source": sys.intern(source)} if isinstance(source, str) else tokens
