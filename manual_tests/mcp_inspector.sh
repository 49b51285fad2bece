#!/usr/bin/env bash
# A third-party MCP client against lsm: the MCP Inspector CLI (npm @modelcontextprotocol/inspector).
#
# It starts `python -m llm_session_manager mcp-server` (and `mcp-session-server`) in a throw-away fake HOME
# holding the test fixtures, and runs the Inspector's CLI mode against it: tools/list, a tool call, an
# unknown tool (the Inspector must exit non-zero), resources, templates, a templated resource, prompts;
# then it writes a Claude Desktop config with `lsm mcp-config --write` and has the Inspector start the
# server FROM THAT FILE (`--config … --server llm-session-manager`), which checks the entry we generate.
#
#   manual_tests/mcp_inspector.sh                 # an installed mcp-inspector (PATH or ./node_modules),
#                                                 # else `npx -y @modelcontextprotocol/inspector@2.12.0`
#   INSPECTOR=/path/to/node_modules/.bin/mcp-inspector manual_tests/mcp_inspector.sh
#   LSM_PYTHON=/path/to/venv/bin/python manual_tests/mcp_inspector.sh
#
# Needs node (>= 20; the Inspector asks for 22.19 but works on 20 with a warning) and network access to
# npm the first time. Prints one line per check and exits non-zero on the first failure.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
PY="${LSM_PYTHON:-$REPO/.venv/bin/python}"
export MCP_INSPECTOR_SECRET_STORE=memory   # no keychain prompts or warnings
# Resolved here, before HOME and the working directory change: an installed copy (on PATH, or in the
# node_modules of the current folder) or npx's; npm keeps using the real user's cache.
export npm_config_cache="${npm_config_cache:-$(npm config get cache)}"
if [[ -z "${INSPECTOR:-}" ]]; then
  if command -v mcp-inspector >/dev/null 2>&1; then
    INSPECTOR="$(command -v mcp-inspector)"
  elif [[ -x "$(npm prefix)/node_modules/.bin/mcp-inspector" ]]; then
    INSPECTOR="$(npm prefix)/node_modules/.bin/mcp-inspector"
  else
    INSPECTOR="npx -y @modelcontextprotocol/inspector@2.12.0"
  fi
fi
echo "inspector: $INSPECTOR ($($INSPECTOR --version 2>/dev/null | tail -1))"
echo "python:    $PY"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
export HOME="$WORK/home"
export LSM_HOME="$WORK/lsm-data"
export LSM_DISCOVERY=off
unset LSM_CONFIG XDG_CONFIG_HOME XDG_DATA_HOME CLAUDE_CONFIG_DIR
mkdir -p "$HOME"
"$PY" - "$REPO" "$HOME" <<'PYEOF'
import sys
from pathlib import Path
sys.path.insert(0, str(Path(sys.argv[1]) / "tests"))
from conftest import install_fixtures
install_fixtures(Path(sys.argv[2]) / ".claude" / "projects")
PYEOF
cd "$WORK"

SERVER=(-e "HOME=$HOME" -e "LSM_HOME=$LSM_HOME" -e LSM_DISCOVERY=off "$PY" -m llm_session_manager mcp-server)
OUT="$WORK/out.json"
failures=0

# check NAME PYTHON-EXPRESSION-ON-`d` -- INSPECTOR ARGS…: run, parse the JSON output as d, test it.
check() {
  local name="$1" expr="$2"; shift 3
  local rc=0
  $INSPECTOR --cli "$@" >"$OUT" 2>"$WORK/err.txt" || rc=$?
  if [[ $rc -ne 0 ]]; then
    echo "FAIL  $name: exit $rc"; cat "$OUT" "$WORK/err.txt" | head -20; failures=$((failures + 1)); return
  fi
  if "$PY" -c "import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if ($expr) else 1)" "$OUT"; then
    echo "ok    $name"
  else
    echo "FAIL  $name: $expr"; head -c 1500 "$OUT"; echo; failures=$((failures + 1))
  fi
}

# refused NAME TEXT -- INSPECTOR ARGS…: the Inspector must exit non-zero (it does, with 5, on an unknown
# tool and on a tool result with isError) and its output must hold TEXT.
refused() {
  local name="$1" text="$2"; shift 3
  local rc=0
  $INSPECTOR --cli "$@" >"$OUT" 2>&1 || rc=$?
  if [[ $rc -ne 0 ]] && grep -qF -- "$text" "$OUT"; then
    echo "ok    $name: exit $rc"
  else
    echo "FAIL  $name: exit $rc, expected non-zero and '$text'"; head -c 1500 "$OUT"; echo
    failures=$((failures + 1))
  fi
}

