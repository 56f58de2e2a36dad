"""Words the desk's Python code shows (the templates hold the rest), marked for the catalog."""

from __future__ import annotations

from handlers.i18n import N_
from storage.case_status import CaseStatus

__all__ = ["DONE", "N_", "STATUS_LABELS"]

STATUS_LABELS = {
    CaseStatus.RECEIVED: N_("Received"),
    CaseStatus.ACKNOWLEDGED: N_("Acknowledged"),
    CaseStatus.INVESTIGATING: N_("Investigating"),
    CaseStatus.ACTION_TAKEN: N_("Action taken"),
    CaseStatus.NO_CASE_FOUND: N_("No case found"),
    CaseStatus.CLOSED: N_("Closed"),
    CaseStatus.WITHDRAWN: N_("Withdrawn by the reporter"),
}

DONE = {
    "reply": N_("Your reply is stored. The reporter sees it after entering their receipt."),
    "note": N_("Your note is stored. The reporter never sees notes."),
    "status": N_("The status is changed."),
    "take": N_("You are now the handler of this case."),
    "recused": N_("The case has gone to the advocacy board."),
}
