"""Server-rendered HTML of the dashboard: pure functions from documents to text.

Everything that came from a transcript, an import or a user (titles, projects, tags, descriptions,
reasons, model names) is hostile. ``t()`` is the one way text enters a page: secrets redacted, control
characters made visible (as in the terminal), then HTML-escaped; attributes are always quoted. No inline
script or style is ever written (the Content-Security-Policy forbids both); charts are SVG with
presentation attributes.
"""

from __future__ import annotations

import html
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import quote

from llm_session_manager.models import SessionView
from llm_session_manager.present import ago, human_tokens, money, pasteable_ids, state_label
from llm_session_manager.safetext import for_terminal, without_secrets
from llm_session_manager.timefmt import parse_ts

# Rows drawn at a time: the first page's paint and the DOM stay small with thousands of sessions.
PAGE_ROWS = 200
NAV = (("/", "Sessions"), ("/reports", "Reports"), ("/limits", "Limits"), ("/memory", "Memory"))
EXPORT_FORMATS = (("json", "JSON"), ("yaml", "YAML"), ("markdown", "Markdown"))
REPORT_KINDS = ("daily", "weekly", "monthly")
REPORT_BY = ("agent", "model", "project")
# Series colours of the charts (colour-blind safe, Okabe-Ito), repeated when there are more series.
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442", "#999999")


def t(value: object, *, multiline: bool = False) -> str:
    """Untrusted text as HTML: redacted, controls made visible, escaped (quotes too)."""
    if value is None:
        return ""
    text = without_secrets(str(value))
    return html.escape(for_terminal(text, multiline=multiline), quote=True)


def session_href(session_id: str) -> str:
    return "/sessions/" + quote(session_id, safe=":")


def page(title: str, body: str, *, active: str = "") -> str:
    links = "".join(
        f'<a href="{href}"{" aria-current=page" if href == active else ""}>{name}</a>' for href, name in NAV
    )
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{t(title)} · lsm</title>"
        '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'
        '<link rel="stylesheet" href="/static/app.css">'
        '<script src="/static/app.js" defer></script></head>'
        f'<body><header><span class="brand">lsm</span><nav>{links}</nav></header>'
        f"<main>{body}</main></body></html>\n"
    )


# ---------------------------------------------------------------------------------------------------
# Sessions: one row per session, the same cells in the first page and in the live updates


@dataclass(frozen=True)
class Cell:
    key: str
    text: str  # plain text: escaped when written as HTML, set as textContent by the script
    sort: str | float  # what the column sorts by
    cls: str = ""


@dataclass(frozen=True)
class Row:
    id: str
    href: str
    agent: str
    status: str
    project: str
    cells: tuple[Cell, ...]
    user: str | None = None  # the team view's rows: whose session it is

    def facets(self) -> dict[str, str]:
        out = {"agent": self.agent, "status": self.status, "project": self.project}
        return {**out, "user": self.user} if self.user is not None else out

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "href": self.href,
            "facets": self.facets(),
            "cells": [[c.key, c.text, c.sort, c.cls] for c in self.cells],
        }


COLUMNS = (
    ("id", "ID", "text"),
    ("agent", "Agent", "text"),
    ("project", "Project", "text"),
    ("title", "Title", "text"),
    ("model", "Model", "text"),
    ("status", "Status", "text"),
    ("context", "Context", "num"),
    ("tokens", "Tokens", "num"),
    ("cost", "Cost", "num"),
    ("health", "Health", "num"),
    ("last", "Last", "num"),
)


# The team view (`lsm serve --team`): whose session and which computer, first.
TEAM_COLUMNS = (("user", "User", "text"), ("machine", "Machine", "text"), *COLUMNS)


def team_rows(docs: Sequence[dict[str, Any]]) -> list[Row]:
    """Rows of the team store's sessions (`lsm list --team --format json` documents). They open no page:
    a session's details live on the computer that ran it."""
    ids = pasteable_ids([(str(d["agent"]), str(d["native_id"])) for d in docs])
    return [team_row(d, ids.get(str(d["id"]), str(d["native_id"]))) for d in docs]


