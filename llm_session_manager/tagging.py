"""Auto-tagging: heuristic tag suggestions for a session, and a learning system that re-ranks them.

Three parts:

* **Looking at the project** (read-only, bounded): the session's project folder is listed (``git ls-files -z``
  when it is a git work tree, else a walk that skips dependency and build folders), package manifests
  (``pyproject.toml``, ``package.json``, ``Cargo.toml``, ``go.mod``, ``Gemfile``, ``pom.xml``…) and the
  README are read, and a sample of source files is scanned for imports. The result is a ``ProjectProfile``
  with a *project type* (python, node, rust, go…), which is what the learning is keyed on.
* **Heuristics** (pure): languages from file extensions, frameworks from dependencies, imports and
  config files, tooling from the directory structure, and topics from keywords in the session's title and
  first prompts. Each ``Suggestion`` has a tag, a confidence in 0..1, a reason and a source ("heuristic"
  or "ai"). One tag found several ways gets the noisy-OR of its confidences: ``1 - Π(1 - cᵢ)``.
* **Learning** (SQLite, our own database): every accept and reject is recorded with the tag, project type,
  source and time. Suggestions are re-ranked by the observed acceptance for their project type:
  ``adjusted = (PRIOR_WEIGHT · c + accepted) / (PRIOR_WEIGHT + accepted + rejected)`` — the heuristic's own
  confidence counts as ``PRIOR_WEIGHT`` observations — and a tag rejected at least ``SUPPRESS_MIN_REJECTS``
  times with an acceptance rate under ``SUPPRESS_BELOW`` is no longer suggested for that project type.
"""

from __future__ import annotations

import functools
import json
import os
import re
import sqlite3
import sys
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath
from typing import Any

from llm_session_manager.errors import UsageError
from llm_session_manager.project import SKIP_DIRS, git_files, walk_files

# ---------------------------------------------------------------------------------------------------
# Limits: looking at a project must stay fast and bounded whatever folder a session ran in.

MAX_FILES = 5000  # files listed from a project
MAX_DEPTH = 6  # folder depth of the walk when the project is not a git work tree
MANIFEST_MAX_BYTES = 64 * 1024
README_MAX_BYTES = 16 * 1024
IMPORT_SCAN_FILES = 200  # source files sampled for imports
IMPORT_SCAN_BYTES = 16 * 1024  # read from the head of each
PROMPT_FILES = 3  # transcript files read for the first prompts
PROMPT_MAX_BYTES = 512 * 1024  # read from the head of each
PROMPT_MAX_LINES = 2000
PROMPTS_KEPT = 5
PROMPT_CHARS = 2000  # per prompt

SOURCES = ("heuristic", "ai")
DECISIONS = ("accepted", "rejected", "applied")

# Learning: the heuristic confidence is worth this many observations; a tag rejected at least
# SUPPRESS_MIN_REJECTS times for a project type, with acceptance under SUPPRESS_BELOW, is dropped.
PRIOR_WEIGHT = 2.0
SUPPRESS_MIN_REJECTS = 3
SUPPRESS_BELOW = 0.25


# Extension -> language tag, for code files only (docs and data do not make a language).
EXT_LANG: dict[str, str] = {
    ".py": "python", ".pyi": "python", ".ipynb": "python",
    ".js": "javascript", ".jsx": "javascript", ".mjs": "javascript", ".cjs": "javascript",
    ".ts": "typescript", ".tsx": "typescript", ".mts": "typescript", ".cts": "typescript",
    ".rs": "rust", ".go": "go", ".rb": "ruby", ".java": "java", ".kt": "kotlin", ".kts": "kotlin",
    ".scala": "scala", ".c": "c", ".h": "c", ".cc": "cpp", ".cpp": "cpp", ".cxx": "cpp", ".hpp": "cpp",
    ".hh": "cpp", ".cs": "csharp", ".php": "php", ".swift": "swift", ".m": "objective-c",
    ".sh": "shell", ".bash": "shell", ".zsh": "shell", ".ex": "elixir", ".exs": "elixir",
    ".erl": "erlang", ".dart": "dart", ".hs": "haskell", ".lua": "lua", ".r": "r", ".jl": "julia",
    ".zig": "zig", ".vue": "vue", ".svelte": "svelte", ".sql": "sql", ".tf": "terraform",
}  # fmt: skip

# Language -> project type (the key the learning uses).
LANG_TYPE: dict[str, str] = {
    "python": "python", "javascript": "node", "typescript": "node", "vue": "node", "svelte": "node",
    "rust": "rust", "go": "go", "ruby": "ruby", "java": "java", "kotlin": "java", "scala": "java",
    "c": "c", "cpp": "cpp", "objective-c": "swift", "csharp": "dotnet", "php": "php", "swift": "swift",
    "shell": "shell", "elixir": "elixir", "erlang": "elixir", "dart": "dart", "haskell": "haskell",
    "lua": "lua", "r": "r", "julia": "julia", "zig": "zig", "terraform": "terraform", "sql": "sql",
}  # fmt: skip

# Manifest file name -> project type. Order matters: the first one found at the root wins ties.
MANIFESTS: dict[str, str] = {
    "pyproject.toml": "python", "setup.py": "python", "setup.cfg": "python", "requirements.txt": "python",
    "Pipfile": "python", "environment.yml": "python", "package.json": "node", "Cargo.toml": "rust",
    "go.mod": "go", "Gemfile": "ruby", "pom.xml": "java", "build.gradle": "java",
    "build.gradle.kts": "java", "composer.json": "php", "mix.exs": "elixir", "Package.swift": "swift",
    "pubspec.yaml": "dart", "CMakeLists.txt": "cpp", "stack.yaml": "haskell", "deno.json": "node",
}  # fmt: skip

README_NAMES = ("README.md", "README.rst", "README.txt", "README", "readme.md", "Readme.md")


