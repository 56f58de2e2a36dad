"""What a worker's message is about, in Chinese or English, before any feature sees it.

Workers do not use menus: a frightened woman writes "他在宿舍门口等我，我好怕", not 救命; a worker who
wants to report writes "我想举报我们线长", not 举报. :func:`understand` reads a message as one of
seven intents: danger, report, status, greeting, thanks, person (talk to someone) or, failing
all of those, a question for the FAQ. It is pure and fast (regular expressions, no model, no
segmenter), so it runs on every message.

Danger is looked for inside sentences, clause by clause, with the words that cancel it: a
negation just before the cue ("我不怕", "nobody is following me"), a past time in the same clause
("他以前跟踪过我", "he used to follow me last year"; a recent "昨天" or "刚才" does not cancel), a
hypothetical question ("如果有人跟踪我怎么办"), and for fear, fear of a consequence ("怕被报复").
A false alarm costs one extra message, a missed one can cost a life, so when in doubt it is
danger; the message's other intent (``then``) is still served after the emergency help.

The word families are in :mod:`handlers.intent_patterns`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from itertools import islice, pairwise

from storage.receipts import ALPHABET, LOOK_ALIKES

from . import intent_patterns as p
from .i18n import Language
from .spoken import as_mandarin


class Intent(StrEnum):
    DANGER = "danger"
    REPORT = "report"
    STATUS = "status"
    GREETING = "greeting"
    THANKS = "thanks"
    PERSON = "person"
    QUESTION = "question"


@dataclass(frozen=True, repr=False)
class Understanding:
    """One message understood. ``words`` is what a report keeps as the start of her account (None
    when she only said she wants to report); ``receipt`` a receipt found in the message, in its
    canonical form; ``then`` what a danger message asks besides (a question, a report), if anything;
    ``urgent`` that the message also raised the alarm (a report started from it is marked urgent)."""

    intent: Intent
    words: str | None = None
    receipt: str | None = None
    then: Intent | None = None
    urgent: bool = False

    def __repr__(self) -> str:  # never the words or the receipt
        return f"Understanding({self.intent.value}, words={self.words is not None}, then={self.then})"


_CONTRACTIONS = (
    (r"\bwon'?t\b", "will not"),
    (r"\bcan'?t\b", "can not"),
    (r"\bcannot\b", "can not"),
    (r"\bain'?t\b", "is not"),
    (r"\b(do|does|did|is|are|was|were|would|should|could|has|have|had)n'?t\b", r"\1 not"),
    (r"\bi'?m\b", "i am"),
    (r"\b(he|she|it|that|there|what|who|someone|somebody)'s\b", r"\1 is"),
    (r"'re\b", " are"),
    (r"'ll\b", " will"),
    (r"'d\b", " would"),
    (r"'ve\b", " have"),
    (r"\bgonna\b", "going to"),
    (r"\bwanna\b", "want to"),
    (r"\bu\b", "you"),
    (r"\bwhats\b", "what is"),
    (r"\btho\b", "though"),
)
_CONTRACTION_RES = [(re.compile(pattern), replacement) for pattern, replacement in _CONTRACTIONS]
# Traditional characters of the word families, folded to the simplified ones the patterns use (workers
# outside the mainland write 門, 報, 騷擾).
_TRADITIONAL = str.maketrans(
    "門對說殺報舉訴進裡後還現開關鎖這們個讓謝樓蹤險麼嗎騷擾覺會來別沒發傷強為醫電話問題處總經長組線車間廠員聽見幫請"
    "嚇懼攔擋衝闖綁壓脫摀熱樣麼嗎個過時從臉難實聯係繫談與陰幹殺劃傷敢喚體動邊緊態議嗎",
    "门对说杀报举诉进里后还现开关锁这们个让谢楼踪险么吗骚扰觉会来别没发伤强为医电话问题处总经长组线车间厂员听见帮请"
    "吓惧拦挡冲闯绑压脱捂热样么吗个过时从脸难实联系系谈与阴干杀划伤敢唤体动边紧态议吗",
)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[a-z]{2,}")
_SPACE_BETWEEN_CJK = re.compile(r"(?<=[\u3400-\u9fff])\s+(?=[\u3400-\u9fff])")
_FIRST_PERSON = re.compile(r"我|\b(?:me|my|i|us|our)\b")
_FIRST_PERSON_ACT = re.compile(r"[^自]我(?!们?(?:厂|公司|单位))|^我|\b(?:me|i am|i have been|i was|us)\b")
"""She speaks of something done to her ("他威胁我", "he threatened me"), not of "our policy"."""
_SOMEONE_HURT = re.compile(
    r"我|室友|同事|朋友|姐妹|工友|女儿|妹妹|\b(?:me|my|i am|i have been|i was|us|our|her|she|friend|roommate)\b"
)
"""Someone it happens to: she, a roommate, a friend. A question about the rules that names one is not
only about the rules."""
_SOMEONE_THERE = re.compile(
    r"他|她|那个|这个|组长|线长|拉长|主管|经理|保安|司机|宿管|一直|不走|不让|堵着|守着|"
    r"\b(?:he|she|him|this man|that man|this guy|that guy)\b"
)
"""A particular man, or something going on: not a kind of situation asked about in general."""
_SOMEONE_ELSE = re.compile(
    r"(?:工友|同事|别人|有人|朋友|室友|姐妹|员工|女工)(?!.{0,4}我)|"
    r"\b(?:someone|somebody|a (?:co-?worker|colleague|friend|worker|roommate)|people)\b"
)
"""Someone else named before a self-harm cue in a hypothetical question: a question of what to do if
a co-worker says so (taught at training), not her own wish."""
MAX_CUES_PER_CLAUSE = 32
"""Cues of one family looked at in one clause: a message of 4,000 "怕" is read in milliseconds, not seconds."""
_SAYS_NO = re.compile(r"\b(?:say|said|says|saying|tell|told) no\b")
_DONE = re.compile(r"[了过]|\b\w{3,}ed\b|\b(?:was|were|had|did|hit|beat|took|came|went|got|held|caught|ran)\b")
"""A clause told as something that happened (a past tense, 了 or 过)."""
_GOING_ON = re.compile(
    r"现在|正在|还在|又在|又来|一直|在门口|在楼下|在外面|守着|等着|堵着|着我|"
    r"\b(?:still|now|again)\b|\b(?:is|are|am)\s+(?:\w+\s+)?\w+ing\b|\b(?:is|are)\s+(?:at|outside|in|on|here|there)\b"
)
"""Words that say a clause goes on now, so "I am safe now" said beside it does not end it."""
_CLAUSE_BREAK = re.compile(r"[,.!?;:。、…~\n]+|\s+-\s+|\b(?:but|and|so)\b|但是|可是|不过|然后")


def fold(text: str) -> str:
    """NFKC, lower case, curly quotes straightened, English contractions spelled out, spaces collapsed."""
    folded = unicodedata.normalize("NFKC", text).casefold().translate(_TRADITIONAL)
    folded = folded.replace("’", "'").replace("‘", "'").replace("`", "'")
    for pattern, replacement in _CONTRACTION_RES:
        folded = pattern.sub(replacement, folded)
    folded = as_mandarin(folded)
    return re.sub(r"\s+", " ", folded).strip()


def clauses(folded: str) -> list[str]:
    """Clauses, where tense and negation hold; a space between Chinese words counts as a comma."""
    marked = _SPACE_BETWEEN_CJK.sub(",", folded)
    return [clause.strip() for clause in _CLAUSE_BREAK.split(marked) if clause.strip()]


def script_language(text: str) -> Language | None:
    """The language a message is written in, by its script, or None when it is not clear (a number,
    a receipt, one English word typed in a Chinese conversation, mixed writing)."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    if find_receipt(text) is not None:  # receipts and case numbers are in no language
        folded = _RECEIPT_RUN.sub(" ", folded)
    folded = _RECEIPTISH.sub(" ", folded)
    cjk = len(_CJK.findall(folded))
    latin_words = len(_LATIN_WORD.findall(folded))
    if cjk >= 2 and latin_words <= cjk:
        return "zh"
    if cjk == 0 and latin_words >= 2:
        return "en"
    return None


