"""Aider chat histories: ``.aider.chat.history.md`` in each repository aider ran in.

The file is markdown that aider only ever appends to, and one file holds many sessions:

- ``# aider chat started at 2024-08-05 19:33:32`` starts a session (the machine's local time when aider
  started; aider writes no zone). Every later line belongs to that session until the next header.
- Lines aider writes itself end with two spaces (a markdown line break): ``#### <text>  `` is one line
  of user input (consecutive ones are one message), ``> <text>  `` is aider's own output (tool output).
  Assistant replies are written verbatim, without a prefix or the two spaces, so a reply that happens
  to contain ``#### Step 1`` or ``> Tokens:`` is not mistaken for aider's own lines.
- ``> Tokens: 5,244 sent, 604 received. Cost: $0.02 request, $0.02 session.`` closes each reply. Newer
  versions abbreviate (``1.9k``, ``12k``) and add cache figures:
  ``> Tokens: 3.2k sent, 2.5k cache write, 344 received. Cost: $0.02 message, $0.02 session.``
  With both a cache write and a cache hit the cost goes on a second line, and only that one ends with
  the two spaces: ``> Tokens: 1.5k sent, 61 cache write, 313 cache hit, 27 received.`` then
  ``Cost: $0.0034 message, $0.0034 session.  ``. The session figure is aider's own running total for
  the run (kept as the session's ``agent_cost_usd``).
- ``/ask q`` (and ``/code``, ``/architect``, ``/context``) is logged as ``#### /ask q`` and then, when
  aider sends it, again as ``#### q``: one prompt.
- ``> Model: gpt-4o-mini with whole edit format`` / ``> Models: X with diff edit format, weak model Y``
  / ``> Main model: X with …`` announce the main model (again after ``/model``).

Reading is incremental: a ``FileState`` keeps the byte offset after the last complete line and every
session parsed so far; the last (open) session continues across appends. A session's native id is a
short hash of the file path and its header's timestamp, so it stays the same as the file grows.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict, cast

from llm_session_manager.agents.base import AgentInfo, AgentSignature, FileState, Turn
from llm_session_manager.agents.common import (
    amount,
    count,
    file_identity,
    open_regular,
    scandir,
    title_from,
)
from llm_session_manager.agents.jsonl import LINE_ERRORS
from llm_session_manager.digest import blake2b
from llm_session_manager.paths import Paths

if TYPE_CHECKING:
    from llm_session_manager.models import Session

AGENT = "aider"
HISTORY_FILE = ".aider.chat.history.md"
ROOTS_ENV = "LSM_AIDER_ROOTS"
DEFAULT_SEARCH_ROOTS: tuple[str, ...] = ("~",)
DEFAULT_MAX_DEPTH = 3
# At most this many directories are listed per scan (breadth first, so the deepest are cut first).
MAX_DIRS = 5000
HEAD_BYTES = 256
# Folders never searched for histories: hidden ones (".*") and these.
SKIP_DIRS = frozenset(
    {
        "node_modules",
        "__pycache__",
        "site-packages",
        "venv",
        "Library",
        "Applications",
        "Pictures",
        "Movies",
        "Music",
        "snap",
        "AppData",
    }
)
# Slash commands whose text is a prompt to the model.
PROMPT_COMMANDS = frozenset({"/ask", "/code", "/architect", "/context", "/help"})
CLEAR_COMMANDS = frozenset({"/clear", "/reset"})

_HEADER = re.compile(r"# aider chat started at (\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2})\s*$")
_MODEL = re.compile(r"> (?:Main model|Models?): (\S+)")
_USAGE_PART = re.compile(r"(\d[\d,]*(?:\.\d+)?)([kKmM]?) (sent|received|cache write|cache hit|cache read)s?")
_API_ERROR = re.compile(
    r"> (?:Unexpected error: |(?:litellm|openai|anthropic)\.[A-Za-z]*(?:Error|Exception))"
)
_COST = re.compile(r"Cost: \$(\d[\d.]*) (?:message|request), \$(\d[\d.]*) session")
# The second line of a two-line usage report (see the module docstring).
_COST_LINE = re.compile(r"Cost: \$\d[\d.]* (?:message|request), \$\d[\d.]* session\.\s*$")
_TOOL_ERROR = re.compile(
    r"> (?:The LLM did not conform to the edit format|# \d+ SEARCH/REPLACE blocks? failed)"
)

# Index positions in a per-model usage row: [input, output, cache_creation, cache_read]
U_IN, U_OUT, U_CC, U_CR = range(4)


# ---------------------------------------------------------------------------------------------------
# Parsing the usage line


def parse_count(number: str, suffix: str) -> tuple[int, bool]:
    """``"5,244"`` -> (5244, exact); ``"1.9k"`` -> (1900, rounded); ``"1.2M"`` -> (1200000, rounded)."""
    value = float(number.replace(",", ""))
    if suffix in ("k", "K"):
        return round(value * 1_000), False
    if suffix in ("m", "M"):
        return round(value * 1_000_000), False
    return round(value), "." not in number


def split_sent(sent: int, write: int, hit: int) -> int:
    """The uncached input inside aider's "sent" figure.

    aider prints ``sent = prompt_tokens (+ cache write when the usage has Anthropic cache fields)`` and
    the cache write and hit separately. What ``prompt_tokens`` holds depends on the litellm version:
    everything (cache write and read included; current litellm, and OpenAI/DeepSeek), uncached plus
    cache read (some 2024 versions) or uncached only. The first reading that leaves a non-negative
    remainder is used, newest first.
    """
    for uncached in (sent - 2 * write - hit, sent - write - hit, sent - write):
        if uncached >= 0:
            return uncached
    return 0


def parse_usage(text: str) -> tuple[list[int], bool] | None:
    """``[input, output, cache_creation, cache_read]`` and whether every figure was written in full,
    from the text after ``> Tokens: ``; None when it holds no sent/received figure."""
    body = text.split(". Cost:", 1)[0].split("Cost: $", 1)[0]
    found: dict[str, int] = {}
    exact = True
    for part in body.split(", "):
        match = _USAGE_PART.match(part.strip().rstrip("."))
        if match is None:
            continue
        value, full = parse_count(match.group(1), match.group(2))
        label = "cache hit" if match.group(3) == "cache read" else match.group(3)
        found[label] = found.get(label, 0) + value
        exact = exact and full
    if "sent" not in found and "received" not in found:
        return None
    write, hit = found.get("cache write", 0), found.get("cache hit", 0)
    return [split_sent(found.get("sent", 0), write, hit), found.get("received", 0), write, hit], exact


# ---------------------------------------------------------------------------------------------------
# Folding lines into sessions


class AiderSession(TypedDict):
    """One ``# aider chat started at`` section of a history file; see ``new_session``."""

    key: str
    start: str | None
    line: int
    model: str | None
    usage: dict[str, list[int]]
    replies: int
    rounded: bool
    blocks: int
    prompts: int
    since_clear: int
    title: str | None
    block_open: bool
    ctx: int | None
    peak: int
    tool_calls: int
    tool_errors: int
    api_errors: int
    interruptions: int
    skipped: int
    agent_cost: float | None
    echo: str | None


