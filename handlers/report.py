"""The anonymous report: notice and consent, a guided draft, review, submit with a receipt.

A frightened worker must be able to finish this on a phone in two minutes, so every question but
"what happened" is a tap, optional ones can be skipped, and the draft is saved (sealed) after
every message so nothing is lost if the phone dies or the bot restarts.

Her account ("what happened", over as many messages as she needs) is kept in parts, one sealed row
per message (``storage.drafts``): the draft holds only its id and the number of parts, so adding a
message seals and writes that message alone. The review and the submit read the parts in order.
Parts go with the draft: on cancel, on submit, when the worker's chat is forgotten, and, for a
draft that expired or was abandoned, by the cleaner when their expiry hour (the conversation's)
passes.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from storage.case_index import Audience
from storage.cases import IssuedReceipt

from .context import Context, Services
from .conversation import REPORT_QUESTIONS, Conversation, State
from .events import Alert, AlertAudience, Channel, Choice, Incoming
from .i18n import N_
from .intents import Intent, Understanding
from .preparation import Preparation
from .privacy import NOTICE_VERSION, privacy_notice
from .router import Router

router = Router()
router.reads_text(State.REPORT_WHAT, story=True)
router.reads_text(State.REPORT_WITNESSES)

MAX_WHAT_MESSAGES = 30
MAX_ATTACHMENTS = 10
PICTURE_CHANNELS = frozenset({Channel.WECHAT, Channel.TELEGRAM})
"""Channels whose pictures reach the report as evidence (the console carries text only)."""

CATEGORIES = {
    "verbal": N_("Words: comments, jokes, sounds"),
    "physical": N_("Touching or physical acts"),
    "messages": N_("Messages, pictures or videos"),
    "quid_pro_quo": N_("Asked for sex or favours in exchange for something"),
    "other": N_("Something else"),
}
WHEN = {
    "today": N_("Today"),
    "this_week": N_("This week"),
    "this_month": N_("This month"),
    "earlier": N_("Earlier"),
    "ongoing": N_("It keeps happening"),
}
WHERE = {
    "workshop": N_("Workshop or production line"),
    "office": N_("Office"),
    "dormitory": N_("Dormitory"),
    "canteen": N_("Canteen or rest area"),
    "commute": N_("On the way to or from work"),
    "online": N_("Online or by phone"),
    "elsewhere": N_("Somewhere else"),
}
INVOLVED = {
    "supervisor": N_("Yes: a supervisor, manager or someone in HR"),
    "coworker": N_("No: a co-worker"),
    "outsider": N_("No: someone from outside (visitor, driver, client)"),
    "unsure": N_("I am not sure"),
}
URGENCY = {
    "danger_now": N_("🆘 I am in danger now"),
    "soon": N_("Please act soon (within days)"),
    "normal": N_("Not urgent"),
}
NOTIFY = {
    "notify_yes": N_("Yes, send me a neutral notice here"),
    "notify_no": N_("No, I will check with my receipt"),
}
# What workers type for the report's choices besides the words of the labels (see handlers.choice_words).
router.accepts_words(
    {
        "verbal": ("说", "讲", "骂", "笑话", "黄段子", "言语", "口头", "吹口哨", "comments", "jokes", "words", "said"),
        "physical": ("摸", "碰", "抱", "亲", "搂", "动手动脚", "身体", "touch", "touched", "grab", "hug", "kiss"),
        "messages": ("微信", "短信", "照片", "图片", "视频", "发消息", "聊天", "wechat", "photos", "text", "messages"),
        "quid_pro_quo": ("陪", "交换", "升职", "加薪", "转正", "开除", "条件", "promotion", "favour", "favor"),
        "other": ("其他", "别的", "other"),
        "today": ("今天", "今日", "刚才", "刚刚", "today", "just now"),
        "this_week": ("这周", "本周", "这个星期", "这个礼拜", "这几天", "昨天", "前天", "yesterday"),
        "this_month": ("这个月", "本月", "上周", "上星期", "last week"),
        "earlier": ("以前", "之前", "很久", "去年", "上个月", "几个月", "last month", "last year", "long ago"),
        "ongoing": ("一直", "经常", "每天", "天天", "总是", "老是", "好几次", "always", "every day", "often", "still"),
        "workshop": ("车间", "产线", "流水线", "拉上", "线上", "工位", "机台", "line", "factory floor"),
        "office": ("办公室", "办公楼", "office"),
        "dormitory": ("宿舍", "寝室", "宿舍楼", "dorm", "dormitory"),
        "canteen": ("食堂", "饭堂", "休息室", "休息区", "吃饭", "canteen", "break room"),
        "commute": ("路上", "上班路上", "下班路上", "班车", "公交", "回家", "bus", "commute", "on the way"),
        "online": ("微信", "网上", "电话", "手机", "短信", "qq", "wechat", "phone", "online"),
        "elsewhere": ("其他", "别的地方", "外面", "别处", "elsewhere", "somewhere else"),
        "supervisor": (
            "线长", "拉长", "组长", "班长", "主管", "经理", "主任", "领导", "上司", "老板", "厂长", "领班", "人事",
            "hr", "supervisor", "line leader", "team leader", "leader", "boss", "manager", "foreman",
        ),
        "coworker": ("同事", "工友", "同线", "同组", "co-worker", "coworker", "colleague"),
        "outsider": (
            "外人", "外面的人", "客户", "客人", "访客", "司机", "保安", "visitor", "driver", "client", "customer",
        ),
        "unsure": ("不知道", "不清楚", "不确定", "说不准", "not sure", "don't know", "unsure"),
        "soon": ("尽快", "很急", "急", "快点", "几天内", "soon", "urgent", "quickly"),
        "normal": ("不急", "不紧急", "不着急", "没那么急", "慢慢", "not urgent", "no hurry"),
        "notify_yes": ("可以", "好", "要", "发", "行", "yes", "ok", "sure"),
        "notify_no": ("不要", "不用", "别发", "不可以", "不行", "不好", "no", "don't"),
        "skip": ("跳过", "不想说", "不记得", "记不清", "忘了", "skip", "pass", "don't remember"),
        "agree": ("同意", "明白", "继续", "好", "可以", "agree", "ok", "yes", "continue"),
        "decline": ("不同意", "不要", "算了", "返回", "no", "back"),
    }
)

EDITABLE = {
    "edit_what": (N_("What happened"), State.REPORT_WHAT),
    "edit_category": (N_("Type"), State.REPORT_CATEGORY),
    "edit_when": (N_("When"), State.REPORT_WHEN),
    "edit_where": (N_("Where"), State.REPORT_WHERE),
    "edit_involved": (N_("Who was involved"), State.REPORT_INVOLVED),
    "edit_witnesses": (N_("Witnesses"), State.REPORT_WITNESSES),
    "edit_urgency": (N_("Urgency"), State.REPORT_URGENCY),
    "edit_notify": (N_("Notifications"), State.REPORT_NOTIFY),
}


def _danger(ctx: Context) -> Choice:
    return ctx.choice("danger", N_("🆘 I am in danger now"))


def _options(ctx: Context, labels: dict[str, str], *extra: Choice) -> list[Choice]:
    return [ctx.choice(key, label) for key, label in labels.items()] + list(extra)


def _skip(ctx: Context) -> Choice:
    return ctx.choice("skip", N_("Skip"))


async def _next(ctx: Context, state: str) -> None:
    """Goes to the next question, or back to the review when the worker was editing one answer."""
    if ctx.conversation.editing:
        ctx.conversation.editing = False
        await ctx.go(State.REPORT_REVIEW)
    else:
        await ctx.go(state)


def _draft(ctx: Context) -> dict[str, object]:
    return ctx.conversation.open_draft((ctx.now + ctx.services.settings.draft_ttl).timestamp())


# Parts expire with the conversation; their expiry hour is moved (one statement) at most once a day,
# and always before the draft could outlive them.
PARTS_EXPIRY_SLACK_HOURS = 24


def account_size(draft: Mapping[str, object]) -> int:
    """How many messages her account holds (drafts saved before parts existed keep theirs inline)."""
    inline = draft.get("what")
    parts = draft.get("parts")
    return (len(inline) if isinstance(inline, list) else 0) + (parts if isinstance(parts, int) else 0)


async def _keep_parts(ctx: Context, draft: dict[str, object]) -> int:
    """The expiry hour of the draft's parts: the conversation's, moved forward at most once a day,
    but never left before the hour the draft itself may expire (its lifetime restarts with each
    message): the cleaner must not delete an account whose draft is still alive."""
    settings = ctx.services.settings
    target = int((ctx.now + settings.conversation_ttl).timestamp() // 3600) + 1
    draft_ends = int((ctx.now + settings.draft_ttl).timestamp() // 3600) + 1
    until = draft.get("parts_until")
    if isinstance(until, int) and until >= max(target - PARTS_EXPIRY_SLACK_HOURS, draft_ends):
        return until
    count = draft.get("parts")
    if isinstance(count, int) and count:
        await ctx.services.drafts.keep_until(ctx.session, ctx.incoming.user_key, str(draft["id"]), count, target)
    draft["parts_until"] = target
    return target


async def add_to_account(ctx: Context, text: str) -> None:
    """Seals and writes this message alone, as the next part of her account."""
    draft = _draft(ctx)
    draft.setdefault("id", secrets.token_hex(8))
    count = draft.get("parts")
    number = count if isinstance(count, int) else 0
    hour = await _keep_parts(ctx, draft)
    await ctx.services.drafts.append(ctx.session, ctx.incoming.user_key, str(draft["id"]), number, text, hour)
    draft["parts"] = number + 1


async def account(ctx: Context) -> list[str]:
    """Her whole account, in order: the inline lines of an older draft, then the parts."""
    draft = ctx.conversation.draft or {}
    inline = draft.get("what")
    lines = [str(line) for line in inline] if isinstance(inline, list) else []
    count = draft.get("parts")
    if isinstance(count, int) and count:
        lines += await ctx.services.drafts.read(ctx.session, ctx.incoming.user_key, str(draft["id"]), count)
    return lines


async def delete_parts(
    session: AsyncSession, user_key: str, draft: Mapping[str, object] | None, services: Services
) -> None:
    """Deletes the parts of ``draft`` (one statement; none for a draft without parts)."""
    count = (draft or {}).get("parts")
    if isinstance(count, int) and count:
        await services.drafts.delete(session, user_key, str((draft or {})["id"]), count)


async def discard_draft(ctx: Context) -> None:
    """Deletes the draft and its parts."""
    await delete_parts(ctx.session, ctx.incoming.user_key, ctx.conversation.draft, ctx.services)
    ctx.conversation.draft = None
    ctx.conversation.draft_expires_at = None


@router.forgets
async def forget_draft(session: AsyncSession, user_key: str, conversation: Conversation, services: Services) -> None:
    """A forgotten chat's draft parts go with its conversation."""
    await delete_parts(session, user_key, conversation.draft, services)


