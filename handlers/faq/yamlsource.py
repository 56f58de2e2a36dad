"""Read an admin-edited YAML file and keep the line of every value.

Admins edit these files in Notepad, WPS or a phone app. The mistakes they really make
(a GBK-saved file, a full-width colon, a tab, no space after a colon) confuse the YAML
parser into errors on the wrong line, so they are caught here first and reported on the
line where the admin has to look.

The file watcher reloads every edit, so a pasted file must not be able to take the bot down:
files are read only up to :data:`MAX_FILE_BYTES`, and YAML anchors and aliases (which our files
never need, and which make "billion laughs" bombs and endless loops) and nesting deeper than
:data:`MAX_DEPTH` are refused as the parser meets them, before anything is built from them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from handlers.faq.model import Problem

_BLOCK_START_RE = re.compile(r"^(\s*)(?:-\s+)?[^#\s][^#]*:\s*[|>][-+0-9]*\s*(?:#.*)?$")
_FULLWIDTH_KEY_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_-]*)\s*：")
_NO_SPACE_RE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_-]*):(?![\s/])(\S)")
SCHEMA_KEYS = frozenset(
    {"id", "title", "answer", "questions", "keywords", "related", "zh", "en", "groups"}
    | {"teaches", "order", "pass_mark", "question", "options", "explanation", "correct"}  # quiz files
)
"""Keys of our files (FAQ entries, synonyms, quizzes); a missing space after one of these is certainly a
mistake, not text."""
_NULL_TAG = "tag:yaml.org,2002:null"
MAX_FILE_BYTES = 256 * 1024
"""Our largest file (synonyms.yaml) is about 20 KB; this leaves room and bounds the parse to ~1 s."""
MAX_DEPTH = 20
"""Nesting levels of lists and mappings; our files use at most five."""


class _Refused(Exception):
    """A construct our files never use, met while composing: stop before building anything from it."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


