"""A stand-in Electron editor (Cursor, VS Code), started through an interpreter symlink named like
the app's binary: ``…/cursor electron.py [options]``.

The main process (no ``--type``) starts its helpers, prints one JSON line
``{"helpers": [pids…], "server": pid or null}`` once every one of them is ready, and idles:

* ``--helpers N``: N children ``<app> electron.py --type=<kind>`` (renderer, gpu-process, utility,
  zygote in turn), as Chromium starts them;
* ``--ext-server PATH``: an extension host ``<app> electron.py --type=utility
  --utility-sub-type=node.mojom.NodeService --ext-server PATH`` that itself runs ``<app> PATH
  --stdio`` — an extension's language server run by the app's own binary as node, which carries no
  ``--type``;
* ``--mac-helper PATH``: a child ``PATH electron.py --type=renderer`` (a ``… Helper (Renderer)``
  binary of a macOS bundle).

A helper prints ``ready`` (the extension host ``ready <server pid>``) and idles. Every process exits
on its own after ``FAKE_AGENT_LIFETIME`` seconds (default 120).
"""

import json
import os
import subprocess
import sys
import time

KINDS = ["renderer", "gpu-process", "utility", "zygote"]
APP = sys.orig_argv[0]
SCRIPT = os.path.abspath(__file__)
ARGS = sys.argv[1:]


def option(name):
    return ARGS[ARGS.index(name) + 1] if name in ARGS else None


def start(argv):
    return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)


def idle():
    deadline = time.monotonic() + float(os.environ.get("FAKE_AGENT_LIFETIME", "120"))
    while time.monotonic() < deadline:
        time.sleep(0.2)
    sys.exit(0)


if any(arg.startswith("--type=") for arg in ARGS):
    server = option("--ext-server")
    if server is None:
        print("ready", flush=True)
    else:
        child = start([APP, server, "--stdio"])
        child.stdout.readline()
        print(f"ready {child.pid}", flush=True)
    idle()

children = [
    start([APP, SCRIPT, f"--type={KINDS[i % len(KINDS)]}"]) for i in range(int(option("--helpers") or 0))
]
mac_helper = option("--mac-helper")
if mac_helper:
    children.append(start([mac_helper, SCRIPT, "--type=renderer"]))
server_pid = None
ext_server = option("--ext-server")
if ext_server:
    host = start(
        [
            APP,
            SCRIPT,
            "--type=utility",
            "--utility-sub-type=node.mojom.NodeService",
            "--ext-server",
            ext_server,
        ]
    )
    children.append(host)
for child in children:
    line = child.stdout.readline().split()
    if len(line) == 2:
        server_pid = int(line[1])
print(json.dumps({"helpers": [c.pid for c in children], "server": server_pid}), flush=True)
idle()