@dataclass(frozen=True)
class Framework:
    """A framework or library worth a tag: dependency names (``*`` ends a prefix) and import roots."""

    tag: str
    deps: tuple[str, ...]
    imports: tuple[str, ...] = ()
    files: tuple[str, ...] = ()  # config files whose presence shows it (file names, any folder)
    strength: float = 1.0  # test tools say less about a project than its frameworks do


TEST_TOOL = 0.65


FRAMEWORKS: tuple[Framework, ...] = (
    Framework("django", ("django",), ("django",), ("manage.py",)),
    Framework("fastapi", ("fastapi",), ("fastapi",)),
    Framework("flask", ("flask",), ("flask",)),
    Framework("pytest", ("pytest", "pytest-*"), ("pytest",), ("conftest.py", "pytest.ini"), TEST_TOOL),
    Framework("sqlalchemy", ("sqlalchemy", "flask-sqlalchemy"), ("sqlalchemy",), ("alembic.ini",)),
    Framework("celery", ("celery",), ("celery",)),
    Framework("data-science", ("pandas", "numpy", "scipy", "polars", "matplotlib"), ("pandas", "polars")),
    Framework(
        "machine-learning",
        ("torch", "tensorflow", "scikit-learn", "jax", "keras", "transformers", "xgboost", "lightgbm"),
        ("torch", "tensorflow", "sklearn", "jax", "keras", "transformers"),
    ),
    Framework(
        "llm",
        ("anthropic", "openai", "langchain", "langchain-*", "llama-index", "@anthropic-ai/sdk", "litellm"),
        ("anthropic", "openai", "langchain", "litellm", "@anthropic-ai/sdk"),
    ),
    Framework(
        "cli",
        (
            "typer",
            "click",
            "docopt",
            "fire",
            "commander",
            "yargs",
            "oclif",
            "clap",
            "github.com/spf13/cobra",
            "github.com/urfave/cli*",
            "thor",
        ),
        ("typer", "click", "commander", "yargs"),
    ),
    Framework("streamlit", ("streamlit",), ("streamlit",)),
    Framework("react", ("react", "react-dom"), ("react",)),
    Framework("next", ("next",), ("next",), ("next.config.js", "next.config.mjs", "next.config.ts")),
    Framework("vue", ("vue", "nuxt"), ("vue",), ("nuxt.config.ts", "nuxt.config.js", "vue.config.js")),
    Framework("svelte", ("svelte", "@sveltejs/kit"), ("svelte",), ("svelte.config.js",)),
    Framework("angular", ("@angular/core",), ("@angular/core",), ("angular.json",)),
    Framework("express", ("express",), ("express",)),
    Framework("nestjs", ("@nestjs/core",), ("@nestjs/core",)),
    Framework("jest", ("jest",), (), ("jest.config.js", "jest.config.ts"), TEST_TOOL),
    Framework("vitest", ("vitest",), ("vitest",), ("vitest.config.ts", "vitest.config.js"), TEST_TOOL),
    Framework("electron", ("electron",), ("electron",)),
    Framework("tailwind", ("tailwindcss",), (), ("tailwind.config.js", "tailwind.config.ts")),
    Framework("react-native", ("react-native", "expo"), ("react-native",)),
    Framework("tokio", ("tokio",), ("tokio",)),
    Framework("axum", ("axum",), ("axum",)),
    Framework("actix", ("actix-web",), ("actix_web",)),
    Framework("bevy", ("bevy",), ("bevy",)),
    Framework("tauri", ("tauri",), ("tauri",), ("tauri.conf.json",)),
    Framework("gin", ("github.com/gin-gonic/gin",), ("github.com/gin-gonic/gin",)),
    Framework("echo", ("github.com/labstack/echo*",), ("github.com/labstack/echo",)),
    Framework("rails", ("rails",), (), ("routes.rb",)),
    Framework("rspec", ("rspec", "rspec-rails"), (), (".rspec",), TEST_TOOL),
    Framework("sinatra", ("sinatra",)),
    Framework("spring", ("spring-boot*", "spring-core", "spring-web*")),
    Framework("junit", ("junit", "junit-jupiter*"), strength=TEST_TOOL),
    Framework("laravel", ("laravel/framework",), (), ("artisan",)),
    Framework("symfony", ("symfony/framework-bundle", "symfony/symfony")),
)

# Topics from the session's own words: tag -> word patterns (regex fragments, matched on word bounds).
KEYWORDS: dict[str, tuple[str, ...]] = {
    "bugfix": ("bug", "bugs", "fix", "fixes", "fixing", "broken", "crash(?:es|ing)?", "traceback",
               "exception", "regression", "error", "errors", "fails?", "failing"),
    "refactor": ("refactor(?:ing)?", "clean ?up", "restructur(?:e|ing)", "simplify", "rename",
                 "extract (?:a |the )?(?:function|method|class|module)", "dedupe", "tidy"),
    "testing": ("tests?", "testing", "unit tests?", "pytest", "jest", "vitest", "coverage",
                "test suite", "e2e", "integration tests?", "flaky"),
    "docs": ("docs", "documentation", "readme", "docstrings?", "changelog", "tutorial", "guide"),
    "auth": ("auth", "authentication", "authori[sz]ation", "login", "log in", "logout", "sign ?in",
             "sign ?up", "oauth2?", "jwt", "sso", "passwords?", "sessions? cookies?"),
    "performance": ("performance", "perf", "slow", "faster", "speed ?up", "optimi[sz](?:e|ation|ing)",
                    "latency", "memory leak", "profil(?:e|ing)", "benchmarks?", "cach(?:e|ing)"),
    "devops": ("deploy(?:ment|ing)?", "ci", "ci/cd", "pipeline", "github actions", "docker(?:file)?",
               "kubernetes", "k8s", "helm", "terraform", "nginx", "infrastructure"),
    "database": ("database", "db", "sql", "sqlite", "postgres(?:ql)?", "mysql", "mongo(?:db)?",
                 "migrations?", "schema", "orm", "sql queries", "redis"),
    "api": ("api", "apis", "endpoints?", "rest api", "restful", "graphql", "grpc", "webhooks?", "openapi"),
    "ui": ("ui", "ux", "css", "layout", "buttons?", "frontend", "front-end", "components?", "styling",
           "dark mode", "responsive", "page", "modal"),
    "security": ("security", "vulnerabilit(?:y|ies)", "xss", "csrf", "injection", "cve", "sanitiz(?:e|ation)",
                 "secrets?", "encrypt(?:ion)?"),
    "dependencies": ("upgrade", "bump", "dependenc(?:y|ies)", "lockfile", "outdated"),
    "code-review": ("review", "code review", "pr review", "pull request"),
    "feature": ("implement", "add support", "new feature", "feature"),
}  # fmt: skip

