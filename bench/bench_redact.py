#!/usr/bin/env python3
"""Time ``redact_text`` where lsm calls it: over a whole transcript on export, and over every title on list.

    .venv/bin/python bench/bench_redact.py [--mb 1] [--titles 5000] [--runs 5]

The transcript is the text of the agents' test fixtures (JSONL, Markdown chat history, code) repeated to
``--mb`` megabytes; the titles are first prompts in the style people write ("fix the token counter",
"rotate the DB password"), many with secret-ish words and no secret. Prints the best of ``--runs``.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from llm_session_manager.redact import redact_text  # noqa: E402

FIXTURES = REPO / "tests" / "fixtures"
WORDS = (
    "fix the token counter in the billing page",
    "why does the password reset email not arrive",
    "add api_key support to the client",
    "refactor secret handling in settings.py",
    "explain TOKEN_LIMIT = 4096 and max_tokens",
    "commit 3f2b9c1e8d7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c broke the build",
    "write tests for auth middleware",
    "bump lockfile sha256 hashes",
    "migrate users table; password: false in the fixture",
    "summarise the meeting notes",
)


def transcript(megabytes: float) -> str:
    parts = []
    for path in sorted(FIXTURES.rglob("*")):
        if path.is_file() and path.suffix in (".jsonl", ".json", ".md", ".txt", ".yaml"):
            parts.append(path.read_text(encoding="utf-8", errors="replace"))
    base = "\n".join(parts)
    want = int(megabytes * 1_000_000)
    return (base * (want // len(base) + 1))[:want]


def titles(count: int) -> list[str]:
    rng = random.Random(0)
    return [f"{rng.choice(WORDS)} #{i}" for i in range(count)]


def best(fn: object, runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()  # type: ignore[operator]
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=float, default=1.0)
    parser.add_argument("--titles", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    text = transcript(args.mb)
    names = titles(args.titles)
    ms_text = best(lambda: redact_text(text), args.runs)
    ms_titles = best(lambda: [redact_text(t) for t in names], args.runs)
    found = redact_text(text)[1]
    print(f"transcript {len(text) / 1e6:.1f} MB: {ms_text:.1f} ms (found {sum(found.values())} secrets)")
    print(f"{len(names):,} titles: {ms_titles:.1f} ms ({ms_titles * 1000 / len(names):.1f} µs each)")


if __name__ == "__main__":
    main()
