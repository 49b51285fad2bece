"""The configuration as shown to a user or a client: secrets masked."""

from __future__ import annotations

import re
from typing import Any

from llm_session_manager.api.context import Context

_SECRET_KEY = re.compile(r"(?i)(?:^|[_\-.])(?:api_?key|secret|password|passwd|token|credentials?|auth)$")


def mask_secrets(value: Any, key: str = "") -> Any:
    """Values under secret-looking keys (``api_key``, ``password``, ``token``, but not ``tokens``) become
    ``"***"``; secret-looking text anywhere else (a password in a URL, a vendor key) is redacted."""
    from llm_session_manager.redact import redact_value

    if isinstance(value, dict):
        return {k: mask_secrets(v, str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [mask_secrets(v, key) for v in value]
    if key and _SECRET_KEY.search(key) and value not in (None, ""):
        return "***"
    return redact_value(value) if isinstance(value, str) else value


def config_document(ctx: Context) -> dict[str, Any]:
    """`lsm show-config --format json`."""
    file = ctx.paths.config_file
    source = str(file) if file.exists() else "defaults (no config file)"
    return {"source": source, "config": mask_secrets(ctx.config)}
