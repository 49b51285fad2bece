"""Fuzzing every JSONL reader with hostile lines mixed into real transcripts (fixed seed).

Each example takes a real transcript of the agent (tests/fixtures, tests/fixtures/real) and inserts
garbage lines among its valid ones: a valid record with one of its counts replaced by a value out of
range (2**64, -5, 1e30, 12.5, "12", true, nested lists and objects; optionally another count replaced by
garbage and another key deleted), a valid line cut short, a valid line with invalid UTF-8 in it, and JSON
that is no record at all. Properties, for every example:

- no exception escapes ``reader.read`` and ``reader.sessions``, and the state and sessions serialise
  (a 2**64 count used to crash the parse cache);
- every number of every session is within 0..2**53;
- the token totals of every session are those of the valid lines alone: a garbage line costs itself and
  never a part of a good record.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import math
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from llm_session_manager.agents.base import AgentReader
from llm_session_manager.agents.claude_code import ClaudeCodeReader
from llm_session_manager.agents.codex import CodexReader
from llm_session_manager.agents.common import MAX_COUNT
from llm_session_manager.agents.copilot_cli import CopilotCliReader
from llm_session_manager.agents.cursor_agent import CursorAgentReader
from llm_session_manager.agents.gemini import GeminiReader
from llm_session_manager.codec import session_to_dict
from llm_session_manager.models import Session

FIX = Path(__file__).parent / "fixtures"
REAL = FIX / "real"
EXAMPLES = 200  # per agent: the whole file takes about 25 s on two busy cores (limit: 60 s)


@dataclasses.dataclass(frozen=True)
class Agent:
    name: str
    fixtures: tuple[Path, ...]
    count_keys: frozenset[str]  # keys whose numbers the reader counts: each must cost its line when bad
    parents: frozenset[str]  # ... found in an object under one of these keys (a copy of a record with a
    # number garbled where the reader never looks would be a valid duplicate, not garbage)
    place: Callable[[Path, str], Path]  # (root, fixture file name) -> where the transcript goes
    reader: Callable[[Path], AgentReader]


def _claude(root: Path, name: str) -> Path:
    return root / "projects" / "-home-u-p" / name


def _codex(root: Path, name: str) -> Path:
    return root / ".codex" / "sessions" / "2026" / "01" / "01" / name


def _gemini(root: Path, name: str) -> Path:
    return root / "tmp" / "proj" / "chats" / name


def _copilot_cli(root: Path, name: str) -> Path:
    return root / ".copilot" / "session-state" / "0f0f0f0f-1111-2222-3333-444444444444" / "events.jsonl"


def _cursor_agent(root: Path, name: str) -> Path:
    return root / ".cursor" / "projects" / "home-u-p" / "agent-transcripts" / name


CLAUDE_REAL = REAL / "claude-code-2.1.197" / "home" / ".claude" / "projects"
CODEX_REAL = REAL / "codex-0.171.0" / "home" / ".codex" / "sessions" / "2026" / "12" / "04"
GEMINI_REAL = REAL / "gemini-0.61.0" / "home" / ".gemini" / "tmp"
COPILOT_REAL = REAL / "copilot-cli-1.0.102" / "home" / ".copilot" / "session-state"

AGENTS = (
    Agent(
        "claude-code",
        (
            FIX / "claude" / "stage0_small.jsonl",
            *sorted((CLAUDE_REAL / "-home-dev-work-claude-interactive").glob("*.jsonl"))[:1],
            *sorted((CLAUDE_REAL / "-home-dev-work-claude-model-switch").glob("*.jsonl"))[:1],
        ),
        frozenset(
            {"input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens"}
        ),
        frozenset({"usage"}),
        _claude,
        lambda root: ClaudeCodeReader([root / "projects"]),
    ),
    Agent(
        "codex",
        (
            FIX / "codex" / "stage0_small.jsonl",
            FIX / "codex" / "codex_053_rate_limit.jsonl",
            CODEX_REAL / "rollout-2026-12-04T19-07-45-01a24274-919a-7331-91fd-2b3344389563.jsonl",
            CODEX_REAL / "rollout-2026-12-04T19-07-57-01a24274-c000-70a1-890d-734c6ad8c9b2.jsonl",
        ),
        frozenset(
            {
                "input_tokens",
                "cached_input_tokens",
                "cache_write_input_tokens",
                "output_tokens",
                "reasoning_output_tokens",
                "total_tokens",
                "model_context_window",
            }
        ),
        frozenset({"last_token_usage", "total_token_usage", "usage", "info"}),
        _codex,
        lambda root: CodexReader(root / ".codex"),
    ),
    Agent(
        "gemini",
        (
            FIX / "gemini" / "jsonl_v040.jsonl",
            GEMINI_REAL / "gemini-resume" / "chats" / "session-2026-12-04T19-02-7378cea7.jsonl",
            GEMINI_REAL / "gemini-model-switch" / "chats" / "session-2026-12-04T19-03-7938451a.jsonl",
        ),
        frozenset({"input", "cached", "output", "thoughts", "tool", "total"}),
        frozenset({"tokens"}),
        _gemini,
        lambda root: GeminiReader([root / "tmp"]),
    ),
    Agent(
        "copilot-cli",
        (
            FIX / "copilot" / "cli_events.jsonl",
            COPILOT_REAL / "4cbf0a30-5b39-4f0a-9bc3-7d8028e785e6" / "events.jsonl",
            COPILOT_REAL / "412f1250-0d1d-4260-876d-9c076d540325" / "events.jsonl",
        ),
        frozenset({"inputTokens", "outputTokens", "cacheReadTokens", "cacheWriteTokens"}),
        frozenset({"usage", "data"}),
        _copilot_cli,
        lambda root: CopilotCliReader(root / ".copilot"),
    ),
    Agent(
        "cursor-agent",
        (FIX / "cursor" / "agent_small.jsonl",),
        frozenset(),  # its tokens are counted from the text: it reads no count
        frozenset(),
        _cursor_agent,
        lambda root: CursorAgentReader([root / ".cursor"]),
    ),
)


# --------------------------------------------------------------------------------------------------
# Garbage


def _leaves(obj: Any, agent: Agent, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Paths to the numbers the reader counts in a parsed line."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            if key in agent.count_keys and path and path[-1] in agent.parents and type(value) in (int, float):
                yield (*path, key)
            else:
                yield from _leaves(value, agent, (*path, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _leaves(value, agent, (*path, i))


def _set(obj: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        obj = obj[key]
    obj[path[-1]] = value


def _not_a_count(value: Any) -> bool:
    if value is None:
        return False  # absent: 0 for every reader
    if type(value) is int:
        return not 0 <= value <= MAX_COUNT
    if type(value) is float:
        return not (value.is_integer() and 0 <= value <= MAX_COUNT)
    return True


SAFE_KEYS = st.text(alphabet="XYZ_09", min_size=1, max_size=4)  # never a key any agent writes
SCALARS = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=6)
NESTED = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(SAFE_KEYS, inner, max_size=3),
    max_leaves=6,
)
BAD_COUNTS = st.one_of(
    st.sampled_from([2**64, 2**63, 2**53 + 1, 1e30, -5, -1, 12.5, "12", True, False, [], {}]),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=4),
    st.lists(NESTED, min_size=1, max_size=2),
    st.dictionaries(SAFE_KEYS, NESTED, min_size=1, max_size=2),
).filter(_not_a_count)


@st.composite
def poisoned(draw: st.DrawFn, records: list[Any], agent: Agent) -> bytes | None:
    """A valid record with one count out of range (and perhaps one other value garbled too)."""
    choices = [(i, p) for i, r in enumerate(records) for p in _leaves(r, agent)]
    if not choices:
        return None
    index, path = draw(st.sampled_from(choices))
    record = copy.deepcopy(records[index])
    _set(record, path, draw(BAD_COUNTS))
    others = [p for p in _leaves(record, agent) if p != path] if draw(st.booleans()) else []
    if others:
        _set(record, draw(st.sampled_from(others)), draw(NESTED))  # more garbage, same line
    keys = [k for k in _keys(record) if k != path[: len(k)]] if draw(st.booleans()) else []
    if keys:
        _delete(record, draw(st.sampled_from(keys)))  # and a key missing
    return _dumps(record)


def _keys(obj: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Paths to every key of every object in a parsed line."""
    if isinstance(obj, dict):
        for key, value in obj.items():
            yield (*path, key)
            yield from _keys(value, (*path, key))
    elif isinstance(obj, list):
        for i, value in enumerate(obj):
            yield from _keys(value, (*path, i))


