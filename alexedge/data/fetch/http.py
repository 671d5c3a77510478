"""One URL to bytes, within a wall-clock deadline, from a worker thread.

Bodies are read with ``read1`` (whatever has arrived, up to 64 KiB) rather than
fixed-size reads: a fixed read of 64 KiB blocks until the chunk fills, which at
1 B/s is 18 hours, and the deadline is checked only between reads. Socket timeouts
are sized to what is left of the deadline, a body must keep up a minimum rate, and
the watchdog (``deadline``) cuts whatever still blocks.

Redirects are followed here, not by requests, so that every hop is a new request
whose connection is checked (``address``, ``connection``) and whose scheme is http or
https. Proxies from the environment are not used: a proxy would connect to the hop's
address itself, out of reach of that check.
"""

from __future__ import annotations

import re
import threading
import time
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions as u3
from requests.utils import requote_uri

import alexedge.data.fetch.address as address
from alexedge.data.fetch.config import FetchConfig
from alexedge.data.fetch.connection import FetchAdapter
from alexedge.data.fetch.deadline import Deadline, Watchdog
from alexedge.data.fetch.types import Failure

__all__ = ["Downloader", "ascii_int", "is_http_url"]

_MAX_REDIRECTS = 5
_MAX_RETRY_AFTER = 60.0
_CHUNK_BYTES = 64 * 1024
_USER_AGENT = "alexedge-data-fetch/0.1 (+python-requests)"
# str.isdigit() accepts "²", which int() then refuses: only ASCII digits are numbers.
_ASCII_INT = re.compile(r"[0-9]{1,18}")


class Downloader:
    """Downloads for all workers: one ``requests.Session`` per thread, one watchdog."""

    def __init__(self, config: FetchConfig, stop: threading.Event) -> None:
        self._config = config
        self._stop = stop
        self._watchdog = Watchdog()
        self._local = threading.local()
        self._sessions: list[requests.Session] = []
        self._lock = threading.Lock()

    def get(self, url: str) -> bytes:
        """The body of ``url``, retried as configured, or raise the ``Failure``."""
        if not is_http_url(url):
            raise Failure("bad_url")
        with self._watchdog.deadline(self._config.deadline) as deadline:
            return self._with_retries(url, deadline)

    def abort(self) -> None:
        """Cut every transfer in flight (the run is being stopped)."""
        self._watchdog.abort_all()

    def close(self) -> None:
        self._watchdog.close()
        with self._lock:
            for session in self._sessions:
                session.close()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # no proxies: see the module docstring
            session.headers["User-Agent"] = _USER_AGENT
            session.mount("http://", FetchAdapter())
            session.mount("https://", FetchAdapter())
            self._local.session = session
            with self._lock:
                self._sessions.append(session)
        return session

    def _with_retries(self, url: str, deadline: Deadline) -> bytes:
        config = self._config
        for attempt in range(config.retries + 1):
            try:
                return self._get_once(url, deadline)
            except Failure as failure:
                delay = max(config.backoff * 2**attempt, min(failure.retry_after, _MAX_RETRY_AFTER))
                if not failure.retryable or attempt == config.retries:
                    raise
                if delay >= deadline.remaining():  # the retry could not finish in time
                    raise
                if self._stop.wait(delay):
                    raise Failure("interrupted") from failure
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _get_once(self, url: str, deadline: Deadline) -> bytes:
        # A fresh route per attempt: a retry starts again at the listed URL.
        with address.route(self._config.allow_private_hosts):
            for _ in range(_MAX_REDIRECTS + 1):
                result = self._hop(url, deadline)
                if isinstance(result, bytes):
                    return result
                url = result
        raise Failure("too_many_redirects")

    def _hop(self, url: str, deadline: Deadline) -> bytes | str:
        """The body at ``url``, or the URL it redirects to."""
        if self._stop.is_set():
            raise Failure("interrupted")
        left = deadline.remaining()
        if left <= 0:
            raise Failure("too_slow")
        timeout = (min(self._config.connect_timeout, left), min(self._config.read_timeout, left))
        session = self._session()
        try:
            with session.get(url, stream=True, timeout=timeout, allow_redirects=False) as response:
                target = session.get_redirect_target(response)
                if target is not None:
                    return _redirect_url(response.url, target)
                _check_status(response)
                return self._read_body(response, deadline)
        except Failure:
            raise
        except (requests.RequestException, u3.HTTPError, OSError) as e:
            raise self._explain(_classify(e), deadline) from e
        except ValueError as e:  # urllib3 and idna reject some hosts before requests can wrap it
            raise Failure("bad_url") from e

    def _read_body(self, response: requests.Response, deadline: Deadline) -> bytes:
        max_bytes, min_rate = self._config.max_bytes, self._config.min_rate
        length = ascii_int(response.headers.get("Content-Length", ""))
        if length is not None and length > max_bytes:
            raise Failure("too_large")
        start = time.monotonic()
        data = bytearray()
        while chunk := response.raw.read1(_CHUNK_BYTES, decode_content=True):
            data += chunk
            if len(data) > max_bytes:  # counts decoded bytes, so gzip bombs stop here too
                raise Failure("too_large")
            elapsed = time.monotonic() - start
            if deadline.expired or (
                elapsed > self._config.read_timeout and len(data) < min_rate * elapsed
            ):
                raise Failure("too_slow")
        # The watchdog's cut looks like the end of a body sent without a length.
        if self._stop.is_set() or deadline.expired:
            raise self._explain(Failure("too_slow"), deadline)
        return bytes(data)

    def _explain(self, failure: Failure, deadline: Deadline) -> Failure:
        """A read the watchdog cut reads as a dropped connection; say why it was cut."""
        if self._stop.is_set():
            return Failure("interrupted")
        if deadline.expired:
            return Failure("too_slow")
        return failure


