"""Agents are data: each module declares one AgentInfo, the registry names the module, and every part
of lsm (readers, listing, discovery, windows, compaction, export, editor rules) takes the agent's facts
from there. The proof: tests/toy_agent.py plus one registry entry is a new agent everywhere."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from llm_session_manager import agents, config, discovery, service
from llm_session_manager.agents import agent_info, agent_names, all_readers, editor_hosted
from llm_session_manager.agents.base import AgentInfo, ReaderSetup
from llm_session_manager.compaction import CLAUDE_CODE_COMPACT, auto_compact_point
from llm_session_manager.exporting import conversation_for
from llm_session_manager.paths import resolve
from llm_session_manager.resume import resume_command

TOY = {
    "model": "toy-model-1",
    "prompt": "Make the registry data",
    "reply": "Done.",
    "input": 12_000,
    "output": 300,
    "started": "2026-12-04T10:00:00.000Z",
    "ended": "2026-12-04T10:05:00.000Z",
}


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The toy agent registered (the one line) and one of its sessions on disk."""
    monkeypatch.setitem(agents.REGISTRY, "toy", "tests.toy_agent")
    folder = Path(os.environ["HOME"]) / ".toy" / "sessions"
    folder.mkdir(parents=True)
    (folder / "t-1.json").write_text(json.dumps(TOY), encoding="utf-8")
    return folder


def test_a_registered_agent_is_read_listed_windowed_and_exported(toy: Path) -> None:
    paths = resolve()
    assert "toy" in agent_names()
    assert [r.roots() for r in all_readers(paths) if r.name == "toy"] == [[(str(toy), True)]]
    info = agent_info("toy")
    assert info is not None and info.roots(paths) == [(str(toy), True)]
    collected = service.collect(paths, config.load(paths.config_file), processes=False)
    (view,) = [v for v in collected.views if v.session.agent == "toy"]
    session = view.session
    assert (session.id, session.title, session.tokens.input) == ("toy:t-1", TOY["prompt"], 12_000)
    # An unknown model: the agent's own window default (64k), and it compacts at half of it.
    assert (view.session.context_window, view.session.context_window_source) == (64_000, "default")
    assert view.compact_at == 32_000
    assert view.context_pct == round(100 * 12_000 / 64_000, 1)
    assert conversation_for(view.session) == [
        {"role": "user", "timestamp": TOY["started"], "text": TOY["prompt"]},
        {"role": "assistant", "timestamp": TOY["ended"], "text": TOY["reply"], "model": TOY["model"]},
    ]
    assert resume_command(session) == "toy --resume t-1"
    assert not editor_hosted("toy")


def test_discovery_knows_a_registered_agent_by_its_signature(monkeypatch: pytest.MonkeyPatch) -> None:
    argv = ["/opt/toy/bin/lsm-toy-agent", "--resume", "x"]
    assert discovery.classify("lsm-toy-agent", argv[0], argv) is None
    monkeypatch.setitem(agents.REGISTRY, "toy", "tests.toy_agent")
    assert discovery.classify("lsm-toy-agent", argv[0], argv) == "toy"
    assert discovery.classify("claude", None, ["claude"]) == "claude-code"  # the others still match


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="names a copied binary's process")
def test_scan_finds_a_running_process_of_a_registered_agent(toy: Path, tmp_path: Path) -> None:
    sleep = shutil.which("sleep")
    if sleep is None:
        pytest.skip("no sleep binary")
    program = tmp_path / "lsm-toy-agent"
    shutil.copy(sleep, program)
    proc = subprocess.Popen([str(program), "30"])
    try:
        deadline = time.monotonic() + 10
        found: list[str] = []
        while time.monotonic() < deadline and not found:
            # self_pid=-1: lsm's own descendants are left out, and the toy is this test's child.
            found = [p.agent for p in discovery.scan_processes((), self_pid=-1) if p.pid == proc.pid]
            time.sleep(0.05)
        assert found == ["toy"]
    finally:
        proc.kill()
        proc.wait()


def test_facts_of_an_unknown_agent_fall_back_to_the_defaults() -> None:
    # An imported session may name an agent this lsm does not know.
    assert agent_info("some-future-agent") is None
    assert auto_compact_point(100_000, "some-future-agent") == 90_000
    assert not editor_hosted("some-future-agent")


@pytest.mark.parametrize("name", agent_names())
def test_every_registered_module_declares_its_facts_and_reader(name: str) -> None:
    info = agent_info(name)
    assert isinstance(info, AgentInfo) and info.name == name and info.display_name
    reader = info.reader(ReaderSetup(resolve()))
    assert reader.name == name
    assert all(isinstance(root, str) for root, _exists in reader.roots())
    assert info.signature is None or info.signature.agent == name


def test_a_module_must_declare_the_agent_it_is_registered_as(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(agents.REGISTRY, "not-toy", "tests.toy_agent")
    with pytest.raises(TypeError, match=r"tests\.toy_agent must declare INFO"):
        agent_info("not-toy")


def test_agent_facts_that_were_tables_elsewhere() -> None:
    hosted = {n for n in agent_names() if editor_hosted(n)}
    assert hosted == {"cursor", "copilot", "cline"}
    compact = {n: auto_compact_point(200_000, n) for n in agent_names()}
    assert compact["claude-code"] == 167_000 and compact["gemini"] == 100_000 and compact["codex"] == 180_000
    commands = {n: i.compact_command for n in agent_names() if (i := agent_info(n)) and i.compact_command}
    assert commands == {"claude-code": "/compact", "codex": "/compact", "gemini": "/compress"}
    claude = agent_info("claude-code")
    assert claude is not None and claude.compact is CLAUDE_CODE_COMPACT  # the statusline's rule
    resume = {n: i.resume for n in agent_names() if (i := agent_info(n)) is not None and i.resume}
    assert resume == {
        "claude-code": ("claude", "--resume"),
        "codex": ("codex", "resume"),
        "gemini": ("gemini", "--resume"),
        "cursor-agent": ("cursor-agent", "--resume"),
        "copilot-cli": ("copilot", "--resume"),
    }
