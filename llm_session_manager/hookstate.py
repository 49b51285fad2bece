"""What a session is doing right now, from the events its agent pushes through `lsm hook`.

Pure functions: ``parse_record`` checks one spool line, ``apply`` folds an event into the session's
``HookState``, ``live_state`` decides between that, the agent's own status file and lsm's activity
guess. The store (``store/hook_events.py``) keeps the states; front ends only show them.

States: ``working`` (a turn runs), ``waiting_permission`` (a tool call waits for the user's approval),
``waiting_input`` (the agent asked the user something or has been idle at its prompt), ``idle`` (the
turn ended), ``compacting`` (the context is being summarised), ``ended`` (the session closed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llm_session_manager.models import Process, Session

STATES = ("working", "waiting_permission", "waiting_input", "idle", "compacting", "ended")
SOURCES = ("hooks", "status-file", "activity")

# Events that set a state by themselves, across the three agents (Claude Code 2.1.197, Codex 0.171,
# Gemini CLI 0.61). Events not listed here (CwdChanged, ConfigChange, auth notifications…) change nothing.
_EVENT_STATE = {
    "UserPromptSubmit": "working",  # Claude Code, Codex
    "BeforeAgent": "working",  # Gemini CLI
    "PreToolUse": "working",
    "BeforeTool": "working",
    "PostToolUse": "working",
    "PostToolUseFailure": "working",
    "PostToolBatch": "working",
    "AfterTool": "working",
    "BeforeModel": "working",
    "AfterModel": "working",
    "BeforeToolSelection": "working",
    "PermissionDenied": "working",  # auto mode refused a call; the turn goes on
    "SubagentStart": "working",
    "SubagentStop": "working",
    "ElicitationResult": "working",
    "PermissionRequest": "waiting_permission",
    "Elicitation": "waiting_input",  # an MCP server asks the user a question
    "Stop": "idle",
    "StopFailure": "idle",
    "AfterAgent": "idle",
    "Interrupt": "idle",  # Codex: the user interrupted the turn
    "PreCompact": "compacting",
    "SessionEnd": "ended",
}
# Notification types that mean "the user is needed" (Claude Code's notification_type; Gemini CLI's).
_NOTIFICATION_STATE = {
    "permission_prompt": "waiting_permission",
    "ToolPermission": "waiting_permission",
    "idle_prompt": "waiting_input",
    "elicitation_dialog": "waiting_input",
}
# Events that count a compaction. Gemini CLI 0.61 fires PreCompress (trigger "auto") before every model
# call, before it even checks whether compression is due, so it counts nothing and only a manual
# /compress shows as compacting; its transcript still counts the real ones.
_COMPACTION_EVENTS = {"PostCompact"}
_TOOL_EVENTS = {"PreToolUse", "BeforeTool", "PermissionRequest"}

MAX_FIELD = 1024


@dataclass(frozen=True)
class HookEvent:
    """One spool record (see ``hookspool.record``); ``at`` in seconds since the epoch."""

    at: float
    agent: str
    event: str
    session_id: str
    cwd: str | None = None
    transcript_path: str | None = None
    tool: str | None = None
    subject: str | None = None
    ntype: str | None = None
    message: str | None = None
    why: str | None = None
    agent_id: str | None = None


@dataclass(frozen=True)
class HookState:
    """A session's live state as its hooks tell it."""

    agent: str
    session_id: str
    state: str
    detail: str | None
    since: float  # when the session entered ``state``
    last_event: str
    last_event_at: float
    cwd: str | None = None
    transcript_path: str | None = None
    compactions: int = 0
    # The API error that ended the last turn (StopFailure), cleared by the next prompt.
    failure: str | None = None
    events: int = 0


@dataclass(frozen=True)
class LiveState:
    state: str | None
    detail: str | None
    since: datetime | None
    source: str | None