class AiderData(TypedDict):
    """What is kept of one history file between reads (``FileState.data``); see ``new_data``."""

    sessions: list[AiderSession]
    seen: dict[str, int]
    lines: int
    in_user: bool
    skipped: int
    tail_partial: bool
    mtime_ns: int
    usage_head: str | None


def new_data() -> AiderData:
    return {
        "sessions": [],
        "seen": {},  # header timestamp -> how many sessions started at that second so far
        "lines": 0,  # lines consumed (header line numbers are 1-based positions)
        "in_user": False,  # the previous line was user input (consecutive lines are one message)
        "skipped": 0,
        "tail_partial": False,
        "mtime_ns": 0,
        "usage_head": None,  # "> Tokens: …" waiting for its "Cost: …" line
    }


def new_session(key: str, start: str | None, line: int) -> AiderSession:
    return {
        "key": key,  # header timestamp (+ "#n" for a repeated second); "" for text before any header
        "start": start,  # local time as written, "YYYY-MM-DD HH:MM:SS"
        "line": line,
        "model": None,  # main model announced last
        "usage": {},  # model -> [input, output, cache_creation, cache_read]
        "replies": 0,  # usage lines
        "rounded": False,  # some figure was abbreviated ("1.9k")
        "blocks": 0,  # user inputs, commands included
        "prompts": 0,  # user inputs sent to the model
        "since_clear": 0,
        "title": None,
        "block_open": False,  # the current input block has not shown its first text yet
        "ctx": None,
        "peak": 0,
        "tool_calls": 0,
        "tool_errors": 0,
        "api_errors": 0,
        "interruptions": 0,
        "skipped": 0,
        "agent_cost": None,  # aider's own "$y session" figure, the last one
        "echo": None,  # the text of a /ask-like command, which aider logs again as the prompt it sends
    }


