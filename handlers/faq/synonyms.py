"""Synonym groups that admins extend: words workers use for the same thing, in any language.

A group such as ``supervisor: [线长, 拉长, 组长, line leader, ...]`` lets a question that says
"拉长" find an entry written with "主管", and lets "my 组长" find English text too.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from handlers.faq.model import Problem
from handlers.faq.yamlsource import YNode, load_yaml_file

_GROUP_NAME_RE = re.compile(r"^[a-z0-9_-]+$")


@dataclass(frozen=True)
class SynonymTable:
    """Group name -> the words and phrases that mean the same thing (lower-cased)."""

    groups: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def load_synonyms(path: Path) -> tuple[SynonymTable, list[Problem]]:
    """Read ``synonyms.yaml``; a missing file means no synonyms, not an error."""
    if not path.exists():
        return SynonymTable(), []
    root, problems = load_yaml_file(path)
    if root is None:
        return SynonymTable(), problems
    return _parse(path, root, problems)


def _parse(path: Path, root: YNode, problems: list[Problem]) -> tuple[SynonymTable, list[Problem]]:
    if not isinstance(root.value, dict) or "groups" not in root.value:
        problems.append(Problem(path, root.line, "the file must start with 'groups:' followed by the groups"))
        return SynonymTable(), problems
    for key in root.value:
        if key != "groups":
            problems.append(Problem(path, root.key_line(key), f"unknown key '{key}'; only 'groups:' is allowed"))
    groups_node = root.value["groups"]
    if not isinstance(groups_node.value, dict):
        problems.append(
            Problem(path, groups_node.line, "under 'groups:' put one 'name:' line per group, then '- word' lines")
        )
        return SynonymTable(), problems
    groups: dict[str, tuple[str, ...]] = {}
    for name, node in groups_node.value.items():
        line = groups_node.key_line(name)
        if not _GROUP_NAME_RE.match(name):
            problems.append(
                Problem(path, line, f"group name '{name}' may use only small English letters, digits, '-' and '_'")
            )
            continue
        if not isinstance(node.value, list) or not node.value:
            problems.append(
                Problem(path, line, f"group '{name}' needs its words below it, each on a line starting with '- '")
            )
            continue
        words: list[str] = []
        for item in node.value:
            if not isinstance(item.value, str) or not item.value.strip():
                problems.append(Problem(path, item.line, f"group '{name}': each word must be plain text"))
                continue
            words.append(" ".join(item.value.lower().split()))
        groups[name] = tuple(dict.fromkeys(words))
    return SynonymTable(groups), problems
