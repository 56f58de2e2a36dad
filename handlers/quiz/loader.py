"""Turn ``quizzes/`` and ``sites/<site_id>/quizzes/`` into quizzes, or into a list of problems.

Quiz files are edited by the same HR admins, in the same editors, as the FAQ entries, so they are
read by the FAQ's line-aware YAML reader and checked with the FAQ loader's helpers: every problem
names the file and the line and says how to fix it, and a broken file never reaches workers.
"""

from __future__ import annotations

import difflib
import unicodedata
from collections.abc import Collection, Iterable
from pathlib import Path

from handlers.faq.loader import _ID_RE, _list_items, _per_lang_text, _text, _unknown_key, read_yaml_folder
from handlers.faq.model import LANGS, Problem
from handlers.faq.yamlsource import YNode

from .model import DEFAULT_PASS_PERCENT, MAX_OPTIONS, MAX_QUESTIONS, MIN_OPTIONS, Option, Question, Quiz, QuizContent

QUIZZES_DIR = "quizzes"
SITES_DIR = "sites"
QUIZ_KEYS: tuple[str, ...] = ("id", "title", "teaches", "order", "pass_mark", "questions")
QUESTION_KEYS: tuple[str, ...] = ("id", "question", "options", "answer", "explanation", "teaches")
OPTION_KEYS: tuple[str, ...] = ("zh", "en", "correct")
YES = frozenset({"yes", "true", "y", "对", "是", "正确"})
NO = frozenset({"no", "false", "n", "错", "否", "错误"})
MAX_ID_CHARS = 40
"""Ids travel in button data, which Telegram limits to 64 bytes."""
MAX_OPTION_CHARS = {"zh": 20, "en": 48}
"""An option is a button label on Telegram, which cuts long labels on a phone: keep options short."""
TRUE_FALSE_LABELS = {"zh": ("对", "错"), "en": ("True", "False")}


def load_quizzes(directory: Path, entry_ids: Collection[str]) -> QuizContent:
    """Read every quiz under ``directory`` (the FAQ content folder); ``entry_ids`` are the FAQ topics
    a quiz may teach. A missing ``quizzes/`` folder means no quizzes, not an error."""
    problems: list[Problem] = []
    quizzes = _unique(_load_folder(directory / QUIZZES_DIR, entry_ids, problems), problems)
    overrides: dict[str, dict[str, Quiz]] = {}
    sites_dir = directory / SITES_DIR
    if sites_dir.is_dir():
        for site_dir in sorted(p for p in sites_dir.iterdir() if p.is_dir()):
            site_quizzes = _unique(_load_folder(site_dir / QUIZZES_DIR, entry_ids, problems), problems)
            for quiz in site_quizzes.values():
                if quiz.id not in quizzes:
                    problems.append(
                        Problem(
                            quiz.source,
                            1,
                            f"site '{site_dir.name}' overrides quiz '{quiz.id}', but no file in {QUIZZES_DIR}/ "
                            "has that id; fix the id or remove this file",
                        )
                    )
            if site_quizzes:
                overrides[site_dir.name] = site_quizzes
    return QuizContent(quizzes, overrides, tuple(problems))


def _load_folder(folder: Path, entry_ids: Collection[str], problems: list[Problem]) -> list[Quiz]:
    files = read_yaml_folder(folder, "quiz files", problems)
    parsed = (parse_quiz(path, root, entry_ids, problems) for path, root in files)
    return [quiz for quiz in parsed if quiz is not None]


def _unique(quizzes: Iterable[Quiz], problems: list[Problem]) -> dict[str, Quiz]:
    by_id: dict[str, Quiz] = {}
    for quiz in quizzes:
        first = by_id.setdefault(quiz.id, quiz)
        if first is not quiz:
            problems.append(
                Problem(quiz.source, 1, f"quiz id '{quiz.id}' is also used by {first.source.name}; change one of them")
            )
    return by_id


