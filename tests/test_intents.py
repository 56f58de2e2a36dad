"""The intent recogniser on its own: our table, our held-out set, the shared dev set, and the words that
turn danger on and off (negation, tense, hypotheticals, fear of a consequence)."""

from __future__ import annotations

import random

import pytest

from handlers import intent_patterns
from handlers.intents import Intent, find_receipt, script_language, understand

from .intent_rates import (
    BLIND_C,
    BLIND_D,
    BLIND_E,
    BLIND_F,
    COLLOQUIAL,
    HELD_OUT,
    SHARED_DEV,
    TABLE,
    Phrase,
    read_phrases,
    score,
)

TABLE_PHRASES = read_phrases(TABLE)


@pytest.mark.parametrize("phrase", TABLE_PHRASES, ids=[p.q[:30] for p in TABLE_PHRASES])
def test_every_table_phrase_is_read_as_its_intent(phrase: Phrase) -> None:
    understood = understand(phrase.q)
    assert understood.intent == phrase.intent
    if phrase.intent == Intent.REPORT:
        assert (understood.words is not None) == phrase.words, "her words are kept only when they say more"


def test_the_table_covers_every_intent_in_both_languages() -> None:
    covered = {(p.intent, p.lang) for p in TABLE_PHRASES}
    assert covered == {(intent.value, lang) for intent in Intent for lang in ("zh", "en")}
    assert len(TABLE_PHRASES) >= 60


def print_rates(name: str, phrases: list[Phrase]) -> None:
    rates = score(phrases)
    print(
        f"\n{name}: danger recall {rates.danger_found}/{rates.danger_total} ({rates.recall:.0%}), "
        f"false alarms {rates.false_alarms}/{rates.safe_total} ({rates.false_alarm_rate:.0%}), "
        f"accuracy {rates.correct}/{rates.total} ({rates.accuracy:.0%})"
    )


def test_rates_on_our_table() -> None:
    rates = score(TABLE_PHRASES)
    print_rates("table", TABLE_PHRASES)
    assert rates.recall == 1.0 and rates.false_alarms == 0 and rates.accuracy == 1.0


def test_rates_on_our_held_out_set() -> None:
    """Written before the recogniser and never tuned on: the floors say what we promise on new wording."""
    phrases = read_phrases(HELD_OUT)
    rates = score(phrases)
    print_rates("held-out", phrases)
    assert len(phrases) >= 40
    assert rates.recall >= 0.9
    assert rates.false_alarm_rate <= 0.1
    assert rates.accuracy >= 0.75


def test_rates_on_the_shared_dev_set() -> None:
    if not SHARED_DEV.exists():
        pytest.skip(f"no shared dev set at {SHARED_DEV}")
    phrases = read_phrases(SHARED_DEV)
    rates = score(phrases)
    print_rates("shared dev", phrases)
    assert rates.recall >= 0.9
    assert rates.false_alarm_rate <= 0.1
    assert rates.accuracy >= 0.8


@pytest.mark.parametrize(
    "text",
    [
        "我想跟你们说一下最近的情况，我们线长老是讲黄色笑话，我一直忍着，可是他现在就在我宿舍门口不走",
        "I wanted to ask about the policy but actually right now a man is waiting outside my room",
        "上个月他摸过我，我没说，今天下班他又一路跟着我，我好怕",
        "sorry to bother you, my supervisor said he will hurt me if i tell anyone",
        "我也不知道该跟谁说，活着太累了，真的想死",
    ],
)
def test_danger_is_caught_inside_longer_sentences(text: str) -> None:
    assert understand(text).intent is Intent.DANGER


@pytest.mark.parametrize(
    ("danger", "safe"),
    [
        ("我好怕", "我不怕"),
        ("他现在跟着我", "他以前跟踪过我"),
        ("他在跟踪我", "没人跟踪我"),
        ("他又在宿舍楼下等我", "他之前在宿舍楼下等过我"),
        ("he is following me", "he is not following me anymore"),
        ("someone is following me now", "he used to follow me last year"),
        ("I am scared", "I'm not scared"),
        ("I am in danger", "I'm not in danger"),
        ("我好害怕，他还在外面", "我很怕被报复"),
        ("I'm afraid of him", "I'm afraid my supervisor will find out"),
        ("有人跟着我", "如果有人跟着我怎么办"),
        ("我不想活了", "我想辞职"),
    ],
)
def test_negation_tense_and_worry_turn_danger_off(danger: str, safe: str) -> None:
    assert understand(danger).intent is Intent.DANGER, danger
    assert understand(safe).intent is not Intent.DANGER, safe


