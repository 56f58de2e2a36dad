"""``hapbot cases``: HR case handlers and board members read and answer cases from a terminal.
Every command names the person (``--as``), who must be listed in ``[hr] handlers`` or
``[hr] board_members``, and leaves an audit entry (a refused one too)."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, TextIO

from bot.config import Config
from storage.case_status import HR_SETTABLE, CaseStatus
from storage.people import Person, Role

if TYPE_CHECKING:
    from storage.crypto import KeyRing

UNREADABLE_LINE = (
    "cannot be opened with the keys in use (a master key this key file lacks, or a damaged row); "
    "see `hapbot keys status`"
)


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    cases = commands.add_parser("cases", help="HR: list, read and answer cases (audited)")
    cases.add_argument(
        "--as", dest="actor", required=True, help="your name as listed in [hr] handlers or [hr] board_members"
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


def execute(config: Config, args: argparse.Namespace) -> int:
    import asyncio
    import sys

    return asyncio.run(run(config, args, sys.stdout))


def person_from_config(config: Config, name: str) -> Person | None:
    """The desk person a ``--as`` name stands for: a listed handler works every configured site, a
    board member the board's cases. (The desk's own accounts replace this list.)"""
    if name in config.hr.handlers:
        return Person(account_id=f"config:{name}", name=name, role=Role.HANDLER, sites=frozenset(config.sites))
    if name in config.hr.board_members:
        return Person(account_id=f"config:{name}", name=name, role=Role.BOARD, sites=frozenset())
    return None


async def run(config: Config, args: argparse.Namespace, out: TextIO, *, keyring: KeyRing | None = None) -> int:
    from bot.core import build_core
    from handlers.hr import CaseNotFound, NotPermitted, OutcomeRequired, UnreadableCase, desk_for
    from storage.case_index import ListQuery
    from storage.case_status import OPEN_STATUSES

    person = person_from_config(config, args.actor)
    if person is None:
        out.write(f"hapbot: {args.actor!r} is not listed in [hr] handlers or board_members of the config\n")
        return 2
    runtime = await build_core(config, keyring=keyring)
    services = runtime.services
    desk = desk_for(runtime.database, services.cases, services.evidence, services.outbox)
    now = services.clock()
    reference = getattr(args, "reference", "")
    try:
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