# Names that are unambiguous enough to count when a prompt mentions them (no "go", "next", "express").
PROMPT_NAMES: dict[str, str] = {
    "python": "python", "typescript": "typescript", "javascript": "javascript", "rust": "rust",
    "golang": "go", "ruby": "ruby", "kotlin": "kotlin", "django": "django", "fastapi": "fastapi",
    "flask": "flask", "pytest": "pytest", "react": "react", "nextjs": "next", "next.js": "next",
    "vue": "vue", "svelte": "svelte", "angular": "angular", "expressjs": "express", "nestjs": "nestjs",
    "tailwind": "tailwind", "electron": "electron", "tokio": "tokio", "axum": "axum", "rails": "rails",
    "laravel": "laravel", "spring boot": "spring", "pandas": "data-science", "pytorch": "machine-learning",
    "tensorflow": "machine-learning", "sqlalchemy": "sqlalchemy", "celery": "celery",
    "streamlit": "streamlit", "terraform": "terraform", "kubernetes": "kubernetes", "docker": "docker",
}  # fmt: skip


# ---------------------------------------------------------------------------------------------------
# Data


@dataclass(frozen=True)
class Suggestion:
    """One suggested tag. ``confidence`` is what ranking uses (after learning); ``base`` is the heuristic's
    (or Claude's) own figure before learning; ``accepted``/``rejected`` the feedback that moved it."""

    tag: str
    confidence: float
    reason: str
    source: str = "heuristic"
    base: float | None = None
    accepted: int = 0
    rejected: int = 0

    def as_json(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "confidence": round(self.confidence, 3),
            "base_confidence": round(self.base if self.base is not None else self.confidence, 3),
            "reason": self.reason,
            "source": self.source,
            "feedback": {"accepted": self.accepted, "rejected": self.rejected},
        }


@dataclass
class ProjectProfile:
    """What we learnt from a project folder (paths are relative, '/'-separated)."""

    root: str | None
    exists: bool = False
    git: bool = False
    files: list[str] = field(default_factory=list)
    truncated: bool = False
    manifests: dict[str, str] = field(default_factory=dict)  # relative path -> text (bounded)
    readme: str | None = None
    imports: Counter[str] = field(default_factory=Counter)  # import root -> files importing it
    project_type: str = "unknown"
    type_reason: str = ""

    @property
    def name(self) -> str | None:
        if not self.root:
            return None
        return PurePosixPath(self.root.replace("\\", "/").rstrip("/")).name or self.root


# ---------------------------------------------------------------------------------------------------
# Looking at the project (read-only)


def _read_head(path: str, limit: int) -> str | None:
    try:
        with open(path, "rb") as fh:
            return fh.read(limit).decode("utf-8", "replace")
    except OSError:
        return None


def _is_manifest(rel: str) -> bool:
    parts = rel.split("/")
    return len(parts) <= 3 and parts[-1] in MANIFESTS and not any(p in SKIP_DIRS for p in parts)


def scan_project(root: str | None, *, max_files: int = MAX_FILES) -> ProjectProfile:
    """Look at a project folder, read-only and bounded. A missing folder gives an empty profile."""
    profile = ProjectProfile(root=root)
    if not root or not os.path.isdir(root):
        profile.type_reason = "the project folder is not on this machine" if root else "no project folder"
        return profile
    profile.exists = True
    tracked = git_files(root, max_files=max_files + 1)
    if tracked is not None:
        profile.git = True
        files = tracked  # the project's own choice of files: no folder is skipped
    else:
        files = walk_files(root, max_files=max_files + 1, max_depth=MAX_DEPTH, keep_ci=True)
    profile.truncated = len(files) > max_files
    profile.files = files[:max_files]
    manifests = sorted((f for f in profile.files if _is_manifest(f)), key=lambda f: (f.count("/"), f))
    for rel in manifests[:12]:
        text = _read_head(os.path.join(root, rel), MANIFEST_MAX_BYTES)
        if text is not None:
            profile.manifests[rel] = text
    for name in README_NAMES:
        if os.path.isfile(os.path.join(root, name)):
            profile.readme = _read_head(os.path.join(root, name), README_MAX_BYTES)
            if profile.readme is not None:
                break
    profile.imports = scan_imports(root, profile.files)
    profile.project_type, profile.type_reason = project_type(profile.files, profile.manifests)
    return profile


# Import statements: Python, JS/TS (import/require), Go (quoted paths), Rust (use/extern crate).
_PY_IMPORT = re.compile(r"^\s*(?:from|import)\s+([A-Za-z_][\w]*)", re.MULTILINE)
_JS_IMPORT = re.compile(r"""(?:\bfrom\s+|\brequire\(\s*|\bimport\s*\(?\s*)['"]([^'"./][^'"]*)['"]""")
_GO_IMPORT = re.compile(r'^\s*(?:import\s+)?(?:\w+\s+)?"([a-z0-9.\-]+\.[a-z]+/[^"]+)"', re.MULTILINE)
_RS_IMPORT = re.compile(r"^\s*(?:use|extern crate)\s+([a-z_][a-z0-9_]*)", re.MULTILINE)
_IMPORT_RES: dict[str, re.Pattern[str]] = {
    "python": _PY_IMPORT, "javascript": _JS_IMPORT, "typescript": _JS_IMPORT, "vue": _JS_IMPORT,
    "svelte": _JS_IMPORT, "go": _GO_IMPORT, "rust": _RS_IMPORT,
}  # fmt: skip


