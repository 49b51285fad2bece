"""Cross-session memory: real embeddings (the int8 all-MiniLM-L6-v2 of the ``offline`` extra, installed by
``.[dev]``), dedup, filters inside Chroma, hybrid ranking, delete, stats, secrets, a missing model, and the
commands end to end. No test touches the network: the only "download" is pointed at a closed local port.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeHome

from llm_session_manager import config as config_mod
from llm_session_manager import embedding, memory
from llm_session_manager.errors import NotFoundError, StoreError, UsageError
from llm_session_manager.memory import Filters, MemoryStore, NewMemory
from llm_session_manager.paths import Paths, resolve

SIDE = "88a8d761-7b9a-4bf1-a8ca-c1febe6bf358"
CODEX_ID = "019fc8be-3658-7ca3-9e29-000000000000"
CODEX_FIX = Path(__file__).parent / "fixtures" / "codex" / "stage0_small.jsonl"
FAKE_KEY = "sk-ant-api03-" + "Zz9" * 30 + "-AA"
MEMORY_KEYS = {"id", "text", "session_id", "agent", "project", "tags", "created_at"}

# (query, the memory that answers it). No pair shares a word (stop words aside): only meaning links them.
PAIRS = [
    ("how to do authentication", "Implemented JWT auth using jose library"),
    (
        "how do we migrate the database schema",
        "Wrote an Alembic migration that adds a nullable column to the users table",
    ),
    (
        "speed up slow page loads",
        "Cached rendered HTML fragments in Redis, cutting response latency from 900 ms to 80 ms",
    ),
    (
        "flaky tests in continuous integration",
        "Intermittent CI failures: two pytest workers wrote to the same temp folder, "
        "so builds broke at random",
    ),
    (
        "reduce container size",
        "Switched the Dockerfile to a multi-stage alpine build; the final layer shrank from 1.2 GB to 140 MB",
    ),
    (
        "memory leak",
        "The worker process kept growing its RSS because an unbounded dict held every request object",
    ),
    ("payment processing", "Stripe webhooks are verified with the signing header before the card is charged"),
    (
        "sending emails to customers",
        "Outgoing mail goes through SendGrid's SMTP relay; templates live in templates/mail",
    ),
    (
        "timezone bugs with dates",
        "Store every timestamp in UTC and convert to the viewer's locale only when rendering",
    ),
    (
        "deploying to production",
        "Release by tagging vX.Y.Z; the pipeline then ships the build to the live Kubernetes cluster",
    ),
    (
        "finding posts that contain certain words",
        "Blog articles are indexed with Postgres tsvector so readers can look up any phrase",
    ),
    (
        "handling too many requests from one client",
        "Added rate limiting: a token bucket per API key, 100 calls per minute",
    ),
    ("doing network fetches in parallel", "Used asyncio.gather to run the HTTP downloads concurrently"),
]
DISTRACTORS = [
    "Renamed the settings module to config and updated every import",
    "The CSV exporter now quotes fields that contain commas",
    "Bumped the minimum Python version to 3.10 because we use match statements",
    "The frontend uses Vite with React 18 and TypeScript strict mode",
    "Dark mode colours are defined as CSS custom properties in theme.css",
    "Added a pre-commit hook that runs ruff and mypy on staged files",
    "The CLI prints a table by default and JSON with --format json",
    "Translations are stored as gettext .po files under locale/",
    "Image thumbnails are generated with Pillow at 256 pixels wide",
    "Feature flags are read from LaunchDarkly at startup",
    "The README now documents how to run the project locally",
    "Replaced moment.js with date-fns to cut the bundle size",
    "Accessibility: every button has an aria-label now",
    "The admin panel lists the 50 newest orders first",
    "Upgraded Django from 4.2 to 5.0; the only breaking change was in form rendering",
    "Websocket messages are JSON objects with a type field",
    "The PDF invoices are rendered with WeasyPrint from HTML templates",
    "Unit tests use factory_boy to build model instances",
    "Sorting the product grid by price is done on the client",
    "The mobile app talks to the backend over GraphQL",
    "Environment variables are loaded from a .env file in development",
    "A nightly cron job archives log files older than 30 days to S3",
    "Added type hints to the billing module",
    "The map view uses Leaflet with OpenStreetMap tiles",
    "Fixed an off-by-one error in the pagination of the comments list",
    "Uploads larger than 10 MB are rejected with a friendly message",
    "The chart library is Recharts; tooltips show values with two decimals",
    "Switched the package manager from npm to pnpm",
    "Error pages for 404 and 500 now match the site design",
    "The search box debounces keystrokes by 300 ms before filtering the dropdown",
    "Configured Sentry to capture unhandled exceptions in the API",
    "Git hooks are installed by running make setup",
    "Changed the default branch from master to main",
    "The onboarding wizard has three steps and can be skipped",
    "Shortened the product descriptions shown on cards to 120 characters",
    "Added a health-check endpoint at /healthz for the load balancer",
    "The ORM models use soft deletes with a deleted_at column",
    "The font is Inter, loaded from a local copy",
    "The docs site is built with MkDocs Material",
    "Replaced print statements with the logging module",
    "The team agreed on conventional commit messages",
    "Added an export button that downloads the report as Excel",
    "Vendored a small YAML parser to avoid a dependency",
    "The profile page lets people upload an avatar",
    "Fixed a typo in the privacy policy",
    "The chat widget opens after 30 seconds on the pricing page",
    "Icons come from the Lucide set",
    "Keyboard shortcut ctrl+k opens the command palette",
    "The staging database is refreshed from an anonymised dump every Monday",
    "Added a changelog entry for version 2.3",
    "Password reset links expire after one hour",
    "The cart keeps items for seven days in local storage",
    "Sitemap.xml is regenerated on every publish",
    "Linted the shell scripts with shellcheck",
    "The iOS build needs Xcode 16",
    "Numbers are formatted with Intl.NumberFormat for the user's language",
]
STOP_WORDS = {"a", "an", "the", "to", "of", "in", "for", "with", "and", "or", "on", "by", "do", "how", "is"}
STOP_WORDS |= {"are", "from", "one", "we", "that"}


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower())) - STOP_WORDS


def open_default(cfg: dict[str, Any] | None = None) -> tuple[Paths, MemoryStore]:
    paths = resolve()
    cfg = cfg or config_mod.load(paths.config_file)
    return paths, memory.open_store(paths, cfg)


def item(text: str, session: str = "claude-code:s1", **kw: Any) -> NewMemory:
    agent, _, native = session.partition(":")
    return NewMemory(
        text, session, native, kw.get("agent", agent), kw.get("project", "app"), tuple(kw.get("tags", ()))
    )


@pytest.fixture
def store() -> MemoryStore:
    return open_default()[1]


# ---------------------------------------------------------------------------------------------------
# Semantic ranking on real embeddings


def test_semantic_pairs_rank_first_among_distractors(store: MemoryStore) -> None:
    assert len(PAIRS) >= 10 and len(DISTRACTORS) >= 50
    for query, answer in PAIRS:
        assert not words(query) & words(answer), (query, words(query) & words(answer))
    texts = [a for _, a in PAIRS] + DISTRACTORS
    store.add_many([item(t, f"claude-code:s{i % 7}", tags=[f"t{i % 3}"]) for i, t in enumerate(texts)])
    assert store.count() == len(texts)
    for query, answer in PAIRS:
        hits = store.search(query, limit=5)
        assert hits[0].memory.text == answer, (query, [h.memory.text for h in hits])
        assert hits[0].matched == () and 0 < hits[0].score == hits[0].similarity < 1
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_fast_function_gives_the_stock_functions_vectors(tmp_path: Path) -> None:
    """FastMiniLM (dynamic padding, one session) == chroma's ONNXMiniLM_L6_V2 (pads to 256) on the same
    files, laid out as chroma expects them (the four files chroma checks but never reads are stubs)."""
    import numpy as np
    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    packaged = embedding.packaged_files()
    assert packaged is not None, "the offline model is part of the dev extra"
    onnx = tmp_path / "m" / "onnx"
    onnx.mkdir(parents=True)
    os.symlink(packaged.model_file, onnx / "model.onnx")
    shutil.copy(packaged.tokenizer_file, onnx / "tokenizer.json")
    for name in ("config.json", "special_tokens_map.json", "tokenizer_config.json", "vocab.txt"):
        (onnx / name).write_text("{}")
    stock = ONNXMiniLM_L6_V2()
    stock.DOWNLOAD_PATH = tmp_path / "m"
    fast = embedding.FastMiniLM(embedding.chroma_files(tmp_path / "m"))
    texts = [q for q, _ in PAIRS] + [a for _, a in PAIRS] + ["x", "a " * 400]  # one long: truncated
    a = np.array(stock(texts))
    b = np.array(fast(texts))
    assert a.shape == b.shape == (len(texts), 384)
    assert float(np.abs(a - b).max()) < 1e-5
    assert fast.name() == stock.name() == "onnx_mini_lm_l6_v2"
    assert fast.tokenizer.padding is None  # padded per batch, not to 256
    session = fast.model
    fast(["again"])
    assert fast.model is session  # one ONNX session for the life of the function
    assert embedding.embedding_function(packaged) is embedding.embedding_function(packaged)


def test_batches_keep_input_order(store: MemoryStore) -> None:
    texts = [f"note {'word ' * (i % 9)}{i}" for i in range(70)]  # many batches of mixed lengths
    many = store.function(texts)
    for i in (0, 13, 42, 69):
        one = store.function([texts[i]])[0]
        assert float(sum(x * y for x, y in zip(many[i], one))) > 0.9999


# ---------------------------------------------------------------------------------------------------
# Hybrid ranking: verbatim errors, paths and symbols first


def test_verbatim_error_path_and_symbol_rank_first(store: MemoryStore) -> None:
    store.add_many(
        [
            item("Token refresh is handled by a middleware that renews the session before it expires"),
            item("Renamed refresh_access_token to rotate_tokens in the auth package"),
            item("Login broke because the JWT library changed its default algorithm"),
            item("ModuleNotFoundError: No module named 'jose' -> pip install python-jose"),
            item("Import errors in the auth module come from a missing virtualenv"),
            item("Config parsing lives in src/app/settings.py and reads YAML"),
            item("The settings loader reads the configuration file at startup"),
            item("Connection refused errors from the cache meant Redis was not running"),
            item("Fixed ECONNREFUSED 127.0.0.1:6379 by starting redis before the tests"),
            item("The author of the auth module is Dana"),
        ]
    )
    cases = {
        "refresh_access_token": "Renamed refresh_access_token",
        "ModuleNotFoundError: No module named 'jose'": "ModuleNotFoundError",
        "where is src/app/settings.py": "src/app/settings.py",
        "ECONNREFUSED": "Fixed ECONNREFUSED",
    }
    for query, start in cases.items():
        hits = store.search(query, limit=3)
        assert start in hits[0].memory.text, (query, [h.memory.text for h in hits])
        assert hits[0].score >= 1 and hits[0].matched, hits[0]
        assert all(h.score < 1 for h in hits[1:]), query  # nothing else holds those terms
    whole = store.search("ModuleNotFoundError: No module named 'jose'", limit=1)[0]
    assert whole.score == pytest.approx(1.5 + whole.similarity)  # the whole query occurs verbatim


def test_exact_terms_and_word_boundaries() -> None:
    assert memory.exact_terms("why ECONNREFUSED in src/app.py, from getUser()?") == [
        "why ECONNREFUSED in src/app.py, from getUser()?",
        "ECONNREFUSED",
        "src/app.py",
        "getUser",  # matches getUser(), getUser(id)...
    ]
    assert memory.exact_terms("auth") == []  # a plain word: semantic only
    assert memory.exact_terms('the "connection reset by peer" error')[1] == "connection reset by peer"
    for token in ("os.path.join", "snake_case", "TypeError", "E1101", "Foo::bar", "--force", "a/b"):
        assert memory.is_code_like(token), token
    for token in ("auth", "Redis", "the", "API", "e2", "multi-stage", "read-only"):
        assert not memory.is_code_like(token), token
    for plain in ("how to do authentication", "why did 3 builds fail on Monday"):
        assert memory.lookup_terms(plain, memory.exact_terms(plain)) == [], plain  # semantic only: fast
    assert memory.occurs("auth", "the auth module") and not memory.occurs("auth", "the author")
    assert memory.occurs("src/a.py", "see src/a.py:12") and not memory.occurs("a.py", "data.pyc")


# ---------------------------------------------------------------------------------------------------
# Dedup, filters, delete, stats


def test_same_text_same_session_is_saved_once(store: MemoryStore) -> None:
    first, created = store.add(item("Use   the jose library\r\nfor JWT", tags=["auth"]))
    again, created_again = store.add(item("  Use the jose library\nfor JWT  "))
    other, created_other = store.add(item("Use the jose library\nfor JWT", session="codex:s2"))
    assert created and not created_again and created_other
    assert again.id == first.id != other.id and again.tags == ("auth",)  # the existing one comes back
    assert first.id.startswith("mem-") and len(first.id) == 16
    assert first.content_hash == memory.content_hash("claude-code:s1", "Use the jose library for JWT")
    results = store.add_many([item("twice in one batch"), item("twice  in one batch")])
    assert [c for _, c in results] == [True, False] and results[0][0].id == results[1][0].id
    assert store.count() == 3


def test_a_hash_collision_gets_the_long_id(store: MemoryStore) -> None:
    digest = memory.content_hash("claude-code:s1", "the second text")
    squatter = item("the first text")
    # A memory whose 12-digit id is the one the second text would get, but with another hash.
    store.collection.add(
        ids=[memory.memory_id(digest)],
        documents=[squatter.text],
        embeddings=store.function([squatter.text]),
        metadatas=[memory.metadata_for(squatter, "0" * 64, datetime.now(timezone.utc))],
    )
    saved, created = store.add(item("the second text"))
    assert created and saved.id == memory.memory_id(digest, long=True)
    assert store.add(item("the second text"))[0].id == saved.id  # and it deduplicates too


class Spy:
    """Wraps the Chroma collection and records the filters each call hands to Chroma."""

    def __init__(self, collection: Any) -> None:
        self.collection = collection
        self.calls: list[tuple[str, Any, Any]] = []

    def __getattr__(self, name: str) -> Any:
        target = getattr(self.collection, name)
        if name not in ("query", "get"):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, kwargs.get("where"), kwargs.get("where_document")))
            return target(*args, **kwargs)

        return call


@pytest.mark.parametrize("indexed", [True, False], ids=["side-index", "chroma-where"])
def test_filters_run_in_the_side_index_or_inside_chroma(store: MemoryStore, indexed: bool) -> None:
    """Locally the side index answers filters (Chroma scans its metadata for a ``where``); without it (a
    shared server) every call hands the filter to Chroma. Same memories either way."""
    store.add_many(
        [
            item(
                "JWT tokens are signed with RS256", "claude-code:a1", tags=["auth", "security"], project="api"
            ),
            item("Sessions expire after 30 minutes", "claude-code:a1", tags=["auth"], project="api"),
            item("Login page uses the design system", "codex:b2", tags=["auth", "ui"], project="web"),
            item("Buttons are 40 px high", "codex:b2", tags=["ui"], project="web"),
            item("The token cache is in Redis", "gemini:c3", project="api"),
        ]
    )
    assert store.index is not None
    if not indexed:
        store.index = None
    spy = Spy(store.collection)
    store.collection = spy
    texts = lambda hits: sorted(h.memory.text for h in hits)  # noqa: E731
    assert texts(store.search("login security", Filters(tags=("auth",)))) == [
        "JWT tokens are signed with RS256",
        "Login page uses the design system",
        "Sessions expire after 30 minutes",
    ]
    if not indexed:
        assert spy.calls[-1] == ("query", {"tags": {"$contains": "auth"}}, None)
    assert texts(store.search("tokens", Filters(project="api", agent="claude-code"))) == [
        "JWT tokens are signed with RS256",
        "Sessions expire after 30 minutes",
    ]
    assert texts(store.search("anything", Filters(sessions=("codex:b2",), tags=("auth", "ui")))) == [
        "Login page uses the design system"
    ]
    assert [m.text for m in store.find(Filters(agent="gemini"))] == ["The token cache is in Redis"]
    assert store.find(Filters(tags=("nope",))) == []
    if indexed:
        assert all(where is None and doc is None for _, where, doc in spy.calls)  # Chroma scanned nothing
    else:
        assert all(where is not None for _, where, _ in spy.calls)  # every call was filtered by Chroma
    assert memory.where_clause(Filters()) is None
    assert memory.where_clause(Filters(sessions=("a:1", "b:2"), project="p")) == {
        "$and": [{"session_id": {"$in": ["a:1", "b:2"]}}, {"project": "p"}]
    }


def test_find_is_newest_first_and_limited(store: MemoryStore) -> None:
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    for n in range(5):
        store.add(item(f"memory number {n}"), now=t0.replace(hour=n))
    listed = store.find()
    assert [m.text for m in listed] == [f"memory number {n}" for n in (4, 3, 2, 1, 0)]
    assert listed[0].created_at == "2026-01-01T04:00:00Z"
    assert len(store.find(limit=2)) == 2


def test_delete_needs_the_full_id(store: MemoryStore) -> None:
    keep, _ = store.add(item("keep me"))
    gone, _ = store.add(item("delete me"))
    with pytest.raises(NotFoundError):
        store.delete(gone.id[:8])  # a prefix is not enough
    assert store.delete(gone.id).text == "delete me"
    assert [m.id for m in store.find()] == [keep.id]
    with pytest.raises(NotFoundError):
        store.delete(gone.id)


def test_stats(store: MemoryStore) -> None:
    store.add_many(
        [
            item("one", "claude-code:a", tags=["x", "y"], project="api"),
            item("two", "claude-code:a", tags=["x"], project="api"),
            item("three", "codex:b", project=None),
        ]
    )
    stats = store.stats().as_json()
    assert stats["memories"] == 3
    assert stats["by_session"] == {"claude-code:a": 2, "codex:b": 1}
    assert stats["by_tag"] == {"x": 2, "y": 1}
    assert stats["by_project"] == {"api": 2}
    assert stats["by_agent"] == {"claude-code": 2, "codex": 1}
    assert stats["store"]["kind"] == "local" and stats["store"]["size_bytes"] > 0
    assert stats["embedding_model"]["variant"] == "packaged"
    assert stats["embedding_model"]["name"] == "all-MiniLM-L6-v2" and stats["collection"] == "lsm_memories"


def test_texts_that_look_like_secrets_are_refused() -> None:
    with pytest.raises(UsageError, match=r"anthropic-key.*--allow-secret"):
        memory.check_secret(f"the key is {FAKE_KEY}", allow_secret=False)
    memory.check_secret(f"the key is {FAKE_KEY}", allow_secret=True)
    memory.check_secret(
        "rotate the key every 90 days; git sha 3f9a1c2b7d4e5f60718293a4b5c6d7e8f9012345", False
    )
    with pytest.raises(UsageError, match="empty"):
        memory.normalise_text("  \n ")
    with pytest.raises(UsageError, match="longer than"):
        memory.normalise_text("x" * (memory.MAX_TEXT + 1))


# ---------------------------------------------------------------------------------------------------
# Which model, and a missing one


def write_chroma_stub(folder: Path) -> None:
    onnx = folder / "onnx"
    onnx.mkdir(parents=True)
    for name in embedding.CHROMA_FILES:
        (onnx / name).write_text("{}")


def test_model_choice(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    assert embedding.choose("auto", empty).variant == "packaged"  # installed by the dev extra
    assert embedding.choose("chroma", empty) == embedding.chroma_files(empty)
    write_chroma_stub(tmp_path / "chroma")
    assert embedding.choose("auto", tmp_path / "chroma").variant == "chroma"  # already downloaded
    assert embedding.choose("auto", tmp_path / "chroma", recorded="packaged").variant == "packaged"
    assert embedding.choose("auto", empty, recorded="chroma").variant == "chroma"
    home = Path("/h")
    assert embedding.chroma_model_dir(home, None) == home / ".cache/chroma/onnx_models/all-MiniLM-L6-v2"
    assert embedding.chroma_model_dir(home, "models") == home / "models"


def test_packaged_model_missing_is_one_clear_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embedding, "packaged_files", lambda: None)
    with pytest.raises(StoreError, match=r"pip install 'llm-session-manager\[offline\]'") as info:
        embedding.choose("packaged", Path("/nowhere"))
    assert "\n" not in str(info.value)


def test_no_model_and_no_network_is_one_clear_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import httpx

    def offline(*args: Any, **kwargs: Any) -> Any:
        raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(httpx, "stream", offline)
    cfg = config_mod.load(resolve().config_file)
    cfg["memory"].update(model="chroma", model_dir=str(tmp_path / "empty-model-dir"))
    _, store = open_default(cfg)
    assert store.files.variant == "chroma"
    assert store.find() == []  # reading needs no model
    with pytest.raises(StoreError) as info:
        store.add(item("needs an embedding"))
    message = str(info.value)
    assert "\n" not in message and "could not be downloaded" in message and "ConnectError" in message
    assert str(tmp_path / "empty-model-dir") in message and "[offline]" in message
    assert "downloading the embedding model" in capsys.readouterr().err
    assert not (tmp_path / "empty-model-dir" / "onnx.tar.gz").exists()  # no partial file left


def test_first_use_downloads_chromas_model_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """chroma's own download code, pointed at a local HTTP server that serves an archive laid out like
    chroma's onnx.tar.gz (built from the packaged files; its SHA-256 patched in): downloaded, checked,
    unpacked into memory.model_dir, then used with no network at all."""
    import hashlib
    import tarfile
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    from chromadb.utils.embedding_functions.onnx_mini_lm_l6_v2 import ONNXMiniLM_L6_V2

    packaged = embedding.packaged_files()
    assert packaged is not None
    served = tmp_path / "served"
    served.mkdir()
    with tarfile.open(served / "onnx.tar.gz", "w:gz", compresslevel=1) as tar:
        tar.add(packaged.model_file, "onnx/model.onnx")
        tar.add(packaged.tokenizer_file, "onnx/tokenizer.json")
        for name in ("config.json", "special_tokens_map.json", "tokenizer_config.json", "vocab.txt"):
            (tmp_path / name).write_text("{}")
            tar.add(tmp_path / name, f"onnx/{name}")
    digest = hashlib.sha256((served / "onnx.tar.gz").read_bytes()).hexdigest()

    class Quiet(SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{httpd.server_address[1]}/onnx.tar.gz"
    for var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(var, raising=False)  # straight to the loopback server
    monkeypatch.setattr(ONNXMiniLM_L6_V2, "MODEL_DOWNLOAD_URL", url)
    monkeypatch.setattr(ONNXMiniLM_L6_V2, "_MODEL_SHA256", digest)
    model_dir = tmp_path / "models"
    cfg = config_mod.load(resolve().config_file)
    cfg["memory"].update(model="chroma", model_dir=str(model_dir))
    try:
        _, store = open_default(cfg)
        store.add(item("Implemented JWT auth using jose library"))
    finally:
        httpd.shutdown()
        thread.join()
    assert embedding.chroma_model_present(model_dir)
    assert "downloading the embedding model" in capsys.readouterr().err
    monkeypatch.setattr(ONNXMiniLM_L6_V2, "MODEL_DOWNLOAD_URL", "http://127.0.0.1:9/gone")
    embedding._FUNCTIONS.clear()  # a new process: a new function, the files already there
    _, again = open_default(cfg)
    assert again.files.variant == "chroma"
    assert (
        again.search("how to do authentication")[0].memory.text == "Implemented JWT auth using jose library"
    )
    assert "downloading" not in capsys.readouterr().err


def test_the_store_remembers_its_model(tmp_path: Path) -> None:
    paths, store = open_default()
    store.add(item("made with the packaged model"))
    write_chroma_stub(tmp_path / "chroma")  # chroma's copy appears later (another tool downloaded it)
    cfg = config_mod.load(paths.config_file)
    cfg["memory"]["model_dir"] = str(tmp_path / "chroma")
    assert memory.open_store(paths, cfg).files.variant == "packaged"  # auto keeps the store's model
    cfg["memory"]["model"] = "chroma"
    forced = memory.open_store(paths, cfg)
    assert forced.files.variant == "chroma" and "packaged model" in forced.warnings[0]


# ---------------------------------------------------------------------------------------------------
# The commands, end to end


def ok(fake: FakeHome, *args: str, **env: str) -> str:
    r = fake.run(*args, **env)
    assert r.returncode == 0, r.stderr
    return r.stdout


def fails(fake: FakeHome, *args: str, code: int, **env: str) -> str:
    r = fake.run(*args, **env)
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert "Traceback" not in r.stderr and lines, r.stderr
    return lines[-1]


@pytest.fixture
def home(fake_home: FakeHome) -> FakeHome:
    """The Claude fixtures plus one Codex session (~/.codex/sessions/...)."""
    target = fake_home.home / ".codex/sessions/2026/08/03" / f"rollout-2026-08-03T10-48-56-{CODEX_ID}.jsonl"
    target.parent.mkdir(parents=True)
    shutil.copy(CODEX_FIX, target)
    return fake_home


def test_commands_end_to_end(home: FakeHome, tmp_path: Path) -> None:
    added = json.loads(
        ok(home, "memory-add", "88a8", "Implemented JWT auth using jose library", "-t", "Auth", "-f", "json")
    )
    assert set(added) == MEMORY_KEYS | {"created"} and added["created"] is True
    assert added["session_id"] == f"claude-code:{SIDE}" and added["agent"] == "claude-code"
    assert added["tags"] == ["auth"] and added["project"] == "claude-code-log"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", added["created_at"])
    r = home.run("memory-add", "88a8", "Implemented JWT auth using jose library")
    assert r.returncode == 0 and r.stdout.strip() == added["id"] and "already saved" in r.stderr
    codex = ok(home, "memory-add", "019fc8be", "The flaky upload test needed a longer timeout").strip()
    assert re.fullmatch(r"mem-[0-9a-f]{12}", codex)

    hits = json.loads(ok(home, "memory-search", "how to do authentication", "-f", "json"))
    assert [h["id"] for h in hits] == [added["id"], codex]  # a JSON array, best first
    assert set(hits[0]) == MEMORY_KEYS | {"score", "similarity", "matched"}
    assert hits[0]["score"] > hits[1]["score"]
    only = json.loads(ok(home, "memory-search", "authentication", "--agent", "codex", "-f", "json"))
    assert [h["session_id"] for h in only] == [f"codex:{CODEX_ID}"]
    by_session = json.loads(ok(home, "memory-search", "test", "--session", "019fc", "-f", "json"))
    assert [h["id"] for h in by_session] == [codex]
    table = ok(home, "memory-search", "how to do authentication")
    assert added["id"] in table and "claude-code:" in table

    listed = json.loads(ok(home, "memory-list", "-f", "json"))
    assert [m["id"] for m in listed] == [codex, added["id"]] and set(listed[0]) == MEMORY_KEYS
    assert [m["id"] for m in json.loads(ok(home, "memory-list", "--tag", "auth", "-f", "json"))] == [
        added["id"]
    ]
    assert "mem-" in ok(home, "memory-list")

    stats = json.loads(ok(home, "memory-stats", "-f", "json"))
    assert stats["memories"] == 2 and stats["by_agent"] == {"claude-code": 1, "codex": 1}
    assert stats["by_project"] == {"claude-code-log": 1, "repo": 1}
    assert "Memories:   2" in ok(home, "memory-stats")

    exported = json.loads(ok(home, "export", "88a8", "-o", "-", "--no-transcript"))
    assert [m["id"] for m in exported["memories"]] == [added["id"]]
    assert set(exported["memories"][0]) == MEMORY_KEYS

    deleted = json.loads(ok(home, "memory-delete", codex, "-f", "json"))
    assert deleted["id"] == codex and deleted["deleted"] is True
    assert "no memory has the id" in fails(home, "memory-delete", codex, code=3)
    assert [m["id"] for m in json.loads(ok(home, "memory-list", "-f", "json"))] == [added["id"]]


def test_command_errors_are_one_line(home: FakeHome) -> None:
    assert "no session matches 'nope'" in fails(home, "memory-add", "nope", "text", code=3)
    line = fails(home, "memory-add", "88a8", f"token {FAKE_KEY}", code=2)
    assert "--allow-secret" in line and FAKE_KEY not in line
    assert not (home.lsm_home / "memory").exists()  # refused before the store was even opened
    saved = ok(home, "memory-add", "88a8", f"token {FAKE_KEY}", "--allow-secret").strip()
    assert saved.startswith("mem-")
    assert "bad tag" in fails(home, "memory-add", "88a8", "x", "--tag", "a b", code=2)
    assert "empty" in fails(home, "memory-search", "  ", code=2)
    assert "unknown format" in fails(home, "memory-list", "-f", "xml", code=2)


def test_memories_of_an_imported_session(home: FakeHome, tmp_path: Path) -> None:
    doc = tmp_path / "ctx.json"
    ok(home, "export", "88a8", "-o", str(doc), "--no-transcript")
    ok(home, "import-context", str(doc), "--session-id", "handed-over")
    saved = json.loads(ok(home, "memory-add", "handed", "Colours come from the theme file", "-f", "json"))
    assert saved["session_id"] == "claude-code:handed-over"
    listed = json.loads(ok(home, "memory-list", "--session", "claude-code:handed-over", "-f", "json"))
    assert [m["id"] for m in listed] == [saved["id"]]


def test_session_filter_for_a_session_lsm_no_longer_sees(home: FakeHome) -> None:
    saved = ok(home, "memory-add", "019fc8be", "Retry uploads three times").strip()
    shutil.rmtree(home.home / ".codex")  # the transcript is gone; its memories stay
    listed = json.loads(ok(home, "memory-list", "--session", "019fc8be", "-f", "json"))
    assert [m["id"] for m in listed] == [saved]
    assert "no session matches" in fails(home, "memory-list", "--session", "zzz", code=3)


def test_offline_with_no_model_fails_with_one_line(home: FakeHome, tmp_path: Path) -> None:
    """The model dir points at an empty folder and every download goes to a closed local port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    config = tmp_path / "config.yaml"
    config.write_text(f"memory:\n  model: chroma\n  model_dir: {tmp_path / 'empty'}\n")
    env = {"LSM_CONFIG": str(config), "HTTPS_PROXY": closed, "HTTP_PROXY": closed, "ALL_PROXY": closed}
    env.update(NO_PROXY="", no_proxy="", https_proxy=closed, http_proxy=closed, all_proxy=closed)
    line = fails(home, "memory-add", "88a8", "needs the model", code=1, **env)
    assert line.startswith("lsm: error: the embedding model all-MiniLM-L6-v2 is not in")
    assert (
        "could not be downloaded" in line and "connect to the internet once" in line and "[offline]" in line
    )
    assert json.loads(ok(home, "memory-list", "-f", "json", **env)) == []


