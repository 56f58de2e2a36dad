"""Spoken and typed shortcuts read as the Mandarin words they stand for, before the intent
recogniser's word families see a message: Cantonese and south-western (Sichuan,
Henan) words, and the pinyin initials workers type for words they would rather not spell out
("zs" for 自杀, "jb" for 举报, "xsr" for 性骚扰).

The text is lower case already. Longer forms come first ("唔该" is thanks, not "不该"); 唔 is "not"
only before a verb; pinyin initials count only as whole Latin tokens. (The FAQ search does not use
this: tried on its evaluation sets, it moved one question up and two down.)
"""

from __future__ import annotations

import re

_SPOKEN = (
    ("唔该", "谢谢"), ("多谢晒", "谢谢"), ("有冇", "有没有"), ("而家", "现在"), ("依家", "现在"), ("点样", "怎么样"),
    ("乜嘢", "什么"), ("咩", "什么"), ("边度", "哪里"), ("边个", "谁"), ("喺", "在"), ("冇", "没有"),
    ("佢", "他"), ("嘅", "的"), ("咗", "了"), ("係", "是"), ("睇", "看"), ("搵", "找"), ("嚟", "来"), ("好惊", "好怕"),
    ("我惊", "我怕"), ("咋个", "怎么"), ("啥子", "什么"), ("没得", "没有"), ("守到起", "守着"), ("遭他", "被他"),
    ("在马", "在吗"), ("俺", "我"), ("咱", "我"), ("巨报", "举报"), ("咋整", "怎么办"), ("中不中", "行不行"),
    ("莫得", "没有"), ("晓得", "知道"), ("好滴", "好的"), ("跟住", "跟着"), ("唔俾", "不让"), ("俾我走", "让我走"),
    ("好驚", "好怕"), ("门扣", "门口"), ("侬", "你"), ("主官", "主管"),
)
_CANTONESE_NOT = re.compile(r"唔(?=[肯好知系係是使敢得走想要会會能可让讓放见見识識怕理管出停])")
"""唔 is "not" before a verb ("佢唔肯走"); alone it is a hesitation ("唔…他在门口"), not a negation."""
_PINYIN_INITIALS = {
    "zs": "自杀", "jb": "举报", "xsr": "性骚扰", "sr": "骚扰", "zg": "主管", "nh": "你好", "xx": "谢谢", "bj": "报警",
}
_PINYIN_TOKEN = re.compile(
    r"(?<![a-z0-9])(?:" + "|".join(sorted(_PINYIN_INITIALS, key=len, reverse=True)) + r")(?![a-z0-9])"
)
"""Whole Latin tokens only: "zs" inside a receipt group ("k7zs") is not 自杀."""


def as_mandarin(text: str) -> str:
    """``text`` (lower case) with its dialect words and pinyin initials as Mandarin."""
    for spoken, written in _SPOKEN:
        text = text.replace(spoken, written)
    text = _CANTONESE_NOT.sub("不", text)
    return _PINYIN_TOKEN.sub(lambda match: _PINYIN_INITIALS[match.group()], text)
