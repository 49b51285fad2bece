"""Find running AI coding-agent processes and link them to their sessions.

Three layers, each usable alone:

* :func:`classify` is a pure function that recognises an agent from a process's name, executable
  and argv by *exact* signature (never by substring): the :class:`AgentSignature` each agent's
  ``AgentInfo`` declares (Claude Code, Codex, Gemini CLI, Aider, the Cursor Agent CLI, the Cursor
  IDE, the Copilot CLI and VS Code standing for GitHub Copilot), in registry order.
* :func:`scan_processes` makes one :func:`psutil.process_iter` pass over the current user's
  processes, keeps those :func:`classify` recognises, drops our own process tree, wrapper parents
  and an editor's own descendants (one row per session, one row per editor app), and attaches a
  session hint and live state: Claude Code's ``sessions/<pid>.json`` status file, Codex's open
  rollout file, else ``--resume``/``--session-id`` in argv.
* :func:`link_sessions` is a pure function that maps each live process to a native session id,
  given the transcripts the caller found on disk (:class:`Candidate`).

Agents without a process of their own: Cline and Roo Code are VS Code extensions, so they run inside
VS Code's extension host; the VS Code row (agent ``"copilot"``) stands for them and no separate
process is reported. Likewise the Cursor IDE's own agent runs inside the Cursor app (one ``"cursor"``
row); Cursor's ``cursor-agent worker``/``worker-server`` helpers are excluded.

Server modes that host sessions for another program — ``codex app-server`` (the Codex IDE
extension and desktop app), ``codex mcp-server``, Gemini's and Copilot's ``--acp``/``--experimental-acp``,
``cursor-agent acp`` — are excluded: such a process serves zero to many sessions and is no session
itself (the same call Irrlicht made for ``codex app-server``). Their sessions still show from their
files, as not running.

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
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llm_session_manager.agents import agent_info, agent_signatures
from llm_session_manager.agents.base import AgentSignature

if TYPE_CHECKING:
    import psutil

    from llm_session_manager.models import Process

__all__ = [
    "AgentSignature",
    "Candidate",
    "StatusFile",
    "classify",
    "link_sessions",
    "parse_proc_stat_start",
    "parse_status_file",
    "pick_rollout",
    "proc_start_matches",
    "rollout_session_id",
    "running_agents",
    "scan_processes",
    "scope",
    "session_hint_from_argv",
]

# A ctime-style procStart ("Thu Sep 10 08:31:58 2026", as `ps -o lstart` prints it on macOS) has
# one-second resolution; allow a little more for rounding.
_CTIME_TOLERANCE_S = 2.0
# A wrapper (npm shim, re-launching launcher) starts its real child at once; a session that
# later spawns another agent from its shell does so much later than this.
_WRAPPER_CHILD_WINDOW_S = 10.0
# How far up the process tree an editor's helper is looked for (deep trees are not editors).
_MAX_ANCESTRY = 64
# A rollout's first line (session_meta) carries the base instructions; this bounds the read.
_ROLLOUT_HEAD_MAX = 1 << 20
_SIDE_FILE_MAX = 1 << 20  # sessions/<pid>.json: a few fields
_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_UUID_RE = re.compile(rf"^{_UUID}$")
# $CODEX_HOME/sessions/YYYY/MM/DD/rollout-<timestamp>-<uuid>.jsonl
_ROLLOUT_RE = re.compile(rf"(?:^|/)sessions/\d{{4}}/\d{{2}}/\d{{2}}/rollout-[^/]*?({_UUID})\.jsonl$")
# Node options that take their value as the next argv element (so that element is not the script).
_NODE_VALUE_OPTIONS = frozenset(
    {"-r", "--require", "--import", "--loader", "--experimental-loader", "-C", "--conditions", "--title"}
)
# Node options that make it run code from the command line instead of a script.
_NODE_EVAL_OPTIONS = frozenset({"-e", "--eval", "-p", "--print"})
# Python's short options that take a value (attached, `-Wignore`, or as the next element).
_PYTHON_VALUE_LETTERS = frozenset("WX")
_PYTHON_INTERPRETER_RE = re.compile(r"(python|pypy)(\d+(\.\d+)*)?w?")


# --------------------------------------------------------------------------------------------
# Signatures (each agent's AgentInfo declares its own)
# --------------------------------------------------------------------------------------------


def _signature_of(agent: str) -> AgentSignature | None:
    info = agent_info(agent)
    return info.signature if info is not None else None


def _norm_path(path: str) -> str:
    """Use forward slashes so one set of markers serves POSIX and Windows paths."""
    return path.replace("\\", "/")


def _basename(path: str) -> str:
    return _norm_path(path).rstrip("/").rsplit("/", 1)[-1]


def _program(path: str) -> str:
    """The basename of a program path without a Windows ``.exe`` suffix."""
    base = _basename(path)
    return base[:-4] if base.lower().endswith(".exe") else base


def _interpreter(path: str) -> str:
    """An interpreter's family name: ``python3.12``/``pythonw`` -> ``python``, else the program."""
    prog = _program(path)
    matched = _PYTHON_INTERPRETER_RE.fullmatch(prog)
    return matched.group(1) if matched else prog