def test_lsm_list_does_not_import_chromadb(home: FakeHome) -> None:
    import subprocess

    r = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "llm_session_manager", "list", "--all"],
        env=home.env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    assert "chromadb" not in r.stderr and "onnxruntime" not in r.stderr


def test_a_text_with_bytes_that_are_not_utf8_is_saved_not_a_traceback() -> None:
    """`lsm memory-add ID $'caf\\xe9'`: Python holds the byte as a lone surrogate, which hashing and the
    store cannot encode."""
    text = memory.normalise_text("caf\udce9 latin-1 ")
    assert text == "caf\ufffd latin-1"
    assert len(memory.content_hash("claude-code:x", text)) == 64


# ---------------------------------------------------------------------------------------------------
# The side index (memory_index.py): filters and verbatim terms without a scan of Chroma's metadata


def fake_vectors(texts: list[str]) -> list[Any]:
    """A fixed random unit vector per text (the index is under test, not the model)."""
    import hashlib

    import numpy as np

    out = []
    for text in texts:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")
        vector = np.random.default_rng(seed).standard_normal(384).astype(np.float32)
        out.append(vector / np.linalg.norm(vector))
    return out


@pytest.fixture
def quick(store: MemoryStore, monkeypatch: pytest.MonkeyPatch) -> MemoryStore:
    monkeypatch.setattr(store, "_embed", fake_vectors)
    return store


