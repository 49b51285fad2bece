#!/usr/bin/env python3
"""Compare lsm's per-session Claude token totals with ccusage's (and with the generator's truth).

    python bench/compare_ccusage.py --corpus DIR [--ccusage PATH] [--lsm-cmd 'CMD'] [--no-lsm]

Runs ``ccusage claude session --json --offline`` and ``lsm list --all --format json``, both with
``CLAUDE_CONFIG_DIR=DIR`` and an empty ``HOME`` (lsm also gets a fresh ``LSM_HOME``), times them, and
matches sessions by id (ccusage ``sessionId`` = lsm ``native_id``). ccusage 20.0.24 is expected at
/tmp/ccusage-try (see bench/README.md); ``--ccusage`` points elsewhere.

Sessions ccusage cannot read are reported apart: ccusage only looks at lines that contain the exact bytes
``"usage":{``, so a transcript written with ``": "`` separators (the truth marks it ``spaced``) is invisible
to it. When ``DIR/lsm-corpus-truth.json`` exists (a corpus from tests/claude_corpus.py) both tools are
also checked against it. Exit status: 0 when every comparable session matches, 1 otherwise, 2 when a tool
failed.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_list import (
    TOKEN_KEYS,
    TRUTH_NAME,
    Run,
    corpus_bytes,
    isolated_env,
    lsm_argv,
    lsm_tokens,
    parse_lsm_json,
    run_measured,
    truth_tokens,
)
from claude_corpus import SessionTruth, load_truth

CCUSAGE_DIR = Path("/tmp/ccusage-try")
CCUSAGE_BIN = CCUSAGE_DIR / "node_modules/@ccusage/ccusage-linux-x64/bin/ccusage"
Tokens = tuple[int, ...]  # input, output, cache_creation, cache_read, total


def ccusage_argv(path: str | None) -> list[str]:
    base = ["claude", "session", "--json", "--offline"]
    if path:
        return [*shlex.split(path), *base]
    if CCUSAGE_BIN.is_file():
        if not os.access(CCUSAGE_BIN, os.X_OK):
            CCUSAGE_BIN.chmod(0o755)  # npm unpacks the native binary without its exec bit
        return [str(CCUSAGE_BIN), *base]
    return ["npx", "--prefix", str(CCUSAGE_DIR), "ccusage", *base]


def ccusage_sessions(stdout: bytes) -> dict[str, Tokens]:
    data = json.loads(stdout)
    out: dict[str, Tokens] = {}
    for s in data.get("sessions", []):
        sid = str(s["sessionId"])
        row = (s["inputTokens"], s["outputTokens"], s["cacheCreationTokens"], s["cacheReadTokens"])
        previous = out.get(sid, (0, 0, 0, 0, 0))  # same stem in two projects: add them up
        out[sid] = tuple(int(a) + int(b) for a, b in zip(previous, (*row, sum(row))))
    return out


def lsm_sessions(stdout: bytes) -> tuple[dict[str, Tokens], str]:
    rows, err = parse_lsm_json(stdout)
    if rows is None:
        return {}, err
    out: dict[str, Tokens] = {}
    for row in rows:
        tokens = lsm_tokens(row)
        if tokens is not None and row.get("native_id"):
            out[str(row["native_id"])] = tokens
    return out, ""


@dataclass
class Comparison:
    matched: int = 0
    mismatched: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # spaced JSON: ccusage cannot read them
    only_lsm: list[str] = field(default_factory=list)
    foreign: list[str] = field(
        default_factory=list
    )  # listed by lsm, not in the corpus (e.g. running processes)
    only_ccusage: list[str] = field(default_factory=list)


def compare(lsm: dict[str, Tokens], cc: dict[str, Tokens], truths: dict[str, SessionTruth]) -> Comparison:
    result = Comparison()
    for sid in sorted(set(lsm) | set(cc)):
        a, b = lsm.get(sid), cc.get(sid)
        if a is not None and b is not None:
            if a == b:
                result.matched += 1
            else:
                result.mismatched.append(f"{sid}: lsm {a} ccusage {b}")
        elif a is not None and truths and sid not in truths:
            result.foreign.append(sid)
        elif a is not None:
            spaced = sid in truths and truths[sid].spaced
            (result.unreadable if spaced else result.only_lsm).append(sid)
        else:
            result.only_ccusage.append(sid)
    return result


def against_truth(
    name: str, got: dict[str, Tokens], truths: dict[str, SessionTruth], skip_spaced: bool
) -> int:
    wanted = {sid: t for sid, t in truths.items() if not (skip_spaced and t.spaced)}
    ok = sum(1 for sid, t in wanted.items() if got.get(sid) == truth_tokens(t))
    bad = [sid for sid in wanted if sid in got and got[sid] != truth_tokens(wanted[sid])]
    missing = [sid for sid in wanted if sid not in got]
    scope = "non-spaced " if skip_spaced else ""
    print(
        f"{name} vs truth: {ok}/{len(wanted)} {scope}sessions match, "
        f"{len(bad)} differ, {len(missing)} missing"
    )
    for sid in bad[:5]:
        print(f"    {sid}: {name} {got[sid]} truth {truth_tokens(wanted[sid])}")
    return len(bad) + len(missing)


def print_comparison(c: Comparison, lsm_run: Run, cc_run: Run, size: int) -> None:
    print(f"per-session tokens {', '.join((*TOKEN_KEYS, 'total'))}:")
    print(f"  both tools, equal:   {c.matched}")
    print(f"  both tools, differ:  {len(c.mismatched)}")
    for line in c.mismatched[:10]:
        print(f"      {line}")
    print(f"  lsm only, spaced JSON (ccusage cannot read them): {len(c.unreadable)}")
    print(f"  lsm only, unexplained:   {len(c.only_lsm)} {c.only_lsm[:5]}")
    print(f"  ccusage only:            {len(c.only_ccusage)} {c.only_ccusage[:5]}")
    if c.foreign:
        print(f"  lsm rows not in the corpus (ignored): {len(c.foreign)} {c.foreign[:5]}")
    print(cc_run.summary(size))
    print(lsm_run.summary(size))
    if cc_run.wall_s > 0 and lsm_run.wall_s > 0:
        print(f"lsm / ccusage wall time: {lsm_run.wall_s / cc_run.wall_s:.2f}x")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--corpus", type=Path, default=Path("/tmp/lsm-bench-corpus"))
    p.add_argument(
        "--ccusage", help="ccusage command (default: the 20.0.24 native binary in /tmp/ccusage-try)"
    )
    p.add_argument("--lsm-cmd", help="lsm command (default: python -m llm_session_manager list --all ...)")
    p.add_argument("--no-lsm", action="store_true", help="only check ccusage against the truth")
    p.add_argument("--timeout", type=float, default=900.0)
    args = p.parse_args(argv)
    root = args.corpus.resolve()
    if not (root / "projects").is_dir():
        raise SystemExit(f"{root}/projects does not exist")
    truths: dict[str, SessionTruth] = {}
    if (root / TRUTH_NAME).is_file():
        truths, _ = load_truth(root / TRUTH_NAME)
    size, files = corpus_bytes(root)
    print(f"corpus {root}: {size / 1e6:.1f} MB, {files} .jsonl files, {len(truths) or '?'} sessions in truth")
    status = 0
    with tempfile.TemporaryDirectory(prefix="lsm-vs-ccusage-") as tmp:
        home = Path(tmp, "home")
        home.mkdir()
        cc_run = run_measured(
            "ccusage", ccusage_argv(args.ccusage), isolated_env(root, home, None), args.timeout
        )
        cc: dict[str, Tokens] = {}
        try:
            cc = ccusage_sessions(cc_run.stdout) if cc_run.returncode == 0 else {}
        except (ValueError, KeyError) as exc:
            cc_run.error = f"bad JSON: {exc}"
        if cc_run.returncode != 0 or cc_run.error:
            print(cc_run.summary(size), cc_run.stderr[-2000:])
            return 2
        if truths:
            status |= 1 if against_truth("ccusage", cc, truths, skip_spaced=True) else 0
        if args.no_lsm:
            print(cc_run.summary(size))
            return status
        lsm_home = Path(tmp, "lsm-home")
        lsm_home.mkdir()
        lsm_run = run_measured(
            "lsm cold", lsm_argv(args.lsm_cmd), isolated_env(root, home, lsm_home), args.timeout
        )
    lsm, err = lsm_sessions(lsm_run.stdout) if lsm_run.returncode == 0 else ({}, lsm_run.stderr[-2000:])
    if err or lsm_run.error:
        print(lsm_run.summary(size), err or lsm_run.error)
        return 2
    if truths:
        status |= 1 if against_truth("lsm", lsm, truths, skip_spaced=False) else 0
    comparison = compare(lsm, cc, truths)
    print_comparison(comparison, lsm_run, cc_run, size)
    if comparison.mismatched or comparison.only_ccusage or comparison.only_lsm:
        status |= 1
    return status


if __name__ == "__main__":
    sys.exit(main())
