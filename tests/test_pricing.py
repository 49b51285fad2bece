"""Unit tests for llm_session_manager.pricing: model-name normalising, lookup, windows and cost.

Costs are computed by hand (USD per million tokens) next to each assertion.
"""

from __future__ import annotations

import pytest

from llm_session_manager import pricing as p
from llm_session_manager.models import ModelTokens

SONNET_45 = "claude-sonnet-4-5-20250929"


# --------------------------------------------------------------------------------------------------
# normalise


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("claude-sonnet-4-5", "claude-sonnet-4-5"),
        (SONNET_45, "claude-sonnet-4-5"),
        ("claude-sonnet-4-5[1m]", "claude-sonnet-4-5"),
        ("claude-sonnet-4-5-20250929[1m]", "claude-sonnet-4-5"),
        ("claude-opus-4-6[1m]", "claude-opus-4-6"),
        ("  Claude-Sonnet-4-5-LATEST  ", "claude-sonnet-4-5"),
        ("claude-3-5-haiku-latest", "claude-3-5-haiku"),
        ("anthropic/claude-sonnet-4-5", "claude-sonnet-4-5"),
        ("anthropic.claude-3-5-sonnet-20241022-v2:0", "claude-3-5-sonnet"),
        ("us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("eu.anthropic.claude-haiku-4-5-20251001-v1:0", "claude-haiku-4-5"),
        ("global.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"),
        ("claude-sonnet-4-5@20250929", "claude-sonnet-4-5"),  # Vertex AI
        ("claude-3-5-sonnet-v2@20241022", "claude-3-5-sonnet"),
        ("claude-opus-4-1-20250805", "claude-opus-4-1"),
        ("claude-opus-4-20250514", "claude-opus-4"),
        ("gpt-4o", "gpt-4o"),
    ],
)
def test_normalise(raw: str, expected: str) -> None:
    assert p.normalise(raw) == expected


# --------------------------------------------------------------------------------------------------
# lookup


def test_lookup_dated_sonnet_45_prices() -> None:
    info = p.ModelTable().lookup(SONNET_45)
    assert info is not None
    assert info.name == "claude-sonnet-4-5"
    assert info.context_window == 200_000
    assert info.input == 3
    assert info.output == 15
    assert info.cache_write_5m == pytest.approx(3.75)  # 1.25x input
    assert info.cache_write_1h == pytest.approx(6.0)  # 2x input
    assert info.cache_read == pytest.approx(0.3)  # 0.1x input
    assert info.long_context_threshold == 200_000
    assert info.long_context_multiplier_input == 2.0
    assert info.long_context_multiplier_output == 1.5
    assert info.priced


@pytest.mark.parametrize(
    ("model", "name"),
    [
        ("claude-haiku-4-5-preview", "claude-haiku-4-5"),  # unknown suffix: longest matching prefix
        ("claude-opus-4-1-preview", "claude-opus-4-1"),  # not claude-opus-4
        ("claude-opus-4-preview", "claude-opus-4"),
        ("us.anthropic.claude-opus-4-1-20250805-v1:0", "claude-opus-4-1"),
        ("claude-sonnet-4-5[1m]", "claude-sonnet-4-5"),
    ],
)
def test_lookup_prefix_and_variants(model: str, name: str) -> None:
    info = p.ModelTable().lookup(model)
    assert info is not None
    assert info.name == name


@pytest.mark.parametrize("model", [None, "", "acme-4o", "claude-sonnet", "claude-unknown-9"])
def test_lookup_unknown(model: str | None) -> None:
    assert p.ModelTable().lookup(model) is None


def test_is_known() -> None:
    table = p.ModelTable()
    assert table.is_known(SONNET_45)
    assert not table.is_known("acme-4o")
    assert not p.ModelTable({"claude-window-only-1": {"context_window": 500_000}}).is_known(
        "claude-window-only-1"
    )


def test_bundled_table_ratios() -> None:
    for info in p.BUNDLED.values():
        assert info.input is not None
        assert info.cache_write_5m == pytest.approx(info.input * 1.25), info.name
        assert info.cache_write_1h == pytest.approx(info.input * 2), info.name
        assert info.cache_read == pytest.approx(info.input * 0.1), info.name


