"""Recommendations: what to do about the sessions on this machine. A pure function over session views
(status, cost, health, context, burn rate), the configuration and the moment of asking.

Four kinds, each naming its sessions, the reason in numbers and the exact next step:

- ``restart``: a running session that is failing or about to compact (critical health, context at
  90%+ of the auto-compact point or minutes away from it, compaction thrash, prompt too long).
  The step is the agent's compact command, or a fresh start with a Markdown hand-off
  (``lsm export <id> --format markdown -o handoff-….md``) when compacting will not help.
- ``close_idle``: running sessions with no activity for ``recommend.idle_close_minutes``;
  the step is ``lsm batch-close '<id>'`` for each.
- ``merge``: two or more running sessions of the same repository (the same git repository, found from
  their folders, or the same folder; the same project name only when a folder is unknown) that look
  like the same work: that alone, or also a shared branch, mostly the same tags, or descriptions/titles
  sharing most words. A shared branch name alone is never enough: every repository has a ``main``.
- ``usage_warning``: a running session whose context is over ``recommend.context_warning_pct`` of
  its window, or whose burn rate or cost per hour is over its limit; and today's cost over
  ``recommend.daily_cost_limit_usd``.

"Running" means a process lsm found and tied to the session (status active or idle); ended, closed
and imported sessions get no per-session advice. Reasons and commands name sessions by their shortest
unique id prefix (``present.pasteable_ids``); ``session_ids`` keeps the full ids. The only look outside
the views is for each running session's git repository (``repository_of``, replaceable).
docs/CLI_GUIDE.md (`lsm recommend`) documents every rule and threshold.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from itertools import combinations
from typing import Any

from llm_session_manager.agents import compact_command, editor_hosted
from llm_session_manager.config import DEFAULTS
from llm_session_manager.models import SessionView
from llm_session_manager.present import pasteable_ids

KINDS = ("restart", "usage_warning", "close_idle", "merge")  # also the tie-break order
SEVERITIES = ("critical", "warning", "info")

# Context at this share of the auto-compact point is "near" it (critical from 95%, where the health
# score is capped at critical too), as is a compact point this many minutes away at the current rate.
NEAR_COMPACT = 0.90
CRITICAL_COMPACT = 0.95
SOON_COMPACT_MINUTES = 10.0
# After this many compactions another one loses too much: start fresh instead.
FRESH_AFTER_COMPACTIONS = 3
# A limit exceeded this many times over is critical rather than a warning.
CRITICAL_OVER = 2.0
# Signals that compacting cannot fix.
THRASH_SIGNALS = ("compaction_thrash", "prompt_too_long")
# Branch names every repository has: sharing one says nothing on its own.
GENERIC_BRANCHES = frozenset({"main", "master", "trunk", "develop", "dev", "head"})
SIMILAR_TAGS = 0.5  # Jaccard index of the two tag sets
SIMILAR_WORDS = 0.5  # Jaccard index of the significant words of descriptions (or titles)
MIN_SHARED_WORDS = 2
_WORD = re.compile(r"[^\W_]{3,}", re.UNICODE)
# fmt: off
_STOPWORDS = frozenset({
    "the", "and", "for", "with", "this", "that", "from", "into", "onto", "please", "can", "you", "your",
    "our", "are", "was", "were", "has", "have", "had", "not", "but", "all", "any", "its", "then", "than",
    "them", "they", "what", "when", "where", "which", "who", "why", "how", "there", "here", "also", "just",
    "some", "more", "most", "very", "will", "would", "should", "could", "make", "sure", "use", "using",
    "new", "session",
})
# fmt: on


@dataclass(frozen=True)
class Recommendation:
    """One piece of advice. ``session_ids`` are full ids; ``action`` is a command to run or, where no
    command can do it, the plain step to take. ``magnitude`` is how far past its threshold the finding
    is (used for ranking only; not part of the JSON)."""

    kind: str  # restart | close_idle | merge | usage_warning
    severity: str  # critical | warning | info
    session_ids: tuple[str, ...]
    reason: str
    action: str
    magnitude: float = field(default=0.0, compare=False)
    # The sessions as the text names them (shortest unique id prefixes), for text front ends.
    short_ids: tuple[str, ...] = field(default=(), compare=False)

    def labels(self) -> tuple[str, ...]:
        return self.short_ids or self.session_ids

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "session_ids": list(self.session_ids),
            "reason": self.reason,
            "action": self.action,
        }


def settings(cfg: Mapping[str, Any]) -> dict[str, Any]:
    """The ``recommend`` section of a whole configuration, with defaults for what it lacks."""
    section = cfg.get("recommend") or {}
    return {**DEFAULTS["recommend"], **section}


def recommend(
    views: Sequence[SessionView],
    cfg: Mapping[str, Any],
    now: datetime,
    repo_of: Callable[[str | None], str | None] | None = None,
) -> list[Recommendation]:
    """Every recommendation for ``views``, most urgent first.

    ``cfg`` is the whole configuration (``config.load``); its ``recommend`` section holds the
    thresholds. ``now`` should be aware and in the user's local timezone: its calendar day is "today"
    for the daily cost (a naive ``now`` is taken as UTC). ``views`` should be every session known, so
    that each short id in the text names one session. ``repo_of`` maps a project folder to its
    repository (default ``repository_of``: its git repository on disk, else the folder itself).
    """
    if now.tzinfo is None:
        now = now.replace(tzinfo=timezone.utc)
    st = settings(cfg)
    names = Names(views)
    live = [v for v in views if is_live(v)]
    restarts = [r for r in (restart_for(v, names) for v in live) if r is not None]
    restarted = {r.session_ids[0] for r in restarts}
    out: list[Recommendation] = list(restarts)
    for v in live:
        warning = usage_for(v, st, skip_context=v.session.id in restarted, names=names)
        if warning is not None:
            out.append(warning)
    daily = daily_cost(views, st.get("daily_cost_limit_usd"), now, names)
    if daily is not None:
        out.append(daily)
    idle = close_idle(live, float(st["idle_close_minutes"]), now, names)
    if idle is not None:
        out.append(idle)
    out.extend(merges(live, names, repo_of or repository_of))
    return rank(out)


@functools.lru_cache(maxsize=2)
def _pasteable(sessions: frozenset[tuple[str, str]]) -> dict[str, str]:
    """Kept while the sessions stay the same (the dashboard asks again on every refresh). Read-only."""
    return pasteable_ids(sorted(sessions))


class Names:
    """Each session's shortest unique id prefix among every session known (``present.pasteable_ids``);
    a session not among them is named by its full id."""

    def __init__(self, views: Sequence[SessionView] = ()) -> None:
        self._ids = _pasteable(frozenset((v.session.agent, v.session.native_id) for v in views))

    def __call__(self, view: SessionView) -> str:
        return self._ids.get(view.session.id, view.session.id)

    def of(self, views: Sequence[SessionView]) -> tuple[str, ...]:
        return tuple(self(v) for v in views)


def rank(recs: Sequence[Recommendation]) -> list[Recommendation]:
    """Most urgent first: severity, then kind (restart, usage warning, close idle, merge), then how far
    past its threshold, then the ids (so equal findings keep a stable order)."""
    return sorted(
        recs,
        key=lambda r: (SEVERITIES.index(r.severity), KINDS.index(r.kind), -r.magnitude, r.session_ids),
    )


def is_placeholder(view: SessionView) -> bool:
    """A running process with no transcript lsm could read: its activity and content are unknown."""
    return view.session.process is not None and not view.session.transcript_paths


def is_live(view: SessionView) -> bool:
    """A session with a running process lsm tied to it, not closed through lsm, not imported."""
    return view.session.process is not None and view.status in ("active", "idle")


# --------------------------------------------------------------------------------------------------
# restart / compact


def restart_for(view: SessionView, names: Names | None = None) -> Recommendation | None:
    """Restart or compact advice for one running session, or None when it needs none."""
    s = view.session
    names = names or Names([view])
    fatal = [f for f in s.fatal_signals if f in THRASH_SIGNALS]
    rel = _compact_share(view)
    near = rel is not None and rel >= NEAR_COMPACT
    past = is_past_compact(view)
    soon = (
        not past and view.minutes_to_compact is not None and view.minutes_to_compact <= SOON_COMPACT_MINUTES
    )
    critical = view.health.status == "critical"
    if not (fatal or near or soon or past or critical):
        return None
    parts = [f"health {view.health.score:.0f}/100 ({view.health.status})"]
    parts += [f"the agent reported {f.replace('_', ' ')}" for f in fatal]
    context_part = _context_reason(view, rel)
    if context_part:
        parts.append(context_part)
    if soon and view.minutes_to_compact is not None:
        rate = view.burn_rate_tokens_per_min
        at = f" at {rate:,.0f} tokens/min" if rate else ""
        parts.append(f"it reaches the auto-compact point in {_minutes(view.minutes_to_compact)}{at}")
    if s.compactions:
        parts.append(f"{s.compactions} compaction{'s' if s.compactions != 1 else ''} so far")
    if critical:
        parts += [
            f.reason
            for f in view.health.factors
            if f.score < 50 and f.name != "tokens" and not (fatal and f.name == "duration")
        ]
    severity = "critical" if fatal or critical or (rel is not None and rel >= CRITICAL_COMPACT) else "warning"
    magnitude = 100.0 - view.health.score + (100.0 if fatal else 0.0)
    return Recommendation(
        "restart",
        severity,
        (s.id,),
        "; ".join(_dedupe(parts)),
        _restart_action(view, fatal, near or soon or past, names(view)),
        magnitude,
        (names(view),),
    )


def _restart_action(view: SessionView, fatal: list[str], context_bound: bool, name: str) -> str:
    s = view.session
    handoff = export_command(name, s.native_id)
    fresh = f"start a fresh session from a hand-off: {handoff}, then give the file to a new session"
    fresh_step = "S" + fresh[1:]
    tokens_low = any(f.name == "tokens" and f.score < 50 for f in view.health.factors)
    command = compact_command(s.agent)  # the agent's own (others: start fresh)
    if fatal or s.compactions >= FRESH_AFTER_COMPACTIONS:
        return fresh_step
    if "auth_error" in s.fatal_signals and not (context_bound or tokens_low):
        return "Fix the agent's sign-in or billing (its log shows an authentication error), then continue"
    if (context_bound or tokens_low) and command:
        return f"Run {command} in that session at the next stopping point; or {fresh}"
    return fresh_step


def is_past_compact(view: SessionView) -> bool:
    """The context has reached the auto-compact point (the agent compacts on its next turn): there is no
    "minutes to compaction" left to give."""
    rel = _compact_share(view)
    return (rel is not None and rel >= 1.0) or view.minutes_to_compact == 0


def _minutes(minutes: float) -> str:
    return "under a minute" if minutes < 1 else f"~{minutes:.0f} min"


def _compact_share(view: SessionView) -> float | None:
    ctx = view.session.context_tokens
    if ctx is None or not view.compact_at:
        return None
    return ctx / view.compact_at


def _context_reason(view: SessionView, rel: float | None) -> str | None:
    ctx = view.session.context_tokens
    if rel is None or ctx is None or view.compact_at is None:
        return None
    if rel >= 1.0:
        at = f"{view.compact_at:,}"
        return f"context {ctx:,} tokens is past the auto-compact point ({at}), at {rel:.0%} of it"
    return f"context {ctx:,} tokens = {rel:.0%} of the auto-compact point ({view.compact_at:,})"


# --------------------------------------------------------------------------------------------------
# usage warnings


def usage_for(
    view: SessionView, st: Mapping[str, Any], *, skip_context: bool, names: Names | None = None
) -> Recommendation | None:
    """Context, burn-rate and cost-per-hour warnings for one running session, as one recommendation.

    The context part is left out when the session already has restart advice (``skip_context``). A rate
    or cost at twice its limit or more makes the warning critical; context never does (at the compact
    point it becomes restart advice instead).
    """
    s = view.session
    name = (names or Names([view]))(view)
    parts: list[str] = []
    steps: list[str] = []
    ratios: list[float] = []
    pct_limit = float(st["context_warning_pct"])
    if not skip_context and view.context_pct is not None and view.context_pct >= pct_limit:
        ctx = f"{s.context_tokens:,}" if s.context_tokens is not None else "?"
        window = f" of {s.context_window:,}" if s.context_window else ""
        text = (
            f"context {ctx}{window} tokens ({view.context_pct:.1f}%) is over the {pct_limit:g}% warning level"
        )
        if is_past_compact(view):
            text += "; past the auto-compact point"
        elif view.minutes_to_compact is not None:
            text += f"; {_minutes(view.minutes_to_compact)} to the auto-compact point at the current rate"
        parts.append(text)
        ratios.append(view.context_pct / pct_limit)
        command = compact_command(s.agent)
        how = f"run {command} in that session" if command else "start a fresh session"
        steps.append(f"Finish the current step, then {how} (hand-off: {export_command(name, s.native_id)})")
    over = _rate_findings(view, st)
    for text, _ratio in over:
        parts.append(text)
    if over:
        ratios += [ratio for _text, ratio in over]
        steps.append(
            f"Check the session is not looping ({health_command(name)}), and pause or end it if the spend"
            " is not expected (or raise the limit under 'recommend:' in the config)"
        )
    if not parts:
        return None
    critical = any(ratio >= CRITICAL_OVER for _text, ratio in over)
    return Recommendation(
        "usage_warning",
        "critical" if critical else "warning",
        (s.id,),
        "; ".join(parts),
        "; ".join(steps),
        max(ratios),
        (name,),
    )


def _rate_findings(view: SessionView, st: Mapping[str, Any]) -> list[tuple[str, float]]:
    """The burn rate and cost per hour that are over their limits: (reason, value / limit)."""
    out: list[tuple[str, float]] = []
    burn_limit = st.get("burn_rate_tokens_per_min_limit")
    burn = view.burn_rate_tokens_per_min
    if burn_limit is not None and burn is not None and burn > burn_limit:
        out.append(
            (
                f"burn rate {burn:,.0f} tokens/min is over the limit of {burn_limit:,.0f} tokens/min",
                burn / burn_limit,
            )
        )
    cost_limit = st.get("cost_per_hour_limit_usd")
    cost = view.cost_per_hour_usd
    if cost_limit is not None and cost is not None and cost > cost_limit:
        out.append((f"cost {usd(cost)}/hour is over the limit of {usd(cost_limit)}/hour", cost / cost_limit))
    return out


def daily_cost(
    views: Sequence[SessionView], limit: float | None, now: datetime, names: Names | None = None
) -> Recommendation | None:
    """Today's cost over the daily limit. "Today" is the calendar day of ``now`` in ``now``'s timezone
    (the CLI passes local time). A session counts when its last activity is today; its whole cost counts,
    so a session that began before midnight makes the sum an upper bound (the reason says so)."""
    if limit is None:
        return None
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    today = [
        v
        for v in views
        if v.session.origin != "imported" and v.session.last_activity and v.session.last_activity >= midnight
    ]
    priced = sorted(
        (v for v in today if v.cost_usd is not None), key=lambda v: (-(v.cost_usd or 0.0), v.session.id)
    )
    total = sum(v.cost_usd or 0.0 for v in priced)
    if total <= limit:
        return None
    offset = _utc_offset(now)
    reason = (
        f"{usd(total)} spent today (since {midnight:%Y-%m-%d} 00:00 {offset}) across"
        f" {len(priced)} session(s) is over the daily limit of {usd(limit)}"
    )
    names = names or Names(views)
    top = ", ".join(f"{names(v)} {usd(v.cost_usd or 0.0)}" for v in priced[:3])
    reason += f"; most: {top}"
    earlier = sum(1 for v in priced if v.session.started_at is None or v.session.started_at < midnight)
    if earlier:
        reason += f"; {earlier} of them began before midnight and count in full, so this is an upper bound"
    # A process whose transcript is not identified has its spend in the row that holds the transcript.
    unknown = sum(1 for v in today if v.cost_usd is None and not is_placeholder(v))
    if unknown:
        reason += f"; {unknown} session(s) with an unknown cost are not counted"
    since = midnight.isoformat(timespec="seconds")
    action = (
        f"See where it went: lsm list --since '{since}' --sort cost; pause the costliest sessions, or raise"
        " recommend.daily_cost_limit_usd in the config"
    )
    ratio = total / limit if limit else float("inf")
    severity = "critical" if ratio >= CRITICAL_OVER else "warning"
    return Recommendation(
        "usage_warning",
        severity,
        tuple(v.session.id for v in priced),
        reason,
        action,
        ratio,
        names.of(priced),
    )


def usd(value: float) -> str:
    """Dollars with cents, or with four decimals under $1 (so $0.0521 is not shown as $0.05)."""
    return f"${value:,.2f}" if value >= 1 or value == 0 else f"${value:.4f}"


def _utc_offset(now: datetime) -> str:
    delta = now.utcoffset()
    if delta is None or not delta:
        return "UTC"
    minutes = int(delta.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    hours, mins = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours:02d}:{mins:02d}"


# --------------------------------------------------------------------------------------------------
# idle sessions


def idle_minutes(view: SessionView, now: datetime) -> float | None:
    """Minutes since the session last did anything (its transcript, or its process state changing)."""
    s = view.session
    stamps = [t for t in (s.last_activity, s.process.state_updated_at if s.process else None) if t]
    if not stamps:
        return None
    return (now - max(stamps)).total_seconds() / 60


def close_idle(
    live: Sequence[SessionView], limit: float, now: datetime, names: Names | None = None
) -> Recommendation | None:
    """Running sessions quiet for ``limit`` minutes or more: one recommendation naming them all.

    A busy process (working on a long step) and one waiting on the user's answer are left alone (the
    health score flags those as stuck), and so are editor-hosted sessions, whose process is the editor.
    A running process whose transcript lsm cannot read has no known activity: it counts only when the
    agent itself says it has been idle that long.
    """
    found: list[tuple[float, SessionView]] = []
    for v in live:
        proc = v.session.process
        # Editor-hosted sessions: the process is the editor, which is not "idle" in any useful sense.
        if proc is None or editor_hosted(proc.agent) or editor_hosted(v.session.agent):
            continue
        if proc.state in ("busy", "waiting"):
            continue
        if is_placeholder(v) and proc.state != "idle":
            continue
        quiet = idle_minutes(v, now)
        if quiet is not None and quiet >= limit:
            found.append((quiet, v))
    if not found:
        return None
    found.sort(key=lambda item: (-item[0], item[1].session.id))
    names = names or Names(live)
    listed = ", ".join(
        f"{names(v)} ({_duration(q)}, pid {v.session.process.pid})" for q, v in found if v.session.process
    )
    reason = f"{len(found)} running session(s) with no activity for {limit:g}+ min: {listed}"
    action = " && ".join(close_command(v.session.id, names(v)) for _q, v in found)
    return Recommendation(
        "close_idle",
        "info",
        tuple(v.session.id for _q, v in found),
        reason,
        action,
        found[0][0] / limit if limit else 0.0,
        tuple(names(v) for _q, v in found),
    )


def _duration(minutes: float) -> str:
    if minutes < 1:
        return f"idle {int(minutes * 60)} s"
    total = int(minutes)
    if total < 60:
        return f"idle {total} min"
    hours, mins = divmod(total, 60)
    if hours < 48:
        return f"idle {hours} h {mins:02d} min"
    return f"idle {hours // 24} days"


# --------------------------------------------------------------------------------------------------
# merge


def similarity(
    a: SessionView, b: SessionView, repo_of: Callable[[str | None], str | None] | None = None
) -> list[str]:
    """Why two running sessions look like the same work (empty: they do not). They must be in the same
    repository (``same_repository``); a shared branch, tags or wording then add to the evidence."""
    repo = same_repository(a, b, repo_of or repository_of)
    if repo is None:
        return []
    why = [repo]
    ba, bb = a.session.git_branch, b.session.git_branch
    if ba and ba == bb:
        # A generic branch (main) is only supporting evidence; a feature branch says more.
        why.append(f"both on branch {ba}" if ba.lower() in GENERIC_BRANCHES else f"same branch {ba}")
    ta, tb = set(a.tags), set(b.tags)
    if ta and tb and len(ta & tb) / len(ta | tb) >= SIMILAR_TAGS:
        why.append("shared tags " + ", ".join(sorted(ta & tb)))
    wa, wb = _words(a), _words(b)
    shared = wa & wb
    if len(shared) >= MIN_SHARED_WORDS and len(shared) / len(wa | wb) >= SIMILAR_WORDS:
        what = "descriptions" if a.description and b.description else "titles"
        why.append(f"similar {what} (shared words: {', '.join(sorted(shared)[:6])})")
    return why


def same_repository(
    a: SessionView, b: SessionView, repo_of: Callable[[str | None], str | None]
) -> str | None:
    """How two sessions share a repository ("same project folder /w/app", "same repository /w/app"), or
    None. With both folders known it is their repository (``repo_of``), whatever names the user gave;
    with a folder unknown, the project names the user set must match."""
    pa, pb = _norm_path(a.session.project_path), _norm_path(b.session.project_path)
    if pa and pb:
        if pa == pb:
            return f"same project folder {a.session.project_path}"
        ra, rb = repo_of(pa), repo_of(pb)
        return f"same repository {ra}" if ra is not None and ra == rb else None
    if a.project and b.project and a.project.strip().lower() == b.project.strip().lower():
        return f"same project '{a.project}'"
    return None


@functools.lru_cache(maxsize=512)
def repository_of(path: str | None) -> str | None:
    """The git repository a folder belongs to: the repository's shared git directory, so that two
    worktrees of one repository and its subfolders all give the same answer; None when the folder is
    in no repository (or is not on this machine)."""
    if not path:
        return None
    current = os.path.abspath(path)
    while True:
        dot_git = os.path.join(current, ".git")
        if os.path.isdir(dot_git):
            return os.path.realpath(dot_git)
        if os.path.isfile(dot_git):
            return _common_dir(dot_git, current)
        parent = os.path.dirname(current)
        if parent == current:
            return None
        current = parent


def _common_dir(dot_git_file: str, folder: str) -> str | None:
    """The shared git directory of a worktree, from its ``.git`` file (``gitdir: …``) and that
    directory's ``commondir``."""
    try:
        with open(dot_git_file, encoding="utf-8") as fh:
            head = fh.readline().strip()
    except (OSError, UnicodeDecodeError):
        return None
    if not head.startswith("gitdir:"):
        return None
    gitdir = os.path.join(folder, head.split(":", 1)[1].strip())
    try:
        with open(os.path.join(gitdir, "commondir"), encoding="utf-8") as fh:
            common = os.path.join(gitdir, fh.readline().strip())
    except (OSError, UnicodeDecodeError):
        common = gitdir  # a submodule's git dir: a repository of its own
    return os.path.realpath(common)


