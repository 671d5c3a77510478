"""The options of ``alexedge data fetch``, validated once so workers can trust them."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alexedge.errors import ConfigError

__all__ = ["FetchConfig"]


@dataclass(frozen=True)
class FetchConfig:
    """Options of ``alexedge data fetch``; defaults suit public photo hosts.

    Attributes:
        lists: Folder with one ``<class>.txt`` per class, one URL a line.
        out: Destination; images go to ``out/<class>/``, the manifest to ``out``.
        workers: Parallel downloads.
        connect_timeout: Seconds to open a connection.
        read_timeout: Seconds of silence tolerated while reading.
        retries: Extra attempts after connection errors, timeouts, 5xx and 429.
        backoff: First retry delay in seconds; doubles on each further retry.
        max_bytes: Larger files are aborted mid-stream.
        min_bytes: Smaller files are dropped (thumbnails, error stubs).
        placeholder_threshold: Identical bytes from this many distinct URLs in two or
            more classes, or from this many paths on one host, are a host's
            placeholder, not a photo; fewer copies in one class are duplicates, kept once.
        retry_failed: Try URLs that failed in an earlier run again.
        progress: Draw a progress bar on stderr.
        deadline: Wall-clock seconds one URL may take, retries and waits included.
            A host that trickles bytes never trips the read timeout; this does.
        min_rate: Bytes per second a body must average once ``read_timeout``
            seconds have passed, so a 1 B/s drip is dropped long before the deadline.
        decode_budget: Bytes of pixels all workers may hold decoded at once while
            checking images; one image larger than this is checked alone.
        allow_private_hosts: Let a listed URL reach loopback, private, link-local and
            other non-public addresses (a local mirror, a test server). A redirect from
            a public address into a private one is refused even then.
    """

    lists: Path
    out: Path
    workers: int = 8
    connect_timeout: float = 5.0
    read_timeout: float = 15.0
    retries: int = 3
    backoff: float = 0.5
    max_bytes: int = 20_000_000
    min_bytes: int = 5_000
    placeholder_threshold: int = 3
    retry_failed: bool = False
    progress: bool = True
    deadline: float = 300.0
    min_rate: float = 1_000.0
    decode_budget: int = 256_000_000
    allow_private_hosts: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "lists", Path(self.lists))
        object.__setattr__(self, "out", Path(self.out))
        _require(self.workers >= 1, "workers", self.workers, "at least 1")
        _require(self.connect_timeout > 0, "connect_timeout", self.connect_timeout, "> 0")
        _require(self.read_timeout > 0, "read_timeout", self.read_timeout, "> 0")
        _require(self.retries >= 0, "retries", self.retries, "at least 0")
        _require(self.backoff >= 0, "backoff", self.backoff, "at least 0")
        _require(self.max_bytes >= 1, "max_bytes", self.max_bytes, "at least 1")
        _require(
            0 <= self.min_bytes <= self.max_bytes,
            "min_bytes",
            self.min_bytes,
            f"between 0 and max_bytes ({self.max_bytes})",
        )
        # 1 would call every image a placeholder.
        _require(
            self.placeholder_threshold >= 2,
            "placeholder_threshold",
            self.placeholder_threshold,
            "at least 2",
        )
        _require(self.deadline > 0, "deadline", self.deadline, "> 0")
        _require(self.min_rate >= 0, "min_rate", self.min_rate, "at least 0")
        _require(self.decode_budget >= 1, "decode_budget", self.decode_budget, "at least 1")


def _require(ok: bool, name: str, value: object, expected: str) -> None:
    if not ok:
        raise ConfigError(f"fetch option {name} must be {expected}, got {value!r}")
