"""Start-up: running one command imports only the module that defines it, and the table that says which
module that is stays true."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from typing import NamedTuple

import pytest
import typer
from pty_run import run_in_pty

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
        "llm_session_manager.cli.guard",  # how failures end (errors and safetext, loaded anyway)
        "llm_session_manager.cli.root_help",  # constants only: rich is not imported with it
        "llm_session_manager.cli.typer_app",
    ]
    assert heavy == "False False"


def _every_command_in_order() -> typer.Typer:
    """The application with every command, registered in MODULES order: the process's own app gets its
    commands as they are first run, in the order the tests before this one ran them."""
    import importlib

    from llm_session_manager.cli import typer_app

    app = typer_app._new_app()
    for name in cli.MODULES:
        importlib.import_module(f"llm_session_manager.cli.{name}").register(app)
    return app


def _help_rows() -> list[tuple[str, str]]:
    """Each command's name and the paragraph of its help the root help shows, from the full app."""
    import inspect

    group = typer.main.get_command(_every_command_in_order())
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
        "light = ('llm_session_manager.cli.typer_app', 'llm_session_manager.cli.help_index',\n"
        "         'llm_session_manager.cli.root_help')\n"
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
        "llm_session_manager.cli.guard",
        "llm_session_manager.digest",
        "llm_session_manager.errors",
        "llm_session_manager.safetext",
    ]


# The root help drawn without typer (cli/root_help.py, through the entry point) against the application
# with every command: the same bytes, status and stream, whatever the width, colour and terminal.

# What rich and typer read that changes the root help: cleared, then set by each case.
_HELP_SETTINGS = (
    "COLUMNS",
    "LINES",
    "NO_COLOR",
    "FORCE_COLOR",
    "PY_COLORS",
    "TERM",
    "COLORTERM",
    "TTY_COMPATIBLE",
    "TTY_INTERACTIVE",
    "JUPYTER_COLUMNS",
    "JUPYTER_LINES",
    "TERMINAL_WIDTH",
    "GITHUB_ACTIONS",
    "TYPER_USE_RICH",
    "_TYPER_FORCE_DISABLE_TERMINAL",
    "_LSM_COMPLETE",
    "COMP_WORDS",
    "COMP_CWORD",
    "_TYPER_COMPLETE_ARGS",
)
# What the root help without typer must not import (typer.rich_utils brings the rest).
_HEAVY = ("typer", "typer.rich_utils", "click", "rich.markdown", "rich.traceback", "markdown_it")
# How each side runs `lsm ARGS`: the console script's entry point, or the full application (every
# command registered, no stand-ins) as before cli/root_help.py and cli/help_index.py.
_RUNNERS = {
    "entry": "sys.argv = ['lsm', *args]\nfrom llm_session_manager.entry import main\nmain()\n",
    "full": "from llm_session_manager.cli import typer_app\ntyper_app.ROOT_HELP = ()\ntyper_app.main(args)\n",
}


class Run(NamedTuple):
    code: int
    out: bytes
    err: bytes
    modules: list[str]


def _lsm(args: list[str], env: dict[str, str], *, via: str, tty: tuple[int, int] | None = None) -> Run:
    """`lsm ARGS` in a new process, through ``via`` (_RUNNERS): its status, stdout, stderr and the modules
    it had loaded at exit. ``tty``: stdout is a terminal of (columns, rows), otherwise a pipe."""
    import json

    code = (
        "import atexit, json, sys\n"
        "record, args = sys.argv[1], sys.argv[2:]\n"
        "def _record():\n"
        "    with open(record, 'w') as f:\n"
        "        json.dump(sorted(sys.modules), f)\n"
        "atexit.register(_record)\n" + _RUNNERS[via]
    )
    env = {**{k: v for k, v in os.environ.items() if k not in _HELP_SETTINGS}, **env}
    with tempfile.TemporaryDirectory() as tmp:
        record = os.path.join(tmp, "modules.json")
        command = [sys.executable, "-c", code, record, *args]
        if tty is None:
            done = subprocess.run(command, capture_output=True, env=env, timeout=60)
            status, out, err = done.returncode, done.stdout, done.stderr
        else:
            status, out, err = run_in_pty(command, env, tty)
        with open(record) as f:
            modules = json.load(f)
    return Run(status, out, err, modules)


