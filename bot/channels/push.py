"""When a channel may push to a worker: one method per platform, so every job that pushes to
workers (reporter notices now; quiz reminders and case deadlines next) follows the same rules.

A push that may not go now waits for the worker's next contact: it is kept as a held notice and
shown first in the next reply. Each platform folder has its window (``telegram/push.py``,
``wechat/push.py``; the console's is in ``console.py``); the process hands the jobs one mapping
of channel name to window (``JobDeps.push_windows``).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Protocol


class PushMode(StrEnum):
    """How a message for a worker can reach them."""

    NOW = "now"  # a push the platform accepts at this moment
    NEXT_CONTACT = "next_contact"  # held, and shown when the worker next writes


class PushWindow(Protocol):
    """A channel's rule for pushing to a worker whose last message arrived at ``last_seen``
    (``None`` when unknown)."""

    def mode(self, last_seen: datetime | None, now: datetime) -> PushMode: ...