def through_chroma(store: MemoryStore, what: Any) -> Any:
    """``what()`` with the side index detached: Chroma's where clauses, as on a shared server."""
    index, store.index = store.index, None
    try:
        return what()
    finally:
        store.index = index


def signature(hits: list[memory.Hit]) -> list[tuple[str, float, tuple[str, ...]]]:
    return [(h.memory.id, round(h.score, 5), h.matched) for h in hits]


def test_side_index_follows_adds_and_deletes(quick: MemoryStore) -> None:
    saved = quick.add_many(
        [
            item("Crash in src/app/main.py on start", "claude-code:a", tags=["bug"]),
            item("ECONNREFUSED from the Redis cache", "codex:b", project="api"),
            item("Buttons are 40 px high", "codex:b", tags=["ui"], project="web"),
        ]
    )
    assert quick.index is not None
    assert quick.index.count() == quick.count() == 3
    assert [h.memory.text for h in quick.search("src/app/main.py", limit=1)] == [
        "Crash in src/app/main.py on start"
    ]
    assert quick.session_ids() == {"claude-code:a", "codex:b"}
    quick.delete(saved[0][0].id)
    assert quick.index.count() == quick.count() == 2
    hits = quick.search("src/app/main.py", limit=5)
    assert all(h.score < 1 for h in hits)  # the deleted memory is no longer found verbatim
    assert [m.id for m in quick.find(Filters(project="api"))] == [saved[1][0].id]
    assert quick.find(Filters(tags=("bug",))) == []
    assert quick.session_ids() == {"codex:b"}


