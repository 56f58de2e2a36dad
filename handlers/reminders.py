"""Training reminders in the conversation: asking once, turning them on and off, quiet hours,
candidate links, and the reminder held for a worker's next message.

A new worker is asked in one extra choice beside the menu after the welcome (the menu still works,
so nothing stands before reporting). ``提醒 开/关``, ``/remind on|off``, the menu item and a plain
``stop`` or ``退订`` (the answer people give to any unwanted message) change it at any moment, also
in the middle of a flow, whose question is then asked again. Turning reminders off deletes the
subscription; nothing about it stays.

A candidate link (``/start cand-<site>``, or the WeChat QR scene ``cand-<site>``) shows a short
policy notice and offers the onboarding quiz and reminders, and subscribes to nothing by itself.
What opens a quiz offers the quiz feature's own choice ids: ``quiz`` for its menu and
``quiz:<id>`` for one quiz (an assumption this module makes of the quiz feature, see README).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from storage.subscriptions import Subscription

from .commands import normalise, parse_command
from .context import Context, Services
from .conversation import State
from .events import Channel, Choice, Incoming
from .i18n import N_
from .reminder_rules import RuleError, parse_quiet
from .reminder_texts import WELCOME_SUMMARY
from .router import Router
from .settings import pick

router = Router()

OFFER = "remind.offer"
CANDIDATE = "remind.candidate"
SETTINGS = "remind.settings"
QUIET = "remind.quiet"
# The welcome's menu with the reminders choice: free text there is what it would be at the menu.
router.reads_text(OFFER)

CANDIDATE_PREFIX = "cand-"
ON_WORDS = frozenset({"on", "开", "开启", "打开", "订阅", "yes"})
OFF_WORDS = frozenset({"off", "关", "关闭", "stop", "退订", "unsubscribe", "取消", "no"})
QUIET_PRESETS = {"quiet_21_08": "21:00-08:00", "quiet_23_06": "23:00-06:00", "quiet_off": "off"}
# Channels whose reminders can wait for the next message; Telegram pushes at any time.
HOLDING_CHANNELS = frozenset({Channel.WECHAT, Channel.CONSOLE})

TURN_ON = N_("Get training reminders")
OFFER_PROMPT = N_(
    "What would you like to do? Choose a number or tap a button. You can also get a short reminder "
    "before each refresher training (about once a month)."
)
ON_DONE = N_(
    "Training reminders are on: a short, neutral reminder before each refresher training and quiz, "
    "never during quiet hours ({quiet}). Send 提醒 关 (remind off) or 退订 (stop) at any time to stop them."
)
ALREADY_ON = N_("Training reminders are already on.")
OFF_DONE = N_("Training reminders are off. Nothing about them is kept.")
NOT_ON = N_("You get no training reminders.")
STATUS_ON = N_("Training reminders are on. Quiet hours: {quiet}.")
STATUS_OFF = N_("Training reminders are off.")
QUIET_PROMPT = N_("When should reminders never arrive? Choose, or type hours such as 21-8.")
QUIET_DONE = N_("Quiet hours: {quiet}.")
QUIET_UNREADABLE = N_("Please type quiet hours as two hours, such as 21-8, or choose one.")
NO_QUIET = N_("none")
CANDIDATE_NOTICE = N_(
    "Welcome to {site}. Our policy in short: sexual harassment — words, messages, pictures or touch that "
    "someone does not want — is not tolerated here, at work or in the dormitory, and anyone can ask for "
    "help here anonymously. The onboarding quiz shows in two minutes what that means in practice."
)
LABELS = {
    "remind_on": N_("Turn reminders on"),
    "remind_off": N_("Turn reminders off"),
    "remind_quiet": N_("Change quiet hours"),
    "menu": N_("Back to the menu"),
    "quiet_site": N_("{quiet} (the factory's)"),
    "quiet_21_08": N_("21:00–08:00"),
    "quiet_23_06": N_("23:00–06:00"),
    "quiet_off": N_("No quiet hours"),
    "onboarding_quiz": N_("Take the onboarding quiz"),
}


def contact_of(ctx: Context) -> str:
    """The worker's chat address as subscriptions and held reminders know it (``channel:chat``)."""
    return address_of(ctx.incoming)


def address_of(incoming: Incoming) -> str:
    return f"{incoming.channel.value}:{incoming.chat}"


async def subscription(ctx: Context) -> Subscription | None:
    return await ctx.services.reminders.subscriptions.get(ctx.session, contact_of(ctx))


