#!/usr/bin/env python3
"""lsm list against ccusage and the floors, cold / warm / after one appended line, at 1x, 2x and 4x.

    python bench/bench_speed.py [--tree after=/work/main --tree before=/tmp/lsm-before] [--scales 1,2,4]
                                [--rounds 3] [--ccusage BIN]

Run it from /tmp (a repo as the current folder would shadow PYTHONPATH). For each scale it makes (or
reuses) a generated Claude Code corpus of 1,500 sessions / 250 MB times the scale, then alternates, round
after round, every command on that corpus:

- floors: ``cat`` of every transcript, and a Python loop that ``orjson.loads`` every line;
- ccusage (``claude session --json --offline``; it has no cache, so each run is cold);
- per lsm tree (``list --all --format json`` with ``PYTHONPATH=<tree>``): cold (a new, empty LSM_HOME),
  warm (the same LSM_HOME, nothing changed: answered from the stored listing), warm through the scan
  (``--agent claude-code``, which the stored listing does not answer: what an unchanged listing costs
  while an agent runs), and after-append: one assistant line (a copy of the largest transcript's last
  reply with new uuid, message.id and requestId) is appended, then each tree lists. After-append is
  compared with the warm run through the scan. The lsm trees take turns going first, round by round
  (one run's writes still reaching the disk slow the next run's waits for it).

Every run is a child in an empty environment (``HOME`` empty, ``CLAUDE_CONFIG_DIR=<corpus>``). Wall time
is perf_counter around it, CPU is user+sys from ``wait4`` (its waited-for children included), and peak
RSS is the largest sum of RSS over the whole process tree, sampled from /proc every 5 ms (at least the
largest single process's VmHWM). A forked worker's RSS counts every page it still shares with its parent,
so the tree's peak PSS (each shared page split among its sharers; sampled every 20 ms) is printed too:
the memory the tree really takes. Every lsm run's tokens are checked against the corpus truth (plus the
appended lines). Figures are medians over the rounds. Appended lines are cut off again at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(REPO / "tests"))

from bench_list import check_against_truth, ensure_corpus, parse_lsm_json  # noqa: E402
from claude_corpus import SessionTruth  # noqa: E402

CCUSAGE_DEFAULT = "/root/.cache/ccusage/node_modules/@ccusage/ccusage-linux-x64/bin/ccusage"
APPENDED = "lsm-speed-appended.json"  # original sizes of files this script appended to
ORJSON_LOOP = """
import os, sys, orjson
n = 0
for top, _dirs, files in os.walk(sys.argv[1]):
    for name in files:
        if name.endswith(".jsonl"):
            with open(os.path.join(top, name), "rb") as fh:
                for line in fh.read().split(b"\\n"):
                    if line:
                        try:
                            orjson.loads(line); n += 1
                        except orjson.JSONDecodeError:
                            pass
print(n)
"""


# --------------------------------------------------------------------------------------------------------
# Measuring one child


@dataclass
class Sample:
    wall: float
    cpu: float
    rss_mb: float
    ok: bool = True
    note: str = ""
    pss_mb: float = 0.0  # the tree's proportional set size: a page shared by forked workers counted once


def _tree(pid: int) -> list[int]:
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
        except OSError:
            continue
    return out


def _rss(pids: list[int], hwm: dict[int, int]) -> int:
    """The tree's RSS now; records each process's own peak (VmHWM) in ``hwm``."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmHWM:"):
                        hwm[p] = int(line.split()[1]) * 1024
                    elif line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, IndexError, ValueError):
            continue
    return total


def _pss(pids: list[int]) -> int:
    """The tree's proportional set size now (each shared page split among the processes sharing it)."""
    total = 0
    for p in pids:
        try:
            with open(f"/proc/{p}/smaps_rollup") as fh:
                for line in fh:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1]) * 1024
                        break
        except (OSError, IndexError, ValueError):
            continue
    return total


