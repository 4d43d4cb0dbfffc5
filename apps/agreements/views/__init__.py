"""Agreement pages: `versions` (list, detail, compare, the draft editor, lifecycle actions)
and `windows` (exception windows); `urls.py` routes to the names re-exported here."""

from .versions import (
    agreement_amend,
    agreement_approve,
    agreement_compare,
    agreement_detail,
    agreement_edit,
    agreement_list,
    agreement_new,
    agreement_request_changes,
    agreement_retire,
    agreement_submit,
)
from .windows import (
    window_approve,
    window_end,
    window_list,
    window_new,
    window_reject,
)

__all__ = [
    "agreement_amend",
    "agreement_approve",
    "agreement_compare",
    "agreement_detail",
    "agreement_edit",
    "agreement_list",
    "agreement_new",
    "agreement_request_changes",
    "agreement_retire",
    "agreement_submit",
    "window_approve",
    "window_end",
    "window_list",
    "window_new",
    "window_reject",
]