def test_side_index_is_rebuilt_when_missing_corrupt_or_behind(quick: MemoryStore) -> None:
    quick.add_many([item(f"note {n} about pkg/store/db.go", tags=[f"t{n % 2}"]) for n in range(5)])
    assert quick.index is not None
    path = quick.index.path
    expected = [m.id for m in quick.find(Filters(tags=("t1",)))]
    quick.index.close()

    path.unlink()  # missing
    reopened = open_default()[1]
    assert path.is_file() and [m.id for m in reopened.find(Filters(tags=("t1",)))] == expected
    assert reopened.index is not None
    reopened.index.close()

    path.write_bytes(b"this is not a database" * 100)  # corrupt
    reopened = open_default()[1]
    assert [m.id for m in reopened.find(Filters(tags=("t1",)))] == expected
    assert reopened.index is not None
    reopened.index.close()

    reopened.index.vectors_path.write_bytes(b"\0" * 100)  # the vector file cut short
    reopened = open_default()[1]
    reopened._embed = fake_vectors  # type: ignore[method-assign]
    hits = reopened.search("note 3 about pkg/store/db.go", Filters(tags=("t1",)), limit=1)
    assert hits[0].memory.text == "note 3 about pkg/store/db.go" and hits[0].similarity > 0.99

    # behind Chroma (a process stopped between its Chroma write and its index write)
    reopened.collection.add(
        ids=["mem-000000000001"],
        documents=["written to chroma only"],
        embeddings=fake_vectors(["written to chroma only"]),
        metadatas=[{"session_id": "codex:z", "agent": "codex", "tags": ["t1"], "created_ts": 9e9}],
    )
    assert reopened.index is not None
    reopened.index.close()
    again = open_default()[1]
    assert [m.id for m in again.find(Filters(tags=("t1",)))] == ["mem-000000000001", *expected]
    assert again.search("written to chroma only", Filters(agent="codex"), limit=1)[0].score >= 1


