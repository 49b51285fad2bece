"""`lsm --help`, `lsm -h` and `lsm` alone, drawn with rich directly: the same bytes as typer's rich help of
the root application (typer/rich_utils.py, rich_format_help, in its default "rich" markup mode).

Importing typer and typer.rich_utils (rich.markdown, markdown_it, rich.traceback, ...) was most of the root
help's start-up. This module builds the same renderables from the same rich classes and prints them on a
console set up as typer's is. What typer reads and this module does not reproduce (LEFT_TO_TYPER) sends
the help back through typer. tests/test_cli_startup.py holds both helps byte-equal.

Only the constants load with this module; rich is imported when the help is drawn.
"""

from __future__ import annotations

import errno
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from rich.console import Console, RenderableType
    from rich.highlighter import RegexHighlighter
    from rich.text import Text

# The arguments that print the root help: `lsm` alone (click's no_args_is_help), --help and -h.
ROOT_HELP: tuple[list[str], ...] = ([], ["--help"], ["-h"])
VERSION: tuple[list[str], ...] = (["--version"], ["-V"])
ABOUT = "See every AI coding session on this machine: exact tokens, context fill, cost and health."
VERSION_HELP = "Print the version and exit."
# The root group's usage line; click wraps it at no less than 50 columns, and it is shorter.
USAGE = "Usage: lsm [OPTIONS] COMMAND [ARGS]..."
# The Options panel: long form, short form, help (one line each). --install-completion and
# --show-completion are typer's, their help is typer's wording.
OPTIONS: tuple[tuple[str, str, str], ...] = (
    ("--version", "-V", VERSION_HELP),
    ("--install-completion", "", "Install completion for the current shell."),
    (
        "--show-completion",
        "",
        "Show completion for the current shell, to copy it or customize the installation.",
    ),
    ("--help", "-h", "Show this message and exit."),
)
# Settings typer reads that are not reproduced here (its own switch, terminal width and terminal
# detection, and the shell-completion request, `_LSM_COMPLETE`): if any is set, typer draws the help.
LEFT_TO_TYPER = (
    "TYPER_USE_RICH",
    "_TYPER_FORCE_DISABLE_TERMINAL",
    "TERMINAL_WIDTH",
    "GITHUB_ACTIONS",
    "_LSM_COMPLETE",
)
# typer's styles (rich_utils.STYLE_*) for what the root help shows.
_THEME = {
    "option": "bold cyan",
    "switch": "bold green",
    "negative_option": "bold magenta",
    "negative_switch": "bold red",
    "types": "bold yellow",
    "types_sep": "dim",
    "usage": "yellow",
}


def drawn_here(environ: Mapping[str, str]) -> bool:
    """Whether this module draws the help as typer would. On Windows click writes through its own
    console streams: typer draws it there."""
    return os.name != "nt" and not any(name in environ for name in LEFT_TO_TYPER)


def force_terminal(environ: Mapping[str, str]) -> bool | None:
    """typer's FORCE_TERMINAL: True if FORCE_COLOR or PY_COLORS is non-empty, otherwise rich decides."""
    return True if environ.get("FORCE_COLOR") or environ.get("PY_COLORS") else None


def _highlighters() -> tuple[RegexHighlighter, RegexHighlighter, RegexHighlighter]:
    """typer's OptionHighlighter, NegativeOptionHighlighter and TypesHighlighter."""
    from rich.highlighter import RegexHighlighter

    class OptionHighlighter(RegexHighlighter):
        highlights = (
            r"(^|\W)(?P<switch>\-\w+)(?![a-zA-Z0-9])",
            r"(^|\W)(?P<option>\-\-[\w\-]+)(?![a-zA-Z0-9])",
            r"(?P<types>\<[^\>]+\>)",
            r"(?P<usage>Usage: )",
        )

    class NegativeOptionHighlighter(RegexHighlighter):
        highlights = (
            r"(^|\W)(?P<negative_switch>\-\w+)(?![a-zA-Z0-9])",
            r"(^|\W)(?P<negative_option>\-\-[\w\-]+)(?![a-zA-Z0-9])",
        )

    class TypesHighlighter(RegexHighlighter):
        highlights = (
            r"^(?P<types_sep>(\[|<))",
            r"(?P<types_sep>\|)",
            r"(?P<types_sep>(\]|>))(\.\.\.)?$",
        )

    return OptionHighlighter(), NegativeOptionHighlighter(), TypesHighlighter()


def _rich_text(text: str, highlighter: RegexHighlighter, style: str = "") -> Text:
    """typer's _make_rich_text: dedented, rich markup (or ANSI codes) parsed, options highlighted."""
    import inspect

    from rich.text import Text

    text = inspect.cleandoc(text)
    if "\033[" in text:
        return highlighter(Text.from_ansi(text, style=style))
    return highlighter(Text.from_markup(text, style=style))