def _ends_with_path(arg: str, suffix: str) -> bool:
    """True when ``arg`` is a path whose trailing components are exactly ``suffix``.

    A ``*`` component of ``suffix`` stands for exactly one (non-empty) component.
    """
    arg = _norm_path(arg)
    if "*" not in suffix:
        return arg == suffix or arg.endswith("/" + suffix)
    want = suffix.split("/")
    have = arg.split("/")
    if len(have) < len(want):
        return False
    tail = have[len(have) - len(want) :]
    return all(w == h if w != "*" else bool(h) for w, h in zip(want, tail))


@dataclass(frozen=True)
class _Entry:
    """Where a matched process's own arguments start, and the script it runs (if any)."""

    start: int
    script: str | None = None


def _suffix_script(sig: AgentSignature, args: Sequence[str]) -> int | None:
    for i, arg in enumerate(args):
        if any(_ends_with_path(arg, s) for s in sig.script_suffixes):
            return i
    return None


def _node_evaluates(arg: str) -> bool:
    """Whether a node/bun option runs code given on the command line: ``-e``, ``--eval``, ``-p``,
    ``--print``, each also as ``--eval=code``, and short clusters such as ``-pe``."""
    if arg.split("=", 1)[0] in _NODE_EVAL_OPTIONS:
        return True
    cluster = arg[1:] if len(arg) > 2 and arg[0] == "-" and arg[1] != "-" else ""
    return cluster.isalpha() and bool(set(cluster) & {"e", "p"})


def _node_script(sig: AgentSignature, args: Sequence[str]) -> int | None:
    """Index of the script node runs when its basename is one of the signature's script names."""
    skip_next = False
    for i, arg in enumerate(args):
        if skip_next:
            skip_next = False
            continue
        if _node_evaluates(arg):
            return None
        if arg == "--":
            # Whatever follows is the script (and its arguments).
            return i + 1 if i + 1 < len(args) and _basename(args[i + 1]) in sig.script_names else None
        if arg.startswith("-") and arg != "-":
            skip_next = arg in _NODE_VALUE_OPTIONS
            continue
        if arg == "-":
            return None  # the script comes from standard input
        # The first non-option argument is the script node runs; nothing later is.
        return i if _basename(arg) in sig.script_names else None
    return None


def _python_option(arg: str) -> tuple[str, str]:
    """Classify one Python option cluster: ("eval"|"module"|"value"|"flag", attached value)."""
    if arg.startswith("--"):
        return ("value" if arg == "--check-hash-based-pycs" else "flag"), ""
    for j, letter in enumerate(arg[1:], start=1):
        if letter == "c":
            return "eval", ""
        if letter == "m":
            return "module", arg[j + 1 :]
        if letter in _PYTHON_VALUE_LETTERS:
            return "value", arg[j + 1 :]
    return "flag", ""


