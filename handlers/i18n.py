"""Translation catalogs (gettext via Babel).

Message ids are English source text; the Chinese catalog lives in
``handlers/locale/zh/LC_MESSAGES/hapbot.po`` and is compiled in memory at start-up, so the
repository carries only the human-editable ``.po`` file. Mark text with ``N_`` where it is
defined and translate it with ``ctx.t`` where it is shown.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")
DOMAIN = "hapbot"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"


def N_(message: str) -> str:
    """Mark a string for extraction without translating it yet."""
    return message


class Translator:
    """Translates and formats in one language; a missing translation falls back to English."""

    def __init__(self, language: Language, translations: gettext.NullTranslations) -> None:
        self.language = language
        self._translations = translations

    def __call__(self, message: str, /, **values: object) -> str:
        text = self._translations.gettext(message)
        return text.format(**values) if values else text


def _compile(po_path: Path) -> gettext.GNUTranslations:
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=po_path.parents[1].name)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def load_translators(locale_dir: Path = LOCALE_DIR) -> Mapping[Language, Translator]:
    zh = _compile(locale_dir / "zh" / "LC_MESSAGES" / f"{DOMAIN}.po")
    return {"zh": Translator("zh", zh), "en": Translator("en", gettext.NullTranslations())}


def language_from_hint(hint: str | None, default: Language) -> Language:
    """Platform language codes (``zh-hans``, ``zh_CN``, ``en-US``) to one of ours."""
    if not hint:
        return default
    hint = hint.lower()
    if hint.startswith("zh"):
        return "zh"
    if hint.startswith("en"):
        return "en"
    return default
