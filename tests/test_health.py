"""Unit tests for llm_session_manager.health: the factors, the caps, the bands and the weighted score.

Expected numbers are worked out by hand from the design in
/work/shared/research/discovery-and-health.md section 4 and written next to each assertion.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from itertools import pairwise
from typing import Any

import factories
import pytest
from factories import make_session

from llm_session_manager import health as h
from llm_session_manager.config import DEFAULTS
from llm_session_manager.models import Health, Process, Session

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)
COMPACT_200K = 167_000  # auto-compact point of a 200k window
COMPACT_1M = 967_000  # auto-compact point of a 1M window


def health_cfg(**changes: Any) -> dict[str, Any]:
    """The config's default ``health`` section, with top-level keys replaced."""
    cfg = copy.deepcopy(DEFAULTS["health"])
    cfg.update(changes)
    return cfg


def make_process(state: str | None = None, state_updated_at: datetime | None = None) -> Process:
    return factories.make_process(state=state, state_updated_at=state_updated_at, cwd="/tmp/project")


def make_inputs(
    compact_at: int | None = COMPACT_200K,
    running: bool = False,
    estimated: bool = False,
    now: datetime = NOW,
) -> h.HealthInputs:
    window = None if compact_at is None else (1_000_000 if compact_at > 200_000 else 200_000)
    return h.HealthInputs(
        now=now, context_window=window, compact_at=compact_at, running=running, estimated=estimated
    )


def score(
    session: Session, inputs: h.HealthInputs | None = None, cfg: dict[str, Any] | None = None
) -> Health:
    return h.score_session(session, inputs or make_inputs(), cfg if cfg is not None else health_cfg())


def factor(result: Health, name: str) -> Any:
    (found,) = [f for f in result.factors if f.name == name]
    return found


# --------------------------------------------------------------------------------------------------
# interpolate


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (0.0, 0.0),  # flat below the first point
        (0.5, 0.0),
        (0.65, 20.0),  # halfway 0.5 -> 0.8: 0 -> 40
        (0.8, 40.0),
        (0.875, 55.0),  # halfway 0.8 -> 0.95: 40 -> 70
        (0.95, 70.0),
        (3.0, 70.0),  # flat above the last point
    ],
)
def test_interpolate_relative_points(x: float, expected: float) -> None:
    assert h.interpolate(x, h.REL_POINTS) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("x", "expected"),
    [
        (0, 0.0),
        (32_000, 0.0),
        (48_000, 5.0),
        (64_000, 10.0),
        (96_000, 15.0),
        (128_000, 20.0),
        (164_000, 25.0),
        (200_000, 30.0),
        (350_000, 35.0),
        (500_000, 40.0),
        (2_000_000, 40.0),
    ],
)
def test_interpolate_absolute_points(x: int, expected: float) -> None:
    assert h.interpolate(x, h.ABS_POINTS) == pytest.approx(expected)


def test_design_constants_match_the_research() -> None:
    assert h.REL_POINTS == ((0.5, 0.0), (0.8, 40.0), (0.95, 70.0))
    assert h.ABS_POINTS == ((32_000, 0.0), (64_000, 10.0), (128_000, 20.0), (200_000, 30.0), (500_000, 40.0))
    assert h.TURN_POINTS == ((50, 100.0), (150, 70.0), (300, 40.0))
    assert (h.CAP_WARNING, h.CAP_CRITICAL) == (69.0, 39.0)


# --------------------------------------------------------------------------------------------------
# tokens factor


def test_tokens_150k_of_167k_by_hand() -> None:
    f = h.tokens_factor(150_000, COMPACT_200K, 0.4)
    rel = 150_000 / 167_000  # 0.89820...
    rel_pen = 40 + 30 * (rel - 0.8) / 0.15  # 59.6407...
    abs_pen = 20 + 10 * (150_000 - 128_000) / (200_000 - 128_000)  # 23.0556...
    expected = 100 - max(rel_pen, abs_pen) - 0.25 * min(rel_pen, abs_pen)  # 34.595...
    assert f.score == round(expected, 1) == 34.6
    assert f.name == "tokens"
    assert f.weight == 0.4
    assert f.raw == {
        "context_tokens": 150_000,
        "compact_at": 167_000,
        "relative": 0.8982,
        "relative_penalty": 59.6,
        "absolute_penalty": 23.1,
    }
    assert "150,000" in f.reason
    assert "90%" in f.reason
    assert "167,000" in f.reason
    assert "long contexts" not in f.reason  # the relative penalty dominates here


