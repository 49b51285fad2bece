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
    match = claude_code._CANONICAL_TIME.fullmatch(ts)
    assert claude_code._parse_minute(ts, match) == reference(ts)
    assert claude_code._parse_minute(ts, match) == reference(ts)  # from the memoised day
    assert claude_code._minute(ts) == reference(ts)


def test_days_are_parsed_once() -> None:
    claude_code._DAYS.clear()
    for minute in range(0, 60, 7):
        ts = f"2025-11-06T08:{minute:02d}:00.000Z"
        claude_code._parse_minute(ts, claude_code._CANONICAL_TIME.fullmatch(ts))
    assert list(claude_code._DAYS) == ["2025-11-06"]


def test_the_minutes_memo_stays_small() -> None:
    """A long history has a reply in tens of thousands of minutes; the memo keeps a few thousand (every
    reading and merging worker holds one)."""
    claude_code._MINUTES.clear()
    for n in range(3 * claude_code.MINUTES_KEPT):
        ts = f"2025-11-{1 + n // 1440:02d}T{n // 60 % 24:02d}:{n % 60:02d}:00.000Z"
        assert claude_code._minute(ts) == reference(ts)
        assert len(claude_code._MINUTES) <= claude_code.MINUTES_KEPT + 1


def test_a_timestamp_that_is_not_canonical_never_answers_for_one_that_is() -> None:
    """The memo is keyed by the first 16 characters; a stamp with the same ones whose seconds are not a
    time of day parses to nothing, and memoised it would have given the valid stamps of that minute 0."""
    claude_code._MINUTES.clear()
    assert claude_code._minute("2025-11-06T13:56:99.000Z") == 0
    assert claude_code._minute("2025-11-06T13:56:27.816Z") == reference("2025-11-06T13:56:27.816Z")


@pytest.mark.parametrize("ts", STAMPS)
def test_the_compiled_forget_gives_the_minute_python_gives(ts: str) -> None:
    """Every reply older than the start is given its minute, by C for a canonical stamp and by
    ``_minute`` for any other; a newer one, a number and a missing stamp are left alone."""
    forget = claude_code.compiled_forget()
    assert forget is not None, "the compiled fold was not built (pip install -e . builds it)"
    claude_code._MINUTES.clear()
    entries = {
        "old": ["m", 1, 2, 3, 4, 0, 0, ts],
        "new": ["m", 1, 2, 3, 4, 0, 0, "9999-12-31T23:59:59.999Z~"],
        "minute": ["m", 1, 2, 3, 4, 0, 0, 123],
        "none": ["m", 1, 2, 3, 4, 0, 0, None],
        "short": ["m", 1, 2],
    }
    start = "9999-12-31T23:59:59.999Z~"
    assert forget(entries, start) is True
    if ts < start:
        assert entries["old"][claude_code.E_TS] == reference(ts)
        assert type(entries["old"][claude_code.E_TS]) is int
    else:  # (full-width digits sort after ASCII ones)
        assert entries["old"][claude_code.E_TS] == ts
    assert entries["new"][claude_code.E_TS] == "9999-12-31T23:59:59.999Z~"
    assert entries["minute"][claude_code.E_TS] == 123
    assert entries["none"][claude_code.E_TS] is None
    assert entries["short"] == ["m", 1, 2]


def test_the_compiled_forget_leaves_an_entry_that_is_not_a_list_to_python() -> None:
    forget = claude_code.compiled_forget()
    assert forget is not None
    data = claude_code.new_data()
    data["last_ts"] = "2025-11-06T13:56:27.816Z"
    data["entries"] = {"a": ["m", 1, 2, 3, 4, 0, 0, "2025-11-01T00:00:00.000Z"], "b": ("m", 1)}
    assert forget(dict(data["entries"]), "2025-11-06T12:56:27.816Z") is False
    claude_code._forget_old_times(data)  # Python finishes what C left, as it would have alone
    assert data["entries"]["a"][claude_code.E_TS] == reference("2025-11-01T00:00:00.000Z")


@pytest.mark.parametrize("ts", STAMPS)
def test_the_compiled_minute_is_pythons(ts: str) -> None:
    compiled = claude_code.minute_function()
    assert compiled is not claude_code._minute, "the compiled fold was not built (pip install -e . builds it)"
    claude_code._MINUTES.clear()
    assert compiled(ts) == claude_code._minute(ts) == reference(ts)
    assert compiled(ts) == reference(ts)  # and after Python memoised it
