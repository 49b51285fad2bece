"""Connecting to the team's PostgreSQL: one place that imports psycopg and turns its failures into one
line that never holds the password."""

from __future__ import annotations

from typing import TYPE_CHECKING

from llm_session_manager.errors import ConfigError, LsmError, StoreError

if TYPE_CHECKING:
    import psycopg

CONNECT_TIMEOUT_SECONDS = 10


class TeamUnavailableError(LsmError):
    """psycopg is not installed (the ``team`` extra)."""


def _psycopg() -> object:
    try:
        import psycopg
    except ImportError:
        raise TeamUnavailableError(
            "team mode needs psycopg: pip install 'llm-session-manager[team]'"
        ) from None
    return psycopg


def url_of(team_config: dict[str, object]) -> str:
    url = team_config.get("database_url")
    if not isinstance(url, str) or not url:
        raise ConfigError(
            "team mode is off: set team.database_url in the lsm config, or LSM_TEAM_DATABASE_URL"
            " (see docs/TEAM.md)"
        )
    return url


def safe_message(exc: BaseException, url: str) -> str:
    """A driver error as one line, with the URL's password (or the whole URL) never in it."""
    from urllib.parse import urlsplit

    from llm_session_manager.safetext import without_secrets

    text = " ".join(str(exc).split()) or type(exc).__name__
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    text = text.replace(url, "<team.database_url>")
    if password:
        text = text.replace(password, "***")
    return without_secrets(text)


def connect(url: str) -> psycopg.Connection:
    """An autocommit connection (every write says where its transaction begins and ends)."""
    _psycopg()
    import psycopg

    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_SECONDS)
    except (psycopg.Error, ValueError) as exc:
        raise StoreError(f"cannot reach the team database: {safe_message(exc, url)}") from None


def failure(exc: BaseException, url: str) -> StoreError:
    """A query that failed: one line for the user."""
    return StoreError(f"the team database failed: {safe_message(exc, url)}")
