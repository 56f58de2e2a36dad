"""``hapbot ARGS`` run in this process, for tests of what a command answers rather than of the process.

It goes through the same ``bot.cli.main`` as ``python -m bot`` does, with the given working folder,
environment and stdin, and gives back what a process would: the exit code (``main``'s return, or
``SystemExit``'s), stdout, and stderr (an uncaught exception is printed there as a traceback, exit
1, as the interpreter would). Starting ``python -m bot`` costs about 1.5 s of imports each time;
tests/test_cli.py and tests/test_key_check.py keep real processes where the process itself is what
is tested (exit codes, no traceback, nothing written).

The command runs in a thread (it starts its own event loop) and borrows process-wide state while it
runs: the working folder, ``os.environ``, ``sys.stdin``/``stdout``/``stderr`` and the logging set-up,
all put back afterwards.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import sys
import traceback
from pathlib import Path

from bot.cli import main
from bot.logs import QUIET


def _run(args: list[str], cwd: Path, env: dict[str, str], stdin: bytes) -> tuple[int, str, str]:
    stdout, stderr = io.BytesIO(), io.BytesIO()
    streams = (
        io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"),
        io.TextIOWrapper(stdout, encoding="utf-8", write_through=True),
        io.TextIOWrapper(stderr, encoding="utf-8", errors="backslashreplace", write_through=True),
    )
    saved_streams = (sys.stdin, sys.stdout, sys.stderr)
    saved_env, saved_cwd = dict(os.environ), os.getcwd()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    saved_levels = {name: logging.getLogger(name).level for name in QUIET}
    os.environ.clear()
    os.environ.update(env)
    os.chdir(cwd)
    sys.stdin, sys.stdout, sys.stderr = streams
    try:
        try:
            code = main(args)
        except SystemExit as exit:  # argparse's usage errors
            code = exit.code if isinstance(exit.code, int) else int(exit.code is not None)
        except BaseException:
            traceback.print_exc()
            code = 1
        for stream in streams[1:]:
            stream.flush()
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved_streams
        os.chdir(saved_cwd)
        os.environ.clear()
        os.environ.update(saved_env)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
        for name, level in saved_levels.items():
            logging.getLogger(name).setLevel(level)
    return code, stdout.getvalue().decode("utf-8"), stderr.getvalue().decode("utf-8", errors="replace")


async def hapbot_in_process(
    args: list[str], cwd: Path, env: dict[str, str], stdin: bytes = b""
) -> tuple[int, str, str]:
    """``hapbot ARGS`` in ``cwd`` with exactly ``env``: (exit code, stdout, stderr)."""
    return await asyncio.wait_for(asyncio.to_thread(_run, args, cwd, env, stdin), timeout=60)
