"""The IANA time zones a user or a calendar may choose (no Django import)."""

from functools import lru_cache
from zoneinfo import available_timezones


@lru_cache(maxsize=1)
def timezone_names() -> tuple[str, ...]:
    # "posix/…", "right/…" and bare legacy aliases are duplicates that only confuse a picker.
    names = {n for n in available_timezones() if not n.startswith(("posix/", "right/", "SystemV/"))}
    names.discard("localtime")
    return tuple(sorted(names))


def is_valid_timezone(name: str) -> bool:
    return name in timezone_names()


def timezone_choices() -> list[tuple[str, str]]:
    return [(n, n.replace("_", " ")) for n in timezone_names()]
