"""Manual check of token accounting on YOUR machine (reads ~/.claude read-only; writes nothing there).

Run:  python manual_tests/test_token_estimator.py [--limit 20]

For each of your most recent Claude Code sessions it prints lsm's exact token totals, context fill and
cost, then re-reads the transcript files independently with plain `json` (a second, simple implementation
of the dedup rule) and says whether both agree. If you have ccusage installed, compare with
`ccusage claude session --json --offline` too.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from llm_session_manager import config, paths
from llm_session_manager.service import collect


def independent_totals(files: list[str]) -> tuple[int, int, int, int]:
    best: dict[str, tuple[int, int, int, int]] = {}
    for name in files:
        for raw in Path(name).read_bytes().splitlines():
            try:
                obj = json.loads(raw)
            except ValueError:
                continue
            msg = obj.get("message") if isinstance(obj, dict) else None
            if (
                not isinstance(msg, dict)
                or not isinstance(msg.get("usage"), dict)
                or obj.get("type") == "user"
            ):
                continue
            u = msg["usage"]
            row = tuple(
                int(u.get(k) or 0)
                for k in (
                    "input_tokens",
                    "output_tokens",
                    "cache_creation_input_tokens",
                    "cache_read_input_tokens",
                )
            )
            key = f"{msg.get('id')}|{obj.get('requestId')}"
            if key not in best or sum(row) > sum(best[key]):
                best[key] = row  # type: ignore[assignment]
    return tuple(sum(r[i] for r in best.values()) for i in range(4))  # type: ignore[return-value]


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--limit", type=int, default=20)
    args = parser.parse_args()
    p = paths.resolve()
    result = collect(p, config.load(p.config_file))
    views = sorted(
        result.views,
        key=lambda v: v.session.last_activity.timestamp() if v.session.last_activity else 0.0,
        reverse=True,
    )[: args.limit]
    if not views:
        print("No Claude Code sessions found under", ", ".join(map(str, p.claude_project_roots)))
        return 0
    disagreements = 0
    for v in views:
        s = v.session
        mine = (s.tokens.input, s.tokens.output, s.tokens.cache_creation, s.tokens.cache_read)
        other = independent_totals(list(s.transcript_paths))
        same = "ok" if mine == other else "DIFFERENT (resumed-session copies are owned by one session only)"
        disagreements += mine != other
        print(f"{s.id}\n  tokens in/out/cw/cr = {mine}  independent = {other}  -> {same}")
        print(
            f"  context {s.context_tokens} / {s.context_window} ({v.context_pct}%), cost {v.cost_usd}, "
            f"health {v.health.score} {v.health.status}"
        )
    print(f"\n{len(views)} sessions checked, {disagreements} differ")
    return 0


if __name__ == "__main__":
    sys.exit(main())