def test_tokens_100k_of_167k_absolute_penalty_dominates() -> None:
    f = h.tokens_factor(100_000, COMPACT_200K, 0.4)
    rel_pen = 40 * (100_000 / 167_000 - 0.5) / 0.3  # 13.1737...
    abs_pen = 10 + 10 * (100_000 - 64_000) / 64_000  # 15.625
    expected = 100 - abs_pen - 0.25 * rel_pen  # 81.08...
    assert f.score == round(expected, 1) == 81.1
    assert "long contexts lose accuracy" in f.reason


@pytest.mark.parametrize(
    ("ctx", "compact_at", "expected"),
    [
        (0, COMPACT_200K, 100.0),
        (30_000, COMPACT_200K, 100.0),  # rel 0.18 and under 32k: no penalty at all
        # A tiny compact point isolates the relative penalty (absolute is 0 below 32k).
        (15_000, 30_000, 100.0),  # rel 0.5
        (24_000, 30_000, 60.0),  # rel 0.8 -> 40
        (28_500, 30_000, 30.0),  # rel 0.95 -> 70
        (30_000, 30_000, 30.0),  # rel 1.0 -> still 70
        # A huge compact point isolates the absolute penalty (relative is 0 below half of it).
        (64_000, 10**9, 90.0),
        (128_000, 10**9, 80.0),
        (200_000, 10**9, 70.0),
        (500_000, 10**9, 60.0),
        (900_000, 10**9, 60.0),
        # Both at their maximum: 100 - 70 - 40/4.
        (1_000_000, 1_000_000, 20.0),
        # 200k on a 1M window: rel 0.207 -> 0, abs 30.
        (200_000, COMPACT_1M, 70.0),
    ],
)
def test_tokens_points(ctx: int, compact_at: int, expected: float) -> None:
    assert h.tokens_factor(ctx, compact_at, 1.0).score == expected


@pytest.mark.parametrize(("ctx", "compact_at"), [(None, COMPACT_200K), (50_000, None), (50_000, 0)])
def test_tokens_unknown_is_neutral(ctx: int | None, compact_at: int | None) -> None:
    f = h.tokens_factor(ctx, compact_at, 0.4)
    assert f.score == 100.0
    assert "unknown" in f.reason


@pytest.mark.parametrize("compact_at", [30_000, COMPACT_200K, COMPACT_1M])
def test_tokens_more_context_never_raises_the_factor(compact_at: int) -> None:
    scores = [h.tokens_factor(ctx, compact_at, 1.0).score for ctx in range(0, 1_300_001, 2_500)]
    assert all(b <= a for a, b in pairwise(scores))
    assert scores[0] == 100.0
    assert scores[-1] == 20.0


# --------------------------------------------------------------------------------------------------
# duration factor


@pytest.mark.parametrize(
    ("compactions", "expected"),
    [(0, 100.0), (1, 91.0), (2, 82.0), (3, 70.0), (4, 70.0), (5, 55.0), (6, 55.0), (40, 55.0)],
)
def test_duration_compactions(compactions: int, expected: float) -> None:
    # 0.6 * compaction score (100/85/70/50/50/25) + 0.4 * 100 (no turns).
    f = h.duration_factor(make_session(compactions=compactions, turns_since_compaction=0), 0.2)
    assert f.score == expected
    assert f.raw["compactions"] == compactions


@pytest.mark.parametrize(
    ("turns", "expected"),
    [(0, 100.0), (49, 100.0), (50, 100.0), (100, 94.0), (150, 88.0), (225, 82.0), (300, 76.0), (5000, 76.0)],
)
def test_duration_turns(turns: int, expected: float) -> None:
    # 0.6 * 100 (no compaction) + 0.4 * turn score (<50 -> 100, 150 -> 70, 300+ -> 40).
    f = h.duration_factor(make_session(turns_since_compaction=turns), 0.2)
    assert f.score == expected
    assert f"{turns} turns" in f.reason