def _field(raw: Mapping[str, object], key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_FIELD:
        raise ValueError(f"field {key!r} is not a short string")
    return value or None


def parse_record(raw: object) -> HookEvent:
    """A decoded spool line as a ``HookEvent``; ``ValueError`` for anything of the wrong shape."""
    if not isinstance(raw, Mapping) or raw.get("v") != 1:
        raise ValueError("not a version-1 spool record")
    at = raw.get("t")
    if isinstance(at, bool) or not isinstance(at, (int, float)) or not 0 < at < 1e11:
        raise ValueError("bad time")
    agent, event, sid = _field(raw, "agent"), _field(raw, "event"), _field(raw, "sid")
    if not agent or not event or not sid:
        raise ValueError("agent, event and session id are required")
    return HookEvent(
        at=float(at),
        agent=agent,
        event=event,
        session_id=sid,
        cwd=_field(raw, "cwd"),
        transcript_path=_field(raw, "tp"),
        tool=_field(raw, "tool"),
        subject=_field(raw, "subject"),
        ntype=_field(raw, "ntype"),
        message=_field(raw, "msg"),
        why=_field(raw, "why"),
        agent_id=_field(raw, "aid"),
    )


def tool_detail(tool: str | None, subject: str | None) -> str | None:
    if tool and subject:
        return f"{tool}: {subject}"
    return tool or subject


def _transition(prev: HookState | None, ev: HookEvent) -> tuple[str | None, str | None]:
    """(new state, its detail) for ``ev``; a None state means the event changes nothing."""
    if ev.event == "Notification":
        state = _NOTIFICATION_STATE.get(ev.ntype or "")
        if state == "waiting_permission" and prev is not None and prev.state == state and prev.detail:
            return state, prev.detail  # the PermissionRequest before it named the tool
        if state == "waiting_permission" and ev.subject:
            return state, tool_detail(ev.message, ev.subject)
        return state, ev.message
    if ev.event == "SessionStart":
        # After a compaction Claude Code starts the session again and the turn goes on.
        return ("working" if ev.why == "compact" else "idle"), None
    if ev.event == "PostCompact":
        return ("idle" if ev.why == "manual" else "working"), None
    if ev.event == "PreCompress":
        return ("compacting", ev.why) if ev.why == "manual" else (None, None)
    state = _EVENT_STATE.get(ev.event)
    if state is None:
        return None, None
    if ev.event in _TOOL_EVENTS:
        return state, tool_detail(ev.tool, ev.subject)
    if ev.event == "StopFailure":
        return state, "turn failed: " + " - ".join(p for p in (ev.why or "error", ev.message) if p)
    if ev.event == "Interrupt":
        return state, "interrupted"
    if state in ("ended", "compacting"):
        return state, ev.why
    return state, None


def apply(prev: HookState | None, ev: HookEvent) -> HookState:
    """The session's state after ``ev``. Events arrive in spool order; one older than the state
    (written by a slower hook process) updates counts but never rewinds the state."""
    state, detail = _transition(prev, ev)
    compactions = (prev.compactions if prev else 0) + (1 if ev.event in _COMPACTION_EVENTS else 0)
    failure = prev.failure if prev else None
    if ev.event == "StopFailure":
        failure = detail
    elif state == "working" and ev.event in ("UserPromptSubmit", "BeforeAgent"):
        failure = None
    if prev is None:
        base = HookState(ev.agent, ev.session_id, state or "working", detail, ev.at, ev.event, ev.at)
    elif state is None or ev.at < prev.last_event_at:
        base = prev
    elif state == prev.state:
        base = replace(prev, detail=detail if detail is not None else prev.detail)
    else:
        base = replace(prev, state=state, detail=detail, since=ev.at)
    newest = prev is None or ev.at >= prev.last_event_at
    return replace(
        base,
        last_event=ev.event if newest else base.last_event,
        last_event_at=max(ev.at, base.last_event_at),
        cwd=ev.cwd or base.cwd,
        transcript_path=ev.transcript_path or base.transcript_path,
        compactions=compactions,
        failure=failure,
        events=(prev.events if prev else 0) + 1,
    )


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


# Claude Code's status file (``sessions/<pid>.json``) says busy, idle or waiting.
_STATUS_FILE_STATE = {"busy": "working", "idle": "idle", "waiting": "waiting_input"}
_STATUS_GROUP = {
    "working": "busy",
    "compacting": "busy",
    "idle": "idle",
    "waiting_input": "waiting",
    "waiting_permission": "waiting",
}
# How much newer than the last hook event a disagreeing status file must be to win: the two are
# written by different processes a few milliseconds apart.
STATUS_FILE_MARGIN = timedelta(seconds=2)
# Events from before the process started belong to an earlier run of the same session (a resume).
START_SLACK = timedelta(seconds=5)
# A transcript written this long after the last hook event means the hooks stopped reporting (removed,
# or Codex has not trusted them yet): every agent fires an event around each write that long apart.
SILENT_HOOKS = timedelta(minutes=2)


def _hook_fresh(hook: HookState, process: Process | None, last_activity: datetime | None = None) -> bool:
    last = _utc(hook.last_event_at)
    if hook.state != "ended" and last_activity is not None and last_activity > last + SILENT_HOOKS:
        return False
    if hook.state == "ended":
        # SessionEnd shows at once, unless a new process has resumed the session since.
        return process is None or process.started_at is None or process.started_at - START_SLACK <= last
    if process is None:
        return False  # killed without a SessionEnd: the process table knows better
    if process.started_at is not None and last < process.started_at - START_SLACK:
        return False
    status = process.state
    updated = process.state_updated_at
    if status and updated is not None and updated > last + STATUS_FILE_MARGIN:
        return _STATUS_GROUP.get(hook.state) == status
    return True


def live_state(
    hook: HookState | None, process: Process | None, status: str, last_activity: datetime | None
) -> LiveState:
    """The state a session shows: its hooks' while fresh, else Claude Code's status file, else lsm's
    own reading of process and transcript activity (``status`` is the listing's active/idle/ended)."""
    if hook is not None and _hook_fresh(hook, process, last_activity):
        return LiveState(hook.state, hook.detail, _utc(hook.since), "hooks")
    if status == "imported":
        return LiveState(None, None, None, None)
    if process is not None and process.state in _STATUS_FILE_STATE:
        return LiveState(_STATUS_FILE_STATE[process.state], None, process.state_updated_at, "status-file")
    if process is None:
        return LiveState("ended", None, last_activity, "activity")
    return LiveState("working" if status == "active" else "idle", None, last_activity, "activity")


def status_with(status: str, live: LiveState) -> str:
    """The listing's status, told by the hooks when they know: a session they say is at work is
    active even when its transcript has been quiet for a while (a long tool call, a permission wait)."""
    if live.source == "hooks" and status == "idle" and live.state in ("working", "compacting"):
        return "active"
    return status


def with_hook_counts(session: Session, hook: HookState | None) -> Session:
    """The session with what only the hooks know yet: compactions counted live (the transcript's
    count when higher), and an API error that ended its last turn (for the health score)."""
    if hook is None:
        return session
    changes: dict[str, int] = {}
    if hook.compactions > session.compactions:
        changes["compactions"] = hook.compactions
    if hook.failure and hook.state == "idle" and _hook_fresh(hook, session.process, session.last_activity):
        changes["recent_api_errors"] = max(session.recent_api_errors, 1)
    return replace(session, **changes) if changes else session  # type: ignore[arg-type]


def warnings(hook: HookState | None, live: LiveState) -> list[str]:
    if hook is not None and live.source == "hooks" and hook.failure and hook.state == "idle":
        return [f"last turn {hook.failure}"]
    return []


class HookIndex:
    """Hook states by (agent, session id), and by transcript path for an agent whose hook session id
    is not the id lsm lists the session under."""

    def __init__(self, states: Mapping[tuple[str, str], HookState]) -> None:
        self.by_key = dict(states)
        self.by_path: dict[str, HookState] = {}
        for state in sorted(states.values(), key=lambda s: s.last_event_at):
            if state.transcript_path:
                self.by_path[state.transcript_path] = state

    def match(self, session: Session) -> HookState | None:
        if not self.by_key:  # no hooks installed: asked once per session on every dashboard refresh
            return None
        found = self.by_key.get((session.agent, session.native_id))
        if found is not None or not self.by_path:
            return found
        for path in session.transcript_paths:
            state = self.by_path.get(path)
            if state is not None and state.agent == session.agent:
                return state
        return None