def measure(argv: list[str], env: dict[str, str], stdout: Any = subprocess.DEVNULL) -> tuple[Sample, bytes]:
    """Run argv; wall, CPU (wait4), whole-tree peak RSS (sampled every 5 ms) and PSS (every 20 ms: the
    kernel walks every page table to count it)."""
    out_file = tempfile.TemporaryFile()  # noqa: SIM115 (closed below, after wait4)
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=out_file, stderr=subprocess.PIPE, cwd="/tmp")
    peak = peak_pss = 0
    hwm: dict[int, int] = {}
    done = threading.Event()

    def sample() -> None:
        nonlocal peak, peak_pss
        n = 0
        while not done.is_set():
            pids = _tree(proc.pid)
            peak = max(peak, _rss(pids, hwm))
            if n % 4 == 0:
                peak_pss = max(peak_pss, _pss(pids))
            n += 1
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    err = proc.stderr.read() if proc.stderr else b""
    _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    out_file.seek(0)
    data = out_file.read()
    out_file.close()
    # wait4's ru_maxrss would count the copy of this script made by fork before exec: not used.
    rss = max(peak, max(hwm.values(), default=0))
    ok = proc.returncode == 0
    note = "" if ok else f"rc={proc.returncode}: {err.decode('utf-8', 'replace').strip()[-300:]}"
    return Sample(wall, usage.ru_utime + usage.ru_stime, rss / 2**20, ok, note, peak_pss / 2**20), data


# --------------------------------------------------------------------------------------------------------
# Corpus and the appended lines


def corpus_files(root: Path) -> list[Path]:
    return sorted((root / "projects").rglob("*.jsonl"))


def restore(root: Path) -> None:
    """Cut the lines an earlier run appended (the truth describes the corpus without them)."""
    record = root / APPENDED
    if not record.is_file():
        return
    for path, size in json.loads(record.read_text()).items():
        with open(path, "r+b") as fh:
            fh.truncate(size)
    record.unlink()


@dataclass
class Appender:
    root: Path
    truths: dict[str, SessionTruth]
    path: Path = field(init=False)
    session: str = field(init=False)
    template: dict[str, Any] = field(init=False)
    added: list[int] = field(default_factory=lambda: [0, 0, 0, 0])

    def __post_init__(self) -> None:
        # The largest main transcript whose last reply is on the main chain.
        for path in sorted(corpus_files(self.root), key=lambda p: -p.stat().st_size):
            if "subagents" in path.parts or path.stem not in self.truths:
                continue
            line = self._last_reply(path)
            if line is not None:
                self.path, self.session, self.template = path, path.stem, line
                break
        else:
            raise SystemExit("no transcript ends with a main-chain reply")
        (self.root / APPENDED).write_text(json.dumps({str(self.path): self.path.stat().st_size}))

    @staticmethod
    def _last_reply(path: Path) -> dict[str, Any] | None:
        for raw in reversed(path.read_bytes().splitlines()[-50:]):
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            msg = obj.get("message") if isinstance(obj, dict) else None
            reply = obj.get("type") == "assistant" and not obj.get("isSidechain")
            if reply and isinstance(msg, dict) and isinstance(msg.get("usage"), dict):
                return obj if msg.get("model") != "<synthetic>" else None
        return None

    def append(self) -> None:
        obj = json.loads(json.dumps(self.template))
        obj["uuid"] = str(uuid.uuid4())
        obj["requestId"] = "req_" + uuid.uuid4().hex
        obj["message"]["id"] = "msg_" + uuid.uuid4().hex
        usage = obj["message"]["usage"]
        for i, k in enumerate(
            ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
        ):
            self.added[i] += int(usage.get(k) or 0)
        with open(self.path, "ab") as fh:
            fh.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")

    def truth(self) -> dict[str, SessionTruth]:
        if not any(self.added):
            return self.truths
        t = self.truths[self.session]
        a = self.added
        copy = SessionTruth(
            **{**t.__dict__, "input": t.input + a[0], "output": t.output + a[1]},
        )
        copy.cache_creation += a[2]
        copy.cache_read += a[3]
        return {**self.truths, self.session: copy}


# --------------------------------------------------------------------------------------------------------


def clean_env(corpus: Path, home: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(corpus),
        "LANG": "C.UTF-8",
        "NO_COLOR": "1",
    }
    env.update(extra)
    return env


