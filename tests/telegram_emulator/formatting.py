"""Text and entities as Telegram stores them: parse_mode parsing, commands, UTF-16 offsets.

The server turns `parse_mode` markup into plain text plus entities, and a bot
that sends malformed markup gets a 400 "can't parse entities" — a common
production failure, so the emulator reproduces it rather than echoing markup.
Entity offsets and lengths count UTF-16 code units, as in the Bot API.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from .errors import ApiError, bad_request

JSON = dict[str, Any]
MAX_TEXT = 4096
_COMMAND = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")
_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "blockquote": "blockquote",
    "span": "spoiler",
    "tg-emoji": "custom_emoji",
}
_MARKDOWN_V2_RESERVED = set("_*[]()~`>#+-=|{}.!")


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of entity offsets."""
    return len(text.encode("utf-16-le")) // 2


def command_entities(text: str) -> list[JSON]:
    """The bot_command entities Telegram's clients attach to "/start PAYLOAD" and the like."""
    return [
        {"type": "bot_command", "offset": utf16_len(text[: m.start()]), "length": utf16_len(m.group())}
        for m in _COMMAND.finditer(text)
    ]


def parse_text(
    text: str | None, parse_mode: str | None, entities: Any = None, empty_error: str = "message text is empty"
) -> tuple[str, list[JSON]]:
    """Plain text and entities for a message text or caption, or Telegram's 400 for it."""
    text = text or ""
    if parse_mode:
        mode = parse_mode.strip().lower()
        if mode == "html":
            text, found = _parse_html(text)
        elif mode == "markdownv2":
            text, found = _parse_markdown(text, v2=True)
        elif mode == "markdown":
            text, found = _parse_markdown(text, v2=False)
        else:
            raise bad_request(f"unsupported parse_mode {parse_mode}")
    else:
        found = list(entities or [])
    text, found = _strip(text, found)
    if not text and empty_error:
        raise bad_request(empty_error)
    if len(text) > MAX_TEXT:
        raise bad_request("message is too long")
    return text, found


def _strip(text: str, entities: list[JSON]) -> tuple[str, list[JSON]]:
    """Telegram trims surrounding whitespace; entities move with the text."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    shift = utf16_len(text[: len(text) - len(text.lstrip())])
    limit = utf16_len(stripped)
    moved: list[JSON] = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] + entity["length"] - shift, limit)
        if end > start:
            moved.append({**entity, "offset": start, "length": end - start})
    return stripped, moved


def _entity_error(detail: str) -> ApiError:
    return bad_request(f"can't parse entities: {detail}")


class _HtmlEntities(HTMLParser):
    """Telegram's HTML subset: the listed tags, `&lt;`-style escapes, nothing else."""

    def __init__(self, source: str) -> None:
        super().__init__(convert_charrefs=True)
        self.source = source
        self.text: list[str] = []
        self.length = 0
        self.open: list[tuple[str, JSON]] = []
        self.entities: list[JSON] = []

    def _byte_offset(self) -> int:
        line, column = self.getpos()
        lines = self.source.split("\n")
        prefix = "\n".join(lines[: line - 1]) + ("\n" if line > 1 else "") + lines[line - 1][:column]
        return len(prefix.encode())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        kind = _HTML_TAGS.get(tag)
        values = dict(attrs)
        if kind is None or (tag == "span" and values.get("class") != "tg-spoiler"):
            raise _entity_error(f'Unsupported start tag "{tag}" at byte offset {self._byte_offset()}')
        entity: JSON = {"type": kind, "offset": self.length}
        if tag == "a":
            href = values.get("href") or ""
            user = re.fullmatch(r"tg://user\?id=(\d+)", href)
            entity.update(
                {
                    "type": "text_mention",
                    "user": {"id": int(user.group(1)), "is_bot": False, "first_name": ""},
                }
                if user
                else {"url": href}
            )
        elif tag == "code" and self.open and self.open[-1][0] == "pre":
            language = (values.get("class") or "").removeprefix("language-")
            if language:
                self.open[-1][1]["language"] = language
            entity = {}
        elif tag == "blockquote" and "expandable" in values:
            entity["type"] = "expandable_blockquote"
        elif tag == "tg-emoji":
            entity["custom_emoji_id"] = values.get("emoji-id") or ""
        self.open.append((tag, entity))

    def handle_endtag(self, tag: str) -> None:
        if not self.open or self.open[-1][0] != tag:
            raise _entity_error(
                f"Unmatched end tag at byte offset {self._byte_offset()}, expected "
                f'"</{self.open[-1][0] if self.open else ""}>", found "</{tag}>"'
            )
        _, entity = self.open.pop()
        if entity and self.length > entity["offset"]:
            self.entities.append({**entity, "length": self.length - entity["offset"]})

    def handle_data(self, data: str) -> None:
        self.text.append(data)
        self.length += utf16_len(data)