def test_traditional_characters_read_like_simplified() -> None:
    assert understand("他在宿舍門口等我，我好怕").intent is Intent.DANGER
    reported = understand("我想舉報我們線長")
    assert reported.intent is Intent.REPORT and reported.words == "我想舉報我們線長", "her words as she wrote them"
    assert understand("謝謝").intent is Intent.THANKS


def test_a_threat_is_danger_even_as_a_condition() -> None:
    assert understand("他说要是我告诉别人就打死我").intent is Intent.DANGER
    assert understand("他威胁要开除我").intent is not Intent.DANGER, "a threat to her job is not danger now"


def test_a_danger_message_keeps_its_other_intent() -> None:
    reported = understand("我要举报，他刚才打我")
    assert reported.intent is Intent.DANGER and reported.then is Intent.REPORT
    assert reported.words == "我要举报，他刚才打我"
    asked = understand("有人一直跟着我，这种情况可以报警吗？")
    assert asked.intent is Intent.DANGER and asked.then is Intent.QUESTION
    assert understand("他在宿舍门口等我，我好怕").then is None


@pytest.mark.parametrize(
    ("text", "receipt"),
    [
        ("K7QX-M2PA-X9TB-4RWE", "K7QX-M2PA-X9TB-4RWE"),
        ("我的查询码是 k7qx m2pa x9tb 4rwe，帮我看看", "K7QX-M2PA-X9TB-4RWE"),
        ("回执：Ｋ７ＱＸ－Ｍ２ＰＡ－Ｘ９ＴＢ－４ＲＷＥ", "K7QX-M2PA-X9TB-4RWE"),
        ("here it is k7qxm2pax9tb4rwe thanks", "K7QX-M2PA-X9TB-4RWE"),
        ("号码 K7QX—M2PA—X9TB—4RWE", "K7QX-M2PA-X9TB-4RWE"),
        ("ABCD-EFGH-JKMN-PQRS", "ABCD-EFGH-JKMN-PQRS"),
    ],
)
def test_a_receipt_is_found_anywhere_in_a_message(text: str, receipt: str) -> None:
    assert find_receipt(text) == receipt
    understood = understand(text)
    assert understood.intent is Intent.STATUS and understood.receipt == receipt


@pytest.mark.parametrize(
    "text",
    ["does the board keep things confidential", "must have done such", "thank you very much",
     "k7qx-m2pa-x9tb", "KQXM APAX TBRW EZZZ", "案件号 HAP-7K2QXM"],
)
def test_words_are_not_taken_for_a_receipt(text: str) -> None:
    assert find_receipt(text) is None


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("what counts as harassment at work", "en"),
        ("性骚扰的定义是什么", "zh"),
        ("我想report一下", "zh"),
        ("hi", None),
        ("ok", None),
        ("1", None),
        ("K7QX-M2PA-X9TB-4RWE", None),
        ("abcd efgh 2jkm npqr", None),
        ("我的查询码 abcd efgh 2jkm npqr", "zh"),
    ],
)
def test_the_language_is_read_from_the_script_conservatively(text: str, language: str | None) -> None:
    assert script_language(text) == language


