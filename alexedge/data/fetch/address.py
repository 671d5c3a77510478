"""Which addresses a download may connect to: no request forgery into private networks.

A URL list is untrusted input, and so is every redirect a listed server answers with.
Unchecked, either can aim the downloader at the machine's own network: the cloud
metadata service at 169.254.169.254, a router at 10.0.0.1, a database on localhost.
So every connection, the first and each redirect hop, is checked on the addresses its
host name resolves to, and the socket then connects to an address that was checked:
a public name that resolves to a private address is refused, and a second DNS answer
cannot differ from the one checked (DNS rebinding). Literal spellings such as
``2130706433`` or ``0x7f.1`` resolve to the address they mean and are caught the same way.

``allow_private`` (``--allow-private-hosts``) lets a request start at a private
address (a mirror on the local network, a test server); a hop from a public address
into a private one is refused even then, since that is what a hostile host would do.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import threading
from collections.abc import Iterator, Sequence

from urllib3.util.connection import allowed_gai_family

from alexedge.data.fetch.types import Failure

__all__ = ["IPAddress", "Route", "connect", "current_route", "is_public", "route"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# NAT64 (RFC 6052): the last 32 bits are the IPv4 address a NAT64 gateway would reach.
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_local = threading.local()


def is_public(ip: IPAddress) -> bool:
    """Whether ``ip`` is a globally routed unicast address, IPv4 inside IPv6 included."""
    embedded = _embedded_ipv4(ip)
    if embedded is not None:
        return is_public(embedded)
    special = (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or getattr(ip, "is_site_local", False)
    )
    return ip.is_global and not special


def _embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


class Route:
    """The hops of one request so far, and so which addresses its next connection may use."""

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private
        self.reached_public = False

    def permits(self, ip: IPAddress) -> bool:
        if is_public(ip):
            return True
        return self.allow_private and not self.reached_public

    def enter(self, ip: IPAddress) -> None:
        """Check the address a hop is about to use, and remember a public one."""
        if not self.permits(ip):
            raise Failure("blocked_address")
        if is_public(ip):
            self.reached_public = True


@contextlib.contextmanager
def route(allow_private: bool) -> Iterator[Route]:
    """Make a fresh ``Route`` the one this thread's connections are checked against."""
    current = Route(allow_private)
    previous = getattr(_local, "route", None)
    _local.route = current
    try:
        yield current
    finally:
        _local.route = previous


def current_route() -> Route:
    """This thread's route; outside ``route()``, one that allows public addresses only."""
    current = getattr(_local, "route", None)
    return current if current is not None else Route(allow_private=False)


def connect(
    host: str,
    port: int,
    timeout: float | None,
    source_address: tuple[str, int] | None = None,
    socket_options: Sequence[tuple[int, int, int | bytes]] | None = None,
) -> tuple[socket.socket, IPAddress]:
    """A socket connected to ``host``, after every address it resolves to was checked.

    Raises:
        Failure: ``blocked_address`` if any resolved address is not allowed on the
            current route; nothing is connected then.
        OSError: Resolution or every connection attempt failed (``socket.gaierror``
            for the former), as ``socket.create_connection`` would raise.
    """
    hop = current_route()
    infos = socket.getaddrinfo(host.strip("[]"), port, allowed_gai_family(), socket.SOCK_STREAM)
    candidates = [(info, _ip(info[4][0])) for info in infos]
    if not candidates:
        raise OSError(f"{host}: the resolver returned no address")
    # One refused address refuses the host: a name that mixes public and private
    # answers is exactly what a rebinding attack serves.
    if not all(hop.permits(ip) for _, ip in candidates):
        raise Failure("blocked_address")
    error: OSError | None = None
    for (family, kind, proto, _, sockaddr), ip in candidates:
        sock = socket.socket(family, kind, proto)
        try:
            for option in socket_options or ():
                sock.setsockopt(*option)
            sock.settimeout(timeout)
            if source_address:
                sock.bind(source_address)
            sock.connect(sockaddr)
        except OSError as e:
            error = e
            sock.close()
            continue
        hop.enter(ip)
        return sock, ip
    assert error is not None
    raise error


def _ip(text: str) -> IPAddress:
    return ipaddress.ip_address(text.split("%", 1)[0])  # drop an IPv6 scope ("fe80::1%eth0")
