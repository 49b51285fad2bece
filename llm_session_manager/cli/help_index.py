"""The top-level commands as `lsm --help` lists them: each name with the first paragraph of its help, in
the order the Typer app has them.

`lsm --help` (and `lsm` alone) would otherwise import every command's module, and with them the scanner,
the memory store and the servers' options, only to print these lines: ~60 ms of its ~0.19 s. The help
is drawn from this table with rich alone (cli/root_help.py) or, when typer must draw it, by the Typer
app from stand-in commands (cli/typer_app.py). tests/test_cli_startup.py holds the table to the real
commands and the helps to each other, and prints the table anew when a command or its help changes.
"""

from __future__ import annotations

COMMANDS: tuple[tuple[str, str], ...] = (
    ("list", "List sessions: running ones and those active recently (--all for every session)."),
    ("info", "Version, every path lsm uses, agents found and their session counts, skipped lines."),
    ("health", "Show a session's health: every factor's raw value, score, weight and reason."),
    ("tag", "Add tags to a session."),
    ("untag", "Remove tags from a session."),
    ("set-project", "Give a session a project name (shown and filtered on instead of its folder name)."),
    ("describe", "Set, show or generate a session's description."),
    ("search", "Find sessions by description, title, tags and project (--content: by what was said)."),
    ("batch-tag", "Add tags to every session matching a pattern."),
    (
        "batch-close",
        "Close every session matching a pattern: mark it closed and end its agent process (SIGTERM).",
    ),
    ("reopen", "Reopen a session closed through lsm."),
    (
        "grep",
        "Search what was said in every session (prompts, replies, commands, files, errors): the short "
        "form\nof `lsm search --content`.",
    ),
    ("export", "Export a session's context to JSON, YAML or a Markdown hand-off."),
    ("import-context", "Import an exported session; it is listed with status 'imported'."),
    ("batch-export", "Export every session matching a pattern, one file each."),
    (
        "forget",
        "Remove an imported session: its document, tags, project and description. Sessions read from "
        "an\nagent's own files are never deleted by lsm.",
    ),
    (
        "auto-tag",
        "Suggest tags for a session from its project and prompts; --apply or --interactive add them.",
    ),
    (
        "tag-stats",
        "How auto-tag's suggestions fared: per tag and project type, suggested/accepted/rejected counts.",
    ),
    (
        "memory-add",
        "Save a memory from a session; prints its id (the same text for the same session is saved once).",
    ),
    (
        "memory-search",
        "Find memories by meaning (verbatim errors, paths and symbols rank first), best first.",
    ),
    ("memory-list", "List saved memories, newest first."),
    (
        "memory-stats",
        "Memory counts by session, tag, project and agent; the store's size and embedding model.",
    ),
    ("memory-delete", "Delete one memory, by its full id. Nothing else is ever removed."),
    (
        "recommend",
        "Recommend what to do: restart or compact, close idle sessions, merge look-alikes, usage warnings.",
    ),
    (
        "monitor",
        "Live dashboard of your sessions: context, tokens, cost, burn rate, health. Keys: ? for help.",
    ),
    (
        "mcp-server",
        "Serve lsm over MCP: sessions, health, recommendations, memory, export (for Claude Desktop,\nClaude "
        "Code, Cursor, VS Code). Over http every request needs the bearer token lsm keeps beside "
        "its\nconfig file (`lsm mcp-config --transport http` writes it into a client's config).",
    ),
    (
        "mcp-session-server",
        "Serve ONE session over MCP (stdio), for the agent working in it: live metrics, git state, "
        "files\ntouched and changed, memory of its project.",
    ),
    (
        "mcp-config",
        "Print (or --write) the MCP client configuration that starts this installation's server (or, "
        "with\n--transport http, connects to the running HTTP server with its bearer token).",
    ),
    ("serve", "Serve the web dashboard: live sessions, session pages, reports, limits, and /api JSON."),
    (
        "tokens",
        "Count tokens of files or a project (git-tracked files in a repository), with the input cost.",
    ),
    (
        "limits",
        "Official plan limits every agent reported (Claude Code through `lsm statusline`, Codex in its "
        "logs):\nused share of the 5 h and 7 d windows, reset, staleness and the projected time to 100%.",
    ),
    (
        "budget",
        "Can I start a big task now? Per agent: limit left, reset countdown, run-out time at the "
        "current\npace and one suggestion. Exit 0 ok, 10 near a limit (budget.near_percent), 11 a limit "
        "reached.",
    ),
    (
        "prune",
        "Forget archived sessions (those whose transcripts the agent deleted) last active before a date.",
    ),
    ("hook", "Record one hook event (JSON on stdin). Agents run this; it prints nothing and always exits 0."),
    (
        "notify",
        "Alert me when a session waits for my permission or input, finishes, fails, or is about "
        "to\nauto-compact (needs `lsm hooks install`; which alerts and how: `notify` in the config). Ctrl-C "
        "stops.",
    ),
    ("init-config", "Write a commented default config file."),
    ("show-config", "Print the effective configuration (defaults merged with your file; secrets masked)."),
    (
        "doctor",
        "Check lsm's database; with --repair, rebuild it keeping tags, projects, descriptions and imports.",
    ),
    (
        "archive",
        "The opt-in transcript archive (archive.enabled: true): compressed copies of indexed transcripts.",
    ),
    ("statusline", "Claude Code's status line: reads its JSON on stdin, records limits, prints one line."),
    (
        "report",
        "Tokens and cost per day, week, month, Claude 5-hour block or session, counted when each reply "
        "happened.",
    ),
    ("team", "Team mode: push this machine's numbers to the team's PostgreSQL, see who pushed."),
    ("hooks", "Let Claude Code, Codex and Gemini CLI push their live state to lsm through their hooks."),
)
