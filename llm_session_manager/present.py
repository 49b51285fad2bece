"""Plain formatting shared by every front end: numbers, money, ages, short ids, state labels and the
style names of statuses. Pure functions of their arguments, no Rich, no I/O, so the terminal table, the
monitor and the web pages print a session the same way."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from llm_session_manager.safetext import without_secrets

if TYPE_CHECKING:
    from llm_session_manager.models import SessionView

HEALTH_STYLE = {"healthy": "green", "warning": "yellow", "critical": "red"}
STATUS_STYLE = {"active": "bold green", "idle": "yellow", "ended": "dim", "closed": "dim italic"}


def state_label(view: SessionView, *, full: bool = False) -> tuple[str, str] | None:
    """(text, style key) of what the agent says it is doing: its hooks' state (with the tool that
    waits for approval; the whole detail when ``full``), else its status file's word."""
    proc = view.session.process
    if view.state_source != "hooks" or not view.state:
        return (proc.state, proc.state) if proc and proc.state else None
    detail = without_secrets(view.state_detail)
    if detail and (full or view.state == "waiting_permission"):
        shown = detail if full else detail.split(":", 1)[0]
        return f"{view.state} {shown}", view.state
    return view.state, view.state


def human_tokens(n: int | None) -> str:
    if n is None:
        return "-"
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    if n >= 1000:
        return f"{n / 1000:.1f}k"
    return str(n)


def money(v: float | None) -> str:
    if v is None:
        return "?"
    return f"${v:,.2f}" if v >= 0.01 or v == 0 else f"${v:.4f}"


def ago(then: datetime | None, now: datetime) -> str:
    if then is None:
        return "-"
    secs = max(0, int((now - then).total_seconds()))
    if secs < 60:
        return f"{secs}s ago"
    if secs < 3600:
        return f"{secs // 60}m ago"
    if secs < 86400:
        return f"{secs // 3600}h ago"
    return f"{secs // 86400}d ago"


def context_fill(pct: float | None, width: int = 10) -> tuple[str, str]:
    """(bar text, style name) of a context fill: ``"██░░░░░░░░ 20%"`` coloured by how near it is to full."""
    if pct is None:
        return "-", "dim"
    filled = max(0, min(width, round(pct / 100 * width)))
    style = "green" if pct < 50 else "yellow" if pct < 80 else "red"
    return "█" * filled + "░" * (width - filled) + f" {pct:.0f}%", style


def short_ids(natives: Sequence[str], minimum: int = 8) -> dict[str, str]:
    """The shortest prefix (at least ``minimum`` characters) that tells each id apart from the others."""
    ordered = sorted(set(natives))
    # shared[i]: how many leading characters ordered[i - 1] and ordered[i] share (-1 past either end);
    # an id needs one more than it shares with either neighbour.
    shared = [-1] * (len(ordered) + 1)
    for i in range(1, len(ordered)):
        a, b = ordered[i - 1], ordered[i]
        n, limit = 0, min(len(a), len(b))
        while n < limit and a[n] == b[n]:
            n += 1
        shared[i] = n
    return {n: n[: max(minimum, shared[i] + 1, shared[i + 1] + 1)] for i, n in enumerate(ordered)}


def pasteable_ids(
    sessions: Sequence[tuple[str, str]], minimum: int = 6, whole_under: int = 8
) -> dict[str, str]:
    """``agent:native`` -> the id to show for each (agent, native id): the shortest prefix of the native
    id (at least ``minimum`` characters; the whole id when it is at most ``whole_under`` long) that names
    it alone among ``sessions``, so that any command taking an id accepts it. A native id that two agents
    share is shown with its agent (``codex:abc123``); a prefix that would also start an ``agent:`` id
    is lengthened."""
    pairs = dict.fromkeys(sessions)  # each (agent, native id) once, in order
    natives = [native for _agent, native in pairs]
    # Every id shown whole (the piped table asks for that): no prefixes to work out.
    shorts = short_ids(natives, minimum) if any(len(n) > whole_under for n in natives) else {}
    agents: dict[str, int] = {}  # native id -> how many agents have it
    for _agent, native in pairs:
        agents[native] = agents.get(native, 0) + 1
    # Every prefix of an "agent:" head: a short id among them would also start an agent's id.
    clashes = {head[:i] for head in {f"{agent}:" for agent, _n in pairs} for i in range(1, len(head) + 1)}
    out: dict[str, str] = {}
    for agent, native in pairs:
        short = native if len(native) <= whole_under else shorts[native]
        while short != native and short in clashes:
            short = native[: len(short) + 1]
        out[f"{agent}:{native}"] = f"{agent}:{short}" if agents[native] > 1 else short
    return out
