"""`hapbot faq check` (run_check) passes the shipped content and names the file and line of each mistake."""

from __future__ import annotations

import io
import shutil
from collections.abc import Mapping
from pathlib import Path

import pytest

from bot.cli.faq_tools import run_check
from faq import CONTENT_DIR
from handlers.faq.check import STANDARD_PLACEHOLDERS

from .content_kit import assert_problem, edit, line_of

ENTRY = "how-to-report.yaml"



def facts(**overrides: str) -> dict[str, dict[str, dict[str, str]]]:
    """Two sites that fill every standard placeholder in both languages."""
    base = {name: {"zh": f"{name} 中文", "en": f"{name} text"} for name in STANDARD_PLACEHOLDERS}
    for name, text in overrides.items():
        base[name] = {"zh": text, "en": text}
    return {"sz01": base, "dg02": dict(base)}


@pytest.fixture
def content(tmp_path: Path) -> Path:
    """A private copy of the shipped FAQ content to break one thing in."""
    target = tmp_path / "faq"
    shutil.copytree(CONTENT_DIR / "entries", target / "entries")
    shutil.copy(CONTENT_DIR / "synonyms.yaml", target / "synonyms.yaml")
    return target


def check(
    directory: Path, facts_by_site: Mapping[str, Mapping[str, Mapping[str, str]]] | None = None
) -> tuple[int, str]:
    out = io.StringIO()
    return run_check(directory, facts_by_site, out), out.getvalue()



def test_shipped_content_passes_without_site_facts() -> None:
    code, output = check(CONTENT_DIR)
    assert code == 0, output
    assert "OK: " in output


def test_shipped_content_passes_with_site_facts() -> None:
    code, output = check(CONTENT_DIR, facts())
    assert code == 0, output


def test_shipped_content_has_every_required_topic() -> None:
    required = """what-is-sexual-harassment forms-of-harassment online-harassment how-to-report
    anonymous-reporting after-reporting check-case-status retaliation-protection zero-tolerance-policy
    bystander-reporting third-party-harassment harasser-is-supervisor evidence legal-rights support-services
    emergency false-accusation advocacy-board training-schedule staff-handbook-onboarding data-privacy
    anyone-can-be-harassed relationships-and-consent""".split()
    present = {path.stem for path in (CONTENT_DIR / "entries").glob("*.yaml")}
    assert set(required) <= present


def test_invalid_yaml_reports_its_line(content: Path) -> None:
    path = content / "entries" / ENTRY
    edit(path, "related:\n", "related: [oops\n")
    code, output = check(content)
    assert code == 1
    assert "not valid YAML" in output
    assert f"{path}:" in output


def test_unknown_key_is_named_with_suggestion(content: Path) -> None:
    path = content / "entries" / ENTRY
    edit(path, "keywords:\n", "keyword:\n")
    code, output = check(content)
    assert code == 1
    assert_problem(output, path, line_of(path, "keyword:"), "unknown key 'keyword'", "did you mean 'keywords'")


def test_missing_language_answer(content: Path) -> None:
    path = content / "entries" / ENTRY
    text = path.read_text(encoding="utf-8")
    start = text.index("  en: |\n    You can report right here.")
    end = text.index("questions:\n")
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    code, output = check(content)
    assert code == 1
    assert_problem(output, path, line_of(path, "answer:"), "no English ('en:')")


def test_missing_language_questions(content: Path) -> None:
    path = content / "entries" / ENTRY
    text = path.read_text(encoding="utf-8")
    start = text.index("questions:\n  zh:\n") + len("questions:\n")
    end = text.index("  en:\n", start)
    path.write_text(text[:start] + text[end:], encoding="utf-8")
    code, output = check(content)
    assert code == 1
    assert_problem(output, path, line_of(path, "questions:"), "no Chinese ('zh:')")


def test_duplicate_ids_name_both_files(content: Path) -> None:
    first = content / "entries" / ENTRY
    second = content / "entries" / "how-to-report-copy.yaml"
    shutil.copy(first, second)
    code, output = check(content)
    assert code == 1
    assert_problem(output, first, 1, "also used by how-to-report-copy.yaml")
    assert_problem(output, second, 1, "also used by how-to-report.yaml")


def test_related_to_unknown_id(content: Path) -> None:
    path = content / "entries" / ENTRY
    edit(path, "  - anonymous-reporting\n", "  - anonymous-reportin\n")
    code, output = check(content)
    assert code == 1
    assert_problem(output, path, line_of(path, "- anonymous-reportin"), "did you mean 'anonymous-reporting'")


def test_placeholder_no_site_fills(content: Path) -> None:
    path = content / "entries" / ENTRY
    edit(path, "你也可以找人事部当面说：{hr_contact}", "你也可以找人事部当面说：{hr_contct}")
    code, output = check(content, facts())
    assert code == 1
    assert_problem(output, path, line_of(path, "{hr_contct}"), "{hr_contct}", "not filled")