def _python_script(sig: AgentSignature, args: Sequence[str]) -> int | None:
    """Index of the script (or ``-m`` module) Python runs when it is the agent's."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "-" or not arg.startswith("-"):
            names = {_program(arg)}  # aider.exe as the script of a Windows launcher
            return i if arg != "-" and names & sig.script_names else None
        kind, attached = _python_option(arg)
        if kind == "eval":
            return None
        if kind == "module":
            module_at = i if attached else i + 1
            module = attached or (args[i + 1] if i + 1 < len(args) else "")
            return module_at if module in sig.modules else None
        i += 2 if kind == "value" and not attached else 1
    return None


def _find_script(sig: AgentSignature, family: str, args: Sequence[str]) -> int | None:
    """Index in ``args`` (argv without the interpreter) of the agent script, if any."""
    found = _suffix_script(sig, args)
    if found is not None:
        return found
    if family == "python":
        return _python_script(sig, args)
    return _node_script(sig, args)


def _name_agrees(sig: AgentSignature, name: str | None, prog: str, exe: str) -> bool:
    """Whether the process name (the file the kernel ran, or the title the program set itself) fits an
    ``argv[0]`` that names the agent; a shell's ``exec -a claude sleep 60`` sets argv[0] only."""
    if not name:
        return True
    own = _program(name)
    if own == prog or (len(own) >= 15 and prog.startswith(own)):  # Linux cuts the name at 15 bytes
        return True
    return _interpreter(own) in sig.interpreters or any(m in exe for m in sig.exe_markers)


def _named_program(sig: AgentSignature, argv0: str, exe: str, name: str | None = None) -> bool:
    prog = _program(argv0)
    if prog in sig.programs or any(re.fullmatch(p, prog) for p in sig.program_patterns):
        return _name_agrees(sig, name, prog, exe)
    return any(_ends_with_path(path, p) for path in (argv0, exe) if path for p in sig.program_paths)


def _entry(sig: AgentSignature, name: str | None, exe: str, argv: Sequence[str]) -> _Entry | None:
    """Where the agent's own arguments start in ``argv``, or ``None`` when it is not this agent."""
    argv0 = argv[0] if argv else (name or "")
    families = [_interpreter(argv0)] + ([_interpreter(exe)] if exe else [])
    family = next((f for f in families if f in sig.interpreters), None)
    if family is not None and argv:
        script_at = _find_script(sig, family, argv[1:])
        if script_at is not None:
            return _Entry(2 + script_at, argv[1 + script_at])
    via_exe = any(m in exe for m in sig.exe_markers) and (not argv or _basename(argv0) == _basename(exe))
    if _named_program(sig, argv0, exe, name) or via_exe:
        return _Entry(1)
    return None


def _first_positional(args: Sequence[str], value_options: frozenset[str]) -> int | None:
    """Index of the first argument that is neither an option nor the value of one."""
    skip_next = False
    for i, arg in enumerate(args):
        if skip_next:
            skip_next = False
            continue
        if arg.startswith("-") and arg != "-":
            skip_next = arg in value_options
            continue
        return i
    return None


def _subcommand(sig: AgentSignature, rest: Sequence[str]) -> str | None:
    if not sig.options_before_subcommand:
        return rest[0] if rest else None
    at = _first_positional(rest, sig.value_options)
    return rest[at] if at is not None else None


def _denied(sig: AgentSignature, exe: str, argv0: str, entry: _Entry, rest: Sequence[str]) -> bool:
    checked_paths = [exe, _norm_path(argv0)] + ([_norm_path(entry.script)] if entry.script else [])
    if any(marker in path for path in checked_paths for marker in sig.deny_markers):
        return True
    if any(arg.split("=", 1)[0] in sig.deny_flags for arg in rest):
        return True
    if any(_ends_with_path(arg, s) for arg in rest for s in sig.deny_arg_suffixes):
        return True
    return _subcommand(sig, rest) in sig.deny_subcommands


def _match(sig: AgentSignature, name: str | None, exe: str, argv: Sequence[str]) -> _Entry | None:
    entry = _entry(sig, name, exe, argv)
    if entry is None:
        return None
    argv0 = argv[0] if argv else (name or "")
    return None if _denied(sig, exe, argv0, entry, argv[entry.start :]) else entry