@router.asks(State.REPORT_RESUME)
async def ask_resume(ctx: Context) -> None:
    """Says an unfinished report exists, without showing any of it, and asks what to do."""
    ctx.say(
        ctx.t("You have an unfinished report. What would you like to do?"),
        [
            ctx.choice("resume", N_("Continue where I stopped")),
            ctx.choice("review", N_("Show what I wrote")),
            ctx.choice("discard", N_("Delete it and start again")),
            _danger(ctx),
        ],
    )


@router.on(State.REPORT_RESUME)
async def on_resume(ctx: Context) -> None:
    """Continues at the saved step, shows the review, or deletes the draft and starts over."""
    draft = ctx.conversation.draft or {}
    if ctx.choice_id == "resume":
        step = str(draft.get("step") or State.REPORT_NOTICE)
        await ctx.go(step if step in ctx.router.states else State.REPORT_NOTICE)
    elif ctx.choice_id == "review":
        await ctx.go(State.REPORT_REVIEW)
    elif ctx.choice_id == "discard":
        from .common import ask_cancel

        await ask_cancel(ctx)  # deleting what a worker wrote always asks first
    else:
        await ask_resume(ctx)


@router.asks(State.REPORT_NOTICE)
async def ask_notice(ctx: Context) -> None:
    """Shows the privacy notice and asks for consent."""
    ctx.say(
        privacy_notice(ctx),
        [ctx.choice("agree", N_("I understand, continue")), ctx.choice("decline", N_("No, go back")), _danger(ctx)],
    )


