"""The secret corpus (tests/fixtures/secrets/): every secret is redacted, every look-alike survives, and
no corpus secret leaves lsm by any output path — `lsm export` (JSON, YAML, Markdown), `lsm batch-export`,
MCP `export_session` and `list_sessions`, `lsm list --format json` titles, `lsm memory-add` — nor after
an `export --no-redact` → `import-context` round trip."""

from __future__ import annotations

import json
import random
import re
import string
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import FakeHome

from llm_session_manager import exporting, memory
from llm_session_manager.errors import UsageError
from llm_session_manager.redact import redact_text, redact_value

CORPUS = Path(__file__).parent / "fixtures" / "secrets"
SLOT = "<<SECRET>>"
CLASSES = {
    "alnum": string.ascii_letters + string.digits,
    "alpha": string.ascii_letters,
    "lower": string.ascii_lowercase,
    "upper": string.ascii_uppercase,
    "upnum": string.ascii_uppercase + string.digits,
    "lonum": string.ascii_lowercase + string.digits,
    "hex": "0123456789abcdef",
    "HEX": "0123456789ABCDEF",
    "digits": string.digits,
    "nzdigit": "123456789",
    "b64": string.ascii_letters + string.digits + "+/",
    "b64url": string.ascii_letters + string.digits + "-_",
    "pw": string.ascii_letters + string.digits + "!@#%^*_+-.~",
}
GENERATED = re.compile(r"\{(\w+):(\d+)\}")
WINDOW = 16  # no run of this many characters of a secret may survive


@dataclass(frozen=True)
class Secret:
    n: int
    kind: str
    form: str
    secret: str
    context: str
    input: Any  # a tool call's arguments holding the secret, or None

    @property
    def label(self) -> str:
        return f"{self.n:03d}-{self.kind}-{self.form}"


def _generate(template: str, rng: random.Random) -> str:
    def one(match: re.Match[str]) -> str:
        chars = CLASSES[match.group(1)]
        return "".join(rng.choice(chars) for _ in range(int(match.group(2))))

    return GENERATED.sub(one, template)


def _fill(value: Any, secret: str) -> Any:
    if isinstance(value, str):
        return value.replace(SLOT, secret)
    if isinstance(value, dict):
        return {_fill(k, secret): _fill(v, secret) for k, v in value.items()}
    if isinstance(value, list):
        return [_fill(v, secret) for v in value]
    return value


def load_secrets() -> list[Secret]:
    entries = yaml.safe_load((CORPUS / "secrets.yaml").read_text(encoding="utf-8"))
    out = []
    for n, entry in enumerate(entries):
        secret = _generate(entry["secret"], random.Random(f"lsm-secret-corpus:{n}"))
        assert SLOT in entry["context"], entry
        out.append(
            Secret(
                n=n,
                kind=entry["kind"],
                form=entry["form"],
                secret=secret,
                context=entry["context"].replace(SLOT, secret),
                input=_fill(entry.get("input"), secret),
            )
        )
    return out


def load_lookalikes() -> list[str]:
    entries = yaml.safe_load((CORPUS / "lookalikes.yaml").read_text(encoding="utf-8"))
    return [str(e["text"]) for e in entries]


SECRETS = load_secrets()
LOOKALIKES = load_lookalikes()


def _windows(text: str) -> set[str]:
    return {text[i : i + WINDOW] for i in range(len(text) - WINDOW + 1)}


def leak(secret: Secret, output: str, seen: set[str] | None = None) -> str | None:
    """The part of ``secret`` still in ``output``: the whole of it, or a run of WINDOW characters that is
    not also part of the benign text around it (PEM headers, JSON keys). ``seen``: the windows of
    ``output``, when many secrets are checked against one output."""
    if secret.secret in output:
        return secret.secret
    seen = _windows(output) if seen is None else seen
    benign = secret.context.replace(secret.secret, "\0")
    for piece in re.split(r"\s+", secret.secret):
        for i in range(len(piece) - WINDOW + 1):
            window = piece[i : i + WINDOW]
            if window in seen and window not in benign:
                return window
    return None


def leaks(output: str, secrets: list[Secret] = SECRETS) -> list[str]:
    seen = _windows(output)
    return [f"{s.label}: {found!r}" for s in secrets if (found := leak(s, output, seen)) is not None]


