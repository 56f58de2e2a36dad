"""Turn the ``faq/`` folder into entries, site overrides and synonyms, or into a list of problems.

Every problem names the file and line and says how to fix it, because the people who edit
these files are HR staff, and because a broken edit must never reach workers: the caller
keeps serving the last good content whenever this returns problems.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from handlers.faq.model import LANGS, Entry, Problem
from handlers.faq.synonyms import SynonymTable, load_synonyms
from handlers.faq.yamlsource import YNode, load_yaml_file

ENTRIES_DIR = "entries"
SITES_DIR = "sites"
SYNONYMS_FILE = "synonyms.yaml"
ENTRY_KEYS: tuple[str, ...] = ("id", "title", "answer", "questions", "keywords", "related")
_REQUIRED = ("id", "title", "answer", "questions")
_OVERRIDE_REQUIRED = ("id", "title", "answer")
_ID_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass(frozen=True)
class Content:
    """Everything read from one content folder; ``problems`` empty means it is safe to serve."""

    entries: Mapping[str, Entry]
    overrides: Mapping[str, Mapping[str, Entry]]
    synonyms: SynonymTable
    problems: tuple[Problem, ...] = field(default=())


def load_content(directory: Path) -> Content:
    """Read ``entries/``, ``sites/<site_id>/`` and ``synonyms.yaml`` under ``directory``."""
    problems: list[Problem] = []
    entries_dir = directory / ENTRIES_DIR
    if not entries_dir.is_dir():
        problems.append(
            Problem(entries_dir, 1, "the folder of FAQ entries is missing; create it and put one .yaml per entry")
        )
    entries = _load_folder(entries_dir, _REQUIRED, problems)
    by_id = _unique_by_id(entries, problems)
    for entry in by_id.values():
        _check_related(entry, by_id, problems)

    overrides: dict[str, dict[str, Entry]] = {}
    sites_dir = directory / SITES_DIR
    if sites_dir.is_dir():
        for site_dir in sorted(p for p in sites_dir.iterdir() if p.is_dir()):
            site_entries = _unique_by_id(_load_folder(site_dir, _OVERRIDE_REQUIRED, problems), problems)
            for entry in site_entries.values():
                if entry.id not in by_id:
                    problems.append(
                        Problem(
                            entry.source,
                            1,
                            f"site '{site_dir.name}' overrides '{entry.id}', but no entry in "
                            f"{ENTRIES_DIR}/ has that id; fix the id or remove this file",
                        )
                    )
                _check_related(entry, by_id, problems)
            overrides[site_dir.name] = site_entries

    synonyms, synonym_problems = load_synonyms(directory / SYNONYMS_FILE)
    problems.extend(synonym_problems)
    return Content(by_id, overrides, synonyms, tuple(problems))


def read_yaml_folder(folder: Path, kind: str, problems: list[Problem]) -> list[tuple[Path, YNode]]:
    """The parsed ``.yaml`` files of ``folder`` in name order (none if it is missing). A ``.yml`` file
    or one that does not parse is a problem naming the file; hidden files are skipped. ``kind`` names
    the files in messages ("FAQ files", "quiz files"); the FAQ and the quizzes share this."""
    if not folder.is_dir():
        return []
    parsed: list[tuple[Path, YNode]] = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() == ".yml":
            problems.append(Problem(path, 1, f"{kind} must end in .yaml; rename it"))
            continue
        if path.suffix.lower() != ".yaml" or path.name.startswith("."):
            continue
        root, file_problems = load_yaml_file(path)
        problems.extend(file_problems)
        if root is not None:
            parsed.append((path, root))
    return parsed


def _load_folder(folder: Path, required: tuple[str, ...], problems: list[Problem]) -> list[Entry]:
    files = read_yaml_folder(folder, "FAQ files", problems)
    parsed = (parse_entry(path, root, required, problems) for path, root in files)
    return [entry for entry in parsed if entry is not None]


def _unique_by_id(entries: list[Entry], problems: list[Problem]) -> dict[str, Entry]:
    by_id: dict[str, Entry] = {}
    for entry in entries:
        first = by_id.get(entry.id)
        if first is None:
            by_id[entry.id] = entry
            continue
        for here, other in ((first, entry), (entry, first)):
            problems.append(
                Problem(
                    here.source,
                    1,
                    f"id '{entry.id}' is also used by {other.source.name}; every entry needs its own id: "
                    "change one of them",
                )
            )
    return by_id


def _check_related(entry: Entry, by_id: Mapping[str, Entry], problems: list[Problem]) -> None:
    for related_id in entry.related:
        if related_id not in by_id:
            hint = difflib.get_close_matches(related_id, list(by_id), n=1)
            suggestion = f"did you mean '{hint[0]}'?" if hint else "check the spelling"
            problems.append(
                Problem(
                    entry.source,
                    entry.answer_lines.get(f"related:{related_id}", 1),
                    f"'related' lists '{related_id}', which is not an entry id; {suggestion}",
                )
            )


def parse_entry(path: Path, root: YNode, required: tuple[str, ...], problems: list[Problem]) -> Entry | None:
    """Check one entry file's structure; return the entry, or None when it cannot be used."""
    if not isinstance(root.value, dict):
        problems.append(Problem(path, root.line, "an entry must be a list of 'key: value' lines starting with 'id: '"))
        return None
    before = len(problems)
    mapping = root.value
    for key in mapping:
        if key not in ENTRY_KEYS:
            problems.append(Problem(path, root.key_line(key), _unknown_key(key, ENTRY_KEYS)))
    for key in required:
        if key not in mapping:
            problems.append(Problem(path, root.line, f"'{key}:' is missing; add it (see faq/README.md)"))
    entry_id = _text(path, mapping.get("id"), "id", problems) if "id" in mapping else None
    if entry_id is not None and not _ID_RE.match(entry_id):
        problems.append(
            Problem(
                path,
                mapping["id"].line,
                f"id '{entry_id}' may use only small English letters, digits and '-' (like 'how-to-report')",
            )
        )
    lines: dict[str, int] = {}
    titles = _per_lang_text(path, root, "title", "title" in required, problems, lines)
    answers = _per_lang_text(path, root, "answer", "answer" in required, problems, lines)
    questions = _per_lang_list(path, root, "questions", "questions" in required, problems)
    keywords = _per_lang_list(path, root, "keywords", False, problems)
    related: list[str] = []
    if "related" in mapping:
        for node in _list_items(path, mapping["related"], "related", problems):
            value = _text(path, node, "related", problems)
            if value is not None:
                related.append(value)
                lines[f"related:{value}"] = node.line
    if len(problems) > before or entry_id is None:
        return None
    return Entry(
        id=entry_id,
        titles=titles,
        answers=answers,
        questions={lang: tuple(items) for lang, items in questions.items()},
        keywords={lang: tuple(items) for lang, items in keywords.items()},
        related=tuple(related),
        source=path,
        answer_lines=lines,
    )