def _classify(
    name: str | None, exe: str | None, cmdline: Sequence[str], signatures: Sequence[AgentSignature]
) -> tuple[AgentSignature, _Entry] | None:
    argv = tuple(cmdline)
    exe_path = _norm_path(exe) if exe else ""
    for sig in signatures:
        entry = _match(sig, name, exe_path, argv)
        if entry is not None:
            return sig, entry
    return None


def classify(
    name: str | None,
    exe: str | None,
    cmdline: Sequence[str],
    *,
    signatures: Sequence[AgentSignature] | None = None,
) -> str | None:
    """Return the agent a process is (e.g. ``"claude-code"``, ``"codex"``), or ``None``.

    ``name`` is the process name (psutil ``name()``), ``exe`` its executable path and ``cmdline``
    its argv; any may be empty/``None`` when unreadable. Matching is by exact signature, so
    ``grep claude``, ``claude-squad``, ``ccusage``, a Playwright ``…/claude-tools/…/cli.js``,
    ``codex-linux-sandbox``, an ``aider.py`` or an Electron ``--type=renderer`` helper are not
    agents. See :class:`AgentSignature` for the rules. ``signatures``: the registered agents' unless
    given.
    """
    found = _classify(name, exe, cmdline, agent_signatures() if signatures is None else signatures)
    return found[0].agent if found else None


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
    # The name the user gave (--name, /rename); a name Claude Code derived itself ("derived") is none.
    name: str | None = None


def _given_name(raw: Mapping[str, object]) -> str | None:
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip() or raw.get("nameSource") == "derived":
        return None
    return name


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
        name=_given_name(raw),
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
    stat = _proc_text(f"/proc/{pid}/stat")
    return parse_proc_stat_start(stat) if stat is not None else None


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
    """A small JSON side file (a status file), or None; a FIFO or device here is never waited on."""
    from llm_session_manager.fileio import read_regular

    try:
        raw = read_regular(path, _SIDE_FILE_MAX)
        return json.loads(raw) if raw is not None else None
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


def _resume_subcommand_hint(sig: AgentSignature, args: Sequence[str]) -> str | None:
    """``<resume_subcommand> <uuid>`` among the agent's positional arguments (``codex resume <id>``,
    ``codex exec resume <id>``); ``fork`` and ``--last`` name no id and give nothing."""
    if sig.resume_subcommand is None:
        return None
    positional: list[str] = []
    rest = list(args)
    while rest:
        at = _first_positional(rest, sig.value_options)
        if at is None:
            break
        positional.append(rest[at])
        rest = rest[at + 1 :]
    for i, arg in enumerate(positional[:-1]):
        if arg == sig.resume_subcommand and _UUID_RE.match(positional[i + 1]):
            return positional[i + 1]
    return None


def _argv_hint(sig: AgentSignature, entry: _Entry, cmdline: Sequence[str]) -> str | None:
    if not sig.argv_hints:
        return None
    return session_hint_from_argv(cmdline) or _resume_subcommand_hint(sig, cmdline[entry.start :])


# --------------------------------------------------------------------------------------------
# Session hints: Codex's open rollout file
# --------------------------------------------------------------------------------------------


def rollout_session_id(path: str) -> str | None:
    """The session uuid of a Codex rollout path ``…/sessions/YYYY/MM/DD/rollout-<ts>-<uuid>.jsonl``,
    lower-cased as the Codex reader names its sessions."""
    matched = _ROLLOUT_RE.search(_norm_path(path))
    return matched.group(1).lower() if matched else None


def _rollout_is_subagent(path: str) -> bool:
    """Whether the rollout's first line (``session_meta``) says a sub-agent thread wrote it:
    ``payload.source`` is ``{"subagent": …}`` (a top-level session has ``"cli"``, ``"exec"``, …)."""
    from llm_session_manager.fileio import open_regular

    try:
        with open_regular(path) as fh:  # never a FIFO's open() that waits for a writer
            head = fh.readline(_ROLLOUT_HEAD_MAX)
        meta = json.loads(head)
    except (OSError, ValueError):
        return False
    payload = meta.get("payload") if isinstance(meta, dict) else None
    source = payload.get("source") if isinstance(payload, dict) else None
    return isinstance(source, dict) and "subagent" in source


