"""Start a command detached from our process tree, print its pid once it is ready, and exit.

The command is started in a new session; once this launcher exits it is re-parented (to init or a
subreaper), so it is neither a descendant nor an ancestor of whoever ran the launcher.
Usage: ``python detach.py <cwd> <argv...>`` — the command must print one line when ready.
"""

import subprocess
import sys

child = subprocess.Popen(
    sys.argv[2:],
    cwd=sys.argv[1],
    stdin=subprocess.DEVNULL,
    stdout=subprocess.PIPE,
    stderr=subprocess.DEVNULL,
    start_new_session=True,
    text=True,
)
assert child.stdout is not None
child.stdout.readline()
print(child.pid, flush=True)