# --- receipts ----------------------------------------------------------------------------------

_SYMBOLS = frozenset(ALPHABET)
_RECEIPTISH = re.compile(r"hap-[0-9a-z]{6}|[0-9a-z]*[0-9][0-9a-z]*")
_RECEIPT_RUN = re.compile(r"(?<![0-9a-z])[0-9a-z]{4}(?:[\s\-_.·・—－]*[0-9a-z]{4}){3}(?![0-9a-z])")
_TOKEN = re.compile(r"[0-9A-Z]+")
_GROUP_SEPARATORS = re.compile(r"^[\s\-_.·・—－\u2212]*$")


def find_receipt(text: str) -> str | None:
    """A receipt pasted anywhere in a message ("我的查询码是 k7qx m2pa x9tb 4rwe"), in canonical form.

    Receipt entry is tolerant (see ``storage.receipts``), so inside a sentence the shape must be
    unmistakable: one run of 16 symbols, or four groups of four, with at least one digit unless the
    groups are joined by dashes. Plain English words ("must have done such") are never a receipt.
    """
    if len(text) > 2_000:
        return None
    folded = unicodedata.normalize("NFKC", text).upper()
    tokens = list(_TOKEN.finditer(folded))
    for index, token in enumerate(tokens):
        candidates = [[token]]
        if len(token.group()) == 4 and index + 3 < len(tokens):
            candidates.append(tokens[index : index + 4])
        for group in candidates:
            receipt = _as_receipt(folded, group)
            if receipt is not None:
                return receipt
    return None


