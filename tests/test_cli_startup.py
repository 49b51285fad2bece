"""Start-up: running one command imports only the module that defines it, and the table that says which
module that is stays true."""

from __future__ import annotations

import subprocess
import sys

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
