"""The HTTP connections of ``data fetch``: address-checked, and timed by the watchdog.

urllib3 resolves and connects in ``_new_conn``; ours resolves, checks every address
against the current route (``address``) and connects to a checked one, keeping the
host name for the Host header and for TLS (SNI and certificate checks). A kept-alive
connection opened for an earlier URL is checked again before each request, since the
route it serves now may forbid its address. Every socket that reads a response is
registered with the watchdog (``deadline``), which cuts it when its URL's time is up.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

import alexedge.data.fetch.address as address
from alexedge.data.fetch.deadline import watch_socket

__all__ = ["FetchAdapter"]


class _CheckedConnectionMixin:
    """What ours adds to urllib3's ``HTTPConnection`` and ``HTTPSConnection``."""

    _peer: address.IPAddress | None = None

    def _new_conn(self: Any) -> socket.socket:
        timeout = self.timeout if isinstance(self.timeout, (int, float)) else None
        # The exceptions urllib3's own _new_conn raises, so requests reports them alike;
        # a failed lookup is a NewConnectionError, as in urllib3 1.x (2.x subclasses it).
        try:
            sock, self._peer = address.connect(
                self._dns_host, self.port, timeout, self.source_address, self.socket_options
            )
        except TimeoutError as e:
            message = f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            raise ConnectTimeoutError(self, message) from e
        except OSError as e:
            raise NewConnectionError(self, f"Failed to establish a new connection: {e}") from e
        sys.audit("http.client.connect", self, self.host, self.port)
        return sock

    def request(self: Any, *args: Any, **kwargs: Any) -> None:
        if self.sock is not None and self._peer is not None:  # kept alive from another URL
            address.current_route().enter(self._peer)
        super().request(*args, **kwargs)  # type: ignore[misc]

    def getresponse(self: Any) -> Any:  # headers and body are read from here on
        watch_socket(self.sock)
        return super().getresponse()  # type: ignore[misc]


class _HTTPConnection(_CheckedConnectionMixin, HTTPConnection):
    pass


class _HTTPSConnection(_CheckedConnectionMixin, HTTPSConnection):
    pass


class _HTTPPool(HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class FetchAdapter(HTTPAdapter):
    """An ``HTTPAdapter`` whose connections are address-checked and watched."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}