def _mtime(path: str) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return float("-inf")


def pick_rollout(paths: Iterable[str]) -> str | None:
    """The rollout a Codex process's session is written to, among the rollouts it holds open.

    One file: that one. Several (sub-agent threads write rollouts of their own; after ``/new`` the
    old one may still be open): the files whose ``session_meta`` is not a sub-agent's are
    preferred, and of those the most recently written wins.
    """
    unique = sorted({p for p in paths if rollout_session_id(p)})
    if len(unique) <= 1:
        return unique[0] if unique else None
    top_level = [p for p in unique if not _rollout_is_subagent(p)] or unique
    return max(top_level, key=lambda p: (_mtime(p), p))


def _open_rollout_hint(handle: psutil.Process | None) -> str | None:
    """The session id of the rollout a live Codex process holds open (``open_files`` is costly:
    called only for Codex processes that are kept)."""
    if handle is None:
        return None
    import psutil

    try:
        files = handle.open_files()
    except psutil.Error:  # AccessDenied, NoSuchProcess, ZombieProcess
        return None
    picked = pick_rollout(f.path for f in files)
    return rollout_session_id(picked) if picked else None


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
    handle: psutil.Process | None = field(default=None, compare=False, repr=False)


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
    import psutil

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
    import psutil

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


def _with_status(process: Process, status: StatusFile | None) -> Process:
    if status is None:
        return process
    return replace(
        process,
        cwd=process.cwd or status.cwd,
        state=status.status,
        state_updated_at=status.status_updated_at,
        session_hint=status.session_id,
        hint_source="status-file" if status.session_id else None,
        name=status.name,
    )


def _iter_matched(config_dirs: Sequence[Path], parent_of: dict[int, int | None]) -> Iterable[_Seen]:
    """The single process_iter pass. Fills ``parent_of`` for every process as a side effect."""
    import psutil  # here: `lsm list`'s fast path loads it only when /proc shows a possible agent

    key, mine = _user_matcher()
    sigs = agent_signatures()
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
        found = _classify(_as_str(info.get("name")), _as_str(info.get("exe")), cmdline, sigs)
        if found is None:
            continue
        probed = _probe(proc)
        if probed is None:  # vanished since the listing
            continue
        from llm_session_manager.models import Process  # here: `lsm list`'s fast path finds no agent

        sig, entry = found
        cwd, rss, cpu = probed
        create_time = info.get("create_time")
        create_time = float(create_time) if isinstance(create_time, (int, float)) else None
        started = datetime.fromtimestamp(create_time, tz=timezone.utc) if create_time is not None else None
        process = Process(
            pid=pid, agent=sig.agent, cwd=cwd, started_at=started, cpu_pct=cpu, rss_bytes=rss, cmdline=cmdline
        )
        status = (
            _live_status(config_dirs, pid, create_time, _linux_start_ticks(pid)) if sig.status_file else None
        )
        process = _with_status(process, status)
        if process.session_hint is None:
            hint = _argv_hint(sig, entry, cmdline)
            if hint is not None:
                process = replace(process, session_hint=hint, hint_source="argv")
        yield _Seen(pid, parent_of[pid], create_time, process, status is not None, proc)