def _delete(obj: Any, path: tuple[Any, ...]) -> None:
    for key in path[:-1]:
        obj = obj[key]
    del obj[path[-1]]


@st.composite
def garbage_line(draw: st.DrawFn, raw_lines: list[bytes], records: list[Any], agent: Agent) -> bytes:
    kind = draw(st.sampled_from(["poison", "truncated", "utf8", "json"]))
    if kind == "poison":
        line = draw(poisoned(records, agent))
        if line is not None:
            return line
        kind = "truncated"
    if kind in ("truncated", "utf8"):
        line = draw(st.sampled_from(raw_lines))
        cut = draw(st.integers(min_value=1, max_value=len(line) - 1))
        return line[:cut] if kind == "truncated" else line[:cut] + b"\xff\xfe" + line[cut:]
    value = draw(
        st.one_of(SCALARS, st.lists(NESTED, max_size=3), st.dictionaries(SAFE_KEYS, NESTED, max_size=3))
    )
    return _dumps(value)


def _dumps(value: Any) -> bytes:
    """JSON as an agent (or an attacker) may write it: integers of any size, Infinity allowed."""
    return json.dumps(value, separators=(",", ":")).encode()


# --------------------------------------------------------------------------------------------------
# Reading


def read_sessions(agent: Agent, root: Path, fixture: Path, lines: list[bytes]) -> list[Session]:
    path = agent.place(root, fixture.name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"".join(line + b"\n" for line in lines))
    reader = agent.reader(root)
    states = [reader.read(p, key, None) for p, key, _ident in reader.sources()]
    for state in states:
        orjson.dumps(state.data)  # what the parse cache stores
    sessions = reader.sessions(states)
    for session in sessions:
        orjson.dumps(session_to_dict(session))
    return sessions