def test_placeholder_unknown_without_site_facts(content: Path) -> None:
    path = content / "entries" / ENTRY
    edit(path, "You can also talk to HR in person: {hr_contact}", "You can also talk to HR: {hr_phone}")
    code, output = check(content)
    assert code == 1
    assert_problem(output, path, line_of(path, "{hr_phone}"), "{hr_phone}", "standard site facts")


def test_answer_too_long_after_longest_fill(content: Path) -> None:
    path = content / "entries" / ENTRY
    long_contact = "人事部办公室" * 120
    code, output = check(content, facts(hr_contact=long_contact))
    assert code == 1
    assert_problem(output, path, line_of(path, "  zh: |"), "2048", "bytes")
    assert check(content, facts())[0] == 0


def test_gbk_file_is_explained(content: Path) -> None:
    path = content / "entries" / ENTRY
    text = path.read_text(encoding="utf-8")
    path.write_bytes(text.encode("gbk", errors="replace"))
    code, output = check(content)
    assert code == 1
    first_chinese_line = next(n for n, line in enumerate(text.splitlines(), 1) if not line.isascii())
    assert_problem(output, path, first_chinese_line, "not saved as UTF-8", "GBK", "save as UTF-8")


def test_fullwidth_colon_in_key_position(content: Path) -> None:
    path = content / "entries" / ENTRY
    edit(path, "related:\n", "related：\n")
    code, output = check(content)
    assert code == 1
    assert_problem(output, path, line_of(path, "related："), "full-width colon", "'key: value'")


def test_fullwidth_colon_inside_answer_text_is_fine(content: Path) -> None:
    path = content / "entries" / ENTRY
    edit(path, "    Steps:\n", "    Note：steps below\n")
    assert check(content)[0] == 0


def test_tab_in_indentation(content: Path) -> None:
    path = content / "entries" / ENTRY
    edit(path, "  - anonymous-reporting\n", "\t- anonymous-reporting\n")
    code, output = check(content)
    assert code == 1
    assert_problem(output, path, line_of(path, "\t- anonymous-reporting"), "tab", "spaces")


def test_missing_space_after_colon(content: Path) -> None:
    path = content / "entries" / ENTRY
    edit(path, "  en: How to report harassment", "  en:How to report harassment")
    code, output = check(content)
    assert code == 1
    assert_problem(output, path, line_of(path, "en:How"), "no space after the colon")


def test_key_written_twice(content: Path) -> None:
    path = content / "entries" / ENTRY
    edit(path, "related:\n", "id: how-to-report\nrelated:\n")
    code, output = check(content)
    assert code == 1
    assert_problem(output, path, line_of(path, "related:") - 1, "'id' appears twice")


def test_broken_synonyms_file(content: Path) -> None:
    path = content / "synonyms.yaml"
    edit(path, "  harass:\n", "  Harass Words:\n")
    code, output = check(content)
    assert code == 1
    assert_problem(output, path, line_of(path, "Harass Words:"), "group name")


def test_site_override_for_unknown_entry(content: Path) -> None:
    site = content / "sites" / "sz01"
    site.mkdir(parents=True)
    override = site / "no-such-topic.yaml"
    override.write_text(
        "id: no-such-topic\ntitle:\n  zh: 标题\n  en: Title\nanswer:\n  zh: 内容\n  en: Text\n", encoding="utf-8"
    )
    code, output = check(content, facts())
    assert code == 1
    assert_problem(output, override, 1, "no entry in entries/")


def test_site_override_is_valid_and_checked_against_its_site(content: Path) -> None:
    site = content / "sites" / "sz01"
    site.mkdir(parents=True)
    override = site / "training-schedule.yaml"
    override.write_text(
        "id: training-schedule\ntitle:\n  zh: 培训\n  en: Training\n"
        "answer:\n  zh: 每月第一个周一：{training_schedule}\n  en: 'First Monday monthly: {training_schedule}'\n",
        encoding="utf-8",
    )
    assert check(content, facts())[0] == 0
    only_dg02 = {"dg02": facts()["dg02"]}
    code, output = check(content, only_dg02)
    assert code == 1
    assert_problem(output, override, 1, "sites/sz01/", "does not match any configured site")


@pytest.mark.parametrize("typed", ["｛hr_contact｝", "{ hr_contact }", "{HR_contact}"])
def test_a_mistyped_placeholder_is_a_problem_on_its_line(content: Path, typed: str) -> None:
    """Full-width braces (what a Chinese input method types), spaces or capitals: not a placeholder,
    so workers would read the braces and no HR contact."""
    path = content / "entries" / "after-reporting.yaml"
    text = path.read_text(encoding="utf-8")
    assert "{hr_contact}" in text
    path.write_text(text.replace("{hr_contact}", typed, 1), encoding="utf-8")
    line = next(n for n, row in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if typed in row)
    code, out = check(content, facts())
    assert code == 1
    assert f"after-reporting.yaml:{line}" in out and "looks like a fact placeholder" in out