def _current(data: AiderData) -> AiderSession:
    sessions = data["sessions"]
    if not sessions:
        sessions.append(new_session("", None, data["lines"]))
    return sessions[-1]


def is_listed(session: AiderSession) -> bool:
    """Whether a session is shown: it has a usage line, or input after a header. aider started and left
    (``--commit`` runs, ^C at the prompt, bare headers) or text before the first header (a history cut
    by hand) without any usage line has nothing to show."""
    return bool(session["replies"] or (session["blocks"] and session["start"] is not None))


def _start_session(data: AiderData, stamp: str) -> None:
    sessions = data["sessions"]
    if sessions and not is_listed(sessions[-1]):
        sessions.pop()  # closed and empty: keep the cached state small
    data["sessions"].append(new_session(section_key(data["seen"], stamp), stamp, data["lines"]))


def section_key(seen: dict[str, int], stamp: str) -> str:
    """A section's key: its header's timestamp, ``#n`` added when the same second started a section
    before (``seen`` counts them and is updated)."""
    count = seen.get(stamp, 0)
    seen[stamp] = count + 1
    return stamp if count == 0 else f"{stamp}#{count}"


def session_native_id(path: str, key: str) -> str:
    """A session's native id: a short hash of its history file's path and its section's key."""
    return blake2b(f"{path}\0{key}".encode(), digest_size=8).hexdigest()


def _user_text(session: AiderSession, text: str) -> None:
    """The first non-empty line of an input block decides whether it is a prompt or a command."""
    if not session["block_open"] or not text.strip():
        return
    session["block_open"] = False
    echo, session["echo"] = session["echo"], None
    if text.strip() == echo:
        return  # aider re-logs the text of /ask q as the prompt itself: the same prompt
    words = text.split(None, 1)
    command = words[0].lower() if words[0].startswith("/") else None
    if command in CLEAR_COMMANDS:
        session["since_clear"] = 0
        session["ctx"] = None
    if command is not None and (command not in PROMPT_COMMANDS or len(words) < 2):
        return
    prompt = words[1] if command is not None else text
    if command is not None:
        session["echo"] = prompt.strip()
    session["prompts"] += 1
    session["since_clear"] += 1
    if session["title"] is None:
        session["title"] = title_from(prompt)


def _usage_line(session: AiderSession, text: str) -> None:
    parsed = parse_usage(text)
    if parsed is None:
        session["skipped"] += 1
        return
    # The figures first: one out of range (ValueError) costs the line before it changes anything.
    row, exact = [count(v) for v in parsed[0]], parsed[1]
    cost = _COST.search(text)
    if cost:
        session["agent_cost"] = amount(float(cost.group(2)))
    model = session["model"] or "unknown"
    total = session["usage"].setdefault(model, [0, 0, 0, 0])
    for i, value in enumerate(row):
        total[i] += value
    session["replies"] += 1
    session["rounded"] = session["rounded"] or not exact
    ctx = row[U_IN] + row[U_CC] + row[U_CR]
    session["ctx"] = ctx
    session["peak"] = max(session["peak"], ctx)


def _tool_line(session: AiderSession, line: str) -> None:
    """One line of aider's own output (``> …``)."""
    if line.startswith("> Tokens: "):
        _usage_line(session, line[len("> Tokens: ") :])
        return
    match = _MODEL.match(line)
    if match:
        session["model"] = match.group(1)
    elif line.startswith("> Applied edit to "):
        session["tool_calls"] += 1
    elif line.startswith("> ^C again to exit"):
        session["interruptions"] += 1
    elif _API_ERROR.match(line):
        session["api_errors"] += 1
    elif _TOOL_ERROR.match(line):
        session["tool_errors"] += 1