@router.on(State.REPORT_NOTICE)
async def on_notice(ctx: Context) -> None:
    """Records consent inside the draft (never on the worker) and asks what happened."""
    if ctx.choice_id == "agree":
        draft = _draft(ctx)
        draft["consent"] = {"notice": NOTICE_VERSION, "language": ctx.language}
        await ctx.go(State.REPORT_WHAT)
    elif ctx.choice_id == "decline":
        await discard_draft(ctx)
        ctx.say(ctx.t("That is fine. Nothing was saved. You can come back at any time."))
        await ctx.go(State.MENU)
    else:
        await ask_notice(ctx)


@router.understands(Intent.REPORT)
async def start_from_words(ctx: Context, understood: Understanding) -> None:
    """Starts the report from what she wrote ("我想举报我们线长"): her words wait in the draft, sealed, as
    the first part of her account, through the notice (declining it deletes them); an unfinished
    report is offered first, with her words added to it."""
    conversation = ctx.conversation
    conversation.end_case_session()
    had_draft = conversation.draft is not None
    if understood.words or understood.urgent or had_draft:
        draft = _draft(ctx)
        if understood.words and account_size(draft) < MAX_WHAT_MESSAGES:
            await add_to_account(ctx, understood.words)
        if understood.urgent:
            draft["urgency"] = "danger_now"
    await ctx.go(State.REPORT_RESUME if had_draft else State.REPORT_NOTICE)


