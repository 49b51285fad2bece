"""Content search: `lsm grep` (and `lsm search --content`), and the opt-in transcript archive
(`lsm archive status|prune`)."""

from __future__ import annotations

import sys

import typer
from rich.text import Text

from llm_session_manager.api import search as search_api
from llm_session_manager.cli.common import (
    FORMAT_HELP,
    check_agent,
    check_format,
    emit,
    load_env,
    say,
    warn,
)
from llm_session_manager.safetext import for_terminal
from llm_session_manager.timefmt import SINCE_FORMS

QUERY_HELP = (
    'Words to find (all must appear). FTS5 syntax: "a phrase", prefix*, NEAR(a b, 5), a OR b, a NOT b,'
    " (a OR b) AND c."
)
AGENT_HELP = "Only this agent's sessions (a name or a prefix: claude, codex, gemini...)."
PROJECT_HELP = "Only sessions of this project (name or path part)."
SINCE_HELP = f"Only messages written since: {SINCE_FORMS}."
ROLE_HELP = "Only messages of this role: user, assistant or tool (repeatable)."
LIMIT_HELP = "At most N sessions (each with its 3 best messages)."


def run_content_search(
    text: str,
    *,
    agent: str | None,
    project: str | None,
    since: str | None,
    roles: list[str] | None,
    limit: int | None,
    fmt: str,
) -> None:
    """Search what was said and print the result (table or JSON)."""
    fmt = check_format(fmt)
    filters = search_api.SearchFilters(
        agent=check_agent(agent),
        project=project,
        since=since,
        roles=tuple(r.strip().lower() for r in roles or ()),
        limit=limit or 20,
    )
    result = search_api.search_conversations(load_env(), text, filters, notice=lambda m: say(f"lsm: {m}"))
    for problem in result.warnings[:5]:
        warn(problem)
    if fmt != "table":
        emit(fmt, result.documents())
        return
    if not result.sessions:
        sys.stdout.write(for_terminal(f"Nothing said matches '{text}'.") + "\n")
        return
    from llm_session_manager.cli.render import console

    out = console()
    for line in hit_lines(result.sessions):
        out.print(line, no_wrap=True, overflow="ellipsis")


def hit_lines(sessions: list[list[search_api.Hit]]) -> list[Text]:
    """Each session (id, agent, title, resume command), then its best messages with the matched words
    highlighted. Snippets are untrusted text: built as ``Text`` and styled by span, never as markup."""
    from llm_session_manager.present import short_ids

    ids = short_ids([group[0].session_id.split(":", 1)[-1] for group in sessions])
    lines: list[Text] = []
    for rank, group in enumerate(sessions, 1):
        first = group[0]
        native = first.session_id.split(":", 1)[-1]
        lines.append(
            Text.assemble(
                (f"{rank}. ", "bold"),
                (for_terminal(f"{first.agent}:{ids.get(native, native)}"), "bold cyan"),
                for_terminal(f"  {first.project or '-'}  {first.title or '-'}"),
            )
        )
        resume = first.resume_command or "(no resume command for this session)"
        lines.append(Text.assemble(("   resume: ", "dim"), (for_terminal(resume), "green")))
        for hit in group:
            when = (hit.message_time or "")[:16].replace("T", " ")
            lines.append(Text.assemble((f"   {when or '-':16}  {hit.role:9}  ", "dim"), _highlighted(hit)))
    return lines


def _highlighted(hit: search_api.Hit) -> Text:
    text = Text(hit.snippet)  # already safe for a terminal (content_index made it so)
    for start, end in hit.highlights:
        text.stylize("bold yellow reverse", start, end)
    return text


def grep_cmd(
    query: str = typer.Argument(..., help=QUERY_HELP),
    agent: str | None = typer.Option(None, "--agent", help=AGENT_HELP),
    project: str | None = typer.Option(None, "--project", "-p", help=PROJECT_HELP),
    since: str | None = typer.Option(None, "--since", help=SINCE_HELP),
    role: list[str] | None = typer.Option(None, "--role", "-r", help=ROLE_HELP),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, help=LIMIT_HELP),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """Search what was said in every session (prompts, replies, commands, files, errors): the short form
    of `lsm search --content`."""
    run_content_search(query, agent=agent, project=project, since=since, roles=role, limit=limit, fmt=fmt)


archive_app = typer.Typer(
    help="The opt-in transcript archive (archive.enabled: true): compressed copies of indexed transcripts.",
    no_args_is_help=True,
)


@archive_app.command("status")
def archive_status_cmd(
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """What the archive keeps (files, sessions, bytes) and the content index's size."""
    fmt = check_format(fmt)
    doc = search_api.archive_status(load_env())
    if fmt != "table":
        emit(fmt, doc)
        return
    index = doc["index"]
    assert isinstance(index, dict)
    lines = [
        f"archive: {'on' if doc['enabled'] else 'off (archive.enabled: false)'}",
        f"folder: {doc['folder']}",
        f"copies: {doc['files']} file(s) of {doc['sessions']} session(s),"
        f" {_size(int(str(doc['stored_bytes'])))} stored for {_size(int(str(doc['original_bytes'])))}",
        f"activity: {doc['oldest_activity'] or '-'} .. {doc['newest_activity'] or '-'}",
        f"content index: {index['messages']} message(s) of {index['sessions']} session(s),"
        f" {_size(int(index['bytes']))}",
    ]
    for line in lines:
        sys.stdout.write(for_terminal(line) + "\n")


@archive_app.command("prune")
def archive_prune_cmd(
    before: str = typer.Option(
        ..., "--before", help=f"Forget copies of sessions last active before: {SINCE_FORMS}."
    ),
    dry_run: bool = typer.Option(False, "--dry-run", help="Only say what would be removed."),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """Remove the copies of sessions last active before a date, and the indexed messages of those whose
    transcripts are gone."""
    fmt = check_format(fmt)
    result = search_api.archive_prune(load_env(), before, dry_run=dry_run)
    if fmt != "table":
        emit(
            fmt,
            {
                "dry_run": dry_run,
                "copies": result.copies,
                "bytes": result.bytes,
                "sessions": result.sessions,
                "messages": result.messages,
            },
        )
        return
    verb = "would remove" if dry_run else "removed"
    sys.stdout.write(
        f"{verb} {result.copies} copy(ies) ({result.bytes} bytes) and {result.messages} indexed message(s)"
        f" of {result.sessions} deleted session(s)\n"
    )


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def register(app: typer.Typer) -> None:
    app.command("grep")(grep_cmd)
    app.add_typer(archive_app, name="archive")