def strings_in(value: Any) -> Iterator[str]:
    """Every string in a parsed document (keys too): a secret with quotes or newlines is escaped in the
    JSON text, so the decoded strings are checked as well."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield str(k)
            yield from strings_in(v)
    elif isinstance(value, list):
        for v in value:
            yield from strings_in(v)


# ---------------------------------------------------------------------------------------------------
# The corpus itself


def test_corpus_is_big_and_varied() -> None:
    assert len(SECRETS) >= 100
    assert len({s.kind for s in SECRETS}) >= 30
    assert len({s.form for s in SECRETS}) >= 30
    assert sum(1 for s in SECRETS if s.input is not None) >= 8
    assert len(LOOKALIKES) >= 50
    assert len({s.secret for s in SECRETS}) == len(SECRETS)  # generated values are distinct
    # Deterministic: the same file builds the same values.
    assert [s.secret for s in load_secrets()] == [s.secret for s in SECRETS]


@pytest.mark.parametrize("secret", SECRETS, ids=lambda s: s.label)
def test_secret_is_redacted(secret: Secret) -> None:
    clean, counts = redact_text(secret.context)
    assert leak(secret, clean) is None, clean
    assert f"[REDACTED:{secret.kind}]" in clean, clean
    assert counts.get(secret.kind, 0) >= 1
    again, more = redact_text(clean)  # idempotent: nothing new is found in redacted text
    assert again == clean and more == {}


@pytest.mark.parametrize("secret", [s for s in SECRETS if s.input is not None], ids=lambda s: s.label)
def test_secret_as_a_json_value_is_redacted(secret: Secret) -> None:
    counts: dict[str, int] = {}
    clean = redact_value({"name": "Bash", "input": secret.input}, counts)
    text = json.dumps(clean)
    assert leak(secret, text) is None and leak(secret, "\n".join(strings_in(clean))) is None, text
    assert sum(counts.values()) >= 1
    assert redact_value(clean) == clean


@pytest.mark.parametrize("text", LOOKALIKES)
def test_lookalike_survives(text: str) -> None:
    assert redact_text(text) == (text, {})


def test_lookalikes_survive_as_json_values() -> None:
    doc = {"lines": LOOKALIKES, "env": {"TOKEN_LIMIT": "4096", "max_tokens": 8192, "auth": "oauth2"}}
    assert redact_value(doc) == doc


def test_every_secret_in_one_text() -> None:
    """All of them at once, among the look-alikes: the rules do not step on each other."""
    mixed = "\n".join(line for pair in zip(LOOKALIKES * 3, (s.context for s in SECRETS)) for line in pair)
    clean, _ = redact_text(mixed)
    assert leaks(clean) == []
    for text in LOOKALIKES:
        if "\n" not in text:
            assert text in clean, text


def test_memory_add_refuses_every_secret() -> None:
    for secret in SECRETS:
        with pytest.raises(UsageError) as err:
            memory.check_secret(secret.context, allow_secret=False)
        assert leak(secret, str(err.value)) is None
    for text in LOOKALIKES:
        memory.check_secret(text, allow_secret=False)


# ---------------------------------------------------------------------------------------------------
# Every output path, through the real CLI and the MCP server


def _line(kind: str, sid: str, n: int, message: dict[str, Any], **extra: Any) -> str:
    return json.dumps(
        {
            "type": kind,
            "sessionId": sid,
            "cwd": "/work/corpus",
            "timestamp": f"2026-11-20T10:{n // 60:02d}:{n % 60:02d}.000Z",
            "uuid": f"{sid}-{n}",
            "message": message,
            **extra,
        }
    )


def _exchange(sid: str, n: int, prompt: str, tool_input: Any, result: str) -> list[str]:
    """A prompt, a Bash tool call with ``tool_input``, and its result."""
    call_id = f"toolu_{sid}_{n}"
    return [
        _line("user", sid, 3 * n, {"role": "user", "content": prompt}),
        _line(
            "assistant",
            sid,
            3 * n + 1,
            {
                "id": f"msg_{sid}_{n}",
                "model": "claude-sonnet-4-5",
                "role": "assistant",
                "usage": {"input_tokens": 10, "output_tokens": 5},
                "content": [
                    {"type": "text", "text": "Running it."},
                    {"type": "tool_use", "id": call_id, "name": "Bash", "input": tool_input},
                ],
            },
            requestId=f"req_{sid}_{n}",
        ),
        _line(
            "user",
            sid,
            3 * n + 2,
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call_id, "content": result}]},
        ),
    ]


def _tool_input(secret: Secret) -> Any:
    return secret.input if secret.input is not None else {"command": secret.context}


def write_sessions(fake: FakeHome) -> None:
    """One session per secret (its prompt is the title), and one session holding every secret, whose
    single long tool result is cut at the export's trim limit."""
    proj = fake.projects / "-work-corpus"
    proj.mkdir(parents=True)
    for s in SECRETS:
        lines = _exchange(f"corpus{s.n:03d}", 0, s.context, _tool_input(s), s.context)
        (proj / f"corpus{s.n:03d}.jsonl").write_text("\n".join(lines) + "\n")
    every = "\n".join(s.context for s in SECRETS)
    lines = [f"line {i}: {text}" for i, text in enumerate(LOOKALIKES)]
    combined = _exchange("allsecrets", 0, "Look-alikes:\n" + "\n".join(lines), {"command": "true"}, every)
    for s in SECRETS:
        combined += _exchange("allsecrets", s.n + 1, s.context, _tool_input(s), s.context)
    (proj / "allsecrets.jsonl").write_text("\n".join(combined) + "\n")


