#!/usr/bin/env bash
# Installs the pinned agent CLIs the capture harness runs, into a cache folder (idempotent).
# Needs the npm registry and PyPI; nothing else. Prints the folder's bin paths when done.
#   AGENTS_CACHE   where to install (default: ~/.cache/lsm-real-agents)
set -euo pipefail
CACHE="${AGENTS_CACHE:-$HOME/.cache/lsm-real-agents}"
# The versions the committed fixtures were captured with; bump one, re-run capture, diff the fixtures.
NPM_PACKAGES=(
    "@anthropic-ai/claude-code@2.1.197"
    "@openai/codex@0.171.0"
    "@google/gemini-cli@0.61.0"
    "@github/copilot@1.0.102"
)
AIDER="aider-chat==0.86.2"

mkdir -p "$CACHE/npm"
for spec in "${NPM_PACKAGES[@]}"; do
    name="${spec%@*}"
    want="${spec##*@}"
    have=$(node -e "try{console.log(require('$CACHE/npm/node_modules/$name/package.json').version)}catch(e){}" 2>/dev/null || true)
    if [ "$have" != "$want" ]; then
        echo "installing $spec" >&2
        npm install --prefix "$CACHE/npm" --no-audit --no-fund --loglevel=error "$spec" >&2
    fi
done

if [ ! -x "$CACHE/aider/bin/aider" ] || ! "$CACHE/aider/bin/python" -m pip show aider-chat 2>/dev/null | grep -qx "Version: ${AIDER#*==}"; then
    echo "installing $AIDER" >&2
    python3 -m venv "$CACHE/aider"
    "$CACHE/aider/bin/python" -m pip install --quiet --upgrade pip >&2
    "$CACHE/aider/bin/python" -m pip install --quiet "$AIDER" >&2
fi

echo "$CACHE/npm/node_modules/.bin"
echo "$CACHE/aider/bin"
