"""`lsm` command line. Each command: parse options -> call a use case (api/) -> render (table or JSON).

The Typer application is in typer_app.py and is imported only when a command runs through it: the
light modules here (fast_list.py, which answers a quiet `lsm list` from its stored table) load
without typer or click.
"""

from __future__ import annotations

from typing import Any

# Every module of commands, in the order `lsm --help` lists them.
MODULES = (
    "sessions",
    "organise",
    "search_cmds",
    "export_cmds",
    "autotag",
    "memory_cmds",
    "recommend_cmd",
    "monitor_cmd",
    "mcp_cmds",
    "serve_cmd",
    "tokens_cmd",
    "limits_cmds",
    "report_cmd",
    "team_cmd",
    "hooks_cmd",
    "config_cmds",
    "doctor_cmd",
)
# The module that registers each top-level command. Running one command imports only its own module:
# the others pull in the scanner, multiprocessing and more, which every start-up would pay for.
# The root help is drawn from cli/help_index.py; unknown commands load them all. tests/test_cli_startup.py
# keeps both tables true.
COMMAND_MODULES = {
    **dict.fromkeys(("list", "info", "health"), "sessions"),
    **dict.fromkeys(
        ("tag", "untag", "set-project", "describe", "search", "batch-tag", "batch-close", "reopen"),
        "organise",
    ),
    **dict.fromkeys(("grep", "archive"), "search_cmds"),
    **dict.fromkeys(("export", "import-context", "batch-export", "forget"), "export_cmds"),
    **dict.fromkeys(("auto-tag", "tag-stats"), "autotag"),
    **dict.fromkeys(
        ("memory-add", "memory-search", "memory-list", "memory-stats", "memory-delete"), "memory_cmds"
    ),
    "recommend": "recommend_cmd",
    "monitor": "monitor_cmd",
    **dict.fromkeys(("mcp-server", "mcp-session-server", "mcp-config"), "mcp_cmds"),
    "serve": "serve_cmd",
    "tokens": "tokens_cmd",
    **dict.fromkeys(("limits", "budget", "statusline"), "limits_cmds"),
    **dict.fromkeys(("report", "prune"), "report_cmd"),
    "team": "team_cmd",
    **dict.fromkeys(("hook", "hooks", "notify"), "hooks_cmd"),
    **dict.fromkeys(("init-config", "show-config"), "config_cmds"),
    "doctor": "doctor_cmd",
}


def main(argv: list[str] | None = None) -> None:
    """Entry point of the full CLI (see typer_app.main)."""
    from llm_session_manager.cli.typer_app import main as run

    run(argv)


def __getattr__(name: str) -> Any:
    """``app``: the Typer application with every command (for tests and tools that walk it)."""
    if name == "app":
        from llm_session_manager.cli.typer_app import every_command

        return every_command()
    raise AttributeError(name)
