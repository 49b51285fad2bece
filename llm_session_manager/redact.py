"""Secret redaction: the one redactor for all text that leaves lsm (exports, titles, MCP, memories, AI).

A match is replaced by ``[REDACTED:<kind>]``. Three families of rules, applied in this order:

1. **Self-identifying credentials**: a vendor prefix and the vendor's length and alphabet (``sk-ant-``,
   ``ghp_``, ``AKIA``, ``GOCSPX-``, ``SG.x.y``, ``dop_v1_``, ``pypi-AgE``, ``hvs.``, Telegram's
   ``123456789:AA…``…). Redacted wherever they appear, whatever surrounds them.
2. **Credentials by position**: PEM/PGP/PuTTY private key blocks (also when the END line was cut off),
   ``scheme://user:PASSWORD@host`` (also with an empty user), ``Authorization: Basic|Bearer|… VALUE``,
   ``curl -u user:PASSWORD``, ``mysql -pPASSWORD``, ``redis-cli -a``, ``.netrc`` ``password``, a docker
   or ``.npmrc`` ``auth``, URL signatures (``sig=``, ``X-Amz-Signature=``), ``Cookie:`` headers.
3. **Named values**: ``NAME = VALUE`` / ``NAME: VALUE`` / ``"NAME": "VALUE"`` / ``NAME => VALUE`` /
   ``--name VALUE`` and, in JSON-like values, a key named so, where NAME *ends* in a secret word:
   password, passwd, passphrase, pwd, pass, secret, token, credential(s), or a key word (api_key,
   apiKey, access_key, private_key, AccountKey, SecretAccessKey, client_key…). ``password_reset_url``,
   ``max_tokens``, ``TOKEN_LIMIT``, ``get_token(`` do not end in one, so they are never looked at.

   The VALUE is redacted only when it looks like a literal secret. A quoted value is a literal unless
   it is empty, a keyword (``"null"``), or a placeholder (``"${TOKEN}"``, ``"{{ vault }}"``, ``"<your
   key>"``, ``"***"``). An unquoted value is code or a word unless shown otherwise, so it is kept when
   it is a keyword or type (``true``, ``null``, ``str``, ``Optional[str]``), a reference (``$VAR``,
   ``%s``, ``{name}``, ``os.environ[…]``, ``request.headers.get(…)``, ``settings.TOKEN``, a path), a
   number of at most 7 digits (``4096``), or a mask (``***``). What remains is a literal when it has a
   digit or a symbol (``hunter2``, ``s3cr3t!``, ``abc-def``); a bare word (``postgres``) is a literal
   only where configuration files put literals: an env assignment (``DB_PASSWORD=postgres``, no spaces
   around ``=``, not a keyword argument), an UPPER_CASE name (``POSTGRES_PASSWORD: postgres``), or a
   ``name: word`` / ``name = word`` line of its own in YAML or INI style. So ``token = tok`` inside
   code, ``f(password=password)`` and prose ("Password: must be 8 characters") are left alone.

Look-alikes people need to keep — git SHAs, UUIDs, sha256/sha512 hashes, base64 images, message ids —
have no prefix and no secret name before them, so no rule reaches them. Redaction is idempotent:
``[REDACTED:…]`` is never matched again, so a redacted document redacts to itself with no new counts.

Speed: every rule names the literal strings its match must contain; a rule runs only when one of them
is in the text (a substring test), so a title with no such string costs a few microseconds and a 1 MB
transcript a few tens of milliseconds (bench/bench_redact.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

MARK = "[REDACTED:"


def marker(kind: str) -> str:
    return f"{MARK}{kind}]"


# ---------------------------------------------------------------------------------------------------
# Rules 1 and 2: patterns


@dataclass(frozen=True)
class Rule:
    """One pattern (``rx``). ``needles``: strings one of which the text must contain for the rule to run
    (vendor rules: as written; position rules: in the lower-cased text). A named group ``secret`` limits
    the replacement to that group. ``keep(match)`` True leaves a match alone. ``word_before``: the match
    must not follow a letter or digit."""

    kind: str
    rx: str
    needles: tuple[str, ...]
    word_before: bool = True
    keep: Callable[[re.Match[str]], bool] | None = None

    # Compiled when a text first holds one of its needles: most rules never run in a command, and
    # compiling them all took ~25 ms of every command that redacts anything.
    @cached_property
    def pattern(self) -> re.Pattern[str]:
        return re.compile(self.rx)

    @cached_property
    def has_secret(self) -> bool:
        return "secret" in self.pattern.groupindex


def _rule(
    kind: str,
    rx: str,
    *needles: str,
    word_before: bool = True,
    keep: Callable[[re.Match[str]], bool] | None = None,
) -> Rule:
    return Rule(kind, rx, needles, word_before, keep)


_END = r"(?![A-Za-z0-9])"  # a fixed-length token ends here


def _starts(prefix: str) -> str:
    """``prefix`` (fixed width) only where a token starts: not inside a longer run of token characters,
    except after an escape like ``\\n``. The check follows the literal, so the regex engine still
    searches for the literal fast; and a run like ``eyJeyJeyJ…`` is tried once, not at every repeat."""
    return rf"{prefix}(?:(?<![A-Za-z0-9_\-]{prefix})|(?<=\\[nrt]{prefix}))"


def _ci(word: str) -> str:
    """``word`` matched in any case, as character classes: far faster than ``(?i)`` on long texts."""
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in word)


def _line_before(match: re.Match[str], limit: int = 300) -> str:
    start = match.start()
    text = match.string
    nl = text.rfind("\n", max(0, start - limit), start)
    return text[nl + 1 : start] if nl >= 0 else text[max(0, start - limit) : start]


def _follows_space(match: re.Match[str]) -> bool:
    start = match.start()
    return start == 0 or match.string[start - 1] in " \t\n'\""


_CURL = re.compile(r"(?i)(?:^|[\s;&|(`$])(?:curl|wget|http|https|xh|httpie|grpcurl)\s")
_MYSQL = re.compile(r"(?:^|[\s;&|(`$/])(?:mysql|mysqldump|mysqladmin|mysqlsh|mysqlimport|mariadb[\w-]*)\s")
_REDIS = re.compile(r"(?:^|[\s;&|(`$/])(?:redis-cli|valkey-cli|keydb-cli)\s")
_AZ_LOGIN = re.compile(r"(?:^|[\s;&|(`$])az\s+login\s")
_SSHPASS = re.compile(r"(?:^|[\s;&|(`$/])sshpass\s")


def _keep_curl_user(match: re.Match[str]) -> bool:
    """``-u user:pw`` is a password only on an HTTP client's command line, and ``uid:gid`` never is."""
    if not _follows_space(match) or _CURL.search(_line_before(match)) is None:
        return True
    user, secret = match.group("user"), match.group("secret")
    return (user.isdigit() and secret.isdigit()) or is_reference(secret)


