"""Model facts: context windows and prices (USD per million tokens), and cost of a session.

The bundled table is dated; ``models:`` in the config file overrides or adds entries. A model that is in
neither gets cost ``None`` (shown as unknown, with a warning in ``lsm info``), never a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from llm_session_manager.compaction import auto_compact_point as auto_compact_point

if TYPE_CHECKING:
    from llm_session_manager.models import ModelTokens

TABLE_DATE = "2026-11-01"
LONG_CONTEXT_THRESHOLD = 200_000


@dataclass(frozen=True)
class ModelInfo:
    name: str
    context_window: int
    input: float | None  # USD per million tokens; None = price unknown
    output: float | None = None
    cache_write_5m: float | None = None
    cache_write_1h: float | None = None
    cache_read: float | None = None
    # Requests whose input (incl. cache) exceeds the threshold are billed at multiplied rates.
    long_context_threshold: int | None = None
    long_context_multiplier_input: float = 1.0
    long_context_multiplier_output: float = 1.0
    # Where the figures come from (vendor page, the agent's own table), shown in docs and `lsm info`.
    source: str = ""

    @property
    def priced(self) -> bool:
        return self.input is not None and self.output is not None


def _claude(name: str, window: int, inp: float, out: float, *, long_tier: bool = False) -> ModelInfo:
    """A Claude model priced by Anthropic's usual ratios: cache write 1.25x (5 min) / 2x (1 h), read 0.1x."""
    return ModelInfo(
        name=name,
        context_window=window,
        input=inp,
        output=out,
        cache_write_5m=inp * 1.25,
        cache_write_1h=inp * 2,
        cache_read=inp * 0.1,
        long_context_threshold=LONG_CONTEXT_THRESHOLD if long_tier else None,
        long_context_multiplier_input=2.0 if long_tier else 1.0,
        long_context_multiplier_output=1.5 if long_tier else 1.0,
    )


# Keys are model ids without date suffix; lookup also tries the longest matching prefix.
BUNDLED: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        _claude("claude-opus-4-6", 1_000_000, 5, 25, long_tier=True),
        _claude("claude-opus-4-5", 200_000, 5, 25),
        _claude("claude-opus-4-1", 200_000, 15, 75),
        _claude("claude-opus-4", 200_000, 15, 75),
        _claude("claude-sonnet-4-6", 1_000_000, 3, 15, long_tier=True),
        _claude("claude-sonnet-4-5", 200_000, 3, 15, long_tier=True),
        _claude("claude-sonnet-4", 200_000, 3, 15, long_tier=True),
        _claude("claude-haiku-4-5", 200_000, 1, 5),
        _claude("claude-3-7-sonnet", 200_000, 3, 15),
        _claude("claude-3-5-sonnet", 200_000, 3, 15),
        _claude("claude-3-5-haiku", 200_000, 0.8, 4),
        _claude("claude-3-opus", 200_000, 15, 75),
        _claude("claude-3-sonnet", 200_000, 3, 15),
        _claude("claude-3-haiku", 200_000, 0.25, 1.25),
    )
}


def _openai(name: str, window: int, inp: float, cached: float, out: float) -> ModelInfo:
    """An OpenAI model: cached input has its own price and there is no cache-write surcharge (a token
    written to the cache is billed as ordinary input, so both cache-write prices equal the input price)."""
    return ModelInfo(
        name=name,
        context_window=window,
        input=inp,
        output=out,
        cache_write_5m=inp,
        cache_write_1h=inp,
        cache_read=cached,
    )


def _gemini(
    name: str, window: int, inp: float, cached: float, out: float, *, long_tier: bool = False
) -> ModelInfo:
    """A Gemini model: cached input (context caching) has its own price, no cache-write surcharge (the
    hourly cache storage fee is not in any log and is not counted). The Pro models bill a request whose
    prompt exceeds 200k tokens at 2x input and cached input and 1.5x output."""
    return ModelInfo(
        name=name,
        context_window=window,
        input=inp,
        output=out,
        cache_write_5m=inp,
        cache_write_1h=inp,
        cache_read=cached,
        long_context_threshold=LONG_CONTEXT_THRESHOLD if long_tier else None,
        long_context_multiplier_input=2.0 if long_tier else 1.0,
        long_context_multiplier_output=1.5 if long_tier else 1.0,
    )


def _unpriced(name: str, window: int) -> ModelInfo:
    """A model whose window is known but whose price we have not verified. Its entry stops the prefix
    lookup from pricing it as a cheaper sibling (``gpt-5-2-pro`` is not ``gpt-5-2``)."""
    return ModelInfo(name=name, context_window=window, input=None)


