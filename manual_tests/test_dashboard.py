"""Manual check of the live dashboard (`lsm monitor`) on YOUR machine and YOUR terminal (read-only).

Run:  python manual_tests/test_dashboard.py [--frame] [--width 160 --height 40] [--interval 2]

Without ``--frame``: prints a checklist, runs `lsm monitor` in this terminal, and when you quit it, checks
that the terminal settings are exactly what they were (``stty -g`` before and after) and asks you, item by
item, whether the dashboard did what the checklist says. Things worth trying while it runs:

* start or resume an agent (claude, codex, gemini...) in another terminal: its row appears within a
  refresh or two; let it work: tokens, context and burn grow; stop it: the row leaves the "running" view;
* a Claude Code session asking for a permission shows "(waiting)";
* resize the window, make it very narrow, then wide again: the screen is laid out anew each time;
* Ctrl-C instead of q: the terminal must be just as clean (exit status 130);
* tmux/screen, a light and a dark theme, a terminal without colours (``NO_COLOR=1``).

With ``--frame``: prints one frame of the dashboard for this machine, at the given size, without the live
loop, so it can be pasted into a bug report.

It only reads what `lsm list` reads (and lsm's own cache); nothing else is written.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

CHECKLIST = (
    "the header shows the time, the running sessions, today's tokens and cost, and the burn rate",
    "every running agent session you know of is in the table, and nothing that is not yours",
    "j/k and the arrow keys move the '>' marker; the detail pane follows the selection",
    "Enter hides and shows the detail pane (health factors with reasons, errors, advice, transcript)",
    "s walks through the sorts (the sorted column has an arrow); a switches running / all sessions",
    "h or ? shows the help; h, ? or Esc closes it",
    "r refreshes at once ('refreshed at ...'); keys never wait for a refresh",
    "after q the prompt came back where it was, with nothing of the dashboard left on screen",
)


def stty() -> str | None:
    try:
        return subprocess.run(["stty", "-g"], capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def print_frame(width: int, height: int) -> int:
    from rich.console import Console

    from llm_session_manager import config, paths
    from llm_session_manager.tui.render import ViewState, render
    from llm_session_manager.tui.snapshot import Refresher

    p = paths.resolve()
    cfg = config.load(p.config_file)
    refresher = Refresher(p, cfg)
    try:
        snapshot = refresher.refresh()
    finally:
        refresher.close()
    for state in (ViewState(), ViewState(scope="all")):
        Console(width=width, height=height, color_system=None).print(render(snapshot, state))
        print("-" * width)
    return 0


def run_live(interval: float) -> int:
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("run this in a terminal (or use --frame)")
        return 2
    print("Checklist; quit the dashboard with q when you have tried it all:")
    for i, item in enumerate(CHECKLIST, 1):
        print(f"  {i}. {item}")
    input("Press Enter to start `lsm monitor`... ")
    before = stty()
    cmd = [sys.executable, "-m", "llm_session_manager", "monitor", "--interval", str(interval)]
    code = subprocess.call(cmd, env=os.environ.copy())
    after = stty()
    print(f"`lsm monitor` exited with status {code} (0 after q, 130 after Ctrl-C)")
    if before is not None:
        print("terminal settings: " + ("restored" if before == after else f"CHANGED: {before} -> {after}"))
    failed = []
    for i, item in enumerate(CHECKLIST, 1):
        answer = input(f"{i}. {item}? [Y/n] ").strip().lower()
        if answer.startswith("n"):
            failed.append(item)
    if failed or (before is not None and before != after):
        print("\nPlease report (with `python manual_tests/test_dashboard.py --frame` output):")
        for item in failed:
            print(f"  - not as described: {item}")
        return 1
    print("\nAll good.")
    return 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--frame", action="store_true", help="print one frame and exit")
    ap.add_argument("--width", type=int, default=160)
    ap.add_argument("--height", type=int, default=40)
    ap.add_argument("--interval", type=float, default=2.0)
    args = ap.parse_args()
    if args.frame:
        return print_frame(args.width, args.height)
    return run_live(args.interval)


if __name__ == "__main__":
    sys.exit(main())
