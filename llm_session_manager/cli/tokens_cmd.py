"""`lsm tokens`: count the tokens of files or a project, and what sending them as input would cost."""

from __future__ import annotations

from typing import Any

import typer

from llm_session_manager.cli.common import FORMAT_HELP, Env, check_format, emit, load_env, warn
from llm_session_manager.errors import StoreError, UsageError

DEFAULT_MODEL = "claude-sonnet-4-5"


def tokens_cmd(
    paths: list[str] = typer.Argument(None, help="Files or directories (default: the current directory)."),
    model: str = typer.Option(DEFAULT_MODEL, "--model", "-m", help="Model whose input price gives the cost."),
    encoding: str = typer.Option(
        "o200k_base", "--encoding", help="tiktoken encoding: o200k_base, cl100k_base."
    ),
    by_file: bool = typer.Option(False, "--by-file", help="One row per file, not per top-level directory."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Recount every file; the cache is not used."),
    fmt: str = typer.Option("table", "--format", "-f", help=FORMAT_HELP),
) -> None:
    """Count tokens of files or a project (git-tracked files in a repository), with the input cost."""
    from llm_session_manager.tokens import ENCODINGS, count_paths

    fmt = check_format(fmt)
    if encoding not in ENCODINGS:
        raise UsageError(f"--encoding: unknown encoding '{encoding}' (one of {', '.join(ENCODINGS)})")
    env = load_env()
    price = _input_price(env, model)
    conn = None if no_cache else _open_cache(env)
    try:
        result = count_paths(paths or ["."], conn, encoding)
    finally:
        if conn is not None:
            conn.close()
    report = tokens_json(result, model, price)
    if fmt != "table":
        emit(fmt, report)
        return
    _print_table(report, by_file)


def _input_price(env: Env, model: str) -> float | None:
    """USD per million input tokens for ``model`` (None: the model is known but has no price)."""
    from llm_session_manager.pricing import ModelTable

    info = ModelTable(env.config.get("models")).lookup(model)
    if info is None:
        raise UsageError(
            f"--model: unknown model '{model}' (add its prices under 'models:' in {env.paths.config_file})"
        )
    return info.input


def _open_cache(env: Env) -> Any:
    """The lsm database, or None (with a warning) when it cannot be opened: counting still works."""
    from llm_session_manager.store import db

    try:
        return db.connect(env.paths.db_file)
    except StoreError as exc:
        warn(f"{exc}; counting without the cache")
        return None


def tokens_json(result: Any, model: str, price: float | None) -> dict[str, Any]:
    """The JSON report of a ``ProjectCount``."""
    total = result.tokens
    return {
        "paths": result.paths,
        "encoding": result.encoding,
        "files": len(result.files),
        "skipped": [{"path": s.path, "reason": s.reason} for s in result.skipped],
        "tokens": total,
        "by_dir": [{"path": g, "files": n, "tokens": t} for g, n, t in result.by_group()],
        "by_file": [{"path": f.path, "tokens": f.tokens} for f in sorted(result.files, key=lambda f: f.path)],
        "cost_usd": {
            "model": model,
            "input_usd": None if price is None else round(total * price / 1e6, 6),
            "usd_per_million": price,
        },
        "modes": result.modes,
        "cache": {"hits": result.cache_hits, "files_read": result.files_read},
    }


def _print_table(report: dict[str, Any], by_file: bool) -> None:
    from rich.text import Text

    from llm_session_manager.cli.render import SafeTable, console, markup_safe
    from llm_session_manager.present import money

    out = console()
    table = SafeTable(box=None, header_style="bold", pad_edge=False)
    table.add_column("FILE" if by_file else "PATH")
    if not by_file:
        table.add_column("FILES", justify="right")
    table.add_column("TOKENS", justify="right")
    table.add_column("SHARE", justify="right")
    total = report["tokens"]
    if by_file:
        rows = sorted(report["by_file"], key=lambda r: (-r["tokens"], r["path"]))
        for row in rows:
            table.add_row(row["path"], f"{row['tokens']:,}", _share(row["tokens"], total))
    else:
        for row in report["by_dir"]:
            table.add_row(row["path"], str(row["files"]), f"{row['tokens']:,}", _share(row["tokens"], total))
    table.add_section()
    total_row = [Text("total", style="bold")] + ([] if by_file else [str(report["files"])])
    table.add_row(*total_row, Text(f"{total:,}", style="bold"), "")
    out.print(table)
    cost = report["cost_usd"]
    price = "price unknown" if cost["input_usd"] is None else money(cost["input_usd"])
    out.print(
        f"{report['files']} file(s), {total:,} tokens"
        f" ({report['encoding']}; an estimate for non-OpenAI models)."
        f" As input to {markup_safe(cost['model'])}: {price}."
    )
    skipped = report["skipped"]
    if skipped:
        out.print(f"[dim]skipped {len(skipped)} file(s):[/dim]")
        for s in skipped[:10]:
            out.print(f"[dim]  {markup_safe(s['path'])}: {markup_safe(s['reason'])}[/dim]")
        if len(skipped) > 10:
            out.print(f"[dim]  … and {len(skipped) - 10} more (see --format json)[/dim]")


def _share(part: int, total: int) -> str:
    return f"{part / total * 100:.1f}%" if total else "-"


def register(app: typer.Typer) -> None:
    app.command("tokens")(tokens_cmd)