def _as_receipt(folded: str, group: list[re.Match[str]]) -> str | None:
    typed = "".join(token.group() for token in group)
    symbols = "".join(LOOK_ALIKES.get(c, c) for c in typed)
    if len(symbols) != 16 or not set(symbols) <= _SYMBOLS:
        return None
    if len(group) == 4:
        if any(len(token.group()) != 4 for token in group):
            return None
        gaps = [folded[a.end() : b.start()] for a, b in pairwise(group)]
        if not all(_GROUP_SEPARATORS.match(gap) for gap in gaps):
            return None
        dashed = all("-" in gap or "—" in gap or "－" in gap for gap in gaps)
    else:
        dashed = False
    if not dashed and not any(c.isdigit() for c in typed):
        return None
    return "-".join(symbols[start : start + 4] for start in range(0, 16, 4))


# --- danger ------------------------------------------------------------------------------------

_FAMILIES = (("help", p.HELP), ("threat", p.THREAT), ("self_harm", p.SELF_HARM), ("act", p.ACT), ("fear", p.FEAR))


def _negated(clause: str, start: int) -> bool:
    """A negation just before a cue: a Chinese negation word ending right there, or one of the three
    English words before it (read in a short window: a long message costs no more per cue)."""
    if p.NEGATION_ZH.search(clause[max(0, start - 12) : start]):
        return True
    before_en = " ".join(_SAYS_NO.sub(" ", clause[max(0, start - 60) : start]).split()[-3:])  # "i say no he will"
    return bool(p.NEGATION_EN.search(before_en))


def _past(clause: str, end: int) -> bool:
    """The clause tells of something that ended (a past time, or 过 after the verb) and nothing in it
    says it is happening again now."""
    if p.PRESENT.search(clause):
        return False
    return bool(p.PAST.search(clause) or p.PAST_ASPECT.match(clause[end:]))


