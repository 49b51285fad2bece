"""The layers contract (pyproject [tool.importlinter], checked by lint-imports in run_all_tests.sh) names
every top-level module of the package, so a new module cannot escape it unnoticed."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # import-linter brings tomli on Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "llm_session_manager"


def _contracts() -> dict[str, dict[str, object]]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    return {c["id"]: c for c in config["contracts"]}


def _top_level_modules() -> set[str]:
    names = {p.stem for p in PACKAGE.glob("*.py") if p.stem not in ("__init__", "__main__")}
    names |= {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    return {f"llm_session_manager.{name}" for name in names}


def _layered() -> set[str]:
    layers = _contracts()["layers"]["layers"]
    assert isinstance(layers, list)
    return {name.strip() for layer in layers for name in layer.split("|")}


def test_every_module_is_a_front_end_the_api_or_a_checked_service() -> None:
    services = set(_contracts()["services"]["source_modules"])  # type: ignore[arg-type]
    unclassified = _top_level_modules() - _layered() - services
    assert not unclassified, f"add to the services contract in pyproject.toml: {sorted(unclassified)}"
    assert not _layered() & services


def test_typer_and_rich_contracts_cover_every_service() -> None:
    contracts = _contracts()
    services = set(contracts["services"]["source_modules"])  # type: ignore[arg-type]
    assert services <= set(contracts["typer"]["source_modules"])  # type: ignore[arg-type]
    assert services <= set(contracts["rich"]["source_modules"])  # type: ignore[arg-type]
    assert "llm_session_manager.cli" not in set(contracts["typer"]["source_modules"])  # type: ignore[arg-type]


def test_the_contract_catches_a_service_importing_the_cli(tmp_path: Path) -> None:
    """The services contract is not vacuous: the same configuration over a copy of the package in which
    one service imports the CLI is broken."""
    import shutil
    import subprocess

    copy = tmp_path / "llm_session_manager"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    timefmt = copy / "timefmt.py"
    timefmt.write_text(timefmt.read_text() + "\nfrom llm_session_manager.cli import common as _bad  # noqa\n")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    lint = Path(sys.executable).parent / "lint-imports"
    run = subprocess.run(
        [str(lint), "--no-logo", "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path)},
    )
    assert run.returncode != 0
    assert "llm_session_manager.timefmt -> llm_session_manager.cli" in run.stdout
