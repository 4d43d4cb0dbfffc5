"""Forms of the agreement pages: `versions` (the draft editor and the action forms),
`windows` (an exception window request) and `triage` (the form a requester fills in,
built from a version's triage template)."""

from .triage import (
    TriageForm,
    triage_form_class,
)
from .versions import (
    DEFAULT_STEPS,
    DEFAULT_TRIAGE_FIELDS,
    LONG_TEXT_FIELDS,
    STEPS,
    TARGETS,
    TRIAGE,
    AgreementForm,
    BasePartFormSet,
    CommentForm,
    DecisionForm,
    DurationField,
    EscalationStepForm,
    RetireForm,
    TargetForm,
    TeamPairForm,
    TriageFieldForm,
    default_targets,
    editor_formsets,
    part_formset,
)
from .windows import (
    ExceptionWindowForm,
    LocalDateTimeInput,
)

__all__ = [
    "DEFAULT_STEPS",
    "DEFAULT_TRIAGE_FIELDS",
    "LONG_TEXT_FIELDS",
    "STEPS",
    "TARGETS",
    "TRIAGE",
    "AgreementForm",
    "BasePartFormSet",
    "CommentForm",
    "DecisionForm",
    "DurationField",
    "EscalationStepForm",
    "ExceptionWindowForm",
    "LocalDateTimeInput",
    "RetireForm",
    "TargetForm",
    "TeamPairForm",
    "TriageFieldForm",
    "TriageForm",
    "default_targets",
    "editor_formsets",
    "part_formset",
    "triage_form_class",
]
