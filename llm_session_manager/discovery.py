"""Find running AI coding-agent processes and link them to their sessions.

Three layers, each usable alone:

* :func:`classify` is a pure function that recognises an agent from a process's name, executable
  and argv by *exact* signature (never by substring), driven by the :data:`AGENT_SIGNATURES`
  table. Only Claude Code has a row today; other agents are added as more rows.
* :func:`scan_processes` makes one :func:`psutil.process_iter` pass over the current user's
  processes, keeps those :func:`classify` recognises, drops our own process tree and wrapper
  parents, and attaches a session hint and live state (Claude Code's ``sessions/<pid>.json``
  status file, else ``--resume``/``--session-id`` in argv).
* :func:`link_sessions` is a pure function that maps each live process to a native session id,
  given the transcripts the caller found on disk (:class:`Candidate`).

Nothing runs at import and the module keeps no state between calls. ``/proc`` is read only on
Linux; elsewhere the code falls back to what psutil reports.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import psutil

from llm_session_manager.models import Process

__all__ = [
    "AGENT_SIGNATURES",
    "CLAUDE_CODE",
    "AgentSignature",
    "Candidate",
    "StatusFile",
    "classify",
    "link_sessions",
    "parse_proc_stat_start",
    "parse_status_file",
    "proc_start_matches",
    "scan_processes",
    "session_hint_from_argv",
]

CLAUDE_AGENT = "claude-code"

# A ctime-style procStart ("Thu Sep 10 08:31:58 2026", as `ps -o lstart` prints it on macOS) has
# one-second resolution; allow a little more for rounding.
_CTIME_TOLERANCE_S = 2.0
# A wrapper (npm shim, re-launching launcher) starts its real child at once; a session that
# later spawns another agent from its shell does so much later than this.
_WRAPPER_CHILD_WINDOW_S = 10.0
_UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
# Node options that take their value as the next argv element (so that element is not the script).
_NODE_VALUE_OPTIONS = frozenset(
    {"-r", "--require", "--import", "--loader", "--experimental-loader", "-C", "--conditions", "--title"}
)
# Node options that make it run code from the command line instead of a script.
_NODE_EVAL_OPTIONS = frozenset({"-e", "--eval", "-p", "--print"})


# --------------------------------------------------------------------------------------------
# Signatures
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentSignature:
    """How one agent's processes look. One row of :data:`AGENT_SIGNATURES`.

    A process matches when either

    * the basename of ``argv[0]`` (``.exe`` stripped) is in :attr:`programs` — or, when argv is
      unreadable, the process name is; or
    * the executable path contains one of :attr:`exe_markers` and the process was started through
      that executable itself (``argv[0]`` names the same file; macOS can report a version string
      such as ``2.1.144`` as the *name* of a native Claude binary); or
    * ``argv[0]`` is one of :attr:`interpreters` and it runs a script whose path ends with one of
      :attr:`script_suffixes` (any later argv element), or whose basename is in
      :attr:`script_names` (the first non-option argument, e.g. an npm ``bin`` symlink).

    It is then rejected when the executable, ``argv[0]`` or the script path contains one of
    :attr:`deny_markers`, when any argument after the program/script is one of
    :attr:`deny_flags` (also as ``--flag=value``), or when the first argument after it is one of
    :attr:`deny_subcommands`.
    """

    agent: str
    programs: frozenset[str] = frozenset()
    exe_markers: tuple[str, ...] = ()
    interpreters: frozenset[str] = frozenset()
    script_suffixes: tuple[str, ...] = ()
    script_names: frozenset[str] = frozenset()
    deny_markers: tuple[str, ...] = ()
    deny_flags: frozenset[str] = frozenset()
    deny_subcommands: frozenset[str] = frozenset()


CLAUDE_CODE = AgentSignature(
    agent=CLAUDE_AGENT,
    # Native installer: ~/.local/bin/claude -> ~/.local/share/claude/versions/<ver> (claude.exe on
    # Windows). Also what an npm install shows once it has set process.title = "claude".
    programs=frozenset({"claude"}),
    exe_markers=("/claude/versions/",),
    # npm install: node …/@anthropic-ai/claude-code/cli.js (older ~/.claude/local/node_modules/…
    # installs end the same way), or node …/bin/claude when started through the npm bin symlink.
    interpreters=frozenset({"node", "nodejs", "bun"}),
    script_suffixes=("@anthropic-ai/claude-code/cli.js",),
    script_names=frozenset({"claude"}),
    # The Claude desktop app (macOS bundle, Windows install dir), its helpers and MCP servers.
    deny_markers=("/Claude.app/", "/AnthropicClaude/"),
    # Background daemon helpers and the binary re-running itself as ripgrep: no transcript.
    deny_flags=frozenset({"--bg-pty-host", "--bg-spare", "--ripgrep"}),
    # Utility subcommands that never own a transcript (`claude daemon run`, `claude mcp serve`, …).
    deny_subcommands=frozenset(
        {"daemon", "mcp", "doctor", "update", "install", "setup-token", "plugin", "config"}
        | {"migrate-installer"}
    ),
)

#: Every agent :func:`classify` knows, tried in order. Add a row per new agent.
AGENT_SIGNATURES: tuple[AgentSignature, ...] = (CLAUDE_CODE,)


def _norm_path(path: str) -> str:
    """Use forward slashes so one set of markers serves POSIX and Windows paths."""
    return path.replace("\\", "/")


def _basename(path: str) -> str:
    return _norm_path(path).rstrip("/").rsplit("/", 1)[-1]


def _program(path: str) -> str:
    """The basename of a program path without a Windows ``.exe`` suffix."""
    base = _basename(path)
    return base[:-4] if base.lower().endswith(".exe") else base


def _ends_with_path(arg: str, suffix: str) -> bool:
    """True when ``arg`` is a path whose trailing components are exactly ``suffix``."""
    arg = _norm_path(arg)
    return arg == suffix or arg.endswith("/" + suffix)


def _find_script(sig: AgentSignature, args: Sequence[str]) -> int | None:
    """Index in ``args`` (argv without the interpreter) of the agent script, if any."""
    for i, arg in enumerate(args):
        if any(_ends_with_path(arg, s) for s in sig.script_suffixes):
            return i
    skip_next = False
    for i, arg in enumerate(args):
        if skip_next:
            skip_next = False
            continue
        if arg in _NODE_EVAL_OPTIONS:
            return None
        if arg.startswith("-"):
            skip_next = arg in _NODE_VALUE_OPTIONS
            continue
        # The first non-option argument is the script node runs; nothing later is.
        return i if _basename(arg) in sig.script_names else None
    return None


def _match(sig: AgentSignature, name: str | None, exe: str, argv: Sequence[str]) -> bool:
    argv0 = argv[0] if argv else (name or "")
    prog = _program(argv0)
    checked_paths = [exe, _norm_path(argv0)]
    via_exe = any(m in exe for m in sig.exe_markers) and (not argv or _basename(argv0) == _basename(exe))
    if prog in sig.programs or via_exe:
        rest = list(argv[1:])
    elif prog in sig.interpreters:
        script_at = _find_script(sig, argv[1:])
        if script_at is None:
            return False
        checked_paths.append(_norm_path(argv[1 + script_at]))
        rest = list(argv[2 + script_at :])
    else:
        return False
    if any(marker in path for path in checked_paths for marker in sig.deny_markers):
        return False
    if any(arg.split("=", 1)[0] in sig.deny_flags for arg in rest):
        return False
    return not (rest and rest[0] in sig.deny_subcommands)


def classify(
    name: str | None,
    exe: str | None,
    cmdline: Sequence[str],
    *,
    signatures: Sequence[AgentSignature] = AGENT_SIGNATURES,
) -> str | None:
    """Return the agent a process is (e.g. ``"claude-code"``), or ``None``.

    ``name`` is the process name (psutil ``name()``), ``exe`` its executable path and ``cmdline``
    its argv; any may be empty/``None`` when unreadable. Matching is by exact signature, so
    ``grep claude``, ``claude-squad``, ``ccusage`` or a Playwright ``…/claude-tools/…/cli.js``
    are not Claude Code. See :class:`AgentSignature` for the rules.
    """
    argv = tuple(cmdline)
    exe_path = _norm_path(exe) if exe else ""
    for sig in signatures:
        if _match(sig, name, exe_path, argv):
            return sig.agent
    return None


# --------------------------------------------------------------------------------------------
# Session hints: Claude Code's status file and argv
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StatusFile:
    """The fields of a Claude Code ``<config dir>/sessions/<pid>.json`` we use."""

    pid: int | None
    session_id: str | None
    cwd: str | None
    status: str
    proc_start: str
    status_updated_at: datetime | None
    started_at_ms: float | None


def _ms_to_datetime(value: object) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        return datetime.fromtimestamp(value / 1000.0, tz=timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None


def parse_status_file(raw: object) -> StatusFile | None:
    """Validate a decoded status file; ``None`` unless it has a ``status`` and a ``procStart``.

    Files without ``status`` predate about v2.1.139 and carry no live state; without
    ``procStart`` they cannot be checked against PID reuse. Both are ignored.
    """
    if not isinstance(raw, Mapping):
        return None
    status = raw.get("status")
    proc_start = raw.get("procStart")
    if not isinstance(status, str) or not status:
        return None
    if isinstance(proc_start, bool) or not isinstance(proc_start, (str, int)) or not str(proc_start).strip():
        return None
    pid = raw.get("pid")
    session_id = raw.get("sessionId")
    cwd = raw.get("cwd")
    started_at = raw.get("startedAt")
    updated = _ms_to_datetime(raw.get("statusUpdatedAt")) or _ms_to_datetime(raw.get("updatedAt"))
    return StatusFile(
        pid=pid if isinstance(pid, int) and not isinstance(pid, bool) else None,
        session_id=session_id if isinstance(session_id, str) and session_id else None,
        cwd=cwd if isinstance(cwd, str) and cwd else None,
        status=status,
        proc_start=str(proc_start).strip(),
        status_updated_at=updated,
        started_at_ms=(
            float(started_at)
            if isinstance(started_at, (int, float)) and not isinstance(started_at, bool)
            else None
        ),
    )


def parse_proc_stat_start(stat: str) -> int | None:
    """Field 22 (``starttime``, clock ticks after boot) of a Linux ``/proc/<pid>/stat`` line.

    The command name (field 2) is in parentheses and may itself contain spaces and ``)``, so the
    fields are counted from the last ``)``.
    """
    close = stat.rfind(")")
    if close < 0:
        return None
    fields = stat[close + 1 :].split()  # fields[0] is field 3 (state)
    try:
        return int(fields[22 - 3])
    except (IndexError, ValueError):
        return None


def _linux_start_ticks(pid: int) -> int | None:
    """``starttime`` of a live process from ``/proc``; ``None`` off Linux or when unreadable."""
    if not sys.platform.startswith("linux"):
        return None
    try:
        raw = Path(f"/proc/{pid}/stat").read_bytes()
    except OSError:
        return None
    return parse_proc_stat_start(raw.decode("utf-8", "replace"))


def _parse_ctime(text: str) -> float | None:
    """Epoch seconds of a local-time ``"Thu Sep 10 08:31:58 2026"`` string, else ``None``."""
    try:
        parsed = time.strptime(" ".join(text.split()), "%a %b %d %H:%M:%S %Y")
        return time.mktime(parsed)
    except (ValueError, OverflowError):
        return None


def proc_start_matches(
    proc_start: str,
    *,
    start_ticks: int | None,
    create_time: float | None,
    started_at_ms: float | None = None,
) -> bool:
    """Whether a status file's ``procStart`` belongs to the live process (guards PID reuse).

    * Linux writes ``/proc/<pid>/stat`` field 22: compared exactly with ``start_ticks``.
    * macOS writes ``ps -o lstart`` local time: compared with ``create_time`` within 2 s.
    * Any other form (or ``/proc`` unreadable): lenient — accepted when the file's
      ``startedAt`` is not before the process was created, which a file left behind by an
      earlier process with the same PID fails.
    """
    text = proc_start.strip()
    if text.isdigit() and start_ticks is not None:
        return int(text) == start_ticks
    ctime = _parse_ctime(text)
    if ctime is not None and create_time is not None:
        return abs(ctime - create_time) <= _CTIME_TOLERANCE_S
    if create_time is not None and started_at_ms is not None:
        return started_at_ms / 1000.0 >= create_time - _CTIME_TOLERANCE_S
    return False


def _read_json(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _live_status(
    config_dirs: Sequence[Path], pid: int, create_time: float | None, start_ticks: int | None
) -> StatusFile | None:
    """The freshest valid status file for ``pid`` across all config dirs, if any."""
    best: StatusFile | None = None
    for config_dir in config_dirs:
        parsed = parse_status_file(_read_json(Path(config_dir) / "sessions" / f"{pid}.json"))
        if parsed is None or (parsed.pid is not None and parsed.pid != pid):
            continue
        if not proc_start_matches(
            parsed.proc_start,
            start_ticks=start_ticks,
            create_time=create_time,
            started_at_ms=parsed.started_at_ms,
        ):
            continue
        epoch = datetime.min.replace(tzinfo=timezone.utc)
        if best is None or (parsed.status_updated_at or epoch) > (best.status_updated_at or epoch):
            best = parsed
    return best


def session_hint_from_argv(cmdline: Sequence[str]) -> str | None:
    """A session id the command line names: ``--session-id``, else ``--resume``/``-r``.

    Accepts ``--flag <id>`` and ``--flag=<id>``. Only UUIDs count (``--resume`` without an id, or
    with a search term, opens a picker). ``--resume`` with ``--fork-session`` starts a *new*
    session, so it is no hint.
    """
    args = list(cmdline[1:])
    found: dict[str, str] = {}
    for i, arg in enumerate(args):
        flag, eq, inline = arg.partition("=")
        if flag not in ("--resume", "-r", "--session-id"):
            continue
        value = inline if eq else (args[i + 1] if i + 1 < len(args) else "")
        if _UUID_RE.match(value):
            found.setdefault("session" if flag == "--session-id" else "resume", value)
    if "session" in found:
        return found["session"]
    if "resume" in found and "--fork-session" not in args:
        return found["resume"]
    return None


# --------------------------------------------------------------------------------------------
# Scanning
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Seen:
    """A matched process before hints and filtering."""

    pid: int
    ppid: int | None
    create_time: float | None
    process: Process
    from_status_file: bool


def _family(self_pid: int, parent_of: Mapping[int, int | None]) -> set[int]:
    """``self_pid`` and all of its descendants. Ancestors are kept on purpose: when lsm runs inside a
    Claude Code session (its Bash tool, a hook, the statusline), that session is real and must show."""
    family = {self_pid}
    children: dict[int, list[int]] = {}
    for child, parent in parent_of.items():
        if parent is not None:
            children.setdefault(parent, []).append(child)
    stack = [self_pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in family:
                family.add(child)
                stack.append(child)
    return family


def _user_matcher() -> tuple[str, object]:
    """Which psutil attribute identifies the owner, and the current user's value of it."""
    if hasattr(os, "getuid"):
        return "uids", os.getuid()
    try:
        return "username", psutil.Process().username()
    except psutil.Error:
        return "username", None


