"""Signing in on the command line as a desk account: the password, then a code from the account's
authenticator app, checked, throttled and audited exactly as on the desk's login page (the audit
entries say ``cli:``). Used by ``hapbot cases --as`` and ``hapbot training export --as``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from bot.core import Core
    from storage.accounts import PasswordHasher
    from storage.people import Person

Prompt = Callable[[str, bool], str]  # (question, secret) -> answer


def ask(question: str, secret: bool) -> str:
    """Asks on the terminal; a secret is not echoed."""
    import getpass

    return getpass.getpass(question) if secret else input(question)


async def terminal_sign_in(
    runtime: Core, name: str, out: TextIO, prompt: Prompt = ask, hasher: PasswordHasher | None = None
) -> Person | None:
    """The signed-in person, or None after saying on ``out`` why not (nothing else is shown)."""
    from bot.web.desk.authenticate import sign_in
    from bot.web.desk.mount import make_desk

    services = runtime.services
    desk = make_desk(runtime.config, runtime.database, runtime.crypto, services.clock, services.translators, hasher)
    now = services.clock()
    try:
        password = prompt("Password: ", True)
        code = prompt("Code from your authenticator app: ", False)
    except (EOFError, KeyboardInterrupt):
        out.write("hapbot: sign-in cancelled: no password or code was given (run it in a terminal)\n")
        return None
    result = await sign_in(desk, name, password, code, "cli", now, channel="cli", create_session=False)
    if result.person is not None:
        return result.person
    if result.wait is not None:
        minutes = max(1, int(result.wait.total_seconds() + 59) // 60)
        out.write(f"hapbot: too many failed sign-ins; wait {minutes} minute(s)\n")
    else:
        out.write("hapbot: sign-in refused: the name, the password or the code is not right\n")
    return None