@router.asks(State.REPORT_WHAT)
async def ask_what(ctx: Context) -> None:
    """Asks what happened, in the worker's own words, over as many messages as needed."""
    count = account_size(_draft(ctx))
    if count:
        text = ctx.t("Saved ({count} messages). Add more, or choose Done.", count=count)
    else:
        text = ctx.t(
            "Please tell us what happened, in your own words. You can send several messages. "
            "Write only what you are comfortable with. When you have finished, choose Done."
        )
        if ctx.incoming.channel in PICTURE_CHANNELS:
            text += "\n" + ctx.t(
                "You can also send photos or screenshots (at most {count}) as evidence.", count=MAX_ATTACHMENTS
            )
    ctx.say(text, [ctx.choice("done", N_("Done")), _danger(ctx)])


@router.on(State.REPORT_WHAT)
async def on_what(ctx: Context) -> None:
    """Stores each message of the account; on Done asks for the category."""
    draft = _draft(ctx)
    if ctx.choice_id == "done":
        if not account_size(draft):
            ctx.say(ctx.t("Please write at least a few words about what happened first."))
            await ask_what(ctx)
            return
        await _next(ctx, State.REPORT_CATEGORY)
        return
    if ctx.incoming.attachments:
        attachments: list[dict[str, str]] = draft.setdefault("attachments", [])  # type: ignore[assignment]
        room = MAX_ATTACHMENTS - len(attachments)
        kept = [a for a in ctx.incoming.attachments if a.kind == "image" and a.ref][: max(room, 0)]
        attachments.extend({"kind": a.kind, "ref": a.ref} for a in kept)
        if len(kept) < len([a for a in ctx.incoming.attachments if a.kind == "image" and a.ref]):
            ctx.say(ctx.t("That is the most pictures one report can hold."), keep_offered=True)
    if ctx.text:
        if account_size(draft) >= MAX_WHAT_MESSAGES:
            ctx.say(ctx.t("That is the most one report can hold. Please choose Done."))
        else:
            await add_to_account(ctx, ctx.text)
    await ask_what(ctx)


@router.asks(State.REPORT_CATEGORY)
async def ask_category(ctx: Context) -> None:
    """Asks what kind of harassment it was."""
    ctx.say(ctx.t("What kind of harassment was it?"), _options(ctx, CATEGORIES, _danger(ctx)))


@router.on(State.REPORT_CATEGORY)
async def on_category(ctx: Context) -> None:
    """Stores the category and asks when it happened."""
    await _store_choice(ctx, "category", CATEGORIES, State.REPORT_WHEN)


@router.asks(State.REPORT_WHEN)
async def ask_when(ctx: Context) -> None:
    """Asks roughly when (optional)."""
    ctx.say(ctx.t("When did it happen? (optional)"), _options(ctx, WHEN, _skip(ctx), _danger(ctx)))


@router.on(State.REPORT_WHEN)
async def on_when(ctx: Context) -> None:
    """Stores the coarse time and asks where."""
    await _store_choice(ctx, "when", WHEN, State.REPORT_WHERE)