def test_duration_combined_by_hand() -> None:
    # 2 compactions -> 70; 200 turns -> 70 - 30 * 50/150 = 60; 0.6*70 + 0.4*60 = 66.
    f = h.duration_factor(make_session(compactions=2, turns_since_compaction=200), 0.2)
    assert f.score == 66.0
    assert f.reason == "200 turns since the last compaction or /clear; 2 compactions"


def test_duration_singular_compaction_in_reason() -> None:
    f = h.duration_factor(make_session(compactions=1), 0.2)
    assert f.reason.endswith("1 compaction")


@pytest.mark.parametrize("signal", ["compaction_thrash", "prompt_too_long"])
def test_duration_fatal_signals_zero_it(signal: str) -> None:
    f = h.duration_factor(make_session(fatal_signals=(signal,)), 0.2)
    assert f.score == 0.0
    assert f.reason.startswith("fatal: ")
    assert signal.replace("_", " ") in f.reason
    assert f.raw["fatal"] == [signal]


def test_duration_auth_error_is_not_a_duration_problem() -> None:
    f = h.duration_factor(make_session(fatal_signals=("auth_error",)), 0.2)
    assert f.score == 100.0


# --------------------------------------------------------------------------------------------------
# activity factor


def test_activity_not_running_is_fine_however_old() -> None:
    s = make_session(last_activity=NOW - timedelta(days=30), process=make_process("busy"))
    f = h.activity_factor(s, make_inputs(running=False), 0.2, health_cfg())
    assert f.score == 100.0
    assert "not running" in f.reason
    assert f.raw["running"] is False


def test_activity_busy_but_silent_is_stuck() -> None:
    s = make_session(last_activity=NOW - timedelta(minutes=11), process=make_process("busy"))
    f = h.activity_factor(s, make_inputs(running=True), 0.2, health_cfg())
    assert f.score == 30.0
    assert "11 min" in f.reason
    assert "stuck" in f.reason
    assert f.raw == {"running": True, "state": "busy", "minutes_since_write": 11.0}


def test_activity_busy_and_writing_is_fine() -> None:
    s = make_session(last_activity=NOW - timedelta(minutes=9), process=make_process("busy"))
    f = h.activity_factor(s, make_inputs(running=True), 0.2, health_cfg())
    assert f.score == 100.0
    assert "not stuck" in f.reason


def test_activity_busy_limit_comes_from_config() -> None:
    s = make_session(last_activity=NOW - timedelta(minutes=9), process=make_process("busy"))
    f = h.activity_factor(s, make_inputs(running=True), 0.2, health_cfg(stuck_busy_minutes=5))
    assert f.score == 30.0


def test_activity_waiting_too_long() -> None:
    proc = make_process("waiting", state_updated_at=NOW - timedelta(minutes=20))
    s = make_session(last_activity=NOW - timedelta(minutes=20), process=proc)
    f = h.activity_factor(s, make_inputs(running=True), 0.2, health_cfg())
    assert f.score == 60.0
    assert f.reason == "waiting on a prompt for 20 min"


def test_activity_waiting_counts_from_the_state_change() -> None:
    # The transcript is old, but the prompt appeared 5 minutes ago: not stuck yet.
    proc = make_process("waiting", state_updated_at=NOW - timedelta(minutes=5))
    s = make_session(last_activity=NOW - timedelta(minutes=40), process=proc)
    f = h.activity_factor(s, make_inputs(running=True), 0.2, health_cfg())
    assert f.score == 100.0


def test_activity_waiting_without_state_time_uses_last_write() -> None:
    proc = make_process("waiting")
    s = make_session(last_activity=NOW - timedelta(minutes=16), process=proc)
    assert h.activity_factor(s, make_inputs(running=True), 0.2, health_cfg()).score == 60.0
    assert h.activity_factor(
        s, make_inputs(running=True), 0.2, health_cfg(stuck_waiting_minutes=30)
    ).score == (100.0)


def test_activity_idle_running_session_is_fine() -> None:
    s = make_session(last_activity=NOW - timedelta(hours=5), process=make_process("idle"))
    f = h.activity_factor(s, make_inputs(running=True), 0.2, health_cfg())
    assert f.score == 100.0
    assert "idle" in f.reason


