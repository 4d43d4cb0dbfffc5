"""Reads of accounts: is a sign-in attempt locked out, and from which address it comes."""

from __future__ import annotations

import ipaddress
import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.http import HttpRequest
from rest_framework.throttling import BaseThrottle

from .models import FailedSignIn


def sign_in_key(username: str) -> str:
    """The name failures are counted under: case does not make a new username."""
    return username.lower()[: FailedSignIn._meta.get_field("username").max_length]


def client_ip(request: HttpRequest | None) -> str | None:
    """The client's address, read the way DRF's throttles read it (settings.NUM_PROXIES)."""
    if request is None:
        return None
    ident = BaseThrottle().get_ident(request)
    try:
        # A proxy's header may carry anything; only a real address is counted (and stored).
        return str(ipaddress.ip_address(ident))
    except ValueError:
        return None


@dataclass(frozen=True)
class Lockout:
    """Sign-in is refused until `until`."""

    until: datetime
    now: datetime

    @property
    def retry_after_seconds(self) -> int:
        return max(1, math.ceil((self.until - self.now).total_seconds()))

    @property
    def minutes(self) -> int:
        return math.ceil(self.retry_after_seconds / 60)

    @property
    def message(self) -> str:
        unit = "minute" if self.minutes == 1 else "minutes"
        return f"Too many failed sign-in attempts. Try again in {self.minutes} {unit}."


def sign_in_lockout(*, username: str, ip_address: str | None, now: datetime) -> Lockout | None:
    """The lockout in force for this username or address at `now`, if any.

    Too many failures (SIGN_IN_USERNAME_FAILURES for the username, SIGN_IN_IP_FAILURES
    for the address) inside the last SIGN_IN_WINDOW_MINUTES lock it until enough of them
    have left the window; the later of the two lockouts wins.
    """
    window = timedelta(minutes=settings.SIGN_IN_WINDOW_MINUTES)
    recent = FailedSignIn.objects.filter(attempted_at__gt=now - window, attempted_at__lte=now)
    counted = [
        (
            recent.filter(username=sign_in_key(username), username_cleared_at=None),
            settings.SIGN_IN_USERNAME_FAILURES,
        )
    ]
    if ip_address:
        counted.append((recent.filter(ip_address=ip_address), settings.SIGN_IN_IP_FAILURES))
    until = None
    for failures, limit in counted:
        # The limit-th newest failure: once it leaves the window fewer than `limit` remain
        # (refused attempts are not recorded, so nothing newer joins them meanwhile).
        newest = failures.order_by("-attempted_at").values_list("attempted_at", flat=True)
        oldest_counted = next(iter(newest[limit - 1 : limit]), None)
        if oldest_counted is not None:
            ends = oldest_counted + window
            until = ends if until is None else max(until, ends)
    return Lockout(until=until, now=now) if until is not None else None