class _ContentLoader(yaml.SafeLoader):
    """The safe loader, refusing anchors, aliases and deep nesting as the composer meets them.

    Refusing at the first anchor keeps an alias bomb from ever being expanded, and the depth bound
    keeps the composer's recursion (and ours in ``_convert``) far from Python's limit.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event: yaml.Event = self.peek_event()  # type: ignore[no-untyped-call]
        line = event.start_mark.line + 1 if event.start_mark is not None else 1
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(
                line,
                f"'*{event.anchor}' repeats a value with a YAML alias, which FAQ files do not allow; "
                "write the value out in full",
            )
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise _Refused(
                line,
                f"'&{anchor}' names a value with a YAML anchor, which FAQ files do not allow; "
                "remove it and write repeated values out in full",
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise _Refused(
                    line, f"the lists and sections here are nested more than {MAX_DEPTH} deep; FAQ files need a few"
                )
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


@dataclass
class YNode:
    """A YAML value with the 1-based line it starts on (mappings also keep their keys' lines)."""

    value: str | list[YNode] | dict[str, YNode] | None
    line: int
    key_lines: dict[str, int] = field(default_factory=dict)

    def key_line(self, key: str) -> int:
        """Line of ``key`` in this mapping, or of the mapping itself when the key is absent."""
        return self.key_lines.get(key, self.line)


def read_text(path: Path) -> tuple[str | None, list[Problem]]:
    """Decode ``path`` as UTF-8 (with or without BOM); explain a GBK/ANSI file instead of failing."""
    try:
        with path.open("rb") as file:
            raw = file.read(MAX_FILE_BYTES + 1)
    except OSError as error:
        return None, [Problem(path, 1, f"cannot read the file ({error.strerror}); check that it exists")]
    if len(raw) > MAX_FILE_BYTES:
        return None, [
            Problem(
                path,
                1,
                f"the file is larger than {MAX_FILE_BYTES // 1024} KB, far more than an FAQ file needs; "
                "check that the right file was saved here, or split it",
            )
        ]
    try:
        return raw.decode("utf-8-sig"), []
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
    try:
        raw.decode("gb18030")
        looks_like = "it looks like GBK/ANSI, the Chinese Windows default"
    except UnicodeDecodeError:
        looks_like = "its encoding is not recognised"
    return None, [
        Problem(
            path,
            line,
            f"this file is not saved as UTF-8 ({looks_like}); open it and save as UTF-8 "
            "(in Notepad: File > Save as > Encoding: UTF-8)",
        )
    ]


def lint_lines(path: Path, text: str) -> list[Problem]:
    """Find tabs, full-width colons and missing spaces where YAML needs ``key: value``."""
    problems: list[Problem] = []
    block_indent: int | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.lstrip(" \t")
        indent_text = line[: len(line) - len(stripped)]
        if block_indent is not None:
            if not stripped or len(indent_text.expandtabs(1)) > block_indent:
                if "\t" in indent_text:
                    problems.append(_tab_problem(path, number))
                continue
            block_indent = None
        if not stripped or stripped.startswith("#"):
            continue
        if "\t" in indent_text:
            problems.append(_tab_problem(path, number))
        fullwidth = _FULLWIDTH_KEY_RE.match(line)
        if fullwidth:
            problems.append(
                Problem(
                    path,
                    number,
                    f"'{fullwidth.group(1)}' is followed by a Chinese full-width colon '：'; "
                    "type an English colon and a space instead, like 'key: value'",
                )
            )
            continue
        no_space = _NO_SPACE_RE.match(line)
        if no_space and no_space.group(1) in SCHEMA_KEYS:
            problems.append(
                Problem(
                    path,
                    number,
                    f"no space after the colon of '{no_space.group(1)}'; write '{no_space.group(1)}: ' "
                    "with a space after the colon",
                )
            )
        block = _BLOCK_START_RE.match(line)
        if block:
            block_indent = len(block.group(1).expandtabs(1))
    return problems


def _tab_problem(path: Path, line: int) -> Problem:
    return Problem(path, line, "a tab is used for indentation; YAML needs spaces: replace the tab with spaces")


def _compose_with_libyaml(text: str) -> tuple[bool, yaml.Node | None]:
    """(True, the nodes of ``text``) composed by libyaml (several times faster than the pure-Python
    parser), or (False, None) when the pure-Python loader must decide: libyaml is missing, the text is not valid
    YAML, or it has an anchor, an alias or deep nesting (whose refusal :class:`_ContentLoader`
    words). The events are checked before anything is composed, so no alias is ever expanded."""
    if not getattr(yaml, "__with_libyaml__", False):
        return False, None
    depth = 0
    try:
        for event in yaml.parse(text, Loader=yaml.CSafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
                return False, None
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth >= MAX_DEPTH - 2:
                    return False, None
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
        root: yaml.Node | None = yaml.compose(text, Loader=yaml.CSafeLoader)
    except yaml.YAMLError:
        return False, None
    return True, root


def parse_yaml(path: Path, text: str) -> tuple[YNode | None, list[Problem]]:
    """Parse ``text`` into line-annotated nodes, reporting YAML errors at their own line."""
    composed, fast = _compose_with_libyaml(text)
    if composed and fast is None:
        return None, [Problem(path, 1, "the file is empty; write the entry or delete the file")]
    if fast is not None:
        problems: list[Problem] = []
        return _convert(path, fast, problems), problems
    try:
        root = yaml.compose(text, Loader=_ContentLoader)
    except _Refused as refused:
        return None, [Problem(path, refused.line, refused.message)]
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark is not None else 1
        what = error.problem or "invalid YAML"
        return None, [
            Problem(
                path,
                line,
                f"the file is not valid YAML ({what}); check the indentation and the "
                "'key: value' layout on this line and the line above",
            )
        ]
    except yaml.YAMLError as error:
        return None, [Problem(path, 1, f"the file is not valid YAML ({error}); check its layout")]
    if root is None:
        return None, [Problem(path, 1, "the file is empty; write the entry or delete the file")]
    problems = []
    return _convert(path, root, problems), problems


def _convert(path: Path, node: yaml.Node, problems: list[Problem]) -> YNode:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        mapping: dict[str, YNode] = {}
        key_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            key_line = key_node.start_mark.line + 1
            if key in mapping:
                problems.append(
                    Problem(
                        path,
                        key_line,
                        f"'{key}' appears twice in the same place (first on line {key_lines[key]}); keep only one",
                    )
                )
                continue
            mapping[key] = _convert(path, value_node, problems)
            key_lines[key] = key_line
        return YNode(mapping, line, key_lines)
    if isinstance(node, yaml.SequenceNode):
        return YNode([_convert(path, item, problems) for item in node.value], line)
    if isinstance(node, yaml.ScalarNode):
        if node.tag == _NULL_TAG and node.value in ("", "~", "null", "Null", "NULL"):
            return YNode(None, line)
        return YNode(str(node.value), line)
    return YNode(None, line)


_parsed: dict[Path, tuple[str, YNode | None, tuple[Problem, ...]]] = {}
"""Each file's last text and what it parsed to: a start reads every file for the start-up check,
the FAQ and the quizzes, and parsing (pure-Python YAML, for the line numbers) is the slow part."""


def load_yaml_file(path: Path) -> tuple[YNode | None, list[Problem]]:
    """Read, lint and parse one file; a lint problem stops parsing so only the real cause is shown.

    The same text parses to the same nodes, so a file read again unchanged is not parsed again
    (callers only read the nodes); any change to its text parses it afresh."""
    text, problems = read_text(path)
    if text is None:
        return None, problems
    known = _parsed.get(path)
    if known is not None and known[0] == text:
        return known[1], list(known[2])
    problems = lint_lines(path, text)
    if problems:
        root = None
    else:
        root, problems = parse_yaml(path, text)
    _parsed[path] = (text, root, tuple(problems))
    return root, problems


def find_line(path: Path, needle: str, start_line: int) -> int:
    """First line at or after ``start_line`` that contains ``needle`` (``start_line`` if none)."""
    text, _ = read_text(path)
    if text is None:
        return start_line
    for number, line in enumerate(text.splitlines(), start=1):
        if number >= start_line and needle in line:
            return number
    return start_line