def shown_quiet(ctx: Context, quiet: str | None) -> str:
    """Quiet hours as the worker reads them: ``22:00–07:00`` or "none"."""
    value = quiet or ctx.site.reminders.quiet_hours
    try:
        hours = parse_quiet(value)
    except RuleError:
        return value
    return ctx.t(NO_QUIET) if hours.off else f"{hours.start:%H:%M}–{hours.end:%H:%M}"


def menu_with(ctx: Context, *first: Choice, reminders: Choice | None = None) -> list[Choice]:
    """The menu's choices after ``first``, with ``reminders`` in place of the menu's reminder item."""
    from .common import menu_choices

    menu = [reminders if choice.id == "remind" and reminders else choice for choice in menu_choices(ctx)]
    return [*first, *menu]


def is_candidate(ctx: Context) -> bool:
    command = parse_command(ctx.incoming.text or "")
    return command is not None and command[0] == "start" and (command[1] or "").startswith(CANDIDATE_PREFIX)


async def after_welcome(ctx: Context) -> None:
    """After the welcome: a candidate's policy notice, else the menu with one more choice, training
    reminders (unless the worker has them already)."""
    if is_candidate(ctx):
        await ctx.go(CANDIDATE)
    elif await subscription(ctx) is None:
        await ctx.go(OFFER)
    else:
        await ctx.go(State.MENU)


@router.asks(OFFER)
async def ask_offer(ctx: Context) -> None:
    """Shows the menu with one extra choice: training reminders."""
    ctx.say(ctx.t(OFFER_PROMPT), menu_with(ctx, reminders=ctx.choice("remind_on", TURN_ON)))


@router.on(OFFER)
async def on_offer(ctx: Context) -> None:
    """Turns reminders on when chosen; anything else is what it would be in the menu."""
    if ctx.choice_id == "remind_on":
        await turn_on(ctx)
        await ctx.go(State.MENU)
        return
    await as_menu(ctx)


@router.asks(CANDIDATE)
async def ask_candidate(ctx: Context) -> None:
    """Shows a candidate the policy in short, and offers the onboarding quiz and reminders."""
    quiz = ctx.choice(f"quiz:{ctx.site.reminders.onboarding_quiz}", LABELS["onboarding_quiz"])
    offer = ctx.choice("remind_on", TURN_ON)
    ctx.say(ctx.t(CANDIDATE_NOTICE, site=pick(ctx.site.name, ctx.language)), menu_with(ctx, quiz, reminders=offer))


@router.on(CANDIDATE)
async def on_candidate(ctx: Context) -> None:
    """Turns reminders on when chosen; the quiz and the rest are the menu's to start."""
    await on_offer(ctx)


async def as_menu(ctx: Context) -> None:
    """Handles the message as the menu would (a menu item, a quiz, a question for the FAQ)."""
    ctx.conversation.state = State.MENU
    await ctx.router.handle(ctx)


