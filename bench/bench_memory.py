#!/usr/bin/env python3
"""Benchmark the cross-session memory store: 10,000 adds, then queries at 10k.

    python bench/bench_memory.py [--count 10000] [--batch 1000] [--queries 200] [--single 200]
                                 [--model auto|chroma|packaged] [--server http://127.0.0.1:8000]
                                 [--collection NAME] [--json-report FILE] [--keep] [--long]
                                 [--random-vectors]

Uses lsm's own store (``memory.open_store``: ChromaDB PersistentClient + FastMiniLM) in a fresh temporary
LSM_HOME with an empty HOME, so nothing of the user's is touched; ``--server`` runs against a ``chroma run``
server instead (team mode; use a throw-away collection with ``--collection``).

Texts are generated deterministically (seed 0): short coding-session facts of ~15 tokens (the size the
targets were set for), or ~29 tokens with ``--long``. Measured:

- adds: ``add_many`` in batches of ``--batch`` (dedup check + embedding + Chroma write), memories/second;
- single adds: ``--single`` more memories added one ``add`` call each (what ``lsm memory-add`` does once
  its process is up), milliseconds per add;
- queries at ``--count``: ``search`` (the full hybrid path: embed the query, Chroma kNN, verbatim-term
  lookup, ranking), p50/p95 milliseconds; plus the query embedding alone, queries filtered by each kind of
  metadata (tag, project, agent, session, tag and project) and queries holding a verbatim path or error
  string, p50/p95.

``--random-vectors`` stores seeded random unit vectors instead of embedding the texts, so a 50,000-memory
store builds in a minute on 2 cores; the queries are still embedded by the model. The latency measured
there is the filter and verbatim-term path, not the embedding; adds/s is then not an embedding figure.

Wall times depend on what else runs on the machine, so the report also gives the CPU time of the adds and
of each query (all threads of this process) and the load average before and after.

Targets (issues 7 and 17, on the 2-core dev machine): adds >= 250/s, query p50 <= 10 ms, filtered and
verbatim query p50 <= 15 ms at 50,000 memories. Exit status 0 when all are met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SUBJECTS = [
    "the login flow",
    "the billing service",
    "the CSV importer",
    "the search index",
    "the CI pipeline",
    "the Redis cache",
    "the Postgres migration",
    "the websocket gateway",
    "the admin dashboard",
    "the PDF renderer",
    "the upload handler",
    "the rate limiter",
    "the email sender",
    "the cron scheduler",
    "the GraphQL resolver",
    "the Docker image",
    "the feature flags",
    "the session store",
    "the API client",
    "the retry logic",
]
VERBS = [
    "fixed a race in",
    "rewrote",
    "added tests for",
    "profiled",
    "documented",
    "split up",
    "removed dead code from",
    "added logging to",
    "sped up",
    "moved config out of",
    "found a memory leak in",
    "made idempotent",
]
DETAILS = [
    "by holding the lock around the read-modify-write",
    "using a bounded LRU cache with 512 entries",
    "because the timeout defaulted to none",
    "so it retries three times with exponential backoff",
    "after the upstream changed its date format to ISO 8601",
    "by batching the inserts 500 rows at a time",
    "and the p95 latency dropped from 800 ms to 120 ms",
    "so errors now carry the request id",
    "because two workers wrote to the same temp file",
    "with a feature flag so it can be rolled back",
]
FILES = ["src/app/main.py", "lib/auth/tokens.ts", "pkg/store/db.go", "api/handlers.rs", "web/src/App.tsx"]
QUERIES = [
    "how did we make the importer faster",
    "why were the builds failing at random",
    "authentication bug",
    "what changed in the database schema",
    "slow page loads",
    "email delivery problems",
    "where does the cache live",
    "retrying failed network calls",
    "memory growth in workers",
    "how to roll back a risky change",
]


SHORT_DETAILS = ["with a lock", "using an LRU cache", "for ISO dates", "with retries", "behind a flag", ""]


def texts(count: int, seed: int = 0, long: bool = False) -> list[str]:
    """``count`` distinct memories. Short (the default): one fact of ~15 tokens, like "Implemented JWT auth
    using jose library"; long: a sentence of ~29 tokens, 30% of them with a file:line."""
    rng = random.Random(seed)
    out = []
    for n in range(count):
        if long:
            text = f"{rng.choice(VERBS).capitalize()} {rng.choice(SUBJECTS)} {rng.choice(DETAILS)}"
            if rng.random() < 0.3:
                text += f" (see {rng.choice(FILES)}:{rng.randint(10, 900)})"
        else:
            text = (
                f"{rng.choice(VERBS).capitalize()} {rng.choice(SUBJECTS)} {rng.choice(SHORT_DETAILS)}".strip()
            )
            if rng.random() < 0.3:
                text += f" in {rng.choice(FILES)}"
        if rng.random() < 0.05:
            text += f" ({rng.choice(ERRORS)})"
        out.append(f"{text} #{n}")
    return out