@pytest.mark.parametrize(
    "family",
    ["HELP", "THREAT", "SELF_HARM", "ACT", "FEAR", "QUESTION", "REQUEST", "REPORT", "STATUS", "PERSON",
     "PAST", "PRESENT", "HYPOTHETICAL", "CATEGORY_QUESTION", "THANKS_CORE", "NARRATIVE", "SITUATION", "ABOUT_RULES"],
)
def test_no_word_family_matches_nothing(family: str) -> None:
    """An empty alternative ("a|b|") would match every message."""
    assert getattr(intent_patterns, family).search("") is None


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("can HR read my report about my manager", Intent.QUESTION),
        ("will my boss see my report", Intent.QUESTION),
        ("who can read my complaint", Intent.QUESTION),
        ("人事能看到我的举报吗", Intent.QUESTION),
        ("老板会不会看到我写的", Intent.QUESTION),
        ("has anyone read my report", Intent.STATUS),
        ("can i see my report", Intent.STATUS),
        ("can you check my report", Intent.STATUS),
        ("查一下我的举报", Intent.STATUS),
    ],
)
def test_who_can_read_my_report_is_a_question_not_a_status_lookup(text: str, intent: Intent) -> None:
    """The privacy question names "my report" too; it is answered by the FAQ (who reads which report)."""
    assert understand(text).intent is intent


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("佢而家喺宿舍楼下唔肯走", Intent.DANGER),  # Cantonese: he is downstairs now and will not leave
        ("我成日都有zs嘅念头", Intent.DANGER),  # pinyin initials for 自杀
        ("想查下我jb嘅进度", Intent.STATUS),
        ("唔该晒", Intent.THANKS),
        ("那个龟儿子守到起在寝室门口", Intent.DANGER),  # Sichuan: keeps watch at the door
        ("我的投诉交了一个月了 一直没人理", Intent.STATUS),
        ("i complained three weeks ago and still no reply", Intent.STATUS),
        ("能不能叫工会的人打个电话给我", Intent.PERSON),
        ("俺刚才吞了一大把药 不想活了", Intent.DANGER),
        ("他把车开到没人的地方 车上只有我一个", Intent.DANGER),
        ("he pushed me into the store room last week, i got away, i am safe now, i want to report it", Intent.REPORT),
        ("i got away but he is still outside my dorm", Intent.DANGER),
    ],
)
def test_dialect_pinyin_initials_and_plain_complaints_are_understood(text: str, intent: Intent) -> None:
    assert understand(text).intent is intent


@pytest.mark.parametrize(
    ("account", "question"),
    [
        ("拉长老是在微信群里发黄图给我", "拉长在群里发黄图算不算性骚扰"),
        ("the forklift driver keeps touching my waist at the line", "does touching my waist count as harassment"),
        ("主管说不陪他喝酒就不给我转正", "法律上对这种潜规则是怎么规定的"),
    ],
)
def test_an_account_in_her_own_words_is_a_report_and_asking_about_it_a_question(account: str, question: str) -> None:
    told = understand(account)
    assert told.intent is Intent.REPORT and told.words == account, "her words start the account"
    assert understand(question).intent is Intent.QUESTION


@pytest.mark.parametrize(
    ("general", "happening"),
    [
        ("下夜班遇到有人尾随应该怎么做", "刚才下夜班遇到有人尾随我 怎么办"),
        ("公司对威胁员工有什么规定", "他威胁我 公司有什么规定吗"),
        ("what does the policy say about threats at work", "he threatened to hurt me, what does the policy say"),
    ],
)
def test_a_question_about_a_kind_of_situation_is_not_danger_but_one_happening_to_her_is(
    general: str, happening: str
) -> None:
    assert understand(general).intent is Intent.QUESTION
    assert understand(happening).intent is Intent.DANGER


GUARD_AT_THE_DOOR = "我之前报的那个保安的事 处理完了吗 我看他还在门口站岗"


def test_every_colloquial_phrase_is_read_as_its_intent() -> None:
    """Dialect, pinyin initials, typos and euphemisms from two writers who never saw the recogniser.
    One status question is read as danger (the guard she reported is "still at the door", on duty):
    a false alarm, answered with the help first and then the status lookup she asked for."""
    phrases = read_phrases(COLLOQUIAL)
    assert len(phrases) == 310
    missed = [(phrase.q, phrase.intent) for phrase in phrases if understand(phrase.q).intent != phrase.intent]
    assert missed == [(GUARD_AT_THE_DOOR, "status")]
    assert understand(GUARD_AT_THE_DOOR).then is Intent.STATUS


MOVED_AWAY = (
    "he used to wait for me after work and follow me but he was moved to another factory 2 months ago. "
    "i want this on record"
)


def test_every_phrase_of_the_third_blind_set_is_read_as_its_intent() -> None:
    """200 first messages from a third writer who never saw the recogniser: danger said without its
    words (a letter left under the pillow, "not wake up"), threats to her family, greetings and thanks
    in Vietnamese and Tagalog, typos of 举报. One report is read as danger: the past ("used to") stands
    in the first clause only, and "follow me" after "and" is read as it stands. A false alarm costs one
    message (the help first, then her report), so it is left."""
    phrases = read_phrases(BLIND_C)
    assert len(phrases) == 200
    missed = [(phrase.q, phrase.intent) for phrase in phrases if understand(phrase.q).intent != phrase.intent]
    assert missed == [(MOVED_AWAY, "report")]
    assert understand(MOVED_AWAY).then is Intent.REPORT


