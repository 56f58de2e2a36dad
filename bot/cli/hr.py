"""``hapbot hr``: the people who may sign in to the HR desk.

``add NAME --role handler|board [--site S …]`` creates an account and prints its enrolment link
(``[web] public_url`` + ``/desk/enrol/<token>``: valid 24 hours, until the account is set up);
``list`` shows every account; ``disable NAME`` ends its sessions at once; ``reset NAME`` forgets
its password and second factor, ends its sessions and prints a new link; ``migrate`` makes an
account for each name in ``[hr] handlers`` and ``board_members`` that has none yet (the config's
lists are no longer read for access). Each change is written to the audit log as the operator's.
"""

from __future__ import annotations

import argparse
import getpass
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, TextIO

from bot.config import Config, ConfigError
from storage.people import Role

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from storage.accounts import Accounts
    from storage.crypto import KeyRing


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    hr = commands.add_parser("hr", help="HR desk accounts: add, list, disable, reset, migrate (audited)")
    actions = hr.add_subparsers(dest="hr_command", required=True)
    add = actions.add_parser("add", help="add a person and print their one-time enrolment link")
    add.add_argument("name", help="1 to 64 letters, digits, '.', '_' or '-', single spaces between words")
    add.add_argument("--role", required=True, choices=[role.value for role in Role])
    add.add_argument(
        "--site", action="append", default=[], help="a site a handler works for (repeat; default: every site)"
    )
    actions.add_parser("list", help="every account: role, sites, state")
    disable = actions.add_parser("disable", help="stop an account; its sessions end at once")
    disable.add_argument("name")
    reset = actions.add_parser("reset", help="new enrolment link; the old password, code and sessions stop working")
    reset.add_argument("name")
    actions.add_parser("migrate", help="make accounts for the names in [hr] handlers and board_members")


def execute(config: Config, args: argparse.Namespace) -> int:
    import asyncio
    import sys

    return asyncio.run(run(config, args, sys.stdout))


def operator_actor(name: str) -> str:
    """The audit log's ``who`` for an operator's change to an account."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{name} (operator {user})"[:128]


def enrolment_link(config: Config, token: str) -> str:
    assert config.web.public_url is not None
    return f"{config.web.public_url}/desk/enrol/{token}"


def _need_public_url(config: Config) -> None:
    if not config.web.public_url:
        raise ConfigError(
            "web.public_url: not set; set it to the address HR opens the desk at (like https://desk.example.com), "
            "so that enrolment links can be printed"
        )


def _sites(config: Config, role: Role, sites: list[str]) -> list[str]:
    if role is Role.BOARD:
        if sites:
            raise ConfigError("--site: board members see the cases of every site; leave --site out")
        return []
    unknown = sorted(set(sites) - set(config.sites))
    if unknown:
        known = ", ".join(sorted(config.sites))
        raise ConfigError(f"--site: {', '.join(unknown)} is not a site of the config ([sites.*]: {known})")
    return sorted(set(sites)) if sites else sorted(config.sites)


async def run(
    config: Config,
    args: argparse.Namespace,
    out: TextIO,
    *,
    keyring: KeyRing | None = None,
    clock: Callable[[], datetime] | None = None,
) -> int:
    from bot.core import build_core, utc_now
    from storage import audit
    from storage.accounts import AccountExists, Accounts, InvalidName, UnknownAccount
    from storage.web_sessions import WebSessions

    if args.hr_command in ("add", "reset", "migrate"):
        _need_public_url(config)
    runtime = await build_core(config, keyring=keyring)
    accounts = Accounts(runtime.crypto)
    now = (clock or utc_now)()
    try:
        async with runtime.database.transaction() as session:
            if args.hr_command == "add":
                role = Role(args.role)
                sites = _sites(config, role, args.site)
                account, token = await accounts.add(session, args.name, role, sites, now)
                await audit.record(session, operator_actor(account.name), "hr:add", None, now)
                out.write(f"{account.name}: {role.value}, sites: {', '.join(sites) or 'all (board)'}\n")
                out.write(f"enrolment link (valid 24 hours; give it to {account.name} only):\n")
                out.write(f"{enrolment_link(config, token)}\n")
            elif args.hr_command == "list":
                sessions = WebSessions(runtime.crypto)
                for account in await accounts.all(session):
                    if account.disabled:
                        state = "disabled"
                    elif account.enrolled:
                        state = f"enrolled, {await sessions.count_for(session, account.id)} session(s)"
                    elif account.enrolment_expires_at is not None and account.enrolment_expires_at > now:
                        state = f"link valid until {account.enrolment_expires_at:%Y-%m-%d %H:%M} UTC"
                    else:
                        state = "link expired: run `hapbot hr reset`"
                    shown = ",".join(sorted(account.sites)) or "-"
                    out.write(f"{account.name:<20} {account.role.value:<8} {shown:<24} {state}\n")
            elif args.hr_command == "disable":
                account = await accounts.disable(session, args.name, now)
                await audit.record(session, operator_actor(account.name), "hr:disable", None, now)
                out.write(f"{account.name}: disabled; their sessions have ended\n")
            elif args.hr_command == "reset":
                account, token = await accounts.reset(session, args.name, now)
                await audit.record(session, operator_actor(account.name), "hr:reset", None, now)
                out.write(f"{account.name}: password, second factor and sessions cleared\n")
                out.write(f"new enrolment link (valid 24 hours; give it to {account.name} only):\n")
                out.write(f"{enrolment_link(config, token)}\n")
            else:
                await _migrate(session, accounts, config, out, now)
    except AccountExists as exists:
        out.write(f"hapbot: an account {exists} exists already (`hapbot hr reset {exists}` gives a new link)\n")
        return 2
    except InvalidName as invalid:
        out.write(f"hapbot: {args.name!r}: {invalid}\n")
        return 2
    except UnknownAccount as unknown:
        out.write(f"hapbot: no account {unknown} (see `hapbot hr list`)\n")
        return 2
    finally:
        await runtime.close()
    return 0


def config_people(config: Config) -> list[tuple[str, Role]]:
    """The names the config's ``[hr]`` lists, with the role each list gives."""
    return [(name, Role.HANDLER) for name in config.hr.handlers] + [
        (name, Role.BOARD) for name in config.hr.board_members
    ]


async def unmigrated(session: AsyncSession, accounts: Accounts, config: Config) -> list[str]:
    """Names in ``[hr] handlers`` / ``board_members`` that have no desk account yet."""
    return [name for name, _ in config_people(config) if await accounts.by_name(session, name) is None]


async def _migrate(session: AsyncSession, accounts: Accounts, config: Config, out: TextIO, now: datetime) -> None:
    from storage import audit

    people = config_people(config)
    if not people:
        out.write("[hr] handlers and board_members are empty: nothing to migrate\n")
    for name, role in people:
        existing = await accounts.by_name(session, name)
        if existing is not None:
            note = "" if existing.role is role else f" (role {existing.role.value}; the config says {role.value})"
            out.write(f"{name}: has an account already{note}; unchanged\n")
            continue
        sites = [] if role is Role.BOARD else sorted(config.sites)
        account, token = await accounts.add(session, name, role, sites, now)
        await audit.record(session, operator_actor(account.name), "hr:migrate", None, now)
        out.write(f"{name}: {role.value}; enrolment link (valid 24 hours; give it to {name} only):\n")
        out.write(f"{enrolment_link(config, token)}\n")
    if people:
        out.write(
            "Once everyone has an account, remove [hr] handlers and board_members from the config: "
            "access now comes from `hapbot hr`.\n"
        )
