"""Every state change of agreements. Views, the API, the admin and seed_demo call these,
as `services.X` (every public name of the modules below is re-exported here):

- `versions`: an agreement version's lifecycle (draft, edit, submit, approve, request
  changes, amend, retire);
- `windows`: exception windows (request, approve, reject, end);
- `validation`: the fields a version holds and `validate_version`;
- `permissions`: who may edit or approve a version, and decide or end a window.

Nested parts (targets, triage fields, escalation steps) travel as lists of dicts; errors
on them use dotted keys, `targets.2.resolve_seconds`, so a formset or a serializer can put
each message on the field it concerns.
"""

from .permissions import (
    can_approve_window,
    can_decide_window,
    can_edit,
    can_end_window,
    sides_to_approve,
)
from .validation import (
    AGREEMENT_FIELDS,
    LONG_TEXT_FIELDS,
    STEP_FIELDS,
    TARGET_FIELDS,
    TRIAGE_FIELDS,
    TRIAGE_TEXT_LIMITS,
    validate_version,
)
from .versions import (
    agreement_amend,
    agreement_approve,
    agreement_create_draft,
    agreement_request_changes,
    agreement_retire,
    agreement_submit,
    agreement_update_draft,
    next_review_date,
)
from .windows import (
    exception_window_approve,
    exception_window_end,
    exception_window_reject,
    exception_window_request,
)

__all__ = [
    "AGREEMENT_FIELDS",
    "LONG_TEXT_FIELDS",
    "STEP_FIELDS",
    "TARGET_FIELDS",
    "TRIAGE_FIELDS",
    "TRIAGE_TEXT_LIMITS",
    "agreement_amend",
    "agreement_approve",
    "agreement_create_draft",
    "agreement_request_changes",
    "agreement_retire",
    "agreement_submit",
    "agreement_update_draft",
    "can_approve_window",
    "can_decide_window",
    "can_edit",
    "can_end_window",
    "exception_window_approve",
    "exception_window_end",
    "exception_window_reject",
    "exception_window_request",
    "next_review_date",
    "sides_to_approve",
    "validate_version",
]