def _keep_unless(command: re.Pattern[str]) -> Callable[[re.Match[str]], bool]:
    def keep(match: re.Match[str]) -> bool:
        if not _follows_space(match) or command.search(_line_before(match)) is None:
            return True
        return is_reference(match.group("secret"))

    return keep


def _keep_reference(match: re.Match[str]) -> bool:
    return is_reference(match.group("secret"))


def _keep_identifier(match: re.Match[str]) -> bool:
    """A run of letters (``Bearer authenticationScheme``) is a word, not a token."""
    secret = match.group("secret")
    return re.fullmatch(r"[A-Za-z_.]+", secret) is not None or is_reference(secret)


_SCHEMES = {"basic", "bearer", "token", "digest", "negotiate", "ntlm", "apikey", "api-key", "key", "hmac"}


def _keep_header(match: re.Match[str]) -> bool:
    """``Authorization: VALUE`` names a header (not ``user_authorization``) and VALUE is not a scheme
    alone, a keyword or a placeholder."""
    start = match.start()
    if start > 0 and match.string[start - 1] in "_.":
        return True
    secret = match.group("secret")
    low = secret.lower()
    return (
        low in _SCHEMES or low in _KEYWORDS or is_reference(secret) or secret.startswith(("[", "(", "{", "<"))
    )


_PEM = (
    r"-----BEGIN[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:(?:(?!-----BEGIN )[\s\S]){0,20000}?-----END[ A-Z0-9]*PRIVATE KEY(?: BLOCK)?-----"
    # The END line was cut off (a trimmed tool output): header fields, then base64 lines (of 20+).
    r"|(?:(?:\s|\\[nr])+(?:Proc-Type|DEK-Info|Version|Comment): ?[^\n\\]*)*"
    r"(?:(?:\s|\\[nr])+[A-Za-z0-9+/]{20,}={0,2})*)"
)