def test_activity_running_state_unknown() -> None:
    s = make_session(last_activity=None, process=None)
    f = h.activity_factor(s, make_inputs(running=True), 0.2, health_cfg())
    assert f.score == 100.0
    assert "state unknown" in f.reason
    assert f.raw["minutes_since_write"] is None


# --------------------------------------------------------------------------------------------------
# errors factor


def test_errors_none_at_all() -> None:
    f = h.errors_factor(make_session(), 0.2)
    assert f.score == 100.0
    assert f.reason == "no tool calls"


def test_errors_rate_by_hand() -> None:
    # 4 of 20 failed -> 100 - 150 * 0.2 = 70.
    results = (True, False, False, False, False) * 4
    f = h.errors_factor(make_session(recent_tool_results=results), 0.2)
    assert f.score == 70.0
    assert f.reason == "4 of the last 20 tool calls failed"
    assert f.raw["error_rate"] == 0.2


def test_errors_all_signals_by_hand() -> None:
    # rate 2/10 -> -30; 1 API error -> -15; 1 interruption -> -10: 100 - 55 = 45.
    s = make_session(
        recent_tool_results=(True, True, *(False,) * 8),
        recent_api_errors=1,
        recent_interruptions=1,
        repeated_failures=2,  # below 3: no penalty
    )
    f = h.errors_factor(s, 0.2)
    assert f.score == 45.0
    assert "1 recent API error" in f.reason
    assert "1 recent interruption" in f.reason
    assert "failed 2 times" not in f.reason


@pytest.mark.parametrize(("api_errors", "expected"), [(1, 85.0), (2, 70.0), (3, 55.0), (4, 55.0), (10, 55.0)])
def test_errors_api_errors_penalty_is_capped_at_45(api_errors: int, expected: float) -> None:
    assert h.errors_factor(make_session(recent_api_errors=api_errors), 0.2).score == expected


@pytest.mark.parametrize(("repeated", "expected"), [(0, 100.0), (2, 100.0), (3, 70.0), (9, 70.0)])
def test_errors_repeated_command_failure(repeated: int, expected: float) -> None:
    f = h.errors_factor(make_session(repeated_failures=repeated), 0.2)
    assert f.score == expected
    if repeated >= 3:
        assert f"one command failed {repeated} times" in f.reason


@pytest.mark.parametrize(("interruptions", "expected"), [(1, 90.0), (2, 80.0), (3, 70.0), (7, 70.0)])
def test_errors_interruptions_penalty_is_capped_at_30(interruptions: int, expected: float) -> None:
    assert h.errors_factor(make_session(recent_interruptions=interruptions), 0.2).score == expected


def test_errors_floor_is_zero() -> None:
    s = make_session(
        recent_tool_results=(True,) * 20, recent_api_errors=5, repeated_failures=5, recent_interruptions=5
    )
    assert h.errors_factor(s, 0.2).score == 0.0


def test_errors_more_errors_never_raise_the_factor() -> None:
    def errors_score(n_failed: int, api: int, repeated: int, interrupted: int) -> float:
        s = make_session(
            recent_tool_results=(True,) * n_failed + (False,) * (20 - n_failed),
            recent_api_errors=api,
            repeated_failures=repeated,
            recent_interruptions=interrupted,
        )
        return float(h.errors_factor(s, 0.2).score)

    for base in [(0, 0, 0, 0), (2, 1, 0, 1), (5, 0, 3, 0), (10, 3, 4, 3)]:
        for i in range(4):  # raise one kind of error at a time, the others fixed
            previous = errors_score(*base)
            for extra in range(1, 8):
                bumped = list(base)
                bumped[i] = min(bumped[i] + extra, 20)
                current = errors_score(*bumped)
                assert current <= previous, (base, i, extra)
                previous = current


# --------------------------------------------------------------------------------------------------
# caps and bands


