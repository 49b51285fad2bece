"""`lsm auto-tag` (heuristic and AI tag suggestions that learn from accept/reject) and `lsm tag-stats`.

Also ``ai_description``, which `lsm describe --ai` calls. The project folder and the transcripts are only
read; every write (tags, decisions) goes to lsm's own database, in one transaction per command.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import typer

from llm_session_manager.cli import completion
from llm_session_manager.cli.common import FORMAT_HELP, Env, check_format, emit, load_env, say, warn
from llm_session_manager.errors import UsageError
from llm_session_manager.models import SessionView
from llm_session_manager.safetext import for_terminal

if TYPE_CHECKING:  # imported inside the commands: `lsm list` does not pay for it
    from llm_session_manager import tagging
    from llm_session_manager.api.autotag import Plan


def _confirm(question: str) -> bool:
    """y/n on the terminal: the question on stderr (stdout stays clean for --format json), the answer
    from stdin; anything else asks again; end of input aborts (exit 130, nothing stored)."""
    while True:
        sys.stderr.write(f"{question} [y/n]: ")
        sys.stderr.flush()
        line = sys.stdin.readline()
        if not line:
            raise typer.Abort()
        answer = line.strip().lower()
        if answer in ("y", "yes"):
            return True
        if answer in ("n", "no"):
            return False
        say("Please answer y or n.")


def _ask(shown: Sequence[tagging.Suggestion]) -> list[tagging.Decision]:
    """y/n for every suggestion, on the terminal. Nothing is stored until every answer is in."""
    from llm_session_manager import tagging

    decisions: list[tagging.Decision] = []
    for i, s in enumerate(shown, 1):
        line = f"[{i}/{len(shown)}] {s.tag}  {s.confidence:.0%}  {s.source}: {s.reason}"
        say(line)
        yes = _confirm(f"Add tag '{s.tag}'?")
        decisions.append(tagging.Decision(s, "accepted" if yes else "rejected"))
    return decisions


def auto_tag_cmd(
    session_id: str = typer.Argument(
        ..., help="Session id or a unique prefix of it.", autocompletion=completion.session_ids
    ),
    use_ai: bool = typer.Option(
        False, "--ai", help="Ask Claude too (needs ANTHROPIC_API_KEY; see ai: in the config)."
    ),
    apply: bool = typer.Option(
        False, "--apply", help="Add every suggestion at or above --threshold, without asking."
    ),
    interactive: bool = typer.Option(
        False, "--interactive", "-i", help="Ask y/n for each suggestion; answers teach the ranking."
    ),
    threshold: float = typer.Option(
        0.6, "--threshold", min=0.0, max=1.0, help="--apply adds tags from this confidence."
    ),
    min_confidence: float = typer.Option(
        0.3, "--min-confidence", min=0.0, max=1.0, help="Hide suggestions below this confidence."
    ),
    limit: int = typer.Option(10, "--limit", "-n", min=1, help="At most N suggestions."),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """Suggest tags for a session from its project and prompts; --apply or --interactive add them."""
    from llm_session_manager import tagging
    from llm_session_manager.api import autotag

    fmt = check_format(fmt)
    if apply and interactive:
        raise UsageError("--apply and --interactive: choose one")
    if interactive and not sys.stdin.isatty():
        raise UsageError(
            "--interactive asks about each tag and needs a terminal; use --apply (with --threshold) instead"
        )
    ctx = load_env()
    found = autotag.suggest(
        ctx, session_id, use_ai=use_ai, min_confidence=min_confidence, limit=limit, warn=warn
    )
    plan, ranked, shown = found.plan, found.ranked, found.shown
    if apply:
        decisions = [tagging.Decision(s, "applied") for s in shown if s.confidence >= threshold]
    elif interactive:
        _header(plan)
        decisions = _ask(shown)
    else:
        decisions = []
    added = autotag.decide(ctx, found, decisions)
    mode = "apply" if apply else "interactive" if interactive else "suggest"
    report = _report(plan, shown, ranked, decisions, added, mode, threshold)
    if fmt != "table":
        emit(fmt, report)
        return
    if not interactive:
        _header(plan)
        _print_suggestions(shown)
    _print_outcome(plan, ranked, decisions, added, mode, threshold, shown)


def _report(
    plan: Plan,
    shown: Sequence[tagging.Suggestion],
    ranked: tagging.Ranked,
    decisions: Sequence[tagging.Decision],
    added: Sequence[str],
    mode: str,
    threshold: float,
) -> dict[str, Any]:
    p = plan.profile
    return {
        "session": plan.view.session.id,
        "project_path": plan.view.session.project_path,
        "project_type": p.project_type,
        "project_type_reason": p.type_reason,
        "files": len(p.files),
        "git": p.git,
        "ai": plan.ai,
        "redacted": plan.redacted,
        "mode": mode,
        "threshold": threshold if mode == "apply" else None,
        "suggestions": [s.as_json() for s in shown],
        "suppressed": [{**s.as_json(), "why": why} for s, why in ranked.suppressed],
        "accepted": [d.suggestion.tag for d in decisions if d.decision in ("accepted", "applied")],
        "rejected": [d.suggestion.tag for d in decisions if d.decision == "rejected"],
        "added": list(added),
        "tags": sorted({*plan.view.tags, *added}),
        "notes": plan.notes,
    }


def _header(plan: Plan) -> None:
    p = plan.profile
    where = (
        f"{len(p.files)}{'+' if p.truncated else ''} files, {'git' if p.git else 'walked'}"
        if p.exists
        else ""
    )
    where = f"; {where}" if where else ""
    say(f"{plan.view.session.id}: project type {p.project_type} ({p.type_reason}){where}")
    for note in plan.notes:
        say(f"lsm: note: {note}")
    if plan.redacted:
        say(f"lsm: note: {plan.redacted} secret(s) were redacted before asking Claude")


def _print_suggestions(shown: Sequence[tagging.Suggestion]) -> None:
    if not shown:
        sys.stdout.write("No tag suggestions.\n")
        return
    from llm_session_manager.cli.render import SafeTable, console

    table = SafeTable(header_style="bold")
    table.add_column("Tag", no_wrap=True)
    table.add_column("Confidence", justify="right")
    table.add_column("Source")
    table.add_column("Reason", overflow="fold", max_width=90)
    for s in shown:
        table.add_row(s.tag, f"{s.confidence:.0%}", s.source, s.reason)
    console().print(table)


def _print_outcome(
    plan: Plan,
    ranked: tagging.Ranked,
    decisions: Sequence[tagging.Decision],
    added: Sequence[str],
    mode: str,
    threshold: float,
    shown: Sequence[tagging.Suggestion],
) -> None:
    if ranked.suppressed:
        names = ", ".join(f"{s.tag} ({why})" for s, why in ranked.suppressed)
        say(f"lsm: note: not suggested again: {names}")
    sid = plan.view.session.id
    if mode == "suggest":
        if shown:
            say(
                f"Add those at {threshold:.0%} or more with `lsm auto-tag {sid} --apply`,"
                " or choose with --interactive"
            )
        return
    if mode == "apply" and not decisions:
        say(f"no suggestion reaches the threshold ({threshold:.0%}); nothing added")
    rejected = [d.suggestion.tag for d in decisions if d.decision == "rejected"]
    say(
        f"added {len(added)} tag(s) to {sid}: {', '.join(added) or '-'}"
        + (f"; rejected: {', '.join(rejected)}" if rejected else "")
    )
    sys.stdout.write(
        for_terminal(f"{sid}  tags: {', '.join(sorted({*plan.view.tags, *added})) or '-'}") + "\n"
    )


def ai_description(ctx: Env, view: SessionView) -> str:
    """`describe --ai`: a one-paragraph description from Claude (raises ``AIError`` on any failure)."""
    from llm_session_manager.api import autotag

    return autotag.ai_description(ctx, view, say)


# ---------------------------------------------------------------------------------------------------
# tag-stats


def tag_stats_cmd(
    tag: str | None = typer.Option(
        None, "--tag", "-t", help="Only this tag.", autocompletion=completion.tags
    ),
    project_type: str | None = typer.Option(None, "--project-type", help="Only this project type."),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """How auto-tag's suggestions fared: per tag and project type, suggested/accepted/rejected counts."""
    from llm_session_manager.api import autotag

    fmt = check_format(fmt)
    stats = autotag.tag_stats(load_env(), tag, project_type)
    if fmt != "table":
        emit(
            fmt,
            {
                "rows": [r.as_json() for r in stats.rows],
                "by_tag": [r.as_json() for r in stats.by_tag],
                "by_project_type": [r.as_json() for r in stats.by_project_type],
                "by_source": [r.as_json() for r in stats.by_source],
            },
        )
        return
    if not stats.rows:
        sys.stdout.write("No auto-tag suggestions recorded yet (run `lsm auto-tag <id>`).\n")
        return
    from llm_session_manager.cli.render import console, table_width
    from llm_session_manager.cli.render import tag_stats_table as table

    con = console()
    width = table_width(con)
    con.print(table("Per tag and project type", stats.rows, with_tag=True, with_type=True, width=width))
    con.print(table("Per project type", stats.by_project_type, with_tag=False, with_type=True, width=width))
    if stats.by_source:
        con.print(table("Per source", stats.by_source, with_tag=False, with_type=False, width=width))


def register(app: typer.Typer) -> None:
    app.command("auto-tag")(auto_tag_cmd)
    app.command("tag-stats")(tag_stats_cmd)
