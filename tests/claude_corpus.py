"""Deterministic generator of Claude Code transcripts with known truth (stdlib only).

``generate(root, sessions=N, seed=S)`` writes a Claude config dir (``root/projects/<encoded cwd>/<sid>.jsonl``
plus sub-agent files ``root/projects/<p>/<sid>/subagents/agent-<id>.jsonl`` and ``.meta.json``) and returns,
per session id, a :class:`SessionTruth`. The truth is accumulated from the generation parameters while the
lines are produced; it is never obtained by parsing the files back.

Lines copy the shape of real Claude Code 1.0/2.0 lines (see ``/work/shared/fixtures/claude``): every line
carries ``parentUuid, isSidechain, userType, cwd, sessionId, version, gitBranch, type, uuid, timestamp``;
assistant lines carry ``message{id, model, role, content, usage{...}}`` and ``requestId``. Non-ASCII text is
written raw (UTF-8), as Claude Code does.

Rules the truth follows (a correct reader must report the same)
=============================================================
Session identity
    A session is one ``projects/<project_dir>/<session_id>.jsonl`` file plus every ``.jsonl`` under
    ``projects/<project_dir>/<session_id>/`` (its ``subagents/agent-*.jsonl``). The id is the file stem; in
    this corpus it always equals the ``sessionId`` of the session's own lines (resumed copies included), and
    sub-agent lines carry the parent's ``sessionId``. This is ccusage's grouping: ccusage 20.0.24 takes the
    session id from the PATH, not from the line (verified: a file ``aaa.jsonl`` whose lines say
    ``"sessionId":"zzz"`` is reported as ``aaa``; ``<s>/subagents/agent-x.jsonl`` and ``<s>/chat.jsonl`` are
    reported as ``<s>``; the same stem in two project dirs gives two sessions).

Token totals (``input``, ``output``, ``cache_creation``, ``cache_read``) -- ccusage's dedup, global
    * Only ``type:"assistant"`` lines with ``message.usage`` count, from the main file AND sub-agent files
      AND ``isSidechain:true`` lines of the main file. (ccusage does not look at ``type``; no other line
      of this corpus has ``message.usage``.)
    * Dedup key is ``(message.id, requestId)`` over the WHOLE corpus. Lines of one message split over 2-3
      lines (one content block each, same id/requestId, same input/cache numbers, non-decreasing
      ``output_tokens``) count once, with the line of the largest ``input+output+cache_creation+cache_read``
      (ties: the first one met).
    * Dedup is across sessions too: of two equal-key lines in different files the larger total wins, and on
      a tie the file whose path sorts first (see resumed sessions below); a non-sidechain line always beats
      a sidechain line with the same key.
    * "/btw" side questions (ccusage #913): ``<sid>/subagents/agent-aside_question-<hex>.jsonl`` first holds
      ``isSidechain:true`` REPLAYS of recent main-chain messages -- same ``message.id``, a NEW
      ``requestId``, the SAME timestamp as the parent's counted line, cache_read = the parent's whole
      context -- then the question and a real answer (new id, counted). Replays count for nothing (tokens,
      messages, context). ccusage 20.0.24's ``session`` report drops a sidechain line whose message.id AND
      timestamp equal an already kept line (verified: with a different timestamp it counts the replay; its
      ``daily`` report ignores the timestamp). A reader may simply drop a sidechain line whose message.id
      was already counted from a non-sidechain line: on this corpus both rules give the same totals.
    * Resumed sessions: a resumed session's file starts with verbatim copies of the first complete turns of
      an earlier session of the same project (same uuid, message.id, requestId, usage, timestamp; only
      ``sessionId`` is rewritten to the new file's id). Each copied message counts ONCE overall, for the
      session whose main file path sorts first (plain string order of the full path, i.e. the smaller
      session id within a project) -- NOT necessarily the original. That is exactly what ccusage does: it
      sorts all files by path, walks them in that order and keeps the first of equal lines (verified:
      original ``bbb`` + resumed ``aaa`` -> the copy is counted in ``aaa``; original ``ccc`` + resumed
      ``ddd`` -> counted in ``ccc``). Both orders occur in every corpus of >= 6 sessions. Chains (a resume
      of a resume) follow the same rule.
    * ``isApiErrorMessage`` lines (model ``<synthetic>``, all-zero usage) add 0 tokens.
    * Spaced-JSON sessions (``": "`` separators, 1 in 5 when tricky) are counted normally here; ccusage
      cannot read them at all (it skips lines without the exact bytes ``"usage":{``), so it does not list
      them. Spaced sessions are never part of a resume pair, so they never change another session's totals.
    * Tool-result user lines of the ``Task`` tool carry ``toolUseResult.usage{...}`` (the sub-agent's own
      totals, as real ones do): a reader must not count usage outside ``type:"assistant"`` lines.

``assistant_messages``
    Distinct assistant API responses in the session's own files (main + sub-agents, all chains), deduped
    with the same key as tokens but per session: resumed copies DO count in every session whose file holds
    them; ``/btw`` replays and ``isApiErrorMessage`` lines do not.

Line counters (``tool_errors``, ``interruptions``, ``compactions``, ``api_errors``) count lines of all the
session's files (main + sub-agents, copies included, as they are part of the transcript):
    * ``tool_errors``: ``tool_result`` blocks with ``is_error:true`` (tool failures AND rejected tool uses).
    * ``interruptions``: user text blocks equal to ``[Request interrupted by user]`` or
      ``[Request interrupted by user for tool use]``.
    * ``compactions``: ``type:"system", subtype:"compact_boundary"`` lines.
    * ``api_errors``: ``type:"system", subtype:"api_error"`` lines (one per failed attempt) plus
      ``isApiErrorMessage:true`` assistant lines (the final failure shown to the user).
``user_prompts``
    ``type:"user"`` lines with ``isSidechain:false`` whose content is a string or holds a ``text`` block and
    that are not ``isMeta``, not ``isCompactSummary``, not tool results and not interruption markers.
``context_tokens``
    ``input+cache_creation+cache_read`` of the LAST assistant line of the MAIN file (file order) that is not
    a sidechain line and not an API error (model ``<synthetic>``); 0 if there is none. Sub-agents never set
    it. After a ``compact_boundary`` + ``isCompactSummary`` pair the context drops.
``models``
    Sorted distinct models (``<synthetic>`` excluded) of the messages counted in this session's TOKEN totals
    (ccusage's ``modelsUsed``). ``last_model`` is the model of the line that sets ``context_tokens``.
``first_ts`` / ``last_ts``
    Min/max top-level ``timestamp`` over every parsed line of the session's files (resumed copies keep
    their original, earlier timestamps). Format ``YYYY-MM-DDTHH:MM:SS.mmmZ``.
``skipped_lines``
    Garbage lines (non-JSON text, NUL runs, invalid UTF-8 bytes, a broken JSON line ending in a newline) and
    a truncated last line (half a JSON object, no newline, possibly cut inside a multi-byte character).

``tricky=False`` gives clean sessions: compact JSON, one line per assistant message, no sub-agents, no
sidechains, no resumes, no API errors, no compaction, no garbage.
"""

