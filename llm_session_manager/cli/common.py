"""What every command needs: the environment (paths + config), output format checks, JSON printing."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from llm_session_manager import config as config_mod
from llm_session_manager.errors import UsageError
from llm_session_manager.paths import Paths, resolve
from llm_session_manager.safetext import for_terminal, json_for_terminal

FORMATS = ("table", "json")


@dataclass(frozen=True)
class Env:
    paths: Paths
    config: dict[str, Any]


def load_env() -> Env:
    paths = resolve()
    return Env(paths, config_mod.load(paths.config_file))


def check_format(value: str, allowed: tuple[str, ...] = FORMATS) -> str:
    fmt = value.strip().lower()
    if fmt not in allowed:
        raise UsageError(f"--format: unknown format '{value}' (one of {', '.join(allowed)})")
    return fmt


def print_json(value: Any) -> None:
    import orjson

    sys.stdout.buffer.write(json_for_terminal(orjson.dumps(value, option=orjson.OPT_INDENT_2)) + b"\n")
    sys.stdout.flush()


def warn(message: str) -> None:
    sys.stderr.write(for_terminal(f"lsm: warning: {message}") + "\n")
