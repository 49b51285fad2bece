"""Context commands: export, import-context, batch-export."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import typer

from llm_session_manager import exporting
from llm_session_manager.api import exports as exports_api
from llm_session_manager.api.exports import export_document
from llm_session_manager.cli import completion
from llm_session_manager.cli.common import TABLE_OR_JSON, check_format, load_env, print_json, say, warn
from llm_session_manager.errors import LsmError, NotFoundError, UsageError
from llm_session_manager.models import SessionView
from llm_session_manager.safetext import for_terminal, json_for_terminal
from llm_session_manager.service import collect, resolve_id

OUT_HELP = "Output format: table or json."
ID_HELP = "Session id or a unique prefix of it."


def export_cmd(
    session_id: str = typer.Argument(..., help=ID_HELP, autocompletion=completion.session_ids),
    output: str = typer.Option(..., "--output", "-o", help="File to write, or - for stdout."),
    fmt: str | None = typer.Option(
        None, "--format", "-f", help="json, yaml or markdown (default: from the extension)."
    ),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
    parents: bool = typer.Option(False, "--parents", help="Create the file's missing folders."),
    full: bool = typer.Option(False, "--full", help="Keep long tool outputs whole."),
    no_transcript: bool = typer.Option(False, "--no-transcript", help="Leave the conversation out."),
    no_redact: bool = typer.Option(
        False, "--no-redact", help="Do not redact secrets (a warning is printed)."
    ),
) -> None:
    """Export a session's context to JSON, YAML or a Markdown hand-off."""
    kind = exporting.format_for(output, fmt)
    if output != "-":
        _folder_for(Path(output).expanduser().parent, parents, "-o")
    env = load_env()
    views = collect(env.paths, env.config).views
    view = resolve_id(views, session_id)
    if no_redact:
        warn("secrets are NOT redacted in this export; do not share it")
    doc = export_document(env, view, full=full, transcript=not no_transcript, redact=not no_redact, warn=warn)
    text = exporting.render(doc, kind)
    if output == "-" and kind == "markdown":  # read on a screen: an escape sequence is shown, not run
        text = for_terminal(text, multiline=True)
    elif output == "-" and kind == "json":  # the same document, with C1 and bidi controls escaped
        text = json_for_terminal(text.encode()).decode()
    exporting.write_output(text, output, force=force)
    if output != "-":
        say(f"exported {view.session.id} to {output} ({kind})")


def import_cmd(
    file: Path = typer.Argument(..., help="A JSON or YAML export."),
    session_id: str | None = typer.Option(None, "--session-id", help="Import under this id instead."),
    in_fmt: str | None = typer.Option(
        None, "--input-format", help="The file's format, json or yaml (default: extension or content)."
    ),
    out_fmt: str = typer.Option("table", "--format", "-f", help=OUT_HELP),
) -> None:
    """Import an exported session; it is listed with status 'imported'."""
    if out_fmt.strip().lower() in ("yaml", "yml"):
        raise UsageError("--format is the output format (table or json); the file's format is --input-format")
    out_fmt = check_format(out_fmt, TABLE_OR_JSON)
    fmt = None if in_fmt is None else check_format(in_fmt, ("json", "yaml"), "--input-format")
    text = _read_text(file)
    doc = exporting.parse_document(text, str(file), fmt)
    imported = exports_api.import_document(load_env(), doc, str(file), session_id)
    _done(
        out_fmt, imported.session_id, "imported" if imported.created else "already imported; nothing changed"
    )