# OpenAI (Codex CLI) and Google (Gemini CLI) list prices in USD per million tokens, same table date
# (TABLE_DATE). ccusage 20.0.24 (LiteLLM's table) gives the same prices for every GPT-5, GPT-4.1 and
# Gemini row (it prices o3, o4-mini and o1 differently and lacks codex-mini-latest). Keys are
# normalised ids ("gpt-5.1-codex" -> "gpt-5-1-codex"). Models whose price we could not confirm
# (gpt-5.3-codex and later, gemini-3.1-*) are left out: their cost stays unknown until configured.
# GPT-5 windows are the 272k input limit Codex itself works with (the 400k total includes 128k of
# output); Codex logs its own effective window (model_context_window), which takes precedence.
GPT5_WINDOW = 272_000
GEMINI_WINDOW = 1_048_576
BUNDLED_OPENAI_GEMINI: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        _openai("gpt-5", GPT5_WINDOW, 1.25, 0.125, 10),
        _openai("gpt-5-mini", GPT5_WINDOW, 0.25, 0.025, 2),
        _openai("gpt-5-nano", GPT5_WINDOW, 0.05, 0.005, 0.40),
        _openai("gpt-5-codex", GPT5_WINDOW, 1.25, 0.125, 10),
        _openai("gpt-5-pro", GPT5_WINDOW, 15, 15, 120),  # no cached-input discount
        _openai("gpt-5-1", GPT5_WINDOW, 1.25, 0.125, 10),
        _openai("gpt-5-1-codex", GPT5_WINDOW, 1.25, 0.125, 10),
        _openai("gpt-5-1-codex-mini", GPT5_WINDOW, 0.25, 0.025, 2),
        _openai("gpt-5-1-codex-max", GPT5_WINDOW, 1.25, 0.125, 10),
        _openai("gpt-5-2", GPT5_WINDOW, 1.75, 0.175, 14),
        _openai("gpt-5-2-codex", GPT5_WINDOW, 1.75, 0.175, 14),
        _openai("gpt-4-1", 1_047_576, 2, 0.50, 8),
        _openai("gpt-4-1-mini", 1_047_576, 0.40, 0.10, 1.60),
        _openai("gpt-4-1-nano", 1_047_576, 0.10, 0.025, 0.40),
        _openai("o3", 200_000, 2, 0.50, 8),
        _openai("o3-pro", 200_000, 20, 20, 80),  # no cached-input discount
        _openai("o3-mini", 200_000, 1.10, 0.55, 4.40),
        _openai("o4-mini", 200_000, 1.10, 0.275, 4.40),
        _openai("o1", 200_000, 15, 7.50, 60),
        _openai("codex-mini", 200_000, 1.50, 0.375, 6),  # codex-mini-latest
        _unpriced("gpt-5-codex-mini", GPT5_WINDOW),
        _unpriced("gpt-5-2-pro", GPT5_WINDOW),
        _unpriced("o3-deep-research", 200_000),
        _unpriced("o4-mini-deep-research", 200_000),
        _gemini("gemini-2-5-pro", GEMINI_WINDOW, 1.25, 0.125, 10, long_tier=True),
        _gemini("gemini-2-5-flash", GEMINI_WINDOW, 0.30, 0.03, 2.50),
        _gemini("gemini-2-5-flash-lite", GEMINI_WINDOW, 0.10, 0.01, 0.40),
        _gemini("gemini-3-pro-preview", GEMINI_WINDOW, 2, 0.20, 12, long_tier=True),
        _gemini("gemini-3-flash-preview", GEMINI_WINDOW, 0.50, 0.05, 3),
    )
}

