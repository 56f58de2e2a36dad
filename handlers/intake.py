"""Intake: what every message goes through, in a fixed order, before the state router sees it.

Some answers must not depend on where the worker is in a conversation: emergency words work at any
step, commands and the menu work from anywhere, an expired draft is deleted whatever the message
says, a typed number means the choice it names. Each of those is one small step here; a step either
finishes the message (returns ``FINISHED``) or passes it on (``PASS_ON``), and whatever no step
finished goes to the state router. A new intent is one new function and one line in ``STEPS``.

What only a feature knows (when a draft expires, that a receipt is owed) is asked of the router,
where each feature registered it, so this module knows the common steps and no feature's insides.

Workers write sentences, not commands (``handlers.intents``): danger is recognised inside any message
at any step, and a receipt pasted anywhere opens its case; outside a flow, a message is acted on by
what it means (report, status, greeting, thanks, a person to talk to, or a question), through what
each feature registered for that intent. Inside a flow, everything else is her answer (her story).
The replies follow the language she writes in.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace

from . import common
from .choice_words import keyword_choice
from .commands import MENU_CHOICES, NUMBERED_CHANNELS, is_emergency, parse_command, typed_choice
from .context import Context
from .conversation import State
from .i18n import N_, Language, language_from_hint
from .intents import Intent, Understanding, script_language, understand

MAX_TEXT_CHARS = 10_000
PICTURE_NOT_KEPT = N_("That picture was not kept. Pictures can be added while you tell what happened in a report.")
_ALLOWED_CONTROLS = {"\n", "\t"}

FINISHED = True
PASS_ON = False


@dataclass
class Arrival:
    """What earlier steps learned about the message that later steps need."""

    interrupted: bool = False  # something expired and moved the worker out of what they were doing
    first_contact: bool = False  # the worker never wrote before (or their conversation was forgotten)
    understanding: Understanding | None = None  # what the message means (read once, on arrival)
    alarmed: bool = False  # the message raised the alarm and got the emergency help
    script: Language | None = None  # the language the message is written in, when clear
    new_language: bool = False  # the replies now follow a language she just started writing in


IntakeStep = Callable[[Context, Arrival], Awaitable[bool]]


def clean_text(text: str | None) -> str | None:
    """Drops control characters (keeping newlines and tabs) and surrounding blanks; None if nothing is left."""
    if text is None:
        return None
    kept = "".join(c for c in text if c in _ALLOWED_CONTROLS or unicodedata.category(c) != "Cc")
    kept = kept.strip()
    return kept or None


async def expire(ctx: Context, arrival: Arrival) -> bool:
    """Lets drafts, receipts and status sessions past their lifetimes lapse, whatever the message says."""
    arrival.interrupted = ctx.router.expire(ctx)
    return PASS_ON


async def note_site(ctx: Context, arrival: Arrival) -> bool:
    """Remembers the site a message came from (a site's QR code), if it is a known site."""
    site = ctx.incoming.site
    if site and site in ctx.services.settings.sites:
        ctx.conversation.site = site
    return PASS_ON


async def settle_language(ctx: Context, arrival: Arrival) -> bool:
    """Gives a first-time worker the language their platform suggests, else the configured default."""
    conversation = ctx.conversation
    arrival.first_contact = conversation.language is None
    if arrival.first_contact:
        default: Language = "en" if ctx.services.settings.default_language == "en" else "zh"
        conversation.language = language_from_hint(ctx.incoming.language_hint, default)
    return PASS_ON


async def repair_state(ctx: Context, arrival: Arrival) -> bool:
    """Sends a worker whose stored state no longer exists (a removed step) to the menu."""
    if ctx.conversation.state not in ctx.router.states:
        ctx.conversation.state = State.MENU
    return PASS_ON


async def deliver_owed(ctx: Context, arrival: Arrival) -> bool:
    """Gives what is owed from before (a receipt that may not have arrived) with any message."""
    await ctx.router.deliver_owed(ctx)
    return PASS_ON


async def follow_language(ctx: Context, arrival: Arrival) -> bool:
    """Answers in the language she writes in (by its script, when it is clear) from now on, outside a
    flow; inside one the flow keeps its language (emergency help excepted, see ``_help_in_her_language``).
    Commands and choice labels are not writing: English speakers are told to send 取消."""
    text = ctx.incoming.text
    spoken = script_language(text) if text is not None and ctx.incoming.choice is None else None
    arrival.script = spoken
    conversation = ctx.conversation
    if spoken is None or text is None or conversation.mid_flow or ctx.router.wants_answer(conversation.state):
        return PASS_ON
    if parse_command(text) is not None or _names_an_offered_choice(ctx, text):
        return PASS_ON
    following = spoken if spoken != conversation.language else None
    arrival.new_language = following is not None and following != conversation.reply_language
    conversation.reply_language = following
    return PASS_ON


def _help_in_her_language(ctx: Context, arrival: Arrival) -> None:
    """Emergency help must be read: it is given in the language of the message that asked for it (the
    question after it stays in the flow's language)."""
    ctx.speaking = arrival.script
    common.emergency_help(ctx)
    ctx.speaking = None


def _names_an_offered_choice(ctx: Context, text: str) -> bool:
    conversation = ctx.conversation
    numbers = ctx.incoming.channel in NUMBERED_CHANNELS
    return typed_choice(text, conversation.offered, conversation.offered_labels, numbers=numbers) is not None


async def answer_emergency_at_once(ctx: Context, arrival: Arrival) -> bool:
    """Shows emergency help, before anything else, for the danger button, an emergency word, or danger
    in what she wrote ("他在宿舍门口等我，我好怕"). Then she continues where she was: her account keeps the
    message, a question or a report in it is served, else the question before it is asked again."""
    text = ctx.incoming.text
    if ctx.incoming.choice == "danger" or (text is not None and is_emergency(text[:100])):
        _help_in_her_language(ctx, arrival)
        await ctx.router.ask(ctx)
        return FINISHED
    if text is None or ctx.incoming.choice is not None or len(text) > MAX_TEXT_CHARS:
        return PASS_ON
    arrival.understanding = understanding = understand(text, common.second_reading(ctx))
    if understanding.intent is not Intent.DANGER or _names_an_offered_choice(ctx, text):
        return PASS_ON
    arrival.alarmed = True
    _help_in_her_language(ctx, arrival)
    conversation = ctx.conversation
    if ctx.router.keeps_story(conversation.state):
        return PASS_ON
    if understanding.then is not None and not conversation.mid_flow:
        return PASS_ON
    await ctx.router.ask(ctx)
    return FINISHED


async def open_pasted_receipt(ctx: Context, arrival: Arrival) -> bool:
    """Opens the case of a receipt pasted anywhere, at any step ("我的查询码是 K7QX-M2PA-X9TB-4RWE")."""
    understanding = arrival.understanding
    if understanding is None or understanding.receipt is None or arrival.alarmed:
        return PASS_ON
    await ctx.router.act(ctx, Understanding(Intent.STATUS, receipt=understanding.receipt))
    return FINISHED


async def resume_after_expiry(ctx: Context, arrival: Arrival) -> bool:
    """Asks the worker's new question when expiry moved them, rather than acting on the message."""
    if arrival.interrupted:
        await ctx.router.ask(ctx)
        return FINISHED
    return PASS_ON


async def refuse_long_text(ctx: Context, arrival: Arrival) -> bool:
    """Refuses a message over the length limit; the question before it still stands."""
    text = ctx.incoming.text
    if text is None or len(text) <= MAX_TEXT_CHARS:
        return PASS_ON
    ctx.say(
        ctx.t(
            "Your message is too long ({count} characters; the limit is {limit}). "
            "Please send it in several shorter messages.",
            count=len(text),
            limit=MAX_TEXT_CHARS,
        ),
        keep_offered=True,
    )
    return FINISHED


async def clean_message(ctx: Context, arrival: Arrival) -> bool:
    """Stores the cleaned text and the tapped choice, which the later steps and the router read."""
    ctx.text = clean_text(ctx.incoming.text)
    ctx.choice_id = ctx.incoming.choice
    return PASS_ON


async def refuse_unreadable_attachments(ctx: Context, arrival: Arrival) -> bool:
    """Explains why a message of only voice, other files or pictures not kept was not read."""
    attachments = ctx.incoming.attachments
    kinds = {attachment.kind for attachment in attachments}
    unkept = {attachment.kind for attachment in attachments if not attachment.ref}
    if ctx.text is not None or ctx.choice_id is not None or not kinds or not kinds <= {"voice", "other"} | unkept:
        return PASS_ON
    if "image" in unkept:
        ctx.say(ctx.t(PICTURE_NOT_KEPT))
    elif "voice" in kinds:
        ctx.say(ctx.t("I cannot listen to voice messages. Please type your message instead."))
    else:
        ctx.say(ctx.t("I can only read text and pictures. Please type your message instead."))
    await ctx.router.ask(ctx)
    return FINISHED


async def refuse_empty(ctx: Context, arrival: Arrival) -> bool:
    """Says an empty message was received and asks the question again."""
    if ctx.text is not None or ctx.choice_id is not None or ctx.incoming.attachments:
        return PASS_ON
    ctx.say(ctx.t("I received an empty message. Please write some text or choose an option."))
    await ctx.router.ask(ctx)
    return FINISHED


async def resolve_typed_choice(ctx: Context, arrival: Arrival) -> bool:
    """Turns a typed number (where choices are numbered, also "１", "一", "第一个") or label into the
    choice it names."""
    if ctx.choice_id is not None or ctx.text is None:
        return PASS_ON
    conversation = ctx.conversation
    numbers = ctx.incoming.channel in NUMBERED_CHANNELS
    picked = typed_choice(ctx.text, conversation.offered, conversation.offered_labels, numbers=numbers)
    if picked is not None:
        ctx.choice_id, ctx.text = picked, None
    return PASS_ON


async def answer_emergency_choice(ctx: Context, arrival: Arrival) -> bool:
    """Shows emergency help when the cleaned message or the typed choice asks for it."""
    if ctx.choice_id == "danger" or (ctx.text is not None and is_emergency(ctx.text)):
        await common.emergency(ctx)
        return FINISHED
    return PASS_ON


async def run_command(ctx: Context, arrival: Arrival) -> bool:
    """Runs a whole-message command (取消, /menu, help...) from any state."""
    command = parse_command(ctx.text) if ctx.text is not None and ctx.choice_id is None else None
    if command is None:
        return PASS_ON
    await common.command(ctx, command[0])
    return FINISHED


async def take_language_offer(ctx: Context, arrival: Arrival) -> bool:
    """Keeps the language the bot offered ("Use English from now on") and asks the question again."""
    language = common.SPEAK_CHOICES.get(ctx.choice_id or "")
    if language is None or ctx.choice_id not in ctx.conversation.offered:
        return PASS_ON
    await common.speak(ctx, "en" if language == "en" else "zh")
    return FINISHED


async def resolve_choice_by_words(ctx: Context, arrival: Arrival) -> bool:
    """At a question that only takes a choice, turns an answer in her words ("车间", "是线长") into the
    one choice it clearly means; an ambiguous one stays text, and the question is asked again."""
    conversation = ctx.conversation
    if ctx.choice_id is not None or ctx.text is None or ctx.router.takes_text(conversation.state):
        return PASS_ON
    picked = keyword_choice(ctx.text, conversation.offered, conversation.offered_labels, ctx.router.choice_words)
    if picked is not None:
        ctx.choice_id, ctx.text = picked, None
    return PASS_ON


def _says_something(text: str) -> bool:
    """Enough words to be a question (not "1" or "ok"), for a first message."""
    return script_language(text) is not None or len(text) >= 4


async def act_on_intent(ctx: Context, arrival: Arrival) -> bool:
    """Outside a flow, does what her message means: starts the report with her words, opens the status,
    greets, thanks, names people to talk to, or answers the question; a first message is introduced.
    Inside a flow, the message is her answer and goes on to the question's step."""
    conversation = ctx.conversation
    if ctx.choice_id is not None or ctx.text is None or conversation.mid_flow:
        return PASS_ON
    if ctx.router.wants_answer(conversation.state):
        return PASS_ON
    understanding = arrival.understanding or understand(ctx.text)
    if arrival.alarmed:
        if understanding.then is None:
            return PASS_ON
        understanding = replace(understanding, intent=understanding.then, then=None, urgent=True)
    intent = understanding.intent
    if arrival.first_contact and (intent is Intent.THANKS or not _says_something(ctx.text)):
        return PASS_ON  # the newcomer's welcome
    if arrival.first_contact and intent is not Intent.GREETING:
        common.introduce(ctx)
    if intent is Intent.QUESTION and ctx.router.takes_text(conversation.state):
        await ctx.router.handle(ctx)
    elif not await ctx.router.act(ctx, understanding):
        return PASS_ON
    if arrival.new_language:
        common.offer_language(ctx)
    return FINISHED


async def welcome_newcomer(ctx: Context, arrival: Arrival) -> bool:
    """Greets a first-time worker with the menu, unless they already picked a menu item."""
    if arrival.first_contact and ctx.choice_id not in MENU_CHOICES:
        await common.welcome(ctx)
        return FINISHED
    return PASS_ON


async def answer_unoffered_choice(ctx: Context, arrival: Arrival) -> bool:
    """Starts a menu item (or a choice a feature opens from anywhere, such as a reminder's quiz button)
    outside a flow, explains how to leave a flow first, or refuses a stale choice."""
    choice_id = ctx.choice_id
    if choice_id is None or choice_id in ctx.conversation.offered:
        return PASS_ON
    opener = ctx.router.opener(choice_id)
    if choice_id in MENU_CHOICES and not ctx.conversation.in_flow:
        await common.menu_choice(ctx, choice_id)
    elif opener is not None and not ctx.conversation.in_flow:
        await opener(ctx)
    elif choice_id in MENU_CHOICES:
        await common.busy_in_flow(ctx)
    else:
        await common.stale_choice(ctx)
    return FINISHED


STEPS: tuple[IntakeStep, ...] = (
    expire,
    note_site,
    settle_language,
    repair_state,
    deliver_owed,
    follow_language,
    answer_emergency_at_once,
    open_pasted_receipt,
    resume_after_expiry,
    refuse_long_text,
    clean_message,
    refuse_unreadable_attachments,
    refuse_empty,
    resolve_typed_choice,
    answer_emergency_choice,
    run_command,
    take_language_offer,
    resolve_choice_by_words,
    act_on_intent,
    welcome_newcomer,
    answer_unoffered_choice,
)


async def take_in(ctx: Context, steps: Sequence[IntakeStep] = STEPS) -> bool:
    """Runs the steps in order until one finishes the message; False when the router must handle it."""
    arrival = Arrival()
    for step in steps:
        if await step(ctx, arrival):
            return FINISHED
    return PASS_ON
