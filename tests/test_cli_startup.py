"""Start-up: running one command imports only the module that defines it, and the table that says which
module that is stays true."""

from __future__ import annotations

import subprocess
import sys

import pytest
import typer

from llm_session_manager import cli


def _commands_of(module_name: str) -> set[str]:
    import importlib

    probe = typer.Typer()
    importlib.import_module(f"llm_session_manager.cli.{module_name}").register(probe)
    names = {c.name for c in probe.registered_commands}
    names |= {g.name for g in probe.registered_groups}
    return {n for n in names if n}


def test_every_command_is_in_the_table_under_its_own_module() -> None:
    actual = {name: module for module in cli.MODULES for name in _commands_of(module)}
    assert actual == cli.COMMAND_MODULES


def test_the_full_app_still_has_every_command() -> None:
    command = typer.main.get_command(cli.app)
    assert set(command.commands) == set(cli.COMMAND_MODULES)  # type: ignore[attr-defined]


def test_one_command_imports_only_its_module() -> None:
    code = (
        "import sys\n"
        "from llm_session_manager import cli\n"
        "try:\n"
        "    cli.main(['--version'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "try:\n"
        "    cli.main(['doctor', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('llm_session_manager.cli.'))\n"
        "print(' '.join(loaded))\n"
        "print('multiprocessing' in sys.modules, 'llm_session_manager.scan' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    loaded, heavy = out.stdout.strip().splitlines()[-2:]
    assert loaded.split() == [
        "llm_session_manager.cli.common",
        "llm_session_manager.cli.doctor_cmd",
        "llm_session_manager.cli.typer_app",
    ]
    assert heavy == "False False"


def _help_rows() -> list[tuple[str, str]]:
    """Each command's name and the paragraph of its help the root help shows, from the full app."""
    import inspect

    group = typer.main.get_command(cli.app)
    ctx = typer.Context(group)
    rows = []
    for name in group.list_commands(ctx):  # type: ignore[attr-defined]
        command = group.get_command(ctx, name)  # type: ignore[attr-defined]
        if not command.hidden:
            rows.append((name, inspect.cleandoc(command.short_help or command.help or "").split("\n\n")[0]))
    return rows


def _index_source(rows: list[tuple[str, str]]) -> str:
    """COMMANDS as cli/help_index.py spells it (lines within 110 columns), to paste there."""
    import json

    lines = ["COMMANDS: tuple[tuple[str, str], ...] = ("]
    for name, text in rows:
        one = f"    ({json.dumps(name)}, {json.dumps(text, ensure_ascii=False)}),"
        if len(one) <= 110:
            lines.append(one)
            continue
        chunks, line = [], ""
        for word in text.split(" "):  # literals of up to 100 columns, as ruff format leaves them
            piece = f" {word}" if line else word
            if line and len(json.dumps(line + piece, ensure_ascii=False)) > 100:
                chunks.append(line + " ")
                line = word
            else:
                line += piece
        chunks.append(line)
        lines += ["    (", f"        {json.dumps(name)},"]
        lines += [f"        {json.dumps(chunk, ensure_ascii=False)}" for chunk in chunks]
        lines[-1] += ","
        lines.append("    ),")
    return "\n".join([*lines, ")"])


def test_the_help_index_is_every_command_with_its_help_line() -> None:
    from llm_session_manager.cli import help_index

    rows = _help_rows()
    assert list(help_index.COMMANDS) == rows, "cli/help_index.py is out of date; its table is now:\n" + (
        _index_source(rows)
    )


def _root_help(args: list[str], env: dict[str, str], *, stand_ins: bool) -> tuple[str, list[str]]:
    """What `lsm ARGS` prints in a new process, and the lsm modules it loaded beyond the root app's;
    ``stand_ins`` False: through the application with every command, as before the help index."""
    import ast
    import os

    code = (
        "import sys\n"
        "from llm_session_manager.cli import typer_app\n"
        f"{'' if stand_ins else 'typer_app.ROOT_HELP = ()'}\n"
        "try:\n"
        f"    typer_app.main({args!r})\n"
        "except SystemExit as exc:\n"
        "    print('exit', exc.code)\n"
        "light = ('llm_session_manager.cli.typer_app', 'llm_session_manager.cli.help_index')\n"
        "loaded = [m for m in sys.modules if m.startswith('llm_session_manager.') and m not in light]\n"
        "sys.stderr.write(repr(sorted(loaded)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, env={**os.environ, **env}
    )
    return out.stdout, ast.literal_eval(out.stderr)


@pytest.mark.parametrize("args", [["--help"], ["-h"], []])
@pytest.mark.parametrize(
    "env",
    [
        {"COLUMNS": "60", "NO_COLOR": "1"},
        {"COLUMNS": "200", "NO_COLOR": "1"},
        {"COLUMNS": "100", "FORCE_COLOR": "1"},
    ],
)
def test_the_root_help_from_stand_ins_is_the_full_apps(args: list[str], env: dict[str, str]) -> None:
    fast, fast_loaded = _root_help(args, env, stand_ins=True)
    full, _ = _root_help(args, env, stand_ins=False)
    assert fast == full and "list" in fast and "memory-search" in fast
    # Nothing but the CLI's light modules: no command's module, no scanner.
    assert fast_loaded == [
        "llm_session_manager.cli",
        "llm_session_manager.errors",
        "llm_session_manager.safetext",
    ]