def test_every_phrase_of_the_sixth_blind_set_is_read_as_its_intent() -> None:
    """200 plain first messages from a sixth writer: a driver heading out of town who will not stop, a
    video held over her, someone turning her door handle, a guard who walked into the dorm and is
    still there, "药我都买好了"; quid pro quo and remarks about her body as accounts; what he said,
    told in her account, is not her question."""
    phrases = read_phrases(BLIND_F)
    assert len(phrases) == 200
    assert [(phrase.q, phrase.intent) for phrase in phrases if understand(phrase.q).intent != phrase.intent] == []


def test_every_phrase_of_the_fifth_blind_set_is_read_as_its_intent() -> None:
    """200 first messages from a fifth writer: a drink and dizziness, a hotel room summons, blackmail with
    a deadline, a roommate gone with the line leader and her phone off (told across clauses), self-harm
    said indirectly ("被车撞了也挺好"); a training question about a co-worker's thoughts of suicide is a
    question; greetings and thanks in Malay, Arabic and Nepali."""
    phrases = read_phrases(BLIND_E)
    assert len(phrases) == 200
    assert [(phrase.q, phrase.intent) for phrase in phrases if understand(phrase.q).intent != phrase.intent] == []


def test_every_phrase_of_the_fourth_blind_set_is_read_as_its_intent() -> None:
    """160 first messages from a fourth writer: self-harm told as cutting, bleach, things given away;
    a door locked on her ("the supervisor lock the store room door, i am inside"); what he asked her,
    told in her account, is not her question; a training question about a co-worker who says she does
    not want to live is a question."""
    phrases = read_phrases(BLIND_D)
    assert len(phrases) == 160
    assert [(phrase.q, phrase.intent) for phrase in phrases if understand(phrase.q).intent != phrase.intent] == []


@pytest.mark.parametrize(
    "text",
    [
        "I got away but he is following me",
        "I'm safe now but he's outside waiting for me",
        "i am safe now but my roommate is trapped in his room",
        "我已经安全了，可他拿着刀在楼下守着",
        "救命！遇到这种事怎么办",
        "他把我锁在房间里，发生这种事怎么办",
        "what do i do when a man grabs me and won't let me go",
        "How do I get away when a man is blocking my door?",
        "he is outside my door with a knife. what does the policy say?",
        "室友被组长锁在仓库里了，按规定该找谁？",
        "whats happening someone is banging on the door",
        "帮我报警，我啥也不敢说",
        "唔…他在门口等我",
        "He is still outside my door. I am safe inside for now.",
        "he is waiting downstairs for me, i am safe in my room now, what do i do",
        "我现在安全了他在门口守着",
        "现在没事了他在门口等我",
        "the guy who got away with it is following me now",
        "下班遇到他在门口堵着不让走 怎么办",
        "那个男的在培训室门口守着不走 怎么办",
        "can someone call the police",
        "zg一直sr我 现在又来了",
        "佢跟住我返屋企",
        "he try open my door now what i do",
        "he is touching me now in the car, help",
    ],
)
def test_what_turns_danger_off_never_reaches_past_its_own_clause(text: str) -> None:
    """"I am safe now", a question about a kind of situation or about the rules turn off only what
    they are about (found in review: each of these was read as a question)."""
    assert understand(text).intent is Intent.DANGER


@pytest.mark.parametrize(
    "text",
    [
        "明天人事会来我们宿舍检查",
        "组长说晚上来我们宿舍检查卫生",
        "宿舍门锁了，我进不去",
        "宿管拿钥匙开了宿舍门",
        "Thanks a lot for the help",
        "do you call the police or is it handled inside the company",
    ],
)
def test_ordinary_visits_and_locked_out_are_not_danger(text: str) -> None:
    """Nor are "thanks for the help" or asking whether the company calls the police."""
    assert understand(text).intent is not Intent.DANGER


def test_a_receipt_is_never_read_as_danger() -> None:
    """Pinyin initials ("zs" for 自杀, "bj" for 报警) count only as whole tokens: inside a receipt's group
    ("k7zs") they are not, so pasting her receipt never brings the emergency help."""
    rng = random.Random(7)
    symbols = "23456789abcdefghjkmnpqrstuvwxyz"
    groups = (["".join(rng.choice(symbols) for _ in range(4)) for _ in range(4)] for _ in range(3000))
    receipts = ["-".join(group) for group in groups]
    receipts += ["k7zs-m2bj-x9tb-4rwe", "zs2k-bj3m-x9tb-4rwe"]
    alarmed = [r for r in receipts if understand(r).intent is Intent.DANGER or understand(f"我的查询码是 {r}").intent
               is Intent.DANGER]
    assert alarmed == []
