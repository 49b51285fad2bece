"""A stand-in npm-style wrapper: start the real agent as a child, print its pid, wait for it.

Usage: ``<interpreter> wrapper.py <child argv...>``. The child inherits our cwd and process group,
so killing the group ends both.
"""

import subprocess
import sys

child = subprocess.Popen(sys.argv[1:], stdout=subprocess.PIPE, text=True)
assert child.stdout is not None
child.stdout.readline()  # the child's "ready"
print(child.pid, flush=True)
sys.exit(child.wait())