@router.asks(State.REPORT_WHERE)
async def ask_where(ctx: Context) -> None:
    """Asks roughly where (optional)."""
    ctx.say(ctx.t("Where did it happen? (optional)"), _options(ctx, WHERE, _skip(ctx), _danger(ctx)))


@router.on(State.REPORT_WHERE)
async def on_where(ctx: Context) -> None:
    """Stores the coarse place and asks who was involved."""
    await _store_choice(ctx, "where", WHERE, State.REPORT_INVOLVED)


@router.asks(State.REPORT_INVOLVED)
async def ask_involved(ctx: Context) -> None:
    """Asks whether the person is a supervisor, manager or in HR, which changes who is alerted."""
    ctx.say(
        ctx.t(
            "Is the person who did this a supervisor, a manager or someone in HR? "
            "If so, HR will not be alerted: your report goes to the advocacy board instead."
        ),
        _options(ctx, INVOLVED, _danger(ctx)),
    )


@router.on(State.REPORT_INVOLVED)
async def on_involved(ctx: Context) -> None:
    """Stores who was involved and asks about witnesses."""
    await _store_choice(ctx, "involved", INVOLVED, State.REPORT_WITNESSES)


@router.asks(State.REPORT_WITNESSES)
async def ask_witnesses(ctx: Context) -> None:
    """Asks about witnesses (optional free text)."""
    ctx.say(
        ctx.t("Did anyone see or hear it? You can describe them in one message, or skip. (optional)"),
        [_skip(ctx), _danger(ctx)],
    )


@router.on(State.REPORT_WITNESSES)
async def on_witnesses(ctx: Context) -> None:
    """Stores the witnesses text (or none) and asks how urgent it is."""
    draft = _draft(ctx)
    if ctx.choice_id == "skip":
        draft["witnesses"] = None
    elif ctx.text:
        draft["witnesses"] = ctx.text
    else:
        await ask_witnesses(ctx)
        return
    await _next(ctx, State.REPORT_URGENCY)


@router.asks(State.REPORT_URGENCY)
async def ask_urgency(ctx: Context) -> None:
    """Asks how urgent it is."""
    ctx.say(ctx.t("How urgent is it?"), _options(ctx, URGENCY))


@router.on(State.REPORT_URGENCY)
async def on_urgency(ctx: Context) -> None:
    """Stores the urgency; "in danger now" shows emergency help at once; asks about notifications."""
    if ctx.choice_id == "danger_now":
        from .common import emergency

        _draft(ctx)["urgency"] = "danger_now"
        ctx.conversation.state = State.REPORT_NOTIFY if not ctx.conversation.editing else State.REPORT_REVIEW
        ctx.conversation.editing = False
        await emergency(ctx)
        return
    await _store_choice(ctx, "urgency", URGENCY, State.REPORT_NOTIFY)


@router.asks(State.REPORT_NOTIFY)
async def ask_notify(ctx: Context) -> None:
    """Asks whether the bot may send a neutral notice in this chat when HR replies."""
    ctx.say(
        ctx.t(
            "When HR replies, may I send you a short neutral notice in this chat? It will only say "
            "\"You have a new message\", never what it is about. To do that, this chat's address is kept "
            "with your report, encrypted. If others may see your phone, choose No."
        ),
        _options(ctx, NOTIFY, _danger(ctx)),
    )


@router.on(State.REPORT_NOTIFY)
async def on_notify(ctx: Context) -> None:
    """Stores the notification choice and shows the review."""
    await _store_choice(ctx, "notify", NOTIFY, State.REPORT_REVIEW)


async def _store_choice(ctx: Context, field: str, options: dict[str, str], next_state: str) -> None:
    draft = _draft(ctx)
    allowed = set(options) | ({"skip"} if field in ("when", "where") else set())
    if ctx.choice_id in allowed:
        draft[field] = None if ctx.choice_id == "skip" else ctx.choice_id
        await _next(ctx, next_state)
    else:
        ctx.say(ctx.t("Please choose one of the options."))
        await ctx.router.ask(ctx)


def _label(ctx: Context, options: dict[str, str], key: object) -> str:
    return ctx.t(options[str(key)]) if key in options else ctx.t("(not given)")


