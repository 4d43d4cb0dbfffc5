"""Webhook URLs cannot be aimed inside the network: every address class that is not the
public internet is refused, however it is written, unless WEBHOOK_ALLOW_PRIVATE is set.
DNS is stood in for (`apps.core.destinations.resolve`), so no test leaves the machine."""

import socket

import pytest
from django.core.exceptions import ValidationError

from apps.core import destinations
from apps.core.destinations import check_webhook_url

PUBLIC_V4 = "93.184.215.14"
PUBLIC_V6 = "2606:2800:21f:cb07:6820:80da:af6b:8b2c"


@pytest.fixture(autouse=True)
def _private_refused(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False


@pytest.fixture
def dns(monkeypatch):
    """A tiny DNS: name → addresses; IP literals resolve to themselves."""
    table: dict[str, list[str]] = {}

    def resolve(host, port):
        addresses = table.get(host)
        if addresses is None:
            try:
                socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
            except OSError:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
            addresses = [host]
        return [
            (
                socket.AF_INET6 if ":" in a else socket.AF_INET,
                socket.SOCK_STREAM,
                6,
                "",
                (a, port, 0, 0) if ":" in a else (a, port),
            )
            for a in addresses
        ]

    monkeypatch.setattr(destinations, "resolve", resolve)
    return table


REFUSED = [
    ("http://127.0.0.1/hook", "loopback"),
    ("http://127.1.2.3:8080/hook", "loopback"),
    ("http://[::1]/hook", "loopback"),
    ("http://[::ffff:127.0.0.1]/hook", "loopback"),  # IPv4-mapped IPv6
    ("http://[::ffff:7f00:1]/hook", "loopback"),
    ("http://[2002:7f00:1::]/hook", "loopback"),  # 6to4 around 127.0.0.1
    ("http://[64:ff9b::a00:1]/hook", "private"),  # NAT64 around 10.0.0.1
    ("http://169.254.169.254/latest/meta-data/", "link-local"),  # cloud metadata
    ("http://[fe80::1]/hook", "link-local"),
    ("http://[::ffff:169.254.169.254]/hook", "link-local"),
    ("https://10.1.2.3/hook", "private"),
    ("https://172.16.0.1/hook", "private"),
    ("https://192.168.1.1/hook", "private"),
    ("https://[fd00::1]/hook", "private"),
    ("http://224.0.0.1/hook", "multicast"),
    ("http://[ff02::1]/hook", "multicast"),
    ("http://0.0.0.0/hook", "unspecified"),
    ("http://[::]/hook", "unspecified"),
    ("http://240.0.0.1/hook", "reserved"),
    ("http://100.64.0.1/hook", "not a public address"),  # carrier-grade NAT
]


@pytest.mark.parametrize(("url", "words"), REFUSED)
def test_an_address_inside_the_network_is_refused_with_its_reason(dns, url, words):
    with pytest.raises(ValidationError) as refused:
        check_webhook_url(url)
    (message,) = refused.value.messages
    assert words in message
    assert "public internet addresses only" in message


def test_a_name_that_resolves_inside_the_network_is_refused(dns):
    dns["hooks.internal.example"] = ["10.0.0.7"]
    with pytest.raises(ValidationError, match=r"hooks.internal.example \(10.0.0.7\) is a private"):
        check_webhook_url("https://hooks.internal.example/x")


def test_localhost_by_name_is_refused(dns):
    dns["localhost"] = ["127.0.0.1", "::1"]
    with pytest.raises(ValidationError, match="loopback"):
        check_webhook_url("http://localhost:8000/")


def test_one_private_address_among_public_ones_is_enough_to_refuse(dns):
    dns["mixed.example.com"] = [PUBLIC_V4, "192.168.0.10"]
    with pytest.raises(ValidationError, match="private"):
        check_webhook_url("https://mixed.example.com/hook")


@pytest.mark.parametrize(
    "url", [f"https://{PUBLIC_V4}/services/T000/B000/xyz", f"https://[{PUBLIC_V6}]:8443/hook"]
)
def test_public_addresses_are_accepted(dns, url):
    check_webhook_url(url)


def test_a_public_name_is_accepted(dns):
    dns["hooks.slack.com"] = [PUBLIC_V4, PUBLIC_V6]
    check_webhook_url("https://hooks.slack.com/services/T000/B000/xyz")


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://example.com/hook", "https://"),
        ("file:///etc/passwd", "https://"),
        ("gopher://127.0.0.1:6379/_INFO", "https://"),
        ("javascript:alert(1)", "https://"),
        ("https:///no-host", "no host"),
        ("http://[::1/hook", "Not a valid URL"),
        ("http://example.com:99999/hook", "Not a valid URL"),
    ],
)
def test_what_is_not_an_http_url_is_refused(dns, url, words):
    with pytest.raises(ValidationError, match=words.replace("/", r"\/")):
        check_webhook_url(url)


def test_a_name_that_does_not_resolve_is_refused(dns):
    with pytest.raises(ValidationError, match="could not be resolved"):
        check_webhook_url("https://no-such-host.invalid/hook")


def test_the_setting_allows_private_destinations_but_not_other_schemes(dns, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    check_webhook_url("http://127.0.0.1:8080/hook")
    check_webhook_url("http://10.0.0.7/hook")
    with pytest.raises(ValidationError):
        check_webhook_url("file:///etc/passwd")