TOOLS="['list_sessions','get_session','get_health','recommend','export_session','search_memory','tag_session','untag_session','describe_session','set_project','add_memory']"
check "tools/list" "[t['name'] for t in d['tools']] == $TOOLS and all(t.get('outputSchema') for t in d['tools'])" -- \
  "${SERVER[@]}" --method tools/list
check "tools/call list_sessions" "d['structuredContent']['count'] == 5" -- \
  "${SERVER[@]}" --method tools/call --tool-name list_sessions --tool-arg all_sessions=true
check "tools/call get_session (prefix)" "d['structuredContent']['tokens']['total'] == 306073" -- \
  "${SERVER[@]}" --method tools/call --tool-name get_session --tool-arg session_id=88a8
check "tools/call export_session markdown" "d['structuredContent']['content'].startswith('# Session hand-off')" -- \
  "${SERVER[@]}" --method tools/call --tool-name export_session --tool-arg session_id=repr format=markdown
refused "an unknown session id is a tool error" "Error executing tool get_health: no session matches 'zzz'" -- \
  "${SERVER[@]}" --method tools/call --tool-name get_health --tool-arg session_id=zzz
refused "there is no close_session tool (nothing destructive)" "Tool 'close_session' not found" -- \
  "${SERVER[@]}" --method tools/call --tool-name close_session --tool-arg session_id=88a8
check "resources/list" "[r['uri'] for r in d['resources']] == ['sessions://list','sessions://recent','recommendations://current','memory://stats','config://current']" -- \
  "${SERVER[@]}" --method resources/list
check "resources/templates/list" "[t['uriTemplate'] for t in d['resourceTemplates']] == ['sessions://{session_id}','sessions://{session_id}/health']" -- \
  "${SERVER[@]}" --method resources/templates/list
check "resources/read sessions://88a8/health" "json.loads(d['contents'][0]['text'])['score'] == 69.0" -- \
  "${SERVER[@]}" --method resources/read --uri "sessions://88a8/health"
check "prompts/list" "[p['name'] for p in d['prompts']] == ['pick_session','review_health','handoff','find_past_work']" -- \
  "${SERVER[@]}" --method prompts/list
check "prompts/get handoff" "'Session hand-off' in d['messages'][0]['content']['text']" -- \
  "${SERVER[@]}" --method prompts/get --prompt-name handoff --prompt-args session_id=repr

# The per-session server.
check "mcp-session-server tools/list" "[t['name'] for t in d['tools']][:5] == ['get_metrics','get_session','get_health','git_status','files_touched']" -- \
  -e "HOME=$HOME" -e "LSM_HOME=$LSM_HOME" -e LSM_DISCOVERY=off "$PY" -m llm_session_manager mcp-session-server 88a8 --method tools/list
check "mcp-session-server git_status (not on this machine)" "d['structuredContent']['repo'] is False" -- \
  -e "HOME=$HOME" -e "LSM_HOME=$LSM_HOME" -e LSM_DISCOVERY=off "$PY" -m llm_session_manager mcp-session-server 88a8 \
  --method tools/call --tool-name git_status

# The config `lsm mcp-config --write` produces, used as it is by a client.
"$PY" -m llm_session_manager mcp-config --client claude-desktop --write >/dev/null 2>"$WORK/write.txt"
CONFIG="$HOME/.config/Claude/claude_desktop_config.json"
[[ "$(uname)" == "Darwin" ]] && CONFIG="$HOME/Library/Application Support/Claude/claude_desktop_config.json"
echo "wrote     $CONFIG: $(tr '\n' ' ' <"$WORK/write.txt")"
check "--config (written by lsm mcp-config) tools/list" "len(d['tools']) == 11" -- \
  --config "$CONFIG" --server llm-session-manager --method tools/list
check "--config (written by lsm mcp-config) tools/call" "d['structuredContent']['count'] == 5" -- \
  --config "$CONFIG" --server llm-session-manager --method tools/call --tool-name list_sessions --tool-arg all_sessions=true

if [[ $failures -ne 0 ]]; then echo "$failures check(s) failed"; exit 1; fi
echo "all checks passed"
