"""Start, menu, help, language, cancel and emergency help: what works at any moment; and the answers
to a greeting, thanks, or a wish to talk to a person."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from .commands import MENU_CHOICES, NUMBERED_CHANNELS
from .context import Context, Services
from .conversation import Conversation, State
from .events import Incoming
from .i18n import N_, Language
from .intents import Intent, Understanding
from .preparation import Preparation, Reader
from .router import Router
from .settings import pick

router = Router()
router.reads_text(State.MENU)
BUSY_TYPED = N_(
    "You are in the middle of something. Your answers so far are kept. "
    "Send 取消 (cancel) to stop, or 菜单 (menu) for the menu."
)
BUSY_TELEGRAM = N_(
    "You are in the middle of something. Your answers so far are kept. "
    "Send 取消 (cancel) to stop, or /start for the menu."
)
LANGUAGE_PROMPT = N_("请选择语言 / Choose a language")  # the same in both: the reader may not know either yet
# Offered when the bot answered in the language she wrote in rather than the conversation's; each label
# is shown in its own language.
SPEAK_LABELS: dict[str, str] = {"zh": N_("Use Chinese from now on"), "en": N_("Use English from now on")}
SPEAK_CHOICES = {f"speak_{language}": language for language in SPEAK_LABELS}

MENU_LABELS = {
    "report": N_("Report harassment (anonymous)"),
    "status": N_("Check my report (receipt)"),
    "faq": N_("Questions about the policy"),
    "quiz": N_("Refresher quiz"),
    "remind": N_("Training reminders"),
    "language": N_("语言 / Language"),
    "help": N_("Help"),
}


def menu_choices(ctx: Context) -> list:  # type: ignore[type-arg]
    return [ctx.choice(choice_id, MENU_LABELS[choice_id]) for choice_id in MENU_CHOICES]


@router.asks(State.MENU)
async def ask_menu(ctx: Context) -> None:
    """Shows the main menu."""
    ctx.say(ctx.t("What would you like to do? Choose a number or tap a button."), menu_choices(ctx))


@router.on(State.MENU)
async def on_menu(ctx: Context) -> None:
    """Starts the chosen item; free text is a question for the FAQ; otherwise shows the menu again."""
    if ctx.choice_id in MENU_CHOICES:
        await menu_choice(ctx, ctx.choice_id)
        return
    if ctx.text:
        from .faq_flow import answer_question

        await answer_question(ctx, ctx.text)
        return
    ctx.say(ctx.t("Sorry, I did not understand that."))
    await ctx.go(State.MENU)


def introduce(ctx: Context) -> None:
    """Says in one line who is answering and what the bot is for."""
    ctx.say(
        ctx.t(
            "Hello. This is the anti-harassment helper of {site}. You can report harassment "
            "anonymously, check a report you made, or read the policy. Nobody here knows your name "
            "unless you write it.",
            site=pick(ctx.site.name, ctx.language),
        )
    )


async def welcome(ctx: Context) -> None:
    """Greets, says in one line what the bot is for, and shows the menu (offering reminders); keeps any draft."""
    introduce(ctx)
    from .reminders import after_welcome

    await after_welcome(ctx)


@router.understands(Intent.GREETING)
async def greet(ctx: Context, understood: Understanding) -> None:
    """Answers "你好" or "hi" with the greeting and the menu."""
    await welcome(ctx)


@router.understands(Intent.THANKS)
async def thank(ctx: Context, understood: Understanding) -> None:
    """Answers "谢谢" briefly; the question before it still stands."""
    ctx.say(ctx.t("You are welcome. I am here whenever you need me."), keep_offered=True)


@router.understands(Intent.PERSON)
async def people_to_talk_to(ctx: Context, understood: Understanding) -> None:
    """Gives the people she can talk to at her site (HR, the advocacy board, counselling) and the
    women's hotline, then shows the menu."""
    site, language = ctx.site, ctx.language
    hr = site.contacts.get("hr") or site.facts.get("hr_contact")
    board = site.facts.get("advocacy_board")
    counselling = site.facts.get("counselling_service")
    lines = [ctx.t("You can talk to a person:")]
    if hr:  # configured contacts name themselves ("人事部 王女士，分机 8012")
        lines.append(f"• {pick(hr, language)}")
    else:
        lines.append(ctx.t("• HR: ask at the HR office; their contact details are on the factory notice board."))
    if board:
        lines.append(
            ctx.t("• If it is about a supervisor, a manager or HR: {contact}", contact=pick(board, language))
        )
    if counselling:
        lines.append(f"• {pick(counselling, language)}")
    lines.append(ctx.t("• Women's rights hotline: 12338."))
    lines.append(
        ctx.t("To tell HR about something that happened, anonymously, choose \"Report harassment\" in the menu.")
    )
    ctx.say("\n".join(lines))
    await ctx.go(State.MENU)