WORDS = ["cache", "login", "retry", "token", "queue", "schema", "worker", "deploy", "parser", "socket"]
CODE = ["src/app/main.py", "ECONNREFUSED", "TypeError", "os.path.join", "E1101", "getUser", "--force"]


def random_memories(rng: Any, count: int) -> list[NewMemory]:
    out = []
    for n in range(count):
        words = rng.sample(WORDS, 4)
        if rng.random() < 0.4:
            words.insert(rng.randrange(5), rng.choice(CODE))
        agent = rng.choice(["claude-code", "codex", "gemini"])
        tags = tuple(sorted(set(rng.sample(["a", "b", "c", "d", "e"], rng.randrange(3)))))
        project = rng.choice(["api", "web", "cli", None])
        out.append(
            NewMemory(f"{' '.join(words)} #{n}", f"{agent}:s{n % 7}", f"s{n % 7}", agent, project, tags)
        )
    return out


def random_filters(rng: Any) -> Filters:
    return Filters(
        sessions=tuple(
            rng.sample([f"{a}:s{n}" for a in ("codex", "gemini") for n in range(7)], rng.randrange(3))
        ),
        tags=tuple(rng.sample(["a", "b", "c"], rng.choice([0, 0, 1, 2]))),
        project=rng.choice([None, None, "api", "web"]),
        agent=rng.choice([None, None, "codex", "claude-code"]),
    )