def _is_ours(info: Mapping[str, Any], key: str, mine: object) -> bool:
    value = info.get(key)
    if value is None or mine is None:
        return False
    if key == "uids":
        return bool(getattr(value, "real", None) == mine)
    return bool(value == mine)


def _as_str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _probe(proc: psutil.Process) -> tuple[str | None, int | None, float | None] | None:
    """cwd, RSS and CPU% of a process; a field is ``None`` when denied, all ``None`` if gone."""
    cwd: str | None = None
    rss: int | None = None
    cpu: float | None = None
    try:
        with proc.oneshot():
            with contextlib.suppress(psutil.AccessDenied):
                cwd = proc.cwd() or None
            with contextlib.suppress(psutil.AccessDenied):
                rss = int(proc.memory_info().rss)
            with contextlib.suppress(psutil.AccessDenied):
                cpu = _cpu_pct(proc)
    except psutil.NoSuchProcess:  # includes ZombieProcess
        return None
    return cwd, rss, cpu


def _cpu_pct(proc: psutil.Process) -> float:
    """CPU use since the previous scan of this process in this Python process; on the first scan
    (every one-shot command) the average over the process's lifetime, instead of psutil's
    meaningless first 0.0."""
    seen_before = getattr(proc, "_last_sys_cpu_times", None) is not None
    recent = float(proc.cpu_percent(interval=None))
    if seen_before:
        return recent
    times = proc.cpu_times()
    alive = time.time() - proc.create_time()
    return round(100.0 * (times.user + times.system) / alive, 1) if alive > 0 else 0.0


