"""The one module that talks to the Anthropic API (tag suggestions and session descriptions).

Every request uses a forced, strict tool (``tool_choice`` names it), so the reply is JSON that matches a
schema, never prose to be parsed. Everything sent passes through ``scrub`` first: API keys, tokens,
passwords, ``.env``-style secret assignments and the literal values of secret-looking environment
variables are replaced. Failures (no key, network, timeout, 429, refusal, a reply that is not the
expected JSON) become one ``AIError`` line; callers change nothing when one is raised.

The ``anthropic`` package is imported only inside the functions that call it: ``lsm list`` never pays for it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from llm_session_manager.errors import LsmError

DEFAULT_MODEL = "claude-haiku-4-5"
DEFAULT_TIMEOUT = 30.0
MAX_RETRIES = 1  # one retry for a transient failure, then a clear error
TAGS_MAX_TOKENS = 1024
DESCRIPTION_MAX_TOKENS = 600
DESCRIPTION_MAX_CHARS = 4000
KEY_VARIABLE = "ANTHROPIC_API_KEY"


class AIError(LsmError):
    """A request to Claude failed; ``str()`` is the one line the user sees."""


class NoKeyError(AIError):
    """``ANTHROPIC_API_KEY`` is not set."""


@dataclass(frozen=True)
class AISettings:
    api_key: str
    model: str = DEFAULT_MODEL
    timeout: float = DEFAULT_TIMEOUT
    base_url: str | None = None  # ANTHROPIC_BASE_URL (a proxy, or a test's local stub)
    secrets: tuple[str, ...] = ()  # literal values never to send


@dataclass(frozen=True)
class AITag:
    tag: str
    confidence: float
    reason: str


# ---------------------------------------------------------------------------------------------------
# Settings

_SECRET_NAME = re.compile(r"(KEY|SECRET|TOKEN|PASSWORD|PASSWD|CREDENTIAL|AUTH|PRIVATE|DSN|COOKIE)", re.I)


def settings_from(env: Mapping[str, str], config: Mapping[str, Any]) -> AISettings:
    """Settings from the environment snapshot (the key, a base URL) and the config's ``ai`` section."""
    key = (env.get(KEY_VARIABLE) or "").strip()
    if not key:
        raise NoKeyError(f"{KEY_VARIABLE} is not set")
    section = config.get("ai") or {}
    secrets = tuple(
        sorted(
            {v for k, v in env.items() if _SECRET_NAME.search(k) and len(v.strip()) >= 8} | {key},
            key=len,
            reverse=True,
        )
    )
    return AISettings(
        api_key=key,
        model=str(section.get("model") or DEFAULT_MODEL),
        timeout=float(section.get("timeout_seconds") or DEFAULT_TIMEOUT),
        base_url=(env.get("ANTHROPIC_BASE_URL") or "").strip() or None,
        secrets=secrets,
    )


# ---------------------------------------------------------------------------------------------------
# Redaction: nothing secret leaves the machine

# NAME=value lines of .env files and shell exports whose name says "secret" (API_KEY, DB_PASS, DSN...).
_ENV_ASSIGNMENT = re.compile(
    r"(?m)^(\s*(?:export\s+)?[A-Z0-9_.\-]*"
    r"(?:KEY|SECRET|TOKEN|PASS|PASSWORD|PASSWD|PWD|CREDENTIALS?|AUTH|DSN|DATABASE_URL|COOKIE)"
    r"[A-Z0-9_]*\s*[=:]\s*)([\"']?)([^\s\"'#]{4,})"
)


def scrub(text: str, secrets: tuple[str, ...] = ()) -> tuple[str, int]:
    """``text`` without secrets, and how many were replaced."""
    from llm_session_manager.redact import redact_text

    found = 0
    for value in secrets:
        if value and value in text:
            found += text.count(value)
            text = text.replace(value, "[REDACTED:env-secret]")
    text, counts = redact_text(text)
    found += sum(counts.values())

    def env_value(match: re.Match[str]) -> str:
        nonlocal found
        if match.group(3).startswith("[REDACTED"):
            return match.group(0)
        found += 1
        return f"{match.group(1)}{match.group(2)}[REDACTED:env-value]"

    text = _ENV_ASSIGNMENT.sub(env_value, text)
    return text, found


