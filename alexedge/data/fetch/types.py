"""The values passed between fetch workers and the thread that writes under OUT."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Failure", "Key", "Outcome", "Task"]

Key = tuple[str, str]  # (class, url)


@dataclass(frozen=True)
class Task:
    cls: str
    url: str

    @property
    def key(self) -> Key:
        return (self.cls, self.url)


@dataclass(frozen=True)
class Outcome:
    task: Task
    reason: str = ""  # empty on success
    data: bytes = b""
    suffix: str = ""


class Failure(Exception):
    """Why one URL gave no image; ``reason`` is the manifest's short code."""

    def __init__(self, reason: str, retryable: bool = False, retry_after: float = 0.0):
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
        self.retry_after = retry_after
