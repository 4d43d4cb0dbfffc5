"""Pages whose capability has not been built yet say so plainly (one view for all)."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

COMING = {
    "reports": ("Reports", "Compliance reports arrive with the reports release."),
}


@require_GET
def not_built_yet(request, section: str):
    title, text = COMING[section]
    return render(request, "core/not_built_yet.html", {"title": title, "text": text})