@dataclass
class Table:
    rows: dict[tuple[int, str, str], list[Sample]] = field(default_factory=dict)
    bad: list[str] = field(default_factory=list)

    def add(self, scale: int, tool: str, case: str, sample: Sample) -> None:
        self.rows.setdefault((scale, tool, case), []).append(sample)
        if not sample.ok:
            self.bad.append(f"{scale}x {tool} {case}: {sample.note}")

    def med(self, scale: int, tool: str, case: str, attr: str) -> float | None:
        got = self.rows.get((scale, tool, case))
        return statistics.median(getattr(s, attr) for s in got) if got else None


def check(tool: str, data: bytes, truths: dict[str, SessionTruth]) -> str:
    rows, err = parse_lsm_json(data)
    if rows is None:
        return err
    result = check_against_truth(rows, truths)
    if result.ok:
        return ""
    return f"{len(result.mismatched)} mismatched, {len(result.missing)} missing: {result.mismatched[:2]}"


def run_scale(
    scale: int, args: argparse.Namespace, trees: list[tuple[str, str]], table: Table, python: str
) -> dict[str, Any]:
    root = Path(f"{args.corpus_prefix}-{scale}x")
    restore(root)
    truths = ensure_corpus(root, 1500 * scale, 250.0 * scale, 0)
    files = corpus_files(root)
    size = sum(p.stat().st_size for p in files)
    info = {"scale": scale, "mb": size / 1e6, "files": len(files), "sessions": len(truths)}
    print(f"\n== {scale}x: {size / 1e6:.1f} MB, {len(files)} files, {len(truths)} sessions", flush=True)
    appender = Appender(root, truths)
    tmp = Path(tempfile.mkdtemp(prefix="lsm-speed-"))
    try:
        home = tmp / "home"
        home.mkdir()
        cat_list = tmp / "files.txt"
        cat_list.write_text("\0".join(map(str, files)))
        floors = {
            "cat": ["/bin/sh", "-c", f"xargs -0 cat < {cat_list} > /dev/null"],
            "orjson loop": [python, "-c", ORJSON_LOOP, str(root / "projects")],
        }
        ccusage = [args.ccusage, "claude", "session", "--json", "--offline"]
        lsm = [python, "-m", "llm_session_manager", "list", "--all", "--format", "json"]
        # The same listing through the scan (a filter the fast path does not answer; every session of
        # these corpora is Claude Code's): what an unchanged `lsm list` costs while an agent runs.
        full = [*lsm, "--agent", "claude-code"]
        for rnd in range(args.rounds):
            env = clean_env(root, home, {})
            for name, argv in floors.items():
                table.add(scale, name, "cold", measure(argv, env)[0])
            table.add(scale, "ccusage", "cold", measure(ccusage, env)[0])
            homes = {}
            # Each tree goes first in every other round: a run's writes still going to the disk (and the
            # log it removed) slow the next run's waits for it, which a fixed order puts on one tree.
            ordered = trees if rnd % 2 == 0 else trees[::-1]
            for case in ("cold", "warm", "warm, full path"):
                for label, tree in ordered:
                    homes.setdefault(label, tmp / f"lsm-{label}-{rnd}")
                    homes[label].mkdir(exist_ok=True)
                    env = clean_env(root, home, {"PYTHONPATH": tree, "LSM_HOME": str(homes[label])})
                    sample, out = measure(full if case == "warm, full path" else lsm, env)
                    problem = check(label, out, appender.truth())
                    if problem:
                        sample.ok, sample.note = False, problem
                    table.add(scale, label, case, sample)
            appender.append()
            for label, tree in ordered:
                env = clean_env(root, home, {"PYTHONPATH": tree, "LSM_HOME": str(homes[label])})
                sample, out = measure(lsm, env)
                problem = check(label, out, appender.truth())
                if problem:
                    sample.ok, sample.note = False, problem
                table.add(scale, label, "after-append", sample)
            for label in homes:
                shutil.rmtree(homes[label], ignore_errors=True)
            print(f"  round {rnd + 1}/{args.rounds} done", flush=True)
    finally:
        restore(root)
        shutil.rmtree(tmp, ignore_errors=True)
    return info


def fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    return f"{v:.2f} s" if unit == "s" else f"{v:.0f} MiB"


def ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a is not None and b else "-"


