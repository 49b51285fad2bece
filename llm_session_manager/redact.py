"""Secret redaction for anything lsm writes out of a session (exports, text sent to an AI).

Each pattern names a kind; a match is replaced by ``[REDACTED:<kind>]``. Patterns are anchored on the
shapes real credentials have (vendor prefixes, lengths, key words), so that look-alikes people need to
keep — git SHAs, UUIDs, hashes in lock files — survive.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

# (kind, pattern). For patterns with a group named "secret", only that group is replaced.
PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (kind, re.compile(rx))
    for kind, rx in (
        (
            "private-key",
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY-----",
        ),
        ("anthropic-key", r"\bsk-ant-(?:api|admin)\d{2}-[A-Za-z0-9_\-]{20,}"),
        ("openai-key", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}T3BlbkFJ[A-Za-z0-9_\-]{20,}"),
        ("openai-key", r"\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,}"),
        ("aws-access-key", r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"),
        (
            "aws-secret-key",
            r"(?i)aws_?secret_?(?:access_?)?key[\"'\s]*[:=]\s*[\"']?(?P<secret>[A-Za-z0-9/+=]{40})(?![A-Za-z0-9/+=])",
        ),
        ("github-token", r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,}\b"),
        ("github-token", r"\bgithub_pat_[A-Za-z0-9_]{60,}\b"),
        ("gitlab-token", r"\bglpat-[A-Za-z0-9_\-]{20,}\b"),
        ("slack-token", r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"),
        ("slack-webhook", r"https://hooks\.slack\.com/services/T[A-Z0-9]+/B[A-Z0-9]+/[A-Za-z0-9]+"),
        ("google-api-key", r"\bAIza[0-9A-Za-z_\-]{35}\b"),
        ("stripe-key", r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{20,}\b"),
        ("npm-token", r"\bnpm_[A-Za-z0-9]{36}\b"),
        ("huggingface-token", r"\bhf_[A-Za-z0-9]{30,}\b"),
        ("jwt", r"\beyJ[A-Za-z0-9_\-]{10,}\.eyJ[A-Za-z0-9_\-]{10,}\.[A-Za-z0-9_\-]{10,}"),
        ("bearer-token", r"(?i)\bbearer\s+(?P<secret>[A-Za-z0-9_\-\.=+/]{20,})"),
        (
            "url-password",
            r"\b[a-z][a-z0-9+.\-]*://[^\s:/@]+:(?P<secret>[^\s@/]{3,})@",
        ),
        (
            "password",
            # NAME=value, the name ending in a secret word (DB_PASSWORD=, api_key:), not password_reset_url.
            r"(?im)(?:^|(?<=[\s;,{(]))(?:export\s+)?[A-Za-z0-9_.\-]*"
            r"(?:PASSWORD|PASSWD|PWD|SECRET|TOKEN|API_KEY|APIKEY|PRIVATE_KEY)"
            r"[\"']?\s*[=:]\s*[\"']?(?P<secret>[^\s\"'#]{4,})",
        ),
    )
)


def redact_text(text: str) -> tuple[str, dict[str, int]]:
    """``text`` with secrets replaced, and how many of each kind were found."""
    counts: dict[str, int] = {}
    for kind, pattern in PATTERNS:

        def replace(match: re.Match[str], kind: str = kind) -> str:
            counts[kind] = counts.get(kind, 0) + 1
            marker = f"[REDACTED:{kind}]"
            if "secret" in match.re.groupindex and match.group("secret") is not None:
                start, end = match.span("secret")
                base = match.start()
                whole = match.group(0)
                return whole[: start - base] + marker + whole[end - base :]
            return marker

        text = pattern.sub(replace, text)
    return text, counts


def redact_value(value: Any, counts: dict[str, int] | None = None) -> Any:
    """Redact every string inside a JSON-like value (dict keys are kept as they are)."""
    counts = {} if counts is None else counts
    if isinstance(value, str):
        clean, found = redact_text(value)
        for kind, n in found.items():
            counts[kind] = counts.get(kind, 0) + n
        return clean
    if isinstance(value, dict):
        return {k: redact_value(v, counts) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(v, counts) for v in value]
    return value


def kinds(counts: dict[str, int]) -> Iterable[str]:
    return sorted(counts)