def ok(fake: FakeHome, *args: str) -> subprocess.CompletedProcess[str]:
    r = fake.run(*args)
    assert r.returncode == 0, r.stderr
    return r


@pytest.fixture
def corpus_home(fake_home: FakeHome) -> FakeHome:
    write_sessions(fake_home)
    return fake_home


def test_no_secret_leaves_by_the_cli(corpus_home: FakeHome, tmp_path: Path) -> None:
    listed = ok(corpus_home, "list", "--all", "--format", "json")
    sessions = json.loads(listed.stdout)
    assert len([s for s in sessions if s["native_id"].startswith("corpus")]) == len(SECRETS)
    assert leaks(listed.stdout + "\n".join(strings_in(sessions))) == []
    assert any("[REDACTED:" in (s["title"] or "") for s in sessions)

    for fmt in ("json", "yaml", "markdown"):
        r = ok(corpus_home, "export", "allsecrets", "-o", "-", "--format", fmt, "--full")
        decoded = "" if fmt == "markdown" else "\n".join(strings_in(yaml.safe_load(r.stdout)))
        assert leaks(r.stdout + decoded) == [], fmt
        if fmt == "json":
            doc = json.loads(r.stdout)
            assert sum(doc["redactions"].values()) >= 2 * len(SECRETS)
            first = doc["conversation"]["turns"][0]["text"]  # look-alikes come through untouched
            assert first.startswith("Look-alikes:") and all(t in first for t in LOOKALIKES)

    out = tmp_path / "batch"
    ok(corpus_home, "batch-export", "corpus*", "--output-dir", str(out), "--format", "markdown")
    files = {p.name: p.read_text() for p in out.iterdir()}
    assert leaks("\n".join(files.values())) == []
    for s in SECRETS:  # one session per secret, in its own file
        assert leak(s, files[f"claude-code_corpus{s.n:03d}.md"]) is None
        assert "[REDACTED:" in files[f"claude-code_corpus{s.n:03d}.md"]


def test_memory_add_refuses_on_the_command_line(corpus_home: FakeHome) -> None:
    text = "\n".join(s.context for s in SECRETS)[: memory.MAX_TEXT]
    r = corpus_home.run("memory-add", "allsecrets", text)
    assert r.returncode == 2 and "looks like it holds a secret" in r.stderr
    assert leaks(r.stdout + r.stderr) == []


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.mark.anyio
async def test_no_secret_leaves_by_mcp(corpus_home: FakeHome, monkeypatch: pytest.MonkeyPatch) -> None:
    from mcp import Client

    from llm_session_manager.mcp.server import build_server

    monkeypatch.setenv("LSM_DISCOVERY", "off")
    async with Client(build_server()) as client:
        listed = await client.call_tool("list_sessions", {"all": True, "limit": 1000})
        assert not listed.is_error
        assert leaks(json.dumps(listed.structured_content)) == []
        for fmt in ("markdown", "json", "yaml"):
            result = await client.call_tool("export_session", {"session_id": "allsecrets", "format": fmt})
            assert not result.is_error, result.content
            payload = result.structured_content or {}
            assert payload["redacted"] is True
            assert leaks(payload["content"] + json.dumps(payload)) == [], fmt


# ---------------------------------------------------------------------------------------------------
# Issue 13 item 2: an import is redacted again on its way out


@pytest.fixture
def imported(corpus_home: FakeHome, tmp_path: Path) -> tuple[FakeHome, Path]:
    """``allsecrets`` exported with --no-redact, then imported on another machine."""
    raw = tmp_path / "raw.json"
    ok(corpus_home, "export", "allsecrets", "-o", str(raw), "--no-redact", "--full")
    assert leaks(raw.read_text()) != []  # the raw export really holds the secrets
    home = tmp_path / "other-home"
    home.mkdir()
    other = FakeHome(home=home, claude=home / ".claude", lsm_home=tmp_path / "other-lsm")
    ok(other, "import-context", str(raw))
    return other, raw


