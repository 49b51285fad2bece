"""Memory store state after a failed first use, and onnxruntime's telemetry kept off.

A first `memory-add` with no network and no offline model fails; nothing it leaves behind may pin the
store to the model that was missing: once the offline model is installed, the default ``memory.model:
auto`` works and no "embedded with another model" warning appears, because no memory was embedded.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeHome

from llm_session_manager import config as config_mod
from llm_session_manager import embedding, memory
from llm_session_manager.errors import StoreError
from llm_session_manager.memory import NewMemory
from llm_session_manager.paths import resolve


def item(text: str) -> NewMemory:
    return NewMemory(text, "claude-code:s1", "s1", "claude-code", "app", ())


def go_offline_without_the_packaged_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """No `[offline]` extra and no network: chroma's copy is chosen and its download fails."""
    import httpx

    def offline(*args: Any, **kwargs: Any) -> Any:
        raise httpx.ConnectError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(embedding, "packaged_files", lambda: None)
    monkeypatch.setattr(httpx, "stream", offline)


def test_a_failed_first_add_does_not_pin_the_missing_model(monkeypatch: pytest.MonkeyPatch) -> None:
    paths = resolve()
    cfg = config_mod.load(paths.config_file)
    assert cfg["memory"]["model"] == "auto"
    with monkeypatch.context() as offline:
        go_offline_without_the_packaged_model(offline)
        first = memory.open_store(paths, cfg)
        assert first.files.variant == "chroma"
        with pytest.raises(StoreError, match="could not be downloaded"):
            first.add(item("the first memory, on a machine with no network"))
        assert first.count() == 0
    # `pip install '.[offline]'`: the packaged model is there now (monkeypatch undone).
    later = memory.open_store(paths, cfg)
    assert later.files.variant == "packaged"
    assert later.warnings == []
    saved, created = later.add(item("JWT tokens are verified with the jose library"))
    assert created and later.count() == 1
    assert later.search("how is auth checked")[0].memory.id == saved.id
    again = memory.open_store(paths, cfg)  # and the store now remembers the model it really used
    assert again.files.variant == "packaged" and again.warnings == []


def test_the_mixed_model_warning_needs_real_memories(tmp_path: Path) -> None:
    paths = resolve()
    cfg = config_mod.load(paths.config_file)
    empty = memory.open_store(paths, cfg)  # an empty collection, made with the packaged model
    assert empty.files.variant == "packaged" and empty.count() == 0
    stub = tmp_path / "chroma"
    (stub / "onnx").mkdir(parents=True)
    for name in embedding.CHROMA_FILES:
        (stub / "onnx" / name).write_text("{}")
    cfg["memory"].update(model="chroma", model_dir=str(stub))
    assert memory.open_store(paths, cfg).warnings == []  # nothing was embedded with the other model
    cfg["memory"]["model"] = "packaged"
    packaged = memory.open_store(paths, cfg)
    packaged.add(item("made with the packaged model"))
    cfg["memory"]["model"] = "chroma"
    mixed = memory.open_store(paths, cfg)
    assert len(mixed.warnings) == 1 and "packaged model" in mixed.warnings[0]


def no_microsoft_cache(home: Path) -> None:
    leftovers = sorted(str(p.relative_to(home)) for p in (home / ".cache" / "Microsoft").rglob("*"))
    assert leftovers == [], leftovers


def clean_env(fake: FakeHome) -> dict[str, str]:
    """The fake HOME's environment without ORT_DISABLE_TELEMETRY (this test process may have it set)."""
    env = fake.env()
    env.pop("ORT_DISABLE_TELEMETRY", None)
    return env


def lsm(fake: FakeHome, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "llm_session_manager", *args],
        env=clean_env(fake),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(fake.home),
    )


def test_onnxruntime_writes_nothing_in_home(fake_home: FakeHome) -> None:
    """onnxruntime writes a device id and queued telemetry under ~/.cache/Microsoft/DeveloperTools/ when
    it loads, unless ORT_DISABLE_TELEMETRY is set first: the memory commands set it."""
    add = lsm(fake_home, "memory-add", "88a8", "Auth uses JWT via the jose library")
    assert add.returncode == 0, add.stderr
    search = lsm(fake_home, "memory-search", "authentication", "--format", "json")
    assert search.returncode == 0 and "jose" in search.stdout, search.stderr
    no_microsoft_cache(fake_home.home)


def test_the_mcp_memory_tools_write_nothing_in_home(fake_home: FakeHome) -> None:
    messages = [
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "t", "version": "1"},
            },
        },
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {
                "name": "add_memory",
                "arguments": {"session_id": "88a8", "text": "Redis caches pages"},
            },
        },
        {
            "jsonrpc": "2.0",
            "id": 3,
            "method": "tools/call",
            "params": {"name": "search_memory", "arguments": {"query": "cache"}},
        },
    ]
    proc = subprocess.Popen(
        [sys.executable, "-m", "llm_session_manager", "mcp-server"],
        env=clean_env(fake_home),
        cwd=str(fake_home.home),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdin is not None and proc.stdout is not None
    answers: dict[int, Any] = {}
    try:
        for message in messages:
            proc.stdin.write(json.dumps(message) + "\n")
            proc.stdin.flush()
            if "id" in message:
                line = proc.stdout.readline()
                answers[json.loads(line)["id"]] = json.loads(line)
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)
    assert answers[2]["result"]["structuredContent"]["created"] is True, answers[2]
    assert answers[3]["result"]["structuredContent"]["count"] == 1, answers[3]
    no_microsoft_cache(fake_home.home)


def test_the_commands_recover_after_a_failed_first_add(fake_home: FakeHome, tmp_path: Path) -> None:
    """As a user meets it: the first `memory-add` fails (chroma's model, no network), then the config
    goes back to `model: auto` with the offline model installed, and the same command works, quietly."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    config = tmp_path / "config.yaml"
    config.write_text(f"memory:\n  model: chroma\n  model_dir: {tmp_path / 'empty'}\n")
    env = {"LSM_CONFIG": str(config), "HTTPS_PROXY": closed, "HTTP_PROXY": closed, "ALL_PROXY": closed}
    env.update(NO_PROXY="", no_proxy="", https_proxy=closed, http_proxy=closed, all_proxy=closed)
    first = fake_home.run("memory-add", "88a8", "Auth uses JWT via jose", **env)
    assert first.returncode == 1 and "could not be downloaded" in first.stderr
    config.write_text(f"memory:\n  model: auto\n  model_dir: {tmp_path / 'empty'}\n")
    second = fake_home.run("memory-add", "88a8", "Auth uses JWT via jose", **env)
    assert second.returncode == 0, second.stderr
    assert "warning" not in second.stderr and "downloading" not in second.stderr, second.stderr
    stats = json.loads(fake_home.run("memory-stats", "--format", "json", **env).stdout)
    assert stats["embedding_model"]["variant"] == "packaged" and stats["memories"] == 1, stats