def team_row(doc: dict[str, Any], short_id: str) -> Row:
    tokens = doc.get("tokens") or {}
    total = tokens.get("total")
    exact = doc.get("tokens_source") == "exact"
    shown_tokens = "?" if total is None else human_tokens(int(total)) + ("" if exact else " ≈")
    pct, cost = doc.get("context_pct"), doc.get("cost_usd")
    health = doc.get("health") or {}
    score = health.get("score")
    last = str(doc.get("last_activity") or "")
    project = _clean(doc.get("project") or "")
    status = str(doc.get("status") or "")
    user, machine = _clean(doc.get("user") or ""), _clean(doc.get("machine") or "")
    when = parse_ts(last) if last else None
    cells = (
        Cell("user", user or "-", user),
        Cell("machine", machine or "-", machine),
        Cell("id", short_id, short_id),
        Cell("agent", _clean(doc.get("agent")), _clean(doc.get("agent"))),
        Cell("project", project or "-", project),
        Cell("title", _clean(doc.get("title") or "-"), _clean(doc.get("title") or "")),
        Cell("model", _clean(doc.get("model") or "-"), _clean(doc.get("model") or "")),
        Cell("status", _clean(status), status, f"st-{status}"),
        Cell(
            "context",
            "-" if pct is None else f"{pct:.0f}%",
            -1.0 if pct is None else float(pct),
            _fill_class(pct),
        ),
        Cell("tokens", shown_tokens, -1.0 if total is None else float(total)),
        Cell("cost", money(cost), -1.0 if cost is None else float(cost)),
        Cell(
            "health",
            "-" if score is None else f"{score:.0f}{'~' if health.get('estimated') else ''}",
            -1.0 if score is None else float(score),
            f"h-{health.get('status')}" if health.get("status") else "",
        ),
        Cell("last", when.isoformat() if when else "", when.timestamp() if when else 0.0, "ago"),
    )
    return Row(str(doc["id"]), "#", str(doc.get("agent") or ""), status, project, cells, user=user)


def _clean(value: object) -> str:
    """Plain text for a cell: redacted, controls visible (escaping is the writer's part)."""
    return "" if value is None else for_terminal(without_secrets(str(value)))


def display_ids(views: Sequence[SessionView]) -> dict[str, str]:
    return pasteable_ids([(v.session.agent, v.session.native_id) for v in views])


def session_rows(views: Sequence[SessionView], projects: dict[str, str | None]) -> list[Row]:
    ids = display_ids(views)
    return [session_row(v, ids.get(v.session.id, v.session.id), projects.get(v.session.id)) for v in views]


def session_row(view: SessionView, short_id: str, project: str | None) -> Row:
    s = view.session
    label = state_label(view)
    status = view.status + (f" ({label[0]})" if label else "")
    total = None if s.process is not None and not s.transcript_paths else s.tokens.total
    exact = s.tokens.source == "exact"
    tokens = "?" if total is None else human_tokens(total) + ("" if exact else " ≈")
    pct = view.context_pct
    h = view.health
    last = s.last_activity.timestamp() if s.last_activity else 0.0
    cells = (
        Cell("id", short_id, short_id),
        Cell("agent", s.agent, s.agent),
        Cell("project", _clean(project or "-"), _clean(project or "")),
        Cell("title", _clean(s.title or "-"), _clean(s.title or "")),
        Cell("model", _clean(s.model or "-"), _clean(s.model or "")),
        Cell("status", _clean(status), view.status, f"st-{view.status}"),
        Cell(
            "context", "-" if pct is None else f"{pct:.0f}%", -1.0 if pct is None else pct, _fill_class(pct)
        ),
        Cell("tokens", tokens, -1.0 if total is None else float(total)),
        Cell("cost", money(view.cost_usd), -1.0 if view.cost_usd is None else view.cost_usd),
        Cell("health", f"{h.score:.0f}{'~' if h.estimated else ''}", float(h.score), f"h-{h.status}"),
        Cell("last", s.last_activity.isoformat() if s.last_activity else "", last, "ago"),
    )
    return Row(s.id, session_href(s.id), s.agent, view.status, _clean(project or ""), cells)


