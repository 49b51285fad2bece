"""Auto-tagging: heuristics on real project folders, the learning system on real SQLite, and the
`auto-tag` / `tag-stats` commands through the real CLI (interactive mode on a pseudo-terminal)."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from conftest import FakeHome, run_cli_inprocess

from llm_session_manager import tagging
from llm_session_manager.agents.claude_code import encode_project_dir
from llm_session_manager.store import db
from llm_session_manager.tagging import Counts, Decision, Suggestion

# ---------------------------------------------------------------------------------------------------
# Fixture projects and sessions


def write_files(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


PYPROJECT = """\
[project]
name = "shop-api"
dependencies = ["fastapi>=0.110", "SQLAlchemy[asyncio]>=2"]

[project.optional-dependencies]
dev = ["pytest>=8"]
"""

PYTHON_PROJECT = {
    "pyproject.toml": PYPROJECT,
    "README.md": "# Shop API\n\nA FastAPI service that sells things.\n",
    "src/shop/__init__.py": "",
    "src/shop/main.py": "from fastapi import FastAPI\nfrom sqlalchemy import create_engine\napp = 1\n",
    "src/shop/models.py": "from sqlalchemy.orm import DeclarativeBase\n",
    "tests/test_main.py": "import pytest\n\nfrom shop.main import app\n",
    "Dockerfile": "FROM python:3.12\n",
    ".github/workflows/ci.yml": "on: push\n",
    # Dependencies and hidden folders are never looked at.
    "node_modules/left-pad/index.js": "module.exports = 1\n",
    ".venv/lib/site.py": "import django\n",
}

NODE_PROJECT = {
    "package.json": json.dumps(
        {
            "name": "web",
            "dependencies": {"react": "^18", "next": "14.0.0"},
            "devDependencies": {"typescript": "5", "tailwindcss": "3", "jest": "29"},
        }
    ),
    "tsconfig.json": "{}",
    "next.config.js": "module.exports = {}\n",
    "app/page.tsx": "import React from 'react'\n",
    "app/layout.tsx": "export default function Layout() {}\n",
    "components/Button.tsx": "import { useState } from 'react'\n",
}

PROMPTS = ["Fix the login bug in the JWT auth endpoint", "Also add a pytest test for it"]


def python_project(tmp_path: Path, name: str = "shop") -> Path:
    return write_files(tmp_path / name, PYTHON_PROJECT)


def add_session(fake: FakeHome, project: Path | str, sid: str, prompts: Sequence[str] = PROMPTS) -> str:
    """A Claude Code transcript whose cwd is ``project``: each prompt, then a reply. Returns the id."""
    folder = fake.projects / encode_project_dir(str(project))
    folder.mkdir(parents=True, exist_ok=True)
    lines: list[dict[str, object]] = []
    for i, prompt in enumerate(prompts):
        ts = f"2025-06-01T10:{i:02d}:00.000Z"
        base = {"sessionId": sid, "cwd": str(project), "timestamp": ts, "isSidechain": False}
        lines.append({**base, "type": "user", "message": {"role": "user", "content": prompt}})
        lines.append(
            {
                **base,
                "type": "assistant",
                "requestId": f"req_{i}",
                "message": {
                    "id": f"msg_{sid}_{i}",
                    "model": "claude-sonnet-4-5-20250929",
                    "content": [{"type": "text", "text": "Done."}],
                    "usage": {"input_tokens": 10, "output_tokens": 5},
                },
            }
        )
    (folder / f"{sid}.jsonl").write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    return f"claude-code:{sid}"


def run(fake: FakeHome, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """The real CLI in the fake HOME, with no Anthropic settings from the machine running the tests."""
    full = {k: v for k, v in fake.env(**env).items() if not (k.startswith("ANTHROPIC_") and k not in env)}
    return run_cli_inprocess(args, env=full, cwd=fake.home)


def ok(fake: FakeHome, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    r = run(fake, *args, **env)
    assert r.returncode == 0, r.stderr
    return r


def by_tag(suggestions: Sequence[Suggestion]) -> dict[str, Suggestion]:
    return {s.tag: s for s in suggestions}


def memory_db() -> sqlite3.Connection:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    db.migrate(conn)
    return conn


# ---------------------------------------------------------------------------------------------------
# Looking at projects


@pytest.mark.parametrize(
    ("files", "ptype"),
    [
        ({"pyproject.toml": PYPROJECT, "a.py": ""}, "python"),
        ({"requirements.txt": "flask\n"}, "python"),
        ({"package.json": "{}", "index.js": ""}, "node"),
        ({"Cargo.toml": "[package]\nname='x'\n", "src/main.rs": ""}, "rust"),
        ({"go.mod": "module x\n", "main.go": ""}, "go"),
        ({"Gemfile": "gem 'rails'\n"}, "ruby"),
        ({"pom.xml": "<project/>"}, "java"),
        ({"build.sh": "", "deploy.sh": ""}, "shell"),  # no manifest: the dominant language
        ({"notes.md": "", "plan.md": ""}, "docs"),
        ({"data.bin": ""}, "unknown"),
        # Two manifests at the root: the language with more files wins.
        ({"package.json": "{}", "pyproject.toml": "", "a.py": "", "b.py": "", "c.js": ""}, "python"),
        # A manifest one folder down counts when the root has none.
        ({"backend/go.mod": "module x\n", "README.md": ""}, "go"),
    ],
)
def test_project_type(tmp_path: Path, files: dict[str, str], ptype: str) -> None:
    profile = tagging.scan_project(str(write_files(tmp_path / "p", files)))
    assert profile.exists and profile.project_type == ptype


def test_missing_project_folder_gives_an_empty_profile(tmp_path: Path) -> None:
    profile = tagging.scan_project(str(tmp_path / "gone"))
    assert not profile.exists and profile.project_type == "unknown"
    assert "not on this machine" in profile.type_reason
    assert tagging.scan_project(None).type_reason == "no project folder"


def test_walk_skips_dependencies_hidden_folders_and_is_bounded(tmp_path: Path) -> None:
    from llm_session_manager.project import walk_files

    root = python_project(tmp_path)
    files = walk_files(str(root), keep_ci=True)
    assert "src/shop/main.py" in files and ".github/workflows/ci.yml" in files
    assert ".github/workflows/ci.yml" not in walk_files(str(root))  # CI folders only when asked for
    assert not any(f.startswith(("node_modules/", ".venv/")) for f in files)
    assert len(walk_files(str(root), max_files=3)) == 3
    assert walk_files(str(root), max_depth=1) == sorted(["Dockerfile", "README.md", "pyproject.toml"])
    assert set(tagging.scan_project(str(root)).files) == set(files)


def test_git_work_tree_uses_tracked_files_only(tmp_path: Path) -> None:
    root = python_project(tmp_path)
    env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    subprocess.run(["git", "init", "-q", str(root)], check=True, env=env)
    subprocess.run(["git", "-C", str(root), "add", "pyproject.toml", "src", "tests"], check=True, env=env)
    (root / "scratch.rs").write_text("fn main() {}\n")  # untracked: not part of the project
    profile = tagging.scan_project(str(root))
    assert profile.git
    assert sorted(profile.files) == [
        "pyproject.toml",
        "src/shop/__init__.py",
        "src/shop/main.py",
        "src/shop/models.py",
        "tests/test_main.py",
    ]
    assert "rust" not in by_tag(tagging.language_suggestions(profile))
    from llm_session_manager.project import git_files

    assert git_files(str(tmp_path)) is None  # not a work tree
    assert git_files(str(root / "src")) == ["shop/__init__.py", "shop/main.py", "shop/models.py"]


def test_manifest_dependencies() -> None:
    assert tagging.manifest_deps("pyproject.toml", PYPROJECT) == {"fastapi", "sqlalchemy", "pytest"}
    poetry = (
        '[tool.poetry.dependencies]\npython = "^3.11"\nDjango = "^5"\n'
        '[tool.poetry.group.dev.dependencies]\npytest = "*"\n'
    )
    assert tagging.manifest_deps("pyproject.toml", poetry) == {"django", "pytest"}
    assert tagging.manifest_deps(
        "requirements.txt", "# c\nFlask==3.0\n-r base.txt\nnumpy>=1 ; python_version>'3'\n"
    ) == {
        "flask",
        "numpy",
    }
    assert tagging.manifest_deps("package.json", NODE_PROJECT["package.json"]) == {
        "react",
        "next",
        "typescript",
        "tailwindcss",
        "jest",
    }
    assert tagging.manifest_deps(
        "Cargo.toml", '[dependencies]\ntokio = "1"\n[dev-dependencies]\naxum = "0.7"\n'
    ) == {
        "tokio",
        "axum",
    }
    gomod = "module x\n\nrequire (\n\tgithub.com/gin-gonic/gin v1.9.1\n\tgolang.org/x/sync v0.5.0\n)\n"
    assert tagging.manifest_deps("go.mod", gomod) == {"github.com/gin-gonic/gin", "golang.org/x/sync"}
    assert tagging.manifest_deps("Gemfile", "source 'x'\ngem 'rails', '~> 7'\ngem \"rspec\"\n") == {
        "rails",
        "rspec",
    }
    assert tagging.manifest_deps("pom.xml", "<artifactId>spring-boot-starter-web</artifactId>") == {
        "spring-boot-starter-web"
    }
    assert tagging.manifest_deps("package.json", "not json") == set()


def test_python_project_heuristics(tmp_path: Path) -> None:
    profile = tagging.scan_project(str(python_project(tmp_path)))
    assert profile.project_type == "python" and profile.type_reason == "pyproject.toml"
    assert profile.readme is not None and "FastAPI service" in profile.readme
    # 4 Python files (node_modules and .venv are skipped); imports counted per file.
    assert profile.imports["fastapi"] == 1 and profile.imports["sqlalchemy"] == 2
    found = by_tag(tagging.heuristic_suggestions(profile, None, []))
    # python: 4 of 4 code files -> min(0.9, 0.4 + 0.5) = 0.9; manifest 0.8; noisy-OR 1 - 0.1 * 0.2 = 0.98
    assert found["python"].confidence == 0.98
    assert found["python"].reason == "4 of 4 code files are python; package manifest pyproject.toml"
    # fastapi: dependency 0.85; imported in 1 of 4 sampled files -> 0.45 + 0.35 * min(1, 1/4 * 4) = 0.8
    # noisy-OR: 1 - 0.15 * 0.2 = 0.97
    assert found["fastapi"].confidence == 0.97
    assert found["fastapi"].reason == "pyproject.toml depends on fastapi; imported in 1 file(s)"
    assert found["sqlalchemy"].confidence == 0.97
    # pytest is a test tool (x0.65): dependency 0.5525 -> 0.552 (rounded), import 0.8 * 0.65 = 0.52
    assert found["pytest"].confidence == round(1 - (1 - 0.552) * (1 - 0.52), 3)
    assert found["docker"].confidence == 0.65 and found["docker"].reason == "Dockerfile present"
    assert found["ci"].confidence == 0.5 and found["ci"].reason == ".github/workflows/ci.yml present"
    assert "django" not in found  # only imported under .venv, which is never read
    assert all(s.source == "heuristic" for s in found.values())


def test_node_project_heuristics(tmp_path: Path) -> None:
    profile = tagging.scan_project(str(write_files(tmp_path / "web", NODE_PROJECT)))
    assert profile.project_type == "node"
    found = by_tag(tagging.heuristic_suggestions(profile, None, []))
    # typescript: 3 of 4 code files (0.4 + 0.5 * 0.75 = 0.775) and tsconfig.json (0.6): 1 - 0.225 * 0.4
    assert found["typescript"].confidence == 0.91
    # react: dependency 0.85; imported by 2 of 4 sampled files -> 0.8; 1 - 0.15 * 0.2
    assert found["react"].confidence == 0.97
    # next: dependency 0.85 and next.config.js 0.7: 1 - 0.15 * 0.3
    assert found["next"].confidence == 0.955
    assert found["tailwind"].confidence == 0.85
    assert "python" not in found


def test_prompt_keywords() -> None:
    found = by_tag(tagging.prompt_suggestions(PROMPTS[0], PROMPTS))
    # bugfix: "bug", "fix" -> 0.4 + 0.1 * (2 - 1) + 0.1 (in the title) = 0.6
    assert found["bugfix"].confidence == 0.6 and found["bugfix"].reason == 'the prompts mention "bug", "fix"'
    # auth: "auth", "jwt", "login" -> 0.4 + 0.2 + 0.1 = 0.7
    assert found["auth"].confidence == 0.7
    # testing: "pytest", "test" -> 0.5, not in the title
    assert found["testing"].confidence == 0.5
    assert found["pytest"].reason == 'the prompts mention "pytest"'
    assert found["api"].confidence == 0.5  # "endpoint", in the title
    assert tagging.prompt_suggestions(None, []) == []
    # Words inside other words do not count; "go ahead" is not the Go language.
    assert tagging.prompt_suggestions("go ahead with the prefix-fixture", []) == []


def test_existing_tags_are_not_suggested(tmp_path: Path) -> None:
    profile = tagging.scan_project(str(python_project(tmp_path)))
    found = by_tag(tagging.heuristic_suggestions(profile, None, [], existing=["python", "docker"]))
    assert "python" not in found and "docker" not in found and "fastapi" in found


def test_merge_is_a_noisy_or_per_tag_and_source() -> None:
    merged = tagging.merge(
        [
            Suggestion("x", 0.5, "a"),
            Suggestion("x", 0.5, "b"),
            Suggestion("x", 0.9, "c", "ai"),
            Suggestion("y", 0.3, "d"),
        ]
    )
    assert [(s.tag, s.source, s.confidence, s.reason) for s in merged] == [
        ("x", "ai", 0.9, "c"),
        ("x", "heuristic", 0.75, "a; b"),  # 1 - 0.5 * 0.5
        ("y", "heuristic", 0.3, "d"),
    ]


def test_first_prompts_from_several_layouts(tmp_path: Path) -> None:
    claude = tmp_path / "claude.jsonl"
    lines = [
        {"type": "user", "isMeta": True, "message": {"role": "user", "content": "meta"}},
        {"type": "user", "message": {"role": "user", "content": "<command-name>/clear</command-name>"}},
        {"type": "user", "message": {"role": "user", "content": [{"type": "text", "text": "first prompt"}]}},
        {"type": "assistant", "message": {"role": "assistant", "content": "reply"}},
        {"type": "user", "message": {"role": "user", "content": [{"type": "tool_result", "content": "x"}]}},
        {"type": "user", "isSidechain": True, "message": {"role": "user", "content": "side"}},
        {"type": "user", "message": {"role": "user", "content": "second prompt"}},
    ]
    claude.write_text("".join(json.dumps(x) + "\n" for x in lines) + "garbage line\n{half")
    codex = tmp_path / "rollout.jsonl"
    codex_lines = [
        {
            "type": "response_item",
            "payload": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]},
        }
        for text in ("<environment_context>", "codex prompt")
    ]
    codex.write_text("".join(json.dumps(x) + "\n" for x in codex_lines))
    gemini = tmp_path / "chat.json"
    gemini.write_text(
        json.dumps({"messages": [{"type": "user", "content": "gemini prompt"}, {"type": "gemini"}]})
    )
    assert tagging.first_prompts([str(claude)]) == ["first prompt", "second prompt"]
    assert tagging.first_prompts([str(codex)]) == ["codex prompt"]
    assert tagging.first_prompts([str(gemini)]) == ["gemini prompt"]
    assert tagging.first_prompts([str(claude), str(codex)], keep=3) == [
        "first prompt",
        "second prompt",
        "codex prompt",
    ]
    assert tagging.first_prompts([str(tmp_path / "missing.jsonl")]) == []
    sub = tmp_path / "s" / "subagents" / "a.jsonl"
    sub.parent.mkdir(parents=True)
    sub.write_text(json.dumps({"type": "user", "message": {"role": "user", "content": "sub"}}) + "\n")
    assert tagging.first_prompts([str(sub)]) == []


def test_first_prompts_are_bounded(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    long = "word " * 2000
    line = json.dumps({"type": "user", "message": {"role": "user", "content": long}}) + "\n"
    path.write_text(line * 300)  # ~3 MB: only the head is read
    prompts = tagging.first_prompts([str(path)])
    assert prompts == [long.strip()[: tagging.PROMPT_CHARS]]


# ---------------------------------------------------------------------------------------------------
# Learning


def test_adjusted_confidence_formula() -> None:
    assert tagging.adjusted_confidence(0.6, Counts()) == 0.6  # no feedback: unchanged
    # (2 * 0.5 + 3) / (2 + 3) = 0.8: often accepted, it rises
    assert tagging.adjusted_confidence(0.5, Counts(accepted=3)) == pytest.approx(0.8)
    # (2 * 0.9 + 0) / (2 + 2) = 0.45: rejected twice, it sinks
    assert tagging.adjusted_confidence(0.9, Counts(rejected=2)) == pytest.approx(0.45)
    assert not tagging.is_suppressed(Counts(rejected=2))
    assert tagging.is_suppressed(Counts(rejected=3))
    assert tagging.is_suppressed(Counts(accepted=0, rejected=10))
    assert not tagging.is_suppressed(Counts(accepted=1, rejected=3))  # 25% accepted: still asked


def test_ranking_changes_after_recorded_feedback(tmp_path: Path) -> None:
    """Rejections for python projects push a tag out; acceptances pull another up; node is untouched."""
    profile = tagging.scan_project(str(python_project(tmp_path)))
    suggestions = tagging.heuristic_suggestions(profile, PROMPTS[0], PROMPTS)
    conn = memory_db()
    before = tagging.rerank(suggestions, tagging.feedback_counts(conn, "python"), "python")
    order = [s.tag for s in before.kept]
    assert order.index("docker") < order.index("ci") and "docker" in order

    def decide(tag: str, decision: str, ptype: str, n: int) -> None:
        s = by_tag(suggestions)[tag]
        for i in range(n):
            tagging.apply_decisions(conn, f"claude-code:s{i}", ptype, [Decision(s, decision)])

    decide("docker", "rejected", "python", 3)
    decide("ci", "accepted", "python", 3)
    after = tagging.rerank(suggestions, tagging.feedback_counts(conn, "python"), "python")
    kept = by_tag(after.kept)
    assert "docker" not in kept
    assert [(s.tag, why) for s, why in after.suppressed] == [("docker", "rejected 3 of 3 times for python")]
    # ci: (2 * 0.5 + 3) / (2 + 3) = 0.8, up from 0.5, now above bugfix (0.6) and api (0.5)
    assert kept["ci"].confidence == 0.8 and kept["ci"].base == 0.5 and kept["ci"].accepted == 3
    new_order = [s.tag for s in after.kept]
    assert new_order.index("ci") < new_order.index("bugfix") < new_order.index("api")
    assert order.index("ci") > order.index("bugfix")
    # The same tags for a node project have no feedback: unchanged.
    node = tagging.rerank(suggestions, tagging.feedback_counts(conn, "node"), "node")
    assert [s.tag for s in node.kept] == order and not node.suppressed


def test_applied_tags_do_not_teach_and_rejections_for_this_session_are_remembered() -> None:
    conn = memory_db()
    s = Suggestion("docker", 0.65, "Dockerfile present")
    added = tagging.apply_decisions(conn, "claude-code:a", "python", [Decision(s, "applied")] * 4)
    assert added == ["docker"]  # added once
    assert tagging.feedback_counts(conn, "python") == {"docker": Counts(0, 0)}
    tagging.apply_decisions(conn, "claude-code:b", "python", [Decision(s, "rejected")])
    assert tagging.rejected_for_session(conn, "claude-code:b") == {"docker"}
    ranked = tagging.rerank([s], {}, "python", rejected_here={"docker"})
    assert ranked.kept == [] and ranked.suppressed[0][1] == "rejected before for this session"
    # Accepting later wins over the earlier rejection.
    tagging.apply_decisions(conn, "claude-code:b", "python", [Decision(s, "accepted")])
    assert tagging.rejected_for_session(conn, "claude-code:b") == set()


def test_decisions_are_all_or_nothing() -> None:
    conn = memory_db()
    good = Decision(Suggestion("ok", 0.9, "r"), "accepted")
    bad = Decision(Suggestion("bad", 0.9, "r"), "maybe")
    with pytest.raises(ValueError):
        tagging.apply_decisions(conn, "claude-code:x", "python", [good, bad])
    assert conn.execute("SELECT COUNT(*) FROM tag_feedback").fetchone() == (0,)
    assert conn.execute("SELECT COUNT(*) FROM session_tags").fetchone() == (0,)


def test_tag_stats_counts() -> None:
    conn = memory_db()
    docker, ci = Suggestion("docker", 0.65, "r"), Suggestion("ci", 0.5, "r", "ai")
    for sid in ("a", "b", "c"):
        tagging.record_suggested(conn, sid, "python", [docker, ci])
    tagging.record_suggested(conn, "a", "python", [docker])  # shown again: still one session
    tagging.record_suggested(conn, "d", "node", [docker])
    tagging.apply_decisions(conn, "a", "python", [Decision(docker, "rejected"), Decision(ci, "accepted")])
    tagging.apply_decisions(conn, "b", "python", [Decision(docker, "accepted"), Decision(ci, "accepted")])
    tagging.apply_decisions(conn, "c", "python", [Decision(docker, "applied")])
    stats = tagging.tag_stats(conn)
    counts = ("suggested", "accepted", "rejected", "applied", "acceptance_rate")
    assert [r.as_json() for r in stats.rows] == [
        {"tag": "ci", "project_type": "python", **dict(zip(counts, (3, 2, 0, 0, 1.0)))},
        {"tag": "docker", "project_type": "node", **dict(zip(counts, (1, 0, 0, 0, None)))},
        {"tag": "docker", "project_type": "python", **dict(zip(counts, (3, 1, 1, 1, 0.5)))},
    ]
    assert [r.as_json() for r in stats.by_tag][1] == {
        "tag": "docker", "suggested": 4, "accepted": 1, "rejected": 1, "applied": 1, "acceptance_rate": 0.5,
    }  # fmt: skip
    assert [(r.project_type, r.suggested, r.accepted) for r in stats.by_project_type] == [
        ("node", 1, 0),
        ("python", 6, 3),
    ]
    assert [(r.source, r.suggested, r.accepted, r.rejected) for r in stats.by_source] == [
        ("ai", 3, 2, 0),
        ("heuristic", 4, 1, 1),
    ]
    only = tagging.tag_stats(conn, tag="docker", project_type="python")
    assert [(r.tag, r.project_type) for r in only.rows] == [("docker", "python")] and only.by_source == []


# ---------------------------------------------------------------------------------------------------
# Through the CLI


def test_cli_suggests_without_changing_tags(fake_home: FakeHome, tmp_path: Path) -> None:
    sid = add_session(fake_home, python_project(tmp_path), "py-one")
    r = ok(fake_home, "auto-tag", "py-one", "-f", "json")
    out = json.loads(r.stdout)
    assert out["session"] == sid and out["project_type"] == "python" and out["mode"] == "suggest"
    assert out["ai"] == "off" and out["added"] == [] and out["tags"] == []
    tags = [s["tag"] for s in out["suggestions"]]
    assert tags[:4] == ["python", "fastapi", "sqlalchemy", "pytest"]
    assert {"docker", "ci", "bugfix", "auth", "testing", "api"} <= set(tags)
    first = out["suggestions"][0]
    assert first == {
        "tag": "python",
        "confidence": 0.98,
        "base_confidence": 0.98,
        "reason": "4 of 4 code files are python; package manifest pyproject.toml",
        "source": "heuristic",
        "feedback": {"accepted": 0, "rejected": 0},
    }
    listed = json.loads(ok(fake_home, "list", "--all", "-f", "json").stdout)
    assert next(s for s in listed if s["id"] == sid)["tags"] == []
    table = ok(fake_home, "auto-tag", "py-one")
    assert "fastapi" in table.stdout and "pyproject.toml depends on fastapi" in table.stdout
    assert "project type python" in table.stderr and "--apply" in table.stderr


def test_cli_apply_uses_the_threshold(fake_home: FakeHome, tmp_path: Path) -> None:
    sid = add_session(fake_home, python_project(tmp_path), "py-apply")
    out = json.loads(
        ok(fake_home, "auto-tag", "py-apply", "--apply", "--threshold", "0.9", "-f", "json").stdout
    )
    # python 0.98, fastapi 0.97, sqlalchemy 0.97; not pytest: 1 - 0.448 * 0.48 * 0.5 (the prompt) = 0.892
    assert out["added"] == ["python", "fastapi", "sqlalchemy"] and out["accepted"] == out["added"]
    assert {s["tag"]: s["confidence"] for s in out["suggestions"]}["pytest"] == 0.892
    listed = json.loads(ok(fake_home, "list", "--all", "-f", "json", "--tag", "fastapi").stdout)
    assert [s["id"] for s in listed] == [sid]
    conn = sqlite3.connect(fake_home.lsm_home / "lsm.db")
    assert conn.execute("SELECT DISTINCT decision FROM tag_feedback").fetchall() == [("applied",)]
    conn.close()
    r = ok(fake_home, "auto-tag", "py-apply", "--apply", "--threshold", "0.99")
    assert "nothing added" in r.stderr


def test_cli_missing_project_folder_uses_prompts(fake_home: FakeHome, tmp_path: Path) -> None:
    add_session(fake_home, tmp_path / "deleted", "gone-1")
    r = ok(fake_home, "auto-tag", "gone-1", "-f", "json")
    out = json.loads(r.stdout)
    assert out["project_type"] == "unknown" and "is not here" in out["notes"][0]
    assert {s["tag"] for s in out["suggestions"]} == {"auth", "bugfix", "api", "testing", "pytest"}


def test_cli_usage_errors(fake_home: FakeHome, tmp_path: Path) -> None:
    add_session(fake_home, python_project(tmp_path), "py-usage")
    r = run(fake_home, "auto-tag", "py-usage", "--interactive")
    assert r.returncode == 2 and "needs a terminal" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run(fake_home, "auto-tag", "py-usage", "--apply", "--interactive")
    assert r.returncode == 2 and "choose one" in r.stderr
    r = run(fake_home, "auto-tag", "no-such-session")
    assert r.returncode == 3


QUESTION = re.compile(rb"Add tag '([^']+)'\? \[y/n\]: ")


def interact(fake: FakeHome, args: Sequence[str], answer: dict[str, str]) -> tuple[int, str, list[str]]:
    """Run the CLI on a pseudo-terminal (stdin and stderr), answering each "Add tag 'x'?" from
    ``answer`` (default "y"). Returns the exit code, stdout and the tags asked about, in order."""
    master, slave = pty.openpty()
    env = {k: v for k, v in fake.env().items() if not k.startswith("ANTHROPIC_")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "llm_session_manager", *args],
        stdin=slave,
        stderr=slave,
        stdout=subprocess.PIPE,
        env=env,
    )
    os.close(slave)
    asked: list[str] = []
    seen = b""
    deadline = time.time() + 60
    try:
        while time.time() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                break
            seen += chunk
            while match := QUESTION.search(seen):
                tag = match.group(1).decode()
                asked.append(tag)
                os.write(master, (answer.get(tag, "y") + "\n").encode())
                seen = seen[match.end() :]
        out = proc.communicate(timeout=60)[0].decode()
    finally:
        os.close(master)
    return proc.returncode, out, asked


def test_cli_interactive_asks_records_and_learns(fake_home: FakeHome, tmp_path: Path) -> None:
    project = python_project(tmp_path)
    sids = [add_session(fake_home, project, f"py-learn-{i}") for i in range(4)]
    # Session 0: accept everything but docker (answered "n").
    code, out, asked = interact(fake_home, ["auto-tag", "py-learn-0", "-i", "-f", "json"], {"docker": "n"})
    assert code == 0
    result = json.loads(out)
    assert asked == [s["tag"] for s in result["suggestions"]] and "docker" in asked
    assert result["rejected"] == ["docker"] and set(result["added"]) == set(asked) - {"docker"}
    listed = {s["id"]: s for s in json.loads(ok(fake_home, "list", "--all", "-f", "json").stdout)}
    assert "docker" not in listed[sids[0]]["tags"] and "fastapi" in listed[sids[0]]["tags"]
    # Asked again for the same session: docker (rejected here) is not offered again.
    again = json.loads(ok(fake_home, "auto-tag", "py-learn-0", "-f", "json").stdout)
    assert again["suggestions"] == [] or "docker" not in {s["tag"] for s in again["suggestions"]}
    assert {s["tag"]: s["why"] for s in again["suppressed"]}["docker"] == "rejected before for this session"
    # Sessions 1 and 2 reject docker too: after three rejections for python projects it is no longer
    # suggested for session 3, while its rank dropped on the way (0.65 -> 0.433 -> 0.325).
    confidences = []
    for sid in ("py-learn-1", "py-learn-2"):
        code, out, asked = interact(fake_home, ["auto-tag", sid, "-i", "-f", "json"], {"docker": "n"})
        assert code == 0 and "docker" in asked
        confidences.append({s["tag"]: s["confidence"] for s in json.loads(out)["suggestions"]}["docker"])
    assert confidences == [0.433, 0.325]  # (2 * 0.65) / (2 + 1), (2 * 0.65) / (2 + 2)
    last = json.loads(ok(fake_home, "auto-tag", "py-learn-3", "-f", "json").stdout)
    assert "docker" not in {s["tag"] for s in last["suggestions"]}
    assert {s["tag"]: s["why"] for s in last["suppressed"]}["docker"] == "rejected 3 of 3 times for python"
    # fastapi was accepted three times: (2 * 0.97 + 3) / (2 + 3) = 0.988
    assert {s["tag"]: s["confidence"] for s in last["suggestions"]}["fastapi"] == 0.988
    stats = json.loads(ok(fake_home, "tag-stats", "-f", "json").stdout)
    docker = next(r for r in stats["rows"] if r["tag"] == "docker")
    assert docker == {
        "tag": "docker",
        "project_type": "python",
        "suggested": 3,
        "accepted": 0,
        "rejected": 3,
        "applied": 0,
        "acceptance_rate": 0.0,
    }
    fastapi = next(r for r in stats["rows"] if r["tag"] == "fastapi")
    assert (fastapi["suggested"], fastapi["accepted"], fastapi["acceptance_rate"]) == (4, 3, 1.0)
    table = ok(fake_home, "tag-stats").stdout
    assert "docker" in table and "Per project type" in table and "0%" in table


def test_cli_interactive_no_changes_everything(fake_home: FakeHome, tmp_path: Path) -> None:
    sid = add_session(fake_home, python_project(tmp_path), "py-no")
    code, out, asked = interact(fake_home, ["auto-tag", "py-no", "-i", "--limit", "3"], {})
    assert code == 0 and len(asked) == 3
    assert out.startswith(f"{sid}  tags: ") and len(out.split(":", 2)[2].split(",")) == 3
    code, out, asked = interact(
        fake_home, ["auto-tag", "py-no", "-i", "-f", "json"], dict.fromkeys(PYTHON_TAGS, "n")
    )
    assert code == 0 and json.loads(out)["added"] == []


PYTHON_TAGS = (
    "python",
    "fastapi",
    "sqlalchemy",
    "pytest",
    "docker",
    "ci",
    "auth",
    "bugfix",
    "api",
    "testing",
)


def test_tag_stats_when_empty(fake_home: FakeHome) -> None:
    assert "No auto-tag suggestions" in ok(fake_home, "tag-stats").stdout
    assert json.loads(ok(fake_home, "tag-stats", "-f", "json").stdout) == {
        "rows": [],
        "by_tag": [],
        "by_project_type": [],
        "by_source": [],
    }


def test_confirm_asks_again_until_yes_or_no(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import io

    import typer

    from llm_session_manager.cli.autotag import _confirm

    monkeypatch.setattr(sys, "stdin", io.StringIO("maybe\n YES \nn\n"))
    assert _confirm("Add tag 'x'?") is True
    assert _confirm("Add tag 'y'?") is False
    err = capsys.readouterr()
    assert err.out == "" and err.err.count("Please answer y or n.") == 1
    with pytest.raises(typer.Abort):  # end of input: nothing is decided
        _confirm("Add tag 'z'?")
