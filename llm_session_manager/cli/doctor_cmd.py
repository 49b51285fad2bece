"""`lsm doctor`: check lsm's own database and, with --repair, rebuild it keeping the user's records."""

from __future__ import annotations

import sys
from typing import Any

import typer

from llm_session_manager.cli.common import FORMAT_HELP, check_format, emit, load_env
from llm_session_manager.errors import EXIT_ERROR


def doctor_cmd(
    repair: bool = typer.Option(
        False, "--repair", help="Rebuild a damaged database (the old file is kept beside it)."
    ),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """Check lsm's database; with --repair, rebuild it keeping tags, projects, descriptions and imports.

    Exit status: 0 when the database is sound (or was repaired), 1 when a problem was found and not
    repaired."""
    fmt = check_format(fmt)
    from llm_session_manager.api.maintenance import doctor

    report = doctor(load_env(), repair=repair)
    if fmt != "table":
        emit(fmt, report)
    else:
        _print(report)
    if not report["ok"] and not report["repaired"]:
        raise typer.Exit(EXIT_ERROR)


def _print(report: dict[str, Any]) -> None:
    out = sys.stdout
    if not report["exists"]:
        out.write(f"{report['database']}: not created yet (nothing to check)\n")
        return
    if report["ok"]:
        out.write(f"{report['database']}: ok (schema version {report['schema_version']})\n")
        return
    out.write(f"{report['database']}: {len(report['problems'])} problem(s)\n")
    for problem in report["problems"]:
        out.write(f"  {problem}\n")
    if not report["repaired"]:
        out.write("run `lsm doctor --repair` to rebuild it")
        out.write(" (your tags, projects, descriptions and imports are kept)\n")
        return
    out.write(f"repaired: the damaged file was moved to {report['backup']}\n")
    for table, n in report["kept_rows"].items():
        out.write(f"  kept {n} row(s) of {table}\n")
    for table, why in report["lost"].items():
        out.write(f"  could not read all of {table}: {why}\n")


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor_cmd)