async def review_text(ctx: Context) -> str:
    draft = ctx.conversation.draft or {}
    what = "\n".join(f"  {line}" for line in await account(ctx))
    lines = [
        ctx.t("Please check your report:"),
        ctx.t("What happened:") + "\n" + (what or ctx.t("(not given)")),
        ctx.t("Type: {value}", value=_label(ctx, CATEGORIES, draft.get("category"))),
        ctx.t("When: {value}", value=_label(ctx, WHEN, draft.get("when"))),
        ctx.t("Where: {value}", value=_label(ctx, WHERE, draft.get("where"))),
        ctx.t("Who was involved: {value}", value=_label(ctx, INVOLVED, draft.get("involved"))),
        ctx.t("Witnesses: {value}", value=draft.get("witnesses") or ctx.t("(not given)")),
        ctx.t("Urgency: {value}", value=_label(ctx, URGENCY, draft.get("urgency"))),
        ctx.t("Notifications: {value}", value=_label(ctx, NOTIFY, draft.get("notify"))),
    ]
    if draft.get("attachments"):
        lines.append(ctx.t("Files attached: {count}", count=len(draft["attachments"])))
    return "\n".join(lines)


def _missing_step(draft: dict[str, object]) -> str | None:
    """The first required answer still missing, so a draft resumed from review cannot skip one (nor the
    consent: a report started from her words holds them before she has read the notice)."""
    if not draft.get("consent"):
        return State.REPORT_NOTICE
    if not account_size(draft):
        return State.REPORT_WHAT
    for field, state in (
        ("category", State.REPORT_CATEGORY),
        ("involved", State.REPORT_INVOLVED),
        ("urgency", State.REPORT_URGENCY),
        ("notify", State.REPORT_NOTIFY),
    ):
        if not draft.get(field):
            return state
    return None


@router.asks(State.REPORT_REVIEW)
async def ask_review(ctx: Context) -> None:
    """Shows the whole draft and offers submit, edit or cancel."""
    ctx.say(
        await review_text(ctx),
        [
            ctx.choice("submit", N_("Submit the report")),
            ctx.choice("edit", N_("Change something")),
            ctx.choice("cancel", N_("Cancel and delete")),
            _danger(ctx),
        ],
    )


@router.on(State.REPORT_REVIEW)
async def on_review(ctx: Context) -> None:
    """Submits, asks which answer to change, or asks to confirm cancelling."""
    if ctx.choice_id == "submit":
        missing = _missing_step(ctx.conversation.draft or {})
        if missing is not None:
            ctx.say(ctx.t("One answer is still missing."))
            await ctx.go(missing)
            return
        await submit(ctx)
    elif ctx.choice_id == "edit":
        await ctx.go(State.REPORT_EDIT)
    elif ctx.choice_id == "cancel":
        from .common import ask_cancel

        await ask_cancel(ctx)
    else:
        await ask_review(ctx)


@router.asks(State.REPORT_EDIT)
async def ask_edit(ctx: Context) -> None:
    """Asks which answer to change."""
    choices = [ctx.choice(key, label) for key, (label, _state) in EDITABLE.items()]
    choices += [ctx.choice("back", N_("Back to the review")), _danger(ctx)]
    ctx.say(ctx.t("What would you like to change?"), choices)


@router.on(State.REPORT_EDIT)
async def on_edit(ctx: Context) -> None:
    """Opens the chosen question; answering it returns to the review."""
    if ctx.choice_id == "back":
        await ctx.go(State.REPORT_REVIEW)
        return
    target = EDITABLE.get(ctx.choice_id or "")
    if target is None:
        await ask_edit(ctx)
        return
    if target[1] == State.REPORT_WHAT:
        ctx.say(ctx.t("Your earlier messages are kept; what you send now is added to them."))
    ctx.conversation.editing = True
    await ctx.go(target[1])


def alert_audience(report: Mapping[str, object]) -> AlertAudience:
    """Reports about a supervisor, a manager or HR go to the advocacy board, never to HR."""
    return "board" if report.get("involved") == "supervisor" else "hr"


def case_audience(tagged: Audience | None, report: Mapping[str, object] | None) -> AlertAudience:
    """Where everything about an existing case goes now: the board's once its tag says so (about a
    supervisor, a manager or HR, or handed over by a handler who declared themselves involved or
    conflicted, which changes only the tag), else where its report's first alert went. A case
    whose report cannot be opened is the board's, so a case about HR is never named to HR."""
    if tagged in (Audience.BOARD, Audience.RECUSED) or report is None:
        return "board"
    return alert_audience(report)


