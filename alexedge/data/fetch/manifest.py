"""``OUT/manifest.jsonl``: what happened to every URL, so a rerun resumes.

One JSON line per outcome, the last line for a URL wins. Appending a line per
outcome keeps a crash from losing more than the line being written; a torn or
superseded line is dropped by rewriting the file atomically when it is next opened.
Lines written before ``duplicate`` and ``rule`` existed read as they always did.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from alexedge.data.fetch.paths import checked_path, open_append, open_read, write_file
from alexedge.data.fetch.types import Key
from alexedge.errors import DataError

__all__ = ["MANIFEST_NAME", "Manifest", "Record"]

MANIFEST_NAME = "manifest.jsonl"


@dataclass(frozen=True, slots=True)
class Record:
    status: str  # "done", "duplicate" or "failed"
    path: str = ""  # relative to OUT, posix
    sha256: str = ""
    size: int = 0
    reason: str = ""
    duplicate_of: str = ""  # the URL, same class, whose file holds these bytes
    rule: str = ""  # which placeholder or duplicate rule fired (``placeholders``)


class Manifest:
    """The records of earlier runs, and an append handle for this run's outcomes."""

    def __init__(self, out: Path) -> None:
        self.path = checked_path(out, MANIFEST_NAME)  # refuses a planted symlink first
        self.records: dict[Key, Record] = {}
        if self.path.is_dir():
            raise DataError(f"{self.path}: is a folder; remove it or choose another output folder")
        if self._load(out):
            text = "".join(_record_line(key, rec) for key, rec in self.records.items())
            write_file(out, MANIFEST_NAME, text.encode("utf-8"))
        self._file = open_append(out, MANIFEST_NAME)

    def _load(self, out: Path) -> bool:
        """Read existing records; return whether the file needs rewriting."""
        f = open_read(out, MANIFEST_NAME)
        if f is None:
            return False
        lines = 0
        ends_cleanly = True
        with f:
            for line in f:
                lines += 1
                ends_cleanly = line.endswith("\n")
                parsed = _parse_record(line)
                if parsed is not None:
                    self.records[parsed[0]] = parsed[1]
        return lines != len(self.records) or not ends_cleanly

    def append(self, key: Key, record: Record) -> None:
        self.records[key] = record
        self._file.write(_record_line(key, record))
        self._file.flush()

    def close(self) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()


def _record_line(key: Key, record: Record) -> str:
    obj: dict[str, object] = {"class": key[0], "url": key[1], "status": record.status}
    if record.status == "done":
        obj.update(path=record.path, sha256=record.sha256, bytes=record.size)
    elif record.status == "duplicate":
        obj.update(sha256=record.sha256, duplicate_of=record.duplicate_of)
    else:
        obj["reason"] = record.reason
        if record.sha256:
            obj["sha256"] = record.sha256
    if record.rule:
        obj["rule"] = record.rule
    return json.dumps(obj, ensure_ascii=False) + "\n"


def _parse_record(line: str) -> tuple[Key, Record] | None:
    try:
        obj = json.loads(line)
        cls, url, status = obj["class"], obj["url"], obj["status"]
        if not (isinstance(cls, str) and isinstance(url, str)):
            return None
        rule = obj.get("rule", "")
        if status == "done":
            record = Record("done", path=obj["path"], sha256=obj["sha256"], size=obj["bytes"])
            valid = _valid_saved_path(cls, record.path) and isinstance(record.size, int)
        elif status == "duplicate":
            record = Record(
                "duplicate", sha256=obj["sha256"], duplicate_of=obj["duplicate_of"], rule=rule
            )
            valid = isinstance(record.duplicate_of, str) and bool(record.sha256)
        elif status == "failed":
            record = Record("failed", sha256=obj.get("sha256", ""), reason=obj["reason"], rule=rule)
            valid = isinstance(record.reason, str)
        else:
            return None
        valid = valid and isinstance(record.sha256, str) and isinstance(record.rule, str)
        return ((cls, url), record) if valid else None
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


def _valid_saved_path(cls: str, path: object) -> bool:
    if not isinstance(path, str) or "\\" in path:
        return False
    parts = PurePosixPath(path).parts
    return len(parts) == 2 and parts[0] == cls and not parts[1].startswith(".")
