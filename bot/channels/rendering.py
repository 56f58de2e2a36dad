"""Rendering shared by channels without buttons: choices become numbered lines.

A worker answers with the number or the label (``handlers.commands.typed_choice``), so the numbers
shown here and the numbers the core accepts must come from one place.
"""

from __future__ import annotations

from handlers.events import Reply


def render_numbered(reply: Reply, *, indent: str = "") -> str:
    """The reply's text, then one ``1. label`` line per choice."""
    lines = [reply.text]
    lines.extend(f"{indent}{number}. {choice.label}" for number, choice in enumerate(reply.choices, start=1))
    return "\n".join(lines)