def _iter_matched(config_dirs: Sequence[Path], parent_of: dict[int, int | None]) -> Iterable[_Seen]:
    """The single process_iter pass. Fills ``parent_of`` for every process as a side effect."""
    key, mine = _user_matcher()
    attrs = ["pid", "ppid", "name", "exe", "cmdline", "create_time", "status", key]
    for proc in psutil.process_iter(attrs=attrs, ad_value=None):
        info: dict[str, Any] = getattr(proc, "info", {})
        pid = info.get("pid")
        if not isinstance(pid, int):
            continue
        ppid = info.get("ppid")
        parent_of[pid] = ppid if isinstance(ppid, int) else None
        if not _is_ours(info, key, mine) or info.get("status") == psutil.STATUS_ZOMBIE:
            continue
        raw_cmdline = info.get("cmdline")
        cmdline = tuple(str(a) for a in raw_cmdline) if isinstance(raw_cmdline, (list, tuple)) else ()
        agent = classify(_as_str(info.get("name")), _as_str(info.get("exe")), cmdline)
        if agent is None:
            continue
        probed = _probe(proc)
        if probed is None:  # vanished since the listing
            continue
        cwd, rss, cpu = probed
        create_time = info.get("create_time")
        create_time = float(create_time) if isinstance(create_time, (int, float)) else None
        started = datetime.fromtimestamp(create_time, tz=timezone.utc) if create_time is not None else None
        process = Process(
            pid=pid, agent=agent, cwd=cwd, started_at=started, cpu_pct=cpu, rss_bytes=rss, cmdline=cmdline
        )
        status = (
            _live_status(config_dirs, pid, create_time, _linux_start_ticks(pid))
            if agent == CLAUDE_AGENT
            else None
        )
        if status is not None:
            process = replace(
                process,
                cwd=process.cwd or status.cwd,
                state=status.status,
                state_updated_at=status.status_updated_at,
                session_hint=status.session_id,
                hint_source="status-file" if status.session_id else None,
            )
        if process.session_hint is None:
            hint = session_hint_from_argv(cmdline)
            if hint is not None:
                process = replace(process, session_hint=hint, hint_source="argv")
        yield _Seen(pid, parent_of[pid], create_time, process, status is not None)


