"""The OpenAI (Codex CLI) and Google (Gemini CLI) rows of the bundled price table.

Prices are USD per million tokens; every cost below is worked out by hand next to its assertion.
"""

from __future__ import annotations

import pytest

from llm_session_manager import pricing as p
from llm_session_manager.models import ModelTokens

M = 1_000_000


@pytest.mark.parametrize(
    ("model", "key"),
    [
        ("gpt-5", "gpt-5"),
        ("gpt-5-codex", "gpt-5-codex"),
        ("gpt-5-chat-latest", "gpt-5"),  # "-latest" stripped, then the gpt-5 prefix
        ("gpt-5.1", "gpt-5-1"),
        ("gpt-5.1-codex", "gpt-5-1-codex"),
        ("gpt-5.1-codex-mini", "gpt-5-1-codex-mini"),
        ("gpt-5.1-codex-max", "gpt-5-1-codex-max"),
        ("gpt-5.2", "gpt-5-2"),
        ("gpt-5.2-codex", "gpt-5-2-codex"),
        ("codex-mini-latest", "codex-mini"),
        ("gpt-4.1-mini", "gpt-4-1-mini"),
        ("o4-mini", "o4-mini"),
        ("gemini-2.5-pro", "gemini-2-5-pro"),
        ("gemini-2.5-pro-preview-06-05", "gemini-2-5-pro"),
        ("gemini-2.5-flash", "gemini-2-5-flash"),
        ("gemini-2.5-flash-preview-09-2025", "gemini-2-5-flash"),
        ("gemini-2.5-flash-lite", "gemini-2-5-flash-lite"),
        ("gemini-3-pro-preview", "gemini-3-pro-preview"),
        ("gemini-3-flash-preview", "gemini-3-flash-preview"),
    ],
)
def test_lookup(model: str, key: str) -> None:
    info = p.ModelTable().lookup(model)
    assert info is not None and info.name == key and info.priced


@pytest.mark.parametrize(
    "model",
    [
        "gpt-5.3-codex",
        "gpt-5.4",
        "gpt-5.6-luna",
        "gemini-3.1-pro-preview",
        "codex-auto-review",
    ],
)
def test_unverified_models_stay_unknown(model: str) -> None:
    table = p.ModelTable()
    assert table.lookup(model) is None
    assert table.cost([ModelTokens(model, input=10)]) == (None, [model])


@pytest.mark.parametrize(
    "model", ["gpt-5-codex-mini", "gpt-5.2-pro", "o3-deep-research", "o4-mini-deep-research"]
)
def test_variants_are_not_priced_as_their_cheaper_prefix(model: str) -> None:
    # Without their own (unpriced) rows, gpt-5.2-pro would be priced as gpt-5.2 by the prefix rule.
    info = p.ModelTable().lookup(model)
    assert info is not None and not info.priced
    assert p.ModelTable().cost([ModelTokens(model, input=10)]) == (None, [model])


@pytest.mark.parametrize(
    ("key", "window", "inp", "cached", "out"),
    [
        ("gpt-5", 272_000, 1.25, 0.125, 10),
        ("gpt-5-mini", 272_000, 0.25, 0.025, 2),
        ("gpt-5-nano", 272_000, 0.05, 0.005, 0.40),
        ("gpt-5-codex", 272_000, 1.25, 0.125, 10),
        ("gpt-5-pro", 272_000, 15, 15, 120),
        ("gpt-5-1-codex-max", 272_000, 1.25, 0.125, 10),
        ("gpt-5-1-codex-mini", 272_000, 0.25, 0.025, 2),
        ("gpt-5-2-codex", 272_000, 1.75, 0.175, 14),
        ("gpt-4-1", 1_047_576, 2, 0.50, 8),
        ("o3", 200_000, 2, 0.50, 8),
        ("o4-mini", 200_000, 1.10, 0.275, 4.40),
        ("codex-mini", 200_000, 1.50, 0.375, 6),
        ("gemini-2-5-pro", 1_048_576, 1.25, 0.125, 10),
        ("gemini-2-5-flash", 1_048_576, 0.30, 0.03, 2.50),
        ("gemini-2-5-flash-lite", 1_048_576, 0.10, 0.01, 0.40),
        ("gemini-3-pro-preview", 1_048_576, 2, 0.20, 12),
        ("gemini-3-flash-preview", 1_048_576, 0.50, 0.05, 3),
    ],
)
def test_list_prices_and_windows(key: str, window: int, inp: float, cached: float, out: float) -> None:
    info = p.BUNDLED_OPENAI_GEMINI[key]
    assert (info.context_window, info.input, info.cache_read, info.output) == (window, inp, cached, out)
    assert p.ModelTable().window(key) == (window, "table")


def test_table_shape() -> None:
    assert not set(p.BUNDLED) & set(p.BUNDLED_OPENAI_GEMINI)
    for key, info in p.BUNDLED_OPENAI_GEMINI.items():
        assert p.normalise(key) == key, key  # keys are in lookup form
        if info.input is None:
            continue
        # No cache-write surcharge: a cache write is billed as input; cached input is never dearer.
        assert info.cache_write_5m == info.cache_write_1h == info.input, key
        assert info.cache_read is not None and info.cache_read <= info.input, key
        long_tier = key in ("gemini-2-5-pro", "gemini-3-pro-preview")
        assert (info.long_context_threshold is not None) == long_tier, key


def test_cost_gpt_5_codex_each_kind() -> None:
    row = ModelTokens("gpt-5-codex", input=M, output=M, cache_read=M)
    # 1.25 (input) + 10 (output) + 0.125 (cached input)
    assert p.ModelTable().cost([row]) == (11.375, [])


def test_cost_gpt_5_2_codex_session() -> None:
    row = ModelTokens("gpt-5.2-codex", input=1000, output=200, cache_read=5000)
    # 1000 x 1.75 + 200 x 14 + 5000 x 0.175 = 1750 + 2800 + 875 = 5425 per million
    assert p.ModelTable().cost([row]) == (0.005425, [])


def test_openai_cache_write_is_billed_as_input() -> None:
    row = ModelTokens("gpt-5", cache_creation=1000, cache_write_1h=400)
    # 1000 x 1.25 whatever the cache lifetime (no 1.25x / 2x surcharge as for Claude)
    assert p.ModelTable().cost([row]) == (0.00125, [])


def test_gemini_pro_long_context_tier() -> None:
    row = ModelTokens(
        "gemini-3-pro-preview",
        input=300_000 + 1000,
        output=2000 + 100,
        cache_read=100_000,
        long_input=300_000,
        long_output=2000,
        long_cache_read=100_000,
    )
    # short part: 1000 x 2 + 100 x 12 = 3200
    # long part:  300000 x 4 + 2000 x 18 + 100000 x 0.40 = 1,200,000 + 36,000 + 40,000 = 1,276,000
    assert p.ModelTable().cost([row]) == (1.2792, [])


def test_gemini_flash_has_no_long_tier() -> None:
    row = ModelTokens("gemini-2.5-flash", input=M, long_input=M)
    assert p.ModelTable().cost([row]) == (0.30, [])  # 1M x 0.30, no multiplier


def test_config_override_still_applies_to_bundled_rows() -> None:
    table = p.ModelTable({"gpt-5.2-codex": {"output": 20}})
    info = table.lookup("gpt-5.2-codex")
    assert info is not None and (info.input, info.output, info.cache_read) == (1.75, 20, 0.175)