from __future__ import annotations

import json
import os
import random
import re
import uuid
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

__all__ = [
    "MODELS",
    "PROJECT_CWDS",
    "SessionTruth",
    "encode_cwd",
    "generate",
    "load_truth",
    "save_truth",
]

SONNET = "claude-sonnet-4-5-20250929"
OPUS = "claude-opus-4-5-20251101"
HAIKU = "claude-haiku-4-5-20251001"
MODELS: tuple[str, ...] = (SONNET, OPUS, HAIKU)
SYNTHETIC = "<synthetic>"
INTERRUPTED = "[Request interrupted by user]"
INTERRUPTED_TOOL = "[Request interrupted by user for tool use]"
REJECTED = (
    "The user doesn't want to proceed with this tool use. The tool use was rejected (eg. if it was a file "
    "edit, the new_string was NOT written to the file). STOP what you are doing and wait for the user to "
    "tell you how to proceed."
)
CAVEAT = (
    "<local-command-caveat>Caveat: The messages below were generated by the user while running local "
    "commands. DO NOT respond to these messages or otherwise consider them in your response unless the user "
    "explicitly asks you to.</local-command-caveat>"
)
COMPACT_PREFIX = (
    "This session is being continued from a previous conversation that ran out of context. The conversation "
    "is summarized below:\n"
)

PROJECT_CWDS: tuple[str, ...] = (
    "/home/dev/src/lsm",
    "/home/dev/src/web-app",
    "/home/dev/work/api_server",
    "/Users/alice/Projects/my.site",
    "/home/dev/src/data-pipeline",
    "/srv/repos/infra-terraform",
    "/home/dev/src/ml_experiments/v2",
    "/home/dev/My Notes",
    "/home/dev/src/rust-cli",
    "/home/dev/src/mobile.app",
    "/opt/work/monorepo/packages/ui",
    "/home/dev/src/docs-site",
)
_BRANCHES = ("main", "main", "main", "feature/login", "fix/parser-crash", "dev", "release/2.1")
_V1 = ("1.0.98", "1.0.110", "1.0.128")
_V2 = ("2.0.14", "2.0.28", "2.0.46", "2.0.55", "2.0.76")
_TOOLS = ("Bash", "Read", "Read", "Edit", "Grep", "Glob", "Write", "TodoWrite", "Bash")
_AGENT_TOOLS = ("Read", "Grep", "Glob", "Bash")
_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_BASE_MS = int((datetime(2025, 10, 1, 8, 0, tzinfo=timezone.utc) - _EPOCH).total_seconds() * 1000)
_PROMPTS = (
    "Fix the failing test in the parser module",
    "Can you explain how the cache invalidation works here?",
    "Add a --json flag to the export command",
    "Refactor this function, it is too long",
    "Why is the build slow? Profile it please",
    "Write unit tests for the date helpers",
    "Rename the config option and update the docs",
    "The CI is red again, have a look",
    "Implement pagination for the list endpoint",
    "Corrige le bug d'encodage dans l'export CSV (café, naïve)",
    "日本語のファイル名でクラッシュする問題を直して",
    "Bitte die Größe der Tabelle anpassen",
    "Review my last commit 🙂",
)
# Words for filler text: code, logs, quotes, backslashes, tabs and non-ASCII (written raw, like Claude Code).
_WORDS_TEXT = (
    "def return self value config parser token session cache import from class None True False for in if "
    "else await async print error path open read write json line count items result data file test assert "
    "raise ValueError lambda index len range dict list str int = == + -> ( ) [ ] { } : , # TODO fixme INFO "
    "WARN DEBUG ms 200 404 0.25 42 src/app.py tests/test_app.py 'quoted' \"dq\" back\\slash café naïve "
    "Größe données 日本語 测试 → ✓ 🙂"
)
_WORDS = [*_WORDS_TEXT.split(), "tab\tsep"]


def encode_cwd(cwd: str) -> str:
    """Project folder name Claude Code uses for a cwd: every char outside [A-Za-z0-9] becomes '-'."""
    return re.sub(r"[^A-Za-z0-9]", "-", cwd)


@dataclass
class SessionTruth:
    """What a correct reader must report for one session (see the module docstring for the rules)."""

    session_id: str
    project_dir: str
    cwd: str
    input: int = 0
    output: int = 0
    cache_creation: int = 0
    cache_read: int = 0
    user_prompts: int = 0
    assistant_messages: int = 0
    tool_errors: int = 0
    interruptions: int = 0
    compactions: int = 0
    api_errors: int = 0
    context_tokens: int = 0
    models: list[str] = field(default_factory=list)
    last_model: str = ""
    first_ts: str = ""
    last_ts: str = ""
    skipped_lines: int = 0
    # Extras, for tests and benchmarks.
    spaced: bool = False  # written with ", " / ": " separators (ccusage cannot read it)
    resumed_from: str | None = None  # session id whose first turns this file starts with
    custom_title: str | None = None  # last ``custom-title`` line, if any
    files: list[str] = field(default_factory=list)  # .jsonl paths relative to root, main file first
    bytes: int = 0  # bytes of the session's .jsonl files
    lines: int = 0  # lines written, garbage and the truncated line included

    @property
    def total(self) -> int:
        return self.input + self.output + self.cache_creation + self.cache_read


