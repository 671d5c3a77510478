"""Download an image dataset from per-class URL lists, as ImageNet published them.

Link rot is the normal case for such lists: hosts vanish, time out, answer with HTML
error pages or with one "photo unavailable" image for every removed photo. So every
file is checked before it is kept, every URL's fate is recorded in ``manifest.jsonl``
so a rerun resumes instead of starting over, and no URL or list file name can make us
write outside ``OUT``.

Threads only download and check bytes; every write under ``OUT`` (images, manifest,
placeholder removal) happens on the calling thread, so that state needs no locks.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import os
import re
import threading
import time
from collections import Counter
from collections.abc import Generator, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO
from urllib.parse import unquote, urlsplit

import requests
from PIL import Image
from urllib3.exceptions import ReadTimeoutError

from alexedge.atomic import write_bytes, write_text
from alexedge.data.files import IMAGE_SUFFIXES
from alexedge.errors import ConfigError, DataError
from alexedge.preprocess import load_rgb
from alexedge.progress import progress_bar

__all__ = ["MANIFEST_NAME", "FetchConfig", "FetchSummary", "fetch_dataset", "format_summary"]

MANIFEST_NAME = "manifest.jsonl"
_MAX_REDIRECTS = 5
_MAX_RETRY_AFTER = 60.0
# A host trickling one byte per read never trips the read timeout; cap the whole
# transfer (20 MB at ~70 kB/s) so it cannot pin a worker for hours.
_MAX_SECONDS_PER_FILE = 300.0
_CHUNK_BYTES = 64 * 1024
_IN_FLIGHT_PER_WORKER = 4
_USER_AGENT = "alexedge-data-fetch/0.1 (+python-requests)"
_STEM_CHARS = 48
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9_-]+")
# A class becomes a folder name and, in load_dataset, a label ("_" shows as a space):
# no separators, no leading dot, nothing a filesystem could read as a path.
_CLASS_NAME = re.compile(r"^\w[\w.+-]*(?<!\.)$")
# MPO is how Pillow reports multi-picture JPEGs from cameras, common on photo sites.
_FORMAT_SUFFIX = {
    "JPEG": ".jpg",
    "MPO": ".jpg",
    "PNG": ".png",
    "GIF": ".gif",
    "WEBP": ".webp",
    "BMP": ".bmp",
    "TIFF": ".tif",
}

_Key = tuple[str, str]  # (class, url)


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
        placeholder_threshold: Identical bytes from this many distinct URLs are a
            host's placeholder, not a photo.
        retry_failed: Try URLs that failed in an earlier run again.
        progress: Draw a progress bar on stderr.
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


def _require(ok: bool, name: str, value: object, expected: str) -> None:
    if not ok:
        raise ConfigError(f"fetch option {name} must be {expected}, got {value!r}")


@dataclass(frozen=True)
class FetchSummary:
    """What a run did, over every URL in the lists.

    ``downloaded + skipped_done + failed`` is the number of distinct URLs listed.
    ``failed`` counts every URL whose latest outcome is a failure, including the
    ``skipped_failed`` ones that failed in an earlier run and were not retried.
    """

    downloaded: int
    skipped_done: int
    failed: int
    failures_by_reason: dict[str, int]
    skipped_failed: int = 0


@dataclass(frozen=True, slots=True)
class _Record:
    status: str  # "done" or "failed"
    path: str = ""  # relative to OUT, posix
    sha256: str = ""
    size: int = 0
    reason: str = ""


@dataclass(frozen=True)
class _Task:
    cls: str
    url: str

    @property
    def key(self) -> _Key:
        return (self.cls, self.url)


@dataclass(frozen=True)
class _Outcome:
    task: _Task
    reason: str = ""  # empty on success
    data: bytes = b""
    suffix: str = ""


class _Failure(Exception):
    def __init__(self, reason: str, retryable: bool = False, retry_after: float = 0.0):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after


@dataclass
class _Plan:
    keys: list[_Key] = field(default_factory=list)
    todo: list[_Task] = field(default_factory=list)
    skipped_done: set[_Key] = field(default_factory=set)
    skipped_failed: set[_Key] = field(default_factory=set)


def fetch_dataset(config: FetchConfig) -> FetchSummary:
    """Download every listed URL not yet done into ``config.out/<class>/``.

    Safe to interrupt and rerun: finished files are recorded in the manifest as they
    land, and a rerun skips them (and, unless ``retry_failed``, earlier failures).

    Raises:
        DataError: The lists folder is missing, has no ``.txt`` file, a list file
            name cannot be a class folder, or ``out`` cannot hold the dataset.
    """
    classes = _read_lists(config.lists)
    out = _prepare_out(config.out, classes)
    manifest = _Manifest(out)
    try:
        store = _Store(out, manifest, config.placeholder_threshold)
        plan = _plan(classes, manifest.records, out, config.retry_failed)
        outcomes = _run_pool(plan.todo, config)
        try:
            for outcome in _with_progress(outcomes, config, len(plan.todo)):
                store.record(outcome)
        finally:
            outcomes.close()
    finally:
        manifest.close()
    return _summarize(plan, manifest.records)


def format_summary(summary: FetchSummary) -> str:
    """A few human lines for the CLI: totals, then failures by reason, commonest first."""
    lines = [
        f"Downloaded {summary.downloaded}, already done {summary.skipped_done}, "
        f"failed {summary.failed}."
    ]
    if summary.failures_by_reason:
        width = max(len(reason) for reason in summary.failures_by_reason)
        lines.append("Failures by reason:")
        ranked = sorted(summary.failures_by_reason.items(), key=lambda kv: (-kv[1], kv[0]))
        lines.extend(f"  {reason:<{width}}  {count}" for reason, count in ranked)
    if summary.skipped_failed:
        lines.append(
            f"{summary.skipped_failed} of the failures are from earlier runs and were not "
            "retried; pass --retry-failed to try them again."
        )
    return "\n".join(lines)


# --- reading the lists ------------------------------------------------------------


def _read_lists(lists: Path) -> dict[str, list[str]]:
    if not lists.exists():
        raise DataError(f"{lists}: no such folder; expected one <class>.txt URL list per class")
    if not lists.is_dir():
        raise DataError(f"{lists}: not a folder; expected one <class>.txt URL list per class")
    files = sorted(p for p in lists.glob("*.txt") if p.is_file())
    if not files:
        raise DataError(f"{lists}: no .txt files; expected one <class>.txt URL list per class")
    classes: dict[str, list[str]] = {}
    folded: dict[str, Path] = {}
    for path in files:
        cls = path.stem
        if not _CLASS_NAME.match(cls) or cls.casefold() == MANIFEST_NAME:
            raise DataError(
                f"{path}: {cls!r} cannot be a class folder name; rename the file to letters, "
                "digits, '_', '-', '+' or '.' (not first or last), e.g. n01440764.txt"
            )
        # Cat.txt and cat.txt would share one folder on macOS and Windows.
        if cls.casefold() in folded:
            raise DataError(f"{path} and {folded[cls.casefold()]}: class names differ only in case")
        folded[cls.casefold()] = path
        classes[cls] = _read_urls(path)
    return classes


def _read_urls(path: Path) -> list[str]:
    # Old lists mix encodings; a mangled URL simply fails as bad_url or http_404.
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    lines = (line.strip() for line in text.splitlines())
    return list(dict.fromkeys(line for line in lines if line and not line.startswith("#")))


# --- paths under OUT --------------------------------------------------------------


def _prepare_out(out: Path, classes: Iterable[str]) -> Path:
    try:
        out.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError) as e:
        raise DataError(f"{out}: exists and is not a folder; choose another output folder") from e
    except OSError as e:
        raise DataError(f"{out}: cannot create output folder ({e.strerror})") from e
    out = out.resolve()
    for cls in classes:  # a symlinked class folder must not lead outside OUT
        _inside(out, cls)
    return out


def _inside(out: Path, relative: str) -> Path:
    """Resolve ``out/relative`` and refuse it unless it stays inside ``out``.

    The names we build cannot escape; this catches what they cannot rule out, such
    as a pre-existing symlink under OUT or a hand-edited manifest.
    """
    target = (out / relative).resolve()
    if target == out or not target.is_relative_to(out):
        raise DataError(
            f"{out / relative}: resolves to {target}, outside the output folder {out}; "
            "remove the symlink or choose another output folder"
        )
    return target


def _safe_name(url: str, suffix: str) -> str:
    """``<readable stem>_<url hash><suffix>``: unique per URL and unable to name a path.

    Only ``[A-Za-z0-9_-]`` survive from the URL, so no ``..``, separator, percent
    escape or drive letter can; the hash keeps ``a/1.jpg`` and ``b/1.jpg`` apart.
    """
    path = unquote(urlsplit(url).path).replace("\\", "/")
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    stem = _UNSAFE_CHARS.sub("_", stem).strip("_-")[:_STEM_CHARS] or "image"
    digest = hashlib.sha256(url.encode("utf-8")).hexdigest()[:12]
    return f"{stem}_{digest}{suffix}"


def _is_http_url(url: str) -> bool:
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    has_space = any(c.isspace() for c in url)
    return parts.scheme in ("http", "https") and bool(parts.hostname) and not has_space


# --- the manifest -----------------------------------------------------------------


class _Manifest:
    """``OUT/manifest.jsonl``: one JSON line per outcome, the last line for a URL wins.

    Appending a line per outcome keeps a crash from losing more than the line being
    written; a torn or superseded line is dropped by rewriting the file atomically
    when it is next opened.
    """

    def __init__(self, out: Path) -> None:
        self.path = out / MANIFEST_NAME
        self.records: dict[_Key, _Record] = {}
        if self.path.is_dir():
            raise DataError(f"{self.path}: is a folder; remove it or choose another output folder")
        if self._load():
            text = "".join(_record_line(key, rec) for key, rec in self.records.items())
            write_text(self.path, text)
        self._file: IO[str] = open(self.path, "a", encoding="utf-8")  # noqa: SIM115

    def _load(self) -> bool:
        """Read existing records; return whether the file needs rewriting."""
        if not self.path.exists():
            return False
        lines = 0
        ends_cleanly = True
        with open(self.path, encoding="utf-8", errors="replace") as f:
            for line in f:
                lines += 1
                ends_cleanly = line.endswith("\n")
                parsed = _parse_record(line)
                if parsed is not None:
                    self.records[parsed[0]] = parsed[1]
        return lines != len(self.records) or not ends_cleanly

    def append(self, key: _Key, record: _Record) -> None:
        self.records[key] = record
        self._file.write(_record_line(key, record))
        self._file.flush()

    def close(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()


def _record_line(key: _Key, record: _Record) -> str:
    obj: dict[str, object] = {"class": key[0], "url": key[1], "status": record.status}
    if record.status == "done":
        obj.update(path=record.path, sha256=record.sha256, bytes=record.size)
    else:
        obj["reason"] = record.reason
        if record.sha256:
            obj["sha256"] = record.sha256
    return json.dumps(obj, ensure_ascii=False) + "\n"


def _parse_record(line: str) -> tuple[_Key, _Record] | None:
    try:
        obj = json.loads(line)
        cls, url, status = obj["class"], obj["url"], obj["status"]
        if not (isinstance(cls, str) and isinstance(url, str)):
            return None
        if status == "done":
            record = _Record("done", path=obj["path"], sha256=obj["sha256"], size=obj["bytes"])
            valid = _valid_saved_path(cls, record.path) and isinstance(record.size, int)
        elif status == "failed":
            record = _Record("failed", sha256=obj.get("sha256", ""), reason=obj["reason"])
            valid = isinstance(record.reason, str)
        else:
            return None
        return ((cls, url), record) if valid and isinstance(record.sha256, str) else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _valid_saved_path(cls: str, path: object) -> bool:
    if not isinstance(path, str) or "\\" in path:
        return False
    parts = PurePosixPath(path).parts
    return len(parts) == 2 and parts[0] == cls and not parts[1].startswith(".")


# --- deciding what to do ----------------------------------------------------------


def _plan(
    classes: dict[str, list[str]], records: dict[_Key, _Record], out: Path, retry_failed: bool
) -> _Plan:
    plan = _Plan()
    for cls, urls in classes.items():
        for url in urls:
            task = _Task(cls, url)
            plan.keys.append(task.key)
            record = records.get(task.key)
            if record is None:
                plan.todo.append(task)
            elif record.status == "done":
                if _file_intact(out, record):
                    plan.skipped_done.add(task.key)
                else:  # deleted or truncated since: fetch it again
                    plan.todo.append(task)
            elif retry_failed:
                plan.todo.append(task)
            else:
                plan.skipped_failed.add(task.key)
    return plan


def _file_intact(out: Path, record: _Record) -> bool:
    try:
        return _inside(out, record.path).stat().st_size == record.size
    except (OSError, DataError):
        return False


def _summarize(plan: _Plan, records: dict[_Key, _Record]) -> FetchSummary:
    downloaded = skipped_done = skipped_failed = 0
    reasons: Counter[str] = Counter()
    for key in plan.keys:
        record = records[key]
        if record.status == "done":
            if key in plan.skipped_done:
                skipped_done += 1
            else:
                downloaded += 1
        else:
            reasons[record.reason] += 1
            skipped_failed += key in plan.skipped_failed
    return FetchSummary(
        downloaded=downloaded,
        skipped_done=skipped_done,
        failed=sum(reasons.values()),
        failures_by_reason=dict(sorted(reasons.items())),
        skipped_failed=skipped_failed,
    )


# --- keeping files, and spotting placeholders -------------------------------------


class _Store:
    """Every write under OUT: saved images, manifest lines, placeholder removal.

    A placeholder is only recognisable once several URLs returned it, so the first
    copies are saved like any photo and removed when the threshold is reached.
    """

    def __init__(self, out: Path, manifest: _Manifest, threshold: int) -> None:
        self._out = out
        self._manifest = manifest
        self._threshold = threshold
        self._by_hash: dict[str, list[_Key]] = {}
        self._placeholders: set[str] = set()
        for key, record in manifest.records.items():
            if record.reason == "placeholder":
                self._placeholders.add(record.sha256)
            elif record.status == "done":
                self._by_hash.setdefault(record.sha256, []).append(key)
        for sha in list(self._by_hash):  # the threshold may be lower than last run's
            if self._distinct_urls(sha) >= threshold:
                self._mark_placeholder(sha)

    def record(self, outcome: _Outcome) -> None:
        key = outcome.task.key
        self._forget(key)
        if outcome.reason:
            self._manifest.append(key, _Record("failed", reason=outcome.reason))
            return
        sha = hashlib.sha256(outcome.data).hexdigest()
        if sha in self._placeholders:
            self._manifest.append(key, _Record("failed", sha256=sha, reason="placeholder"))
            return
        self._by_hash.setdefault(sha, []).append(key)
        if self._distinct_urls(sha) >= self._threshold:
            self._mark_placeholder(sha)  # records this URL too
            return
        relative = f"{outcome.task.cls}/{_safe_name(outcome.task.url, outcome.suffix)}"
        write_bytes(_inside(self._out, relative), outcome.data)
        record = _Record("done", path=relative, sha256=sha, size=len(outcome.data))
        self._manifest.append(key, record)

    def _forget(self, key: _Key) -> None:
        """Drop a re-fetched URL's earlier file, so the index only lists files on disk."""
        old = self._manifest.records.get(key)
        if old is None or old.status != "done":
            return
        keys = self._by_hash.get(old.sha256, [])
        if key in keys:
            keys.remove(key)
        _inside(self._out, old.path).unlink(missing_ok=True)

    def _distinct_urls(self, sha: str) -> int:
        return len({url for _, url in self._by_hash.get(sha, ())})

    def _mark_placeholder(self, sha: str) -> None:
        self._placeholders.add(sha)
        for key in self._by_hash.pop(sha, []):
            record = self._manifest.records.get(key)
            if record is not None and record.status == "done":
                _inside(self._out, record.path).unlink(missing_ok=True)
            self._manifest.append(key, _Record("failed", sha256=sha, reason="placeholder"))