def apply_line(data: AiderData, raw: str) -> None:
    """Fold one line (without its newline) into ``data``."""
    data["lines"] += 1
    line = raw.rstrip("\r")
    own = line.endswith("  ")  # aider's own lines end with a markdown line break
    head, data["usage_head"] = data["usage_head"], None
    if head is not None and own and _COST_LINE.match(line):
        _tool_line(_current(data), f"{head} {line.rstrip()}")
        return
    if not own and line.startswith("> Tokens: ") and line.endswith(" received."):
        data["usage_head"] = line  # the first line of a two-line usage report, if a cost line follows
        data["in_user"] = False
        return
    if line.startswith("# aider chat started at "):
        match = _HEADER.match(line)
        if match:
            _start_session(data, match.group(1))
            data["in_user"] = False
            return
    if own and line.startswith("#### "):
        session = _current(data)
        if not data["in_user"]:
            session["blocks"] += 1
            session["block_open"] = True
            data["in_user"] = True
        text = line[5:].strip()
        _user_text(session, "" if text == "<blank>" else text)  # aider logs an empty input as <blank>
        return
    data["in_user"] = False
    if own and line.startswith("> "):
        _tool_line(_current(data), line.rstrip())


def _read_lines(buf: bytes, data: AiderData) -> int:
    """Fold every complete line of ``buf``; returns the number of bytes consumed."""
    end = buf.rfind(b"\n")
    if end < 0:
        return 0
    for raw in buf[:end].split(b"\n"):
        try:
            apply_line(data, raw.decode("utf-8", "replace"))
        except LINE_ERRORS:  # a figure out of range costs its line, never the history file
            _current(data)["skipped"] += 1
    return end + 1


# ---------------------------------------------------------------------------------------------------
# Finding history files


def walk_for_histories(root: str, max_depth: int, budget: list[int]) -> Iterator[str]:
    """History files under ``root``, breadth first, at most ``max_depth`` folders deep.

    A folder holding ``.git`` (below the root) is a repository: aider writes the history at its top,
    so it is checked and not descended into. Hidden folders, ``SKIP_DIRS`` and symlinked folders are
    not entered. ``budget[0]`` (folders left to list) is shared by every root of a scan.
    """
    level = [root]
    for depth in range(max_depth + 1):
        deeper: list[str] = []
        for folder in level:
            if budget[0] <= 0:
                return
            budget[0] -= 1
            entries = scandir(folder)
            names = {e.name for e in entries}
            if HISTORY_FILE in names:
                yield os.path.join(folder, HISTORY_FILE)
            if depth == max_depth or (depth > 0 and ".git" in names):
                continue
            for entry in entries:
                name = entry.name
                if name.startswith(".") or name in SKIP_DIRS:
                    continue
                try:
                    if entry.is_dir(follow_symlinks=False):
                        deeper.append(entry.path)
                except OSError:
                    continue
        level = sorted(deeper)


def histories_above(folder: str, stop: str | None) -> Iterator[str]:
    """History files in ``folder`` and its parents up to its git root (aider writes there when it is
    started in a sub-folder), never above ``stop``."""
    current = os.path.abspath(folder)
    while True:
        candidate = os.path.join(current, HISTORY_FILE)
        if os.path.isfile(candidate):
            yield candidate
        if os.path.exists(os.path.join(current, ".git")) or current == stop:
            return
        parent = os.path.dirname(current)
        if parent == current:
            return
        current = parent


def expand_root(root: str, home: str) -> str:
    if root == "~":
        return home
    if root.startswith("~/") or root.startswith("~" + os.sep):
        return os.path.join(home, root[2:])
    return root


def roots_from(paths: Paths, config: Mapping[str, Any]) -> tuple[list[str], int]:
    """Search roots and depth: ``LSM_AIDER_ROOTS`` (os.pathsep-separated) replaces the configured
    ``aider.search_roots``; ``~`` means the home directory."""
    section = config.get("aider") if isinstance(config, Mapping) else None
    section = section if isinstance(section, Mapping) else {}
    raw_roots = section.get("search_roots", list(DEFAULT_SEARCH_ROOTS))
    depth = section.get("max_depth", DEFAULT_MAX_DEPTH)
    env = paths.env.get(ROOTS_ENV, "").strip()
    if env:
        raw_roots = [p for p in env.split(os.pathsep) if p.strip()]
    home = str(paths.home)
    roots: list[str] = []
    for root in raw_roots if isinstance(raw_roots, list) else []:
        path = expand_root(str(root).strip(), home)
        if path and path not in roots:
            roots.append(path)
    return roots, depth if isinstance(depth, int) and depth >= 0 else DEFAULT_MAX_DEPTH