async def turn_on(ctx: Context) -> None:
    """Stores the subscription (address, site, language, the hour) and welcomes the subscriber."""
    store = ctx.services.reminders.subscriptions
    contact = contact_of(ctx)
    if await store.get(ctx.session, contact) is not None:
        ctx.say(ctx.t(ALREADY_ON))
        return
    joined = int(ctx.now.timestamp() // 3600)
    await store.save(ctx.session, Subscription(contact, ctx.site.id, ctx.language, joined))
    ctx.say(ctx.t(ON_DONE, quiet=shown_quiet(ctx, None)))
    ctx.say(ctx.t(WELCOME_SUMMARY))


async def turn_off(ctx: Context) -> None:
    """Deletes the subscription; says so either way."""
    deleted = await ctx.services.reminders.subscriptions.delete(ctx.session, contact_of(ctx))
    ctx.say(ctx.t(OFF_DONE if deleted else NOT_ON))


def wanted(text: str | None) -> bool | None:
    """True for on, False for off, None when the words say neither (``提醒`` alone)."""
    words = normalise(text or "").removeprefix("/").split()
    if not words:
        return None
    last = words[-1].removeprefix("提醒").removesuffix("提醒") or words[0]
    if last in OFF_WORDS or words[0] in ("stop", "退订", "unsubscribe"):
        return False
    if last in ON_WORDS:
        return True
    return None


async def on_command(ctx: Context) -> None:
    """``提醒 开/关``, ``/remind on|off``, ``stop``, ``退订``: turns reminders on or off from anywhere
    and asks the current question again; ``提醒`` alone opens the reminder settings."""
    choice = wanted(ctx.text)
    in_flow = ctx.conversation.in_flow
    if choice is True:
        await turn_on(ctx)
    elif choice is False:
        await turn_off(ctx)
    elif not in_flow:
        await ctx.go(SETTINGS)
        return
    else:
        current = await subscription(ctx)
        ctx.say(ctx.t(STATUS_ON, quiet=shown_quiet(ctx, current.quiet)) if current else ctx.t(STATUS_OFF))
    if in_flow:
        await ctx.router.ask(ctx)
    else:
        await ctx.go(State.MENU)


@router.asks(SETTINGS)
async def ask_settings(ctx: Context) -> None:
    """Says whether reminders are on, and offers to change that or the quiet hours."""
    current = await subscription(ctx)
    if current is None:
        ctx.say(ctx.t(STATUS_OFF), [ctx.choice("remind_on", LABELS["remind_on"]), ctx.choice("menu", LABELS["menu"])])
        return
    ctx.say(
        ctx.t(STATUS_ON, quiet=shown_quiet(ctx, current.quiet)),
        [ctx.choice(choice_id, LABELS[choice_id]) for choice_id in ("remind_off", "remind_quiet", "menu")],
    )


@router.on(SETTINGS)
async def on_settings(ctx: Context) -> None:
    """Turns reminders on or off, or asks for quiet hours; anything else goes to the menu."""
    if ctx.choice_id == "remind_on":
        await turn_on(ctx)
    elif ctx.choice_id == "remind_off":
        await turn_off(ctx)
    elif ctx.choice_id == "remind_quiet" and await subscription(ctx) is not None:
        await ctx.go(QUIET)
        return
    elif ctx.choice_id != "menu":
        await as_menu(ctx)
        return
    await ctx.go(State.MENU)


@router.asks(QUIET)
async def ask_quiet(ctx: Context) -> None:
    """Offers the factory's quiet hours, two others and none; hours can be typed too."""
    site_quiet = shown_quiet(ctx, None)
    choices = [Choice("quiet_site", ctx.t(LABELS["quiet_site"], quiet=site_quiet))]
    choices += [ctx.choice(choice_id, LABELS[choice_id]) for choice_id in QUIET_PRESETS]
    ctx.say(ctx.t(QUIET_PROMPT), choices)


@router.on(QUIET)
async def on_quiet(ctx: Context) -> None:
    """Stores the worker's quiet hours (None for the factory's) and shows the menu."""
    if ctx.choice_id == "quiet_site":
        quiet: str | None = None
    elif ctx.choice_id in QUIET_PRESETS:
        quiet = QUIET_PRESETS[ctx.choice_id]
    elif ctx.text:
        try:
            quiet = str(parse_quiet(ctx.text))
        except RuleError:
            ctx.say(ctx.t(QUIET_UNREADABLE), keep_offered=True)
            return
    else:
        await as_menu(ctx)
        return
    store = ctx.services.reminders.subscriptions
    current = await subscription(ctx)
    if current is not None:
        await store.save(
            ctx.session, Subscription(current.contact, current.site, current.language, current.joined_hour, quiet)
        )
        ctx.say(ctx.t(QUIET_DONE, quiet=shown_quiet(ctx, quiet)))
    await ctx.go(State.MENU)


@router.owes
async def held_reminder(ctx: Context) -> bool:
    """Shows the reminder held for this worker (WeChat outside its 48 hours, the console) once,
    first, if its occasion has not passed; the question before it still stands."""
    if ctx.incoming.channel not in HOLDING_CHANNELS:
        return False
    reminders = ctx.services.reminders
    held = await reminders.held.take(ctx.session, contact_of(ctx), ctx.now)
    if held is None:
        return False
    ctx.say(held.text, keep_offered=True)
    await reminders.book.count(ctx.session, held.occasion, "shown")
    return True


@router.looks_up(held_reminder)
async def workers_with_held_reminders(
    session: AsyncSession, incomings: Sequence[Incoming], services: Services
) -> set[str]:
    """Who in a batch has a reminder held: one query, where a lookup per message cost half of a
    draft message's time (no query at all for channels that never hold one)."""
    contacts = {
        address_of(incoming): incoming.user_key
        for incoming in incomings
        if incoming.channel in HOLDING_CHANNELS
    }
    if not contacts:
        return set()
    found = await services.reminders.held.held_for(session, contacts)
    return {contacts[contact] for contact in found}
