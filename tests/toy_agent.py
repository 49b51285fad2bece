"""A whole agent in one module, for test_agent_registry: it reads ``~/.toy/sessions/<id>.json`` files
(``{"model", "prompt", "reply", "input", "output", "started", "ended"}``) and declares its facts in
``INFO``. Registering it is one line in ``agents.REGISTRY``; nothing else in lsm names it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from llm_session_manager.agents.base import AgentInfo, AgentSignature, FileState, Identity
from llm_session_manager.agents.common import file_identity, head_of, title_from
from llm_session_manager.compaction import CompactRule
from llm_session_manager.models import ModelTokens, Session, TokenUsage
from llm_session_manager.paths import Paths
from llm_session_manager.timefmt import parse_ts

AGENT = "toy"


class ToyReader:
    name = AGENT
    parser_version = 1

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def from_paths(cls, paths: Paths) -> ToyReader:
        return cls(paths.home / ".toy" / "sessions")

    def roots(self) -> list[tuple[str, bool]]:
        return [(str(self.root), self.root.is_dir())]

    def sources(self) -> Iterable[tuple[str, str, Identity]]:
        for path in sorted(self.root.glob("*.json")):
            yield str(path), path.stem, file_identity(os.stat(path))

    def read(self, path: str, session_key: str, prior: FileState | None) -> FileState:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        identity = file_identity(os.stat(path))
        return FileState(path, session_key, identity, identity[2], head_of(path), data)

    def sessions(self, states: Sequence[FileState]) -> list[Session]:
        return [self._session(st) for st in states]

    def _session(self, st: FileState) -> Session:
        d = st.data
        return Session(
            id=f"{AGENT}:{st.session_key}",
            agent=AGENT,
            native_id=st.session_key,
            title=title_from(d["prompt"]),
            project_path=None,
            git_branch=None,
            model=d["model"],
            models=(d["model"],),
            started_at=parse_ts(d["started"]),
            last_activity=parse_ts(d["ended"]),
            tokens=TokenUsage(d["input"], d["output"]),
            context_tokens=d["input"],
            context_window=None,
            context_window_source="",
            messages_user=1,
            messages_assistant=1,
            tool_calls=0,
            tool_errors=0,
            api_errors=0,
            interruptions=0,
            compactions=0,
            skipped_lines=0,
            transcript_paths=(st.path,),
            model_usage=(ModelTokens(d["model"], d["input"], d["output"]),),
        )


def read_conversation(paths: Sequence[str], native_id: str | None = None) -> list[dict[str, Any]]:
    d = json.loads(Path(paths[0]).read_text(encoding="utf-8"))
    return [
        {"role": "user", "timestamp": d["started"], "text": d["prompt"]},
        {"role": "assistant", "timestamp": d["ended"], "text": d["reply"], "model": d["model"]},
    ]


INFO = AgentInfo(
    name=AGENT,
    display_name="Toy",
    reader=lambda setup: ToyReader.from_paths(setup.paths),
    signature=AgentSignature(agent=AGENT, programs=frozenset({"lsm-toy-agent"})),
    compact=CompactRule(share=0.5),
    default_window=64_000,
    resume=("toy", "--resume"),
    conversation=read_conversation,
)
