"""Aider reader: sessions split from ``.aider.chat.history.md``, usage lines in every form, incremental
reading of the append-only file, finding the files under the search roots, and the real CLI."""

from __future__ import annotations

import json
import os
import shutil
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from conftest import FakeHome

from llm_session_manager.agents import aider as aider_mod
from llm_session_manager.agents.aider import (
    HISTORY_FILE,
    AiderReader,
    local_to_utc,
    parse_usage,
    split_sent,
)
from llm_session_manager.agents.base import FileState
from llm_session_manager.models import Session
from llm_session_manager.paths import resolve

FIX = Path(__file__).parent / "fixtures" / "aider"
EXCERPT = FIX / "chat-history.excerpt.md"
MODERN = FIX / "modern.md"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


def repo_with(root: Path, fixture: Path, name: str = "repo") -> Path:
    repo = root / name
    (repo / ".git").mkdir(parents=True)
    shutil.copy(fixture, repo / HISTORY_FILE)
    return repo / HISTORY_FILE


def read_all(reader: AiderReader) -> tuple[list[FileState], list[Session]]:
    states = [reader.read(path, key, None) for path, key, _ident in reader.sources()]
    return states, reader.sessions(states)


def by_start(sessions: list[Session]) -> dict[str, Session]:
    return {s.started_at.strftime("%Y-%m-%d %H:%M:%S") if s.started_at else "": s for s in sessions}


# --------------------------------------------------------------------------------------------------
# usage lines


@pytest.mark.parametrize(
    ("text", "row", "exact"),
    [
        # aider <= 0.5x: full numbers with thousands separators
        ("5,244 sent, 604 received. Cost: $0.02 request, $0.02 session.", [5244, 604, 0, 0], True),
        ("12,566 sent, 84 received. Cost: $0.0019 request, $0.0019 session.", [12566, 84, 0, 0], True),
        # newer: format_tokens() rounds (<10k: one decimal, else whole thousands)
        ("1.9k sent, 638 received.", [1900, 638, 0, 0], False),
        ("116 sent, 30 received.", [116, 30, 0, 0], True),
        ("216k sent, 108k cache write, 1.4k received. Cost: $0.75 message, $0.79 session.", None, False),
        # sent = prompt + write; 3200 - 2*2500 < 0, so prompt_tokens held the uncached part: 3200 - 2500
        ("3.2k sent, 2.5k cache write, 344 received. Cost: $0.02 message.", [700, 344, 2500, 0], False),
        # OpenAI / DeepSeek / current litellm: sent includes the hits: 12000 - 8100
        ("12k sent, 8.1k cache hit, 215 received.", [3900, 215, 0, 8100], False),
        ("2.1k sent, 1.5k cache write, 3.0k cache hit, 120 received.", [600, 120, 1500, 3000], False),
        ("1.2M sent, 3k received.", [1_200_000, 3000, 0, 0], False),
        ("45k cache write, 123k cache read, 1k sent, 2 received.", None, False),
    ],
)
def test_parse_usage_forms(text: str, row: list[int] | None, exact: bool) -> None:
    parsed = parse_usage(text)
    assert parsed is not None
    got_row, got_exact = parsed
    if row is not None:
        assert got_row == row
    assert got_exact is exact


def test_parse_usage_rejects_lines_without_figures() -> None:
    assert parse_usage("lots sent, many received.") is None
    assert parse_usage("") is None


def test_split_sent_tries_newest_litellm_reading_first() -> None:
    # prompt_tokens = uncached 13 + write 5402 (current litellm): sent = 13 + 5402 + 5402
    assert split_sent(10_817, 5402, 0) == 13
    # warm call: prompt_tokens = 13 + 5402 read; no write
    assert split_sent(5415, 0, 5402) == 13
    assert split_sent(100, 0, 0) == 100
    assert split_sent(0, 10, 10) == 0


# --------------------------------------------------------------------------------------------------
# the public fixture: aider's own history (v0.47, full numbers)