def _import_root(lang: str, name: str) -> str:
    if lang in ("javascript", "typescript", "vue", "svelte"):
        parts = name.split("/")
        return "/".join(parts[:2]) if name.startswith("@") else parts[0]
    if lang == "go":
        return "/".join(name.split("/")[:3])
    return name


def scan_imports(root: str, files: Sequence[str], max_files: int = IMPORT_SCAN_FILES) -> Counter[str]:
    """How many sampled source files import each module root (shallow files first)."""
    counts: Counter[str] = Counter()
    candidates = [f for f in files if EXT_LANG.get(_ext(f)) in _IMPORT_RES]
    candidates.sort(key=lambda f: (f.count("/"), f))
    for rel in candidates[:max_files]:
        lang = EXT_LANG[_ext(rel)]
        text = _read_head(os.path.join(root, rel), IMPORT_SCAN_BYTES)
        if not text:
            continue
        seen = {_import_root(lang, m) for m in _IMPORT_RES[lang].findall(text)}
        counts.update(seen)
    return counts


def _ext(path: str) -> str:
    name = path.rsplit("/", 1)[-1]
    dot = name.rfind(".")
    return name[dot:].lower() if dot > 0 else ""


def language_counts(files: Iterable[str]) -> Counter[str]:
    return Counter(lang for f in files if (lang := EXT_LANG.get(_ext(f))))


def project_type(files: Sequence[str], manifests: Mapping[str, str]) -> tuple[str, str]:
    """The project's type and why: a manifest at the root (the dominant language breaks ties between
    several), else a manifest one level down, else the dominant language, else docs or unknown."""
    langs = language_counts(files)
    for depth in (0, 1, 2):
        found = [m for m in manifests if m.count("/") == depth]
        types = list(dict.fromkeys(MANIFESTS[m.rsplit("/", 1)[-1]] for m in found))
        if not types:
            continue
        weight = Counter[str]()
        for lang, n in langs.items():
            weight[LANG_TYPE.get(lang, "")] += n
        best = max(types, key=lambda t: (weight[t], -types.index(t)))
        names = ", ".join(m for m in found if MANIFESTS[m.rsplit("/", 1)[-1]] == best)
        return best, names
    if langs:
        lang, n = langs.most_common(1)[0]
        return LANG_TYPE.get(lang, lang), f"{n} {lang} file(s)"
    docs = sum(1 for f in files if _ext(f) in (".md", ".rst", ".txt", ".adoc"))
    if docs:
        return "docs", f"{docs} document(s), no code"
    return "unknown", "no code or package manifest found"


# ---------------------------------------------------------------------------------------------------
# Dependencies from manifests (read as text; TOML through tomllib where Python has it)

_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _req_name(spec: str) -> str | None:
    m = _REQ_NAME.match(spec)
    return m.group(1).lower().replace("_", "-") if m else None


def _toml(text: str) -> dict[str, Any] | None:
    """Parsed TOML, or None when it is not valid or Python has no tomllib (the callers use regexes)."""
    if sys.version_info >= (3, 11):
        import tomllib

        try:
            return dict(tomllib.loads(text))
        except (tomllib.TOMLDecodeError, ValueError):
            return None
    return None  # pragma: no cover - Python 3.10


def _pyproject_deps(text: str) -> set[str]:
    data = _toml(text)
    if data is None:
        return {n for s in re.findall(r"""["']([A-Za-z0-9][^"'\n]*)["']""", text) if (n := _req_name(s))}
    specs: list[str] = []
    project = data.get("project") or {}
    specs += project.get("dependencies") or []
    for group in (project.get("optional-dependencies") or {}).values():
        specs += group
    for group in (data.get("dependency-groups") or {}).values():
        specs += [s for s in group if isinstance(s, str)]
    poetry = (data.get("tool") or {}).get("poetry") or {}
    names = set(poetry.get("dependencies") or {}) | set(poetry.get("dev-dependencies") or {})
    for group in (poetry.get("group") or {}).values():
        names |= set((group or {}).get("dependencies") or {})
    out = {n for s in specs if isinstance(s, str) and (n := _req_name(s))}
    return out | {n.lower().replace("_", "-") for n in names if n.lower() != "python"}


def _requirements_deps(text: str) -> set[str]:
    out: set[str] = set()
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not line.startswith("-") and (name := _req_name(line)):
            out.add(name)
    return out


def _package_json_deps(text: str) -> set[str]:
    try:
        data = json.loads(text)
    except ValueError:
        return set()
    if not isinstance(data, dict):
        return set()
    out: set[str] = set()
    for key in ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies"):
        deps = data.get(key)
        if isinstance(deps, dict):
            out |= {str(k).lower() for k in deps}
    return out


def _cargo_deps(text: str) -> set[str]:
    data = _toml(text)
    if data is None:
        return set(re.findall(r"(?m)^([A-Za-z0-9_-]+)\s*=", text))
    out: set[str] = set()
    for key in ("dependencies", "dev-dependencies", "build-dependencies"):
        out |= set(data.get(key) or {})
    out |= set(((data.get("workspace") or {}).get("dependencies")) or {})
    return {n.lower() for n in out}


