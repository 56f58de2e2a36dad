"""Editing a copy of the content folder and reading ``hapbot faq check``'s ``file:line:`` problems,
shared by the FAQ and quiz checker tests."""

from __future__ import annotations

from pathlib import Path


def line_of(path: Path, needle: str, after: int = 0) -> int:
    """The first line number past ``after`` whose text holds ``needle``."""
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if number > after and needle in line:
            return number
    raise AssertionError(f"{needle!r} not in {path}")


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def assert_problem(output: str, path: Path, line: int, *words: str) -> None:
    """The checker named ``path:line`` with a problem holding all ``words``."""
    prefix = f"{path}:{line}: "
    found = [item for item in output.splitlines() if item.startswith(prefix)]
    assert found, f"expected a problem at {prefix!r}, got:\n{output}"
    assert any(all(word in item for word in words) for item in found), output