def offer_language(ctx: Context) -> None:
    """Offers to keep the language the bot just answered in (she wrote in it), as one more choice of the
    last question; not where the language is a choice already (the menu)."""
    spoken = ctx.language
    conversation = ctx.conversation
    if spoken == conversation.language or not ctx.replies or not ctx.replies[-1].choices:
        return
    if "language" in conversation.offered:
        return
    offer = ctx.choice(f"speak_{spoken}", SPEAK_LABELS[spoken])
    last = ctx.replies[-1]
    ctx.replies[-1] = replace(last, choices=(*last.choices, offer))
    conversation.offered = [*conversation.offered, offer.id]
    conversation.offered_labels = {**conversation.offered_labels, offer.id: offer.label}


async def speak(ctx: Context, language: Language) -> None:
    """Makes the offered language the conversation's and asks the question again in it."""
    conversation = ctx.conversation
    conversation.language = language
    conversation.reply_language = None
    ctx.speaking = None
    ctx.say(ctx.t("I will speak English from now on."))
    await ctx.router.ask(ctx)


async def show_help(ctx: Context) -> None:
    """Explains the commands; the current question is asked again afterwards by the caller."""
    ctx.say(
        ctx.t(
            "How to use this bot:\n"
            "• 举报 / report: report harassment anonymously\n"
            "• 查询 / status: check your report with your receipt\n"
            "• 问答 / faq: questions about the anti-harassment policy\n"
            "• 测验 / quiz: short refresher quizzes\n"
            "• 语言 / language: 中文 or English\n"
            "• 取消 / cancel: stop what you are doing\n"
            "• 救命 / danger: emergency help at any time\n"
            "Choices can be answered with their number."
        )
    )


async def emergency(ctx: Context) -> None:
    """Shows emergency numbers at once, marks an open report as urgent, then repeats the question."""
    emergency_help(ctx)
    await ctx.router.ask(ctx)


def danger_reading(services: Services, text: str) -> Preparation[bool]:
    """The learned reading of a message (``handlers.danger_model``): a fraction of a millisecond, but
    model work, so done before the message's transaction like all such work."""

    async def read(_reader: Reader) -> bool:
        return services.danger.reads_danger(text)

    return Preparation("danger.reading", read)


@router.prepares
def read_danger_beforehand(incoming: Incoming, services: Services) -> list[Preparation[bool]]:
    """Every typed message is read before its transaction, once the reading is trained."""
    if incoming.text is None or incoming.choice is not None or not services.danger.learned:
        return []
    return [danger_reading(services, incoming.text)]


def second_reading(ctx: Context) -> Callable[[str], bool] | None:
    """What :func:`handlers.intents.understand` asks when no danger word is in a message: the reading
    prepared before the transaction, or nothing while it is not trained. Not at a question with
    options that takes no free text: there a few words are her answer ("就在车间里面" to "where?"),
    which the reading, learned from first messages, would take for danger; the word families still
    read danger there."""
    conversation = ctx.conversation
    if not ctx.services.danger.learned or (conversation.offered and not ctx.router.takes_text(conversation.state)):
        return None
    return lambda text: ctx.prepared(danger_reading(ctx.services, text))


def _in_report(conversation: Conversation) -> bool:
    """Telling her report: at one of its questions, or at a side question asked in the middle of it
    (the language, "cancel your report?"). A draft kept while she does something else (her status,
    the FAQ) is another report, which this message is not about."""
    if conversation.state.startswith("report."):
        return True
    back = conversation.return_to if conversation.state == State.CONFIRM_CANCEL else None
    if conversation.state == State.LANGUAGE:
        back = conversation.language_return_to
    return (back or "").startswith("report.")


def emergency_help(ctx: Context) -> None:
    """Shows the emergency numbers and the site's security phone, and marks her report as urgent: the
    draft she is telling (also at a side question in the middle of it), and at the privacy notice a
    draft started for it; the question before it still stands."""
    site = ctx.site
    lines = [
        ctx.t("If you are in danger now:"),
        ctx.t("• Call 110 (police). For an injury call 120 (ambulance)."),
        ctx.t("• Go to a safe place with other people around you."),
    ]
    if site.emergency_phone:
        lines.append(ctx.t("• Factory security: {phone}", phone=site.emergency_phone))
    lines.append(ctx.t("• Women's rights hotline: 12338. Labour hotline: 12333."))
    conversation = ctx.conversation
    draft = conversation.draft if _in_report(conversation) else None
    if draft is None and conversation.state == State.REPORT_NOTICE:  # declining the notice deletes it
        draft = conversation.open_draft((ctx.now + ctx.services.settings.draft_ttl).timestamp())
    if draft is not None:
        draft["urgency"] = "danger_now"
        lines.append(
            ctx.t("Your report is marked as urgent: whoever handles it will be alerted as soon as you submit it.")
        )
    ctx.say_first("\n".join(lines))


async def stale_choice(ctx: Context) -> None:
    """Refuses a choice that was not offered by the latest question and asks it again."""
    ctx.say(ctx.t("That choice is not available here. Please answer the latest question."))
    await ctx.router.ask(ctx)


