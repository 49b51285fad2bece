"""Timestamps: transcripts use ISO 8601 strings; we compare them as canonical UTC strings and expose
timezone-aware datetimes."""

from __future__ import annotations

from datetime import datetime, timezone


def parse_ts(value: object) -> datetime | None:
    """An ISO 8601 timestamp (``Z`` or an offset; naive means UTC) as an aware UTC datetime, or None."""
    if not isinstance(value, str) or len(value) < 10 or not value[:4].isdigit():
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def canonical_ts(value: object) -> str | None:
    """A timestamp as ``YYYY-MM-DDTHH:MM:SS.mmmZ`` so that plain string comparison orders it.

    The common form is already canonical and returned as is, without parsing.
    """
    if not isinstance(value, str):
        return None
    if len(value) == 24 and value[23] == "Z" and value[10] == "T" and value[:4].isdigit():
        return value
    dt = parse_ts(value)
    if dt is None:
        return None
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def iso(dt: datetime | None) -> str | None:
    """UTC ISO 8601 with a ``Z`` suffix, for JSON output."""
    if dt is None:
        return None
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")