def _question_shaped(folded: str) -> bool:
    """A question anywhere: its words, or a clause ending as one ("培训是每个月都有吗 我新来的")."""
    return bool(p.QUESTION.search(folded)) or any(p.QUESTION_END.search(c) for c in clauses(folded))


def danger_cues(text: str) -> list[str]:
    """The danger families found in a message, after negation, tense and hypotheticals (for tests
    and the bench: which family fired)."""
    return _danger_cues(fold(text))


def _danger_cues(folded: str) -> list[str]:
    question = _question_shaped(folded)
    category = bool(p.CATEGORY_QUESTION.search(folded)) and not p.PRESENT.search(folded)
    found: list[str] = []
    present = bool(p.PRESENT.search(folded))
    # A question about the rules, with nothing happening now and nobody named it happens to, asks
    # about a kind of act throughout; otherwise only the clause that names the rules does.
    asks_rules = question and not present and bool(p.ABOUT_RULES.search(folded))  # "培训讲过…该怎么办"
    rules_everywhere = asks_rules and not _SOMEONE_HURT.search(folded)
    parts = clauses(folded)
    # "I am safe now" ends what she told before it, when that was told as over (a past time before
    # it) and nothing in the clause goes on now; the words after the phrase are read as they stand.
    safe_from: int | None = None
    for i, clause in enumerate(parts):
        safe = p.SAFE_NOW.search(clause)
        if safe is not None:
            safe_from = i
            parts[i : i + 1] = [clause[: safe.end()], clause[safe.end() :]]
            break
    told_as_past = safe_from is not None and any(p.PAST.search(c) or _DONE.search(c) for c in parts[:safe_from])
    for index, clause in enumerate(parts):
        hypothetical = question and (
            bool(p.HYPOTHETICAL.search(clause))
            or (
                not present
                and bool(p.SITUATION.search(clause))
                and not _SOMEONE_HURT.search(clause)
                and not _SOMEONE_THERE.search(clause)
            )
        )
        rules = question and (
            rules_everywhere or (bool(p.ABOUT_RULES.search(clause)) and not _SOMEONE_HURT.search(clause))
        )
        over = (
            safe_from is not None
            and index <= safe_from
            and (index == safe_from or told_as_past)
            and not _GOING_ON.search(clause)
        )
        for name, family in _FAMILIES:
            for match in islice(family.finditer(clause), MAX_CUES_PER_CLAUSE):
                if name in ("threat", "act") and rules:
                    continue
                if name in ("act", "fear") and over:
                    continue
                if _cancelled(
                    name, clause, match, hypothetical=hypothetical, rules=rules or asks_rules, question=question,
                    category=category,
                ):
                    continue
                found.append(name)
                break
    if not found and p.ACROSS_CLAUSES.search(folded) and not (question and p.HYPOTHETICAL.search(folded)):
        found.append("act")
    return found


def _someone_else_wants_it(clause: str, start: int) -> bool:
    """Someone else is named before the self-harm cue, and she does not come in between ("要是同事们都知道了
    我真的不想活了" is hers)."""
    others = list(_SOMEONE_ELSE.finditer(clause, 0, start))
    return bool(others) and not _FIRST_PERSON.search(clause, others[-1].end(), start)


def _cancelled(
    name: str, clause: str, match: re.Match[str], *, hypothetical: bool, rules: bool, question: bool, category: bool
) -> bool:
    if _negated(clause, match.start()):
        return True
    if name == "self_harm":  # "如果工友说不想活了怎么办", "培训讲过同事有轻生的念头该怎么办": someone else, asked about
        return (hypothetical or rules) and _someone_else_wants_it(clause, match.start())
    if hypothetical:
        return True
    if name == "help":
        return question and not p.SOS.search(clause)  # a cry for help in the clause stands
    if name == "threat":
        return False
    if category and not _FIRST_PERSON.search(match.group()):
        return True  # "被跟踪算骚扰吗" asks about a kind of act; "有人一直跟着我，这算骚扰吗" tells of one
    if _past(clause, match.end()):
        return True
    if name == "fear":
        return not p.FEAR_NOW.match(clause[match.end() :])
    return False


