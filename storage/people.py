"""Who works the HR desk: people with an account and a role, not platform ids.

This module is the contract between the desk's sign-in (accounts, sessions) and its pages (what a
signed-in person may list and open). The web layer puts a ``Person`` on ``request.state.person``
once a session checks out; everything that decides access takes a ``Person``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    """``handler``: an HR case handler for some sites; ``board``: a member of the advocacy board,
    who sees the cases about a supervisor, a manager or HR, recused and escalated cases."""

    HANDLER = "handler"
    BOARD = "board"


@dataclass(frozen=True)
class Person:
    """A signed-in desk user. ``sites`` is empty for a board member (the board sees every site)."""

    account_id: str
    name: str
    role: Role
    sites: frozenset[str]
