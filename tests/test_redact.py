"""Secrets are redacted; look-alikes people need (SHAs, UUIDs, hashes, ordinary words) survive."""

from __future__ import annotations

import pytest

from llm_session_manager.redact import redact_text, redact_value

# Realistic-looking but fake credentials, each with the kind it must be reported as.
SECRETS = [
    (
        "anthropic-key",
        "sk-ant-api03-"
        + "Ab3dE6gH9jK2mN5pQ8sT1vW4yZ7bC0eF3hJ6kM9nP2rS5uV8xY1aD4gG7jJ0mM3pP6sS9vV2yY5bB8eE1hH-AA",
    ),
    ("openai-key", "sk-proj-" + "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8s9T0u1V2w3X4y5Z6a7B8c9D0e1F2"),
    ("openai-key", "sk-" + "abcdefghij1234567890" + "T3BlbkFJ" + "ZYXWVUTSRQ0987654321"),
    ("aws-access-key", "AKIAIOSFODNN7EXAMPLE"),
    ("github-token", "ghp_" + "a" * 20 + "B" * 16),
    ("github-token", "github_pat_" + "11ABCDEFG0" + "x" * 72),
    ("gitlab-token", "glpat-" + "xY9zAbCdEfGhIjKlMnOp"),
    ("slack-token", "xoxb-123456789012-1234567890123-" + "AbCdEfGhIjKlMnOpQrStUvWx"),
    ("slack-webhook", "https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"),
    ("google-api-key", "AIza" + "SyA1234567890abcdefghijklmnopqrstuv"),
    ("stripe-key", "sk_live_" + "4eC39HqLyjWDarjtT1zdp7dc"),
    ("npm-token", "npm_" + "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8"),
    ("huggingface-token", "hf_" + "AbCdEfGhIjKlMnOpQrStUvWxYz012345"),
    ("jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"),
]

LOOKALIKES = [
    "commit 3f2b9c1e8d7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c",  # git SHA
    "session 88a8d761-7b9a-4bf1-a8ca-c1febe6bf358",  # UUID
    "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    "integrity sha512-Zm9vYmFy",
    "the task-runner and sk-learn are fine",
    "AKIA is a prefix we talk about",
    "Bearer auth is described in RFC 6750",
    "password_reset_url = /reset",
    "token_count events carry usage",
    "msg_01H4wg8bFy2psdmQvJMU6kpD req_011CVJ517iGrQqjVFtrWsUgP",
]


@pytest.mark.parametrize(("kind", "secret"), SECRETS)
def test_secret_is_redacted(kind: str, secret: str) -> None:
    text = f"before {secret} after"
    clean, counts = redact_text(text)
    assert secret not in clean
    assert f"[REDACTED:{kind}]" in clean
    assert clean.startswith("before ") and clean.endswith(" after")
    assert counts.get(kind) == 1


@pytest.mark.parametrize("text", LOOKALIKES)
def test_lookalikes_survive(text: str) -> None:
    clean, counts = redact_text(text)
    assert clean == text and counts == {}


def test_private_key_block() -> None:
    body = "b3BlbnNzaC1rZXktdjEAAAAA\nAAAA"
    block = f"-----BEGIN OPENSSH PRIVATE KEY-----\n{body}\n-----END OPENSSH PRIVATE KEY-----"
    clean, counts = redact_text(f"key:\n{block}\ndone")
    assert clean == "key:\n[REDACTED:private-key]\ndone" and counts == {"private-key": 1}


def test_env_style_values_keep_the_name() -> None:
    text = "DATABASE_PASSWORD=hunter2hunter2\nexport API_KEY='abc123def456'\nDEBUG=true"
    clean, _ = redact_text(text)
    assert "hunter2" not in clean and "abc123def456" not in clean
    assert "DATABASE_PASSWORD=[REDACTED:password]" in clean
    assert "DEBUG=true" in clean


def test_bearer_and_url_passwords() -> None:
    clean, _ = redact_text(
        "curl -H 'Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345' postgres://app:s3cr3tpw@db/x"
    )
    assert "abcdefghijklmnopqrstuvwxyz012345" not in clean and "s3cr3tpw" not in clean
    assert (
        "Bearer [REDACTED:bearer-token]" in clean and "postgres://app:[REDACTED:url-password]@db/x" in clean
    )


def test_nested_values() -> None:
    counts: dict[str, int] = {}
    doc = {"a": ["x AKIAIOSFODNN7EXAMPLE", {"b": "ghp_" + "z" * 36}], "n": 3}
    clean = redact_value(doc, counts)
    assert clean == {"a": ["x [REDACTED:aws-access-key]", {"b": "[REDACTED:github-token]"}], "n": 3}
    assert counts == {"aws-access-key": 1, "github-token": 1}


