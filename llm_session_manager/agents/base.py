"""What every agent provides: its facts (``AgentInfo``), its reader (``AgentReader``), and the per-file
state the parse cache keeps. Each ``agents/<agent>.py`` declares one ``INFO = AgentInfo(...)``; the
registry in ``agents/__init__.py`` names the module, and every other part of lsm reads the agent's facts
from there."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, TypedDict, runtime_checkable

from llm_session_manager.compaction import DEFAULT_COMPACT, CompactRule
from llm_session_manager.pricing import DEFAULT_WINDOW

if TYPE_CHECKING:
    from llm_session_manager.models import Session
    from llm_session_manager.paths import Paths


@dataclass
class FileState:
    """What has been read of one source file so far.

    ``identity`` is (device, inode, size, mtime_ns) of the file when it was read; ``offset`` the byte
    position after the last complete line; ``head`` a fingerprint of the first bytes (a rewritten file
    is read again from the start); ``data`` the reader's partial aggregate, JSON-serialisable.
    """

    path: str
    session_key: str
    identity: tuple[int, int, int, int]
    offset: int
    head: bytes
    data: dict[str, Any] = field(default_factory=dict)


Identity = tuple[int, int, int, int]  # device, inode, size, mtime_ns (a reader may combine files)


class ToolCall(TypedDict, total=False):
    """A tool the model called, as a conversation turn shows it."""

    id: str | None
    name: str | None
    input: Any


class ToolResult(TypedDict, total=False):
    """What a tool call returned (``tool_use_id``: the call it answers)."""

    tool_use_id: str | None
    is_error: bool
    content: str


class Turn(TypedDict, total=False):
    """One turn of a conversation (``lsm export`` writes these, in order): ``role`` is "user",
    "assistant" or "system"; the rest is there when the agent's log has it. ``id`` is the agent's
    message id, kept only while a reader merges a reply written over several lines."""

    role: str
    timestamp: str | None
    text: str | None
    model: str | None
    tool_calls: list[ToolCall]
    tool_results: list[ToolResult]
    id: str | None


class AgentReader(Protocol):
    """One agent's sessions, read incrementally through the parse cache.

    Readers must be picklable (they are sent to worker processes): keep only plain data on them.
    """

    name: str  # the agent id used in session ids, e.g. "claude-code", "codex"
    parser_version: int  # bump when ``FileState.data`` changes shape or meaning

    def sources(self) -> Iterable[tuple[str, str, Identity]]:
        """(path, session key, identity) of every source file that exists now. The key groups files
        into sessions for the reader's own use (it may be "" when one file holds many sessions)."""
        ...

    def read(self, path: str, session_key: str, prior: FileState | None) -> FileState:
        """Read ``path``, continuing from ``prior`` when the reader can (else from the start)."""
        ...

    def sessions(self, states: Sequence[FileState]) -> list[Session]:
        """Merge file states into sessions."""
        ...

    def roots(self) -> list[tuple[str, bool]]:
        """The places this reader looks, and whether each exists (shown by `lsm info`)."""
        ...


@runtime_checkable
class RebuildingReader(AgentReader, Protocol):
    """A reader that can re-merge only the sessions some changed files affect."""

    def rebuild(
        self, states: Sequence[FileState], changed: Sequence[str], previous: Sequence[Session]
    ) -> list[Session]:
        """The sessions of ``states``: those ``changed`` files cannot affect are taken from ``previous``."""
        ...


@runtime_checkable
class SharingReader(AgentReader, Protocol):
    """A reader whose sessions can share messages (a resumed or forked Claude Code session copies its
    parent's): it names the messages each file holds, so a scan can tell which sessions one changed file
    can affect."""

    def shared_keys(self, state: FileState) -> Iterable[str]:
        """The messages ``state``'s file holds (two sessions holding one share it)."""
        ...

    def message_hashes(self, state: FileState) -> bytes:
        """The CRC-32 (``zlib.crc32`` of the UTF-8) of each message ``shared_keys`` names, each once, as
        the bytes of an ``array("I")``."""
        ...


class ConversationReader(Protocol):
    """Reads a session's conversation from its transcript files. ``native_id`` picks the session in a
    file that holds many (Cursor's database, Aider's history); one-session files ignore it."""

    def __call__(self, paths: Sequence[str], native_id: str | None = None) -> list[Turn]: ...


@dataclass(frozen=True)
class ReaderSetup:
    """What a reader is made from: the paths (and their environment), the config file's settings, and
    the working folders of the agent's running processes (for readers that search for their files)."""

    paths: Paths
    config: Mapping[str, Any] = field(default_factory=dict)
    running_dirs: tuple[str, ...] = ()


