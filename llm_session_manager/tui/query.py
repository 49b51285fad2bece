"""The monitor's ``/`` filter: words to find, and ``agent:``, ``status:``, ``project:``, ``tag:`` fields.

``agent:codex status:active jwt`` keeps the Codex sessions that are active and mention "jwt" in their
title, id, project, model, tags or description. Matching ignores case; every part must match; a field
given twice matches either value (``agent:codex agent:gemini``). Pure functions.
"""

from __future__ import annotations

from dataclasses import dataclass

from llm_session_manager.models import SessionView
from llm_session_manager.service import project_name

FIELDS = ("agent", "status", "project", "tag")
# What "status:" also accepts: the agent's own state, and "needs" for every state that waits on the user.
NEEDS_YOU = frozenset({"waiting", "waiting_input", "waiting_permission"})


@dataclass(frozen=True)
class Query:
    words: tuple[str, ...] = ()
    agent: tuple[str, ...] = ()
    status: tuple[str, ...] = ()
    project: tuple[str, ...] = ()
    tag: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.words or self.agent or self.status or self.project or self.tag)


def parse_query(text: str) -> Query:
    fields: dict[str, list[str]] = {name: [] for name in FIELDS}
    words: list[str] = []
    for part in text.lower().split():
        name, sep, value = part.partition(":")
        if sep and name in fields:
            if value:
                fields[name].append(value)
        else:
            words.append(part)
    return Query(tuple(words), *(tuple(fields[name]) for name in FIELDS))


def _state_words(view: SessionView) -> set[str]:
    proc = view.session.process
    states = {s for s in (view.state, proc.state if proc else None) if s}
    return {view.status, *states, *(("needs", "needs-you") if states & NEEDS_YOU else ())}


def haystack(view: SessionView) -> str:
    s = view.session
    parts = [s.title, s.native_id, s.agent, project_name(view), s.project_path, s.model, view.description]
    return "\n".join([p for p in parts if p] + view.tags).lower()


def matches(view: SessionView, q: Query) -> bool:
    s = view.session
    if q.agent and not any(s.agent.startswith(a) for a in q.agent):
        return False
    if q.status and not any(w.startswith(st) for st in q.status for w in _state_words(view)):
        return False
    if q.project:
        name, path = (project_name(view) or "").lower(), (s.project_path or "").lower()
        if not any(p in name or p in path for p in q.project):
            return False
    if q.tag and not any(t.lower().startswith(want) for want in q.tag for t in view.tags):
        return False
    text = haystack(view) if q.words else ""
    return all(word in text for word in q.words)