def merges(
    live: Sequence[SessionView],
    names: Names | None = None,
    repo_of: Callable[[str | None], str | None] | None = None,
) -> list[Recommendation]:
    """Groups of running sessions that look alike (linked pair by pair), one recommendation per group.

    The most recently active session of a group is the one to keep; each other one is handed off to it
    and closed. A running process with no readable transcript takes no part (its work is unknown).
    """
    names = names or Names(live)
    ordered = sorted((v for v in live if not is_placeholder(v)), key=lambda v: v.session.id)
    parent = list(range(len(ordered)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    pairs: dict[tuple[int, int], list[str]] = {}
    for i, j in combinations(range(len(ordered)), 2):
        why = similarity(ordered[i], ordered[j], repo_of)
        if why:
            pairs[(i, j)] = why
            parent[find(j)] = find(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(ordered)):
        groups.setdefault(find(i), []).append(i)
    out = []
    for members in groups.values():
        if len(members) < 2:
            continue
        views = [ordered[i] for i in members]
        out.append(_merge_advice(views, ordered, pairs, members, names))
    return out


def _merge_advice(
    views: list[SessionView],
    ordered: list[SessionView],
    pairs: dict[tuple[int, int], list[str]],
    members: list[int],
    names: Names,
) -> Recommendation:
    keep = max(views, key=lambda v: (_stamp(v), v.session.id))
    others = [v for v in views if v is not keep]
    evidence = [
        f"{names(ordered[i])} and {names(ordered[j])}: {'; '.join(why)}"
        for (i, j), why in pairs.items()
        if i in members
    ]
    reason = f"{len(views)} running sessions look like the same work — " + " | ".join(evidence)
    steps = [
        f"{export_command(names(v), v.session.native_id)} && {close_command(v.session.id, names(v))}"
        for v in others
    ]
    files = ", ".join(handoff_file(v.session.native_id) for v in others)
    kept = names(keep)
    action = f"Keep {kept} (most recent); " + "; ".join(steps) + f"; then give {files} to {kept}"
    strength = sum(len(why) for (i, _j), why in pairs.items() if i in members)
    return Recommendation(
        "merge",
        "info",
        tuple(v.session.id for v in views),
        reason,
        action,
        len(views) + strength / 10,
        names.of(views),
    )


def _stamp(view: SessionView) -> datetime:
    return view.session.last_activity or datetime.fromtimestamp(0, timezone.utc)


def _norm_path(path: str | None) -> str | None:
    if not path:
        return None
    clean = path.replace("\\", "/").rstrip("/")
    return clean or "/"


def _words(view: SessionView) -> set[str]:
    """Significant words of the description, or of the title when there is no description."""
    s = view.session
    text = view.description or ("" if is_placeholder(view) else s.title or "")
    return {w for w in _WORD.findall(text.lower()) if w not in _STOPWORDS}


# --------------------------------------------------------------------------------------------------
# commands


def _quote(text: str) -> str:
    """Single-quote for a POSIX shell."""
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _glob_literal(text: str) -> str:
    """A batch-close pattern that matches exactly ``text`` (glob characters made literal)."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def close_command(session_id: str, short: str | None = None) -> str:
    """`lsm batch-close` of exactly one session: the pattern is its full id, or ``agent:prefix*`` for a
    short id (a prefix that no other session's id starts with)."""
    agent, _, native = session_id.partition(":")
    if short is None or short in (native, session_id):
        return f"lsm batch-close {_quote(_glob_literal(session_id))}"
    prefix = short if short.startswith(f"{agent}:") else f"{agent}:{short}"
    return f"lsm batch-close {_quote(_glob_literal(prefix) + '*')}"


def handoff_file(native_id: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]", "_", native_id)[:8] or "session"
    return f"handoff-{stem}.md"


def export_command(session_id: str, native_id: str) -> str:
    return f"lsm export {_quote(session_id)} --format markdown -o {handoff_file(native_id)}"


def health_command(session_id: str) -> str:
    return f"lsm health {_quote(session_id)}"


def _dedupe(items: Sequence[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out