def print_table(table: Table, infos: list[dict[str, Any]], trees: list[tuple[str, str]]) -> None:
    print(
        "\n| scale | tool | case | wall | CPU | tree peak RSS | tree peak PSS | wall ÷ ccusage"
        " | CPU ÷ ccusage | ÷ warm, full path (wall / CPU) |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for info in infos:
        n = info["scale"]
        cc_wall = table.med(n, "ccusage", "cold", "wall")
        cc_cpu = table.med(n, "ccusage", "cold", "cpu")
        scale = f"{n}x ({info['mb']:.0f} MB, {info['sessions']} sessions)"
        for tool in ("cat", "orjson loop", "ccusage"):
            w, c, r, q = (table.med(n, tool, "cold", a) for a in ("wall", "cpu", "rss_mb", "pss_mb"))
            print(
                f"| {scale} | {tool} | | {fmt(w, 's')} | {fmt(c, 's')} | {fmt(r, 'm')} | {fmt(q, 'm')} |"
                f" {ratio(w, cc_wall)} | {ratio(c, cc_cpu)} | |"
            )
        for label, _tree in trees:
            warm_wall = table.med(n, label, "warm, full path", "wall")
            warm_cpu = table.med(n, label, "warm, full path", "cpu")
            for case in ("cold", "warm", "warm, full path", "after-append"):
                w, c, r, q = (table.med(n, label, case, a) for a in ("wall", "cpu", "rss_mb", "pss_mb"))
                vs_warm = f"{ratio(w, warm_wall)} / {ratio(c, warm_cpu)}" if case == "after-append" else ""
                print(
                    f"| {scale} | lsm {label} | {case} | {fmt(w, 's')} | {fmt(c, 's')} | {fmt(r, 'm')} |"
                    f" {fmt(q, 'm')} |"
                    f" {ratio(w, cc_wall)} | {ratio(c, cc_cpu)} | {vs_warm} |"
                )
    if table.bad:
        print("\nFAILED runs:")
        for line in table.bad:
            print("  " + line)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--tree", action="append", help="LABEL=PATH of an lsm source tree (repeatable)")
    p.add_argument("--scales", default="1,2,4")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--ccusage", default=CCUSAGE_DEFAULT)
    p.add_argument("--corpus-prefix", default="/tmp/lsm-speed")
    p.add_argument("--python", default=str(REPO / ".venv" / "bin" / "python"))
    p.add_argument("--json-report", type=Path, help="also write every sample here")
    p.add_argument("--print-report", type=Path, help="print the table of a saved --json-report, run nothing")
    return p.parse_args(argv)


def from_report(path: Path) -> tuple[Table, list[dict[str, Any]], list[tuple[str, str]]]:
    """The table of a ``--json-report`` file (to print it again)."""
    doc = json.loads(path.read_text())
    table = Table()
    labels: list[str] = []
    for row in doc["rows"]:
        for sample in row["samples"]:
            table.add(row["scale"], row["tool"], row["case"], Sample(**sample))
        if row["tool"] not in ("cat", "orjson loop", "ccusage") and row["tool"] not in labels:
            labels.append(row["tool"])
    return table, doc["corpora"], [(label, "") for label in labels]


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.print_report:
        print_table(*from_report(args.print_report))
        return 0
    if Path.cwd().resolve() == REPO or REPO in Path.cwd().resolve().parents:
        print("run from outside the repo (e.g. cd /tmp): the current folder shadows PYTHONPATH")
        return 2
    trees = [tuple(t.split("=", 1)) for t in (args.tree or [f"HEAD={REPO}"])]
    if os.path.isfile(args.ccusage) and not os.access(args.ccusage, os.X_OK):
        os.chmod(args.ccusage, 0o755)  # npm unpacks the native binary without its exec bit
    table = Table()
    infos = [run_scale(int(s), args, trees, table, args.python) for s in args.scales.split(",")]  # type: ignore[arg-type]
    print_table(table, infos, trees)  # type: ignore[arg-type]
    if args.json_report:
        rows = [
            {"scale": k[0], "tool": k[1], "case": k[2], "samples": [s.__dict__ for s in v]}
            for k, v in table.rows.items()
        ]
        args.json_report.write_text(json.dumps({"corpora": infos, "rows": rows}, indent=1))
    return 1 if table.bad else 0


if __name__ == "__main__":
    sys.exit(main())
