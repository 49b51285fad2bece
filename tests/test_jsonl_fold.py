"""fold_lines: one reused buffer, lines decoded from views of it, the same lines as a split would give."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from llm_session_manager.agents import jsonl


def fold(raw: bytes, offset: int = 0, tmp: Path | None = None) -> tuple[list[object], int, int]:
    got: list[object] = []
    bad = [0]
    if tmp is not None:
        path = tmp / "f.jsonl"
        path.write_bytes(raw)
        with open(path, "rb") as fh:
            end = jsonl.fold_lines(fh, offset, got, list.append, lambda s: bad.__setitem__(0, bad[0] + 1))
    else:
        end = jsonl.fold_lines(
            io.BytesIO(raw), offset, got, list.append, lambda s: bad.__setitem__(0, bad[0] + 1)
        )
    return got, end, bad[0]


@pytest.mark.parametrize("chunk", [4096, 5000, 1 << 20])
def test_lines_across_buffer_refills_and_longer_than_the_buffer(
    tmp_path: Path, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(jsonl, "CHUNK", chunk)
    objs = [{"i": i, "pad": "x" * (i * 397 % 9000)} for i in range(60)]
    raw = b"".join(json.dumps(o).encode() + b"\n" for o in objs)
    raw += b"  \n\r\nnot json\n" + b'{"tail": "no newline yet"'
    got, end, bad = fold(raw, tmp=tmp_path)
    assert got == objs and bad == 1
    assert end == len(raw) - len(b'{"tail": "no newline yet"')


def test_crlf_offset_and_a_file_object_without_fileno() -> None:
    raw = b'{"a": 1}\r\n{"b": 2}\r\n[3]\n'
    assert fold(raw) == ([{"a": 1}, {"b": 2}, [3]], len(raw), 0)
    assert fold(raw, offset=10) == ([{"b": 2}, [3]], len(raw), 0)
