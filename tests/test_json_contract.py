"""The JSON contract: every document an `lsm` command prints may only grow.

Each command that prints JSON is run here, as a user runs it, in one fake HOME holding every agent's
fixtures, a running Claude-shaped process (so `process` is an object), a Codex session with rate limits,
tags, a memory and an import. The shape of its output (every key path, with the JSON types seen there)
is compared with a golden file in tests/fixtures/contract/<command>.json:

- a key in the golden file that the output no longer has, or a type the golden file does not allow,
  fails the test: scripts rely on them;
- a key the golden file does not know fails too, and says how to add it: run
  ``LSM_UPDATE_CONTRACT=1 pytest tests/test_json_contract.py`` (it only ever adds keys and types) and
  document the key in docs/CLI_GUIDE.md (test_cli_docs checks that).

Paths: ``$`` is the document, ``.key`` a key, ``[]`` every item of an array, ``.*`` every value of an
object whose keys are data (model names, session ids, paths).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import typer.main
from conftest import FakeHome, install_fixtures
from factories import running_agent
from test_agent_cline import install as install_cline
from test_agent_codex import install as install_codex
from test_agent_copilot import install_fixture as install_copilot
from test_agent_copilot_cli import install_fixture as install_copilot_cli
from test_agent_cursor import build_standard as build_cursor_db
from test_agent_gemini import install as install_gemini
from test_all_agents import FIX, HISTORY_FILE
from test_running_sessions import SID, write_status, write_transcript

# The running fake agent is linked through /proc (procStart), as in test_running_sessions.
pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc for procStart")
CONTRACT_DIR = Path(__file__).parent / "fixtures" / "contract"
UPDATE = os.environ.get("LSM_UPDATE_CONTRACT") == "1"
SIDE = "88a8d761-7b9a-4bf1-a8ca-c1febe6bf358"

Shape = dict[str, set[str]]


@dataclass(frozen=True)
class Doc:
    """One JSON document: the commands that print it (their shapes are merged) and its data-keyed maps."""

    runs: tuple[tuple[str, ...], ...]
    maps: frozenset[str] = field(default_factory=frozenset)
    file: str | None = None  # the document is this file (batch-export), not stdout
    discovery: bool = False


def _maps(*paths: str) -> frozenset[str]:
    return frozenset(paths)


# The export document's maps: secrets found per kind, and each tool call's own input.
EXPORT_MAPS = _maps("$.redactions", "$.conversation.turns[].tool_calls[].input")
DOCS: dict[str, Doc] = {
    "list": Doc((("list", "--all", "-f", "json"),), discovery=True),
    "search": Doc((("search", "contract", "-f", "json"), ("search", "tmp", "-f", "json"))),
    "info": Doc((("info", "-f", "json"),), _maps("$.unknown_models", "$.models_not_recorded", "$.agents")),
    "health": Doc(
        (
            ("health", "88a8", "-f", "json"),
            ("health", SID[:8], "-f", "json"),
            ("health", "019fc8be", "-f", "json"),
        ),
        discovery=True,
    ),
    "tokens": Doc((("tokens", "project", "-f", "json"),), _maps("$.modes")),
    "tag": Doc((("tag", "88a8", "contract", "extra", "-f", "json"),)),
    "untag": Doc((("untag", "88a8", "extra", "-f", "json"),)),
    "set-project": Doc((("set-project", "88a8", "Contract Project", "-f", "json"),)),
    "describe": Doc(
        (
            ("describe", "88a8", "The contract session", "-f", "json"),
            ("describe", "88a8", "--show", "-f", "json"),
        )
    ),
    "batch-tag": Doc((("batch-tag", "ses*", "batch", "-f", "json"),)),
    "batch-close": Doc((("batch-close", "ses*", "--dry-run", "-f", "json"),)),
    "reopen": Doc((("reopen", "88a8", "-f", "json"),)),
    "export": Doc((("export", "88a8", "-o", "-", "-f", "json"),), EXPORT_MAPS),
    "batch-export": Doc(
        (("batch-export", "88a8*", "-o", "out", "-f", "json", "--force"),),
        EXPORT_MAPS,
        file=f"out/claude-code_{SIDE}.json",
    ),
    "import-context": Doc((("import-context", "imported.json", "--session-id", "copy-1", "-f", "json"),)),
    "forget": Doc((("forget", "copy-1", "-f", "json"),)),
    "auto-tag": Doc((("auto-tag", SID[:8], "--apply", "-f", "json"),)),
    "tag-stats": Doc((("tag-stats", "-f", "json"),)),
    "recommend": Doc((("recommend", "-f", "json"),), discovery=True),
    "show-config": Doc((("show-config", "-f", "json"),), _maps("$.config.models")),
    "mcp-config": Doc(
        (("mcp-config", "-f", "json"), ("mcp-config", "--client", "vscode", "-f", "json")),
        _maps("$.mcpServers", "$.servers", "$.mcpServers.*.env", "$.servers.*.env"),
    ),
    "memory-add": Doc(
        (("memory-add", "88a8", "Contract memory: JWT auth with jose", "-t", "auth", "-f", "json"),)
    ),
    "memory-search": Doc((("memory-search", "authentication", "-f", "json"),)),
    "memory-list": Doc((("memory-list", "-f", "json"),)),
    "memory-stats": Doc(
        (("memory-stats", "-f", "json"),), _maps("$.by_session", "$.by_tag", "$.by_project", "$.by_agent")
    ),
    "memory-delete": Doc((("memory-delete", "@last-memory", "-f", "json"),)),
    "doctor": Doc((("doctor", "-f", "json"),), _maps("$.kept_rows", "$.lost")),
    "hooks status": Doc((("hooks", "status", "-f", "json"),)),
    "limits": Doc((("limits", "-f", "json"),)),
    "budget": Doc((("budget", "-f", "json"),)),
    "report daily": Doc((("report", "daily", "--timezone", "UTC", "--by", "model", "-f", "json"),)),
    "report weekly": Doc((("report", "weekly", "--by", "agent", "--start-of-week", "sunday", "-f", "json"),)),
    "report monthly": Doc((("report", "monthly", "--by", "project", "-f", "json"),)),
    "report blocks": Doc((("report", "blocks", "--by", "model", "-f", "json"),)),
    "report session": Doc((("report", "session", "--by", "branch", "-f", "json"),)),
    "prune": Doc((("prune", "--before", "2000-01-01", "-f", "json"),)),
    # Team mode needs a PostgreSQL: tests/test_team.py runs these against a real one and holds their
    # output to these golden files (they are not in ORDER, so this module's world never runs them).
    "team init": Doc((("team", "init", "-f", "json"),)),
    "team push": Doc((("team", "push", "-f", "json"),)),
    "team status": Doc((("team", "status", "-f", "json"),)),
    "grep": Doc((("grep", "the", "-f", "json"),)),
    "archive status": Doc((("archive", "status", "-f", "json"),)),
    "archive prune": Doc((("archive", "prune", "--before", "2000-01-01", "-f", "json"),)),
}
# The order the documents are produced in (tags before search, a memory before export, …).
ORDER = (
    "info",
    "tag",
    "untag",
    "set-project",
    "describe",
    "list",
    "search",
    "health",
    "tokens",
    "batch-tag",
    "batch-close",
    "memory-add",
    "memory-search",
    "memory-list",
    "memory-stats",
    "export",
    "batch-export",
    "import-context",
    "forget",
    "auto-tag",
    "tag-stats",
    "recommend",
    "show-config",
    "mcp-config",
    "reopen",
    "memory-delete",
    "doctor",
    "hooks status",
    "limits",
    "budget",
    "report daily",
    "report weekly",
    "report monthly",
    "report blocks",
    "report session",
    "prune",
    "grep",
    "archive status",
    "archive prune",
)


# ---------------------------------------------------------------------------------------------------
# Shapes


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def shape_of(value: Any, maps: frozenset[str], path: str = "$", out: Shape | None = None) -> Shape:
    """Every key path of ``value`` with the set of JSON types seen there."""
    out = {} if out is None else out
    out.setdefault(path, set()).add(type_name(value))
    if isinstance(value, dict):
        for key, child in value.items():
            shape_of(child, maps, f"{path}.*" if path in maps else f"{path}.{key}", out)
    elif isinstance(value, list):
        for item in value:
            shape_of(item, maps, f"{path}[]", out)
    return out


def merge(into: Shape, other: Mapping[str, set[str]]) -> Shape:
    for path, types in other.items():
        into.setdefault(path, set()).update(types)
    return into


def _gone(path: str, seen: Shape) -> bool:
    """A key is gone when an object that should hold it was printed without it. Items of an empty array
    or map, and keys under a null, are not gone: there was nothing to hold them."""
    if path in seen or path.endswith(("[]", ".*")):
        return False
    parent = path.rsplit(".", 1)[0]
    return "object" in seen.get(parent, set())


def compare(golden: Mapping[str, Sequence[str]], seen: Shape) -> tuple[list[str], list[str]]:
    """(broken: keys gone or types not allowed, new: keys the golden file lacks)."""
    broken = [f"{path}: gone (was {'|'.join(types)})" for path, types in golden.items() if _gone(path, seen)]
    broken += [
        f"{path}: {'|'.join(sorted(types - set(golden[path])))} is not one of {'|'.join(golden[path])}"
        for path, types in seen.items()
        if path in golden and not types <= set(golden[path])
    ]
    return broken, sorted(path for path in seen if path not in golden)


def load_golden(name: str) -> dict[str, list[str]]:
    path = CONTRACT_DIR / f"{name.replace(' ', '-')}.json"
    if not path.exists():
        return {}
    keys: dict[str, list[str]] = json.loads(path.read_text(encoding="utf-8"))["keys"]
    return keys


def save_golden(name: str, keys: Mapping[str, set[str] | Sequence[str]]) -> None:
    CONTRACT_DIR.mkdir(parents=True, exist_ok=True)
    doc = {
        "document": f"lsm {name} --format json",
        "note": "Golden key list: keys and types may be added (LSM_UPDATE_CONTRACT=1), never removed.",
        "keys": {path: sorted(types) for path, types in sorted(keys.items())},
    }
    (CONTRACT_DIR / f"{name.replace(' ', '-')}.json").write_text(
        json.dumps(doc, indent=1) + "\n", encoding="utf-8"
    )


# ---------------------------------------------------------------------------------------------------
# The world every document is produced in


def _install_agents(home: Path) -> None:
    install_codex(home / ".codex")
    install_gemini(home / ".gemini" / "tmp")
    build_cursor_db(home / ".config" / "Cursor" / "User")
    transcripts = home / ".cursor" / "projects" / "home-dev-app" / "agent-transcripts" / "t1"
    transcripts.mkdir(parents=True)
    shutil.copy(FIX / "cursor" / "agent_small.jsonl", transcripts / "t1.jsonl")
    install_copilot(home / ".config" / "Code" / "User")
    install_copilot_cli(home / ".copilot")
    repo = home / "src" / "app"
    (repo / ".git").mkdir(parents=True)
    shutil.copy(FIX / "aider" / "chat-history.excerpt.md", repo / HISTORY_FILE)
    install_cline(home)


def _project(home: Path) -> None:
    """A folder for `lsm tokens`: text, a binary file (skipped), a sub-folder."""
    project = home / "project"
    (project / "src").mkdir(parents=True)
    (project / "README.md").write_text("# Contract\n", encoding="utf-8")
    (project / "src" / "app.py").write_text("print('hello')\n", encoding="utf-8")
    (project / "logo.png").write_bytes(b"\x89PNG\x00\x00binary")


@dataclass
class World:
    home: FakeHome
    outputs: dict[str, list[Any]]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("contract")
    home = root / "home"
    home.mkdir()
    fh = FakeHome(home=home, claude=home / ".claude", lsm_home=root / "lsm-data")
    install_fixtures(fh.projects)
    _install_agents(home)
    _project(home)
    work = root / "work" / "my_app"
    work.mkdir(parents=True)
    (work / "pyproject.toml").write_text(
        '[project]\nname = "my-app"\ndependencies = ["fastapi", "pytest"]\n', encoding="utf-8"
    )
    (work / "main.py").write_text("import fastapi\n", encoding="utf-8")
    with running_agent(root / "bin", work, lifetime=300) as proc:
        write_transcript(fh, work)
        write_status(fh, proc.pid, work, "busy")
        yield World(fh, _produce(fh))


def _run(fh: FakeHome, args: Sequence[str], discovery: bool) -> str:
    extra = {"LSM_DISCOVERY": "on"} if discovery else {}
    r = fh.run(*args, **extra)
    assert r.returncode == 0, (args, r.stderr)
    return r.stdout


def _produce(fh: FakeHome) -> dict[str, list[Any]]:
    commands = {name for name, _command in _all_commands(typer.main.get_command(_app()))}
    exported = json.loads(_run(fh, ("export", "019fc8be", "-o", "-", "-f", "json"), False))
    (fh.home / "imported.json").write_text(json.dumps(exported), encoding="utf-8")
    outputs: dict[str, list[Any]] = {}
    last_memory = ""
    for name in ORDER:
        if name not in commands:
            continue
        doc = DOCS[name]
        if name == "reopen":  # close one for real first
            _run(fh, ("batch-close", "88a8*", "--force"), False)
        if name == "limits":  # Claude Code's figures come through the statusline
            _feed_statusline(fh)
        outputs[name] = []
        for args in doc.runs:
            args = tuple(last_memory if a == "@last-memory" else a for a in args)
            text = _run(fh, args, doc.discovery)
            if doc.file is not None:
                text = (fh.home / doc.file).read_text(encoding="utf-8")
            value = json.loads(text)
            outputs[name].append(value)
            if name == "memory-add":
                last_memory = value["id"]
    return outputs


def _feed_statusline(fh: FakeHome) -> None:
    from test_statusline import fresh, payloads, run_statusline

    for payload in payloads():
        assert run_statusline(fh, fresh(payload)).returncode == 0


def _app() -> Any:
    from llm_session_manager.cli import app

    return app


# ---------------------------------------------------------------------------------------------------
# The tests


@pytest.mark.parametrize("name", ORDER)
def test_json_document_only_grows(world: World, name: str) -> None:
    if name not in world.outputs:
        pytest.skip(f"lsm has no '{name}' command in this build")
    doc = DOCS[name]
    seen: Shape = {}
    for value in world.outputs[name]:
        merge(seen, shape_of(value, doc.maps))
    golden = load_golden(name)
    broken, new = compare(golden, seen)
    assert not broken, f"lsm {name}: the JSON contract is broken (keys are only ever added):\n" + "\n".join(
        broken
    )
    if new and UPDATE:
        save_golden(name, merge({p: set(t) for p, t in golden.items()}, seen))
        return
    assert not new, (
        f"lsm {name} prints new JSON keys: {', '.join(new)}.\n"
        "If they are meant to be there, record them with\n"
        "    LSM_UPDATE_CONTRACT=1 .venv/bin/python -m pytest tests/test_json_contract.py\n"
        f"then commit tests/fixtures/contract/{name}.json and document the keys in docs/CLI_GUIDE.md."
    )


def test_nested_objects_are_covered(world: World) -> None:
    """The contract covers the nested objects too, filled in, not only as null or empty arrays."""
    listed = load_golden("list")
    for path in ("$[].tokens.cache_read", "$[].process.pid", "$[].process.link", "$[].messages.user"):
        assert path in listed, path
    assert "$[].rate_limits[].resets_at" in listed and "$[].health.status" in listed
    assert "$.factors[].raw.context_tokens" in load_golden("health")
    assert "$.by_dir[].tokens" in load_golden("tokens") and "$.skipped[].reason" in load_golden("tokens")
    assert {"$.paths.claude_project_roots[].exists", "$.agents.*.transcript_files", "$.cache.hit"} <= set(
        load_golden("info")
    )


def _all_commands(group: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Every command, subcommands of groups included (``hooks status``)."""
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _all_commands(command, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", command


def test_every_json_command_has_a_golden_file() -> None:
    """A command that can print JSON and is not in DOCS would escape the contract."""
    for name, command in _all_commands(typer.main.get_command(_app())):
        formats = [p for p in command.params if "--format" in getattr(p, "opts", ())]
        if formats and "json" in (formats[0].help or "") + str(formats[0].default):
            assert name in DOCS, f"lsm {name} prints JSON but has no contract test"
            golden = CONTRACT_DIR / f"{name.replace(' ', '-')}.json"
            assert golden.exists() or UPDATE, f"no golden file for lsm {name}"


def test_a_missing_key_fails() -> None:
    """The comparison itself: a key gone, or a type changed, is reported; a new key is listed as new."""
    golden = {"$": ["object"], "$.a": ["number"], "$.b": ["string", "null"]}
    assert compare(golden, shape_of({"a": 1, "b": None}, frozenset())) == ([], [])
    broken, _ = compare(golden, shape_of({"b": "x"}, frozenset()))
    assert broken == ["$.a: gone (was number)"]
    items = {"$": ["array"], "$[]": ["object"], "$[].a": ["array"], "$[].a[]": ["number"]}
    assert compare(items, shape_of([], frozenset())) == ([], [])  # nothing to hold the keys
    assert compare(items, shape_of([{"a": []}], frozenset())) == ([], [])
    assert compare(items, shape_of([{"b": 1}], frozenset()))[0][0] == "$[].a: gone (was array)"
    broken, _ = compare(golden, shape_of({"a": "1", "b": "x"}, frozenset()))
    assert broken == ["$.a: string is not one of number"]
    assert compare(golden, shape_of({"a": 1, "b": "x", "c": [1]}, frozenset()))[1] == ["$.c", "$.c[]"]
    assert "$.m.*" in shape_of({"m": {"anything": 1}}, frozenset({"$.m"}))