def parse_quiz(path: Path, root: YNode, entry_ids: Collection[str], problems: list[Problem]) -> Quiz | None:
    """Check one quiz file; return the quiz, or None when it cannot be used."""
    if not isinstance(root.value, dict):
        problems.append(Problem(path, root.line, "a quiz must be a list of 'key: value' lines starting with 'id: '"))
        return None
    before = len(problems)
    mapping = root.value
    for key in mapping:
        if key not in QUIZ_KEYS:
            problems.append(Problem(path, root.key_line(key), _unknown_key(key, QUIZ_KEYS)))
    for key in ("id", "title", "teaches", "questions"):
        if key not in mapping:
            problems.append(Problem(path, root.line, f"'{key}:' is missing; add it (see faq/README.md, Quizzes)"))
    quiz_id = _id(path, mapping.get("id"), "id", problems)
    titles = _per_lang_text(path, root, "title", True, problems, {})
    teaches = _teaches(path, mapping.get("teaches"), entry_ids, problems)
    order = _number(path, mapping.get("order"), "order", problems, default=100)
    questions = _questions(path, mapping.get("questions"), teaches, entry_ids, problems)
    pass_mark = _number(path, mapping.get("pass_mark"), "pass_mark", problems, default=0)
    if questions and pass_mark and not 1 <= pass_mark <= len(questions):
        problems.append(
            Problem(
                path,
                root.key_line("pass_mark"),
                f"'pass_mark' is {pass_mark}, but the quiz has {len(questions)} questions; "
                f"write a number from 1 to {len(questions)}",
            )
        )
    if len(problems) > before or quiz_id is None or teaches is None:
        return None
    if not pass_mark:
        pass_mark = -(-len(questions) * DEFAULT_PASS_PERCENT // 100)  # 80 %, rounded up
    return Quiz(quiz_id, titles, teaches, tuple(questions), pass_mark, order, path)


def _id(path: Path, node: YNode | None, what: str, problems: list[Problem]) -> str | None:
    if node is None:
        return None
    value = _text(path, node, what, problems)
    if value is not None and not _ID_RE.match(value):
        problems.append(
            Problem(path, node.line, f"{what} '{value}' may use only small English letters, digits and '-' (like 'q1')")
        )
        return None
    if value is not None and len(value) > MAX_ID_CHARS:
        problems.append(Problem(path, node.line, f"{what} '{value}' is longer than {MAX_ID_CHARS} characters"))
        return None
    return value


def _teaches(path: Path, node: YNode | None, entry_ids: Collection[str], problems: list[Problem]) -> str | None:
    if node is None:
        return None
    value = _text(path, node, "teaches", problems)
    if value is not None and value not in entry_ids:
        hint = difflib.get_close_matches(value, list(entry_ids), n=1)
        suggestion = f"did you mean '{hint[0]}'?" if hint else "use the id of a file in faq/entries/"
        problems.append(
            Problem(path, node.line, f"'teaches' names '{value}', which is not a FAQ entry id; {suggestion}")
        )
        return None
    return value


def _number(path: Path, node: YNode | None, what: str, problems: list[Problem], *, default: int) -> int:
    if node is None:
        return default
    value = _text(path, node, what, problems)
    if value is None:
        return default
    digits = unicodedata.normalize("NFKC", value)  # full-width "８" and circled "⑧" are 8
    if not (digits.isascii() and digits.isdigit()):
        problems.append(Problem(path, node.line, f"'{what}' must be a whole number, like '{what}: 8'"))
        return default
    return int(digits)


def _flag(path: Path, node: YNode, what: str, problems: list[Problem]) -> bool | None:
    value = _text(path, node, what, problems)
    if value is None:
        return None
    word = value.strip().lower()
    if word in YES or word in NO:
        return word in YES
    problems.append(Problem(path, node.line, f"'{what}' must be 'yes' or 'no' (or 'true' / 'false')"))
    return None


def _questions(
    path: Path, node: YNode | None, teaches: str | None, entry_ids: Collection[str], problems: list[Problem]
) -> list[Question]:
    if node is None:
        return []
    items = _list_items(path, node, "questions", problems)
    if not items:
        problems.append(Problem(path, node.line, "'questions' needs at least one question starting with '- id: '"))
        return []
    if len(items) > MAX_QUESTIONS:
        problems.append(
            Problem(path, node.line, f"a quiz holds at most {MAX_QUESTIONS} questions; split it into two quizzes")
        )
    questions: list[Question] = []
    seen: dict[str, int] = {}
    for item in items:
        question = _question(path, item, teaches, entry_ids, problems)
        if question is None:
            continue
        if question.id in seen:
            problems.append(
                Problem(
                    path,
                    item.line,
                    f"question id '{question.id}' is also used on line {seen[question.id]}; "
                    "every question needs its own id",
                )
            )
            continue
        seen[question.id] = item.line
        questions.append(question)
    return questions


def _question(
    path: Path, node: YNode, teaches: str | None, entry_ids: Collection[str], problems: list[Problem]
) -> Question | None:
    if not isinstance(node.value, dict):
        problems.append(Problem(path, node.line, "a question must be 'key: value' lines starting with '- id: '"))
        return None
    before = len(problems)
    mapping = node.value
    for key in mapping:
        if key not in QUESTION_KEYS:
            problems.append(Problem(path, node.key_line(key), _unknown_key(key, QUESTION_KEYS)))
    for key in ("id", "question", "explanation"):
        if key not in mapping:
            problems.append(Problem(path, node.line, f"this question has no '{key}:'; add it"))
    question_id = _id(path, mapping.get("id"), "question id", problems)
    texts = _per_lang_text(path, node, "question", True, problems, {})
    explanations = _per_lang_text(path, node, "explanation", True, problems, {})
    topic = _teaches(path, mapping["teaches"], entry_ids, problems) if "teaches" in mapping else teaches
    options, true_false = _answers(path, node, problems)
    if len(problems) > before or question_id is None or topic is None:
        return None
    return Question(question_id, texts, options, explanations, topic, true_false, node.line)


def _answers(path: Path, node: YNode, problems: list[Problem]) -> tuple[tuple[Option, ...], bool]:
    """The options, or the two options of a true/false question (``answer: true``)."""
    assert isinstance(node.value, dict)
    mapping = node.value
    if "answer" in mapping and "options" in mapping:
        problems.append(
            Problem(
                path,
                node.key_line("answer"),
                "a question has either 'options' (choices) or 'answer: true/false' (a true-or-false question), "
                "not both; remove one",
            )
        )
        return (), False
    if "answer" in mapping:
        is_true = _flag(path, mapping["answer"], "answer", problems)
        if is_true is None:
            return (), True
        true = Option({lang: TRUE_FALSE_LABELS[lang][0] for lang in LANGS}, correct=is_true)
        false = Option({lang: TRUE_FALSE_LABELS[lang][1] for lang in LANGS}, correct=not is_true)
        return (true, false), True
    if "options" not in mapping:
        problems.append(
            Problem(path, node.line, "this question has no 'options:' (or 'answer: true/false'); add the choices")
        )
        return (), False
    items = _list_items(path, mapping["options"], "options", problems)
    if not MIN_OPTIONS <= len(items) <= MAX_OPTIONS:
        problems.append(
            Problem(
                path,
                node.key_line("options"),
                f"a question needs {MIN_OPTIONS} to {MAX_OPTIONS} options; it has {len(items)}",
            )
        )
    options = [option for item in items if (option := _option(path, item, problems)) is not None]
    right = [option for option in options if option.correct]
    if len(options) == len(items) and not right:
        problems.append(
            Problem(
                path,
                node.key_line("options"),
                "no option is marked right; add 'correct: yes' under the right option",
            )
        )
    elif len(right) > 1:
        problems.append(
            Problem(
                path,
                node.key_line("options"),
                f"{len(right)} options are marked 'correct: yes'; only one option may be right",
            )
        )
    for lang in LANGS:
        texts = [option.text(lang) for option in options]
        if len(set(texts)) < len(texts):
            problems.append(
                Problem(path, node.key_line("options"), f"two options have the same {lang} text; make them differ")
            )
    return tuple(options), False


def _option(path: Path, node: YNode, problems: list[Problem]) -> Option | None:
    if not isinstance(node.value, dict):
        problems.append(
            Problem(path, node.line, "an option needs '- zh: ...' and '  en: ...' lines (and 'correct: yes' if right)")
        )
        return None
    before = len(problems)
    for key in node.value:
        if key not in OPTION_KEYS:
            problems.append(Problem(path, node.key_line(key), _unknown_key(key, OPTION_KEYS)))
    texts: dict[str, str] = {}
    for lang in LANGS:
        if lang not in node.value:
            name = "Chinese" if lang == "zh" else "English"
            problems.append(Problem(path, node.line, f"this option has no {name} ('{lang}:') text; add it"))
            continue
        text = _text(path, node.value[lang], f"option {lang}", problems)
        if text is None:
            continue
        if len(text) > MAX_OPTION_CHARS[lang]:
            problems.append(
                Problem(
                    path,
                    node.value[lang].line,
                    f"this {lang} option is {len(text)} characters; a button shows at most "
                    f"{MAX_OPTION_CHARS[lang]}: shorten it, or move the detail into the question",
                )
            )
        texts[lang] = text
    correct = False
    if "correct" in node.value:
        correct = bool(_flag(path, node.value["correct"], "correct", problems))
    if len(problems) > before:
        return None
    return Option(texts, correct)