def _same_help(fast: Run, full: Run, args: list[str]) -> None:
    assert (fast.code, fast.out, fast.err) == (full.code, full.out, full.err)
    # Stdout only; `lsm` alone is a usage error (status 2) that prints the help once, as --help does.
    assert fast.err == b"" and fast.code == (0 if args else 2)
    assert fast.out.count(b"[OPTIONS] COMMAND [ARGS]...") == 1
    assert b"memory-search" in fast.out
    assert "typer" in full.modules


def _columns(out: bytes) -> set[int]:
    return {len(line) for line in out.decode().splitlines() if line}


@pytest.mark.parametrize("args", [["--help"], ["-h"], []])
@pytest.mark.parametrize(
    "env",
    [
        {},  # a pipe: 80 columns, no colour
        {"COLUMNS": "40", "NO_COLOR": "1"},
        {"COLUMNS": "60"},
        {"COLUMNS": "80", "NO_COLOR": "1"},
        {"COLUMNS": "200", "NO_COLOR": "1"},
        {"COLUMNS": "40", "FORCE_COLOR": "1"},
        {"COLUMNS": "100", "FORCE_COLOR": "1", "COLORTERM": "truecolor"},
        {"COLUMNS": "80", "PY_COLORS": "1", "TERM": "xterm-256color"},
        {"COLUMNS": "70", "FORCE_COLOR": "1", "NO_COLOR": "1"},
    ],
)
def test_the_root_help_without_typer_is_the_full_apps(args: list[str], env: dict[str, str]) -> None:
    fast = _lsm(args, env, via="entry")
    _same_help(fast, _lsm(args, env, via="full"), args)
    assert not set(_HEAVY) & set(fast.modules)
    lsm_modules = [m for m in fast.modules if m.startswith("llm_session_manager")]
    assert lsm_modules == [
        "llm_session_manager",
        "llm_session_manager.cli",
        "llm_session_manager.cli.help_index",
        "llm_session_manager.cli.root_help",
        "llm_session_manager.entry",
    ]
    forced = "FORCE_COLOR" in env or "PY_COLORS" in env
    assert (b"\x1b[" in fast.out) == forced
    if not forced:
        assert _columns(fast.out) == {int(env.get("COLUMNS", "80"))}


@pytest.mark.skipif(sys.platform == "win32", reason="needs a pseudo-terminal")
@pytest.mark.parametrize("args", [["--help"], []])
@pytest.mark.parametrize("cols", [40, 80, 132])
def test_the_root_help_on_a_terminal_without_typer_is_the_full_apps(args: list[str], cols: int) -> None:
    """A terminal: its width from the terminal itself (no COLUMNS), colours on."""
    env = {"TERM": "xterm-256color"}
    fast = _lsm(args, env, via="entry", tty=(cols, 24))
    _same_help(fast, _lsm(args, env, via="full", tty=(cols, 24)), args)
    assert not set(_HEAVY) & set(fast.modules)
    assert b"\x1b[" in fast.out  # a terminal: coloured


_LEFT_TO_TYPER = [
    {"TYPER_USE_RICH": "1"},
    {"TYPER_USE_RICH": "0"},  # click's plain help
    {"_TYPER_FORCE_DISABLE_TERMINAL": "1", "FORCE_COLOR": "1"},
    {"TERMINAL_WIDTH": "50"},
    {"GITHUB_ACTIONS": "true"},
    {"_LSM_COMPLETE": "complete_bash", "COMP_WORDS": "lsm ", "COMP_CWORD": "1"},  # completions
]


def test_every_setting_left_to_typer_is_tried() -> None:
    from llm_session_manager.cli import root_help

    assert set(root_help.LEFT_TO_TYPER) <= {name for env in _LEFT_TO_TYPER for name in env}


@pytest.mark.parametrize("args", [["--help"], []])
@pytest.mark.parametrize("env", _LEFT_TO_TYPER)
def test_settings_typer_reads_send_the_root_help_through_typer(args: list[str], env: dict[str, str]) -> None:
    fast = _lsm(args, env, via="entry")
    full = _lsm(args, env, via="full")
    assert (fast.code, fast.out, fast.err) == (full.code, full.out, full.err)
    assert "typer" in fast.modules  # drawn by typer, from the stand-ins
    assert "llm_session_manager.cli.sessions" not in fast.modules
    if "TERMINAL_WIDTH" in env:
        assert _columns(fast.out) == {50}


