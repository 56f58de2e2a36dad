"""Who may see which case on the HR desk: the one place that decides it.

* A **handler** sees the HR cases of their own sites, nothing else.
* A **board member** sees, at every site, the cases about a supervisor, a manager or HR (the board's
  from the start) and the cases a handler gave up as involved or conflicted (recused).
* A board member also sees, at every site, every case escalated to the board for a missed deadline
  (``escalated_at``, set by the deadlines job): :func:`scope_of` takes them in for the list, and
  :func:`may_see` lets one in. The handlers of its site keep seeing an escalated HR case.

A case somebody may not see is, for them, a case that does not exist: the list leaves it out, and
its page and its pictures answer exactly as an unknown reference does (:class:`CaseNotFound`).
Nothing here opens a report: the decision reads the case's keyed audience tag
(:mod:`storage.case_index`).
"""

from __future__ import annotations

from storage.case_index import Audience, IndexedCase, Scope
from storage.people import Person, Role

BOARD_AUDIENCES = frozenset({Audience.BOARD, Audience.RECUSED})


class CaseNotFound(Exception):
    """No case by that reference exists for this person (whether or not it exists at all)."""


def scope_of(person: Person) -> Scope:
    """The cases ``person`` may list."""
    if person.role is Role.BOARD:
        # ``escalated``: cases escalated for a missed deadline too (``CaseIndex._scope`` adds them).
        return Scope(sites=None, audiences=BOARD_AUDIENCES, escalated=True)
    if person.role is Role.HANDLER:
        return Scope(sites=frozenset(person.sites), audiences=frozenset({Audience.HR}))
    return Scope(sites=frozenset(), audiences=frozenset())


def may_see(person: Person, case: IndexedCase) -> bool:
    """Whether ``person`` may open ``case``: the same rule as :func:`scope_of`, for one case."""
    scope = scope_of(person)
    if case.audience is None:
        return False
    if scope.escalated and case.escalated:
        return True
    if case.audience not in scope.audiences:
        return False
    return scope.sites is None or case.site in scope.sites


def is_board(person: Person) -> bool:
    """Board members read a case's audit trail and see cases of every site."""
    return person.role is Role.BOARD