@pytest.mark.anyio
async def test_an_import_is_redacted_on_the_way_out(
    imported: tuple[FakeHome, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mcp import Client

    from llm_session_manager.mcp.server import build_server

    other, _ = imported
    doc = json.loads(ok(other, "export", "allsecrets", "-o", "-").stdout)
    assert doc["redacted"] is True and sum(doc["redactions"].values()) >= len(SECRETS)
    assert leaks("\n".join(strings_in(doc))) == []
    assert leaks(ok(other, "export", "allsecrets", "-o", "-", "--format", "markdown").stdout) == []
    out = tmp_path / "batch-imported"
    ok(other, "batch-export", "all", "--output-dir", str(out), "--format", "yaml")
    assert [leaks(p.read_text()) for p in out.iterdir()] == [[]]
    # Asked for, the raw document still comes back whole.
    raw = ok(other, "export", "allsecrets", "-o", "-", "--no-redact").stdout
    assert leaks(raw) != [] and json.loads(raw)["redacted"] is False

    monkeypatch.setenv("HOME", str(other.home))
    monkeypatch.setenv("LSM_HOME", str(other.lsm_home))
    monkeypatch.setenv("LSM_DISCOVERY", "off")
    async with Client(build_server()) as client:
        result = await client.call_tool("export_session", {"session_id": "allsecrets", "format": "json"})
    payload = result.structured_content or {}
    assert payload["redacted"] is True and json.loads(payload["content"])["redacted"] is True
    assert leaks(payload["content"]) == []


def test_a_key_across_the_trim_limit_is_not_half_shown(fake_home: FakeHome) -> None:
    """Tool outputs are cut at 2,000 characters: a key that straddles the cut is redacted before it."""
    key = next(s for s in SECRETS if s.kind == "anthropic-key")
    start = exporting.TRIM_CHARS - 30  # 30 characters of the key before the cut, not enough to match
    output = "x" * (start - 1) + " " + key.secret + " " + "y" * 3000
    lines = _exchange("trimmed", 0, "print the config", {"command": "cat .env"}, output)
    proj = fake_home.projects / "-work-trim"
    proj.mkdir(parents=True)
    (proj / "trimmed.jsonl").write_text("\n".join(lines) + "\n")
    doc = json.loads(ok(fake_home, "export", "trimmed", "-o", "-").stdout)
    content = doc["conversation"]["turns"][-1]["tool_results"][0]["content"]
    assert "[… trimmed " in content and leak(key, content) is None, content[1900:2100]


def test_redacted_export_round_trips_unchanged() -> None:
    """Re-redacting a redacted document changes nothing, counts included: export → import → export of
    a redacted export stays byte-identical."""
    doc = {
        "schema_version": 1,
        "redacted": True,
        "session": {"title": "deploy"},
        "conversation": {"turns": [{"role": "user", "text": "\n".join(s.context for s in SECRETS)}]},
    }
    first = exporting.redacted_document({**doc, "redacted": False})
    assert first["redacted"] is True and sum(first["redactions"].values()) >= len(SECRETS)
    assert exporting.redacted_document(first) == first
    assert list(first) == ["schema_version", "redacted", "session", "conversation", "redactions"]


def test_mcp_memory_search_redacts_a_memory_saved_with_allow_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    """`memory-add --allow-secret` keeps the text on this machine; `search_memory` never hands it out."""
    import threading
    from types import SimpleNamespace

    from llm_session_manager.mcp import server as mcp_server

    text = "\n".join(s.context for s in SECRETS[:40])
    saved = memory.Memory(
        id="mem-1",
        text=text,
        session_id="claude-code:s",
        agent="claude-code",
        project=None,
        tags=(),
        created_at="2026-12-04T10:00:00Z",
    )

    class Store:
        def search(self, query: str, filters: Any, limit: int) -> list[memory.Hit]:
            return [memory.Hit(memory=saved, score=1.0, similarity=1.0)]

    from llm_session_manager.api import memory as memory_api

    monkeypatch.setattr(memory_api, "open_memory", lambda ctx, create=True: Store())
    svc = SimpleNamespace(lock=threading.RLock(), views=lambda: [])
    found = mcp_server.memory_search_payload(svc, "deploy keys")  # type: ignore[arg-type]
    assert found and found[0]["id"] == "mem-1" and "[REDACTED:" in found[0]["text"]
    assert leaks(json.dumps(found), SECRETS[:40]) == []