def excerpt_sessions(tmp_path: Path, tz: str = "UTC") -> dict[str, Session]:
    repo_with(tmp_path / "src", EXCERPT)
    _states, sessions = read_all(AiderReader([str(tmp_path / "src")], tz=tz))
    return by_start(sessions)


def test_excerpt_sessions_and_totals(tmp_path: Path) -> None:
    sessions = excerpt_sessions(tmp_path)
    # 12 headers; 8 of them are launches without any input or reply (--lint --commit runs, --show-repo,
    # a ^C at the prompt, four bare headers) and the text before the first header has no usage line.
    assert sorted(sessions) == [
        "2024-08-05 19:33:32",
        "2024-08-05 20:39:59",
        "2024-08-05 20:40:33",
        "2024-08-06 08:47:10",
    ]
    s = sessions["2024-08-05 19:33:32"]
    assert (s.tokens.input, s.tokens.output, s.tokens.source) == (5244, 604, "exact")
    assert s.model == "claude-3-5-sonnet-20240620"
    assert s.title == "Use the Spinner instead of the inlined custom spinner"
    # 3 inputs (the prompt, /diff, /ex); only the first goes to the model
    assert (s.messages_user, s.messages_assistant, s.tool_calls) == (1, 1, 1)

    s = sessions["2024-08-05 20:39:59"]
    assert (s.tokens.input, s.tokens.output) == (12566, 84)
    assert (s.model, s.messages_user, s.interruptions) == ("gpt-4o-mini", 2, 1)
    assert s.context_tokens == 12566

    s = sessions["2024-08-05 20:40:33"]  # "/help hi", then ^C: no reply
    assert (s.title, s.messages_user, s.tokens.total, s.context_tokens) == ("hi", 1, 0, None)


def test_excerpt_model_switch_session(tmp_path: Path) -> None:
    s = excerpt_sessions(tmp_path)["2024-08-06 08:47:10"]
    # claude-3-5-sonnet-20240620 (lines 1802, 2060): in 8,985 + 13,371 = 22,356; out 883 + 2,375 = 3,258
    # then `/model openrouter/anthropic/claude-3.5-sonnet` (lines 2260-2659):
    # in 17,121 + 12,673 + 13,611 + 14,462 + 15,765 + 14,490 = 88,122; out 188+144+104+349+224+165 = 1,174
    usage = {m.model: (m.input, m.output, m.cache_creation, m.cache_read) for m in s.model_usage}
    assert usage == {
        "claude-3-5-sonnet-20240620": (22356, 3258, 0, 0),
        "openrouter/anthropic/claude-3.5-sonnet": (88122, 1174, 0, 0),
    }
    assert (s.tokens.input, s.tokens.output, s.tokens.total) == (110478, 4432, 114910)
    assert s.model == "openrouter/anthropic/claude-3.5-sonnet"  # the main model announced last
    assert s.models == ("openrouter/anthropic/claude-3.5-sonnet", "claude-3-5-sonnet-20240620")
    # 20 inputs: 4 prompts, /add, /model, 2 × /test, /clear, 10 × /undo, /ex
    assert (s.messages_user, s.messages_assistant) == (4, 8)
    assert (s.tool_calls, s.api_errors, s.interruptions) == (8, 1, 1)  # "Applied edit" ×8, "Unexpected error"
    assert s.turns_since_compaction == 1  # one prompt since /clear
    assert (s.context_tokens, s.peak_context_tokens) == (14490, 17121)
    assert s.title == "Add tests for `subtree_only`."


def test_excerpt_whole_file_totals(tmp_path: Path) -> None:
    sessions = excerpt_sessions(tmp_path)
    # all 10 usage lines: in 5,244 + 12,566 + 22,356 + 88,122 = 128,288; out 604 + 84 + 3,258 + 1,174 = 5,120
    assert sum(s.tokens.input for s in sessions.values()) == 128_288
    assert sum(s.tokens.output for s in sessions.values()) == 5_120
    assert sum(s.messages_assistant for s in sessions.values()) == 10
    assert all(s.skipped_lines == 0 for s in sessions.values())
    assert {s.project_path for s in sessions.values()} == {str(tmp_path / "src" / "repo")}