# Rule 1 runs over the runs of token characters (see _RUN), where every vendor credential lies whole.
VENDOR_RULES: tuple[Rule, ...] = (
    _rule("age-secret-key", r"AGE-SECRET-KEY-1[0-9A-Z]{58}" + _END, "AGE-SECRET-KEY-"),
    # -- AI vendors
    _rule("anthropic-key", r"sk-ant-(?:api|admin|oat|ort|sid)\d{2}-[A-Za-z0-9_\-]{20,}", "sk-ant-"),
    _rule(
        "openai-key",
        _starts("sk-") + r"(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,400}T3BlbkFJ[A-Za-z0-9_\-]{20,}",
        "T3BlbkFJ",
    ),
    _rule(
        "openai-key", r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_\-]{40,}", "sk-proj-", "sk-svcacct-", "sk-admin-"
    ),
    _rule("openrouter-key", r"sk-or-v1-[a-f0-9]{64}" + _END, "sk-or-v1-"),
    _rule("api-key", r"sk-[A-Za-z0-9]{32,}" + _END, "sk-"),
    _rule("groq-key", r"gsk_[A-Za-z0-9]{48,}", "gsk_"),
    _rule("perplexity-key", r"pplx-[A-Za-z0-9]{40,}", "pplx-"),
    _rule("xai-key", r"xai-[A-Za-z0-9]{70,}", "xai-"),
    _rule("replicate-token", r"r8_[A-Za-z0-9]{37}" + _END, "r8_"),
    _rule("huggingface-token", r"(?:hf|api_org)_[A-Za-z0-9]{30,}", "hf_", "api_org_"),
    # -- clouds
    _rule(
        "aws-access-key",
        r"(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|ABIA|ACCA)[A-Z0-9]{16}" + _END,
        *("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA", "ABIA", "ACCA"),
    ),
    _rule("google-api-key", r"AIza[0-9A-Za-z_\-]{35}" + _END, "AIza"),
    _rule("google-oauth-secret", r"GOCSPX-[A-Za-z0-9_\-]{28}" + _END, "GOCSPX-"),
    _rule("google-oauth-token", r"ya29\.[0-9A-Za-z_\-]{20,}", "ya29."),
    _rule("google-oauth-token", r"1//0[0-9A-Za-z_\-]{40,}", "1//0", word_before=False),
    _rule("firebase-key", r"AAAA[A-Za-z0-9_\-]{7}:APA91b[A-Za-z0-9_\-]{100,}", ":APA91b"),
    _rule("azure-client-secret", r"[A-Za-z0-9_~.\-]{3}\dQ~[A-Za-z0-9_~.\-]{31,34}" + _END, "Q~"),
    _rule("digitalocean-token", r"do[por]_v1_[a-f0-9]{64}" + _END, "_v1_"),
    _rule("heroku-key", r"HRKU-[A-Za-z0-9_\-]{50,}", "HRKU-"),
    _rule("fly-token", r"fo1_[A-Za-z0-9_\-]{43}" + _END, "fo1_"),
    _rule("vault-token", r"hv[sbr]\.[A-Za-z0-9_\-]{24,}", "hvs.", "hvb.", "hvr."),
    _rule("doppler-token", r"dp\.(?:pt|st|sa|ct|scim|audit)\.[A-Za-z0-9]{40,44}" + _END, "dp."),
    _rule("terraform-token", r"[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_\-=]{60,}", ".atlasv1."),
    _rule("pulumi-token", r"pul-[a-f0-9]{40}" + _END, "pul-"),
    _rule("tailscale-key", r"tskey-[a-z]+-[A-Za-z0-9]+-[A-Za-z0-9]{8,}", "tskey-"),
    _rule("databricks-token", r"dapi[a-f0-9]{32}(?:-\d)?" + _END, "dapi"),
    _rule("supabase-token", r"sbp_[a-f0-9]{40}" + _END, "sbp_"),
    _rule("netlify-token", r"nfp_[A-Za-z0-9]{36}" + _END, "nfp_"),
    # -- code hosting and registries
    _rule("github-token", r"gh[pousr]_[A-Za-z0-9]{36,}" + _END, "ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
    _rule("github-token", r"github_pat_[A-Za-z0-9_]{60,}", "github_pat_"),
    _rule(
        "gitlab-token",
        r"gl(?:pat|ptt|dt|rt|cbt|soat|ft|imt|agent|oas)-[A-Za-z0-9_\-]{20,}",
        *("glpat-", "glptt-", "gldt-", "glrt-", "glcbt-", "glsoat-", "glft-", "glimt-", "glagent-", "gloas-"),
    ),
    _rule("gitlab-token", r"GR1348941[A-Za-z0-9_\-]{20,}", "GR1348941"),
    _rule("npm-token", r"npm_[A-Za-z0-9]{36}" + _END, "npm_"),
    _rule("pypi-token", r"pypi-AgE[A-Za-z0-9_\-]{50,}", "pypi-AgE"),
    _rule("rubygems-token", r"rubygems_[a-f0-9]{48}" + _END, "rubygems_"),
    _rule("docker-token", r"dckr_pat_[A-Za-z0-9_\-]{27,}", "dckr_pat_"),
    _rule("atlassian-token", r"ATATT3[A-Za-z0-9_\-=]{100,}", "ATATT3"),
    _rule("linear-key", r"lin_(?:api|oauth)_[A-Za-z0-9]{40,64}" + _END, "lin_api_", "lin_oauth_"),
    _rule("notion-token", r"(?:secret_[A-Za-z0-9]{43}|ntn_[A-Za-z0-9]{40,50})" + _END, "secret_", "ntn_"),
    _rule("figma-token", r"figd_[A-Za-z0-9_\-]{40,}", "figd_"),
    _rule("postman-key", r"PMAK-[a-f0-9]{24}-[a-f0-9]{34}" + _END, "PMAK-"),
    _rule(
        "grafana-token", r"(?:glsa_[A-Za-z0-9]{32}_[a-f0-9]{8}|glc_[A-Za-z0-9+/]{32,}={0,2})", "glsa_", "glc_"
    ),
    _rule("newrelic-key", r"NRAK-[A-Z0-9]{27}" + _END, "NRAK-"),
    _rule("sentry-token", r"sntry[sua]_[A-Za-z0-9+/=_]{40,}", "sntrys_", "sntryu_", "sntrya_"),
    # -- chat, mail, payments
    _rule("slack-token", r"xox[abposre]-[A-Za-z0-9-]{10,}", "xox"),
    _rule("slack-token", r"xapp-\d-[A-Za-z0-9]+-\d+-[A-Za-z0-9]{20,}", "xapp-"),
    _rule(
        "slack-webhook",
        r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/_\-]{20,}",
        "hooks.slack.com",
    ),
    _rule(
        "discord-webhook",
        r"https://(?:(?:ptb|canary)\.)?discord(?:app)?\.com/api/webhooks/\d+/[A-Za-z0-9_\-]{60,}",
        "/api/webhooks/",
    ),
    _rule(
        "discord-token", r"[MNO][A-Za-z0-9_\-]{23,25}\.[A-Za-z0-9_\-]{6}\.[A-Za-z0-9_\-]{27,38}" + _END, "."
    ),
    _rule("telegram-token", r"\d{8,10}:AA[A-Za-z0-9_\-]{33}" + _END, ":AA", word_before=False),
    _rule("sendgrid-key", r"SG\.[A-Za-z0-9_\-]{22}\.[A-Za-z0-9_\-]{43}" + _END, "SG."),
    _rule("mailgun-key", r"key-[0-9a-zA-Z]{32}" + _END, "key-"),
    _rule("twilio-key", r"SK[0-9a-fA-F]{32}" + _END, "SK"),
    _rule("stripe-key", r"(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{20,}", "_live_", "_test_"),
    _rule("stripe-key", r"whsec_[A-Za-z0-9+/=]{24,}", "whsec_"),
    _rule(
        "shopify-token", r"shp(?:at|ca|pa|ss)_[a-fA-F0-9]{32}" + _END, "shpat_", "shpca_", "shppa_", "shpss_"
    ),
    _rule("square-token", r"(?:sq0atp-[0-9A-Za-z_\-]{22}|sq0csp-[0-9A-Za-z_\-]{43})" + _END, "sq0"),
    _rule("square-token", r"EAAA[A-Za-z0-9_\-+/]{60}" + _END, "EAAA"),
    _rule("mapbox-token", _starts(r"sk\.eyJ") + r"[A-Za-z0-9_\-]{10,4000}\.[A-Za-z0-9_\-]{10,}", "sk.eyJ"),
    _rule(
        "jwt",
        _starts("eyJ") + r"[A-Za-z0-9_\-]{10,4000}\.eyJ[A-Za-z0-9_\-]{10,20000}\.[A-Za-z0-9_\-]{10,}",
        "eyJ",
    ),
)
# The characters of every vendor credential above; a run of at least the shortest one's length.
_RUN = re.compile(r"[A-Za-z0-9_\-.+/=:~\\]{15,}")

