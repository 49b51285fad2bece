#!/usr/bin/env python3
"""Benchmark ``lsm list --all --format json`` on a large generated Claude Code corpus and check its totals.

    python bench/bench_list.py [--corpus DIR] [--size-mb 250] [--sessions 1500] [--seed 0]

1. Generates (or reuses) a corpus with tests/claude_corpus.py into ``--corpus`` (default
   /tmp/lsm-bench-corpus) and keeps the truth in ``<corpus>/lsm-corpus-truth.json``. A corpus is reused
   when its truth file records the same parameters and the same generator source; otherwise it is rebuilt
   (only in a folder that is empty or that this script created).
2. Runs lsm twice in subprocesses, each with ``CLAUDE_CONFIG_DIR=<corpus>``, ``HOME=<empty temp dir>`` and
   ``LSM_HOME=<fresh temp dir>`` shared by both runs: "cold" (empty LSM_HOME) and "warm" (second run).
   Reports wall time, MB/s and peak RSS (``/usr/bin/time -v`` when present, else getrusage).
3. Compares each session's ``tokens{input,output,cache_creation,cache_read,total}`` (matched by
   ``native_id``) with the generator's truth.

Exit status: 0 all good, 1 token mismatches or missing sessions, 2 lsm failed or printed no JSON.
``--lsm-cmd 'CMD ...'`` replaces the lsm command (``--fake-lsm`` is a stand-in that prints the truth in
lsm's format, to test this script itself).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from claude_corpus import SessionTruth, generate, load_truth, save_truth  # noqa: E402

TRUTH_NAME = "lsm-corpus-truth.json"
TIME_BIN = "/usr/bin/time"
TOKEN_KEYS = ("input", "output", "cache_creation", "cache_read")


# --------------------------------------------------------------------------------------------------------
# Corpus


def generator_digest() -> str:
    return hashlib.sha256((REPO / "tests" / "claude_corpus.py").read_bytes()).hexdigest()[:16]


def corpus_bytes(root: Path) -> tuple[int, int]:
    """(bytes, files) of the .jsonl files under root/projects."""
    total = files = 0
    for path in (root / "projects").rglob("*.jsonl"):
        total += path.stat().st_size
        files += 1
    return total, files


def ensure_corpus(root: Path, sessions: int, size_mb: float, seed: int) -> dict[str, SessionTruth]:
    """Reuse the corpus in root if it matches the parameters, else (re)generate it."""
    target_bytes = int(size_mb * 1_000_000)
    wanted: dict[str, Any] = {
        "sessions": sessions,
        "seed": seed,
        "target_bytes": target_bytes,
        "generator": generator_digest(),
    }
    truth_path = root / TRUTH_NAME
    if truth_path.is_file():
        truths, meta = load_truth(truth_path)
        if {k: meta.get(k) for k in wanted} == wanted:
            print(f"reusing corpus {root} ({len(truths)} sessions)")
            return truths
        print(f"corpus {root} was made with other parameters {meta}: regenerating")
        shutil.rmtree(root / "projects", ignore_errors=True)
        truth_path.unlink()
    elif root.exists() and any(root.iterdir()):
        raise SystemExit(f"{root} is not empty and has no {TRUTH_NAME}: refusing to touch it")
    root.mkdir(parents=True, exist_ok=True)
    print(f"generating {sessions} sessions, >= {size_mb:g} MB, seed {seed} into {root} ...", flush=True)
    start = time.perf_counter()
    truths = generate(root, sessions=sessions, seed=seed, target_bytes=target_bytes)
    took = time.perf_counter() - start
    size = sum(t.bytes for t in truths.values())
    print(f"generated {size / 1e6:.1f} MB in {took:.1f} s")
    save_truth(truth_path, truths, {**wanted, "bytes": size})
    return truths


# --------------------------------------------------------------------------------------------------------
# Running commands


@dataclass
class Run:
    label: str
    argv: list[str]
    returncode: int = -1
    wall_s: float = 0.0
    max_rss_mb: float | None = None
    rss_source: str = ""
    stdout: bytes = b""
    stderr: str = ""
    error: str = ""

    def summary(self, size: int) -> str:
        rss = f"{self.max_rss_mb:.0f} MB ({self.rss_source})" if self.max_rss_mb is not None else "?"
        speed = size / 1e6 / self.wall_s if self.wall_s > 0 else 0.0
        status = (
            "ok" if self.returncode == 0 and not self.error else f"FAILED rc={self.returncode} {self.error}"
        )
        return f"{self.label:<12} {self.wall_s:8.2f} s  {speed:8.1f} MB/s  peak RSS {rss}  {status}"


def _parse_time_v(text: str) -> float | None:
    for line in text.splitlines():
        if "Maximum resident set size" in line:
            return int(line.rsplit(":", 1)[1]) / 1024
    return None


def run_measured(
    label: str, argv: list[str], env: dict[str, str], timeout: float, cwd: Path | None = None
) -> Run:
    """Run argv, measuring wall time and peak RSS of the child (and its children)."""
    run = Run(label, argv)
    use_time = os.access(TIME_BIN, os.X_OK)
    with tempfile.NamedTemporaryFile("r", suffix=".time", delete=False) as tf:
        time_file = tf.name
    full = [TIME_BIN, "-v", "-o", time_file, *argv] if use_time else argv
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    try:
        proc = subprocess.run(full, env=env, capture_output=True, timeout=timeout, cwd=cwd, check=False)
        run.returncode, run.stdout = proc.returncode, proc.stdout
        run.stderr = proc.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        run.error = f"timeout after {timeout:g} s"
    except OSError as exc:
        run.error = str(exc)
    run.wall_s = time.perf_counter() - start
    if use_time:
        run.max_rss_mb = _parse_time_v(Path(time_file).read_text(errors="replace"))
        run.rss_source = "time -v"
    if run.max_rss_mb is None:
        after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        run.max_rss_mb, run.rss_source = (
            after / 1024,
            "getrusage" + ("" if after > before else ", max so far"),
        )
    Path(time_file).unlink(missing_ok=True)
    return run


def isolated_env(corpus: Path, home: Path, lsm_home: Path | None) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(corpus),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
        "PYTHONPATH": str(REPO),
        "NO_COLOR": "1",
    }
    if lsm_home is not None:
        env["LSM_HOME"] = str(lsm_home)
    return env


def lsm_argv(lsm_cmd: str | None) -> list[str]:
    if lsm_cmd:
        return shlex.split(lsm_cmd)
    venv_python = REPO / ".venv" / "bin" / "python"
    python = str(venv_python) if venv_python.exists() else sys.executable
    return [python, "-m", "llm_session_manager", "list", "--all", "--format", "json"]


# --------------------------------------------------------------------------------------------------------
# Checking output


@dataclass
class Check:
    listed: int = 0
    matched: int = 0
    mismatched: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    error: str = ""

    @property
    def ok(self) -> bool:
        return not (self.error or self.mismatched or self.missing)


def parse_lsm_json(stdout: bytes) -> tuple[list[dict[str, Any]] | None, str]:
    try:
        data = json.loads(stdout)
    except ValueError as exc:
        return None, f"stdout is not JSON ({exc}); first bytes: {stdout[:200]!r}"
    if isinstance(data, dict):  # tolerate {"sessions": [...]}
        data = data.get("sessions", data)
    if not isinstance(data, list):
        return None, f"expected a JSON array, got {type(data).__name__}"
    return [row for row in data if isinstance(row, dict)], ""


def lsm_tokens(row: dict[str, Any]) -> tuple[int, ...] | None:
    tokens = row.get("tokens")
    if not isinstance(tokens, dict):
        return None
    try:
        return tuple(int(tokens.get(k) or 0) for k in (*TOKEN_KEYS, "total"))
    except (TypeError, ValueError):
        return None


def truth_tokens(t: SessionTruth) -> tuple[int, ...]:
    return (t.input, t.output, t.cache_creation, t.cache_read, t.total)


def check_against_truth(rows: list[dict[str, Any]], truths: dict[str, SessionTruth]) -> Check:
    check = Check(listed=len(rows))
    seen: set[str] = set()
    for row in rows:
        sid = str(row.get("native_id", ""))
        if sid not in truths:
            check.extra.append(sid)
            continue
        seen.add(sid)
        got, want = lsm_tokens(row), truth_tokens(truths[sid])
        if got == want:
            check.matched += 1
        else:
            check.mismatched.append(f"{sid}: lsm {got} truth {want}")
    check.missing = sorted(set(truths) - seen)
    return check


def print_check(check: Check, truths: dict[str, SessionTruth], limit: int = 10) -> None:
    if check.error:
        print(f"  check: {check.error}")
        return
    print(
        f"  check: {check.matched}/{len(truths)} sessions match the truth; "
        f"{len(check.mismatched)} mismatched, {len(check.missing)} missing, {len(check.extra)} extra "
        f"({check.listed} rows listed)"
    )
    for line in check.mismatched[:limit]:
        print(f"    mismatch {line}")
    for sid in check.missing[:limit]:
        t = truths[sid]
        print(f"    missing {sid} (spaced={t.spaced}, files={len(t.files)}, bytes={t.bytes})")
    if check.extra[:limit]:
        print(f"    extra native_ids: {check.extra[:limit]}")


# --------------------------------------------------------------------------------------------------------
# Stand-in lsm (tests this script without lsm)


def fake_lsm(break_one: bool) -> int:
    """Print the truth of $CLAUDE_CONFIG_DIR as ``lsm list --all --format json`` would."""
    truths, _ = load_truth(Path(os.environ["CLAUDE_CONFIG_DIR"]) / TRUTH_NAME)
    rows = []
    for i, t in enumerate(truths.values()):
        tokens = dict(zip((*TOKEN_KEYS, "total"), truth_tokens(t)))
        if break_one and i == 0:
            tokens["output"] += 1
        rows.append({"agent": "claude-code", "native_id": t.session_id, "cwd": t.cwd, "tokens": tokens})
    if break_one:
        rows.pop()
    json.dump(rows, sys.stdout)
    return 0


def read_baseline(root: Path) -> float:
    """Seconds to read every .jsonl byte once (the page cache is warm after generation)."""
    start = time.perf_counter()
    for path in (root / "projects").rglob("*.jsonl"):
        with path.open("rb") as fh:
            while fh.read(1 << 20):
                pass
    return time.perf_counter() - start


# --------------------------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, default=Path("/tmp/lsm-bench-corpus"))
    p.add_argument("--size-mb", type=float, default=250.0, help="minimum corpus size (default 250)")
    p.add_argument("--sessions", type=int, default=1500)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--lsm-cmd", help="command to benchmark instead of `python -m llm_session_manager list ...`"
    )
    p.add_argument("--timeout", type=float, default=900.0, help="per lsm run, seconds")
    p.add_argument("--runs", type=int, default=2, help="runs sharing one LSM_HOME: cold, warm, warm... (2)")
    p.add_argument("--json-report", type=Path, help="also write the results as JSON here")
    p.add_argument("--fake-lsm", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--fake-lsm-broken", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.fake_lsm or args.fake_lsm_broken:
        return fake_lsm(args.fake_lsm_broken)
    root = args.corpus.resolve()
    truths = ensure_corpus(root, args.sessions, args.size_mb, args.seed)
    size, files = corpus_bytes(root)
    spaced = sum(t.spaced for t in truths.values())
    print(f"corpus: {size / 1e6:.1f} MB, {files} files, {len(truths)} sessions ({spaced} spaced-JSON)")
    print(f"read-all baseline: {read_baseline(root):.2f} s")
    cmd = lsm_argv(args.lsm_cmd)
    print(f"command: {shlex.join(cmd)}")
    results: list[dict[str, Any]] = []
    worst = 0
    with tempfile.TemporaryDirectory(prefix="lsm-bench-") as tmp:
        home, lsm_home = Path(tmp, "home"), Path(tmp, "lsm-home")
        home.mkdir()
        lsm_home.mkdir()
        env = isolated_env(root, home, lsm_home)
        for i in range(max(1, args.runs)):
            run = run_measured(
                "cold" if i == 0 else f"warm{i if args.runs > 2 else ''}", cmd, env, args.timeout
            )
            print(run.summary(size))
            check = Check()
            if run.returncode != 0 or run.error:
                check.error = "lsm failed: " + (run.error or run.stderr.strip()[-2000:])
                worst = 2
            else:
                rows, err = parse_lsm_json(run.stdout)
                check = check_against_truth(rows, truths) if rows is not None else Check(error=err)
                worst = max(worst, 0 if check.ok else (2 if check.error else 1))
            print_check(check, truths)
            results.append(
                {
                    "run": run.label,
                    "wall_s": round(run.wall_s, 3),
                    "mb_per_s": round(size / 1e6 / run.wall_s, 1) if run.wall_s else None,
                    "max_rss_mb": round(run.max_rss_mb, 1) if run.max_rss_mb is not None else None,
                    "returncode": run.returncode,
                    "matched": check.matched,
                    "mismatched": len(check.mismatched),
                    "missing": len(check.missing),
                    "error": check.error[:500],
                }
            )
    if args.json_report:
        report = {
            "corpus": str(root),
            "bytes": size,
            "files": files,
            "sessions": len(truths),
            "runs": results,
        }
        args.json_report.write_text(json.dumps(report, indent=1))
    return worst


if __name__ == "__main__":
    sys.exit(main())
