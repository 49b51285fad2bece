"""The Typer application of `lsm`: the root options, loading each command's module when it runs, and
the entry point that turns every failure into one line on stderr and a documented exit status.

Errors raised as ``LsmError`` become one line on stderr and the error's exit code.
"""

from __future__ import annotations

import os
import sys

import typer

from llm_session_manager import __version__
from llm_session_manager.cli import COMMAND_MODULES, MODULES
from llm_session_manager.cli.guard import guarded
from llm_session_manager.cli.root_help import ABOUT, ROOT_HELP, VERSION, VERSION_HELP
from llm_session_manager.errors import LsmError
from llm_session_manager.safetext import for_terminal, without_secrets


def _version(value: bool) -> None:
    if value:
        typer.echo(f"lsm {__version__}")
        raise typer.Exit()


def _root(
    version: bool = typer.Option(
        False, "--version", "-V", callback=_version, is_eager=True, help=VERSION_HELP
    ),
) -> None:
    """See every AI coding session on this machine: exact tokens, context fill, cost and health."""


def _new_app() -> typer.Typer:
    """The root application, without commands."""
    app = typer.Typer(
        name="lsm",
        help=ABOUT,
        no_args_is_help=True,
        add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish)
        pretty_exceptions_enable=False,
        context_settings={"help_option_names": ["-h", "--help"]},
    )
    app.callback()(_root)
    return app


_app = _new_app()


def _stand_in() -> None:
    """Never run: a stand-in only lists its command in the root help."""


def _help_app() -> typer.Typer:
    """The root application with a stand-in per command, made from cli/help_index.py: it prints the same
    root help as the application with every command, without importing any command's module. Used when
    cli/root_help.py leaves the help to typer."""
    from llm_session_manager.cli.help_index import COMMANDS

    app = _new_app()
    for name, help_line in COMMANDS:
        app.command(name, help=help_line)(_stand_in)
    return app


_registered: set[str] = set()


def _register(modules: tuple[str, ...] = MODULES) -> typer.Typer:
    import importlib

    for name in modules:
        if name not in _registered:
            importlib.import_module(f"llm_session_manager.cli.{name}").register(_app)
            _registered.add(name)
    return _app


def every_command() -> typer.Typer:
    """The Typer application with every command (for tests and tools that walk it)."""
    return _register()


def _app_for(args: list[str]) -> typer.Typer:
    if args[:1] in VERSION:
        return _app  # answered by the root callback: no command needed
    if args in ROOT_HELP:
        return _help_app()
    module = COMMAND_MODULES.get(args[0]) if args else None
    return _register((module,) if module else MODULES)


# The environment variable a shell sets to ask for completions (typer's protocol, see cli/completion.py).
COMPLETE_VAR = "_LSM_COMPLETE"


def _words_being_completed() -> list[str] | None:
    """The words typed after `lsm` when a shell asks for completions (bash passes COMP_WORDS, zsh and
    fish _TYPER_COMPLETE_ARGS), so that only the command's own module is loaded; None otherwise."""
    if not os.environ.get(COMPLETE_VAR):
        return None
    line = os.environ.get("COMP_WORDS") or os.environ.get("_TYPER_COMPLETE_ARGS") or ""
    return line.split()[1:]


def _usage_error(exc: Exception) -> int:
    """Print a click/typer usage error as one line; returns its exit status."""
    ctx = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
        # `lsm` alone: the help text, as a user expects, with the usage-error status. The error was made
        # with the help as its message; typer's rich help printed itself then and left the message empty.
        sys.stdout.write(exc.format_message() + "\n")  # type: ignore[attr-defined]
        return 2
    command = f" {ctx.info_name}" if ctx is not None and ctx.parent is not None else ""
    message = exc.format_message()  # type: ignore[attr-defined]
    hint = f" (see 'lsm{command} --help')" if type(exc).__name__ != "ClickException" else ""
    sys.stderr.write(for_terminal(without_secrets(f"lsm{command}: error: {message}{hint}")) + "\n")
    return int(getattr(exc, "exit_code", 2))


def main(argv: list[str] | None = None) -> None:
    """Entry point. Every failure ends as one line on stderr and a documented exit status (guard.py)."""
    args = sys.argv[1:] if argv is None else argv
    typed = _words_being_completed()

    def run() -> None:
        try:
            app = _app_for(typed if typed is not None and not args else args)
            code = app(args=args, prog_name="lsm", standalone_mode=False)
        except typer.Abort:
            raise KeyboardInterrupt from None
        except (LsmError, BrokenPipeError):
            raise
        except Exception as exc:
            # Usage errors of the option parser (click, vendored or not, depending on the typer version).
            if hasattr(exc, "format_message") and hasattr(exc, "exit_code"):
                sys.exit(_usage_error(exc))
            raise
        if isinstance(code, int) and code:
            sys.exit(code)

    guarded(run)
