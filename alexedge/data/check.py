"""``alexedge data check``: find every image file a run would have to skip, and why.

Training already skips and counts unreadable files (``decode_split``); this is the
up-front audit, so a user can delete or re-download bad files before a long run.
Each file is decoded with ``alexedge.preprocess.load_rgb`` and its bytes checked with
``alexedge.data.integrity``, as training does (``read_base_image``), so "passes the
check" means "training will use it"; ``data fetch`` keeps a download on the same rule.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from alexedge.data.files import list_images
from alexedge.data.integrity import corrupt_reason
from alexedge.errors import DataError
from alexedge.preprocess import load_rgb
from alexedge.progress import progress_bar

__all__ = ["CheckReport", "check_images", "format_check_report"]


@dataclass(frozen=True)
class CheckReport:
    """Outcome of ``check_images``: how many files were decoded and which ones failed."""

    root: str
    checked: int
    bad: tuple[tuple[str, str], ...]  # (path, reason), sorted by path

    @property
    def ok(self) -> bool:
        return not self.bad


def check_images(root: str | os.PathLike[str], workers: int | None = None) -> CheckReport:
    """Decode every file with an image suffix below ``root`` and collect the failures.

    Files are judged by content, not suffix: a ``.jpg`` holding HTML, a truncated or
    zero-byte file and a decompression bomb are all reported. Threads scale because
    Pillow releases the GIL while decoding.

    Raises:
        DataError: ``root`` is not a folder or holds no image files.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder")
    paths = list_images(root)
    if not paths:
        raise DataError(f"{root}: no image files found (looked for .jpg, .png, ...)")
    workers = workers or min(8, (os.cpu_count() or 1) * 2)
    with ThreadPoolExecutor(workers) as pool:
        reasons = list(
            progress_bar(pool.map(_problem, paths), f"checking {root}", total=len(paths))
        )
    bad = tuple((str(p), r) for p, r in zip(paths, reasons, strict=True) if r is not None)
    return CheckReport(root=str(root), checked=len(paths), bad=bad)


def _problem(path: Path) -> str | None:
    try:
        load_rgb(path)
        return corrupt_reason(path.read_bytes())
    except (DataError, OSError) as e:
        # load_rgb prefixes the file name; the report shows it in its own column.
        message = str(e)
        prefix = f"{path}: "
        return message[len(prefix) :] if message.startswith(prefix) else message


def format_check_report(report: CheckReport) -> str:
    """A human summary: one line per bad file (path relative to the root), then a total."""
    lines = []
    for path, reason in report.bad:
        lines.append(f"{os.path.relpath(path, report.root)}: {reason}")
    if report.ok:
        lines.append(f"all {report.checked} image files in {report.root} are readable")
    else:
        lines.append(
            f"{len(report.bad)} of {report.checked} image files in {report.root} "
            "cannot be read; training will skip them"
        )
    return "\n".join(lines)