# Issue 13 item 1: the formats that leaked, each in the shape it was reported in (fake values).
LEAKED = [
    ("secret", "SECRET_KEY=" + "k3y" * 12),
    ("secret", "DJANGO_SECRET_KEY='" + "dj4ng0" * 6 + "'"),
    ("password", '{"user": "app", "password": "' + "Pa55w0rd" * 2 + '"}'),
    ("aws-secret-key", '"SecretAccessKey": "' + "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY" + '"'),
    ("session-token", '"SessionToken": "' + "IQoJb3JpZ2luX2Vj" * 8 + '"'),
    ("google-oauth-secret", "GOCSPX-" + "Ab1Cd2Ef3Gh4Ij5Kl6Mn7Op8Qr9S"),
    ("url-password", "redis://:" + "r3d1sPa55" * 2 + "@cache:6379/0"),
    ("password", "jdbc:mysql://db/shop?user=app&password=" + "Jdbc5ecret" + "&ssl=true"),
    ("password", "mysql -u root -p" + "My5qlR00t" + " shop"),
    ("azure-storage-key", "AccountName=dev;AccountKey=" + "QUJD" * 21 + "QQ==" + ";EndpointSuffix=x"),
    ("sendgrid-key", "SG." + "a1B2c3D4e5F6g7H8i9J0k1" + "." + "L2m3N4o5P6q7R8s9T0u1V2w3X4y5Z6a7B8c9D0e1F2g"),
    ("digitalocean-token", "dop_v1_" + "0123456789abcdef" * 4),
    ("pypi-token", "pypi-AgEIcHlwaS5vcmc" + "Cj" * 40),
    ("telegram-token", "123456789:AA" + "Hj4Kl5Mn6Op7Qr8St9Uv0Wx1Yz2Ab3Cd4"),
    ("authorization", "Authorization: Basic " + "dXNlcjpwYXNzd29yZDEyMw=="),
    ("password", "curl -u deploy:" + "Curl5ecret99" + " https://ci.example.com"),
]


@pytest.mark.parametrize(("kind", "text"), LEAKED, ids=[f"{k}-{i}" for i, (k, _) in enumerate(LEAKED)])
def test_formats_that_leaked_are_redacted(kind: str, text: str) -> None:
    clean, counts = redact_text(text)
    assert f"[REDACTED:{kind}]" in clean and counts.get(kind) == 1, clean
    assert redact_text(clean) == (clean, {})  # idempotent


# ... and the look-alikes that were wrongly redacted.
@pytest.mark.parametrize(
    "text",
    [
        "secret: true",
        "token: null",
        "password: false",
        "password_reset_url=https://example.com/reset",
        "def get_token(self):",
        'token = request.headers.get("X")',
        'password = os.environ["DB_PASSWORD"]',
        "api_key: str",
        "TOKEN_LIMIT = 4096",
    ],
)
def test_code_and_keywords_survive(text: str) -> None:
    assert redact_text(text) == (text, {})


def test_secret_named_json_values_are_redacted_whole() -> None:
    counts: dict[str, int] = {}
    doc = {
        "env": {"DB_PASSWORD": "plainword", "DEBUG": "true", "GITHUB_TOKEN": "${{ secrets.GH }}"},
        "headers": {"Authorization": "Basic dXNlcjpwdw==", "x-api-key": "k8Hq2Zt5Lw9Xc3Vb7Nm1Pr4Sd6Fg0Jy"},
        "auths": {"registry": {"auth": "dXNlcjpwYXNzd29yZA=="}},
        "options": {"auth": "oauth2", "token": None, "max_tokens": 4096},
    }
    clean = redact_value(doc, counts)
    assert clean["env"] == {
        "DB_PASSWORD": "[REDACTED:password]",
        "DEBUG": "true",
        "GITHUB_TOKEN": "${{ secrets.GH }}",
    }
    assert clean["headers"] == {
        "Authorization": "[REDACTED:authorization]",
        "x-api-key": "[REDACTED:api-key]",
    }
    assert clean["auths"]["registry"]["auth"] == "[REDACTED:registry-auth]"
    assert clean["options"] == doc["options"]
    assert counts == {"password": 1, "authorization": 1, "api-key": 1, "registry-auth": 1}


def test_a_key_block_cut_before_its_end_is_redacted() -> None:
    text = "$ head -c 200 key\n-----BEGIN RSA PRIVATE KEY-----\n" + "MIIEowIBAAKCAQEA" + "q" * 48 + "\nabc"
    clean, counts = redact_text(text)
    assert clean == "$ head -c 200 key\n[REDACTED:private-key]\nabc" and counts == {"private-key": 1}


def test_a_vendor_token_after_an_escaped_newline() -> None:
    text = '{"stdout": "token:\\nghp_' + "x" * 36 + '\\n"}'
    assert redact_text(text)[0] == '{"stdout": "token:\\n[REDACTED:github-token]\\n"}'


def test_pass_must_begin_a_name_part() -> None:
    assert redact_text("bypass=on1y compass=n0rth")[1] == {}
    assert redact_text("DB_PASS=s3cret dbPass=s3cret SSHPASS=s3cret")[1] == {"password": 3}


@pytest.mark.parametrize(
    "text",
    [
        "eyJ" * 70_000,  # a JWT prefix repeated: tried once per run, not at every repeat
        "sk-" * 70_000 + "T3BlbkFJ",
        "curl -a" + "-a" * 100_000,  # -u/-a user:password with no colon anywhere
        'token: "' * 25_000,  # quoted values that never close
        "-----BEGIN PRIVATE KEY-----\n" * 7_000,
        "://a:" * 40_000,
    ],
    ids=["jwt", "openai", "curl-user", "open-quote", "pem", "url"],
)
def test_hostile_text_is_redacted_in_linear_time(text: str) -> None:
    """200 kB built to make a backtracking pattern quadratic takes well under a second of CPU."""
    import time

    start = time.process_time()
    redact_text(text)
    assert time.process_time() - start < 2.0