# Rule 2 runs over the whole text.
POSITION_RULES: tuple[Rule, ...] = (
    _rule("private-key", _PEM, "private key", word_before=False),
    _rule(
        "private-key",
        r"Private-Lines: *\d+\s*(?:[A-Za-z0-9+/=]{4,}\s*)+(?:Private-MAC: *[0-9a-f]+)?",
        "private-lines",
    ),
    _rule("fly-token", r"FlyV1 fm[12][a-z]?_[A-Za-z0-9_\-+/=,]{40,}", "flyv1 "),
    _rule(
        "bearer-token",
        r"[Bb][Ee][Aa][Rr][Ee][Rr][ \t]+(?P<secret>[A-Za-z0-9_\-.=+/~]{16,})",
        "bearer",
        keep=_keep_identifier,
    ),
    _rule(
        "authorization",
        _ci("authorization") + r"\\*[\"']?[ \t]*[:=][ \t]*\\*[\"']?[ \t]*"
        r"(?:(?i:basic|bearer|token|digest|negotiate|ntlm|apikey|api-key|key|sso-key|hmac|dpop)[ \t]+)?"
        r"(?P<secret>[^\s\"'\\,;]{6,})",
        "authorization",
        keep=_keep_header,
    ),
    _rule(
        "cookie",
        _ci("cookie:") + r"[ \t]*(?P<secret>[^\s=;]+=[^\n\"']{4,})",
        "cookie:",
        word_before=False,
    ),
    _rule(
        "url-password",
        r"://(?P<user>[^\s:/@\"'<>]*):(?P<secret>[^\s/?#\"'<>]+)@",
        "://",
        word_before=False,
        keep=_keep_reference,
    ),
    _rule(
        "url-token",
        r"://(?P<secret>[A-Za-z0-9_\-]{24,})@",
        "://",
        word_before=False,
        keep=_keep_identifier,
    ),
    _rule(
        "url-signature",
        r"(?i)[?&](?:sig|signature|x-amz-signature|x-amz-security-token|x-goog-signature)="
        r"(?P<secret>[^&#\s\"'<>]{8,})",
        "sig=",
        "signature=",
        "security-token=",
        word_before=False,
    ),
    _rule(
        "password",
        r"-(?:u|-user|-proxy-user|U|a|-auth)(?:[ \t]+|=)?"
        r"(?P<q>[\"']?)(?P<user>[^\s:\"']{0,128}):(?P<secret>[^\s\"']{1,256})(?P=q)",
        "curl",
        "wget",
        "http",
        "xh ",
        word_before=False,
        keep=_keep_curl_user,
    ),
    _rule(
        "password",
        r"-p(?P<q>[\"']?)(?P<secret>[^\s\"']+)(?P=q)",
        "mysql",
        "mariadb",
        word_before=False,
        keep=_keep_unless(_MYSQL),
    ),
    _rule(
        "password",
        r"-a[ \t]+(?P<q>[\"']?)(?P<secret>[^\s\"']+)(?P=q)",
        "-cli",
        word_before=False,
        keep=_keep_unless(_REDIS),
    ),
    _rule(
        "password",
        r"-p[ \t]*(?P<q>[\"']?)(?P<secret>[^\s\"']+)(?P=q)",
        "sshpass",
        word_before=False,
        keep=_keep_unless(_SSHPASS),
    ),
    _rule(
        "password",
        r"-(?:p|-password)[ \t]+(?P<q>[\"']?)(?P<secret>[^\s\"']+)(?P=q)",
        "az login",
        word_before=False,
        keep=_keep_unless(_AZ_LOGIN),
    ),
    _rule(
        "password",
        r"(?:requirepass|masterauth)[ \t]+(?P<q>[\"']?)(?P<secret>[^\s\"']+)(?P=q)",
        "requirepass",
        "masterauth",
        keep=_keep_reference,
    ),
    _rule(
        "password",
        r"-pass(?:in|out)?[ \t]+pass:(?P<secret>[^\s\"']+)",
        "pass:",
        word_before=False,
        keep=_keep_reference,
    ),
    _rule(
        "password",
        r"(?:machine|login)\s+\S+\s+(?:(?:login|account)\s+\S+\s+)?passw(?:or)?d\s+(?P<secret>\S+)",
        "machine",
        "login",
        keep=_keep_reference,
    ),
    _rule(
        "registry-auth",
        r"auth\\*\"[ \t]*:[ \t]*\\*\"(?P<secret>[A-Za-z0-9+/=]{8,})\\*\"",
        '"auth',
        keep=lambda m: m.string[m.start() - 1 : m.start()] != '"',
    ),
    _rule("registry-auth", r"_auth[ \t]*=[ \t]*(?P<secret>[A-Za-z0-9+/=]{8,})", "_auth", word_before=False),
)


