#!/usr/bin/env bash
# The shape of Cursor's ~/.local/share/cursor-agent/versions/<ver>/cursor-agent wrapper: run the
# bundled node on index.js with argv[0] set to however the wrapper was called. (The real one adds
# --use-system-ca when its node supports it.)
set -euo pipefail
SCRIPT_DIR="$(dirname "$(realpath "$0")")"
NODE_BIN="$SCRIPT_DIR/node"
exec -a "$0" "$NODE_BIN" "$SCRIPT_DIR/index.js" "$@"