def _noop() -> None:
    """Never run."""


# Help lines that exercise typer's handling: markup, options to highlight, a hard line break, a second
# paragraph (not shown), ANSI codes, a \b block, an emoji code, a long name.
_ODD_TABLE = (
    ("a", "Plain."),
    ("a-much-longer-name", "Has --an-option, -x, <type> and [bold]markup[/bold].\nA hard break, kept."),
    ("para", "First paragraph,\nwrapped.\n\nSecond paragraph, not shown."),
    ("ansi", "\x1b[31mred\x1b[0m and plain"),
    ("block", "\b\nkept\nas  is"),
    ("emoji", "An emoji :thumbs_up: code and [dim]dim[/] text."),
)


@pytest.mark.parametrize("colour", [None, True])
@pytest.mark.parametrize("width", [40, 80, 150])
def test_the_renderer_draws_any_table_as_typer(
    width: int, colour: bool | None, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """In process, against typer's own rich_format_help over stand-ins for a table of odd help lines."""
    from typer import rich_utils

    from llm_session_manager.cli import root_help, typer_app

    for name in _HELP_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", str(width))
    monkeypatch.setattr(rich_utils, "FORCE_TERMINAL", colour)
    app = typer_app._new_app()
    for name, help_line in _ODD_TABLE:
        app.command(name, help=help_line)(_noop)
    group = typer.main.get_command(app)
    assert group.get_help(typer.Context(group, info_name="lsm", **group.context_settings)) == ""
    by_typer = capsys.readouterr().out

    root_help.draw(_ODD_TABLE, root_help.new_console(force_terminal=colour, width=rich_utils.MAX_WIDTH))
    drawn = capsys.readouterr().out
    assert drawn == by_typer
    assert ("\x1b[" in drawn) == bool(colour) and "a-much-longer-name" in drawn


@pytest.mark.parametrize("env", [{}, {"TYPER_USE_RICH": "0"}, {"TYPER_USE_RICH": "1"}])
def test_lsm_alone_prints_the_help_once_with_the_usage_status(env: dict[str, str]) -> None:
    """Typer's rich help prints itself while the no-arguments error is made: printing the error's help
    again showed it twice. Rich or plain, drawn here or by typer, `lsm` alone is `lsm --help`, status 2."""
    alone, asked = _lsm([], env, via="entry"), _lsm(["--help"], env, via="entry")
    assert (alone.code, asked.code) == (2, 0)
    assert alone.out == asked.out and alone.err == asked.err == b""
    assert alone.out.count(b"Usage: lsm") == 1


@pytest.mark.parametrize("args", [["--version"], ["-V"]])
@pytest.mark.parametrize("env", [{}, {"FORCE_COLOR": "1", "COLUMNS": "40"}, {"TYPER_USE_RICH": "0"}])
def test_the_version_without_typer_is_the_full_apps(args: list[str], env: dict[str, str]) -> None:
    from llm_session_manager import __version__

    fast = _lsm(args, env, via="entry")
    full = _lsm(args, env, via="full")
    assert (
        (fast.code, fast.out, fast.err)
        == (full.code, full.out, full.err)
        == (0, f"lsm {__version__}\n".encode(), b"")
    )
    assert ("typer" in fast.modules) == ("TYPER_USE_RICH" in env) and "typer" in full.modules


def test_the_version_into_a_closed_pipe_ends_as_through_typer() -> None:
    """A reader gone before the version is printed: status 1, nothing on stderr, as click answers."""
    code = (
        "import subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-c', sys.argv[1], *sys.argv[2:]],\n"
        "                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)\n"
        "p.stdout.close()\n"
        "print(p.wait(), repr(p.stderr.read()))\n"
    )
    for via in ("entry", "full"):
        runner = "import sys\nargs = sys.argv[1:]\n" + _RUNNERS[via]
        done = subprocess.run(
            [sys.executable, "-c", code, runner, "--version"], capture_output=True, text=True, timeout=60
        )
        assert done.stdout.strip() == "1 b''", (via, done.stdout, done.stderr)
