"""Every filesystem location lsm uses, computed once from the environment.

Nothing here touches the disk except ``Paths.ensure_data_dir``; the agents' own directories are only ever
read.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

APP_DIR_NAME = "llm-session-manager"


@dataclass(frozen=True)
class Paths:
    home: Path
    config_file: Path
    data_dir: Path
    claude_config_dirs: tuple[Path, ...]
    claude_dirs_from_env: bool
    # The environment the paths were computed from: readers take their own overrides from it
    # (CODEX_HOME, GEMINI_DATA_DIR…) so that nothing reads os.environ behind the caller's back.
    env: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def db_file(self) -> Path:
        return self.data_dir / "lsm.db"

    @property
    def claude_project_roots(self) -> tuple[Path, ...]:
        return tuple(d / "projects" for d in self.claude_config_dirs)

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir

    def as_dict(self) -> dict[str, object]:
        return {
            "config_file": str(self.config_file),
            "data_dir": str(self.data_dir),
            "database": str(self.db_file),
            "claude_config_dirs": [str(d) for d in self.claude_config_dirs],
        }


def xdg_config_home(env: Mapping[str, str], home: Path) -> Path:
    value = env.get("XDG_CONFIG_HOME")
    return Path(value) if value else home / ".config"


def _home(env: Mapping[str, str]) -> Path:
    value = env.get("HOME") or env.get("USERPROFILE")
    return Path(value) if value else Path.home()


def claude_dirs(env: Mapping[str, str], home: Path) -> tuple[tuple[Path, ...], bool]:
    """Claude Code config dirs: ``CLAUDE_CONFIG_DIR`` (comma-separated) or the XDG and legacy defaults.

    An entry of ``CLAUDE_CONFIG_DIR`` may name the ``projects`` folder itself; we accept that too.
    """
    raw = env.get("CLAUDE_CONFIG_DIR", "").strip()
    if raw:
        dirs: list[Path] = []
        for part in raw.split(","):
            part = part.strip()
            if not part:
                continue
            path = Path(part).expanduser()
            if path.name == "projects":
                path = path.parent
            if path not in dirs:
                dirs.append(path)
        return tuple(dirs), True
    xdg = env.get("XDG_CONFIG_HOME")
    xdg_claude = (Path(xdg) if xdg else home / ".config") / "claude"
    return (home / ".claude", xdg_claude), False


def resolve(env: Mapping[str, str] | None = None) -> Paths:
    env = os.environ if env is None else env
    home = _home(env)
    if env.get("LSM_CONFIG"):
        config_file = Path(env["LSM_CONFIG"]).expanduser()
    else:
        xdg_config = env.get("XDG_CONFIG_HOME")
        config_root = Path(xdg_config) if xdg_config else home / ".config"
        config_file = config_root / APP_DIR_NAME / "config.yaml"
    if env.get("LSM_HOME"):
        data_dir = Path(env["LSM_HOME"]).expanduser()
    else:
        xdg_data = env.get("XDG_DATA_HOME")
        data_dir = (Path(xdg_data) if xdg_data else home / ".local" / "share") / APP_DIR_NAME
    dirs, from_env = claude_dirs(env, home)
    return Paths(
        home=home,
        config_file=config_file,
        data_dir=data_dir,
        claude_config_dirs=dirs,
        claude_dirs_from_env=from_env,
        env=dict(env),
    )