def _fill_class(pct: float | None) -> str:
    if pct is None:
        return ""
    return "fill-ok" if pct < 50 else "fill-warn" if pct < 80 else "fill-high"


def _cell_html(cell: Cell, href: str, now: datetime) -> str:
    text = t(cell.text)
    if cell.key == "id":
        text = f'<a href="{t(href)}">{text}</a>'
    elif cell.key == "last":
        shown = ago(datetime.fromisoformat(cell.text), now) if cell.text else "-"
        stamp = t(cell.text)
        return f'<td data-key="last" data-sort="{cell.sort}" data-ts="{stamp}" class="ago num">{shown}</td>'
    num = " num" if cell.key in ("context", "tokens", "cost", "health") else ""
    return f'<td data-key="{cell.key}" data-sort="{t(cell.sort)}" class="{cell.cls}{num}">{text}</td>'


def row_html(row: Row, now: datetime) -> str:
    cells = "".join(_cell_html(c, row.href, now) for c in row.cells)
    user = f' data-user="{t(row.user)}"' if row.user is not None else ""
    return (
        f'<tr data-id="{t(row.id)}" data-agent="{t(row.agent)}" data-status="{t(row.status)}"'
        f' data-project="{t(row.project)}"{user}>{cells}</tr>'
    )


def _facet(name: str, label: str, values: Iterable[str]) -> str:
    options = "".join(f'<option value="{t(v)}">{t(v)}</option>' for v in sorted(set(values)) if v)
    return (
        f'<label>{label} <select data-facet="{name}"><option value="">all</option>{options}</select></label>'
    )


def sessions_page(
    rows: Sequence[Row] | None, now: datetime, first: int = PAGE_ROWS, *, team: bool = False
) -> str:
    """The table with its first ``first`` rows (the script shows the rest, ``first`` at a time, from the
    live stream); ``rows`` None: the first scan is still reading, and the page says how far it is.
    ``team``: everyone's sessions from the team store, with a User and a Machine column."""
    head = "".join(
        f'<th data-key="{key}" data-type="{kind}" scope="col"><button type="button">{name}</button></th>'
        for key, name, kind in (TEAM_COLUMNS if team else COLUMNS)
    )
    every = rows or []
    body = "".join(row_html(r, now) for r in every[:first])
    running = sum(1 for r in every if r.status == "active")
    tools = (
        '<div class="tools"><label>Filter <input id="filter" type="search" placeholder="any text"'
        ' autocomplete="off"></label>'
        + (_facet("user", "User", (r.user or "" for r in every)) if team else "")
        + _facet("agent", "Agent", (r.agent for r in every))
        + _facet("status", "Status", (r.status for r in every))
        + _facet("project", "Project", (r.project for r in every))
        + '<span id="live" class="live" title="live updates">●</span></div>'
    )
    progress = (
        '<p id="scan-progress" class="progress">Reading the agents\' logs for the first time…</p>'
        if rows is None
        else '<p id="scan-progress" class="progress" hidden></p>'
    )
    shown = min(first, len(every))
    summary = (
        f'<p class="summary"><span id="count">{len(every)}</span> session(s), <span id="running">{running}'
        f'</span> active<span id="paged"{"" if shown < len(every) else " hidden"}>; showing the first'
        f' <span id="shown">{shown}</span></span>. Tokens ≈ = not exact (counted, or rounded in the agent\'s'
        " log); ? = unknown. Health ~ = estimated.</p>"
    )
    more = f'<p><button type="button" id="more" data-page="{first}" hidden>Show more</button></p>'
    table = f'<table id="sessions" class="grid"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    heading = "Team sessions" if team else "Sessions"
    return page(heading, f"<h1>{heading}</h1>{tools}{progress}{table}{more}{summary}", active="/")


# ---------------------------------------------------------------------------------------------------
# One session