# ---------------------------------------------------------------------------------------------------
# Rule 3: named values


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# A secret word at the end of a name, found in the lower-cased text. ``key`` counts only after one of
# these words (api_key, apiKey, AccountKey, x-api-key), never alone (sort_key, primary key, monkey).
_KEY_PREFIXES = (
    "api|access|secret|private|account|signing|encryption|encrypt|decrypt|master|client|app|auth|service"
    "|subscription|admin|consumer|sharedaccess|shared_access|license|deploy|ingest|webhook|storage"
    "|session|security|hmac|jwt|aes|root|host|function|management|publishable|restricted|write|read"
)
_WORD = re.compile(r"key(?:_base)?|pass(?:word|wd|phrase)?|pwd|secret|token|credentials?")
# UPPER_CASE names ending in _KEY are secrets (STRIPE_KEY, OPENAI_KEY) except these.
_NOT_SECRET_KEYS = _words(
    "sort primary foreign cache partition routing hash range lookup group dedup dedupe idempotency "
    "object map dict public registry index unique composite row column hot shortcut"
)
_KEY_PREFIX_END = re.compile(r"(?:" + _KEY_PREFIXES + r")[_\-.]?$")
# After the name: a closing quote (or ``"]``), the separator, then the value.
_TAIL = re.compile(
    r"(?P<close>\\*[\"'`]?\]?)(?P<sp1>[ \t]*)"
    r"(?P<sep>:=|=>|=(?![=~])|:(?=[\s\"'`]|\\+[\"']))(?P<sp2>[ \t]*)"
    r"(?:"
    r"(?P<prefix>[rbfuRBFU]{0,2})(?P<q>\\*)(?P<qc>[\"'`])(?P<qv>[^\n]{0,2048}?)(?<!\\)(?P=q)(?P=qc)"
    r"|(?P<bv>\{[^{}\n]*\})"
    r"|(?P<uv>(?:[^\s\"'`&;,\\]|\\(?![nrt\"\\]))+)"  # up to an escaped newline or quote
    r")"
)
# ``--password VALUE``: a flag, then the value after a space.
_FLAG_TAIL = re.compile(r"[ \t]+(?P<q>[\"']?)(?P<v>[^\s\"'<>|]{3,})(?P=q)")
# ``password: str = "literal"``: the default value after a type annotation.
_ANNOT_DEFAULT = re.compile(
    r"[^=\n\"'#]{0,60}?(?<![=!<>])=(?![=>])[ \t]*"
    r"[rbfuRBFU]{0,2}(?P<qc>[\"'])(?P<qv>[^\n]{0,2048}?)(?<!\\)(?P=qc)"
)
_KEY_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
_LINE_START = re.compile(r"[ \t]*(?:\d+(?:→|\t|: ))?[ \t]*(?:-[ \t]+)?(?:export[ \t]+|set[ \t]+)?\\*[\"']?")
_REST_OF_LINE = re.compile(r"[ \t]*,?[ \t]*(?:#.*)?(?:\n|$)")