def _wrapper_parents(seen: Sequence[_Seen]) -> set[int]:
    """PIDs of matched processes that only wrap a matched child of the same agent.

    A parent is a wrapper (npm shim, self re-launch) when a direct child is the same agent, was
    started within a few seconds of it, and the parent has no live status file of its own.
    """
    by_pid = {s.pid: s for s in seen}
    wrappers: set[int] = set()
    for child in seen:
        parent = by_pid.get(child.ppid) if child.ppid is not None else None
        if parent is None or parent.from_status_file or parent.process.agent != child.process.agent:
            continue
        if parent.create_time is None or child.create_time is None:
            continue
        if 0 <= child.create_time - parent.create_time <= _WRAPPER_CHILD_WINDOW_S:
            wrappers.add(parent.pid)
    return wrappers


def scan_processes(claude_config_dirs: Sequence[Path], *, self_pid: int | None = None) -> list[Process]:
    """Running agent processes of the current user, one per session, oldest first.

    Makes one :func:`psutil.process_iter` pass; processes that vanish or deny access are skipped
    or get ``None`` fields, never an exception. Excluded: processes :func:`classify` rejects,
    zombies, other users' processes, ``self_pid`` (default: this process) and
    descendants, and wrapper parents whose real agent process is their child.

    For Claude Code the live status file ``<dir>/sessions/<pid>.json`` is read from every dir in
    ``claude_config_dirs`` and honoured only when its ``procStart`` matches the process (see
    :func:`proc_start_matches`); it sets ``state``, ``state_updated_at`` and ``session_hint``
    (``hint_source="status-file"``). Otherwise ``--session-id``/``--resume`` in argv gives the
    hint (``hint_source="argv"``).

    ``cpu_pct`` is usage since the previous scan in this Python process (psutil keeps the process
    objects between :func:`psutil.process_iter` calls); on the first scan, the lifetime average.
    Note that CPU use says little about whether an agent is busy; use ``state``.
    """
    me = os.getpid() if self_pid is None else self_pid
    parent_of: dict[int, int | None] = {}
    seen = list(_iter_matched(claude_config_dirs, parent_of))
    excluded = _family(me, parent_of) | _wrapper_parents(seen)
    kept = [s for s in seen if s.pid not in excluded]
    kept.sort(key=lambda s: (s.create_time if s.create_time is not None else float("inf"), s.pid))
    return [s.process for s in kept]