# --------------------------------------------------------------------------------------------------
# cost


def test_cost_per_million_each_kind_sonnet_45() -> None:
    table = p.ModelTable()
    m = 1_000_000
    assert table.cost([ModelTokens(SONNET_45, input=m)]) == (pytest.approx(3.0), [])
    assert table.cost([ModelTokens(SONNET_45, output=m)]) == (pytest.approx(15.0), [])
    assert table.cost([ModelTokens(SONNET_45, cache_creation=m)]) == (pytest.approx(3.75), [])
    assert table.cost([ModelTokens(SONNET_45, cache_creation=m, cache_write_1h=m)]) == (
        pytest.approx(6.0),
        [],
    )
    assert table.cost([ModelTokens(SONNET_45, cache_read=m)]) == (pytest.approx(0.3), [])


# Every kind of token, with part of each spent above the long-context tier (1h writes are part of
# cache_creation, long_* are part of their totals).
FULL_ROW = dict(
    input=1_000_000,
    output=200_000,
    cache_creation=500_000,
    cache_read=2_000_000,
    cache_write_1h=100_000,
    long_input=400_000,
    long_output=50_000,
    long_cache_creation=200_000,
    long_cache_read=1_000_000,
    long_cache_write_1h=40_000,
)


def test_cost_full_row_with_long_context_tier_by_hand() -> None:
    row = ModelTokens(SONNET_45, **FULL_ROW)
    # Standard part ($3 in, $15 out, $3.75 5m write, $6 1h write, $0.30 read):
    #   input 600k * 3 = 1.80; output 150k * 15 = 2.25;
    #   cache writes 300k of which 60k 1h: 240k * 3.75 = 0.90, 60k * 6 = 0.36; read 1M * 0.3 = 0.30
    standard = 1.80 + 2.25 + 0.90 + 0.36 + 0.30  # 5.61
    # Long part, input side x2, output x1.5:
    #   input 400k * 6 = 2.40; output 50k * 22.5 = 1.125;
    #   cache writes 200k of which 40k 1h: 160k * 7.5 = 1.20, 40k * 12 = 0.48; read 1M * 0.6 = 0.60
    long = 2.40 + 1.125 + 1.20 + 0.48 + 0.60  # 5.805
    info = p.ModelTable().lookup(SONNET_45)
    assert info is not None
    assert p.model_cost(info, row) == pytest.approx(standard + long)
    total, unknown = p.ModelTable().cost([row])
    assert total == pytest.approx(11.415)
    assert unknown == []


def test_cost_full_row_without_long_context_tier_by_hand() -> None:
    # claude-opus-4-5 has no long tier: everything at the standard rate.
    # $5 in, $25 out, $6.25 5m write, $10 1h write, $0.50 read:
    # 1M * 5 = 5; 200k * 25 = 5; 400k * 6.25 = 2.5; 100k * 10 = 1; 2M * 0.5 = 1 -> 14.5
    row = ModelTokens("claude-opus-4-5-20251101", **FULL_ROW)
    assert p.ModelTable().cost([row]) == (pytest.approx(14.5), [])


def test_cost_sums_models() -> None:
    rows = [
        ModelTokens(SONNET_45, input=1_000_000),  # 3
        ModelTokens("claude-haiku-4-5-20251001", output=1_000_000),  # 5
        ModelTokens("claude-opus-4-1", cache_read=1_000_000),  # 1.5
    ]
    assert p.ModelTable().cost(rows) == (pytest.approx(9.5), [])


def test_cost_of_nothing_is_zero() -> None:
    assert p.ModelTable().cost([]) == (0.0, [])


def test_cost_unknown_model_is_none_and_listed() -> None:
    rows = [ModelTokens(SONNET_45, input=1_000_000), ModelTokens("acme-4o", input=10, output=5)]
    assert p.ModelTable().cost(rows) == (None, ["acme-4o"])


def test_cost_unknown_model_without_tokens_is_ignored() -> None:
    rows = [ModelTokens(SONNET_45, input=1_000_000), ModelTokens("<synthetic>")]
    assert p.ModelTable().cost(rows) == (pytest.approx(3.0), [])


def test_cost_unknown_model_with_only_cache_tokens_is_listed() -> None:
    assert p.ModelTable().cost([ModelTokens("mystery-model", cache_read=1)]) == (None, ["mystery-model"])


