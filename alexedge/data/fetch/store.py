"""Keeping downloaded files, once each, and dropping placeholders: every write under OUT.

Only the calling thread runs this, so the manifest and the hash index need no
locks, and at most one file is ever half-written (what a SIGKILL can leave).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from alexedge.data.fetch.manifest import Manifest, Record
from alexedge.data.fetch.paths import checked_path, remove_file, safe_name, write_file
from alexedge.data.fetch.placeholders import SAME_CLASS, placeholder_rule
from alexedge.data.fetch.types import Key, Outcome
from alexedge.errors import DataError

__all__ = ["Store", "file_intact"]


class Store:
    """Saved images, duplicates, placeholder removal and the manifest lines for them.

    A placeholder is only recognisable once enough URLs returned it
    (``placeholders``), so its first copies are kept like a photo's and removed
    when a rule fires. Every URL that returned an image, over all runs, counts as
    evidence; the rules are applied again to the evidence of earlier runs on start,
    so a manifest written under other rules or another threshold is judged anew.
    """

    def __init__(self, out: Path, manifest: Manifest, threshold: int) -> None:
        self._out = out
        self._manifest = manifest
        self._threshold = threshold
        self._seen: dict[str, dict[Key, None]] = {}  # sha256 -> URLs that returned it
        self._placeholders: dict[str, str] = {}  # sha256 -> the rule that fired
        for key, record in manifest.records.items():
            if record.sha256 and (record.status != "failed" or record.reason == "placeholder"):
                self._seen.setdefault(record.sha256, {})[key] = None
        for sha, keys in list(self._seen.items()):
            rule = placeholder_rule(keys, threshold)
            if rule is not None:
                self._mark_placeholder(sha, rule)

    def record(self, outcome: Outcome) -> None:
        key = outcome.task.key
        self._forget(key)
        if outcome.reason:
            self._manifest.append(key, Record("failed", reason=outcome.reason))
            return
        sha = hashlib.sha256(outcome.data).hexdigest()
        keys = self._seen.setdefault(sha, {})
        keys[key] = None
        if sha in self._placeholders:
            self._append_placeholder(key, sha, self._placeholders[sha])
            return
        rule = placeholder_rule(keys, self._threshold)
        if rule is not None:
            self._mark_placeholder(sha, rule)  # records this URL too
            return
        original = self._kept_copy(sha, key)
        if original is not None:
            duplicate = Record("duplicate", sha256=sha, duplicate_of=original, rule=SAME_CLASS)
            self._manifest.append(key, duplicate)
            return
        relative = f"{outcome.task.cls}/{safe_name(outcome.task.url, outcome.suffix)}"
        write_file(self._out, relative, outcome.data)
        record = Record("done", path=relative, sha256=sha, size=len(outcome.data))
        self._manifest.append(key, record)

    def _forget(self, key: Key) -> None:
        """Drop a re-fetched URL's earlier file and evidence: its new outcome replaces them."""
        old = self._manifest.records.get(key)
        if old is None:
            return
        self._seen.get(old.sha256, {}).pop(key, None)
        if old.status == "done":
            remove_file(self._out, old.path)

    def _kept_copy(self, sha: str, key: Key) -> str | None:
        """The URL of a saved file of the same class holding these bytes, if any."""
        for other in self._seen[sha]:
            record = self._manifest.records.get(other)
            if (
                other != key
                and other[0] == key[0]
                and record is not None
                and record.status == "done"
                and file_intact(self._out, record)
            ):
                return other[1]
        return None

    def _mark_placeholder(self, sha: str, rule: str) -> None:
        self._placeholders[sha] = rule
        for key in self._seen[sha]:
            record = self._manifest.records.get(key)
            if record is not None and record.status == "done":
                remove_file(self._out, record.path)
            if record is None or record.reason != "placeholder" or record.rule != rule:
                self._append_placeholder(key, sha, rule)

    def _append_placeholder(self, key: Key, sha: str, rule: str) -> None:
        self._manifest.append(key, Record("failed", sha256=sha, reason="placeholder", rule=rule))


def file_intact(out: Path, record: Record) -> bool:
    """Whether a ``done`` record's file is still there at the size it was saved with."""
    try:
        return checked_path(out, record.path).stat().st_size == record.size
    except (OSError, DataError):
        return False