def receipt_for_new_case(services: Services) -> Preparation[IssuedReceipt]:
    """A new case's id and first receipt, hashed before the transaction that creates the case."""
    return Preparation("receipt.new-case", lambda _read: services.cases.issue_receipt())


def receipt_for_case(services: Services, case_id: str) -> Preparation[IssuedReceipt]:
    """Another receipt for an existing case, hashed before the transaction that adds it."""
    return Preparation(f"receipt.for-case:{case_id}", lambda _read: services.cases.issue_receipt(case_id))


@router.prepares
def submit_button(incoming: Incoming, services: Services) -> list[Preparation[IssuedReceipt]]:
    """A tapped "Submit" creates a case: its receipt is hashed before the transaction."""
    return [receipt_for_new_case(services)] if incoming.choice == "submit" else []


@router.anticipates
def next_receipt(conversation: Conversation, services: Services) -> list[Preparation[IssuedReceipt]]:
    """At the review the next message may submit (typed "1" as often as tapped); while a receipt is
    not known to have arrived, the next message brings another one."""
    ahead = []
    if conversation.state == State.REPORT_REVIEW:
        ahead.append(receipt_for_new_case(services))
    if conversation.pending_receipt_case:
        ahead.append(receipt_for_case(services, conversation.pending_receipt_case))
    return ahead


async def submit(ctx: Context) -> None:
    """Creates the case, queues a content-free alert and shows the receipt once."""
    services = ctx.services
    issued = ctx.prepared(receipt_for_new_case(services))
    draft = dict(ctx.conversation.draft or {})
    receipt = issued.receipt
    contact = (
        f"{ctx.incoming.channel.value}:{ctx.incoming.chat}" if draft.get("notify") == "notify_yes" else None
    )
    site = ctx.site.id
    report = {
        "version": 1,
        "language": ctx.language,
        "consent": draft.get("consent"),
        "what": await account(ctx),
        "category": draft.get("category"),
        "when": draft.get("when"),
        "where": draft.get("where"),
        "involved": draft.get("involved"),
        "witnesses": draft.get("witnesses"),
        "urgency": draft.get("urgency"),
        "notify": draft.get("notify") == "notify_yes",
        "attachments": draft.get("attachments") or [],
    }
    case = await services.cases.create(
        ctx.session,
        site=site,
        report=report,
        contact=contact,
        receipt=issued,
        now=ctx.now,
        audience=alert_audience(draft),
    )
    attachments = draft.get("attachments")
    if isinstance(attachments, list):
        # Photos wait as sealed draft files; in this same transaction they move under the case key.
        images = [a.get("ref") for a in attachments if isinstance(a, dict) and a.get("kind") == "image"]
        await services.evidence.adopt(ctx.session, case.id, [r for r in images if isinstance(r, str)], ctx.now)
    alert = Alert(
        site=site,
        reference=case.reference,
        category=str(report["category"]),
        urgency=str(report["urgency"]),
        audience=alert_audience(draft),
    )
    await enqueue_alert(ctx, alert)
    await discard_draft(ctx)
    mark_receipt_pending(ctx, case.id)
    ctx.say(receipt_message(ctx, case.reference, receipt), carries_receipt=True)
    await ctx.go(State.MENU)


async def enqueue_alert(ctx: Context, alert: Alert) -> None:
    """Queues an alert; non-urgent ones at a random moment within the hour so time reveals nothing."""
    delay = timedelta(0)
    if alert.urgency != "danger_now":
        max_seconds = int(ctx.services.settings.alert_max_delay.total_seconds())
        delay = timedelta(seconds=ctx.services.rng.randint(0, max_seconds))
    await ctx.services.outbox.enqueue(ctx.session, alert, ctx.now + delay)


def receipt_message(ctx: Context, reference: str, receipt: str) -> str:
    return "\n".join(
        [
            ctx.t("Your report has been submitted. Thank you for speaking up."),
            ctx.t("Report number (HR sees this): {reference}", reference=reference),
            ctx.t("Your secret receipt, shown only this once:"),
            "",
            receipt,
            "",
            ctx.t(
                "Write it down or save it somewhere only you can see, then delete this message. "
                "With it you can check your report, read HR's replies and add information from any phone "
                "(choose 查询 / status). Nobody, not even HR, can recover it, and anyone who has it can "
                "read your report."
            ),
        ]
    )


