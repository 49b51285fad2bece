"""Which hook events deserve telling the user, what to say, and how often.

``alert_for`` turns one event into an ``Alert`` (or nothing): a session starts waiting for permission or
for input, finishes its turn, fails it (an API error), or is about to auto-compact. The text names the
session (title, project, agent) and the question, with secrets redacted and control characters made
visible (``safetext``). ``RateLimit`` keeps one alert per session and kind within the configured
interval: Claude Code's PermissionRequest and its permission notification six seconds later are one
alert. Delivery (a desktop notification, the terminal bell) is the front end's part.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from llm_session_manager.hookstate import HookEvent, tool_detail
from llm_session_manager.paths import Paths
from llm_session_manager.safetext import for_terminal, title_line, without_secrets

if TYPE_CHECKING:
    from llm_session_manager.config import Config

KINDS = ("waiting_permission", "waiting_input", "finished", "failed", "compacting")

_PERMISSION_NOTIFICATIONS = {"permission_prompt", "ToolPermission"}
_INPUT_NOTIFICATIONS = {"idle_prompt", "elicitation_dialog"}
_HEADLINES = {
    "waiting_permission": "needs your permission",
    "waiting_input": "is waiting for you",
    "finished": "finished its turn",
    "failed": "stopped on an error",
    "compacting": "is about to auto-compact its context",
}
TITLE_LIMIT = 60
BODY_LIMIT = 200


@dataclass(frozen=True)
class SessionName:
    title: str | None
    project: str | None


@dataclass(frozen=True)
class Alert:
    kind: str
    agent: str
    session_id: str
    at: float
    title: str  # one line: who and what
    body: str  # one line: the question, the project, the agent


def kind_of(ev: HookEvent) -> str | None:
    if ev.event == "PermissionRequest" or (
        ev.event == "Notification" and ev.ntype in _PERMISSION_NOTIFICATIONS
    ):
        return "waiting_permission"
    if ev.event == "Elicitation" or (ev.event == "Notification" and ev.ntype in _INPUT_NOTIFICATIONS):
        return "waiting_input"
    if ev.event in ("Stop", "AfterAgent"):
        return "finished"
    if ev.event == "StopFailure":
        return "failed"
    if ev.event == "PreCompact" and ev.why == "auto":  # Gemini's PreCompress comes on every turn
        return "compacting"
    return None


def _question(kind: str, ev: HookEvent) -> str | None:
    if kind == "waiting_permission":
        return tool_detail(ev.tool or ev.message, ev.subject)
    if kind == "failed":
        return " - ".join(p for p in (ev.why, ev.message) if p) or None
    if kind == "waiting_input":
        return ev.message
    return None


def _clean(text: str, limit: int) -> str:
    return for_terminal(title_line(text, limit))


def alert_for(ev: HookEvent, name: SessionName | None) -> Alert | None:
    kind = kind_of(ev)
    if kind is None:
        return None
    who = (name.title if name else None) or f"{ev.agent} session {ev.session_id[:8]}"
    project = (name.project if name else None) or _folder(ev.cwd)
    question = _question(kind, ev)
    body = " · ".join(p for p in (question, f"project {project}" if project else None, ev.agent) if p)
    return Alert(
        kind=kind,
        agent=ev.agent,
        session_id=ev.session_id,
        at=ev.at,
        title=_clean(f"{without_secrets(who)} {_HEADLINES[kind]}", TITLE_LIMIT + 40),
        body=_clean(body, BODY_LIMIT),
    )


def _folder(cwd: str | None) -> str | None:
    if not cwd:
        return None
    return cwd.replace("\\", "/").rstrip("/").rsplit("/", 1)[-1] or cwd


@dataclass
class RateLimit:
    """At most one alert per (session, kind) every ``interval`` seconds."""

    interval: float
    last: dict[tuple[str, str, str], float] = field(default_factory=dict)

    def allow(self, alert: Alert) -> bool:
        key = (alert.agent, alert.session_id, alert.kind)
        before = self.last.get(key)
        if before is not None and alert.at - before < self.interval:
            return False
        self.last[key] = alert.at
        return True


def select(
    events: list[HookEvent],
    enabled: Mapping[str, object],
    limit: RateLimit,
    name_of: Callable[[str, str], SessionName | None],
) -> list[Alert]:
    """The alerts to deliver for ``events`` (oldest first), per config and rate limit."""
    out = []
    for ev in events:
        kind = kind_of(ev)
        if kind is None or not enabled.get(kind, False):
            continue
        alert = alert_for(ev, name_of(ev.agent, ev.session_id))
        if alert is not None and limit.allow(alert):
            out.append(alert)
    return out


class Watcher:
    """New alerts from the store's hook events since the watcher started, one ``poll`` at a time.
    Session names come from lsm's own listing (cached; read again for a session it does not know)."""

    def __init__(self, paths: Paths, cfg: Config) -> None:
        from llm_session_manager import service
        from llm_session_manager.store import hook_events

        self.paths, self.cfg = paths, cfg
        self.conn = service.open_db(paths)
        service.hook_states(self.conn, paths)
        self.last_id = hook_events.last_event_id(self.conn)  # only what happens from now on
        self.limit = RateLimit(float(cfg["notify"]["min_interval_seconds"]))
        self.names: dict[tuple[str, str], SessionName] = {}
        self.memo: Any = None

    def close(self) -> None:
        self.conn.close()

    def name_of(self, agent: str, session_id: str) -> SessionName | None:
        key = (agent, session_id)
        if key not in self.names:
            self._read_names()
        return self.names.get(key)

    def _read_names(self) -> None:
        from llm_session_manager import service

        if self.memo is None:
            self.memo = service.CollectMemo()
        collected = service.collect(self.paths, self.cfg, conn=self.conn, processes=False, memo=self.memo)
        for view in collected.views:
            s = view.session
            self.names[(s.agent, s.native_id)] = SessionName(s.title, service.project_name(view))

    def poll(self) -> list[Alert]:
        from llm_session_manager import service
        from llm_session_manager.store import hook_events

        service.hook_states(self.conn, self.paths)
        rows = list(hook_events.events_after(self.conn, self.last_id))
        if not rows:
            return []
        self.last_id = rows[-1][0]
        return select([ev for _id, ev in rows], self.cfg["notify"]["events"], self.limit, self.name_of)