# --- the other intents ------------------------------------------------------------------------


def _only(words: re.Pattern[str], folded: str) -> bool:
    """The message is nothing but these words (and punctuation, particles)."""
    rest = words.sub(" ", folded)
    return not p.FILLERS.sub("", rest)


def _report_words(text: str, folded: str) -> str | None:
    """The whole message when it says more than "I want to report" (who, what), else None."""
    rest = p.REPORT_BARE_WORDS.sub(" ", folded)
    rest = p.FILLERS.sub("", rest)
    meaningful = len(_CJK.findall(rest)) >= 2 or bool(re.search(r"[a-z]{3,}", rest))
    return text.strip() if meaningful else None


def _intent_without_danger(text: str, folded: str) -> tuple[Intent, str | None]:
    if p.STATUS.search(folded) and not p.WHO_READS.search(folded):
        return Intent.STATUS, None
    report = p.REPORT.search(folded)
    if report and p.REPORT_REFUSED.search(folded[: report.start()]):
        report = None
    said = report is not None and any(
        p.REPORT.search(c) and not _question_shaped(c) and not p.HYPOTHETICAL.search(c) for c in clauses(folded)
    )
    if report and (said or not _question_shaped(folded) or p.REQUEST.search(folded)):
        return Intent.REPORT, _report_words(text, folded)
    if p.PERSON.search(folded) and not p.CATEGORY_QUESTION.search(folded) and not p.JUST_ASKING.search(folded):
        return Intent.PERSON, None
    if p.THANKS_CORE.search(folded) and _only(p.THANKS_WORDS, p.GREETING_WORDS.sub(" ", folded)):
        return Intent.THANKS, None
    if _only(p.GREETING_WORDS, folded):
        return Intent.GREETING, None
    if _only(p.THANKS_WORDS, folded) or (p.THANKS_START.match(folded) and not _question_shaped(folded)):
        return Intent.THANKS, None
    asks_rules = bool(p.ABOUT_RULES.search(folded)) and not _FIRST_PERSON_ACT.search(folded)
    asks = (
        _question_shaped(p.REPORTED_QUESTION.sub(" ", folded))
        or bool(p.CATEGORY_QUESTION.search(folded))
        or asks_rules
    )
    if p.NARRATIVE.search(folded) and not asks:
        return Intent.REPORT, text.strip()
    return Intent.QUESTION, None


def _mentions_danger(folded: str) -> bool:
    """A danger word anywhere, whether or not what is around it cancels it."""
    return any(family.search(folded) for _name, family in _FAMILIES)


def understand(text: str, second_reading: Callable[[str], bool] | None = None) -> Understanding:
    """The intent of one message (see the module docstring). ``second_reading`` (the learned reading of
    :mod:`handlers.danger_model`) is asked whether the message tells of danger only when no danger
    word is in it at all: a word found and cancelled by what is around it stays cancelled."""
    folded = fold(text)
    receipt = find_receipt(text)
    if _danger_cues(folded) or (
        second_reading is not None and not _mentions_danger(folded) and second_reading(text)
    ):
        if receipt is not None:
            return Understanding(Intent.DANGER, receipt=receipt, then=Intent.STATUS)
        then, words = _intent_without_danger(text, folded)
        if then is Intent.QUESTION and not _question_shaped(folded):
            return Understanding(Intent.DANGER)
        if then in (Intent.GREETING, Intent.THANKS):
            return Understanding(Intent.DANGER)
        return Understanding(Intent.DANGER, words=words if then is Intent.REPORT else None, then=then)
    if receipt is not None:
        return Understanding(Intent.STATUS, receipt=receipt)
    intent, words = _intent_without_danger(text, folded)
    return Understanding(intent, words=words)