# ---------------------------------------------------------------------------------------------------
# Schemas (strict tools: every property required, no extra properties)

TAGS_TOOL: dict[str, Any] = {
    "name": "record_tags",
    "description": "Record the tags that describe this coding session.",
    "strict": True,
    "input_schema": {
        "type": "object",
        "properties": {
            "tags": {
                "type": "array",
                "description": "3 to 8 tags, best first.",
                "items": {
                    "type": "object",
                    "properties": {
                        "tag": {
                            "type": "string",
                            "description": "lower-case, only a-z 0-9 . _ - (e.g. 'python', 'auth', 'bugfix')",
                        },
                        "confidence": {"type": "number", "description": "0 to 1"},
                        "reason": {"type": "string", "description": "a few words of evidence"},
                    },
                    "required": ["tag", "confidence", "reason"],
                    "additionalProperties": False,
                },
            }
        },
        "required": ["tags"],
        "additionalProperties": False,
    },
}

DESCRIPTION_TOOL: dict[str, Any] = {
    "name": "record_description",
    "description": "Record a one-paragraph description of this coding session.",
    "strict": True,
    "input_schema": {
        "type": "object",
        "properties": {
            "description": {
                "type": "string",
                "description": "One paragraph, 2 to 4 sentences, plain text, no markdown.",
            }
        },
        "required": ["description"],
        "additionalProperties": False,
    },
}

TAGS_SYSTEM = (
    "You label AI coding sessions so that a developer can find and group them later. From the project "
    "facts and the session's first prompts, choose 3 to 8 short tags: the main language, frameworks, and "
    "what the session was about (e.g. bugfix, refactor, testing, auth, docs, performance). Prefer tags a "
    "developer would search for; do not repeat existing tags. Tags are lower-case and use only a-z, 0-9, "
    "'.', '_' and '-'. Give each a confidence from 0 to 1 and a few words of evidence. Answer only by "
    "calling record_tags."
)

DESCRIPTION_SYSTEM = (
    "You write the description of an AI coding session for a session manager: one paragraph of 2 to 4 "
    "plain sentences saying what the project is and what the session worked on, based on the project "
    "facts, README, existing tags and the session's first prompts. No markdown, no lists, no preamble. "
    "Answer only by calling record_description."
)


# ---------------------------------------------------------------------------------------------------
# Calls


def suggest_tags(settings: AISettings, context: str, max_tags: int = 8) -> tuple[list[AITag], int]:
    """Claude's tag suggestions for a session described by ``context``; also how many secrets were
    redacted from what was sent."""
    clean, redacted = scrub(context, settings.secrets)
    data = _call_tool(settings, TAGS_SYSTEM, clean, TAGS_TOOL, TAGS_MAX_TOKENS)
    return parse_tags(data)[:max_tags], redacted


def describe(settings: AISettings, context: str) -> tuple[str, int]:
    """A one-paragraph description of a session; also how many secrets were redacted."""
    clean, redacted = scrub(context, settings.secrets)
    data = _call_tool(settings, DESCRIPTION_SYSTEM, clean, DESCRIPTION_TOOL, DESCRIPTION_MAX_TOKENS)
    return parse_description(data), redacted


def parse_tags(data: Any) -> list[AITag]:
    """Validate the ``record_tags`` input. Items that are not tags are an error, not silently dropped."""
    items = data.get("tags") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise AIError("Claude's reply was not the expected tag list (no 'tags' array); nothing was changed")
    out: list[AITag] = []
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("tag"), str):
            raise AIError(
                "Claude's reply was not the expected tag list (an item has no 'tag'); nothing was changed"
            )
        conf = item.get("confidence", 0.5)
        if isinstance(conf, bool) or not isinstance(conf, (int, float)):
            conf = 0.5
        reason = item.get("reason")
        out.append(
            AITag(
                item["tag"],
                max(0.0, min(1.0, float(conf))),
                reason.strip()[:200] if isinstance(reason, str) and reason.strip() else "suggested by Claude",
            )
        )
    return out


