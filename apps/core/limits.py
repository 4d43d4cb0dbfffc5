"""Input limits: every size and range the portal accepts, in one place.

Forms, serializers and services all read their limits from here, so that a value the
page refuses is refused by the API too, and the service (the last line of defence) refuses
it whichever way it came. Each limit is either a storage range (what a PostgreSQL column
holds) or a size beyond which no person writes and only a script would send.

Also here: the small parsers that bound a value's size *before* converting it (an
exponent like `1e1000000` costs seconds to turn into an integer), and the checks for
characters PostgreSQL refuses in text (NUL, lone UTF-16 surrogates).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError

# --- storage ranges -------------------------------------------------------------------

INT_MAX = 2_147_483_647  # PostgreSQL integer (and the id columns' practical range)
SMALL_INT_MAX = 32_767  # PostgreSQL smallint
ID_DIGITS_MAX = len(str(INT_MAX))

# --- text -----------------------------------------------------------------------------

TITLE_MAX = 200  # handoff, agreement and action item titles
# Everything typed on a handoff: description, plan, question, reply, resolution, reason,
# comment. The page has refused more since the first release; the API and services agree.
HANDOFF_TEXT_MAX = 10_000
# A comment or reason on an agreement decision (approve, request changes, retire, window
# decisions).
DECISION_TEXT_MAX = 2_000
# The long texts of an agreement version (service, scope, playbook, …) and of a review
# (findings, decisions, what happened).
LONG_TEXT_MAX = 20_000
TRIAGE_KEY_MAX = 50
TRIAGE_LABEL_MAX = 120
TRIAGE_HELP_TEXT_MAX = 300
TRIAGE_CHOICE_MAX = 200
TRIAGE_PATTERN_MAX = 200
TRIAGE_TEXT_MAX = 500  # a one-line triage answer
TRIAGE_LONG_TEXT_MAX = HANDOFF_TEXT_MAX  # a long-text triage answer
PARTS_MAX = 50  # targets, triage fields, escalation steps, choices per list
HOLIDAY_NAME_MAX = 200  # calendars.Holiday.name
CUSTOM_HOLIDAYS_MAX = 500  # custom closed days per calendar
CALENDAR_NAME_MAX = 120  # calendars.BusinessCalendar.name

# --- numbers --------------------------------------------------------------------------

# Digits (and sign, point, exponent) a number may be written with: anything longer is not
# a count a person types, and refusing it before conversion keeps `1e1000000` cheap.
NUMBER_TEXT_MAX = 32
# A triage "number" answer: counts of customers, seats, orders… Stays exact in JSON for
# every client (JavaScript's safe integers reach 2**53).
TRIAGE_NUMBER_MAX = 10**15
IMPACTED_CUSTOMERS_MAX = 10_000_000
# An escalation step fires at this percent of its target at the latest (10× the target).
STEP_PERCENT_MAX = 1000
# A target or a recommended target: ten years of seconds makes sense for nothing shorter
# than a retirement, fits PostgreSQL's integer, and keeps deadline arithmetic in range.
TARGET_SECONDS_MAX = 10 * 366 * 24 * 3600

# --- dates and times ------------------------------------------------------------------

# Any date or moment typed in: later ones overflow PostgreSQL's and Python's datetimes
# once a time zone is applied (9999-12-31T23:00 in Etc/GMT+12 is year 10000 in UTC),
# earlier ones are typing mistakes. The end is exclusive.
DATETIME_MIN = datetime(2000, 1, 1, tzinfo=UTC)
DATETIME_MAX = datetime(2100, 1, 1, tzinfo=UTC)
DATE_MIN = date(2000, 1, 1)
DATE_MAX = date(2099, 12, 31)  # inclusive: the last day before DATETIME_MAX

# A report's period: five years at most (its dates within DATE_MIN … DATE_MAX).
REPORT_DAYS_MAX = 5 * 366

# --- validation patterns -------------------------------------------------------------

# A lead-written triage pattern is matched with the `regex` package's timeout, because a
# pattern such as `(a|a)*$` backtracks for hours on a 500-character answer. One match gets
# PATTERN_TIMEOUT_SECONDS; all the matches of one filing together PATTERN_BUDGET_SECONDS
# (fifty patterned fields must not add up to ten seconds). A page runs them twice (its
# form, then the service), which stays under a second with the timer's overshoot.
PATTERN_TIMEOUT_SECONDS = 0.2
PATTERN_BUDGET_SECONDS = 0.25
# Counted repeats are spelled out when a pattern is compiled, nested ones multiplied:
# `(?:a{1000}){1000}` takes a second to compile and `x{4294967294}` all the memory there
# is. The characters a pattern may spell out (10,000 compiles in ~5 ms).
PATTERN_WEIGHT_MAX = 10_000

# --- request bodies -------------------------------------------------------------------

# settings.DATA_UPLOAD_MAX_MEMORY_SIZE: the largest body read (413 beyond it).
REQUEST_BODY_MAX = 2_621_440  # Django's default, 2.5 MB
# How deeply a JSON body may nest; the deepest the API reads is 4 (`targets[0].x`).
JSON_DEPTH_MAX = 32


# --- helpers --------------------------------------------------------------------------

ASCII_DIGITS = re.compile(r"[0-9]+")
# A decimal number as JSON or a person writes it: sign, digits, point, exponent.
SURROGATE = re.compile("[\ud800-\udfff]")
NUMBER_RE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def parse_id(text: str | None) -> int | None:
    """A positive database id as typed (`"42"`); None for anything else, including
    non-ASCII digits (`"²"`, `"٣"`), which `str.isdigit()` accepts and `int()` may not."""
    text = (text or "").strip()
    if not (0 < len(text) <= ID_DIGITS_MAX and ASCII_DIGITS.fullmatch(text)):
        return None
    value = int(text)
    return value if 0 < value <= INT_MAX else None


def parse_number(value, *, maximum: int | float = TRIAGE_NUMBER_MAX) -> int | float:
    """A number from JSON or a form (int, float or text) as int when whole, else float.

    Raises ValueError for anything that is not a plain decimal number within ±maximum.
    The length and the exponent are bounded before converting, so no input costs more
    than microseconds."""
    if isinstance(value, bool):
        raise ValueError("not a number")
    if isinstance(value, int):
        number = Decimal(value) if abs(value) <= maximum else None
    else:
        text = str(value).strip()
        if len(text) > NUMBER_TEXT_MAX or not NUMBER_RE.fullmatch(text):
            raise ValueError("not a number")
        try:
            number = Decimal(text)
        except InvalidOperation as exc:
            raise ValueError("not a number") from exc
        # adjusted() is the power of ten of the leading digit: read off the exponent,
        # not computed, so 1e1000000 is refused here without being expanded.
        if not number.is_finite() or (number and number.adjusted() > len(str(maximum))):
            number = None
    if number is None or abs(number) > maximum:
        raise ValueError(f"out of range (at most {maximum:,})")
    if number == number.to_integral_value():
        return int(number)
    return float(number)


def has_surrogate(text: str) -> bool:
    """Whether `text` holds a lone UTF-16 surrogate (`"\\ud800"` in JSON): not a character,
    it cannot be encoded as UTF-8, and PostgreSQL refuses it."""
    return SURROGATE.search(text) is not None


def printable(text: str, limit: int = 80) -> str:
    """`text` safe to put in a message: lone surrogates written as `\\udXXX` escapes
    (they cannot be encoded in a response), shortened to `limit` characters."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def bad_character(text: str) -> str | None:
    """What is wrong with `text` for storage, or None: a NUL or a lone surrogate."""
    if "\x00" in text:
        return "Null characters are not allowed."
    if has_surrogate(text):
        return "Lone surrogate characters (such as \\ud800) are not text."
    return None