@pytest.mark.parametrize(
    ("ctx", "compact_at", "expected"),
    [
        (None, COMPACT_200K, []),
        (100_000, COMPACT_200K, []),
        (133_599, COMPACT_200K, []),  # rel 0.79999
        (133_600, COMPACT_200K, [69.0]),  # rel exactly 0.8
        (158_649, COMPACT_200K, [69.0]),  # rel 0.94999
        (158_650, COMPACT_200K, [39.0]),  # rel exactly 0.95
        (199_999, COMPACT_1M, []),
        (200_000, COMPACT_1M, [69.0]),  # 200k tokens whatever the window
        (250_000, None, [69.0]),
    ],
)
def test_caps_for_context(ctx: int | None, compact_at: int | None, expected: list[float]) -> None:
    caps = h.caps_for(make_session(context_tokens=ctx), compact_at)
    assert [limit for limit, _why in caps] == expected
    assert all(why for _limit, why in caps)


@pytest.mark.parametrize("signal", ["compaction_thrash", "prompt_too_long", "auth_error"])
def test_caps_for_fatal_signals(signal: str) -> None:
    caps = h.caps_for(make_session(fatal_signals=(signal,)), COMPACT_200K)
    assert caps == [(39.0, signal.replace("_", " "))]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (100.0, "healthy"),
        (70.0, "healthy"),
        (69.9, "warning"),
        (40.0, "warning"),
        (39.9, "critical"),
        (0, "critical"),
    ],
)
def test_band_default_thresholds(value: float, expected: str) -> None:
    assert h.band(value, {"healthy": 70, "warning": 40}) == expected
    assert h.band(value, {}) == expected


def test_band_custom_thresholds() -> None:
    th = {"healthy": 90, "warning": 60}
    assert h.band(95, th) == "healthy"
    assert h.band(89.9, th) == "warning"
    assert h.band(59.9, th) == "critical"


# --------------------------------------------------------------------------------------------------
# score_session


def busy_session() -> Session:
    """A running session with something in every factor (see the hand computation below)."""
    return make_session(
        context_tokens=100_000,  # tokens 81.1
        compactions=2,
        turns_since_compaction=200,  # duration 66
        recent_tool_results=(True, True, *(False,) * 8),
        recent_api_errors=1,
        recent_interruptions=1,  # errors 45
        last_activity=NOW - timedelta(minutes=3),
        process=make_process("busy"),  # activity 100
    )


def test_score_session_by_hand_default_weights() -> None:
    result = score(busy_session(), make_inputs(running=True))
    # 0.4*81.1 + 0.2*66 + 0.2*100 + 0.2*45 = 32.44 + 13.2 + 20 + 9 = 74.64
    assert result.score == 74.6
    assert result.status == "healthy"
    assert result.caps == ()
    assert result.estimated is False
    assert [f.name for f in result.factors] == ["tokens", "duration", "activity", "errors"]
    assert [f.score for f in result.factors] == [81.1, 66.0, 100.0, 45.0]
    assert [f.weight for f in result.factors] == pytest.approx([0.4, 0.2, 0.2, 0.2])


def test_score_session_150k_of_167k_is_capped() -> None:
    s = make_session(context_tokens=150_000, compactions=1, turns_since_compaction=100)
    result = score(s)
    # tokens 34.6; duration 0.6*85 + 0.4*85 = 85; activity 100; errors 100:
    # 0.4*34.6 + 0.2*85 + 0.2*100 + 0.2*100 = 70.84, capped at 69 because rel 0.898 >= 0.8.
    assert sum(f.score * f.weight for f in result.factors) == pytest.approx(70.84)
    assert result.score == 69.0
    assert result.status == "warning"
    assert result.caps == ("context at 80%+ of the auto-compact point or over 200k tokens",)


def test_score_session_200k_tokens_on_1m_window_is_capped() -> None:
    result = score(make_session(context_tokens=200_000), make_inputs(compact_at=COMPACT_1M))
    # tokens 70 (abs 30, rel 0): 0.4*70 + 0.6*100 = 88 -> capped 69.
    assert factor(result, "tokens").score == 70.0
    assert result.score == 69.0
    uncapped = score(make_session(context_tokens=199_999), make_inputs(compact_at=COMPACT_1M))
    assert uncapped.score == 88.0
    assert uncapped.status == "healthy"
    assert uncapped.caps == ()


def test_score_session_critical_cap_at_95_percent() -> None:
    result = score(make_session(context_tokens=160_000))
    assert result.score <= 39.0
    assert result.status == "critical"
    assert result.caps == ("context at 95%+ of the auto-compact point",)


