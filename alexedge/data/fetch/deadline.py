"""A wall-clock deadline per URL that holds whatever the server does.

Socket timeouts bound each ``recv``, not a transfer: a host sending one byte every
few seconds, in the body or in the headers, never trips them. A single watchdog
thread therefore shuts down the socket of any request whose deadline has passed,
which wakes the blocked read at once; it also shuts every socket when the run is
stopped (Ctrl-C), so workers do not finish their downloads first.

Sockets reach the watchdog through the connection classes of ``connection``: each
request registers its socket (``watch_socket``) with the calling thread's current deadline.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["Deadline", "Watchdog", "watch_socket"]

_local = threading.local()


class Deadline:
    """One URL's time limit and the sockets opened for it."""

    def __init__(self, seconds: float) -> None:
        self.at = time.monotonic() + seconds
        self.sockets: list[socket.socket] = []

    def remaining(self) -> float:
        return max(0.0, self.at - time.monotonic())

    @property
    def expired(self) -> bool:
        return time.monotonic() >= self.at


class Watchdog:
    """Shuts the sockets of expired deadlines, or of all of them on ``abort_all``."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._active: set[Deadline] = set()
        self._aborted = False
        self._closed = False
        self._thread = threading.Thread(target=self._run, name="alexedge-fetch-watchdog")
        self._thread.daemon = True
        self._thread.start()

    @contextlib.contextmanager
    def deadline(self, seconds: float) -> Iterator[Deadline]:
        """Make ``seconds`` from now the limit for requests made by this thread."""
        current = Deadline(seconds)
        with self._cond:
            self._active.add(current)
            self._cond.notify()
        _local.current = (self, current)
        try:
            yield current
        finally:
            _local.current = None
            with self._cond:
                self._active.discard(current)

    def watch(self, deadline: Deadline, sock: socket.socket) -> None:
        with self._cond:
            deadline.sockets.append(sock)
            if self._aborted or deadline.expired:
                _shut(sock)

    def abort_all(self) -> None:
        """Stop every transfer now; later requests fail as soon as they connect."""
        with self._cond:
            self._aborted = True
            for current in self._active:
                for sock in current.sockets:
                    _shut(sock)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=1.0)

    def _run(self) -> None:
        with self._cond:
            while not self._closed:
                now = time.monotonic()
                for current in self._active:
                    if current.at <= now:
                        for sock in current.sockets:
                            _shut(sock)
                pending = [c.at for c in self._active if c.at > now]
                self._cond.wait(min(pending) - now if pending else None)


def _shut(sock: socket.socket) -> None:
    # The plain socket method, also for TLS sockets: SSLSocket.shutdown would drop
    # its SSL object under the reading thread's feet.
    with contextlib.suppress(OSError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


def watch_socket(sock: Any) -> None:
    """Put ``sock`` under this thread's current deadline, if a request is being timed."""
    watched = getattr(_local, "current", None)
    if watched is not None and isinstance(sock, socket.socket):
        watched[0].watch(watched[1], sock)