RECEIPT_PENDING_HOURS = 24


def mark_receipt_pending(ctx: Context, case_id: str) -> None:
    """Until the channel confirms the receipt arrived (or a day passes), the next message brings a
    fresh one; the message that showed it is remembered so that only *its* retry can ask again."""
    conversation = ctx.conversation
    conversation.pending_receipt_case = case_id
    conversation.pending_receipt_until = (ctx.now + timedelta(hours=RECEIPT_PENDING_HOURS)).timestamp()
    conversation.pending_receipt_message = ctx.incoming.message_key


async def reissue_receipt(ctx: Context) -> None:
    """The reply with the receipt may never have arrived: adds a fresh receipt to the case (the first
    keeps working, the worker may have written it down); past the bound, tells the worker to use the
    receipt they have."""
    case_id = ctx.conversation.pending_receipt_case
    if case_id is None:
        return
    services = ctx.services
    case = await services.cases.get(ctx.session, case_id)
    if case is None:
        ctx.conversation.pending_receipt_case = None
        return
    issued = ctx.prepared(receipt_for_case(services, case.id))
    receipt = issued.receipt
    if not await services.cases.add_receipt(ctx.session, issued):
        ctx.conversation.pending_receipt_case = None
        ctx.conversation.pending_receipt_until = None
        ctx.conversation.pending_receipt_message = None
        ctx.say(
            ctx.t(
                "Your report {reference} was saved. Its receipt has already been shown to you several times; "
                "please use one you wrote down.",
                reference=case.reference,
            ),
            keep_offered=True,
        )
        return
    mark_receipt_pending(ctx, case.id)
    ctx.say(
        ctx.t(
            "Your last report was saved, but its receipt may not have reached you. Here is another one; "
            "a receipt you already wrote down keeps working too."
        )
        + "\n"
        + receipt_message(ctx, case.reference, receipt),
        carries_receipt=True,
        keep_offered=True,
    )


@router.owes
async def reissue_pending_receipt(ctx: Context) -> bool:
    """Brings a fresh receipt with any message while the last one is not known to have arrived."""
    if not ctx.conversation.pending_receipt_case:
        return False
    await reissue_receipt(ctx)
    return True


@router.expires
def expire_draft(ctx: Context) -> bool:
    """Deletes a draft past its lifetime, as promised, and says so; True when the worker was in
    the report (they are moved to the menu). Its parts, named by nothing any more, go with the
    cleaner at their expiry hour."""
    conversation = ctx.conversation
    if conversation.draft is None or (conversation.draft_expires_at or 0) >= ctx.now.timestamp():
        return False
    conversation.draft = None
    conversation.draft_expires_at = None
    in_report = conversation.state.startswith("report.") or (conversation.return_to or "").startswith("report.")
    if in_report:
        conversation.state, conversation.return_to, conversation.editing = State.MENU, None, False
    ctx.say(ctx.t("Your unfinished report expired and was deleted, as promised."), keep_offered=True)
    return in_report


@router.expires
def lapse_receipts(ctx: Context) -> bool:
    """Forgets the case behind a pending or recently shown receipt once its time is over; the
    worker is never moved by that."""
    conversation = ctx.conversation
    now = ctx.now.timestamp()
    if conversation.pending_receipt_case and (conversation.pending_receipt_until or 0) < now:
        conversation.pending_receipt_case = None
        conversation.pending_receipt_until = None
        conversation.pending_receipt_message = None
    if conversation.recent_receipt_case and (conversation.recent_receipt_until or 0) < now:
        conversation.recent_receipt_case = None
        conversation.recent_receipt_until = None
    return False


@router.takes_pictures
def wants_pictures(conversation: Conversation) -> bool:
    """Pictures are kept only while telling what happened, with room left in the draft."""
    draft = conversation.draft or {}
    return conversation.state == State.REPORT_WHAT and len(draft.get("attachments") or []) < MAX_ATTACHMENTS


@router.after_message
def remember_step(conversation: Conversation) -> None:
    """Records the report question last asked, so a resumed draft continues exactly there."""
    if conversation.draft is not None and conversation.state in REPORT_QUESTIONS:
        conversation.draft["step"] = conversation.state
