"""Each agreement version's targets and triage template, read once per process.

A version's content is frozen once it leaves review: only a draft can be edited
(`services.agreement_update_draft` refuses anything else), and activation, supersession and
retirement change its status and dates, never its targets or triage fields. So the parts of
an active, superseded or retired version are kept here by version id and put on the
`Agreement` instances a page reads as if `prefetch_related("targets", "triage_fields")` had
loaded them: every `agreement.targets.all()` and `target_for()` after that costs no query.

A draft or a version in review is never kept: it is loaded for the request that asks, every
time, so an edit shows at once and a version that is activated is read afresh the first time
it is asked for as an active one.

The calendar is not kept: its hours and holidays are edited in place (the calendars app),
and another process could not tell this one. Pages load it once per request instead.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models.signals import post_delete, post_save

from .models import Agreement, PriorityTarget, Status, TriageField

# Statuses whose content can no longer change.
FROZEN = frozenset({Status.ACTIVE, Status.SUPERSEDED, Status.RETIRED})
# Versions kept at most (a few per agreement series); the oldest half goes when it is full.
LIMIT = 2_000

_parts: dict[int, tuple[tuple[PriorityTarget, ...], tuple[TriageField, ...]]] = {}


def clear() -> None:
    """Forget every kept version (tests; a process that wants to start afresh)."""
    _parts.clear()


def kept(version_id: int) -> bool:
    """Whether this process holds the parts of that version."""
    return version_id in _parts


def _forget(sender, instance, **kwargs) -> None:
    # A saved or deleted version, target or triage field leaves this process's copy: an
    # edit can only touch a draft (never kept), but a database that hands out an id again
    # (SQLite after a rolled-back test, a restored dump) must not meet an old copy.
    _parts.pop(getattr(instance, "agreement_id", None) or instance.pk, None)


for _model in (Agreement, PriorityTarget, TriageField):
    post_save.connect(_forget, sender=_model, dispatch_uid=f"version-cache-{_model.__name__}")
    post_delete.connect(_forget, sender=_model, dispatch_uid=f"version-cache-del-{_model.__name__}")


def _put(version_id: int, parts) -> None:
    if len(_parts) >= LIMIT:
        for stale in list(_parts)[: LIMIT // 2]:
            _parts.pop(stale, None)
    _parts[version_id] = parts


def _load(ids: set[int]) -> dict[int, tuple[list, list]]:
    """The targets and triage fields of these versions: two queries for all of them."""
    loaded: dict[int, tuple[list, list]] = {pk: ([], []) for pk in ids}
    for target in PriorityTarget.objects.filter(agreement_id__in=ids).order_by("priority"):
        loaded[target.agreement_id][0].append(target)
    for field in TriageField.objects.filter(agreement_id__in=ids).order_by("order", "id"):
        loaded[field.agreement_id][1].append(field)
    return loaded


def _attach(agreement: Agreement, name: str, rows: Iterable) -> None:
    # What prefetch_related leaves: a queryset whose result is already there.
    queryset = getattr(agreement, name).all()
    queryset._result_cache = list(rows)
    queryset._prefetch_done = True
    agreement._prefetched_objects_cache[name] = queryset


def prime(agreements: Iterable[Agreement]) -> None:
    """Give each agreement its targets and triage fields (`.targets.all()`,
    `.triage_fields.all()`): frozen versions from this process's copy, loaded once; drafts
    and versions in review from the database, now. At most two queries, none when every
    version is frozen and kept already."""
    agreements = [a for a in agreements if a is not None]
    missing = {a.pk for a in agreements if a.status not in FROZEN or a.pk not in _parts}
    loaded = _load(missing) if missing else {}
    for agreement in agreements:
        if not hasattr(agreement, "_prefetched_objects_cache"):
            agreement._prefetched_objects_cache = {}
        if agreement.pk in loaded:
            targets, fields = loaded[agreement.pk]
            if agreement.status in FROZEN:
                _put(agreement.pk, (tuple(targets), tuple(fields)))
        else:
            targets, fields = _parts[agreement.pk]
        _attach(agreement, "targets", targets)
        _attach(agreement, "triage_fields", fields)
