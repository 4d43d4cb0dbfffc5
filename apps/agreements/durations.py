"""Target durations as people write and read them: "30m", "2h", "1h30m", "best effort".

Targets are stored in seconds. Business-time targets are written in hours and minutes
(a "business day" has no fixed length: 8 h in Berlin, 10 h in New York), and read back
as "2 business h" or, on a 24×7 target, "2 h".
"""

from __future__ import annotations

import re

DURATION_RE = re.compile(r"^\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m(?:in)?)?\s*$", re.IGNORECASE)
BEST_EFFORT = {"", "-", "—", "best effort", "none"}


def parse_duration(text: str | None) -> int | None:
    """'1h30m' → 5400; blank or 'best effort' → None; anything else raises ValueError."""
    value = (text or "").strip().lower()
    if value in BEST_EFFORT:
        return None
    if value.isdigit():  # a bare number is minutes, as in most ticketing tools
        return int(value) * 60
    match = DURATION_RE.match(value)
    if not match or not (match[1] or match[2]):
        raise ValueError(
            f"“{text}” is not a duration: write minutes and hours such as 30m, 2h or 1h30m, "
            "or leave it blank for best effort."
        )
    return int(match[1] or 0) * 3600 + int(match[2] or 0) * 60


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
