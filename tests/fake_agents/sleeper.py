"""A stand-in agent process: say "ready", then sleep until killed (or give up after a while).

Started through an interpreter symlink named like an agent (``…/bin/claude sleeper.py …``) so that
its argv looks like the real thing. Arguments are ignored, except ``--hold PATH`` (repeatable):
open PATH for appending and keep it open, as a live Codex process holds its rollout file. It exits
on its own after ``FAKE_AGENT_LIFETIME`` seconds (default 120) so a crashed test run leaves nothing
behind for long.
"""

import os
import sys
import time

held = []
args = sys.argv[1:]
for i, arg in enumerate(args[:-1]):
    if arg == "--hold":
        held.append(open(args[i + 1], "a"))  # noqa: SIM115 - kept open on purpose

print("ready", flush=True)
deadline = time.monotonic() + float(os.environ.get("FAKE_AGENT_LIFETIME", "120"))
while time.monotonic() < deadline:
    time.sleep(0.2)
sys.exit(0)
