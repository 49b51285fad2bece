"""Running a command on a real pseudo-terminal of a given size, for tests of what users see there."""

from __future__ import annotations

import fcntl
import os
import struct
import subprocess
import tempfile
import termios


def run_in_pty(
    command: list[str],
    env: dict[str, str],
    size: tuple[int, int],
    *,
    cwd: str | None = None,
    timeout: int = 60,
) -> tuple[int, bytes, bytes]:
    """``command``'s exit status, what it wrote on a terminal of ``size`` (columns, rows), and its stderr,
    kept in a file (a pipe could fill up and stall the child)."""
    cols, rows = size
    with tempfile.TemporaryFile() as errors:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        proc = subprocess.Popen(
            command, stdin=slave, stdout=slave, stderr=errors, env=env, cwd=cwd, close_fds=True
        )
        os.close(slave)
        chunks = []
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        os.close(master)
        status = proc.wait(timeout=timeout)
        errors.seek(0)
        return status, b"".join(chunks), errors.read()
