"""The ``memory`` section of the configuration: defaults, overrides and strict validation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from factories import config_error as error
from factories import write_config as write

from llm_session_manager.config import DEFAULT_FILE_TEXT, DEFAULTS, load

DEFAULT_MEMORY = {"server": None, "collection": "lsm_memories", "model": "auto", "model_dir": None}


def test_defaults() -> None:
    assert DEFAULTS["memory"] == DEFAULT_MEMORY
    assert load(Path("/nonexistent/config.yaml"))["memory"] == DEFAULT_MEMORY


def test_default_file_documents_the_section() -> None:
    assert yaml.safe_load(DEFAULT_FILE_TEXT)["memory"] == DEFAULT_MEMORY
    for word in ("chroma run", "[offline]", "packaged", "~/.cache/chroma/onnx_models"):
        assert word in DEFAULT_FILE_TEXT, word


def test_overrides(tmp_path: Path) -> None:
    cfg = load(
        write(
            tmp_path,
            "memory:\n  server: http://10.1.2.3:8000\n  collection: team.memories-1\n"
            "  model: packaged\n  model_dir: ~/models/minilm\n",
        )
    )
    assert cfg["memory"] == {
        "server": "http://10.1.2.3:8000",
        "collection": "team.memories-1",
        "model": "packaged",
        "model_dir": "~/models/minilm",
    }
    assert load(write(tmp_path, "memory:\n  server: https://chroma.example.com\n"))["memory"]["server"] == (
        "https://chroma.example.com"
    )
    assert load(write(tmp_path, "memory:\n  model: chroma\n"))["memory"] == {
        **DEFAULT_MEMORY,
        "model": "chroma",
    }
    assert load(write(tmp_path, "memory:\n"))["memory"] == DEFAULT_MEMORY  # an empty section: defaults


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("memory: 3\n", "'memory' must be mapping"),
        ("memory:\n  sever: http://h:1\n", "unknown key 'memory.sever'"),
        ("memory:\n  server: localhost:8000\n", "'memory.server' must be null or a URL"),
        ("memory:\n  server: ftp://h:8000\n", "'memory.server' must be null or a URL"),
        ("memory:\n  server: http://h:8000/api\n", "no path"),
        ("memory:\n  server: http://h:99999\n", "'memory.server'"),
        ("memory:\n  server: http://user:pw@h:8000\n", "'memory.server'"),
        ("memory:\n  server: 8000\n", "'memory.server'"),
        ("memory:\n  collection: m\n", "'memory.collection' must be 3-512"),
        ("memory:\n  collection: -bad-\n", "'memory.collection'"),
        ("memory:\n  collection: a..b\n", "'memory.collection'"),
        ("memory:\n  collection: 12\n", "'memory.collection'"),
        ("memory:\n  model: fp32\n", "'memory.model' must be one of auto, chroma, packaged"),
        ("memory:\n  model_dir: ''\n", "'memory.model_dir' must be a folder path or null"),
        ("memory:\n  model_dir: [a]\n", "'memory.model_dir'"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, text: str, needle: str) -> None:
    assert needle in error(tmp_path, text)