@pytest.mark.parametrize("signal", ["compaction_thrash", "prompt_too_long", "auth_error"])
def test_score_session_fatal_signal_caps_critical(signal: str) -> None:
    result = score(make_session(fatal_signals=(signal,)))
    # auth_error leaves every factor at 100 (score 100 before the cap); the others zero duration (80).
    assert result.score == 39.0
    assert result.status == "critical"
    assert signal.replace("_", " ") in result.caps


def test_score_session_several_caps_take_the_lowest() -> None:
    result = score(make_session(context_tokens=140_000, fatal_signals=("auth_error",)))
    assert result.score == 39.0
    assert len(result.caps) == 2


def test_score_session_healthy_fresh_session() -> None:
    result = score(make_session())
    assert result.score == 100.0
    assert result.status == "healthy"


@pytest.mark.parametrize("estimated", [True, False])
def test_score_session_estimated_flag_passes_through(estimated: bool) -> None:
    assert score(make_session(), make_inputs(estimated=estimated)).estimated is estimated


def test_score_session_weights_from_config_change_the_result() -> None:
    s = busy_session()
    inputs = make_inputs(running=True)
    equal = score(s, inputs, health_cfg(weights={"tokens": 1, "duration": 1, "activity": 1, "errors": 1}))
    # (81.1 + 66 + 100 + 45) / 4 = 73.025
    assert equal.score == 73.0
    assert [f.weight for f in equal.factors] == [0.25] * 4
    errors_only = score(
        s, inputs, health_cfg(weights={"tokens": 0, "duration": 0, "activity": 0, "errors": 3})
    )
    assert errors_only.score == 45.0
    assert errors_only.status == "warning"
    tokens_only = score(
        s, inputs, health_cfg(weights={"tokens": 5, "duration": 0, "activity": 0, "errors": 0})
    )
    assert tokens_only.score == 81.1


def test_score_session_weights_are_normalised() -> None:
    s = busy_session()
    inputs = make_inputs(running=True)
    scaled = score(
        s, inputs, health_cfg(weights={"tokens": 40, "duration": 20, "activity": 20, "errors": 20})
    )
    assert scaled.score == score(s, inputs).score == 74.6
    assert sum(f.weight for f in scaled.factors) == pytest.approx(1.0)


def test_score_session_thresholds_from_config() -> None:
    result = score(
        busy_session(), make_inputs(running=True), health_cfg(thresholds={"healthy": 80, "warning": 74})
    )
    assert result.score == 74.6
    assert result.status == "warning"


def test_score_session_stuck_limits_from_config() -> None:
    s = make_session(last_activity=NOW - timedelta(minutes=7), process=make_process("busy"))
    inputs = make_inputs(running=True)
    assert score(s, inputs).score == 100.0
    # activity 30 with weight 0.2: 0.8*100 + 0.2*30 = 86
    assert score(s, inputs, health_cfg(stuck_busy_minutes=5)).score == 86.0


def test_score_session_more_context_never_raises_the_score() -> None:
    for compact_at in (COMPACT_200K, COMPACT_1M):
        previous = 101.0
        for ctx in range(0, 1_200_001, 5_000):
            current = score(make_session(context_tokens=ctx), make_inputs(compact_at=compact_at)).score
            assert current <= previous, (compact_at, ctx)
            previous = current


def test_score_session_more_errors_never_raise_the_score() -> None:
    previous = 101.0
    for n in range(21):
        s = make_session(
            recent_tool_results=(True,) * n + (False,) * (20 - n),
            recent_api_errors=min(n, 4),
            repeated_failures=n // 4,
            recent_interruptions=n // 5,
        )
        current = score(s).score
        assert current <= previous, n
        previous = current
    assert previous == 80.0  # errors factor at 0 with weight 0.2


