"""The weekly digest's chart as a PNG, drawn with matplotlib (Agg) in the project's own CJK font.

matplotlib is imported here, inside :func:`render_chart_png`, and only the digest job and the HR
desk call it, so no other command pays for the import. The figure is made with the object API
(``Figure`` and an Agg canvas, never ``pyplot``), so no global state is shared between renders, and
every text is drawn with :data:`FONT_PATH`, a subset of Noto Sans CJK SC shipped in the package
(``bot/fonts/``, SIL OFL): nothing depends on the machine's fonts.

Rendering takes a few tenths of a second of CPU: call it from a thread, never inside a transaction.
"""

from __future__ import annotations

import io
import logging
import re
import unicodedata
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from handlers.digest import DigestFigures
from handlers.digest_texts import SMALL, ChartSpec, chart_spec
from handlers.i18n import Language, Translator
from handlers.settings import LocalText, pick

log = logging.getLogger(__name__)

FONT_PATH = Path(__file__).resolve().parents[1] / "fonts" / "NotoSansSC-GB2312.otf"
MISSING = "?"
BAR_COLOUR = "#3b6ea5"
WIDTH, HEIGHT, DPI = 9.0, 9.0, 100
LABEL_WIDTH = 26


@cache
def font_characters() -> frozenset[int]:
    """The code points the chart's font can draw."""
    from matplotlib.ft2font import FT2Font

    return frozenset(FT2Font(str(FONT_PATH)).get_charmap())


def font_covers(text: str) -> bool:
    """Whether every character of ``text`` (spaces and line breaks aside) has a glyph in the font."""
    covered = font_characters()
    return all(ord(char) in covered for char in text if not char.isspace())


def drawable(text: str) -> str:
    """``text`` with any character the font lacks replaced by "?" (a last resort: the labels are
    tested, and a site name the font cannot draw is replaced by the site's id before this)."""
    if font_covers(text):
        return text
    log.warning("a digest chart label has characters its font lacks; they are drawn as %r", MISSING)
    covered = font_characters()
    return "".join(char if char.isspace() or ord(char) in covered else MISSING for char in text)


def site_label(site_id: str, name: LocalText, language: Language) -> str:
    """The site's name in ``language`` when the font can draw it, else its id (ASCII, always drawn)."""
    chosen = pick(name, language)
    return chosen if font_covers(chosen) else site_id


def _width(text: str) -> int:
    """Columns on screen: CJK characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def wrap(text: str, width: int = LABEL_WIDTH) -> str:
    """Breaks a long label into lines at its spaces or 、 (CJK labels have no spaces)."""
    lines: list[str] = []
    line = ""
    for piece in re.findall(r"[^ 、]+[ 、]?", text):
        if line and _width(line) + _width(piece) > width:
            lines.append(line.rstrip())
            line = ""
        line += piece
    lines.append(line.rstrip())
    return "\n".join(lines)


def render_chart_png(spec: ChartSpec) -> bytes:
    """The chart as PNG bytes: one panel of horizontal bars per figure, "<5" where a figure is small."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    font = FontProperties(fname=str(FONT_PATH), size=10)
    title_font = FontProperties(fname=str(FONT_PATH), size=14)
    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(drawable(spec.title), fontproperties=title_font)
    ratios = [len(panel.bars) + 1 for panel in spec.panels]
    axes = figure.subplots(len(spec.panels), 1, squeeze=False, height_ratios=ratios)[:, 0]
    for ax, panel in zip(axes, spec.panels, strict=True):
        labels = [wrap(drawable(bar.label)) for bar in panel.bars]
        values = [bar.value or 0 for bar in panel.bars]
        positions = list(range(len(panel.bars)))[::-1]
        ax.barh(positions, values, color=BAR_COLOUR, height=0.6)
        ax.set_yticks(positions, labels)
        for label in ax.get_yticklabels():
            label.set_fontproperties(font)
        ax.set_title(wrap(drawable(panel.title), 90), fontproperties=font, loc="left")
        top = max([*values, 5])
        ax.set_xlim(0, top * 1.15)
        for position, bar in zip(positions, panel.bars, strict=True):
            shown = SMALL if bar.value is None else str(bar.value)
            ax.text((bar.value or 0) + top * 0.01, position, shown, va="center", fontproperties=font)
        ax.tick_params(axis="x", labelbottom=False, length=0)
        for side in ("top", "right", "bottom"):
            ax.spines[side].set_visible(False)
    figure.supxlabel(wrap(drawable(spec.note), 150), fontproperties=FontProperties(fname=str(FONT_PATH), size=8))
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def digest_chart_png(
    figures: DigestFigures,
    translators: Mapping[Language, Translator],
    site_name: LocalText,
    language: Language = "zh",
) -> bytes:
    """The digest's chart in ``language`` as PNG bytes, for the job and for the HR desk to serve."""
    spec = chart_spec(translators[language], site_label(figures.site, site_name, language), figures)
    return render_chart_png(spec)
