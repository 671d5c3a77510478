"""Keeping downloaded files and spotting placeholders: every write under OUT.

Only the calling thread runs this, so the manifest and the hash index need no
locks, and at most one file is ever half-written (what a SIGKILL can leave).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from alexedge.data.fetch.manifest import Manifest, Record
from alexedge.data.fetch.paths import remove_file, safe_name, write_file
from alexedge.data.fetch.types import Key, Outcome

__all__ = ["Store"]


class Store:
    """Saved images, manifest lines and placeholder removal.

    A placeholder is only recognisable once several URLs returned it, so the first
    copies are saved like any photo and removed when the threshold is reached.
    """

    def __init__(self, out: Path, manifest: Manifest, threshold: int) -> None:
        self._out = out
        self._manifest = manifest
        self._threshold = threshold
        self._by_hash: dict[str, list[Key]] = {}
        self._placeholders: set[str] = set()
        for key, record in manifest.records.items():
            if record.reason == "placeholder":
                self._placeholders.add(record.sha256)
            elif record.status == "done":
                self._by_hash.setdefault(record.sha256, []).append(key)
        for sha in list(self._by_hash):  # the threshold may be lower than last run's
            if self._distinct_urls(sha) >= threshold:
                self._mark_placeholder(sha)

    def record(self, outcome: Outcome) -> None:
        key = outcome.task.key
        self._forget(key)
        if outcome.reason:
            self._manifest.append(key, Record("failed", reason=outcome.reason))
            return
        sha = hashlib.sha256(outcome.data).hexdigest()
        if sha in self._placeholders:
            self._manifest.append(key, Record("failed", sha256=sha, reason="placeholder"))
            return
        self._by_hash.setdefault(sha, []).append(key)
        if self._distinct_urls(sha) >= self._threshold:
            self._mark_placeholder(sha)  # records this URL too
            return
        relative = f"{outcome.task.cls}/{safe_name(outcome.task.url, outcome.suffix)}"
        write_file(self._out, relative, outcome.data)
        record = Record("done", path=relative, sha256=sha, size=len(outcome.data))
        self._manifest.append(key, record)

    def _forget(self, key: Key) -> None:
        """Drop a re-fetched URL's earlier file, so the index only lists files on disk."""
        old = self._manifest.records.get(key)
        if old is None or old.status != "done":
            return
        keys = self._by_hash.get(old.sha256, [])
        if key in keys:
            keys.remove(key)
        remove_file(self._out, old.path)

    def _distinct_urls(self, sha: str) -> int:
        return len({url for _, url in self._by_hash.get(sha, ())})

    def _mark_placeholder(self, sha: str) -> None:
        self._placeholders.add(sha)
        for key in self._by_hash.pop(sha, []):
            record = self._manifest.records.get(key)
            if record is not None and record.status == "done":
                remove_file(self._out, record.path)
            self._manifest.append(key, Record("failed", sha256=sha, reason="placeholder"))
