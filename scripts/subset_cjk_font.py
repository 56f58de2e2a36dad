"""Builds bot/fonts/NotoSansSC-GB2312.otf, the font the weekly digest's chart is drawn with.

The source is Noto Sans CJK SC Regular (SIL Open Font License 1.1), here read from Debian's
``fonts-noto-cjk`` collection (face 2 of NotoSansCJK-Regular.ttc is the Simplified Chinese one);
the same font is at github.com/notofonts/noto-cjk. The subset keeps every character of GB2312
(levels 1 and 2: 6,763 hanzi and its symbol rows), printable ASCII, Latin-1, general punctuation,
CJK symbols and full-width forms: enough for every fixed label of the digest and for site names as
factories write them. Layout tables are dropped (matplotlib does not use them) and the OFL's
reserved font name is not used for the subset (the licence asks that a modified font be renamed).

Run: ``python scripts/subset_cjk_font.py [SOURCE.ttc] [FACE]`` (needs fonttools; takes a minute).
"""

from __future__ import annotations

import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTFont

SOURCE = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
SC_FACE = 2
TARGET = Path(__file__).resolve().parents[1] / "bot" / "fonts" / "NotoSansSC-GB2312.otf"
FAMILY = "HAP Digest Sans SC"
GB2312_ROWS = [*range(1, 10), *range(16, 88)]  # symbol rows, then hanzi levels 1 (16-55) and 2 (56-87)
RANGES = [(0x20, 0x7E), (0xA0, 0x17F), (0x2000, 0x206F), (0x2190, 0x21FF), (0x3000, 0x303F), (0xFF00, 0xFFEF)]


def gb2312() -> set[str]:
    found = set()
    for row in GB2312_ROWS:
        for column in range(1, 95):
            try:
                found.add(bytes([0xA0 + row, 0xA0 + column]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return found


def characters() -> set[str]:
    chosen = gb2312()
    for first, last in RANGES:
        chosen.update(chr(code) for code in range(first, last + 1))
    return chosen


def rename(font: TTFont) -> None:
    """Gives the subset a name of its own (OFL: a modified version must not use the reserved name)."""
    names = font["name"]
    for record in list(names.names):
        if record.nameID in (1, 3, 4, 16):
            names.setName(FAMILY, record.nameID, record.platformID, record.platEncID, record.langID)
        elif record.nameID == 6:
            names.setName(FAMILY.replace(" ", "") + "-Regular", 6, record.platformID, record.platEncID, record.langID)


def main() -> None:
    source = sys.argv[1] if len(sys.argv) > 1 else SOURCE
    face = int(sys.argv[2]) if len(sys.argv) > 2 else SC_FACE
    font = TTFont(source, fontNumber=face)
    options = subset.Options()
    options.layout_features = []
    options.name_IDs = ["*"]
    options.name_languages = ["*"]
    options.notdef_outline = True
    options.hinting = False
    subsetter = subset.Subsetter(options)
    subsetter.populate(unicodes=sorted(ord(c) for c in characters()))
    subsetter.subset(font)
    rename(font)
    font.save(TARGET)
    print(f"{TARGET}: {TARGET.stat().st_size} bytes, {len(font.getBestCmap())} characters")


if __name__ == "__main__":
    main()