def manifest_deps(name: str, text: str) -> set[str]:
    """Dependency names declared in one manifest (``name`` is its file name)."""
    if name == "pyproject.toml":
        return _pyproject_deps(text)
    if name in ("requirements.txt", "environment.yml"):
        return _requirements_deps(text.replace("- ", ""))
    if name in ("setup.py", "setup.cfg", "Pipfile"):
        return {n for s in re.findall(r"""["']([A-Za-z0-9][^"'\n]*)["']""", text) if (n := _req_name(s))} | {
            n.lower() for n in re.findall(r"(?m)^\s*([A-Za-z0-9_.-]+)\s*=", text)
        }
    if name in ("package.json", "composer.json", "deno.json"):
        if name == "composer.json":
            return _composer_deps(text)
        return _package_json_deps(text)
    if name == "Cargo.toml":
        return _cargo_deps(text)
    if name == "go.mod":
        return set(re.findall(r"(?m)^\s*(?:require\s+)?([a-z0-9.\-]+\.[a-z]+/\S+)\s+v\d", text))
    if name == "Gemfile":
        return {n.lower() for n in re.findall(r"""(?m)^\s*gem\s+['"]([^'"]+)['"]""", text)}
    if name == "pom.xml":
        return {n.lower() for n in re.findall(r"<artifactId>\s*([^<\s]+)\s*</artifactId>", text)}
    if name in ("build.gradle", "build.gradle.kts"):
        return {n.lower() for n in re.findall(r"""['"][\w.\-]+:([\w.\-]+)(?::[^'"]*)?['"]""", text)}
    return set()


def _composer_deps(text: str) -> set[str]:
    try:
        data = json.loads(text)
    except ValueError:
        return set()
    out: set[str] = set()
    if isinstance(data, dict):
        for key in ("require", "require-dev"):
            if isinstance(data.get(key), dict):
                out |= {str(k).lower() for k in data[key]}
    return out


def all_deps(manifests: Mapping[str, str]) -> dict[str, str]:
    """Every declared dependency -> the manifest that declares it (the shallowest one)."""
    out: dict[str, str] = {}
    for rel in sorted(manifests, key=lambda m: (m.count("/"), m)):
        for dep in manifest_deps(rel.rsplit("/", 1)[-1], manifests[rel]):
            out.setdefault(dep, rel)
    return out


def _dep_matches(dep: str, pattern: str) -> bool:
    return dep.startswith(pattern[:-1]) if pattern.endswith("*") else dep == pattern


# ---------------------------------------------------------------------------------------------------
# Heuristics (pure)


def language_suggestions(profile: ProjectProfile) -> list[Suggestion]:
    """Languages that make up a real share of the code files, plus the manifest's own language."""
    langs = language_counts(profile.files)
    total = sum(langs.values())
    out: list[Suggestion] = []
    for lang, n in langs.most_common():
        share = n / total
        if share < 0.15 and not (n >= 5 and share >= 0.05):
            continue
        if lang in ("sql", "terraform", "vue", "svelte"):
            continue  # tagged as tooling/frameworks, not as a language
        conf = min(0.9, 0.4 + 0.5 * share)
        out.append(Suggestion(lang, conf, f"{n} of {total} code files are {lang}"))
    ts_config = any(f.rsplit("/", 1)[-1] == "tsconfig.json" for f in profile.files)
    if ts_config:
        out.append(Suggestion("typescript", 0.6, "tsconfig.json present"))
    manifest_lang = {"python": "python", "rust": "rust", "go": "go", "ruby": "ruby", "java": "java"}
    declared = manifest_lang.get(profile.project_type)
    if declared and profile.manifests:
        out.append(Suggestion(declared, 0.8, f"package manifest {profile.type_reason}"))
    return out


def framework_suggestions(profile: ProjectProfile) -> list[Suggestion]:
    """Frameworks declared as dependencies (strong), imported by source files, or shown by config files."""
    deps = all_deps(profile.manifests)
    names = {f.rsplit("/", 1)[-1] for f in profile.files}
    sampled = max(1, sum(1 for f in profile.files if EXT_LANG.get(_ext(f)) in _IMPORT_RES))
    out: list[Suggestion] = []
    for fw in FRAMEWORKS:
        hits = [(d, m) for d, m in deps.items() if any(_dep_matches(d, p) for p in fw.deps)]
        k = fw.strength
        if hits:
            dep, where = sorted(hits)[0]
            out.append(Suggestion(fw.tag, round(0.85 * k, 3), f"{where} depends on {dep}"))
        imported = sum(profile.imports.get(i, 0) for i in fw.imports)
        if imported:
            conf = min(0.8, 0.45 + 0.35 * min(1.0, imported / min(sampled, IMPORT_SCAN_FILES) * 4))
            out.append(Suggestion(fw.tag, round(conf * k, 3), f"imported in {imported} file(s)"))
        shown = sorted(n for n in fw.files if n in names)
        if shown:
            out.append(Suggestion(fw.tag, round(0.7 * k, 3), f"{shown[0]} present"))
    return out


def structure_suggestions(profile: ProjectProfile) -> list[Suggestion]:
    """Tooling visible in the directory structure: containers, CI, infrastructure, docs, notebooks."""
    files = profile.files
    names = Counter(f.rsplit("/", 1)[-1].lower() for f in files)
    dirs = {p for f in files for p in f.split("/")[:-1]}
    out: list[Suggestion] = []

    def has(*wanted: str) -> list[str]:
        return [w for w in wanted if names.get(w.lower())]

    if found := has(
        "Dockerfile", "docker-compose.yml", "docker-compose.yaml", "compose.yaml", "Containerfile"
    ):
        out.append(Suggestion("docker", 0.65, f"{found[0]} present"))
    ci = [f for f in files if f.startswith((".github/workflows/", ".circleci/", ".gitlab-ci"))]
    ci += has("Jenkinsfile", ".travis.yml", "azure-pipelines.yml")
    if ci:
        out.append(Suggestion("ci", 0.5, f"{ci[0]} present"))
    tf = [f for f in files if _ext(f) == ".tf"]
    if tf:
        out.append(Suggestion("terraform", 0.8, f"{len(tf)} Terraform file(s)"))
    if dirs & {"k8s", "kubernetes", "helm", "charts"} or has("Chart.yaml", "kustomization.yaml"):
        out.append(Suggestion("kubernetes", 0.65, "Kubernetes manifests or Helm charts present"))
    docs = [f for f in files if f.startswith(("docs/", "doc/")) and _ext(f) in (".md", ".rst", ".adoc")]
    if len(docs) >= 3 or has("mkdocs.yml"):
        out.append(Suggestion("docs", 0.45, f"{len(docs)} documentation file(s) under docs/"))
    notebooks = [f for f in files if _ext(f) == ".ipynb"]
    if notebooks:
        out.append(
            Suggestion("jupyter", 0.55 + min(0.3, 0.05 * len(notebooks)), f"{len(notebooks)} notebook(s)")
        )
    sql = [f for f in files if _ext(f) == ".sql"] + [f for f in files if "/migrations/" in f"/{f}"]
    if len(sql) >= 2 or has("alembic.ini", "schema.prisma"):
        out.append(Suggestion("database", 0.5, "SQL files, migrations or a schema present"))
    workspaces = [m for m in profile.manifests if m.count("/") >= 1]
    roots_with_manifests = {m.split("/")[0] for m in workspaces}
    if len(roots_with_manifests) >= 2 or has("pnpm-workspace.yaml", "lerna.json", "nx.json", "turbo.json"):
        out.append(Suggestion("monorepo", 0.55, f"{len(workspaces)} package manifests in sub-folders"))
    return out


