"""What every command needs: its context (paths + config, from the environment), output format checks,
JSON printing, warnings."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

from llm_session_manager.agents import agent_names
from llm_session_manager.api.context import Context
from llm_session_manager.errors import UsageError
from llm_session_manager.safetext import for_terminal, has_unsafe, json_for_terminal

FORMATS = ("table", "json", "yaml", "csv")
FORMAT_HELP = "Output format: table, json, yaml or csv."
TABLE_OR_JSON = ("table", "json")
# Every agent lsm reads, named as in session ids (the registry's module names, '_' -> '-').
AGENT_NAMES = agent_names()
AGENT_HELP = f"Only this agent: {', '.join(AGENT_NAMES)} (or a prefix: claude)."


# A command's context: paths and configuration from the environment, read here at the CLI's edge.
Env = Context


def load_env() -> Context:
    return Context.from_environment()


def check_format(value: str, allowed: tuple[str, ...] = FORMATS, option: str = "--format") -> str:
    fmt = value.strip().lower()
    if fmt not in allowed:
        raise UsageError(f"{option}: unknown format '{value}' (one of {', '.join(allowed)})")
    return fmt


def check_agent(value: str | None) -> str | None:
    """``--agent``: a known agent name or a prefix of one (``claude``), lower-cased; else a usage error."""
    if value is None:
        return None
    name = value.strip().lower()
    if not name or not any(agent.startswith(name) for agent in AGENT_NAMES):
        raise UsageError(f"--agent: unknown agent '{value}' (one of {', '.join(AGENT_NAMES)})")
    return name


def one_agent(value: str | None) -> str | None:
    """``--agent`` where one exact agent is needed: a name, or a prefix that names only one agent."""
    name = check_agent(value)
    if name is None or name in AGENT_NAMES:
        return name
    matches = [agent for agent in AGENT_NAMES if agent.startswith(name)]
    if len(matches) > 1:
        raise UsageError(f"--agent: '{value}' could be {', '.join(matches)}; give the full name")
    return matches[0]


def print_json(value: Any) -> None:
    import orjson

    print_bytes(json_for_terminal(orjson.dumps(value, option=orjson.OPT_INDENT_2)) + b"\n")


def print_bytes(data: bytes | bytearray) -> None:
    """Output already made terminal-safe (print_json's, or a listing's stored JSON)."""
    sys.stdout.buffer.write(data)
    sys.stdout.flush()


def emit(fmt: str, value: Any) -> None:
    """A command's document in a machine format: ``json`` (as print_json), ``yaml`` (the same document),
    or ``csv`` (one row per item of a list, or one row for a single document; nested keys joined with
    dots, lists as JSON text)."""
    if fmt == "json":
        print_json(value)
    elif fmt == "yaml":
        _print_yaml(value)
    elif fmt == "csv":
        _print_csv(value)
    else:  # pragma: no cover - check_format() let an unknown format through
        raise UsageError(f"--format: {fmt} is not a machine format")


def _plain(value: Any) -> Any:
    """The document as JSON types (dates as ISO text, dataclasses as dicts), as print_json writes it."""
    import orjson

    return orjson.loads(orjson.dumps(value))


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _print_yaml(value: Any) -> None:
    import yaml

    doc = _plain(value)
    # Text a terminal would act on (escape sequences, bidi overrides) is written escaped: PyYAML escapes
    # every non-ASCII character when told not to keep Unicode, and such text is rare.
    keep_unicode = not any(has_unsafe(s) for s in _strings(doc))
    sys.stdout.write(
        yaml.safe_dump(doc, sort_keys=False, allow_unicode=keep_unicode, default_flow_style=False)
    )
    sys.stdout.flush()


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flat(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    return {prefix or "value": value}


def _cell(value: Any) -> str:
    import orjson

    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        value = orjson.dumps(value).decode()
    if isinstance(value, bool):
        return "true" if value else "false"
    return for_terminal(str(value), multiline=True)


def _print_csv(value: Any) -> None:
    import csv

    doc = _plain(value)
    rows = [_flat(item) for item in (doc if isinstance(doc, list) else [doc])]
    columns: dict[str, None] = {}
    for row in rows:
        columns.update(dict.fromkeys(row))
    writer = csv.writer(sys.stdout, lineterminator="\n")
    writer.writerow(list(columns))
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in columns])
    sys.stdout.flush()


def say(message: str) -> None:
    """One line for the person at the terminal, on stderr (what was done, a note, progress): stdout
    stays the command's output. Text from logs or arguments in it has its control characters shown."""
    sys.stderr.write(for_terminal(message) + "\n")


def warn(message: str) -> None:
    sys.stderr.write(for_terminal(f"lsm: warning: {message}") + "\n")
