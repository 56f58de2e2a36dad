"""Slow work a step needs, done before its message's transaction: the contract between steps and
the dispatcher.

A message is handled in one write transaction holding the worker's lock (and, on SQLite, the only
writer; on PostgreSQL, a whole group-commit batch). Anything slow there (an argon2id hash) makes
every other worker wait. So a step never does slow work itself: it asks its context for the
*result* of a :class:`Preparation` (``ctx.prepared(...)``), which the dispatcher computed before
opening the transaction.

The dispatcher learns which preparations a message needs in two ways, both registered on the
router by the feature that knows (the dispatcher imports no feature):

* ``Router.prepares``: from the message alone (a receipt in its text, a "submit" button);
* ``Router.anticipates``: from the conversation after the worker's last message (at the review,
  the next message may submit), remembered by the dispatcher for that worker's next message.

When a step asks for a result nobody prepared (a prediction missed: another replica handled the
last message, or a typed "1" meant submit), :class:`Unprepared` is raised; the dispatcher rolls
the transaction back, does the work with no transaction open, and handles the message again.
The result is the same, only slower.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")

Reader = Callable[[], AbstractAsyncContextManager[AsyncSession]]
"""Opens a short read-only transaction, for work that must look something up first."""


@dataclass(frozen=True, repr=False)
class Preparation(Generic[T]):
    """Slow work, named by ``key``: two preparations with one key are the same work (a key names
    what is computed, e.g. ``receipt.match:<receipt>``, so a step finds its result)."""

    key: str
    work: Callable[[Reader], Awaitable[T]]

    def __repr__(self) -> str:  # keys may hold a receipt: never in a log or a traceback
        return f"Preparation({self.key.split(':', 1)[0]!r})"


class Unprepared(Exception):
    """A step asked for the result of work that was not done before the transaction."""

    def __init__(self, preparation: Preparation[Any]) -> None:
        super().__init__("slow work was not prepared before the transaction")
        self.preparation = preparation


Prepared = Mapping[str, object]
"""Results of the preparations done for one message, by key."""


def result_of(prepared: Prepared, preparation: Preparation[T]) -> T:
    """The prepared result of ``preparation``; raises :class:`Unprepared` if there is none."""
    if preparation.key not in prepared:
        raise Unprepared(preparation)
    return cast(T, prepared[preparation.key])  # the key names this work's result


async def prepare(preparations: Mapping[str, Preparation[Any]], read: Reader) -> dict[str, object]:
    """Runs each preparation once (the caller must hold no transaction or lock)."""
    return {key: await preparation.work(read) for key, preparation in preparations.items()}