@functools.cache
def _keyword_res() -> dict[str, re.Pattern[str]]:
    """KEYWORDS compiled once, on first use (not at import: `lsm list` never needs them)."""
    return {
        tag: re.compile(r"(?<![\w-])(" + "|".join(words) + r")(?![\w-])", re.IGNORECASE)
        for tag, words in KEYWORDS.items()
    }


@functools.cache
def _name_re() -> re.Pattern[str]:
    names = sorted(PROMPT_NAMES, key=len, reverse=True)
    return re.compile(r"(?<![\w-])(" + "|".join(re.escape(n) for n in names) + r")(?![\w-])", re.IGNORECASE)


def prompt_suggestions(title: str | None, prompts: Sequence[str]) -> list[Suggestion]:
    """Topics from keywords in the session's title and first prompts; more distinct keywords and a
    hit in the title raise the confidence."""
    texts = [t for t in (title or "", *prompts) if t]
    if not texts:
        return []
    body = "\n".join(texts).lower()
    head = (title or (prompts[0] if prompts else "")).lower()
    out: list[Suggestion] = []
    for tag, pattern in _keyword_res().items():
        words = sorted({m.group(1).lower() for m in pattern.finditer(body)})
        if not words:
            continue
        conf = 0.4 + 0.1 * (min(len(words), 4) - 1) + (0.1 if pattern.search(head) else 0.0)
        shown = ", ".join(f'"{w}"' for w in words[:4])
        out.append(Suggestion(tag, round(min(conf, 0.8), 3), f"the prompts mention {shown}"))
    names = sorted({m.group(1).lower() for m in _name_re().finditer(body)})
    for name in names:
        out.append(Suggestion(PROMPT_NAMES[name], 0.5, f'the prompts mention "{name}"'))
    return out


def merge(suggestions: Iterable[Suggestion]) -> list[Suggestion]:
    """One suggestion per (tag, source): the noisy-OR of the confidences, the reasons joined; best first."""
    groups: dict[tuple[str, str], list[Suggestion]] = {}
    for s in suggestions:
        groups.setdefault((s.tag, s.source), []).append(s)
    out: list[Suggestion] = []
    for (tag, source), items in groups.items():
        miss = 1.0
        for s in items:
            miss *= 1.0 - max(0.0, min(1.0, s.confidence))
        conf = round(min(0.99, 1.0 - miss), 3)
        reasons = list(dict.fromkeys(s.reason for s in sorted(items, key=lambda s: -s.confidence)))
        out.append(Suggestion(tag, conf, "; ".join(reasons), source, conf))
    return sorted(out, key=lambda s: (-s.confidence, s.tag))


def heuristic_suggestions(
    profile: ProjectProfile, title: str | None, prompts: Sequence[str], existing: Iterable[str] = ()
) -> list[Suggestion]:
    """Every heuristic, merged, without the tags the session already has, best first."""
    have = set(existing)
    found = [
        *language_suggestions(profile),
        *framework_suggestions(profile),
        *structure_suggestions(profile),
        *prompt_suggestions(title, prompts),
    ]
    return [s for s in merge(found) if s.tag not in have]


def combine(ai_tags: Sequence[Suggestion], heuristics: Sequence[Suggestion]) -> list[Suggestion]:
    """Claude's suggestions first-class; a heuristic one only for a tag Claude did not name."""
    named = {s.tag for s in ai_tags}
    return sorted(
        [*ai_tags, *(h for h in heuristics if h.tag not in named)], key=lambda s: (-s.confidence, s.tag)
    )


# ---------------------------------------------------------------------------------------------------
# Learning (ranking is pure; storage below)


@dataclass(frozen=True)
class Counts:
    accepted: int = 0
    rejected: int = 0

    @property
    def rate(self) -> float | None:
        decided = self.accepted + self.rejected
        return self.accepted / decided if decided else None


def adjusted_confidence(base: float, counts: Counts, prior: float = PRIOR_WEIGHT) -> float:
    """Blend a suggestion's own confidence with the acceptance observed for its tag and project type:
    ``(prior · base + accepted) / (prior + accepted + rejected)``. No feedback leaves it unchanged."""
    return (prior * base + counts.accepted) / (prior + counts.accepted + counts.rejected)


def is_suppressed(counts: Counts) -> bool:
    rate = counts.rate
    return counts.rejected >= SUPPRESS_MIN_REJECTS and rate is not None and rate < SUPPRESS_BELOW


@dataclass(frozen=True)
class Ranked:
    kept: list[Suggestion]
    suppressed: list[tuple[Suggestion, str]]  # with why


