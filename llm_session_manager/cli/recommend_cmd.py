"""`lsm recommend`: what to do about the sessions on this machine (the rules: ../recommend.py)."""

from __future__ import annotations

import os
from collections.abc import Sequence

import typer

from llm_session_manager.cli.common import (
    AGENT_HELP,
    FORMAT_HELP,
    check_agent,
    check_format,
    emit,
    load_env,
    warn,
)
from llm_session_manager.cli.progress import with_progress
from llm_session_manager.recommend import Recommendation

SEVERITY_STYLE = {"critical": "bold red", "warning": "yellow", "info": "cyan"}
KIND_LABEL = {
    "restart": "restart",
    "close_idle": "close idle",
    "merge": "merge",
    "usage_warning": "usage warning",
}


def recommend_cmd(
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
    agent: str | None = typer.Option(None, "--agent", help=f"Advice about these sessions only. {AGENT_HELP}"),
    project: str | None = typer.Option(
        None, "--project", "-p", help="Only advice about this project's sessions (name or part of its path)."
    ),
) -> None:
    """Recommend what to do: restart or compact, close idle sessions, merge look-alikes, usage warnings."""
    from llm_session_manager.api.advice import recommendations

    fmt = check_format(fmt)
    agent = check_agent(agent)
    advice = recommendations(with_progress(load_env()), agent, project)
    if advice.discovery_error:
        warn(advice.discovery_error)
    elif os.environ.get("LSM_DISCOVERY", "on").lower() in ("off", "0", "no", "false"):
        warn(
            "process discovery is off (LSM_DISCOVERY): no session counts as running,"
            " so only today's cost is checked"
        )
    recs = advice.recommendations
    if fmt != "table":
        emit(fmt, advice.documents())
        return
    from llm_session_manager.cli.render import console

    out = console()
    if not recs:
        running = sum(1 for v in advice.views if v.session.process is not None)
        out.print(f"No recommendations: {running} running session(s), nothing needs attention.")
        return
    for line in render_lines(recs):
        out.print(line, soft_wrap=True)


def render_lines(recs: Sequence[Recommendation]) -> list[object]:
    """The text form: a numbered entry per recommendation, most urgent first, with its sessions, the
    reason and the step. Lines are printed without wrapping so that commands can be copied whole."""
    from rich.text import Text

    from llm_session_manager.cli.fitted import cell

    lines: list[object] = []
    for number, rec in enumerate(recs, 1):
        head = Text(f"{number}. ")
        head.append(f"{rec.severity.upper():8}", style=SEVERITY_STYLE.get(rec.severity, ""))
        head.append(f" {KIND_LABEL.get(rec.kind, rec.kind)}", style="bold")
        head.append_text(cell(f"  {', '.join(rec.labels())}"))
        lines.append(head)
        lines.append(Text("   why: ", style="dim") + cell(rec.reason))
        lines.append(Text("   do:  ", style="dim") + cell(rec.action, style="bold"))
        lines.append(Text(""))
    counts = {s: sum(1 for r in recs if r.severity == s) for s in ("critical", "warning", "info")}
    summary = ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    lines.append(Text(f"{len(recs)} recommendation(s): {summary}.", style="dim"))
    return lines


def register(app: typer.Typer) -> None:
    app.command("recommend")(recommend_cmd)
