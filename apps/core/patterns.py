"""Lead-written validation patterns (a triage field's `pattern`), matched in bounded time.

A pattern is written by a lead and matched against every answer a requester types, so it
is hostile input twice over: `(a|a)*$` backtracks for hours on a 500-character answer, and
`x{4294967294}` takes all the memory there is to compile. So patterns are compiled and
matched with the `regex` package (Python's `re` syntax, plus a `timeout=`), a pattern's
counted repeats are bounded before it is compiled, and a match that runs out of time is
refused with `TIMEOUT_MESSAGE` instead of holding the worker.
"""

from __future__ import annotations

import functools
import time

import regex

from . import limits

TIMEOUT_MESSAGE = "This answer could not be checked against the pattern; shorten it."

# A counted repeat: {m}, {m,}, {,n}, {m,n}. Anything else in braces is a literal.
_COUNT = regex.compile(r"\{([0-9]*)(?:,([0-9]*))?\}")
# An inline flag group that turns on verbose mode, (?x) or (?ix:…): its `#` comments and
# ignored whitespace would hide counted repeats from `_weight`, so it is refused.
_VERBOSE = regex.compile(r"\(\?[a-zA-Z0-9]*x[a-zA-Z0-9-]*[:)]")


class PatternError(ValueError):
    """A pattern that cannot be used; the message says why, for the lead."""


class PatternTimeout(Exception):
    """An answer that could not be checked against a pattern in the time allowed."""


def _class_end(pattern: str, start: int) -> int:
    """Index of the `]` closing the character class opened at `start`. A `]` right after
    `[` or `[^` is a literal, as in `re`; a class ends no later than `regex` ends it, so
    nothing `regex` reads outside a class is skipped here."""
    i = start + 1
    if pattern.startswith("^", i):
        i += 1
    if pattern.startswith("]", i):
        i += 1
    while i < len(pattern):
        if pattern[i] == "\\":
            i += 2
            continue
        if pattern[i] == "]":
            return i
        i += 1
    raise PatternError("Not a valid regular expression: unterminated character set.")


def _weight(pattern: str) -> int:
    """An upper bound on the characters the compiled pattern spells out: each counted
    repeat multiplies what it repeats, nested ones multiply again. Every brace of digits
    counts as a repeat (`\\x{41}` too): overcounting only refuses a pattern, never lets
    one through."""
    if _VERBOSE.search(pattern):
        raise PatternError("Verbose mode (?x) is not supported in a validation pattern.")
    groups = [0]  # the weight of each group still open, the whole pattern first
    last = 0  # the weight of the last atom, which a following count multiplies
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "{" and (count := _COUNT.match(pattern, i)):
            times = max((int(n) for n in count.groups() if n), default=1)
            groups[-1] += last * (times - 1) if times else -last
            last *= times
            i = count.end()
            continue
        if char == "(" and pattern.startswith("(?#", i):
            end = pattern.find(")", i)
            i = len(pattern) if end < 0 else end + 1
            continue
        if char == "(":
            groups.append(0)
            last = 0
            i += 1
            continue
        if char == ")" and len(groups) > 1:
            last = groups.pop()
            groups[-1] += last
            i += 1
            continue
        if char == "\\":
            i += 2
        elif char == "[":
            i = _class_end(pattern, i) + 1
        else:
            i += 1
        groups[-1] += 1
        last = 1
    return sum(groups)


@functools.lru_cache(maxsize=256)
def compile_pattern(pattern: str) -> regex.Pattern:
    """`pattern` compiled, or PatternError saying why it cannot be used."""
    if len(pattern) > limits.TRIAGE_PATTERN_MAX:
        raise PatternError(f"A pattern has at most {limits.TRIAGE_PATTERN_MAX} characters.")
    if problem := limits.bad_character(pattern):
        raise PatternError(problem)
    if _weight(pattern) > limits.PATTERN_WEIGHT_MAX:
        raise PatternError(
            "Its counted repeats spell out more than "
            f"{limits.PATTERN_WEIGHT_MAX:,} characters; use smaller counts, or + and *."
        )
    try:
        return regex.compile(pattern)
    except (regex.error, OverflowError, ValueError, MemoryError) as exc:
        raise PatternError(f"Not a valid regular expression: {exc}.") from None


def pattern_problem(pattern: str) -> str | None:
    """Why a lead may not save `pattern`, or None."""
    try:
        compile_pattern(pattern)
    except PatternError as exc:
        return str(exc)
    return None


def full_match(pattern: str, value: str, *, timeout: float) -> bool:
    """Whether the whole of `value` matches; PatternTimeout after `timeout` seconds,
    PatternError for a pattern that cannot be used."""
    try:
        return compile_pattern(pattern).fullmatch(value, timeout=timeout) is not None
    except TimeoutError:
        raise PatternTimeout(pattern) from None


class PatternBudget:
    """The matching time of one set of answers (a form, a filing): each match gets at most
    PATTERN_TIMEOUT_SECONDS, all of them together `seconds`."""

    def __init__(self, seconds: float = limits.PATTERN_BUDGET_SECONDS):
        self.deadline = time.monotonic() + seconds

    def full_match(self, pattern: str, value: str) -> bool:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise PatternTimeout(pattern)
        return full_match(pattern, value, timeout=min(limits.PATTERN_TIMEOUT_SECONDS, left))
