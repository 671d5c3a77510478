"""Write an app bundle folder all at once: an app build never sees half of one.

The folder is assembled in a temporary sibling and renamed into place. Replacing a
folder (``force``) moves the old one aside just before the rename, so ``out`` is the
complete old bundle or the complete new one (or, for an instant, absent), never a mix.
"""

from __future__ import annotations

import contextlib
import hashlib
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alexedge.atomic import write_bytes, write_json, write_text
from alexedge.errors import AlexEdgeError

__all__ = ["AndroidBundle", "check_out_folder", "staged_folder", "write_android_assets"]


@dataclass(frozen=True)
class AndroidBundle:
    folder: Path
    model_bytes: int
    sha256: str


# Files every bundle holds, old (pipeline) or new: ``force`` replaces only such a folder.
_BUNDLE_MARKERS = ("model.tflite", "manifest.json")


def check_out_folder(out: Path, force: bool, protect: Path | None = None) -> None:
    """Refuse ``out`` before any work is done.

    A non-empty ``out`` needs ``force``, and even then must hold a bundle: a typo like
    ``--out ~ --force`` must not delete a home folder. ``protect`` (the run folder) may
    not be inside ``out``.
    """
    if out.exists() and not out.is_dir():
        raise AlexEdgeError(f"{out}: exists and is not a folder; choose another --out")
    if protect is not None and protect.resolve().is_relative_to(out.resolve()):
        raise AlexEdgeError(
            f"{out}: would replace the run folder {protect}; choose an --out inside or beside it"
        )
    if not out.exists() or not any(out.iterdir()):
        return
    if not force:
        raise AlexEdgeError(f"{out}: folder exists and is not empty (use --force to replace it)")
    if not all((out / name).is_file() for name in _BUNDLE_MARKERS):
        raise AlexEdgeError(
            f"{out}: --force replaces only a bundle folder (with {' and '.join(_BUNDLE_MARKERS)}),"
            " and this is not one; choose another --out or empty it yourself"
        )


@contextlib.contextmanager
def staged_folder(out: Path, force: bool = False) -> Iterator[Path]:
    """Yield an empty temporary folder beside ``out``; on success it becomes ``out``.

    On an exception the temporary folder is removed and ``out`` is untouched.
    """
    check_out_folder(out, force)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    old = out.parent / f"{tmp.name}.old"
    try:
        yield tmp
        _make_readable(tmp)
        if out.exists():
            out.rename(old)
        tmp.rename(out)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def _make_readable(folder: Path) -> None:
    """mkdtemp and the atomic writers create private files; a bundle is meant to be shared."""
    folder.chmod(0o755)
    for path in folder.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)


def write_android_assets(
    model_path: Path,
    labels: list[str],
    out: Path,
    manifest_extra: dict[str, Any],
    force: bool = False,
) -> AndroidBundle:
    """Bundle one variant without metadata (the pipeline's bundle until it calls ``package_run``).

    Refuses a non-empty ``out`` unless ``force``.
    """
    data = model_path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    with staged_folder(out, force) as tmp:
        write_bytes(tmp / "model.tflite", data)
        write_text(tmp / "labels.txt", "".join(f"{label}\n" for label in labels))
        manifest = {
            "model": "model.tflite",
            "labels": "labels.txt",
            "num_classes": len(labels),
            "size_bytes": len(data),
            "sha256": digest,
            **manifest_extra,
        }
        write_json(tmp / "manifest.json", manifest)
    return AndroidBundle(out, len(data), digest)
