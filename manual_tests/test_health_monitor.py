"""Manual check of health scores on YOUR machine (read-only).

Run:  python manual_tests/test_health_monitor.py

Prints every recent session's health with each factor's reason, worst first, so you can judge whether the
score matches what you know about those sessions (the one that kept failing, the one near compaction...).
"""

from __future__ import annotations

import sys

from llm_session_manager import config, paths
from llm_session_manager.service import collect


def main() -> int:
    p = paths.resolve()
    result = collect(p, config.load(p.config_file))
    views = sorted(result.views, key=lambda v: v.health.score)[:30]
    if not views:
        print("No sessions found.")
        return 0
    for v in views:
        h = v.health
        print(
            f"{v.session.id}  {h.score:.0f} {h.status}{' (estimated)' if h.estimated else ''}  [{v.status}]"
        )
        for f in h.factors:
            print(f"    {f.name:<9} {f.score:5.1f} x {f.weight:.0%}  {f.reason}")
        for cap in h.caps:
            print(f"    capped: {cap}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