def test_every_factor_has_a_reason() -> None:
    sessions = [
        make_session(),
        make_session(context_tokens=None),
        busy_session(),
        make_session(fatal_signals=("compaction_thrash",), context_tokens=170_000),
        make_session(process=make_process("waiting", NOW - timedelta(hours=1)), recent_api_errors=2),
        make_session(
            process=make_process("busy"), last_activity=NOW - timedelta(hours=1), repeated_failures=4
        ),
    ]
    for s in sessions:
        for running in (True, False):
            for compact_at in (None, COMPACT_200K):
                result = score(s, make_inputs(compact_at=compact_at, running=running))
                assert len(result.factors) == 4
                for f in result.factors:
                    assert isinstance(f.reason, str)
                    assert f.reason.strip(), (f.name, s)
                    assert 0.0 <= f.score <= 100.0


def test_score_session_without_weights_falls_back_to_default_weights() -> None:
    result = h.score_session(make_session(), make_inputs(), {})
    assert result.score == 100.0
    assert result.status == "healthy"


# --------------------------------------------------------------------------------------------------
# an ended session is scored as it ended; its error-signal caps lapse


@pytest.mark.parametrize("signal", ["compaction_thrash", "prompt_too_long", "auth_error"])
def test_an_ended_sessions_error_caps_lapse_after_a_day(signal: str) -> None:
    def ended(hours_ago: float) -> Health:
        s = make_session(fatal_signals=(signal,), last_activity=NOW - timedelta(hours=hours_ago))
        return score(s, make_inputs(running=False))

    fresh = ended(h.CAP_DECAY_HOURS - 1)  # it ended on the failure today: that is how it ended
    assert (fresh.score, fresh.status) == (39.0, "critical")
    old = ended(24 * 3)  # the reported case: an auth error days ago
    assert old.caps == () and old.status != "critical"
    assert old.score == (100.0 if signal == "auth_error" else 80.0)  # the duration factor still says it
    why = factor(old, "activity").reason
    assert f"it ended with: {signal.replace('_', ' ')}" in why and "no longer caps the score" in why


def test_a_running_sessions_error_caps_never_lapse() -> None:
    s = make_session(fatal_signals=("auth_error",), last_activity=NOW - timedelta(days=3))
    result = score(s, make_inputs(running=True))
    assert (result.score, result.status) == (39.0, "critical")


def test_an_ended_sessions_context_caps_stay() -> None:
    # Resuming it starts from that context: the cap says so however old the session is.
    s = make_session(context_tokens=160_000, last_activity=NOW - timedelta(days=30))
    result = score(s, make_inputs(running=False))
    assert result.caps == ("context at 95%+ of the auto-compact point",)
    assert result.status == "critical"


SCORED_LATER = [
    (make_session(context_tokens=150_000, turns_since_compaction=220, compactions=3), False),
    (make_session(context_tokens=None), False),
    (make_session(fatal_signals=("prompt_too_long",), recent_tool_results=(True, False, True)), False),
    (make_session(recent_api_errors=2, repeated_failures=4, recent_interruptions=1), True),
    (make_session(process=make_process("busy"), last_activity=NOW - timedelta(minutes=30)), True),
    (make_session(process=make_process("waiting", NOW - timedelta(minutes=40))), True),
]


@pytest.mark.parametrize(("session", "running"), SCORED_LATER)
def test_the_factors_explained_later_are_those_the_score_was_made_of(session: Session, running: bool) -> None:
    """The score is made from each factor's score alone; the raw values and reasons are made when first
    asked for, once, and are exactly what scoring each factor in full gives."""
    inputs = make_inputs(running=running)
    cfg = health_cfg()
    result = h.score_session(session, inputs, cfg)
    assert result._made is None  # not made yet: a listing never asks
    weights = {name: w / sum(h.DEFAULT_WEIGHTS.values()) for name, w in h.DEFAULT_WEIGHTS.items()}
    full = (
        h.tokens_factor(session.context_tokens, inputs.compact_at, weights["tokens"]),
        h.duration_factor(session, weights["duration"]),
        h.activity_factor(session, inputs, weights["activity"], cfg),
        h.errors_factor(session, weights["errors"]),
    )
    assert result.factors == full and result.factors is result.factors
    assert all(f.reason for f in result.factors)
    light = (
        h.tokens_factor(session.context_tokens, inputs.compact_at, 1.0, explain=False),
        h.duration_factor(session, 1.0, explain=False),
        h.activity_factor(session, inputs, 1.0, cfg, explain=False),
        h.errors_factor(session, 1.0, explain=False),
    )
    assert [f.score for f in light] == [f.score for f in full]
    expected = round(sum(f.score * f.weight for f in full), 1)
    for limit, _why in h.caps_for(session, inputs.compact_at, inputs):
        expected = min(expected, limit)
    assert result.score == round(expected, 1)