def test_header_time_is_local_time(tmp_path: Path) -> None:
    # aider wrote 19:33:32 on a machine in California (PDT, UTC-7)
    s = excerpt_sessions(tmp_path, tz="America/Los_Angeles")["2024-08-06 02:33:32"]
    assert s.started_at == utc("2024-08-06 02:33:32")
    assert local_to_utc("2024-01-15 09:00:00", "Europe/Paris") == utc("2024-01-15 08:00:00")
    assert local_to_utc("2024-07-15 09:00:00", ":Europe/Paris") == utc("2024-07-15 07:00:00")
    assert local_to_utc("2024-07-15 09:00:00", "/usr/share/zoneinfo/UTC") == utc("2024-07-15 09:00:00")
    # no usable zone name: the machine's local zone
    naive = datetime(2024, 7, 15, 9, 0, 0)
    assert local_to_utc("2024-07-15 09:00:00", "Not/AZone") == naive.astimezone().astimezone(timezone.utc)
    assert local_to_utc("not a time", "UTC") is None


def test_last_activity_only_known_for_the_open_session(tmp_path: Path) -> None:
    history = repo_with(tmp_path / "src", EXCERPT)
    os.utime(history, (1_800_000_000, 1_800_000_000))
    sessions = by_start(read_all(AiderReader([str(tmp_path / "src")], tz="UTC"))[1])
    # closed sessions: only the start time is known
    assert sessions["2024-08-05 19:33:32"].last_activity == utc("2024-08-05 19:33:32")
    # the last session ran until the file's last write
    last = sessions["2024-08-06 08:47:10"]
    assert last.last_activity == datetime.fromtimestamp(1_800_000_000, timezone.utc)


def test_native_ids_are_stable_and_distinct(tmp_path: Path) -> None:
    repo_with(tmp_path / "src", EXCERPT)
    reader = AiderReader([str(tmp_path / "src")], tz="UTC")
    first = [s.id for s in read_all(reader)[1]]
    again = [s.id for s in read_all(reader)[1]]
    assert first == again
    assert len(set(first)) == len(first) == 4
    assert all(i.startswith("aider:") and len(i) == len("aider:") + 16 for i in first)


# --------------------------------------------------------------------------------------------------
# the hand-made modern file


def test_modern_rounded_cache_and_model_lines(tmp_path: Path) -> None:
    repo_with(tmp_path / "src", MODERN)
    sessions = by_start(read_all(AiderReader([str(tmp_path / "src")], tz="UTC"))[1])
    s = sessions["2025-03-10 09:15:02"]
    # three usage lines (the "> Tokens: 9,999 …" quoted by the model has no trailing break: ignored)
    #   3.2k sent, 2.5k write, 344 out            -> in 700,  cw 2500
    #   12k sent, 8.1k hit, 215 out               -> in 3900, cr 8100
    #   2.1k sent, 1.5k write, 3.0k hit, 120 out  -> in 600,  cw 1500, cr 3000
    assert (s.tokens.input, s.tokens.output, s.tokens.cache_creation, s.tokens.cache_read) == (
        5200,
        679,
        4000,
        11100,
    )
    assert s.tokens.total == 20979
    assert s.tokens.source == "rounded"  # abbreviated figures: never presented as exact
    assert s.model == "anthropic/claude-3-7-sonnet-20250219"
    # inputs: /add, the two-line prompt, /ask …, /clear, rename …  ("#### Step 2" is model text)
    assert (s.messages_user, s.messages_assistant) == (3, 3)
    assert s.title == "Make the greeting configurable"
    assert (s.tool_calls, s.interruptions, s.api_errors) == (1, 1, 0)
    assert s.turns_since_compaction == 1
    assert (s.context_tokens, s.peak_context_tokens) == (600 + 1500 + 3000, 3900 + 8100)

    s = sessions["2025-03-10 14:00:00"]
    assert (s.tokens.input, s.tokens.output, s.tokens.source, s.model) == (812, 9, "exact", "gpt-4o")
    # "litellm.RateLimitError" counts once; aider's explanation and "Retrying" lines do not
    assert s.api_errors == 1