def ascii_int(value: str) -> int | None:
    """The value of a header made of ASCII digits only, else None."""
    value = value.strip()
    return int(value) if _ASCII_INT.fullmatch(value) else None


def is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    has_space = any(c.isspace() for c in url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not has_space


def _redirect_url(current: str, location: str) -> str:
    """Where a redirect leads, resolved as requests would; only http(s) may follow."""
    if location.startswith("//"):  # scheme-relative
        location = f"{urlsplit(current).scheme}:{location}"
    url = urljoin(current, requote_uri(location))
    if not is_http_url(url):
        raise Failure("bad_url")
    return url


def _check_status(response: requests.Response) -> None:
    code = response.status_code
    if 200 <= code < 300:
        return
    retry_after = ascii_int(response.headers.get("Retry-After", ""))
    raise Failure(
        f"http_{code}",
        retryable=code == 429 or code >= 500,
        retry_after=float(retry_after or 0),
    )


def _classify(error: Exception) -> Failure:
    exc = requests.exceptions
    if isinstance(error, (requests.Timeout, u3.ReadTimeoutError, TimeoutError)):
        return Failure("timeout", retryable=True)
    if isinstance(error, (exc.SSLError, u3.SSLError)):  # certificates do not fix themselves
        return Failure("ssl_error")
    if isinstance(error, (exc.MissingSchema, exc.InvalidSchema, exc.InvalidURL)):
        return Failure("bad_url")
    if isinstance(error, exc.ConnectionError):
        # A read timeout in the body arrives from requests as a ConnectionError.
        if error.args and isinstance(error.args[0], u3.ReadTimeoutError):
            return Failure("timeout", retryable=True)
        return Failure("connection_error", retryable=True)
    if isinstance(error, (exc.ContentDecodingError, u3.DecodeError)):
        return Failure("bad_response")
    if isinstance(error, (exc.ChunkedEncodingError, u3.ProtocolError)):
        return Failure("connection_error", retryable=True)  # dropped mid-body
    # Every RequestException is an OSError: only a bare socket error is a dropped link.
    if isinstance(error, OSError) and not isinstance(error, requests.RequestException):
        return Failure("connection_error", retryable=True)
    return Failure("request_error")