# --- the listing's score: the same number as the factors it is explained by -------------------------------


def reference_score(session: Session, inputs: h.HealthInputs, cfg: dict[str, Any]) -> float:
    """The score as the formulas read before the listing scored without factor objects: every factor
    worked out here from the session, weighted, summed in order, capped and rounded."""
    weights = dict(cfg.get("weights") or h.DEFAULT_WEIGHTS)
    total = sum(float(w) for w in weights.values()) or 1.0
    ctx, compact_at = session.context_tokens, inputs.compact_at
    if ctx is None or not compact_at:
        tokens = 100.0
    else:
        rel_pen, abs_pen = h.interpolate(ctx / compact_at, h.REL_POINTS), h.interpolate(ctx, h.ABS_POINTS)
        tokens = round(max(0.0, 100.0 - max(rel_pen, abs_pen) - 0.25 * min(rel_pen, abs_pen)), 1)
    n = session.compactions
    fatal = [f for f in session.fatal_signals if f in ("compaction_thrash", "prompt_too_long")]
    turns = h.interpolate(session.turns_since_compaction, h.TURN_POINTS)
    duration = round(0.0 if fatal else 0.6 * (h.COMPACTION_SCORES[n] if n < 5 else 25.0) + 0.4 * turns, 1)
    activity = h.activity_factor(session, inputs, 0.0, cfg, True).score
    recent = session.recent_tool_results
    errors = 100.0 - 150.0 * (sum(1 for r in recent if r) / len(recent) if recent else 0.0)
    errors -= min(15.0 * session.recent_api_errors, 45.0)
    if session.repeated_failures >= 3:
        errors -= 30.0
    errors = round(max(0.0, errors - min(10.0 * session.recent_interruptions, 30.0)), 1)
    parts = [(tokens, "tokens"), (duration, "duration"), (activity, "activity"), (errors, "errors")]
    value = sum(s * (float(weights.get(name, 0.0)) / total) for s, name in parts)
    for limit, _why in h.caps_for(session, compact_at, inputs):
        value = min(value, limit)
    return round(value, 1)


@pytest.mark.parametrize("seed", range(25))
def test_the_listed_score_is_the_sum_of_its_factors(seed: int) -> None:
    import random

    rng = random.Random(seed)
    weight_sets = [
        None,
        {"tokens": 1, "duration": 1, "activity": 1, "errors": 1},
        {"tokens": 3.5, "errors": 0.5},
    ]
    for _ in range(80):
        running = rng.random() < 0.4
        process = make_process(
            rng.choice([None, "busy", "waiting", "idle"]), NOW - timedelta(minutes=rng.randrange(0, 60))
        )
        session = make_session(
            context_tokens=rng.choice([None, 0, rng.randrange(0, 1_200_000)]),
            compactions=rng.randrange(0, 8),
            turns_since_compaction=rng.randrange(0, 400),
            fatal_signals=tuple(
                rng.sample(["compaction_thrash", "prompt_too_long", "auth_error"], rng.randrange(0, 3))
            ),
            recent_tool_results=tuple(rng.random() < 0.3 for _ in range(rng.randrange(0, 12))),
            recent_api_errors=rng.randrange(0, 5),
            repeated_failures=rng.randrange(0, 6),
            recent_interruptions=rng.randrange(0, 5),
            last_activity=NOW - timedelta(minutes=rng.randrange(0, 3000)),
            process=process if running else None,
        )
        inputs = make_inputs(compact_at=rng.choice([None, COMPACT_200K, COMPACT_1M]), running=running)
        cfg = health_cfg()
        if (weights := rng.choice(weight_sets)) is not None:
            cfg["weights"] = weights
        result = h.score_session(session, inputs, cfg)
        assert result.score == reference_score(session, inputs, cfg)
        explained = sum(f.score * f.weight for f in result.factors)
        for limit, _why in h.caps_for(session, inputs.compact_at, inputs):
            explained = min(explained, limit)
        assert result.score == round(explained, 1)
