"""The digest's chart: drawn in the project's own CJK font (no system font needed), every label the
digest can show has its glyphs, Chinese renders without a missing-glyph warning, a site name the
font cannot draw falls back to the site id, and matplotlib is loaded by the digest alone."""

from __future__ import annotations

import subprocess
import sys
import warnings
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.jobs.digest_chart import FONT_PATH, digest_chart_png, font_covers, render_chart_png, site_label
from handlers.digest import DigestFigures, Training, Week, protect
from handlers.digest_texts import Bar, ChartSpec, Panel, chart_spec, digest_text, fixed_labels
from handlers.i18n import load_translators

REPO = Path(__file__).resolve().parents[1]
SHOWCASE = REPO / "digest-zh.png"  # for people to look at; not committed (see .gitignore)
TZ = ZoneInfo("Asia/Shanghai")
PNG = b"\x89PNG\r\n\x1a\n"
# Site names as factories write them, GB2312 level 2 included (鑫, 琪 and 骏 are not level 1).
SITE_NAMES = [
    "北厂",
    "一号厂",
    "东莞鑫源电子厂",
    "深圳市琪骏服装有限公司",
    "瑞盛五金（惠州）",
    "Factory One",
    "North Plant",
]


def figures(week: Week | None = None) -> DigestFigures:
    return DigestFigures(
        site="north",
        week=week or Week.of(date(2026, 2, 23), TZ),
        audience="hr",
        received=protect({"verbal": 7, "physical": 3, "messages": 6, "quid_pro_quo": 0, "other": 1}),
        open_by_status=protect({"received": 5, "acknowledged": 8, "investigating": 2}),
        open_by_age=protect({"0-7": 9, "8-30": 6, "31-90": 0, "90+": 0}),
        closed=protect({"action_taken": 6, "closed": 5, "withdrawn": 1}),
        deadlines=protect(
            {
                "acknowledge:met": 9,
                "acknowledge:missed": 2,
                "feedback:met": 5,
                "feedback:missed": 0,
                "resolve:met": 6,
                "resolve:missed": 1,
            }
        ),
        retaliation=None,
        training=Training("2026-02", 3, 40, 33, 1, None),
    )


def render_strictly(spec: ChartSpec) -> bytes:
    """Renders with every warning an error: matplotlib warns "Glyph ... missing from font(s)"."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return render_chart_png(spec)


def test_the_font_is_the_projects_own_subset_with_its_licence() -> None:
    assert FONT_PATH.is_file() and FONT_PATH.parent == REPO / "bot" / "fonts"
    assert (FONT_PATH.parent / "OFL.txt").read_text(encoding="utf-8").count("SIL OPEN FONT LICENSE") == 1
    assert FONT_PATH.stat().st_size < 3 * 2**20


@pytest.mark.parametrize("language", ["zh", "en"])
def test_every_fixed_label_and_site_name_has_a_glyph(language: str) -> None:
    translators = load_translators()
    t = translators["zh" if language == "zh" else "en"]
    labels = fixed_labels(t)
    spec = chart_spec(t, "北厂" if language == "zh" else "North", figures())
    labels += [spec.title, spec.note] + [p.title for p in spec.panels] + [b.label for p in spec.panels for b in p.bars]
    text = digest_text(translators, {"zh": "东莞鑫源电子厂", "en": "Dongguan"}, figures())
    labels += text.replace("📊", "").split("\n")
    labels += SITE_NAMES
    missing = sorted({char for label in labels for char in label if not char.isspace() and not font_covers(char)})
    assert missing == []
    assert any("\u4e00" <= char <= "\u9fff" for char in spec.title) == (language == "zh")


def test_every_gb2312_hanzi_is_covered() -> None:
    hanzi = []
    for row in range(16, 88):
        for column in range(1, 95):
            try:
                hanzi.append(bytes([0xA0 + row, 0xA0 + column]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    assert len(hanzi) == 6763
    assert font_covers("".join(hanzi))


def test_a_missing_glyph_would_be_caught() -> None:
    """The check above can fail: a character outside the subset warns when drawn as is."""
    assert not font_covers("𠀀")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
        from matplotlib.font_manager import FontProperties

        figure = Figure()
        FigureCanvasAgg(figure)
        figure.text(0.1, 0.5, "𠀀", fontproperties=FontProperties(fname=str(FONT_PATH)))
        figure.canvas.draw()
    assert any("missing from font" in str(w.message) for w in caught)


def test_the_chinese_chart_renders_with_no_missing_glyph() -> None:
    translators = load_translators()
    spec = chart_spec(translators["zh"], "东莞鑫源电子厂", figures())
    assert "每周汇总" in spec.title and "2026年第9周" in spec.title
    assert spec.panels[-1].bars[0].value is None, "the showcase has a figure under 5"
    png = render_strictly(spec)
    assert png.startswith(PNG) and len(png) > 10_000
    SHOWCASE.write_bytes(png)


def test_small_groups_are_drawn_as_under_five() -> None:
    spec = ChartSpec("北厂", (Panel("本周新举报：<5", (Bar("全部", None),)),), "注")
    assert render_strictly(spec).startswith(PNG)


def test_a_site_name_the_font_cannot_draw_becomes_the_site_id() -> None:
    """GB2312 lacks some characters of real names (璟 is GBK only): the chart then shows the id."""
    assert site_label("north", {"zh": "璟盛五金", "en": "North"}, "zh") == "north"
    assert site_label("north", {"zh": "𠀀厂", "en": "North"}, "zh") == "north"
    assert site_label("north", {"zh": "北厂", "en": "North"}, "zh") == "北厂"
    translators = load_translators()
    png = digest_chart_png(figures(), translators, {"zh": "𠀀厂", "en": "North"}, "zh")
    assert png.startswith(PNG)


def test_matplotlib_is_loaded_by_the_digest_alone() -> None:
    probe = "import sys, bot.serve, bot.jobs, bot.jobs.digest, bot.web.desk.pages; print('matplotlib' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.strip() == "False"
