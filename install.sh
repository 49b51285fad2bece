#!/usr/bin/env bash
# Installs lsm from this checkout into its own virtual environment and puts `lsm` on your PATH.
# Works with a distribution's Python that refuses `pip install` (PEP 668 "externally-managed-environment"):
# nothing is installed into the system Python.
#   PYTHON    the interpreter to use (default python3; 3.10 or newer)
#   LSM_VENV  where the environment goes (default ~/.local/share/lsm/venv)
#   LSM_BIN   where the `lsm` and `llm-session-manager` links go (default ~/.local/bin)
# Extra arguments are pip requirement extras, e.g. `./install.sh offline` for the offline memory model.
set -euo pipefail
cd "$(dirname "$0")"
PYTHON="${PYTHON:-python3}"
VENV="${LSM_VENV:-$HOME/.local/share/lsm/venv}"
BIN="${LSM_BIN:-$HOME/.local/bin}"

if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 10))' 2>/dev/null; then
    echo "install.sh: $PYTHON is missing or older than Python 3.10" >&2
    exit 1
fi
if [ ! -x "$VENV/bin/python" ]; then
    if ! "$PYTHON" -m venv "$VENV" >/dev/null 2>&1; then
        rm -rf "$VENV"
        echo "install.sh: '$PYTHON -m venv' failed; on Debian/Ubuntu install it with: sudo apt install python3-venv" >&2
        exit 1
    fi
fi
spec="."
if [ "$#" -gt 0 ]; then
    spec=".[$(IFS=,; echo "$*")]"
fi
"$VENV/bin/python" -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
"$VENV/bin/python" -m pip install --quiet "$spec"
mkdir -p "$BIN"
for name in lsm llm-session-manager; do
    ln -sf "$VENV/bin/$name" "$BIN/$name"
done
case ":$PATH:" in
    *":$BIN:"*) ;;
    *) echo "install.sh: add $BIN to your PATH to run lsm by name (it is installed as $BIN/lsm)" >&2 ;;
esac
echo "$BIN/lsm"
