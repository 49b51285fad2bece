"""A stand-in agent process: say "ready", then sleep until killed (or give up after a while).

Started through an interpreter symlink named like an agent (``…/bin/claude sleeper.py …``) so that
its argv looks like the real thing. Extra arguments are ignored. It exits on its own after
``FAKE_AGENT_LIFETIME`` seconds (default 120) so a crashed test run leaves nothing behind for long.
"""

import os
import sys
import time

print("ready", flush=True)
deadline = time.monotonic() + float(os.environ.get("FAKE_AGENT_LIFETIME", "120"))
while time.monotonic() < deadline:
    time.sleep(0.2)
sys.exit(0)