def _parse_html(source: str) -> tuple[str, list[JSON]]:
    parser = _HtmlEntities(source)
    parser.feed(source)
    parser.close()
    if parser.open:
        raise _entity_error(f'Can\'t find end tag corresponding to start tag "{parser.open[-1][0]}"')
    return "".join(parser.text), sorted(parser.entities, key=lambda e: (e["offset"], -e["length"]))


_MARKERS_V2 = [
    ("```", "pre"),
    ("||", "spoiler"),
    ("__", "underline"),
    ("*", "bold"),
    ("_", "italic"),
    ("~", "strikethrough"),
    ("`", "code"),
]
_MARKERS_V1 = [("```", "pre"), ("*", "bold"), ("_", "italic"), ("`", "code")]
_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
}


def _parse_markdown(source: str, v2: bool) -> tuple[str, list[JSON]]:
    """MarkdownV2 (with its reserved characters) or the legacy Markdown mode."""
    markers = _MARKERS_V2 if v2 else _MARKERS_V1
    out: list[str] = []
    length = 0
    open_: dict[str, tuple[int, int]] = {}
    pre_language = ""
    links: list[tuple[int, int]] = []
    entities: list[JSON] = []
    index = 0
    while index < len(source):
        char = source[index]
        in_code = "code" in open_ or "pre" in open_
        if char == "\\" and (v2 or source[index + 1 : index + 2] in "_*`[") and index + 1 < len(source):
            out.append(source[index + 1])
            length += utf16_len(source[index + 1])
            index += 2
            continue
        marker = next((m for m, _ in markers if source.startswith(m, index)), None)
        kind = dict(markers).get(marker or "")
        if marker and kind and (not in_code or kind in open_):
            if kind in open_:
                start, _ = open_.pop(kind)
                if length > start:
                    entity: JSON = {"type": kind, "offset": start, "length": length - start}
                    if kind == "pre" and pre_language:
                        entity["language"] = pre_language
                    entities.append(entity)
                index += len(marker)
                continue
            open_[kind] = (length, len(source[:index].encode()))
            index += len(marker)
            if kind == "pre":
                language = re.match(r"([\w+#-]+)\n", source[index:])
                pre_language = language.group(1) if language else ""
                index += len(language.group(0)) if language else 0
            continue
        if char == "[" and not in_code:
            links.append((length, len(source[:index].encode())))
            index += 1
            continue
        if char == "]" and links and not in_code:
            start, _ = links.pop()
            url = re.match(r"\]\(((?:\\.|[^)\\])*)\)", source[index:])
            if url is None:
                raise _entity_error(f"Can't find end of a URL at byte offset {len(source[:index].encode())}")
            entities.append(
                {
                    "type": "text_link",
                    "offset": start,
                    "length": length - start,
                    "url": re.sub(r"\\(.)", r"\1", url.group(1)),
                }
            )
            index += len(url.group(0))
            continue
        if v2 and not in_code and char in _MARKDOWN_V2_RESERVED:
            raise _entity_error(f"Character '{char}' is reserved and must be escaped with the preceding '\\'")
        out.append(char)
        length += utf16_len(char)
        index += 1
    if open_ or links:
        kind, (_, byte) = next(iter(open_.items())) if open_ else ("text_link", links[-1])
        raise _entity_error(f"Can't find end of {_NAMES[kind]} entity at byte offset {byte}")
    return "".join(out), sorted(entities, key=lambda e: e["offset"])