@dataclass(frozen=True)
class AgentSignature:
    """How one agent's processes look. Declared by the agent's ``AgentInfo``;
    :mod:`llm_session_manager.discovery` applies it.

    A process matches when either

    * it runs under one of :attr:`interpreters` (by ``argv[0]``, or by its executable when a
      launcher set ``argv[0]`` to something else with ``exec -a``) and runs a script whose path
      ends with one of :attr:`script_suffixes` (whole path components; ``*`` stands for exactly
      one component, e.g. a version directory), or whose basename is in :attr:`script_names` (the
      first non-option argument, e.g. an npm ``bin`` symlink), or — for Python — a module
      (``-m``) in :attr:`modules`; or
    * the basename of ``argv[0]`` (``.exe`` stripped) is in :attr:`programs` or fully matches one
      of :attr:`program_patterns` — or, when argv is unreadable, the process name is — and the
      process name agrees (the same program, one of :attr:`interpreters`, or an executable with one
      of :attr:`exe_markers`: ``exec -a claude sleep 60`` is ``sleep``); or ``argv[0]`` (or the
      executable) ends with one of :attr:`program_paths`; or
    * the executable path contains one of :attr:`exe_markers` and the process was started through
      that executable itself (``argv[0]`` names the same file; macOS can report a version string
      such as ``2.1.144`` as the *name* of a native Claude binary).

    The agent's own arguments are those after the script (interpreted) or after ``argv[0]``. The
    process is then rejected when the executable, ``argv[0]`` or the script path contains one of
    :attr:`deny_markers`; when any of its arguments is one of :attr:`deny_flags` (also as
    ``--flag=value``) or a path ending with one of :attr:`deny_arg_suffixes`; or when its
    subcommand is one of :attr:`deny_subcommands`. The subcommand is the first argument, or —
    with :attr:`options_before_subcommand` — the first argument that is not an option or the
    value of one of :attr:`value_options` (``codex -c k=v app-server``).

    The remaining fields steer :func:`scan_processes`, not :func:`classify`:

    * :attr:`argv_hints`: take ``--resume``/``--session-id`` (and ``<resume_subcommand> <uuid>``)
      from argv as the session hint (off for editors and agents whose ids are not UUIDs);
    * :attr:`relaunches`: the agent runs as a launcher plus a worker child it may restart at any
      time, so a same-agent parent that is not itself a same-agent child is always a launcher;
    * :attr:`topmost_only`: an editor app — report its topmost process once, never a process that
      has a same-agent ancestor (Electron helpers, extension servers run by the app's binary);
    * :attr:`status_file`: the agent writes ``<config dir>/sessions/<pid>.json`` (Claude Code) with
      its live state and session id;
    * :attr:`open_rollout`: the session is named by the rollout file the process holds open (Codex).
    """

    agent: str
    programs: frozenset[str] = frozenset()
    program_patterns: tuple[str, ...] = ()
    program_paths: tuple[str, ...] = ()
    exe_markers: tuple[str, ...] = ()
    interpreters: frozenset[str] = frozenset()
    script_suffixes: tuple[str, ...] = ()
    script_names: frozenset[str] = frozenset()
    modules: frozenset[str] = frozenset()
    deny_markers: tuple[str, ...] = ()
    deny_flags: frozenset[str] = frozenset()
    deny_arg_suffixes: tuple[str, ...] = ()
    deny_subcommands: frozenset[str] = frozenset()
    options_before_subcommand: bool = False
    value_options: frozenset[str] = frozenset()
    resume_subcommand: str | None = None
    argv_hints: bool = True
    relaunches: bool = False
    topmost_only: bool = False
    status_file: bool = False
    open_rollout: bool = False


# Electron editors (VS Code, Cursor): their helper processes and command-line launcher are not the app.
ELECTRON_DENY_FLAGS = frozenset({"--type", "--ms-enable-electron-run-as-node"})
ELECTRON_CLI_SUFFIXES = ("resources/app/out/cli.js",)


@dataclass(frozen=True)
class AgentInfo:
    """Everything lsm knows about one agent, in one place (its ``agents/<agent>.py``).

    ``reader`` makes the agent's reader (its roots are a function of ``ReaderSetup.paths``);
    ``signature`` says how its running processes look (None: it has no process of its own, e.g. an
    extension inside VS Code); ``compact`` where it compacts its context on its own; ``default_window``
    the context window assumed when the model is unknown; ``editor_hosted``: its sessions live inside an
    editor, so closing one must never end the editor and an idle editor is not an idle session;
    ``resume`` the words before the session id that reopen a session (``claude --resume``), when it has
    such a command; ``compact_command`` the command that compacts its context in place (``/compact``),
    when it has one; ``conversation`` reads a session's turns, when lsm can.
    """

    name: str
    display_name: str
    reader: Callable[[ReaderSetup], AgentReader]
    signature: AgentSignature | None = None
    compact: CompactRule = DEFAULT_COMPACT
    default_window: int = DEFAULT_WINDOW
    editor_hosted: bool = False
    resume: tuple[str, ...] | None = None
    compact_command: str | None = None
    conversation: ConversationReader | None = None

    def __post_init__(self) -> None:
        if self.signature is not None and self.signature.agent != self.name:
            raise ValueError(f"{self.name}: its signature is for {self.signature.agent}")

    def roots(self, paths: Paths, config: Mapping[str, Any] | None = None) -> list[tuple[str, bool]]:
        """Where the agent's logs are looked for under ``paths`` (its environment overrides included)
        and ``config``, and whether each place exists: the roots its reader is made with."""
        return self.reader(ReaderSetup(paths, config or {})).roots()