# Models newer than TABLE_DATE's first cut, each with the page its figures were read from. Anthropic
# lists every price of these (including cache writes and reads) on the model's own page.
BUNDLED_2026_12: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        # Claude Code 2.1.x's default model; Claude Code's own cost figures use the same prices.
        replace(
            _claude("claude-opus-4-8", 1_000_000, 5, 25),
            source="Anthropic model page claude-opus-4-8; the same in Claude Code 2.1.197's bundled table",
        ),
        replace(
            _claude("claude-sonnet-5", 1_000_000, 3, 15),
            source="Claude Code 2.1.197's bundled price and model table",
        ),
        replace(_claude("claude-opus-5", 1_000_000, 5, 25), source="Anthropic model page claude-opus-5"),
        ModelInfo(
            "claude-opus-5-5",
            1_000_000,
            input=4,
            output=20,
            cache_write_5m=5,
            cache_write_1h=8,
            cache_read=0.20,  # 0.05x input, not the usual 0.1x
            source="Anthropic model page claude-opus-5-5",
        ),
        # Codex CLI 0.171's default. Cache writes (30-minute retention) are billed, unlike older GPTs.
        # The window is the one in Codex's own model catalog (it works with 95% of it). Requests over
        # 272k input are billed at 2x input and cache, 1.5x output; lsm prices them at the standard rate.
        ModelInfo(
            "gpt-6-2-sol",
            500_000,
            input=2,
            output=10,
            cache_write_5m=2.50,
            cache_write_1h=2.50,
            cache_read=0.10,
            source="OpenAI model page gpt-6.2-sol",
        ),
        ModelInfo(
            "gpt-6-1-sol",
            500_000,
            input=2,
            output=10,
            cache_write_5m=2.50,
            cache_write_1h=2.50,
            cache_read=0.10,
            source="OpenAI price card for gpt-6.1-sol (as reported by Codex usage tools, 2026-09-29)",
        ),
        ModelInfo(
            "gpt-6-sol",
            272_000,
            input=2,
            output=10,
            cache_write_5m=2.50,
            cache_write_1h=2.50,
            cache_read=0.20,
            source="OpenAI pricing of 2026-09-22 for gpt-6-sol (as reported by Codex usage tools)",
        ),
        replace(
            _openai("gpt-5-5", GPT5_WINDOW, 5, 0.50, 30),
            source="OpenAI launch pricing for gpt-5.5 (as reported by API guides; window: Codex's catalog)",
        ),
        # Aider's and Copilot's usual OpenAI models.
        replace(_openai("gpt-4o", 128_000, 2.50, 1.25, 10), source="OpenAI pricing page gpt-4o"),
        replace(_openai("gpt-4o-mini", 128_000, 0.15, 0.075, 0.60), source="OpenAI pricing page gpt-4o-mini"),
        # Gemini CLI 0.61's default route. Google's promotional price, valid until 2026-12-31; from
        # 2027-01-01 it is $1.50 / $7.50 (cache reads $0.15): update this entry then.
        replace(
            _gemini("gemini-3-8-flash", GEMINI_WINDOW, 0.75, 0.075, 3.75),
            source="Google's promotional price for gemini-3.8-flash to 2026-12-31 (LiteLLM cost map)",
        ),
    )
}


# Newer families whose context window is documented but whose prices we have not verified: the window
# is used for context fill, the cost stays unknown until the user adds prices in the config.
WINDOW_ONLY: tuple[tuple[str, int], ...] = (
    (r"^claude-opus-(4-[7-9]|[5-9])", 1_000_000),
    (r"^claude-sonnet-(4-[7-9]|[5-9])", 1_000_000),
    (r"^claude-haiku-[5-9]", 200_000),
)

DEFAULT_WINDOW = 200_000
_PROVIDER_PREFIX = re.compile(r"^(?:[a-z-]+\.)?anthropic[./]")
_DOTTED_VERSION = re.compile(r"(\d)\.(\d)")
_DATE_SUFFIX = re.compile(r"-(\d{8}|latest|v\d+(:\d+)?)$")


_ROUTER_PREFIX = re.compile(
    r"^(?:openrouter|openai|azure|bedrock|vertex_ai|vertex|google|gemini|copilot|litellm)/"
)
_ISO_DATE_SUFFIX = re.compile(r"-\d{4}-\d{2}-\d{2}$")
# Cursor names Claude models version first ("claude-4.5-sonnet-thinking") with mode suffixes.
_VERSION_FIRST = re.compile(
    r"^claude-([4-9](?:-\d+)?)-(opus|sonnet|haiku)((?:-(?:thinking|high|max|fast|low|medium))*)$"
)


def normalise(model: str) -> str:
    """One spelling per model: provider and router prefixes, a ``[1m]`` marker, dates and version
    suffixes removed; dotted versions dashed (``claude-sonnet-4.5`` -> ``claude-sonnet-4-5``); Cursor's
    version-first names turned around (``claude-4.5-sonnet-thinking`` -> ``claude-sonnet-4-5``)."""
    name = model.strip().lower()
    name = name.replace("[1m]", "")
    while True:
        stripped = _ROUTER_PREFIX.sub("", name)
        if stripped == name:
            break
        name = stripped
    name = _PROVIDER_PREFIX.sub("", name)
    name = name.split("@")[0]
    name = _DOTTED_VERSION.sub(r"\1-\2", name)
    name = _ISO_DATE_SUFFIX.sub("", name)
    while True:
        stripped = _DATE_SUFFIX.sub("", name)
        if stripped == name:
            break
        name = stripped
    match = _VERSION_FIRST.match(name)
    if match:
        name = f"claude-{match.group(2)}-{match.group(1)}"
    return name