def numbers(value: Any) -> Iterator[float]:
    if isinstance(value, (bool, str, datetime)) or value is None:
        return
    if isinstance(value, (int, float)):
        yield value
    elif dataclasses.is_dataclass(value):
        for f in dataclasses.fields(value):
            yield from numbers(getattr(value, f.name))
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from numbers(item)


def totals(sessions: list[Session]) -> dict[str, tuple[int, int, int, int]]:
    return {
        s.id: (s.tokens.input, s.tokens.output, s.tokens.cache_creation, s.tokens.cache_read)
        for s in sessions
    }


def valid_lines(fixture: Path) -> list[bytes]:
    return [line for line in fixture.read_bytes().split(b"\n") if line.strip()]


_BASELINES: dict[Path, dict[str, tuple[int, int, int, int]]] = {}


def baseline(agent: Agent, fixture: Path, root: Path) -> dict[str, tuple[int, int, int, int]]:
    if fixture not in _BASELINES:
        _BASELINES[fixture] = totals(read_sessions(agent, root, fixture, valid_lines(fixture)))
    return _BASELINES[fixture]


@pytest.mark.parametrize("agent", AGENTS, ids=lambda a: a.name)
def test_garbage_lines_cost_only_themselves(agent: Agent, tmp_path_factory: pytest.TempPathFactory) -> None:
    counter = iter(range(10**6))

    @settings(
        derandomize=True,
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        fixture = data.draw(st.sampled_from(agent.fixtures), label="fixture")
        lines = valid_lines(fixture)
        records = [orjson.loads(line) for line in lines]
        expected = baseline(agent, fixture, tmp_path_factory.mktemp(f"{agent.name}-base"))
        garbage = data.draw(st.lists(garbage_line(lines, records, agent), min_size=1, max_size=6))
        mixed = list(lines)
        for line in garbage:
            mixed.insert(data.draw(st.integers(min_value=0, max_value=len(mixed))), line)
        root = tmp_path_factory.mktemp(f"{agent.name}-{next(counter)}")
        sessions = read_sessions(agent, root, fixture, mixed)
        for session in sessions:
            for n in numbers(session):
                assert math.isfinite(n) and 0 <= n <= MAX_COUNT, (session.id, n)
        assert totals(sessions) == expected

    check()