def check_text(errors: dict, key: str, value: str | None, limit: int) -> None:
    """Add to `errors[key]` when `value` is longer than `limit` or holds a character no
    text column stores. For services collecting all their errors before raising."""
    if not value:
        return
    if len(value) > limit:
        errors.setdefault(key, []).append(
            f"Ensure this value has at most {limit:,} characters (it has {len(value):,})."
        )
    elif message := bad_character(value):
        errors.setdefault(key, []).append(message)


def require_text(key: str, value: str | None, limit: int) -> None:
    """Raise ValidationError({key: …}) when `value` is too long or holds a bad character."""
    errors: dict[str, list[str]] = {}
    check_text(errors, key, value, limit)
    if errors:
        raise ValidationError(errors)


def in_datetime_range(moment: datetime) -> bool:
    """Whether an aware moment lies in [DATETIME_MIN, DATETIME_MAX). A moment whose
    offset takes it past what Python holds (year 9999 at UTC-12) compares with an
    OverflowError: it is out of range too."""
    try:
        return DATETIME_MIN <= moment < DATETIME_MAX
    except (OverflowError, TypeError):
        return False


def datetime_range_message() -> str:
    return "Give a moment between 1 Jan 2000 and 31 Dec 2099 (UTC)."


def date_range_message() -> str:
    return "Give a date between 2000-01-01 and 2099-12-31."