async def busy_in_flow(ctx: Context) -> None:
    """Explains that the menu waits until the current flow ends, in the words the worker's channel
    takes (菜单 where workers type, /start on Telegram), and asks the question again."""
    typed = ctx.incoming.channel in NUMBERED_CHANNELS
    ctx.say(ctx.t(BUSY_TYPED if typed else BUSY_TELEGRAM))
    await ctx.router.ask(ctx)


async def command(ctx: Context, name: str) -> None:
    """Runs a whole-message command; menu commands inside a flow only explain how to leave it."""
    conversation = ctx.conversation
    if name in ("start", "menu"):
        conversation.end_case_session()
        await welcome(ctx) if name == "start" else await ctx.go(State.MENU)
    elif name == "help":
        await show_help(ctx)
        await ctx.router.ask(ctx)
    elif name == "cancel":
        await ask_cancel(ctx)
    elif name == "language":
        await ask_language_from(ctx, conversation.state)
    elif name == "remind":
        from .reminders import on_command

        await on_command(ctx)
    elif conversation.in_flow:
        await busy_in_flow(ctx)
    else:
        await menu_choice(ctx, name)


async def menu_choice(ctx: Context, choice_id: str) -> None:
    """Starts what a menu choice names."""
    conversation = ctx.conversation
    conversation.end_case_session()
    if choice_id == "report":
        has_draft = conversation.draft is not None
        await ctx.go(State.REPORT_RESUME if has_draft else State.REPORT_NOTICE)
    elif choice_id == "status":
        await ctx.go(State.STATUS_RECEIPT)
    elif choice_id == "faq":
        await ctx.go(State.FAQ_QUESTION)
    elif choice_id == "quiz":
        await ctx.go(State.QUIZ_PICK)
    elif choice_id == "language":
        await ask_language_from(ctx, State.MENU)
    elif choice_id == "remind":
        from .reminders import SETTINGS

        await ctx.go(SETTINGS)
    else:
        await show_help(ctx)
        await ctx.go(State.MENU)


async def ask_cancel(ctx: Context) -> None:
    """Asks to confirm cancelling the flow in progress, or says there is nothing to cancel."""
    conversation = ctx.conversation
    if not conversation.in_flow:
        conversation.end_case_session()
        ctx.say(ctx.t("There is nothing to cancel."))
        await ctx.go(State.MENU)
        return
    if conversation.state != State.CONFIRM_CANCEL:
        conversation.return_to = conversation.state
    await ctx.go(State.CONFIRM_CANCEL)


@router.asks(State.CONFIRM_CANCEL)
async def ask_confirm_cancel(ctx: Context) -> None:
    """Asks whether to really cancel; for a report, says the draft will be deleted."""
    is_report = (ctx.conversation.return_to or "").startswith("report.")
    question = (
        ctx.t("Cancel this report? Everything you wrote in it will be deleted.")
        if is_report
        else ctx.t("Cancel what you are doing?")
    )
    choices = [ctx.choice("cancel_yes", N_("Yes, cancel")), ctx.choice("cancel_no", N_("No, continue"))]
    if is_report:
        choices.append(ctx.choice("danger", N_("🆘 I am in danger now")))  # the report promises it at every step
    ctx.say(question, choices)


@router.on(State.CONFIRM_CANCEL)
async def on_confirm_cancel(ctx: Context) -> None:
    """Deletes the draft on yes and shows the menu; on no, returns to the question it interrupted."""
    conversation = ctx.conversation
    back = conversation.return_to or State.MENU
    if ctx.choice_id == "cancel_yes":
        conversation.return_to = None
        if back.startswith("report."):
            from .report import discard_draft

            await discard_draft(ctx)
            conversation.editing = False
            ctx.say(ctx.t("Cancelled. Your draft report has been deleted."))
        else:
            conversation.end_case_session()
            ctx.say(ctx.t("Cancelled."))
        await ctx.go(State.MENU)
    elif ctx.choice_id == "cancel_no":
        conversation.return_to = None
        await ctx.go(back)
    else:
        await ask_confirm_cancel(ctx)


async def ask_language_from(ctx: Context, state: str) -> None:
    """Asks for the language, remembering where to return (kept apart from a pending cancel)."""
    if ctx.conversation.state != State.LANGUAGE:
        ctx.conversation.language_return_to = state
    await ctx.go(State.LANGUAGE)


@router.asks(State.LANGUAGE)
async def ask_language(ctx: Context) -> None:
    """Offers the two languages, each labelled in itself."""
    ctx.say(ctx.t(LANGUAGE_PROMPT), [ctx.choice("zh", N_("中文")), ctx.choice("en", N_("English"))])


@router.on(State.LANGUAGE)
async def on_language(ctx: Context) -> None:
    """Stores the language and returns to where the worker was."""
    if ctx.choice_id not in ("zh", "en"):
        await ask_language(ctx)
        return
    conversation = ctx.conversation
    conversation.language = ctx.choice_id
    conversation.reply_language = None
    back = conversation.language_return_to or State.MENU
    conversation.language_return_to = None
    ctx.say(ctx.t("I will speak English from now on."))
    await ctx.go(back)
