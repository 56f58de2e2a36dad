"""``hapbot cases``: HR case handlers and board members read and answer cases from a terminal.

``--as NAME`` names a desk account (``hapbot hr``), and the command signs in as it: it asks for the
account's password and a code from its authenticator app, like the desk's login page, throttled
and audited the same way (``cli:login``, ``cli:login_failed``). Only then does the account's role
decide which cases it may list and read; a refused sign-in shows nothing. Every command leaves an
audit entry under the account's name.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, TextIO

from bot.cli.signin import Prompt, ask
from bot.config import Config
from storage.case_status import HR_SETTABLE, CaseStatus

if TYPE_CHECKING:
    from bot.core import Core
    from storage.accounts import PasswordHasher
    from storage.crypto import KeyRing

UNREADABLE_LINE = (
    "cannot be opened with the keys in use (a master key this key file lacks, or a damaged row); "
    "see `hapbot keys status`"
)


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    cases = commands.add_parser("cases", help="HR: list, read and answer cases (audited)")
    cases.add_argument(
        "--as", dest="actor", required=True, help="your desk account (hapbot hr); asks its password and a code"
    )
    actions = cases.add_subparsers(dest="cases_command", required=True)
    listing = actions.add_parser("list", help="open cases (references, sites, statuses, dates)")
    listing.add_argument("--site")
    listing.add_argument("--all", action="store_true", help="include closed and withdrawn cases")
    show = actions.add_parser("show", help="read one case (recorded in the audit log)")
    show.add_argument("reference")
    reply = actions.add_parser("reply", help="write to the reporter (they get a neutral notice)")
    reply.add_argument("reference")
    reply.add_argument("text")
    note = actions.add_parser("note", help="an internal note the reporter never sees")
    note.add_argument("reference")
    note.add_argument("text")
    status = actions.add_parser("status", help="change a case's status (closing needs --outcome)")
    status.add_argument("reference")
    status.add_argument("status", choices=[s.value for s in HR_SETTABLE])
    status.add_argument("--outcome", default="", help="the written outcome a case is closed with")
    recuse = actions.add_parser("recuse", help="I am involved or conflicted: the case goes to the board")
    recuse.add_argument("reference")
    audit = actions.add_parser("audit", help="board members: who read or changed a case, and when")
    audit.add_argument("reference")
    purge = actions.add_parser(
        "purge", help="crypto-shred finished cases past [bot] retention_days now (the hourly cleaning does it too)"
    )
    purge.add_argument("--dry-run", action="store_true", help="list what would go (references and dates only)")


def execute(config: Config, args: argparse.Namespace) -> int:
    import asyncio
    import sys

    return asyncio.run(run(config, args, sys.stdout))


async def run(
    config: Config,
    args: argparse.Namespace,
    out: TextIO,
    *,
    keyring: KeyRing | None = None,
    prompt: Prompt = ask,
    clock: Callable[[], datetime] | None = None,
    hasher: PasswordHasher | None = None,
) -> int:
    from bot.cli.signin import terminal_sign_in
    from bot.core import build_core, utc_now
    from handlers.hr import CaseNotFound, NotPermitted, OutcomeRequired, UnreadableCase, desk_for
    from storage.case_index import ListQuery
    from storage.case_status import OPEN_STATUSES

    runtime = await build_core(config, keyring=keyring, clock=clock or utc_now)
    services = runtime.services
    desk = desk_for(runtime.database, services.cases, services.evidence, services.outbox)
    now = services.clock()
    reference = getattr(args, "reference", "")
    try:
        person = await terminal_sign_in(runtime, args.actor, out, prompt, hasher)
        if person is None:
            return 2
        if args.cases_command == "purge":
            return await purge(runtime, args, out)
        if args.cases_command == "list":
            query = ListQuery(statuses=None if args.all else OPEN_STATUSES, site=args.site, per_page=10_000)
            listing = await desk.list_cases(person, query, now)
            for case in listing.page.cases:
                out.write(f"{case.reference}  {case.site:<12} {case.status.value:<13} {case.created_at:%Y-%m-%d}\n")
            for label in listing.unreadable:
                out.write(f"{label:<10}  {UNREADABLE_LINE}\n")
        elif args.cases_command == "show":
            file = await desk.open(person, reference, now)
            shown = {
                "reference": file.case.reference,
                "site": file.case.site,
                "status": file.case.status.value,
                "submitted": file.created_at.isoformat(),
                "report": file.report,
                "evidence_files": file.evidence,
                "messages": [
                    {"from": m.author.value, "at": m.created_at.isoformat(), "text": m.text} for m in file.messages
                ],
                "notes": [{"by": n.author, "at": n.created_at.isoformat(), "text": n.text} for n in file.notes],
                "outcome": file.outcome,
            }
            out.write(json.dumps(shown, ensure_ascii=False, indent=2) + "\n")
        elif args.cases_command == "reply":
            replied = await desk.reply(person, reference, args.text, now)
            out.write(f"{replied.reference}: reply stored; the reporter sees it with their receipt\n")
        elif args.cases_command == "note":
            await desk.note(person, reference, args.text, now)
            out.write(f"{reference.strip().upper()}: note stored (never shown to the reporter)\n")
        elif args.cases_command == "status":
            status = await desk.set_status(person, reference, CaseStatus(args.status), now, outcome=args.outcome)
            out.write(f"{reference.strip().upper()}: {status.value}\n")
        elif args.cases_command == "recuse":
            await desk.recuse(person, reference, now)
            out.write(f"{reference.strip().upper()}: handed to the advocacy board\n")
        else:
            for entry in await desk.audit_trail(person, reference, now):
                out.write(f"{entry.at:%Y-%m-%d %H:%M:%S}  {entry.actor:<20} {entry.action}\n")
    except CaseNotFound:
        # The desk recorded the refusal (after its transaction rolled back).
        out.write(f"hapbot: no case {reference!r}\n")
        return 2
    except OutcomeRequired:
        out.write("hapbot: closing a case needs --outcome \"what was found and done\"\n")
        return 2
    except NotPermitted:
        out.write("hapbot: your role cannot do that with this case\n")
        return 2
    except ValueError:
        out.write("hapbot: a reply or note needs 1 to 8000 characters\n")
        return 2
    except UnreadableCase as unreadable:
        out.write(f"hapbot: case {unreadable.label}: {UNREADABLE_LINE}\n")
        return 2
    finally:
        await runtime.close()
    return 0


async def purge(runtime: Core, args: argparse.Namespace, out: TextIO) -> int:
    """Lists (``--dry-run``) or purges the finished cases past retention, audited as the signed-in
    ``--as`` account (either role: it only does now what the hourly cleaning would do); a purge then
    checkpoints SQLite's WAL or vacuums PostgreSQL's case tables."""
    from storage import audit
    from storage.retention import due_for_purge, purge_expired, reclaim_space

    config = runtime.config
    now = runtime.services.clock()
    days = config.bot.retention_days
    async with runtime.database.transaction() as session:
        if args.dry_run:
            due = await due_for_purge(session, now, days, timedelta(0))
            await audit.record(session, args.actor, "purge:dry-run", None, now)
        else:
            due = await purge_expired(session, now, days, args.actor)
    verb = "would purge" if args.dry_run else "purged"
    for case in due:
        out.write(
            f"{case.reference}  {case.status.value:<10} last changed {case.last_changed:%Y-%m-%d}  "
            f"due {case.purge_after:%Y-%m-%d}  {verb}\n"
        )
    out.write(f"{len(due)} finished case(s) past {days} days: {verb}\n")
    # Always after a purge, even of nothing: running it again is how a held-back rewrite is finished.
    if not args.dry_run and not await reclaim_space(runtime.database):
        if runtime.database.dialect == "sqlite":
            out.write("the WAL checkpoint was held back by a reader; run the purge again when the bot is quiet\n")
        else:
            out.write(
                "the rewrite was held back by an older transaction (a backup, a long query), so deleted rows may "
                "remain in the table files; run the purge again when it has finished\n"
            )
    return 0
