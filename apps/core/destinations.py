"""Where the portal may send outbound requests (team webhooks): public internet addresses
only, so that a webhook URL cannot be aimed at the portal's own network — loopback, the
cloud metadata service on 169.254.169.254, private ranges, multicast — unless the
`WEBHOOK_ALLOW_PRIVATE` setting says the portal runs where such destinations are wanted.

The check is made twice: when a URL is saved (a clear message to whoever typed it) and
when a delivery connects (`apps/notifications/destinations.py`), on the very addresses the
socket then connects to, because a name may resolve elsewhere by then.

In `core` rather than `notifications` because `teams` validates the URL a lead saves and
may only import apps below it (DESIGN: dependencies run one way).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError

SCHEMES = ("https", "http")
# NAT64 (RFC 6052) embeds an IPv4 address in its last 32 bits.
NAT64 = ipaddress.ip_network("64:ff9b::/96")

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


def private_allowed() -> bool:
    return bool(getattr(settings, "WEBHOOK_ALLOW_PRIVATE", False))


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one stands for (mapped, 6to4, NAT64), if any: `[::ffff:
    127.0.0.1]` reaches the loopback interface like 127.0.0.1 does."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_refusal(ip: Address) -> str | None:
    """Why `ip` is no place for a webhook (e.g. "a loopback address"), None if public."""
    if isinstance(ip, ipaddress.IPv6Address):
        ip = _embedded_ipv4(ip) or ip
    # Order matters for the message: 127.0.0.1 is also "private" to `ipaddress`.
    for test, words in (
        (ip.is_unspecified, "the unspecified address"),
        (ip.is_loopback, "a loopback address"),
        (ip.is_link_local, "a link-local address"),
        (ip.is_multicast, "a multicast address"),
        (ip.is_reserved, "a reserved address"),
        (ip.is_private, "a private address"),
        # 100.64.0.0/10 (carrier-grade NAT) and the like: neither private nor public.
        (not ip.is_global, "not a public address"),
    ):
        if test:
            return words
    return None


def resolve(host: str, port: int) -> list[tuple]:
    """getaddrinfo() for TCP: [(family, type, proto, canonname, sockaddr), …]. A module
    function so that tests can stand in for DNS."""
    return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)


def _address_of(sockaddr: tuple) -> Address:
    # An IPv6 sockaddr may carry a zone ("fe80::1%eth0"); the address is what counts.
    return ipaddress.ip_address(sockaddr[0].split("%", 1)[0])


def checked_addresses(host: str, port: int) -> list[tuple]:
    """The resolved addresses of `host`, every one of them allowed; ValidationError
    otherwise. A name that resolves to one public and one private address is refused:
    which one a client picks is not ours to choose."""
    try:
        infos = resolve(host, port)
    except (OSError, UnicodeError, ValueError) as exc:
        raise ValidationError(
            f"The webhook host “{host}” could not be resolved ({exc}).", code="unresolvable"
        ) from exc
    if not infos:
        raise ValidationError(f"The webhook host “{host}” has no address.", code="unresolvable")
    if private_allowed():
        return infos
    for info in infos:
        ip = _address_of(info[4])
        if reason := address_refusal(ip):
            where = host if host == str(ip) else f"{host} ({ip})"
            raise ValidationError(
                f"Webhooks are sent to public internet addresses only: {where} is {reason}.",
                code="private_destination",
            )
    return infos


def check_webhook_url(url: str) -> None:
    """Refuses (ValidationError with a message for the person who typed it) a URL that is
    not http(s), has no host, or whose host resolves to an address inside the network —
    unless `WEBHOOK_ALLOW_PRIVATE` is set."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        port = parts.port
    except ValueError as exc:  # a bad port, an unbalanced "[", …
        raise ValidationError(f"Not a valid URL: {exc}.", code="invalid") from exc
    if parts.scheme.lower() not in SCHEMES:
        raise ValidationError("A webhook URL starts with https:// or http://.", code="scheme")
    if not host:
        raise ValidationError("The webhook URL names no host.", code="invalid")
    if private_allowed():
        return
    port = port or (443 if parts.scheme.lower() == "https" else 80)
    checked_addresses(host, port)
