"""Self-checks of the Claude Code corpus generator (tests/claude_corpus.py); the lsm reader is not used here.

The truth of the generator is built while writing; here a small independent parser re-derives every field
from the files, following the rules written in the generator's docstring (ccusage's session dedup included),
and must agree with it.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from claude_corpus import (
    MODELS,
    SessionTruth,
    encode_cwd,
    generate,
    load_truth,
    save_truth,
)

ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
MARKERS = ("[Request interrupted by user]", "[Request interrupted by user for tool use]")
LINE_FIELDS = ("parentUuid", "isSidechain", "userType", "cwd", "sessionId", "version", "gitBranch", "uuid")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, SessionTruth]]:
    root = tmp_path_factory.mktemp("corpus")
    return root, generate(root, sessions=20, seed=0)


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


# --------------------------------------------------------------------------------------------------------
# Reference parser (mirrors the documented rules; slow and simple on purpose)


@dataclass
class _Line:
    rel: str
    sid: str
    obj: dict[str, Any]


@dataclass
class _Entry:
    mid: str
    req: str | None
    ts: str
    side: bool
    usage: tuple[int, int, int, int]
    model: str
    sid: str
    api_error: bool


@dataclass
class _Ref:
    lines: list[_Line] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)


def _session_of(rel: str) -> str:
    parts = rel.split("/")[1:]  # drop "projects"
    return parts[1][: -len(".jsonl")] if len(parts) == 2 else parts[1]


def _read(root: Path) -> _Ref:
    ref = _Ref()
    for path in sorted((root / "projects").rglob("*.jsonl"), key=str):
        rel = path.relative_to(root).as_posix()
        sid = _session_of(rel)
        for raw in path.read_bytes().split(b"\n"):
            if not raw:
                continue
            try:
                obj = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                ref.skipped[sid] = ref.skipped.get(sid, 0) + 1
                continue
            assert isinstance(obj, dict)
            ref.lines.append(_Line(rel, sid, obj))
    return ref


def _entry(line: _Line) -> _Entry | None:
    obj = line.obj
    msg = obj.get("message")
    if obj.get("type") != "assistant" or not isinstance(msg, dict) or "usage" not in msg:
        return None
    u = msg["usage"]
    usage = (
        u["input_tokens"],
        u["output_tokens"],
        u.get("cache_creation_input_tokens", 0),
        u.get("cache_read_input_tokens", 0),
    )
    return _Entry(
        msg["id"],
        obj.get("requestId"),
        obj["timestamp"],
        obj.get("isSidechain") is True,
        usage,
        msg["model"],
        line.sid,
        obj.get("isApiErrorMessage") is True,
    )


def _dedup(entries: list[_Entry]) -> list[_Entry]:
    """ccusage 20.0.24 `session` dedup: exact (id, requestId); a sidechain replay needs (id, timestamp)."""
    kept: list[_Entry] = []
    exact: dict[tuple[str, str | None], int] = {}
    by_ts: dict[tuple[str, str], int] = {}
    for e in entries:
        i = exact.get((e.mid, e.req))
        if i is None or (kept[i].mid, kept[i].req) != (e.mid, e.req):
            j = by_ts.get((e.mid, e.ts))
            ok = j is not None and kept[j].mid == e.mid and kept[j].ts == e.ts and (e.side or kept[j].side)
            i = j if ok else None
        if i is None:
            exact[(e.mid, e.req)] = by_ts[(e.mid, e.ts)] = len(kept)
            kept.append(e)
            continue
        old = kept[i]
        replace = old.side if old.side != e.side else sum(e.usage) > sum(old.usage)
        if replace:
            kept[i] = e
            exact[(e.mid, e.req)] = by_ts[(e.mid, e.ts)] = i
    return kept


def _is_prompt(obj: dict[str, Any]) -> bool:
    if (
        obj.get("type") != "user"
        or obj.get("isSidechain")
        or obj.get("isMeta")
        or obj.get("isCompactSummary")
    ):
        return False
    content = obj["message"]["content"]
    if isinstance(content, str):
        return content not in MARKERS
    kinds = {b.get("type") for b in content}
    texts = [b.get("text") for b in content if b.get("type") == "text"]
    return "tool_result" not in kinds and bool(texts) and not all(t in MARKERS for t in texts)


def _count_line(t: SessionTruth, obj: dict[str, Any]) -> None:
    kind, sub = obj.get("type"), obj.get("subtype")
    t.user_prompts += _is_prompt(obj)
    t.compactions += kind == "system" and sub == "compact_boundary"
    t.api_errors += (kind == "system" and sub == "api_error") or obj.get("isApiErrorMessage") is True
    content = obj.get("message", {}).get("content") if kind == "user" else None
    if isinstance(content, list):
        for block in content:
            t.tool_errors += block.get("type") == "tool_result" and block.get("is_error") is True
            t.interruptions += block.get("type") == "text" and block.get("text") in MARKERS


def _context(t: SessionTruth, line: _Line) -> None:
    e = _entry(line)
    main_file = line.rel.count("/") == 2
    if e and main_file and not e.side and not e.api_error and e.model != "<synthetic>":
        t.context_tokens = e.usage[0] + e.usage[2] + e.usage[3]
        t.last_model = e.model


def _reference(root: Path) -> dict[str, SessionTruth]:
    ref = _read(root)
    out: dict[str, SessionTruth] = {}
    per_session: dict[str, list[_Entry]] = {}
    for line in ref.lines:
        t = out.setdefault(line.sid, SessionTruth(line.sid, line.rel.split("/")[1], ""))
        t.cwd = t.cwd or line.obj.get("cwd", "")
        _count_line(t, line.obj)
        _context(t, line)
        ts = line.obj.get("timestamp")
        if isinstance(ts, str):
            t.first_ts = min(t.first_ts or ts, ts)
            t.last_ts = max(t.last_ts, ts)
        e = _entry(line)
        if e:
            per_session.setdefault(line.sid, []).append(e)
    all_entries = [e for line in ref.lines if (e := _entry(line))]
    models: dict[str, set[str]] = {}
    for e in _dedup(all_entries):
        t = out[e.sid]
        t.input, t.output = t.input + e.usage[0], t.output + e.usage[1]
        t.cache_creation, t.cache_read = t.cache_creation + e.usage[2], t.cache_read + e.usage[3]
        if e.model != "<synthetic>":
            models.setdefault(e.sid, set()).add(e.model)
    for sid, t in out.items():
        t.models = sorted(models.get(sid, ()))
        t.assistant_messages = sum(not e.api_error for e in _dedup(per_session.get(sid, [])))
        t.skipped_lines = ref.skipped.get(sid, 0)
    return out


CHECKED = (
    *("input", "output", "cache_creation", "cache_read", "user_prompts", "assistant_messages"),
    *("tool_errors", "interruptions", "compactions", "api_errors", "context_tokens", "models"),
    *("last_model", "first_ts", "last_ts", "skipped_lines", "cwd", "project_dir"),
)


# --------------------------------------------------------------------------------------------------------
# Tests


def test_deterministic(tmp_path: Path, corpus: tuple[Path, dict[str, SessionTruth]]) -> None:
    root, truths = corpus
    again = generate(tmp_path / "again", sessions=20, seed=0)
    assert {k: asdict(v) for k, v in again.items()} == {k: asdict(v) for k, v in truths.items()}
    assert _tree(tmp_path / "again") == _tree(root)
    other = generate(tmp_path / "other", sessions=20, seed=1)
    assert set(other) != set(truths)


def test_refuses_non_empty_root(tmp_path: Path) -> None:
    generate(tmp_path, sessions=2, seed=3)
    with pytest.raises(FileExistsError):
        generate(tmp_path, sessions=2, seed=3)


def test_truth_matches_reference_parser(corpus: tuple[Path, dict[str, SessionTruth]]) -> None:
    root, truths = corpus
    ref = _reference(root)
    assert set(ref) == set(truths)
    for sid, t in truths.items():
        want = {k: getattr(t, k) for k in CHECKED}
        got = {k: getattr(ref[sid], k) for k in CHECKED}
        assert got == want, sid


def test_clean_corpus_matches_reference(tmp_path: Path) -> None:
    truths = generate(tmp_path, sessions=8, seed=4, tricky=False)
    ref = _reference(tmp_path)
    for sid, t in truths.items():
        assert {k: getattr(ref[sid], k) for k in CHECKED} == {k: getattr(t, k) for k in CHECKED}
        assert t.skipped_lines == t.compactions == t.api_errors == 0
        assert not t.spaced and t.resumed_from is None and len(t.files) == 1


def test_lines_parse_and_look_real(corpus: tuple[Path, dict[str, SessionTruth]]) -> None:
    root, truths = corpus
    for t in truths.values():
        bad = 0
        for rel in t.files:
            data = (root / rel).read_bytes()
            pieces = data.split(b"\n")
            assert pieces[-1] == b"" or rel == t.files[0], "only a main file may end without a newline"
            last_ts = ""
            for raw in filter(None, pieces):
                try:
                    obj = json.loads(raw.decode("utf-8"))
                except (UnicodeDecodeError, ValueError):
                    bad += 1
                    continue
                if obj["type"] in ("user", "assistant", "system"):
                    assert all(k in obj for k in LINE_FIELDS), obj
                    assert obj["sessionId"] == t.session_id and ISO.match(obj["timestamp"])
                    assert obj["timestamp"] >= last_ts, "timestamps increase within a file"
                    last_ts = obj["timestamp"]
                if obj["type"] == "assistant" and not obj.get("isApiErrorMessage"):
                    assert obj["requestId"].startswith("req_") and obj["message"]["id"].startswith("msg_")
                    assert obj["message"]["model"] in MODELS
                    u = obj["message"]["usage"]
                    assert sum(u["cache_creation"].values()) == u["cache_creation_input_tokens"]
        assert bad == t.skipped_lines


def test_truth_consistent(corpus: tuple[Path, dict[str, SessionTruth]]) -> None:
    root, truths = corpus
    for t in truths.values():
        assert t.files[0] == f"projects/{t.project_dir}/{t.session_id}.jsonl"
        assert t.project_dir == encode_cwd(t.cwd) and not re.search(r"[^A-Za-z0-9-]", t.project_dir)
        assert t.bytes == sum((root / f).stat().st_size for f in t.files)
        assert all(
            f.startswith(f"projects/{t.project_dir}/{t.session_id}/subagents/agent-") for f in t.files[1:]
        )
        assert min(t.input, t.output, t.cache_creation, t.cache_read) >= 0
        assert t.total == t.input + t.output + t.cache_creation + t.cache_read > 0
        assert set(t.models) <= set(MODELS) and t.models == sorted(t.models)
        assert (t.context_tokens > 0) == (t.last_model != "")
        assert ISO.match(t.first_ts) and ISO.match(t.last_ts) and t.first_ts <= t.last_ts
        assert t.assistant_messages >= 1 and t.user_prompts >= 1
        main = (root / t.files[0]).read_bytes()
        assert (b'"usage": {' in main) == t.spaced  # a garbage line may hold compact bytes
        if t.resumed_from:
            src = truths[t.resumed_from]
            assert src.project_dir == t.project_dir and not src.spaced and not t.spaced
            assert t.first_ts == src.first_ts, "copies keep their timestamps"
            assert t.last_ts > src.last_ts or t.last_ts > src.first_ts


def test_every_feature_present(corpus: tuple[Path, dict[str, SessionTruth]]) -> None:
    root, truths = corpus
    ts = list(truths.values())
    assert any(t.spaced for t in ts) and any(not t.spaced for t in ts)
    resumed = [t for t in ts if t.resumed_from]
    orders = {f"{t.files[0]}" < truths[t.resumed_from or ""].files[0] for t in resumed}
    assert orders == {True, False}, "copies owned by the resumed file and by the source"
    for name in ("compactions", "api_errors", "tool_errors", "interruptions", "skipped_lines"):
        assert any(getattr(t, name) for t in ts), name
    assert any(t.custom_title for t in ts)
    assert len({t.project_dir for t in ts}) >= 2 and len({m for t in ts for m in t.models}) == 3
    files = [f for t in ts for f in t.files]
    assert any("agent-aside_question-" in f for f in files) and any("/subagents/agent-a" in f for f in files)
    mains = b"".join((root / t.files[0]).read_bytes() for t in ts)
    for needle in (
        b'"isSidechain":true',
        b'"isCompactSummary":true',
        b'"isMeta":true',
        b'"isApiErrorMessage":true',
        b'"subtype":"api_error"',
        b'"type":"summary"',
        b'"type":"custom-title"',
        b'"is_error":true',
        b"\x00\x00",
        b"\xff\xfe",
        b'"isSidechain":true,"userType":"external","cwd"',
    ):
        assert needle in mains, needle
    assert any(not (root / t.files[0]).read_bytes().endswith(b"\n") for t in ts), "a truncated last line"


def test_resumed_copies_share_ids(corpus: tuple[Path, dict[str, SessionTruth]]) -> None:
    root, truths = corpus
    for t in truths.values():
        if not t.resumed_from:
            continue
        src = (root / truths[t.resumed_from].files[0]).read_bytes().decode("utf-8", "replace")
        first = next(
            json.loads(raw)
            for raw in (root / t.files[0]).read_bytes().split(b"\n")
            if b'"type":"assistant"' in raw and b"isApiErrorMessage" not in raw
        )
        assert first["sessionId"] == t.session_id
        assert first["message"]["id"] in src and first["requestId"] in src and first["uuid"] in src


def test_target_bytes_and_truth_file(tmp_path: Path) -> None:
    truths = generate(tmp_path / "c", sessions=10, seed=2, target_bytes=3_000_000)
    files = list((tmp_path / "c" / "projects").rglob("*.jsonl"))
    assert sum(f.stat().st_size for f in files) >= 3_000_000
    assert sum(t.bytes for t in truths.values()) == sum(f.stat().st_size for f in files)
    save_truth(tmp_path / "truth.json", truths, {"seed": 2})
    loaded, meta = load_truth(tmp_path / "truth.json")
    assert meta == {"seed": 2} and {k: asdict(v) for k, v in loaded.items()} == {
        k: asdict(v) for k, v in truths.items()
    }
