"""Target durations as people write and read them: "30m", "2h", "1h30m", "best effort".

Targets are stored in seconds. Business-time targets are written in hours and minutes
(a "business day" has no fixed length: 8 h in Berlin, 10 h in New York), and read back
as "2 business h" or, on a 24×7 target, "2 h".
"""

from __future__ import annotations

import re

# ASCII digits only: `\d` would take "٣". The text is at most TEXT_MAX characters, so
# every number in it converts cheaply; the range is checked after.
DURATION_RE = re.compile(r"^\s*(?:([0-9]+)\s*h)?\s*(?:([0-9]+)\s*m(?:in)?)?\s*$", re.IGNORECASE)
MINUTES_RE = re.compile(r"^[0-9]+$")
TEXT_MAX = 40
BEST_EFFORT = {"", "-", "—", "best effort", "none"}


def parse_duration(text: str | None) -> int | None:
    """'1h30m' → 5400; blank or 'best effort' → None; anything else, or more than
    `limits.TARGET_SECONDS_MAX`, raises ValueError."""
    # Imported here, not at the top: the formatter below is read by modules that must not
    # load Django (reviews.recommend, tested for it), and apps.core.limits does.
    from apps.core import limits

    value = (text or "").strip().lower()
    if value in BEST_EFFORT:
        return None
    if len(value) > TEXT_MAX:
        raise ValueError(f"“{value[:20]}…” is not a duration: write 30m, 2h or 1h30m.")
    if MINUTES_RE.match(value):  # a bare number is minutes, as in most ticketing tools
        seconds = int(value) * 60
    else:
        match = DURATION_RE.match(value)
        if not match or not (match[1] or match[2]):
            raise ValueError(
                f"“{text}” is not a duration: write minutes and hours such as 30m, 2h or "
                "1h30m, or leave it blank for best effort."
            )
        seconds = int(match[1] or 0) * 3600 + int(match[2] or 0) * 60
    if seconds > limits.TARGET_SECONDS_MAX:
        raise ValueError(
            f"“{text}” is longer than any target can be: at most "
            f"{limits.TARGET_SECONDS_MAX // 3600:,}h (ten years)."
        )
    return seconds


def format_duration(seconds: int | None, *, business: bool = True) -> str:
    """5400 → '1 h 30 min' / '1 business h 30 min'; None → 'best effort'."""
    if seconds is None:
        return "best effort"
    hours, rest = divmod(int(seconds), 3600)
    minutes = rest // 60
    unit = "business h" if business else "h"
    if hours and minutes:
        return f"{hours} {unit} {minutes} min"
    if hours:
        return f"{hours} {unit}"
    return f"{minutes} min"


def duration_input(seconds: int | None) -> str:
    """The text a form shows for a stored target: 5400 → '1h30m', None → ''."""
    if seconds is None:
        return ""
    hours, rest = divmod(int(seconds), 3600)
    minutes = rest // 60
    return (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "") or "0m"
