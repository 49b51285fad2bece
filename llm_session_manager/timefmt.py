"""Timestamps: transcripts use ISO 8601 strings; we compare them as canonical UTC strings and expose
timezone-aware datetimes."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone, tzinfo


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


def canonical_before(value: object, delta: timedelta) -> str | None:
    """The canonical timestamp ``delta`` before timestamp ``value`` (None when it does not parse).

    Readers ask this once per file and session (the start of a recent window); a canonical ``value``
    is shifted as a naive UTC time, without the two time-zone round trips of parsing it in full."""
    if type(value) is str and len(value) == 24 and value[23] == "Z" and "1000" <= value[:4] <= "9999":
        try:
            shifted = datetime.fromisoformat(value[:23]) - delta
        except ValueError:
            pass
        else:
            if shifted.year >= 1000:  # strftime writes smaller years without their zeros
                return shifted.isoformat(timespec="milliseconds") + "Z"
    dt = parse_ts(value)
    return None if dt is None else canonical_ts((dt - delta).isoformat()) or ""


def iso(dt: datetime | None) -> str | None:
    """UTC ISO 8601 with a ``Z`` suffix, for JSON output."""
    if dt is None:
        return None
    return dt.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)\s*(m|min|h|d|w)$", re.IGNORECASE)
_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 604800}
SINCE_FORMS = "today, yesterday, 30m, 2h, 3d, 1w or a date like 2026-11-01"


def parse_since(text: str, now: datetime, *, utc: bool = False, zone: tzinfo | None = None) -> datetime:
    """``--since``: ``today``, ``yesterday``, ``30m``/``2h``/``3d``/``1w`` before ``now``, or an ISO date or
    date-time. Calendar days and times without an offset are local time, or UTC when ``utc``, or in
    ``zone`` when given. Anything else, or a moment out of range (``99999999d``), raises ``UsageError``."""
    from llm_session_manager.errors import UsageError

    zone = zone or (timezone.utc if utc else None)
    try:
        moment = _since(text.strip(), now.astimezone(zone), zone)
        if moment is not None:
            return moment.astimezone(timezone.utc)
    except (OverflowError, ValueError):
        raise UsageError(f"--since: '{text}' is out of range (use e.g. 30d or a date after year 1)") from None
    raise UsageError(f"--since: cannot read '{text}' (use {SINCE_FORMS})")


def _since(value: str, now: datetime, zone: tzinfo | None) -> datetime | None:
    """The moment ``value`` names; wall-clock times are read in ``zone`` (None = the system's zone)."""
    word = value.lower()
    if word in ("today", "yesterday"):
        day = now.date() - timedelta(days=1 if word == "yesterday" else 0)
        return _wall_clock(datetime(day.year, day.month, day.day), zone)
    match = _RELATIVE.match(value)
    if match:
        return now - timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2).lower()])
    if not re.match(r"\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        parsed = datetime.fromisoformat(re.sub(r"[zZ]$", "+00:00", value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else _wall_clock(parsed, zone)


def _wall_clock(naive: datetime, zone: tzinfo | None) -> datetime:
    """A naive date-time read in ``zone``, or in the system's zone (its DST rules included) when None."""
    return naive.replace(tzinfo=zone) if zone is not None else naive.astimezone()