AGENTS = ["claude-code", "codex", "gemini-cli", "aider"]
ERRORS = ["ECONNREFUSED", "TypeError: 'NoneType' object is not subscriptable", "E1101", "SIGSEGV"]


def filter_kinds(memory: Any) -> dict[str, Any]:
    """One filter of each kind: a tag (1 in 5 memories), a project (1 in 7), an agent (1 in 4), a session
    (1 in 50)."""
    return {
        "tag": memory.Filters(tags=("t1",)),
        "project": memory.Filters(project="proj3"),
        "agent": memory.Filters(agent="codex"),
        "session": memory.Filters(sessions=("codex:s1",)),
        "tag_and_project": memory.Filters(tags=("t1",), project="proj3"),
    }


def narrowed_queries(store: Any, memory: Any, queries: list[str]) -> dict[str, list[float]]:
    """Wall milliseconds of queries narrowed by each kind of filter and of queries with verbatim terms."""
    repeat = len(queries)
    times = {
        f"filtered_{name}": timed(lambda i, flt=flt: store.search(queries[i], flt, limit=10), repeat)
        for name, flt in filter_kinds(memory).items()
    }
    times["verbatim_path"] = timed(lambda i: store.search(f"crash in {FILES[i % len(FILES)]}"), repeat)
    times["verbatim_error"] = timed(lambda i: store.search(f"why {ERRORS[i % len(ERRORS)]}?"), repeat)
    return times


def percentiles(times: dict[str, list[float]]) -> dict[str, float]:
    return {
        f"{name}_ms_{q}": round(pct(values, share), 2)
        for name, values in times.items()
        for q, share in (("p50", 0.5), ("p95", 0.95))
    }


