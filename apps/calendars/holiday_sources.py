"""What the `holidays` package offers: countries, their subdivisions, their dates."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

import holidays
from holidays import registry


@lru_cache(maxsize=1)
def countries() -> dict[str, str]:
    """ISO 3166 alpha-2 code → readable name, for every country the package supports."""
    supported = holidays.list_supported_countries()
    names = {}
    for key, spec in registry.COUNTRIES.items():
        code = spec[1]
        if code in supported:
            names[code] = key.replace("_", " ").title()
    return dict(sorted(names.items(), key=lambda item: item[1]))


def country_choices() -> list[tuple[str, str]]:
    return [("", "— no public holidays —")] + [
        (code, f"{name} ({code})") for code, name in countries().items()
    ]


def subdivisions(country: str) -> list[str]:
    return list(holidays.list_supported_countries().get(country, []))


def country_holiday_dates(country: str, subdivision: str, years: range) -> dict[date, str]:
    """The country's (and subdivision's) public holidays in `years`, date → name."""
    found = holidays.country_holidays(country, subdiv=subdivision or None, years=list(years))
    return {day: str(name) for day, name in sorted(found.items())}
