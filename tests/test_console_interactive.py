"""The interactive console: numbered choices, answered by number or by label."""

from __future__ import annotations

import io

from bot.channels.console import ConsoleChannel
from bot.core import Core


async def test_numbered_choices_answered_by_number_and_by_label(runtime: Core) -> None:
    channel = ConsoleChannel(runtime.dispatcher, runtime.crypto, runtime.services.clock, user="tty", language="en")
    stdin = io.StringIO("1\nI understand, continue\n")
    stdout = io.StringIO()
    await channel.run_interactive(stdin, stdout)
    shown = stdout.getvalue()
    assert "  1. Report harassment (anonymous)" in shown
    assert "Before you report, please read:" in shown, "typing 1 picked the first choice"
    assert "Please tell us what happened" in shown, "typing the label picked that choice"