def random_vectors(texts: list[str]) -> Any:
    """Seeded random unit vectors, one per text (stands in for the model with --random-vectors)."""
    import numpy as np

    rng = np.random.default_rng(len(texts))
    vectors = rng.standard_normal((len(texts), 384)).astype(np.float32)
    return list(vectors / np.linalg.norm(vectors, axis=1, keepdims=True))


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def timed(fn: Any, repeat: int, cpu: list[float] | None = None) -> list[float]:
    """Wall milliseconds of ``fn(i)`` for i in range(repeat); CPU milliseconds (all threads) into ``cpu``."""
    times = []
    for i in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        fn(i)
        times.append((time.perf_counter() - start) * 1000)
        if cpu is not None:
            cpu.append((time.process_time() - start_cpu) * 1000)
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=10_000)
    ap.add_argument("--batch", type=int, default=1000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--single", type=int, default=200)
    ap.add_argument("--model", default="auto", choices=("auto", "chroma", "packaged"))
    ap.add_argument("--server", default=None)
    ap.add_argument("--collection", default="lsm_bench_memories")
    ap.add_argument("--json-report", default=None)
    ap.add_argument("--keep", action="store_true", help="Keep the temporary store (path printed).")
    ap.add_argument("--long", action="store_true", help="Longer memories (~29 tokens instead of ~15).")
    ap.add_argument(
        "--random-vectors",
        action="store_true",
        help="Store seeded random unit vectors instead of embedding the texts (for query latency at 50k "
        "on a slow machine; adds/s is then not an embedding figure and is not reported as one).",
    )
    ap.add_argument(
        "--compare-scan",
        action="store_true",
        help="Also time the filtered and verbatim queries without the side index (Chroma where clauses).",
    )
    args = ap.parse_args(argv)

    tmp = Path(tempfile.mkdtemp(prefix="lsm-bench-memory-"))
    try:
        return run(args, tmp, round(os.getloadavg()[0], 2))
    finally:
        if args.keep:
            print(f"(the store is kept in {tmp})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def run(args: argparse.Namespace, tmp: Path, load_before: float) -> int:
    home = tmp / "home"
    home.mkdir()
    env = {"HOME": str(home), "LSM_HOME": str(tmp / "lsm")}
    from llm_session_manager import config, memory
    from llm_session_manager.paths import resolve

    paths = resolve(env)
    cfg = config.load(paths.config_file)
    cfg["memory"].update(model=args.model, server=args.server, collection=args.collection)
    if args.model != "packaged":  # chroma's copy is wherever the real HOME keeps it
        cfg["memory"]["model_dir"] = str(Path.home() / ".cache/chroma/onnx_models/all-MiniLM-L6-v2")

    start = time.perf_counter()
    store = memory.open_store(paths, cfg)
    store.function(["warm-up"])  # loads the ONNX session once, as the first command of a process does
    open_s = time.perf_counter() - start
    data = texts(args.count + args.single, long=args.long)
    items = [
        memory.NewMemory(
            t, f"{AGENTS[i % 4]}:s{i % 50}", f"s{i % 50}", AGENTS[i % 4], f"proj{i % 7}", (f"t{i % 5}",)
        )
        for i, t in enumerate(data)
    ]

    sample = [i.text for i in items[: min(2000, args.count)]]
    start = time.perf_counter()
    store.function(sample)
    embed_per_s = len(sample) / (time.perf_counter() - start)

    embed = store._embed
    if args.random_vectors:
        store._embed = random_vectors  # type: ignore[method-assign]
    start, start_cpu = time.perf_counter(), time.process_time()
    for at in range(0, args.count, args.batch):
        store.add_many(items[at : at + args.batch])
    add_s = time.perf_counter() - start
    add_cpu_s = time.process_time() - start_cpu
    adds_per_s = args.count / add_s

    single = timed(lambda i: store.add(items[args.count + i]), args.single) if args.single else [0.0]
    store._embed = embed  # type: ignore[method-assign]

    queries = [QUERIES[i % len(QUERIES)] + ("" if i < len(QUERIES) else f" {i}") for i in range(args.queries)]
    store.search(queries[0])  # warm
    full_cpu: list[float] = []
    full = timed(lambda i: store.search(queries[i], limit=10), args.queries, full_cpu)
    embed = timed(lambda i: store.function([queries[i]]), args.queries)
    narrowed = narrowed_queries(store, memory, queries)
    scan: dict[str, float] = {}
    if args.compare_scan and store.index is not None:  # the same queries through Chroma's where clauses
        index, store.index = store.index, None
        scan = {f"scan_{k}": v for k, v in percentiles(narrowed_queries(store, memory, queries)).items()}
        store.index = index
    total = store.count()

    report = {
        "count": total,
        "model": store.files.variant,
        "mean_tokens": round(
            statistics.fmean(len(e.ids) for e in store.function.tokenizer.encode_batch(data)), 1
        ),
        "store": store.location,
        "open_and_load_model_s": round(open_s, 3),
        "add_batch": args.batch,
        "vectors": "random (adds/s is not an embedding figure)" if args.random_vectors else "embedded",
        "adds_per_s": round(adds_per_s, 1),
        "add_total_s": round(add_s, 2),
        "add_cpu_s": round(add_cpu_s, 2),
        "embedding_only_per_s": round(embed_per_s, 1),
        "single_add_ms_p50": round(pct(single, 0.5), 2),
        "query_ms_p50": round(pct(full, 0.5), 2),
        "query_ms_p95": round(pct(full, 0.95), 2),
        "query_cpu_ms_p50": round(pct(full_cpu, 0.5), 2),
        "query_embedding_ms_p50": round(pct(embed, 0.5), 2),
        "side_index": store.index is not None,
        **percentiles(narrowed),
        **scan,
        "query_ms_mean": round(statistics.fmean(full), 2),
        "cpus": os.cpu_count(),
        "load_average_1m_before": load_before,
        "load_average_1m_after": round(os.getloadavg()[0], 2),
    }
    if args.json_report:
        Path(args.json_report).write_text(json.dumps(report, indent=2) + "\n")
    for key, value in report.items():
        print(f"{key:>26}: {value}")
    slowest = max(pct(t, 0.5) for t in narrowed.values())
    met = (args.random_vectors or adds_per_s >= 250) and report["query_ms_p50"] <= 10 and slowest <= 15
    print(
        f"{'targets':>26}: adds >= 250/s, query p50 <= 10 ms, filtered/verbatim p50 <= 15 ms: "
        f"{'MET' if met else 'NOT MET'}"
    )
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