# --------------------------------------------------------------------------------------------------
# incremental reading and damaged files


def test_incremental_append_matches_full_read(tmp_path: Path) -> None:
    history = tmp_path / "repo" / HISTORY_FILE
    history.parent.mkdir()
    content = EXCERPT.read_bytes()
    # cut in the middle of a line inside the last (open) session, just after the /model switch
    cut = content.index(b"#### /test pytest tests/basic/test_repomap.py") + 12
    history.write_bytes(content[:cut])
    reader = AiderReader([str(tmp_path)], tz="UTC")
    first = reader.read(str(history), "", None)
    assert first.data["tail_partial"] is True  # the half-written line waits
    assert first.offset == content.rindex(b"\n", 0, cut) + 1
    open_session = reader.sessions([first])[-1]
    assert open_session.skipped_lines == 1
    assert open_session.tokens.input == 22356  # only the usage lines before the cut

    with open(history, "ab") as fh:
        fh.write(content[cut:])
    grown = reader.read(str(history), "", first)
    full = reader.read(str(history), "", None)
    assert grown.offset == full.offset == len(content)
    assert reader.sessions([grown]) == reader.sessions([full])
    assert reader.sessions([grown])[-1].tokens.input == 110478


def test_incremental_read_continues_from_offset(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    history = repo_with(tmp_path, MODERN)
    reader = AiderReader([str(tmp_path)], tz="UTC")
    state = reader.read(str(history), "", None)
    with open(history, "a", encoding="utf-8") as fh:
        fh.write("#### and one more  \n\n> Tokens: 1,000 sent, 10 received.  \n")
    seen: list[int] = []
    real = aider_mod._read_lines

    def spy(buf: bytes, data: dict[str, object]) -> int:
        seen.append(len(buf))
        return real(buf, data)

    monkeypatch.setattr(aider_mod, "_read_lines", spy)
    grown = reader.read(str(history), "", state)
    assert seen == [len("#### and one more  \n\n> Tokens: 1,000 sent, 10 received.  \n")]
    last = reader.sessions([grown])[-1]
    assert (last.tokens.input, last.tokens.output, last.messages_user) == (1812, 19, 2)
    assert last.tokens.source == "exact"


def test_rewritten_file_is_read_again(tmp_path: Path) -> None:
    history = repo_with(tmp_path, EXCERPT)
    reader = AiderReader([str(tmp_path)], tz="UTC")
    state = reader.read(str(history), "", None)
    history.write_bytes(MODERN.read_bytes())  # same inode, new content (head differs)
    again = reader.read(str(history), "", state)
    starts = sorted(s.started_at.isoformat() for s in reader.sessions([again]) if s.started_at)
    assert starts == ["2025-03-10T09:15:02+00:00", "2025-03-10T14:00:00+00:00"]
    # same head but shorter than what was consumed: read again too
    history.write_bytes(MODERN.read_bytes()[:200])
    assert reader.read(str(history), "", again).offset <= 200


def test_garbage_and_bad_usage_lines(tmp_path: Path) -> None:
    history = tmp_path / "repo" / HISTORY_FILE
    history.parent.mkdir()
    history.write_bytes(
        b"\n# aider chat started at 2025-01-02 03:04:05\n\n"
        b"> Model: gpt-4o with diff edit format  \n"
        b"#### <blank>  \n"
        b"\n"
        b"#### hi  \n"
        b"\xff\xfe\x00 binary junk \x80\n"
        b"> Tokens: lots sent, many received.  \n"
        b"> Tokens: 10 sent, 1 received.  \n"
        b"# aider chat started at not-a-time\n"
    )
    s = read_all(AiderReader([str(tmp_path)], tz="UTC"))[1]
    assert len(s) == 1
    assert (s[0].tokens.input, s[0].tokens.output, s[0].skipped_lines) == (10, 1, 1)
    assert (s[0].messages_user, s[0].title) == (1, "hi")  # an empty input is logged as "<blank>"


def test_same_second_headers_are_two_sessions(tmp_path: Path) -> None:
    history = tmp_path / "repo" / HISTORY_FILE
    history.parent.mkdir()
    block = "\n# aider chat started at 2025-01-02 03:04:05\n\n#### hi  \n> Tokens: 5 sent, 1 received.  \n"
    history.write_text(block * 2, encoding="utf-8")
    sessions = read_all(AiderReader([str(tmp_path)], tz="UTC"))[1]
    assert len({s.id for s in sessions}) == 2
    assert all(s.tokens.total == 6 for s in sessions)


def test_text_before_the_first_header_counts_only_with_usage(tmp_path: Path) -> None:
    history = tmp_path / "repo" / HISTORY_FILE
    history.parent.mkdir()
    history.write_text("#### cut-off session  \n> Tokens: 7 sent, 3 received.  \n", encoding="utf-8")
    (session,) = read_all(AiderReader([str(tmp_path)], tz="UTC"))[1]
    assert (session.started_at, session.tokens.total, session.title) == (None, 10, "cut-off session")
    assert session.last_activity is not None  # the only (open) session: the file's mtime


# --------------------------------------------------------------------------------------------------
# finding history files


def layout(home: Path) -> dict[str, Path]:
    """A home folder with histories where aider writes them, and some it must not find."""
    spots = {
        "top": repo_with(home, MODERN, "proj"),
        "nested": repo_with(home / "src" / "work", MODERN, "app"),  # depth 3
        "deep": repo_with(home / "a" / "b" / "c", MODERN, "d"),  # depth 4
        "plain": home / "scratch" / HISTORY_FILE,  # no git: aider ran in a plain folder
        "in_repo": home / "proj" / "sub" / HISTORY_FILE,  # below a repository root: not searched
        "hidden": home / ".local" / "x" / HISTORY_FILE,
        "modules": home / "web" / "node_modules" / "pkg" / HISTORY_FILE,
    }
    for key in ("plain", "in_repo", "hidden", "modules"):
        spots[key].parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(MODERN, spots[key])
    (home / "loop").symlink_to(home)
    return spots


def found(reader: AiderReader) -> set[str]:
    return {path for path, _key, _ident in reader.sources()}


def test_walk_finds_repository_histories(tmp_path: Path) -> None:
    home = tmp_path / "home"
    spots = layout(home)
    paths = found(AiderReader([str(home)], max_depth=3))
    assert paths == {str(spots[k]) for k in ("top", "nested", "plain")}
    assert str(spots["deep"]) in found(AiderReader([str(home)], max_depth=4))
    assert found(AiderReader([str(home)], max_depth=0)) == set()


def test_home_that_is_a_git_repository_is_still_searched(tmp_path: Path) -> None:
    home = tmp_path / "home"
    spots = layout(home)
    (home / ".git").mkdir()  # dotfiles kept in git
    shutil.copy(MODERN, home / HISTORY_FILE)
    paths = found(AiderReader([str(home)], max_depth=3))
    assert str(home / HISTORY_FILE) in paths and str(spots["nested"]) in paths


def test_walk_budget_cuts_deepest_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    spots = layout(home)
    # listed breadth first: home; proj, src, a, scratch, web; work, b; then app, c at depth 3
    monkeypatch.setattr(aider_mod, "MAX_DIRS", 1 + 5 + 2)
    assert found(AiderReader([str(home)], max_depth=3)) == {str(spots["top"]), str(spots["plain"])}
    monkeypatch.setattr(aider_mod, "MAX_DIRS", 1 + 5 + 2 + 2)  # a/b/c sorts before src/work/app
    assert str(spots["nested"]) in found(AiderReader([str(home)], max_depth=3))


def test_named_file_and_extra_dirs(tmp_path: Path) -> None:
    home = tmp_path / "home"
    spots = layout(home)
    named = tmp_path / "elsewhere" / "my-history.md"
    named.parent.mkdir()
    shutil.copy(MODERN, named)
    assert found(AiderReader([str(named)])) == {str(named)}
    # a running aider's cwd deep inside a repository: the history is at the git root
    cwd = home / "src" / "work" / "app" / "pkg" / "sub"
    cwd.mkdir(parents=True)
    reader = AiderReader([], extra_dirs=[str(cwd)], home=str(home))
    assert found(reader) == {str(spots["nested"])}
    assert reader.roots() == [(str(cwd), True)]


def test_file_reached_twice_is_read_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    spots = layout(home)
    reader = AiderReader([str(home), str(home / "proj")], extra_dirs=[str(home / "proj")])
    paths = [p for p, _k, _i in reader.sources()]
    assert paths.count(str(spots["top"])) == 1


def test_roots_from_config_and_environment(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {"HOME": str(home), "LSM_HOME": str(tmp_path / "data")}
    paths = resolve(env)
    reader = AiderReader.from_config(paths, {})
    assert (reader.search_roots, reader.max_depth) == ((str(home),), 3)
    cfg = {"aider": {"search_roots": ["~/code", "/srv/repos", "~"], "max_depth": 5}}
    reader = AiderReader.from_config(paths, cfg)
    assert reader.search_roots == (str(home / "code"), "/srv/repos", str(home))
    assert reader.max_depth == 5
    assert AiderReader.from_config(paths, {"aider": {"search_roots": [], "max_depth": 2}}).search_roots == ()
    # LSM_AIDER_ROOTS replaces the configured roots
    env["LSM_AIDER_ROOTS"] = os.pathsep.join(["~/a", "", str(tmp_path / "b")])
    env["TZ"] = "Asia/Tokyo"
    reader = AiderReader.from_config(resolve(env), cfg)
    assert reader.search_roots == (str(home / "a"), str(tmp_path / "b"))
    assert reader.tz == "Asia/Tokyo"
    assert reader.roots() == [(str(home / "a"), False), (str(tmp_path / "b"), False)]


def test_reader_is_picklable(tmp_path: Path) -> None:
    import pickle

    reader = AiderReader([str(tmp_path)], 2, [str(tmp_path)], "UTC", str(tmp_path))
    copy = pickle.loads(pickle.dumps(reader))
    assert vars(copy) == vars(reader)


# --------------------------------------------------------------------------------------------------
# end to end: the real CLI in a fake HOME


def test_cli_lists_aider_sessions(tmp_path: Path) -> None:
    home = tmp_path / "home"
    excerpt = repo_with(home / "src", EXCERPT, "aider")
    modern = repo_with(home, MODERN, "webapp")
    fake = FakeHome(home=home, claude=home / ".claude", lsm_home=tmp_path / "lsm-data")

    def aider_sessions(**env: str) -> dict[str, dict[str, Any]]:
        result = fake.run("list", "--all", "--format", "json", TZ="UTC", **env)
        assert result.returncode == 0, result.stderr
        rows = json.loads(result.stdout)
        return {r["started_at"]: r for r in rows if r["agent"] == "aider"}

    # default configuration: HOME is searched, 3 folders deep
    rows = aider_sessions()
    assert len(rows) == 6
    s = rows["2024-08-06T08:47:10Z"]
    assert s["tokens"] == {
        "input": 110478,
        "output": 4432,
        "cache_creation": 0,
        "cache_read": 0,
        "total": 114910,
        "source": "exact",
    }
    assert (s["tokens_source"], s["model"]) == ("exact", "openrouter/anthropic/claude-3.5-sonnet")
    assert s["project_path"] == str(excerpt.parent)
    s = rows["2025-03-10T09:15:02Z"]
    assert (s["tokens"]["total"], s["tokens_source"]) == (20979, "rounded")
    assert (s["model"], s["project_path"]) == ("anthropic/claude-3-7-sonnet-20250219", str(modern.parent))
    assert rows["2024-08-05T19:33:32Z"]["cost_usd"] is not None  # claude-3-5-sonnet is priced

    # LSM_AIDER_ROOTS replaces the search: only the webapp repository
    rows = aider_sessions(LSM_AIDER_ROOTS=str(modern.parent))
    assert sorted(rows) == ["2025-03-10T09:15:02Z", "2025-03-10T14:00:00Z"]
