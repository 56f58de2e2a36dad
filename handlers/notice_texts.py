"""The words of neutral pushes to a reporter that are not about a new message from HR.

Pushed to lock screens and shared phones, so, like the new-message notice, they never say what
they are about: no "report", no "case", no "HR". The worker learns more only after the receipt.
"""

from __future__ import annotations

from .i18n import N_

PUSH_ACKNOWLEDGED = N_("You have an update. Send 查询 (status) to see it.")
PUSH_CHECKIN = N_("Time for a check-in. Send 查询 (status) when you can.")
