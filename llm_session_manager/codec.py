"""Session <-> plain dict, for the merged-results cache (internal; the public JSON is in serialize.py)."""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable
from datetime import datetime
from operator import attrgetter
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


# The merged cache is read back whole by every listing that is not answered from its stored output (6,000
# sessions: 0.21 s through orjson's dicts and ``session_from_dict``). msgspec decodes each document
# into a typed record instead, whose values are taken in field order and passed to ``Session`` by
# position: 14 us a session against 35. msgspec takes ~7 ms to import when nothing loaded it yet (a cold
# scan has, for the transcripts), so until then the first ``TYPED_AFTER`` bytes of a command go the
# plain way: a small history never pays for the import.
TYPED_AFTER = 1 << 20
_plain_bytes = 0
_typed: tuple[Callable[[bytes], list[Any]], Callable[[Any], tuple[Any, ...]]] | None = None
_FIELD_AT = {name: at for at, name in enumerate(f.name for f in dataclasses.fields(Session))}
_DATES_AT = tuple(_FIELD_AT[name] for name in _DATES)
_SHARED_AT = tuple(_FIELD_AT[name] for name in _SHARED)
_MODELS_AT, _TOKENS_AT = _FIELD_AT["models"], _FIELD_AT["tokens"]
_USAGE_AT, _LIMITS_AT = _FIELD_AT["model_usage"], _FIELD_AT["rate_limits"]
_HISTORY_AT = _FIELD_AT["usage_history"]


def sessions_from_json(body: bytes, *, history: bool = True) -> list[Session] | None:
    """The sessions of a JSON array of ``session_to_dict`` documents, as ``session_from_dict`` makes
    them; None when the typed decoder is not used yet (``TYPED_AFTER``) or refuses the array (not
    JSON, not an array of objects, a field missing or not of the shape written here): the caller then
    decodes it with orjson and ``session_from_dict``, which read it the same way or raise as ever."""
    global _plain_bytes
    if _typed is None and "msgspec" not in sys.modules and _plain_bytes < TYPED_AFTER:
        _plain_bytes += len(body)
        return None
    decode, values_of = _typed or _typed_decoder()
    import msgspec

    try:
        docs = decode(body)
    except msgspec.MsgspecError:
        return None
    return [_session_of(values_of(doc), history) for doc in docs]


def _typed_decoder() -> tuple[Callable[[bytes], list[Any]], Callable[[Any], tuple[Any, ...]]]:
    """A decoder of arrays of documents into records with Session's fields, and the getter of a record's
    values in field order. A field is typed only where ``session_from_dict`` makes a tuple of it (so a
    null or a string there is refused, not read otherwise); every other value is taken as JSON gives it,
    with the default ``session_from_dict`` leaves it when absent."""
    global _typed
    import msgspec

    absent_as_none = {*_DATES, "model_usage", "rate_limits", "usage_history"}
    fields: list[Any] = []
    for f in dataclasses.fields(Session):
        if f.name in _TUPLES:
            fields.append((f.name, tuple[Any, ...], ()))
        elif f.name in _NESTED_TUPLES:
            fields.append((f.name, tuple[tuple[Any, ...], ...], ()))
        elif f.name in absent_as_none:
            fields.append((f.name, Any, None))
        elif f.default is not dataclasses.MISSING:
            fields.append((f.name, Any, f.default))
        else:
            fields.append((f.name, Any))
    record: Any = msgspec.defstruct("SavedSession", fields, kw_only=True)
    _typed = msgspec.json.Decoder(list[record]).decode, attrgetter(*_FIELD_AT)
    return _typed


def _session_of(record: tuple[Any, ...], history: bool) -> Session:
    """``session_from_dict`` of a document whose values are ``record``, in Session's field order."""
    values = list(record)
    for at in _DATES_AT:
        values[at] = _moment(values[at])
    for at in _SHARED_AT:
        if isinstance(values[at], str):
            values[at] = sys.intern(values[at])
    values[_MODELS_AT] = tuple(map(_shared, values[_MODELS_AT]))
    values[_TOKENS_AT] = TokenUsage(**_source_shared(values[_TOKENS_AT]))
    values[_USAGE_AT] = tuple(ModelTokens(_shared(m), *rest) for m, *rest in values[_USAGE_AT] or ())
    values[_LIMITS_AT] = tuple(
        RateLimit(n, u, w, parse_ts(r), parse_ts(seen[0]) if seen else None)
        for n, u, w, r, *seen in values[_LIMITS_AT] or ()
    )
    packed = values[_HISTORY_AT]
    values[_HISTORY_AT] = (
        tuple(map(tuple, orjson.loads(packed))) if history and isinstance(packed, str) else ()
    )
    return Session(*values)


def _moment(value: Any) -> datetime | None:
    """``parse_ts(value)``, straight through ``datetime.fromisoformat`` for a time in UTC written with a
    ``Z`` (as ``timefmt.iso`` writes every one): parse_ts reads it the same way, with ``+00:00`` for
    the ``Z``, and the same zone comes out."""
    if type(value) is str and len(value) >= 20 and value[-1] == "Z" and value[:4].isdigit():
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    return parse_ts(value)


def _shared(value: Any) -> Any:
    return sys.intern(value) if isinstance(value, str) else value


def _source_shared(tokens: dict[str, Any]) -> dict[str, Any]:
    source = tokens.get("source")
    return {**tokens, "source": sys.intern(source)} if isinstance(source, str) else tokens
