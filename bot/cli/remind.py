"""``hapbot remind``: see, try, pause and add reminders. Counts only, never who.

* ``list``: each site's schedules, paused names, and every stored occasion with its counts;
* ``preview NAME``: for the next occasion of NAME (a schedule such as ``training``, an announcement,
  or an occasion id), how many workers on each channel get a push, a template message, or wait for
  their next message, and how long the pushes take at the configured rate;
* ``run NAME [--dry-run]``: makes that occasion due now (the running bot sends it within seconds);
  ``--dry-run`` only shows what would happen now;
* ``pause NAME`` / ``resume NAME``: a row every running process reads at its next pass;
* ``add NAME --site SITE --zh TEXT --en TEXT [--at TIME] [--until TIME] [--quiz ID | --faq ID]``:
  a one-off announcement in both languages (times in the site's time zone).
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TextIO

from bot.config import Config

if TYPE_CHECKING:
    from bot.core import Core
    from bot.jobs.reminders import ReminderJob
    from storage.crypto import KeyRing
    from storage.reminders import Occasion

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,47}$")
DEFAULT_VALID = timedelta(days=3)
ROUTE_WORDS = {"push": "pushed", "template": "template message", "held": "wait for their next message",
               "quiet": "not sent (quiet hours last past the occasion)"}


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    remind = commands.add_parser("remind", help="training reminders: list, preview, run, pause, add")
    actions = remind.add_subparsers(dest="remind_command", required=True)
    actions.add_parser("list", help="schedules, paused names, occasions and their counts")
    preview = actions.add_parser("preview", help="who the next occasion of NAME reaches, and how long it takes")
    preview.add_argument("name")
    run = actions.add_parser("run", help="make the next occasion of NAME due now")
    run.add_argument("name")
    run.add_argument("--dry-run", action="store_true", help="only show what would happen now")
    for verb, text in (("pause", "stop sending NAME (a schedule, announcement or occasion)"), ("resume", "undo pause")):
        actions.add_parser(verb, help=text).add_argument("name")
    add = actions.add_parser("add", help="a one-off announcement in both languages")
    add.add_argument("name", help="lower-case letters, digits, - and _ (used by pause and preview)")
    add.add_argument("--site", required=True, help="a site id, or 'all'")
    add.add_argument("--zh", required=True, help="the text in Chinese")
    add.add_argument("--en", required=True, help="the text in English")
    add.add_argument("--at", help="when to send, 'YYYY-MM-DD HH:MM' in the site's time (default: now)")
    add.add_argument("--until", help="not sent or shown after this (default: three days later)")
    opens = add.add_mutually_exclusive_group()
    opens.add_argument("--quiz", help="a quiz id to open ('' for the quiz menu)")
    opens.add_argument("--faq", help="an FAQ entry id to open")


def execute(config: Config, args: argparse.Namespace) -> int:
    return asyncio.run(run(config, args, sys.stdout))


async def run(
    config: Config,
    args: argparse.Namespace,
    out: TextIO,
    *,
    keyring: KeyRing | None = None,
    clock: Callable[[], datetime] | None = None,
) -> int:
    from bot.core import build_core, utc_now

    core = await build_core(config, keyring=keyring, clock=clock or utc_now)
    try:
        command = args.remind_command
        if command == "list":
            return await _list(core, out)
        if command in ("pause", "resume"):
            return await _pause(core, args.name, command == "pause", out)
        if command == "add":
            return await _add(core, args, out)
        return await _preview(core, args.name, out, run=command == "run", dry_run=getattr(args, "dry_run", False))
    finally:
        await core.close()


def _job(core: Core) -> ReminderJob:
    from bot.jobs.reminders import ReminderJob
    from bot.jobs.schedules import ReminderSchedules
    from bot.serve import push_windows

    return ReminderJob(core.database, core.services, ReminderSchedules.from_config(core.config), push_windows())


def _local(core: Core, occasion: Occasion, moment: datetime) -> str:
    from handlers.reminder_rules import zone

    site = core.config.sites.get(occasion.site)
    tz = zone(site.reminders.time_zone) if site else None
    return f"{moment.astimezone(tz):%Y-%m-%d %H:%M}"


def _summary(counts: dict[str, int], waiting_rows: int) -> str:
    """The counters an operator needs: sent, in doubt, waiting, dropped by reason."""
    sent = counts.get("sent", 0) + counts.get("sent_template", 0)
    waiting = waiting_rows + max(0, counts.get("held", 0) - counts.get("shown", 0) - counts.get("replaced", 0))
    main = {"planned", "sent", "sent_template", "in_doubt", "held", "shown", "replaced", "queued", "template"}
    dropped = {reason: n for reason, n in sorted(counts.items()) if reason not in main and not reason.endswith("moved")}
    parts = [
        f"planned {counts.get('planned', 0)}",
        f"sent {sent}",
        f"in doubt {counts.get('in_doubt', 0)}",
        f"waiting {waiting}",
        f"shown later {counts.get('shown', 0)}",
    ]
    if dropped:
        parts.append("dropped: " + ", ".join(f"{reason} {n}" for reason, n in dropped.items()))
    return "  ".join(parts)


async def _list(core: Core, out: TextIO) -> int:
    from bot.jobs.schedules import occasions_between

    job = _job(core)
    now = core.services.clock()
    await job.ensure_occasions(now)
    book = core.services.reminders.book
    out.write("schedules (next occasion, site time):\n")
    for site_id, plan in job.schedules.sites.items():
        upcoming = occasions_between(plan, now, now + timedelta(days=400))
        for schedule in ("training", "quiz", "onboarding"):
            found = [o for o in upcoming if o.schedule == schedule]
            if found:
                out.write(f"  {site_id:<12} {schedule:<10} next {_local(core, found[0], found[0].due_at)}\n")
        if not upcoming:
            out.write(f"  {site_id:<12} none configured\n")
    async with core.database.transaction(write=False) as session:
        paused = sorted(await book.paused(session))
        occasions = await book.occasions(session)
        counts = await book.counts(session)
        waiting = await book.waiting(session)
    out.write(f"paused: {', '.join(paused) if paused else 'nothing'}\n")
    out.write("occasions (due time in site time):\n")
    for occasion in occasions:
        if occasion.schedule == "onboarding" and not any(counts.get(occasion.id, {}).values()):
            continue  # a day nobody joined three or thirty days before: nothing to say
        line = f"  {occasion.id:<40} {occasion.state:<9} due {_local(core, occasion, occasion.due_at)}"
        if occasion.state != "scheduled":
            line += "  " + _summary(counts.get(occasion.id, {}), waiting.get(occasion.id, 0))
        out.write(line + "\n")
    return 0


async def _pause(core: Core, name: str, pause: bool, out: TextIO) -> int:
    book = core.services.reminders.book
    async with core.database.transaction() as session:
        if pause:
            await book.pause(session, name)
            out.write(f"{name}: paused; running bots stop sending it at their next pass\n")
        elif await book.resume(session, name):
            out.write(f"{name}: resumed\n")
        else:
            out.write(f"{name}: was not paused\n")
    return 0


async def _next_occasions(core: Core, job: ReminderJob, name: str) -> list[Occasion]:
    """The occasion named, or the next scheduled occasion of the schedule named, per site."""
    now = core.services.clock()
    await job.ensure_occasions(now)
    book = core.services.reminders.book
    async with core.database.transaction(write=False) as session:
        exact = await book.occasion(session, name)
        if exact is not None:
            return [exact]
        candidates = await book.occasions(session, schedule=name, ending_after=now)
    if not candidates:
        from bot.jobs.schedules import occasions_between

        ahead = [
            occasion
            for plan in job.schedules.sites.values()
            for occasion in occasions_between(plan, now, now + timedelta(days=400))
            if occasion.schedule == name
        ]
        async with core.database.transaction() as session:
            for occasion in ahead:
                await book.add_occasion(session, occasion)
        candidates = ahead
    first: dict[str, Occasion] = {}
    for occasion in sorted(candidates, key=lambda o: o.due_at):
        if occasion.state == "scheduled":
            first.setdefault(occasion.site, occasion)
    return list(first.values())


async def _preview(core: Core, name: str, out: TextIO, *, run: bool, dry_run: bool) -> int:
    job = _job(core)
    occasions = await _next_occasions(core, job, name)
    if not occasions:
        out.write(f"hapbot: no upcoming occasion named {name!r} (see hapbot remind list)\n")
        return 2
    now = core.services.clock()
    rate = core.config.telegram.messages_per_second
    for occasion in occasions:
        at = now if run else max(now, occasion.due_at)
        routes = await job.preview(occasion, at)
        when = "now" if run else _local(core, occasion, occasion.due_at)
        out.write(f"{occasion.id}: {sum(routes.values())} workers ({when}, site time)\n")
        for (channel, route), count in sorted(routes.items()):
            out.write(f"  {channel:<9} {count:>7}  {ROUTE_WORDS.get(route, route)}\n")
        telegram = routes.get(("telegram", "push"), 0)
        if telegram:
            out.write(f"  Telegram pushes take about {telegram / rate:.0f} s at {rate} messages a second\n")
        if run and not dry_run:
            async with core.database.transaction() as session:
                await core.services.reminders.book.move(session, occasion.id, now)
            out.write("  due now: the running bot plans and sends it within seconds\n")
    return 0


def _when(core: Core, site: str, text: str | None, default: datetime) -> datetime:
    from handlers.reminder_rules import zone

    if not text:
        return default
    try:
        naive = datetime.strptime(text.strip(), "%Y-%m-%d %H:%M")
    except ValueError:
        raise SystemExit(f"hapbot: {text!r}: write times as 'YYYY-MM-DD HH:MM' (site time)") from None
    return naive.replace(tzinfo=zone(core.config.sites[site].reminders.time_zone))


async def _add(core: Core, args: argparse.Namespace, out: TextIO) -> int:
    from bot.jobs.schedules import RESERVED, announcement_id
    from storage.reminders import Content, Occasion

    name = args.name
    if not NAME_PATTERN.match(name) or name in RESERVED:
        out.write(f"hapbot: {name!r}: use lower-case letters, digits, - and _, and not {sorted(RESERVED)}\n")
        return 2
    sites = list(core.config.sites) if args.site == "all" else [args.site]
    unknown = [site for site in sites if site not in core.config.sites]
    if unknown:
        out.write(f"hapbot: unknown site {unknown[0]!r}; known: {', '.join(core.config.sites)}\n")
        return 2
    if not args.zh.strip() or not args.en.strip():
        out.write("hapbot: give the text in both languages (--zh and --en)\n")
        return 2
    opens = f"quiz:{args.quiz}" if args.quiz else "quiz" if args.quiz == "" else f"faq:{args.faq}" if args.faq else ""
    content = Content({"zh": args.zh.strip(), "en": args.en.strip()}, opens)
    now = core.services.clock()
    async with core.database.transaction() as session:
        for site in sites:
            due = _when(core, site, args.at, now)
            ends = _when(core, site, args.until, due + DEFAULT_VALID)
            if ends <= due:
                out.write("hapbot: --until must be after --at\n")
                return 2
            occasion = Occasion(announcement_id(name, site), name, site, due, ends, content=content)
            if not await core.services.reminders.book.add_occasion(session, occasion):
                out.write(f"hapbot: {occasion.id} exists already; choose another name\n")
                return 2
            out.write(f"{occasion.id}: due {_local(core, occasion, due)}, until {_local(core, occasion, ends)}\n")
    return 0