def rerank(
    suggestions: Sequence[Suggestion],
    counts: Mapping[str, Counts],
    project_type: str,
    rejected_here: Iterable[str] = (),
) -> Ranked:
    """Re-rank by learnt acceptance for ``project_type``; drop what was rejected too often for it, and
    what the user already rejected for this very session."""
    here = set(rejected_here)
    kept: list[Suggestion] = []
    dropped: list[tuple[Suggestion, str]] = []
    for s in suggestions:
        c = counts.get(s.tag, Counts())
        base = s.base if s.base is not None else s.confidence
        moved = replace(
            s,
            confidence=round(adjusted_confidence(base, c), 3),
            base=base,
            accepted=c.accepted,
            rejected=c.rejected,
        )
        if s.tag in here:
            dropped.append((moved, "rejected before for this session"))
        elif is_suppressed(c):
            dropped.append(
                (moved, f"rejected {c.rejected} of {c.accepted + c.rejected} times for {project_type}")
            )
        else:
            kept.append(moved)
    kept.sort(key=lambda s: (-s.confidence, s.tag))
    return Ranked(kept, dropped)


# ---------------------------------------------------------------------------------------------------
# Storage: suggestions shown and decisions taken (our own database; table created by migration 5)


def feedback_counts(conn: sqlite3.Connection, project_type: str) -> dict[str, Counts]:
    """Accepted/rejected counts per tag for one project type (``applied`` is not a human judgement)."""
    from llm_session_manager.store import tag_feedback

    return {tag: Counts(a, r) for tag, (a, r) in tag_feedback.decision_counts(conn, project_type).items()}


def rejected_for_session(conn: sqlite3.Connection, session_id: str) -> set[str]:
    """Tags whose latest decision for this session was a rejection."""
    from llm_session_manager.store import tag_feedback

    return tag_feedback.rejected_tags(conn, session_id)


def record_suggested(
    conn: sqlite3.Connection, session_id: str, project_type: str, suggestions: Sequence[Suggestion]
) -> None:
    """Note that these tags were suggested for this session (counted once per session, tag and source)."""
    from llm_session_manager.store import tag_feedback

    rows = [(s.tag, s.source, s.confidence) for s in suggestions]
    tag_feedback.record_suggested(conn, session_id, project_type, rows)


@dataclass(frozen=True)
class Decision:
    suggestion: Suggestion
    decision: str  # accepted | rejected | applied


def apply_decisions(
    conn: sqlite3.Connection, session_id: str, project_type: str, decisions: Sequence[Decision]
) -> list[str]:
    """In ONE transaction: add the accepted/applied tags to the session and record every decision.
    Returns the tags newly added."""
    from llm_session_manager.store import tag_feedback

    for d in decisions:
        if d.decision not in DECISIONS:
            raise ValueError(d.decision)
    rows = [(d.suggestion.tag, d.suggestion.source, d.decision, d.suggestion.confidence) for d in decisions]
    return tag_feedback.record_decisions(conn, session_id, project_type, rows)


@dataclass(frozen=True)
class StatRow:
    tag: str
    project_type: str | None  # None in per-tag totals
    source: str | None = None  # set only in per-source totals
    suggested: int = 0
    accepted: int = 0
    rejected: int = 0
    applied: int = 0

    @property
    def acceptance_rate(self) -> float | None:
        return Counts(self.accepted, self.rejected).rate

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"tag": self.tag} if self.tag else {}
        if self.project_type is not None:
            out["project_type"] = self.project_type
        if self.source is not None:
            out["source"] = self.source
        rate = self.acceptance_rate
        out.update(
            suggested=self.suggested,
            accepted=self.accepted,
            rejected=self.rejected,
            applied=self.applied,
            acceptance_rate=None if rate is None else round(rate, 3),
        )
        return out


def _add(a: StatRow, b: StatRow) -> StatRow:
    return replace(
        a,
        suggested=a.suggested + b.suggested,
        accepted=a.accepted + b.accepted,
        rejected=a.rejected + b.rejected,
        applied=a.applied + b.applied,
    )


def _decision_row(tag: str, ptype: str, decision: str, n: int) -> StatRow:
    return StatRow(
        tag,
        ptype,
        accepted=n if decision == "accepted" else 0,
        rejected=n if decision == "rejected" else 0,
        applied=n if decision == "applied" else 0,
    )


@dataclass(frozen=True)
class Stats:
    rows: list[StatRow]  # per tag and project type
    by_tag: list[StatRow]
    by_project_type: list[StatRow]
    by_source: list[StatRow]


def tag_stats(conn: sqlite3.Connection, tag: str | None = None, project_type: str | None = None) -> Stats:
    """Per tag and project type: sessions it was suggested for, and the decisions taken on it."""
    cells: dict[tuple[str, str], StatRow] = {}
    sources: dict[str, StatRow] = {}
    from llm_session_manager.store import tag_feedback

    for t, ptype, src, n in tag_feedback.suggestion_counts(conn):
        cell = StatRow(t, ptype, suggested=n)
        cells[(t, ptype)] = _add(cells.get((t, ptype), StatRow(t, ptype)), cell)
        sources[src] = _add(sources.get(src, StatRow("", None, src)), StatRow("", None, src, suggested=n))
    for t, ptype, src, decision, n in tag_feedback.decision_totals(conn):
        extra = _decision_row(t, ptype, decision, n)
        cells[(t, ptype)] = _add(cells.get((t, ptype), StatRow(t, ptype)), extra)
        sources[src] = _add(
            sources.get(src, StatRow("", None, src)), replace(extra, tag="", project_type=None)
        )
    rows = sorted(
        (
            r
            for r in cells.values()
            if (tag is None or r.tag == tag) and (project_type in (None, r.project_type))
        ),
        key=lambda r: (r.tag, r.project_type or ""),
    )
    by_tag: dict[str, StatRow] = {}
    by_type: dict[str, StatRow] = {}
    for r in rows:
        by_tag[r.tag] = _add(by_tag.get(r.tag, StatRow(r.tag, None)), replace(r, project_type=None))
        ptype = r.project_type or "unknown"
        by_type[ptype] = _add(by_type.get(ptype, StatRow("", ptype)), replace(r, tag=""))
    return Stats(
        rows,
        [by_tag[k] for k in sorted(by_tag)],
        [by_type[k] for k in sorted(by_type)],
        [sources[k] for k in sorted(sources)] if tag is None and project_type is None else [],
    )