def _unknown_key(key: str, allowed: tuple[str, ...]) -> str:
    hint = difflib.get_close_matches(key, allowed, n=1)
    suggestion = f"did you mean '{hint[0]}'? " if hint else ""
    return f"unknown key '{key}'; {suggestion}allowed keys here: {', '.join(allowed)}"


def _text(path: Path, node: YNode | None, what: str, problems: list[Problem]) -> str | None:
    if node is None or node.value is None or (isinstance(node.value, str) and not node.value.strip()):
        line = node.line if node is not None else 1
        problems.append(Problem(path, line, f"'{what}' is empty; write the text after the colon"))
        return None
    if not isinstance(node.value, str):
        problems.append(Problem(path, node.line, f"'{what}' must be plain text, not a list or a group"))
        return None
    return node.value.strip()


def _lang_map(path: Path, root: YNode, key: str, required: bool, problems: list[Problem]) -> dict[str, YNode] | None:
    assert isinstance(root.value, dict)
    node = root.value.get(key)
    if node is None:
        return None
    if not isinstance(node.value, dict):
        problems.append(
            Problem(path, node.line, f"'{key}' needs one line per language below it: '  zh: ...' and '  en: ...'")
        )
        return None
    for lang in node.value:
        if lang not in LANGS:
            problems.append(Problem(path, node.key_line(lang), _unknown_key(lang, LANGS)))
    if required:
        for lang in LANGS:
            if lang not in node.value:
                name = "Chinese" if lang == "zh" else "English"
                problems.append(
                    Problem(
                        path,
                        root.key_line(key),
                        f"'{key}' has no {name} ('{lang}:') version; add '  {lang}: ...' under '{key}:'",
                    )
                )
    return node.value


def _per_lang_text(
    path: Path, root: YNode, key: str, required: bool, problems: list[Problem], lines: dict[str, int]
) -> dict[str, str]:
    result: dict[str, str] = {}
    for lang, node in (_lang_map(path, root, key, required, problems) or {}).items():
        if lang in LANGS:
            value = _text(path, node, f"{key} {lang}", problems)
            if value is not None:
                result[lang] = value
                lines[f"{key}:{lang}"] = node.line
    return result


def _per_lang_list(path: Path, root: YNode, key: str, required: bool, problems: list[Problem]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for lang, node in (_lang_map(path, root, key, required, problems) or {}).items():
        if lang not in LANGS:
            continue
        items = [
            value
            for item in _list_items(path, node, f"{key} {lang}", problems)
            if (value := _text(path, item, f"{key} {lang}", problems)) is not None
        ]
        if required and not items:
            problems.append(Problem(path, node.line, f"'{key} {lang}' needs at least one line starting with '- '"))
        result[lang] = items
    return result


def _list_items(path: Path, node: YNode, what: str, problems: list[Problem]) -> list[YNode]:
    if node.value is None:
        return []
    if not isinstance(node.value, list):
        problems.append(
            Problem(path, node.line, f"'{what}' must be a list: put each item on its own line starting with '- '")
        )
        return []
    return node.value