def parse_description(data: Any) -> str:
    text = data.get("description") if isinstance(data, dict) else None
    if not isinstance(text, str) or not text.strip():
        raise AIError("Claude's reply had no description; nothing was changed")
    paragraph = " ".join(text.split())
    if len(paragraph) > DESCRIPTION_MAX_CHARS:
        paragraph = paragraph[: DESCRIPTION_MAX_CHARS - 1] + "…"
    return paragraph


def _client(settings: AISettings) -> Any:
    import anthropic

    return anthropic.Anthropic(
        api_key=settings.api_key,
        base_url=settings.base_url,
        timeout=settings.timeout,
        max_retries=MAX_RETRIES,
    )


def _call_tool(settings: AISettings, system: str, user: str, tool: dict[str, Any], max_tokens: int) -> Any:
    """One request with ``tool`` forced; returns the tool call's input. Errors become one AIError line."""
    try:
        import anthropic
    except ImportError:
        raise AIError("the 'anthropic' package is not installed (pip install anthropic)") from None
    try:
        message = _client(settings).messages.create(
            model=settings.model,
            max_tokens=max_tokens,
            system=system,
            messages=[{"role": "user", "content": user}],
            tools=[tool],
            tool_choice={"type": "tool", "name": tool["name"]},
        )
    except anthropic.APIError as exc:
        raise AIError(describe_error(exc, settings)) from None
    return tool_input(message, tool["name"])


def tool_input(message: Any, name: str) -> Any:
    """The input of the forced tool call in a reply (blocks are picked by type, never by position)."""
    stop = getattr(message, "stop_reason", None)
    if stop == "refusal":
        details = getattr(message, "stop_details", None)
        category = getattr(details, "category", None)
        why = f" ({category})" if category else ""
        raise AIError(f"Claude declined to answer{why}; nothing was changed")
    for block in getattr(message, "content", None) or []:
        if getattr(block, "type", None) == "tool_use" and getattr(block, "name", None) == name:
            return block.input
    if stop == "max_tokens":
        raise AIError("Claude's reply was cut off (max_tokens) before it was complete; nothing was changed")
    raise AIError(f"Claude's reply had no {name} call (stop reason: {stop}); nothing was changed")


def describe_error(exc: Exception, settings: AISettings) -> str:
    """One line for an ``anthropic`` exception."""
    import anthropic

    if isinstance(exc, anthropic.APITimeoutError):
        return f"no reply from the Anthropic API within {settings.timeout:g} s (timeout); nothing was changed"
    if isinstance(exc, anthropic.APIConnectionError):
        cause = exc.__cause__ or exc.__context__
        detail = f": {cause}" if cause else ""
        return f"cannot reach the Anthropic API{detail}"[:300]
    if isinstance(exc, anthropic.RateLimitError):
        after = exc.response.headers.get("retry-after")
        hint = f"; retry after {after} s" if after else "; try again later"
        return f"the Anthropic API is rate limiting this key (429){hint}"
    if isinstance(exc, anthropic.AuthenticationError):
        return f"the Anthropic API rejected the key in {KEY_VARIABLE} (401)"
    if isinstance(exc, anthropic.PermissionDeniedError):
        return "the Anthropic API key may not use this model (403)"
    if isinstance(exc, anthropic.NotFoundError):
        return f"the Anthropic API does not know model '{settings.model}' (404); set ai.model in the config"
    if isinstance(exc, anthropic.APIStatusError):
        return f"the Anthropic API answered {exc.status_code}: {_api_message(exc)}"[:300]
    if isinstance(exc, anthropic.APIResponseValidationError):
        return "the Anthropic API's reply was not valid; nothing was changed"
    return f"Anthropic API error: {exc}"[:300]


def _api_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
    return str(getattr(exc, "message", "") or exc)