_KEYWORDS = _words(
    "true false null none nil undefined yes no on off required optional enabled disabled empty unset "
    "n/a na tbd todo redacted hidden masked omitted default auto inherit env prompt ask"
)
_TYPES = _words(
    "str string int integer bool boolean bytes bytearray float number any object dict list tuple char "
    "text varchar uuid secretstr secretbytes optional union unknown never void buffer blob record map "
    "sensitive password secret token"
)
_NUMBER = re.compile(r"[-+]?\d{1,7}(?:\.\d+)?")
_DOTTED = re.compile(r"[A-Za-z_$][\w$]*(?:(?:\.|::|->|\?\.)[A-Za-z_$][\w$]*)+\.?")
_CALL_OR_INDEX = re.compile(r"[A-Za-z_$][\w$.]*[(\[]")
_PATH = re.compile(r"(?:~|\.{1,2})?/[\w.\-/]*|[A-Za-z]:\\[\w.\\ -]*")
_BRACED_CODE = re.compile(r"\{[A-Za-z_][\w.\[\]:()'\"!-]*\}")
_PLACEHOLDER = re.compile(
    r"(?i)<[^<>]*>|\$\{[^}]*\}|\$[A-Za-z_]\w*|\$\(.*\)|\{\{.*\}\}|%\(?\w*\)?[sd]|%\w+%|:\w+|\?"
    r"|(?:your|insert|enter|replace|paste|put)[-_ ].*|.*[-_ ](?:here|goes_?here)"
    r"|(.)\1{2,}|[*•.]+|\[REDACTED.*"
)
_WORDLIKE = re.compile(r"[A-Za-z_]+")
_BASE64 = re.compile(r"[A-Za-z0-9+/]{8,}={0,2}")


def is_reference(value: str) -> bool:
    """A variable, template or placeholder (``$TOKEN``, ``${X}``, ``{{ v }}``, ``<your key>``, ``%s``,
    ``***``), or an already redacted value: something that names a secret without being one."""
    v = value.strip()
    return (
        not v or v.startswith((MARK, "$", "%", "{{", "${", "!", "@")) or _PLACEHOLDER.fullmatch(v) is not None
    )


def _is_code(value: str) -> bool:
    """A keyword, type, number, call, index, attribute or path: code, not a literal."""
    low = value.lower()
    return (
        low in _KEYWORDS
        or low in _TYPES
        or _NUMBER.fullmatch(value) is not None
        or _CALL_OR_INDEX.match(value) is not None
        or _DOTTED.fullmatch(value) is not None
        or _PATH.fullmatch(value) is not None
        or value.startswith(("[", "(", "{", "<", "*", "&", "#", "|", ">"))
    )


def quoted_literal(value: str) -> bool:
    """A quoted value (or a JSON string under a secret name) holds a secret unless it is empty, a
    keyword, a short number or a placeholder, or was redacted by a more specific rule already."""
    v = value.strip()
    if len(v) < 3 or MARK in v or v.lower() in _KEYWORDS or v.lower() in _TYPES or is_reference(v):
        return False
    return not (v.isdigit() and len(v) <= 5)


@dataclass(frozen=True)
class _Context:
    """Where a named value sits: which rules for bare words apply (module docstring, rule 3)."""

    key: str
    env: bool  # NAME=value with nothing around '=', not a keyword argument
    upper: bool  # the name is UPPER_CASE
    kwarg: bool  # f(name=value) or f(x, name=value)
    own_line: bool  # the name starts its line and the value ends it
    sep: str


def _unquoted_literal(value: str, ctx: _Context) -> bool:
    if MARK in value or is_reference(value) or _is_code(value) or _BRACED_CODE.fullmatch(value):
        return False
    if _WORDLIKE.fullmatch(value) is None:  # has a digit or a symbol
        return not (ctx.kwarg and re.fullmatch(r"[A-Za-z_]\w*", value))
    if ctx.kwarg:
        return False
    if ctx.env:
        return True
    plain = "_" not in value and not value.isupper() and re.search(r"[a-z][A-Z]", value) is None
    if ctx.upper and plain:
        return True
    return ctx.own_line and plain and not value[0].isupper()


def _kind_for(key: str, word: str) -> str:
    flat = key.lower().replace("_", "").replace("-", "").replace(".", "")
    if "secretaccesskey" in flat or ("aws" in flat and "secret" in flat):
        return "aws-secret-key"
    if "sessiontoken" in flat or "securitytoken" in flat:
        return "session-token"
    if "accountkey" in flat or "sharedaccesskey" in flat:
        return "azure-storage-key"
    if "privatekey" in flat:
        return "private-key"
    if word.startswith("pass") or word == "pwd":
        return "password"
    if word.startswith("cred"):
        return "credentials"
    if word.startswith("key") and "secret" in flat:
        return "secret"
    if word in ("secret", "token"):
        return word
    return "api-key"


