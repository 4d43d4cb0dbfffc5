"""Agreements: the terms two teams keep (an `AgreementSeries` of versions, each with its
targets per priority, triage template and escalation ladder), their approval lifecycle,
and exception windows during which a provider team's clocks do not count.

- services/ — every state change, as `services.X`: versions.py (draft, edit, submit,
  approve, request changes, amend, retire), windows.py (request, approve, reject, end an
  exception window), validation.py (`validate_version`), permissions.py (who may);
- models.py, selectors.py, filters.py — the rows, the reads from `visible_to(user)`, the
  one FilterSet of the list;
- targets.py (`TargetGrid`, pure), durations.py, compare.py — targets as values, as
  people write them, two versions side by side;
- views/, forms/, urls.py — the pages: views/versions.py and forms/versions.py the
  version pages and the draft editor, views/windows.py and forms/windows.py exception
  windows, forms/triage.py the form a requester fills in;
- api/ — the REST API (serializers, inputs, views); admin/ — versions and windows;
- signals.py — `exception_windows_changed`, for higher apps; demo.py — the demo data.
"""