# ---------------------------------------------------------------------------------------------------
# The session's own first prompts (read-only, bounded, any JSONL/JSON transcript)

_NOISE_PREFIXES = ("<", "Caveat:", "[Request interrupted")


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, dict) and block.get("type") in ("text", "input_text", None):
                text = block.get("text")
                if isinstance(text, str):
                    parts.append(text)
            elif isinstance(block, str):
                parts.append(block)
        return "\n".join(parts)
    return ""


def user_text(obj: Any) -> str | None:
    """The prompt text of one transcript record, when it is a user prompt (Claude Code, Codex, Gemini
    and similar layouts): a ``user`` record or message, not meta, not a side chain, not a tool result
    and not a command echo."""
    if (
        not isinstance(obj, dict)
        or obj.get("isMeta")
        or obj.get("isSidechain")
        or obj.get("isCompactSummary")
    ):
        return None
    candidate: Any = obj
    if isinstance(obj.get("payload"), dict):  # Codex: {"type": "response_item", "payload": {...}}
        candidate = obj["payload"]
    message = candidate.get("message") if isinstance(candidate.get("message"), dict) else candidate
    role = message.get("role") or candidate.get("role") or candidate.get("type")
    if role != "user":
        return None
    content = message.get("content", candidate.get("text"))
    if isinstance(content, list) and any(
        isinstance(b, dict) and b.get("type") == "tool_result" for b in content
    ):
        return None
    text = _content_text(content).strip()
    if not text or text.startswith(_NOISE_PREFIXES):
        return None
    return text[:PROMPT_CHARS]


def first_prompts(paths: Sequence[str], keep: int = PROMPTS_KEPT) -> list[str]:
    """The first ``keep`` user prompts of a session, from at most PROMPT_FILES transcript files, each read
    only up to PROMPT_MAX_BYTES / PROMPT_MAX_LINES. Unreadable files and lines are skipped."""
    out: list[str] = []
    main = [p for p in paths if "subagents" not in Path(p).parts]
    for path in main[:PROMPT_FILES]:
        for obj in _records(path):
            text = user_text(obj)
            if text and text not in out:
                out.append(text)
                if len(out) >= keep:
                    return out
    return out


def _records(path: str) -> Iterable[Any]:
    try:
        with open(path, "rb") as fh:
            head = fh.read(PROMPT_MAX_BYTES)
    except OSError:
        return []
    if path.endswith(".json"):
        try:
            data = json.loads(head.decode("utf-8", "replace"))
        except ValueError:
            return []
        messages = data.get("messages") if isinstance(data, dict) else data
        return messages if isinstance(messages, list) else []
    records: list[Any] = []
    for line in head.splitlines()[:PROMPT_MAX_LINES]:
        try:
            records.append(json.loads(line))
        except ValueError:
            continue
    return records


# ---------------------------------------------------------------------------------------------------
# What Claude is told (built here, redacted again by ai.py before sending)

CONTEXT_MAX_CHARS = 14000


def _tree(files: Sequence[str], limit: int = 60) -> list[str]:
    """Top-level folders with file counts, then shallow files first."""
    tops = Counter(f.split("/")[0] + "/" for f in files if "/" in f)
    lines = [f"{d} ({n} files)" for d, n in tops.most_common(25)]
    shallow = sorted(files, key=lambda f: (f.count("/"), f))
    return lines + shallow[: max(0, limit - len(lines))]


def project_context(profile: ProjectProfile, *, manifests: int = 3, readme_chars: int = 3000) -> list[str]:
    lines = [
        f"Project folder name: {profile.name or '(none)'}",
        f"Project type: {profile.project_type} ({profile.type_reason})",
    ]
    if not profile.exists:
        return lines
    count = f"{len(profile.files)}{'+' if profile.truncated else ''}"
    lines.append(f"Files: {count} ({'git-tracked' if profile.git else 'walked'})")
    frameworks = merge(framework_suggestions(profile))
    if frameworks:
        lines.append("Frameworks detected: " + ", ".join(f"{s.tag} ({s.reason})" for s in frameworks))
    lines.append("Structure:")
    lines += [f"  {line}" for line in _tree(profile.files)]
    for rel in list(profile.manifests)[:manifests]:
        lines.append(f"--- {rel} (start) ---")
        lines.append(profile.manifests[rel][:1500])
    if profile.readme:
        lines.append("--- README (start) ---")
        lines.append(profile.readme[:readme_chars])
    return lines


def ai_context(
    profile: ProjectProfile,
    title: str | None,
    prompts: Sequence[str],
    existing: Sequence[str],
    hints: Sequence[Suggestion] = (),
) -> str:
    """The text Claude gets for tagging or describing a session (bounded to CONTEXT_MAX_CHARS)."""
    lines = project_context(profile)
    lines.append(f"Session title: {title or '(none)'}")
    lines.append("Existing tags: " + (", ".join(existing) or "(none)"))
    if hints:
        lines.append("Heuristic tag ideas: " + ", ".join(s.tag for s in hints[:15]))
    for i, prompt in enumerate(prompts, 1):
        lines.append(f"--- user prompt {i} ---")
        lines.append(prompt[:800])
    text = "\n".join(lines)
    return text if len(text) <= CONTEXT_MAX_CHARS else text[: CONTEXT_MAX_CHARS - 1] + "…"


def clean_ai_tag(raw: str) -> str | None:
    """Claude's tag as one of ours (spaces become '-'), or None when it cannot be one."""
    from llm_session_manager.organise import normalise_tag

    candidate = "-".join(raw.strip().lower().split())
    try:
        return normalise_tag(candidate)
    except UsageError:
        return None