# --------------------------------------------------------------------------------------------
# Linking
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    """A transcript a live process might be writing.

    ``cwd`` is the working directory recorded in the transcript; ``last_write`` its mtime and
    ``first_write`` when it was created or its first entry's timestamp, if known. Naive
    datetimes are taken as UTC.
    """

    native_id: str
    cwd: str | None
    last_write: datetime
    first_write: datetime | None


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)


def _same_dir_key(path: str | None) -> str | None:
    if not path:
        return None
    return os.path.normcase(os.path.realpath(path))


def _appeared(candidate: Candidate) -> datetime:
    return _utc(candidate.first_write or candidate.last_write)


def _resolve_hints(procs: Sequence[Process]) -> dict[int, str]:
    """pid -> hinted id, with each id given to at most one pid.

    When several processes name the same id, a status-file hint beats argv hints; a tie is
    ambiguous and nobody gets the id.
    """
    claims: dict[str, list[Process]] = {}
    for proc in procs:
        if proc.session_hint:
            claims.setdefault(proc.session_hint, []).append(proc)
    out: dict[int, str] = {}
    for native_id, claimants in claims.items():
        if len(claimants) > 1:
            claimants = [p for p in claimants if p.hint_source == "status-file"]
        if len(claimants) == 1:
            out[claimants[0].pid] = native_id
    return out


