"""Sending a webhook only where webhooks may go.

`check_webhook_url` (the policy, in `apps.core.destinations`) refuses a URL when it is
saved. A delivery checks again at the moment it connects, on the addresses the socket
connects to: the name may resolve somewhere else by then (DNS rebinding), and a check made
on one lookup and a connection made on another would leave that window open. Redirects
are not followed (a public URL answering 302 to http://169.254.169.254/ would otherwise
walk around the check), and no proxy is used (a proxy would resolve the name itself).
"""

from __future__ import annotations

import http.client
import socket
import urllib.error
import urllib.request

from apps.core.destinations import check_webhook_url, checked_addresses

__all__ = ["RefusedDestination", "check_webhook_url", "webhook_opener"]


class RefusedDestination(OSError):
    """The delivery would have connected to an address webhooks may not reach."""


def _connect(address: tuple[str, int], timeout=socket._GLOBAL_DEFAULT_TIMEOUT, source=None):
    """socket.create_connection() over the checked addresses of the host only."""
    host, port = address
    try:
        infos = checked_addresses(host, port)
    except Exception as exc:  # ValidationError: its message says which address and why
        raise RefusedDestination(" ".join(getattr(exc, "messages", [str(exc)]))) from exc
    error: OSError | None = None
    for family, kind, proto, _canonname, sockaddr in infos:
        sock = socket.socket(family, kind, proto)
        try:
            if timeout is not socket._GLOBAL_DEFAULT_TIMEOUT:
                sock.settimeout(timeout)
            if source:
                sock.bind(source)
            sock.connect(sockaddr)
            return sock
        except OSError as exc:
            error = exc
            sock.close()
    raise error or OSError(f"Could not connect to {host}:{port}")


class _CheckedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _connect


class _CheckedHTTPSConnection(http.client.HTTPSConnection):
    # HTTPSConnection.connect() opens the TCP connection through `_create_connection`
    # and wraps it with TLS for the original host name: the certificate is still checked.
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._create_connection = _connect


class _CheckedHTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req):
        return self.do_open(_CheckedHTTPConnection, req)


class _CheckedHTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req):
        return self.do_open(_CheckedHTTPSConnection, req, context=self._context)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A 3xx is the answer, recorded as a failure: never a second request elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise urllib.error.HTTPError(
            req.full_url, code, f"{msg}; redirect to {newurl} not followed", headers, fp
        )


def webhook_opener() -> urllib.request.OpenerDirector:
    """An opener that connects only to allowed addresses, follows no redirect and uses no
    proxy from the environment."""
    return urllib.request.build_opener(
        urllib.request.ProxyHandler({}),
        _CheckedHTTPHandler(),
        _CheckedHTTPSHandler(),
        _NoRedirects(),
    )
