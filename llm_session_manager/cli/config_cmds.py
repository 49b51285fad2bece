"""Configuration commands: init-config, show-config."""

from __future__ import annotations

import sys

import typer

from llm_session_manager import config as config_mod
from llm_session_manager.cli.common import check_format, load_env, print_json, say
from llm_session_manager.errors import UsageError
from llm_session_manager.paths import resolve


def init_config(force: bool = typer.Option(False, "--force", help="Overwrite an existing file.")) -> None:
    """Write a commented default config file."""
    paths = resolve()
    if paths.config_file.exists() and not force:
        # Validate what is there so the user learns about problems now.
        config_mod.load(paths.config_file)
        raise UsageError(f"{paths.config_file} already exists; use --force to replace it")
    config_mod.write_default(paths.config_file, force=force)
    say(f"wrote {paths.config_file}")


def show_config(fmt: str = typer.Option("yaml", "--format", "-f", help="yaml or json.")) -> None:
    """Print the effective configuration (defaults merged with your file; secrets masked)."""
    fmt = check_format(fmt, ("yaml", "json"))
    from llm_session_manager.api.settings import config_document

    doc = config_document(load_env())
    source, cfg = doc["source"], doc["config"]
    if fmt == "json":
        print_json(doc)
        return
    import yaml

    sys.stdout.write(f"# effective configuration; source: {source}\n")
    sys.stdout.write(yaml.safe_dump(cfg, sort_keys=False, default_flow_style=False))


def register(app: typer.Typer) -> None:
    app.command("init-config")(init_config)
    app.command("show-config")(show_config)
