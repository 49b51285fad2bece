"""Shell completion through typer's real protocol: the shell sets _LSM_COMPLETE (complete_bash with
COMP_WORDS/COMP_CWORD; complete_zsh and complete_fish with _TYPER_COMPLETE_ARGS) and runs `lsm`, which
prints the choices. Session ids and tags come from the database lsm last wrote, with no scan; a
missing or broken database offers nothing and never fails."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import FakeHome

FULL = "88a8d761-7b9a-4bf1-a8ca-c1febe6bf358"


def complete(fh: FakeHome, shell: str, line: str, **extra: str) -> subprocess.CompletedProcess[str]:
    """What `lsm` answers when ``shell`` asks for completions of ``line`` (the cursor at its end)."""
    if shell == "bash":
        words = line.split() + ([""] if line.endswith(" ") else [])
        env = {"COMP_WORDS": " ".join(words), "COMP_CWORD": str(len(words) - 1)}
    else:
        env = {"_TYPER_COMPLETE_ARGS": line}
        if shell == "fish":
            env["_TYPER_COMPLETE_FISH_ACTION"] = "get-args"
    return fh.run(**{"_LSM_COMPLETE": f"complete_{shell}", **env, **extra})


@pytest.fixture
def listed(fake_home: FakeHome) -> FakeHome:
    """A HOME where `lsm list` has run once (so the database knows the sessions) and one is tagged."""
    assert fake_home.run("list", "--all").returncode == 0
    assert fake_home.run("tag", "88a8d761", "backend", "bugfix").returncode == 0
    return fake_home


def test_bash_completes_a_session_id_prefix(listed: FakeHome) -> None:
    r = complete(listed, "bash", "lsm health 88")
    assert (r.returncode, r.stdout.split(), r.stderr) == (0, [FULL], "")
    # Every command taking a session id completes it.
    for command in ("tag", "untag", "describe", "set-project", "reopen", "export", "auto-tag"):
        assert complete(listed, "bash", f"lsm {command} 88").stdout.split() == [FULL], command


def test_full_ids_when_an_agent_is_typed(listed: FakeHome) -> None:
    out = complete(listed, "bash", "lsm health claude-code:88").stdout.split()
    assert out == [f"claude-code:{FULL}"]
    every = complete(listed, "bash", "lsm health claude-code:").stdout.split()
    assert len(every) == 5 and all(x.startswith("claude-code:") for x in every)


def test_the_completed_id_is_accepted(listed: FakeHome) -> None:
    (choice,) = complete(listed, "bash", "lsm health ses_").stdout.split()
    r = listed.run("health", choice, "--format", "json")
    assert r.returncode == 0 and json.loads(r.stdout)["id"] == f"claude-code:{choice}"


def test_zsh_and_fish_show_the_title(listed: FakeHome) -> None:
    zsh = complete(listed, "zsh", "lsm tag ses")
    assert zsh.returncode == 0, zsh.stderr
    assert (
        zsh.stdout.startswith("_arguments '*: :((")
        and '"ses_stage0_small":"Stage0 small fixture"' in zsh.stdout
    )
    fish = complete(listed, "fish", "lsm export ses_")
    assert fish.stdout.splitlines() == ["ses_stage0_small\tStage0 small fixture"]


def test_tags_complete_for_tag_options_and_untag(listed: FakeHome) -> None:
    assert complete(listed, "bash", "lsm list --tag b").stdout.split() == ["backend", "bugfix"]
    assert complete(listed, "bash", "lsm list --tag bu").stdout.split() == ["bugfix"]
    assert complete(listed, "bash", "lsm untag 88a8 ").stdout.split() == ["backend", "bugfix"]
    assert complete(listed, "bash", "lsm tag-stats --tag ba").stdout.split() == ["backend"]


def test_command_names_and_options_still_complete(listed: FakeHome) -> None:
    assert complete(listed, "bash", "lsm hea").stdout.split() == ["health"]
    assert "--format" in complete(listed, "bash", "lsm health --f").stdout.split()


def test_no_database_yet_offers_nothing_and_creates_nothing(fake_home: FakeHome) -> None:
    r = complete(fake_home, "bash", "lsm health 88")
    assert (r.returncode, r.stdout.strip(), r.stderr) == (0, "", "")
    assert not fake_home.lsm_home.exists()  # completion reads; it never scans or creates the store


@pytest.mark.parametrize("damage", ["garbage", "empty-schema", "locked-dir"])
def test_a_broken_store_offers_nothing_and_never_fails(listed: FakeHome, damage: str) -> None:
    db = listed.lsm_home / "lsm.db"
    for side in (db.with_name("lsm.db-wal"), db.with_name("lsm.db-shm")):
        side.unlink(missing_ok=True)
    if damage == "garbage":
        db.write_bytes(b"this is not a database" * 100)
    elif damage == "empty-schema":
        db.unlink()
        import sqlite3

        sqlite3.connect(db).close()  # a database with none of lsm's tables
    else:
        db.unlink()
        db.mkdir()  # not even a file
    for line in ("lsm health 88", "lsm list --tag b"):
        r = complete(listed, "bash", line)
        assert (r.returncode, r.stdout.strip(), r.stderr) == (0, "", ""), (damage, line)


def test_markup_and_control_characters_in_titles_are_harmless(fake_home: FakeHome) -> None:
    project = fake_home.projects / "-tmp"
    text = (project / "ses_stage0_small.jsonl").read_text(encoding="utf-8")
    assert "Stage0 small fixture" in text
    hostile = text.replace("Stage0 small fixture", "[/INST] [bold]x \\u001b]0;pwned\\u0007 fix")
    (project / "ses_stage0_small.jsonl").write_text(hostile, encoding="utf-8")
    assert fake_home.run("list", "--all").returncode == 0
    for shell in ("zsh", "fish"):
        r = complete(fake_home, shell, "lsm health ses_")
        assert r.returncode == 0 and r.stderr == "", r.stderr
        assert "ses_stage0_small" in r.stdout and "\x1b" not in r.stdout and "\x07" not in r.stdout
        assert "[/INST]" in r.stdout  # shown as typed, not read as markup


def test_completion_loads_only_the_commands_module(listed: FakeHome) -> None:
    code = (
        "import sys\n"
        "from llm_session_manager import cli\n"
        "try:\n"
        "    cli.main([])\n"
        "except SystemExit:\n"
        "    pass\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('llm_session_manager.cli.'))\n"
        "print(' '.join(loaded))\n"
    )
    env = listed.env(_LSM_COMPLETE="complete_bash", COMP_WORDS="lsm health 88", COMP_CWORD="2")
    r = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    first, loaded = r.stdout.strip().splitlines()[-2:]
    assert first == FULL
    assert "llm_session_manager.cli.sessions" in loaded.split()
    assert "llm_session_manager.cli.organise" not in loaded.split()  # not every command's module


# Typer guesses the shell from the parent processes and then ignores the one named after the option;
# this makes it read the name instead, so the tests do not depend on what started them.
NAMED_SHELL = {"_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}


def test_show_and_install_completion(fake_home: FakeHome) -> None:
    shown = fake_home.run("--show-completion", "bash", **NAMED_SHELL)
    assert shown.returncode == 0 and "_LSM_COMPLETE=complete_bash" in shown.stdout
    installed = fake_home.run("--install-completion", "bash", SHELL="/bin/bash", **NAMED_SHELL)
    assert installed.returncode == 0, installed.stderr
    script = fake_home.home / ".bash_completions" / "lsm.sh"
    assert script.is_file() and "_LSM_COMPLETE" in script.read_text()
    assert str(script) in (fake_home.home / ".bashrc").read_text()
    for shell in ("zsh", "fish"):
        assert "_LSM_COMPLETE" in fake_home.run("--show-completion", shell, **NAMED_SHELL).stdout


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_a_real_bash_completes_through_the_installed_script(listed: FakeHome) -> None:
    script = listed.run("--show-completion", "bash", **NAMED_SHELL).stdout
    bin_dir = Path(sys.executable).parent  # the venv's `lsm`
    assert (bin_dir / "lsm").exists()
    driver = (
        script + '\nCOMP_WORDS=(lsm health 88); COMP_CWORD=2; _lsm_completion lsm; echo "${COMPREPLY[@]}"\n'
    )
    env = listed.env(PATH=f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")
    r = subprocess.run(["bash", "--norc", "-c", driver], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == [FULL]
