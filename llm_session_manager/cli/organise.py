"""Organising commands: tag, untag, set-project, describe, search, batch-tag, batch-close, reopen."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import typer

from llm_session_manager import organise
from llm_session_manager.api import organise as organise_api
from llm_session_manager.api import sessions as sessions_api
from llm_session_manager.cli import completion
from llm_session_manager.cli.common import FORMAT_HELP, check_format, emit, load_env, say
from llm_session_manager.errors import UsageError
from llm_session_manager.listing import check_statuses
from llm_session_manager.models import SessionView
from llm_session_manager.safetext import for_terminal, without_secrets
from llm_session_manager.service import project_name

ID_HELP = "Session id or a unique prefix of it."


def tag_cmd(
    session_id: str = typer.Argument(..., help=ID_HELP, autocompletion=completion.session_ids),
    tags: list[str] = typer.Argument(..., help="Tags to add: letters, digits, '.', '_', '-'."),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """Add tags to a session."""
    fmt = check_format(fmt)
    change = sessions_api.tag(load_env(), session_id, tags)
    sid, added, already = change.view.session.id, change.changed, change.unchanged
    if added:
        message = f"tagged {sid}: {', '.join(added)}"
        message += f" (already tagged: {', '.join(already)})" if already else ""
    else:
        message = f"{sid} is already tagged {', '.join(already)}; nothing changed"
    _report(change.view, fmt, message, {"added": added, "already_tagged": already})


def untag_cmd(
    session_id: str = typer.Argument(..., help=ID_HELP, autocompletion=completion.session_ids),
    tags: list[str] = typer.Argument(..., help="Tags to remove.", autocompletion=completion.tags),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """Remove tags from a session."""
    fmt = check_format(fmt)
    change = sessions_api.untag(load_env(), session_id, tags)
    sid = change.view.session.id
    if change.unchanged:
        say(f"lsm: note: {sid} had no tag {', '.join(change.unchanged)}")
    _report(change.view, fmt, f"untagged {sid}")


def set_project_cmd(
    session_id: str = typer.Argument(..., help=ID_HELP, autocompletion=completion.session_ids),
    name: str = typer.Argument(..., help="Project name; an empty string clears it."),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """Give a session a project name (shown and filtered on instead of its folder name)."""
    fmt = check_format(fmt)
    sessions_api.clean_project(name)  # a bad name is refused before any scan
    view = sessions_api.set_project(load_env(), session_id, name)
    shown = without_secrets(view.project) or "(cleared)"
    _report(view, fmt, f"project of {view.session.id}: {shown}")


def describe_cmd(
    session_id: str = typer.Argument(..., help=ID_HELP, autocompletion=completion.session_ids),
    text: str | None = typer.Argument(None, help="The description; omit with --show or --ai."),
    show: bool = typer.Option(False, "--show", help="Print the current description."),
    ai: bool = typer.Option(False, "--ai", help="Write one with Claude (needs ANTHROPIC_API_KEY)."),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """Set, show or generate a session's description."""
    fmt = check_format(fmt)
    if sum([bool(text), show, ai]) != 1:
        raise UsageError("give a description, or --show, or --ai (exactly one)")
    env = load_env()
    view = env.one(session_id)
    if show:
        if fmt != "table":
            emit(fmt, sessions_api.meta_document(view))
        else:
            sys.stdout.write(for_terminal(view.description or "(no description)", multiline=True) + "\n")
        return
    if ai:
        from llm_session_manager.cli.autotag import ai_description

        text = ai_description(env, view)  # one paragraph from Claude; an AIError changes nothing
    else:
        sessions_api.clean_description(text or "")  # too long: refused before anything is written
    after = sessions_api.describe(env, view, text or "")
    _report(after, fmt, f"described {after.session.id}")


def _report(view: SessionView, fmt: str, message: str, extra: dict[str, Any] | None = None) -> None:
    if fmt != "table":
        emit(fmt, {**sessions_api.meta_document(view), **(extra or {})})
        return
    say(message)
    line = f"{view.session.id}  project: {project_name(view) or '-'}  tags: {', '.join(view.tags) or '-'}"
    sys.stdout.write(for_terminal(line) + "\n")


def search_cmd(
    text: str = typer.Argument(..., help="Words to find (all must match; prefixes count)."),
    details: bool = typer.Option(False, "--details", "-d", help="Show description, tags, tokens and health."),
    limit: int | None = typer.Option(None, "--limit", "-n", min=1, help="At most N results."),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
    content: bool = typer.Option(
        False, "--content", help="Search what was said in the sessions instead (see `lsm grep`)."
    ),
    agent: str | None = typer.Option(None, "--agent", help="With --content: only this agent."),
    project: str | None = typer.Option(None, "--project", "-p", help="With --content: only this project."),
    since: str | None = typer.Option(None, "--since", help="With --content: only messages since then."),
    role: list[str] | None = typer.Option(
        None, "--role", "-r", help="With --content: only user, assistant or tool messages."
    ),
) -> None:
    """Find sessions by description, title, tags and project (--content: by what was said)."""
    if content:
        from llm_session_manager.cli.search_cmds import run_content_search

        run_content_search(text, agent=agent, project=project, since=since, roles=role, limit=limit, fmt=fmt)
        return
    if agent or project or since or role:
        raise UsageError("--agent, --project, --since and --role need --content")
    fmt = check_format(fmt)
    listing = sessions_api.list_sessions(load_env(), sessions_api.ListQuery(text=text, limit=limit))
    if fmt != "table":
        emit(fmt, listing.documents())
        return
    if not listing.views:
        sys.stdout.write(for_terminal(f"No session matches '{text}'.") + "\n")
        return
    from llm_session_manager.cli.render import console, search_table

    console().print(search_table(listing.views, details, known=listing.collected.sessions()))