def _word_ok(text: str, lowered: str, start: int, word: str) -> bool:
    """``key`` must follow a key word (``api_key``); ``pass`` and ``pwd`` must begin a name part
    (``DB_PASS``, ``dbPass``), not end a word (``bypass``)."""
    if word.startswith("key"):
        if _KEY_PREFIX_END.search(lowered, max(0, start - 16), start) is not None:
            return True
        if not text.startswith("KEY", start) or start == 0 or text[start - 1] != "_":
            return False
        part = re.search(r"([a-z0-9]*)_$", lowered[max(0, start - 24) : start])
        return part is not None and part.group(1) not in _NOT_SECRET_KEYS
    if word not in ("pass", "pwd") or start == 0:
        return True
    before = text[start - 1]
    if before.isupper() and text.startswith(word.upper(), start):  # SSHPASS, PGPASS
        return True
    return not before.isalpha() or (before.islower() and text[start].isupper())


def _key_start(text: str, start: int) -> int:
    i = start
    floor = max(0, start - 128)
    while i > floor and text[i - 1] in _KEY_CHARS:
        i -= 1
    return i


def _context(text: str, key_start: int, word_end: int, tail: re.Match[str], value_end: int) -> _Context:
    key = text[key_start:word_end]
    line_start = text.rfind("\n", 0, key_start) + 1
    head = text[line_start:key_start]
    before = head.rstrip()
    at_line_start = _LINE_START.fullmatch(head) is not None
    kwarg = before.endswith(("(", ","))
    sep = tail.group("sep")
    env = (
        sep == "="
        and not tail.group("close")
        and not tail.group("sp1")
        and not tail.group("sp2")
        and not kwarg
        and not before.endswith(".")
    )
    own_line = (
        at_line_start
        and _REST_OF_LINE.match(text, value_end) is not None
        and (sep == ":" or not head.startswith((" ", "\t")))
    )
    upper = any(c.isalpha() for c in key) and not any(c.islower() for c in key)
    return _Context(key, env, upper, kwarg, own_line, sep)


def _named(text: str, lowered: str, counts: dict[str, int]) -> str:
    """Rule 3 over ``text`` (``lowered`` is the same text, lower-cased, same length)."""
    spans: list[tuple[int, int, str]] = []
    pos = 0
    for hit in _WORD.finditer(lowered):
        start, end = hit.span()
        if start < pos or not _word_ok(text, lowered, start, hit.group()):
            continue
        key_start = _key_start(text, start)
        found = _named_value(text, key_start, end, hit.group())
        if found is not None:
            spans.append(found)
            pos = found[1]
    if not spans:
        return text
    out: list[str] = []
    last = 0
    for start, end, kind in spans:
        out += [text[last:start], marker(kind)]
        counts[kind] = counts.get(kind, 0) + 1
        last = end
    out.append(text[last:])
    return "".join(out)


def _named_value(text: str, key_start: int, word_end: int, word: str) -> tuple[int, int, str] | None:
    """The span of the literal secret after the name ending at ``word_end``, with its kind; or None."""
    tail = _TAIL.match(text, word_end)
    if tail is None and not text.startswith("-", key_start):
        return None
    kind = _kind_for(text[key_start:word_end], word)
    if tail is None:
        if text.startswith("-", key_start):  # --password VALUE
            flag = _FLAG_TAIL.match(text, word_end)
            if flag and not flag.group("v").startswith("-"):
                value = flag.group("v")
                literal = quoted_literal(value) if flag.group("q") else _flag_literal(value)
                return (*flag.span("v"), kind) if literal else None
        return None
    if tail.group("qc") is not None:
        if quoted_literal(tail.group("qv")):
            return (*tail.span("qv"), kind)
        return None
    group = "bv" if tail.group("bv") is not None else "uv"
    value = tail.group(group)
    vstart, vend = tail.span(group)
    trimmed = value.rstrip(")]}")
    if group == "uv" and trimmed and trimmed != value and "(" not in trimmed and "[" not in trimmed:
        value, vend = trimmed, vstart + len(trimmed)
    ctx = _context(text, key_start, word_end, tail, vend)
    if group == "bv":
        literal = _BRACED_CODE.fullmatch(value) is None and quoted_literal(value[1:-1])
        return (vstart, vend, kind) if literal else None
    if _unquoted_literal(value, ctx):
        return (vstart, vend, kind)
    annotated = ctx.sep == ":" and (value.lower() in _TYPES or value.lower() in _KEYWORDS)
    if annotated or _CALL_OR_INDEX.match(value):
        default = _ANNOT_DEFAULT.match(text, vend)  # password: str = "hunter2"
        if default and quoted_literal(default.group("qv")):
            return (*default.span("qv"), kind)
    return None


def _flag_literal(value: str) -> bool:
    if is_reference(value) or _is_code(value):
        return False
    return _WORDLIKE.fullmatch(value) is None or len(value) >= 16


# ---------------------------------------------------------------------------------------------------
# Applying the rules


def _lower(text: str) -> str:
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)  # rare: 'İ' lowers to 2 chars


def _after_word(text: str, start: int) -> bool:
    """The character before ``start`` is a letter or digit (an escape like ``\\n`` does not count)."""
    return start > 0 and text[start - 1].isalnum() and not (start > 1 and text[start - 2] == "\\")


