"""Usage reports bucket each reply by its minute since the epoch; the reader works that minute out from
the day (parsed once) plus the time of day. It must be the minute parsing the whole timestamp gives."""

from __future__ import annotations

import pytest

from llm_session_manager.agents import claude_code
from llm_session_manager.timefmt import parse_ts

STAMPS = [
    "2025-11-06T13:56:27.816Z",
    "2025-11-06T00:00:00.000Z",
    "2025-11-06T23:59:59.999Z",
    "2024-02-29T12:30:00.000Z",  # a leap day
    "1969-12-31T23:59:30.500Z",  # before the epoch: minutes are floored
    "0001-01-01T00:00:00.000Z",
    "9999-12-31T23:59:59.999Z",
    "2025-02-30T10:00:00.000Z",  # no such day
    "2025-11-06T24:00:00.000Z",  # no such hour
    "2025-11-06T13:60:00.000Z",
    "2025-11-06T13:56:60.000Z",
    "2025-11-06 13:56:27.816Z",  # not canonical: parsed whole
    "2025-11-06T13:56:27.816+02:00",
    "2025-11-06T13:56:27Z",
    "２０２５-11-06T13:56:27.816Z",  # full-width digits are not a date
    "not a timestamp at all!!",
    "",
]


def reference(ts: str) -> int:
    parsed = parse_ts(ts)
    return int(parsed.timestamp() // 60) if parsed else 0


@pytest.mark.parametrize("ts", STAMPS)
def test_a_minute_is_the_one_the_whole_timestamp_gives(ts: str) -> None:
    claude_code._DAYS.clear()
    claude_code._MINUTES.clear()
    assert claude_code._parse_minute(ts) == reference(ts)
    assert claude_code._parse_minute(ts) == reference(ts)  # from the memoised day
    assert claude_code._minute(ts) == reference(ts)


def test_days_are_parsed_once() -> None:
    claude_code._DAYS.clear()
    for minute in range(0, 60, 7):
        claude_code._parse_minute(f"2025-11-06T08:{minute:02d}:00.000Z")
    assert list(claude_code._DAYS) == ["2025-11-06"]


def test_the_minutes_memo_stays_small() -> None:
    """A long history has a reply in tens of thousands of minutes; the memo keeps a few thousand (every
    reading and merging worker holds one)."""
    claude_code._MINUTES.clear()
    for n in range(3 * claude_code.MINUTES_KEPT):
        ts = f"2025-11-{1 + n // 1440:02d}T{n // 60 % 24:02d}:{n % 60:02d}:00.000Z"
        assert claude_code._minute(ts) == reference(ts)
        assert len(claude_code._MINUTES) <= claude_code.MINUTES_KEPT + 1