def _preview(views: Sequence[SessionView], title: str) -> None:
    from llm_session_manager.cli.render import console, preview_table

    console(stderr=True).print(preview_table(views, title))


def batch_tag_cmd(
    pattern: str = typer.Argument(
        ..., help="'all', or a glob over ids, titles and projects (e.g. 'test-*')."
    ),
    tags: list[str] = typer.Argument(..., help="Tags to add."),
    all_: bool = typer.Option(
        True, "--all/--recent", help="Match every session (default) or only recent ones."
    ),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """Add tags to every session matching a pattern."""
    fmt = check_format(fmt)
    clean = organise.normalise_tags(tags)
    ctx = load_env()
    views = organise_api.select(ctx, pattern, recent_only=not all_)
    if not views:
        _nothing(fmt, f"no session matches '{pattern}'", {"sessions": [], "tags": clean, "added": 0})
        return
    if fmt == "table":
        _preview(views, f"Tagging {len(views)} session(s) with {', '.join(clean)}")
    added = organise_api.batch_tag(ctx, views, clean)
    if fmt != "table":
        emit(fmt, {"sessions": [v.session.id for v in views], "tags": clean, "added": added})
    else:
        say(f"added {added} tag(s) to {len(views)} session(s)")


def batch_close_cmd(
    pattern: str = typer.Argument(..., help="'all', or a glob over ids, titles and projects."),
    status: list[str] = typer.Option(
        [], "--status", "-s", help="Only sessions with this status (repeatable)."
    ),
    force: bool = typer.Option(False, "--force", help="Do not ask for confirmation."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Show what would be done; change nothing."),
    timeout: float = typer.Option(5.0, "--timeout", min=0.1, help="Seconds to wait for a process to exit."),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """Close every session matching a pattern: mark it closed and end its agent process (SIGTERM)."""
    fmt = check_format(fmt)
    statuses = check_statuses(status)
    ctx = load_env()
    views = organise_api.select(ctx, pattern, statuses=statuses, open_only=True)
    if not views:
        with_status = f" with status {', '.join(statuses)}" if statuses else ""
        _nothing(fmt, f"no open session matches '{pattern}'{with_status}", [])
        return
    if not dry_run and not force and not sys.stdin.isatty():
        raise UsageError("batch-close needs confirmation: run it in a terminal, or add --force")
    _preview(views, f"{'Would close' if dry_run else 'Closing'} {len(views)} session(s)")
    asked = not dry_run and not force
    if asked and not typer.confirm(f"Close {len(views)} session(s)?", default=False, err=True):
        _nothing(fmt, "cancelled", [])
        return
    outcomes = organise_api.close(ctx, views, dry_run=dry_run, timeout=timeout)
    if fmt != "table":
        emit(
            fmt,
            [{"id": o.session_id, "pid": o.pid, "action": o.action, "detail": o.detail} for o in outcomes],
        )
        return
    for o in outcomes:
        pid = f" (pid {o.pid})" if o.pid else ""
        line = f"{o.session_id}{pid}: {o.action}{': ' + o.detail if o.detail else ''}"
        sys.stdout.write(for_terminal(line) + "\n")


def reopen_cmd(
    session_id: str = typer.Argument(..., help=ID_HELP, autocompletion=completion.session_ids),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """Reopen a session closed through lsm."""
    fmt = check_format(fmt)
    done = organise_api.reopen(load_env(), session_id)
    view = done.view
    if not done.changed:
        _nothing(fmt, f"{view.session.id} is not closed (it is {view.status})", _status(view))
        return
    if fmt != "table":
        emit(fmt, _status(view))
    else:
        say(f"reopened {view.session.id} (now {view.status})")


def _status(view: SessionView) -> dict[str, Any]:
    return {"id": view.session.id, "status": view.status}


def _nothing(fmt: str, why: str, empty: Any) -> None:
    """Nothing to do is a success (exit 0): the reason on stderr, and the empty result in JSON."""
    say(f"lsm: {why}; nothing to do")
    if fmt != "table":
        emit(fmt, empty)


def register(app: typer.Typer) -> None:
    app.command("tag")(tag_cmd)
    app.command("untag")(untag_cmd)
    app.command("set-project")(set_project_cmd)
    app.command("describe")(describe_cmd)
    app.command("search")(search_cmd)
    app.command("batch-tag")(batch_tag_cmd)
    app.command("batch-close")(batch_close_cmd)
    app.command("reopen")(reopen_cmd)
