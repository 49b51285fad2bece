"""docs/CLI_GUIDE.md keeps up with the command line: every command and every option the Typer app has,
and every key of every JSON document (the golden files of test_json_contract), is in the guide.
(sqlite-utils checks its documentation the same way: by walking the click command tree.)"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer.main

from llm_session_manager.cli import app

REPO = Path(__file__).resolve().parent.parent
GUIDE = (REPO / "docs" / "CLI_GUIDE.md").read_text(encoding="utf-8")
# The export document has its own page; the guide links to it.
EXPORT_FORMAT = (REPO / "docs" / "EXPORT_FORMAT.md").read_text(encoding="utf-8")
CONTRACT_DIR = Path(__file__).parent / "fixtures" / "contract"


def _commands() -> dict[str, Any]:
    group = typer.main.get_command(app)
    return dict(sorted(group.commands.items()))  # type: ignore[attr-defined]


def _section(command: str) -> str:
    """The guide's text about one command: from its `### lsm <command>` heading to the next heading of
    the same or a higher level."""
    match = re.search(rf"^(#+) `lsm {re.escape(command)}`.*$", GUIDE, re.MULTILINE)
    assert match, f"docs/CLI_GUIDE.md has no heading for `lsm {command}`"
    level = len(match.group(1))
    end = re.compile(rf"^#{{1,{level}}} ", re.MULTILINE).search(GUIDE, match.end())
    return GUIDE[match.start() : end.start() if end else len(GUIDE)]


def _params(command: Any) -> list[Any]:
    """A command's parameters; for a group (``lsm hooks``), those of every subcommand."""
    subs = getattr(command, "commands", {})
    return [p for sub in subs.values() for p in _params(sub)] if subs else list(command.params)


@pytest.mark.parametrize("command", list(_commands()))
def test_every_command_and_option_is_documented(command: str) -> None:
    text = _section(command)
    for sub in getattr(_commands()[command], "commands", {}):
        assert f"lsm {command} {sub}" in text, f"lsm {command} {sub} is not in its section"
    for param in _params(_commands()[command]):
        if param.param_type_name == "argument":
            assert param.name.upper() in text, (
                f"lsm {command}: argument {param.name.upper()} is not described"
            )
            continue
        for opt in (*param.opts, *param.secondary_opts):
            assert re.search(rf"`{re.escape(opt)}\b", text), (
                f"lsm {command}: option {opt} is not in its section"
            )


def test_the_command_table_lists_every_command() -> None:
    table = GUIDE.split("The commands are:", 1)[1].split("\n\n", 2)[1]
    listed = set(re.findall(r"^\| \[`([a-z-]+)`\]", table, re.MULTILINE))
    assert listed == set(_commands()), set(_commands()) ^ listed


def _golden_keys() -> list[tuple[str, str]]:
    out = []
    for path in sorted(CONTRACT_DIR.glob("*.json")):
        for key in json.loads(path.read_text(encoding="utf-8"))["keys"]:
            last = re.split(r"\.|\[\]", key)[-1] if key not in ("$",) else ""
            if last and last != "*":
                out.append((path.stem, last))
    return sorted(set(out))


def _documented(key: str, text: str) -> bool:
    forms = (f"`{key}`", f"`{key}:", f"`{key}.", f".{key}`", f".{key}.", f"`{key} ", f'"{key}"')
    return any(form in text for form in forms)


@pytest.mark.parametrize(("document", "key"), _golden_keys())
def test_every_json_key_is_documented(document: str, key: str) -> None:
    # The export document is described in EXPORT_FORMAT.md; its health and memories as in the guide.
    page, text = (
        ("EXPORT_FORMAT.md", EXPORT_FORMAT + GUIDE) if "export" in document else ("CLI_GUIDE.md", GUIDE)
    )
    assert _documented(key, text), f"the key '{key}' of `lsm {document} --format json` is not in docs/{page}"


def test_the_guide_describes_this_version() -> None:
    from llm_session_manager import __version__

    assert f"`lsm` {__version__}" in GUIDE
    for stale in ("currently always `claude-code`", "No command sets tags yet", "No command sets it yet"):
        assert stale not in GUIDE