def _dl(pairs: Iterable[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def _meter(value: float | None, high: float = 80.0) -> str:
    if value is None:
        return "-"
    shown = max(0.0, min(100.0, value))
    bar = f'<meter min="0" max="100" low="50" high="{high}" optimum="0" value="{shown:.1f}"></meter>'
    return f"{bar} {value:.0f}%"


def _tokens_table(doc: dict[str, Any]) -> str:
    tokens = doc.get("tokens")
    if not tokens:
        return "<p>Tokens unknown: the agent's records of this session could not be read.</p>"
    rows = "".join(
        f'<tr><th scope="row">{name}</th><td class="num">{tokens[key]:,}</td></tr>'
        for key, name in (
            ("input", "Input"),
            ("output", "Output"),
            ("cache_creation", "Cache write"),
            ("cache_read", "Cache read"),
            ("total", "Total"),
        )
    )
    cost = money(doc.get("cost_usd"))
    source = t(doc.get("cost_source") or "none")
    return (
        f'<table class="kv">{rows}<tr><th scope="row">Cost</th><td class="num">{cost}'
        f" <small>({source})</small></td></tr></table><p><small>Tokens: {t(doc.get('tokens_source'))}"
        "</small></p>"
    )


def _raw(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str, separators=(", ", ": "))


def when(iso: str | None, now: datetime) -> str:
    """An ISO time as local "Fri 14:05 (in 2h 05m)" or "(3m ago)"; "-" for none."""
    from llm_session_manager.limits import countdown

    if not iso:
        return "-"
    try:
        then = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    except ValueError:
        return iso
    if then.tzinfo is None:
        then = then.replace(tzinfo=timezone.utc)
    local = then.astimezone().strftime("%a %d %b %H:%M")
    return f"{local} (in {countdown(then - now)})" if then > now else f"{local} ({ago(then, now)})"


def _models_html(models: Sequence[dict[str, Any]]) -> str:
    """Tokens and cost per model (shown when the session used more than one)."""
    if len(models) < 2:
        return ""
    rows = "".join(
        f"<tr><td>{t(m['model'])}</td><td class=num>{m['input']:,}</td><td class=num>{m['output']:,}</td>"
        f"<td class=num>{m['cache_creation']:,}</td><td class=num>{m['cache_read']:,}</td>"
        f"<td class=num>{m['total']:,}</td><td class=num>{money(m['cost_usd'])}</td></tr>"
        for m in models
    )
    return (
        '<h2>Per model</h2><table class="grid"><thead><tr><th>Model</th><th>Input</th><th>Output</th>'
        "<th>Cache write</th><th>Cache read</th><th>Total</th><th>Cost at lsm's prices</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _health_html(health: dict[str, Any]) -> str:
    caps = "".join(f'<li class="cap">capped: {t(c)}</li>' for c in health.get("caps", []))
    rows = "".join(
        f"<tr><td>{t(f['name'])}</td><td class=num>{f['score']:.0f}</td><td class=num>{f['weight']:.2f}</td>"
        f"<td>{t(f['reason'])}</td><td><code>{t(_raw(f['raw']))}</code></td></tr>"
        for f in health.get("factors", [])
    )
    head = (
        f'<p class="h-{t(health["status"])}">Score {health["score"]:.0f}{"~" if health["estimated"] else ""}'
    )
    head += f" ({t(health['status'])})</p>"
    table = (
        '<table class="grid"><thead><tr><th>Factor</th><th>Score</th><th>Weight</th><th>Reason</th>'
        f"<th>Raw</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    return f"{head}<ul>{caps}</ul>{table}"


def _tags_html(session_id: str, tags: Sequence[str], csrf: str) -> str:
    action = t(session_href(session_id) + "/tags")
    chips = "".join(
        f'<form method="post" action="{action}" class="chip">'
        f'<input type="hidden" name="csrf" value="{t(csrf)}">'
        f'<input type="hidden" name="remove" value="{t(tag)}"><span class="tag">{t(tag)}</span>'
        f'<button type="submit" title="remove {t(tag)}" aria-label="remove tag {t(tag)}">×</button></form>'
        for tag in tags
    )
    add = (
        f'<form method="post" action="{action}" class="inline" id="tag-form"><input type="hidden" name="csrf"'
        f' value="{t(csrf)}"><input name="add" id="tag-input" placeholder="new tag" maxlength="200"'
        ' autocomplete="off"><button type="submit">Add tag</button></form>'
    )
    return f'<div class="tags">{chips or "<span class=muted>no tags</span>"}</div>{add}'


def _describe_html(session_id: str, description: str | None, csrf: str) -> str:
    action = t(session_href(session_id) + "/describe")
    return (
        f'<form method="post" action="{action}" id="describe-form"><input type="hidden" name="csrf"'
        f' value="{t(csrf)}"><textarea name="description" id="description" rows="3" maxlength="4000">'
        f'{t(description or "", multiline=True)}</textarea><button type="submit">Save description</button>'
        "</form>"
    )


def _advice_html(advice: Sequence[Any]) -> str:
    if not advice:
        return "<p class=muted>No recommendation for this session.</p>"
    items = "".join(
        f'<li class="sev-{t(r.severity)}"><strong>{t(r.severity)}</strong> {t(r.kind)}: {t(r.reason)}'
        f"<br><code>{t(r.action)}</code></li>"
        for r in advice
    )
    return f'<ol class="advice">{items}</ol>'


@dataclass(frozen=True)
class Series:
    """What a session's charts draw: context fill (epoch seconds, %) and tokens per minute."""

    context: Sequence[tuple[int, float]] = ()
    tokens: Sequence[tuple[int, int]] = ()
    models: Sequence[dict[str, Any]] = ()


def _axis_time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).astimezone().strftime("%d %b %H:%M")


def _label(x: float, y: float, text: str, anchor: str = "start") -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}" class="axis" text-anchor="{anchor}">{t(text)}</text>'


def context_svg(points: Sequence[tuple[int, float]], width: int = 600, height: int = 180) -> str:
    """Context fill over time since the last compaction: a line on a 0-100 % scale."""
    if len(points) < 2:
        return (
            "<p class=muted>No context series: lsm keeps one for recently active sessions, from the"
            " replies since the last compaction.</p>"
        )
    pad, top = 30, 10
    x0, x1 = points[0][0], points[-1][0]
    span = max(1, x1 - x0)
    xs = [pad + (at - x0) / span * (width - pad - 10) for at, _ in points]
    ys = [top + (1 - min(pct, 100) / 100) * (height - top - 20) for _, pct in points]
    coords = " ".join(f"{x:.1f},{y:.1f}" for x, y in zip(xs, ys))
    grid = "".join(
        f'<line x1="{pad}" x2="{width - 10}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
        f'<text x="2" y="{y + 4:.1f}" class="axis">{pct}%</text>'
        for pct in (0, 50, 100)
        for y in (top + (1 - pct / 100) * (height - top - 20),)
    )
    label = f"Context fill from {points[0][1]:.0f}% to {points[-1][1]:.0f}% of the window"
    return (
        f'<svg class="chart small" viewBox="0 0 {width} {height}" role="img" aria-label="{t(label)}">{grid}'
        f'<polyline points="{coords}" fill="none" stroke="#0072b2" stroke-width="2"/>'
        f"{_label(pad, height - 4, _axis_time(x0))}"
        f"{_label(width - 10, height - 4, _axis_time(x1), 'end')}</svg>"
    )


def minutes_svg(
    minutes: Sequence[tuple[int, int]], width: int = 600, height: int = 180, bins: int = 60
) -> str:
    """Tokens per minute over the session, in at most ``bins`` bars (each the busiest minute of its
    stretch, so a burst is not averaged away)."""
    if not minutes:
        return "<p class=muted>The agent's log does not time this session's replies.</p>"
    first, last = minutes[0][0], minutes[-1][0]
    size = max(1, -(-(last - first + 1) // bins))
    peaks: dict[int, int] = {}
    for minute, tokens in minutes:
        slot = (minute - first) // size
        peaks[slot] = max(peaks.get(slot, 0), tokens)
    top = max(peaks.values()) or 1
    count = (last - first) // size + 1
    step = (width - 10) / count
    tall = height - 30
    bar = max(1.0, step * 0.8)
    bars = "".join(
        f'<rect x="{5 + slot * step:.1f}" y="{10 + (1 - v / top) * tall:.1f}" width="{bar:.1f}"'
        f' height="{v / top * tall:.1f}" fill="#009e73"><title>{v:,} tokens</title></rect>'
        for slot, v in sorted(peaks.items())
    )
    label = f"Tokens per minute; the busiest minute {human_tokens(top)}"
    return (
        f'<svg class="chart small" viewBox="0 0 {width} {height}" role="img" aria-label="{t(label)}">{bars}'
        f"{_label(5, height - 4, _axis_time(first * 60))}"
        f"{_label(width - 5, height - 4, _axis_time(last * 60), 'end')}"
        f"{_label(5, 10, human_tokens(top) + '/min')}</svg>"
    )


def session_page(
    doc: dict[str, Any],
    health: dict[str, Any],
    advice: Sequence[Any],
    csrf: str,
    series: Series = Series(),
    now: datetime | None = None,
) -> str:
    sid = str(doc["id"])
    href = session_href(sid)
    now = now or datetime.now(timezone.utc)
    exports = " ".join(
        f'<a class="button" href="{t(href)}/export/{fmt}" download>{name}</a>' for fmt, name in EXPORT_FORMATS
    )
    state = t(doc.get("state") or "-") + (
        f" <small>({t(doc['state_source'])})</small>" if doc.get("state_source") else ""
    )
    facts = _dl(
        (
            ("ID", f"<code>{t(sid)}</code>"),
            ("Agent", t(doc["agent"])),
            ("Project", t(doc.get("project") or "-")),
            ("Branch", t(doc.get("git_branch") or "-")),
            ("Model", t(", ".join(doc.get("models") or []) or doc.get("model") or "-")),
            ("Status", f'<span class="st-{t(doc["status"])}">{t(doc["status"])}</span>'),
            ("State", state),
            ("Started", t(when(doc.get("started_at"), now))),
            ("Last activity", t(when(doc.get("last_activity"), now))),
            ("Messages", f"{doc['messages']['user']} user, {doc['messages']['assistant']} assistant"),
            ("Tool calls", f"{doc.get('tool_calls', 0)} ({doc.get('tool_errors', 0)} failed)"),
        )
    )
    context = _dl(
        (
            ("Context", _meter(doc.get("context_pct"))),
            (
                "In context",
                f"{human_tokens(doc.get('context_tokens'))} of {human_tokens(doc.get('context_window'))}",
            ),
            (
                "Compacts at",
                "-" if doc.get("compact_at") is None else f"{human_tokens(doc['compact_at'])} tokens",
            ),
        )
    )
    body = (
        f'<h1 id="title">{t(doc.get("title") or sid)}</h1>'
        f'<section class="cols"><div><h2>Session</h2>{facts}</div>'
        f"<div><h2>Tokens and cost</h2>{_tokens_table(doc)}<h2>Context</h2>{context}</div></section>"
        f"<section>{_models_html(series.models)}</section>"
        f'<section class="cols"><div><h2>Context fill</h2>{context_svg(series.context)}</div>'
        f"<div><h2>Tokens per minute</h2>{minutes_svg(series.tokens)}</div></section>"
        f"<section><h2>Health</h2>{_health_html(health)}</section>"
        f"<section><h2>Recommendations</h2>{_advice_html(advice)}</section>"
        f"<section><h2>Tags</h2>{_tags_html(sid, doc.get('tags') or [], csrf)}"
        f"<h2>Description</h2>{_describe_html(sid, doc.get('description'), csrf)}</section>"
        f'<section><h2>Export</h2><p class="exports">{exports}</p></section>'
    )
    return page(str(doc.get("title") or sid), body)


# ---------------------------------------------------------------------------------------------------
# Reports: stacked daily/weekly/monthly bars


def bars_svg(doc: dict[str, Any], by: str, width: int = 900, height: int = 260) -> str:
    """Total tokens per period, one stacked segment per ``by`` value, as inline SVG."""
    periods: dict[str, dict[str, int]] = {}
    for row in doc.get("rows", []):
        key = _clean(row.get(by) or "-")
        slot = periods.setdefault(str(row["period"]), {})
        slot[key] = slot.get(key, 0) + int(row["tokens"]["total"])
    if not periods:
        return "<p class=muted>No usage in this range.</p>"
    series = sorted({k for slot in periods.values() for k in slot})
    colour = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(series)}
    top = max(sum(slot.values()) for slot in periods.values()) or 1
    pad, base = 8, height - 24
    step = (width - 2 * pad) / len(periods)
    bar = max(2.0, step * 0.7)
    parts: list[str] = []
    for i, (period, slot) in enumerate(sorted(periods.items())):
        x, y = pad + i * step, float(base)
        for name in series:
            value = slot.get(name, 0)
            if not value:
                continue
            h = value / top * (base - pad)
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" fill="{colour[name]}">'
                f"<title>{t(period)} · {t(name)}: {value:,} tokens</title></rect>"
            )
        if len(periods) <= 16 or i % max(1, len(periods) // 12) == 0:
            parts.append(f'<text x="{x:.1f}" y="{height - 8}" class="axis">{t(period)}</text>')
    legend = "".join(
        f'<li><svg width="10" height="10" aria-hidden="true">'
        f'<rect width="10" height="10" fill="{colour[n]}"/></svg>'
        f" {t(n)}</li>"
        for n in series
    )
    label = f"Total tokens per period by {by}; highest {human_tokens(top)}"
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{t(label)}">'
        f"{''.join(parts)}</svg><ul class=legend>{legend}</ul>"
    )


def _select(name: str, options: Sequence[str], chosen: str) -> str:
    opts = "".join(f"<option{' selected' if o == chosen else ''}>{o}</option>" for o in options)
    return f'<select name="{name}">{opts}</select>'


def reports_page(doc: dict[str, Any], kind: str, by: str, last: int) -> str:
    form = (
        f'<form method="get" action="/reports" class="tools">{_select("kind", REPORT_KINDS, kind)}'
        f' by {_select("by", REPORT_BY, by)} last <input name="last" type="number" min="1" max="400"'
        f' value="{last}"><button type="submit">Show</button></form>'
    )
    rows = "".join(
        f"<tr><td>{t(r['period'])}</td><td>{t(r.get(by) or '-')}</td>"
        f"<td class=num>{r['tokens']['total']:,}</td>"
        f"<td class=num>{money(r['cost_usd'])}</td><td class=num>{r['sessions']}</td></tr>"
        for r in doc.get("rows", [])
    )
    table = (
        f'<table class="grid"><thead><tr><th>Period</th><th>{by.title()}</th><th>Tokens</th><th>Cost</th>'
        f"<th>Sessions</th></tr></thead><tbody>{rows}</tbody></table>"
    )
    zone = t(doc.get("timezone") or "")
    unpriced = doc.get("unpriced_models") or []
    note = (
        f"<p class=muted>No price for: {t(', '.join(unpriced))} (their cost is unknown).</p>"
        if unpriced
        else ""
    )
    body = (
        f"<h1>Usage: {kind}</h1>{form}{bars_svg(doc, by)}{note}{table}"
        f"<p class=muted>Counted when each reply happened, in {zone}. Same as <code>lsm report {kind} --by"
        f" {by} --last {last}</code>.</p>"
    )
    return page("Reports", body, active="/reports")


# ---------------------------------------------------------------------------------------------------
# Limits and budget


def _resets(iso: str | None, now: datetime) -> str:
    return f", resets {t(when(iso, now))}" if iso else ""


def _used(left: float | None) -> str:
    return "no current figure" if left is None else f"{_meter(100 - left)} used"


def limits_page(limits: Sequence[dict[str, Any]], budget: dict[str, Any], now: datetime) -> str:
    if limits:
        rows = "".join(
            f"<tr><td>{t(x['agent'])}</td><td>{t(x['window'])}</td>"
            f"<td>{'stale' if x['stale'] else _meter(x['used_percent'])}</td>"
            f"<td>{t(when(x['resets_at'], now))}</td><td>{t(when(x['observed_at'], now))}</td>"
            f"<td>{t(x['source'])}</td><td>{t(when(x['projected_full_at'], now))}</td></tr>"
            for x in limits
        )
        table = (
            '<table class="grid"><thead><tr><th>Agent</th><th>Window</th><th>Used</th><th>Resets</th>'
            "<th>Observed</th><th>Source</th><th>Projected 100%</th></tr></thead>"
            f"<tbody>{rows}</tbody></table>"
        )
    else:
        table = (
            "<p class=muted>No official limits recorded yet. Claude Code reports them to <code>lsm statusline"
            "</code> (see <code>lsm statusline install</code>); Codex writes them into its logs.</p>"
        )
    agents = "".join(
        f'<li class="budget-{t(b["status"])}"><strong>{t(b["agent"])}</strong>: {t(b["status"])}, '
        f"{_used(b['left_percent'])}{_resets(b.get('resets_at'), now)}<br>{t(b['suggestion'])}</li>"
        for b in budget.get("agents", [])
    )
    body = (
        f"<h1>Limits</h1>{table}<h2>Budget</h2><p>Overall: <strong>{t(budget.get('status'))}</strong>"
        f" (near at {budget.get('near_percent')}%)</p><ul class=budget>{agents}</ul>"
    )
    return page("Limits", body, active="/limits")


# ---------------------------------------------------------------------------------------------------
# Memory search


def _hit_html(hit: dict[str, Any]) -> str:
    sid = str(hit["session_id"])
    verbatim = " (verbatim)" if hit["score"] >= 1 else ""
    return (
        f'<li><p class="memory">{t(hit["text"], multiline=True)}</p><small>'
        f'<a href="{t(session_href(sid))}">{t(sid)}</a> · {t(hit["project"] or "-")}'
        f" · {t(', '.join(hit['tags']) or 'no tags')} · score {hit['score']:.2f}{verbatim}</small></li>"
    )


def memory_page(query: str, project: str, hits: Sequence[dict[str, Any]] | None) -> str:
    """The search form and, after a search, its hits best first (``lsm memory-search``)."""
    form = (
        '<form method="get" action="/memory" class="tools"><label>Search <input type="search" name="q"'
        f' id="memory-q" value="{t(query)}" placeholder="an error, a path, an idea" autocomplete="off"'
        ' maxlength="2000"></label><label>Project <input name="project" value="'
        f'{t(project)}" maxlength="200"></label><button type="submit">Search</button></form>'
    )
    if hits is None:
        result = "<p class=muted>Memories are notes saved from sessions (<code>lsm memory-add</code>).</p>"
    elif not hits:
        result = f"<p class=muted>No memory matches {t(query)}.</p>"
    else:
        items = "".join(_hit_html(h) for h in hits)
        result = f'<ol class="memories">{items}</ol>'
    return page("Memory", f"<h1>Memory</h1>{form}{result}", active="/memory")


# ---------------------------------------------------------------------------------------------------
# Login and errors


def login_page(csrf: str, failed: bool = False) -> str:
    error = '<p class="error">That is not the token.</p>' if failed else ""
    body = (
        f"<h1>Log in</h1>{error}<p>This dashboard asks for its token (<code>lsm serve --token</code> or"
        ' <code>web.token</code> in the config).</p><form method="post" action="/login">'
        f'<input type="hidden" name="csrf" value="{t(csrf)}"><label>Token <input type="password"'
        ' name="token" id="token" autocomplete="current-password" required></label>'
        '<button type="submit">Log in</button></form>'
    )
    return page("Log in", body)


def error_page(status: int, message: str) -> str:
    return page(
        f"Error {status}",
        f'<h1>Error {status}</h1><p class="error">{t(message)}</p><p><a href="/">Sessions</a></p>',
    )