# ---------------------------------------------------------------------------------------------------
# Local time


def local_to_utc(stamp: str, tz_name: str | None) -> datetime | None:
    """aider's header time (local, no zone) as an aware UTC datetime.

    The zone is ``tz_name`` (the ``TZ`` of the environment lsm was given) when it names a zone, else
    the machine's local zone. A time repeated by a DST change is read as the first one.
    """
    try:
        naive = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    zone = _zone(tz_name)
    aware = naive.replace(tzinfo=zone) if zone is not None else naive.astimezone()
    return aware.astimezone(timezone.utc)


def _zone(tz_name: str | None) -> Any:
    if not tz_name:
        return None
    name = tz_name.lstrip(":")
    if name.startswith("/"):
        marker = "/zoneinfo/"
        name = name.split(marker, 1)[1] if marker in name else ""
    if not name:
        return None
    from zoneinfo import ZoneInfo

    try:
        return ZoneInfo(name)
    except (ValueError, OSError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        return None


# ---------------------------------------------------------------------------------------------------
# The reader


class AiderReader:
    """Sessions from every ``.aider.chat.history.md`` found under the search roots."""

    name = AGENT
    parser_version = 3

    def __init__(
        self,
        search_roots: Sequence[str | Path] = (),
        max_depth: int = DEFAULT_MAX_DEPTH,
        extra_dirs: Sequence[str | Path] = (),
        tz: str | None = None,
        home: str | Path | None = None,
    ) -> None:
        self.search_roots = tuple(str(r) for r in search_roots)
        self.max_depth = max_depth
        self.extra_dirs = tuple(str(d) for d in extra_dirs)
        self.tz = tz
        self.home = str(home) if home is not None else None

    @classmethod
    def from_config(
        cls, paths: Paths, config: Mapping[str, Any], extra_dirs: Sequence[str | Path] = ()
    ) -> AiderReader:
        """Roots from ``LSM_AIDER_ROOTS`` or the config's ``aider`` section; ``extra_dirs`` are folders
        aider is known to run in (the cwd of a running aider process)."""
        roots, depth = roots_from(paths, config)
        return cls(roots, depth, extra_dirs, paths.env.get("TZ") or None, paths.home)

    @classmethod
    def from_paths(cls, paths: Paths) -> AiderReader:
        return cls.from_config(paths, {})

    def roots(self) -> list[tuple[str, bool]]:
        """Where this reader looks, and whether each place exists (for `lsm info`)."""
        return [(r, os.path.exists(r)) for r in (*self.search_roots, *self.extra_dirs)]

    def _history_files(self) -> Iterator[str]:
        budget = [MAX_DIRS]
        for root in self.search_roots:
            if os.path.isfile(root):
                yield root  # a history file named directly (aider --chat-history-file)
            else:
                yield from walk_for_histories(root, self.max_depth, budget)
        for folder in self.extra_dirs:
            yield from histories_above(folder, self.home)

    def sources(self) -> Iterable[tuple[str, str, tuple[int, int, int, int]]]:
        """(history file, "", stat) for every history file found; a file reachable twice is read once."""
        seen: set[tuple[int, int]] = set()
        for path in self._history_files():
            try:
                st = os.stat(path)
            except OSError:
                continue
            if not stat.S_ISREG(st.st_mode):  # a FIFO or device named like a history is never opened
                continue
            ident = (st.st_dev, st.st_ino)
            if ident in seen:
                continue
            seen.add(ident)
            yield os.path.abspath(path), "", file_identity(st)

    def read(self, path: str | Path, session_key: str, prior: FileState | None) -> FileState:
        with open_regular(path) as fh:
            st = os.fstat(fh.fileno())
            identity = file_identity(st)
            data, offset = new_data(), 0
            if prior is not None and _continues(fh, prior, identity):
                data, offset = cast(AiderData, prior.data), prior.offset
            fh.seek(offset)
            buf = fh.read()
            used = _read_lines(buf, data)
            offset += used
            data["tail_partial"] = bool(buf[used:].strip())
            data["mtime_ns"] = st.st_mtime_ns
            head = _head(fh, offset)
        return FileState(str(path), session_key, identity, offset, head, cast(dict[str, Any], data))

    def sessions(self, states: Sequence[FileState]) -> list[Session]:
        out: list[Session] = []
        for state in states:
            sessions = cast(AiderData, state.data).get("sessions") or []
            for i, session in enumerate(sessions):
                if not is_listed(session):
                    continue
                last = i == len(sessions) - 1
                out.append(self._build(state, session, last))
        return out

    def _build(self, state: FileState, s: AiderSession, last: bool) -> Session:
        from llm_session_manager.models import (  # not at import: listing files needs no models
            ModelTokens,
            Session,
            TokenUsage,
        )

        native = session_native_id(state.path, s["key"])
        started = local_to_utc(s["start"], self.tz) if s["start"] else None
        mtime = datetime.fromtimestamp(state.data.get("mtime_ns", 0) / 1e9, timezone.utc)
        # Only the header carries a time: the open (last) session ran until the file's last write.
        last_activity = max(started, mtime) if last and started else (mtime if last else started)
        usage: dict[str, list[int]] = s["usage"]
        models = sorted((m for m in usage if m != "unknown"), key=lambda m: -sum(usage[m]))
        rows = list(usage.values())
        skipped = int(s["skipped"]) + (1 if last and state.data.get("tail_partial") else 0)
        return Session(
            id=f"{AGENT}:{native}",
            agent=AGENT,
            native_id=native,
            title=s["title"],
            project_path=os.path.dirname(state.path),
            git_branch=None,
            model=s["model"] or (models[0] if models else None),
            models=tuple(models) or ((s["model"],) if s["model"] else ()),
            started_at=started,
            last_activity=last_activity,
            tokens=TokenUsage(
                sum(r[U_IN] for r in rows),
                sum(r[U_OUT] for r in rows),
                sum(r[U_CC] for r in rows),
                sum(r[U_CR] for r in rows),
                "rounded" if s["rounded"] else "exact",
            ),
            context_tokens=s["ctx"],
            context_window=None,
            context_window_source="",
            messages_user=int(s["prompts"]),
            messages_assistant=int(s["replies"]),
            tool_calls=int(s["tool_calls"]),
            tool_errors=int(s["tool_errors"]),
            api_errors=int(s["api_errors"]),
            interruptions=int(s["interruptions"]),
            compactions=0,
            skipped_lines=skipped,
            transcript_paths=(state.path,),
            turns_since_compaction=int(s["since_clear"]),
            peak_context_tokens=int(s["peak"]) or None,
            model_usage=tuple(ModelTokens(m, r[U_IN], r[U_OUT], r[U_CC], r[U_CR]) for m, r in usage.items()),
            agent_cost_usd=s["agent_cost"],
        )


def _head(fh: Any, offset: int) -> bytes:
    """A fingerprint of the first bytes consumed (at most HEAD_BYTES): a rewritten file differs."""
    fh.seek(0)
    return blake2b(fh.read(min(HEAD_BYTES, offset)), digest_size=16).digest()


def _continues(fh: Any, prior: FileState, identity: tuple[int, int, int, int]) -> bool:
    """The file is the one read before, grown: same device and inode, not shorter than what was
    consumed, and the same first bytes."""
    dev, ino, size, _ = identity
    if (dev, ino) != tuple(prior.identity[:2]) or size < prior.offset or "sessions" not in prior.data:
        return False
    return _head(fh, prior.offset) == prior.head


# ---------------------------------------------------------------------------------------------------
# The conversation, for export


def read_conversation(paths: Sequence[str], native_id: str | None = None) -> list[Turn]:
    """One session's conversation, in order. ``paths`` is the session's ``transcript_paths`` (its
    history file, which holds many sessions) and ``native_id`` names the session's section: the
    ``# aider chat started at`` section whose ``session_native_id(path, key)`` it is (text before the
    first header is the section with key "").

    Within the section, with the reader's rules for aider's own lines (they end with two spaces):

    - ``#### <text>  `` lines in a row are one user turn (``<blank>`` is an empty line; an input with
      no text is left out); slash commands (``/add app.py``) are kept, they are what the user typed;
    - every other line is the model's reply; the lines between two user turns are one assistant turn
      (blank lines around it trimmed), with the main model announced last (``> Model: …``);
    - ``> <text>  `` lines are aider's own output (model announcements, token reports, applied edits,
      lint and test output, errors): not the model's reply and not a message sent to it, so they are
      left out (their effect is in the session's counts);
    - aider writes no time per message, so every ``timestamp`` is None; a last line without its
      newline (being written) is left out, as the reader does.
    """
    if native_id is None:
        return []
    for path in paths:
        with open_regular(path) as fh:
            buf = fh.read()
        lines = buf[: buf.rfind(b"\n") + 1].decode("utf-8", "replace").split("\n")[:-1]
        section = _find_section(path, lines, native_id)
        if section is not None:
            return section_turns(section)
    return []


def _header_stamp(line: str) -> str | None:
    """The timestamp of a ``# aider chat started at`` line, as the reader matches it."""
    match = _HEADER.match(line) if line.startswith("# aider chat started at ") else None
    return match.group(1) if match else None


def _find_section(path: str, lines: list[str], native_id: str) -> list[str] | None:
    """The lines of the section whose native id is ``native_id`` (header excluded), or None."""
    seen: dict[str, int] = {}
    key, start = "", 0
    for i, raw in enumerate([*lines, None]):
        stamp = _header_stamp(raw.rstrip("\r")) if raw is not None else None
        if raw is not None and stamp is None:
            continue
        if session_native_id(path, key) == native_id:
            return [line.rstrip("\r") for line in lines[start:i]]
        if stamp is not None:
            key, start = section_key(seen, stamp), i + 1
    return None


def _assistant(lines: list[str], model: str | None) -> Turn | None:
    text = "\n".join(lines).strip("\n")
    if not text.strip():
        return None
    return {"role": "assistant", "timestamp": None, "text": text, "model": model}


def section_turns(lines: list[str]) -> list[Turn]:
    """Export turns from one section's lines (see ``read_conversation``)."""
    turns: list[Turn] = []
    user: list[str] | None = None
    reply: list[str] = []
    model: str | None = None
    for line in lines:
        own = line.endswith("  ")
        if own and line.startswith("#### "):
            if user is None:
                turn = _assistant(reply, model)
                turns.extend([turn] if turn else [])
                reply, user = [], []
                turns.append({"role": "user", "timestamp": None, "text": ""})
            text = line[5:].rstrip()
            user.append("" if text == "<blank>" else text)
            turns[-1]["text"] = "\n".join(user).strip("\n")
            continue
        user = None
        if own and _COST_LINE.match(line) and reply and reply[-1].startswith("> Tokens: "):
            reply.pop()  # a two-line usage report: aider's output, not the reply
            continue
        if own and line.startswith("> "):
            match = _MODEL.match(line)
            model = match.group(1) if match else model
            continue
        reply.append(line)
    turn = _assistant(reply, model)
    turns.extend([turn] if turn else [])
    return [t for t in turns if t["role"] == "assistant" or (t.get("text") or "").strip()]  # no empty inputs


# ---------------------------------------------------------------------------------------------------
# What lsm knows about Aider

INFO = AgentInfo(
    name=AGENT,
    display_name="Aider",
    reader=lambda setup: AiderReader.from_config(setup.paths, setup.config, extra_dirs=setup.running_dirs),
    signature=AgentSignature(
        agent=AGENT,
        # pip/pipx/uv install a console script …/bin/aider whose shebang names the venv's Python, so the
        # process is `python3 …/bin/aider`; also `python -m aider`. On Windows the aider.exe launcher
        # runs python.exe with the launcher as its script; the launcher parent is dropped as a wrapper.
        programs=frozenset({"aider"}),
        interpreters=frozenset({"python", "pypy"}),
        script_names=frozenset({"aider"}),
        modules=frozenset({"aider", "aider.main"}),
        # Aider's session ids are not UUIDs; it is linked by its cwd (the repository root).
        argv_hints=False,
    ),
    conversation=read_conversation,
)