def _read_text(file: Path) -> str:
    from llm_session_manager.fileio import UnreadableFile, read_regular
    from llm_session_manager.import_schema import MAX_DOCUMENT_BYTES

    try:
        raw = read_regular(file, MAX_DOCUMENT_BYTES)
        if raw is None:
            raise NotFoundError(f"{file}: no such file")
        return raw.decode("utf-8")
    except UnreadableFile as exc:
        raise UsageError(str(exc)) from None
    except OSError as exc:
        raise LsmError(f"cannot read {file}: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise UsageError(f"{file}: not a text file") from None


def _folder_for(folder: Path, parents: bool, option: str) -> bool:
    """Make sure ``folder`` exists for writing. A missing one is created only with --parents; returns
    whether it was created. Exports never create folders silently."""
    if folder.is_dir():
        return False
    if folder.exists():
        raise UsageError(f"{option}: {folder} is not a folder")
    if not parents:
        raise NotFoundError(f"{option}: folder {folder} does not exist; create it, or add --parents")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise LsmError(f"cannot create {folder}: {exc.strerror or exc}") from None
    say(f"lsm: created folder {folder}")
    return True


def _done(out_fmt: str, session_id: str, what: str) -> None:
    if out_fmt == "json":
        print_json({"id": session_id, "result": what})
    else:
        say(f"{session_id}: {what}")


def _file_name(view: SessionView, kind: str) -> str:
    ext = {"json": "json", "yaml": "yaml", "markdown": "md"}[kind]
    # Both parts come from logs or imported documents: never a path separator, never too long to be a
    # file name (a cut name keeps a digest of the whole id, so two long ids never collide).
    name = re.sub(r"[^A-Za-z0-9._-]", "_", f"{view.session.agent}_{view.session.native_id}").lstrip(".")
    if len(name) > 160:
        digest = hashlib.sha256(view.session.id.encode()).hexdigest()[:16]
        name = f"{name[:140]}-{digest}"
    return f"{name}.{ext}"


def batch_export_cmd(
    pattern: str = typer.Argument(..., help="'all', or a glob over ids, titles and projects."),
    output_dir: Path = typer.Option(
        Path("exports"), "--output-dir", "-o", help="Folder to write into (created if its parent exists)."
    ),
    fmt: str = typer.Option("json", "--format", "-f", help="json, yaml or markdown."),
    force: bool = typer.Option(False, "--force", help="Overwrite existing files."),
    parents: bool = typer.Option(False, "--parents", help="Also create the folder's missing parents."),
    no_transcript: bool = typer.Option(False, "--no-transcript", help="Leave the conversations out."),
) -> None:
    """Export every session matching a pattern, one file each."""
    from llm_session_manager import organise
    from llm_session_manager.cli.render import console, preview_table

    kind = exporting.format_for("x", fmt)
    env = load_env()
    views = organise.select(collect(env.paths, env.config).views, pattern)
    if not views:
        say(f"lsm: no session matches '{pattern}'; nothing to do")
        return
    folder = output_dir.expanduser()
    _folder_for(folder, parents or folder.parent.is_dir(), "--output-dir")  # the named folder: made, and said
    console(stderr=True).print(preview_table(views, f"Exporting {len(views)} session(s) to {output_dir}/"))
    written = skipped = 0
    for view in views:
        target = output_dir / _file_name(view, kind)
        if target.exists() and not force:
            warn(f"{target} exists; skipped (add --force to overwrite)")
            skipped += 1
            continue
        doc = export_document(env, view, full=False, transcript=not no_transcript, warn=warn)
        exporting.write_output(exporting.render(doc, kind), str(target), force=True)
        written += 1
    say(f"wrote {written} file(s) to {output_dir}" + (f", skipped {skipped}" if skipped else ""))


def forget_cmd(
    session_id: str = typer.Argument(..., help="An imported session's id, or a unique prefix of it."),
    out_fmt: str = typer.Option("table", "--format", "-f", help=OUT_HELP),
) -> None:
    """Remove an imported session: its document, tags, project and description. Sessions read from an
    agent's own files are never deleted by lsm."""
    out_fmt = check_format(out_fmt, TABLE_OR_JSON)
    target = exports_api.forget(load_env(), session_id)
    _done(out_fmt, target, "forgotten")


def register(app: typer.Typer) -> None:
    app.command("export")(export_cmd)
    app.command("import-context")(import_cmd)
    app.command("batch-export")(batch_export_cmd)
    app.command("forget")(forget_cmd)