def page(commands: Sequence[tuple[str, str]]) -> list[tuple[RenderableType, str | None]]:
    """The root help as typer's rich_format_help prints it: each renderable with the style it is printed
    in. ``commands``: each command's name and help (cli/help_index.py)."""
    import inspect

    from rich.align import Align
    from rich.columns import Columns
    from rich.console import Group
    from rich.padding import Padding
    from rich.panel import Panel
    from rich.table import Table
    from rich.text import Text

    option_hl, negative_hl, types_hl = _highlighters()

    about = inspect.cleandoc(ABOUT).partition("\f")[0]
    first, *rest = about.split("\n\n")
    if not first.startswith("\b"):
        first = first.replace("\n", " ")
    about_parts: list[RenderableType] = [_rich_text(first.strip(), option_hl)]
    if rest:
        about_parts += [Text(""), _rich_text("\n\n".join(rest), option_hl, style="dim")]

    # Tables without a box, cells padded by one column but not at the edges (typer's STYLE_*_TABLE_*).
    table_style: dict[str, Any] = {
        "show_header": False,
        "expand": True,
        "box": None,
        "show_lines": False,
        "leading": 0,
        "border_style": None,
        "row_styles": None,
        "pad_edge": False,
        "padding": (0, 1),
    }
    options = Table(highlight=True, **table_style)
    for long, short, help_text in OPTIONS:
        options.add_row(
            option_hl(long),
            option_hl(short),
            negative_hl(""),
            negative_hl(""),
            types_hl(Text(style="bold yellow", overflow="fold")),  # a flag: no type shown
            Columns([_rich_text(help_text, option_hl)]),
        )

    table = Table(highlight=False, **table_style)
    table.add_column(style="bold cyan", no_wrap=True, width=max((len(n) for n, _ in commands), default=0))
    table.add_column("Description", justify="left", no_wrap=False, ratio=10)
    for name, help_text in commands:
        # typer's _make_command_help: the first paragraph; its single line breaks stay in "rich" mode.
        line = inspect.cleandoc(help_text).split("\n\n")[0]
        if line.startswith("\b"):
            line = line.replace("\b\n", "")
        table.add_row(Text(name), _rich_text(line.strip(), option_hl))

    drawn: list[tuple[RenderableType, str | None]] = [
        (Padding(option_hl(USAGE), 1), "bold"),
        (Padding(Align(Group(*about_parts), pad=False), (0, 1, 1, 1)), None),
        (Panel(options, border_style="dim", title="Options", title_align="left"), None),
    ]
    if commands:
        drawn.append((Panel(table, border_style="dim", title="Commands", title_align="left"), None))
    return drawn


def new_console(
    *, force_terminal: bool | None, file: IO[str] | None = None, width: int | None = None
) -> Console:
    """A console as typer's _get_rich_console makes it; ``file`` None: sys.stdout when printing."""
    from rich.console import Console
    from rich.theme import Theme

    return Console(
        theme=Theme(_THEME),
        highlighter=_highlighters()[0],
        color_system="auto",
        force_terminal=force_terminal,
        width=width,
        file=file,
    )


def draw(commands: Sequence[tuple[str, str]], console: Console) -> None:
    """Print the root help on ``console``, one print per part as typer does."""
    for renderable, style in page(commands):
        console.print(renderable, style=style)


class _QuietFlush:
    """click's PacifyFlushWrapper: a flush at exit into a closed pipe is not reported."""

    def __init__(self, wrapped: IO[str]) -> None:
        self.wrapped = wrapped

    def flush(self) -> None:
        try:
            self.wrapped.flush()
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.wrapped, attr)


def fast_main(argv: list[str]) -> int | None:
    """Print the root help for ``argv`` (one of ROOT_HELP) as `lsm` through typer would, on the same
    stream, and return its exit status; None, having printed nothing, when typer must draw it."""
    if argv not in ROOT_HELP or not drawn_here(os.environ) or sys.stdout is None:
        return None  # no stdout (closed): typer copes, or fails, in its own way
    from llm_session_manager.cli.help_index import COMMANDS

    forced = force_terminal(os.environ)

    def write() -> None:
        # What typer runs: click's help option, or the NoArgsIsHelpError that `lsm` alone raises, whose
        # message cli/typer_app.py prints (empty once rich has printed the help) with status 2.
        draw(COMMANDS, new_console(force_terminal=forced))
        sys.stdout.write("\n")  # click echoes the help string, empty once rich has printed it

    status = _printed(write)
    return status if status is not None else (0 if argv else 2)


def version_main(argv: list[str]) -> int | None:
    """`lsm --version` (or ``-V``) as the root option's callback prints it through typer, without it."""
    if argv not in VERSION or not drawn_here(os.environ) or sys.stdout is None:
        return None
    from llm_session_manager import __version__

    status = _printed(lambda: sys.stdout.write(f"lsm {__version__}\n"))
    return status if status is not None else 0


def _printed(write: Callable[[], object]) -> int | None:
    """Run ``write`` and flush as click would: None when done, else the exit status typer gives."""
    try:
        write()
        sys.stdout.flush()
    except KeyboardInterrupt:
        return 130  # typer's Exit(130), silent
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        # typer's answer to a closed pipe: status 1, and no complaint at exit.
        sys.stdout = cast(IO[str], _QuietFlush(sys.stdout))
        sys.stderr = cast(IO[str], _QuietFlush(sys.stderr))
        return 1
    return None