def _by_dir(candidates: Sequence[Candidate]) -> dict[str, list[Candidate]]:
    out: dict[str, list[Candidate]] = {}
    for cand in candidates:
        key = _same_dir_key(cand.cwd)
        if key is not None:
            out.setdefault(key, []).append(cand)
    return out


def _switch_after_clear(
    procs: Sequence[Process],
    hinted: Mapping[int, str],
    claimed: set[str],
    candidates: Sequence[Candidate],
    unhinted_dirs: set[str],
) -> dict[int, str]:
    """Hinted processes whose transcript went stale (``/clear``) -> the newer transcript they write.

    A candidate qualifies for a process when it is in the process's cwd, is claimed by no live
    hint, appeared after the process started and no earlier than the hinted transcript's last
    write. The newest qualifying one is proposed; a cwd shared with a hint-less process, or two
    processes proposing the same transcript, means no switch.
    """
    by_id = {c.native_id: c for c in candidates}
    by_dir = _by_dir(candidates)
    proposals: dict[str, list[int]] = {}
    for proc in procs:
        key = _same_dir_key(proc.cwd)
        if proc.pid not in hinted or proc.started_at is None or key is None or key in unhinted_dirs:
            continue
        started = _utc(proc.started_at)
        old = by_id.get(hinted[proc.pid])
        newer = [
            c
            for c in by_dir.get(key, [])
            if c.native_id not in claimed
            and _appeared(c) > started
            and (old is None or _appeared(c) >= _utc(old.last_write))
        ]
        if newer:
            best = max(newer, key=lambda c: _utc(c.last_write))
            proposals.setdefault(best.native_id, []).append(proc.pid)
    return {pids[0]: native_id for native_id, pids in proposals.items() if len(pids) == 1}