def _cache_ratios(info: ModelInfo) -> tuple[float, float, float]:
    if (
        not info.input
        or info.cache_write_5m is None
        or info.cache_write_1h is None
        or info.cache_read is None
    ):
        return 1.25, 2.0, 0.1
    return info.cache_write_5m / info.input, info.cache_write_1h / info.input, info.cache_read / info.input


class ModelTable:
    def __init__(self, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self.models: dict[str, ModelInfo] = {**BUNDLED, **BUNDLED_OPENAI_GEMINI, **BUNDLED_2026_12}
        for raw_name, spec in (overrides or {}).items():
            name = normalise(raw_name)
            base = self.models.get(name) or ModelInfo(name=name, context_window=DEFAULT_WINDOW, input=None)
            values = dict(spec)
            if "input" in values:
                # Cache prices follow the new input price unless given too, keeping the model's own
                # ratios (OpenAI and Gemini differ from Claude); a new model gets Claude's ratios.
                inp = float(values["input"])
                ratios = _cache_ratios(base)
                values.setdefault("cache_write_5m", inp * ratios[0])
                values.setdefault("cache_write_1h", inp * ratios[1])
                values.setdefault("cache_read", inp * ratios[2])
            self.models[name] = replace(base, **values)
        self._by_length = sorted(self.models, key=len, reverse=True)
        self._memo: dict[str, ModelInfo | None] = {}

    def lookup(self, model: str | None) -> ModelInfo | None:
        if not model:
            return None
        if model in self._memo:
            return self._memo[model]
        found = self._lookup(normalise(model))
        self._memo[model] = found
        return found

    def _lookup(self, name: str) -> ModelInfo | None:
        if name in self.models:
            return self.models[name]
        for key in self._by_length:
            # "claude-opus-4-20250514" is claude-opus-4, but "claude-opus-4-7" is a newer model.
            if name.startswith(key + "-") and not name[len(key) + 1 : len(key) + 2].isdigit():
                return self.models[key]
        return None

    def window(
        self,
        model: str | None,
        *,
        one_m: bool = False,
        peak_context: int | None = None,
        default: int = DEFAULT_WINDOW,
    ) -> tuple[int, str]:
        """(context window, source). ``one_m``: the transcript's identity says ``[1m]``; ``default``: the
        agent's window for a model the table does not know (its ``AgentInfo.default_window``)."""
        if one_m:
            return 1_000_000, "1m-identity"
        info = self.lookup(model)
        if info is not None:
            window, source = info.context_window, "table"
        else:
            window, source = default, "default"
            name = normalise(model or "")
            for pattern, size in WINDOW_ONLY:
                if re.match(pattern, name):
                    window, source = size, "family"
                    break
        if peak_context is not None and peak_context > window:
            return 1_000_000, "observed"
        return window, source

    def is_known(self, model: str) -> bool:
        info = self.lookup(model)
        return info is not None and info.priced

    def cost(self, usage: Iterable[ModelTokens]) -> tuple[float | None, list[str]]:
        """Total USD for the given per-model tokens, and the models that could not be priced.

        The cost is ``None`` when any model with tokens is unpriced: a partial sum would mislead.
        """
        total = 0.0
        unknown: list[str] = []
        for row in usage:
            info = self.lookup(row.model)
            if info is None or not info.priced:
                if row.input or row.output or row.cache_creation or row.cache_read:
                    unknown.append(row.model)
                continue
            total += model_cost(info, row)
        return (None if unknown else round(total, 6)), unknown


def model_cost(info: ModelInfo, row: ModelTokens) -> float:
    inp = info.input or 0.0
    out = info.output or 0.0
    cw5 = info.cache_write_5m if info.cache_write_5m is not None else inp * 1.25
    cw1 = info.cache_write_1h if info.cache_write_1h is not None else inp * 2
    cr = info.cache_read if info.cache_read is not None else inp * 0.1
    mi = info.long_context_multiplier_input if info.long_context_threshold else 1.0
    mo = info.long_context_multiplier_output if info.long_context_threshold else 1.0

    def part(i: int, o: int, cc: int, cc1h: int, r: int, m_in: float, m_out: float) -> float:
        cc5 = max(cc - cc1h, 0)
        return (i * inp * m_in + o * out * m_out + cc5 * cw5 * m_in + cc1h * cw1 * m_in + r * cr * m_in) / 1e6

    std = part(
        row.input - row.long_input,
        row.output - row.long_output,
        row.cache_creation - row.long_cache_creation,
        row.cache_write_1h - row.long_cache_write_1h,
        row.cache_read - row.long_cache_read,
        1.0,
        1.0,
    )
    long = part(
        row.long_input,
        row.long_output,
        row.long_cache_creation,
        row.long_cache_write_1h,
        row.long_cache_read,
        mi,
        mo,
    )
    return std + long
