"""``canonical_before`` shifts a canonical timestamp as a naive UTC time instead of parsing it with its
zone and formatting it again; for every value it must give what the full round trip gives."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from llm_session_manager.timefmt import canonical_before, canonical_ts, parse_ts

DELTAS = (timedelta(hours=1), timedelta(minutes=5), timedelta(days=400), timedelta(0))
ODD = [
    "2025-11-06T13:56:27.816Z",
    "2025-01-01T00:30:00.000Z",  # back across a year
    "2024-03-01T00:10:00.000Z",  # back across a leap day
    "1000-01-01T00:30:00.000Z",  # back below year 1000: strftime writes no leading zero there
    "1000-01-01T01:30:00.000Z",
    "0999-12-31T23:00:00.000Z",
    "0001-01-01T00:30:00.000Z",  # nothing before year 1
    "9999-12-31T23:59:59.999Z",
    "2025-02-30T10:00:00.000Z",  # no such day
    "2025-11-06T24:00:00.000Z",  # no such hour
    "2025-11-06 13:56:27.816Z",  # not canonical
    "2025-11-06T13:56:27,816Z",
    "2025-11-06T13:56:27.816+02:00",
    "2025-11-06T13:56:27Z",
    "2025-11-06T13:56:27.81Z ",
    "1a00-01-01T00:00:00.000Z",
    "２０２５-11-06T13:56:27.816Z",
    "",
    None,
    5,
]


def round_trip(value: object, delta: timedelta) -> object:
    """What readers computed before: parse in full, subtract, format, make canonical."""
    try:
        dt = parse_ts(value)
        return None if dt is None else canonical_ts((dt - delta).isoformat()) or ""
    except OverflowError as exc:
        return type(exc)


def shifted(value: object, delta: timedelta) -> object:
    try:
        return canonical_before(value, delta)
    except OverflowError as exc:
        return type(exc)


@pytest.mark.parametrize("value", ODD)
def test_odd_values_give_what_the_round_trip_gives(value: object) -> None:
    for delta in DELTAS:
        assert shifted(value, delta) == round_trip(value, delta), (value, delta)


def test_random_canonical_timestamps_give_what_the_round_trip_gives() -> None:
    rnd = random.Random(18)
    for _ in range(5_000):
        moment = datetime(1000, 1, 1, tzinfo=timezone.utc) + timedelta(
            seconds=rnd.randrange(0, 9_000 * 365 * 86_400), milliseconds=rnd.randrange(1000)
        )
        value = canonical_ts(moment.isoformat())
        for delta in DELTAS:
            assert shifted(value, delta) == round_trip(value, delta), (value, delta)