def _guess_by_cwd(
    unhinted_per_dir: Mapping[str, Sequence[Process]], candidates: Sequence[Candidate], taken: set[str]
) -> dict[int, str]:
    """Hint-less processes -> the newest untaken transcript in their cwd written after they started.

    A cwd with two or more hint-less processes gets no guesses at all.
    """
    by_dir = _by_dir(candidates)
    out: dict[int, str] = {}
    for key, group in unhinted_per_dir.items():
        if len(group) != 1 or group[0].started_at is None:
            continue
        started = _utc(group[0].started_at)
        fresh = [c for c in by_dir.get(key, []) if c.native_id not in taken and _utc(c.last_write) > started]
        if fresh:
            best = max(fresh, key=lambda c: _utc(c.last_write))
            out[group[0].pid] = best.native_id
            taken.add(best.native_id)
    return out


def link_sessions(procs: Sequence[Process], candidates: Sequence[Candidate]) -> dict[int, str]:
    """Map live processes to native session ids (``pid -> id``); unlinked pids are absent.

    Pass the processes and transcripts of one agent. In order:

    1. A process's ``session_hint`` wins, even when no candidate has that id yet (a new Claude
       session writes no transcript until its first message). If several processes name the
       same id, a status-file hint beats argv hints; a tie links nobody to it.
    2. ``/clear`` (and resuming, in some versions) starts a new transcript while the status
       file and argv keep naming the old id. So a hinted process switches to the newest
       candidate in its cwd that appeared after the process started and after the hinted
       transcript was last written, provided no other live process claims it, no hint-less live
       process shares the cwd, and no other process would switch to the same one.
    3. A process without a hint gets the candidate in its cwd written most recently after the
       process started — unless two or more hint-less processes share that cwd: then none of
       them gets a guess.

    Each candidate is linked to at most one pid. Paths are compared after ``realpath`` and
    ``normcase``.
    """
    hinted = _resolve_hints(procs)
    claimed = {p.session_hint for p in procs if p.session_hint}
    unhinted_per_dir: dict[str, list[Process]] = {}
    for proc in procs:
        key = _same_dir_key(proc.cwd)
        if not proc.session_hint and key is not None:
            unhinted_per_dir.setdefault(key, []).append(proc)

    links = dict(hinted)
    links.update(_switch_after_clear(procs, hinted, claimed, candidates, set(unhinted_per_dir)))
    links.update(_guess_by_cwd(unhinted_per_dir, candidates, claimed | set(links.values())))
    return links