# --- downloading (worker threads) -------------------------------------------------


class _Sessions:
    """One ``requests.Session`` per worker thread: sessions are not thread-safe."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: list[requests.Session] = []
        self._lock = threading.Lock()

    def get(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.max_redirects = _MAX_REDIRECTS
            session.headers["User-Agent"] = _USER_AGENT
            self._local.session = session
            with self._lock:
                self._all.append(session)
        return session

    def close_all(self) -> None:
        with self._lock:
            for session in self._all:
                session.close()


def _run_pool(tasks: list[_Task], config: FetchConfig) -> Generator[_Outcome, None, None]:
    """Yield outcomes as they finish, keeping only a few tasks queued per worker.

    Submitting a million URLs at once would hold a million futures in memory.
    """
    sessions = _Sessions()
    pool = ThreadPoolExecutor(config.workers, thread_name_prefix="alexedge-fetch")
    pending: set[Future[_Outcome]] = set()
    remaining = iter(tasks)
    try:
        while True:
            room = config.workers * _IN_FLIGHT_PER_WORKER - len(pending)
            for task in itertools.islice(remaining, room):
                pending.add(pool.submit(_fetch_one, task, config, sessions))
            if not pending:
                return
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                yield future.result()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
        sessions.close_all()


def _with_progress(
    outcomes: Iterator[_Outcome], config: FetchConfig, total: int
) -> Iterator[_Outcome]:
    if not config.progress:
        return outcomes
    return progress_bar(outcomes, f"Fetching {total} images", total=total)


def _fetch_one(task: _Task, config: FetchConfig, sessions: _Sessions) -> _Outcome:
    try:
        if not _is_http_url(task.url):
            raise _Failure("bad_url")
        data = _download(sessions.get(), task.url, config)
        return _Outcome(task, data=data, suffix=_check_content(data, config))
    except _Failure as failure:
        return _Outcome(task, reason=failure.reason)


def _download(session: requests.Session, url: str, config: FetchConfig) -> bytes:
    for attempt in range(config.retries + 1):
        try:
            return _get_once(session, url, config)
        except _Failure as failure:
            if not failure.retryable or attempt == config.retries:
                raise
            delay = config.backoff * 2**attempt
            time.sleep(max(delay, min(failure.retry_after, _MAX_RETRY_AFTER)))
    raise AssertionError("unreachable: the last attempt returns or raises")


def _get_once(session: requests.Session, url: str, config: FetchConfig) -> bytes:
    timeout = (config.connect_timeout, config.read_timeout)
    try:
        with session.get(url, stream=True, timeout=timeout) as response:
            _check_status(response)
            return _read_capped(response, config.max_bytes)
    except requests.RequestException as e:
        raise _classify(e) from e
    except ValueError as e:  # urllib3 and idna reject some hosts before requests can wrap it
        raise _Failure("bad_url") from e


def _check_status(response: requests.Response) -> None:
    code = response.status_code
    if 200 <= code < 300:
        return
    retry_after = response.headers.get("Retry-After", "")
    raise _Failure(
        f"http_{code}",
        retryable=code == 429 or code >= 500,
        retry_after=float(retry_after) if retry_after.isdigit() else 0.0,
    )


def _read_capped(response: requests.Response, max_bytes: int) -> bytes:
    length = response.headers.get("Content-Length", "")
    if length.isdigit() and int(length) > max_bytes:
        raise _Failure("too_large")
    deadline = time.monotonic() + _MAX_SECONDS_PER_FILE
    data = bytearray()
    for chunk in response.iter_content(_CHUNK_BYTES):
        data += chunk
        if len(data) > max_bytes:  # counts decoded bytes, so gzip bombs stop here too
            raise _Failure("too_large")
        if time.monotonic() > deadline:
            raise _Failure("too_slow")
    return bytes(data)


def _classify(error: requests.RequestException) -> _Failure:
    exc = requests.exceptions
    if isinstance(error, requests.Timeout):
        return _Failure("timeout", retryable=True)
    if isinstance(error, exc.SSLError):  # certificates do not fix themselves in a second
        return _Failure("ssl_error")
    if isinstance(error, exc.TooManyRedirects):
        return _Failure("too_many_redirects")
    if isinstance(error, (exc.MissingSchema, exc.InvalidSchema, exc.InvalidURL)):
        return _Failure("bad_url")  # also a redirect to ftp: or file:
    if isinstance(error, exc.ConnectionError):
        # A read timeout in the body arrives from iter_content as a ConnectionError.
        if error.args and isinstance(error.args[0], ReadTimeoutError):
            return _Failure("timeout", retryable=True)
        return _Failure("connection_error", retryable=True)
    if isinstance(error, exc.ChunkedEncodingError):  # connection dropped mid-body
        return _Failure("connection_error", retryable=True)
    if isinstance(error, exc.ContentDecodingError):
        return _Failure("bad_response")
    return _Failure("request_error")


def _check_content(data: bytes, config: FetchConfig) -> str:
    """Return the file suffix for the decoded format, or raise the reason to drop it."""
    if len(data) < config.min_bytes:
        raise _Failure("too_small")
    try:
        load_rgb(data)
        with Image.open(io.BytesIO(data)) as img:
            image_format = img.format or ""
    # The bytes are from strangers: a decoder crash means "not a usable image" and
    # must not end a run of a million URLs.
    except Exception as e:
        raise _Failure("not_image") from e
    suffix = _FORMAT_SUFFIX.get(image_format)
    if suffix is None or suffix not in IMAGE_SUFFIXES:
        raise _Failure("unsupported_format")
    return suffix
