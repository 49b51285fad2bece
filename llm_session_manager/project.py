"""A session's project folder, read-only and bounded: which files it holds and its git state.

One skip list and one walk serve every caller (auto-tagging, `lsm tokens`, the per-session MCP server,
exports, Aider's history search): whatever folder a session ran in — a home directory, a monorepo — a
look at it stays fast, never follows a symlinked folder and never descends into dependencies or build
output.
"""

from __future__ import annotations

import os
import subprocess
from collections import deque
from typing import Any

# Folders that hold dependencies, build output, caches or tool state: never walked.
SKIP_DIRS = frozenset(
    {
        "node_modules", ".venv", "venv", "env", "__pycache__", ".mypy_cache", ".pytest_cache",
        ".ruff_cache", ".tox", ".nox", "dist", "build", "target", ".next", ".nuxt", ".cache", ".gradle",
        ".idea", ".vscode", "vendor", "coverage", "htmlcov", ".terraform", "site-packages", ".eggs",
        "bower_components", ".svelte-kit", "out", "bin", "obj", ".git", ".hg", ".svn",
    }
)  # fmt: skip
# Hidden folders that describe the project (CI) and are worth a look when asked for.
CI_DIRS = frozenset({".github", ".circleci", ".gitlab"})

GIT_TIMEOUT = 10.0  # seconds for `git ls-files`
GIT_MAX_BYTES = 4 * 1024 * 1024  # of `git ls-files -z` output read


def descend(name: str, *, keep_ci: bool = False) -> bool:
    """Walk into a folder unless it is hidden or listed in SKIP_DIRS (``*.egg-info`` included)."""
    if keep_ci and name in CI_DIRS:
        return True
    return not name.startswith(".") and name not in SKIP_DIRS and not name.endswith(".egg-info")


def walk_files(
    root: str,
    *,
    max_files: int | None = None,
    max_depth: int | None = None,
    keep_ci: bool = False,
    symlinks: bool = False,
) -> list[str]:
    """Files under ``root`` as relative paths, breadth first (so a cut keeps the shallow files), each
    folder's entries in name order. Symlinked folders are never followed; symlinked files are listed only
    with ``symlinks`` (a caller that reports them as skipped). ``max_depth`` 1 = only ``root`` itself."""
    out: list[str] = []
    queue: deque[tuple[str, str, int]] = deque([(root, "", 0)])
    while queue and (max_files is None or len(out) < max_files):
        path, rel, depth = queue.popleft()
        try:
            with os.scandir(path) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            child = f"{rel}/{entry.name}" if rel else entry.name
            try:
                if entry.is_symlink():
                    if symlinks and not entry.is_dir():
                        out.append(child)
                elif entry.is_dir():
                    if (max_depth is None or depth + 1 < max_depth) and descend(entry.name, keep_ci=keep_ci):
                        queue.append((entry.path, child, depth + 1))
                elif entry.is_file():
                    out.append(child)
            except OSError:
                continue
            if max_files is not None and len(out) >= max_files:
                break
    return out


def git_files(
    directory: str,
    *,
    untracked: bool = False,
    max_files: int | None = None,
    timeout: float = GIT_TIMEOUT,
) -> list[str] | None:
    """Files git tracks below ``directory`` (with ``untracked``: also those it does not ignore), relative
    to it; None when it is not in a work tree, or git is missing, fails or is slow. Reads at most
    GIT_MAX_BYTES of output; ``GIT_OPTIONAL_LOCKS=0``: git takes no lock and refreshes no index."""
    args = ["git", "-c", "core.quotepath=off", "ls-files", "-z", "--cached"]
    if untracked:
        args += ["--others", "--exclude-standard"]
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}
    try:
        proc = subprocess.Popen(
            args,
            cwd=directory,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            env=env,
        )
    except OSError:
        return None
    try:
        out, cut = _read_bounded(proc, timeout)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    if out is None:
        return None
    names = [os.fsdecode(n) for n in out.split(b"\0") if n]
    if cut and names:
        names.pop()  # the last name may be cut
    return names[:max_files] if max_files is not None else names


def _read_bounded(proc: subprocess.Popen[bytes], timeout: float) -> tuple[bytes | None, bool]:
    """A process's stdout, up to GIT_MAX_BYTES, within ``timeout``: (output, cut); (None, False) when it
    fails or is too slow."""
    import selectors
    import time

    assert proc.stdout is not None
    chunks: list[bytes] = []
    size = 0
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while size < GIT_MAX_BYTES:
            left = deadline - time.monotonic()
            if left <= 0 or not sel.select(left):
                return None, False
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    if size < GIT_MAX_BYTES:
        try:
            if proc.wait(timeout=max(0.1, deadline - time.monotonic())) != 0:
                return None, False
        except subprocess.TimeoutExpired:
            return None, False
    return b"".join(chunks)[:GIT_MAX_BYTES], size >= GIT_MAX_BYTES


def git_state(path: str | None, *, max_files: int = 200) -> dict[str, Any]:
    """Branch, HEAD, changed and untracked files of the git repository ``path`` is in (read-only);
    ``{"repo": False}`` when there is none."""
    if not path or not os.path.isdir(path):
        return {"repo": False}
    try:
        import git

        repo = git.Repo(path, search_parent_directories=True)
    except Exception:
        return {"repo": False}
    try:
        head = repo.head.commit.hexsha if repo.head.is_valid() else None
        branch = None if repo.head.is_detached else repo.active_branch.name
        changes = [*repo.index.diff(None), *(repo.index.diff("HEAD") if head else [])]
        dirty = sorted({str(d.a_path or d.b_path) for d in changes})
        untracked = sorted(repo.untracked_files)[:max_files]
    except Exception as exc:
        return {"repo": True, "error": f"{type(exc).__name__}: {exc}"}
    finally:
        repo.close()
    return {
        "repo": True,
        "root": repo.working_tree_dir,
        "branch": branch,
        "head": head,
        "dirty_files": dirty,
        "untracked_files": untracked,
    }