def save_truth(path: Path, truths: dict[str, SessionTruth], meta: dict[str, Any] | None = None) -> None:
    doc = {"meta": meta or {}, "sessions": [asdict(t) for t in truths.values()]}
    Path(path).write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")


def load_truth(path: Path) -> tuple[dict[str, SessionTruth], dict[str, Any]]:
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    names = {f.name for f in fields(SessionTruth)}
    truths = {}
    for row in doc["sessions"]:
        truth = SessionTruth(**{k: v for k, v in row.items() if k in names})
        truths[truth.session_id] = truth
    meta: dict[str, Any] = doc.get("meta", {})
    return truths, meta


# --------------------------------------------------------------------------------------------------------
# Text and ids


_POOL: list[str] = []


def _pool() -> str:
    if not _POOL:
        rng = random.Random(20251001)
        out: list[str] = []
        size = 0
        while size < 700_000:
            indent = " " * rng.choice((0, 0, 4, 8, 12))
            line = indent + " ".join(rng.choices(_WORDS, k=rng.randint(3, 14)))
            out.append(line)
            size += len(line) + 1
        _POOL.append("\n".join(out))
    return _POOL[0]


def _text(rng: random.Random, n: int) -> str:
    pool = _pool()
    n = max(1, n)
    if n >= len(pool):
        return (pool * (n // len(pool) + 1))[:n]
    start = rng.randrange(len(pool) - n)
    return pool[start : start + n]


class _Ids:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def b58(self, n: int) -> str:
        return "".join(self.rng.choices(_B58, k=n))

    def msg(self) -> str:
        return "msg_01" + self.b58(22)

    def req(self) -> str:
        return "req_011C" + self.b58(20)

    def tool(self) -> str:
        return "toolu_01" + self.b58(22)

    def agent(self) -> str:
        return f"a{self.rng.getrandbits(64):016x}"


def _iso(ms: int) -> str:
    sec, milli = divmod(ms, 1000)
    return (_EPOCH + timedelta(seconds=sec)).strftime("%Y-%m-%dT%H:%M:%S") + f".{milli:03d}Z"


def _dumps(obj: dict[str, Any], spaced: bool) -> bytes:
    if spaced:
        return json.dumps(obj, ensure_ascii=False).encode("utf-8")
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# --------------------------------------------------------------------------------------------------------
# Plan


@dataclass
class _Plan:
    index: int
    sid: str
    cwd: str
    model: str
    version: str
    branch: str
    start_ms: int
    budget: int | None  # bytes; None = fixed number of turns
    turns: int
    spaced: bool = False
    resume_source: int | None = None
    snapshot_turns: int = 0  # > 0: this session is copied by a later one after that many own turns
    subagents: bool = False
    inline_sidechain: bool = False
    btw: bool = False
    api_error_rate: float = 0.0
    garbage: int = 0
    truncated: bool = False
    summary: bool = False
    title: bool = False
    model_switch: bool = False
    compact_at: int = 10**9

    @property
    def project_dir(self) -> str:
        return encode_cwd(self.cwd)

    @property
    def main_rel(self) -> str:
        return f"projects/{self.project_dir}/{self.sid}.jsonl"


def _new_sid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _make_plans(sessions: int, seed: int, target_bytes: int | None, tricky: bool) -> list[_Plan]:
    rng = random.Random(f"claude-corpus-plan:{seed}")
    n_projects = max(2, min(len(PROJECT_CWDS), sessions // 6))
    cwds = list(PROJECT_CWDS[:n_projects])
    weights = [1.0 / (k + 1) for k in range(n_projects)]
    sizes = [rng.lognormvariate(0.0, 1.1) for _ in range(sessions)]
    total_w = sum(sizes) or 1.0
    plans: list[_Plan] = []
    ms = _BASE_MS
    for i in range(sessions):
        ms += rng.randint(60_000, 90 * 60_000)
        old = tricky and rng.random() < 0.12
        plan = _Plan(
            index=i,
            sid=_new_sid(rng),
            cwd=rng.choices(cwds, weights)[0],
            model=rng.choices(MODELS, (6, 3, 1))[0],
            version=rng.choice(_V1 if old else _V2),
            branch=rng.choice(_BRANCHES),
            start_ms=ms,
            budget=None if target_bytes is None else max(4_000, int(target_bytes * sizes[i] / total_w)),
            turns=rng.randint(2, 9),
            inline_sidechain=old and rng.random() < 0.7,
        )
        if tricky:
            _plan_tricks(rng, plan, plans)
        plans.append(plan)
    if tricky:
        _force_coverage(rng, plans)
    return plans


def _plan_tricks(rng: random.Random, plan: _Plan, earlier: list[_Plan]) -> None:
    plan.subagents = not plan.inline_sidechain and rng.random() < 0.35
    plan.btw = rng.random() < 0.08
    plan.api_error_rate = rng.choice((0.0, 0.0, 0.01, 0.03))
    plan.garbage = rng.choices((0, 1, 2), (88, 9, 3))[0]
    plan.truncated = rng.random() < 0.08
    plan.summary = rng.random() < 0.15
    plan.title = rng.random() < 0.2
    plan.model_switch = rng.random() < 0.15
    plan.compact_at = rng.randint(120_000, 165_000)
    candidates = [p for p in earlier[-60:] if p.cwd == plan.cwd and not p.spaced]
    if candidates and rng.random() < 0.1:
        _link_resume(rng, plan, rng.choice(candidates))
    elif rng.random() < 0.2:
        plan.spaced = True


def _link_resume(rng: random.Random, plan: _Plan, source: _Plan) -> None:
    plan.resume_source = source.index
    plan.spaced = False
    if source.snapshot_turns == 0:
        source.snapshot_turns = rng.randint(1, 3)
    source.turns = max(source.turns, source.snapshot_turns + 2)


def _force_coverage(rng: random.Random, plans: list[_Plan]) -> None:
    """Make sure even a small corpus holds every tricky feature, and both resume orders."""
    if len(plans) < 6:
        return
    p0, p1, p2, p3, p4, p5 = plans[:6]
    p0.subagents, p0.inline_sidechain, p0.compact_at, p0.api_error_rate = True, False, 22_000, 0.15
    p0.turns = max(p0.turns, 6)
    p0.spaced, p0.version = False, _V2[-1]
    p1.spaced, p1.garbage, p1.truncated, p1.resume_source = True, 4, True, None
    p1.snapshot_turns = 0
    p2.cwd, p2.btw, p2.title, p2.spaced, p2.truncated = p0.cwd, True, True, False, True
    _link_resume(rng, p2, p0)
    while not p2.sid < p0.sid:  # the resumed file sorts first: it takes the copies
        p2.sid = _new_sid(rng)
    p3.inline_sidechain, p3.subagents, p3.version, p3.summary, p3.title = True, False, _V1[0], True, True
    p3.garbage = 1
    p4.cwd, p4.spaced, p4.model_switch, p4.resume_source = p0.cwd, False, True, None
    _link_resume(rng, p4, p2)  # a resume of a resume
    while not p4.sid > p2.sid:  # the resumed file sorts last: the source keeps the copies
        p4.sid = _new_sid(rng)
    p5.subagents, p5.btw, p5.api_error_rate = True, True, 0.1
    for p in plans:  # the forced changes above must not break earlier links
        src = plans[p.resume_source] if p.resume_source is not None else None
        if src is not None and (src.spaced or src.cwd != p.cwd):
            p.resume_source = None


# --------------------------------------------------------------------------------------------------------
# Generation state


class _Out:
    """One .jsonl file being written."""

    def __init__(self, rel: str, spaced: bool, is_main: bool, agent_type: str = "general-purpose") -> None:
        self.rel = rel
        self.agent_type = agent_type
        self.spaced = spaced
        self.is_main = is_main
        self.chunks: list[bytes] = []
        self.size = 0
        self.lines = 0
        self.last_ms = 0

    def add(self, data: bytes) -> None:
        self.chunks.append(data)
        self.size += len(data)
        self.lines += 1


@dataclass
class _Chain:
    out: _Out
    sidechain: bool
    is_main: bool
    model: str
    parent: str | None = None
    ctx: int = 0
    pending: int = 0
    agent_id: str | None = None


@dataclass
class _Counts:
    user_prompts: int = 0
    tool_errors: int = 0
    interruptions: int = 0
    compactions: int = 0
    api_errors: int = 0
    assistant_messages: int = 0


_Key = tuple[str, str]
_Usage = tuple[int, int, int, int]  # input, output, cache_creation, cache_read
_Msg = tuple[_Key, _Usage, str]


@dataclass
class _Snapshot:
    sid: str
    records: list[dict[str, Any]]
    counts: _Counts
    msgs: list[_Msg]
    ctx: int
    pending: int
    parent: str | None
    last_ctx: int
    last_model: str
    end_ms: int


class _Ledger:
    """Global token ownership: who counts each message that appears in more than one file."""

    def __init__(self, plans: list[_Plan]) -> None:
        self.truths: dict[str, SessionTruth] = {}
        self.models: dict[str, Counter[str]] = {}
        self.owner: dict[_Key, str] = {}
        self.path = {p.sid: p.main_rel for p in plans}

    def add(self, sid: str, usage: _Usage, model: str, sign: int = 1) -> None:
        t = self.truths[sid]
        t.input += sign * usage[0]
        t.output += sign * usage[1]
        t.cache_creation += sign * usage[2]
        t.cache_read += sign * usage[3]
        if model != SYNTHETIC:
            self.models[sid][model] += sign

    def copied(self, msg: _Msg, source_sid: str, new_sid: str) -> None:
        key, usage, model = msg
        owner = self.owner.get(key, source_sid)
        if self.path[new_sid] < self.path[owner]:
            self.add(owner, usage, model, -1)
            self.add(new_sid, usage, model)
            owner = new_sid
        self.owner[key] = owner

    def finish(self) -> None:
        for sid, truth in self.truths.items():
            truth.models = sorted(m for m, c in self.models[sid].items() if c > 0)


class _Session:
    """Builds one session (main file + sub-agent files) and its truth."""

    def __init__(
        self,
        root: Path,
        plan: _Plan,
        seed: int,
        tricky: bool,
        ledger: _Ledger,
        source: _Snapshot | None,
    ) -> None:
        self.root = root
        self.plan = plan
        self.tricky = tricky
        self.ledger = ledger
        self.source = source
        self.rng = random.Random(f"claude-corpus-session:{seed}:{plan.index}")
        self.ids = _Ids(self.rng)
        self.ms = plan.start_ms
        self.model = plan.model
        self.main_out = _Out(plan.main_rel, plan.spaced, True)
        self.subs: list[_Out] = []
        self.main = _Chain(self.main_out, False, True, plan.model)
        self.main_counts = _Counts()
        self.sub_counts = _Counts()
        self.main_msgs: list[_Msg] = []
        self.records: list[dict[str, Any]] | None = [] if plan.snapshot_turns else None
        self.snapshot: _Snapshot | None = None
        self.last_ctx = 0
        self.last_model = ""
        self.recent: list[tuple[_Key, _Usage, int]] = []  # recent main-chain messages, for /btw replays
        self.first_ms: int | None = None
        self.last_ms: int | None = None
        self.skipped = 0
        self.truth = SessionTruth(
            session_id=plan.sid,
            project_dir=plan.project_dir,
            cwd=plan.cwd,
            spaced=plan.spaced,
            resumed_from=source.sid if source else None,
        )
        ledger.truths[plan.sid] = self.truth
        ledger.models[plan.sid] = Counter()

    # ---- low level -------------------------------------------------------------------------------------

    def tick(self, lo_ms: int, hi_ms: int) -> str:
        self.ms += self.rng.randint(lo_ms, hi_ms)
        return _iso(self.ms)

    def emit(self, obj: dict[str, Any], out: _Out, ms: int | None = None) -> None:
        out.add(_dumps(obj, out.spaced) + b"\n")
        stamp = ms if ms is not None else (self.ms if "timestamp" in obj else None)
        if stamp is not None:
            self.first_ms = stamp if self.first_ms is None else min(self.first_ms, stamp)
            self.last_ms = stamp if self.last_ms is None else max(self.last_ms, stamp)
            out.last_ms = stamp
        recording = out.is_main and self.records is not None and self.snapshot is None
        if recording and obj.get("type") not in ("summary", "custom-title"):
            assert self.records is not None
            self.records.append(obj)

    def counts(self, chain: _Chain) -> _Counts:
        return self.main_counts if chain.out.is_main else self.sub_counts

    def base(
        self, chain: _Chain, kind: str, lo_ms: int = 200, hi_ms: int = 8_000, at_ms: int | None = None
    ) -> dict[str, Any]:
        ts = self.tick(lo_ms, hi_ms) if at_ms is None else _iso(at_ms)
        obj: dict[str, Any] = {
            "parentUuid": chain.parent,
            "isSidechain": chain.sidechain,
            "userType": "external",
            "cwd": self.plan.cwd,
            "sessionId": self.plan.sid,
            "version": self.plan.version,
            "gitBranch": self.plan.branch,
        }
        if chain.agent_id:
            obj["agentId"] = chain.agent_id
        obj["type"] = kind
        obj["uuid"] = self.ids.uuid()
        obj["timestamp"] = ts
        chain.parent = obj["uuid"]
        return obj

    def user(self, chain: _Chain, content: Any, lo_ms: int = 200, hi_ms: int = 8_000, **extra: Any) -> None:
        obj = self.base(chain, "user", lo_ms, hi_ms)
        obj["message"] = {"role": "user", "content": content}
        obj.update(extra)
        # keep the real key order: message before uuid/timestamp
        for k in ("uuid", "timestamp"):
            obj[k] = obj.pop(k)
        self.emit(obj, chain.out)

    def out_size(self) -> int:
        rng = self.rng
        if self.plan.budget is None:
            return rng.randint(80, 1_500)
        roll = rng.random()  # mostly small outputs, a few big ones (file reads, test logs)
        if roll < 0.7:
            return rng.randint(40, 800)
        if roll < 0.93:
            return rng.randint(800, 4_000)
        return rng.randint(4_000, 24_000)

    # ---- assistant messages --------------------------------------------------------------------------

    def prompt_usage(self, chain: _Chain) -> tuple[int, int, int]:
        rng = self.rng
        added = chain.pending + rng.randint(5, 80)
        if chain.ctx == 0:
            system = rng.randint(9_000, 18_000)
            cr = system if rng.random() < 0.6 else 0
            cc = system - cr + added
        elif self.tricky and rng.random() < 0.06:  # cache expired
            cr, cc = 0, chain.ctx + added
        else:
            cr, cc = chain.ctx, added
        inp = rng.randint(1, 12) if rng.random() < 0.97 else rng.randint(200, 5_000)
        chain.pending = 0
        return inp, cc, cr

    def blocks(self, tools: list[str], final: bool) -> list[dict[str, Any]]:
        rng = self.rng
        blocks: list[dict[str, Any]] = []
        if rng.random() < 0.3 and len(tools) < 2:
            blocks.append(
                {
                    "type": "thinking",
                    "thinking": _text(rng, rng.randint(50, 900)),
                    "signature": "Eu" + self.ids.b58(rng.randint(60, 300)),
                }
            )
        if not tools or rng.random() < 0.7 or final:
            blocks.append(
                {
                    "type": "text",
                    "text": _text(
                        rng, rng.randint(20, 400) if rng.random() < 0.7 else rng.randint(400, 2_000)
                    ),
                }
            )
        for name in tools[: 3 - len(blocks)]:
            tool_use = {
                "type": "tool_use",
                "id": self.ids.tool(),
                "name": name,
                "input": self.tool_input(name),
            }
            blocks.append(tool_use)
        return blocks

    def assistant(self, chain: _Chain, tools: list[str], final: bool = False) -> list[dict[str, Any]]:
        """One API response: 1-3 lines (one content block each when tricky). Returns its tool_use blocks."""
        rng = self.rng
        blocks = self.blocks(tools, final)
        inp, cc, cr = self.prompt_usage(chain)
        out = rng.randint(20, 1_800)
        groups = [[b] for b in blocks] if self.tricky else [blocks]
        if rng.random() < 0.6:  # earlier streaming lines report fewer output tokens
            outs = sorted(rng.randint(1, out) for _ in groups[:-1])
        else:
            outs = [out] * (len(groups) - 1)
        outs.append(out)
        key = (self.ids.msg(), self.ids.req())
        one_hour = self.model == OPUS and rng.random() < 0.5
        kept_ms = 0  # timestamp of the line a dedup keeps: the first one with the largest total
        for i, group in enumerate(groups):
            last = i == len(groups) - 1
            stop = ("tool_use" if group[-1]["type"] == "tool_use" else "end_turn") if last else None
            stamp = self.assistant_line(chain, key, group, (inp, outs[i], cc, cr), stop, one_hour)
            if not kept_ms and outs[i] == out:
                kept_ms = stamp
        self.count_message(chain, key, (inp, out, cc, cr))
        if chain.is_main:
            self.recent.append((key, (inp, out, cc, cr), kept_ms))
            del self.recent[:-8]
        return [b for b in blocks if b["type"] == "tool_use"]

    def assistant_line(
        self,
        chain: _Chain,
        key: _Key,
        content: list[dict[str, Any]],
        usage: _Usage,
        stop: str | None,
        one_hour: bool,
        at_ms: int | None = None,
    ) -> int:
        """Writes one assistant line; returns its timestamp (ms)."""
        obj = self.base(chain, "assistant", 400, 25_000, at_ms)
        inp, out, cc, cr = usage
        obj["message"] = {
            "model": chain.model,
            "id": key[0],
            "type": "message",
            "role": "assistant",
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {
                "input_tokens": inp,
                "cache_creation_input_tokens": cc,
                "cache_read_input_tokens": cr,
                "cache_creation": {
                    "ephemeral_5m_input_tokens": 0 if one_hour else cc,
                    "ephemeral_1h_input_tokens": cc if one_hour else 0,
                },
                "output_tokens": out,
                "service_tier": "standard",
            },
        }
        obj["requestId"] = key[1]
        for k in ("type", "uuid", "timestamp"):
            obj[k] = obj.pop(k)
        stamp = self.ms if at_ms is None else at_ms
        self.emit(obj, chain.out, stamp)
        return stamp

    def count_message(self, chain: _Chain, key: _Key, usage: _Usage) -> None:
        self.ledger.add(self.plan.sid, usage, chain.model)
        self.counts(chain).assistant_messages += 1
        if chain.out.is_main:
            self.main_msgs.append((key, usage, chain.model))
        chain.ctx = usage[0] + usage[2] + usage[3]
        chain.pending = usage[1]
        if chain.is_main:
            self.last_ctx = chain.ctx
            self.last_model = chain.model

    # ---- tools ---------------------------------------------------------------------------------------

    def tool_input(self, name: str) -> dict[str, Any]:
        rng = self.rng
        path = f"{self.plan.cwd}/src/{rng.choice(('app', 'parser', 'cli', 'db', 'utils'))}.py"
        if name == "Bash":
            cmd = rng.choice(("pytest -q", "git status", "ls -la", "make build", "npm test", "rg TODO"))
            return {"command": cmd, "description": "Run " + cmd.split()[0]}
        if name in ("Read", "Write"):
            return {"file_path": path} if name == "Read" else {"file_path": path, "content": _text(rng, 600)}
        if name == "Edit":
            return {"file_path": path, "old_string": _text(rng, 120), "new_string": _text(rng, 160)}
        if name in ("Grep", "Glob"):
            return {"pattern": rng.choice(("TODO", "def main", "**/*.py")), "path": self.plan.cwd}
        if name == "Task":
            prompt = "Search the repository and report: " + _text(rng, 200)
            return {"description": "Explore the code", "prompt": prompt, "subagent_type": "general-purpose"}
        todo = {"content": "Fix the bug", "status": "in_progress", "activeForm": "Fixing the bug"}
        return {"todos": [todo]}

    def tool_output(self, name: str, tool_input: dict[str, Any]) -> tuple[Any, Any]:
        rng = self.rng
        text = _text(rng, self.out_size())
        if name == "Bash":
            return text, {"stdout": text, "stderr": "", "interrupted": False, "isImage": False}
        if name == "Read":
            numbered = "\n".join(f"{i + 1:6d}→{ln}" for i, ln in enumerate(text.split("\n")))
            n = numbered.count("\n") + 1
            file = {"filePath": tool_input["file_path"], "content": text, "numLines": n, "startLine": 1}
            return numbered, {"type": "text", "file": {**file, "totalLines": n}}
        if name == "Edit":
            msg = f"The file {tool_input['file_path']} has been updated. Here's the result:\n" + text[:2_000]
            return msg, {"filePath": tool_input["file_path"], "originalFile": text, "userModified": False}
        if name in ("Grep", "Glob"):
            files = [f"src/m{rng.randint(0, 999)}.py" for _ in range(rng.randint(1, 40))]
            return "\n".join(files), {"filenames": files, "numFiles": len(files), "truncated": False}
        if name == "Write":
            return f"File created successfully at: {tool_input['file_path']}", {"type": "create"}
        return "Todos have been modified successfully.", {"oldTodos": [], "newTodos": tool_input["todos"]}

    def tool_result(self, chain: _Chain, tool_use: dict[str, Any], status: str, sub: Any = None) -> None:
        """status: ok | error | rejected | task."""
        rng = self.rng
        block: dict[str, Any] = {"tool_use_id": tool_use["id"], "type": "tool_result"}
        if status == "rejected":
            content, result = REJECTED, "User rejected tool use"
        elif status == "error":
            content = "Exit code 1\n" + _text(rng, rng.randint(100, 1_500))
            result = "Error: " + content
        elif status == "task":
            content, result = sub
        else:
            content, result = self.tool_output(tool_use["name"], tool_use["input"])
        block["content"] = content
        if status in ("rejected", "error"):
            block["is_error"] = True
            self.counts(chain).tool_errors += 1
        elif rng.random() < 0.5:
            block["is_error"] = False
        extra: dict[str, Any] = {"toolUseResult": result}
        if chain.parent:
            extra["sourceToolAssistantUUID"] = chain.parent
        self.user(chain, [block], 50, 20_000, **extra)
        chain.pending += len(str(content)) // 4 + 10

    def run_tools(self, chain: _Chain, tool_uses: list[dict[str, Any]]) -> bool:
        """Tool results for one response. True when the user interrupted (the turn ends)."""
        rng = self.rng
        for tool_use in tool_uses:
            if tool_use["name"] == "Task":
                self.tool_result(chain, tool_use, "task", self.subagent(tool_use["input"]["prompt"]))
                continue
            roll = rng.random() if self.tricky else 1.0
            if roll < 0.03 and chain.is_main:
                self.tool_result(chain, tool_use, "rejected")
                self.interrupt(chain, INTERRUPTED_TOOL)
                return True
            self.tool_result(chain, tool_use, "error" if roll < 0.11 else "ok")
        return False

    def interrupt(self, chain: _Chain, text: str) -> None:
        self.user(chain, [{"type": "text", "text": text}], 500, 30_000)
        self.counts(chain).interruptions += 1

    def pick_tools(self, chain: _Chain, step: int, steps: int) -> list[str]:
        rng = self.rng
        if step == steps - 1:
            return []
        if chain.is_main and (self.plan.subagents or self.plan.inline_sidechain) and rng.random() < 0.2:
            return ["Task"]
        pool = _TOOLS if chain.is_main else _AGENT_TOOLS
        return rng.sample(pool, k=1 if rng.random() < 0.75 else 2)

    # ---- sub-agents ----------------------------------------------------------------------------------

    def subagent(self, prompt: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        rng = self.rng
        model = rng.choice((HAIKU, self.model))
        if self.plan.inline_sidechain:
            chain = _Chain(self.main_out, True, False, model)
        else:
            agent_id = self.ids.agent()
            rel = f"projects/{self.plan.project_dir}/{self.plan.sid}/subagents/agent-{agent_id}.jsonl"
            out = _Out(rel, self.plan.spaced, False)
            self.subs.append(out)
            chain = _Chain(out, True, False, model, agent_id=agent_id)
        self.user(chain, prompt, 100, 2_000)
        steps = rng.randint(2, 5)
        before = (self.truth.input, self.truth.output, self.truth.cache_creation, self.truth.cache_read)
        for step in range(steps):
            tool_uses = self.assistant(chain, self.pick_tools(chain, step, steps), final=step == steps - 1)
            self.run_tools(chain, tool_uses)
        text = _text(rng, rng.randint(200, 2_000))
        t = self.truth
        usage = {
            "input_tokens": t.input - before[0],
            "cache_creation_input_tokens": t.cache_creation - before[2],
            "cache_read_input_tokens": t.cache_read - before[3],
            "output_tokens": t.output - before[1],
            "service_tier": "standard",
        }
        result = {
            "status": "completed",
            "prompt": prompt,
            "agentId": chain.agent_id or "",
            "content": [{"type": "text", "text": text}],
            "totalDurationMs": rng.randint(5_000, 200_000),
            "totalTokens": sum(v for v in usage.values() if isinstance(v, int)),
            "totalToolUseCount": steps - 1,
            "usage": usage,
        }
        return [{"type": "text", "text": text}], result

    # ---- session structure ---------------------------------------------------------------------------

    def api_failure(self, chain: _Chain) -> bool:
        """Retries logged as system api_error lines; True when the call finally failed (turn ends)."""
        rng = self.rng
        if not self.tricky or rng.random() >= self.plan.api_error_rate:
            return False
        for attempt in range(1, rng.randint(1, 3) + 1):
            obj = self.base(chain, "system", 500, 15_000)
            obj.update(
                subtype="api_error",
                level="error",
                error={"status": 529, "headers": {}, "type": "overloaded_error", "message": "Overloaded"},
                retryInMs=500 * 2**attempt,
                retryAttempt=attempt,
                maxRetries=10,
            )
            self.emit(obj, chain.out)
            self.counts(chain).api_errors += 1
        if rng.random() < 0.5:
            return False
        obj = self.base(chain, "assistant", 500, 5_000)
        text = 'API Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
        zero = {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0}
        obj["message"] = {
            "id": self.ids.uuid(),
            "model": SYNTHETIC,
            "role": "assistant",
            "stop_reason": "stop_sequence",
            "stop_sequence": "",
            "type": "message",
            "usage": {**zero, "cache_read_input_tokens": 0, "server_tool_use": {"web_search_requests": 0}},
            "content": [{"type": "text", "text": text}],
        }
        obj["isApiErrorMessage"] = True
        self.emit(obj, chain.out)
        self.counts(chain).api_errors += 1
        return True

    def turn(self) -> None:
        rng, main = self.rng, self.main
        if rng.random() < 0.5:
            snap = {"messageId": self.ids.uuid(), "trackedFileBackups": {}, "timestamp": _iso(self.ms)}
            self.emit(
                {
                    "type": "file-history-snapshot",
                    "messageId": snap["messageId"],
                    "snapshot": snap,
                    "isSnapshotUpdate": False,
                },
                self.main_out,
            )
        if self.tricky and rng.random() < 0.1:
            self.user(main, CAVEAT, 1_000, 60_000, isMeta=True)
        prompt = rng.choice(_PROMPTS)
        if rng.random() < 0.5:
            prompt += "\n" + _text(rng, rng.randint(10, 600))
        content: Any = prompt if rng.random() < 0.7 else [{"type": "text", "text": prompt}]
        self.user(main, content, 5_000, 600_000)
        self.main_counts.user_prompts += 1
        main.pending += len(prompt) // 4
        steps = rng.randint(1, 6)
        for step in range(steps):
            if self.api_failure(main):
                return
            tool_uses = self.assistant(main, self.pick_tools(main, step, steps), final=step == steps - 1)
            if not tool_uses:
                if self.tricky and rng.random() < 0.05:
                    self.interrupt(main, INTERRUPTED)
                    return
                break
            if self.run_tools(main, tool_uses):
                return

    def compact(self) -> None:
        main = self.main
        obj = self.base(main, "system", 1_000, 30_000)
        obj["parentUuid"] = None
        obj["logicalParentUuid"] = main.parent
        obj.update(
            subtype="compact_boundary",
            content="Conversation compacted",
            isMeta=False,
            level="info",
            compactMetadata={"trigger": "auto", "preTokens": main.ctx},
        )
        self.emit(obj, self.main_out)
        self.main_counts.compactions += 1
        summary = COMPACT_PREFIX + _text(self.rng, self.rng.randint(2_000, 8_000))
        self.user(main, summary, 5_000, 60_000, isVisibleInTranscriptOnly=True, isCompactSummary=True)
        main.ctx = 0
        main.pending = len(summary) // 4

    def btw(self) -> None:
        """A /btw side question, as Claude Code writes it (ccusage #913): ``subagents/agent-aside_question-*``
        holds sidechain replays of recent main-chain messages (same message.id, NEW requestId, the SAME
        timestamp as the parent's counted line, everything cached), then the question and its answer."""
        if not self.recent:
            return
        rng = self.rng
        hex_id = f"{rng.getrandbits(64):016x}"
        rel = (
            f"projects/{self.plan.project_dir}/{self.plan.sid}/subagents/agent-aside_question-{hex_id}.jsonl"
        )
        out = _Out(rel, self.plan.spaced, False, "aside_question")
        self.subs.append(out)
        side = _Chain(out, True, False, self.model, agent_id=f"aside_question-{hex_id}")
        for key, (inp, outp, cc, cr), kept_ms in self.recent[-rng.randint(1, 4) :]:
            text = [{"type": "text", "text": _text(rng, 200)}]
            usage = (inp, outp, 0, inp + cc + cr)
            self.assistant_line(side, (key[0], self.ids.req()), text, usage, "end_turn", False, kept_ms)
        self.user(side, "/btw what does this function return?", 1_000, 20_000)
        self.assistant(side, [], final=True)

    def garbage(self) -> None:
        rng = self.rng
        kind = (self.plan.index + self.skipped) % 4
        if kind == 0:
            data = b"\x00" * rng.randint(20, 400)
        elif kind == 1:
            data = b"this is not json <<<<<<< HEAD"
        elif kind == 2:
            data = b'{"type":"assistant","message":{"id":"msg_01broken","usage":{"input_tokens":5'
        else:
            data = b"\xff\xfe\xfa garbage \xc3\x28 bytes"
        self.main_out.add(data + b"\n")
        self.skipped += 1

    def truncated(self) -> None:
        rng = self.rng
        obj = self.base(_Chain(self.main_out, False, True, self.model, parent=self.main.parent), "user")
        text = "Continue with the café migration 日本語 " + _text(rng, 800)
        obj["message"] = {"role": "user", "content": text}
        data = _dumps(obj, self.plan.spaced)
        self.main_out.add(data[: rng.randint(len(data) // 4, len(data) * 3 // 4)])
        self.skipped += 1

    def start(self) -> None:
        plan, rng = self.plan, self.rng
        if plan.summary:
            for _ in range(rng.randint(1, 2)):
                summary = {"type": "summary", "summary": "Fix " + _text(rng, 40), "leafUuid": self.ids.uuid()}
                self.emit(summary, self.main_out)
        if self.source is not None:
            self.copy_source(self.source)

    def copy_source(self, snap: _Snapshot) -> None:
        for record in snap.records:
            obj = dict(record)
            if "sessionId" in obj:
                obj["sessionId"] = self.plan.sid
            stamp = obj.get("timestamp")
            self.emit(obj, self.main_out, _parse_iso_ms(stamp) if isinstance(stamp, str) else None)
        for msg in snap.msgs:
            self.ledger.copied(msg, snap.sid, self.plan.sid)
            self.main_msgs.append(msg)
        c = snap.counts
        self.main_counts = _Counts(**asdict(c))
        self.main.ctx, self.main.pending, self.main.parent = snap.ctx, snap.pending, snap.parent
        self.last_ctx, self.last_model = snap.last_ctx, snap.last_model
        self.ms = max(self.ms, snap.end_ms + self.rng.randint(600_000, 3 * 86_400_000))

    def take_snapshot(self) -> None:
        assert self.records is not None
        self.snapshot = _Snapshot(
            sid=self.plan.sid,
            records=self.records,
            counts=_Counts(**asdict(self.main_counts)),
            msgs=list(self.main_msgs),
            ctx=self.main.ctx,
            pending=self.main.pending,
            parent=self.main.parent,
            last_ctx=self.last_ctx,
            last_model=self.last_model,
            end_ms=self.ms,
        )

    def done(self, turns: int) -> bool:
        plan = self.plan
        min_turns = max(plan.snapshot_turns + 2, 1)
        if turns < min_turns:
            return False
        if plan.budget is None:
            return turns >= plan.turns
        size = self.main_out.size + sum(o.size for o in self.subs)
        return size >= plan.budget or turns >= 20_000

    def after_turn(self, turns: int) -> None:
        plan, rng = self.plan, self.rng
        if turns == self.plan.snapshot_turns:
            self.take_snapshot()
        if self.tricky and self.main.ctx > plan.compact_at:
            self.compact()
        if plan.title and turns == 1:
            self.truth.custom_title = "Work on " + rng.choice(_PROMPTS)[:30]
            self.emit(
                {"type": "custom-title", "customTitle": self.truth.custom_title, "sessionId": plan.sid},
                self.main_out,
            )
        if plan.btw and turns in (1, 3):
            self.btw()
        if plan.garbage and rng.random() < 0.4:
            plan.garbage -= 1
            self.garbage()
        if plan.model_switch and turns == 2:
            self.model = self.main.model = OPUS if self.model != OPUS else SONNET

    def run(self) -> None:
        self.start()
        turns = 0
        while not self.done(turns):
            self.turn()
            turns += 1
            self.after_turn(turns)
        while self.plan.garbage > 0:
            self.plan.garbage -= 1
            self.garbage()
        if self.plan.truncated:
            self.truncated()
        self.finish()

    def finish(self) -> None:
        t = self.truth
        for name, value in asdict(self.main_counts).items():
            setattr(t, name, value + getattr(self.sub_counts, name))
        t.user_prompts = self.main_counts.user_prompts
        t.context_tokens = self.last_ctx
        t.last_model = self.last_model
        t.first_ts = _iso(self.first_ms) if self.first_ms is not None else ""
        t.last_ts = _iso(self.last_ms) if self.last_ms is not None else ""
        t.skipped_lines = self.skipped
        outs = [self.main_out, *self.subs]
        t.files = [o.rel for o in outs]
        t.bytes = sum(o.size for o in outs)
        t.lines = sum(o.lines for o in outs)
        for out in outs:
            path = self.root / out.rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"".join(out.chunks))
            if out.last_ms:
                os.utime(path, (out.last_ms / 1000, out.last_ms / 1000))
            if not out.is_main:
                meta = path.with_name(path.name[: -len(".jsonl")] + ".meta.json")
                meta.write_text(json.dumps({"agentType": out.agent_type}, separators=(",", ":")), "utf-8")
            out.chunks = []


def _parse_iso_ms(stamp: str) -> int:
    dt = datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S").replace(tzinfo=timezone.utc)
    return int((dt - _EPOCH).total_seconds()) * 1000 + int(stamp[20:23])


def generate(
    root: Path,
    *,
    sessions: int,
    seed: int = 0,
    target_bytes: int | None = None,
    tricky: bool = True,
) -> dict[str, SessionTruth]:
    """Write ``sessions`` Claude Code sessions under ``root/projects`` and return their truth by session id.

    ``target_bytes``: total size to reach (at least); sessions get log-normally distributed shares of it
    and grow turn by turn until they reach their share. Without it each session has 2-9 turns.
    The output depends only on (sessions, seed, target_bytes, tricky).
    """
    root = Path(root)
    projects = root / "projects"
    if projects.is_dir() and any(projects.iterdir()):
        raise FileExistsError(f"{projects} is not empty")
    projects.mkdir(parents=True, exist_ok=True)
    plans = _make_plans(sessions, seed, target_bytes, tricky)
    ledger = _Ledger(plans)
    snapshots: dict[int, _Snapshot] = {}
    for plan in plans:
        source = snapshots.get(plan.resume_source) if plan.resume_source is not None else None
        builder = _Session(root, plan, seed, tricky, ledger, source)
        builder.run()
        if builder.snapshot is not None:
            snapshots[plan.index] = builder.snapshot
    ledger.finish()
    return dict(ledger.truths)