def _apply(rule: Rule, text: str, counts: dict[str, int]) -> str:
    found = 0

    def replace(match: re.Match[str]) -> str:
        nonlocal found
        whole = match.group(0)
        start = match.start()
        if rule.word_before and _after_word(match.string, start):
            return whole
        if rule.keep is not None and rule.keep(match):
            return whole
        if rule.has_secret:
            secret = match.group("secret")
            if secret is None or secret.startswith(MARK):
                return whole
            s, e = match.span("secret")
            found += 1
            return whole[: s - start] + marker(rule.kind) + whole[e - start :]
        found += 1
        return marker(rule.kind)

    new = rule.pattern.sub(replace, text)
    if found:
        counts[rule.kind] = counts.get(rule.kind, 0) + found
        return new
    return text


def _needles(rules: tuple[Rule, ...]) -> tuple[tuple[str, ...], re.Pattern[str]]:
    every = tuple(sorted({n for rule in rules for n in rule.needles}, key=len, reverse=True))
    return every, re.compile("|".join(re.escape(n) for n in every))


_VENDOR_NEEDLES, _ANY_VENDOR_NEEDLE = _needles(VENDOR_RULES)
_POSITION_NEEDLES, _ANY_POSITION_NEEDLE = _needles(POSITION_RULES)


def _present(haystack: str, every: tuple[str, ...], any_needle: re.Pattern[str]) -> frozenset[str]:
    """The needles in ``haystack``: one regex search decides for short texts (titles, most strings of an
    export), a substring test per needle is faster on long ones."""
    if len(haystack) < 2048 and any_needle.search(haystack) is None:
        return frozenset()
    return frozenset(n for n in every if n in haystack)


def _run_rules(rules: tuple[Rule, ...], text: str, present: frozenset[str], counts: dict[str, int]) -> str:
    for rule in rules:
        if not present.isdisjoint(rule.needles):
            text = _apply(rule, text, counts)
    return text


def _vendor(text: str, counts: dict[str, int]) -> str:
    """Rule 1, over the runs of token characters only (a small part of a long text)."""
    spans = [m.span() for m in _RUN.finditer(text)]
    if not spans:
        return text
    runs = "\n".join(text[start:end] for start, end in spans)
    present = _present(runs, _VENDOR_NEEDLES, _ANY_VENDOR_NEEDLE)
    if not present:
        return text
    new = _run_rules(VENDOR_RULES, runs, present, counts)
    if new is runs:
        return text
    out: list[str] = []
    last = 0
    for (start, end), run in zip(spans, new.split("\n")):
        out += [text[last:start], run]
        last = end
    out.append(text[last:])
    return "".join(out)


def redact_text(text: str) -> tuple[str, dict[str, int]]:
    """``text`` with secrets replaced, and how many of each kind were found."""
    counts: dict[str, int] = {}
    if not text:
        return text, counts
    text = _vendor(text, counts)
    lowered = _lower(text)
    present = _present(lowered, _POSITION_NEEDLES, _ANY_POSITION_NEEDLE)
    if present:
        new = _run_rules(POSITION_RULES, text, present, counts)
        if new is not text:
            text, lowered = new, _lower(new)
    if _WORD.search(lowered) is not None:
        text = _named(text, lowered, counts)
    return text, counts


def _secret_name(key: str) -> str | None:
    """The kind of secret a JSON key names (``DB_PASSWORD``, ``apiKey``, ``Authorization``), or None."""
    low = key.lower()
    if low in ("authorization", "proxy-authorization", "cookie", "auth", "_auth"):
        return "authorization" if "authorization" in low else "registry-auth" if "auth" in low else "cookie"
    for hit in _WORD.finditer(low):
        if hit.end() == len(low) and _word_ok(key, low, hit.start(), hit.group()):
            return _kind_for(key, hit.group())
    return None


def _add(counts: dict[str, int], found: dict[str, int]) -> None:
    for kind, n in found.items():
        counts[kind] = counts.get(kind, 0) + n


def _redact_any(value: Any, counts: dict[str, int], key: str | None) -> Any:
    if isinstance(value, str):
        kind = _secret_name(key) if key else None
        if (
            kind is not None
            and quoted_literal(value)
            and (kind != "registry-auth" or _BASE64.fullmatch(value))
        ):
            counts[kind] = counts.get(kind, 0) + 1
            return marker(kind)
        clean, found = redact_text(value)
        _add(counts, found)
        return clean
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if isinstance(k, str):
                name, found = redact_text(k)
                _add(counts, found)
            else:
                name = k
            out[name] = _redact_any(v, counts, k if isinstance(k, str) else None)
        return out
    if isinstance(value, (list, tuple)):
        return [_redact_any(v, counts, key) for v in value]
    return value


def redact_value(value: Any, counts: dict[str, int] | None = None) -> Any:
    """Redact every string inside a JSON-like value. A string under a secret-named key (``"password"``,
    ``"DB_PASSWORD"``, ``"apiKey"``, ``"Authorization"``) is replaced whole when it is a literal; keys
    are redacted like any text (they are names, so they almost never change)."""
    counts = {} if counts is None else counts
    return _redact_any(value, counts, None)


def kinds(counts: dict[str, int]) -> Iterable[str]:
    return sorted(counts)
