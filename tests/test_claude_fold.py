"""The compiled fold (agents/_claude_fold.c) gives the very states the Python fold gives: on generated and
real transcripts, on hand-made hostile lines, on thousands of mutated ones, and when a read continues
from a state saved in the cache. It is built wherever the tests run (a C compiler and Python's headers
are part of the test setup): a missing build fails here rather than leaving the slow path untested as
the fast one."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path
from typing import Any

import orjson
import pytest
from claude_corpus import generate
from real_fixtures import REAL
from test_claude_typed_decode import HOSTILE

from llm_session_manager.agents import claude_code
from llm_session_manager.agents.claude_code import (
    ClaudeCodeReader,
    apply_line,
    bad_line,
    decode_line,
    new_data,
)
from llm_session_manager.agents.jsonl import fold_lines

FIXTURES = Path(__file__).parent / "fixtures"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "fixtures"


def compiled() -> Any:
    fast = claude_code.compiled_fold()
    assert fast is not None, "llm_session_manager/agents/_claude_fold.c was not built (pip install -e .)"
    return fast


def fold(lines: bytes, fast: bool, data: dict[str, Any] | None = None) -> dict[str, Any]:
    data = new_data() if data is None else data
    fold_lines(io.BytesIO(lines), 0, data, apply_line, bad_line, decode_line, compiled() if fast else None)
    return data


def both(lines: bytes) -> tuple[dict[str, Any], dict[str, Any]]:
    return fold(lines, True), fold(lines, False)


def states(root: Path, fast: bool, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    with monkeypatch.context() as patch:
        patch.setattr(claude_code, "_fast", compiled() if fast else None)
        patch.setattr(claude_code, "_fast_tried", True)
        reader = ClaudeCodeReader([root])
        return {
            path: (s.offset, s.data)
            for path, key, _i in reader.sources()
            for s in [reader.read(path, key, None)]
        }


def test_the_compiled_fold_is_built_and_used() -> None:
    from llm_session_manager.agents import _claude_fold

    assert claude_code.compiled_fold() is _claude_fold.fold
    line = b'{"type":"user","timestamp":"2025-01-01T00:00:00.000Z",'
    line += b'"message":{"content":[{"type":"tool_result"}]}}\n'
    left: list[tuple[int, int]] = []
    data = new_data()
    assert _claude_fold.fold(
        bytearray(line * 2), 0, len(line) * 2, data, lambda a, b: left.append((a, b))
    ) == 2 * len(line)
    assert left == [] and data["lines"] == 2 and data["recent"] == [["2025-01-01T00:00:00.000Z", False]] * 2
    summary = b'{"type":"summary","summary":"s"}\n'
    assert _claude_fold.fold(
        bytearray(summary + b"{"), 0, len(summary) + 1, data, lambda a, b: left.append((a, b))
    ) == len(summary)
    assert left == [(0, len(summary) - 1)]  # left to Python, and the unfinished line to the next read


def test_a_fold_started_inside_another_folds_the_same() -> None:
    """A fold called while another is under way (here from the line it handed back) uses a line buffer
    of its own: both give what each gives alone."""
    from llm_session_manager.agents import _claude_fold

    compiled()
    line = b'{"type":"assistant","timestamp":"2025-01-01T00:00:00.000Z","message":{"id":"m","model":"x",'
    line += b'"usage":{"input_tokens":3,"output_tokens":4}}}\n'
    summary = b'{"type":"summary","summary":"s"}\n'
    outer_buf = bytearray(line + summary + line.replace(b'"m"', b'"n"'))
    inner: dict[str, Any] = new_data()

    def nested(start: int, stop: int) -> None:
        buf = bytearray(line * 3)
        _claude_fold.fold(buf, 0, len(buf), inner, lambda a, b: None)

    outer = new_data()
    assert _claude_fold.fold(outer_buf, 0, len(outer_buf), outer, nested) == len(outer_buf)
    assert outer == fold(line + line.replace(b'"m"', b'"n"'), True) and set(outer["entries"]) == {"m", "n"}
    assert inner == fold(line * 3, True) and inner["lines"] == 3


@pytest.mark.parametrize("seed", [0, 3, 7])
def test_generated_transcripts_fold_the_same(
    tmp_path: Path, seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    generate(tmp_path / "claude", sessions=40, seed=seed)
    root = tmp_path / "claude" / "projects"
    fast = states(root, True, monkeypatch)
    assert fast == states(root, False, monkeypatch)
    assert sum(d["lines"] for _o, d in fast.values()) > 1000


def test_real_transcripts_fold_the_same(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    roots = sorted(p for p in REAL.glob("claude*/**/projects") if p.is_dir())
    assert roots, "real Claude Code captures are in tests/fixtures/real"
    files = sorted(FIXTURES.glob("claude/**/*.jsonl")) + sorted(SHARED.glob("claude/**/*.jsonl"))
    assert files
    project = tmp_path / "projects" / "-fixtures"
    project.mkdir(parents=True)
    for n, file in enumerate(files):
        (project / f"{n}.jsonl").write_bytes(file.read_bytes())
    for root in [*roots, tmp_path / "projects"]:
        assert states(root, True, monkeypatch) == states(root, False, monkeypatch), root


TS = "2025-03-04T05:06:07.089Z"
# Lines at the edges of what the compiled fold takes: each must fold exactly as in Python, whether C
# folds it or leaves it to Python.
TRICKY: list[bytes] = [
    b'{"type":"assistant","timestamp":"'
    + TS.encode()
    + b'","message":{"id":"a","model":"m","usage":{"input_tokens":9007199254740992}}}',
    b'{"type":"assistant","message":{"id":"a","usage":{"input_tokens":9007199254740993}}}',
    b'{"type":"assistant","message":{"id":"a","usage":{"input_tokens":1e3}}}',
    b'{"type":"assistant","message":{"id":"a","usage":{"input_tokens":100.0}}}',
    b'{"type":"assistant","message":{"id":"a","usage":{"input_tokens":-0}}}',
    b'{"type":"assistant","message":{"id":"a","usage":{"input_tokens":1234567890123456}}}',
    b'{"type":"assistant","message":{"id":"a","usage":{"input_tokens":01}}}',
    b'{"type":"assistant","message":{"id":"a","usage":{"input_tokens":5,"input_tokens":6}}}',
    b'{"type":"assistant","message":{"id":"a","id":"b","usage":{"input_tokens":5}}}',
    b'{"type":"assistant","type":"user","message":{"id":"a","usage":{"input_tokens":5}}}',
    b'{"typ\\u0065":"assistant","message":{"id":"a","usage":{"input_tokens":5}}}',
    b'{"type":"assistan\\u0074","message":{"id":"a","usage":{"input_tokens":5}}}',
    b'{"type":"assistant","gitBranch":"\\u0048EAD","cwd":"/a\\/b\\u00e9\\ud83d\\ude00","message":{"id":"a\\"q"}}',
    b'{"type":"assistant","gitBranch":"HEAD","message":{"id":"x","usage":{}}}',
    b'{"type":"assistant","cwd":"\\ud800","message":{"id":"a"}}',
    b'{"type":"assistant","cwd":"\\udc00x","message":{"id":"a"}}',
    b'{"type":"assistant","cwd":"\xff","message":{"id":"a"}}',
    b'{"type":"assistant","other":"\xff\xc0\xaf\xed\xa0\x80","message":{"id":"a","usage":{"input_tokens":5}}}',
    b'{"type":"assistant","other":"\x01","message":{"id":"a","usage":{"input_tokens":5}}}',
    b'{"type":"assistant","other":"\\x","message":{"id":"a","usage":{"input_tokens":5}}}',
    b'{"type":"assistant","other":1e999999,"message":{"id":"a","usage":{"input_tokens":5}}}',
    b'{"type":"assistant","other":' + b"[" * 70 + b"]" * 70 + b',"message":{"id":"a"}}',
    b'{"type":"assistant","message":{"id":"a","usage":{"input_tokens":5}}} x',
    b'{"type":"assistant","message":{"id":"a","usage":{"input_tokens":5}}}\r',
    b'  \t{"type":"assistant","message":{"id":"a","usage":{"input_tokens":5}}}  ',
    b"   \t\r",
    b"\xef\xbb\xbf{}",
    b"[1,2]",
    b"{}",
    b'{"type":"assistant","timestamp":"2025-03-04T05:06:07Z","message":{"id":"t"}}',
    b'{"type":"assistant","timestamp":"2025-03-04T05:06:07.089+00:00","message":{"id":"t"}}',
    b'{"type":"assistant","timestamp":"2025-03-04T05:06:07.08\xc3\xa9Z","message":{"id":"t"}}',
    b'{"type":"assistant","timestamp":"xxxxxxxxxxxxxxxxxxxxxxxZ","message":{"id":"t"}}',
    b'{"type":"assistant","isSidechain":"true","message":{"id":"s","usage":{"input_tokens":1}}}',
    b'{"type":"assistant","isSidechain":true,"message":{"id":"s","model":"<synthetic>","usage":{"input_tokens":1}}}',
    b'{"type":"assistant","requestId":7,"message":{"id":"r","usage":{"input_tokens":1}}}',
    b'{"type":"assistant","requestId":"q","message":{"id":"r","model":"","usage":{"input_tokens":1}}}',
    b'{"type":"assistant","uuid":"u","message":{"usage":{"output_tokens":3}}}',
    b'{"type":"assistant","uuid":5,"message":{"usage":{"output_tokens":3}}}',
    b'{"type":"assistant","message":{"id":"tools","content":[{"type":"tool_use","id":"c1","input":{"command":"'
    + b"x" * 300
    + b'"}},{"type":"tool_use","id":"","input":{"command":"y"}},{"type":"tool_use","id":7,"input":{}},'
    b'{"type":"tool_use","input":null},{"type":"tool_use","id":"c2","input":{"command":5}}]}}',
    b'{"type":"assistant","message":{"content":[{"type":"tool_use","id":"c3","input":"ls"}]}}',
    b'{"type":"assistant","message":{"content":[' + b'{"type":"tool_use"},' * 70 + b"{}]}}",
    b'{"type":"assistant","message":{"content":"a string",'
    b'"usage":{"cache_creation":{"ephemeral_1h_input_tokens":4}}}}',
    b'{"type":"assistant","message":{"id":"cc","usage":{"cache_creation":{"ephemeral_1h_input_tokens":"4"}}}}',
    b'{"type":"assistant","costUSD":0.25,"message":{"id":"cost","usage":{"input_tokens":1}}}',
    b'{"type":"assistant","costUSD":null,"message":{"id":"cost","usage":{"input_tokens":2}}}',
    b'{"type":"user","message":{"content":"[Request interrupted by user for tool use]"}}',
    b'{"type":"user","message":{"content":"  <bash-input>ls</bash-input>"}}',
    b'{"type":"user","message":{"content":"<command-name>/clear</command-name>"}}',
    b'{"type":"user","message":{"content":"\\u2003\\u00a0 "}}',
    b'{"type":"user","message":{"content":"\\u2003a real prompt"}}',
    b'{"type":"user","isMeta":"yes","message":{"content":"meta?"}}',
    b'{"type":"user","isCompactSummary":true,"message":{"content":"compacted"}}',
    b'{"type":"user","isSidechain":true,"message":{"content":"side prompt"}}',
    b'{"type":"user","message":{"content":[{"type":"text","text":"\xff"},{"type":"tool_result"}]}}',
    b'{"type":"user","message":{"content":[{"type":"text","text":"a\\nb"},{"type":"text","text":"<command-x"}]}}',
    b'{"type":"user","message":{"content":[{"type":"text","text":"[Request interrupted by user]"},'
    b'{"type":"text","text":"go"}]}}',
    b'{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"c1","is_error":true},'
    b'{"type":"tool_result","tool_use_id":"c1","is_error":true},{"type":"tool_result","is_error":"yes"}]}}',
    b'{"type":"user","message":{"content":[{"type":"tool_result","tool_use_id":"\xff","is_error":true}]}}',
    b'{"type":"user","message":{"content":[{"type":"tool_result","content":"\xff\\"","is_error":false}]}}',
    b'{"type":"user","error":"\xff","message":{"content":[{"type":"tool_result"}]}}',
    b'{"type":"user","costUSD":["\xff"],"message":{"content":[{"type":"tool_result"}]}}',
    # numbers msgspec refuses in the values it decodes (beyond a double), and those it takes
    b'{"type":"user","costUSD":1e999,"message":{"content":[{"type":"tool_result"}]}}',
    b'{"type":"user","error":[-1.7976931348623159e308],"message":{"content":[{"type":"tool_result"}]}}',
    b'{"type":"user","error":{"a":' + b"9" * 290 + b'.5e15},"message":{"content":[{"type":"tool_result"}]}}',
    b'{"type":"user","error":1e308,"costUSD":' + b"1" * 400 + b',"message":{"content":[]}}',
    b'{"type":"user","error":1e-999,"other":1e999999,"message":{"content":[{"type":"tool_result"}]}}',
    b'{"type":"file-history-snapshot","messageId":"m","snapshot":{"timestamp":"' + TS.encode() + b'"}}',
    b'{"type":"attachment","attachment":{"identity":{"modelId":"opus[1m]"}}}',
    b'{"type":"attachment","attachment":null,"cwd":"/x"}',
    b'{"type":"progress","message":null,"cwd":"/y","timestamp":"' + TS.encode() + b'"}',
    b'{"type":"custom-title","customTitle":"mine"}',
    b'{"type":"mode","mode":"normal"}',
]


def test_tricky_lines_fold_the_same() -> None:
    for line in TRICKY:
        assert fold(line + b"\n", True) == fold(line + b"\n", False), line
    hostile = b"".join(json.dumps(obj).encode() + b"\n" for obj in HOSTILE)
    everything = hostile + b"\n".join(TRICKY) + b"\n"
    fast, slow = both(everything)
    assert fast == slow and fast["skipped"] > 0 and fast["entries"]
    assert (
        fast["interruptions"] and fast["fails"] and fast["cmds"] and fast["prompts"] and fast["tool_errors"]
    )
    assert fold(b'{"type":"mode"}\n' + everything, True) == fold(b'{"type":"mode"}\n' + everything, False)


VALUES: list[Any] = [
    None, True, False, 0, 1, -1, 2.5, 100.0, 2**53, 2**53 + 1, 10**20, "", "x", "HEAD", "<synthetic>",
    "[Request interrupted by user]", "<command-name>/clear</command-name>", "  <bash-stdout>",
    "caf\u00e9 \U0001f600", "\u2003", "tool_result", "tool_use", "text", TS,
    [], {}, [1, "a"], {"a": 1}, {"command": "ls"},
]  # fmt: skip


def changed_value(obj: Any, rng: random.Random) -> bytes:
    """A value somewhere down a random path replaced (or its key dropped), escaped as ASCII or not."""
    node = obj
    for _depth in range(rng.randint(1, 4)):
        children = list(node.items()) if isinstance(node, dict) else list(enumerate(node))
        if not children:
            break
        key, child = rng.choice(children)
        if not isinstance(child, dict | list) or rng.random() < 0.3:
            if rng.random() < 0.15 and isinstance(node, dict):
                del node[key]
            else:
                node[key] = rng.choice(VALUES)
            break
        node = child
    return json.dumps(obj, ensure_ascii=rng.random() < 0.5).encode()


REPEATED = [b'"type":"user",', b'"message":null,', b'"timestamp":"' + TS.encode() + b'",']
INSERTED = [b"\\u00e9", b"\\ud83d", b'"k":1,', b"\xed\xa0\x80", b"\\", b"1e999"]


def changed_bytes(obj: Any, rng: random.Random) -> bytes:
    """A byte replaced or dropped, an escape or bytes inserted, a key repeated first, the line cut."""
    line = bytearray(json.dumps(obj, separators=(",", ":")).encode())
    for _edit in range(rng.randint(1, 3)):
        if not line:
            break
        at = rng.randrange(len(line))
        choice = rng.random()
        if choice < 0.3:
            line[at] = rng.choice(b'"\\{}[]:,\x00\x1f\xff\xc3 a0')
        elif choice < 0.5:
            del line[at]
        elif choice < 0.7:
            line[at:at] = rng.choice(INSERTED)
        elif choice < 0.85:
            line[1:1] = rng.choice(REPEATED)
        else:
            del line[at:]
    return bytes(line)


def mutations(base: list[dict[str, Any]], rng: random.Random, count: int) -> list[bytes]:
    """Lines made from real ones, changed in their values or their bytes."""
    out = []
    for _ in range(count):
        obj = json.loads(json.dumps(rng.choice(base)))
        line = changed_value(obj, rng) if rng.random() < 0.6 else changed_bytes(obj, rng)
        out.append(line.replace(b"\n", b" "))
    return out


@pytest.mark.parametrize("seed", range(4))
def test_mutated_lines_fold_the_same(tmp_path: Path, seed: int) -> None:
    generate(tmp_path / "claude", sessions=6, seed=seed)
    base = [
        orjson.loads(line)
        for file in sorted((tmp_path / "claude").rglob("*.jsonl"))
        for line in file.read_bytes().splitlines()
        if line.strip().startswith(b"{") and line.strip().endswith(b"}")
    ]
    base += [obj for obj in HOSTILE if isinstance(obj, dict)]
    rng = random.Random(seed)
    lines = mutations(base, rng, 1500)
    for start in range(0, len(lines), 5):  # a few lines at a time: one state meets several shapes
        chunk = b"\n".join(lines[start : start + 5]) + b"\n"
        fast, slow = both(chunk)
        assert fast == slow, chunk


def test_a_read_continued_from_a_saved_state_folds_the_same(tmp_path: Path) -> None:
    """The second half of a file folded into the first half's state as the cache gives it back."""
    generate(tmp_path / "claude", sessions=8, seed=11)
    for file in sorted((tmp_path / "claude").rglob("*.jsonl")):
        lines = file.read_bytes().splitlines(keepends=True)
        half = len(lines) // 2
        saved = orjson.dumps(fold(b"".join(lines[:half]), False))
        rest = b"".join(lines[half:])
        assert fold(rest, True, orjson.loads(saved)) == fold(rest, False, orjson.loads(saved)), file
        odd = orjson.loads(saved) | {"recent": "not a list", "lines": "7"}  # a state of another shape
        assert fold(rest, True, dict(odd)) == fold(rest, False, dict(odd))


def test_configure_takes_the_readers_constants() -> None:
    from types import SimpleNamespace

    from llm_session_manager.agents import _claude_fold

    with pytest.raises(AttributeError):
        _claude_fold.configure(SimpleNamespace())  # type: ignore[arg-type]
    with pytest.raises(RuntimeError):  # it refuses to fold half configured
        _claude_fold.fold(bytearray(b"{}\n"), 0, 3, {}, lambda a, b: None)
    import sys

    _claude_fold.configure(sys.modules[claude_code.__name__])
    with pytest.raises(ValueError):
        _claude_fold.fold(bytearray(b"{}\n"), 0, 9, {}, lambda a, b: None)