# --------------------------------------------------------------------------------------------------
# config overrides


def test_override_adds_a_model() -> None:
    table = p.ModelTable({"claude-example-5": {"context_window": 1_000_000, "input": 2, "output": 10}})
    assert p.ModelTable().lookup("claude-example-5") is None
    info = table.lookup("claude-example-5-20260101")
    assert info is not None
    assert info.context_window == 1_000_000
    assert table.window("claude-example-5") == (1_000_000, "table")
    # 1M in * 2 + 1M out * 10 = 12; cache prices follow the usual ratios: read 0.2, 5m write 2.5, 1h write 4.
    assert table.cost([ModelTokens("claude-example-5", input=1_000_000, output=1_000_000)]) == (
        pytest.approx(12.0),
        [],
    )
    assert table.cost([ModelTokens("claude-example-5", cache_read=1_000_000)]) == (pytest.approx(0.2), [])
    assert table.cost([ModelTokens("claude-example-5", cache_creation=1_000_000)]) == (pytest.approx(2.5), [])
    both = ModelTokens("claude-example-5", cache_creation=1_000_000, cache_write_1h=1_000_000)
    assert table.cost([both]) == (pytest.approx(4.0), [])


def test_override_key_is_normalised() -> None:
    table = p.ModelTable({"anthropic/Claude-Example-5-20260101": {"input": 1, "output": 2}})
    info = table.lookup("claude-example-5")
    assert info is not None
    assert info.name == "claude-example-5"
    assert info.context_window == p.DEFAULT_WINDOW


def test_override_changes_prices_of_a_bundled_model() -> None:
    table = p.ModelTable({"claude-sonnet-4-5": {"input": 6, "output": 30, "cache_read": 0.6}})
    row = ModelTokens(SONNET_45, input=1_000_000, output=1_000_000, cache_read=1_000_000)
    assert table.cost([row]) == (pytest.approx(36.6), [])
    assert p.ModelTable().cost([row]) == (pytest.approx(18.3), [])
    # Everything not overridden is kept.
    info = table.lookup(SONNET_45)
    assert info is not None
    assert info.context_window == 200_000
    assert info.long_context_threshold == 200_000
    # The bundled table itself is untouched.
    assert p.BUNDLED["claude-sonnet-4-5"].input == 3


def test_override_window_only_leaves_cost_unknown() -> None:
    table = p.ModelTable({"claude-window-only-1": {"context_window": 500_000}})
    assert table.window("claude-window-only-1") == (500_000, "table")
    row = ModelTokens("claude-window-only-1", input=1_000)
    assert table.cost([row]) == (None, ["claude-window-only-1"])


def test_override_can_remove_the_long_context_tier() -> None:
    table = p.ModelTable({"claude-sonnet-4-5": {"long_context_threshold": 0}})
    row = ModelTokens(SONNET_45, input=1_000_000, long_input=1_000_000)
    assert table.cost([row]) == (pytest.approx(3.0), [])
    assert p.ModelTable().cost([row]) == (pytest.approx(6.0), [])


def test_override_input_only_rescales_cache_prices() -> None:
    table = p.ModelTable({"claude-sonnet-4-5": {"input": 6}})
    row = ModelTokens(SONNET_45, cache_read=1_000_000)
    assert table.cost([row]) == (pytest.approx(0.6), [])


# --------------------------------------------------------------------------------------------------
# windows


@pytest.mark.parametrize("model", [SONNET_45, "claude-haiku-4-5", None, "gpt-4o"])
def test_window_one_m_identity_wins(model: str | None) -> None:
    assert p.ModelTable().window(model, one_m=True) == (1_000_000, "1m-identity")


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (SONNET_45, (200_000, "table")),
        ("claude-opus-4-6", (1_000_000, "table")),
        ("claude-sonnet-4-6", (1_000_000, "table")),
        ("claude-haiku-4-5-20251001", (200_000, "table")),
        ("claude-opus-6", (1_000_000, "family")),
        ("claude-sonnet-6-20270101", (1_000_000, "family")),
        ("claude-haiku-5", (200_000, "family")),
        ("acme-4o", (200_000, "default")),
        (None, (200_000, "default")),
    ],
)
def test_window_table_family_default(model: str | None, expected: tuple[int, str]) -> None:
    assert p.ModelTable().window(model) == expected