@pytest.mark.parametrize("exact_limit", [3000, 10], ids=["scored", "oversampled"])
def test_side_index_gives_the_hits_of_chromas_filtered_scan(
    quick: MemoryStore, monkeypatch: pytest.MonkeyPatch, exact_limit: int
) -> None:
    import random

    from llm_session_manager import memory_index

    monkeypatch.setattr(memory_index, "EXACT_LIMIT", exact_limit)
    rng = random.Random(17)
    quick.add_many(random_memories(rng, 400))
    for _ in range(60):
        words = rng.sample(WORDS, 2)
        if rng.random() < 0.6:
            words.append(rng.choice(CODE))
        query, filters = " ".join(words), random_filters(rng)
        limit = rng.choice([3, 10])
        indexed = quick.search(query, filters, limit)
        scanned = through_chroma(quick, lambda q=query, f=filters, n=limit: quick.search(q, f, n))
        assert signature(indexed) == signature(scanned), (query, filters)
        assert quick.find(filters) == through_chroma(quick, lambda f=filters: quick.find(f))
    assert quick.session_ids() == through_chroma(quick, quick.session_ids)


def test_the_text_index_is_asked_only_for_terms_that_hold_no_other() -> None:
    from llm_session_manager import memory_index

    terms = memory.exact_terms("crash in src/app/main.py")
    assert terms == ["crash in src/app/main.py", "src/app/main.py"]
    assert memory_index.innermost([*terms, "src/app/main.py"]) == ["src/app/main.py"]
    assert memory_index.innermost(["E1101", "TypeError"]) == ["E1101", "TypeError"]


def test_side_index_serves_threads_sharing_one_store(quick: MemoryStore) -> None:
    """A server's threads share one store, so one SQLite connection: adds and searches at once."""
    from concurrent.futures import ThreadPoolExecutor

    def work(worker: int) -> int:
        for n in range(8):
            quick.add(item(f"worker {worker} note {n} in src/w{worker}.py", f"codex:w{worker}", tags=["w"]))
            quick.search(f"src/w{worker}.py", Filters(tags=("w",)), limit=3)
        return len(quick.find(Filters(sessions=(f"codex:w{worker}",))))

    with ThreadPoolExecutor(4) as pool:
        assert list(pool.map(work, range(4))) == [8, 8, 8, 8]
    assert quick.index is not None and quick.index.count() == quick.count() == 32