def _proc_text(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except OSError:
        return None
    return raw.decode(sys.getfilesystemencoding(), sys.getfilesystemencodeerrors())


def proc_identity(pid: int, proc: str = "/proc") -> tuple[str, str | None, tuple[str, ...]] | None:
    """A Linux process's name, executable and argv read from ``/proc`` exactly as psutil's ``name()``,
    ``exe()`` and ``cmdline()`` report them (psutil's own rules, repeated here so that `lsm list`'s fast
    path need not load it); an unreadable executable is None, a process gone is None."""
    stat = _proc_text(f"{proc}/{pid}/stat")
    if stat is None:
        return None
    close = stat.rfind(")")
    name, zombie = stat[stat.find("(") + 1 : close], stat[close + 2 : close + 3] == "Z"
    data = _proc_text(f"{proc}/{pid}/cmdline") or ""
    cmdline: list[str] = []
    if data:
        sep = "\x00" if data.endswith("\x00") else " "  # a retitled process may use spaces
        data = data[:-1] if data.endswith(sep) else data
        cmdline = data.split(sep)
        if sep == "\x00" and len(cmdline) == 1 and " " in data:
            cmdline = data.split(" ")
    if len(name) >= 15 and cmdline:  # the kernel cuts the name at 15 bytes; psutil extends it
        extended = os.path.basename(cmdline[0])
        name = extended if extended.startswith(name) else name
    exe: str | None
    try:
        exe = os.readlink(f"{proc}/{pid}/exe").split("\x00")[0]
        if exe.endswith(" (deleted)") and not os.path.exists(exe):
            exe = exe[:-10]
    except (FileNotFoundError, ProcessLookupError):  # a kernel thread, a zombie (unknown to psutil)
        exe = None if zombie else ""
    except OSError:  # another user's process
        exe = None
    return name, exe, tuple(cmdline)


def could_find_agents(proc: str = "/proc") -> bool:
    """False only when :func:`scan_processes` can find no agent at all: no process on the machine, of any
    user, is one by :func:`classify`, read from ``/proc`` without psutil (a few ms where psutil's import
    and pass take ~40: `lsm list`'s fast path asks this first). True off Linux."""
    if not sys.platform.startswith("linux"):
        return True
    try:
        pids = [int(name) for name in os.listdir(proc) if name.isdigit()]
    except OSError:
        return True
    sigs = agent_signatures()
    for pid in pids:
        seen = proc_identity(pid, proc)
        if seen is not None and _classify(seen[0] or None, seen[1] or None, seen[2], sigs) is not None:
            return True
    return False


def _same_agent(a: _Seen | None, b: _Seen) -> bool:
    return a is not None and a.process.agent == b.process.agent


def _is_wrapper(parent: _Seen, child: _Seen, by_pid: Mapping[int, _Seen]) -> bool:
    """Whether ``parent`` only wraps its same-agent direct ``child`` (npm shim, launcher).

    It is when it has no live status file of its own and either started the child within a few
    seconds, or the agent re-launches its worker at any time and ``parent`` is no such worker
    itself (its own parent is not the same agent).
    """
    if parent.from_status_file:
        return False
    sig = _signature_of(parent.process.agent)
    relaunches = sig is not None and sig.relaunches
    if relaunches and parent.ppid is not None and not _same_agent(by_pid.get(parent.ppid), parent):
        return True
    if parent.create_time is None or child.create_time is None:
        return False
    return 0 <= child.create_time - parent.create_time <= _WRAPPER_CHILD_WINDOW_S


def _has_same_agent_ancestor(
    seen: _Seen, by_pid: Mapping[int, _Seen], parent_of: Mapping[int, int | None]
) -> bool:
    current = seen.ppid
    for _ in range(_MAX_ANCESTRY):
        if current is None:
            return False
        if _same_agent(by_pid.get(current), seen):
            return True
        current = parent_of.get(current)
    return False


def _redundant(seen: Sequence[_Seen], parent_of: Mapping[int, int | None]) -> set[int]:
    """PIDs of matched processes that are not a session of their own.

    * An editor app (``topmost_only``) counts once: a process with a same-agent ancestor is the
      app's helper (an extension server run by the app's binary, a second main under the first).
    * Otherwise a parent that only wraps its same-agent child is dropped (see :func:`_is_wrapper`);
      the child is the session.
    """
    by_pid = {s.pid: s for s in seen}
    out: set[int] = set()
    for item in seen:
        sig = _signature_of(item.process.agent)
        if sig is not None and sig.topmost_only:
            if _has_same_agent_ancestor(item, by_pid, parent_of):
                out.add(item.pid)
            continue
        parent = by_pid.get(item.ppid) if item.ppid is not None else None
        if parent is not None and _same_agent(parent, item) and _is_wrapper(parent, item, by_pid):
            out.add(parent.pid)
    return out


def _with_open_file_hint(item: _Seen) -> Process:
    """Codex: the rollout the process holds open names its session (beats an argv hint)."""
    sig = _signature_of(item.process.agent)
    if sig is None or not sig.open_rollout:
        return item.process
    hint = _open_rollout_hint(item.handle)
    if hint is None:
        return item.process
    return replace(item.process, session_hint=hint, hint_source="open-file")


def scan_processes(
    claude_config_dirs: Sequence[Path], *, self_pid: int | None = None, within: Path | None = None
) -> list[Process]:
    """Running agent processes of the current user, one per session (one per editor app), oldest
    first; with ``within``, only those working in that folder or below it (see :func:`scope`).

    Makes one :func:`psutil.process_iter` pass; processes that vanish or deny access are skipped
    or get ``None`` fields, never an exception. Excluded: processes :func:`classify` rejects,
    zombies, other users' processes, ``self_pid`` (default: this process) and descendants, wrapper
    parents whose real agent process is their child (npm launchers of Codex and the Copilot CLI,
    Gemini's self-relaunching launcher), and an editor app's own descendants.

    Session hints:

    * Claude Code: the live status file ``<dir>/sessions/<pid>.json`` is read from every dir in
      ``claude_config_dirs`` and honoured only when its ``procStart`` matches the process (see
      :func:`proc_start_matches`); it sets ``state``, ``state_updated_at`` and ``session_hint``
      (``hint_source="status-file"``).
    * Codex: the rollout file the process holds open (``psutil.Process.open_files``, only for
      Codex processes that are kept) gives the session uuid (``hint_source="open-file"``; see
      :func:`pick_rollout`). Codex creates the file lazily, so a new session has none before its
      first message.
    * Otherwise ``--session-id``/``--resume`` (and ``codex resume <uuid>``) in argv gives the hint
      (``hint_source="argv"``), except for editors and Aider.

    Gemini, Aider and the editors get no hint here: they are linked by their cwd.

    ``cpu_pct`` is usage since the previous scan in this Python process (psutil keeps the process
    objects between :func:`psutil.process_iter` calls); on the first scan, the lifetime average.
    Note that CPU use says little about whether an agent is busy; use ``state``.
    """
    me = os.getpid() if self_pid is None else self_pid
    parent_of: dict[int, int | None] = {}
    seen = list(_iter_matched(claude_config_dirs, parent_of))
    excluded = _family(me, parent_of) | _redundant(seen, parent_of)
    kept = [s for s in seen if s.pid not in excluded and _works_within(s.process, within)]
    kept.sort(key=lambda s: (s.create_time if s.create_time is not None else float("inf"), s.pid))
    return [_with_open_file_hint(s) for s in kept]


def running_agents(
    claude_config_dirs: Sequence[Path], env: Mapping[str, str], *, ask_proc_first: bool = True
) -> list[Process]:
    """:func:`scan_processes` from this process, within the environment's :func:`scope`. A one-shot caller
    asks ``/proc`` first (:func:`could_find_agents`), so that psutil is loaded only when some process
    could be an agent; a long-running one (the dashboard, every tick) has it loaded and goes straight on."""
    if ask_proc_first and not could_find_agents():
        return []
    return scan_processes(claude_config_dirs, self_pid=os.getpid(), within=scope(env))


def scope(env: Mapping[str, str]) -> Path | None:
    """``LSM_DISCOVERY_UNDER``: the folder whose agents alone are looked at (None: every folder). A test
    suite sets it to each test's own folder, so that agents running on the machine, or started by a
    test running alongside, are never in a test's world."""
    value = env.get("LSM_DISCOVERY_UNDER", "").strip()
    return Path(os.path.realpath(os.path.expanduser(value))) if value else None


def _works_within(process: Process, folder: Path | None) -> bool:
    if folder is None:
        return True
    if not process.cwd:  # unknown (access denied): cannot be shown to be inside
        return False
    return Path(os.path.realpath(process.cwd)).is_relative_to(folder)


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