def test_window_family_models_have_no_price() -> None:
    assert p.ModelTable().cost([ModelTokens("claude-opus-6", input=1)]) == (None, ["claude-opus-6"])


@pytest.mark.parametrize(
    ("peak", "expected"),
    [
        (None, (200_000, "table")),
        (150_000, (200_000, "table")),
        (200_000, (200_000, "table")),
        (200_001, (1_000_000, "observed")),
        (450_000, (1_000_000, "observed")),
    ],
)
def test_window_observed_usage_above_the_window(peak: int | None, expected: tuple[int, str]) -> None:
    assert p.ModelTable().window(SONNET_45, peak_context=peak) == expected


def test_window_observed_applies_to_unknown_models_too() -> None:
    assert p.ModelTable().window("acme-4o", peak_context=300_000) == (1_000_000, "observed")


# --------------------------------------------------------------------------------------------------
# auto-compact point


@pytest.mark.parametrize(
    ("window", "expected"),
    [(200_000, 167_000), (1_000_000, 967_000), (100_000, 80_000), (0, 0)],
)
def test_auto_compact_point(window: int, expected: int) -> None:
    assert p.auto_compact_point(window) == expected


# --------------------------------------------------------------------------------------------------
# bugs


@pytest.mark.parametrize("model", ["claude-opus-4-7", "claude-sonnet-4-7-20270101"])
def test_newer_minor_version_is_not_priced_as_the_old_family(model: str) -> None:
    table = p.ModelTable()
    assert table.lookup(model) is None
    assert table.window(model) == (1_000_000, "family")
    assert table.cost([ModelTokens(model, input=1_000_000)]) == (None, [model])


def test_dotted_version_is_not_priced_as_the_older_model() -> None:
    cost, _unknown = p.ModelTable().cost([ModelTokens("anthropic/claude-opus-4.5", input=1_000_000)])
    assert cost is None or cost == pytest.approx(5.0)


def test_normalise_strips_apac_bedrock_prefix() -> None:
    assert p.normalise("apac.anthropic.claude-sonnet-4-20250514-v1:0") == "claude-sonnet-4"


# --------------------------------------------------------------------------------------------------
# the agents' default models of December 2026, each priced from a named source


@pytest.mark.parametrize(
    ("model", "million_input_cost", "million_output_cost", "window"),
    [
        ("claude-opus-4-8", 5, 25, 1_000_000),  # Claude Code 2.1.197's default
        ("claude-opus-5-5", 4, 20, 1_000_000),
        ("claude-sonnet-5", 3, 15, 1_000_000),  # Claude Code 2.1.197's model switch target
        ("gpt-6.2-sol", 2, 10, 500_000),  # Codex CLI 0.171's default
        ("gpt-5.5", 5, 30, 272_000),
        ("gpt-4o", 2.5, 10, 128_000),
        ("gpt-4o-mini", 0.15, 0.60, 128_000),
        ("gemini-3.8-flash", 0.75, 3.75, 1_048_576),  # Gemini CLI 0.61's default route
    ],
)
def test_default_models_have_prices_with_a_source(
    model: str, million_input_cost: float, million_output_cost: float, window: int
) -> None:
    table = p.ModelTable()
    info = table.lookup(model)
    assert info is not None and info.source
    assert table.window(model) == (window, "table")
    cost, unknown = table.cost([ModelTokens(model, input=1_000_000, output=1_000_000)])
    assert unknown == [] and cost == pytest.approx(million_input_cost + million_output_cost)


def test_opus_4_8_cache_prices_as_claude_code_uses_them() -> None:
    info = p.ModelTable().lookup("claude-opus-4-8")
    assert info is not None
    assert (info.cache_write_5m, info.cache_write_1h, info.cache_read) == pytest.approx((6.25, 10, 0.5))


def test_gpt_6_2_sol_bills_cache_writes() -> None:
    rows = [ModelTokens("gpt-6.2-sol", cache_creation=1_000_000, cache_read=1_000_000)]
    assert p.ModelTable().cost(rows) == (pytest.approx(2.60), [])
